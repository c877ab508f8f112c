# SPDX-License-Identifier: MIT
# tests/integration/test_resolver.py -- what a person behind a recursive resolver sees for
# each action: Debian's Unbound in front of gatekeeperd.
#
# A private redis-server holds the filing status (ok.cn filed, rev.cn revoked, unf.cn
# unfiled); gatekeeperd serves the three zones with a policy that has one block list per
# action (refuse, nxdomain, nodata, redirect, drop) over names of the filed zone ok.cn;
# Unbound (iterator only: no DNSSEC validation) runs as a private process on a free loopback
# port with a stub-zone per zone pointing to gatekeeperd. Each name is asked of gatekeeperd
# directly and through Unbound with dnspython, and the observed shapes are asserted
# (policy/README.md "Behind a recursive resolver" is the table):
#   - refuse (and the unfiled rule): gatekeeperd's REFUSED comes back from Unbound as
#     SERVFAIL, without the Extended DNS Error (ede: yes in Unbound 1.17 adds none), and it
#     is not cached: once the name is unblocked Unbound resolves it at once;
#   - nxdomain and nodata: passed through with the zone's SOA, cached with the SOA's negative
#     TTL (min of its TTL and MINIMUM: still NXDOMAIN from Unbound after the unblock); no EDE;
#   - redirect (a list, and the revoked rule): the notice page's A and AAAA, NODATA for MX;
#   - drop: no answer within a stub resolver's timeout;
#   - filed names, and the zone's other names after each refusal and drop, keep resolving.
# Skips (exit 77, shown by ctest as skipped) when unbound is not installed; scripts/deps.sh
# installs it. Every server is started here on free loopback ports and stopped by PID.
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import unboundstub as us  # noqa: E402
import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)


# SOA TTL 600, MINIMUM 300: a negative answer is cached for 300 s (RFC 2308)
SOA = "@ 600 SOA ns1.nic.example. hostmaster.nic.example. 1 3600 600 86400 300\n@ NS ns1.nic.example.\n"
ZONES = {
	"ok.cn": SOA + "www A 192.0.2.1\n* A 192.0.2.1\n",
	"unf.cn": SOA + "www A 192.0.2.2\n",
	"rev.cn": SOA + "www A 192.0.2.3\nwww MX 10 www\n",
}
FILED = {"ok.cn": 1, "rev.cn": 2}
ACTIONS = ("refuse", "nxdomain", "nodata", "redirect", "drop")
POLICY = """mode: enforce
unfiled: {action: refuse, ede: 15, text: "ICP filing required"}
revoked: {action: redirect, ede: 18, text: "ICP filing revoked"}
redirect: {a: [192.0.2.80], aaaa: ["2001:db8::80"], ttl: 300}
lists:
""" + "".join("  - {file: %s.txt, kind: block, action: %s, ede: 17, text: \"blocked: %s\"}\n" % (a, a, a)
	      for a in ACTIONS)


def listed(action):
	"""The names of the action's block list: two, each one label below the zone (QNAME
	minimisation asks them as they are)."""
	short = {"refuse": "rf", "nxdomain": "nx", "nodata": "nd", "redirect": "rd", "drop": "dr"}
	return ["%s%d.ok.cn" % (short[action], i) for i in (1, 2)]


def ask(port, name, qtype="A", timeout=us.STUB_TIMEOUT):
	"""A stub resolver's query (RD set, EDNS 1232): the response, or None on timeout."""
	return us.ask(port, name, qtype, timeout)


def ede(msg):
	for o in msg.options:
		if o.otype == 15:
			w = o.to_wire()
			return int.from_bytes(w[:2], "big"), w[2:].decode("utf-8", "replace")
	return None


def shape(m):
	"""(rcode, answer rdata texts, SOA TTL in authority or None, EDE) of a response."""
	if m is None:
		return ("no answer", [], None, None)
	rrs = sorted(rd.to_text() for rr in m.answer for rd in rr)
	soa = [rr.ttl for rr in m.authority if rr.rdtype == dns.rdatatype.SOA]
	return (dns.rcode.to_text(m.rcode()), rrs, soa[0] if soa else None, ede(m))


