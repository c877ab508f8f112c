#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# bench/gen.py -- deterministic generator of registrar-style zones, queries and server configs.
#
# Writes N customer zones under the suffixes a Chinese registrar hosts (.cn, .com.cn, province
# second levels, IDN suffixes in A-labels, .com/.net/.org), a query file in dnsperf format with
# Zipf popularity over zones and a fixed mix of answer kinds (see MIX and bench/README.md), and
# the NSD and gatekeeperd configurations that serve exactly those zones. Same seed, same bytes.
# Generated data goes to bench/data/ (git-ignored) unless --out says otherwise.
import argparse
import bisect
import itertools
import json
import os
import random
import sys

GEN_VERSION = 5  # bump when the output format changes, so cached data is rebuilt
POLICY_VERSION = 2  # the same for the policy files alone

# (suffix, weight): where the registrar's customers register.
SUFFIXES = [
	("cn", 28), ("com.cn", 20), ("net.cn", 5), ("org.cn", 3), ("gov.cn", 2),
	("bj.cn", 2), ("sh.cn", 2), ("gd.cn", 2), ("zj.cn", 1), ("js.cn", 1), ("sd.cn", 1),
	("sc.cn", 1), ("hb.cn", 1), ("fj.cn", 1),
	("xn--55qx5d.cn", 3),  # 公司.cn
	("xn--io0a7i.cn", 2),  # 网络.cn
	("xn--fiqs8s", 1),     # 中国
	("com", 16), ("net", 5), ("org", 3),
]

# Query mix: (kind, percent). Must add up to 100; documented in bench/README.md. Answer kinds
# pick zones whose registrable domain is filed; "unfiled" and "revoked" pick zones with that
# status (NSD and a gatekeeperd without enforcement answer them; with enforcement: REFUSED).
MIX = [
	("apex_a", 13),    # A at the apex                      -> NOERROR, answer
	("www_a", 13),     # A for www                          -> NOERROR, answer
	("apex_aaaa", 7),  # AAAA at the apex                   -> NOERROR, answer
	("apex_mx", 6),    # MX at the apex                     -> NOERROR, answer (+ mail A)
	("apex_txt", 4),   # TXT (SPF) at the apex              -> NOERROR, answer
	("nodata", 9),     # existing name, missing type        -> NOERROR, no answer (SOA)
	("nxdomain", 9),   # random label, zone has no wildcard -> NXDOMAIN
	("wildcard", 9),   # random label, zone has a wildcard  -> NOERROR, synthesised answer
	("cname", 7),      # A for a CNAME owner                -> NOERROR, CNAME (+ target)
	("referral", 4),   # name below a delegated child       -> NOERROR, referral
	("unfiled", 6),    # apex/www A/MX in an unfiled zone   -> enforced: REFUSED
	("revoked", 3),    # apex/www A/MX in a revoked zone    -> enforced: REFUSED
	("refused", 10),   # name outside every zone            -> REFUSED
]
# Expected rcode with filing enforced (unfiled and revoked refused); gkload -x checks it.
EXPECT = {"nxdomain": "NXDOMAIN", "unfiled": "REFUSED", "revoked": "REFUSED", "refused": "REFUSED"}
# Status of the hosted zones' registrable domains (the zone apexes): share unfiled, revoked.
UNFILED_SHARE, REVOKED_SHARE = 0.10, 0.05

SYLLABLES = (
	"an ba bai bao bei ben bin bo cai can chang chen cheng chuang da dong du fang fei feng fu gao "
	"guang gui hai han hang hao he heng hong hua huai huan hui jia jian jiang jin jing jun kai kang "
	"ke kun lan li lian liang lin ling long lu mei ming nan ning peng ping qi qian qiang qing rui "
	"sen shan shang sheng shi shun si song tai tao tian tong wan wang wei wen xiang xin xing xu "
	"ya yang yi yin ying yong yu yuan yun ze zhan zhao zhen zheng zhi zhong zhou zhu").split()
WORDS = ("keji tech net shop mall jituan group info data cloud media travel edu food auto home "
	 "bio law art 365 360 88 168 888 china web hub").split()
