# SPDX-License-Identifier: MIT
# tests/integration/test_status.py -- the filing-status replica against a private redis-server.
#
# Populates buckets, serial and change stream directly in the schema of
# include/gk/filing_status.h (no gk-sync), starts gatekeeperd with a redis section and
# watches the instance heartbeat (table_size, serial, stream_id, state) and the log:
#   full load count; stream changes applied (set, revoke, remove, serial); Redis killed and
#   restarted (stale after max_age_ms, fresh again, changes made before the reconnect are
#   applied); a change missed while disconnected and then trimmed away (XTRIM MAXLEN 0)
#   forces a full reload; a broken bucket keeps a new instance "starting"/"failed" until
#   fixed, for both startup modes; DNS: filed answers, unfiled REFUSED with EDE 15, a
#   revocation (HSET + XADD) enforced (time logged) (pkt: filing, 81290bd); the table memory a
#   full reload retires is freed, and the idle daemon's main thread does not wake up on a clock.
# Redis is held off during a restart with requirepass, so the daemon cannot reconnect
# before the test has made its changes. Every server is stopped by PID.
#
# `test_status.py GATEKEEPERD stale`: Redis frozen with SIGSTOP (by PID): stale but still
# enforcing last-known-good, the max_age_ms hard bound giving the unknown action, and
# reconnects to the frozen server not counted as contact. `test_status.py GATEKEEPERD
# diverged GKCTL GKSYNC`: Redis replaced by an older store: diverged (metric, heartbeat,
# gkctl status), the applied set kept, and the gk-sync resync. Both wait on metrics and
# heartbeats (docs/STATUS.md "Staleness", "Divergence").
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

N = 5000
PW = "held-off"


def fnv_bucket(d):
	x = 2166136261
	for b in d.encode():
		x ^= b
		x = (x * 16777619) & 0xFFFFFFFF
	return x & 0xFFFF


def pack(status, provider=0):
	return (provider << 2) | status


def domain(i):
	return "d%05d.com.cn" % i


class Redis:
	def __init__(self, tmp, port=None):
		self.tmp, self.port = tmp, port or h.free_port()
		self.srv = None

	def start(self, password=None):
		argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", self.tmp, "--dbfilename", "dump.rdb"]
		if password:
			argv += ["--requirepass", password]
		self.srv = h.Server("redis-server", argv, self.tmp, self.port, os.path.join(self.tmp, "redis.log"))
		c = redis.Redis(host="127.0.0.1", port=self.port, password=password, decode_responses=True)
		h.wait_for("redis-server answering PING", c.ping, timeout=10, step=0.01, proc=self.srv)
		return c

	def stop(self):
		self.srv.stop()


def populate(r, n):
	p = r.pipeline(transaction=False)
	p.hset("gk:st:%04x" % fnv_bucket("example.cn"), "example.cn", pack(1, 1))
	for i in range(n):
		d = domain(i)
		p.hset("gk:st:%04x" % fnv_bucket(d), d, pack(1 if i % 10 else 2, i % 50))
	p.set("gk:serial", 100)
	p.xadd("gk:changes", {"k": "serial", "s": 100})
	p.execute()


def change(r, d, v, serial=101):
	"""One status change as gk-sync writes it: hash first, then the stream entry."""
	key = "gk:st:%04x" % fnv_bucket(d)
	if v == "":
		r.hdel(key, d)
	else:
		r.hset(key, d, v)
	return r.xadd("gk:changes", {"k": "st", "d": d, "v": v, "s": serial})


def changes(r, pairs, serial=101):
	"""Several status changes in one entry, as gk-sync writes a bucket's changes."""
	p = r.pipeline(transaction=True)
	fields = ["k", "st", "s", str(serial)]
	for d, v in pairs:
		key = "gk:st:%04x" % fnv_bucket(d)
		if v == "":
			p.hdel(key, d)
		else:
			p.hset(key, d, v)
		fields += ["d", d, "v", v]
	p.execute_command("XADD", "gk:changes", "*", *fields)
	return p.execute()[-1]


def heartbeat(r, inst):
	try:
		return r.hgetall("gk:inst:" + inst)
	except redis.RedisError:
		return {}


def wait_hb(r, inst, pred, what, timeout=30.0):
	return h.wait_for(what, lambda: (lambda hb: hb if hb and pred(hb) else None)(heartbeat(r, inst)), timeout)


