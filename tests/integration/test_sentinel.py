# SPDX-License-Identifier: MIT
# tests/integration/test_sentinel.py -- Redis Sentinel failover under query load (docs/REDIS.md).
#
# `test_sentinel.py GATEKEEPERD GKSYNC GKCTL`. Starts, on free loopback ports in a private
# tempdir (never the system service's 26379):
#   - a primary redis-server and a replica (replicaof the primary);
#   - three redis-sentinel processes with their own config files monitoring the primary as
#     "gk" (quorum 2, down-after-milliseconds 1000, failover-timeout 3000);
#   - gatekeeperd A: reads through the sentinels (redis.sentinels + master_name), writes its
#     heartbeat to the master found through them (primary: sentinel);
#   - gatekeeperd B: reads the replica by address, writes its heartbeat to the primary found
#     through the sentinels (the replica would refuse it: READONLY).
# The sentinels require AUTH (an ACL user of their own, default user off): every program
# reaches them with --sentinel-user/--sentinel-password-file or redis.sentinel_user/
# redis.sentinel_password_file; without them, or with a wrong password, discovery fails
# naming the sentinels' answer.
# gk-sync applies a snapshot through Sentinel discovery. Then, while dnsperf sends a steady
# bounded load to both instances (a name whose status does not change), the primary is
# killed (SIGKILL by PID); Sentinel promotes the replica; gk-sync applies a delta revoking
# example.cn through Sentinel discovery (it reaches the NEW primary); both gatekeeperds
# enforce it; both heartbeats reappear on the new primary; gkctl status through the
# sentinels lists both. Asserts no query lost and no wrong answer (dnsperf: 0 lost, every
# response NOERROR), and reports the time from the kill to: the promotion seen by the
# sentinels, gk-sync's apply, each gatekeeperd enforcing the revocation, each heartbeat on the
# new primary, and gkctl status. Waits on events, each bounded; no fixed sleeps.
# A missing redis-sentinel fails the test naming the package.
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402
import dns.rcode  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

SENTINEL = os.environ.get("GK_REDIS_SENTINEL", "/usr/bin/redis-sentinel")
DNSPERF = os.environ.get("GK_DNSPERF", "/usr/bin/dnsperf")
# the query rate while the primary is killed, over both instances (GK_SENTINEL_QPS)
QPS = int(os.environ.get("GK_SENTINEL_QPS", "20000"))
LOAD_SECONDS = 20
# the sentinels want AUTH (default user off): "admin" is the sentinels' own user (between
# sentinels: sentinel-user/sentinel-pass, and this test's clients); "gk-sentinel" is the
# programs' user, allowed only what discovery asks (docs/REDIS.md)
S_ADMIN, S_ADMIN_PW = "admin", "sentinel-admin-pw"
S_USER, S_USER_PW = "gk-sentinel", "sentinel-gk-pw"



def rcode(port, qname, rdtype="A"):
	q = dns.message.make_query(qname, rdtype, use_edns=0)
	return dns.query.udp(q, "127.0.0.1", port=port, timeout=1).rcode()


def start_redis_at(name, tmp, port, extra):
	d = os.path.join(tmp, name)
	os.mkdir(d)
	srv = h.Server(name, [h.REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
			      "--appendonly", "no", "--dir", d] + extra, d, port,
		       os.path.join(tmp, name + ".log"))
	cli = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True)
	h.wait_for("%s to answer" % name, cli.ping)
	return srv, cli


def start_sentinel(tmp, i, port, primary_port):
	d = os.path.join(tmp, "sentinel%d" % i)
	os.mkdir(d)
	conf = os.path.join(d, "sentinel.conf")
	with open(conf, "w") as f:
		f.write("port %d\nbind 127.0.0.1\ndaemonize no\nprotected-mode no\ndir %s\n"
			"sentinel monitor gk 127.0.0.1 %d 2\n"
			"sentinel down-after-milliseconds gk 1000\n"
			"sentinel failover-timeout gk 3000\n"
			"sentinel parallel-syncs gk 1\n"
			"user default off\n"
			"user %s on >%s allcommands allkeys allchannels\n"
			"user %s on >%s -@all +sentinel|get-master-addr-by-name +ping +auth\n"
			"sentinel sentinel-user %s\nsentinel sentinel-pass %s\n"
			% (port, d, primary_port, S_ADMIN, S_ADMIN_PW, S_USER, S_USER_PW, S_ADMIN,
			   S_ADMIN_PW))
	srv = h.Server("sentinel%d" % i, [SENTINEL, conf], d, port,
		       os.path.join(tmp, "sentinel%d.log" % i))
	cli = redis.Redis(host="127.0.0.1", port=port, socket_timeout=2, decode_responses=True,
			  username=S_ADMIN, password=S_ADMIN_PW)
	h.wait_for("sentinel %d to answer" % i, cli.ping)
	return srv, cli


