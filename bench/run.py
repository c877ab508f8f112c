#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/run.py -- one command: gatekeeperd vs NSD on the same registrar zones, on loopback.
#
# Generates the data (bench/gen.py), starts NSD and gatekeeperd on free 127.0.0.1 ports with
# every thread pinned to core 0, and runs alternating rounds on core 1 of (a) peak rate with
# dnsperf and (b) a fixed rate with bench/gkload (latency percentiles), measuring server CPU
# from /proc/PID/stat. Prints a table of medians and gatekeeperd/NSD ratios and writes
# bench/RESULTS.md. Everything it starts it stops, by PID, on every exit path.
# See bench/README.md. --smoke is the ctest variant (20 zones, one short round, checks only).
import argparse
import atexit
import datetime
import os
import platform
import random
import re
import resource
import shlex
import signal
import socket
import statistics
import struct
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import gen  # noqa: E402

SERVER_CORE, CLIENT_CORE = "0", "1"
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
GKLOAD_SOCKETS = "4"
STARTED = []  # Popen objects, for cleanup


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


def stop_all():
	for p in reversed(STARTED):
		if p.poll() is None:
			pids = [x for x in p.gk_tree if os.path.exists("/proc/%d" % x)] or [p.pid]
			for x in pids:
				try:
					os.kill(x, signal.SIGTERM)
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
			for _ in range(50):
				if not os.path.exists("/proc/%d" % x) or open("/proc/%d/stat" % x).read().split(")")[-1].split()[0] == "Z":
					break
				time.sleep(0.1)
			else:
				try:
					os.kill(x, signal.SIGKILL)
				except OSError:
					pass
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


class Server:
	def __init__(self, kind, label, binary, work, manifest):
		self.kind, self.label, self.binary = kind, label, binary
		self.dir = os.path.join(work, label)
		os.makedirs(self.dir, exist_ok=True)
		self.port = free_port()
		if kind == "nsd":
			self.conf = os.path.join(self.dir, "nsd.conf")
			gen.write_nsd_conf(manifest, self.conf, self.port, self.dir)
			for f in ("zone.list", "xfrd.state", "nsd.log"):
				if os.path.exists(os.path.join(self.dir, f)):
					os.unlink(os.path.join(self.dir, f))
			self.argv = [binary, "-d", "-c", self.conf]
		else:
			self.conf = os.path.join(self.dir, "gatekeeperd.yaml")
			gen.write_gk_conf(manifest, self.conf, self.port, workers=1)
			self.argv = [binary, "-c", self.conf]
		self.probe = manifest["zones"][0]["name"]

	def start(self):
		out = open(os.path.join(self.dir, "stdout.log"), "w")
		t0 = time.monotonic()
		self.proc = subprocess.Popen(NICE + ["taskset", "-c", SERVER_CORE] + self.argv, stdout=out,
					     stderr=subprocess.STDOUT, cwd=self.dir, start_new_session=True)
		self.proc.gk_tree = [self.proc.pid]
		STARTED.append(self.proc)
		boost(self.proc.pid)
		while True:
			if self.proc.poll() is not None:
				raise RuntimeError("%s exited with %s during start; see %s" %
						   (self.label, self.proc.returncode, out.name))
			r = dns_query(self.port, self.probe)
			self.proc.gk_tree = tree(self.proc.pid)
			if r == (0, True):
				break
			if time.monotonic() - t0 > 300:
				raise RuntimeError("%s not answering %s SOA after 300 s" % (self.label, self.probe))
			time.sleep(0.2)
		self.load_s = time.monotonic() - t0
		time.sleep(0.5)  # let forked helpers (NSD's) settle, then pin every thread of every one
		self.pids = tree(self.proc.pid)
		self.proc.gk_tree = self.pids
		for p in self.pids:
			subprocess.run(["taskset", "-a", "-p", "-c", SERVER_CORE, str(p)], check=True,
				       stdout=subprocess.DEVNULL)
		self.rss = rss_kib(self.pids)
		log("%s: pid %s on 127.0.0.1:%d, answering after %.1f s, RSS %d MiB" %
		    (self.label, " ".join(map(str, self.pids)), self.port, self.load_s, self.rss // 1024))

	def cpu(self):
		if self.proc.poll() is not None:
			raise RuntimeError("%s died (exit %s)" % (self.label, self.proc.returncode))
		return cpu_seconds(self.pids)

	def sample(self):
		return (time.monotonic(), self.cpu(), schedstat(self.pids, 1), machine_busy_seconds(),
			schedstat(self.pids, 0))


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


def peak(server, queries, duration):
	argv = ["dnsperf", "-s", "127.0.0.1", "-p", str(server.port), "-d", queries, "-l",
		str(duration), "-e"] + DNSPERF_PEAK
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
		"run_s": num(r"Run time \(s\):\s+([\d.]+)", out),
	}
	account(r, server, s0, s1, ccpu, r["completed"])
	return r


def profile(server, run, name):
	"""Extra, unscored run (run() does the load) with perf sampling the server; writes
	SERVERDIR/perf-NAME.txt and returns its path."""
	data = os.path.join(server.dir, "perf-%s.data" % name)
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
	out = os.path.join(server.dir, "perf-%s.txt" % name)
	with open(out, "w") as f:
		subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "--percent-limit", "1",
				"--sort", "dso,symbol", "-g", "none"], stdout=f, stderr=subprocess.DEVNULL, timeout=120)
	return out


