/* SPDX-License-Identifier: MIT */
/* src/polsync/polsync.c -- follow the fleet policy in Redis: announce, fetch, verify, compile.
 *
 * One thread, one libuv loop, two hiredis async connections per session: "cmd" carries
 * XREVRANGE / GET / HMGET, "tail" only XREAD BLOCK on the change stream (a blocking read
 * holds its connection). A session starts by asking, on cmd and in this order, for the
 * stream's last entry id and then for the current pointer: every push after that id is
 * seen by the XREAD that resumes from it, and every push before it is covered by the
 * pointer just read -- so nothing is missed across start-up or a reconnect. A policy entry
 * (k=pol) only triggers a re-read of the pointer; checks are coalesced (one in flight, one
 * more queued).
 *
 * A version is applied when: the pointer names it, it is above the version in force, its
 * key id is one of the operator keys and the Ed25519 signature over the stored bundle bytes
 * verifies, the bundle decodes and claims that version, and it compiles. Otherwise it is
 * rejected once (logged, on_reject, info, heartbeat) and the running policy stays; a
 * rejected version is not retried until the pointer moves.
 *
 * Failure handling follows src/status/redis.c: any NULL reply, error, timeout or disconnect
 * fails the session; teardown runs from a zero-delay timer (never inside a hiredis
 * callback); reconnects back off from 100 ms to reconnect_max_ms. hiredis 0.14 has no
 * timeouts: a 100 ms tick checks them.
 */
#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include "common/log.h"
#include "gk/filing_status.h"
#include "polstore/polstore.h"
#include "polsync/polsync.h"
#include "status/status.h"
#include "common/thread.h"

#define TICK_MS        100u
#define BACKOFF_MIN_MS 100u
#define BLOCK_MS       5000u
#define CMD_TIMEOUT_MS 5000u
#define XREAD_COUNT    1000

struct conn {
	gk_polsync_t *ps;
	redisAsyncContext *ac;
	const char *name;
	bool up;
	unsigned pending;
	uint64_t progress_ms;
};

struct gk_polsync {
	gk_polsync_conf_t conf;
	char *host, *unix_path;
	gk_polstore_keyring_t *keys;

	uv_mutex_t info_lock;
	gk_polsync_info_t info;

	/* the loop; everything below is the polsync thread's after start */
	bool started;
	uv_thread_t thread;
	uv_loop_t loop;
	uv_async_t stop_async;
	uv_timer_t tick, reconnect, kick;
	bool stopping, session, was_up, ever_up;
	unsigned backoff_ms;
	uint64_t connect_start_ms;
	struct conn cmd, tail;
	char last_id[48]; /* stream position the XREAD resumes from */
	bool tail_out;
	bool check_out, check_again;
	uint64_t applied, rejected;
	unsigned gen; /* session generation: replies of an older session are dropped */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* --- heartbeat and info ------------------------------------------------------------ */

static void report(gk_polsync_t *ps, const char *state)
{
	uv_mutex_lock(&ps->info_lock);
	ps->info.applied = ps->applied;
	ps->info.connected = ps->cmd.up && ps->tail.up;
	uv_mutex_unlock(&ps->info_lock);
	if (ps->conf.status)
		gk_status_set_policy(ps->conf.status, ps->applied, state);
}

static const char *steady_state(const gk_polsync_t *ps)
{
	if (!(ps->cmd.up && ps->tail.up))
		return "disconnected";
	if (ps->rejected > ps->applied)
		return "rejected";
	return ps->applied ? "ok" : "waiting";
}

static void reject(gk_polsync_t *ps, uint64_t v, const char *why)
{
	if (ps->applied)
		gk_log(GK_LOG_ERR, "policy: version %llu rejected, keeping version %llu: %s",
		       (unsigned long long)v, (unsigned long long)ps->applied, why);
	else
		gk_log(GK_LOG_ERR, "policy: version %llu rejected, keeping the policy in force: %s",
		       (unsigned long long)v, why);
	ps->rejected = v;
	uv_mutex_lock(&ps->info_lock);
	ps->info.rejected = v;
	snprintf(ps->info.reject_why, sizeof(ps->info.reject_why), "%s", why);
	uv_mutex_unlock(&ps->info_lock);
	if (ps->conf.status)
		gk_status_set_policy_error(ps->conf.status, v, why);
	report(ps, steady_state(ps));
	if (ps->conf.on_reject)
		ps->conf.on_reject(ps->conf.ctx, v, why);
}

/* --- connections ---------------------------------------------------------------------- */

typedef void (*reply_fn)(gk_polsync_t *ps, redisReply *r, void *priv);

struct req {
	struct conn *c;
	reply_fn fn;
	void *priv;
	unsigned gen;
};

static void session_fail(gk_polsync_t *ps, const char *why);

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct req *q = privdata;
	struct conn *c = q->c;
	gk_polsync_t *ps = c->ps;
	if (c->ac != ac || q->gen != ps->gen) {
		free(q);
		return;
	}
	if (c->pending > 0)
		c->pending--;
	c->progress_ms = now_ms();
	if (r == NULL) {
		c->ac = NULL; /* hiredis frees the context itself */
		c->up = false;
		free(q);
		session_fail(ps, "connection lost");
		return;
	}
	q->fn(ps, r, q->priv);
	free(q);
}

