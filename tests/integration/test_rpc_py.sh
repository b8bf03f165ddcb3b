#!/bin/bash
# nvmf-tgtd's JSON-RPC socket driven the way SPDK's scripts/rpc.py drives
# SPDK: a small stdlib-only Python client that sends json.dumps(request)
# and reads until one complete JSON object decodes. Then the nvmft-rpc
# command line: subcommands, exit codes, save-config, and a target built
# over RPC serving verified I/O. Usage: test_rpc_py.sh BUILD_DIR
set -u
build=${1:-build}
tgtd=$build/bin/nvmf-tgtd
cli=$build/bin/nvmft-rpc
perf=$build/bin/nvmft-perf
if ! command -v python3 >/dev/null; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
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

wait_for() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -q "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}

sock=$tmp/rpc.sock
port=$(free_port)
port2=$(free_port)
nqn=nqn.2016-06.io.spdk:cnode1
# A target with nothing but a transport: everything else comes over RPC.
printf 'transports = ( { type = "TCP"; } );\n' > "$tmp/empty.conf"
$tgtd -c "$tmp/empty.conf" -n 2 -r "$sock" -p "$tmp/pid" >"$tmp/log" 2>&1 &
if ! wait_for "$tmp/log" "ready" 20; then
	bad "daemon starts with -r $sock"
	cat "$tmp/log"
	echo "$pass passed, $failn failed"
	exit 1
fi
pid=$(cat "$tmp/pid")
ok "daemon starts with -r $sock"
check "socket is 0600" "[ \"\$(stat -c %a '$sock')\" = 600 ]"

cat > "$tmp/client.py" <<'PY'
# A stdlib-only JSON-RPC client framing requests exactly as SPDK's rpc.py:
# the request is json.dumps(...) written as is; the answer is read in
# pieces until json.JSONDecoder.raw_decode() accepts the buffer.
import json, socket, sys

class Client:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(15)
        self.sock.connect(path)
        self.decoder = json.JSONDecoder()
        self.buf = ''
        self.id = 0

    def send(self, method, params=None, ident=None):
        self.id += 1
        req = {'jsonrpc': '2.0', 'method': method,
               'id': self.id if ident is None else ident}
        if params is not None:
            req['params'] = params
        self.sock.sendall(json.dumps(req).encode('utf-8'))
        return req['id']

    def recv(self):
        while True:
            self.buf = self.buf.lstrip()
            if self.buf:
                try:
                    obj, idx = self.decoder.raw_decode(self.buf)
                    self.buf = self.buf[idx:]
                    return obj
                except ValueError:
                    pass
            data = self.sock.recv(4096)
            if not data:
                raise ConnectionError('connection closed')
            self.buf += data.decode('utf-8')

    def call(self, method, params=None):
        i = self.send(method, params)
        ans = self.recv()
        assert ans['id'] == i, ans
        if 'error' in ans:
            raise RuntimeError(ans['error'])
        return ans['result']

def expect_error(c, method, params, code):
    try:
        c.call(method, params)
    except RuntimeError as e:
        assert e.args[0]['code'] == code, e.args[0]
        return e.args[0]['message']
    raise AssertionError('%s: no error' % method)

def main():
    path, port, nqn = sys.argv[1], sys.argv[2], sys.argv[3]
    c = Client(path)
    methods = c.call('rpc_get_methods')
    assert 'nvmf_subsystem_add_ns' in methods and 'save_config' in methods
    assert c.call('spdk_get_version')['version'].startswith('nvmft v')
    assert c.call('framework_wait_init') is True
    # What scripts/rpc.py sends for "bdev_malloc_create -b Malloc1 64 512"
    assert c.call('bdev_malloc_create', {'name': 'Malloc1', 'num_blocks': 131072,
                                         'block_size': 512}) == 'Malloc1'
    assert c.call('nvmf_create_subsystem', {'nqn': nqn, 'allow_any_host': True,
                                            'serial_number': 'SPDK001',
                                            'model_number': 'SPDK bdev Controller',
                                            'min_cntlid': 1, 'max_cntlid': 65519}) is True
    assert c.call('nvmf_subsystem_add_ns', {'nqn': nqn,
                                            'namespace': {'bdev_name': 'Malloc1'}}) == 1
    assert c.call('nvmf_subsystem_add_listener', {
        'nqn': nqn, 'listen_address': {'trtype': 'tcp', 'adrfam': 'ipv4',
                                       'traddr': '127.0.0.1', 'trsvcid': port}}) is True
    subs = c.call('nvmf_get_subsystems')
    s = [x for x in subs if x['nqn'] == nqn][0]
    assert s['namespaces'][0]['bdev_name'] == 'Malloc1'
    assert s['listen_addresses'][0]['trsvcid'] == port
    assert s['serial_number'] == 'SPDK001'
    # Standard errors; the connection stays usable after each.
    expect_error(c, 'no_such_method', None, -32601)
    msg = expect_error(c, 'bdev_malloc_create', {'num_blocks': 8, 'block_size': 1000}, -32602)
    assert 'block_size' in msg and '1000' in msg, msg
    c.sock.sendall(b'{"jsonrpc": "2.0", "method": broken}')
    ans = c.recv()
    assert ans['error']['code'] == -32700 and ans['id'] is None, ans
    # Requests back to back in one write are answered in order.
    batch = b''.join(json.dumps({'jsonrpc': '2.0', 'method': 'bdev_get_bdevs',
                                 'id': 1000 + i}).encode() for i in range(20))
    c.sock.sendall(batch)
    for i in range(20):
        assert c.recv()['id'] == 1000 + i
    # A second client at the same time.
    d = Client(path)
    assert d.call('nvmf_get_transports')[0]['trtype'] == 'TCP'
    assert len(c.call('bdev_get_bdevs')) == 1
    text = c.call('save_config')
    assert 'nqn = "%s";' % nqn in text, text
    print('python client: all checks passed')

