#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/test_filing_load.py -- the filing check end to end under load: the real
# gk-sync (keygen, sign, apply) feeding a real redis-server, gatekeeperd replicas answering
# dnsperf traffic for a few hundred generated customer zones.
#
# Usage: test_filing_load.py GATEKEEPERD GK_SYNC
#
# Every status change goes through `gk-sync sign` + `gk-sync apply` (no raw HSETs). Three
# gatekeeperd instances on their own loopback ports share one redis-server:
#   A  (2 workers, max_age_ms 60000)  takes the dnsperf traffic;
#   B  (1 worker,  max_age_ms 60000)  second replica: a delta applied once reaches both;
#   C  (1 worker,  max_age_ms 3000)   the short max_age variant: goes "unknown" during an
#                                     outage, recovers after the restart.
# 1. revocation under load: while dnsperf runs against A, a delta revokes filed domains,
#    files unfiled ones, removes filed ones and re-files revoked ones. Measured: time from
#    gk-sync's exit until a polling client sees every changed domain's new answer on A, B
#    and C (asserted <= 1 s). A delta with a bad signature is rejected under load: Redis
#    byte-identical (DUMP of every key but the heartbeats) and no answer changes.
#    dnsperf: 0 lost, only NOERROR/NXDOMAIN/REFUSED.
# 2. Redis kill -9 while dnsperf runs: A and B keep the last-known-good answers for every
#    domain through the outage; C answers them until max_age, then refuses everything
#    with EDE 15 "ICP filing status unavailable". redis-server is restarted on the same
#    port and data directory and a delta is applied AFTER the restart: every replica
#    reconnects and enforces it (no lost change), C is fresh again.
#    Persistence model: the redis-server runs with the AOF and appendfsync always, i.e.
#    every write gk-sync got an OK for survives kill -9. That is the production model
#    (the status instance is the registry's durable copy; gk:serial is what gk-sync's
#    serial rules trust). The alternative -- a Redis that comes back empty and is refilled
#    by re-applying the last snapshot -- models a cache, not the source of truth: between
#    the restart and the end of the re-apply a replica that reloads could install a
#    partial set -- and does (see below). The restored content is checked against what
#    Redis held before the kill.
# 3. both heartbeats (and C's) show the new serial after each delta.
# Shutdown: every daemon exits 0 on SIGTERM, the log has no error line and only the
# expected warnings, and A's counters cover every query dnsperf sent (SERVFAIL 0, dropped 0).
# Every server listens on 127.0.0.1 on a free port and is stopped by PID; every wait is
# bounded; the whole test takes about 30 s.
#
# Opt-in, not run by ctest because it fails today: GK_FL_EMPTY_RESTART=1 runs only the
# empty-restart model (Redis without persistence killed, back empty, the last snapshot
# re-applied with gk-sync): the replica installs a partial reload (no gk:serial yet) and
# refuses filed domains until gk-sync finishes. See empty_restart().
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.edns  # noqa: E402
import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

# Under ASan and UBSan (tests/integration/filing_load.cmake passes GK_SANITIZE) the latency
# figures are logged, not asserted: they are the release build's, and a sanitized build on a
# loaded machine is several times slower. Every change must still be enforced.
SANITIZED = os.environ.get("GK_SANITIZE") == "1"
T_START = time.monotonic()
DEADLINE = T_START + (600 if SANITIZED else 110)
NZONES = 300
DNSPERF = "/usr/bin/dnsperf"
TEXT = {"unfiled": "ICP filing required", "revoked": "ICP filing revoked",
        "unknown": "ICP filing status unavailable"}
PROVIDERS = ["阿里云计算有限公司", "腾讯云计算（北京）有限责任公司", "华为云计算技术有限公司", ""]
ENFORCE_MAX_S = 1.0
RECOVER_MAX_S = 2.0


def timing(ok, what):
	"""A latency figure of the release build: asserted there, logged under the sanitizers."""
	if ok:
		return
	if not SANITIZED:
		raise AssertionError(what)
	log("timing not asserted under the sanitizers: " + what)


def check_time(what):
	if time.monotonic() > DEADLINE:
		raise AssertionError("out of time at: " + what)


def log(*a):
	h.log("[%6.2fs]" % (time.monotonic() - T_START), *a)


def zone_name(i):
	return ("fl%03d.com.cn" if i % 3 == 0 else "fl%03d.cn") % i


DOMAINS = [zone_name(i) for i in range(NZONES)]


