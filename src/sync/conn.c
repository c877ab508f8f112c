/* SPDX-License-Identifier: MIT */
/* src/sync/conn.c -- gk-sync's synchronous Redis connection and command arguments (internal.h).
 *
 * Blocking hiredis: gk-sync is a batch tool with one thing to do at a time, and pipelining
 * (queue a window of commands, read their replies later) gives the throughput an event loop
 * would, without one.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gk/filing_status.h"
#include "sync/internal.h"

void gk_sync_conn_err(gk_sync_conn_t *cn, const char *fmt, ...)
{
	if (!cn->err || !cn->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cn->err, cn->errlen, fmt, ap);
	va_end(ap);
}

int gk_sync_conn_open(gk_sync_conn_t *cn, const gk_redis_addr_t *a, const gk_redis_auth_t *auth,
                      unsigned timeout_ms)
{
	unsigned ms = timeout_ms ? timeout_ms : 60000;
	int rc = gk_redis_connect(a, auth, ms, ms, &cn->c, cn->err, cn->errlen);
	return rc == GK_ENOMEM ? rc : rc ? GK_EIO : 0;
}

int gk_sync_conn_open_status(gk_sync_conn_t *cn, const gk_sync_opts_t *o, gk_redis_addr_t *addr)
{
	if (o->sentinel == NULL || o->sentinel->n == 0) {
		*addr = o->redis;
		return gk_sync_conn_open(cn, &o->redis, o->auth, o->timeout_ms);
	}
	unsigned ms = o->timeout_ms ? o->timeout_ms : 60000;
	int rc = gk_redis_sentinel_connect(o->sentinel, o->auth, ms, ms, &cn->c, addr, cn->err,
	                                   cn->errlen);
	return rc == GK_ENOMEM ? rc : rc ? GK_EIO : 0;
}

void gk_sync_conn_close(gk_sync_conn_t *cn)
{
	if (cn->c)
		redisFree(cn->c);
	cn->c = NULL;
}

/* an error reply's message and code */
static int error_of(gk_sync_conn_t *cn, const redisReply *r)
{
	if (!strncmp(r->str, GK_SYNC_LOCK_ERR " ", sizeof(GK_SYNC_LOCK_ERR))) {
		gk_sync_conn_err(
		    cn,
		    "lost the lock %s during the apply (it expired, or another apply "
		    "or an operator took it): stopped; nothing more was written and %s "
		    "was not advanced",
		    GK_KEY_SYNC_LOCK, GK_KEY_SERIAL);
		return GK_EBUSY;
	}
	gk_sync_conn_err(cn, "redis: %s", r->str);
	return GK_EIO;
}

int gk_sync_conn_reply(gk_sync_conn_t *cn, redisReply **r)
{
	void *p = NULL;
	if (redisGetReply(cn->c, &p) != REDIS_OK || !p) {
		gk_sync_conn_err(cn, "redis: %s",
		                 cn->c->errstr[0] ? cn->c->errstr : "connection lost");
		return GK_EIO;
	}
	*r = p;
	if ((*r)->type == REDIS_REPLY_ERROR) {
		int rc = error_of(cn, *r);
		freeReplyObject(*r);
		*r = NULL;
		return rc;
	}
	return 0;
}

int gk_sync_conn_drain(gk_sync_conn_t *cn)
{
	for (; cn->pending; cn->pending--) {
		redisReply *r;
		int rc = gk_sync_conn_reply(cn, &r);
		if (rc)
			return rc;
		if (r->type == REDIS_REPLY_NIL) {
			gk_sync_conn_err(cn, "redis: transaction aborted");
			rc = GK_EIO;
		}
		if (r->type == REDIS_REPLY_ARRAY)
			for (size_t i = 0; !rc && i < r->elements; i++)
				if (r->element[i]->type == REDIS_REPLY_ERROR)
					rc = error_of(cn, r->element[i]);
		freeReplyObject(r);
		if (rc)
			return rc;
	}
	return 0;
}

int gk_sync_conn_send_strs(gk_sync_conn_t *cn, const gk_sync_strs_t *a)
{
	if (redisAppendCommandArgv(cn->c, (int)a->n, a->v, a->l) != REDIS_OK) {
		gk_sync_conn_err(cn, "redis: cannot queue a command (out of memory)");
		return GK_ENOMEM;
	}
	return 0;
}

int gk_sync_conn_send(gk_sync_conn_t *cn, int argc, const char **v)
{
	size_t l[16];
	if (argc > 16)
		return GK_EINVAL;
	for (int i = 0; i < argc; i++)
		l[i] = strlen(v[i]);
	if (redisAppendCommandArgv(cn->c, argc, v, l) != REDIS_OK) {
		gk_sync_conn_err(cn, "redis: cannot queue a command (out of memory)");
		return GK_ENOMEM;
	}
	return 0;
}

int gk_sync_conn_command(gk_sync_conn_t *cn, redisReply **out, int argc, const char **v)
{
	int rc = gk_sync_conn_send(cn, argc, v);
	if (rc)
		return rc;
	return gk_sync_conn_reply(cn, out);
}

