/* SPDX-License-Identifier: MIT */
/* src/status/redis.c -- the status loop: its thread, the two hiredis connections, timeouts,
 * reconnect with backoff, staleness and the heartbeat.
 *
 * Two connections per session: "cmd" carries the full load, trim checks and heartbeats;
 * "tail" carries only XREAD BLOCK (a blocking read holds its connection). A session fails
 * as a whole: any NULL reply, error on a required command, timeout or disconnect tears both
 * down from a zero-delay timer (never inside a hiredis callback) with redisAsyncFree, which
 * runs the pending callbacks with NULL replies; they see c->ac != their context and do
 * nothing. Connections are opened through src/redis (AUTH first when configured: a
 * connection counts as up only once authenticated). Reconnects back off from 100 ms,
 * doubling to reconnect_max_ms with jitter (gk_redis_backoff), and reset after a session
 * that loaded or resumed.
 *
 * hiredis 0.14 has no timeouts: a 100 ms tick checks the connect deadline and, per
 * connection, the time since the last reply while commands are outstanding (the tail's
 * XREAD BLOCK is allowed its block time on top).
 *
 * Freshness counts from the last reply, never from a connect: a frozen (SIGSTOPped) server
 * still completes TCP handshakes from its listen backlog, and counting those kept a replica
 * "fresh" forever. The tick sends a PING on the command connection every GK_HEARTBEAT_MS,
 * so a live server refreshes the age even while the tail blocks. Staleness is a loud flag
 * (warning on each transition and every NAG_MS while it lasts, metrics, heartbeat state);
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
#define TAIL_BLOCK_MS  1000u
#define NAG_MS         60000u /* reminder period while stale or diverged */

static uint64_t unix_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

void note_contact(gk_status_t *st)
{
	st->last_contact_ms = gk_status_now_ms();
	uv_mutex_lock(&st->info_lock);
	st->info.last_contact_ms = (int64_t)unix_ms();
	uv_mutex_unlock(&st->info_lock);
}

struct req {
	struct conn *c;
	redisAsyncContext *ac;
	reply_fn fn;
	void *priv;
};

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct req *q = privdata;
	struct conn *c = q->c;
	if (c->ac != ac) { /* torn down by us: the session is gone */
		free(q);
		return;
	}
	if (c->pending > 0)
		c->pending--;
	c->progress_ms = gk_status_now_ms();
	if (r == NULL) {
		/* hiredis is freeing the context after an error; do not free it again */
		c->ac = NULL;
		c->up = false;
		free(q);
		session_fail(c->st, "connection lost");
		return;
	}
	note_contact(c->st);
	q->fn(c, r, q->priv);
	free(q);
}

static struct req *req_new(struct conn *c, reply_fn fn, void *priv)
{
	struct req *q = malloc(sizeof(*q));
	if (q == NULL)
		return NULL;
	*q = (struct req){.c = c, .ac = c->ac, .fn = fn, .priv = priv};
	return q;
}

static void sent(struct conn *c)
{
	if (c->pending++ == 0)
		c->progress_ms = gk_status_now_ms();
}

int conn_cmd(struct conn *c, reply_fn fn, void *priv, const char *fmt, ...)
{
	if (c->ac == NULL)
		return GK_EIO;
	struct req *q = req_new(c, fn, priv);
	if (q == NULL)
		return GK_ENOMEM;
	va_list ap;
	va_start(ap, fmt);
	int rc = redisvAsyncCommand(c->ac, on_reply, q, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		free(q);
		return GK_EIO;
	}
	sent(c);
	return 0;
}

int conn_cmdargv(struct conn *c, reply_fn fn, void *priv, int argc, const char **argv,
                 const size_t *argvlen)
{
	if (c->ac == NULL)
		return GK_EIO;
	struct req *q = req_new(c, fn, priv);
	if (q == NULL)
		return GK_ENOMEM;
	if (redisAsyncCommandArgv(c->ac, on_reply, q, argc, argv, argvlen) != REDIS_OK) {
		free(q);
		return GK_EIO;
	}
	sent(c);
	return 0;
}

/* --- session lifecycle ------------------------------------------------------------- */

