/* SPDX-License-Identifier: MIT */
/* src/zone/loader.c -- build many zones on a pool of threads.
 *
 * Each thread takes the next zone in the order given, builds it alone (gk_zone_ver_build: its
 * own arena, its own ldns state, nothing shared but the read-only spec and PSL) and appends
 * the result to a queue that the caller drains with gk_zone_build_take. One mutex guards the
 * queue and the next index: it is taken twice per zone, against tens of microseconds or
 * more of building, so it is never contended enough to matter (measured: 200,000 bench
 * zones on 2 threads, docs/ARCHITECTURE.md), and the caller's thread is the store's single
 * writer, which a lock-free queue would not make any faster.
 *
 * The caller is woken once per GK_ZONE_BUILD_NOTIFY_BATCH results, not per zone: on a server
 * pinned to one core every wake-up is a switch from the loader to the main loop and back, and
 * waking per zone cost a million of them at a million zones (with libuv's uv_async_send
 * spinning in sched_yield when the loader was preempted inside it). The caller polls for the
 * rest (zoneload.c: every few milliseconds while loading).
 */

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gk/errors.h"
#include "zone/zone.h"

struct result {
	size_t index;
	gk_zver_t *v;
	int rc;
	char *err; /* malloc'd, failures only */
};

struct gk_zload {
	const gk_zone_spec_t *specs;
	size_t n;
	const struct gk_psl *psl;
	void (*notify)(void *ctx);
	void *ctx;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t next;     /* next zone to build */
	size_t inflight; /* zones being built */
	size_t handed;   /* results given to the caller */
	bool cancel;
	bool notified; /* notify called since the last take */
	struct result *q;
	size_t qn, qcap;
	pthread_t *threads;
	unsigned nthreads;
};

unsigned gk_zone_build_cpus(void)
{
	cpu_set_t set;
	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (unsigned)CPU_COUNT(&set);
	return 1;
}

/* Append a result (under mu). Out of memory for the queue itself: the version is freed and
 * the zone reported as failed, which needs no memory. */
static void push(gk_zload_t *zl, size_t index, gk_zver_t *v, int rc, const char *err)
{
	static const char nomem[] = "out of memory while loading zones";
	if (zl->qn == zl->qcap) {
		size_t nc = zl->qcap ? zl->qcap * 2 : 256;
		struct result *nq = realloc(zl->q, nc * sizeof(*nq));
		if (nq) {
			zl->q = nq;
			zl->qcap = nc;
		}
	}
	char *e = NULL;
	if (rc < 0)
		e = strdup(err[0] ? err : nomem);
	if (zl->qn == zl->qcap) { /* realloc failed: there is no room even for this */
		gk_zone_ver_free(v);
		free(e);
		zl->handed++; /* lost: counted so that waiters end */
		return;
	}
	zl->q[zl->qn++] = (struct result){.index = index, .v = v, .rc = rc, .err = e};
}

static void *worker(void *arg)
{
	gk_zload_t *zl = arg;
	char err[600];
	pthread_mutex_lock(&zl->mu);
	while (!zl->cancel && zl->next < zl->n) {
		size_t i = zl->next++;
		zl->inflight++;
		pthread_mutex_unlock(&zl->mu);
		gk_zver_t *v = NULL;
		err[0] = 0;
		int rc = gk_zone_ver_build(&zl->specs[i], zl->psl, &v, err, sizeof(err));
		pthread_mutex_lock(&zl->mu);
		zl->inflight--;
		push(zl, i, rc == 0 ? v : NULL, rc, err);
		bool last = zl->next >= zl->n && zl->inflight == 0;
		bool tell = !zl->notified && zl->notify &&
		            (zl->qn >= GK_ZONE_BUILD_NOTIFY_BATCH || last || rc < 0);
		if (tell)
			zl->notified = true;
		pthread_cond_broadcast(&zl->cv);
		if (tell) {
			pthread_mutex_unlock(&zl->mu);
			zl->notify(zl->ctx);
			pthread_mutex_lock(&zl->mu);
		}
	}
	pthread_cond_broadcast(&zl->cv); /* a waiter may be waiting for in-flight work to end */
	pthread_mutex_unlock(&zl->mu);
	return NULL;
}

