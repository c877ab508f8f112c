#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_blackbox.py -- gatekeeperd against real clients and bad input.
#
# kdig and dig over UDP and TCP (v4 and the ::1 listener), 20 queries pipelined on one TCP
# connection, malformed UDP packets (each must get FORMERR or no answer, and a good query
# must still be answered afterwards), the TCP idle timeout and the TCP connection cap.
# Usage: test_blackbox.py GATEKEEPERD   ("nsd" runs the parts that apply to NSD, to debug)
import os
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402

fails = h.fails  # the checks that failed (h.expect keeps them)
expect = h.expect


def run(argv, timeout=15):
	try:
		p = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
		return p.returncode, p.stdout + p.stderr
	except subprocess.TimeoutExpired:
		return -1, "timeout: %s" % " ".join(argv)


def clients(port):
	dig, kdig = shutil.which("dig"), shutil.which("kdig")
	hosts = ["127.0.0.1"] + (["::1"] if h.has_ipv6() else [])
	for host in hosts:
		for tool, extra in ((dig, []), (dig, ["+tcp"]), (kdig, []), (kdig, ["+tcp"])):
			tries = ["+time=2", "+tries=1"] if tool == dig else ["+timeout=2", "+retry=0"]
			if not tool:
				expect("%s present" % tool, False)
				continue
			tag = "%s %s %s" % (os.path.basename(tool), host, " ".join(extra) or "udp")
			rc, out = run([tool, "@" + host, "-p", str(port), "+short", "+norec"] + tries +
				      extra + ["www.example.cn", "A"])
			expect("%s: www.example.cn A" % tag, rc == 0 and out.strip() == "192.0.2.10", out)
			rc, out = run([tool, "@" + host, "-p", str(port), "+norec"] + tries + extra +
				      ["nx.example.cn", "A"])
			expect("%s: nx.example.cn NXDOMAIN" % tag, rc == 0 and "NXDOMAIN" in out, out)
	# truncation: dig without EDNS gets TC and retries over TCP; with +ignore it shows TC
	rc, out = run([dig, "@127.0.0.1", "-p", str(port), "+noedns", "+ignore", "+norec", "+time=2",
		       "+tries=1", "bigtxt.example.cn", "TXT"])
	expect("dig +noedns +ignore bigtxt: TC flag", " tc" in out.split("flags:")[1].split(";")[0] if "flags:" in out else False, out)
	rc, out = run([dig, "@127.0.0.1", "-p", str(port), "+noedns", "+norec", "+time=2", "+tries=1",
		       "+short", "bigtxt.example.cn", "TXT"])
	expect("dig bigtxt: 12 TXT after TCP fallback", rc == 0 and len(out.strip().splitlines()) == 12, out)
	rc, out = run([kdig, "@127.0.0.1", "-p", str(port), "+bufsize=1232", "+norec", "+time=2",
		       "+retry=0", "bigtxt.example.cn", "TXT"])
	expect("kdig +bufsize=1232 bigtxt: 12 TXT over UDP, no TC",
	       rc == 0 and out.count("\tTXT\t") == 12 and " tc" not in out.split("Flags:")[1].split(";")[0]
	       if "Flags:" in out else False, out)
	# several queries on one kdig TCP connection
	rc, out = run([kdig, "@127.0.0.1", "-p", str(port), "+tcp", "+keepopen", "+norec", "+short",
		       "www.example.cn", "A", "mail.example.cn", "A", "ns1.example.cn", "AAAA"])
	expect("kdig +tcp +keepopen: three answers on one connection",
	       rc == 0 and out.split() == ["192.0.2.10", "192.0.2.25", "2001:db8::1"], out)


def pipelined(port, host="127.0.0.1", n=20):
	names = ["www", "mail", "ns1", "ns2", "sip", "nx%d", "cname1", "a.wild", "bigtxt", "txt"]
	fam = socket.AF_INET6 if ":" in host else socket.AF_INET
	s = socket.socket(fam, socket.SOCK_STREAM)
	s.settimeout(5)
	try:
		s.connect((host, port))
		want, blob = {}, b""
		for i in range(n):
			nm = names[i % len(names)]
			nm = (nm % i if "%" in nm else nm) + ".example.cn"
			qt = "TXT" if nm.startswith(("bigtxt", "txt")) else "A"
			q = dns.message.make_query(nm, qt)
			q.id = 0x4000 + i
			w = q.to_wire()
			want[q.id] = nm
			blob += struct.pack("!H", len(w)) + w
		s.sendall(blob)  # all 20 back to back, before reading anything
		got = {}
		for _ in range(n):
			hdr = h.recv_exact(s, 2)
			if hdr is None:
				break
			body = h.recv_exact(s, struct.unpack("!H", hdr)[0])
			if body is None:
				break
			m = dns.message.from_wire(body)
			got[m.id] = m
		ok = set(got) == set(want) and all(
			got[i].question[0].name.to_text().rstrip(".") == want[i] for i in got)
		expect("%d pipelined queries on one TCP connection (%s): %d answers, ids and names match" %
		       (n, host, len(got)), ok, "missing ids: %s" % sorted(set(want) - set(got)))
	except OSError as e:
		expect("pipelined TCP (%s)" % host, False, repr(e))
	finally:
		s.close()