static void conn_close(struct conn *c)
{
	redisAsyncContext *ac = c->ac;
	c->ac = NULL;
	c->up = false;
	c->pending = 0;
	if (ac != NULL)
		redisAsyncFree(ac); /* pending callbacks run with NULL and see c->ac != ac */
}

static void reconnect_cb(uv_timer_t *t);

static void teardown_cb(uv_timer_t *t)
{
	gk_status_t *st = t->data;
	conn_close(&st->cmd);
	conn_close(&st->tail);
	if (st->stopping)
		return;
	unsigned delay = gk_redis_backoff_next(&st->backoff);
	uv_timer_start(&st->reconnect, reconnect_cb, delay, 0);
}

void session_fail(gk_status_t *st, const char *why)
{
	if (st->phase == PH_DOWN)
		return;
	if (st->was_connected)
		gk_log(GK_LOG_WARN, "status: lost connection to redis: %s", why);
	else
		gk_log(GK_LOG_DEBUG, "status: redis: %s", why);
	st->was_connected = false;
	if (st->phase == PH_LOADING || st->phase == PH_BUILDING) {
		load_abort(st);
		st->load_failed = true;
	}
	st->phase = PH_DOWN;
	st->tail_out = false;
	st->check_out = false;
	st->cmd.up = st->tail.up = false;
	status_publish_info(st);
	uv_timer_start(&st->kick, teardown_cb, 0, 0);
}

static void heartbeat(gk_status_t *st);

static void both_up(gk_status_t *st)
{
	st->was_connected = true;
	uv_mutex_lock(&st->info_lock);
	st->info.connected = true;
	if (st->ever_up)
		st->info.reconnects++;
	uv_mutex_unlock(&st->info_lock);
	st->ever_up = true;
	char name[300];
	gk_redis_addr_fmt(&st->addr, name, sizeof(name));
	gk_log(GK_LOG_INFO, "status: connected to redis %s%s", name,
	       st->sentinel.n ? " (master found through Sentinel)" : "");
	/* no note_contact here: a connect is not a reply (see the top of this file) */
	st->last_heartbeat_ms = gk_status_now_ms();
	heartbeat(st); /* at once: a failing first load must still be visible */
	if (st->phase != PH_CONNECTING)
		return;
	if (!atomic_load(&st->ready))
		load_begin(st);
	else
		resume_begin(st); /* checks gk:serial first, then resumes or reloads */
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;
	if (c == NULL || c->ac != ac)
		return;
	gk_status_t *st = c->st;
	if (status != REDIS_OK) {
		c->ac = NULL; /* hiredis frees it after this callback */
		char why[160];
		snprintf(why, sizeof(why), "connect (%s): %s", c->name,
		         ac->errstr ? ac->errstr : "error");
		session_fail(st, why);
		return;
	}
	c->up = true;
	if (st->phase == PH_CONNECTING && st->cmd.up && st->tail.up)
		both_up(st);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	struct conn *c = ac->data;
	if (c == NULL || c->ac != ac)
		return;
	c->ac = NULL; /* hiredis frees it after this callback */
	c->up = false;
	session_fail(c->st, ac->errstr && ac->errstr[0] ? ac->errstr : "disconnected");
}

static int conn_open(gk_status_t *st, struct conn *c)
{
	redisAsyncContext *ac;
	int rc = gk_redis_async_open(&st->addr, &st->auth, "status", &st->loop, c, on_connect,
	                             on_disconnect, &ac);
	if (rc != 0)
		return rc;
	c->ac = ac;
	c->up = false;
	c->pending = 0;
	return 0;
}

static void reconnect_cb(uv_timer_t *t)
{
	gk_status_t *st = t->data;
	if (st->stopping)
		return;
	st->phase = PH_CONNECTING;
	if (st->sentinel.n) {
		/* every (re)connect asks the sentinels again: after a failover the master moved */
		char why[900];
		if (gk_redis_sentinel_resolve(&st->sentinel, &st->auth, st->conf.connect_timeout_ms,
		                              &st->addr, why, sizeof(why)) != 0) {
			gk_log(GK_LOG_WARN, "status: %s", why);
			session_fail(st, "no master from the sentinels");
			return;
		}
	}
	st->connect_start_ms = gk_status_now_ms(); /* the sentinels' time is not the connect's */
	if (conn_open(st, &st->cmd) != 0 || conn_open(st, &st->tail) != 0)
		session_fail(st, "cannot create a connection");
}

