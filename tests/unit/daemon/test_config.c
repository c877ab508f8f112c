/* SPDX-License-Identifier: MIT */
/* tests/unit/daemon/test_config.c -- gk_daemon_config_load: defaults, values, paths, every error.
 *
 * Error cases are written to a private temp directory and each must name FILE:LINE of the
 * offending line. Runs from the source root (ctest WORKING_DIRECTORY).
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
#include <sys/stat.h>
#include "common/chroot.h"
#include "daemon/config.h"
#include "front/conf.h"
#include "redis/redis.h"
#include "tmpdir.h" /* tests/unit/tmpdir.h */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_make(tmpdir, sizeof(tmpdir), "config");
}

static int remove_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_remove(tmpdir);
}

static void write_file(const char *path, const char *body)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

/* Load body from tmpdir/name; expect failure rc naming name:line. */
static void expect_error(const char *body, int want_rc, size_t line, const char *needle)
{
	char path[128], err[512], want[160];
	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	write_file(path, body);
	gk_config_t *cfg = NULL;
	int rc = gk_daemon_config_load(path, &cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s:%zu: ", path, line);
	if (rc != want_rc || strncmp(err, want, strlen(want)) != 0 ||
	    (needle != NULL && strstr(err, needle) == NULL))
		fail_msg("body:\n%s\nwant rc %d '%s...%s', got rc %d '%s'", body, want_rc, want,
		         needle ? needle : "", rc, err);
	assert_null(cfg);
}

#define ZONES  "zones:\n  - name: example.cn\n    file: a.zone\n"
#define LISTEN "listen: [\"127.0.0.1:5353\"]\n"

static void test_policy_section(void **state)
{
	(void)state;
	char path[160], keyp[160], err[512];
	snprintf(keyp, sizeof(keyp), "%s/op.pub", tmpdir);
	write_file(keyp, "not checked here: gatekeeperd reads it when it starts\n");
	snprintf(path, sizeof(path), "%s/pol.yaml", tmpdir);
	write_file(path, LISTEN ZONES
	           "redis: {address: \"127.0.0.1:6379\"}\n"
	           "policy:\n  file: p/policy.yaml\n  redis: true\n  operator_keys: [op.pub]\n");
	gk_config_t *cfg = NULL;
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	char want[200];
	snprintf(want, sizeof(want), "%s/p/policy.yaml", tmpdir);
	assert_string_equal(cfg->policy.file, want);
	assert_true(cfg->policy.redis);
	assert_int_equal(cfg->policy.n_operator_keys, 1);
	assert_string_equal(cfg->policy.operator_keys[0], keyp);
	snprintf(want, sizeof(want), "%s/state", tmpdir); /* the default, beside the config */
	assert_string_equal(cfg->policy.state_dir, want);
	gk_daemon_config_free(cfg);
	write_file(path, LISTEN ZONES
	           "redis: {address: \"127.0.0.1:6379\"}\n"
	           "policy:\n  redis: true\n  operator_keys: [op.pub]\n  state_dir: var/gk\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	snprintf(want, sizeof(want), "%s/var/gk", tmpdir);
	assert_string_equal(cfg->policy.state_dir, want);
	gk_daemon_config_free(cfg);
	write_file(path, LISTEN ZONES "policy:\n  file: p/policy.yaml\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->policy.state_dir); /* no fleet policy: nothing kept */
	gk_daemon_config_free(cfg);

	expect_error(LISTEN ZONES "policy:\n  state_dir: /var/lib/gk\n", GK_ECONFIG, 6,
	             "state_dir: only with policy.redis");
	expect_error(LISTEN ZONES "policy:\n  state_dir: \"\"\n", GK_ECONFIG, 6,
	             "state_dir: expected a non-empty string");
	expect_error(LISTEN ZONES "policy:\n  fil: x.yaml\n", GK_ECONFIG, 6, "unknown key 'fil'");
	expect_error(LISTEN ZONES "policy: x.yaml\n", GK_ECONFIG, 5, "expected a mapping");
	expect_error(LISTEN ZONES "policy:\n  redis: true\n  operator_keys: [op.pub]\n", GK_ECONFIG,
	             6, "needs a redis section");
	expect_error(LISTEN ZONES "redis: {address: \"127.0.0.1:1\"}\npolicy:\n  redis: true\n",
	             GK_ECONFIG, 7, "needs operator_keys");
	expect_error(LISTEN ZONES "policy:\n  operator_keys: [op.pub, nope.pub]\n", GK_ECONFIG, 6,
	             "nope.pub");
	expect_error(LISTEN ZONES "policy:\n  operator_keys: []\n", GK_ECONFIG, 6, "at least one");
	expect_error(LISTEN ZONES "policy:\n  redis: maybe\n", GK_ECONFIG, 6, "true or false");
}

static void test_rate_limit_section(void **state)
{
	(void)state;
	char path[160], err[512];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/rrl.yaml", tmpdir);
	write_file(path, LISTEN ZONES);
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	/* NSD 4.6's defaults: on, 200/s, slip 2; /24 and Knot's /56 */
	assert_int_equal(cfg->rrl.rate, 200);
	assert_int_equal(cfg->rrl.slip, 2);
	assert_int_equal(cfg->rrl.window, 15);
	assert_int_equal(cfg->rrl.v4_prefix, 24);
	assert_int_equal(cfg->rrl.v6_prefix, 56);
	assert_int_equal(cfg->rrl.n_exempt, 0);
	gk_daemon_config_free(cfg);
	write_file(path,
	           LISTEN ZONES "rate_limit:\n  responses_per_second: 0\n  slip: 0\n  window: 1\n"
	                        "  ipv4_prefix: 32\n  ipv6_prefix: 64\n  table_size: 1024\n"
	                        "  exempt: [\"192.0.2.0/24\", \"2001:db8::1\"]\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->rrl.rate, 0);
	assert_int_equal(cfg->rrl.slip, 0);
	assert_int_equal(cfg->rrl.window, 1);
	assert_int_equal(cfg->rrl.v4_prefix, 32);
	assert_int_equal(cfg->rrl.v6_prefix, 64);
	assert_int_equal(cfg->rrl.table_size, 1024);
	assert_int_equal(cfg->rrl.n_exempt, 2);
	assert_int_equal(cfg->rrl.exempt[1].len, 128);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN ZONES "rate_limit:\n  slip: 11\n", GK_ECONFIG, 6, "out of range");
	expect_error(LISTEN ZONES "rate_limit:\n  window: 0\n", GK_ECONFIG, 6, "out of range");
	expect_error(LISTEN ZONES "rate_limit:\n  ipv4_prefix: 33\n", GK_ECONFIG, 6,
	             "out of range");
	expect_error(LISTEN ZONES "rate_limit:\n  rate: 5\n", GK_ECONFIG, 6, "unknown key 'rate'");
	expect_error(LISTEN ZONES "rate_limit:\n  exempt:\n    - 10.0.0.0/8\n    - 10.1.2.3/8\n",
	             GK_ECONFIG, 8, "'10.1.2.3/8' is not ADDRESS");
	expect_error(LISTEN ZONES "rate_limit:\n  exempt: 10.0.0.0/8\n", GK_ECONFIG, 6,
	             "expected a list");
}

static void test_proxy_protocol(void **state)
{
	(void)state;
	char path[160], err[512];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/proxy.yaml", tmpdir);
	write_file(path,
	           LISTEN ZONES "proxy_protocol:\n  from: [\"10.0.0.5\", \"2001:db8::/64\"]\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_proxy_from, 2);
	assert_int_equal(cfg->proxy_from[0].len, 32);
	assert_int_equal(cfg->proxy_from[1].len, 64);
	gk_daemon_config_free(cfg);
	write_file(path, LISTEN ZONES);
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_proxy_from, 0);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN ZONES "proxy_protocol:\n  from: []\n", GK_ECONFIG, 6,
	             "'from' must list");
	expect_error(LISTEN ZONES "proxy_protocol:\n  form: [\"10.0.0.5\"]\n", GK_ECONFIG, 6,
	             "unknown key 'form'");
	expect_error(LISTEN ZONES "proxy_protocol:\n  from: [\"10.0.0.5/33\"]\n", GK_ECONFIG, 6,
	             "proxy_protocol.from: '10.0.0.5/33' is not ADDRESS");
}

static void test_tls(void **state)
{
	(void)state;
	char path[160], err[512], want[200];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/tls.yaml", tmpdir);
	write_file(path, LISTEN ZONES "tls:\n  - listen: \"127.0.0.1:853\"\n"
	                              "    certificate: c.pem\n    key: /etc/k.pem\n"
	                              "    min_version: \"1.3\"\n    handshake_timeout_ms: 2000\n"
	                              "    idle_timeout_ms: 30000\n    max_connections: 100\n"
	                              "  - listen: \"[::1]:853\"\n    certificate: c.pem\n"
	                              "    key: k.pem\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_tls, 2);
	snprintf(want, sizeof(want), "%s/c.pem", tmpdir);
	assert_string_equal(cfg->tls[0].certificate, want);
	assert_string_equal(cfg->tls[0].key, "/etc/k.pem");
	assert_int_equal(cfg->tls[0].min_version, 13);
	assert_int_equal(cfg->tls[0].handshake_timeout_ms, 2000);
	assert_int_equal(cfg->tls[0].idle_timeout_ms, 30000);
	assert_int_equal(cfg->tls[0].max_connections, 100);
	/* defaults */
	assert_int_equal(cfg->tls[1].min_version, 12);
	assert_int_equal(cfg->tls[1].handshake_timeout_ms, 5000);
	assert_int_equal(cfg->tls[1].idle_timeout_ms, 10000);
	assert_int_equal(cfg->tls[1].max_connections, 1024);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN ZONES "tls:\n  - listen: \"127.0.0.1:853\"\n    key: k.pem\n",
	             GK_ECONFIG, 6, "tls: listener has no 'certificate'");
	expect_error(LISTEN ZONES "tls:\n  - listen: \"127.0.0.1:853\"\n    certificate: c\n"
	                          "    key: k\n    min_version: \"1.1\"\n",
	             GK_ECONFIG, 9, "'1.1' is not 1.2 or 1.3");
	expect_error(LISTEN ZONES "tls:\n  - listen: \"127.0.0.1:853\"\n    certificate: c\n"
	                          "    key: k\n    alpn: dot\n",
	             GK_ECONFIG, 9, "tls: unknown key 'alpn'");
	expect_error(LISTEN ZONES "tls:\n  - listen: 853\n", GK_ECONFIG, 6,
	             "tls.listen: '853' is not ADDRESS:PORT");
	expect_error(LISTEN ZONES "tls:\n  - {listen: \"127.0.0.1:853\", certificate: c, key: k}\n"
	                          "  - {listen: \"127.0.0.1:853\", certificate: c, key: k}\n",
	             GK_ECONFIG, 7, "listed twice");
	expect_error(LISTEN ZONES "tls: {}\n", GK_ECONFIG, 5, "expected a list");
}

static void test_user_group(void **state)
{
	(void)state;
	char path[160], err[512];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/privs.yaml", tmpdir);
	write_file(path, LISTEN ZONES "user: root\ngroup: root\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_true(cfg->privs.set);
	assert_int_equal(cfg->privs.uid, 0);
	assert_int_equal(cfg->privs.gid, 0);
	gk_daemon_config_free(cfg);
	write_file(path, LISTEN ZONES);
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_false(cfg->privs.set);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN ZONES "user: gk-no-such-user\n", GK_ECONFIG, 5,
	             "user: no such user 'gk-no-such-user'");
	expect_error(LISTEN ZONES "user: root\ngroup: gk-no-such-group\n", GK_ECONFIG, 6,
	             "group: no such group 'gk-no-such-group'");
	expect_error(LISTEN ZONES "group: root\n", GK_ECONFIG, 5, "group: needs user:");
	expect_error(LISTEN ZONES "user: [a]\n", GK_ECONFIG, 5, "user: expected a string");
}

static void test_discovery_section(void **state)
{
	(void)state;
	char path[160], err[512];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/disc.yaml", tmpdir);
	write_file(path, LISTEN ZONES "redis: {address: \"127.0.0.1:6379\"}\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_true(cfg->discovery.enabled); /* on with redis by default */
	assert_int_equal(cfg->discovery.table_size, 65536);
	assert_int_equal(cfg->discovery.flush_ms, 1000);
	assert_int_equal(cfg->discovery.day_max, 1000000);
	gk_daemon_config_free(cfg);
	write_file(path, LISTEN ZONES
	           "redis: {address: \"127.0.0.1:6379\"}\ndiscovery:\n"
	           "  enabled: false\n  table_size: 16\n  flush_ms: 250\n  day_max: 500\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_false(cfg->discovery.enabled);
	assert_int_equal(cfg->discovery.table_size, 16);
	assert_int_equal(cfg->discovery.flush_ms, 250);
	assert_int_equal(cfg->discovery.day_max, 500);
	gk_daemon_config_free(cfg);
	write_file(path, LISTEN ZONES);
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_false(cfg->discovery.enabled); /* no redis: off */
	gk_daemon_config_free(cfg);

	expect_error(LISTEN ZONES "discovery:\n  enabled: true\n", GK_ECONFIG, 6,
	             "discovery.enabled: true needs a redis section");
	expect_error(LISTEN ZONES "discovery:\n  tabel_size: 5\n", GK_ECONFIG, 6,
	             "discovery: unknown key 'tabel_size'");
	expect_error(LISTEN ZONES "discovery:\n  table_size: 8\n", GK_ECONFIG, 6, "out of range");
	expect_error(LISTEN ZONES "discovery:\n  flush_ms: 70000\n", GK_ECONFIG, 6, "out of range");
	expect_error(LISTEN ZONES "discovery:\n  day_max: 1\n", GK_ECONFIG, 6, "out of range");
	expect_error(LISTEN ZONES "discovery: yes\n", GK_ECONFIG, 5, "expected a mapping");
}

static void test_defaults(void **state)
{
	(void)state;
	gk_config_t *cfg = NULL;
	char err[256];
	assert_int_equal(gk_daemon_config_load("tests/unit/daemon/fixtures/minimal.yaml", &cfg, err,
	                                       sizeof(err)),
	                 0);
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	assert_int_equal(cfg->workers, cores < 1 ? 1 : cores);
	assert_int_equal(cfg->edns_udp_max, 1232);
	assert_int_equal(cfg->udp_linger_us, 0);
	assert_int_equal(cfg->udp_priority, 10);
	assert_int_equal(cfg->tcp_max_connections, 1024);
	assert_int_equal(cfg->tcp_idle_timeout_ms, 10000);
	assert_int_equal(cfg->tcp_max_pipelined, 64);
	assert_int_equal(cfg->log_level, GK_LOG_INFO);
	assert_int_equal(cfg->n_listen, 1);
	const struct sockaddr_in *a = (const struct sockaddr_in *)&cfg->listen[0].addr;
	assert_int_equal(a->sin_family, AF_INET);
	assert_int_equal(ntohs(a->sin_port), 53);
	assert_int_equal(cfg->n_zones, 1);
	assert_string_equal(cfg->zones[0].name, "example.cn");
	assert_string_equal(cfg->zones[0].file, "tests/unit/daemon/fixtures/example.cn.zone");
	assert_null(cfg->zones[0].text);
	gk_daemon_config_free(cfg);
}

static void test_all_keys(void **state)
{
	(void)state;
	gk_config_t *cfg = NULL;
	char err[256];
	assert_int_equal(
	    gk_daemon_config_load("tests/unit/daemon/fixtures/good.yaml", &cfg, err, sizeof(err)),
	    0);
	assert_int_equal(cfg->workers, 3);
	assert_int_equal(cfg->edns_udp_max, 1400);
	assert_int_equal(cfg->udp_linger_us, 50);
	assert_int_equal(cfg->udp_priority, 4);
	assert_int_equal(cfg->tcp_max_connections, 200);
	assert_int_equal(cfg->tcp_idle_timeout_ms, 5000);
	assert_int_equal(cfg->tcp_max_pipelined, 16);
	assert_int_equal(cfg->log_level, GK_LOG_DEBUG);
	assert_int_equal(cfg->n_listen, 2);
	assert_string_equal(cfg->listen[1].text, "[::1]:5353");
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&cfg->listen[1].addr;
	assert_int_equal(a6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 5353);
	assert_true(IN6_IS_ADDR_LOOPBACK(&a6->sin6_addr));
	assert_int_equal(cfg->n_zones, 2);
	assert_string_equal(cfg->zones[0].file, "tests/unit/daemon/fixtures/zones/example.cn.zone");
	assert_string_equal(cfg->zones[1].name, "shop.com.cn.");
	assert_string_equal(cfg->zones[1].file, "/abs/shop.com.cn.zone");
	gk_daemon_config_free(cfg);
}

static void test_relative_paths(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/rel.yaml", tmpdir);
	write_file(path, LISTEN "zones:\n  - name: a.cn\n    file: sub/a.zone\n"
	                        "  - name: b.cn\n    file: ../b.zone\n");
	gk_config_t *cfg = NULL;
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	char want[160];
	snprintf(want, sizeof(want), "%s/sub/a.zone", tmpdir);
	assert_string_equal(cfg->zones[0].file, want);
	snprintf(want, sizeof(want), "%s/../b.zone", tmpdir);
	assert_string_equal(cfg->zones[1].file, want);
	gk_daemon_config_free(cfg);
}

static void test_missing_file(void **state)
{
	(void)state;
	char err[256];
	gk_config_t *cfg = NULL;
	assert_int_equal(gk_daemon_config_load("/nonexistent/gk.yaml", &cfg, err, sizeof(err)),
	                 GK_EIO);
	assert_non_null(strstr(err, "/nonexistent/gk.yaml:"));
	assert_null(cfg);
}

static void test_errors_top(void **state)
{
	(void)state;
	expect_error("", GK_ECONFIG, 1, "empty");
	expect_error("- a\n- b\n", GK_ECONFIG, 1, "expected a mapping");
	expect_error(LISTEN "workers: 1\nno_such_key: 3\n" ZONES, GK_ECONFIG, 3, "no_such_key");
	expect_error(LISTEN "workers: 1\nworkers: 2\n" ZONES, GK_ECONFIG, 3, "duplicate key");
	expect_error("workers: 1\n" ZONES, GK_ECONFIG, 1, "missing required key 'listen'");
	expect_error("# comment\n" LISTEN, GK_ECONFIG, 2, "missing required key 'zones'");
	expect_error(LISTEN "workers: 1\nlog_level: loud\n" ZONES, GK_ECONFIG, 3, "log_level");
	expect_error(LISTEN "log_level: [info]\n" ZONES, GK_ECONFIG, 2, "expected a string");
	/* YAML syntax: libyaml reports the flow sequence left open */
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/bad.yaml", tmpdir);
	write_file(path, "listen: [\"127.0.0.1:53\"\nworkers: 1\n" ZONES);
	gk_config_t *cfg = NULL;
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ESYNTAX);
	char w1[160], w2[160];
	snprintf(w1, sizeof(w1), "%s:1: ", path);
	snprintf(w2, sizeof(w2), "%s:2: ", path);
	assert_true(strncmp(err, w1, strlen(w1)) == 0 || strncmp(err, w2, strlen(w2)) == 0);
	assert_null(cfg);
}

/* Nesting is bounded (GK_YAML_MAX_DEPTH): 100,000 levels took 26 s to reject before; now the
 * first collection too deep is named with its line. */
static void test_errors_depth(void **state)
{
	(void)state;
	enum { DEEP = 100000 };
	char *body = malloc(2 * DEEP + 256);
	assert_non_null(body);
	size_t n = (size_t)sprintf(body, LISTEN "workers: 1\ntcp: ");
	memset(body + n, '[', DEEP);
	memset(body + n + DEEP, ']', DEEP);
	strcpy(body + n + 2 * DEEP, "\n" ZONES);
	expect_error(body, GK_ESYNTAX, 3, "nested deeper than 32 levels");
	/* block style: the mapping that crosses the limit is on line 1 + 32 */
	n = 0;
	for (int i = 0; i < 40; i++)
		n += (size_t)sprintf(body + n, "%*sk%d:\n", i, "", i);
	strcpy(body + n, "x: 1\n");
	expect_error(body, GK_ESYNTAX, 33, "nested deeper than 32 levels");
	free(body);
}

static void test_errors_numbers(void **state)
{
	(void)state;
	expect_error(LISTEN "workers: many\n" ZONES, GK_ECONFIG, 2, "expected an integer");
	expect_error(LISTEN "workers: \"4\"\n" ZONES, GK_ECONFIG, 2, "expected an integer");
	expect_error(LISTEN "workers: -1\n" ZONES, GK_ECONFIG, 2, "expected an integer");
	expect_error(LISTEN "workers: 0\n" ZONES, GK_ECONFIG, 2, "out of range");
	expect_error(LISTEN "workers:\n" ZONES, GK_ECONFIG, 2, "expected an integer");
	expect_error(LISTEN "edns_udp_max: 100\n" ZONES, GK_ECONFIG, 2, "out of range 512..4096");
	expect_error(LISTEN "edns_udp_max: 4097\n" ZONES, GK_ECONFIG, 2, "out of range");
	expect_error(LISTEN "edns_udp_max: 99999999999999999999\n" ZONES, GK_ECONFIG, 2,
	             "out of range");
	expect_error(LISTEN "udp_linger_us: 1001\n" ZONES, GK_ECONFIG, 2, "out of range 0..1000");
	expect_error(LISTEN "udp_linger_us: -5\n" ZONES, GK_ECONFIG, 2, "expected an integer");
	expect_error(LISTEN "udp_priority: 20\n" ZONES, GK_ECONFIG, 2, "out of range 0..19");
	expect_error(LISTEN "tcp: 5\n" ZONES, GK_ECONFIG, 2, "expected a mapping");
	expect_error(LISTEN "tcp:\n  max_connections: 10\n  idle_timout_ms: 5\n" ZONES, GK_ECONFIG,
	             4, "idle_timout_ms");
	expect_error(LISTEN "tcp:\n  max_connections: 0\n" ZONES, GK_ECONFIG, 3, "out of range");
	expect_error(LISTEN "tcp:\n  idle_timeout_ms: 5\n" ZONES, GK_ECONFIG, 3, "out of range");
	expect_error(LISTEN "tcp:\n  max_pipelined: 0\n" ZONES, GK_ECONFIG, 3, "out of range");
	expect_error(LISTEN "tcp:\n  max_pipelined: 1.5\n" ZONES, GK_ECONFIG, 3,
	             "expected an integer");
}

static void test_errors_listen(void **state)
{
	(void)state;
	expect_error("workers: 1\nlisten: [\"127.0.0.1:99999\"]\n" ZONES, GK_ECONFIG, 2, "99999");
	expect_error("workers: 1\nlog_level: info\nlisten: [\"127.0.0.1:dns\"]\n" ZONES, GK_ECONFIG,
	             3, "not ADDRESS:PORT");
	expect_error("listen: [\"127.0.0.300:53\"]\n" ZONES, GK_ECONFIG, 1, "127.0.0.300");
	expect_error("listen: [\"127.0.0.1\"]\n" ZONES, GK_ECONFIG, 1, "not ADDRESS:PORT");
	expect_error("listen: [\"::1:53\"]\n" ZONES, GK_ECONFIG, 1, "not ADDRESS:PORT");
	expect_error("listen: [\"[::1]\"]\n" ZONES, GK_ECONFIG, 1, "not ADDRESS:PORT");
	expect_error("listen: [\"[::1]:0\"]\n" ZONES, GK_ECONFIG, 1, "not ADDRESS:PORT");
	expect_error("listen: 127.0.0.1:53\n" ZONES, GK_ECONFIG, 1, "expected a list");
	expect_error("listen: []\n" ZONES, GK_ECONFIG, 1, "at least one");
	expect_error("listen:\n  - 127.0.0.1:53\n  - [a, b]\n" ZONES, GK_ECONFIG, 3,
	             "expected a string");
	expect_error("listen:\n  - 127.0.0.1:53\n  - \"[::1]:53\"\n  - 127.0.0.1:53\n" ZONES,
	             GK_ECONFIG, 4, "duplicate address");
}

static void test_errors_zones(void **state)
{
	(void)state;
	expect_error(LISTEN "zones:\n  - name: example.cn\n    fiel: x.zone\n", GK_ECONFIG, 4,
	             "fiel");
	expect_error(LISTEN "zones:\n  - name: example.cn\n", GK_ECONFIG, 3, "has no 'file'");
	expect_error(LISTEN "zones:\n  - file: a.zone\n", GK_ECONFIG, 3, "has no 'name'");
	expect_error(LISTEN "zones: example.cn\n", GK_ECONFIG, 2, "expected a list");
	expect_error(LISTEN "zones: []\n", GK_ECONFIG, 2, "at least one");
	expect_error(LISTEN "zones:\n  - example.cn\n", GK_ECONFIG, 3, "expected a mapping");
	expect_error(LISTEN "zones:\n  - name: a.cn\n    file: a.zone\n  - name: b.cn\n"
	                    "    file: b.zone\n  - name: A.CN.\n    file: c.zone\n",
	             GK_ECONFIG, 7, "duplicate zone 'A.CN.' (first at line 3)");
	expect_error(LISTEN "zones:\n  - name: a.cn\n    file: \"\"\n", GK_ECONFIG, 4, "non-empty");
	expect_error(LISTEN "zones:\n  - name: a.cn\n    name: b.cn\n    file: a\n", GK_ECONFIG, 4,
	             "duplicate key 'name'");
}

/* Load body from tmpdir/ok.yaml; must succeed. */
static gk_config_t *load_ok(const char *body)
{
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/ok.yaml", tmpdir);
	write_file(path, body);
	gk_config_t *cfg = NULL;
	if (gk_daemon_config_load(path, &cfg, err, sizeof(err)) != 0)
		fail_msg("body:\n%s\nunexpected error: %s", body, err);
	return cfg;
}

/* Load body (the config) beside list (tmpdir/fwd.list); expect failure naming FILE:LINE. */
static void expect_list_error(const char *body, const char *list, const char *file, size_t line,
                              const char *needle)
{
	char path[128], lp[128], err[512], want[200];
	snprintf(path, sizeof(path), "%s/fwd.yaml", tmpdir);
	snprintf(lp, sizeof(lp), "%s/fwd.list", tmpdir);
	write_file(path, body);
	write_file(lp, list);
	gk_config_t *cfg = NULL;
	int rc = gk_daemon_config_load(path, &cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s/%s:%zu: ", tmpdir, file, line);
	if (rc != GK_ECONFIG || strncmp(err, want, strlen(want)) != 0 ||
	    strstr(err, needle) == NULL)
		fail_msg("want '%s...%s', got rc %d '%s'", want, needle, rc, err);
	assert_null(cfg);
}

/* A zone list line "NAME forward=POOL" forwards the zone (docs/FRONTEND.md). */
static void test_forward_zone_list(void **state)
{
	(void)state;
	char lp[128], yp[128], err[512], body[512];
	snprintf(lp, sizeof(lp), "%s/fwd.list", tmpdir);
	snprintf(yp, sizeof(yp), "%s/fwd.yaml", tmpdir);
	write_file(lp,
	           "# forwarded and filed\nb.cn forward=reg\na.cn a.zone\nX.b.cn. forward=two\n");
#define FPOOLS                                                                                     \
	"pools:\n  - {name: reg, backends: [\"127.0.0.1:53\"]}\n"                                  \
	"  - {name: two, backends: [\"127.0.0.2:53\"]}\n"
	snprintf(body, sizeof(body), LISTEN "zone_list: fwd.list\n" FPOOLS);
	write_file(yp, body);
	gk_config_t *cfg = NULL;
	assert_int_equal(gk_daemon_config_load(yp, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_zones, 1); /* a.cn only is served from a file */
	assert_string_equal(cfg->zones[0].name, "a.cn");
	const gk_front_conf_t *fc = cfg->front;
	assert_non_null(fc);
	assert_int_equal(fc->n_zones, 2);
	assert_string_equal(fc->zones[0].name, "b.cn");
	assert_string_equal(fc->zones[0].file, cfg->zone_list);
	assert_int_equal(fc->zones[0].line, 2);
	assert_string_equal(fc->zones[1].name, "X.b.cn.");
	assert_int_equal(fc->zones[1].line, 4);
	assert_ptr_equal(gk_front_conf_lookup(fc, "www.b.cn"), &fc->pools[0]);
	assert_ptr_equal(gk_front_conf_lookup(fc, "y.x.b.cn"), &fc->pools[1]);
	gk_config_t *same = NULL; /* a reload reads a list that forwards again */
	assert_int_equal(
	    gk_daemon_config_load_flags(yp, GK_CONFIG_NO_ZONE_LISTS, &same, err, sizeof(err)), 0);
	assert_false(gk_daemon_config_zones_same(cfg, same));
	gk_daemon_config_free(same);
	gk_daemon_config_free(cfg);

	/* a file named forward=... is written ./forward=... */
	write_file(lp, "c.cn ./forward=x\n");
	assert_int_equal(gk_daemon_config_load(yp, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_zones, 1);
	assert_null(cfg->front->zones);
	gk_daemon_config_free(cfg);

	/* errors name the list and its line */
	expect_list_error(body, "a.cn a.zone\nb.cn forward=nope\n", "fwd.list", 2,
	                  "no pool named 'nope'");
	expect_list_error(body, "b.cn forward=reg\nx.cn x.zone\nB.cn. b.zone\n", "fwd.list", 1,
	                  "also served from a file");
	expect_list_error(body, "b.cn forward=reg\nc.cn forward=reg\nB.CN forward=two\n",
	                  "fwd.list", 3, "forwarded twice (first at line 1)");
	snprintf(body, sizeof(body),
	         LISTEN "zones:\n  - {name: b.cn, forward: reg}\nzone_list: fwd.list\n" FPOOLS);
	char want[200];
	snprintf(want, sizeof(want), "forwarded twice (first at %s/fwd.yaml:3)", tmpdir);
	expect_list_error(body, "a.cn a.zone\nb.cn forward=two\n", "fwd.list", 2, want);
	snprintf(body, sizeof(body), LISTEN "zone_list: fwd.list\n");
	expect_list_error(body, "b.cn forward=reg\n", "fwd.list", 1, "no pool named 'reg'");
#undef FPOOLS
}

/* zones_dir: one mapping or a list; `forward: POOL` makes each matching file name a zone
 * forwarded to POOL, its contents not read. */
static void test_forward_zones_dir(void **state)
{
	(void)state;
	char d1[128], d2[128], f[200], yp[128], lp[128], err[600], body[768], want[400];
	snprintf(d1, sizeof(d1), "%s/zd1", tmpdir);
	snprintf(d2, sizeof(d2), "%s/zd2", tmpdir);
	snprintf(yp, sizeof(yp), "%s/zd.yaml", tmpdir);
	snprintf(lp, sizeof(lp), "%s/fwd.list", tmpdir);
	(void)mkdir(d1, 0700);
	(void)mkdir(d2, 0700);
	snprintf(f, sizeof(f), "%s/a.cn.zone", d1);
	write_file(f, "$ORIGIN a.cn.\n"); /* served: a master file */
	snprintf(f, sizeof(f), "%s/b.cn.fwd", d2);
	write_file(f, ""); /* forwarded: an empty marker */
	snprintf(f, sizeof(f), "%s/c.cn.fwd", d2);
	write_file(f, "not a zone file: never read\n");
#define ZPOOLS "pools:\n  - {name: reg, backends: [\"127.0.0.1:53\"]}\n"
	snprintf(body, sizeof(body),
	         LISTEN "zones_dir:\n  - {path: zd1}\n  - {path: zd2, pattern: \"%%s.fwd\", "
	                "forward: reg}\n" ZPOOLS);
	write_file(yp, body);
	gk_config_t *cfg = NULL;
	if (gk_daemon_config_load(yp, &cfg, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(cfg->n_zdirs, 2);
	assert_null(cfg->zdirs[0].forward);
	assert_string_equal(cfg->zdirs[1].forward, "reg");
	assert_int_equal(cfg->n_zones, 1); /* a.cn only is served from a file */
	assert_string_equal(cfg->zones[0].name, "a.cn");
	const gk_front_conf_t *fc = cfg->front;
	assert_int_equal(fc->n_zones, 2);
	assert_string_equal(fc->zones[0].name, "b.cn");
	snprintf(want, sizeof(want), "%s/b.cn.fwd", d2);
	assert_string_equal(fc->zones[0].file, want);
	assert_int_equal(fc->zones[0].line, 0);
	assert_ptr_equal(gk_front_conf_lookup(fc, "www.c.cn"), &fc->pools[0]);
	gk_config_t *same = NULL; /* a reload reads the directory again */
	assert_int_equal(
	    gk_daemon_config_load_flags(yp, GK_CONFIG_NO_ZONE_LISTS, &same, err, sizeof(err)), 0);
	assert_false(gk_daemon_config_zones_same(cfg, same));
	gk_daemon_config_free(same);
	gk_daemon_config_free(cfg);

	/* the single mapping as before, with forward */
	snprintf(body, sizeof(body),
	         LISTEN "zones_dir: {path: zd2, pattern: \"%%s.fwd\", forward: reg}\n" ZPOOLS);
	cfg = load_ok(body);
	assert_int_equal(cfg->n_zdirs, 1);
	assert_int_equal(cfg->n_zones, 0);
	assert_int_equal(cfg->front->n_zones, 2);
	gk_daemon_config_free(cfg);

	/* errors: an unknown pool names the mapping's line; a zone named twice names both
	 * places (a directory's file has no line) */
	expect_error(LISTEN "zones_dir: [{path: zd2, pattern: \"%s.fwd\", forward: nope}]\n" ZPOOLS,
	             GK_ECONFIG, 2, "zones_dir.forward: no pool named 'nope' in pools");
	expect_error(LISTEN "zones_dir: {path: zd2, forward: \"\"}\n" ZPOOLS, GK_ECONFIG, 2,
	             "zones_dir.forward: expected a non-empty string");
	expect_error(LISTEN "zones_dir: []\n" ZPOOLS, GK_ECONFIG, 2, "zones_dir: an empty list");
	expect_error(LISTEN "zones_dir: [{path: zd2, fwd: reg}]\n" ZPOOLS, GK_ECONFIG, 2,
	             "unknown key 'fwd' (expected path, pattern, forward)");
	snprintf(body, sizeof(body),
	         LISTEN "zone_list: fwd.list\n"
	                "zones_dir: {path: zd2, pattern: \"%%s.fwd\", forward: reg}\n" ZPOOLS);
	write_file(yp, body);
	write_file(lp, "x.cn forward=reg\nb.cn forward=reg\n");
	assert_int_equal(gk_daemon_config_load(yp, &cfg, err, sizeof(err)), GK_ECONFIG);
	snprintf(want, sizeof(want),
	         "%s/b.cn.fwd: zones: 'b.cn' is forwarded twice (first at %s:2)", d2, lp);
	if (strstr(err, want) != err)
		fail_msg("want '%s', got '%s'", want, err);
	/* forwarded from the directory and served from a file elsewhere */
	write_file(lp, "b.cn b.zone\n");
	assert_int_equal(gk_daemon_config_load(yp, &cfg, err, sizeof(err)), GK_ECONFIG);
	snprintf(want, sizeof(want),
	         "%s/b.cn.fwd: zones: 'b.cn' is forwarded and also served from a file or by "
	         "transfer (at %s:1;",
	         d2, lp);
	if (strstr(err, want) != err)
		fail_msg("want '%s', got '%s'", want, err);
	snprintf(f, sizeof(f), "%s/b.cn.fwd", d2);
	unlink(f);
	snprintf(f, sizeof(f), "%s/c.cn.fwd", d2);
	unlink(f);
	snprintf(f, sizeof(f), "%s/a.cn.zone", d1);
	unlink(f);
	rmdir(d1);
	rmdir(d2);
#undef ZPOOLS
}

/* pools: and zones with forward: (src/front/conf.h). */
static void test_forward_pools(void **state)
{
	(void)state;
	gk_config_t *cfg = load_ok(
	    LISTEN "zones:\n  - {name: a.cn, file: a.zone}\n  - {name: b.cn, forward: reg}\n"
	           "  - {name: x.b.cn., forward: two}\n"
	           "pools:\n  - name: reg\n    backends: [\"127.0.0.1:5300\", {address: "
	           "\"[::1]:5301\", weight: 3}]\n"
	           "  - name: two\n    backends: [\"127.0.0.2:53\"]\n    timeout_ms: 250\n"
	           "    retries: 2\n    max_outstanding: 10\n    cache_size: 0\n    tc: pass\n"
	           "    no_backend: servfail\n"
	           "    check: {name: x.b.cn, interval_ms: 500, down_after: 1, up_after: 4}\n");
	assert_int_equal(cfg->n_zones, 1);
	const gk_front_conf_t *fc = cfg->front;
	assert_non_null(fc);
	assert_int_equal(fc->n_pools, 2);
	assert_int_equal(fc->n_zones, 2);
	const gk_front_pool_conf_t *p = &fc->pools[0];
	assert_string_equal(p->name, "reg");
	assert_int_equal(p->n_backends, 2);
	assert_int_equal(p->backends[0].weight, 1);
	assert_int_equal(p->backends[1].weight, 3);
	assert_int_equal(p->backends[1].addr.ss_family, AF_INET6);
	assert_string_equal(p->backends[1].name, "[::1]:5301");
	assert_int_equal(p->timeout_ms, GK_FRONT_TIMEOUT_DEFAULT);
	assert_int_equal(p->retries, GK_FRONT_RETRIES_DEFAULT);
	assert_int_equal(p->cache_size, GK_FRONT_CACHE_DEFAULT);
	assert_int_equal(p->tc, GK_FRONT_TC_RETRY_TCP);
	assert_null(p->check_name);
	p = &fc->pools[1];
	assert_int_equal(p->timeout_ms, 250);
	assert_int_equal(p->retries, 2);
	assert_int_equal(p->health.max_outstanding, 10);
	assert_int_equal(p->health.down_after, 1);
	assert_int_equal(p->health.up_after, 4);
	assert_int_equal(p->check_interval_ms, 500);
	assert_string_equal(p->check_name, "x.b.cn");
	assert_int_equal(p->cache_size, 0);
	assert_int_equal(p->tc, GK_FRONT_TC_PASS);
	assert_ptr_equal(gk_front_conf_lookup(fc, "www.B.cn"), &fc->pools[0]);
	assert_ptr_equal(gk_front_conf_lookup(fc, "b.cn."), &fc->pools[0]);
	assert_ptr_equal(gk_front_conf_lookup(fc, "y.x.b.cn"), &fc->pools[1]);
	assert_ptr_equal(gk_front_conf_lookup(fc, "x.b.cn"), &fc->pools[1]);
	assert_null(gk_front_conf_lookup(fc, "ab.cn"));
	assert_null(gk_front_conf_lookup(fc, "a.cn"));
	gk_daemon_config_free(cfg);

	/* forwarded zones alone are enough */
	cfg = load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                     "pools:\n  - {name: reg, backends: [\"127.0.0.1:53\"]}\n");
	assert_int_equal(cfg->n_zones, 0);
	gk_daemon_config_free(cfg);

#define POOL "pools:\n  - name: reg\n    backends: [\"127.0.0.1:53\"]\n"
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: nope}\n" POOL, GK_ECONFIG, 3,
	             "no pool named 'nope'");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg, file: b.zone}\n" POOL,
	             GK_ECONFIG, 3, "both 'file' and 'forward'");
	expect_error(LISTEN "zones:\n  - {name: b.cn, file: b.zone}\n  - {name: B.cn., forward: "
	                    "reg}\n" POOL,
	             GK_ECONFIG, 4, "also served from a file");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n  - {name: B.cn, forward: "
	                    "reg}\n" POOL,
	             GK_ECONFIG, 4, "forwarded twice (first at line 3)");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    tc: maybe\n",
	             GK_ECONFIG, 7, "not one of retry-tcp, pass");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    timeout_ms: 5\n",
	             GK_ECONFIG, 7, "out of range 100..60000");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    no_backend: x\n",
	             GK_ECONFIG, 7, "not servfail");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    colour: red\n",
	             GK_ECONFIG, 7, "unknown key 'colour'");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                    "    check: {interval_ms: 100}\n",
	             GK_ECONFIG, 7, "missing required key 'name'");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                    "  - name: reg\n    backends: [\"127.0.0.2:53\"]\n",
	             GK_ECONFIG, 7, "'reg' is defined twice (first at line 5)");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                    "pools:\n  - name: reg\n    backends: [\"localhost:53\"]\n",
	             GK_ECONFIG, 6, "not \"IPv4:PORT\"");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                    "pools:\n  - name: reg\n    backends: []\n",
	             GK_ECONFIG, 6, "0 backends");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                    "pools:\n  - name: reg\n    backends: [\"127.0.0.1:53\", "
	                    "\"127.0.0.1:53\"]\n",
	             GK_ECONFIG, 6, "listed twice");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                    "pools:\n  - backends: [\"127.0.0.1:53\"]\n",
	             GK_ECONFIG, 5, "has no 'name'");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                    "pools:\n  - name: reg\n    backends: [{address: \"127.0.0.1:53\", "
	                    "weight: 0}]\n",
	             GK_ECONFIG, 6, "out of range 1..1000");
	/* the pools section is walked as the rest of the config: a key twice, a quoted number */
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n"
	                    "pools:\n  - name: reg\n    name: other\n"
	                    "    backends: [\"127.0.0.1:53\"]\n",
	             GK_ECONFIG, 6, "pools: duplicate key 'name' (first at line 5)");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    retries: \"2\"\n",
	             GK_ECONFIG, 7, "pools.retries: expected an integer, got a quoted string");
	/* EDNS Client Subnet: off unless given; prefix lengths in range */
	cfg =
	    load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    ecs: {ipv4: 20}\n");
	assert_true(cfg->front->pools[0].ecs);
	assert_int_equal(cfg->front->pools[0].ecs_v4, 20);
	assert_int_equal(cfg->front->pools[0].ecs_v6, 56);
	gk_daemon_config_free(cfg);
	cfg = load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL);
	assert_false(cfg->front->pools[0].ecs);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                    "    ecs: {ipv6: 129}\n",
	             GK_ECONFIG, 7, "out of range 0..128");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    ecs: {v4: 1}\n",
	             GK_ECONFIG, 7, "unknown key 'v4'");
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    ecs: 24\n",
	             GK_ECONFIG, 7, "expected {ipv4, ipv6, client}");
	/* a client's own ECS option: kept unless told (dnsdist's ecsOverride false) */
	cfg =
	    load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL "    ecs: {ipv4: 24}\n");
	assert_int_equal(cfg->front->pools[0].ecs_client, GK_FRONT_ECS_KEEP);
	gk_daemon_config_free(cfg);
	cfg = load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                     "    ecs: {ipv4: 24, client: replace}\n");
	assert_int_equal(cfg->front->pools[0].ecs_client, GK_FRONT_ECS_REPLACE);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                    "    ecs: {client: override}\n",
	             GK_ECONFIG, 7, "pools.ecs.client: 'override' is not one of keep, replace");
	/* PROXY v2 to the backends: off unless given */
	cfg = load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                     "    proxy_protocol: true\n");
	assert_true(cfg->front->pools[0].proxy);
	gk_daemon_config_free(cfg);
	cfg = load_ok(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL);
	assert_false(cfg->front->pools[0].proxy);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN "zones:\n  - {name: b.cn, forward: reg}\n" POOL
	                    "    proxy_protocol: maybe\n",
	             GK_ECONFIG, 7, "not true or false");
	expect_error(LISTEN "zones:\n  - {name: b..cn, forward: reg}\n" POOL, GK_ECONFIG, 3,
	             "not a domain name");
