#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/test_ipfeed.py -- gk-sync apply-ip against a private redis-server.
#
# Checks: a signed snapshot lands in gk:ip:ranges (canonical range -> JSON) and gk:ip:serial;
# the same snapshot again, a bad signature, a malformed range, identical ranges of two
# providers and crossing ranges are rejected with FILE:LINE and Redis is unchanged (a digest of
# every gk:ip:* key); a delta removes and adds; a delta whose addition would cross a stored
# range is rejected naming "stored"; a delta with the wrong base is rejected; lint warns of a
# nested range; the domain apply refuses an IP feed.
import hashlib
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

GKSYNC = sys.argv[2]  # argv[1]: gatekeeperd (gk_integration_test), unused
failures = []


def expect(cond, what):
	print(("ok   " if cond else "FAIL ") + what)
	if not cond:
		failures.append(what)


def run(*args, ok=(0,)):
	r = subprocess.run([GKSYNC] + list(args), capture_output=True, text=True, timeout=120)
	if r.returncode not in ok:
		raise RuntimeError("gk-sync %s: exit %d\n%s%s" % (args[0], r.returncode, r.stdout, r.stderr))
	return r


def rcli(port, *args):
	return subprocess.run(["redis-cli", "-p", str(port), "--raw"] + list(args), capture_output=True,
			      text=True, timeout=30, check=True).stdout


def digest(port):
	d = hashlib.sha256()
	d.update(rcli(port, "GET", "gk:ip:serial").encode())
	d.update("\n".join(sorted(rcli(port, "HGETALL", "gk:ip:ranges").split("\n"))).encode())
	return d.hexdigest()


def write(tmp, name, header, recs, key, sign=True):
	path = os.path.join(tmp, name)
	with open(path, "w") as f:
		f.write(json.dumps(dict(feed="ip", **header)) + "\n")
		for r in recs:
			f.write(json.dumps(r, ensure_ascii=False) + "\n")
	if sign:
		run("sign", "--key", key, path)
	return path


def main():
	with h.TempDir() as tmp:
		srv = h.start_redis(tmp)
		try:
			body(tmp, srv.port)
		finally:
			srv.stop()
	if failures:
		print("%d failure(s)" % len(failures))
		sys.exit(1)


