#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/run.py -- one command: gatekeeperd against its peers at registry scale, on loopback.
#
# Generates the data (bench/gen.py: zones, Zipf queries with expected rcodes, signed registry
# feeds, policy lists, the dnsdist CDB), starts redis-server, loads the feed with gk-sync,
# starts gatekeeperd and the peers (NSD; dnsdist in front of NSD enforcing the same
# filed-only rule with a CDB suffix lookup; refuser, the recvmmsg/sendmmsg ceiling probe) on
# free 127.0.0.1 ports with every server thread pinned to core 0, and runs the scenarios
# (see SCENARIOS and bench/README.md) with clients on core 1, alternating rounds. Prints
# tables of medians and ratios, writes bench/RESULTS.md and bench/results.png. Everything it
# starts it stops, by PID, on every exit path. --smoke is the ctest variant (tiny data, short
# runs, checks only).
import argparse
import atexit
import datetime
import json
import os
import platform
import random
import re
import resource
import shlex
import shutil
import signal
import socket
import statistics
import struct
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import feedgen  # noqa: E402
import gen  # noqa: E402

SERVER_CORE, CLIENT_CORE = "0", "1"
ALL_CORES = "0-%d" % (os.cpu_count() - 1)  # gk-sync and Redis in the sync scenario: no server under test
# Other work on a shared machine (builds, tests) would steal the pinned cores; a higher CFS
# weight keeps most of it off without starving anything (no real-time class). With autogroup
# scheduling, nice counts only inside a session, so each server and client gets its own
# session and that session's autogroup is given the same nice (see boost()).
NICE_LEVEL = -10
NICE = ["nice", "-n", str(NICE_LEVEL)]


def boost(pid):
	try:
		with open("/proc/%d/autogroup" % pid, "w") as f:
			f.write(str(NICE_LEVEL))
	except OSError:
		pass  # no autogroup support or no permission: plain nice still applies


CLK_TCK = os.sysconf("SC_CLK_TCK")
DNSPERF_PEAK = ["-c", "8", "-q", "160", "-T", "2"]  # DEPS.md: no loss with 208 KiB buffers
GKLOAD_PEAK = ["-c", "8", "-W", "64"]  # closed loop: 64 outstanding on each of 8 sockets
DNSPERF_TCP = ["-m", "tcp", "-c", "100", "-q", "1000", "-T", "2"]  # 100 connections, pipelined
GKLOAD_SOCKETS = "4"
GKLOAD_TIMEOUT_MS = ["1000"]  # a query unanswered this long is lost (smoke: shorter, so drains end sooner)
STARTED = []  # Popen objects, for cleanup
SCENARIOS = ["udp", "tcp", "redis", "storm", "propagate", "policy", "sync", "cold", "onoff"]
SCENARIO_HELP = {
	"udp": "max UDP rate (dnsperf and gkload closed loop) and 20k qps fixed rate, 1M status set: "
	       "gatekeeperd, NSD, dnsdist+NSD, ceiling",
	"tcp": "TCP, 100 connections, pipelined: gatekeeperd vs NSD",
	"redis": "Redis killed for 10 s while serving 20k qps: answers lost or wrong",
	"storm": "100k revocations through gk-sync while serving 20k qps: time until enforced, lost",
	"propagate": "200 one-record status changes through gk-sync, two gatekeeperd instances on the same Redis "
	             "(the first serving 20k qps): delay until each instance enforces each change",
	"policy": "1M-entry block/allow lists: compile time (polc), UDP rate with them vs an empty policy, and `gkctl policy push` of them while serving 20k qps: time until enforced, lost",
	"sync": "gk-sync at 10M: snapshot and 100k-delta apply times (registry records), Redis bytes/domain of "
	        "the status set and of the record buckets",
	"cold": "cold start with the 10M status set: time to ready, RSS over the empty baseline",
	"onoff": "10M status set: the same gatekeeperd with filing enforcement on vs off",
}


def log(*a):
	print(*a, file=sys.stderr, flush=True)


# ---- processes -------------------------------------------------------------------------

def tree(pid):
	"""pid and all its descendants (from /proc), pid first."""
	kids = {}
	for d in os.listdir("/proc"):
		if not d.isdigit():
			continue
		try:
			with open("/proc/%s/stat" % d) as f:
				s = f.read()
		except OSError:
			continue
		ppid = int(s[s.rindex(")") + 2:].split()[1])
		kids.setdefault(ppid, []).append(int(d))
	out, todo = [], [pid]
	while todo:
		p = todo.pop()
		out.append(p)
		todo += kids.get(p, [])
	return out


def cpu_seconds(pids):
	"""utime+stime of every thread of pids (a process's stat sums its threads)."""
	t = 0
	for p in pids:
		try:
			with open("/proc/%d/stat" % p) as f:
				s = f.read()
		except OSError:
			continue
		fields = s[s.rindex(")") + 2:].split()
		t += int(fields[11]) + int(fields[12])
	return t / CLK_TCK


def schedstat(pids, field):
	"""Sum over every thread of pids of a /proc schedstat field, in seconds: 0 is time on the
	CPU (exact, unlike the tick-sampled utime+stime), 1 is time runnable but waiting."""
	t = 0
	for p in pids:
		try:
			tids = os.listdir("/proc/%d/task" % p)
		except OSError:
			continue
		for tid in tids:
			try:
				with open("/proc/%d/task/%s/schedstat" % (p, tid)) as f:
					t += int(f.read().split()[field])
			except (OSError, IndexError, ValueError):
				pass
	return t / 1e9


