#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/test_attribution.py -- attribution and accuracy end to end: the worked
# example of docs/REPORT.md ("Attribution and accuracy: a worked example").
#
# A private redis-server gets a signed domain feed (five filed domains, one revoked, each
# record naming its access provider and ips) and two signed IP filing feeds (the second
# renames 腾讯云); gatekeeperd serves ten zones whose addresses fall in known ranges, in no
# range, or in private space, and writes each site's addresses to gk:site:*. Refused
# queries make the discovery counters. Checks, in every format of gkctl report (table, csv,
# json, notice, html, xlsx read back with openpyxl; the HTML's numbers equal the CSV's):
#   - each discovered domain is attributed to the provider whose filed range holds its
#     address; a private address is reported, not attributed; an address in no range is
#     "unknown" with the address shown;
#   - the notice table per provider is filled from attribution;
#   - accuracy per filed provider: a record naming the wrong provider, a provider renamed
#     between IP feeds, a record whose ips lack a served address, a filed domain served on a
#     private address (not checked);
#   - before the rename the renamed provider's domain matched;
#   - partial data (no ranges, garbage ranges and site values, no records) never crashes the
#     report.
import csv
import html.parser
import io
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import redis  # noqa: E402

GKD, GKSYNC, GKCTL = sys.argv[1], sys.argv[2], sys.argv[3]
ALI, TEL, TX_OLD, TX_NEW = "阿里云", "中国电信", "腾讯云", "腾讯云计算（北京）有限责任公司"

# zone -> (status in the feed or None, provider named, ips in the record, zone records)
ZONES = {
	"u1.cn": (None, None, None, "@ IN A 47.96.1.1\n"),
	"u2.cn": (None, None, None, "www IN A 119.28.5.5\n"),
	"u3.cn": (None, None, None, "@ IN A 10.1.2.3\n"),
	"u4.cn": (None, None, None, "@ IN A 1.1.1.1\n"),
	"r1.cn": ("revoked", TEL, None, "@ IN AAAA 240e:1::1\n"),
	"f1.cn": ("filed", ALI, ["47.96.2.2"], "@ IN A 47.96.2.2\nwww IN CNAME @\n"),
	"f2.cn": ("filed", TEL, ["47.96.3.3"], "@ IN A 47.96.3.3\n"),
	"f3.cn": ("filed", TX_OLD, ["119.28.7.7"], "@ IN A 119.28.7.7\n"),
	"f4.cn": ("filed", ALI, ["47.96.4.4"], "@ IN A 47.96.4.4\nwww IN A 47.96.4.5\n"),
	"f5.cn": ("filed", ALI, ["192.168.1.5"], "@ IN A 192.168.1.5\n"),
}
QUERIES = {"u1.cn": 3, "u2.cn": 2, "u3.cn": 1, "u4.cn": 1, "r1.cn": 2, "f1.cn": 1}
QUERIES_TOTAL = sum(QUERIES.values()) + 1  # and the one that waits for the status set

# The worked example's figures (docs/REPORT.md), after the second IP feed.
NOTICE = [(TEL, 1, 1), (TX_NEW, 1, 1), (ALI, 1, 1), (None, 2, 2)]
ATTRIBUTED = {"u1.cn": ALI, "u2.cn": TX_NEW, "u3.cn": None, "u4.cn": None, "r1.cn": TEL}
ATTRIBUTION = {"u1.cn": "range", "u2.cn": "range", "u3.cn": "private", "u4.cn": "unknown",
               "r1.cn": "range"}
ACCURACY = [(ALI, 2, 2, 1), (TEL, 1, 0, 0), (TX_OLD, 1, 0, 0)]  # provider, checked, matched, ips
MISMATCH = {"f2.cn": (TEL, ALI, "provider"), "f3.cn": (TX_OLD, TX_NEW, "provider"),
            "f4.cn": (ALI, ALI, "ips")}
