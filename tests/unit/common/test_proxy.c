/* SPDX-License-Identifier: MIT */
/* tests/unit/net/test_proxy.c -- the PROXY v2 header parser: IPv4 and IPv6 over UDP and TCP,
 * LOCAL, UNSPEC and UNIX families, TLVs, a header cut at every length, and each way to be
 * malformed; the writer's headers round-tripped through the parser.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include "common/proxy.h"

static const uint8_t SIG[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* A header: version/command byte, family/transport byte, body of blen octets. */
static size_t hdr(uint8_t *b, uint8_t vc, uint8_t ft, const uint8_t *body, size_t blen)
{
	memcpy(b, SIG, 12);
	b[12] = vc;
	b[13] = ft;
	b[14] = (uint8_t)(blen >> 8);
	b[15] = (uint8_t)blen;
	if (blen)
		memcpy(b + 16, body, blen);
	return 16 + blen;
}

static const uint8_t V4[12] = {192, 0, 2, 1, 198, 51, 100, 53, 0x30, 0x39, 0, 53};

static void test_ipv4(void **state)
{
	(void)state;
	uint8_t b[600], body[40];
	gk_proxy_t p;
	/* UDP over IPv4, followed by the DNS message */
	size_t n = hdr(b, 0x21, 0x12, V4, 12);
	memcpy(b + n, "\x12\x34", 2);
	assert_int_equal(gk_proxy_parse(b, n + 2, &p), (int)n);
	assert_int_equal(p.cmd, GK_PROXY_PROXY);
	assert_true(p.has_addr);
	assert_true(p.dgram);
	const struct sockaddr_in *s = (const struct sockaddr_in *)&p.src;
	const struct sockaddr_in *d = (const struct sockaddr_in *)&p.dst;
	assert_int_equal(s->sin_family, AF_INET);
	assert_int_equal(ntohl(s->sin_addr.s_addr), 0xc0000201u);
	assert_int_equal(ntohs(s->sin_port), 12345);
	assert_int_equal(ntohl(d->sin_addr.s_addr), 0xc6336435u);
	assert_int_equal(ntohs(d->sin_port), 53);
	/* TCP, with a TLV (PP2_TYPE_NOOP) after the addresses */
	memcpy(body, V4, 12);
	memcpy(body + 12,
	       "\x04\x00\x03"
	       "abc",
	       6);
	n = hdr(b, 0x21, 0x11, body, 18);
	assert_int_equal(gk_proxy_parse(b, n, &p), 34);
	assert_false(p.dgram);
	assert_true(p.has_addr);
}

static void test_ipv6(void **state)
{
	(void)state;
	uint8_t b[600], body[36];
	gk_proxy_t p;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1", body), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::53", body + 16), 1);
	memcpy(body + 32, "\xd4\x31\x00\x35", 4);
	size_t n = hdr(b, 0x21, 0x22, body, 36);
	assert_int_equal(gk_proxy_parse(b, n, &p), 52);
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&p.src;
	assert_int_equal(s->sin6_family, AF_INET6);
	assert_memory_equal(&s->sin6_addr, body, 16);
	assert_int_equal(ntohs(s->sin6_port), 54321);
}

static void test_local_unspec_unix(void **state)
{
	(void)state;
	uint8_t b[600], body[216] = {0};
	gk_proxy_t p;
	/* LOCAL: the balancer's own health check; any addresses are ignored */
	size_t n = hdr(b, 0x20, 0x12, V4, 12);
	assert_int_equal(gk_proxy_parse(b, n, &p), 28);
	assert_int_equal(p.cmd, GK_PROXY_LOCAL);
	assert_false(p.has_addr);
	n = hdr(b, 0x20, 0x00, NULL, 0);
	assert_int_equal(gk_proxy_parse(b, n, &p), 16);
	n = hdr(b, 0x20, 0x12, NULL, 0); /* the family of a LOCAL block is ignored */
	assert_int_equal(gk_proxy_parse(b, n, &p), 16);
	assert_false(p.has_addr);
	/* PROXY with UNSPEC or UNIX: accepted, no address */
	n = hdr(b, 0x21, 0x00, NULL, 0);
	assert_int_equal(gk_proxy_parse(b, n, &p), 16);
	assert_false(p.has_addr);
	n = hdr(b, 0x21, 0x31, body, 216);
	assert_int_equal(gk_proxy_parse(b, n, &p), 232);
	assert_false(p.has_addr);
}

static void test_incomplete(void **state)
{
	(void)state;
	uint8_t b[600];
	gk_proxy_t p;
	size_t n = hdr(b, 0x21, 0x11, V4, 12);
	for (size_t cut = 0; cut < n; cut++)
		assert_int_equal(gk_proxy_parse(b, cut, &p), 0);
	assert_int_equal(gk_proxy_parse(b, n, &p), (int)n);
	/* a prefix that is not the signature is not "incomplete" */
	assert_int_equal(gk_proxy_parse((const uint8_t *)"\x0d\x0a\x0d\x0b", 4, &p), -1);
	assert_true(gk_proxy_maybe(SIG, 5));
	assert_false(gk_proxy_maybe((const uint8_t *)"\x12\x34", 2));
}

