/* SPDX-License-Identifier: MIT */
/* src/obs/disc_writer.c -- discovery's Redis writer: the backlog written as MULTI/EXEC
 * pipelines of EVALs (include/gk/discovery.h: keys, scripts, exactly-once write ids) over the
 * writer's own session (src/redis/session.h: AUTH, timeouts, reconnects, Sentinel), driven by
 * the merger thread (discovery.c).
 *
 * Paced: a batch goes out as writes of GK_DISC_WRITE_ENTRIES domains, each its own
 * transaction and write sequence, the next GK_DISC_WRITE_GAP_MS after Redis confirms the one
 * before (right after it for a batch above GK_DISC_WRITE_ENTRIES x GK_DISC_WRITE_SPREAD:
 * a peak's backlog drains at Redis's pace, still in short runs); the day totals go with the
 * last. Redis runs a transaction without a break, and the merge script costs it about 13
 * microseconds a domain: the backlog of one second at 20,000 qps of a million zones (3,800
 * refused domains) written whole kept a redis-server that shares the server's core busy for
 * tens of milliseconds at a time, and the UDP thread, woken meanwhile, waited behind it (a p99
 * of 1.1 ms where NSD's was 0.57); in writes of 128 it still waited up to 1.7 ms now and then
 * (the scheduler does not take the core from a process owed its share). Writes of 16 keep
 * each run of Redis near 0.2 ms. When stopping, what is left goes in one write.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "common/dname.h"
#include "common/log.h"
#include "obs/internal.h"
#include "status/status.h"

#define WRITE_TIMEOUT_MS 5000u
#define BACKOFF_MIN_MS   100u

static const char *const reason_names[GK_DISC_NREASONS] = GK_DISC_REASON_NAMES;

/* ---- writing ------------------------------------------------------------------------- */

