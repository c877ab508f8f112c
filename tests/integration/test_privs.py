# SPDX-License-Identifier: MIT
# tests/integration/test_privs.py -- dropping root: user:/group:, read from /proc.
#
# gatekeeperd started as root with `user: nobody` and `group: nogroup` (and a metrics
# endpoint, opened before the drop): every thread's real, effective, saved and filesystem
# uid and gid are nobody's and nogroup's (/proc/PID/task/*/status), supplementary groups
# empty, no capability left (CapPrm, CapEff, CapAmb 0); it answers over UDP and TCP and
# serves /metrics. A SIGHUP while its files are unreadable to nobody (the temporary
# directory is root's, mode 0700) fails naming the config file and keeps serving; made
# readable, the reload succeeds; a zone file made unreadable is named in the reload error.
# Without user: as root, the start-up log warns. user: naming no user fails --check with its
# line. With chroot: (and user: nobody): /proc/PID/root is the chroot directory, it answers,
# a zone changed inside the chroot (configured by its absolute path, read without the
# prefix) is reloaded on SIGHUP; a zone outside the chroot stops the start naming the
# config's file:line; chroot: under systemd (NOTIFY_SOCKET set) is refused.
# Needs root (skips, saying so, otherwise).
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402
import dns.message  # noqa: E402
import dns.query  # noqa: E402


def status_fields(path):
	out = {}
	with open(path) as f:
		for line in f:
			k, _, v = line.partition(":")
			out[k] = v.split()
	return out


def thread_nice(pid):
	"""{thread name: [nice values]} of a process, from /proc/PID/task/*/stat (field 19)."""
	out = {}
	for t in os.listdir("/proc/%d/task" % pid):
		with open("/proc/%d/task/%s/stat" % (pid, t)) as f:
			s = f.read()
		name = s[s.index("(") + 1:s.rindex(")")]
		out.setdefault(name, []).append(int(s[s.rindex(")") + 2:].split()[16]))
	return out


def answers(port):
	q = dns.message.make_query("www.example.cn", "A")
	u = dns.query.udp(q, "127.0.0.1", port=port, timeout=2)
	t = dns.query.tcp(q, "127.0.0.1", port=port, timeout=2)
	return len(u.answer) == 1 and len(t.answer) == 1


