#!/bin/bash
# SPDX-License-Identifier: MIT
# Linux kernel host interoperability suite: boots a Debian guest under qemu
# (tests/interop/build-image.sh, run-guest.sh) whose kernel nvme-tcp host,
# nvme-cli and fio talk to build/bin/nvmf-tgtd. One guest boot per scenario
# (tests/interop/guest/scenario-N-*.sh); this script drives the target side
# (configuration, start/stop/restart, ACL and namespace changes) and answers
# the guest's "STEP" requests on a second serial line.
#
# Usage: tests/interop/run.sh BUILD_DIR [SCENARIO...]
#   SCENARIO: a number (3) or a name (fio-verify); default: all.
# Prints one line per scenario, "ok|FAIL|SKIP scenario-N name (Ns)", and
# "N passed, N failed[, N skipped]". Exit status 0 when nothing failed.
# Logs (guest console, target log and config per scenario) are written to
# BUILD_DIR/interop-logs/; they are kept for failed scenarios.
#
# Environment:
#   CI=true            a missing prerequisite (root, qemu, image, boot) is a
#                      failure; otherwise the suite prints SKIP with the reason
#   INTEROP_ACCEL      auto (default: KVM if a probe boot works, else TCG),
#                      tcg or kvm
#   INTEROP_VERBOSE=1  stream the guest console to stdout
#   INTEROP_KEEP_LOGS=1  keep the logs of passing scenarios too
#   INTEROP_CACHE, INTEROP_MIRROR: see build-image.sh
#
# Isolation: nvmf-tgtd and qemu run in a network namespace created here
# (nvmft-interop-PID, only "lo", removed on exit); the guest reaches the
# namespace's 127.0.0.1:PORT as 10.0.2.2:PORT through qemu user networking.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
[ $# -ge 1 ] || { sed -n '10,13p' "$0" >&2; exit 2; }
build=$(cd "$1" 2>/dev/null && pwd) || { echo "interop: no build directory $1" >&2; exit 2; }
shift
tgtd=$build/bin/nvmf-tgtd
rpc_tool=$build/bin/nvmft-rpc
logroot=$build/interop-logs
ci=false
[ "${CI:-}" = true ] && ci=true

# name, guest vCPUs, guest time limit (s) of each scenario.
SCENARIOS=(
	"1 discover 2 120"
	"2 connect-identify 2 180"
	"3 fio-verify 4 420"
	"4 digests 2 240"
	"5 large-r2t 2 240"
	"6 discard-zeroes-flush 2 240"
	"7 reconnect 2 300"
	"8 host-acl 2 180"
	"9 ns-hotplug 2 180"
)

PORT=4420
DISC_PORT=8009
NQN=nqn.2026-11.io.nvmft:interop
ACL_NQN=nqn.2026-11.io.nvmft:interop-acl
SERIAL=NVMFTINTEROP0001
MODEL="nvmft interop RAM disk"
NS1_SIZE=$((64 << 20)) NS1_BS=512
NS2_SIZE=$((32 << 20)) NS2_BS=4096
HOSTID=6a1b4b1e-2f3c-4d5e-8f90-a1b2c3d4e5f6
HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:$HOSTID
OTHER_HOSTNQN=nqn.2014-08.org.nvmexpress:uuid:00000000-1111-2222-3333-444444444444

passed=0 failed=0 skipped=0
ns="" tgt_pid="" guest_pid="" work="" boot_broken="" rpc_opt="" rpc_sock=""

say() { echo "interop: $*" >&2; }

# ------------------------------------------------------------ prerequisites

# Without a prerequisite the suite cannot run: in CI that is a failure of
# every scenario, elsewhere a SKIP of every scenario, with the reason.
abort_all() {
	local reason=$1 word=SKIP n
	$ci && word=FAIL
	for s in "${SCENARIOS[@]}"; do
		set -- $s
		selected "$1" "$2" || continue
		echo "$word scenario-$1 $2 (0s): $reason"
		if $ci; then failed=$((failed + 1)); else skipped=$((skipped + 1)); fi
	done
	summary
	exit $((failed > 0))
}

summary() {
	if [ $skipped -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
}

selected() {	# $1 number, $2 name
	[ ${#want[@]} -eq 0 ] && return 0
	local w
	for w in "${want[@]}"; do
		[ "$w" = "$1" ] || [ "$w" = "$2" ] || [ "$w" = "scenario-$1" ] && return 0
	done
	return 1
}

install_missing() {
	local missing="" t
	for t in qemu-system-x86_64:qemu-system-x86 ip:iproute2 ss:iproute2 \
		 debootstrap:debootstrap busybox:busybox-static mkfs.ext4:e2fsprogs \
		 cpio:cpio xz:xz-utils zstd:zstd python3:python3 flock:util-linux; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
	done
	[ -z "$missing" ] && return 0
	missing=$(printf '%s\n' $missing | sort -u | tr '\n' ' ')
	say "installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	{ apt-get install -y -qq --no-install-recommends $missing ||
	  { apt-get update -qq && apt-get install -y -qq --no-install-recommends $missing; }
	} >"$logroot/apt.log" 2>&1 || return 1
}

# ------------------------------------------------------------ the namespace

nsexec() { ip netns exec "$ns" "$@"; }

cleanup() {
	[ -n "$guest_pid" ] && kill -TERM -- "-$guest_pid" 2>/dev/null
	tgt_kill
	[ -n "$ns" ] && ip netns del "$ns" 2>/dev/null
	[ -n "$work" ] && rm -rf "$work"
}

# ------------------------------------------------------------ the target

# Writes the target configuration for the current scenario to $cfg.
#   CFG_TRANSPORT    transport options (libconfig settings)
#   CFG_BDEV1        the bdev entry of namespace 1 (default a malloc one)
#   CFG_NS1_BDEV     its name (default Malloc0)
#   CFG_NO_NS2=1     no namespace 2 (its bdev Malloc1 stays defined)
#   CFG_EXTRA_BDEVS, CFG_EXTRA_SUBSYS: more list entries, each starting ","
write_config() {
	local bdev1=${CFG_BDEV1:-} ns2
	[ -n "$bdev1" ] ||
		bdev1="{ name = \"Malloc0\"; type = \"malloc\"; size = $NS1_SIZE; block_size = $NS1_BS; }"
	ns2=', { bdev = "Malloc1"; nsid = 2; }'
	[ "${CFG_NO_NS2:-0}" = 1 ] && ns2=""
	cat >"$cfg" <<EOF
# nvmf-tgtd configuration of interop $cur (generated by tests/interop/run.sh)
log_level = "info";
transports = ( { type = "TCP"; ${CFG_TRANSPORT:-} } );
bdevs = (
	$bdev1,
	{ name = "Malloc1"; type = "malloc"; size = $NS2_SIZE; block_size = $NS2_BS; }${CFG_EXTRA_BDEVS:-}
);
subsystems = (
	{
		nqn = "$NQN";
		serial = "$SERIAL";
		model = "$MODEL";
		allow_any_host = true;
		namespaces = ( { bdev = "${CFG_NS1_BDEV:-Malloc0}"; nsid = 1; }$ns2 );
		listeners = ( { traddr = "127.0.0.1"; trsvcid = "$PORT"; } );
	}${CFG_EXTRA_SUBSYS:-}
);
discovery = {
	listeners = ( { traddr = "127.0.0.1"; trsvcid = "$DISC_PORT"; } );
};
EOF
}

tgt_ports() { echo "$PORT $DISC_PORT"; }

# Starts nvmf-tgtd in the namespace; waits until it listens on its ports.
tgt_start() {
	local p ok args=()
	[ -n "$rpc_sock" ] && { rm -f "$rpc_sock"; args=("$rpc_opt" "$rpc_sock"); }
	echo "=== $(date +%T) start: nvmf-tgtd -c $cfg -n 2 ${args[*]}" >>"$tgtlog"
	ip netns exec "$ns" "$tgtd" -c "$cfg" -n 2 "${args[@]}" >>"$tgtlog" 2>&1 &
	tgt_pid=$!
	for _ in $(seq 1 100); do
		if ! kill -0 "$tgt_pid" 2>/dev/null; then
			wait "$tgt_pid"
			echo "=== nvmf-tgtd exited with status $? while starting" >>"$tgtlog"
			tgt_pid=""
			return 1
		fi
		ok=true
		for p in $(tgt_ports); do
			nsexec ss -Hltn "sport = :$p" | grep -q . || ok=false
		done
		[ -z "$rpc_sock" ] || [ -S "$rpc_sock" ] || ok=false
		$ok && return 0
		sleep 0.1
	done
	echo "=== nvmf-tgtd does not listen on $(tgt_ports) ${rpc_sock:+and $rpc_sock }after 10 s" >>"$tgtlog"
	return 1
}

# Stops it with SIGTERM. Returns non-zero when it did not exit cleanly
# (status != 0, a signal, or still running after 15 s: then SIGKILL).
tgt_stop() {
	local rc
	[ -n "$tgt_pid" ] || return 0
	kill -TERM "$tgt_pid" 2>/dev/null
	for _ in $(seq 1 150); do
		kill -0 "$tgt_pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$tgt_pid" 2>/dev/null; then
		kill -KILL "$tgt_pid" 2>/dev/null
		wait "$tgt_pid" 2>/dev/null
		echo "=== $(date +%T) nvmf-tgtd still running 15 s after SIGTERM: killed" >>"$tgtlog"
		tgt_pid=""
		return 1
	fi
	wait "$tgt_pid"
	rc=$?
	tgt_pid=""
	echo "=== $(date +%T) nvmf-tgtd exited with status $rc after SIGTERM" >>"$tgtlog"
	return $rc
}

tgt_kill() {
	[ -n "$tgt_pid" ] || return 0
	kill -KILL "$tgt_pid" 2>/dev/null
	wait "$tgt_pid" 2>/dev/null
	tgt_pid=""
}

# Connections the target still holds on its I/O port (a host that has
# disconnected must leave none: ESTABLISHED or CLOSE-WAIT means a qpair or
# controller the target did not tear down).
tgt_connections() {
	nsexec ss -Htn state established state close-wait "sport = :$PORT"
}

# --------------------------------------------- runtime configuration changes

# The daemon's RPC socket option from its --help ("-r, --rpc-socket PATH"),
# or nothing. When it has one, every start gets a private socket: the
# default path is outside the network namespace and may be in use.
rpc_option() {
	"$tgtd" --help 2>&1 | grep -oE -- '--rpc[a-z-]*' | head -n1
}

# JSON-RPC 2.0 call on the daemon's Unix socket: rpc METHOD [JSON-PARAMS].
# Prints the result as JSON; fails on an error answer or no answer.
rpc() {
	[ -n "$rpc_sock" ] || { echo "rpc $1: the daemon has no RPC socket" >&2; return 1; }
	echo "rpc: $1 ${2:-}" >&2
	python3 - "$rpc_sock" "$1" "${2:-}" <<'EOF'
import json, socket, sys
path, method, params = sys.argv[1:4]
req = {"jsonrpc": "2.0", "id": 1, "method": method}
if params:
    req["params"] = json.loads(params)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(10)
s.connect(path)
s.sendall(json.dumps(req).encode())
buf, resp = "", None
while resp is None:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk.decode()
    try:
        resp, _ = json.JSONDecoder().raw_decode(buf.lstrip())
    except ValueError:
        pass
if not isinstance(resp, dict) or "error" in resp or "result" not in resp:
    print(f"rpc {method}: {json.dumps(resp) if resp else 'no answer'}", file=sys.stderr)
    sys.exit(1)
print(json.dumps(resp["result"]))
EOF
}

# How runtime changes reach the target, in $runtime: "rpc" when the daemon
# has an RPC socket whose method list has what $1 (space-separated method
# names) needs, "reload" when SIGHUP reloads the configuration, else ""
# with the reason in $runtime_reason. Starts and stops the target.
runtime="" runtime_reason=""
probe_runtime() {
	local need=$1 methods m missing=""
	runtime="" runtime_reason=""
	if [ -n "$rpc_opt" ]; then
		write_config
		if tgt_start; then
			methods=$(rpc rpc_get_methods 2>&1)
			tgt_stop
			for m in $need; do
				grep -q "\"$m\"" <<<"$methods" || missing="$missing $m"
			done
			if [ -z "$missing" ]; then
				runtime=rpc
				return
			fi
			runtime_reason="RPC methods missing:$missing (rpc_get_methods: ${methods:0:200})"
		else
			runtime_reason="nvmf-tgtd $rpc_opt $rpc_sock did not start"
		fi
	else
		runtime_reason="nvmf-tgtd has no RPC socket option (--help)"
		[ -x "$rpc_tool" ] || runtime_reason="$runtime_reason and $rpc_tool is not built"
	fi
	# SIGHUP: the daemon either says it cannot reload, or reloads.
	write_config
	if tgt_start; then
		kill -HUP "$tgt_pid"
		sleep 1
		tgt_stop
		if grep -qi 'reload is not supported' "$tgtlog"; then
			runtime_reason="$runtime_reason; $(grep -i -m1 -o 'SIGHUP.*reload is not supported' "$tgtlog")"
		elif grep -qiE 'reload(ed|ing)' "$tgtlog"; then
			runtime=reload
		else
			runtime_reason="$runtime_reason; SIGHUP reload not confirmed in the target log"
		fi
	else
		runtime_reason="$runtime_reason; nvmf-tgtd did not start"
	fi
}

# The configuration entry of a file bdev ("uring" type) in $file_entry,
# or "" with the reason in $file_reason. The key naming the file is found
# with nvmf-tgtd --check-config.
file_entry="" file_reason=""
probe_file_bdev() {	# $1 name, $2 path, $3 block size
	local key out t=$work/probe.cfg
	file_entry="" file_reason=""
	for key in filename path file; do
		printf 'bdevs = ( { name = "%s"; type = "uring"; %s = "%s"; block_size = %s; } );\n' \
			"$1" "$key" "$2" "$3" >"$t"
		if out=$("$tgtd" -t -c "$t" 2>&1); then
			file_entry="{ name = \"$1\"; type = \"uring\"; $key = \"$2\"; block_size = $3; }"
			return
		fi
		case $out in *"unknown setting"*) continue;; esac
		break
	done
	file_reason="no file bdev: nvmf-tgtd --check-config says: ${out#*: }"
}

# ------------------------------------------------ per-scenario target side

# setup_N: writes the configuration and starts the target. On failure it
# returns 1 (2: skip the scenario) with the reason in $reason.
# step_N NAME: answers the guest's "STEP NAME"; status 0 is success.

setup_default() {
	write_config
	tgt_start || { reason="nvmf-tgtd did not start (see $tgtlog)"; return 1; }
}

setup_1() { setup_default; }
setup_2() { setup_default; }
setup_3() { setup_default; }
setup_4() { setup_default; }
setup_5() {
	# 1 MiB commands need MDTS >= 1 MiB; small in-capsule data so that
	# writes go through R2T.
	CFG_TRANSPORT='max_io_size = "1M"; in_capsule_data_size = "4K";'
	setup_default
}
setup_6() { setup_default; }

setup_7() {
	# In the log directory: a disk file system (O_DIRECT; /tmp may be
	# tmpfs), and kept with the logs when the scenario fails.
	truncate -s "$NS1_SIZE" "$dir/ns1.img"
	probe_file_bdev File0 "$dir/ns1.img" "$NS1_BS"
	[ -n "$file_entry" ] || { reason=$file_reason; return 2; }
	CFG_BDEV1=$file_entry
	CFG_NS1_BDEV=File0
	setup_default
}

acl_subsys() {	# $1: hosts list entries (libconfig)
	CFG_EXTRA_SUBSYS=",
	{
		nqn = \"$ACL_NQN\";
		serial = \"NVMFTINTEROPACL1\";
		model = \"nvmft interop ACL\";
		allow_any_host = false;
		hosts = ( $1 );
		namespaces = ( { bdev = \"Malloc2\"; nsid = 1; } );
		listeners = ( { traddr = \"127.0.0.1\"; trsvcid = \"$PORT\"; } );
	}"
	CFG_EXTRA_BDEVS=", { name = \"Malloc2\"; type = \"malloc\"; size = \"16M\"; block_size = 512; }"
}

setup_8() {
	acl_subsys "\"$OTHER_HOSTNQN\""
	probe_runtime "nvmf_subsystem_add_host"
	acl_method=${runtime:-restart}
	setup_default
}

setup_9() {
	CFG_NO_NS2=1	# namespace 2 comes and goes at run time
	probe_runtime "bdev_malloc_create nvmf_subsystem_add_ns nvmf_subsystem_remove_ns"
	if [ -z "$runtime" ]; then
		reason="no runtime namespace add/remove: $runtime_reason"
		return 2
	fi
	ns_method=$runtime
	setup_default
}

step_2() {
	local conns
	case $1 in
	check-no-ctrl)
		# The kernel host closed its sockets; the target must follow.
		for _ in $(seq 1 50); do
			conns=$(tgt_connections)
			[ -z "$conns" ] && break
			sleep 0.2
		done
		if [ -n "$conns" ]; then
			echo "target still holds connections on :$PORT 10 s after the disconnect:"
			echo "$conns"
			return 1
		fi
		echo "no connection left on :$PORT"
		if [ -n "$rpc_sock" ]; then
			conns=$(rpc nvmf_subsystem_get_controllers "{\"nqn\": \"$NQN\"}") || return 1
			echo "$conns"
			[ "$conns" = "[]" ] || { echo "the target still lists controllers"; return 1; }
		fi
		return 0;;
	esac
	return 1
}

step_7() {
	case $1 in
	restart-target)
		tgt_stop || return 1	# a clean SIGTERM exit is part of the test
		sleep 2
		tgt_start;;
	*) return 1;;
	esac
}

step_8() {
	case $1 in
	allow-host)
		acl_subsys "\"$OTHER_HOSTNQN\", \"$HOSTNQN\""
		write_config
		case $acl_method in
		rpc) rpc nvmf_subsystem_add_host "{\"nqn\": \"$ACL_NQN\", \"host\": \"$HOSTNQN\"}";;
		reload) kill -HUP "$tgt_pid" && sleep 1;;
		*) tgt_stop && tgt_start;;
		esac;;
	*) return 1;;
	esac
}

