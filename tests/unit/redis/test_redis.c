/* SPDX-License-Identifier: MIT */
/* tests/unit/redis/test_redis.c -- src/redis without a server: address forms and their
 * errors, credentials from a file (first line, CR LF, size cap, not a regular file, a user
 * without a password) and from GK_REDIS_PASSWORD, copies and wiping, and the backoff's
 * bounds (each delay within [cur/2, cur], doubling to the cap, reset).
 *
 * Runs from the repository root (ctest WORKING_DIRECTORY); scratch files go to a mkdtemp
 * directory removed at the end.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "redis/redis.h"

static char dir[64];

static void ok_addr(const char *s, const char *host, unsigned port, const char *path)
{
	gk_redis_addr_t a;
	char err[300] = "", back[320];
	assert_int_equal(gk_redis_addr_parse(s, 0, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, host);
	assert_int_equal(a.port, port);
	assert_string_equal(a.path, path);
	gk_redis_addr_fmt(&a, back, sizeof(back));
	assert_string_equal(back, s);
}

static void bad_addr(const char *s, unsigned flags, const char *why)
{
	gk_redis_addr_t a;
	char err[400] = "";
	assert_int_equal(gk_redis_addr_parse(s, flags, &a, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, why));
}

static void test_addr(void **state)
{
	(void)state;
	ok_addr("127.0.0.1:6379", "127.0.0.1", 6379, "");
	ok_addr("[::1]:7000", "::1", 7000, "");
	ok_addr("redis.example:1", "redis.example", 1, "");
	ok_addr("unix:/run/redis/redis.sock", "", 0, "/run/redis/redis.sock");
	bad_addr("", 0, "empty");
	bad_addr("127.0.0.1", 0, "no port");
	bad_addr("127.0.0.1:", 0, "bad port");
	bad_addr("127.0.0.1:0", 0, "out of range");
	bad_addr("127.0.0.1:65536", 0, "out of range");
	bad_addr("127.0.0.1:12a", 0, "bad port");
	bad_addr("127.0.0.1:123456", 0, "bad port");
	bad_addr("::1:6379", 0, "brackets");
	bad_addr("[::1:6379", 0, "unclosed");
	bad_addr("[1.2.3.4]:6379", 0, "brackets hold an IPv6");
	bad_addr(":6379", 0, "no host");
	bad_addr("unix:relative.sock", 0, "absolute");
	bad_addr("localhost:6379", GK_REDIS_ADDR_NUMERIC, "IP address");
	gk_redis_addr_t a;
	assert_int_equal(gk_redis_addr_parse("[::1]:1", GK_REDIS_ADDR_NUMERIC, &a, NULL, 0), 0);
	char longpath[200];
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = 0;
	char s[220];
	snprintf(s, sizeof(s), "unix:%s", longpath);
	bad_addr(s, 0, "too long");
}

static char *file_with(const char *name, const char *text, size_t len)
{
	static char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	fclose(f);
	return path;
}

static void test_auth_file(void **state)
{
	(void)state;
	gk_redis_auth_t a;
	char err[600];
	unsetenv(GK_REDIS_PASSWORD_ENV);
	/* the first line only, without its line end (LF or CR LF) */
	assert_int_equal(gk_redis_auth_load(&a, "gatekeeperd",
	                                    file_with("p1", "s3cret\r\nsecond\n", 15), err,
	                                    sizeof(err)),
	                 0);
	assert_string_equal(a.user, "gatekeeperd");
	assert_string_equal(a.password, "s3cret");
	gk_redis_auth_t b;
	assert_int_equal(gk_redis_auth_copy(&b, &a), 0);
	assert_string_equal(b.password, "s3cret");
	gk_redis_auth_clear(&a);
	assert_null(a.password);
	assert_string_equal(a.user, "");
	gk_redis_auth_clear(&b);
	/* no newline at all */
	assert_int_equal(gk_redis_auth_load(&a, NULL, file_with("p2", "x", 1), err, sizeof(err)),
	                 0);
	assert_string_equal(a.user, "");
	assert_string_equal(a.password, "x");
	gk_redis_auth_clear(&a);
	/* empty first line, missing file, a directory, too long */
	assert_int_equal(gk_redis_auth_load(&a, "u", file_with("p3", "\nx\n", 3), err, sizeof(err)),
	                 GK_EINVAL);
	assert_non_null(strstr(err, "empty"));
	assert_null(a.password);
	char missing[128];
	snprintf(missing, sizeof(missing), "%s/none", dir);
	assert_int_equal(gk_redis_auth_load(&a, "u", missing, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, missing));
	assert_int_equal(gk_redis_auth_load(&a, "u", dir, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, "not a regular file"));
	char big[GK_REDIS_PASSWORD_MAX + 10];
	memset(big, 'p', sizeof(big));
	assert_int_equal(
	    gk_redis_auth_load(&a, "u", file_with("p4", big, sizeof(big)), err, sizeof(err)),
	    GK_EINVAL);
	assert_non_null(strstr(err, "longer than"));
	/* exactly the limit is fine */
	assert_int_equal(gk_redis_auth_load(&a, "u", file_with("p5", big, GK_REDIS_PASSWORD_MAX),
	                                    err, sizeof(err)),
	                 0);
	assert_int_equal(strlen(a.password), GK_REDIS_PASSWORD_MAX);
	gk_redis_auth_clear(&a);
	/* a user name with a space */
	assert_int_equal(gk_redis_auth_load(&a, "a b", file_with("p6", "x\n", 2), err, sizeof(err)),
	                 GK_EINVAL);
	assert_non_null(strstr(err, "spaces"));
}

