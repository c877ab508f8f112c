#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# scripts/dot_bench.py -- DNS over TLS: gatekeeperd against NSD 4.6 (tls-port), side by side.
#
# Both serve the integration fixture zones on loopback with the same certificate (made with
# openssl, as tests/integration/test_dot.py does) and the same number of threads/processes;
# dnsperf -m dot drives each in turn, ROUNDS times, alternating. For each run: queries per
# second (dnsperf) and CPU per query (utime+stime of the server's whole process group from
# /proc, over the run, divided by the queries completed). Prints each run and the medians.
#
#   /usr/bin/python3 scripts/dot_bench.py build/release/gatekeeperd [--seconds 10] [--clients 8]
#          [--outstanding 64] [--rounds 3] [--workers 2]
import argparse
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import gkharness as h  # noqa: E402
import test_dot  # noqa: E402

QUERIES = ["example.cn SOA", "www.example.cn A", "example.cn NS", "nonexistent.example.cn A",
	   "www.example.cn TXT", "www.sub.example.cn A", "other.com.cn SOA", "www.example.cn AAAA"]


def group_cpu(pgid):
	"""utime+stime, in seconds, of every process in process group pgid."""
	tick = os.sysconf("SC_CLK_TCK")
	total = 0
	for p in os.listdir("/proc"):
		if not p.isdigit():
			continue
		try:
			with open("/proc/%s/stat" % p) as f:
				st = f.read()
		except OSError:
			continue
		f = st[st.rindex(")") + 2:].split()
		if int(f[2]) == pgid:  # field 5: pgrp
			total += int(f[11]) + int(f[12])  # fields 14, 15: utime, stime
	return total / tick


def run_one(name, srv, port, qfile, a):
	cmd = ["dnsperf", "-m", "dot", "-s", "127.0.0.1", "-p", str(port), "-d", qfile,
	       "-l", str(a.seconds), "-c", str(a.clients), "-q", str(a.outstanding)]
	c0 = group_cpu(srv.pid)
	r = subprocess.run(cmd, capture_output=True, text=True, timeout=a.seconds * 3 + 30)
	c1 = group_cpu(srv.pid)
	if r.returncode != 0:
		raise SystemExit("%s: dnsperf failed:\n%s%s" % (name, r.stdout, r.stderr))
	qps = done = lost = None
	for line in r.stdout.splitlines():
		line = line.strip()
		if line.startswith("Queries per second:"):
			qps = float(line.split()[-1])
		elif line.startswith("Queries completed:"):
			done = int(line.split()[2])
		elif line.startswith("Queries lost:"):
			lost = int(line.split()[2])
	cpu_us = (c1 - c0) / done * 1e6 if done else float("nan")
	print("%-12s qps %10.0f  completed %9d  lost %6d  cpu %6.2f s  cpu/query %6.2f us" %
	      (name, qps, done, lost, c1 - c0, cpu_us), flush=True)
	return qps, cpu_us


def nsd_conf(tmp, port, tport, workers):
	path = h.nsd_config(tmp, port)
	text = open(path).read().replace("\tserver-count: 1", "\tserver-count: %d" % workers)
	text = text.replace("server:\n", "server:\n\tip-address: 127.0.0.1@%d\n\ttls-port: %d\n"
			    "\ttls-service-key: \"%s\"\n\ttls-service-pem: \"%s\"\n" %
			    (tport, tport, os.path.join(tmp, "srv.key"), os.path.join(tmp, "cert.pem")), 1)
	with open(path, "w") as f:
		f.write(text)
	return path


def main():
	ap = argparse.ArgumentParser()
	ap.add_argument("gatekeeperd")
	ap.add_argument("--seconds", type=int, default=10)
	ap.add_argument("--clients", type=int, default=8)
	ap.add_argument("--outstanding", type=int, default=64)
	ap.add_argument("--rounds", type=int, default=3)
	ap.add_argument("--workers", type=int, default=2)
	a = ap.parse_args()
	with h.TempDir("gk-dotbench-") as tmp:
		test_dot.make_pki(tmp)
		os.rename(os.path.join(tmp, "srv1.pem"), os.path.join(tmp, "cert.pem"))
		qfile = os.path.join(tmp, "queries")
		with open(qfile, "w") as f:
			f.write("\n".join(QUERIES) + "\n")
		gt, nt, nport = h.free_port(), h.free_port(), h.free_port()
		extra = ("tls:\n  - listen: \"127.0.0.1:%d\"\n    certificate: cert.pem\n"
			 "    key: srv.key\n    max_connections: 4096\n" % gt)
		gk = h.start_gk(os.path.abspath(a.gatekeeperd), tmp, extra=extra, workers=a.workers, tcp_max=4096,
				log_level="warning")
		nsd = h.Server("nsd", [h.NSD, "-d", "-c", nsd_conf(tmp, nport, nt, a.workers)], tmp,
			       nport, os.path.join(tmp, "nsd.log"))
		try:
			nsd.wait_ready()
			print("dnsperf -m dot -l %d -c %d -q %d; %d gatekeeperd workers, NSD server-count %d"
			      % (a.seconds, a.clients, a.outstanding, a.workers, a.workers))
			res = {"gatekeeperd": [], "nsd": []}
			for _ in range(a.rounds):
				res["gatekeeperd"].append(run_one("gatekeeperd", gk, gt, qfile, a))
				res["nsd"].append(run_one("nsd", nsd, nt, qfile, a))
			med = {k: (statistics.median(x[0] for x in v), statistics.median(x[1] for x in v))
			       for k, v in res.items()}
			for k, (q, c) in med.items():
				print("median %-12s qps %10.0f  cpu/query %6.2f us" % (k, q, c))
			print("gatekeeperd/nsd: qps %.3fx, cpu/query %.3fx" %
			      (med["gatekeeperd"][0] / med["nsd"][0], med["gatekeeperd"][1] / med["nsd"][1]))
		finally:
			gk.stop()
			nsd.stop()


if __name__ == "__main__":
	main()
