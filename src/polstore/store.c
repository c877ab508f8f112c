/* SPDX-License-Identifier: MIT */
/* src/polstore/store.c -- synchronous reads of the policy keys (gkctl), and connecting. */
#include <hiredis/hiredis.h>
#include <stdlib.h>
#include <string.h>
#include "polstore/polstore.h"
#include "redis/redis.h"

int gk_polstore_parse_version(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	/* 16 digits hold GK_POLICY_VERSION_MAX; a leading zero is not canonical ("0" is) */
	if (len == 0 || len > 16 || (len > 1 && s[0] == '0'))
		return GK_EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return GK_EINVAL;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > GK_POLICY_VERSION_MAX)
		return GK_EINVAL;
	*out = v;
	return 0;
}

int gk_polstore_connect(const char *addr, const struct gk_redis_auth *auth, unsigned timeout_ms,
                        void **out, char *err, size_t errlen)
{
	/* commands get a timeout too: a stuck primary must not hang an operator's shell */
	redisContext *c;
	int rc = gk_redis_connect_str(addr, auth, timeout_ms, 10000, &c, err, errlen);
	if (rc != 0)
		return rc;
	*out = c;
	return 0;
}

void gk_polstore_disconnect(void *redis)
{
	if (redis)
		redisFree(redis);
}

static int reply_err(redisContext *c, redisReply *r, char *err, size_t errlen)
{
	if (r == NULL)
		snprintf(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "connection lost");
	else
		snprintf(err, errlen, "redis: %s",
		         r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	if (r)
		freeReplyObject(r);
	return GK_EIO;
}

int gk_polstore_current(void *redis, uint64_t *out, char *err, size_t errlen)
{
	redisContext *c = redis;
	redisReply *r = redisCommand(c, "GET %s", GK_KEY_POL_CURRENT);
	if (r == NULL || (r->type != REDIS_REPLY_NIL && r->type != REDIS_REPLY_STRING))
		return reply_err(c, r, err, errlen);
	*out = 0;
	int rc = 0;
	if (r->type == REDIS_REPLY_STRING && gk_polstore_parse_version(r->str, r->len, out) != 0) {
		snprintf(err, errlen, "%s holds '%.40s', not a version (1..%llu)",
		         GK_KEY_POL_CURRENT, r->str, (unsigned long long)GK_POLICY_VERSION_MAX);
		rc = GK_ESYNTAX;
	}
	freeReplyObject(r);
	return rc;
}

void gk_polstore_version_clear(gk_polstore_version_t *v)
{
	free(v->bundle);
	free(v->message);
	memset(v, 0, sizeof(*v));
}

static void copy_field(const redisReply *e, char *out, size_t cap)
{
	size_t n = e->type == REDIS_REPLY_STRING ? e->len : 0;
	if (n >= cap)
		n = cap - 1;
	if (n)
		memcpy(out, e->str, n);
	out[n] = 0;
}

int gk_polstore_get(void *redis, uint64_t v, gk_polstore_version_t *out, char *err, size_t errlen)
{
	redisContext *c = redis;
	char key[64];
	snprintf(key, sizeof(key), GK_KEY_POL_VERSION, (unsigned long long)v);
	redisReply *r =
	    redisCommand(c, "HMGET %s bundle sig key_id action from created message", key);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 7)
		return reply_err(c, r, err, errlen);
	if (r->element[0]->type != REDIS_REPLY_STRING) {
		freeReplyObject(r);
		snprintf(err, errlen, "no policy version %llu", (unsigned long long)v);
		return GK_ENOENT;
	}
	memset(out, 0, sizeof(*out));
	out->version = v;
	out->bundle = malloc(r->element[0]->len + 1);
	const redisReply *m = r->element[6];
	out->message = m->type == REDIS_REPLY_STRING ? strndup(m->str, m->len) : strdup("");
	if (out->bundle == NULL || out->message == NULL) {
		freeReplyObject(r);
		gk_polstore_version_clear(out);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	memcpy(out->bundle, r->element[0]->str, r->element[0]->len);
	out->bundle[r->element[0]->len] = 0;
	out->bundle_len = r->element[0]->len;
	copy_field(r->element[1], out->sig, sizeof(out->sig));
	copy_field(r->element[2], out->key_id, sizeof(out->key_id));
	copy_field(r->element[3], out->action, sizeof(out->action));
	char num[32];
	copy_field(r->element[4], num, sizeof(num));
	if (gk_polstore_parse_version(num, strlen(num), &out->from) != 0)
		out->from = 0;
	copy_field(r->element[5], num, sizeof(num));
	out->created_ms = strtoll(num, NULL, 10);
	freeReplyObject(r);
	return 0;
}