static void test_malformed(void **state)
{
	(void)state;
	uint8_t b[2000], body[1100] = {0};
	gk_proxy_t p;
	size_t n;
	/* a DNS query is not a header */
	static const uint8_t dns[12] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
	assert_int_equal(gk_proxy_parse(dns, sizeof(dns), &p), -1);
	/* version 1 (binary form does not exist), 3; command 2; family 4; transport 3 */
	static const uint8_t vc[] = {0x11, 0x31, 0x22};
	for (size_t i = 0; i < sizeof(vc); i++) {
		n = hdr(b, vc[i], 0x11, V4, 12);
		assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	}
	n = hdr(b, 0x21, 0x41, V4, 12);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	n = hdr(b, 0x21, 0x13, V4, 12);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	/* too short for the family's addresses */
	n = hdr(b, 0x21, 0x11, V4, 11);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	n = hdr(b, 0x21, 0x21, body, 35);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	/* longer than GK_PROXY_HDR_MAX: refused before it is all read */
	n = hdr(b, 0x21, 0x11, body, GK_PROXY_HDR_MAX - 16 + 1);
	assert_int_equal(gk_proxy_parse(b, 16, &p), -1);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	n = hdr(b, 0x21, 0x11, body, GK_PROXY_HDR_MAX - 16);
	/* the largest accepted: 332 empty TLVs after the addresses */
	assert_int_equal(gk_proxy_parse(b, n, &p), (int)GK_PROXY_HDR_MAX);
	/* a TLV that overruns the body, a body that ends inside a TLV's header */
	memcpy(body, V4, 12);
	memcpy(body + 12,
	       "\x04\x00\x09"
	       "abc",
	       6);
	n = hdr(b, 0x21, 0x11, body, 18);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
	n = hdr(b, 0x21, 0x11, body, 14);
	assert_int_equal(gk_proxy_parse(b, n, &p), -1);
}

/* gk_proxy_write: IPv4 and IPv6, datagram and stream, a dst of another family, no src, and a
 * buffer too small; each header read back by gk_proxy_parse. */
static void test_write_roundtrip(void **state)
{
	(void)state;
	uint8_t b[GK_PROXY_WRITE_MAX];
	gk_proxy_t p;
	struct sockaddr_in s4 = {.sin_family = AF_INET, .sin_port = htons(53001)};
	struct sockaddr_in d4 = {.sin_family = AF_INET, .sin_port = htons(53)};
	inet_pton(AF_INET, "198.51.100.7", &s4.sin_addr);
	inet_pton(AF_INET, "192.0.2.1", &d4.sin_addr);
	int n = gk_proxy_write(b, sizeof(b), (struct sockaddr *)&s4, (struct sockaddr *)&d4, true);
	assert_int_equal(n, 28);
	assert_int_equal(gk_proxy_parse(b, (size_t)n, &p), 28);
	assert_int_equal(p.cmd, GK_PROXY_PROXY);
	assert_true(p.has_addr);
	assert_true(p.dgram);
	assert_memory_equal(&((struct sockaddr_in *)&p.src)->sin_addr, &s4.sin_addr, 4);
	assert_int_equal(((struct sockaddr_in *)&p.src)->sin_port, s4.sin_port);
	assert_memory_equal(&((struct sockaddr_in *)&p.dst)->sin_addr, &d4.sin_addr, 4);
	assert_int_equal(((struct sockaddr_in *)&p.dst)->sin_port, d4.sin_port);
	/* cut short: the parser asks for more, and a buffer too small is refused */
	for (int k = 0; k < n; k++)
		assert_int_equal(gk_proxy_parse(b, (size_t)k, &p), 0);
	assert_int_equal(gk_proxy_write(b, 27, (struct sockaddr *)&s4, NULL, true), -1);

	struct sockaddr_in6 s6 = {.sin6_family = AF_INET6, .sin6_port = htons(40000)};
	inet_pton(AF_INET6, "2001:db8::7", &s6.sin6_addr);
	/* dst of the other family: the unspecified address, port 0 */
	n = gk_proxy_write(b, sizeof(b), (struct sockaddr *)&s6, (struct sockaddr *)&d4, false);
	assert_int_equal(n, 52);
	assert_int_equal(gk_proxy_parse(b, (size_t)n, &p), 52);
	assert_int_equal(p.cmd, GK_PROXY_PROXY);
	assert_false(p.dgram);
	assert_int_equal(p.src.ss_family, AF_INET6);
	assert_memory_equal(&((struct sockaddr_in6 *)&p.src)->sin6_addr, &s6.sin6_addr, 16);
	assert_int_equal(((struct sockaddr_in6 *)&p.src)->sin6_port, s6.sin6_port);
	struct in6_addr any = IN6ADDR_ANY_INIT;
	assert_memory_equal(&((struct sockaddr_in6 *)&p.dst)->sin6_addr, &any, 16);
	assert_int_equal(((struct sockaddr_in6 *)&p.dst)->sin6_port, 0);

	/* no client address: LOCAL */
	n = gk_proxy_write(b, sizeof(b), NULL, NULL, true);
	assert_int_equal(n, 16);
	assert_int_equal(gk_proxy_parse(b, (size_t)n, &p), 16);
	assert_int_equal(p.cmd, GK_PROXY_LOCAL);
	assert_false(p.has_addr);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ipv4),
	    cmocka_unit_test(test_ipv6),
	    cmocka_unit_test(test_local_unspec_unix),
	    cmocka_unit_test(test_incomplete),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_write_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
