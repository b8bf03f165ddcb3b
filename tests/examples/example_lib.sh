# Helpers for the example tests (sourced, not run).
# Every wait is bounded; each check prints "ok NAME" or "FAIL NAME" and the
# script ends with the "N passed, N failed" line tests/run.sh reads.

passed=0
failed=0
pids=()

ok() { echo "ok   $1"; passed=$((passed + 1)); }
ko() { echo "FAIL $1"; failed=$((failed + 1)); }
check() {	# check NAME COMMAND...
	local name=$1; shift
	if "$@"; then ok "$name"; else ko "$name"; fi
}

summary() {
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
}

# Kill whatever a failed check left running.
kill_leftovers() {
	local p
	for p in "${pids[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
}

# start_example OUT_PREFIX PROGRAM ARGS...: run it in the background with
# stdout in OUT_PREFIX.out and stderr in OUT_PREFIX.err; sets $pid, and
# $port once the program printed "... serving ... on 127.0.0.1:PORT"
# (10 s at most). Returns 1 if it exited or printed nothing by then.
start_example() {
	local out=$1; shift
	port=
	"$@" >"$out.out" 2>"$out.err" &
	pid=$!
	pids+=("$pid")
	for _ in $(seq 100); do
		port=$(sed -n 's/^.*: serving .* on 127\.0\.0\.1:\([0-9][0-9]*\)$/\1/p' "$out.out")
		[ -n "$port" ] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	echo "    $* did not start:"; sed 's/^/    /' "$out.err"
	return 1
}

# stop_example PID: SIGTERM, wait up to 10 s, return the exit status
# (124 when it had to be killed).
stop_example() {
	local p=$1
	kill -TERM "$p" 2>/dev/null
	for _ in $(seq 100); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -KILL "$p"
		wait "$p" 2>/dev/null
		return 124
	fi
	wait "$p"
}

# wait_exit PID SECONDS: wait for a process to exit by itself; its status.
wait_exit() {
	local p=$1 s=$2
	for _ in $(seq $((s * 10))); do
		kill -0 "$p" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$p" 2>/dev/null; then
		kill -KILL "$p"
		wait "$p" 2>/dev/null
		return 124
	fi
	wait "$p"
}

# perf_verify LOG ARGS...: nvmft-perf with --verify; true when it exits 0
# and reports verified I/O with no mismatch.
perf_verify() {
	local log=$1; shift
	timeout 60 "$build/bin/nvmft-perf" -V -i 0 "$@" >"$log" 2>&1
	local rc=$?
	if [ $rc -ne 0 ] || ! grep -Eq 'verify: checked=[1-9][0-9]* mismatches=0' "$log"; then
		echo "    nvmft-perf exit $rc:"; sed 's/^/    /' "$log"
		return 1
	fi
}

# The make variables and compiler flags that match a build tree's name
# (build, build-asan, build-ubsan, build-asan-ubsan).
san_make_vars() {
	case $(basename "$1") in
	*asan*ubsan*) echo "ASAN=1 UBSAN=1";;
	*asan*) echo "ASAN=1";;
	*ubsan*) echo "UBSAN=1";;
	esac
}
san_cflags() {
	local f=
	case $(basename "$1") in *asan*) f="$f -fsanitize=address -fno-omit-frame-pointer";; esac
	case $(basename "$1") in *ubsan*) f="$f -fsanitize=undefined -fno-sanitize-recover=all";; esac
	echo "$f"
}
