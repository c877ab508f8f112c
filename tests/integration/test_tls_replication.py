# SPDX-License-Identifier: MIT
# tests/integration/test_tls_replication.py -- the secure Redis topology of docs/TRUST.md:
# replicas reach the primary over Redis's own TLS replication; gatekeeperd reads its local
# replica over a unix socket.
#
# `test_tls_replication.py GATEKEEPERD GKSYNC`. Makes a CA, a server certificate for the
# primary and a client certificate for the replica with the openssl command in a private
# tempdir; starts
#   - a primary redis-server with TLS on a loopback port (tls-auth-clients yes) and a plain
#     port on 127.0.0.1 used only by gk-sync (in production gk-sync runs on the primary's
#     host against 127.0.0.1, the plain port kept to loopback by the firewall: gk-sync has
#     no TLS, as Debian 12's hiredis 0.14 has none);
#   - a replica redis-server with `replicaof` the primary's TLS port and
#     `tls-replication yes`, no TCP port at all, and a unix socket for local readers;
#   - gatekeeperd with `redis.address: unix:...` on the replica.
# Checks: the replica's INFO replication shows master_link_status:up on the TLS port, the
# primary's CLIENT LIST shows the replica's connection arriving on the TLS port; a snapshot
# applied to the primary is served, and a revocation applied to the primary afterwards is
# enforced by gatekeeperd (waits on the replica's serial, the daemon's serial metric and
# the DNS answer, never on a fixed sleep). Exits 77 (ctest SKIP) with a message only when
# redis-server was built without TLS.
import functools
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

SKIP = 77


def run(*argv):
	r = subprocess.run(list(argv), capture_output=True, text=True, timeout=60)
	if r.returncode != 0:
		raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode, r.stdout, r.stderr))
	return r