def write_zones(zdir):
	os.mkdir(zdir)
	zones = []
	for i, d in enumerate(DOMAINS):
		ip = "198.51.%d.%d" % (100 + i // 250, 1 + i % 250)
		with open(os.path.join(zdir, d + ".zone"), "w") as f:
			f.write("$ORIGIN %s.\n$TTL 300\n"
			        "@ IN SOA ns1.%s. hostmaster.%s. 2026010101 7200 900 1209600 300\n"
			        "  IN NS ns1\n  IN A %s\nns1 IN A %s\nwww IN A %s\n" % (d, d, d, ip, ip, ip))
		zones.append((d, d + ".zone"))
	return zones


# ---- feeds through the real gk-sync ---------------------------------------------------------

class Sync:
	def __init__(self, binary, tmp):
		self.bin, self.tmp, self.n = binary, tmp, 0
		self.priv, self.pub = os.path.join(tmp, "registry.key"), os.path.join(tmp, "registry.pub")
		self.addr = None
		self.run("keygen", self.priv, self.pub)

	def run(self, *args, ok=(0,)):
		check_time("gk-sync " + args[0])
		r = subprocess.run([self.bin] + list(args), capture_output=True, text=True, timeout=30)
		if r.returncode not in ok:
			raise AssertionError("gk-sync %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
			                                                       r.stdout, r.stderr))
		return r

	def feed(self, kind, serial, recs, base=None):
		"""recs: [(domain, status)] with status filed / revoked / remove. Written and signed."""
		self.n += 1
		b = ',"base":%d' % base if base is not None else ""
		lines = ['{"kind":"%s","serial":%d%s,"count":%d,"generated":"2026-01-01T00:00:00Z"}' %
		         (kind, serial, b, len(recs))]
		for d, st in recs:
			if st == "remove":
				lines.append('{"domain":"%s","op":"remove"}' % d)
				continue
			i = DOMAINS.index(d)
			lines.append('{"domain":"%s","status":"%s","licence":"京ICP备%08d号-1",'
			             '"sponsor":"北京示例%03d科技有限公司","nature":"企业","provider":"%s",'
			             '"updated":"2026-01-01T00:00:00+08:00"}' % (d, st, 10000000 + i, i,
			                                                          PROVIDERS[i % 4]))
		path = os.path.join(self.tmp, "feed%02d-%s-%d.jsonl" % (self.n, kind, serial))
		with open(path, "w") as f:
			f.write("\n".join(lines) + "\n")
		self.run("sign", "--key", self.priv, path)
		return path

	def apply(self, path, ok=(0,)):
		return self.run("apply", "--redis", self.addr, "--pubkey", self.pub, path, ok=ok)


# ---- redis-server ----------------------------------------------------------------------------

class RedisServer:
	"""redis-server on a free loopback port, AOF with appendfsync always in its own dir."""

	def __init__(self, tmp):
		self.dir = os.path.join(tmp, "redis")
		os.mkdir(self.dir)
		self.port = h.free_port()
		self.srv = None
		self.aof = True

	def start(self):
		argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
		        "--appendonly", "yes" if self.aof else "no", "--appendfsync", "always",
		        "--dir", self.dir]
		self.srv = h.Server("redis-server", argv, self.dir, self.port,
		                    os.path.join(self.dir, "redis.log"))
		c = redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True, socket_timeout=5)
		h.wait_for("redis-server answering PING", c.ping, timeout=10, proc=self.srv)
		return c

	def kill9(self):
		os.kill(self.srv.pid, signal.SIGKILL)
		self.srv.proc.wait(5)
		self.srv.stop()

	def stop(self):
		if self.srv is not None:
			self.srv.stop()


def dump_all(r):
	"""Every key but the heartbeats and the discovery counters (written by the daemons
	under load), with its DUMP: byte-identical comparison."""
	keys = sorted(k for k in r.scan_iter(count=1000) if not k.startswith(("gk:inst:", "gk:disc:")))
	raw = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"],
	                  socket_timeout=5)
	return {k: raw.dump(k) for k in keys}


def content(r):
	"""The filing data semantically (comparable across a restart). Records are binary
	(src/sync/record.c), so they are read with a client that does not decode."""
	st, rec = {}, {}
	raw = redis.Redis(host="127.0.0.1", port=r.connection_pool.connection_kwargs["port"],
	                  socket_timeout=5)
	for k in r.scan_iter(match="gk:st:*", count=1000):
		st.update(r.hgetall(k))
	for k in r.scan_iter(match="gk:rec:*", count=1000):
		rec.update(raw.hgetall(k))
	xi = r.xinfo_stream("gk:changes")
	return {"status": st, "records": rec, "serial": r.get("gk:serial"),
	        "providers": r.hgetall("gk:providers"), "stream": r.xrange("gk:changes"),
	        "last-id": xi["last-generated-id"], "entries-added": xi.get("entries-added")}