SUMMARY = dict(filed=5, unhandled=5, served=10, served_filed=5, not_checked=1, checked=4,
               matched=2)

failures = []


def log(*a):
	print(*a, flush=True)


def expect(cond, what):
	log(("ok   " if cond else "FAIL ") + what)
	if not cond:
		failures.append(what)


def run(argv, ok=(0,)):
	r = subprocess.run(argv, capture_output=True, timeout=120)
	if r.returncode not in ok:
		raise AssertionError("%s: exit %d\n%s%s" % (" ".join(argv), r.returncode,
		                                            r.stdout.decode(), r.stderr.decode()))
	return r.stdout.decode("utf-8")


def sign_apply(tmp, key, pub, addr, name, lines, ip=False):
	path = os.path.join(tmp, name)
	with open(path, "w") as f:
		for x in lines:
			f.write(json.dumps(x, ensure_ascii=False) + "\n")
	run([GKSYNC, "sign", "--key", key, path])
	run([GKSYNC, "apply-ip" if ip else "apply", "--redis", addr, "--pubkey", pub, path])


def domain_feed():
	recs = []
	for i, (d, (st, prov, ips, _)) in enumerate(sorted(ZONES.items())):
		if st is None:
			continue
		r = dict(domain=d, status=st, licence="京ICP备%08d号-1" % (40000000 + i),
		         sponsor="示例%02d有限公司" % i, nature="企业", provider=prov,
		         updated="2026-01-01T00:00:00+08:00")
		if ips:
			r["ips"] = ips
		recs.append(r)
	head = dict(kind="snapshot", serial=1, count=len(recs), generated="2026-01-01T00:00:00Z")
	return [head] + recs


def ip_feed(serial, tencent):
	recs = [dict(provider=ALI, range="47.96.0.0/16", province="浙江"),
	        dict(provider=tencent, range="119.28.0.0/16"),
	        dict(provider=TEL, range="240e::/20")]
	return [dict(feed="ip", kind="snapshot", serial=serial, count=len(recs),
	             generated="2026-01-01T00:00:00Z")] + recs


def write_zones(zdir):
	os.mkdir(zdir)
	for d, (_, _, _, rrs) in ZONES.items():
		with open(os.path.join(zdir, d + ".zone"), "w") as f:
			f.write("$ORIGIN %s.\n$TTL 300\n"
			        "@ IN SOA ns1.%s. hostmaster.%s. 2026010101 7200 900 1209600 300\n"
			        "  IN NS ns1\nns1 IN A 192.0.2.53\n%s" % (d, d, d, rrs))
	return [(d, d + ".zone") for d in sorted(ZONES)]


class Report:
	def __init__(self, addr, frm, to):
		self.base = [GKCTL, "report", "--redis", addr, "--from", frm, "--to", to]

	def run(self, fmt, out=None):
		argv = self.base + ["--format", fmt] + (["--output", out] if out else [])
		return run(argv)

	def json(self):
		return json.loads(self.run("json"))

	def csv(self):
		return list(csv.DictReader(io.StringIO(self.run("csv"))))


