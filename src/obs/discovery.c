/* SPDX-License-Identifier: MIT */
/* src/obs/discovery.c -- bounded per-worker counting tables, the lock-free handoff, and the
 * merger thread that writes per-day counters to Redis (include/gk/discovery.h).
 *
 * Table: entries[max] in insertion order, a slot index of a power of two >= 2 * max (so
 * probes stay short at the cap) holding entry index + 1, and a name arena. Resetting clears
 * only the slots that were used, so a quiet table costs nothing to recycle.
 *
 * <stdatomic.h> is used here beside common/snapshot: the handoff needs a per-query busy flag
 * rather than per-loop quiescent points, because a worker idle in epoll must still hand over
 * what it counted before it went idle, and the packet path is the only hook workers call.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <stdarg.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>
#include "common/dname.h"
#include "common/log.h"
#include "obs/discovery.h"
#include "redis/redis.h"
#include "redis/session.h"
#include "status/status.h"
#include "common/thread.h"

/* ---- table ------------------------------------------------------------------------------ */

struct ent {
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
	struct ent *ents;
	uint8_t *names;
	size_t names_cap, names_used;
	size_t bytes;
	gk_disc_totals_t tot;
};

int gk_disc_table_create(uint32_t max_entries, gk_disc_table_t **out)
{
	if (max_entries < GK_DISC_TABLE_MIN || max_entries > GK_DISC_TABLE_MAX || out == NULL)
		return GK_EINVAL;
	gk_disc_table_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return GK_ENOMEM;
	uint32_t nslots = 1;
	while (nslots < 2 * max_entries)
		nslots <<= 1;
	t->max = max_entries;
	t->mask = nslots - 1;
	t->names_cap = (size_t)max_entries * GK_DISC_NAME_AVG;
	t->slots = calloc(nslots, sizeof(*t->slots));
	t->ents = calloc(max_entries, sizeof(*t->ents));
	t->names = malloc(t->names_cap);
	if (t->slots == NULL || t->ents == NULL || t->names == NULL) {
		gk_disc_table_free(t);
		return GK_ENOMEM;
	}
	t->bytes = sizeof(*t) + (size_t)nslots * sizeof(*t->slots) +
	           (size_t)max_entries * sizeof(*t->ents) + t->names_cap;
	*out = t;
	return 0;
}

void gk_disc_table_free(gk_disc_table_t *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t->ents);
	free(t->names);
	free(t);
}

void gk_disc_table_reset(gk_disc_table_t *t)
{
	if (t->n > t->max / 8) {
		memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof(*t->slots));
	} else {
		/* few entries: clear only their slots (each entry sits in the probe run from
		 * its home slot; find it the way a lookup does) */
		for (uint32_t i = 0; i < t->n; i++) {
			uint32_t s = (uint32_t)t->ents[i].hash & t->mask;
			while (t->slots[s] != i + 1)
				s = (s + 1) & t->mask;
			t->slots[s] = 0;
		}
	}
	t->n = 0;
	t->names_used = 0;
	memset(&t->tot, 0, sizeof(t->tot));
}

size_t gk_disc_table_bytes(const gk_disc_table_t *t)
{
	return t->bytes;
}

uint32_t gk_disc_table_size(const gk_disc_table_t *t)
{
	return t->n;
}

void gk_disc_table_entry(const gk_disc_table_t *t, uint32_t i, gk_disc_entry_t *out)
{
	const struct ent *e = &t->ents[i];
	*out = (gk_disc_entry_t){.name = t->names + e->off,
	                         .len = e->len,
	                         .reason = e->reason,
	                         .day = e->day,
	                         .count = e->count,
	                         .first = e->first,
	                         .last = e->last};
}

gk_disc_totals_t *gk_disc_table_totals(gk_disc_table_t *t)
{
	return &t->tot;
}

/* Insert or find; name must already be lowercase. */
static int table_add_lower(gk_disc_table_t *t, const uint8_t *name, size_t len, unsigned reason,
                           uint32_t day, uint32_t count, uint32_t first, uint32_t last)
{
	uint64_t h = gk_dname_hash(name, len) ^ ((uint64_t)reason << 56) ^
	             ((uint64_t)day * 0x9e3779b97f4a7c15ull);
	h ^= h >> 31;
	uint32_t s = (uint32_t)h & t->mask;
	for (;;) {
		uint32_t k = t->slots[s];
		if (k == 0)
			break;
		struct ent *e = &t->ents[k - 1];
		if (e->hash == h && e->len == len && e->reason == reason && e->day == day &&
		    memcmp(t->names + e->off, name, len) == 0) {
			e->count += count;
			if (first < e->first)
				e->first = first;
			if (last > e->last)
				e->last = last;
			return 0;
		}
		s = (s + 1) & t->mask;
	}
	if (t->n >= t->max || t->names_used + len > t->names_cap)
		return GK_ENOSPC;
	struct ent *e = &t->ents[t->n];
	*e = (struct ent){.hash = h,
	                  .off = (uint32_t)t->names_used,
	                  .count = count,
	                  .first = first,
	                  .last = last,
	                  .day = day,
	                  .reason = (uint8_t)reason,
	                  .len = (uint8_t)len};
	memcpy(t->names + t->names_used, name, len);
	t->names_used += len;
	t->slots[s] = ++t->n;
	return 0;
}

