# SPDX-License-Identifier: MIT
# tests/integration/test_discovery.py -- discovery end to end: redis-server + gk-sync +
# gatekeeperd (2 workers, discovery.flush_ms 200, table_size 64) + gkctl report.
#
#   0. The Lua merge scripts of include/gk/discovery.h run against Redis directly: sums,
#      min/max seen, the day_max cap, and a write re-sent after it was applied changes nothing.
#   1. A known query mix over UDP and TCP (filed, unfiled with subdomains and mixed case,
#      revoked, a name without a registrable domain, a name we do not serve): exact per-domain
#      counts, first/last seen and day totals in Redis (include/gk/discovery.h), and the same
#      figures in `gkctl report --format csv` and `--format json` (filed, handled, unhandled,
#      filing rate = filed / (filed + unhandled)).
#   2. A gk-sync delta files a previously unfiled domain: gatekeeperd answers it, and the
#      report moves it from unhandled to handled, with its access provider and licence from
#      gk:rec; the notice table's rows per provider follow.
#   2b. Redis stalls (CLIENT PAUSE WRITE): queries are answered at once meanwhile; the
#      counts wait in the merger's backlog and are written exactly once afterwards.
#   2c. Every client connection killed 10 times under traffic: exactly-once writes (an
#      unconfirmed write is re-sent under its id). 2d. Two gatekeeperd on one Redis: sums,
#      first/last seen as min/max.
#   3. A random-subdomain flood of one domain collapses into its one field; a flood of random
#      registrable domains (a zone at the public suffix gd.cn) overflows the 64-entry worker
#      tables and the day's 100-field cap in Redis (discovery.day_max): overflow is counted,
#      every refusal is accounted for exactly (fields + overflow + dropped + noreg = refused), the daemon's RSS stays within its bound, and its shutdown line agrees.
#   4. The HTML report renders in headless Chromium: the DOM's domain table equals the CSV,
#      and the page's own script (run by the browser) re-adds the same totals.
# Every server is stopped by PID.
import csv
import functools
import io
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402

CST = 8 * 3600
PROVIDERS = ["示例云计算有限公司", "北京示例网络科技有限公司"]
FILED = ["f1.cn", "f2.com.cn"]
UNFILED = ["u1.cn", "u2.cn", "u3.com.cn"]
REVOKED = ["r1.cn"]
FLOOD_ZONE = "gd.cn"  # a public suffix: every <x>.gd.cn is its own registrable domain
TABLE = 64
DAY_MAX = 100  # fields per day and reason in Redis
REASONS = ["unfiled", "revoked", "unknown", "starting", "blocked", "tcponly"]


def log(*a):
	print(*a, flush=True)


def day_of(t):
	return int(time.strftime("%Y%m%d", time.gmtime(int(t) + CST)))