step_9() {
	case $1 in
	add-ns)
		CFG_NO_NS2=0
		write_config
		if [ "$ns_method" = rpc ]; then
			rpc bdev_malloc_create "{\"name\": \"Malloc9\", \"num_blocks\": $((NS2_SIZE / NS2_BS)), \"block_size\": $NS2_BS}" &&
			rpc nvmf_subsystem_add_ns "{\"nqn\": \"$NQN\", \"namespace\": {\"bdev_name\": \"Malloc9\", \"nsid\": 2}}"
		else
			kill -HUP "$tgt_pid"
		fi;;
	remove-ns)
		CFG_NO_NS2=1
		write_config
		if [ "$ns_method" = rpc ]; then
			rpc nvmf_subsystem_remove_ns "{\"nqn\": \"$NQN\", \"nsid\": 2}"
		else
			kill -HUP "$tgt_pid"
		fi;;
	*) return 1;;
	esac
}

# ------------------------------------------------------------ the guest

write_params() {	# $1 scenario number, $2 name, $3 guest timeout
	cat >"$payload/params" <<EOF
SCENARIO=scenario-$1-$2
GUEST_TIMEOUT=$3
NVMFT_TRADDR=10.0.2.2
NVMFT_PORT=$PORT
NVMFT_DISC_PORT=$DISC_PORT
NVMFT_NQN=$NQN
NVMFT_ACL_NQN=$ACL_NQN
NVMFT_SERIAL='$SERIAL'
NVMFT_MODEL='$MODEL'
NVMFT_NS1_SIZE=$NS1_SIZE
NVMFT_NS1_BS=$NS1_BS
NVMFT_NS2_SIZE=$NS2_SIZE
NVMFT_NS2_BS=$NS2_BS
NVMFT_HOSTNQN=$HOSTNQN
NVMFT_HOSTID=$HOSTID
EOF
}

