/* SPDX-License-Identifier: MIT */
/* src/status/status.h -- the filing-status replica every gatekeeperd holds.
 *
 * A complete local copy of the Redis status set (include/gk/filing_status.h), kept current
 * by the status loop: its own thread and libuv loop, one Redis session (src/redis/session.h).
 * At start it loads every bucket, then tails the change stream from the last entry it
 * applied; on reconnect it resumes from that entry; if that entry was trimmed away it
 * reloads fully beside the live table and swaps. It writes the instance heartbeat.
 *
 * Freshness: the age of the replica counts from the last REPLY Redis sent (a connect that
 * a frozen server's kernel accepts is not contact); a PING every GK_HEARTBEAT_MS on the
 * command connection keeps it current while the tail blocks. Past stale_after_ms the
 * replica is "stale": it keeps answering from the last-known-good table and says so (log,
 * metric, heartbeat state). Only past max_age_ms, when configured, does it stop answering
 * (GK_FS_UNKNOWN, the `unknown` action).
 *
 * Divergence: the replica never follows a store that went backwards. When Redis holds a
 * gk:serial below the serial applied here (or a stream entry of an older feed appears), the
 * replica is "diverged": it keeps the last-known-good table, applies nothing more, says so
 * (log, metric, heartbeat state "diverged"), polls gk:serial and reloads the whole set once
 * the store holds a serial >= the one applied (docs/STATUS.md "Divergence").
 *
 * Threads: the status loop is the single writer. Workers read with gk_status_get(), which
 * is lock-free and wait-free and never blocks the writer; a worker must call it between two
 * of its quiescent points (common/snapshot.h), because retired table memory is freed only
 * after every worker has passed one.
 *
 * Keys are registrable domains as lowercase uncompressed wire names ("\3foo\3com\2cn\0").
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"
#include "gk/filing_status.h"

typedef struct gk_status gk_status_t;

/* Beyond gk_fs_status_t: the replica cannot answer. */
#define GK_FS_STARTING (-2) /* no full load has completed yet */
#define GK_FS_UNKNOWN  (-1) /* no Redis reply for longer than max_age_ms (the hard bound) */
/* One name a state: "stale" is the replica's soft flag (past stale_after_ms, still
 * enforcing); "expired" the replica past the hard bound (gatekeeper_status_expired), where
 * every lookup's filing status is "unknown" (GK_FS_UNKNOWN: the policy's and config's
 * `unknown` action, the decision reason and discovery reason `unknown`). The decisions
 * metric and dnstap keep their older label for that status, `stale` (dashboards). */

typedef struct gk_status_conf {
	const char *redis_host; /* IPv4/IPv6 literal or host name; NULL with redis_unix */
	uint16_t redis_port;
	const char *redis_unix;                 /* unix socket path, or NULL */
	const char *instance_id;                /* heartbeat id; NULL: "hostname:pid" */
	const struct gk_redis_auth *redis_auth; /* AUTH credentials (copied); NULL: no AUTH */
	/* Sentinel discovery of the server to read (copied): with n > 0 every (re)connect asks
	 * the sentinels (src/redis) and redis_host/redis_unix are not used; NULL: none */
	const struct gk_redis_sentinel *redis_sentinel;
	/* Where the heartbeat is written (copied): the primary, when the server read is a
	 * read-only replica (redis.primary); NULL: on the reading connection */
	const struct gk_redis_target *heartbeat_to;
	unsigned connect_timeout_ms;
	unsigned reconnect_max_ms; /* backoff cap */
	/* without a Redis reply for this long the replica is flagged stale (log, metric,
	 * heartbeat) but keeps answering from last-known-good; 0: 30000 */
	unsigned stale_after_ms;
	/* hard bound: without a reply for this long lookups answer GK_FS_UNKNOWN; 0: none */
	unsigned max_age_ms;
	const char *version; /* reported in the heartbeat */
	/* Called on the status thread whenever it has retired table memory, so that whoever
	 * takes it (gk_status_retired_take) need not poll; NULL: nobody is told. It must be
	 * cheap (say, a uv_async_send) and must not call into the replica. */
	void (*retired)(void *ctx);
	void *retired_ctx;
	/* The change stream is read here only, once per daemon. Called on the status thread
	 * for each policy entry of the stream (k=pol, include/gk/policy_store.h) and after each
	 * full load or resume (entries may have gone by while the tail was down), so that the
	 * policy follower re-reads gk:pol:current (gk_polsync_notify); NULL: nobody. It must
	 * be cheap (a uv_async_send) and must not call into the replica. */
	void (*policy_changed)(void *ctx);
	void *policy_ctx;
} gk_status_conf_t;