static int cmd(struct conn *c, reply_fn fn, void *priv, const char *fmt, ...)
{
	if (c->ac == NULL)
		return GK_EIO;
	struct req *q = malloc(sizeof(*q));
	if (q == NULL)
		return GK_ENOMEM;
	*q = (struct req){.c = c, .fn = fn, .priv = priv, .gen = c->ps->gen};
	va_list ap;
	va_start(ap, fmt);
	int rc = redisvAsyncCommand(c->ac, on_reply, q, fmt, ap);
	va_end(ap);
	if (rc != REDIS_OK) {
		free(q);
		return GK_EIO;
	}
	if (c->pending++ == 0)
		c->progress_ms = now_ms();
	return 0;
}

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
	gk_polsync_t *ps = t->data;
	conn_close(&ps->cmd);
	conn_close(&ps->tail);
	if (ps->stopping)
		return;
	unsigned delay = ps->backoff_ms;
	ps->backoff_ms = ps->backoff_ms * 2 > ps->conf.reconnect_max_ms ? ps->conf.reconnect_max_ms
	                                                                : ps->backoff_ms * 2;
	uv_timer_start(&ps->reconnect, reconnect_cb, delay, 0);
}

static void session_fail(gk_polsync_t *ps, const char *why)
{
	if (!ps->session)
		return;
	ps->session = false;
	ps->gen++;
	if (ps->was_up)
		gk_log(GK_LOG_WARN, "policy: lost connection to redis: %s", why);
	else
		gk_log(GK_LOG_DEBUG, "policy: redis: %s", why);
	ps->was_up = false;
	ps->tail_out = ps->check_out = ps->check_again = false;
	ps->cmd.up = ps->tail.up = false;
	report(ps, "disconnected");
	uv_timer_start(&ps->kick, teardown_cb, 0, 0);
}

/* --- checking the current version ----------------------------------------------------- */

static void check(gk_polsync_t *ps);

static void check_done(gk_polsync_t *ps)
{
	ps->check_out = false;
	if (ps->check_again) {
		ps->check_again = false;
		check(ps);
	}
}

