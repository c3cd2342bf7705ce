#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages fnwm needs to build, run and test.
# A no-op when everything is already present; run as root (or with sudo).
set -eu

# build and run (musl-dev: the monitor is linked statically against musl)
PKGS="build-essential cmake pkg-config
libev-dev libjson-c-dev libwebsockets-dev libwebsockets-evlib-ev libcap-dev
libssl-dev libsystemd-dev musl-dev"
# tests: unit (cmocka), e2e and proto (pytest), valgrind, the Debian
# package (dpkg-dev's file), the browser UI test (Debian's chromium and
# nodejs 18 with npm; a node already on PATH is kept), the systemd test
# and the fresh-machine check (debootstrap, systemd-nspawn), the TLS test's
# self-signed certificates (openssl)
PKGS="$PKGS libcmocka-dev python3 python3-pytest python3-websockets
python3-venv python3-pip python3-wheel python3-setuptools valgrind procps
file chromium debootstrap systemd-container openssl"
# fuzzing (tests/fuzz): clang and its libFuzzer and sanitizer runtimes
PKGS="$PKGS clang libclang-rt-14-dev"
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs npm"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "fnwm: installing:$missing" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
# Waits for another apt (unattended-upgrades, a second install) to finish
# rather than failing on its lock.
APT="apt-get -q -o DPkg::Lock::Timeout=600"
$SUDO $APT update
# shellcheck disable=SC2086
$SUDO $APT install -y --no-install-recommends $missing
