/* SPDX-License-Identifier: MIT */
/* src/obs/discovery.h -- discovery: refusals counted per registrable domain and reason,
 * merged once per flush interval and written to Redis (include/gk/discovery.h).
 *
 * Each worker counts into its own bounded table (gk_disc_table_t): open addressing over a
 * fixed number of entries and a fixed name arena, all allocated at start. A query for
 * x.y.example.cn counts under example.cn, so random subdomains of one domain collapse into
 * one entry; when the table is full a refusal is still counted in the totals, and per
 * reason as overflow, but not per domain. Nothing on the worker's path allocates, locks,
 * blocks or calls into Redis.
 *
 * Handoff: each worker has an active table, published as an atomic pointer, and a busy
 * flag it raises around each count (one sequentially consistent store, i.e. one fence, per
 * query). Once per flush interval the merger thread exchanges the active table for an
 * empty spare and waits until it sees the flag down once; from then on the worker can only
 * be writing into the new table (the exchange and the flag are both sequentially
 * consistent: either the worker's raise precedes the merger's read, and the merger waits
 * for the lowering, or the worker's pointer load follows the exchange). The merger then
 * folds the old table into its pending table (bounded: 4 x table_size entries; what does
 * not fit is dropped and counted) and, when Redis is connected and no write is in flight,
 * writes the backlog in one MULTI/EXEC pipeline (it becomes the batch in flight and the
 * backlog starts empty). A batch is kept until Redis confirms it; after a lost connection it
 * is re-sent with the same write id, which makes the write exactly once (include/gk/
 * discovery.h). While Redis is unreachable, counts accumulate in the backlog and workers
 * never notice.
 *
 * The merger runs on its own thread with its own libuv loop and one Redis session
 * (src/redis/session.h: AUTH, timeouts, reconnects with backoff, Sentinel).
 *
 * Source: disc_table.c (the table), disc_merge.c (hand-off and merge), disc_writer.c (the
 * Redis writer), discovery.c (the service and its thread); src/obs/internal.h joins them.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/discovery.h"
#include "gk/errors.h"
#include "pkt/process.h"

/* ---- the counting table (one per worker and flush interval; also the merger's backlog) -- */

typedef struct gk_disc_table gk_disc_table_t;

/* Totals of a table: every query seen, whether or not its domain fitted. */
typedef struct gk_disc_totals {
	uint64_t queries;   /* queries that reached the filing check or the policy */
	uint64_t resolved;  /* of those, answered normally (monitor mode included) */
	uint64_t monitored; /* refusals in monitor mode (counted as refused, not enforced) */
	uint64_t noreg;     /* refusals of names without a registrable domain */
	uint64_t refused[GK_DISC_NREASONS];
	uint64_t overflow[GK_DISC_NREASONS]; /* refused, not counted per domain: table full */
	uint64_t dropped[GK_DISC_NREASONS];  /* per-domain counts the merger could not keep */
} gk_disc_totals_t;

/* One counted (domain, reason, day). name points into the table: valid until the next
 * reset or add. */
typedef struct gk_disc_entry {
	const uint8_t *name; /* lowercase wire name, root label included */
	uint8_t len;
	uint8_t reason; /* gk_disc_reason_t */
	uint32_t day;   /* 0 in worker tables; YYYYMMDD in the merger's */
	uint32_t count;
	uint32_t first, last; /* unix seconds */
} gk_disc_entry_t;

/* A table for at most max_entries distinct (domain, reason, day) keys (16..2^24) whose
 * names take at most max_entries * GK_DISC_NAME_AVG octets together. Every byte is
 * allocated here; gk_obs_disc_table_bytes() is the whole footprint. 0, GK_EINVAL, GK_ENOMEM. */
#define GK_DISC_NAME_AVG  32u
#define GK_DISC_TABLE_MIN 16u
#define GK_DISC_TABLE_MAX (1u << 24)
GK_MUST_CHECK int gk_obs_disc_table_create(uint32_t max_entries, gk_disc_table_t **out);
void gk_obs_disc_table_free(gk_disc_table_t *t);
/* Empty the table and zero its totals. */
void gk_obs_disc_table_reset(gk_disc_table_t *t);
/* Bytes allocated for the table (fixed at create). */
size_t gk_obs_disc_table_bytes(const gk_disc_table_t *t);
/* Distinct keys held. */
uint32_t gk_obs_disc_table_size(const gk_disc_table_t *t);
/* Entry i (0 <= i < size), in insertion order. */
void gk_obs_disc_table_entry(const gk_disc_table_t *t, uint32_t i, gk_disc_entry_t *out);
gk_disc_totals_t *gk_obs_disc_table_totals(gk_disc_table_t *t);

/* Add count queries of (name, reason, day) seen from first to last. name: a wire name of
 * len octets (root label included, any case: stored lowercase). Returns 0, or GK_ENOSPC
 * when the key is new and no entry or name room is left (nothing changes). Totals are not
 * touched. One thread at a time per table. */
GK_MUST_CHECK int gk_obs_disc_table_add(gk_disc_table_t *t, const uint8_t *name, size_t len,
                                        unsigned reason, uint32_t day, uint32_t count,
                                        uint32_t first, uint32_t last);

/* Count one processed query (q: its bytes; res: gk_pkt_process's result, for either
 * outcome) seen at unix second now: totals, and the registrable domain of a refusal.
 * A table full for a new domain counts the refusal as overflow. No allocation. */
