# SPDX-License-Identifier: MIT
# tests/integration/test_redis_acl.py -- every program with exactly its ACL user from the
# shipped redis/gatekeeper.acl (default user off), on a private redis-server on loopback.
#
#   1. gk-sync applies a snapshot as user gk-sync (password file); with a wrong password it
#      fails with "AUTH failed for user gk-sync: WRONGPASS ...", without one with NOAUTH,
#      with gatekeeperd's credentials with NOPERM -- and writes nothing;
#   2. gatekeeperd as user gatekeeperd: loads and follows the status set (a second apply is
#      enforced), writes its heartbeat and its discovery counts, follows a policy pushed by
#      gkctl as user gkctl;
#   3. gkctl as user gkctl: policy push, status, report, lookup; a push with gatekeeperd's
#      credentials fails with NOPERM;
#   4. writes outside a user's rules fail with a clear error: no credentials (NOAUTH),
#      gatekeeperd writing gk:st:* or gk:serial, gkctl writing gk:serial or gk:st:*, gk-sync
#      writing gk:pol:* or gk:inst:* (NOPERM);
#   5. a gatekeeperd with a wrong password logs "AUTH failed for user gatekeeperd" and keeps
#      retrying with backoff; its heartbeat never appears.
# Every server is started here on free loopback ports and stopped by PID.
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)
from test_fleet_policy import ask, edns_text, log, write_policy  # noqa: E402

wait_for = h.wait_for

ACL = os.path.join(h.SRC, "redis", "gatekeeper.acl")
USERS = ("gatekeeperd", "gk-sync", "gkctl")


def write(path, text, mode=0o600):
	with open(path, "w") as f:
		f.write(text)
	os.chmod(path, mode)


def start_redis(tmp, pw):
	"""redis-server loading the shipped ACL file with the placeholders replaced."""
	with open(ACL) as f:
		acl = f.read()
	for u in USERS:
		ph = ">CHANGE-ME-%s " % u
		assert ph in acl, "%s: no placeholder for %s" % (ACL, u)
		acl = acl.replace(ph, ">%s " % pw[u])
	path = os.path.join(tmp, "users.acl")
	write(path, acl)
	port = h.free_port()
	argv = [h.REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
		"--appendonly", "no", "--dir", tmp, "--aclfile", path]
	srv = h.Server("redis-server", argv, tmp, port, os.path.join(tmp, "redis.log"))
	return srv


def client(port, user=None, pw=None):
	return redis.Redis(host="127.0.0.1", port=port, username=user, password=pw,
			   socket_timeout=5)


def refused(fn, *words):
	"""fn() must fail with Redis's NOPERM (redis-py strips the code: NoPermissionError)."""
	assert words == ("NOPERM",)
	try:
		fn()
	except redis.exceptions.NoPermissionError as e:
		return "NOPERM " + str(e)
	raise AssertionError("the write was allowed")


def raw(port, *args):
	"""One command on a fresh, unauthenticated connection; the reply's first line."""
	cmd = b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a.encode()) for a in args)
	with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
		s.sendall(cmd)
		buf = b""
		while not buf.endswith(b"\r\n"):
			chunk = s.recv(4096)
			if not chunk:
				break
			buf += chunk
	return buf.decode().strip()


def ping(r):
	try:
		return r.ping()
	except redis.exceptions.RedisError:
		return False


def feed(tmp, gksync, serial, status):
	path = os.path.join(tmp, "feed%d.jsonl" % serial)
	with open(path, "w") as f:
		f.write('{"kind":"snapshot","serial":%d,"count":1,"generated":"2026-11-28T00:00:00Z"}\n'
			% serial)
		f.write('{"domain":"example.cn","status":"%s","licence":"京ICP备12345678号-1","sponsor":'
			'"北京示例科技有限公司","nature":"企业","provider":"示例云计算有限公司",'
			'"updated":"2026-01-16T00:36:00+08:00"}\n' % status)
	subprocess.run([gksync, "sign", "--key", os.path.join(tmp, "reg.key"), path], check=True,
		       timeout=10)
	return path


def main():
	gkbin, gkctl, gksync = sys.argv[1], sys.argv[2], sys.argv[3]
	with h.TempDir("gk-acl-") as tmp:
		pw = {u: "pw-%s-%d" % (u, os.getpid()) for u in USERS}
		rsrv = start_redis(tmp, pw)
		procs = [rsrv]
		try:
			body(tmp, gkbin, gkctl, gksync, rsrv, pw, procs)
		finally:
			for p in procs:
				p.stop()


