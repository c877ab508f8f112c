#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_reload.py -- SIGHUP reloads and SIGTERM exit.
#
# 1. SIGHUP after adding a record: the new record is served, and the previous zone set is
#    freed although no query arrives (every reading thread passes quiescent points).
# 2. SIGHUP with a broken zone: the old answers are still served and the log names
#    file:line of the error.
# 3. Queries sent continuously (UDP and TCP) during a burst of reloads are all answered.
# 4. The policy file (policy.file) reloads with SIGHUP: a block entry takes effect; a broken
#    list is logged with file:line and the running policy and zones stay; removing it
#    restores the answer.
# 5. SIGTERM: exit status 0.
# Usage: test_reload.py GATEKEEPERD
#
# `test_reload.py GATEKEEPERD startup-hup`: SIGHUP (by PID) while a large zone set is still
# loading -- sent once the log says loading started -- does not kill the daemon (it did,
# exit 129, when the handler was installed after the zones loaded); it comes up, runs the
# pending reload and serves.
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

fails = h.fails  # the checks that failed (h.expect keeps them)


expect = h.expect


def lookup(port, name, qtype="A", tcp=False):
	"""(rcode, [rdata text]) or (None, error)."""
	q = dns.message.make_query(name, qtype)
	try:
		r = (dns.query.tcp if tcp else dns.query.udp)(q, "127.0.0.1", port=port, timeout=1.0)
	except Exception as e:
		return None, repr(e)
	return r.rcode(), sorted(rd.to_text() for rrs in r.answer for rd in rrs)


def bump_serial(text, serial):
	return text.replace("2026010101 ; serial", "%d ; serial" % serial)


class Hammer(threading.Thread):
	"""Queries www.example.cn A back to back (UDP, every 5th over TCP) until stopped."""

	def __init__(self, port):
		super().__init__(daemon=True)
		self.port, self.stop_ev = port, threading.Event()
		self.sent = self.ok = 0
		self.bad = []

	def run(self):
		while not self.stop_ev.is_set():
			tcp = self.sent % 5 == 4
			rc, data = lookup(self.port, "www.example.cn", tcp=tcp)
			self.sent += 1
			if rc == dns.rcode.NOERROR and data == ["192.0.2.10"]:
				self.ok += 1
			else:
				self.bad.append((time.time(), "tcp" if tcp else "udp", rc, data))


