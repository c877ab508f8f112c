#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scripts/test.sh -- install what is missing, build, and run every test:
#   1. the normal build (RelWithDebInfo): unit, packet, integration, differential (NSD),
#      and bench smoke tests;
#   2. the same suite under AddressSanitizer + UndefinedBehaviorSanitizer;
#   3. the libFuzzer targets, each for a short bounded time on its seed corpus.
# Every server a test needs is started by the test itself on a free loopback port.
# Warnings are errors here (GK_WERROR=ON); cmake's configure output is shown in full, with
# the tools the tests found.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
JOBS=$(nproc)
status=0

echo "== build and test (release)"
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGK_WERROR=ON
cmake --build build/release -j"$JOBS"
(cd build/release && ctest --output-on-failure -j1) || status=1

echo "== build and test (ASan + UBSan)"
cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DGK_SANITIZE=ON -DGK_BUILD_BENCH=OFF -DGK_WERROR=ON
cmake --build build/asan -j"$JOBS"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure -j1) || status=1

echo "== fuzz (libFuzzer, bounded)"
CC=clang cmake -S . -B build/fuzz -DGK_BUILD_FUZZ=ON -DGK_BUILD_TESTS=OFF -DGK_BUILD_BENCH=OFF -DGK_WERROR=ON
cmake --build build/fuzz -j"$JOBS"
(cd build/fuzz && ctest --output-on-failure -j1) || status=1
exit $status
