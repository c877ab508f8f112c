/* SPDX-License-Identifier: MIT */
/* src/sync/conn.c -- gk-sync's synchronous Redis connection and RESP formatting (internal.h).
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

/* --- RESP formatting ------------------------------------------------------------------- */

static char *resp_room(gk_sync_resp_t *b, size_t need)
{
	if (b->cap - b->n < need) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc - b->n < need)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return NULL;
		}
		b->p = np;
		b->cap = nc;
	}
	return b->p + b->n;
}

void gk_sync_resp_num(gk_sync_resp_t *b, char type, size_t v)
{
	char tmp[24];
	int k = 0;
	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10));
	char *d = resp_room(b, (size_t)k + 3);
	if (!d)
		return;
	*d++ = type;
	while (k)
		*d++ = tmp[--k];
	*d++ = '\r';
	*d++ = '\n';
	b->n = (size_t)(d - b->p);
}

void gk_sync_resp_raw(gk_sync_resp_t *b, const char *s, size_t l)
{
	char *d = resp_room(b, l);
	if (d) {
		memcpy(d, s, l);
		b->n += l;
	}
}

void gk_sync_resp_bulk(gk_sync_resp_t *b, const char *s, size_t l)
{
	gk_sync_resp_num(b, '$', l);
	char *d = resp_room(b, l + 2);
	if (d) {
		memcpy(d, s, l);
		d[l] = '\r';
		d[l + 1] = '\n';
		b->n += l + 2;
	}
}

void gk_sync_resp_strs(gk_sync_resp_t *b, const gk_sync_strs_t *a)
{
	gk_sync_resp_num(b, '*', a->n);
	for (size_t i = 0; i < a->n; i++)
		gk_sync_resp_bulk(b, a->v[i], a->l[i]);
}

int gk_sync_resp_send(gk_sync_conn_t *cn, gk_sync_resp_t *b)
{
	int rc = 0;
	if (b->oom)
		rc = GK_ENOMEM;
	else if (b->n && redisAppendFormattedCommand(cn->c, b->p, b->n) != REDIS_OK)
		rc = GK_ENOMEM;
	if (rc)
		gk_sync_conn_err(cn, "redis: cannot queue a command (out of memory)");
	b->n = 0;
	return rc;
}
