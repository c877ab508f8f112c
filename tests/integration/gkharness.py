# SPDX-License-Identifier: MIT
# tests/integration/gkharness.py -- shared helpers for the black-box tests.
#
# Picks free loopback ports, writes configs into a private tempdir, starts gatekeeperd and
# NSD as child processes, waits until they answer, and always stops them by PID (SIGTERM,
# then SIGKILL to the child's own process group) -- also when a test fails, through
# context managers and an atexit hook. Nothing here ever signals a process by name.
import atexit
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.abspath(os.path.join(HERE, "..", ".."))
ZONEDIR = os.path.join(SRC, "tests", "fixtures", "zones")
BADDIR = os.path.join(ZONEDIR, "bad")
NSD = os.environ.get("GK_NSD", "/usr/sbin/nsd")

# The zones served together by every differential / black-box test.
ZONES = [
	("example.cn", "example.cn.zone"),
	("sub.example.cn", "sub.example.cn.zone"),
	("other.com.cn", "other.com.cn.zone"),
	("dname.cn", "dname.cn.zone"),
]
EDNS_UDP_MAX = 1232

_live = []  # every Server still running: stopped at exit whatever happens


def log(*a):
	print(*a, flush=True)


# The failed checks of this test process, in order (expect appends; main returns 1 if any).
fails = []


def expect(desc, ok, detail=""):
	"""Log one check as `ok` or `FAIL` (with detail indented below) and keep the failures."""
	log("%s %s" % ("ok  " if ok else "FAIL", desc))
	if not ok:
		if detail:
			log("     " + str(detail).replace("\n", "\n     "))
		fails.append(desc)
	return ok


def _port_free(port):
	"""True when port is free for UDP and TCP on 127.0.0.1 (and ::1 when it exists)."""
	fams = [(socket.AF_INET, "127.0.0.1")]
	if has_ipv6():
		fams.append((socket.AF_INET6, "::1"))
	socks = []
	try:
		for fam, addr in fams:
			for typ in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
				s = socket.socket(fam, typ)
				socks.append(s)
				s.bind((addr, port))
		return True
	except OSError:
		return False
	finally:
		for s in socks:
			s.close()


def free_port():
	"""A port free on loopback for UDP and TCP (v4 and v6). Racy by nature, but the
	kernel's ephemeral range makes a collision unlikely; servers are retried on failure."""
	for _ in range(200):
		s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
		s.bind(("127.0.0.1", 0))
		port = s.getsockname()[1]
		s.close()
		if _port_free(port):
			return port
	raise RuntimeError("no free port found")


_v6 = None


def has_ipv6():
	global _v6
	if _v6 is None:
		try:
			s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
			s.bind(("::1", 0))
			s.close()
			_v6 = True
		except OSError:
			_v6 = False
	return _v6


