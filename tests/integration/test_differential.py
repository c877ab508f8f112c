#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_differential.py -- gatekeeperd must answer like NSD 4.6.1.
#
# Starts NSD (reference) and gatekeeperd on the same fixture zones, sends both the same
# corpus (UDP without EDNS, with EDNS at several buffer sizes, TCP), and compares a
# normalised form of each answer: rcode, flags QR/AA/TC/RD (RA ignored), opcode, each
# section as a sorted set of (lowercased owner, ttl, class, type, rdata text), and OPT
# presence/version/payload. Truncated answers are compared on rcode+TC only. Every
# difference is printed with the query, NSD's answer and ours; the test fails on any.
#
# Where NSD 4.6.1 departs from an RFC on purpose (or predates it), the case carries an
# `exception` note citing the RFC and our own answer is checked against the RFC instead.
#
# Two modes, both against the same NSD serving every fixture zone:
#   plain   gatekeeperd without the filing check: every answer as NSD's.
#   filing  gatekeeperd with the filing check, its replica loaded by the real gk-sync into a
#           private redis-server: filed, revoked and unfiled zones served side by side, a
#           parent and a served child, a registry zone at a public suffix (gd.cn). A name
#           whose registrable domain is refused gets the configured refusal (REFUSED with
#           EDE 15 for unfiled, NXDOMAIN with its zone's SOA and EDE 15 for revoked); every
#           other name gets NSD's answer with nothing of a refused domain in it: a CNAME or
#           DNAME chain that reaches one stops before it (the records up to there stay,
#           NOERROR, no authority or additional records), additional records of one are
#           left out. A public suffix itself (gd.cn's apex) is answered as NSD does.
#   frontend gatekeeperd with the filing check in front of the same NSD (every zone
#           forwarded to it, docs/FRONTEND.md), the replica as in filing mode: NSD's answers
#           relayed as the filing check leaves them, the same oracle as filing mode (so a
#           relayed answer never carries what our own would not: a chain into a refused
#           domain stops before it, its additional records are left out), for the plain
#           queries of the corpus (class IN, opcode QUERY, EDNS version 0, not ANY); a
#           refused name's refusal carries no SOA (a front end has no zone data).
#   transfer gatekeeperd without the filing check, every zone taken by AXFR from a second
#           NSD (the primary, serving the same files) instead of read from the files:
#           every answer as the reference NSD's, as in plain mode.
#
# Usage: test_differential.py GATEKEEPERD GK_SYNC   (or "nsd" to diff NSD against itself)
#        GK_DIFF_ONLY=substring restricts the corpus; GK_DIFF_VERBOSE=1 prints every answer.
import os
import re
import struct
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

import dns.edns  # noqa: E402
import dns.exception  # noqa: E402
import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.opcode  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

NAME_TYPES = {"CNAME", "DNAME", "NS", "MX", "SRV", "PTR", "SOA"}

# Zones served in both modes beside the black-box tests' four (h.ZONES).
FILING_ZONES = [
	("chain.com.cn", "chain.com.cn.zone"),
	("child.chain.com.cn", "child.chain.com.cn.zone"),
	("revoked.com.cn", "revoked.com.cn.zone"),
	("unfiled.cn", "unfiled.cn.zone"),
	("gd.cn", "gd.cn.zone"),
]
ALL_ZONES = h.ZONES + FILING_ZONES
# The registry's status set in filing mode; every other registrable domain is unfiled.
STATUS = {"example.cn": "filed", "other.com.cn": "filed", "dname.cn": "filed", "deleg2.gd.cn": "filed",
	  "chain.com.cn": "filed", "foo.gd.cn": "filed",
	  "deleg.gd.cn": "filed", "revoked.com.cn": "revoked"}
# The public suffixes the fixture names meet (ICANN section of the list), as label tuples.
SUFFIXES = {(b"cn",), (b"com", b"cn"), (b"gd", b"cn"), (b"com",)}
LONG60 = "l" * 60  # 60-octet label: LONG60.long.dname.cn substitutes to > 255 octets


class Case:
	"""One query. mode: udp (no EDNS), udp<N> (EDNS, buffer N), tcp, tcpedns.
	compare: full | tc (rcode+TC) | rcode_aa | rcode. check: extra assertion on our
	answer (returns a list of problems). exception: why compare is weaker than full."""

	def __init__(self, qname, qtype="A", mode="udp1232", qclass="IN", rd=False, opcode=0,
		     ednsver=0, raw=None, compare="full", check=None, exception=None, label=None):
		self.qname, self.qtype, self.mode, self.qclass = qname, qtype, mode, qclass
		self.rd, self.opcode, self.ednsver, self.raw = rd, opcode, ednsver, raw
		self.compare, self.check, self.exception = compare, check, exception
		self.label = label or "%s %s %s %s%s%s" % (qname, qclass, qtype, mode, " +rd" if rd else "",
							  " opcode=%d" % opcode if opcode else "")

	def wire(self, qid):
		if self.raw is not None:
			return struct.pack("!H", qid) + self.raw[2:]
		m = dns.message.make_query(self.qname, dns.rdatatype.from_text(self.qtype),
					   dns.rdataclass.from_text(self.qclass), use_edns=False)
		m.id = qid
		m.flags = dns.flags.RD if self.rd else 0
		m.set_opcode(self.opcode)
		if self.mode.startswith("udp") and self.mode != "udp":
			m.use_edns(self.ednsver, 0, int(self.mode[3:]))
		elif self.mode == "tcpedns":
			m.use_edns(self.ednsver, 0, 4096)
		# make_query lowercases nothing: 0x20 names keep their case on the wire.
		return m.to_wire()

	@property
	def tcp(self):
		return self.mode.startswith("tcp")


