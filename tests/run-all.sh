#!/bin/sh
# SPDX-License-Identifier: MIT
# Every test of fnwm, in stages:
#   plain      RelWithDebInfo build: unit, proto, e2e, ui, valgrind,
#              packaging (the .deb, and under a real systemd), the short
#              fault-injection run
#   sanitized  the same build with AddressSanitizer + UBSan (no valgrind,
#              no packaging)
#   fuzz       the libFuzzer targets (tests/fuzz), FNWM_FUZZ_SECONDS (60)
#              each, in a clang build of their own (build-fuzz)
#   fresh      the README's two set-up commands on a fresh Debian 12 root
#              (tests/fresh); not run when FNWM_FRESH_INNER=1, i.e. inside
#              such a root already
# Stops at the first failed stage. Ends with one line per stage (passed,
# FAILED, or not run) and exits non-zero when any stage failed.
set -u
cd "$(dirname "$0")/.."
jobs=$(nproc 2>/dev/null || echo 2)
STAGES="plain sanitized fuzz fresh"
failed=""

stage_plain() {
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DFNWM_SANITIZE=OFF &&
	    cmake --build build -j "$jobs" &&
	    ctest --test-dir build -j "$jobs" --output-on-failure -LE fresh
}

stage_sanitized() {
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DFNWM_SANITIZE=ON &&
	    cmake --build build-asan -j "$jobs" &&
	    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    ctest --test-dir build-asan -j "$jobs" --output-on-failure \
	    -LE 'valgrind|fresh'
}

stage_fuzz() {
	tests/fuzz/run.sh
}

stage_fresh() {
	ctest --test-dir build --output-on-failure -L fresh
}

summary() {
	echo "== summary"
	for s in $STAGES; do
		eval "r=\${result_$s:-not run}"
		echo "   $s: $r"
	done
	if [ -n "$failed" ]; then
		echo "== FAILED: stage $failed"
	else
		echo "== all stages passed"
	fi
}

for s in $STAGES; do
	if [ "$s" = fresh ] && [ "${FNWM_FRESH_INNER:-}" = 1 ]; then
		eval "result_$s='not run (FNWM_FRESH_INNER=1: inside a fresh root)'"
		continue
	fi
	echo "== $s"
	t0=$(date +%s)
	if "stage_$s"; then
		eval "result_$s=\"passed in \$(($(date +%s) - t0)) s\""
	else
		eval "result_$s=\"FAILED after \$(($(date +%s) - t0)) s\""
		failed=$s
		break
	fi
done
summary
[ -z "$failed" ]