class Server:
	"""A child server process. stop() signals only the PID we started (and, if it
	does not exit, its own process group, which start_new_session made ours alone)."""

	def __init__(self, name, argv, workdir, port, logpath, env=None):
		self.name, self.argv, self.workdir, self.port = name, argv, workdir, port
		self.logpath = logpath
		self.logf = open(logpath, "ab")
		self.log_off = self.logf.tell()  # the log is appended to: this run's part starts here
		self.proc = subprocess.Popen(argv, cwd=workdir, stdout=self.logf, stderr=subprocess.STDOUT,
					     stdin=subprocess.DEVNULL, start_new_session=True, env=env)
		self.pid = self.proc.pid
		_live.append(self)

	def alive(self):
		return self.proc.poll() is None

	def log_text(self, since_start=False):
		"""The log; since_start: only what this run wrote (the file is appended to)."""
		if not self.logf.closed:  # stop() closes it
			self.logf.flush()
		with open(self.logpath, "rb") as f:
			if since_start:
				f.seek(self.log_off)
			return f.read().decode("utf-8", "replace")

	def wait_ready(self, zone="example.cn", timeout=120.0):
		"""Wait until an SOA query for zone is answered over UDP and TCP; for gatekeeperd,
		also until its zones are loaded (until then they answer SERVFAIL): the log's
		readiness line, or with nothing in the log (it goes to the journal) zone's answer
		other than SERVFAIL. An event, waited on as wait_for does: timeout only bounds a
		failure (RuntimeError, also at once when the process exits)."""
		q = dns.message.make_query(zone, "SOA")
		last = []

		def ready():
			if not self.alive():
				raise RuntimeError("%s exited early (rc %s); log:\n%s" %
						   (self.name, self.proc.returncode, self.log_text()))
			try:
				r = dns.query.udp(q, "127.0.0.1", port=self.port, timeout=0.3)
				dns.query.tcp(q, "127.0.0.1", port=self.port, timeout=0.5)
				if self.name.startswith("gatekeeperd"):
					log = self.log_text(since_start=True)
					if "ready: loaded" not in log and (log.strip() or
									   r.rcode() == dns.rcode.SERVFAIL):
						raise RuntimeError("zones still loading")
				return True
			except RuntimeError as e:
				last.append(e)
				return False
			except Exception as e:  # noqa: BLE001 (not up yet)
				last.append(e)
				return False
		if not wait_for("%s ready" % self.name, ready, timeout, step=0.1, must=False):
			raise RuntimeError("%s did not answer within %.0fs (%r); log:\n%s" %
					   (self.name, timeout, last[-1] if last else None, self.log_text()))

	def signal(self, sig):
		if self.alive():
			os.kill(self.pid, sig)

	def freeze(self):
		"""SIGSTOP the server (by PID): its kernel still accepts connections, nothing replies."""
		self.frozen = True
		self.signal(signal.SIGSTOP)

	def thaw(self):
		"""SIGCONT after freeze()."""
		self.signal(signal.SIGCONT)
		self.frozen = False

	def stop(self, timeout=5.0):
		"""SIGTERM, wait, then SIGKILL the process group. Returns the exit code."""
		if self in _live:
			_live.remove(self)
		if getattr(self, "frozen", False):
			self.thaw()  # a stopped process would not see SIGTERM
		if self.alive():
			try:
				os.kill(self.pid, signal.SIGTERM)
			except ProcessLookupError:
				pass
			try:
				self.proc.wait(timeout)
			except subprocess.TimeoutExpired:
				log("%s (pid %d) ignored SIGTERM for %.0fs: SIGKILL" % (self.name, self.pid, timeout))
				try:
					os.killpg(self.pid, signal.SIGKILL)
				except ProcessLookupError:
					pass
				self.proc.wait(5)
		# NSD's own children share the group we created for it: make sure none is left.
		try:
			os.killpg(self.pid, 0)
			os.killpg(self.pid, signal.SIGKILL)
		except (ProcessLookupError, PermissionError):
			pass
		self.logf.close()
		return self.proc.returncode

	def stop_clean(self, what=None):
		"""stop(), then expect exit code 0 and no sanitizer report in this run's log."""
		rc = self.stop()
		text = self.log_text()
		expect("%s stopped cleanly (exit %s, no sanitizer report)" % (what or self.name, rc),
		       rc == 0 and "Sanitizer" not in text and "runtime error" not in text, text[-3000:])

	def __enter__(self):
		return self

	def __exit__(self, *exc):
		self.stop()
		return False


@atexit.register
def _stop_all():
	for s in list(_live):
		try:
			s.stop(2.0)
		except Exception:
			pass


def _on_term(signum, frame):
	# ctest's TIMEOUT kills us: take our servers down first.
	_stop_all()
	sys.exit(128 + signum)


signal.signal(signal.SIGTERM, _on_term)


