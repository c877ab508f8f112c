#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/test_frontend.py -- front-end mode: gatekeeperd forwarding zones to
# backend pools (docs/FRONTEND.md), against NSD and small Python backends.
#
# Usage: test_frontend.py GATEKEEPERD GK_SYNC GKCTL
#
# A private redis-server holds the filing status (applied by the real gk-sync); gatekeeperd
# (one worker; each of its relays -- a listener's UDP thread, the worker's TCP loop -- has a
# packet cache of its own, so the cache checks ask over UDP to 127.0.0.1) forwards:
#   example.cn -> pool "nsd": NSD serving the fixture zone (health checks every 100 ms)
#   com.cn     -> pool "rec": a recording Python backend (answers every A query)
#   mixed.cn   -> pool "mixed": a backend that never answers, and a recording one
#   bad.cn     -> pool "bad": a backend answering with the wrong ID, one answering garbage
#   tc.cn      -> pool "tc" (tc: pass): a backend whose UDP answers are truncated
# and checks:
#   1. answers relayed as NSD gives them, over UDP and TCP, with the client's ID and 0x20
#      question case; OPT removed for a client without EDNS, our buffer size for one with;
#   2. the decision comes first: unfiled and revoked names are refused with their EDE and
#      never reach the backend (its query log), filed ones do;
#  2c. the backend sockets' source ports (RFC 5452): several in use, all replaced by new
#      random ones within seconds (gatekeeper_frontend_source_port_rotations_total);
#   3. the packet cache: a second query does not reach the backend; a revocation applied
#      with gk-sync is enforced on the cached name at the next query, and on a cached
#      answer's CNAME target (the answer then stops at the CNAME, front/filter.h);
#   4. a backend that does not answer: every query still answered, by a retry elsewhere;
#   5. wrong-ID and garbage answers are dropped: SERVFAIL after the tries (EDE 22), nothing else;
#  5a. the relay's own SERVFAILs, each with its EDE and counted by reason: a backend that
#      closes its port under the relay (gone.cn: the retry meets ICMP port unreachable, EDE
#      23, the backend down at once); an answer whose records cannot be walked (badrr.cn, EDE
#      0); a datagram larger than we advertised (huge.cn: dropped, counted, EDE 22 at the
#      timeout); a flood of 4,600 distinct names to a backend that never answers (sink.cn):
#      4096 held in the outstanding table, the rest answered at once with EDE 0 "outstanding
#      query table full" and counted, the held ones SERVFAIL at their timeout, none lost;
#   6. TC from a UDP backend is passed on with tc: pass; an answer larger than the client's
#      512 is cut by us to header, question and OPT (the ECS echo in it) with TC, also from
#      the cache; header and question alone for a client without EDNS;
#   7. NSD stopped: SERVFAIL at once once its backend is down (EDE 22 for EDNS clients, no
#      OPT for others); NSD back on the same port:
#      answers again without any action (health checks bring it back);
#   8. failover under load: sub.example.cn -> pool "pair" (a second NSD and Knot); the NSD
#      is killed (SIGKILL) while four clients query: no query lost, none SERVFAIL; back on
#      its port, it is up again and gets queries;
#   9. a reload that changes the pools is refused (line named, running state kept); one that
#      drops a forwarded zone with the same pools applies;
#  6c. EDNS Client Subnet (ecs.cn -> pool "ecs"): our client's /24 sent, the backend's scope
#      honoured in the cache; a client's own option (a resolver's) forwarded cut to the
#      pool's prefix in place of ours (client: keep), echoed back with the backend's scope,
#      from the cache too; prefix 0 forwarded as 0; an invalid option FORMERR, never
#      forwarded, counted; ecsr.cn -> pool "ecsr" (client: replace): ours sent instead;
#  10. PROXY v2 to a backend (proxy.cn -> pool "proxy", proxy_protocol: true): a backend that
#      parses the header sees the client's address over UDP and TCP, LOCAL on health checks;
#  11. a policy push under load: a second gatekeeperd following the fleet policy forwards
#      pp.cn (cache off) while a client queries it; `gkctl policy push` blocks a name: once
#      the instance reports the version (gatekeeper_policy_version), the next query for it is
#      refused with the policy's EDE and it never reaches the backend again.
# Along the way, /metrics (per-backend queries, timeouts, mismatches, latency, health) and
# `gkctl stats` (pool state) say what happened.
import os
import re
import socket
import subprocess
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import signal  # noqa: E402
from gkharness import wait_for  # noqa: E402

import dns.edns  # noqa: E402
import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rrset  # noqa: E402

fails = []


def expect(what, ok, detail=""):
	h.log(("ok   " if ok else "FAIL ") + what + ("" if ok else "\n     " + str(detail)))
	if not ok:
		fails.append(what)


class Backend:
	"""A UDP (and TCP) DNS backend on loopback recording every question it gets.
	mode: ok | drop (never answers) | wrongid | garbage | tc (UDP answers truncated) | ecs
	(records the EDNS Client Subnet it gets, in self.ecs, and answers names starting with
	"geo" with scope = the source prefix, others with scope 0) | proxy (every UDP datagram and
	every TCP connection must start with a PROXY v2 header: parsed here after the specification,
	recorded in self.proxy as (name, transport, command, source address, source port, dgram))."""

	def __init__(self, mode="ok"):
		self.mode, self.log, self.lock = mode, [], threading.Lock()
		while True:  # one port for both: a free UDP port may be taken for TCP
			self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
			self.udp.bind(("127.0.0.1", 0))
			self.port = self.udp.getsockname()[1]
			self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
			self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
			try:
				self.tcp.bind(("127.0.0.1", self.port))
				break
			except OSError:
				self.udp.close()
				self.tcp.close()
		self.tcp.listen(16)
		self.stop = False
		self.accepted = 0
		self.ecs = []
		self.proxy = []
		self.ports = {}  # name -> the source port its last UDP query came from
		for fn in (self.serve_udp, self.serve_tcp):
			threading.Thread(target=fn, daemon=True).start()

	def names(self, transport=None):
		with self.lock:
			return [n for n, t in self.log if transport in (None, t)]

	def answer(self, q, tcp):
		r = dns.message.make_response(q)
		r.flags |= dns.flags.AA
		qn, qt = q.question[0].name, q.question[0].rdtype
		if len(qn.labels) > 2 and qn.labels[1].lower() == b"deleg":
			# below a zone cut at deleg.<zone>: a referral (NS in authority, glue, no AA)
			cut = qn.parent()
			r.flags &= ~dns.flags.AA
			r.authority.append(dns.rrset.from_text(cut, 3600, "IN", "NS", "ns1.%s" % cut))
			r.additional.append(dns.rrset.from_text("ns1.%s" % cut, 600, "IN", "A", "192.0.2.53"))
		elif qt == dns.rdatatype.SOA:
			r.answer.append(dns.rrset.from_text(qn, 300, "IN", "SOA",
							    "ns. host. 1 7200 900 1209600 300"))
		elif qt == dns.rdatatype.A and qn.labels[0].lower().startswith(b"big"):
			# 40 records: larger than a client's 512 octets
			r.answer.append(dns.rrset.from_text_list(qn, 300, "IN", "A",
								 ["192.0.2.%d" % i for i in range(1, 41)]))
		elif qt == dns.rdatatype.A and qn.labels[0].lower() == b"to-target":
			# a chain into another domain the same backend answers for
			r.answer.append(dns.rrset.from_text(qn, 300, "IN", "CNAME", "www.target.com.cn."))
			r.answer.append(dns.rrset.from_text("www.target.com.cn.", 300, "IN", "A", "192.0.2.98"))
		elif qt == dns.rdatatype.A:
			r.answer.append(dns.rrset.from_text(qn, 300, "IN", "A", "192.0.2.99"))
		if self.mode == "ecs":
			opt = [o for o in q.options if o.otype == 8]
			with self.lock:
				self.ecs.append((qn.to_text().lower(), (opt[0].address, opt[0].srclen) if opt else None))
			if opt:
				scope = opt[0].srclen if qn.to_text().lower().startswith("geo") else 0
				r.use_edns(0, 0, 1232, options=[dns.edns.ECSOption(opt[0].address, opt[0].srclen, scope)])
		w = r.to_wire()
		if self.mode == "tc" and not tcp:
			r.answer = []
			r.flags |= dns.flags.TC
			w = r.to_wire()
		if self.mode == "wrongid":
			w = struct.pack("!H", (q.id + 1) & 0xffff) + w[2:]
		if self.mode == "garbage":
			w = w[:2] + os.urandom(40)
		if self.mode == "badcount" and qt != dns.rdatatype.SOA:
			w = w[:10] + struct.pack("!H", 3) + w[12:]  # ARCOUNT 3: records that are not there
		if self.mode == "huge" and qt != dns.rdatatype.SOA:
			w += bytes(5000)  # larger than the 1232 octets the relay advertised
		return w

	@staticmethod
	def proxy_header(data):
		"""(length, command, source address, source port, dgram) of the PROXY v2 header at the
		start of data (HAProxy's proxy-protocol.txt 2.2), or None when there is none."""
		if len(data) < 16 or data[:12] != b"\r\n\r\n\x00\r\nQUIT\n" or data[12] >> 4 != 2:
			return None
		cmd, fam, proto = data[12] & 15, data[13] >> 4, data[13] & 15
		n = 16 + struct.unpack("!H", data[14:16])[0]
		if len(data) < n:
			return None
		if cmd == 1 and fam == 1:
			return n, "PROXY", socket.inet_ntop(socket.AF_INET, data[16:20]), struct.unpack("!H", data[24:26])[0], proto == 2
		if cmd == 1 and fam == 2:
			return n, "PROXY", socket.inet_ntop(socket.AF_INET6, data[16:32]), struct.unpack("!H", data[48:50])[0], proto == 2
		return n, "LOCAL" if cmd == 0 else "PROXY", None, None, proto == 2

	def serve_udp(self):
		while not self.stop:
			try:
				data, peer = self.udp.recvfrom(65535)
				ph = None
				if self.mode == "proxy":
					ph = self.proxy_header(data)
					if ph is None:
						continue  # a datagram without the header: dropped, as a PROXY peer does
					data = data[ph[0]:]
				q = dns.message.from_wire(data)
			except Exception:  # noqa: BLE001
				continue
			if ph:
				with self.lock:
					self.proxy.append((q.question[0].name.to_text().lower(), "udp") + ph[1:])
			with self.lock:
				self.log.append((q.question[0].name.to_text().lower(), "udp"))
				self.ports[q.question[0].name.to_text().lower()] = peer[1]
			if self.mode == "die" and q.question[0].rdtype != dns.rdatatype.SOA:
				self.udp.close()  # the port closed under the relay: the next try meets ICMP
				return
			if self.mode != "drop":
				self.udp.sendto(self.answer(q, False), peer)

	def serve_tcp(self):
		while not self.stop:
			try:
				c, _ = self.tcp.accept()
			except OSError:
				return
			with self.lock:
				self.accepted += 1
			threading.Thread(target=self.conn, args=(c,), daemon=True).start()

	def conn(self, c):
		with c:
			ph = None
			if self.mode == "proxy":
				head = h.recv_exact(c, 16)
				if head is None:
					return
				rest = h.recv_exact(c, struct.unpack("!H", head[14:16])[0])
				ph = self.proxy_header(head + (rest or b""))
				if ph is None:
					return
			while True:
				hdr = h.recv_exact(c, 2)
				if hdr is None:
					return
				data = h.recv_exact(c, struct.unpack("!H", hdr)[0])
				if data is None:
					return
				q = dns.message.from_wire(data)
				with self.lock:
					self.log.append((q.question[0].name.to_text().lower(), "tcp"))
					if ph:
						self.proxy.append((q.question[0].name.to_text().lower(), "tcp") + ph[1:])
				if self.mode == "rst":  # the query read, then the connection reset (RST)
					c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
					return
				w = self.answer(q, True)
				c.sendall(struct.pack("!H", len(w)) + w)

	def close(self):
		self.stop = True
		self.udp.close()
		self.tcp.close()