def date_of(day):
	return "%04d-%02d-%02d" % (day // 10000, day // 100 % 100, day % 100)


class Days:
	"""The days (China Standard Time) from the day before t0 to the day it is when read:
	a count made after 00:00 CST lands in the next day's hash, so every read lists the days
	again rather than the ones of the test's start."""

	def __init__(self, t0):
		self.t0 = int(t0) - 86400

	def _list(self):
		now = int(time.time())
		return sorted({day_of(t) for t in range(self.t0, now, 3600)} | {day_of(now)})

	def __iter__(self):
		return iter(self._list())

	def __getitem__(self, i):
		return self._list()[i]


def write_zones(zdir):
	os.mkdir(zdir)
	zones = []
	for i, d in enumerate(FILED + UNFILED + REVOKED + [FLOOD_ZONE]):
		ip = "198.51.100.%d" % (10 + i)
		extra = "* IN A %s\n" % ip
		with open(os.path.join(zdir, d + ".zone"), "w") as f:
			f.write("$ORIGIN %s.\n$TTL 300\n"
			        "@ IN SOA ns1.%s. hostmaster.%s. 2026010101 7200 900 1209600 300\n"
			        "  IN NS ns1\n  IN A %s\nns1 IN A %s\nwww IN A %s\n%s" %
			        (d, d, d, ip, ip, ip, extra))
		zones.append((d, d + ".zone"))
	return zones


class Sync:
	def __init__(self, binary, tmp, addr):
		self.bin, self.tmp, self.addr, self.n = binary, tmp, addr, 0
		self.priv, self.pub = os.path.join(tmp, "registry.key"), os.path.join(tmp, "registry.pub")
		self.run("keygen", self.priv, self.pub)

	def run(self, *args):
		r = subprocess.run([self.bin] + list(args), capture_output=True, text=True, timeout=60)
		if r.returncode != 0:
			raise AssertionError("gk-sync %s: exit %d\n%s%s" % (" ".join(args), r.returncode,
			                                                       r.stdout, r.stderr))
		return r

	def apply(self, kind, serial, recs, base=None):
		"""recs: [(domain, status, provider index)]; signed and applied."""
		self.n += 1
		b = ',"base":%d' % base if base is not None else ""
		lines = ['{"kind":"%s","serial":%d%s,"count":%d,"generated":"2026-01-01T00:00:00Z"}' %
		         (kind, serial, b, len(recs))]
		for i, (d, st, p) in enumerate(recs):
			lines.append('{"domain":"%s","status":"%s","licence":"京ICP备%08d号-1",'
			             '"sponsor":"北京示例%03d科技有限公司","nature":"企业","provider":"%s",'
			             '"updated":"2026-01-01T00:00:00+08:00"}' %
			             (d, st, 20000000 + serial * 100 + i, i, PROVIDERS[p]))
		path = os.path.join(self.tmp, "feed%02d.jsonl" % self.n)
		with open(path, "w") as f:
			f.write("\n".join(lines) + "\n")
		self.run("sign", "--key", self.priv, path)
		self.run("apply", "--redis", self.addr, "--pubkey", self.pub, path)


def start_redis(tmp):
	srv = h.start_redis(tmp)
	return srv, redis.Redis(host="127.0.0.1", port=srv.port, decode_responses=True, socket_timeout=5)


wait_for = functools.partial(h.wait_for, timeout=15.0, step=0.05)


def ask(port, name, qtype="A", tcp=False):
	q = dns.message.make_query(name, qtype)
	if tcp:
		return dns.query.tcp(q, "127.0.0.1", port=port, timeout=2)
	for _ in range(3):
		try:
			return dns.query.udp(q, "127.0.0.1", port=port, timeout=1)
		except dns.exception.Timeout:
			pass
	raise AssertionError("no answer for %s" % name)


def blast(port, names):
	"""Send every name once over UDP, windowed; returns how many were answered."""
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
	s.settimeout(2)
	got = 0
	win = 64
	for base in range(0, len(names), win):
		chunk = names[base:base + win]
		for i, n in enumerate(chunk):
			m = dns.message.make_query(n, "A")
			m.id = (base + i) & 0xFFFF
			s.sendto(m.to_wire(), ("127.0.0.1", port))
		for _ in chunk:
			try:
				s.recvfrom(4096)
				got += 1
			except socket.timeout:
				break
	s.close()
	return got


def disc(r, days, reason):
	"""{domain: [count, first, last]} over days for reason."""
	out = {}
	for d in days:
		for k, v in r.hgetall("gk:disc:%08d:%s" % (d, reason)).items():
			c, f, l = (int(x) for x in v.split())
			if k in out:
				o = out[k]
				out[k] = [o[0] + c, min(o[1], f), max(o[2], l)]
			else:
				out[k] = [c, f, l]
	return out


def totals(r, days):
	t = {}
	for d in days:
		for k, v in r.hgetall("gk:disc:%08d:tot" % d).items():
			t[k] = t.get(k, 0) + int(v)
	return t


def rss_kb(pid):
	with open("/proc/%d/status" % pid) as f:
		for line in f:
			if line.startswith("VmRSS:"):
				return int(line.split()[1])
	return 0


class Report:
	def __init__(self, argv0, addr, days):
		self.argv0, self.addr, self.days = argv0, addr, days

	def run(self, fmt, out=None):
		argv = list(self.argv0) + ["report", "--redis", self.addr, "--from", date_of(self.days[0]),
		                           "--to", date_of(self.days[-1]), "--format", fmt]
		if out:
			argv += ["--output", out]
		r = subprocess.run(argv, capture_output=True, timeout=60)
		if r.returncode != 0:
			raise AssertionError("%s: exit %d\n%s" % (" ".join(argv), r.returncode,
			                                          r.stderr.decode()))
		return r.stdout.decode("utf-8")

	def csv(self):
		return list(csv.DictReader(io.StringIO(self.run("csv"))))

	def json(self):
		return json.loads(self.run("json"))


def lua_scripts():
	"""GK_DISC_LUA_MERGE and GK_DISC_LUA_TOTALS as the C preprocessor builds them from
	include/gk/discovery.h (string literals, GK_DISC_LUA_ONCE expanded)."""
	src = open(os.path.join(h.SRC, "include", "gk", "discovery.h"), encoding="utf-8").read()

	def body(name):
		return re.search(r"#define %s\b(?:\([^)]*\))?(.*?)\n(?:\n|/\*)" % name, src, re.S).group(1)

	def lits(text):
		return "".join(m.encode().decode("unicode_escape")
		               for m in re.findall(r'"((?:[^"\\]|\\.)*)"', text))

	once = body("GK_DISC_LUA_ONCE")

	def expand(name):
		def rep(m):
			o = once.replace("idkey", m.group(1)).replace("nonce", m.group(2))
			return '"%s"' % lits(o).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
		return lits(re.sub(r'GK_DISC_LUA_ONCE\(("[^"]*"), ("[^"]*")\)', rep, body(name)))
	return expand("GK_DISC_LUA_MERGE"), expand("GK_DISC_LUA_TOTALS")


def write_entries():
	"""GK_DISC_WRITE_ENTRIES of src/obs/internal.h: the entries of one discovery write."""
	src = open(os.path.join(h.SRC, "src", "obs", "internal.h"), encoding="utf-8").read()
	return int(re.search(r"#define GK_DISC_WRITE_ENTRIES\s+(\d+)u", src).group(1))


def check_lua(r):
	"""The merge scripts against Redis directly: sums, min first / max last seen, the day_max
	cap, and exactly once: a write re-sent under its id after it was applied (its reply lost)
	changes nothing."""
	merge, tot = lua_scripts()
	k, t, w = "gk:disc:19990101:unfiled", "gk:disc:19990101:tot", "gk:disc:w:x"
	args = [86400, 3, "overflow:unfiled"]
	# write 1, attempt 1: its two scripts (one transaction) both run
	assert r.eval(merge, 3, k, t, w, *args, "1 1", "a.cn", 2, 100, 110,
	              "b.cn", 1, 105, 105) == 0
	assert r.eval(tot, 2, t, w, 86400, "1 1", "queries", 3, "refused:unfiled", 3) == 0
	# the same write again (another attempt): applied already, nothing changes
	assert r.eval(merge, 3, k, t, w, *args, "1 2", "a.cn", 2, 100, 110) == -1
	assert r.eval(tot, 2, t, w, 86400, "1 2", "queries", 3) == -1
	# the next write: a.cn earlier and later, c.cn new, d.cn beyond the cap of 3
	assert r.eval(merge, 3, k, t, w, *args, "2 3", "a.cn", 5, 90, 120,
	              "c.cn", 1, 100, 100, "d.cn", 4, 100, 100) == 4
	# an attempt of write 1 that arrives after write 2 was applied: nothing changes
	assert r.eval(merge, 3, k, t, w, *args, "1 4", "a.cn", 2, 100, 110) == -1
	assert r.hgetall(k) == {"a.cn": "7 90 120", "b.cn": "1 105 105", "c.cn": "1 100 100"}, r.hgetall(k)
	assert r.hgetall(t) == {"queries": "3", "refused:unfiled": "3", "overflow:unfiled": "4"}, r.hgetall(t)
	assert 0 < r.ttl(k) <= 86400 and 0 < r.ttl(w) <= 3600 and r.get(w) == "2 3", r.get(w)
	r.delete(k, t, w)
	log("lua: sums, min/max, day_max cap and exactly-once re-send checked against Redis")


def check_mix(r, days, t0, t1):
	u = disc(r, days, "unfiled")
	rv = disc(r, days, "revoked")
	t = totals(r, days)
	log("redis: unfiled %s revoked %s totals %s" % (u, rv, t))
	assert {k: v[0] for k, v in u.items()} == {"u1.cn": 10, "u2.cn": 4, "u3.com.cn": 2}, u
	assert {k: v[0] for k, v in rv.items()} == {"r1.cn": 6}, rv
	for v in list(u.values()) + list(rv.values()):
		# whole seconds from a clock the merger refreshes every 100 ms
		assert int(t0 - 0.2) <= v[1] <= v[2] <= int(t1) + 1, (v, t0, t1)
	assert t["queries"] == 28, t  # 5 filed + 16 unfiled + 6 revoked + 1 apex of gd.cn
	assert t["resolved"] == 5, t
	assert t["refused:unfiled"] == 17 and t["refused:revoked"] == 6, t
	assert t["noreg"] == 1, t
	assert not any(k.startswith(("overflow:", "dropped:", "lost:")) for k in t), t
	ttl = r.ttl("gk:disc:%08d:unfiled" % day_of(time.time()))
	assert 399 * 86400 < ttl <= 400 * 86400, ttl


def check_report(rep, handled):
	rows = rep.csv()
	byname = {(x["list"], x["domain"]): x for x in rows}
	assert sorted(byname) == sorted([("unfiled", d) for d in UNFILED] + [("revoked", "r1.cn")]), rows
	assert [x["domain"] for x in rows if x["list"] == "unfiled"] == ["u1.cn", "u2.cn", "u3.com.cn"]
	assert byname[("unfiled", "u1.cn")]["queries"] == "10"
	assert byname[("unfiled", "u2.cn")]["queries"] == "4"
	assert byname[("unfiled", "u3.com.cn")]["queries"] == "2"
	assert byname[("revoked", "r1.cn")]["queries"] == "6"
	assert byname[("revoked", "r1.cn")]["status"] == "revoked"
	assert byname[("revoked", "r1.cn")]["provider"] == PROVIDERS[1]
	u1 = byname[("unfiled", "u1.cn")]
	if handled:
		assert u1["status"] == "filed" and u1["handled"] == "yes", u1
		assert u1["provider"] == PROVIDERS[0] and u1["licence"].startswith("京ICP备"), u1
	else:
		assert u1["status"] == "unfiled" and u1["handled"] == "no" and u1["provider"] == "", u1
	j = rep.json()
	s = j["summary"]
	filed = len(FILED) + (1 if handled else 0)
	# unhandled: the sites accessed (3 discovered unfiled + r1.cn, revoked and still
	# queried) not filed now: the notice table's 其中未处理数 total, the same definition
	unh = 4 - (1 if handled else 0)
	assert s["filed"] == filed and s["handled"] == (1 if handled else 0), s
	assert s["unhandled"] == unh and s["discovered_unfiled"] == 3, s
	assert s["revoked_queried"] == 1, s
	assert abs(s["filing_rate"] - filed / (filed + unh)) < 1e-9, s
	assert j["totals"]["refused"]["unfiled"] >= 17 and j["totals"]["refused"]["revoked"] == 6
	jd = {x["domain"]: x["queries"] for x in j["unfiled"]}
	assert jd == {x["domain"]: int(x["queries"]) for x in rows if x["list"] == "unfiled"}
	return rows, j


def check_notice(rep):
	text = rep.run("notice")
	log(text)
	assert "未备案网站接入情况通报表" in text
	rows = {}
	for line in text.splitlines():
		m = re.match(r"^(\d+)\s+(\S.*?)\s+(\d+)\s+(\d+)$", line)
		if m:
			rows[m.group(2)] = (int(m.group(3)), int(m.group(4)))
	assert rows == {PROVIDERS[0]: (1, 0), PROVIDERS[1]: (1, 1), "（未知）": (2, 2)}, rows
	m = re.search(r"合计\s+(\d+)\s+(\d+)", text)
	assert m and (int(m.group(1)), int(m.group(2))) == (4, 3), text
	# one definition of unhandled: the notice total is the summary's unhandled in every format
	j = rep.json()
	assert int(m.group(2)) == j["summary"]["unhandled"], (text, j["summary"])
	rate = re.search(r"([\d.]+)%", text.split("合计")[1])
	assert rate and abs(float(rate.group(1)) - 100 * j["summary"]["filing_rate"]) < 0.01, text
	return text


def check_xlsx(rep, tmp, rows, notice):
	"""The spreadsheet read back with openpyxl: the notice sheet equals the notice text, the
	domains sheet the CSV, the summary and daily sheets the JSON."""
	try:
		import openpyxl
	except ImportError:
		raise AssertionError("python3-openpyxl not installed (scripts/deps.sh installs it)")
	path = os.path.join(tmp, "report.xlsx")
	rep.run("xlsx", out=path)
	wb = openpyxl.load_workbook(path, read_only=True)
	assert wb.sheetnames == ["通报表", "准确率", "summary", "daily", "domains"], wb.sheetnames
	nt = [list(r) for r in wb["通报表"].iter_rows(values_only=True)]
	assert nt[0][0] == "未备案网站接入情况通报表", nt[0]
	assert nt[3] == ["序号", "接入服务单位", "访问的未备案网站数", "其中未处理数"], nt[3]
	body = []
	for r in nt[4:]:
		if r[0] == "合计":
			total = (r[2], r[3])
			break
		body.append(r)
	want = {}
	for line in notice.splitlines():
		m = re.match(r"^(\d+)\s+(\S.*?)\s+(\d+)\s+(\d+)$", line)
		if m:
			want[m.group(2)] = (int(m.group(3)), int(m.group(4)))
	assert {r[1]: (r[2], r[3]) for r in body} == want, (body, want)
	assert [r[0] for r in body] == list(range(1, len(body) + 1)), body
	m = re.search(r"合计\s+(\d+)\s+(\d+)", notice)
	assert total == (int(m.group(1)), int(m.group(2))), (total, notice)
	j = rep.json()
	summ = {r[0]: r[1] for r in wb["summary"].iter_rows(values_only=True)}
	for k in ("filed", "discovered_unfiled", "handled", "unhandled", "revoked_queried"):
		assert summ[k] == j["summary"][k], (k, summ, j["summary"])
	assert abs(summ["filing_rate"] - j["summary"]["filing_rate"]) < 1e-12, summ
	assert summ["queries"] == j["totals"]["queries"], summ
	rate_row = [r for r in nt if r[0] == "备案率"][0]
	assert abs(rate_row[2] - j["summary"]["filing_rate"]) < 1e-12, rate_row
	daily = list(wb["daily"].iter_rows(values_only=True))
	assert [d[0] for d in daily[1:]] == [d["date"] for d in j["days"]], daily
	assert [d[1] for d in daily[1:]] == [d["queries"] for d in j["days"]], daily
	dom = list(wb["domains"].iter_rows(values_only=True))
	head = list(dom[0])
	assert head == list(rows[0].keys()), (head, rows[0].keys())
	got = [{k: ("" if v is None else str(v)) for k, v in zip(head, r)} for r in dom[1:]]
	assert got == [dict(x) for x in rows], (got, rows)
	wb.close()
	log("xlsx: %d bytes, sheets %s: notice, summary, daily and %d domain rows equal the other "
	    "formats" % (os.path.getsize(path), wb.sheetnames, len(got)))


CJK_FAMILIES = ("WenQuanYi Micro Hei", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC",
                "Microsoft YaHei")


class DevTools:
	"""Chromium's DevTools protocol over --remote-debugging-pipe (fd 3 in, fd 4 out, JSON
	messages ended by NUL): no extra package, no port."""

	def __init__(self, chromium, prof, url, home):
		self.to_chrome_r, self.to_chrome_w = os.pipe()
		self.from_chrome_r, self.from_chrome_w = os.pipe()
		# the child's fds 3 and 4, placed by preexec_fn below
		tr, fw = self.to_chrome_r, self.from_chrome_w

		def fds():
			os.dup2(tr, 3)
			os.dup2(fw, 4)
		self.proc = subprocess.Popen(
			[chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
			 "--user-data-dir=" + prof, "--remote-debugging-pipe", url],
			# close_fds would close 3 and 4 after preexec_fn; the parent's ends are
			# close-on-exec (os.pipe), dup2 clears the flag on the child's
			stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=False,
			preexec_fn=fds, env=dict(os.environ, HOME=home))
		os.close(tr)
		os.close(fw)
		self.buf, self.next_id, self.events = b"", 0, []

	def _read(self):
		while b"\0" not in self.buf:
			chunk = os.read(self.from_chrome_r, 65536)
			if not chunk:
				raise AssertionError("chromium closed the DevTools pipe")
			self.buf += chunk
		msg, self.buf = self.buf.split(b"\0", 1)
		return json.loads(msg)

	def call(self, method, session=None, **params):
		self.next_id += 1
		m = {"id": self.next_id, "method": method, "params": params}
		if session:
			m["sessionId"] = session
		os.write(self.to_chrome_w, json.dumps(m).encode() + b"\0")
		while True:
			r = self._read()
			if r.get("id") == self.next_id:
				if "error" in r:
					raise AssertionError("%s: %s" % (method, r["error"]))
				return r["result"]
			self.events.append(r)

	def wait_event(self, method):
		for i, e in enumerate(self.events):
			if e.get("method") == method:
				return self.events.pop(i)
		while True:
			e = self._read()
			if e.get("method") == method:
				return e
			self.events.append(e)

	def close(self):
		try:
			self.call("Browser.close")
		except AssertionError:
			pass
		os.close(self.to_chrome_w)
		self.proc.wait(timeout=30)
		os.close(self.from_chrome_r)


def check_cjk_font(chromium, tmp, page):
	"""The Chinese text (a provider name in the providers table) renders with a CJK font of
	the page's stack: the fonts Chromium actually used for the node's glyphs, as reported by
	CSS.getPlatformFontsForNode, all CJK families, none a fallback drawing tofu."""
	dt = DevTools(chromium, os.path.join(tmp, "chromium-cdp"), "about:blank", tmp)
	try:
		targets = dt.call("Target.getTargets")["targetInfos"]
		tid = [t for t in targets if t["type"] == "page"][0]["targetId"]
		sid = dt.call("Target.attachToTarget", targetId=tid, flatten=True)["sessionId"]
		dt.call("Page.enable", session=sid)
		dt.call("Page.navigate", session=sid, url="file://" + page)
		dt.wait_event("Page.loadEventFired")
		dt.call("DOM.enable", session=sid)
		dt.call("CSS.enable", session=sid)
		root = dt.call("DOM.getDocument", session=sid)["root"]["nodeId"]
		node = dt.call("DOM.querySelector", session=sid, nodeId=root,
		               selector="#providers td.provider")["nodeId"]
		assert node, "no provider cell in the page"
		text = dt.call("Runtime.evaluate", session=sid,
		               expression="document.querySelector('#providers td.provider')"
		                          ".textContent")["result"]["value"]
		fonts = dt.call("CSS.getPlatformFontsForNode", session=sid, nodeId=node)["fonts"]
		stack = dt.call("Runtime.evaluate", session=sid,
		                expression="getComputedStyle(document.querySelector("
		                           "'#providers td.provider')).fontFamily")["result"]["value"]
	finally:
		dt.close()
	han = sum(1 for ch in text if "\u4e00" <= ch <= "\u9fff")
	assert han > 0, text
	# the page names the CJK fonts itself rather than relying on the system's fallback
	assert any(f in stack for f in CJK_FAMILIES), stack
	used = {f["familyName"]: f["glyphCount"] for f in fonts}
	cjk = sum(n for fam, n in used.items() if fam in CJK_FAMILIES)
	# every glyph of the all-Chinese name from a CJK font of the stack
	assert cjk == len(text) and len(used) >= 1, (text, fonts)
	log("html: %r rendered with %s (CSS.getPlatformFontsForNode)" % (text, used))


def check_html(rep, tmp, rows):
	chromium = shutil.which("chromium")
	if chromium is None:
		raise AssertionError("chromium not installed (scripts/deps.sh installs it)")
	page = os.path.join(tmp, "report.html")
	rep.run("html", out=page)
	html = open(page, encoding="utf-8").read()
	assert not re.search(r"(src|href)=\"(https?:)?//", html), "external resource in the page"
	prof = os.path.join(tmp, "chromium")
	argv = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
	        "--user-data-dir=" + prof, "--dump-dom", "file://" + page]
	r = subprocess.run(argv, capture_output=True, timeout=90, env=dict(os.environ, HOME=tmp))
	dom = r.stdout.decode("utf-8")
	assert r.returncode == 0 and "</html>" in dom, (r.returncode, r.stderr.decode()[-2000:])
	assert 'data-rendered="1"' in dom, "the page's script did not run"
	table = dom[dom.index('<table id="unfiled"'):]
	table = table[:table.index("</table>")]
	trs = re.findall(r'<tr class="dom"><td class="domain">([^<]*)</td><td class="queries num" '
	                 r'data-v="(\d+)">(\d+)</td>', table)
	got = [(d, int(q)) for d, _, q in trs]
	want = [(x["domain"], int(x["queries"])) for x in rows if x["list"] == "unfiled"]
	assert got == want, (got, want)
	assert re.search(r'<p id="check" hidden(="")?>', dom), "the browser check is visible"
	js_rows = int(re.search(r'<output id="js-unfiled-rows">(\d+)</output>', dom).group(1))
	js_q = int(re.search(r'<output id="js-unfiled-queries">(\d+)</output>', dom).group(1))
	assert js_rows == len(want) and js_q == sum(q for _, q in want), (js_rows, js_q, want)
	assert re.search(r'<svg id="chart-refusals"', dom) and re.search(r'<svg id="chart-rate"', dom)
	ntop = len(re.findall(r'<g class="top">', dom))
	assert ntop == min(20, len(want)), ntop
	shot = os.path.join(tmp, "report.png")
	subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
	                "--user-data-dir=" + prof, "--screenshot=" + shot, "--window-size=1000,1600",
	                "file://" + page], capture_output=True, timeout=90,
	               env=dict(os.environ, HOME=tmp))
	assert os.path.exists(shot) and os.path.getsize(shot) > 10000, "no screenshot"
	check_cjk_font(chromium, tmp, page)
	log("html: %d bytes, rendered by chromium: %d unfiled rows, %d queries; screenshot %d bytes" %
	    (len(html), js_rows, js_q, os.path.getsize(shot)))


