# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/secondary.py -- the secondary scenario: Knot 3.2 as the primary of N
# zones (bench/gen.py's shape), gatekeeperd and Knot as its secondaries, one at a time on the
# server core: time from start until every zone is served; one-record changes at the primary
# (a record added to its copy of the zone file, serial + 1, `knotc zone-reload`: Knot keeps the
# difference in its journal, sends NOTIFY and answers IXFR) until the secondary
# serves the new serial; gatekeeperd restarted with the primary stopped (the persisted zones
# alone) against the same zones loaded from master files. The primary lists its zones in a
# catalog zone it generates (RFC 9432, `catalog-role: generate`); each secondary is configured
# with the catalog alone (gatekeeperd: `catalog: true`, docs/SECONDARY.md; Knot:
# `catalog-role: interpret` with a member template) and takes the members it lists.
# gatekeeperd also under changes: --secondary-change-rate zone changes a second (DNS UPDATEs to
# the primary, each adding a record to a random zone: Knot sends NOTIFY, the secondary takes
# an IXFR) for --secondary-load-seconds while gkload sends --rate queries a second with
# expected rcodes, against the same load without changes: queries lost or wrong, and the CPU
# per answered query of the query threads (gk-worker-*, gk-udp-*) and of the whole process.
import datetime
import os
import random
import shutil
import socket
import struct
import subprocess
import time

from ..common import CLIENT_CORE, log
from ..load import Background
from ..procs import Proc, free_port, machine_busy_seconds, schedstat, soa_serial
from ..stats import pctl
from ..targets import gk_target
from .zones import bump_serial, expect_unenforced, zones_data

KNOTC_TIMEOUT = 60
CATALOG = "catalog.bench"


def knot_conf(path, d, port, zones, zdir=None, notify_port=None, primary_port=None):
	"""Knot 3.2 config: a primary of zones (files ZDIR/NAME.zone, a reloaded file's difference
	kept in the journal for IXFR,
	NOTIFY to notify_port, files never written back) or, with primary_port, a secondary
	(AXFR/IXFR from it, NOTIFY accepted from 127.0.0.1, zone files written after each transfer
	as its default does). One UDP, TCP and background worker, as the zones scenario's Knot."""
	lines = ["server:", "    listen: 127.0.0.1@%d" % port, "    rundir: \"%s\"" % d, "    pidfile: \"%s/knot.pid\"" % d,
		 "    udp-workers: 1", "    tcp-workers: 1", "    background-workers: 1",
		 "database:", "    storage: \"%s/db\"" % d,
		 "control:", "    listen: \"%s/knot.sock\"" % d, "    timeout: 600",
		 "log:", "  - target: \"%s/knot.log\"" % d, "    any: info"]
	if not primary_port:  # the primary: 100 updates a second are not bound by an fsync each
		lines[lines.index("database:") + 1:lines.index("database:") + 1] = ["    journal-db-mode: asynchronous"]
	if primary_port:
		member = ["    storage: \"%s/zones\"" % d, "    file: \"%s.zone\"", "    master: primary",
			  "    acl: notify", "    zonefile-sync: 0", "    journal-content: changes", "    semantic-checks: off"]
		lines += ["remote:", "  - id: primary", "    address: 127.0.0.1@%d" % primary_port,
			  "acl:", "  - id: notify", "    address: 127.0.0.1", "    action: notify",
			  "template:", "  - id: default"] + member + ["  - id: member"] + member
		lines += ["zone:", "  - domain: \"%s.\"" % CATALOG, "    catalog-role: interpret",
			  "    catalog-template: member"]
	else:
		lines += ["remote:", "  - id: secondary", "    address: 127.0.0.1@%d" % notify_port,
			  "acl:", "  - id: xfr", "    address: 127.0.0.1", "    action: transfer",
			  "  - id: update", "    address: 127.0.0.1", "    action: update",
			  "template:", "  - id: default", "    storage: \"%s\"" % zdir, "    file: \"%s.zone\"",
			  "    notify: secondary", "    acl: [xfr, update]", "    zonefile-sync: -1", "    zonefile-load: difference",
			  "    journal-content: changes", "    semantic-checks: off"]
		lines += ["zone:", "  - domain: \"%s.\"" % CATALOG, "    catalog-role: generate"]
		for z in zones:
			lines += ["  - domain: \"%s\"" % z, "    catalog-role: member", "    catalog-zone: \"%s.\"" % CATALOG]
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


