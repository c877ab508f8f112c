#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_control.py -- the control channel (docs/CONTROL.md) and zone lists.
#
# gatekeeperd serves zones from its YAML list, a zone list file and a zones directory, with
# a control socket. Every command is exercised through the socket and through gkctl; every
# bad input (bad names, missing and non-regular files, a FIFO, a zone already configured or
# not configured, a broken zone file, oversized lines, a connection closed in the middle of
# a request, too many connections) gets an error, and each time the test checks that
# nothing changed: the zones still answer (dnspython), the state file is as it was, and
# `zone status` is the same. Then persistence: a zone added at run time is served again
# after a restart, and every acknowledged add is served after kill -9 (the state journal). Last, the daemon refuses a socket path that is a regular file or a live
# socket. Usage: test_control.py GATEKEEPERD GKCTL
import os
import re
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

fails = h.fails  # the checks that failed (h.expect keeps them)
NDIR = 2500  # more directory zones than one write of a `zone status` listing holds


expect = h.expect


def lookup(port, name, qtype="A"):
	"""(rcode, sorted rdata texts) or (None, error)."""
	q = dns.message.make_query(name, qtype)
	try:
		r = dns.query.udp(q, "127.0.0.1", port=port, timeout=2.0)
	except Exception as e:
		return None, repr(e)
	return r.rcode(), sorted(rd.to_text() for rrs in r.answer for rd in rrs)


def zone_text(name, addr, serial=1):
	return ("$ORIGIN %s.\n$TTL 300\n"
		"@ IN SOA ns1.%s. hostmaster.%s. %d 3600 600 86400 300\n"
		"@ IN NS ns1.%s.\n"
		"ns1 IN A 192.0.2.1\n"
		"www IN A %s\n" % (name, name, name, serial, name, addr))


def write(path, text):
	with open(path + ".tmp", "w") as f:
		f.write(text)
	os.replace(path + ".tmp", path)


class Conn:
	"""One control connection: request lines out, answers (lists of lines) in."""

	def __init__(self, path):
		self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.s.settimeout(30.0)  # above the server's 10 s idle deadline
		self.s.connect(path)
		self.buf = b""

	def send(self, data):
		self.s.sendall(data)

	def answer(self):
		"""Lines up to the "." end marker; None when the connection closes first."""
		lines = []
		while True:
			while b"\n" not in self.buf:
				chunk = self.s.recv(65536)
				if not chunk:
					return None
				self.buf += chunk
			line, self.buf = self.buf.split(b"\n", 1)
			line = line.decode()
			if line == ".":
				return lines
			lines.append(line)

	def ask(self, req):
		self.send(req.encode() + b"\n")
		return self.answer()

	def closed(self):
		"""True when the server closed the connection (EOF after what was buffered)."""
		try:
			return self.s.recv(1) == b""
		except OSError:
			return True

	def close(self):
		self.s.close()