def heartbeat(r, inst):
	try:
		return r.hgetall("gk:inst:" + inst)
	except redis.RedisError:
		return {}


# ---- gatekeeperd -----------------------------------------------------------------------------

class Gk:
	def __init__(self, name, binary, tmp, zdir, zones, rport, max_age, workers):
		self.name = name
		self.inst = "fl-%s-%d" % (name, os.getpid())
		self.dir = os.path.join(tmp, "gk-" + name)
		os.mkdir(self.dir)
		for attempt in range(3):
			self.mport = h.free_port()
			extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: %s\n"
			         "  connect_timeout_ms: 300\n  reconnect_max_ms: 500\n"
			         "filing:\n  startup: refuse\n  max_age_ms: %d\n"
			         "metrics:\n  listen: \"127.0.0.1:%d\"\n" % (rport, self.inst, max_age, self.mport))
			self.port = h.free_port()
			conf = h.gk_config(self.dir, self.port, zonedir=zdir, zones=zones, workers=workers,
			                   ipv6=False, extra=extra)
			self.srv = h.Server("gatekeeperd-" + name, [binary, "-c", conf], self.dir, self.port,
			                    os.path.join(self.dir, "gatekeeperd.log"))
			try:
				self.srv.wait_ready(zone=DOMAINS[0])
				return
			except RuntimeError:
				self.srv.stop()
				if attempt == 2 or "in use" not in self.srv.log_text().lower():
					raise

	def log_text(self):
		return read_log(self.srv)

	def queries(self):
		"""DNS messages taken so far (its own counter, gatekeeper_queries_total)."""
		return sum(v for k, v in h.metrics(self.mport).items()
		           if k.startswith("gatekeeper_queries_total"))

	def more_queries(self, n):
		"""Wait until n more queries than now have arrived (the load is on, counted here)."""
		q0 = self.queries()
		h.wait_for("%d more queries on %s" % (n, self.name), lambda: self.queries() >= q0 + n,
		           timeout=30, proc=self.srv)


def read_log(srv):
	"""A server's log, also after stop() closed our handle."""
	if not srv.logf.closed:
		srv.logf.flush()
	with open(srv.logpath, "rb") as f:
		return f.read().decode("utf-8", "replace")


def ask(port, dom, timeout=0.5, tries=3):
	q = dns.message.make_query("www." + dom, "A", use_edns=0, payload=1232)
	for _ in range(tries):
		try:
			return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
		except dns.exception.Timeout:
			continue
	return None


def classify(r, dom):
	"""filed / unfiled / revoked / unknown, each with every property checked; else a reason."""
	if r is None:
		return "timeout"
	ede = [o for o in r.options if o.otype == 15]
	aa = bool(r.flags & dns.flags.AA)
	rc = r.rcode()
	if rc == dns.rcode.NOERROR and not ede:
		a = r.find_rrset(r.answer, dns.name.from_text("www." + dom), 1, dns.rdatatype.A) \
			if r.answer else None
		return "filed" if aa and a and len(a) == 1 else "bad-filed: %s" % r
	if len(ede) != 1 or not isinstance(ede[0], dns.edns.EDEOption) or ede[0].code != 15:
		return "bad: rcode %s, ede %r" % (dns.rcode.to_text(rc), ede)
	text = ede[0].text
	if rc == dns.rcode.REFUSED and not aa and not r.answer and not r.authority:
		for k in ("unfiled", "unknown"):
			if text == TEXT[k]:
				return k
	if rc == dns.rcode.NXDOMAIN and aa and text == TEXT["revoked"] and not r.answer:
		soa = [s for s in r.authority if s.rdtype == dns.rdatatype.SOA]
		if len(soa) == 1 and soa[0].name == dns.name.from_text(dom):
			return "revoked"
	return "bad: rcode %s aa %s text %r" % (dns.rcode.to_text(rc), aa, text)


