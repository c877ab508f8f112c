/* SPDX-License-Identifier: MIT */
/* src/redis/addr.c -- Redis addresses and credentials (redis.h).
 *
 * A password file is read once, at config load or tool start; only its first line counts,
 * so a trailing newline from an editor is not part of the password. The bytes are wiped
 * before they are freed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "redis/internal.h"

void gk_redis_errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (err == NULL || errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static int bad_addr(const char *s, char *err, size_t errlen, const char *why)
{
	gk_redis_errf(err, errlen,
	              "redis address '%.300s': %s (expected \"HOST:PORT\", \"[IPv6]:PORT\" or "
	              "\"unix:/path\")",
	              s, why);
	return GK_EINVAL;
}

int gk_redis_addr_parse(const char *s, unsigned flags, gk_redis_addr_t *out, char *err,
                        size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (s == NULL || s[0] == 0)
		return bad_addr("", err, errlen, "empty");
	if (strncmp(s, "unix:", 5) == 0) {
		const char *p = s + 5;
		if (p[0] != '/')
			return bad_addr(s, err, errlen, "a unix socket path must be absolute");
		if (strlen(p) >= sizeof(out->path))
			return bad_addr(s, err, errlen, "unix socket path too long");
		strcpy(out->path, p);
		return 0;
	}
	const char *colon = strrchr(s, ':');
	if (colon == NULL)
		return bad_addr(s, err, errlen, "no port");
	const char *h = s;
	size_t hl = (size_t)(colon - s);
	if (s[0] == '[') {
		if (hl < 2 || s[hl - 1] != ']')
			return bad_addr(s, err, errlen, "unclosed '['");
		h = s + 1;
		hl -= 2;
	} else if (memchr(s, ':', hl) != NULL) {
		return bad_addr(s, err, errlen, "an IPv6 address needs brackets");
	}
	if (hl == 0 || hl >= sizeof(out->host))
		return bad_addr(s, err, errlen, hl ? "host too long" : "no host");
	memcpy(out->host, h, hl);
	out->host[hl] = 0;
	if (s[0] == '[' && strchr(out->host, ':') == NULL)
		return bad_addr(s, err, errlen, "brackets hold an IPv6 address");
	const char *p = colon + 1;
	unsigned long port = 0;
	if (*p == 0 || strlen(p) > 5)
		return bad_addr(s, err, errlen, "bad port");
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return bad_addr(s, err, errlen, "bad port");
		port = port * 10 + (unsigned long)(*p - '0');
	}
	if (port == 0 || port > 65535)
		return bad_addr(s, err, errlen, "port out of range 1..65535");
	out->port = (uint16_t)port;
	if (flags & GK_REDIS_ADDR_NUMERIC) {
		unsigned char buf[sizeof(struct in6_addr)];
		if (inet_pton(AF_INET, out->host, buf) != 1 &&
		    inet_pton(AF_INET6, out->host, buf) != 1)
			return bad_addr(s, err, errlen, "the host must be an IP address");
	}
	return 0;
}

void gk_redis_addr_set(gk_redis_addr_t *a, const char *host, uint16_t port, const char *unix_path)
{
	memset(a, 0, sizeof(*a));
	if (unix_path) {
		snprintf(a->path, sizeof(a->path), "%s", unix_path);
		return;
	}
	snprintf(a->host, sizeof(a->host), "%s", host ? host : "");
	a->port = port;
}

void gk_redis_addr_fmt(const gk_redis_addr_t *a, char *buf, size_t cap)
{
	if (a->path[0])
		snprintf(buf, cap, "unix:%s", a->path);
	else if (strchr(a->host, ':'))
		snprintf(buf, cap, "[%s]:%u", a->host, (unsigned)a->port);
	else
		snprintf(buf, cap, "%s:%u", a->host, (unsigned)a->port);
}

/* --- credentials ------------------------------------------------------------------------ */

void gk_redis_auth_clear(gk_redis_auth_t *a)
{
	if (a == NULL)
		return;
	if (a->password) {
		explicit_bzero(a->password, strlen(a->password));
		free(a->password);
	}
	memset(a, 0, sizeof(*a));
}

static int check_user(const char *user, char *err, size_t errlen)
{
	if (strlen(user) >= GK_REDIS_USER_MAX) {
		gk_redis_errf(err, errlen, "redis user: longer than %u bytes",
		              GK_REDIS_USER_MAX - 1);
		return GK_EINVAL;
	}
	for (const char *p = user; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			gk_redis_errf(err, errlen,
			              "redis user '%s': spaces and control characters are not "
			              "allowed",
			              user);
			return GK_EINVAL;
		}
	return 0;
}

