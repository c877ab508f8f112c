# SPDX-License-Identifier: MIT
# tests/integration/test_lookup.py -- `gkctl lookup` reports the decision gatekeeperd makes.
#
# A private redis-server holds the filing status (filed, revoked, and nothing for the
# unfiled zone); gatekeeperd serves five zones with a policy whose block list also names a
# domain we do not serve. For each case the running daemon is asked over UDP with dnspython
# and `gkctl lookup` with the same config: the rcode and Extended DNS Error of lookup's
# "answer" and "ede" lines must be the daemon's, and the lines before them must tell the
# decision in the order the daemon makes it (DESIGN.md "The decision, in order"):
#   - a name outside every zone: "not a served zone → REFUSED", no list rule, no action;
#   - names given with escapes (\. \\ \000 \065): parsed into wire labels, printed back
#     with the same escapes; a registrable domain whose label holds a '.' byte is unfiled
#     (no feed record can name it), never split into other labels;
#   - filed, unfiled, revoked, blocked, allowed names; a CNAME into another served domain
#     (its status is fetched too, as the daemon's answer depends on it);
#   - a DNAME into a revoked domain, DS at a served child's apex, a wildcard at a public
#     suffix (filed and unfiled domains below it) and the registry's own apex.
# Also: a config file that does not exist exits 3 (I/O error) and names the file; `gkctl
# status` flags an instance that runs a policy file once a fleet version exists.
# Every server is started here on free loopback ports and stopped by PID.
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.exception  # noqa: E402
import dns.message  # noqa: E402
import dns.name  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

SOA = "@ SOA ns1.nic.example. hostmaster.nic.example. 1 3600 600 86400 300\n@ NS ns1.nic.example.\n"
ZONES = {
	"example.cn": SOA + "www A 192.0.2.1\n"
			    "dot\\.inlabel A 192.0.2.2\n"
			    "a\\000b\\\\c A 192.0.2.3\n"
			    "blocked A 192.0.2.4\n"
			    "to-other CNAME www.other.cn.\n"
			    "to-unfiled CNAME www.unfiled.cn.\n"
			    "dn-revoked DNAME revoked.cn.\n"
			    "child NS ns1.child\nns1.child A 192.0.2.5\n",
	"child.example.cn": SOA + "www A 192.0.2.6\n",
	"other.cn": SOA + "www A 192.0.2.10\n",
	"unfiled.cn": SOA + "www A 192.0.2.20\nallowed A 192.0.2.21\n",
	"revoked.cn": SOA + "www A 192.0.2.30\n",
	# a zone below a public suffix label that holds a '.': its registrable domain is the
	# 11-octet label "dot.inlabel" + cn, which no feed record can name
	"com.cn": SOA + "www.dot\\.inlabel A 192.0.2.40\n* A 192.0.2.41\n",
}
FILED = {"example.cn": 1, "other.cn": 1, "revoked.cn": 2, "inlabel.com.cn": 1, "foo.com.cn": 1}

POLICY = """mode: enforce
unfiled: {action: refuse, ede: 15, text: "ICP filing required"}
revoked: {action: nxdomain, ede: 18, text: "ICP filing revoked"}
lists:
  - {file: block.txt, format: plain, kind: block, action: nxdomain, ede: 17, text: "blocked by operator"}
  - {file: allow.txt, format: plain, kind: allow}
"""
BLOCK = ".example.org\nblocked.example.cn\n"
ALLOW = "allowed.unfiled.cn\n"


def ede(msg):
	for o in msg.options:
		if o.otype == 15:
			w = o.to_wire()
			return int.from_bytes(w[:2], "big"), w[2:].decode()
	return None


def ask(port, wire_name, qtype="A"):
	"""The daemon's answer: (rcode text, EDE or None), or ("dropped", None)."""
	q = dns.message.make_query(wire_name, qtype, use_edns=0, payload=1232)
	q.flags = 0  # RD off, as gkctl lookup asks
	try:
		a = dns.query.udp(q, "127.0.0.1", port=port, timeout=1.0)
	except dns.exception.Timeout:
		return "dropped", None
	return dns.rcode.to_text(a.rcode()), ede(a)


def lookup_answer(out):
	"""The same two facts from gkctl lookup's report."""
	rc, e = None, None
	for line in out.splitlines():
		if line.startswith("answer      "):
			v = line[12:]
			rc = "dropped" if v.startswith("none (dropped)") else v.split(",")[0].split()[0]
		if line.startswith("ede         "):
			code, text = line[12:].split(" ", 1)
			e = (int(code), text.strip('"'))
	return rc, e


