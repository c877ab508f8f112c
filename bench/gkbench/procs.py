# SPDX-License-Identifier: MIT
# bench/gkbench/procs.py -- processes: /proc accounting, start/stop by PID, free ports, a one-query DNS probe.
import os
import random
import re
import signal
import socket
import struct
import subprocess
import sys
import time

from .common import CLK_TCK, NICE, SERVER_CORE, STARTED, boost


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
	"""A port free on 127.0.0.1 for both UDP and TCP (checked by binding both), below the
	kernel's ephemeral range: a server's port is often chosen before other servers start and
	load, and one from the ephemeral range could be taken meanwhile by their outgoing sockets
	("address already in use", seen twice in the secondary scenario)."""
	try:
		with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
			lo = int(f.read().split()[0])
	except (OSError, ValueError, IndexError):
		lo = 32768
	for _ in range(200):
		port = random.randint(min(10000, lo - 1000), lo - 1)
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


def status_kib(pids, field):
	"""Sum over pids of a /proc/PID/status field in KiB (VmRSS, VmHWM)."""
	t = 0
	for p in pids:
		try:
			with open("/proc/%d/status" % p) as f:
				for line in f:
					if line.startswith(field + ":"):
						t += int(line.split()[1])
		except OSError:
			pass
	return t


def pss_kib(pids):
	"""Proportional set size summed over pids (smaps_rollup): pages shared between the
	processes of one server (NSD's forked children) counted once in total, unlike VmRSS."""
	t = 0
	for p in pids:
		try:
			with open("/proc/%d/smaps_rollup" % p) as f:
				for line in f:
					if line.startswith("Pss:"):
						t += int(line.split()[1])
						break
		except OSError:
			pass
	return t


def reset_hwm(pids):
	"""Resets VmHWM to the current VmRSS (clear_refs 5), so a later VmHWM is the peak since."""
	for p in pids:
		try:
			with open("/proc/%d/clear_refs" % p, "w") as f:
				f.write("5")
		except OSError:
			pass


def soa_serial(port, name, timeout=0.2):
	"""The SOA serial an authoritative answer for name's SOA carries, or None."""
	qid = random.randint(0, 65535)
	wire = struct.pack(">HHHHHH", qid, 0, 1, 0, 0, 0)
	for label in name.rstrip(".").split("."):
		wire += bytes([len(label)]) + label.encode()
	wire += b"\0" + struct.pack(">HH", 6, 1)
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.settimeout(timeout)
	try:
		s.sendto(wire, ("127.0.0.1", port))
		data = s.recv(4096)
	except OSError:
		return None
	finally:
		s.close()
	if len(data) < 12 or struct.unpack(">H", data[:2])[0] != qid or data[3] & 15 or not data[2] & 4:
		return None
	if struct.unpack(">H", data[6:8])[0] < 1:
		return None
	i = 12
	while data[i]:  # the question's name
		i += data[i] + 1
	i += 5
	i += 2 if data[i] & 0xC0 == 0xC0 else 0  # the answer's owner: a pointer to the question
	if i + 10 > len(data):
		return None
	rdlen = struct.unpack(">H", data[i + 8:i + 10])[0]
	rd = data[i + 10:i + 10 + rdlen]
	j = 0
	for _ in range(2):  # MNAME, RNAME (either may end in a pointer)
		while j < len(rd) and rd[j] and rd[j] & 0xC0 != 0xC0:
			j += rd[j] + 1
		j += 2 if j < len(rd) and rd[j] & 0xC0 == 0xC0 else 1
	return struct.unpack(">I", rd[j:j + 4])[0] if j + 4 <= len(rd) else None
