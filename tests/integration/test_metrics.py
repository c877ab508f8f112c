# SPDX-License-Identifier: MIT
# tests/integration/test_metrics.py -- the Prometheus endpoint and the dnstap decision log,
# black box.
#
# A private redis-server holds a tiny status set (example.cn filed, dname.cn revoked,
# other.com.cn absent: unfiled); gatekeeperd runs with metrics.listen and dnstap.file on free
# loopback ports. A known query mix (UDP and TCP, filed, unfiled, revoked, not served,
# malformed) is sent between two scrapes; the scrapes are parsed with the Prometheus
# client's own text-format parser and every delta must be exact. HTTP: 404, 405, HEAD,
# content type. Then a flood of refusals against a small token bucket: entries queued +
# rate-limited == refusals sent. After SIGTERM the dnstap file is read back twice: with
# dnstap-ldns (an existing dnstap reader) and with our .proto compiled for Python by protoc
# (the Frame Streams framing parsed here), and must hold exactly the queued refusals.
#
# `test_metrics.py GATEKEEPERD halfopen`: 40 connections to the metrics endpoint that send
# nothing (and 8 that stop mid-request) do not lock a scraper out: a scrape right after them
# succeeds (at most 3 tries 0.1 s apart; it failed for ~5 s when extra connections were
# closed at once instead of evicting the oldest).
import http.client
import os
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

PROTO = os.path.join(h.SRC, "src", "obs", "dnstap.proto")
RATE = 20  # dnstap.rate and burst per worker


def start_redis(tmp):
	srv = h.start_redis(tmp)
	port = srv.port
	r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True)
	p = r.pipeline(transaction=False)
	p.hset("gk:st:%04x" % h.status_bucket("example.cn"), "example.cn", (1 << 2) | 1)  # filed
	p.hset("gk:st:%04x" % h.status_bucket("dname.cn"), "dname.cn", (1 << 2) | 2)  # revoked
	p.set("gk:serial", 100)
	p.xadd("gk:changes", {"k": "serial", "s": 100})
	p.execute()
	return srv, port


def http_get(port, path, method="GET"):
	c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
	try:
		c.request(method, path)
		r = c.getresponse()
		return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
	finally:
		c.close()


def scrape(port):
	"""{(sample name, sorted label items): value} from one scrape, via prometheus_client."""
	status, hdr, body = http_get(port, "/metrics")
	assert status == 200, (status, body)
	assert hdr["content-type"].startswith("text/plain; version=0.0.4"), hdr
	out = {}
	fams = {}
	for fam in text_string_to_metric_families(body.decode()):
		fams[fam.name] = fam.type
		for s in fam.samples:
			out[(s.name, tuple(sorted(s.labels.items())))] = s.value
	return out, fams


def val(m, name, **labels):
	return m.get((name, tuple(sorted(labels.items()))), 0.0)


def total(m, name, **labels):
	"""Sum of every sample of name whose labels include labels."""
	t = 0.0
	for (n, ls), v in m.items():
		d = dict(ls)
		if n == name and all(d.get(k) == w for k, w in labels.items()):
			t += v
	return t


def settled(port, check, timeout=30.0):
	"""Scrape until check(metrics) returns without an AssertionError, and return what it
	returned with the metrics; if it never does (h.wait_for's bound), its last AssertionError
	is the failure."""
	state = {}

	def once():
		m, _ = scrape(port)
		try:
			state["ok"] = (check(m), m)
			return True
		except AssertionError as e:
			state["err"] = e
			return False
	if not h.wait_for("metrics to settle", once, timeout, step=0.05, must=False):
		raise state.get("err") or AssertionError("metrics never scraped")
	return state["ok"]


def wait_metric(port, pred, what, timeout=30.0):
	def check(m):
		assert pred(m), "timed out waiting for %s" % what
	return settled(port, check, timeout)[1]


def udp(port, name, qtype):
	q = dns.message.make_query(name, qtype, use_edns=0)
	return dns.query.udp(q, "127.0.0.1", port=port, timeout=2).rcode()


def tcp(port, name, qtype):
	q = dns.message.make_query(name, qtype, use_edns=0)
	return dns.query.tcp(q, "127.0.0.1", port=port, timeout=2).rcode()


