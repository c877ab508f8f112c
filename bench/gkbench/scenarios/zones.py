# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/zones.py -- the zones scenario: N generated zones (bench/gen.py's
# shape, default 1,000,000) served by gatekeeperd, NSD and Knot from the same master files,
# one server at a time: time from process start until every zone answers, resident memory and
# bytes per record and per zone, a reload of one changed zone file out of N (gatekeeperd:
# SIGHUP; NSD: nsd-control reload ZONE; Knot: knotc zone-reload ZONE); then gatekeeperd
# (filing enforced, redis-server on the server's core as a single host runs it) against NSD at
# N zones: peak qps, CPU at the fixed rate, and p99 from dnsperf -v per-query latencies on a
# fresh server and right after a peak-rate run; then, when gkctl has `zone` commands, zone
# add/replace/remove through the control channel while serving the fixed rate.
import datetime
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from ..common import SERVER_CORE, log
from ..load import GKLOAD_PEAK, GKLOAD_SOCKETS, Background, dnsperf, dnsperf_latency, gkload_run
from ..procs import dns_query, pss_kib, reset_hwm, soa_serial, status_kib, tree
from ..rounds import logrun, quiet, round_robin
from ..stats import pctl
from ..targets import Redis, gk_sync, gk_target, knot_target, nsd_target, wait_ready

SAMPLE = 200  # zones polled at start-up, besides the last generated ones
LAST = 100


def zones_data(env, n):
	"""The N-zone data set (zones/, queries, manifest) under DATA/zones-nN-qQ-sS-vV, generated
	once and reused while those parameters hold (gen.generate checks them)."""
	a = env.a
	d = os.path.join(env.data, "zones-n%d-q%d-s%d-v%d" % (n, a.queries, a.seed, gen.GEN_VERSION))
	t0 = time.monotonic()
	m = gen.generate(d, n, a.queries, a.seed)
	log("zones: %d zones in %s (%.1f s)" % (len(m["zones"]), d, time.monotonic() - t0))
	return m


def poll_set(m, seed):
	"""Names whose SOA is polled until each answers: a seeded sample plus the last generated."""
	names = [z["name"] for z in m["zones"]]
	rng = random.Random(seed + 31)
	return sorted(set(rng.sample(names, min(SAMPLE, len(names))) + names[-LAST:]))


def log_time(path, rx, fmt, last=False, offset=0):
	"""Epoch seconds of the first (or last) line of the log at path (from byte offset on)
	matching rx, whose group 1 is a timestamp in strptime format fmt (UTC); None when there
	is none."""
	try:
		with open(path, "rb") as f:
			f.seek(offset)
			text = f.read().decode(errors="replace")
	except OSError:
		return None
	ms = re.findall(rx, text, re.M)
	if not ms:
		return None
	v = ms[-1] if last else ms[0]
	v = v[0] if isinstance(v, tuple) else v
	return datetime.datetime.strptime(v, fmt).replace(tzinfo=datetime.timezone.utc).timestamp()


GK_TS = (r"^(\d{4}-\d\d-\d\dT[\d:.]+)Z \w+: ", "%Y-%m-%dT%H:%M:%S.%f")
NSD_TS = (r"^\[(\d{4}-\d\d-\d\d [\d:.]+)\] ", "%Y-%m-%d %H:%M:%S.%f")
KNOT_TS = (r"^(\d{4}-\d\d-\d\dT[\d:]+)\+0000 \w+: ", "%Y-%m-%dT%H:%M:%S")


GK_READY = b"ready: loaded "  # gatekeeperd that loads zones after its listeners are up logs this once all are in
_has_ready = {}


def gk_has_ready(binary):
	"""Whether this gatekeeperd build announces the end of zone loading (`ready: loaded N
	zones ...`, with the gatekeeper_zones_ready metric): it loads zones in parallel after its
	listeners are up, so `listening on` comes before the zones answer. Older builds load every
	zone before they listen."""
	if binary not in _has_ready:
		try:
			with open(binary, "rb") as f:
				_has_ready[binary] = GK_READY in f.read()
		except OSError:
			_has_ready[binary] = False
	return _has_ready[binary]


