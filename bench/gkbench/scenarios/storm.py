# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/storm.py -- the storm scenario.
import threading
import time

from ..common import log
from ..load import Background
from ..procs import dns_query
from ..rounds import quiet


def storm(env, gk, redis):
	a = env.a
	path, probe, n_changes = env.storm(a.status_1m, a.storm_changes)
	lead, total = (0.5, 2.5) if a.smoke else (3.0, 15.0)
	quiet(env)
	bg = Background(gk, a.gkload, env.manifest["queries"], total, a.rate)
	time.sleep(lead)
	done = {}

	def prober():
		pending = list(probe)
		while pending and time.monotonic() - t0 < 120:
			pending = [n for n in pending if (dns_query(gk.port, n, 1, timeout=0.2) or (None,))[0] != 5]
		done["probes"] = time.monotonic() if not pending else None

	def serial_watch():
		while time.monotonic() - t0 < 120:
			hb = redis.heartbeat(gk.instance)
			if hb.get("serial") == "11":
				done["serial"] = time.monotonic()
				return
			time.sleep(0.01)
	t0 = time.monotonic()
	th = [threading.Thread(target=prober), threading.Thread(target=serial_watch)]
	for t in th:
		t.start()
	sync_s, sync_out = env.apply(redis, path)
	t_sync = t0 + sync_s
	for t in th:
		t.join()
	r = bg.result()
	res = {"changes": n_changes, "probes": len(probe), "sync_s": sync_s, "sync_out": sync_out,
	       "sent": r["sent"], "received": r["received"], "lost": r["lost"], "p99_us": r.get("p99_us"),
	       "p999_us": r.get("p999_us"), "cpu_pct": r["cpu_pct"]}
	for k in ("probes", "serial"):
		v = done.get(k)
		res["%s_from_start_s" % k] = v - t0 if v else None
		res["%s_after_sync_s" % k] = max(0.0, v - t_sync) if v else None
	log("storm: %d changes, gk-sync %.2f s; probes refused %.2f s after gk-sync returned (%.2f s from its start); "
	    "serial 11 at %s s after gk-sync returned; lost %d" % (n_changes, sync_s, res["probes_after_sync_s"] if res["probes_after_sync_s"] is not None else -1,
					      res["probes_from_start_s"] if res["probes_from_start_s"] is not None else -1, res["serial_after_sync_s"], r["lost"]))
	return res