def ask(port, name, qtype="A", tcp=False, edns=0, timeout=3.0):
	q = dns.message.make_query(name, qtype, use_edns=edns)
	if tcp:
		return dns.query.tcp(q, "127.0.0.1", port=port, timeout=timeout)
	return dns.query.udp(q, "127.0.0.1", port=port, timeout=timeout)


def rcode_of(port, name, timeout=0.5):
	"""The rcode of an A query, None without an answer in time."""
	try:
		return ask(port, name, timeout=timeout).rcode()
	except dns.exception.Timeout:
		return None


ede, ede_text = h.ede_code, h.ede_text  # RFC 8914 option of a response


def counts(w):
	"""(QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT) of wire message w."""
	return struct.unpack("!4H", w[4:12])


def udp_wire(port, q):
	"""Query q over UDP; the answer's wire bytes."""
	with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
		c.settimeout(3)
		c.sendto(q.to_wire(), ("127.0.0.1", port))
		while True:
			w, _ = c.recvfrom(65535)
			if len(w) >= 12 and w[:2] == q.to_wire()[:2]:
				return w


def rdata(r):
	return sorted((rr.name.to_text().lower(), rr.rdtype, rd.to_text()) for rr in r.answer for rd in rr)


def config(nsd_port, be, pair):
	pools = [
		# a try's timeout well below the clients' 3 s: one on the killed NSD and one on
		# Knot fit even on a loaded machine
		("pair", ["127.0.0.1:%d" % p for p in pair],
		 "    timeout_ms: 1000\n    retries: 1\n"
		 "    check: {name: sub.example.cn, interval_ms: 100, down_after: 2, up_after: 1}\n"),
		("nsd", ["127.0.0.1:%d" % nsd_port],
		 "    timeout_ms: 300\n    check: {name: example.cn, interval_ms: 100, down_after: 2, up_after: 1}\n"),
		("rec", ["127.0.0.1:%d" % be["rec"].port], ""),
		("mixed", ["127.0.0.1:%d" % be["drop"].port, "127.0.0.1:%d" % be["mixed"].port],
		 "    timeout_ms: 200\n    retries: 1\n    check: {name: mixed.cn, interval_ms: 60000, down_after: 100}\n"),
		("bad", ["127.0.0.1:%d" % be["wrongid"].port, "127.0.0.1:%d" % be["garbage"].port],
		 "    timeout_ms: 200\n    retries: 1\n    check: {name: bad.cn, interval_ms: 60000, down_after: 100}\n"),
		("tc", ["127.0.0.1:%d" % be["tc"].port], "    tc: pass\n"),
		("tcr", ["127.0.0.1:%d" % be["tcr"].port], ""),
		("ecs", ["127.0.0.1:%d" % be["ecs"].port], "    ecs: {ipv4: 24, ipv6: 48}\n"),
		("ecsr", ["127.0.0.1:%d" % be["ecs"].port],
		 "    ecs: {ipv4: 24, ipv6: 48, client: replace}\n    cache_size: 0\n"
		 "    check: {name: ecs.cn, interval_ms: 60000}\n"),
		# answers its checks, then closes its port at the first query (no answer): the try
		# times out, the retry meets a port unreachable
		("gone", ["127.0.0.1:%d" % be["die"].port],
		 "    timeout_ms: 300\n    retries: 1\n    cache_size: 0\n"
		 "    check: {name: gone.cn, interval_ms: 30000, down_after: 100}\n"),
		("badrr", ["127.0.0.1:%d" % be["badcount"].port],
		 "    check: {name: badrr.cn, interval_ms: 60000, down_after: 100}\n"),
		("huge", ["127.0.0.1:%d" % be["huge"].port],
		 "    timeout_ms: 200\n    retries: 0\n"
		 "    check: {name: huge.cn, interval_ms: 60000, down_after: 100}\n"),
		# a backend that never answers, a bound above the outstanding table's
		("sink", ["127.0.0.1:%d" % be["sink"].port],
		 "    timeout_ms: 5000\n    retries: 0\n    max_outstanding: 65535\n    cache_size: 0\n"
		 "    check: {name: sink.cn, interval_ms: 60000, down_after: 100}\n"),
		# TCP connections reset under their queries: alone, and beside one that answers
		("rst", ["127.0.0.1:%d" % be["rst"].port],
		 "    timeout_ms: 2000\n    retries: 1\n    cache_size: 0\n"
		 "    check: {name: rst.cn, interval_ms: 60000, down_after: 100}\n"),
		("rstok", ["127.0.0.1:%d" % be["rst2"].port, "127.0.0.1:%d" % be["ok2"].port],
		 "    timeout_ms: 2000\n    retries: 1\n    cache_size: 0\n"
		 "    check: {name: rstok.cn, interval_ms: 60000, down_after: 100}\n"),
		("proxy", ["127.0.0.1:%d" % be["proxy"].port],
		 "    proxy_protocol: true\n    cache_size: 0\n    check: {name: proxy.cn, interval_ms: 100}\n"),
	]
	y = "pools:\n"
	for name, backends, more in pools:
		y += "  - name: %s\n    backends: [%s]\n%s" % (name, ", ".join('"%s"' % b for b in backends), more)
	return y


