#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/test_frontend_list.py -- zones forwarded from a zone list file
# (`NAME forward=POOL` lines) and from a zones directory (`forward: POOL`, docs/FRONTEND.md)
# to a real NSD, with EDNS Client Subnet seen through dnstap.
#
# Usage: test_frontend_list.py GATEKEEPERD GK_SYNC
#
# A private redis-server holds the filing status (applied by the real gk-sync: example.cn
# filed, unfiled.cn not); NSD serves both zones; gatekeeperd's zone list forwards both to a
# pool of that NSD (ecs: {ipv4: 24}), its zones directory (files "NAME.fwd", forward: nsd)
# forwards other.com.cn (filed) and revoked.com.cn (not filed), and it serves dname.cn from
# its file. Checks:
#   1. a name under the list-forwarded example.cn is answered as NSD answers it;
#   2. a name under the list-forwarded unfiled.cn (which NSD would answer) is REFUSED with
#      EDE 15 over UDP and TCP and never reaches the backend: the pool's backend query
#      counter and the relay's query counter do not move;
#   2b. a directory-forwarded zone is answered as NSD answers it; a name under the unfiled
#      directory-forwarded one is REFUSED with EDE 15 and never reaches NSD; a file added to
#      the directory and a SIGHUP: its zone forwarded (one removed, after 4: no longer);
#   2c. a resolver's query carrying its client's subnet (198.51.100.77/32): the answer
#      echoes it (NSD gives no scope: 0); an invalid one is FORMERR; a plain query's answer
#      has no ECS (the query sent to NSD, read back from dnstap in 5: /24 of the client's,
#      our 127.0.0.0/24 for the plain one, nothing for the invalid one);
#   3. a reload with a list line naming an unknown pool fails naming the list and its line,
#      and the running zones stay (example.cn still forwarded);
#   4. a reload whose list no longer forwards example.cn applies: its names are REFUSED;
#   5. dnstap with `forwarded: true`: read back with dnstap-ldns after the stop, every query
#      sent to NSD is a FORWARDER_QUERY and every answer a FORWARDER_RESPONSE (NSD's address
#      and port as the response address, "pool=nsd" in extra), none for unfiled.cn (whose
#      refusals are AUTH_QUERY / AUTH_RESPONSE), and none dropped; the ECS option of each
#      forwarded query as dnstap-ldns prints it.
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
from gkharness import wait_for  # noqa: E402

import dns.edns  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402

fails = []


def expect(what, ok, detail=""):
	h.log(("ok   " if ok else "FAIL ") + what + ("" if ok else "\n     " + str(detail)))
	if not ok:
		fails.append(what)


def ask(port, name, tcp=False):
	q = dns.message.make_query(name, "A", use_edns=0)
	fn = dns.query.tcp if tcp else dns.query.udp
	return fn(q, "127.0.0.1", port=port, timeout=3)


ede = h.ede_code


def rdata(r):
	return sorted((rr.name.to_text().lower(), rr.rdtype, rd.to_text()) for rr in r.answer for rd in rr)


LIST = "# zones forwarded to the registrar's nameserver\nexample.cn forward=nsd\nunfiled.cn forward=nsd\n"


