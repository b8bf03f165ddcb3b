#!/bin/bash
# examples/embed.c end to end: it serves on an ephemeral port, nvmft-perf
# verifies I/O through it, it refuses a port in use, stops on SIGTERM (and
# after --seconds) with status 0; then the same program built the way an
# embedder builds it: `make install PREFIX=tmp`, and
# `cc embed.c $(pkg-config --cflags --libs [--static] nvmft)`, against the
# shared library and against the static one alone.
# Usage: tests/examples/test_embed.sh BUILD_DIR
set -u
build=${1:-build}
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 1
. tests/examples/example_lib.sh

nqn=nqn.2026-11.io.nvmft:embed
tmp=$(mktemp -d /tmp/nvmft-embed.XXXXXX)
trap 'kill_leftovers; rm -rf "$tmp"' EXIT

if [ ! -x "$build/examples/embed" ] || [ ! -x "$build/bin/nvmft-perf" ]; then
	echo "FAIL $build/examples/embed or $build/bin/nvmft-perf not built"
	echo "0 passed, 1 failed"
	exit 1
fi

# serve_and_verify NAME PROGRAM: the whole life of one embed binary.
serve_and_verify() {
	local name=$1 prog=$2 rc
	if ! start_example "$tmp/$name" "$prog" 0; then
		ko "$name: starts and prints the ephemeral port"; return
	fi
	ok "$name: starts and prints the ephemeral port ($port)"
	check "$name: nvmft-perf randrw --verify through it" \
		perf_verify "$tmp/$name.perf" -s "$port" -n "$nqn" -w randrw -q 16 -T 2
	stop_example "$pid"; rc=$?
	check "$name: SIGTERM stops it with status 0 (got $rc)" [ $rc -eq 0 ]
}

# --- the build tree's binary ------------------------------------------------
serve_and_verify embed "$build/examples/embed"

if start_example "$tmp/first" "$build/examples/embed" 0; then
	busy=$port
	timeout 20 "$build/examples/embed" "$busy" >"$tmp/busy.out" 2>"$tmp/busy.err"
	rc=$?
	check "a port in use: exit status 1 (got $rc)" [ $rc -eq 1 ]
	check "a port in use: the error says so" grep -q "cannot serve on port $busy" "$tmp/busy.err"
	stop_example "$pid"
else
	ko "a port in use: first instance starts"
fi

timeout 20 "$build/examples/embed" not-a-port >/dev/null 2>&1
rc=$?
check "a bad port: usage, exit status 2 (got $rc)" [ $rc -eq 2 ]

if start_example "$tmp/timed" "$build/examples/embed" --seconds 1 0; then
	wait_exit "$pid" 15; rc=$?
	check "--seconds 1: exits by itself with status 0 (got $rc)" [ $rc -eq 0 ]
else
	ko "--seconds 1: starts"
fi

# --- built against an installed copy, with pkg-config --------------------
prefix=$tmp/prefix
# shellcheck disable=SC2046
if make -C "$root" --no-print-directory $(san_make_vars "$build") PREFIX="$prefix" install \
	>"$tmp/install.log" 2>&1; then
	ok "make install PREFIX=$prefix"
else
	ko "make install PREFIX=$prefix"; tail -n 20 "$tmp/install.log" | sed 's/^/    /'
	summary; exit
fi

export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
pc_prefix=$(pkg-config --variable=prefix nvmft 2>/dev/null)
check "installed nvmft.pc names the install prefix (prefix=$pc_prefix)" \
	[ "$pc_prefix" = "$prefix" ]
if [ "$pc_prefix" != "$prefix" ]; then
	# Carry on with a corrected copy, to test the rest of the install.
	mkdir -p "$tmp/pc"
	sed -e "s|^prefix=.*|prefix=$prefix|" -e "s|^libdir=.*|libdir=$prefix/lib|" \
	    -e "s|^includedir=.*|includedir=$prefix/include|" \
	    "$prefix/lib/pkgconfig/nvmft.pc" >"$tmp/pc/nvmft.pc"
	export PKG_CONFIG_PATH=$tmp/pc
fi
check "installed man pages" test -f "$prefix/share/man/man8/nvmf-tgtd.8" -a \
	-f "$prefix/share/man/man1/nvmft-perf.1"

# shellcheck disable=SC2046
cc_embed() {	# cc_embed OUT [--static]
	local out=$1; shift
	cc -std=gnu11 -Wall -Wextra -Werror $(san_cflags "$build") -o "$out" examples/embed.c \
		$(pkg-config --cflags --libs "$@" nvmft) >"$out.log" 2>&1
}

if cc_embed "$tmp/embed-shared"; then
	ok "cc embed.c \$(pkg-config --cflags --libs nvmft)"
	check "embed-shared is linked to the installed libnvmft.so" \
		grep -q "$prefix/lib/libnvmft.so" <(LD_LIBRARY_PATH=$prefix/lib ldd "$tmp/embed-shared")
	LD_LIBRARY_PATH=$prefix/lib serve_and_verify embed-shared "$tmp/embed-shared"
else
	ko "cc embed.c \$(pkg-config --cflags --libs nvmft)"; sed 's/^/    /' "$tmp/embed-shared.log"
fi

# Without the shared library, -lnvmft is the archive: the private
# requirements of nvmft.pc must name everything it needs.
rm -f "$prefix"/lib/libnvmft.so*
if cc_embed "$tmp/embed-static" --static; then
	ok "cc embed.c \$(pkg-config --cflags --libs --static nvmft) with libnvmft.a only"
	check "embed-static does not need libnvmft.so" \
		bash -c "! ldd '$tmp/embed-static' | grep -q libnvmft"
	serve_and_verify embed-static "$tmp/embed-static"
else
	ko "cc embed.c \$(pkg-config --cflags --libs --static nvmft) with libnvmft.a only"
	sed 's/^/    /' "$tmp/embed-static.log"
fi

summary