# The mix: (transport, name, qtype, rcode expected, status, action, count)
MIX = [
	("udp", "www.example.cn", "A", dns.rcode.NOERROR, "filed", "resolve", 7),
	("udp", "www.example.cn", "AAAA", dns.rcode.NOERROR, "filed", "resolve", 3),
	("udp", "example.cn", "MX", dns.rcode.NOERROR, "filed", "resolve", 2),
	("udp", "other.com.cn", "SOA", dns.rcode.REFUSED, "unfiled", "refuse", 5),
	("udp", "dname.cn", "SOA", dns.rcode.NXDOMAIN, "revoked", "nxdomain", 4),
	("udp", "www.example.org", "A", dns.rcode.REFUSED, "none", "resolve", 2),
	("tcp", "www.example.cn", "A", dns.rcode.NOERROR, "filed", "resolve", 2),
	("tcp", "www.other.com.cn", "TXT", dns.rcode.REFUSED, "unfiled", "refuse", 3),
]
MALFORMED = 1  # a 5-byte UDP datagram: no header, no answer


def send_mix(port):
	for tr, name, qt, rc, _, _, n in MIX:
		for _ in range(n):
			got = (udp if tr == "udp" else tcp)(port, name, qt)
			assert got == rc, (tr, name, qt, dns.rcode.to_text(got))
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.sendto(b"\x00\x01\x02\x03\x04", ("127.0.0.1", port))
	s.close()


def check_deltas(m0, m1):
	d = {}
	for k in set(m0) | set(m1):
		d[k] = m1.get(k, 0.0) - m0.get(k, 0.0)
	exp_q, exp_r, exp_dec = {}, {}, {}
	for tr, _, qt, rc, st, act, n in MIX:
		exp_q[(tr, qt)] = exp_q.get((tr, qt), 0) + n
		exp_r[(tr, dns.rcode.to_text(rc))] = exp_r.get((tr, dns.rcode.to_text(rc)), 0) + n
		exp_dec[(st, act)] = exp_dec.get((st, act), 0) + n
	exp_q[("udp", "none")] = MALFORMED
	exp_dec[("none", "resolve")] += MALFORMED
	for (n, ls), v in d.items():
		lab = dict(ls)
		if n == "gatekeeper_queries_total":
			want = exp_q.get((lab["transport"], lab["qtype"]), 0)
			assert v == want, ("queries", lab, v, want)
		elif n == "gatekeeper_responses_total":
			want = exp_r.get((lab["transport"], lab["rcode"]), 0)
			assert v == want, ("responses", lab, v, want)
	for (st, act), want in exp_dec.items():
		got = total(d, "gatekeeper_decisions_total", status=st, action=act, mode="enforce")
		assert got == want, ("decisions", st, act, got, want)
	assert total(d, "gatekeeper_decisions_total") == sum(exp_dec.values())
	# reasons: the packet path says why (pkt/process.h gk_why_t) once it fills res.why;
	# whatever it says, refusals of a status carry that status's reason or none.
	for (n, ls), v in d.items():
		lab = dict(ls)
		if n == "gatekeeper_decisions_total" and v and lab["action"] != "resolve":
			assert lab["reason"] in (lab["status"], "none"), lab
	assert val(d, "gatekeeper_queries_unanswered_total", transport="udp") == MALFORMED
	assert val(d, "gatekeeper_queries_unanswered_total", transport="tcp") == 0
	n_all = sum(x[6] for x in MIX) + MALFORMED
	assert val(d, "gatekeeper_packet_duration_seconds_count") == n_all, d
	assert val(d, "gatekeeper_packet_duration_seconds_bucket", le="+Inf") == n_all
	assert d[("gatekeeper_packet_duration_seconds_sum", ())] > 0
	n_tcp = sum(x[6] for x in MIX if x[0] == "tcp")
	assert val(d, "gatekeeper_tcp_connections_accepted_total") == n_tcp
	refusals = sum(x[6] for x in MIX if x[5] != "resolve")
	assert val(d, "gatekeeper_dnstap_entries_total", result="queued") == refusals, d
	assert val(d, "gatekeeper_dnstap_entries_total", result="ratelimited") == 0
	return refusals


# --- dnstap readers -------------------------------------------------------------------

def fstrm_frames(path):
	"""Data frames of a Frame Streams file (unidirectional: START, data..., STOP)."""
	with open(path, "rb") as f:
		data = f.read()
	out, i, started, stopped = [], 0, False, False
	while i + 4 <= len(data):
		(n,) = struct.unpack("!I", data[i:i + 4])
		i += 4
		if n == 0:  # control frame
			(clen,) = struct.unpack("!I", data[i:i + 4])
			ctype = struct.unpack("!I", data[i + 4:i + 8])[0]
			if ctype == 2:  # START: must name our content type
				assert b"protobuf:dnstap.Dnstap" in data[i + 8:i + 4 + clen], data[i:i + 4 + clen]
				started = True
			elif ctype == 3:
				stopped = True
			i += 4 + clen
		else:
			out.append(data[i:i + n])
			i += n
	assert started and stopped and i == len(data), (started, stopped, i, len(data))
	return out


