/* SPDX-License-Identifier: MIT */
/* tests/unit/xfr/test_conf.c -- the `secondary:` config section: keys (inline and from a
 * file only the server may read), templates, primaries with and without port or key, IPv6,
 * and every error naming FILE:LINE; templates that forward catalog members to a pool.
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
#include <sys/stat.h>
#include <unistd.h>
#include "daemon/config.h"
#include "front/conf.h"
#include "xfr/conf.h"
#include "tmpdir.h" /* tests/unit/tmpdir.h */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_make(tmpdir, sizeof(tmpdir), "xfrconf");
}

static int remove_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_remove(tmpdir);
}

static void write_file(const char *name, const char *body, mode_t mode)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
	chmod(path, mode);
}

#define HEAD "listen: [\"127.0.0.1:5300\"]\n"

static gk_config_t *load(const char *body, char *err, size_t errlen, int *rc)
{
	char path[128];
	write_file("c.yaml", body, 0644);
	snprintf(path, sizeof(path), "%s/c.yaml", tmpdir);
	gk_config_t *cfg = NULL;
	*rc = gk_daemon_config_load(path, &cfg, err, errlen);
	return cfg;
}

static void expect_error(const char *body, size_t line, const char *needle)
{
	char err[512], want[160];
	int rc;
	gk_config_t *cfg = load(body, err, sizeof err, &rc);
	snprintf(want, sizeof(want), "%s/c.yaml:%zu: ", tmpdir, line);
	if (rc == 0 || strncmp(err, want, strlen(want)) != 0 || strstr(err, needle) == NULL)
		fail_msg("body:\n%s\nwant '%s...%s', got rc %d '%s'", body, want, needle, rc,
		         rc ? err : "");
	assert_null(cfg);
}

