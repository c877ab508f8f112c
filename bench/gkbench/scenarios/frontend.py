# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/frontend.py -- the frontend scenario: gatekeeperd in front of NSD vs dnsdist in front of NSD.
import json
import os
import signal
import subprocess
import time
import urllib.request

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from ..common import log
from ..load import Background, dnsperf_latency, gkload_run, GKLOAD_PEAK, GKLOAD_SOCKETS, profile
from ..procs import Proc, dns_query, free_port
from ..rounds import kinds_udp, measure_rounds, quiet
from ..targets import Redis, Target, dnsdist_target, first_filed, gk_sync, nsd_target, wait_ready

POOL = "nsd"
DD_CACHE = 100000  # dnsdist's packet cache (entries)
CACHE_ON = DD_CACHE  # gatekeeperd's pool cache_size: the same entries for the process


def fe_target(label, binary, manifest, work, redis, cache_size, n_backends=1, linger_us=0):
	"""gatekeeperd (1 worker, filing enforced against redis) forwarding every zone of the
	manifest to a pool of n_backends NSD instances of its own (same zone files), pinned with
	it on the server core; its metrics endpoint on t.metrics_port."""
	d = os.path.join(work, label)
	os.makedirs(d, exist_ok=True)
	backends = [nsd_target("%s-backend%d" % (label, i + 1), manifest, work) for i in range(n_backends)]
	port, mport = free_port(), free_port()
	inst = "bench-%s-%d" % (label, os.getpid())
	lines = ["listen: [\"127.0.0.1:%d\"]" % port, "workers: 1", "edns_udp_max: 1232", "log_level: info",
		 "udp_linger_us: %d" % linger_us, "rate_limit:", "  responses_per_second: 0",
		 "redis:", "  address: \"127.0.0.1:%d\"" % redis.port, "  instance_id: %s" % inst,
		 "filing:", "  enforce: true", "  unfiled: {action: refuse}", "  revoked: {action: refuse}",
		 "metrics:", "  listen: \"127.0.0.1:%d\"" % mport,
		 "pools:", "  - name: %s" % POOL,
		 "    backends: [%s]" % ", ".join("\"127.0.0.1:%d\"" % b.port for b in backends),
		 "    timeout_ms: 400", "    retries: 1", "    cache_size: %d" % cache_size,
		 "    check: {name: %s, interval_ms: 100, down_after: 3, up_after: 2}" % first_filed(manifest),
		 "zones:"]
	lines += ["  - {name: %s, forward: %s}" % (json.dumps(z["name"]), POOL) for z in manifest["zones"]]
	conf = os.path.join(d, "gatekeeperd.yaml")
	with open(conf, "w") as f:
		f.write("\n".join(lines) + "\n")
	gk = Proc(label, [binary, "-c", conf], d)
	t = Target(label, port, first_filed(manifest), [p for b in backends for p in b.procs] + [gk])
	t.instance, t.redis, t.metrics_port, t.backends, t.gk = inst, redis, mport, backends, gk
	return t


def metrics(t):
	"""The sample lines of t's /metrics as {name{labels}: value}."""
	with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % t.metrics_port, timeout=5) as r:
		text = r.read().decode()
	out = {}
	for line in text.splitlines():
		if line and not line.startswith("#"):
			k, _, v = line.rpartition(" ")
			try:
				out[k] = float(v)
			except ValueError:
				pass
	return out


def metric_sum(m, prefix):
	return sum(v for k, v in m.items() if k == prefix or k.startswith(prefix + "{"))


