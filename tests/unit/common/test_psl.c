/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_psl.c -- registrable domains from wire labels (common/psl.h).
 *
 * The registrable domain is derived from wire labels: a '.', '\\' or NUL byte inside a label
 * is data, never a separator, so "dot\.inlabel.example.com.cn" belongs to example.com.cn and
 * "a\.b.cn" is its own registrable domain under cn, not a name below b.cn. Real list: the
 * Debian publicsuffix package's file (libpsl's built-in list as a fall-back).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/psl.h"

static gk_psl_t *psl;

static int setup(void **state)
{
	(void)state;
	return gk_psl_open(NULL, &psl);
}

static int teardown(void **state)
{
	(void)state;
	gk_psl_close(psl);
	return 0;
}

/* Wire form of a name given as label lengths and bytes: "\3www\3foo\2cn" style literal. */
static int reg(const char *wire, size_t len)
{
	return gk_psl_registrable_wire(psl, (const unsigned char *)wire, len);
}

#define REG(lit) reg(lit, sizeof(lit)) /* sizeof counts the final NUL: the root label */

static void test_ordinary_names(void **state)
{
	(void)state;
	assert_int_equal(REG("\3www\3foo\3com\2cn"), 4);
	assert_int_equal(REG("\3foo\3com\2cn"), 0);
	assert_int_equal(REG("\3com\2cn"), -1); /* a public suffix */
	assert_int_equal(REG("\2cn"), -1);
	assert_int_equal(REG("\1x\3foo\2bj\2cn"), 2);     /* province suffix */
	assert_int_equal(REG("\3foo\12invalidtld"), 0);   /* implicit "*" rule */
	assert_int_equal(REG("\1a\3foo\6github\2io"), 6); /* private section ignored */
	assert_int_equal(reg("", 1), -1);                 /* the root */
	assert_int_equal(reg("\3foo\2cn", 6), -1);        /* no final root label */
}

static void test_odd_bytes_are_label_data(void **state)
{
	(void)state;
	/* dot\.inlabel.example.com.cn: the 11-octet label is one label */
	assert_int_equal(REG("\13dot.inlabel\7example\3com\2cn"), 12);
	/* a\.b.cn: one label "a.b" below cn, itself the registrable domain */
	assert_int_equal(REG("\3a.b\2cn"), 0);
	assert_int_equal(REG("\3www\3a.b\2cn"), 4);
	/* com.cn as one label "com.cn" under cn is not the public suffix com.cn */
	assert_int_equal(REG("\6com.cn\2cn"), 0);
	/* backslash and NUL bytes */
	assert_int_equal(REG("\4a\\\\b\7example\2cn"), 5);
	assert_int_equal(REG("\3a\0b\7example\2cn"), 4);
	assert_int_equal(REG("\3x\0y\2cn"), 0);
	/* a TLD label with a dot: unknown, the implicit "*" rule makes it a suffix */
	assert_int_equal(REG("\3foo\3c.n"), 0);
}

/* gk_psl_below_wire: a name below a registrable domain R has R as its own unless a rule
 * makes a longer suffix public -- the list has such rules below names that are not suffixes
 * themselves (os.hordaland.no while hordaland.no is registrable). */
#define BELOW(lit, rlen) gk_psl_below_wire(psl, (const unsigned char *)(lit), sizeof(lit), rlen)

static void test_below(void **state)
{
	(void)state;
	assert_true(BELOW("\3ns1\7example\2cn", 12));
	assert_true(BELOW("\1a\1b\7example\3com\2cn", 16));
	assert_true(BELOW("\7example\2cn", 12));           /* R itself */
	assert_int_equal(REG("\2os\11hordaland\2no"), -1); /* a public suffix, */
	assert_int_equal(REG("\11hordaland\2no"), 0);      /* below a registrable name */
	assert_false(BELOW("\1x\2os\11hordaland\2no", 14));
	assert_true(BELOW("\1x\2no\11hordaland\2no", 14));
	assert_false(BELOW("\3ns1\7example\2cn", 40)); /* longer than the name */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ordinary_names),
	    cmocka_unit_test(test_odd_bytes_are_label_data),
	    cmocka_unit_test(test_below),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
