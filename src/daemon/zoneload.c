/* SPDX-License-Identifier: MIT */
/* src/daemon/zoneload.c -- start-up zone loading (see zoneload.h).
 *
 * The loader threads hand each built version over through gk_zload's queue and wake the
 * main loop with a uv_async; the loop publishes at most BATCH versions per turn (each one
 * an index update and the retirement of its placeholder), so signals, scrapes and the
 * status thread's hand-overs are never held up behind a million zones. The loader wakes the
 * loop once per GK_ZONE_BUILD_NOTIFY_BATCH zones (a wake-up per zone was a context switch per
 * zone on a server pinned to one core); between those the loop takes what is there every
 * POLL_MS, so a zone answers within a few milliseconds of being built.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "daemon/zoneload.h"

#define PROGRESS_MS 2000
#define BATCH       2048
#define POLL_MS     5

struct gk_zoneload {
	uv_async_t async;
	uv_timer_t progress;
	uv_timer_t poll;  /* takes what is built between the loader's wake-ups */
	unsigned closing; /* handles not yet closed */
	gk_zoneset_t *zs;
	const gk_zone_spec_t *specs;
	size_t n;
	gk_zload_t *zl; /* NULL once every zone was handed over */
	gk_zoneload_cbs_t cbs;
	size_t loaded, failed; /* of the start-up zones */
	size_t last_loaded;    /* at the last progress line */
	uint64_t t0, t_last, t_ready;
	unsigned threads;
	const struct gk_psl *psl;
	bool running; /* the loader threads were started (gk_daemon_zoneload_run) */
	char source[256];
};

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static void built(void *ctx, size_t i, gk_zver_t *v, int rc, const char *err)
{
	gk_zoneload_t *L = ctx;
	const gk_zone_spec_t *spec = &L->specs[i];
	if (rc == 0 && (rc = gk_zone_store_put(L->zs, v)) != 0) {
		gk_zone_ver_free(v);
		err = "out of memory while publishing the zone";
	}
	if (rc == 0) {
		L->loaded++;
		if (L->cbs.zone)
			L->cbs.zone(L->cbs.ctx, spec, NULL);
		return;
	}
	L->failed++;
	gk_log(GK_LOG_ERR,
	       "start: zone %s not loaded (answers SERVFAIL until a reload loads it): %s",
	       spec->name, err);
	if (L->cbs.zone)
		L->cbs.zone(L->cbs.ctx, spec, err);
}

static void finish(gk_zoneload_t *L)
{
	uint64_t now = uv_hrtime();
	L->t_ready = now;
	gk_zone_build_free(L->zl);
	L->zl = NULL;
	uv_timer_stop(&L->progress);
	uv_timer_stop(&L->poll);
	/* what building left free in the heap (ldns records, build tables: a third of the
	 * resident memory after one 2M-record zone) goes back to the system */
	malloc_trim(0);
	double dt = secs(now - L->t0);
	gk_log(GK_LOG_INFO,
	       "ready: loaded %zu zones, %zu RRs from %s in %.2f s (%.0f zones/s on %u threads), "
	       "%zu failed%s",
	       L->loaded, gk_zone_store_rr_count(L->zs), L->source, dt,
	       dt > 0 ? (double)(L->loaded + L->failed) / dt : 0.0, L->threads, L->failed,
	       L->failed ? " (answering SERVFAIL)" : "");
	if (L->cbs.ready)
		L->cbs.ready(L->cbs.ctx);
}

static void async_cb(uv_async_t *a)
{
	gk_zoneload_t *L = a->data;
	if (!L->zl) {
		if (L->n == 0 && !L->t_ready)
			finish(L); /* no zone configured (secondary zones only) */
		return;
	}
	size_t k = gk_zone_build_take(L->zl, false, BATCH, built, L);
	if (k && L->cbs.published)
		L->cbs.published(L->cbs.ctx);
	if (L->loaded + L->failed == L->n)
		finish(L);
}

static void poll_cb(uv_timer_t *t)
{
	async_cb(&((gk_zoneload_t *)t->data)->async);
}

static void progress_cb(uv_timer_t *t)
{
	gk_zoneload_t *L = t->data;
	uint64_t now = uv_hrtime();
	size_t done = L->loaded + L->failed;
	double dt = secs(now - L->t_last);
	gk_log(GK_LOG_INFO, "zones: %zu of %zu loaded (%.0f zones/s), %zu remaining, %zu failed",
	       L->loaded, L->n, dt > 0 ? (double)(L->loaded - L->last_loaded) / dt : 0.0,
	       L->n - done, L->failed);
	L->last_loaded = L->loaded;
	L->t_last = now;
}