def failover(env, label):
	"""gatekeeperd (cache off) with two NSD backends; gkload at the fixed rate with expected
	rcodes; after a third of the run the first backend's processes are SIGKILLed by PID. The
	queries outstanding to it at the kill are read from the metrics just before."""
	a = env.a
	t = fe_target(label, a.gatekeeperd, env.manifest, a.work, env.fe_redis, 0, n_backends=2,
		      linger_us=a.fe_linger_us)
	try:
		t.start(a.start_timeout)
		wait_ready(env.fe_redis, t.instance, 120, t.gk)
		quiet(env)
		total = 2.0 if a.smoke else 3 * a.duration
		bg = Background(t, a.gkload, env.manifest["queries"], total, a.rate, env.manifest["expect"])
		time.sleep(total / 3)
		victim = t.backends[0]
		m = metrics(t)
		key = "gatekeeper_frontend_backend_outstanding{pool=\"%s\",backend=\"127.0.0.1:%d\"}" % (POOL, victim.port)
		inflight = int(m.get(key, -1))
		pids = list(victim.procs[0].pids)
		for pid in pids:
			try:
				os.kill(pid, signal.SIGKILL)
			except ProcessLookupError:
				pass
		t_kill = time.monotonic()
		t.procs = [p for p in t.procs if p is not victim.procs[0]]
		t.pids = [x for x in t.pids if x not in pids]
		victim.procs[0].stop()  # reaps it
		r = bg.result()
		m2 = metrics(t)
		res = {"sent": r["sent"], "received": r["received"], "lost": r["lost"], "wrong": r.get("wrong", 0),
		       "inflight_at_kill": inflight, "wrong_lines": r["wrong_lines"][:5], "killed_pids": pids, "p99_us": r.get("p99_us"),
		       "timeouts": metric_sum(m2, "gatekeeper_frontend_backend_timeouts_total"),
		       "servfails": metric_sum(m2, "gatekeeper_frontend_backend_servfails_total"),
		       "our_servfails": {k.partition("reason=")[2].strip('"}'): v for k, v in m2.items()
					 if k.startswith("gatekeeper_frontend_servfail_total{")},
		       "unreachable": metric_sum(m2, "gatekeeper_frontend_backend_unreachable_total"),
		       "up_after": {k: v for k, v in m2.items() if k.startswith("gatekeeper_frontend_backend_up")},
		       "kill_after_s": t_kill - bg.t0, "total_s": total}
		log("frontend failover: sent %d received %d lost %d wrong %s, %d outstanding to the killed backend "
		    "(pids %s)" % (r["sent"], r["received"], r["lost"], res["wrong"], inflight, pids))
		return res
	finally:
		t.stop()


def revocation(env, t):
	"""A filed hosted zone answered (and cached) by t, then revoked with gk-sync apply (a signed
	one-record delta, serial 11 on 10): queries from gk-sync's exit until the first REFUSED."""
	a = env.a
	m = env.manifest
	name = next(z["name"] for z in reversed(m["zones"]) if z["status"] == "filed")
	h0 = metric_sum(metrics(t), "gatekeeper_frontend_cache_hits_total")
	first = dns_query(t.port, name, 6)
	second = dns_query(t.port, name, 6)
	h1 = metric_sum(metrics(t), "gatekeeper_frontend_cache_hits_total")
	if not (first and first[0] == 0 and second and second[0] == 0):
		raise RuntimeError("frontend: %s SOA not answered NOERROR before the revocation (%r, %r)" % (name, first, second))
	path = os.path.join(env.feeds, "frontend-revoke-%s.jsonl" % env.tag(a.status_1m))
	gen.write_delta([name], path, 11, 10)
	gk_sync(a.gk_sync, ["sign", "--key", env.keys()[0], path])
	secs, out = env.apply(env.fe_redis, path)
	t_exit = time.monotonic()
	n_ok, rc = 0, None
	while time.monotonic() - t_exit < 30:
		r = dns_query(t.port, name, 6, timeout=0.2)
		if r and r[0] == 5:
			rc = 5
			break
		n_ok += 1
	dt = time.monotonic() - t_exit
	res = {"name": name, "cached_hit": h1 - h0, "sync_s": secs, "sync_out": out, "refused": rc == 5,
	       "after_exit_ms": dt * 1000, "answered_before": n_ok}
	log("frontend revocation: %s (cache hits +%d) refused %.2f ms after gk-sync's exit, %d queries answered "
	    "before" % (name, h1 - h0, dt * 1000, n_ok))
	return res