def main(argv):
	binary, gkctl = argv[1], argv[2]
	with h.TempDir("gk-control-") as tmp:
		zdir = os.path.join(tmp, "zones")
		ddir = os.path.join(tmp, "zd")
		os.mkdir(zdir)
		os.mkdir(ddir)
		for n in ("y1.test", "y2.test"):
			write(os.path.join(zdir, n + ".zone"), zone_text(n, "192.0.2.11"))
		write(os.path.join(zdir, "l1.test.zone"), zone_text("l1.test", "192.0.2.21"))
		write(os.path.join(zdir, "l2.test.zone"), zone_text("l2.test", "192.0.2.22"))
		write(os.path.join(ddir, "d1.test.zone"), zone_text("d1.test", "192.0.2.31"))
		write(os.path.join(ddir, "notes.txt"), "not a zone\n")
		generic = ("$TTL 300\n@ IN SOA ns1 hostmaster 3 3600 600 86400 300\n@ IN NS ns1\n"
			   "ns1 IN A 192.0.2.1\nwww IN A 192.0.2.32\n")
		for k in range(NDIR):
			with open(os.path.join(ddir, "dz%d.test.zone" % k), "w") as f:
				f.write(generic)
		write(os.path.join(zdir, "new.test.zone"), zone_text("new.test", "192.0.2.41", 7))
		write(os.path.join(zdir, "broken.zone"),
		      "$ORIGIN broken.test.\n$TTL 300\n@ IN SOA ns1 h 1 1 1 1 1\nwww IN BOGUS x\n")
		listf = os.path.join(tmp, "zones.list")
		write(listf, "# registrar list\nl1.test zones/l1.test.zone\n\nl2.test %s  # abs\n"
		      % os.path.join(zdir, "l2.test.zone"))
		sock = os.path.join(tmp, "control.sock")
		state = os.path.join(tmp, "zones.state")
		extra = ("zone_list: zones.list\n"
			 "zones_dir: {path: zd, pattern: \"%%s.zone\"}\n"
			 "control: {socket: %s, state_file: %s}\n" % (sock, state))
		zones = [("example.cn", "example.cn.zone"), ("y1.test", "y1.test.zone"),
			 ("y2.test", "y2.test.zone")]
		h.copy_zones(zdir)
		srv = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, extra=extra)
		port = srv.port

		def ctl(*args):
			p = subprocess.run([gkctl, "-c", srv.conf] + list(args), capture_output=True,
					   text=True, timeout=60)
			return p.returncode, p.stdout, p.stderr

		def served():
			return {z: lookup(port, "www." + z) for z in
				("y1.test", "l1.test", "l2.test", "d1.test", "new.test", "mid.test")}

		def state_text():
			"""The persisted state as NAME FILE lines: the state file with its journal
			applied (the last line for a name wins), None when neither exists."""
			zs, seen = {}, False
			try:
				with open(state) as f:
					seen = True
					for ln in f:
						w = ln.split()
						if len(w) == 2 and not w[0].startswith("#"):
							zs[w[0].rstrip(".").lower()] = (w[0], w[1])
			except FileNotFoundError:
				pass
			try:
				with open(state + ".journal") as f:
					seen = True
					for ln in f.read().split("\n")[:-1]:  # an unterminated line: cut short
						w = ln.split()
						if w and w[0] == "+":
							zs.pop(w[1].rstrip(".").lower(), None)
							zs[w[1].rstrip(".").lower()] = (w[1], w[2])
						elif w and w[0] == "-":
							zs.pop(w[1].rstrip(".").lower(), None)
			except FileNotFoundError:
				pass
			return "".join("%s %s\n" % v for v in zs.values()) if seen else None

		def snapshot(c):
			return (served(), state_text(), c.ask("zone status"))

		with srv:
			mode = stat.S_IMODE(os.lstat(sock).st_mode)
			expect("socket mode 0600", mode == 0o600, oct(mode))
			expect("socket is a socket", stat.S_ISSOCK(os.lstat(sock).st_mode))
			s = served()
			expect("zones from the YAML list, the zone list and the directory answer",
			       s["y1.test"] == (0, ["192.0.2.11"]) and s["l1.test"] == (0, ["192.0.2.21"])
			       and s["l2.test"] == (0, ["192.0.2.22"]) and s["d1.test"] == (0, ["192.0.2.31"]),
			       s)
			expect("a zone not configured is refused", s["new.test"][0] == dns.rcode.REFUSED, s)

			c = Conn(sock)
			a = c.ask("zone status l1.test")
			expect("zone status NAME: source list file:line, serial, records, loaded",
			       len(a) == 1 and re.match(r"ok zone l1.test source=list:%s:2 file=\S+l1.test.zone "
							r"serial=1 records=4 loaded=\d{4}-\d\d-\d\dT\S+Z state=loaded dnssec=unsigned last_error=-$"
							% re.escape(listf), a[0]), a)
			a = c.ask("zone status d1.test")
			expect("zone status of a directory zone", a and "source=dir:%s/d1.test.zone" % ddir in a[0], a)
			a = c.ask("zone status")
			expect("zone status: every zone (in several writes), then the totals",
			       a is not None and len(a) == NDIR + 7 and a[-1].startswith("ok zones %d served" % (NDIR + 6))
			       and len(set(x.split()[2] for x in a[:-1])) == NDIR + 6, a and a[-3:])
			expect("a directory zone named by its file answers",
			       lookup(port, "www.dz2499.test") == (0, ["192.0.2.32"]))
			a = c.ask("stats")
			keys = dict(x.split()[1:3] for x in a)
			expect("stats: queries, answers, refusals, zones",
			       all(x.startswith("ok ") for x in a) and int(keys.get("queries", 0)) >= 5
			       and "answers" in keys and "refusals" in keys and keys.get("zones") == str(NDIR + 6), a)

			# --- bad input: an error each time, and nothing changed ---------------------
			before = snapshot(c)
			fifo = os.path.join(tmp, "fifo.zone")
			os.mkfifo(fifo)
			bad = [
				("zone add bad..name %s/new.test.zone" % zdir, "not a valid zone name"),
				("zone add new.test relative.zone", "absolute path"),
				("zone add new.test %s/missing.zone" % zdir, "No such file"),
				("zone add new.test %s" % zdir, "not a regular file"),
				("zone add new.test %s" % fifo, "not a regular file"),
				("zone add new.test %s/broken.zone" % zdir, "broken.zone:"),
				("zone add y1.test %s/y1.test.zone" % zdir, "already configured (config %s:" % srv.conf),
				("zone add L1.TEST. %s/l1.test.zone" % zdir, "already configured (list %s:2)" % listf),
				("zone remove nope.test", "zone nope.test is not configured"),
				("zone remove l1.test", "configured in %s:2 (list): remove it there" % listf),
				("zone remove y1.test", "remove it there and reload"),
				("zone reload nope.test", "not configured"),
				("zone status nope.test", "not configured"),
				("zone frob x", "unknown zone command"),
				("frobnicate", "unknown command 'frobnicate'"),
				("zone add new.test", "usage: zone add NAME FILE"),
				("loglevel loud", "'loud' is not one of"),
				("stats now", "usage"),
				("", "empty request"),
			]
			if os.geteuid() != 0:
				unreadable = os.path.join(tmp, "unreadable.zone")
				write(unreadable, zone_text("new.test", "192.0.2.99"))
				os.chmod(unreadable, 0)
				bad.append(("zone add new.test %s" % unreadable, "Permission denied"))
			else:
				h.log("skip: unreadable zone file (running as root, who reads every file)")
			for req, want in bad:
				a = c.ask(req)
				expect("error: %r" % req, a is not None and len(a) == 1 and a[0].startswith("error ")
				       and want in a[0], a)
			after = snapshot(c)
			expect("bad requests changed nothing (answers, state file, zone status)",
			       before == after, (before, after))

			# oversized line: an error, the connection closed, nothing changed
			c2 = Conn(sock)
			c2.send(b"zone add big.test /" + b"x" * 5000)
			a = c2.answer()
			expect("oversized line: error naming the limit",
			       a is not None and len(a) == 1 and "longer than 4096 bytes" in a[0], a)
			expect("oversized line: connection closed", c2.closed())
			c2.close()
			# a request whose newline never comes: never executed
			c3 = Conn(sock)
			c3.send(("zone add mid.test %s/new.test.zone" % zdir).encode())
			c3.close()
			a = c.ask("zone status mid.test")  # answered after the close was seen
			expect("connection closed mid-request: nothing added",
			       a == ["error zone mid.test is not configured"], a)
			expect("... and nothing changed", snapshot(c) == after)
			# too many connections: the one over the cap is told and closed
			extra_conns = [Conn(sock) for _ in range(16)]
			a = extra_conns[-1].answer()
			expect("connection over the cap: error, closed",
			       a == ["error too many control connections"] and extra_conns[-1].closed(), a)
			for k in extra_conns:
				k.close()
			# the server sees those closes on its next loop turns: wait until a new
			# connection is below the cap again (each refused one is itself closed)
			def below_cap():
				k = Conn(sock)
				a = k.ask("stats")
				if a and a[0].startswith("ok queries"):
					return k
				k.close()
				return None
			c4 = h.wait_for("a connection below the cap again", below_cap, step=0.01, must=False)
			expect("closed connections leave room below the cap", c4 is not None)
			# pipelined requests in one write: answered in order, one answer each
			c4.send(b"stats\n" * 300 + b"zone status y1.test\n")
			answers = [c4.answer() for _ in range(301)]
			expect("300 pipelined requests: 301 answers in order",
			       all(x and x[0].startswith("ok queries") for x in answers[:300])
			       and answers[300] and answers[300][0].startswith("ok zone y1.test"), answers[-1])
			c4.close()
			# a connection that sends no complete request is closed at the idle deadline
			# (10 s), and its unfinished line is not executed
			c5 = Conn(sock)
			c5.send(("zone add idle.test %s/new.test.zone" % zdir).encode())
			expect("idle connection closed by the server", c5.closed())
			c5.close()
			expect("... the first connection, idle as long, too", c.closed())
			c.close()
			c = Conn(sock)
			a = c.ask("zone status idle.test")
			expect("... its unfinished request not executed",
			       a == ["error zone idle.test is not configured"], a)
			rc, out, err = ctl("zone", "status", "y1.test")
			expect("connections below the cap work again", rc == 0 and "zone y1.test" in out, (rc, out, err))

			# --- commands that change things --------------------------------------------
			a = c.ask("zone add new.test %s/new.test.zone" % zdir)
			expect("zone add: ok with serial and records",
			       a == ["ok zone new.test added (serial 7, 4 records)"], a)
			expect("zone add: answers at once", lookup(port, "www.new.test") == (0, ["192.0.2.41"]))
			st = state_text()
			expect("zone add: written to the state file",
			       st is not None and "new.test %s/new.test.zone\n" % zdir in st, st)
			a = c.ask("zone status new.test")
			expect("zone status: source control", a and "source=control:%s " % state in a[0], a)
			a = c.ask("zone add new.test %s/new.test.zone" % zdir)
			expect("zone add twice: already configured (control)",
			       a and a[0].startswith("error zone new.test is already configured (control"), a)
			# zone reload NAME: a new serial is served; a broken file keeps the old version
			write(os.path.join(zdir, "new.test.zone"), zone_text("new.test", "192.0.2.42", 8))
			a = c.ask("zone reload new.test")
			expect("zone reload NAME", a == ["ok zone new.test reloaded (serial 8, 4 records)"], a)
			expect("zone reload NAME: new data", lookup(port, "www.new.test") == (0, ["192.0.2.42"]))
			write(os.path.join(zdir, "new.test.zone"), "$ORIGIN new.test.\nwww IN A 192.0.2.43\n")
			a = c.ask("zone reload new.test")
			expect("zone reload NAME of a broken file: error, old version serves",
			       a and a[0].startswith("error zone new.test not reloaded")
			       and lookup(port, "www.new.test") == (0, ["192.0.2.42"]), a)
			a = c.ask("zone status new.test")
			expect("zone status shows the last error and the serving serial",
			       a and "serial=8" in a[0] and "last_error=" in a[0] and "last_error=-" not in a[0], a)
			write(os.path.join(zdir, "new.test.zone"), zone_text("new.test", "192.0.2.44", 9))
			write(os.path.join(zdir, "l2.test.zone"), zone_text("l2.test", "192.0.2.23", 2))
			a = c.ask("zone reload")
			expect("zone reload: the changed files rebuilt",
			       a == ["ok zones reloaded: 2 rebuilt, %d unchanged" % (NDIR + 5)], a)
			expect("zone reload: new data", lookup(port, "www.l2.test") == (0, ["192.0.2.23"])
			       and lookup(port, "www.new.test") == (0, ["192.0.2.44"]))
			a = c.ask("zone status new.test")
			expect("zone status: error cleared after a good load", a and a[0].endswith("last_error=-"), a)
			a = c.ask("reload")
			expect("reload", a and a[0].startswith("ok reloaded"), a)
			expect("reload keeps the added zone", lookup(port, "www.new.test") == (0, ["192.0.2.44"]))
			a = c.ask("loglevel debug")
			expect("loglevel", a == ["ok log level debug"], a)
			h.log("     (the log says: %s)" % ("control: log level debug" in srv.log_text()))
			# gkctl: exit codes and output
			rc, out, err = ctl("stats")
			expect("gkctl stats: exit 0, counters without the ok prefix",
			       rc == 0 and re.search(r"^queries \d+$", out, re.M), (rc, out, err))
			rc, out, err = ctl("zone", "remove", "y1.test")
			expect("gkctl: an error answer exits 1 on stderr",
			       rc == 1 and "remove it there" in err and out == "", (rc, out, err))
			rc, out, err = ctl("zone", "add", "bad..name", "x.zone")
			expect("gkctl: a bad request exits 2 without asking", rc == 2 and "not a valid zone name" in err,
			       (rc, out, err))
			p = subprocess.run([gkctl, "--control", os.path.join(tmp, "nope.sock"), "stats"],
					   capture_output=True, text=True, timeout=30)
			expect("gkctl: no socket exits 3", p.returncode == 3 and "cannot connect" in p.stderr,
			       (p.returncode, p.stderr))
			write(os.path.join(tmp, "g2.test.zone"), zone_text("g2.test", "192.0.2.52"))
			p = subprocess.run([gkctl, "--control", sock, "zone", "add", "g2.test", "g2.test.zone"],
					   capture_output=True, text=True, timeout=60, cwd=tmp)
			expect("gkctl zone add: a relative file is made absolute",
			       p.returncode == 0 and "g2.test added" in p.stdout
			       and lookup(port, "www.g2.test") == (0, ["192.0.2.52"]), (p.returncode, p.stdout, p.stderr))
			rc, out, err = ctl("zone", "remove", "g2.test")
			expect("gkctl zone remove", rc == 0 and "zone g2.test removed" in out
			       and lookup(port, "www.g2.test")[0] == dns.rcode.REFUSED, (rc, out, err))
			expect("zone remove: gone from the state file", "g2.test" not in (state_text() or ""))
			c.close()

		# --- persistence: the added zone survives a restart ------------------------------
		srv2 = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, extra=extra)
		with srv2:
			expect("restart: the zone added at run time is served",
			       lookup(srv2.port, "www.new.test") == (0, ["192.0.2.44"]))
			c = Conn(sock)
			a = c.ask("zone status new.test")
			expect("restart: its source is the state file", a and "source=control:%s:" % state in a[0], a)
			a = c.ask("zone remove new.test")
			expect("zone remove after restart", a == ["ok zone new.test removed"], a)
			c.close()
			# a second daemon on the same socket: refused, the first keeps it
			p = subprocess.run([binary, "-c", srv2.conf], capture_output=True, text=True, timeout=60)
			expect("a live socket: the second daemon refuses to start",
			       p.returncode != 0 and "another process is listening" in p.stdout + p.stderr,
			       (p.returncode, p.stdout[-500:], p.stderr[-500:]))
			rc, out, err = ctl("stats")
			expect("... and the first still answers on it", rc == 0, (rc, out, err))
		expect("stopped: the socket file is removed", not os.path.exists(sock))

		# --- durability: every acknowledged add survives kill -9 (the journal) ----------------
		NKILL = 40
		for k in range(NKILL):
			write(os.path.join(zdir, "k%d.test.zone" % k), zone_text("k%d.test" % k, "192.0.2.61"))
		srv3 = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, extra=extra)
		with srv3:
			c = Conn(sock)
			acks = [c.ask("zone add k%d.test %s/k%d.test.zone" % (k, zdir, k)) for k in range(NKILL)]
			a = c.ask("zone remove k0.test")
			# the journal is folded into the state file at 256 KiB: a zone file under a
			# 2,000-byte path, added and removed until the journal has taken 300 KiB
			ldir = os.path.join(tmp, *(["x" * 199] * 10))
			os.makedirs(ldir)
			lfile = os.path.join(ldir, "kl.test.zone")
			write(lfile, zone_text("kl.test", "192.0.2.62"))
			jpath, total, lacks = state + ".journal", 0, []
			while total < 300 << 10:
				lacks.append(c.ask("zone add kl.test %s" % lfile))
				lacks.append(c.ask("zone remove kl.test"))
				total += len("+ kl.test %s\n- kl.test\n" % lfile)
			lacks.append(c.ask("zone add kl.test %s" % lfile))
			c.close()
			expect("%d adds and removes under a long path acknowledged" % len(lacks),
			       all(x and x[0].startswith("ok zone kl.test") for x in lacks), lacks[:2])
			jsize = os.path.getsize(jpath) if os.path.exists(jpath) else 0
			st = ""
			if os.path.exists(state):  # the state file proper, without the journal
				with open(state) as f:
					st = f.read()
			expect("the journal was folded into the state file (%d of %d bytes left)" % (jsize, total),
			       jsize < 256 << 10 and "k1.test %s/k1.test.zone\n" % zdir in st
			       and "k0.test" not in st, (jsize, st[:300]))
			expect("%d adds and a remove acknowledged" % NKILL,
			       all(x and x[0].startswith("ok zone k%d.test added" % k) for k, x in enumerate(acks))
			       and a == ["ok zone k0.test removed"], (acks[:3], a))
			srv3.signal(9)
			srv3.proc.wait(30)
		os.unlink(sock)  # left behind by kill -9
		srv4 = h.start_gk(binary, tmp, zonedir=zdir, zones=zones, extra=extra)
		with srv4:
			got = [lookup(srv4.port, "www.k%d.test" % k) for k in range(NKILL)]
			expect("after kill -9: every acknowledged add is served, the removed zone is not",
			       got[0][0] == dns.rcode.REFUSED and all(g == (0, ["192.0.2.61"]) for g in got[1:])
			       and lookup(srv4.port, "www.kl.test") == (0, ["192.0.2.62"]), got[:3])
			c = Conn(sock)
			c.ask("zone remove kl.test")
			for k in range(1, NKILL):
				c.ask("zone remove k%d.test" % k)
			c.close()
			st = state_text() or ""
			expect("... and removes through the journal leave none of them", "k1.test" not in st, st)
		# a socket path that is a regular file: refused, the file untouched
		write(sock, "precious\n")
		p = subprocess.run([binary, "-c", srv2.conf], capture_output=True, text=True, timeout=60)
		with open(sock) as f:
			kept = f.read()
		expect("a regular file at the socket path: refuses to start, file untouched",
		       p.returncode != 0 and "exists and is not a socket" in p.stdout + p.stderr
		       and kept == "precious\n", (p.returncode, p.stdout[-300:], p.stderr[-300:]))
	if fails:
		h.log("%d FAILED: %s" % (len(fails), "; ".join(fails)))
		return 1
	h.log("all control channel checks passed")
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