int gk_disc_table_add(gk_disc_table_t *t, const uint8_t *name, size_t len, unsigned reason,
                      uint32_t day, uint32_t count, uint32_t first, uint32_t last)
{
	if (len == 0 || len > GK_DNAME_MAX || reason >= GK_DISC_NREASONS)
		return GK_EINVAL;
	uint8_t low[GK_DNAME_MAX];
	for (size_t i = 0; i < len; i++)
		low[i] = gk_dname_lower[name[i]];
	return table_add_lower(t, low, len, reason, day, count, first, last);
}

/* The reason of a refusal, or -1 when the query was not refused. */
static int reason_of(const gk_pkt_result_t *r)
{
	if (r->action == GK_ACT_RESOLVE)
		return -1;
	switch (r->why) {
	case GK_WHY_UNFILED:
		return GK_DISC_UNFILED;
	case GK_WHY_REVOKED:
		return GK_DISC_REVOKED;
	case GK_WHY_UNKNOWN:
		return GK_DISC_UNKNOWN;
	case GK_WHY_STARTING:
		return GK_DISC_STARTING;
	case GK_WHY_BLOCKED:
		return GK_DISC_BLOCKED;
	case GK_WHY_TCP_ONLY:
		return GK_DISC_TCP_ONLY;
	default:
		break;
	}
	/* a result without why: the filing status decided */
	switch (r->filing) {
	case GK_FS_UNFILED:
		return GK_DISC_UNFILED;
	case GK_FS_REVOKED:
		return GK_DISC_REVOKED;
	case GK_FS_EXPIRED:
		return GK_DISC_UNKNOWN;
	case GK_FS_STARTING:
		return GK_DISC_STARTING;
	default:
		return GK_DISC_BLOCKED;
	}
}

void gk_disc_table_record(gk_disc_table_t *t, const uint8_t *q, const gk_pkt_result_t *res,
                          uint32_t now)
{
	if (res->filing == GK_PKT_NOCHECK && res->why == GK_WHY_NONE)
		return; /* a name we do not serve, or no check configured */
	t->tot.queries++;
	int r = reason_of(res);
	if (r < 0 || res->monitor)
		t->tot.resolved++;
	if (r < 0)
		return;
	t->tot.refused[r]++;
	if (res->monitor)
		t->tot.monitored++;
	if (res->reg_len == 0) {
		t->tot.noreg++;
		return;
	}
	if (gk_disc_table_add(t, q + res->reg_off, res->reg_len, (unsigned)r, 0, 1, now, now) != 0)
		t->tot.overflow[r]++;
}

size_t gk_disc_name_text(const uint8_t *name, size_t len, char *out)
{
	size_t o = 0, i = 0;
	while (i < len && name[i] != 0) {
		size_t l = name[i++];
		if (o > 0)
			out[o++] = '.';
		for (size_t j = 0; j < l && i < len; j++, i++) {
			uint8_t c = name[i];
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_') {
				out[o++] = (char)c;
			} else if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else {
				o += (size_t)sprintf(out + o, "\\%03u", c);
			}
		}
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = 0;
	return o;
}

/* ---- the service: per-worker handoff and the merger thread ---------------------------- */

#define PENDING_FACTOR   4u   /* backlog entries per worker table entry */
#define PENDING_DAYS     8u   /* distinct days of totals kept while Redis is down */
#define CHUNK            256u /* domains per EVAL */
#define WRITE_TIMEOUT_MS 5000u
#define BACKOFF_MIN_MS   100u
#define STOP_WAIT_MS     1000u
#define CLOCK_MS         100u

static const char *const reason_names[GK_DISC_NREASONS] = GK_DISC_REASON_NAMES;

struct gk_disc_worker {
	_Atomic(gk_disc_table_t *) active;
	_Atomic int busy;
	_Atomic uint32_t *now_s; /* the service's clock */
	char pad[64 - 2 * sizeof(void *) - sizeof(int)];
	/* merger only */
	gk_disc_table_t *spare;   /* empty, to exchange in next */
	gk_disc_table_t *collect; /* exchanged out, waiting for the worker to leave it */
};

