#!/bin/bash
# nvmf-tgtd under load, on each engine: verified nvmft-perf workloads
# (random 4K mix at QD32, 1M sequential writes at QD4, digests on, a 4K-block
# namespace), then SIGTERM while a verified workload runs: the daemon exits
# 0 in bounded time, perf finishes or reports I/O errors (never a verify
# mismatch), nothing hangs. Usage: test_nvmf_daemon_load.sh BUILD_DIR
set -u
build=${1:-build}
tgtd=$build/bin/nvmf-tgtd
perf=$build/bin/nvmft-perf
tmp=$(mktemp -d)
pid=
ppid_=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; [ -n "$ppid_" ] && kill -9 $ppid_ 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0; failn=0
ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1"; failn=$((failn + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

if [ ! -x "$tgtd" ] || [ ! -x "$perf" ]; then
	echo "SKIP: $tgtd or $perf not built"
	exit 77
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for FILE PATTERN SECONDS
wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

# wait_exit PID SECONDS: 0 once PID is gone, 1 if still running
wait_exit() {
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

nqn=nqn.2026-11.io.nvmft:daemon-load
# a private RPC socket: the default path may belong to another daemon
rpc_opt=()
if "$tgtd" --help | grep -q -- --rpc-socket; then
	rpc_opt=(--rpc-socket "$tmp/rpc.sock")
fi

# perf_run NAME ARGS...: a verified run that must exit 0 within 60 s
perf_run() {
	local name=$1; shift
	timeout -k 5 60 "$perf" -a 127.0.0.1 -s "$port" -n "$nqn" -V -i 0 "$@" \
		>"$tmp/perf.out" 2>&1
	local rc=$?
	if [ $rc -eq 0 ]; then
		ok "$engine: $name"
	else
		bad "$engine: $name (exit $rc)"
		tail -n 5 "$tmp/perf.out"
	fi
}

for engine in ${ENGINES:-uring epoll}; do
	port=$(free_port)
	cat > "$tmp/t.conf" <<CONF
reactors = { engine = "$engine"; };
bdevs = ( { name = "Malloc0"; type = "malloc"; size = "64M"; block_size = 512; },
          { name = "Malloc4k"; type = "malloc"; size = "32M"; block_size = 4096; } );
subsystems = ( { nqn = "$nqn"; allow_any_host = true;
  namespaces = ( { bdev = "Malloc0"; nsid = 1; }, { bdev = "Malloc4k"; nsid = 2; } );
  listeners = ( { traddr = "127.0.0.1"; trsvcid = "$port"; } ); } );
CONF
	# The previous engine's log says "ready" too: the shell truncates the
	# file only once the child runs, so start from a file that is gone.
	rm -f "$tmp/log"
	"$tgtd" -c "$tmp/t.conf" -n 2 "${rpc_opt[@]}" >"$tmp/log" 2>&1 &
	pid=$!
	if ! wait_for "$tmp/log" "ready" 20; then
		# io_uring blocked (seccomp, old kernel): the epoll runs still count
		if [ "$engine" = uring ] &&
		   grep -q "uring engine: \(Operation not permitted\|Function not implemented\)" "$tmp/log"; then
			echo "note: io_uring engine unavailable here, uring runs skipped"
			kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
			continue
		fi
		bad "$engine: daemon starts and says ready"
		cat "$tmp/log"
		kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; pid=
		continue
	fi
	ok "$engine: daemon starts and says ready"

	perf_run "randrw 4K QD32 x2 queues, verified" -w randrw -o 4K -q 32 -c 2 -T 1 --size 32M
	perf_run "seq write 1M QD4, verified" -w write -o 1M -q 4 -T 1 --size 48M
	perf_run "randrw 64K QD16, header+data digests, verified" -w randrw -o 64K -q 16 -T 1 -g -G --size 32M
	perf_run "randrw 4K QD32 on the 4K-block namespace, verified" -w randrw -o 4K -q 32 -T 1 --nsid 2 --size 16M
	perf_run "randread 128K QD8 (written first), verified" -w randread -o 128K -q 8 -T 1 --size 16M

	# SIGTERM with a verified workload in flight (a 30 s run: perf must
	# notice that the target is gone and stop long before that)
	timeout -k 5 60 "$perf" -a 127.0.0.1 -s "$port" -n "$nqn" -V -i 0 \
		-w randrw -o 4K -q 32 -c 2 -T 30 --size 32M >"$tmp/perf2.out" 2>&1 &
	ppid_=$!
	sleep 1.5
	check "$engine: perf still running when SIGTERM comes" "kill -0 $ppid_ 2>/dev/null"
	kill -TERM $pid
	if wait_exit $pid 15; then
		wait $pid; rc=$?
		check "$engine: SIGTERM under load: daemon exit status 0 (got $rc)" "[ $rc -eq 0 ]"
	else
		bad "$engine: SIGTERM under load: daemon gone within 15 s"
		kill -9 $pid
		wait $pid 2>/dev/null
	fi
	pid=
	if wait_exit $ppid_ 20; then
		wait $ppid_; prc=$?
		# 0: finished, 3: setup failure, 4: I/O errors; 1 (mismatch), 124
		# (timeout: hung), or a signal are failures
		check "$engine: perf ends without hang or mismatch (exit $prc)" \
			"[ $prc -eq 0 ] || [ $prc -eq 4 ] || [ $prc -eq 3 ]"
	else
		bad "$engine: perf ends within 20 s of SIGTERM (its run was 30 s)"
		kill -9 $ppid_
		wait $ppid_ 2>/dev/null
	fi
	ppid_=
	check "$engine: the daemon logged no crash" "! grep -qi 'sanitizer\|assert\|segfault' '$tmp/log'"
done

echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