def main():
	gkbin, syncbin = sys.argv[1], sys.argv[2]
	report_argv = sys.argv[3:]
	random.seed(5)
	with h.TempDir("gk-disc-") as tmp:
		rsrv, r = start_redis(tmp)
		addr = "127.0.0.1:%d" % rsrv.port
		try:
			check_lua(r)
			sync = Sync(syncbin, tmp, addr)
			sync.apply("snapshot", 1, [(d, "filed", 0) for d in FILED] + [("r1.cn", "revoked", 1)])
			zones = write_zones(os.path.join(tmp, "zones"))
			inst = "disc-%d" % os.getpid()
			mport = h.free_port()
			extra = ("redis:\n  address: \"%s\"\n  instance_id: %s\n  connect_timeout_ms: 300\n"
			         "  reconnect_max_ms: 500\nfiling:\n  startup: refuse\n"
			         "  no_registrable: { action: refuse }\n"
			         "discovery:\n  enabled: true\n  table_size: %d\n  flush_ms: 200\n"
			         "  day_max: %d\nmetrics:\n  listen: \"127.0.0.1:%d\"\n" %
			         (addr, inst, TABLE, DAY_MAX, mport))
			gk = h.start_gk(gkbin, tmp, zonedir=os.path.join(tmp, "zones"), zones=zones,
			                workers=2, ipv6=False, extra=extra)
			gk.argv0, gk.extra, gk.zones, gk.mport = gkbin, extra, zones, mport
			body(r, gk, sync, addr, report_argv, tmp)
			rc = gk.stop()
			text = open(gk.logpath, encoding="utf-8", errors="replace").read()
			assert rc == 0, "gatekeeperd exit %s:\n%s" % (rc, text[-3000:])
			m = re.search(r"discovery: (\d+) queries counted, (\d+) written in \d+ writes "
			              r"\(\d+ entries\); overflow (\d+), day_max (\d+), dropped (\d+), "
			              r"lost (\d+), (\d+) pending", text)
			assert m, text[-3000:]
			counted, written, over, capped, dropped, lost, pending = map(int, m.groups())
			tot = totals(r, sorted({day_of(time.time() - 86400), day_of(time.time())}))
			assert counted == written and counted + gk.peer_counted == tot["queries"], \
				(m.group(0), gk.peer_counted, tot)
			assert lost == 0 and pending == 0, m.group(0)
			assert over + capped == tot["overflow:unfiled"] and capped > 0, (m.group(0), tot)
			log(m.group(0))
		finally:
			rsrv.stop()
	log("test_discovery: ok")


