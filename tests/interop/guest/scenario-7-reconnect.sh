#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 7: keep-alive and reconnect. Connected with a 5 s keep-alive,
# 1 s reconnect delay and a 60 s controller loss timeout, the host writes
# verified data, starts a fio load, and the host side stops nvmf-tgtd with
# SIGTERM and starts it again (same file backend). The kernel must
# reconnect the same controller by itself, the load must finish without an
# I/O error (native multipath requeues while the path is down), and the
# data written before the stop must verify.
. "$(dirname "$0")/common.sh"

dmesg -C
connect --keep-alive-tmo=5 --reconnect-delay=1 --ctrl-loss-tmo=60
before=$CTRL
verify_args=(--filename="$DEV" --bs=4k --iodepth=8 --size=8M --offset=0
	     --verify=crc32c --verify_fatal=1 --rw=randwrite --randrepeat=1)
fio_run before-stop "${verify_args[@]}" --do_verify=1

log "fio load (15 s) while the target restarts"
fio --name=load --ioengine=libaio --direct=1 --filename="$DEV" --rw=randrw \
	--bs=16k --iodepth=8 --offset=16M --size=16M --time_based --runtime=15 \
	>/tmp/load.out 2>&1 &
load=$!
sleep 3
kill -0 $load 2>/dev/null || { cat /tmp/load.out; fail "fio load ended early"; }
step restart-target

# The controller goes through connecting and comes back live, by itself.
wait_for 60 grep -qx live /sys/class/nvme/"$before"/state ||
	fail "$before is '$(cat /sys/class/nvme/"$before"/state 2>/dev/null)' 60 s after the restart"
dmesg | grep -q 'Successfully reconnected' || fail "no 'Successfully reconnected' from the kernel"
[ "$(ctrls_of "$NVMFT_NQN")" = "$before" ] || fail "controllers now: $(ctrls_of "$NVMFT_NQN"), expected $before"
log "$before reconnected: $(dmesg | grep -m1 'Successfully reconnected' | sed 's/^\[[^]]*\] //')"

wait $load
rc=$?
grep -E '^ +(READ|WRITE):' /tmp/load.out | sed 's/^ */    /'
[ $rc -eq 0 ] || { cat /tmp/load.out; fail "fio load failed across the restart (status $rc)"; }

fio_run before-stop "${verify_args[@]}" --verify_only
log "data written before the stop verifies after the restart"
disconnect
log "PASS"
