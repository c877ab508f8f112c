#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/dnssec_zones.py -- signed test zones, made at test time with ldnsutils.
#
# make(dst) writes into dst a set of zones signed with ldns-keygen/ldns-signzone (ED25519,
# one KSK and one ZSK per zone, signatures valid from a day ago for 30 days) and checked
# with ldns-verify-zone; returns [(zone, file)], the trust anchors (DS lines of every KSK)
# and the keys' directory. The zones cover what DNSSEC answers depend on:
#
#   signed.cn        NSEC; wildcards, empty non-terminals, a signed delegation with DS
#                    (child.signed.cn, served too: DS at the child apex comes from the
#                    parent), unsigned delegations with glue, CNAMEs (inside, into the next
#                    signed zone, to a wildcard, to nothing), a wildcard CNAME, a DNAME,
#                    an empty non-terminal above an unsigned delegation only, a large TXT
#   nsec3.cn         NSEC3, 0 iterations, salt aabbccdd; the same names
#   optout.cn        NSEC3 opt-out, 0 iterations, no salt; the same names
#   child.signed.cn  NSEC, the signed child
#   bind.cn          signed by BIND's dnssec-signzone instead (bind9-utils): ECDSA P-256,
#                    NSEC3 with 3 additional iterations and salt aabb; the same names
#
# Usage as a script: dnssec_zones.py DIR  (writes the zones there and prints the list).
import os
import shutil
import subprocess
import sys
import time

TOOLS = ("ldns-keygen", "ldns-signzone", "ldns-verify-zone", "dnssec-keygen", "dnssec-signzone",
	 "dnssec-dsfromkey")

BODY = """$ORIGIN {z}.
$TTL 3600
@        IN SOA ns1.{z}. hostmaster.{z}. 2026120601 3600 900 604800 300
@        NS   ns1.{z}.
@        NS   ns2.{z}.
@        MX   10 mail.{z}.
@        TXT  "apex of {z}"
ns1      A    192.0.2.1
ns2      AAAA 2001:db8::2
mail     A    192.0.2.3
www      A    192.0.2.10
www      AAAA 2001:db8::10
txt      TXT  "hello"
*.wild   A    192.0.2.20
*.wild   TXT  "wild"
exists.wild A 192.0.2.21
host.deep.ent A 192.0.2.30
cname    CNAME www
tonext   CNAME www.{nxt}.
towild   CNAME x.wild
tonx     CNAME nope
d        DNAME {nxt}.
udeleg   NS   ns.udeleg
ns.udeleg A   192.0.2.41
udeleg2  NS   ns.outside.example.
udeleg3  NS   ns1.{z}.
sdeleg   NS   ns.sdeleg
ns.sdeleg A   192.0.2.40
sdeleg   DS   12345 15 2 {fakeds}
zz       A    192.0.2.99
*.wc     CNAME www
deleg.ent2 NS ns.outside.example.
big      TXT  {big}
mid      TXT  {mid}
mid2     TXT  {mid2}
"""

CHILD = """$ORIGIN child.signed.cn.
$TTL 3600
@        IN SOA ns1.child.signed.cn. hostmaster.signed.cn. 2026120601 3600 900 604800 300
@        NS   ns1.child.signed.cn.
ns1      A    192.0.2.50
www      A    192.0.2.51
"""

# (zone, next zone for chains, signzone options)
ZONES = [
	("signed.cn", "nsec3.cn", []),
	("nsec3.cn", "optout.cn", ["-n", "-t", "0", "-s", "aabbccdd"]),
	("optout.cn", "signed.cn", ["-n", "-t", "0", "-p"]),
]


def missing_tools():
	return [t for t in TOOLS if shutil.which(t) is None]


