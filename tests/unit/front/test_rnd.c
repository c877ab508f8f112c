/* SPDX-License-Identifier: MIT */
/* tests/unit/front/test_rnd.c -- the front end's random numbers: one getrandom call per
 * 1024 numbers (not one per number, as glibc 2.36's arc4random makes), every value reachable,
 * bounded draws in range and spread.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include "front/rnd.h"

static void test_refills(void **state)
{
	(void)state;
	gk_frnd_t *r = malloc(sizeof(*r));
	assert_non_null(r);
	gk_front_rnd_init(r);
	uint32_t or_all = 0, and_all = 0xffffffffu;
	for (unsigned i = 0; i < 10240; i++) {
		uint32_t v = gk_front_rnd_u32(r);
		or_all |= v;
		and_all &= v;
	}
	/* 10240 numbers of 4 bytes from 4096-byte refills */
	assert_int_equal(r->refills, 10);
	assert_int_equal(or_all, 0xffffffffu);
	assert_int_equal(and_all, 0);
	free(r);
}

static void test_below(void **state)
{
	(void)state;
	gk_frnd_t *r = malloc(sizeof(*r));
	assert_non_null(r);
	gk_front_rnd_init(r);
	unsigned seen[8] = {0};
	for (unsigned i = 0; i < 8000; i++) {
		uint32_t v = gk_front_rnd_below(r, 8);
		assert_true(v < 8);
		seen[v]++;
	}
	for (unsigned k = 0; k < 8; k++)
		assert_true(seen[k] > 700 && seen[k] < 1300);
	assert_int_equal(gk_front_rnd_below(r, 1), 0);
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_refills),
	    cmocka_unit_test(test_below),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