class TempDir:
	def __init__(self, prefix="gk-it-"):
		self.path = tempfile.mkdtemp(prefix=prefix)

	def __enter__(self):
		return self.path

	def __exit__(self, *exc):
		if os.environ.get("GK_KEEP_TMP"):
			log("keeping", self.path)
		else:
			shutil.rmtree(self.path, ignore_errors=True)
		return False


def copy_zones(dst, zones=ZONES):
	"""Copy the fixture zones (and include files) into dst; returns dst."""
	for fn in os.listdir(ZONEDIR):
		p = os.path.join(ZONEDIR, fn)
		if os.path.isfile(p):
			shutil.copy(p, dst)
	return dst


def _yaml_str(s):
	return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def gk_config(tmp, port, zonedir=ZONEDIR, zones=ZONES, workers=2, tcp_max=64, tcp_idle_ms=10000,
	      ipv6=True, extra="", name="gatekeeperd.yaml", log_level="info", rate_limit=0):
	"""Write a gatekeeperd YAML config; returns its path. rate_limit: responses per second
	(every test's load comes from loopback: off unless asked); None leaves the section to
	extra."""
	listen = ["127.0.0.1:%d" % port]
	if ipv6 and has_ipv6():
		listen.append("[::1]:%d" % port)
	lines = [
		"# generated by tests/integration/gkharness.py",
		"listen: [%s]" % ", ".join(_yaml_str(x) for x in listen),
		"workers: %d" % workers,
		"edns_udp_max: %d" % EDNS_UDP_MAX,
		"tcp:",
		"  max_connections: %d" % tcp_max,
		"  idle_timeout_ms: %d" % tcp_idle_ms,
		"log_level: %s" % log_level,
	]
	if rate_limit is not None:
		lines += ["rate_limit:", "  responses_per_second: %d" % rate_limit]
	lines += [
		"zones:" if zones else "zones: []",
	]
	for z, f in zones:
		lines.append("  - name: %s" % z)
		lines.append("    file: %s" % _yaml_str(os.path.join(zonedir, f)))
	path = os.path.join(tmp, name)
	with open(path, "w") as fh:
		fh.write("\n".join(lines) + "\n" + extra)
	return path


def start_gk(binary, tmp, port=None, ready=True, **cfg):
	"""Start gatekeeperd on a free port with the fixture zones. Returns a Server."""
	for attempt in range(3):
		p = port or free_port()
		conf = gk_config(tmp, p, **cfg)
		srv = Server("gatekeeperd", [binary, "-c", conf], tmp, p, os.path.join(tmp, "gatekeeperd.log"))
		srv.conf = conf
		try:
			if ready:
				srv.wait_ready()
			return srv
		except RuntimeError:
			rc = srv.stop()
			if port or attempt == 2 or "in use" not in srv.log_text().lower():
				raise
	raise RuntimeError("unreachable")


def nsd_config(tmp, port, zonedir=ZONEDIR, zones=ZONES, ipv6=False):
	"""Write an nsd.conf for NSD 4.6 (no database file, no RRL, no chroot). Returns path."""
	ifaces = ["127.0.0.1@%d" % port]
	if ipv6 and has_ipv6():
		ifaces.append("::1@%d" % port)
	lines = ["server:"]
	lines += ["\tip-address: %s" % a for a in ifaces]
	lines += [
		"\tport: %d" % port,
		'\tusername: ""',
		'\tchroot: ""',
		'\tzonesdir: "%s"' % zonedir,
		'\tdatabase: ""',
		'\tpidfile: "%s"' % os.path.join(tmp, "nsd.pid"),
		'\txfrdfile: "%s"' % os.path.join(tmp, "xfrd.state"),
		'\tzonelistfile: "%s"' % os.path.join(tmp, "zone.list"),
		'\txfrdir: "%s"' % tmp,
		"\trrl-ratelimit: 0",
		"\tipv4-edns-size: %d" % EDNS_UDP_MAX,
		"\tipv6-edns-size: %d" % EDNS_UDP_MAX,
		"\tserver-count: 1",
		"\thide-version: yes",
		"\thide-identity: yes",
		"\tverbosity: 1",
		"\tzonefiles-write: 0",
		"remote-control:",
		"\tcontrol-enable: no",
	]
	for z, f in zones:
		lines += ["zone:", "\tname: %s" % z, '\tzonefile: "%s"' % f]
	path = os.path.join(tmp, "nsd.conf")
	with open(path, "w") as fh:
		fh.write("\n".join(lines) + "\n")
	return path


