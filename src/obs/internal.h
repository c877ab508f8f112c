/* SPDX-License-Identifier: MIT */
/* src/obs/internal.h -- what the files of the discovery service share, and nothing else
 * includes (src/obs/discovery.h is the public header; its comment explains the design).
 *
 * The service is four files, each calling only the ones listed after it:
 *   discovery.c   the service: create/free, stats, the merger thread and its timers
 *   disc_merge.c  the per-worker hand-off (gk_obs_disc_record) and the merge into the backlog
 *   disc_writer.c the Redis writer: its session (src/redis/session.h) and the batch write
 *   disc_table.c  the bounded counting table
 * The merger thread owns every field of gk_disc_t below "merger thread"; the workers touch
 * only their gk_obs_disc_worker's active, busy and now_s.
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "common/dname.h"
#include "obs/discovery.h"
#include "redis/redis.h"
#include "redis/session.h"

#define GK_DISC_PENDING_FACTOR 4u /* backlog entries per worker table entry */
#define GK_DISC_PENDING_DAYS   8u /* distinct days of totals kept while Redis is down */

/* ---- the counting table (disc_table.c) ------------------------------------------------- */

struct gk_disc_ent {
	uint64_t hash;
	uint32_t off; /* name offset in the arena */
	uint32_t count;
	uint32_t first, last;
	uint32_t day;
	uint8_t reason;
	uint8_t len;
};

struct gk_disc_table {
	uint32_t max, n;
	uint32_t mask; /* slots - 1 */
	uint32_t *slots;
	struct gk_disc_ent *ents;
	uint8_t *names;
	size_t names_cap, names_used;
	size_t bytes;
	gk_disc_totals_t tot;
};

/* gk_obs_disc_table_add for a name already lowercase (the merger's copy between tables). */
GK_MUST_CHECK int gk_obs_disc_table_add_lower(gk_disc_table_t *t, const uint8_t *name, size_t len,
                                              unsigned reason, uint32_t day, uint32_t count,
                                              uint32_t first, uint32_t last);

/* ---- the service (discovery.c) --------------------------------------------------------- */

struct gk_obs_disc_worker {
	_Atomic(gk_disc_table_t *) active;
	_Atomic int busy;
	_Atomic uint32_t *now_s; /* the service's clock */
	char pad[64 - 2 * sizeof(void *) - sizeof(int)];
	/* merger only */
	gk_disc_table_t *spare;   /* empty, to exchange in next */
	gk_disc_table_t *collect; /* exchanged out, waiting for the worker to leave it */
};

struct gk_disc_daytot {
	uint32_t day; /* 0: unused */
	gk_disc_totals_t t;
};

struct gk_disc {
	gk_disc_conf_t conf;
	char *host, *unix_path;
	gk_redis_target_t target; /* an address, or conf.redis_sentinel copied */
	gk_redis_auth_t auth;
	struct gk_obs_disc_worker *w;
	_Atomic uint32_t now_s; /* the workers' clock, set by the merger each tick */

	/* merger thread */
	uv_loop_t loop;
	uv_thread_t thread;
	uv_timer_t tick;
	uv_timer_t clock; /* refreshes now_s every CLOCK_MS: first/last seen to ~0.1 s */
	uv_async_t stop_async;
	bool started, stopping, loop_ready;
	gk_disc_table_t *pending;
	struct gk_disc_daytot days[GK_DISC_PENDING_DAYS];
	uint32_t *order; /* scratch: pending entry indices sorted by (day, reason) */
	char *wtext;     /* scratch of one EVAL's arguments (GK_DISC_EVAL_*) */
	const char **wargv;
	size_t *wlens;
	gk_redis_session_t *rs; /* src/redis/session.h: AUTH, timeouts, backoff, Sentinel */
	bool connected, inflight;
	gk_disc_table_t *batch; /* the write being sent, kept until Redis confirms it */
	struct gk_disc_daytot batch_days[GK_DISC_PENDING_DAYS];
	bool batch_ready;    /* batch holds entries not yet confirmed */
	uint32_t batch_from; /* order[0, batch_from) of the batch are confirmed */
	uint32_t batch_to;   /* the write in flight (or to re-send): order[batch_from, batch_to) */
	uv_timer_t pace;     /* the gap before a batch's next write (disc_writer.c) */
	uint64_t seq, attempt; /* write sequence (its id) and send attempts (nonces) */
	char token[40];        /* this process, in write ids */
	size_t inflight_evals; /* the first replies of its EXEC are the merges' overflow */
	uint64_t stop_deadline_ms;

