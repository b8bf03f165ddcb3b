#!/bin/bash
# Every example config validates with the daemon's own checker.
set -u
build=${1:-build}
rc=0
for f in examples/*.conf; do
	if "$build/bin/nvmf-tgtd" -t -c "$f" >/dev/null; then
		echo "ok   $f"
	else
		echo "FAIL $f"; rc=1
	fi
done
exit $rc
