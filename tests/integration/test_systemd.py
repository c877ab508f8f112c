# SPDX-License-Identifier: MIT
# tests/integration/test_systemd.py -- the unit files and the sd_notify protocol.
#
# `test_systemd.py GATEKEEPERD GK-SYNC BUILD verify`: the units of systemd/, as `cmake
# --install` puts them (DESTDIR, prefix /usr), pass `systemd-analyze verify` with nothing
# said on stderr (unknown keys and bad values are only warnings there, exit 0), with
# /usr/sbin pointing at the installed programs (they are not installed on this machine) and
# manual pages not looked up (--man=no: not installed either). A unit with an unknown key is
# shown to be reported, so the check is not vacuous. Skips, saying why, without
# systemd-analyze.
#
# `test_systemd.py GATEKEEPERD GK-SYNC notify`: gatekeeperd with NOTIFY_SOCKET (a Python unix
# datagram socket) and WATCHDOG_USEC, reading a filing-status replica (redis-server, feed
# serial 7 applied with gk-sync) and 3,000 more zones: the messages arrive in order --
# STATUS= lines saying how the zones load, READY=1 once they all are (the log's readiness
# line is there) with a STATUS= naming the zones and the registry serial (so after the
# replica's first load), WATCHDOG=1
# repeatedly, RELOADING=1 then READY=1 around a SIGHUP, STOPPING=1 on SIGTERM.
#
# `test_systemd.py GATEKEEPERD GK-SYNC journal`: with stderr as the journal's stream, each log
# message is a journal entry with PRIORITY, GK_SUBSYSTEM and SYSLOG_IDENTIFIER (see
# journal() for how the journal's socket is provided).
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

UNITS = ("gatekeeperd.service", "gk-sync-watch.service")


def verify(build):
	tool = shutil.which("systemd-analyze")
	if tool is None:
		raise SystemExit("FAIL: systemd-analyze not found (Debian package systemd; scripts/deps.sh "
				 "installs it): units not verified")
	with h.TempDir("gk-units-") as tmp:
		dest = os.path.join(tmp, "root")
		r = subprocess.run(["cmake", "--install", build, "--prefix", "/usr"],
				   env=dict(os.environ, DESTDIR=dest), capture_output=True, text=True, timeout=120)
		assert r.returncode == 0, r.stdout + r.stderr
		sbin = os.path.join(dest, "usr", "sbin") + "/"
		units = []
		for u in UNITS:
			src = [os.path.join(dest, d, u) for d in ("lib/systemd/system", "usr/lib/systemd/system")]
			src = [p for p in src if os.path.exists(p)]
			assert len(src) == 1, (u, src)
			with open(src[0]) as f:
				text = f.read()
			out = os.path.join(tmp, u)
			with open(out, "w") as f:
				f.write(text.replace("/usr/sbin/", sbin))
			units.append(out)
		r = subprocess.run([tool, "verify", "--man=no"] + units, capture_output=True, text=True,
				   timeout=60, cwd=tmp)
		if r.returncode != 0 and "Failed to" in r.stderr and "sysinit.target" in r.stderr:
			print("SKIP: systemd-analyze verify cannot load the default dependencies here: " +
			      r.stderr.strip())
			sys.exit(77)  # ctest shows it skipped (tests/integration/service.cmake)
		assert r.returncode == 0 and r.stderr.strip() == "", (r.returncode, r.stdout, r.stderr)
		# the check sees a mistake
		bad = os.path.join(tmp, "gk-bad.service")
		with open(units[0]) as f:
			text = f.read()
		with open(bad, "w") as f:
			f.write(text.replace("NoNewPrivileges=yes", "NoNewPrivileges=yes\nNoNewPrivilege=yes"))
		r = subprocess.run([tool, "verify", "--man=no", bad], capture_output=True, text=True,
				   timeout=60, cwd=tmp)
		assert "Unknown key" in r.stderr, (r.returncode, r.stderr)
		h.log("systemd-analyze verify: %s clean" % ", ".join(UNITS))