def fixed(server, gkload, queries, duration, rate):
	argv = [gkload, "-s", "127.0.0.1", "-p", str(server.port), "-d", queries, "-l", str(duration),
		"-Q", str(rate), "-e", "-c", GKLOAD_SOCKETS, "-t", "1000"]
	s0 = server.sample()
	out, ccpu, rc = run_client(argv, duration + 30)
	s1 = server.sample()
	if rc != 0 or "received=" not in out:
		raise RuntimeError("gkload failed (%s):\n%s" % (rc, out))
	r = {}
	for line in out.splitlines():
		if "=" in line:
			k, v = line.split("=", 1)
			r[k] = float(v)
	account(r, server, s0, s1, ccpu, r["received"])
	return r


# ---- report ------------------------------------------------------------------------------

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


def table(res, a, b, rate):
	"""Markdown table rows: (metric, a, b, ratio a/b, target)."""
	rows = []

	def row(name, phase, key, nd=1, target=None, better=None):
		ma, mb = med(res[a.label][phase], key), med(res[b.label][phase], key)
		ratio = ma[0] / mb[0] if ma[0] is not None and mb[0] else None
		pairs = [x[key] / y[key] for x, y in zip(res[a.label][phase], res[b.label][phase])
			 if x.get(key) is not None and y.get(key)]
		paired = statistics.median(pairs) if pairs else None
		verdict = ""
		if target is not None and ratio is not None:
			ok = ratio >= target if better == "higher" else ratio <= target
			verdict = "%s %s %.1fx: %s" % ("≥" if better == "higher" else "≤", "", target, "PASS" if ok else "FAIL")
			verdict = verdict.replace("  ", " ")
		rows.append((name, cell(ma, nd), cell(mb, nd), "%.2f" % ratio if ratio is not None else "-",
			     "%.2f" % paired if paired is not None else "-", verdict))

	row("peak qps (dnsperf)", "peak", "qps", 0, 1.0, "higher")
	row("peak: server CPU, % of a core", "peak", "cpu_pct")
	row("peak: server CPU (schedstat), % of a core", "peak", "cpu_exec_pct")
	row("peak: server CPU µs per query", "peak", "us_per_q", 2)
	row("peak: dnsperf CPU, % of a core", "peak", "client_cpu_pct")
	row("peak: dnsperf avg latency µs", "peak", "avg_lat_us", 0)
	row("peak: queries lost", "peak", "lost", 0)
	row("peak: server run-queue wait, ms/s", "peak", "runq_ms_per_s", 1)
	row("peak: rest of machine busy, % of a core", "peak", "other_pct", 1)
	row("%d qps: achieved qps (gkload)" % rate, "fixed", "recv_qps", 0)
	row("%d qps: server CPU, %% of a core" % rate, "fixed", "cpu_pct", 1, 1.0, "lower")
	row("%d qps: server CPU (schedstat), %% of a core" % rate, "fixed", "cpu_exec_pct")
	row("%d qps: server CPU µs per query" % rate, "fixed", "us_per_q", 2)
	row("%d qps: p50 latency µs" % rate, "fixed", "p50_us", 1)
	row("%d qps: p90 latency µs" % rate, "fixed", "p90_us", 1)
	row("%d qps: p99 latency µs" % rate, "fixed", "p99_us", 1, 1.0, "lower")
	row("%d qps: p99.9 latency µs" % rate, "fixed", "p999_us", 1)
	row("%d qps: queries lost" % rate, "fixed", "lost", 0)
	row("%d qps: server run-queue wait, ms/s" % rate, "fixed", "runq_ms_per_s", 1)
	row("%d qps: rest of machine busy, %% of a core" % rate, "fixed", "other_pct", 1)
	return rows