def main():
	gkbin, gksync = (os.path.abspath(a) for a in sys.argv[1:3])
	if not os.access(h.NSD, os.X_OK):
		sys.exit("NSD not found at %s (scripts/deps.sh installs it)" % h.NSD)
	with h.TempDir("gk-frontend-list-") as tmp:
		nsd = h.start_nsd(tmp, zones=h.ZONES + [("unfiled.cn", "unfiled.cn.zone"),
							 ("revoked.com.cn", "revoked.com.cn.zone"),
							 ("chain.com.cn", "chain.com.cn.zone")])
		redis = h.start_redis(tmp)
		feed = h.Feed(gksync, tmp, redis.port)
		feed.snapshot(1, [("example.cn", "filed"), ("dname.cn", "filed"), ("other.com.cn", "filed"),
				  ("chain.com.cn", "filed")])
		zd = os.path.join(tmp, "fwd.d")
		os.mkdir(zd)
		for z in ("other.com.cn", "revoked.com.cn"):
			open(os.path.join(zd, z + ".fwd"), "w").close()  # an empty marker
		lst = os.path.join(tmp, "forward.list")
		with open(lst, "w") as f:
			f.write(LIST)
		mport = h.free_port()
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: fel-%d\n"
			 "filing:\n  startup: refuse\n"
			 "  unfiled: {action: refuse, ede: 15, text: \"ICP filing required\"}\n"
			 "pools:\n  - name: nsd\n    backends: [\"127.0.0.1:%d\"]\n"
			 "    check: {name: example.cn, interval_ms: 60000}\n"
			 "    ecs: {ipv4: 24, ipv6: 56}\n"
			 "zones_dir:\n  - {path: %s, pattern: \"%%s.fwd\", forward: nsd}\n"
			 "zone_list: %s\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
			 "dnstap: {file: %s, forwarded: true}\n"
			 % (redis.port, os.getpid(), nsd.port, zd, lst, mport, os.path.join(tmp, "gk.tap")))
		port = h.free_port()
		conf = h.gk_config(tmp, port, zones=[("dname.cn", "dname.cn.zone")], workers=1,
				   extra=extra)
		gk = h.Server("gatekeeperd", [gkbin, "-c", conf], tmp, port, os.path.join(tmp, "gk.log"))
		try:
			run(gk, port, nsd, mport, lst, zd)
			m = h.metrics(mport)
		except Exception:
			h.log(gk.log_text()[-3000:])
			raise
		finally:
			gk.stop_clean("gatekeeperd")
			redis.stop()
			nsd.stop()
		tap(os.path.join(tmp, "gk.tap"), nsd.port, m)
	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


def ecs_of(r):
	o = [x for x in r.options if x.otype == 8]
	return (o[0].address, o[0].srclen, o[0].scopelen) if o else None


def filed_counted(port, mport, key, n0, name):
	"""Ask a filed name through the front end and wait until the backend's query counter key
	(n0 before) has counted it: every query asked before it has been counted too by then.
	Returns the metrics."""
	ask(port, name)
	return wait_for("the filed query counted at the backend",
			lambda: (lambda m: m if m.get(key, 0) >= n0 + 1 else None)(h.metrics(mport)))


