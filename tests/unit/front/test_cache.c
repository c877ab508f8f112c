/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_cache.c -- the front end's packet cache (front/cache.h).
 *
 * Answers built by hand: key (name, type, class, DO, CD), positive TTL (smallest of answer
 * and authority), negative TTL per RFC 2308 (min of SOA TTL and MINIMUM; none without a
 * SOA), referrals (smallest TTL, glue included), uncacheable rcodes and TC, TTLs decremented on a
 * hit, expiry, the memory bound under a flood of distinct names, malformed answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "front/cache.h"

static const uint8_t qname[] = "\3www\7example\2cn"; /* + root: sizeof includes the NUL */

/* A response for www.example.cn A: rcode, an A record with ttl_a (none when ttl_a < 0), an
 * authority SOA with TTL soa_ttl and MINIMUM soa_min (none when soa_ttl < 0). */
static size_t answer(uint8_t *m, uint8_t rcode, long ttl_a, long soa_ttl, uint32_t soa_min)
{
	size_t n = 12;
	memset(m, 0, 12);
	m[0] = 0xab;
	m[1] = 0xcd;
	m[2] = 0x84; /* QR AA */
	m[3] = rcode;
	m[5] = 1;
	memcpy(m + n, qname, sizeof(qname));
	n += sizeof(qname);
	m[n++] = 0;
	m[n++] = 1;
	m[n++] = 0;
	m[n++] = 1;
	if (ttl_a >= 0) {
		static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 192, 0, 2, 1};
		memcpy(m + n, rr, sizeof(rr));
		m[n + 6] = (uint8_t)(ttl_a >> 24);
		m[n + 7] = (uint8_t)(ttl_a >> 16);
		m[n + 8] = (uint8_t)(ttl_a >> 8);
		m[n + 9] = (uint8_t)ttl_a;
		n += sizeof(rr);
		m[7] = 1;
	}
	if (soa_ttl >= 0) {
		/* owner: example.cn (pointer to offset 16), SOA, rdata: two root names + 5 words */
		static const uint8_t rr[] = {0xc0, 16, 0, 6, 0, 1, 0, 0, 0, 0, 0, 22, 0, 0};
		memcpy(m + n, rr, sizeof(rr));
		m[n + 6] = (uint8_t)(soa_ttl >> 24);
		m[n + 7] = (uint8_t)(soa_ttl >> 16);
		m[n + 8] = (uint8_t)(soa_ttl >> 8);
		m[n + 9] = (uint8_t)soa_ttl;
		n += sizeof(rr);
		memset(m + n, 0, 20);
		m[n + 16] = (uint8_t)(soa_min >> 24);
		m[n + 17] = (uint8_t)(soa_min >> 16);
		m[n + 18] = (uint8_t)(soa_min >> 8);
		m[n + 19] = (uint8_t)soa_min;
		n += 20;
		m[9] = 1;
	}
	return n;
}

static gk_fcache_key_t key(uint16_t type, bool do_bit, bool cd)
{
	return (gk_fcache_key_t){.name = qname,
	                         .nlen = sizeof(qname),
	                         .type = type,
	                         .cls = 1,
	                         .do_bit = do_bit,
	                         .cd = cd};
}

static uint32_t ttl_at(const uint8_t *m, size_t off)
{
	return (uint32_t)m[off] << 24 | (uint32_t)m[off + 1] << 16 | (uint32_t)m[off + 2] << 8 |
	       m[off + 3];
}

