# SPDX-License-Identifier: MIT
# bench/gkbench/report.py -- RESULTS.md and results.png rendering.
import datetime
import os
import platform
import re
import statistics
import subprocess

from .build import git_head
from .common import log
from .load import DNSPERF_PEAK, DNSPERF_TCP, GKLOAD_PEAK, GKLOAD_SOCKETS
from .stats import med, pair_ratios, paired, ratio


def fmt(x, nd=1):
	if x is None:
		return "-"
	if abs(x) >= 1000:
		return "{:,.0f}".format(x)
	return "%.*f" % (nd, x)


def cell(m, nd=1, spread=True):
	if m[0] is None:
		return "-"
	if not spread or m[1] == m[2]:
		return fmt(m[0], nd)
	return "%s (%s–%s)" % (fmt(m[0], nd), fmt(m[1], nd), fmt(m[2], nd))


def build_info(build, gk_bin):
	"""Build type and C flags from BUILD/CMakeCache.txt when gatekeeperd came from there."""
	cache = os.path.join(build, "CMakeCache.txt")
	if not gk_bin or os.path.dirname(os.path.abspath(gk_bin)) != os.path.abspath(build) or not os.path.exists(cache):
		return "see the binary's build"
	v = {}
	with open(cache) as f:
		for line in f:
			m = re.match(r"(CMAKE_BUILD_TYPE|CMAKE_C_FLAGS|CMAKE_C_COMPILER|GK_SANITIZE):\w+=(.*)", line)
			if m:
				v[m.group(1)] = m.group(2).strip()
	return "CMAKE_BUILD_TYPE=%s, CMAKE_C_FLAGS=\"%s\", GK_SANITIZE=%s" % (
		v.get("CMAKE_BUILD_TYPE", "?"), v.get("CMAKE_C_FLAGS", ""), v.get("GK_SANITIZE", "?"))


def machine():
	model = "?"
	with open("/proc/cpuinfo") as f:
		for line in f:
			if line.startswith("model name"):
				model = line.split(":", 1)[1].strip()
				break
	return "nproc %d, CPU %s, kernel %s" % (os.cpu_count(), model, platform.release())


def version(argv):
	try:
		out = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=5).stdout
	except (OSError, subprocess.TimeoutExpired):
		return "?"
	for line in out.splitlines():
		if re.search(r"\d+\.\d+", line) and re.search(r"version|NSD|dnsdist|Redis", line, re.I):
			return line.strip()
	return "?"


def verdict(r, target, higher, shown=None):
	if r is None:
		return "-"
	ok = r >= target if higher else r <= target
	return "%s (%s %.2g: %s)" % (shown or "%.2f" % r, "≥" if higher else "≤", target, "PASS" if ok else "FAIL")


def pair_cell(v, targets=None):
	"""Median of the per-pair ratios v with the interquartile range, and the verdict if any."""
	if not v:
		return "-"
	m = statistics.median(v)
	q1, _, q3 = statistics.quantiles(v, n=4, method="inclusive") if len(v) > 1 else (m, m, m)
	shown = "%.2f [%.2f–%.2f]" % (m, q1, q3)
	return verdict(m, *targets, shown=shown) if targets else shown


def pairs_title(res, label, what="peak qps"):
	"""Row title of the interleaved pairs: N pairs of S s slices, as measured."""
	v = res.get(label, {}).get("pairs", [])
	if not v:
		return "%s, gkload interleaved pairs (not measured)" % what
	return "%s, gkload interleaved %d×%g s pairs: median of per-pair ratios [IQR]" % (what, len(v), v[0].get("slice_s", 0))


def rounds_title(res, label, what="peak qps, gkload closed loop"):
	v = [r["duration_s"] for r in res.get(label, {}).get("gkload", []) if r.get("duration_s")]
	return "%s, %d × %g s rounds (no verdict: see the interleaved pairs)" % (
		what, len(v), round(statistics.median(v), 1)) if v else what


def multi_table(res, labels, rows, refs):
	"""rows: (title, kind, key, digits, {ref label: (target, higher)}); refs: labels to ratio against.
	Cells: median (min–max). Ratio columns: first label / ref (ratio of the medians), with the
	target verdict if any, then the median of the per-round ratios ("paired"); for a kind ending
	in "pairs" (measure_pairs) the median of the per-pair ratios with the interquartile range instead."""
	head = ["metric (median of rounds, min–max)"] + labels + ["%s / %s" % (labels[0], r) for r in refs]
	lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
	for title, kind, key, nd, targets in rows:
		cells, meds = [], {}
		for lb in labels:
			m = med(res.get(lb, {}).get(kind, []), key)
			meds[lb] = m[0]
			cells.append(cell(m, nd))
		for r in refs:
			if kind.endswith("pairs"):
				cells.append(pair_cell(pair_ratios(res.get(labels[0], {}).get(kind, []), res.get(r, {}).get(kind, []),
								   key), targets.get(r)))
				continue
			x = ratio(meds[labels[0]], meds[r])
			c = verdict(x, *targets[r]) if r in targets else ("%.2f" % x if x is not None else "-")
			p = paired(res.get(labels[0], {}).get(kind, []), res.get(r, {}).get(kind, []), key)
			cells.append(c + ("; paired %.2f" % p if p is not None and len(res[labels[0]][kind]) > 1 else ""))
		lines.append("| " + " | ".join([title] + cells) + " |")
	return "\n".join(lines)


def per_round(res, labels, kinds):
	lines = ["| target | measurement | round | qps | lost | wrong | server CPU % | client CPU % | p50 µs | p99 µs | p99.9 µs | runq ms/s | rest of machine % |",
		 "|" + "---|" * 13]
	for lb in labels:
		for k in kinds:
			for i, r in enumerate(res.get(lb, {}).get(k, [])):
				lines.append("| %s | %s | %d | %s | %s | %s | %.1f | %s | %s | %s | %s | %.1f | %.1f |" % (
					lb, k, i + 1, fmt(r.get("qps"), 0), fmt(r.get("lost"), 0), fmt(r.get("wrong"), 0), r["cpu_pct"],
					fmt(r.get("client_cpu_pct")), fmt(r.get("p50_us")), fmt(r.get("p99_us")), fmt(r.get("p999_us")),
					r["runq_ms_per_s"], r["other_pct"]))
	return "\n".join(lines)