def body(tmp, gkbin, gkctl, gksync, rsrv, pw, procs):
	addr = "127.0.0.1:%d" % rsrv.port
	admin = client(rsrv.port, "gkctl", pw["gkctl"])  # reads for the checks below
	wait_for("redis", lambda: ping(admin))
	files = {}
	for u in USERS:
		files[u] = os.path.join(tmp, u + ".pw")
		write(files[u], pw[u] + "\n")
	wrong = os.path.join(tmp, "wrong.pw")
	write(wrong, "not-the-password\n")
	subprocess.run([gksync, "keygen", os.path.join(tmp, "reg.key"), os.path.join(tmp, "reg.pub")],
		       check=True, timeout=10)
	subprocess.run([gksync, "keygen", os.path.join(tmp, "op1.key"), os.path.join(tmp, "op1.pub")],
		       check=True, timeout=10)
	env = {k: v for k, v in os.environ.items() if not k.startswith("GK_REDIS_")}

	def sync(path, user, pwfile):
		argv = [gksync, "apply", "--redis", addr, "--pubkey", os.path.join(tmp, "reg.pub")]
		if user:
			argv += ["--redis-user", user]
		if pwfile:
			argv += ["--redis-password-file", pwfile]
		return subprocess.run(argv + [path], capture_output=True, text=True, timeout=60, env=env)

	def ctl(*args, user="gkctl", pwfile=None, check=True):
		argv = [gkctl, "--redis", addr]
		if user:
			argv += ["--redis-user", user, "--redis-password-file", pwfile or files[user]]
		p = subprocess.run(argv + list(args), cwd=tmp, capture_output=True, text=True,
				   timeout=30, env=env)
		if check and p.returncode != 0:
			raise AssertionError("gkctl %s: rc %d\n%s%s" % (args, p.returncode, p.stdout, p.stderr))
		return p

	# 1. gk-sync
	f3 = feed(tmp, gksync, 3, "filed")
	p = sync(f3, "gk-sync", wrong)
	assert p.returncode == 3, (p.returncode, p.stderr)
	assert "AUTH failed for user gk-sync: WRONGPASS" in p.stderr, p.stderr
	log("gk-sync, wrong password: " + p.stderr.strip())
	p = sync(f3, None, None)
	assert p.returncode == 3 and "NOAUTH" in p.stderr, (p.returncode, p.stderr)
	log("gk-sync, no credentials: " + p.stderr.strip())
	p = sync(f3, "gatekeeperd", files["gatekeeperd"])
	assert p.returncode == 3 and "NOPERM" in p.stderr, (p.returncode, p.stderr)
	log("gk-sync as gatekeeperd: " + p.stderr.strip())
	assert admin.get("gk:serial") is None
	assert client(rsrv.port, "gk-sync", pw["gk-sync"]).get("gk:sync:lock") is None
	p = sync(f3, "gk-sync", files["gk-sync"])
	assert p.returncode == 0, (p.returncode, p.stderr)
	assert admin.get("gk:serial") == b"3"
	# the password through the environment instead of a file
	p = subprocess.run([gksync, "apply", "--redis", addr, "--pubkey", os.path.join(tmp, "reg.pub"),
			    "--redis-user", "gk-sync", feed(tmp, gksync, 4, "filed")],
			   capture_output=True, text=True, timeout=60,
			   env=dict(env, GK_REDIS_PASSWORD=pw["gk-sync"]))
	assert p.returncode == 0, (p.returncode, p.stderr)
	assert admin.get("gk:serial") == b"4"

	# 2. gatekeeperd as its user
	adir = os.path.join(tmp, "a")
	os.mkdir(adir)
	os.symlink(os.path.join(tmp, "op1.pub"), os.path.join(adir, "op1.pub"))
	os.symlink(files["gatekeeperd"], os.path.join(adir, "redis.pw"))
	write(os.path.join(adir, "local.yaml"),
	      "mode: enforce\nunfiled: {action: refuse, ede: 15, text: \"ICP filing required\"}\n")
	inst = "acl-a-%d" % os.getpid()
	extra = ("redis:\n  address: \"%s\"\n  instance_id: %s\n  user: gatekeeperd\n"
		 "  password_file: redis.pw\n  connect_timeout_ms: 500\n  reconnect_max_ms: 500\n"
		 "filing:\n  startup: refuse\n"
		 "policy:\n  file: local.yaml\n  redis: true\n  operator_keys: [op1.pub]\n"
		 "discovery:\n  flush_ms: 100\n" % (addr, inst))
	A = h.start_gk(gkbin, adir, workers=1, ipv6=False, extra=extra)
	procs.append(A)
	hb = lambda: {k.decode(): v.decode() for k, v in admin.hgetall("gk:inst:" + inst).items()}
	wait_for("heartbeat ready", lambda: hb().get("state") == "ready")
	assert hb()["serial"] == "4", hb()
	assert ask(A.port, "www.example.cn").rcode() == dns.rcode.NOERROR
	assert ask(A.port, "www.other.com.cn").rcode() == dns.rcode.REFUSED
	assert "AUTH failed" not in A.log_text()

	def disc_has(name):
		for k in admin.scan_iter(match="gk:disc:*:unfiled"):
			if admin.hget(k, name) is not None:
				return True
		return False
	wait_for("discovery counts", lambda: disc_has("other.com.cn"))
	# the served sites' addresses (gk:site:*, attribution in gkctl report)
	wait_for("site addresses", lambda: any(admin.hget(k, "example.cn") is not None
	                                       for k in admin.scan_iter(match="gk:site:*")))
	log("gatekeeperd as gatekeeperd: heartbeat, status set (serial 4), discovery and site "
	    "addresses written")
	f5 = feed(tmp, gksync, 5, "revoked")
	assert sync(f5, "gk-sync", files["gk-sync"]).returncode == 0
	wait_for("serial 5 in the heartbeat", lambda: hb().get("serial") == "5")
	rc = ask(A.port, "www.example.cn").rcode()
	assert rc != dns.rcode.NOERROR, dns.rcode.to_text(rc)  # revoked: the tail was followed

	# 3. gkctl as its user: push (followed by gatekeeperd), status, report, lookup
	pdir = os.path.join(tmp, "pol")
	os.mkdir(pdir)
	write_policy(pdir, "fleet-1")
	p = ctl("policy", "push", "pol/policy.yaml", "--key", "op1.key", user="gatekeeperd",
		check=False)
	assert p.returncode == 3 and "NOPERM" in p.stderr, (p.returncode, p.stdout, p.stderr)
	log("gkctl push as gatekeeperd: " + p.stderr.strip())
	out = ctl("policy", "push", "pol/policy.yaml", "--key", "op1.key").stdout
	assert "push: version 1" in out, out
	wait_for("policy followed", lambda: hb().get("policy_version") == "1")
	wait_for("fleet policy enforced",
		 lambda: edns_text(ask(A.port, "mail.example.cn"))[1] == "fleet-1", timeout=10)
	st = ctl("status", check=False)
	assert inst in st.stdout and st.returncode == 0, (st.returncode, st.stdout, st.stderr)
	assert "NOPERM" not in st.stderr and "NOAUTH" not in st.stderr, st.stderr
	ctl("report", "--format", "csv")
	lk = ctl("lookup", "www.example.cn", "-c", A.conf)
	assert "revoked" in lk.stdout, lk.stdout  # read from gk:st:* as gkctl
	p = ctl("status", user=None, check=False)
	assert p.returncode == 3 and "NOAUTH" in p.stderr, (p.returncode, p.stderr)
	p = ctl("status", pwfile=wrong, check=False)
	assert p.returncode == 3 and "AUTH failed for user gkctl: WRONGPASS" in p.stderr, p.stderr
	log("gkctl as gkctl: push, status, report, lookup; without or with a wrong password: refused")

	# 4. writes outside each user's rules
	reply = raw(rsrv.port, "HSET", "gk:st:0000", "x.cn", "1")
	assert reply.startswith("-NOAUTH"), reply
	log("no credentials, HSET gk:st:0000: " + reply)
	gd = client(rsrv.port, "gatekeeperd", pw["gatekeeperd"])
	log("gatekeeperd HSET gk:st: " + refused(lambda: gd.hset("gk:st:0000", "x.cn", "1"),
						      "NOPERM"))
	refused(lambda: gd.set("gk:serial", "99"), "NOPERM")
	refused(lambda: gd.xadd("gk:changes", {"k": "st", "s": "99", "d": "x.cn", "v": "1"}), "NOPERM")
	refused(lambda: gd.hset("gk:pol:v:9", "bundle", "x"), "NOPERM")
	ct = client(rsrv.port, "gkctl", pw["gkctl"])
	log("gkctl SET gk:serial: " + refused(lambda: ct.set("gk:serial", "99"), "NOPERM"))
	refused(lambda: ct.hset("gk:st:0000", "x.cn", "1"), "NOPERM")
	refused(lambda: ct.hset("gk:inst:" + inst, "state", "ready"), "NOPERM")
	gs = client(rsrv.port, "gk-sync", pw["gk-sync"])
	refused(lambda: gs.set("gk:pol:current", "9"), "NOPERM")
	refused(lambda: gs.hset("gk:inst:" + inst, "state", "ready"), "NOPERM")
	refused(lambda: gs.execute_command("FLUSHALL"), "NOPERM")
	assert admin.get("gk:serial") == b"5"

	# 5. gatekeeperd with a wrong password: a clear error, retried with backoff
	bdir = os.path.join(tmp, "b")
	os.mkdir(bdir)
	os.symlink(wrong, os.path.join(bdir, "redis.pw"))
	instb = "acl-b-%d" % os.getpid()
	B = h.start_gk(gkbin, bdir, workers=1, ipv6=False, ready=False,
		       extra=extra.replace(inst, instb).replace("policy:\n  file: local.yaml\n"
								"  redis: true\n  operator_keys: [op1.pub]\n", ""))
	procs.append(B)
	# the status loop's two connections fail once per attempt: three attempts, backing off
	wait_for("AUTH failures retried",
		 lambda: B.log_text().count("status: redis %s: AUTH failed for user gatekeeperd: "
					    "WRONGPASS" % addr) >= 6, timeout=15)
	line = [l for l in B.log_text().splitlines() if "AUTH failed" in l][0]
	log("gatekeeperd, wrong password: " + line)
	assert not admin.exists("gk:inst:" + instb)


if __name__ == "__main__":
	main()
