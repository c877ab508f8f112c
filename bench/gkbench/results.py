# SPDX-License-Identifier: MIT
# bench/gkbench/results.py -- smoke checks and the saved results of earlier runs (--keep).
import json
import os


def smoke_checks(out):
	bad = []
	u = out.get("udp", {}).get("res", {})
	for lb, kinds in u.items():
		for k, rs in kinds.items():
			for r in rs:
				sent = r.get("sent") or 0
				if not (r.get("completed") or r.get("received")):
					bad.append("%s %s: nothing answered" % (lb, k))
				# closed-loop peak: a start-up burst may overflow a backend's buffer; that is a figure.
				# A peer (NSD, dnsdist) that loses queries on a loaded machine is a figure too: the
				# smoke run checks the harness and gatekeeperd, whose losses fail it.
				if k not in ("gkload", "pairs") and (r.get("lost") or 0) > max(1, sent // 1000):
					msg = "%s %s: lost %s of %s" % (lb, k, r.get("lost"), sent)
					if lb.startswith("gatekeeperd"):
						bad.append(msg)
					else:
						print("smoke: peer figure, not a failure: " + msg)
				if r.get("wrong"):
					bad.append("%s %s: %d wrong rcodes: %s" % (lb, k, r["wrong"], r.get("wrong_lines")))
	for sc in ("tcp", "onoff", "policy"):
		for lb, kinds in (out.get(sc, {}).get("res") or {}).items():
			for k, rs in kinds.items():
				for r in rs:
					lost = (r.get("lost") or 0) if k != "pairs" else 0  # closed loop: as in udp
					if r.get("wrong") or lost > max(1, (r.get("sent") or 0) // 1000):
						bad.append("%s %s %s: lost %s wrong %s" % (sc, lb, k, r.get("lost"), r.get("wrong")))
	fe = out.get("frontend", {})
	if fe and not fe.get("revocation", {}).get("refused"):
		bad.append("frontend: the revoked cached name was never refused")
	if fe and fe.get("failover", {}).get("wrong"):
		bad.append("frontend failover: %d wrong rcodes" % fe["failover"]["wrong"])
	if "storm" in out and out["storm"]["probes_from_start_s"] is None:
		bad.append("storm: revocations never enforced")
	if "propagate" in out and out["propagate"]["never"]:
		p = out["propagate"]
		bad.append("propagate: %d of %d changes not enforced by both instances within %g s" % (
			p["never"], p["changes"], p["timeout_s"]))
	if "redis" in out and (out["redis"]["wrong"] or out["redis"]["lost"]):
		bad.append("redis kill: lost %d wrong %d" % (out["redis"]["lost"], out["redis"]["wrong"]))
	if "cold" in out and out["cold"]["table_size"] != out["cold"]["n"]:
		bad.append("cold: table_size %d != %d" % (out["cold"]["table_size"], out["cold"]["n"]))
	res = [("rrl", (out.get("rrl") or {}).get("res") or {})]
	for lb, kinds in ((out.get("dot") or {}).get("res") or {}).items():
		for r in kinds.get("dot", []):
			if not r.get("completed"):
				bad.append("dot %s: nothing answered over TLS" % lb)
	if "dot" in out and len((out["dot"].get("res") or {})) != 2:
		bad.append("dot: not every server measured")
	res += [("dnssec " + ch, c["res"]) for ch, c in (out.get("dnssec") or {}).get("chains", {}).items()]
	for sc, rr in res:
		for lb, kinds in rr.items():
			for k, rs in kinds.items():
				for r in rs:
					if not (r.get("completed") or r.get("received")):
						bad.append("%s %s %s: nothing answered" % (sc, lb, k))
					elif k == "fixed" and (r.get("lost") or 0) > max(1, (r.get("sent") or 0) // 1000):
						bad.append("%s %s %s: lost %s" % (sc, lb, k, r.get("lost")))
	for kind, r in ((out.get("secondary") or {}).get("runs") or {}).items():
		if r.get("never") or r.get("all_served_s") is None:
			bad.append("secondary %s: served %s, changes never served %s" % (kind, r.get("all_served_s"), r.get("never")))
	z = out.get("zones")
	if z:
		for k in z["servers"] if "load" in z.get("parts", ["load"]) else []:
			if k not in z["load"]:
				bad.append("zones: %s not measured" % k)
		c = z.get("control") or {}
		if c.get("status") == "measured" and (c["lost"] or c["wrong"] or c["never"]):
			bad.append("zones control: lost %d wrong %d never answered %d" % (c["lost"], c["wrong"], c["never"]))
		for lb, kinds in (z.get("query") or {}).items():
			if lb.startswith("_"):
				continue
			for k, rs in kinds.items():
				for r in rs:
					if r.get("wrong") or (k != "gkload" and (r.get("lost") or 0) > max(1, (r.get("sent") or 0) // 1000)):
						bad.append("zones %s %s: lost %s wrong %s" % (lb, k, r.get("lost"), r.get("wrong")))
	return bad


def keep_results(path, out, keep, meta):
	"""Saves this run's scenario results (also a failed run's finished ones) to path, merged
	with the saved results of scenarios not run now when keep is set, and puts those earlier
	results into out. Returns {result key: meta (date, code, command, load; earlier: bool)}."""
	prev = {"out": {}, "meta": {}}
	if keep and os.path.exists(path):
		with open(path) as f:
			prev = json.load(f)
	now = set(out)
	merged = {"out": dict(prev["out"]), "meta": dict(prev["meta"])}
	for k in now:
		merged["out"][k], merged["meta"][k] = out[k], meta
	with open(path + ".tmp", "w") as f:
		json.dump(merged, f, default=str)
	os.replace(path + ".tmp", path)
	for k, v in prev["out"].items():
		if k not in now:
			out[k] = json.loads(json.dumps(v))
	return {k: dict(merged["meta"][k], earlier=k not in now) for k in out}
