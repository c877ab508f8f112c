/* SPDX-License-Identifier: MIT */
/* tests/unit/pkt/test_parse.c -- the query parse (pkt/parse.h): what is accepted, what is
 * dropped, FORMERR, NOTIMP and BADVERS, the lowercased question and its label offsets, EDNS,
 * and the prefetch helpers agreeing with the full parse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "pkt/parse.h"

/* A query in buf: header (id 0x1234, flags hi/lo, qd/an/ns/ar), question wire name, type
 * and class 1. Returns its length. */
static size_t query(uint8_t *buf, uint8_t hi, uint8_t lo, uint16_t qd, uint16_t an, uint16_t ns,
                    uint16_t ar, const uint8_t *name, size_t nlen, uint16_t qtype)
{
	uint8_t h[12] = {0x12,
	                 0x34,
	                 hi,
	                 lo,
	                 (uint8_t)(qd >> 8),
	                 (uint8_t)qd,
	                 (uint8_t)(an >> 8),
	                 (uint8_t)an,
	                 (uint8_t)(ns >> 8),
	                 (uint8_t)ns,
	                 (uint8_t)(ar >> 8),
	                 (uint8_t)ar};
	memcpy(buf, h, 12);
	memcpy(buf + 12, name, nlen);
	size_t p = 12 + nlen;
	buf[p++] = (uint8_t)(qtype >> 8);
	buf[p++] = (uint8_t)qtype;
	buf[p++] = 0;
	buf[p++] = 1;
	return p;
}

/* An OPT record at buf: root owner, size, version, DO, rdata of rdlen octets (opts). */
static size_t opt(uint8_t *buf, uint16_t size, uint8_t version, bool dob, const uint8_t *rdata,
                  uint16_t rdlen)
{
	uint8_t r[11] = {0,
	                 0,
	                 41,
	                 (uint8_t)(size >> 8),
	                 (uint8_t)size,
	                 0,
	                 version,
	                 dob ? 0x80 : 0,
	                 0,
	                 (uint8_t)(rdlen >> 8),
	                 (uint8_t)rdlen};
	memcpy(buf, r, 11);
	if (rdlen)
		memcpy(buf + 11, rdata, rdlen);
	return 11u + rdlen;
}

static const uint8_t WWW[] = "\x03WwW\x03"
                             "Foo\x03"
                             "COM\x02"
                             "cn";
#define WWW_LEN (sizeof(WWW)) /* the string's NUL is the root label */

static void test_plain(void **state)
{
	(void)state;
	uint8_t b[512];
	gk_query_t q;
	size_t n = query(b, 0x01, 0x00, 1, 0, 0, 0, WWW, WWW_LEN, 28);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.flags_hi, 0x01);
	assert_int_equal(q.qtype, 28);
	assert_int_equal(q.qclass, 1);
	assert_int_equal(q.qlen, WWW_LEN);
	assert_int_equal(q.labels, 4);
	assert_int_equal(q.qend, n);
	assert_false(q.edns);
	assert_false(q.do_bit);
	/* lowercased; the query's own bytes (0x20 case) untouched */
	assert_memory_equal(q.qname,
	                    "\x03www\x03"
	                    "foo\x03"
	                    "com\x02"
	                    "cn",
	                    WWW_LEN);
	assert_memory_equal(b + 12, WWW, WWW_LEN);
	static const uint8_t loff[] = {0, 4, 8, 12};
	assert_memory_equal(q.loff, loff, sizeof(loff));
}