# Boots the guest for scenario $1 and serves its STEP requests; returns the
# guest's status. Console in $console.
run_guest() {
	local n=$1 smp=$2 limit=$3 line buf="" part step_rc ctl=$work/ctl rc
	rm -f "$ctl.in" "$ctl.out"
	mkfifo "$ctl.in" "$ctl.out"
	# read-write opens of a FIFO do not wait for the other side
	exec 7<>"$ctl.out" 8<>"$ctl.in"
	# Its own process group (setsid: same pid), so that cleanup can stop
	# run-guest.sh, timeout and qemu together.
	setsid ip netns exec "$ns" "$here/run-guest.sh" --accel "$accel" --smp "$smp" \
		--timeout $((limit + 90)) --ctl "$ctl" "$image" "$payload" >"$console" 2>&1 &
	guest_pid=$!
	[ "${INTEROP_VERBOSE:-0}" = 1 ] && tail -n +1 -f --pid="$guest_pid" "$console" &
	while kill -0 "$guest_pid" 2>/dev/null; do
		if IFS= read -r -t 1 part <&7; then
			line=$buf$part buf=""
			line=${line%$'\r'}
			case $line in
			"STEP "*)
				echo "=== $(date +%T) guest step: ${line#STEP }" >>"$tgtlog"
				"step_$n" ${line#STEP } >>"$tgtlog" 2>&1
				step_rc=$?
				echo "=== step ${line#STEP }: status $step_rc" >>"$tgtlog"
				printf 'DONE %d\n' "$step_rc" >&8;;
			esac
		else
			buf=$buf$part
		fi
	done
	wait "$guest_pid"
	rc=$?
	guest_pid=""
	exec 7>&- 8>&-
	return $rc
}