def base_cases():
	"""(qname, qtype) pairs covering every fixture case; each runs in several modes."""
	c = []
	add = lambda *names_types: c.extend(names_types)  # noqa: E731
	# positive answers, additional section processing
	add(("www.example.cn", "A"), ("www.example.cn", "AAAA"), ("example.cn", "SOA"),
	    ("example.cn", "NS"), ("example.cn", "MX"), ("example.cn", "TXT"), ("example.cn", "CAA"),
	    ("txt.example.cn", "TXT"), ("longtxt.example.cn", "TXT"), ("_sip._tcp.example.cn", "SRV"),
	    ("10.2.0.192.in-addr.example.cn", "PTR"), ("unknown.example.cn", "TYPE65280"),
	    ("mail.example.cn", "A"), ("ns1.example.cn", "AAAA"),
	    ("sub.example.cn", "SOA"), ("sub.example.cn", "NS"), ("sub.example.cn", "A"),
	    ("host.sub.example.cn", "A"), ("host.sub.example.cn", "AAAA"),
	    ("other.com.cn", "SOA"), ("dname.cn", "NS"), ("www.other.com.cn", "A"))
	# NODATA (negative TTL = min(SOA TTL, MINIMUM), both orders)
	add(("www.example.cn", "MX"), ("www.example.cn", "TXT"), ("example.cn", "A"),
	    ("sub.example.cn", "MX"), ("unknown.example.cn", "A"), ("www.other.com.cn", "AAAA"),
	    ("dname.cn", "A"), ("example.cn", "TYPE65280"))
	# NXDOMAIN
	add(("nx.example.cn", "A"), ("nx.nx.example.cn", "AAAA"), ("nx.other.com.cn", "A"),
	    ("nx.dname.cn", "A"), ("nx.host.sub.example.cn", "A"))
	# empty non-terminals
	add(("ent.example.cn", "A"), ("deep.ent.example.cn", "A"), ("deep.ent.example.cn", "TXT"),
	    ("x.deep.ent.example.cn", "A"), ("host.deep.ent.example.cn", "A"), ("inc.example.cn", "A"))
	# wildcards (RFC 4592)
	add(("a.wild.example.cn", "A"), ("a.wild.example.cn", "AAAA"), ("a.wild.example.cn", "TXT"),
	    ("a.wild.example.cn", "MX"), ("a.b.wild.example.cn", "A"), ("a.wild.example.cn", "SRV"),
	    ("*.wild.example.cn", "A"), ("wild.example.cn", "A"),
	    ("exists.wild.example.cn", "A"), ("exists.wild.example.cn", "TXT"),
	    ("x.exists.wild.example.cn", "A"), ("ent.wild.example.cn", "A"),
	    ("x.ent.wild.example.cn", "A"), ("leaf.ent.wild.example.cn", "A"),
	    ("foo.wcname.example.cn", "A"), ("foo.wcname.example.cn", "CNAME"),
	    ("foo.wcname.example.cn", "TXT"), ("foo.wcnx.example.cn", "A"),
	    ("nx.sub.example.cn", "TXT"), ("nx.sub.example.cn", "A"),
	    ("x.deleg.example.cn", "A"), ("*.deleg.example.cn", "A"))
	# CNAME chains
	add(("cname1.example.cn", "A"), ("cname1.example.cn", "CNAME"), ("cname2.example.cn", "AAAA"),
	    ("cname1.example.cn", "TXT"), ("to-other.example.cn", "A"), ("to-sub.example.cn", "A"),
	    ("to-outside.example.cn", "A"), ("to-nx.example.cn", "A"), ("to-wild.example.cn", "A"),
	    ("to-dname.example.cn", "A"), ("loop-a.example.cn", "A"), ("loop-b.example.cn", "CNAME"),
	    ("chain1.example.cn", "A"), ("chain6.example.cn", "AAAA"), ("back.other.com.cn", "A"),
	    ("alias.sub.example.cn", "A"))
	# DNAME (RFC 6672)
	add(("www.d.dname.cn", "A"), ("a.b.d.dname.cn", "A"), ("nx.d.dname.cn", "A"),
	    ("d.dname.cn", "DNAME"), ("d.dname.cn", "A"), ("d.dname.cn", "TXT"),
	    ("www.d2.dname.cn", "A"), ("nx.d2.dname.cn", "A"), ("www.out.dname.cn", "A"),
	    ("x.long.dname.cn", "A"), (LONG60 + ".long.dname.cn", "A"), ("deleg.d.dname.cn", "A"))
	# delegations / referrals
	add(("www.deleg.example.cn", "A"), ("deleg.example.cn", "A"), ("deleg.example.cn", "NS"),
	    ("deleg.example.cn", "DS"), ("ns1.deleg.example.cn", "A"), ("a.b.deleg.example.cn", "MX"),
	    ("deleg2.example.cn", "A"), ("x.deleg2.example.cn", "A"), ("deleg2.example.cn", "DS"),
	    ("x.deleg3.example.cn", "A"), ("sub.example.cn", "DS"), ("www.bigref.other.com.cn", "A"))
	# big RRset
	add(("bigtxt.example.cn", "TXT"))
	# $TTL / $ORIGIN / $INCLUDE
	add(("ttl120.example.cn", "A"), ("host.origin.example.cn", "A"),
	    ("host.origin.example.cn", "AAAA"), ("after-origin.example.cn", "A"),
	    ("included.example.cn", "A"), ("included.example.cn", "TXT"),
	    ("deep.inc.example.cn", "A"), ("included2.example.cn", "A"))
	# outside every zone
	add(("www.notours.cn", "A"), ("cn", "SOA"), ("com.cn", "NS"), (".", "NS"),
	    ("example.com", "A"), ("xexample.cn", "A"))
	# the filing zones (FILING_ZONES): labels with '.', '\\' and NUL bytes, chains into
	# refused and filed domains, a served child, a registry zone at a public suffix
	add(("www.chain.com.cn", "A"), ("chain.com.cn", "MX"), ("chain.com.cn", "SOA"),
	    ("dot\\.inlabel.chain.com.cn", "A"), ("back\\\\slash.chain.com.cn", "A"),
	    ("nul\\000byte.chain.com.cn", "A"), ("dot.inlabel.chain.com.cn", "A"),
	    ("dot\\.inlabel.chain.com.cn", "TXT"))
	for n in ("to-revoked", "to-revoked-nx", "to-revoked-deleg", "to-revoked-dname", "to-unfiled",
		  "to-gd", "to-gd-unfiled", "to-gd-deleg", "to-gd-baddeleg", "to-child"):
		add((n + ".chain.com.cn", "A"), (n + ".chain.com.cn", "TXT"), (n + ".chain.com.cn", "CNAME"))
	for n in ("www.dn-revoked", "nope.dn-revoked", "x.ns1.sub.dn-revoked", "x.d.dn-revoked",
		  "www.dn-unfiled", "www.dn-filed", "nx.dn-filed", "back.dn-filed"):
		add((n + ".chain.com.cn", "A"), (n + ".chain.com.cn", "MX"))
	add(("dn-revoked.chain.com.cn", "DNAME"), ("dn-revoked.chain.com.cn", "A"),
	    ("child.chain.com.cn", "DS"), ("child.chain.com.cn", "SOA"), ("child.chain.com.cn", "NS"),
	    ("www.child.chain.com.cn", "A"), ("nx.child.chain.com.cn", "A"),
	    ("www.revoked.com.cn", "A"), ("revoked.com.cn", "SOA"), ("nope.revoked.com.cn", "A"),
	    ("www.sub.revoked.com.cn", "A"), ("x.d.revoked.com.cn", "A"), ("www.unfiled.cn", "A"),
	    ("unfiled.cn", "SOA"), ("nope.unfiled.cn", "MX"),
	    ("gd.cn", "SOA"), ("gd.cn", "NS"), ("gd.cn", "DNSKEY"), ("gd.cn", "A"), ("a.dns.gd.cn", "A"),
	    ("nx.dns.gd.cn", "A"), ("www.foo.gd.cn", "A"), ("www.foo.gd.cn", "TXT"), ("foo.gd.cn", "A"),
	    ("foo.gd.cn", "MX"), ("www.bar.gd.cn", "A"), ("www.deleg.gd.cn", "A"), ("deleg.gd.cn", "DS"),
	    ("deleg.gd.cn", "NS"), ("www.bad.gd.cn", "A"), ("*.gd.cn", "A"),
	    ("www.deleg2.gd.cn", "A"), ("deleg2.gd.cn", "NS"))
	# 0x20 mixed case
	add(("wWw.ExAmPlE.cN", "A"), ("Nx.ExAmPlE.Cn", "A"), ("X.DeLeG.example.CN", "A"),
	    ("WWW.D.DNAME.CN", "A"), ("A.Wild.Example.CN", "MX"), ("CNAME1.example.cn", "A"))
	return c