def client_note(res, a, b):
	"""A warning when dnsperf, not the servers, set the peak rate."""
	ca, cb = med(res[a.label]["peak"], "client_cpu_pct")[0], med(res[b.label]["peak"], "client_cpu_pct")[0]
	if ca is None or cb is None or max(ca, cb) < 90:
		return ""
	return ("**Peak is client-bound:** dnsperf used a median %.0f%% (%s) and %.0f%% (%s) of its core, so "
		"the peak qps row measures dnsperf as much as the servers; compare server CPU µs per query "
		"at peak instead.\n\n" % (ca, a.label, cb, b.label))


def render(rows, a, b):
	head = ("metric (median of rounds, min–max)", a.label, b.label, "ratio %s/%s" % (a.label, b.label),
		"paired ratio", "target")
	lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
	lines += ["| " + " | ".join(r) + " |" for r in rows]
	return "\n".join(lines)


def rcode_mix(res, label):
	tot = {}
	for r in res[label]["fixed"]:
		for k, v in r.items():
			if k.startswith("rcode_"):
				tot[k[6:]] = tot.get(k[6:], 0) + v
	n = sum(tot.values()) or 1
	return {k: 100.0 * v / n for k, v in sorted(tot.items())}


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
		if re.search(r"\d+\.\d+", line) and ("version" in line.lower() or "NSD" in line):
			return line.strip()
	return "?"


def git_head():
	"""HEAD, and whether the sources the binary is built from differ from it."""
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


# ---- main --------------------------------------------------------------------------------

def ensure_build(build):
	gk, gl = os.path.join(build, "gatekeeperd"), os.path.join(build, "bench", "gkload")
	if not os.path.isdir(build):
		# GCC 12 at -O3 reports maybe-uninitialized false positives that -Werror turns into a
		# failed build; the bench keeps them visible as warnings (no effect on the code).
		subprocess.run(["cmake", "-S", ROOT, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
				"-DCMAKE_C_FLAGS=-Wno-error=maybe-uninitialized"], check=True)
	# Incremental: a no-op when fresh, and it keeps a stale binary out of the figures.
	subprocess.run(["cmake", "--build", build, "-j2", "--target", "gatekeeperd", "gkload"], check=True)
	return gk, gl