#undef POOL
}

static void test_filing_defaults(void **state)
{
	(void)state;
	gk_config_t *cfg = load_ok(LISTEN ZONES);
	assert_false(cfg->redis.set);
	assert_false(cfg->filing.enforce); /* no redis: no check */
	gk_daemon_config_free(cfg);
	cfg = load_ok(LISTEN ZONES "redis:\n  address: \"127.0.0.1:6379\"\n");
	assert_true(cfg->redis.set);
	assert_string_equal(cfg->redis.host, "127.0.0.1");
	assert_int_equal(cfg->redis.port, 6379);
	assert_null(cfg->redis.unix_path);
	assert_null(cfg->redis.instance_id);
	assert_int_equal(cfg->redis.connect_timeout_ms, 1000);
	assert_int_equal(cfg->redis.reconnect_max_ms, 5000);
	assert_true(cfg->filing.enforce);
	assert_int_equal(cfg->filing.startup, GK_STARTUP_REFUSE);
	assert_int_equal(cfg->filing.stale_after_ms, 30000);
	assert_int_equal(cfg->filing.max_age_ms, 0); /* no hard bound: last-known-good stays */
	assert_null(cfg->filing.psl_file);
	assert_int_equal(cfg->filing.unfiled.action, GK_ACT_REFUSE);
	assert_int_equal(cfg->filing.unfiled.ede_code, 15);
	assert_memory_equal(cfg->filing.unfiled.text, "ICP filing required", 19);
	assert_int_equal(cfg->filing.unfiled.text_len, 19);
	assert_int_equal(cfg->filing.revoked.action, GK_ACT_NXDOMAIN);
	assert_memory_equal(cfg->filing.revoked.text, "ICP filing revoked", 18);
	assert_int_equal(cfg->filing.unknown.action, GK_ACT_REFUSE);
	assert_int_equal(cfg->filing.no_registrable.action, GK_ACT_RESOLVE);
	assert_memory_equal(cfg->filing.unknown.text, "ICP filing status unavailable", 29);
	gk_daemon_config_free(cfg);
}

