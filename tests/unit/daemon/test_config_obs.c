/* SPDX-License-Identifier: MIT */
/* tests/unit/daemon/test_config_obs.c -- the metrics: and dnstap: config sections: values,
 * defaults, and every error naming FILE:LINE.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "daemon/config.h"
#include "tmpdir.h" /* tests/unit/tmpdir.h */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_make(tmpdir, sizeof(tmpdir), "obsconf");
}

static int remove_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_remove(tmpdir);
}

static gk_config_t *load(const char *body, int *rc, char *err, size_t errlen, char *path,
                         size_t pathlen)
{
	snprintf(path, pathlen, "%s/gk.yaml", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	gk_config_t *cfg = NULL;
	*rc = gk_daemon_config_load(path, &cfg, err, errlen);
	return cfg;
}

static void expect_error(const char *body, size_t line, const char *needle)
{
	char path[128], err[512], want[160];
	int rc;
	gk_config_t *cfg = load(body, &rc, err, sizeof(err), path, sizeof(path));
	snprintf(want, sizeof(want), "%s:%zu: ", path, line);
	if (rc != GK_ECONFIG || strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, needle) == NULL)
		fail_msg("body:\n%s\nwant '%s...%s', got rc %d '%s'", body, want, needle, rc, err);
	assert_null(cfg);
}

#define BASE "listen: [\"127.0.0.1:5353\"]\nzones:\n  - name: example.cn\n    file: a.zone\n"

static void test_values(void **state)
{
	(void)state;
	char path[128], err[512];
	int rc;
	gk_config_t *cfg = load(BASE, &rc, err, sizeof(err), path, sizeof(path));
	assert_int_equal(rc, 0);
	assert_false(cfg->metrics.set);
	assert_false(cfg->dnstap.set);
	gk_daemon_config_free(cfg);

	cfg = load(BASE "metrics:\n  listen: \"[::1]:9153\"\n"
	                "dnstap:\n  file: log/decisions.tap\n  rate: 50\n  keep: 0\n",
	           &rc, err, sizeof(err), path, sizeof(path));
	assert_int_equal(rc, 0);
	assert_true(cfg->metrics.set);
	assert_int_equal(cfg->metrics.listen.addr.ss_family, AF_INET6);
	assert_int_equal(ntohs(((struct sockaddr_in6 *)&cfg->metrics.listen.addr)->sin6_port),
	                 9153);
	assert_true(cfg->dnstap.set);
	char want[200];
	snprintf(want, sizeof(want), "%s/log/decisions.tap", tmpdir);
	assert_string_equal(cfg->dnstap.file, want); /* relative to the config file */
	assert_null(cfg->dnstap.unix_path);
	assert_false(cfg->dnstap.all_queries);
	assert_false(cfg->dnstap.forwarded); /* backend traffic: off unless asked */
	assert_int_equal(cfg->dnstap.rate, 50);
	assert_int_equal(cfg->dnstap.burst, 50); /* default: the rate */
	assert_int_equal(cfg->dnstap.max_size_mb, GK_CONFIG_DNSTAP_SIZE_DEFAULT);
	assert_int_equal(cfg->dnstap.keep, 0);
	assert_null(cfg->dnstap.identity);
	gk_daemon_config_free(cfg);

	cfg = load(BASE "metrics:\n  listen: 127.0.0.2:9000\n"
	                "dnstap:\n  socket: /run/dnstap.sock\n  all_queries: true\n  burst: 7\n"
	                "  forwarded: true\n"
	                "  max_size_mb: 5\n  identity: gk-bj-1\n",
	           &rc, err, sizeof(err), path, sizeof(path));
	assert_int_equal(rc, 0);
	assert_string_equal(cfg->dnstap.unix_path, "/run/dnstap.sock");
	assert_null(cfg->dnstap.file);
	assert_true(cfg->dnstap.all_queries);
	assert_true(cfg->dnstap.forwarded);
	assert_int_equal(cfg->dnstap.rate, GK_CONFIG_DNSTAP_RATE_DEFAULT);
	assert_int_equal(cfg->dnstap.burst, 7);
	assert_int_equal(cfg->dnstap.max_size_mb, 5);
	assert_int_equal(cfg->dnstap.keep, GK_CONFIG_DNSTAP_KEEP_DEFAULT);
	assert_string_equal(cfg->dnstap.identity, "gk-bj-1");
	gk_daemon_config_free(cfg);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(BASE "metrics:\n  listen: 0.0.0.0:9153\n", 6, "not a loopback address");
	expect_error(BASE "metrics:\n  listen: \"[2001:db8::1]:9153\"\n", 6, "not a loopback");
	expect_error(BASE "metrics:\n  listen: 127.0.0.1\n", 6, "not ADDRESS:PORT");
	expect_error(BASE "metrics:\n  port: 9153\n", 6, "metrics: unknown key 'port'");
	expect_error(BASE "metrics: {}\n", 5, "missing required key 'listen'");
	expect_error(BASE "metrics: 9153\n", 5, "expected a mapping");
	expect_error(BASE "dnstap:\n  rate: 5\n", 6, "exactly one of 'file' and 'socket'");
	expect_error(BASE "dnstap:\n  file: a\n  socket: /b\n", 7, "exactly one of");
	expect_error(BASE "dnstap:\n  socket: rel.sock\n", 6, "expected an absolute path");
	expect_error(BASE "dnstap:\n  file: a\n  rate: 0\n", 7, "out of range");
	expect_error(BASE "dnstap:\n  file: a\n  all_queries: maybe\n", 7, "true or false");
	expect_error(BASE "dnstap:\n  file: a\n  max_size_mb: 0\n", 7, "out of range");
	expect_error(BASE "dnstap:\n  file: a\n  rotate: 1\n", 7, "dnstap: unknown key 'rotate'");
	expect_error(BASE "dnstap:\n  file: [a]\n", 6, "expected a string");
	char body[1024];
	char id[300];
	memset(id, 'x', sizeof(id) - 1);
	id[sizeof(id) - 1] = 0;
	snprintf(body, sizeof(body), BASE "dnstap:\n  file: a\n  identity: %s\n", id);
	expect_error(body, 7, "dnstap.identity: longer than 255 bytes");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_values),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
