# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/dnssec.py -- the dnssec scenario: signed zones, DO=1 queries, gatekeeperd vs NSD.
import concurrent.futures
import json
import os
import shutil
import subprocess
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)

from ..common import log
from ..load import DNSPERF_PEAK, GKLOAD_PEAK, GKLOAD_SOCKETS, dnsperf, gkload_run
from ..procs import pss_kib, rss_kib
from ..rounds import measure_pairs, measure_rounds
from ..targets import gk_target, nsd_target

SIGN_VERSION = 1  # bump when the signing changes, so cached signed zones are rebuilt
# (name, ldns-signzone options): NSEC3 as RFC 9276 recommends (no extra iterations, no salt), and NSEC
CHAINS = [("nsec3", ["-n", "-t", "0"]), ("nsec", [])]
TOOLS = ("ldns-keygen", "ldns-signzone")
# slices of the fixed-rate pairs, in --pair-seconds: at 20,000 qps a server uses a fifth of a core
# or less, so a slice needs a few seconds for its CPU time to count
FIXED_SLICE = 2


def records(path):
	"""Resource records in a master file as ldns-signzone writes it (one per line)."""
	with open(path) as f:
		return sum(1 for line in f if line.strip() and not line.startswith((";", "$")))


def keys(d):
	"""One ED25519 KSK and ZSK (ldns-keygen), shared by every zone: ldns-signzone checks only
	the owner of the .key file, which sign() rewrites per zone. Returns the two base names."""
	os.makedirs(d, exist_ok=True)
	have = sorted(f[:-8] for f in os.listdir(d) if f.startswith("Kbench.") and f.endswith(".private"))
	if len(have) == 2:
		return [os.path.join(d, k) for k in have]
	out = []
	for extra in (["-k"], []):
		name = subprocess.run(["ldns-keygen", "-a", "ED25519"] + extra + ["bench."], cwd=d, stdout=subprocess.PIPE,
				      text=True, check=True).stdout.strip()
		out.append(os.path.join(d, name))
	return out


