/* SPDX-License-Identifier: MIT */
/* src/daemon/view.c -- the published view: build, copy, publish, reclamation.
 *
 * Workers read one view (zone store, packet options, policy) from the snapshot cell. A new
 * view is published with one atomic exchange; every worker is woken so it passes a
 * quiescent point soon, and a RECLAIM_MS timer polls gk_snapshot_reclaim() until the old
 * view and every zone version retired on the cell (gk_snapshot_retire) are freed.
 *
 * The filing-status replica's retired table memory rides on the same grace periods: every
 * RETIRE_MS the main loop takes what the status thread retired, attaches it to the current
 * view and publishes a copy of that view (sharing the zone set), so it is freed together
 * with the old view. Workers need no second cell. Main loop only, except the two
 * gk_daemon_on_status_* functions (status thread).
 *
 * The forwarded zones a view carries are the config's table and the secondary's forwarded
 * catalog members' (xfr/secondary.h), joined without a copy (pkt/fzones.h stack): a catalog
 * change publishes a copy of the view with the members' new table, the config's kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "common/log.h"
#include "daemon/internal.h"
#include "front/conf.h"
#include "pkt/fzones.h"

#define RECLAIM_MS 10
#define RETIRE_MS  20 /* retired status memory is collected this long after it is announced */

/* The forwarded zones' table, shared by a view and its copies: the config's (base) and the
 * forwarded catalog members' (mem, the secondary's) joined (t, pkt/fzones.h stack). Each
 * holds a reference. */
struct gk_daemon_fzref {
	gk_fzones_t *t, *base, *mem;
	unsigned refs; /* main loop only */
};

static void fzref_put(struct gk_daemon_fzref *r)
{
	if (r != NULL && --r->refs == 0) {
		gk_pkt_fzones_free(r->t);
		gk_pkt_fzones_free(r->base);
		gk_pkt_fzones_free(r->mem);
		free(r);
	}
}

/* A new reference to base and mem joined, or *out NULL when both are NULL. Returns 0 or
 * GK_ENOMEM. */
static int fzref_new(gk_fzones_t *base, gk_fzones_t *mem, struct gk_daemon_fzref **out)
{
	*out = NULL;
	if (base == NULL && mem == NULL)
		return 0;
	struct gk_daemon_fzref *r = calloc(1, sizeof(*r));
	if (r == NULL || gk_pkt_fzones_stack(base, mem, &r->t) != 0) {
		free(r);
		return GK_ENOMEM;
	}
	r->base = gk_pkt_fzones_hold(base);
	r->mem = gk_pkt_fzones_hold(mem);
	r->refs = 1;
	*out = r;
	return 0;
}

void gk_daemon_view_free(void *p)
{
	struct gk_daemon_view *v = p;
	fzref_put(v->fz);
	gk_status_retired_free(v->retired);
	gk_daemon_polref_put(v->pol);
	free(v);
}

int gk_daemon_view_build(gk_zoneset_t *zs, const gk_config_t *cfg, gk_status_t *status,
                         const gk_psl_t *psl, struct gk_daemon_polref *pol, gk_fzones_t *members,
                         struct gk_daemon_view **out, char *err, size_t errlen)
{
	struct gk_daemon_view *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	v->v.zs = zs;
	v->v.rrl = cfg->rrl;
	_Static_assert(GK_CONFIG_PROXY_MAX == GK_NET_PROXY_MAX, "proxy_protocol.from sizes");
	v->v.proxy.n = cfg->n_proxy_from;
	memcpy(v->v.proxy.from, cfg->proxy_from, sizeof(v->v.proxy.from));
	if (pol != NULL) {
		pol->refs++;
	} else if (status != NULL) {
		/* no policy file nor fleet policy: the config's filing.* rules as the policy */
		gk_policy_t *p = NULL;
		int rc = gk_daemon_config_default_policy(cfg, &p);
		if (rc == 0 && p != NULL && (pol = gk_daemon_polref_new(p, 0)) == NULL) {
			gk_policy_free(p);
			rc = GK_ENOMEM;
		}
		if (rc != 0) {
			free(v);
			snprintf(err, errlen, "out of memory");
			return rc;
		}
	}
	v->pol = pol;
	gk_daemon_config_pkt_opts(cfg, status, psl, pol ? pol->p : NULL, &v->v.opts);
	gk_fzones_t *fzt = NULL;
	int frc = gk_front_conf_fzones(cfg->front, &fzt);
	if (frc == 0 && (frc = fzref_new(fzt, members, &v->fz)) == 0 && v->fz != NULL)
		v->v.opts.fwd = v->fz->t;
	gk_pkt_fzones_free(fzt); /* the view's reference, if any, is its own */
	if (frc != 0) {
		gk_daemon_polref_put(v->pol);
		free(v);
		snprintf(err, errlen, "%s: forwarded zones: %s", cfg->path, gk_strerror(frc));
		return frc;
	}
	*out = v;
	return 0;
}

/* A copy of cur sharing its zone set and policy (references taken), without its retired
 * memory; NULL when out of memory. gk_daemon_view_free() undoes it. */
struct gk_daemon_view *gk_daemon_view_copy(const struct gk_daemon_view *cur)
{
	struct gk_daemon_view *v = malloc(sizeof(*v));
	if (v == NULL)
		return NULL;
	*v = *cur;
	v->retired = NULL;
	if (v->pol != NULL)
		v->pol->refs++;
	if (v->fz != NULL)
		v->fz->refs++;
	return v;
}

