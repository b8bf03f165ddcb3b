#!/usr/bin/env python3
"""nvmf-tgtd + nvmft-perf benchmark (make bench).

The target runs as users run it: `taskset -c 0 nvmf-tgtd` (one reactor, a
null namespace); nvmft-perf runs pinned to CPU 1. Engines (io_uring, epoll)
alternate A B A B ... so that machine drift cancels out; the figures are
medians over the rounds, the ratios are taken pair by pair.

Usage: nvmf_bench.py BUILD_DIR   (env: BENCH_SECONDS, BENCH_ROUNDS,
BENCH_WAIT=adaptive|poll|interrupt, BENCH_CASES=comma list)
"""
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
TGTD = os.path.join(BUILD, "bin", "nvmf-tgtd")
PERF = os.path.join(BUILD, "bin", "nvmft-perf")
SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
WAIT = os.environ.get("BENCH_WAIT", "adaptive")
NQN = "nqn.2026-11.io.nvmft:bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
NCPU = os.cpu_count() or 1

# name, workload, block size, queue depth
CASES = [
    ("4k_randread_qd1", "randread", "4K", 1),
    ("4k_randread_qd32", "randread", "4K", 32),
    ("4k_randread_qd128", "randread", "4K", 128),
    ("4k_randwrite_qd32", "randwrite", "4K", 32),
    ("128k_read_qd16", "read", "128K", 16),
]
if os.environ.get("BENCH_CASES"):
    want = set(os.environ["BENCH_CASES"].split(","))
    CASES = [c for c in CASES if c[0] in want]


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def start_target(engine, port, workdir):
    conf = os.path.join(workdir, "bench.conf")
    with open(conf, "w") as f:
        f.write(f"""
reactors = {{ wait_mode = "{WAIT}"; }};
log_level = "warning";
transports = ( {{ type = "TCP"; max_queue_depth = 256; }} );
bdevs = ( {{ name = "Null0"; type = "null"; size = "64G"; block_size = 512; }} );
subsystems = ( {{ nqn = "{NQN}"; allow_any_host = true;
  namespaces = ( {{ bdev = "Null0"; nsid = 1; }} );
  listeners = ( {{ traddr = "127.0.0.1"; trsvcid = "{port}"; }} ); }} );
""")
    log = open(os.path.join(workdir, f"tgtd-{engine}.log"), "w")
    cmd = ["taskset", "-c", "0", TGTD, "-c", conf, "-e", engine,
           "-r", os.path.join(workdir, "rpc.sock")]
    p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return p
        except OSError:
            if p.poll() is not None:
                raise RuntimeError(f"nvmf-tgtd exited: see {log.name}")
            time.sleep(0.1)
    p.kill()
    raise RuntimeError("nvmf-tgtd did not start listening")