static void test_auth_env(void **state)
{
	(void)state;
	gk_redis_auth_t a;
	char err[600];
	unsetenv(GK_REDIS_PASSWORD_ENV);
	/* nothing at all: no AUTH */
	assert_int_equal(gk_redis_auth_load(&a, NULL, NULL, err, sizeof(err)), 0);
	assert_null(a.password);
	/* a user needs a password */
	assert_int_equal(gk_redis_auth_load(&a, "gkctl", NULL, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, GK_REDIS_PASSWORD_ENV));
	setenv(GK_REDIS_PASSWORD_ENV, "from-env", 1);
	assert_int_equal(gk_redis_auth_load(&a, "gkctl", NULL, err, sizeof(err)), 0);
	assert_string_equal(a.password, "from-env");
	gk_redis_auth_clear(&a);
	/* a file wins over the environment */
	assert_int_equal(
	    gk_redis_auth_load(&a, "gkctl", file_with("p7", "from-file\n", 10), err, sizeof(err)),
	    0);
	assert_string_equal(a.password, "from-file");
	gk_redis_auth_clear(&a);
	unsetenv(GK_REDIS_PASSWORD_ENV);
	assert_int_equal(gk_redis_auth_set(&a, "u", "p"), 0);
	assert_string_equal(a.password, "p");
	gk_redis_auth_clear(&a);
	assert_int_equal(gk_redis_auth_set(&a, "u", NULL), GK_EINVAL);
	gk_redis_auth_clear(NULL);
}

static void test_backoff(void **state)
{
	(void)state;
	gk_redis_backoff_t b;
	gk_redis_backoff_init(&b, 100, 5000);
	unsigned cur = 100;
	for (int i = 0; i < 40; i++) {
		unsigned d = gk_redis_backoff_next(&b);
		assert_true(d >= cur / 2 && d <= cur);
		cur = cur * 2 > 5000 ? 5000 : cur * 2;
		assert_int_equal(b.cur_ms, cur);
	}
	gk_redis_backoff_reset(&b);
	assert_int_equal(b.cur_ms, 100);
	/* jitter: not every delay at the cap is the same */
	gk_redis_backoff_init(&b, 1000, 1000);
	unsigned first = gk_redis_backoff_next(&b), differ = 0;
	for (int i = 0; i < 50; i++)
		differ += gk_redis_backoff_next(&b) != first;
	assert_true(differ > 0);
	/* a cap below the minimum is the minimum */
	gk_redis_backoff_init(&b, 100, 10);
	assert_int_equal(b.max_ms, 100);
	assert_true(gk_redis_backoff_next(&b) <= 100);
}

