#!/usr/bin/python3
# SPDX-License-Identifier: MIT
# tests/integration/test_check.py -- `gatekeeperd --check -c CONFIG` on good and bad input.
#
# Every zone in tests/fixtures/zones/bad/ must be rejected (exit 1) with a message naming
# the right file and line; a good config exits 0; bad config values exit 1 and name the
# config file and line. Usage: test_check.py GATEKEEPERD
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

# bad zone file -> (file named in the message, acceptable lines). Where a fault has no single
# line, both defensible lines are listed (NSD's nsd-checkzone reports the one given first
# where it detects the fault at all; NSD accepts no-ns.zone, RFC 1034 s4.2.1 requires NS).
BAD_ZONES = {
	"syntax.zone": ("syntax.zone", {9}),                # bad IPv4 address
	"include-parent.zone": ("include-child.inc", {5}),  # unknown type inside the include
	"missing-soa.zone": ("missing-soa.zone", {7, 5}),   # EOF (as NSD) or the first record
	"no-ns.zone": ("no-ns.zone", {5}),                  # the SOA line, i.e. the apex
	"out-of-zone.zone": ("out-of-zone.zone", {8}),
	"cname-other.zone": ("cname-other.zone", {9, 8}),   # the second of the pair (NSD) or the CNAME
	"two-soa.zone": ("two-soa.zone", {8}),
	"missing-include.zone": ("missing-include.zone", {8}),
	"long-name.zone": ("long-name.zone", {9}),           # a name over 255 octets with $ORIGIN
}


def run_check(binary, conf, timeout=20):
	p = subprocess.run([binary, "--check", "-c", conf], capture_output=True, text=True, timeout=timeout)
	return p.returncode, p.stdout + p.stderr


def names_line(out, fname, lines):
	for m in re.finditer(r"(?:^|[\s/'\"(])" + re.escape(fname) + r":(\d+)\b", out, re.M):
		if int(m.group(1)) in lines:
			return True
	return False


def write_conf(tmp, name, body):
	p = os.path.join(tmp, name)
	with open(p, "w") as f:
		f.write(body)
	return p


