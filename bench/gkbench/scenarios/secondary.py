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
import os
import random
import shutil
import socket
import struct
import subprocess
import time

from ..common import CLIENT_CORE, log
from ..procs import Proc, free_port, soa_serial
from ..stats import pctl
from ..targets import gk_target
from .zones import bump_serial, zones_data

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
			  "template:", "  - id: default", "    storage: \"%s\"" % zdir, "    file: \"%s.zone\"",
			  "    notify: secondary", "    acl: xfr", "    zonefile-sync: -1", "    zonefile-load: difference",
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


def sweep_until_served(port, names, t0, timeout, alive, batch=256, wait=0.02):
	"""Polls the SOA of every name (batches of queries on one socket) until each has answered
	authoritatively with NOERROR once; returns seconds from t0 (monotonic) when the last did."""
	pending = list(names)
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
	s.settimeout(wait)
	try:
		while pending:
			if not alive():
				raise RuntimeError("server exited while zones were polled")
			if time.monotonic() - t0 > timeout:
				raise RuntimeError("%d of %d zones not served after %d s" % (len(pending), len(names), timeout))
			chunk = pending[:batch]
			ids = {}
			for i, n in enumerate(chunk):
				qid = random.randint(0, 65535)
				ids[qid] = n
				try:
					s.sendto(soa_query(qid, n), ("127.0.0.1", port))
				except OSError:
					pass
			got = set()
			end = time.monotonic() + wait
			while time.monotonic() < end and len(got) < len(chunk):
				try:
					data = s.recv(4096)
				except OSError:
					break
				if len(data) >= 12:
					qid = struct.unpack(">H", data[:2])[0]
					if qid in ids and data[3] & 15 == 0 and data[2] & 4 and struct.unpack(">H", data[6:8])[0] > 0:
						got.add(ids[qid])
			if got:
				pending = [n for n in pending if n not in got]
			elif len(chunk) == len(pending):
				time.sleep(0.01)  # nothing new served yet
	finally:
		s.close()
	return time.monotonic() - t0


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
	sweep_until_served(port, [z["name"] for z in m["zones"]], p.t0, max(a.start_timeout, 600), p.alive)
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
			res["all_served_s"] = sweep_until_served(port, names, s.t0, timeout, s.alive)
			log("secondary %s: every one of %d zones served %.1f s after start" % (kind, len(names), res["all_served_s"]))
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
		finally:
			s.stop()
		if kind == "gatekeeperd":
			p.stop()  # no primary to contact: what answers comes from the persisted files
			s = Server("gatekeeperd-restart", argv, d, port).start()
			try:
				res["restart_s"] = sweep_until_served(port, names, s.t0, timeout, s.alive)
			finally:
				s.stop()
			t = gk_target("gatekeeperd-files", a.gatekeeperd, m, a.work)
			t.procs[0].spawn()
			try:
				res["files_s"] = sweep_until_served(t.port, names, t.procs[0].t0, timeout, t.procs[0].alive)
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
		 "the secondary answers the primary's new serial. Command: `%s`.\n" % (CATALOG, CATALOG, cmd))
	S.append("| metric | gatekeeperd | Knot (secondary) | target |\n|---|---|---|---|")
	S.append("| start until every zone is served (SOA, AA) | %s | %s | ≤ Knot: %s |" % (
		sec(g.get("all_served_s")), sec(k.get("all_served_s")), le(g.get("all_served_s"), k.get("all_served_s"))))
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
	return "\n".join(S)