def burst(srv, n=70):
	"""n queries queued at once (the server stopped meanwhile), plus malformed ones and one
	larger than any query the server accepts: each must get exactly the reply it gets alone.
	The UDP path answers a receive batch (recvmmsg) into one send batch (sendmmsg)."""
	wires = h.burst_wires(n, [".example.cn", ".other.com.cn", ".example.org", ".dname.cn"])
	wires.append(struct.pack("!HHHHHH", 0x5100, 0, 1, 0, 0, 0) + b"\x05abc")  # cut question
	wires.append(struct.pack("!HHHHHH", 0x5101, 0, 1, 0, 0, 0) + b"\x00" * 5000)  # too large
	alone = {struct.unpack("!H", w[:2])[0]: h.udp_raw(w, srv.port, timeout=0.5) for w in wires}
	got = h.udp_burst(srv, wires)
	bad = sorted(i for i in alone if alone[i] != got.get(i))
	answered = sum(1 for v in alone.values() if v is not None)
	expect("burst of %d queued queries: every reply as when asked alone (%d answered)" %
	       (len(wires), answered), not bad and answered >= n,
	       "ids differing: %s" % [hex(i) for i in bad])


def q(name, qtype=1, qid=0x1234, flags=0x0000):
	return struct.pack("!HHHHHH", qid, flags, 1, 0, 0, 0) + dns.message.make_query(
		name, qtype, use_edns=False).to_wire()[12:]


def malformed(port):
	hd = lambda qd=1, an=0, ns=0, ar=0, fl=0: struct.pack("!HHHHHH", 0x2222, fl, qd, an, ns, ar)  # noqa
	good = q("www.example.cn")
	label64 = b"\x40" + b"a" * 64 + b"\x07example\x02cn\x00"
	long_name = b"".join(b"\x3f" + b"x" * 63 for _ in range(4)) + b"\x07example\x02cn\x00"  # 263 octets
	opt = b"\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
	cases = [
		("empty datagram", b""),
		("truncated header (5 octets)", good[:5]),
		("header only, QDCOUNT=1", hd()),
		("question cut inside the name", good[:20]),
		("question without type/class", good[:-4]),
		("question with type but no class", good[:-2]),
		("pointer loop (name points at itself)", hd() + b"\xc0\x0c\x00\x01\x00\x01"),
		("two-pointer loop", hd() + b"\x03www\xc0\x12\xc0\x0c\x00\x01\x00\x01"),
		("forward pointer", hd() + b"\x03www\xc0\x16\x00\x01\x00\x01" + b"\x07example\x02cn\x00"),
		("pointer past the end", hd() + b"\x03www\xc0\xff\x00\x01\x00\x01"),
		("label length 64", hd() + label64 + b"\x00\x01\x00\x01"),
		("label type 0x40 (extended label)", hd() + b"\x41\x00\x00\x01\x00\x01"),
		("name of 263 octets", hd() + long_name + b"\x00\x01\x00\x01"),
		("ANCOUNT=5 with no records", hd(an=5) + good[12:]),
		("ARCOUNT=3 with no records", hd(ar=3) + good[12:]),
		("NSCOUNT=1 with a cut record", hd(ns=1) + good[12:] + b"\xc0\x0c\x00\x02\x00\x01\x00"),
		("QDCOUNT=65535", hd(qd=65535) + good[12:]),
		("trailing garbage after a query", good + b"\xde\xad\xbe\xef" * 4),
		("two OPT records (RFC 6891 s6.1.1)", hd(ar=2) + good[12:] + opt + opt),
		("OPT with RDLENGTH past the end", hd(ar=1) + good[12:] + opt[:-2] + b"\x00\x20"),
		("OPT with owner not root", hd(ar=1) + good[12:] + b"\x01a\x00" + opt[1:]),
		("QR set (a response)", q("www.example.cn", flags=0x8000)),
		("only ID and flags of a response", good[:4]),
	]
	for desc, wire in cases:
		ans = h.udp_raw(wire, port, timeout=0.5)
		ok, why = True, "no answer"
		if ans is not None:
			why = ans.hex()
			if len(ans) < 12:
				ok, why = False, "short answer %s" % ans.hex()
			else:
				flags = struct.unpack("!H", ans[2:4])[0]
				rcode = flags & 0xF
				ok = bool(flags & 0x8000) and rcode == dns.rcode.FORMERR and ans[:2] == wire[:2]
				why = "rcode %s, QR %d, id %s" % (dns.rcode.to_text(rcode), bool(flags & 0x8000), ans[:2].hex())
				# NSD 4.6.1 ignores octets after the last counted record and answers; RFC 1035
				# does not forbid that, so a correct answer is accepted as well.
				if desc.startswith("trailing garbage") and not ok:
					m = dns.message.from_wire(ans, ignore_trailing=True)
					ok = m.rcode() == 0 and len(m.answer) == 1 and ans[:2] == wire[:2]
				if desc.startswith("QR set"):
					ok, why = False, "answered a response: " + why
		expect("malformed: %s -> FORMERR or silence (%s)" % (desc, why), ok)
		expect("  ... server still answers a good query", h.good_query_answered(port))


