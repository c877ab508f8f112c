#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_zone_reload.py -- SIGHUP rebuilds only the zones whose files changed.
#
# N generated zones (plus a.example / b.example, where a CNAME of a.example leads into
# b.example, a chain answered across two zone versions):
# 1. one zone file changed: the reload log line counts exactly 1 rebuilt, N-1 unchanged, and
#    the new data is served;
# 2. the zone a CNAME chain leads into changes alone: the chain's answer follows it;
# 3. one zone added and one removed in the config: 1 added, 1 removed; the removed zone is
#    REFUSED, the added one answers; the chain into a removed zone ends at the CNAME;
# 4. a broken zone file: 1 failed, logged with file:line, its previous version keeps serving;
# 5. queries to the other zones during repeated reloads of one zone: every one answered
#    correctly (counted, zero lost);
# 6. the zones in a zone list file: a reload whose config, list and zone files are unchanged
#    but for one zone file keeps every other zone's entry (log "zone sources unchanged: N
#    zones kept, 1 updated") and serves the change; a line added to the list is read (1
#    added), as is a config edit (steps 1-5: kept while the config is unchanged, read again
#    after step 3's edit).
# Usage: test_zone_reload.py GATEKEEPERD
import os
import re
import signal
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

N = 200
fails = h.fails  # the checks that failed (h.expect keeps them)


expect = h.expect


def lookup(port, name, qtype="A", tcp=False):
	"""(rcode, [rdata text]) or (None, error)."""
	q = dns.message.make_query(name, qtype)
	try:
		r = (dns.query.tcp if tcp else dns.query.udp)(q, "127.0.0.1", port=port, timeout=2.0)
	except Exception as e:
		return None, repr(e)
	return r.rcode(), sorted(rd.to_text() for rrs in r.answer for rd in rrs)


def zone_text(name, addr, serial=1, extra=""):
	return ("$ORIGIN %s.\n$TTL 300\n"
		"@ IN SOA ns1.%s. hostmaster.%s. %d 3600 600 86400 300\n"
		"@ IN NS ns1.%s.\n"
		"ns1 IN A 192.0.2.1\n"
		"www IN A %s\n%s" % (name, name, name, serial, name, addr, extra))


def write(path, text):
	with open(path + ".tmp", "w") as f:
		f.write(text)
	os.replace(path + ".tmp", path)


class Hammer(threading.Thread):
	"""Queries www.zK.example (K cycling over zones not being reloaded) until stopped."""

	def __init__(self, port, skip):
		super().__init__(daemon=True)
		self.port, self.skip, self.stop_ev = port, skip, threading.Event()
		self.sent = self.ok = 0
		self.bad = []

	def run(self):
		k = 0
		while not self.stop_ev.is_set():
			k = (k + 1) % N
			if k == self.skip:
				continue
			rc, data = lookup(self.port, "www.z%d.example" % k, tcp=self.sent % 7 == 6)
			self.sent += 1
			if rc == dns.rcode.NOERROR and data == ["198.51.100.%d" % (k % 250)]:
				self.ok += 1
			else:
				self.bad.append((k, rc, data))


