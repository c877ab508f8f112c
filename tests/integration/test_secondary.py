#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_secondary.py -- gatekeeperd as a secondary of Knot 3.2 and NSD 4.6.
#
# Every step waits on what gatekeeperd answers (the SOA serial, the rcode) or on its
# metrics, never on timers:
#   1. Knot (journal, IXFR) and NSD are primaries; gatekeeperd takes k.cn (plain), ks.cn
#      (hmac-sha256) from Knot and n.cn from NSD, and serves them.
#   2. A change at Knot + Knot's NOTIFY: the new serial is served (IXFR counted).
#   3. A change at NSD + NSD's NOTIFY: served (NSD has no IXFR: AXFR).
#   4. NOTIFY for an unknown zone, with a wrong TSIG key, or unsigned for the keyed zone:
#      REFUSED and counted; a zone configured with a wrong key never loads and says why.
#   5. NSD's serial going backwards: ignored (old serial still served), logged and counted.
#   6. AXFR and IXFR from a client: REFUSED.
#   7. NSD stopped: the zone (expire 6 s) answers SERVFAIL after retries; NSD back: served.
#   2b. The control channel: zone status (primary, serial, last transfer, timers, last
#      error; every secondary in the listing) and zone refresh (an SOA check is made).
#   2c. SIGHUP with a changed secondary section: logged as needing a restart.
#   8. Shutdown with an SOA check in flight (Knot frozen): clean exit; restart with every
#      primary stopped: the persisted zones are served at once.
#
# Usage: test_secondary.py GATEKEEPERD
import os
import socket
import subprocess
import sys
import time

import gkharness as h
import dns.message
import dns.query
import dns.rcode
import dns.tsig
import dns.tsigkeyring

KNOTD = "/usr/sbin/knotd"
KNOTC = "/usr/sbin/knotc"
KEY = ("xfr-key.", "hmac-sha256", "c2VjcmV0LWtleS1mb3ItaG1hYy1zaGEyNTYtdGVzdHM=")
WRONG = "d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZw=="
failures = []


def check(what, cond, detail=""):
	h.log(("ok: %s" if cond else "FAIL: %s " + str(detail)[:800]) % what)
	if not cond:
		failures.append(what)


def zone_text(name, serial, timers="3600 900 604800 300", extra=""):
	lines = ["$ORIGIN %s." % name, "$TTL 300", "@ SOA ns1 hostmaster %d %s" % (serial, timers),
		 "@ NS ns1", "ns1 A 192.0.2.1", "www A 192.0.2.10"]
	for i in range(50):
		lines.append('t%d TXT "record %d"' % (i, i))
	return "\n".join(lines) + "\n" + extra


def ask(port, name, rdtype="SOA", tcp=False):
	q = dns.message.make_query(name, rdtype)
	f = dns.query.tcp if tcp else dns.query.udp
	return f(q, "127.0.0.1", port=port, timeout=1.0)


def serial_of(port, zone):
	try:
		r = ask(port, zone)
	except Exception:
		return None
	if r.rcode() != dns.rcode.NOERROR or not r.answer:
		return dns.rcode.to_text(r.rcode())
	return r.answer[0][0].serial


def wait_equal(what, fn, want, timeout=60):
	"""h.wait_for until fn() == want, reported through check (True or False)."""
	got = []
	ok = h.wait_for(what, lambda: got.append(fn()) or got[-1] == want, timeout, step=0.05, must=False)
	check(what, bool(ok), "" if ok else "last %r, want %r" % (got[-1:], want))
	return bool(ok)

def metric(gk_port_metrics, name):
	try:
		m = h.metrics(gk_port_metrics)
	except Exception:
		return None
	return m.get(name)


