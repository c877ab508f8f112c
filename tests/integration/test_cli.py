# SPDX-License-Identifier: MIT
# tests/integration/test_cli.py -- what gk-sync and gkctl tell an operator.
#
# `test_cli.py GATEKEEPERD GKSYNC GKCTL` (gatekeeperd unused):
#   - `gk-sync sign` says what it wrote (FEED.sig, or --out, raw or base64);
#   - re-applying a delta that is already applied (gk:serial == its serial) exits 0 saying
#     "already applied" and writes nothing; an older delta is rejected (exit 1) saying it is
#     older than gk:serial; a delta whose base is behind is still rejected as before;
#     `gk-sync watch` moves an applied delta to done/;
#   - a missing required option or argument is named in one line (exit 2), not the whole
#     usage; an unknown command still shows the usage.
# Uses a private redis-server (gkharness.start_redis), stopped by PID.
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import redis  # noqa: E402  (Debian python3-redis)

GKSYNC = GKCTL = None


def run(prog, *args, ok=(0,)):
	r = subprocess.run([prog] + list(args), capture_output=True, text=True, timeout=60,
			   env=dict(os.environ, GKCTL_REDIS=""))
	if r.returncode not in ok:
		raise AssertionError("%s %s: exit %d (want %s)\n%s%s" % (
			os.path.basename(prog), " ".join(args), r.returncode, ok, r.stdout, r.stderr))
	return r


def feed(tmp, kind, serial, base=None, name=None):
	b = ',"base":%d' % base if base is not None else ""
	path = os.path.join(tmp, name or "%s-%d.jsonl" % (kind, serial))
	with open(path, "w") as f:
		f.write('{"kind":"%s","serial":%d%s,"count":1,"generated":"2026-06-01T00:00:00Z"}\n'
			'{"domain":"example.cn","status":"filed","licence":"京ICP备12345678号-1",'
			'"sponsor":"北京示例科技有限公司","nature":"企业","provider":"示例云",'
			'"updated":"2026-01-01T00:00:00+08:00"}\n' % (kind, serial, b))
	return path


def one_line(r, want):
	lines = r.stderr.strip().splitlines()
	assert lines and want in lines[0] and "usage:" not in r.stderr, (want, r.stderr)