# KVM only when a probe boot really works with it (/dev/kvm may exist and
# still fail to run a stock kernel). The answer is cached per host boot.
pick_accel() {
	local mode=${INTEROP_ACCEL:-auto} key stamp probe
	case $mode in tcg|kvm) echo "$mode"; return;; esac
	[ -w /dev/kvm ] || { echo tcg; return; }
	key=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null)-$(qemu-system-x86_64 --version | head -n1 | tr -dc 'a-zA-Z0-9.')
	stamp=$(dirname "$image")/kvm-probe-$key
	if [ ! -f "$stamp" ]; then
		rm -f "$(dirname "$image")"/kvm-probe-*
		probe=$work/probe
		mkdir -p "$probe/guest"
		cp "$here/guest-init" "$probe/"
		printf 'SCENARIO=probe\nGUEST_TIMEOUT=20\n' >"$probe/params"
		echo 'echo kvm probe' >"$probe/guest/probe.sh"
		if nsexec "$here/run-guest.sh" --accel kvm --timeout 30 "$image" "$probe" \
			>"$logroot/kvm-probe.log" 2>&1; then
			echo kvm >"$stamp"
		else
			echo tcg >"$stamp"
		fi
	fi
	cat "$stamp"
}

# ------------------------------------------------------------ main

