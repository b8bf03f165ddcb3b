#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 8: host ACL. A subsystem that does not list this host's NQN
# (allow_any_host = false) refuses the Fabrics Connect with status Connect
# Invalid Host (SCT 1h, SC 84h), which the kernel reports as "Connect for
# subsystem ... is not allowed, hostnqn: ..."; no controller is left. After
# the host side adds this host's NQN to the subsystem, the same connect
# works and I/O goes through.
. "$(dirname "$0")/common.sh"

[ "$(cat /etc/nvme/hostnqn)" = "$NVMFT_HOSTNQN" ] || fail "host NQN is not $NVMFT_HOSTNQN"
dmesg -C
log "+ nvme connect -t tcp -a $T -s $NVMFT_PORT -n $NVMFT_ACL_NQN (expected to be refused)"
if out=$(nvme connect -t tcp -a "$T" -s "$NVMFT_PORT" -n "$NVMFT_ACL_NQN" 2>&1); then
	fail "connect to $NVMFT_ACL_NQN succeeded although this host is not allowed"
fi
log "refused: $out"
sleep 1
msg=$(dmesg | grep -m1 'is not allowed, hostnqn')
[ -n "$msg" ] || { dmesg | tail -n 10; fail "the kernel did not report Connect Invalid Host"; }
grep -qF "$NVMFT_ACL_NQN" <<<"$msg" && grep -qF "$NVMFT_HOSTNQN" <<<"$msg" ||
	fail "unexpected message: $msg"
log "kernel: ${msg#*] }"
no_ctrl "$NVMFT_ACL_NQN" || fail "a controller for $NVMFT_ACL_NQN exists after the refusal"

# The allowed subsystem on the same port still works for this host.
connect
disconnect

step allow-host
# The host side may have restarted the target: retry for a while.
for _ in $(seq 1 20); do
	nvme connect -t tcp -a "$T" -s "$NVMFT_PORT" -n "$NVMFT_ACL_NQN" >/tmp/c.out 2>&1 && break
	sleep 1
done
wait_for 20 has_ctrl "$NVMFT_ACL_NQN" || { cat /tmp/c.out; fail "connect still refused after allow-host"; }
wait_for 20 ns_dev "$NVMFT_ACL_NQN" 1 || fail "no namespace on $NVMFT_ACL_NQN"
DEV=$(ns_dev "$NVMFT_ACL_NQN" 1)
head -c 65536 /dev/urandom >/tmp/pat
run dd if=/tmp/pat of="$DEV" bs=64k count=1 oflag=direct status=none
same_as "$DEV" 0 65536 /tmp/pat || fail "read back differs on $DEV"
log "allowed now: $DEV works"
disconnect "$NVMFT_ACL_NQN"
log "PASS"