	uv_mutex_t stats_lock;
	gk_disc_stats_t stats;
	struct gk_disc_sites *sites; /* site addresses awaiting their write (disc_sites.c) */
};

/* ---- hand-off and merge (disc_merge.c) ------------------------------------------------- */

/* Fold a worker's table into the backlog (d->pending, d->days); its totals go to the day of
 * now. Merger thread. */
void gk_obs_disc_merge_table(gk_disc_t *d, gk_disc_table_t *t, uint32_t now);

/* Take every worker's table that is free of its worker and merge it (final: the workers have
 * stopped, take every table). Merger thread. */
void gk_obs_disc_collect(gk_disc_t *d, uint32_t now, bool final);

/* ---- site addresses (disc_sites.c) ---------------------------------------------------- */

/* Create / free d->sites. 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_obs_disc_sites_create(gk_disc_t *d);
void gk_obs_disc_sites_free(gk_disc_t *d);
/* Write the next chunk of pending site addresses when connected and none is in flight.
 * Merger thread. */
void gk_obs_disc_sites_write(gk_disc_t *d);
/* The connection went down: a chunk in flight goes back to the pending map. Merger. */
void gk_obs_disc_sites_lost(gk_disc_t *d);

/* ---- the Redis writer (disc_writer.c) -------------------------------------------------- */

/* Create and start the writer's session on d->loop (before the merger thread runs).
 * 0 or a negative error. */
GK_MUST_CHECK int gk_obs_disc_writer_open(gk_disc_t *d);

/* Close the session (pending callbacks are dropped; an unconfirmed batch stays batch_ready).
 * Only at stop: the session otherwise reconnects by itself. NULL session ignored. */
void gk_obs_disc_writer_close(gk_disc_t *d);

/* Entries per write (all that is left when stopping); a batch larger than GK_DISC_WRITE_ENTRIES
 * x GK_DISC_WRITE_SPREAD goes without the gap between its writes (disc_writer.c says why). */
#define GK_DISC_WRITE_ENTRIES 16u
#define GK_DISC_WRITE_SPREAD  256u
/* Domains per EVAL of a write, and the arguments one EVAL is built in (gk_disc_t's wtext,
 * wargv, wlens, allocated once): per domain up to 4 * 255 octets of text and 3 numbers, and
 * 4 arguments, besides 10 of the script's own. */
#define GK_DISC_EVAL_DOMAINS 256u
#define GK_DISC_EVAL_TEXT    (GK_DISC_EVAL_DOMAINS * (4u * GK_DNAME_MAX + 40u) + 512u)
#define GK_DISC_EVAL_ARGS    (10u + 4u * GK_DISC_EVAL_DOMAINS)
#define GK_DISC_WRITE_GAP_MS 2u

/* Send the batch's next write (or re-send the unconfirmed one), or make the backlog the next
 * batch and send its first write: one MULTI/EXEC of at most GK_DISC_WRITE_ENTRIES entries
 * (all that is left when stopping); the next follows gk_obs_disc_write_gap_ms() after Redis
 * confirms it (disc_writer.c says why). Only when d->connected and no write is in flight. */
void gk_obs_disc_write_batch(gk_disc_t *d);

/* The gap after a confirmed write of a batch of n entries before its next: GK_DISC_WRITE_GAP_MS,
 * none for a batch of more than GK_DISC_WRITE_ENTRIES x GK_DISC_WRITE_SPREAD. Pure. */
static inline unsigned gk_obs_disc_write_gap_ms(uint32_t n)
{
	return n > GK_DISC_WRITE_ENTRIES * GK_DISC_WRITE_SPREAD ? 0u : GK_DISC_WRITE_GAP_MS;
}

/* True when the backlog holds entries or non-empty totals. */
bool gk_obs_disc_has_pending(const gk_disc_t *d);

/* Queries counted in a set of day totals (GK_DISC_PENDING_DAYS of them). */
uint64_t gk_obs_disc_days_queries(const struct gk_disc_daytot *days);
