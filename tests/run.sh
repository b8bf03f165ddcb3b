#!/bin/bash
# Runs the test binaries of a build tree and prints one summary line:
#   "N passed, N failed"
# Usage: tests/run.sh BUILD_DIR SUITE...   (SUITE: unit integration examples interop)
# A cmocka binary counts its own tests; any other test counts as one.
# TEST_FILTER=glob runs only the binaries whose name matches.
set -u
build=$1; shift
passed=0; failed=0; skipped=0
failures=()
logdir="$build/test-logs"
mkdir -p "$logdir"

run_one() {
	local name=$1; shift
	local log="$logdir/$name.log"
	local start=$SECONDS
	timeout --kill-after=10 "${TEST_TIMEOUT:-600}" "$@" >"$log" 2>&1
	local rc=$?
	local p f s
	# cmocka prints one summary per group: add them up
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test(s)\./\1/p' "$log" | awk '{s+=$1} END {if (NR) print s}')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test(s), listed below:/\1/p' "$log" | awk '{s+=$1} END {if (NR) print s}')
	s=$(grep -c '^\[  SKIPPED \]' "$log")
	if [ -z "$p" ]; then
		# a script's own summary line: "N passed, N failed[, N skipped]"
		local line
		line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log" | tail -n1)
		if [ -n "$line" ]; then
			p=$(echo "$line" | sed -E 's/^([0-9]+) passed.*/\1/')
			f=$(echo "$line" | sed -E 's/^[0-9]+ passed, ([0-9]+) failed.*/\1/')
			s=$(echo "$line" | sed -nE 's/.*, ([0-9]+) skipped.*/\1/p')
			s=${s:-0}
		fi
	fi
	if [ -n "$p" ]; then
		passed=$((passed + p)); failed=$((failed + ${f:-0}))
		skipped=$((skipped + s))
		# a crash after cmocka's summary, or a non-zero exit without failures
		if [ $rc -ne 0 ] && [ "${f:-0}" = 0 ]; then failed=$((failed + 1)); fi
	elif [ $rc -eq 77 ]; then
		skipped=$((skipped + 1))
	elif [ $rc -eq 0 ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	if [ $rc -ne 0 ] && [ $rc -ne 77 ]; then
		failures+=("$name (exit $rc, log $log)")
		echo "FAIL $name ($((SECONDS - start))s, exit $rc)"
		tail -n 40 "$log" | sed 's/^/    /'
	elif [ $rc -eq 77 ]; then
		echo "SKIP $name: $(grep -m1 SKIP "$log")"
	else
		echo "ok   $name ($((SECONDS - start))s)"
	fi
}

for suite in "$@"; do
	case $suite in
	unit|integration)
		for t in "$build"/tests/"$suite"/test_*; do
			[ -x "$t" ] || continue
			n=$(basename "$t")
			[[ $n == ${TEST_FILTER:-*} ]] || continue
			run_one "$suite-$n" "$t"
		done
		for t in tests/"$suite"/test_*.sh; do
			[ -f "$t" ] || continue
			n=$(basename "$t" .sh)
			[[ $n == ${TEST_FILTER:-*} ]] || continue
			run_one "$suite-$n" bash "$t" "$build"
		done;;
	interop)
		# the Linux kernel host in a qemu guest (tests/interop/README.md)
		TEST_TIMEOUT=${INTEROP_TIMEOUT:-2400} run_one "interop" bash tests/interop/run.sh "$build";;
	examples)
		for t in tests/examples/test_*.sh; do
			[ -f "$t" ] || continue
			n=$(basename "$t" .sh)
			[[ $n == ${TEST_FILTER:-*} ]] || continue
			run_one "examples-$n" bash "$t" "$build"
		done;;
	*) echo "unknown suite $suite" >&2; exit 2;;
	esac
done

if [ ${#failures[@]} -gt 0 ]; then
	echo "failures:"
	printf '  %s\n' "${failures[@]}"
fi
if [ $skipped -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ $failed -eq 0 ]
