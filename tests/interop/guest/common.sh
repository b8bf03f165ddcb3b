# SPDX-License-Identifier: MIT
# Helpers for the guest-side scenario scripts (sourced; runs in the guest).
# Parameters come from /run/nvmft/params (written by run.sh): NVMFT_TRADDR,
# NVMFT_PORT, NVMFT_DISC_PORT, NVMFT_NQN, NVMFT_SERIAL, NVMFT_MODEL,
# NVMFT_NS{1,2}_{SIZE,BS}, NVMFT_HOSTNQN, NVMFT_ACL_NQN.
# Conventions: every check that can fail calls fail() with what was
# expected and what was seen; the script's exit status is the verdict.
# Pitfalls (seen before): the discovery log carries the target's own
# traddr (127.0.0.1, unreachable from here), so connects always give
# -a $NVMFT_TRADDR; nvme-cli 2.3 connect prints nothing on success; fio's
# "Disk stats ios=0/0" under native multipath is not an error.
set -u
. /run/nvmft/params

T=$NVMFT_TRADDR
SCN=${SCENARIO:-scenario}

log() { echo "[$SCN] $*"; }

fail() {
	echo "[$SCN] FAIL: $*"
	echo "[$SCN] --- diagnostics"
	nvme list-subsys 2>&1 | sed 's/^/    /'
	dmesg | grep -i nvme | tail -n 25 | sed 's/^/    dmesg: /'
	exit 1
}

# Runs a command, echoing it; fails the scenario when it fails.
run() {
	log "+ $*"
	"$@" || fail "command failed (status $?): $*"
}

# Asks the driver (host side) to do NAME and waits for it to be done, over
# the second serial line (ttyS1). Fails the scenario when the host step
# failed.
step() {
	local reply
	if [ -z "${STEP_FD_OPEN:-}" ]; then
		stty -F /dev/ttyS1 raw -echo -echoe -echok -echoctl -echoke 2>/dev/null ||
			fail "no control line /dev/ttyS1"
		exec 3<>/dev/ttyS1
		STEP_FD_OPEN=1
	fi
	log "step: $* (host side)"
	echo "STEP $*" >&3
	IFS= read -r -t "${STEP_TIMEOUT:-120}" reply <&3 || fail "no answer from the host for step $*"
	reply=${reply%$'\r'}
	[ "$reply" = "DONE 0" ] || fail "host step $* failed ($reply)"
	log "step: $* done"
}

# Polls COMMAND... every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
	local secs=$1 i
	shift
	for ((i = 0; i < secs * 5; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.2
	done
	return 1
}

# The controllers (nvmeN) connected to subsystem NQN.
ctrls_of() {
	local c
	for c in /sys/class/nvme/nvme*; do
		[ -e "$c/subsysnqn" ] || continue
		[ "$(cat "$c/subsysnqn")" = "$1" ] && echo "${c##*/}"
	done
}

has_ctrl() { [ -n "$(ctrls_of "$1")" ]; }
no_ctrl() { [ -z "$(ctrls_of "$1")" ]; }

# The block device (/dev/nvmeXnY) of namespace NSID of subsystem NQN: the
# multipath head when native multipath is on, else the controller's disk.
ns_dev() {
	local nqn=$1 nsid=$2 s d c
	for s in /sys/class/nvme-subsystem/nvme-subsys*; do
		[ "$(cat "$s/subsysnqn" 2>/dev/null)" = "$nqn" ] || continue
		for d in "$s"/nvme*n*; do
			[ -e "$d/nsid" ] || continue
			[[ ${d##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
			[ "$(cat "$d/nsid")" = "$nsid" ] && { echo "/dev/${d##*/}"; return 0; }
		done
	done
	for c in $(ctrls_of "$nqn"); do
		for d in /sys/class/nvme/"$c"/nvme*n*; do
			[ -e "$d/nsid" ] || continue
			[[ ${d##*/} =~ ^nvme[0-9]+n[0-9]+$ ]] || continue
			[ "$(cat "$d/nsid")" = "$nsid" ] && { echo "/dev/${d##*/}"; return 0; }
		done
	done
	return 1
}

# Connects to NQN (default $NVMFT_NQN) with extra nvme-connect options; waits
# for the controller and namespace 1. Sets CTRL (nvmeN) and DEV (/dev/...).
connect() {
	local nqn=$NVMFT_NQN
	if [ "${1:-}" = "-n" ]; then nqn=$2; shift 2; fi
	run nvme connect -t tcp -a "$T" -s "$NVMFT_PORT" -n "$nqn" "$@"
	wait_for 20 has_ctrl "$nqn" || fail "no controller for $nqn after nvme connect"
	CTRL=$(ctrls_of "$nqn" | head -n1)
	wait_for 20 ns_dev "$nqn" 1 || fail "no block device for $nqn namespace 1"
	DEV=$(ns_dev "$nqn" 1)
	wait_for 10 test -b "$DEV" || fail "$DEV did not appear"
	log "connected: $CTRL, namespace 1 is $DEV ($(cat /sys/class/nvme/"$CTRL"/state))"
}

# Disconnects NQN and checks that no controller is left on this side.
disconnect() {
	local nqn=${1:-$NVMFT_NQN} out
	log "+ nvme disconnect -n $nqn"
	out=$(nvme disconnect -n "$nqn" 2>&1) || fail "nvme disconnect: $out"
	log "$out"
	wait_for 20 no_ctrl "$nqn" || fail "controller $(ctrls_of "$nqn") still there after disconnect"
}

# Value of FIELD in "nvme id-ctrl"/"nvme id-ns" text output ("sn  : X").
field() {
	awk -v k="$1" '$1 == k && $2 ~ /^:/ { sub(/^[^:]*:[ \t]*/, ""); sub(/[ \t]+$/, ""); print; exit }'
}

# fio with the options every scenario shares; prints the summary lines,
# or everything when fio fails. Extra arguments are fio options.
fio_run() {
	local label=$1 out rc
	shift
	log "fio $label: $*"
	out=$(fio --name="$label" --ioengine=libaio --direct=1 --group_reporting \
		--output-format=normal "$@" 2>&1)
	rc=$?
	if [ $rc -ne 0 ] || grep -qE 'verify:|bad magic|crc32c:|error=' <<<"$out"; then
		echo "$out" | sed 's/^/    /'
		fail "fio $label failed (status $rc)"
	fi
	grep -E '^ +(READ|WRITE):' <<<"$out" | sed 's/^ */    /'
}

# Compares LEN bytes of DEV at OFFSET with FILE (all in bytes).
same_as() {	# dev offset len file
	cmp -n "$3" <(dd if="$1" bs=64k iflag=direct,skip_bytes,count_bytes \
		skip="$2" count="$3" status=none) "$4" >/dev/null
}

# True when LEN bytes of DEV at OFFSET are all zero.
is_zero() {	# dev offset len
	cmp -n "$3" <(dd if="$1" bs=64k iflag=direct,skip_bytes,count_bytes \
		skip="$2" count="$3" status=none) /dev/zero >/dev/null
}
