# SPDX-License-Identifier: MIT
# tests/integration/test_policy_restart.py -- the fleet policy across gatekeeperd restarts,
# with a private redis-server (TCP and a unix socket) and gatekeeperd on loopback.
#
#   1. before any fleet version, an unverifiable one is rejected and the log says what is
#      kept ("keeping the policy in force (no fleet version yet)", never "force0");
#   2. a push blocking mail.example.cn is applied and kept on disk (state/, mode 0600);
#   3. the instance stops; gk:pol:current is set to a version with a bad signature; the
#      instance starts again: the name stays blocked from the first query on (the policy
#      file does not block it), the rejected version is reported loudly (log, heartbeat
#      policy_state=rejected, gkctl status policy-rejected, exit 1);
#   4. a newer good push is applied; the instance restarts with Redis down and still
#      enforces it;
#   5. gk:pol:current set to 2^63-1: rejected loudly by the instance, and `gkctl policy push`
#      still works (it replaces the pointer, numbered after the history);
#   6. an instance that follows only its policy file is flagged by gkctl status
#      (policy-file) once a fleet version exists.
# Every server is started here on free loopback ports and stopped by PID.
import os
import re
import stat
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)
from test_fleet_policy import (Tools, ask, bundle_json, edns_text, heartbeat, log,  # noqa: E402
			       store_raw, write_policy)

wait_for = h.wait_for

LOCAL_POLICY = ("mode: enforce\n"
		"unfiled: {action: refuse, ede: 15, text: \"ICP filing required\"}\n"
		"lists:\n  - {file: local.txt, format: plain, kind: block, ede: 17, text: \"local\"}\n")


def start_redis(tmp, sock):
	port = h.free_port()
	argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--unixsocket", sock,
		"--unixsocketperm", "700", "--save", "", "--appendonly", "no", "--dir", tmp]
	srv = h.Server("redis-server", argv, tmp, port, os.path.join(tmp, "redis.log"))
	r = redis.Redis(host="127.0.0.1", port=port)
	wait_for("redis", lambda: _ping(r))
	return srv, r


def _ping(r):
	try:
		return r.ping()
	except redis.ConnectionError:
		return False


def extra(redis_addr, inst, fleet=True):
	pol = "policy:\n  file: local/policy.yaml\n"
	if fleet:
		pol += "  redis: true\n  operator_keys: [op1.pub]\n"
	return ("redis:\n  address: \"%s\"\n  instance_id: %s\n  connect_timeout_ms: 500\n"
		"  reconnect_max_ms: 500\n" % (redis_addr, inst) + "filing:\n  startup: refuse\n" + pol)


def blocked_text(port):
	"""The EDE text of mail.example.cn's refusal, or None when it resolves."""
	a = ask(port, "mail.example.cn")
	return edns_text(a)[1] if a.rcode() == dns.rcode.REFUSED else None


def log_since(g, mark):
	return g.log_text()[mark:]


def main():
	gkbin, gkctl, gksync = sys.argv[1], sys.argv[2], sys.argv[3]
	with h.TempDir("gk-polrestart-") as tmp:
		sock = os.path.join(tmp, "redis.sock")
		rsrv, r = start_redis(tmp, sock)
		procs = [rsrv]
		try:
			body(tmp, gkbin, gkctl, gksync, rsrv, r, sock, procs)
		finally:
			for p in procs:
				p.stop()


