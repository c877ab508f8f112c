# SPDX-License-Identifier: MIT
# bench/gkbench/build.py -- the build and the code the figures come from (git).
import os
import subprocess

from .common import ROOT


def export_head(work):
	"""A clean copy of HEAD's tree (git archive) under WORK/src-HEAD, so the figures come from
	committed code even while others edit the shared working tree. Returns (dir, hash)."""
	h = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], stdout=subprocess.PIPE, text=True,
			   check=True).stdout.strip()
	d = os.path.join(work, "src-HEAD")
	stamp = os.path.join(d, ".gk-head")
	if not (os.path.exists(stamp) and open(stamp).read() == h):
		if os.path.isdir(d):
			subprocess.run(["rm", "-rf", "--one-file-system", d], check=True)
		os.makedirs(d)
		arc = subprocess.Popen(["git", "-C", ROOT, "archive", "HEAD"], stdout=subprocess.PIPE)
		subprocess.run(["tar", "-x", "-C", d], stdin=arc.stdout, check=True)
		if arc.wait():
			raise RuntimeError("git archive failed")
		with open(stamp, "w") as f:
			f.write(h)
	return d, h


def git_head(clean=None):
	"""HEAD, and whether the sources the binary is built from differ from it."""
	if clean:
		subj = subprocess.run(["git", "-C", ROOT, "log", "-1", "--format=%s", clean], stdout=subprocess.PIPE,
				      stderr=subprocess.DEVNULL, text=True).stdout.strip()
		return "`%s %s` (built from a clean export of HEAD: `git archive`, uncommitted changes excluded)" % (clean, subj)
	def git(*args):
		return subprocess.run(["git", "-C", ROOT] + list(args), stdout=subprocess.PIPE,
				      stderr=subprocess.DEVNULL, text=True).stdout
	try:
		h = "`%s`" % (git("log", "-1", "--format=%h %s").strip() or "?")
		n = len([x for x in git("status", "--porcelain", "--", "src", "include", "CMakeLists.txt")
			 .splitlines() if x.strip()])
	except OSError:
		return "?"
	return h + (" plus %d uncommitted change(s) under src/, include/, CMakeLists.txt" % n if n else "")


def ensure_build(build, src=ROOT):
	if not os.path.isdir(build):
		# GCC 12 at -O3 reports maybe-uninitialized false positives that -Werror turns into a
		# failed build; the bench keeps them visible as warnings (no effect on the code).
		subprocess.run(["cmake", "-S", src, "-B", build, "-DCMAKE_BUILD_TYPE=Release",
				"-DCMAKE_C_FLAGS=-Wno-error=maybe-uninitialized"], check=True)
	# Incremental: a no-op when fresh, and it keeps a stale binary out of the figures.
	subprocess.run(["cmake", "--build", build, "-j2", "--target", "gatekeeperd", "gk-sync", "gkload", "refuser",
			"polc"], check=True)
	out = {"gatekeeperd": os.path.join(build, "gatekeeperd"), "gk_sync": os.path.join(build, "gk-sync"),
	       "gkload": os.path.join(build, "bench", "gkload"), "refuser": os.path.join(build, "bench", "refuser"),
	       "polc": os.path.join(build, "bench", "polc")}
	if os.path.isdir(os.path.join(src, "src", "bin", "gkctl")):  # the policy scenario's push
		subprocess.run(["cmake", "--build", build, "-j2", "--target", "gkctl"], check=True)
		out["gkctl"] = os.path.join(build, "gkctl")
	return out
