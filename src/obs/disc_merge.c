/* SPDX-License-Identifier: MIT */
/* src/obs/disc_merge.c -- discovery's hand-off from the workers and the merge into the
 * merger's backlog (src/obs/discovery.h explains why one busy flag per worker is enough).
 *
 * <stdatomic.h> is used here beside common/snapshot: the handoff needs a per-query busy flag
 * rather than per-loop quiescent points, because a worker idle in epoll must still hand over
 * what it counted before it went idle, and the packet path is the only hook workers call.
 */
#include <stdatomic.h>
#include <sched.h>
#include "obs/internal.h"

gk_disc_worker_t *gk_obs_disc_worker(gk_disc_t *d, unsigned i)
{
	return d != NULL && i < d->conf.workers ? &d->w[i] : NULL;
}

void gk_obs_disc_record(gk_disc_worker_t *w, const uint8_t *q, const gk_pkt_result_t *res)
{
	if (w == NULL || (res->filing == GK_PKT_NOCHECK && res->why == GK_WHY_NONE))
		return;
	atomic_store(&w->busy, 1); /* seq_cst: ordered before the pointer load below */
	gk_disc_table_t *t = atomic_load(&w->active);
	gk_obs_disc_table_record(t, q, res, atomic_load_explicit(w->now_s, memory_order_relaxed));
	atomic_store_explicit(&w->busy, 0, memory_order_release);
}

/* ---- merging ------------------------------------------------------------------------- */

static gk_disc_totals_t *day_totals(gk_disc_t *d, uint32_t day)
{
	struct gk_disc_daytot *free_slot = NULL;
	for (unsigned i = 0; i < GK_DISC_PENDING_DAYS; i++) {
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
	struct gk_disc_daytot *latest = &d->days[0];
	for (unsigned i = 1; i < GK_DISC_PENDING_DAYS; i++)
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
void gk_obs_disc_merge_table(gk_disc_t *d, gk_disc_table_t *t, uint32_t now)
{
	gk_disc_totals_t *dt = day_totals(d, gk_disc_day(now));
	totals_add(dt, &t->tot);
	uint64_t over = 0;
	for (unsigned r = 0; r < GK_DISC_NREASONS; r++)
		over += t->tot.overflow[r];
	uint64_t dropped = 0;
	for (uint32_t i = 0; i < t->n; i++) {
		const struct gk_disc_ent *e = &t->ents[i];
		uint32_t day = gk_disc_day(e->first);
		if (gk_obs_disc_table_add_lower(d->pending, t->names + e->off, e->len, e->reason,
		                                day, e->count, e->first, e->last) != 0) {
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
void gk_obs_disc_collect(gk_disc_t *d, uint32_t now, bool final)
{
	for (unsigned i = 0; i < d->conf.workers; i++) {
		struct gk_obs_disc_worker *w = &d->w[i];
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
		gk_obs_disc_merge_table(d, w->collect, now);
		gk_obs_disc_table_reset(w->collect);
		w->spare = w->collect;
		w->collect = NULL;
	}
}