struct daytot {
	uint32_t day; /* 0: unused */
	gk_disc_totals_t t;
};

struct gk_disc {
	gk_disc_conf_t conf;
	char *host, *unix_path;
	gk_redis_target_t target; /* an address, or conf.redis_sentinel copied */
	gk_redis_auth_t auth;
	struct gk_disc_worker *w;
	_Atomic uint32_t now_s; /* the workers' clock, set by the merger each tick */

	/* merger thread */
	uv_loop_t loop;
	uv_thread_t thread;
	uv_timer_t tick;
	uv_timer_t clock; /* refreshes now_s every CLOCK_MS: first/last seen to ~0.1 s */
	uv_async_t stop_async;
	bool started, stopping, loop_ready;
	gk_disc_table_t *pending;
	struct daytot days[PENDING_DAYS];
	uint32_t *order;        /* scratch: pending entry indices sorted by (day, reason) */
	gk_redis_session_t *rs; /* src/redis/session.h: AUTH, timeouts, backoff, Sentinel */
	bool connected, inflight;
	gk_disc_table_t *batch; /* the write being sent, kept until Redis confirms it */
	struct daytot batch_days[PENDING_DAYS];
	bool batch_ready;      /* batch holds a write not yet confirmed */
	uint64_t seq, attempt; /* write sequence (its id) and send attempts (nonces) */
	char token[40];        /* this process, in write ids */
	size_t inflight_evals; /* the first replies of its EXEC are the merges' overflow */
	uint64_t stop_deadline_ms;

	uv_mutex_t stats_lock;
	gk_disc_stats_t stats;
};

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

gk_disc_worker_t *gk_disc_worker(gk_disc_t *d, unsigned i)
{
	return d != NULL && i < d->conf.workers ? &d->w[i] : NULL;
}

void gk_disc_record(gk_disc_worker_t *w, const uint8_t *q, const gk_pkt_result_t *res)
{
	if (w == NULL || (res->filing == GK_PKT_NOCHECK && res->why == GK_WHY_NONE))
		return;
	atomic_store(&w->busy, 1); /* seq_cst: ordered before the pointer load below */
	gk_disc_table_t *t = atomic_load(&w->active);
	gk_disc_table_record(t, q, res, atomic_load_explicit(w->now_s, memory_order_relaxed));
	atomic_store_explicit(&w->busy, 0, memory_order_release);
}

