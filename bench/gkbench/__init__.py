# SPDX-License-Identifier: MIT
# bench/gkbench/__init__.py -- the bench harness behind bench/run.py (see bench/README.md):
# common (paths, cores), procs (processes, /proc accounting), targets (the servers under test,
# redis-server, gk-sync), load (dnsperf, gkload), data (generated data), rounds (alternating
# rounds, interleaved pairs), stats, scenarios/ (one module per scenario), report (RESULTS.md),
# results (smoke checks, --keep), build, cli.
import os
import sys

# bench/gen.py and bench/feedgen.py are plain scripts beside the package
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
