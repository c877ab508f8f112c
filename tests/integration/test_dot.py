# SPDX-License-Identifier: MIT
# tests/integration/test_dot.py -- DNS over TLS (RFC 7858), black box.
#
# A CA and two server certificates (serials 0x1001, 0x1002, for the name dns.test) are made
# with the openssl command at test time. gatekeeperd serves them on a tls: listener beside
# UDP/TCP. Checked: answers over TLS (Python's ssl module, and kdig +tls) equal those over
# UDP and TCP for a set of questions (answer, NXDOMAIN, NODATA, referral, refusal); TLS 1.2
# and TLS 1.3 both handshake; a session is resumed from its ticket on both
# (SSLSocket.session_reused, and gatekeeper_tls_handshakes_total{result="resumed"}); ten
# queries pipelined in one write get ten answers; a client that connects and never
# finishes its handshake is closed at handshake_timeout_ms (waited on the timeout counter)
# while another client is answered meanwhile; SIGHUP with a new certificate serves its
# serial to new connections; SIGHUP with a broken certificate keeps the old one and logs
# the file's name; at max_connections a new client evicts the least recently active one,
# and idle connections are closed at idle_timeout_ms; --check names a broken certificate
# or a missing key, and the daemon will not start without its key; from a configured load
# balancer a PROXY v2 header precedes the handshake (and is required). The daemon must exit 0 with nothing from the sanitizers in its log.
import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

NAME = "dns.test"
LB = "127.0.0.2"  # a load balancer (proxy_protocol.from)
SIG = b"\r\n\r\n\x00\r\nQUIT\n"
QUESTIONS = [("example.cn", "SOA"), ("www.example.cn", "A"), ("example.cn", "NS"),
	     ("nonexistent.example.cn", "A"), ("www.example.cn", "TXT"),
	     ("www.sub.example.cn", "A"), ("other.com.cn", "SOA"), ("www.not-ours.net", "A")]


def run(*argv, cwd):
	subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def make_pki(d):
	"""ca.pem, and server certificates srv1.pem / srv2.pem (key srv.key) signed by it."""
	run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=gk test CA",
	    cwd=d)
	run("openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-out", "srv.key", cwd=d)
	run("openssl", "req", "-new", "-key", "srv.key", "-out", "srv.csr", "-subj", "/CN=" + NAME,
	    cwd=d)
	with open(os.path.join(d, "ext.cnf"), "w") as f:
		f.write("subjectAltName=DNS:%s\n" % NAME)
	for i, serial in ((1, "0x1001"), (2, "0x1002")):
		run("openssl", "x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
		    "-set_serial", serial, "-days", "2", "-extfile", "ext.cnf", "-out", "srv%d.pem" % i,
		    cwd=d)


def client_ctx(ca, version=None):
	ctx = ssl.create_default_context(cafile=ca)
	if version is not None:
		ctx.minimum_version = ctx.maximum_version = version
	return ctx


def dot_connect(port, ctx, session=None):
	raw = socket.create_connection(("127.0.0.1", port), timeout=5)
	return ctx.wrap_socket(raw, server_hostname=NAME, session=session)


def recv_exact(s, n):
	b = b""
	while len(b) < n:
		chunk = s.recv(n - len(b))
		if not chunk:
			raise EOFError("closed after %d of %d bytes" % (len(b), n))
		b += chunk
	return b


def frame(wire):
	return struct.pack("!H", len(wire)) + wire


def read_msg(s):
	n = struct.unpack("!H", recv_exact(s, 2))[0]
	return dns.message.from_wire(recv_exact(s, n))


def dot_query(port, ctx, q):
	with dot_connect(port, ctx) as s:
		s.sendall(frame(q.to_wire()))
		return read_msg(s)


def same(a, b):
	"""Same response apart from the ID."""
	return (a.rcode() == b.rcode() and a.flags == b.flags and a.answer == b.answer and
		a.authority == b.authority and a.additional == b.additional)


def counters(mport):
	m = h.metrics(mport)
	hs = {r: int(m['gatekeeper_tls_handshakes_total{result="%s"}' % r])
	      for r in ("full", "resumed", "failed", "timeout")}
	hs["queries"] = int(m["gatekeeper_tls_queries_total"])
	hs["accepted"] = int(m["gatekeeper_tls_connections_accepted_total"])
	return hs


def kdig(port, tmp, name, qtype, transport):
	args = ["kdig", "@127.0.0.1", "-p", str(port), name, qtype, "+noall", "+answer",
		"+authority", "+additional", "+norecurse"]
	if transport == "tls":
		args += ["+tls-ca=" + os.path.join(tmp, "ca.pem"), "+tls-hostname=" + NAME]
	else:
		args += ["+tcp"]
	r = subprocess.run(args, capture_output=True, text=True, timeout=20)
	assert r.returncode == 0, (args, r.stdout, r.stderr)
	return r.stdout


def closed(s):
	"""True once the server has closed s (the TLS layer may first deliver close_notify)."""
	try:
		return s.recv(100) == b""
	except (ssl.SSLError, ConnectionError):
		return True


