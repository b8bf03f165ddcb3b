#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 9: namespaces added and removed at run time. Connected to a
# subsystem with namespace 1 only, the host side adds namespace 2 (4 KiB
# blocks) and later removes it; the kernel learns both through the
# Namespace Attribute Changed event and rescans, without reconnecting:
# the same controller stays live, and namespace 1 keeps its data.
. "$(dirname "$0")/common.sh"

dmesg -C
connect
ctrl=$CTRL
ns_dev "$NVMFT_NQN" 2 >/dev/null && fail "namespace 2 exists before it was added"
head -c 65536 /dev/urandom >/tmp/pat
run dd if=/tmp/pat of="$DEV" bs=64k count=1 oflag=direct status=none

step add-ns
wait_for 30 ns_dev "$NVMFT_NQN" 2 || fail "namespace 2 did not appear within 30 s of being added"
DEV2=$(ns_dev "$NVMFT_NQN" 2)
wait_for 10 test -b "$DEV2" || fail "$DEV2 has no device node"
[ "$(blockdev --getsize64 "$DEV2")" -eq "$NVMFT_NS2_SIZE" ] || fail "$DEV2 size $(blockdev --getsize64 "$DEV2")"
[ "$(cat /sys/block/"${DEV2#/dev/}"/queue/logical_block_size)" -eq "$NVMFT_NS2_BS" ] || fail "$DEV2 block size"
run dd if=/tmp/pat of="$DEV2" bs=64k count=1 oflag=direct status=none
same_as "$DEV2" 0 65536 /tmp/pat || fail "read back differs on $DEV2"
log "namespace 2 appeared as $DEV2 and works"
# The kernel logs this when a Namespace Attribute Changed event made it scan.
rescans() { dmesg | grep -c 'rescanning namespaces'; }
more_rescans() { [ "$(rescans)" -gt "$n" ]; }
n=$(rescans)
[ "$n" -ge 1 ] || fail "no 'rescanning namespaces' in the kernel log: namespace 2 did not come through an AEN"

step remove-ns
wait_for 30 bash -c "! ls /sys/block | grep -qx ${DEV2#/dev/}" ||
	fail "$DEV2 still there 30 s after namespace 2 was removed"
log "namespace 2 is gone"
wait_for 10 more_rescans ||
	fail "no second 'rescanning namespaces': the removal did not come through an AEN"

[ "$(ctrls_of "$NVMFT_NQN")" = "$ctrl" ] || fail "controllers now: $(ctrls_of "$NVMFT_NQN"), expected $ctrl"
grep -qx live /sys/class/nvme/"$ctrl"/state || fail "$ctrl is $(cat /sys/class/nvme/"$ctrl"/state)"
dmesg | grep -qiE 'reconnect|resetting' && fail "the controller was reset or reconnected"
same_as "$DEV" 0 65536 /tmp/pat || fail "namespace 1 lost its data"
disconnect
log "PASS"