def gk_signal(binary):
	"""(what, regex) of gatekeeperd's readiness line in its log."""
	if gk_has_ready(binary):
		return "log `ready: loaded N zones`", r"ready: loaded \d+ zones"
	return "log `listening on`", r"listening on (?!/)"  # the DNS listeners, not the control socket's line


def wait_gk_ready(t, binary, timeout):
	"""Waits until gatekeeperd target t has logged its readiness (gk_signal): after it, every
	zone it will load is in, so no query meets a zone still loading (SERVFAIL). Returns
	seconds waited."""
	what, rx = gk_signal(binary)
	t0 = time.monotonic()
	p = t.procs[0]
	while not re.search(rx, p.log_text(), re.M):
		if not p.alive():
			raise RuntimeError("%s exited before %s; see %s" % (p.label, what, p.logpath))
		if time.monotonic() - t0 > timeout:
			raise RuntimeError("%s: no %s after %d s" % (p.label, what, timeout))
		time.sleep(0.05)
	return time.monotonic() - t0


def ready_signal(t):
	"""(what, epoch seconds) of the server's own readiness signal, where it has one."""
	if t.kind == "gatekeeperd":
		what, rx = gk_signal(t.procs[0].argv[0])
		return what, log_time(t.procs[0].logpath, GK_TS[0] + rx, GK_TS[1])
	if t.kind == "NSD":
		return "log `nsd started`", log_time(t.logfile, NSD_TS[0] + r".*nsd started", NSD_TS[1])
	# Knot loads zones in the background after it starts: its last zone `loaded` line (1 s resolution)
	return "last log `loaded, serial` (1 s resolution)", log_time(t.logfile, KNOT_TS[0] + r"\[.*\] loaded, serial", KNOT_TS[1],
								      last=True)


def start_all_answer(t, names, timeout):
	"""Starts target t and polls the SOA of every name until each has answered (authoritative,
	NOERROR) once; returns seconds from spawn. Pins t like Target.start."""
	p = t.procs[0]
	t0, w0 = time.monotonic(), time.time()
	p.spawn()
	pending = list(names)
	# one name at a time until it answers: a name that answers was loaded, so the time the
	# last one first answered is the time every polled zone answers (to one poll, 20 ms)
	while pending:
		if not p.alive():
			raise RuntimeError("%s exited during start; see %s:\n%s" % (p.label, p.logpath, p.log_text()[-2000:]))
		if time.monotonic() - t0 > timeout:
			raise RuntimeError("%s: %d of %d zones not answering after %d s" % (t.label, len(pending), len(names), timeout))
		r = dns_query(t.port, pending[0], 6, timeout=0.02)
		if r is not None and r[0] == 0 and r[1]:
			pending.pop(0)
		elif r is not None:
			time.sleep(0.01)  # answered, but not (yet) from the zone
	t.load_s = time.monotonic() - t0
	t.spawn_epoch = w0
	time.sleep(0.5)
	p.pin()
	t.pids = list(p.pids)
	return t.load_s


def warm_files(m):
	"""Reads every zone file once, so that each server starts with the same files in the page
	cache: the first server to start would otherwise pay for reading a million files from
	disk (a cold start of gatekeeperd took 64.6 s where a warm one took 44.2 s) and the ones
	after it would find them cached. Returns (files, MiB, seconds)."""
	t0, n, b = time.monotonic(), 0, 0
	for z in m["zones"]:
		with open(z["file"], "rb") as f:
			while True:
				chunk = f.read(1 << 20)
				if not chunk:
					break
				b += len(chunk)
		n += 1
	return n, b / 1048576.0, time.monotonic() - t0


