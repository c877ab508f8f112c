/* SPDX-License-Identifier: MIT */
/* src/status/redis.c -- the status loop: its thread, its Redis session, staleness,
 * divergence and the heartbeat.
 *
 * One gk_redis_session (src/redis/session.h) with two links: GK_STATUS_LINK_CMD carries the
 * full load, trim checks, PINGs and heartbeats; GK_STATUS_LINK_TAIL carries only XREAD
 * BLOCK (a blocking read holds its connection; its reply clock allows the block time). The
 * session does AUTH, the connect and reply timeouts, reconnects with backoff and jitter and
 * Sentinel re-discovery; an error reply to a required command fails it here. The backoff
 * is reset only after a session that loaded or resumed (hold_backoff). With redis.primary
 * the heartbeat has a second session of its own to the primary.
 *
 * Freshness counts from the last reply, never from a connect: a frozen (SIGSTOPped) server
 * still completes TCP handshakes from its listen backlog, and counting those kept a replica
 * "fresh" forever. The tick sends a PING on the command connection every GK_HEARTBEAT_MS,
 * so a live server refreshes the age even while the tail blocks. Staleness is a loud flag
 * (warning on each transition and every GK_STATUS_NAG_MS while it lasts, metrics, heartbeat state);
 * only the configured hard bound max_age_ms makes lookups answer "unknown".
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "common/log.h"
#include "status/internal.h"
#include "common/thread.h"

#define TICK_MS        100u
#define BACKOFF_MIN_MS 100u

/* --- clocks, stream ids, info for other threads ---------------------------------- */

uint64_t gk_status_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void gk_status_publish_info(gk_status_t *st)
{
	uv_mutex_lock(&st->info_lock);
	st->info.table_size = gk_status_tab_size(&st->tab);
	st->info.serial = st->serial;
	gk_status_sid_fmt(st->last, st->info.stream_id, sizeof(st->info.stream_id));
	st->info.ready = atomic_load(&st->ready);
	st->info.connected = st->connected;
	st->info.stale = st->stale;
	st->info.expired = atomic_load(&st->expired);
	st->info.diverged = st->diverged;
	st->info.store_serial = st->store_serial;
	uv_mutex_unlock(&st->info_lock);
}

int gk_status_sid_parse(const char *s, size_t len, struct sid *out)
{
	struct sid r = {0, 0};
	size_t i = 0;
	if (len == 0)
		return GK_EINVAL;
	for (; i < len && s[i] != '-'; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GK_EINVAL;
		r.ms = r.ms * 10 + (uint64_t)(s[i] - '0');
	}
	if (i < len) {
		if (++i == len)
			return GK_EINVAL;
		for (; i < len; i++) {
			if (s[i] < '0' || s[i] > '9')
				return GK_EINVAL;
			r.seq = r.seq * 10 + (uint64_t)(s[i] - '0');
		}
	}
	*out = r;
	return 0;
}

int gk_status_sid_cmp(struct sid a, struct sid b)
{
	if (a.ms != b.ms)
		return a.ms < b.ms ? -1 : 1;
	if (a.seq != b.seq)
		return a.seq < b.seq ? -1 : 1;
	return 0;
}

void gk_status_sid_fmt(struct sid a, char *buf, size_t cap)
{
	snprintf(buf, cap, "%llu-%llu", (unsigned long long)a.ms, (unsigned long long)a.seq);
}

static uint64_t unix_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

/* The session's last reply is the replica's contact: copied once per tick (and before each
 * staleness check), so the age never counts from a connect. */
static void sync_contact(gk_status_t *st)
{
	uint64_t r = st->rs ? gk_redis_session_last_reply_ms(st->rs) : 0;
	if (r <= st->last_contact_ms)
		return;
	uint64_t now = gk_status_now_ms();
	st->last_contact_ms = r;
	uv_mutex_lock(&st->info_lock);
	st->info.last_contact_ms = (int64_t)(unix_ms() - (now - r));
	uv_mutex_unlock(&st->info_lock);
}

int gk_status_cmd(gk_status_t *st, unsigned link, gk_redis_reply_fn *fn, void *priv,
                  const char *fmt, ...)
{
	if (st->rs == NULL)
		return GK_EIO;
	va_list ap;
	va_start(ap, fmt);
	int rc = gk_redis_session_vcmd(st->rs, link, fn, priv,
	                               link == GK_STATUS_LINK_TAIL ? GK_STATUS_TAIL_BLOCK_MS : 0,
	                               fmt, ap);
	va_end(ap);
	return rc;
}