def minimal_any(ours):
	"""RFC 8482 s4: answer ANY with one RRset (or an HINFO); never the whole node."""
	if ours is None:
		return ["no answer to ANY"]
	if ours.rcode() != dns.rcode.NOERROR:
		return []
	owners = [r for r in ours.answer if r.name == ours.question[0].name]
	if len(owners) > 1:
		return ["ANY answer has %d RRsets (RFC 8482: one): %s" %
			(len(owners), ", ".join(dns.rdatatype.to_text(r.rdtype) for r in owners))]
	return []


def want_tc(ours):
	if ours is None:
		return ["no answer"]
	if not ours.flags & dns.flags.TC:
		return ["RFC 9471 s2.1: in-domain glue does not fit in 512 octets, TC must be set"]
	return []


def want_rcode(rcode, opcode):
	def check(ours):
		if ours is None:
			return ["no answer (want %s)" % dns.rcode.to_text(rcode)]
		p = []
		if ours.rcode() != rcode:
			p.append("rcode %s, want %s" % (dns.rcode.to_text(ours.rcode()), dns.rcode.to_text(rcode)))
		if ours.opcode() != opcode or not ours.flags & dns.flags.QR:
			p.append("opcode/QR not echoed")
		return p
	return check


def want_formerr_or_silence(ours, wire=None):
	if ours is None or ours.rcode() == dns.rcode.FORMERR:
		return []
	return ["want FORMERR or no answer, got %s" % dns.rcode.to_text(ours.rcode())]


