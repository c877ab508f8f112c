/* SPDX-License-Identifier: MIT */
/* src/daemon/reload.c -- SIGHUP: the config, the policy file and the changed zones.
 *
 * A reload re-reads the config and brings the zone store in line zone by zone on the main
 * thread (gk_zone_store_sync: only zones whose files changed are rebuilt, each published alone
 * while workers keep answering), then publishes a new view (options, policy). Settings that
 * shape sockets, pools and threads (listen, workers, tcp.*, redis, discovery, metrics,
 * dnstap) need a restart and are only reported. On any error the running state is kept.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "front/conf.h"
#include "common/log.h"
#include "daemon/internal.h"
#include "daemon/zoneload.h"
#include "redis/redis.h"

void gk_daemon_zone_failed(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err)
{
	struct gk_daemon_sync_report *r = ctx;
	(void)rc;
	if (!r->first[0])
		snprintf(r->first, sizeof(r->first), "%s", err);
	if (r->errs != NULL)
		r->errs[spec - r->specs] = strdup(err);
	gk_log(GK_LOG_ERR, "%s: zone %s not loaded%s: %s", r->what, spec->name,
	       strcmp(r->what, "reload") == 0 ? " (its previous version keeps serving)" : "", err);
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
	       a->all_queries == b->all_queries && a->forwarded == b->forwarded &&
	       a->rate == b->rate && a->burst == b->burst && a->max_size_mb == b->max_size_mb &&
	       a->keep == b->keep;
}

static void report_restart_only(const gk_config_t *boot, const gk_config_t *next)
{
	if (boot->control.set != next->control.set ||
	    !same_str(boot->control.socket, next->control.socket) ||
	    !same_str(boot->control.state_file, next->control.state_file))
		gk_log(GK_LOG_WARN, "reload: control settings changed: take effect after restart");
	if (!same_listen(boot, next))
		gk_log(GK_LOG_WARN, "reload: listen addresses changed: takes effect after restart");
	if (boot->udp_priority != next->udp_priority)
		gk_log(GK_LOG_WARN,
		       "reload: udp_priority changed (%u -> %u): takes effect after restart",
		       boot->udp_priority, next->udp_priority);
	if (boot->udp_linger_us != next->udp_linger_us)
		gk_log(GK_LOG_WARN,
		       "reload: udp_linger_us changed (%u -> %u): takes effect after restart",
		       boot->udp_linger_us, next->udp_linger_us);
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
	if (boot->privs.set != next->privs.set || boot->privs.uid != next->privs.uid ||
	    boot->privs.gid != next->privs.gid || strcmp(boot->privs.user, next->privs.user) != 0 ||
	    strcmp(boot->privs.group, next->privs.group) != 0)
		gk_log(GK_LOG_WARN, "reload: user or group changed: takes effect after restart");
	if (!same_str(boot->chroot, next->chroot))
		gk_log(GK_LOG_WARN, "reload: chroot changed: takes effect after restart");
	if (boot->rrl.table_size != next->rrl.table_size)
		gk_log(GK_LOG_WARN, "reload: rate_limit.table_size changed: takes effect after "
		                    "restart (the other rate_limit settings apply now)");
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
	if (!gk_xfr_conf_equal(boot->secondary, next->secondary))
		gk_log(GK_LOG_WARN, "reload: secondary settings changed: take effect after restart "
		                    "(the secondary zones keep the settings they started with)");
}

/* The store now serves cfg's zones: cfg becomes the current config (the catalogue borrows
 * its strings), whatever happens to the rest of the reload. */
static void adopt_zones(gk_server_t *s, gk_config_t *cfg, char **errs)
{
	(void)gk_daemon_zones_adopt(s, cfg, errs);
	if (s->cur != s->boot)
		gk_daemon_config_free(s->cur);
	s->cur = cfg;
}

/* The zones a reload published or failed (gk_zone_store_sync_changed's changed callback and the
 * failures), for gk_daemon_zones_retake. */
struct touched {
	struct gk_daemon_sync_report *rep;
	size_t *i, n, cap;
	bool nomem;
};

static void touch(struct touched *t, size_t i)
{
	if (t->n == t->cap) {
		size_t nc = t->cap ? t->cap * 2 : 64;
		size_t *ni = realloc(t->i, nc * sizeof(*ni));
		if (ni == NULL) {
			t->nomem = true;
			return;
		}
		t->i = ni;
		t->cap = nc;
	}
	t->i[t->n++] = i;
}

static void touched_changed(void *ctx, size_t i)
{
	touch(ctx, i);
}

static void touched_failed(void *ctx, const gk_zone_spec_t *spec, int rc, const char *err)
{
	struct touched *t = ctx;
	gk_daemon_zone_failed(t->rep, spec, rc, err);
	touch(t, (size_t)(spec - t->rep->specs));
}

/* The new config: when its zone sources are as the current config read them (the zone list
 * file, zones directory and state file unchanged, the same `zones:` entries), it takes the
 * current config's zones instead of reading a million entries again (*kept true); else it
 * is loaded whole. Start-up loading still reads the boot config's zones: kept only once it
 * is done. */