want=("$@")
mkdir -p "$logroot"

[ "$(id -u)" -eq 0 ] || abort_all "needs root (network namespace, packages)"
[ -x "$tgtd" ] || abort_all "$tgtd not built"
install_missing || abort_all "cannot install the packages (see $logroot/apt.log)"
command -v qemu-system-x86_64 >/dev/null || abort_all "qemu-system-x86_64 not available"

start=$SECONDS
if ! image=$("$here/build-image.sh" 2>"$logroot/build-image.log"); then
	tail -n 20 "$logroot/build-image.log" | sed 's/^/    /' >&2
	abort_all "guest image build failed (see $logroot/build-image.log)"
fi
[ $((SECONDS - start)) -gt 5 ] && say "guest image built in $((SECONDS - start))s"

work=$(mktemp -d /tmp/nvmft-interop.XXXXXX)
trap cleanup EXIT
trap 'exit 130' INT TERM
# Run a private copy: the build tree may be rebuilt while the suite runs.
cp "$tgtd" "$work/nvmf-tgtd" || abort_all "cannot copy $tgtd"
tgtd=$work/nvmf-tgtd
ns=nvmft-interop-$$
rpc_opt=$(rpc_option) rpc_sock=""
[ -n "$rpc_opt" ] && rpc_sock=$work/rpc.sock
# Namespaces of earlier runs that were killed (their PID is gone).
for old in $(ip netns list 2>/dev/null | grep -o '^nvmft-interop-[0-9]*'); do
	kill -0 "${old##*-}" 2>/dev/null || ip netns del "$old" 2>/dev/null
