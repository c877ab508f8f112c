# SPDX-License-Identifier: MIT
# bench/gkbench/load.py -- load generators: dnsperf and gkload runs, fixed-rate background load, CPU accounting.
import os
import re
import resource
import signal
import subprocess
import tempfile
import time

from . import schedtrace
from .common import CLIENT_CORE, NICE, STARTED, boost
from .procs import machine_busy_seconds

DNSPERF_PEAK = ["-c", "8", "-q", "160", "-T", "2"]  # DEPS.md: no loss with 208 KiB buffers
GKLOAD_PEAK = ["-c", "8", "-W", "64"]  # closed loop: 64 outstanding on each of 8 sockets
DNSPERF_TCP = ["-m", "tcp", "-c", "100", "-q", "1000", "-T", "2"]  # 100 connections, pipelined
GKLOAD_SOCKETS = "4"
GKLOAD_TIMEOUT_MS = ["1000"]  # a query unanswered this long is lost (smoke: shorter, so drains end sooner)


def account(r, server, s0, s1, client_cpu=None, served=None):
	"""Fills r with server CPU %, µs per query, run-queue wait and the rest of the machine's
	busy time (other processes and softirq) between samples s0 and s1."""
	wall, cpu = s1[0] - s0[0], s1[1] - s0[1]
	r["cpu_pct"] = 100.0 * cpu / wall
	r["cpu_exec_pct"] = 100.0 * (s1[4] - s0[4]) / wall
	r["us_per_q"] = 1e6 * cpu / served if served else None
	if len(s0) > 5:  # the front process alone (a front end without its backend)
		r["front_us_per_q"] = 1e6 * (s1[5] - s0[5]) / served if served else None
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


def children_cpu():
	ru = resource.getrusage(resource.RUSAGE_CHILDREN)
	return ru.ru_utime + ru.ru_stime


def run_client(argv, timeout):
	"""Runs a client pinned to the client core; returns (stdout, client CPU s, exit code).
	Client CPU is the RUSAGE_CHILDREN delta: the client is the only child reaped meanwhile."""
	cpu0 = children_cpu()
	# its output goes to a file, read once it has exited: through a pipe, dnsperf -v's line
	# per answer woke this process thousands of times a second during the measurement
	with tempfile.TemporaryFile(mode="w+") as f:
		p = subprocess.Popen(NICE + ["taskset", "-c", CLIENT_CORE] + argv, stdout=f,
				     stderr=subprocess.STDOUT, text=True, start_new_session=True)
		boost(p.pid)
		p.gk_tree = [p.pid]
		STARTED.append(p)
		try:
			p.wait(timeout=timeout)
		finally:
			STARTED.remove(p)
			if p.poll() is None:
				p.kill()
				p.wait()
		f.seek(0)
		out = f.read()
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


def dnsperf_latency(server, queries, duration, rate):
	"""dnsperf at a fixed rate with -v: percentiles of its own per-query latencies (one
	'> RCODE NAME TYPE SECONDS' line per answered query), plus the server's CPU."""
	argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", queries, "-l", str(duration), "-e",
		"-Q", str(rate), "-c", GKLOAD_SOCKETS, "-v"]
	traced = schedtrace.start()
	s0 = server.sample()
	out, ccpu, rc = run_client(argv, duration + 30)
	s1 = server.sample()
	if traced:
		schedtrace.stop(server.label, "dnsperf-v", schedtrace.server_tids(server.pids))
	if rc != 0 or "Queries per second" not in out:
		raise RuntimeError("dnsperf failed (%s):\n%s" % (rc, out[-3000:]))
	lat = []
	for line in out.splitlines():
		if line.startswith("> "):
			try:
				lat.append(float(line.rsplit(None, 1)[1]))
			except (ValueError, IndexError):
				pass
	lat.sort()

	def q(p):
		return 1e6 * lat[max(0, min(len(lat) - 1, int(-(-len(lat) * p // 100)) - 1))] if lat else None
	r = {"sent": num(r"Queries sent:\s+(\d+)", out, int), "completed": num(r"Queries completed:\s+(\d+)", out, int),
	     "lost": num(r"Queries lost:\s+(\d+)", out, int), "qps": num(r"Queries per second:\s+([\d.]+)", out),
	     "n_lat": len(lat), "p50_us": q(50), "p99_us": q(99), "p999_us": q(99.9), "max_us": 1e6 * lat[-1] if lat else None}
	account(r, server, s0, s1, ccpu, r["completed"])
	return r