int gk_zone_build_start(const gk_zone_spec_t *specs, size_t n, const struct gk_psl *psl,
                        unsigned threads, void (*notify)(void *ctx), void *ctx, gk_zload_t **out)
{
	gk_zload_t *zl = calloc(1, sizeof(*zl));
	if (!zl)
		return GK_ENOMEM;
	if (threads == 0)
		threads = gk_zone_build_cpus();
	if (threads > n)
		threads = n ? (unsigned)n : 1;
	zl->specs = specs;
	zl->n = n;
	zl->psl = psl;
	zl->notify = notify;
	zl->ctx = ctx;
	pthread_mutex_init(&zl->mu, NULL);
	pthread_cond_init(&zl->cv, NULL);
	zl->threads = calloc(threads, sizeof(*zl->threads));
	if (!zl->threads) {
		gk_zone_build_free(zl);
		return GK_ENOMEM;
	}
	for (unsigned i = 0; i < threads; i++) {
		if (pthread_create(&zl->threads[i], NULL, worker, zl) != 0)
			break;
		zl->nthreads++;
	}
	if (zl->nthreads == 0) {
		gk_zone_build_free(zl);
		return GK_EAGAIN;
	}
	*out = zl;
	return 0;
}

/* Nothing more can come: everything handed over, or cancelled with nothing in flight. */
static bool finished(const gk_zload_t *zl)
{
	return zl->handed >= zl->n || (zl->cancel && zl->inflight == 0) ||
	       (zl->next >= zl->n && zl->inflight == 0 && zl->handed + zl->qn >= zl->n);
}

size_t gk_zone_build_take(gk_zload_t *zl, bool wait, size_t max, gk_zload_fn fn, void *ctx)
{
	pthread_mutex_lock(&zl->mu);
	while (wait && zl->qn == 0 && !finished(zl))
		pthread_cond_wait(&zl->cv, &zl->mu);
	size_t k = zl->qn;
	if (max && k > max)
		k = max;
	struct result *batch = NULL;
	if (k) {
		batch = malloc(k * sizeof(*batch));
		if (!batch) /* hand over one at a time from the queue itself */
			k = 1;
	}
	struct result one;
	if (k && !batch)
		batch = &one;
	if (k) {
		memcpy(batch, zl->q, k * sizeof(*batch));
		memmove(zl->q, zl->q + k, (zl->qn - k) * sizeof(*batch));
		zl->qn -= k;
		zl->handed += k;
	}
	/* a whole batch more already queued: the caller is told again at this take's end */
	bool again =
	    zl->notify && zl->qn > 0 &&
	    (zl->qn >= GK_ZONE_BUILD_NOTIFY_BATCH || (zl->next >= zl->n && zl->inflight == 0));
	zl->notified = again;
	pthread_mutex_unlock(&zl->mu);
	for (size_t i = 0; i < k; i++) {
		fn(ctx, batch[i].index, batch[i].v, batch[i].rc, batch[i].err ? batch[i].err : "");
		free(batch[i].err);
	}
	if (batch != &one)
		free(batch);
	if (again)
		zl->notify(zl->ctx);
	return k;
}

bool gk_zone_build_done(const gk_zload_t *zl)
{
	pthread_mutex_lock((pthread_mutex_t *)&zl->mu);
	bool d = zl->handed >= zl->n;
	pthread_mutex_unlock((pthread_mutex_t *)&zl->mu);
	return d;
}

void gk_zone_build_cancel(gk_zload_t *zl)
{
	pthread_mutex_lock(&zl->mu);
	zl->cancel = true;
	pthread_cond_broadcast(&zl->cv);
	pthread_mutex_unlock(&zl->mu);
}

void gk_zone_build_free(gk_zload_t *zl)
{
	if (!zl)
		return;
	gk_zone_build_cancel(zl);
	for (unsigned i = 0; i < zl->nthreads; i++)
		pthread_join(zl->threads[i], NULL);
	for (size_t i = 0; i < zl->qn; i++) {
		gk_zone_ver_free(zl->q[i].v);
		free(zl->q[i].err);
	}
	free(zl->q);
	free(zl->threads);
	pthread_cond_destroy(&zl->cv);
	pthread_mutex_destroy(&zl->mu);
	free(zl);
}
