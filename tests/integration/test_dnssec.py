#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_dnssec.py -- signed zones: gatekeeperd must answer like NSD 4.6.1.
#
# Signs the test zones at test time (dnssec_zones.py: NSEC, NSEC3 with a salt, NSEC3
# opt-out, a signed child with ldnsutils; NSEC3 with iterations with BIND), serves them from NSD and gatekeeperd, and sends both the same
# corpus with DO=0 and DO=1: UDP without EDNS, EDNS at 512 and 1232 octets, TCP. Answers
# are compared with test_differential's normal form (rcode, flags, each section as a set
# of records, RRSIGs included; truncated answers on rcode and TC). Beyond NSD's answer,
# ours must never carry CD or AD.
#
# Then the same zones are taken by AXFR from a second NSD (gatekeeperd as its secondary,
# test_differential's transfer mode) and the whole corpus is compared again: a signed zone
# that arrived by transfer is served as the primary serves it, DO=1 included.
#
# Usage: test_dnssec.py GATEKEEPERD   (or "nsd" to diff NSD against itself)
#        GK_DIFF_ONLY=substring restricts the corpus; GK_DIFF_VERBOSE=1 prints every answer.
import calendar
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dnssec_zones  # noqa: E402
import test_differential as td  # noqa: E402

import dns.flags  # noqa: E402
import dns.message  # noqa: E402
import dns.rdataclass  # noqa: E402
import dns.rdatatype  # noqa: E402

ZONE_NAMES = ("signed.cn", "nsec3.cn", "optout.cn", "bind.cn")


class DCase(td.Case):
	"""A Case with the DO bit (EDNS modes only) and the CD flag."""

	def __init__(self, qname, qtype, mode, do=False, cd=False, **kw):
		super().__init__(qname, qtype, mode, **kw)
		self.do, self.cd = do, cd
		self.label += "%s%s" % (" DO" if do else "", " +cd" if cd else "")

	def wire(self, qid):
		m = dns.message.make_query(self.qname, dns.rdatatype.from_text(self.qtype),
					   dns.rdataclass.from_text(self.qclass), use_edns=False)
		m.id = qid
		m.flags = dns.flags.CD if self.cd else 0
		ednsflags = dns.flags.DO if self.do else 0
		if self.mode.startswith("udp") and self.mode != "udp":
			m.use_edns(0, ednsflags, int(self.mode[3:]))
		elif self.mode == "tcpedns":
			m.use_edns(0, ednsflags, 4096)
		return m.to_wire()


def names_types(z):
	"""(qname, qtype) pairs for one zone of dnssec_zones.BODY."""
	c = []
	for n, t in (("", "SOA"), ("", "NS"), ("", "MX"), ("", "DNSKEY"), ("", "A"), ("", "NSEC"),
		     ("", "NSEC3PARAM"), ("", "RRSIG"), ("", "DS"), ("", "TXT"), ("", "CDS"),
		     ("www", "A"), ("www", "AAAA"), ("www", "MX"), ("www", "RRSIG"), ("www", "NSEC"),
		     ("mail", "A"), ("txt", "TXT"), ("ns1", "A"), ("zz", "A"), ("zz", "TXT"),
		     ("nx", "A"), ("nx.www", "A"), ("a.b.c.nx", "AAAA"), ("zzz", "A"), ("0", "A"),
		     ("ent", "A"), ("deep.ent", "TXT"), ("x.deep.ent", "A"), ("host.deep.ent", "A"),
		     ("x.ent", "A"),
		     ("a.wild", "A"), ("a.wild", "TXT"), ("a.wild", "MX"), ("a.b.wild", "A"),
		     ("*.wild", "A"), ("*.wild", "MX"), ("wild", "A"), ("exists.wild", "A"),
		     ("exists.wild", "MX"), ("x.exists.wild", "A"), ("a.wild", "RRSIG"),
		     ("cname", "A"), ("cname", "CNAME"), ("cname", "MX"), ("tonext", "A"),
		     ("tonext", "AAAA"), ("towild", "A"), ("tonx", "A"),
		     ("d", "DNAME"), ("d", "A"), ("www.d", "A"), ("nx.d", "A"), ("a.b.d", "TXT"),
		     ("udeleg", "A"), ("www.udeleg", "A"), ("udeleg", "DS"), ("udeleg", "NS"),
		     ("udeleg2", "A"), ("udeleg2", "DS"), ("udeleg3", "A"), ("x.udeleg3", "MX"),
		     ("sdeleg", "A"), ("www.sdeleg", "A"), ("sdeleg", "DS"), ("ns.sdeleg", "A"),
		     ("big", "TXT"), ("big", "A"), ("mid", "TXT"), ("mid2", "TXT"), ("a.wc", "A"), ("a.wc", "CNAME"), ("wc", "A"),
		     ("ent2", "A"), ("x.ent2", "A"), ("deleg.ent2", "A"), ("deleg.ent2", "DS"),
		     ("www.deleg.ent2", "A"), ("ns.sdeleg", "DS"), ("ns1", "DS"), ("nx", "DS"),
		     ("ent", "DS"), ("a.wild", "DS"), ("x.udeleg3", "DS")):
		c.append(((n + "." if n else "") + z, t))
	return c