def start_nsd(tmp, **cfg):
	for attempt in range(3):
		p = free_port()
		conf = nsd_config(tmp, p, **cfg)
		srv = Server("nsd", [NSD, "-d", "-c", conf], tmp, p, os.path.join(tmp, "nsd.log"))
		try:
			srv.wait_ready()
			return srv
		except RuntimeError:
			srv.stop()
			if attempt == 2:
				raise
	raise RuntimeError("unreachable")


# ---- raw wire helpers ----

def metrics(port, host="127.0.0.1", timeout=2.0):
	"""One scrape of gatekeeperd's /metrics: {'name' or 'name{labels}': float}."""
	import http.client
	c = http.client.HTTPConnection(host, port, timeout=timeout)
	try:
		c.request("GET", "/metrics")
		r = c.getresponse()
		body = r.read().decode()
		if r.status != 200:
			raise RuntimeError("GET /metrics: %d %s" % (r.status, body[:200]))
	finally:
		c.close()
	out = {}
	for line in body.splitlines():
		if line and not line.startswith("#"):
			k, _, v = line.rpartition(" ")
			out[k] = float(v)
	return out


def udp_raw(wire, port, host="127.0.0.1", timeout=1.0, bufsize=65535):
	"""Send one datagram, return the reply bytes or None on timeout."""
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_DGRAM)
	try:
		s.settimeout(timeout)
		s.sendto(wire, (host, port))
		try:
			data, _ = s.recvfrom(bufsize)
			return data
		except socket.timeout:
			return None
	finally:
		s.close()


def burst_wires(n, suffixes):
	"""n queries with distinct ids over names, types and EDNS that take every answer path."""
	names = ["www", "mail", "ns1", "nx%d", "cname1", "a.wild", "txt", "sub", "www.sub", "x.y"]
	wires = []
	for i in range(n):
		nm = names[i % len(names)]
		nm = nm % i if "%" in nm else nm
		qn = nm + suffixes[(i // len(names)) % len(suffixes)]
		m = dns.message.make_query(qn, ("A", "AAAA", "TXT", "MX", "NS")[i % 5],
					   use_edns=0 if i % 3 else False)
		m.id = 0x5000 + i
		wires.append(m.to_wire())
	return wires


def udp_burst(srv, wires, host="127.0.0.1", timeout=2.0):
	"""Send every datagram of wires, from one socket, while the server is stopped (SIGSTOP);
	SIGCONT then lets it find them all queued, so it answers them in full receive batches.
	Returns {query id: reply bytes} (ids should be distinct)."""
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_DGRAM)
	try:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
		s.bind((host, 0))
		os.kill(srv.pid, signal.SIGSTOP)
		try:
			for w in wires:
				s.sendto(w, (host, srv.port))
		finally:
			os.kill(srv.pid, signal.SIGCONT)
		got = {}
		s.settimeout(timeout)
		while len(got) < len(wires):
			try:
				data = s.recv(65535)
			except socket.timeout:
				break
			if len(data) >= 2:
				got[struct.unpack("!H", data[:2])[0]] = data
		return got
	finally:
		s.close()


def recv_exact(s, n):
	buf = b""
	while len(buf) < n:
		try:
			chunk = s.recv(n - len(buf))
		except ConnectionResetError:
			return None
		if not chunk:
			return None
		buf += chunk
	return buf


def tcp_raw(wire, port, host="127.0.0.1", timeout=2.0):
	"""Send one length-framed message over a new TCP connection; return the reply."""
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_STREAM)
	try:
		s.settimeout(timeout)
		s.connect((host, port))
		s.sendall(struct.pack("!H", len(wire)) + wire)
		hdr = recv_exact(s, 2)
		if hdr is None:
			return None
		return recv_exact(s, struct.unpack("!H", hdr)[0])
	except (socket.timeout, ConnectionError):
		return None
	finally:
		s.close()


