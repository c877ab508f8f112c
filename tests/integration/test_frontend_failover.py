#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/test_frontend_failover.py -- front-end failover under load: two real NSD
# backends in one pool, one SIGKILLed by PID in the middle of a bounded dnsperf burst.
#
# Usage: test_frontend_failover.py GATEKEEPERD GK_SYNC
# (FO_TOTAL, FO_RATE and FO_TMO in the environment override the burst's size, its rate and
# the pool's timeout_ms, for a heavier run by hand. FO_LINGER sets udp_linger_us: the
# front end's loop then coalesces wake-ups, and the checks below hold all the same, with
# gatekeeper_udp_lingers_total counting its sleeps; without it the count stays 0.)
#
# gatekeeperd (one worker) forwards example.cn to pool "pair" (two NSDs, health checks every
# 100 ms, a try's timeout of 3 s, one retry). dnsperf (its own timeout 2 s, so a query that
# waits for a try's timeout is lost) sends a fixed list of distinct names under
# *.wild.example.cn (every one NOERROR) at a bounded rate; once a third of them reached the
# backends (the per-backend query counters), the first NSD's process is killed with
# SIGKILL. Checks:
#   1. no query lost and none answered SERVFAIL beyond those the daemon had outstanding to the
#      killed NSD at the kill (gatekeeper_frontend_backend_outstanding read just before and
#      just after: the NSD took them and died, so only their timeout can tell): the queries sent to it after
#      the kill meet the kernel's port unreachable, which takes it down at once and sends them
#      to the other NSD (without it they waited for the timeout and were lost);
#   2. the killed NSD is marked down (gatekeeper_frontend_backend_up 0, a down transition in
#      gatekeeper_frontend_backend_transitions_total, one log line naming it and the reason);
#   3. NSD started again on its port: marked up again by the health checks (log line, metric)
#      and given queries.
import os
import re
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
from gkharness import expect, wait_for  # noqa: E402

import dns.rcode  # noqa: E402

TOTAL = int(os.environ.get("FO_TOTAL", 12000))  # queries in the burst
RATE = int(os.environ.get("FO_RATE", 3000))  # queries per second
LINGER = int(os.environ.get("FO_LINGER", 0))  # udp_linger_us


def main():
	gkbin, gksync = (os.path.abspath(a) for a in sys.argv[1:3])
	dnsperf = h.need("dnsperf", "dnsperf")
	if not os.access(h.NSD, os.X_OK):
		sys.exit("NSD not found at %s (scripts/deps.sh installs it)" % h.NSD)
	with h.TempDir("gk-fe-failover-") as tmp:
		dirs = [os.path.join(tmp, "nsd%d" % i) for i in (1, 2)]
		for d in dirs:
			os.mkdir(d)
		nsd = [h.start_nsd(d) for d in dirs]
		redis = h.start_redis(tmp)
		feed = h.Feed(gksync, tmp, redis.port)
		feed.snapshot(1, [("example.cn", "filed")])
		backends = ["127.0.0.1:%d" % n.port for n in nsd]
		mport = h.free_port()
		extra = ("udp_linger_us: %d\n" % LINGER) + ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: fefo-%d\n"
			 "filing:\n  startup: refuse\n  unfiled: {action: refuse}\n"
			 "metrics: {listen: \"127.0.0.1:%d\"}\n"
			 "pools:\n  - name: pair\n    backends: [%s]\n    timeout_ms: %s\n    retries: 1\n"
			 "    cache_size: 0\n"
			 "    check: {name: example.cn, interval_ms: 100, down_after: 3, up_after: 2}\n"
			 % (redis.port, os.getpid(), mport, ", ".join('"%s"' % b for b in backends), os.environ.get("FO_TMO", "3000")))
		port = h.free_port()
		conf = h.gk_config(tmp, port, zones=[], workers=1, extra=extra)
		text = open(conf).read().replace("zones: []\n",
						 "zones:\n  - {name: example.cn, forward: pair}\n")
		open(conf, "w").write(text)
		gk = h.Server("gatekeeperd", [gkbin, "-c", conf], tmp, port, os.path.join(tmp, "gk.log"))
		back = None
		try:
			wait_for("the replica loaded (a forwarded name answered)",
				 lambda: h.good_query_answered(port) and
				 dns_rcode(port, "a.wild.example.cn") == dns.rcode.NOERROR)
			back = run(gk, port, mport, nsd, backends, tmp, dnsperf)
		except Exception:
			h.log(gk.log_text()[-3000:])
			raise
		finally:
			gk.stop_clean("gatekeeperd")
			if back:
				back.stop()
			for n in nsd:
				n.stop()
			redis.stop()
	h.log("\n%d failures" % len(h.fails))
	return 1 if h.fails else 0


