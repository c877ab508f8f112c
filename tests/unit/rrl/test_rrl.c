/* SPDX-License-Identifier: MIT */
/* tests/unit/rrl/test_rrl.c -- the rate limiter: the rate per second, slip, the window's
 * debt, client prefixes, classes and names as separate keys, exempt prefixes, the slip
 * response, and prefix parsing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "rrl/rrl.h"

static const uint8_t WWW[] = "\3www\7example\2cn";
#define WWW_LEN 16

static struct sockaddr_storage v4(const char *a)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *s = (struct sockaddr_in *)&ss;
	s->sin_family = AF_INET;
	assert_int_equal(inet_pton(AF_INET, a, &s->sin_addr), 1);
	return ss;
}

static struct sockaddr_storage v6(const char *a)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
	s->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, a, &s->sin6_addr), 1);
	return ss;
}

static gk_rrl_config_t cfg(unsigned rate, unsigned slip, unsigned window)
{
	gk_rrl_config_t c;
	gk_rrl_config_default(&c);
	c.rate = rate;
	c.slip = slip;
	c.window = window;
	return c;
}

/* n responses at second now; counts of each verdict into v[3]. */
static void run(gk_rrl_t *t, const gk_rrl_config_t *c, const struct sockaddr_storage *sa,
                gk_rrl_class_t cls, const uint8_t *name, size_t len, unsigned n, uint32_t now,
                unsigned v[3])
{
	v[0] = v[1] = v[2] = 0;
	for (unsigned i = 0; i < n; i++)
		v[gk_rrl_check(t, c, (const struct sockaddr *)sa, cls, name, len, now)]++;
}