int gk_status_cmdargv(gk_status_t *st, unsigned link, gk_redis_reply_fn *fn, void *priv, int argc,
                      const char **argv, const size_t *argvlen)
{
	if (st->rs == NULL)
		return GK_EIO;
	return gk_redis_session_cmdargv(st->rs, link, fn, priv, 0, argc, argv, argvlen);
}

void gk_status_session_fail(gk_status_t *st, const char *why)
{
	if (st->rs != NULL)
		gk_redis_session_fail(st->rs, why);
}

static void heartbeat(gk_status_t *st);

/* The session went down: what was in flight is gone. */
static void session_down(gk_status_t *st)
{
	st->connected = false;
	st->sync->down(st, true);
	gk_status_publish_info(st);
}

static void session_up(gk_status_t *st)
{
	st->connected = true;
	uv_mutex_lock(&st->info_lock);
	st->info.connected = true;
	uv_mutex_unlock(&st->info_lock);
	/* a connect is not contact; the AUTH or PING reply that made the session ready is */
	sync_contact(st);
	st->last_heartbeat_ms = gk_status_now_ms();
	heartbeat(st); /* at once: a failing first load must still be visible */
	st->sync->up(st);
}

static void on_state(gk_redis_session_t *rs, gk_redis_session_state_t state, const char *why,
                     void *ctx)
{
	(void)why;
	gk_status_t *st = ctx;
	if (state == GK_REDIS_SESSION_READY) {
		session_up(st);
	} else if (state == GK_REDIS_SESSION_DOWN) {
		session_down(st);
	} else {
		uv_mutex_lock(&st->info_lock);
		st->info.reconnects = gk_redis_session_reconnects(rs);
		uv_mutex_unlock(&st->info_lock);
	}
}

/* --- work in bounded steps (merges, base builds) ----------------------------------- */

static void work_cb(uv_idle_t *h)
{
	gk_status_t *st = h->data;
	bool more = false;
	more = st->sync->step(st);
	if (gk_status_tab_step(&st->tab))
		more = true;
	if (!more)
		uv_idle_stop(h);
}

void gk_status_work_start(gk_status_t *st)
{
	if (!uv_is_active((uv_handle_t *)&st->work))
		uv_idle_start(&st->work, work_cb);
}

/* --- heartbeat, staleness, timeouts ------------------------------------------------ */

static const char *state_name(const gk_status_t *st)
{
	if (!atomic_load(&st->ready))
		return st->load_failed ? "failed" : "starting";
	if (st->diverged)
		return "diverged";
	return st->stale ? "stale" : "ready";
}

/* The READONLY hook of both sessions (only heartbeats are written through them): said once
 * per transition, with the fix. */
static void on_readonly(gk_redis_session_t *rs, bool ro, const char *errstr, void *ctx)
{
	(void)rs;
	(void)ctx;
	if (ro)
		gk_log(GK_LOG_WARN,
		       "status: heartbeat refused: the redis server is a read-only replica "
		       "(%s); configure redis.primary (an address, or 'sentinel') so "
		       "heartbeats and discovery counters are written to the primary",
		       errstr);
	else
		gk_log(GK_LOG_INFO, "status: heartbeat written again");
}

/* A heartbeat reply, on either session; errors other than READONLY at each heartbeat. */
static void hb_reply(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)priv;
	if (!gk_redis_session_check_write(rs, r) && r->type == REDIS_REPLY_ERROR)
		gk_log(GK_LOG_WARN, "status: heartbeat: %s", r->str);
}

/* --- the heartbeat's own session to the primary (redis.primary) --- */

static void hb_on_state(gk_redis_session_t *rs, gk_redis_session_state_t state, const char *why,
                        void *ctx)
{
	gk_status_t *st = ctx;
	if (state == GK_REDIS_SESSION_READY) {
		char name[300];
		gk_redis_addr_fmt(gk_redis_session_addr(rs), name, sizeof(name));
		gk_log(GK_LOG_INFO, "status: heartbeats to the primary redis %s", name);
		heartbeat(st);
	} else if (state == GK_REDIS_SESSION_DOWN && why != NULL &&
	           strncmp(why, "no master", 9) == 0) {
		/* the sentinels' answer was logged by the session */
	}
}