KNOTD = "/usr/sbin/knotd"


def start_knot(tmp, zone, zonefile):
	"""knotd serving one fixture zone on a free loopback port."""
	d = os.path.join(tmp, "knot")
	for sub in ("", "db", "z"):
		os.makedirs(os.path.join(d, sub), exist_ok=True)
	with open(os.path.join(h.ZONEDIR, zonefile)) as src, open(os.path.join(d, "z", zone + ".zone"), "w") as dst:
		dst.write(src.read())
	port = h.free_port()
	conf = os.path.join(d, "knot.conf")
	with open(conf, "w") as f:
		f.write("\n".join([
			"server:", "  rundir: %s" % d, "  listen: 127.0.0.1@%d" % port,
			"control:", "  listen: %s" % os.path.join(d, "knot.sock"),
			"database:", "  storage: %s" % os.path.join(d, "db"),
			"log:", "  - target: stderr", "    any: info",
			"template:", "  - id: default", "    storage: %s" % os.path.join(d, "z"),
			"    zonefile-sync: -1", "    semantic-checks: off",
			"zone:", "  - domain: %s" % zone]) + "\n")
	srv = h.Server("knotd", [KNOTD, "-c", conf], d, port, os.path.join(d, "knot.log"))
	srv.wait_ready(zone)
	return srv


FORWARDED = [("example.cn", "nsd"), ("com.cn", "rec"), ("mixed.cn", "mixed"), ("bad.cn", "bad"),
	     ("tc.cn", "tc"), ("tcr.cn", "tcr"), ("fwd.dname.cn", "rec"), ("ecs.cn", "ecs"), ("ecsr.cn", "ecsr"), ("sub.example.cn", "pair"),
	     ("proxy.cn", "proxy"), ("gone.cn", "gone"), ("badrr.cn", "badrr"), ("huge.cn", "huge"),
	     ("sink.cn", "sink"), ("rst.cn", "rst"), ("rstok.cn", "rstok")]
# served from files: one below a forwarded zone (com.cn), one above one (fwd.dname.cn)
SERVED = [("other.com.cn", "other.com.cn.zone"), ("dname.cn", "dname.cn.zone")]
STATUS = [("example.cn", "filed"), ("filed.com.cn", "filed"), ("revoked.com.cn", "revoked"),
	  ("big.com.cn", "filed"), ("alias.com.cn", "filed"), ("target.com.cn", "filed"),
	  ("mixed.cn", "filed"), ("bad.cn", "filed"), ("tc.cn", "filed"),
	  ("tcr.cn", "filed"), ("other.com.cn", "filed"), ("dname.cn", "filed"),
	  ("ecs.cn", "filed"), ("ecsr.cn", "filed"), ("proxy.cn", "filed"), ("pp.cn", "filed"),
	  ("gone.cn", "filed"), ("badrr.cn", "filed"), ("huge.cn", "filed"), ("sink.cn", "filed"),
	  ("rst.cn", "filed"), ("rstok.cn", "filed")]


def main():
	gkbin, gksync, gkctl = (os.path.abspath(a) for a in sys.argv[1:4])
	if not os.access(h.NSD, os.X_OK):
		sys.exit("NSD not found at %s (scripts/deps.sh installs it)" % h.NSD)
	if not os.access(KNOTD, os.X_OK):
		sys.exit("knotd not found at %s (scripts/deps.sh installs knot)" % KNOTD)
	be = {m: Backend(m if m in ("drop", "wrongid", "garbage", "tc", "ecs", "proxy", "die", "badcount", "huge",
				    "rst")
			 else "tc" if m == "tcr" else "drop" if m == "sink" else "rst" if m == "rst2" else "ok")
	      for m in ("rec", "drop", "mixed", "wrongid", "garbage", "tc", "tcr", "ecs", "proxy", "die",
			"badcount", "huge", "sink", "rst", "rst2", "ok2")}
	with h.TempDir("gk-frontend-") as tmp:
		nsd = h.start_nsd(tmp)
		os.mkdir(os.path.join(tmp, "nsdb"))
		nsdb = h.start_nsd(os.path.join(tmp, "nsdb"))
		knot = start_knot(tmp, "sub.example.cn", "sub.example.cn.zone")
		redis = h.start_redis(tmp)
		feed = h.Feed(gksync, tmp, redis.port)
		feed.snapshot(1, STATUS)
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: fe-%d\n"
			 "filing:\n  startup: refuse\n"
			 "  unfiled: {action: refuse, ede: 15, text: \"ICP filing required\"}\n"
			 "  revoked: {action: nxdomain, ede: 18, text: \"ICP filing revoked\"}\n"
			 % (redis.port, os.getpid())) + config(nsd.port, be, (nsdb.port, knot.port))
		mport = h.free_port()
		extra += "metrics: {listen: \"127.0.0.1:%d\"}\ncontrol: {socket: %s, state_file: %s}\n" % (
			mport, os.path.join(tmp, "gk.sock"), os.path.join(tmp, "gk.state"))
		port = h.free_port()
		conf = h.gk_config(tmp, port, zones=SERVED, workers=1, extra=extra)
		text = open(conf).read().replace("zones:\n", "zones:\n" + "".join(
			"  - {name: %s, forward: %s}\n" % z for z in FORWARDED))
		open(conf, "w").write(text)
		gk = h.Server("gatekeeperd", [gkbin, "-c", conf], tmp, port, os.path.join(tmp, "gk.log"))
		try:
			wait_for("the replica loaded (a filed name answered)",
				 lambda: rcode_of(port, "www.example.cn") == dns.rcode.NOERROR)
			obs = Obs(mport, gkctl, conf)
			run(gk, port, nsd, be, feed, tmp, obs)
			failover(port, nsdb, knot, tmp, obs)
			reload(gk, port, conf)
			policy_push(gkbin, gksync, gkctl, tmp, redis)
		except Exception:
			h.log(gk.log_text()[-3000:])
			raise
		finally:
			gk.stop_clean("gatekeeperd")
			redis.stop()
			knot.stop()
			nsdb.stop()
			for b in be.values():
				b.close()
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


class Obs:
	"""/metrics and `gkctl stats` of the gatekeeperd under test."""

	def __init__(self, mport, gkctl, conf):
		self.mport, self.gkctl, self.conf = mport, gkctl, conf

	def m(self, name, pool=None, backend=None):
		key = name if pool is None else '%s{pool="%s",backend="%s"}' % (name, pool, backend)
		return h.metrics(self.mport).get(key)

	def stats(self):
		p = subprocess.run([self.gkctl, "-c", self.conf, "stats"], capture_output=True, text=True,
				   timeout=30)
		return p.stdout


def ecs_ask(port, name, opt):
	"""A resolver's query from 127.0.0.1 carrying its own client's subnet opt (an
	ECSOption, or a GenericOption of raw bytes)."""
	q = dns.message.make_query(name, "A", use_edns=0, options=[opt])
	return dns.query.udp(q, "127.0.0.1", port=port, timeout=3)


def ecs_of(r):
	"""(address, source, scope) of the answer's ECS option, or None."""
	o = [x for x in r.options if x.otype == 8]
	return (o[0].address, o[0].srclen, o[0].scopelen) if o else None