/* --- work in bounded steps (merges, base builds) ----------------------------------- */

static void work_cb(uv_idle_t *h)
{
	gk_status_t *st = h->data;
	bool more = false;
	if (st->phase == PH_BUILDING)
		more = load_step(st);
	if (tab_step(&st->tab))
		more = true;
	if (!more)
		uv_idle_stop(h);
}

void work_start(gk_status_t *st)
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

/* A heartbeat reply, on either connection. READONLY (a replica) is logged once per
 * transition with the fix; other errors at each heartbeat. */
static void hb_result(gk_status_t *st, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ERROR) {
		if (st->hb_readonly)
			gk_log(GK_LOG_INFO, "status: heartbeat written again");
		st->hb_readonly = false;
		return;
	}
	if (gk_redis_is_readonly(r->str)) {
		if (!st->hb_readonly)
			gk_log(GK_LOG_WARN,
			       "status: heartbeat refused: the redis server is a read-only replica "
			       "(%s); configure redis.primary (an address, or 'sentinel') so "
			       "heartbeats and discovery counters are written to the primary",
			       r->str);
		st->hb_readonly = true;
		return;
	}
	gk_log(GK_LOG_WARN, "status: heartbeat: %s", r->str);
}

static void hb_reply(struct conn *c, redisReply *r, void *priv)
{
	(void)priv;
	hb_result(c->st, r);
}

/* --- the heartbeat's connection to the primary (redis.primary) --- */

static void hb_split_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	(void)privdata;
	gk_status_t *st = ac->data;
	if (r != NULL && st != NULL && st->hb_ac == ac)
		hb_result(st, r);
}

static void hb_on_connect(const redisAsyncContext *ac, int status)
{
	gk_status_t *st = ac->data;
	if (st == NULL || st->hb_ac != ac)
		return;
	if (status != REDIS_OK) {
		st->hb_ac = NULL; /* hiredis frees it after this callback */
		st->hb_up = false;
		st->hb_next_ms = gk_status_now_ms() + gk_redis_backoff_next(&st->hb_backoff);
		return;
	}
	st->hb_up = true;
	gk_redis_backoff_reset(&st->hb_backoff);
	heartbeat(st);
}

static void hb_on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	gk_status_t *st = ac->data;
	if (st == NULL || st->hb_ac != ac)
		return;
	st->hb_ac = NULL;
	st->hb_up = false;
	st->hb_next_ms = gk_status_now_ms() + gk_redis_backoff_next(&st->hb_backoff);
	gk_log(GK_LOG_WARN, "status: heartbeat connection to the primary lost: %s",
	       ac->errstr[0] ? ac->errstr : "disconnected");
}

static void hb_close(gk_status_t *st)
{
	redisAsyncContext *ac = st->hb_ac;
	st->hb_ac = NULL;
	st->hb_up = false;
	if (ac != NULL)
		redisAsyncFree(ac);
}

/* Start the connection to the primary (the sentinels asked again each time). */
static void hb_open(gk_status_t *st)
{
	uint64_t now = gk_status_now_ms();
	if (st->hb_ac != NULL || now < st->hb_next_ms)
		return;
	gk_redis_addr_t a;
	char why[900];
	if (gk_redis_target_resolve(&st->hb_target, &st->auth, st->conf.connect_timeout_ms, &a, why,
	                            sizeof(why)) != 0) {
		gk_log(GK_LOG_WARN, "status: heartbeat: %s", why);
		st->hb_next_ms = now + gk_redis_backoff_next(&st->hb_backoff);
		return;
	}
	redisAsyncContext *ac = NULL;
	if (gk_redis_async_open(&a, &st->auth, "status heartbeat", &st->loop, st, hb_on_connect,
	                        hb_on_disconnect, &ac) != 0) {
		st->hb_next_ms = now + gk_redis_backoff_next(&st->hb_backoff);
		return;
	}
	st->hb_ac = ac;
	st->hb_up = false;
	char name[300];
	gk_redis_addr_fmt(&a, name, sizeof(name));
	gk_log(GK_LOG_INFO, "status: heartbeats to the primary redis %s", name);
}