def notify(port, zone, key=None, secret=None):
	q = dns.message.make_query(zone, "SOA")
	q.set_opcode(dns.opcode.NOTIFY)
	q.flags |= dns.flags.AA
	if key:
		q.use_tsig(dns.tsigkeyring.from_text({key: secret}), keyname=key)
	w = q.to_wire()
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.settimeout(2)
	s.sendto(w, ("127.0.0.1", port))
	data, _ = s.recvfrom(4096)
	s.close()
	r = dns.message.from_wire(data, keyring=False, ignore_trailing=True) if not key else None
	return data, r


import dns.opcode  # noqa: E402
import dns.flags  # noqa: E402


def control(tmp, req):
	"""One request on gatekeeperd's control channel: the answer's lines."""
	s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
	s.settimeout(30.0)
	s.connect(os.path.join(tmp, "control.sock"))
	s.sendall(req.encode() + b"\n")
	buf = b""
	while not buf.endswith(b"\n.\n") and buf != b".\n":
		chunk = s.recv(65536)
		if not chunk:
			break
		buf += chunk
	s.close()
	return buf.decode().split("\n")[:-2]


def fields(line):
	"""The key=value fields of a zone status line (last_error takes the rest)."""
	head, _, err = line.partition(" last_error=")
	out = dict(w.split("=", 1) for w in head.split() if "=" in w)
	out["last_error"] = err
	out["expired"] = " expired" in head
	return out


def start_knot(tmp, gk_port, zones):
	os.makedirs(os.path.join(tmp, "knotz"), exist_ok=True)
	os.makedirs(os.path.join(tmp, "db"), exist_ok=True)
	for name, text, _ in zones:
		with open(os.path.join(tmp, "knotz", name + ".zone"), "w") as f:
			f.write(text)
	port = h.free_port()
	lines = ["server:", "  rundir: %s" % tmp, "  listen: 127.0.0.1@%d" % port,
		 "control:", "  listen: %s" % os.path.join(tmp, "knot.sock"),
		 "database:", "  storage: %s" % os.path.join(tmp, "db"),
		 "log:", "  - target: stderr", "    any: info",
		 "key:", "  - id: %s" % KEY[0], "    algorithm: %s" % KEY[1], "    secret: %s" % KEY[2],
		 "remote:", "  - id: gk", "    address: 127.0.0.1@%d" % gk_port,
		 "  - id: gk-key", "    address: 127.0.0.1@%d" % gk_port, "    key: %s" % KEY[0],
		 "acl:", "  - id: plain", "    address: 127.0.0.1", "    action: transfer",
		 "  - id: keyed", "    address: 127.0.0.1", "    action: transfer", "    key: %s" % KEY[0],
		 "template:", "  - id: default", "    storage: %s" % os.path.join(tmp, "knotz"),
		 "    zonefile-sync: -1", "    zonefile-load: difference", "    journal-content: changes",
		 "    semantic-checks: off", "zone:"]
	for name, _, keyed in zones:
		lines += ["  - domain: %s" % name, "    acl: %s" % ("keyed" if keyed else "plain"),
			  "    notify: %s" % ("gk-key" if keyed else "gk")]
	conf = os.path.join(tmp, "knot.conf")
	with open(conf, "w") as f:
		f.write("\n".join(lines) + "\n")
	srv = h.Server("knotd", [KNOTD, "-c", conf], tmp, port, os.path.join(tmp, "knot.log"))
	srv.conf = conf
	srv.wait_ready(zones[0][0])
	return srv


def start_nsd(tmp, gk_port, zones, port=None):
	zdir = os.path.join(tmp, "nsdz")
	os.makedirs(zdir, exist_ok=True)
	for name, text in zones:
		with open(os.path.join(zdir, name + ".zone"), "w") as f:
			f.write(text)
	port = port or h.free_port()
	conf = h.nsd_config(tmp, port, zonedir=zdir, zones=[])
	with open(conf, "a") as f:
		for name, _ in zones:
			f.write('zone:\n\tname: %s\n\tzonefile: "%s.zone"\n\tprovide-xfr: 127.0.0.1 NOKEY\n'
				'\tnotify: 127.0.0.1@%d NOKEY\n' % (name, name, gk_port))
	srv = h.Server("nsd", [h.NSD, "-d", "-c", conf], tmp, port, os.path.join(tmp, "nsd.log"))
	srv.wait_ready(zones[0][0])
	return srv