int gk_disc_create(const gk_disc_conf_t *conf, gk_disc_t **out)
{
	if (conf == NULL || out == NULL || conf->workers == 0 ||
	    conf->table_size < GK_DISC_TABLE_MIN || conf->table_size > GK_DISC_TABLE_MAX ||
	    conf->flush_ms < 10 || (conf->redis_host == NULL && conf->redis_unix == NULL))
		return GK_EINVAL;
	gk_disc_t *d = calloc(1, sizeof(*d));
	if (d == NULL)
		return GK_ENOMEM;
	d->conf = *conf;
	uv_mutex_init(&d->stats_lock);
	int rc = GK_ENOMEM;
	d->host = conf->redis_host ? strdup(conf->redis_host) : NULL;
	d->unix_path = conf->redis_unix ? strdup(conf->redis_unix) : NULL;
	if ((conf->redis_host && !d->host) || (conf->redis_unix && !d->unix_path) ||
	    gk_redis_auth_copy(&d->auth, conf->redis_auth) != 0)
		goto fail;
	d->conf.redis_auth = &d->auth;
	gk_redis_addr_set(&d->target.addr, d->host, conf->redis_port, d->unix_path);
	if (conf->redis_sentinel)
		d->target.sentinel = *conf->redis_sentinel;
	d->conf.redis_sentinel = NULL;
	if (posix_memalign((void **)&d->w, 64, sizeof(*d->w) * conf->workers) != 0) {
		d->w = NULL;
		goto fail;
	}
	memset(d->w, 0, sizeof(*d->w) * conf->workers);
	size_t bytes = 0;
	for (unsigned i = 0; i < conf->workers; i++) {
		gk_disc_table_t *a;
		if ((rc = gk_disc_table_create(conf->table_size, &a)) != 0)
			goto fail;
		atomic_init(&d->w[i].active, a);
		atomic_init(&d->w[i].busy, 0);
		d->w[i].now_s = &d->now_s;
		if ((rc = gk_disc_table_create(conf->table_size, &d->w[i].spare)) != 0)
			goto fail;
		bytes += gk_disc_table_bytes(a) + gk_disc_table_bytes(d->w[i].spare);
	}
	uint64_t pmax = (uint64_t)conf->table_size * PENDING_FACTOR;
	if (pmax > GK_DISC_TABLE_MAX)
		pmax = GK_DISC_TABLE_MAX;
	if ((rc = gk_disc_table_create((uint32_t)pmax, &d->pending)) != 0 ||
	    (rc = gk_disc_table_create((uint32_t)pmax, &d->batch)) != 0)
		goto fail;
	rc = GK_ENOMEM;
	if ((d->order = malloc(pmax * sizeof(*d->order))) == NULL)
		goto fail;
	bytes += gk_disc_table_bytes(d->pending) + gk_disc_table_bytes(d->batch) +
	         pmax * sizeof(*d->order);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(d->token, sizeof(d->token), "%lx.%lx.%lx", (unsigned long)getpid(),
	         (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec);
	d->stats.table_bytes = bytes;
	atomic_init(&d->now_s, (uint32_t)time(NULL));
	*out = d;
	return 0;
fail:
	gk_disc_free(d);
	return rc;
}

void gk_disc_free(gk_disc_t *d)
{
	if (d == NULL)
		return;
	gk_disc_stop(d);
	if (d->w != NULL) {
		for (unsigned i = 0; i < d->conf.workers; i++) {
			gk_disc_table_free(atomic_load(&d->w[i].active));
			gk_disc_table_free(d->w[i].spare);
			gk_disc_table_free(d->w[i].collect);
		}
		free(d->w);
	}
	gk_disc_table_free(d->pending);
	gk_disc_table_free(d->batch);
	free(d->order);
	gk_redis_auth_clear(&d->auth);
	free(d->host);
	free(d->unix_path);
	uv_mutex_destroy(&d->stats_lock);
	free(d);
}

void gk_disc_stats(gk_disc_t *d, gk_disc_stats_t *out)
{
	uv_mutex_lock(&d->stats_lock);
	*out = d->stats;
	uv_mutex_unlock(&d->stats_lock);
}

/* ---- merging ------------------------------------------------------------------------- */

static gk_disc_totals_t *day_totals(gk_disc_t *d, uint32_t day)
{
	struct daytot *free_slot = NULL;
	for (unsigned i = 0; i < PENDING_DAYS; i++) {
		if (d->days[i].day == day)
			return &d->days[i].t;
		if (d->days[i].day == 0 && free_slot == NULL)
			free_slot = &d->days[i];
	}
	if (free_slot != NULL) {
		free_slot->day = day;
		return &free_slot->t;
	}
	/* Redis down for more days than we keep apart: fold into the latest day kept */
	struct daytot *latest = &d->days[0];
	for (unsigned i = 1; i < PENDING_DAYS; i++)
		if (d->days[i].day > latest->day)
			latest = &d->days[i];
	return &latest->t;
}

static void totals_add(gk_disc_totals_t *a, const gk_disc_totals_t *b)
{
	a->queries += b->queries;
	a->resolved += b->resolved;
	a->monitored += b->monitored;
	a->noreg += b->noreg;
	for (unsigned r = 0; r < GK_DISC_NREASONS; r++) {
		a->refused[r] += b->refused[r];
		a->overflow[r] += b->overflow[r];
		a->dropped[r] += b->dropped[r];
	}
}

/* Fold a worker's table into the backlog; its totals go to the day of now. */
static void merge_table(gk_disc_t *d, gk_disc_table_t *t, uint32_t now)
{
	gk_disc_totals_t *dt = day_totals(d, gk_disc_day(now));
	totals_add(dt, &t->tot);
	uint64_t over = 0;
	for (unsigned r = 0; r < GK_DISC_NREASONS; r++)
		over += t->tot.overflow[r];
	uint64_t dropped = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		const struct ent *e = &t->ents[i];
		uint32_t day = gk_disc_day(e->first);
		if (table_add_lower(d->pending, t->names + e->off, e->len, e->reason, day, e->count,
		                    e->first, e->last) != 0) {
			day_totals(d, day)->dropped[e->reason] += e->count;
			dropped += e->count;
		}
	}
	uv_mutex_lock(&d->stats_lock);
	d->stats.merged += t->tot.queries;
	d->stats.overflow += over;
	d->stats.dropped += dropped;
	d->stats.pending = d->pending->n;
	uv_mutex_unlock(&d->stats_lock);
}

/* Take every worker's table that is free of its worker; see discovery.h for why seeing the
 * busy flag down once after the exchange is enough. */