def corpus():
	pairs = []
	for z in ZONE_NAMES:
		pairs += names_types(z)
	pairs += [("child.signed.cn", "DS"), ("child.signed.cn", "SOA"), ("child.signed.cn", "DNSKEY"),
		  ("www.child.signed.cn", "A"), ("nx.child.signed.cn", "A"), ("child.signed.cn", "A"),
		  ("www.child.signed.cn", "TXT"), ("Www.Signed.CN", "A"), ("NX.nsec3.cn", "A")]
	cases = []
	for n, t in pairs:
		cases.append(DCase(n, t, "udp"))
		for mode in ("udp512", "udp1232", "tcpedns"):
			for do in (False, True):
				cases.append(DCase(n, t, mode, do=do))
	# NSD 4.6.1 leaves out the NSEC covering the name when a DNAME from an NSEC3 zone
	# leads to a name that does not exist in an NSEC zone (only the wildcard's NSEC is
	# sent): a validator cannot prove that NXDOMAIN. Ours must carry both NSECs.
	for c in cases:
		if c.qname in ("nx.d.optout.cn", "nx.d.bind.cn") and c.do:  # DNAME to signed.cn
			# at 512 octets the second NSEC no longer fits: ours is truncated
			c.compare = "none" if c.mode == "udp512" else "rcode_aa"
			c.check = want_nsec_nxdomain
			c.exception = ("RFC 4035 3.1.3.2: NXDOMAIN needs the NSEC covering the name and "
				       "the one covering the wildcard; NSD 4.6.1 sends only the second "
				       "after a DNAME into another zone")
	for n, t in (("www.signed.cn", "A"), ("nx.nsec3.cn", "A"), ("a.wild.optout.cn", "A")):
		cases.append(DCase(n, t, "udp1232", do=True, cd=True, check=no_ad_cd))
	for z in ZONE_NAMES:
		for n in (z, "www." + z, "nx." + z):
			cases.append(DCase(n, "ANY", "udp1232", do=True, compare="any"))
	only = os.environ.get("GK_DIFF_ONLY")
	if only:
		cases = [c for c in cases if only.lower() in c.label.lower()]
	return cases


def want_nsec_nxdomain(ours):
	"""NXDOMAIN in signed.cn with the two NSECs of RFC 4035 3.1.3.2, each signed."""
	if ours is None:
		return ["no answer"]
	if ours.flags & dns.flags.TC:
		return []
	nsec = [r for r in ours.authority if r.rdtype == dns.rdatatype.NSEC]
	sigs = [r for r in ours.authority if r.rdtype == dns.rdatatype.RRSIG and r.covers == dns.rdatatype.NSEC]
	if len(nsec) != 2 or len(sigs) != 2:
		return ["want 2 signed NSEC RRsets (name and wildcard), got %d NSEC, %d RRSIG NSEC" %
			(len(nsec), len(sigs))]
	return []


def no_ad_cd(ours):
	if ours is None:
		return ["no answer"]
	p = []
	if ours.flags & dns.flags.AD:
		p.append("AD set (an authoritative server never sets it)")
	if ours.flags & dns.flags.CD:
		p.append("CD set (RFC 4035 3.1.6: cleared in authoritative answers)")
	return p


def line_of(path, owner, rtype):
	"""1-based line of the first record of (owner, rtype) in a signed zone file."""
	with open(path) as f:
		for i, l in enumerate(f, 1):
			p = l.split()
			if len(p) >= 4 and p[0] == owner and p[3] == rtype:
				return i
	return None


