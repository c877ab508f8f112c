# SPDX-License-Identifier: MIT
# bench/gkbench/schedtrace.py -- --sched-trace: the kernel's scheduler events (ftrace
# sched_switch and sched_wakeup, both cores) over each dnsperf -v run, and what delayed the
# server's threads: each wake-up of a server thread that waited more than SLOW_US before it
# ran, and which tasks ran on its core meanwhile. Diagnostics only, not in the figures (the
# tracing itself costs the traced cores a little).
import bisect
import collections
import os
import re

from .common import log

TRACING = "/sys/kernel/tracing/"
EVENTS = ("sched/sched_switch", "sched/sched_wakeup")
SLOW_US = 200
DIR = None  # set by cli.py from --sched-trace: where traces and summaries go

_SW = re.compile(r"^\s*.+?-\d+\s+\[(\d+)\].*?\s([\d.]+): sched_switch: prev_comm=(.+?) prev_pid=\d+ "
		 r"prev_prio=\d+ prev_state=\S+ ==> next_comm=(.+?) next_pid=(\d+) next_prio=\d+")
_WK = re.compile(r"^\s*.+?-\d+\s+\[(\d+)\].*?\s([\d.]+): sched_wakeup: comm=(.+?) pid=(\d+) prio=\d+ "
		 r"target_cpu=(\d+)")
_n = [0]


def _w(name, value):
	with open(TRACING + name, "w") as f:
		f.write(value)


def start():
	"""Clears the trace buffer and starts tracing; False when tracing is off or unavailable."""
	if DIR is None:
		return False
	try:
		_w("tracing_on", "0")
		_w("trace", "")
		_w("buffer_size_kb", "262144")
		for e in EVENTS:
			_w("events/%s/enable" % e, "1")
		_w("tracing_on", "1")
		return True
	except OSError as e:
		log("sched-trace: cannot trace (%s): run as root with tracefs at %s" % (e, TRACING))
		return False


def stop(label, step, server_tids):
	"""Stops tracing, saves the trace as DIR/LABEL-N-STEP.trace and a summary beside it
	(.txt); logs the summary's first line."""
	_w("tracing_on", "0")
	_n[0] += 1
	base = os.path.join(DIR, "%s-%d-%s" % (label, _n[0], step))
	os.makedirs(DIR, exist_ok=True)
	with open(TRACING + "trace") as src, open(base + ".trace", "w") as dst:
		for line in src:
			dst.write(line)
	_w("trace", "")
	text = summary(base + ".trace", server_tids)
	with open(base + ".txt", "w") as f:
		f.write(text)
	log("sched-trace %s: %s" % (base, text.splitlines()[0] if text else "empty"))


def summary(path, tids):
	"""What ran on each core (ms per second), wake-up to run delays per task name, and for
	the server's threads (tids) the tasks that ran on their core while a wake-up of theirs
	waited more than SLOW_US."""
	woke, delays, runs = {}, collections.defaultdict(list), collections.defaultdict(float)
	cur, ivs, slow = {}, collections.defaultdict(list), []
	t0 = t1 = None
	with open(path, errors="replace") as f:
		for line in f:
			m = _SW.match(line)
			if m:
				cpu, t, nxt, pid = int(m.group(1)), float(m.group(2)), m.group(4), int(m.group(5))
				t0 = t if t0 is None else t0
				t1 = t
				if cpu in cur:
					c, ts = cur[cpu]
					runs[(cpu, c)] += t - ts
					ivs[cpu].append((ts, t, c))
				cur[cpu] = (nxt, t)
				if pid in woke:
					tw = woke.pop(pid)
					delays[nxt].append(t - tw)
					if pid in tids and t - tw > SLOW_US / 1e6:
						slow.append((tw, t, cpu))
				continue
			m = _WK.match(line)
			if m:
				woke[int(m.group(4))] = float(m.group(2))
	if t0 is None or t1 <= t0:
		return ""
	dur = t1 - t0
	out = ["%d wake-ups of the server's threads waited > %d us; %.2f s traced" % (len(slow), SLOW_US, dur),
	       "", "CPU by task and core, ms per second:"]
	for (cpu, c), v in sorted(runs.items(), key=lambda x: -x[1])[:20]:
		out.append("  cpu%d %-24s %8.1f" % (cpu, c, 1000 * v / dur))
	out += ["", "wake-up to run, us (task: n, p50, p99, p99.9, max, > %d us):" % SLOW_US]
	for c, ds in sorted(delays.items(), key=lambda x: -len(x[1]))[:15]:
		ds.sort()
		n = len(ds)
		out.append("  %-24s %8d %7.1f %7.1f %8.1f %8.1f %6d" % (
			c, n, 1e6 * ds[n // 2], 1e6 * ds[min(n - 1, int(n * .99))], 1e6 * ds[min(n - 1, int(n * .999))],
			1e6 * ds[-1], sum(1 for x in ds if x > SLOW_US / 1e6)))
	blame = collections.Counter()
	starts = {cpu: [x[0] for x in L] for cpu, L in ivs.items()}
	for a, b, cpu in slow:
		L = ivs[cpu]
		i = max(0, bisect.bisect_left(starts[cpu], a) - 1)
		while i < len(L) and L[i][0] < b:
			s, e, c = L[i]
			if min(e, b) > max(s, a):
				blame[c] += min(e, b) - max(s, a)
			i += 1
	out += ["", "ran on the server's core while a server thread's wake-up waited > %d us, ms:" % SLOW_US]
	for c, v in blame.most_common(12):
		out.append("  %-24s %8.2f" % (c, 1000 * v))
	return "\n".join(out) + "\n"


def server_tids(pids):
	"""Every thread id of the server's processes."""
	tids = set()
	for p in pids:
		try:
			tids.update(int(t) for t in os.listdir("/proc/%d/task" % p))
		except OSError:
			pass
	return tids
