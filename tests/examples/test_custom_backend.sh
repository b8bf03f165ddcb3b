#!/bin/bash
# examples/custom_backend.c ("xorpat") end to end: it serves on an ephemeral
# port; nvmft-perf verifies I/O on the first 8 MiB, and the blocks past them
# still read as the LBA pattern (checked with the host library by
# test_custom_backend_pattern --check); with --latency-us, verified I/O
# still passes and no I/O completes sooner than the latency, also with the
# epoll engine; SIGTERM → exit status 0.
# Usage: tests/examples/test_custom_backend.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/examples/example_lib.sh

nqn=nqn.2026-11.io.nvmft:xorpat
prog=$build/examples/custom_backend
checker=$build/tests/integration/test_custom_backend_pattern
tmp=$(mktemp -d /tmp/nvmft-xorpat.XXXXXX)
trap 'kill_leftovers; rm -rf "$tmp"' EXIT

for f in "$prog" "$checker" "$build/bin/nvmft-perf"; do
	if [ ! -x "$f" ]; then
		echo "FAIL $f not built"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

# --- no latency: inline completion ----------------------------------------
if start_example "$tmp/plain" "$prog" --size 64 0; then
	ok "starts and prints the ephemeral port ($port)"
	check "nvmft-perf randrw --verify on the first 8 MiB" \
		perf_verify "$tmp/plain.perf" -s "$port" -n "$nqn" -w randrw -q 32 -T 2 --size 8M
	check "nvmft-perf sequential 256 KiB writes --verify (I/O over 2 data buffers)" \
		perf_verify "$tmp/plain.perf256k" -s "$port" -n "$nqn" -w write -o 256K -q 4 -T 1 --size 8M
	# 8 MiB = blocks 0..16383: from 16384 on nothing was written.
	check "blocks past the perf range read as the LBA pattern" \
		"$checker" --check "$port" 16384 4096
	check "the pattern check notices written blocks (0..63, written first)" \
		bash -c "! '$checker' --check '$port' 0 64 >/dev/null 2>&1"
	stop_example "$pid"; rc=$?
	check "SIGTERM stops it with status 0 (got $rc)" [ $rc -eq 0 ]
else
	ko "starts and prints the ephemeral port"
fi

# --- 2 ms per I/O: completion from the timed poller ------------------------
if start_example "$tmp/slow" "$prog" --latency-us 2000 --size 16 0; then
	ok "--latency-us 2000: starts ($port)"
	check "--latency-us 2000: nvmft-perf randrw --verify" \
		perf_verify "$tmp/slow.perf" -s "$port" -n "$nqn" -w randrw -q 32 -T 2 --size 4M
	# A lower bound, not a speed: nothing may complete before its due time.
	min=$(sed -n 's/.*latency us: min=\([0-9]*\).*/\1/p' "$tmp/slow.perf")
	check "--latency-us 2000: no I/O completed in under 2000 us (min ${min:-?} us)" \
		[ "${min:-0}" -ge 2000 ]
	check "--latency-us 2000: unwritten blocks read as the pattern" \
		"$checker" --check "$port" 8192 512
	stop_example "$pid"; rc=$?
	check "--latency-us 2000: SIGTERM stops it with status 0 (got $rc)" [ $rc -eq 0 ]
else
	ko "--latency-us 2000: starts"
fi

# --- the same with the epoll engine (timed pollers without io_uring) -------
if NVMFT_ENGINE=epoll start_example "$tmp/epoll" "$prog" --latency-us 500 --size 16 0; then
	check "epoll engine: runs on epoll" grep -q 'engine: epoll' "$tmp/epoll.err"
	check "epoll engine, --latency-us 500: nvmft-perf randrw --verify" \
		perf_verify "$tmp/epoll.perf" -s "$port" -n "$nqn" -w randrw -q 16 -T 1 --size 4M
	stop_example "$pid"; rc=$?
	check "epoll engine: SIGTERM stops it with status 0 (got $rc)" [ $rc -eq 0 ]
else
	ko "epoll engine: starts"
fi

timeout 20 "$prog" --latency-us lots 0 >/dev/null 2>&1
rc=$?
check "a bad option value: usage, exit status 2 (got $rc)" [ $rc -eq 2 ]

summary