CJK = "中华网络科技信息数据云商城电子贸易北京上海广州深圳杭州南京成都武汉天津重庆苏州集团文化传媒教育金融投资建设发展国际汽车旅游医药健康农业食品"
HOSTS = "api app blog cdn ftp m mail2 oa pay shop static vpn wap bbs news img".split()
REFUSED_SUFFIXES = ["cn", "com.cn", "com", "net", "jp", "kr", "de", "xn--fiqs8s", "edu.cn"]


def zone_label(rng):
	r = rng.random()
	if r < 0.05:  # a Chinese name, in A-label form
		u = "".join(rng.choice(CJK) for _ in range(rng.randint(2, 4)))
		return u.encode("idna").decode("ascii")
	parts = [rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))]
	if r < 0.45:
		parts.append(rng.choice(WORDS))
	s = "".join(parts)
	if rng.random() < 0.15:
		s += str(rng.randint(1, 999))
	if rng.random() < 0.05 and len(parts) > 1:
		s = parts[0] + "-" + "".join(parts[1:])
	return s


def weighted(rng, items):
	total = sum(w for _, w in items)
	x = rng.uniform(0, total)
	for v, w in items:
		x -= w
		if x <= 0:
			return v
	return items[-1][0]


def public_suffixes(path="/usr/share/publicsuffix/public_suffix_list.dat"):
	"""The exact rules of the public suffix list (Debian package publicsuffix): a zone named
	like one (he.cn is Hebei's) is not something a registrar's customer can register."""
	out = set()
	try:
		with open(path, encoding="utf-8") as f:
			for line in f:
				line = line.strip()
				if line and not line.startswith("//"):
					out.add(line.lstrip("!*.").encode("idna").decode("ascii") if not line.isascii() else line.lstrip("!*."))
	except OSError:
		pass
	return out


def make_zones(n, rng):
	seen, zones = set(), []
	psl = public_suffixes()
	while len(zones) < n:
		name = zone_label(rng) + "." + weighted(rng, SUFFIXES)
		if name in seen or len(name) > 200 or name in psl:
			continue
		seen.add(name)
		i = len(zones)
		z = {"name": name, "i": i,
		     "wildcard": rng.random() < 0.15,
		     "cname": rng.random() < 0.30,
		     "child": rng.random() < 0.08}
		z["cname_owner"] = rng.choice(["shop", "blog", "cdn", "static", "m"]) if z["cname"] else None
		z["cname_ext"] = rng.random() < 0.5  # CNAME to a name outside the zone (CDN)
		z["extra"] = [h for h in rng.sample(HOSTS, rng.randint(0, 3)) if h != z["cname_owner"]]
		zones.append(z)
	srng = random.Random(rng.random())  # own stream: the status does not move the zones
	for z in zones:
		r = srng.random()
		z["status"] = "unfiled" if r < UNFILED_SHARE else "revoked" if r < UNFILED_SHARE + REVOKED_SHARE else "filed"
	return zones


def ip4(i, k):
	# 198.18.0.0/15 (benchmarking range), unique per zone and host.
	v = (i * 8 + k) % (1 << 17)
	return "198.%d.%d.%d" % (18 + (v >> 16), (v >> 8) & 255, v & 255)


def zone_text(z):
	n, i = z["name"], z["i"]
	out = [
		"$ORIGIN %s." % n,
		"$TTL 3600",
		"@\tIN\tSOA\tns1.gkdns.cn. hostmaster.%s. ( %d 7200 3600 1209600 300 )" % (n, 2024010100 + i % 97),
		"@\tIN\tNS\tns1.gkdns.cn.",
		"@\tIN\tNS\tns2.gkdns.net.",
		"@\tIN\tA\t%s" % ip4(i, 0),
		"@\tIN\tAAAA\t2001:db8:%x:%x::1" % (i >> 16, i & 0xffff),
		"@\tIN\tMX\t10 mail",
		"@\tIN\tTXT\t\"v=spf1 mx ip4:%s -all\"" % ip4(i, 0),
		"www\tIN\tA\t%s" % ip4(i, 1),
		"mail\tIN\tA\t%s" % ip4(i, 2),
	]
	for k, h in enumerate(z["extra"]):
		out.append("%s\tIN\tA\t%s" % (h, ip4(i, 3 + k)))
	if z["cname"]:
		target = "%s.cdn.gkcdn.com." % n.replace(".", "-") if z["cname_ext"] else "www"
		out.append("%s\t600\tIN\tCNAME\t%s" % (z["cname_owner"], target))
	if z["wildcard"]:
		out.append("*\t300\tIN\tA\t%s" % ip4(i, 7))
	if z["child"]:
		out.append("dev\tIN\tNS\tns1.dev")
		out.append("dev\tIN\tNS\tns2.dev")
		out.append("ns1.dev\tIN\tA\t%s" % ip4(i, 6))
		out.append("ns2.dev\tIN\tA\t%s" % ip4(i, 5))
	return "\n".join(out) + "\n"