def gk_conf(path, port, sdir, primary_port):
	"""gatekeeperd as a secondary of the primary's catalog (its members take the catalog's
	primaries)."""
	lines = ["listen: [\"127.0.0.1:%d\"]" % port, "workers: 1", "edns_udp_max: 1232", "log_level: info",
		 "rate_limit:", "  responses_per_second: 0",
		 "secondary:", "  directory: \"%s\"" % sdir, "  templates:", "    - id: primary",
		 "      primaries: [\"127.0.0.1:%d\"]" % primary_port, "  zones:",
		 "    - {name: \"%s\", template: primary, catalog: true}" % CATALOG]
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


def soa_query(qid, name):
	wire = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
	for label in name.rstrip(".").split("."):
		wire += bytes([len(label)]) + label.encode()
	return wire + b"\0" + struct.pack(">HH", 6, 1)


def qname_of(data):
	"""The question name of a response (lower case, no trailing dot), None if malformed."""
	labels, i = [], 12
	while i < len(data):
		n = data[i]
		if n == 0:
			return ".".join(labels).lower()
		if n & 0xC0 or i + 1 + n > len(data):
			return None
		labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
		i += 1 + n
	return None


def sweep_passes(port, names, t0, timeout, alive, window=512, quiet=0.05, seed=17):
	"""Time from t0 (monotonic) until every name has answered its SOA authoritatively with
	NOERROR once, independent of the order in which the server loads its zones: each pass sends
	the SOA query of every name still unserved, pipelined (at most WINDOW queries without an
	answer; a pass ends when all are sent and nothing has come back for QUIET seconds), and
	drops the names served; the time is when the last name's first served answer arrived. The
	names go in one shuffled order (SEED: the same for every server swept), so neither a
	server loading in the names' order nor one loading in another order is favoured. Answers
	are matched on their question name."""
	order = list(names)
	random.Random(seed).shuffle(order)
	pending = {n.rstrip(".").lower(): n for n in order}
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
	s.setblocking(False)
	dest = ("127.0.0.1", port)
	wires = {k: soa_query(0, k) for k in pending}
	last = None
	try:
		while pending:
			if not alive():
				raise RuntimeError("server exited while zones were polled")
			if time.monotonic() - t0 > timeout:
				raise RuntimeError("%d of %d zones not served after %d s" % (len(pending), len(names), timeout))
			todo = list(pending)
			i = outstanding = answered = 0
			quiet_since = time.monotonic()
			while True:
				while i < len(todo) and outstanding < window:
					try:
						s.sendto(wires[todo[i]], dest)
					except BlockingIOError:
						break
					except OSError:
						pass
					i += 1
					outstanding += 1
				try:
					data = s.recv(4096)
				except BlockingIOError:
					now = time.monotonic()
					if now - quiet_since < quiet:
						time.sleep(0.0002)
						continue
					if i >= len(todo) or answered == 0:
						break  # the pass is done, or nothing answers (not listening yet)
					outstanding, quiet_since = 0, now  # the window's queries lost
					continue
				except OSError:
					continue
				quiet_since = time.monotonic()
				outstanding = max(0, outstanding - 1)
				answered += 1
				if len(data) >= 12 and data[3] & 15 == 0 and data[2] & 4 and struct.unpack(">H", data[6:8])[0] > 0:
					k = qname_of(data)
					if k in pending:
						del pending[k]
						last = quiet_since
			if pending and answered == 0:
				time.sleep(0.01)
	finally:
		s.close()
	return (last if last is not None else time.monotonic()) - t0


def read_text(path):
	try:
		with open(path, errors="replace") as f:
			return f.read()
	except OSError:
		return ""