def gk_conf(tmp, port, mport, knot_port, nsd_port):
	text = """# generated by tests/integration/test_secondary.py
listen: ["127.0.0.1:%(port)d"]
workers: 1
log_level: debug
metrics:
  listen: "127.0.0.1:%(mport)d"
control: {socket: "%(sock)s", state_file: "%(state)s"}
secondary:
  directory: secondary
  timeout_ms: 1000
  tsig_keys:
    - {name: "%(kname)s", algorithm: %(kalg)s, secret: "%(ksec)s"}
    - {name: wrong-key, algorithm: hmac-sha256, secret: "%(wrong)s"}
  templates:
    - id: knot
      primaries: ["127.0.0.1:%(knot)d"]
  zones:
    - {name: k.cn, template: knot}
    - {name: ks.cn, primaries: [{address: "127.0.0.1:%(knot)d", key: "%(kname)s"}]}
    - {name: kw.cn, primaries: [{address: "127.0.0.1:%(knot)d", key: wrong-key}]}
    - {name: n.cn, primaries: ["127.0.0.1:%(nsd)d"]}
""" % dict(sock=os.path.join(tmp, "control.sock"), state=os.path.join(tmp, "zones.added"),
	   port=port, mport=mport, knot=knot_port, nsd=nsd_port, kname=KEY[0], kalg=KEY[1],
	   ksec=KEY[2], wrong=WRONG)
	path = os.path.join(tmp, "gatekeeperd.yaml")
	with open(path, "w") as f:
		f.write(text)
	return path


def start_gk(binary, tmp, port, mport, knot_port, nsd_port):
	conf = gk_conf(tmp, port, mport, knot_port, nsd_port)
	srv = h.Server("gatekeeperd", [binary, "-c", conf], tmp, port,
		       os.path.join(tmp, "gatekeeperd.log"))
	return srv