def run(gk, port, nsd, mport, lst, zd):
	wait_for("the replica loaded (a filed name answered)",
		 lambda: ask(port, "www.example.cn").rcode() == dns.rcode.NOERROR)
	# 1. forwarded from the list, answered as NSD answers
	mine, theirs = ask(port, "www.example.cn"), ask(nsd.port, "www.example.cn")
	expect("list-forwarded example.cn: answered as NSD's", mine.rcode() == theirs.rcode() and
	       rdata(mine) == rdata(theirs) and mine.answer, (mine, theirs))
	mine = ask(port, "www.example.cn", tcp=True)
	expect("... and over TCP", rdata(mine) == rdata(theirs), mine)

	# 2. the decision first: the unfiled zone's names never reach NSD
	key = 'gatekeeper_frontend_backend_queries_total{pool="nsd",backend="127.0.0.1:%d"}' % nsd.port
	m0 = h.metrics(mport)
	direct = ask(nsd.port, "www.unfiled.cn")
	expect("NSD itself answers www.unfiled.cn", direct.rcode() == dns.rcode.NOERROR and direct.answer,
	       direct)
	for tcp in (False, True):
		r = ask(port, "www.unfiled.cn", tcp=tcp)
		expect("list-forwarded unfiled.cn over %s: REFUSED with EDE 15" % ("TCP" if tcp else "UDP"),
		       r.rcode() == dns.rcode.REFUSED and ede(r) == 15, r)
	# a filed query after them: once it is counted, the unfiled ones would have been too
	n0 = m0.get(key, 0)
	m1 = filed_counted(port, mport, key, n0, "www2.example.cn")
	expect("the unfiled names never reached the backend (one backend query: the filed one)",
	       m1.get(key, 0) == n0 + 1 and
	       m1.get("gatekeeper_frontend_queries_total", 0) ==
	       m0.get("gatekeeper_frontend_queries_total", 0) + 1,
	       (m0.get(key), m1.get(key), m0.get("gatekeeper_frontend_queries_total"),
		m1.get("gatekeeper_frontend_queries_total")))

	# 2b. forwarded from the zones directory
	mine, theirs = ask(port, "www.other.com.cn"), ask(nsd.port, "www.other.com.cn")
	expect("directory-forwarded other.com.cn: answered as NSD's", mine.rcode() == theirs.rcode() and
	       rdata(mine) == rdata(theirs) and mine.answer, (mine, theirs))
	m0 = h.metrics(mport)
	direct = ask(nsd.port, "www.revoked.com.cn")
	expect("NSD itself answers www.revoked.com.cn", direct.rcode() == dns.rcode.NOERROR, direct)
	r = ask(port, "www.revoked.com.cn")
	expect("directory-forwarded revoked.com.cn (not filed): REFUSED with EDE 15",
	       r.rcode() == dns.rcode.REFUSED and ede(r) == 15, r)
	n0 = m0.get(key, 0)
	m1 = filed_counted(port, mport, key, n0, "www3.other.com.cn")
	expect("... it never reached the backend (one backend query: the filed one after it)",
	       m1.get(key, 0) == n0 + 1, (n0, m1.get(key)))
	expect("chain.com.cn is not forwarded yet (REFUSED: not ours)",
	       ask(port, "www.chain.com.cn").rcode() == dns.rcode.REFUSED)
	open(os.path.join(zd, "chain.com.cn.fwd"), "w").close()
	gk.signal(signal.SIGHUP)
	r = wait_for("a file added to the directory and a SIGHUP: chain.com.cn forwarded",
		     lambda: (lambda x: x if x.rcode() == dns.rcode.NOERROR else None)(
			     ask(port, "www.chain.com.cn")))
	expect("... answered as NSD's", rdata(r) == rdata(ask(nsd.port, "www.chain.com.cn")) and r.answer, r)

	# 2c. a client's own EDNS Client Subnet option
	q = dns.message.make_query("ecs.example.cn", "A", use_edns=0,
				   options=[dns.edns.ECSOption("198.51.100.77", 32)])
	r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
	expect("a client's ECS 198.51.100.77/32: the answer echoes it, scope 0 (NSD has no ECS)",
	       r.rcode() == dns.rcode.NXDOMAIN and ecs_of(r) == ("198.51.100.77", 32, 0), r)
	q = dns.message.make_query("bad-ecs.example.cn", "A", use_edns=0,
				   options=[dns.edns.GenericOption(8, b"\x00\x01\x18\x00\xc6\x33\x64\x4d")])
	r = dns.query.udp(q, "127.0.0.1", port=port, timeout=3)
	expect("an invalid client ECS (an address octet beyond its /24): FORMERR",
	       r.rcode() == dns.rcode.FORMERR, r)
	r = ask(port, "plain.example.cn")
	expect("a plain query's answer carries no ECS", r.rcode() == dns.rcode.NXDOMAIN and
	       ecs_of(r) is None, r)

	# 3. a bad list at a reload: named with its line, the running zones kept
	n_failed = gk.log_text().count("reload failed")
	with open(lst, "w") as f:
		f.write(LIST + "other.cn forward=nope\n")
	gk.signal(signal.SIGHUP)
	wait_for("the reload refused", lambda: gk.log_text().count("reload failed") > n_failed)
	log = gk.log_text()
	expect("a list line naming an unknown pool: the reload fails naming the list and line 4",
	       "%s:4: zones.forward: no pool named 'nope'" % lst in log, log[-1500:])
	r, theirs = ask(port, "www3.example.cn"), ask(nsd.port, "www3.example.cn")
	expect("... and example.cn is still forwarded (NSD's NXDOMAIN relayed)",
	       r.rcode() == theirs.rcode() == dns.rcode.NXDOMAIN and r.authority == theirs.authority, r)

	# 4. the list no longer forwards example.cn: after the reload its names are REFUSED
	with open(lst, "w") as f:
		f.write("unfiled.cn forward=nsd\n")
	gk.signal(signal.SIGHUP)
	wait_for("example.cn no longer forwarded",
		 lambda: ask(port, "www4.example.cn").rcode() == dns.rcode.REFUSED)
	r = ask(port, "www2.chain.com.cn")
	expect("... the directory's zones still forwarded", r.rcode() == dns.rcode.NXDOMAIN, r)
	os.unlink(os.path.join(zd, "other.com.cn.fwd"))
	gk.signal(signal.SIGHUP)
	wait_for("a file removed from the directory and a SIGHUP: other.com.cn no longer forwarded",
		 lambda: ask(port, "www.other.com.cn").rcode() == dns.rcode.REFUSED)
	r = ask(port, "www3.chain.com.cn")
	expect("... the directory's other zones still forwarded", r.rcode() == dns.rcode.NXDOMAIN, r)
	r = ask(port, "www.target.dname.cn")
	expect("a reload dropping a list-forwarded zone applies; the served zone still answers",
	       r.rcode() == dns.rcode.NOERROR, r)