def disc_metrics(mport):
	"""Discovery's own counters (docs/METRICS.md): queries merged from the workers, of those
	written to Redis, entries in the backlog, writes sent and confirmed."""
	m = h.metrics(mport)
	return {"merged": int(m['gatekeeper_discovery_queries_total{stage="merged"}']),
	        "written": int(m['gatekeeper_discovery_queries_total{stage="written"}']),
	        "backlog": int(m["gatekeeper_discovery_backlog"]),
	        "sent": int(m["gatekeeper_discovery_writes_sent_total"]),
	        "flushes": int(m["gatekeeper_discovery_flushes_total"])}


def settled(mport, want):
	"""Wait until discovery has collected exactly want queries from the workers (every
	worker handed its table over) and written all of them ("N counted, N written", nothing
	in the backlog): then Redis holds every count there is, and the caller's exact
	assertions prove that nothing else arrives. More than want also fails (naming it)."""
	last = []

	def done():
		m = disc_metrics(mport)
		last[:] = [m]
		assert m["merged"] <= want, "discovery counted %d queries, %d expected" % (m["merged"], want)
		return m if m["merged"] == m["written"] == want and m["backlog"] == 0 else None
	if not wait_for("%d queries counted and written" % want, done, timeout=30.0, must=False):
		raise AssertionError("discovery did not settle at %d queries: %r" % (want, last))
	return last[0]


