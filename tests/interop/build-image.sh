#!/bin/bash
# SPDX-License-Identifier: MIT
# Builds (once) the guest the interop suite boots, from Debian packages only:
#   - a Debian bookworm minbase root (debootstrap) with nvme-cli, fio, kmod,
#     iproute2, util-linux, procps, and the modules of linux-image-amd64,
#     as an ext4 image made with mkfs.ext4 -d;
#   - the kernel as an ELF vmlinux (PVH entry: qemu boots it directly, no
#     in-guest decompression), extracted from the package's vmlinuz;
#   - a busybox-static initrd that loads the virtio and ext4 modules, mounts
#     the root, unpacks the run's scripts from the second disk and
#     switch_roots to them (see initrd-init).
# Everything is cached under ${XDG_CACHE_HOME:-~/.cache}/nvmft/interop:
#   rootfs-<hash>/  the debootstrap tree (hash of its recipe: slow, ~2 min)
#   <hash>/         vmlinux, initrd.img, root.ext4, kver (hash of the whole
#                   recipe: rootfs hash + this script + extractor + init)
# A second run prints the cached directory at once.
#
# Usage: tests/interop/build-image.sh     prints the image directory
# Environment: INTEROP_CACHE (cache root), INTEROP_MIRROR (Debian mirror;
# default: the one this machine's apt uses), INTEROP_SUITE (bookworm).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${INTEROP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/nvmft/interop}
suite=${INTEROP_SUITE:-bookworm}
# Guest tools; the kernel is unpacked separately (see fetch_kernel).
packages="nvme-cli,fio,kmod,iproute2,util-linux,procps"
# Modules the initrd loads (their dependencies come from modules.dep).
initrd_modules="crc32c_generic virtio_pci virtio_blk virtio_net ext4"

log() { echo "build-image: $*" >&2; }
die() { log "error: $*"; exit 1; }

# The Debian mirror this machine's apt is configured with: first "deb"
# source whose suite is $suite (one-line or deb822 format).
apt_mirror() {
	local f uri
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -f "$f" ] || continue
		uri=$(awk -v s="$suite" '$1 == "deb" {
			i = 2; if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
			if ($(i + 1) == s) { print $i; exit } }' "$f")
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -f "$f" ] || continue
		uri=$(awk -v s="$suite" '
			/^[ \t]*$/ { if (deb && suite && uri) { print uri; exit } deb = suite = 0; uri = ""; next }
			/^Types:/ { for (i = 2; i <= NF; i++) if ($i == "deb") deb = 1 }
			/^URIs:/ { uri = $2 }
			/^Suites:/ { for (i = 2; i <= NF; i++) if ($i == s) suite = 1 }
			END { if (deb && suite && uri) print uri }' "$f" | head -n1)
		[ -n "$uri" ] && { echo "${uri%/}"; return; }
	done
	echo "http://deb.debian.org/debian"
}

need_tools() {
	local missing="" t
	for t in debootstrap:debootstrap mkfs.ext4:e2fsprogs busybox:busybox-static \
		 cpio:cpio python3:python3 xz:xz-utils zstd:zstd dpkg-deb:dpkg; do
		command -v "${t%%:*}" >/dev/null 2>&1 || missing="$missing ${t#*:}"
	done
	# busybox must be the static one: it runs inside the initrd alone.
	if command -v busybox >/dev/null 2>&1 &&
	   ldd "$(command -v busybox)" >/dev/null 2>&1; then
		missing="$missing busybox-static"
	fi
	[ -z "$missing" ] && return 0
	[ "$(id -u)" -eq 0 ] || die "missing packages:$missing (run as root or install them)"
	log "installing$missing"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >&2 || { DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 &&
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		$missing >&2; } || die "cannot install$missing"
}