static void test_filing_keys(void **state)
{
	(void)state;
	gk_config_t *cfg = load_ok(
	    LISTEN ZONES "redis:\n  address: \"[::1]:6380\"\n  instance_id: gk-a\n"
	                 "  connect_timeout_ms: 250\n  reconnect_max_ms: 2000\n"
	                 "filing:\n  enforce: true\n  startup: resolve\n  max_age_ms: 5000\n"
	                 "  stale_after_ms: 2000\n"
	                 "  psl_file: psl.dat\n"
	                 "  unfiled: { action: nodata, ede: 18, text: \"未备案\" }\n"
	                 "  revoked: { action: drop }\n"
	                 "  unknown: { action: resolve, ede: 17 }\n"
	                 "  no_registrable: { action: nxdomain }\n");
	assert_string_equal(cfg->redis.host, "::1");
	assert_int_equal(cfg->redis.port, 6380);
	assert_string_equal(cfg->redis.instance_id, "gk-a");
	assert_int_equal(cfg->redis.connect_timeout_ms, 250);
	assert_int_equal(cfg->redis.reconnect_max_ms, 2000);
	assert_int_equal(cfg->filing.startup, GK_STARTUP_RESOLVE);
	assert_int_equal(cfg->filing.max_age_ms, 5000);
	assert_int_equal(cfg->filing.stale_after_ms, 2000);
	char want[160];
	snprintf(want, sizeof(want), "%s/psl.dat", tmpdir);
	assert_string_equal(cfg->filing.psl_file, want);
	assert_int_equal(cfg->filing.unfiled.action, GK_ACT_NODATA);
	assert_int_equal(cfg->filing.unfiled.ede_code, 18);
	assert_int_equal(cfg->filing.unfiled.text_len, strlen("未备案"));
	assert_int_equal(cfg->filing.revoked.action, GK_ACT_DROP);
	assert_int_equal(cfg->filing.revoked.ede_code, 15);
	assert_int_equal(cfg->filing.unknown.action, GK_ACT_RESOLVE);
	assert_int_equal(cfg->filing.unknown.ede_code, 17);
	assert_int_equal(cfg->filing.no_registrable.action, GK_ACT_NXDOMAIN);
	assert_int_equal(cfg->filing.no_registrable.ede_code, 15);
	gk_daemon_config_free(cfg);
	cfg = load_ok(LISTEN ZONES "redis:\n  address: unix:/run/redis.sock\n"
	                           "filing:\n  enforce: false\n  max_age_ms: none\n");
	assert_string_equal(cfg->redis.unix_path, "/run/redis.sock");
	assert_false(cfg->filing.enforce);
	assert_int_equal(cfg->filing.max_age_ms, 0);
	gk_daemon_config_free(cfg);
	cfg = load_ok(LISTEN ZONES "redis:\n  address: unix:/run/redis.sock\n"
	                           "filing:\n  max_age_ms: 86400000\n");
	assert_int_equal(cfg->filing.max_age_ms, 86400000);
	gk_daemon_config_free(cfg);
}