static void heartbeat(gk_status_t *st)
{
	char serial[24], store[24], size[24], updated[24], sid[48], pver[24], pstate[16], perr[200];
	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)st->serial);
	snprintf(store, sizeof(store), "%llu", (unsigned long long)st->store_serial);
	snprintf(size, sizeof(size), "%zu", gk_status_tab_size(&st->tab));
	snprintf(updated, sizeof(updated), "%llu", (unsigned long long)unix_ms());
	gk_status_sid_fmt(st->last, sid, sizeof(sid));
	uv_mutex_lock(&st->info_lock);
	if (st->pol_version)
		snprintf(pver, sizeof(pver), "%llu", (unsigned long long)st->pol_version);
	else
		pver[0] = 0;
	memcpy(pstate, st->pol_state, sizeof(pstate));
	memcpy(perr, st->pol_error, sizeof(perr));
	uv_mutex_unlock(&st->info_lock);
	/* field, value pairs */
	/* clang-format off */
	const char *argv[] = {"HSET", st->inst_key,
	                      "serial", serial,
	                      "store_serial", store,
	                      "stream_id", sid,
	                      "table_size", size,
	                      "state", state_name(st),
	                      "redis", "connected",
	                      "policy_version", pver,
	                      "policy_state", pstate,
	                      "policy_error", perr,
	                      "updated", updated,
	                      "version", st->version};
	/* clang-format on */
	size_t lens[sizeof(argv) / sizeof(argv[0])];
	for (size_t i = 0; i < sizeof(argv) / sizeof(argv[0]); i++)
		lens[i] = strlen(argv[i]);
	/* with redis.primary the server read may be a replica: the heartbeat goes to the
	 * primary on its own session, whose failures never end the reading session */
	gk_redis_session_t *to = st->hb_rs ? st->hb_rs : st->rs;
	if (to == NULL || gk_redis_session_state(to) != GK_REDIS_SESSION_READY)
		return; /* it reconnects by itself; READY sends one at once */
	if (gk_redis_session_cmdargv(to, GK_STATUS_LINK_CMD, hb_reply, NULL, 0,
	                             (int)(sizeof(argv) / sizeof(argv[0])), argv, lens) != 0 ||
	    gk_redis_session_cmd(to, GK_STATUS_LINK_CMD, hb_reply, NULL, 0, "PEXPIRE %s %u",
	                         st->inst_key, 3 * GK_HEARTBEAT_MS) != 0)
		gk_redis_session_fail(to, "cannot send the heartbeat");
}

/* The age of the replica is the time since the last reply; see the top of this file. */
static void check_stale(gk_status_t *st, uint64_t now)
{
	if (!atomic_load(&st->ready))
		return;
	uint64_t age = now - st->last_contact_ms;
	bool stale = age > st->conf.stale_after_ms;
	bool expired = st->conf.max_age_ms != 0 && age > st->conf.max_age_ms;
	bool was_expired = atomic_load(&st->expired);
	if (stale == st->stale && expired == was_expired) {
		if (stale && now - st->stale_nag_ms >= GK_STATUS_NAG_MS) {
			gk_log(GK_LOG_WARN, "status: still stale: no redis reply for %llu ms%s",
			       (unsigned long long)age,
			       expired ? " (expired: answering 'unknown')"
			               : "; enforcing the last-known-good set");
			st->stale_nag_ms = now;
		}
		return;
	}
	if (stale && !st->stale)
		gk_log(GK_LOG_WARN,
		       "status: stale: no redis reply for %llu ms (filing.stale_after_ms %u); "
		       "still enforcing the last-known-good set (serial %llu, %zu domains)%s",
		       (unsigned long long)age, st->conf.stale_after_ms,
		       (unsigned long long)st->serial, gk_status_tab_size(&st->tab),
		       st->conf.max_age_ms ? " until filing.max_age_ms" : "");
	if (expired && !was_expired)
		gk_log(GK_LOG_ERR,
		       "status: expired: no redis reply for %llu ms (filing.max_age_ms %u): every "
		       "lookup now gets the 'unknown' action",
		       (unsigned long long)age, st->conf.max_age_ms);
	if (!stale)
		gk_log(GK_LOG_INFO, "status: fresh again: a redis reply after %llu ms without one",
		       (unsigned long long)(st->last_contact_ms - st->stale_since_ms));
	if (stale && !st->stale)
		st->stale_since_ms = st->last_contact_ms;
	st->stale_nag_ms = now;
	st->stale = stale;
	atomic_store(&st->expired, expired);
	gk_status_publish_info(st);
}

/* Liveness and the divergence poll, once per heartbeat interval on the command connection:
 * the replies are what keep the replica's age current (sync_contact). */
static void ping_reply(gk_redis_session_t *rs, redisReply *r, void *priv)
{
	(void)rs;
	(void)r;
	(void)priv;
}

