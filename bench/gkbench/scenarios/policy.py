# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/policy.py -- the policy scenario.
import datetime
import os
import re
import subprocess
import threading
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from ..common import CLIENT_CORE, NICE, log
from ..load import Background, parse_kv, run_client
from ..procs import dns_query, free_port, rss_kib
from ..rounds import kinds_udp, measure_pairs, measure_rounds, quiet
from ..targets import Redis, gk_target, wait_ready


def gk_accepts(binary, manifest, work, policy, redis_port=None):
	"""Whether this gatekeeperd build accepts a `policy:` section (gatekeeperd --check)."""
	d = os.path.join(work, "policy-check")
	os.makedirs(d, exist_ok=True)
	conf = os.path.join(d, "gatekeeperd.yaml")
	gen.write_gk_conf({"zones": manifest["zones"][:1]}, conf, free_port(), redis_port=redis_port, instance="check",
			  policy=policy)
	p = subprocess.run([binary, "-c", conf, "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
			   timeout=300)
	return p.returncode == 0, p.stdout.strip()


def policy(env):
	"""The operator policy at 1M entries: compile time (bench/polc, the daemon's compiler) of
	the plain and the RPZ form; gatekeeperd with the 1M-entry policy file against the same
	build with an empty policy (start-up, RSS, the udp kinds of measurement)."""
	a = env.a
	t0 = time.monotonic()
	p = gen.write_policy(env.manifest, a.policy_n, env.data, a.seed)
	res = {"n": a.policy_n, "files": p, "gen_s": time.monotonic() - t0,
	       "bytes": {k: os.path.getsize(p[k]) for k in ("block", "allow", "rpz_zone")}}
	for kind in ("plain", "rpz"):
		quiet(env)
		out, _, rc = run_client([a.polc, p[kind], "1" if a.smoke else "3"], 1200)
		if rc:
			raise RuntimeError("polc %s failed (%d): %s" % (p[kind], rc, out))
		res["compile_" + kind] = parse_kv(out)
		log("policy compile %s: %s" % (kind, " ".join(out.split())))
	ok, why = gk_accepts(a.gatekeeperd, env.manifest, a.work, {"file": p["empty"]})
	if not ok:
		res["status"] = "gatekeeperd does not take a policy file yet (%s)" % why.splitlines()[-1][:200]
		res["push_status"] = "not measured: no gkctl policy push"
		return res
	redis = Redis(a.work, "redis-policy").start()
	try:
		env.apply(redis, env.snapshot(a.status_1m))
		on = gk_target("gatekeeperd-policy1M", a.gatekeeperd, env.manifest, a.work, redis=redis,
			       policy={"file": p["plain"]})
		off = gk_target("gatekeeperd-policy0", a.gatekeeperd, env.manifest, a.work, redis=redis,
				policy={"file": p["empty"]})
		for t in (off, on):
			quiet(env)
			t.start(a.start_timeout)
			wait_ready(redis, t.instance, 120, t.procs[0])
			time.sleep(0.2 if a.smoke else 2)
			t.rss = rss_kib(t.pids)
		res["start"] = {t.label: (t.load_s, t.rss) for t in (on, off)}
		r = {}
		measure_rounds(env, [on, off], kinds_udp(env, lambda t: env.manifest["expect"], peak=not a.smoke), r, None)
		if not a.smoke:  # as the other peaks: the udp scenario covers them
			measure_pairs(env, [on, off], r)
		res["res"] = r
		res["status"] = "measured"
		off.stop()
		on.stop()
		res["push_status"] = "not measured: no gkctl (--gkctl) in this build"
		if a.gkctl and os.path.exists(a.gkctl):
			ok, why = gk_accepts(a.gatekeeperd, env.manifest, a.work, {
				"file": p["empty"], "redis": True, "operator_keys": [env.operator_keys()[1]]}, redis.port)
			if not ok:
				res["push_status"] = "not measured: gatekeeperd does not follow a pushed policy (%s)" % (
					why.splitlines()[-1][:200] if why else "?")
			else:
				u = policy_push(env, redis, p)
				if "skipped" in u:
					res["push_status"] = "not measured: " + u["skipped"]
				else:
					res["push"], res["push_status"] = u, "measured"
	finally:
		redis.stop()
	return res


def policy_push(env, redis, p):
	"""`gkctl policy push` of the 1M-entry policy plus a probe list (200 filed zones blocked)
	while gatekeeperd (policy.redis: true, the empty policy file until then) serves the fixed
	rate: push time, when every probe is refused (after gkctl returned, and after the
	daemon logged the version compiled and applied), queries lost."""
	a = env.a
	priv, pub = env.operator_keys()
	gk = gk_target("gatekeeperd-push", a.gatekeeperd, env.manifest, a.work, redis=redis,
		       policy={"file": p["empty"], "redis": True, "operator_keys": [pub]})
	gk.start(a.start_timeout)
	try:
		wait_ready(redis, gk.instance, 120, gk.procs[0])
		t = time.monotonic()
		while "policy: following" not in gk.procs[0].log_text():
			if time.monotonic() - t > (2 if a.smoke else 5):
				return {"skipped": "gatekeeperd does not follow the fleet policy (no 'policy: following' in its log)"}
			time.sleep(0.05)
		lead, total = (0.3, 2.0) if a.smoke else (3.0, 30.0)
		quiet(env)
		bg = Background(gk, a.gkload, env.manifest["queries"], total, a.rate)
		time.sleep(lead)
		done = {}
		t0 = time.time()

		def prober():
			pending = list(p["probes"])
			while pending and time.time() - t0 < 120:
				pending = [n for n in pending if (dns_query(gk.port, n, 1, timeout=0.2) or (None,))[0] != 5]
			done["probes"] = time.time() if not pending else None
		th = threading.Thread(target=prober)
		th.start()
		pr = subprocess.run(NICE + ["taskset", "-c", CLIENT_CORE, a.gkctl, "--redis", "127.0.0.1:%d" % redis.port,
					    "policy", "push", p["push"], "--key", priv, "--message", "bench push"],
				    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
		t1 = time.time()
		th.join()
		r = bg.result()
		if pr.returncode:
			raise RuntimeError("gkctl policy push failed (%d): %s" % (pr.returncode, pr.stdout))
		hb = redis.heartbeat(gk.instance)
		m = re.findall(r"^(\d{4}-\d\d-\d\dT[\d:.]+)Z \w+: policy: version (\d+) applied", gk.procs[0].log_text(), re.M)
		t_applied = (datetime.datetime.strptime(m[-1][0], "%Y-%m-%dT%H:%M:%S.%f").replace(
			tzinfo=datetime.timezone.utc).timestamp() if m else None)
		tp = done.get("probes")
		res = {"push_s": t1 - t0, "gkctl_out": pr.stdout.strip().splitlines()[0] if pr.stdout.strip() else "",
		       "enforced_after_push_s": max(0.0, tp - t1) if tp else None, "enforced_from_start_s": tp - t0 if tp else None,
		       # the daemon may log the version before gkctl's process has exited: 0 then
		       "applied_after_push_s": max(0.0, t_applied - t1) if t_applied else None,
		       "enforced_after_applied_s": tp - t_applied if tp and t_applied else None,
		       "version": m[-1][1] if m else None, "hb_version": hb.get("policy_version"),
		       "hb_state": hb.get("policy_state"), "probes": len(p["probes"]), "sent": r["sent"],
		       "received": r["received"], "lost": r["lost"], "p99_us": r.get("p99_us"), "p999_us": r.get("p999_us"),
		       "max_us": r.get("max_us"), "cpu_pct": r["cpu_pct"], "other_pct": r["other_pct"]}
		log("policy push: gkctl %.2f s; applied (log) %s s after it returned; probes refused %s s after that; lost %d "
		    "of %d" % (res["push_s"], res["applied_after_push_s"], res["enforced_after_applied_s"], r["lost"], r["sent"]))
		return res
	finally:
		gk.stop()