static void test_root_and_long(void **state)
{
	(void)state;
	uint8_t b[600], name[300];
	gk_query_t q;
	size_t n = query(b, 0, 0, 1, 0, 0, 0, (const uint8_t *)"", 1, 2);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_int_equal(q.qlen, 1);
	assert_int_equal(q.labels, 0);

	/* 255 octets: four labels of 63 (4 * 64 = 256) is one too many; 3 * 64 + 62 + 1 = 255 */
	size_t p = 0;
	for (int l = 0; l < 4; l++) {
		uint8_t len = l < 3 ? 63 : 61;
		name[p++] = len;
		memset(name + p, 'A', len);
		p += len;
	}
	name[p++] = 0;
	assert_int_equal(p, 255);
	n = query(b, 0, 0, 1, 0, 0, 0, name, p, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_int_equal(q.qlen, 255);
	assert_int_equal(q.qname[1], 'a');

	/* 257 octets: too long */
	name[p - 1] = 1;
	name[p] = 'x';
	name[p + 1] = 0;
	n = query(b, 0, 0, 1, 0, 0, 0, name, p + 2, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	assert_int_equal(q.qend, 0);
}

static void test_drop(void **state)
{
	(void)state;
	uint8_t b[512];
	gk_query_t q;
	size_t n = query(b, 0x81, 0, 1, 0, 0, 0, WWW, WWW_LEN, 1); /* QR: an answer */
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_DROP);
	assert_int_equal(gk_pkt_parse_query(b, 11, &q), GK_PARSE_DROP);
	assert_int_equal(gk_pkt_parse_query(b, 0, &q), GK_PARSE_DROP);
}

static void test_formerr(void **state)
{
	(void)state;
	uint8_t b[512];
	gk_query_t q;
	size_t n;
	/* no question, two questions */
	n = query(b, 0, 0, 0, 0, 0, 0, WWW, WWW_LEN, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	n = query(b, 0, 0, 2, 0, 0, 0, WWW, WWW_LEN, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	/* records in the answer or authority section of a query */
	n = query(b, 0, 0, 1, 1, 0, 0, WWW, WWW_LEN, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	assert_int_equal(q.qend, n); /* the question is usable for the FORMERR answer */
	n = query(b, 0, 0, 1, 0, 1, 0, WWW, WWW_LEN, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	/* a compression pointer in the question: not followed */
	static const uint8_t ptr[] = {3, 'w', 'w', 'w', 0xc0, 12};
	n = query(b, 0, 0, 1, 0, 0, 0, ptr, sizeof(ptr), 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	assert_int_equal(q.qend, 0);
	/* an extended label type (0x40) */
	static const uint8_t ext[] = {0x41, 'x', 0};
	n = query(b, 0, 0, 1, 0, 0, 0, ext, sizeof(ext), 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
	/* the question cut short: inside the name, and inside type/class */
	n = query(b, 0, 0, 1, 0, 0, 0, WWW, WWW_LEN, 1);
	assert_int_equal(gk_pkt_parse_query(b, 12 + 6, &q), GK_PARSE_FORMERR);
	assert_int_equal(gk_pkt_parse_query(b, n - 1, &q), GK_PARSE_FORMERR);
	/* trailing garbage after the question */
	b[n] = 0;
	assert_int_equal(gk_pkt_parse_query(b, n + 1, &q), GK_PARSE_FORMERR);
	/* an additional record count with nothing there */
	n = query(b, 0, 0, 1, 0, 0, 1, WWW, WWW_LEN, 1);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);
}

static void test_notimp(void **state)
{
	(void)state;
	uint8_t b[512];
	gk_query_t q;
	size_t n = query(b, 5 << 3, 0, 1, 0, 0, 0, WWW, WWW_LEN, 6); /* UPDATE */
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_NOTIMP);
	assert_int_equal(q.qend, n);
	assert_int_equal(q.qtype, 6);
}

static void test_edns(void **state)
{
	(void)state;
	uint8_t b[512];
	gk_query_t q;
	size_t n = query(b, 0, 0, 1, 0, 0, 1, WWW, WWW_LEN, 48);
	static const uint8_t cookie[] = {0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8};
	n += opt(b + n, 1232, 0, true, cookie, sizeof(cookie));
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_true(q.edns);
	assert_true(q.do_bit);
	assert_int_equal(q.edns_size, 1232);
	assert_int_equal(q.edns_version, 0);

	/* an EDNS Client Subnet option is not the parser's: even an invalid one (a bit set
	 * beyond its /22) parses, so our own zones answer as without it; the front end checks
	 * it for forwarded names (front/relay.h gk_front_relay_client_ecs) */
	static const uint8_t ecs[] = {0, 8, 0, 7, 0, 1, 22, 0, 198, 51, 103};
	n = query(b, 0, 0, 1, 0, 0, 1, WWW, WWW_LEN, 1);
	n += opt(b + n, 1232, 0, false, ecs, sizeof(ecs));
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_true(q.edns);

	/* version 1: BADVERS, the rest parsed */
	n = query(b, 0, 0, 1, 0, 0, 1, WWW, WWW_LEN, 1);
	n += opt(b + n, 4096, 1, false, NULL, 0);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_BADVERS);
	assert_int_equal(q.edns_version, 1);
	assert_int_equal(q.edns_size, 4096);

	/* options that do not tile the rdata */
	static const uint8_t bad[] = {0, 10, 0, 9, 1, 2, 3, 4, 5, 6, 7, 8};
	n = query(b, 0, 0, 1, 0, 0, 1, WWW, WWW_LEN, 1);
	n += opt(b + n, 1232, 0, false, bad, sizeof(bad));
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);

	/* two OPT records (RFC 6891 6.1.1) */
	n = query(b, 0, 0, 1, 0, 0, 2, WWW, WWW_LEN, 1);
	n += opt(b + n, 1232, 0, false, NULL, 0);
	n += opt(b + n, 1232, 0, false, NULL, 0);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);

	/* an OPT whose owner is not the root */
	n = query(b, 0, 0, 1, 0, 0, 1, WWW, WWW_LEN, 1);
	b[n++] = 1;
	b[n++] = 'x';
	n += opt(b + n, 1232, 0, false, NULL, 0);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_FORMERR);

	/* another record before the OPT (a compressed owner: skipped, not followed) */
	n = query(b, 0, 0, 1, 0, 0, 2, WWW, WWW_LEN, 1);
	static const uint8_t other[] = {0xc0, 12, 0, 16, 0, 1, 0, 0, 0, 0, 0, 2, 1, 'z'};
	memcpy(b + n, other, sizeof(other));
	n += sizeof(other);
	n += opt(b + n, 512, 0, false, NULL, 0);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_true(q.edns);
	assert_int_equal(q.edns_size, 512);
}

/* The prefetch helpers see the question exactly as the full parse does. */
static void test_prefetch_agrees(void **state)
{
	(void)state;
	uint8_t b[512], name[GK_DNAME_MAX + 1], loff[GK_DNAME_LABELS_MAX];
	unsigned labels = 0;
	gk_query_t q;
	uint64_t h;
	uint16_t t;
	size_t n = query(b, 0, 0, 1, 0, 0, 0, WWW, WWW_LEN, 15);
	assert_int_equal(gk_pkt_parse_query(b, n, &q), GK_PARSE_OK);
	assert_int_equal(gk_pkt_parse_question_name(b, n, name, loff, &labels), q.qlen);
	assert_memory_equal(name, q.qname, q.qlen);
	assert_memory_equal(loff, q.loff, q.labels);
	assert_int_equal(labels, q.labels);
	assert_true(gk_pkt_parse_question_hash(b, n, &h, &t));
	assert_int_equal(t, 15);
	assert_true(h == gk_namehash(q.qname, q.qlen));
	/* case does not change the hash */
	b[13] = 'w';
	uint64_t h2;
	assert_true(gk_pkt_parse_question_hash(b, n, &h2, &t));
	assert_true(h == h2);
	/* no question they accept: an answer, a pointer, cut short */
	b[2] |= 0x80;
	assert_false(gk_pkt_parse_question_hash(b, n, &h, &t));
	assert_int_equal(gk_pkt_parse_question_name(b, n, name, loff, &labels), 0);
	b[2] &= 0x7f;
	assert_false(gk_pkt_parse_question_hash(b, 12 + WWW_LEN + 1, &h, &t));
	static const uint8_t ptr[] = {3, 'w', 'w', 'w', 0xc0, 12};
	n = query(b, 0, 0, 1, 0, 0, 0, ptr, sizeof(ptr), 1);
	assert_false(gk_pkt_parse_question_hash(b, n, &h, &t));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_plain),
	    cmocka_unit_test(test_root_and_long),
	    cmocka_unit_test(test_drop),
	    cmocka_unit_test(test_formerr),
	    cmocka_unit_test(test_notimp),
	    cmocka_unit_test(test_edns),
	    cmocka_unit_test(test_prefetch_agrees),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