/* Verify, decode and compile version v from its HMGET reply [bundle, sig, key_id]. */
static void apply(gk_polsync_t *ps, uint64_t v, const redisReply *r)
{
	char why[512];
	const redisReply *b = r->element[0], *sig = r->element[1], *kid = r->element[2];
	if (b->type != REDIS_REPLY_STRING) {
		reject(ps, v, "the current pointer names a version that is not stored");
		return;
	}
	if (sig->type != REDIS_REPLY_STRING || kid->type != REDIS_REPLY_STRING) {
		reject(ps, v, "no signature or key id stored with the bundle");
		return;
	}
	if (gk_polstore_verify(ps->keys, kid->str, b->str, b->len, sig->str, why, sizeof(why))) {
		reject(ps, v, why);
		return;
	}
	gk_polstore_bundle_t *bundle = NULL;
	gk_policy_t *p = NULL;
	if (gk_polstore_bundle_decode(b->str, b->len, &bundle, why, sizeof(why)) != 0) {
		reject(ps, v, why);
		return;
	}
	if (bundle->version != v) {
		snprintf(why, sizeof(why),
		         "the signed bundle is version %llu, not %llu (replayed?)",
		         (unsigned long long)bundle->version, (unsigned long long)v);
		gk_polstore_bundle_free(bundle);
		reject(ps, v, why);
		return;
	}
	int rc = gk_polstore_bundle_compile(bundle, &p, why, sizeof(why));
	gk_polstore_bundle_free(bundle);
	/* a long compile must not count against the connections' timeouts */
	ps->cmd.progress_ms = ps->tail.progress_ms = now_ms();
	if (rc != 0) {
		reject(ps, v, why);
		return;
	}
	gk_pol_stats_t st;
	gk_policy_stats(p, &st);
	gk_log(GK_LOG_INFO, "policy: version %llu applied (key id %s): %zu entries in %u lists",
	       (unsigned long long)v, kid->str, st.entries, st.lists);
	ps->applied = v;
	if (ps->conf.status && ps->rejected && ps->rejected < v)
		gk_status_set_policy_error(ps->conf.status, 0, NULL);
	report(ps, steady_state(ps));
	ps->conf.on_policy(ps->conf.ctx, p, v, kid->str);
}

static void on_version(gk_polsync_t *ps, redisReply *r, void *priv)
{
	uint64_t v = (uint64_t)(uintptr_t)priv;
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3) {
		session_fail(ps, r->type == REDIS_REPLY_ERROR ? r->str : "bad HMGET reply");
		return;
	}
	apply(ps, v, r);
	check_done(ps);
}

static void on_current(gk_polsync_t *ps, redisReply *r, void *priv)
{
	(void)priv;
	uint64_t v = 0;
	if (r->type != REDIS_REPLY_NIL &&
	    (r->type != REDIS_REPLY_STRING || gk_polstore_parse_version(r->str, r->len, &v))) {
		gk_log(GK_LOG_WARN, "policy: %s is not a version number", GK_KEY_POL_CURRENT);
		check_done(ps);
		return;
	}
	if (v == 0 || v == ps->applied || v == ps->rejected) {
		report(ps, steady_state(ps));
		check_done(ps);
		return;
	}
	if (v < ps->applied) {
		char why[160];
		snprintf(why, sizeof(why),
		         "below the version in force (%llu): the pointer went back (Redis restored "
		         "from an old copy, or a replay)",
		         (unsigned long long)ps->applied);
		reject(ps, v, why);
		check_done(ps);
		return;
	}
	if (cmd(&ps->cmd, on_version, (void *)(uintptr_t)v,
	        "HMGET " GK_KEY_POL_VERSION " bundle sig key_id", (unsigned long long)v) != 0)
		session_fail(ps, "cannot send HMGET");
}

static void check(gk_polsync_t *ps)
{
	if (ps->check_out) {
		ps->check_again = true;
		return;
	}
	if (cmd(&ps->cmd, on_current, NULL, "GET %s", GK_KEY_POL_CURRENT) != 0) {
		session_fail(ps, "cannot send GET");
		return;
	}
	ps->check_out = true;
}

/* --- the change stream ---------------------------------------------------------------- */

static void send_xread(gk_polsync_t *ps);

