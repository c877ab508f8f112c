/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_relay.c -- backend query and answer checks (front/relay.h).
 *
 * The backend query keeps the client's question bytes (0x20) under our own ID and OPT;
 * answers with another ID, another question (even by case), no QR or another opcode do
 * not match; a matched answer gets the client's ID back, and one larger than the client
 * may receive over UDP becomes header and question with TC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "front/relay.h"

/* client query: ID 0x1234, RD, AD set, www.ExAmple.cn A, no EDNS */
static const uint8_t cq[] = {0x12, 0x34, 0x01, 0x20, 0,   1, 0,   0,   0,   0,   0,
                             0,    3,    'w',  'w',  'w', 7, 'E', 'x', 'A', 'm', 'p',
                             'l',  'e',  2,    'c',  'n', 0, 0,   1,   0,   1};

static void test_query_and_match(void **state)
{
	(void)state;
	uint8_t sent[128], a[2048];
	size_t n = gk_relay_query(cq, sizeof(cq), 0xbeef, true, 1232, sent);
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
	assert_true(gk_relay_match(&r, sent, a, alen));
	a[1] ^= 1; /* another ID */
	assert_false(gk_relay_match(&r, sent, a, alen));
	a[1] ^= 1;
	a[17] = 'e'; /* "ExAmple" in another case: not our question */
	assert_false(gk_relay_match(&r, sent, a, alen));
	a[17] = 'E';
	a[2] &= 0x7f; /* no QR */
	assert_false(gk_relay_match(&r, sent, a, alen));
	a[2] |= 0x80 | 0x08; /* opcode IQUERY */
	assert_false(gk_relay_match(&r, sent, a, alen));
	a[2] &= (uint8_t)~0x08;
	a[5] = 2; /* two questions */
	assert_false(gk_relay_match(&r, sent, a, alen));
	a[5] = 1;
	assert_false(gk_relay_match(&r, sent, a, 20)); /* cut */
	assert_true(gk_relay_match(&r, sent, a, alen));
	/* the client's ID back */
	assert_int_equal(gk_relay_answer(&r, a, alen), alen);
	assert_int_equal(a[0] << 8 | a[1], 0x1234);
	/* too large for the client over UDP: header and question with TC */
	memset(a + alen, 0, 600);
	a[7] = 9;
	assert_int_equal(gk_relay_answer(&r, a, alen + 600), sizeof(cq));
	assert_true(a[2] & 0x02);
	assert_int_equal(a[7], 0);
	assert_int_equal(a[5], 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_query_and_match),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