def sweep(gk, expect, doms=None):
	"""Ask gk for every domain (one burst, then one by one for any reply missing from the
	burst); returns {domain: (got, wanted)} for the mismatches."""
	bad = {}
	doms = doms or DOMAINS
	burst = poll_round(gk, doms, timeout=1.0)
	if len(burst) < len(doms):
		log("sweep of %s: %d of %d replies missing from the burst, asked again one by one" % (
			gk.name, len(doms) - len(burst), len(doms)))
	for d in doms:
		got = burst[d] if d in burst else classify(ask(gk.port, d), d)
		want = expect if isinstance(expect, str) else expect[d]
		if got != want:
			bad[d] = (got, want)
	return bad


_wires = {}


def query_wire(d):
	if d not in _wires:
		_wires[d] = dns.message.make_query("www." + d, "A", use_edns=0, payload=1232).to_wire()
	return _wires[d]


def poll_round(gk, doms, timeout=0.3, window=64):
	"""One burst: every domain asked over one UDP socket, at most `window` queries in flight
	(a default socket buffer holds only ~256 small datagrams). Returns {domain: class}; a
	domain without a reply within timeout is missing."""
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	try:
		s.setblocking(False)
		ids = {i: d for i, d in enumerate(doms)}
		got = {}
		nsent = 0
		deadline = time.monotonic() + timeout
		while len(got) < len(doms):
			while nsent < len(doms) and nsent - len(got) < window:
				s.sendto(struct.pack("!H", nsent) + query_wire(doms[nsent])[2:],
				         ("127.0.0.1", gk.port))
				nsent += 1
			left = deadline - time.monotonic()
			if left <= 0 or not select.select([s], [], [], left)[0]:
				break
			while True:
				try:
					wire = s.recv(65535)
				except BlockingIOError:
					break
				r = dns.message.from_wire(wire)
				d = ids.get(r.id)
				if d is not None and d not in got:
					got[d] = classify(r, d)
		return got
	finally:
		s.close()


def wait_enforced(gks, changes, state, t0, timeout):
	"""Poll every changed domain on every replica (a burst of all pending queries per replica,
	a few ms a round) until each shows its new answer. A domain counts as enforced at the end
	of the first round that saw its new answer (an upper bound; the round length is the
	resolution). Returns the largest delay from t0, the per-replica maximum and the longest
	round, in seconds."""
	pending = {g.name: set(changes) for g in gks}
	per = {g.name: 0.0 for g in gks}
	longest = 0.0
	deadline = t0 + timeout
	while any(pending.values()) and time.monotonic() < deadline:
		for g in gks:
			if not pending[g.name]:
				continue
			t1 = time.monotonic()
			got = poll_round(g, sorted(pending[g.name]))
			now = time.monotonic()
			longest = max(longest, now - t1)
			for d, c in got.items():
				if c == state[d]:
					pending[g.name].discard(d)
					per[g.name] = max(per[g.name], now - t0)
		time.sleep(0.001)
	if any(pending.values()):
		byname = {g.name: g for g in gks}
		sample = [(g, d) for g in sorted(pending) for d in sorted(pending[g])][:5]
		raise AssertionError("not enforced within %.1fs: %s; e.g. %s" % (
			timeout, {g: len(v) for g, v in pending.items()},
			", ".join("%s@%s: %s (want %s)" % (d, g, classify(ask(byname[g].port, d), d), state[d])
			          for g, d in sample)))
	return max(per.values()), per, longest


# ---- dnsperf -----------------------------------------------------------------------------------

def start_dnsperf(tmp, tag, port, seconds, qfile):
	argv = [DNSPERF, "-s", "127.0.0.1", "-p", str(port), "-d", qfile, "-l", str(seconds),
	        "-Q", "5000", "-c", "4", "-q", "200", "-t", "3", "-e"]
	return h.Server("dnsperf-" + tag, argv, tmp, port, os.path.join(tmp, "dnsperf-%s.log" % tag))


def finish_dnsperf(p, seconds):
	try:
		p.proc.wait(seconds + 15)
	except subprocess.TimeoutExpired:
		p.stop()
		raise AssertionError("dnsperf did not finish:\n" + p.log_text()[-2000:])
	out = p.log_text()
	p.stop()
	assert p.proc.returncode == 0, out[-2000:]
	m = {k: int(re.search(r"Queries %s:\s+(\d+)" % k, out).group(1))
	     for k in ("sent", "completed", "lost")}
	codes = dict((c, int(n)) for c, n in re.findall(r"([A-Z]+) (\d+) \(", re.search(
		r"Response codes:\s+(.*)", out).group(1)))
	return m, codes, out


