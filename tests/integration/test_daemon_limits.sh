#!/bin/bash
# nvmf-tgtd connection limits as an operator sets them: --max-connections
# (over the config's target.max_connections), a listener's max_connections
# added with nvmft-rpc, the refused connections counted in nvmf_get_stats,
# and bad values named. Usage: test_daemon_limits.sh BUILD_DIR
set -u
build=${1:-build}
tgtd=$build/bin/nvmf-tgtd
rpc=$build/bin/nvmft-rpc
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT
pass=0; failn=0
ok()   { echo "ok   $1"; pass=$((pass + 1)); }
bad()  { echo "FAIL $1"; failn=$((failn + 1)); }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

if ! command -v python3 >/dev/null; then
	echo "SKIP: python3 is needed to hold connections open"
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

# conns PORT N: N connections that each finish the NVMe/TCP IC exchange
# and stay open, then one more; prints "served=K extra=closed|open".
conns() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
icreq = bytes([0, 0, 128, 0, 128, 0, 0, 0]) + bytes(120)
held, served = [], 0
for _ in range(n):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(icreq)
    got = b""
    try:
        while len(got) < 128:
            b = s.recv(128 - len(got))
            if not b:
                break
            got += b
    except OSError:
        pass
    if len(got) == 128 and got[0] == 1:
        served += 1
    held.append(s)
s = socket.create_connection(("127.0.0.1", port), timeout=5)
state = "open"
try:
    if s.recv(1) == b"":
        state = "closed"
except ConnectionResetError:
    state = "closed"
except socket.timeout:
    pass
print("served=%d extra=%s" % (served, state))
PY
}

check "--help documents --max-connections" "$tgtd --help | grep -q -- '--max-connections N'"
$tgtd --max-connections 0 -t >"$tmp/out" 2>&1; rc=$?
check "--max-connections 0: exit 2" "[ $rc -eq 2 ]"
check "--max-connections 0: names option and value" \
	"grep -q -- '--max-connections: \"0\" is not 1..1000000' '$tmp/out'"
$tgtd --max-connections 2000000 -t >/dev/null 2>&1; rc=$?
check "--max-connections 2000000: exit 2" "[ $rc -eq 2 ]"
printf 'target = { max_connections = 0; };\n' > "$tmp/bad.conf"
$tgtd -t -c "$tmp/bad.conf" >"$tmp/out" 2>&1; rc=$?
check "target.max_connections = 0: exit 1" "[ $rc -eq 1 ]"
check "target.max_connections = 0: names file:line, setting and value" \
	"grep -q 'bad.conf:1: target.max_connections: 0 is out of range' '$tmp/out'"

port=$(free_port)
port2=$(free_port)
nqn=nqn.2026-11.io.nvmft:limits
cat > "$tmp/t.conf" <<CONF
target = { max_connections = 100; };
bdevs = ( { name = "Malloc0"; type = "malloc"; size = "4M"; } );
subsystems = ( { nqn = "$nqn"; allow_any_host = true;
  namespaces = ( { bdev = "Malloc0"; } );
  listeners = ( { traddr = "127.0.0.1"; trsvcid = "$port"; } ); } );
CONF
$tgtd -c "$tmp/t.conf" -n 2 --max-connections 2 -r "$tmp/rpc.sock" >"$tmp/log" 2>&1 &
pid=$!
if wait_for "$tmp/log" "ready" 20; then
	ok "daemon with --max-connections 2 starts"
	out=$(conns "$port" 2)
	check "--max-connections 2: two served, the third closed ($out)" \
		"[ '$out' = 'served=2 extra=closed' ]"
	check "nvmf_get_stats counts the refusal" \
		"$rpc -s $tmp/rpc.sock -j nvmf_get_stats | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if d[\"refused_connections\"] >= 1 and d[\"max_connections\"] == 2 else 1)'"
	check "the refusal is logged" "wait_for '$tmp/log' 'max_connections reached' 5"
	# the held connections went with the script: wait until uncounted
	for ((i = 0; i < 50; i++)); do
		$rpc -s $tmp/rpc.sock -j nvmf_get_stats | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["connections"] == 0 else 1)' && break
		sleep 0.1
	done
	# a listener with its own limit, from the command line tool
	check "nvmft-rpc add_listener -M 1" \
		"$rpc -s $tmp/rpc.sock nvmf_subsystem_add_listener $nqn -t tcp -a 127.0.0.1 -s $port2 -M 1 >/dev/null"
	check "nvmf_get_subsystems shows the listener's limit" \
		"$rpc -s $tmp/rpc.sock -j nvmf_get_subsystems | python3 -c 'import json,sys; d=json.load(sys.stdin); sys.exit(0 if any(l[\"trsvcid\"] == \"$port2\" and l[\"max_connections\"] == 1 for s in d for l in s[\"listen_addresses\"]) else 1)'"
	out=$(conns "$port2" 1)
	check "listener max_connections 1: one served, the second closed ($out)" \
		"[ '$out' = 'served=1 extra=closed' ]"
	check "save_config keeps the limits" \
		"$rpc -s $tmp/rpc.sock save_config > '$tmp/saved.conf' && grep -q 'max_connections = 2;' '$tmp/saved.conf' && grep -q 'max_connections = 1;' '$tmp/saved.conf' && $tgtd -t -c '$tmp/saved.conf' >/dev/null"
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
	bad "daemon with --max-connections 2 starts"
	cat "$tmp/log"
fi

echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