static void collect(gk_disc_t *d, uint32_t now, bool final)
{
	for (unsigned i = 0; i < d->conf.workers; i++) {
		struct gk_disc_worker *w = &d->w[i];
		if (w->collect == NULL) {
			w->collect = atomic_exchange(&w->active, w->spare);
			w->spare = NULL;
		}
		bool free_now = false;
		for (unsigned spin = 0; spin < 64 && !free_now; spin++) {
			if (atomic_load(&w->busy) == 0)
				free_now = true;
			else if (!final)
				sched_yield();
		}
		if (!free_now && !final)
			continue; /* the worker is inside a count (preempted?): next tick */
		merge_table(d, w->collect, now);
		gk_disc_table_reset(w->collect);
		w->spare = w->collect;
		w->collect = NULL;
	}
}

/* ---- writing ------------------------------------------------------------------------- */

static int cmp_day_reason(const void *a, const void *b, void *arg)
{
	const gk_disc_table_t *t = arg;
	const struct ent *x = &t->ents[*(const uint32_t *)a], *y = &t->ents[*(const uint32_t *)b];
	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->reason != y->reason)
		return x->reason < y->reason ? -1 : 1;
	return (*(const uint32_t *)a > *(const uint32_t *)b) -
	       (*(const uint32_t *)a < *(const uint32_t *)b);
}

static bool totals_empty(const gk_disc_totals_t *t)
{
	static const gk_disc_totals_t zero;
	return memcmp(t, &zero, sizeof(zero)) == 0;
}

static void conn_close(gk_disc_t *d);

static bool has_pending(const gk_disc_t *d)
{
	if (d->pending->n > 0)
		return true;
	for (unsigned i = 0; i < PENDING_DAYS; i++)
		if (d->days[i].day != 0 && !totals_empty(&d->days[i].t))
			return true;
	return false;
}

static uint64_t days_queries(const struct daytot *days)
{
	uint64_t q = 0;
	for (unsigned i = 0; i < PENDING_DAYS; i++)
		q += days[i].t.queries;
	return q;
}

static void batch_done(gk_disc_t *d)
{
	gk_disc_table_reset(d->batch);
	memset(d->batch_days, 0, sizeof(d->batch_days));
	d->batch_ready = false;
}

/* The READONLY hook of the session: said once per transition. */
static void on_readonly(gk_redis_session_t *rs, bool ro, const char *errstr, void *ctx)
{
	(void)rs;
	(void)errstr;
	(void)ctx;
	if (ro)
		gk_log(GK_LOG_WARN,
		       "discovery: the redis server is a read-only replica (READONLY): counters "
		       "are lost until redis.primary is configured (an address, or 'sentinel') "
		       "so they are written to the primary");
	else
		gk_log(GK_LOG_INFO, "discovery: counters written again");
}

static void exec_cb(gk_redis_session_t *rs, redisReply *rep, void *priv)
{
	gk_disc_t *d = priv;
	d->inflight = false;
	gk_redis_session_check_write(rs, rep);
	if (rep->type != REDIS_REPLY_ARRAY) {
		uint64_t q = days_queries(d->batch_days);
		gk_log(GK_LOG_WARN,
		       "discovery: redis rejected write %llu (%s): %llu queries dropped",
		       (unsigned long long)d->seq, rep->type == REDIS_REPLY_ERROR ? rep->str : "?",
		       (unsigned long long)q);
		uv_mutex_lock(&d->stats_lock);
		d->stats.lost += q;
		uv_mutex_unlock(&d->stats_lock);
		batch_done(d);
		return;
	}
	uint64_t capped = 0;
	bool dup = false;
	for (size_t i = 0; i < rep->elements; i++) {
		const redisReply *e = rep->element[i];
		if (e->type == REDIS_REPLY_ERROR) {
			if (!gk_redis_is_readonly(e->str)) /* said once, above */
				gk_log(GK_LOG_WARN, "discovery: redis: %s", e->str);
			continue;
		}
		if (e->type == REDIS_REPLY_INTEGER && e->integer < 0)
			dup = true; /* an earlier attempt of this write was applied */
		else if (i < d->inflight_evals && e->type == REDIS_REPLY_INTEGER)
			capped += (uint64_t)e->integer;
	}
	uv_mutex_lock(&d->stats_lock);
	d->stats.flushes++;
	d->stats.written += d->batch->n;
	d->stats.queries += days_queries(d->batch_days);
	if (!dup)
		d->stats.capped += capped;
	uv_mutex_unlock(&d->stats_lock);
	batch_done(d);
}

static int cmd(gk_disc_t *d, gk_redis_reply_fn *fn, int argc, const char **argv, const size_t *lens)
{
	return gk_redis_session_cmdargv(d->rs, 0, fn, d, 0, argc, argv, lens);
}

