# SPDX-License-Identifier: MIT
# tests/integration/unboundstub.py -- Debian's Unbound in front of gatekeeperd, for the
# resolver tests (test_resolver.py: iterator only; test_dnssec_resolver.py: validating).
#
# A private unbound on a free loopback port, with a stub-zone per zone pointing at
# gatekeeperd; checked with unbound-checkconf, started in the foreground (stopped by PID
# through gkharness.Server), and waited for until it answers a probe name.
import os
import subprocess

import gkharness as h
import dns.exception
import dns.message
import dns.query

UNBOUND = os.environ.get("GK_UNBOUND", "/usr/sbin/unbound")
STUB_TIMEOUT = 3.0  # what a stub resolver waits for one try (glibc: 5 s; dig: 5 s)


def installed():
	return os.access(UNBOUND, os.X_OK)


def config(tmp, port, gk_port, zones, anchors=None):
	"""unbound.conf in tmp: an iterator for zones (names) at gatekeeperd, validating with the
	trust anchors (DS or DNSKEY texts) when anchors is not None. Returns its path."""
	lines = [
		"server:",
		"  interface: 127.0.0.1",
		"  port: %d" % port,
		"  do-ip6: no",
		"  do-not-query-localhost: no",
		'  module-config: "%s"' % ("iterator" if anchors is None else "validator iterator"),
		'  chroot: ""',
		'  username: ""',
		'  directory: "%s"' % tmp,
		'  pidfile: "%s"' % os.path.join(tmp, "unbound.pid"),
		"  use-syslog: no",
		'  logfile: ""',
		"  verbosity: 1",
		"  num-threads: 1",
		"  so-reuseport: no",
		"  access-control: 127.0.0.0/8 allow",
		"  ede: yes",
	]
	if anchors is not None:
		lines += ["  val-log-level: 2"]
		lines += ['  trust-anchor: "%s"' % a for a in anchors]
	lines += ["remote-control:", "  control-enable: no"]
	for z in zones:
		lines += ["stub-zone:", '  name: "%s"' % z, "  stub-addr: 127.0.0.1@%d" % gk_port]
	path = os.path.join(tmp, "unbound.conf")
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")
	return path


def ask(port, name, qtype="A", timeout=STUB_TIMEOUT, dnssec=False):
	"""A stub resolver's query (RD set, EDNS 1232; DO with dnssec): the response, or None on
	timeout."""
	q = dns.message.make_query(name, qtype, use_edns=0, payload=1232, want_dnssec=dnssec)
	try:
		return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)
	except dns.exception.Timeout:
		return None


def start(tmp, gk_port, zones, probe, anchors=None):
	"""A running unbound (gkharness.Server) that has answered probe; three tries on fresh
	ports (a port taken between free_port and bind)."""
	for attempt in range(3):
		port = h.free_port()
		conf = config(tmp, port, gk_port, zones, anchors)
		chk = subprocess.run([UNBOUND + "-checkconf", conf], capture_output=True, text=True)
		assert chk.returncode == 0, chk.stdout + chk.stderr
		srv = h.Server("unbound", [UNBOUND, "-d", "-c", conf], tmp, port, os.path.join(tmp, "unbound.log"))
		try:
			h.wait_for("unbound to answer", lambda: ask(port, probe, timeout=0.3, dnssec=anchors is not None)
				   is not None or not srv.alive())
			if srv.alive():
				return srv
		except AssertionError:
			pass
		srv.stop()
		if attempt == 2:
			raise RuntimeError("unbound did not start:\n" + srv.log_text())
	raise RuntimeError("unreachable")
