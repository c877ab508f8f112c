# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/dot.py -- the dot scenario: DNS over TLS, gatekeeperd vs NSD 4.6 (tls-port), dnsperf -m dot.
import os
import socket
import subprocess
import time

from ..load import dnsperf
from ..procs import free_port, rss_kib
from ..rounds import measure_rounds
from ..targets import gk_target, nsd_target

DNSPERF_DOT = ["-m", "dot", "-c", "8", "-q", "64"]  # 8 TLS connections, 64 outstanding each
CERT, KEY = "dot-cert.pem", "dot-key.pem"


def make_cert(d):
	"""A self-signed P-256 certificate and its key in d (openssl; dnsperf does not verify it)."""
	os.makedirs(d, exist_ok=True)
	cert, key = os.path.join(d, CERT), os.path.join(d, KEY)
	p = subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
			    "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=dot.bench.test"],
			   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	if p.returncode:
		raise RuntimeError("dot: openssl req failed: %s" % p.stdout.strip())
	return cert, key


def add_nsd_tls(t, tport, cert, key):
	"""Adds a TLS interface (127.0.0.1@tport, tls-port) and the certificate to NSD target t's config."""
	conf = t.procs[0].argv[-1]
	with open(conf) as f:
		text = f.read()
	text = text.replace("server:\n", "server:\n\tip-address: 127.0.0.1@%d\n\ttls-port: %d\n\ttls-service-key: \"%s\"\n"
			    "\ttls-service-pem: \"%s\"\n" % (tport, tport, key, cert), 1)
	with open(conf, "w") as f:
		f.write(text)


def wait_tls(t, timeout):
	"""Waits until target t's TLS port accepts a connection (its UDP port already answers)."""
	t0 = time.monotonic()
	while True:
		try:
			socket.create_connection(("127.0.0.1", t.tls_port), timeout=0.5).close()
			return
		except OSError:
			if time.monotonic() - t0 > timeout:
				raise RuntimeError("%s: nothing listening on TLS port %d after %d s" % (t.label, t.tls_port, timeout))
			time.sleep(0.05)


class OnTls:
	"""Target t seen through its TLS port: what load.dnsperf needs (port, sample)."""

	def __init__(self, t):
		self.t, self.port = t, t.tls_port

	def sample(self):
		return self.t.sample()


def dot_scenario(env):
	"""gatekeeperd (no Redis: the TLS path alone) and NSD on the bench's zones, each with one
	TLS listener using the same certificate, pinned to the server core as every target; dnsperf
	-m dot -c 8 -q 64 over the udp mix in alternating rounds: qps and server CPU per query."""
	a = env.a
	m, q = env.manifest, env.manifest["queries"]
	d = os.path.join(a.work, "dot-pki")
	cert, key = make_cert(d)
	gport = free_port()
	extra = ("tls:\n  - listen: \"127.0.0.1:%d\"\n    certificate: \"%s\"\n    key: \"%s\"\n"
		 "    max_connections: 4096" % (gport, cert, key))
	gk = gk_target("gatekeeperd-dot", a.gatekeeperd, m, a.work, extra=extra)
	gk.tls_port = gport
	nsd = nsd_target("NSD-dot", m, a.work)
	nsd.tls_port = free_port()
	add_nsd_tls(nsd, nsd.tls_port, cert, key)
	res, start = {}, {}
	try:
		for t in (gk, nsd):
			t.start(a.start_timeout)
			wait_tls(t, a.start_timeout)
			time.sleep(0.2 if a.smoke else 1)
			start[t.label] = (t.load_s, rss_kib(t.pids))
		measure_rounds(env, [gk, nsd], [("dot", lambda t: dnsperf(OnTls(t), q, a.duration, DNSPERF_DOT))], res, None)
	finally:
		gk.stop()
		nsd.stop()
	return {"res": res, "labels": [gk.label, nsd.label], "start": start, "dnsperf": " ".join(DNSPERF_DOT)}


def markdown(r, a, cmd, when=""):
	from ..report import multi_table
	gk, nsd = r["labels"]
	res = r["res"]
	S = ["\n## DNS over TLS: gatekeeperd vs NSD (tls-port)%s\n" % when]
	S.append("gatekeeperd (no Redis: the TLS path alone, `tls:` listener) and NSD 4.6 (`tls-port`, `server-count: 1`) on "
		 "the bench's zones with the same self-signed P-256 certificate (openssl), both pinned to the server core; "
		 "`dnsperf -e %s` over the udp query mix from the client core, alternating rounds. CPU per query is the "
		 "server's CPU time over the run divided by the queries completed. Command: `%s`.\n" % (r["dnsperf"], cmd))
	S.append(multi_table(res, [gk, nsd], [
		("peak qps, dnsperf -m dot", "dot", "qps", 0, {nsd: (1.0, True)}),
		("server CPU µs/query", "dot", "us_per_q", 2, {nsd: (1.0, False)}),
		("server CPU, % of a core", "dot", "cpu_pct", 1, {}),
		("dnsperf CPU, % of its core", "dot", "client_cpu_pct", 1, {}),
		("average latency µs", "dot", "avg_lat_us", 0, {}),
		("lost", "dot", "lost", 0, {})], [nsd]))
	S.append("\nTarget (issue 20): qps ≥ 1.0× NSD's and CPU per query ≤ NSD's. Where dnsperf is near 100 % of its core "
		 "the qps row measures the client as much as the servers; CPU per query holds either way.")
	return "\n".join(S)
