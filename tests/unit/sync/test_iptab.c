/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_iptab.c -- attribution table: the most specific range wins, edges of
 * ranges, IPv4 and IPv6 apart, no match, special-purpose addresses, ranges as stored in Redis,
 * and 1,000,000 ranges with 100,000 lookups checked against the expected owner (the time is
 * printed, not asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sync/ipfeed.h"
#include "sync/iptab.h"

static void add(gk_iptab_t *t, const char *range, const char *prov)
{
	uint8_t a[16], b[16];
	int v4;
	const char *why;
	assert_int_equal(gk_sync_ip_range_parse(range, strlen(range), a, b, &v4, &why), 0);
	assert_int_equal(gk_sync_iptab_add(t, a, b, v4, prov), 0);
}

static const char *who(const gk_iptab_t *t, const char *addr)
{
	uint8_t a[16];
	int v4;
	assert_int_equal(gk_sync_ip_addr_parse(addr, strlen(addr), a, &v4), 0);
	return gk_sync_iptab_lookup(t, a, v4);
}

static void who_is(const gk_iptab_t *t, const char *addr, const char *want)
{
	const char *w = who(t, addr);
	int ok = want == NULL ? w == NULL : w != NULL && !strcmp(w, want);
	if (!ok)
		fail_msg("%s: got %s, want %s", addr, w ? w : "(none)", want ? want : "(none)");
}
#define WHO who_is

static void test_longest_match(void **state)
{
	(void)state;
	gk_iptab_t *t;
	assert_int_equal(gk_sync_iptab_new(&t), 0);
	add(t, "1.0.0.0/8", "A");
	add(t, "1.2.0.0/16", "B");
	add(t, "1.2.3.0/24", "C");
	add(t, "1.2.3.128-1.2.3.130", "D");
	add(t, "1.9.0.0/16", "E");
	add(t, "255.255.255.0/24", "TOP");
	add(t, "2400::/12", "V6");
	add(t, "2400:1::/32", "V6B");
	add(t, "::/0", "ALL6");
	assert_int_equal(gk_sync_iptab_build(t), 0);
	WHO(t, "0.255.255.255", NULL);
	WHO(t, "1.0.0.0", "A");
	WHO(t, "1.1.255.255", "A");
	WHO(t, "1.2.0.0", "B");
	WHO(t, "1.2.2.255", "B");
	WHO(t, "1.2.3.0", "C");
	WHO(t, "1.2.3.127", "C");
	WHO(t, "1.2.3.128", "D");
	WHO(t, "1.2.3.130", "D");
	WHO(t, "1.2.3.131", "C");
	WHO(t, "1.2.4.0", "B");
	WHO(t, "1.3.0.0", "A");
	WHO(t, "1.9.1.1", "E");
	WHO(t, "1.255.255.255", "A");
	WHO(t, "2.0.0.0", NULL);
	WHO(t, "255.255.255.255", "TOP");
	WHO(t, "2400:1::1", "V6B");
	WHO(t, "2400:2::1", "V6");
	WHO(t, "2001:db8::1", "ALL6");
	WHO(t, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ALL6");
	assert_int_equal(gk_sync_iptab_size(t), 9);
	gk_sync_iptab_free(t);
}

static void test_stored_and_special(void **state)
{
	(void)state;
	gk_iptab_t *t;
	assert_int_equal(gk_sync_iptab_new(&t), 0);
	const char *v = "{\"provider\":\"阿里云\",\"province\":\"浙江\"}";
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.8.0/24", 10, v, strlen(v)), 0);
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.9.0/24", 10, "{}", 2), GK_EINVAL);
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.9.0", 7, v, strlen(v)), GK_EINVAL);
	/* a name with an escape goes through jansson; the pattern inside another string is
	 * escaped and never taken for the key; an empty or non-string provider is refused */
	const char *esc = "{\"provider\":\"A\\\"B\",\"usage\":\"x\"}";
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.10.0/24", 11, esc, strlen(esc)), 0);
	const char *inner = "{\"province\":\"\\\"provider\\\":\\\"X\",\"provider\":\"Y\"}";
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.11.0/24", 11, inner, strlen(inner)), 0);
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.12.0/24", 11, "{\"provider\":\"\"}", 15),
	                 GK_EINVAL);
	assert_int_equal(gk_sync_iptab_add_stored(t, "8.8.12.0/24", 11, "{\"provider\":7}", 14),
	                 GK_EINVAL);
	assert_int_equal(gk_sync_iptab_build(t), 0);
	WHO(t, "8.8.8.8", "阿里云");
	WHO(t, "8.8.10.1", "A\"B");
	WHO(t, "8.8.11.1", "Y");
	gk_sync_iptab_free(t);
	uint8_t a[16];
	int v4;
	const struct {
		const char *addr, *want;
	} c[] = {{"10.1.2.3", "private"},       {"172.31.0.1", "private"},
	         {"172.32.0.1", NULL},          {"192.168.1.1", "private"},
	         {"127.0.0.1", "loopback"},     {"100.64.0.1", "shared"},
	         {"169.254.1.1", "link-local"}, {"203.0.113.9", "documentation"},
	         {"224.0.0.1", "multicast"},    {"8.8.8.8", NULL},
	         {"::1", "loopback"},           {"fd00::1", "unique-local"},
	         {"fe80::1", "link-local"},     {"2001:db8::1", "documentation"},
	         {"2400:3200::1", NULL}};
	for (size_t i = 0; i < sizeof(c) / sizeof(*c); i++) {
		assert_int_equal(gk_sync_ip_addr_parse(c[i].addr, strlen(c[i].addr), a, &v4), 0);
		const char *s = gk_sync_ip_special(a, v4);
		if (c[i].want ? !s || strcmp(s, c[i].want) : s != NULL)
			fail_msg("%s: got %s", c[i].addr, s ? s : "(global)");
	}
	assert_int_equal(gk_sync_ip_addr_parse("1.2.3", 5, a, &v4), GK_EINVAL);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* 1,000,000 /24s from 1.0.0.0 with a nested /28 in every 50th, as bench/ipfeedgen.py makes */
static void test_million(void **state)
{
	(void)state;
	gk_iptab_t *t;
	char prov[300][16];
	for (int i = 0; i < 300; i++)
		snprintf(prov[i], sizeof(prov[i]), "P%03d", i);
	assert_int_equal(gk_sync_iptab_new(&t), 0);
	double t0 = now();
	uint8_t a[16] = {0}, b[16];
	a[10] = a[11] = 0xff;
	for (uint32_t k = 0; k < 1000000; k++) {
		uint32_t net = (1u << 24) + (k << 8);
		a[12] = (uint8_t)(net >> 24);
		a[13] = (uint8_t)(net >> 16);
		a[14] = (uint8_t)(net >> 8);
		a[15] = 0;
		memcpy(b, a, 16);
		b[15] = 255;
		assert_int_equal(gk_sync_iptab_add(t, a, b, 1, prov[k % 300]), 0);
		if (k % 50 == 0) {
			a[15] = 16;
			b[15] = 31;
			assert_int_equal(gk_sync_iptab_add(t, a, b, 1, prov[(k + 1) % 300]), 0);
		}
	}
	assert_int_equal(gk_sync_iptab_build(t), 0);
	double t1 = now();
	unsigned seed = 1;
	for (int i = 0; i < 100000; i++) {
		seed = seed * 1103515245u + 12345u;
		uint32_t k = (seed >> 8) % 1000000, host = seed & 255;
		uint32_t ip = (1u << 24) + (k << 8) + host;
		a[12] = (uint8_t)(ip >> 24);
		a[13] = (uint8_t)(ip >> 16);
		a[14] = (uint8_t)(ip >> 8);
		a[15] = (uint8_t)ip;
		const char *want =
		    k % 50 == 0 && host >= 16 && host <= 31 ? prov[(k + 1) % 300] : prov[k % 300];
		const char *got = gk_sync_iptab_lookup(t, a, 1);
		if (!got || strcmp(got, want))
			fail_msg("1.x address %u: got %s want %s", ip, got ? got : "(none)", want);
	}
	double t2 = now();
	printf("iptab: 1,020,000 ranges built in %.3f s, 100,000 lookups in %.3f s\n", t1 - t0,
	       t2 - t1);
	gk_sync_iptab_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_longest_match),
	    cmocka_unit_test(test_stored_and_special),
	    cmocka_unit_test(test_million),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