def main():
	gk_bin, gkctl = sys.argv[1:3]
	with h.TempDir("gk-lookup-") as tmp:
		rsrv = h.start_redis(tmp)
		r = redis.Redis(host="127.0.0.1", port=rsrv.port, decode_responses=True)
		for d, st in FILED.items():
			r.hset("gk:st:%04x" % h.status_bucket(d), d, (1 << 2) | st)
		r.set("gk:serial", 1)
		r.xadd("gk:changes", {"k": "serial", "s": 1})
		zones = []
		for z, text in ZONES.items():
			fn = z + ".zone"
			with open(os.path.join(tmp, fn), "w") as f:
				f.write("$ORIGIN %s.\n$TTL 300\n%s" % (z, text))
			zones.append((z, fn))
		for fn, text in (("policy.yaml", POLICY), ("block.txt", BLOCK), ("allow.txt", ALLOW)):
			with open(os.path.join(tmp, fn), "w") as f:
				f.write(text)
		extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: lookup\n"
			 "filing:\n  startup: refuse\npolicy:\n  file: %s\n" % (rsrv.port, os.path.join(tmp, "policy.yaml")))
		gk = h.start_gk(gk_bin, tmp, zonedir=tmp, zones=zones, extra=extra, ready=False)
		gk.wait_ready()
		h.wait_for("the replica's first load",
			 lambda: r.hget("gk:inst:lookup", "state") == "ready")

		def ctl(*args):
			return subprocess.run([gkctl] + list(args), cwd=tmp, capture_output=True, text=True, timeout=60)

		# does gk_psl_registrable_wire read wire labels (a '.' byte is data)? gkctl lookup
		# without -c prints exactly what it returns
		probe = ctl("lookup", "--redis", "127.0.0.1:%d" % rsrv.port, "www.dot\\.inlabel.com.cn").stdout
		assert "registrable dot\\.inlabel.com.cn.\n" in probe, probe

		# (query as given to gkctl, the same name for dnspython, the lines lookup must print
		# in this order, lines it must not print, the expected answer when the PSL reads wire labels or
		# the case does not depend on it)
		cases = [
			("www.example.org", "www.example.org.",
			 ["name        www.example.org.",
			  "zone        not a served zone → REFUSED (no filing check, no list lookup)",
			  "answer      REFUSED"],
			 ["rule", "action", "filing", "registrable"], ("REFUSED", None), True),
			("www.Example.CN", "www.example.cn.",
			 ["name        www.example.cn.", "zone        example.cn.", "registrable example.cn.",
			  "rule        no list entry", "filing      filed (value 5, provider id 1)",
			  "action      resolve (why: -)", "answer      NOERROR", "  www.example.cn.\t300\tIN\tA\t192.0.2.1"],
			 [], ("NOERROR", None), True),
			("www.unfiled.cn", "www.unfiled.cn.",
			 ["zone        unfiled.cn.", "registrable unfiled.cn.", "rule        no list entry",
			  "filing      unfiled", "action      refuse (why: unfiled)", "answer      REFUSED",
			  "ede         15 \"ICP filing required\""],
			 [], ("REFUSED", (15, "ICP filing required")), True),
			("www.revoked.cn", "www.revoked.cn.",
			 ["registrable revoked.cn.", "filing      revoked (value 6, provider id 1)",
			  "action      nxdomain (why: revoked)", "answer      NXDOMAIN"],
			 [], ("NXDOMAIN", (18, "ICP filing revoked")), True),
			("blocked.example.cn", "blocked.example.cn.",
			 ["registrable example.cn.", "rule        block by list 1 (block.txt)",
			  "filing      not checked: the list decided", "action      nxdomain (why: blocked, list block.txt)",
			  "answer      NXDOMAIN", "ede         17 \"blocked by operator\""],
			 ["filing      filed"], ("NXDOMAIN", (17, "blocked by operator")), True),
			("allowed.unfiled.cn", "allowed.unfiled.cn.",
			 ["rule        allow by list 2 (allow.txt)", "filing      not checked: the list decided",
			  "action      resolve (why: allowed, list allow.txt)", "answer      NOERROR"],
			 [], ("NOERROR", None), True),
			("to-other.example.cn", "to-other.example.cn.",
			 ["filing      filed", "answer      NOERROR", "to-other.example.cn.\t300\tIN\tCNAME\twww.other.cn.",
			  "www.other.cn.\t300\tIN\tA\t192.0.2.10"],
			 [], ("NOERROR", None), True),
			("dot\\.inlabel.example.cn", dns.name.Name([b"dot.inlabel", b"example", b"cn", b""]),
			 ["name        dot\\.inlabel.example.cn.", "zone        example.cn.", "registrable example.cn.",
			  "filing      filed", "answer      NOERROR", "dot\\.inlabel.example.cn.\t300\tIN\tA\t192.0.2.2"],
			 [], ("NOERROR", None), False),
			("A\\000B\\\\C.example.cn", dns.name.Name([b"a\x00b\\c", b"example", b"cn", b""]),
			 ["name        a\\000b\\\\c.example.cn.", "registrable example.cn.", "filing      filed",
			  "answer      NOERROR"],
			 [], ("NOERROR", None), False),
			# \065 is 'A': the same name as "a" after case folding
			("\\065\\000B\\\\C.example.cn", dns.name.Name([b"a\x00b\\c", b"example", b"cn", b""]),
			 ["name        a\\000b\\\\c.example.cn."], [], ("NOERROR", None), False),
			# not below inlabel.com.cn (filed): the label is "dot.inlabel", and the registrable
			# domain dot\.inlabel.com.cn can only be unfiled
			("www.dot\\.inlabel.com.cn", dns.name.Name([b"www", b"dot.inlabel", b"com", b"cn", b""]),
			 ["zone        com.cn.", "registrable dot\\.inlabel.com.cn.",
			  "filing      unfiled (no registry record can name it", "answer      REFUSED"],
			 ["record"], ("REFUSED", (15, "ICP filing required")), False),
			# the shapes of issue 14, each as the daemon answers it: a DNAME into a revoked
			# domain stops after the synthesised CNAME (NOERROR, nothing of revoked.cn); DS at
			# a served child's apex comes from the parent; a wildcard at a public suffix
			# answers a filed domain below it; a registry's apex (com.cn) is answered
			("nope.dn-revoked.example.cn", "nope.dn-revoked.example.cn.",
			 ["registrable example.cn.", "filing      filed", "answer      NOERROR"],
			 ["revoked.cn.\t300\tIN\tSOA"], ("NOERROR", None), True),
			("child.example.cn -t DS", "child.example.cn.",
			 ["registrable example.cn.", "filing      filed", "answer      NOERROR"], [],
			 ("NOERROR", None), True),
			("www.foo.com.cn", "www.foo.com.cn.",
			 ["zone        com.cn.", "registrable foo.com.cn.", "filing      filed", "answer      NOERROR",
			  "www.foo.com.cn.\t300\tIN\tA\t192.0.2.41"], [], ("NOERROR", None), True),
			("www.bar.com.cn", "www.bar.com.cn.",
			 ["registrable bar.com.cn.", "filing      unfiled", "answer      REFUSED"],
			 [], ("REFUSED", (15, "ICP filing required")), True),
			("com.cn -t SOA", "com.cn.",
			 ["zone        com.cn.", "answer      NOERROR", "com.cn.\t300\tIN\tSOA"],
			 [], ("NOERROR", None), True),
		]
		conf = gk.conf
		checked = 0
		for arg, qname, want, absent, expect, strict in cases:
			words = arg.split(" ")
			qtype = words[2] if len(words) == 3 else "A"
			p = ctl("lookup", *words, "-c", conf)
			out = p.stdout
			h.log("gkctl lookup %s (rc %d):\n%s%s" % (arg, p.returncode, out, p.stderr))
			assert p.returncode == 0, (arg, p.returncode, p.stderr)
			daemon = ask(gk.port, qname, qtype)
			got = lookup_answer(out)
			assert got == daemon, "%s: gkctl lookup says %r, gatekeeperd answered %r" % (arg, got, daemon)
			assert daemon == expect, "%s: gatekeeperd answered %r, expected %r" % (arg, daemon, expect)
			pos = 0
			for w in want:
				i = out.find(w, pos)
				assert i >= 0, "%s: %r missing, or out of order, in\n%s" % (arg, w, out)
				pos = i + len(w)
			for a in absent:
				assert ("\n" + a) not in out, "%s: %r must not be printed:\n%s" % (arg, a, out)
			checked += 1
		h.log("%d of %d cases checked in full" % (checked, len(cases)))
		assert checked == len(cases), (checked, len(cases))
		# the DS NODATA at the child's apex carries the parent's SOA (cacheable, RFC 2308)
		q = dns.message.make_query("child.example.cn.", "DS", use_edns=0)
		a = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1.0)
		assert [(str(x.name), x.rdtype) for x in a.authority] == [("example.cn.", 6)], a

		# gkctl status: this instance runs a policy file; once a fleet policy has been pushed
		# it will never apply it, and status must not call it ok
		addr = "127.0.0.1:%d" % rsrv.port
		h.wait_for("the heartbeat's policy state",
			 lambda: r.hget("gk:inst:lookup", "policy_state") == "file")
		p = ctl("--redis", addr, "status")
		assert p.returncode == 0 and " ok\n" in p.stdout, (p.returncode, p.stdout, p.stderr)
		r.set("gk:pol:current", 3)
		p = ctl("--redis", addr, "status")
		h.log("gkctl status after a fleet push (rc %d):\n%s" % (p.returncode, p.stdout))
		assert p.returncode == 1 and "policy-file(not following fleet version 3)" in p.stdout, \
			(p.returncode, p.stdout)

		# a config file that does not exist: exit 3 (I/O), naming the file
		p = ctl("lookup", "www.example.cn", "-c", "no-such.conf")
		assert p.returncode == 3 and "no-such.conf" in p.stderr, (p.returncode, p.stderr)
		assert gk.alive() and "ERROR: AddressSanitizer" not in gk.log_text()
		gk.stop()
		rsrv.stop()
	h.log("ok")


if __name__ == "__main__":
	main()