def sign(zone, src, dst, keybase, opts, tmp):
	"""Signs one zone file with the shared keys, their .key owner set to the zone's apex."""
	names = []
	for i, k in enumerate(keybase):
		base = os.path.join(tmp, "%s-%d" % (zone, i))
		with open(k + ".key") as f:
			text = f.read()
		with open(base + ".key", "w") as f:
			f.write(zone + "." + text[len("bench."):])
		shutil.copyfile(k + ".private", base + ".private")
		names.append(base)
	# signatures from a day ago for 90 days (YYYYMMDD): the cache outlives a few runs
	now = time.time()
	inc, exp = (time.strftime("%Y%m%d", time.gmtime(now + d * 86400)) for d in (-1, 90))
	p = subprocess.run(["ldns-signzone"] + opts + ["-i", inc, "-e", exp, "-f", dst, src] + names,
			   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
	for b in names:
		for ext in (".key", ".private"):
			os.unlink(b + ext)
	if p.returncode:
		raise RuntimeError("ldns-signzone %s failed: %s" % (src, p.stdout.strip()))


def signed_manifest(env, chain, opts):
	"""The dnssec data: --dnssec-zones zones and --dnssec-queries queries (bench/gen.py, own
	directory), each zone signed with the chain's options; cached under
	bench/data/dnssec-zN-qQ-sS-vV/ keyed by the parameters. Returns (manifest, records)."""
	a = env.a
	base = os.path.join(env.data, "dnssec-z%d-q%d-s%d-v%d" % (a.dnssec_zones, a.dnssec_queries, a.seed, gen.GEN_VERSION))
	m = gen.generate(base, a.dnssec_zones, a.dnssec_queries, a.seed)
	d = os.path.join(base, "signed-%s-v%d" % (chain, SIGN_VERSION))
	stamp = os.path.join(d, "done.json")
	if os.path.exists(stamp):
		with open(stamp) as f:
			info = json.load(f)
	else:
		shutil.rmtree(d, ignore_errors=True)
		os.makedirs(os.path.join(d, "tmp"))
		kb = keys(os.path.join(base, "keys"))
		t0 = time.monotonic()
		with concurrent.futures.ThreadPoolExecutor(2) as ex:  # two ldns-signzone at a time: a shared machine
			list(ex.map(lambda z: sign(z["name"], z["file"], os.path.join(d, z["name"] + ".signed"), kb, opts,
						   os.path.join(d, "tmp")), m["zones"]))
		info = {"records": sum(records(os.path.join(d, z["name"] + ".signed")) for z in m["zones"]),
			"unsigned_records": sum(records(z["file"]) for z in m["zones"]), "sign_s": time.monotonic() - t0,
			"opts": opts}
		with open(stamp, "w") as f:
			json.dump(info, f)
		log("dnssec: %d zones signed (%s) in %.1f s: %d records" % (len(m["zones"]), chain, info["sign_s"], info["records"]))
	sm = dict(m)
	sm["zones"] = [dict(z, file=os.path.join(d, z["name"] + ".signed")) for z in m["zones"]]
	return sm, info


def dnssec_scenario(env):
	"""For each chain (NSEC3, then NSEC): gatekeeperd (no Redis: DNSSEC answers alone) and NSD
	on the same signed files, the udp scenario's query mix with DO=1 and EDNS 1232: dnsperf and
	gkload peaks, the fixed rate, interleaved pairs; RSS and PSS per signed record."""
	a = env.a
	for tool in TOOLS:
		if not shutil.which(tool):
			raise RuntimeError("dnssec: %s not found (ldnsutils; scripts/deps.sh installs it)" % tool)
	out = {"zones": a.dnssec_zones, "queries": a.dnssec_queries, "chains": {}}
	for chain, opts in CHAINS:
		m, info = signed_manifest(env, chain, opts)
		q = m["queries"]
		gk = gk_target("gatekeeperd-" + chain, a.gatekeeperd, m, a.work)
		nsd = nsd_target("NSD-" + chain, m, a.work)
		res, mem = {}, {}
		try:
			for t in (gk, nsd):
				t.start(a.start_timeout)
				time.sleep(0.2 if a.smoke else 1)
				mem[t.label] = {"rss_kib": rss_kib(t.pids), "pss_kib": pss_kib(t.pids), "start_s": t.load_s}
			kinds = [("dnsperf", lambda t: dnsperf(t, q, a.duration, DNSPERF_PEAK + ["-D"])),
				 ("gkload", lambda t: gkload_run(t, a.gkload, q, a.duration, GKLOAD_PEAK + ["-D"])),
				 ("fixed", lambda t: gkload_run(t, a.gkload, q, a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS,
											     "-D"]))]
			measure_rounds(env, [gk, nsd], kinds, res, None)
			if not a.smoke:
				measure_pairs(env, [gk, nsd], res, extra=["-D"], queries=q)
				# the fixed rate as interleaved pairs too: two 5 s rounds a target, minutes
				# apart, differ by more (the rest of the machine) than the servers do
				measure_pairs(env, [gk, nsd], res, kind="fixed_pairs", extra=["-D"], queries=q, rate=a.rate,
					      slice_s=FIXED_SLICE * a.pair_seconds)
		finally:
			gk.stop()
			nsd.stop()
		out["chains"][chain] = {"res": res, "mem": mem, "labels": [gk.label, nsd.label], **info}
	return out


