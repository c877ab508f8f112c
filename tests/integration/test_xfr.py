#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_xfr.py -- the transfer client (src/xfr) against real primaries and a
# lying one.
#
# NSD 4.6 and Knot 3.2 are started on loopback with the same zone; xfr_fetch (one exchange
# through src/xfr/transfer.c) takes it by SOA query, AXFR and IXFR, without and with TSIG
# (hmac-sha256, hmac-sha512, hmac-sha1), and the result must hold exactly the primary's
# records. Knot keeps a journal (zonefile-load: difference): after a change and a reload it
# answers IXFR with the difference, which the client applies to the previous text. NSD 4.6
# answers IXFR with the full zone. A wrong key, a record cap and a fake primary in Python
# (wrong ID, out-of-zone record, cut-short stream, early second SOA, silence) must each end
# in an error naming the reason.
#
# Usage: test_xfr.py XFR_FETCH
import os
import socket
import struct
import subprocess
import sys
import threading
import time

import gkharness as h
import dns.message
import dns.name
import dns.rdatatype
import dns.rrset
import dns.tsigkeyring
import dns.zone

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"
KEY = ("xfr-key.", "hmac-sha256", "c2VjcmV0LWtleS1mb3ItaG1hYy1zaGEyNTYtdGVzdHM=")
KEY512 = ("xfr-key512.", "hmac-sha512",
	  "bG9uZ2VyLXNlY3JldC1mb3ItaG1hYy1zaGE1MTItdGVzdHMtMDEyMzQ1Njc4OQ==")
KEY1 = ("xfr-key1.", "hmac-sha1", "b2xkLXNoYTEta2V5")
BADKEY = ("xfr-key.", "hmac-sha256", "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw==")

FETCH = None
failures = []


def zone_text(name, serial, n=300, extra=""):
	lines = ["$ORIGIN %s." % name, "$TTL 300",
		 "@ SOA ns1 hostmaster %d 3600 900 604800 300" % serial, "@ NS ns1", "ns1 A 192.0.2.1"]
	for i in range(n):
		lines.append("h%d A 198.51.100.%d" % (i, i % 250 + 1))
		lines.append('h%d TXT "record %d of %s"' % (i, i, name))
	return "\n".join(lines) + "\n" + extra


def records(text, origin):
	"""Set of (name, type, rdata text) from master-file text."""
	z = dns.zone.from_text(text, origin=origin, relativize=False, check_origin=False)
	out = set()
	for name, node in z.nodes.items():
		for rds in node.rdatasets:
			for rd in rds:
				out.add((name.to_text().lower(), rds.rdtype, rd.to_text().lower(), rds.ttl))
	return out


def fetch(port, zone, kind, key=None, serial=None, cur=None, addr="127.0.0.1", extra=()):
	out = os.path.join(TMP, "out-%s-%s.zone" % (zone, kind))
	if os.path.exists(out):
		os.unlink(out)
	argv = [FETCH, "-o", out, "-t", "3000"]
	if key:
		argv += ["-k", "%s:%s:%s" % (key[0], key[1], key[2])]
	if serial is not None:
		argv += ["-s", str(serial)]
	if cur is not None:
		p = os.path.join(TMP, "cur-%s.zone" % zone)
		with open(p, "w") as f:
			f.write(cur)
		argv += ["-c", p]
	argv += list(extra) + [addr, str(port), zone, kind]
	r = subprocess.run(argv, capture_output=True, text=True, timeout=60)
	line = r.stdout.strip()
	res = dict(kv.split("=", 1) for kv in line.split(" err=")[0].split())
	res["err"] = line.split(" err=", 1)[1] if " err=" in line else r.stderr
	res["text"] = open(out).read() if os.path.exists(out) else None
	return res


def check(what, cond, detail=""):
	if isinstance(detail, str) and len(detail) > 600:
		detail = detail[:600] + "..."
	if cond:
		h.log("ok: %s" % what)
	else:
		h.log("FAIL: %s %s" % (what, detail))
		failures.append(what)


def expect_zone(what, res, text, origin, kind):
	ok = res["rc"] == "0" and res["kind"] == kind and res["text"] is not None
	detail = repr({k: v for k, v in res.items() if k != "text"})
	if ok:
		got, want = records(res["text"], origin), records(text, origin)
		if got != want:
			ok = False
			detail += " missing %r extra %r" % (sorted(want - got)[:5], sorted(got - want)[:5])
	check(what, ok, detail)