def machine_busy_seconds():
	"""Busy time of all CPUs from /proc/stat (user+nice+system+irq+softirq+steal)."""
	with open("/proc/stat") as f:
		v = [int(x) for x in f.readline().split()[1:]]
	return (v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / CLK_TCK


def rss_kib(pids):
	t = 0
	for p in pids:
		try:
			with open("/proc/%d/status" % p) as f:
				for line in f:
					if line.startswith("VmRSS:"):
						t += int(line.split()[1])
		except OSError:
			pass
	return t


def stop_procs(procs, sig=signal.SIGTERM):
	"""Stops each Popen's process tree (recorded in p.gk_tree) by PID: sig, then SIGKILL."""
	for p in procs:
		if p.poll() is None:
			pids = [x for x in p.gk_tree if os.path.exists("/proc/%d" % x)] or [p.pid]
			for x in pids:
				try:
					os.kill(x, sig)
				except OSError:
					pass
			try:
				p.wait(timeout=10)
			except subprocess.TimeoutExpired:
				for x in pids:
					try:
						os.kill(x, signal.SIGKILL)
					except OSError:
						pass
				p.wait(timeout=5)
		# NSD's children may outlive the started pid for a moment; they were ours.
		for x in getattr(p, "gk_tree", []):
			if x == p.pid:
				continue
			for _ in range(50):
				try:
					with open("/proc/%d/stat" % x) as f:
						st = f.read()
				except OSError:
					break
				if st.split(")")[-1].split()[0] == "Z":
					break
				time.sleep(0.1)
			else:
				try:
					os.kill(x, signal.SIGKILL)
				except OSError:
					pass


def stop_all():
	stop_procs(list(reversed(STARTED)))
	STARTED.clear()


def on_signal(sig, _frame):
	stop_all()
	sys.exit(128 + sig)


def free_port():
	"""A port free on 127.0.0.1 for both UDP and TCP (checked by binding both)."""
	for _ in range(100):
		port = random.randint(20000, 60000)
		ok = True
		for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
			s = socket.socket(socket.AF_INET, kind)
			try:
				s.bind(("127.0.0.1", port))
			except OSError:
				ok = False
			finally:
				s.close()
		if ok:
			return port
	raise RuntimeError("no free port")


def dns_query(port, name, qtype=6, timeout=0.5):
	"""One UDP query; returns (rcode, aa) or None."""
	qid = random.randint(0, 65535)
	wire = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
	for label in name.rstrip(".").split("."):
		wire += bytes([len(label)]) + label.encode()
	wire += b"\0" + struct.pack(">HH", qtype, 1)
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.settimeout(timeout)
	try:
		s.sendto(wire, ("127.0.0.1", port))
		data = s.recv(4096)
	except OSError:
		return None
	finally:
		s.close()
	if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid:
		return None
	return data[3] & 15, bool(data[2] & 4)


class Proc:
	"""A started process tree, pinned to a core after it is ready, stopped by PID."""

	def __init__(self, label, argv, workdir, core=SERVER_CORE):
		self.label, self.argv, self.dir, self.core = label, argv, workdir, core
		os.makedirs(workdir, exist_ok=True)
		self.proc = None
		self.logpath = os.path.join(workdir, "%s.log" % re.sub(r"[^\w.-]", "_", label))

	def spawn(self):
		out = open(self.logpath, "a")
		self.t0 = time.monotonic()
		self.proc = subprocess.Popen(NICE + ["taskset", "-c", self.core] + self.argv, stdout=out,
					     stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
		self.proc.gk_tree = [self.proc.pid]
		STARTED.append(self.proc)
		boost(self.proc.pid)

	def alive(self):
		return self.proc is not None and self.proc.poll() is None

	def pin(self):
		self.pids = tree(self.proc.pid)
		self.proc.gk_tree = self.pids
		for p in self.pids:
			subprocess.run(["taskset", "-a", "-p", "-c", self.core, str(p)], stdout=subprocess.DEVNULL,
				       stderr=subprocess.DEVNULL)

	def stop(self, sig=signal.SIGTERM):
		if self.proc is None:
			return
		stop_procs([self.proc], sig)
		if self.proc in STARTED:
			STARTED.remove(self.proc)
		self.proc = None

	def log_text(self):
		try:
			with open(self.logpath, errors="replace") as f:
				return f.read()
		except OSError:
			return ""


class Target:
	"""A DNS server under test: one or more Procs (dnsdist+NSD is two), a port, a readiness
	probe. CPU, schedstat and RSS are summed over every process of every Proc."""

	def __init__(self, label, port, probe, procs, expect_ok=lambda r: r is not None and r[0] == 0 and r[1]):
		self.label, self.port, self.probe, self.procs, self.expect_ok = label, port, probe, procs, expect_ok
		self.pids = []

	def start(self, timeout=300):
		t0 = time.monotonic()
		for p in self.procs:
			p.spawn()
			if p is not self.procs[-1]:
				self._wait(p, self.port_of(p), t0, timeout)
		self._wait(self.procs[-1], self.port, t0, timeout)
		self.load_s = time.monotonic() - t0
		time.sleep(0.5)  # let forked helpers (NSD's) settle, then pin every thread of every one
		for p in self.procs:
			p.pin()
		self.pids = [x for p in self.procs for x in p.pids]
		self.rss = rss_kib(self.pids)
		log("%s: pids %s on 127.0.0.1:%d, answering after %.1f s, RSS %d MiB" %
		    (self.label, " ".join(map(str, self.pids)), self.port, self.load_s, self.rss // 1024))
		return self

	def port_of(self, p):
		return getattr(p, "port", self.port)

	def _wait(self, p, port, t0, timeout):
		ok = self.expect_ok if port == self.port else (lambda r: r is not None and r[0] == 0 and r[1])
		while True:
			if not p.alive():
				raise RuntimeError("%s exited during start; see %s:\n%s" % (p.label, p.logpath, p.log_text()[-2000:]))
			r = dns_query(port, self.probe)
			p.proc.gk_tree = tree(p.proc.pid)
			if ok(r):
				return
			if time.monotonic() - t0 > timeout:
				raise RuntimeError("%s not answering %s SOA after %d s" % (p.label, self.probe, timeout))
			time.sleep(0.05)

	def stop(self):
		for p in reversed(self.procs):
			p.stop()

	def cpu(self):
		for p in self.procs:
			if not p.alive():
				raise RuntimeError("%s died; see %s" % (p.label, p.logpath))
		return cpu_seconds(self.pids)

	def sample(self):
		return (time.monotonic(), self.cpu(), schedstat(self.pids, 1), machine_busy_seconds(),
			schedstat(self.pids, 0))


def nsd_target(label, manifest, work):
	d = os.path.join(work, label)
	os.makedirs(d, exist_ok=True)
	port = free_port()
	conf = os.path.join(d, "nsd.conf")
	gen.write_nsd_conf(manifest, conf, port, d)
	for f in ("zone.list", "xfrd.state", "nsd.log", "nsd.pid"):
		if os.path.exists(os.path.join(d, f)):
			os.unlink(os.path.join(d, f))
	p = Proc(label, ["nsd", "-d", "-c", conf], d)
	p.port = port
	return Target(label, port, first_filed(manifest), [p])


def first_filed(manifest):
	return next(z["name"] for z in manifest["zones"] if z["status"] == "filed")


def gk_target(label, binary, manifest, work, redis=None, tcp_conns=None, policy=None):
	d = os.path.join(work, label)
	os.makedirs(d, exist_ok=True)
	port = free_port()
	conf = os.path.join(d, "gatekeeperd.yaml")
	inst = "bench-%s-%d" % (label, os.getpid())
	gen.write_gk_conf(manifest, conf, port, workers=1, redis_port=redis.port if redis else None, instance=inst,
			  log_level="info", tcp_conns=tcp_conns, policy=policy)
	if os.path.exists(os.path.join(d, label + ".log")):
		os.unlink(os.path.join(d, label + ".log"))
	# the fleet policy a previous run left on disk (policy.state_dir, default state/ beside
	# the config) would be put in force at start: every run starts from Redis alone
	shutil.rmtree(os.path.join(d, "state"), ignore_errors=True)
	t = Target(label, port, first_filed(manifest), [Proc(label, [binary, "-c", conf], d)])
	t.instance, t.redis = inst, redis
	return t


def dnsdist_target(label, manifest, work, cdb, mode="cdb"):
	d = os.path.join(work, label)
	backend = nsd_target(label + "-backend", manifest, work)
	port = free_port()
	conf = os.path.join(d, "dnsdist.conf")
	os.makedirs(d, exist_ok=True)
	gen.write_dnsdist_conf(conf, port, backend.port, cdb, first_filed(manifest), mode)
	dd = Proc(label, ["dnsdist", "--supervised", "--disable-syslog", "-C", conf], d)
	# dnsdist marks NSD up after its first health check; wait for a forwarded answer.
	return Target(label, port, first_filed(manifest), backend.procs + [dd])


def ceiling_target(label, binary, work):
	d = os.path.join(work, label)
	port = free_port()
	p = Proc(label, [binary, "-p", str(port)], d)
	return Target(label, port, "ceiling.probe", [p], expect_ok=lambda r: r is not None and r[0] == 5)


class Redis:
	"""A private redis-server on loopback, pinned to the client core (it is the fleet's store,
	not part of the server under test). Saves to its own dir only when asked (SAVE)."""

	def __init__(self, work, label="redis", core=CLIENT_CORE):
		self.dir = os.path.join(work, label)
		os.makedirs(self.dir, exist_ok=True)
		for f in ("dump.rdb",):
			if os.path.exists(os.path.join(self.dir, f)):
				os.unlink(os.path.join(self.dir, f))
		self.port = free_port()
		self.proc = Proc(label, ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
					 "--appendonly", "no", "--dir", self.dir, "--dbfilename", "dump.rdb",
					 "--protected-mode", "no"], self.dir, core=core)

	def start(self):
		import redis as redislib
		self.proc.spawn()
		self.c = redislib.Redis(host="127.0.0.1", port=self.port, decode_responses=True)
		deadline = time.monotonic() + 60
		while True:
			try:
				self.c.ping()
				return self
			except (redislib.ConnectionError, redislib.BusyLoadingError):
				if time.monotonic() > deadline or not self.proc.alive():
					raise RuntimeError("redis did not start:\n" + self.proc.log_text()[-2000:])
				time.sleep(0.02)

	def heartbeat(self, inst):
		try:
			return self.c.hgetall("gk:inst:" + inst)
		except Exception:  # noqa: BLE001 -- Redis down is an answer here
			return {}

	def used_memory(self):
		return int(self.c.info("memory")["used_memory"])

	def stop(self, sig=signal.SIGTERM):
		self.proc.stop(sig)


def gk_sync(binary, args, timeout=1800, core=CLIENT_CORE):
	t0 = time.monotonic()
	p = subprocess.run(NICE + ["taskset", "-c", core, binary] + args, stdout=subprocess.PIPE,
			   stderr=subprocess.STDOUT, text=True, timeout=timeout)
	if p.returncode:
		raise RuntimeError("gk-sync %s failed (%d): %s" % (args[0], p.returncode, p.stdout))
	return time.monotonic() - t0, p.stdout.strip()


def wait_ready(redis, inst, timeout, proc=None, pred=lambda hb: hb.get("state") == "ready"):
	"""Polls the instance heartbeat until pred holds; returns (seconds, heartbeat)."""
	t0 = time.monotonic()
	while True:
		hb = redis.heartbeat(inst)
		if hb and pred(hb):
			return time.monotonic() - t0, hb
		if proc is not None and not proc.alive():
			raise RuntimeError("%s died; see %s" % (proc.label, proc.logpath))
		if time.monotonic() - t0 > timeout:
			raise RuntimeError("instance %s not ready after %d s (heartbeat %r)" % (inst, timeout, hb))
		time.sleep(0.01)


def account(r, server, s0, s1, client_cpu=None, served=None):
	"""Fills r with server CPU %, µs per query, run-queue wait and the rest of the machine's
	busy time (other processes and softirq) between samples s0 and s1."""
	wall, cpu = s1[0] - s0[0], s1[1] - s0[1]
	r["cpu_pct"] = 100.0 * cpu / wall
	r["cpu_exec_pct"] = 100.0 * (s1[4] - s0[4]) / wall
	r["us_per_q"] = 1e6 * cpu / served if served else None
	r["runq_ms_per_s"] = 1e3 * (s1[2] - s0[2]) / wall
	other = (s1[3] - s0[3]) - cpu - (client_cpu or 0)
	r["other_pct"] = max(0.0, 100.0 * other / wall)
	if client_cpu is not None:
		r["client_cpu_pct"] = 100.0 * client_cpu / wall


def wait_quiet(budget, limit_pct=25.0, max_wait=15.0):
	"""Waits (bounded by max_wait and the run's remaining budget[0] seconds) until the rest of
	the machine uses under limit_pct of a core over 0.5 s; our servers are idle meanwhile."""
	t0 = time.monotonic()
	while True:
		b0 = machine_busy_seconds()
		time.sleep(0.5)
		busy = 100.0 * (machine_busy_seconds() - b0) / 0.5
		waited = time.monotonic() - t0
		if busy < limit_pct or waited >= max_wait or waited >= budget[0]:
			budget[0] = max(0.0, budget[0] - waited)
			return busy


# ---- load --------------------------------------------------------------------------------

def children_cpu():
	ru = resource.getrusage(resource.RUSAGE_CHILDREN)
	return ru.ru_utime + ru.ru_stime


def run_client(argv, timeout):
	"""Runs a client pinned to the client core; returns (stdout, client CPU s, exit code).
	Client CPU is the RUSAGE_CHILDREN delta: the client is the only child reaped meanwhile."""
	cpu0 = children_cpu()
	p = subprocess.Popen(NICE + ["taskset", "-c", CLIENT_CORE] + argv, stdout=subprocess.PIPE,
			     stderr=subprocess.STDOUT, text=True, start_new_session=True)
	boost(p.pid)
	p.gk_tree = [p.pid]
	STARTED.append(p)
	try:
		out, _ = p.communicate(timeout=timeout)
	finally:
		STARTED.remove(p)
		if p.poll() is None:
			p.kill()
			p.wait()
	return out, children_cpu() - cpu0, p.returncode


def num(rx, text, cast=float):
	m = re.search(rx, text)
	return cast(m.group(1)) if m else None


def dnsperf(server, queries, duration, extra=DNSPERF_PEAK):
	argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", queries, "-l",
		str(duration), "-e"] + extra
	s0 = server.sample()
	out, ccpu, rc = run_client(argv, duration + 30)
	s1 = server.sample()
	if rc != 0 or "Queries per second" not in out:
		raise RuntimeError("dnsperf failed (%s):\n%s" % (rc, out))
	r = {
		"sent": num(r"Queries sent:\s+(\d+)", out, int),
		"completed": num(r"Queries completed:\s+(\d+)", out, int),
		"lost": num(r"Queries lost:\s+(\d+)", out, int),
		"qps": num(r"Queries per second:\s+([\d.]+)", out),
		"avg_lat_us": num(r"Average Latency \(s\):\s+([\d.]+)", out) * 1e6,
	}
	account(r, server, s0, s1, ccpu, r["completed"])
	return r


def parse_kv(out):
	r = {}
	for line in out.splitlines():
		if "=" in line and not line.startswith("gkload:"):
			k, v = line.split("=", 1)
			try:
				r[k] = float(v)
			except ValueError:
				pass
	return r


def gkload_argv(gkload, server, queries, duration, extra, expect=None):
	argv = [gkload, "-s", "127.0.0.1", "-p", str(server.port), "-d", queries, "-l", str(duration), "-e",
		"-t", GKLOAD_TIMEOUT_MS[0]] + extra
	if expect:
		argv += ["-x", expect]
	return argv


def gkload_run(server, gkload, queries, duration, extra, expect=None):
	s0 = server.sample()
	out, ccpu, rc = run_client(gkload_argv(gkload, server, queries, duration, extra, expect), duration + 30)
	s1 = server.sample()
	if rc != 0 or "received=" not in out:
		raise RuntimeError("gkload failed (%s):\n%s" % (rc, out))
	r = parse_kv(out)
	r["qps"] = r["recv_qps"]
	r["wrong_lines"] = [x for x in out.splitlines() if x.startswith("gkload: line")]
	account(r, server, s0, s1, ccpu, r["received"])
	return r


def profile(server, run, name):
	"""Extra, unscored run (run() does the load) with perf sampling the server; writes
	SERVERDIR/perf-NAME.txt and returns its path."""
	d = server.procs[-1].dir
	data = os.path.join(d, "perf-%s.data" % name)
	rec = subprocess.Popen(NICE + ["taskset", "-c", CLIENT_CORE, "perf", "record", "-q", "-F", "999", "-g",
				       "-o", data, "-p", ",".join(map(str, server.pids))],
			       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
	rec.gk_tree = [rec.pid]
	STARTED.append(rec)
	time.sleep(1)
	try:
		run()
	finally:
		os.kill(rec.pid, signal.SIGINT)
		rec.wait(timeout=30)
		STARTED.remove(rec)
	out = os.path.join(d, "perf-%s.txt" % name)
	with open(out, "w") as f:
		subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1",
				"--sort", "dso,symbol", "-g", "none"], stdout=f, stderr=subprocess.DEVNULL, timeout=120)
	return out


class Background:
	"""gkload at a fixed rate in the background (storm, Redis kill); result() waits for it."""

	def __init__(self, server, gkload, queries, duration, rate, expect=None):
		self.server = server
		self.s0 = server.sample()
		self.cpu0 = children_cpu()
		argv = gkload_argv(gkload, server, queries, duration, ["-Q", str(rate), "-c", GKLOAD_SOCKETS], expect)
		self.p = subprocess.Popen(NICE + ["taskset", "-c", CLIENT_CORE] + argv, stdout=subprocess.PIPE,
					  stderr=subprocess.STDOUT, text=True, start_new_session=True)
		boost(self.p.pid)
		self.p.gk_tree = [self.p.pid]
		STARTED.append(self.p)
		self.t0 = time.monotonic()
		self.duration = duration

	def result(self):
		out, _ = self.p.communicate(timeout=self.duration + 60)
		STARTED.remove(self.p)
		s1 = self.server.sample()
		if self.p.returncode != 0 or "received=" not in out:
			raise RuntimeError("gkload failed (%s):\n%s" % (self.p.returncode, out))
		r = parse_kv(out)
		r["wrong_lines"] = [x for x in out.splitlines() if x.startswith("gkload: line")]
		account(r, self.server, self.s0, s1, children_cpu() - self.cpu0, r["received"])
		return r


# ---- data --------------------------------------------------------------------------------

class Env:
	"""Binaries, generated data and sizes shared by the scenarios."""

	def __init__(self, a, data):
		self.a, self.data = a, data
		self.feeds = os.path.join(data, "feeds")
		os.makedirs(self.feeds, exist_ok=True)

	def keys(self):
		priv, pub = os.path.join(self.feeds, "bench.pem"), os.path.join(self.feeds, "bench.pub")
		if not (os.path.exists(priv) and os.path.exists(pub)):
			gk_sync(self.a.gk_sync, ["keygen", "--force", priv, pub])
		return priv, pub

	def tag(self, n):
		return "z%d-n%d-s%d-v%d" % (self.a.zones, n, self.a.seed, gen.GEN_VERSION)

	def snapshot(self, n):
		"""Signed snapshot feed (serial 10) of the status set of n domains; cached."""
		path = os.path.join(self.feeds, "snap-%s.jsonl" % self.tag(n))
		if not os.path.exists(path + ".sig"):
			t0 = time.monotonic()
			gen.write_snapshot(self.manifest, n, path, self.a.seed, 10)
			gk_sync(self.a.gk_sync, ["sign", "--key", self.keys()[0], path])
			log("feed: %s (%d domains) written and signed in %.1f s" % (path, n, time.monotonic() - t0))
		return path

	def storm(self, n, changes):
		"""Signed delta (serial 11 on 10) revoking `changes` domains of the n-domain snapshot."""
		path = os.path.join(self.feeds, "storm-%s-c%d.jsonl" % (self.tag(n), changes))
		doms, probe = gen.storm_changes(self.manifest, n, changes, self.a.seed)
		if not os.path.exists(path + ".sig"):
			gen.write_delta(doms, path, 11, 10)
			gk_sync(self.a.gk_sync, ["sign", "--key", self.keys()[0], path])
		return path, probe, len(doms)

	def records_feeds(self, n, changes):
		"""Signed registry feeds with full records (bench/feedgen.py: licence, sponsor, nature,
		provider, update time, site name, home page, IPs): a snapshot of n domains (serial 10)
		and a delta of `changes` on top of it (serial 11: 30% new, 40% status flips and record
		edits, 30% removals). Cached."""
		tag = "n%d-s%d" % (n, self.a.seed)
		snap = os.path.join(self.feeds, "records-snap-%s.jsonl" % tag)
		delta = os.path.join(self.feeds, "records-delta-%s-c%d.jsonl" % (tag, changes))
		for path, kw in ((snap, {}), (delta, {"delta": changes, "base": 10})):
			if not os.path.exists(path + ".sig"):
				t0 = time.monotonic()
				feedgen.write(path + ".tmp", n, self.a.seed, 11 if kw else 10, **kw)
				os.replace(path + ".tmp", path)
				gk_sync(self.a.gk_sync, ["sign", "--key", self.keys()[0], path])
				log("feed: %s written and signed in %.1f s" % (path, time.monotonic() - t0))
		return snap, delta

	def operator_keys(self):
		"""The operator's Ed25519 key pair for gkctl policy push (same PEM forms as gk-sync's)."""
		priv, pub = os.path.join(self.feeds, "operator.pem"), os.path.join(self.feeds, "operator.pub")
		if not (os.path.exists(priv) and os.path.exists(pub)):
			gk_sync(self.a.gk_sync, ["keygen", "--force", priv, pub])
		return priv, pub

	def filed_list(self, n):
		path = os.path.join(self.feeds, "filed-%s.txt" % self.tag(n))
		if not os.path.exists(path):
			gen.write_filed_list(self.manifest, n, path, self.a.seed)
		return path

	def dnsdist_data(self, n):
		return self.filed_list(n) if self.a.dnsdist_mode == "smn" else self.cdb(n)

	def cdb(self, n):
		path = os.path.join(self.feeds, "status-%s.cdb" % self.tag(n))
		if not os.path.exists(path):
			t0 = time.monotonic()
			gen.write_status_cdb(self.manifest, n, path, self.a.seed)
			log("cdb: %s written in %.1f s" % (path, time.monotonic() - t0))
		return path

	def apply(self, redis, feed):
		secs, out = gk_sync(self.a.gk_sync, ["apply", "--redis", "127.0.0.1:%d" % redis.port, "--pubkey",
						     self.keys()[1], "--no-records", feed])
		log("gk-sync: %s (%.1f s wall)" % (out, secs))
		return secs, out


def round_robin(targets, i):
	"""Order of round i: rotated by i, reversed on odd i; two targets simply alternate (the
	rotation and the reversal would cancel)."""
	if len(targets) == 2:
		return targets if i % 2 == 0 else targets[::-1]
	k = i % len(targets)
	return targets[k:] + targets[:k] if i % 2 == 0 else (targets[k:] + targets[:k])[::-1]


def quiet(env):
	if env.a.smoke:
		return None  # checks only: no figures to protect
	return wait_quiet(env.quiet_budget)


def logrun(i, label, what, r):
	log("round %d %-22s %-8s %9.0f qps  lost %d  server %5.1f%%  client %5.1f%%  runq %.1f ms/s  other %.1f%%%s" %
	    (i + 1, label, what, r.get("qps") or r.get("recv_qps") or 0, r.get("lost") or 0, r["cpu_pct"],
	     r.get("client_cpu_pct") or 0, r["runq_ms_per_s"], r["other_pct"],
	     "  p50 %.1f p99 %.1f p99.9 %.1f µs  wrong %d" % (r.get("p50_us", -1), r.get("p99_us", -1),
							    r.get("p999_us", -1), r.get("wrong", 0)) if "p99_us" in r else ""))


def measure_rounds(env, targets, kinds, res, expect_for, first=0, last=None):
	"""Alternating rounds [first, last) (default: all --rounds); kinds: list of (name,
	fn(target) -> result dict)."""
	for i in range(first, env.a.rounds if last is None else last):
		for name, fn in kinds:
			for t in round_robin(targets, i):
				quiet(env)
				r = fn(t)
				res.setdefault(t.label, {}).setdefault(name, []).append(r)
				logrun(i, t.label, name, r)


def kinds_udp(env, expect_for, fixed=True, peak=True):
	"""The udp measurements; peak=False leaves out both peaks (smoke: the udp scenario covers them)."""
	a, q = env.a, env.manifest["queries"]
	k = []
	if peak:
		k += [("dnsperf", lambda t: dnsperf(t, q, a.duration)),
		      ("gkload", lambda t: gkload_run(t, a.gkload, q, a.duration, GKLOAD_PEAK))]
	if fixed:
		k.append(("fixed", lambda t: gkload_run(t, a.gkload, q, a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS],
						       expect_for(t))))
	return k


