#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/ipfeedgen.py -- generate an IP filing feed (docs/FEED.md "IP filing feed") of N ranges.
#
# usage: ipfeedgen.py N SERIAL > feed.jsonl
# Ranges are disjoint: /24s walked through 1.0.0.0 upwards (about 1 in 8 an IPv6 /48 under
# 2400::/12 instead), with every 50th range holding one nested /28 of another provider, so the
# overlap rules have work to do. Deterministic for a given N.
import ipaddress
import json
import sys

PROVINCES = ["北京", "上海", "广东", "浙江", "江苏", "四川"]


def main():
	n = int(sys.argv[1])
	serial = int(sys.argv[2]) if len(sys.argv) > 2 else 1
	out = sys.stdout
	out.write(json.dumps({"feed": "ip", "kind": "snapshot", "serial": serial, "count": n},
	                     separators=(",", ":")) + "\n")
	v4 = int(ipaddress.IPv4Address("1.0.0.0"))
	v6 = int(ipaddress.IPv6Address("2400::"))
	i = 0
	k = 0
	while i < n:
		prov = "接入商%03d" % (k % 300)
		if k % 8 == 7:
			rng = "%s/48" % ipaddress.IPv6Address(v6 + (k << 80))
		else:
			rng = "%s/24" % ipaddress.IPv4Address(v4 + (k << 8))
		rec = {"provider": prov, "range": rng, "province": PROVINCES[k % 6], "usage": "IDC"}
		out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
		i += 1
		if k % 50 == 0 and k % 8 != 7 and i < n:
			inner = "%s/28" % ipaddress.IPv4Address(v4 + (k << 8) + 16)
			rec = {"provider": "接入商%03d" % ((k + 1) % 300), "range": inner}
			out.write(json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n")
			i += 1
		k += 1


if __name__ == "__main__":
	main()
