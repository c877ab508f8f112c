# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/redis_kill.py -- the redis_kill scenario.
import re
import signal
import time

from ..common import log
from ..load import Background
from ..rounds import quiet
from ..targets import wait_ready


def redis_kill(env, gk, redis):
	a = env.a
	lead, outage, tail = (0.5, 1.0, 1.0) if a.smoke else (5.0, 10.0, 10.0)
	quiet(env)
	bg = Background(gk, a.gkload, env.manifest["queries"], lead + outage + tail, a.rate, env.manifest["expect"])
	time.sleep(lead)
	redis.c.save()  # restart from this dump: the set Redis held when it was killed
	redis.stop(signal.SIGKILL)
	t_kill = time.monotonic()
	states = set()
	while time.monotonic() - t_kill < outage:
		time.sleep(0.1)
		if not gk.procs[0].alive():
			raise RuntimeError("gatekeeperd died while Redis was down")
	redis.start()
	back_s, hb = wait_ready(redis, gk.instance, 60, gk.procs[0],
				lambda h: h.get("redis") == "connected" and h.get("state") == "ready"
				and int(h.get("updated", 0)) > (time.time() - 0.5) * 1000)
	r = bg.result()
	logtxt = gk.procs[0].log_text()
	states = sorted(set(re.findall(r"status: (stale|fresh again)", logtxt)))
	res = {"lead_s": lead, "outage_s": outage, "sent": r["sent"], "received": r["received"], "lost": r["lost"],
	       "wrong": r.get("wrong", 0), "wrong_lines": r["wrong_lines"], "reconnected_s": back_s,
	       "hb": hb, "log_states": states, "p99_us": r.get("p99_us"), "cpu_pct": r["cpu_pct"],
	       "rcodes": {k[6:]: int(v) for k, v in r.items() if k.startswith("rcode_")}}
	log("redis kill: sent %d, lost %d, wrong %d, heartbeat ready+connected %.1f s after restart, log %s" %
	    (r["sent"], r["lost"], res["wrong"], back_s, states))
	return res
