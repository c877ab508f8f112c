#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_catalog_forward.py -- catalog members forwarded to a backend pool
# (docs/SECONDARY.md, "Forwarded members"): Knot 3.2 generates the catalog, NSD is the pool's
# backend, gatekeeperd is the catalog's secondary with the filing check on (private
# redis-server, the real gk-sync).
#
# The catalog cat.example lists ac.cn and org.cn in group "fwd" (a template with `forward:
# nsd`) and tm.cn without a group (member_template: knot, transferred). NSD serves ac.cn and
# org.cn with serials 7000 and 7001; Knot serves them with 50 and 51: an SOA's serial tells
# which one answered. Every step waits on an answer, the control channel or a metric:
#   1. ac.cn and org.cn answered by NSD through gatekeeperd (serial 7000, filed.ac.cn's A
#      from NSD's data; the pool's backend query counter rose); unfiled.ac.cn (not filed)
#      REFUSED with EDE 15 and the counter did not move (it never reached NSD); `zone status
#      ac.cn` reads source=forwarded pool=nsd catalog=cat.example; the metric
#      gatekeeper_secondary_zone_forwarded names it; no persisted file; tm.cn transferred.
#   2. ac.cn's group unset at Knot (knotc conf-unset): the member moves to the transferring
#      default, is transferred and served from Knot's data (serial 50); status source=secondary;
#      its file is persisted.
#   3. ac.cn put back in group "fwd": forwarded to NSD again (serial 7000), its file gone.
#      Meanwhile a client asks ac.cn's SOA without pause: every answer is NOERROR with
#      serial 50 or 7000 (no REFUSED, SERVFAIL or timeout in the switch).
#   4. org.cn removed at Knot: REFUSED (not ours), not at the backend.
#   5. Restart with Knot stopped: the persisted catalog brings ac.cn back as forwarded
#      (NSD's serial at once), tm.cn served from its file, org.cn still REFUSED.
#
# Usage: test_catalog_forward.py GATEKEEPERD GK_SYNC
import os
import subprocess
import sys
import threading

import gkharness as h
import dns.message
import dns.query
import dns.rcode
import test_secondary as ts

KNOTD, KNOTC = ts.KNOTD, ts.KNOTC
check, wait_equal, serial_of, control = ts.check, ts.wait_equal, ts.serial_of, ts.control

NSD_DATA = {"ac.cn": 7000, "org.cn": 7001}
KNOT_DATA = {"ac.cn": 50, "org.cn": 51, "tm.cn": 60}
STATUS = [("filed.ac.cn", "filed"), ("filed.org.cn", "filed"), ("tm.cn", "filed")]


ede = h.ede_code


def ask(port, name, rdtype="A"):
	return dns.query.udp(dns.message.make_query(name, rdtype, use_edns=0), "127.0.0.1",
			     port=port, timeout=2.0)


def rcode_of(port, name):
	try:
		return dns.rcode.to_text(ask(port, name, "SOA").rcode())
	except Exception as e:  # noqa: BLE001
		return repr(e)


def knotc(knot, *args):
	r = subprocess.run([KNOTC, "-c", knot.conf] + list(args), stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT, universal_newlines=True, timeout=30)
	check("knotc %s" % " ".join(args), r.returncode == 0, r.stdout)


def nsd_zone(name, serial):
	return "\n".join(["$ORIGIN %s." % name, "$TTL 300",
			  "@ SOA ns1 hostmaster %d 3600 900 604800 300" % serial, "@ NS ns1",
			  "ns1 A 192.0.2.1", "filed A 198.51.100.7", "unfiled A 198.51.100.8"]) + "\n"


def start_nsd(tmp):
	d = os.path.join(tmp, "nsd")
	os.makedirs(d)
	zones = []
	for name, serial in NSD_DATA.items():
		with open(os.path.join(d, name + ".zone"), "w") as f:
			f.write(nsd_zone(name, serial))
		zones.append((name, name + ".zone"))
	port = h.free_port()
	conf = h.nsd_config(d, port, zonedir=d, zones=zones)
	srv = h.Server("nsd", [h.NSD, "-d", "-c", conf], d, port, os.path.join(d, "nsd.log"))
	srv.wait_ready("ac.cn")
	return srv


