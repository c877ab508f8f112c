/* SPDX-License-Identifier: MIT */
/* src/redis/conn.c -- synchronous connections to Redis (the tools), with AUTH and timeouts.
 *
 * AUTH is the first command on every connection that has a password, sent and checked
 * before the context is handed out; a refusal names the user and Redis's own words
 * (WRONGPASS, NOPERM, ...). The daemon's asynchronous connections are sessions
 * (session.c).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
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