def zone_checks(gkbin, tmp, zdir, kdir):
	"""--check on zones that fail the DNSSEC checks: each gets a warning naming its file and
	line, and still loads (exit 0). Returns a list of problems."""
	import re
	import subprocess
	import time
	src = dict((z, os.path.join(zdir, z + ".zone")) for z in ZONE_NAMES[:3])
	cdir = os.path.join(tmp, "checks")
	os.mkdir(cdir)

	def variant(name, zone, drop):
		with open(src[zone]) as f:
			lines = [l for l in f if not drop(l.split())]
		path = os.path.join(cdir, name)
		with open(path, "w") as f:
			f.writelines(lines)
		return path

	now = int(time.time())
	files = {
		"nsec": variant("nsec-broken.zone", "signed.cn",
				lambda p: len(p) > 3 and p[0] == "www.signed.cn." and p[3] == "NSEC"),
		"nochain": variant("nochain.zone", "nsec3.cn", lambda p: len(p) > 3 and p[3] == "NSEC3"),
		"nokey": variant("nokey.zone", "optout.cn", lambda p: len(p) > 3 and p[3] == "DNSKEY"),
		"expired": dnssec_zones.resign(kdir, "signed.cn", [], (now - 60 * 86400, now - 30 * 86400),
					       os.path.join(cdir, "expired.zone")),
		"early": dnssec_zones.resign(kdir, "nsec3.cn", ["-n", "-t", "0"],
					     (now + 30 * 86400, now + 60 * 86400), os.path.join(cdir, "early.zone")),
		"iter": dnssec_zones.resign(kdir, "nsec3.cn", ["-n", "-t", "5", "-s", "ab"], None,
					    os.path.join(cdir, "iter.zone")),
	}
	# a broken NSEC3 chain: one hashed owner's records gone
	with open(src["optout.cn"]) as f:
		victim = [l.split()[0] for l in f if l.split()[3:4] == ["NSEC3"]][1]
	files["nsec3"] = variant("nsec3-broken.zone", "optout.cn", lambda p: p[:1] == [victim])
	zones = [("signed.cn", files["nsec"]), ("nsec3.cn", files["nochain"]), ("optout.cn", files["nokey"]),
		 ("signed.cn", files["expired"]), ("nsec3.cn", files["early"]), ("optout.cn", files["nsec3"]),
		 ("nsec3.cn", files["iter"])]
	problems = []
	for z, path in zones:
		conf = h.gk_config(cdir, h.free_port(), zonedir=cdir, zones=[(z, os.path.basename(path))],
				   name="check.yaml")
		r = subprocess.run([gkbin, "-c", conf, "--check"], stdout=subprocess.PIPE,
				   stderr=subprocess.STDOUT)
		out = r.stdout.decode()
		base = os.path.basename(path)
		if r.returncode != 0:
			problems.append("%s: --check exit %d (a zone failing DNSSEC checks still loads):\n%s" %
					(base, r.returncode, out))
			continue
		want = {
			"nsec-broken.zone": (r"NSEC chain broken at (\S+): its next name is www\.signed\.cn\.", "NSEC"),
			"nochain.zone": (r"NSEC3PARAM without an NSEC3 chain", "NSEC3PARAM"),
			"nokey.zone": (r"RRSIGs but no DNSKEY at the apex", "RRSIG"),
			"expired.zone": (r"\d+ signatures expired \(the first at (\S+)\)", "RRSIG"),
			"early.zone": (r"\d+ signatures not yet valid \(the first at (\S+)\)", "RRSIG"),
			"iter.zone": (r"NSEC3 with 5 additional iterations: each NXDOMAIN", "NSEC3PARAM"),
			"nsec3-broken.zone": (r"NSEC3 chain broken at (\S+): its next hashed owner is " +
					      re.escape(victim.split(".")[0]), "NSEC3"),
		}[base]
		m = re.search(r"warning: (\S+):(\d+): zone %s: %s" % (re.escape(z), want[0]), out)
		if not m:
			problems.append("%s: no warning matching %r:\n%s" % (base, want[0], out))
			continue
		if m.group(1) != path:
			problems.append("%s: the warning names %s" % (base, m.group(1)))
		with open(path) as f:
			rec = f.read().splitlines()[int(m.group(2)) - 1].split()
		owner = m.group(3) if m.re.groups >= 3 else None
		if rec[3] != want[1] or (owner and rec[0] != owner):
			problems.append("%s: line %s is %r, not the %s record%s" % (
				base, m.group(2), " ".join(rec[:4]), want[1], " of " + owner if owner else ""))
		h.log("zone check ok: %s" % m.group(0))
	return problems


def expiry_metrics(port, zones):
	"""Each signed zone's earliest signature expiry (signed for 30 days from now) and no
	DNSSEC warning, on the metrics endpoint."""
	import time
	m = h.metrics(port)
	now, p = time.time(), []
	for z in zones:
		exp = m.get('gatekeeper_zone_signature_expiry_timestamp_seconds{zone="%s"}' % z)
		warn = m.get('gatekeeper_zone_dnssec_warnings{zone="%s"}' % z)
		if exp is None or not now + 29 * 86400 < exp < now + 31 * 86400:
			p.append("%s: signature expiry metric %r, want about 30 days from now" % (z, exp))
		want = 1 if z == "bind.cn" else 0  # 3 NSEC3 iterations: RFC 9276's warning
		if warn != want:
			p.append("%s: DNSSEC warnings metric %r, want %d" % (z, warn, want))
	return p


