# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/propagate.py -- the propagate scenario.
import os
import random
import statistics
import subprocess
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from ..common import CLIENT_CORE, NICE, log
from ..load import Background
from ..procs import dns_query
from ..rounds import quiet
from ..stats import pctl
from ..targets import gk_sync, gk_target, wait_ready


def status_bucket(domain):
	"""The status set's bucket of a domain (include/gk/filing_status.h): FNV-1a 32 of the
	domain's bytes, low 16 bits."""
	x = 2166136261
	for b in domain.encode():
		x ^= b
		x = (x * 16777619) & 0xFFFFFFFF
	return x & 0xFFFF


PROPAGATE_TIMEOUT = 5.0  # s after gk-sync returned: an instance not showing a change by then never did


def propagate(env, gk, redis):
	"""--propagate-changes status changes, each its own signed one-record delta applied with
	gk-sync, enforced by two gatekeeperd instances on the same Redis: the scenario's first one
	(under the background load) and a second one started here (same zones and config, its own
	port and instance id, pinned to the server core like the others); stopped at the end."""
	a = env.a
	serial = int(redis.c.get("gk:serial"))  # 11 after storm; 10 without it
	gk2 = gk_target("gatekeeperd-2", a.gatekeeperd, env.manifest, a.work, redis=redis, tcp_conns=1024)
	gk2.expect_ok = lambda r: r is not None  # the first filed zone may be revoked by now (storm)
	try:
		t_start = time.monotonic()
		gk2.start(a.start_timeout)
		wait_ready(redis, gk2.instance, 120, gk2.procs[0],
			   lambda hb: hb.get("state") == "ready" and hb.get("serial") == str(serial))
		ready_s = time.monotonic() - t_start
		log("%s: ready at serial %d %.1f s after start" % (gk2.label, serial, ready_s))
		res = propagate_run(env, [gk, gk2], redis, serial)
		res["second_ready_s"] = ready_s
		return res
	finally:
		gk2.stop()