def client_ecs(port, b, obs):
	"""6c. A client's own ECS option (RFC 7871): kept (cut), echoed, scope in the cache."""
	def sent():
		return [x for x in b.ecs if x[0] not in ("ecs.cn.", "ecsr.cn.")]
	n0 = len(sent())
	r = ecs_ask(port, "geo2.ecs.cn", dns.edns.ECSOption("203.0.113.77", 32))
	expect("client ECS 203.0.113.77/32: sent to the backend cut to the pool's /24 in place of ours",
	       sent()[n0:] == [("geo2.ecs.cn.", ("203.0.113.0", 24))], sent()[n0:])
	expect("... the answer echoes the client's option with the backend's scope (RFC 7871 7.2.2)",
	       ecs_of(r) == ("203.0.113.77", 32, 24) and rdata(r) == [("geo2.ecs.cn.", 1, "192.0.2.99")],
	       r)
	r = ecs_ask(port, "geo2.ecs.cn", dns.edns.ECSOption("203.0.113.9", 32))
	expect("... another client of the same /24: from the cache (the subnet sent is the key), "
	       "its own option echoed", len(sent()) == n0 + 1 and ecs_of(r) == ("203.0.113.9", 32, 24),
	       (sent()[n0:], r))
	r = ecs_ask(port, "geo2.ecs.cn", dns.edns.ECSOption("198.51.100.0", 24))
	expect("... a client of another /24: asked again, for that subnet",
	       sent()[n0 + 1:] == [("geo2.ecs.cn.", ("198.51.100.0", 24))] and
	       ecs_of(r) == ("198.51.100.0", 24, 24), (sent()[n0:], r))
	r = ecs_ask(port, "flat2.ecs.cn", dns.edns.ECSOption("203.0.113.0", 20))
	expect("a client /20 narrower than the pool's /24 is sent as it came; a scope-0 answer "
	       "echoed with scope 0", sent()[n0 + 2:] == [("flat2.ecs.cn.", ("203.0.112.0", 20))] and
	       ecs_of(r) == ("203.0.112.0", 20, 0), (sent()[n0:], r))
	r = ecs_ask(port, "geo3.ecs.cn", dns.edns.ECSOption("0.0.0.0", 0))
	expect("SOURCE PREFIX-LENGTH 0 (do not use my subnet): forwarded with prefix 0 (RFC 7871 7.1.2)",
	       sent()[n0 + 3:] == [("geo3.ecs.cn.", ("0.0.0.0", 0))] and ecs_of(r) == ("0.0.0.0", 0, 0),
	       (sent()[n0:], r))
	r = ask(port, "geo3.ecs.cn")
	expect("... a client without ECS gets no ECS in the answer",
	       r.rcode() == dns.rcode.NOERROR and ecs_of(r) is None, r)
	bad0 = obs.m("gatekeeper_frontend_ecs_invalid_total") or 0
	n1 = len(sent())
	for what, raw in (("a bit set beyond its /22", b"\x00\x01\x16\x00\xc0\x00\x03"),
			  ("an address octet beyond its /16", b"\x00\x01\x10\x00\xc0\x00\x02"),
			  ("FAMILY 3", b"\x00\x03\x08\x00\xc0"),
			  ("SCOPE set in a query", b"\x00\x01\x08\x08\xc0")):
		r = ecs_ask(port, "geo4.ecs.cn", dns.edns.GenericOption(8, raw))
		expect("an invalid client ECS (%s): FORMERR with EDE 0 saying so" % what,
		       r.rcode() == dns.rcode.FORMERR and ede(r) == 0 and
		       ede_text(r) == "invalid EDNS Client Subnet option", r)
	q = dns.message.make_query("geo4.ecs.cn", "A", use_edns=0, options=[
		dns.edns.ECSOption("192.0.2.0", 24), dns.edns.ECSOption("192.0.2.0", 24)])
	r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
	expect("two ECS options: FORMERR", r.rcode() == dns.rcode.FORMERR, r)
	expect("... none of them reached the backend, each counted (gatekeeper_frontend_ecs_invalid_total)",
	       len(sent()) == n1 and (obs.m("gatekeeper_frontend_ecs_invalid_total") or 0) == bad0 + 5,
	       (sent()[n1:], bad0, obs.m("gatekeeper_frontend_ecs_invalid_total")))
	r = ecs_ask(port, "geo5.ecsr.cn", dns.edns.ECSOption("203.0.113.77", 32))
	expect("client: replace: our subnet from the client's address (127.0.0.0/24) sent instead",
	       sent()[n1:] == [("geo5.ecsr.cn.", ("127.0.0.0", 24))] and
	       ecs_of(r) == ("203.0.113.77", 32, 24), (sent()[n1:], r))
	q = dns.message.make_query("big.ecs.cn", "A", use_edns=0, payload=512,
				   options=[dns.edns.ECSOption("203.0.113.77", 32)])
	w = udp_wire(port, q)
	r = dns.message.from_wire(w)
	expect("an answer over the client's EDNS 512 cut with TC: the client's ECS option echoed in "
	       "the OPT kept (RFC 7871 7.2.2)",
	       r.flags & dns.flags.TC and counts(w) == (1, 0, 0, 1) and
	       ecs_of(r) == ("203.0.113.77", 32, 0), (counts(w), r))


def table_full(port, be, obs, sf):
	"""N distinct names under sink.cn from one client socket (so one UDP thread's relay),
	sent in chunks, each once the relay counted the one before: the table's 4096 slots
	fill, every query beyond is answered SERVFAIL at once with EDE 0 'outstanding query
	table full' and counted; the others wait in the table for their timeout (4 s), then
	SERVFAIL too. Nothing is lost."""
	n, chunk = 4600, 256
	sink = "127.0.0.1:%d" % be["sink"].port
	t0, q0 = sf("table_full"), obs.m("gatekeeper_frontend_queries_total")
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	# the held ones' SERVFAILs come in one burst at their timeout: room for all of them
	try:
		s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_RCVBUFFORCE", 33), 16 << 20)
	except PermissionError:
		s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16 << 20)
	s.settimeout(0.5)
	got = {}

	def drain():
		while True:
			try:
				w = s.recv(4096)
			except (socket.timeout, BlockingIOError):
				return
			r = dns.message.from_wire(w)
			got[r.id] = r
	for base in range(0, n, chunk):
		for i in range(base, min(n, base + chunk)):
			q = dns.message.make_query("t%d.sink.cn" % i, "A", use_edns=0)
			q.id = i
			s.sendto(q.to_wire(), ("127.0.0.1", port))
		sent = min(n, base + chunk)
		wait_for("%d flood queries received" % sent,
			 lambda: obs.m("gatekeeper_frontend_queries_total") >= q0 + sent)
		s.settimeout(0)
		drain()
	full = [r for r in got.values() if r.rcode() == dns.rcode.SERVFAIL and ede(r) == 0 and
		ede_text(r) == "outstanding query table full"]
	held = obs.m("gatekeeper_frontend_backend_outstanding", "sink", sink)
	expect("flood of %d names: %d answered at once 'outstanding query table full' (EDE 0), "
	       "counted (%d), %s held in the table" % (n, len(full), sf("table_full") - t0, held),
	       len(full) >= n - 4096 and len(full) == sf("table_full") - t0 and
	       held is not None and held + len(full) <= n and held >= 4096 - 64, (len(full), held))

	def all_in():
		s.settimeout(0.2)
		drain()
		return len(got) == n
	wait_for("every flood query answered", all_in, timeout=30)
	full_ids = {r.id for r in full}
	late = [r for i, r in got.items() if i not in full_ids]
	expect("... the held ones SERVFAIL at their timeout (EDE 22), the table empty again",
	       all(r.rcode() == dns.rcode.SERVFAIL and ede(r) == 22 for r in late) and
	       wait_for("table drained", lambda: obs.m("gatekeeper_frontend_backend_outstanding", "sink", sink) == 0),
	       [r for r in late if ede(r) != 22][:3])
	s.close()