def check_json(j):
	got = [(p["provider"], p["accessed"], p["unhandled"]) for p in j["providers"]]
	expect(got == NOTICE, "json: notice per provider %s" % got)
	doms = {d["domain"]: d for d in j["unfiled"] + j["revoked"]}
	expect({d: doms[d]["attributed"] for d in ATTRIBUTED} == ATTRIBUTED,
	       "json: attributed providers")
	expect({d: doms[d]["attribution"] for d in ATTRIBUTION} == ATTRIBUTION,
	       "json: attribution kinds (private reported, not attributed)")
	expect(doms["u3.cn"]["addresses"] == ["10.1.2.3"] and doms["u4.cn"]["addresses"] == ["1.1.1.1"],
	       "json: unattributed domains show their addresses")
	a = j["accuracy"]
	got = [(p["provider"], p["checked"], p["matched"], p["ips_differ"]) for p in a["providers"]]
	expect(got == ACCURACY, "json: accuracy per provider %s" % got)
	expect(abs(a["providers"][0]["accuracy"] - 1.0) < 1e-9 and a["providers"][1]["accuracy"] == 0,
	       "json: accuracy rates")
	summ = dict(filed=j["summary"]["filed"], unhandled=j["summary"]["unhandled"],
	            served=a["served"], served_filed=a["served_filed"], not_checked=a["not_checked"],
	            checked=a["checked"], matched=a["matched"])
	expect(summ == SUMMARY, "json: summary %s" % summ)
	expect(abs(a["accuracy"] - 0.5) < 1e-9 and abs(j["summary"]["filing_rate"] - 0.5) < 1e-9,
	       "json: accuracy 50%, filing rate 50%")
	mis = {m["domain"]: (m["filed_provider"], m["observed_provider"], m["check"])
	       for m in a["mismatches"]}
	expect(mis == MISMATCH, "json: mismatches %s" % mis)
	expect(a["ranges"] == 3, "json: 3 filed ranges")


def from_csv(rows):
	"""The worked example's figures recomputed from the CSV's rows alone."""
	notice = {}
	for r in rows:
		if r["list"] not in ("unfiled", "revoked"):
			continue
		p = r["attributed"] or r["provider"] or None
		a, u = notice.get(p, (0, 0))
		notice[p] = (a + 1, u + (r["handled"] == "no"))
	acc = {}
	for r in rows:
		if r["list"] != "checked":
			continue
		c, m, i = acc.get(r["provider"], (0, 0, 0))
		acc[r["provider"]] = (c + 1, m + (r["check"] in ("match", "ips")), i + ("ips" in r["check"]))
	return notice, acc


def check_csv(rows):
	notice, acc = from_csv(rows)
	expect(notice == {p: (a, u) for p, a, u in NOTICE}, "csv: notice per provider %s" % notice)
	expect(acc == {p: (c, m, i) for p, c, m, i in ACCURACY}, "csv: accuracy per provider %s" % acc)
	by = {(r["list"], r["domain"]): r for r in rows}
	expect(by[("unfiled", "u3.cn")]["addresses"] == "10.1.2.3" and
	       by[("unfiled", "u3.cn")]["attribution"] == "private", "csv: u3.cn private, shown")
	expect(by[("checked", "f4.cn")]["ips"] == "47.96.4.4" and
	       by[("checked", "f4.cn")]["addresses"] == "47.96.4.4 47.96.4.5", "csv: f4.cn ips vs served")
	expect(("checked", "f5.cn") not in by, "csv: f5.cn (private address) not checked")
	return notice, acc


class Cells(html.parser.HTMLParser):
	"""Rows of the tables with the given ids: lists of cell texts."""

	def __init__(self, ids):
		super().__init__()
		self.ids, self.rows, self.table, self.row, self.cell = ids, {i: [] for i in ids}, None, None, None

	def handle_starttag(self, tag, attrs):
		a = dict(attrs)
		if tag == "table" and a.get("id") in self.ids:
			self.table = a["id"]
		elif tag == "tr" and self.table:
			self.row = []
		elif tag in ("td", "th") and self.row is not None:
			self.cell = ""

	def handle_endtag(self, tag):
		if tag == "table":
			self.table = None
		elif tag == "tr" and self.row is not None:
			self.rows[self.table].append(self.row)
			self.row = None
		elif tag in ("td", "th") and self.cell is not None:
			self.row.append(self.cell)
			self.cell = None

	def handle_data(self, data):
		if self.cell is not None:
			self.cell += data


