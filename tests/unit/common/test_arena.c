/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_arena.c -- region allocator: alignment, big blocks, dup, accounting.
 *
 * Memory errors (overlap, use after free, leaks) surface under the GK_SANITIZE build.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"

#define MIB ((size_t)1 << 20)

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
		assert_int_equal((uintptr_t)p % 8, 0);
		assert_ptr_not_equal(p, prev);
		memset(p, (int)i, sz); /* writable over its whole size */
		prev = p;
	}
	assert_true(gk_arena_bytes(a) >= 5000 * 8);
	gk_arena_free(a);
}

/* Blocks are rounded to 8 bytes, not 16 (a zone's names, rdata and answer bodies are
 * small: 16-byte rounding cost 135 arena bytes a bench zone); a block asked 16-aligned is. */
static void test_rounding(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new();
	assert_non_null(a);
	uint8_t *p = gk_arena_alloc(a, 5), *q = gk_arena_alloc(a, 8), *r = gk_arena_alloc(a, 1);
	assert_non_null(p);
	assert_non_null(q);
	assert_non_null(r);
	assert_int_equal(q - p, 8);
	assert_int_equal(r - q, 8);
	for (size_t i = 0; i < 4; i++) {
		uint8_t *x = gk_arena_alloc_aligned(a, 24, 16), *y = gk_arena_alloc(a, 8);
		assert_non_null(x);
		assert_non_null(y);
		assert_int_equal((uintptr_t)x % 16, 0);
		memset(x, 1, 24);
		memset(y, 2, 8);
		assert_int_equal(x[23], 1);
	}
	gk_arena_free(a);
}

/* Block i of p[0..n) (sz[i] bytes) still holds the byte i & 0xff it was filled with: no
 * later block overlapped it. Checks every step-th byte. */
static void check_fills(uint8_t *const *p, const size_t *sz, size_t n, size_t step)
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < sz[i]; k += step)
			assert_int_equal(p[i][k], i & 0xff);
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
		assert_int_equal((uintptr_t)p[i] % 8, 0);
		memset(p[i], (int)(i & 0xff), sz[i]);
	}
	check_fills(p, sz, N, 97);
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

/* Aligned blocks: aligned, not overlapping their neighbours, in a fresh arena, mid-chunk
 * and at a chunk's end. */
static void test_aligned(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new();
	enum { N = 6000 };
	uint8_t *p[N];
	size_t sz[N];
	for (size_t i = 0; i < N; i++) {
		size_t align = (size_t)16 << (i % 4); /* 16 .. 128 */
		sz[i] = 1 + (i * 37) % 300;
		p[i] = gk_arena_alloc_aligned(a, sz[i], align);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % align, 0);
		memset(p[i], (int)(i & 0xff), sz[i]);
	}
	check_fills(p, sz, N, 7);
	gk_arena_free(a);
}

/* A huge-page arena: small chunks first, then 2 MiB-aligned 2 MiB chunks; blocks still
 * never overlap. */
static void test_huge_arena(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new_huge();
	assert_non_null(a);
	enum { N = 40000 };
	uint8_t **p = calloc(N, sizeof(*p));
	size_t *sz = calloc(N, sizeof(*sz));
	assert_non_null(p);
	assert_non_null(sz);
	size_t before = gk_arena_bytes(a), huge_chunks = 0;
	for (size_t i = 0; i < N; i++) {
		sz[i] = i % 997 == 5 ? 600 * 1024 : 1 + (i * 31) % 600;
		p[i] = gk_arena_alloc(a, sz[i]);
		assert_non_null(p[i]);
		assert_int_equal((uintptr_t)p[i] % 8, 0);
		memset(p[i], (int)(i & 0xff), sz[i]);
		size_t now = gk_arena_bytes(a), grew = now - before;
		if (grew != 0 && sz[i] < 64 * 1024) { /* a new chunk for a small block */
			if (before >= 4 * MIB) {
				assert_int_equal(grew, 2 * MIB);
				assert_true((uintptr_t)p[i] % (2 * MIB) <
				            64); /* first in its chunk */
				huge_chunks++;
			} else {
				assert_true(grew < 2 * MIB);
			}
		}
		before = now;
	}
	assert_true(huge_chunks >= 2);
	check_fills(p, sz, N, 101);
	gk_arena_free(a);
	free(p);
	free(sz);
}

/* AnonHugePages of the mapping that holds addr, or -1 when it cannot be read. */
static long anon_huge_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	if (!f)
		return -1;
	char line[512];
	bool in = false;
	long kb = -1;
	while (fgets(line, sizeof line, f)) {
		uintptr_t lo, hi;
		if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " ", &lo, &hi) == 2 &&
		    strchr(line, ' ')) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "AnonHugePages: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

