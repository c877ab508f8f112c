# SPDX-License-Identifier: MIT
# bench/gkbench/cli.py -- the command line (bench/run.py).
import argparse
import atexit
import datetime
import os
import shlex
import signal
import subprocess
import sys
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from .build import ensure_build, export_head, git_head
from . import schedtrace
from .common import CLIENT_CORE, HERE, ROOT, SCENARIOS, SCENARIO_HELP, log
from .data import Env
from .load import GKLOAD_TIMEOUT_MS
from .procs import on_signal, stop_all
from .report import chart, markdown, round_tables
from .results import keep_results, smoke_checks
from .scenarios.dnssec import dnssec_scenario
from .scenarios.dot import dot_scenario
from .scenarios.frontend import frontend_scenario
from .scenarios.policy import policy
from .scenarios.rrl import rrl_scenario
from .scenarios.secondary import secondary_scenario
from .scenarios.status10m import scenario_10m
from .scenarios.status1m import scenario_1m
from .scenarios.sync import sync_scenario
from .scenarios.zones import zones_scenario


def main():
	ap = argparse.ArgumentParser(description="gatekeeperd against its peers at registry scale (see bench/README.md)")
	ap.add_argument("--smoke", action="store_true", help="tiny data, 1 s runs, every scenario, checks only (ctest)")
	ap.add_argument("--scenarios", default=",".join(SCENARIOS),
			help="comma-separated, from: " + "; ".join("%s = %s" % kv for kv in SCENARIO_HELP.items()))
	ap.add_argument("--rounds", type=int, default=3)
	ap.add_argument("--fixed-rounds", type=int, default=5,
			help="rounds of the udp scenario's fixed-rate measurement (at least --rounds)")
	ap.add_argument("--duration", type=float, default=10, help="seconds per measurement")
	ap.add_argument("--pairs", type=int, default=20,
			help="closed-loop peak as N interleaved pairs: one slice per target back to back for each pair "
			"(0: none); its verdicts use the median of the per-pair ratios")
	ap.add_argument("--pair-seconds", type=float, default=1.0, help="seconds per slice of an interleaved pair")
	ap.add_argument("--rate", type=int, default=20000, help="fixed rate in qps")
	ap.add_argument("--zones", type=int, default=10000)
	ap.add_argument("--queries", type=int, default=200000)
	ap.add_argument("--status-1m", type=int, default=1000000, help="status set size for udp/tcp/redis/storm/propagate")
	ap.add_argument("--status-10m", type=int, default=10000000, help="status set size for cold/onoff")
	ap.add_argument("--storm-changes", type=int, default=100000)
	ap.add_argument("--propagate-changes", type=int, default=200,
			help="propagate: status changes, each its own one-record delta (smoke: 10)")
	ap.add_argument("--policy-n", type=int, default=1000000)
	ap.add_argument("--dnsdist-mode", choices=["cdb", "smn"], default="smn",
			help="dnsdist's filed-only mechanism: CDB suffix lookup, or a SuffixMatchNode of the filed domains")
	ap.add_argument("--zones-n", type=int, default=1000000, help="zones: number of generated zones")
	ap.add_argument("--zones-rounds", type=int, default=3, help="zones: alternating rounds of the query path")
	ap.add_argument("--zones-servers", default="gatekeeperd,NSD,Knot",
			help="zones: the servers of the load and reload measurements, in this order")
	ap.add_argument("--zones-parts", default="load,query,control",
			help="zones: which parts to run (load: start, memory, reload per server; query: the query path; "
			"control: the control channel)")
	ap.add_argument("--control-seconds", type=float, default=60, help="zones: seconds of control-channel updates")
	ap.add_argument("--control-rate", type=float, default=100, help="zones: control-channel updates a second")
	ap.add_argument("--dnssec-zones", type=int, default=1000, help="dnssec: zones signed (cached under DATA)")
	ap.add_argument("--dnssec-queries", type=int, default=100000, help="dnssec: queries of the udp mix over them")
	ap.add_argument("--secondary-n", type=int, default=10000,
			help="secondary: zones of the Knot primary (say 100000 for the scale run)")
	ap.add_argument("--secondary-changes", type=int, default=100, help="secondary: one-record changes at the primary")
	ap.add_argument("--secondary-load-seconds", type=float, default=60,
			help="secondary: seconds of --rate queries without, then with zone changes (0: not run)")
	ap.add_argument("--secondary-change-rate", type=float, default=100,
			help="secondary: zone changes a second at the primary during the load")
	ap.add_argument("--fe-linger-us", dest="fe_linger_us", type=int, default=0,
			help="frontend: gatekeeperd's udp_linger_us (wake-up coalescing of the front end's loop)")
	ap.add_argument("--seed", type=int, default=20240101)
	ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
	ap.add_argument("--clean-head", action="store_true",
			help="build from a clean export of HEAD in WORK/src-HEAD (others' uncommitted edits excluded)")
	ap.add_argument("--gatekeeperd", help="binary (default: BUILD/gatekeeperd, built if missing)")
	ap.add_argument("--gk-sync", dest="gk_sync", help="binary (default: BUILD/gk-sync)")
	ap.add_argument("--gkload", help="binary (default: BUILD/bench/gkload)")
	ap.add_argument("--refuser", help="binary (default: BUILD/bench/refuser)")
	ap.add_argument("--polc", help="binary (default: BUILD/bench/polc)")
	ap.add_argument("--gkctl", help="binary (default: BUILD/gkctl, when this tree has it)")
	ap.add_argument("--perf", action="store_true",
			help="udp: after the rounds, one peak and one fixed-rate run per server under perf record; "
			"writes WORK/LABEL/perf-{peak,fixed}.txt (not in the figures)")
	ap.add_argument("--sched-trace", metavar="DIR",
			help="trace the scheduler (ftrace, root) over every dnsperf -v run and write each trace and a "
			"summary of what delayed the server's threads to DIR (diagnostics, not in the figures)")
	ap.add_argument("--work", default=os.path.join(HERE, "out"), help="logs, configs, server state")
	ap.add_argument("--data", help="generated data (default bench/data, smoke: WORK/data)")
	ap.add_argument("--results", help="markdown output (default bench/RESULTS.md; smoke: WORK/RESULTS.md)")
	ap.add_argument("--keep", action="store_true",
			help="RESULTS.md also shows the saved results (WORK/results.json) of scenarios not run now, "
			"each marked with its own date and code (to re-run one scenario after interference)")
	a = ap.parse_args()
	if a.smoke:
		a.rounds, a.fixed_rounds, a.duration, a.zones, a.queries = 1, 1, 0.5, 20, 2000
		a.pairs, a.pair_seconds = 2, a.duration
		a.status_1m, a.status_10m, a.storm_changes, a.policy_n = 2000, 5000, 500, 1000
		a.propagate_changes = 10
		a.zones_n, a.zones_rounds, a.control_seconds = 300, 1, 2
		a.dnssec_zones, a.dnssec_queries = 20, 2000
		a.secondary_n, a.secondary_changes, a.secondary_load_seconds = 20, 5, 2
		a.rate = min(a.rate, 5000)
		GKLOAD_TIMEOUT_MS[0] = "250"
	a.start_timeout = 20 if a.smoke else 300
	a.zones_servers = [x.strip() for x in a.zones_servers.split(",") if x.strip()]
	a.zones_parts = [x.strip() for x in a.zones_parts.split(",") if x.strip()]
	if set(a.zones_parts) - {"load", "query", "control"}:
		ap.error("--zones-parts: from load, query, control")
	if set(a.zones_servers) - {"gatekeeperd", "NSD", "Knot"}:
		ap.error("--zones-servers: from gatekeeperd, NSD, Knot")
	if a.zones_n < 1 or a.zones_rounds < 1 or a.zones_rounds > 10 or not 0 < a.control_seconds <= 600 or not 0 < a.control_rate <= 1000:
		ap.error("--zones-n ≥ 1, --zones-rounds 1..10, --control-seconds up to 600 and --control-rate up to 1000 keep the run bounded")
	want = set(x.strip() for x in a.scenarios.split(",") if x.strip())
	if want - set(SCENARIOS):
		ap.error("unknown scenario(s): %s" % ", ".join(sorted(want - set(SCENARIOS))))
	a.work = os.path.abspath(a.work)
	data = os.path.abspath(a.data or (os.path.join(a.work, "data") if a.smoke else os.path.join(HERE, "data")))
	results = a.results or (os.path.join(a.work, "RESULTS.md") if a.smoke else os.path.join(HERE, "RESULTS.md"))
	os.makedirs(a.work, exist_ok=True)
	os.makedirs(data, exist_ok=True)
	if a.rounds < 1 or a.rounds > 10 or a.fixed_rounds > 10 or a.duration <= 0 or a.duration > 60:
		ap.error("--rounds and --fixed-rounds 1..10 and --duration up to 60 s keep the run bounded")
	if a.propagate_changes < 1 or a.propagate_changes > 10000:
		ap.error("--propagate-changes 1..10000 keeps the run bounded")
	if a.pairs < 0 or a.pairs > 100 or a.pair_seconds <= 0 or a.pair_seconds > 10:
		ap.error("--pairs 0..100 and --pair-seconds up to 10 s keep the run bounded")
	tools = ["dnsperf", "nsd", "dnsdist", "redis-server", "taskset"]
	if "secondary" in want:
		tools += ["knotd", "knotc"]
	if "dnssec" in want:
		tools += ["ldns-keygen", "ldns-signzone"]
	if "dot" in want:
		tools += ["openssl"]
	if "zones" in want:
		tools += ["nsd-control"] + (["knotd", "knotc"] if "Knot" in a.zones_servers else [])
	for tool in tools:
		if subprocess.run(["sh", "-c", "command -v " + tool], stdout=subprocess.DEVNULL).returncode:
			sys.exit("run.py: %s not found (scripts/deps.sh installs it)" % tool)
	if os.cpu_count() < 2:
		sys.exit("run.py: needs 2 cores (servers on core 0, clients on core 1)")
	a.clean_hash = None
	if a.clean_head:
		src, a.clean_hash = export_head(a.work)
		a.build = os.path.join(src, "build-bench")
	if not all((a.gatekeeperd, a.gk_sync, a.gkload, a.refuser, a.polc)):
		b = ensure_build(a.build, src if a.clean_head else ROOT)
		for k in ("gatekeeperd", "gk_sync", "gkload", "refuser", "polc", "gkctl"):
			if getattr(a, k) or b.get(k):
				setattr(a, k, os.path.abspath(getattr(a, k) or b[k]))

	# this process (rounds, sampling, reading the clients' results) runs beside the clients,
	# never on the servers' core: every server and client is pinned by taskset, and what this
	# process starts without one stays off core SERVER_CORE too
	os.sched_setaffinity(0, {int(CLIENT_CORE)})
	if a.sched_trace:
		schedtrace.DIR = os.path.abspath(a.sched_trace)
	atexit.register(stop_all)
	signal.signal(signal.SIGTERM, on_signal)
	signal.signal(signal.SIGINT, on_signal)

	t_start = time.monotonic()
	env = Env(a, data)
	env.load_before = " ".join(open("/proc/loadavg").read().split()[:3])
	env.round_tables = round_tables
	env.quiet_budget = [0.0 if a.smoke else 180.0]  # seconds the whole run may wait for a quiet machine
	log("generating %d zones, %d queries in %s" % (a.zones, a.queries, data))
	env.manifest = gen.generate(data, a.zones, a.queries, a.seed)
	out = {}
	cmd = " ".join(["bench/run.py"] + [shlex.quote(x) for x in sys.argv[1:]])
	saved = os.path.join(a.work, "results.json")
	try:
		if want & {"udp", "tcp", "redis", "storm", "propagate"}:
			scenario_1m(env, want, out)
		if "policy" in want:
			out["policy"] = policy(env)
			log("policy: %s" % out["policy"]["status"])
		if "sync" in want:
			out["sync"] = sync_scenario(env)
		if want & {"cold", "onoff"}:
			scenario_10m(env, want, out)
		if "zones" in want:
			out["zones"] = zones_scenario(env)
		if "dnssec" in want:
			out["dnssec"] = dnssec_scenario(env)
		if "rrl" in want:
			out["rrl"] = rrl_scenario(env)
		if "secondary" in want:
			out["secondary"] = secondary_scenario(env)
		if "dot" in want:
			out["dot"] = dot_scenario(env)
		if "frontend" in want:
			out["frontend"] = frontend_scenario(env)
	finally:
		stop_all()
		env.meta = keep_results(saved, out, a.keep, {
			"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
			"code": git_head(a.clean_hash), "command": cmd, "load": env.load_before})

	md = markdown(env, out, cmd, time.monotonic() - t_start)
	png = chart(out, os.path.splitext(results)[0].replace("RESULTS", "results") + ".png")
	if png:
		md += "\nChart: `%s` (peak qps per target, latency percentiles at the fixed rate).\n" % os.path.basename(png)
	with open(results, "w") as f:
		f.write(md)
	print(md)
	log("wrote %s%s" % (results, " and " + png if png else ""))
	if a.smoke:
		bad = smoke_checks(out)
		if bad:
			log("SMOKE FAIL:\n  " + "\n  ".join(bad))
			return 1
		log("smoke ok")
	return 0
