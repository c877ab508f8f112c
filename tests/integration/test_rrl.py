# SPDX-License-Identifier: MIT
# tests/integration/test_rrl.py -- response rate limiting (rate_limit:), black box.
#
# gatekeeperd with rate_limit 10 responses/s, slip 2, window 1, /32 IPv4 prefixes, and
# 127.0.0.3 exempt, with a metrics endpoint. One source (127.0.0.2) sends 100 queries for one
# name from one socket while the server is stopped, so they are answered in one go: it gets
# the rate (10, or up to 20 if a second boundary falls inside the burst) of full answers,
# every second limited response truncated (TC=1, no records, the question echoed) and the
# rest dropped; the metrics' limited/slipped/dropped counters match what arrived exactly.
# Right after, while that source is in debt, another source (127.0.0.4) gets all of its 10
# queries answered in full, and the first source is answered over TCP (never limited). The
# exempt source bursts 100 and gets 100 full answers; the limited counter does not move.
# Answers relayed from a backend (fwd.cn forwarded to a pool of one Python backend, cache
# off) are limited the same way: a burst of 100 from 127.0.0.5 gets the rate in full, every
# second limited one truncated, the rest dropped, counted in the same metrics, and the
# backend was asked every time (the limit is on the answer, after the backend).
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.flags  # noqa: E402

RATE = 10
N = 100


def rrl_counters(mport):
	m = h.metrics(mport)
	return (int(m["gatekeeper_rrl_limited_total"]), int(m["gatekeeper_rrl_slipped_total"]),
		int(m["gatekeeper_rrl_dropped_total"]))


class Backend:
	"""A UDP backend answering every A query with 192.0.2.1, counting them."""

	def __init__(self):
		self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
		self.sock.bind(("127.0.0.1", 0))
		self.port, self.queries = self.sock.getsockname()[1], 0
		threading.Thread(target=self.serve, daemon=True).start()

	def serve(self):
		while True:
			try:
				data, peer = self.sock.recvfrom(65535)
				q = dns.message.from_wire(data)
			except OSError:
				return
			except Exception:  # noqa: BLE001
				continue
			r = dns.message.make_response(q)
			r.flags |= dns.flags.AA
			if q.question[0].rdtype == dns.rdatatype.A:
				r.answer.append(dns.rrset.from_text(q.question[0].name, 300, "IN", "A", "192.0.2.1"))
				self.queries += 1  # the relay's health checks (SOA) are not counted
			self.sock.sendto(r.to_wire(), peer)


def burst(srv, src, mport, n, before, name="www.example.cn"):
	"""n queries for name A from src (one socket) queued while the server is
	stopped. Returns (full answers, truncated answers, limited counter delta), once every
	query is accounted for (a reply received or counted as limited)."""
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	try:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
		s.bind((src, 0))
		wires = []
		for i in range(n):
			q = dns.message.make_query(name, "A")
			q.id = 0x6000 + i
			wires.append(q.to_wire())
		os.kill(srv.pid, signal.SIGSTOP)
		try:
			for w in wires:
				s.sendto(w, ("127.0.0.1", srv.port))
		finally:
			os.kill(srv.pid, signal.SIGCONT)
		full, tc, ids = 0, 0, set()
		s.settimeout(0.2)
		deadline = time.time() + 20
		while True:
			try:
				data = s.recv(65535)
				r = dns.message.from_wire(data)
				assert r.id not in ids, "two replies to query %d" % r.id
				ids.add(r.id)
				assert str(r.question[0].name) == name + ".", r
				if r.flags & dns.flags.TC:
					assert not r.answer and not r.authority, r
					tc += 1
				else:
					assert len(r.answer) == 1, r
					full += 1
				continue
			except socket.timeout:
				pass
			now = rrl_counters(mport)
			limited = now[0] - before[0]
			# every query is either answered in full or limited (and maybe slipped)
			if full + limited == n and full + tc == len(ids) and tc == now[1] - before[1]:
				return full, tc, limited
			assert time.time() < deadline, \
				"after 20 s: %d full, %d truncated, %d limited of %d" % (full, tc, limited, n)
	finally:
		s.close()