static void liveness(gk_status_t *st)
{
	if (gk_status_cmd(st, GK_STATUS_LINK_CMD, ping_reply, NULL, "PING") != 0) {
		gk_status_session_fail(st, "cannot send PING");
		return;
	}
}

static void tick_cb(uv_timer_t *t)
{
	gk_status_t *st = t->data;
	uint64_t now = gk_status_now_ms();
	sync_contact(st);
	check_stale(st, now);
	if (now - st->last_heartbeat_ms >= GK_HEARTBEAT_MS) {
		st->last_heartbeat_ms = now;
		gk_status_publish_info(st);
		heartbeat(st);
		if (st->connected) {
			liveness(st);
			st->sync->beat(st);
		}
	}
}

/* --- thread ------------------------------------------------------------------------ */

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop_cb(uv_async_t *a)
{
	gk_status_t *st = a->data;
	st->stopping = true;
	st->sync->down(st, false);
	st->connected = false;
	gk_redis_session_close(st->rs);
	gk_redis_session_close(st->hb_rs);
	st->rs = st->hb_rs = NULL;
	uv_close((uv_handle_t *)&st->stop_async, NULL);
	uv_close((uv_handle_t *)&st->tick, NULL);
	uv_close((uv_handle_t *)&st->work, NULL);
}

static void thread_main(void *arg)
{
	gk_status_t *st = arg;
	gk_thread_name("gk-status");
	uv_run(&st->loop, UV_RUN_DEFAULT);
	uv_walk(&st->loop, close_walk, NULL);
	uv_run(&st->loop, UV_RUN_DEFAULT);
}

int gk_status_start(gk_status_t *st)
{
	if (st->started)
		return GK_EINVAL;
	int rc = uv_loop_init(&st->loop);
	if (rc != 0)
		return rc;
	uv_async_init(&st->loop, &st->stop_async, stop_cb);
	uv_timer_init(&st->loop, &st->tick);
	uv_idle_init(&st->loop, &st->work);
	st->stop_async.data = st->tick.data = st->work.data = st;
	gk_redis_session_conf_t sc = {.who = "status",
	                              .target = &st->target,
	                              .auth = &st->auth,
	                              .links = 2, /* GK_STATUS_LINK_CMD, GK_STATUS_LINK_TAIL */
	                              .connect_timeout_ms = st->conf.connect_timeout_ms,
	                              .command_timeout_ms = st->command_timeout_ms,
	                              .backoff_min_ms = BACKOFF_MIN_MS,
	                              .reconnect_max_ms = st->conf.reconnect_max_ms,
	                              /* reset after a session that loaded or resumed */
	                              .hold_backoff = true,
	                              .on_state = on_state,
	                              .on_readonly = on_readonly,
	                              .ctx = st};
	rc = gk_redis_session_create(&st->loop, &sc, &st->rs);
	if (rc == 0 && st->hb_split) {
		sc.who = "status heartbeat";
		sc.target = &st->hb_target;
		sc.links = 1;
		sc.hold_backoff = false;
		sc.lost_quiet = false;
		sc.on_state = hb_on_state;
		rc = gk_redis_session_create(&st->loop, &sc, &st->hb_rs);
	}
	st->last_contact_ms = gk_status_now_ms();
	uv_timer_start(&st->tick, tick_cb, TICK_MS, TICK_MS);
	if (rc == 0) {
		gk_redis_session_start(st->rs);
		if (st->hb_rs)
			gk_redis_session_start(st->hb_rs);
		rc = uv_thread_create(&st->thread, thread_main, st);
	}
	if (rc != 0) {
		gk_redis_session_close(st->rs);
		gk_redis_session_close(st->hb_rs);
		st->rs = st->hb_rs = NULL;
		uv_walk(&st->loop, close_walk, NULL);
		uv_run(&st->loop, UV_RUN_DEFAULT);
		uv_loop_close(&st->loop);
		return rc;
	}
	st->started = true;
	return 0;
}

void gk_status_stop(gk_status_t *st)
{
	if (st == NULL || !st->started)
		return;
	uv_async_send(&st->stop_async);
	uv_thread_join(&st->thread);
	if (uv_loop_close(&st->loop) != 0)
		gk_log(GK_LOG_ERR, "status: loop still busy at close");
	st->started = false;
}

void gk_status_policy_changed(gk_status_t *st)
{
	if (st->conf.policy_changed != NULL)
		st->conf.policy_changed(st->conf.policy_ctx);
}

void gk_status_backoff_reset(gk_status_t *st)
{
	if (st->rs)
		gk_redis_session_backoff_reset(st->rs);
}