void gk_obs_disc_table_record(gk_disc_table_t *t, const uint8_t *q, const gk_pkt_result_t *res,
                              uint32_t now);

/* Presentation form of a lowercase wire name (include/gk/discovery.h field spelling) into
 * out (at least 4 * 255 + 1 bytes). Returns its length. Pure. */
size_t gk_obs_disc_name_text(const uint8_t *name, size_t len, char *out);

/* ---- the discovery service ---------------------------------------------------------- */

typedef struct gk_disc gk_disc_t;

typedef struct gk_disc_conf {
	unsigned workers;       /* >= 1: gk_obs_disc_worker(d, 0..workers-1) */
	uint32_t table_size;    /* entries per worker table (GK_DISC_TABLE_MIN..MAX) */
	unsigned flush_ms;      /* merge and write interval (>= 10) */
	const char *redis_host; /* IPv4/IPv6 literal; NULL with redis_unix */
	uint16_t redis_port;
	const char *redis_unix;                 /* or NULL */
	const struct gk_redis_auth *redis_auth; /* AUTH credentials (copied); NULL: no AUTH */
	/* Sentinel discovery (copied): with n > 0 every (re)connect asks the sentinels for
	 * the master (src/redis) instead of using redis_host/redis_unix; NULL: none */
	const struct gk_redis_sentinel *redis_sentinel;
	unsigned connect_timeout_ms;
	unsigned reconnect_max_ms;
	uint32_t day_max; /* most domains per day and reason in Redis; 0: GK_DISC_DAY_MAX */
} gk_disc_conf_t;

/* Create (allocates every table: 2 per worker, the merger's backlog). No thread yet.
 * Returns 0, GK_EINVAL or GK_ENOMEM. */
GK_MUST_CHECK int gk_obs_disc_create(const gk_disc_conf_t *conf, gk_disc_t **out);

/* Start the merger thread (connects to Redis on its own). 0 or -errno / GK_ENOMEM. */
GK_MUST_CHECK int gk_obs_disc_start(gk_disc_t *d);

/* Worker i's handle (0 <= i < conf.workers), valid as long as d. Any thread. */
typedef struct gk_obs_disc_worker gk_disc_worker_t;
gk_disc_worker_t *gk_obs_disc_worker(gk_disc_t *d, unsigned i);

/* Count one query given to gk_pkt_process (q: its bytes; res: the result, for either
 * outcome). Call it for EVERY query, not only refusals: the per-day totals (queries,
 * resolved) are the filing rate's denominator; it returns at once for names we do not
 * serve. The worker's own thread only. Wait-free: one fence, no lock, no allocation, no
 * syscall. dw may be NULL (no-op). */
void gk_obs_disc_record(gk_disc_worker_t *dw, const uint8_t *q, const gk_pkt_result_t *res);

/* Stop the merger: collect every worker's table (the workers must be stopped first, or
 * their last counts are left behind), try one last write (bounded: 1 s), join the thread.
 * Idempotent; NULL ignored. */
void gk_obs_disc_stop(gk_disc_t *d);

/* Free a stopped (or never started) service. NULL is ignored. */
void gk_obs_disc_free(gk_disc_t *d);

/* ---- site addresses (attribution, docs/REPORT.md) ------------------------------------ */

struct gk_zver;

/* Record that the site of the registrable domain `domain` (field spelling of
 * include/gk/discovery.h) resolves to `addrs` (canonical addresses separated by one space,
 * "" for none): written to GK_KEY_DISC_SITE by the merger thread, off the query path. An
 * entry not yet written is replaced by a newer one for the same domain. Any thread (a
 * mutex; never from a query thread). d NULL: nothing. Returns 0, GK_EINVAL (too long) or
 * GK_ENOMEM. */
GK_MUST_CHECK int gk_obs_disc_site(gk_disc_t *d, const char *domain, const char *addrs);

/* A gk_zoneset_publish_fn (src/zone/zone.h), ctx the gk_disc_t: a published version whose
 * apex is a registrable domain gives gk_obs_disc_site its apex and its site's addresses
 * (gk_zone_ver_site_addrs: A/AAAA of the apex and www, IPv4 first, then by value). Writer. */
void gk_obs_disc_zone_published(void *ctx, const struct gk_zver *v);

/* Observable state for logs and metrics. Any thread (a moment old). */
typedef struct gk_obs_disc_stats {
	uint64_t flushes;       /* successful writes */
	uint64_t sent;          /* writes sent (re-sends after a lost connection included):
	                           sent - flushes - rejected ones were not confirmed */
	uint64_t written;       /* (domain, reason, day) entries written */
	uint64_t merged;        /* queries collected from the workers so far */
	uint64_t queries;       /* of those, written to Redis */
	uint64_t overflow;      /* refusals not counted per domain (all reasons): worker tables */
	uint64_t capped;        /* ... and Redis: a day's hash already held day_max domains */
	uint64_t dropped;       /* per-domain counts dropped by the merger */
	uint64_t lost;          /* queries counted but never written: Redis unreachable at stop
	                           (after STOP_WAIT: 1 s), or a write Redis rejected */
	uint32_t pending;       /* entries waiting in the backlog */
	size_t table_bytes;     /* every table's allocation: the memory bound */
	uint64_t sites_written; /* site addresses written (GK_KEY_DISC_SITE) */
	bool connected;
} gk_disc_stats_t;
void gk_obs_disc_stats(gk_disc_t *d, gk_disc_stats_t *out);