main()
PY
check "rpc.py-style client: methods, errors, pipelining, two clients" \
	"timeout 60 python3 '$tmp/client.py' '$sock' $port $nqn >'$tmp/py.out' 2>&1 || { cat '$tmp/py.out'; false; }"

if [ -x "$perf" ]; then
	check "subsystem built over RPC serves verified I/O (nvmft-perf -V)" \
		"timeout 60 $perf -a 127.0.0.1 -s $port -n $nqn -w randwrite -o 4096 -q 8 -T 1 -V >'$tmp/perf' 2>&1"
fi

# ---- nvmft-rpc ------------------------------------------------------------
R="$cli -s $sock"
check "nvmft-rpc bdev_malloc_create -b M2 8 512 prints the name" \
	"[ \"\$($R bdev_malloc_create -b M2 8 512)\" = M2 ]"
check "nvmft-rpc bdev_get_bdevs -b M2: 8 MiB of 512-byte blocks" \
	"$R bdev_get_bdevs -b M2 | grep -q '\"num_blocks\": 16384'"
check "nvmft-rpc nvmf_subsystem_add_ns prints the nsid" \
	"[ \"\$($R nvmf_subsystem_add_ns $nqn M2 -n 7)\" = 7 ]"
check "nvmft-rpc nvmf_subsystem_add_listener (rpc.py flags)" \
	"$R nvmf_subsystem_add_listener $nqn -t tcp -a 127.0.0.1 -s $port2 -f ipv4"
check "nvmft-rpc nvmf_subsystem_add_host / allow_any_host -d" \
	"$R nvmf_subsystem_add_host $nqn nqn.2016-06.io.spdk:host9 && $R nvmf_subsystem_allow_any_host $nqn -d"
check "nvmft-rpc nvmf_get_subsystems NQN shows it all" \
	"$R nvmf_get_subsystems $nqn > '$tmp/ss.json' && grep -q '\"nsid\": 7' '$tmp/ss.json' && grep -q host9 '$tmp/ss.json' && grep -q '\"allow_any_host\": false' '$tmp/ss.json'"
check "nvmft-rpc call METHOD JSON" \
	"$R call nvmf_get_transports '{\"trtype\": \"TCP\"}' | grep -q '\"trtype\": \"TCP\"'"
check "nvmft-rpc METHOD without a subcommand of its own" \
	"$R nvmf_get_stats | grep -q poll_groups"
$R nvmf_create_subsystem not-an-nqn >/dev/null 2>"$tmp/err"; rc=$?
check "RPC error: exit 1, message on stderr" \
	"[ $rc -eq 1 ] && grep -q 'error -32602' '$tmp/err' && grep -q not-an-nqn '$tmp/err'"
$R bdev_malloc_create 8 >/dev/null 2>"$tmp/err"; rc=$?
check "usage error: exit 2, names what is missing" \
	"[ $rc -eq 2 ] && grep -q 'BLOCK_SIZE is missing' '$tmp/err'"
$cli -s "$tmp/none.sock" rpc_get_methods >/dev/null 2>"$tmp/err"; rc=$?
check "no target: exit 3" "[ $rc -eq 3 ] && grep -q 'cannot connect' '$tmp/err'"
check "nvmft-rpc save-config -o writes a file nvmf-tgtd accepts" \
	"$R save-config -o '$tmp/saved.conf' && $tgtd -t -c '$tmp/saved.conf' | grep -q 'configuration OK'"
check "saved file has the RPC-made state" \
	"grep -q 'nsid = 7;' '$tmp/saved.conf' && grep -q 'trsvcid = \"$port2\"' '$tmp/saved.conf'"
check "nvmft-rpc nvmft_set_log_level / nvmft_get_log_level" \
	"$R nvmft_set_log_level info && [ \"\$($R nvmft_get_log_level)\" = info ]"

kill -TERM "$pid"
for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$pid" 2>/dev/null; then
	bad "SIGTERM stops the daemon"
	kill -9 "$pid"
else
	wait "$pid"; rc=$?
	check "SIGTERM stops the daemon, exit status 0" "[ $rc -eq 0 ] || { tail -20 '$tmp/log'; false; }"
	check "socket file removed at exit" "[ ! -e '$sock' ]"
fi
pid=

# The saved configuration starts a daemon that serves the same subsystem.
$tgtd -c "$tmp/saved.conf" -n 1 -r "$tmp/rpc2.sock" -p "$tmp/pid2" >"$tmp/log2" 2>&1 &
if wait_for "$tmp/log2" "ready" 20; then
	pid=$(cat "$tmp/pid2")
	check "restarted from save-config: same namespaces" \
		"$cli -s '$tmp/rpc2.sock' nvmf_get_subsystems $nqn | grep -q '\"bdev_name\": \"M2\"'"
	kill -TERM "$pid"
	for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	pid=
else
	bad "restarted from save-config"
	cat "$tmp/log2"
fi

echo "$pass passed, $failn failed"
[ $failn -eq 0 ]
