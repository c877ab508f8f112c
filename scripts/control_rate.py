#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# scripts/control_rate.py -- control-channel update rate and latency with N zones loaded.
#
# Starts gatekeeperd (on a free loopback port, in a temporary directory) with N small zones
# from a zone list (every entry names one shared zone file written with relative names), a
# control socket and a state file, waits for the "ready:" log line, then sends `zone add`
# and `zone remove` of zones outside the list in turn on one control connection, as fast as
# the answers come, and prints the commands per second and the command latency p50/p99/max.
# Usage: control_rate.py GATEKEEPERD [ZONES [UPDATES]]   (defaults 100000, 1000)
import os
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
import gkharness as h  # noqa: E402

ZONE = ("$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 300\n@ IN NS ns1\n@ IN NS ns2\n"
	"ns1 IN A 192.0.2.1\nns2 IN A 192.0.2.2\n@ IN A 192.0.2.10\nwww IN A 192.0.2.10\n"
	"www IN AAAA 2001:db8::10\nmail IN A 192.0.2.25\n@ IN MX 10 mail\n@ IN TXT \"v=spf1 mx -all\"\n")


def pct(xs, p):
	xs = sorted(xs)
	return xs[min(len(xs) - 1, int(len(xs) * p / 100))]


def main(argv):
	binary = os.path.abspath(argv[1])
	n = int(argv[2]) if len(argv) > 2 else 100000
	m = int(argv[3]) if len(argv) > 3 else 1000
	with tempfile.TemporaryDirectory(prefix="gk-ctlrate-") as tmp:
		zf = os.path.join(tmp, "shared.zone")
		with open(zf, "w") as f:
			f.write(ZONE)
		with open(os.path.join(tmp, "zones.list"), "w") as f:
			f.writelines("z%d.bench.cn shared.zone\n" % i for i in range(n))
		sock, state = os.path.join(tmp, "control.sock"), os.path.join(tmp, "zones.state")
		extra = "zone_list: zones.list\ncontrol: {socket: %s, state_file: %s}\n" % (sock, state)
		port = h.free_port()
		conf = h.gk_config(tmp, port, zones=[], extra=extra, log_level="info")
		log = os.path.join(tmp, "gk.log")
		srv = h.Server("gatekeeperd", [binary, "-c", conf], tmp, port, log)
		try:
			t0 = time.monotonic()
			h.wait_for("ready", lambda: "ready:" in srv.log_text() or not srv.alive(), timeout=1800, step=0.2)
			if not srv.alive():
				raise SystemExit("gatekeeperd exited: " + srv.log_text()[-2000:])
			print("%d zones loaded in %.1f s" % (n, time.monotonic() - t0))
			c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
			c.connect(sock)
			buf, lat = b"", []
			t_start = time.monotonic()
			for i in range(m):
				name = "c%d.control.cn" % (i // 2)
				req = "zone add %s %s\n" % (name, zf) if i % 2 == 0 else "zone remove %s\n" % name
				t = time.monotonic()
				c.sendall(req.encode())
				while b"\n.\n" not in buf:
					buf += c.recv(65536)
				ans, buf = buf.split(b"\n.\n", 1)
				lat.append(time.monotonic() - t)
				if not ans.startswith(b"ok"):
					raise SystemExit("%s: %s" % (req.strip(), ans.decode()))
			el = time.monotonic() - t_start
			c.close()
			print("%d updates (add/remove in turn) in %.2f s: %.0f updates/s; command p50 %.2f ms "
			      "p99 %.2f ms max %.2f ms" % (m, el, m / el, 1e3 * pct(lat, 50), 1e3 * pct(lat, 99),
							   1e3 * max(lat)))
			for k, op in enumerate(("add", "remove")):
				xs = lat[k::2]
				print("  %s: p50 %.2f ms p99 %.2f ms max %.2f ms" % (op, 1e3 * pct(xs, 50), 1e3 * pct(xs, 99),
									 1e3 * max(xs)))
		finally:
			srv.stop()
	return 0


if __name__ == "__main__":
	sys.exit(main(sys.argv))
