"""Summaries, tables and gnuplot plots of nvmf_bench.py results.

summarize(results) adds, per study, "summary" (medians and ranges per case
and configuration) and "ratios" (pairwise ratios against the study's first
configuration, same round), and results["goals"] (issue 7's goals against
the reference figures). print_tables() prints them; plot() draws PNGs.
"""
import math
import os
import shutil
import statistics
import subprocess

# Reference userspace target (SPDK 24.09, posix sockets, one core, malloc
# namespace, its own initiator on the other core; issue 7). It uses 100 %
# of its core whatever the load, so its IOPS per CPU-second = its IOPS.
REFERENCE = {
    "4k_randread_qd1": {"iops": 54000, "lat_avg_us": 18.4, "p99_us": 33.0},
    "4k_randread_qd32": {"iops": 373000},
    "4k_randread_qd128": {"iops": 386000},
    "4k_randwrite_qd32": {"iops": 321000},
    "128k_read_qd16": {"mib_s": 3250},
}
GOAL_CPU_PCT = 70.0
GOAL_EFFICIENCY = 1.4
GOAL_IDLE_PCT = 1.0


def med(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return statistics.median(xs) if xs else float("nan")


def rng(xs):
    xs = [x for x in xs if x is not None and not math.isnan(x)]
    return [min(xs), max(xs)] if xs else [float("nan"), float("nan")]


def per_cpu(r):
    cpu = r.get("target_cpu_pct", float("nan"))
    if cpu is None or math.isnan(cpu) or cpu <= 0:
        return float("nan")
    return r["iops"] / (cpu / 100.0)


def per_busy(r):
    b = r.get("target_busy_pct")
    if b is None or math.isnan(b) or b <= 0:
        return float("nan")
    return r["iops"] / (b / 100.0)


def row_stats(rs):
    iops = [r["iops"] for r in rs]
    eff = [per_cpu(r) for r in rs]
    return {
        "n": len(rs),
        "iops": med(iops), "iops_range": rng(iops),
        "mib_s": med([r["mib_s"] for r in rs]),
        "mib_s_range": rng([r["mib_s"] for r in rs]),
        "lat_avg_us": med([r["lat_us"].get("avg", float("nan")) for r in rs]),
        "p50_us": med([r["lat_us"]["p50"] for r in rs]),
        "p99_us": med([r["lat_us"]["p99"] for r in rs]),
        "p99_9_us": med([r["lat_us"]["p99_9"] for r in rs]),
        "p99_range": rng([r["lat_us"]["p99"] for r in rs]),
        "target_cpu_pct": med([r["target_cpu_pct"] for r in rs]),
        "target_cpu_range": rng([r["target_cpu_pct"] for r in rs]),
        "iops_per_cpu_s": med(eff), "iops_per_cpu_s_range": rng(eff),
        "iops_per_busy_s": med([per_busy(r) for r in rs]),
        "client_cpu_pct": med([r.get("client_cpu_pct", float("nan")) for r in rs]),
        "client_busy_pct": med([r.get("client_busy_pct", float("nan")) for r in rs]),
        "target_busy_pct": med([r.get("target_busy_pct", float("nan")) for r in rs]),
        "target_sleeps_per_s": med([r.get("target_sleeps_per_s", float("nan")) for r in rs]),
        "foreign_cpu_pct": med([r.get("foreign_cpu_pct", float("nan")) for r in rs]),
        # a process serving the namespace's storage (nbdkit for hbd)
        "helper_cpu_pct": med([r.get("helper_cpu_pct", float("nan")) for r in rs]),
        "attempts": sum(r.get("attempts", 1) for r in rs),
    }


def pair_ratios(a_runs, b_runs, key):
    """b/a for the rounds both have (runs carry their round number)."""
    a = {r.get("round"): r for r in a_runs}
    out = []
    for r in b_runs:
        x = a.get(r.get("round"))
        if x is None:
            continue
        va, vb = key(x), key(r)
        if va and vb and not math.isnan(va) and not math.isnan(vb):
            out.append(vb / va)
    return out


def summarize(results):
    for st in results["studies"]:
        base = st["labels"][0]
        st["summary"] = {}
        st["ratios"] = {}
        for case in st["cases"]:
            st["summary"][case] = {lb: row_stats(st["runs"][lb][case])
                                   for lb in st["labels"] if st["runs"][lb][case]}
            st["ratios"][case] = {}
            for lb in st["labels"][1:]:
                if lb == "loopback":
                    # how close the target gets to the limit: base / loopback
                    xs = pair_ratios(st["runs"][lb][case], st["runs"][base][case],
                                     lambda r: r["iops"])
                    name = f"{base}/loopback"
                    st["ratios"][case][name] = {"iops": xs}
                    continue
                name = f"{lb}/{base}"
                st["ratios"][case][name] = {
                    "iops": pair_ratios(st["runs"][base][case], st["runs"][lb][case],
                                        lambda r: r["iops"]),
                    "iops_per_cpu_s": pair_ratios(st["runs"][base][case],
                                                  st["runs"][lb][case], per_cpu),
                    "p99": pair_ratios(st["runs"][base][case], st["runs"][lb][case],
                                       lambda r: r["lat_us"]["p99"]),
                }
        st["idle_summary"] = {lb: {"median": med(v), "range": rng(v)}
                              for lb, v in st["idle_cpu_pct"].items() if v}
    results["goals"] = goals(results)


def study(results, name):
    for st in results["studies"]:
        if st["name"] == name:
            return st
    return None


def goals(results):
    st = study(results, "main")
    if not st:
        return []
    lb = st["labels"][0]
    out = []

    def add(what, value, target, ok, note=""):
        out.append({"goal": what, "value": value, "target": target,
                    "met": bool(ok) if ok is not None else None, "note": note})

    for case, ref in REFERENCE.items():
        s = st["summary"].get(case, {}).get(lb)
        if not s:
            continue
        if "iops" in ref:
            add(f"{case} IOPS >= reference", s["iops"], ref["iops"],
                s["iops"] >= ref["iops"], f"ratio {s['iops'] / ref['iops']:.2f}")
            add(f"{case} IOPS per target CPU-s >= {GOAL_EFFICIENCY}x reference",
                s["iops_per_cpu_s"], GOAL_EFFICIENCY * ref["iops"],
                s["iops_per_cpu_s"] >= GOAL_EFFICIENCY * ref["iops"],
                f"ratio {s['iops_per_cpu_s'] / ref['iops']:.2f}; per busy loop-second "
                f"{k(s['iops_per_busy_s'])}")
        if "lat_avg_us" in ref:
            add(f"{case} p50 latency <= reference average", s["p50_us"],
                ref["lat_avg_us"], s["p50_us"] <= ref["lat_avg_us"],
                f"our average {s['lat_avg_us']:.1f} us")
            add(f"{case} p99 latency <= reference", s["p99_us"], ref["p99_us"],
                s["p99_us"] <= ref["p99_us"])
        if "mib_s" in ref:
            add(f"{case} MiB/s >= reference", s["mib_s"], ref["mib_s"],
                s["mib_s"] >= ref["mib_s"], f"ratio {s['mib_s'] / ref['mib_s']:.2f}")
    rl = study(results, "refload")
    for case in (rl["cases"] if rl else []):
        s = rl["summary"].get(case, {}).get(rl["labels"][0])
        if not s:
            continue
        rate = float(case.rsplit("@", 1)[1].rstrip("k")) * 1000
        reached = s["iops"] >= 0.98 * rate
        add(f"{case}: target CPU <= {GOAL_CPU_PCT:.0f} % at that load",
            s["target_cpu_pct"], GOAL_CPU_PCT,
            s["target_cpu_pct"] <= GOAL_CPU_PCT and reached,
            (f"reactor busy {f1(s['target_busy_pct'])} % (the rest of the CPU is "
             "adaptive spinning)") if reached else
            f"rate not reached ({s['iops']:.0f} IOPS): client or other load")
    idle = st.get("idle_summary", {}).get(lb)
    if idle:
        add(f"idle target CPU < {GOAL_IDLE_PCT:.0f} % (adaptive)", idle["median"],
            GOAL_IDLE_PCT, idle["median"] < GOAL_IDLE_PCT)
    for r in results.get("idle_rss", []):
        if "kib_per_conn" in r:
            add(f"RSS per idle connection at {r['connections']} <= 64 KiB",
                r["kib_per_conn"], 64, r["kib_per_conn"] <= 64)
    return out


# ---- tables ------------------------------------------------------------------

def k(x):
    if x is None or math.isnan(x):
        return "-"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.0f}"


