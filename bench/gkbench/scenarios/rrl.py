# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/rrl.py -- the rrl scenario: rate limiting on with the bench client exempt vs off.
import time

from ..procs import rss_kib
from ..rounds import kinds_udp, measure_pairs, measure_rounds
from ..targets import gk_target

# on: the defaults of docs/CONFIG.md with the load generator's address exempt; off: 0;
# table: every response through the limiter's table (a limit the load never reaches), not exempt
VARIANTS = [("gatekeeperd-rrl-exempt", {"responses_per_second": 200, "slip": 2, "exempt": ["127.0.0.1"]}),
	    ("gatekeeperd-rrl-off", {"responses_per_second": 0}),
	    ("gatekeeperd-rrl-table", {"responses_per_second": 1000000})]


def rrl_scenario(env):
	"""The same build and zones (no Redis: the limiter's cost alone) three times: rate limiting
	on with 127.0.0.1 exempt, off, and on for every response with a limit never reached;
	the udp kinds of measurement in alternating rounds and the interleaved pairs."""
	a = env.a
	ts = [gk_target(lb, a.gatekeeperd, env.manifest, a.work, rate_limit=rl) for lb, rl in VARIANTS]
	res, start = {}, {}
	try:
		for t in ts:
			t.start(a.start_timeout)
			time.sleep(0.2 if a.smoke else 1)
			start[t.label] = (t.load_s, rss_kib(t.pids))
		measure_rounds(env, ts, kinds_udp(env, lambda t: None, peak=True), res, None)
		if not a.smoke:
			measure_pairs(env, ts, res)
	finally:
		for t in ts:
			t.stop()
	return {"res": res, "labels": [t.label for t in ts], "variants": dict(VARIANTS), "start": start}


def markdown(r, a, cmd, when=""):
	from ..report import dnsperf_peak_row, multi_table, pairs_title, rounds_title
	on, off, table = r["labels"]
	res = r["res"]
	S = ["\n## Rate limiting on (client exempt) vs off%s\n" % when]
	S.append("The same gatekeeperd build and the bench's zones (no Redis: the limiter's cost alone), three instances: "
		 "%s. Command: `%s`.\n" % ("; ".join("`%s`: `rate_limit: %s`" % (lb, v) for lb, v in r["variants"].items()), cmd))
	S.append(multi_table(res, [on, off, table], [
		(pairs_title(res, on), "pairs", "qps", 0, {off: (0.97, True)}),
		(pairs_title(res, on, "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
		dnsperf_peak_row(res, on, {off: (0.97, True)}),
		(rounds_title(res, on), "gkload", "qps", 0, {}),
		("%d qps: server CPU, %% of a core" % a.rate, "fixed", "cpu_pct", 1, {}),
		("%d qps: p99 latency µs" % a.rate, "fixed", "p99_us", 1, {}),
		("%d qps: lost" % a.rate, "fixed", "lost", 0, {})], [off, table]))
	S.append("\nTarget (issue 20): exempt client ≥ 0.97× off at peak, judged on the interleaved pairs (and on the "
		 "dnsperf peak where dnsperf was not the bottleneck). The `table` column (every response counted, never "
		 "limited) is reported without a target.")
	return "\n".join(S)
