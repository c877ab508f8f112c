/* SPDX-License-Identifier: MIT */
/* tests/unit/pkt/test_fzones.c -- the forwarded zones' table (pkt/fzones.h), built from the
 * front end's config (front/conf.h gk_front_conf_fzones) or name by name.
 *
 * The longest forwarded apex above a name wins; a name outside every forwarded zone, or a
 * parent of an apex, finds none; the root forwards everything; names that are not domain
 * names are refused when the table is built. A stack (the config's table and the forwarded
 * catalog members') answers as one table, the first part winning an apex both hold, and
 * keeps its parts alive by reference; the members' table of 100,000 apexes is built and its
 * time printed (the cost of one catalog change that changes forwarded members).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/dname.h"
#include "front/conf.h"
#include "pkt/fzones.h"

static int find(const gk_fzones_t *t, const char *text)
{
	uint8_t w[256], loff[128];
	size_t n = gk_dname_from_text(text, strlen(text), w, 0);
	assert_true(n > 0);
	unsigned labels = 0;
	for (size_t o = 0; w[o] != 0; o += 1u + w[o])
		loff[labels++] = (uint8_t)o;
	size_t apex = 0;
	int pool = gk_pkt_fzones_find(t, w, n, loff, labels, &apex);
	if (pool >= 0) /* the apex is a suffix of the name, at a label boundary */
		assert_true(apex <= n &&
		            (apex == n || apex == 1 || memchr(loff, (int)(n - apex), labels)));
	return pool;
}

static gk_fzones_t *build(const char *const *names, size_t n)
{
	gk_front_zone_conf_t z[8];
	gk_front_conf_t c = {.zones = z, .n_zones = n};
	for (size_t i = 0; i < n; i++)
		z[i] = (gk_front_zone_conf_t){.name = (char *)names[i], .pool = i};
	gk_fzones_t *t = NULL;
	assert_int_equal(gk_front_conf_fzones(&c, &t), 0);
	return t;
}

static void test_longest(void **state)
{
	(void)state;
	static const char *const names[] = {"example.cn", "Shop.Example.CN.", "com.cn"};
	gk_fzones_t *t = build(names, 3);
	assert_int_equal(gk_pkt_fzones_count(t), 3);
	assert_int_equal(find(t, "example.cn"), 0);
	assert_int_equal(find(t, "www.example.cn"), 0);
	assert_int_equal(find(t, "shop.example.cn"), 1);
	assert_int_equal(find(t, "a.b.shop.example.cn"), 1);
	assert_int_equal(find(t, "x.com.cn"), 2);
	assert_int_equal(find(t, "cn"), -1);          /* a parent of an apex */
	assert_int_equal(find(t, "example.net"), -1); /* elsewhere */
	assert_int_equal(find(t, "xexample.cn"), -1); /* label boundaries */
	gk_pkt_fzones_free(t);
}

static void test_root_and_errors(void **state)
{
	(void)state;
	static const char *const root[] = {"."};
	gk_fzones_t *t = build(root, 1);
	assert_int_equal(find(t, "anything.example"), 0);
	gk_pkt_fzones_free(t);
	/* "" is the root too (the front end's config spelling) */
	static const char *const empty[] = {""};
	t = build(empty, 1);
	assert_int_equal(find(t, "anything.example"), 0);
	gk_pkt_fzones_free(t);
	uint8_t w[256];
	char longlabel[80];
	memset(longlabel, 'x', 64);
	longlabel[64] = '\0';
	const char *const bad[] = {"a..cn", ".a", "a..", "..", longlabel};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		gk_front_zone_conf_t z = {.name = (char *)bad[i]};
		gk_front_conf_t c = {.zones = &z, .n_zones = 1};
		assert_int_equal(gk_front_conf_fzones(&c, &t), GK_EINVAL);
	}
	w[0] = 0;
	assert_int_equal(gk_pkt_fzones_find(NULL, w, 1, w, 0, NULL), -1);
	/* name by name: room for the names given to gk_pkt_fzones_new, a name again is no new one
	 */
	assert_int_equal(gk_pkt_fzones_new(1, &t), 0);
	assert_int_equal(gk_pkt_fzones_add(t, "example.cn", 0), 0);
	assert_int_equal(gk_pkt_fzones_add(t, "EXAMPLE.cn.", 1), 0);
	assert_int_equal(gk_pkt_fzones_add(t, "other.cn", 2), GK_ENOSPC);
	assert_int_equal(gk_pkt_fzones_add(t, "a..cn", 2), GK_EINVAL);
	assert_int_equal(gk_pkt_fzones_count(t), 1);
	assert_int_equal(find(t, "www.example.cn"), 1);
	assert_int_equal(find(t, "other.cn"), -1);
	gk_pkt_fzones_free(t);
}

