#!/bin/bash
# nvmf-tgtd as an operator runs it: options, config errors, start, serve,
# SIGTERM → exit 0. Usage: test_daemon.sh BUILD_DIR
set -u
build=${1:-build}
tgtd=$build/bin/nvmf-tgtd
perf=$build/bin/nvmft-perf
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0; failn=0
ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1"; failn=$((failn + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

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

check "--version prints the version" "$tgtd --version | grep -q '^nvmf-tgtd [0-9]'"
check "--help exits 0 and documents -c" "$tgtd --help | grep -q -- '--config'"
check "unknown option exits 2" "$tgtd --bogus >/dev/null 2>&1; [ \$? -eq 2 ]"

printf 'bdevs = ( { name = "a"; type = "malloc"; size = "1M"; block_size = 1000; } );\n' > "$tmp/bad.conf"
$tgtd -c "$tmp/bad.conf" >"$tmp/out" 2>&1; rc=$?
check "bad config exits 1" "[ $rc -eq 1 ]"
check "bad config names file:line, setting and value" \
	"grep -q 'bad.conf:1: bdev \"a\": block_size 1000 is not 512 or 4096' '$tmp/out'"
check "example config validates" "$tgtd -t -c examples/nvmf-tgtd.conf | grep -q 'configuration OK'"
check "missing config file is reported" "$tgtd -c $tmp/none.conf 2>&1 | grep -q 'none.conf: No such file'"

port=$(free_port)
cat > "$tmp/t.conf" <<CONF
bdevs = ( { name = "Malloc0"; type = "malloc"; size = "16M"; } );
subsystems = ( { nqn = "nqn.2026-11.io.nvmft:daemon-test"; allow_any_host = true;
  namespaces = ( { bdev = "Malloc0"; } );
  listeners = ( { traddr = "127.0.0.1"; trsvcid = "$port"; } ); } );
CONF
$tgtd -c "$tmp/t.conf" -n 2 -r "$tmp/rpc.sock" >"$tmp/log" 2>&1 &
pid=$!
if wait_for "$tmp/log" "ready" 20; then
	ok "daemon starts and says ready"
	check "daemon prints the nvme connect line" \
		"grep -q 'nvme connect -t tcp -a 127.0.0.1 -s $port -n nqn.2026-11.io.nvmft:daemon-test' '$tmp/log'"
	check "daemon accepts TCP on its port" "timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$port'"
	if [ -x "$perf" ]; then
		check "verified I/O through the daemon (nvmft-perf -V)" \
			"timeout 60 $perf -a 127.0.0.1 -s $port -n nqn.2026-11.io.nvmft:daemon-test -w randwrite -o 4096 -q 8 -T 2 -V >'$tmp/perf' 2>&1"
	fi
	# a second daemon on the same port must fail cleanly, naming the listener
	$tgtd -c "$tmp/t.conf" -n 1 -r "$tmp/rpc2.sock" >"$tmp/log2" 2>&1; rc=$?
	check "port in use: exits 1" "[ $rc -eq 1 ]"
	check "port in use: names the listener" "grep -q 'listener 127.0.0.1:$port' '$tmp/log2'"
	kill -TERM $pid
	for ((i = 0; i < 100; i++)); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	if kill -0 $pid 2>/dev/null; then
		bad "SIGTERM stops the daemon within 10 s"
		kill -9 $pid
		wait $pid 2>/dev/null
	else
		wait $pid; rc=$?
		check "SIGTERM: exit status 0" "[ $rc -eq 0 ]"
	fi
	pid=
else
	bad "daemon starts and says ready"
	cat "$tmp/log"
fi

echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