def propagate_plan(env, targets, serial):
	"""The zones to change and the signed deltas (serial s+1 on s from the current serial),
	written before any timing. Revocations of distinct filed hosted zones of the set that are
	not storm probes when there are enough of them; else (small data: smoke) each change flips
	one of half as many hosted zones of the set as changes to the status it does not have,
	cycling over them (so each is flipped and flipped back: revoke and re-file). A zone's
	current status is what both instances answer for its SOA now (NOERROR or REFUSED)."""
	a = env.a
	n = a.status_1m
	status = {z["name"]: z["status"] for z in env.manifest["zones"]}
	in_set = [z["name"] for z in env.manifest["zones"] if z["status"] != "unfiled"][:n]
	probes = set(gen.storm_changes(env.manifest, n, a.storm_changes, a.seed)[1])
	filed = [d for d in in_set if status[d] == "filed" and d not in probes]
	rng = random.Random(a.seed + 17)
	k = a.propagate_changes
	if len(filed) >= k:
		mode, pool = "revoke", rng.sample(filed, k)
	else:
		mode, pool = "alternate", in_set[:max(1, (k + 1) // 2)]  # each zone flipped and flipped back

	def rcode(t, d):
		for _ in range(5):
			r = dns_query(t.port, d, 6, timeout=0.2)
			if r is not None:
				return r[0]
		return None
	state = {}
	for d in pool:
		rs = [rcode(t, d) for t in targets]
		if rs[0] in (0, 5) and len(set(rs)) == 1:
			state[d] = rs[0]
		elif mode == "revoke":
			raise RuntimeError("propagate: filed zone %s answers %s before the change" % (d, rs))
	pool = [d for d in pool if d in state]
	if not pool:
		raise RuntimeError("propagate: no hosted zone of the set answers NOERROR or REFUSED")
	if mode == "revoke" and any(state[d] != 0 for d in pool):
		raise RuntimeError("propagate: a filed zone is refused before its revocation")
	wd = os.path.join(a.work, "propagate")
	os.makedirs(wd, exist_ok=True)
	for f in os.listdir(wd):
		os.unlink(os.path.join(wd, f))
	plan = []
	t0 = time.monotonic()
	for i in range(k):
		d = pool[i % len(pool)]
		to = "filed" if state[d] == 5 else "revoked"
		state[d] = 0 if to == "filed" else 5
		path = os.path.join(wd, "change-%04d.jsonl" % i)
		gen.write_delta([d], path, serial + i + 1, serial + i, to)
		gk_sync(a.gk_sync, ["sign", "--key", env.keys()[0], path])
		plan.append((d, to, path))
	log("propagate: %d deltas (%s, %d zones) written and signed in %.1f s" % (k, mode, len(pool), time.monotonic() - t0))
	return mode, len(filed), len(pool), plan


def propagate_run(env, targets, redis, serial):
	a = env.a
	mode, n_filed, n_pool, plan = propagate_plan(env, targets, serial)
	apply_args = ["apply", "--redis", "127.0.0.1:%d" % redis.port, "--pubkey", env.keys()[1], "--no-records"]
	lead, chunk = (0.2, 1.0) if a.smoke else (2.0, 5.0)
	rng = random.Random(a.seed + 18)
	quiet(env)
	# the background load (no -x: the changes move expected rcodes) on the first instance,
	# in chunks of gkload runs so it lasts as long as the changes do
	loads = []
	bg = Background(targets[0], a.gkload, env.manifest["queries"], chunk, a.rate)
	time.sleep(lead)
	changes = []
	for i, (d, to, path) in enumerate(plan):
		if time.monotonic() > bg.t0 + bg.duration - 0.3:
			loads.append(bg.result())
			bg = Background(targets[0], a.gkload, env.manifest["queries"], chunk, a.rate)
			time.sleep(0.2)
		want = 0 if to == "filed" else 5
		time.sleep(rng.uniform(0.0, 0.02))  # changes at no fixed phase to anything periodic
		key = "gk:st:%04x" % status_bucket(d)
		before = redis.c.hget(key, d)
		# From gk-sync's start, one round after another: the domain's field in Redis (the
		# change is in Redis once its bucket's script ran: HSET and XADD together), then
		# one UDP query to each instance still showing the old answer.
		ts = time.monotonic()
		sp = subprocess.Popen(NICE + ["taskset", "-c", CLIENT_CORE, a.gk_sync] + apply_args + [path],
				      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
		t_redis, t_exit, seen, rounds = None, None, [None] * len(targets), 0
		pending = list(range(len(targets)))
		while (pending or t_redis is None) and time.monotonic() - ts < PROPAGATE_TIMEOUT + 60:
			rounds += 1
			if t_redis is None and redis.c.hget(key, d) != before:
				t_redis = time.monotonic()
			for j in list(pending):
				r = dns_query(targets[j].port, d, 6, timeout=0.05)
				if r is not None and r[0] == want:
					seen[j] = time.monotonic()
					pending.remove(j)
			if t_exit is None and sp.poll() is not None:
				t_exit = time.monotonic()
			if t_redis is not None and time.monotonic() - t_redis > PROPAGATE_TIMEOUT:
				break
		out = sp.communicate(timeout=60)[0]
		if t_exit is None:
			t_exit = time.monotonic()
		if sp.returncode:
			raise RuntimeError("gk-sync apply %s failed (%d): %s" % (path, sp.returncode, out))
		round_s = (time.monotonic() - ts) / max(1, rounds)
		# an instance may answer before the round's Redis check saw the field: delay 0
		delay = [None if x is None or t_redis is None else max(0.0, x - t_redis) for x in seen]
		changes.append({"zone": d, "to": to, "serial": serial + i + 1, "sync_s": t_exit - ts,
				"redis_after_start_s": None if t_redis is None else t_redis - ts,
				"delay_s": delay, "round_s": round_s,
				"after_exit_s": [None if x is None else max(0.0, x - t_exit) for x in seen]})
	loads.append(bg.result())
	final = int(redis.c.get("gk:serial"))
	worst = [None if None in c["delay_s"] else max(c["delay_s"]) for c in changes]
	after_exit = [None if None in c["after_exit_s"] else max(c["after_exit_s"]) for c in changes]
	syncs = sorted(c["sync_s"] for c in changes)
	rounds = sorted(c["round_s"] for c in changes)
	res = {"changes": len(changes), "mode": mode, "filed_candidates": n_filed, "zones": n_pool,
	       "revocations": sum(c["to"] == "revoked" for c in changes),
	       "refilings": sum(c["to"] == "filed" for c in changes),
	       "base_serial": serial, "final_serial": final, "labels": [t.label for t in targets],
	       "timeout_s": PROPAGATE_TIMEOUT, "rate": a.rate, "load_on": targets[0].label,
	       "p50_s": pctl(worst, 50), "p99_s": pctl(worst, 99), "max_s": pctl(worst, 100),
	       "inst_p99_s": [pctl([c["delay_s"][j] for c in changes], 99) for j in range(len(targets))],
	       "after_exit_p99_s": pctl(after_exit, 99),
	       "never": sum(w is None for w in worst),
	       "zero": sum(1 for c in changes for x in c["delay_s"] if x == 0.0),
	       "round_median_s": statistics.median(rounds),
	       "sync_median_s": statistics.median(syncs), "sync_max_s": syncs[-1],
	       "load": {"chunks": len(loads), "sent": sum(r["sent"] for r in loads),
			"received": sum(r["received"] for r in loads), "lost": sum(r["lost"] for r in loads),
			"p99_us_max": max((r.get("p99_us") or 0) for r in loads)},
	       "per_change": changes}
	if final != serial + len(changes):
		raise RuntimeError("propagate: gk:serial %d after %d deltas on %d" % (final, len(changes), serial))

	def ms(x):
		return "%.1f ms" % (1e3 * x) if x is not None else "never"
	log("propagate: %d changes (%s), serial %d -> %d; delay after the change was in Redis, later instance: p50 %s p99 %s "
	    "max %s; per instance p99 %s; never %d; load lost %d of %d" % (
		    res["changes"], mode, serial, final, ms(res["p50_s"]), ms(res["p99_s"]), ms(res["max_s"]),
		    " / ".join(ms(x) for x in res["inst_p99_s"]), res["never"], res["load"]["lost"], res["load"]["sent"]))
	return res
