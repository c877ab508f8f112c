#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_dnssec_resolver.py -- signed zones behind a validating resolver.
#
# The signed test zones (dnssec_zones.py) are served by gatekeeperd with the filing check:
# signed.cn, nsec3.cn and bind.cn (signed by BIND, NSEC3 with iterations) filed, optout.cn unfiled (its rule: NXDOMAIN), and a policy that
# blocks one name of a filed zone with NXDOMAIN and redirects another. Debian's Unbound
# validates (module-config "validator iterator", the zones' KSKs as trust anchors, a stub
# zone per zone pointing at gatekeeperd). Asserted (policy/README.md "Signed zones"):
#   - filed names come back secure (AD): data, a wildcard, a CNAME chain across two signed
#     zones, a signed child reached through its DS; NXDOMAIN and NODATA validate (AD) with
#     NSEC, NSEC3 and NSEC3 opt-out;
#   - a refused name in a signed zone, whatever its action (the unfiled rule's NXDOMAIN, a
#     list's NXDOMAIN, a redirect), is REFUSED with its EDE from gatekeeperd and SERVFAIL
#     from Unbound without a DNSSEC failure (no EDE 1-12: not bogus), with no record in
#     any section; the same zone's filed names keep validating.
# Exits 77 (skipped) when unbound is not installed.
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dnssec_zones  # noqa: E402
import test_resolver as tr  # noqa: E402
import unboundstub as us  # noqa: E402

import dns.flags  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

FILED = {"signed.cn": 1, "nsec3.cn": 1, "bind.cn": 1}  # optout.cn: not in the set (unfiled)
POLICY = """mode: enforce
unfiled: {action: nxdomain, ede: 15, text: "ICP filing required"}
redirect: {a: [192.0.2.80], ttl: 300}
lists:
  - {file: block.txt, kind: block, action: nxdomain, ede: 17, text: "blocked"}
  - {file: redir.txt, kind: block, action: redirect, ede: 17, text: "redirected"}
"""


def ask(port, name, qtype="A", timeout=us.STUB_TIMEOUT):
	"""A validating stub's query: RD, EDNS 1232, DO."""
	return us.ask(port, name, qtype, timeout, dnssec=True)


def main():
	gk_bin = sys.argv[1]
	if not us.installed():
		print("SKIP: %s is not installed (Debian package unbound; scripts/deps.sh installs it): "
		      "the DNSSEC resolver test did not run" % us.UNBOUND, flush=True)
		sys.exit(77)
	failures = []

	def expect(cond, what):
		if not cond:
			failures.append(what)
			h.log("FAIL: " + what)

	with h.TempDir("gk-dnssec-res-") as tmp:
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		zones, anchors, _ = dnssec_zones.make(zdir)
		rsrv = h.start_redis(tmp)
		r = redis.Redis(host="127.0.0.1", port=rsrv.port, decode_responses=True)
		with rsrv:
			for d, st in FILED.items():
				r.hset("gk:st:%04x" % h.status_bucket(d), d, (1 << 2) | st)
			r.set("gk:serial", 1)
			r.xadd("gk:changes", {"k": "serial", "s": 1})
			with open(os.path.join(tmp, "policy.yaml"), "w") as f:
				f.write(POLICY)
			with open(os.path.join(tmp, "block.txt"), "w") as f:
				f.write("zz.signed.cn\n")
			with open(os.path.join(tmp, "redir.txt"), "w") as f:
				f.write("txt.nsec3.cn\n")
			extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: dnssec-resolver\n"
				 "filing:\n  startup: refuse\npolicy:\n  file: %s\n" % (
					 rsrv.port, os.path.join(tmp, "policy.yaml")))
			gk = h.start_gk(gk_bin, tmp, zonedir=zdir, zones=zones, extra=extra, ready=False)
			with gk:
				h.wait_for("the replica's first load",
					    lambda: r.hget("gk:inst:dnssec-resolver", "state") == "ready")
				ub = us.start(tmp, gk.port, [z for z, _ in zones], "www.signed.cn",
					      [a for a in anchors if not a.startswith("child.")])
				with ub:
					run(gk, ub, expect)
				if failures:
					h.log("unbound log:\n" + ub.log_text()[-6000:])
	if failures:
		h.log("\n%d failures:\n  %s" % (len(failures), "\n  ".join(failures)))
		return 1
	h.log("ok")
	return 0