def start_knot(tmp, gk_port):
	"""Knot: the primary of cat.example (generated) and of its members, ac.cn and org.cn in
	catalog group fwd."""
	for sub in ("knotz", "db"):
		os.makedirs(os.path.join(tmp, sub), exist_ok=True)
	port = h.free_port()
	lines = ["server:", "  rundir: %s" % tmp, "  listen: 127.0.0.1@%d" % port,
		 "control:", "  listen: %s" % os.path.join(tmp, "knot.sock"),
		 "database:", "  storage: %s" % os.path.join(tmp, "db"),
		 "log:", "  - target: stderr", "    any: info",
		 "remote:", "  - id: gk", "    address: 127.0.0.1@%d" % gk_port,
		 "acl:", "  - id: plain", "    address: 127.0.0.1", "    action: transfer",
		 "template:", "  - id: default", "    storage: %s" % os.path.join(tmp, "knotz"),
		 "    zonefile-sync: -1", "    zonefile-load: difference", "    journal-content: changes",
		 "    semantic-checks: off", "    notify: gk",
		 "zone:", "  - domain: cat.example.", "    catalog-role: generate", "    acl: plain"]
	for name, serial in KNOT_DATA.items():
		with open(os.path.join(tmp, "knotz", name + ".zone"), "w") as f:
			f.write(ts.zone_text(name, serial))
		lines += ["  - domain: %s" % name, "    catalog-role: member",
			  "    catalog-zone: cat.example.", "    acl: plain"]
		if name != "tm.cn":
			lines.append("    catalog-group: fwd")
	conf = os.path.join(tmp, "knot.conf")
	with open(conf, "w") as f:
		f.write("\n".join(lines) + "\n")
	srv = h.Server("knotd", [KNOTD, "-c", conf], tmp, port, os.path.join(tmp, "knot.log"))
	srv.conf = conf
	srv.wait_ready("tm.cn")
	return srv


def gk_conf(tmp, port, mport, knot_port, nsd_port, redis_port):
	extra = """metrics:
  listen: "127.0.0.1:%(mport)d"
control: {socket: "%(sock)s", state_file: "%(state)s"}
redis:
  address: "127.0.0.1:%(redis)d"
  instance_id: catfwd-%(pid)d
filing:
  startup: refuse
  unfiled: {action: refuse, ede: 15, text: "ICP filing required"}
pools:
  - name: nsd
    backends: ["127.0.0.1:%(nsd)d"]
    cache_size: 0
secondary:
  directory: secondary
  timeout_ms: 1000
  templates:
    - id: knot
      primaries: ["127.0.0.1:%(knot)d"]
    - id: fwd
      forward: nsd
  zones:
    - {name: cat.example, template: knot, catalog: true, member_template: knot}
""" % dict(sock=os.path.join(tmp, "control.sock"), state=os.path.join(tmp, "zones.added"),
	   mport=mport, knot=knot_port, nsd=nsd_port, redis=redis_port, pid=os.getpid())
	return h.gk_config(tmp, port, zones=[], workers=2, extra=extra, log_level="debug")


def start_gk(binary, tmp, port, *conf_args):
	conf = gk_conf(tmp, port, *conf_args)
	srv = h.Server("gatekeeperd", [binary, "-c", conf], tmp, port,
		       os.path.join(tmp, "gatekeeperd.log"))
	srv.conf = conf
	srv.wait_ready("cat.example")
	return srv


def backend_queries(mport, nsd_port):
	return ts.metric(mport, 'gatekeeper_frontend_backend_queries_total{pool="nsd",backend='
			 '"127.0.0.1:%d"}' % nsd_port)


def status_fields(gtmp, name):
	lines = control(gtmp, "zone status %s" % name)
	return ts.fields(lines[0]) if lines and lines[0].startswith("ok zone") else {}