def want_formerr_or_noerror_empty(ours):
	if ours is None:
		return ["no answer"]
	if ours.rcode() == dns.rcode.FORMERR or (ours.rcode() == dns.rcode.NOERROR and not ours.answer):
		return []
	return ["want FORMERR (or empty NOERROR), got %s" % dns.rcode.to_text(ours.rcode())]


def raw_header(qid, flags, qd, an=0, ns=0, ar=0):
	return struct.pack("!HHHHHH", qid, flags, qd, an, ns, ar)


def qsection(name, qtype=1):
	return dns.message.make_query(name, qtype, use_edns=False).to_wire()[12:]


def corpus():
	cases = []
	for name, qt in base_cases():
		for mode in ("udp", "udp1232", "tcp"):
			cases.append(Case(name, qt, mode))
	# buffer sizes where size matters
	for name, qt in (("bigtxt.example.cn", "TXT"), ("www.bigref.other.com.cn", "A"),
			 ("example.cn", "MX"), ("chain1.example.cn", "A"), ("longtxt.example.cn", "TXT")):
		for mode in ("udp512", "udp600", "udp1000", "udp4096", "udp65535", "udp100", "tcpedns"):
			cases.append(Case(name, qt, mode))
	# referral glue that cannot fit into 512 octets: NSD 4.6.1 drops glue and leaves TC clear
	for c in cases:
		if c.qname == "www.bigref.other.com.cn" and c.mode in ("udp", "udp512", "udp100"):
			c.compare, c.check = "rcode", want_tc
			c.exception = ("RFC 9471 s2.1 (2023, after NSD 4.6.1): all in-domain glue must be "
				       "sent or TC set; NSD 4.6.1 silently drops glue. Ours must set TC.")
	# RD set: copied back, no recursion
	for name, qt in (("www.example.cn", "A"), ("nx.example.cn", "A"), ("www.deleg.example.cn", "A"),
			 ("www.notours.cn", "A")):
		cases.append(Case(name, qt, "udp1232", rd=True))
		cases.append(Case(name, qt, "udp", rd=True))
	# qtype ANY (RFC 8482). NSD 4.6.1 already answers minimally (one RRset, no authority
	# section), so everything is compared except which RRset was picked: RFC 8482 s4.1 lets
	# the server choose. Ours must also be minimal; a different choice is only printed.
	for name in ("example.cn", "www.example.cn", "a.wild.example.cn", "nx.example.cn",
		     "ent.example.cn", "cname1.example.cn", "sub.example.cn", "d.dname.cn",
		     "to-revoked.chain.com.cn", "www.dn-revoked.chain.com.cn", "gd.cn",
		     "www.foo.gd.cn", "www.unfiled.cn", "to-gd-deleg.chain.com.cn"):
		for mode in ("udp", "udp1232", "tcp"):
			cases.append(Case(name, "ANY", mode, compare="any", check=minimal_any))
	# qname of the ANY case for a delegation: referral, fully comparable
	cases.append(Case("www.deleg.example.cn", "ANY", "udp1232"))
	# EDNS version 1 -> BADVERS (RFC 6891 s6.1.3)
	cases.append(Case("www.example.cn", "A", "udp1232", ednsver=1))
	cases.append(Case("nx.example.cn", "A", "udp1232", ednsver=1))
	cases.append(Case("www.notours.cn", "A", "udp1232", ednsver=1))
	cases.append(Case("www.example.cn", "A", "tcpedns", ednsver=1))
	# classes
	for qc, name, qt in (("CH", "example.cn", "SOA"), ("CH", "version.bind", "TXT"),
			     ("CH", "id.server", "TXT"), ("ANY", "www.example.cn", "A"),
			     ("ANY", "example.cn", "SOA"), ("HS", "www.example.cn", "A")):
		for mode in ("udp", "udp1232"):
			cases.append(Case(name, qt, mode, qclass=qc))
	# opcodes other than QUERY: NOTIMP (RFC 1035 s4.1.1). The question section of such an
	# answer is not compared: NSD drops it, and no RFC requires either form.
	for op in (dns.opcode.UPDATE, dns.opcode.STATUS, dns.opcode.IQUERY, 3, 15):
		for mode in ("udp", "udp1232", "tcp"):
			cases.append(Case("example.cn", "SOA", mode, opcode=op, compare="noquestion"))
	# NOTIFY: NSD implements it (RFC 1996) and REFUSEs a NOTIFY from a source outside its
	# allow-notify ACL. gatekeeperd without secondary zones does not implement NOTIFY, so
	# RFC 1035 s4.1.1 says NOTIMP (in transfer mode the source is the zone's primary: see
	# notify_from_primary). Only ours is checked.
	for mode in ("udp", "udp1232", "tcp"):
		cases.append(Case("example.cn", "SOA", mode, opcode=dns.opcode.NOTIFY, compare="none",
				  check=want_rcode(dns.rcode.NOTIMP, dns.opcode.NOTIFY),
				  exception="RFC 1996: NSD implements NOTIFY and answers REFUSED (ACL); "
				  "we do not implement it: NOTIMP (RFC 1035 s4.1.1)"))
	# malformed counts: two questions, no question (FORMERR per RFC 1035 / RFC 9619)
	q1, q2 = qsection("www.example.cn"), qsection("mail.example.cn")
	cases.append(Case("-", "-", "udp", raw=raw_header(0, 0, 2) + q1 + q2, label="QDCOUNT=2 (two questions)"))
	cases.append(Case("-", "-", "tcp", raw=raw_header(0, 0, 2) + q1 + q2, label="QDCOUNT=2 tcp"))
	cases.append(Case("-", "-", "udp", raw=raw_header(0, 0, 2) + q1 + q1, label="QDCOUNT=2 same question"))
	cases.append(Case("-", "-", "udp", raw=raw_header(0, 0, 0), label="QDCOUNT=0"))
	cases.append(Case("-", "-", "udp", raw=raw_header(0, 0x0100, 0), label="QDCOUNT=0 +rd"))
	# NSD closes a TCP connection carrying a QDCOUNT=0 query without answering; FORMERR
	# (RFC 1035 s4.1.1, as NSD itself answers over UDP) is equally right.
	cases.append(Case("-", "-", "tcp", raw=raw_header(0, 0, 0), label="QDCOUNT=0 tcp", compare="none",
			  check=want_formerr_or_silence,
			  exception="NSD drops QDCOUNT=0 over TCP; FORMERR or no answer accepted"))
	# NSD answers QDCOUNT=0 + OPT with NOERROR (its RFC 7873 s5.4 cookie/keepalive path, used
	# even without a COOKIE option). gatekeeperd has no cookies: FORMERR is right for us.
	opt = b"\x00" + struct.pack("!HHIH", 41, 1232, 0, 0)
	cases.append(Case("-", "-", "udp", raw=raw_header(0, 0, 0, ar=1) + opt, label="QDCOUNT=0 with OPT",
			  compare="none", check=want_formerr_or_noerror_empty,
			  exception="RFC 7873 s5.4: NSD answers NOERROR to QDCOUNT=0+OPT; we accept "
			  "FORMERR or an empty NOERROR"))
	cases.append(Case("-", "-", "udp", raw=raw_header(0, 0x0800 * 4, 0), label="QDCOUNT=0 NOTIFY",
			  compare="rcode"))
	only = os.environ.get("GK_DIFF_ONLY")
	if only:
		cases = [c for c in cases if only.lower() in c.label.lower()]
	return cases


