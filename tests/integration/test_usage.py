# SPDX-License-Identifier: MIT
# tests/integration/test_usage.py -- --help lists every option a program accepts; --version.
#
# For each program the options it accepts are read from its sources: the long names of every
# getopt_long `struct option` table and the letters of every optstring, in src/bin/PROG/main.c
# (and for gkctl the report command's parser, src/ctl/report.c). `PROG --help` must exit 0
# and name each of them (--NAME, -L). `PROG --version` must print "PROG VERSION" with the
# project's version from CMakeLists.txt and exit 0. An option added to a program and left
# out of its help fails here; so does a configuration key of docs/CONFIG.md that
# gatekeeperd.conf(5) (man/gatekeeperd.conf.5.scd) does not describe.
import os
import re
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gkharness as h  # noqa: E402

SOURCES = {
	"gatekeeperd": ["src/bin/gatekeeperd/main.c"],
	"gk-sync": ["src/bin/gk-sync/main.c"],
	"gkctl": ["src/bin/gkctl/main.c", "src/ctl/report.c"],
}


def accepted(paths):
	longs, shorts = set(), set()
	for p in paths:
		with open(os.path.join(h.SRC, p)) as f:
			text = f.read()
		longs |= set(re.findall(r'\{"([A-Za-z0-9-]+)",\s*(?:no|required|optional)_argument', text))
		for optstring in re.findall(r'getopt_long\([^,]+,[^,]+,\s*"([^"]*)"', text):
			shorts |= set(c for c in optstring if c.isalnum())
	return longs, shorts


def project_version():
	with open(os.path.join(h.SRC, "CMakeLists.txt")) as f:
		return re.search(r"project\(gatekeeper VERSION ([0-9.]+)", f.read()).group(1)


def config_keys_in_man():
	"""Every key of docs/CONFIG.md's table is in gatekeeperd.conf(5) (as *key*, or *last part*
	in its section's text)."""
	with open(os.path.join(h.SRC, "docs", "CONFIG.md")) as f:
		keys = re.findall(r"^\| `([a-z_.]+)` \|", f.read(), re.M)
	with open(os.path.join(h.SRC, "man", "gatekeeperd.conf.5.scd")) as f:
		man = f.read()
	assert len(keys) > 40, keys
	missing = [k for k in keys if "*%s*" % k not in man and "*%s*" % k.split(".")[-1] not in man]
	assert not missing, "gatekeeperd.conf(5) does not describe %s" % ", ".join(missing)
	h.log("gatekeeperd.conf(5): all %d keys of docs/CONFIG.md" % len(keys))


def main(binaries):
	config_keys_in_man()
	version = project_version()
	for path in binaries:
		prog = os.path.basename(path)
		longs, shorts = accepted(SOURCES[prog])
		assert "help" in longs and "version" in longs, (prog, sorted(longs))
		r = subprocess.run([path, "--help"], capture_output=True, text=True, timeout=10)
		assert r.returncode == 0, (prog, r.returncode, r.stderr)
		text = r.stdout
		missing = sorted("--" + o for o in longs if not re.search(r"--%s\b" % re.escape(o), text))
		missing += sorted("-" + c for c in shorts if not re.search(r"(^|[\s\[|,])-%s\b" % c, text))
		assert not missing, "%s --help does not list %s:\n%s" % (prog, ", ".join(missing), text)
		r = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10)
		assert r.returncode == 0 and r.stdout.strip() == "%s %s" % (prog, version), \
			(prog, r.returncode, r.stdout, r.stderr)
		if "V" in shorts:
			r = subprocess.run([path, "-V"], capture_output=True, text=True, timeout=10)
			assert r.stdout.strip() == "%s %s" % (prog, version), (prog, r.stdout)
		h.log("%s: %d long and %d short options, all in --help; version %s" %
		      (prog, len(longs), len(shorts), version))
	h.log("test_usage: ok")


if __name__ == "__main__":
	main(sys.argv[1:])