def next_hb(r, inst, updated):
	"""The heartbeat after the one written at updated (unix ms; every GK_HEARTBEAT_MS)."""
	return wait_hb(r, inst, lambda x: x.get("updated") not in (None, updated), "the next heartbeat")


RETIRED = "retired table memory goes with the previous view"


def freed_after_retire(log, before):
	"""True when status memory was retired more than before times, and a view was freed
	after the last of them."""
	i = log.rfind(RETIRED)
	return log.count(RETIRED) > before and "previous zone set freed" in log[i:]


def wakeups(pid):
	"""Voluntary context switches of the daemon's main thread (its libuv loop) so far."""
	with open("/proc/%d/task/%d/status" % (pid, pid)) as f:
		for line in f:
			if line.startswith("voluntary_ctxt_switches:"):
				return int(line.split()[1])
	raise RuntimeError("no voluntary_ctxt_switches for %d" % pid)


def redis_extra(port, inst, startup="refuse", max_age=2000):
	return ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: %s\n  connect_timeout_ms: 300\n"
		"  reconnect_max_ms: 400\n"
		"filing:\n  startup: %s\n  max_age_ms: %d\n" % (port, inst, startup, max_age))


def main():
	binary = sys.argv[1]
	mode = sys.argv[2] if len(sys.argv) > 2 else "replica"
	if mode == "stale":
		return test_stale(binary)
	if mode == "diverged":
		return test_diverged(binary, sys.argv[3], sys.argv[4])
	with h.TempDir("gk-status-") as tmp:
		rd = Redis(tmp)
		r = rd.start()
		populate(r, N)
		inst = "it-%d" % os.getpid()
		gk = h.start_gk(binary, tmp, extra=redis_extra(rd.port, inst), log_level="debug")
		try:
			# 1. full load
			hb = wait_hb(r, inst, lambda x: x.get("state") == "ready", "first load")
			assert int(hb["table_size"]) == N + 1, hb
			assert hb["serial"] == "100", hb
			assert hb["redis"] == "connected" and hb["version"], hb
			assert 0 < r.pttl("gk:inst:" + inst) <= 3000
			h.log("full load: %s domains, stream %s" % (hb["table_size"], hb["stream_id"]))
			assert "loaded %d domains" % (N + 1) in gk.log_text()

			# 2. stream changes: new domain, revoke, remove, serial
			change(r, "new1.com.cn", pack(1, 3))
			change(r, domain(1), pack(2, 1))
			last = change(r, domain(2), "")
			wait_hb(r, inst, lambda x: x["stream_id"] == last, "stream applied")
			hb = wait_hb(r, inst, lambda x: int(x["table_size"]) == N + 1, "size after changes")
			r.set("gk:serial", 101)
			last = r.xadd("gk:changes", {"k": "serial", "s": 101})
			wait_hb(r, inst, lambda x: x["serial"] == "101" and x["stream_id"] == last, "serial")
			r.xadd("gk:changes", {"k": "pol", "v": "7"})  # ignored for now, must not hurt
			h.log("stream changes applied")

			# 2b. DNS: a filed domain answers, an unfiled one is REFUSED with EDE 15, and a
			#     revocation (HSET + XADD) is enforced (the time it took is logged; a
			#     bound on it would measure the machine's load, not the daemon).
			q = dns.message.make_query("www.example.cn", "A", use_edns=0)
			a = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1)
			assert a.rcode() == dns.rcode.NOERROR, a
			q = dns.message.make_query("other.com.cn", "SOA", use_edns=0)
			a = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1)
			assert a.rcode() == dns.rcode.REFUSED, a
			edes = [o for o in a.options if o.otype == 15]
			assert edes and edes[0].to_wire()[:2] == b"\x00\x0f", a
			t0 = time.time()
			change(r, "example.cn", pack(2, 1))
			q = dns.message.make_query("www.example.cn", "A", use_edns=0)
			a = h.wait_for("the revocation enforced", lambda: (lambda a: a if a.rcode() !=
				       dns.rcode.NOERROR else None)(dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1)),
				       step=0.002)
			took = time.time() - t0
			assert a.rcode() == dns.rcode.NXDOMAIN, a
			h.log("DNS: filed answers, unfiled REFUSED+EDE, revocation enforced in %.1f ms" % (took * 1000))
			change(r, "example.cn", pack(1, 1))

			# 2c. several changes in one entry (gk-sync's form): every pair is applied
			last = changes(r, [("new3.com.cn", pack(1, 3)), ("example.cn", pack(2, 1)),
			                   (domain(5), "")])
			wait_hb(r, inst, lambda x: x["stream_id"] == last, "batch entry applied")
			hb = wait_hb(r, inst, lambda x: int(x["table_size"]) == N + 1, "size after batch")
			a = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1)
			assert a.rcode() == dns.rcode.NXDOMAIN, a
			last = changes(r, [("example.cn", pack(1, 1)), ("new3.com.cn", "")])
			wait_hb(r, inst, lambda x: x["stream_id"] == last, "second batch applied")
			hb = wait_hb(r, inst, lambda x: int(x["table_size"]) == N, "size after removal")
			a = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1)
			assert a.rcode() == dns.rcode.NOERROR, a
			change(r, domain(5), pack(1, 1))
			wait_hb(r, inst, lambda x: int(x["table_size"]) == N + 1, "size restored")
			h.log("batch entries: every (d, v) pair applied")

			# 2d. queries queued at once (answered in full receive batches) get what they get
			#     alone: filed, unfiled and revoked
			change(r, "dname.cn", pack(2, 1))
			h.wait_for("dname.cn revoked", lambda: dns.query.udp(
				dns.message.make_query("dname.cn", "SOA"), "127.0.0.1", port=gk.port,
				timeout=1).rcode() == dns.rcode.NXDOMAIN)
			wires = h.burst_wires(64, [".example.cn", ".other.com.cn", ".dname.cn",
						   ".sub.example.cn"])
			alone = {w[:2]: h.udp_raw(w, gk.port) for w in wires}
			rcodes = {dns.message.from_wire(a).rcode() for a in alone.values() if a}
			assert {dns.rcode.NOERROR, dns.rcode.NXDOMAIN, dns.rcode.REFUSED} <= rcodes, rcodes
			got = h.udp_burst(gk, wires)
			bad = [k.hex() for k in alone if alone[k] != got.get(int.from_bytes(k, "big"))]
			assert not bad, bad
			last = change(r, "dname.cn", "")
			wait_hb(r, inst, lambda x: x["stream_id"] == last, "dname.cn unfiled again")
			h.log("burst of 64 queued queries: filed, unfiled and revoked answered as alone")

			# 3. Redis killed and restarted: stale after max_age, fresh again, changes made
			#    while the daemon was away are applied after it reconnects.
			r.save()
			rd.stop()
			h.wait_for("stale", lambda: "status: stale" in gk.log_text())
			assert gk.alive()
			assert gk.proc.poll() is None
			r = rd.start(password=PW)
			change(r, "whiledown.com.cn", pack(1, 9))
			last = change(r, "whiledown2.com.cn", pack(1, 9))
			r.config_set("requirepass", "")
			r = redis.Redis(host="127.0.0.1", port=rd.port, decode_responses=True)
			hb = wait_hb(r, inst, lambda x: x["stream_id"] == last and x["state"] == "ready",
				     "resume after restart")
			assert int(hb["table_size"]) == N + 3, hb
			h.wait_for("fresh", lambda: "status: fresh again" in gk.log_text())
			assert "resuming the change stream" in gk.log_text()
			assert "reloading after trim" not in gk.log_text()
			h.log("restart: stale, resumed, %s domains" % hb["table_size"])

			# 4. a change missed while disconnected and trimmed away: full reload
			retired0 = gk.log_text().count(RETIRED)
			r.save()
			lost = gk.log_text().count("status: lost connection to redis")
			rd.stop()
			h.wait_for("the disconnect noticed",
				   lambda: gk.log_text().count("status: lost connection to redis") > lost)
			r = rd.start(password=PW)
			change(r, "missed.com.cn", pack(1, 1))
			r.xtrim("gk:changes", maxlen=0)
			r.config_set("requirepass", "")
			r = redis.Redis(host="127.0.0.1", port=rd.port, decode_responses=True)
			h.wait_for("reload", lambda: "reloading after trim" in gk.log_text())
			hb = wait_hb(r, inst, lambda x: int(x["table_size"]) == N + 4 and x["state"] == "ready",
				     "reloaded table")
			assert "reloaded %d domains" % (N + 4) in gk.log_text(), gk.log_text()
			last = change(r, "after.com.cn", pack(1, 1))
			wait_hb(r, inst, lambda x: x["stream_id"] == last and int(x["table_size"]) == N + 5,
				"tail after reload")
			h.log("trim: full reload, %s domains" % hb["table_size"])

			# 4b. what the reload retired is collected without polling: the main thread wakes
			#     for it, frees it with the view it went with, and then sleeps while idle
			#     (a 20 ms poll for it woke it 50 times a second)
			h.wait_for("retired memory freed", lambda: freed_after_retire(gk.log_text(), retired0))
			# measured over heartbeats (the status thread's, one a second), not over a sleep:
			# start at one, count the main thread's wake-ups until two more have come
			hb = next_hb(r, inst, heartbeat(r, inst)["updated"])
			w0 = wakeups(gk.pid)
			hb = next_hb(r, inst, next_hb(r, inst, hb["updated"])["updated"])
			woke = wakeups(gk.pid) - w0
			assert woke <= 10, woke
			h.log("retired table memory freed; idle main thread woke %d times in 2 heartbeats" % woke)

			# 5. startup modes: a broken bucket holds a new instance before its first load
			r.set("gk:st:0001", "not a hash")
			for mode in ("refuse", "resolve"):
				inst2 = "it2-%s-%d" % (mode, os.getpid())
				sub = os.path.join(tmp, mode)
				os.mkdir(sub)
				gk2 = h.start_gk(binary, sub, extra=redis_extra(rd.port, inst2, startup=mode))
				try:
					assert "startup %s" % mode in gk2.log_text()
					hb = wait_hb(r, inst2, lambda x: x["state"] in ("starting", "failed"),
						     "not ready (%s)" % mode)
					assert int(hb["table_size"]) == 0
					# two heartbeats later (their "updated" changes), still not ready
					for _ in range(2):
						u = heartbeat(r, inst2).get("updated")
						hb = wait_hb(r, inst2, lambda x: x.get("updated") != u, "a heartbeat (%s)" % mode)
						assert hb["state"] != "ready", hb
					r.delete("gk:st:0001")
					hb = wait_hb(r, inst2, lambda x: x["state"] == "ready", "ready (%s)" % mode)
					assert int(hb["table_size"]) == N + 5, hb
					r.set("gk:st:0001", "not a hash")
				finally:
					assert gk2.stop() == 0, gk2.log_text()
			r.delete("gk:st:0001")
			h.log("startup modes: refuse and resolve wait for the first load")
			assert gk.alive()
		except BaseException:
			h.log("gatekeeperd log:\n" + gk.log_text()[-4000:])
			raise
		finally:
			rc = gk.stop()
			rd.stop()
		assert rc == 0, gk.log_text()
		with open(gk.logpath, "rb") as f:
			text = f.read().decode("utf-8", "replace")
		assert "ERROR: AddressSanitizer" not in text and "runtime error" not in text, text
	h.log("test_status: ok")


