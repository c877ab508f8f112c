/* SPDX-License-Identifier: MIT */
/* src/redis/session.c -- the asynchronous Redis session (session.h).
 *
 * hiredis 0.14 has no timeouts and frees a context itself after a failed connect or a
 * dropped connection, so: a 100 ms tick checks the connect deadline and each link's reply
 * clock; a link's ac is cleared in the callbacks where hiredis frees it; our own teardown
 * (redisAsyncFree) runs from a zero-delay timer and clears ac first, so the callbacks it
 * runs (pending replies with NULL, the disconnect callback) see ac != theirs and do nothing.
 * Every request carries the session generation; a reply of an older session is dropped.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/adapters/libuv.h>
#include "common/log.h"
#include "redis/internal.h"
#include "redis/session.h"

#define TICK_MS 100u

struct link {
	gk_redis_session_t *s;
	redisAsyncContext *ac; /* NULL when closed */
	bool up;               /* first command (AUTH or PING) answered */
	unsigned pending;      /* commands sent, replies not yet received */
	unsigned extra_ms;     /* largest allowance among the pending commands */
	uint64_t progress_ms;  /* last reply, or when pending went from 0 to 1 */
};

struct gk_redis_session {
	uv_loop_t *loop;
	gk_redis_session_conf_t conf;
	gk_redis_target_t target;
	gk_redis_auth_t auth;
	gk_redis_addr_t addr;
	char addr_name[300];
	gk_redis_backoff_t backoff;
	uv_timer_t tick, reconnect, kick;
	int open_timers; /* freed when the last one's close callback ran */
	gk_redis_session_state_t state;
	unsigned gen;
	bool started, closing, attempted, ever_ready, readonly;
	uint64_t connect_start_ms, last_reply_ms, reconnects;
	struct link link[GK_REDIS_SESSION_LINKS_MAX];
};

struct req {
	struct link *l;
	unsigned gen;
	gk_redis_reply_fn *fn;
	void *priv;
};

uint64_t gk_redis_session_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void set_state(gk_redis_session_t *s, gk_redis_session_state_t st, const char *why)
{
	s->state = st;
	if (s->conf.on_state)
		s->conf.on_state(s, st, why, s->conf.ctx);
}

/* --- teardown and reconnect -------------------------------------------------------------- */

static void link_close(struct link *l)
{
	redisAsyncContext *ac = l->ac;
	l->ac = NULL;
	l->up = false;
	l->pending = 0;
	l->extra_ms = 0;
	if (ac != NULL)
		redisAsyncFree(ac); /* pending callbacks run with NULL and see l->ac != ac */
}

static void reconnect_cb(uv_timer_t *t);

static void teardown_cb(uv_timer_t *t)
{
	gk_redis_session_t *s = t->data;
	for (unsigned i = 0; i < s->conf.links; i++)
		link_close(&s->link[i]);
	if (!s->closing && s->state == GK_REDIS_SESSION_DOWN)
		uv_timer_start(&s->reconnect, reconnect_cb, gk_redis_backoff_next(&s->backoff), 0);
}

void gk_redis_session_fail(gk_redis_session_t *s, const char *why)
{
	if (s->state == GK_REDIS_SESSION_DOWN || s->closing)
		return;
	if (s->state == GK_REDIS_SESSION_READY)
		gk_log(s->conf.lost_quiet ? GK_LOG_INFO : GK_LOG_WARN,
		       "%s: lost connection to redis %s: %s", s->conf.who, s->addr_name, why);
	else
		gk_log(GK_LOG_DEBUG, "%s: redis %s: %s", s->conf.who, s->addr_name, why);
	s->gen++; /* replies still queued belong to the failed session */
	for (unsigned i = 0; i < s->conf.links; i++)
		s->link[i].up = false;
	uv_timer_start(&s->kick, teardown_cb, 0, 0);
	set_state(s, GK_REDIS_SESSION_DOWN, why);
}

/* --- replies ----------------------------------------------------------------------------- */

static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
	struct req *q = privdata;
	struct link *l = q->l;
	gk_redis_session_t *s = l->s;
	if (l->ac != ac || q->gen != s->gen) { /* torn down, or an older session */
		free(q);
		return;
	}
	if (l->pending > 0 && --l->pending == 0)
		l->extra_ms = 0;
	l->progress_ms = gk_redis_session_now_ms();
	if (r == NULL) {
		/* hiredis is freeing the context after an error; do not free it again */
		l->ac = NULL;
		l->up = false;
		free(q);
		gk_redis_session_fail(s, "connection lost");
		return;
	}
	s->last_reply_ms = l->progress_ms;
	if (q->fn)
		q->fn(s, r, q->priv);
	free(q);
}