# ---- NSD ----

def start_nsd(tmp, zones, keys):
	zdir = os.path.join(tmp, "nsdz")
	os.makedirs(zdir, exist_ok=True)
	for name, text, _ in zones:
		with open(os.path.join(zdir, name + ".zone"), "w") as f:
			f.write(text)
	port = h.free_port()
	conf = h.nsd_config(tmp, port, zonedir=zdir, zones=[])
	with open(conf, "a") as f:
		for k in keys:
			f.write('key:\n\tname: %s\n\talgorithm: %s\n\tsecret: "%s"\n' % k)
		for name, _, key in zones:
			f.write('zone:\n\tname: %s\n\tzonefile: "%s.zone"\n\tprovide-xfr: 127.0.0.1 %s\n'
				% (name, name, key[0] if key else "NOKEY"))
	srv = h.Server("nsd", [h.NSD, "-d", "-c", conf], tmp, port, os.path.join(tmp, "nsd.log"))
	srv.wait_ready(zones[0][0])
	return srv


# ---- Knot ----

def knot_conf(tmp, port, zones, keys):
	lines = ["server:", "  rundir: %s" % tmp, "  listen: 127.0.0.1@%d" % port,
		 "control:", "  listen: %s" % os.path.join(tmp, "knot.sock"),
		 "database:", "  storage: %s" % os.path.join(tmp, "db"),
		 "log:", "  - target: stderr", "    any: info"]
	if keys:
		lines.append("key:")
		for n, a, s in keys:
			lines += ["  - id: %s" % n, "    algorithm: %s" % a, "    secret: %s" % s]
	lines += ["acl:", "  - id: plain", "    address: 127.0.0.1", "    action: transfer"]
	for n, a, s in keys:
		lines += ["  - id: acl-%s" % n.rstrip("."), "    address: 127.0.0.1",
			  "    action: transfer", "    key: %s" % n]
	lines += ["template:", "  - id: default", "    storage: %s" % os.path.join(tmp, "knotz"),
		  "    zonefile-sync: -1", "    zonefile-load: difference", "    journal-content: changes",
		  "    semantic-checks: off", "zone:"]
	for name, _, key in zones:
		acl = "acl-%s" % key[0].rstrip(".") if key else "plain"
		lines += ["  - domain: %s" % name, "    acl: %s" % acl]
	path = os.path.join(tmp, "knot.conf")
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")
	return path


def start_knot(tmp, zones, keys):
	os.makedirs(os.path.join(tmp, "knotz"), exist_ok=True)
	os.makedirs(os.path.join(tmp, "db"), exist_ok=True)
	for name, text, _ in zones:
		with open(os.path.join(tmp, "knotz", name + ".zone"), "w") as f:
			f.write(text)
	port = h.free_port()
	conf = knot_conf(tmp, port, zones, keys)
	srv = h.Server("knotd", [KNOTD, "-c", conf], tmp, port, os.path.join(tmp, "knot.log"))
	srv.conf = conf
	srv.wait_ready(zones[0][0])
	return srv


def soa_serial(port, zone):
	r = dns.query.udp(dns.message.make_query(zone, "SOA"), "127.0.0.1", port=port, timeout=1)
	return r.answer[0][0].serial if r.answer else None


def wait_serial(port, zone, serial, timeout=60):
	return bool(h.wait_for("%s serial %d" % (zone, serial), lambda: soa_serial(port, zone) == serial, timeout,
			       step=0.05, must=False))


# ---- a fake primary ----

class Fake:
	"""Accepts one connection per call and answers with what behave(query) returns: a list
	of raw messages (framed here), or None to stay silent."""

	def __init__(self):
		self.ls = socket.socket()
		self.ls.bind(("127.0.0.1", 0))
		self.ls.listen(4)
		self.port = self.ls.getsockname()[1]

	def serve(self, behave, cut=None):
		def run():
			c, _ = self.ls.accept()
			ln = struct.unpack("!H", h.recv_exact(c, 2))[0]
			q = dns.message.from_wire(h.recv_exact(c, ln))
			msgs = behave(q)
			if msgs is None:
				time.sleep(4)
			else:
				data = b"".join(struct.pack("!H", len(m)) + m for m in msgs)
				c.sendall(data[:cut] if cut else data)
			c.close()
		t = threading.Thread(target=run, daemon=True)
		t.start()
		return t


