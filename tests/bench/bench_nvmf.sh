#!/bin/bash
# make bench: target + host over loopback (see nvmf_bench.py).
exec python3 "$(dirname "$0")/nvmf_bench.py" "${1:-build}"