def run(gk, port, nsd, be, feed, tmp, obs):
	# 1. relayed as NSD answers, ID and case restored, EDNS per client
	for tcp in (False, True):
		for name, qtype in (("www.example.cn", "A"), ("WwW.ExAmPlE.cN", "AAAA"), ("example.cn", "MX"),
				    ("nothing.example.cn", "A")):
			q = dns.message.make_query(name, qtype, use_edns=0)
			fn = dns.query.tcp if tcp else dns.query.udp
			mine = fn(q, "127.0.0.1", port=port, timeout=3)
			theirs = fn(q, "127.0.0.1", port=nsd.port, timeout=3)
			expect("%s %s %s: as NSD's (rcode, answer, authority, id, question case)" %
			       ("TCP" if tcp else "UDP", name, qtype),
			       mine.rcode() == theirs.rcode() and rdata(mine) == rdata(theirs) and
			       mine.id == q.id and mine.question[0].name.to_text() == name + "." and
			       len(mine.authority) == len(theirs.authority),
			       "%s\n---\n%s" % (mine, theirs))
	q = dns.message.make_query("www.example.cn", "A", use_edns=False)
	r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
	expect("client without EDNS: no OPT in the relayed answer", r.edns < 0 and r.answer, r)
	q = dns.message.make_query("www.example.cn", "A", use_edns=0, payload=4096)
	r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
	expect("client with EDNS 4096: our buffer size (1232) in the OPT", r.payload == 1232, r.payload)

	# 1b. pipelined TCP: several queries in one write, cached and not, every ID answered
	ids, wire = set(), b""
	for i, name in enumerate(["www.example.cn", "www.example.cn", "p1.example.cn", "example.cn",
				  "www.example.cn", "p2.example.cn"]):
		q = dns.message.make_query(name, "A" if i != 3 else "MX", use_edns=0)
		q.id = 0x4000 + i
		ids.add(q.id)
		w = q.to_wire()
		wire += struct.pack("!H", len(w)) + w
	with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
		c.sendall(wire)
		got = set()
		for _ in ids:
			hdr = h.recv_exact(c, 2)
			m = h.recv_exact(c, struct.unpack("!H", hdr)[0]) if hdr else None
			if m is None:
				break
			got.add(dns.message.from_wire(m).id)
	expect("pipelined TCP (cached and relayed): every query answered once", got == ids, (got, ids))

	# 2. the decision before the backend
	r = ask(port, "www.unfiled.com.cn")
	expect("unfiled: REFUSED with EDE 15", r.rcode() == dns.rcode.REFUSED and ede(r) == 15, r)
	r = ask(port, "www.revoked.com.cn")
	expect("revoked: NXDOMAIN with EDE 18", r.rcode() == dns.rcode.NXDOMAIN and ede(r) == 18, r)
	r = ask(port, "www.unfiled.com.cn", tcp=True)
	expect("unfiled over TCP: REFUSED", r.rcode() == dns.rcode.REFUSED, r)
	r = ask(port, "www.filed.com.cn")
	expect("filed: answered by the backend", r.rcode() == dns.rcode.NOERROR and
	       rdata(r) == [("www.filed.com.cn.", 1, "192.0.2.99")], r)
	names = be["rec"].names()
	expect("the backend saw the filed name", "www.filed.com.cn." in names, names)
	expect("unfiled and revoked names never reached the backend",
	       not any("unfiled" in n or "revoked" in n for n in names), names)

	# 2b. nested zones: the most specific apex decides, served or forwarded
	r = ask(port, "www.other.com.cn")
	expect("a served zone below a forwarded one answers from its data (AA)",
	       r.rcode() == dns.rcode.NOERROR and r.flags & dns.flags.AA and
	       "www.other.com.cn." not in be["rec"].names(), (r, be["rec"].names()))
	r = ask(port, "x.fwd.dname.cn")
	expect("a forwarded zone below a served one is forwarded",
	       rdata(r) == [("x.fwd.dname.cn.", 1, "192.0.2.99")] and "x.fwd.dname.cn." in be["rec"].names(),
	       (r, be["rec"].names()))

	# 2c. RFC 5452: the backend sockets' source ports replaced by new random ones over time
	# (one socket a second per relay and address family, 8 each)
	def ports(tag):
		for i in range(16):
			ask(port, "%s%d.fwd.dname.cn" % (tag, i))
		with be["rec"].lock:
			return {be["rec"].ports["%s%d.fwd.dname.cn." % (tag, i)] for i in range(16)}
	rot = "gatekeeper_frontend_source_port_rotations_total"
	p1, r0, k = ports("rota"), obs.m(rot), [0]

	def renewed():
		k[0] += 1
		p2 = ports("rot%d-" % k[0])
		return p2 if len(p1 & p2) <= 1 else None  # the kernel may pick a closed port again
	p2 = wait_for("source ports all new", renewed, timeout=60, step=0.5)
	expect("source ports: several in use (%s), all new %d batches later (%s), %d rotations" % (
	       sorted(p1), k[0], sorted(p2), obs.m(rot) - r0), len(p1) >= 2 and len(p2) >= 2, (p1, p2))
	expect("... no rotation failed",
	       obs.m("gatekeeper_frontend_source_port_rotation_errors_total") == 0,
	       obs.m("gatekeeper_frontend_source_port_rotation_errors_total"))

	# 3. the cache, and a revocation on a cached name
	n0 = be["rec"].names().count("cached.filed.com.cn.")
	r1 = ask(port, "cached.filed.com.cn")
	r2 = ask(port, "CACHED.filed.com.cn")
	n1 = be["rec"].names().count("cached.filed.com.cn.")
	expect("second query from the cache (backend asked once)", n1 - n0 == 1 and
	       r2.rcode() == dns.rcode.NOERROR and r2.question[0].name.to_text() == "CACHED.filed.com.cn." and
	       rdata(r1) == [("cached.filed.com.cn.", 1, "192.0.2.99")], (n0, n1, r2))
	# a referral (a name below a delegation in the backend's zone) is cached too
	n0 = be["rec"].names().count("x.deleg.filed.com.cn.")
	r1 = ask(port, "x.deleg.filed.com.cn")
	r2 = ask(port, "x.deleg.filed.com.cn")
	n1 = be["rec"].names().count("x.deleg.filed.com.cn.")
	expect("a referral relayed (NS in authority, glue, no AA) and the second from the cache "
	       "(backend asked %d times)" % (n1 - n0),
	       n1 - n0 == 1 and r2.rcode() == dns.rcode.NOERROR and not r2.answer and
	       not (r2.flags & dns.flags.AA) and
	       [x.rdtype for x in r2.authority] == [dns.rdatatype.NS] and
	       [x.name.to_text() for x in r2.additional] == ["ns1.deleg.filed.com.cn."],
	       (n0, n1, r1, r2))
	# a chain into another filed domain, cached: relayed whole
	f0 = obs.m("gatekeeper_frontend_filtered_total")
	r1 = ask(port, "to-target.alias.com.cn")
	na = be["rec"].names().count("to-target.alias.com.cn.")
	r2 = ask(port, "to-target.alias.com.cn")
	nt = be["rec"].names().count("to-target.alias.com.cn.")
	expect("a CNAME into a filed domain relayed whole, the second from the cache",
	       na >= 1 and nt == na and
	       rdata(r2) == rdata(r1) == [("to-target.alias.com.cn.", 5, "www.target.com.cn."),
					  ("www.target.com.cn.", 1, "192.0.2.98")], (na, nt, r1, r2))
	t0 = time.monotonic()
	feed.snapshot(2, [s if s[0] not in ("filed.com.cn", "target.com.cn") else (s[0], "revoked")
			  for s in STATUS])
	r = wait_for("the revocation enforced on the cached name",
		     lambda: (lambda x: x if x.rcode() == dns.rcode.NXDOMAIN else None)(ask(port, "cached.filed.com.cn")))
	expect("revoked while cached: NXDOMAIN EDE 18 (%.0f ms after gk-sync started)" %
	       ((time.monotonic() - t0) * 1000), ede(r) == 18, r)
	expect("the revoked cached name did not reach the backend again",
	       be["rec"].names().count("cached.filed.com.cn.") == n1, be["rec"].names())
	# the chain's target revoked while the answer is cached: the next answer stops at the
	# CNAME (as our own zones' answers do), from the cache, and the filter is counted
	r = ask(port, "to-target.alias.com.cn")
	expect("a cached chain into a revoked domain: NOERROR, the CNAME alone, no authority or "
	       "additional (backend asked %d times)" % be["rec"].names().count("to-target.alias.com.cn."),
	       r.rcode() == dns.rcode.NOERROR and
	       rdata(r) == [("to-target.alias.com.cn.", 5, "www.target.com.cn.")] and
	       not r.authority and not r.additional and
	       be["rec"].names().count("to-target.alias.com.cn.") == nt, r)
	f1 = obs.m("gatekeeper_frontend_filtered_total")
	expect("... counted: gatekeeper_frontend_filtered_total %s -> %s, records left out %s" % (
	       f0, f1, obs.m("gatekeeper_frontend_filtered_records_total")),
	       f1 == f0 + 1 and obs.m("gatekeeper_frontend_filtered_records_total") >= 1, (f0, f1))
	st = obs.stats()
	expect("... and in gkctl stats (forwarded_filtered)",
	       re.search(r"forwarded_filtered %d [1-9]" % f1, st) is not None, st)

	# 4. a backend that never answers: retried on the other one
	rcodes = [ask(port, "n%d.mixed.cn" % i).rcode() for i in range(8)]
	expect("dead backend in the pool: every query answered", rcodes == [dns.rcode.NOERROR] * 8, rcodes)
	expect("... some went to the dead one first (retried elsewhere)", len(be["drop"].names()) > 0,
	       be["drop"].names())
	dead = "127.0.0.1:%d" % be["drop"].port
	t = obs.m("gatekeeper_frontend_backend_timeouts_total", "mixed", dead)
	expect("... counted: backend timeouts in /metrics (%s), retries (%s)" % (
	       t, obs.m("gatekeeper_frontend_retries_total")),
	       t and t >= len([n for n in be["drop"].names() if n != "mixed.cn."]) and
	       obs.m("gatekeeper_frontend_retries_total") >= t, t)
	live = "127.0.0.1:%d" % be["mixed"].port
	lat = obs.m("gatekeeper_frontend_backend_latency_seconds_count", "mixed", live)
	expect("... latency histogram of the live backend (%s answers)" % lat, lat and lat >= 8, lat)
	expect("cache hits counted", (obs.m("gatekeeper_frontend_cache_hits_total") or 0) >= 2,
	       obs.m("gatekeeper_frontend_cache_hits_total"))
	# relayed answers by rcode: NSD's NXDOMAIN for a name it does not have, in /metrics and
	# in gkctl stats (our own gatekeeper_responses_total does not count relayed answers)
	ak = 'gatekeeper_frontend_answers_total{rcode="%s"}'
	a0 = h.metrics(obs.mport)
	r = ask(port, "no-such-name.example.cn")
	a1 = h.metrics(obs.mport)
	st = obs.stats()
	expect("relayed answers by rcode: NSD's NXDOMAIN counted (NXDOMAIN %s -> %s, NOERROR %s), "
	       "and in gkctl stats" % (
		       a0.get(ak % "NXDOMAIN"), a1.get(ak % "NXDOMAIN"), a1.get(ak % "NOERROR")),
	       r.rcode() == dns.rcode.NXDOMAIN and
	       a1.get(ak % "NXDOMAIN", 0) == a0.get(ak % "NXDOMAIN", 0) + 1 and
	       a1.get(ak % "NOERROR", 0) >= 2 and
	       re.search(r"forwarded_answers NXDOMAIN [1-9]", st) is not None and
	       re.search(r"forwarded_answers NOERROR [1-9]", st) is not None, (r, st))
	mc = {k: v for k, v in h.metrics(obs.mport).items() if k.startswith("gatekeeper_frontend_cache_")}
	cap, ent = mc.get('gatekeeper_frontend_cache_capacity{pool="rec"}'), mc.get('gatekeeper_frontend_cache_entries{pool="rec"}')
	expect("the cache's figures per pool: pool rec holds %s of %s entries (default cache_size 65536 "
	       "divided among the relays), %s stored; pool gone (cache_size 0) none" % (
		       ent, cap, mc.get('gatekeeper_frontend_cache_inserts_total{pool="rec"}')),
	       cap is not None and 65536 - 8 <= cap <= 65536 and ent is not None and ent >= 2 and
	       mc.get('gatekeeper_frontend_cache_inserts_total{pool="rec"}', 0) >= ent and
	       mc.get('gatekeeper_frontend_cache_capacity{pool="gone"}') == 0, mc)

	# 5. wrong ID / garbage: dropped, SERVFAIL after the tries
	r = ask(port, "x.bad.cn")
	expect("wrong-ID and garbage answers dropped: SERVFAIL", r.rcode() == dns.rcode.SERVFAIL, r)
	expect("... with EDE 22 No Reachable Authority, 'backend timeout' (RFC 8914)",
	       ede(r) == 22 and ede_text(r) == "backend timeout", r)
	expect("... both backends were asked", be["wrongid"].names() and be["garbage"].names())
	mm = [obs.m("gatekeeper_frontend_backend_mismatched_total", "bad", "127.0.0.1:%d" % be[k].port)
	      for k in ("wrongid", "garbage")]
	expect("... their answers counted as mismatched, per backend (%s)" % mm, all(mm), mm)

	# 5a. the relay's own SERVFAILs end to end, each with its Extended DNS Error and counted
	sf = lambda reason: h.metrics(obs.mport).get('gatekeeper_frontend_servfail_total{reason="%s"}' % reason, 0)  # noqa: E731
	# a port closed under the relay: every relay (one per UDP socket, one for the worker's
	# loop) checked the backend once (the next check is 30 s later), then the first query
	# makes it close its port: the try times out, the retry on the same backend meets ICMP
	# port unreachable
	relays = 1 + (2 if h.has_ipv6() else 1)
	wait_for("every relay's first check of pool gone answered",
		 lambda: be["die"].names().count("gone.cn.") >= relays)
	n0, gone = sf("no_backend"), "127.0.0.1:%d" % be["die"].port
	r = ask(port, "www.gone.cn")
	expect("a backend whose port closed: SERVFAIL with EDE 23 Network Error, 'backend unreachable'",
	       r.rcode() == dns.rcode.SERVFAIL and ede(r) == 23 and ede_text(r) == "backend unreachable", r)
	expect("... counted (servfail_total no_backend +1), the backend down at once (log line)",
	       sf("no_backend") == n0 + 1 and
	       "backend %s of pool gone down (port unreachable" % gone in gk.log_text(),
	       (n0, sf("no_backend"), gk.log_text()[-1500:]))
	# an answer whose records cannot be walked
	n0 = sf("malformed")
	r = ask(port, "www.badrr.cn")
	expect("a malformed backend answer (ARCOUNT beyond its records): SERVFAIL with EDE 0, "
	       "'malformed backend answer', counted (servfail_total malformed +1)",
	       r.rcode() == dns.rcode.SERVFAIL and ede(r) == 0 and
	       ede_text(r) == "malformed backend answer" and sf("malformed") == n0 + 1, (r, n0))
	# a datagram larger than the relay advertised: dropped and counted, the try times out
	m0 = obs.m("gatekeeper_frontend_malformed_total")
	r = ask(port, "www.huge.cn")
	expect("an oversized backend datagram: dropped (malformed_total +1), SERVFAIL with EDE 22 "
	       "'backend timeout'", r.rcode() == dns.rcode.SERVFAIL and ede(r) == 22 and
	       ede_text(r) == "backend timeout" and obs.m("gatekeeper_frontend_malformed_total") == m0 + 1,
	       (r, m0, obs.m("gatekeeper_frontend_malformed_total")))
	# a flood of distinct names to a backend that never answers: the outstanding table (4096
	# a relay) fills, and what does not fit is answered at once
	table_full(port, be, obs, sf)
	# a backend that resets its TCP connections under their queries: each try fails at once
	# (not at its 2 s timeout), retried on a new connection, then SERVFAIL with EDE 23
	n0, e0 = sf("connection"), obs.m("gatekeeper_frontend_tcp_errors_total")
	r = ask(port, "www.rst.cn", tcp=True, timeout=10)
	tries = be["rst"].names("tcp").count("www.rst.cn.")
	expect("a backend resetting TCP under the query: SERVFAIL with EDE 23 'backend connection failed' "
	       "after %d tries, counted (servfail_total connection +%d, tcp_errors +%d)" % (
	       tries, sf("connection") - n0, obs.m("gatekeeper_frontend_tcp_errors_total") - e0),
	       r.rcode() == dns.rcode.SERVFAIL and ede(r) == 23 and ede_text(r) == "backend connection failed" and
	       tries == 2 and sf("connection") == n0 + 1 and obs.m("gatekeeper_frontend_tcp_errors_total") >= e0 + 2,
	       (r, tries))
	# beside a backend that answers: every query answered, those reset retried on the other
	rc = [ask(port, "n%d.rstok.cn" % i, tcp=True, timeout=10).rcode() for i in range(6)]
	reset, answered = be["rst2"].names("tcp"), be["ok2"].names("tcp")
	expect("... beside one that answers: every TCP query answered NOERROR (%d reset, retried on the "
	       "other)" % len(reset), rc == [dns.rcode.NOERROR] * 6 and len(reset) >= 1 and
	       all(n in answered for n in reset), (rc, reset, answered))

	# 6. TC passed on
	r = ask(port, "x.tc.cn")
	expect("TC from the backend passed on (tc: pass)", r.flags & dns.flags.TC, r)

	# 6a. an answer larger than the client may receive: cut by us with TC, its OPT kept
	# (RFC 6891 7), from the cache too
	for when in ("", " (a cache hit)"):
		q = dns.message.make_query("big.com.cn", "A", use_edns=0, payload=512)
		w = udp_wire(port, q)
		r = dns.message.from_wire(w)
		expect("an answer over the client's EDNS 512: TC, header, question and our OPT (counts "
		       "1/0/0/1)%s" % when, r.flags & dns.flags.TC and counts(w) == (1, 0, 0, 1) and
		       r.edns == 0 and r.payload == 1232 and len(w) == len(q.to_wire()), (counts(w), r))
	q = dns.message.make_query("big.com.cn", "A", use_edns=False)
	w = udp_wire(port, q)
	r = dns.message.from_wire(w)
	expect("... a client without EDNS: TC, header and question, no OPT",
	       r.flags & dns.flags.TC and counts(w) == (1, 0, 0, 0) and r.edns < 0, (counts(w), r))
	r = ask(port, "big.com.cn", tcp=True)
	expect("... the whole answer over TCP", len(rdata(r)) == 40, r)
	r = ask(port, "x.tcr.cn")
	expect("TC from the backend retried over TCP (tc: retry-tcp): the whole answer over UDP",
	       not (r.flags & dns.flags.TC) and rdata(r) == [("x.tcr.cn.", 1, "192.0.2.99")], r)
	expect("... the backend was asked over UDP, then over TCP",  # (tcr.cn.: the health checks)
	       [n for n in be["tcr"].names("udp") if n != "tcr.cn."] == ["x.tcr.cn."] and
	       be["tcr"].names("tcp") == ["x.tcr.cn."], be["tcr"].log)

	# 6b. client TCP queries go over one reused TCP connection to the backend
	acc = be["tcr"].accepted
	rs = [ask(port, "t%d.tcr.cn" % i, tcp=True) for i in range(4)]
	expect("client TCP queries relayed over TCP", all(rdata(x) == [("t%d.tcr.cn." % i, 1, "192.0.2.99")]
	       for i, x in enumerate(rs)) and len(be["tcr"].names("tcp")) == 5, (rs, be["tcr"].log))
	# (the TC retry above came from the UDP thread's relay; the TCP clients' queries go from
	# the worker loop's, which keeps a connection of its own)
	expect("... the four over one connection, reused (%s -> %s accepted)" % (acc, be["tcr"].accepted),
	       acc == 1 and be["tcr"].accepted <= acc + 1, (acc, be["tcr"].accepted))

	# 6c. EDNS Client Subnet to the backend, and its scope in the cache
	rs = [ask(port, name) for name in ("geo.ecs.cn", "flat.ecs.cn", "geo.ecs.cn", "flat.ecs.cn")]
	expect("ECS: the backend's option is not passed to the client (RFC 7871 7.2.2)",
	       all(r.edns == 0 and not any(o.otype == 8 for o in r.options) for r in rs), rs[0])
	got = be["ecs"].ecs
	expect("ECS: the client's /24 sent to the backend (127.0.0.0/24)",
	       ("geo.ecs.cn.", ("127.0.0.0", 24)) in got, got)
	expect("ECS: each name asked once from one subnet (cached, whatever the scope)",
	       [n for n, _ in got if n not in ("ecs.cn.", "ecsr.cn.")] == ["geo.ecs.cn.", "flat.ecs.cn."],
	       got)
	# a client of another /24 (127.0.1.1, to the same listener, so the same relay's cache)
	for name in ("geo.ecs.cn", "flat.ecs.cn"):
		dns.query.udp(dns.message.make_query(name, "A", use_edns=0), "127.0.0.1", port=port,
			      timeout=3, source="127.0.1.1")
	got = [x for x in be["ecs"].ecs if x[0] not in ("ecs.cn.", "ecsr.cn.")]
	expect("ECS scope in the cache: another subnet (127.0.1.0/24) asks the backend again for "
	       "the scoped answer only", got[2:] == [("geo.ecs.cn.", ("127.0.1.0", 24))], got)
	if h.has_ipv6():
		# the ::1 listener's thread has a cache of its own: both asked, for the client's /48
		for name in ("geo.ecs.cn", "flat.ecs.cn"):
			dns.query.udp(dns.message.make_query(name, "A", use_edns=0), "::1", port=port, timeout=3)
		got = [x for x in be["ecs"].ecs if x[0] not in ("ecs.cn.", "ecsr.cn.")]
		expect("ECS over IPv6: the client's /48 sent (::/48)",
		       got[3:] == [("geo.ecs.cn.", ("::", 48)), ("flat.ecs.cn.", ("::", 48))], got)
	else:
		h.log("SKIP ECS over IPv6: no IPv6 loopback")
	client_ecs(port, be["ecs"], obs)

	# 6d. PROXY v2 to the backend: the client's address before each UDP query and at the start
	# of a TCP connection of each query's own; health checks with LOCAL
	pb = be["proxy"]
	wait_for("the PROXY backend's health check (a LOCAL header) arrived",
		 lambda: any(x[0] == "proxy.cn." and x[2] == "LOCAL" for x in pb.proxy), 10)
	s6 = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s6.bind(("127.0.0.1", 0))
	cport = s6.getsockname()[1]
	r = dns.query.udp(dns.message.make_query("u.proxy.cn", "A"), "127.0.0.1", port=port, timeout=3, sock=s6)
	s6.close()
	got = [x for x in pb.proxy if x[0] == "u.proxy.cn."]
	expect("PROXY v2 over UDP: the answer relayed, the header names the client (127.0.0.1, its port, DGRAM)",
	       rdata(r) == [("u.proxy.cn.", 1, "192.0.2.99")] and got == [("u.proxy.cn.", "udp", "PROXY", "127.0.0.1", cport, True)],
	       (r, pb.proxy))
	acc = pb.accepted
	rs = [ask(port, "t%d.proxy.cn" % i, tcp=True) for i in range(2)]
	got = [x for x in pb.proxy if x[0].endswith(".proxy.cn.") and x[1] == "tcp"]
	expect("PROXY v2 over TCP: each query on a connection of its own that starts with the client's header (STREAM)",
	       all(rdata(x) == [("t%d.proxy.cn." % i, 1, "192.0.2.99")] for i, x in enumerate(rs)) and
	       pb.accepted == acc + 2 and [x[:4] for x in got] == [("t0.proxy.cn.", "tcp", "PROXY", "127.0.0.1"),
								  ("t1.proxy.cn.", "tcp", "PROXY", "127.0.0.1")] and
	       all(not x[5] for x in got), (rs, pb.proxy, pb.accepted, acc))
	expect("no query reached the PROXY backend without the header",
	       sorted(set(pb.names())) == sorted(set(x[0] for x in pb.proxy)), (pb.log, pb.proxy))

	# 7. NSD stopped, then back on the same port
	nport = nsd.port
	nsd.stop()
	# names never asked before: a cached one would still be answered (from the cache)
	fresh = iter("d%d.example.cn" % i for i in range(100000))
	nb = "127.0.0.1:%d" % nport
	wait_for("NSD seen down (health checks)",
		 lambda: obs.m("gatekeeper_frontend_backend_up", "nsd", nb) == 0)
	st = obs.stats()
	expect("... down in /metrics and in gkctl stats",
	       re.search(r"^pool nsd backend 127.0.0.1:%d down " % nport, st, re.M) and
	       "pool nsd down backends_up 0/1" in st, st)
	key = 'gatekeeper_frontend_servfail_total{reason="no_backend"}'
	n0, q0 = h.metrics(obs.mport).get(key, 0), obs.m("gatekeeper_frontend_backend_queries_total", "nsd", nb)
	r = ask(port, next(fresh))
	n1, q1 = h.metrics(obs.mport).get(key, 0), obs.m("gatekeeper_frontend_backend_queries_total", "nsd", nb)
	expect("backend down: SERVFAIL at once (no backend asked, counted as no_backend)",
	       r.rcode() == dns.rcode.SERVFAIL and n1 == n0 + 1 and q1 == q0, (r, n0, n1, q0, q1))
	expect("... with EDE 22 No Reachable Authority, 'no backend available' (RFC 8914)",
	       ede(r) == 22 and ede_text(r) == "no backend available", r)
	r = ask(port, next(fresh), edns=False)
	expect("... a client without EDNS: SERVFAIL without OPT",
	       r.rcode() == dns.rcode.SERVFAIL and r.edns < 0, r)
	conf = h.nsd_config(tmp, nport)
	nsd2 = h.Server("nsd", [h.NSD, "-d", "-c", conf], tmp, nport, os.path.join(tmp, "nsd2.log"))
	try:
		wait_for("answers again once NSD is back",
			 lambda: rcode_of(port, next(fresh)) == dns.rcode.NXDOMAIN)
		expect("recovered by itself after the backend came back", True)
		# every relay (each UDP thread and the worker's loop) checks the backend on its own
		# interval: the pool reads "up" once the last of them has seen it answer again
		st = []
		wait_for("... up again in gkctl stats",
			 lambda: st.append(obs.stats()) or "pool nsd up backends_up 1/1" in st[-1],
			 must=False)
		last = st[-1] if st else ""
		expect("... up again in gkctl stats", "pool nsd up backends_up 1/1" in last, last)
	finally:
		nsd2.stop()


