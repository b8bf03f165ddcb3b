#!/usr/bin/env python3
"""make soak DURATION=seconds: a bounded soak of nvmf-tgtd.

For DURATION seconds, in rounds: verified mixed I/O with nvmft-perf on a
RAM and a file namespace (digests on every other round), connect/
disconnect churn, live namespace add/remove over RPC, a fault (a host
killed mid-I/O). The daemon's RSS and fd count are sampled after every
round; after a warm-up they must stay flat (bounded growth), every perf
run must verify, and the daemon must exit 0 on SIGTERM at the end.

Usage: soak.py BUILD_DIR [DURATION]   (prints "N passed, N failed")
"""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

BUILD = sys.argv[1] if len(sys.argv) > 1 else "build"
DURATION = int(sys.argv[2]) if len(sys.argv) > 2 else int(os.environ.get("DURATION", "120"))
TGTD = os.path.join(BUILD, "bin", "nvmf-tgtd")
PERF = os.path.join(BUILD, "bin", "nvmft-perf")
RPC = os.path.join(BUILD, "bin", "nvmft-rpc")
NQN = "nqn.2026-11.io.nvmft:soak"
RSS_SLACK_KB = 16 * 1024          # growth allowed after warm-up
FD_SLACK = 16

passed = failed = 0


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}", flush=True)
    else:
        failed += 1
        print(f"FAIL {name} {detail}", flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nr_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def rpc(sock, method, params=None):
    cmd = [RPC, "-s", sock, "call", method]
    if params is not None:
        cmd.append(json.dumps(params))
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout + r.stderr


def perf(port, args, timeout=60):
    cmd = [PERF, "-a", "127.0.0.1", "-s", str(port), "-n", NQN, "-i", "0"] + args
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def main():
    if not all(os.access(p, os.X_OK) for p in (TGTD, PERF, RPC)):
        print(f"SKIP: binaries not built in {BUILD}")
        return 77
    wd = tempfile.mkdtemp(prefix="nvmft-soak-")
    port = free_port()
    sock = os.path.join(wd, "rpc.sock")
    backing = os.path.join(wd, "disk.img")
    with open(backing, "wb") as f:
        f.truncate(64 << 20)
    conf = os.path.join(wd, "soak.conf")
    with open(conf, "w") as f:
        f.write(f"""
log_level = "warning";
bdevs = ( {{ name = "Ram0"; type = "malloc"; size = "64M"; }},
          {{ name = "File0"; type = "uring"; filename = "{backing}"; }},
          {{ name = "Extra0"; type = "malloc"; size = "16M"; }} );
subsystems = ( {{ nqn = "{NQN}"; allow_any_host = true;
  namespaces = ( {{ bdev = "Ram0"; nsid = 1; }}, {{ bdev = "File0"; nsid = 2; }} );
  listeners = ( {{ traddr = "127.0.0.1"; trsvcid = "{port}"; }} ); }} );
""")
    log = open(os.path.join(wd, "tgtd.log"), "w")
    tgt = subprocess.Popen([TGTD, "-c", conf, "-r", sock, "-n", "2"],
                           stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline and not os.path.exists(sock):
        time.sleep(0.1)
    check("daemon starts", tgt.poll() is None and os.path.exists(sock))
    if tgt.poll() is not None:
        return 1

    end = time.time() + DURATION
    samples = []
    rnd = 0
    perf_failures = []
    rpc_failures = []
    while time.time() < end:
        rnd += 1
        digests = ["-g", "-G"] if rnd % 2 == 0 else []
        # verified mixed I/O on both namespaces
        for nsid in (1, 2):
            r = perf(port, ["--nsid", str(nsid), "-w", "randrw", "-o", "4K", "-q", "16",
                            "-c", "2", "-T", "2", "-V", "--size", "16M"] + digests)
            if r.returncode != 0:
                perf_failures.append(f"round {rnd} nsid {nsid}: exit {r.returncode}: {r.stderr[-300:]}")
        # connect/disconnect churn
        for _ in range(10):
            r = perf(port, ["-w", "read", "-o", "4K", "-q", "1", "-T", "1", "--size", "1M"], 30)
            if r.returncode != 0:
                perf_failures.append(f"round {rnd} churn: exit {r.returncode}")
        # live namespace add/remove
        rc, out = rpc(sock, "nvmf_subsystem_add_ns",
                      {"nqn": NQN, "namespace": {"bdev_name": "Extra0", "nsid": 3}})
        if rc != 0:
            rpc_failures.append(f"round {rnd} add_ns: {out[-200:]}")
        r = perf(port, ["--nsid", "3", "-w", "randrw", "-o", "8K", "-q", "8", "-T", "1",
                        "-V", "--size", "8M"])
        if r.returncode != 0:
            perf_failures.append(f"round {rnd} nsid 3: exit {r.returncode}")
        rc, out = rpc(sock, "nvmf_subsystem_remove_ns", {"nqn": NQN, "nsid": 3})
        if rc != 0:
            rpc_failures.append(f"round {rnd} remove_ns: {out[-200:]}")
        # fault: a host killed mid-I/O
        p = subprocess.Popen([PERF, "-a", "127.0.0.1", "-s", str(port), "-n", NQN, "-i", "0",
                              "-w", "randwrite", "-o", "64K", "-q", "32", "-T", "10",
                              "--size", "16M"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(0.5)
        p.send_signal(signal.SIGKILL)
        p.wait()
        time.sleep(0.5)
        if tgt.poll() is not None:
            break
        samples.append((rnd, rss_kb(tgt.pid), nr_fds(tgt.pid)))
        print(f"  round {rnd}: rss {samples[-1][1]} KiB, fds {samples[-1][2]}", flush=True)

    check("daemon alive through every round", tgt.poll() is None)
    check(f"every verified perf run passed ({rnd} rounds)", not perf_failures,
          "; ".join(perf_failures[:3]))
    check("every live namespace change succeeded", not rpc_failures, "; ".join(rpc_failures[:3]))
    if len(samples) >= 3:
        base = samples[len(samples) // 3]          # after warm-up
        last = samples[-1]
        check(f"RSS flat (warm {base[1]} KiB -> {last[1]} KiB, slack {RSS_SLACK_KB} KiB)",
              last[1] - base[1] <= RSS_SLACK_KB)
        check(f"fd count flat ({base[2]} -> {last[2]})", last[2] - base[2] <= FD_SLACK)
    else:
        check("enough rounds to judge RSS and fds (>= 3)", False, f"only {len(samples)}")
    if tgt.poll() is None:
        tgt.send_signal(signal.SIGTERM)
        try:
            rc = tgt.wait(timeout=30)
        except subprocess.TimeoutExpired:
            tgt.kill()
            rc = tgt.wait()
        check(f"SIGTERM: exit 0 (got {rc})", rc == 0)
    log.close()
    print(f"{passed} passed, {failed} failed")
    if failed:
        print(f"logs in {wd}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