def pair_order(targets, j):
	"""Slice order of pair j: the first target in the middle of its references (adjacent to
	two of them, one slice from a third), the references rotated by j and the whole order
	reversed on odd j, so every reference takes every place around the first target. Two
	targets: A B, B A, A B, ..."""
	refs = targets[1:]
	k = j % len(refs) if refs else 0
	refs = refs[k:] + refs[:k]
	mid = len(refs) // 2
	order = refs[:mid] + targets[:1] + refs[mid:]
	return order if j % 2 == 0 else order[::-1]


def measure_pairs(env, targets, res, kind="pairs"):
	"""The closed-loop peak (gkload GKLOAD_PEAK) as --pairs interleaved pairs of
	--pair-seconds slices: for each j, one slice per target back to back (pair_order), with no
	wait for a quiet machine between them; res[label][kind][j] is target label's slice of pair
	j. This VM's two speed modes last seconds, so a pair's slices mostly share one; the report
	takes the median of the per-pair ratios. The quiet wait runs before the block, and
	between pairs only when the last pair saw the rest of the machine busy."""
	a, q = env.a, env.manifest["queries"]
	if a.pairs < 1:
		return
	quiet(env)
	for j in range(a.pairs):
		busy = 0.0
		for pos, t in enumerate(pair_order(targets, j)):
			r = gkload_run(t, a.gkload, q, a.pair_seconds, GKLOAD_PEAK)
			r.update(pair=j, pos=pos, slice_s=a.pair_seconds)
			res.setdefault(t.label, {}).setdefault(kind, []).append(r)
			busy = max(busy, r["other_pct"])
			log("pair %d/%d %d %-22s %9.0f qps  lost %d  server %5.1f%%  %.2f µs/q  client %5.1f%%  other %.1f%%" % (
				j + 1, a.pairs, pos + 1, t.label, r["qps"], r.get("lost") or 0, r["cpu_pct"], r["us_per_q"] or 0,
				r.get("client_cpu_pct") or 0, r["other_pct"]))
		if busy >= 25.0 and j + 1 < a.pairs:
			quiet(env)


# ---- scenarios ---------------------------------------------------------------------------

def scenario_1m(env, want, out):
	"""udp, tcp, redis, storm, propagate: share one Redis with the 1M set and the servers."""
	a = env.a
	redis = Redis(a.work, "redis-1m").start()
	feed = env.snapshot(a.status_1m)
	sync_s, _ = env.apply(redis, feed)
	out["feed_1m"] = {"n": a.status_1m, "apply_s": sync_s, "redis_bytes": redis.used_memory()}
	gk = gk_target("gatekeeperd", a.gatekeeperd, env.manifest, a.work, redis=redis, tcp_conns=1024).start(a.start_timeout)
	wait_ready(redis, gk.instance, 120, gk.procs[0])
	expect = env.manifest["expect"]
	nsd = None
	if want & {"udp", "tcp"}:
		nsd = nsd_target("NSD", env.manifest, a.work).start(a.start_timeout)
	if "udp" in want:
		dd = dnsdist_target("dnsdist+NSD", env.manifest, a.work, env.dnsdist_data(a.status_1m), a.dnsdist_mode).start(a.start_timeout)
		ceil = ceiling_target("ceiling", a.refuser, a.work).start(a.start_timeout)
		targets = [gk, nsd, dd, ceil]
		res = {}
		exp = lambda t: expect if t in (gk, dd) else None  # noqa: E731 (NSD answers unfiled names)
		measure_rounds(env, targets, kinds_udp(env, exp), res, exp)
		measure_pairs(env, targets, res)
		# the fixed-rate CPU and p99 verdicts sit near parity: more rounds of just that
		measure_rounds(env, targets, kinds_udp(env, exp, peak=False), res, exp, a.rounds,
			       max(a.rounds, a.fixed_rounds))
		if a.perf:
			for t in (gk, nsd, dd):
				log("profile %s: %s" % (t.label, profile(t, lambda: gkload_run(
					t, a.gkload, env.manifest["queries"], a.duration, GKLOAD_PEAK), "peak")))
				log("profile %s: %s" % (t.label, profile(t, lambda: gkload_run(
					t, a.gkload, env.manifest["queries"], a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS]),
					"fixed")))
		out["udp"] = {"res": res, "targets": [(t.label, t.load_s, t.rss) for t in targets]}
		dd.stop()
		ceil.stop()
	if "tcp" in want:
		res = {}
		measure_rounds(env, [gk, nsd], [("tcp", lambda t: dnsperf(t, env.manifest["queries"], a.duration, DNSPERF_TCP))],
			       res, None)
		out["tcp"] = {"res": res}
	if nsd:
		nsd.stop()
	if "redis" in want:
		out["redis"] = redis_kill(env, gk, redis)
	if "storm" in want:
		out["storm"] = storm(env, gk, redis)
	if "propagate" in want:
		out["propagate"] = propagate(env, gk, redis)
	gk.stop()
	redis.stop()


def redis_kill(env, gk, redis):
	a = env.a
	lead, outage, tail = (0.5, 1.0, 1.0) if a.smoke else (5.0, 10.0, 10.0)
	quiet(env)
	bg = Background(gk, a.gkload, env.manifest["queries"], lead + outage + tail, a.rate, env.manifest["expect"])
	time.sleep(lead)
	redis.c.save()  # restart from this dump: the set Redis held when it was killed
	redis.stop(signal.SIGKILL)
	t_kill = time.monotonic()
	states = set()
	while time.monotonic() - t_kill < outage:
		time.sleep(0.1)
		if not gk.procs[0].alive():
			raise RuntimeError("gatekeeperd died while Redis was down")
	redis.start()
	back_s, hb = wait_ready(redis, gk.instance, 60, gk.procs[0],
				lambda h: h.get("redis") == "connected" and h.get("state") == "ready"
				and int(h.get("updated", 0)) > (time.time() - 0.5) * 1000)
	r = bg.result()
	logtxt = gk.procs[0].log_text()
	states = sorted(set(re.findall(r"status: (stale|fresh again)", logtxt)))
	res = {"lead_s": lead, "outage_s": outage, "sent": r["sent"], "received": r["received"], "lost": r["lost"],
	       "wrong": r.get("wrong", 0), "wrong_lines": r["wrong_lines"], "reconnected_s": back_s,
	       "hb": hb, "log_states": states, "p99_us": r.get("p99_us"), "cpu_pct": r["cpu_pct"],
	       "rcodes": {k[6:]: int(v) for k, v in r.items() if k.startswith("rcode_")}}
	log("redis kill: sent %d, lost %d, wrong %d, heartbeat ready+connected %.1f s after restart, log %s" %
	    (r["sent"], r["lost"], res["wrong"], back_s, states))
	return res


def storm(env, gk, redis):
	a = env.a
	path, probe, n_changes = env.storm(a.status_1m, a.storm_changes)
	lead, total = (0.5, 2.5) if a.smoke else (3.0, 15.0)
	quiet(env)
	bg = Background(gk, a.gkload, env.manifest["queries"], total, a.rate)
	time.sleep(lead)
	done = {}

	def prober():
		pending = list(probe)
		while pending and time.monotonic() - t0 < 120:
			pending = [n for n in pending if (dns_query(gk.port, n, 1, timeout=0.2) or (None,))[0] != 5]
		done["probes"] = time.monotonic() if not pending else None

	def serial_watch():
		while time.monotonic() - t0 < 120:
			hb = redis.heartbeat(gk.instance)
			if hb.get("serial") == "11":
				done["serial"] = time.monotonic()
				return
			time.sleep(0.01)
	t0 = time.monotonic()
	th = [threading.Thread(target=prober), threading.Thread(target=serial_watch)]
	for t in th:
		t.start()
	sync_s, sync_out = env.apply(redis, path)
	t_sync = t0 + sync_s
	for t in th:
		t.join()
	r = bg.result()
	res = {"changes": n_changes, "probes": len(probe), "sync_s": sync_s, "sync_out": sync_out,
	       "sent": r["sent"], "received": r["received"], "lost": r["lost"], "p99_us": r.get("p99_us"),
	       "p999_us": r.get("p999_us"), "cpu_pct": r["cpu_pct"]}
	for k in ("probes", "serial"):
		v = done.get(k)
		res["%s_from_start_s" % k] = v - t0 if v else None
		res["%s_after_sync_s" % k] = max(0.0, v - t_sync) if v else None
	log("storm: %d changes, gk-sync %.2f s; probes refused %.2f s after gk-sync returned (%.2f s from its start); "
	    "serial 11 at %s s after gk-sync returned; lost %d" % (n_changes, sync_s, res["probes_after_sync_s"] if res["probes_after_sync_s"] is not None else -1,
					      res["probes_from_start_s"] if res["probes_from_start_s"] is not None else -1, res["serial_after_sync_s"], r["lost"]))
	return res


def status_bucket(domain):
	"""The status set's bucket of a domain (include/gk/filing_status.h): FNV-1a 32 of the
	domain's bytes, low 16 bits."""
	x = 2166136261
	for b in domain.encode():
		x ^= b
		x = (x * 16777619) & 0xFFFFFFFF
	return x & 0xFFFF


PROPAGATE_TIMEOUT = 5.0  # s after gk-sync returned: an instance not showing a change by then never did