static int queue(gk_redis_session_t *s, unsigned link, gk_redis_reply_fn *fn, void *priv,
                 struct req **out)
{
	if (link >= s->conf.links || s->link[link].ac == NULL ||
	    s->state == GK_REDIS_SESSION_DOWN || s->closing)
		return GK_EIO;
	struct req *q = malloc(sizeof(*q));
	if (q == NULL)
		return GK_ENOMEM;
	*q = (struct req){.l = &s->link[link], .gen = s->gen, .fn = fn, .priv = priv};
	*out = q;
	return 0;
}

static void sent(struct link *l, unsigned extra_ms)
{
	if (l->pending++ == 0)
		l->progress_ms = gk_redis_session_now_ms();
	if (extra_ms > l->extra_ms)
		l->extra_ms = extra_ms;
}

int gk_redis_session_vcmd(gk_redis_session_t *s, unsigned link, gk_redis_reply_fn *fn, void *priv,
                          unsigned extra_ms, const char *fmt, va_list ap)
{
	struct req *q;
	int rc = queue(s, link, fn, priv, &q);
	if (rc)
		return rc;
	if (redisvAsyncCommand(s->link[link].ac, on_reply, q, fmt, ap) != REDIS_OK) {
		free(q);
		return GK_EIO;
	}
	sent(&s->link[link], extra_ms);
	return 0;
}

int gk_redis_session_cmd(gk_redis_session_t *s, unsigned link, gk_redis_reply_fn *fn, void *priv,
                         unsigned extra_ms, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = gk_redis_session_vcmd(s, link, fn, priv, extra_ms, fmt, ap);
	va_end(ap);
	return rc;
}

int gk_redis_session_cmdargv(gk_redis_session_t *s, unsigned link, gk_redis_reply_fn *fn,
                             void *priv, unsigned extra_ms, int argc, const char **argv,
                             const size_t *argvlen)
{
	struct req *q;
	int rc = queue(s, link, fn, priv, &q);
	if (rc)
		return rc;
	if (redisAsyncCommandArgv(s->link[link].ac, on_reply, q, argc, argv, argvlen) != REDIS_OK) {
		free(q);
		return GK_EIO;
	}
	sent(&s->link[link], extra_ms);
	return 0;
}

/* --- connecting -------------------------------------------------------------------------- */

static const char *user_of(const gk_redis_auth_t *a)
{
	return a->user[0] ? a->user : "default";
}

/* The reply to the first command of a link: AUTH, or PING without credentials. */
static void on_hello(gk_redis_session_t *s, redisReply *r, void *priv)
{
	struct link *l = priv;
	if (r->type == REDIS_REPLY_ERROR) {
		char why[700];
		if (s->auth.password) {
			snprintf(why, sizeof(why), "AUTH failed for user %s: %s", user_of(&s->auth),
			         r->str);
			/* the operator must see this even before the first READY */
			gk_log(GK_LOG_ERR, "%s: redis %s: %s", s->conf.who, s->addr_name, why);
		} else {
			snprintf(why, sizeof(why), "PING: %s", r->str);
		}
		gk_redis_session_fail(s, why);
		return;
	}
	l->up = true;
	for (unsigned i = 0; i < s->conf.links; i++)
		if (!s->link[i].up)
			return;
	s->ever_ready = true;
	if (!s->conf.hold_backoff)
		gk_redis_backoff_reset(&s->backoff);
	gk_log(GK_LOG_INFO, "%s: connected to redis %s%s", s->conf.who, s->addr_name,
	       s->target.sentinel.n ? " (master found through Sentinel)" : "");
	set_state(s, GK_REDIS_SESSION_READY, NULL);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct link *l = ac->data;
	if (l == NULL || l->ac != ac || status == REDIS_OK)
		return; /* success: READY waits for the first reply (on_hello) */
	l->ac = NULL;   /* hiredis frees it after this callback */
	char why[300];
	snprintf(why, sizeof(why), "connect: %s", ac->errstr[0] ? ac->errstr : "error");
	gk_redis_session_fail(l->s, why);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	(void)status;
	struct link *l = ac->data;
	if (l == NULL || l->ac != ac)
		return;
	l->ac = NULL; /* hiredis frees it after this callback */
	l->up = false;
	gk_redis_session_fail(l->s, ac->errstr[0] ? ac->errstr : "disconnected");
}