static void test_map_huge(void **state)
{
	(void)state;
	uint8_t *s = gk_arena_map_huge(1000);
	assert_non_null(s);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(s[i], 0);
	gk_arena_unmap_huge(s, 1000);
	size_t n = 5 * MIB;
	uint8_t *b = gk_arena_map_huge(n);
	assert_non_null(b);
	assert_int_equal((uintptr_t)b % (2 * MIB), 0);
	for (size_t i = 0; i < n; i += 4093)
		assert_int_equal(b[i], 0);
	memset(b, 7, n);
	/* With THP available to advised memory, the block is backed by huge pages. */
	char mode[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	if (f) {
		if (!fgets(mode, sizeof mode, f))
			mode[0] = 0;
		fclose(f);
	}
	if (strstr(mode, "[always]") || strstr(mode, "[madvise]"))
		assert_true(anon_huge_kb(b) >= 2048);
	gk_arena_unmap_huge(b, n);
}

#if defined(__SANITIZE_ADDRESS__)
#define POOLED 0 /* chunks are malloc'd under AddressSanitizer (arena.c) */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOLED 0
#endif
#endif
#ifndef POOLED
#define POOLED 1
#endif

/* A small huge-page arena (a zone version) grows its chunk in place and, once trimmed,
 * holds what it used rounded to 64 plus the chunk header, not a power of two. */
static void test_grow_and_trim(void **state)
{
	(void)state;
	enum { N = 300 };
	gk_arena_t *a = gk_arena_new_huge();
	assert_non_null(a);
	uint8_t *p[N];
	size_t sz[N], used = 0;
	for (size_t i = 0; i < N; i++) {
		sz[i] = 16 + (i * 13) % 33; /* 16..48: 16 or 32 or 48 after rounding */
		p[i] = gk_arena_alloc(a, sz[i]);
		assert_non_null(p[i]);
		memset(p[i], (int)(i & 0xff), sz[i]);
		used += (sz[i] + 15) & ~(size_t)15;
	}
	gk_arena_trim(a);
	check_fills(p, sz, N, 1);
	if (POOLED)
		assert_true(gk_arena_bytes(a) <= used + 64 + 64);
	/* what the trim gave back serves the next arena; nothing overlaps */
	gk_arena_t *b = gk_arena_new_huge();
	assert_non_null(b);
	for (size_t i = 0; i < 100; i++) {
		uint8_t *q = gk_arena_alloc(b, 48);
		assert_non_null(q);
		memset(q, 0xee, 48);
	}
	check_fills(p, sz, N, 1);
	gk_arena_free(a);
	/* allocations after a trim still work, in a new chunk */
	assert_non_null(gk_arena_alloc(b, 4000));
	gk_arena_trim(b);
	assert_non_null(gk_arena_alloc(b, 16));
	gk_arena_free(b);
}

/* The pad before a 64-aligned block serves later small requests. */
static void test_gap_filled(void **state)
{
	(void)state;
	gk_arena_t *a = gk_arena_new_huge();
	assert_non_null(a);
	uint8_t *x = gk_arena_alloc(a, 16);
	uint8_t *blk = gk_arena_alloc_aligned(a, 96, 64);
	assert_non_null(x);
	assert_non_null(blk);
	assert_int_equal((uintptr_t)blk % 64, 0);
	memset(blk, 0x5a, 96);
	if ((size_t)(blk - x) > 16) { /* a pad was left between them */
		uint8_t *y = gk_arena_alloc(a, 16);
		assert_true(y > x && y + 16 <= blk);
		memset(y, 0, 16);
		for (size_t i = 0; i < 96; i++)
			assert_int_equal(blk[i], 0x5a);
	}
	gk_arena_free(a);
}

/* Many arenas freed and made again (zone replacements) reuse the pool: the bytes the
 * arenas hold stay those of the live ones, and nothing overlaps. */
static void test_churn(void **state)
{
	(void)state;
	enum { LIVE = 64 };
	gk_arena_t *live[LIVE] = {0};
	uint8_t *first[LIVE] = {0};
	for (size_t round = 0; round < 4000; round++) {
		size_t k = (round * 37) % LIVE;
		gk_arena_free(live[k]);
		live[k] = gk_arena_new_huge();
		assert_non_null(live[k]);
		size_t n = 1 + (round * 7) % 200;
		for (size_t i = 0; i < n; i++) {
			uint8_t *q = gk_arena_alloc(live[k], 32);
			assert_non_null(q);
			memset(q, (int)(k & 0xff), 32);
			if (i == 0)
				first[k] = q;
		}
		gk_arena_trim(live[k]);
		for (size_t j = 0; j < LIVE; j++)
			if (live[j])
				assert_int_equal(first[j][0], (int)(j & 0xff));
	}
	for (size_t j = 0; j < LIVE; j++)
		gk_arena_free(live[j]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_alignment_and_distinct),
	    cmocka_unit_test(test_rounding),
	    cmocka_unit_test(test_no_overlap),
	    cmocka_unit_test(test_big_first),
	    cmocka_unit_test(test_dup),
	    cmocka_unit_test(test_aligned),
	    cmocka_unit_test(test_huge_arena),
	    cmocka_unit_test(test_map_huge),
	    cmocka_unit_test(test_grow_and_trim),
	    cmocka_unit_test(test_gap_filled),
	    cmocka_unit_test(test_churn),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