/* Loader thread: a zone is ready to publish. */
static void notify(void *ctx)
{
	gk_zoneload_t *L = ctx;
	uv_async_send(&L->async);
}

int gk_daemon_zoneload_start(uv_loop_t *loop, gk_zoneset_t *zs, const gk_zone_spec_t *specs,
                             size_t n, const struct gk_psl *psl, const char *source,
                             const gk_zoneload_cbs_t *cbs, gk_zoneload_t **out, char *err,
                             size_t errlen)
{
	gk_zoneload_t *L = calloc(1, sizeof(*L));
	if (!L) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	L->zs = zs;
	L->specs = specs;
	L->n = n;
	L->cbs = *cbs;
	snprintf(L->source, sizeof(L->source), "%s", source);
	/* every zone answers from the first moment: SERVFAIL until it is loaded; the
	 * placeholders in one block, gone once every zone is loaded (gk_zone_ver_placeholders) */
	gk_zver_t **ph = n ? malloc(n * sizeof(*ph)) : NULL;
	size_t bad = 0;
	int prc = n && !ph ? GK_ENOMEM : gk_zone_ver_placeholders(specs, n, ph, &bad);
	for (size_t i = 0; prc == 0 && i < n; i++)
		if ((prc = gk_zone_store_put(zs, ph[i])) != 0)
			for (size_t j = i; j < n; j++)
				gk_zone_ver_free(ph[j]);
	free(ph);
	if (prc != 0) {
		if (prc == GK_EINVAL)
			snprintf(err, errlen, "%s: bad zone name '%s'",
			         specs[bad].file ? specs[bad].file : source, specs[bad].name);
		else
			snprintf(err, errlen, "out of memory while loading zones");
		free(L);
		return prc;
	}
	int rc = uv_async_init(loop, &L->async, async_cb);
	if (rc != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		free(L);
		return GK_EAGAIN;
	}
	uv_timer_init(loop, &L->progress);
	uv_timer_init(loop, &L->poll);
	L->async.data = L->progress.data = L->poll.data = L;
	L->psl = psl;
	L->threads = gk_zone_build_cpus();
	*out = L;
	return 0;
}

int gk_daemon_zoneload_run(gk_zoneload_t *L, char *err, size_t errlen)
{
	if (L->running)
		return 0;
	L->running = true;
	L->t0 = L->t_last = uv_hrtime();
	int rc;
	if (L->n > 0 && (rc = gk_zone_build_start(L->specs, L->n, L->psl, L->threads, notify, L,
	                                          &L->zl)) != 0) {
		snprintf(err, errlen, "zone loader threads: %s", gk_strerror(rc));
		L->zl = NULL;
		return rc;
	}
	gk_log(GK_LOG_INFO,
	       "loading %zu zones from %s on %u threads; until loaded, a zone's names answer "
	       "SERVFAIL",
	       L->n, L->source, L->threads);
	if (L->n == 0)
		uv_async_send(&L->async); /* ready at the loop's first turn */
	else {
		uv_timer_start(&L->progress, progress_cb, PROGRESS_MS, PROGRESS_MS);
		uv_timer_start(&L->poll, poll_cb, POLL_MS, POLL_MS);
	}
	return 0;
}

bool gk_daemon_zoneload_ready(const gk_zoneload_t *L)
{
	return L == NULL || L->t_ready != 0;
}

void gk_daemon_zoneload_figures(void *arg, gk_obs_zones_t *z)
{
	if (!arg) {
		*z = (gk_obs_zones_t){0};
		return;
	}
	const gk_zoneload_t *L = arg;
	size_t ph = gk_zone_store_placeholder_count(L->zs), loading = L->n - L->loaded - L->failed;
	z->configured = gk_zone_store_zone_count(L->zs);
	z->loaded = z->configured - ph;
	z->loading = loading;
	z->failed = ph > loading ? ph - loading : 0;
	z->records = gk_zone_store_rr_count(L->zs);
	z->ready = L->t_ready != 0;
	z->load_seconds = L->t_ready ? secs(L->t_ready - L->t0) : 0;
}

static void closed_cb(uv_handle_t *h)
{
	gk_zoneload_t *L = h->data;
	if (--L->closing == 0)
		free(L);
}

void gk_daemon_zoneload_close(gk_zoneload_t *L)
{
	if (!L)
		return;
	gk_zone_build_free(L->zl); /* joins the threads: nothing sends to the async any more */
	L->zl = NULL;
	L->closing = 3;
	uv_close((uv_handle_t *)&L->async, closed_cb);
	uv_close((uv_handle_t *)&L->progress, closed_cb);
	uv_close((uv_handle_t *)&L->poll, closed_cb);
}