def main(binary, gkctl):
	if os.geteuid() != 0:
		print("SKIP: test_privs needs root to drop privileges (running as uid %d)" % os.geteuid())
		sys.exit(77)  # ctest shows it skipped (tests/integration/service.cmake)
	import pwd
	import grp
	nobody, nogroup = pwd.getpwnam("nobody").pw_uid, grp.getgrnam("nogroup").gr_gid
	with h.TempDir("gk-privs-") as tmp:
		# zone files are read as the user (zones load once the privileges are dropped); the
		# config is read as root at start and must be readable by the user for a reload
		os.chmod(tmp, 0o711)
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		h.copy_zones(zdir)
		for f in os.listdir(zdir):
			os.chmod(os.path.join(zdir, f), 0o644)
		os.chmod(zdir, 0o755)
		mport = h.free_port()
		extra = "user: nobody\ngroup: nogroup\nmetrics:\n  listen: \"127.0.0.1:%d\"\n" % mport
		gk = h.start_gk(binary, tmp, zonedir=zdir, extra=extra)
		os.chmod(gk.conf, 0o600)
		try:
			tasks = os.listdir("/proc/%d/task" % gk.pid)
			assert len(tasks) > 3, tasks
			for t in tasks:
				st = status_fields("/proc/%d/task/%s/status" % (gk.pid, t))
				assert st["Uid"] == [str(nobody)] * 4, (t, st["Uid"])
				assert st["Gid"] == [str(nogroup)] * 4, (t, st["Gid"])
				assert st.get("Groups", []) == [], (t, st.get("Groups"))
				for cap in ("CapInh", "CapPrm", "CapEff", "CapAmb"):
					assert int(st[cap][0], 16) == 0, (t, cap, st[cap])
			assert "running as user nobody (uid %d), group nogroup" % nobody in gk.log_text()
			assert answers(gk.port)
			# udp_priority (default 10): the UDP threads at nice -10, set before the drop,
			# every other thread at the process's 0
			nice = thread_nice(gk.pid)
			udp = [v for k, vs in nice.items() if k.startswith("gk-udp") for v in vs]
			rest = [v for k, vs in nice.items() if not k.startswith("gk-udp") for v in vs]
			assert udp and all(v == -10 for v in udp), nice
			assert rest and all(v == 0 for v in rest), nice
			# each UDP thread took it before the drop (a thread scheduled after it stayed
			# at 0 and said so), however late the scheduler ran it
			assert "udp_priority: the UDP threads stay" not in gk.log_text(), gk.log_text()
			assert "gatekeeper_rrl_limited_total" in h.metrics(mport)

			# the config is unreadable to nobody: the reload fails naming it, serving goes on
			gk.signal(signal.SIGHUP)
			h.wait_for("reload error", lambda: "Permission denied" in gk.log_text())
			text = gk.log_text()
			assert "%s:0: cannot open: Permission denied" % gk.conf in text, text
			assert answers(gk.port)
			# readable: the reload works
			os.chmod(tmp, 0o755)
			os.chmod(gk.conf, 0o644)
			gk.signal(signal.SIGHUP)
			h.wait_for("reload", lambda: "reloaded:" in gk.log_text())
			assert answers(gk.port)
			# a zone file nobody cannot read, changed: its reload error names it
			zf = os.path.join(zdir, "example.cn.zone")
			with open(zf, "a") as f:
				f.write("; changed\n")
			os.chmod(zf, 0o600)
			n = gk.log_text().count("reloaded:")
			gk.signal(signal.SIGHUP)
			h.wait_for("second reload", lambda: gk.log_text().count("reloaded:") > n)
			text = gk.log_text()
			assert zf in text and "ermission denied" in text.split("reloaded:")[-2], text
			assert answers(gk.port)  # the previous version keeps serving
		finally:
			rc = gk.stop()
		assert rc == 0, gk.log_text()

	# as root without user: a warning; udp_priority 3 under a process started at nice 5: the
	# UDP threads at 2
	with h.TempDir("gk-privs-root-") as tmp:
		port = h.free_port()
		conf = h.gk_config(tmp, port, extra="udp_priority: 3\n")
		gk = h.Server("gatekeeperd", ["nice", "-n", "5", binary, "-c", conf], tmp, port,
		              os.path.join(tmp, "gatekeeperd.log"))
		gk.wait_ready()
		try:
			assert "running as root: set user:" in gk.log_text(), gk.log_text()
			st = status_fields("/proc/%d/status" % gk.pid)
			assert st["Uid"][1] == "0"
			nice = thread_nice(gk.pid)
			assert all(v == 2 for k, vs in nice.items() if k.startswith("gk-udp") for v in vs), nice
			assert nice["gatekeeperd"] == [5], nice
		finally:
			gk.stop()
		# a user that does not exist: --check names the line
		conf = h.gk_config(tmp, h.free_port(), extra="user: gk-no-such-user\n")
		r = subprocess.run([binary, "-c", conf, "--check"], capture_output=True, text=True, timeout=30)
		assert r.returncode == 1 and "user: no such user 'gk-no-such-user'" in r.stderr, r
		assert r.stderr.startswith(conf + ":"), r.stderr
	chroot_tests(binary, gkctl)
	h.log("test_privs: ok")