def f1(x):
    return "-" if x is None or math.isnan(x) else f"{x:.1f}"


def ratio_text(xs):
    if not xs:
        return "-"
    return f"{med(xs):.2f} [{min(xs):.2f}-{max(xs):.2f}]"


def print_tables(results):
    m = results["meta"]
    print()
    print("=" * 120)
    print(f"nvmft benchmark: nvmf-tgtd (1 reactor, CPU {m['target_cpu']}) + nvmft-perf "
          f"(CPU {m['client_cpu']}), {m['seconds']:g} s runs after {m['ramp']:g} s ramp; "
          f"medians [min-max] of the rounds; load average at start "
          f"{m['loadavg_start'][0]:.1f}")
    for st in results["studies"]:
        print()
        print(f"{st['name']}: {st['title']} ({st['rounds']} rounds)")
        for n in st.get("notes", []):
            print(f"  note: {n}")
        print(f"  {'case':18} {'config':14} {'IOPS':>6} {'[range]':15} {'MiB/s':>6} "
              f"{'p50us':>6} {'p99us':>7} {'p99.9us':>7} {'tCPU%':>5} {'tBusy%':>6} "
              f"{'IOPS/tCPU-s':>11} {'cCPU%':>5} {'cBusy%':>6} {'oth%':>4}")
        for case in st["cases"]:
            for lb in st["labels"]:
                s = st["summary"][case].get(lb)
                if not s:
                    continue
                ir = s["iops_range"]
                print(f"  {case:18} {lb:14} {k(s['iops']):>6} "
                      f"{'[' + k(ir[0]) + '-' + k(ir[1]) + ']':15} {s['mib_s']:>6.0f} "
                      f"{f1(s['p50_us']):>6} {f1(s['p99_us']):>7} {f1(s['p99_9_us']):>7} "
                      f"{f1(s['target_cpu_pct']):>5} {f1(s['target_busy_pct']):>6} "
                      f"{k(s['iops_per_cpu_s']):>11} {f1(s['client_cpu_pct']):>5} "
                      f"{f1(s['client_busy_pct']):>6} {f1(s['foreign_cpu_pct']):>4}")
            for lb in st["labels"]:
                s = st["summary"][case].get(lb)
                if s and not math.isnan(s.get("helper_cpu_pct", float("nan"))):
                    print(f"  {'':18} {lb}: storage server (nbdkit) CPU "
                          f"{f1(s['helper_cpu_pct'])} %")
            for name, rs in st["ratios"][case].items():
                parts = [f"IOPS {ratio_text(rs['iops'])}"]
                if "iops_per_cpu_s" in rs:
                    parts.append(f"IOPS/tgtCPU-s {ratio_text(rs['iops_per_cpu_s'])}")
                    parts.append(f"p99 {ratio_text(rs['p99'])}")
                print(f"  {'':18} ratio {name}: " + ", ".join(parts))
        for lb, v in st.get("idle_summary", {}).items():
            print(f"  idle target CPU ({lb}): {v['median']:.2f} % "
                  f"[{v['range'][0]:.2f}-{v['range'][1]:.2f}]")
    if results.get("idle_rss"):
        print()
        print("idle_rss: target RSS per idle connection (null namespace, I/O qpairs "
              "of queue size 128)")
        for r in results["idle_rss"]:
            if "kib_per_conn" in r:
                print(f"  {r['connections']:6} connections: {r['kib_per_conn']:.1f} KiB each "
                      f"(RSS {r['rss_before_kb']} -> {r['rss_idle_kb']} KiB, "
                      f"{r['rss_after_kb']} KiB after they closed); idle CPU "
                      f"{r['idle_cpu_pct']:.2f} %; connected in {r['connect_seconds']} s")
            else:
                print(f"  {r['connections']:6} connections: {r.get('error') or r.get('skipped')}")
    d = results.get("default_config")
    if d:
        print()
        if "iops" in d:
            print(f"embedded default config (`taskset -c 0 nvmf-tgtd`, 1 GiB RAM namespace "
                  f"on :4420): 4K randread QD32 {k(d['iops'])} IOPS, p99 "
                  f"{d['lat_us']['p99']:.1f} us; idle CPU {d['idle_cpu_pct']:.2f} %")
        else:
            print(f"embedded default config: {d.get('error') or d.get('skipped')}")
    if results.get("goals"):
        print()
        print("goals of issue 7 (main study, first configuration, against the reference "
              "figures; our client is nvmft-perf, not the reference's initiator)")
        for g in results["goals"]:
            mark = "MET " if g["met"] else "MISS" if g["met"] is not None else "?   "
            print(f"  [{mark}] {g['goal']:58} {f1(g['value']):>10} vs {f1(g['target']):>9}"
                  f"  {g['note']}")
    print("columns: tCPU% target CPU from /proc over the measured window; tBusy% share of "
          "the reactor's loop time in turns that did work;")
    print("  IOPS/tCPU-s IOPS per target CPU-second; cCPU% client process CPU; cBusy% share "
          "of the client's polling time in turns that completed I/O;")
    print(f"  oth% CPU other processes took on our two CPUs (runs above "
          f"{m.get('foreign_max_pct', 15):g} % were repeated, the least disturbed kept)")
    print("=" * 120)