def metric(gk, name):
	return h.metrics(gk.mport).get(name, 0.0)


def wait_metric(gk, name, value, timeout=30.0):
	return h.wait_for("%s %s = %s" % (gk.inst, name, value),
			lambda: metric(gk, name) == value or None, timeout=timeout)


def rcode_text(gk, qname, rdtype="A"):
	"""(rcode, EDE text or "") of one UDP query."""
	q = dns.message.make_query(qname, rdtype, use_edns=0)
	a = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=1)
	texts = [o.text for o in a.options if o.otype == 15]
	return a.rcode(), (texts[0] or "") if texts else ""


def start_inst(binary, tmp, name, rport, filing):
	"""gatekeeperd with a metrics endpoint, instance id name, and the given filing: lines."""
	sub = os.path.join(tmp, name)
	os.mkdir(sub)
	mport = h.free_port()
	extra = ("redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: %s\n  connect_timeout_ms: 300\n"
		 "  reconnect_max_ms: 400\n"
		 "filing:\n  startup: refuse\n%s"
		 "metrics:\n  listen: \"127.0.0.1:%d\"\n" % (rport, name, filing, mport))
	gk = h.start_gk(binary, sub, extra=extra, log_level="debug")
	gk.inst, gk.mport = name, mport
	return gk