static void test_stack(void **state)
{
	(void)state;
	gk_fzones_t *cfg = NULL, *mem = NULL, *t = NULL;
	assert_int_equal(gk_pkt_fzones_new(2, &cfg), 0);
	assert_int_equal(gk_pkt_fzones_add(cfg, "example.cn", 0), 0);
	assert_int_equal(gk_pkt_fzones_add(cfg, "both.cn", 0), 0);
	assert_int_equal(gk_pkt_fzones_new(3, &mem), 0);
	uint8_t w[256];
	size_t n = gk_dname_from_text("shop.example.cn", 15, w, 0);
	assert_int_equal(gk_pkt_fzones_add_wire(mem, w, n, 1), 0);
	assert_int_equal(gk_pkt_fzones_add(mem, "member.cn", 1), 0);
	assert_int_equal(gk_pkt_fzones_add(mem, "both.cn", 1), 0);
	assert_int_equal(gk_pkt_fzones_stack(cfg, mem, &t), 0);
	/* the stack holds its parts: the callers' references may go */
	gk_pkt_fzones_free(cfg);
	gk_pkt_fzones_free(mem);
	assert_int_equal(gk_pkt_fzones_count(t), 5);
	assert_int_equal(find(t, "www.example.cn"), 0);
	assert_int_equal(find(t, "a.shop.example.cn"), 1); /* the longest apex, in either part */
	assert_int_equal(find(t, "x.member.cn"), 1);
	assert_int_equal(find(t, "both.cn"), 0); /* the first part wins an apex both hold */
	assert_int_equal(find(t, "cn"), -1);
	assert_int_equal(gk_pkt_fzones_get(t, w, n), 1);
	n = gk_dname_from_text("www.member.cn", 13, w, 0);
	assert_int_equal(gk_pkt_fzones_get(t, w, n), -1);             /* exact apexes only */
	assert_int_equal(gk_pkt_fzones_add(t, "x.cn", 0), GK_EINVAL); /* a stack takes none */
	/* one part NULL: the other itself, one reference more */
	gk_fzones_t *one = NULL;
	assert_int_equal(gk_pkt_fzones_stack(NULL, t, &one), 0);
	assert_ptr_equal(one, t);
	gk_pkt_fzones_free(one);
	assert_int_equal(gk_pkt_fzones_stack(NULL, NULL, &one), 0);
	assert_null(one);
	gk_pkt_fzones_free(t); /* the last reference: parts freed (ASan/LSan checks) */
}

/* A catalog of 100,000 forwarded members: the table one change builds (docs/SECONDARY.md
 * quotes the figure). */
static void test_members_100k(void **state)
{
	(void)state;
	enum { N = 100000 };
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	gk_fzones_t *t = NULL;
	assert_int_equal(gk_pkt_fzones_new(N, &t), 0);
	char name[64];
	for (unsigned i = 0; i < N; i++) {
		snprintf(name, sizeof name, "member%u.registrar.cn", i);
		assert_int_equal(gk_pkt_fzones_add(t, name, (uint16_t)(i % 3)), 0);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(gk_pkt_fzones_count(t), N);
	assert_int_equal(find(t, "www.member99999.registrar.cn"), 99999 % 3);
	assert_int_equal(find(t, "www.member100000.registrar.cn"), -1);
	printf("fzones: %d apexes built in %.1f ms\n", N,
	       (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	gk_pkt_fzones_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_longest),
	    cmocka_unit_test(test_root_and_errors),
	    cmocka_unit_test(test_stack),
	    cmocka_unit_test(test_members_100k),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
