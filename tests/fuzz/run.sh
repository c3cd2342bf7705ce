#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds the libFuzzer targets with clang in build-fuzz (a build of their
# own: the normal gcc build is untouched) and runs each for a fixed time,
# FNWM_FUZZ_SECONDS (default 60). Exits non-zero on any crash, leak,
# timeout or sanitizer report; prints the executions of every target.
set -eu
cd "$(dirname "$0")/../.."
seconds=${FNWM_FUZZ_SECONDS:-60}
CC=clang cmake -S . -B build-fuzz -DFNWM_FUZZ=ON -DFNWM_STATIC_MONITOR=OFF \
    -DFNWM_FUZZ_SECONDS="$seconds" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build-fuzz -j "$(nproc 2>/dev/null || echo 2)"
rc=0
ctest --test-dir build-fuzz -L fuzz --output-on-failure || rc=$?
cat build-fuzz/tests/fuzz/work/*/executions 2>/dev/null || true
exit "$rc"
