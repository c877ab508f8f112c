# SPDX-License-Identifier: MIT
# bench/gkbench/stats.py -- statistics: percentiles, medians, paired ratios.
import statistics


def pctl(values, q):
	"""Nearest-rank percentile q (0..100) of values; None (never seen) counts as infinite and
	comes back as None."""
	v = sorted(float("inf") if x is None else x for x in values)
	if not v:
		return None
	x = v[max(0, min(len(v) - 1, -(-len(v) * q // 100) - 1))]
	return None if x == float("inf") else x


def med(rounds, key):
	v = [r[key] for r in rounds if r.get(key) is not None]
	return (statistics.median(v), min(v), max(v)) if v else (None, None, None)


def ratio(x, y):
	return x / y if x is not None and y else None


def paired(a, b, key):
	"""Median over rounds of a[i] / b[i]: the two targets of one round ran back to back, so a
	machine-wide slow spell (this VM has two speed modes at peak) hits both sides of a pair."""
	v = [x[key] / y[key] for x, y in zip(a, b) if x.get(key) is not None and y.get(key)]
	return statistics.median(v) if v and len(a) == len(b) else None


def pair_ratios(a, b, key):
	"""Per-pair ratios a / b of two targets' interleaved slices (measure_pairs) of the same pair."""
	bj = {y.get("pair"): y for y in b}
	return [x[key] / bj[x.get("pair")][key] for x in a
		if x.get(key) is not None and x.get("pair") in bj and bj[x.get("pair")].get(key)]