def test_stale(binary):
	"""Redis frozen (SIGSTOP): the age counts from the last reply, not from a connect that the
	frozen server's kernel accepts; past stale_after_ms an instance without a hard bound keeps
	enforcing its last-known-good set, loudly; one with max_age_ms gives the unknown action;
	SIGCONT makes both fresh again."""
	with h.TempDir("gk-status-stale-") as tmp:
		rd = Redis(tmp)
		r = rd.start()
		populate(r, 200)
		tag = os.getpid()
		lkg = start_inst(binary, tmp, "lkg-%d" % tag, rd.port, "  stale_after_ms: 1500\n")
		bound = start_inst(binary, tmp, "bound-%d" % tag, rd.port,
				   "  stale_after_ms: 1500\n  max_age_ms: 2000\n")
		gks = (lkg, bound)
		try:
			for gk in gks:
				wait_hb(r, gk.inst, lambda x: x.get("state") == "ready", "first load")
				wait_metric(gk, "gatekeeper_status_ready", 1)
				assert rcode_text(gk, "www.example.cn") == (dns.rcode.NOERROR, "")
				assert rcode_text(gk, "other.com.cn", "SOA") == (dns.rcode.REFUSED,
										  "ICP filing required")
				assert metric(gk, "gatekeeper_status_stale") == 0
			assert "max_age_ms none" in lkg.log_text(), lkg.log_text()

			rd.srv.freeze()
			t0 = time.time()
			wait_metric(lkg, "gatekeeper_status_stale", 1)
			wait_metric(bound, "gatekeeper_status_expired", 1)
			for gk in gks:
				assert "status: stale: no redis reply" in gk.log_text()
			assert "status: expired" in bound.log_text()
			assert metric(lkg, "gatekeeper_status_expired") == 0
			# stale, still enforcing: filed answers, unfiled gets the unfiled action
			assert rcode_text(lkg, "www.example.cn") == (dns.rcode.NOERROR, "")
			assert rcode_text(lkg, "other.com.cn", "SOA") == (dns.rcode.REFUSED,
									  "ICP filing required")
			# past the hard bound: the unknown action, for filed names too
			assert rcode_text(bound, "www.example.cn") == (dns.rcode.REFUSED,
								       "ICP filing status unavailable")
			h.log("frozen: stale after %.1f s, lkg enforcing, bound answering unknown" %
			      (time.time() - t0))

			# the frozen server's kernel completes TCP handshakes: wait for two reconnect
			# attempts (the first after a 5 s reply timeout, then connect timeouts: AUTH or
			# PING is never answered); none may count as contact, none as connected
			contact = metric(lkg, "gatekeeper_status_last_contact_timestamp_seconds")
			n0 = lkg.log_text().count("status: connected to redis")
			r0 = metric(lkg, "gatekeeper_redis_reconnects_total")
			h.wait_for("two reconnect attempts to the frozen redis",
				 lambda: metric(lkg, "gatekeeper_redis_reconnects_total") >= r0 + 2,
				 timeout=30)
			assert lkg.log_text().count("status: connected to redis") == n0, lkg.log_text()
			m = h.metrics(lkg.mport)
			m = {k: v for k, v in m.items() if k.startswith(("gatekeeper_status", "gatekeeper_redis"))}
			assert m["gatekeeper_status_last_contact_timestamp_seconds"] == contact, (m, contact)
			assert m["gatekeeper_status_stale"] == 1 and m["gatekeeper_redis_reconnects_total"] >= 2, m
			assert m["gatekeeper_status_age_seconds"] >= time.time() - t0 - 1, m
			assert metric(bound, "gatekeeper_status_expired") == 1
			assert "status: fresh again" not in lkg.log_text()
			h.log("frozen %.1f s: reconnects did not refresh the age (%.1f s)" %
			      (time.time() - t0, m["gatekeeper_status_age_seconds"]))

			rd.srv.thaw()
			for gk in gks:
				wait_metric(gk, "gatekeeper_status_stale", 0)
				wait_metric(gk, "gatekeeper_status_expired", 0)
				assert "status: fresh again" in gk.log_text()
				wait_hb(r, gk.inst, lambda x: x.get("state") == "ready", "ready after thaw")
			assert rcode_text(bound, "www.example.cn") == (dns.rcode.NOERROR, "")
			last = change(r, "example.cn", pack(2, 1))
			for gk in gks:
				wait_hb(r, gk.inst, lambda x: x["stream_id"] == last, "change after thaw")
				assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NXDOMAIN
			h.log("thawed: fresh again, following the stream")
		except BaseException:
			for gk in gks:
				h.log("%s log:\n%s" % (gk.inst, gk.log_text()[-3000:]))
			raise
		finally:
			rcs = [gk.stop() for gk in gks]
			rd.stop()
		assert rcs == [0, 0], rcs
	h.log("test_status stale: ok")