def memory(t, settle):
	time.sleep(settle)  # retired load buffers freed after a grace period
	t.pids = tree(t.procs[0].proc.pid)
	return {"rss_kib": status_kib(t.pids, "VmRSS"), "hwm_kib": status_kib(t.pids, "VmHWM"), "pss_kib": pss_kib(t.pids),
		"procs": len(t.pids)}


def bump_serial(path):
	"""Rewrites the zone file at path with its SOA serial + 1 (a new file renamed over it, as
	an operator's tooling does); returns (old text, new serial)."""
	with open(path) as f:
		old = f.read()
	m = re.search(r"(\tSOA\t\S+ \S+ \( )(\d+)", old)
	new_serial = int(m.group(2)) + 1
	text = old[:m.start(2)] + str(new_serial) + old[m.end(2):]
	tmp = path + ".tmp"
	with open(tmp, "w") as f:
		f.write(text)
	os.replace(tmp, path)
	return old, new_serial


def restore(path, text):
	tmp = path + ".tmp"
	with open(tmp, "w") as f:
		f.write(text)
	os.replace(tmp, path)


def reload_one(t, zone, timeout):
	"""One changed zone file out of N, reloaded the server's way; returns the times from the
	command to the new serial answering (and to gatekeeperd's `reloaded:` log line), the
	command's own time, and the extra memory (sampled every 10 ms, and VmHWM reset before)."""
	path = zone["file"]
	pids = tree(t.procs[0].proc.pid)
	before = {"rss": status_kib(pids, "VmRSS"), "pss": pss_kib(pids)}
	reset_hwm(pids)
	old, serial = bump_serial(path)
	peak = [before["rss"]]
	stop = threading.Event()

	def sampler():
		while not stop.is_set():
			peak[0] = max(peak[0], status_kib(tree(t.procs[0].proc.pid), "VmRSS"))
			time.sleep(0.01)
	th = threading.Thread(target=sampler)
	th.start()
	res = {"zone": zone["name"], "serial": serial}
	try:
		w0, t0 = time.time(), time.monotonic()
		if t.kind == "gatekeeperd":
			log_at = os.path.getsize(t.procs[0].logpath)
			res["command"] = "kill -HUP"
			os.kill(t.procs[0].proc.pid, signal.SIGHUP)
			res["cmd_s"] = 0.0
		else:
			argv = t.control + (["reload", zone["name"]] if t.kind == "NSD" else ["zone-reload", zone["name"]])
			res["command"] = "%s %s" % (argv[0], argv[-2])
			p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
			res["cmd_s"] = time.monotonic() - t0
			res["cmd_out"] = p.stdout.strip()
			if p.returncode:
				raise RuntimeError("%s: %s failed (%d): %s" % (t.label, " ".join(argv), p.returncode, p.stdout))
		while soa_serial(t.port, zone["name"], timeout=0.05) != serial:
			if time.monotonic() - t0 > timeout:
				raise RuntimeError("%s: %s serial %d not served %d s after the reload" % (t.label, zone["name"], serial, timeout))
			if not t.procs[0].alive():
				raise RuntimeError("%s died in the reload; see %s" % (t.label, t.procs[0].logpath))
		res["served_s"] = time.monotonic() - t0
		if t.kind == "gatekeeperd":
			while True:
				tl = log_time(t.procs[0].logpath, GK_TS[0] + r"reloaded: ", GK_TS[1], offset=log_at)
				if tl is not None:
					res["log_s"] = max(0.0, tl - w0)
					break
				if time.monotonic() - t0 > timeout:
					raise RuntimeError("gatekeeperd: no `reloaded:` log line %d s after SIGHUP" % timeout)
				time.sleep(0.01)
		time.sleep(0.3)  # the old version's memory is freed after the workers' grace period
	finally:
		stop.set()
		th.join()
		restore(path, old)  # the cached data set stays as generated (the server keeps the new serial)
	pids = tree(t.procs[0].proc.pid)
	res["peak_extra_kib"] = peak[0] - before["rss"]
	res["hwm_extra_kib"] = status_kib(pids, "VmHWM") - before["rss"]
	res["after_extra_kib"] = status_kib(pids, "VmRSS") - before["rss"]
	res["zone_bytes"] = len(old)
	return res