def main(argv):
	binary = argv[1]
	with h.TempDir("gk-reload-") as tmp:
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		h.copy_zones(zdir)
		zpath = os.path.join(zdir, "example.cn.zone")
		original = open(zpath).read()
		pdir = os.path.join(tmp, "policy")
		os.mkdir(pdir)
		block = os.path.join(pdir, "block.txt")
		with open(os.path.join(pdir, "policy.yaml"), "w") as f:
			f.write("lists:\n  - {file: block.txt, format: plain, kind: block, action: refuse, ede: 17,"
				" text: \"blocked by operator\"}\n")
		with open(block, "w") as f:
			f.write("# nothing blocked yet\n")
		srv = h.start_gk(binary, tmp, zonedir=zdir, extra="policy:\n  file: policy/policy.yaml\n",
				 log_level="debug")
		with srv:
			port = srv.port
			expect("before reload: new.example.cn is NXDOMAIN",
			       lookup(port, "new.example.cn")[0] == dns.rcode.NXDOMAIN)

			# 1. a changed zone
			with open(zpath, "w") as f:
				f.write(bump_serial(original, 2026010102) + "\nnew.example.cn. 300 IN A 192.0.2.240\n")
			srv.signal(signal.SIGHUP)
			ok = h.wait_for("new.example.cn served", lambda: lookup(port, "new.example.cn") == (0, ["192.0.2.240"]),
					 must=False)
			expect("SIGHUP: new record new.example.cn A 192.0.2.240 served", ok, lookup(port, "new.example.cn"))
			expect("SIGHUP: old data still there", lookup(port, "www.example.cn") == (0, ["192.0.2.10"]))
			expect("SIGHUP: other zones still there", lookup(port, "www.other.com.cn") == (0, ["192.0.2.81"]))
			# every thread that reads the zone set passes a quiescent point even when idle (the
			# UDP threads wake from recvmmsg at least every 100 ms): the old set is freed
			freed = h.wait_for("the previous zone set freed", lambda: "previous zone set freed" in srv.log_text(),
					    must=False)
			expect("SIGHUP: the previous zone set freed while idle", freed, srv.log_text()[-1500:])

			# 2. a broken zone: error at a known line, previous zone set kept
			good_text = open(zpath).read()
			lines = good_text.splitlines()
			broken = lines + ["broken IN A 192.0.2.999"]
			bad_line = len(broken)
			with open(zpath, "w") as f:
				f.write("\n".join(broken) + "\n")
			mark = len(srv.log_text())
			srv.signal(signal.SIGHUP)
			want = "example.cn.zone:%d" % bad_line
			logged = h.wait_for(want, lambda: want in srv.log_text()[mark:], must=False)
			expect("broken zone: log names %s" % want, logged, srv.log_text()[mark:][-2000:])
			expect("broken zone: server alive", srv.alive())
			expect("broken zone: old answers still served (new record)",
			       lookup(port, "new.example.cn") == (0, ["192.0.2.240"]), lookup(port, "new.example.cn"))
			expect("broken zone: old answers still served (www, over TCP)",
			       lookup(port, "www.example.cn", tcp=True) == (0, ["192.0.2.10"]))
			expect("broken zone: broken name not served",
			       lookup(port, "broken.example.cn")[0] == dns.rcode.NXDOMAIN)

			# 3. continuous queries through a burst of reloads (valid zones, changing serial)
			hammer = Hammer(port)
			hammer.start()
			for n in range(1, 21):
				with open(zpath + ".tmp", "w") as f:
					f.write(bump_serial(original, 2026010200 + n) + "\nreload%d IN TXT \"%d\"\n" % (n, n))
				os.replace(zpath + ".tmp", zpath)
				srv.signal(signal.SIGHUP)
				# queries go on between every two signals, however fast they come
				sent = hammer.sent
				h.wait_for("queries after SIGHUP %d" % n, lambda: hammer.sent >= sent + 3)
			hammer.stop_ev.set()
			hammer.join(10)
			expect("%d reloads under load: %d/%d queries answered correctly" % (n, hammer.ok, hammer.sent),
			       hammer.sent >= 3 * n and hammer.ok == hammer.sent and not hammer.bad, hammer.bad[:10])
			ok = h.wait_for("the last version", lambda: lookup(port, "reload%d.example.cn" % n, "TXT") == (0, ['"%d"' % n]),
					 must=False)
			expect("after the burst: last zone version served", ok, lookup(port, "reload%d.example.cn" % n, "TXT"))
			expect("after the burst: new.example.cn gone (file no longer has it)",
			       lookup(port, "new.example.cn")[0] == dns.rcode.NXDOMAIN)

			# 4. the policy file
			with open(block, "w") as f:
				f.write("www.example.cn\n")
			srv.signal(signal.SIGHUP)
			ok = h.wait_for("www.example.cn refused", lambda: lookup(port, "www.example.cn")[0] == dns.rcode.REFUSED,
					 must=False)
			expect("policy reload: www.example.cn blocked (REFUSED)", ok, lookup(port, "www.example.cn"))
			q = dns.message.make_query("www.example.cn", "A", use_edns=0)
			r = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
			ede = [(o.code, o.text) for o in r.options if o.otype == 15]
			expect("policy reload: EDE 17 'blocked by operator'", ede == [(17, "blocked by operator")], ede)
			with open(block, "w") as f:
				f.write("www.example.cn\nmail.example.cn\nbad..name.example.cn\n")
			mark = len(srv.log_text())
			srv.signal(signal.SIGHUP)
			logged = h.wait_for("block.txt:3 logged", lambda: "block.txt:3" in srv.log_text()[mark:], must=False)
			expect("broken policy list: log names block.txt:3", logged, srv.log_text()[mark:][-1500:])
			expect("broken policy list: running policy stays (www REFUSED, mail answered)",
			       lookup(port, "www.example.cn")[0] == dns.rcode.REFUSED and
			       lookup(port, "mail.example.cn")[0] == dns.rcode.NOERROR,
			       (lookup(port, "www.example.cn"), lookup(port, "mail.example.cn")))
			with open(block, "w") as f:
				f.write("")
			srv.signal(signal.SIGHUP)
			ok = h.wait_for("www.example.cn answered", lambda: lookup(port, "www.example.cn") == (0, ["192.0.2.10"]),
					 must=False)
			expect("policy reload: entry removed, www.example.cn answered again", ok, lookup(port, "www.example.cn"))

			# 5. SIGTERM exits 0
			expect("server alive before SIGTERM", srv.alive(), srv.log_text()[-2000:])
			srv.signal(signal.SIGTERM)
			try:
				rc = srv.proc.wait(10)
			except Exception:
				rc = "did not exit within 10s"
			expect("SIGTERM: exit status 0 (got %s)" % rc, rc == 0, srv.log_text()[-1500:])
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


