/* SPDX-License-Identifier: MIT */
/* src/redis/sentinel.c -- finding the primary through Redis Sentinel (redis.h).
 *
 * Each sentinel is asked in turn, with a short timeout, for the address of the named
 * master; the answer is connected to with the program's credentials and confirmed with
 * ROLE, since a sentinel can answer with a stale address for a moment during a failover
 * (the old primary, back up as a replica, or still being demoted). A sentinel that is down
 * or answers nil costs one timeout and the next is asked. Callers retry a failed discovery
 * after their own backoff, so a reconnect always goes through discovery again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "redis/internal.h"

int gk_redis_sentinel_add(gk_redis_sentinel_t *s, const char *addr, unsigned flags, char *err,
                          size_t errlen)
{
	if (s->n >= GK_REDIS_SENTINELS_MAX) {
		gk_redis_errf(err, errlen, "sentinel '%.300s': more than %u sentinels", addr,
		              GK_REDIS_SENTINELS_MAX);
		return GK_EINVAL;
	}
	char why[400];
	if (gk_redis_addr_parse(addr, flags, &s->addr[s->n], why, sizeof(why)) != 0) {
		gk_redis_errf(err, errlen, "sentinel: %s", why);
		return GK_EINVAL;
	}
	s->n++;
	return 0;
}

int gk_redis_sentinel_add_list(gk_redis_sentinel_t *s, const char *list, unsigned flags, char *err,
                               size_t errlen)
{
	const char *p = list;
	for (;;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		while (len && (*p == ' ' || *p == '\t')) {
			p++;
			len--;
		}
		while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		if (len == 0) {
			gk_redis_errf(err, errlen, "sentinels '%.300s': empty entry", list);
			return GK_EINVAL;
		}
		char one[400];
		if (len >= sizeof(one)) {
			gk_redis_errf(err, errlen, "sentinels '%.300s': entry too long", list);
			return GK_EINVAL;
		}
		memcpy(one, p, len);
		one[len] = 0;
		int rc = gk_redis_sentinel_add(s, one, flags, err, errlen);
		if (rc)
			return rc;
		if (!e)
			return 0;
		p = e + 1;
	}
}

int gk_redis_sentinel_set_master(gk_redis_sentinel_t *s, const char *name, char *err, size_t errlen)
{
	size_t len = name ? strlen(name) : 0;
	if (len == 0 || len >= GK_REDIS_MASTER_NAME_MAX) {
		gk_redis_errf(err, errlen, "master name: expected 1..%u characters",
		              GK_REDIS_MASTER_NAME_MAX - 1);
		return GK_EINVAL;
	}
	for (const char *p = name; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			gk_redis_errf(err, errlen,
			              "master name '%.200s': spaces and control characters are not "
			              "allowed",
			              name);
			return GK_EINVAL;
		}
	memcpy(s->master, name, len + 1);
	return 0;
}

static bool is_str(const redisReply *r)
{
	return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) && r->str;
}

int gk_redis_sentinel_parse_addr(const redisReply *r, gk_redis_addr_t *out, char *err,
                                 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (r == NULL) {
		gk_redis_errf(err, errlen, "no reply");
		return GK_EINVAL;
	}
	if (r->type == REDIS_REPLY_NIL) {
		gk_redis_errf(err, errlen, "does not know the master name");
		return GK_ENOENT;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		gk_redis_errf(err, errlen, "%.300s", r->str ? r->str : "error");
		return GK_EINVAL;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || !is_str(r->element[0]) ||
	    !is_str(r->element[1])) {
		gk_redis_errf(err, errlen, "unexpected reply (want [ip, port])");
		return GK_EINVAL;
	}
	const char *ip = r->element[0]->str, *port = r->element[1]->str;
	char s[400], why[400];
	if (strlen(ip) > 255 || strlen(port) > 5) {
		gk_redis_errf(err, errlen, "unexpected address in reply");
		return GK_EINVAL;
	}
	snprintf(s, sizeof(s), strchr(ip, ':') ? "[%s]:%s" : "%s:%s", ip, port);
	if (gk_redis_addr_parse(s, GK_REDIS_ADDR_NUMERIC, out, why, sizeof(why)) != 0) {
		gk_redis_errf(err, errlen, "bad address in reply: %s", why);
		return GK_EINVAL;
	}
	return 0;
}

int gk_redis_role_is_master(const redisReply *r, char *err, size_t errlen)
{
	if (r && r->type == REDIS_REPLY_ERROR) {
		gk_redis_errf(err, errlen, "ROLE: %.300s", r->str ? r->str : "error");
		return GK_EINVAL;
	}
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements < 1 || !is_str(r->element[0])) {
		gk_redis_errf(err, errlen, "ROLE: unexpected reply");
		return GK_EINVAL;
	}
	const char *role = r->element[0]->str;
	if (strcmp(role, "master") == 0)
		return 1;
	if (strcmp(role, "slave") == 0 || strcmp(role, "sentinel") == 0) {
		gk_redis_errf(err, errlen, "is a %s, not a master",
		              role[0] == 's' && role[1] == 'l' ? "replica" : "sentinel");
		return 0;
	}
	gk_redis_errf(err, errlen, "ROLE: unknown role '%.100s'", role);
	return GK_EINVAL;
}

bool gk_redis_is_readonly(const char *errstr)
{
	return errstr && strncmp(errstr, "READONLY", 8) == 0;
}

int gk_redis_sentinel_set_auth(gk_redis_sentinel_t *s, const char *user, const char *password_file,
                               char *err, size_t errlen)
{
	gk_redis_auth_t a;
	int rc;
	s->user[0] = s->password[0] = 0;
	if (password_file) {
		rc = gk_redis_auth_load(&a, user, password_file, err, errlen);
	} else {
		const char *env = getenv(GK_REDIS_SENTINEL_PASSWORD_ENV);
		if ((user == NULL || !user[0]) && (env == NULL || !env[0]))
			return 0;
		if (user && user[0] && (env == NULL || !env[0])) {
			gk_redis_errf(err, errlen,
			              "sentinel user %s: no password (a password file, or %s)",
			              user, GK_REDIS_SENTINEL_PASSWORD_ENV);
			return GK_EINVAL;
		}
		rc = gk_redis_auth_set(&a, user, env);
		if (rc == GK_EINVAL)
			gk_redis_errf(err, errlen, "%s: bad sentinel user or password",
			              GK_REDIS_SENTINEL_PASSWORD_ENV);
	}
	if (rc)
		return rc;
	if (a.password) {
		snprintf(s->user, sizeof(s->user), "%s", a.user);
		snprintf(s->password, sizeof(s->password), "%s", a.password);
	}
	gk_redis_auth_clear(&a);
	return 0;
}

/* One sentinel's answer for s->master into *out; why on failure. */
static int ask(const gk_redis_sentinel_t *s, const gk_redis_addr_t *sa, unsigned ms,
               gk_redis_addr_t *out, char *why, size_t whylen)
{
	redisContext *c = NULL;
	gk_redis_auth_t a = {.password = s->password[0] ? (char *)s->password : NULL};
	memcpy(a.user, s->user, sizeof(a.user));
	char w[700];
	int rc = gk_redis_connect(sa, &a, ms, ms, &c, w, sizeof(w));
	if (rc) {
		gk_redis_errf(why, whylen, "sentinel %s", w);
		return rc;
	}
	redisReply *r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->master);
	char name[300];
	gk_redis_addr_fmt(sa, name, sizeof(name));
	if (r == NULL) {
		gk_redis_errf(why, whylen, "sentinel %s: %s", name,
		              c->errstr[0] ? c->errstr : "no reply");
		rc = GK_EIO;
	} else if ((rc = gk_redis_sentinel_parse_addr(r, out, w, sizeof(w))) != 0) {
		gk_redis_errf(why, whylen, "sentinel %s: %s", name, w);
		rc = GK_EIO;
	}
	if (r)
		freeReplyObject(r);
	redisFree(c);
	return rc;
}