def rand_label(rng, k=8):
	return "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(k))


def make_queries(zones, count, zipf_s, rng):
	# Popularity: a seeded permutation of zones, weight 1/rank^s.
	order = list(range(len(zones)))
	rng.shuffle(order)
	cum = list(itertools.accumulate(1.0 / (r + 1) ** zipf_s for r in range(len(order))))
	total = cum[-1]

	def pick(pred=None, status="filed"):
		ok = (lambda z: z["status"] == status and (pred is None or pred(z)))
		for _ in range(1000):
			z = zones[order[bisect.bisect_left(cum, rng.random() * total)]]
			if ok(z):
				return z
		return next(z for z in zones if ok(z))

	filed = [z for z in zones if z["status"] == "filed"]
	have = {
		"wildcard": any(z["wildcard"] for z in filed),
		"nxdomain": any(not z["wildcard"] for z in filed),
		"cname": any(z["cname"] for z in filed),
		"referral": any(z["child"] for z in filed),
		"unfiled": any(z["status"] == "unfiled" for z in zones),
		"revoked": any(z["status"] == "revoked" for z in zones),
	}
	names = {z["name"] for z in zones}
	mix = [(k, w) for k, w in MIX if have.get(k, True)]
	out, expect = [], []
	for _ in range(count):
		kind = weighted(rng, mix)
		expect.append(EXPECT.get(kind, "NOERROR"))
		if kind == "apex_a":
			out.append("%s A" % pick()["name"])
		elif kind == "www_a":
			out.append("www.%s A" % pick()["name"])
		elif kind == "apex_aaaa":
			out.append("%s AAAA" % pick()["name"])
		elif kind == "apex_mx":
			out.append("%s MX" % pick()["name"])
		elif kind == "apex_txt":
			out.append("%s TXT" % pick()["name"])
		elif kind == "nodata":
			z = pick()
			out.append(rng.choice(["www.%s AAAA", "mail.%s TXT", "%s CAA", "www.%s MX"]) % z["name"])
		elif kind == "nxdomain":
			z = pick(lambda z: not z["wildcard"])
			out.append("%s.%s A" % (rand_label(rng), z["name"]))
		elif kind == "wildcard":
			z = pick(lambda z: z["wildcard"])
			out.append("%s.%s %s" % (rand_label(rng), z["name"], rng.choice(["A", "A", "A", "AAAA"])))
		elif kind == "cname":
			z = pick(lambda z: z["cname"])
			out.append("%s.%s A" % (z["cname_owner"], z["name"]))
		elif kind == "referral":
			z = pick(lambda z: z["child"])
			out.append("%s.dev.%s A" % (rng.choice(["www", "api", "git"]), z["name"]))
		elif kind in ("unfiled", "revoked"):
			z = pick(status=kind)
			out.append(rng.choice(["%s A", "www.%s A", "%s MX"]) % z["name"])
		else:  # refused: a name no zone covers
			while True:
				n = "%s.%s" % (zone_label(rng), rng.choice(REFUSED_SUFFIXES))
				if n not in names:
					break
			out.append("%s %s" % (rng.choice(["", "www."]) + n, rng.choice(["A", "A", "AAAA", "MX"])))
	return out, expect


