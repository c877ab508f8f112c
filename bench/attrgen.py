#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# bench/attrgen.py -- fill a Redis with N discovered unfiled domains for today (China Standard
# Time) and their served sites' addresses (gk:site:*, include/gk/discovery.h), for timing the
# attribution of `gkctl report` against the ranges of bench/ipfeedgen.py.
#
# usage: attrgen.py PORT N
# Domain i gets the address 1.0.0.0 + 256 * (8 * i % 875000) + 5: inside one of the /24s
# ipfeedgen.py 1000000 files (one in 8 of its ranges is IPv6), every tenth one a private
# 10.x address, every twentieth one an address above the filed /24s (unknown).
import ipaddress
import sys
import time

import redis


def bucket(d):
	x = 2166136261
	for b in d.encode():
		x = ((x ^ b) * 16777619) & 0xFFFFFFFF
	return x & 0xFFFF


def main():
	port, n = int(sys.argv[1]), int(sys.argv[2])
	r = redis.Redis(port=port)
	day = time.strftime("%Y%m%d", time.gmtime(time.time() + 8 * 3600))
	now = int(time.time())
	p = r.pipeline(transaction=False)
	base = int(ipaddress.IPv4Address("1.0.0.0"))
	for i in range(n):
		d = "site%07d.cn" % i
		if i % 10 == 9:
			a = "10.%d.%d.%d" % (i >> 16 & 255, i >> 8 & 255, i & 255)
		elif i % 20 == 0:
			a = str(ipaddress.IPv4Address(int(ipaddress.IPv4Address("200.0.0.0")) + i))
		else:
			a = str(ipaddress.IPv4Address(base + 256 * (8 * i % 875000) + 5))
		p.hset("gk:disc:%s:unfiled" % day, d, "%d %d %d" % (1 + i % 7, now, now))
		p.hset("gk:site:%04x" % bucket(d), d, a)
		if i % 5000 == 4999:
			p.execute()
	p.execute()
	print("%d discovered domains and sites written for %s" % (n, day))


if __name__ == "__main__":
	main()