def policy_push(gkbin, gksync, gkctl, tmp, redis):
	"""A policy push while a client queries a forwarded zone: the first query after the
	instance reports the new version is refused and the name never reaches the backend."""
	d = os.path.join(tmp, "pp")
	os.mkdir(d)
	subprocess.run([gksync, "keygen", os.path.join(d, "op.key"), os.path.join(d, "op.pub")], check=True,
		       timeout=30, capture_output=True)
	be = Backend("ok")
	mport, port = h.free_port(), h.free_port()
	extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: fe-pp-%d\n"
		 "filing:\n  startup: refuse\n  unfiled: {action: refuse}\n  revoked: {action: refuse}\n"
		 "policy:\n  redis: true\n  operator_keys: [%s]\n"
		 "metrics: {listen: \"127.0.0.1:%d\"}\n"
		 "pools:\n  - name: pp\n    backends: [\"127.0.0.1:%d\"]\n    cache_size: 0\n"
		 % (redis.port, os.getpid(), os.path.join(d, "op.pub"), mport, be.port))
	conf = h.gk_config(d, port, zones=SERVED, workers=1, extra=extra)
	text = open(conf).read().replace("zones:\n", "zones:\n  - {name: pp.cn, forward: pp}\n")
	open(conf, "w").write(text)
	gk = h.Server("gatekeeperd", [gkbin, "-c", conf], d, port, os.path.join(d, "gk.log"))
	stop = threading.Event()
	sent = []  # (after the version was seen, rcode) of each query for the blocked name

	def load():
		seen = False
		while not stop.is_set():
			for name in ("www.pp.cn", "blk.pp.cn"):
				seen = seen or version[0]
				try:
					rc = ask(port, name, timeout=1).rcode()
				except Exception:  # noqa: BLE001 -- a lost query is a figure here
					rc = None
				if name == "blk.pp.cn":
					sent.append((seen, rc))
	version = [False]
	try:
		wait_for("pp.cn forwarded (blk.pp.cn answered by the backend)",
			 lambda: rcode_of(port, "blk.pp.cn") == dns.rcode.NOERROR, 20)
		th = threading.Thread(target=load, daemon=True)
		th.start()
		wait_for("the load reached the backend", lambda: be.names().count("blk.pp.cn.") >= 20, 20)
		with open(os.path.join(d, "block.txt"), "w") as f:
			f.write("blk.pp.cn\n")
		with open(os.path.join(d, "policy.yaml"), "w") as f:
			f.write("mode: enforce\nunfiled: {action: refuse}\nrevoked: {action: refuse}\nlists:\n"
				"  - {file: block.txt, format: plain, kind: block, action: refuse, ede: 17, "
				"text: \"blocked by policy\"}\n")
		p = subprocess.run([gkctl, "--redis", "127.0.0.1:%d" % redis.port, "policy", "push", "policy.yaml",
				    "--key", "op.key", "--message", "block blk.pp.cn"], cwd=d, capture_output=True,
				   text=True, timeout=30)
		expect("gkctl policy push under load (exit 0)", p.returncode == 0, p.stdout + p.stderr)
		wait_for("the instance reports policy version 1",
			 lambda: h.metrics(mport).get("gatekeeper_policy_version") == 1, 20)
		version[0] = True
		n_before = len(be.names())
		r = ask(port, "blk.pp.cn")
		expect("the first query after the new version is refused with the policy's EDE",
		       r.rcode() == dns.rcode.REFUSED and ede(r) == 17, r)
		# a marker after it: the backend has read everything gatekeeperd sent before it
		marker = ask(port, "marker.pp.cn")
		wait_for("the marker reached the backend", lambda: "marker.pp.cn." in be.names(), 10)
		after = [n for n in be.names()[n_before:] if n == "blk.pp.cn."]
		wait_for("filed names still forwarded under load after the push",
			 lambda: "www.pp.cn." in be.names()[n_before:], 10)
		stop.set()
		th.join(timeout=10)
		got = [x for x in sent if x[0]]
		expect("the blocked name never reached the backend after the version was reported",
		       after == [] and marker.rcode() == dns.rcode.NOERROR, be.names()[n_before:])
		expect("every load query for it after the version was refused (%d), filed names still "
		       "forwarded" % len(got), got and all(rc == dns.rcode.REFUSED for _, rc in got), got[:10])
	finally:
		stop.set()
		gk.stop_clean("the policy-push gatekeeperd")
		be.close()


