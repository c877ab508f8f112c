#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/demo.sh -- install what is missing, build, and run gatekeeperd in the foreground
# on 127.0.0.1:5300 and [::1]:5300 with the sample zones in zones/ (gatekeeperd.conf.example).
# Stop it with Ctrl-C (SIGINT); reload zones and config with `kill -HUP <pid>`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build/release -j"$(nproc)" --target gatekeeperd
exec build/release/gatekeeperd -c gatekeeperd.conf.example
