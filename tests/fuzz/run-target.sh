#!/bin/sh
# SPDX-License-Identifier: MIT
# Runs one libFuzzer target for a fixed time: new inputs go to a work
# corpus in the build dir, the seeds in the repository are only read.
# Exits non-zero on any crash, leak, timeout or sanitizer report, and
# prints the executions done ("fuzz_msg: 1234567 executions in 60 s").
# usage: run-target.sh FUZZER SEED_DIR WORK_DIR SECONDS
set -eu
fuzzer=$1 seeds=$2 work=$3 seconds=$4
name=$(basename "$fuzzer")
mkdir -p "$work/corpus" "$work/artifacts" "$work/tmp"
rc=0
TMPDIR=$work/tmp \
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 \
    -artifact_prefix="$work/artifacts/" "$work/corpus" "$seeds" \
    >"$work/log" 2>&1 || rc=$?
runs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1 executions in \2 s/p' \
    "$work/log" | tail -n 1)
if [ "$rc" -ne 0 ] || [ -z "$runs" ]; then
	tail -n 60 "$work/log"
	echo "$name: FAILED (exit $rc); the input is in $work/artifacts/" >&2
	exit 1
fi
echo "$name: $runs" | tee "$work/executions"