static int link_open(gk_redis_session_t *s, struct link *l)
{
	const gk_redis_addr_t *a = &s->addr;
	redisAsyncContext *ac =
	    a->path[0] ? redisAsyncConnectUnix(a->path) : redisAsyncConnect(a->host, a->port);
	if (ac == NULL)
		return GK_ENOMEM;
	if (ac->err) {
		gk_log(GK_LOG_DEBUG, "%s: redis %s: %s", s->conf.who, s->addr_name, ac->errstr);
		redisAsyncFree(ac);
		return GK_EIO;
	}
	ac->data = l;
	if (redisLibuvAttach(ac, s->loop) != REDIS_OK) {
		ac->data = NULL;
		redisAsyncFree(ac);
		return GK_ENOMEM;
	}
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	l->ac = ac;
	l->up = false;
	l->pending = 0;
	l->extra_ms = 0;
	const char *v[3] = {"PING"};
	size_t len[3];
	int n = 1;
	if (s->auth.password) {
		n = 0;
		v[n++] = "AUTH";
		if (s->auth.user[0])
			v[n++] = s->auth.user;
		v[n++] = s->auth.password;
	}
	for (int i = 0; i < n; i++)
		len[i] = strlen(v[i]);
	/* first in the output buffer: Redis reads it before anything the owner sends */
	return gk_redis_session_cmdargv(s, (unsigned)(l - s->link), on_hello, l, 0, n, v, len);
}

static void reconnect_cb(uv_timer_t *t)
{
	gk_redis_session_t *s = t->data;
	if (s->closing)
		return;
	s->gen++;
	s->state = GK_REDIS_SESSION_CONNECTING;
	if (s->attempted)
		s->reconnects++;
	s->attempted = true;
	if (s->target.sentinel.n) {
		/* every attempt asks the sentinels again: after a failover the master moved */
		char why[900];
		if (gk_redis_sentinel_resolve(&s->target.sentinel, &s->auth,
		                              s->conf.connect_timeout_ms, &s->addr, why,
		                              sizeof(why)) != 0) {
			gk_log(GK_LOG_WARN, "%s: %s", s->conf.who, why);
			gk_redis_session_fail(s, "no master from the sentinels");
			return;
		}
	} else {
		s->addr = s->target.addr;
	}
	gk_redis_addr_fmt(&s->addr, s->addr_name, sizeof(s->addr_name));
	s->connect_start_ms = gk_redis_session_now_ms(); /* the sentinels' time is not ours */
	set_state(s, GK_REDIS_SESSION_CONNECTING, NULL);
	if (s->state != GK_REDIS_SESSION_CONNECTING)
		return; /* the owner failed it */
	for (unsigned i = 0; i < s->conf.links; i++) {
		int rc = link_open(s, &s->link[i]);
		if (rc != 0) {
			gk_redis_session_fail(s, rc == GK_ENOMEM ? "out of memory"
			                                         : "cannot create a connection");
			return;
		}
	}
}

/* Connect deadline and per-link reply clocks. */
static void tick_cb(uv_timer_t *t)
{
	gk_redis_session_t *s = t->data;
	uint64_t now = gk_redis_session_now_ms();
	if (s->state == GK_REDIS_SESSION_CONNECTING &&
	    now - s->connect_start_ms > s->conf.connect_timeout_ms) {
		gk_redis_session_fail(s, "connect timeout");
		return;
	}
	if (s->state != GK_REDIS_SESSION_READY)
		return;
	for (unsigned i = 0; i < s->conf.links; i++) {
		const struct link *l = &s->link[i];
		if (l->pending > 0 &&
		    now - l->progress_ms > (uint64_t)s->conf.command_timeout_ms + l->extra_ms) {
			char why[120];
			snprintf(why, sizeof(why), "no reply for %llu ms (command timeout)",
			         (unsigned long long)(now - l->progress_ms));
			gk_redis_session_fail(s, why);
			return;
		}
	}
}

/* --- lifecycle --------------------------------------------------------------------------- */

