#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# scripts/dot_bench.py -- DNS over TLS, gatekeeperd against NSD 4.6 (tls-port): the bench's dot scenario.
#
# The measurement lives in bench/gkbench/scenarios/dot.py (bench/README.md); this runs it:
#
#   /usr/bin/python3 scripts/dot_bench.py build/release/gatekeeperd [--seconds 10] [--rounds 3] [run.py options]
#
# is bench/run.py --scenarios dot --gatekeeperd BINARY --duration SECONDS --rounds ROUNDS, results in
# bench/out/RESULTS-dot.md unless --results is given.
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def main():
	ap = argparse.ArgumentParser(description="bench/run.py --scenarios dot (see bench/README.md)")
	ap.add_argument("gatekeeperd")
	ap.add_argument("--seconds", type=float, default=10)
	ap.add_argument("--rounds", type=int, default=3)
	a, rest = ap.parse_known_args()
	run = os.path.join(HERE, "..", "bench", "run.py")
	argv = [sys.executable, run, "--scenarios", "dot", "--gatekeeperd", os.path.abspath(a.gatekeeperd),
		"--duration", str(a.seconds), "--rounds", str(a.rounds)] + rest
	if "--results" not in rest:
		argv += ["--results", os.path.join(HERE, "..", "bench", "out", "RESULTS-dot.md")]
	os.execv(sys.executable, argv)


if __name__ == "__main__":
	main()
