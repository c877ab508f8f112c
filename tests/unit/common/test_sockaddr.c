/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_sockaddr.c -- "address:port" as written in a file (common/sockaddr.h):
 * IPv4 and bracketed IPv6, a required port in 1..65535 of digits only, no host names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <netinet/in.h>
#include <string.h>

#include "common/sockaddr.h"

static void test_parse(void **state)
{
	(void)state;
	gk_sockaddr_t l;
	assert_int_equal(gk_sockaddr_parse("10.1.2.3:65535", &l), 0);
	assert_int_equal(l.addrlen, sizeof(struct sockaddr_in));
	assert_int_equal(gk_sockaddr_parse("[2001:db8::1]:53", &l), 0);
	assert_int_equal(l.addrlen, sizeof(struct sockaddr_in6));
	assert_int_equal(gk_sockaddr_parse("[2001:db8::1]53", &l), GK_EINVAL);
	assert_int_equal(gk_sockaddr_parse("10.1.2.3:", &l), GK_EINVAL);
	assert_int_equal(gk_sockaddr_parse("10.1.2.3:65536", &l), GK_EINVAL);
	assert_int_equal(gk_sockaddr_parse("10.1.2.3:+53", &l), GK_EINVAL);
	assert_int_equal(gk_sockaddr_parse("host:53", &l), GK_EINVAL);
	assert_int_equal(gk_sockaddr_parse("", &l), GK_EINVAL);
}

/* the text is kept as written, for logs */
static void test_text(void **state)
{
	(void)state;
	gk_sockaddr_t l;
	assert_int_equal(gk_sockaddr_parse("[::1]:5353", &l), 0);
	assert_string_equal(l.text, "[::1]:5353");
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&l.addr;
	assert_int_equal(a6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(a6->sin6_port), 5353);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