def main(binary):
	be = Backend()
	with h.TempDir("gk-rrl-") as tmp:
		mport = h.free_port()
		extra = ("metrics:\n  listen: \"127.0.0.1:%d\"\n"
			 "rate_limit:\n  responses_per_second: %d\n  slip: 2\n  window: 1\n"
			 "  ipv4_prefix: 32\n  exempt: [\"127.0.0.3\", \"192.0.2.0/24\"]\n"
			 "pools:\n  - name: be\n    backends: [\"127.0.0.1:%d\"]\n    cache_size: 0\n"
			 "    check: {name: fwd.cn, interval_ms: 60000}\n") % (mport, RATE, be.port)
		port = h.free_port()
		conf = h.gk_config(tmp, port, extra=extra, rate_limit=None)
		text = open(conf).read().replace("zones:\n", "zones:\n  - {name: fwd.cn, forward: be}\n", 1)
		open(conf, "w").write(text)
		gk = h.Server("gatekeeperd", [binary, "-c", conf], tmp, port, os.path.join(tmp, "gatekeeperd.log"))
		gk.wait_ready()
		try:
			assert "rate_limit: 10 responses/s" in gk.log_text(), gk.log_text()
			c0 = rrl_counters(mport)
			full, tc, limited = burst(gk, "127.0.0.2", mport, N, c0)
			h.log("limited source: %d full, %d truncated, %d limited" % (full, tc, limited))
			assert RATE <= full <= 2 * RATE, full
			assert limited == N - full
			assert tc == limited // 2, (tc, limited)
			lim1, slip1, drop1 = rrl_counters(mport)
			assert slip1 - c0[1] == tc and drop1 - c0[2] == limited - tc

			# another source, while the first is in debt: every query answered in full
			for i in range(RATE):
				r = dns.query.udp(dns.message.make_query("www.example.cn", "A"), "127.0.0.1",
						  port=gk.port, source="127.0.0.4", timeout=2)
				assert not (r.flags & dns.flags.TC) and len(r.answer) == 1, r
			# TCP is never limited
			r = dns.query.tcp(dns.message.make_query("www.example.cn", "A"), "127.0.0.1",
					  port=gk.port, source="127.0.0.2", timeout=2)
			assert len(r.answer) == 1, r
			assert rrl_counters(mport)[0] == lim1, "other source or TCP limited"

			# the exempt source: all answered, nothing limited
			full, tc, limited = burst(gk, "127.0.0.3", mport, N, (lim1, slip1, drop1))
			assert (full, tc, limited) == (N, 0, 0), (full, tc, limited)
			assert rrl_counters(mport) == (lim1, slip1, drop1)

			# answers relayed from the backend: limited the same way, after the backend
			q0 = be.queries
			full, tc, limited = burst(gk, "127.0.0.5", mport, N, (lim1, slip1, drop1), "www.fwd.cn")
			h.log("relayed answers, limited source: %d full, %d truncated, %d limited; backend asked %d" %
			      (full, tc, limited, be.queries - q0))
			assert RATE <= full <= 2 * RATE, full
			assert limited == N - full and tc == limited // 2, (full, tc, limited)
			assert be.queries - q0 == N, be.queries - q0
			lim1, slip1, drop1 = rrl_counters(mport)
		finally:
			rc = gk.stop()
		text = gk.log_text()
		assert rc == 0, text
		assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text
		assert "rate-limited %d (slipped %d, dropped %d)" % (lim1, slip1, drop1) in text, text
		# the relayed answers in the stop's counters (before their rate limiting)
		assert ("counters: forwarded %d queries; cache hits 0, answers relayed %d (NOERROR %d, NXDOMAIN 0, "
			"SERVFAIL 0, REFUSED 0, other 0), SERVFAIL of our own 0" % (N, N, N)) in text, text
	h.log("test_rrl: ok")


if __name__ == "__main__":
	main(sys.argv[1])