/* Append one argument (formatted into *p) to argv/lens. */
static void arg(const char **argv, size_t *lens, int *argc, char **p, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void arg(const char **argv, size_t *lens, int *argc, char **p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsprintf(*p, fmt, ap);
	va_end(ap);
	argv[*argc] = *p;
	lens[(*argc)++] = (size_t)n;
	*p += n + 1;
}

/* One EVAL of GK_DISC_LUA_TOTALS for a day. */
static int write_totals(gk_disc_t *d, uint32_t day, const gk_disc_totals_t *t, const char *id,
                        const char *nonce)
{
	static const char script[] = GK_DISC_LUA_TOTALS;
	const char *argv[64];
	size_t lens[64];
	char text[2048], *p = text;
	int argc = 0;
	argv[argc] = "EVAL";
	lens[argc++] = 4;
	argv[argc] = script;
	lens[argc++] = sizeof(script) - 1;
	arg(argv, lens, &argc, &p, "2");
	arg(argv, lens, &argc, &p, GK_KEY_DISC_TOTALS, day);
	arg(argv, lens, &argc, &p, "%s", id);
	arg(argv, lens, &argc, &p, "%u", GK_DISC_TTL_S);
	arg(argv, lens, &argc, &p, "%s", nonce);
	const struct {
		const char *name;
		uint64_t v;
	} plain[] = {{"queries", t->queries},
	             {"resolved", t->resolved},
	             {"monitored", t->monitored},
	             {"noreg", t->noreg}};
	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++) {
		if (plain[i].v == 0)
			continue;
		arg(argv, lens, &argc, &p, "%s", plain[i].name);
		arg(argv, lens, &argc, &p, "%llu", (unsigned long long)plain[i].v);
	}
	for (unsigned r = 0; r < GK_DISC_NREASONS; r++) {
		const uint64_t v[3] = {t->refused[r], t->overflow[r], t->dropped[r]};
		static const char *const pre[3] = {"refused", "overflow", "dropped"};
		for (int k = 0; k < 3; k++) {
			if (v[k] == 0)
				continue;
			arg(argv, lens, &argc, &p, "%s:%s", pre[k], reason_names[r]);
			arg(argv, lens, &argc, &p, "%llu", (unsigned long long)v[k]);
		}
	}
	return cmd(d, NULL, argc, argv, lens);
}

/* One EVAL of GK_DISC_LUA_MERGE for batch entries order[from, to) (same day and reason). */
static int write_chunk(gk_disc_t *d, uint32_t from, uint32_t to, const char *id, const char *nonce,
                       char *text, const char **argv, size_t *lens)
{
	static const char script[] = GK_DISC_LUA_MERGE;
	const gk_disc_table_t *bt = d->batch;
	const struct ent *e0 = &bt->ents[d->order[from]];
	char *p = text;
	int argc = 0;
	argv[argc] = "EVAL";
	lens[argc++] = 4;
	argv[argc] = script;
	lens[argc++] = sizeof(script) - 1;
	arg(argv, lens, &argc, &p, "3");
	arg(argv, lens, &argc, &p, GK_KEY_DISC_DOMAINS, e0->day, reason_names[e0->reason]);
	arg(argv, lens, &argc, &p, GK_KEY_DISC_TOTALS, e0->day);
	arg(argv, lens, &argc, &p, "%s", id);
	arg(argv, lens, &argc, &p, "%u", GK_DISC_TTL_S);
	arg(argv, lens, &argc, &p, "%u", d->conf.day_max ? d->conf.day_max : GK_DISC_DAY_MAX);
	arg(argv, lens, &argc, &p, "overflow:%s", reason_names[e0->reason]);
	arg(argv, lens, &argc, &p, "%s", nonce);
	for (uint32_t i = from; i < to; i++) {
		const struct ent *e = &bt->ents[d->order[i]];
		argv[argc] = p;
		lens[argc++] = gk_disc_name_text(bt->names + e->off, e->len, p);
		p += lens[argc - 1] + 1;
		arg(argv, lens, &argc, &p, "%u", e->count);
		arg(argv, lens, &argc, &p, "%u", e->first);
		arg(argv, lens, &argc, &p, "%u", e->last);
	}
	return cmd(d, NULL, argc, argv, lens);
}

/* Send the batch awaiting confirmation, or make the backlog the next batch and send it: one
 * MULTI/EXEC pipeline. The batch is kept until Redis confirms it (exec_cb). */