static void test_good(void **state)
{
	(void)state;
	write_file("k.secret", "b2xkLXNoYTEta2V5\n", 0600);
	char err[512];
	int rc;
	gk_config_t *cfg =
	    load(HEAD "secondary:\n"
	              "  directory: sec\n"
	              "  timeout_ms: 2000\n"
	              "  max_transfers: 3\n"
	              "  tsig_keys:\n"
	              "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	              "    - {name: k2., algorithm: hmac-sha1, secret_file: k.secret}\n"
	              "  templates:\n"
	              "    - id: reg\n"
	              "      primaries: [{address: \"192.0.2.1:5353\", key: k1}, "
	              "\"192.0.2.2\"]\n"
	              "  zones:\n"
	              "    - {name: a.cn, template: reg}\n"
	              "    - {name: b.cn, primaries: [\"[::1]:53\", "
	              "{address: \"2001:db8::2\", key: k2}]}\n",
	         err, sizeof err, &rc);
	if (!cfg)
		fail_msg("%s", err);
	const gk_xfr_conf_t *x = cfg->secondary;
	assert_non_null(x);
	assert_int_equal(cfg->n_zones, 0);
	char want[128];
	snprintf(want, sizeof want, "%s/sec", tmpdir);
	assert_string_equal(x->directory, want);
	assert_int_equal(x->timeout_ms, 2000);
	assert_int_equal(x->max_transfers, 3);
	assert_int_equal(x->n_keys, 2);
	assert_int_equal(x->keys[1].alg, GK_TSIG_HMAC_SHA1);
	assert_int_equal(x->keys[1].secret_len, 12);
	assert_int_equal(x->n_zones, 2);
	assert_string_equal(x->zones[0].name, "a.cn");
	assert_int_equal(x->zones[0].n_primaries, 2);
	const struct sockaddr_in *a = (const void *)&x->zones[0].primaries[0].addr;
	assert_int_equal(ntohs(a->sin_port), 5353);
	assert_ptr_equal(x->zones[0].primaries[0].key, &x->keys[0]);
	a = (const void *)&x->zones[0].primaries[1].addr;
	assert_int_equal(ntohs(a->sin_port), 53);
	assert_null(x->zones[0].primaries[1].key);
	assert_int_equal(x->zones[1].primaries[0].addr.ss_family, AF_INET6);
	assert_ptr_equal(x->zones[1].primaries[1].key, &x->keys[1]);
	assert_false(x->zones[0].catalog);
	gk_daemon_config_free(cfg);
	/* a catalog: its members take member_template's primaries unless a group says */
	cfg = load(HEAD "secondary:\n  directory: sec\n  templates:\n"
	                "    - {id: t1, primaries: [\"192.0.2.1\"]}\n"
	                "    - {id: t2, primaries: [\"192.0.2.2\"]}\n"
	                "  zones:\n"
	                "    - {name: cat.example, template: t1, catalog: true, "
	                "member_template: t2}\n",
	           err, sizeof err, &rc);
	if (!cfg)
		fail_msg("%s", err);
	x = cfg->secondary;
	assert_true(x->zones[0].catalog);
	assert_non_null(x->zones[0].member_template);
	assert_string_equal(x->zones[0].member_template->id, "t2");
	assert_ptr_equal(gk_xfr_conf_template(x, "t1"), &x->templates[0]);
	assert_null(gk_xfr_conf_template(x, "t3"));
	gk_daemon_config_free(cfg);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error(HEAD "secondary:\n  zones: [{name: a.cn, primaries: [\"192.0.2.1\"]}]\n", 3,
	             "missing required key 'directory'");
	expect_error(HEAD "secondary:\n  directory: d\n  bogus: 1\n", 4, "unknown key 'bogus'");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n    - {name: a.cn}\n", 5,
	             "needs one of primaries, template");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, primaries: [\"nowhere\"]}\n",
	             5, "'nowhere' is not ADDRESS");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, primaries: [{address: \"192.0.2.1\", key: nokey}]}\n",
	             5, "no TSIG key 'nokey'");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, template: nope}\n",
	             5, "no template 'nope'");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, primaries: [\"192.0.2.1\"]}\n"
	                  "    - {name: A.cn., primaries: [\"192.0.2.1\"]}\n",
	             6, "duplicate zone");
	expect_error(HEAD "secondary:\n  directory: d\n  tsig_keys:\n"
	                  "    - {name: k, algorithm: hmac-md5, secret: c2VjcmV0}\n",
	             5, "unknown algorithm 'hmac-md5'");
	expect_error(HEAD "secondary:\n  directory: d\n  tsig_keys:\n"
	                  "    - {name: k, algorithm: hmac-sha256, secret: \"not base64!\"}\n",
	             5, "not base64");
	write_file("open.secret", "c2VjcmV0\n", 0644);
	expect_error(HEAD "secondary:\n  directory: d\n  tsig_keys:\n"
	                  "    - {name: k, algorithm: hmac-sha256, secret_file: open.secret}\n",
	             5, "readable by group or others");
	expect_error(HEAD "secondary:\n  directory: d\n  tsig_keys:\n"
	                  "    - {name: k, algorithm: hmac-sha256, secret_file: missing.secret}\n",
	             5, "cannot read");
	expect_error(HEAD "secondary:\n  directory: d\n  timeout_ms: 5\n", 4, "out of range");
	expect_error(HEAD "secondary:\n  directory: d\n  timeout_ms: \"500\"\n", 4,
	             "secondary.timeout_ms: expected an integer, got a quoted string");
	expect_error(HEAD "secondary:\n  directory: d\n  max_zone_bytes: 17179869185\n", 4,
	             "17179869185 is out of range 1024..17179869184");
	expect_error(HEAD "secondary:\n  directory: d\n  directory: e\n", 4,
	             "secondary: duplicate key 'directory' (first at line 3)");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, name: b.cn, primaries: [\"192.0.2.1\"]}\n",
	             5, "secondary.zones: duplicate key 'name'");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, primaries: [{address: 192.0.2.1, port: 53}]}\n",
	             5, "unknown key 'port' (expected address, key)");
	expect_error(HEAD "secondary:\n  directory: d\n", 1, "missing required key 'zones'");
	write_file("f.zone", "@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n", 0644);
	expect_error(HEAD "zones:\n  - {name: a.cn, file: f.zone}\n"
	                  "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: b.cn, primaries: [\"192.0.2.1\"]}\n"
	                  "    - {name: A.CN., primaries: [\"192.0.2.1\"]}\n",
	             8, "also in zones");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, primaries: [\"192.0.2.1\"], catalog: yes}\n",
	             5, "catalog: expected true or false");
	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n"
	                  "    - {id: t, primaries: [\"192.0.2.1\"]}\n  zones:\n"
	                  "    - {name: a.cn, primaries: [\"192.0.2.1\"], member_template: t}\n",
	             7, "member_template without catalog: true");
	expect_error(HEAD "secondary:\n  directory: d\n  zones:\n"
	                  "    - {name: a.cn, primaries: [\"192.0.2.1\"], catalog: true, "
	                  "member_template: nope}\n",
	             5, "no template 'nope'");
}

/* A template with `forward: POOL` instead of primaries: its pool bound once the whole file is
 * read (pools: may come after secondary:), the pools then run with no forwarded zone of the
 * config's own; each misuse is an error naming the line. */
#define FWD_POOLS "pools:\n  - {name: p1, backends: [\"127.0.0.1:5301\"]}\n"