# ---- plots -------------------------------------------------------------------

def have_gnuplot():
    return shutil.which("gnuplot") is not None


def terminal():
    try:
        out = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True,
                             text=True, timeout=20)
        text = out.stdout + out.stderr
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    if "pngcairo" in text:
        return "pngcairo size 1000,640 noenhanced", "png"
    if " png " in text or "\npng" in text:
        return "png size 1000,640 noenhanced", "png"
    return "svg size 1000,640 noenhanced", "svg"


def _run_gp(path, script):
    with open(path, "w") as f:
        f.write(script)
    out = subprocess.run(["gnuplot", path], capture_output=True, text=True, timeout=60)
    return out.returncode == 0


def plot(results, outdir):
    os.makedirs(outdir, exist_ok=True)
    term, ext = terminal()
    if not term:
        return []
    made = []
    st = study(results, "main")
    if st:
        made += plot_iops_by_qd(st, outdir, term, ext)
        made += plot_cdf(st, outdir, term, ext)
        made += plot_efficiency(st, outdir, term, ext)
    sc = study(results, "scaling")
    if sc:
        made += plot_scaling(sc, outdir, term, ext)
    mx = study(results, "matrix")
    if mx:
        made += plot_iops_by_qd(mx, outdir, term, ext, name="matrix_iops_by_qd")
    return made