def dns_rcode(port, name):
	import dns.message
	import dns.query
	r = dns.query.udp(dns.message.make_query(name, "A"), "127.0.0.1", port=port, timeout=1)
	return r.rcode()


def bm(mport, name, backend):
	return h.metrics(mport).get('%s{pool="pair",backend="%s"}' % (name, backend))


def run(gk, port, mport, nsd, backends, tmp, dnsperf):
	qfile = os.path.join(tmp, "queries.txt")
	with open(qfile, "w") as f:
		for i in range(TOTAL):
			f.write("q%d.wild.example.cn A\n" % i)
	q0 = sum(bm(mport, "gatekeeper_frontend_backend_queries_total", b) or 0 for b in backends)
	perf = subprocess.Popen([dnsperf, "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-n", "1",
				 "-Q", str(RATE), "-t", "2", "-c", "4"],
				stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	try:
		wait_for("a third of the burst at the backends", lambda: sum(
			bm(mport, "gatekeeper_frontend_backend_queries_total", b) or 0
			for b in backends) - q0 >= TOTAL // 3, 60)
		inflight = int(bm(mport, "gatekeeper_frontend_backend_outstanding", backends[0]) or 0)
		os.kill(nsd[0].pid, signal.SIGKILL)
		# and just after: those it had taken when it died (the ones sent since meet the
		# port unreachable and leave the count at once)
		inflight = max(inflight, int(bm(mport, "gatekeeper_frontend_backend_outstanding",
						backends[0]) or 0))
		out, _ = perf.communicate(timeout=120)
	finally:
		if perf.poll() is None:
			perf.kill()
			perf.wait()
	nport = nsd[0].port
	nsd[0].stop()
	sent = int(re.search(r"Queries sent:\s+(\d+)", out).group(1))
	done = int(re.search(r"Queries completed:\s+(\d+)", out).group(1))
	codes = dict((k, int(v)) for k, v in re.findall(r"([A-Z]+) (\d+) \(", out.split("Response codes:")[1].split("\n")[0]))
	bad = (sent - done) + sum(v for k, v in codes.items() if k != "NOERROR")
	expect("the burst was sent whole (%d of %d)" % (sent, TOTAL), sent == TOTAL, out)
	expect("NSD killed under load with %d queries outstanding to it: %d lost or not NOERROR "
	       "(lost %d, rcodes %s)" % (inflight, bad, sent - done, codes), bad <= inflight,
	       (out, {k: v for k, v in h.metrics(mport).items() if "frontend" in k and v}))
	victim = backends[0]
	expect("... the killed NSD is down",
	       bm(mport, "gatekeeper_frontend_backend_up", victim) == 0)
	downs = h.metrics(mport).get('gatekeeper_frontend_backend_transitions_total{pool="pair",backend="%s",to="down"}' % victim)
	expect("... its down transition counted (%s)" % downs, downs and downs >= 1)
	expect("... and logged with the reason", re.search(
		r"backend %s of pool pair down \(" % re.escape(victim), gk.log_text()), gk.log_text()[-2000:])
	conf = h.nsd_config(os.path.join(tmp, "nsd1"), nport)
	back = h.Server("nsd", [h.NSD, "-d", "-c", conf], os.path.join(tmp, "nsd1"), nport,
			os.path.join(tmp, "nsd1", "nsd2.log"))
	wait_for("the NSD up again", lambda: bm(mport, "gatekeeper_frontend_backend_up", victim) == 1)
	expect("... its return logged", re.search(
		r"backend %s of pool pair up \(" % re.escape(victim), gk.log_text()), gk.log_text()[-2000:])
	before = bm(mport, "gatekeeper_frontend_backend_queries_total", victim)
	for i in range(20):
		dns_rcode(port, "after%d.wild.example.cn" % i)
	after = bm(mport, "gatekeeper_frontend_backend_queries_total", victim)
	expect("... and given queries again (%s -> %s)" % (before, after), after > before)
	lingers = h.metrics(mport).get("gatekeeper_udp_lingers_total")
	if LINGER:
		expect("udp_linger_us %d: the front end's loop slept to coalesce (%s sleeps for %d "
		       "queries)" % (LINGER, lingers, TOTAL), lingers and lingers > 0)
	else:
		expect("no udp_linger_us: no sleep (%s)" % lingers, lingers == 0)
	return back


if __name__ == "__main__":
	if len(sys.argv) != 3:
		sys.exit("usage: test_frontend_failover.py GATEKEEPERD GK_SYNC")
	sys.exit(main())