static void on_xread(gk_polsync_t *ps, redisReply *r, void *priv)
{
	(void)priv;
	ps->tail_out = false;
	if (r->type == REDIS_REPLY_ERROR) {
		session_fail(ps, r->str);
		return;
	}
	bool pol = false;
	for (size_t s = 0; r->type == REDIS_REPLY_ARRAY && s < r->elements; s++) {
		const redisReply *sr = r->element[s];
		if (sr->type != REDIS_REPLY_ARRAY || sr->elements != 2 ||
		    sr->element[1]->type != REDIS_REPLY_ARRAY)
			continue;
		const redisReply *es = sr->element[1];
		for (size_t i = 0; i < es->elements; i++) {
			const redisReply *e = es->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING)
				continue;
			snprintf(ps->last_id, sizeof(ps->last_id), "%s", e->element[0]->str);
			const redisReply *kv = e->element[1];
			for (size_t k = 0; kv->type == REDIS_REPLY_ARRAY && k + 1 < kv->elements;
			     k += 2)
				if (kv->element[k]->type == REDIS_REPLY_STRING &&
				    strcmp(kv->element[k]->str, "k") == 0 &&
				    kv->element[k + 1]->type == REDIS_REPLY_STRING &&
				    strcmp(kv->element[k + 1]->str, GK_POL_STREAM_KIND) == 0)
					pol = true;
		}
	}
	if (pol)
		check(ps);
	send_xread(ps);
}

static void send_xread(gk_polsync_t *ps)
{
	if (ps->tail_out || !ps->session)
		return;
	if (cmd(&ps->tail, on_xread, NULL, "XREAD COUNT %d BLOCK %u STREAMS %s %s", XREAD_COUNT,
	        BLOCK_MS, GK_KEY_STREAM, ps->last_id) != 0) {
		session_fail(ps, "cannot send XREAD");
		return;
	}
	ps->tail_out = true;
}

/* The stream's last id: the XREAD resumes there; the GET that follows covers the rest. */
static void on_last(gk_polsync_t *ps, redisReply *r, void *priv)
{
	(void)priv;
	if (r->type != REDIS_REPLY_ARRAY) {
		session_fail(ps, r->type == REDIS_REPLY_ERROR ? r->str : "bad XREVRANGE reply");
		return;
	}
	if (r->elements > 0 && r->element[0]->type == REDIS_REPLY_ARRAY &&
	    r->element[0]->elements == 2 && r->element[0]->element[0]->type == REDIS_REPLY_STRING)
		snprintf(ps->last_id, sizeof(ps->last_id), "%s", r->element[0]->element[0]->str);
	else
		snprintf(ps->last_id, sizeof(ps->last_id), "0-0");
	ps->backoff_ms = BACKOFF_MIN_MS;
	send_xread(ps);
}

static void both_up(gk_polsync_t *ps)
{
	ps->was_up = ps->ever_up = true;
	gk_log(GK_LOG_INFO, "policy: following %s on redis %s%s%s%u", GK_KEY_POL_CURRENT,
	       ps->unix_path ? "unix:" : "", ps->unix_path ? ps->unix_path : ps->host,
	       ps->unix_path ? "" : ":", ps->unix_path ? 0u : (unsigned)ps->conf.redis_port);
	if (cmd(&ps->cmd, on_last, NULL, "XREVRANGE %s + - COUNT 1", GK_KEY_STREAM) != 0) {
		session_fail(ps, "cannot send XREVRANGE");
		return;
	}
	ps->check_out = false;
	check(ps); /* pipelined after XREVRANGE on the same connection: ordered */
	report(ps, steady_state(ps));
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->data;
	if (c == NULL || c->ac != ac)
		return;
	gk_polsync_t *ps = c->ps;
	if (status != REDIS_OK) {
		c->ac = NULL; /* hiredis frees it after this callback */
		char why[200];
		snprintf(why, sizeof(why), "connect (%s): %s", c->name,
		         ac->errstr ? ac->errstr : "error");
		session_fail(ps, why);
		return;
	}
	c->up = true;
	if (ps->session && ps->cmd.up && ps->tail.up)
		both_up(ps);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	struct conn *c = ac->data;
	if (c == NULL || c->ac != ac)
		return;
	c->ac = NULL;
	c->up = false;
	session_fail(c->ps, ac->errstr && ac->errstr[0] ? ac->errstr : "disconnected");
}