# ---- normalisation ----

def parse(wire):
	if wire is None:
		return None
	try:
		return dns.message.from_wire(wire, ignore_trailing=True, raise_on_truncation=False)
	except Exception as e:  # keep what the header says
		return e


def header(wire):
	qid, flags, qd, an, ns, ar = struct.unpack("!HHHHHH", wire[:12])
	return flags, (qd, an, ns, ar)


def rrset_tuples(section):
	out = []
	for rrset in section:
		t = dns.rdatatype.to_text(rrset.rdtype)
		for rd in rrset:
			txt = rd.to_text()
			if t in NAME_TYPES:
				txt = txt.lower()
			out.append((rrset.name.to_text().lower(), rrset.ttl, dns.rdataclass.to_text(rrset.rdclass), t, txt))
	return sorted(out)


def aged(a, b, most=60):
	"""b (our normalised answer) with each record's TTL taken as a's (NSD's) where ours is
	that TTL less at most `most` seconds: the front end's packet cache hands an answer out
	with its TTLs decremented by the whole seconds it has held it (RFC 1035 / docs/FRONTEND.md),
	and a corpus run on a loaded machine crosses second boundaries."""
	for sec in ("answer", "authority", "additional"):
		if not isinstance(a.get(sec), list) or not isinstance(b.get(sec), list):
			continue
		theirs = {(t[0], t[2], t[3], t[4]): t[1] for t in a[sec]}
		out = []
		for t in b[sec]:
			ttl = theirs.get((t[0], t[2], t[3], t[4]))
			if ttl is not None and 0 <= ttl - t[1] <= most:
				t = (t[0], ttl) + t[2:]
			out.append(t)
		b[sec] = sorted(out)
	return b


def norm(case, wire):
	"""A comparable dict for one answer, according to case.compare."""
	if case.compare == "none":
		return {}
	if wire is None:
		return {"answer": None}
	if len(wire) < 12:
		return {"short": wire.hex()}
	flags, counts = header(wire)
	m = parse(wire)
	rcode = flags & 0xF
	if isinstance(m, dns.message.Message):
		rcode = m.rcode()
	n = {"rcode": dns.rcode.to_text(rcode) if rcode < 4096 else rcode}
	tc = bool(flags & dns.flags.TC)
	n["TC"] = tc
	if case.compare == "rcode":
		return {"rcode": n["rcode"]}
	if tc and case.compare in ("full", "tc", "any", "noquestion"):
		return n
	n["AA"] = bool(flags & dns.flags.AA)
	if case.compare == "rcode_aa":
		return n
	n["QR"] = bool(flags & dns.flags.QR)
	n["RD"] = bool(flags & dns.flags.RD)
	n["opcode"] = (flags >> 11) & 0xF
	if case.compare != "noquestion":
		n["counts.qd"] = counts[0]
	if not isinstance(m, dns.message.Message):
		n["parse"] = "unparseable: %s" % m
		return n
	if case.compare != "noquestion":
		n["question"] = sorted((q.name.to_text().lower(), dns.rdataclass.to_text(q.rdclass),
				dns.rdatatype.to_text(q.rdtype)) for q in m.question)
	n["answer"] = rrset_tuples(m.answer)
	if case.compare == "any":  # which RRset is picked is the server's choice (RFC 8482 s4.1)
		n["answer"] = len(set((t[0], t[3]) for t in n["answer"]))
	n["authority"] = rrset_tuples(m.authority)
	n["additional"] = rrset_tuples(m.additional)
	# EDNS options (NSD 4.6 adds RFC 8914 Extended DNS Errors) are shown, not compared.
	n["opt"] = None if m.edns < 0 else {"version": m.edns, "payload": m.payload}
	return n