static void write_batch(gk_disc_t *d)
{
	if (!d->batch_ready) {
		if (!has_pending(d))
			return;
		gk_disc_table_t *t = d->batch;
		d->batch = d->pending;
		d->pending = t;
		memcpy(d->batch_days, d->days, sizeof(d->days));
		memset(d->days, 0, sizeof(d->days));
		d->batch_ready = true;
		d->seq++;
		uv_mutex_lock(&d->stats_lock);
		d->stats.pending = 0;
		uv_mutex_unlock(&d->stats_lock);
	}
	gk_disc_table_t *bt = d->batch;
	char id[160], nonce[24];
	snprintf(id, sizeof(id), GK_KEY_DISC_WRITE, d->token, (unsigned long long)d->seq);
	snprintf(nonce, sizeof(nonce), "%llu", (unsigned long long)++d->attempt);
	for (uint32_t i = 0; i < bt->n; i++)
		d->order[i] = i;
	qsort_r(d->order, bt->n, sizeof(*d->order), cmp_day_reason, bt);
	/* text: per domain up to 4 * 255 + 3 numbers; argv: 10 + 4 per domain */
	char *text = malloc(CHUNK * (4 * GK_DNAME_MAX + 40) + 512);
	const char **argv = malloc((10 + 4 * CHUNK) * sizeof(*argv));
	size_t *lens = malloc((10 + 4 * CHUNK) * sizeof(*lens));
	int rc = GK_ENOMEM;
	bool multi_sent = false;
	if (text == NULL || argv == NULL || lens == NULL)
		goto done;
	d->inflight_evals = 0;
	const char *multi[] = {"MULTI"};
	size_t mlen[] = {5};
	if ((rc = cmd(d, NULL, 1, multi, mlen)) != 0)
		goto done;
	multi_sent = true;
	for (uint32_t i = 0; i < bt->n && rc == 0;) {
		const struct ent *e = &bt->ents[d->order[i]];
		uint32_t j = i + 1;
		while (j < bt->n && j - i < CHUNK && bt->ents[d->order[j]].day == e->day &&
		       bt->ents[d->order[j]].reason == e->reason)
			j++;
		rc = write_chunk(d, i, j, id, nonce, text, argv, lens);
		d->inflight_evals++;
		i = j;
	}
	for (unsigned i = 0; i < PENDING_DAYS && rc == 0; i++)
		if (d->batch_days[i].day != 0 && !totals_empty(&d->batch_days[i].t))
			rc = write_totals(d, d->batch_days[i].day, &d->batch_days[i].t, id, nonce);
	const char *exec[] = {"EXEC"};
	size_t elen[] = {4};
	if (rc == 0)
		rc = cmd(d, exec_cb, 1, exec, elen);
	if (rc == 0)
		d->inflight = true;
done:
	if (rc != 0) {
		gk_log(GK_LOG_WARN, "discovery: cannot queue write %llu: %s (retried)",
		       (unsigned long long)d->seq, gk_strerror(rc));
		if (multi_sent) /* a transaction half queued: start over on a new connection */
			gk_redis_session_fail(d->rs, "a write could not be queued whole");
	}
	free(text);
	free(argv);
	free(lens);
}

/* ---- connection ---------------------------------------------------------------------- */

static void set_connected(gk_disc_t *d, bool up)
{
	d->connected = up;
	uv_mutex_lock(&d->stats_lock);
	d->stats.connected = up;
	uv_mutex_unlock(&d->stats_lock);
}

static void on_state(gk_redis_session_t *rs, gk_redis_session_state_t state, const char *why,
                     void *ctx)
{
	(void)rs;
	(void)why;
	gk_disc_t *d = ctx;
	if (state == GK_REDIS_SESSION_READY) {
		set_connected(d, true);
	} else if (state == GK_REDIS_SESSION_DOWN) {
		if (d->inflight)
			/* the write may or may not have been applied; it is re-sent with the same
			 * id, which Redis applies only if no attempt was (discovery.h) */
			gk_log(GK_LOG_INFO,
			       "discovery: write %llu unconfirmed: re-sent after reconnecting",
			       (unsigned long long)d->seq);
		d->inflight = false;
		set_connected(d, false);
	}
}

/* Close the session (pending callbacks are dropped; an unconfirmed batch stays batch_ready).
 * Only at stop: the session otherwise reconnects by itself. */
static void conn_close(gk_disc_t *d)
{
	gk_redis_session_close(d->rs);
	d->rs = NULL;
	d->inflight = false;
	set_connected(d, false);
}

static void clock_cb(uv_timer_t *t)
{
	gk_disc_t *d = t->data;
	atomic_store_explicit(&d->now_s, (uint32_t)time(NULL), memory_order_relaxed);
}

