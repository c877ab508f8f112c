/* SPDX-License-Identifier: MIT */
/* src/redis/conn.c -- connecting to Redis, synchronously or on a libuv loop, and AUTH.
 *
 * AUTH is the first command on every connection that has a password: synchronously it is
 * sent and checked before the context is handed out; asynchronously it is queued before
 * the caller can queue anything, so Redis reads it first. A refusal is logged once per
 * connection with the user and Redis's own words (WRONGPASS, NOPERM, ...), then the
 * connection is closed so the owner's backoff retries: an operator who fixes the password
 * file needs no restart of the tools and sees the daemon recover on its next attempt.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <hiredis/adapters/libuv.h>
#include "common/log.h"
#include "redis/internal.h"

static struct timeval tv_of(unsigned ms)
{
	return (struct timeval){.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
}

/* AUTH's argument vector: AUTH [user] password. Returns argc. */
static int auth_argv(const gk_redis_auth_t *auth, const char *v[3], size_t l[3])
{
	int n = 0;
	v[n++] = "AUTH";
	if (auth->user[0])
		v[n++] = auth->user;
	v[n++] = auth->password;
	for (int i = 0; i < n; i++)
		l[i] = strlen(v[i]);
	return n;
}

static const char *user_of(const gk_redis_auth_t *auth)
{
	return auth->user[0] ? auth->user : "default";
}

int gk_redis_connect(const gk_redis_addr_t *a, const gk_redis_auth_t *auth,
                     unsigned connect_timeout_ms, unsigned command_timeout_ms, redisContext **out,
                     char *err, size_t errlen)
{
	char name[300];
	gk_redis_addr_fmt(a, name, sizeof(name));
	*out = NULL;
	struct timeval tv = tv_of(connect_timeout_ms ? connect_timeout_ms : 5000);
	redisContext *c = a->path[0] ? redisConnectUnixWithTimeout(a->path, tv)
	                             : redisConnectWithTimeout(a->host, a->port, tv);
	if (c == NULL) {
		gk_redis_errf(err, errlen, "redis %s: out of memory", name);
		return GK_ENOMEM;
	}
	if (c->err) {
		gk_redis_errf(err, errlen, "redis %s: %s", name, c->errstr);
		redisFree(c);
		return GK_EIO;
	}
	if (command_timeout_ms)
		redisSetTimeout(c, tv_of(command_timeout_ms));
	if (auth && auth->password) {
		const char *v[3];
		size_t l[3];
		int n = auth_argv(auth, v, l);
		redisReply *r = redisCommandArgv(c, n, v, l);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			gk_redis_errf(err, errlen, "redis %s: AUTH failed for user %s: %s", name,
			              user_of(auth),
			              r ? r->str : (c->errstr[0] ? c->errstr : "connection lost"));
			if (r)
				freeReplyObject(r);
			redisFree(c);
			return GK_EIO;
		}
		freeReplyObject(r);
	}
	*out = c;
	return 0;
}

int gk_redis_connect_str(const char *addr, const gk_redis_auth_t *auth, unsigned connect_timeout_ms,
                         unsigned command_timeout_ms, redisContext **out, char *err, size_t errlen)
{
	gk_redis_addr_t a;
	*out = NULL;
	int rc = gk_redis_addr_parse(addr, 0, &a, err, errlen);
	if (rc)
		return rc;
	return gk_redis_connect(&a, auth, connect_timeout_ms, command_timeout_ms, out, err, errlen);
}

/* --- asynchronous ------------------------------------------------------------------------ */

/* The AUTH command in flight; its reply decides when the owner hears "connected". */
struct auth_req {
	const char *who;
	redisConnectCallback *on_connect; /* the owner's */
	char user[GK_REDIS_USER_MAX];
	char addr[300];
};

static void on_auth(redisAsyncContext *ac, void *reply, void *privdata)
{
	struct auth_req *q = privdata;
	redisReply *r = reply;
	/* NULL: the connection went away first (or its owner freed it); the owner hears of
	 * it from its own callbacks */
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		gk_log(GK_LOG_ERR, "%s: redis %s: AUTH failed for user %s: %s", q->who, q->addr,
		       q->user, r->str);
		/* closed after this callback; the owner's disconnect callback then runs and its
		 * backoff retries */
		redisAsyncDisconnect(ac);
	} else if (r != NULL) {
		q->on_connect(ac, REDIS_OK); /* authenticated: now the owner may send */
	}
	free(q);
}

/* TCP (or unix) connect of a connection with AUTH queued: a failure goes to the owner at
 * once; a success waits for AUTH's reply (on_auth). While AUTH is unanswered it heads the
 * reply list, which is where its request is found. */
static void on_transport(const redisAsyncContext *ac, int status)
{
	const redisCallback *cb = ac->replies.head;
	if (cb == NULL || cb->fn != on_auth)
		return;
	const struct auth_req *q = cb->privdata;
	if (status != REDIS_OK)
		q->on_connect(ac, status);
}

int gk_redis_async_open(const gk_redis_addr_t *a, const gk_redis_auth_t *auth, const char *who,
                        uv_loop_t *loop, void *data, redisConnectCallback *on_connect,
                        redisDisconnectCallback *on_disconnect, redisAsyncContext **out)
{
	*out = NULL;
	redisAsyncContext *ac =
	    a->path[0] ? redisAsyncConnectUnix(a->path) : redisAsyncConnect(a->host, a->port);
	if (ac == NULL)
		return GK_ENOMEM;
	if (ac->err) {
		gk_log(GK_LOG_DEBUG, "%s: redis connect: %s", who, ac->errstr);
		redisAsyncFree(ac);
		return GK_EIO;
	}
	ac->data = data;
	if (redisLibuvAttach(ac, loop) != REDIS_OK) {
		redisAsyncFree(ac);
		return GK_ENOMEM;
	}
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	if (!auth || !auth->password) {
		redisAsyncSetConnectCallback(ac, on_connect);
	} else {
		redisAsyncSetConnectCallback(ac, on_transport);
		struct auth_req *q = malloc(sizeof(*q));
		const char *v[3];
		size_t l[3];
		int n = auth_argv(auth, v, l);
		if (q != NULL) {
			q->who = who;
			q->on_connect = on_connect;
			snprintf(q->user, sizeof(q->user), "%s", user_of(auth));
			gk_redis_addr_fmt(a, q->addr, sizeof(q->addr));
		}
		if (q == NULL || redisAsyncCommandArgv(ac, on_auth, q, n, v, l) != REDIS_OK) {
			free(q);
			ac->data =
			    NULL; /* the owner's callbacks must not see a context it never got */
			redisAsyncFree(ac);
			return GK_ENOMEM;
		}
	}
	*out = ac;
	return 0;
}
