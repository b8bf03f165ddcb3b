#!/bin/bash
# SPDX-License-Identifier: MIT
# Scenario 6: blkdiscard (Dataset Management, deallocate), blkdiscard -z
# (Write Zeroes), sync and nvme flush (Flush), each followed by reading
# back what the command promises: zeroes after Write Zeroes, what DLFEAT
# announces after a deallocate, and the data itself after a flush; the
# blocks around each range stay untouched.
. "$(dirname "$0")/common.sh"

M=$((1 << 20))
connect
q=/sys/block/${DEV#/dev/}/queue
log "discard_max_bytes $(cat $q/discard_max_bytes), write_zeroes_max_bytes $(cat $q/write_zeroes_max_bytes), write_cache $(cat $q/write_cache)"
[ "$(cat $q/discard_max_bytes)" -gt 0 ] ||
	fail "no discard support: the controller does not announce Dataset Management (ONCS bit 2)"
[ "$(cat $q/write_zeroes_max_bytes)" -gt 0 ] ||
	fail "no write zeroes support: the controller does not announce Write Zeroes (ONCS bit 3)"
dlfeat=$(nvme id-ns "$DEV" | field dlfeat)
dlfeat=$((${dlfeat:-0} & 7))
log "DLFEAT read behaviour after deallocate: $dlfeat (0 not reported, 1 zeroes, 2 ones)"

head -c $((4 * M)) /dev/urandom >/tmp/pat
run dd if=/tmp/pat of="$DEV" bs=1M count=4 oflag=direct status=none
same_as "$DEV" 0 $((4 * M)) /tmp/pat || fail "pattern does not read back"

# Deallocate [0, 1M).
run blkdiscard -o 0 -l $M "$DEV"
case $dlfeat in
1) is_zero "$DEV" 0 $M || fail "deallocated blocks do not read as zeroes (DLFEAT says they do)";;
2) cmp -n $M <(dd if="$DEV" bs=1M count=1 iflag=direct status=none) \
	<(head -c $M /dev/zero | tr '\0' '\377') >/dev/null ||
	fail "deallocated blocks do not read as ones (DLFEAT says they do)";;
*) dd if="$DEV" of=/dev/null bs=1M count=1 iflag=direct status=none ||
	fail "deallocated blocks cannot be read";;
esac
cmp -n $((3 * M)) <(dd if="$DEV" bs=1M skip=1 count=3 iflag=direct status=none) \
	<(tail -c $((3 * M)) /tmp/pat) >/dev/null || fail "discard changed blocks outside its range"
log "deallocate: range reads as promised, the rest unchanged"

# Write Zeroes [1M, 2M).
run blkdiscard -z -o $M -l $M "$DEV"
is_zero "$DEV" $M $M || fail "blocks do not read as zeroes after Write Zeroes"
cmp -n $((2 * M)) <(dd if="$DEV" bs=1M skip=2 count=2 iflag=direct status=none) \
	<(tail -c $((2 * M)) /tmp/pat) >/dev/null || fail "write zeroes changed blocks outside its range"
# Write zeroes across an unaligned, odd-sized range: [2M + 512, 2M + 512 + 7 * 512).
run blkdiscard -z -o $((2 * M + 512)) -l $((7 * 512)) "$DEV"
is_zero "$DEV" $((2 * M + 512)) $((7 * 512)) || fail "odd write zeroes range is not zero"
cmp -n 512 <(dd if="$DEV" bs=512 skip=$((2 * M / 512)) count=1 iflag=direct status=none) \
	<(tail -c +$((2 * M + 1)) /tmp/pat | head -c 512) >/dev/null || fail "write zeroes hit the block before its range"
log "write zeroes: ranges read as zeroes, the rest unchanged"

# Buffered write, then sync (flush when the cache is write-back) and an
# explicit NVMe Flush; data reads back past the page cache.
head -c $M /dev/urandom >/tmp/pat2
run dd if=/tmp/pat2 of="$DEV" bs=1M seek=3 count=1 status=none
run sync "$DEV"
run nvme flush "$DEV"
echo 3 >/proc/sys/vm/drop_caches
same_as "$DEV" $((3 * M)) $M /tmp/pat2 || fail "data written before the flush does not read back"
log "flush: data reads back"
disconnect
log "PASS"
