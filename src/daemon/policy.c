/* SPDX-License-Identifier: MIT */
/* src/daemon/policy.c -- policy references, the policy file and the fleet-policy hand-off.
 *
 * A policy is shared by consecutive views and counted on the main thread. With policy.redis
 * the polsync thread verifies fleet versions and hands the newest over through pol_mu and
 * pol_async; the main loop publishes a copy of the current view with it. From then on the
 * fleet's policy replaces the policy file, across reloads.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "common/log.h"
#include "daemon/internal.h"

struct gk_daemon_polref *gk_daemon_polref_new(gk_policy_t *p, uint64_t version)
{
	struct gk_daemon_polref *r = calloc(1, sizeof(*r));
	if (r != NULL) {
		r->p = p;
		r->refs = 1;
		r->version = version;
	}
	return r;
}

void gk_daemon_polref_put(struct gk_daemon_polref *r)
{
	if (r != NULL && --r->refs == 0) {
		gk_policy_free(r->p);
		free(r);
	}
}

/* Compile the policy file of cfg (NULL when there is none). */
int gk_daemon_policy_load_file(const gk_config_t *cfg, struct gk_daemon_polref **out, char *err,
                               size_t errlen)
{
	*out = NULL;
	if (cfg->policy.file == NULL)
		return 0;
	gk_policy_t *p;
	int rc = gk_policy_build(cfg->policy.file, &p, err, errlen);
	if (rc != 0)
		return rc;
	if ((*out = gk_daemon_polref_new(p, 0)) == NULL) {
		gk_policy_free(p);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	return 0;
}

void gk_daemon_policy_log(const char *what, const struct gk_daemon_polref *r, const char *src)
{
	gk_policy_stats_t st;
	gk_policy_stats(r->p, &st);
	gk_log(GK_LOG_INFO, "%s policy %s%s%.0llu: %s mode, %u lists, %zu entries, %zu bytes", what,
	       src, r->version ? " version " : "", (unsigned long long)r->version,
	       gk_policy_mode(r->p) == GK_POLICY_MONITOR ? "monitor" : "enforce", st.lists,
	       st.entries, st.arena_bytes);
}

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
	struct gk_daemon_polref *r = gk_daemon_polref_new(p, version);
	struct gk_daemon_view *v =
	    r != NULL ? gk_daemon_view_copy(gk_snapshot_read(s->view)) : NULL;
	if (v != NULL) {
		gk_daemon_polref_put(v->pol); /* the current view keeps its own reference */
		v->pol = r;
		r->refs++;
		v->v.opts.policy = p;
	}
	if (v == NULL || gk_snapshot_publish(s->view, v) != 0) {
		if (v != NULL)
			gk_daemon_view_free(v);
		if (r != NULL)
			gk_daemon_polref_put(r);
		else
			gk_policy_free(p);
		gk_log(GK_LOG_ERR, "fleet policy version %llu: out of memory, not applied",
		       (unsigned long long)version);
		return;
	}
	gk_daemon_polref_put(s->pol);
	s->pol = r;
	s->pol_fleet = true;
	gk_daemon_view_published(s);
	char what[128];
	snprintf(what, sizeof(what), "applied fleet (key %s)", key);
	gk_daemon_policy_log(what, r, "from redis"); /* polsync reported it in the heartbeat */
}

/* Before the first view: the follower, and the version it kept on disk (verified again),
 * which then takes the policy file's place. A state file that cannot be used is logged
 * loudly; the start goes on with the policy file and whatever Redis offers. */
int gk_daemon_polsync_create(gk_server_t *s, char *err, size_t errlen)
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
	if ((s->pol = gk_daemon_polref_new(p, version)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	s->pol_fleet = true;
	return 0;
}

int gk_daemon_polsync_start(gk_server_t *s, char *err, size_t errlen)
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