def count_records(m, gk_log):
	"""RRs in the data set: gatekeeperd's own count (`loaded N zones, M RRs`) when logged,
	else the record lines of the zone files."""
	g = re.search(r"loaded (\d+) zones, (\d+) RRs", gk_log or "")
	if g:
		return int(g.group(2)), "gatekeeperd's `loaded N zones, M RRs`"
	n = 0
	for z in m["zones"]:
		with open(z["file"]) as f:
			n += sum(1 for line in f if line.strip() and not line.startswith("$"))
	return n, "record lines of the zone files"


def load_phase(env, m, names):
	"""Each server alone: start until every polled zone answers, memory, one zone reloaded."""
	a = env.a
	n = len(m["zones"])
	timeout = max(a.start_timeout, 600 + n // 500)
	out = {}
	# the changed zone: one in the middle of the generated order, filed (gatekeeperd enforces nothing here)
	zone = m["zones"][n // 2]
	for kind in a.zones_servers:
		if kind == "gatekeeperd":
			t = gk_target("gatekeeperd-zones", a.gatekeeperd, m, a.work, zone_list=True)
		elif kind == "NSD":
			t = nsd_target("NSD-zones", m, a.work, control=True)
		else:
			t = knot_target("Knot-zones", m, a.work)
		t.kind = kind
		wf, wmb, ws = warm_files(m)
		log("zones %s: page cache warmed before the start: %d files, %.0f MiB read in %.1f s" % (t.label, wf, wmb, ws))
		quiet(env)
		try:
			s = start_all_answer(t, names, timeout)
			what, tr = ready_signal(t)
			r = {"label": t.label, "answer_s": s, "ready_what": what,
			     "ready_s": tr - t.spawn_epoch if tr is not None else None}
			r.update(memory(t, 0.2 if a.smoke else 2.0))
			log("zones %s: every polled zone answering %.1f s after start (%s at %s s); RSS %d MiB, PSS %d MiB, "
			    "VmHWM %d MiB" % (t.label, s, what, "%.1f" % r["ready_s"] if r["ready_s"] is not None else "-",
					       r["rss_kib"] // 1024, r["pss_kib"] // 1024, r["hwm_kib"] // 1024))
			quiet(env)
			r["reload"] = reload_one(t, zone, timeout)
			rl = r["reload"]
			log("zones %s: %s of %s: new serial served %.3f s after it (log %s), command %.3f s; extra peak %d KiB "
			    "(sampled), VmHWM +%d KiB, after +%d KiB" % (
				    t.label, rl["command"], zone["name"], rl["served_s"], rl.get("log_s"), rl["cmd_s"],
				    rl["peak_extra_kib"], rl["hwm_extra_kib"], rl["after_extra_kib"]))
			if kind == "gatekeeperd":
				g = re.search(r"loaded \d+ zones, \d+ RRs", t.procs[0].log_text())
				r["gk_loaded"] = g.group(0) if g else None
			out[kind] = r
		finally:
			t.stop()
	return out


def status_feed(env, m, n):
	"""Signed snapshot feed of the data set's status set (its filed and revoked zones, filled
	with domains hosted elsewhere up to n); cached beside the feeds of the other scenarios."""
	a = env.a
	path = os.path.join(env.feeds, "snap-zones-n%d-q%d-s%d-v%d-st%d.jsonl" % (len(m["zones"]), a.queries, a.seed,
										 gen.GEN_VERSION, n))
	if not os.path.exists(path + ".sig"):
		gen.write_snapshot(m, n, path, a.seed, 10)
		gk_sync(a.gk_sync, ["sign", "--key", env.keys()[0], path])
	return path


def mem_available_kib():
	with open("/proc/meminfo") as f:
		for line in f:
			if line.startswith("MemAvailable:"):
				return int(line.split()[1])
	return 0


def query_rounds(env, targets, q, exp, res, first, last):
	"""Rounds [first, last) over targets (alternating order); in each, per target back to back:
	dnsperf -v at the fixed rate (fresh), the dnsperf peak, dnsperf -v again right after it,
	the gkload peak, gkload at the fixed rate with expected rcodes."""
	a = env.a
	for i in range(first, last):
		for t in round_robin(targets, i):
			quiet(env)
			steps = [("fresh", lambda: dnsperf_latency(t, q, a.duration, a.rate)),
				 ("dnsperf", lambda: dnsperf(t, q, a.duration)),
				 ("after_peak", lambda: dnsperf_latency(t, q, a.duration, a.rate)),
				 ("gkload", lambda: gkload_run(t, a.gkload, q, a.duration, GKLOAD_PEAK)),
				 ("fixed", lambda: gkload_run(t, a.gkload, q, a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS],
							      exp[t.label]))]
			for name, fn in steps:
				r = fn()
				res.setdefault(t.label, {}).setdefault(name, []).append(r)
				logrun(i, t.label, name, r)
			res.setdefault("_rss", {})[t.label] = status_kib(t.pids, "VmRSS")


def query_phase(env, m, load):
	"""gatekeeperd (filing enforced, redis-server on the server core) and NSD at N zones: both
	running, rounds alternating, when twice their load-phase PSS fits in MemAvailable; else one
	server at a time (all of gatekeeperd's rounds, then NSD's)."""
	a = env.a
	n = len(m["zones"])
	res = {}
	need = sum(load[k]["pss_kib"] for k in ("gatekeeperd", "NSD") if k in load)
	avail = mem_available_kib()
	together = need == 0 or 2 * need < avail
	res["_mode"] = "together" if together else "one at a time"
	log("zones query path: servers %s (load-phase PSS %d MiB, MemAvailable %d MiB)" % (
		"both running, rounds alternating" if together else "one at a time", need // 1024, avail // 1024))
	redis = Redis(a.work, "redis-zones", core=SERVER_CORE).start()
	started = []
	try:
		n_status = max(a.status_1m, sum(1 for z in m["zones"] if z["status"] != "unfiled"))
		env.apply(redis, status_feed(env, m, n_status))
		res["_status_n"] = n_status
		redis.proc.pin()
		timeout = max(a.start_timeout, 600 + n // 500)

		def start_gk():
			gk = gk_target("gatekeeperd-zonesq", a.gatekeeperd, m, a.work, redis=redis, tcp_conns=1024,
				       zone_list=True)
			started.append(gk)
			gk.start(timeout)
			wait_gk_ready(gk, a.gatekeeperd, timeout)
			wait_ready(redis, gk.instance, 600, gk.procs[0])
			return gk

		def start_nsd():
			t = nsd_target("NSD-zonesq", m, a.work)
			started.append(t)
			return t.start(timeout)
		exp = {"gatekeeperd-zonesq": m["expect"], "NSD-zonesq": None}
		if together:
			query_rounds(env, [start_gk(), start_nsd()], m["queries"], exp, res, 0, a.zones_rounds)
		else:
			for start in (start_gk, start_nsd):
				t = start()
				query_rounds(env, [t], m["queries"], exp, res, 0, a.zones_rounds)
				t.stop()
	finally:
		for t in started:
			t.stop()
		redis.stop()
	return res


def gkctl_zone_support(a):
	"""None when gkctl has the control channel's commands (docs/CONTROL.md: `--control PATH`,
	exit 3 when the socket cannot be reached), else why not."""
	if not a.gkctl or not os.path.exists(a.gkctl):
		return "no gkctl binary in this build"
	p = subprocess.run([a.gkctl, "--control", "/nonexistent/gk-bench.sock", "zone", "status", "bench.cn"],
			   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=30)
	if p.returncode != 3:
		return "gkctl has no control-channel commands (`gkctl --control PATH zone add|reload|remove`) in this build"
	return None


class Control:
	"""One connection to gatekeeperd's control socket (docs/CONTROL.md: a request per line,
	answered by lines starting `ok` or `error`, then a line `.`)."""

	def __init__(self, path):
		self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		self.s.connect(path)
		self.buf = b""

	def request(self, line):
		self.s.sendall(line.encode() + b"\n")
		out = []
		while True:
			while b"\n" not in self.buf:
				d = self.s.recv(65536)
				if not d:
					raise RuntimeError("control socket closed during %r" % line)
				self.buf += d
			ln, self.buf = self.buf.split(b"\n", 1)
			ln = ln.decode(errors="replace")
			if ln == ".":
				return out
			out.append(ln)

	def close(self):
		self.s.close()


def expect_unenforced(m):
	"""The expected rcodes of the data set's queries from a server without filing enforcement
	(the control phase's gatekeeperd, like NSD): a query REFUSED only for its zone's status
	(a name in a hosted zone) is NOERROR there. Written once beside queries.expect."""
	path = m["expect"] + "-unenforced"
	if os.path.exists(path):
		return path
	zones = {z["name"] for z in m["zones"]}
	out = []
	with open(m["queries"]) as fq, open(m["expect"]) as fe:
		for q, e in zip(fq, fe):
			e = e.strip()
			if e == "REFUSED":
				labels = q.split()[0].rstrip(".").split(".")
				if any(".".join(labels[i:]) in zones for i in range(len(labels))):
					e = "NOERROR"
			out.append(e)
	with open(path + ".tmp", "w") as f:
		f.write("\n".join(out) + "\n")
	os.replace(path + ".tmp", path)
	return path


def control_phase(env, m):
	"""Zone add, replace and remove through the control channel (`zone add NAME FILE`, `zone
	reload NAME` after its file's serial + 1, `zone remove NAME`, in turn) with N zones loaded,
	--control-rate updates a second for --control-seconds while gkload sends the fixed rate
	with expected rcodes: from each request's answer (the command returning) until the zone
	answers as changed (p99 over the updates). One gkctl command first, then the requests on
	one connection of the socket (a gkctl process per update would cost more than 10 ms)."""
	a = env.a
	why = gkctl_zone_support(a)
	if why:
		return {"status": "not available: " + why}
	d = os.path.join(a.work, "control-zones")
	os.makedirs(d, exist_ok=True)
	sock, state = os.path.join(d, "control.sock"), os.path.join(d, "zones.added")
	for f in (sock, state, state + ".journal"):  # a previous run's added zones
		if os.path.exists(f):
			os.unlink(f)
	gk = gk_target("gatekeeperd-control", a.gatekeeperd, m, a.work, zone_list=True)
	with open(gk.procs[0].argv[-1], "a") as f:
		f.write("control:\n  socket: %s\n  state_file: %s\n" % (sock, state))
	# zones to add: names outside the data set, zone files in the work dir
	extra = {}
	for i in range(300):
		name = "gkctl%04d.bench-control.cn" % i
		path = os.path.join(d, name + ".zone")
		with open(path, "w") as f:
			f.write(gen.zone_text({"name": name, "i": i, "extra": [], "cname": False, "wildcard": False,
					       "child": False, "cname_owner": None}))
		extra[name] = path
	names = sorted(extra)
	try:
		gk.start(max(a.start_timeout, 600 + len(m["zones"]) // 500))
		wait_gk_ready(gk, a.gatekeeperd, max(a.start_timeout, 600 + len(m["zones"]) // 500))
	except RuntimeError as e:
		gk.stop()
		return {"status": "not available: gatekeeperd did not start with a `control:` section (%s)" % str(e)[-300:]}
	res = {"status": "measured", "updates": []}
	try:
		p = subprocess.run([a.gkctl, "--control", sock, "zone", "add", names[0], extra[names[0]]],
				   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
		if p.returncode:
			raise RuntimeError("gkctl zone add failed (%d): %s" % (p.returncode, p.stdout))
		res["gkctl_out"] = p.stdout.strip()
		quiet(env)
		bg = Background(gk, a.gkload, m["queries"], a.control_seconds + 2, a.rate, expect_unenforced(m))
		time.sleep(1)
		c = Control(sock)  # now: the daemon closes a connection idle for 10 s
		added, nxt_new, i = [names[0]], 1, 0
		t_end = time.monotonic() + a.control_seconds
		period = 1.0 / a.control_rate
		nxt = time.monotonic()
		while time.monotonic() < t_end:
			op = ("add", "replace", "remove")[i % 3] if added else "add"
			if op == "add":
				name = names[nxt_new % len(names)]
				nxt_new += 1
				req, want = "zone add %s %s" % (name, extra[name]), "answer"
			elif op == "replace":
				name = added[-1]
				_, serial = bump_serial(extra[name])
				req, want = "zone reload %s" % name, serial
			else:
				name = added.pop(0)
				req, want = "zone remove %s" % name, "gone"
			t0 = time.monotonic()
			ans = c.request(req)
			t_ret = time.monotonic()
			if not ans or not all(x.startswith("ok") for x in ans):
				raise RuntimeError("control: %s: %s" % (req, ans))
			while True:
				if want == "answer":
					r = dns_query(gk.port, name, 6, timeout=0.05)
					ok = r is not None and r[0] == 0 and r[1]
				elif want == "gone":
					r = dns_query(gk.port, name, 6, timeout=0.05)
					ok = r is not None and r[0] == 5
				else:
					ok = soa_serial(gk.port, name, timeout=0.05) == want
				if ok or time.monotonic() - t_ret > 5:
					break
			if op == "add":
				added.append(name)
			res["updates"].append({"op": op, "zone": name, "command_s": t_ret - t0,
					       "after_return_s": time.monotonic() - t_ret if ok else None})
			i += 1
			nxt += period
			time.sleep(max(0.0, nxt - time.monotonic()))
		r = bg.result()
		c.close()
		lats = [u["after_return_s"] for u in res["updates"]]
		cmds = [u["command_s"] for u in res["updates"]]
		res.update({"n": len(lats), "rate": len(lats) / a.control_seconds, "p50_s": pctl(lats, 50),
			    "p99_s": pctl(lats, 99), "max_s": pctl(lats, 100), "never": sum(x is None for x in lats),
			    "cmd_p50_s": pctl(cmds, 50), "cmd_p99_s": pctl(cmds, 99),
			    "ops": {k: sum(1 for u in res["updates"] if u["op"] == k) for k in ("add", "replace", "remove")},
			    "sent": r["sent"], "lost": r["lost"], "wrong": r.get("wrong", 0), "p99_us": r.get("p99_us"),
			    "wrong_lines": r.get("wrong_lines", [])[:5]})
		log("control: %d updates (%.1f/s), answered after the command returned p50 %.1f ms p99 %s ms, never %d; "
		    "load lost %d wrong %d of %d" % (res["n"], res["rate"], 1e3 * (res["p50_s"] or 0),
						      "%.1f" % (1e3 * res["p99_s"]) if res["p99_s"] is not None else "-",
						      res["never"], res["lost"], res["wrong"], res["sent"]))
	finally:
		gk.stop()
	return res


def zones_scenario(env):
	a = env.a
	m = zones_data(env, a.zones_n)
	names = poll_set(m, a.seed)
	out = {"n": len(m["zones"]), "polled": len(names), "servers": list(a.zones_servers), "parts": list(a.zones_parts),
	       "load": {}, "records": None, "records_from": None}
	if "load" in a.zones_parts:
		out["load"] = load_phase(env, m, names)
		gkl = out["load"].get("gatekeeperd", {}).get("gk_loaded")
		out["records"], out["records_from"] = count_records(m, gkl)
	if "query" in a.zones_parts:
		out["query"] = query_phase(env, m, out["load"])
	if "control" in a.zones_parts:
		out["control"] = control_phase(env, m)
	return out
