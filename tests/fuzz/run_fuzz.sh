#!/bin/sh
# SPDX-License-Identifier: MIT
# tests/fuzz/run_fuzz.sh -- run one libFuzzer target for a bounded time on its seed corpus.
#
# Usage: run_fuzz.sh FUZZER SEED_DIR WORK_DIR SECONDS
# The seed directory is read only: libFuzzer writes new inputs into WORK_DIR/corpus (the
# first corpus directory it is given) and crash reproducers into WORK_DIR/artifacts/.
# Exit status is the fuzzer's: non-zero when it found a crash or a failed invariant.
set -eu
fuzzer=$1 seed=$2 work=$3 secs=$4
rm -rf "$work/corpus"
# Leaks inside dependencies (lsan.supp) match only with full malloc stacks.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$(dirname "$0")/lsan.supp"
export ASAN_OPTIONS LSAN_OPTIONS
mkdir -p "$work/corpus" "$work/artifacts"
exec "$fuzzer" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -max_len=4096 \
	-print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" "$seed"
