# SPDX-License-Identifier: MIT
# bench/gkbench/targets.py -- servers under test (gatekeeperd, NSD, dnsdist+NSD, the ceiling probe), redis-server, gk-sync.
import os
import shutil
import signal
import subprocess
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from .common import CLIENT_CORE, NICE, log
from .procs import Proc, cpu_seconds, dns_query, free_port, machine_busy_seconds, rss_kib, schedstat, tree


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
		"""(time, CPU s of every process, run-queue wait s, the machine's busy s, time on CPU
		s, CPU s of the front process alone: the last one started, a front end's in front of
		its backend's)."""
		front = self.procs[-1].pids if len(self.procs) > 1 else self.pids
		return (time.monotonic(), self.cpu(), schedstat(self.pids, 1), machine_busy_seconds(),
			schedstat(self.pids, 0), cpu_seconds(front))


def nsd_target(label, manifest, work, control=False):
	"""NSD serving the manifest's zones; with control, nsd-control on a unix socket in its
	directory (t.control: the argv prefix of an nsd-control command)."""
	d = os.path.join(work, label)
	os.makedirs(d, exist_ok=True)
	port = free_port()
	conf = os.path.join(d, "nsd.conf")
	sock = os.path.join(d, "nsd.sock") if control else None
	gen.write_nsd_conf(manifest, conf, port, d, control=sock)
	for f in ("zone.list", "xfrd.state", "nsd.log", "nsd.pid", "nsd.sock"):
		if os.path.exists(os.path.join(d, f)):
			os.unlink(os.path.join(d, f))
	p = Proc(label, ["nsd", "-d", "-c", conf], d)
	p.port = port
	t = Target(label, port, first_filed(manifest), [p])
	t.control = ["nsd-control", "-c", conf] if control else None
	t.logfile = os.path.join(d, "nsd.log")
	return t


def knot_target(label, manifest, work):
	"""Knot DNS (knotd) serving the manifest's zones from the same files, one UDP and one TCP
	worker, pinned like NSD; knotc on a unix socket in its directory (t.control)."""
	d = os.path.join(work, label)
	os.makedirs(d, exist_ok=True)
	port = free_port()
	conf = os.path.join(d, "knot.conf")
	gen.write_knot_conf(manifest, conf, port, d)
	for f in ("knot.log", "knot.pid", "knot.sock"):
		if os.path.exists(os.path.join(d, f)):
			os.unlink(os.path.join(d, f))
	shutil.rmtree(os.path.join(d, "db"), ignore_errors=True)  # timers and journal of a previous run
	p = Proc(label, ["knotd", "-c", conf], d)
	p.port = port
	t = Target(label, port, first_filed(manifest), [p])
	t.control = ["knotc", "-s", os.path.join(d, "knot.sock")]
	t.logfile = os.path.join(d, "knot.log")
	return t


def first_filed(manifest):
	return next(z["name"] for z in manifest["zones"] if z["status"] == "filed")


def gk_target(label, binary, manifest, work, redis=None, tcp_conns=None, policy=None, rate_limit=None, extra=None,
	      zone_list=False):
	d = os.path.join(work, label)
	os.makedirs(d, exist_ok=True)
	port = free_port()
	conf = os.path.join(d, "gatekeeperd.yaml")
	inst = "bench-%s-%d" % (label, os.getpid())
	gen.write_gk_conf(manifest, conf, port, workers=1, redis_port=redis.port if redis else None, instance=inst,
			  log_level="info", tcp_conns=tcp_conns, policy=policy, rate_limit=rate_limit, extra=extra,
			  zone_list=zone_list)
	if os.path.exists(os.path.join(d, label + ".log")):
		os.unlink(os.path.join(d, label + ".log"))
	# the fleet policy a previous run left on disk (policy.state_dir, default state/ beside
	# the config) would be put in force at start: every run starts from Redis alone
	shutil.rmtree(os.path.join(d, "state"), ignore_errors=True)
	t = Target(label, port, first_filed(manifest), [Proc(label, [binary, "-c", conf], d)])
	t.instance, t.redis = inst, redis
	return t


def dnsdist_target(label, manifest, work, cdb, mode="cdb", cache=0):
	d = os.path.join(work, label)
	backend = nsd_target(label + "-backend", manifest, work)
	port = free_port()
	conf = os.path.join(d, "dnsdist.conf")
	os.makedirs(d, exist_ok=True)
	gen.write_dnsdist_conf(conf, port, backend.port, cdb, first_filed(manifest), mode, cache)
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