def check_html(page, notice, acc):
	p = Cells(["providers", "accuracy", "mismatches"])
	p.feed(page)
	prov = {(None if r[0] == "(unknown)" else r[0]): (int(r[1]), int(r[2]))
	        for r in p.rows["providers"][1:]}
	expect(prov == notice, "html: providers table equals the csv's figures")
	rows = [r for r in p.rows["accuracy"][1:] if r[0] != "total"]
	got = {r[0]: (int(r[1]), int(r[2]), int(r[4])) for r in rows}
	expect(got == acc, "html: accuracy table equals the csv's figures")
	total = [r for r in p.rows["accuracy"] if r[0] == "total"][0]
	expect(total[1:4] == ["4", "2", "50.00%"], "html: accuracy total 2 of 4, 50.00%%: %s" % total)
	mis = {r[0]: (r[1], r[2], r[5]) for r in p.rows["mismatches"][1:]}
	expect(mis == MISMATCH, "html: mismatches")


def check_text(table, notice):
	expect("Access-location accuracy: 2 of 4 filed served domains checked match (50.00%)" in table,
	       "table: accuracy line")
	expect("u3.cn" in table and "private [10.1.2.3]" in table, "table: u3.cn private, address shown")
	lines = notice.splitlines()
	expect(any(l.split()[:2] == ["4", "（未知）"] and l.split()[2:] == ["2", "2"] for l in lines),
	       "notice: unknown row 2 / 2")
	expect(any("中国电信" in l and l.split()[-3:] == ["1", "0", "0.00%"] for l in lines),
	       "notice: 中国电信 accuracy 1 / 0 / 0.00%")
	expect(any(l.startswith("合计") and l.split()[-3:] == ["4", "2", "50.00%"] for l in lines),
	       "notice: accuracy total 4 / 2 / 50.00%")
	expect("接入信息不准确的备案：3" in notice, "notice: 3 inaccurate filings")


def check_xlsx(rep, tmp, notice, acc):
	try:
		import openpyxl
	except ImportError:
		raise AssertionError("python3-openpyxl not installed (scripts/deps.sh installs it)")
	path = os.path.join(tmp, "r.xlsx")
	rep.run("xlsx", out=path)
	wb = openpyxl.load_workbook(path, read_only=True)
	rows = [r for r in wb["通报表"].iter_rows(min_row=5, values_only=True)]
	prov = {}
	for r in rows:
		if r[0] == "合计":
			break
		prov[None if r[1] == "（未知）" else r[1]] = (int(r[2]), int(r[3]))
	expect(prov == notice, "xlsx: 通报表 equals the csv's figures")
	got, total = {}, None
	for r in wb["准确率"].iter_rows(min_row=4, values_only=True):
		if r[0] == "合计":
			total = r
			break
		got[r[1]] = (int(r[2]), int(r[3]), int(r[5]))
	expect(got == acc, "xlsx: 准确率 equals the csv's figures")
	expect(total is not None and total[2:5] == (4, 2, 0.5), "xlsx: 准确率 total %s" % (total,))


def wait_sites(r, n):
	h.wait_for("%d site entries in gk:site:*" % n,
	           lambda: sum(r.hlen(k) for k in r.scan_iter("gk:site:*")) >= n)


def query(port, name, n):
	for _ in range(n):
		q = dns.message.make_query("www." + name, "A")
		dns.query.udp(q, "127.0.0.1", port=port, timeout=2)