def plot_iops_by_qd(st, outdir, term, ext, name="iops_by_qd"):
    qds = [(1, "4k_randread_qd1"), (32, "4k_randread_qd32"), (128, "4k_randread_qd128")]
    plots = []
    for i, lb in enumerate(st["labels"]):
        dat = os.path.join(outdir, f"{name}_{i}.dat")
        with open(dat, "w") as f:
            f.write(f"# {lb}: qd iops min max\n")
            for qd, case in qds:
                s = st["summary"].get(case, {}).get(lb)
                if s:
                    f.write(f"{qd} {s['iops']:.0f} {s['iops_range'][0]:.0f} "
                            f"{s['iops_range'][1]:.0f}\n")
        plots.append(f"'{dat}' using 1:($2/1000):($3/1000):($4/1000) with yerrorlines lw 2 "
                     f"title '{lb}'")
    ref = os.path.join(outdir, f"{name}_ref.dat")
    with open(ref, "w") as f:
        for qd, case in qds:
            f.write(f"{qd} {REFERENCE[case]['iops']}\n")
    plots.append(f"'{ref}' using 1:($2/1000) with linespoints dt 2 lw 2 "
                 "title 'reference target (SPDK)'")
    out = os.path.join(outdir, f"{name}.{ext}")
    ok = _run_gp(os.path.join(outdir, f"{name}.gp"), f"""
set terminal {term}
set output '{out}'
set title '4 KiB random read IOPS by queue depth ({st['name']}: medians, bars = range)'
set logscale x 2
set xrange [0.7:180]
set xtics (1, 32, 128)
set xlabel 'queue depth'
set ylabel 'kIOPS'
set yrange [0:*]
set key left top
set grid
plot {', '.join(plots)}
""")
    return [out] if ok else []