def frontend_scenario(env):
	"""gatekeeperd forwarding every bench zone to NSD (cache off, cache on) vs dnsdist in front of
	NSD with the same filed-only rule over the 1M status set (packet cache off, on); each pair
	with its own NSD backend on the same core. Peaks, 20k qps (CPU, lost, wrong), dnsperf -v
	p99 at 20k qps; then a revocation of a cached name and a backend failover under load."""
	a = env.a
	redis = Redis(a.work, "redis-frontend").start()
	env.fe_redis = redis
	sync_s, _ = env.apply(redis, env.snapshot(a.status_1m))
	m = env.manifest
	gk_off = fe_target("gatekeeperd-fe-nocache", a.gatekeeperd, m, a.work, redis, 0, linger_us=a.fe_linger_us)
	gk_on = fe_target("gatekeeperd-fe-cache", a.gatekeeperd, m, a.work, redis, CACHE_ON, linger_us=a.fe_linger_us)
	dd_off = dnsdist_target("dnsdist+NSD-nocache", m, a.work, env.dnsdist_data(a.status_1m), a.dnsdist_mode)
	dd_on = dnsdist_target("dnsdist+NSD-cache", m, a.work, env.dnsdist_data(a.status_1m), a.dnsdist_mode,
			       cache=DD_CACHE)
	ts = [gk_off, gk_on, dd_off, dd_on]
	res, out = {}, {}
	try:
		for t in ts:
			t.start(a.start_timeout)
		for t in (gk_off, gk_on):
			wait_ready(redis, t.instance, 120, t.gk)
		q, exp = m["queries"], m["expect"]
		kinds = kinds_udp(env, lambda t: exp) + [("lat", lambda t: dnsperf_latency(t, q, a.duration, a.rate))]
		measure_rounds(env, ts, kinds, res, lambda t: exp)
		for t in (gk_off, gk_on):
			s = metrics(t)
			out.setdefault("counters", {})[t.label] = {
				k: metric_sum(s, k) for k in ("gatekeeper_frontend_cache_hits_total",
							      "gatekeeper_frontend_backend_queries_total",
							      "gatekeeper_frontend_cache_evictions_total",
							      "gatekeeper_frontend_cache_expired_total",
							      "gatekeeper_frontend_cache_uncacheable_total",
							      "gatekeeper_frontend_backend_timeouts_total",
							      "gatekeeper_frontend_retries_total",
							      "gatekeeper_frontend_servfail_total")}
		if a.perf:
			for t in (gk_off, gk_on):
				out.setdefault("perf", {})[t.label] = profile(t, lambda: gkload_run(t, a.gkload, q, a.duration,
												  GKLOAD_PEAK), "peak")
				log("profile %s: %s" % (t.label, out["perf"][t.label]))
			for t in (gk_off, dd_off, gk_on, dd_on):  # where the CPU goes at the fixed rate
				out.setdefault("perf_fixed", {})[t.label] = profile(
					t, lambda: gkload_run(t, a.gkload, q, a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS]),
					"fixed")
				log("profile %s at %d qps: %s" % (t.label, a.rate, out["perf_fixed"][t.label]))
		for t in (gk_off, dd_off, dd_on):
			t.stop()
		# before the revocation, so that gkload's expected rcodes still hold
		out["failover"] = failover(env, "gatekeeperd-fe-failover")
		out["revocation"] = revocation(env, gk_on)
		gk_on.stop()
	finally:
		for t in ts:
			t.stop()
		redis.stop()
	out.update({"res": res, "labels": [t.label for t in ts], "apply_s": sync_s,
		    "start": {t.label: (t.load_s, t.rss) for t in ts if hasattr(t, "load_s")}})
	return out


