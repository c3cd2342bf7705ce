#!/bin/sh
# SPDX-License-Identifier: MIT
# Builds fnwm_<version>_<arch>.deb into DIR (default: build-deb/) with
# CMake and CPack: binaries (the monitor under /usr/libexec/fnwm), units,
# man page, and the runtime dependencies declared.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/build-deb}
cmake -S "$top" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_INSTALL_PREFIX=/usr -DFNWM_SANITIZE=OFF -DFNWM_TESTS=OFF
cmake --build "$out" -j "$(nproc 2>/dev/null || echo 2)"
(cd "$out" && cpack -G DEB)
ls "$out"/fnwm_*.deb