GKSYNC = GKCTL = None


def run(prog, *args, ok=(0,)):
	r = subprocess.run([prog] + list(args), capture_output=True, text=True, timeout=60)
	if r.returncode not in ok:
		raise AssertionError("%s %s: exit %d\n%s%s" % (os.path.basename(prog), " ".join(args),
								 r.returncode, r.stdout, r.stderr))
	return r


def feed(tmp, key, kind, serial, recs, base=None):
	"""A signed registry feed: recs is [(domain, "filed"|"revoked")]. Returns its path."""
	b = ',"base":%d' % base if base is not None else ""
	lines = ['{"kind":"%s","serial":%d%s,"count":%d,"generated":"2026-06-01T00:00:00Z"}' % (
		kind, serial, b, len(recs))]
	for d, st in recs:
		lines.append('{"domain":"%s","status":"%s","licence":"京ICP备12345678号-1","sponsor":'
			     '"北京示例科技有限公司","nature":"企业","provider":"示例云",'
			     '"updated":"2026-01-01T00:00:00+08:00"}' % (d, st))
	path = os.path.join(tmp, "%s-%d.jsonl" % (kind, serial))
	with open(path, "w") as f:
		f.write("\n".join(lines) + "\n")
	run(GKSYNC, "sign", "--key", key, path)
	return path


