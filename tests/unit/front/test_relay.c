/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_relay.c -- backend query and answer checks (front/relay.h).
 *
 * The backend query keeps the client's question bytes (0x20) under our own ID and OPT;
 * answers with another ID, another question (even by case), no QR or another opcode do
 * not match; a matched answer gets the client's ID back, and one larger than the client
 * may receive over UDP becomes header, question and its OPT (with the ECS echo) with TC,
 * or header and question alone when it has no OPT or the OPT would not fit. The relay's
 * own SERVFAIL and FORMERR carry an Extended DNS Error naming the cause for EDNS clients.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include "front/relay.h"
#include "common/dns.h"
#include "gk/errors.h"

/* client query: ID 0x1234, RD, AD set, www.ExAmple.cn A, no EDNS */
static const uint8_t cq[] = {0x12, 0x34, 0x01, 0x20, 0,   1, 0,   0,   0,   0,   0,
                             0,    3,    'w',  'w',  'w', 7, 'E', 'x', 'A', 'm', 'p',
                             'l',  'e',  2,    'c',  'n', 0, 0,   1,   0,   1};

static void test_query_and_match(void **state)
{
	(void)state;
	uint8_t sent[128], a[2048];
	size_t n = gk_front_relay_query(cq, sizeof(cq), 0xbeef, true, 1232, sent);
	assert_int_equal(n, sizeof(cq) + GK_RELAY_OPT_LEN);
	assert_int_equal(sent[0], 0xbe);
	assert_int_equal(sent[1], 0xef);
	assert_int_equal(sent[2], 0x01);                          /* RD */
	assert_int_equal(sent[3], 0x00);                          /* AD cleared */
	assert_memory_equal(sent + 12, cq + 12, sizeof(cq) - 12); /* case kept */
	assert_int_equal(sent[11], 1);                            /* ARCOUNT: our OPT */
	assert_int_equal(sent[sizeof(cq) + 3] << 8 | sent[sizeof(cq) + 4], 1232);
	assert_int_equal(sent[sizeof(cq) + 7], 0x80); /* DO */

	gk_relay_q_t r = {
	    .id = 0xbeef, .client_id = 0x1234, .qend = sizeof(cq), .client_limit = 512};
	memcpy(a, sent, sizeof(cq));
	a[2] = 0x85; /* QR AA RD */
	a[3] = 0x80; /* RA */
	size_t alen = sizeof(cq);
	assert_true(gk_front_relay_match(&r, sent, a, alen));
	a[1] ^= 1; /* another ID */
	assert_false(gk_front_relay_match(&r, sent, a, alen));
	a[1] ^= 1;
	a[17] = 'e'; /* "ExAmple" in another case: not our question */
	assert_false(gk_front_relay_match(&r, sent, a, alen));
	a[17] = 'E';
	a[2] &= 0x7f; /* no QR */
	assert_false(gk_front_relay_match(&r, sent, a, alen));
	a[2] |= 0x80 | 0x08; /* opcode IQUERY */
	assert_false(gk_front_relay_match(&r, sent, a, alen));
	a[2] &= (uint8_t)~0x08;
	a[5] = 2; /* two questions */
	assert_false(gk_front_relay_match(&r, sent, a, alen));
	a[5] = 1;
	assert_false(gk_front_relay_match(&r, sent, a, 20)); /* cut */
	assert_true(gk_front_relay_match(&r, sent, a, alen));
	/* the client's ID back */
	assert_int_equal(gk_front_relay_answer(&r, a, alen), alen);
	assert_int_equal(a[0] << 8 | a[1], 0x1234);
	/* too large for the client over UDP: header and question with TC */
	memset(a + alen, 0, 600);
	a[7] = 9;
	a[10] = a[11] = 0; /* no additional records to leave out */
	assert_int_equal(gk_front_relay_answer(&r, a, alen + 600), sizeof(cq));
	assert_true(a[2] & 0x02);
	assert_int_equal(a[7], 0);
	assert_int_equal(a[5], 1);
}

/* An answer to cq: one A record (owner a pointer to the question), then OPT (size 4096,
 * DO) and a TSIG-like record after it in the additional section. */