BIG_ZONES, BIG_RRS = 40, 6000  # about 2 s of loading on the 2-core test machine


def big_zones(zdir):
	"""BIG_ZONES zones of BIG_RRS A records each; returns [(name, file)]."""
	out = []
	for z in range(BIG_ZONES):
		name = "big%02d.cn" % z
		path = os.path.join(zdir, name + ".zone")
		with open(path, "w") as f:
			f.write("$ORIGIN %s.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n"
				"@ IN NS ns1\nns1 IN A 192.0.2.1\n" % name)
			for i in range(BIG_RRS):
				f.write("h%d IN A 198.51.%d.%d\n" % (i, (i >> 8) & 255, i & 255))
		out.append((name, name + ".zone"))
	return out


def startup_hup(binary):
	with h.TempDir("gk-reload-hup-") as tmp:
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		h.copy_zones(zdir)
		zones = h.ZONES + big_zones(zdir)
		srv = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, ready=False)
		try:
			expect("log says loading started", h.wait_for(
				"loading started", lambda: "loading %d zones" % len(zones) in srv.log_text() or not srv.alive(),
				must=False) and srv.alive(), srv.log_text()[-1500:])
			loaded = "loaded %d zones" % len(zones) in srv.log_text()
			srv.signal(signal.SIGHUP)
			h.log("SIGHUP sent %s the zones loaded" % ("after" if loaded else "before"))
			expect("SIGHUP sent while the zones were still loading", not loaded)
			try:
				srv.wait_ready(timeout=600)
				up = True
			except RuntimeError as e:
				up = False
				h.log(str(e)[-1500:])
			expect("daemon survives a SIGHUP during start-up (rc %s)" % srv.proc.returncode, up)
			expect("the pending SIGHUP reloads once the loop runs", h.wait_for(
				"the reload", lambda: "reloaded: %d zones" % len(zones) in srv.log_text(), timeout=600,
				must=False),
				srv.log_text()[-1500:])
			rc, data = lookup(srv.port, "h4097.big07.cn")
			expect("a big zone is served", rc == dns.rcode.NOERROR and data == ["198.51.16.1"],
			       (rc, data))
		finally:
			rc = srv.stop(30)
		expect("SIGTERM: exit status 0 (got %s)" % rc, rc == 0)
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


if __name__ == "__main__":
	if len(sys.argv) == 3 and sys.argv[2] == "startup-hup":
		sys.exit(startup_hup(sys.argv[1]))
	if len(sys.argv) != 2:
		sys.exit("usage: test_reload.py GATEKEEPERD [startup-hup]")
	sys.exit(main(sys.argv))