static int take(gk_redis_auth_t *a, const char *user, const char *pw, size_t len, const char *from,
                char *err, size_t errlen)
{
	if (len == 0) {
		gk_redis_errf(err, errlen, "redis password from %s: empty", from);
		return GK_EINVAL;
	}
	if (len > GK_REDIS_PASSWORD_MAX) {
		gk_redis_errf(err, errlen, "redis password from %s: longer than %u bytes", from,
		              GK_REDIS_PASSWORD_MAX);
		return GK_EINVAL;
	}
	if ((a->password = malloc(len + 1)) == NULL)
		return GK_ENOMEM;
	memcpy(a->password, pw, len);
	a->password[len] = 0;
	if (user)
		strcpy(a->user, user);
	return 0;
}

/* The first line of path, at most GK_REDIS_PASSWORD_MAX bytes, into buf. */
static int read_first_line(const char *path, char *buf, size_t cap, size_t *len, char *err,
                           size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		gk_redis_errf(err, errlen, "%s: %s", path, strerror(errno));
		return GK_EIO;
	}
	struct stat sb;
	if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		gk_redis_errf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return GK_EIO;
	}
	size_t n = 0;
	for (;;) {
		ssize_t k = read(fd, buf + n, cap - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			gk_redis_errf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return GK_EIO;
		}
		n += (size_t)k;
		if (k == 0 || n == cap - 1 || memchr(buf, '\n', n))
			break;
	}
	close(fd);
	char *nl = memchr(buf, '\n', n);
	if (nl)
		n = (size_t)(nl - buf);
	else if (n == cap - 1) {
		gk_redis_errf(err, errlen, "%s: the password is longer than %u bytes", path,
		              GK_REDIS_PASSWORD_MAX);
		return GK_EINVAL;
	}
	if (n && buf[n - 1] == '\r')
		n--;
	*len = n;
	return 0;
}

int gk_redis_auth_load(gk_redis_auth_t *a, const char *user, const char *password_file, char *err,
                       size_t errlen)
{
	memset(a, 0, sizeof(*a));
	if (user && !user[0])
		user = NULL;
	int rc = user ? check_user(user, err, errlen) : 0;
	if (rc)
		return rc;
	if (password_file) {
		char buf[GK_REDIS_PASSWORD_MAX + 2];
		size_t n = 0;
		char from[320];
		snprintf(from, sizeof(from), "%.300s", password_file);
		rc = read_first_line(password_file, buf, sizeof(buf), &n, err, errlen);
		if (!rc)
			rc = take(a, user, buf, n, from, err, errlen);
		explicit_bzero(buf, sizeof(buf));
		return rc;
	}
	const char *env = getenv(GK_REDIS_PASSWORD_ENV);
	if (env && env[0])
		return take(a, user, env, strlen(env), GK_REDIS_PASSWORD_ENV, err, errlen);
	if (user) {
		gk_redis_errf(err, errlen,
		              "redis user '%s' needs a password (a password file, or %s in the "
		              "environment)",
		              user, GK_REDIS_PASSWORD_ENV);
		return GK_EINVAL;
	}
	return 0;
}

int gk_redis_auth_set(gk_redis_auth_t *a, const char *user, const char *password)
{
	memset(a, 0, sizeof(*a));
	if (user && !user[0])
		user = NULL;
	if (user && check_user(user, NULL, 0))
		return GK_EINVAL;
	if (password == NULL)
		return user ? GK_EINVAL : 0;
	return take(a, user, password, strlen(password), "text", NULL, 0);
}

int gk_redis_auth_copy(gk_redis_auth_t *dst, const gk_redis_auth_t *src)
{
	memset(dst, 0, sizeof(*dst));
	if (src == NULL || src->password == NULL)
		return 0;
	memcpy(dst->user, src->user, sizeof(dst->user));
	if ((dst->password = strdup(src->password)) == NULL)
		return GK_ENOMEM;
	return 0;
}

/* --- backoff ----------------------------------------------------------------------------- */

void gk_redis_backoff_init(gk_redis_backoff_t *b, unsigned min_ms, unsigned max_ms)
{
	b->min_ms = min_ms;
	b->max_ms = max_ms < min_ms ? min_ms : max_ms;
	b->cur_ms = min_ms;
	/* a different sequence per process and object: instances restarted together spread */
	b->rng = ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)b ^ 0x9e3779b97f4a7c15ull;
}

unsigned gk_redis_backoff_next(gk_redis_backoff_t *b)
{
	b->rng ^= b->rng << 13; /* xorshift64 */
	b->rng ^= b->rng >> 7;
	b->rng ^= b->rng << 17;
	unsigned cur = b->cur_ms, half = cur / 2;
	unsigned d = half + (unsigned)(b->rng % ((uint64_t)(cur - half) + 1));
	b->cur_ms = cur > b->max_ms / 2 ? b->max_ms : cur * 2;
	return d ? d : (b->min_ms ? 1 : 0);
}

void gk_redis_backoff_reset(gk_redis_backoff_t *b)
{
	b->cur_ms = b->min_ms;
}