static size_t answer_with_opt(uint8_t *a)
{
	static const uint8_t an[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
	static const uint8_t opt[] = {0, 0, 41, 0x10, 0, 0, 0, 0x80, 0, 0, 0};
	static const uint8_t tail[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 60, 0, 2, 1, 'x'};
	size_t n = sizeof(cq);
	memcpy(a, cq, n);
	a[2] = 0x85; /* QR AA RD */
	a[7] = 1;    /* ANCOUNT */
	a[11] = 2;   /* ARCOUNT */
	memcpy(a + n, an, sizeof(an));
	n += sizeof(an);
	memcpy(a + n, opt, sizeof(opt));
	n += sizeof(opt);
	memcpy(a + n, tail, sizeof(tail));
	return n + sizeof(tail);
}

static void test_fix_opt(void **state)
{
	(void)state;
	uint8_t a[256];
	size_t n = answer_with_opt(a);
	bool has = false;
	/* a client with EDNS: our size, nothing else changes */
	assert_int_equal(gk_front_relay_fix_opt(a, n, sizeof(cq), true, 1232, &has), n);
	assert_true(has);
	size_t o = sizeof(cq) + 16;
	assert_int_equal(a[o + 3] << 8 | a[o + 4], 1232);
	assert_int_equal(a[o + 7], 0x80);
	/* an ECS option in the backend's OPT goes, an EDE stays */
	{
		uint8_t b[256];
		size_t bn = answer_with_opt(b);
		size_t oo = sizeof(cq) + 16; /* the OPT record */
		static const uint8_t opts[] = {0, 8, 0, 7,  0, 1, 24, 24, 192,
		                               0, 2, 0, 15, 0, 2, 0,  17};
		memmove(b + oo + 11 + sizeof(opts), b + oo + 11, bn - (oo + 11));
		memcpy(b + oo + 11, opts, sizeof(opts));
		b[oo + 10] = sizeof(opts);
		bn += sizeof(opts);
		assert_int_equal(gk_front_relay_ecs_scope(b, bn, sizeof(cq)), 24);
		size_t bm = gk_front_relay_fix_opt(b, bn, sizeof(cq), true, 1232, &has);
		assert_int_equal(bm, bn - 11);
		assert_int_equal(b[oo + 10], 6); /* RDLENGTH: the EDE alone */
		assert_int_equal(b[oo + 12], 15);
		assert_int_equal(gk_front_relay_ecs_scope(b, bm, sizeof(cq)), -1);
		assert_int_equal(b[oo + 11 + 6 + 3], 16); /* the TXT record follows */
	}
	/* without EDNS: the OPT goes, the record behind it moves up */
	n = answer_with_opt(a);
	size_t m = gk_front_relay_fix_opt(a, n, sizeof(cq), false, 1232, &has);
	assert_int_equal(m, n - 11);
	assert_false(has);
	assert_int_equal(a[11], 1);
	assert_int_equal(a[o + 3], 16); /* the TXT record now follows the answer */
	/* a backend's answer without an OPT to an EDNS client: none to fix (has_opt false), and
	 * echo_ecs without an option adds ours behind the records (RFC 6891 7); with one there
	 * it changes nothing */
	{
		uint8_t c[256];
		memcpy(c, a, m);
		assert_int_equal(gk_front_relay_fix_opt(c, m, sizeof(cq), true, 1232, &has), m);
		assert_false(has);
		size_t cn =
		    gk_front_relay_echo_ecs(c, m, sizeof(c), sizeof(cq), NULL, 0, 1232, true);
		assert_int_equal(cn, m + GK_RELAY_OPT_LEN);
		assert_int_equal(c[11], 2); /* ARCOUNT: the TXT and our OPT */
		static const uint8_t ours[] = {0,    0, 41, 1232 >> 8, 1232 & 0xff, 0, 0,
		                               0x80, 0, 0,  0};
		assert_memory_equal(c + m, ours, sizeof(ours));
		assert_int_equal(gk_front_relay_fix_opt(c, cn, sizeof(cq), true, 1232, &has), cn);
		assert_true(has);
		assert_int_equal(
		    gk_front_relay_echo_ecs(c, cn, sizeof(c), sizeof(cq), NULL, 0, 1232, true), cn);
		/* no room for it: 0 (the caller answers SERVFAIL) */
		assert_int_equal(
		    gk_front_relay_echo_ecs(c, m, m + 10, sizeof(cq), NULL, 0, 1232, true), 0);
	}
	/* malformed: a record running past the end, a bad label type */
	n = answer_with_opt(a);
	assert_int_equal(gk_front_relay_fix_opt(a, n - 1, sizeof(cq), false, 1232, &has), 0);
	n = answer_with_opt(a);
	a[sizeof(cq)] = 0x80;
	assert_int_equal(gk_front_relay_fix_opt(a, n, sizeof(cq), true, 1232, &has), 0);
	assert_int_equal(gk_front_relay_fix_opt(a, 11, 12, true, 1232, &has), 0);
}

static void test_ecs(void **state)
{
	(void)state;
	uint8_t q[128], key[18];
	size_t kl, n = gk_front_relay_query(cq, sizeof(cq), 1, false, 1232, q);
	struct sockaddr_in v4 = {.sin_family = AF_INET};
	inet_pton(AF_INET, "198.51.100.77", &v4.sin_addr);
	/* 198.51.100.77/22: 3 octets, the last cut to 0b011001xx -> 100 & 0xfc = 100 */
	size_t m = gk_front_relay_add_ecs(q, n, (struct sockaddr *)&v4, 22, 56, key, &kl);
	assert_int_equal(m, n + 8 + 3);
	assert_int_equal(q[n - 2] << 8 | q[n - 1], 11); /* OPT RDLENGTH */
	static const uint8_t opt4[] = {0, 8, 0, 7, 0, 1, 22, 0, 198, 51, 100};
	assert_memory_equal(q + n, opt4, sizeof(opt4));
	static const uint8_t key4[] = {1, 22, 198, 51, 100};
	assert_int_equal(kl, sizeof(key4));
	assert_memory_equal(key, key4, sizeof(key4));
	v4.sin_addr.s_addr = htonl(0xc6336747); /* 198.51.103.71/22: the same subnet */
	uint8_t key2[18];
	size_t kl2;
	(void)gk_front_relay_add_ecs(q, n, (struct sockaddr *)&v4, 22, 56, key2, &kl2);
	assert_memory_equal(key, key2, kl);
	struct sockaddr_in6 v6 = {.sin6_family = AF_INET6};
	inet_pton(AF_INET6, "2001:db8:aa:bbcc::1", &v6.sin6_addr);
	n = gk_front_relay_query(cq, sizeof(cq), 1, false, 1232, q);
	m = gk_front_relay_add_ecs(q, n, (struct sockaddr *)&v6, 24, 56, key, &kl);
	assert_int_equal(m, n + 8 + 7);
	static const uint8_t key6[] = {2, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 0xaa, 0xbb};
	assert_memory_equal(key, key6, sizeof(key6));
	/* the scope of an answer carrying it back: the query itself as an answer */
	q[2] |= 0x80;
	q[n + 7] = 40; /* SCOPE */
	assert_int_equal(gk_front_relay_ecs_scope(q, m, sizeof(cq)), 40);
	assert_int_equal(gk_front_relay_ecs_scope(q, n, sizeof(cq)), -1); /* OPT cut: malformed */
	n = gk_front_relay_query(cq, sizeof(cq), 1, false, 1232, q);
	assert_int_equal(gk_front_relay_ecs_scope(q, n, sizeof(cq)), -1); /* no option */
	/* no address: nothing appended */
	assert_int_equal(gk_front_relay_add_ecs(q, n, NULL, 24, 56, key, &kl), n);
	assert_int_equal(kl, 0);
}

/* cq with an OPT holding the options opts[0..ol) */
static size_t with_opt(uint8_t *q, const uint8_t *opts, size_t ol)
{
	memcpy(q, cq, sizeof(cq));
	q[11] = 1;
	uint8_t *o = q + sizeof(cq);
	static const uint8_t hdr[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0};
	memcpy(o, hdr, sizeof(hdr));
	o[9] = (uint8_t)(ol >> 8);
	o[10] = (uint8_t)ol;
	memcpy(o + 11, opts, ol);
	return sizeof(cq) + 11 + ol;
}

static void test_client_ecs(void **state)
{
	(void)state;
	uint8_t q[256];
	gk_relay_ecs_t e;
	/* 192.0.2.0/24 */
	static const uint8_t ok4[] = {0, 8, 0, 7, 0, 1, 24, 0, 192, 0, 2};
	size_t n = with_opt(q, ok4, sizeof(ok4));
	assert_int_equal(gk_front_relay_client_ecs(q, n, sizeof(cq), &e), 1);
	assert_int_equal(e.family, 1);
	assert_int_equal(e.source, 24);
	assert_int_equal(e.alen, 3);
	assert_int_equal(e.addr[2], 2);
	/* another option before it is skipped (a cookie) */
	static const uint8_t cookie_ecs[] = {0, 10, 0, 8, 1, 2, 3,  4, 5,   6, 7, 8,
	                                     0, 8,  0, 7, 0, 1, 24, 0, 192, 0, 2};
	n = with_opt(q, cookie_ecs, sizeof(cookie_ecs));
	assert_int_equal(gk_front_relay_client_ecs(q, n, sizeof(cq), &e), 1);
	/* prefix 0: "do not use my subnet", no address octets (RFC 7871 7.1.2) */
	static const uint8_t zero[] = {0, 8, 0, 4, 0, 2, 0, 0};
	n = with_opt(q, zero, sizeof(zero));
	assert_int_equal(gk_front_relay_client_ecs(q, n, sizeof(cq), &e), 1);
	assert_int_equal(e.family, 2);
	assert_int_equal(e.source, 0);
	assert_int_equal(e.alen, 0);
	/* none: no OPT, or an OPT without ECS */
	assert_int_equal(gk_front_relay_client_ecs(cq, sizeof(cq), sizeof(cq), &e), 0);
	n = with_opt(q, cookie_ecs, 12);
	assert_int_equal(gk_front_relay_client_ecs(q, n, sizeof(cq), &e), 0);
	/* invalid (RFC 7871 6, 7.1.1): FORMERR */
	static const struct {
		uint8_t o[24];
		size_t len;
	} bad[] = {
	    {{0, 8, 0, 7, 0, 3, 24, 0, 192, 0, 2}, 11},       /* unknown FAMILY */
	    {{0, 8, 0, 4, 0, 0, 0, 0}, 8},                    /* FAMILY 0 */
	    {{0, 8, 0, 9, 0, 1, 33, 0, 192, 0, 2, 1, 0}, 13}, /* prefix longer than IPv4 */
	    {{0, 8, 0, 8, 0, 1, 24, 0, 192, 0, 2, 0}, 12},    /* an octet beyond the prefix's */
	    {{0, 8, 0, 6, 0, 1, 24, 0, 192, 0}, 10},          /* an octet short */
	    {{0, 8, 0, 7, 0, 1, 22, 0, 192, 0, 3}, 11},       /* a bit set beyond /22 */
	    {{0, 8, 0, 7, 0, 1, 24, 16, 192, 0, 2}, 11},      /* SCOPE in a query */
	    {{0, 8, 0, 3, 0, 1, 0}, 7},                       /* shorter than its fixed part */
	    {{0, 8, 0, 4, 0, 1, 0, 0, 0, 8, 0, 4, 0, 1, 0, 0}, 16}, /* two ECS options */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = with_opt(q, bad[i].o, bad[i].len);
		assert_int_equal(gk_front_relay_client_ecs(q, n, sizeof(cq), &e), GK_ESYNTAX);
	}
	/* an option running past the OPT */
	n = with_opt(q, ok4, sizeof(ok4));
	assert_int_equal(gk_front_relay_client_ecs(q, n - 1, sizeof(cq), &e), GK_ESYNTAX);
}

static void test_put_and_echo(void **state)
{
	(void)state;
	uint8_t q[256], key[18];
	size_t kl;
	/* the client's 2001:db8:aa:bb00::/64, the pool's ipv6 56: /56 sent */
	gk_relay_ecs_t e = {.family = 2,
	                    .source = 64,
	                    .alen = 8,
	                    .addr = {0x20, 0x01, 0x0d, 0xb8, 0, 0xaa, 0xbb, 0xcc}};
	size_t n = gk_front_relay_query(cq, sizeof(cq), 1, false, 1232, q);
	size_t m = gk_front_relay_put_ecs(q, n, &e, 24, 56, key, &kl);
	assert_int_equal(m, n + 8 + 7);
	static const uint8_t opt6[] = {0,    8,    0,    11,   0, 2,    56,  0,
	                               0x20, 0x01, 0x0d, 0xb8, 0, 0xaa, 0xbb};
	assert_memory_equal(q + n, opt6, sizeof(opt6));
	assert_int_equal(kl, 9);
	/* narrower than the pool's: kept as the client sent it; bits beyond cut */
	gk_relay_ecs_t e4 = {.family = 1, .source = 20, .alen = 3, .addr = {198, 51, 0x60}};
	n = gk_front_relay_query(cq, sizeof(cq), 1, false, 1232, q);
	m = gk_front_relay_put_ecs(q, n, &e4, 16, 56, key, &kl);
	static const uint8_t opt4[] = {0, 8, 0, 6, 0, 1, 16, 0, 198, 51};
	assert_int_equal(m, n + sizeof(opt4));
	assert_memory_equal(q + n, opt4, sizeof(opt4));
	m = gk_front_relay_put_ecs(q, n, &e4, 24, 56, key, &kl);
	static const uint8_t opt4b[] = {0, 8, 0, 7, 0, 1, 20, 0, 198, 51, 0x60};
	assert_memory_equal(q + n, opt4b, sizeof(opt4b));
	/* prefix 0 forwarded as prefix 0 */
	gk_relay_ecs_t z = {.family = 1, .source = 0, .alen = 0};
	m = gk_front_relay_put_ecs(q, n, &z, 24, 56, key, &kl);
	static const uint8_t opt0[] = {0, 8, 0, 4, 0, 1, 0, 0};
	assert_int_equal(m, n + sizeof(opt0));
	assert_memory_equal(q + n, opt0, sizeof(opt0));
	assert_int_equal(kl, 2);

	/* echo into an answer with an OPT (the query as an answer): appended to it */
	uint8_t a[256];
	n = gk_front_relay_query(cq, sizeof(cq), 1, true, 1232, a);
	a[2] |= 0x80;
	m = gk_front_relay_echo_ecs(a, n, sizeof(a), sizeof(cq), &e4, 16, 1232, true);
	assert_int_equal(m, n + 11);
	static const uint8_t echo4[] = {0, 8, 0, 7, 0, 1, 20, 16, 198, 51, 0x60};
	assert_memory_equal(a + n, echo4, sizeof(echo4));
	assert_int_equal(a[n - 2] << 8 | a[n - 1], 11); /* OPT RDLENGTH */
	assert_int_equal(gk_front_relay_ecs_scope(a, m, sizeof(cq)), 16);
	assert_int_equal(a[11], 1);
	/* an answer without OPT: ours added, holding it */
	memcpy(a, cq, sizeof(cq));
	a[2] |= 0x80;
	m = gk_front_relay_echo_ecs(a, sizeof(cq), sizeof(a), sizeof(cq), &e4, 0, 1232, true);
	assert_int_equal(m, sizeof(cq) + GK_RELAY_OPT_LEN + 11);
	assert_int_equal(a[11], 1);
	assert_int_equal(a[sizeof(cq) + 2], 41);
	assert_int_equal(a[sizeof(cq) + 7], 0x80); /* DO */
	assert_int_equal(gk_front_relay_ecs_scope(a, m, sizeof(cq)), 0);
	/* no room: 0 */
	memcpy(a, cq, sizeof(cq));
	assert_int_equal(gk_front_relay_echo_ecs(a, sizeof(cq), sizeof(cq) + 20, sizeof(cq), &e4, 0,
	                                         1232, false),
	                 0);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* m: the question of cq and nothing but one additional record (counts 1/0/0/1). */
static void one_opt_after_question(const uint8_t *m)
{
	assert_int_equal(get16(m + 4), 1);
	assert_int_equal(get16(m + 6), 0);
	assert_int_equal(get16(m + 8), 0);
	assert_int_equal(get16(m + 10), 1);
	assert_memory_equal(m + 12, cq + 12, sizeof(cq) - 12);
}

/* An answer to cq larger than 512 octets: 40 A records (owner a pointer to the question),
 * an NS record in the authority section, then the client's ECS option echoed with scope 24
 * in our OPT (udp_max 1232, DO), as relay() in fwd.c makes it. Returns its length. */
static size_t big_answer(uint8_t *a, size_t cap)
{
	static const uint8_t an[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 0};
	static const uint8_t ns[] = {0xc0, 16, 0, 2, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 16};
	size_t n = sizeof(cq);
	memcpy(a, cq, n);
	a[2] = 0x85; /* QR AA RD */
	a[7] = 40;   /* ANCOUNT */
	a[9] = 1;    /* NSCOUNT */
	for (unsigned i = 0; i < 40; i++) {
		memcpy(a + n, an, sizeof(an));
		a[n + 15] = (uint8_t)i;
		n += sizeof(an);
	}
	memcpy(a + n, ns, sizeof(ns));
	n += sizeof(ns);
	gk_relay_ecs_t e4 = {.family = 1, .source = 24, .alen = 3, .addr = {203, 0, 113}};
	return gk_front_relay_echo_ecs(a, n, cap, sizeof(cq), &e4, 24, 1232, true);
}

/* big_answer with a backend's option in the OPT as well: an EDE 3 with 40 octets of text
 * behind the ECS echo. */
static size_t big_answer_ede(uint8_t *a, size_t cap)
{
	static const uint8_t head[] = {0, 15, 0, 42, 0, 3};
	size_t len = big_answer(a, cap);
	memcpy(a + len, head, sizeof(head));
	memset(a + len + sizeof(head), 'x', 40);
	a[len - 12] = 11 + 46; /* the OPT's RDLENGTH (its 11 octets of RDATA were last) */
	return len + 46;
}

/* An answer to cq of an A record, nadd additional A records (owners pointers to the
 * question, 16 octets each) and, when opt, our OPT (11 octets) last -- or before the
 * additional records when opt_first. aa false and an A record in authority instead of the
 * answer: a referral's shape. */
static size_t with_additional(uint8_t *a, unsigned nadd, bool opt, bool opt_first, bool referral)
{
	static const uint8_t rr[] = {0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 1};
	static const uint8_t o[] = {0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0};
	size_t n = sizeof(cq);
	memcpy(a, cq, n);
	a[2] = referral ? 0x80 : 0x84;
	memcpy(a + n, rr, sizeof(rr));
	n += sizeof(rr);
	a[7] = referral ? 0 : 1;
	a[9] = referral ? 1 : 0;
	if (referral)
		a[n - 13] = 2; /* NS, rdata a pointer-sized name is enough for the walk */
	if (opt && opt_first) {
		memcpy(a + n, o, sizeof(o));
		n += sizeof(o);
	}
	for (unsigned i = 0; i < nadd; i++) {
		memcpy(a + n, rr, sizeof(rr));
		a[n + 15] = (uint8_t)(i + 2);
		n += sizeof(rr);
	}
	if (opt && !opt_first) {
		memcpy(a + n, o, sizeof(o));
		n += sizeof(o);
	}
	a[10] = 0;
	a[11] = (uint8_t)(nadd + (opt ? 1 : 0));
	return n;
}

/* An answer too large for the client that fits without some additional records: those
 * records left out, the OPT kept, no TC (RFC 2181 9); a referral, or an OPT that is not
 * last, still cut with TC. */
static void test_trim_additional(void **state)
{
	(void)state;
	uint8_t a[2048];
	gk_relay_q_t r = {.id = 1, .client_id = 0x4321, .qend = sizeof(cq), .client_limit = 512};
	size_t len = with_additional(a, 40, true, false, false);
	assert_true(len > 512);
	size_t m = gk_front_relay_answer(&r, a, len);
	/* 512 - question (32) - A (16) - OPT (11) = 453: 28 records of 16 */
	assert_int_equal(m, sizeof(cq) + 16 + 28 * 16 + 11);
	assert_false(a[2] & 0x02);
	assert_int_equal(get16(a + 6), 1);
	assert_int_equal(get16(a + 10), 29);
	assert_int_equal(get16(a + m - 11 + 1), 41);             /* the OPT last, whole */
	assert_int_equal(a[sizeof(cq) + 16 + 27 * 16 + 15], 29); /* the 28th record, in place */
	/* without EDNS (no OPT): 29 records */
	len = with_additional(a, 40, false, false, false);
	assert_int_equal(gk_front_relay_answer(&r, a, len), sizeof(cq) + 16 + 29 * 16);
	assert_int_equal(get16(a + 10), 29);
	assert_false(a[2] & 0x02);
	/* a referral's glue is not left out: TC */
	len = with_additional(a, 40, true, false, true);
	m = gk_front_relay_answer(&r, a, len);
	assert_true(a[2] & 0x02);
	assert_int_equal(get16(a + 8), 0);
	/* an OPT before the records: TC (nothing is moved across it) */
	len = with_additional(a, 40, true, true, false);
	m = gk_front_relay_answer(&r, a, len);
	assert_true(a[2] & 0x02);
	assert_int_equal(get16(a + 6), 0);
}

static void test_truncate_keeps_opt(void **state)
{
	(void)state;
	uint8_t a[2048];
	size_t len = big_answer(a, sizeof(a));
	const size_t opt = GK_RELAY_OPT_LEN + 11; /* our OPT holding a /24 ECS option */
	assert_int_equal(len, sizeof(cq) + 40 * 16 + 14 + opt);
	assert_int_equal(a[11], 1);
	gk_relay_q_t r = {.id = 1, .client_id = 0x4321, .qend = sizeof(cq), .client_limit = 512};
	/* an EDNS client's 512: header, question, OPT; TC; counts 0/0/1 */
	size_t m = gk_front_relay_answer(&r, a, len);
	assert_int_equal(m, sizeof(cq) + opt);
	assert_int_equal(get16(a), 0x4321);
	assert_true(a[2] & 0x02);
	one_opt_after_question(a);
	const uint8_t *o = a + sizeof(cq);
	assert_int_equal(o[0], 0);            /* root owner */
	assert_int_equal(get16(o + 1), 41);   /* OPT */
	assert_int_equal(get16(o + 3), 1232); /* our buffer size */
	assert_int_equal(o[7], 0x80);         /* DO */
	assert_int_equal(get16(o + 9), 11);   /* RDLENGTH: the ECS echo */
	static const uint8_t echo[] = {0, 8, 0, 7, 0, 1, 24, 24, 203, 0, 113};
	assert_memory_equal(o + 11, echo, sizeof(echo));
	assert_int_equal(gk_front_relay_ecs_scope(a, m, sizeof(cq)), 24);

	/* a limit the OPT exactly fits in, and one octet less: header and question alone */
	len = big_answer(a, sizeof(a));
	r.client_limit = (uint16_t)(sizeof(cq) + opt);
	assert_int_equal(gk_front_relay_answer(&r, a, len), sizeof(cq) + opt);
	assert_int_equal(get16(a + 10), 1);
	len = big_answer(a, sizeof(a));
	r.client_limit = (uint16_t)(sizeof(cq) + opt - 1);
	assert_int_equal(gk_front_relay_answer(&r, a, len), sizeof(cq));
	assert_true(a[2] & 0x02);
	assert_int_equal(get16(a + 6), 0);
	assert_int_equal(get16(a + 10), 0);

	/* an OPT with a backend's option too: kept whole when it fits, else no OPT (never
	 * an option cut) */
	len = big_answer_ede(a, sizeof(a));
	r.client_limit = 512;
	m = gk_front_relay_answer(&r, a, len);
	assert_int_equal(m, sizeof(cq) + opt + 46);
	assert_int_equal(get16(a + sizeof(cq) + 9), 11 + 46);
	assert_int_equal(get16(a + sizeof(cq) + GK_RELAY_OPT_LEN + 11), 15);
	assert_int_equal(get16(a + 10), 1);
	len = big_answer_ede(a, sizeof(a));
	r.client_limit = (uint16_t)(sizeof(cq) + opt + 45);
	assert_int_equal(gk_front_relay_answer(&r, a, len), sizeof(cq));
	assert_int_equal(get16(a + 10), 0);

	/* the OPT not last (a record behind it) and owned by a compression pointer: moved up,
	 * its owner written as the root */
	size_t n = answer_with_opt(a);
	a[sizeof(cq) + 16] = 0xc0; /* the OPT's owner: a pointer to the question (2 octets) */
	memmove(a + sizeof(cq) + 18, a + sizeof(cq) + 17, n - (sizeof(cq) + 17));
	a[sizeof(cq) + 17] = 12;
	n++;
	r.client_limit = (uint16_t)(n - 1);
	m = gk_front_relay_answer(&r, a, n);
	assert_int_equal(m, sizeof(cq) + GK_RELAY_OPT_LEN);
	assert_int_equal(a[sizeof(cq)], 0);
	assert_int_equal(get16(a + sizeof(cq) + 1), 41);
	assert_int_equal(get16(a + sizeof(cq) + 3), 4096);
	assert_int_equal(get16(a + 10), 1);

	/* no OPT (a client without EDNS: fix_opt removed it): header and question, as before */
	len = big_answer(a, sizeof(a));
	bool has = true;
	len = gk_front_relay_fix_opt(a, len, sizeof(cq), false, 1232, &has);
	assert_false(has);
	assert_int_equal(a[11], 0);
	r.client_limit = 512;
	assert_int_equal(gk_front_relay_answer(&r, a, len), sizeof(cq));
	assert_int_equal(get16(a + 10), 0);
	/* an answer that cannot be walked: header and question */
	len = big_answer(a, sizeof(a));
	a[9] = 3; /* NSCOUNT past the records */
	assert_int_equal(gk_front_relay_answer(&r, a, len), sizeof(cq));
}

static void test_error_ede(void **state)
{
	(void)state;
	static const struct {
		gk_relay_err_t why;
		uint8_t rcode;
		uint16_t code;
		const char *text;
	} want[] = {
	    {GK_RELAY_ERR_NO_BACKEND, GK_RCODE_SERVFAIL, 22, "no backend available"},
	    {GK_RELAY_ERR_TIMEOUT, GK_RCODE_SERVFAIL, 22, "backend timeout"},
	    {GK_RELAY_ERR_UNREACHABLE, GK_RCODE_SERVFAIL, 23, "backend unreachable"},
	    {GK_RELAY_ERR_TABLE_FULL, GK_RCODE_SERVFAIL, 0, "outstanding query table full"},
	    {GK_RELAY_ERR_MALFORMED, GK_RCODE_SERVFAIL, 0, "malformed backend answer"},
	    {GK_RELAY_ERR_ECS, GK_RCODE_FORMERR, 0, "invalid EDNS Client Subnet option"},
	    {GK_RELAY_ERR_CONN, GK_RCODE_SERVFAIL, 23, "backend connection failed"},
	};
	assert_int_equal(sizeof(want) / sizeof(want[0]), GK_RELAY_ERR_N);
	uint8_t out[sizeof(cq) + GK_RELAY_ERR_MAX + 1];
	for (size_t i = 0; i < GK_RELAY_ERR_N; i++) {
		size_t tl = strlen(want[i].text);
		memset(out, 0xee, sizeof(out));
		size_t n = gk_front_relay_error(cq, sizeof(cq), 0x5555, want[i].why, true, true,
		                                1232, out);
		assert_int_equal(n, sizeof(cq) + GK_RELAY_OPT_LEN + 6 + tl);
		assert_true(n <= sizeof(cq) + GK_RELAY_ERR_MAX);
		assert_int_equal(out[sizeof(out) - 1], 0xee); /* nothing written past the room */
		assert_int_equal(gk_front_relay_error_rcode(want[i].why), want[i].rcode);
		assert_int_equal(get16(out), 0x5555);
		assert_int_equal(out[2], 0x81);                 /* QR RD */
		assert_int_equal(out[3], 0x80 | want[i].rcode); /* RA */
		one_opt_after_question(out);
		const uint8_t *o = out + sizeof(cq);
		assert_int_equal(o[0], 0);
		assert_int_equal(get16(o + 1), 41);
		assert_int_equal(get16(o + 3), 1232);
		assert_int_equal(o[5], 0);    /* extended rcode */
		assert_int_equal(o[7], 0x80); /* DO as asked */
		assert_int_equal(get16(o + 9), 6 + tl);
		assert_int_equal(get16(o + 11), 15); /* EDE */
		assert_int_equal(get16(o + 13), 2 + tl);
		assert_int_equal(get16(o + 15), want[i].code);
		assert_memory_equal(o + 17, want[i].text, tl);
		/* a client without EDNS: no OPT */
		n = gk_front_relay_error(cq, sizeof(cq), 0x5555, want[i].why, false, false, 1232,
		                         out);
		assert_int_equal(n, sizeof(cq));
		assert_int_equal(get16(out + 10), 0);
		assert_int_equal(out[3], 0x80 | want[i].rcode);
	}
	/* DO not asked: not set */
	gk_front_relay_error(cq, sizeof(cq), 1, GK_RELAY_ERR_TIMEOUT, true, false, 1232, out);
	assert_int_equal(out[sizeof(cq) + 7], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_and_match),
	    cmocka_unit_test(test_fix_opt),
	    cmocka_unit_test(test_ecs),
	    cmocka_unit_test(test_client_ecs),
	    cmocka_unit_test(test_put_and_echo),
	    cmocka_unit_test(test_truncate_keeps_opt),
	    cmocka_unit_test(test_trim_additional),
	    cmocka_unit_test(test_error_ede),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