def show(wire):
	if wire is None:
		return "    (no answer)"
	m = parse(wire)
	if isinstance(m, dns.message.Message):
		return "\n".join("    " + l for l in m.to_text().splitlines())
	return "    unparseable (%s): %s" % (m, wire.hex())


def ask(srv, case, qid):
	wire = case.wire(qid)
	if case.tcp:
		return wire, h.tcp_raw(wire, srv.port, timeout=2.0)
	return wire, h.udp_raw(wire, srv.port, timeout=1.0)


# ---- filing mode: what the filing check makes of NSD's answer ----

def reg_of(name):
	"""Registrable domain of a dns.name.Name as text (lowercase), or None for a public
	suffix or the root. Labels as on the wire: a '.' byte in a label is data."""
	labels = tuple(l.lower() for l in name.labels if l)
	best = 1  # the implicit "*" rule: the TLD is a suffix
	for k in range(1, len(labels) + 1):
		if labels[-k:] in SUFFIXES:
			best = k
	if len(labels) <= best:
		return None
	return dns.name.Name(labels[-best - 1:] + (b"",)).to_text(omit_final_dot=True)


def refused_reg(name):
	"""The name's registrable domain when the filing check refuses it, else None."""
	r = reg_of(name)
	return r if r is not None and STATUS.get(r) != "filed" else None


def zone_of(name):
	"""The deepest served zone holding name, or None."""
	best = None
	for z, _ in ALL_ZONES:
		zn = dns.name.from_text(z)
		if name.is_subdomain(zn) and (best is None or len(zn) > len(best)):
			best = zn
	return best


def expected_filed(nsd_wire):
	"""NSD's answer as the filing check leaves it for a query whose own domain passes."""
	m = parse(nsd_wire)
	if not isinstance(m, dns.message.Message) or m.flags & dns.flags.TC:
		return nsd_wire
	cut = False
	answer = []
	for rrset in m.answer:  # in chain order: the chain stops before a refused domain
		if refused_reg(rrset.name):
			cut = True
			break
		answer.append(rrset)
	if not cut and any(refused_reg(r.name) for r in m.authority):
		cut = True  # the chain's last name: its zone's SOA or a referral into a refused domain
	m.answer = answer
	if cut:
		m.authority, m.additional = [], []
		m.set_rcode(dns.rcode.NOERROR)
	else:
		m.additional = [r for r in m.additional if not refused_reg(r.name)]
	return m.to_wire()


def ede_codes(m):
	return [o.code for o in m.options if o.otype == dns.edns.EDE] if m.edns >= 0 else []


def check_refusal(case, gw, why, soa=True):
	"""A refused name: REFUSED (unfiled) or NXDOMAIN with its zone's SOA (revoked), nothing
	else, EDE 15 when the query had EDNS."""
	m = parse(gw)
	if not isinstance(m, dns.message.Message):
		return ["no parseable answer for a refused name (%s)" % why]
	p = []
	want = dns.rcode.NXDOMAIN if why == "revoked" else dns.rcode.REFUSED
	if m.rcode() != want:
		p.append("rcode %s, want %s (%s)" % (dns.rcode.to_text(m.rcode()), dns.rcode.to_text(want), why))
	if m.answer or m.additional:
		p.append("records in answer/additional of a refused name")
	zone = zone_of(m.question[0].name) if m.question else None
	if why == "revoked" and not soa:
		if m.authority:
			p.append("authority records in a front end's refusal")
	elif why == "revoked":
		if len(m.authority) != 1 or m.authority[0].rdtype != dns.rdatatype.SOA or \
				m.authority[0].name != zone:
			p.append("authority is not the SOA of %s" % zone)
	elif m.authority:
		p.append("authority records in a REFUSED answer")
	if case.mode not in ("udp", "tcp") and ede_codes(m) != [15]:
		p.append("EDE %s, want [15]" % ede_codes(m))
	return p


def filing_setup(tmp, gkbin, gksync):
	"""redis-server with the STATUS set applied by gk-sync; gatekeeperd following it."""
	redis = h.start_redis(tmp)
	try:
		feed = h.Feed(gksync, tmp, redis.port)
		feed.snapshot(1, sorted(STATUS.items()))
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: diff-%d\n"
			 "filing:\n  startup: refuse\n" % (redis.port, os.getpid()))
		gk = h.start_gk(gkbin, tmp, zones=ALL_ZONES, extra=extra)
	except Exception:
		redis.stop()
		raise
	# the replica is loaded once a filed name answers
	q = dns.message.make_query("www.example.cn", "A")
	deadline = time.monotonic() + 20
	while True:
		try:
			r = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=0.5)
			if r.rcode() == dns.rcode.NOERROR:
				break
		except dns.exception.Timeout:
			pass
		if time.monotonic() > deadline or not gk.alive():
			gk.stop()
			redis.stop()
			raise RuntimeError("the filing replica did not load:\n" + gk.log_text())
		time.sleep(0.05)
	return redis, gk