static int conn_open(gk_polsync_t *ps, struct conn *c)
{
	redisAsyncContext *ac = ps->unix_path ? redisAsyncConnectUnix(ps->unix_path)
	                                      : redisAsyncConnect(ps->host, ps->conf.redis_port);
	if (ac == NULL)
		return GK_ENOMEM;
	if (ac->err) {
		redisAsyncFree(ac);
		return GK_EIO;
	}
	ac->data = c;
	c->ac = ac;
	c->up = false;
	c->pending = 0;
	if (redisLibuvAttach(ac, &ps->loop) != REDIS_OK) {
		c->ac = NULL;
		redisAsyncFree(ac);
		return GK_ENOMEM;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	return 0;
}

static void reconnect_cb(uv_timer_t *t)
{
	gk_polsync_t *ps = t->data;
	if (ps->stopping)
		return;
	ps->session = true;
	ps->connect_start_ms = now_ms();
	uv_mutex_lock(&ps->info_lock);
	ps->info.reconnects += ps->ever_up ? 1 : 0;
	uv_mutex_unlock(&ps->info_lock);
	if (conn_open(ps, &ps->cmd) != 0 || conn_open(ps, &ps->tail) != 0)
		session_fail(ps, "cannot create a connection");
}

static void tick_cb(uv_timer_t *t)
{
	gk_polsync_t *ps = t->data;
	if (!ps->session)
		return;
	uint64_t now = now_ms();
	if (!(ps->cmd.up && ps->tail.up)) {
		if (now - ps->connect_start_ms > ps->conf.connect_timeout_ms)
			session_fail(ps, "connect timeout");
		return;
	}
	if (ps->cmd.pending && now - ps->cmd.progress_ms > CMD_TIMEOUT_MS)
		session_fail(ps, "command timeout");
	else if (ps->tail.pending && now - ps->tail.progress_ms > CMD_TIMEOUT_MS + BLOCK_MS)
		session_fail(ps, "XREAD timeout");
}

/* --- thread and lifecycle --------------------------------------------------------------- */

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

static void stop_cb(uv_async_t *a)
{
	gk_polsync_t *ps = a->data;
	ps->stopping = true;
	ps->session = false;
	ps->gen++;
	conn_close(&ps->cmd);
	conn_close(&ps->tail);
	uv_close((uv_handle_t *)&ps->stop_async, NULL);
	uv_close((uv_handle_t *)&ps->tick, NULL);
	uv_close((uv_handle_t *)&ps->reconnect, NULL);
	uv_close((uv_handle_t *)&ps->kick, NULL);
}

static void thread_main(void *arg)
{
	gk_polsync_t *ps = arg;
	gk_thread_name("gk-policy");
	uv_run(&ps->loop, UV_RUN_DEFAULT);
	uv_walk(&ps->loop, close_walk, NULL);
	uv_run(&ps->loop, UV_RUN_DEFAULT);
}

int gk_polsync_create(const gk_polsync_conf_t *conf, gk_polsync_t **out, char *err, size_t errlen)
{
	if (conf == NULL || out == NULL || conf->on_policy == NULL ||
	    (conf->redis_host == NULL && conf->redis_unix == NULL)) {
		snprintf(err, errlen, "policy: no redis address or no callback");
		return GK_EINVAL;
	}
	if (conf->n_operator_keys == 0) {
		snprintf(err, errlen, "policy: following redis needs operator_keys");
		return GK_EINVAL;
	}
	gk_polsync_t *ps = calloc(1, sizeof(*ps));
	if (ps == NULL) {
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	ps->conf = *conf;
	int rc = gk_polstore_keyring_load((const char *const *)conf->operator_keys,
	                                  conf->n_operator_keys, &ps->keys, err, errlen);
	if (rc != 0) {
		free(ps);
		return rc;
	}
	ps->host = conf->redis_host ? strdup(conf->redis_host) : NULL;
	ps->unix_path = conf->redis_unix ? strdup(conf->redis_unix) : NULL;
	if ((conf->redis_host && !ps->host) || (conf->redis_unix && !ps->unix_path) ||
	    uv_mutex_init(&ps->info_lock) != 0) {
		gk_polstore_keyring_free(ps->keys);
		free(ps->host);
		free(ps->unix_path);
		free(ps);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	ps->conf.redis_host = ps->host;
	ps->conf.redis_unix = ps->unix_path;
	ps->conf.operator_keys = NULL; /* read: the keyring holds them */
	if (ps->conf.connect_timeout_ms == 0)
		ps->conf.connect_timeout_ms = 1000;
	if (ps->conf.reconnect_max_ms == 0)
		ps->conf.reconnect_max_ms = 5000;
	if (ps->conf.reconnect_max_ms < BACKOFF_MIN_MS)
		ps->conf.reconnect_max_ms = BACKOFF_MIN_MS;
	*out = ps;
	return 0;
}

int gk_polsync_start(gk_polsync_t *ps)
{
	if (ps->started)
		return GK_EINVAL;
	int rc = uv_loop_init(&ps->loop);
	if (rc != 0)
		return rc;
	uv_async_init(&ps->loop, &ps->stop_async, stop_cb);
	uv_timer_init(&ps->loop, &ps->tick);
	uv_timer_init(&ps->loop, &ps->reconnect);
	uv_timer_init(&ps->loop, &ps->kick);
	ps->stop_async.data = ps->tick.data = ps->reconnect.data = ps->kick.data = ps;
	ps->cmd = (struct conn){.ps = ps, .name = "cmd"};
	ps->tail = (struct conn){.ps = ps, .name = "tail"};
	ps->backoff_ms = BACKOFF_MIN_MS;
	snprintf(ps->last_id, sizeof(ps->last_id), "$");
	if (ps->conf.status)
		gk_status_set_policy(ps->conf.status, 0, "waiting");
	uv_timer_start(&ps->tick, tick_cb, TICK_MS, TICK_MS);
	uv_timer_start(&ps->reconnect, reconnect_cb, 0, 0);
	if ((rc = uv_thread_create(&ps->thread, thread_main, ps)) != 0) {
		uv_walk(&ps->loop, close_walk, NULL);
		uv_run(&ps->loop, UV_RUN_DEFAULT);
		uv_loop_close(&ps->loop);
		return rc;
	}
	ps->started = true;
	return 0;
}

void gk_polsync_stop(gk_polsync_t *ps)
{
	if (ps == NULL || !ps->started)
		return;
	uv_async_send(&ps->stop_async);
	uv_thread_join(&ps->thread);
	if (uv_loop_close(&ps->loop) != 0)
		gk_log(GK_LOG_ERR, "policy: loop still busy at close");
	ps->started = false;
}

void gk_polsync_free(gk_polsync_t *ps)
{
	if (ps == NULL)
		return;
	gk_polsync_stop(ps);
	gk_polstore_keyring_free(ps->keys);
	uv_mutex_destroy(&ps->info_lock);
	free(ps->host);
	free(ps->unix_path);
	free(ps);
}

void gk_polsync_info(const gk_polsync_t *ps, gk_polsync_info_t *info)
{
	gk_polsync_t *m = (gk_polsync_t *)ps;
	uv_mutex_lock(&m->info_lock);
	*info = m->info;
	uv_mutex_unlock(&m->info_lock);
}