def make_certs(d):
	"""CA, server (primary) and client (replica) certificates, EC P-256, signed by the CA."""
	ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
	ca_key, ca_crt = os.path.join(d, "ca.key"), os.path.join(d, "ca.crt")
	run("openssl", "req", "-x509", *ec, "-keyout", ca_key, "-out", ca_crt, "-days", "2",
	    "-subj", "/CN=gatekeeper test CA")
	out = {"ca": ca_crt}
	for name, ext in (("server", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
			  ("client", "extendedKeyUsage=clientAuth\n")):
		key, csr, crt = (os.path.join(d, name + s) for s in (".key", ".csr", ".crt"))
		extf = os.path.join(d, name + ".ext")
		with open(extf, "w") as f:
			f.write(ext)
		run("openssl", "req", "-new", *ec, "-keyout", key, "-out", csr,
		    "-subj", "/CN=gatekeeper test %s" % name)
		run("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
		    "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", extf)
		out[name] = (crt, key)
	return out


def start_redis(name, tmp, argv, ping):
	"""gkharness.start_redis with argv; None when redis-server says it has no TLS."""
	try:
		return h.start_redis(tmp, argv=argv, name=name, ping=ping)
	except h.RedisStartError as e:
		if "TLS" in e.log and ("not supported" in e.log or "Bad directive" in e.log):
			return None
		raise


# replication and TLS handshakes under ASan on a loaded machine: a wider failure bound
wait_for = functools.partial(h.wait_for, timeout=15.0, step=0.05)


def rcode(port, qname, rdtype="A"):
	q = dns.message.make_query(qname, rdtype, use_edns=0)
	return dns.query.udp(q, "127.0.0.1", port=port, timeout=1).rcode()


def main():
	binary, gksync = sys.argv[1], sys.argv[2]
	if not os.access(h.REDIS_SERVER, os.X_OK):
		raise SystemExit("redis-server not found at %s (scripts/deps.sh installs it)" % h.REDIS_SERVER)
	with h.TempDir("gk-tls-") as tmp:
		certs = make_certs(tmp)
		tls_port, plain_port = h.free_port(), h.free_port()
		# primary: TLS for replicas (client certificates required); plain loopback port
		# for gk-sync only
		ptls = redis.Redis(host="127.0.0.1", port=tls_port, ssl=True, ssl_ca_certs=certs["ca"],
				   ssl_certfile=certs["client"][0], ssl_keyfile=certs["client"][1],
				   ssl_check_hostname=False, socket_timeout=2, decode_responses=True)
		primary = start_redis("primary", tmp, [
			"--bind", "127.0.0.1", "--port", str(plain_port), "--tls-port", str(tls_port),
			"--tls-cert-file", certs["server"][0], "--tls-key-file", certs["server"][1],
			"--tls-ca-cert-file", certs["ca"], "--tls-auth-clients", "yes",
			"--repl-diskless-sync-delay", "0"], ptls.ping)
		if primary is None:
			h.log("SKIP: %s was built without TLS (BUILD_TLS=yes); Debian 12's redis-server "
			      "7.0 has it" % h.REDIS_SERVER)
			return SKIP
		pr = redis.Redis(host="127.0.0.1", port=plain_port, socket_timeout=2, decode_responses=True)
		sock = os.path.join(tmp, "replica.sock")
		rr = redis.Redis(unix_socket_path=sock, socket_timeout=2, decode_responses=True)
		replica = start_redis("replica", tmp, [
			"--port", "0", "--unixsocket", sock, "--unixsocketperm", "700",
			"--replicaof", "127.0.0.1", str(tls_port), "--tls-replication", "yes",
			"--tls-cert-file", certs["client"][0], "--tls-key-file", certs["client"][1],
			"--tls-ca-cert-file", certs["ca"]], rr.ping)
		gk = None
		try:
			# a client without a certificate is refused on the TLS port
			anon = redis.Redis(host="127.0.0.1", port=tls_port, ssl=True,
					   ssl_ca_certs=certs["ca"], ssl_check_hostname=False, socket_timeout=2)
			try:
				anon.ping()
				raise AssertionError("the primary's TLS port accepted a client without a certificate")
			except (redis.RedisError, OSError):
				pass

			info = wait_for("replication link up", lambda: (lambda i: i if i.get(
				"master_link_status") == "up" else None)(rr.info("replication")))
			assert info["role"] == "slave" and int(info["master_port"]) == tls_port, info
			links = [c for c in pr.client_list() if "S" in c["flags"]]
			assert len(links) == 1, pr.client_list()
			assert links[0]["laddr"] == "127.0.0.1:%d" % tls_port, links
			h.log("replication link up over TLS: replica -> 127.0.0.1:%d (%s), plain port %d "
			      "not used by it" % (tls_port, links[0]["addr"], plain_port))

			feed = h.Feed(gksync, tmp, plain_port)
			feed.snapshot(1, [("example.cn", "filed"), ("dname.cn", "filed"),
					  ("other.com.cn", "filed")])
			wait_for("serial 1 on the replica", lambda: rr.get("gk:serial") == "1")

			mport = h.free_port()
			sub = os.path.join(tmp, "gk")
			os.mkdir(sub)
			extra = ("redis:\n  address: \"unix:%s\"\n  instance_id: tls-%d\n"
				 "  connect_timeout_ms: 300\n  reconnect_max_ms: 400\n"
				 "filing:\n  startup: refuse\n"
				 "metrics:\n  listen: \"127.0.0.1:%d\"\n" % (sock, os.getpid(), mport))
			gk = h.start_gk(binary, sub, extra=extra, log_level="debug")
			wait_for("serial 1 in gatekeeperd",
				 lambda: h.metrics(mport).get("gatekeeper_status_serial") == 1)
			assert rcode(gk.port, "www.example.cn") == dns.rcode.NOERROR
			assert rcode(gk.port, "other.com.cn", "SOA") == dns.rcode.NOERROR

			# a revocation applied to the primary reaches gatekeeperd through the TLS link
			path = os.path.join(tmp, "delta-2.jsonl")
			with open(path, "w") as f:
				f.write('{"kind":"delta","serial":2,"base":1,"count":1,'
					'"generated":"2026-06-01T00:00:00Z"}\n'
					'{"domain":"example.cn","status":"revoked","licence":"京ICP备12345678号-1",'
					'"sponsor":"北京示例科技有限公司","nature":"企业","provider":"示例云",'
					'"updated":"2026-01-01T00:00:00+08:00"}\n')
			feed.run("sign", "--key", feed.priv, path)
			t0 = time.time()
			feed.run("apply", "--redis", feed.addr, "--pubkey", feed.pub, path)
			wait_for("serial 2 on the replica", lambda: rr.get("gk:serial") == "2")
			wait_for("serial 2 in gatekeeperd",
				 lambda: h.metrics(mport).get("gatekeeper_status_serial") == 2)
			wait_for("the revocation enforced",
				 lambda: rcode(gk.port, "www.example.cn") == dns.rcode.NXDOMAIN)
			assert rcode(gk.port, "other.com.cn", "SOA") == dns.rcode.NOERROR
			h.log("revocation applied to the primary enforced via the TLS replica in %.0f ms" %
			      ((time.time() - t0) * 1000))
			# the link the change travelled is still the TLS one
			links = [c for c in pr.client_list() if "S" in c["flags"]]
			assert [c["laddr"] for c in links] == ["127.0.0.1:%d" % tls_port], links
		except BaseException:
			for s in (gk, primary, replica):
				if s:
					h.log("%s log:\n%s" % (s.name, s.log_text()[-3000:]))
			raise
		finally:
			rc = gk.stop() if gk else 0
			replica.stop()
			primary.stop()
		assert rc == 0, rc
	h.log("test_tls_replication: ok")
	return 0


if __name__ == "__main__":
	sys.exit(main())