static int cmp_day_reason(const void *a, const void *b, void *arg)
{
	const gk_disc_table_t *t = arg;
	const struct gk_disc_ent *x = &t->ents[*(const uint32_t *)a],
	                         *y = &t->ents[*(const uint32_t *)b];
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

bool gk_obs_disc_has_pending(const gk_disc_t *d)
{
	if (d->pending->n > 0)
		return true;
	for (unsigned i = 0; i < GK_DISC_PENDING_DAYS; i++)
		if (d->days[i].day != 0 && !totals_empty(&d->days[i].t))
			return true;
	return false;
}

uint64_t gk_obs_disc_days_queries(const struct gk_disc_daytot *days)
{
	uint64_t q = 0;
	for (unsigned i = 0; i < GK_DISC_PENDING_DAYS; i++)
		q += days[i].t.queries;
	return q;
}

static void batch_done(gk_disc_t *d)
{
	gk_obs_disc_table_reset(d->batch);
	memset(d->batch_days, 0, sizeof(d->batch_days));
	d->batch_ready = false;
	d->batch_from = d->batch_to = 0;
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

static void pace_cb(uv_timer_t *t)
{
	gk_disc_t *d = t->data;
	if (d->connected && !d->inflight && d->batch_ready)
		gk_obs_disc_write_batch(d);
}

static void exec_cb(gk_redis_session_t *rs, redisReply *rep, void *priv)
{
	gk_disc_t *d = priv;
	d->inflight = false;
	gk_redis_session_check_write(rs, rep);
	if (rep->type != REDIS_REPLY_ARRAY) {
		uint64_t q = gk_obs_disc_days_queries(d->batch_days);
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
	bool last = d->batch_to >= d->batch->n;
	uv_mutex_lock(&d->stats_lock);
	d->stats.flushes++;
	d->stats.written += d->batch_to - d->batch_from;
	if (last)
		d->stats.queries += gk_obs_disc_days_queries(d->batch_days);
	if (!dup)
		d->stats.capped += capped;
	uv_mutex_unlock(&d->stats_lock);
	if (last) {
		batch_done(d);
		return;
	}
	d->batch_from = d->batch_to;
	d->seq++; /* the next write of the batch has an id of its own */
	uv_timer_start(&d->pace, pace_cb, gk_obs_disc_write_gap_ms(d->batch->n), 0);
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
	const struct gk_disc_ent *e0 = &bt->ents[d->order[from]];
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
		const struct gk_disc_ent *e = &bt->ents[d->order[i]];
		argv[argc] = p;
		lens[argc++] = gk_obs_disc_name_text(bt->names + e->off, e->len, p);
		p += lens[argc - 1] + 1;
		arg(argv, lens, &argc, &p, "%u", e->count);
		arg(argv, lens, &argc, &p, "%u", e->first);
		arg(argv, lens, &argc, &p, "%u", e->last);
	}
	return cmd(d, NULL, argc, argv, lens);
}

/* Send the batch awaiting confirmation, or make the backlog the next batch and send it: one
 * MULTI/EXEC pipeline. The batch is kept until Redis confirms it (exec_cb). */
void gk_obs_disc_write_batch(gk_disc_t *d)
{
	if (!d->batch_ready) {
		if (!gk_obs_disc_has_pending(d))
			return;
		gk_disc_table_t *t = d->batch;
		d->batch = d->pending;
		d->pending = t;
		memcpy(d->batch_days, d->days, sizeof(d->days));
		memset(d->days, 0, sizeof(d->days));
		d->batch_ready = true;
		d->batch_from = 0;
		d->seq++;
		uv_mutex_lock(&d->stats_lock);
		d->stats.pending = 0;
		uv_mutex_unlock(&d->stats_lock);
		for (uint32_t i = 0; i < d->batch->n; i++)
			d->order[i] = i;
		qsort_r(d->order, d->batch->n, sizeof(*d->order), cmp_day_reason, d->batch);
	}
	uv_timer_stop(&d->pace);
	gk_disc_table_t *bt = d->batch;
	/* a write not confirmed is re-sent as it was (same entries, same id): an attempt of it
	 * may have been applied, and its id then turns the whole re-sent write into nothing */
	if (d->batch_to <= d->batch_from) {
		uint32_t left = bt->n - d->batch_from;
		d->batch_to =
		    d->batch_from +
		    (d->stopping || left < GK_DISC_WRITE_ENTRIES ? left : GK_DISC_WRITE_ENTRIES);
	}
	bool last = d->batch_to >= bt->n;
	char id[160], nonce[48];
	snprintf(id, sizeof(id), GK_KEY_DISC_WRITE, d->token);
	snprintf(nonce, sizeof(nonce), "%llu %llu", (unsigned long long)d->seq,
	         (unsigned long long)++d->attempt);
	/* one EVAL's arguments at a time: hiredis copies each command into its output buffer */
	char *text = d->wtext;
	const char **argv = d->wargv;
	size_t *lens = d->wlens;
	int rc;
	bool multi_sent = false;
	d->inflight_evals = 0;
	const char *multi[] = {"MULTI"};
	size_t mlen[] = {5};
	if ((rc = cmd(d, NULL, 1, multi, mlen)) != 0)
		goto done;
	multi_sent = true;
	for (uint32_t i = d->batch_from; i < d->batch_to && rc == 0;) {
		const struct gk_disc_ent *e = &bt->ents[d->order[i]];
		uint32_t j = i + 1;
		while (j < d->batch_to && j - i < GK_DISC_EVAL_DOMAINS &&
		       bt->ents[d->order[j]].day == e->day &&
		       bt->ents[d->order[j]].reason == e->reason)
			j++;
		rc = write_chunk(d, i, j, id, nonce, text, argv, lens);
		d->inflight_evals++;
		i = j;
	}
	for (unsigned i = 0; i < GK_DISC_PENDING_DAYS && rc == 0 && last; i++)
		if (d->batch_days[i].day != 0 && !totals_empty(&d->batch_days[i].t))
			rc = write_totals(d, d->batch_days[i].day, &d->batch_days[i].t, id, nonce);
	const char *exec[] = {"EXEC"};
	size_t elen[] = {4};
	if (rc == 0)
		rc = cmd(d, exec_cb, 1, exec, elen);
	if (rc == 0) {
		d->inflight = true;
		uv_mutex_lock(&d->stats_lock);
		d->stats.sent++;
		uv_mutex_unlock(&d->stats_lock);
	}
done:
	if (rc != 0) {
		gk_log(GK_LOG_WARN, "discovery: cannot queue write %llu: %s (retried)",
		       (unsigned long long)d->seq, gk_strerror(rc));
		if (multi_sent) /* a transaction half queued: start over on a new connection */
			gk_redis_session_fail(d->rs, "a write could not be queued whole");
	}
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
		gk_obs_disc_sites_lost(d);
	}
}

void gk_obs_disc_writer_close(gk_disc_t *d)
{
	gk_redis_session_close(d->rs);
	d->rs = NULL;
	d->inflight = false;
	gk_obs_disc_sites_lost(d);
	set_connected(d, false);
}

int gk_obs_disc_writer_open(gk_disc_t *d)
{
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
	int rc = gk_redis_session_create(&d->loop, &sc, &d->rs);
	if (rc != 0)
		return rc;
	gk_redis_session_start(d->rs);
	return 0;
}