int gk_redis_session_create(uv_loop_t *loop, const gk_redis_session_conf_t *conf,
                            gk_redis_session_t **out)
{
	*out = NULL;
	unsigned links = conf->links ? conf->links : 1;
	if (links > GK_REDIS_SESSION_LINKS_MAX || conf->target == NULL)
		return GK_EINVAL;
	gk_redis_session_t *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return GK_ENOMEM;
	if (conf->auth && gk_redis_auth_copy(&s->auth, conf->auth) != 0) {
		free(s);
		return GK_ENOMEM;
	}
	s->loop = loop;
	s->conf = *conf;
	s->conf.links = links;
	s->conf.who = conf->who ? conf->who : "redis";
	if (!s->conf.connect_timeout_ms)
		s->conf.connect_timeout_ms = 1000;
	if (!s->conf.command_timeout_ms)
		s->conf.command_timeout_ms = 5000;
	if (!s->conf.backoff_min_ms)
		s->conf.backoff_min_ms = 100;
	if (!s->conf.reconnect_max_ms)
		s->conf.reconnect_max_ms = 5000;
	if (s->conf.reconnect_max_ms < s->conf.backoff_min_ms)
		s->conf.reconnect_max_ms = s->conf.backoff_min_ms;
	s->target = *conf->target;
	s->conf.target = &s->target;
	s->conf.auth = &s->auth;
	s->addr = s->target.addr;
	gk_redis_addr_fmt(&s->addr, s->addr_name, sizeof(s->addr_name));
	gk_redis_backoff_init(&s->backoff, s->conf.backoff_min_ms, s->conf.reconnect_max_ms);
	for (unsigned i = 0; i < links; i++)
		s->link[i].s = s;
	uv_timer_init(loop, &s->tick);
	uv_timer_init(loop, &s->reconnect);
	uv_timer_init(loop, &s->kick);
	s->tick.data = s->reconnect.data = s->kick.data = s;
	s->open_timers = 3;
	*out = s;
	return 0;
}

void gk_redis_session_start(gk_redis_session_t *s)
{
	if (s->started || s->closing)
		return;
	s->started = true;
	uv_timer_start(&s->tick, tick_cb, TICK_MS, TICK_MS);
	uv_timer_start(&s->reconnect, reconnect_cb, 0, 0);
}

static void timer_closed(uv_handle_t *h)
{
	gk_redis_session_t *s = h->data;
	if (--s->open_timers > 0)
		return;
	gk_redis_auth_clear(&s->auth);
	free(s);
}

void gk_redis_session_close(gk_redis_session_t *s)
{
	if (s == NULL || s->closing)
		return;
	s->closing = true;
	s->gen++;
	s->state = GK_REDIS_SESSION_DOWN;
	for (unsigned i = 0; i < s->conf.links; i++)
		link_close(&s->link[i]);
	uv_close((uv_handle_t *)&s->tick, timer_closed);
	uv_close((uv_handle_t *)&s->reconnect, timer_closed);
	uv_close((uv_handle_t *)&s->kick, timer_closed);
}

/* --- small verbs ------------------------------------------------------------------------- */

void gk_redis_session_backoff_reset(gk_redis_session_t *s)
{
	gk_redis_backoff_reset(&s->backoff);
}

void gk_redis_session_touch(gk_redis_session_t *s)
{
	uint64_t now = gk_redis_session_now_ms();
	for (unsigned i = 0; i < s->conf.links; i++)
		if (s->link[i].pending)
			s->link[i].progress_ms = now;
}

bool gk_redis_session_check_write(gk_redis_session_t *s, const redisReply *r)
{
	const char *ro = NULL;
	if (r->type == REDIS_REPLY_ERROR && gk_redis_is_readonly(r->str))
		ro = r->str;
	for (size_t i = 0; !ro && r->type == REDIS_REPLY_ARRAY && i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_ERROR &&
		    gk_redis_is_readonly(r->element[i]->str))
			ro = r->element[i]->str;
	bool was = s->readonly;
	s->readonly = ro != NULL;
	if (s->readonly != was && s->conf.on_readonly)
		s->conf.on_readonly(s, s->readonly, ro, s->conf.ctx);
	return ro != NULL;
}

gk_redis_session_state_t gk_redis_session_state(const gk_redis_session_t *s)
{
	return s->state;
}

void *gk_redis_session_ctx(const gk_redis_session_t *s)
{
	return s->conf.ctx;
}

uint64_t gk_redis_session_last_reply_ms(const gk_redis_session_t *s)
{
	return s->last_reply_ms;
}

const gk_redis_addr_t *gk_redis_session_addr(const gk_redis_session_t *s)
{
	return &s->addr;
}

uint64_t gk_redis_session_reconnects(const gk_redis_session_t *s)
{
	return s->reconnects;
}