def stop_target(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def run_case(tgt, port, case):
    name, wl, bs, qd = case
    cpu = "1" if NCPU > 1 else "0"
    cmd = ["taskset", "-c", cpu, PERF, "-a", "127.0.0.1", "-s", str(port),
           "-n", NQN, "-w", wl, "-o", bs, "-q", str(qd), "-T", str(SECONDS),
           "--ramp", "1", "-j", "-i", "0"]
    t0 = time.time()
    c0 = cpu_ticks(tgt.pid)
    out = subprocess.run(cmd, capture_output=True, text=True,
                         timeout=SECONDS + 60)
    c1 = cpu_ticks(tgt.pid)
    t1 = time.time()
    if out.returncode != 0:
        raise RuntimeError(f"nvmft-perf {name} failed: {out.stderr[-500:]}")
    r = json.loads(out.stdout)
    # The ramp second is inside the CPU window too: use the whole window.
    r["target_cpu_pct"] = 100.0 * (c1 - c0) / CLK_TCK / (t1 - t0)
    return r


def idle_cpu(tgt, seconds=3.0):
    c0 = cpu_ticks(tgt.pid)
    time.sleep(seconds)
    return 100.0 * (cpu_ticks(tgt.pid) - c0) / CLK_TCK / seconds


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    if not (os.access(TGTD, os.X_OK) and os.access(PERF, os.X_OK)):
        print(f"SKIP: {TGTD} or {PERF} not built")
        return 0
    engines = ["uring", "epoll"]
    res = {e: {c[0]: [] for c in CASES} for e in engines}
    idle = {e: [] for e in engines}
    with tempfile.TemporaryDirectory() as wd:
        for rnd in range(ROUNDS):
            for e in engines:
                port = free_port()
                tgt = start_target(e, port, wd)
                try:
                    idle[e].append(idle_cpu(tgt))
                    for case in CASES:
                        r = run_case(tgt, port, case)
                        res[e][case[0]].append(r)
                        print(f"  round {rnd + 1} {e:5} {case[0]:18} "
                              f"IOPS {r['iops']:>9.0f}  MiB/s {r['mib_s']:>7.1f}  "
                              f"p50 {r['lat_us']['p50']:>7.1f}us  "
                              f"p99 {r['lat_us']['p99']:>7.1f}us  "
                              f"target CPU {r['target_cpu_pct']:5.1f}%",
                              flush=True)
                finally:
                    stop_target(tgt)

    print()
    print(f"nvmf-tgtd (1 reactor on CPU 0, null bdev, wait {WAIT}) + nvmft-perf "
          f"(CPU 1), {SECONDS:g} s per run, medians of {ROUNDS} rounds")
    hdr = (f"{'case':18} {'engine':6} {'IOPS':>9} {'MiB/s':>8} {'p50 us':>8} "
           f"{'p99 us':>8} {'tgt CPU%':>8} {'IOPS/CPU-s':>11}")
    print(hdr)
    summary = {"seconds": SECONDS, "rounds": ROUNDS, "wait_mode": WAIT,
               "cases": {}, "idle_cpu_pct": {}}
    for case in CASES:
        name = case[0]
        summary["cases"][name] = {}
        for e in engines:
            rs = res[e][name]
            iops = med([r["iops"] for r in rs])
            cpu = med([r["target_cpu_pct"] for r in rs])
            row = {
                "iops": iops,
                "iops_range": [min(r["iops"] for r in rs), max(r["iops"] for r in rs)],
                "mib_s": med([r["mib_s"] for r in rs]),
                "p50_us": med([r["lat_us"]["p50"] for r in rs]),
                "p99_us": med([r["lat_us"]["p99"] for r in rs]),
                "target_cpu_pct": cpu,
                "iops_per_cpu_s": iops / (cpu / 100.0) if cpu > 0 else float("nan"),
            }
            summary["cases"][name][e] = row
            print(f"{name:18} {e:6} {row['iops']:>9.0f} {row['mib_s']:>8.1f} "
                  f"{row['p50_us']:>8.1f} {row['p99_us']:>8.1f} "
                  f"{row['target_cpu_pct']:>8.1f} {row['iops_per_cpu_s']:>11.0f}")
        ratios = [u["iops"] / p["iops"] for u, p in zip(res["uring"][name], res["epoll"][name])
                  if p["iops"] > 0]
        summary["cases"][name]["uring_over_epoll"] = med(ratios)
        print(f"{name:18} uring/epoll IOPS ratio {med(ratios):.2f} "
              f"(pairs: {', '.join(f'{x:.2f}' for x in ratios)})")
    for e in engines:
        summary["idle_cpu_pct"][e] = med(idle[e])
        print(f"idle target CPU ({e}, {WAIT}): {med(idle[e]):.2f} %")
    outdir = os.path.join(BUILD, "bench-results")
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "nvmf.json"), "w") as f:
        json.dump(summary, f, indent=1)
    print(f"JSON: {os.path.join(outdir, 'nvmf.json')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
