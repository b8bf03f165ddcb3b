#!/bin/bash
# SPDX-License-Identifier: MIT
# Boots the interop guest once under qemu and returns the exit status of
# the scenario it ran. The guest's console is streamed to stdout.
#
# Usage: run-guest.sh [OPTIONS] IMAGE_DIR PAYLOAD_DIR
#   IMAGE_DIR    output of build-image.sh (vmlinux, initrd.img, root.ext4)
#   PAYLOAD_DIR  files for /run/nvmft in the guest: guest-init, params,
#                guest/*.sh (packed into a tar archive on the second disk)
# Options:
#   --timeout SEC   hard limit for the whole boot (default 300)
#   --smp N         virtual CPUs (default 2)
#   --mem SIZE      guest memory (default 1G)
#   --accel A       tcg (default) or kvm
#   --ctl PATH      second serial port (guest ttyS1) as the FIFO pair
#                   PATH.in (to the guest) / PATH.out (from the guest)
# Exit status: the scenario's (0 pass), 124 timeout, 125 no result marker
# (boot failure: the console output says why), 126 qemu missing.
#
# Networking is qemu user mode only: the guest's 10.0.2.2:PORT reaches
# 127.0.0.1:PORT of the network namespace qemu runs in (run.sh runs it in
# a private one that has nothing but lo).
set -uo pipefail

timeout=300 smp=2 mem=1G accel=tcg ctl=""
while [ $# -gt 0 ]; do
	case $1 in
	--timeout) timeout=$2; shift 2;;
	--smp) smp=$2; shift 2;;
	--mem) mem=$2; shift 2;;
	--accel) accel=$2; shift 2;;
	--ctl) ctl=$2; shift 2;;
	--) shift; break;;
	-*) echo "run-guest: unknown option $1" >&2; exit 2;;
	*) break;;
	esac
done
[ $# -eq 2 ] || { sed -n '5,19p' "$0" >&2; exit 2; }
img=$1 payload=$2

command -v qemu-system-x86_64 >/dev/null || { echo "run-guest: qemu-system-x86_64 not installed" >&2; exit 126; }
for f in vmlinux initrd.img root.ext4; do
	[ -f "$img/$f" ] || { echo "run-guest: $img/$f missing" >&2; exit 125; }
done
[ -f "$payload/guest-init" ] || { echo "run-guest: $payload/guest-init missing" >&2; exit 125; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' TERM INT
tar --owner=0 --group=0 -C "$payload" -cf "$tmp/payload.tar" . || exit 125

# shellcheck disable=SC2054 # commas inside qemu option values
case $accel in
kvm) accel_args=(-accel kvm -cpu host);;
*) accel_args=(-accel tcg,thread=multi -cpu max);;
esac
if [ -n "$ctl" ]; then
	serial2=(-serial "pipe:$ctl")
else
	serial2=(-serial null)
fi

# quiet boot; panic=-1 + -no-reboot: a guest crash ends qemu at once.
cmdline="console=ttyS0 panic=-1 loglevel=4 mitigations=off tsc=reliable \
no_timer_check i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd \
nvme_core.io_timeout=60"

# The group keeps bash's "Aborted"-style job messages out of the console.
{
	# --foreground: stay in our process group, so that whoever stops us
	# (run.sh signals the group) stops qemu too.
	timeout --foreground --kill-after=5 "$timeout" qemu-system-x86_64 \
		-nodefaults -no-user-config -nographic -monitor none -serial stdio \
		"${serial2[@]}" \
		-M pc -bios qboot.rom "${accel_args[@]}" -smp "$smp" -m "$mem" -no-reboot \
		-kernel "$img/vmlinux" -initrd "$img/initrd.img" -append "$cmdline" \
		-drive "file=$img/root.ext4,format=raw,if=virtio,snapshot=on,cache=unsafe" \
		-drive "file=$tmp/payload.tar,format=raw,if=virtio,readonly=on" \
		-netdev user,id=n0 -device virtio-net-pci,netdev=n0,romfile= \
		</dev/null 2>&1
	echo $? >"$tmp/rc"
} 2>/dev/null | tee "$tmp/console"
rc=$(cat "$tmp/rc" 2>/dev/null || echo 125)
if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
	echo "run-guest: qemu killed after ${timeout}s (hard timeout)"
	exit 124
fi
res=$(tr -d '\r' <"$tmp/console" | grep -a -m1 '^NVMFT-INTEROP-RESULT ' || true)
if [ -z "$res" ]; then
	echo "run-guest: no result from the guest (qemu exit $rc)"
	exit 125
fi
grc=${res##*rc=}
[[ $grc =~ ^[0-9]+$ ]] || exit 125
exit "$grc"