def pair_table(res, labels):
	"""One row per interleaved pair: slice order, each target's qps (server CPU µs/query), and
	the first target's ratio to each other's."""
	n = max(len(res.get(lb, {}).get("pairs", [])) for lb in labels)
	if not n:
		return ""
	by = {lb: {r.get("pair"): r for r in res.get(lb, {}).get("pairs", [])} for lb in labels}
	head = ["pair", "order"] + ["%s qps (µs/q)" % lb for lb in labels] + ["%s / %s" % (labels[0], lb) for lb in labels[1:]]
	lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
	for j in range(n):
		rs = {lb: by[lb].get(j) for lb in labels}
		order = " → ".join(lb for lb in sorted(labels, key=lambda x: rs[x]["pos"] if rs[x] else 99) if rs[lb])
		cells = ["%s (%s)" % (fmt(r["qps"], 0), fmt(r.get("us_per_q"), 2)) if r else "-" for r in rs.values()]
		f = rs[labels[0]]
		cells += ["%.2f" % (f["qps"] / rs[lb]["qps"]) if f and rs[lb] and rs[lb]["qps"] else "-" for lb in labels[1:]]
		lines.append("| " + " | ".join([str(j + 1), order] + cells) + " |")
	return "\n".join(lines)


# A peak measured with a load generator that is itself at this share of its core or more
# measures the generator (its speed, the VM's speed mode of the moment), not the server.
CLIENT_BOUND_PCT = 95.0


def dnsperf_peak_row(res, label, T):
	"""The dnsperf peak row of a table comparing label with the targets T: a verdict only for
	the targets where neither side's dnsperf was saturated; else the gkload pairs (a generator
	with room to spare) decide, and the title says for which."""
	def client_bound(lb):
		c = med(res.get(lb, {}).get("dnsperf", []), "client_cpu_pct")[0]
		return c is not None and c >= CLIENT_BOUND_PCT

	TD = {r: t for r, t in T.items() if not client_bound(label) and not client_bound(r)}
	bound = sorted(lb for lb in [label] + list(T) if client_bound(lb))
	dtitle = "peak qps, dnsperf" + (" (verdict only where neither dnsperf was at ≥ %g %% of its core: %s %s)" % (
		CLIENT_BOUND_PCT, ", ".join(bound), "was" if len(bound) == 1 else "were") if bound else "")
	return (dtitle, "dnsperf", "qps", 0, TD)