static void test_ttl_rules(void **state)
{
	(void)state;
	uint8_t m[512];
	size_t n = answer(m, 0, 300, 60, 3600);
	assert_int_equal(gk_front_cache_ttl(m, n, 86400),
	                 60); /* smallest of answer and authority */
	n = answer(m, 0, 300, -1, 0);
	assert_int_equal(gk_front_cache_ttl(m, n, 100), 100); /* capped */
	n = answer(m, 3, -1, 900, 120);
	assert_int_equal(gk_front_cache_ttl(m, n, 86400),
	                 120); /* NXDOMAIN: min(SOA TTL, MINIMUM) */
	n = answer(m, 0, -1, 30, 120);
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), 30); /* NODATA */
	n = answer(m, 3, -1, -1, 0);
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), GK_ENOENT); /* no SOA: not cached */
	n = answer(m, 0, -1, -1, 0);
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), GK_ENOENT); /* NODATA without SOA */
	/* a referral: NS example.cn (TTL 3600) in authority, glue (TTL 600) in additional */
	static const uint8_t ns[] = {0xc0, 16, 0, 2, 0,   1,   0,   0,    0x0e,
	                             0x10, 0,  6, 3, 'n', 's', '1', 0xc0, 16},
	                     glue[] = {0xc0, 0, 0, 1, 0, 1, 0, 0, 0x02, 0x58, 0, 4, 192, 0, 2, 53};
	n = answer(m, 0, -1, -1, 0);
	m[2] = 0x80; /* QR, not AA */
	size_t ns_at = n;
	memcpy(m + n, ns, sizeof(ns));
	n += sizeof(ns);
	m[9] = 1;
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), 3600);
	memcpy(m + n, glue, sizeof(glue));
	m[n + 1] = (uint8_t)(ns_at + 12); /* owner: ns1.example.cn */
	n += sizeof(glue);
	m[11] = 1;
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), 600);
	n = answer(m, 2, 300, -1, 0);
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), GK_ENOENT); /* SERVFAIL */
	n = answer(m, 0, 300, -1, 0);
	m[2] |= 0x02;
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), GK_ENOENT); /* TC */
	n = answer(m, 0, 300, -1, 0);
	assert_int_equal(gk_front_cache_ttl(m, n - 1, 86400), GK_ESYNTAX); /* cut */
	assert_int_equal(gk_front_cache_ttl(m, 5, 86400), GK_ESYNTAX);     /* no header */
	m[7] = 2;                                                          /* ANCOUNT lies */
	assert_int_equal(gk_front_cache_ttl(m, n, 86400), GK_ESYNTAX);
}

static void test_hit_decrements_ttl(void **state)
{
	(void)state;
	gk_fcache_t *c;
	assert_int_equal(gk_front_cache_new(1 << 20, 86400, &c), 0);
	uint8_t m[512], out[GK_FCACHE_SLOT];
	size_t n = answer(m, 0, 300, -1, 0);
	gk_fcache_key_t k = key(1, false, false);
	assert_int_equal(gk_front_cache_put(c, &k, m, n, 1000), 0);
	assert_int_equal(gk_front_cache_get(c, &k, 1500, out, sizeof(out)), n);
	assert_int_equal(ttl_at(out, 12 + sizeof(qname) + 4 + 6), 300);
	assert_int_equal(gk_front_cache_get(c, &k, 1000 + 120 * 1000 + 999, out, sizeof(out)), n);
	assert_int_equal(ttl_at(out, 12 + sizeof(qname) + 4 + 6), 180);
	/* another type, DO or CD is another key */
	gk_fcache_key_t k2 = key(28, false, false), k3 = key(1, true, false),
	                k4 = key(1, false, true);
	assert_int_equal(gk_front_cache_get(c, &k2, 1500, out, sizeof(out)), 0);
	assert_int_equal(gk_front_cache_get(c, &k3, 1500, out, sizeof(out)), 0);
	assert_int_equal(gk_front_cache_get(c, &k4, 1500, out, sizeof(out)), 0);
	/* an ECS subnet is another key: an answer scoped to one subnet is not another's, nor
	 * the answer for every client */
	static const uint8_t net_a[] = {1, 24, 192, 0, 2}, net_b[] = {1, 24, 192, 0, 3};
	gk_fcache_key_t ka = k, kb = k;
	ka.ecs = net_a;
	ka.ecs_len = sizeof(net_a);
	kb.ecs = net_b;
	kb.ecs_len = sizeof(net_b);
	assert_int_equal(gk_front_cache_get(c, &ka, 1500, out, sizeof(out)), 0);
	m[3] = 0; /* (rcode kept NOERROR; the ID marks which answer comes back) */
	m[0] = 0xaa;
	assert_int_equal(gk_front_cache_put(c, &ka, m, n, 1000), 0);
	assert_int_equal(gk_front_cache_get(c, &ka, 1500, out, sizeof(out)), n);
	assert_int_equal(out[0], 0xaa);
	assert_int_equal(gk_front_cache_get(c, &kb, 1500, out, sizeof(out)), 0);
	assert_int_equal(gk_front_cache_get(c, &k, 1500, out, sizeof(out)), n);
	assert_int_not_equal(out[0], 0xaa);
	ka.ecs_len = GK_FCACHE_ECS_MAX + 1;
	assert_int_equal(gk_front_cache_put(c, &ka, m, n, 1000), GK_ENOENT);
	/* expired at stored + TTL */
	assert_int_equal(gk_front_cache_get(c, &k, 1000 + 300 * 1000, out, sizeof(out)), 0);
	gk_fcache_stats_t st;
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.hits, 4);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.entries, 1); /* the subnet's */
	gk_front_cache_free(c);
}