def question_bytes(wire):
	"""The raw bytes of the first question (name + type + class) of a message, or None."""
	if wire is None or len(wire) < 12 or struct.unpack("!H", wire[4:6])[0] == 0:
		return None
	i = 12
	while i < len(wire):
		n = wire[i]
		if n == 0:
			i += 1
			break
		if n & 0xC0:
			i += 2
			break
		i += 1 + n
	return wire[12:i + 4]


def good_query_answered(port, host="127.0.0.1", timeout=1.0):
	q = dns.message.make_query("www.example.cn", "A")
	try:
		r = dns.query.udp(q, host, port=port, timeout=timeout)
		return r.rcode() == dns.rcode.NOERROR and len(r.answer) == 1
	except Exception:
		return False


# ---- a private redis-server and the registry feed through the real gk-sync ----

REDIS_SERVER = os.environ.get("GK_REDIS_SERVER", "/usr/bin/redis-server")


class RedisStartError(RuntimeError):
	"""redis-server exited before answering; .log holds its log."""

	def __init__(self, name, log):
		RuntimeError.__init__(self, "%s did not start:\n%s" % (name, log))
		self.log = log


def need(tool, package):
	"""The path of a program the test needs; a missing one fails the test naming its Debian
	package (scripts/deps.sh installs every one), never a silently skipped step."""
	path = shutil.which(tool) or shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
	if path is None:
		raise AssertionError("%s not found: install the Debian package %s (scripts/deps.sh)" %
				     (tool, package))
	return path


# What a wait counts as "not yet" when fn raises it: a server still starting or restarting.
_NOT_YET = (OSError, dns.exception.Timeout)
try:
	import redis as _redis  # python3-redis, used by the tests that talk to Redis
	_NOT_YET += (_redis.RedisError,)
except ImportError:
	pass


def wait_for(what, fn, timeout=30.0, step=0.02, proc=None, must=True):
	"""The one wait of the suite: poll fn() until it returns something true, and return that.
	Wait on an event or a counter (a log line, a metric, a heartbeat, an answer), never on
	time: timeout only bounds a failure, so nothing is proved by it; keep it generous (a
	loaded machine under ASan is slow). fn raising OSError, a dnspython timeout or a Redis
	error counts as "not yet" (a server still starting); other exceptions propagate.
	proc: a Server or subprocess.Popen that must keep running: if it exits first, fail at
	once naming it. On timeout: AssertionError naming what, with fn's last value (or error);
	must=False returns that last (false) value instead, for tests that collect failures."""
	deadline = time.monotonic() + timeout
	last = err = None
	while True:
		try:
			last, err = fn(), None
		except _NOT_YET as e:
			last, err = None, e
		if last:
			return last
		if proc is not None and not (proc.alive() if hasattr(proc, "alive") else proc.poll() is None):
			raise AssertionError("%s exited before %s" % (getattr(proc, "name", "the process"), what))
		if time.monotonic() > deadline:
			if not must:
				return last
			raise AssertionError("timed out after %.0f s waiting for %s (last %r)" %
					     (timeout, what, err if err is not None else last))
		time.sleep(step)


def _redis_pong(port):
	with socket.create_connection(("127.0.0.1", port), timeout=0.5) as s:
		s.sendall(b"PING\r\n")
		return s.recv(16).startswith(b"+PONG")