def answer(q, rrs, qid=None, question=True):
	r = dns.message.make_response(q)
	if qid is not None:
		r.id = qid
	if not question:
		r.question = []
	for t in rrs:
		r.answer.append(dns.rrset.from_text(*t))
	return r.to_wire()


def fake_cases():
	f = Fake()
	soa = ("f.cn.", 300, "IN", "SOA", "ns1.f.cn. h.f.cn. 5 3600 900 604800 300")
	a = ("www.f.cn.", 300, "IN", "A", "192.0.2.9")
	cases = [
		("wrong ID", lambda q: [answer(q, [soa, a, soa], qid=(q.id + 1) % 65536)], None, "ID"),
		("out-of-zone record",
		 lambda q: [answer(q, [soa, ("www.other.cn.", 300, "IN", "A", "192.0.2.1"), soa])], None,
		 "out of the zone"),
		("cut short", lambda q: [answer(q, [soa, a])], None, "cut short"),
		("cut mid-frame", lambda q: [answer(q, [soa, a, soa])], 20, "cut short"),
		("second SOA too early",
		 lambda q: [answer(q, [soa, ("f.cn.", 300, "IN", "SOA",
					     "ns1.f.cn. h.f.cn. 4 3600 900 604800 300"), a, soa])],
		 None, "SOA serial 4"),
		("records after the end",
		 lambda q: [answer(q, [soa, a, soa, ("x.f.cn.", 300, "IN", "A", "192.0.2.3")])], None,
		 "after the closing SOA"),
		("wrong question", lambda q: [answer(dns.message.make_query("g.cn", "AXFR"), [soa, soa],
						     qid=q.id)], None, "question"),
		("no first SOA", lambda q: [answer(q, [a, soa])], None, "start with"),
		("silent primary", lambda q: None, None, "no answer within"),
		("TSIG where none was asked", None, None, "TSIG"),
	]
	for name, behave, cut, want in cases:
		if behave is None:
			def behave(q):
				r = dns.message.make_response(q)
				r.answer.append(dns.rrset.from_text(*soa))
				r.answer.append(dns.rrset.from_text(*soa))
				r.use_tsig(dns.tsigkeyring.from_text({KEY[0]: KEY[2]}), keyname=KEY[0])
				return [r.to_wire()]
		t = f.serve(behave, cut)
		r = fetch(f.port, "f.cn", "axfr", extra=["-t", "1000"])
		t.join()
		check("fake primary: %s rejected" % name, r["rc"] != "0" and want in r["err"], repr(r))
	# caps
	t = f.serve(lambda q: [answer(q, [soa] + [("h%d.f.cn." % i, 300, "IN", "A", "192.0.2.1")
						  for i in range(50)] + [soa])])
	r = fetch(f.port, "f.cn", "axfr", extra=["-r", "20"])
	t.join()
	check("record cap", r["rc"] != "0" and "over 20 records" in r["err"], repr(r))
	f.ls.close()