def test_diverged(binary, gkctl, gksync):
	"""Redis replaced by one holding a lower serial: the instance keeps the set it applied,
	says "diverged" (metric, heartbeat, gkctl status exit 1), applies nothing from the older
	store, and follows again once the operator re-applies the latest snapshot (and a delta
	revoking a domain after it); a store flushed and refilled with an older snapshot on a
	live connection is caught the same way."""
	global GKSYNC, GKCTL
	GKSYNC, GKCTL = gksync, gkctl
	with h.TempDir("gk-status-div-") as tmp:
		key, pub = os.path.join(tmp, "reg.key"), os.path.join(tmp, "reg.pub")
		run(GKSYNC, "keygen", key, pub)
		port = h.free_port()
		addr = "127.0.0.1:%d" % port

		def apply(path):
			return run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, path)

		def status():
			return run(GKCTL, "--redis", addr, "status", ok=(0, 1))

		s2 = feed(tmp, key, "snapshot", 2, [("example.cn", "filed"), ("dname.cn", "filed"),
						    ("other.com.cn", "filed")])
		s5 = feed(tmp, key, "snapshot", 5, [("example.cn", "filed"), ("dname.cn", "revoked"),
						    ("other.com.cn", "filed")])
		d3 = feed(tmp, key, "delta", 3, [("example.cn", "revoked")], base=2)
		d6 = feed(tmp, key, "delta", 6, [("example.cn", "revoked")], base=5)
		s1 = feed(tmp, key, "snapshot", 1, [("example.cn", "filed"), ("dname.cn", "filed")])
		dirs = {}
		for n in ("a", "b"):
			dirs[n] = os.path.join(tmp, "redis-" + n)
			os.mkdir(dirs[n])
		# store B: an older copy (serial 2, dname.cn still filed), saved to its dump
		rb = Redis(dirs["b"], port)
		r = rb.start()
		apply(s2)
		r.save()
		rb.stop()
		# store A: serial 5 (dname.cn revoked); the instance follows it
		ra = Redis(dirs["a"], port)
		r = ra.start()
		apply(s5)
		gk = start_inst(binary, tmp, "div-%d" % os.getpid(), port, "")
		try:
			wait_hb(r, gk.inst, lambda x: x.get("state") == "ready" and x["serial"] == "5",
				"serial 5")
			assert rcode_text(gk, "dname.cn", "SOA")[0] == dns.rcode.NXDOMAIN
			assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NOERROR
			assert status().returncode == 0

			# 1. Redis replaced by B (same port, serial 2): diverged, set kept
			ra.stop()
			r = rb.start()
			wait_metric(gk, "gatekeeper_status_diverged", 1)
			hb = wait_hb(r, gk.inst, lambda x: x.get("state") == "diverged", "diverged heartbeat")
			assert hb["serial"] == "5" and hb["store_serial"] == "2", hb
			assert "status: DIVERGED" in gk.log_text()
			st = status()
			assert st.returncode == 1 and "diverged(store 2 < applied 5)" in st.stdout, st.stdout
			assert rcode_text(gk, "dname.cn", "SOA")[0] == dns.rcode.NXDOMAIN  # not un-revoked
			# a change on the older store is not followed either
			apply(d3)
			wait_hb(r, gk.inst, lambda x: x["store_serial"] == "3", "store serial 3 seen")
			assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NOERROR
			assert metric(gk, "gatekeeper_status_diverged") == 1
			h.log("replaced by serial 2: diverged (gkctl status exit 1), serial 5 set kept")

			# 2. resynchronise: re-apply the latest snapshot, then the next delta
			loads = metric(gk, "gatekeeper_status_full_loads_total")
			apply(s5)
			wait_metric(gk, "gatekeeper_status_diverged", 0)
			wait_hb(r, gk.inst, lambda x: x.get("state") == "ready" and x["serial"] == "5",
				"following again")
			assert metric(gk, "gatekeeper_status_full_loads_total") == loads + 1
			assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NOERROR
			assert rcode_text(gk, "dname.cn", "SOA")[0] == dns.rcode.NXDOMAIN
			apply(d6)
			wait_hb(r, gk.inst, lambda x: x["serial"] == "6", "delta 6 applied")
			assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NXDOMAIN  # revoked
			st = status()
			assert st.returncode == 0, st.stdout
			h.log("resync: snapshot 5 re-applied, followed again; delta 6 revocation enforced")

			# 3. flushed and refilled with an older snapshot under a live connection
			r.flushall()
			apply(s1)
			wait_metric(gk, "gatekeeper_status_diverged", 1)
			wait_hb(r, gk.inst, lambda x: x.get("state") == "diverged", "diverged again")
			assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NXDOMAIN  # not un-revoked
			assert rcode_text(gk, "dname.cn", "SOA")[0] == dns.rcode.NXDOMAIN
			# a snapshot below the applied serial is not enough; the next delta is
			apply(s5)
			wait_hb(r, gk.inst, lambda x: x["store_serial"] == "5", "store serial 5 seen")
			assert metric(gk, "gatekeeper_status_diverged") == 1
			apply(d6)
			wait_metric(gk, "gatekeeper_status_diverged", 0)
			wait_hb(r, gk.inst, lambda x: x.get("state") == "ready" and x["serial"] == "6",
				"following at 6")
			assert rcode_text(gk, "www.example.cn")[0] == dns.rcode.NXDOMAIN
			assert rcode_text(gk, "other.com.cn", "SOA")[0] == dns.rcode.NOERROR
			assert status().returncode == 0
			h.log("flush + older snapshot: diverged; snapshot 5 + delta 6 resync")

			# 4. gkctl status: a stale heartbeat (as a stale instance writes it when it
			#    reaches Redis again) is its own state and flag, distinct from diverged
			fake = "gk:inst:stale-%d" % os.getpid()
			r.hset(fake, mapping={"state": "stale", "serial": "6", "store_serial": "6",
					      "table_size": "3", "policy_state": "off",
					      "updated": str(int(time.time() * 1000))})
			st = status()
			line = [x for x in st.stdout.splitlines() if x.startswith("stale-")]
			assert st.returncode == 1 and line and " stale " in line[0] and \
				line[0].rstrip().endswith("stale") and "diverged" not in line[0], st.stdout
			r.delete(fake)
			assert status().returncode == 0
			h.log("gkctl status: stale and diverged are distinct states, both exit 1")
		except BaseException:
			h.log("gatekeeperd log:\n" + gk.log_text()[-4000:])
			raise
		finally:
			rc = gk.stop()
			rb.stop()
		assert rc == 0, rc
	h.log("test_status diverged: ok")


if __name__ == "__main__":
	main()