def log_time(line):
	"""Seconds since the epoch of a log line's leading ISO 8601 timestamp (gatekeeperd:
	`2026-12-07T04:51:16.762Z`, Knot: `2026-12-07T04:56:44+0000`), None if it has none."""
	stamp = line.split(" ", 1)[0]
	for fmt_ in ("%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
		try:
			t = datetime.datetime.strptime(stamp, fmt_)
		except ValueError:
			continue
		if t.tzinfo is None:
			t = t.replace(tzinfo=datetime.timezone.utc)
		return t.timestamp()
	return None


def last_member_axfr_s(kind, text):
	"""The server's own account of the first start: seconds from its log's first line (the
	`starting` line) to the last member zone's completed AXFR (gatekeeperd: `zone X: AXFR from`,
	the catalog zone excluded; Knot: `[X.] AXFR, incoming, ... finished`), rounded to the log's
	resolution (gatekeeperd milliseconds, Knot seconds); None if the log has neither."""
	t0 = last = None
	for line in text.splitlines():
		if t0 is None:
			t0 = log_time(line)
		if kind == "gatekeeperd":
			hit = ": AXFR from " in line and ("zone %s:" % CATALOG) not in line
		else:
			hit = "AXFR, incoming" in line and "finished" in line and ("[%s.]" % CATALOG) not in line
		if hit:
			last = log_time(line) or last
	return round(last - t0, 3) if t0 is not None and last is not None else None


def update_msg(qid, zone, owner, text):
	"""A DNS UPDATE (RFC 2136) adding one TXT record owner (in zone) with text."""
	def name(n):
		return b"".join(bytes([len(l)]) + l.encode() for l in n.rstrip(".").split(".")) + b"\0"
	t = text.encode()
	rd = bytes([len(t)]) + t
	return (struct.pack(">HHHHHH", qid, 0x2800, 1, 0, 1, 0) + name(zone) + struct.pack(">HH", 6, 1) +
		name(owner) + struct.pack(">HHIH", 16, 1, 300, len(rd)) + rd)


def thread_cpu(pid, prefixes):
	"""Seconds on the CPU (schedstat) of pid's threads whose name starts with one of prefixes."""
	t = 0
	try:
		tids = os.listdir("/proc/%d/task" % pid)
	except OSError:
		return 0.0
	for tid in tids:
		try:
			with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
				comm = f.read().strip()
			if comm.startswith(prefixes):
				with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
					t += int(f.read().split()[0])
		except (OSError, IndexError, ValueError):
			pass
	return t / 1e9


QUERY_THREADS = ("gk-worker-", "gk-udp-")


class Sampled:
	"""A Server seen by load.Background: port, pids and sample()."""

	def __init__(self, s):
		self.port, self.pids = s.port, [s.proc.proc.pid]

	def sample(self):
		return (time.monotonic(), schedstat(self.pids, 0), schedstat(self.pids, 1), machine_busy_seconds(),
			schedstat(self.pids, 0))


def churn(a, m, p, s, names):
	"""gkload at --rate with expected rcodes for --secondary-load-seconds, first without changes,
	then with --secondary-change-rate DNS UPDATEs a second at the primary (each to a random zone:
	NOTIFY, IXFR at the secondary). Lost and wrong queries and CPU per answered query of each."""
	exp = expect_unenforced(m)
	srv = Sampled(s)
	pid = s.proc.proc.pid
	secs = a.secondary_load_seconds
	rng = random.Random(a.seed + 29)
	out = {}
	for label, rate in (("quiet", 0), ("changes", a.secondary_change_rate)):
		busy0 = machine_busy_seconds()
		log0 = s.proc.log_text().count(": IXFR from ")
		q0 = thread_cpu(pid, QUERY_THREADS)
		bg = Background(srv, a.gkload, m["queries"], secs, a.rate, exp)
		sent = acked = 0
		changed = []
		if rate:
			sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
			sock.setblocking(False)
			t_end = time.monotonic() + secs
			nxt = time.monotonic()
			i = 0
			while time.monotonic() < t_end:
				z = rng.choice(names)
				sock.sendto(update_msg(i & 0xffff, z, "bench-upd-%d.%s" % (i, z), "update %d" % i),
					    ("127.0.0.1", p.port))
				changed.append(z)
				sent += 1
				i += 1
				nxt += 1.0 / rate
				while True:
					try:
						r = sock.recv(512)
						if len(r) >= 4 and r[3] & 0xf == 0:
							acked += 1
					except BlockingIOError:
						break
				time.sleep(max(0.0, nxt - time.monotonic()))
		r = bg.result()
		q1 = thread_cpu(pid, QUERY_THREADS)
		if rate:
			t1 = time.monotonic()
			while time.monotonic() - t1 < 2:  # the last answers
				try:
					sock.settimeout(0.2)
					rr = sock.recv(512)
					if len(rr) >= 4 and rr[3] & 0xf == 0:
						acked += 1
				except (socket.timeout, BlockingIOError):
					pass
			sock.close()
		got = r.get("received") or 0
		res = {"sent": r["sent"], "received": got, "lost": r["lost"], "wrong": r.get("wrong", 0),
		       "wrong_lines": r.get("wrong_lines", [])[:5], "qps": got / secs,
		       "us_per_q": r["us_per_q"], "query_us_per_q": 1e6 * (q1 - q0) / got if got else None,
		       "cpu_pct": r["cpu_pct"], "other_pct": r["other_pct"],
		       "machine_busy_pct": 100.0 * (machine_busy_seconds() - busy0) / (secs + 1),
		       "updates_sent": sent, "updates_ok": acked}
		if rate:
			# every change served: the last zones changed answer the primary's serial
			late = 0
			for z in sorted(set(changed[-50:])):
				want = soa_serial(p.port, z, timeout=1.0)
				t1 = time.monotonic()
				while soa_serial(s.port, z, timeout=0.1) != want and time.monotonic() - t1 < 10:
					time.sleep(0.01)
				late += soa_serial(s.port, z, timeout=0.5) != want
			res["checked"] = len(set(changed[-50:]))
			res["not_served"] = late
			res["ixfr"] = s.proc.log_text().count(": IXFR from ") - log0
		out[label] = res
		log("secondary churn %s: %d updates (%d acknowledged), %s IXFRs; load sent %d lost %d wrong %d; query "
		    "threads %.2f µs/q, process %.2f µs/q" % (label, sent, acked, res.get("ixfr", 0), res["sent"], res["lost"],
							      res["wrong"], res["query_us_per_q"] or 0, res["us_per_q"] or 0))
	return out


class Server:
	"""One DNS server process for this scenario (Proc + port + log)."""

	def __init__(self, label, argv, d, port, core=None):
		self.label, self.port, self.dir = label, port, d
		self.proc = Proc(label, argv, d, **({"core": core} if core else {}))

	def start(self):
		self.proc.spawn()
		self.t0 = self.proc.t0
		return self

	def alive(self):
		return self.proc.alive()

	def stop(self):
		self.proc.stop()


def knot_primary(a, m, work, notify_port):
	d = os.path.join(work, "secondary-primary")
	shutil.rmtree(d, ignore_errors=True)  # journal and timers of a previous run: the serials start anew
	os.makedirs(d)
	port = free_port()
	zdir = os.path.join(d, "zones")  # its own copy: the changes edit the files
	os.makedirs(zdir)
	os.makedirs(os.path.join(d, "db"))  # the journal: Knot does not create its directory
	for z in m["zones"]:
		shutil.copyfile(z["file"], os.path.join(zdir, z["name"] + ".zone"))
	p_zdir = zdir
	knot_conf(os.path.join(d, "knot.conf"), d, port, [z["name"] for z in m["zones"]], zdir=zdir, notify_port=notify_port)
	p = Server("knot-primary", ["knotd", "-c", os.path.join(d, "knot.conf")], d, port, core=CLIENT_CORE).start()
	p.knotc = ["knotc", "-s", os.path.join(d, "knot.sock")]
	p.zdir = p_zdir
	# the primary is ready when its last zone is (it loads them in the background)
	sweep_passes(port, [z["name"] for z in m["zones"]], p.t0, max(a.start_timeout, 600), p.alive)
	log("secondary: Knot primary of %d zones on 127.0.0.1:%d ready after %.1f s" % (len(m["zones"]), port,
											 time.monotonic() - p.t0))
	return p


def knotc(p, *args):
	r = subprocess.run(p.knotc + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
			   timeout=KNOTC_TIMEOUT)
	if r.returncode:
		raise RuntimeError("knotc %s: %s" % (" ".join(args), r.stdout.strip()))


def changes(a, p, sec, zones, k):
	"""k one-record changes at the primary (a TXT record added to a seeded zone's file with its
	serial + 1, then `knotc zone-reload`), one at a time: seconds from the reload command
	returning until the secondary serves the primary's new serial (None: not within 10 s)."""
	rng = random.Random(a.seed + 17)
	out = []
	for i in range(k):
		z = rng.choice(zones)
		path = os.path.join(p.zdir, z + ".zone")
		bump_serial(path)
		with open(path, "a") as f:
			f.write("bench-change-%d\t300\tIN\tTXT\t\"change %d\"\n" % (i, i))
		t0 = time.monotonic()
		knotc(p, "-b", "zone-reload", z)  # -b: returns once the new version is in
		t1 = time.monotonic()
		want = soa_serial(p.port, z, timeout=1.0)
		ok = False
		while time.monotonic() - t1 < 10:
			if soa_serial(sec.port, z, timeout=0.05) == want:
				ok = True
				break
			time.sleep(0.001)
		out.append({"zone": z, "reload_cmd_s": t1 - t0, "served_s": time.monotonic() - t1 if ok else None})
	return out


def secondary_run(env, m, kind):
	"""One secondary (gatekeeperd or Knot) of a fresh primary: start until every zone is
	served, the changes; gatekeeperd also the restart from its persisted zones."""
	a = env.a
	names = [z["name"] for z in m["zones"]]
	timeout = max(a.start_timeout, 600 + len(names) // 100)
	d = os.path.join(a.work, "secondary-%s" % kind)
	shutil.rmtree(d, ignore_errors=True)
	os.makedirs(d)
	port = free_port()
	p = knot_primary(a, m, a.work, port)
	res = {}
	try:
		if kind == "gatekeeperd":
			conf = os.path.join(d, "gatekeeperd.yaml")
			gk_conf(conf, port, os.path.join(d, "secondary"), p.port)
			argv = [a.gatekeeperd, "-c", conf]
		else:
			conf = os.path.join(d, "knot.conf")
			os.makedirs(os.path.join(d, "zones"))
			os.makedirs(os.path.join(d, "db"))
			knot_conf(conf, d, port, names, primary_port=p.port)
			argv = ["knotd", "-c", conf]
		s = Server("%s-secondary" % kind, argv, d, port).start()
		try:
			res["all_served_s"] = sweep_passes(port, names, s.t0, timeout, s.alive)
			res["log_last_axfr_s"] = last_member_axfr_s(kind, s.proc.log_text() if kind == "gatekeeperd" else
								     read_text(os.path.join(d, "knot.log")))
			log("secondary %s: every one of %d zones served %.1f s after start (its log: last member AXFR %s s "
			    "after its start line)" % (kind, len(names), res["all_served_s"], res["log_last_axfr_s"]))
			time.sleep(1.0)  # the last transfers' files written
			ch = changes(a, p, s, names, a.secondary_changes)
			lat = [c["served_s"] for c in ch]
			# from the reload command's start: Knot's own reload included (the same for both
			# secondaries), and the NOTIFY it may send before knotc returns
			lat0 = [c["served_s"] + c["reload_cmd_s"] if c["served_s"] is not None else None for c in ch]
			res.update({"changes": len(ch), "p50_s": pctl(lat, 50), "p99_s": pctl(lat, 99), "max_s": pctl(lat, 100),
				    "start_p50_s": pctl(lat0, 50), "start_p99_s": pctl(lat0, 99),
				    "never": sum(x is None for x in lat), "reload_cmd_p50_s": pctl([c["reload_cmd_s"] for c in ch], 50),
				    "each": ch})
			log("secondary %s: %d changes, served after the reload p50 %s p99 %s s, never %d" % (
				kind, len(ch), res["p50_s"], res["p99_s"], res["never"]))
			if kind == "gatekeeperd" and a.secondary_load_seconds > 0:
				res["churn"] = churn(a, m, p, s, names)
		finally:
			s.stop()
		if kind == "gatekeeperd":
			p.stop()  # no primary to contact: what answers comes from the persisted files
			s = Server("gatekeeperd-restart", argv, d, port).start()
			try:
				res["restart_s"] = sweep_passes(port, names, s.t0, timeout, s.alive)
			finally:
				s.stop()
			t = gk_target("gatekeeperd-files", a.gatekeeperd, m, a.work)
			t.procs[0].spawn()
			try:
				res["files_s"] = sweep_passes(t.port, names, t.procs[0].t0, timeout, t.procs[0].alive)
			finally:
				t.stop()
			log("secondary: gatekeeperd restarted with the primary down served every zone after %.1f s; from master "
			    "files %.1f s" % (res["restart_s"], res["files_s"]))
	finally:
		p.stop()
	return res


def secondary_scenario(env):
	a = env.a
	m = zones_data(env, a.secondary_n)
	out = {"n": len(m["zones"]), "changes": a.secondary_changes, "runs": {}}
	for kind in ("gatekeeperd", "Knot"):
		out["runs"][kind] = secondary_run(env, m, kind)
	return out


def markdown(r, a, cmd, when=""):
	from ..report import fmt
	g, k = r["runs"].get("gatekeeperd", {}), r["runs"].get("Knot", {})

	def sec(x):
		return "%.3f s" % x if x is not None else "-"

	def ms(x):
		return "%.1f ms" % (1e3 * x) if x is not None else "-"

	def le(x, y):
		return "PASS" if x is not None and y is not None and x <= y else "FAIL"
	S = ["\n## Secondary zones: Knot 3.2 primary of %s zones, gatekeeperd vs Knot as secondaries%s\n" % (fmt(r["n"], 0), when)]
	S.append("Knot 3.2 primary (the zones scenario's files, journal of changes, NOTIFY to the secondary; on the client "
		 "core; every zone a member of the catalog zone `%s` it generates, `catalog-role: generate`) started afresh "
		 "for each secondary; the secondary alone on the server core, configured with the catalog alone: gatekeeperd "
		 "(`secondary.zones: [{name: %s, catalog: true, template: primary}]`), or Knot 3.2 (`catalog-role: interpret`, "
		 "a `catalog-template` with `master:` the primary, zone files written after each transfer, one "
		 "UDP/TCP/background worker). "
		 "Changes: one TXT record added to the primary's copy of a zone file with the serial + 1, `knotc -b zone-reload` "
		 "(Knot keeps the difference in its journal and sends NOTIFY; the secondary takes an IXFR), one at a time; "
		 "the time is from the reload command returning until "
		 "the secondary answers the primary's new serial. Start, restart and master files: the SOA of every zone still "
		 "unserved sent in passes (pipelined, one shuffled order for both, the served dropped), the time is the last "
		 "zone's first served answer, whatever order the server loads them in. Command: `%s`.\n" % (CATALOG, CATALOG, cmd))
	S.append("| metric | gatekeeperd | Knot (secondary) | target |\n|---|---|---|---|")
	S.append("| start until every zone is served (SOA, AA) | %s | %s | ≤ Knot: %s |" % (
		sec(g.get("all_served_s")), sec(k.get("all_served_s")), le(g.get("all_served_s"), k.get("all_served_s"))))
	S.append("| the same start, the server's own log: first line to the last member zone's AXFR | %s | %s (whole "
		 "seconds) | |" % (sec(g.get("log_last_axfr_s")), sec(k.get("log_last_axfr_s"))))
	S.append("| one-record change, reload to served: p50 | %s | %s | |" % (ms(g.get("p50_s")), ms(k.get("p50_s"))))
	S.append("| one-record change, reload to served: p99 over %d | %s | %s | ≤ 1 s: %s; ≤ Knot: %s |" % (
		r["changes"], ms(g.get("p99_s")), ms(k.get("p99_s")), le(g.get("p99_s"), 1.0), le(g.get("p99_s"), k.get("p99_s"))))
	S.append("| one-record change, reload to served: max | %s | %s | |" % (ms(g.get("max_s")), ms(k.get("max_s"))))
	S.append("| one-record change, from the reload command's start (Knot's reload included): p50 / p99 | %s / %s | %s / %s "
		 "| |" % (ms(g.get("start_p50_s")), ms(g.get("start_p99_s")), ms(k.get("start_p50_s")), ms(k.get("start_p99_s"))))
	S.append("| `knotc -b zone-reload` itself: p50 | %s | %s | |" % (ms(g.get("reload_cmd_p50_s")), ms(k.get("reload_cmd_p50_s"))))
	S.append("| changes never served (10 s) | %s | %s | 0 |" % (g.get("never", "-"), k.get("never", "-")))
	S.append("| gatekeeperd restarted with %s persisted zones, primary stopped: start until every zone is served | %s "
		 "| | ≤ the same zones from master files: %s |" % (fmt(r["n"], 0), sec(g.get("restart_s")),
								    le(g.get("restart_s"), g.get("files_s"))))
	S.append("| gatekeeperd, the same zones from master files: start until every zone is served | %s | | |" % (
		sec(g.get("files_s"))))
	ch = g.get("churn")
	if ch:
		q, c = ch["quiet"], ch["changes"]

		def us(x):
			return "%.2f µs" % x if x is not None else "-"
		ratio = (c["query_us_per_q"] / q["query_us_per_q"]) if c.get("query_us_per_q") and q.get("query_us_per_q") else None
		pratio = (c["us_per_q"] / q["us_per_q"]) if c.get("us_per_q") and q.get("us_per_q") else None
		S.append("\ngatekeeperd (the same run, after the changes above) under %s queries a second (gkload, expected rcodes, "
			 "%s s) without changes, then with %s zone changes a second at the primary (DNS UPDATE adding one TXT "
			 "record to a random member zone: Knot bumps the serial, sends NOTIFY, gatekeeperd takes an IXFR); CPU "
			 "per answered query from /proc schedstat: the query threads (`gk-worker-*`, `gk-udp-*`) and the "
			 "whole process (transfer, saver and main threads included).\n" % (
				 fmt(a.rate, 0), fmt(a.secondary_load_seconds, 0), fmt(a.secondary_change_rate, 0)))
		S.append("| metric | without changes | with changes | target |\n|---|---|---|---|")
		S.append("| zone changes: UPDATEs sent / acknowledged / IXFRs taken | - | %d / %d / %s | %s a second |" % (
			c["updates_sent"], c["updates_ok"], c.get("ixfr", "-"), fmt(a.secondary_change_rate, 0)))
		S.append("| queries sent / answered | %d / %d | %d / %d | |" % (q["sent"], q["received"], c["sent"], c["received"]))
		S.append("| queries lost | %d | %d | 0: %s |" % (q["lost"], c["lost"], "PASS" if c["lost"] == 0 else "FAIL"))
		S.append("| queries wrong (rcode other than expected) | %d | %d | 0: %s |" % (
			q["wrong"], c["wrong"], "PASS" if c["wrong"] == 0 else "FAIL"))
		S.append("| query threads' CPU per query | %s | %s | ≤ 1.10×: %s (%s×) |" % (
			us(q["query_us_per_q"]), us(c["query_us_per_q"]),
			"PASS" if ratio is not None and ratio <= 1.10 else "FAIL", "%.3f" % ratio if ratio else "-"))
		S.append("| whole process CPU per query | %s | %s | (%s×) |" % (
			us(q["us_per_q"]), us(c["us_per_q"]), "%.3f" % pratio if pratio else "-"))
		S.append("| the rest of the machine, %% of a core | %.0f | %.0f | |" % (q["other_pct"], c["other_pct"]))
		S.append("| last 50 changed zones not serving the primary's serial 10 s later | - | %s of %s | 0 |" % (
			c.get("not_served", "-"), c.get("checked", "-")))
	return "\n".join(S)
