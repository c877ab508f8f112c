/* SPDX-License-Identifier: MIT */
/* src/daemon/server.c -- start-up, the main loop's signals, shutdown.
 *
 * gk_daemon_server_create() starts, in order: the main loop and its signal handlers (SIGHUP first,
 * so a reload during start-up is kept for later), the filing-status replica, discovery, the
 * fleet-policy follower, the policy, the zone store, the first view (view.c), observation
 * and the workers. The main loop then handles signals (SIGHUP: reload.c) and reclamation
 * (view.c); SIGTERM/SIGINT stop everything in reverse order.
 *
 * The filing-status replica (status/) runs on its own thread from start to SIGTERM, across
 * reloads.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "common/dns.h"
#include "common/log.h"
#include "front/conf.h"
#include "front/fwd.h"
#include "daemon/internal.h"
#include "daemon/zoneload.h"
#include "gk/version.h"
#include "redis/redis.h"

int gk_daemon_server_check(const char *config_path, char *err, size_t errlen, char *summary,
                           size_t summarylen)
{
	gk_config_t *cfg;
	int rc = gk_daemon_config_load(config_path, &cfg, err, errlen);
	if (rc != 0)
		return rc;
	gk_zoneset_t *zs = NULL;
	struct gk_daemon_polref *pol = NULL;
	rc = gk_zone_store_build(cfg->zones, cfg->n_zones, NULL, &zs, err, errlen);
	if (rc == 0)
		rc = gk_daemon_policy_load_file(cfg, &pol, err, errlen);
	if (rc == 0 && cfg->filing.enforce) {
		gk_psl_t *psl;
		if ((rc = gk_psl_open(cfg->filing.psl_file, &psl)) != 0)
			snprintf(err, errlen, "%s: filing.psl_file %s: %s", config_path,
			         cfg->filing.psl_file ? cfg->filing.psl_file : GK_PSL_DEFAULT_FILE,
			         gk_strerror(rc));
		else
			gk_psl_close(psl);
	}
	if (rc == 0)
		rc = gk_daemon_tls_check(cfg, err, errlen);
	char fwd[48] = "";
	if (cfg->front && cfg->front->n_zones)
		snprintf(fwd, sizeof(fwd), ", %zu forwarded zones", cfg->front->n_zones);
	if (rc == 0 && summarylen > 0)
		snprintf(summary, summarylen,
		         "%s: ok: %zu zones, %zu RRs, %zu listen addresses%s%s%s", config_path,
		         gk_zone_store_zone_count(zs), gk_zone_store_rr_count(zs), cfg->n_listen,
		         fwd, cfg->filing.enforce ? ", filing check on" : "",
		         pol ? ", policy file compiled" : "");
	gk_zone_store_free(zs);
	gk_daemon_polref_put(pol);
	gk_daemon_config_free(cfg);
	return rc;
}

/* Threads that answer queries, each with its own snapshot reader index, observation block,
 * dnstap ring and discovery table: per worker its loop (TCP; index w) and one thread per
 * UDP socket (index workers + w * n_listen + j, src/net/udp.c). */
static unsigned query_threads(const gk_config_t *cfg)
{
	return cfg->workers * (1u + (unsigned)cfg->n_listen);
}

