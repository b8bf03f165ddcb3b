#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 2: "nvme connect" with default options; "nvme list", "nvme
# id-ctrl" and "nvme id-ns" agree with the target's configuration (serial,
# model, subsystem NQN, namespace sizes and block sizes: namespace 1 has
# 512-byte blocks, namespace 2 4096-byte ones); "nvme disconnect" leaves no
# controller here, and the host side checks that the target holds no
# connection any more.
. "$(dirname "$0")/common.sh"

connect
wait_for 20 ns_dev "$NVMFT_NQN" 2 || fail "namespace 2 did not appear"
DEV2=$(ns_dev "$NVMFT_NQN" 2)

log "+ nvme list"
list=$(nvme list 2>&1) || fail "nvme list: $list"
echo "$list" | sed 's/^/    /'
grep -q "^$DEV " <<<"$list" || fail "nvme list does not show $DEV"
grep "^$DEV " <<<"$list" | grep -qF "$NVMFT_SERIAL" || fail "nvme list: $DEV without serial $NVMFT_SERIAL"
grep "^$DEV " <<<"$list" | grep -qF "$NVMFT_MODEL" || fail "nvme list: $DEV without model $NVMFT_MODEL"

log "+ nvme id-ctrl /dev/$CTRL"
idc=$(nvme id-ctrl "/dev/$CTRL" 2>&1) || fail "nvme id-ctrl: $idc"
echo "$idc" | head -n 40 | sed 's/^/    /'
[ "$(field sn <<<"$idc")" = "$NVMFT_SERIAL" ] || fail "sn is '$(field sn <<<"$idc")', expected '$NVMFT_SERIAL'"
[ "$(field mn <<<"$idc")" = "$NVMFT_MODEL" ] || fail "mn is '$(field mn <<<"$idc")', expected '$NVMFT_MODEL'"
[ "$(field subnqn <<<"$idc")" = "$NVMFT_NQN" ] || fail "subnqn is '$(field subnqn <<<"$idc")'"
nn=$(field nn <<<"$idc")
[ "$((nn))" -ge 2 ] || fail "nn is $nn, expected at least 2 namespaces"
[ -n "$(field fr <<<"$idc")" ] || fail "fr (firmware revision) is empty"
# The sysfs view the kernel built from the same data.
[ "$(cat /sys/class/nvme/"$CTRL"/serial | sed 's/ *$//')" = "$NVMFT_SERIAL" ] || fail "sysfs serial differs"
[ "$(cat /sys/class/nvme/"$CTRL"/model | sed 's/ *$//')" = "$NVMFT_MODEL" ] || fail "sysfs model differs"
[ "$(cat /sys/class/nvme/"$CTRL"/transport)" = tcp ] || fail "transport is not tcp"
log "id-ctrl: sn, mn, subnqn, nn=$nn match"

check_ns() {	# dev nsid size bs
	local dev=$1 nsid=$2 size=$3 bs=$4 idn nsze ncap flbas lbads blocks sysbs
	log "+ nvme id-ns $dev"
	idn=$(nvme id-ns "$dev" 2>&1) || fail "nvme id-ns $dev: $idn"
	echo "$idn" | grep -E '^(nsze|ncap|nuse|flbas|nlbaf|lbaf)' | sed 's/^/    /'
	blocks=$((size / bs))
	nsze=$(field nsze <<<"$idn") ncap=$(field ncap <<<"$idn") flbas=$(field flbas <<<"$idn")
	[ $((nsze)) -eq $blocks ] || fail "$dev nsze is $nsze, expected $blocks"
	[ $((ncap)) -eq $blocks ] || fail "$dev ncap is $ncap, expected $blocks"
	# The LBA format in use (flbas bits 3:0) has lbads = log2(block size).
	lbads=$(awk -v f=$((flbas & 15)) '$1 == "lbaf" && $2 == f { for (i = 1; i <= NF; i++) if ($i ~ /^lbads:/) { split($i, a, ":"); print a[2] } }' <<<"$idn")
	[ -n "$lbads" ] || fail "$dev: no lbaf $((flbas & 15)) in id-ns"
	[ $((1 << lbads)) -eq "$bs" ] || fail "$dev lbads is $lbads, expected block size $bs"
	[ "$(blockdev --getsize64 "$dev")" -eq "$size" ] || fail "$dev is $(blockdev --getsize64 "$dev") bytes, expected $size"
	sysbs=$(cat /sys/block/"${dev#/dev/}"/queue/logical_block_size)
	[ "$sysbs" -eq "$bs" ] || fail "$dev logical block size $sysbs, expected $bs"
	[ "$(cat /sys/block/"${dev#/dev/}"/nsid)" -eq "$nsid" ] || fail "$dev nsid differs"
	log "id-ns $dev: $blocks blocks of $bs bytes"
}
check_ns "$DEV" 1 "$NVMFT_NS1_SIZE" "$NVMFT_NS1_BS"
check_ns "$DEV2" 2 "$NVMFT_NS2_SIZE" "$NVMFT_NS2_BS"

# A small write and read back through the block layer.
head -c 65536 /dev/urandom >/tmp/pat
run dd if=/tmp/pat of="$DEV" bs=64k count=1 oflag=direct status=none
same_as "$DEV" 0 65536 /tmp/pat || fail "read back differs from what was written"
log "64 KiB written and read back"

disconnect
[ -z "$(ls /sys/class/nvme 2>/dev/null)" ] || fail "controllers left: $(ls /sys/class/nvme)"
step check-no-ctrl
log "PASS"