def start_redis(tmp, argv=None, name="redis-server", ping=None):
	"""A redis-server without persistence; waits until it answers PING, and returns the
	Server (its port in .port). Default: a free loopback port, its files in tmp. argv: the
	listening arguments instead (then .port is 0 and its files go to tmp/name); ping: a
	callable that is true once the server answers (exceptions count as not yet). Raises
	RedisStartError when the server exits first (its log in .log)."""
	if not os.access(REDIS_SERVER, os.X_OK):
		raise RuntimeError("redis-server not found at %s (scripts/deps.sh installs it)" % REDIS_SERVER)
	if argv is None:
		port, d = free_port(), tmp
		argv = ["--port", str(port), "--bind", "127.0.0.1"]
		logpath = os.path.join(tmp, "redis.log")
	else:
		port, d = 0, os.path.join(tmp, name)
		os.mkdir(d)
		logpath = os.path.join(tmp, name + ".log")
	if ping is None:
		def ping():
			return _redis_pong(port)
	srv = Server(name, [REDIS_SERVER] + argv + ["--save", "", "--appendonly", "no", "--dir", d], d, port,
		     logpath)
	deadline = time.time() + 10
	while True:
		if not srv.alive():
			text = srv.log_text()
			srv.stop()
			raise RedisStartError(name, text)
		try:
			if ping():
				return srv
		except Exception:  # noqa: BLE001 (any client's "not yet")
			pass
		if time.time() > deadline:
			srv.stop()
			raise RuntimeError("%s did not answer:\n%s" % (name, srv.log_text()))
		time.sleep(0.05)


def status_bucket(domain):
	"""The status hash a domain's record lives in (GK_KEY_STATUS_BUCKET, include/gk/filing_status.h)."""
	x = 2166136261
	for b in domain.encode():
		x ^= b
		x = (x * 16777619) & 0xFFFFFFFF
	return x & 0xFFFF


class Feed:
	"""Registry feeds signed and applied with the real gk-sync (keygen, sign, apply)."""

	def __init__(self, gk_sync, tmp, redis_port):
		self.bin, self.tmp, self.n = gk_sync, tmp, 0
		self.addr = "127.0.0.1:%d" % redis_port
		self.priv = os.path.join(tmp, "registry.key")
		self.pub = os.path.join(tmp, "registry.pub")
		self.run("keygen", self.priv, self.pub)

	def run(self, *args):
		r = subprocess.run([self.bin] + list(args), capture_output=True, text=True, timeout=60)
		if r.returncode != 0:
			raise RuntimeError("gk-sync %s: exit %d\n%s%s" % (args[0], r.returncode, r.stdout, r.stderr))
		return r

	def snapshot(self, serial, records):
		"""records: [(domain, "filed" | "revoked")]."""
		self.n += 1
		lines = ['{"kind":"snapshot","serial":%d,"count":%d,"generated":"2026-01-01T00:00:00Z"}' %
			 (serial, len(records))]
		for i, (d, st) in enumerate(records):
			lines.append('{"domain":"%s","status":"%s","licence":"京ICP备%08d号-1",'
				     '"sponsor":"示例%03d有限公司","nature":"企业","provider":"示例云",'
				     '"updated":"2026-01-01T00:00:00+08:00"}' % (d, st, 30000000 + i, i))
		path = os.path.join(self.tmp, "feed%02d.jsonl" % self.n)
		with open(path, "w") as f:
			f.write("\n".join(lines) + "\n")
		self.run("sign", "--key", self.priv, path)
		self.run("apply", "--redis", self.addr, "--pubkey", self.pub, path)


def ede_code(r):
	"""The INFO-CODE of dnspython response r's Extended DNS Error option (RFC 8914), or None."""
	for o in r.options:
		if o.otype == 15:
			return o.code
	return None


def ede_text(r):
	"""The EXTRA-TEXT of response r's Extended DNS Error option, or None."""
	for o in r.options:
		if o.otype == 15:
			return o.text
	return None