static void heartbeat(gk_status_t *st)
{
	char serial[24], store[24], size[24], updated[24], sid[48], pver[24], pstate[16], perr[200];
	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)st->serial);
	snprintf(store, sizeof(store), "%llu", (unsigned long long)st->store_serial);
	snprintf(size, sizeof(size), "%zu", tab_size(&st->tab));
	snprintf(updated, sizeof(updated), "%llu", (unsigned long long)unix_ms());
	sid_fmt(st->last, sid, sizeof(sid));
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
	if (st->hb_split) {
		/* the server read may be a replica: the heartbeat goes to the primary, and its
		 * failures never end the reading session */
		if (!st->hb_up) {
			hb_open(st);
			return;
		}
		char ttl[24];
		snprintf(ttl, sizeof(ttl), "%u", 3 * GK_HEARTBEAT_MS);
		const char *pv[] = {"PEXPIRE", st->inst_key, ttl};
		size_t pl[] = {7, strlen(st->inst_key), strlen(ttl)};
		if (redisAsyncCommandArgv(st->hb_ac, hb_split_reply, NULL,
		                          (int)(sizeof(argv) / sizeof(argv[0])), argv,
		                          lens) != REDIS_OK ||
		    redisAsyncCommandArgv(st->hb_ac, hb_split_reply, NULL, 3, pv, pl) != REDIS_OK)
			redisAsyncDisconnect(
			    st->hb_ac); /* may be inside a callback: never a free */
		return;
	}
	if (conn_cmdargv(&st->cmd, hb_reply, NULL, (int)(sizeof(argv) / sizeof(argv[0])), argv,
	                 lens) != 0 ||
	    conn_cmd(&st->cmd, hb_reply, NULL, "PEXPIRE %s %u", st->inst_key,
	             3 * GK_HEARTBEAT_MS) != 0)
		session_fail(st, "cannot send the heartbeat");
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
		if (stale && now - st->stale_nag_ms >= NAG_MS) {
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
		       (unsigned long long)st->serial, tab_size(&st->tab),
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
	status_publish_info(st);
}

/* --- divergence: the store went behind what was applied ----------------------------- */

int serial_reply(const redisReply *r, uint64_t *out)
{
	*out = 0;
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	if (r->type != REDIS_REPLY_STRING)
		return GK_EINVAL;
	char *end;
	*out = strtoull(r->str, &end, 10);
	return end != r->str && *end == 0 ? 0 : GK_EINVAL;
}

void status_diverge(gk_status_t *st, uint64_t store, const char *what)
{
	uint64_t now = gk_status_now_ms();
	st->store_serial = store;
	st->need_reload = true; /* changes were skipped: only a full load can follow again */
	if (!st->diverged) {
		gk_log(GK_LOG_ERR,
		       "status: DIVERGED (%s): redis is at serial %llu, behind the serial %llu "
		       "applied here; keeping the last-known-good set (%zu domains) and applying "
		       "nothing from this store until its %s is >= %llu (resynchronise: re-apply "
		       "the latest snapshot with gk-sync; docs/STATUS.md)",
		       what, (unsigned long long)store, (unsigned long long)st->serial,
		       tab_size(&st->tab), GK_KEY_SERIAL, (unsigned long long)st->serial);
		st->diverged = true;
		st->diverged_nag_ms = now;
	}
	if (st->phase == PH_LOADING || st->phase == PH_BUILDING)
		load_abort(st);
	st->phase = PH_DIVERGED;
	st->tail_gen++; /* an XREAD still outstanding is dropped when it returns */
	status_publish_info(st);
}

static void on_poll(struct conn *c, redisReply *r, void *priv)
{
	(void)priv;
	gk_status_t *st = c->st;
	uint64_t floor = st->serial, store; /* constant while diverged: nothing is applied */
	if (st->phase != PH_DIVERGED)
		return;
	if (serial_reply(r, &store) != 0) {
		session_fail(st, r->type == REDIS_REPLY_ERROR ? r->str : "bad gk:serial");
		return;
	}
	st->store_serial = store;
	uint64_t now = gk_status_now_ms();
	if (store < floor) {
		if (now - st->diverged_nag_ms >= NAG_MS) {
			gk_log(GK_LOG_ERR,
			       "status: still diverged: redis holds %s %llu, %llu applied here",
			       GK_KEY_SERIAL, (unsigned long long)store, (unsigned long long)floor);
			st->diverged_nag_ms = now;
		}
		status_publish_info(st);
		return;
	}
	gk_log(GK_LOG_WARN,
	       "status: redis holds %s %llu again (>= %llu applied here): reloading the whole set",
	       GK_KEY_SERIAL, (unsigned long long)store, (unsigned long long)floor);
	load_begin(st); /* clears diverged once the set is installed */
}