def main():
	ap = argparse.ArgumentParser(description="gatekeeperd vs NSD benchmark (see bench/README.md)")
	ap.add_argument("--smoke", action="store_true", help="20 zones, one 2 s round, checks only (ctest)")
	ap.add_argument("--rounds", type=int, default=5)
	ap.add_argument("--duration", type=float, default=10, help="seconds per measurement")
	ap.add_argument("--rate", type=int, default=20000, help="fixed rate in qps")
	ap.add_argument("--zones", type=int, default=10000)
	ap.add_argument("--queries", type=int, default=200000)
	ap.add_argument("--seed", type=int, default=20240101)
	ap.add_argument("--build", default=os.path.join(ROOT, "build-bench"))
	ap.add_argument("--gatekeeperd", help="binary (default: BUILD/gatekeeperd, built if missing)")
	ap.add_argument("--gkload", help="binary (default: BUILD/bench/gkload)")
	ap.add_argument("--a", default="gatekeeperd", choices=["gatekeeperd", "nsd"],
			help="server in the first slot; 'nsd' runs NSD against NSD to debug the harness")
	ap.add_argument("--perf", action="store_true",
			help="after the rounds, one extra peak and one fixed-rate run per server under perf "
			"record; writes WORK/LABEL/perf-{peak,fixed}.txt (not in the figures)")
	ap.add_argument("--work", default=os.path.join(HERE, "out"), help="logs, configs, NSD state")
	ap.add_argument("--data", help="generated zones and queries (default bench/data, smoke: WORK/data)")
	ap.add_argument("--results", help="markdown output (default bench/RESULTS.md; smoke: WORK/RESULTS.md)")
	a = ap.parse_args()
	if a.smoke:
		a.rounds, a.duration, a.zones, a.queries = 1, 2, 20, 2000
		a.rate = min(a.rate, 5000)
	a.work = os.path.abspath(a.work)
	data = os.path.abspath(a.data or (os.path.join(a.work, "data") if a.smoke else os.path.join(HERE, "data")))
	results = a.results or (os.path.join(a.work, "RESULTS.md") if a.smoke or a.a == "nsd"
				 else os.path.join(HERE, "RESULTS.md"))
	os.makedirs(a.work, exist_ok=True)
	os.makedirs(data, exist_ok=True)
	if a.rounds < 1 or a.rounds > 10 or a.duration <= 0 or a.duration > 60:
		ap.error("--rounds 1..10 and --duration up to 60 s keep the run bounded")

	for tool in ("dnsperf", "nsd", "taskset"):
		if subprocess.run(["sh", "-c", "command -v " + tool], stdout=subprocess.DEVNULL).returncode:
			sys.exit("run.py: %s not found (Debian packages: dnsperf, nsd, util-linux)" % tool)
	if os.cpu_count() < 2:
		sys.exit("run.py: needs 2 cores (server on core 0, client on core 1)")

	gk_bin, gkload = a.gatekeeperd, a.gkload
	if (a.a == "gatekeeperd" and not gk_bin) or not gkload:
		b_gk, b_gl = ensure_build(a.build)
		gk_bin, gkload = gk_bin or b_gk, gkload or b_gl

	atexit.register(stop_all)
	signal.signal(signal.SIGTERM, on_signal)
	signal.signal(signal.SIGINT, on_signal)

	t_start = time.monotonic()
	log("generating %d zones, %d queries in %s" % (a.zones, a.queries, data))
	manifest = gen.generate(data, a.zones, a.queries, a.seed)
	queries = manifest["queries"]

	nsd = Server("nsd", "NSD", "nsd", a.work, manifest)
	if a.a == "nsd":
		srv_a = Server("nsd", "NSD-A", "nsd", a.work, manifest)
	else:
		srv_a = Server("gatekeeperd", "gatekeeperd", os.path.abspath(gk_bin), a.work, manifest)
	servers = [srv_a, nsd]
	res = {s.label: {"peak": [], "fixed": []} for s in servers}
	quiet_budget = [0.0 if a.smoke else 120.0]  # seconds the whole run may wait for a quiet machine
	try:
		for s in servers:
			s.start()
		for i in range(a.rounds):
			order = servers if i % 2 == 0 else servers[::-1]
			for s in order:
				wait_quiet(quiet_budget)
				p = peak(s, queries, a.duration)
				res[s.label]["peak"].append(p)
				log("round %d %-12s peak  %9.0f qps  lost %d  server %5.1f%% (exec %5.1f%%)  dnsperf %5.1f%%  runq %.1f ms/s  other %.1f%%" %
				    (i + 1, s.label, p["qps"], p["lost"], p["cpu_pct"], p["cpu_exec_pct"], p["client_cpu_pct"],
				     p["runq_ms_per_s"], p["other_pct"]))
			for s in order:
				wait_quiet(quiet_budget)
				f = fixed(s, gkload, queries, a.duration, a.rate)
				res[s.label]["fixed"].append(f)
				log("round %d %-12s %d qps: got %7.0f  lost %d  server %5.1f%% (exec %5.1f%%)  p50 %.1f  p99 %.1f  p99.9 %.1f µs  runq %.1f ms/s  other %.1f%%" %
				    (i + 1, s.label, a.rate, f["recv_qps"], f["lost"], f["cpu_pct"], f["cpu_exec_pct"], f.get("p50_us", -1),
				     f.get("p99_us", -1), f.get("p999_us", -1), f["runq_ms_per_s"], f["other_pct"]))
		if a.perf:
			for s in servers:
				log("profile %s: %s" % (s.label, profile(s, lambda: peak(s, queries, a.duration), "peak")))
				log("profile %s: %s" % (s.label, profile(
					s, lambda: fixed(s, gkload, queries, a.duration, a.rate), "fixed")))
	finally:
		stop_all()

	rows = table(res, srv_a, nsd, a.rate)
	tbl = render(rows, srv_a, nsd)
	cmd = " ".join(["bench/run.py"] + [shlex.quote(x) for x in sys.argv[1:]])
	print(tbl)
	mixes = {s.label: rcode_mix(res, s.label) for s in servers}
	mix_lines = []
	for s in servers:
		mix_lines.append("- %s: " % s.label + ", ".join("%s %.2f%%" % (k, v) for k, v in mixes[s.label].items()))
	diff = max(abs(mixes[srv_a.label].get(k, 0) - mixes[nsd.label].get(k, 0))
		   for k in set(mixes[srv_a.label]) | set(mixes[nsd.label]))
	warn = ""
	if diff > 0.5:
		warn = ("\n**Warning:** the response codes differ by up to %.2f points between the servers, so they "
			"did not do the same work; compare with care.\n" % diff)
		log(warn.strip())

	raw = ["| server | round | peak qps | lost | server CPU %% | dnsperf CPU %% | runq ms/s | other %% "
	       "| %d qps: got | lost | server CPU %% | p50 µs | p99 µs | p99.9 µs | runq ms/s | other %% |" % a.rate,
	       "|" + "---|" * 16]
	for s in servers:
		for i, (p, f) in enumerate(zip(res[s.label]["peak"], res[s.label]["fixed"])):
			raw.append("| %s | %d | %.0f | %d | %.1f | %.1f | %.1f | %.1f | %.0f | %d | %.1f | %s | %s | %s | %.1f | %.1f |" % (
				s.label, i + 1, p["qps"], p["lost"], p["cpu_pct"], p["client_cpu_pct"], p["runq_ms_per_s"],
				p["other_pct"], f["recv_qps"], f["lost"], f["cpu_pct"], fmt(f.get("p50_us")),
				fmt(f.get("p99_us")), fmt(f.get("p999_us")), f["runq_ms_per_s"], f["other_pct"]))

	now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
	md = """# Gatekeeper bench results

Generated by `bench/run.py`; see `bench/README.md` for what is measured and how to read it.

- Command: `{cmd}`
- Date: {now}; whole run {wall:.0f} s
- Machine: {mach}
- Code: main at {head}; gatekeeperd `{gk}` ({build})
- Tools: {nsdv}; {dnsperfv}; gkload (bench/gkload.c)
- Scenario: {zones} zones, {nq} queries (seed {seed}, Zipf s=1.0 over zones), EDNS on; {rounds} alternating
  rounds of {dur:g} s per measurement; servers on core 0 (every thread), clients on core 1, 127.0.0.1 only.
  Peak: `dnsperf -e {dp}`. Fixed rate: `gkload -Q {rate} -e -c {gs} -t 1000` (open loop).
- Load: {a} answering after {la:.1f} s, RSS {ra} MiB; NSD answering after {lb:.1f} s, RSS {rb} MiB.

## Summary

{tbl}

{note}Ratios are {a}/NSD of the medians. Targets: peak qps ≥ 1.0x NSD; at {rate} qps server CPU and p99
latency ≤ NSD's.

## Response codes at the fixed rate

{mix}
{warn}
## Every round

{raw}
""".format(cmd=cmd, now=now, wall=time.monotonic() - t_start, mach=machine(), head=git_head(),
	   gk=gk_bin if a.a == "gatekeeperd" else "(not run: NSD in both slots)",
	   build=build_info(a.build, gk_bin) if a.a == "gatekeeperd" else "-", note=client_note(res, srv_a, nsd),
	   nsdv=version(["nsd", "-v"]), dnsperfv="dnsperf " + version(["dnsperf", "-h"]).replace("Version ", ""), zones=a.zones, nq=a.queries,
	   seed=a.seed, rounds=a.rounds, dur=a.duration, dp=" ".join(DNSPERF_PEAK), rate=a.rate,
	   gs=GKLOAD_SOCKETS, a=srv_a.label, la=srv_a.load_s, ra=srv_a.rss // 1024, lb=nsd.load_s,
	   rb=nsd.rss // 1024, tbl=tbl, mix="\n".join(mix_lines), warn=warn, raw="\n".join(raw))
	with open(results, "w") as f:
		f.write(md)
	log("wrote %s" % results)

	if a.smoke:
		bad = []
		for s in servers:
			p, f = res[s.label]["peak"][0], res[s.label]["fixed"][0]
			if not p["completed"] or p["lost"] > max(1, p["sent"] // 1000):
				bad.append("%s: dnsperf completed %s, lost %s of %s" % (s.label, p["completed"], p["lost"], p["sent"]))
			if not f["received"] or f["lost"] > max(1, f["sent"] // 1000):
				bad.append("%s: gkload received %d, lost %d of %d" % (s.label, f["received"], f["lost"], f["sent"]))
		with open(results) as fh:
			if "| peak qps (dnsperf) |" not in fh.read():
				bad.append("results table missing from " + results)
		if bad:
			log("SMOKE FAIL:\n  " + "\n  ".join(bad))
			return 1
		log("smoke ok")
	return 0


if __name__ == "__main__":
	sys.exit(main())