def main(argv):
	binary = argv[1]
	fails = []

	def expect(desc, ok, detail):
		h.log("%s %s" % ("ok  " if ok else "FAIL", desc))
		if not ok:
			h.log("     " + detail.replace("\n", "\n     "))
			fails.append(desc)

	with h.TempDir("gk-check-") as tmp:
		port = h.free_port()
		# 1. the good fixture config
		good = h.gk_config(tmp, port, name="good.yaml")
		rc, out = run_check(binary, good)
		expect("good config (fixture zones) exits 0", rc == 0, "rc=%d output:\n%s" % (rc, out))

		# 1b. the README sample zones (zones/): accepted by us and by NSD
		samples = [("example.cn", "example.cn.zone"), ("shop.com.cn", "shop.com.cn.zone")]
		sdir = os.path.join(h.SRC, "zones")
		conf = h.gk_config(tmp, port, zonedir=sdir, zones=samples, name="samples.yaml")
		rc, out = run_check(binary, conf)
		expect("README sample zones (zones/*.zone) exit 0", rc == 0, "rc=%d output:\n%s" % (rc, out))
		checkzone = shutil.which("nsd-checkzone") or "/usr/sbin/nsd-checkzone"
		expect("nsd-checkzone present (Debian package nsd; scripts/deps.sh installs it)",
		       os.access(checkzone, os.X_OK), checkzone)
		if os.access(checkzone, os.X_OK):
			for z, f in samples:
				p = subprocess.run([checkzone, z, os.path.join(sdir, f)], capture_output=True, text=True)
				expect("README sample %s accepted by nsd-checkzone" % f, p.returncode == 0, p.stdout + p.stderr)

		# 2. relative zone paths resolve against the config's directory
		rel = os.path.join(tmp, "rel")
		os.mkdir(rel)
		h.copy_zones(rel)
		conf = write_conf(rel, "rel.yaml", "listen: [\"127.0.0.1:%d\"]\nzones:\n"
				  "  - name: example.cn\n    file: example.cn.zone\n"
				  "  - name: dname.cn\n    file: ./dname.cn.zone\n" % port)
		rc, out = run_check(binary, conf)
		expect("relative zone paths (config dir) exit 0", rc == 0, "rc=%d output:\n%s" % (rc, out))

		# 3. every bad zone
		for zf, (fname, lines) in sorted(BAD_ZONES.items()):
			conf = write_conf(tmp, "bad-%s.yaml" % zf, "listen: [\"127.0.0.1:%d\"]\nzones:\n"
					  "  - name: example.cn\n    file: %s\n" % (port, os.path.join(h.BADDIR, zf)))
			rc, out = run_check(binary, conf)
			want = " or ".join("%s:%d" % (fname, l) for l in sorted(lines))
			expect("bad zone %s: exit 1, names %s" % (zf, want),
			       rc == 1 and names_line(out, fname, lines), "rc=%d output:\n%s" % (rc, out.strip()))

		# 4. bad config values: message names the config file and line
		zline = "zones:\n  - name: example.cn\n    file: %s\n" % os.path.join(h.ZONEDIR, "example.cn.zone")
		bad_confs = [
			("unknown key", "unknown-key.yaml",
			 "listen: [\"127.0.0.1:%d\"]\nworkers: 1\nno_such_key: 3\n%s" % (port, zline), {3}),
			("bad port 99999", "bad-port.yaml",
			 "workers: 1\nlisten: [\"127.0.0.1:99999\"]\n%s" % zline, {2}),
			("non-numeric port", "bad-port2.yaml",
			 "workers: 1\nlog_level: info\nlisten: [\"127.0.0.1:dns\"]\n%s" % zline, {3}),
			("bad address", "bad-addr.yaml",
			 "listen: [\"127.0.0.300:53\"]\n%s" % zline, {1}),
			("workers not a number", "bad-workers.yaml",
			 "listen: [\"127.0.0.1:%d\"]\nworkers: many\n%s" % (port, zline), {2}),
			("edns_udp_max below 512", "bad-edns.yaml",
			 "listen: [\"127.0.0.1:%d\"]\nedns_udp_max: 100\n%s" % (port, zline), {2}),
			("unknown tcp key", "bad-tcp.yaml",
			 "listen: [\"127.0.0.1:%d\"]\ntcp:\n  max_connections: 10\n  idle_timout_ms: 5\n%s" % (port, zline), {4}),
			("unknown zone key", "bad-zonekey.yaml",
			 "listen: [\"127.0.0.1:%d\"]\nzones:\n  - name: example.cn\n    fiel: x.zone\n" % port, {4}),
			("pool that does not exist", "bad-pool.yaml",
			 "listen: [\"127.0.0.1:%d\"]\nzones:\n  - {name: b.cn, forward: nope}\n" % port, {3}),
			("forwarded zone name that is no domain name", "forward-name.yaml",
			 "listen: [\"127.0.0.1:%d\"]\n%s  - {name: b..cn, forward: reg}\n"
			 "pools:\n  - {name: reg, backends: [\"127.0.0.1:53\"]}\n" % (port, zline), {5}),
			("YAML syntax error", "bad-yaml.yaml",
			 "listen: [\"127.0.0.1:%d\"\nworkers: 1\n%s" % (port, zline), {1, 2}),
		]
		for desc, fn, body, lines in bad_confs:
			conf = write_conf(tmp, fn, body)
			rc, out = run_check(binary, conf)
			want = " or ".join("%s:%d" % (fn, l) for l in sorted(lines))
			expect("bad config (%s): exit 1, names %s" % (desc, want),
			       rc == 1 and names_line(out, fn, lines), "rc=%d output:\n%s" % (rc, out.strip()))

		# 4b. a forwarded zone (front-end mode) is a valid config: counted in the summary
		conf = write_conf(tmp, "forward.yaml", "listen: [\"127.0.0.1:%d\"]\n%s  - {name: b.cn, forward: reg}\n"
				  "pools:\n  - {name: reg, backends: [\"127.0.0.1:53\"]}\n" % (port, zline))
		rc, out = run_check(binary, conf)
		expect("forwarded zone: exit 0, 1 forwarded", rc == 0 and "1 forwarded zones" in out,
		       "rc=%d output:\n%s" % (rc, out.strip()))

		# 5. a zone file that does not exist: exit 1, names the config line or the file
		conf = write_conf(tmp, "nofile.yaml", "listen: [\"127.0.0.1:%d\"]\nzones:\n"
				  "  - name: example.cn\n    file: %s\n" % (port, os.path.join(tmp, "absent.zone")))
		rc, out = run_check(binary, conf)
		expect("missing zone file: exit 1, names absent.zone", rc == 1 and "absent.zone" in out,
		       "rc=%d output:\n%s" % (rc, out.strip()))

		# 5b. a zone file that is a FIFO, a directory or a device: rejected at once, naming it
		# (a FIFO used to make --check wait for a writer forever)
		fifo = os.path.join(tmp, "fifo.zone")
		os.mkfifo(fifo)
		for what, path in (("a FIFO", fifo), ("a directory", tmp), ("a device", "/dev/zero")):
			conf = write_conf(tmp, "notreg.yaml", "listen: [\"127.0.0.1:%d\"]\nzones:\n"
					  "  - name: example.cn\n    file: %s\n" % (port, path))
			try:
				rc, out = run_check(binary, conf, timeout=10)
			except subprocess.TimeoutExpired:
				rc, out = -1, "timed out"
			expect("zone file that is %s: exit 1, 'not a regular file'" % what,
			       rc == 1 and "not a regular file" in out and path in out,
			       "rc=%d output:\n%s" % (rc, out.strip()))

		# 6. --check must not start serving: nothing listens on the port afterwards
		expect("--check did not leave a server behind", h._port_free(port), "port %d busy" % port)

	h.log("\n%d failures" % len(fails))
	return 1 if fails else 0


if __name__ == "__main__":
	if len(sys.argv) != 2:
		sys.exit("usage: test_check.py GATEKEEPERD")
	sys.exit(main(sys.argv))
