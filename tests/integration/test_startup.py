#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_startup.py -- start-up with many zones: parallel loading, SERVFAIL
# until a zone is loaded, progress and readiness in the log and the metrics.
#
# N small zones (100,000 in a release build; fewer under ASan, whose memory and
# time per zone make 100,000 too slow for the suite: the count is the second argument) plus
# one broken zone file:
# 1. from the first answer on, every sampled query gets its zone's answer or SERVFAIL (a
#    zone not loaded yet), never REFUSED, NXDOMAIN or wrong data; the metrics add up
#    (configured = loaded + loading + failed) at every scrape before readiness;
# 2. readiness: the log's "ready: loaded N zones" line, then gatekeeper_zones_ready 1 with
#    N loaded, 1 failed, 0 loading; a sample of zones (first, last, 500 spread) answers;
# 3. the broken zone is logged with file:line and answers SERVFAIL -- deterministically, the
#    same placeholder a zone not yet loaded has; fixed and SIGHUP: it answers, 0 failed.
# Waits are on log lines and metrics, with generous upper bounds only against a hang.
# Usage: test_startup.py GATEKEEPERD [N]
import os
import random
import re
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

fails = h.fails  # the checks that failed (h.expect keeps them)


expect = h.expect


def zname(i):
	return "z%06d.startup.example" % i


K = 1000  # zone files


def addr(i):
	"""www's address in zone i's file"""
	i %= K
	return "10.0.%d.%d" % (i >> 8 & 255, i & 255)


def lookup(port, name):
	"""rcode and answer of name A; a datagram lost or late on a loaded machine is asked again
	(an answer is what is checked, not how fast it came)."""
	q = dns.message.make_query(name, "A")
	err = None
	for _ in range(5):
		try:
			r = dns.query.udp(q, "127.0.0.1", port=port, timeout=5.0)
			return r.rcode(), sorted(rd.to_text() for rrs in r.answer for rd in rrs)
		except dns.exception.Timeout as e:
			err = e
		except Exception as e:
			return None, repr(e)
	return None, repr(err)


def zones_metrics(mport):
	try:
		m = h.metrics(mport)
	except Exception:
		return None
	keys = ["gatekeeper_zones_configured", 'gatekeeper_zones{state="loaded"}',
		'gatekeeper_zones{state="loading"}', 'gatekeeper_zones{state="failed"}',
		"gatekeeper_zones_ready"]
	if not all(k in m for k in keys):
		return None
	return {"configured": m[keys[0]], "loaded": m[keys[1]], "loading": m[keys[2]],
		"failed": m[keys[3]], "ready": m[keys[4]]}


def control(path, line):
	"""One control-channel request; its answer lines without the final '.'."""
	c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	c.settimeout(60)
	c.connect(path)
	c.sendall((line + "\n").encode())
	buf = b""
	while not (buf.endswith(b"\n.\n") or buf == b".\n"):
		d = c.recv(65536)
		if not d:
			break
		buf += d
	c.close()
	return [l for l in buf.decode().split("\n") if l and l != "."]