done
ip netns add "$ns" || { ns=""; abort_all "cannot create a network namespace"; }
ip -n "$ns" link set lo up
accel=$(pick_accel)
[ "$accel" = kvm ] && say "using KVM"

for s in "${SCENARIOS[@]}"; do
	set -- $s
	num=$1 name=$2 smp=$3 limit=$4
	selected "$num" "$name" || continue
	cur=scenario-$num-$name
	dir=$logroot/$cur
	rm -rf "$dir"
	mkdir -p "$dir"
	cfg=$dir/target.cfg tgtlog=$dir/target.log console=$dir/console.log
	: >"$tgtlog"
	payload=$work/payload
	rm -rf "$payload"
	mkdir -p "$payload/guest"
	cp "$here/guest-init" "$payload/"
	cp "$here"/guest/*.sh "$payload/guest/"
	write_params "$num" "$name" "$limit"
	unset CFG_TRANSPORT CFG_BDEV1 CFG_NS1_BDEV CFG_NO_NS2 CFG_EXTRA_BDEVS CFG_EXTRA_SUBSYS
	rm -f "$work/rpc.sock"
	reason="" why="" grc=0
	t0=$SECONDS
	if [ -n "$boot_broken" ]; then
		echo "SKIP scenario-$num $name (0s): $boot_broken"
		skipped=$((skipped + 1))
		continue
	fi
	"setup_$num" >>"$tgtlog" 2>&1
	src=$?
	if [ $src -eq 2 ]; then
		echo "SKIP scenario-$num $name ($((SECONDS - t0))s): $reason"
		skipped=$((skipped + 1))
		[ "${INTEROP_KEEP_LOGS:-0}" = 1 ] || rm -rf "$dir"
		continue
	fi
	if [ $src -ne 0 ]; then
		why=${reason:-setup failed}
	else
		run_guest "$num" "$smp" "$limit"
		grc=$?
		case $grc in
		0) ;;
		124) why="guest timed out";;
		125) why="guest did not boot or did not report a result";;
		*) why="guest scenario exited $grc";;
		esac
	fi
	if [ -n "$tgt_pid" ] && ! tgt_stop && [ -z "$why" ]; then
		why="nvmf-tgtd did not exit cleanly on SIGTERM (see $tgtlog)"
	fi
	# No kernel even reached our init: the machine cannot run the guest.
	if [ "$grc" -eq 125 ] && ! grep -aq '^guest-init: kernel' "$console" && ! $ci; then
		boot_broken="the guest does not boot here (see $console)"
		echo "SKIP scenario-$num $name ($((SECONDS - t0))s): $boot_broken"
		skipped=$((skipped + 1))
		continue
	fi
	if [ -z "$why" ]; then
		echo "ok   scenario-$num $name ($((SECONDS - t0))s)"
		passed=$((passed + 1))
		[ "${INTEROP_KEEP_LOGS:-0}" = 1 ] || rm -rf "$dir"
	else
		echo "FAIL scenario-$num $name ($((SECONDS - t0))s): $why"
		echo "    --- guest console, last 40 lines (all in $console)"
		[ -f "$console" ] && tr -d '\r' <"$console" | tail -n 40 | sed 's/^/    /'
		echo "    --- target log, last 20 lines (all in $tgtlog)"
		tail -n 20 "$tgtlog" | sed 's/^/    /'
		failed=$((failed + 1))
	fi
done

summary
[ $failed -eq 0 ]
