#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 4: header and data digests (nvme connect -g -G). The kernel host
# refuses a connection whose ICResp does not enable both digests ("digest
# flag is cleared"), so a working connection proves they are on; fio then
# moves verified data through them (4 KiB: in-capsule and C2H; 128 KiB:
# R2T/H2C), and the kernel must not have seen a digest error.
. "$(dirname "$0")/common.sh"

dmesg -C
connect -g -G
for bs in 4k 128k; do
	case $bs in 4k) size=2M;; *) size=8M;; esac
	fio_run "digest-$bs" --filename="$DEV" --rw=randwrite --bs=$bs --iodepth=16 \
		--size=$size --verify=crc32c --verify_fatal=1 --do_verify=1
	fio_run "digest-$bs" --filename="$DEV" --rw=randwrite --bs=$bs --iodepth=16 \
		--size=$size --verify=crc32c --verify_fatal=1 --verify_only
done
if dmesg | grep -iE 'digest (error|mismatch)|digest flag is cleared'; then
	fail "the kernel reported digest errors"
fi
dmesg | grep -qiE 'reconnect|resetting' && fail "the controller was reset during the run"
disconnect
log "PASS"
