#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 5: large transfers. The target is configured with a 1 MiB
# maximum I/O size and 4 KiB of in-capsule data, so 1 MiB writes go as
# single commands through R2T and H2C data PDUs, and 1 MiB reads as C2H
# data; fio verifies them at iodepth 1 and 8.
. "$(dirname "$0")/common.sh"

connect
q=/sys/block/${DEV#/dev/}/queue
log "max_hw_sectors_kb $(cat $q/max_hw_sectors_kb), max_sectors_kb $(cat $q/max_sectors_kb)"
# MDTS >= 1 MiB, else the block layer splits and nothing here is large.
[ "$(cat $q/max_hw_sectors_kb)" -ge 1024 ] ||
	fail "max_hw_sectors_kb is $(cat $q/max_hw_sectors_kb): the controller's MDTS is below 1 MiB"
[ "$(cat $q/max_sectors_kb)" -ge 1024 ] || echo 1024 >$q/max_sectors_kb
off=0
for qd in 1 8; do
	fio_run "r2t-qd$qd" --filename="$DEV" --rw=write --bs=1M --iodepth=$qd \
		--size=8M --offset=${off}M --verify=crc32c --verify_fatal=1 --do_verify=1
	fio_run "r2t-qd$qd" --filename="$DEV" --rw=write --bs=1M --iodepth=$qd \
		--size=8M --offset=${off}M --verify=crc32c --verify_fatal=1 --verify_only
	off=$((off + 8))
done
# Mixed sizes, 512 B to 1 MiB: most are not a multiple of 4 KiB pages.
fio_run "r2t-mixed" --filename="$DEV" --rw=write --bsrange=512-1M \
	--iodepth=4 --size=8M --offset=16M --verify=crc32c --verify_fatal=1 --do_verify=1
disconnect
log "PASS"