def main():
	gk_bin = sys.argv[1]
	if not us.installed():
		print("SKIP: %s is not installed (Debian package unbound; scripts/deps.sh installs it): "
		      "the resolver test did not run" % us.UNBOUND, flush=True)
		sys.exit(77)
	table = []
	with h.TempDir("gk-resolver-") as tmp:
		rsrv = h.start_redis(tmp)
		r = redis.Redis(host="127.0.0.1", port=rsrv.port, decode_responses=True)
		for d, st in FILED.items():
			r.hset("gk:st:%04x" % h.status_bucket(d), d, (1 << 2) | st)
		r.set("gk:serial", 1)
		r.xadd("gk:changes", {"k": "serial", "s": 1})
		zones = []
		for z, text in ZONES.items():
			with open(os.path.join(tmp, z + ".zone"), "w") as f:
				f.write("$ORIGIN %s.\n$TTL 300\n%s" % (z, text))
			zones.append((z, z + ".zone"))
		with open(os.path.join(tmp, "policy.yaml"), "w") as f:
			f.write(POLICY)
		for a in ACTIONS:
			with open(os.path.join(tmp, a + ".txt"), "w") as f:
				f.write("".join(n + "\n" for n in listed(a)))
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: resolver\n"
			 "filing:\n  startup: refuse\npolicy:\n  file: %s\n" % (rsrv.port, os.path.join(tmp, "policy.yaml")))
		gk = h.start_gk(gk_bin, tmp, zonedir=tmp, zones=zones, extra=extra, ready=False)
		h.wait_for("the replica's first load", lambda: r.hget("gk:inst:resolver", "state") == "ready")
		ub = us.start(tmp, gk.port, ZONES, "www.ok.cn")

		def both(name, qtype="A"):
			d, u = shape(ask(gk.port, name, qtype)), shape(ask(ub.port, name, qtype))
			table.append((name, qtype, d, u))
			h.log("%-16s %-4s gatekeeperd %-40r unbound %r" % (name, qtype, d, u))
			return d, u

		def zone_still_resolves(after):
			fresh = "after-%s-%d.ok.cn" % (after, len(table))
			d, u = both(fresh)
			assert u[:2] == ("NOERROR", ["192.0.2.1"]), "after %s, %s through unbound: %r" % (after, fresh, u)

		# filed: answered
		d, u = both("www.ok.cn")
		assert d[:2] == u[:2] == ("NOERROR", ["192.0.2.1"]), (d, u)

		# refuse, and the unfiled rule: SERVFAIL, the EDE lost
		for name, want_ede in ((listed("refuse")[0], (17, "blocked: refuse")),
				       ("www.unf.cn", (15, "ICP filing required"))):
			d, u = both(name)
			assert d == ("REFUSED", [], None, want_ede), d
			assert u[0] == "SERVFAIL" and u[1] == [], u
			assert u[3] is None or u[3][0] not in (15, 16, 17, 18), \
				"unbound passed the reason on (%r): update policy/README.md" % (u[3],)
			zone_still_resolves("refuse")

		# nxdomain and nodata: passed through, negative TTL = min(SOA TTL 600, MINIMUM 300)
		for action, rc in (("nxdomain", "NXDOMAIN"), ("nodata", "NOERROR")):
			d, u = both(listed(action)[0])
			assert d[:3] == (rc, [], 300) and d[3] == (17, "blocked: " + action), d
			assert u[:2] == (rc, []) and u[2] is not None and 0 < u[2] <= 300, u
			assert u[3] is None, "unbound passed the EDE on (%r): update policy/README.md" % (u[3],)

		# redirect, and the revoked rule: the notice page; NODATA for other types
		for name in (listed("redirect")[0], "www.rev.cn"):
			for qtype, want in (("A", ["192.0.2.80"]), ("AAAA", ["2001:db8::80"]), ("MX", [])):
				d, u = both(name, qtype)
				assert d[:2] == u[:2] == ("NOERROR", want), (name, qtype, d, u)
				assert u[3] is None, (name, qtype, u)

		# drop: nothing within a stub's timeout (gatekeeperd got the query and sent nothing)
		d, u = both(listed("drop")[0])
		assert d[0] == "no answer" and u[0] in ("no answer", "SERVFAIL"), (d, u)
		zone_still_resolves("drop")

		# caching: unblock every list, then ask again. The refusal was not cached (resolves
		# at once); the NXDOMAIN and NODATA are, until their negative TTL runs out.
		for a in ACTIONS:
			open(os.path.join(tmp, a + ".txt"), "w").close()
		gk.signal(signal.SIGHUP)
		h.wait_for("the unblock in force", lambda: shape(ask(gk.port, listed("nxdomain")[0], timeout=0.5))[0] == "NOERROR")
		d, u = both(listed("refuse")[0])
		assert u[:2] == ("NOERROR", ["192.0.2.1"]), "a refusal was cached by unbound: %r" % (u,)
		for action, rc in (("nxdomain", "NXDOMAIN"), ("nodata", "NOERROR")):
			d, u = both(listed(action)[0])
			assert d[:2] == ("NOERROR", ["192.0.2.1"]), d
			assert u[:2] == (rc, []) and u[2] is not None and u[2] <= 300, \
				"%s: unbound did not answer from its negative cache: %r" % (action, u)
		# a name of the same list that was never asked resolves at once
		d, u = both(listed("nxdomain")[1])
		assert u[:2] == ("NOERROR", ["192.0.2.1"]), u

		assert gk.alive() and "ERROR: AddressSanitizer" not in gk.log_text()
		assert ub.alive(), ub.log_text()
		ub.stop()
		gk.stop()
		rsrv.stop()
	h.log("observed (name, type, gatekeeperd, unbound):")
	for row in table:
		h.log("  %r" % (row,))
	h.log("ok")


if __name__ == "__main__":
	main()