def _run(argv, cwd):
	r = subprocess.run(argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
	if r.returncode != 0:
		raise RuntimeError("%s failed (%d):\n%s" % (" ".join(argv), r.returncode, r.stdout.decode()))
	return r.stdout.decode()


def _keys(zone, kdir):
	"""KSK and ZSK base names for zone (ED25519)."""
	ksk = _run(["ldns-keygen", "-a", "ED25519", "-k", zone], kdir).split()[0]
	zsk = _run(["ldns-keygen", "-a", "ED25519", zone], kdir).split()[0]
	return ksk, zsk


def _sign(src, zone, opts, keys, kdir, dst, valid=None, out=None, verify=True):
	"""Sign src into dst/zone.zone (or out); valid: (inception, expiration) in seconds
	since 1970, by default from a day ago for 30 days."""
	now = int(time.time())
	inc, exp = valid or (now - 86400, now + 30 * 86400)
	out = out or os.path.join(dst, zone + ".zone")
	_run(["ldns-signzone", "-i", str(inc), "-e", str(exp), "-o", zone,
	      "-f", out] + opts + [src] + [os.path.join(kdir, k) for k in keys], kdir)
	if verify:
		_run(["ldns-verify-zone", out], kdir)
	return out


def resign(kdir, zone, opts, valid, out):
	"""Sign zone's source again with its keys into out, valid (inception, expiration),
	without ldns-verify-zone (for zones meant to fail the checks)."""
	keys = sorted(f[:-len(".private")] for f in os.listdir(kdir)
		      if f.startswith("K%s.+" % zone) and f.endswith(".private"))
	return _sign(os.path.join(kdir, zone + ".src"), zone, opts, keys, kdir, None, valid, out,
		     verify=False)


def make(dst):
	"""Sign every test zone into dst. Returns (zones, anchors, keydir)."""
	bad = missing_tools()
	if bad:
		raise RuntimeError("missing %s (Debian packages ldnsutils, bind9-utils)" % ", ".join(bad))
	kdir = os.path.join(dst, "keys")
	os.makedirs(kdir, exist_ok=True)
	anchors = []
	# the child first: its DS goes into the parent
	cksk, czsk = _keys("child.signed.cn", kdir)
	src = os.path.join(kdir, "child.signed.cn.src")
	with open(src, "w") as f:
		f.write(CHILD)
	_sign(src, "child.signed.cn", [], (cksk, czsk), kdir, dst)
	with open(os.path.join(kdir, cksk + ".ds")) as f:
		child_ds = f.read().strip()
	anchors.append(child_ds)
	big = " ".join('"%s"' % ("%02d" % i * 40) for i in range(30))
	zones = [("child.signed.cn", "child.signed.cn.zone")]
	for z, nxt, opts in ZONES:
		ksk, zsk = _keys(z, kdir)
		# mid: the answer and its RRSIG fit in 512 octets, the signed NS do not; mid2:
		# the answer fits only without its RRSIG
		body = BODY.format(z=z, nxt=nxt, big=big, fakeds="AB" * 32, mid='"%s"' % ("m" * 250),
				   mid2='"%s" "%s"' % ("n" * 200, "n" * 180))
		if z == "signed.cn":
			body += "child NS ns1.child.signed.cn.\nns1.child A 192.0.2.50\n" + child_ds + "\n"
		src = os.path.join(kdir, z + ".src")
		with open(src, "w") as f:
			f.write(body)
		_sign(src, z, opts, (ksk, zsk), kdir, dst)
		with open(os.path.join(kdir, ksk + ".ds")) as f:
			anchors.append(f.read().strip())
		zones.append((z, z + ".zone"))
	# the same names signed by BIND, 3 iterations: a second signer's output
	src = os.path.join(kdir, "bind.cn.src")
	with open(src, "w") as f:
		f.write(BODY.format(z="bind.cn", nxt="signed.cn", big=big, fakeds="AB" * 32,
				    mid='"%s"' % ("m" * 250), mid2='"%s" "%s"' % ("n" * 200, "n" * 180)))
	bk = os.path.join(kdir, "bind")
	os.makedirs(bk, exist_ok=True)
	ksk = _run(["dnssec-keygen", "-q", "-K", bk, "-a", "ECDSAP256SHA256", "-f", "KSK", "bind.cn"], bk).split()[0]
	_run(["dnssec-keygen", "-q", "-K", bk, "-a", "ECDSAP256SHA256", "bind.cn"], bk)
	out = os.path.join(dst, "bind.cn.zone")
	_run(["dnssec-signzone", "-q", "-K", bk, "-S", "-o", "bind.cn", "-f", out, "-3", "aabb", "-H", "3",
	      "-s", "now-86400", "-e", "now+2592000", src], bk)
	_run(["ldns-verify-zone", out], kdir)
	anchors.append(_run(["dnssec-dsfromkey", "-2", os.path.join(bk, ksk + ".key")], bk).strip())
	zones.append(("bind.cn", "bind.cn.zone"))
	return zones, anchors, kdir


if __name__ == "__main__":
	if len(sys.argv) != 2:
		print("usage: dnssec_zones.py DIR")
		sys.exit(2)
	os.makedirs(sys.argv[1], exist_ok=True)
	zs, an, _ = make(sys.argv[1])
	for z, f in zs:
		print(z, os.path.join(sys.argv[1], f))
	for a in an:
		print(a)