def main(argv):
	binary = argv[1]
	with h.TempDir("gk-zreload-") as tmp:
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		zones = []
		for k in range(N):
			f = "z%d.example.zone" % k
			write(os.path.join(zdir, f), zone_text("z%d.example" % k, "198.51.100.%d" % (k % 250)))
			zones.append(("z%d.example" % k, f))
		write(os.path.join(zdir, "a.example.zone"),
		      zone_text("a.example", "192.0.2.10", extra="alias IN CNAME www.b.example.\n"))
		write(os.path.join(zdir, "b.example.zone"), zone_text("b.example", "192.0.2.20"))
		zones += [("a.example", "a.example.zone"), ("b.example", "b.example.zone")]
		total = len(zones)
		srv = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, log_level="debug")
		with srv:
			port = srv.port

			def reload_line(mark):
				"""SIGHUP, then the counts of the reload's log line (dict)."""
				srv.signal(signal.SIGHUP)
				pat = re.compile(r"reload: zones: (\d+) rebuilt, (\d+) unchanged, (\d+) added, "
						 r"(\d+) removed, (\d+) failed")
				found = []

				def seen():
					m = pat.search(srv.log_text()[mark:])
					if m:
						found.append(m)
					return bool(m)
				h.wait_for("the reload's log line", seen, must=False)
				if not found:
					return None
				m = found[0]
				return dict(zip(("rebuilt", "unchanged", "added", "removed", "failed"),
						(int(x) for x in m.groups())))

			expect("start: www.z7.example", lookup(port, "www.z7.example") == (0, ["198.51.100.7"]))
			expect("start: chain a.example -> b.example",
			       lookup(port, "alias.a.example") == (0, ["192.0.2.20", "www.b.example."]),
			       lookup(port, "alias.a.example"))

			# 1. one changed file
			write(os.path.join(zdir, "z7.example.zone"), zone_text("z7.example", "203.0.113.7", 2))
			c = reload_line(len(srv.log_text()))
			expect("one changed zone: 1 rebuilt, %d unchanged, 0 added/removed/failed" % (total - 1),
			       c == {"rebuilt": 1, "unchanged": total - 1, "added": 0, "removed": 0, "failed": 0}, c)
			expect("one changed zone: new data served",
			       lookup(port, "www.z7.example") == (0, ["203.0.113.7"]), lookup(port, "www.z7.example"))
			expect("one changed zone: another zone unchanged",
			       lookup(port, "www.z8.example") == (0, ["198.51.100.8"]))
			expect("one changed zone: the config's zones kept, one entry updated",
			       "zone sources unchanged: %d zones kept, 1 updated" % total in srv.log_text(),
			       srv.log_text()[-800:])

			# 2. the target zone of a chain changes alone
			write(os.path.join(zdir, "b.example.zone"), zone_text("b.example", "192.0.2.21", 2))
			c = reload_line(len(srv.log_text()))
			expect("chain target changed: 1 rebuilt", c is not None and c["rebuilt"] == 1, c)
			expect("chain target changed: the chain's answer follows it",
			       lookup(port, "alias.a.example") == (0, ["192.0.2.21", "www.b.example."]),
			       lookup(port, "alias.a.example"))

			# 3. one zone added, one removed (the chain's target)
			write(os.path.join(zdir, "new.example.zone"), zone_text("new.example", "192.0.2.30"))
			zones2 = [z for z in zones if z[0] != "b.example"] + [("new.example", "new.example.zone")]
			h.gk_config(tmp, port, zonedir=zdir, zones=zones2, log_level="debug")
			mark = len(srv.log_text())
			c = reload_line(mark)
			expect("config edited: its zones read again (not kept)",
			       h.wait_for("the reload's log line", lambda: "reloaded:" in srv.log_text()[mark:],
					  must=False)
			       and "zone sources unchanged" not in srv.log_text()[mark:], srv.log_text()[mark:][-800:])
			expect("config: 0 rebuilt, 1 added, 1 removed",
			       c == {"rebuilt": 0, "unchanged": total - 1, "added": 1, "removed": 1, "failed": 0}, c)
			expect("config: removed zone REFUSED",
			       lookup(port, "www.b.example")[0] == dns.rcode.REFUSED, lookup(port, "www.b.example"))
			expect("config: added zone answers", lookup(port, "www.new.example") == (0, ["192.0.2.30"]))
			expect("config: the chain into the removed zone ends at its CNAME",
			       lookup(port, "alias.a.example") == (0, ["www.b.example."]), lookup(port, "alias.a.example"))

			# 4. a broken zone file keeps its previous version
			bad = zone_text("z3.example", "203.0.113.3", 3) + "broken IN A 192.0.2.999\n"
			write(os.path.join(zdir, "z3.example.zone"), bad)
			bad_line = bad.count("\n")
			mark = len(srv.log_text())
			c = reload_line(mark)
			expect("broken zone: 1 failed, 0 rebuilt", c is not None and c["failed"] == 1 and c["rebuilt"] == 0, c)
			want = "z3.example.zone:%d" % bad_line
			expect("broken zone: log names %s" % want, want in srv.log_text()[mark:], srv.log_text()[mark:][-1500:])
			expect("broken zone: previous version serves",
			       lookup(port, "www.z3.example") == (0, ["198.51.100.3"]), lookup(port, "www.z3.example"))

			# 5. queries to other zones through repeated reloads of one zone
			hammer = Hammer(port, skip=7)
			hammer.start()
			rounds = 15
			counted = 0
			for i in range(rounds):
				write(os.path.join(zdir, "z7.example.zone"),
				      zone_text("z7.example", "203.0.113.%d" % (100 + i), 10 + i))
				c = reload_line(len(srv.log_text()))
				counted += 1 if c is not None and c["rebuilt"] == 1 else 0
				# the other zones are asked between every two reloads, however fast they run
				sent = hammer.sent
				h.wait_for("queries after reload %d" % i, lambda: hammer.sent >= sent + 4)
			ok = lookup(port, "www.z7.example") == (0, ["203.0.113.%d" % (100 + rounds - 1)])
			hammer.stop_ev.set()
			hammer.join(10)
			expect("%d reloads each rebuilt one zone (%d)" % (rounds, counted), counted == rounds)
			expect("after the reloads: last version of z7 served", ok)
			expect("%d reloads: %d/%d queries to other zones answered correctly" % (rounds, hammer.ok, hammer.sent),
			       hammer.sent >= 4 * rounds and hammer.ok == hammer.sent and not hammer.bad, hammer.bad[:10])
			# the last reload retired z7's previous version: it is freed after that reload's
			# line (the free may already be logged by now, so look from the reload's line,
			# not from the end of the log as it is at this point)
			last = srv.log_text().rfind("reload: zones:")
			freed = last >= 0 and h.wait_for(
				"previous versions freed", lambda: "previous zone set freed" in srv.log_text()[last:], must=False)
			expect("replaced versions freed", freed)

			# 6. the same zones from a zone list file
			listf = os.path.join(tmp, "zones.list")
			write(listf, "".join("%s zones/%s\n" % z for z in zones2))
			h.gk_config(tmp, port, zonedir=zdir, zones=[], log_level="debug",
				    extra="zone_list: zones.list\n")
			write(os.path.join(zdir, "z3.example.zone"), zone_text("z3.example", "203.0.113.3", 4))
			c = reload_line(len(srv.log_text()))
			expect("to a zone list: the repaired zone rebuilt, nothing added or removed",
			       c is not None and c["rebuilt"] == 1 and c["added"] == 0 and c["removed"] == 0
			       and c["failed"] == 0, c)
			write(os.path.join(zdir, "z9.example.zone"), zone_text("z9.example", "203.0.113.9", 5))
			mark = len(srv.log_text())
			c = reload_line(mark)
			expect("list unchanged, one zone file changed: 1 rebuilt",
			       c is not None and c["rebuilt"] == 1 and c["added"] == 0, c)
			expect("list unchanged: every other zone's entry kept",
			       h.wait_for("zone sources unchanged",
					  lambda: "zone sources unchanged: %d zones kept, 1 updated" % len(zones2)
					  in srv.log_text()[mark:], must=False), srv.log_text()[mark:][-800:])
			expect("list unchanged: the changed zone's new data served",
			       lookup(port, "www.z9.example") == (0, ["203.0.113.9"]), lookup(port, "www.z9.example"))
			write(os.path.join(zdir, "late.example.zone"), zone_text("late.example", "192.0.2.40"))
			with open(listf, "a") as f:
				f.write("late.example zones/late.example.zone\n")
			mark = len(srv.log_text())
			c = reload_line(mark)
			expect("a line added to the list: read again, 1 added",
			       c is not None and c["added"] == 1 and c["removed"] == 0, c)
			expect("a line added to the list: the new zone answers",
			       lookup(port, "www.late.example") == (0, ["192.0.2.40"]), lookup(port, "www.late.example"))
			expect("a line added to the list: not kept",
			       "zone sources unchanged" not in srv.log_text()[mark:], srv.log_text()[mark:][-800:])
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


if __name__ == "__main__":
	if len(sys.argv) != 2:
		print("usage: test_zone_reload.py GATEKEEPERD", file=sys.stderr)
		sys.exit(2)
	sys.exit(main(sys.argv))