def check_dnsperf(tag, m, codes, out, seconds):
	log("dnsperf %s: sent %d, completed %d, lost %d; %s" % (
		tag, m["sent"], m["completed"], m["lost"], codes))
	assert m["lost"] == 0 and m["completed"] == m["sent"], out[-3000:]
	assert m["sent"] >= 5000 * seconds * 0.8, ("dnsperf sent too few queries", m)
	assert set(codes) <= {"NOERROR", "NXDOMAIN", "REFUSED"} and all(codes.values()), codes
	assert sum(codes.values()) == m["completed"], (codes, m)


# ---- opt-in: Redis back EMPTY, refilled by re-applying the snapshot (GK_FL_EMPTY_RESTART=1) ----

def empty_restart(tmp, gkbin, syncbin):
	"""The non-production persistence model, kept as an opt-in check because it fails today:
	redis-server without persistence is killed, comes back empty, and the last snapshot
	(60,300 domains) is re-applied with gk-sync. Requirement: no filed domain is refused at
	any moment (the replica keeps its last-known-good table until the set is complete).
	Observed: the replica's retry reloads a PARTIAL set (no gk:serial yet, some buckets
	written), installs it ("reloaded 11573 domains", "gk:serial is not set") and answers
	filed domains REFUSED "ICP filing required" until gk-sync has finished."""
	nfill = 60000
	zdir = os.path.join(tmp, "zones")
	zones = write_zones(zdir)
	rd = RedisServer(tmp)
	rd.aof = False
	gk = None
	try:
		r = rd.start()
		sync = Sync(syncbin, tmp)
		sync.addr = "127.0.0.1:%d" % rd.port
		path = os.path.join(tmp, "snapshot-big.jsonl")
		with open(path, "w") as f:
			f.write('{"kind":"snapshot","serial":5,"count":%d,"generated":"2026-01-01T00:00:00Z"}\n'
			        % (nfill + NZONES))
			for d in DOMAINS:
				f.write('{"domain":"%s","status":"filed","provider":"p"}\n' % d)
			for i in range(nfill):
				f.write('{"domain":"filler%06d.cn","status":"filed","provider":"p"}\n' % i)
		sync.run("sign", "--key", sync.priv, path)
		sync.apply(path)
		gk = Gk("E", gkbin, tmp, zdir, zones, rd.port, 60000, 2)
		h.wait_for("ready", lambda: heartbeat(r, gk.inst).get("state") == "ready")
		assert not sweep(gk, "filed")
		rd.kill9()
		shutil.rmtree(rd.dir)
		os.mkdir(rd.dir)
		r = rd.start()
		h.wait_for("the empty redis noticed", lambda: "not installing a partial status set" in gk.log_text())
		wrong, stop, rounds = [], [], [0]

		def poll():
			while not stop:
				for d, c in poll_round(gk, DOMAINS).items():
					if c != "filed":
						wrong.append((time.monotonic(), d, c))
				rounds[0] += 1
		th = threading.Thread(target=poll, daemon=True)
		th.start()
		t0 = time.monotonic()
		sync.apply(path)
		t1 = time.monotonic()
		# polled until the replica's heartbeat shows the whole re-applied set (serial 5 read
		# from the store and applied), and one whole round after
		h.wait_for("the re-applied set in force", lambda: (lambda x: x.get("store_serial") == "5" and
		           x.get("serial") == "5" and x.get("state") == "ready" and
		           x.get("table_size") == str(nfill + NZONES))(heartbeat(r, gk.inst)), proc=gk.srv)
		r0 = rounds[0]
		h.wait_for("a poll round after the reload", lambda: rounds[0] >= r0 + 2 or not th.is_alive())
		stop.append(1)
		th.join(5)
		final = sweep(gk, "filed")
		log("empty restart: re-apply took %.2f s; %d wrong answers for %d filed domains "
		    "between %.2f and %.2f s; final mismatches %d" % (
			    t1 - t0, len(wrong), len({d for _, d, _ in wrong}),
			    (wrong[0][0] - t0) if wrong else 0, (wrong[-1][0] - t0) if wrong else 0, len(final)))
		assert not final, final
		assert not wrong, "filed domains refused while the snapshot was re-applied: %s; log:\n%s" % (
			sorted({(d, c) for _, d, c in wrong})[:5],
			"\n".join(l for l in gk.log_text().splitlines() if "status:" in l))
	finally:
		if gk is not None:
			assert gk.srv.stop() == 0
		rd.stop()


# ---- the test ------------------------------------------------------------------------------------