def a_of(port, name):
	try:
		r = ask(port, name)
		return [rd.address for rr in r.answer for rd in rr]
	except Exception as e:  # noqa: BLE001
		return repr(e)


class Asker(threading.Thread):
	"""Ask name's SOA without pause until stopped; record every outcome."""

	def __init__(self, port, name):
		super().__init__(daemon=True)
		self.port, self.name, self.stop_ = port, name, threading.Event()
		self.seen = {}

	def run(self):
		q = dns.message.make_query(self.name, "SOA")
		while not self.stop_.is_set():
			try:
				r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=2.0)
				k = dns.rcode.to_text(r.rcode())
				if r.rcode() == 0 and r.answer:
					k += " %d" % r.answer[0][0].serial
			except Exception as e:  # noqa: BLE001
				k = type(e).__name__
			self.seen[k] = self.seen.get(k, 0) + 1


def main(argv):
	binary, gksync = argv[1], argv[2]
	for tool in (KNOTD, KNOTC, h.NSD):
		if not os.access(tool, os.X_OK):
			print("FAIL: %s is missing (scripts/deps.sh installs knot and nsd)" % tool)
			return 1
	with h.TempDir("gk-catfwd-") as tmp:
		gtmp, ktmp = os.path.join(tmp, "gk"), os.path.join(tmp, "knot")
		os.makedirs(gtmp)
		os.makedirs(ktmp)
		port, mport = h.free_port(), h.free_port()
		nsd = start_nsd(tmp)
		knot = start_knot(ktmp, port)
		redis = h.start_redis(tmp)
		feed = h.Feed(gksync, tmp, redis.port)
		feed.snapshot(1, STATUS)
		args = (mport, knot.port, nsd.port, redis.port)
		gk = start_gk(binary, gtmp, port, *args)
		try:
			steps(binary, gk, gtmp, port, mport, knot, nsd, args)
		finally:
			log = gk.log_text()
			gk.stop()
			knot.stop()
			nsd.stop()
			redis.stop()
		check("no sanitizer report", "ERROR: AddressSanitizer" not in log and
		      "runtime error" not in log, log[-2000:])
	if ts.failures:
		print("FAILED: %s" % ", ".join(ts.failures))
		return 1
	print("PASS")
	return 0


