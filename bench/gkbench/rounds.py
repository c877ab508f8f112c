# SPDX-License-Identifier: MIT
# bench/gkbench/rounds.py -- alternating rounds and interleaved pairs of measurements over several targets.

from .common import log
from .load import GKLOAD_PEAK, GKLOAD_SOCKETS, dnsperf, gkload_run, wait_quiet


def round_robin(targets, i):
	"""Order of round i: rotated by i, reversed on odd i; two targets simply alternate (the
	rotation and the reversal would cancel)."""
	if len(targets) == 2:
		return targets if i % 2 == 0 else targets[::-1]
	k = i % len(targets)
	return targets[k:] + targets[:k] if i % 2 == 0 else (targets[k:] + targets[:k])[::-1]


def quiet(env):
	if env.a.smoke:
		return None  # checks only: no figures to protect
	return wait_quiet(env.quiet_budget)


def logrun(i, label, what, r):
	log("round %d %-22s %-8s %9.0f qps  lost %d  server %5.1f%%  client %5.1f%%  runq %.1f ms/s  other %.1f%%%s" %
	    (i + 1, label, what, r.get("qps") or r.get("recv_qps") or 0, r.get("lost") or 0, r["cpu_pct"],
	     r.get("client_cpu_pct") or 0, r["runq_ms_per_s"], r["other_pct"],
	     "  p50 %.1f p99 %.1f p99.9 %.1f µs  wrong %d" % (r.get("p50_us", -1), r.get("p99_us", -1),
							    r.get("p999_us", -1), r.get("wrong", 0)) if "p99_us" in r else ""))


def measure_rounds(env, targets, kinds, res, expect_for, first=0, last=None):
	"""Alternating rounds [first, last) (default: all --rounds); kinds: list of (name,
	fn(target) -> result dict)."""
	for i in range(first, env.a.rounds if last is None else last):
		for name, fn in kinds:
			for t in round_robin(targets, i):
				quiet(env)
				r = fn(t)
				res.setdefault(t.label, {}).setdefault(name, []).append(r)
				logrun(i, t.label, name, r)


def kinds_udp(env, expect_for, fixed=True, peak=True):
	"""The udp measurements; peak=False leaves out both peaks (smoke: the udp scenario covers them)."""
	a, q = env.a, env.manifest["queries"]
	k = []
	if peak:
		k += [("dnsperf", lambda t: dnsperf(t, q, a.duration)),
		      ("gkload", lambda t: gkload_run(t, a.gkload, q, a.duration, GKLOAD_PEAK))]
	if fixed:
		k.append(("fixed", lambda t: gkload_run(t, a.gkload, q, a.duration, ["-Q", str(a.rate), "-c", GKLOAD_SOCKETS],
						       expect_for(t))))
	return k


def pair_order(targets, j):
	"""Slice order of pair j: the first target in the middle of its references (adjacent to
	two of them, one slice from a third), the references rotated by j and the whole order
	reversed on odd j, so every reference takes every place around the first target. Two
	targets: A B, B A, A B, ..."""
	refs = targets[1:]
	k = j % len(refs) if refs else 0
	refs = refs[k:] + refs[:k]
	mid = len(refs) // 2
	order = refs[:mid] + targets[:1] + refs[mid:]
	return order if j % 2 == 0 else order[::-1]


def measure_pairs(env, targets, res, kind="pairs", extra=(), queries=None, rate=None, slice_s=None):
	"""The closed-loop peak (gkload GKLOAD_PEAK) as --pairs interleaved pairs of
	--pair-seconds slices: for each j, one slice per target back to back (pair_order), with no
	wait for a quiet machine between them; res[label][kind][j] is target label's slice of pair
	j; extra: more gkload options (say -D), queries: another query file. This VM's two speed
	modes last seconds, so a pair's slices mostly share one; the report
	takes the median of the per-pair ratios. The quiet wait runs before the block, and
	between pairs only when the last pair saw the rest of the machine busy. rate: the open
	loop at that many qps (gkload -Q, GKLOAD_SOCKETS sockets) instead of the closed loop, in
	slices of slice_s seconds (default --pair-seconds)."""
	a, q = env.a, queries or env.manifest["queries"]
	if a.pairs < 1:
		return
	load = ["-Q", str(rate), "-c", GKLOAD_SOCKETS] if rate else GKLOAD_PEAK
	secs = slice_s or a.pair_seconds
	quiet(env)
	for j in range(a.pairs):
		busy = 0.0
		for pos, t in enumerate(pair_order(targets, j)):
			r = gkload_run(t, a.gkload, q, secs, load + list(extra))
			r.update(pair=j, pos=pos, slice_s=secs)
			res.setdefault(t.label, {}).setdefault(kind, []).append(r)
			busy = max(busy, r["other_pct"])
			log("pair %d/%d %d %-22s %9.0f qps  lost %d  server %5.1f%%  %.2f µs/q  client %5.1f%%  other %.1f%%" % (
				j + 1, a.pairs, pos + 1, t.label, r["qps"], r.get("lost") or 0, r["cpu_pct"], r["us_per_q"] or 0,
				r.get("client_cpu_pct") or 0, r["other_pct"]))
		if busy >= 25.0 and j + 1 < a.pairs:
			quiet(env)