def main(argv):
	binary = argv[1]
	n = int(argv[2]) if len(argv) > 2 else 100000
	with h.TempDir("gk-startup-") as tmp:
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		# zone files without $ORIGIN serve whichever zone names them (as registrars' template
		# zones do): K files shared round-robin keep the test's time in the daemon, not in
		# writing 100,000 files; every zone is still read, parsed and built on its own
		zones = []
		t0 = time.time()
		for k in range(min(n, K)):
			with open(os.path.join(zdir, "t%04d.zone" % k), "w") as f:
				f.write("$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
					"@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A %s\n" % addr(k))
		for i in range(n):
			zones.append((zname(i), "t%04d.zone" % (i % K)))
		broken = "broken.startup.example"
		bpath = os.path.join(zdir, broken)
		with open(bpath, "w") as f:
			f.write("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
				"@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.2\nwww IN CNAME ns1\n" % broken)
		zones.insert(n // 2, (broken, broken))
		h.log("%d zone files for %d zones written in %.1f s" % (min(n, K) + 1, n + 1, time.time() - t0))
		mport = h.free_port()
		sock = os.path.join(tmp, "control.sock")
		extra = ("metrics:\n  listen: \"127.0.0.1:%d\"\ncontrol:\n  socket: %s\n  state_file: %s\n" %
			 (mport, sock, os.path.join(tmp, "zones.added")))
		added = os.path.join(zdir, "added.zone")
		with open(added, "w") as f:
			f.write("$TTL 300\n@ IN SOA ns1 hostmaster 5 7200 900 1209600 300\n"
				"@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.77\n")
		srv = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, ready=False, extra=extra, ipv6=False)
		try:
			t0 = time.time()
			expect("listening", h.wait_for("listening", lambda: "listening on" in srv.log_text() or not srv.alive(),
						      timeout=120, must=False) and srv.alive(), srv.log_text()[-1500:])
			h.log("listening %.1f s after start" % (time.time() - t0))
			# 1. before readiness: every answer is the right one or SERVFAIL
			rng = random.Random(1)
			early = {"right": 0, "servfail": 0}
			scrapes = 0
			sample = [n - 1, n - 2, 0] + [rng.randrange(n) for _ in range(60)]
			for i in sample:
				rc, data = lookup(srv.port, "www." + zname(i))
				if rc == dns.rcode.NOERROR and data == [addr(i)]:
					early["right"] += 1
				elif rc == dns.rcode.SERVFAIL and data == []:
					early["servfail"] += 1
				else:
					expect("before readiness, www.%s: its A record or SERVFAIL" % zname(i), False,
					       (rc, data))
				if "ready: loaded" in srv.log_text():
					break
				z = zones_metrics(mport)
				if z and not z["ready"]:
					scrapes += 1
					expect("metrics add up while loading", z["configured"] == n + 1 and
					       z["loaded"] + z["loading"] + z["failed"] == n + 1, z)
			h.log("before readiness: %d answered, %d SERVFAIL (not loaded yet), %d scrapes "
			      "while loading" % (early["right"], early["servfail"], scrapes))
			# the control channel while loading: zone status of the last zone (loading, or
			# loaded if loading was that quick), zone add answers at once
			st = control(sock, "zone status " + zname(n - 1))
			ready_now = "ready: loaded" in srv.log_text()
			expect("zone status while loading: state=loading (or loaded once ready)",
			       len(st) == 1 and ("state=loading" in st[0] and "serial=-" in st[0] or
						 ready_now or "state=loaded" in st[0]), st)
			h.log("zone status while loading: %r (ready: %s)" % (st, ready_now))
			st = control(sock, "zone add added.startup.example " + added)
			expect("zone add during loading", st and st[0].startswith("ok zone added.startup.example added"), st)
			rc, data = lookup(srv.port, "www.added.startup.example")
			expect("the added zone answers", rc == dns.rcode.NOERROR and data == ["192.0.2.77"], (rc, data))
			st = control(sock, "zone remove added.startup.example")
			expect("zone remove of the added zone", st and st[0].startswith("ok zone"), st)
			# 2. readiness
			ready = h.wait_for("ready", lambda: "ready: loaded" in srv.log_text() or not srv.alive(),
					   timeout=600, must=False)
			log = srv.log_text()
			line = re.search(r"ready: loaded (\d+) zones.* in ([0-9.]+) s.*", log)
			expect("readiness line", ready and line is not None, log[-2000:])
			if line:
				h.log(line.group(0))
				expect("readiness line counts %d zones" % n, int(line.group(1)) == n, line.group(0))
			expect("progress logged", re.search(r"zones: \d+ of %d loaded" % (n + 1), log) is not None
			       or (line is not None and float(line.group(2)) < 2.0), log[-1500:])
			z = zones_metrics(mport)
			expect("metrics at readiness: %d configured, %d loaded, 1 failed, 0 loading, ready" %
			       (n + 1, n), z == {"configured": n + 1, "loaded": n, "loading": 0, "failed": 1,
						 "ready": 1}, z)
			bad = []
			for i in [0, n - 1] + [rng.randrange(n) for _ in range(500)]:
				rc, data = lookup(srv.port, "www." + zname(i))
				if rc != dns.rcode.NOERROR or data != [addr(i)]:
					bad.append((zname(i), rc, data))
			expect("502 sampled zones answer", not bad, bad[:5])
			rc, _ = lookup(srv.port, "nothere." + zname(n // 3))
			expect("a loaded zone's NXDOMAIN", rc == dns.rcode.NXDOMAIN, rc)
			rc, _ = lookup(srv.port, "www.not-configured.example")
			expect("a name outside every zone: REFUSED", rc == dns.rcode.REFUSED, rc)
			# 3. the broken zone
			expect("broken zone logged with file:line",
			       re.search(r"zone %s not loaded .*%s:7: CNAME and other data" %
					 (re.escape(broken), re.escape(bpath)), log) is not None, log[-1500:])
			st = control(sock, "zone status " + broken)
			expect("zone status of the broken zone: state=failed with its error",
			       len(st) == 1 and "state=failed" in st[0] and "CNAME and other data" in st[0], st)
			st = control(sock, "zone status " + zname(n - 1))
			expect("zone status after readiness: state=loaded", len(st) == 1 and "state=loaded" in st[0], st)
			for q in ("www." + broken, broken, "x.y." + broken):
				rc, data = lookup(srv.port, q)
				expect("%s (failed to load): SERVFAIL" % q, rc == dns.rcode.SERVFAIL and data == [],
				       (rc, data))
			with open(bpath, "w") as f:
				f.write("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1 hostmaster 2 7200 900 1209600 300\n"
					"@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.2\n" % broken)
			srv.signal(signal.SIGHUP)
			expect("reload", h.wait_for("reloaded", lambda: "reloaded: %d zones" % (n + 1) in srv.log_text(),
						    timeout=300, must=False), srv.log_text()[-1500:])
			rc, data = lookup(srv.port, "www." + broken)
			expect("fixed and reloaded: answers", rc == dns.rcode.NOERROR and data == ["192.0.2.2"],
			       (rc, data))
			z = zones_metrics(mport)
			expect("metrics after the reload: 0 failed", z is not None and z["failed"] == 0 and
			       z["loaded"] == n + 1, z)
		finally:
			rc = srv.stop(60)
		expect("SIGTERM: exit status 0 (got %s)" % rc, rc == 0)
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


if __name__ == "__main__":
	if len(sys.argv) not in (2, 3):
		sys.exit("usage: test_startup.py GATEKEEPERD [N]")
	sys.exit(main(sys.argv))