def generate(out_dir, n_zones=10000, n_queries=200000, seed=20240101, zipf_s=1.0, force=False):
	"""Writes zones/, queries.txt and manifest.json under out_dir; reuses them if the
	parameters are unchanged. Returns the manifest (dict)."""
	params = {"version": GEN_VERSION, "zones": n_zones, "queries": n_queries, "seed": seed, "zipf_s": zipf_s}
	mpath = os.path.join(out_dir, "manifest.json")
	if not force and os.path.exists(mpath):
		with open(mpath) as f:
			m = json.load(f)
		if m.get("params") == params and all(os.path.exists(z["file"]) for z in m["zones"][:50]):
			return m
	rng = random.Random(seed)
	zones = make_zones(n_zones, rng)
	zdir = os.path.join(os.path.abspath(out_dir), "zones")
	os.makedirs(zdir, exist_ok=True)
	for old in os.listdir(zdir):
		os.unlink(os.path.join(zdir, old))
	entries = []
	for z in zones:
		path = os.path.join(zdir, z["name"] + ".zone")
		with open(path, "w") as f:
			f.write(zone_text(z))
		entries.append({"name": z["name"], "file": path, "status": z["status"]})
	queries, expect = make_queries(zones, n_queries, zipf_s, random.Random(seed + 1))
	with open(os.path.join(out_dir, "queries.txt"), "w") as f:
		f.write("\n".join(queries) + "\n")
	with open(os.path.join(out_dir, "queries.expect"), "w") as f:
		f.write("\n".join(expect) + "\n")
	m = {"params": params, "zones": entries, "queries": os.path.join(os.path.abspath(out_dir), "queries.txt"),
	     "expect": os.path.join(os.path.abspath(out_dir), "queries.expect")}
	tmp = mpath + ".tmp"
	with open(tmp, "w") as f:
		json.dump(m, f)
	os.replace(tmp, mpath)
	return m


# ---- registry data: status feeds, policy lists, the dnsdist CDB ----------------------------

FEED_SUFFIXES = [("cn", 38), ("com.cn", 22), ("com", 18), ("net.cn", 4), ("org.cn", 3), ("net", 4),
		 ("top", 4), ("gov.cn", 1), ("bj.cn", 1), ("sh.cn", 1), ("gd.cn", 1), ("zj.cn", 1),
		 ("xn--fiqs8s", 1), ("edu.cn", 1)]
_FEED_SUF = [s for s, w in FEED_SUFFIXES for _ in range(w)]
_B36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def filler_domain(i, seed):
	"""The i-th filed domain hosted elsewhere: a pure function of (i, seed), unique by its
	base-36 index (so a delta can name it without reading the snapshot)."""
	h = (i * 2654435761 + seed * 40503) & 0xFFFFFFFF
	n, tag = i, ""
	for _ in range(5):
		n, r = divmod(n, 36)
		tag = _B36[r] + tag
	return "%s%s%s.%s" % (SYLLABLES[h % len(SYLLABLES)], SYLLABLES[(h >> 8) % len(SYLLABLES)], tag,
			      _FEED_SUF[(h >> 16) % len(_FEED_SUF)])


def _fillers(manifest, seed):
	"""Yields (index, domain) of filler domains, skipping any that a hosted zone has."""
	hosted = {z["name"] for z in manifest["zones"]}
	i = 0
	while True:
		d = filler_domain(i, seed)
		if d not in hosted:
			yield i, d
		i += 1


def status_domains(manifest, n, seed):
	"""(domain, status) of a status set of n domains: every hosted zone that is filed or
	revoked (unfiled ones are absent, which is what unfiled means), then filed domains
	hosted elsewhere up to n."""
	out = [(z["name"], z["status"]) for z in manifest["zones"] if z["status"] != "unfiled"][:n]
	for _, d in _fillers(manifest, seed):
		if len(out) >= n:
			break
		out.append((d, "filed"))
	return out


def _rec(d, status, k):
	return '{"domain":"%s","status":"%s","provider":"isp%02d"}\n' % (d, status, k % 40)


def write_snapshot(manifest, n, path, seed, serial):
	"""Registry snapshot feed (JSON Lines, docs: gk-sync) of the status set of n domains."""
	tmp = path + ".tmp"
	with open(tmp, "w", buffering=1 << 22) as f:
		f.write('{"kind":"snapshot","serial":%d,"count":%d,"generated":"2024-06-01T00:00:00Z"}\n' % (serial, n))
		w = f.write
		for k, (d, st) in enumerate(status_domains(manifest, n, seed)):
			w(_rec(d, st, k))
	os.replace(tmp, path)