def protobuf_module(tmp):
	subprocess.run([h.need("protoc", "protobuf-compiler"), "--python_out=" + tmp, "-I" + os.path.dirname(PROTO), PROTO],
		       check=True)
	sys.path.insert(0, tmp)
	import dnstap_pb2  # noqa: E402
	return dnstap_pb2


def check_dnstap(tmp, path, queued, q0, flood_names):
	pb = protobuf_module(tmp)
	frames = fstrm_frames(path)
	msgs = []
	for fr in frames:
		d = pb.Dnstap()
		d.ParseFromString(fr)
		assert d.type == pb.Dnstap.MESSAGE
		msgs.append(d)
	assert len(msgs) == 2 * queued, (len(msgs), queued)
	by = {}
	for d in msgs:
		m = d.message
		kind = "q" if m.type == pb.Message.AUTH_QUERY else "r"
		assert m.type in (pb.Message.AUTH_QUERY, pb.Message.AUTH_RESPONSE)
		assert m.socket_family == pb.INET and m.query_address == b"\x7f\x00\x00\x01"
		assert 0 < m.query_port < 65536 and m.query_time_sec > 1.7e9
		wire = m.query_message if kind == "q" else m.response_message
		msg = dns.message.from_wire(wire)
		qname = msg.question[0].name.to_text()
		extra = d.extra.decode()
		assert d.version.decode().startswith("gatekeeperd "), d.version
		assert d.identity == b"it-metrics"
		assert m.policy.type == "ICP", m.policy
		assert m.policy.match == pb.Policy.QNAME
		if kind == "r":
			assert msg.rcode() in (dns.rcode.REFUSED, dns.rcode.NXDOMAIN), msg
		by.setdefault((qname, m.socket_protocol, kind), []).append(extra)
	# the mix's refusals, then the flood's
	q_unf = by[("other.com.cn.", pb.UDP, "q")]
	assert len(q_unf) == 5 and all(e.startswith("status=unfiled action=refuse ") and
				       e.endswith(" domain=other.com.cn") for e in q_unf), q_unf
	assert len(by[("dname.cn.", pb.UDP, "r")]) == 4
	assert all(e.startswith("status=revoked action=nxdomain ") for e in by[("dname.cn.", pb.UDP, "q")])
	assert len(by[("www.other.com.cn.", pb.TCP, "q")]) == 3
	n_flood = sum(len(v) for (qn, _, k), v in by.items() if k == "q" and qn in flood_names)
	assert n_flood == queued - q0 - 12, (n_flood, queued, q0)
	# the same file through an existing dnstap reader
	out = subprocess.run([h.need("dnstap-ldns", "dnstap-ldns"), "-r", path, "-y"], check=True, capture_output=True,
			     text=True, timeout=60).stdout
	assert out.count("type: AUTH_QUERY") == queued, out[-2000:]
	assert out.count("type: AUTH_RESPONSE") == queued
	assert out.count('query_address: "127.0.0.1"') == 2 * queued
	assert "other.com.cn.\tIN\tSOA" in out and "www.other.com.cn.\tIN\tTXT" in out
	h.log("dnstap: %d entries, %d frames; dnstap-ldns and protobuf agree" % (queued, len(msgs)))