def markdown(d, a, cmd, when=""):
	from ..report import fmt, multi_table, pairs_title, rounds_title, dnsperf_peak_row
	S = ["\n## DNSSEC: %s signed zones, DO=1 queries (EDNS 1232), gatekeeperd vs NSD%s\n" % (fmt(d["zones"], 0), when)]
	S.append("The bench's zones (`gen.py`, %s zones, %s queries of the udp mix: answers, NXDOMAIN, NODATA, wildcards, "
		 "CNAMEs, referrals, and names no zone covers) signed with `ldns-signzone` (ED25519 KSK and ZSK), once "
		 "with NSEC3 (`-n -t 0`, no salt) and once with NSEC; gatekeeperd without Redis (no filing check: DNSSEC "
		 "answers alone) and NSD on the same signed files. Peak: `dnsperf -e -D`, `gkload -D` closed loop and "
		 "interleaved pairs; fixed rate `gkload -Q %d -D`. Command: `%s`.\n" % (
			 fmt(d["zones"], 0), fmt(d["queries"], 0), a.rate, cmd))
	for chain, c in d["chains"].items():
		gk, nsd = c["labels"]
		res = c["res"]
		fp = res.get(gk, {}).get("fixed_pairs", [])
		# with the fixed rate in interleaved pairs the verdict is theirs, as for the peak
		fixed_target = {} if fp else {nsd: (1.0, False)}
		fixed_note = ", %d × %g s rounds (no verdict: see the interleaved pairs)" % (
			len(res.get(gk, {}).get("fixed", [])), a.duration) if fp else ""
		S.append("\n### %s (%s signed records, %s before signing; signing took %.0f s, cached)\n" % (
			chain.upper(), fmt(c["records"], 0), fmt(c["unsigned_records"], 0), c["sign_s"]))
		S.append(multi_table(res, [gk, nsd], [
			dnsperf_peak_row(res, gk, {nsd: (1.0, True)}),
			(pairs_title(res, gk), "pairs", "qps", 0, {nsd: (1.0, True)}),
			(rounds_title(res, gk), "gkload", "qps", 0, {}),
			("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
			("%d qps: server CPU, %% of a core%s" % (a.rate, fixed_note), "fixed", "cpu_pct", 1, fixed_target),
			("%d qps: server CPU %% (schedstat), gkload interleaved %d×%g s pairs: median of per-pair ratios [IQR]" % (
				a.rate, len(fp), fp[0]["slice_s"] if fp else 0), "fixed_pairs", "cpu_exec_pct", 1,
			 {nsd: (1.0, False)}),
			("%d qps: p99 latency µs" % a.rate, "fixed", "p99_us", 1, {}),
			("%d qps: lost" % a.rate, "fixed", "lost", 0, {})], [nsd]))
		S.append("\n| metric | %s | %s | %s / %s |\n|---|---|---|---|" % (gk, nsd, gk, nsd))
		m = c["mem"]
		for key, what in (("rss_kib", "RSS"), ("pss_kib", "PSS")):
			x, y = m[gk][key], m[nsd][key]
			S.append("| %s after start, MiB | %.1f | %.1f | %.2f |" % (what, x / 1024, y / 1024, x / y if y else 0))
			S.append("| %s per signed record, B (reported, no target) | %.0f | %.0f | |" % (
				what, x * 1024.0 / c["records"], y * 1024.0 / c["records"]))
		S.append("| start until the first zone answers, s | %.2f | %.2f | |" % (m[gk]["start_s"], m[nsd]["start_s"]))
		if fp:
			S.append("\nFixed rate in interleaved pairs (gkload -Q %d -D, slices back to back in the order shown): server "
				 "CPU %% of a core (schedstat) and µs/query per slice, p99 µs, rest of the machine %%:\n" % a.rate)
			S.append("| pair | order | %s | %s | %s / %s |\n|---|---|---|---|---|" % (gk, nsd, gk, nsd))
			by = {lb: {r["pair"]: r for r in res.get(lb, {}).get("fixed_pairs", [])} for lb in (gk, nsd)}
			for j in sorted(by[gk]):
				x, y = by[gk][j], by[nsd].get(j)
				if y is None:
					continue
				order = " → ".join(lb for lb, r in sorted(((gk, x), (nsd, y)), key=lambda t: t[1]["pos"]))
				one = lambda r: "%.1f %% (%.2f µs/q), p99 %s, rest %.0f %%" % (
					r["cpu_exec_pct"], 1e4 * r["cpu_exec_pct"] / r["qps"] if r.get("qps") else 0, fmt(r.get("p99_us"), 0),
					r["other_pct"])
				S.append("| %d | %s | %s | %s | %s |" % (j + 1, order, one(x), one(y),
									"%.2f" % (x["cpu_exec_pct"] / y["cpu_exec_pct"]) if y["cpu_exec_pct"] else "-"))
	return "\n".join(S)
