#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/run.py -- one command: gatekeeperd against its peers at registry scale, on loopback.
#
# Generates the data (bench/gen.py: zones, Zipf queries with expected rcodes, signed registry
# feeds, policy lists, the dnsdist CDB), starts redis-server, loads the feed with gk-sync,
# starts gatekeeperd and the peers (NSD; Knot; dnsdist in front of NSD enforcing the same
# filed-only rule with a CDB suffix lookup; refuser, the recvmmsg/sendmmsg ceiling probe) on
# free 127.0.0.1 ports with every server thread pinned to core 0, and runs the scenarios
# (see --help and bench/README.md) with clients on core 1, alternating rounds. Prints tables
# of medians and ratios, writes bench/RESULTS.md and bench/results.png. Everything it starts
# it stops, by PID, on every exit path. --smoke is the ctest variant (tiny data, short runs,
# checks only). The harness is the package bench/gkbench/; this is its command line.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from gkbench.cli import main  # noqa: E402

if __name__ == "__main__":
	sys.exit(main())