def body(tmp, rport):
	addr = "127.0.0.1:%d" % rport
	r = redis.Redis(port=rport, decode_responses=True)
	key, pub = os.path.join(tmp, "k.pem"), os.path.join(tmp, "k.pub")
	run([GKSYNC, "keygen", key, pub])
	sign_apply(tmp, key, pub, addr, "feed.jsonl", domain_feed())
	sign_apply(tmp, key, pub, addr, "ip1.jsonl", ip_feed(1, TX_OLD), ip=True)
	zdir = os.path.join(tmp, "zones")
	zones = write_zones(zdir)
	extra = 'redis:\n  address: "%s"\ndiscovery:\n  flush_ms: 50\n' % addr
	srv = h.start_gk(GKD, tmp, zonedir=zdir, zones=zones, extra=extra, ready=False)
	try:
		srv.wait_ready(zone="f1.cn")
		# the filing status loaded (before it every refusal counts as "starting")
		h.wait_for("f1.cn answered (status set loaded)", lambda: dns.query.udp(
			dns.message.make_query("www.f1.cn", "A"), "127.0.0.1", port=srv.port,
			timeout=2).rcode() == 0)
		wait_sites(r, len(ZONES))
		expect(r.hget("gk:site:%04x" % h.status_bucket("f4.cn"), "f4.cn") == "47.96.4.4 47.96.4.5",
		       "gk:site: f4.cn apex and www addresses")
		for d, n in QUERIES.items():
			query(srv.port, d, n)
		day = int(time.strftime("%Y%m%d", time.gmtime(time.time() + 8 * 3600)))
		h.wait_for("discovery counters", lambda: int(
			r.hget("gk:disc:%08d:tot" % day, "queries") or 0) >= QUERIES_TOTAL)
		frm = to = "%04d-%02d-%02d" % (day // 10000, day // 100 % 100, day % 100)
		rep = Report(addr, frm, to)
		# a period without any discovered domain: empty lists, every format (was: qsort of
		# NULL, undefined behaviour caught by UBSan)
		empty = Report(addr, "2020-01-01", "2020-01-01")
		for fmt in ("table", "csv", "json", "notice", "html"):
			empty.run(fmt)
		empty.run("xlsx", out=os.path.join(tmp, "empty.xlsx"))
		expect(empty.json()["summary"]["discovered_unfiled"] == 0, "empty period: every format")
		# before the rename: f3.cn's filing names the provider holding its address
		j = rep.json()
		expect([(p["provider"], p["matched"]) for p in j["accuracy"]["providers"]
		        if p["provider"] == TX_OLD] == [(TX_OLD, 1)], "before the rename: f3.cn matches")
		sign_apply(tmp, key, pub, addr, "ip2.jsonl", ip_feed(2, TX_NEW), ip=True)
		t0 = time.monotonic()
		check_json(rep.json())
		log("report: json in %.3f s" % (time.monotonic() - t0))
		notice, acc = check_csv(rep.csv())
		check_html(rep.run("html"), notice, acc)
		check_text(rep.run("table"), rep.run("notice"))
		check_xlsx(rep, tmp, notice, acc)
		partial(r, rep)
	finally:
		srv.stop()


def partial(r, rep):
	"""Partial or foreign data: the report still runs and says what it can."""
	r.hset("gk:ip:ranges", "not-a-range", "{}")
	r.hset("gk:ip:ranges", "8.8.8.0/24", "not json")
	b = "gk:site:%04x" % h.status_bucket("u1.cn")
	r.hset(b, "junk.cn", "not-an-address ::: 300.1.1.1")
	j = rep.json()
	expect(j["accuracy"]["ranges"] == 3, "partial: unparsable ranges skipped")
	r.delete("gk:ip:ranges")
	j = rep.json()
	expect(all(p["provider"] != ALI for p in j["providers"]) and j["accuracy"]["matched"] == 0,
	       "partial: no ranges: nothing attributed, nothing matched")
	for k in list(r.scan_iter("gk:rec:*")) + ["gk:providers"]:
		r.delete(k)
	for fmt in ("table", "csv", "notice", "html"):
		rep.run(fmt)
	for k in list(r.scan_iter("gk:site:*")):
		r.delete(k)
	j = rep.json()
	expect(j["accuracy"]["served"] == 0 and len(j["unfiled"]) == 4, "partial: no site data")
	log("partial: every format ran without ranges, records or sites")


def main():
	with h.TempDir() as tmp:
		srv = h.start_redis(tmp)
		try:
			body(tmp, srv.port)
		finally:
			srv.stop()
	if failures:
		log("%d failure(s)" % len(failures))
		sys.exit(1)
	log("attribution: all checks passed")


if __name__ == "__main__":
	main()