# debootstrap + the kernel's files. $1: destination (created).
make_rootfs() {
	local root=$1 kpkg kver
	debootstrap --variant=minbase --components=main --include="$packages" \
		"$suite" "$root" "$mirror" >&2
	# The kernel is unpacked, not installed: installing it would build an
	# initramfs we do not use (ours is busybox) and pull initramfs-tools.
	chroot "$root" apt-get update -qq >&2
	kpkg=$(chroot "$root" apt-cache depends linux-image-amd64 |
	       awk '$1 == "Depends:" && $2 ~ /^linux-image-[0-9]/ { print $2; exit }')
	[ -n "$kpkg" ] || die "cannot resolve linux-image-amd64 in $mirror $suite"
	chroot "$root" sh -c "cd /tmp && apt-get download -qq $kpkg" >&2
	# --keep-directory-symlink: /lib is a symlink to usr/lib (merged /usr).
	dpkg-deb --fsys-tarfile "$root"/tmp/"$kpkg"_*.deb |
		tar -x --keep-directory-symlink -C "$root"
	rm -f "$root"/tmp/*.deb
	kver=${kpkg#linux-image-}
	[ -f "$root/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in $kpkg"
	prune_modules "$root" "$kver"
	chroot "$root" depmod -a "$kver" >&2
	echo "$kver" >"$root/boot/kver"
	# Guest settings that do not change per run.
	echo nvmft-guest >"$root/etc/hostname"
	printf '127.0.0.1 localhost nvmft-guest\n' >"$root/etc/hosts"
	: >"$root/etc/resolv.conf"
	# Smaller tree: faster mkfs -d and a smaller cache.
	chroot "$root" apt-get clean
	rm -rf "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
	       "$root"/usr/share/man/* "$root"/usr/share/locale/* \
	       "$root"/usr/share/info/* "$root"/var/cache/debconf/*-old
}

# Keep only the modules a storage/network guest can need, with everything
# they depend on (the whole linux-image set is ~400 MB).
prune_modules() {
	local root=$1 kver=$2 dir=$1/lib/modules/$2
	chroot "$root" depmod -a "$kver" >&2
	awk -F': *' '$1 ~ "^kernel/(arch|crypto|lib|block|fs/ext4|fs/jbd2|fs/mbcache|drivers/nvme|drivers/block|drivers/virtio|drivers/char/hw_random|drivers/net/virtio_net|drivers/net/net_failover|net/core/failover)" {
		print $1; n = split($2, d, " "); for (i = 1; i <= n; i++) print d[i] }' \
		"$dir/modules.dep" | sort -u >"$dir/.keep"
	(cd "$dir" && find kernel -name '*.ko*' | sort | comm -23 - .keep | xargs -r rm -f)
	find "$dir/kernel" -type d -empty -delete
	rm -f "$dir/.keep"
}

# The initrd: static busybox, our init, the modules it loads (with deps,
# uncompressed, in load order in /modules.list).
make_initrd() {
	local root=$1 kver=$2 out=$3 tmp mod list="" seen=" " f
	tmp=$(mktemp -d)
	mkdir -p "$tmp"/bin "$tmp"/tmp "$tmp"/dev "$tmp"/proc "$tmp"/sys "$tmp"/newroot "$tmp"/lib/modules
	cp "$(command -v busybox)" "$tmp/bin/busybox"
	cp "$here/initrd-init" "$tmp/init"
	chmod 755 "$tmp/init" "$tmp/bin/busybox"
	local depfile=$root/lib/modules/$kver/modules.dep
	add_mod() {	# $1: path relative to /lib/modules/$kver
		local p=$1 deps d
		case $seen in *" $p "*) return;; esac
		deps=$(awk -F': *' -v m="$p" '$1 == m { print $2; exit }' "$depfile")
		# modules.dep lists the full closure; load it last-to-first.
		for d in $(printf '%s\n' $deps | tac); do add_mod "$d"; done
		seen="$seen$p "
		list="$list$p"$'\n'
	}
	for mod in $initrd_modules; do
		f=$(awk -F: -v n="$mod" '{ b = $1; sub(/.*\//, "", b); sub(/\.ko.*/, "", b);
			gsub(/-/, "_", b); if (b == n) { print $1; exit } }' "$depfile")
		if [ -z "$f" ]; then
			# built into this kernel: nothing to load
			grep -qE "/$mod\.ko$" "$root/lib/modules/$kver/modules.builtin" 2>/dev/null ||
				log "note: module $mod not found (assuming built in)"
			continue
		fi
		add_mod "$f"
	done
	: >"$tmp/modules.list"
	while IFS= read -r mod; do
		[ -n "$mod" ] || continue
		local base=${mod##*/} src=$root/lib/modules/$kver/$mod
		case $base in
		*.ko.xz) xz -dc "$src" >"$tmp/lib/modules/${base%.xz}"; base=${base%.xz};;
		*.ko.zst) zstd -qdc "$src" >"$tmp/lib/modules/${base%.zst}"; base=${base%.zst};;
		*.ko.gz) gzip -dc "$src" >"$tmp/lib/modules/${base%.gz}"; base=${base%.gz};;
		*) cp "$src" "$tmp/lib/modules/$base";;
		esac
		echo "$base" >>"$tmp/modules.list"
	done <<<"$list"
	(cd "$tmp" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -1 >"$out"
	rm -rf "$tmp"
}