/* Status of the registrable domain name (lowercase wire name of len octets; hash is
 * gk_namehash(name, len)): GK_FS_FILED, GK_FS_REVOKED, GK_FS_UNFILED, or GK_FS_STARTING /
 * GK_FS_UNKNOWN. If value is not NULL it receives the stored packed value (0 if absent).
 * Any worker thread; no lock, no allocation, no syscall. */
int gk_status_get(const gk_status_t *st, const uint8_t *name, size_t len, uint64_t hash,
                  uint32_t *value);

/* gk_status_get without the value, for a name asked again and again (a served zone's
 * registrable domain): *memo (0 at first; one word per name, kept by the caller) remembers
 * the last result with the table generation it was read at, and answers while no change
 * has been made to the table since -- one shared load instead of a lookup. Readers may
 * share a memo; a racing store leaves a result that is either current or tagged stale. */
int gk_status_get_memo(const gk_status_t *st, const uint8_t *name, size_t len, uint64_t hash,
                       _Atomic uint64_t *memo);

/* Create the replica (no thread, no connection yet). conf strings are copied. */
GK_MUST_CHECK int gk_status_create(const gk_status_conf_t *conf, gk_status_t **out);

/* Start the status thread: connect, load, tail, heartbeat. Returns at once. */
GK_MUST_CHECK int gk_status_start(gk_status_t *st);

/* Stop the thread (closes connections, removes nothing from Redis) and join it. */
void gk_status_stop(gk_status_t *st);

/* Free a stopped (or never started) replica. NULL is ignored. */
void gk_status_free(gk_status_t *st);

/* Observable state, for logs, the heartbeat and metrics. Any thread (values may be a
 * moment old). */
typedef struct gk_status_info {
	size_t table_size;       /* domains in the live table */
	uint64_t serial;         /* registry serial of the last completed feed seen */
	char stream_id[48];      /* last change-stream entry applied */
	bool ready;              /* a full load has completed */
	bool connected;          /* Redis connection up */
	uint64_t reconnects;     /* since start */
	uint64_t full_loads;     /* since start (1 + reloads after a trimmed stream) */
	int64_t last_contact_ms; /* unix ms of the last Redis reply (0: none yet) */
	bool stale;              /* no reply for stale_after_ms: still answering, flagged */
	bool expired;            /* no reply for max_age_ms: lookups answer GK_FS_UNKNOWN */
	bool diverged;           /* the store holds an older serial than the one applied */
	uint64_t store_serial;   /* gk:serial last read from the store (0: absent) */
} gk_status_info_t;
void gk_status_info(const gk_status_t *st, gk_status_info_t *info);

/* Single-writer updates without Redis, for tests, benchmarks and tools: set (value != 0,
 * a gk_fs_pack() value) or remove (value == 0) one domain given in presentation form
 * ("foo.com.cn"); gk_status_set_ready marks the first full load done. Only from one
 * thread at a time, and never while the status thread runs. */
GK_MUST_CHECK int gk_status_put(gk_status_t *st, const char *domain, uint32_t value);
void gk_status_set_ready(gk_status_t *st);

/* The operator policy in force, reported in the heartbeat (include/gk/policy_store.h
 * "Heartbeat fields"): version (0: none, written as "") and state (off | file | waiting |
 * ok | rejected | disconnected; copied, at most 15 bytes). set_policy_error records the
 * newest rejected version and why ("<version>: <why>" in policy_error; version 0 and why
 * NULL clear it). Any thread; the next heartbeat (within GK_HEARTBEAT_MS) carries them. */
void gk_status_set_policy(gk_status_t *st, uint64_t version, const char *state);
void gk_status_set_policy_error(gk_status_t *st, uint64_t version, const char *why);

/* Retired table memory. The status thread never frees table memory a reader might hold:
 * it retires it, and the owner of the readers' quiescent points (the daemon's main loop)
 * takes the batch with gk_status_retired_take() and frees it with gk_status_retired_free()
 * once every reader has passed a quiescent point after the take (e.g. by attaching it to
 * a view it retires through common/snapshot). take returns NULL when nothing is pending.
 * Any one thread; memory never taken is freed by gk_status_free(). */
typedef struct gk_status_retired gk_status_retired_t;
gk_status_retired_t *gk_status_retired_take(gk_status_t *st);
void gk_status_retired_free(gk_status_retired_t *r);

/* Resident bytes of the live table (slots, tags and names), for benchmarks and logs.
 * Writer thread, or any thread while the status thread is stopped. */
size_t gk_status_table_bytes(const gk_status_t *st);