static void test_connect_refused(void **state)
{
	(void)state;
	/* nothing listens on a unix path in our scratch directory */
	char s[128], err[400] = "";
	snprintf(s, sizeof(s), "unix:%s/no.sock", dir);
	redisContext *c = (void *)1;
	assert_int_equal(gk_redis_connect_str(s, NULL, 200, 200, &c, err, sizeof(err)), GK_EIO);
	assert_null(c);
	assert_non_null(strstr(err, "no.sock"));
	assert_int_equal(gk_redis_connect_str("nope", NULL, 200, 200, &c, err, sizeof(err)),
	                 GK_EINVAL);
}

/* --- Sentinel ------------------------------------------------------------------------- */

static redisReply str_reply(int type, const char *s)
{
	return (redisReply){.type = type, .str = (char *)s, .len = s ? strlen(s) : 0};
}

static void test_sentinel_list(void **state)
{
	(void)state;
	gk_redis_sentinel_t s = {0};
	char err[400] = "";
	assert_int_equal(gk_redis_sentinel_add_list(&s,
	                                            "127.0.0.1:26379, [::1]:26380,unix:/run/s.sock",
	                                            0, err, sizeof(err)),
	                 0);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.addr[0].host, "127.0.0.1");
	assert_int_equal(s.addr[1].port, 26380);
	assert_string_equal(s.addr[2].path, "/run/s.sock");
	/* errors name the entry */
	gk_redis_sentinel_t t = {0};
	assert_int_equal(
	    gk_redis_sentinel_add_list(&t, "127.0.0.1:1,,127.0.0.1:2", 0, err, sizeof(err)),
	    GK_EINVAL);
	assert_non_null(strstr(err, "empty entry"));
	t = (gk_redis_sentinel_t){0};
	assert_int_equal(
	    gk_redis_sentinel_add_list(&t, "localhost:1", GK_REDIS_ADDR_NUMERIC, err, sizeof(err)),
	    GK_EINVAL);
	assert_non_null(strstr(err, "sentinel: redis address 'localhost:1'"));
	t = (gk_redis_sentinel_t){0};
	for (unsigned i = 0; i < GK_REDIS_SENTINELS_MAX; i++)
		assert_int_equal(gk_redis_sentinel_add(&t, "127.0.0.1:9", 0, err, sizeof(err)), 0);
	assert_int_equal(gk_redis_sentinel_add(&t, "127.0.0.1:9", 0, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, "more than"));
	/* master names */
	assert_int_equal(gk_redis_sentinel_set_master(&s, "gk-primary", err, sizeof(err)), 0);
	assert_string_equal(s.master, "gk-primary");
	assert_int_equal(gk_redis_sentinel_set_master(&s, "", err, sizeof(err)), GK_EINVAL);
	assert_int_equal(gk_redis_sentinel_set_master(&s, "a b", err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, "spaces"));
	char longname[GK_REDIS_MASTER_NAME_MAX + 1];
	memset(longname, 'm', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(gk_redis_sentinel_set_master(&s, longname, err, sizeof(err)), GK_EINVAL);
	assert_string_equal(s.master, "gk-primary"); /* unchanged by a refused name */
}