def run(gk, ub, expect):
	def show(m):
		if m is None:
			return "(no answer)"
		return "%s%s %s" % (dns.rcode.to_text(m.rcode()), " AD" if m.flags & dns.flags.AD else "",
				    [rd.to_text() for rr in m.answer for rd in rr if rr.rdtype != 46])

	# secure answers: data, wildcard, CNAME across two signed zones, the signed child
	for name, qtype, rcode, data in (
			("www.signed.cn", "A", "NOERROR", "192.0.2.10"),
			("www.nsec3.cn", "AAAA", "NOERROR", "2001:db8::10"),
			("a.wild.signed.cn", "A", "NOERROR", "192.0.2.20"),
			("x.wild.nsec3.cn", "TXT", "NOERROR", '"wild"'),
			("tonext.signed.cn", "A", "NOERROR", "192.0.2.10"),
			("www.child.signed.cn", "A", "NOERROR", "192.0.2.51"),
			("nx.signed.cn", "A", "NXDOMAIN", None),
			("a.b.nx.nsec3.cn", "A", "NXDOMAIN", None),
			("www.signed.cn", "MX", "NOERROR", None),
			("ent.nsec3.cn", "A", "NOERROR", None),
			("a.wild.signed.cn", "MX", "NOERROR", None),
			("deep.ent.signed.cn", "TXT", "NOERROR", None),
			("nx.child.signed.cn", "A", "NXDOMAIN", None),
			("www.bind.cn", "A", "NOERROR", "192.0.2.10"),
			("nx.bind.cn", "A", "NXDOMAIN", None),
			("a.wild.bind.cn", "TXT", "NOERROR", '"wild"'),
			("www.bind.cn", "TXT", "NOERROR", None)):
		m = ask(ub.port, name, qtype)
		h.log("%-22s %-4s unbound: %s" % (name, qtype, show(m)))
		ok = m is not None and dns.rcode.to_text(m.rcode()) == rcode and bool(m.flags & dns.flags.AD)
		got = [rd.to_text() for rr in m.answer for rd in rr if rr.rdtype != 46] if m else []
		ok = ok and (data in got if data else not got)
		expect(ok, "%s %s: want %s%s with AD through the validator, got %s" % (
			name, qtype, rcode, " " + data if data else "", show(m)))

	# refused names of signed zones: REFUSED + EDE from gatekeeperd whatever the action;
	# Unbound: SERVFAIL, not bogus; nothing of the name in any section
	for name, qtype, code in (("www.optout.cn", "A", 15), ("nx.optout.cn", "A", 15),
				  ("optout.cn", "SOA", 15), ("zz.signed.cn", "A", 17),
				  ("txt.nsec3.cn", "A", 17), ("txt.nsec3.cn", "TXT", 17)):
		d = ask(gk.port, name, qtype)
		e = tr.ede(d) if d is not None else None
		expect(d is not None and d.rcode() == dns.rcode.REFUSED and e is not None and e[0] == code
		       and not d.answer and not d.authority and len(d.additional) == 0,
		       "%s %s from gatekeeperd: want REFUSED with EDE %d and no records, got %s EDE %r" % (
			       name, qtype, code, show(d), e))
		u = ask(ub.port, name, qtype)
		ue = tr.ede(u) if u is not None else None
		h.log("%-22s %-4s gatekeeperd: %s EDE %r; unbound: %s EDE %r" % (name, qtype, show(d), e, show(u), ue))
		expect(u is not None and u.rcode() == dns.rcode.SERVFAIL and not u.answer,
		       "%s %s through unbound: want SERVFAIL, got %s" % (name, qtype, show(u)))
		expect(ue is None or not 1 <= ue[0] <= 12,
		       "%s %s: unbound reports a DNSSEC failure (EDE %r): the refusal reads as bogus" % (
			       name, qtype, ue))
	# the refused names' zones still validate for their filed names
	for name in ("www.signed.cn", "www.nsec3.cn"):
		m = ask(ub.port, name, "A")
		expect(m is not None and m.rcode() == dns.rcode.NOERROR and m.flags & dns.flags.AD,
		       "%s after the refusals: %s" % (name, show(m)))


if __name__ == "__main__":
	sys.exit(main())
