#!/bin/sh
# Install the Debian packages the build and the tests need, only if missing.
# Usage: scripts/deps.sh [--check]   (--check: report, install nothing)
set -eu

PKGS_PC="liburing:liburing-dev libnvme:libnvme-dev cmocka:libcmocka-dev \
libconfig:libconfig-dev libisal:libisal-dev json-c:libjson-c-dev libnbd:libnbd-dev"
TOOLS="pkg-config:pkg-config gcc:gcc make:make python3:python3 nbdkit:nbdkit"

missing=""
for t in $TOOLS; do
	cmd=${t%%:*}; pkg=${t#*:}
	command -v "$cmd" >/dev/null 2>&1 || missing="$missing $pkg"
done
if command -v pkg-config >/dev/null 2>&1; then
	for p in $PKGS_PC; do
		pc=${p%%:*}; pkg=${p#*:}
		pkg-config --exists "$pc" 2>/dev/null || missing="$missing $pkg"
	done
else
	for p in $PKGS_PC; do missing="$missing ${p#*:}"; done
fi

[ -z "$missing" ] && exit 0
if [ "${1:-}" = "--check" ]; then
	echo "missing packages:$missing" >&2
	exit 1
fi
echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