def storm_changes(manifest, n, changes, seed, probes=200):
	"""The domains a revocation storm revokes: `probes` filed hosted zones (their names are
	queried to see when the change is enforced) and filed domains hosted elsewhere, all in
	the snapshot of n domains. Returns (domains, probe zone names)."""
	hosted = [z["name"] for z in manifest["zones"] if z["status"] == "filed"]
	rng = random.Random(seed + 99)
	probe = sorted(rng.sample(hosted, min(probes, len(hosted), changes)))
	in_snap = n - sum(1 for z in manifest["zones"] if z["status"] != "unfiled")
	out = list(probe)
	for i, d in _fillers(manifest, seed):
		if len(out) >= changes or len(out) - len(probe) >= in_snap:
			break
		out.append(d)
	return out, probe


def write_delta(domains, path, serial, base, status="revoked"):
	"""Delta feed (serial on base) setting every one of domains to status."""
	with open(path, "w", buffering=1 << 22) as f:
		f.write('{"kind":"delta","serial":%d,"base":%d,"count":%d,"generated":"2024-06-02T00:00:00Z"}\n'
			% (serial, base, len(domains)))
		for k, d in enumerate(domains):
			f.write(_rec(d, status, k))


def write_policy(manifest, n, out_dir, seed):
	"""Operator policy of n list entries in the formats the policy compiler reads
	(policy/README.md), as three policies over the same names:

	  X-plain.yaml  a plain block list X.block.txt (95% of the entries: "name" for that name,
	                ".name" for it and below, "host.name") with action refuse, and a plain
	                allow list X.allow.txt (5%);
	  X-rpz.yaml    the same entries as one RPZ zone X.rpz (CNAME . / *.name, rpz-passthru.);
	  X-empty.yaml  no list at all (the baseline);
	  X-push.yaml   X-plain.yaml plus a third list X.probe.txt blocking (refuse) 200 filed
	                hosted zones and everything below them: the probes that show when a
	                pushed policy is enforced.

	Entries are names hosted elsewhere (filler-style), so the 1M-entry lists change what the
	bench's queries get only where that is invisible: one entry in 1000 is a hosted zone,
	".zone" -- an unfiled zone in the block list (refused anyway) or a filed zone in the allow
	list (resolved anyway), so queries.expect holds for every policy. Every policy sets the
	status rules the bench's filing config has (unfiled and revoked: refuse). Returns a dict of
	paths: plain, rpz, empty, push (the YAMLs), block, allow, rpz_zone, probe (the lists), and
	probes: the probe zone names."""
	rng = random.Random(seed + 7)
	tag = os.path.join(out_dir, "policy-%d-z%d-s%d-v%d.%d" % (n, len(manifest["zones"]), seed, GEN_VERSION, POLICY_VERSION))
	out = {"plain": tag + "-plain.yaml", "rpz": tag + "-rpz.yaml", "empty": tag + "-empty.yaml",
	       "block": tag + ".block.txt", "allow": tag + ".allow.txt", "rpz_zone": tag + ".rpz",
	       "push": tag + "-push.yaml", "probe": tag + ".probe.txt"}
	unfiled = [z["name"] for z in manifest["zones"] if z["status"] == "unfiled"]
	filed = [z["name"] for z in manifest["zones"] if z["status"] == "filed"]
	if all(os.path.exists(v) for v in out.values()):
		with open(out["probe"]) as f:
			out["probes"] = [x[1:].strip() for x in f if x.startswith(".")]
		return out
	allowed, used = set(), set()
	rules = ("unfiled: {action: refuse}\nrevoked: {action: refuse}\nunknown: {action: refuse}\n")
	with open(out["block"] + ".tmp", "w") as fb, open(out["allow"] + ".tmp", "w") as fa, \
			open(out["rpz_zone"] + ".tmp", "w") as fr:
		fb.write("# generated by bench/gen.py: %d-entry policy, block list\n" % n)
		fa.write("# generated by bench/gen.py: %d-entry policy, allow list\n" % n)
		fr.write("$TTL 60\n$ORIGIN rpz.bench.\n@ IN SOA localhost. hostmaster.localhost. ( 1 3600 600 86400 60 )\n"
			 "@ IN NS localhost.\n")
		for i in range(n):
			allow = rng.random() < 0.05
			pick = rng.choice(filed if allow else unfiled) if i % 1000 == 0 and (filed if allow else unfiled) else None
			if pick and pick not in used:  # each hosted zone once (RPZ: one CNAME per owner)
				used.add(pick)
				d, kind = pick, 0.0
			else:
				d, kind = filler_domain(10**8 + i, seed), rng.random()
			if allow:
				allowed.add(d)
				fa.write(".%s\n" % d if kind < 0.3 else "%s\n" % d)
				fr.write("%s CNAME rpz-passthru.\n" % d)
				if kind < 0.3:
					fr.write("*.%s CNAME rpz-passthru.\n" % d)
			elif kind < 0.3:
				fb.write(".%s\n" % d)
				fr.write("%s CNAME .\n*.%s CNAME .\n" % (d, d))
			elif kind < 0.4:
				h = "%s.%s" % (rng.choice(HOSTS), d)
				fb.write("%s\n" % h)
				fr.write("%s CNAME *.\n" % h)
			else:
				fb.write("%s\n" % d)
				fr.write("%s CNAME .\n" % d)
	for k in ("block", "allow", "rpz_zone"):
		os.replace(out[k] + ".tmp", out[k])
	cand = [d for d in filed if d not in allowed]
	out["probes"] = sorted(random.Random(seed + 8).sample(cand, min(200, len(cand))))
	with open(out["probe"], "w") as f:
		f.write("# generated by bench/gen.py: the push probes (filed zones, blocked by the pushed policy)\n")
		f.write("".join(".%s\n" % d for d in out["probes"]))
	with open(out["plain"], "w") as f:
		f.write("mode: enforce\n" + rules + "lists:\n"
			"  - {file: %s, format: plain, kind: block, action: refuse}\n"
			"  - {file: %s, format: plain, kind: allow}\n" % (
				os.path.basename(out["block"]), os.path.basename(out["allow"])))
	with open(out["rpz"], "w") as f:
		f.write("mode: enforce\n" + rules + "lists:\n  - {file: %s, format: rpz}\n" % os.path.basename(out["rpz_zone"]))
	with open(out["empty"], "w") as f:
		f.write("mode: enforce\n" + rules)
	with open(out["push"], "w") as f:
		f.write("mode: enforce\n" + rules + "lists:\n"
			"  - {file: %s, format: plain, kind: block, action: refuse}\n"
			"  - {file: %s, format: plain, kind: allow}\n"
			"  - {file: %s, format: plain, kind: block, action: refuse, text: \"bench push probe\"}\n" % (
				os.path.basename(out["block"]), os.path.basename(out["allow"]), os.path.basename(out["probe"])))
	return out