def body(tmp, gkbin, gkctl, gksync, rsrv, r, sock, procs):
	t = Tools(gkctl, gksync, "127.0.0.1:%d" % rsrv.port, tmp)
	subprocess.run([gksync, "keygen", os.path.join(tmp, "op1.key"), os.path.join(tmp, "op1.pub")],
		       check=True, timeout=10)
	# example.cn filed: mail.example.cn resolves unless a policy blocks it
	feed = os.path.join(tmp, "feed.jsonl")
	with open(feed, "w") as f:
		f.write('{"kind":"snapshot","serial":3,"count":1,"generated":"2026-11-28T00:00:00Z"}\n')
		f.write('{"domain":"example.cn","status":"filed","licence":"京ICP备12345678号-1","sponsor":'
			'"北京示例科技有限公司","nature":"企业","provider":"示例云计算有限公司",'
			'"updated":"2026-01-16T00:36:00+08:00"}\n')
	subprocess.run([gksync, "keygen", os.path.join(tmp, "reg.key"), os.path.join(tmp, "reg.pub")],
		       check=True, timeout=10)
	subprocess.run([gksync, "sign", "--key", os.path.join(tmp, "reg.key"), feed], check=True, timeout=10)
	subprocess.run([gksync, "apply", "--redis", t.addr, "--pubkey", os.path.join(tmp, "reg.pub"), feed],
		       check=True, timeout=30, capture_output=True)
	# the local policy file blocks another name only
	os.mkdir(os.path.join(tmp, "local"))
	with open(os.path.join(tmp, "local", "policy.yaml"), "w") as f:
		f.write(LOCAL_POLICY)
	with open(os.path.join(tmp, "local", "local.txt"), "w") as f:
		f.write("local-only.example.cn\n")
	pdir = os.path.join(tmp, "pol")
	os.mkdir(pdir)
	inst = "restart-a-%d" % os.getpid()
	adir = os.path.join(tmp, "a")
	os.mkdir(adir)
	for name in ("op1.pub",):
		os.symlink(os.path.join(tmp, name), os.path.join(adir, name))
	os.symlink(os.path.join(tmp, "local"), os.path.join(adir, "local"))
	state = os.path.join(adir, "state", "fleet-policy.json")

	def start_a():
		g = h.start_gk(gkbin, adir, workers=1, ipv6=False, extra=extra("unix:" + sock, inst))
		procs.append(g)
		return g

	A = start_a()
	wait_for("heartbeat", lambda: heartbeat(r, inst).get("state") == "ready")
	assert blocked_text(A.port) is None
	text = A.log_text()
	assert "following gk:pol:current on redis unix:%s\n" % sock in text, text
	assert "status: connected to redis unix:%s\n" % sock in text, text

	# 1. an unverifiable version before any fleet version: what is kept is named
	store_raw(r, 1, bundle_json(1, "mode: enforce\n"), "A" * 86 + "==", "0123456789abcdef")
	wait_for("rejection of 1", lambda: "version 1 rejected" in A.log_text())
	line = [l for l in A.log_text().splitlines() if "version 1 rejected" in l][0]
	assert "keeping the policy in force (no fleet version yet): " in line and "force0" not in line, line
	log("before any fleet version: " + line.split("error: ")[-1][:120])

	# 2. a push blocking mail.example.cn: applied and kept on disk
	write_policy(pdir, "fleet-2")
	out = t.ctl("policy", "push", "pol/policy.yaml", "--key", "op1.key", "--message", "block mail").stdout
	assert "push: version 2" in out, out
	wait_for("v2 enforced", lambda: blocked_text(A.port) == "fleet-2")
	wait_for("state file", lambda: os.path.exists(state))
	st = os.lstat(state)
	assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
	assert blocked_text(A.port) == "fleet-2"

	# 3. stop; Redis offers version 3 with version 2's signature over other bytes; start
	A.stop()
	procs.remove(A)
	v2 = {k.decode(): val for k, val in r.hgetall("gk:pol:v:2").items()}
	bad = v2["bundle"].replace(b'"version":2', b'"version":3').replace(b"mail.example.cn", b"none.example.cn")
	assert bad != v2["bundle"]
	store_raw(r, 3, bad, v2["sig"], v2["key_id"])
	mark = len(A.log_text())
	A = start_a()
	first = blocked_text(A.port)  # the first query after the server answers
	assert first == "fleet-2", "after a restart with an unverifiable pointer: %r" % first
	text = log_since(A, mark)
	assert "version 2 (key id %s) from" % v2["key_id"].decode() in text, text
	hb = wait_for("rejected in the heartbeat", lambda: (lambda x: x if x.get("policy_state") == "rejected"
							    and x.get("policy_error", "").startswith("3: ") else None)(heartbeat(r, inst)), timeout=5)
	assert "bad signature" in hb["policy_error"] and hb["policy_version"] == "2", hb
	wait_for("log of 3", lambda: "version 3 rejected, keeping version 2 (from the state file): bad signature"
		 in log_since(A, mark), timeout=5)
	s = t.ctl("status", check=False)
	assert s.returncode == 1 and "policy-rejected(3: " in s.stdout, s.stdout
	assert blocked_text(A.port) == "fleet-2"
	log("restart with an unverifiable version 3 in Redis: version 2 from the state file enforced from the "
	    "first query; heartbeat %s / %s; gkctl status exit 1" % (hb["policy_state"], hb["policy_error"][:60]))

	# 4. a good push, then a restart with Redis down: still enforced
	write_policy(pdir, "fleet-4")
	out = t.ctl("policy", "push", "pol/policy.yaml", "--key", "op1.key").stdout
	assert "push: version 4" in out, out
	wait_for("v4 enforced", lambda: blocked_text(A.port) == "fleet-4")
	wait_for("heartbeat ok", lambda: heartbeat(r, inst).get("policy_state") == "ok")
	A.stop()
	procs.remove(A)
	r.save()
	rsrv.stop()
	procs.remove(rsrv)
	A = start_a()
	assert blocked_text(A.port) == "fleet-4"
	log("restart with Redis down: version 4 from the state file enforced")
	rsrv = h.Server("redis-server", rsrv.argv, tmp, rsrv.port, os.path.join(tmp, "redis2.log"))
	procs.append(rsrv)
	r = redis.Redis(host="127.0.0.1", port=rsrv.port)
	wait_for("redis back", lambda: _ping(r))
	wait_for("heartbeat after redis is back", lambda: heartbeat(r, inst).get("policy_state") == "ok")

	# 5. a pointer that is not a version: rejected loudly; gkctl push still works
	r.set("gk:pol:current", "9223372036854775807")
	r.xadd("gk:changes", {"k": "pol", "v": "9223372036854775807", "a": "push"})
	hb = wait_for("pointer rejected", lambda: (lambda x: x if x.get("policy_state") == "rejected" else None)(
		heartbeat(r, inst)), timeout=5)
	assert "not a version" in hb["policy_error"], hb
	assert blocked_text(A.port) == "fleet-4"
	write_policy(pdir, "fleet-5")
	p = t.ctl("policy", "push", "pol/policy.yaml", "--key", "op1.key")
	assert "push: version 5" in p.stdout and "holds '9223372036854775807', which is not a version" in p.stderr, p
	wait_for("v5 enforced", lambda: blocked_text(A.port) == "fleet-5")
	wait_for("heartbeat ok after v5", lambda: heartbeat(r, inst).get("policy_state") == "ok")
	log("gk:pol:current = 2^63-1: rejected by the instance; gkctl push replaced it: " +
	    re.sub(r"\s+", " ", p.stderr.strip())[:100])

	# 6. an instance on its policy file only, once a fleet version exists
	fdir = os.path.join(tmp, "f")
	os.mkdir(fdir)
	os.symlink(os.path.join(tmp, "local"), os.path.join(fdir, "local"))
	finst = "restart-file-%d" % os.getpid()
	F = h.start_gk(gkbin, fdir, workers=1, ipv6=False, extra=extra("127.0.0.1:%d" % rsrv.port, finst, fleet=False))
	procs.append(F)
	wait_for("file heartbeat", lambda: heartbeat(r, finst).get("state") == "ready")
	s = t.ctl("status", check=False)
	fl = [x for x in s.stdout.splitlines() if x.startswith(finst)]
	al = [x for x in s.stdout.splitlines() if x.startswith(inst)]
	assert s.returncode == 1 and fl and "policy-file(not following fleet version 5)" in fl[0], s.stdout
	assert al and al[0].rstrip().endswith("ok"), s.stdout
	log("gkctl status:\n" + s.stdout.rstrip())
	for g in (A, F):
		assert g.alive() and "ERROR: AddressSanitizer" not in g.log_text()
	log("ok")


if __name__ == "__main__":
	main()