def main(argv):
	global FETCH, TMP
	FETCH = argv[1]
	for tool in (h.NSD, KNOTD, KNOTC):
		if not os.access(tool, os.X_OK):
			print("FAIL: %s is missing (apt-get install nsd knot)" % tool)
			return 1
	with h.TempDir() as tmp:
		TMP = tmp
		z1 = zone_text("plain.cn", 10)
		z2 = zone_text("signed.cn", 20)
		z3 = zone_text("sig512.cn", 30, n=20)
		z4 = zone_text("sig1.cn", 40, n=20)
		zones = [("plain.cn", z1, None), ("signed.cn", z2, KEY), ("sig512.cn", z3, KEY512),
			 ("sig1.cn", z4, KEY1)]
		keys = [KEY, KEY512, KEY1]
		os.makedirs(os.path.join(tmp, "nsd"))
		os.makedirs(os.path.join(tmp, "knot"))
		nsd = start_nsd(os.path.join(tmp, "nsd"), zones, keys)
		knot = start_knot(os.path.join(tmp, "knot"), zones, keys)
		for who, srv in (("NSD", nsd), ("Knot", knot)):
			r = fetch(srv.port, "plain.cn", "soa")
			check("%s: SOA query" % who, r["rc"] == "0" and r["serial"] == "10", repr(r))
			expect_zone("%s: AXFR" % who, fetch(srv.port, "plain.cn", "axfr"), z1, "plain.cn", "axfr")
			expect_zone("%s: AXFR hmac-sha256" % who, fetch(srv.port, "signed.cn", "axfr", KEY),
				    z2, "signed.cn", "axfr")
			expect_zone("%s: AXFR hmac-sha512" % who, fetch(srv.port, "sig512.cn", "axfr", KEY512),
				    z3, "sig512.cn", "axfr")
			expect_zone("%s: AXFR hmac-sha1" % who, fetch(srv.port, "sig1.cn", "axfr", KEY1),
				    z4, "sig1.cn", "axfr")
			r = fetch(srv.port, "signed.cn", "axfr", BADKEY)
			check("%s: wrong TSIG secret rejected" % who,
			      r["rc"] != "0" and r["text"] is None and ("TSIG" in r["err"] or "NOTAUTH" in r["err"]),
			      repr(r))
			r = fetch(srv.port, "signed.cn", "axfr")
			check("%s: unsigned request to a keyed zone refused" % who, r["rc"] != "0", repr(r))
			r = fetch(srv.port, "plain.cn", "ixfr", serial=10, cur=z1)
			check("%s: IXFR at the current serial: up to date" % who,
			      r["rc"] == "0" and r["uptodate"] == "1", repr(r))
		# NSD 4.6 keeps no differences: an older serial gets the whole zone
		r = fetch(nsd.port, "plain.cn", "ixfr", serial=9, cur="plain.cn. 300 IN SOA ns1.plain.cn. h.plain.cn. 9 1 1 1 1\n")
		expect_zone("NSD: IXFR answered in full", r, z1, "plain.cn", "axfr")

		# Knot: change the zone, reload, IXFR from its journal, applied to the text an AXFR made
		t1 = fetch(knot.port, "plain.cn", "axfr")["text"]
		t2 = fetch(knot.port, "signed.cn", "axfr", KEY)["text"]
		z1b = zone_text("plain.cn", 11, extra="new A 203.0.113.7\n").replace(
			'h7 TXT "record 7 of plain.cn"', 'h7 TXT "changed"')
		with open(os.path.join(tmp, "knot", "knotz", "plain.cn.zone"), "w") as f:
			f.write(z1b)
		subprocess.run([KNOTC, "-c", knot.conf, "zone-reload", "plain.cn"], check=True,
			       capture_output=True)
		check("Knot reloaded serial 11", wait_serial(knot.port, "plain.cn", 11))
		r = fetch(knot.port, "plain.cn", "ixfr", serial=10, cur=t1)
		expect_zone("Knot: IXFR from the journal applied", r, z1b, "plain.cn", "ixfr")
		check("Knot: IXFR is small", int(r.get("rrs", "0")) < 10, repr(r))
		z2b = zone_text("signed.cn", 21, extra="new A 203.0.113.8\n")
		with open(os.path.join(tmp, "knot", "knotz", "signed.cn.zone"), "w") as f:
			f.write(z2b)
		subprocess.run([KNOTC, "-c", knot.conf, "zone-reload", "signed.cn"], check=True,
			       capture_output=True)
		check("Knot reloaded signed.cn serial 21", wait_serial(knot.port, "signed.cn", 21))
		r = fetch(knot.port, "signed.cn", "ixfr", KEY, serial=20, cur=t2)
		expect_zone("Knot: IXFR with hmac-sha256", r, z2b, "signed.cn", "ixfr")
		# our data disagrees with Knot's differences: fall back to AXFR
		r = fetch(knot.port, "plain.cn", "ixfr", serial=10, cur=t1.replace("record 7 of", "not record 7 of"))
		expect_zone("Knot: IXFR that does not apply falls back to AXFR", r, z1b, "plain.cn", "axfr")
		check("Knot: fall-back reported", r.get("fell_back") == "1", repr(r))
		# a serial Knot's journal does not reach: Knot answers with the full zone
		r = fetch(knot.port, "plain.cn", "ixfr", serial=3, cur="plain.cn. 300 IN SOA ns1.plain.cn. h.plain.cn. 3 1 1 1 1\n")
		expect_zone("Knot: IXFR from an unknown serial answered in full", r, z1b, "plain.cn", "axfr")
		nsd.stop()
		knot.stop()
		fake_cases()
	if failures:
		print("FAILED: %d: %s" % (len(failures), "; ".join(failures)))
		return 1
	print("all passed")
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