def cap_and_idle(binary, tmp, ca, cert, key):
	"""max_connections 2 on one worker: a third client evicts the least recently active;
	idle_timeout_ms closes the others, each counted."""
	sub = os.path.join(tmp, "cap")
	os.mkdir(sub)
	mport, tport = h.free_port(), h.free_port()
	extra = ("metrics:\n  listen: \"127.0.0.1:%d\"\n"
		 "tls:\n  - listen: \"127.0.0.1:%d\"\n    certificate: \"%s\"\n    key: \"%s\"\n"
		 "    max_connections: 2\n    idle_timeout_ms: 1000\n" % (mport, tport, cert, key))
	gk = h.start_gk(binary, sub, extra=extra, workers=1)
	ctx = client_ctx(ca)
	q = dns.message.make_query("www.example.cn", "A")

	def closes(reason):
		m = h.metrics(mport)
		return int(m['gatekeeper_tls_connections_closed_total{reason="%s"}' % reason])
	try:
		conns = []
		for _ in range(2):
			s = dot_connect(tport, ctx)
			s.sendall(frame(q.to_wire()))
			assert read_msg(s).answer
			conns.append(s)
		third = dot_connect(tport, ctx)  # the oldest, conns[0], makes room
		third.sendall(frame(q.to_wire()))
		assert read_msg(third).answer
		assert closes("evicted") == 1 and closed(conns[0])
		h.wait_for("idle connections closed", lambda: closes("idle") == 2)
		assert closed(conns[1]) and closed(third)
		for s in conns + [third]:
			s.close()
	finally:
		rc = gk.stop()
	text = gk.log_text()
	assert rc == 0, text
	assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text
	h.log("test_dot: cap of 2: the least recently active evicted; idle ones closed")