def notify(binary, gksync):
	with h.TempDir("gk-notify-") as tmp:
		path = os.path.join(tmp, "notify.sock")
		ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		ns.bind(path)
		ns.settimeout(0.2)
		redis = h.start_redis(tmp)
		gk = None
		try:
			feed = h.Feed(gksync, tmp, redis.port)
			feed.snapshot(7, [("example.cn", "filed")])
			port = h.free_port()
			# 3,000 more zones, so that READY=1 coming before they are loaded would show
			zf = os.path.join(tmp, "many.zone")
			with open(zf, "w") as f:
				f.write("$TTL 300\n@ SOA ns1.example.net. h.example.net. 1 3600 600 86400 300\n"
					"@ NS ns1.example.net.\nwww A 192.0.2.1\n")
			zones = list(h.ZONES) + [("m%d.example.org" % i, zf) for i in range(3000)]
			conf = h.gk_config(tmp, port, zones=zones,
					   extra="redis:\n  address: \"127.0.0.1:%d\"\n" % redis.port)
			env = dict(os.environ, NOTIFY_SOCKET=path, WATCHDOG_USEC="100000")
			env.pop("WATCHDOG_PID", None)
			gk = h.Server("gatekeeperd", [binary, "-c", conf], tmp, port,
				      os.path.join(tmp, "gatekeeperd.log"), env=env)
			msgs = []

			def until(pred, what, timeout=60.0):
				"""h.wait_for pred, reading sd_notify datagrams as they come."""
				def once():
					if pred():
						return True
					try:
						data, _ = ns.recvfrom(4096)
						msgs.append(data.decode())
					except socket.timeout:
						pass
					return pred()
				h.wait_for("%s (got %r)" % (what, msgs), once, timeout, step=0, proc=gk)

			def has(key, after=-1):
				return [i for i, m in enumerate(msgs) if key in m.split("\n") and i > after]

			until(lambda: has("READY=1"), "READY=1")
			# READY=1 at readiness: every zone loaded (the log's line comes first)
			assert "ready: loaded 3" in gk.log_text(), (msgs, gk.log_text()[-2000:])
			early = [m for m in msgs[:has("READY=1")[0]] if m.startswith("STATUS=")]
			# zones loading, then loaded while the filing status still loads
			assert all(m.startswith("STATUS=loading zones: ") or
				   m.startswith("STATUS=3004 zones, loading the filing status") for m in early), early
			h.log("STATUS= before READY=1: %r" % early[:2])
			ready = msgs[has("READY=1")[0]]
			status = [l for l in ready.split("\n") if l.startswith("STATUS=")]
			assert status and "registry serial 7" in status[0] and "zones" in status[0], ready
			until(lambda: len(has("WATCHDOG=1")) >= 3, "three WATCHDOG=1")
			gk.wait_ready()
			gk.signal(signal.SIGHUP)
			until(lambda: has("READY=1", has("RELOADING=1")[0]) if has("RELOADING=1") else False,
			      "RELOADING=1 then READY=1")
			rl = has("RELOADING=1")
			assert rl[0] > has("READY=1")[0]
			assert any(l.startswith("MONOTONIC_USEC=") for l in msgs[rl[0]].split("\n"))
			gk.signal(signal.SIGTERM)
			until(lambda: has("STOPPING=1"), "STOPPING=1")
			assert has("STOPPING=1")[0] > has("READY=1", rl[0])[0]
			rc = gk.stop()
			assert rc == 0, gk.log_text()
			order = [m.split("\n")[0] for m in msgs if not m.startswith("WATCHDOG=1")]
			h.log("notify messages (watchdog left out): %r" % order)
		finally:
			if gk is not None:
				gk.stop()
			redis.stop()
			ns.close()
	h.log("test_systemd notify: ok")
	notify_zones(binary)


def notify_zones(binary):
	"""Without a filing check READY=1 waits for the zones alone: 3,000 of them, so READY=1
	sent before they are loaded (at the loop's first turn) would show."""
	with h.TempDir("gk-notify-z-") as tmp:
		path = os.path.join(tmp, "notify.sock")
		ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		ns.bind(path)
		ns.settimeout(0.2)
		zf = os.path.join(tmp, "many.zone")
		with open(zf, "w") as f:
			f.write("$TTL 300\n@ SOA ns1.example.net. h.example.net. 1 3600 600 86400 300\n"
				"@ NS ns1.example.net.\nwww A 192.0.2.1\n")
		zones = list(h.ZONES) + [("m%d.example.org" % i, zf) for i in range(3000)]
		port = h.free_port()
		conf = h.gk_config(tmp, port, zones=zones)
		env = dict(os.environ, NOTIFY_SOCKET=path)
		env.pop("WATCHDOG_USEC", None)
		gk = h.Server("gatekeeperd", [binary, "-c", conf], tmp, port,
			      os.path.join(tmp, "gatekeeperd.log"), env=env)
		try:
			msgs = []
			deadline = time.monotonic() + 60
			while not any(m.startswith("READY=1") for m in msgs):
				assert gk.alive(), "gatekeeperd exited:\n" + gk.log_text()
				assert time.monotonic() < deadline, (msgs, gk.log_text()[-2000:])
				try:
					msgs.append(ns.recvfrom(4096)[0].decode())
				except socket.timeout:
					pass
			assert "ready: loaded %d zones" % len(zones) in gk.log_text(), \
				(msgs, gk.log_text()[-2000:])
			ready = [m for m in msgs if m.startswith("READY=1")][0]
			assert "STATUS=%d zones, no filing check" % len(zones) in ready, ready
			h.log("zones only: %r" % msgs)
			assert gk.stop() == 0, gk.log_text()
		finally:
			gk.stop()
			ns.close()


