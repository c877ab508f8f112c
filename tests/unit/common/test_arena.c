/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_arena.c -- region allocator: alignment, big blocks, dup, accounting.
 *
 * Memory errors (overlap, use after free, leaks) surface under the GK_SANITIZE build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "common/arena.h"

static void test_alignment_and_distinct(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new();
	assert_non_null(a);
	uint8_t *prev = NULL;
	for (size_t i = 0; i < 5000; i++) {
		size_t sz = (i * 7) % 200; /* includes 0 */
		uint8_t *p = gk_arena_alloc(a, sz);
		assert_non_null(p);
		assert_int_equal((uintptr_t)p % 16, 0);
		assert_ptr_not_equal(p, prev);
		memset(p, (int)i, sz); /* writable over its whole size */
		prev = p;
	}
	assert_true(gk_arena_bytes(a) >= 5000 * 16);
	gk_arena_free(a);
}

/* Blocks never overlap: fill each with its own pattern, then check them all. */
static void test_no_overlap(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new();
	enum { N = 300 };
	uint8_t *p[N];
	size_t sz[N];
	for (size_t i = 0; i < N; i++) {
		/* mix small, chunk-sized and over-a-quarter-chunk (own block) requests */
		sz[i] = i % 50 == 7 ? 200 * 1024 : i % 11 == 3 ? 70 * 1024 : 1 + (i * 13) % 3000;
		p[i] = gk_arena_alloc(a, sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 16, 0);
		memset(p[i], (int)(i & 0xff), sz[i]);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = 0; k < sz[i]; k += 97)
			assert_int_equal(p[i][k], i & 0xff);
	gk_arena_free(a);
}

static void test_big_first(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new();
	uint8_t *big = gk_arena_alloc(a, 1u << 20);
	assert_non_null(big);
	memset(big, 1, 1u << 20);
	uint8_t *small = gk_arena_alloc(a, 10);
	assert_non_null(small);
	memset(small, 2, 10);
	assert_int_equal(big[(1u << 20) - 1], 1);
	assert_true(gk_arena_bytes(a) >= (1u << 20) + 16);
	gk_arena_free(a);
}

static void test_dup(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new();
	static const char s[] = "hello, arena";
	char *d = gk_arena_dup(a, s, sizeof s);
	assert_non_null(d);
	assert_ptr_not_equal(d, s);
	assert_string_equal(d, s);
	assert_non_null(gk_arena_dup(a, NULL, 0)); /* zero bytes: a valid, empty block */
	gk_arena_free(a);
	gk_arena_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alignment_and_distinct),
	    cmocka_unit_test(test_no_overlap),
	    cmocka_unit_test(test_big_first),
	    cmocka_unit_test(test_dup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
