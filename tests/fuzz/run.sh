#!/bin/bash
# Fuzzing driver (libFuzzer, clang) and corpus replay.
#
#   tests/fuzz/run.sh [FUZZ_BUILD] [SECONDS]
#       Build libnvmft and every tests/fuzz/fuzz_*.c with clang
#       -fsanitize=fuzzer,address,undefined into FUZZ_BUILD (default
#       build-fuzz), then run each target for SECONDS (default 60) on its
#       corpus (tests/fuzz/corpus/<target>, new inputs go to
#       FUZZ_BUILD/fuzz/corpus/<target>). Any crash, leak, timeout or
#       sanitizer report fails the run; the reproducer is saved in
#       tests/fuzz/regressions/<target>/ (check it in once the bug is fixed).
#   tests/fuzz/run.sh --replay [BUILD]
#       Build every target in plain mode (no libFuzzer: replay_main.c) against
#       BUILD/lib/libnvmft.a (default build; ASan/UBSan when BUILD is a
#       sanitizer tree) and run each once over its corpus and regressions.
#       Fast: this is what `make check` runs.
#   tests/fuzz/run.sh --build-only [FUZZ_BUILD]
#   tests/fuzz/run.sh --seed [BUILD]
#       (Re)write the generated seeds (seed-*) of tests/fuzz/corpus/ with
#       gen_corpus.c, linked against BUILD/lib/libnvmft.a.
#
# Environment: FUZZ_TARGETS="fuzz_pdu fuzz_cmd" picks targets; FUZZ_ARGS adds
# libFuzzer flags (e.g. "-jobs=2 -workers=2"); CLANG (default clang);
# FUZZ_NO_BUILD=1 runs what --build-only made (several runs in parallel).
# Prints "N passed, N failed" (one per target) like the other test scripts.
set -u
cd "$(dirname "$0")/../.." || exit 2

fuzzdir=tests/fuzz
CLANG=${CLANG:-clang}
PKGS="liburing libnvme libconfig libisal json-c libnbd"
PKG_CFLAGS=$(pkg-config --cflags $PKGS 2>/dev/null)
PKG_LIBS=$(pkg-config --libs liburing libconfig libisal json-c libnbd 2>/dev/null)
WARN="-Wall -Wextra -Wshadow -Wno-unused-parameter -Wstrict-prototypes -Wmissing-prototypes"
COMMON="-std=gnu11 -g -D_GNU_SOURCE -Iinclude -Ilib -Itests $PKG_CFLAGS"

targets() {
	if [ -n "${FUZZ_TARGETS:-}" ]; then
		echo $FUZZ_TARGETS
	else
		for f in $fuzzdir/fuzz_*.c; do basename "$f" .c; done
	fi
}

# Extra sources a target links: fuzz_cmd drives the core through the
# in-process fake transport of the tests.
extra_srcs() {
	case $1 in
	fuzz_cmd) echo tests/support/fake_transport.c;;
	esac
}

# Leaks of dependencies we cannot fix (documented in the file).
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$fuzzdir/lsan.supp:print_suppressions=0}

passed=0; failed=0
report() {
	echo "$passed passed, $failed failed"
	[ $failed -eq 0 ]
}

replay() {
	local build=${1:-build} san="" cc=${CC:-cc}
	local lib=$build/lib/libnvmft.a out=$build/tests/fuzz
	case $build in *asan*) san="$san -fsanitize=address -fno-omit-frame-pointer";; esac
	case $build in *ubsan*) san="$san -fsanitize=undefined -fno-sanitize-recover=all";; esac
	if [ ! -f "$lib" ]; then
		echo "$lib missing: build the library first (make lib)" >&2
		exit 2
	fi
	mkdir -p "$out"
	for t in $(targets); do
		if ! $cc $COMMON $WARN -Werror -O1 $san -o "$out/$t" \
			$fuzzdir/$t.c $fuzzdir/replay_main.c $(extra_srcs "$t") \
			"$lib" -pthread $PKG_LIBS -lm; then
			echo "FAIL $t: build"
			failed=$((failed + 1))
			continue
		fi
		if "$out/$t" $fuzzdir/corpus/$t $fuzzdir/regressions/$t; then
			passed=$((passed + 1))
		else
			echo "FAIL $t: replay"
			failed=$((failed + 1))
		fi
	done
	report
}

build_fuzz() {
	local build=$1
	local san="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer"
	# The library with coverage but without libFuzzer's main; the
	# project's Makefile does the work, in its own tree (clang's warnings
	# differ from gcc's: not fatal here).
	make --no-print-directory -s BUILD="$build" CC="$CLANG" \
		WARN="$WARN -Wno-error" CFLAGS="-O1 -g" \
		SAN_FLAGS="-fsanitize=fuzzer-no-link $san" \
		"$build/lib/libnvmft.a" || return 1
	mkdir -p "$build/fuzz/bin"
	for t in $(targets); do
		$CLANG $COMMON $WARN -O1 -fsanitize=fuzzer $san \
			-o "$build/fuzz/bin/$t" $fuzzdir/$t.c $(extra_srcs "$t") \
			"$build/lib/libnvmft.a" -pthread $PKG_LIBS -lm || return 1
	done
}

fuzz() {
	local build=${1:-build-fuzz} secs=${2:-60}
	if [ -z "${FUZZ_NO_BUILD:-}" ]; then
		build_fuzz "$build" || { echo "fuzz build failed"; exit 2; }
	fi
	for t in $(targets); do
		local work=$build/fuzz/corpus/$t regr=$fuzzdir/regressions/$t
		local dict=() log=$build/fuzz/$t.log
		mkdir -p "$work" "$regr" $fuzzdir/corpus/$t
		[ -f $fuzzdir/$t.dict ] && dict=(-dict=$fuzzdir/$t.dict)
		echo "== $t: ${secs}s"
		if ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
		   UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
		   "$build/fuzz/bin/$t" "${dict[@]}" -max_total_time="$secs" \
			-timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
			-artifact_prefix="$regr/" ${FUZZ_ARGS:-} \
			"$work" $fuzzdir/corpus/$t >"$log" 2>&1; then
			grep -E '^stat::number_of_executed_units|^#[0-9]+.*DONE' "$log" | tail -n 2
			passed=$((passed + 1))
		else
			echo "FAIL $t (log $log); reproducer(s):"
			ls -t "$regr" | head -n 3 | sed "s|^|    $regr/|"
			grep -E 'ERROR|SUMMARY|==[0-9]+==|fuzz_' "$log" | head -n 10 | sed 's/^/    /'
			failed=$((failed + 1))
		fi
	done
	report
}

seed() {
	local build=${1:-build} out=${1:-build}/tests/fuzz
	mkdir -p "$out"
	${CC:-cc} $COMMON $WARN -Werror -O1 -o "$out/gen_corpus" $fuzzdir/gen_corpus.c \
		"$build/lib/libnvmft.a" -pthread $PKG_LIBS -lm || exit 2
	"$out/gen_corpus" $fuzzdir/corpus examples/*.conf || exit 2
	for t in $(targets); do
		echo "$t: $(ls $fuzzdir/corpus/$t 2>/dev/null | wc -l) seeds"
	done
}

case ${1:-} in
--replay) shift; replay "$@";;
--seed) shift; seed "$@";;
--build-only) shift; build_fuzz "${1:-build-fuzz}";;
*) fuzz "$@";;
esac
