/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_strmap.c -- the string map: insertion-order indices, lookups by
 * length, growth, the three key ownerships, handing the keys over. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include <string.h>
#include "common/strmap.h"

static void test_add_find(void **state)
{
	(void)state;
	gk_strmap_t m;
	gk_strmap_init(&m, NULL, 0);
	uint32_t i = 99;
	assert_int_equal(gk_strmap_find(&m, "a", 1), 0); /* empty: no table yet */
	assert_int_equal(gk_strmap_add(&m, "abc", 3, &i), 1);
	assert_int_equal(i, 0);
	assert_int_equal(gk_strmap_add(&m, "abcd", 2, &i), 1); /* "ab": only len octets */
	assert_int_equal(i, 1);
	assert_int_equal(gk_strmap_add(&m, "abc", 3, &i), 0);
	assert_int_equal(i, 0);
	assert_int_equal(gk_strmap_add(&m, "", 0, &i), 1); /* the empty key is a key */
	assert_int_equal(i, 2);
	assert_int_equal(gk_strmap_find(&m, "ab", 2), 2);
	assert_int_equal(gk_strmap_find(&m, "abc", 3), 1);
	assert_int_equal(gk_strmap_find(&m, "abcd", 4), 0);
	assert_int_equal(gk_strmap_find(&m, "a", 1), 0);
	assert_int_equal(gk_strmap_find(&m, "", 0), 3);
	assert_int_equal(gk_strmap_count(&m), 3);
	assert_string_equal(gk_strmap_key(&m, 1), "ab");
	gk_strmap_free(&m);
	assert_int_equal(gk_strmap_count(&m), 0);
	assert_int_equal(gk_strmap_find(&m, "abc", 3), 0);
	gk_strmap_free(&m); /* twice is fine */
}

/* Many keys: every one keeps its index through the growths. */
static void test_growth(void **state)
{
	(void)state;
	gk_strmap_t m;
	gk_strmap_init(&m, NULL, 0);
	char k[32];
	for (uint32_t n = 0; n < 100000; n++) {
		int l = snprintf(k, sizeof(k), "key-%u.example", n);
		uint32_t i;
		assert_int_equal(gk_strmap_add(&m, k, (size_t)l, &i), 1);
		assert_int_equal(i, n);
	}
	for (uint32_t n = 0; n < 100000; n += 7) {
		int l = snprintf(k, sizeof(k), "key-%u.example", n);
		assert_int_equal(gk_strmap_find(&m, k, (size_t)l), n + 1);
		assert_string_equal(gk_strmap_key(&m, n), k);
	}
	assert_int_equal(gk_strmap_find(&m, "key-100000.example", 18), 0);
	assert_true(m.cap >= 2 * gk_strmap_count(&m)); /* at most half full */
	gk_strmap_free(&m);
}

/* Borrowed keys are the caller's pointers; a caller's arena keeps its copies. */
static void test_ownership(void **state)
{
	(void)state;
	const char *words[] = {"one", "two", "three"};
	gk_strmap_t m;
	uint32_t i;
	gk_strmap_init(&m, NULL, GK_STRMAP_BORROW);
	for (int w = 0; w < 3; w++)
		assert_int_equal(gk_strmap_add(&m, words[w], strlen(words[w]), &i), 1);
	assert_ptr_equal(gk_strmap_key(&m, 2), words[2]);
	gk_strmap_free(&m);

	gk_arena_t *a = gk_arena_new();
	assert_non_null(a);
	gk_strmap_init(&m, a, 0);
	char buf[8] = "two";
	assert_int_equal(gk_strmap_add(&m, buf, 3, &i), 1);
	assert_int_equal(gk_strmap_add(&m, "one", 3, &i), 1);
	buf[0] = 'x'; /* the map holds a copy */
	assert_int_equal(gk_strmap_find(&m, "two", 3), 1);
	size_t n = 0;
	const char **keys = gk_strmap_release_keys(&m, &n);
	assert_int_equal(n, 2);
	assert_string_equal(keys[0], "two"); /* in the arena: alive after the map */
	assert_string_equal(keys[1], "one");
	free(keys);
	gk_arena_free(a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_add_find),
	    cmocka_unit_test(test_growth),
	    cmocka_unit_test(test_ownership),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