def main():
	gkbin, syncbin = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
	if os.environ.get("GK_FL_EMPTY_RESTART"):
		with h.TempDir("gk-filing-load-empty-") as tmp:
			empty_restart(tmp, gkbin, syncbin)
		log("test_filing_load (empty restart): ok")
		return
	with h.TempDir("gk-filing-load-") as tmp:
		rd = RedisServer(tmp)
		gks = []
		dnsperfs = []
		try:
			body(tmp, gkbin, syncbin, rd, gks, dnsperfs)
		except BaseException:
			for g in gks:
				h.log("---- gatekeeperd %s log (tail):\n%s" % (g.name, g.log_text()[-3000:]))
			if rd.srv is not None:
				h.log("---- redis log (tail):\n" + read_log(rd.srv)[-1500:])
			raise
		finally:
			for p in dnsperfs:
				p.stop()
			for g in gks:
				g.srv.stop()
			rd.stop()
	log("test_filing_load: ok (%.1f s)" % (time.monotonic() - T_START))


def body(tmp, gkbin, syncbin, rd, gks, dnsperfs):
	zdir = os.path.join(tmp, "zones")
	zones = write_zones(zdir)
	qfile = os.path.join(tmp, "queries")
	with open(qfile, "w") as f:
		for d in DOMAINS:
			f.write("www.%s A\n" % d)
	r = rd.start()
	sync = Sync(syncbin, tmp)
	sync.addr = "127.0.0.1:%d" % rd.port

	# the initial state: 0..199 filed, 200..249 revoked, 250..299 unfiled (not in the feed)
	state = {d: "filed" if i < 200 else "revoked" if i < 250 else "unfiled"
	         for i, d in enumerate(DOMAINS)}
	snap = sync.feed("snapshot", 1, [(d, s) for d, s in state.items() if s != "unfiled"])
	out = sync.apply(snap)
	assert r.get("gk:serial") == "1", out
	log("snapshot serial 1 applied with gk-sync: %s" % out.stdout.strip())

	A = Gk("A", gkbin, tmp, zdir, zones, rd.port, 60000, 2)
	gks.append(A)
	B = Gk("B", gkbin, tmp, zdir, zones, rd.port, 60000, 1)
	gks.append(B)
	C = Gk("C", gkbin, tmp, zdir, zones, rd.port, 3000, 1)
	gks.append(C)
	for g in gks:
		hb = h.wait_for("%s ready" % g.name, lambda: (lambda x: x if x.get("state") == "ready" else None)(
			heartbeat(r, g.inst)))
		assert hb["serial"] == "1" and int(hb["table_size"]) == 250, hb
		assert "loaded 250 domains" in g.log_text()
	for g in gks:
		bad = sweep(g, state)
		assert not bad, "initial answers on %s: %s" % (g.name, list(bad.items())[:5])
	log("3 replicas ready (serial 1, 250 domains); %d zones answer filed/revoked/unfiled "
	    "as fed" % NZONES)

	# ---- 1. revocation under load --------------------------------------------------------------
	secs = 8
	p = start_dnsperf(tmp, "revocation", A.port, secs, qfile)
	dnsperfs.append(p)
	sent = 0
	A.more_queries(2000)  # the load is on
	delta = ([(DOMAINS[i], "revoked") for i in range(0, 20)] +      # filed -> revoked
	         [(DOMAINS[i], "filed") for i in range(250, 270)] +     # unfiled -> filed
	         [(DOMAINS[i], "remove") for i in range(20, 25)] +      # filed -> unfiled
	         [(DOMAINS[i], "filed") for i in range(200, 205)])      # revoked -> filed
	path = sync.feed("delta", 2, delta, base=1)
	t_start = time.monotonic()
	sync.apply(path)
	t_exit = time.monotonic()
	for d, s in delta:
		state[d] = "unfiled" if s == "remove" else s
	worst, per, res = wait_enforced(gks, [d for d, _ in delta], state, t_exit, 60.0 if SANITIZED else 5.0)
	log("delta serial 2 (%d changes) applied under load: gk-sync ran %.0f ms; enforced on "
	    "every replica %.1f ms after gk-sync exited (%s; poll round <= %.1f ms)" % (
		    len(delta), (t_exit - t_start) * 1000, worst * 1000,
		    ", ".join("%s %.1f ms" % (k, v * 1000) for k, v in sorted(per.items())), res * 1000))
	timing(worst <= ENFORCE_MAX_S, "enforcement took %.3f s > %.1f s" % (worst, ENFORCE_MAX_S))
	timing(p.alive(), "dnsperf ended before the delta was enforced: not 'under load'")
	# a bad signature under load: rejected, Redis byte-identical, no answer changes
	before = dump_all(r)
	bad = sync.feed("delta", 3, [(DOMAINS[i], "revoked") for i in range(100, 110)], base=2)
	with open(bad, "a") as f:
		f.write('{"domain":"%s","status":"filed"}\n' % DOMAINS[290])
	rej = sync.apply(bad, ok=(1,))
	assert "bad signature" in rej.stderr, rej.stderr
	assert dump_all(r) == before, "a rejected feed changed Redis"
	for g in gks:
		hb = h.wait_for("%s at serial 2" % g.name, lambda: (lambda x: x if x.get("serial") == "2" and
		              x.get("state") == "ready" else None)(heartbeat(r, g.inst)))
		assert int(hb["table_size"]) == 250 + 20 - 5, hb
	m, codes, out = finish_dnsperf(p, secs)
	check_dnsperf("revocation", m, codes, out, secs)
	sent += m["sent"]
	for g in gks:
		bad = sweep(g, state)
		assert not bad, "answers on %s after delta 2: %s" % (g.name, list(bad.items())[:5])
	log("bad-signature delta rejected under load: Redis byte-identical; all %d domains "
	    "answer the serial-2 state on A, B and C; heartbeats show serial 2" % NZONES)

	# ---- 2. redis kill -9 while dnsperf runs -----------------------------------------------------
	before = content(r)
	secs = 14
	p = start_dnsperf(tmp, "outage", A.port, secs, qfile)
	dnsperfs.append(p)
	A.more_queries(2000)  # the load is on
	t_kill = time.monotonic()
	timing(p.alive(), "dnsperf ended before the kill")
	rd.kill9()
	log("redis-server (pid %d) killed with SIGKILL" % rd.srv.pid)
	# C (max_age 3000) has had contact within ~1 s before the kill: last-known-good until at
	# least ~2 s after it. A thread polls C every 20 ms for the switch to "unknown".
	stale_seen = {}

	probe = DOMAINS[100]
	assert state[probe] == "filed"

	def watch_c():
		while time.monotonic() - t_kill < 6.0:
			c = classify(ask(C.port, probe, timeout=0.2, tries=1), probe)
			if c == "unknown":
				stale_seen["t"] = time.monotonic() - t_kill
				return
			if c not in ("filed", "timeout"):
				stale_seen["bad"] = c
				return
			time.sleep(0.02)
	watcher = threading.Thread(target=watch_c, daemon=True)
	watcher.start()
	sample = DOMAINS[::10]
	bad = sweep(C, state, sample)
	t_c = time.monotonic() - t_kill
	assert t_c < 1.5, "the LKG sample on C took until %.2f s after the kill" % t_c
	assert not bad, "C before max_age: %s" % list(bad.items())[:5]
	for g in gks:
		h.wait_for("%s notices the outage" % g.name,
		         lambda: "status: lost connection to redis" in g.log_text())
	# A and B answer last-known-good through the outage; C goes "unknown" after max_age
	sweeps = 0
	while time.monotonic() - t_kill < 5.0:
		for g in (A, B):
			bad = sweep(g, state)
			assert not bad, "%s during the outage (%.1f s): %s" % (
				g.name, time.monotonic() - t_kill, list(bad.items())[:5])
		sweeps += 1
	watcher.join(2.0)
	assert sweeps >= 2, sweeps
	assert "bad" not in stale_seen, "C answered %s before going stale" % stale_seen["bad"]
	assert "t" in stale_seen, "C (max_age_ms 3000) not stale 5 s after the kill"
	t_stale = stale_seen["t"]
	m_st = re.search(r"status: expired: no redis reply for (\d+) ms", C.log_text())
	assert m_st and 3000 <= int(m_st.group(1)) <= 3500, C.log_text()[-1000:]
	assert 1.8 <= t_stale <= 4.0, "C went stale %.2f s after the kill (max_age_ms 3000)" % t_stale
	bad = sweep(C, "unknown")
	assert not bad, "C stale: %s" % list(bad.items())[:5]
	assert "status: stale" in C.log_text() and "status: stale" not in A.log_text()
	log("outage: A and B answered last-known-good for all %d domains (%d sweeps each); C "
	    "refused everything with EDE 15 %r from %.2f s after the kill (its log: no contact "
	    "for %s ms)" % (NZONES, sweeps, TEXT["unknown"], t_stale, m_st.group(1)))

	# restart on the same port and data; the content must have survived
	r = rd.start()
	t_up = time.monotonic()
	after = content(r)
	assert after == before, "redis content changed across kill -9 + restart: %s" % sorted(
		k for k in before if before[k] != after.get(k))
	delta = ([(DOMAINS[i], "revoked") for i in range(30, 40)] +     # filed -> revoked
	         [(DOMAINS[i], "filed") for i in range(270, 280)] +     # unfiled -> filed
	         [(DOMAINS[i], "remove") for i in range(205, 210)])     # revoked -> unfiled
	path = sync.feed("delta", 3, delta, base=2)
	sync.apply(path)
	t_exit = time.monotonic()
	for d, s in delta:
		state[d] = "unfiled" if s == "remove" else s
	worst, per, res = wait_enforced(gks, [d for d, _ in delta], state, t_exit, 60.0 if SANITIZED else 5.0)
	log("redis restarted (%.1f s outage), content intact; delta serial 3 applied %.0f ms "
	    "after the restart, enforced on every replica %.1f ms after gk-sync exited (%s; poll "
	    "round <= %.1f ms)" % (
		    t_up - t_kill, (t_exit - t_up) * 1000, worst * 1000,
		    ", ".join("%s %.1f ms" % (k, v * 1000) for k, v in sorted(per.items())), res * 1000))
	# a replica reconnects within reconnect_max_ms (500) of the restart, then resumes
	timing(worst <= RECOVER_MAX_S, "recovery enforcement took %.3f s" % worst)
	timing(p.alive(), "dnsperf ended before the restart delta was enforced")
	for g in gks:
		hb = h.wait_for("%s at serial 3" % g.name, lambda: (lambda x: x if x.get("serial") == "3" and
		              x.get("state") == "ready" and x.get("redis") == "connected" else None)(
			heartbeat(r, g.inst)))
		assert int(hb["table_size"]) == 265 + 10 - 5, hb
		text = g.log_text()
		assert "resuming the change stream" in text and "reloading after trim" not in text, g.name
	assert "status: fresh again" in C.log_text()
	for g in gks:
		bad = sweep(g, state)
		assert not bad, "answers on %s after the restart: %s" % (g.name, list(bad.items())[:5])
	m, codes, out = finish_dnsperf(p, secs)
	check_dnsperf("outage", m, codes, out, secs)
	sent += m["sent"]
	log("after the restart every replica resumed the stream (no reload), heartbeats show "
	    "serial 3, all %d domains answer the serial-3 state on A, B and C" % NZONES)

	# ---- shutdown: exit 0, clean logs, counters -------------------------------------------------
	allowed = ("status: lost connection to redis", "status: stale: no redis reply",
	           "discovery: a write failed", "discovery: redis write timed out",
	           # the restarted Redis answers LOADING while it reads its AOF back
	           "LOADING Redis is loading the dataset",
	           # the test runs the daemons as whoever runs it, root in CI, without user:
	           "running as root: set user:")
	for g in list(gks):
		rc = g.srv.stop()
		gks.remove(g)
		text = g.log_text()
		assert rc == 0, "%s exit %r:\n%s" % (g.name, rc, text[-3000:])
		for line in text.splitlines():
			# C's hard bound (max_age_ms) is an error by design; nothing else is
			assert (" error: " not in line or (g is C and "status: expired: no redis reply"
							     in line)) and "Sanitizer" not in line and \
				"runtime error" not in line, "%s: %s" % (g.name, line)
			if " warning: " in line:
				assert any(a in line for a in allowed), "%s: unexpected warning: %s" % (g.name, line)
		cnt = re.search(r"counters: udp (\d+), tcp (\d+) queries; NOERROR (\d+), SERVFAIL (\d+), "
		                r"NXDOMAIN (\d+), REFUSED (\d+), FORMERR (\d+), NOTIMP (\d+), other (\d+); "
		                r"tc (\d+), dropped (\d+), send errors (\d+)", text)
		assert cnt, text[-2000:]
		udp, _, noerr, sf, nx, ref, fe, ni, oth, tc, drop, serr = map(int, cnt.groups())
		assert sf == fe == ni == oth == tc == drop == serr == 0, (g.name, cnt.group(0))
		if g is A:
			assert udp >= sent, (udp, sent)
			log("A shut down cleanly: %s (dnsperf sent %d)" % (cnt.group(0), sent))
		else:
			log("%s shut down cleanly: exit 0" % g.name)


if __name__ == "__main__":
	main()