def pctl(values, q):
	"""Nearest-rank percentile q (0..100) of values; None (never seen) counts as infinite and
	comes back as None."""
	v = sorted(float("inf") if x is None else x for x in values)
	if not v:
		return None
	x = v[max(0, min(len(v) - 1, -(-len(v) * q // 100) - 1))]
	return None if x == float("inf") else x


def propagate(env, gk, redis):
	"""--propagate-changes status changes, each its own signed one-record delta applied with
	gk-sync, enforced by two gatekeeperd instances on the same Redis: the scenario's first one
	(under the background load) and a second one started here (same zones and config, its own
	port and instance id, pinned to the server core like the others); stopped at the end."""
	a = env.a
	serial = int(redis.c.get("gk:serial"))  # 11 after storm; 10 without it
	gk2 = gk_target("gatekeeperd-2", a.gatekeeperd, env.manifest, a.work, redis=redis, tcp_conns=1024)
	gk2.expect_ok = lambda r: r is not None  # the first filed zone may be revoked by now (storm)
	try:
		t_start = time.monotonic()
		gk2.start(a.start_timeout)
		wait_ready(redis, gk2.instance, 120, gk2.procs[0],
			   lambda hb: hb.get("state") == "ready" and hb.get("serial") == str(serial))
		ready_s = time.monotonic() - t_start
		log("%s: ready at serial %d %.1f s after start" % (gk2.label, serial, ready_s))
		res = propagate_run(env, [gk, gk2], redis, serial)
		res["second_ready_s"] = ready_s
		return res
	finally:
		gk2.stop()


def propagate_plan(env, targets, serial):
	"""The zones to change and the signed deltas (serial s+1 on s from the current serial),
	written before any timing. Revocations of distinct filed hosted zones of the set that are
	not storm probes when there are enough of them; else (small data: smoke) each change flips
	one of half as many hosted zones of the set as changes to the status it does not have,
	cycling over them (so each is flipped and flipped back: revoke and re-file). A zone's
	current status is what both instances answer for its SOA now (NOERROR or REFUSED)."""
	a = env.a
	n = a.status_1m
	status = {z["name"]: z["status"] for z in env.manifest["zones"]}
	in_set = [z["name"] for z in env.manifest["zones"] if z["status"] != "unfiled"][:n]
	probes = set(gen.storm_changes(env.manifest, n, a.storm_changes, a.seed)[1])
	filed = [d for d in in_set if status[d] == "filed" and d not in probes]
	rng = random.Random(a.seed + 17)
	k = a.propagate_changes
	if len(filed) >= k:
		mode, pool = "revoke", rng.sample(filed, k)
	else:
		mode, pool = "alternate", in_set[:max(1, (k + 1) // 2)]  # each zone flipped and flipped back

	def rcode(t, d):
		for _ in range(5):
			r = dns_query(t.port, d, 6, timeout=0.2)
			if r is not None:
				return r[0]
		return None
	state = {}
	for d in pool:
		rs = [rcode(t, d) for t in targets]
		if rs[0] in (0, 5) and len(set(rs)) == 1:
			state[d] = rs[0]
		elif mode == "revoke":
			raise RuntimeError("propagate: filed zone %s answers %s before the change" % (d, rs))
	pool = [d for d in pool if d in state]
	if not pool:
		raise RuntimeError("propagate: no hosted zone of the set answers NOERROR or REFUSED")
	if mode == "revoke" and any(state[d] != 0 for d in pool):
		raise RuntimeError("propagate: a filed zone is refused before its revocation")
	wd = os.path.join(a.work, "propagate")
	os.makedirs(wd, exist_ok=True)
	for f in os.listdir(wd):
		os.unlink(os.path.join(wd, f))
	plan = []
	t0 = time.monotonic()
	for i in range(k):
		d = pool[i % len(pool)]
		to = "filed" if state[d] == 5 else "revoked"
		state[d] = 0 if to == "filed" else 5
		path = os.path.join(wd, "change-%04d.jsonl" % i)
		gen.write_delta([d], path, serial + i + 1, serial + i, to)
		gk_sync(a.gk_sync, ["sign", "--key", env.keys()[0], path])
		plan.append((d, to, path))
	log("propagate: %d deltas (%s, %d zones) written and signed in %.1f s" % (k, mode, len(pool), time.monotonic() - t0))
	return mode, len(filed), len(pool), plan


def propagate_run(env, targets, redis, serial):
	a = env.a
	mode, n_filed, n_pool, plan = propagate_plan(env, targets, serial)
	apply_args = ["apply", "--redis", "127.0.0.1:%d" % redis.port, "--pubkey", env.keys()[1], "--no-records"]
	lead, chunk = (0.2, 1.0) if a.smoke else (2.0, 5.0)
	rng = random.Random(a.seed + 18)
	quiet(env)
	# the background load (no -x: the changes move expected rcodes) on the first instance,
	# in chunks of gkload runs so it lasts as long as the changes do
	loads = []
	bg = Background(targets[0], a.gkload, env.manifest["queries"], chunk, a.rate)
	time.sleep(lead)
	changes = []
	for i, (d, to, path) in enumerate(plan):
		if time.monotonic() > bg.t0 + bg.duration - 0.3:
			loads.append(bg.result())
			bg = Background(targets[0], a.gkload, env.manifest["queries"], chunk, a.rate)
			time.sleep(0.2)
		want = 0 if to == "filed" else 5
		time.sleep(rng.uniform(0.0, 0.02))  # changes at no fixed phase to anything periodic
		key = "gk:st:%04x" % status_bucket(d)
		before = redis.c.hget(key, d)
		# From gk-sync's start, one round after another: the domain's field in Redis (the
		# change is in Redis once its bucket's script ran: HSET and XADD together), then
		# one UDP query to each instance still showing the old answer.
		ts = time.monotonic()
		sp = subprocess.Popen(NICE + ["taskset", "-c", CLIENT_CORE, a.gk_sync] + apply_args + [path],
				      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
		t_redis, t_exit, seen, rounds = None, None, [None] * len(targets), 0
		pending = list(range(len(targets)))
		while (pending or t_redis is None) and time.monotonic() - ts < PROPAGATE_TIMEOUT + 60:
			rounds += 1
			if t_redis is None and redis.c.hget(key, d) != before:
				t_redis = time.monotonic()
			for j in list(pending):
				r = dns_query(targets[j].port, d, 6, timeout=0.05)
				if r is not None and r[0] == want:
					seen[j] = time.monotonic()
					pending.remove(j)
			if t_exit is None and sp.poll() is not None:
				t_exit = time.monotonic()
			if t_redis is not None and time.monotonic() - t_redis > PROPAGATE_TIMEOUT:
				break
		out = sp.communicate(timeout=60)[0]
		if t_exit is None:
			t_exit = time.monotonic()
		if sp.returncode:
			raise RuntimeError("gk-sync apply %s failed (%d): %s" % (path, sp.returncode, out))
		round_s = (time.monotonic() - ts) / max(1, rounds)
		# an instance may answer before the round's Redis check saw the field: delay 0
		delay = [None if x is None or t_redis is None else max(0.0, x - t_redis) for x in seen]
		changes.append({"zone": d, "to": to, "serial": serial + i + 1, "sync_s": t_exit - ts,
				"redis_after_start_s": None if t_redis is None else t_redis - ts,
				"delay_s": delay, "round_s": round_s,
				"after_exit_s": [None if x is None else max(0.0, x - t_exit) for x in seen]})
	loads.append(bg.result())
	final = int(redis.c.get("gk:serial"))
	worst = [None if None in c["delay_s"] else max(c["delay_s"]) for c in changes]
	after_exit = [None if None in c["after_exit_s"] else max(c["after_exit_s"]) for c in changes]
	syncs = sorted(c["sync_s"] for c in changes)
	rounds = sorted(c["round_s"] for c in changes)
	res = {"changes": len(changes), "mode": mode, "filed_candidates": n_filed, "zones": n_pool,
	       "revocations": sum(c["to"] == "revoked" for c in changes),
	       "refilings": sum(c["to"] == "filed" for c in changes),
	       "base_serial": serial, "final_serial": final, "labels": [t.label for t in targets],
	       "timeout_s": PROPAGATE_TIMEOUT, "rate": a.rate, "load_on": targets[0].label,
	       "p50_s": pctl(worst, 50), "p99_s": pctl(worst, 99), "max_s": pctl(worst, 100),
	       "inst_p99_s": [pctl([c["delay_s"][j] for c in changes], 99) for j in range(len(targets))],
	       "after_exit_p99_s": pctl(after_exit, 99),
	       "never": sum(w is None for w in worst),
	       "zero": sum(1 for c in changes for x in c["delay_s"] if x == 0.0),
	       "round_median_s": statistics.median(rounds),
	       "sync_median_s": statistics.median(syncs), "sync_max_s": syncs[-1],
	       "load": {"chunks": len(loads), "sent": sum(r["sent"] for r in loads),
			"received": sum(r["received"] for r in loads), "lost": sum(r["lost"] for r in loads),
			"p99_us_max": max((r.get("p99_us") or 0) for r in loads)},
	       "per_change": changes}
	if final != serial + len(changes):
		raise RuntimeError("propagate: gk:serial %d after %d deltas on %d" % (final, len(changes), serial))

	def ms(x):
		return "%.1f ms" % (1e3 * x) if x is not None else "never"
	log("propagate: %d changes (%s), serial %d -> %d; delay after the change was in Redis, later instance: p50 %s p99 %s "
	    "max %s; per instance p99 %s; never %d; load lost %d of %d" % (
		    res["changes"], mode, serial, final, ms(res["p50_s"]), ms(res["p99_s"]), ms(res["max_s"]),
		    " / ".join(ms(x) for x in res["inst_p99_s"]), res["never"], res["load"]["lost"], res["load"]["sent"]))
	return res


def gk_accepts(binary, manifest, work, policy, redis_port=None):
	"""Whether this gatekeeperd build accepts a `policy:` section (gatekeeperd --check)."""
	d = os.path.join(work, "policy-check")
	os.makedirs(d, exist_ok=True)
	conf = os.path.join(d, "gatekeeperd.yaml")
	gen.write_gk_conf({"zones": manifest["zones"][:1]}, conf, free_port(), redis_port=redis_port, instance="check",
			  policy=policy)
	p = subprocess.run([binary, "-c", conf, "--check"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
			   timeout=300)
	return p.returncode == 0, p.stdout.strip()


def policy(env):
	"""The operator policy at 1M entries: compile time (bench/polc, the daemon's compiler) of
	the plain and the RPZ form; gatekeeperd with the 1M-entry policy file against the same
	build with an empty policy (start-up, RSS, the udp kinds of measurement)."""
	a = env.a
	t0 = time.monotonic()
	p = gen.write_policy(env.manifest, a.policy_n, env.data, a.seed)
	res = {"n": a.policy_n, "files": p, "gen_s": time.monotonic() - t0,
	       "bytes": {k: os.path.getsize(p[k]) for k in ("block", "allow", "rpz_zone")}}
	for kind in ("plain", "rpz"):
		quiet(env)
		out, _, rc = run_client([a.polc, p[kind], "1" if a.smoke else "3"], 1200)
		if rc:
			raise RuntimeError("polc %s failed (%d): %s" % (p[kind], rc, out))
		res["compile_" + kind] = parse_kv(out)
		log("policy compile %s: %s" % (kind, " ".join(out.split())))
	ok, why = gk_accepts(a.gatekeeperd, env.manifest, a.work, {"file": p["empty"]})
	if not ok:
		res["status"] = "gatekeeperd does not take a policy file yet (%s)" % why.splitlines()[-1][:200]
		res["push_status"] = "not measured: no gkctl policy push"
		return res
	redis = Redis(a.work, "redis-policy").start()
	try:
		env.apply(redis, env.snapshot(a.status_1m))
		on = gk_target("gatekeeperd-policy1M", a.gatekeeperd, env.manifest, a.work, redis=redis,
			       policy={"file": p["plain"]})
		off = gk_target("gatekeeperd-policy0", a.gatekeeperd, env.manifest, a.work, redis=redis,
				policy={"file": p["empty"]})
		for t in (off, on):
			quiet(env)
			t.start(a.start_timeout)
			wait_ready(redis, t.instance, 120, t.procs[0])
			time.sleep(0.2 if a.smoke else 2)
			t.rss = rss_kib(t.pids)
		res["start"] = {t.label: (t.load_s, t.rss) for t in (on, off)}
		r = {}
		measure_rounds(env, [on, off], kinds_udp(env, lambda t: env.manifest["expect"], peak=not a.smoke), r, None)
		if not a.smoke:  # as the other peaks: the udp scenario covers them
			measure_pairs(env, [on, off], r)
		res["res"] = r
		res["status"] = "measured"
		off.stop()
		on.stop()
		res["push_status"] = "not measured: no gkctl (--gkctl) in this build"
		if a.gkctl and os.path.exists(a.gkctl):
			ok, why = gk_accepts(a.gatekeeperd, env.manifest, a.work, {
				"file": p["empty"], "redis": True, "operator_keys": [env.operator_keys()[1]]}, redis.port)
			if not ok:
				res["push_status"] = "not measured: gatekeeperd does not follow a pushed policy (%s)" % (
					why.splitlines()[-1][:200] if why else "?")
			else:
				u = policy_push(env, redis, p)
				if "skipped" in u:
					res["push_status"] = "not measured: " + u["skipped"]
				else:
					res["push"], res["push_status"] = u, "measured"
	finally:
		redis.stop()
	return res


def policy_push(env, redis, p):
	"""`gkctl policy push` of the 1M-entry policy plus a probe list (200 filed zones blocked)
	while gatekeeperd (policy.redis: true, the empty policy file until then) serves the fixed
	rate: push time, when every probe is refused (after gkctl returned, and after the
	daemon logged the version compiled and applied), queries lost."""
	a = env.a
	priv, pub = env.operator_keys()
	gk = gk_target("gatekeeperd-push", a.gatekeeperd, env.manifest, a.work, redis=redis,
		       policy={"file": p["empty"], "redis": True, "operator_keys": [pub]})
	gk.start(a.start_timeout)
	try:
		wait_ready(redis, gk.instance, 120, gk.procs[0])
		t = time.monotonic()
		while "policy: following" not in gk.procs[0].log_text():
			if time.monotonic() - t > (2 if a.smoke else 5):
				return {"skipped": "gatekeeperd does not follow the fleet policy (no 'policy: following' in its log)"}
			time.sleep(0.05)
		lead, total = (0.3, 2.0) if a.smoke else (3.0, 30.0)
		quiet(env)
		bg = Background(gk, a.gkload, env.manifest["queries"], total, a.rate)
		time.sleep(lead)
		done = {}
		t0 = time.time()

		def prober():
			pending = list(p["probes"])
			while pending and time.time() - t0 < 120:
				pending = [n for n in pending if (dns_query(gk.port, n, 1, timeout=0.2) or (None,))[0] != 5]
			done["probes"] = time.time() if not pending else None
		th = threading.Thread(target=prober)
		th.start()
		pr = subprocess.run(NICE + ["taskset", "-c", CLIENT_CORE, a.gkctl, "--redis", "127.0.0.1:%d" % redis.port,
					    "policy", "push", p["push"], "--key", priv, "--message", "bench push"],
				    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
		t1 = time.time()
		th.join()
		r = bg.result()
		if pr.returncode:
			raise RuntimeError("gkctl policy push failed (%d): %s" % (pr.returncode, pr.stdout))
		hb = redis.heartbeat(gk.instance)
		m = re.findall(r"^(\d{4}-\d\d-\d\dT[\d:.]+)Z \w+: policy: version (\d+) applied", gk.procs[0].log_text(), re.M)
		t_applied = (datetime.datetime.strptime(m[-1][0], "%Y-%m-%dT%H:%M:%S.%f").replace(
			tzinfo=datetime.timezone.utc).timestamp() if m else None)
		tp = done.get("probes")
		res = {"push_s": t1 - t0, "gkctl_out": pr.stdout.strip().splitlines()[0] if pr.stdout.strip() else "",
		       "enforced_after_push_s": max(0.0, tp - t1) if tp else None, "enforced_from_start_s": tp - t0 if tp else None,
		       # the daemon may log the version before gkctl's process has exited: 0 then
		       "applied_after_push_s": max(0.0, t_applied - t1) if t_applied else None,
		       "enforced_after_applied_s": tp - t_applied if tp and t_applied else None,
		       "version": m[-1][1] if m else None, "hb_version": hb.get("policy_version"),
		       "hb_state": hb.get("policy_state"), "probes": len(p["probes"]), "sent": r["sent"],
		       "received": r["received"], "lost": r["lost"], "p99_us": r.get("p99_us"), "p999_us": r.get("p999_us"),
		       "max_us": r.get("max_us"), "cpu_pct": r["cpu_pct"], "other_pct": r["other_pct"]}
		log("policy push: gkctl %.2f s; applied (log) %s s after it returned; probes refused %s s after that; lost %d "
		    "of %d" % (res["push_s"], res["applied_after_push_s"], res["enforced_after_applied_s"], r["lost"], r["sent"]))
		return res
	finally:
		gk.stop()


def key_bytes(redis, pattern):
	"""(sum of MEMORY USAGE ... SAMPLES 0, number of keys, keys not listpack-encoded) over the
	keys matching pattern."""
	total, n, big = 0, 0, 0
	keys = list(redis.c.scan_iter(match=pattern, count=10000))
	for i in range(0, len(keys), 4096):
		pipe = redis.c.pipeline(transaction=False)
		for k in keys[i:i + 4096]:
			pipe.memory_usage(k, samples=0)
			pipe.object("encoding", k)
		r = pipe.execute()
		total += sum(x or 0 for x in r[0::2])
		big += sum(1 for e in r[1::2] if e not in ("listpack", "ziplist"))
		n += len(r) // 2
	return total, n, big


def sync_apply(env, redis, feed, extra, others):
	"""One timed gk-sync apply on both cores (no server is under test here). Returns a dict:
	wall s, gk-sync's own summary line, its CPU s, and the rest of the machine's busy time
	(other work on the shared box) as % of a core."""
	quiet(env)
	pids = [p for r in others for p in tree(r.proc.proc.pid)]
	b0, r0, c0 = machine_busy_seconds(), cpu_seconds(pids), children_cpu()
	t0 = time.monotonic()
	secs, out = gk_sync(env.a.gk_sync, ["apply", "--redis", "127.0.0.1:%d" % redis.port, "--pubkey",
					    env.keys()[1]] + extra + [feed], core=ALL_CORES)
	wall = time.monotonic() - t0
	cpu, rcpu = children_cpu() - c0, cpu_seconds(pids) - r0
	other = machine_busy_seconds() - b0 - cpu - rcpu
	log("gk-sync %s %s: %.1f s wall, gk-sync CPU %.1f s, redis CPU %.1f s, other %.0f%%: %s" % (
		os.path.basename(feed), " ".join(extra), secs, cpu, rcpu, 100.0 * max(0, other) / wall, out))
	return {"s": secs, "out": out, "cpu_s": cpu, "redis_cpu_s": rcpu, "other_pct": 100.0 * max(0.0, other) / wall}


def sync_scenario(env):
	"""issue 3's gk-sync figures at registry scale, on a feed with full records: snapshot
	apply (status only, and status + records into a separate records instance), a delta on
	top, Redis bytes per domain of the status set and of the record buckets."""
	a = env.a
	n, changes = a.status_10m, a.storm_changes
	snap, delta = env.records_feeds(n, changes)
	st = Redis(a.work, "redis-sync", core=ALL_CORES).start()
	rec = Redis(a.work, "redis-sync-rec", core=ALL_CORES).start()
	both = [st, rec]
	res = {"n": n, "changes": changes, "snap_bytes": os.path.getsize(snap), "delta_bytes": os.path.getsize(delta),
	       "snap": os.path.relpath(snap, ROOT), "delta": os.path.relpath(delta, ROOT)}
	try:
		# The feed as it is when gk-sync gets it in practice: just written, in the page cache.
		# (Read cold from disk, the first apply paid ~25 s of I/O here: kernel time in "other".)
		t0 = time.monotonic()
		for path in (snap, delta):
			with open(path, "rb", buffering=0) as f:
				while f.read(1 << 24):
					pass
		res["warm_s"] = time.monotonic() - t0
		# 1. status only (--no-records): the replicated instance as gatekeeperd needs it
		m0 = st.used_memory()
		res["snap_norec"] = sync_apply(env, st, snap, ["--no-records"], both)
		m1 = st.used_memory()
		res["stream_bytes"] = st.c.memory_usage("gk:changes", samples=0) or 0
		res["stream_len"] = st.c.xlen("gk:changes")
		st.c.delete("gk:changes")
		m2 = st.used_memory()
		res["status_stream_b"] = (m1 - m0) / n
		res["status_b"] = (m2 - m0) / n
		res["st_keys_bytes"], res["st_keys"], res["st_big"] = key_bytes(st, "gk:st:*")
		res["delta_norec"] = sync_apply(env, st, delta, ["--no-records"], both)
		# 2. with records, into their own instance (docs/FEED.md: records stay off the replicas)
		st.c.flushall()
		s0, r0 = st.used_memory(), rec.used_memory()
		res["snap_rec"] = sync_apply(env, st, snap, ["--records-redis", "127.0.0.1:%d" % rec.port], both)
		res["rec_b"] = (rec.used_memory() - r0) / n
		res["rec_status_stream_b"] = (st.used_memory() - s0) / n
		res["rec_keys_bytes"], res["rec_keys"], res["rec_big"] = key_bytes(rec, "gk:rec:*")
		res["delta_rec"] = sync_apply(env, st, delta, ["--records-redis", "127.0.0.1:%d" % rec.port], both)
	finally:
		st.stop()
		rec.stop()
	log("sync %d: snapshot %.1f s (status only) / %.1f s (+records); delta %d: %.2f s / %.2f s; status set %.1f B/domain "
	    "(+stream %.1f), records %.1f B/domain" % (
		    n, res["snap_norec"]["s"], res["snap_rec"]["s"], changes, res["delta_norec"]["s"], res["delta_rec"]["s"],
		    res["status_b"], res["status_stream_b"], res["rec_b"]))
	return res


def loaded_ms(text):
	m = re.search(r"status: loaded (\d+) domains in (\d+) ms", text)
	return (int(m.group(1)), int(m.group(2))) if m else (None, None)


def scenario_10m(env, want, out):
	a = env.a
	n = a.status_10m
	feed = env.snapshot(n)
	redis = Redis(a.work, "redis-10m").start()
	res = {"n": n}
	# Empty baseline: the same build and config against a Redis with an empty status set.
	redis.c.set("gk:serial", 1)
	base = gk_target("gatekeeperd-empty", a.gatekeeperd, env.manifest, a.work, redis=redis)
	base.expect_ok = lambda r: r is not None  # every zone is unfiled here: REFUSED is the answer
	base.start(timeout=a.start_timeout)
	wait_ready(redis, base.instance, a.start_timeout, base.procs[0])
	res["empty_ready_s"] = time.monotonic() - base.procs[0].t0
	time.sleep(0.2 if a.smoke else 2)
	res["empty_rss_kib"] = rss_kib(base.pids)
	base.stop()
	redis.c.flushall()
	res["apply_s"], _ = env.apply(redis, feed)
	res["redis_bytes"] = redis.used_memory()
	gk = gk_target("gatekeeperd-10M", a.gatekeeperd, env.manifest, a.work, redis=redis)
	gk.start(timeout=a.start_timeout)
	hb_s, hb = wait_ready(redis, gk.instance, a.start_timeout, gk.procs[0])
	time.sleep(0.2 if a.smoke else 2)  # retired load buffers are freed after the workers' grace period
	res["ready_s"] = gk.load_s
	res["rss_kib"] = rss_kib(gk.pids)
	res["table_size"] = int(hb.get("table_size", 0))
	res["loaded_n"], res["load_ms"] = loaded_ms(gk.procs[0].log_text())
	res["b_per_domain"] = (res["rss_kib"] - res["empty_rss_kib"]) * 1024.0 / n
	log("cold start %d domains: answering after %.1f s (log: load %s ms), RSS %d MiB vs empty %d MiB: %.1f B/domain" %
	    (n, res["ready_s"], res["load_ms"], res["rss_kib"] // 1024, res["empty_rss_kib"] // 1024, res["b_per_domain"]))
	out["cold"] = res
	if "onoff" in want:
		off = gk_target("gatekeeperd-nofiling", a.gatekeeperd, env.manifest, a.work).start(a.start_timeout)
		r = {}
		measure_rounds(env, [gk, off], kinds_udp(env, lambda t: env.manifest["expect"] if t is gk else None, peak=not a.smoke),
			       r, None)
		if not a.smoke:
			measure_pairs(env, [gk, off], r)
		out["onoff"] = {"res": r, "n": n}
		off.stop()
	gk.stop()
	redis.stop()


def med(rounds, key):
	v = [r[key] for r in rounds if r.get(key) is not None]
	return (statistics.median(v), min(v), max(v)) if v else (None, None, None)


def fmt(x, nd=1):
	if x is None:
		return "-"
	if abs(x) >= 1000:
		return "{:,.0f}".format(x)
	return "%.*f" % (nd, x)


def cell(m, nd=1, spread=True):
	if m[0] is None:
		return "-"
	if not spread or m[1] == m[2]:
		return fmt(m[0], nd)
	return "%s (%s–%s)" % (fmt(m[0], nd), fmt(m[1], nd), fmt(m[2], nd))


def build_info(build, gk_bin):
	"""Build type and C flags from BUILD/CMakeCache.txt when gatekeeperd came from there."""
	cache = os.path.join(build, "CMakeCache.txt")
	if not gk_bin or os.path.dirname(os.path.abspath(gk_bin)) != os.path.abspath(build) or not os.path.exists(cache):
		return "see the binary's build"
	v = {}
	with open(cache) as f:
		for line in f:
			m = re.match(r"(CMAKE_BUILD_TYPE|CMAKE_C_FLAGS|CMAKE_C_COMPILER|GK_SANITIZE):\w+=(.*)", line)
			if m:
				v[m.group(1)] = m.group(2).strip()
	return "CMAKE_BUILD_TYPE=%s, CMAKE_C_FLAGS=\"%s\", GK_SANITIZE=%s" % (
		v.get("CMAKE_BUILD_TYPE", "?"), v.get("CMAKE_C_FLAGS", ""), v.get("GK_SANITIZE", "?"))


def machine():
	model = "?"
	with open("/proc/cpuinfo") as f:
		for line in f:
			if line.startswith("model name"):
				model = line.split(":", 1)[1].strip()
				break
	return "nproc %d, CPU %s, kernel %s" % (os.cpu_count(), model, platform.release())


def version(argv):
	try:
		out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=5).stdout
	except (OSError, subprocess.TimeoutExpired):
		return "?"
	for line in out.splitlines():
		if re.search(r"\d+\.\d+", line) and re.search(r"version|NSD|dnsdist|Redis", line, re.I):
			return line.strip()
	return "?"


def export_head(work):
	"""A clean copy of HEAD's tree (git archive) under WORK/src-HEAD, so the figures come from
	committed code even while others edit the shared working tree. Returns (dir, hash)."""
	h = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True,
			   check=True).stdout.strip()
	d = os.path.join(work, "src-HEAD")
	stamp = os.path.join(d, ".gk-head")
	if not (os.path.exists(stamp) and open(stamp).read() == h):
		if os.path.isdir(d):
			subprocess.run(["rm", "-rf", "--one-file-system", d], check=True)
		os.makedirs(d)
		arc = subprocess.Popen(["git", "-C", ROOT, "archive", "HEAD"], stdout=subprocess.PIPE)
		subprocess.run(["tar", "-x", "-C", d], stdin=arc.stdout, check=True)
		if arc.wait():
			raise RuntimeError("git archive failed")
		with open(stamp, "w") as f:
			f.write(h)
	return d, h


def git_head(clean=None):
	"""HEAD, and whether the sources the binary is built from differ from it."""
	if clean:
		subj = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%s", clean], stdout=subprocess.PIPE,
				      stderr=subprocess.DEVNULL, text=True).stdout.strip()
		return "`%s %s` (built from a clean export of HEAD: `git archive`, uncommitted changes excluded)" % (clean, subj)
	def git(*args):
		return subprocess.run(["git", "-C", ROOT] + list(args), stdout=subprocess.PIPE,
				      stderr=subprocess.DEVNULL, text=True).stdout
	try:
		h = "`%s`" % (git("log", "-1", "--format=%h %s").strip() or "?")
		n = len([x for x in git("status", "--porcelain", "--", "src", "include", "CMakeLists.txt")
			 .splitlines() if x.strip()])
	except OSError:
		return "?"
	return h + (" plus %d uncommitted change(s) under src/, include/, CMakeLists.txt" % n if n else "")


# ---- report ------------------------------------------------------------------------------

def ratio(x, y):
	return x / y if x is not None and y else None


def paired(a, b, key):
	"""Median over rounds of a[i] / b[i]: the two targets of one round ran back to back, so a
	machine-wide slow spell (this VM has two speed modes at peak) hits both sides of a pair."""
	v = [x[key] / y[key] for x, y in zip(a, b) if x.get(key) is not None and y.get(key)]
	return statistics.median(v) if v and len(a) == len(b) else None


def verdict(r, target, higher, shown=None):
	if r is None:
		return "-"
	ok = r >= target if higher else r <= target
	return "%s (%s %.2g: %s)" % (shown or "%.2f" % r, "≥" if higher else "≤", target, "PASS" if ok else "FAIL")


def pair_ratios(a, b, key):
	"""Per-pair ratios a / b of two targets' interleaved slices (measure_pairs) of the same pair."""
	bj = {y.get("pair"): y for y in b}
	return [x[key] / bj[x.get("pair")][key] for x in a
		if x.get(key) is not None and x.get("pair") in bj and bj[x.get("pair")].get(key)]


def pair_cell(v, targets=None):
	"""Median of the per-pair ratios v with the interquartile range, and the verdict if any."""
	if not v:
		return "-"
	m = statistics.median(v)
	q1, _, q3 = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else (m, m, m)
	shown = "%.2f [%.2f–%.2f]" % (m, q1, q3)
	return verdict(m, *targets, shown=shown) if targets else shown


def pairs_title(res, label, what="peak qps"):
	"""Row title of the interleaved pairs: N pairs of S s slices, as measured."""
	v = res.get(label, {}).get("pairs", [])
	if not v:
		return "%s, gkload interleaved pairs (not measured)" % what
	return "%s, gkload interleaved %d×%g s pairs: median of per-pair ratios [IQR]" % (what, len(v), v[0].get("slice_s", 0))


def rounds_title(res, label, what="peak qps, gkload closed loop"):
	v = [r["duration_s"] for r in res.get(label, {}).get("gkload", []) if r.get("duration_s")]
	return "%s, %d × %g s rounds (no verdict: see the interleaved pairs)" % (
		what, len(v), round(statistics.median(v), 1)) if v else what


def multi_table(res, labels, rows, refs):
	"""rows: (title, kind, key, digits, {ref label: (target, higher)}); refs: labels to ratio against.
	Cells: median (min–max). Ratio columns: first label / ref (ratio of the medians), with the
	target verdict if any, then the median of the per-round ratios ("paired"); for kind "pairs"
	(measure_pairs) the median of the per-pair ratios with the interquartile range instead."""
	head = ["metric (median of rounds, min–max)"] + labels + ["%s / %s" % (labels[0], r) for r in refs]
	lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
	for title, kind, key, nd, targets in rows:
		cells, meds = [], {}
		for lb in labels:
			m = med(res.get(lb, {}).get(kind, []), key)
			meds[lb] = m[0]
			cells.append(cell(m, nd))
		for r in refs:
			if kind == "pairs":
				cells.append(pair_cell(pair_ratios(res.get(labels[0], {}).get(kind, []), res.get(r, {}).get(kind, []),
								   key), targets.get(r)))
				continue
			x = ratio(meds[labels[0]], meds[r])
			c = verdict(x, *targets[r]) if r in targets else ("%.2f" % x if x is not None else "-")
			p = paired(res.get(labels[0], {}).get(kind, []), res.get(r, {}).get(kind, []), key)
			cells.append(c + ("; paired %.2f" % p if p is not None and len(res[labels[0]][kind]) > 1 else ""))
		lines.append("| " + " | ".join([title] + cells) + " |")
	return "\n".join(lines)


def per_round(res, labels, kinds):
	lines = ["| target | measurement | round | qps | lost | wrong | server CPU % | client CPU % | p50 µs | p99 µs | p99.9 µs | runq ms/s | rest of machine % |",
		 "|" + "---|" * 13]
	for lb in labels:
		for k in kinds:
			for i, r in enumerate(res.get(lb, {}).get(k, [])):
				lines.append("| %s | %s | %d | %s | %s | %s | %.1f | %s | %s | %s | %s | %.1f | %.1f |" % (
					lb, k, i + 1, fmt(r.get("qps"), 0), fmt(r.get("lost"), 0), fmt(r.get("wrong"), 0), r["cpu_pct"],
					fmt(r.get("client_cpu_pct")), fmt(r.get("p50_us")), fmt(r.get("p99_us")), fmt(r.get("p999_us")),
					r["runq_ms_per_s"], r["other_pct"]))
	return "\n".join(lines)


def pair_table(res, labels):
	"""One row per interleaved pair: slice order, each target's qps (server CPU µs/query), and
	the first target's ratio to each other's."""
	n = max(len(res.get(lb, {}).get("pairs", [])) for lb in labels)
	if not n:
		return ""
	by = {lb: {r.get("pair"): r for r in res.get(lb, {}).get("pairs", [])} for lb in labels}
	head = ["pair", "order"] + ["%s qps (µs/q)" % lb for lb in labels] + ["%s / %s" % (labels[0], lb) for lb in labels[1:]]
	lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
	for j in range(n):
		rs = {lb: by[lb].get(j) for lb in labels}
		order = " → ".join(lb for lb in sorted(labels, key=lambda x: rs[x]["pos"] if rs[x] else 99) if rs[lb])
		cells = ["%s (%s)" % (fmt(r["qps"], 0), fmt(r.get("us_per_q"), 2)) if r else "-" for r in rs.values()]
		f = rs[labels[0]]
		cells += ["%.2f" % (f["qps"] / rs[lb]["qps"]) if f and rs[lb] and rs[lb]["qps"] else "-" for lb in labels[1:]]
		lines.append("| " + " | ".join([str(j + 1), order] + cells) + " |")
	return "\n".join(lines)


# A peak measured with a load generator that is itself at this share of its core or more
# measures the generator (its speed, the VM's speed mode of the moment), not the server.
CLIENT_BOUND_PCT = 95.0


def dnsperf_peak_row(res, label, T):
	"""The dnsperf peak row of a table comparing label with the targets T: a verdict only for
	the targets where neither side's dnsperf was saturated; else the gkload pairs (a generator
	with room to spare) decide, and the title says for which."""
	def client_bound(lb):
		c = med(res.get(lb, {}).get("dnsperf", []), "client_cpu_pct")[0]
		return c is not None and c >= CLIENT_BOUND_PCT

	TD = {r: t for r, t in T.items() if not client_bound(label) and not client_bound(r)}
	bound = sorted(lb for lb in [label] + list(T) if client_bound(lb))
	dtitle = "peak qps, dnsperf" + (" (verdict only where neither dnsperf was at ≥ %g %% of its core: %s %s)" % (
		CLIENT_BOUND_PCT, ", ".join(bound), "was" if len(bound) == 1 else "were") if bound else "")
	return (dtitle, "dnsperf", "qps", 0, TD)


def udp_rows(rate, res, label):
	T = {"NSD": (1.0, True), "dnsdist+NSD": (3.0, True), "ceiling": (0.95, True)}
	L = {"NSD": (1.0, False)}
	return [
		dnsperf_peak_row(res, label, T),
		("peak: server CPU µs/query (dnsperf)", "dnsperf", "us_per_q", 2, {}),
		("peak: dnsperf CPU, % of a core", "dnsperf", "client_cpu_pct", 1, {}),
		(pairs_title(res, label), "pairs", "qps", 0, T),
		(pairs_title(res, label, "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
		(rounds_title(res, label), "gkload", "qps", 0, {}),
		("peak: server CPU, % of a core (gkload)", "gkload", "cpu_pct", 1, {}),
		("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
		("peak: gkload CPU, % of a core", "gkload", "client_cpu_pct", 1, {}),
		("peak: lost (gkload)", "gkload", "lost", 0, {}),
		("%d qps: server CPU, %% of a core" % rate, "fixed", "cpu_pct", 1, {"NSD": (0.9, False)}),
		("%d qps: server CPU µs/query" % rate, "fixed", "us_per_q", 2, {}),
		("%d qps: p50 latency µs" % rate, "fixed", "p50_us", 1, {}),
		("%d qps: p99 latency µs" % rate, "fixed", "p99_us", 1, L),
		("%d qps: p99.9 latency µs" % rate, "fixed", "p999_us", 1, {}),
		("%d qps: lost" % rate, "fixed", "lost", 0, {}),
		("%d qps: wrong rcode (gatekeeperd, dnsdist: -x expected)" % rate, "fixed", "wrong", 0, {}),
		("%d qps: server run-queue wait, ms/s" % rate, "fixed", "runq_ms_per_s", 1, {}),
		("%d qps: rest of machine busy, %% of a core" % rate, "fixed", "other_pct", 1, {}),
	]


def ceiling_fractions(res, labels):
	lines = ["| target | dnsperf peak ÷ ceiling's | gkload peak ÷ ceiling's | gkload interleaved pairs: median of per-pair "
		 "ratios to the ceiling [IQR] |", "|---|---|---|---|"]
	for lb in labels:
		cs = []
		for k in ("dnsperf", "gkload"):
			x, c = med(res.get(lb, {}).get(k, []), "qps")[0], med(res.get("ceiling", {}).get(k, []), "qps")[0]
			cs.append("%.2f" % (x / c) if x and c else "-")
		cs.append(pair_cell(pair_ratios(res.get(lb, {}).get("pairs", []), res.get("ceiling", {}).get("pairs", []), "qps")))
		lines.append("| %s | %s |" % (lb, " | ".join(cs)))
	return "\n".join(lines)


def rcode_mix(res, label, kind="fixed"):
	tot = {}
	for r in res.get(label, {}).get(kind, []):
		for k, v in r.items():
			if k.startswith("rcode_"):
				tot[k[6:]] = tot.get(k[6:], 0) + v
	n = sum(tot.values()) or 1
	return ", ".join("%s %.2f%%" % (k, 100.0 * v / n) for k, v in sorted(tot.items()))


def chart(out, path):
	"""PNG: peak qps per target (dnsperf, gkload) and latency percentiles at the fixed rate."""
	try:
		import matplotlib
		matplotlib.use("Agg")
		import matplotlib.pyplot as plt
	except ImportError:
		log("no matplotlib (Debian python3-matplotlib): chart skipped")
		return None
	panels = []
	if "udp" in out:
		panels.append(("udp", out["udp"]["res"], [t[0] for t in out["udp"]["targets"]]))
	if "onoff" in out:
		panels.append(("onoff", out["onoff"]["res"], list(out["onoff"]["res"].keys())))
	if not panels:
		return None
	fig, axes = plt.subplots(len(panels), 2, figsize=(12, 4.5 * len(panels)), squeeze=False)
	for row, (name, res, labels) in zip(axes, panels):
		x = range(len(labels))
		for j, k in enumerate(("dnsperf", "gkload")):
			v = [med(res.get(lb, {}).get(k, []), "qps")[0] or 0 for lb in labels]
			row[0].bar([i + (j - 0.5) * 0.4 for i in x], v, 0.4, label=k)
		row[0].set_xticks(list(x), labels, fontsize=8)
		row[0].set_ylabel("queries per second (median)")
		row[0].set_title("%s: peak rate" % name)
		row[0].legend()
		for j, k in enumerate(("p50_us", "p99_us", "p999_us")):
			v = [med(res.get(lb, {}).get("fixed", []), k)[0] or 0 for lb in labels]
			row[1].bar([i + (j - 1) * 0.27 for i in x], v, 0.27, label=k.replace("_us", ""))
		row[1].set_yscale("log")
		row[1].set_xticks(list(x), labels, fontsize=8)
		row[1].set_ylabel("latency µs at the fixed rate (median)")
		row[1].set_title("%s: latency" % name)
		row[1].legend()
	fig.tight_layout()
	fig.savefig(path, dpi=90)
	plt.close(fig)
	return path


def earlier(env, key):
	m = getattr(env, "meta", {}).get(key)
	return " (earlier run: %s)" % m["date"] if m and m.get("earlier") else ""


def earlier_runs(env):
	runs = {}
	for k, m in sorted(getattr(env, "meta", {}).items()):
		if m.get("earlier"):
			runs.setdefault((m["date"], m["command"], m["code"], m.get("load", "?")), []).append(k)
	return "".join("- Earlier run kept (`--keep`) for %s: %s, `%s`, load average before it %s; code %s\n" % (
		", ".join(ks), d, c, ld, code) for (d, c, code, ld), ks in sorted(runs.items()))


def markdown(env, out, cmd, wall):
	a = env.a
	now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
	S = []
	S.append("""# Gatekeeper bench results

Generated by `bench/run.py`; see `bench/README.md` for what is measured and how to read it.

- Command: `{cmd}`
- Date: {now}; whole run {wall:.0f} s; load average before the run: {load}
- Machine: {mach}
- Code: {head}; gatekeeperd `{gk}` ({build})
- Tools: {nsdv}; {ddv}; {rv}; {dp}; gkload and refuser (bench/gkload.c, bench/refuser.c)
- Data: {zones} zones, {nq} queries (seed {seed}, Zipf s=1.0 over zones), EDNS on; zone statuses
  {filed} filed, {unfiled} unfiled, {revoked} revoked. Servers on core 0 (every thread of every
  process: dnsdist+NSD share it), clients, redis-server and gk-sync on core 1, 127.0.0.1 only.
  {rounds} alternating rounds of {dur:g} s per measurement ({frounds} for the fixed rate). Peak: `dnsperf -e {dpa}` and
  `gkload -e {gla}` (closed loop); fixed rate: `gkload -Q {rate} -e -c {gs}` (open loop). The closed-loop
  peak is also measured as {pairs} interleaved pairs of {ps:g} s slices per target (its verdicts use the
  median of the per-pair ratios).
""".format(pairs=a.pairs, ps=a.pair_seconds, cmd=cmd, now=now, wall=wall, load=env.load_before, mach=machine(), head=git_head(a.clean_hash), gk=a.gatekeeperd,
	   build=build_info(a.build, a.gatekeeperd), nsdv=version(["nsd", "-v"]), ddv=version(["dnsdist", "--version"]),
	   rv=version(["redis-server", "--version"]), dp="dnsperf " + version(["dnsperf", "-h"]).replace("Version ", ""),
	   zones=a.zones, nq=a.queries, seed=a.seed,
	   filed=sum(z["status"] == "filed" for z in env.manifest["zones"]),
	   unfiled=sum(z["status"] == "unfiled" for z in env.manifest["zones"]),
	   revoked=sum(z["status"] == "revoked" for z in env.manifest["zones"]),
	   rounds=a.rounds, frounds=max(a.rounds, a.fixed_rounds), dur=a.duration, dpa=" ".join(DNSPERF_PEAK), gla=" ".join(GKLOAD_PEAK), rate=a.rate,
	   gs=GKLOAD_SOCKETS) + earlier_runs(env))
	if "udp" in out:
		u = out["udp"]
		labels = [t[0] for t in u["targets"]]
		f1 = out["feed_1m"]
		S.append("## Max UDP rate and %d qps, 1 worker, %s-domain status set%s\n" % (a.rate, fmt(f1["n"], 0), earlier(env, "udp")))
		S.append("Status set applied with `gk-sync apply --no-records` in %.1f s; Redis used_memory %.0f MiB. "
			 "Start-up: %s.\n" % (f1["apply_s"], f1["redis_bytes"] / 2**20, "; ".join(
				 "%s answering after %.1f s, RSS %d MiB" % (lb, s, r // 1024) for lb, s, r in u["targets"])))
		S.append(multi_table(u["res"], labels, udp_rows(a.rate, u["res"], labels[0]), ["NSD", "dnsdist+NSD", "ceiling"]))
		S.append("\nEvery target as a fraction of the ceiling probe (same load generator):\n")
		S.append(ceiling_fractions(u["res"], labels))
		S.append(client_note(u["res"], labels))
		S.append("\nResponse codes at the fixed rate:\n")
		S.append("\n".join("- %s: %s" % (lb, rcode_mix(u["res"], lb)) for lb in labels))
	if "tcp" in out:
		S.append("\n## TCP, 100 connections, pipelined (`dnsperf -e %s`)%s\n" % (" ".join(DNSPERF_TCP), earlier(env, "tcp")))
		S.append(multi_table(out["tcp"]["res"], ["gatekeeperd", "NSD"], [
			("qps", "tcp", "qps", 0, {"NSD": (1.0, True)}),
			("server CPU, % of a core", "tcp", "cpu_pct", 1, {}),
			("server CPU µs/query", "tcp", "us_per_q", 2, {}),
			("dnsperf CPU, % of a core", "tcp", "client_cpu_pct", 1, {}),
			("lost", "tcp", "lost", 0, {}),
			("rest of machine busy, % of a core", "tcp", "other_pct", 1, {})], ["NSD"]))
	if "cold" in out:
		c = out["cold"]
		S.append("\n## Cold start, %s-domain status set%s\n" % (fmt(c["n"], 0), earlier(env, "cold")))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| time to ready (start to the first authoritative answer for a filed zone) | %.1f s | %s |" % (
			c["ready_s"], "≤ 30 s: %s" % ("PASS" if c["ready_s"] <= 30 else "FAIL")))
		S.append("| status load as logged by gatekeeperd | %s ms (%s domains) | |" % (fmt(c["load_ms"], 0), fmt(c["loaded_n"], 0)))
		S.append("| resident memory, ready | %.0f MiB | |" % (c["rss_kib"] / 1024))
		S.append("| resident memory, same config with an empty status set | %.0f MiB | |" % (c["empty_rss_kib"] / 1024))
		S.append("| memory over the empty baseline per domain | %.1f B | ≤ 48 B: %s |" % (
			c["b_per_domain"], "PASS" if c["b_per_domain"] <= 48 else "FAIL"))
		S.append("| gk-sync apply of the snapshot (not a target) | %.1f s | |" % c["apply_s"])
		S.append("| Redis used_memory with the set (not a target) | %.0f MiB | |" % (c["redis_bytes"] / 2**20))
	if "onoff" in out:
		o = out["onoff"]
		S.append("\n## Filing enforcement on vs off, %s-domain status set, same gatekeeperd build%s\n" % (
			fmt(o["n"], 0), earlier(env, "onoff")))
		S.append(multi_table(o["res"], ["gatekeeperd-10M", "gatekeeperd-nofiling"], [
			dnsperf_peak_row(o["res"], "gatekeeperd-10M", {"gatekeeperd-nofiling": (0.95, True)}),
			("peak: server CPU µs/query (dnsperf)", "dnsperf", "us_per_q", 2, {}),
			("peak: dnsperf CPU, % of a core", "dnsperf", "client_cpu_pct", 1, {}),
			(pairs_title(o["res"], "gatekeeperd-10M"), "pairs", "qps", 0, {"gatekeeperd-nofiling": (0.95, True)}),
			(pairs_title(o["res"], "gatekeeperd-10M", "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
			(rounds_title(o["res"], "gatekeeperd-10M"), "gkload", "qps", 0, {}),
			("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
			("%d qps: server CPU, %% of a core" % a.rate, "fixed", "cpu_pct", 1, {}),
			("%d qps: p99 latency µs" % a.rate, "fixed", "p99_us", 1, {}),
			("%d qps: lost" % a.rate, "fixed", "lost", 0, {}),
			("%d qps: wrong rcode (on: -x expected)" % a.rate, "fixed", "wrong", 0, {})], ["gatekeeperd-nofiling"]))
		S.append("\nResponse codes at the fixed rate: on: %s; off: %s." % (
			rcode_mix(o["res"], "gatekeeperd-10M"), rcode_mix(o["res"], "gatekeeperd-nofiling")))
	if "storm" in out:
		s = out["storm"]
		S.append("\n## Revocation storm: %s status changes through gk-sync while serving %d qps%s\n" % (
			fmt(s["changes"], 0), a.rate, earlier(env, "storm")))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| gk-sync apply of the delta (wall) | %.2f s | |" % s["sync_s"])
		S.append("| all %d probe zones refused, after gk-sync returned | %s | ≤ 2 s: %s |" % (
			s["probes"], "%.2f s" % s["probes_after_sync_s"] if s["probes_after_sync_s"] is not None else "never (120 s)",
			"PASS" if s["probes_after_sync_s"] is not None and s["probes_after_sync_s"] <= 2 else "FAIL"))
		S.append("| all %d probe zones refused, from gk-sync start | %s | |" % (
			s["probes"], "%.2f s" % s["probes_from_start_s"] if s["probes_from_start_s"] is not None else "-"))
		S.append("| heartbeat serial 11 (every change applied), after gk-sync returned | %s | |" % (
			"%.2f s" % s["serial_after_sync_s"] if s["serial_after_sync_s"] is not None else "never (120 s)"))
		S.append("| queries lost (of %d sent) | %d | 0: %s |" % (s["sent"], s["lost"], "PASS" if s["lost"] == 0 else "FAIL"))
		S.append("| p99 / p99.9 latency during the run | %s / %s µs | |" % (fmt(s["p99_us"]), fmt(s["p999_us"])))
		S.append("\n`%s`" % s["sync_out"])
	if "propagate" in out:
		S.append(propagate_markdown(out["propagate"], earlier(env, "propagate")))
	if "sync" in out:
		S.append(sync_markdown(out["sync"], a, earlier(env, "sync")))
	if "policy" in out:
		S.append(policy_markdown(out["policy"], a, earlier(env, "policy")))
	if "redis" in out:
		r = out["redis"]
		S.append("\n## Redis killed (SIGKILL) for %.0f s while serving %d qps%s\n" % (r["outage_s"], a.rate, earlier(env, "redis")))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| queries sent / answered | %d / %d | |" % (r["sent"], r["received"]))
		S.append("| answers lost | %d | 0: %s |" % (r["lost"], "PASS" if r["lost"] == 0 else "FAIL"))
		S.append("| answers with a wrong rcode (gkload -x: the expected answer with the last-known-good set) | %d | 0: %s |" % (
			r["wrong"], "PASS" if r["wrong"] == 0 else "FAIL"))
		S.append("| heartbeat connected and ready again after Redis restarted | %.1f s | |" % r["reconnected_s"])
		S.append("| status transitions logged by gatekeeperd | %s | |" % (", ".join(r["log_states"]) or "none"))
		S.append("| response codes | %s | |" % ", ".join("%s %d" % kv for kv in sorted(r["rcodes"].items())))
		if r["wrong_lines"]:
			S.append("\nFirst wrong answers: " + "; ".join(r["wrong_lines"][:5]))
	for name, res, labels, kinds in env.round_tables(out):
		S.append("\n## Every round: %s\n" % name)
		S.append(per_round(res, labels, kinds))
		pt = pair_table(res, labels)
		if pt:
			S.append("\nInterleaved pairs (gkload closed loop, slices back to back in the order shown; qps and server "
				 "CPU µs/query per slice):\n")
			S.append(pt)
	return "\n".join(S) + "\n"


def propagate_markdown(p, when=""):
	def ms(x):
		return "%.1f ms" % (1e3 * x) if x is not None else "never (%g s)" % p["timeout_s"]
	S = ["\n## Status change propagation: %d changes through gk-sync, two gatekeeperd instances%s\n" % (
		p["changes"], when)]
	S.append("| metric | value | target |\n|---|---|---|")
	S.append("| delay per change from its write to Redis to its enforcement, the later of the two instances: p50 | %s | |" % ms(p["p50_s"]))
	S.append("| the same: p99 | %s | p99 ≤ 100 ms: %s |" % (
		ms(p["p99_s"]), "PASS" if p["p99_s"] is not None and p["p99_s"] <= 0.1 else "FAIL"))
	S.append("| the same: max | %s | |" % ms(p["max_s"]))
	for lb, v in zip(p["labels"], p["inst_p99_s"]):
		S.append("| p99 of %s alone | %s | |" % (lb, ms(v)))
	S.append("| p99 of the same delay counted from gk-sync's exit instead (0 when enforced before it exited) | %s | |" % ms(p["after_exit_p99_s"]))
	S.append("| polling round (one HGET, one UDP query per instance still pending): median | %.2f ms | |" % (
		1e3 * p["round_median_s"]))
	S.append("| gk-sync apply of a one-record delta (wall): median / max | %.1f / %.1f ms | |" % (
		1e3 * p["sync_median_s"], 1e3 * p["sync_max_s"]))
	S.append("| changes not shown by both instances within %g s | %d | |" % (p["timeout_s"], p["never"]))
	S.append("| instance-changes enforced by the round that saw the write (counted 0) | %d of %d | |" % (
		p["zero"], p["changes"] * len(p["labels"])))
	ld = p["load"]
	S.append("| background load on %s (%d qps, %d gkload runs): sent / lost / worst p99 | %d / %d / %s µs | |" % (
		p["load_on"], p["rate"], ld["chunks"], ld["sent"], ld["lost"], fmt(ld["p99_us_max"])))
	if p["mode"] == "revoke":
		what = ("%d revocations (filed → revoked: SOA NOERROR → REFUSED) of distinct filed hosted zones of the set "
			"that are not storm probes" % p["changes"])
	else:
		what = ("the set has %d filed hosted zones that are not storm probes, fewer than %d, so each change flips "
			"one of %d hosted zones of the set to the status it does not have (cycling): %d revocations "
			"(SOA NOERROR → REFUSED), %d re-filings (REFUSED → NOERROR)" % (
				p["filed_candidates"], p["changes"], p["zones"], p["revocations"], p["refilings"]))
	S.append("\nWhat was measured: %s, each its own signed one-record delta (serial s+1 on s, %d → %d), written and "
		 "signed before the timing, applied one after another with `gk-sync apply --redis … --pubkey … "
		 "--no-records change-NNNN.jsonl`. From gk-sync's start, round after round: HGET of the domain's "
		 "field in its status bucket (the change is in Redis once that bucket's MULTI/EXEC, HSET and XADD "
		 "together, ran), then one UDP `ZONE SOA` query (50 ms timeout) to each instance not yet answering "
		 "with the new rcode. A change's delay runs from the round that saw the field change to the round in "
		 "which the later instance answered anew (0 when that was the same round), so it is exact to about "
		 "one polling round. %s serves the background load; the second instance, started for this scenario on the same "
		 "Redis, zones and config, was ready %.1f s after its start and is stopped after it." % (
			 what, p["base_serial"], p["final_serial"], p["load_on"], p["second_ready_s"]))
	return "\n".join(S)


def policy_markdown(p, a, when=""):
	f = p["files"]
	S = ["\n## Operator policy of %s list entries%s\n" % (fmt(p["n"], 0), when)]
	S.append("Generated by `gen.write_policy` (seed %d): `%s` = block list `%s` (%.1f MiB: `name`, `.name` for the "
		 "name and below, `host.name`; action refuse) + allow list `%s` (%.1f MiB, 5%% of the entries); `%s` = the same "
		 "entries as one RPZ zone `%s` (%.1f MiB). Entries are names hosted elsewhere; one in 1000 is a hosted zone "
		 "(an unfiled one in the block list, a filed one in the allow list), so every query's expected rcode is "
		 "unchanged and `-x` checks it.\n" % (
			 a.seed, os.path.basename(f["plain"]), os.path.basename(f["block"]), p["bytes"]["block"] / 2**20,
			 os.path.basename(f["allow"]), p["bytes"]["allow"] / 2**20, os.path.basename(f["rpz"]),
			 os.path.basename(f["rpz_zone"]), p["bytes"]["rpz_zone"] / 2**20))
	S.append("| compile (`bench/polc POLICY %s`: gk_policy_build, as gatekeeperd) | plain lists | RPZ |\n|---|---|---|" %
		 int(p["compile_plain"].get("rounds", 1)))
	cp, cr = p["compile_plain"], p["compile_rpz"]
	S.append("| build time, best / median of rounds | %.2f s / %.2f s | %.2f s / %.2f s |" % (
		cp["compile_best_s"], cp["compile_median_s"], cr["compile_best_s"], cr["compile_median_s"]))
	S.append("| entries (distinct names) / lines read | %s / %s | %s / %s |" % (
		fmt(cp["entries"], 0), fmt(cp["lines"], 0), fmt(cr["entries"], 0), fmt(cr["lines"], 0)))
	S.append("| memory the policy owns (arena) | %.1f MiB (%.1f B/entry) | %.1f MiB (%.1f B/entry) |" % (
		cp["arena_bytes"] / 2**20, cp["arena_bytes"] / max(1, cp["entries"]), cr["arena_bytes"] / 2**20,
		cr["arena_bytes"] / max(1, cr["entries"])))
	S.append("| peak RSS of the compiler process | %.0f MiB | %.0f MiB |" % (cp["maxrss_kib"] / 1024, cr["maxrss_kib"] / 1024))
	if p.get("res"):
		lb_on, lb_off = "gatekeeperd-policy1M", "gatekeeperd-policy0"
		st = p["start"]
		S.append("\ngatekeeperd with `policy: {file: %s}` (%s) vs the same build with `policy: {file: %s}` (%s), same "
			 "1M status set and config otherwise: answering after %.1f s vs %.1f s, RSS %d vs %d MiB (ready, 2 s "
			 "after).\n" % (os.path.basename(f["plain"]), lb_on, os.path.basename(f["empty"]), lb_off,
					 st[lb_on][0], st[lb_off][0], st[lb_on][1] // 1024, st[lb_off][1] // 1024))
		S.append(multi_table(p["res"], [lb_on, lb_off], [
			dnsperf_peak_row(p["res"], lb_on, {lb_off: (0.95, True)}),
			("peak: server CPU µs/query (dnsperf)", "dnsperf", "us_per_q", 2, {}),
			("peak: dnsperf CPU, % of a core", "dnsperf", "client_cpu_pct", 1, {}),
			(pairs_title(p["res"], lb_on), "pairs", "qps", 0, {lb_off: (0.95, True)}),
			(pairs_title(p["res"], lb_on, "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
			(rounds_title(p["res"], lb_on), "gkload", "qps", 0, {}),
			("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
			("%d qps: server CPU, %% of a core" % a.rate, "fixed", "cpu_pct", 1, {}),
			("%d qps: p99 latency µs" % a.rate, "fixed", "p99_us", 1, {}),
			("%d qps: lost" % a.rate, "fixed", "lost", 0, {}),
			("%d qps: wrong rcode (-x expected)" % a.rate, "fixed", "wrong", 0, {}),
			("rest of machine busy, % of a core (fixed)", "fixed", "other_pct", 1, {})], [lb_off]))
		S.append("\nTarget: no measurable change (judged here as ≥ 0.95x of the empty policy's peak).")
	else:
		S.append("\nDaemon: %s." % p["status"])
	u = p.get("push")
	if not u:
		S.append("\nPush of the 1M-entry policy while serving %d qps: %s." % (a.rate, p["push_status"]))
		return "\n".join(S)
	def sec(x):
		return "%.2f s" % x if x is not None else "never (120 s)"
	S.append("\n### Push of the 1M-entry policy while serving %d qps\n" % a.rate)
	S.append("`gkctl policy push %s --key operator.pem` (the 1M-entry lists plus `%s`: %d filed zones blocked, the "
		 "probes) to the Redis that gatekeeperd-push follows (`policy: {file: %s, redis: true, operator_keys: "
		 "[operator.pub]}`), while gkload sends %d qps; a prober queries every probe until all are REFUSED. "
		 "\"Applied\" is the daemon's log line `policy: version N applied` (after fetch, signature check and "
		 "compile, before the swap; ms resolution).\n" % (
			 os.path.basename(f["push"]), os.path.basename(f["probe"]), u["probes"], os.path.basename(f["empty"]),
			 a.rate))
	S.append("| metric | value | target |\n|---|---|---|")
	S.append("| gkctl policy push (validate, sign, write; wall) | %s | |" % sec(u["push_s"]))
	S.append("| version applied (log), after gkctl returned: fetch + verify + compile | %s | |" % sec(u["applied_after_push_s"]))
	ok = u["enforced_after_applied_s"] is not None and u["enforced_after_applied_s"] <= 1
	S.append("| every probe REFUSED, after the version was applied (compiled) | %s | ≤ 1 s: %s |" % (
		sec(u["enforced_after_applied_s"]), "PASS" if ok else "FAIL"))
	S.append("| every probe REFUSED, after gkctl returned / from its start | %s / %s | |" % (
		sec(u["enforced_after_push_s"]), sec(u["enforced_from_start_s"])))
	S.append("| queries lost (of %d sent) | %d | 0: %s |" % (u["sent"], u["lost"], "PASS" if u["lost"] == 0 else "FAIL"))
	S.append("| p99 / p99.9 / max latency during the run | %s / %s / %s µs | |" % (
		fmt(u["p99_us"]), fmt(u["p999_us"]), fmt(u["max_us"])))
	S.append("| heartbeat after the run: policy_version / policy_state | %s / %s | |" % (u["hb_version"], u["hb_state"]))
	S.append("| rest of machine busy during the run, %% of a core | %.1f | |" % u["other_pct"])
	if u["gkctl_out"]:
		S.append("\n`%s`" % u["gkctl_out"])
	return "\n".join(S)


def sync_markdown(y, a, when=""):
	n = y["n"]
	def verdict(v, lim):
		return "≤ %g: %s (%.2fx)" % (lim, "PASS" if v <= lim else "FAIL", v / lim)
	def row(what, r, lim=None, unit="s"):
		return "| %s | %.2f %s | %.1f s / %.1f s | %.0f%% | %s |" % (
			what, r["s"], unit, r["cpu_s"], r["redis_cpu_s"], r["other_pct"], verdict(r["s"], lim) if lim else "")
	S = ["\n## gk-sync at %s domains: apply times and Redis memory%s\n" % (fmt(n, 0), when)]
	S.append("Feeds with full registry records (`bench/feedgen.py`, seed %d: licence, sponsor, nature, provider, "
		 "update time, site name, home page, IPs; 2%% revoked): snapshot `%s` (%.0f MiB, %.0f B/line), a delta of "
		 "%s changes `%s` (%.1f MiB; 30%% new, 40%% status flips and record edits, 30%% removals). gk-sync and both "
		 "redis-servers run unpinned on both cores (no DNS server runs meanwhile); each apply starts on a fresh "
		 "or the previous step's Redis as listed; the feeds are read once before (page cache, %.1f s).\n" % (
			 a.seed, y["snap"], y["snap_bytes"] / 2**20, y["snap_bytes"] / (n + 1), fmt(y["changes"], 0), y["delta"],
			 y["delta_bytes"] / 2**20, y.get("warm_s", 0)))
	S.append("| step | wall | CPU gk-sync / redis | rest of machine busy | target |\n|---|---|---|---|---|")
	S.append(row("1. snapshot, `--no-records` (status set only), empty Redis", y["snap_norec"], 60))
	S.append(row("2. delta on 1., `--no-records`", y["delta_norec"], 5))
	S.append(row("3. snapshot, `--records-redis` (status set + records in a second instance), empty Redises", y["snap_rec"], 60))
	S.append(row("4. delta on 3., `--records-redis`", y["delta_rec"], 5))
	S.append("\n| Redis memory (INFO used_memory after − before, ÷ %s) | bytes/domain | target |\n|---|---|---|" % fmt(n, 0))
	S.append("| status set `gk:st:*` (after 1., change stream deleted) | %.1f | %s |" % (y["status_b"], verdict(y["status_b"], 24)))
	S.append("| status set + change stream `gk:changes` (%s entries, MEMORY USAGE %.0f MiB) | %.1f | |" % (
		fmt(y["stream_len"], 0), y["stream_bytes"] / 2**20, y["status_stream_b"]))
	S.append("| status set, sum of MEMORY USAGE over %s buckets (%d not listpack) | %.1f | |" % (
		fmt(y["st_keys"], 0), y["st_big"], y["st_keys_bytes"] / n))
	S.append("| record buckets `gk:rec:*` in the records instance (after 3.) | %.1f | not a target (issue 3 asks for the figure) |" % y["rec_b"])
	S.append("| record buckets, sum of MEMORY USAGE over %s buckets (%d not listpack) | %.1f | |" % (
		fmt(y["rec_keys"], 0), y["rec_big"], y["rec_keys_bytes"] / n))
	S.append("\ngk-sync's own summaries:\n")
	for k in ("snap_norec", "delta_norec", "snap_rec", "delta_rec"):
		S.append("- `%s`" % y[k]["out"].splitlines()[-1] if y[k]["out"] else "-")
	return "\n".join(S)


def client_note(res, labels):
	cs = [med(res.get(lb, {}).get("dnsperf", []), "client_cpu_pct")[0] for lb in labels]
	if not any(c is not None and c >= 90 for c in cs):
		return ""
	return ("\n**dnsperf peak is client-bound:** dnsperf used %s of its core, so the dnsperf peak row measures "
		"dnsperf as much as the servers; the gkload closed-loop row and server CPU µs per query separate them.\n" %
		", ".join("%.0f%% (%s)" % (c, lb) for c, lb in zip(cs, labels) if c is not None))


def round_tables(out):
	t = []
	if "udp" in out:
		t.append(("max UDP rate and fixed rate", out["udp"]["res"], [x[0] for x in out["udp"]["targets"]],
			  ["dnsperf", "gkload", "fixed"]))
	if "tcp" in out:
		t.append(("TCP", out["tcp"]["res"], ["gatekeeperd", "NSD"], ["tcp"]))
	if out.get("policy", {}).get("res"):
		t.append(("policy 1M vs empty", out["policy"]["res"], ["gatekeeperd-policy1M", "gatekeeperd-policy0"],
			  ["dnsperf", "gkload", "fixed"]))
	if "onoff" in out:
		t.append(("enforcement on vs off", out["onoff"]["res"], ["gatekeeperd-10M", "gatekeeperd-nofiling"],
			  ["dnsperf", "gkload", "fixed"]))
	return t


def ensure_build(build, src=ROOT):
	if not os.path.isdir(build):
		# GCC 12 at -O3 reports maybe-uninitialized false positives that -Werror turns into a
		# failed build; the bench keeps them visible as warnings (no effect on the code).
		subprocess.run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
				"-DCMAKE_C_FLAGS=-Wno-error=maybe-uninitialized"], check=True)
	# Incremental: a no-op when fresh, and it keeps a stale binary out of the figures.
	subprocess.run(["cmake", "--build", build, "-j2", "--target", "gatekeeperd", "gk-sync", "gkload", "refuser",
			"polc"], check=True)
	out = {"gatekeeperd": os.path.join(build, "gatekeeperd"), "gk_sync": os.path.join(build, "gk-sync"),
	       "gkload": os.path.join(build, "bench", "gkload"), "refuser": os.path.join(build, "bench", "refuser"),
	       "polc": os.path.join(build, "bench", "polc")}
	if os.path.isdir(os.path.join(src, "src", "bin", "gkctl")):  # the policy scenario's push
		subprocess.run(["cmake", "--build", build, "-j2", "--target", "gkctl"], check=True)
		out["gkctl"] = os.path.join(build, "gkctl")
	return out


def smoke_checks(out):
	bad = []
	u = out.get("udp", {}).get("res", {})
	for lb, kinds in u.items():
		for k, rs in kinds.items():
			for r in rs:
				sent = r.get("sent") or 0
				if not (r.get("completed") or r.get("received")):
					bad.append("%s %s: nothing answered" % (lb, k))
				# closed-loop peak: a start-up burst may overflow a backend's buffer; that is a figure
				if k not in ("gkload", "pairs") and (r.get("lost") or 0) > max(1, sent // 1000):
					bad.append("%s %s: lost %s of %s" % (lb, k, r.get("lost"), sent))
				if r.get("wrong"):
					bad.append("%s %s: %d wrong rcodes: %s" % (lb, k, r["wrong"], r.get("wrong_lines")))
	for sc in ("tcp", "onoff", "policy"):
		for lb, kinds in (out.get(sc, {}).get("res") or {}).items():
			for k, rs in kinds.items():
				for r in rs:
					lost = (r.get("lost") or 0) if k != "pairs" else 0  # closed loop: as in udp
					if r.get("wrong") or lost > max(1, (r.get("sent") or 0) // 1000):
						bad.append("%s %s %s: lost %s wrong %s" % (sc, lb, k, r.get("lost"), r.get("wrong")))
	if "storm" in out and out["storm"]["probes_from_start_s"] is None:
		bad.append("storm: revocations never enforced")
	if "propagate" in out and out["propagate"]["never"]:
		p = out["propagate"]
		bad.append("propagate: %d of %d changes not enforced by both instances within %g s" % (
			p["never"], p["changes"], p["timeout_s"]))
	if "redis" in out and (out["redis"]["wrong"] or out["redis"]["lost"]):
		bad.append("redis kill: lost %d wrong %d" % (out["redis"]["lost"], out["redis"]["wrong"]))
	if "cold" in out and out["cold"]["table_size"] != out["cold"]["n"]:
		bad.append("cold: table_size %d != %d" % (out["cold"]["table_size"], out["cold"]["n"]))
	return bad


def keep_results(path, out, keep, meta):
	"""Saves this run's scenario results (also a failed run's finished ones) to path, merged
	with the saved results of scenarios not run now when keep is set, and puts those earlier
	results into out. Returns {result key: meta (date, code, command, load; earlier: bool)}."""
	prev = {"out": {}, "meta": {}}
	if keep and os.path.exists(path):
		with open(path) as f:
			prev = json.load(f)
	now = set(out)
	merged = {"out": dict(prev["out"]), "meta": dict(prev["meta"])}
	for k in now:
		merged["out"][k], merged["meta"][k] = out[k], meta
	with open(path + ".tmp", "w") as f:
		json.dump(merged, f, default=str)
	os.replace(path + ".tmp", path)
	for k, v in prev["out"].items():
		if k not in now:
			out[k] = json.loads(json.dumps(v))
	return {k: dict(merged["meta"][k], earlier=k not in now) for k in out}


def main():
	ap = argparse.ArgumentParser(description="gatekeeperd against its peers at registry scale (see bench/README.md)")
	ap.add_argument("--smoke", action="store_true", help="tiny data, 1 s runs, every scenario, checks only (ctest)")
	ap.add_argument("--scenarios", default=",".join(SCENARIOS),
			help="comma-separated, from: " + "; ".join("%s = %s" % kv for kv in SCENARIO_HELP.items()))
	ap.add_argument("--rounds", type=int, default=3)
	ap.add_argument("--fixed-rounds", type=int, default=5,
			help="rounds of the udp scenario's fixed-rate measurement (at least --rounds)")
	ap.add_argument("--duration", type=float, default=10, help="seconds per measurement")
	ap.add_argument("--pairs", type=int, default=20,
			help="closed-loop peak as N interleaved pairs: one slice per target back to back for each pair "
			"(0: none); its verdicts use the median of the per-pair ratios")
	ap.add_argument("--pair-seconds", type=float, default=1.0, help="seconds per slice of an interleaved pair")
	ap.add_argument("--rate", type=int, default=20000, help="fixed rate in qps")
	ap.add_argument("--zones", type=int, default=10000)
	ap.add_argument("--queries", type=int, default=200000)
	ap.add_argument("--status-1m", type=int, default=1000000, help="status set size for udp/tcp/redis/storm/propagate")
	ap.add_argument("--status-10m", type=int, default=10000000, help="status set size for cold/onoff")
	ap.add_argument("--storm-changes", type=int, default=100000)
	ap.add_argument("--propagate-changes", type=int, default=200,
			help="propagate: status changes, each its own one-record delta (smoke: 10)")
	ap.add_argument("--policy-n", type=int, default=1000000)
	ap.add_argument("--dnsdist-mode", choices=["cdb", "smn"], default="smn",
			help="dnsdist's filed-only mechanism: CDB suffix lookup, or a SuffixMatchNode of the filed domains")
	ap.add_argument("--seed", type=int, default=20240101)
	ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
	ap.add_argument("--clean-head", action="store_true",
			help="build from a clean export of HEAD in WORK/src-HEAD (others' uncommitted edits excluded)")
	ap.add_argument("--gatekeeperd", help="binary (default: BUILD/gatekeeperd, built if missing)")
	ap.add_argument("--gk-sync", dest="gk_sync", help="binary (default: BUILD/gk-sync)")
	ap.add_argument("--gkload", help="binary (default: BUILD/bench/gkload)")
	ap.add_argument("--refuser", help="binary (default: BUILD/bench/refuser)")
	ap.add_argument("--polc", help="binary (default: BUILD/bench/polc)")
	ap.add_argument("--gkctl", help="binary (default: BUILD/gkctl, when this tree has it)")
	ap.add_argument("--perf", action="store_true",
			help="udp: after the rounds, one peak and one fixed-rate run per server under perf record; "
			"writes WORK/LABEL/perf-{peak,fixed}.txt (not in the figures)")
	ap.add_argument("--work", default=os.path.join(HERE, "out"), help="logs, configs, server state")
	ap.add_argument("--data", help="generated data (default bench/data, smoke: WORK/data)")
	ap.add_argument("--results", help="markdown output (default bench/RESULTS.md; smoke: WORK/RESULTS.md)")
	ap.add_argument("--keep", action="store_true",
			help="RESULTS.md also shows the saved results (WORK/results.json) of scenarios not run now, "
			"each marked with its own date and code (to re-run one scenario after interference)")
	a = ap.parse_args()
	if a.smoke:
		a.rounds, a.fixed_rounds, a.duration, a.zones, a.queries = 1, 1, 0.5, 20, 2000
		a.pairs, a.pair_seconds = 2, a.duration
		a.status_1m, a.status_10m, a.storm_changes, a.policy_n = 2000, 5000, 500, 1000
		a.propagate_changes = 10
		a.rate = min(a.rate, 5000)
		GKLOAD_TIMEOUT_MS[0] = "250"
	a.start_timeout = 20 if a.smoke else 300
	want = set(x.strip() for x in a.scenarios.split(",") if x.strip())
	if want - set(SCENARIOS):
		ap.error("unknown scenario(s): %s" % ", ".join(sorted(want - set(SCENARIOS))))
	a.work = os.path.abspath(a.work)
	data = os.path.abspath(a.data or (os.path.join(a.work, "data") if a.smoke else os.path.join(HERE, "data")))
	results = a.results or (os.path.join(a.work, "RESULTS.md") if a.smoke else os.path.join(HERE, "RESULTS.md"))
	os.makedirs(a.work, exist_ok=True)
	os.makedirs(data, exist_ok=True)
	if a.rounds < 1 or a.rounds > 10 or a.fixed_rounds > 10 or a.duration <= 0 or a.duration > 60:
		ap.error("--rounds and --fixed-rounds 1..10 and --duration up to 60 s keep the run bounded")
	if a.propagate_changes < 1 or a.propagate_changes > 10000:
		ap.error("--propagate-changes 1..10000 keeps the run bounded")
	if a.pairs < 0 or a.pairs > 100 or a.pair_seconds <= 0 or a.pair_seconds > 10:
		ap.error("--pairs 0..100 and --pair-seconds up to 10 s keep the run bounded")
	for tool in ("dnsperf", "nsd", "dnsdist", "redis-server", "taskset"):
		if subprocess.run(["sh", "-c", "command -v " + tool], stdout=subprocess.DEVNULL).returncode:
			sys.exit("run.py: %s not found (scripts/deps.sh installs it)" % tool)
	if os.cpu_count() < 2:
		sys.exit("run.py: needs 2 cores (servers on core 0, clients on core 1)")
	a.clean_hash = None
	if a.clean_head:
		src, a.clean_hash = export_head(a.work)
		a.build = os.path.join(src, "build-bench")
	if not all((a.gatekeeperd, a.gk_sync, a.gkload, a.refuser, a.polc)):
		b = ensure_build(a.build, src if a.clean_head else ROOT)
		for k in ("gatekeeperd", "gk_sync", "gkload", "refuser", "polc", "gkctl"):
			if getattr(a, k) or b.get(k):
				setattr(a, k, os.path.abspath(getattr(a, k) or b[k]))

	atexit.register(stop_all)
	signal.signal(signal.SIGTERM, on_signal)
	signal.signal(signal.SIGINT, on_signal)

	t_start = time.monotonic()
	env = Env(a, data)
	env.load_before = " ".join(open("/proc/loadavg").read().split()[:3])
	env.round_tables = round_tables
	env.quiet_budget = [0.0 if a.smoke else 180.0]  # seconds the whole run may wait for a quiet machine
	log("generating %d zones, %d queries in %s" % (a.zones, a.queries, data))
	env.manifest = gen.generate(data, a.zones, a.queries, a.seed)
	out = {}
	cmd = " ".join(["bench/run.py"] + [shlex.quote(x) for x in sys.argv[1:]])
	saved = os.path.join(a.work, "results.json")
	try:
		if want & {"udp", "tcp", "redis", "storm", "propagate"}:
			scenario_1m(env, want, out)
		if "policy" in want:
			out["policy"] = policy(env)
			log("policy: %s" % out["policy"]["status"])
		if "sync" in want:
			out["sync"] = sync_scenario(env)
		if want & {"cold", "onoff"}:
			scenario_10m(env, want, out)
	finally:
		stop_all()
		env.meta = keep_results(saved, out, a.keep, {
			"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
			"code": git_head(a.clean_hash), "command": cmd, "load": env.load_before})

	md = markdown(env, out, cmd, time.monotonic() - t_start)
	png = chart(out, os.path.splitext(results)[0].replace("RESULTS", "results") + ".png")
	if png:
		md += "\nChart: `%s` (peak qps per target, latency percentiles at the fixed rate).\n" % os.path.basename(png)
	with open(results, "w") as f:
		f.write(md)
	print(md)
	log("wrote %s%s" % (results, " and " + png if png else ""))
	if a.smoke:
		bad = smoke_checks(out)
		if bad:
			log("SMOKE FAIL:\n  " + "\n  ".join(bad))
			return 1
		log("smoke ok")
	return 0


if __name__ == "__main__":
	sys.exit(main())