def frontend_setup(tmp, gkbin, gksync, nsd):
	"""redis-server with the STATUS set; gatekeeperd forwarding every fixture zone to nsd."""
	redis = h.start_redis(tmp)
	gk = None
	try:
		feed = h.Feed(gksync, tmp, redis.port)
		feed.snapshot(1, sorted(STATUS.items()))
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: difffe-%d\n"
			 "filing:\n  startup: refuse\n"
			 "pools:\n  - name: nsd\n    backends: [\"127.0.0.1:%d\"]\n"
			 "    check: {name: example.cn, interval_ms: 1000}\n" % (redis.port, os.getpid(), nsd.port))
		port = h.free_port()
		conf = h.gk_config(tmp, port, zones=[], extra=extra)
		text = open(conf).read().replace("zones: []\n", "zones:\n" + "".join(
			"  - {name: %s, forward: nsd}\n" % z for z, _ in ALL_ZONES))
		open(conf, "w").write(text)
		gk = h.Server("gatekeeperd", [gkbin, "-c", conf], tmp, port, os.path.join(tmp, "gk.log"))
		q = dns.message.make_query("www.example.cn", "A").to_wire()

		def relayed():
			w = h.udp_raw(q, port, timeout=0.5)
			return w is not None and dns.message.from_wire(w).rcode() == dns.rcode.NOERROR
		h.wait_for("the front end's replica loaded (a filed name relayed)", relayed, timeout=60,
			   proc=gk)
	except Exception:
		if gk is not None:
			h.log(gk.log_text()[-2000:])
			gk.stop()
		redis.stop()
		raise
	return redis, gk


def frontend_case(c):
	"""A corpus case the front-end mode sends: a plain query a backend answers."""
	return (c.raw is None and c.qclass == "IN" and c.opcode == 0 and c.ednsver == 0 and
		c.qtype != "ANY" and c.compare == "full" and c.check is None)


def transfer_setup(tmp, binary, zonedir=h.ZONEDIR, zones=ALL_ZONES):
	"""An NSD primary of zones (every fixture zone by default) and gatekeeperd as its
	secondary, started once every zone is served by transfer (SOA answered with the
	primary's serial)."""
	ptmp, gtmp = os.path.join(tmp, "primary"), os.path.join(tmp, "secondary")
	for d in (ptmp, gtmp):
		os.mkdir(d)
	for attempt in range(3):
		pport = h.free_port()
		conf = h.nsd_config(ptmp, pport, zonedir=zonedir, zones=zones)
		with open(conf) as f:
			text = f.read()
		with open(conf, "w") as f:
			f.write(re.sub(r'(\tzonefile: "[^"]*"\n)', r'\1\tprovide-xfr: 127.0.0.1 NOKEY\n',
				       text))
		primary = h.Server("nsd", [h.NSD, "-d", "-c", conf], ptmp, pport,
				   os.path.join(ptmp, "nsd.log"))
		try:
			primary.wait_ready()
			break
		except RuntimeError:
			primary.stop()
			if attempt == 2:
				raise
	sec = ["secondary:", "  directory: %s" % os.path.join(gtmp, "zones"), "  zones:"]
	sec += ["    - {name: %s, primaries: [\"127.0.0.1:%d\"]}" % (z, pport) for z, _ in zones]
	gk = h.start_gk(binary, gtmp, zones=[], ready=False, extra="\n".join(sec) + "\n")
	want = {}
	for z, _ in zones:
		r = dns.query.udp(dns.message.make_query(z, "SOA"), "127.0.0.1", port=primary.port,
				  timeout=2.0)
		want[z] = r.answer[0][0].serial if r.answer else None
	deadline = time.monotonic() + 30.0  # a bound for failure only: each zone ends the wait
	for z, _ in zones:
		while True:
			try:
				r = dns.query.udp(dns.message.make_query(z, "SOA"), "127.0.0.1",
						  port=gk.port, timeout=0.5)
				if r.rcode() == 0 and r.answer and r.answer[0][0].serial == want[z]:
					break
			except (dns.exception.Timeout, OSError):
				pass
			if time.monotonic() > deadline or not gk.alive():
				log = gk.log_text()
				gk.stop()
				primary.stop()
				raise RuntimeError("zone %s did not arrive by transfer:\n%s" % (z, log))
			time.sleep(0.05)
	return primary, gk


def notify_from_primary(ours):
	"""Transfer mode: a NOTIFY from the primary's address for a secondary zone is answered
	NOERROR with AA, as NSD answers one its allow-notify ACL accepts (RFC 1996 s3.7)."""
	p = want_rcode(dns.rcode.NOERROR, dns.opcode.NOTIFY)(ours)
	if ours is not None and not ours.flags & dns.flags.AA:
		p.append("AA clear on a NOTIFY answer")
	return p