def udp_rows(rate, res, label):
	T = {"NSD": (1.0, True), "dnsdist+NSD": (3.0, True), "ceiling": (0.95, True)}
	L = {"NSD": (1.0, False)}
	return [
		dnsperf_peak_row(res, label, T),
		("peak: server CPU µs/query (dnsperf)", "dnsperf", "us_per_q", 2, {}),
		("peak: dnsperf CPU, % of a core", "dnsperf", "client_cpu_pct", 1, {}),
		(pairs_title(res, label), "pairs", "qps", 0, T),
		(pairs_title(res, label, "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
		(rounds_title(res, label), "gkload", "qps", 0, {}),
		("peak: server CPU, % of a core (gkload)", "gkload", "cpu_pct", 1, {}),
		("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
		("peak: gkload CPU, % of a core", "gkload", "client_cpu_pct", 1, {}),
		("peak: lost (gkload)", "gkload", "lost", 0, {}),
		("%d qps: server CPU, %% of a core" % rate, "fixed", "cpu_pct", 1, {"NSD": (0.9, False)}),
		("%d qps: server CPU µs/query" % rate, "fixed", "us_per_q", 2, {}),
		("%d qps: p50 latency µs" % rate, "fixed", "p50_us", 1, {}),
		("%d qps: p99 latency µs" % rate, "fixed", "p99_us", 1, L),
		("%d qps: p99.9 latency µs" % rate, "fixed", "p999_us", 1, {}),
		("%d qps: lost" % rate, "fixed", "lost", 0, {}),
		("%d qps: wrong rcode (gatekeeperd, dnsdist: -x expected)" % rate, "fixed", "wrong", 0, {}),
		("%d qps: server run-queue wait, ms/s" % rate, "fixed", "runq_ms_per_s", 1, {}),
		("%d qps: rest of machine busy, %% of a core" % rate, "fixed", "other_pct", 1, {}),
	]


def ceiling_fractions(res, labels):
	lines = ["| target | dnsperf peak ÷ ceiling's | gkload peak ÷ ceiling's | gkload interleaved pairs: median of per-pair "
		 "ratios to the ceiling [IQR] |", "|---|---|---|---|"]
	for lb in labels:
		cs = []
		for k in ("dnsperf", "gkload"):
			x, c = med(res.get(lb, {}).get(k, []), "qps")[0], med(res.get("ceiling", {}).get(k, []), "qps")[0]
			cs.append("%.2f" % (x / c) if x and c else "-")
		cs.append(pair_cell(pair_ratios(res.get(lb, {}).get("pairs", []), res.get("ceiling", {}).get("pairs", []), "qps")))
		lines.append("| %s | %s |" % (lb, " | ".join(cs)))
	return "\n".join(lines)


def rcode_mix(res, label, kind="fixed"):
	tot = {}
	for r in res.get(label, {}).get(kind, []):
		for k, v in r.items():
			if k.startswith("rcode_"):
				tot[k[6:]] = tot.get(k[6:], 0) + v
	n = sum(tot.values()) or 1
	return ", ".join("%s %.2f%%" % (k, 100.0 * v / n) for k, v in sorted(tot.items()))


def chart(out, path):
	"""PNG: peak qps per target (dnsperf, gkload) and latency percentiles at the fixed rate."""
	try:
		import matplotlib
		matplotlib.use("Agg")
		import matplotlib.pyplot as plt
	except ImportError:
		log("no matplotlib (Debian python3-matplotlib): chart skipped")
		return None
	panels = []
	if "udp" in out:
		panels.append(("udp", out["udp"]["res"], [t[0] for t in out["udp"]["targets"]]))
	if "onoff" in out:
		panels.append(("onoff", out["onoff"]["res"], list(out["onoff"]["res"].keys())))
	if not panels:
		return None
	fig, axes = plt.subplots(len(panels), 2, figsize=(12, 4.5 * len(panels)), squeeze=False)
	for row, (name, res, labels) in zip(axes, panels):
		x = range(len(labels))
		for j, k in enumerate(("dnsperf", "gkload")):
			v = [med(res.get(lb, {}).get(k, []), "qps")[0] or 0 for lb in labels]
			row[0].bar([i + (j - 0.5) * 0.4 for i in x], v, 0.4, label=k)
		row[0].set_xticks(list(x), labels, fontsize=8)
		row[0].set_ylabel("queries per second (median)")
		row[0].set_title("%s: peak rate" % name)
		row[0].legend()
		for j, k in enumerate(("p50_us", "p99_us", "p999_us")):
			v = [med(res.get(lb, {}).get("fixed", []), k)[0] or 0 for lb in labels]
			row[1].bar([i + (j - 1) * 0.27 for i in x], v, 0.27, label=k.replace("_us", ""))
		row[1].set_yscale("log")
		row[1].set_xticks(list(x), labels, fontsize=8)
		row[1].set_ylabel("latency µs at the fixed rate (median)")
		row[1].set_title("%s: latency" % name)
		row[1].legend()
	fig.tight_layout()
	fig.savefig(path, dpi=90)
	plt.close(fig)
	return path


def earlier(env, key):
	m = getattr(env, "meta", {}).get(key)
	return " (earlier run: %s)" % m["date"] if m and m.get("earlier") else ""


def scenario_cmd(env, key, cmd):
	"""The command of the run a scenario's results come from (an earlier one kept with --keep)."""
	return getattr(env, "meta", {}).get(key, {}).get("command", cmd)


def earlier_runs(env):
	runs = {}
	for k, m in sorted(getattr(env, "meta", {}).items()):
		if m.get("earlier"):
			runs.setdefault((m["date"], m["command"], m["code"], m.get("load", "?")), []).append(k)
	return "".join("- Earlier run kept (`--keep`) for %s: %s, `%s`, load average before it %s; code %s\n" % (
		", ".join(ks), d, c, ld, code) for (d, c, code, ld), ks in sorted(runs.items()))


def markdown(env, out, cmd, wall):
	a = env.a
	now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
	S = []
	S.append("""# Gatekeeper bench results

Generated by `bench/run.py`; see `bench/README.md` for what is measured and how to read it.

- Command: `{cmd}`
- Date: {now}; whole run {wall:.0f} s; load average before the run: {load}
- Machine: {mach}
- Code: {head}; gatekeeperd `{gk}` ({build})
- Tools: {nsdv}; {ddv}; {rv}; {dp}; gkload and refuser (bench/gkload.c, bench/refuser.c)
- Data: {zones} zones, {nq} queries (seed {seed}, Zipf s=1.0 over zones), EDNS on; zone statuses
  {filed} filed, {unfiled} unfiled, {revoked} revoked. Servers on core 0 (every thread of every
  process: dnsdist+NSD share it), clients, redis-server and gk-sync on core 1, 127.0.0.1 only.
  {rounds} alternating rounds of {dur:g} s per measurement ({frounds} for the fixed rate). Peak: `dnsperf -e {dpa}` and
  `gkload -e {gla}` (closed loop); fixed rate: `gkload -Q {rate} -e -c {gs}` (open loop). The closed-loop
  peak is also measured as {pairs} interleaved pairs of {ps:g} s slices per target (its verdicts use the
  median of the per-pair ratios).
""".format(pairs=a.pairs, ps=a.pair_seconds, cmd=cmd, now=now, wall=wall, load=env.load_before, mach=machine(), head=git_head(a.clean_hash), gk=a.gatekeeperd,
	   build=build_info(a.build, a.gatekeeperd), nsdv=version(["nsd", "-v"]), ddv=version(["dnsdist", "--version"]),
	   rv=version(["redis-server", "--version"]), dp="dnsperf " + version(["dnsperf", "-h"]).replace("Version ", ""),
	   zones=a.zones, nq=a.queries, seed=a.seed,
	   filed=sum(z["status"] == "filed" for z in env.manifest["zones"]),
	   unfiled=sum(z["status"] == "unfiled" for z in env.manifest["zones"]),
	   revoked=sum(z["status"] == "revoked" for z in env.manifest["zones"]),
	   rounds=a.rounds, frounds=max(a.rounds, a.fixed_rounds), dur=a.duration, dpa=" ".join(DNSPERF_PEAK), gla=" ".join(GKLOAD_PEAK), rate=a.rate,
	   gs=GKLOAD_SOCKETS) + earlier_runs(env))
	if "udp" in out:
		u = out["udp"]
		labels = [t[0] for t in u["targets"]]
		f1 = out["feed_1m"]
		S.append("## Max UDP rate and %d qps, 1 worker, %s-domain status set%s\n" % (a.rate, fmt(f1["n"], 0), earlier(env, "udp")))
		S.append("Status set applied with `gk-sync apply --no-records` in %.1f s; Redis used_memory %.0f MiB. "
			 "Start-up: %s.\n" % (f1["apply_s"], f1["redis_bytes"] / 2**20, "; ".join(
				 "%s answering after %.1f s, RSS %d MiB" % (lb, s, r // 1024) for lb, s, r in u["targets"])))
		S.append(multi_table(u["res"], labels, udp_rows(a.rate, u["res"], labels[0]), ["NSD", "dnsdist+NSD", "ceiling"]))
		S.append("\nEvery target as a fraction of the ceiling probe (same load generator):\n")
		S.append(ceiling_fractions(u["res"], labels))
		S.append(client_note(u["res"], labels))
		S.append("\nResponse codes at the fixed rate:\n")
		S.append("\n".join("- %s: %s" % (lb, rcode_mix(u["res"], lb)) for lb in labels))
	if "tcp" in out:
		S.append("\n## TCP, 100 connections, pipelined (`dnsperf -e %s`)%s\n" % (" ".join(DNSPERF_TCP), earlier(env, "tcp")))
		S.append(multi_table(out["tcp"]["res"], ["gatekeeperd", "NSD"], [
			("qps", "tcp", "qps", 0, {"NSD": (1.0, True)}),
			("server CPU, % of a core", "tcp", "cpu_pct", 1, {}),
			("server CPU µs/query", "tcp", "us_per_q", 2, {}),
			("dnsperf CPU, % of a core", "tcp", "client_cpu_pct", 1, {}),
			("lost", "tcp", "lost", 0, {}),
			("rest of machine busy, % of a core", "tcp", "other_pct", 1, {})], ["NSD"]))
	if "cold" in out:
		c = out["cold"]
		S.append("\n## Cold start, %s-domain status set%s\n" % (fmt(c["n"], 0), earlier(env, "cold")))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| time to ready (start to the first authoritative answer for a filed zone) | %.1f s | %s |" % (
			c["ready_s"], "≤ 30 s: %s" % ("PASS" if c["ready_s"] <= 30 else "FAIL")))
		S.append("| status load as logged by gatekeeperd | %s ms (%s domains) | |" % (fmt(c["load_ms"], 0), fmt(c["loaded_n"], 0)))
		S.append("| resident memory, ready | %.0f MiB | |" % (c["rss_kib"] / 1024))
		S.append("| resident memory, same config with an empty status set | %.0f MiB | |" % (c["empty_rss_kib"] / 1024))
		S.append("| memory over the empty baseline per domain | %.1f B | ≤ 48 B: %s |" % (
			c["b_per_domain"], "PASS" if c["b_per_domain"] <= 48 else "FAIL"))
		S.append("| gk-sync apply of the snapshot (not a target) | %.1f s | |" % c["apply_s"])
		S.append("| Redis used_memory with the set (not a target) | %.0f MiB | |" % (c["redis_bytes"] / 2**20))
	if "onoff" in out:
		o = out["onoff"]
		S.append("\n## Filing enforcement on vs off, %s-domain status set, same gatekeeperd build%s\n" % (
			fmt(o["n"], 0), earlier(env, "onoff")))
		S.append(multi_table(o["res"], ["gatekeeperd-10M", "gatekeeperd-nofiling"], [
			dnsperf_peak_row(o["res"], "gatekeeperd-10M", {"gatekeeperd-nofiling": (0.95, True)}),
			("peak: server CPU µs/query (dnsperf)", "dnsperf", "us_per_q", 2, {}),
			("peak: dnsperf CPU, % of a core", "dnsperf", "client_cpu_pct", 1, {}),
			(pairs_title(o["res"], "gatekeeperd-10M"), "pairs", "qps", 0, {"gatekeeperd-nofiling": (0.95, True)}),
			(pairs_title(o["res"], "gatekeeperd-10M", "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
			(rounds_title(o["res"], "gatekeeperd-10M"), "gkload", "qps", 0, {}),
			("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
			("%d qps: server CPU, %% of a core" % a.rate, "fixed", "cpu_pct", 1, {}),
			("%d qps: p99 latency µs" % a.rate, "fixed", "p99_us", 1, {}),
			("%d qps: lost" % a.rate, "fixed", "lost", 0, {}),
			("%d qps: wrong rcode (on: -x expected)" % a.rate, "fixed", "wrong", 0, {})], ["gatekeeperd-nofiling"]))
		S.append("\nResponse codes at the fixed rate: on: %s; off: %s." % (
			rcode_mix(o["res"], "gatekeeperd-10M"), rcode_mix(o["res"], "gatekeeperd-nofiling")))
	if "storm" in out:
		s = out["storm"]
		S.append("\n## Revocation storm: %s status changes through gk-sync while serving %d qps%s\n" % (
			fmt(s["changes"], 0), a.rate, earlier(env, "storm")))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| gk-sync apply of the delta (wall) | %.2f s | |" % s["sync_s"])
		S.append("| all %d probe zones refused, after gk-sync returned | %s | ≤ 2 s: %s |" % (
			s["probes"], "%.2f s" % s["probes_after_sync_s"] if s["probes_after_sync_s"] is not None else "never (120 s)",
			"PASS" if s["probes_after_sync_s"] is not None and s["probes_after_sync_s"] <= 2 else "FAIL"))
		S.append("| all %d probe zones refused, from gk-sync start | %s | |" % (
			s["probes"], "%.2f s" % s["probes_from_start_s"] if s["probes_from_start_s"] is not None else "-"))
		S.append("| heartbeat serial 11 (every change applied), after gk-sync returned | %s | |" % (
			"%.2f s" % s["serial_after_sync_s"] if s["serial_after_sync_s"] is not None else "never (120 s)"))
		S.append("| queries lost (of %d sent) | %d | 0: %s |" % (s["sent"], s["lost"], "PASS" if s["lost"] == 0 else "FAIL"))
		S.append("| p99 / p99.9 latency during the run | %s / %s µs | |" % (fmt(s["p99_us"]), fmt(s["p999_us"])))
		S.append("\n`%s`" % s["sync_out"])
	if "propagate" in out:
		S.append(propagate_markdown(out["propagate"], earlier(env, "propagate")))
	if "sync" in out:
		S.append(sync_markdown(out["sync"], a, earlier(env, "sync")))
	if "policy" in out:
		S.append(policy_markdown(out["policy"], a, earlier(env, "policy")))
	if "redis" in out:
		r = out["redis"]
		S.append("\n## Redis killed (SIGKILL) for %.0f s while serving %d qps%s\n" % (r["outage_s"], a.rate, earlier(env, "redis")))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| queries sent / answered | %d / %d | |" % (r["sent"], r["received"]))
		S.append("| answers lost | %d | 0: %s |" % (r["lost"], "PASS" if r["lost"] == 0 else "FAIL"))
		S.append("| answers with a wrong rcode (gkload -x: the expected answer with the last-known-good set) | %d | 0: %s |" % (
			r["wrong"], "PASS" if r["wrong"] == 0 else "FAIL"))
		S.append("| heartbeat connected and ready again after Redis restarted | %.1f s | |" % r["reconnected_s"])
		S.append("| status transitions logged by gatekeeperd | %s | |" % (", ".join(r["log_states"]) or "none"))
		S.append("| response codes | %s | |" % ", ".join("%s %d" % kv for kv in sorted(r["rcodes"].items())))
		if r["wrong_lines"]:
			S.append("\nFirst wrong answers: " + "; ".join(r["wrong_lines"][:5]))
	if "zones" in out:
		S.append(zones_markdown(out["zones"], a, cmd, earlier(env, "zones")))
	if "dnssec" in out:
		from .scenarios import dnssec
		S.append(dnssec.markdown(out["dnssec"], a, scenario_cmd(env, "dnssec", cmd), earlier(env, "dnssec")))
	if "rrl" in out:
		from .scenarios import rrl
		S.append(rrl.markdown(out["rrl"], a, scenario_cmd(env, "rrl", cmd), earlier(env, "rrl")))
	if "dot" in out:
		from .scenarios import dot
		S.append(dot.markdown(out["dot"], a, scenario_cmd(env, "dot", cmd), earlier(env, "dot")))
	if "frontend" in out:
		from .scenarios import frontend
		S.append(frontend.markdown(out["frontend"], a, scenario_cmd(env, "frontend", cmd), earlier(env, "frontend")))
	if "secondary" in out:
		from .scenarios import secondary
		S.append(secondary.markdown(out["secondary"], a, scenario_cmd(env, "secondary", cmd), earlier(env, "secondary")))
	for name, res, labels, kinds in env.round_tables(out):
		S.append("\n## Every round: %s\n" % name)
		S.append(per_round(res, labels, kinds))
		pt = pair_table(res, labels)
		if pt:
			S.append("\nInterleaved pairs (gkload closed loop, slices back to back in the order shown; qps and server "
				 "CPU µs/query per slice):\n")
			S.append(pt)
	return "\n".join(S) + "\n"


def propagate_markdown(p, when=""):
	def ms(x):
		return "%.1f ms" % (1e3 * x) if x is not None else "never (%g s)" % p["timeout_s"]
	S = ["\n## Status change propagation: %d changes through gk-sync, two gatekeeperd instances%s\n" % (
		p["changes"], when)]
	S.append("| metric | value | target |\n|---|---|---|")
	S.append("| delay per change from its write to Redis to its enforcement, the later of the two instances: p50 | %s | |" % ms(p["p50_s"]))
	S.append("| the same: p99 | %s | p99 ≤ 100 ms: %s |" % (
		ms(p["p99_s"]), "PASS" if p["p99_s"] is not None and p["p99_s"] <= 0.1 else "FAIL"))
	S.append("| the same: max | %s | |" % ms(p["max_s"]))
	for lb, v in zip(p["labels"], p["inst_p99_s"]):
		S.append("| p99 of %s alone | %s | |" % (lb, ms(v)))
	S.append("| p99 of the same delay counted from gk-sync's exit instead (0 when enforced before it exited) | %s | |" % ms(p["after_exit_p99_s"]))
	S.append("| polling round (one HGET, one UDP query per instance still pending): median | %.2f ms | |" % (
		1e3 * p["round_median_s"]))
	S.append("| gk-sync apply of a one-record delta (wall): median / max | %.1f / %.1f ms | |" % (
		1e3 * p["sync_median_s"], 1e3 * p["sync_max_s"]))
	S.append("| changes not shown by both instances within %g s | %d | |" % (p["timeout_s"], p["never"]))
	S.append("| instance-changes enforced by the round that saw the write (counted 0) | %d of %d | |" % (
		p["zero"], p["changes"] * len(p["labels"])))
	ld = p["load"]
	S.append("| background load on %s (%d qps, %d gkload runs): sent / lost / worst p99 | %d / %d / %s µs | |" % (
		p["load_on"], p["rate"], ld["chunks"], ld["sent"], ld["lost"], fmt(ld["p99_us_max"])))
	if p["mode"] == "revoke":
		what = ("%d revocations (filed → revoked: SOA NOERROR → REFUSED) of distinct filed hosted zones of the set "
			"that are not storm probes" % p["changes"])
	else:
		what = ("the set has %d filed hosted zones that are not storm probes, fewer than %d, so each change flips "
			"one of %d hosted zones of the set to the status it does not have (cycling): %d revocations "
			"(SOA NOERROR → REFUSED), %d re-filings (REFUSED → NOERROR)" % (
				p["filed_candidates"], p["changes"], p["zones"], p["revocations"], p["refilings"]))
	S.append("\nWhat was measured: %s, each its own signed one-record delta (serial s+1 on s, %d → %d), written and "
		 "signed before the timing, applied one after another with `gk-sync apply --redis … --pubkey … "
		 "--no-records change-NNNN.jsonl`. From gk-sync's start, round after round: HGET of the domain's "
		 "field in its status bucket (the change is in Redis once that bucket's MULTI/EXEC, HSET and XADD "
		 "together, ran), then one UDP `ZONE SOA` query (50 ms timeout) to each instance not yet answering "
		 "with the new rcode. A change's delay runs from the round that saw the field change to the round in "
		 "which the later instance answered anew (0 when that was the same round), so it is exact to about "
		 "one polling round. %s serves the background load; the second instance, started for this scenario on the same "
		 "Redis, zones and config, was ready %.1f s after its start and is stopped after it." % (
			 what, p["base_serial"], p["final_serial"], p["load_on"], p["second_ready_s"]))
	return "\n".join(S)


def policy_markdown(p, a, when=""):
	f = p["files"]
	S = ["\n## Operator policy of %s list entries%s\n" % (fmt(p["n"], 0), when)]
	S.append("Generated by `gen.write_policy` (seed %d): `%s` = block list `%s` (%.1f MiB: `name`, `.name` for the "
		 "name and below, `host.name`; action refuse) + allow list `%s` (%.1f MiB, 5%% of the entries); `%s` = the same "
		 "entries as one RPZ zone `%s` (%.1f MiB). Entries are names hosted elsewhere; one in 1000 is a hosted zone "
		 "(an unfiled one in the block list, a filed one in the allow list), so every query's expected rcode is "
		 "unchanged and `-x` checks it.\n" % (
			 a.seed, os.path.basename(f["plain"]), os.path.basename(f["block"]), p["bytes"]["block"] / 2**20,
			 os.path.basename(f["allow"]), p["bytes"]["allow"] / 2**20, os.path.basename(f["rpz"]),
			 os.path.basename(f["rpz_zone"]), p["bytes"]["rpz_zone"] / 2**20))
	S.append("| compile (`bench/polc POLICY %s`: gk_policy_build, as gatekeeperd) | plain lists | RPZ |\n|---|---|---|" %
		 int(p["compile_plain"].get("rounds", 1)))
	cp, cr = p["compile_plain"], p["compile_rpz"]
	S.append("| build time, best / median of rounds | %.2f s / %.2f s | %.2f s / %.2f s |" % (
		cp["compile_best_s"], cp["compile_median_s"], cr["compile_best_s"], cr["compile_median_s"]))
	S.append("| entries (distinct names) / lines read | %s / %s | %s / %s |" % (
		fmt(cp["entries"], 0), fmt(cp["lines"], 0), fmt(cr["entries"], 0), fmt(cr["lines"], 0)))
	S.append("| memory the policy owns (arena) | %.1f MiB (%.1f B/entry) | %.1f MiB (%.1f B/entry) |" % (
		cp["arena_bytes"] / 2**20, cp["arena_bytes"] / max(1, cp["entries"]), cr["arena_bytes"] / 2**20,
		cr["arena_bytes"] / max(1, cr["entries"])))
	S.append("| peak RSS of the compiler process | %.0f MiB | %.0f MiB |" % (cp["maxrss_kib"] / 1024, cr["maxrss_kib"] / 1024))
	if p.get("res"):
		lb_on, lb_off = "gatekeeperd-policy1M", "gatekeeperd-policy0"
		st = p["start"]
		S.append("\ngatekeeperd with `policy: {file: %s}` (%s) vs the same build with `policy: {file: %s}` (%s), same "
			 "1M status set and config otherwise: answering after %.1f s vs %.1f s, RSS %d vs %d MiB (ready, 2 s "
			 "after).\n" % (os.path.basename(f["plain"]), lb_on, os.path.basename(f["empty"]), lb_off,
					 st[lb_on][0], st[lb_off][0], st[lb_on][1] // 1024, st[lb_off][1] // 1024))
		S.append(multi_table(p["res"], [lb_on, lb_off], [
			dnsperf_peak_row(p["res"], lb_on, {lb_off: (0.95, True)}),
			("peak: server CPU µs/query (dnsperf)", "dnsperf", "us_per_q", 2, {}),
			("peak: dnsperf CPU, % of a core", "dnsperf", "client_cpu_pct", 1, {}),
			(pairs_title(p["res"], lb_on), "pairs", "qps", 0, {lb_off: (0.95, True)}),
			(pairs_title(p["res"], lb_on, "peak: server CPU µs/query"), "pairs", "us_per_q", 2, {}),
			(rounds_title(p["res"], lb_on), "gkload", "qps", 0, {}),
			("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
			("%d qps: server CPU, %% of a core" % a.rate, "fixed", "cpu_pct", 1, {}),
			("%d qps: p99 latency µs" % a.rate, "fixed", "p99_us", 1, {}),
			("%d qps: lost" % a.rate, "fixed", "lost", 0, {}),
			("%d qps: wrong rcode (-x expected)" % a.rate, "fixed", "wrong", 0, {}),
			("rest of machine busy, % of a core (fixed)", "fixed", "other_pct", 1, {})], [lb_off]))
		S.append("\nTarget: no measurable change (judged here as ≥ 0.95x of the empty policy's peak).")
	else:
		S.append("\nDaemon: %s." % p["status"])
	u = p.get("push")
	if not u:
		S.append("\nPush of the 1M-entry policy while serving %d qps: %s." % (a.rate, p["push_status"]))
		return "\n".join(S)
	def sec(x):
		return "%.2f s" % x if x is not None else "never (120 s)"
	S.append("\n### Push of the 1M-entry policy while serving %d qps\n" % a.rate)
	S.append("`gkctl policy push %s --key operator.pem` (the 1M-entry lists plus `%s`: %d filed zones blocked, the "
		 "probes) to the Redis that gatekeeperd-push follows (`policy: {file: %s, redis: true, operator_keys: "
		 "[operator.pub]}`), while gkload sends %d qps; a prober queries every probe until all are REFUSED. "
		 "\"Applied\" is the daemon's log line `policy: version N applied` (after fetch, signature check and "
		 "compile, before the swap; ms resolution).\n" % (
			 os.path.basename(f["push"]), os.path.basename(f["probe"]), u["probes"], os.path.basename(f["empty"]),
			 a.rate))
	S.append("| metric | value | target |\n|---|---|---|")
	S.append("| gkctl policy push (validate, sign, write; wall) | %s | |" % sec(u["push_s"]))
	S.append("| version applied (log), after gkctl returned: fetch + verify + compile | %s | |" % sec(u["applied_after_push_s"]))
	ok = u["enforced_after_applied_s"] is not None and u["enforced_after_applied_s"] <= 1
	S.append("| every probe REFUSED, after the version was applied (compiled) | %s | ≤ 1 s: %s |" % (
		sec(u["enforced_after_applied_s"]), "PASS" if ok else "FAIL"))
	S.append("| every probe REFUSED, after gkctl returned / from its start | %s / %s | |" % (
		sec(u["enforced_after_push_s"]), sec(u["enforced_from_start_s"])))
	S.append("| queries lost (of %d sent) | %d | 0: %s |" % (u["sent"], u["lost"], "PASS" if u["lost"] == 0 else "FAIL"))
	S.append("| p99 / p99.9 / max latency during the run | %s / %s / %s µs | |" % (
		fmt(u["p99_us"]), fmt(u["p999_us"]), fmt(u["max_us"])))
	S.append("| heartbeat after the run: policy_version / policy_state | %s / %s | |" % (u["hb_version"], u["hb_state"]))
	S.append("| rest of machine busy during the run, %% of a core | %.1f | |" % u["other_pct"])
	if u["gkctl_out"]:
		S.append("\n`%s`" % u["gkctl_out"])
	return "\n".join(S)


def sync_markdown(y, a, when=""):
	n = y["n"]
	def verdict(v, lim):
		return "≤ %g: %s (%.2fx)" % (lim, "PASS" if v <= lim else "FAIL", v / lim)
	def row(what, r, lim=None, unit="s"):
		return "| %s | %.2f %s | %.1f s / %.1f s | %.0f%% | %s |" % (
			what, r["s"], unit, r["cpu_s"], r["redis_cpu_s"], r["other_pct"], verdict(r["s"], lim) if lim else "")
	S = ["\n## gk-sync at %s domains: apply times and Redis memory%s\n" % (fmt(n, 0), when)]
	S.append("Feeds with full registry records (`bench/feedgen.py`, seed %d: licence, sponsor, nature, provider, "
		 "update time, site name, home page, IPs; 2%% revoked): snapshot `%s` (%.0f MiB, %.0f B/line), a delta of "
		 "%s changes `%s` (%.1f MiB; 30%% new, 40%% status flips and record edits, 30%% removals). gk-sync and both "
		 "redis-servers run unpinned on both cores (no DNS server runs meanwhile); each apply starts on a fresh "
		 "or the previous step's Redis as listed; the feeds are read once before (page cache, %.1f s).\n" % (
			 a.seed, y["snap"], y["snap_bytes"] / 2**20, y["snap_bytes"] / (n + 1), fmt(y["changes"], 0), y["delta"],
			 y["delta_bytes"] / 2**20, y.get("warm_s", 0)))
	S.append("| step | wall | CPU gk-sync / redis | rest of machine busy | target |\n|---|---|---|---|---|")
	S.append(row("1. snapshot, `--no-records` (status set only), empty Redis", y["snap_norec"], 60))
	S.append(row("2. delta on 1., `--no-records`", y["delta_norec"], 5))
	S.append(row("3. snapshot, `--records-redis` (status set + records in a second instance), empty Redises", y["snap_rec"], 60))
	S.append(row("4. delta on 3., `--records-redis`", y["delta_rec"], 5))
	S.append("\n| Redis memory (INFO used_memory after − before, ÷ %s) | bytes/domain | target |\n|---|---|---|" % fmt(n, 0))
	S.append("| status set `gk:st:*` (after 1., change stream deleted) | %.1f | %s |" % (y["status_b"], verdict(y["status_b"], 24)))
	S.append("| status set + change stream `gk:changes` (%s entries, MEMORY USAGE %.0f MiB) | %.1f | |" % (
		fmt(y["stream_len"], 0), y["stream_bytes"] / 2**20, y["status_stream_b"]))
	S.append("| status set, sum of MEMORY USAGE over %s buckets (%d not listpack) | %.1f | |" % (
		fmt(y["st_keys"], 0), y["st_big"], y["st_keys_bytes"] / n))
	S.append("| record buckets `gk:rec:*` in the records instance (after 3.) | %.1f | not a target (issue 3 asks for the figure) |" % y["rec_b"])
	S.append("| record buckets, sum of MEMORY USAGE over %s buckets (%d not listpack) | %.1f | |" % (
		fmt(y["rec_keys"], 0), y["rec_big"], y["rec_keys_bytes"] / n))
	S.append("\ngk-sync's own summaries:\n")
	for k in ("snap_norec", "delta_norec", "snap_rec", "delta_rec"):
		S.append("- `%s`" % y[k]["out"].splitlines()[-1] if y[k]["out"] else "-")
	return "\n".join(S)


def client_note(res, labels):
	cs = [med(res.get(lb, {}).get("dnsperf", []), "client_cpu_pct")[0] for lb in labels]
	if not any(c is not None and c >= 90 for c in cs):
		return ""
	return ("\n**dnsperf peak is client-bound:** dnsperf used %s of its core, so the dnsperf peak row measures "
		"dnsperf as much as the servers; the gkload closed-loop row and server CPU µs per query separate them.\n" %
		", ".join("%.0f%% (%s)" % (c, lb) for c, lb in zip(cs, labels) if c is not None))


def round_tables(out):
	t = []
	if "udp" in out:
		t.append(("max UDP rate and fixed rate", out["udp"]["res"], [x[0] for x in out["udp"]["targets"]],
			  ["dnsperf", "gkload", "fixed"]))
	if "tcp" in out:
		t.append(("TCP", out["tcp"]["res"], ["gatekeeperd", "NSD"], ["tcp"]))
	if out.get("policy", {}).get("res"):
		t.append(("policy 1M vs empty", out["policy"]["res"], ["gatekeeperd-policy1M", "gatekeeperd-policy0"],
			  ["dnsperf", "gkload", "fixed"]))
	if out.get("zones", {}).get("query"):
		t.append(("%s zones, gatekeeperd vs NSD" % fmt(out["zones"]["n"], 0), out["zones"]["query"],
			  ["gatekeeperd-zonesq", "NSD-zonesq"], ["fresh", "dnsperf", "after_peak", "gkload", "fixed"]))
	for chain, c in out.get("dnssec", {}).get("chains", {}).items():
		t.append(("DNSSEC %s, DO=1" % chain.upper(), c["res"], c["labels"], ["dnsperf", "gkload", "fixed"]))
	if "rrl" in out:
		t.append(("rate limiting", out["rrl"]["res"], out["rrl"]["labels"], ["dnsperf", "gkload", "fixed"]))
	if "dot" in out:
		t.append(("DNS over TLS", out["dot"]["res"], out["dot"]["labels"], ["dot"]))
	if "frontend" in out:
		t.append(("front end", out["frontend"]["res"], out["frontend"]["labels"], ["dnsperf", "gkload", "fixed", "lat"]))
	if "onoff" in out:
		t.append(("enforcement on vs off", out["onoff"]["res"], ["gatekeeperd-10M", "gatekeeperd-nofiling"],
			  ["dnsperf", "gkload", "fixed"]))
	return t


def zones_load_markdown(S, z, a, cmd, kinds):
	"""The zones scenario's load part: start, memory and one zone reloaded, per server."""
	n, ld = z["n"], z["load"]
	S.append("Command: `%s` (scenario `zones`, `--zones-n %d`). Zones generated by `bench/gen.py` (seed %d, %s RRs: %s), "
		 "cached under `bench/data/zones-n%d-…`. Each server alone, pinned to core 0: gatekeeperd (`workers: 1`, "
		 "the zones in a `zone_list:` file of `name file` lines, no Redis: zones only), NSD (`server-count: 1`, `nsd-control` on a unix socket), Knot %s (`udp-workers: 1`, "
		 "`tcp-workers: 1`, `background-workers: 1`, zone files read as they are: no journal, no write-back, no "
		 "semantic checks). Before each server starts, every zone file is read once, so each starts with the files "
		 "in the page cache (untimed). \"Every zone answers\": from the spawn, the SOA of %d zones (a seeded sample and the "
		 "last %d generated) polled one at a time until each answered authoritatively. Memory %s s after that: "
		 "VmRSS and PSS summed over the server's processes (PSS counts pages NSD's forked processes share once); "
		 "bytes per record and per zone are PSS ÷ RRs and ÷ zones.\n" % (
			 cmd, n, a.seed, fmt(z["records"], 0), z["records_from"], n, version(["knotd", "--version"]),
			 z["polled"], min(n, 100), "0.2" if a.smoke else "2"))
	head = ["metric"] + kinds + ["gatekeeperd / %s" % k for k in kinds if k != "gatekeeperd" and "gatekeeperd" in kinds]
	S.append("| " + " | ".join(head) + " |\n|" + "---|" * len(head))

	def row(title, f, nd=1, target=None):
		v = {k: f(ld[k]) for k in kinds}
		cells = [fmt(v[k], nd) for k in kinds]
		for k in kinds:
			if k == "gatekeeperd" or "gatekeeperd" not in kinds:
				continue
			r = ratio(v["gatekeeperd"], v[k])
			t = (target or {}).get(k)
			cells.append(verdict(r, *t) if t and r is not None else ("%.2f" % r if r is not None else "-"))
		S.append("| " + " | ".join([title] + cells) + " |")
	row("every polled zone answers, s after the spawn", lambda r: r["answer_s"], 2, {"NSD": (1.0, False)})
	row("the server's own readiness signal, s after the spawn (%s)" % "; ".join(
		"%s: %s" % (k, ld[k]["ready_what"]) for k in kinds), lambda r: r["ready_s"], 2)
	row("VmRSS, MiB", lambda r: r["rss_kib"] / 1024, 0)
	row("PSS, MiB", lambda r: r["pss_kib"] / 1024, 0, {"Knot": (1.0, False)})
	row("VmHWM (peak while loading), MiB", lambda r: r["hwm_kib"] / 1024, 0)
	row("PSS bytes per record", lambda r: r["pss_kib"] * 1024.0 / z["records"], 1)
	row("PSS bytes per zone", lambda r: r["pss_kib"] * 1024.0 / n, 0)
	row("processes", lambda r: r["procs"], 0)
	S.append("\nOne changed zone file out of %s (its SOA serial + 1, a new file renamed over it): gatekeeperd `kill -HUP`, "
		 "NSD `nsd-control reload ZONE`, Knot `knotc zone-reload ZONE`. Times from the signal or the command's start; "
		 "extra memory over the VmRSS just before: the peak of the process tree's VmRSS sampled every 10 ms, and "
		 "VmHWM (reset with `clear_refs` before; NSD reloads in newly forked processes, so only the sampled row "
		 "covers it).\n" % fmt(n, 0))
	S.append("| metric | " + " | ".join(kinds) + " |\n|" + "---|" * (len(kinds) + 1))

	def rrow(title, f):
		S.append("| %s | %s |" % (title, " | ".join(f(ld[k]["reload"]) for k in kinds)))
	rrow("command", lambda r: "`%s %s`" % (r["command"], r["zone"]) if r["command"] != "kill -HUP" else "`kill -HUP`")
	rrow("new serial answering, s", lambda r: "%.3f" % r["served_s"])
	rrow("gatekeeperd's `reloaded:` log line, s", lambda r: "%.3f" % r["log_s"] if r.get("log_s") is not None else "-")
	rrow("the command's own wall time, s", lambda r: "%.3f" % r["cmd_s"] if r["command"] != "kill -HUP" else "-")
	rrow("extra peak memory (sampled VmRSS), KiB", lambda r: fmt(r["peak_extra_kib"], 0))
	rrow("extra peak memory (VmHWM), KiB", lambda r: fmt(r["hwm_extra_kib"], 0))
	rrow("VmRSS after − before, KiB", lambda r: fmt(r["after_extra_kib"], 0))
	rrow("the zone file, bytes", lambda r: fmt(r["zone_bytes"], 0))


def zones_markdown(z, a, cmd, when=""):
	"""The zones scenario: load and reload per server, the query path, the control channel."""
	n, ld = z["n"], z["load"]
	kinds = [k for k in z["servers"] if k in ld]
	S = ["\n## %s zones from the same master files: gatekeeperd, NSD, Knot%s\n" % (fmt(n, 0), when)]
	if kinds:
		zones_load_markdown(S, z, a, cmd, kinds)
	else:
		S.append("Command: `%s` (scenario `zones`, `--zones-n %d`, `--zones-parts %s`).\n" % (
			cmd, n, ",".join(z.get("parts", []))))
	q = z.get("query") or {}
	labels = [lb for lb in ("gatekeeperd-zonesq", "NSD-zonesq") if lb in q]
	if len(labels) == 2:
		S.append("\n### Query path at %s zones: gatekeeperd (filing enforced, redis-server on the server's core) vs NSD\n" % fmt(n, 0))
		S.append((("%d alternating rounds (both servers running)" if q.get("_mode", "together") == "together" else
			  "%d rounds per server, one server at a time (both at this N would not fit in memory beside each other "
			  "twice over: all of gatekeeperd's rounds, then NSD's; the \"paired\" ratios pair round i of each block)") +
			 "; in each, per server back to back: `dnsperf -Q %d -c %s -v` for %g s (fresh: "
			 "p50/p99 from dnsperf's per-query latencies), the dnsperf peak (`-e %s`), `dnsperf -Q %d -v` again "
			 "right after it (after peak), the gkload closed-loop peak, `gkload -Q %d` with expected rcodes "
			 "(gatekeeperd). Status set: %s domains (the data set's filed and revoked zones, then filed domains "
			 "hosted elsewhere), applied with gk-sync. The same gatekeeperd build and config as in the load "
			 "table plus `redis:` and `filing:`; NSD as above without nsd-control.\n") % (
				 a.zones_rounds, a.rate, GKLOAD_SOCKETS, a.duration, " ".join(DNSPERF_PEAK), a.rate, a.rate,
				 fmt(q.get("_status_n"), 0)))
		L = {"NSD-zonesq": (1.0, False)}
		S.append(multi_table(q, labels, [
			("peak qps, dnsperf", "dnsperf", "qps", 0, {"NSD-zonesq": (1.0, True)}),
			("peak qps, gkload closed loop", "gkload", "qps", 0, {"NSD-zonesq": (1.0, True)}),
			("peak: server CPU µs/query (gkload)", "gkload", "us_per_q", 2, {}),
			("%d qps: server CPU, %% of a core (gkload)" % a.rate, "fixed", "cpu_pct", 1, {"NSD-zonesq": (0.9, False)}),
			("%d qps: server CPU µs/query" % a.rate, "fixed", "us_per_q", 2, {}),
			("%d qps: p99 µs, gkload" % a.rate, "fixed", "p99_us", 1, {}),
			("%d qps fresh: p50 µs, dnsperf -v" % a.rate, "fresh", "p50_us", 1, {}),
			("%d qps fresh: p99 µs, dnsperf -v" % a.rate, "fresh", "p99_us", 1, L),
			("%d qps right after a peak: p50 µs, dnsperf -v" % a.rate, "after_peak", "p50_us", 1, {}),
			("%d qps right after a peak: p99 µs, dnsperf -v" % a.rate, "after_peak", "p99_us", 1, L),
			("%d qps right after a peak: server CPU, %% of a core" % a.rate, "after_peak", "cpu_pct", 1, {}),
			("%d qps: lost (gkload; dnsperf -v fresh / after peak below)" % a.rate, "fixed", "lost", 0, {}),
			("%d qps fresh: lost, dnsperf" % a.rate, "fresh", "lost", 0, {}),
			("%d qps after peak: lost, dnsperf" % a.rate, "after_peak", "lost", 0, {}),
			("%d qps: wrong rcode (gatekeeperd: -x expected)" % a.rate, "fixed", "wrong", 0, {}),
			("rest of machine busy, %% of a core (%d qps)" % a.rate, "fixed", "other_pct", 1, {})], ["NSD-zonesq"]))
		S.append("\nVmRSS while serving: %s." % "; ".join("%s %d MiB" % (k, v // 1024) for k, v in q.get("_rss", {}).items()))
	c = z.get("control") or {"status": "not run (`--zones-parts`)"}
	S.append("\n### Zone add / replace / remove through the control channel with %s zones loaded\n" % fmt(n, 0))
	if c.get("status") != "measured":
		S.append("%s.\n" % c.get("status", "not measured"))
	else:
		S.append("`zone add NAME FILE`, `zone reload NAME` (its file's serial + 1), `zone remove NAME` in turn on one "
			 "connection of the control socket (docs/CONTROL.md; one `gkctl --control SOCK zone add` first: `%s`), "
			 "%g a second for %g s while gkload sends %d qps with expected rcodes (this gatekeeperd enforces nothing: "
			 "no Redis); from each request's answer (the "
			 "command returning) until the zone answers as changed (polled, 5 s limit). Updates: %s.\n" % (
				 c.get("gkctl_out", ""), a.control_rate, a.control_seconds, a.rate,
				 ", ".join("%s %d" % kv for kv in sorted(c.get("ops", {}).items()))))
		S.append("| metric | value | target |\n|---|---|---|")
		S.append("| updates (achieved rate) | %d (%.1f/s) | 100/s for 60 s |" % (c["n"], c["rate"]))
		S.append("| answered as changed after the command returned: p50 / p99 / max | %s / %s / %s ms | p99 ≤ 50 ms: %s |" % (
			fmt(1e3 * c["p50_s"] if c["p50_s"] is not None else None), fmt(1e3 * c["p99_s"] if c["p99_s"] is not None else None),
			fmt(1e3 * c["max_s"] if c["max_s"] is not None else None),
			"PASS" if c["p99_s"] is not None and c["p99_s"] <= 0.05 else "FAIL"))
		S.append("| updates never seen (5 s) | %d | 0 |" % c["never"])
		S.append("| the request itself (sent to answered): p50 / p99 | %s / %s ms | |" % (
			fmt(1e3 * c["cmd_p50_s"], 2), fmt(1e3 * c["cmd_p99_s"], 2)))
		S.append("| queries lost / wrong (of %d) | %d / %d | 0: %s |" % (c["sent"], c["lost"], c["wrong"],
									   "PASS" if not c["lost"] and not c["wrong"] else "FAIL"))
	return "\n".join(S)