def main(argv):
	binary = argv[1]
	for tool in (h.NSD, KNOTD, KNOTC):
		if not os.access(tool, os.X_OK):
			print("FAIL: %s is missing (apt-get install nsd knot)" % tool)
			return 1
	with h.TempDir() as tmp:
		gtmp, ktmp, ntmp = (os.path.join(tmp, d) for d in ("gk", "knot", "nsd"))
		for d in (gtmp, ktmp, ntmp):
			os.makedirs(d)
		port, mport = h.free_port(), h.free_port()
		kzones = [("k.cn", zone_text("k.cn", 10), False), ("ks.cn", zone_text("ks.cn", 20), True),
			  ("kw.cn", zone_text("kw.cn", 30), True)]
		knot = start_knot(ktmp, port, kzones)
		# n.cn: short timers for the expiry step (refresh 2, retry 1, expire 6)
		nsd_port = h.free_port()
		nsd = start_nsd(ntmp, port, [("n.cn", zone_text("n.cn", 100, "2 1 6 300"))], nsd_port)
		gk = start_gk(binary, gtmp, port, mport, knot.port, nsd.port)
		gk.wait_ready("k.cn")
		wait_equal("k.cn served from Knot (AXFR)", lambda: serial_of(port, "k.cn"), 10)
		wait_equal("ks.cn served from Knot with TSIG", lambda: serial_of(port, "ks.cn"), 20)
		wait_equal("n.cn served from NSD", lambda: serial_of(port, "n.cn"), 100)
		r = ask(port, "www.k.cn", "A")
		check("www.k.cn answered with AA", r.rcode() == 0 and (r.flags & dns.flags.AA) and
		      r.answer and r.answer[0][0].address == "192.0.2.10", r)
		check("kw.cn (wrong key) never loaded: SERVFAIL (its placeholder)",
		      serial_of(port, "kw.cn") == "SERVFAIL")
		wait_equal("kw.cn says TSIG in its last error",
			 lambda: any("TSIG" in k or "NOTAUTH" in k for k, v in (h.metrics(mport) or {}).items()
				     if k.startswith("gatekeeper_secondary_zone_last_error{zone=\"kw.cn\"")
				     and v == 1), True)

		# 2. change at Knot + NOTIFY -> IXFR, served
		with open(os.path.join(ktmp, "knotz", "k.cn.zone"), "w") as f:
			f.write(zone_text("k.cn", 11, extra="new A 203.0.113.7\n"))
		subprocess.run([KNOTC, "-c", knot.conf, "zone-reload", "k.cn"], check=True,
			       capture_output=True)
		t0 = time.time()
		if wait_equal("k.cn serial 11 after Knot's NOTIFY", lambda: serial_of(port, "k.cn"), 11):
			h.log("served %.3f s after the reload" % (time.time() - t0))
		check("the change came by IXFR",
		      metric(mport, 'gatekeeper_secondary_zone_transfers_total{zone="k.cn",kind="ixfr"}') == 1,
		      h.metrics(mport))
		r = ask(port, "new.k.cn", "A")
		check("the new record is served", r.answer and r.answer[0][0].address == "203.0.113.7", r)
		with open(os.path.join(ktmp, "knotz", "ks.cn.zone"), "w") as f:
			f.write(zone_text("ks.cn", 21))
		subprocess.run([KNOTC, "-c", knot.conf, "zone-reload", "ks.cn"], check=True,
			       capture_output=True)
		wait_equal("ks.cn serial 21 after Knot's signed NOTIFY", lambda: serial_of(port, "ks.cn"), 21)

		# 2b. the control channel: zone status and zone refresh
		st = control(gtmp, "zone status k.cn")
		f = fields(st[0]) if len(st) == 1 else {}
		check("zone status k.cn: primary, serial, last IXFR, timers, no error",
		      st[0].startswith("ok zone k.cn source=secondary ") and
		      f.get("primary") == "127.0.0.1:%d" % knot.port and f.get("serial") == "11" and
		      f.get("last_transfer", "").startswith("ixfr,") and
		      f.get("last_refresh", "-") != "-" and f.get("next_refresh", "-") != "-" and
		      f.get("expire", "-") != "-" and f.get("last_error") == "-" and
		      int(f.get("records", "0")) >= 55 and not f.get("expired"), st)
		st = control(gtmp, "zone status kw.cn")
		check("zone status kw.cn: no serial, the TSIG error",
		      len(st) == 1 and fields(st[0]).get("serial") == "-" and
		      ("TSIG" in st[0] or "NOTAUTH" in st[0]) and
		      fields(st[0]).get("last_transfer") == "-", st)
		st = control(gtmp, "zone status")
		check("zone status lists every secondary zone, then the totals",
		      sorted(l.split()[2] for l in st if " source=secondary " in l) ==
		      ["k.cn", "ks.cn", "kw.cn", "n.cn"] and st[-1].startswith("ok zones "), st)
		checks = metric(mport, 'gatekeeper_secondary_zone_checks_total{zone="n.cn"}')
		st = control(gtmp, "zone refresh n.cn")
		check("zone refresh n.cn: queued", st == ["ok zone n.cn: SOA check queued"], st)
		wait_equal("zone refresh n.cn: an SOA check made",
			 lambda: (metric(mport, 'gatekeeper_secondary_zone_checks_total{zone="n.cn"}')
				  or 0) > checks, True)
		st = control(gtmp, "zone refresh other.cn")
		check("zone refresh of a zone that is not a secondary: error",
		      st == ["error zone other.cn is not a secondary zone"], st)

		# 2c. SIGHUP with a changed secondary section: a restart is needed, said so
		conf_path = gk_conf(gtmp, port, mport, knot.port, nsd.port)
		with open(conf_path) as f:
			text = f.read()
		with open(conf_path, "w") as f:
			f.write(text.replace("timeout_ms: 1000", "timeout_ms: 1500"))
		gk.signal(1)
		wait_equal("SIGHUP with a changed secondary section: restart needed, logged",
			 lambda: "secondary settings changed: take effect after restart" in gk.log_text(),
			 True)
		check("k.cn still served after the reload", serial_of(port, "k.cn") == 11)
		gk_conf(gtmp, port, mport, knot.port, nsd.port)

		# 3. NSD change + NOTIFY (NSD 4.6 reloads on SIGHUP and notifies)
		with open(os.path.join(ntmp, "nsdz", "n.cn.zone"), "w") as f:
			f.write(zone_text("n.cn", 101, "2 1 6 300"))
		nsd.signal(1)
		wait_equal("n.cn serial 101 after NSD's change", lambda: serial_of(port, "n.cn"), 101)

		# 4. NOTIFYs that must be refused
		before = metric(mport, 'gatekeeper_secondary_notify_total{result="refused"}') or 0
		_, r = notify(port, "other.cn")
		check("NOTIFY for an unknown zone: REFUSED", r.rcode() == dns.rcode.REFUSED, r)
		_, r = notify(port, "ks.cn")
		check("unsigned NOTIFY for a keyed zone: REFUSED", r.rcode() == dns.rcode.REFUSED, r)
		data, _ = notify(port, "ks.cn", KEY[0], WRONG)
		check("NOTIFY with a wrong key: REFUSED", (data[3] & 0x0f) == dns.rcode.REFUSED, data)
		_, r = notify(port, "k.cn")
		check("NOTIFY from the primary's address: NOERROR, AA, question echoed",
		      r.rcode() == 0 and (r.flags & dns.flags.AA) and r.opcode() == dns.opcode.NOTIFY and
		      r.question and r.question[0].name.to_text() == "k.cn.", r)
		wait_equal("three refusals counted",
			 lambda: metric(mport, 'gatekeeper_secondary_notify_total{result="refused"}'),
			 before + 3)

		# NOTIFY flood (4,000 queued while gatekeeperd is stopped, half from a stranger's
		# zone): every reply is NOERROR or REFUSED as it should be, each counted once,
		# and queries are answered afterwards
		acc0 = sum(metric(mport, 'gatekeeper_secondary_notify_total{result="%s"}' % k) or 0
			   for k in ("accepted", "dropped"))
		ref0 = metric(mport, 'gatekeeper_secondary_notify_total{result="refused"}') or 0
		wires = []
		for i in range(4000):
			q = dns.message.make_query("k.cn" if i < 2000 else "x.cn", "SOA")
			q.set_opcode(dns.opcode.NOTIFY)
			q.id = i
			wires.append(q.to_wire())
		got = h.udp_burst(gk, wires, timeout=3.0)
		good = sum(1 for i, d in got.items() if (d[3] & 0x0f) == (0 if i < 2000 else 5))
		n_ok = sum(1 for i in got if i < 2000)
		check("NOTIFY flood: replies as expected (%d of 4000 came back)" % len(got),
		      len(got) > 0 and good == len(got), len(got) - good)
		wait_equal("NOTIFY flood: accepted ones counted",
			 lambda: sum(metric(mport, 'gatekeeper_secondary_notify_total{result="%s"}' % k)
				     or 0 for k in ("accepted", "dropped")) >= acc0 + n_ok, True)
		check("NOTIFY flood: refused ones counted",
		      (metric(mport, 'gatekeeper_secondary_notify_total{result="refused"}') or 0) >=
		      ref0 + len(got) - n_ok)
		check("queries answered after the flood", serial_of(port, "k.cn") == 11)

		# 6. AXFR/IXFR from clients
		for t in ("AXFR", "IXFR"):
			try:
				r = ask(port, "k.cn", t, tcp=True)
				check("%s from a client: REFUSED" % t, r.rcode() == dns.rcode.REFUSED, r)
			except Exception as e:
				check("%s from a client: REFUSED" % t, False, e)

		# 5. serial going backwards at NSD: ignored
		with open(os.path.join(ntmp, "nsdz", "n.cn.zone"), "w") as f:
			f.write(zone_text("n.cn", 90, "2 1 6 300", extra="back A 192.0.2.99\n"))
		nsd.signal(1)
		wait_equal("NSD serves serial 90", lambda: serial_of(nsd.port, "n.cn"), 90)
		wait_equal("the older serial is counted",
			 lambda: (metric(mport, 'gatekeeper_secondary_zone_serial_backwards_total{zone="n.cn"}')
				  or 0) >= 1, True)
		check("serial 101 still served", serial_of(port, "n.cn") == 101)
		check("the older serial is logged", "older than ours" in gk.log_text())

		# 7. NSD stopped: retry, expire, SERVFAIL; NSD back: served
		nsd.stop()
		wait_equal("n.cn expires: SERVFAIL", lambda: serial_of(port, "n.cn"), "SERVFAIL", 60)
		check("k.cn still served meanwhile", serial_of(port, "k.cn") == 11)
		check("expired metric set",
		      metric(mport, 'gatekeeper_secondary_zone_expired{zone="n.cn"}') == 1)
		nsd = start_nsd(ntmp, port, [("n.cn", zone_text("n.cn", 102, "2 1 6 300"))], nsd_port)
		wait_equal("n.cn served again once NSD is back", lambda: serial_of(port, "n.cn"), 102, 60)

		# 8. restart with every primary stopped: persisted zones served at once
		# a check in flight at shutdown (Knot frozen: it accepts, never answers) is cancelled
		nsd.stop()
		knot.freeze()
		_, r = notify(port, "k.cn")
		check("NOTIFY accepted while Knot is frozen", r.rcode() == 0, r)
		rc = gk.stop()
		knot.stop()
		check("gatekeeperd exits cleanly (transfer thread stopped, nothing leaked)", rc == 0,
		      "rc %s: %s" % (rc, gk.log_text()[-3000:]))
		# a persisted file cut short (a disk that lost its tail): refused, the file named,
		# never served; the zone waits for a transfer
		npath = os.path.join(gtmp, "secondary", "n.cn.zone")
		with open(npath, "rb") as f:
			data = f.read()
		check("the persisted file is the binary form", data[:8] == b"\x89GKZONE\n", data[:16])
		with open(npath, "wb") as f:
			f.write(data[:len(data) - 7])
		gk = start_gk(binary, gtmp, port, mport, knot.port, nsd.port)
		gk.wait_ready("k.cn")
		check("a truncated persisted file: SERVFAIL at start (a placeholder) until a transfer",
		      serial_of(port, "n.cn") == "SERVFAIL", gk.log_text()[-2000:])
		check("a truncated persisted file is reported with its name",
		      "%s is not loaded (truncated" % npath in gk.log_text(), gk.log_text()[-2000:])
		check("after restart k.cn is served from disk", serial_of(port, "k.cn") == 11)
		check("after restart ks.cn is served from disk", serial_of(port, "ks.cn") == 21)
		check("the restart log says loaded from disk",
		      "serial 11 loaded from" in gk.log_text())
		rc = gk.stop()
		check("gatekeeperd exits cleanly after the restart", rc == 0,
		      "rc %s: %s" % (rc, gk.log_text()[-3000:]))
	if failures:
		print("FAILED: %d: %s" % (len(failures), "; ".join(failures)))
		return 1
	print("all passed")
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