def _wire(name):
	out = b""
	for label in name.split("."):
		out += bytes([len(label)]) + label.encode()
	return out + b"\0"


def write_cdb(pairs, path):
	"""A constant database (D. J. Bernstein's cdb format, as tinycdb and dnsdist read it) of
	(key bytes, value bytes)."""
	import struct as st
	tables = [[] for _ in range(256)]
	tmp = path + ".tmp"
	with open(tmp, "wb") as f:
		f.write(b"\0" * 2048)
		pos = 2048
		w = f.write
		for k, v in pairs:
			h = 5381
			for c in k:
				h = ((h << 5) + h ^ c) & 0xFFFFFFFF
			tables[h & 255].append((h, pos))
			w(st.pack("<II", len(k), len(v)) + k + v)
			pos += 8 + len(k) + len(v)
		head = []
		for t in tables:
			slots = len(t) * 2
			cells = [(0, 0)] * slots
			for h, p in t:
				j = (h >> 8) % slots
				while cells[j][1]:
					j = (j + 1) % slots
				cells[j] = (h, p)
			head.append((pos, slots))
			w(b"".join(st.pack("<II", h, p) for h, p in cells))
			pos += 8 * slots
		f.seek(0)
		f.write(b"".join(st.pack("<II", p, n) for p, n in head))
	os.replace(tmp, path)


def write_status_cdb(manifest, n, path, seed):
	"""The status set as a CDB for dnsdist: key = the registrable domain in DNS wire format
	(what KeyValueLookupKeySuffix looks up), value "1" filed, "2" revoked."""
	write_cdb(((_wire(d), b"1" if st == "filed" else b"2") for d, st in status_domains(manifest, n, seed)), path)