static void test_forward(void **state)
{
	(void)state;
	char err[512];
	int rc;
	gk_config_t *cfg = load(HEAD "secondary:\n  directory: sec\n  templates:\n"
	                             "    - {id: t1, primaries: [\"192.0.2.1\"]}\n"
	                             "    - {id: f, forward: p2}\n"
	                             "  zones:\n"
	                             "    - {name: cat.example, template: t1, catalog: true, "
	                             "member_template: f}\n" FWD_POOLS
	                             "  - {name: p2, backends: [\"127.0.0.1:5302\"]}\n",
	                        err, sizeof err, &rc);
	if (!cfg)
		fail_msg("%s", err);
	const gk_xfr_conf_t *x = cfg->secondary;
	assert_int_equal(x->n_templates, 2);
	assert_null(x->templates[0].forward);
	assert_int_equal(x->templates[0].pool, -1);
	assert_string_equal(x->templates[1].forward, "p2");
	assert_int_equal(x->templates[1].pool, 1);
	assert_int_equal(x->templates[1].n_primaries, 0);
	assert_ptr_equal(x->zones[0].member_template, &x->templates[1]);
	assert_non_null(cfg->front);
	assert_int_equal(cfg->front->n_zones, 0);
	assert_true(cfg->front->member_pools);
	assert_true(gk_front_conf_forwards(cfg->front));
	gk_daemon_config_free(cfg);
	/* a group's template (named by a member's group property) may forward too, without a
	 * member_template: the config loads */
	cfg = load(HEAD "secondary:\n  directory: sec\n  templates:\n"
	                "    - {id: f, forward: p1}\n"
	                "  zones:\n    - {name: cat.example, primaries: [\"192.0.2.1\"], "
	                "catalog: true}\n" FWD_POOLS,
	           err, sizeof err, &rc);
	if (!cfg)
		fail_msg("%s", err);
	assert_int_equal(cfg->secondary->templates[0].pool, 0);
	gk_daemon_config_free(cfg);

	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n"
	                  "    - {id: f, forward: nope}\n"
	                  "  zones:\n    - {name: cat.example, primaries: [\"192.0.2.1\"], "
	                  "catalog: true}\n" FWD_POOLS,
	             5, "secondary.templates: 'f': forward: no pool named 'nope' in pools");
	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n"
	                  "    - {id: f, forward: p1}\n"
	                  "  zones:\n    - {name: cat.example, primaries: [\"192.0.2.1\"], "
	                  "catalog: true}\n",
	             5, "no pool named 'p1'");
	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n"
	                  "    - {id: f, forward: p1, primaries: [\"192.0.2.1\"]}\n" FWD_POOLS,
	             5, "'f' needs one of primaries, forward (a pool of pools:): it has both");
	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n    - {id: f}\n", 5,
	             "'f' needs one of primaries, forward (a pool of pools:): it has neither");
	expect_error(HEAD
	             "secondary:\n  directory: d\n  templates:\n    - {id: f, forward: \"\"}\n",
	             5, "secondary.templates.forward: expected a non-empty string");
	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n"
	                  "    - {id: f, forward: p1, bogus: 1}\n",
	             5, "unknown key 'bogus' (expected id, primaries, forward)");
	/* a catalog's own primaries, or a plain secondary zone's, cannot forward */
	expect_error(HEAD
	             "secondary:\n  directory: d\n  templates:\n"
	             "    - {id: f, forward: p1}\n"
	             "  zones:\n    - {name: cat.example, template: f, catalog: true}\n" FWD_POOLS,
	             7,
	             "'cat.example': template 'f' forwards (forward: p1): a catalog is "
	             "transferred from primaries");
	expect_error(HEAD "secondary:\n  directory: d\n  templates:\n"
	                  "    - {id: f, forward: p1}\n"
	                  "  zones:\n    - {name: a.cn, template: f}\n" FWD_POOLS,
	             7, "a secondary zone is transferred from primaries; only catalog members");
}

