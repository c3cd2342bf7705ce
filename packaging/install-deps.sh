#!/bin/sh
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages fnwm needs to build, run and test.
# A no-op when everything is already present; run as root (or with sudo).
set -eu

PKGS="build-essential cmake pkg-config
libev-dev libjson-c-dev libwebsockets-dev libwebsockets-evlib-ev libcap-dev
libssl-dev libsystemd-dev libcmocka-dev python3 python3-pytest python3-websockets python3-venv
python3-pip python3-wheel python3-setuptools valgrind procps chromium"

# The browser UI test (tests/ui) also needs node (>= 20.19) and npm; a node
# already on PATH (e.g. from NodeSource) is kept.
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
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
