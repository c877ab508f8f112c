/* SPDX-License-Identifier: MIT */
/* src/daemon/server.c -- start-up, reload by snapshot swap, shutdown.
 *
 * The main loop only handles signals and reclamation. The zone store (zone/zone.h) lives
 * from start to exit; every view points at it. A reload re-reads the config and brings
 * the store in line zone by zone on this thread (gk_zoneset_sync: only zones whose files
 * changed are rebuilt, each published alone while workers keep answering), then publishes
 * a new view (options, policy) with one atomic exchange, wakes every worker so each passes
 * a quiescent point soon, and polls gk_snapshot_reclaim() from a timer until the old view
 * and every replaced zone version (retired on the view cell, gk_snapshot_retire) are
 * freed. Settings that shape sockets and pools (listen, workers, tcp.*) need a restart and
 * are only reported.
 *
 * The filing-status replica (status/) runs on its own thread from start to SIGTERM, across
 * reloads. Its retired table memory rides on the view's grace periods: every RETIRE_MS the
 * main loop takes what the status thread retired, attaches it to the current view and
 * publishes a copy of that view (sharing the zone set), so it is freed together with the
 * old view once every worker has passed a quiescent point. Workers need no second cell.
 */
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include "common/log.h"
#include "common/psl.h"
#include "common/snapshot.h"
#include "redis/redis.h"
#include "daemon/config.h"
#include "daemon/server.h"
#include "gk/version.h"
#include "net/net.h"
#include "policy/policy.h"
#include "obs/dnstap.h"
#include "obs/metrics.h"
#include "obs/obs.h"
#include "polsync/polsync.h"
#include "status/status.h"
#include "obs/discovery.h"
#include "daemon/zoneload.h"

#define RECLAIM_MS 10
#define RETIRE_MS  20 /* retired status memory is collected this long after it is announced */

/* A policy shared by consecutive views; counted on the main thread only. */
struct polref {
	gk_policy_t *p;
	unsigned refs;
	uint64_t version; /* fleet version (gkctl push), 0 for a policy file */
};

/* What the view cell publishes: net reads the gk_net_view_t at its start. */
struct view {
	gk_net_view_t v;              /* v.zs: the server's store (borrowed) */
	struct polref *pol;           /* or NULL: no policy */
	gk_status_retired_t *retired; /* status memory freed with this view */
};

struct gk_server {
	uv_loop_t loop;
	bool loop_ready, stopping;
	uv_signal_t sighup, sigterm, sigint;
	uv_timer_t reclaim;
	gk_config_t *boot; /* config the sockets and pools were built from */
	gk_config_t *cur;  /* latest config loaded successfully (may be boot) */
	gk_snapshot_t *view;
	gk_zoneset_t *zs;     /* the zone store, shared by every view */
	gk_zoneload_t *zload; /* start-up loading (daemon/zoneload.h) */
	bool reload_pending;  /* SIGHUP while zones were still loading */
	gk_worker_t **workers;
	unsigned n_workers;
	gk_status_t *status;                 /* NULL without redis */
	gk_disc_t *disc;                     /* discovery counting, NULL when off */
	gk_psl_t *psl;                       /* opened once when the filing check is on */
	uv_timer_t retire;                   /* one-shot, armed through retire_async */
	uv_async_t retire_async;             /* the status thread retired memory */
	uv_async_t polnote_async;            /* the status tail saw a policy entry: tell polsync */
	gk_status_retired_t *retire_pending; /* taken but not yet attached (publish failed) */
	struct polref *pol; /* the policy in force (a reference of its own), or NULL */
	bool pol_fleet;     /* pol came from the fleet (Redis): policy.file no longer applies */
	gk_obs_t *obs;      /* per-worker counters (obs/obs.h) */
	gk_tap_t *tap;      /* decision log, or NULL */
	gk_metrics_http_t *metrics; /* Prometheus endpoint, or NULL */
	/* fleet policy (policy.redis): the polsync thread hands versions over through here */
	gk_polsync_t *polsync;
	uv_async_t pol_async;
	uv_mutex_t pol_mu;
	bool pol_mu_ready;
	gk_policy_t *pol_next; /* under pol_mu */
	uint64_t pol_next_version;
	char pol_next_key[80];
};

static struct polref *polref_new(gk_policy_t *p, uint64_t version)
{
	struct polref *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->p = p;
		r->refs = 1;
		r->version = version;
	}
	return r;
}

static void polref_put(struct polref *r)
{
	if (r != NULL && --r->refs == 0) {
		gk_policy_free(r->p);
		free(r);
	}
}

