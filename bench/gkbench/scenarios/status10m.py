# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/status10m.py -- the status10m scenario.
import re
import time

from ..common import log
from ..procs import rss_kib
from ..rounds import kinds_udp, measure_pairs, measure_rounds
from ..targets import Redis, gk_target, wait_ready


def loaded_ms(text):
	m = re.search(r"status: loaded (\d+) domains in (\d+) ms", text)
	return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def scenario_10m(env, want, out):
	a = env.a
	n = a.status_10m
	feed = env.snapshot(n)
	redis = Redis(a.work, "redis-10m").start()
	res = {"n": n}
	# Empty baseline: the same build and config against a Redis with an empty status set.
	redis.c.set("gk:serial", 1)
	base = gk_target("gatekeeperd-empty", a.gatekeeperd, env.manifest, a.work, redis=redis)
	base.expect_ok = lambda r: r is not None  # every zone is unfiled here: REFUSED is the answer
	base.start(timeout=a.start_timeout)
	wait_ready(redis, base.instance, a.start_timeout, base.procs[0])
	res["empty_ready_s"] = time.monotonic() - base.procs[0].t0
	time.sleep(0.2 if a.smoke else 2)
	res["empty_rss_kib"] = rss_kib(base.pids)
	base.stop()
	redis.c.flushall()
	res["apply_s"], _ = env.apply(redis, feed)
	res["redis_bytes"] = redis.used_memory()
	gk = gk_target("gatekeeperd-10M", a.gatekeeperd, env.manifest, a.work, redis=redis)
	gk.start(timeout=a.start_timeout)
	hb_s, hb = wait_ready(redis, gk.instance, a.start_timeout, gk.procs[0])
	time.sleep(0.2 if a.smoke else 2)  # retired load buffers are freed after the workers' grace period
	res["ready_s"] = gk.load_s
	res["rss_kib"] = rss_kib(gk.pids)
	res["table_size"] = int(hb.get("table_size", 0))
	res["loaded_n"], res["load_ms"] = loaded_ms(gk.procs[0].log_text())
	res["b_per_domain"] = (res["rss_kib"] - res["empty_rss_kib"]) * 1024.0 / n
	log("cold start %d domains: answering after %.1f s (log: load %s ms), RSS %d MiB vs empty %d MiB: %.1f B/domain" %
	    (n, res["ready_s"], res["load_ms"], res["rss_kib"] // 1024, res["empty_rss_kib"] // 1024, res["b_per_domain"]))
	out["cold"] = res
	if "onoff" in want:
		off = gk_target("gatekeeperd-nofiling", a.gatekeeperd, env.manifest, a.work).start(a.start_timeout)
		r = {}
		measure_rounds(env, [gk, off], kinds_udp(env, lambda t: env.manifest["expect"] if t is gk else None, peak=not a.smoke),
			       r, None)
		if not a.smoke:
			measure_pairs(env, [gk, off], r)
		out["onoff"] = {"res": r, "n": n}
		off.stop()
	gk.stop()
	redis.stop()