def zone_status_dnssec(sock, zones):
	"""`zone status NAME` through the control channel gives each signed zone's DNSSEC state
	as the metrics do: signed, the earliest signature expiry about 30 days out, warnings."""
	import socket
	import time
	p = []
	for z in zones:
		c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
		c.settimeout(30.0)
		c.connect(sock)
		c.sendall(("zone status %s\n" % z).encode())
		buf = b""
		while not buf.endswith(b"\n.\n"):
			chunk = c.recv(65536)
			if not chunk:
				break
			buf += chunk
		c.close()
		line = buf.decode().split("\n")[0]
		m = re.search(r" dnssec=signed sig_expire=(\S+) dnssec_warnings=(\d+) ", line)
		if not m:
			p.append("%s: zone status has no signed DNSSEC state: %r" % (z, line))
			continue
		exp = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ"))
		if not time.time() + 29 * 86400 < exp < time.time() + 31 * 86400:
			p.append("%s: zone status sig_expire %s, want about 30 days from now" % (z, m.group(1)))
		want = 1 if z == "bind.cn" else 0
		if int(m.group(2)) != want:
			p.append("%s: zone status dnssec_warnings %s, want %d" % (z, m.group(2), want))
	return p


def main(argv):
	if len(argv) != 2:
		print("usage: test_dnssec.py GATEKEEPERD | nsd")
		return 2
	target = argv[1]
	verbose = bool(os.environ.get("GK_DIFF_VERBOSE"))
	cases = corpus()
	with h.TempDir("gk-dnssec-") as tmp:
		zdir, ntmp, gtmp = (os.path.join(tmp, d) for d in ("zones", "nsd", "gk"))
		for d in (zdir, ntmp, gtmp):
			os.mkdir(d)
		zones, _, kdir = dnssec_zones.make(zdir)
		check_problems = zone_checks(target, tmp, zdir, kdir) if target != "nsd" else []
		with h.start_nsd(ntmp, zonedir=zdir, zones=zones) as nsd:
			if target == "nsd":
				ours = h.start_nsd(gtmp, zonedir=zdir, zones=zones)
			else:
				mport = h.free_port()
				csock = os.path.join(gtmp, "control.sock")
				ours = h.start_gk(target, gtmp, zonedir=zdir, zones=zones,
						  extra="metrics:\n  listen: \"127.0.0.1:%d\"\n"
						  "control: {socket: %s, state_file: %s}\n" %
						  (mport, csock, os.path.join(gtmp, "zones.state")))
			with ours:
				h.log("NSD on %d, %s on %d; %d queries" % (nsd.port, ours.name, ours.port, len(cases)))
				mismatches, problems, echo = td.run_mode("plain", nsd, ours, cases, verbose)
				if target != "nsd":
					check_problems += expiry_metrics(mport, [z for z, _ in zones])
					check_problems += zone_status_dnssec(csock, [z for z, _ in zones])
			if target != "nsd":
				primary, sec = td.transfer_setup(tmp, target, zonedir=zdir, zones=zones)
				with primary, sec:
					h.log("transfer: %s on %d, secondary of NSD on %d; %d queries" % (
						sec.name, sec.port, primary.port, len(cases)))
					for acc, got in zip((mismatches, problems, echo),
							    td.run_mode("transfer", nsd, sec, cases, verbose)):
						acc.extend(got)
	for mode, case, nw, gw, a, b in mismatches:
		keys = sorted(set(a) | set(b), key=str)
		diff = ["%s: NSD=%r ours=%r" % (k, a.get(k), b.get(k)) for k in keys if a.get(k) != b.get(k)]
		h.log("\nMISMATCH %s\n  %s\n  -- NSD answer:\n%s\n  -- our answer:\n%s" % (
			case.label, "\n  ".join(diff), td.show(nw), td.show(gw)))
	for case, gw, p in problems:
		h.log("\nPROBLEM %s: %s\n  -- our answer:\n%s" % (case.label, p, td.show(gw)))
	for case, who, qb, got in echo:
		h.log("\nQUESTION ECHO %s: %s sent question %s, query had %s" % (case.label, who, got.hex(), qb.hex()))
	for p in check_problems:
		h.log("\nZONE CHECK %s" % p)
	ok = len(cases) - len(set(id(m[1]) for m in mismatches) | set(id(p[0]) for p in problems))
	h.log("\n%d queries, %d pass, %d mismatches, %d problems, %d question-echo errors" % (
		len(cases), ok, len(mismatches), len(problems), len(echo)))
	return 1 if mismatches or problems or echo or check_problems else 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
