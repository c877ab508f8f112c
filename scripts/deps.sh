#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/deps.sh -- install the Debian 12 packages Gatekeeper builds, runs and tests with.
# Installs only what is missing, so a second run is quick and needs no network.
set -euo pipefail
PKGS=(
	build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
	libldns-dev libuv1-dev libyaml-dev libcmocka-dev libssl-dev
	libhiredis-dev libpsl-dev libjansson-dev libidn2-dev libunistring-dev
	libxlsxwriter-dev libfstrm-dev libprotobuf-c-dev protobuf-c-compiler protobuf-compiler fstrm-bin dnstap-ldns
	redis-server redis-sentinel nsd unbound dnsperf dnsdist knot knot-dnsutils dnsutils ldnsutils bind9-utils
	python3 python3-dnspython python3-matplotlib python3-redis
	python3-prometheus-client python3-protobuf python3-openpyxl
	chromium fonts-wqy-microhei
	scdoc libsystemd-dev systemd
)
missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	# Debian starts daemons on install where it can; the tests start their own instances.
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