def median_run(runs):
    if not runs:
        return None
    srt = sorted(runs, key=lambda r: r["iops"])
    return srt[len(srt) // 2]


def plot_cdf(st, outdir, term, ext):
    plots = []
    n = 0
    for case in ("4k_randread_qd1", "4k_randread_qd32", "4k_randread_qd128"):
        for lb in st["labels"]:
            r = median_run(st["runs"].get(lb, {}).get(case, []))
            if not r or not r.get("lat_cdf_us"):
                continue
            dat = os.path.join(outdir, f"lat_cdf_{n}.dat")
            with open(dat, "w") as f:
                for us, frac in r["lat_cdf_us"]:
                    f.write(f"{us} {frac}\n")
            plots.append(f"'{dat}' using 1:2 with steps lw 2 title '{case} {lb}'")
            n += 1
    if not plots:
        return []
    out = os.path.join(outdir, f"lat_cdf.{ext}")
    ok = _run_gp(os.path.join(outdir, "lat_cdf.gp"), f"""
set terminal {term}
set output '{out}'
set title 'latency CDF, 4 KiB random read (median run of each)'
set logscale x 10
set xlabel 'latency (us)'
set ylabel 'fraction of I/Os at or below'
set yrange [0:1.001]
set key right bottom
set grid
plot {', '.join(plots)}
""")
    return [out] if ok else []


def plot_efficiency(st, outdir, term, ext):
    dat = os.path.join(outdir, "efficiency.dat")
    nv = [lb for lb in st["labels"] if lb != "loopback"]
    with open(dat, "w") as f:
        f.write("# case " + " ".join(nv) + " reference\n")
        for case in st["cases"]:
            vals = []
            for lb in nv:
                s = st["summary"].get(case, {}).get(lb)
                vals.append(f"{s['iops_per_cpu_s'] / 1000:.1f}" if s and
                            not math.isnan(s["iops_per_cpu_s"]) else "NaN")
            ref = REFERENCE.get(case, {}).get("iops")
            vals.append(f"{ref / 1000:.1f}" if ref else "NaN")
            f.write(f"{case} " + " ".join(vals) + "\n")
    cols = ", ".join(f"'' using {i + 2}:xtic(1) title '{lb}'" for i, lb in enumerate(nv))
    out = os.path.join(outdir, f"efficiency.{ext}")
    ok = _run_gp(os.path.join(outdir, "efficiency.gp"), f"""
set terminal {term}
set output '{out}'
set title 'kIOPS per target CPU-second (medians; reference = its IOPS at 100 % of a core)'
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics rotate by -30
set ylabel 'kIOPS per CPU-second'
set yrange [0:*]
set key left top
set grid y
plot '{dat}' using {len(nv) + 2}:xtic(1) title 'reference target', {cols}
""")
    return [out] if ok else []


def plot_scaling(st, outdir, term, ext):
    plots = []
    for i, lb in enumerate(st["labels"]):
        dat = os.path.join(outdir, f"scaling_{i}.dat")
        with open(dat, "w") as f:
            f.write(f"# {lb}: connections iops min max p99_us\n")
            for case in st["cases"]:
                s = st["summary"].get(case, {}).get(lb)
                if s:
                    conns = int(case.rsplit("_c", 1)[1])
                    f.write(f"{conns} {s['iops']:.0f} {s['iops_range'][0]:.0f} "
                            f"{s['iops_range'][1]:.0f} {s['p99_us']:.1f}\n")
        plots.append(f"'{dat}' using 1:($2/1000):($3/1000):($4/1000) with yerrorlines lw 2 "
                     f"title '{lb} kIOPS'")
        plots.append(f"'{dat}' using 1:5 axes x1y2 with linespoints dt 2 title '{lb} p99 (us)'")
    out = os.path.join(outdir, f"scaling.{ext}")
    ok = _run_gp(os.path.join(outdir, "scaling.gp"), f"""
set terminal {term}
set output '{out}'
set title '4 KiB random read by number of connections (QD 16 each)'
set logscale x 2
set logscale y2 10
set xrange [0.7:360]
set xtics (1, 4, 16, 64, 256)
set xlabel 'connections'
set ylabel 'kIOPS'
set yrange [0:*]
set y2label 'p99 latency (us)'
set ytics nomirror
set y2tics
set key left bottom
set grid
plot {', '.join(plots)}
""")
    return [out] if ok else []