def write_filed_list(manifest, n, path, seed):
	"""The filed domains of the status set, one a line (dnsdist's SuffixMatchNode input)."""
	with open(path + ".tmp", "w") as f:
		for d, st in status_domains(manifest, n, seed):
			if st == "filed":
				f.write(d + "\n")
	os.replace(path + ".tmp", path)


def write_dnsdist_conf(path, port, backend_port, cdb, check_name, mode="cdb", cache=0):
	"""dnsdist in front of NSD enforcing filed-only; cache > 0: a packet cache of that many
	entries on the default pool. mode "cdb": a suffix lookup of the query
	name in the CDB status set sets tag fs to the value, anything not filed ("1") is REFUSED.
	mode "smn": the filed domains (cdb is then their list, one a line) in a SuffixMatchNode,
	anything not below one is REFUSED."""
	if mode == "smn":
		rule = ["smn = newSuffixMatchNode()",
			"for line in io.lines('%s') do smn:add(line) end" % cdb,
			"addAction(NotRule(SuffixMatchNodeRule(smn, true)), RCodeAction(DNSRCode.REFUSED))"]
	else:
		rule = ["kvs = newCDBKVStore('%s', 0)" % cdb,
			"addAction(AllRule(), KeyValueStoreLookupAction(kvs, KeyValueLookupKeySuffix(2, true), 'fs'))",
			"addAction(NotRule(TagRule('fs', '1')), RCodeAction(DNSRCode.REFUSED))"]
	lines = [
		"setSecurityPollSuffix('')",
		"setLocal('127.0.0.1:%d')" % port,
		"setACL({'127.0.0.0/8'})",
		"newServer({address='127.0.0.1:%d', checkInterval=1, checkName='%s.'})" % (backend_port, check_name),
	] + rule
	if cache:
		lines += ["pc = newPacketCache(%d)" % cache, "getPool(''):setCache(pc)"]
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


def write_nsd_conf(manifest, path, port, workdir, control=None):
	"""NSD config for the manifest's zones on 127.0.0.1@port; state files under workdir; with
	control (a path), nsd-control on that unix socket (no TLS: a local socket)."""
	lines = [
		"server:",
		"\tip-address: 127.0.0.1@%d" % port,
		"\tdo-ip6: no",
		"\tserver-count: 1",
		"\tdatabase: \"\"",
		"\tzonelistfile: \"%s/zone.list\"" % workdir,
		"\txfrdfile: \"%s/xfrd.state\"" % workdir,
		"\txfrdir: \"%s\"" % workdir,
		"\tpidfile: \"%s/nsd.pid\"" % workdir,
		"\tlogfile: \"%s/nsd.log\"" % workdir,
		"\tzonesdir: \"%s\"" % workdir,
		"\tusername: \"\"",
		"\tchroot: \"\"",
		"\tverbosity: 0",
		"\trrl-ratelimit: 0",
		"\trrl-whitelist-ratelimit: 0",
		"\tzonefiles-write: 0",
		"\treuseport: no",
		"\ttcp-count: 256",
		"\ttcp-timeout: 60",
		"remote-control:",
	] + (["\tcontrol-enable: yes", "\tcontrol-interface: \"%s\"" % control] if control else ["\tcontrol-enable: no"])
	for z in manifest["zones"]:
		lines += ["zone:", "\tname: \"%s\"" % z["name"], "\tzonefile: \"%s\"" % z["file"]]
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


def write_knot_conf(manifest, path, port, workdir):
	"""Knot DNS (3.2) config for the manifest's zones on 127.0.0.1@port, one UDP and one TCP
	worker (as NSD's server-count: 1 and gatekeeperd's workers: 1), zone files read as they
	are (no journal, no write-back, no semantic checks), knotc on workdir/knot.sock. The zone
	files all live in one directory, so each zone entry is just its name."""
	zdirs = {os.path.dirname(z["file"]) for z in manifest["zones"]}
	if len(zdirs) != 1 or any(os.path.basename(z["file"]) != z["name"] + ".zone" for z in manifest["zones"]):
		raise ValueError("write_knot_conf: zone files must be DIR/NAME.zone in one directory")
	lines = [
		"server:",
		"    listen: 127.0.0.1@%d" % port,
		"    rundir: \"%s\"" % workdir,
		"    pidfile: \"%s/knot.pid\"" % workdir,
		"    udp-workers: 1",
		"    tcp-workers: 1",
		"    background-workers: 1",
		"database:",
		"    storage: \"%s/db\"" % workdir,
		"control:",
		"    listen: \"%s/knot.sock\"" % workdir,
		"    timeout: 600",
		"log:",
		"  - target: \"%s/knot.log\"" % workdir,
		"    any: info",
		"template:",
		"  - id: default",
		"    storage: \"%s\"" % zdirs.pop(),
		"    file: \"%s.zone\"",
		"    zonefile-sync: -1",
		"    zonefile-load: whole",
		"    journal-content: none",
		"    semantic-checks: off",
		"zone:",
	]
	for z in manifest["zones"]:
		lines.append("  - domain: \"%s\"" % z["name"])
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