static int load_next(gk_server_t *s, gk_config_t **out, bool *kept, char *err, size_t errlen)
{
	gk_config_t *cfg;
	*kept = false;
	bool loading = s->zload != NULL && !gk_daemon_zoneload_ready(s->zload);
	if (!loading && s->cur != NULL &&
	    gk_daemon_config_load_flags(s->boot->path, GK_CONFIG_NO_ZONE_LISTS, &cfg, err,
	                                errlen) == 0) {
		if (gk_daemon_config_zones_same(s->cur, cfg)) {
			gk_daemon_config_zones_take(cfg, s->cur);
			*kept = true;
			*out = cfg;
			return 0;
		}
		gk_daemon_config_free(cfg);
	}
	return gk_daemon_config_load(s->boot->path, out, err, errlen);
}

int gk_daemon_reload(gk_server_t *s, char *err, size_t errlen)
{
	gk_config_t *cfg;
	bool kept;
	gk_log(GK_LOG_INFO, "reloading %s", s->boot->path);
	if (load_next(s, &cfg, &kept, err, errlen) != 0) {
		gk_log(GK_LOG_ERR, "reload failed, keeping the current zones: %s", err);
		return GK_ECONFIG;
	}
	if (gk_front_conf_same_pools(s->boot->front, cfg->front, cfg->path, err, errlen) != 0) {
		gk_log(GK_LOG_ERR, "reload failed, keeping the current zones: %s", err);
		if (kept)
			gk_daemon_config_zones_take(s->cur, cfg); /* back where they were */
		gk_daemon_config_free(cfg);
		return GK_ECONFIG;
	}
	struct gk_daemon_view *v;
	/* enforcing needs the replica and the list opened at start */
	if (cfg->filing.enforce && s->psl == NULL)
		cfg->filing.enforce = false; /* enabling it needs a restart (reported below) */
	/* the policy file, unless the fleet's policy has taken over */
	struct gk_daemon_polref *pol = s->pol, *newpol = NULL;
	if (!s->pol_fleet) {
		if (gk_daemon_policy_load_file(cfg, &newpol, err, errlen) != 0) {
			gk_log(GK_LOG_ERR,
			       "reload failed, keeping the current zones and policy: %s", err);
			if (kept)
				gk_daemon_config_zones_take(s->cur, cfg);
			gk_daemon_config_free(cfg);
			return GK_ECONFIG;
		}
		pol = newpol;
	}
	/* zone by zone: a zone that fails keeps its previous version, the others go on */
	gk_zoneset_sync_stats_t st;
	char **errs = calloc(cfg->n_zones + 1, sizeof(*errs));
	struct gk_daemon_sync_report rep = {.what = "reload", .specs = cfg->zones, .errs = errs};
	struct touched tt = {.rep = &rep};
	uint64_t t0 = uv_hrtime();
	if (gk_zone_store_sync_changed(s->zs, cfg->zones, cfg->n_zones, s->psl, &st, touched_failed,
	                               kept ? touched_changed : NULL, &tt) != 0) {
		gk_log(GK_LOG_ERR, "reload: out of memory while loading zones; the zones done so "
		                   "far are served, the others keep their previous version");
	}
	gk_log(GK_LOG_INFO,
	       "reload: zones: %zu rebuilt, %zu unchanged, %zu added, %zu removed, %zu failed "
	       "(%.3f s)",
	       st.rebuilt, st.unchanged, st.added, st.removed, st.failed,
	       (double)(uv_hrtime() - t0) / 1e9);
	if (kept && !tt.nomem && st.added == 0 && st.removed == 0 &&
	    gk_daemon_zones_retake(s, s->cur, cfg, tt.i, tt.n, errs) == 0) {
		/* the catalogue's entries stay; the current config gave its zones to cfg */
		if (s->cur != s->boot)
			gk_daemon_config_free(s->cur);
		s->cur = cfg;
		gk_log(GK_LOG_INFO, "reload: zone sources unchanged: %zu zones kept, %zu updated",
		       cfg->n_zones, tt.n);
	} else {
		adopt_zones(s, cfg, errs);
	}
	free(tt.i);
	for (size_t i = 0; errs != NULL && i < cfg->n_zones; i++)
		free(errs[i]);
	free(errs);
	int rc = gk_daemon_view_build(s->zs, cfg, s->status, s->psl, pol,
	                              gk_xfr_secondary_forwarded(s->sec), &v, err, errlen);
	if (rc == 0 && (rc = gk_snapshot_publish(s->view, v)) != 0) {
		gk_daemon_view_free(v);
		snprintf(err, errlen, "out of memory");
	}
	if (rc != 0) {
		gk_log(GK_LOG_ERR,
		       "reload failed, keeping the current settings (the zones are "
		       "reloaded): %s",
		       err);
		gk_daemon_polref_put(newpol);
		gk_daemon_view_published(s); /* replaced zone versions still wait for reclamation */
		return rc;
	}
	size_t nz = gk_zone_store_zone_count(s->zs), nrr = gk_zone_store_rr_count(s->zs);
	if (!s->pol_fleet) {
		gk_daemon_polref_put(s->pol);
		s->pol = newpol; /* its own reference */
		if (newpol != NULL)
			gk_daemon_policy_log("reloaded", newpol, cfg->policy.file);
	}
	report_restart_only(s->boot, cfg);
	gk_daemon_tls_reload(s, cfg);
	gk_log_set_level(cfg->log_level);
	gk_daemon_view_published(s);
	gk_log(GK_LOG_INFO, "reloaded: %zu zones, %zu RRs, edns_udp_max %u", nz, nrr,
	       (unsigned)cfg->edns_udp_max);
	return 0;
}