/* Liveness and the divergence poll, once per heartbeat interval on the command connection:
 * the replies are what keep the replica's age current (note_contact in on_reply). */
static void ping_reply(struct conn *c, redisReply *r, void *priv)
{
	(void)c;
	(void)r;
	(void)priv;
}

static void liveness(gk_status_t *st)
{
	if (conn_cmd(&st->cmd, ping_reply, NULL, "PING") != 0) {
		session_fail(st, "cannot send PING");
		return;
	}
	if (st->phase == PH_DIVERGED &&
	    conn_cmd(&st->cmd, on_poll, NULL, "GET %s", GK_KEY_SERIAL) != 0)
		session_fail(st, "cannot send GET");
}

static void tick_cb(uv_timer_t *t)
{
	gk_status_t *st = t->data;
	uint64_t now = gk_status_now_ms();
	check_stale(st, now);
	if (st->phase == PH_CONNECTING &&
	    now - st->connect_start_ms > st->conf.connect_timeout_ms) {
		session_fail(st, "connect timeout");
		return;
	}
	if (st->phase != PH_DOWN && st->phase != PH_CONNECTING) {
		if (st->cmd.pending > 0 && now - st->cmd.progress_ms > st->command_timeout_ms) {
			session_fail(st, "command timeout");
			return;
		}
		if (st->tail.pending > 0 &&
		    now - st->tail.progress_ms > st->command_timeout_ms + TAIL_BLOCK_MS) {
			session_fail(st, "XREAD timeout");
			return;
		}
	}
	if (st->cmd.up && now - st->last_heartbeat_ms >= GK_HEARTBEAT_MS) {
		st->last_heartbeat_ms = now;
		status_publish_info(st);
		heartbeat(st);
		if (st->phase != PH_DOWN)
			liveness(st);
		if (st->phase == PH_TAILING)
			tail_check(st);
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
	if (st->phase == PH_LOADING || st->phase == PH_BUILDING)
		load_abort(st);
	st->phase = PH_DOWN;
	conn_close(&st->cmd);
	conn_close(&st->tail);
	hb_close(st);
	/* hiredis' libuv adapter closes its poll handles itself; close ours */
	uv_close((uv_handle_t *)&st->stop_async, NULL);
	uv_close((uv_handle_t *)&st->tick, NULL);
	uv_close((uv_handle_t *)&st->reconnect, NULL);
	uv_close((uv_handle_t *)&st->kick, NULL);
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
	uv_timer_init(&st->loop, &st->reconnect);
	uv_timer_init(&st->loop, &st->kick);
	uv_idle_init(&st->loop, &st->work);
	st->stop_async.data = st->tick.data = st->reconnect.data = st->kick.data = st->work.data =
	    st;
	st->cmd = (struct conn){.st = st, .name = "cmd"};
	st->tail = (struct conn){.st = st, .name = "tail"};
	gk_redis_backoff_init(&st->backoff, BACKOFF_MIN_MS, st->conf.reconnect_max_ms);
	gk_redis_backoff_init(&st->hb_backoff, BACKOFF_MIN_MS, st->conf.reconnect_max_ms);
	st->last_contact_ms = gk_status_now_ms();
	uv_timer_start(&st->tick, tick_cb, TICK_MS, TICK_MS);
	uv_timer_start(&st->reconnect, reconnect_cb, 0, 0);
	if ((rc = uv_thread_create(&st->thread, thread_main, st)) != 0) {
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

void status_policy_changed(gk_status_t *st)
{
	if (st->conf.policy_changed != NULL)
		st->conf.policy_changed(st->conf.policy_ctx);
}

void status_backoff_reset(gk_status_t *st)
{
	gk_redis_backoff_reset(&st->backoff);
}