def write_gk_conf(manifest, path, port, workers=1, redis_port=None, instance=None, log_level="warning",
		  tcp_conns=None, policy=None, rate_limit=None, extra=None, zone_list=False):
	"""gatekeeperd config for the manifest's zones on 127.0.0.1:port; with redis_port, the
	filing check on (unfiled and revoked refused) against that Redis; policy: the `policy:`
	section as a dict (file, redis, operator_keys); rate_limit: the `rate_limit:` section as a dict
	(default: responses_per_second 0, off); extra: more top-level lines (YAML text); zone_list:
	the zones in a zone list file (PATH.zones, one `name file` per line) as a registrar
	configures a million, instead of the YAML `zones:` list."""
	lines = [
		"listen: [\"127.0.0.1:%d\"]" % port,
		"workers: %d" % workers,
		"edns_udp_max: 1232",
		"log_level: %s" % log_level,
	]
	# the load comes from one address: measured without response rate limiting unless asked
	lines.append("rate_limit:")
	for k, v in (rate_limit or {"responses_per_second": 0}).items():
		lines.append("  %s: %s" % (k, json.dumps(v)))
	if tcp_conns:
		lines += ["tcp:", "  max_connections: %d" % tcp_conns]
	if redis_port:
		lines += ["redis:", "  address: \"127.0.0.1:%d\"" % redis_port, "  instance_id: %s" % instance,
			  "filing:", "  enforce: true", "  unfiled: {action: refuse}", "  revoked: {action: refuse}"]
	if policy:
		lines.append("policy:")
		for k, v in policy.items():
			lines.append("  %s: %s" % (k, json.dumps(v)))
	if extra:
		lines.append(extra.rstrip("\n"))
	if zone_list:
		lpath = path + ".zones"
		with open(lpath + ".tmp", "w") as f:
			for z in manifest["zones"]:
				f.write("%s %s\n" % (z["name"], z["file"]))
		os.replace(lpath + ".tmp", lpath)
		lines.append("zone_list: %s" % json.dumps(lpath))
	else:
		lines.append("zones:")
		for z in manifest["zones"]:
			lines.append("  - {name: %s, file: %s}" % (json.dumps(z["name"]), json.dumps(z["file"])))
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")


def main():
	here = os.path.dirname(os.path.abspath(__file__))
	ap = argparse.ArgumentParser(description=__doc__)
	ap.add_argument("--zones", type=int, default=10000)
	ap.add_argument("--queries", type=int, default=200000)
	ap.add_argument("--seed", type=int, default=20240101)
	ap.add_argument("--zipf", type=float, default=1.0, help="Zipf exponent over zones")
	ap.add_argument("--out", default=os.path.join(here, "data"))
	ap.add_argument("--nsd-port", type=int, default=5301)
	ap.add_argument("--gk-port", type=int, default=5302)
	ap.add_argument("--force", action="store_true")
	a = ap.parse_args()
	os.makedirs(a.out, exist_ok=True)
	m = generate(a.out, a.zones, a.queries, a.seed, a.zipf, a.force)
	nsd_dir = os.path.join(os.path.abspath(a.out), "nsd")
	os.makedirs(nsd_dir, exist_ok=True)
	write_nsd_conf(m, os.path.join(a.out, "nsd.conf"), a.nsd_port, nsd_dir)
	write_gk_conf(m, os.path.join(a.out, "gatekeeperd.yaml"), a.gk_port)
	print("%d zones, %d queries in %s" % (len(m["zones"]), a.queries, a.out), file=sys.stderr)


if __name__ == "__main__":
	main()