static void test_sentinel_replies(void **state)
{
	(void)state;
	gk_redis_addr_t a;
	char err[400] = "";
	redisReply ip = str_reply(REDIS_REPLY_STRING, "127.0.0.1");
	redisReply port = str_reply(REDIS_REPLY_STRING, "6380");
	redisReply *el[2] = {&ip, &port};
	redisReply arr = {.type = REDIS_REPLY_ARRAY, .elements = 2, .element = el};
	assert_int_equal(gk_redis_sentinel_parse_addr(&arr, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "127.0.0.1");
	assert_int_equal(a.port, 6380);
	ip = str_reply(REDIS_REPLY_STRING, "::1");
	assert_int_equal(gk_redis_sentinel_parse_addr(&arr, &a, err, sizeof(err)), 0);
	assert_string_equal(a.host, "::1");
	/* nil: unknown name */
	redisReply nil = {.type = REDIS_REPLY_NIL};
	assert_int_equal(gk_redis_sentinel_parse_addr(&nil, &a, err, sizeof(err)), GK_ENOENT);
	assert_non_null(strstr(err, "does not know"));
	/* bad shapes and values */
	port = str_reply(REDIS_REPLY_STRING, "0");
	assert_int_equal(gk_redis_sentinel_parse_addr(&arr, &a, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, "bad address"));
	port = str_reply(REDIS_REPLY_STRING, "6380");
	ip = str_reply(REDIS_REPLY_STRING, "redis.example");
	assert_int_equal(gk_redis_sentinel_parse_addr(&arr, &a, err, sizeof(err)), GK_EINVAL);
	arr.elements = 1;
	assert_int_equal(gk_redis_sentinel_parse_addr(&arr, &a, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, "unexpected"));
	redisReply e = str_reply(REDIS_REPLY_ERROR, "ERR unknown command");
	assert_int_equal(gk_redis_sentinel_parse_addr(&e, &a, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, "ERR unknown"));
	assert_int_equal(gk_redis_sentinel_parse_addr(NULL, &a, err, sizeof(err)), GK_EINVAL);
	/* ROLE */
	redisReply role = str_reply(REDIS_REPLY_STRING, "master");
	redisReply *rel[1] = {&role};
	redisReply rarr = {.type = REDIS_REPLY_ARRAY, .elements = 1, .element = rel};
	assert_int_equal(gk_redis_role_is_master(&rarr, err, sizeof(err)), 1);
	role = str_reply(REDIS_REPLY_STRING, "slave");
	assert_int_equal(gk_redis_role_is_master(&rarr, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "replica"));
	role = str_reply(REDIS_REPLY_STRING, "sentinel");
	assert_int_equal(gk_redis_role_is_master(&rarr, err, sizeof(err)), 0);
	role = str_reply(REDIS_REPLY_STRING, "boss");
	assert_int_equal(gk_redis_role_is_master(&rarr, err, sizeof(err)), GK_EINVAL);
	assert_int_equal(gk_redis_role_is_master(&e, err, sizeof(err)), GK_EINVAL);
	rarr.elements = 0;
	assert_int_equal(gk_redis_role_is_master(&rarr, err, sizeof(err)), GK_EINVAL);
	/* READONLY */
	assert_true(gk_redis_is_readonly("READONLY You can't write against a read only replica."));
	assert_false(gk_redis_is_readonly("ERR x"));
	assert_false(gk_redis_is_readonly(NULL));
}

static void test_sentinel_unreachable(void **state)
{
	(void)state;
	gk_redis_sentinel_t s = {.timeout_ms = 200};
	char a1[128], err[800] = "";
	snprintf(a1, sizeof(a1), "unix:%s/s1.sock", dir);
	assert_int_equal(gk_redis_sentinel_add(&s, a1, 0, err, sizeof(err)), 0);
	assert_int_equal(gk_redis_sentinel_set_master(&s, "gk", err, sizeof(err)), 0);
	gk_redis_addr_t m;
	assert_int_equal(gk_redis_sentinel_resolve(&s, NULL, 200, &m, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, "sentinels (1) for master 'gk'"));
	assert_non_null(strstr(err, "s1.sock"));
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/gk-redis-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_addr),
	    cmocka_unit_test(test_auth_file),
	    cmocka_unit_test(test_auth_env),
	    cmocka_unit_test(test_backoff),
	    cmocka_unit_test(test_connect_refused),
	    cmocka_unit_test(test_sentinel_list),
	    cmocka_unit_test(test_sentinel_replies),
	    cmocka_unit_test(test_sentinel_unreachable),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		rc = 1;
	return rc;
}
