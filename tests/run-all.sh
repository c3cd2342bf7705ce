#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds fnwm twice (plain, and with AddressSanitizer + UBSan) and runs the
# whole test suite on both; the plain build also runs the valgrind checks.
# Exits non-zero on the first failure.
set -eu
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)

echo "== plain build"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFNWM_SANITIZE=OFF
cmake --build build -j "$jobs"
# Includes the short fault-injection run (label fault, 200 faults); the
# long one is FNWM_FAULTS=2000 (see tests/fault/test_fault_injection.py).
ctest --test-dir build -j "$jobs" --output-on-failure

echo "== sanitized build (ASan + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFNWM_SANITIZE=ON
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    ctest --test-dir build-asan -j "$jobs" --output-on-failure \
    -LE valgrind

echo "== all tests passed"