def main():
	global GKSYNC, GKCTL
	GKSYNC, GKCTL = sys.argv[2], sys.argv[3]
	with h.TempDir("gk-cli-") as tmp:
		key, pub = os.path.join(tmp, "reg.key"), os.path.join(tmp, "reg.pub")
		run(GKSYNC, "keygen", key, pub)

		# sign says what it wrote
		s1 = feed(tmp, "snapshot", 1)
		r = run(GKSYNC, "sign", "--key", key, s1)
		assert r.stdout.strip() == "signed %s: wrote %s.sig (Ed25519, 64 raw bytes)" % (s1, s1), r.stdout
		assert os.path.getsize(s1 + ".sig") == 64
		alt = os.path.join(tmp, "alt.sig")
		r = run(GKSYNC, "sign", "--key", key, "--base64", "--out", alt, s1)
		assert r.stdout.strip() == "signed %s: wrote %s (Ed25519, base64)" % (s1, alt), r.stdout
		h.log("sign: " + r.stdout.strip())

		# missing required options and arguments are named
		one_line(run(GKSYNC, "sign", s1, ok=(2,)), "gk-sync sign: missing required option --key")
		one_line(run(GKSYNC, "apply", "--redis", "127.0.0.1:1", s1, ok=(2,)),
			 "gk-sync apply: missing required option --pubkey")
		one_line(run(GKSYNC, "verify", s1, ok=(2,)), "gk-sync verify: missing required option --pubkey")
		one_line(run(GKSYNC, "watch", tmp, ok=(2,)), "gk-sync watch: missing required option --pubkey")
		one_line(run(GKSYNC, "keygen", key, ok=(2,)), "gk-sync keygen: expected PRIV.pem PUB.pem, got 1")
		one_line(run(GKSYNC, "verify", "--pubkey", pub, ok=(2,)), "gk-sync verify: expected FEED, got 0")
		one_line(run(GKSYNC, "apply", "--pubkey", pub, s1, ok=(2,)), "needs --redis HOST:PORT")
		r = run(GKSYNC, "frobnicate", ok=(2,))
		assert "unknown command 'frobnicate'" in r.stderr and "usage:" in r.stderr, r.stderr
		one_line(run(GKCTL, "lookup", ok=(2,)), "gkctl lookup: missing NAME")
		one_line(run(GKCTL, "policy", "push", ok=(2,)), "gkctl policy push: missing PATH")
		one_line(run(GKCTL, "policy", "diff", "1", ok=(2,)), "gkctl policy diff: missing A B")
		one_line(run(GKCTL, "policy", ok=(2,)), "gkctl policy: missing the verb")
		one_line(run(GKCTL, "policy", "frob", ok=(2,)), "gkctl policy: unknown verb 'frob'")
		one_line(run(GKCTL, "status", "extra", ok=(2,)), "gkctl status: unexpected argument 'extra'")
		one_line(run(GKCTL, "policy", "push", s1, ok=(2,)), "policy push needs --key")
		one_line(run(GKCTL, "frob", ok=(2,)), "gkctl: unknown command 'frob'")
		h.log("missing options and arguments named in one line")

		# every option of report is in gkctl --help and gkctl report --help (--month was not)
		top = run(GKCTL, "--help").stdout
		rep = run(GKCTL, "report", "--help", ok=(0, 2))
		for opt in ("--from", "--to", "--month", "--format", "--output", "--records-redis"):
			if opt not in top:
				raise AssertionError("gkctl --help does not name report's %s:\n%s" % (opt, top))
			if opt not in rep.stdout + rep.stderr:
				raise AssertionError("gkctl report --help does not name %s" % opt)
		h.log("gkctl --help names every report option")

		# re-applying an applied delta
		rd = h.start_redis(tmp)
		try:
			addr = "127.0.0.1:%d" % rd.port
			R = redis.Redis(host="127.0.0.1", port=rd.port)
			d2 = feed(tmp, "delta", 2, base=1)
			d3 = feed(tmp, "delta", 3, base=2)
			behind = feed(tmp, "delta", 5, base=2, name="behind.jsonl")
			for p in (d2, d3, behind):
				run(GKSYNC, "sign", "--key", key, p)
			run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, s1)
			run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, d2)
			run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, d3)
			before = (R.get("gk:serial"), R.xlen("gk:changes"), R.dbsize())
			r = run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, d3)
			assert r.stdout.strip() == "already applied: gk:serial is 3, the serial of this " \
				"delta; nothing written" and r.stderr == "", (r.stdout, r.stderr)
			h.log("delta 3 again: exit 0, " + r.stdout.strip())
			r = run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, d2, ok=(1,))
			assert "delta serial 2 is older than gk:serial 3: already applied, or superseded" \
				in r.stderr, r.stderr
			r = run(GKSYNC, "apply", "--redis", addr, "--pubkey", pub, behind, ok=(1,))
			assert "delta base 2 != gk:serial 3" in r.stderr, r.stderr
			assert (R.get("gk:serial"), R.xlen("gk:changes"), R.dbsize()) == before
			assert R.get("gk:sync:lock") is None
			h.log("older delta and base behind: exit 1, Redis unchanged")
			# watch: the applied delta goes to done/, not rejected/
			spool = os.path.join(tmp, "spool")
			os.mkdir(spool)
			for suffix in ("", ".sig"):
				shutil.copy(d3 + suffix, os.path.join(spool, "delta-3.jsonl" + suffix))
			w = h.Server("gk-sync watch", [GKSYNC, "watch", "--redis", addr, "--pubkey", pub,
						       "--interval", "100", spool], tmp, 0,
				     os.path.join(tmp, "watch.log"))
			done = os.path.join(spool, "done", "delta-3.jsonl")
			h.wait_for("watch moved delta-3 to done/", lambda: os.path.exists(done), step=0.05, proc=w,
				   must=False)
			rc = w.stop()
			assert os.path.exists(done) and rc == 0, (rc, w.log_text())
			assert "delta-3.jsonl serial 3 was already applied: nothing written" in w.log_text()
			assert not os.path.exists(os.path.join(spool, "rejected", "delta-3.jsonl"))
			assert (R.get("gk:serial"), R.xlen("gk:changes"), R.dbsize()) == before
			h.log("watch: an applied delta goes to done/")
		finally:
			rd.stop()
	h.log("test_cli: ok")


if __name__ == "__main__":
	main()
