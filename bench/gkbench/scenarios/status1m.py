# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/status1m.py -- the status1m scenario.

from ..common import log
from ..load import DNSPERF_TCP, GKLOAD_PEAK, GKLOAD_SOCKETS, dnsperf, gkload_run, profile
from ..rounds import kinds_udp, measure_pairs, measure_rounds
from ..scenarios.propagate import propagate
from ..scenarios.redis_kill import redis_kill
from ..scenarios.storm import storm
from ..targets import Redis, ceiling_target, dnsdist_target, gk_target, nsd_target, wait_ready


def scenario_1m(env, want, out):
	"""udp, tcp, redis, storm, propagate: share one Redis with the 1M set and the servers."""
	a = env.a
	redis = Redis(a.work, "redis-1m").start()
	feed = env.snapshot(a.status_1m)
	sync_s, _ = env.apply(redis, feed)
	out["feed_1m"] = {"n": a.status_1m, "apply_s": sync_s, "redis_bytes": redis.used_memory()}
	gk = gk_target("gatekeeperd", a.gatekeeperd, env.manifest, a.work, redis=redis, tcp_conns=1024).start(a.start_timeout)
	wait_ready(redis, gk.instance, 120, gk.procs[0])
	expect = env.manifest["expect"]
	nsd = None
	if want & {"udp", "tcp"}:
		nsd = nsd_target("NSD", env.manifest, a.work).start(a.start_timeout)
	if "udp" in want:
		dd = dnsdist_target("dnsdist+NSD", env.manifest, a.work, env.dnsdist_data(a.status_1m), a.dnsdist_mode).start(a.start_timeout)
		ceil = ceiling_target("ceiling", a.refuser, a.work).start(a.start_timeout)
		targets = [gk, nsd, dd, ceil]
		res = {}
		exp = lambda t: expect if t in (gk, dd) else None  # noqa: E731 (NSD answers unfiled names)
		measure_rounds(env, targets, kinds_udp(env, exp), res, exp)
		measure_pairs(env, targets, res)
		# the fixed-rate CPU and p99 verdicts sit near parity: more rounds of just that
		measure_rounds(env, targets, kinds_udp(env, exp, peak=False), res, exp, a.rounds,
			       max(a.rounds, a.fixed_rounds))
		if a.perf:
			for t in (gk, nsd, dd):
				log("profile %s: %s" % (t.label, profile(t, lambda: gkload_run(
					t, a.gkload, env.manifest["queries"], a.duration, GKLOAD_PEAK), "peak")))
				log("profile %s: %s" % (t.label, profile(t, lambda: gkload_run(
					t, a.gkload, env.manifest["queries"], a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS]),
					"fixed")))
		out["udp"] = {"res": res, "targets": [(t.label, t.load_s, t.rss) for t in targets]}
		dd.stop()
		ceil.stop()
	if "tcp" in want:
		res = {}
		measure_rounds(env, [gk, nsd], [("tcp", lambda t: dnsperf(t, env.manifest["queries"], a.duration, DNSPERF_TCP))],
			       res, None)
		out["tcp"] = {"res": res}
	if nsd:
		nsd.stop()
	if "redis" in want:
		out["redis"] = redis_kill(env, gk, redis)
	if "storm" in want:
		out["storm"] = storm(env, gk, redis)
	if "propagate" in want:
		out["propagate"] = propagate(env, gk, redis)
	gk.stop()
	redis.stop()