static void log_counters(gk_server_t *s)
{
	gk_net_counters_t c = {0};
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_net_worker_counters_read(s->workers[i], &c);
	gk_obs_counters_t *o =
	    calloc(1, sizeof(*o)); /* the decision matrix: too big for the stack */
	if (o == NULL)
		return;
	gk_obs_sum(s->obs, o);
	uint64_t q[2] = {0, 0}, rc[GK_OBS_RCODE_N] = {0}, other = 0;
	for (unsigned t = 0; t < 2; t++) {
		for (unsigned k = 0; k < GK_OBS_QT_N; k++)
			q[t] += o->queries[t][k];
		for (unsigned k = 0; k < GK_OBS_RCODE_N; k++)
			rc[k] += o->responses[t][k];
	}
	for (unsigned k = 6; k < GK_OBS_RCODE_N; k++)
		other += rc[k];
	gk_log(GK_LOG_INFO,
	       "counters: udp %llu, tcp %llu queries; NOERROR %llu, SERVFAIL %llu, NXDOMAIN %llu, "
	       "REFUSED %llu, FORMERR %llu, NOTIMP %llu, other %llu; tc %llu, dropped %llu, "
	       "send errors %llu",
	       (unsigned long long)q[0], (unsigned long long)q[1], (unsigned long long)rc[0],
	       (unsigned long long)rc[2], (unsigned long long)rc[3], (unsigned long long)rc[5],
	       (unsigned long long)rc[1], (unsigned long long)rc[4], (unsigned long long)other,
	       (unsigned long long)(o->truncated[0] + o->truncated[1]),
	       (unsigned long long)(o->unanswered[0] + o->unanswered[1] + c.udp_oversize),
	       (unsigned long long)c.send_errors);
	free(o);
	gk_log(GK_LOG_INFO,
	       "counters: tcp accepted %llu, idle-closed %llu, evicted %llu, oversize %llu; "
	       "rate-limited %llu (slipped %llu, dropped %llu)",
	       (unsigned long long)c.tcp_accepted, (unsigned long long)c.tcp_idle_closed,
	       (unsigned long long)c.tcp_evicted, (unsigned long long)c.tcp_oversize,
	       (unsigned long long)c.rrl_limited, (unsigned long long)c.rrl_slipped,
	       (unsigned long long)c.rrl_dropped);
	/* forwarded queries are answered by the relays, not in the rcode counts above */
	size_t nf = 0;
	gk_fwd_t **fw =
	    gk_front_conf_forwards(s->boot->front) && s->n_workers ? gk_daemon_fwds(s, &nf) : NULL;
	if (fw != NULL) {
		gk_fwd_counters_t f = {0};
		for (size_t i = 0; i < nf; i++)
			gk_front_fwd_counters_read(fw[i], &f);
		gk_log(
		    GK_LOG_INFO,
		    "counters: forwarded %llu queries; cache hits %llu, answers relayed %llu "
		    "(NOERROR %llu, NXDOMAIN %llu, SERVFAIL %llu, REFUSED %llu, other %llu), "
		    "SERVFAIL of our own %llu (no backend %llu, table full %llu, connection %llu, "
		    "malformed %llu, timeout %llu), FORMERR (invalid ECS) %llu, "
		    "without a refused name's data %llu (%llu records left out)",
		    (unsigned long long)f.queries, (unsigned long long)f.cache_hits,
		    (unsigned long long)f.answers, (unsigned long long)f.rcode[GK_RCODE_NOERROR],
		    (unsigned long long)f.rcode[GK_RCODE_NXDOMAIN],
		    (unsigned long long)f.rcode[GK_RCODE_SERVFAIL],
		    (unsigned long long)f.rcode[GK_RCODE_REFUSED],
		    (unsigned long long)(f.rcode[GK_RCODE_FORMERR] + f.rcode[GK_RCODE_NOTIMP] +
		                         f.rcode[GK_FWD_RCODES_NAMED]),
		    (unsigned long long)f.servfail, (unsigned long long)f.no_backend,
		    (unsigned long long)f.table_full, (unsigned long long)f.conn_failed,
		    (unsigned long long)f.bad_answer,
		    (unsigned long long)(f.servfail - f.no_backend - f.table_full - f.conn_failed -
		                         f.bad_answer),
		    (unsigned long long)f.ecs_invalid, (unsigned long long)f.filtered,
		    (unsigned long long)f.filtered_records);
		free(fw);
	}
}

/* --- observation: counters, metrics endpoint, decision log (obs/) ------------------- */