def collector_phase(binary, tmp):
	"""dnstap.socket: a collector (fstrm_capture) that starts after gatekeeperd is connected
	to within the retry interval; entries before that are counted as lost, the ones after
	are written. all_queries logs answers too."""
	sub = os.path.join(tmp, "collector")
	os.mkdir(sub)
	sock, out = os.path.join(sub, "tap.sock"), os.path.join(sub, "captured.fstrm")
	mport = h.free_port()
	extra = ("metrics:\n  listen: \"127.0.0.1:%d\"\n"
		 "dnstap:\n  socket: %s\n  all_queries: true\n" % (mport, sock))
	gk = h.start_gk(binary, sub, extra=extra, ipv6=False, workers=1)
	cap = None
	try:
		for _ in range(2):  # the collector is not there yet: lost, counted
			assert udp(gk.port, "www.example.cn", "A") == dns.rcode.NOERROR
		m = wait_metric(mport, lambda x: val(x, "gatekeeper_dnstap_entries_total", result="lost") >= 2,
				"entries lost without a collector")
		assert val(m, "gatekeeper_dnstap_output_open") == 0
		lost = val(m, "gatekeeper_dnstap_entries_total", result="lost")
		cap = h.Server("fstrm_capture", ["fstrm_capture", "-t", "protobuf:dnstap.Dnstap", "-u", sock,
						 "-w", out], sub, 0, os.path.join(sub, "capture.log"))
		deadline = time.time() + 5
		while val(scrape(mport)[0], "gatekeeper_dnstap_output_open") != 1:
			assert time.time() < deadline, "gatekeeperd did not connect to the collector"
			udp(gk.port, "www.example.cn", "SOA")  # drives the retry; lost until connected
			time.sleep(0.1)
		m0, _ = scrape(mport)
		for _ in range(5):
			assert udp(gk.port, "www.example.cn", "A") == dns.rcode.NOERROR
		m1 = wait_metric(mport, lambda x: val(x, "gatekeeper_dnstap_entries_total", result="written") >=
				 val(m0, "gatekeeper_dnstap_entries_total", result="written") + 5, "written")
		assert val(m1, "gatekeeper_dnstap_entries_total", result="lost") >= lost
	finally:
		rc = gk.stop()
		if cap is not None:
			cap.stop()
	assert rc == 0
	frames = fstrm_frames(out)
	pb = protobuf_module(sub)
	answered = 0
	for fr in frames:
		d = pb.Dnstap()
		d.ParseFromString(fr)
		assert d.extra.decode().startswith("status=none action=resolve reason=none"), d.extra
		if d.message.type == pb.Message.AUTH_RESPONSE:
			msg = dns.message.from_wire(d.message.response_message)
			if msg.question[0].name.to_text() == "www.example.cn." and msg.answer:
				answered += 1
	assert answered == 5, answered
	h.log("collector: connected after it appeared, %d entries lost before, 5 answers captured"
	      % lost)


def main():
	binary = sys.argv[1]
	with h.TempDir("gk-metrics-") as tmp:
		rd, rport = start_redis(tmp)
		mport = h.free_port()
		tap = os.path.join(tmp, "decisions.tap")
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: it-metrics\n"
			 "filing:\n  startup: refuse\n"
			 "metrics:\n  listen: \"127.0.0.1:%d\"\n"
			 "dnstap:\n  file: decisions.tap\n  rate: %d\n  identity: it-metrics\n"
			 % (rport, mport, RATE))
		gk = h.start_gk(binary, tmp, extra=extra, ipv6=False)
		try:
			m = wait_metric(mport, lambda x: val(x, "gatekeeper_status_ready") == 1,
					"status ready")
			assert val(m, "gatekeeper_status_domains") == 2, m
			assert val(m, "gatekeeper_status_serial") == 100
			assert val(m, "gatekeeper_redis_connected") == 1
			assert val(m, "gatekeeper_redis_reconnects_total") == 0
			assert val(m, "gatekeeper_status_full_loads_total") == 1
			assert 0 <= val(m, "gatekeeper_status_age_seconds") < 30
			assert val(m, "gatekeeper_filing_check_enabled") == 1
			assert val(m, "gatekeeper_workers") == 2
			assert val(m, "gatekeeper_policy_version") == 0
			assert abs(val(m, "process_start_time_seconds") - time.time()) < 60
			assert total(m, "gatekeeper_build_info") == 1

			# HTTP edges
			st, _, body = http_get(mport, "/")
			assert st == 404, st
			st, hdr, _ = http_get(mport, "/metrics", method="POST")
			assert st == 405 and "GET" in hdr.get("allow", ""), (st, hdr)
			st, hdr, body = http_get(mport, "/metrics", method="HEAD")
			assert st == 200 and body == b"" and int(hdr["content-length"]) > 1000, hdr
			st, _, _ = http_get(mport, "/metrics?x=1")
			assert st == 200

			# the mix, between two scrapes
			m0, fams = scrape(mport)
			assert fams["gatekeeper_packet_duration_seconds"] == "histogram"
			assert fams["gatekeeper_queries"] == "counter", fams.keys()
			send_mix(gk.port)
			# A query is counted after its answer went out (over TCP, after the write), and
			# each thread counts on its own: a scrape may run a moment ahead of the last
			# counts. Scrape until every count of the mix is in (or 10 s have passed: then
			# the last scrape's mismatch is the failure).
			refusals, _ = settled(mport, lambda m: check_deltas(m0, m))
			# discovery (on by default with redis) reports through the same endpoint
			md = wait_metric(mport, lambda x: val(x, "gatekeeper_discovery_queries_total",
							      stage="written") > 0, "discovery written")
			assert val(md, "gatekeeper_discovery_redis_connected") == 1
			assert val(md, "gatekeeper_discovery_flushes_total") >= 1
			assert val(md, "gatekeeper_discovery_entries_written_total") >= 1
			assert val(md, "gatekeeper_discovery_table_bytes") > 0
			h.log("metrics: exact counts for %d queries (%d refusals)" %
			      (sum(x[6] for x in MIX) + MALFORMED, refusals))

			# a flood of refusals against the token bucket (RATE per second per worker)
			flood_names = set()
			qs = []
			for i in range(400):
				name = "f%d.other.com.cn" % i
				flood_names.add(name + ".")
				qs.append(dns.message.make_query(name, "A").to_wire())
			s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
			s.settimeout(2)
			t0 = time.time()
			got = 0
			for i in range(0, len(qs), 20):  # 20 in flight at a time: no socket overflow
				for w in qs[i:i + 20]:
					s.sendto(w, ("127.0.0.1", gk.port))
				for _ in qs[i:i + 20]:
					s.recv(4096)
					got += 1
			took = time.time() - t0
			s.close()
			assert got == 400
			m2 = wait_metric(mport, lambda x: val(x, "gatekeeper_dnstap_entries_total", result="written") ==
					 val(x, "gatekeeper_dnstap_entries_total", result="queued"), "log drained")
			# refusals before the first scrape (startup: refuse, before the first load)
			# are in the log too
			q0 = val(m0, "gatekeeper_dnstap_entries_total", result="queued")
			queued = val(m2, "gatekeeper_dnstap_entries_total", result="queued")
			limited = val(m2, "gatekeeper_dnstap_entries_total", result="ratelimited")
			assert val(m2, "gatekeeper_dnstap_entries_total", result="ring_full") == 0
			assert val(m2, "gatekeeper_dnstap_entries_total", result="lost") == 0
			assert queued - q0 + limited == refusals + 400, (q0, queued, limited)
			# at most the two buckets' depth plus what they refill during the flood
			assert queued - q0 - refusals <= 2 * RATE * (1 + took) + 2, (queued, took)
			assert limited >= 400 - 2 * RATE * (1 + took) - 2, (limited, took)
			assert val(m2, "gatekeeper_dnstap_output_open") == 1
			h.log("flood: 400 refusals in %.2f s, %d logged, %d rate-limited" %
			      (took, queued - q0 - refusals, limited))
		except BaseException:
			h.log("gatekeeperd log:\n" + gk.log_text()[-4000:])
			raise
		finally:
			rc = gk.stop()
			rd.stop()
		with open(gk.logpath, "rb") as f:
			text = f.read().decode("utf-8", "replace")
		assert rc == 0, text
		assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text
		check_dnstap(tmp, tap, int(queued), int(q0), flood_names)
		collector_phase(binary, tmp)
	h.log("test_metrics: ok")