def body(r, gk, sync, addr, report_argv, tmp):
	port = gk.port
	inst = "gk:inst:disc-%d" % os.getpid()  # the instance's heartbeat (docs/STATUS.md)
	wait_for("replica ready", lambda: r.hget(inst, "state") == "ready")
	assert "discovery: 64 entries per worker table" in gk.log_text(), gk.log_text()

	# 1. the known mix
	t0 = time.time()
	for _ in range(5):
		assert ask(port, "www.f1.cn").rcode() == dns.rcode.NOERROR
	for _ in range(7):
		assert ask(port, "www.u1.cn").rcode() == dns.rcode.REFUSED
	for _ in range(3):
		assert ask(port, "a.b.U1.cN").rcode() == dns.rcode.REFUSED
	for _ in range(4):
		assert ask(port, "u2.cn", tcp=True).rcode() == dns.rcode.REFUSED
	for _ in range(2):
		assert ask(port, "x.u3.com.cn").rcode() == dns.rcode.REFUSED
	for _ in range(6):
		assert ask(port, "www.r1.cn").rcode() != dns.rcode.NOERROR
	# no registrable domain: refused here because the config says so (the default resolves)
	assert ask(port, FLOOD_ZONE, "SOA").rcode() == dns.rcode.REFUSED
	assert ask(port, "www.example.org").rcode() == dns.rcode.REFUSED  # not ours: not counted
	t1 = time.time()
	days = Days(t0)
	counted = 28  # the queries above to zones we serve (discovery counts every one)
	settled(gk.mport, counted)
	assert totals(r, days)["queries"] == counted, totals(r, days)
	check_mix(r, days, t0, t1)
	rep = Report(report_argv, addr, days)
	log(rep.run("table"))
	check_report(rep, handled=False)
	log("mix: exact counts in redis and in the report (csv, json)")

	# 2. gk-sync files u1.cn: handled
	sync.apply("delta", 2, [("u1.cn", "filed", 0)], base=1)
	# wait on the heartbeat's serial, not by asking for u1.cn: a query that arrives before
	# the change would be refused and counted, one more than the report expects
	wait_for("serial 2 applied", lambda: r.hget(inst, "serial") == "2")
	assert ask(port, "www.u1.cn").rcode() == dns.rcode.NOERROR
	counted += 1
	rows, j = check_report(rep, handled=True)
	text = check_notice(rep)
	check_xlsx(rep, tmp, rows, text)
	month = time.strftime("%Y-%m", time.gmtime(time.time() + CST))
	m = subprocess.run(list(report_argv) + ["report", "--redis", addr, "--month", month,
	                   "--format", "notice"], capture_output=True, timeout=60)
	assert m.returncode == 0, m.stderr
	mt = m.stdout.decode()
	assert "统计期间：%s-01 至 " % month in mt, mt
	assert re.search(r"合计.*", mt).group(0) == re.search(r"合计.*", text).group(0), (mt, text)
	log("handled/unhandled after the delta: %s" % j["summary"])

	# 2b. Redis stalls (CLIENT PAUSE WRITE): workers keep answering at once, counts wait in
	# the backlog and arrive exactly once when Redis writes again. The pause outlasts the
	# queries with room to spare (they must take < 2 s), so "nothing written yet" holds on
	# a loaded machine too.
	m0 = settled(gk.mport, counted)
	q3 = disc(r, days, "unfiled")["u3.com.cn"][0]
	r.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
	tp = time.monotonic()
	slow = 0
	for i in range(50):
		t = time.monotonic()
		assert ask(port, "p%d.u3.com.cn" % i).rcode() == dns.rcode.REFUSED
		slow = max(slow, time.monotonic() - t)
	assert time.monotonic() - tp < 2.0 and slow < 0.5, (time.monotonic() - tp, slow)
	# all 50 collected, their write sent and held: nothing of them written yet
	held = wait_for("a write held by the pause", lambda: (lambda m: m if m["merged"] == counted + 50 and
	                m["sent"] - m["flushes"] > m0["sent"] - m0["flushes"] else None)(disc_metrics(gk.mport)))
	assert held["written"] == counted and disc(r, days, "unfiled")["u3.com.cn"][0] == q3, held
	counted += 50
	settled(gk.mport, counted)
	assert disc(r, days, "unfiled")["u3.com.cn"][0] == q3 + 50
	log("redis paused 5 s: 50 refusals answered (slowest %.1f ms), written once after" %
	    (slow * 1000))

	# 2c. every client connection killed (CLIENT KILL TYPE normal) 10 times while refusals
	# arrive: discovery reconnects and re-sends an unconfirmed write under the same id, so
	# every count arrives exactly once
	q3 = disc(r, days, "unfiled")["u3.com.cn"][0]
	sent = disc_metrics(gk.mport)["sent"]
	for i in range(200):
		if i % 20 == 10:
			# each kill after a write went out since the last one (sent counts re-sends)
			wait_for("a write after kill %d" % (i // 20),
			         lambda: disc_metrics(gk.mport)["sent"] > sent, timeout=20)
			sent = disc_metrics(gk.mport)["sent"]
			r.client_kill_filter(_type="normal", skipme=True)
		assert ask(port, "k%d.u3.com.cn" % i).rcode() == dns.rcode.REFUSED
	counted += 200
	settled(gk.mport, counted)
	assert disc(r, days, "unfiled")["u3.com.cn"][0] == q3 + 200, (q3, disc(r, days, "unfiled"))
	nids = len(list(r.scan_iter(match="gk:disc:w:*", count=1000)))
	assert nids <= 2, nids  # one id key per instance (this one and, later, a peer), not per write
	log("connections killed 10 times: 200 refusals counted exactly once (%d write id keys)" % nids)
	# a write held by CLIENT PAUSE and then cut off by CLIENT KILL: re-sent, applied once
	q3 = disc(r, days, "unfiled")["u3.com.cn"][0]
	before = counted
	m0 = disc_metrics(gk.mport)
	r.execute_command("CLIENT", "PAUSE", "6000", "WRITE")
	for i in range(30):
		assert ask(port, "h%d.u3.com.cn" % i).rcode() == dns.rcode.REFUSED
	counted += 30
	# every one of them collected and a write of them sent, which the pause holds: nothing
	# of them written yet (were the pause over, written would have moved and this fails)
	held = wait_for("a write held by the pause", lambda: (lambda m: m if m["merged"] == counted and
	                m["sent"] - m["flushes"] > m0["sent"] - m0["flushes"] else None)(disc_metrics(gk.mport)))
	assert held["written"] == before, held
	r.client_kill_filter(_type="normal", skipme=True)
	settled(gk.mport, counted)
	assert disc(r, days, "unfiled")["u3.com.cn"][0] == q3 + 30
	assert "unconfirmed: re-sent after reconnecting" in gk.log_text(), gk.log_text()[-2000:]
	log("a held write cut off by CLIENT KILL: re-sent, 30 refusals counted once")

	# 2d. a second gatekeeperd on the same Redis: the fleet's counts add up, first/last
	# seen are the minimum and maximum over both
	os.mkdir(os.path.join(tmp, "gk2"))
	mport2 = h.free_port()
	gk2 = h.start_gk(gk.argv0, os.path.join(tmp, "gk2"), zonedir=os.path.join(tmp, "zones"),
	                 zones=gk.zones, workers=1, ipv6=False,
	                 extra=gk.extra.replace("instance_id: disc-", "instance_id: disc2-")
	                 .replace("127.0.0.1:%d" % gk.mport, "127.0.0.1:%d" % mport2))
	try:
		# its heartbeat, not a query: gk2 counts exactly the 7 queries below
		wait_for("gk2 ready", lambda: r.hget(inst.replace(":disc-", ":disc2-"), "state") == "ready")
		before = disc(r, days, "unfiled")["u3.com.cn"]
		for i in range(4):
			assert ask(port, "a%d.u3.com.cn" % i).rcode() == dns.rcode.REFUSED
		for i in range(7):
			assert ask(gk2.port, "b%d.u3.com.cn" % i).rcode() == dns.rcode.REFUSED
		counted += 4
		settled(gk.mport, counted)
		settled(mport2, 7)
		after = disc(r, days, "unfiled")["u3.com.cn"]
		assert after[0] == before[0] + 11 and after[1] == before[1] and after[2] >= before[2], \
			(before, after)
	finally:
		assert gk2.stop() == 0
	m2 = re.search(r"discovery: (\d+) queries counted, (\d+) written",
	               open(gk2.logpath, encoding="utf-8", errors="replace").read())
	assert m2 and m2.group(1) == m2.group(2), m2
	gk.peer_counted = int(m2.group(1))
	log("two instances: u3.com.cn %s -> %s" % (before, after))

	# 3a. random-subdomain flood of u2.cn: one field
	q0 = disc(r, days, "unfiled")["u2.cn"][0]
	rss0 = rss_kb(gk.pid)
	names = ["%08x.u2.cn" % random.getrandbits(32) for _ in range(3000)]
	got = blast(port, names)
	counted += got
	settled(gk.mport, counted)
	u = disc(r, days, "unfiled")
	assert u["u2.cn"][0] == q0 + got and len(u) == 3, (u, got)
	# 3b. random registrable domains under gd.cn: overflow, exact accounting. Sent while
	# Redis holds writes (CLIENT PAUSE WRITE), so the backlog grows to hundreds of entries
	# over several flush intervals; once Redis writes again it goes out paced, in writes of
	# at most GK_DISC_WRITE_ENTRIES (src/obs/internal.h) entries each (src/obs/disc_writer.c:
	# a redis-server sharing the server's core is never busy for long at a time)
	m0 = h.metrics(gk.mport)
	r.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
	names = ["%010x.gd.cn" % random.getrandbits(40) for _ in range(6000)]
	got2 = 0
	for part in range(8):  # each collected before the next; the backlog holds 256 more
		merged = disc_metrics(gk.mport)["merged"]
		n = blast(port, names[part * 750:(part + 1) * 750])
		got2 += n
		wait_for("part %d collected" % part, lambda: disc_metrics(gk.mport)["merged"] >= merged + n)
	counted += got2
	settled(gk.mport, counted)
	m1 = h.metrics(gk.mport)
	writes = int(m1["gatekeeper_discovery_flushes_total"]) - int(m0["gatekeeper_discovery_flushes_total"])
	entries = (int(m1["gatekeeper_discovery_entries_written_total"]) -
	           int(m0["gatekeeper_discovery_entries_written_total"]))
	per = write_entries()
	assert entries > 2 * per and writes >= -(-entries // per), (entries, writes, per)
	log("flood after a pause: %d entries written in %d writes" % (entries, writes))
	t = totals(r, days)
	u = disc(r, days, "unfiled")
	flood = sum(v[0] for k, v in u.items() if k.endswith(".gd.cn"))
	over = t.get("overflow:unfiled", 0)
	dropped = t.get("dropped:unfiled", 0)
	fields = sum(v[0] for v in u.values())
	assert t["refused:unfiled"] == 17 + 50 + 230 + 11 + got + got2, (t, got, got2)
	assert fields + over + dropped + t["noreg"] == t["refused:unfiled"], (t, fields)
	assert over > 0, t
	for d in days:  # Redis holds at most day_max domains per day and reason
		assert r.hlen("gk:disc:%08d:unfiled" % d) <= DAY_MAX
	assert len([k for k in u if k.endswith(".gd.cn")]) >= DAY_MAX - 3, len(u)
	rss1 = rss_kb(gk.pid)
	log("flood: %d random subdomains -> 1 field; %d random registrable domains -> %d fields, "
	    "overflow %d, dropped %d; RSS %d -> %d KiB" %
	    (got, got2, len([k for k in u if k.endswith(".gd.cn")]), over, dropped, rss0, rss1))
	assert flood + over + dropped == got2, (flood, over, dropped, got2)
	assert rss1 - rss0 < 16 * 1024, (rss0, rss1)

	# 4. HTML in headless Chromium equals the CSV
	rows = rep.csv()
	check_html(rep, tmp, rows)


if __name__ == "__main__":
	main()