def chroot_tests(binary, gkctl):
	import pwd
	for k in ("NOTIFY_SOCKET", "JOURNAL_STREAM"):  # as started by hand, not by systemd
		os.environ.pop(k, None)
	# an ASan build's LeakSanitizer reads /proc/PID/task at exit, which the chroot hides
	# (it then aborts); the same code paths are leak-checked by the runs above without it
	os.environ["ASAN_OPTIONS"] = ":".join(x for x in (os.environ.get("ASAN_OPTIONS"), "detect_leaks=0") if x)
	with h.TempDir("gk-chroot-") as tmp:
		tmp = os.path.realpath(tmp)
		os.chmod(tmp, 0o755)
		zdir = os.path.join(tmp, "zones")
		os.mkdir(zdir)
		h.copy_zones(zdir)
		sdir = os.path.join(tmp, "state")  # the state file's directory, written as nobody
		os.mkdir(sdir)
		os.chown(sdir, pwd.getpwnam("nobody").pw_uid, -1)
		with open(os.path.join(zdir, "new.test.zone"), "w") as f:
			f.write("$ORIGIN new.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n"
				"@ IN NS ns1\nns1 IN A 192.0.2.1\nwww IN A 192.0.2.41\n")
		extra = "user: nobody\ngroup: nogroup\nchroot: %s\n" % tmp
		ctlx = "control: {socket: ctl.sock, state_file: state/zones.added}\n"
		gk = h.start_gk(binary, tmp, zonedir=zdir, extra=extra + ctlx)
		try:
			assert os.readlink("/proc/%d/root" % gk.pid) == tmp, os.readlink("/proc/%d/root" % gk.pid)
			assert "chroot: %s" % tmp in gk.log_text(), gk.log_text()
			assert answers(gk.port)
			# a zone changed inside the chroot: the SIGHUP reload reads the config and the
			# zone at their paths without the prefix
			zf = os.path.join(zdir, "example.cn.zone")
			with open(zf) as f:
				text = f.read().replace("2026010101 ; serial", "2026010102 ; serial")
			with open(zf, "w") as f:
				f.write(text + "chrooted.example.cn. 300 IN A 192.0.2.77\n")
			gk.signal(signal.SIGHUP)
			h.wait_for("reload in the chroot", lambda: "reloaded:" in gk.log_text() or "reload failed" in gk.log_text())
			assert "reloaded:" in gk.log_text(), gk.log_text()
			q = dns.message.make_query("chrooted.example.cn", "A")
			r = dns.query.udp(q, "127.0.0.1", port=gk.port, timeout=2)
			assert [str(x) for rr in r.answer for x in rr] == ["192.0.2.77"], (r, gk.log_text())
			assert "user or group changed" not in gk.log_text(), gk.log_text()
			# zone add with the file's path outside the daemon's view (DIR/zones/...): read
			# inside as /zones/..., kept in the state (journal) as written
			nz = os.path.join(zdir, "new.test.zone")
			p = subprocess.run([gkctl, "-c", gk.conf, "zone", "add", "new.test", nz],
					   capture_output=True, text=True, timeout=60)
			assert p.returncode == 0, (p, gk.log_text())
			q = dns.message.make_query("www.new.test", "A")
			h.wait_for("new.test served", lambda: dns.query.udp(
				q, "127.0.0.1", port=gk.port, timeout=2).answer)
			# kept in the state file's journal (docs/CONTROL.md)
			with open(os.path.join(sdir, "zones.added.journal")) as f:
				assert "+ new.test %s\n" % nz in f.read()
			out = os.path.join(h.ZONEDIR, "example.cn.zone")
			p = subprocess.run([gkctl, "-c", gk.conf, "zone", "add", "out.test", out],
					   capture_output=True, text=True, timeout=60)
			assert p.returncode != 0 and "outside chroot" in p.stdout + p.stderr, p
			# chroot: itself changes only at a restart: said so, serving goes on
			with open(gk.conf) as f:
				text = f.read().replace("chroot: %s\n" % tmp, "chroot: /\n")
			with open(gk.conf, "w") as f:
				f.write(text)
			n = gk.log_text().count("reloaded:")
			gk.signal(signal.SIGHUP)
			h.wait_for("reload with chroot changed", lambda: gk.log_text().count("reloaded:") > n)
			assert "reload: chroot changed: takes effect after restart" in gk.log_text()
			assert answers(gk.port)
		finally:
			rc = gk.stop()
		assert rc == 0, gk.log_text()

		# a zone file outside the chroot: the start fails naming the config's file:line
		outside = os.path.join(h.ZONEDIR, "example.cn.zone")
		conf = h.gk_config(tmp, h.free_port(), zonedir=zdir, extra=extra + "zone_list: z.list\n",
				   name="outside.yaml")
		with open(os.path.join(tmp, "z.list"), "w") as f:
			f.write("# outside\nother.example %s\n" % outside)
		r = subprocess.run([binary, "-c", conf], capture_output=True, text=True, timeout=30)
		want = "%s:2: zone file %s is outside chroot %s" % (os.path.join(tmp, "z.list"), outside, tmp)
		assert r.returncode != 0 and want in r.stderr, (want, r)
		conf = h.gk_config(tmp, h.free_port(), zonedir=h.ZONEDIR, extra=extra, name="outside2.yaml")
		r = subprocess.run([binary, "-c", conf], capture_output=True, text=True, timeout=30)
		assert r.returncode != 0 and (conf + ":") in r.stderr and "is outside chroot" in r.stderr, r

		# under systemd (NOTIFY_SOCKET) chroot: is refused, RootDirectory= recommended
		conf = h.gk_config(tmp, h.free_port(), zonedir=zdir, extra=extra, name="sd.yaml")
		env = dict(os.environ, NOTIFY_SOCKET=os.path.join(tmp, "notify.sock"))
		r = subprocess.run([binary, "-c", conf], capture_output=True, text=True, timeout=30, env=env)
		assert r.returncode != 0 and "RootDirectory=" in r.stderr and "NOTIFY_SOCKET" in r.stderr, r


if __name__ == "__main__":
	main(sys.argv[1], sys.argv[2])