/* redis.user and redis.password_file: the password is read at load (first line), relative
 * to the config; a missing file, a user without a password or a bad name fails with the
 * line. */
static void test_redis_auth(void **state)
{
	(void)state;
	char pw[160], body[512];
	unsetenv(GK_REDIS_PASSWORD_ENV);
	snprintf(pw, sizeof(pw), "%s/gk.pw", tmpdir);
	write_file(pw, "s3cret\n");
	gk_config_t *cfg = load_ok(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n"
	                                        "  user: gatekeeperd\n  password_file: gk.pw\n");
	assert_string_equal(cfg->redis.user, "gatekeeperd");
	assert_string_equal(cfg->redis.password_file, pw);
	assert_non_null(cfg->redis.auth);
	assert_string_equal(cfg->redis.auth->user, "gatekeeperd");
	assert_string_equal(cfg->redis.auth->password, "s3cret");
	gk_daemon_config_free(cfg);
	/* no user, no password: no AUTH */
	cfg = load_ok(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n");
	assert_null(cfg->redis.auth);
	gk_daemon_config_free(cfg);
	/* the environment stands in for the file */
	setenv(GK_REDIS_PASSWORD_ENV, "env-pw", 1);
	cfg = load_ok(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  user: gatekeeperd\n");
	assert_string_equal(cfg->redis.auth->password, "env-pw");
	gk_daemon_config_free(cfg);
	unsetenv(GK_REDIS_PASSWORD_ENV);
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  user: gatekeeperd\n",
	             GK_ECONFIG, 7, "needs a password");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  user: gatekeeperd\n"
	                          "  password_file: none.pw\n",
	             GK_ECONFIG, 8, "none.pw");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  user: \"a b\"\n",
	             GK_ECONFIG, 7, "redis.user");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  password_file: \"\"\n",
	             GK_ECONFIG, 7, "redis.password_file");
	/* gkctl reads the daemon's config without its secrets: no file needed, no auth */
	char path[160], err[512];
	snprintf(path, sizeof(path), "%s/nosecret.yaml", tmpdir);
	write_file(path, LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  user: gatekeeperd\n"
	                              "  password_file: none.pw\n");
	assert_int_equal(
	    gk_daemon_config_load_flags(path, GK_CONFIG_NO_SECRETS, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->redis.auth);
	assert_string_equal(cfg->redis.user, "gatekeeperd");
	gk_daemon_config_free(cfg);
	snprintf(body, sizeof(body), "%s/empty.pw", tmpdir);
	write_file(body, "\n");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  user: u\n"
	                          "  password_file: empty.pw\n",
	             GK_ECONFIG, 8, "empty");
}