def steps(binary, gk, gtmp, port, mport, knot, nsd, args):
	persisted = os.path.join(gtmp, "secondary", "ac.cn.zone")
	# 1. forwarded members answered by NSD, the decision first
	wait_equal("tm.cn (transferred member) served", lambda: serial_of(port, "tm.cn"), 60)
	wait_equal("ac.cn (group fwd) answered by NSD", lambda: serial_of(port, "ac.cn"), 7000)
	wait_equal("org.cn (group fwd) answered by NSD", lambda: serial_of(port, "org.cn"), 7001)
	wait_equal("the replica loaded: filed.ac.cn answered with NSD's data",
		   lambda: a_of(port, "filed.ac.cn"), ["198.51.100.7"])
	q0 = backend_queries(mport, nsd.port)
	check("the pool's backend counted the forwarded queries", q0 is not None and q0 >= 3, q0)
	for i in range(3):
		r = ask(port, "unfiled.ac.cn")
		check("unfiled.ac.cn (under a forwarded member) REFUSED with EDE 15",
		      r.rcode() == dns.rcode.REFUSED and ede(r) == 15, r)
	check("... and it never reached NSD (backend query counter unchanged)",
	      backend_queries(mport, nsd.port) == q0, (q0, backend_queries(mport, nsd.port)))
	f = status_fields(gtmp, "ac.cn")
	check("zone status ac.cn: forwarded to pool nsd, catalog cat.example",
	      f.get("source") == "forwarded" and f.get("pool") == "nsd" and
	      f.get("catalog") == "cat.example", f)
	check("metric gatekeeper_secondary_zone_forwarded names ac.cn and its pool",
	      ts.metric(mport, 'gatekeeper_secondary_zone_forwarded{zone="ac.cn",'
			'catalog="cat.example",pool="nsd"}') == 1)
	check("a forwarded member has no persisted file", not os.path.exists(persisted))
	check("tm.cn persisted", os.path.exists(os.path.join(gtmp, "secondary", "tm.cn.zone")))
	# 2. moved to the transferring default: transferred from Knot
	knotc(knot, "conf-begin")
	knotc(knot, "conf-unset", "zone[ac.cn].catalog-group")
	knotc(knot, "conf-commit")
	wait_equal("ac.cn moved to a transferring group: served from Knot's data",
		   lambda: serial_of(port, "ac.cn"), 50)
	wait_equal("zone status ac.cn: source=secondary",
		   lambda: status_fields(gtmp, "ac.cn").get("source"), "secondary")
	wait_equal("ac.cn persisted once transferred", lambda: os.path.exists(persisted), True)
	check("org.cn still forwarded", serial_of(port, "org.cn") == 7001)
	# 3. back to the forwarding group, under a steady stream of queries
	asker = Asker(port, "ac.cn")
	asker.start()
	wait_for_n = lambda: sum(asker.seen.values()) >= 20  # noqa: E731
	h.wait_for("the asker running", wait_for_n, 30)
	knotc(knot, "conf-begin")
	knotc(knot, "conf-set", "zone[ac.cn].catalog-group", "fwd")
	knotc(knot, "conf-commit")
	wait_equal("ac.cn back in group fwd: answered by NSD", lambda: serial_of(port, "ac.cn"), 7000)
	n = sum(asker.seen.values())
	h.wait_for("the asker after the switch", lambda: sum(asker.seen.values()) >= n + 20, 30)
	asker.stop_.set()
	asker.join(10)
	h.log("answers to ac.cn SOA through the switch: %r" % asker.seen)
	check("the switch: every answer NOERROR from Knot's data or NSD's (no REFUSED, "
	      "SERVFAIL or timeout)", set(asker.seen) <= {"NOERROR 50", "NOERROR 7000"} and
	      "NOERROR 7000" in asker.seen, asker.seen)
	wait_equal("ac.cn's file gone once forwarded", lambda: os.path.exists(persisted), False)
	wait_equal("zone status ac.cn: forwarded again",
		   lambda: status_fields(gtmp, "ac.cn").get("source"), "forwarded")
	wait_equal("filed.ac.cn with NSD's data again", lambda: a_of(port, "filed.ac.cn"),
		   ["198.51.100.7"])
	# 4. a forwarded member removed from the catalog: not ours, not forwarded
	knotc(knot, "conf-begin")
	knotc(knot, "conf-unset", "zone[org.cn]")
	knotc(knot, "conf-commit")
	wait_equal("org.cn removed at Knot: REFUSED", lambda: rcode_of(port, "org.cn"), "REFUSED")
	q1 = backend_queries(mport, nsd.port)
	r = ask(port, "filed.org.cn")
	check("filed.org.cn (removed member) REFUSED, not at the backend",
	      r.rcode() == dns.rcode.REFUSED and backend_queries(mport, nsd.port) == q1, r)
	wait_equal("zone status org.cn: not configured",
		   lambda: (control(gtmp, "zone status org.cn") or [""])[0].startswith("error"), True)
	# 5. restart with Knot stopped: the persisted catalog brings the forwarded member back
	gk.stop()
	knot.stop()
	gk2 = start_gk(binary, gtmp, port, *args)
	try:
		wait_equal("restart, Knot stopped: ac.cn forwarded to NSD",
			   lambda: serial_of(port, "ac.cn"), 7000)
		wait_equal("restart: tm.cn served from its file", lambda: serial_of(port, "tm.cn"), 60)
		check("restart: org.cn still REFUSED", rcode_of(port, "org.cn") == "REFUSED")
		check("restart: ac.cn has no file", not os.path.exists(persisted))
	finally:
		log = gk2.log_text()
		gk2.stop()
	check("no sanitizer report after the restart", "ERROR: AddressSanitizer" not in log and
	      "runtime error" not in log, log[-2000:])


if __name__ == "__main__":
	sys.exit(main(sys.argv))