def halfopen(binary):
	with h.TempDir("gk-metrics-halfopen-") as tmp:
		mport = h.free_port()
		gk = h.start_gk(binary, tmp, extra="metrics:\n  listen: \"127.0.0.1:%d\"\n" % mport)
		idle = []
		try:
			assert any(k.startswith("gatekeeper_queries_total") for k in h.metrics(mport))
			for i in range(48):
				s = socket.create_connection(("127.0.0.1", mport), timeout=2)
				if i >= 40:
					s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
				idle.append(s)
			t0 = time.time()
			for attempt in range(3):
				try:
					m = h.metrics(mport, timeout=1.0)
					break
				except (OSError, http.client.HTTPException, RuntimeError) as e:
					h.log("scrape %d with 48 idle connections open: %r" % (attempt + 1, e))
					if attempt == 2:
						raise AssertionError("no scrape succeeded with 48 idle connections open")
					time.sleep(0.1)
			assert any(k.startswith("gatekeeper_queries_total") for k in m), sorted(m)[:5]
			h.log("scrape with 48 idle connections open: ok after %d tries, %.0f ms" %
			      (attempt + 1, (time.time() - t0) * 1000))
			# the oldest idle ones were evicted: the server closed them
			closed = 0
			for s in idle[:8]:
				s.settimeout(2)
				try:
					closed += s.recv(1) == b""
				except ConnectionResetError:
					closed += 1
			assert closed == 8, closed
			assert h.good_query_answered(gk.port)
		except BaseException:
			h.log("gatekeeperd log:\n" + gk.log_text()[-3000:])
			raise
		finally:
			for s in idle:
				s.close()
			rc = gk.stop()
		assert rc == 0, rc
	h.log("test_metrics halfopen: ok")


if __name__ == "__main__":
	if len(sys.argv) == 3 and sys.argv[2] == "halfopen":
		halfopen(sys.argv[1])
	else:
		main()
