/* SPDX-License-Identifier: MIT */
/* tests/unit/net/test_tcp_frame.c -- reassembly of length-prefixed DNS messages from a
 * stream cut at every possible point, several per read, and oversized announcements.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "net/tcp_frame.h"

/* Three messages of lengths 12, 0 and 300, framed back to back. */
static size_t build_stream(uint8_t *buf)
{
	static const size_t lens[] = {12, 0, 300};
	size_t n = 0;
	for (size_t i = 0; i < 3; i++) {
		gk_net_tcp_frame_prefix(lens[i], buf + n);
		n += 2;
		memset(buf + n, (int)(0xa0 + i), lens[i]);
		n += lens[i];
	}
	return n;
}

/* Feed the stream in two reads split at `cut`, consuming messages like the connection does:
 * the buffer keeps unconsumed bytes. */
static void feed_split(const uint8_t *stream, size_t total, size_t cut)
{
	uint8_t buf[1024];
	size_t have = 0, fed = 0, got = 0;
	static const size_t lens[] = {12, 0, 300};
	size_t reads[2] = {cut, total - cut};
	for (int r = 0; r < 2; r++) {
		memcpy(buf + have, stream + fed, reads[r]);
		have += reads[r];
		fed += reads[r];
		size_t off = 0;
		for (;;) {
			const uint8_t *msg;
			size_t mlen, used;
			gk_tcp_frame_t f =
			    gk_net_tcp_frame_next(buf + off, have - off, 512, &msg, &mlen, &used);
			if (f == GK_TCP_FRAME_MORE)
				break;
			assert_int_equal(f, GK_TCP_FRAME_MSG);
			assert_true(got < 3);
			assert_int_equal(mlen, lens[got]);
			assert_int_equal(used, mlen + 2);
			for (size_t i = 0; i < mlen; i++)
				assert_int_equal(msg[i], 0xa0 + got);
			got++;
			off += used;
		}
		memmove(buf, buf + off, have - off);
		have -= off;
	}
	assert_int_equal(got, 3);
	assert_int_equal(have, 0);
}

static void test_every_split(void **state)
{
	(void)state;
	uint8_t stream[1024];
	size_t total = build_stream(stream);
	for (size_t cut = 0; cut <= total; cut++)
		feed_split(stream, total, cut);
}

static void test_partial_prefix(void **state)
{
	(void)state;
	const uint8_t one[1] = {0x00};
	const uint8_t *msg;
	size_t mlen, used;
	assert_int_equal(gk_net_tcp_frame_next(one, 0, 512, &msg, &mlen, &used), GK_TCP_FRAME_MORE);
	assert_int_equal(gk_net_tcp_frame_next(one, 1, 512, &msg, &mlen, &used), GK_TCP_FRAME_MORE);
	const uint8_t hdr[3] = {0x00, 0x05, 0x01};
	assert_int_equal(gk_net_tcp_frame_next(hdr, 3, 512, &msg, &mlen, &used), GK_TCP_FRAME_MORE);
}

static void test_too_big(void **state)
{
	(void)state;
	const uint8_t big[2] = {0x02, 0x01}; /* 513 */
	const uint8_t *msg;
	size_t mlen, used;
	assert_int_equal(gk_net_tcp_frame_next(big, 2, 512, &msg, &mlen, &used),
	                 GK_TCP_FRAME_TOO_BIG);
	const uint8_t max[2] = {0xff, 0xff};
	assert_int_equal(gk_net_tcp_frame_next(max, 2, 65535, &msg, &mlen, &used),
	                 GK_TCP_FRAME_MORE);
}

static void test_prefix(void **state)
{
	(void)state;
	uint8_t p[2];
	gk_net_tcp_frame_prefix(0x1234, p);
	assert_int_equal(p[0], 0x12);
	assert_int_equal(p[1], 0x34);
	gk_net_tcp_frame_prefix(65535, p);
	assert_int_equal(p[0], 0xff);
	assert_int_equal(p[1], 0xff);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_split),
	    cmocka_unit_test(test_partial_prefix),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_prefix),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
