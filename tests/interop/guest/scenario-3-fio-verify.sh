#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 3: fio verified random writes and reads (crc32c) at 4 KiB and
# 128 KiB, iodepth 1 and 32, connected with --nr-io-queues 2 and then 4
# (one fio job per queue, each pinned to its own CPU, so that every I/O
# queue carries traffic). Each combination writes its own region, verifies
# it while writing, then a second pass re-reads and verifies it.
. "$(dirname "$0")/common.sh"

ncpu=$(nproc)
for q in 2 4; do
	[ "$ncpu" -ge $q ] || fail "the guest has $ncpu CPUs; --nr-io-queues $q needs $q"
	dmesg -C
	connect --nr-io-queues=$q
	# The kernel logs how many I/O queues the controller granted.
	got=$(dmesg | sed -n 's/.*creating \([0-9]*\) I\/O queues.*/\1/p' | tail -n1)
	[ "$got" = "$q" ] || fail "asked for $q I/O queues, the controller has ${got:-?}"
	log "$CTRL has $q I/O queues"
	region=0
	for bs in 4k 128k; do
		for qd in 1 32; do
			# 512 KiB per job at 4 KiB, 2 MiB per job at 128 KiB (TCG is slow).
			case $bs in 4k) per=512;; *) per=2048;; esac
			args=(--filename="$DEV" --bs="$bs" --iodepth="$qd" --numjobs="$q"
			      --size="${per}k" --offset="${region}k" --offset_increment="${per}k"
			      --cpus_allowed=0-$((q - 1)) --cpus_allowed_policy=split
			      --verify=crc32c --verify_fatal=1 --randrepeat=1)
			fio_run "q$q-bs$bs-qd$qd" --rw=randwrite --do_verify=1 "${args[@]}"
			log "re-read and verify what q$q-bs$bs-qd$qd wrote"
			fio_run "q$q-bs$bs-qd$qd" --rw=randwrite --verify_only "${args[@]}"
			region=$((region + per * q))
		done
	done
	disconnect
done
log "PASS"
