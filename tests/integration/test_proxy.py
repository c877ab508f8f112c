# SPDX-License-Identifier: MIT
# tests/integration/test_proxy.py -- PROXY protocol v2 from load balancers, black box.
#
# gatekeeperd with proxy_protocol.from 127.0.0.2 (the "balancer"), rate limiting at 5/s per
# /32 with 198.51.100.7 exempt, and metrics. Over UDP: a datagram from the balancer with a
# header naming a client is answered (to the balancer), and rate limiting counts the client
# it names -- 10 queries for client A give 5 full answers, then client B through the same
# balancer still gets 5 of 5, and the exempt client 10 of 10; LOCAL (a health check) is
# answered; a datagram from the balancer without a header, or with a malformed one (version
# 1, a length too short for its addresses, a TLV overrunning the header), is dropped and
# counted malformed; a header from an address not configured (127.0.0.3) is dropped and
# counted refused, while its plain queries are answered. Over TCP: a connection from the
# balancer whose header arrives in three pieces, then two pipelined queries, gets both
# answers; one that sends a malformed header or plain DNS instead is closed. Every count is
# read back from /metrics (gatekeeper_proxy_headers_total).
import os
import socket
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402

SIG = b"\r\n\r\n\x00\r\nQUIT\n"
LB, OTHER = "127.0.0.2", "127.0.0.3"


def header(client, cmd=0x21, proto=0x12, tlv=b"", body=None):
	if body is None:
		body = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 53)
	body += tlv
	return SIG + bytes([cmd, proto]) + struct.pack("!H", len(body)) + body


def query(qid):
	q = dns.message.make_query("www.example.cn", "A")
	q.id = qid
	return q.to_wire()


def counters(mport):
	m = h.metrics(mport)
	px = {r: int(m['gatekeeper_proxy_headers_total{result="%s"}' % r])
	      for r in ("accepted", "malformed", "refused")}
	return px, int(m["gatekeeper_rrl_limited_total"])


def udp_exchange(port, src, datagrams, mport, expect_events):
	"""Send datagrams from src (one socket); wait until the proxy counters and the limited
	counter together moved by expect_events and every answer has come; returns the replies
	({id: message}) and the counter deltas."""
	before = counters(mport)
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.bind((src, 0))
	s.settimeout(0.1)
	for d in datagrams:
		s.sendto(d, ("127.0.0.1", port))
	got = {}
	deadline = time.monotonic() + 15
	while True:
		try:
			r = dns.message.from_wire(s.recv(65535))
			got[r.id] = r
			continue
		except socket.timeout:
			pass
		now = counters(mport)
		delta = {k: now[0][k] - before[0][k] for k in now[0]}
		limited = now[1] - before[1]
		if sum(delta.values()) + (limited if expect_events.get("count_limited") else 0) >= \
		   expect_events["events"] and len(got) >= expect_events["answers"]:
			s.close()
			return got, delta, limited
		assert time.monotonic() < deadline, (got.keys(), delta, limited, expect_events)


def tcp_session(port, pieces, want_answers):
	s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(LB, 0))
	for p in pieces:
		s.sendall(p)
		time.sleep(0)  # separate writes; TCP_NODELAY keeps them separate segments
	got = []
	buf = b""
	try:
		while len(got) < want_answers:
			d = s.recv(65535)
			if not d:
				break
			buf += d
			while len(buf) >= 2 and len(buf) >= 2 + struct.unpack("!H", buf[:2])[0]:
				n = struct.unpack("!H", buf[:2])[0]
				got.append(dns.message.from_wire(buf[2:2 + n]))
				buf = buf[2 + n:]
		if want_answers == 0:
			closed = s.recv(1) == b""
			return got, closed
	finally:
		s.close()
	return got, None


def main(binary):
	with h.TempDir("gk-proxy-") as tmp:
		mport = h.free_port()
		extra = ("metrics:\n  listen: \"127.0.0.1:%d\"\n"
			 "proxy_protocol:\n  from: [\"%s\"]\n"
			 "rate_limit:\n  responses_per_second: 5\n  slip: 0\n  window: 1\n"
			 "  ipv4_prefix: 32\n  exempt: [\"198.51.100.7\"]\n") % (mport, LB)
		gk = h.start_gk(binary, tmp, extra=extra, rate_limit=None)
		try:
			port = gk.port
			# a client named by the balancer: rate limited as itself
			dg = [header("192.0.2.10") + query(0x100 + i) for i in range(10)]
			got, d, lim = udp_exchange(port, LB, dg, mport, {"events": 10, "answers": 5})
			assert d == {"accepted": 10, "malformed": 0, "refused": 0}, d
			full = [r for r in got.values() if len(r.answer) == 1]
			assert 5 <= len(full) <= 10 and lim == 10 - len(got), (len(full), lim)
			# another client through the same balancer: its own budget
			dg = [header("192.0.2.11") + query(0x200 + i) for i in range(5)]
			got, d, lim = udp_exchange(port, LB, dg, mport, {"events": 5, "answers": 5})
			assert len(got) == 5 and lim == 0, (len(got), lim)
			# the exempt client: never limited
			dg = [header("198.51.100.7") + query(0x300 + i) for i in range(10)]
			got, d, lim = udp_exchange(port, LB, dg, mport, {"events": 10, "answers": 10})
			assert len(got) == 10 and lim == 0, (len(got), lim)
			# LOCAL: the balancer's health check
			got, d, _ = udp_exchange(port, LB, [header("0.0.0.0", cmd=0x20, body=b"") + query(0x400)],
						 mport, {"events": 1, "answers": 1})
			assert 0x400 in got and d["accepted"] == 1, d
			# from the balancer: no header, or malformed ones: dropped
			bad = [query(0x500),
			       header("192.0.2.12", cmd=0x11) + query(0x501),
			       SIG + b"\x21\x12\x00\x0b" + bytes(11) + query(0x502),
			       header("192.0.2.12", tlv=b"\x04\x00\x09abc") + query(0x503)]
			got, d, _ = udp_exchange(port, LB, bad, mport, {"events": 4, "answers": 0})
			assert d == {"accepted": 0, "malformed": 4, "refused": 0} and not got, (d, got)
			# another address: a header is refused, plain DNS answered
			got, d, _ = udp_exchange(port, OTHER, [header("192.0.2.13") + query(0x600), query(0x601)],
						 mport, {"events": 1, "answers": 1})
			assert d == {"accepted": 0, "malformed": 0, "refused": 1}, d
			assert list(got) == [0x601], got
			# TCP: the header in three pieces, then two pipelined queries
			hd = header("192.0.2.14", proto=0x11)
			msgs = b"".join(struct.pack("!H", len(query(i))) + query(i) for i in (0x700, 0x701))
			before = counters(mport)[0]["accepted"]
			got, _ = tcp_session(port, [hd[:5], hd[5:20], hd[20:] + msgs], 2)
			assert sorted(r.id for r in got) == [0x700, 0x701], got
			assert counters(mport)[0]["accepted"] == before + 1
			# TCP from the balancer without a header, or with a malformed one: closed
			m0 = counters(mport)[0]["malformed"]
			got, closed = tcp_session(port, [msgs], 0)
			assert closed and not got
			got, closed = tcp_session(port, [header("192.0.2.15", cmd=0x31, proto=0x11) + msgs], 0)
			assert closed and not got
			assert counters(mport)[0]["malformed"] == m0 + 2
		finally:
			rc = gk.stop()
		text = gk.log_text()
		assert rc == 0, text
		assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text
	h.log("test_proxy: ok")


if __name__ == "__main__":
	main(sys.argv[1])