int gk_redis_sentinel_connect(const gk_redis_sentinel_t *s, const gk_redis_auth_t *auth,
                              unsigned connect_timeout_ms, unsigned command_timeout_ms,
                              redisContext **out, gk_redis_addr_t *addr, char *err, size_t errlen)
{
	*out = NULL;
	unsigned ms = s->timeout_ms ? s->timeout_ms : GK_REDIS_SENTINEL_TIMEOUT_MS;
	char why[700] = "no sentinels configured";
	for (size_t i = 0; i < s->n; i++) {
		gk_redis_addr_t m;
		int rc = ask(s, &s->addr[i], ms, &m, why, sizeof(why));
		if (rc == GK_ENOMEM)
			return rc;
		if (rc)
			continue;
		char mname[300], w[600];
		gk_redis_addr_fmt(&m, mname, sizeof(mname));
		redisContext *c = NULL;
		rc = gk_redis_connect(&m, auth, connect_timeout_ms, command_timeout_ms, &c, w,
		                      sizeof(w));
		if (rc == GK_ENOMEM)
			return rc;
		if (rc) {
			gk_redis_errf(why, sizeof(why), "%s", w);
			continue;
		}
		redisReply *r = redisCommand(c, "ROLE");
		int is = gk_redis_role_is_master(r, w, sizeof(w));
		if (r == NULL)
			snprintf(w, sizeof(w), "ROLE: %s", c->errstr[0] ? c->errstr : "no reply");
		if (r)
			freeReplyObject(r);
		if (is == 1) {
			*out = c;
			if (addr)
				*addr = m;
			return 0;
		}
		redisFree(c);
		gk_redis_errf(why, sizeof(why), "redis %s (from sentinel): %s", mname, w);
	}
	gk_redis_errf(err, errlen, "sentinels (%zu) for master '%s': %s", s->n, s->master, why);
	return GK_EIO;
}

int gk_redis_sentinel_resolve(const gk_redis_sentinel_t *s, const gk_redis_auth_t *auth,
                              unsigned timeout_ms, gk_redis_addr_t *out, char *err, size_t errlen)
{
	redisContext *c = NULL;
	int rc = gk_redis_sentinel_connect(s, auth, timeout_ms, timeout_ms, &c, out, err, errlen);
	if (rc == 0)
		redisFree(c);
	return rc;
}

int gk_redis_target_resolve(const gk_redis_target_t *t, const gk_redis_auth_t *auth,
                            unsigned timeout_ms, gk_redis_addr_t *out, char *err, size_t errlen)
{
	if (t->sentinel.n == 0) {
		*out = t->addr;
		return 0;
	}
	return gk_redis_sentinel_resolve(&t->sentinel, auth, timeout_ms, out, err, errlen);
}