def markdown(r, a, cmd, when=""):
	from ..report import dnsperf_peak_row, multi_table
	gk_off, gk_on, dd_off, dd_on = r["labels"]
	res = r["res"]

	def rows(ref):
		return [dnsperf_peak_row(res, gk_off if ref == dd_off else gk_on, {ref: (3.0, True)}),
			("peak qps, gkload closed loop", "gkload", "qps", 0, {ref: (3.0, True)}),
			("peak: system CPU µs/query (front + NSD)", "gkload", "us_per_q", 2, {}),
			("peak: the front end's own CPU µs/query", "gkload", "front_us_per_q", 2, {}),
			("%d qps: system CPU µs/query (front + NSD)" % a.rate, "fixed", "us_per_q", 2, {ref: (0.5, False)}),
			("%d qps: the front end's own CPU µs/query" % a.rate, "fixed", "front_us_per_q", 2,
			 {ref: (0.5, False)}),
			("%d qps: CPU, %% of a core" % a.rate, "fixed", "cpu_pct", 1, {}),
			("%d qps: lost" % a.rate, "fixed", "lost", 0, {}),
			("%d qps: wrong rcode (-x expected)" % a.rate, "fixed", "wrong", 0, {}),
			("%d qps dnsperf -v: p50 µs" % a.rate, "lat", "p50_us", 1, {}),
			("%d qps dnsperf -v: p99 µs" % a.rate, "lat", "p99_us", 1, {ref: (1.0, False)}),
			("%d qps dnsperf -v: lost" % a.rate, "lat", "lost", 0, {})]
	S = ["\n## Front end: gatekeeperd in front of NSD vs dnsdist in front of NSD%s\n" % when]
	S.append("Every bench zone forwarded (`zones: [{name, forward: nsd}]`, one pool of one NSD backend, 1 worker) by "
		 "gatekeeperd with the filing check over the 1M status set (Redis), against dnsdist 1.7 in front of NSD "
		 "with the same filed-only rule (SuffixMatchNode of the filed domains of the same 1M set). Each front end "
		 "has its own NSD (same zone files, `server-count: 1`), both processes pinned to the server core, so the "
		 "system CPU per query is the front end's plus its backend's; the front end's own is its process's alone "
		 "(utime + stime of its threads; kernel work done in its context, such as loopback delivery to NSD, "
		 "included). Cache off: `cache_size: 0` vs dnsdist without a packet "
		 "cache; cache on: `cache_size: %d` vs `newPacketCache(%d)` on dnsdist's default pool. p99 from dnsperf "
		 "-v per-query latencies at %d qps. Status set applied in %.1f s. Command: `%s`.\n"
		 % (CACHE_ON, DD_CACHE, a.rate, r["apply_s"], cmd))
	S.append("### Cache off\n")
	S.append(multi_table(res, [gk_off, dd_off], rows(dd_off), [dd_off]))
	S.append("\n### Cache on\n")
	S.append(multi_table(res, [gk_on, dd_on], rows(dd_on), [dd_on]))
	c = r.get("counters", {})
	if c:
		S.append("\nCounters after the rounds: " + "; ".join(
			"%s: %s" % (lb, ", ".join("%s %d" % (k.replace("gatekeeper_frontend_", ""), v) for k, v in x.items()))
			for lb, x in c.items()))
	v = r.get("revocation")
	if v:
		S.append("\n**Revocation of a cached name**: `%s` answered twice (packet cache hits +%d), then revoked by "
			 "`gk-sync apply` of a signed one-record delta (%.2f s): the first query after gk-sync's exit was "
			 "%s — REFUSED %.2f ms after the exit, %d queries answered before it (target: the next query)."
			 % (v["name"], v["cached_hit"], v["sync_s"], "REFUSED" if v["answered_before"] == 0 else "still answered",
			    v["after_exit_ms"], v["answered_before"]))
	f = r.get("failover")
	if f:
		S.append("\n**Backend failover**: gatekeeperd (cache off, `timeout_ms: 400`, `retries: 1`, health checks "
			 "every 100 ms, down after 3) with two NSD backends, gkload at %d qps for %.0f s with expected rcodes; "
			 "the first backend's processes (pids %s) SIGKILLed %.1f s in, with %d queries outstanding to it: "
			 "sent %d, received %d, **lost %d** (target 0 beyond those in flight), wrong rcode %d, p99 %s µs; "
			 "backend timeouts %d, SERVFAILs %d."
			 % (a.rate, f["total_s"], " ".join(map(str, f["killed_pids"])), f["kill_after_s"], f["inflight_at_kill"],
			    f["sent"], f["received"], f["lost"], f["wrong"], "%.0f" % f["p99_us"] if f.get("p99_us") else "-",
			    f["timeouts"], f["servfails"]))
		if f.get("our_servfails") is not None:
			S.append("SERVFAILs of gatekeeperd by reason: %s; port unreachable seen %d times."
				 % (", ".join("%s %d" % (k, v) for k, v in sorted(f["our_servfails"].items())) or "-",
				    f.get("unreachable", 0)))
		if f.get("wrong_lines"):
			S.append("First wrong answers: " + "; ".join(f["wrong_lines"]))
	return "\n".join(S)