def journal_entries(data):
	"""Decode one datagram of the journal's native protocol into {field: value}."""
	out, i = {}, 0
	while i < len(data):
		nl = data.index(b"\n", i)
		line = data[i:nl]
		if b"=" in line:
			k, _, v = line.partition(b"=")
			out[k.decode()] = v.decode()
			i = nl + 1
		else:  # binary-safe form: name, newline, 64-bit little-endian length, value, newline
			n = int.from_bytes(data[nl + 1:nl + 9], "little")
			out[line.decode()] = data[nl + 9:nl + 9 + n].decode()
			i = nl + 9 + n + 1
	return out


def journal(binary):
	"""Under systemd (JOURNAL_STREAM naming stderr), log entries go to the journal with
	PRIORITY, GK_SUBSYSTEM and SYSLOG_IDENTIFIER. The journal's socket is a Python datagram
	socket, seen by gatekeeperd at /run/systemd/journal/socket in a mount namespace of its
	own (unshare; a tmpfs over /run there), so the machine's /run is not touched."""
	unshare = shutil.which("unshare")
	probe = subprocess.run([unshare or "unshare", "-m", "--propagation", "private", "true"],
			       capture_output=True, text=True) if unshare else None
	if probe is None or probe.returncode != 0:
		print("SKIP: cannot make a mount namespace (unshare -m: %s): journal fields not tested" %
		      (probe.stderr.strip() if probe else "not found"))
		sys.exit(77)  # ctest shows it skipped (tests/integration/service.cmake)
	with h.TempDir("gk-journal-") as tmp:
		sock = os.path.join(tmp, "journal.sock")
		js = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
		js.bind(sock)
		js.settimeout(0.2)
		js.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
		port = h.free_port()
		conf = h.gk_config(tmp, port)
		logpath = os.path.join(tmp, "gatekeeperd.log")
		open(logpath, "w").close()
		st = os.stat(logpath)
		env = dict(os.environ, JOURNAL_STREAM="%d:%d" % (st.st_dev, st.st_ino))
		script = ('mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal && '
			  'ln -s "$0" /run/systemd/journal/socket && exec "$@"')
		gk = h.Server("gatekeeperd", [unshare, "-m", "--propagation", "private", "sh", "-c", script,
					      sock, binary, "-c", conf], tmp, port, logpath, env=env)
		entries = []
		try:
			gk.wait_ready()
			gk.signal(signal.SIGHUP)
			deadline = time.monotonic() + 20
			while not any(e.get("MESSAGE", "").startswith("reloaded:") for e in entries):
				assert time.monotonic() < deadline, (entries, gk.log_text())
				try:
					entries.append(journal_entries(js.recv(65536)))
				except socket.timeout:
					pass
			rc = gk.stop()
		finally:
			gk.stop()
			js.close()
		assert rc == 0
		by_msg = {e["MESSAGE"]: e for e in entries}
		for e in entries:
			assert e["SYSLOG_IDENTIFIER"] == "gatekeeperd", e
			assert e["PRIORITY"] in ("3", "4", "6", "7"), e
		warn = [e for m, e in by_msg.items() if m.startswith("running as root")]
		assert warn and warn[0]["PRIORITY"] == "4" and warn[0]["GK_SUBSYSTEM"] == "main", entries
		rel = [e for m, e in by_msg.items() if m.startswith("reload: zones:")]
		assert rel and rel[0]["PRIORITY"] == "6" and rel[0]["GK_SUBSYSTEM"] == "reload", entries
		rl = [e for m, e in by_msg.items() if m.startswith("rate_limit:")]
		assert rl and rl[0]["GK_SUBSYSTEM"] == "rate_limit", entries
		# everything went to the journal: no line on the stream
		assert "reload" not in gk.log_text(), gk.log_text()
		h.log("journal: %d entries with PRIORITY, GK_SUBSYSTEM, SYSLOG_IDENTIFIER" % len(entries))


if __name__ == "__main__":
	binary, gksync, mode = sys.argv[1], sys.argv[2], sys.argv[-1]
	if mode == "verify":
		verify(sys.argv[3])
	elif mode == "journal":
		journal(binary)
	else:
		notify(binary, gksync)
	h.log("test_systemd %s: ok" % mode)