/* Compile the policy file of cfg (NULL when there is none). */
static int load_policy_file(const gk_config_t *cfg, struct polref **out, char *err, size_t errlen)
{
	*out = NULL;
	if (cfg->policy.file == NULL)
		return 0;
	gk_policy_t *p;
	int rc = gk_policy_build(cfg->policy.file, &p, err, errlen);
	if (rc != 0)
		return rc;
	if ((*out = polref_new(p, 0)) == NULL) {
		gk_policy_free(p);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	return 0;
}

static void log_policy(const char *what, const struct polref *r, const char *src)
{
	gk_pol_stats_t st;
	gk_policy_stats(r->p, &st);
	gk_log(GK_LOG_INFO, "%s policy %s%s%.0llu: %s mode, %u lists, %zu entries, %zu bytes", what,
	       src, r->version ? " version " : "", (unsigned long long)r->version,
	       gk_policy_mode(r->p) == GK_POL_MONITOR ? "monitor" : "enforce", st.lists, st.entries,
	       st.arena_bytes);
}

static void view_free(void *p)
{
	struct view *v = p;
	gk_status_retired_free(v->retired);
	polref_put(v->pol);
	free(v);
}

void gk_server_pkt_opts(const gk_config_t *cfg, gk_status_t *status, const gk_psl_t *psl,
                        const gk_policy_t *policy, gk_pkt_opts_t *o)
{
	memset(o, 0, sizeof(*o));
	o->edns_udp_max = cfg->edns_udp_max;
	o->policy = policy;
	if (!cfg->filing.enforce || status == NULL)
		return;
	o->status = status;
	o->psl = psl;
	o->unfiled = cfg->filing.unfiled;
	o->revoked = cfg->filing.revoked;
	o->unknown = cfg->filing.unknown;
	o->no_registrable = cfg->filing.no_registrable;
	o->starting = cfg->filing.unknown;
	if (cfg->filing.startup == GK_STARTUP_RESOLVE) {
		memset(&o->starting, 0, sizeof(o->starting));
		o->starting.action = GK_ACT_RESOLVE;
	}
}

static int build_view(gk_zoneset_t *zs, const gk_config_t *cfg, gk_status_t *status,
                      const gk_psl_t *psl, struct polref *pol, struct view **out, char *err,
                      size_t errlen)
{
	struct view *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	v->v.zs = zs;
	gk_server_pkt_opts(cfg, status, psl, pol ? pol->p : NULL, &v->v.opts);
	if (pol != NULL) {
		pol->refs++;
		v->pol = pol;
	}
	*out = v;
	return 0;
}

/* Store retire function: replaced and removed zone versions (and outgrown indexes) wait on
 * the view cell for every reader's quiescent point. Before the cell exists no reader runs. */
static void zone_retire(void *ctx, void *obj, void (*free_fn)(void *))
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

struct sync_report {
	const char *what;
	char first[600]; /* the first error, for a failed start */
};

static void zone_failed(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err)
{
	struct sync_report *r = ctx;
	(void)rc;
	if (!r->first[0])
		snprintf(r->first, sizeof(r->first), "%s", err);
	gk_log(GK_LOG_ERR, "%s: zone %s not loaded%s: %s", r->what, spec->name,
	       strcmp(r->what, "reload") == 0 ? " (its previous version keeps serving)" : "", err);
}

int gk_server_check(const char *config_path, char *err, size_t errlen, char *summary,
                    size_t summarylen)
{
	gk_config_t *cfg;
	int rc = gk_config_load(config_path, &cfg, err, errlen);
	if (rc != 0)
		return rc;
	gk_zoneset_t *zs = NULL;
	struct polref *pol = NULL;
	rc = gk_zoneset_build_ex(cfg->zones, cfg->n_zones, NULL, &zs, err, errlen);
	if (rc == 0)
		rc = load_policy_file(cfg, &pol, err, errlen);
	if (rc == 0 && cfg->filing.enforce) {
		gk_psl_t *psl;
		if ((rc = gk_psl_open(cfg->filing.psl_file, &psl)) != 0)
			snprintf(err, errlen, "%s: filing.psl_file %s: %s", config_path,
			         cfg->filing.psl_file ? cfg->filing.psl_file : GK_PSL_DEFAULT_FILE,
			         gk_strerror(rc));
		else
			gk_psl_close(psl);
	}
	if (rc == 0 && summarylen > 0)
		snprintf(summary, summarylen,
		         "%s: ok: %zu zones, %zu RRs, %zu listen addresses%s%s", config_path,
		         gk_zoneset_zone_count(zs), gk_zoneset_rr_count(zs), cfg->n_listen,
		         cfg->filing.enforce ? ", filing check on" : "",
		         pol ? ", policy file compiled" : "");
	gk_zoneset_free(zs);
	polref_put(pol);
	gk_config_free(cfg);
	return rc;
}

/* Threads that answer queries, each with its own snapshot reader index, observation block,
 * dnstap ring and discovery table: per worker its loop (TCP; index w) and one thread per
 * UDP socket (index workers + w * n_listen + j, src/net/udp.c). */
static unsigned query_threads(const gk_config_t *cfg)
{
	return cfg->workers * (1u + (unsigned)cfg->n_listen);
}

static void wake_all(gk_server_t *s)
{
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_worker_wake(s->workers[i]);
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
static void published(gk_server_t *s)
{
	wake_all(s);
	if (!uv_is_active((uv_handle_t *)&s->reclaim))
		uv_timer_start(&s->reclaim, reclaim_cb, RECLAIM_MS, RECLAIM_MS);
}

/* A copy of cur sharing its zone set and policy (references taken), without its retired
 * memory; NULL when out of memory. view_free() undoes it. */
static struct view *view_copy(const struct view *cur)
{
	struct view *v = malloc(sizeof(*v));
	if (v == NULL)
		return NULL;
	*v = *cur;
	v->retired = NULL;
	if (v->pol != NULL)
		v->pol->refs++;
	return v;
}

static bool same_listen(const gk_config_t *a, const gk_config_t *b)
{
	if (a->n_listen != b->n_listen)
		return false;
	for (size_t i = 0; i < a->n_listen; i++)
		if (a->listen[i].addrlen != b->listen[i].addrlen ||
		    memcmp(&a->listen[i].addr, &b->listen[i].addr, a->listen[i].addrlen) != 0)
			return false;
	return true;
}

static bool same_str(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

static bool same_dnstap(const gk_config_dnstap_t *a, const gk_config_dnstap_t *b)
{
	return a->set == b->set && same_str(a->file, b->file) &&
	       same_str(a->unix_path, b->unix_path) && same_str(a->identity, b->identity) &&
	       a->all_queries == b->all_queries && a->rate == b->rate && a->burst == b->burst &&
	       a->max_size_mb == b->max_size_mb && a->keep == b->keep;
}

static void report_restart_only(const gk_config_t *boot, const gk_config_t *next)
{
	if (!same_listen(boot, next))
		gk_log(GK_LOG_WARN, "reload: listen addresses changed: takes effect after restart");
	if (boot->workers != next->workers)
		gk_log(GK_LOG_WARN,
		       "reload: workers changed (%u -> %u): takes effect after restart",
		       boot->workers, next->workers);
	const gk_config_redis_t *ra = &boot->redis, *rb = &next->redis;
	if (ra->set != rb->set || strcmp(ra->address, rb->address) != 0 ||
	    (ra->instance_id == NULL) != (rb->instance_id == NULL) ||
	    (ra->instance_id != NULL && strcmp(ra->instance_id, rb->instance_id) != 0) ||
	    ra->connect_timeout_ms != rb->connect_timeout_ms ||
	    ra->reconnect_max_ms != rb->reconnect_max_ms || !same_str(ra->user, rb->user) ||
	    !same_str(ra->password_file, rb->password_file) ||
	    strcmp(ra->primary_text, rb->primary_text) != 0 ||
	    (ra->sentinel == NULL) != (rb->sentinel == NULL) ||
	    (ra->sentinel && memcmp(ra->sentinel, rb->sentinel, sizeof(*ra->sentinel)) != 0) ||
	    (ra->primary && memcmp(ra->primary, rb->primary, sizeof(*ra->primary)) != 0) ||
	    boot->filing.max_age_ms != next->filing.max_age_ms ||
	    boot->filing.stale_after_ms != next->filing.stale_after_ms)
		gk_log(GK_LOG_WARN, "reload: redis settings, filing.stale_after_ms or "
		                    "filing.max_age_ms changed: take effect after restart");
	if ((boot->filing.psl_file == NULL) != (next->filing.psl_file == NULL) ||
	    (boot->filing.psl_file != NULL &&
	     strcmp(boot->filing.psl_file, next->filing.psl_file) != 0) ||
	    (next->filing.enforce && !boot->filing.enforce))
		gk_log(GK_LOG_WARN, "reload: filing.psl_file or enabling filing.enforce: takes "
		                    "effect after restart");
	if (boot->tcp_max_connections != next->tcp_max_connections ||
	    boot->tcp_idle_timeout_ms != next->tcp_idle_timeout_ms ||
	    boot->tcp_max_pipelined != next->tcp_max_pipelined)
		gk_log(GK_LOG_WARN, "reload: tcp settings changed: take effect after restart");
	const gk_config_discovery_t *da = &boot->discovery, *db = &next->discovery;
	if (da->enabled != db->enabled || da->table_size != db->table_size ||
	    da->flush_ms != db->flush_ms || da->day_max != db->day_max)
		gk_log(GK_LOG_WARN,
		       "reload: discovery settings changed: take effect after restart");
	if (boot->metrics.set != next->metrics.set ||
	    memcmp(&boot->metrics.listen, &next->metrics.listen, sizeof(boot->metrics.listen)) !=
	        0 ||
	    !same_dnstap(&boot->dnstap, &next->dnstap))
		gk_log(GK_LOG_WARN, "reload: metrics or dnstap settings changed: take effect after "
		                    "restart");
}

static void reload(gk_server_t *s)
{
	char err[512];
	gk_config_t *cfg;
	if (!gk_zoneload_ready(s->zload)) {
		gk_log(GK_LOG_INFO, "SIGHUP: the reload runs once start-up loading is done");
		s->reload_pending = true;
		return;
	}
	gk_log(GK_LOG_INFO, "SIGHUP: reloading %s", s->boot->path);
	if (gk_config_load(s->boot->path, &cfg, err, sizeof(err)) != 0) {
		gk_log(GK_LOG_ERR, "reload failed, keeping the current zones: %s", err);
		return;
	}
	struct view *v;
	/* enforcing needs the replica and the list opened at start */
	if (cfg->filing.enforce && s->psl == NULL)
		cfg->filing.enforce = false; /* enabling it needs a restart (reported below) */
	/* the policy file, unless the fleet's policy has taken over */
	struct polref *pol = s->pol, *newpol = NULL;
	if (!s->pol_fleet) {
		if (load_policy_file(cfg, &newpol, err, sizeof(err)) != 0) {
			gk_log(GK_LOG_ERR,
			       "reload failed, keeping the current zones and policy: %s", err);
			gk_config_free(cfg);
			return;
		}
		pol = newpol;
	}
	/* zone by zone: a zone that fails keeps its previous version, the others go on */
	gk_zoneset_sync_stats_t st;
	struct sync_report rep = {.what = "reload"};
	uint64_t t0 = uv_hrtime();
	if (gk_zoneset_sync(s->zs, cfg->zones, cfg->n_zones, s->psl, &st, zone_failed, &rep) != 0) {
		gk_log(GK_LOG_ERR, "reload: out of memory while loading zones; the zones done so "
		                   "far are served, the others keep their previous version");
	}
	gk_log(GK_LOG_INFO,
	       "reload: zones: %zu rebuilt, %zu unchanged, %zu added, %zu removed, %zu failed "
	       "(%.3f s)",
	       st.rebuilt, st.unchanged, st.added, st.removed, st.failed,
	       (double)(uv_hrtime() - t0) / 1e9);
	if (build_view(s->zs, cfg, s->status, s->psl, pol, &v, err, sizeof(err)) != 0) {
		gk_log(GK_LOG_ERR, "reload failed, keeping the current settings: %s", err);
		polref_put(newpol);
		gk_config_free(cfg);
		published(s); /* replaced zone versions still wait for reclamation */
		return;
	}
	size_t nz = gk_zoneset_zone_count(s->zs), nrr = gk_zoneset_rr_count(s->zs);
	if (gk_snapshot_publish(s->view, v) != 0) {
		gk_log(GK_LOG_ERR, "reload failed, keeping the current settings: out of memory");
		view_free(v);
		polref_put(newpol);
		gk_config_free(cfg);
		published(s);
		return;
	}
	if (!s->pol_fleet) {
		polref_put(s->pol);
		s->pol = newpol; /* its own reference */
		if (newpol != NULL)
			log_policy("reloaded", newpol, cfg->policy.file);
	}
	report_restart_only(s->boot, cfg);
	gk_log_set_level(cfg->log_level);
	if (s->cur != s->boot)
		gk_config_free(s->cur);
	s->cur = cfg;
	published(s);
	gk_log(GK_LOG_INFO, "reloaded: %zu zones, %zu RRs, edns_udp_max %u", nz, nrr,
	       (unsigned)cfg->edns_udp_max);
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
	struct view *cur = gk_snapshot_read(s->view);
	struct view *v = cur->retired == NULL ? view_copy(cur) : NULL;
	if (v == NULL)
		goto later;
	cur->retired = rt;
	if (gk_snapshot_publish(s->view, v) != 0) {
		cur->retired = NULL;
		view_free(v);
		goto later;
	}
	gk_log(GK_LOG_DEBUG, "status: retired table memory goes with the previous view");
	published(s);
	return;
later:
	s->retire_pending = rt;
	uv_timer_start(t, retire_cb, RETIRE_MS, 0);
}

/* Status thread: table memory was retired. (retire_async exists before the thread starts
 * and is closed after it stopped.) */
static void on_status_retired(void *ctx)
{
	gk_server_t *s = ctx;
	uv_async_send(&s->retire_async);
}

/* Main loop: collect the retired memory RETIRE_MS from now, with whatever else a merge
 * retires meanwhile, unless a collection is already due. Polling for it instead woke an
 * idle server 50 times a second. */
/* Status thread: the change stream announced a policy change. The stream is read once, by
 * the replica; the follower is told on the main loop, which owns s->polsync. */
static void on_status_policy(void *ctx)
{
	gk_server_t *s = ctx;
	uv_async_send(&s->polnote_async);
}

static void polnote_async_cb(uv_async_t *a)
{
	gk_server_t *s = a->data;
	gk_polsync_notify(s->polsync); /* NULL (no policy.redis) or stopped: nothing */
}

static void retire_async_cb(uv_async_t *a)
{
	gk_server_t *s = a->data;
	if (!uv_is_active((uv_handle_t *)&s->retire))
		uv_timer_start(&s->retire, retire_cb, RETIRE_MS, 0);
}

/* ---- fleet policy ------------------------------------------------------------------- */

/* polsync thread: keep the newest version (an older one not yet taken is dropped) and wake
 * the main loop. */
static void on_fleet_policy(void *ctx, gk_policy_t *p, uint64_t version, const char *key_id)
{
	gk_server_t *s = ctx;
	uv_mutex_lock(&s->pol_mu);
	gk_policy_t *old = s->pol_next;
	s->pol_next = p;
	s->pol_next_version = version;
	snprintf(s->pol_next_key, sizeof(s->pol_next_key), "%s", key_id ? key_id : "?");
	uv_mutex_unlock(&s->pol_mu);
	gk_policy_free(old);
	uv_async_send(&s->pol_async);
}

/* main thread: publish a copy of the current view with the new policy. */
static void fleet_policy_cb(uv_async_t *a)
{
	gk_server_t *s = a->data;
	uv_mutex_lock(&s->pol_mu);
	gk_policy_t *p = s->pol_next;
	uint64_t version = s->pol_next_version;
	char key[80];
	memcpy(key, s->pol_next_key, sizeof(key));
	s->pol_next = NULL;
	uv_mutex_unlock(&s->pol_mu);
	if (p == NULL || s->stopping) {
		gk_policy_free(p);
		return;
	}
	struct polref *r = polref_new(p, version);
	struct view *v = r != NULL ? view_copy(gk_snapshot_read(s->view)) : NULL;
	if (v != NULL) {
		polref_put(v->pol); /* the current view keeps its own reference */
		v->pol = r;
		r->refs++;
		v->v.opts.policy = p;
	}
	if (v == NULL || gk_snapshot_publish(s->view, v) != 0) {
		if (v != NULL)
			view_free(v);
		if (r != NULL)
			polref_put(r);
		else
			gk_policy_free(p);
		gk_log(GK_LOG_ERR, "fleet policy version %llu: out of memory, not applied",
		       (unsigned long long)version);
		return;
	}
	polref_put(s->pol);
	s->pol = r;
	s->pol_fleet = true;
	published(s);
	char what[128];
	snprintf(what, sizeof(what), "applied fleet (key %s)", key);
	log_policy(what, r, "from redis"); /* polsync reported it in the heartbeat */
}

/* Before the first view: the follower, and the version it kept on disk (verified again),
 * which then takes the policy file's place. A state file that cannot be used is logged
 * loudly; the start goes on with the policy file and whatever Redis offers. */
static int create_polsync(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	if (!cfg->policy.redis)
		return 0;
	int rc = uv_mutex_init(&s->pol_mu);
	if (rc != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		return rc;
	}
	s->pol_mu_ready = true;
	if ((rc = uv_async_init(&s->loop, &s->pol_async, fleet_policy_cb)) != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		return rc;
	}
	s->pol_async.data = s;
	gk_polsync_conf_t pc = {
	    .redis_host = cfg->redis.unix_path ? NULL : cfg->redis.host,
	    .redis_port = cfg->redis.port,
	    .redis_unix = cfg->redis.unix_path,
	    .redis_auth = cfg->redis.auth,
	    .redis_sentinel = cfg->redis.sentinel,
	    .connect_timeout_ms = cfg->redis.connect_timeout_ms,
	    .reconnect_max_ms = cfg->redis.reconnect_max_ms,
	    .operator_keys = (const char *const *)cfg->policy.operator_keys,
	    .n_operator_keys = cfg->policy.n_operator_keys,
	    .on_policy = on_fleet_policy,
	    .on_reject = NULL, /* polsync logs rejections and reports them in the heartbeat */
	    .ctx = s,
	    .status = s->status,
	    .state_dir = cfg->policy.state_dir,
	};
	if ((rc = gk_polsync_create(&pc, &s->polsync, err, errlen)) != 0)
		return rc;
	gk_policy_t *p = NULL;
	uint64_t version = 0;
	char why[768];
	rc = gk_polsync_load_state(s->polsync, &p, &version, why, sizeof(why));
	if (rc == GK_ENOENT)
		return 0;
	if (rc != 0) {
		gk_log(GK_LOG_ERR,
		       "policy: the last verified fleet version cannot be used: %s; starting with "
		       "%s until Redis offers a version that verifies",
		       why, cfg->policy.file ? "the policy file" : "no policy");
		return 0;
	}
	if ((s->pol = polref_new(p, version)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	s->pol_fleet = true;
	return 0;
}

static int start_polsync(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	if (s->polsync == NULL)
		return 0;
	int rc = gk_polsync_start(s->polsync);
	if (rc != 0) {
		snprintf(err, errlen, "fleet policy: %s", gk_strerror(rc));
		return rc;
	}
	gk_log(GK_LOG_INFO, "fleet policy from redis %s, %zu operator keys%s", cfg->redis.address,
	       cfg->policy.n_operator_keys,
	       s->pol_fleet ? "; the version kept on disk applies until a newer one verifies"
	       : s->pol     ? "; the policy file applies until a version arrives"
	                    : "");
	return 0;
}

static void log_counters(gk_server_t *s)
{
	gk_net_counters_t c = {0};
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_worker_counters_add(s->workers[i], &c);
	gk_log(GK_LOG_INFO,
	       "counters: udp %llu, tcp %llu queries; NOERROR %llu, SERVFAIL %llu, NXDOMAIN %llu, "
	       "REFUSED %llu, FORMERR %llu, NOTIMP %llu, other %llu; tc %llu, dropped %llu, "
	       "send errors %llu",
	       (unsigned long long)c.udp_queries, (unsigned long long)c.tcp_queries,
	       (unsigned long long)c.rcode[0], (unsigned long long)c.rcode[2],
	       (unsigned long long)c.rcode[3], (unsigned long long)c.rcode[5],
	       (unsigned long long)c.rcode[1], (unsigned long long)c.rcode[4],
	       (unsigned long long)(c.rcode[16] + c.rcode[6] + c.rcode[7] + c.rcode[8] +
	                            c.rcode[9] + c.rcode[10] + c.rcode[11] + c.rcode[12] +
	                            c.rcode[13] + c.rcode[14] + c.rcode[15]),
	       (unsigned long long)c.tc, (unsigned long long)c.dropped,
	       (unsigned long long)c.send_errors);
	gk_log(GK_LOG_INFO,
	       "counters: tcp accepted %llu, idle-closed %llu, evicted %llu, oversize %llu",
	       (unsigned long long)c.tcp_accepted, (unsigned long long)c.tcp_idle_closed,
	       (unsigned long long)c.tcp_evicted, (unsigned long long)c.tcp_oversize);
}

/* --- observation: counters, metrics endpoint, decision log (obs/) ------------------- */

static void net_counters(void *arg, gk_net_counters_t *sum)
{
	gk_server_t *s = arg;
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_worker_counters_read(s->workers[i], sum);
}

/* The fleet version of the policy in force (0: a policy file, or none). Main loop. */
static uint64_t policy_version(void *arg)
{
	gk_server_t *s = arg;
	return s->pol != NULL ? s->pol->version : 0;
}

/* Before the workers: the decision log and the counter blocks they write. */
static int start_obs(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	int rc;
	if (cfg->dnstap.set) {
		gk_tap_conf_t tc = {
		    .file = cfg->dnstap.file,
		    .unix_path = cfg->dnstap.unix_path,
		    .all_queries = cfg->dnstap.all_queries,
		    .rate = cfg->dnstap.rate,
		    .burst = cfg->dnstap.burst,
		    .max_bytes = (uint64_t)cfg->dnstap.max_size_mb << 20,
		    .keep = cfg->dnstap.keep,
		    .identity = cfg->dnstap.identity,
		    .version = "gatekeeperd " GK_VERSION,
		};
		char host[256];
		if (tc.identity == NULL && gethostname(host, sizeof(host) - 1) == 0) {
			host[sizeof(host) - 1] = 0;
			tc.identity = host;
		}
		if ((rc = gk_tap_create(&tc, query_threads(cfg), &s->tap, err, errlen)) != 0)
			return rc;
		if ((rc = gk_tap_start(s->tap)) != 0) {
			snprintf(err, errlen, "dnstap: cannot start thread: %s", uv_strerror(rc));
			return rc;
		}
		gk_log(GK_LOG_INFO, "dnstap: %s to %s%s, %u/s per worker (burst %u)",
		       cfg->dnstap.all_queries ? "every query" : "refusals",
		       cfg->dnstap.file ? "" : "unix:",
		       cfg->dnstap.file ? cfg->dnstap.file : cfg->dnstap.unix_path,
		       cfg->dnstap.rate, cfg->dnstap.burst);
	}
	if ((rc = gk_obs_create(query_threads(cfg), s->tap, &s->obs)) != 0) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	gk_obs_set_workers(s->obs, cfg->workers);
	gk_obs_set_status(s->obs, s->status);
	gk_obs_set_discovery(s->obs, s->disc);
	gk_obs_set_net(s->obs, net_counters, s);
	gk_obs_set_policy_version(s->obs, policy_version, s);
	return 0;
}

/* On the main loop, once it exists. */
static int start_metrics(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	if (!cfg->metrics.set)
		return 0;
	int rc = gk_metrics_http_start(&s->loop, (const struct sockaddr *)&cfg->metrics.listen.addr,
	                               s->obs, &s->metrics, err, errlen);
	if (rc == 0)
		gk_log(GK_LOG_INFO, "metrics on http://%s/metrics", cfg->metrics.listen.text);
	return rc;
}

static void stop_obs(gk_server_t *s)
{
	gk_metrics_http_close(s->metrics);
	s->metrics = NULL;
	gk_tap_stop(s->tap); /* after the workers: drains what they queued */
}

static void stop_workers(gk_server_t *s)
{
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_worker_stop(s->workers[i]);
}

static void log_discovery(gk_server_t *s);

static void on_signal(uv_signal_t *h, int signum)
{
	gk_server_t *s = h->data;
	if (s->stopping)
		return;
	if (signum == SIGHUP) {
		reload(s);
		return;
	}
	gk_log(GK_LOG_INFO, "%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	s->stopping = true;
	gk_zoneload_close(s->zload);
	s->zload = NULL;
	stop_workers(s);
	stop_obs(s);
	if (s->polsync != NULL)
		gk_polsync_stop(s->polsync);
	gk_status_stop(s->status);
	gk_disc_stop(s->disc); /* after the workers: their last counts are written */
	uv_close((uv_handle_t *)&s->retire_async, NULL);
	uv_close((uv_handle_t *)&s->polnote_async, NULL);
	log_discovery(s);
	log_counters(s);
	if (s->pol_mu_ready)
		uv_close((uv_handle_t *)&s->pol_async, NULL);
	uv_close((uv_handle_t *)&s->retire, NULL);
	uv_close((uv_handle_t *)&s->sighup, NULL);
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
	uv_close((uv_handle_t *)&s->reclaim, NULL);
}

/* Create and start the status replica (redis configured) and open the PSL (enforcing). */
static int start_status(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	if (!cfg->redis.set)
		return 0;
	int rc;
	if (cfg->filing.enforce && (rc = gk_psl_open(cfg->filing.psl_file, &s->psl)) != 0) {
		snprintf(err, errlen, "%s: filing.psl_file %s: %s", cfg->path,
		         cfg->filing.psl_file ? cfg->filing.psl_file : GK_PSL_DEFAULT_FILE,
		         gk_strerror(rc));
		return rc;
	}
	gk_status_conf_t sc = {
	    .redis_host = cfg->redis.unix_path ? NULL : cfg->redis.host,
	    .redis_port = cfg->redis.port,
	    .redis_unix = cfg->redis.unix_path,
	    .redis_auth = cfg->redis.auth,
	    .redis_sentinel = cfg->redis.sentinel,
	    .heartbeat_to = cfg->redis.primary,
	    .instance_id = cfg->redis.instance_id,
	    .connect_timeout_ms = cfg->redis.connect_timeout_ms,
	    .reconnect_max_ms = cfg->redis.reconnect_max_ms,
	    .stale_after_ms = cfg->filing.stale_after_ms,
	    .max_age_ms = cfg->filing.max_age_ms,
	    .version = GK_VERSION,
	    .retired = on_status_retired,
	    .retired_ctx = s,
	    .policy_changed = cfg->policy.redis ? on_status_policy : NULL,
	    .policy_ctx = s,
	};
	if ((rc = gk_status_create(&sc, &s->status)) != 0 ||
	    (rc = gk_status_start(s->status)) != 0) {
		snprintf(err, errlen, "filing-status replica: %s", gk_strerror(rc));
		return rc;
	}
	char bound[24] = "none";
	if (cfg->filing.max_age_ms)
		snprintf(bound, sizeof(bound), "%u", cfg->filing.max_age_ms);
	gk_log(GK_LOG_INFO,
	       "filing status from redis %s; check %s, startup %s, stale_after_ms %u, "
	       "max_age_ms %s",
	       cfg->redis.address, cfg->filing.enforce ? "enforced" : "off",
	       cfg->filing.startup == GK_STARTUP_RESOLVE ? "resolve" : "refuse",
	       cfg->filing.stale_after_ms, bound);
	return 0;
}

static void log_discovery(gk_server_t *s)
{
	if (s->disc == NULL)
		return;
	gk_disc_stats_t st;
	gk_disc_stats(s->disc, &st);
	gk_log(GK_LOG_INFO,
	       "discovery: %llu queries counted, %llu written in %llu writes (%llu entries); "
	       "overflow %llu, day_max %llu, dropped %llu, lost %llu, %u pending",
	       (unsigned long long)st.merged, (unsigned long long)st.queries,
	       (unsigned long long)st.flushes, (unsigned long long)st.written,
	       (unsigned long long)st.overflow, (unsigned long long)st.capped,
	       (unsigned long long)st.dropped, (unsigned long long)st.lost, st.pending);
}

/* Discovery (obs/discovery.h): per-worker counting tables and the merger thread. */
static int start_discovery(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	if (!cfg->discovery.enabled || !cfg->redis.set)
		return 0;
	gk_disc_conf_t dc = {
	    .workers = query_threads(cfg),
	    .table_size = cfg->discovery.table_size,
	    .flush_ms = cfg->discovery.flush_ms,
	    .redis_host = cfg->redis.unix_path ? NULL : cfg->redis.host,
	    .redis_port = cfg->redis.port,
	    .redis_unix = cfg->redis.unix_path,
	    .redis_auth = cfg->redis.auth,
	    .connect_timeout_ms = cfg->redis.connect_timeout_ms,
	    .reconnect_max_ms = cfg->redis.reconnect_max_ms,
	    .day_max = cfg->discovery.day_max,
	    .redis_sentinel = cfg->redis.sentinel,
	};
	const struct gk_redis_target *pt = cfg->redis.primary;
	if (pt != NULL) { /* counters go to the primary (redis.primary) */
		dc.redis_host = pt->addr.path[0] ? NULL : pt->addr.host;
		dc.redis_port = pt->addr.port;
		dc.redis_unix = pt->addr.path[0] ? pt->addr.path : NULL;
		dc.redis_sentinel = pt->sentinel.n ? &pt->sentinel : NULL;
	}
	int rc = gk_disc_create(&dc, &s->disc);
	if (rc == 0 && (rc = gk_disc_start(s->disc)) != 0) {
		gk_disc_free(s->disc);
		s->disc = NULL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "discovery: %s", gk_strerror(rc));
		return rc;
	}
	gk_disc_stats_t st;
	gk_disc_stats(s->disc, &st);
	gk_log(GK_LOG_INFO, "discovery: %u entries per worker table, flush every %u ms, %zu bytes",
	       cfg->discovery.table_size, cfg->discovery.flush_ms, st.table_bytes);
	return 0;
}

static int start_workers(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	gk_net_addr_t *addrs = calloc(cfg->n_listen, sizeof(*addrs));
	s->workers = calloc(cfg->workers, sizeof(*s->workers));
	if (addrs == NULL || s->workers == NULL) {
		free(addrs);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		addrs[i].addr = cfg->listen[i].addr;
		addrs[i].addrlen = cfg->listen[i].addrlen;
		addrs[i].text = cfg->listen[i].text;
	}
	gk_net_params_t p = {
	    .addrs = addrs,
	    .n_addrs = cfg->n_listen,
	    .tcp_max_connections = (cfg->tcp_max_connections + cfg->workers - 1) / cfg->workers,
	    .tcp_idle_timeout_ms = cfg->tcp_idle_timeout_ms,
	    .tcp_max_pipelined = cfg->tcp_max_pipelined,
	    .view = s->view,
	};
	gk_obs_worker_t **udp_obs = calloc(cfg->n_listen, sizeof(*udp_obs));
	if (udp_obs == NULL) {
		free(addrs);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	p.udp_obs = udp_obs;
	int rc = 0;
	for (unsigned i = 0; i < cfg->workers && rc == 0; i++) {
		p.id = i;
		p.obs = gk_obs_worker(s->obs, i);
		gk_obs_set_disc(s->obs, i, gk_disc_worker(s->disc, i));
		p.udp_reader0 = cfg->workers + i * (unsigned)cfg->n_listen;
		for (unsigned j = 0; j < cfg->n_listen; j++) {
			udp_obs[j] = gk_obs_worker(s->obs, p.udp_reader0 + j);
			gk_obs_set_disc(s->obs, p.udp_reader0 + j,
			                gk_disc_worker(s->disc, p.udp_reader0 + j));
		}
		rc = gk_worker_create(&p, &s->workers[i], err, errlen);
		if (rc == 0)
			s->n_workers = i + 1;
	}
	free(udp_obs);
	free(addrs);
	for (unsigned i = 0; i < s->n_workers && rc == 0; i++) {
		rc = gk_worker_start(s->workers[i]);
		if (rc != 0)
			snprintf(err, errlen, "worker %u: cannot start thread: %s", i,
			         uv_strerror(rc));
	}
	return rc;
}

/* Start-up loading published versions: their placeholders wait for the readers. */
static void zones_published(void *ctx)
{
	gk_server_t *s = ctx;
	if (s->view != NULL)
		published(s);
}

static void zones_ready(void *ctx)
{
	gk_server_t *s = ctx;
	if (s->reload_pending) {
		s->reload_pending = false;
		reload(s);
	}
}

int gk_server_create(const char *config_path, gk_server_t **out, char *err, size_t errlen)
{
	gk_server_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	struct view *v = NULL;
	/* A SIGHUP from here until its handler is in place stays pending instead of killing
	 * the daemon (default action); unblocked once libuv catches it, it becomes a reload. */
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	int rc = gk_config_load(config_path, &s->boot, err, errlen);
	if (rc != 0)
		goto fail;
	s->cur = s->boot;
	gk_log_set_level(s->boot->log_level);
	/* The loop and its handles come first: the status thread sends to retire_async. */
	if ((rc = uv_loop_init(&s->loop)) != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		goto fail;
	}
	s->loop_ready = true;
	uv_signal_init(&s->loop, &s->sighup);
	uv_signal_init(&s->loop, &s->sigterm);
	uv_signal_init(&s->loop, &s->sigint);
	uv_timer_init(&s->loop, &s->reclaim);
	uv_timer_init(&s->loop, &s->retire);
	if ((rc = uv_async_init(&s->loop, &s->retire_async, retire_async_cb)) != 0 ||
	    (rc = uv_async_init(&s->loop, &s->polnote_async, polnote_async_cb)) != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		goto fail;
	}
	s->sighup.data = s->sigterm.data = s->sigint.data = s->reclaim.data = s->retire.data =
	    s->retire_async.data = s->polnote_async.data = s;
	/* SIGHUP is caught before anything loads: one that arrives while zones load (an
	 * operator's or a config manager's reload) must not kill the daemon with the default
	 * action. libuv records it; the loop runs the reload once it starts. SIGTERM and SIGINT
	 * keep their default action until the loop can stop cleanly. */
	if ((rc = uv_signal_start(&s->sighup, on_signal, SIGHUP)) != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		goto fail;
	}
	pthread_sigmask(SIG_UNBLOCK, &hup, NULL); /* before any thread starts: they inherit it */
	if ((rc = start_status(s, err, errlen)) != 0)
		goto fail;
	if ((rc = start_discovery(s, err, errlen)) != 0)
		goto fail;
	if ((rc = create_polsync(s, err, errlen)) != 0)
		goto fail;
	if (s->pol_fleet)
		log_policy("kept fleet", s->pol, s->boot->policy.state_dir);
	else if ((rc = load_policy_file(s->boot, &s->pol, err, errlen)) != 0)
		goto fail;
	else if (s->pol != NULL)
		log_policy("loaded", s->pol, s->boot->policy.file);
	if (s->status != NULL)
		gk_status_set_policy(s->status, s->pol_fleet ? s->pol->version : 0,
		                     s->boot->policy.redis ? "waiting"
		                     : s->pol              ? "file"
		                                           : "off");
	if ((rc = gk_zoneset_create(zone_retire, s, &s->zs)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* placeholders (SERVFAIL) now, versions as the loader threads build them */
	gk_zoneload_cbs_t zcb = {.published = zones_published, .ready = zones_ready, .ctx = s};
	if ((rc = gk_zoneload_start(&s->loop, s->zs, s->boot->zones, s->boot->n_zones, s->psl,
	                            config_path, &zcb, &s->zload, err, errlen)) != 0)
		goto fail;
	if ((rc = build_view(s->zs, s->boot, s->status, s->psl, s->pol, &v, err, errlen)) != 0)
		goto fail;
	if ((rc = gk_snapshot_create(query_threads(s->boot), v, view_free, &s->view)) != 0) {
		view_free(v);
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* A peer closing a TCP connection must not kill us through a write. */
	signal(SIGPIPE, SIG_IGN);
	if ((rc = uv_signal_start(&s->sigterm, on_signal, SIGTERM)) != 0 ||
	    (rc = uv_signal_start(&s->sigint, on_signal, SIGINT)) != 0) {
		snprintf(err, errlen, "libuv: %s", uv_strerror(rc));
		goto fail;
	}
	if ((rc = start_polsync(s, err, errlen)) != 0)
		goto fail;
	if ((rc = start_obs(s, err, errlen)) == 0)
		gk_obs_set_zones(s->obs, gk_zoneload_figures, s->zload);
	if (rc != 0 || (rc = start_metrics(s, err, errlen)) != 0 ||
	    (rc = start_workers(s, err, errlen)) != 0)
		goto fail;
	for (size_t i = 0; i < s->boot->n_listen; i++)
		gk_log(GK_LOG_INFO, "listening on %s (udp, tcp)", s->boot->listen[i].text);
	gk_log(GK_LOG_INFO,
	       "%u workers; edns_udp_max %u; tcp max_connections %u, idle_timeout_ms %u, "
	       "max_pipelined %u",
	       s->n_workers, (unsigned)s->boot->edns_udp_max, s->boot->tcp_max_connections,
	       s->boot->tcp_idle_timeout_ms, s->boot->tcp_max_pipelined);
	*out = s;
	return 0;
fail:
	pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
	gk_server_free(s);
	return rc;
}

int gk_server_run(gk_server_t *s)
{
	return uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void gk_server_free(gk_server_t *s)
{
	if (s == NULL)
		return;
	gk_zoneload_close(s->zload); /* joins its threads, before the store and the PSL go */
	stop_workers(s);
	stop_obs(s);
	if (s->polsync != NULL)
		gk_polsync_stop(s->polsync); /* before pol_async closes: it sends to it */
	gk_status_stop(s->status);           /* before retire_async closes: it sends to it */
	if (s->loop_ready) {
		uv_walk(&s->loop, close_walk_cb, NULL);
		uv_run(&s->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(&s->loop) != 0)
			gk_log(GK_LOG_ERR, "main loop still busy at close");
	}
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_worker_free(s->workers[i]);
	free(s->workers);
	gk_polsync_free(s->polsync);
	if (s->pol_mu_ready) {
		gk_policy_free(s->pol_next);
		uv_mutex_destroy(&s->pol_mu);
	}
	gk_disc_free(s->disc);
	gk_status_retired_free(s->retire_pending);
	gk_snapshot_destroy(s->view); /* workers joined: frees current and retired views */
	s->view = NULL;
	gk_zoneset_free(s->zs); /* after the retired versions: the store holds the current ones */
	gk_status_free(s->status);
	polref_put(s->pol);
	gk_tap_free(s->tap);
	gk_obs_free(s->obs);
	gk_psl_close(s->psl);
	if (s->cur != s->boot)
		gk_config_free(s->cur);
	gk_config_free(s->boot);
	free(s);
}