# vmlinux, initrd.img, root.ext4 from the root tree $1 into directory $2.
make_image() {
	local rootfs=$1 out=$2 kver size_mb
	kver=$(cat "$rootfs/boot/kver")
	python3 "$here/extract-vmlinux.py" "$rootfs/boot/vmlinuz-$kver" "$out/vmlinux"
	make_initrd "$rootfs" "$kver" "$out/initrd.img"
	# The tree plus room for the scenarios' small files (the disk is
	# opened with snapshot=on: nothing is written back).
	size_mb=$(( $(du -sm "$rootfs" | cut -f1) * 5 / 4 + 128 ))
	mkfs.ext4 -q -F -L nvmft-root -E root_owner=0:0 -d "$rootfs" \
		"$out/root.ext4" "${size_mb}M" >&2
	echo "$kver" >"$out/kver"
	echo "$mirror $suite" >"$out/source"
}

hash_of() { sha256sum | cut -c1-16; }

need_tools
mirror=${INTEROP_MIRROR:-$(apt_mirror)}
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
# Under the lock, any *.tmp is what an interrupted build left.
rm -rf "$cache"/*.tmp

# Recipe of the debootstrap tree: what it installs, from where, and how.
rootfs_key=$( { echo "$suite $mirror $packages"; declare -f make_rootfs prune_modules; } | hash_of)
rootfs=$cache/rootfs-$rootfs_key
image_key=$( { echo "$rootfs_key $initrd_modules"; declare -f make_image make_initrd;
	       cat "$here/extract-vmlinux.py" "$here/initrd-init"; } | hash_of)
img=$cache/$image_key
if [ -f "$img/ok" ]; then
	touch "$img/ok" "$rootfs/.ok" 2>/dev/null	# in use: see the clean-up below
	echo "$img"
	exit 0
fi

if [ ! -f "$rootfs/.ok" ]; then
	log "debootstrap $suite from $mirror into $rootfs (about 2 minutes)"
	rm -rf "$rootfs" "$rootfs.tmp"
	start=$SECONDS
	make_rootfs "$rootfs.tmp"
	touch "$rootfs.tmp/.ok"
	mv "$rootfs.tmp" "$rootfs"
	log "root tree ready in $((SECONDS - start))s"
fi

log "building image $img"
rm -rf "$img" "$img.tmp"
mkdir -p "$img.tmp"
make_image "$rootfs" "$img.tmp"
touch "$img.tmp/ok"
mv "$img.tmp" "$img"
# Entries of other recipes unused for a day go (another checkout may still
# be using a recent one).
for old in "$cache"/*/; do
	old=${old%/}
	case $old in "$img"|"$rootfs") continue;; esac
	if [ -n "$(find "$old/ok" "$old/.ok" -maxdepth 0 -mmin +1440 2>/dev/null)" ]; then
		rm -rf "$old"
	fi
done
echo "$img"