def run_mode(mode, nsd, ours, cases, verbose):
	"""Send every case to both; returns (mismatches, problems, echo)."""
	mismatches, problems, echo = [], [], []
	for i, case in enumerate(cases):
		qid = 0x1000 + i
		qwire, nw = ask(nsd, case, qid)
		_, gw = ask(ours, case, qid)
		refused = None
		if mode in ("filing", "frontend") and case.raw is None and case.qclass == "IN":
			qn = dns.name.from_text(case.qname)
			r = refused_reg(qn)
			if r is not None and zone_of(qn) is not None:
				refused = STATUS.get(r, "unfiled")
			elif nw is not None:
				nw = expected_filed(nw)
		if verbose:
			h.log("== [%s] %s\n-- NSD%s:\n%s\n-- ours:\n%s" % (
				mode, case.label, " (as the filing check leaves it)" if mode != "plain" else "",
				show(nw), show(gw)))
		if refused:
			for p in check_refusal(case, gw, refused, soa=mode != "frontend"):
				problems.append((case, gw, "[%s] %s" % (mode, p)))
		else:
			a, b = norm(case, nw), norm(case, gw)
			if mode == "frontend":
				b = aged(a, b)
			if a != b:
				mismatches.append((mode, case, nw, gw, a, b))
			elif case.compare == "any" and norm(Case("", compare="full"), nw) != \
					norm(Case("", compare="full"), gw):
				h.log("note: [%s] %s: NSD and ours picked different RRsets (allowed)" % (mode, case.label))
			check = case.check
			if mode == "transfer" and case.opcode == dns.opcode.NOTIFY:
				check = notify_from_primary
			if check:
				gm = parse(gw)
				for p in check(gm if isinstance(gm, dns.message.Message) else None):
					problems.append((case, gw, "[%s] %s" % (mode, p)))
		# the question section must echo the query's bytes (0x20 case included)
		qb = h.question_bytes(qwire)
		for who, w in (("NSD", nw), ("ours", gw)):
			if w is not None and qb is not None and h.question_bytes(w) not in (None, qb) \
			   and header(w)[1][0] == 1:
				echo.append((case, who, qb, h.question_bytes(w)))
		if gw is not None and len(gw) >= 2 and gw[:2] != qwire[:2]:
			problems.append((case, gw, "ID not echoed"))
	if not ours.alive():
		problems.append((Case("-", label="server"), None, "%s died during the %s run" % (ours.name, mode)))
	return mismatches, problems, echo


def main(argv):
	if len(argv) not in (2, 3) or (argv[1] != "nsd" and len(argv) != 3):
		print("usage: test_differential.py GATEKEEPERD GK_SYNC | nsd")
		return 2
	target = argv[1]
	verbose = bool(os.environ.get("GK_DIFF_VERBOSE"))
	cases = corpus()
	mismatches, problems, echo = [], [], []
	with h.TempDir("gk-diff-") as tmp:
		ntmp, gtmp, ftmp, fetmp = (os.path.join(tmp, d) for d in ("nsd", "gk", "filing", "fe"))
		for d in (ntmp, gtmp, ftmp, fetmp):
			os.mkdir(d)
		with h.start_nsd(ntmp, zones=ALL_ZONES) as nsd:
			if target == "nsd":
				ours = h.start_nsd(gtmp, zones=ALL_ZONES)
			else:
				ours = h.start_gk(target, gtmp, zones=ALL_ZONES)
			with ours:
				h.log("NSD on %d, %s on %d; %d queries" % (nsd.port, ours.name, ours.port, len(cases)))
				for acc, got in zip((mismatches, problems, echo),
						    run_mode("plain", nsd, ours, cases, verbose)):
					acc.extend(got)
			if target != "nsd":
				primary, gk = transfer_setup(tmp, target)
				with primary, gk:
					h.log("transfer mode: %s on %d, secondary of NSD on %d; %d queries" % (
						gk.name, gk.port, primary.port, len(cases)))
					for acc, got in zip((mismatches, problems, echo),
							    run_mode("transfer", nsd, gk, cases, verbose)):
						acc.extend(got)
				redis, gk = filing_setup(ftmp, target, argv[2])
				with redis, gk:
					h.log("filing mode: %s on %d, redis on %d; %d queries" % (
						gk.name, gk.port, redis.port, len(cases)))
					for acc, got in zip((mismatches, problems, echo),
							    run_mode("filing", nsd, gk, cases, verbose)):
						acc.extend(got)
				fcases = [c for c in cases if frontend_case(c)]
				redis, gk = frontend_setup(fetmp, target, argv[2], nsd)
				with redis, gk:
					h.log("frontend mode: %s on %d in front of NSD on %d, redis on %d; %d queries" % (
						gk.name, gk.port, nsd.port, redis.port, len(fcases)))
					for acc, got in zip((mismatches, problems, echo),
							    run_mode("frontend", nsd, gk, fcases, verbose)):
						acc.extend(got)
	for mode, case, nw, gw, a, b in mismatches:
		keys = sorted(set(a) | set(b), key=str)
		diff = ["%s: NSD=%r ours=%r" % (k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]
		h.log("\nMISMATCH [%s] %s%s\n  %s\n  -- NSD answer%s:\n%s\n  -- our answer:\n%s" % (
			mode, case.label, "  [exception: %s]" % case.exception if case.exception else "",
			"\n  ".join(diff), " (as the filing check leaves it)" if mode != "plain" else "",
			show(nw), show(gw)))
	for case, gw, p in problems:
		h.log("\nPROBLEM %s: %s\n  -- our answer:\n%s" % (case.label, p, show(gw)))
	for case, who, qb, got in echo:
		h.log("\nQUESTION ECHO %s: %s sent question %s, query had %s" % (case.label, who, got.hex(), qb.hex()))
	h.log("\n%d queries per mode, %d mismatches, %d RFC/filing problems, %d question-echo errors" % (
		len(cases), len(mismatches), len(problems), len(echo)))
	return 1 if mismatches or problems or echo else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