/* redis.sentinel_user and redis.sentinel_password_file: read at load into the sentinel
 * list (and the primary's, with primary: sentinel), relative to the config; without
 * sentinels, or with a missing file, the load fails with the line. */
static void test_redis_sentinel_auth(void **state)
{
	(void)state;
	char pw[160];
	unsetenv(GK_REDIS_SENTINEL_PASSWORD_ENV);
	snprintf(pw, sizeof(pw), "%s/sentinel.pw", tmpdir);
	write_file(pw, "sentinel-s3cret\n");
	gk_config_t *cfg = load_ok(LISTEN ZONES "redis:\n  sentinels: [\"127.0.0.1:26379\"]\n"
	                                        "  master_name: gk\n  primary: sentinel\n"
	                                        "  sentinel_user: gk-sentinel\n"
	                                        "  sentinel_password_file: sentinel.pw\n");
	assert_string_equal(cfg->redis.sentinel->user, "gk-sentinel");
	assert_string_equal(cfg->redis.sentinel->password, "sentinel-s3cret");
	assert_string_equal(cfg->redis.primary->sentinel.password, "sentinel-s3cret");
	assert_null(cfg->redis.auth); /* the data user is another matter */
	gk_daemon_config_free(cfg);
	/* a requirepass sentinel: the password alone, from the environment */
	setenv(GK_REDIS_SENTINEL_PASSWORD_ENV, "env-spw", 1);
	cfg = load_ok(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n"
	                           "  sentinels: [\"127.0.0.1:26379\"]\n  master_name: gk\n"
	                           "  primary: sentinel\n");
	assert_string_equal(cfg->redis.primary->sentinel.user, "");
	assert_string_equal(cfg->redis.primary->sentinel.password, "env-spw");
	gk_daemon_config_free(cfg);
	unsetenv(GK_REDIS_SENTINEL_PASSWORD_ENV);
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n"
	                          "  sentinel_password_file: sentinel.pw\n",
	             GK_ECONFIG, 7, "no redis.sentinels");
	expect_error(LISTEN ZONES
	             "redis:\n  sentinels: [\"127.0.0.1:2\"]\n  master_name: gk\n"
	             "  sentinel_user: gk-sentinel\n  sentinel_password_file: none.pw\n",
	             GK_ECONFIG, 9, "none.pw");
	expect_error(LISTEN ZONES "redis:\n  sentinels: [\"127.0.0.1:2\"]\n  master_name: gk\n"
	                          "  sentinel_user: gk-sentinel\n",
	             GK_ECONFIG, 8, "no password");
}