/* gk_xfr_conf_equal, which the reload uses to say a restart is needed. */
static void test_equal(void **state)
{
	(void)state;
	char err_cats[512];
	int rc_cats;
	static const char *bodies[] = {
	    /* 0 and 1: the same settings written differently */
	    HEAD
	    "secondary:\n  directory: sec\n  tsig_keys:\n"
	    "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	    "  zones:\n    - {name: a.cn, primaries: [{address: \"192.0.2.1:53\", key: k1}]}\n",
	    HEAD "# a comment moves the lines\nsecondary:\n  directory: sec\n  tsig_keys:\n"
	         "    - {name: k1., algorithm: HMAC-SHA256, secret: c2VjcmV0}\n"
	         "  templates:\n    - {id: t, primaries: [{address: \"192.0.2.1\", key: k1}]}\n"
	         "  zones:\n    - {name: a.cn, template: t}\n",
	    /* each differs from 0 in one setting */
	    HEAD
	    "secondary:\n  directory: sec\n  tsig_keys:\n"
	    "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV1}\n"
	    "  zones:\n    - {name: a.cn, primaries: [{address: \"192.0.2.1:53\", key: k1}]}\n",
	    HEAD
	    "secondary:\n  directory: sec\n  tsig_keys:\n"
	    "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	    "  zones:\n    - {name: a.cn, primaries: [{address: \"192.0.2.1:54\", key: k1}]}\n",
	    HEAD "secondary:\n  directory: sec\n  tsig_keys:\n"
	         "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	         "  zones:\n    - {name: a.cn, primaries: [\"192.0.2.1:53\"]}\n",
	    HEAD "secondary:\n  directory: sec\n  tsig_keys:\n"
	         "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	         "  zones:\n    - {name: a.cn, primaries: [{address: \"192.0.2.1:53\", key: k1}]}\n"
	         "    - {name: b.cn, primaries: [\"192.0.2.1:53\"]}\n",
	    HEAD "secondary:\n  directory: sec\n  tsig_keys:\n"
	         "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	         "  zones:\n    - {name: a.cn, primaries: [{address: \"192.0.2.1:53\", key: k1}], "
	         "catalog: true}\n",
	    HEAD
	    "secondary:\n  directory: sec\n  max_transfers: 2\n  tsig_keys:\n"
	    "    - {name: k1, algorithm: hmac-sha256, secret: c2VjcmV0}\n"
	    "  zones:\n    - {name: a.cn, primaries: [{address: \"192.0.2.1:53\", key: k1}]}\n",
	};
	/* catalogs: a template that forwards to another pool differs */
	static const char *cats[] = {
	    HEAD "secondary:\n  directory: sec\n  templates:\n    - {id: f, forward: p1}\n"
	         "  zones:\n    - {name: c.example, primaries: [\"192.0.2.1\"], catalog: true}\n"
	         "pools:\n  - {name: p1, backends: [\"127.0.0.1:5301\"]}\n"
	         "  - {name: p2, backends: [\"127.0.0.1:5302\"]}\n",
	    HEAD "secondary:\n  directory: sec\n  templates:\n    - {id: f, forward: p2}\n"
	         "  zones:\n    - {name: c.example, primaries: [\"192.0.2.1\"], catalog: true}\n"
	         "pools:\n  - {name: p1, backends: [\"127.0.0.1:5301\"]}\n"
	         "  - {name: p2, backends: [\"127.0.0.1:5302\"]}\n",
	};
	gk_config_t *c0 = load(cats[0], err_cats, sizeof err_cats, &rc_cats);
	gk_config_t *c1 = c0 ? load(cats[1], err_cats, sizeof err_cats, &rc_cats) : NULL;
	if (!c0 || !c1)
		fail_msg("%s", err_cats);
	assert_true(gk_xfr_conf_equal(c0->secondary, c0->secondary));
	assert_false(gk_xfr_conf_equal(c0->secondary, c1->secondary));
	gk_daemon_config_free(c0);
	gk_daemon_config_free(c1);
	enum { N = sizeof(bodies) / sizeof(bodies[0]) };
	gk_config_t *cfg[N];
	char err[512];
	int rc;
	for (size_t i = 0; i < N; i++) {
		cfg[i] = load(bodies[i], err, sizeof err, &rc);
		if (!cfg[i])
			fail_msg("body %zu: %s", i, err);
	}
	assert_true(gk_xfr_conf_equal(cfg[0]->secondary, cfg[0]->secondary));
	assert_true(gk_xfr_conf_equal(cfg[0]->secondary, cfg[1]->secondary));
	for (size_t i = 2; i < N; i++)
		if (gk_xfr_conf_equal(cfg[0]->secondary, cfg[i]->secondary))
			fail_msg("body %zu compares equal to body 0", i);
	assert_true(gk_xfr_conf_equal(NULL, NULL));
	assert_false(gk_xfr_conf_equal(cfg[0]->secondary, NULL));
	assert_false(gk_xfr_conf_equal(NULL, cfg[0]->secondary));
	for (size_t i = 0; i < N; i++)
		gk_daemon_config_free(cfg[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good),
	    cmocka_unit_test(test_errors),
	    cmocka_unit_test(test_forward),
	    cmocka_unit_test(test_equal),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