static void net_counters(void *arg, gk_net_counters_t *sum)
{
	gk_server_t *s = arg;
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_net_worker_counters_read(s->workers[i], sum);
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
		    .forwarded = cfg->dnstap.forwarded,
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
		if ((rc = gk_obs_tap_create(&tc, query_threads(cfg), &s->tap, err, errlen)) != 0)
			return rc;
		if ((rc = gk_obs_tap_start(s->tap)) != 0) {
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
	gk_obs_set_zones(s->obs, s->zs);
	return 0;
}

/* On the main loop, once it exists. */
static int start_metrics(gk_server_t *s, char *err, size_t errlen)
{
	const gk_config_t *cfg = s->boot;
	if (!cfg->metrics.set)
		return 0;
	int rc =
	    gk_obs_metrics_http_start(&s->loop, (const struct sockaddr *)&cfg->metrics.listen.addr,
	                              s->obs, &s->metrics, err, errlen);
	if (rc == 0)
		gk_log(GK_LOG_INFO, "metrics on http://%s/metrics", cfg->metrics.listen.text);
	return rc;
}

static void stop_obs(gk_server_t *s)
{
	gk_obs_metrics_http_close(s->metrics);
	s->metrics = NULL;
	gk_obs_tap_stop(s->tap); /* after the workers: drains what they queued */
}

static void stop_workers(gk_server_t *s)
{
	for (unsigned i = 0; i < s->n_workers; i++)
		gk_net_worker_stop(s->workers[i]);
}

static void log_discovery(gk_server_t *s)
{
	if (s->disc == NULL)
		return;
	gk_disc_stats_t st;
	gk_obs_disc_stats(s->disc, &st);
	gk_log(GK_LOG_INFO,
	       "discovery: %llu queries counted, %llu written in %llu writes (%llu entries); "
	       "overflow %llu, day_max %llu, dropped %llu, lost %llu, %u pending",
	       (unsigned long long)st.merged, (unsigned long long)st.queries,
	       (unsigned long long)st.flushes, (unsigned long long)st.written,
	       (unsigned long long)st.overflow, (unsigned long long)st.capped,
	       (unsigned long long)st.dropped, (unsigned long long)st.lost, st.pending);
}

static void on_signal(uv_signal_t *h, int signum)
{
	gk_server_t *s = h->data;
	if (s->stopping)
		return;
	if (signum == SIGHUP) {
		char err[512];
		if (s->zone_builds > 0) { /* run when the last one is published (zones.c) */
			gk_log(GK_LOG_INFO, "SIGHUP: reload waits for %u zone builds",
			       s->zone_builds);
			s->reload_wanted = true;
			return;
		}
		gk_log(GK_LOG_INFO, "SIGHUP");
		gk_daemon_notify_reloading(s->notify);
		(void)gk_daemon_reload(s, err, sizeof(err));
		gk_daemon_notify_reloaded(s->notify);
		return;
	}
	gk_log(GK_LOG_INFO, "%s: stopping", signum == SIGTERM ? "SIGTERM" : "SIGINT");
	s->stopping = true;
	gk_daemon_zoneload_close(s->zload);
	s->zload = NULL;
	gk_daemon_notify_stopping(s->notify);
	gk_daemon_control_stop(s);
	stop_workers(s);
	gk_xfr_secondary_free(
	    s->sec); /* after the query threads (NOTIFY), before the loop closes */
	s->sec = NULL;
	stop_obs(s);
	if (s->polsync != NULL)
		gk_polsync_stop(s->polsync);
	gk_status_stop(s->status);
	gk_obs_disc_stop(s->disc); /* after the workers: their last counts are written */
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
	    .retired = gk_daemon_on_status_retired,
	    .retired_ctx = s,
	    .policy_changed = cfg->policy.redis ? gk_daemon_on_status_policy : NULL,
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
	int rc = gk_obs_disc_create(&dc, &s->disc);
	if (rc == 0 && (rc = gk_obs_disc_start(s->disc)) != 0) {
		gk_obs_disc_free(s->disc);
		s->disc = NULL;
	}
	if (rc != 0) {
		snprintf(err, errlen, "discovery: %s", gk_strerror(rc));
		return rc;
	}
	gk_disc_stats_t st;
	gk_obs_disc_stats(s->disc, &st);
	gk_log(GK_LOG_INFO, "discovery: %u entries per worker table, flush every %u ms, %zu bytes",
	       cfg->discovery.table_size, cfg->discovery.flush_ms, st.table_bytes);
	return 0;
}

static void notify_cb(void *ctx, const uint8_t *msg, size_t len, const struct sockaddr *from,
                      uint8_t *out, size_t cap, size_t *outlen)
{
	gk_xfr_secondary_notify(ctx, msg, len, from, out, cap, outlen);
}

/* Metric families of other modules: secondary zones, the front end's relays. */
static void extra_metrics(void *arg, FILE *f)
{
	gk_server_t *s = arg;
	if (s->sec)
		gk_xfr_secondary_metrics(s->sec, f);
	const gk_front_conf_t *fc = s->boot->front;
	if (!gk_front_conf_forwards(fc) || s->n_workers == 0)
		return;
	size_t n = 0;
	gk_fwd_t **fw = gk_daemon_fwds(s, &n);
	if (fw == NULL)
		return;
	gk_front_fwd_metrics(fw, n, fc, f);
	free(fw);
}

static void secondary_published(void *ctx)
{
	gk_daemon_view_members(ctx);   /* forwarded catalog members changed: a new view */
	gk_daemon_view_published(ctx); /* replaced versions wait for every worker */
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
	gk_net_tls_t *tls = NULL;
	int trc = gk_daemon_tls_create(s, &tls, err, errlen);
	if (trc != 0) {
		free(addrs);
		return trc;
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
	    .rrl_table_size = cfg->rrl.table_size,
	    .view = s->view,
	    .tls = tls,
	    .n_tls = cfg->n_tls,
	    .front = gk_front_conf_forwards(cfg->front) ? cfg->front : NULL,
	    .edns_udp_max = cfg->edns_udp_max,
	    .front_cache_parts = cfg->workers * (GK_FRONT_UDP_PARTS * (unsigned)cfg->n_listen + 1u),
	    .udp_linger_us = cfg->udp_linger_us,
	    .udp_priority = cfg->udp_priority,
	};
	gk_obs_worker_t **udp_obs = calloc(cfg->n_listen, sizeof(*udp_obs));
	if (udp_obs == NULL) {
		free(addrs);
		free(tls);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	p.udp_obs = udp_obs;
	if (s->sec) {
		p.notify = notify_cb;
		p.notify_ctx = s->sec;
	}
	int rc = 0;
	for (unsigned i = 0; i < cfg->workers && rc == 0; i++) {
		p.id = i;
		p.obs = gk_obs_worker(s->obs, i);
		gk_obs_set_disc(s->obs, i, gk_obs_disc_worker(s->disc, i));
		p.udp_reader0 = cfg->workers + i * (unsigned)cfg->n_listen;
		for (unsigned j = 0; j < cfg->n_listen; j++) {
			udp_obs[j] = gk_obs_worker(s->obs, p.udp_reader0 + j);
			gk_obs_set_disc(s->obs, p.udp_reader0 + j,
			                gk_obs_disc_worker(s->disc, p.udp_reader0 + j));
		}
		rc = gk_net_worker_create(&p, &s->workers[i], err, errlen);
		if (rc == 0)
			s->n_workers = i + 1;
	}
	free(udp_obs);
	free(addrs);
	free(tls);
	for (unsigned i = 0; i < s->n_workers && rc == 0; i++) {
		rc = gk_net_worker_start(s->workers[i]);
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
		gk_daemon_view_published(s);
}

static void zone_done(void *ctx, const gk_zone_spec_t *spec, const char *err)
{
	gk_daemon_zones_loaded(ctx, spec->name, err);
}

/* Every zone loaded or failed: a SIGHUP that came meanwhile runs now. */
static void zones_ready(void *ctx)
{
	gk_daemon_zones_build_done(ctx);
}

int gk_daemon_server_create(const char *config_path, gk_server_t **out, char *err, size_t errlen)
{
	gk_server_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	struct gk_daemon_view *v = NULL;
	/* A SIGHUP from here until its handler is in place stays pending instead of killing
	 * the daemon (default action); unblocked once libuv catches it, it becomes a reload. */
	sigset_t hup;
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &hup, NULL);
	int rc = gk_daemon_config_load(config_path, &s->boot, err, errlen);
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
	if ((rc = uv_async_init(&s->loop, &s->retire_async, gk_daemon_retire_async_cb)) != 0 ||
	    (rc = uv_async_init(&s->loop, &s->polnote_async, gk_daemon_polnote_async_cb)) != 0) {
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
	if ((rc = gk_daemon_polsync_create(s, err, errlen)) != 0)
		goto fail;
	if (s->pol_fleet)
		gk_daemon_policy_log("kept fleet", s->pol, s->boot->policy.state_dir);
	else if ((rc = gk_daemon_policy_load_file(s->boot, &s->pol, err, errlen)) != 0)
		goto fail;
	else if (s->pol != NULL)
		gk_daemon_policy_log("loaded", s->pol, s->boot->policy.file);
	if (s->status != NULL)
		gk_status_set_policy(s->status, s->pol_fleet ? s->pol->version : 0,
		                     s->boot->policy.redis ? "waiting"
		                     : s->pol              ? "file"
		                                           : "off");
	if ((rc = gk_zone_store_create(gk_daemon_zone_retire, s, &s->zs)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (s->disc != NULL) /* each published zone's site addresses, for gkctl report */
		gk_zone_store_on_publish(s->zs, gk_obs_disc_zone_published, s->disc);
	/* placeholders (SERVFAIL) now, versions as the loader threads build them; loading
	 * counts as a zone build, so a SIGHUP or `reload` waits for it (zones.c) */
	gk_zoneload_cbs_t zcb = {
	    .published = zones_published, .ready = zones_ready, .zone = zone_done, .ctx = s};
	if ((rc = gk_daemon_zoneload_start(&s->loop, s->zs, s->boot->zones, s->boot->n_zones,
	                                   s->psl, config_path, &zcb, &s->zload, err, errlen)) != 0)
		goto fail;
	/* With user: or chroot: the loader threads start once the privileges are dropped and
	 * the root has changed (gk_daemon_service_start): zone files are read as the user, at
	 * start as at every reload, and never while the zone paths lose the chroot's prefix. */
	bool defer_load = s->boot->chroot || s->boot->privs.set;
	if (!defer_load && (rc = gk_daemon_zoneload_run(s->zload, err, errlen)) != 0)
		goto fail;
	s->zone_builds++;
	if ((rc = gk_daemon_zones_adopt(s, s->boot, NULL)) != 0) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (s->boot->secondary &&
	    (rc = gk_xfr_secondary_create(&s->loop, s->zs, s->boot->secondary, s->psl,
	                                  secondary_published, s, &s->sec, err, errlen)) != 0)
		goto fail;
	if ((rc = gk_daemon_view_build(s->zs, s->boot, s->status, s->psl, s->pol,
	                               gk_xfr_secondary_forwarded(s->sec), &v, err, errlen)) != 0)
		goto fail;
	if (s->boot->n_zones <= 1000) /* a registrar's million would drown the log */
		for (size_t i = 0; i < s->boot->n_zones; i++)
			gk_log(GK_LOG_INFO, "zone %s from %s", s->boot->zones[i].name,
			       s->boot->zones[i].file);
	if ((rc = gk_snapshot_create(query_threads(s->boot), v, gk_daemon_view_free, &s->view)) !=
	    0) {
		gk_daemon_view_free(v);
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
	if ((rc = gk_daemon_polsync_start(s, err, errlen)) != 0)
		goto fail;
	if ((rc = gk_daemon_control_start(s, err, errlen)) != 0)
		goto fail;
	if ((rc = start_obs(s, err, errlen)) == 0)
		gk_obs_set_zone_figures(s->obs, gk_daemon_zoneload_figures, s->zload);
	if (rc != 0 || (rc = start_metrics(s, err, errlen)) != 0 ||
	    (rc = start_workers(s, err, errlen)) != 0)
		goto fail;
	gk_obs_set_extra(s->obs, extra_metrics, s);
	if (s->sec && !s->boot->chroot && (rc = gk_xfr_secondary_start(s->sec)) != 0) {
		snprintf(err, errlen, "secondary: cannot start the transfer thread: %s",
		         uv_strerror(rc));
		goto fail;
	}
	for (size_t i = 0; i < s->boot->n_listen; i++)
		gk_log(GK_LOG_INFO, "listening on %s (udp, tcp)", s->boot->listen[i].text);
	for (size_t i = 0; i < s->boot->n_tls; i++)
		gk_log(GK_LOG_INFO, "listening on %s (tls, certificate %s)",
		       s->boot->tls[i].listen.text, s->boot->tls[i].certificate);
	gk_log(GK_LOG_INFO,
	       "%u workers; edns_udp_max %u; tcp max_connections %u, idle_timeout_ms %u, "
	       "max_pipelined %u",
	       s->n_workers, (unsigned)s->boot->edns_udp_max, s->boot->tcp_max_connections,
	       s->boot->tcp_idle_timeout_ms, s->boot->tcp_max_pipelined);
	if ((rc = gk_daemon_service_start(s, err, errlen)) != 0)
		goto fail;
	if (defer_load && (rc = gk_daemon_zoneload_run(s->zload, err, errlen)) != 0)
		goto fail;
	if (s->boot->chroot) { /* inside the chroot now, its prefix gone from the paths */
		if (s->sec && (rc = gk_xfr_secondary_start(s->sec)) != 0) {
			snprintf(err, errlen, "secondary: cannot start the transfer thread: %s",
			         uv_strerror(rc));
			goto fail;
		}
	}
	*out = s;
	return 0;
fail:
	pthread_sigmask(SIG_UNBLOCK, &hup, NULL);
	gk_daemon_server_free(s);
	return rc;
}

int gk_daemon_server_run(gk_server_t *s)
{
	return uv_run(&s->loop, UV_RUN_DEFAULT);
}

static void close_walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void gk_daemon_server_free(gk_server_t *s)
{
	if (s == NULL)
		return;
	s->stopping = true;                 /* a zone build finishing below publishes nothing */
	gk_daemon_zoneload_close(s->zload); /* joins its threads, before the store and the PSL go */
	s->zload = NULL;
	gk_daemon_control_stop(s);
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
		gk_net_worker_free(s->workers[i]);
	free(s->workers);
	gk_daemon_tls_free(s); /* workers freed: no connection uses the ticket keys */
	gk_polsync_free(s->polsync);
	if (s->pol_mu_ready) {
		gk_policy_free(s->pol_next);
		uv_mutex_destroy(&s->pol_mu);
	}
	gk_obs_disc_free(s->disc);
	gk_daemon_notify_free(s->notify); /* its timers were closed with the loop's handles */
	gk_status_retired_free(s->retire_pending);
	gk_snapshot_destroy(s->view); /* workers joined: frees current and retired views */
	s->view = NULL;
	gk_daemon_zones_free(s->zcat);
	gk_zone_store_free(
	    s->zs); /* after the retired versions: the store holds the current ones */
	gk_status_free(s->status);
	gk_daemon_polref_put(s->pol);
	gk_obs_tap_free(s->tap);
	gk_obs_free(s->obs);
	gk_psl_close(s->psl);
	if (s->cur != s->boot)
		gk_daemon_config_free(s->cur);
	gk_daemon_config_free(s->boot);
	free(s);
}
