# SPDX-License-Identifier: MIT
# bench/gkbench/scenarios/sync.py -- the sync scenario.
import os
import time

from ..common import ALL_CORES, ROOT, log
from ..load import children_cpu
from ..procs import cpu_seconds, machine_busy_seconds, tree
from ..rounds import quiet
from ..targets import Redis, gk_sync


def key_bytes(redis, pattern):
	"""(sum of MEMORY USAGE ... SAMPLES 0, number of keys, keys not listpack-encoded) over the
	keys matching pattern."""
	total, n, big = 0, 0, 0
	keys = list(redis.c.scan_iter(match=pattern, count=10000))
	for i in range(0, len(keys), 4096):
		pipe = redis.c.pipeline(transaction=False)
		for k in keys[i:i + 4096]:
			pipe.memory_usage(k, samples=0)
			pipe.object("encoding", k)
		r = pipe.execute()
		total += sum(x or 0 for x in r[0::2])
		big += sum(1 for e in r[1::2] if e not in ("listpack", "ziplist"))
		n += len(r) // 2
	return total, n, big


def sync_apply(env, redis, feed, extra, others):
	"""One timed gk-sync apply on both cores (no server is under test here). Returns a dict:
	wall s, gk-sync's own summary line, its CPU s, and the rest of the machine's busy time
	(other work on the shared box) as % of a core."""
	quiet(env)
	pids = [p for r in others for p in tree(r.proc.proc.pid)]
	b0, r0, c0 = machine_busy_seconds(), cpu_seconds(pids), children_cpu()
	t0 = time.monotonic()
	secs, out = gk_sync(env.a.gk_sync, ["apply", "--redis", "127.0.0.1:%d" % redis.port, "--pubkey",
					    env.keys()[1]] + extra + [feed], core=ALL_CORES)
	wall = time.monotonic() - t0
	cpu, rcpu = children_cpu() - c0, cpu_seconds(pids) - r0
	other = machine_busy_seconds() - b0 - cpu - rcpu
	log("gk-sync %s %s: %.1f s wall, gk-sync CPU %.1f s, redis CPU %.1f s, other %.0f%%: %s" % (
		os.path.basename(feed), " ".join(extra), secs, cpu, rcpu, 100.0 * max(0, other) / wall, out))
	return {"s": secs, "out": out, "cpu_s": cpu, "redis_cpu_s": rcpu, "other_pct": 100.0 * max(0.0, other) / wall}


def sync_scenario(env):
	"""issue 3's gk-sync figures at registry scale, on a feed with full records: snapshot
	apply (status only, and status + records into a separate records instance), a delta on
	top, Redis bytes per domain of the status set and of the record buckets."""
	a = env.a
	n, changes = a.status_10m, a.storm_changes
	snap, delta = env.records_feeds(n, changes)
	st = Redis(a.work, "redis-sync", core=ALL_CORES).start()
	rec = Redis(a.work, "redis-sync-rec", core=ALL_CORES).start()
	both = [st, rec]
	res = {"n": n, "changes": changes, "snap_bytes": os.path.getsize(snap), "delta_bytes": os.path.getsize(delta),
	       "snap": os.path.relpath(snap, ROOT), "delta": os.path.relpath(delta, ROOT)}
	try:
		# The feed as it is when gk-sync gets it in practice: just written, in the page cache.
		# (Read cold from disk, the first apply paid ~25 s of I/O here: kernel time in "other".)
		t0 = time.monotonic()
		for path in (snap, delta):
			with open(path, "rb", buffering=0) as f:
				while f.read(1 << 24):
					pass
		res["warm_s"] = time.monotonic() - t0
		# 1. status only (--no-records): the replicated instance as gatekeeperd needs it
		m0 = st.used_memory()
		res["snap_norec"] = sync_apply(env, st, snap, ["--no-records"], both)
		m1 = st.used_memory()
		res["stream_bytes"] = st.c.memory_usage("gk:changes", samples=0) or 0
		res["stream_len"] = st.c.xlen("gk:changes")
		st.c.delete("gk:changes")
		m2 = st.used_memory()
		res["status_stream_b"] = (m1 - m0) / n
		res["status_b"] = (m2 - m0) / n
		res["st_keys_bytes"], res["st_keys"], res["st_big"] = key_bytes(st, "gk:st:*")
		res["delta_norec"] = sync_apply(env, st, delta, ["--no-records"], both)
		# 2. with records, into their own instance (docs/FEED.md: records stay off the replicas)
		st.c.flushall()
		s0, r0 = st.used_memory(), rec.used_memory()
		res["snap_rec"] = sync_apply(env, st, snap, ["--records-redis", "127.0.0.1:%d" % rec.port], both)
		res["rec_b"] = (rec.used_memory() - r0) / n
		res["rec_status_stream_b"] = (st.used_memory() - s0) / n
		res["rec_keys_bytes"], res["rec_keys"], res["rec_big"] = key_bytes(rec, "gk:rec:*")
		res["delta_rec"] = sync_apply(env, st, delta, ["--records-redis", "127.0.0.1:%d" % rec.port], both)
	finally:
		st.stop()
		rec.stop()
	log("sync %d: snapshot %.1f s (status only) / %.1f s (+records); delta %d: %.2f s / %.2f s; status set %.1f B/domain "
	    "(+stream %.1f), records %.1f B/domain" % (
		    n, res["snap_norec"]["s"], res["snap_rec"]["s"], changes, res["delta_norec"]["s"], res["delta_rec"]["s"],
		    res["status_b"], res["status_stream_b"], res["rec_b"]))
	return res