def tap(path, nsd_port, m):
	"""5. The dnstap file (complete after the stop) through an existing reader."""
	out = subprocess.run([h.need("dnstap-ldns", "dnstap-ldns"), "-r", path, "-y"], check=True,
			     capture_output=True, text=True, timeout=60).stdout
	msgs = [b for b in out.split("---") if "type: " in b]
	fq = [b for b in msgs if "type: FORWARDER_QUERY" in b]
	fr = [b for b in msgs if "type: FORWARDER_RESPONSE" in b]
	auth = [b for b in msgs if "type: AUTH_" in b]
	expect("dnstap: forwarded queries and answers logged (%d FORWARDER_QUERY, %d FORWARDER_RESPONSE)"
	       % (len(fq), len(fr)), len(fq) >= 4 and len(fr) == len(fq), out[-2000:])
	expect("dnstap: each names NSD as the response address and port",
	       all('response_address: "127.0.0.1"' in b and "response_port: %d" % nsd_port in b
		   for b in fq + fr), (fq + fr)[:2])
	raw = open(path, "rb").read()  # dnstap-ldns does not print the extra field
	expect("dnstap: \"pool=nsd\" in the extra field of each",
	       raw.count(b"pool=nsd") == len(fq) + len(fr), raw.count(b"pool=nsd"))
	expect("dnstap: the filed name went to NSD and came back",
	       any("www.example.cn." in b for b in fq) and any("www.example.cn." in b for b in fr),
	       fq[:2])
	expect("dnstap: nothing of unfiled.cn was forwarded (its refusals are AUTH messages)",
	       not any("unfiled.cn" in b for b in fq + fr) and any("www.unfiled.cn." in b for b in auth),
	       [b for b in fq + fr if "unfiled.cn" in b][:2])
	# the OPT data as dnstap-ldns prints it: option 8, length 7, FAMILY 1, /24, SCOPE 0, 3 octets
	ecs = [b for b in fq if ";ecs.example.cn." in b]
	expect("dnstap: the client's 198.51.100.77/32 went to NSD as 198.51.100.0/24 (0008 0007 "
	       "0001 18 00 c63364), in place of ours",
	       len(ecs) == 1 and "0008000700011800c63364" in ecs[0] and "7f0000" not in ecs[0], ecs)
	plain = [b for b in fq if ";plain.example.cn." in b]
	expect("dnstap: a plain query went with our subnet of the client's address, 127.0.0.0/24",
	       len(plain) == 1 and "00080007000118007f0000" in plain[0], plain)
	expect("dnstap: nothing of revoked.com.cn (refused) was forwarded",
	       not any("revoked.com.cn" in b for b in fq + fr), [b for b in fq if "revoked" in b][:1])
	expect("dnstap: nothing of bad-ecs.example.cn (FORMERR) was forwarded",
	       not any("bad-ecs.example.cn" in b for b in fq + fr))
	expect("dnstap: the directory-forwarded names went to NSD",
	       any("www.other.com.cn." in b for b in fq) and any("www.chain.com.cn." in b for b in fq))
	expect("dnstap: no backend message dropped (gatekeeper_frontend_dnstap_dropped_total 0)",
	       m.get("gatekeeper_frontend_dnstap_dropped_total") == 0,
	       m.get("gatekeeper_frontend_dnstap_dropped_total"))


if __name__ == "__main__":
	sys.exit(main())