int gk_sync_conn_flush(gk_sync_conn_t *cn)
{
	for (int done = 0; !done;)
		if (redisBufferWrite(cn->c, &done) != REDIS_OK) {
			gk_sync_conn_err(cn, "redis: %s", cn->c->errstr);
			return GK_EIO;
		}
	return 0;
}

int gk_sync_conn_serial(gk_sync_conn_t *cn, const redisReply *r, uint64_t *serial)
{
	*serial = 0;
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	char *end;
	if (r->type != REDIS_REPLY_STRING || !r->len ||
	    ((*serial = strtoull(r->str, &end, 10)), *end)) {
		gk_sync_conn_err(cn, "redis: %s holds no decimal serial", GK_KEY_SERIAL);
		return GK_EIO;
	}
	return 0;
}

int gk_sync_read_serial(const gk_sync_opts_t *o, uint64_t *serial, char *err, size_t errlen)
{
	gk_sync_conn_t cn = {.err = err, .errlen = errlen};
	redisReply *r = NULL;
	gk_redis_addr_t at;
	int rc = gk_sync_conn_open_status(&cn, o, &at);
	if (rc)
		return rc;
	const char *get[] = {"GET", GK_KEY_SERIAL};
	rc = gk_sync_conn_command(&cn, &r, 2, get);
	if (!rc)
		rc = gk_sync_conn_serial(&cn, r, serial);
	freeReplyObject(r);
	gk_sync_conn_close(&cn);
	return rc;
}

int gk_sync_strs_start(gk_sync_strs_t *a, const char *cmd, const char *key)
{
	a->n = 0;
	int rc = gk_sync_strs_push(a, cmd, strlen(cmd));
	return rc ? rc : gk_sync_strs_push(a, key, strlen(key));
}

/* --- command arguments ------------------------------------------------------------- */

static int args_room(gk_sync_args_t *b)
{
	if (b->n < b->cap)
		return 0;
	size_t nc = b->cap ? b->cap * 2 : 256;
	const char **v = realloc(b->v, nc * sizeof(*v));
	if (v)
		b->v = v;
	size_t *l = realloc(b->l, nc * sizeof(*l));
	if (l)
		b->l = l;
	size_t *off = realloc(b->off, nc * sizeof(*off));
	if (off)
		b->off = off;
	if (!v || !l || !off) {
		b->oom = 1;
		return GK_ENOMEM;
	}
	b->cap = nc;
	return 0;
}

void gk_sync_args_add(gk_sync_args_t *b, const char *s, size_t l)
{
	if (args_room(b))
		return;
	b->v[b->n] = s;
	b->l[b->n++] = l;
}

void gk_sync_args_copy(gk_sync_args_t *b, const char *s, size_t l)
{
	if (args_room(b))
		return;
	if (b->own_cap - b->own_n < l) {
		size_t nc = b->own_cap ? b->own_cap : 1024;
		while (nc - b->own_n < l)
			nc *= 2;
		char *np = realloc(b->own, nc);
		if (!np) {
			b->oom = 1;
			return;
		}
		b->own = np;
		b->own_cap = nc;
	}
	memcpy(b->own + b->own_n, s, l);
	b->v[b->n] = NULL; /* resolved at send: own may move */
	b->off[b->n] = b->own_n;
	b->l[b->n++] = l;
	b->own_n += l;
}

void gk_sync_args_num(gk_sync_args_t *b, size_t v)
{
	char t[24];
	int k = snprintf(t, sizeof(t), "%zu", v);
	gk_sync_args_copy(b, t, (size_t)k);
}

void gk_sync_args_cat(gk_sync_args_t *b, const gk_sync_args_t *src)
{
	if (src->oom)
		b->oom = 1;
	for (size_t i = 0; i < src->n; i++) {
		if (src->v[i])
			gk_sync_args_add(b, src->v[i], src->l[i]);
		else
			gk_sync_args_copy(b, src->own + src->off[i], src->l[i]);
	}
}

void gk_sync_args_reset(gk_sync_args_t *b)
{
	b->n = b->own_n = 0;
	b->oom = 0;
}

void gk_sync_args_free(gk_sync_args_t *b)
{
	free(b->v);
	free(b->l);
	free(b->off);
	free(b->own);
	memset(b, 0, sizeof(*b));
}

int gk_sync_args_send(gk_sync_conn_t *cn, gk_sync_args_t *b)
{
	int rc = b->oom ? GK_ENOMEM : 0;
	for (size_t i = 0; !rc && i < b->n; i++)
		if (!b->v[i])
			b->v[i] = b->own + b->off[i];
	if (!rc && b->n && redisAppendCommandArgv(cn->c, (int)b->n, b->v, b->l) != REDIS_OK)
		rc = GK_ENOMEM;
	if (rc)
		gk_sync_conn_err(cn, "redis: cannot queue a command (out of memory)");
	gk_sync_args_reset(b);
	return rc;
}