def tcp_idle(port, idle_ms):
	s = socket.create_connection(("127.0.0.1", port), timeout=5)
	t0 = time.time()
	try:
		s.settimeout(idle_ms / 1000.0 + 3)
		data = s.recv(10)
		dt = time.time() - t0
		expect("TCP idle connection closed after ~%dms (took %.2fs)" % (idle_ms, dt),
		       data == b"" and dt < idle_ms / 1000.0 + 2.5 and dt > idle_ms / 1000.0 * 0.5)
	except ConnectionResetError:
		dt = time.time() - t0
		expect("TCP idle connection closed (reset) after %.2fs" % dt, dt > idle_ms / 1000.0 * 0.5)
	except socket.timeout:
		expect("TCP idle connection closed within %dms + 3s" % idle_ms, False, "still open")
	finally:
		s.close()
	# a connection that asked one question and then idles is closed as well
	s = socket.create_connection(("127.0.0.1", port), timeout=5)
	try:
		w = q("www.example.cn")
		s.sendall(struct.pack("!H", len(w)) + w)
		hdr = h.recv_exact(s, 2)
		body = h.recv_exact(s, struct.unpack("!H", hdr)[0]) if hdr else None
		expect("TCP query answered before idling", body is not None)
		s.settimeout(idle_ms / 1000.0 + 3)
		try:
			data = s.recv(10)
		except ConnectionResetError:
			data = b""
		expect("TCP connection closed after the answer and %dms idle" % idle_ms, data == b"")
	except socket.timeout:
		expect("TCP connection closed after answer + idle", False, "still open")
	finally:
		s.close()


def is_closed(s, wait):
	s.settimeout(wait)
	try:
		return s.recv(10) == b""
	except ConnectionResetError:
		return True
	except socket.timeout:
		return False


def tcp_ask(s, name="www.example.cn"):
	w = q(name)
	s.sendall(struct.pack("!H", len(w)) + w)
	hdr = h.recv_exact(s, 2)
	return h.recv_exact(s, struct.unpack("!H", hdr)[0]) if hdr else None


def tcp_cap(port, cap):
	conns = []
	try:
		for i in range(cap):
			s = socket.create_connection(("127.0.0.1", port), timeout=5)
			conns.append(s)
			time.sleep(0.05)  # conns[0] is the oldest
		# make every connection but the first recently active
		for s in conns[1:]:
			expect("  cap: connection answered", tcp_ask(s) is not None)
		extra = []
		for i in range(2):
			s = socket.create_connection(("127.0.0.1", port), timeout=5)
			extra.append(s)
			try:
				ans = tcp_ask(s, "mail.example.cn")
			except OSError as e:
				ans = None
			expect("TCP cap %d: connection %d beyond the cap is served" % (cap, cap + i + 1), ans is not None)
		expect("TCP cap: the oldest idle connection was closed", is_closed(conns[0], 1.0))
		open_now = 0
		for s in conns[1:] + extra:
			try:
				s.settimeout(2)
				open_now += tcp_ask(s) is not None
			except OSError:
				pass
		expect("TCP cap: at most %d connections still served (got %d)" % (cap, open_now), open_now <= cap)
		conns += extra
	finally:
		for s in conns:
			s.close()


def main(argv):
	target = argv[1]
	idle_ms, cap = 1000, 4
	with h.TempDir("gk-bb-") as tmp:
		if target == "nsd":
			srv = h.start_nsd(tmp, ipv6=True)
		else:
			srv = h.start_gk(target, tmp, tcp_max=64, tcp_idle_ms=idle_ms, workers=2)
		with srv:
			clients(srv.port)
			pipelined(srv.port)
			if h.has_ipv6():
				pipelined(srv.port, "::1")
			malformed(srv.port)
			burst(srv)
			if target != "nsd":  # NSD's tcp-timeout is in seconds and it does not evict
				tcp_idle(srv.port, idle_ms)
			expect("server still alive at the end", srv.alive(), srv.log_text()[-2000:])
			rc = srv.stop()
			expect("SIGTERM: exit status 0 (got %s)" % rc, rc == 0 or target == "nsd")
		if target != "nsd":
			# the cap on its own server, with an idle timeout long enough not to interfere
			ctmp = os.path.join(tmp, "cap")
			os.mkdir(ctmp)
			with h.start_gk(target, ctmp, tcp_max=cap, tcp_idle_ms=30000, workers=1) as srv2:
				tcp_cap(srv2.port, cap)
				expect("cap server still alive", srv2.alive(), srv2.log_text()[-2000:])
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


if __name__ == "__main__":
	if len(sys.argv) != 2:
		sys.exit("usage: test_blackbox.py GATEKEEPERD|nsd")
	sys.exit(main(sys.argv))