def main(binary):
	for tool in ("openssl", "kdig"):
		if shutil.which(tool) is None:
			raise SystemExit("test_dot: %s is required (scripts/deps.sh)" % tool)
	with h.TempDir("gk-dot-") as tmp:
		make_pki(tmp)
		cert, key, ca = (os.path.join(tmp, f) for f in ("cert.pem", "srv.key", "ca.pem"))
		shutil.copy(os.path.join(tmp, "srv1.pem"), cert)
		mport, tport = h.free_port(), h.free_port()
		extra = ("metrics:\n  listen: \"127.0.0.1:%d\"\n"
			 "proxy_protocol:\n  from: [\"%s\"]\n"
			 "tls:\n  - listen: \"127.0.0.1:%d\"\n    certificate: cert.pem\n"
			 "    key: srv.key\n    handshake_timeout_ms: 500\n    max_connections: 64\n"
			 % (mport, LB, tport))
		gk = h.start_gk(binary, tmp, extra=extra)
		try:
			port = gk.port
			ctx = client_ctx(ca)
			# the same answers over UDP, TCP and TLS (Python ssl)
			for name, qtype in QUESTIONS:
				q = dns.message.make_query(name, qtype, want_dnssec=False)
				q.flags &= ~dns.flags.RD
				u = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
				t = dns.query.tcp(q, "127.0.0.1", port=port, timeout=2)
				d = dot_query(tport, ctx, q)
				assert d.id == q.id and same(u, d) and same(t, d), (name, qtype, u, d)
			# ... and with kdig +tls, against kdig over TCP
			for name, qtype in QUESTIONS:
				a, b = kdig(port, tmp, name, qtype, "tcp"), kdig(tport, tmp, name, qtype, "tls")
				assert a == b, (name, qtype, a, b)
			h.log("test_dot: %d questions: UDP, TCP, TLS (ssl, kdig) agree" % len(QUESTIONS))
			# TLS 1.2 and 1.3, each resumed from its ticket
			q = dns.message.make_query("www.example.cn", "A")
			for ver in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
				c = client_ctx(ca, ver)
				before = counters(mport)
				with dot_connect(tport, c) as s:
					assert s.version() == ("TLSv1.2" if ver == ssl.TLSVersion.TLSv1_2
							       else "TLSv1.3"), s.version()
					s.sendall(frame(q.to_wire()))
					assert read_msg(s).answer  # the TLS 1.3 ticket comes with it
					sess = s.session
					assert not s.session_reused
				with dot_connect(tport, c, session=sess) as s:
					s.sendall(frame(q.to_wire()))
					assert read_msg(s).answer
					assert s.session_reused, ver
				after = counters(mport)
				assert after["full"] - before["full"] == 1, (before, after)
				assert after["resumed"] - before["resumed"] == 1, (before, after)
				h.log("test_dot: %s: full handshake, then resumed" % ver.name)
			# pipelining: ten queries in one write
			with dot_connect(tport, ctx) as s:
				qs = [dns.message.make_query("www.example.cn", "A") for _ in range(10)]
				for i, m in enumerate(qs):
					m.id = 0x100 + i
				s.sendall(b"".join(frame(m.to_wire()) for m in qs))
				ids = sorted(read_msg(s).id for _ in qs)
				assert ids == [0x100 + i for i in range(10)], ids
			# a client that stalls its handshake (a few bytes of a ClientHello, then
			# nothing) is closed at the deadline; another is answered meanwhile
			before = counters(mport)
			stall = socket.create_connection(("127.0.0.1", tport), timeout=30)
			stall.sendall(b"\x16\x03\x01\x00\xff\x01")
			assert same(dot_query(tport, ctx, q), dns.query.udp(q, "127.0.0.1", port=port, timeout=2))
			h.wait_for("handshake timeout counted",
				 lambda: counters(mport)["timeout"] == before["timeout"] + 1)
			assert stall.recv(100) == b""  # closed by the server
			stall.close()
			assert counters(mport)["failed"] == before["failed"]
			# a client speaking plain DNS to the TLS port: a failed handshake
			with socket.create_connection(("127.0.0.1", tport), timeout=5) as s:
				s.sendall(frame(q.to_wire()))
				while s.recv(100):  # at most an alert, then closed
					pass
			h.wait_for("failed handshake counted",
				 lambda: counters(mport)["failed"] == before["failed"] + 1)
			# PROXY v2 from the balancer: the header in clear, then the handshake
			px = lambda: {r: int(h.metrics(mport)['gatekeeper_proxy_headers_total{result="%s"}' % r])
				      for r in ("accepted", "malformed")}
			p0 = px()
			body = socket.inet_aton("192.0.2.10") + socket.inet_aton("127.0.0.1") + \
				struct.pack("!HH", 40000, 853)
			raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			raw.bind((LB, 0))
			raw.settimeout(5)
			raw.connect(("127.0.0.1", tport))
			raw.sendall(SIG + b"\x21\x11" + struct.pack("!H", len(body)) + body)
			with ctx.wrap_socket(raw, server_hostname=NAME) as s:
				s.sendall(frame(q.to_wire()))
				assert read_msg(s).answer
			assert px() == {"accepted": p0["accepted"] + 1, "malformed": p0["malformed"]}
			# ... and without one: the TLS ClientHello is not a header, the connection closes
			raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			raw.bind((LB, 0))
			raw.settimeout(5)
			raw.connect(("127.0.0.1", tport))
			try:
				ctx.wrap_socket(raw, server_hostname=NAME).close()
				raise AssertionError("handshake without a PROXY header from the balancer")
			except (ssl.SSLError, ConnectionError):
				pass
			raw.close()
			assert px() == {"accepted": p0["accepted"] + 1, "malformed": p0["malformed"] + 1}
			h.log("test_dot: PROXY v2 before the handshake from the balancer; required from it")
			# SIGHUP: the new certificate is served to new connections
			shutil.copy(os.path.join(tmp, "srv2.pem"), cert)
			gk.signal(signal.SIGHUP)
			h.wait_for("certificate reloaded",
				 lambda: gk.log_text().count("certificate %s reloaded" % cert) == 1)
			with dot_connect(tport, ctx) as s:
				assert s.getpeercert()["serialNumber"] == "1002", s.getpeercert()
			# a broken certificate: logged with its name, the loaded one keeps serving
			with open(cert, "w") as f:
				f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
			gk.signal(signal.SIGHUP)
			h.wait_for("bad certificate logged",
				 lambda: "%s: cannot load the certificate chain" % cert in gk.log_text())
			with dot_connect(tport, ctx) as s:
				assert s.getpeercert()["serialNumber"] == "1002", s.getpeercert()
				s.sendall(frame(q.to_wire()))
				assert read_msg(s).answer
			h.log("test_dot: reload: new certificate served; a broken one refused, logged")
		finally:
			rc = gk.stop()
		text = gk.log_text()
		assert rc == 0, text
		assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text
		# the connection cap and the idle timeout, on a one-worker daemon capped at 2
		shutil.copy(os.path.join(tmp, "srv2.pem"), cert)  # the broken one is still there
		cap_and_idle(binary, tmp, ca, cert, key)
		with open(cert, "w") as f:
			f.write("-----BEGIN CERTIFICATE-----\nnot a certificate\n")
		# --check loads the certificates: the broken one is named, as is a missing key
		r = subprocess.run([binary, "-c", gk.conf, "--check"], capture_output=True, text=True,
				   timeout=60)
		assert r.returncode == 1 and "%s: cannot load the certificate chain" % cert in r.stderr, r
		shutil.copy(os.path.join(tmp, "srv1.pem"), cert)
		shutil.copy(os.path.join(tmp, "ca.key"), key)  # a key of another certificate
		r = subprocess.run([binary, "-c", gk.conf, "--check"], capture_output=True, text=True,
				   timeout=60)
		assert r.returncode == 1 and "%s: cannot load the private key" % key in r.stderr and \
			"key values mismatch" in r.stderr, r
		os.unlink(key)
		r = subprocess.run([binary, "-c", gk.conf, "--check"], capture_output=True, text=True,
				   timeout=60)
		assert r.returncode == 1 and "%s: cannot load the private key" % key in r.stderr, r
		# and the daemon refuses to start, naming it
		p = subprocess.run([binary, "-c", gk.conf], capture_output=True, text=True, timeout=60)
		assert p.returncode != 0 and key in p.stderr, p
	h.log("test_dot: ok")


if __name__ == "__main__":
	main(sys.argv[1])