static void test_negative_and_uncacheable(void **state)
{
	(void)state;
	gk_fcache_t *c;
	assert_int_equal(gk_front_cache_new(1 << 20, 86400, &c), 0);
	uint8_t m[512], out[GK_FCACHE_SLOT];
	gk_fcache_key_t k = key(1, false, false);
	size_t n = answer(m, 3, -1, 900, 60);
	assert_int_equal(gk_front_cache_put(c, &k, m, n, 0), 0);
	assert_int_equal(gk_front_cache_get(c, &k, 59999, out, sizeof(out)), n);
	assert_int_equal(gk_front_cache_get(c, &k, 60000, out, sizeof(out)), 0);
	n = answer(m, 2, 300, -1, 0);
	assert_int_equal(gk_front_cache_put(c, &k, m, n, 0), GK_ENOENT);
	assert_int_equal(gk_front_cache_put(c, &k, m, 7, 0), GK_ESYNTAX);
	gk_fcache_stats_t st;
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.uncacheable, 1);
	assert_int_equal(st.malformed, 1);
	gk_front_cache_free(c);
}

static void flood_name(uint8_t name[11], unsigned i)
{
	name[0] = 9;
	for (unsigned j = 0; j < 9; j++)
		name[1 + j] = (uint8_t)('a' + (i >> (j * 2) & 3) + (j & 1) * 4);
	name[10] = 0;
}

/* Store the answer m[0..n) for flood names from..to-1 (at now_ms = the name's number). */
static void put_names(gk_fcache_t *c, unsigned from, unsigned to, const uint8_t *m, size_t n)
{
	uint8_t name[11];
	for (unsigned i = from; i < to; i++) {
		flood_name(name, i);
		gk_fcache_key_t k = {.name = name, .nlen = 11, .type = 1, .cls = 1};
		assert_int_equal(gk_front_cache_put(c, &k, m, n, i), 0);
	}
}

/* the cache holds as many entries as it has slots, whatever their hashes; then a flood of
 * distinct names replaces entries: it never holds more than its slots */
static void test_bounded(void **state)
{
	(void)state;
	gk_fcache_t *c;
	assert_int_equal(gk_front_cache_new(64 * 1024, 86400, &c), 0);
	gk_fcache_stats_t st;
	gk_front_cache_stats(c, &st);
	size_t slots = st.slots;
	assert_int_equal(slots, 64 * 1024 / gk_front_cache_entry_bytes());
	assert_true(st.bytes <= 64 * 1024);
	uint8_t m[512], out[GK_FCACHE_SLOT], name[11];
	size_t n = answer(m, 0, 300, -1, 0);
	put_names(c, 0, (unsigned)slots, m, n);
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.entries, slots);
	assert_int_equal(st.evictions, 0);
	for (unsigned i = 0; i < slots; i++) { /* every one of them is there */
		flood_name(name, i);
		gk_fcache_key_t k = {.name = name, .nlen = 11, .type = 1, .cls = 1};
		assert_int_equal(gk_front_cache_get(c, &k, slots, out, sizeof(out)), n);
	}
	put_names(c, (unsigned)slots, 10000, m, n);
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.entries, slots);
	assert_int_equal(st.inserts, 10000);
	assert_int_equal(st.evictions + st.expired, 10000 - slots);
	gk_front_cache_free(c);
	assert_int_equal(gk_front_cache_new(100, 86400, &c), GK_EINVAL);
	assert_int_equal(gk_front_cache_new(gk_front_cache_entry_bytes(), 86400, &c), 0);
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.slots, 1);
	gk_front_cache_free(c);
}

