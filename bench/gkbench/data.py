# SPDX-License-Identifier: MIT
# bench/gkbench/data.py -- generated data shared by the scenarios (zones, queries, signed feeds, policy lists, the CDB).
import os
import time

import gen  # bench/gen.py (gkbench/__init__.py puts bench/ on sys.path)
import feedgen  # bench/feedgen.py

from .common import log
from .targets import gk_sync


class Env:
	"""Binaries, generated data and sizes shared by the scenarios."""

	def __init__(self, a, data):
		self.a, self.data = a, data
		self.feeds = os.path.join(data, "feeds")
		os.makedirs(self.feeds, exist_ok=True)

	def keys(self):
		priv, pub = os.path.join(self.feeds, "bench.pem"), os.path.join(self.feeds, "bench.pub")
		if not (os.path.exists(priv) and os.path.exists(pub)):
			gk_sync(self.a.gk_sync, ["keygen", "--force", priv, pub])
		return priv, pub

	def tag(self, n):
		return "z%d-n%d-s%d-v%d" % (self.a.zones, n, self.a.seed, gen.GEN_VERSION)

	def snapshot(self, n):
		"""Signed snapshot feed (serial 10) of the status set of n domains; cached."""
		path = os.path.join(self.feeds, "snap-%s.jsonl" % self.tag(n))
		if not os.path.exists(path + ".sig"):
			t0 = time.monotonic()
			gen.write_snapshot(self.manifest, n, path, self.a.seed, 10)
			gk_sync(self.a.gk_sync, ["sign", "--key", self.keys()[0], path])
			log("feed: %s (%d domains) written and signed in %.1f s" % (path, n, time.monotonic() - t0))
		return path

	def storm(self, n, changes):
		"""Signed delta (serial 11 on 10) revoking `changes` domains of the n-domain snapshot."""
		path = os.path.join(self.feeds, "storm-%s-c%d.jsonl" % (self.tag(n), changes))
		doms, probe = gen.storm_changes(self.manifest, n, changes, self.a.seed)
		if not os.path.exists(path + ".sig"):
			gen.write_delta(doms, path, 11, 10)
			gk_sync(self.a.gk_sync, ["sign", "--key", self.keys()[0], path])
		return path, probe, len(doms)

	def records_feeds(self, n, changes):
		"""Signed registry feeds with full records (bench/feedgen.py: licence, sponsor, nature,
		provider, update time, site name, home page, IPs): a snapshot of n domains (serial 10)
		and a delta of `changes` on top of it (serial 11: 30% new, 40% status flips and record
		edits, 30% removals). Cached."""
		tag = "n%d-s%d" % (n, self.a.seed)
		snap = os.path.join(self.feeds, "records-snap-%s.jsonl" % tag)
		delta = os.path.join(self.feeds, "records-delta-%s-c%d.jsonl" % (tag, changes))
		for path, kw in ((snap, {}), (delta, {"delta": changes, "base": 10})):
			if not os.path.exists(path + ".sig"):
				t0 = time.monotonic()
				feedgen.write(path + ".tmp", n, self.a.seed, 11 if kw else 10, **kw)
				os.replace(path + ".tmp", path)
				gk_sync(self.a.gk_sync, ["sign", "--key", self.keys()[0], path])
				log("feed: %s written and signed in %.1f s" % (path, time.monotonic() - t0))
		return snap, delta

	def operator_keys(self):
		"""The operator's Ed25519 key pair for gkctl policy push (same PEM forms as gk-sync's)."""
		priv, pub = os.path.join(self.feeds, "operator.pem"), os.path.join(self.feeds, "operator.pub")
		if not (os.path.exists(priv) and os.path.exists(pub)):
			gk_sync(self.a.gk_sync, ["keygen", "--force", priv, pub])
		return priv, pub

	def filed_list(self, n):
		path = os.path.join(self.feeds, "filed-%s.txt" % self.tag(n))
		if not os.path.exists(path):
			gen.write_filed_list(self.manifest, n, path, self.a.seed)
		return path

	def dnsdist_data(self, n):
		return self.filed_list(n) if self.a.dnsdist_mode == "smn" else self.cdb(n)

	def cdb(self, n):
		path = os.path.join(self.feeds, "status-%s.cdb" % self.tag(n))
		if not os.path.exists(path):
			t0 = time.monotonic()
			gen.write_status_cdb(self.manifest, n, path, self.a.seed)
			log("cdb: %s written in %.1f s" % (path, time.monotonic() - t0))
		return path

	def apply(self, redis, feed):
		secs, out = gk_sync(self.a.gk_sync, ["apply", "--redis", "127.0.0.1:%d" % redis.port, "--pubkey",
						     self.keys()[1], "--no-records", feed])
		log("gk-sync: %s (%.1f s wall)" % (out, secs))
		return secs, out
