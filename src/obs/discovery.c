/* SPDX-License-Identifier: MIT */
/* src/obs/discovery.c -- the discovery service: creation, stats, and the merger thread
 * whose timers collect the workers' tables (disc_merge.c) and write the backlog to Redis
 * (disc_writer.c). The design is in src/obs/discovery.h; the files in src/obs/internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "common/log.h"
#include "common/thread.h"
#include "obs/internal.h"

#define STOP_WAIT_MS 1000u
#define CLOCK_MS     100u

static uint64_t mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int gk_obs_disc_create(const gk_disc_conf_t *conf, gk_disc_t **out)
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
	    gk_redis_auth_copy(&d->auth, conf->redis_auth) != 0 || gk_obs_disc_sites_create(d) != 0)
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
		if ((rc = gk_obs_disc_table_create(conf->table_size, &a)) != 0)
			goto fail;
		atomic_init(&d->w[i].active, a);
		atomic_init(&d->w[i].busy, 0);
		d->w[i].now_s = &d->now_s;
		if ((rc = gk_obs_disc_table_create(conf->table_size, &d->w[i].spare)) != 0)
			goto fail;
		bytes += gk_obs_disc_table_bytes(a) + gk_obs_disc_table_bytes(d->w[i].spare);
	}
	uint64_t pmax = (uint64_t)conf->table_size * GK_DISC_PENDING_FACTOR;
	if (pmax > GK_DISC_TABLE_MAX)
		pmax = GK_DISC_TABLE_MAX;
	if ((rc = gk_obs_disc_table_create((uint32_t)pmax, &d->pending)) != 0 ||
	    (rc = gk_obs_disc_table_create((uint32_t)pmax, &d->batch)) != 0)
		goto fail;
	rc = GK_ENOMEM;
	if ((d->order = malloc(pmax * sizeof(*d->order))) == NULL ||
	    (d->wtext = malloc(GK_DISC_EVAL_TEXT)) == NULL ||
	    (d->wargv = malloc(GK_DISC_EVAL_ARGS * sizeof(*d->wargv))) == NULL ||
	    (d->wlens = malloc(GK_DISC_EVAL_ARGS * sizeof(*d->wlens))) == NULL)
		goto fail;
	bytes += gk_obs_disc_table_bytes(d->pending) + gk_obs_disc_table_bytes(d->batch) +
	         pmax * sizeof(*d->order) + GK_DISC_EVAL_TEXT +
	         GK_DISC_EVAL_ARGS * (sizeof(*d->wargv) + sizeof(*d->wlens));
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(d->token, sizeof(d->token), "%lx.%lx.%lx", (unsigned long)getpid(),
	         (unsigned long)ts.tv_sec, (unsigned long)ts.tv_nsec);
	d->stats.table_bytes = bytes;
	atomic_init(&d->now_s, (uint32_t)time(NULL));
	*out = d;
	return 0;
fail:
	gk_obs_disc_free(d);
	return rc;
}

void gk_obs_disc_free(gk_disc_t *d)
{
	if (d == NULL)
		return;
	gk_obs_disc_stop(d);
	if (d->w != NULL) {
		for (unsigned i = 0; i < d->conf.workers; i++) {
			gk_obs_disc_table_free(atomic_load(&d->w[i].active));
			gk_obs_disc_table_free(d->w[i].spare);
			gk_obs_disc_table_free(d->w[i].collect);
		}
		free(d->w);
	}
	gk_obs_disc_table_free(d->pending);
	gk_obs_disc_table_free(d->batch);
	gk_obs_disc_sites_free(d);
	free(d->order);
	free(d->wtext);
	free(d->wargv);
	free(d->wlens);
	gk_redis_auth_clear(&d->auth);
	free(d->host);
	free(d->unix_path);
	uv_mutex_destroy(&d->stats_lock);
	free(d);
}

void gk_obs_disc_stats(gk_disc_t *d, gk_disc_stats_t *out)
{
	uv_mutex_lock(&d->stats_lock);
	*out = d->stats;
	uv_mutex_unlock(&d->stats_lock);
}

/* ---- the merger thread ----------------------------------------------------------------- */

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
	gk_obs_disc_collect(d, now, false);
	/* a batch being written goes on at its own pace (disc_writer.c) */
	if (d->connected && !d->inflight && !uv_is_active((uv_handle_t *)&d->pace))
		gk_obs_disc_write_batch(d);
	gk_obs_disc_sites_write(d);
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
	bool more = d->batch_ready || gk_obs_disc_has_pending(d);
	if ((more || d->inflight) && ms < d->stop_deadline_ms) {
		if (d->connected && !d->inflight) /* the session reconnects by itself */
			gk_obs_disc_write_batch(d);
		return;
	}
	gk_obs_disc_writer_close(d); /* an unconfirmed batch stays batch_ready */
	uint64_t q = (d->batch_ready ? gk_obs_disc_days_queries(d->batch_days) : 0) +
	             gk_obs_disc_days_queries(d->days);
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
	gk_obs_disc_collect(d, now, true);
	for (unsigned i = 0; i < d->conf.workers; i++) {
		gk_disc_table_t *t = atomic_load(&d->w[i].active);
		gk_obs_disc_merge_table(d, t, now);
		gk_obs_disc_table_reset(t);
	}
	d->stop_deadline_ms = mono_ms() + STOP_WAIT_MS;
	uv_timer_stop(&d->tick);
	uv_timer_stop(&d->pace); /* what is left goes in one write */
	uv_timer_start(&d->tick, final_cb, 0, 10);
}

static void thread_main(void *arg)
{
	gk_disc_t *d = arg;
	gk_thread_name("gk-discovery");
	uv_run(&d->loop, UV_RUN_DEFAULT);
	gk_obs_disc_writer_close(d);
	uv_walk(&d->loop, close_walk, NULL);
	uv_run(&d->loop, UV_RUN_DEFAULT);
}

int gk_obs_disc_start(gk_disc_t *d)
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
	uv_timer_init(&d->loop, &d->pace);
	d->stop_async.data = d->tick.data = d->clock.data = d->pace.data = d;
	uv_timer_start(&d->tick, tick_cb, d->conf.flush_ms, d->conf.flush_ms);
	uv_timer_start(&d->clock, clock_cb, CLOCK_MS, CLOCK_MS);
	if ((rc = gk_obs_disc_writer_open(d)) != 0) {
		uv_walk(&d->loop, close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
		d->loop_ready = false;
		return rc;
	}
	if ((rc = uv_thread_create(&d->thread, thread_main, d)) != 0) {
		gk_obs_disc_writer_close(d);
		uv_walk(&d->loop, close_walk, NULL);
		uv_run(&d->loop, UV_RUN_DEFAULT);
		uv_loop_close(&d->loop);
		d->loop_ready = false;
		return rc;
	}
	d->started = true;
	return 0;
}

void gk_obs_disc_stop(gk_disc_t *d)
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
