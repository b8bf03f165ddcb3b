#!/bin/bash
# make bench: run every benchmark program and print its figures.
# Usage: tests/bench/run.sh BUILD_DIR   (BENCH_FILTER=glob runs some)
set -u
build=$1
out="$build/bench-results"
mkdir -p "$out"
echo "nvmft benchmarks — $(nproc) CPUs, $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
rc=0
for b in "$build"/tests/bench/bench_*; do
	[ -x "$b" ] || continue
	n=$(basename "$b")
	[[ $n == ${BENCH_FILTER:-*} ]] || continue
	echo "== $n"
	if ! timeout 600 "$b" | tee "$out/$n.txt"; then
		echo "bench $n failed"; rc=1
	fi
done
for s in tests/bench/bench_*.sh; do
	[ -f "$s" ] || continue
	n=$(basename "$s" .sh)
	[[ $n == ${BENCH_FILTER:-*} ]] || continue
	echo "== $n"
	if ! timeout 1200 bash "$s" "$build" | tee "$out/$n.txt"; then
		echo "bench $n failed"; rc=1
	fi
done
echo "results in $out/"
exit $rc
