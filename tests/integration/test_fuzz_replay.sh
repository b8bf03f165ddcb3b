#!/bin/bash
# Replays the fuzz corpora and the reproducers of fixed bugs
# (tests/fuzz/corpus, tests/fuzz/regressions) through every fuzz target
# built without libFuzzer against BUILD's libnvmft.a: fuzzing finds, this
# keeps found bugs fixed, with no clang and no fuzzing time needed.
# Usage: tests/integration/test_fuzz_replay.sh BUILD_DIR
exec "$(dirname "$0")/../fuzz/run.sh" --replay "${1:-build}"