def reload(gk, port, conf):
	"""9. A reload may change the forwarded zones, not the pools (built at start)."""
	text = open(conf).read()
	n0 = gk.log_text().count("reload failed")
	open(conf, "w").write(text.replace("tc: pass", "tc: retry-tcp"))
	gk.signal(signal.SIGHUP)
	wait_for("the reload refused", lambda: gk.log_text().count("reload failed") > n0)
	log = gk.log_text()
	expect("a reload changing pools is refused, naming the line, the running config kept",
	       re.search(r"gatekeeperd\.yaml:\d+: pools: changed since start", log) and
	       ask(port, "x.tc.cn").flags & dns.flags.TC, log[-1500:])
	open(conf, "w").write(text.replace("  - {name: tc.cn, forward: tc}\n", ""))
	gk.signal(signal.SIGHUP)
	wait_for("tc.cn no longer forwarded", lambda: ask(port, "y.tc.cn").rcode() == dns.rcode.REFUSED)
	expect("a reload dropping a forwarded zone (same pools) applies: its names REFUSED", True)
	open(conf, "w").write(text)


def failover(port, nsdb, knot, tmp, obs):
	"""8. Four clients query names under sub.example.cn (each new: no cache hit) while the
	pool's NSD is killed; every query must be answered (by a retry on Knot), none SERVFAIL."""
	nb = "127.0.0.1:%d" % nsdb.port
	results, lock, total = [], threading.Lock(), 1200
	q0 = obs.m("gatekeeper_frontend_backend_queries_total", "pair", nb) or 0

	def client(k):
		for i in range(total // 4):
			q = dns.message.make_query("l%d-%d.sub.example.cn" % (k, i), "A")
			try:
				r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
				out = dns.rcode.to_text(r.rcode())
			except dns.exception.Timeout:
				out = "timeout"
			with lock:
				results.append(out)
	threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
	for t in threads:
		t.start()
	wait_for("a quarter of the load answered", lambda: len(results) >= total // 4, 60)
	nport = nsdb.port
	os.kill(nsdb.pid, signal.SIGKILL)
	at_kill = len(results)
	for t in threads:
		t.join()
	nsdb.stop()
	bad = [r for r in results if r not in ("NOERROR", "NXDOMAIN")]  # (the zone has a wildcard)
	expect("NSD killed under load (after %d of %d answers): every query answered, none SERVFAIL "
	       "(%d SERVFAIL or lost)" % (at_kill, total, len(bad)), len(results) == total and not bad,
	       (sorted(set(bad)), {k: v for k, v in h.metrics(obs.mport).items()
				   if "servfail_total" in k or "timeouts" in k or "retries" in k}))
	kq = obs.m("gatekeeper_frontend_backend_queries_total", "pair", "127.0.0.1:%d" % knot.port)
	expect("... Knot took the load (%s queries)" % kq, kq and kq >= total // 2, kq)
	expect("... the killed NSD is down", obs.m("gatekeeper_frontend_backend_up", "pair", nb) == 0)
	conf = h.nsd_config(os.path.join(tmp, "nsdb"), nport)
	back = h.Server("nsd", [h.NSD, "-d", "-c", conf], os.path.join(tmp, "nsdb"), nport,
			os.path.join(tmp, "nsdb", "nsd2.log"))
	try:
		wait_for("the NSD up again", lambda: obs.m("gatekeeper_frontend_backend_up", "pair", nb) == 1)
		before = obs.m("gatekeeper_frontend_backend_queries_total", "pair", nb)
		for i in range(20):
			ask(port, "after%d.sub.example.cn" % i)
		after = obs.m("gatekeeper_frontend_backend_queries_total", "pair", nb)
		expect("... back on its port: up again and given queries (%s -> %s, %s before the kill)"
		       % (before, after, q0), after > before)
	finally:
		back.stop()


if __name__ == "__main__":
	if len(sys.argv) != 4:
		sys.exit("usage: test_frontend.py GATEKEEPERD GK_SYNC GKCTL")
	sys.exit(main())