/* a full cache of 4,000 entries, 1,000 of them asked every 2,000 new names while 100,000
 * names asked once flood through: not one of the asked ones is replaced (CLOCK: the hand
 * goes round in about 3,000 new names); an expired entry is taken even when asked for */
static void test_flood_keeps_popular(void **state)
{
	(void)state;
	gk_fcache_t *c;
	assert_int_equal(gk_front_cache_new(4000 * gk_front_cache_entry_bytes(), 86400, &c), 0);
	uint8_t m[512], out[GK_FCACHE_SLOT], name[11];
	size_t n = answer(m, 0, 300, -1, 0);
	gk_fcache_key_t k = {.name = name, .nlen = 11, .type = 1, .cls = 1};
	for (unsigned j = 0; j < 4000; j++) { /* popular i at every 4th slot, i < 1000 */
		flood_name(name, j % 4 == 0 ? j / 4 : 1000 + j);
		assert_int_equal(gk_front_cache_put(c, &k, m, n, 0), 0);
	}
	for (unsigned i = 0; i < 1000; i++) {
		flood_name(name, i);
		assert_int_equal(gk_front_cache_get(c, &k, 0, out, sizeof(out)), n);
	}
	unsigned lost = 0;
	uint64_t now = 0;
	for (unsigned i = 0; i < 100000; i++) {
		now = i / 1000; /* well within the TTL */
		flood_name(name, 5000 + i);
		assert_int_equal(gk_front_cache_put(c, &k, m, n, now), 0);
		if (i % 2 == 0) {
			flood_name(name, (i / 2) % 1000);
			if (gk_front_cache_get(c, &k, now, out, sizeof(out)) == 0) {
				lost++;
				assert_int_equal(gk_front_cache_put(c, &k, m, n, now), 0);
			}
		}
	}
	assert_int_equal(lost, 0);
	gk_fcache_stats_t st;
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.entries, 4000);
	assert_int_equal(st.evictions, 100000);
	gk_front_cache_free(c);
	/* two entries, both asked for, the second expired: the hand passes the first (its mark
	 * cleared) and takes the second, marked as it is */
	assert_int_equal(gk_front_cache_new(2 * gk_front_cache_entry_bytes(), 86400, &c), 0);
	uint8_t name2[11], name3[11];
	flood_name(name, 1);
	flood_name(name2, 2);
	flood_name(name3, 3);
	gk_fcache_key_t k2 = {.name = name2, .nlen = 11, .type = 1, .cls = 1},
	                k3 = {.name = name3, .nlen = 11, .type = 1, .cls = 1};
	uint8_t m60[512];
	size_t n60 = answer(m60, 0, 60, -1, 0);
	n = answer(m, 0, 300, -1, 0);
	assert_int_equal(gk_front_cache_put(c, &k2, m, n, 0), 0);    /* slot 1: 300 s */
	assert_int_equal(gk_front_cache_put(c, &k, m60, n60, 0), 0); /* slot 2: 60 s */
	assert_int_equal(gk_front_cache_get(c, &k2, 1000, out, sizeof(out)), n);
	assert_int_equal(gk_front_cache_get(c, &k, 1000, out, sizeof(out)), n60);
	assert_int_equal(gk_front_cache_put(c, &k3, m, n, 61000), 0);
	assert_int_equal(gk_front_cache_get(c, &k2, 61000, out, sizeof(out)), n);
	assert_int_equal(gk_front_cache_get(c, &k3, 61000, out, sizeof(out)), n);
	gk_front_cache_stats(c, &st);
	assert_int_equal(st.expired, 1);
	assert_int_equal(st.evictions, 0);
	gk_front_cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ttl_rules),
	    cmocka_unit_test(test_hit_decrements_ttl),
	    cmocka_unit_test(test_negative_and_uncacheable),
	    cmocka_unit_test(test_bounded),
	    cmocka_unit_test(test_flood_keeps_popular),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