static void test_filing_errors(void **state)
{
	(void)state;
	expect_error(LISTEN ZONES "redis:\n  address: localhost\n", GK_ECONFIG, 6, "redis.address");
	expect_error(LISTEN ZONES "redis:\n  address: unix:rel\n", GK_ECONFIG, 6, "unix:/");
	expect_error(LISTEN ZONES "redis:\n  instance_id: x\n", GK_ECONFIG, 6,
	             "missing required key 'address'");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  port: 3\n", GK_ECONFIG, 7,
	             "unknown key 'port'");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  connect_timeout_ms: 1\n",
	             GK_ECONFIG, 7, "out of range");
	expect_error(LISTEN ZONES "filing:\n  enforce: true\n", GK_ECONFIG, 6, "needs a redis");
	expect_error(LISTEN ZONES "filing:\n  enforce: maybe\n", GK_ECONFIG, 6, "true or false");
	expect_error(LISTEN ZONES "filing:\n  startup: later\n", GK_ECONFIG, 6, "filing.startup");
	expect_error(LISTEN ZONES "filing:\n  unfiled:\n    action: resolve\n", GK_ECONFIG, 7,
	             "filing.unfiled.action");
	expect_error(LISTEN ZONES "filing:\n  revoked: { action: redirect }\n", GK_ECONFIG, 6,
	             "filing.revoked.action");
	expect_error(LISTEN ZONES "filing:\n  unknown: { ede: 70000 }\n", GK_ECONFIG, 6,
	             "filing.unknown.ede");
	expect_error(LISTEN ZONES
	             "filing:\n  unfiled:\n    text: "
	             "\"0123456789012345678901234567890123456789012345678901234567890123456789\"\n",
	             GK_ECONFIG, 7, "at most 64");
	expect_error(LISTEN ZONES "filing:\n  unfiled: { colour: red }\n", GK_ECONFIG, 6,
	             "unknown key 'colour'");
	expect_error(LISTEN ZONES "filing:\n  max_age_ms: 10\n", GK_ECONFIG, 6,
	             "filing.max_age_ms: 10 is out of range (none, 0 or 1500..");
	expect_error(LISTEN ZONES "filing:\n  max_age_ms: forever\n", GK_ECONFIG, 6,
	             "filing.max_age_ms: expected an integer");
	expect_error(LISTEN ZONES "filing:\n  max_age_ms: 2592000001\n", GK_ECONFIG, 6,
	             "out of range");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\nfiling:\n  startup: refuse\n"
	                          "  stale_after_ms: 1000\n",
	             GK_ECONFIG, 9, "filing.stale_after_ms: 1000 is out of range 1500..");
}