void gk_daemon_view_members(gk_server_t *s)
{
	gk_fzones_t *mem = gk_xfr_secondary_forwarded(s->sec);
	const struct gk_daemon_view *cur = gk_snapshot_read(s->view);
	if (cur == NULL || (cur->fz ? cur->fz->mem : NULL) == mem)
		return;
	struct gk_daemon_view *v = gk_daemon_view_copy(cur);
	struct gk_daemon_fzref *r = NULL;
	if (v == NULL || fzref_new(cur->fz ? cur->fz->base : NULL, mem, &r) != 0)
		goto oom;
	fzref_put(v->fz); /* the copy's reference to cur's table */
	v->fz = r;
	v->v.opts.fwd = r ? r->t : NULL;
	if (gk_snapshot_publish(s->view, v) != 0)
		goto oom;
	gk_log(GK_LOG_DEBUG, "secondary: %zu forwarded catalog members published",
	       gk_pkt_fzones_count(mem));
	return; /* the caller wakes the workers (gk_daemon_view_published) */
oom:
	if (v != NULL)
		gk_daemon_view_free(v);
	gk_log(GK_LOG_ERR, "secondary: out of memory publishing the forwarded catalog members: "
	                   "queries follow the previous catalog");
}

/* Store retire function: replaced and removed zone versions (and outgrown indexes) wait on
 * the view cell for every reader's quiescent point. Before the cell exists no reader runs. */
void gk_daemon_zone_retire(void *ctx, void *obj, void (*free_fn)(void *))
{
	gk_server_t *s = ctx;
	if (s->view == NULL) {
		free_fn(obj);
		return;
	}
	if (gk_snapshot_retire(s->view, obj, free_fn) != 0)
		gk_log(GK_LOG_ERR, "zones: out of memory retiring a replaced zone version; "
		                   "its memory stays allocated");
}

static void wake_all(gk_server_t *s)
{
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_net_worker_wake(s->workers[i]);
}

static void reclaim_cb(uv_timer_t *t)
{
	gk_server_t *s = t->data;
	if (gk_snapshot_reclaim(s->view) == 0) {
		uv_timer_stop(t);
		gk_log(GK_LOG_DEBUG, "reload: previous zone set freed");
	} else {
		wake_all(s); /* cheap; covers a worker that idled before its first wake-up */
	}
}

/* A view was published: wake the workers so each passes a quiescent point, and free the old
 * view once they all have. */
void gk_daemon_view_published(gk_server_t *s)
{
	wake_all(s);
	if (!uv_is_active((uv_handle_t *)&s->reclaim))
		uv_timer_start(&s->reclaim, reclaim_cb, RECLAIM_MS, RECLAIM_MS);
}

/* Attach the status memory retired so far to the current view and publish a copy of it:
 * the memory is freed with the old view after every worker's next quiescent point. When
 * that cannot be done now (the current view still carries an earlier batch, or no memory),
 * try again RETIRE_MS later. */
static void retire_cb(uv_timer_t *t)
{
	gk_server_t *s = t->data;
	gk_status_retired_t *rt = s->retire_pending;
	s->retire_pending = NULL;
	if (rt == NULL)
		rt = gk_status_retired_take(s->status);
	if (rt == NULL)
		return;
	struct gk_daemon_view *cur = gk_snapshot_read(s->view);
	struct gk_daemon_view *v = cur->retired == NULL ? gk_daemon_view_copy(cur) : NULL;
	if (v == NULL)
		goto later;
	cur->retired = rt;
	if (gk_snapshot_publish(s->view, v) != 0) {
		cur->retired = NULL;
		gk_daemon_view_free(v);
		goto later;
	}
	gk_log(GK_LOG_DEBUG, "status: retired table memory goes with the previous view");
	gk_daemon_view_published(s);
	return;
later:
	s->retire_pending = rt;
	uv_timer_start(t, retire_cb, RETIRE_MS, 0);
}

/* Status thread: table memory was retired. (retire_async exists before the thread starts
 * and is closed after it stopped.) */
void gk_daemon_on_status_retired(void *ctx)
{
	gk_server_t *s = ctx;
	uv_async_send(&s->retire_async);
}

/* Main loop: collect the retired memory RETIRE_MS from now, with whatever else a merge
 * retires meanwhile, unless a collection is already due. Polling for it instead woke an
 * idle server 50 times a second. */
void gk_daemon_retire_async_cb(uv_async_t *a)
{
	gk_server_t *s = a->data;
	if (!uv_is_active((uv_handle_t *)&s->retire))
		uv_timer_start(&s->retire, retire_cb, RETIRE_MS, 0);
}

/* Status thread: the change stream announced a policy change. The stream is read once, by
 * the replica; the follower is told on the main loop, which owns s->polsync. */
void gk_daemon_on_status_policy(void *ctx)
{
	gk_server_t *s = ctx;
	uv_async_send(&s->polnote_async);
}

void gk_daemon_polnote_async_cb(uv_async_t *a)
{
	gk_server_t *s = a->data;
	gk_polsync_notify(s->polsync); /* NULL (no policy.redis) or stopped: nothing */
}