static void test_rate_and_slip(void **state)
{
	(void)state;
	gk_rrl_t *t;
	assert_int_equal(gk_rrl_new(1024, &t), 0);
	gk_rrl_config_t c = cfg(10, 2, 1);
	struct sockaddr_storage a = v4("192.0.2.1");
	unsigned v[3];
	/* 10 pass in a second, then every second limited one slips */
	run(t, &c, &a, GK_RRL_ANSWER, WWW, WWW_LEN, 30, 100, v);
	assert_int_equal(v[GK_RRL_PASS], 10);
	assert_int_equal(v[GK_RRL_SLIP], 10);
	assert_int_equal(v[GK_RRL_DROP], 10);
	/* the first response over the rate is dropped, the second slips */
	c = cfg(3, 2, 1);
	struct sockaddr_storage b = v4("198.51.100.1");
	for (int i = 0; i < 3; i++)
		assert_int_equal(gk_rrl_check(t, &c, (const struct sockaddr *)&b, GK_RRL_ANSWER,
		                              WWW, WWW_LEN, 100),
		                 GK_RRL_PASS);
	assert_int_equal(
	    gk_rrl_check(t, &c, (const struct sockaddr *)&b, GK_RRL_ANSWER, WWW, WWW_LEN, 100),
	    GK_RRL_DROP);
	assert_int_equal(
	    gk_rrl_check(t, &c, (const struct sockaddr *)&b, GK_RRL_ANSWER, WWW, WWW_LEN, 100),
	    GK_RRL_SLIP);
	/* slip 0: every limited response dropped; slip 1: every one truncated */
	struct sockaddr_storage d = v4("203.0.113.1");
	c = cfg(5, 0, 1);
	run(t, &c, &d, GK_RRL_ANSWER, WWW, WWW_LEN, 20, 100, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	assert_int_equal(v[GK_RRL_SLIP], 0);
	assert_int_equal(v[GK_RRL_DROP], 15);
	c = cfg(5, 1, 1);
	run(t, &c, &d, GK_RRL_NXDOMAIN, WWW, WWW_LEN, 20, 100, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	assert_int_equal(v[GK_RRL_SLIP], 15);
	gk_rrl_free(t);
}

static void test_window(void **state)
{
	(void)state;
	gk_rrl_t *t;
	assert_int_equal(gk_rrl_new(1024, &t), 0);
	gk_rrl_config_t c = cfg(10, 0, 3);
	struct sockaddr_storage a = v4("192.0.2.1");
	unsigned v[3];
	/* a flood runs up a debt of at most window x rate ... */
	run(t, &c, &a, GK_RRL_ANSWER, WWW, WWW_LEN, 1000, 50, v);
	assert_int_equal(v[GK_RRL_PASS], 10);
	/* ... paid back at the rate: two seconds later still limited ... */
	run(t, &c, &a, GK_RRL_ANSWER, WWW, WWW_LEN, 1, 52, v);
	assert_int_equal(v[GK_RRL_DROP], 1);
	/* ... once the window has passed, answered again, at the rate */
	run(t, &c, &a, GK_RRL_ANSWER, WWW, WWW_LEN, 20, 55, v);
	assert_int_equal(v[GK_RRL_PASS], 10);
	/* a client under the rate is never limited, second after second */
	struct sockaddr_storage b = v4("198.51.100.1");
	for (uint32_t s = 200; s < 260; s++) {
		run(t, &c, &b, GK_RRL_ANSWER, WWW, WWW_LEN, 10, s, v);
		assert_int_equal(v[GK_RRL_PASS], 10);
	}
	/* a long idle gap (beyond 2^31 s of wrap) refills */
	run(t, &c, &b, GK_RRL_ANSWER, WWW, WWW_LEN, 10, 5000, v);
	assert_int_equal(v[GK_RRL_PASS], 10);
	gk_rrl_free(t);
}

static void test_keys(void **state)
{
	(void)state;
	gk_rrl_t *t;
	assert_int_equal(gk_rrl_new(4096, &t), 0);
	gk_rrl_config_t c = cfg(5, 0, 1);
	unsigned v[3];
	/* one /24 shares a budget; the next /24 has its own */
	struct sockaddr_storage a1 = v4("192.0.2.1"), a2 = v4("192.0.2.200"), a3 = v4("192.0.3.1");
	run(t, &c, &a1, GK_RRL_ANSWER, WWW, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	run(t, &c, &a2, GK_RRL_ANSWER, WWW, WWW_LEN, 1, 7, v);
	assert_int_equal(v[GK_RRL_DROP], 1);
	run(t, &c, &a3, GK_RRL_ANSWER, WWW, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	/* /56 for IPv6 */
	struct sockaddr_storage b1 = v6("2001:db8:0:1::1"), b2 = v6("2001:db8:0:ff::2"),
	                        b3 = v6("2001:db8:0:100::1");
	run(t, &c, &b1, GK_RRL_ANSWER, WWW, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	run(t, &c, &b2, GK_RRL_ANSWER, WWW, WWW_LEN, 1, 7, v);
	assert_int_equal(v[GK_RRL_DROP], 1);
	run(t, &c, &b3, GK_RRL_ANSWER, WWW, WWW_LEN, 1, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 1);
	/* configurable: /32 separates 192.0.2.1 from 192.0.2.200 */
	c.v4_prefix = 32;
	struct sockaddr_storage e1 = v4("10.0.0.1"), e2 = v4("10.0.0.2");
	run(t, &c, &e1, GK_RRL_ANSWER, WWW, WWW_LEN, 6, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	run(t, &c, &e2, GK_RRL_ANSWER, WWW, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	c.v4_prefix = 24;
	/* the class and the name are part of the key; the name's case is not */
	struct sockaddr_storage f = v4("172.16.0.1");
	static const uint8_t UP[] = "\3WWW\7Example\2CN", OTHER[] = "\3ftp\7example\2cn";
	run(t, &c, &f, GK_RRL_ANSWER, WWW, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	run(t, &c, &f, GK_RRL_ANSWER, UP, WWW_LEN, 1, 7, v);
	assert_int_equal(v[GK_RRL_DROP], 1);
	run(t, &c, &f, GK_RRL_ANSWER, OTHER, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	run(t, &c, &f, GK_RRL_NXDOMAIN, WWW, WWW_LEN, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	/* no name: the root */
	run(t, &c, &f, GK_RRL_ERROR, NULL, 0, 5, 7, v);
	assert_int_equal(v[GK_RRL_PASS], 5);
	run(t, &c, &f, GK_RRL_ERROR, (const uint8_t *)"", 1, 1, 7, v);
	assert_int_equal(v[GK_RRL_DROP], 1);
	gk_rrl_free(t);
}

/* A full table evicts the least recently used keys, never limits a new one. */
static void test_eviction(void **state)
{
	(void)state;
	gk_rrl_t *t;
	assert_int_equal(gk_rrl_new(64, &t), 0);
	gk_rrl_config_t c = cfg(2, 0, 1);
	c.v4_prefix = 32;
	unsigned v[3];
	for (unsigned i = 0; i < 5000; i++) {
		struct sockaddr_storage a;
		memset(&a, 0, sizeof(a));
		struct sockaddr_in *s = (struct sockaddr_in *)&a;
		s->sin_family = AF_INET;
		s->sin_addr.s_addr = htonl(0x0a000000u + i);
		run(t, &c, &a, GK_RRL_ANSWER, WWW, WWW_LEN, 2, 9, v);
		assert_int_equal(v[GK_RRL_PASS], 2);
	}
	gk_rrl_free(t);
}

static void test_exempt(void **state)
{
	(void)state;
	gk_rrl_config_t c = cfg(1, 0, 1);
	assert_int_equal(gk_prefix_parse("192.0.2.0/24", &c.exempt[0]), 0);
	assert_int_equal(gk_prefix_parse("2001:db8::/32", &c.exempt[1]), 0);
	assert_int_equal(gk_prefix_parse("10.1.2.3", &c.exempt[2]), 0);
	assert_int_equal(c.exempt[2].len, 32);
	assert_int_equal(gk_prefix_parse("172.16.0.0/12", &c.exempt[3]), 0);
	c.n_exempt = 4;
	struct sockaddr_storage in[] = {v4("192.0.2.77"), v6("2001:db8:ffff::1"), v4("10.1.2.3"),
	                                v4("172.31.255.255"), v6("::ffff:192.0.2.9")};
	struct sockaddr_storage out[] = {v4("192.0.3.1"), v6("2001:db9::1"), v4("10.1.2.4"),
	                                 v4("172.32.0.0"), v6("::ffff:10.1.2.4")};
	for (size_t i = 0; i < 5; i++) {
		assert_true(gk_rrl_exempt(&c, (const struct sockaddr *)&in[i]));
		assert_false(gk_rrl_exempt(&c, (const struct sockaddr *)&out[i]));
	}
	c.n_exempt = 0;
	assert_false(gk_rrl_exempt(&c, (const struct sockaddr *)&in[0]));
}

static void test_prefix_parse(void **state)
{
	(void)state;
	gk_prefix_t p;
	static const char *bad[] = {"",
	                            "/24",
	                            "foo",
	                            "192.0.2.0/33",
	                            "192.0.2.1/24",
	                            "192.0.2.0/",
	                            "192.0.2.0/2x",
	                            "2001:db8::1/32",
	                            "::/129",
	                            "192.0.2.0/0024"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(gk_prefix_parse(bad[i], &p), GK_EINVAL);
	assert_int_equal(gk_prefix_parse("0.0.0.0/0", &p), 0);
	assert_int_equal(p.len, 0);
	assert_int_equal(gk_prefix_parse("::/0", &p), 0);
	assert_int_equal(p.family, AF_INET6);
}

static void test_truncate(void **state)
{
	(void)state;
	/* header, question www.example.cn A IN, one answer record, OPT */
	uint8_t m[128] = {0x12, 0x34, 0x84, 0x00, 0, 1, 0, 1, 0, 0, 0, 1};
	memcpy(m + 12, WWW, WWW_LEN);
	size_t qend = 12 + WWW_LEN + 4;
	memset(m + qend, 0xab, 40);
	size_t len = gk_rrl_truncate(m, qend + 40, qend);
	assert_int_equal(len, qend);
	assert_int_equal(m[2], 0x86); /* QR AA TC */
	assert_int_equal(m[0], 0x12);
	static const uint8_t counts[8] = {0, 1, 0, 0, 0, 0, 0, 0};
	assert_memory_equal(m + 4, counts, 8);
	/* no question: the header alone */
	uint8_t h[12] = {0, 1, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 1};
	assert_int_equal(gk_rrl_truncate(h, 23, 12), 12);
	assert_int_equal(h[5], 0);
	assert_int_equal(h[11], 0);
	assert_int_equal(h[2], 0x82);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rate_and_slip), cmocka_unit_test(test_window),
	    cmocka_unit_test(test_keys),          cmocka_unit_test(test_eviction),
	    cmocka_unit_test(test_exempt),        cmocka_unit_test(test_prefix_parse),
	    cmocka_unit_test(test_truncate),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