def log_event(srv, pattern, after):
	"""Unix time of the first log line of srv matching pattern stamped at or after after."""
	import calendar
	for line in srv.log_text().splitlines():
		m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{3})Z (.*)", line)
		if not m or not re.search(pattern, m.group(3)):
			continue
		t = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S")) + int(m.group(2)) / 1000
		if t >= after - 0.001:
			return t
	return None


def queries(mport):
	return sum(v for k, v in h.metrics(mport).items() if k.startswith("gatekeeper_queries_total{"))


def master_port(s):
	r = s.execute_command("SENTINEL", "get-master-addr-by-name", "gk")
	return int(r[1]) if r else None


def main():
	binary, gksync, gkctl = sys.argv[1], sys.argv[2], sys.argv[3]
	if not os.access(SENTINEL, os.X_OK):
		raise SystemExit("redis-sentinel not found at %s: install the Debian package "
				 "redis-sentinel (scripts/deps.sh installs it)" % SENTINEL)
	if not os.access(DNSPERF, os.X_OK):
		raise SystemExit("dnsperf not found at %s (scripts/deps.sh installs it)" % DNSPERF)
	if not os.access(h.REDIS_SERVER, os.X_OK):
		raise SystemExit("redis-server not found at %s (scripts/deps.sh installs it)" % h.REDIS_SERVER)
	# the options: exclusive with --redis, both halves needed, bad addresses named
	for argv, want in (
		([gksync, "apply", "--redis", "127.0.0.1:1", "--sentinel", "127.0.0.1:2",
		  "--master-name", "gk", "--pubkey", "x", "f"], "mutually exclusive"),
		([gksync, "apply", "--sentinel", "127.0.0.1:2", "--pubkey", "x", "f"],
		 "needs both --sentinel"),
		([gksync, "apply", "--sentinel", "nope", "--master-name", "gk", "--pubkey", "x", "f"],
		 "sentinel: redis address 'nope'"),
		([gkctl, "--redis", "127.0.0.1:1", "--sentinel", "127.0.0.1:2", "--master-name", "gk",
		  "status"], "mutually exclusive"),
		([gkctl, "--master-name", "gk", "status"], "needs both --sentinel"),
		([gkctl, "--sentinel", "127.0.0.1:2", "--master-name", "a b", "status"], "spaces")):
		env = dict(os.environ)
		env.pop("GK_REDIS_SENTINELS", None)
		env.pop("GK_REDIS_MASTER", None)
		r = subprocess.run(argv, capture_output=True, text=True, timeout=30, env=env)
		assert r.returncode == 2 and want in r.stderr, (argv, r.returncode, r.stderr)
	servers = []
	with h.TempDir("gk-sentinel-") as tmp:
		try:
			pport, rport = h.free_port(), h.free_port()
			primary, pcli = start_redis_at("primary", tmp, pport, [])
			servers.append(primary)
			replica, rcli = start_redis_at("replica", tmp, rport,
						       ["--replicaof", "127.0.0.1", str(pport)])
			servers.append(replica)
			h.wait_for("replication link up",
				 lambda: rcli.info("replication").get("master_link_status") == "up")
			sports = []
			sclis = []
			for i in range(3):
				p = h.free_port()
				s, c = start_sentinel(tmp, i, p, pport)
				servers.append(s)
				sports.append(p)
				sclis.append(c)
			# every sentinel knows the replica and the two other sentinels (quorum)
			for c in sclis:
				h.wait_for("sentinel sees the replica",
					 lambda: len(c.execute_command("SENTINEL", "replicas", "gk")) == 1)
				h.wait_for("sentinel sees the others",
					 lambda: len(c.execute_command("SENTINEL", "sentinels", "gk")) == 2)
			spw = os.path.join(tmp, "sentinel.pw")
			with open(spw, "w") as f:
				f.write(S_USER_PW + "\n")
			os.chmod(spw, 0o600)
			sargs = []
			for p in sports:
				sargs += ["--sentinel", "127.0.0.1:%d" % p]
			sargs += ["--master-name", "gk"]
			bare = list(sargs)  # without the sentinels' credentials
			sargs += ["--sentinel-user", S_USER, "--sentinel-password-file", spw]
			slist = ", ".join('"127.0.0.1:%d"' % p for p in sports)
			sauth = "  sentinel_user: %s\n  sentinel_password_file: \"%s\"\n" % (S_USER, spw)

			# the snapshot through Sentinel discovery
			feed = h.Feed(gksync, tmp, pport)
			path = os.path.join(tmp, "snap.jsonl")
			recs = [("example.cn", "filed"), ("dname.cn", "filed"), ("other.com.cn", "filed")]
			lines = ['{"kind":"snapshot","serial":1,"count":%d,"generated":"2026-01-01T00:00:00Z"}'
				 % len(recs)]
			for i, (d, st) in enumerate(recs):
				lines.append('{"domain":"%s","status":"%s","licence":"京ICP备%08d号-1",'
					     '"sponsor":"示例%03d有限公司","nature":"企业","provider":"示例云",'
					     '"updated":"2026-01-01T00:00:00+08:00"}' % (d, st, 30000000 + i, i))
			with open(path, "w") as f:
				f.write("\n".join(lines) + "\n")
			feed.run("sign", "--key", feed.priv, path)
			# sentinels that want AUTH: none given, or a wrong password, is a clear failure
			badpw = os.path.join(tmp, "bad.pw")
			with open(badpw, "w") as f:
				f.write("wrong\n")
			for args, env, want in (
					(bare, {}, "NOAUTH"),
					(bare[:-2] + ["--master-name", "gk", "--sentinel-user", S_USER,
						      "--sentinel-password-file", badpw], {},
					 "AUTH failed for user %s" % S_USER)):
				for prog in ([gksync, "apply"] + args + ["--pubkey", feed.pub, path],
					     [gkctl] + args + ["status"]):
					r = subprocess.run(prog, capture_output=True, text=True, timeout=30,
							   env=dict(os.environ, **env))
					assert r.returncode == 3 and want in r.stderr and "sentinel" in \
						r.stderr, (prog, r.returncode, r.stderr)
			assert pcli.get("gk:serial") is None
			feed.run("apply", *sargs, "--pubkey", feed.pub, path)
			assert pcli.get("gk:serial") == "1"
			h.wait_for("serial 1 on the replica", lambda: rcli.get("gk:serial") == "1")

			# A reads through the sentinels; B reads the replica by address; both write
			# heartbeats (and discovery counters) to the master the sentinels name
			def ctl_status():
				"""gkctl status through the sentinels: both instances, all well (exit 0)."""
				def once():
					r = subprocess.run([gkctl] + sargs + ["status"], capture_output=True,
							   text=True, timeout=30)
					ctl_status.last = (r.returncode, r.stdout, r.stderr)
					return (r.returncode == 0 and "sentinel-A" in r.stdout and
						"sentinel-B" in r.stdout)
				h.wait_for("gkctl status: both instances ok", once, step=0.2)
				h.log("gkctl status:\n" + ctl_status.last[1])

			gks, mports = {}, {}
			for name, read in (("A", "  sentinels: [%s]\n  master_name: gk\n" % slist),
					   ("B", "  address: \"127.0.0.1:%d\"\n  sentinels: [%s]\n"
					    "  master_name: gk\n" % (rport, slist))):
				mports[name] = h.free_port()
				sub = os.path.join(tmp, "gk" + name)
				os.mkdir(sub)
				extra = ("redis:\n" + read + sauth +
					 "  primary: sentinel\n  instance_id: sentinel-%s\n"
					 "  connect_timeout_ms: 300\n  reconnect_max_ms: 400\n"
					 "filing:\n  startup: refuse\n"
					 "metrics:\n  listen: \"127.0.0.1:%d\"\n" % (name, mports[name]))
				gks[name] = h.start_gk(binary, sub, extra=extra, log_level="debug")
				servers.insert(0, gks[name])
			for name in gks:
				h.wait_for("serial 1 in gatekeeperd " + name,
					 lambda: h.metrics(mports[name]).get("gatekeeper_status_serial") == 1)
				assert rcode(gks[name].port, "www.example.cn") == dns.rcode.NOERROR
				h.wait_for("heartbeat of %s on the primary" % name,
					 lambda: pcli.hget("gk:inst:sentinel-" + name, "updated"))
			assert "READONLY" not in gks["B"].log_text(), gks["B"].log_text()[-2000:]
			# C reads the replica without redis.primary (the setup before it existed): its
			# heartbeat and counters meet READONLY, said once, naming the fix
			subc = os.path.join(tmp, "gkC")
			os.mkdir(subc)
			gkc = h.start_gk(binary, subc, extra=(
				"redis:\n  address: \"127.0.0.1:%d\"\n  instance_id: sentinel-C\n"
				"  connect_timeout_ms: 300\n  reconnect_max_ms: 400\n"
				"discovery:\n  flush_ms: 100\nfiling:\n  startup: refuse\n" % rport))
			servers.insert(0, gkc)
			h.wait_for("C serves the status set read from the replica",
				 lambda: rcode(gkc.port, "www.example.cn") == dns.rcode.NOERROR)
			ro_fix = "redis.primary"
			h.wait_for("READONLY reported by C's heartbeat and discovery",
				 lambda: gkc.log_text().count(ro_fix) == 2, step=0.1)
			ctl_status()

			# steady load on both instances: a name whose status does not change
			qfile = os.path.join(tmp, "queries.txt")
			with open(qfile, "w") as f:
				f.write("other.com.cn SOA\nwww.other.com.cn A\n")
			perf = {}
			for name in gks:
				perf[name] = subprocess.Popen(
					[DNSPERF, "-s", "127.0.0.1", "-p", str(gks[name].port), "-d", qfile,
					 "-l", str(LOAD_SECONDS), "-Q", str(QPS // len(gks)), "-c", "4", "-t", "2"],
					stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
			# the load is running: queries answered before the kill
			h.wait_for("load under way",
				 lambda: all(queries(mports[n]) > 1000 for n in gks))

			t_kill = time.time()
			os.kill(primary.pid, signal.SIGKILL)
			primary.proc.wait(10)
			h.log("primary (pid %d, port %d) killed" % (primary.pid, pport))
			times = {}
			h.wait_for("the sentinels to promote the replica",
				 lambda: all(master_port(c) == rport for c in sclis), timeout=60)
			times["sentinels name the new primary"] = time.time() - t_kill
			h.wait_for("the replica to be a master",
				 lambda: rcli.execute_command("ROLE")[0] == "master", timeout=30)

			# the revocation through Sentinel discovery reaches the new primary
			dpath = os.path.join(tmp, "delta-2.jsonl")
			with open(dpath, "w") as f:
				f.write('{"kind":"delta","serial":2,"base":1,"count":1,'
					'"generated":"2026-06-01T00:00:00Z"}\n'
					'{"domain":"example.cn","status":"revoked","licence":"京ICP备12345678号-1",'
					'"sponsor":"北京示例科技有限公司","nature":"企业","provider":"示例云",'
					'"updated":"2026-01-01T00:00:00+08:00"}\n')
			feed.run("sign", "--key", feed.priv, dpath)
			t_apply = time.time()
			r = subprocess.run([gksync, "apply"] + sargs + ["--pubkey", feed.pub, dpath],
					   capture_output=True, text=True, timeout=120)
			assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
			assert rcli.get("gk:serial") == "2"
			times["gk-sync applied to the new primary (started once promoted)"] = \
				time.time() - t_kill
			h.log("gk-sync apply through Sentinel discovery took %.0f ms" %
			      ((time.time() - t_apply) * 1000))
			for name in gks:
				h.wait_for("gatekeeperd %s enforces the revocation" % name,
					 lambda: rcode(gks[name].port, "www.example.cn") == dns.rcode.NXDOMAIN)
				times["gatekeeperd %s enforces the revocation" % name] = time.time() - t_kill
				h.log("gatekeeperd %s enforced the revocation %.0f ms after gk-sync started" %
				      (name, (time.time() - t_apply) * 1000))
			for name in gks:
				h.wait_for("heartbeat of %s on the new primary" % name,
					 lambda: int(rcli.hget("gk:inst:sentinel-" + name, "updated") or 0)
					 > t_kill * 1000 and
					 rcli.hget("gk:inst:sentinel-" + name, "serial") == "2")
				times["gatekeeperd %s heartbeat (serial 2) seen on the new primary" % name] = \
					time.time() - t_kill
				assert rcode(gks[name].port, "other.com.cn", "SOA") == dns.rcode.NOERROR
			ctl_status()
			times["gkctl status through the sentinels"] = time.time() - t_kill
			# the same through GK_REDIS_SENTINELS / GK_REDIS_MASTER
			env = dict(os.environ, GK_REDIS_SENTINELS=",".join("127.0.0.1:%d" % p for p in sports),
				   GK_REDIS_MASTER="gk", GK_REDIS_SENTINEL_USER=S_USER,
				   GK_REDIS_SENTINEL_PASSWORD=S_USER_PW)
			r = subprocess.run([gkctl, "status"], capture_output=True, text=True, timeout=30,
					   env=env)
			assert r.returncode == 0 and "serial 2" in r.stdout, (r.returncode, r.stdout, r.stderr)
			# gkctl -c with B's config: the primary found through its redis.sentinels
			r = subprocess.run([gkctl, "-c", gks["B"].conf, "--sentinel-user", S_USER,
					    "--sentinel-password-file", spw, "status"], capture_output=True,
					   text=True, timeout=30)
			assert r.returncode == 0 and "sentinel-A" in r.stdout and "serial 2" in r.stdout, \
				(r.returncode, r.stdout, r.stderr)
			# when each gatekeeperd followed: its own log lines naming the new primary
			ev = {}
			ev["gatekeeperd A: status replica reading the new primary"] = log_event(
				gks["A"], r"status: connected to redis 127\.0\.0\.1:%d \(master found "
				r"through Sentinel\)" % rport, t_kill)
			for name in gks:
				ev["gatekeeperd %s: heartbeats to the new primary" % name] = log_event(
					gks[name], r"status: heartbeats to the primary redis 127\.0\.0\.1:%d" %
					rport, t_kill)
			for k, v in ev.items():
				assert v is not None, (k, gks[k.split()[1].rstrip(":")].log_text()[-3000:])
				times[k] = v - t_kill

			# C: the READONLY warnings were said once each, and the heartbeat recovered
			# once its replica was promoted
			h.wait_for("C's heartbeat on the promoted replica",
				 lambda: "status: heartbeat written again" in gkc.log_text())
			assert rcli.hget("gk:inst:sentinel-C", "serial") in ("1", "2")
			assert gkc.log_text().count(ro_fix) == 2, gkc.log_text()[-3000:]
			for k, v in times.items():
				h.log("after the kill: %-62s %6.0f ms" % (k, v * 1000))
			# the load: nothing lost, every answer NOERROR (both names stay filed)
			for name, p in perf.items():
				out, _ = p.communicate(timeout=LOAD_SECONDS + 60)
				m = re.search(r"Queries sent:\s+(\d+)", out)
				lost = re.search(r"Queries lost:\s+(\d+)", out)
				noerr = re.search(r"Response codes:\s+NOERROR (\d+) \(100\.00%\)", out)
				assert m and lost and int(m.group(1)) > 0, out
				assert int(lost.group(1)) == 0, "gatekeeperd %s lost queries:\n%s" % (name, out)
				assert noerr, "gatekeeperd %s gave answers other than NOERROR:\n%s" % (name, out)
				qps = re.search(r"Queries per second:\s+([\d.]+)", out)
				h.log("gatekeeperd %s under load (-Q %d): %s queries, 0 lost, all NOERROR, "
				      "%s qps" % (name, QPS // len(perf), m.group(1), qps.group(1) if qps else "?"))
		except BaseException:
			for s in servers:
				try:
					h.log("%s log:\n%s" % (s.name, s.log_text()[-2500:]))
				except Exception:
					pass
			raise
		finally:
			rcs = [s.stop() for s in servers if s.name == "gatekeeperd"]
			for s in servers:
				if s.name != "gatekeeperd":
					s.stop()
		assert all(rc == 0 for rc in rcs), rcs
	h.log("test_sentinel: ok")
	return 0


if __name__ == "__main__":
	sys.exit(main())