/* redis.sentinels + master_name instead of address; redis.primary */
static void test_redis_sentinel(void **state)
{
	(void)state;
	char path[160], err[512];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/sentinel.yaml", tmpdir);
	write_file(path,
	           LISTEN ZONES "redis:\n  sentinels: [\"127.0.0.1:26379\", \"[::1]:26380\"]\n"
	                        "  master_name: gk\n  primary: sentinel\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_non_null(cfg->redis.sentinel);
	assert_int_equal(cfg->redis.sentinel->n, 2);
	assert_int_equal(cfg->redis.sentinel->addr[1].port, 26380);
	assert_string_equal(cfg->redis.sentinel->master, "gk");
	assert_string_equal(cfg->redis.address, "sentinel:gk");
	assert_non_null(cfg->redis.primary);
	assert_int_equal(cfg->redis.primary->sentinel.n, 2);
	gk_daemon_config_free(cfg);
	/* a replica read, the primary written by address */
	write_file(path, LISTEN ZONES "redis:\n  address: \"127.0.0.1:6380\"\n"
	                              "  primary: \"127.0.0.1:6379\"\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->redis.sentinel);
	assert_int_equal(cfg->redis.primary->addr.port, 6379);
	assert_int_equal(cfg->redis.primary->sentinel.n, 0);
	gk_daemon_config_free(cfg);
	/* the replica read by address, the primary found through the sentinels */
	write_file(path, LISTEN ZONES "redis:\n  address: \"127.0.0.1:6380\"\n"
	                              "  sentinels: [\"127.0.0.1:26379\"]\n  master_name: gk\n"
	                              "  primary: sentinel\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->redis.sentinel);
	assert_int_equal(cfg->redis.port, 6380);
	assert_int_equal(cfg->redis.primary->sentinel.n, 1);
	assert_string_equal(cfg->redis.primary->sentinel.master, "gk");
	gk_daemon_config_free(cfg);
	/* without primary: everything to address, as before */
	write_file(path, LISTEN ZONES "redis: {address: \"127.0.0.1:6380\"}\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_null(cfg->redis.primary);
	gk_daemon_config_free(cfg);
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  sentinels: "
	                          "[\"127.0.0.1:2\"]\n  master_name: gk\n",
	             GK_ECONFIG, 7, "mutually exclusive");
	expect_error(LISTEN ZONES "redis:\n  sentinels: [\"127.0.0.1:2\"]\n", GK_ECONFIG, 6,
	             "needs redis.master_name");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  master_name: gk\n",
	             GK_ECONFIG, 7, "needs redis.sentinels");
	expect_error(LISTEN ZONES "redis:\n  sentinels: [\"127.0.0.1:2\", \"localhost:3\"]\n"
	                          "  master_name: gk\n",
	             GK_ECONFIG, 6, "the host must be an IP address");
	expect_error(LISTEN ZONES "redis:\n  sentinels: []\n  master_name: gk\n", GK_ECONFIG, 6,
	             "at least one");
	expect_error(LISTEN ZONES "redis:\n  sentinels: \"127.0.0.1:2\"\n  master_name: gk\n",
	             GK_ECONFIG, 6, "expected a list");
	expect_error(LISTEN ZONES
	             "redis:\n  sentinels: [\"127.0.0.1:2\"]\n  master_name: \"a b\"\n",
	             GK_ECONFIG, 7, "spaces");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  primary: sentinel\n",
	             GK_ECONFIG, 7, "'sentinel' needs redis.sentinels");
	expect_error(LISTEN ZONES "redis:\n  address: \"127.0.0.1:1\"\n  primary: nowhere\n",
	             GK_ECONFIG, 7, "redis.primary");
	expect_error(LISTEN ZONES "redis:\n  user: gatekeeperd\n", GK_ECONFIG, 6,
	             "missing required key 'address'");
}

/* chroot: every later path must be inside (the zone's own line named); once chrooted the
 * loader reads DIR/x as /x. Last in the list: gk_chroot_set lasts for the process. */
static void test_chroot(void **state)
{
	(void)state;
	char path[160], body[512], err[512];
	gk_config_t *cfg = NULL;
	snprintf(path, sizeof(path), "%s/chroot.yaml", tmpdir);
	snprintf(body, sizeof(body), LISTEN ZONES "chroot: %s/\n", tmpdir);
	write_file(path, body);
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->chroot, tmpdir);
	gk_daemon_config_free(cfg);
	snprintf(body, sizeof(body),
	         LISTEN "zones:\n  - name: example.cn\n    file: a.zone\n"
	                "  - name: example.com\n    file: /etc/gk-outside.zone\nchroot: %s\n",
	         tmpdir);
	expect_error(body, GK_ECONFIG, 5, "zone file /etc/gk-outside.zone is outside chroot");
	snprintf(body, sizeof(body), LISTEN ZONES "zone_list: /etc/gk.list\nchroot: %s\n", tmpdir);
	expect_error(body, GK_ECONFIG, 6, "zone_list /etc/gk.list is outside chroot");
	snprintf(body, sizeof(body), LISTEN ZONES "chroot: %sx\n", tmpdir); /* a sibling */
	expect_error(body, GK_ECONFIG, 5, "is not a directory");
	expect_error(LISTEN ZONES "chroot: var/gk\n", GK_ECONFIG, 5, "not an absolute path");
	expect_error(LISTEN ZONES "chroot: [a]\n", GK_ECONFIG, 5, "chroot: expected a string");

	/* chrooted at tmpdir: the config as found inside, its paths stripped */
	snprintf(body, sizeof(body),
	         LISTEN "zones:\n  - name: example.cn\n    file: %s/z/a.zone\n"
	                "zone_list: %s/l.list\nchroot: %s\n",
	         tmpdir, tmpdir, tmpdir);
	write_file(path, body);
	char lp[160];
	snprintf(lp, sizeof(lp), "%s/l.list", tmpdir);
	write_file(lp, "example.net n.zone\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	/* a list entry's name sits behind its file path in one allocation (16 bytes a zone) */
	assert_int_equal(cfg->n_zones, 2);
	assert_ptr_equal(cfg->zones[1].name, cfg->zones[1].file + strlen(cfg->zones[1].file) + 1);
	gk_chroot_set(tmpdir);
	gk_daemon_config_chroot_strip(cfg);
	assert_string_equal(cfg->zones[1].name, "example.net");
	assert_string_equal(cfg->zones[1].file, "/n.zone");
	assert_string_equal(cfg->path, "/chroot.yaml");
	assert_string_equal(cfg->zones[0].file, "/z/a.zone");
	assert_string_equal(cfg->zone_list, "/l.list");
	gk_daemon_config_free(cfg);
	assert_string_equal(gk_chroot_strip(tmpdir), "/");
	assert_string_equal(gk_chroot_strip("/etc/x"), "/etc/x");
	/* a list entry written DIR/x is read as /x (the list itself under / is absent here) */
	snprintf(lp, sizeof(lp), "%s/z/a.zone", tmpdir);
	assert_string_equal(gk_chroot_strip(lp), "/z/a.zone");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_all_keys),
	    cmocka_unit_test(test_relative_paths),
	    cmocka_unit_test(test_missing_file),
	    cmocka_unit_test(test_errors_top),
	    cmocka_unit_test(test_errors_numbers),
	    cmocka_unit_test(test_errors_depth),
	    cmocka_unit_test(test_errors_listen),
	    cmocka_unit_test(test_policy_section),
	    cmocka_unit_test(test_errors_zones),
	    cmocka_unit_test(test_rate_limit_section),
	    cmocka_unit_test(test_user_group),
	    cmocka_unit_test(test_proxy_protocol),
	    cmocka_unit_test(test_tls),
	    cmocka_unit_test(test_discovery_section),
	    cmocka_unit_test(test_forward_pools),
	    cmocka_unit_test(test_forward_zone_list),
	    cmocka_unit_test(test_forward_zones_dir),
	    cmocka_unit_test(test_filing_defaults),
	    cmocka_unit_test(test_filing_keys),
	    cmocka_unit_test(test_filing_errors),
	    cmocka_unit_test(test_redis_auth),
	    cmocka_unit_test(test_redis_sentinel_auth),
	    cmocka_unit_test(test_redis_sentinel),
	    cmocka_unit_test(test_chroot), /* last: it chroots the process's paths */
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