def body(tmp, port):
	key, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k.pub")
	run("keygen", key, pub)
	addr = "127.0.0.1:%d" % port

	def apply(path, ok=(0,)):
		return run("apply-ip", "--redis", addr, "--pubkey", pub, path, ok=ok)

	snap = [dict(provider="阿里云", range="203.0.113.0/24", province="浙江", usage="IDC"),
		dict(provider="腾讯云", range="203.0.113.64-203.0.113.127"),
		dict(provider="电信", range="2001:db8::/32")]
	p = write(tmp, "s1.jsonl", dict(kind="snapshot", serial=5, count=3), snap, key)
	r = apply(p)
	expect("applied IP snapshot serial 5 (was 0): 3 ranges written" in r.stdout, "snapshot applied")
	expect(rcli(port, "GET", "gk:ip:serial").strip() == "5", "gk:ip:serial is 5")
	v = json.loads(rcli(port, "HGET", "gk:ip:ranges", "203.0.113.0/24"))
	expect(v == dict(provider="阿里云", province="浙江", usage="IDC"), "stored value of 203.0.113.0/24")
	expect(json.loads(rcli(port, "HGET", "gk:ip:ranges", "203.0.113.64/26"))["provider"] == "腾讯云",
	       "FIRST-LAST stored under its canonical CIDR")
	expect(rcli(port, "EXISTS", "gk:ip:ranges:new").strip() == "0", "no scratch key left")
	before = digest(port)

	r = apply(p, ok=(1,))
	expect("s1.jsonl:1: serial 5 is not newer than gk:ip:serial 5" in r.stderr, "same snapshot again rejected")
	bad = write(tmp, "badsig.jsonl", dict(kind="snapshot", serial=6, count=1),
		    [dict(provider="X", range="198.51.100.0/24")], key)
	with open(bad, "a") as f:
		f.write("")
	with open(bad + ".sig", "r+b") as f:
		b = bytearray(f.read())
		b[0] ^= 1
		f.seek(0)
		f.write(bytes(b))
	r = apply(bad, ok=(1,))
	expect("badsig.jsonl:1: bad signature" in r.stderr, "bad signature rejected")
	cases = [
		("host.jsonl", [dict(provider="X", range="198.51.100.1/24")], "host.jsonl:2: invalid range"),
		("twice.jsonl", [dict(provider="X", range="198.51.100.0/24"),
				 dict(provider="Y", range="198.51.100.0-198.51.100.255")],
		 'twice.jsonl:3: range 198.51.100.0/24 filed by two providers: "X" (line 2) and "Y" (line 3)'),
		("cross.jsonl", [dict(provider="X", range="198.51.100.0/24"),
				 dict(provider="Y", range="198.51.100.128-198.51.101.5")],
		 "cross.jsonl:3: range 198.51.100.128-198.51.101.5 overlaps 198.51.100.0/24 (line 2)"),
	]
	for name, recs, msg in cases:
		p2 = write(tmp, name, dict(kind="snapshot", serial=6, count=len(recs)), recs, key)
		r = apply(p2, ok=(1,))
		expect(msg in r.stderr, "%s rejected: %s" % (name, r.stderr.strip()))
	expect(digest(port) == before, "Redis unchanged by every rejection")

	# a delta: remove one range, add one nested inside 203.0.113.0/24
	d1 = write(tmp, "d1.jsonl", dict(kind="delta", serial=6, base=5, count=2),
		   [dict(range="203.0.113.64/26", op="remove"),
		    dict(provider="联通", range="203.0.113.128/25")], key)
	r = apply(d1)
	expect("applied IP delta serial 6 (was 5): 1 ranges written, 1 removed" in r.stdout, "delta applied")
	expect(rcli(port, "HEXISTS", "gk:ip:ranges", "203.0.113.64/26").strip() == "0", "delta removed a range")
	expect(json.loads(rcli(port, "HGET", "gk:ip:ranges", "203.0.113.128/25"))["provider"] == "联通",
	       "delta added a range")
	r = apply(d1)
	expect("already applied" in r.stdout, "the same delta again: already applied")
	before = digest(port)
	d2 = write(tmp, "d2.jsonl", dict(kind="delta", serial=7, base=6, count=1),
		   [dict(provider="移动", range="203.0.113.200-203.0.114.10")], key)
	r = apply(d2, ok=(1,))
	expect("d2.jsonl:2: range 203.0.113.200-203.0.114.10 overlaps 203.0.113.0/24 (stored)" in r.stderr
	       or "d2.jsonl:2: range 203.0.113.200-203.0.114.10 overlaps 203.0.113.128/25 (stored)" in r.stderr,
	       "delta crossing a stored range rejected: " + r.stderr.strip())
	d3 = write(tmp, "d3.jsonl", dict(kind="delta", serial=9, base=8, count=0), [], key)
	r = apply(d3, ok=(1,))
	expect("delta base 8 != gk:ip:serial 6 (an earlier delta is missing)" in r.stderr, "delta with a missing base")
	expect(digest(port) == before, "Redis unchanged by the rejected deltas")

	r = run("lint", p)
	expect('s1.jsonl:3: warning: range 203.0.113.64/26 ("腾讯云") lies inside 203.0.113.0/24' in r.stdout,
	       "lint warns of the nested range")
	r = run("apply", "--redis", addr, "--pubkey", pub, p, ok=(1,))
	expect("an IP filing feed" in r.stderr and "apply-ip" in r.stderr, "domain apply refuses an IP feed")
	r = run("verify-ip", "--pubkey", pub, p)
	expect("ok: IP snapshot serial 5, 3 ranges (1 nested)" in r.stdout, "verify-ip")
	# an empty snapshot empties the table
	e = write(tmp, "empty.jsonl", dict(kind="snapshot", serial=10, count=0), [], key)
	apply(e)
	expect(rcli(port, "EXISTS", "gk:ip:ranges").strip() == "0" and
	       rcli(port, "GET", "gk:ip:serial").strip() == "10", "empty snapshot empties the table")


if __name__ == "__main__":
	main()