static void tick_cb(uv_timer_t *t)
{
	gk_disc_t *d = t->data;
	uint32_t now = (uint32_t)time(NULL);
	atomic_store_explicit(&d->now_s, now, memory_order_relaxed);
	collect(d, now, false);
	if (d->connected && !d->inflight)
		write_batch(d);
}

/* ---- thread ------------------------------------------------------------------------------ */

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

/* Stopping: write what is left (a batch awaiting confirmation, then the backlog) until done
 * or STOP_WAIT_MS; what could not be written is counted as lost and logged. */
static void final_cb(uv_timer_t *t)
{
	gk_disc_t *d = t->data;
	uint64_t ms = mono_ms();
	bool more = d->batch_ready || has_pending(d);
	if ((more || d->inflight) && ms < d->stop_deadline_ms) {
		if (d->connected && !d->inflight) /* the session reconnects by itself */
			write_batch(d);
		return;
	}
	conn_close(d); /* an unconfirmed batch stays batch_ready */
	uint64_t q = (d->batch_ready ? days_queries(d->batch_days) : 0) + days_queries(d->days);
	if (q > 0) {
		gk_log(GK_LOG_WARN,
		       "discovery: redis unreachable at stop: %llu queries not written",
		       (unsigned long long)q);
		uv_mutex_lock(&d->stats_lock);
		d->stats.lost += q;
		uv_mutex_unlock(&d->stats_lock);
	}
	uv_close((uv_handle_t *)&d->tick, NULL);
}

static void stop_cb(uv_async_t *a)
{
	gk_disc_t *d = a->data;
	d->stopping = true;
	uv_close((uv_handle_t *)&d->stop_async, NULL);
	uv_close((uv_handle_t *)&d->clock, NULL);
	/* the workers have stopped: their tables are ours */
	uint32_t now = (uint32_t)time(NULL);
	collect(d, now, true);
	for (unsigned i = 0; i < d->conf.workers; i++) {
		gk_disc_table_t *t = atomic_load(&d->w[i].active);
		merge_table(d, t, now);
		gk_disc_table_reset(t);
	}
	d->stop_deadline_ms = mono_ms() + STOP_WAIT_MS;
	uv_timer_stop(&d->tick);
	uv_timer_start(&d->tick, final_cb, 0, 10);
}

static void thread_main(void *arg)
{
	gk_disc_t *d = arg;
	gk_thread_name("gk-discovery");
	uv_run(&d->loop, UV_RUN_DEFAULT);
	conn_close(d);
	uv_walk(&d->loop, close_walk, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
}

int gk_disc_start(gk_disc_t *d)
{
	if (d->started)
		return GK_EINVAL;
	int rc = uv_loop_init(&d->loop);
	if (rc != 0)
		return rc;
	d->loop_ready = true;
	uv_async_init(&d->loop, &d->stop_async, stop_cb);
	uv_timer_init(&d->loop, &d->tick);
	uv_timer_init(&d->loop, &d->clock);
	d->stop_async.data = d->tick.data = d->clock.data = d;
	uv_timer_start(&d->tick, tick_cb, d->conf.flush_ms, d->conf.flush_ms);
	uv_timer_start(&d->clock, clock_cb, CLOCK_MS, CLOCK_MS);
	gk_redis_session_conf_t sc = {.who = "discovery",
	                              .target = &d->target,
	                              .auth = &d->auth,
	                              .connect_timeout_ms = d->conf.connect_timeout_ms,
	                              .command_timeout_ms = WRITE_TIMEOUT_MS,
	                              .backoff_min_ms = BACKOFF_MIN_MS,
	                              .reconnect_max_ms = d->conf.reconnect_max_ms,
	                              .lost_quiet = true, /* the status loop warns */
	                              .on_state = on_state,
	                              .on_readonly = on_readonly,
	                              .ctx = d};
	if ((rc = gk_redis_session_create(&d->loop, &sc, &d->rs)) != 0) {
		uv_walk(&d->loop, close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
		d->loop_ready = false;
		return rc;
	}
	gk_redis_session_start(d->rs);
	if ((rc = uv_thread_create(&d->thread, thread_main, d)) != 0) {
		conn_close(d);
		uv_walk(&d->loop, close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
		d->loop_ready = false;
		return rc;
	}
	d->started = true;
	return 0;
}

void gk_disc_stop(gk_disc_t *d)
{
	if (d == NULL || !d->started)
		return;
	uv_async_send(&d->stop_async);
	uv_thread_join(&d->thread);
	if (uv_loop_close(&d->loop) != 0)
		gk_log(GK_LOG_ERR, "discovery: loop still busy at close");
	d->loop_ready = false;
	d->started = false;
}
