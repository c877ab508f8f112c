/* SPDX-License-Identifier: MIT */
/* src/common/arena.c -- chunked bump allocator; large requests get a chunk of their own. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "common/arena.h"

#define CHUNK_SIZE (256u * 1024u)
/* The first chunk; each next one is as big as the arena so far, up to CHUNK_SIZE: an arena
 * per small zone (a few KiB) must not cost a quarter MiB, and a million of them must not
 * need a million mappings. */
#define FIRST_SIZE (1024u - 64u) /* with the chunk header: the pool's smallest class */
/* A huge-page arena's chunks once it holds HUGE_AFTER bytes: small arenas (a test's zone
 * set, a fuzz input's) stay in small chunks and never fault in 2 MiB at once. */
#define HUGE_SIZE  ((size_t)2u << 20)
#define HUGE_AFTER ((size_t)4u << 20)
#define PAGE       ((size_t)4096u)

struct chunk {
	struct chunk *next;
	bool mapped; /* a gk_arena_map_huge chunk of HUGE_SIZE (a huge-page arena's) */
	bool pooled; /* else: from the pool (below), or false: malloc'd */
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

/* The small chunks of huge-page arenas (a zone version's, until it has grown past
 * HUGE_AFTER) come from a process-wide pool of 2 MiB huge-page blocks: a hundred thousand
 * small zones then sit in a few hundred huge pages instead of scattered 4 KiB pages, and a
 * query's loads miss the TLB as rarely as they did when all zones shared one arena
 * (measured: 10,000 bench zones, the packet path in-process, ~10% fewer ns per query than
 * malloc'd chunks). Each thread carves chunks from a block of its own, in multiples of
 * POOL_GRAIN: the chunk carved last can grow in place (an arena built on one thread is then
 * one chunk) and gk_arena_trim gives its unused end back, so a small zone costs the bytes it
 * uses, not the next power of two (1,000,000 bench zones: slack was a quarter of the arena
 * bytes with power-of-two chunks). Freed chunks go to free lists by size class (class k:
 * at least 2^(POOL_MIN_SHIFT + k) bytes) and serve a later chunk of at most that size once
 * the thread's block is used up; pool memory is never returned to the system. Under
 * AddressSanitizer chunks are malloc'd, so a use after free is still caught. */
#if defined(__SANITIZE_ADDRESS__)
#define POOL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL 0
#endif
#endif
#ifndef POOL
#define POOL 1
#endif
#define POOL_GRAIN     ((size_t)64u)
#define POOL_MIN_SHIFT 6  /* 64 B */
#define POOL_CLASSES   13 /* .. 256 KiB = CHUNK_SIZE */
#define POOL_MAX       CHUNK_SIZE
#define GROW_MIN       ((size_t)4096u) /* a chunk grows in place by at least this much */

static struct {
	pthread_mutex_t mu;
	struct chunk *free[POOL_CLASSES];
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

/* The block this thread carves; a thread that exits leaves its rest unused (< 2 MiB). */
static _Thread_local struct {
	uint8_t *cur;
	size_t left;
} tl;

static size_t grain(size_t n)
{
	return (n + POOL_GRAIN - 1) & ~(POOL_GRAIN - 1);
}

/* The class a free chunk of total bytes belongs to: the largest k with 2^(MIN+k) <= total. */
static int class_down(size_t total)
{
	int k = 0;
	while (k + 1 < POOL_CLASSES && ((size_t)1 << (POOL_MIN_SHIFT + k + 1)) <= total)
		k++;
	return k;
}

/* The smallest class whose every chunk holds total bytes, or POOL_CLASSES. */
static int class_up(size_t total)
{
	int k = 0;
	while (k < POOL_CLASSES && ((size_t)1 << (POOL_MIN_SHIFT + k)) < total)
		k++;
	return k;
}

/* Caller holds pool.mu; total >= POOL_GRAIN. */
static void free_push(struct chunk *c, size_t total)
{
	int k = class_down(total);
	c->cap = total - sizeof(*c);
	c->next = pool.free[k];
	pool.free[k] = c;
}

/* A chunk of at least total bytes (a multiple of POOL_GRAIN, at most POOL_MAX), with its
 * cap set; NULL when out of memory. */
static struct chunk *pool_get(size_t total)
{
	struct chunk *c = NULL;
	if (tl.left >= total) {
		c = (struct chunk *)tl.cur;
		tl.cur += total;
		tl.left -= total;
		c->cap = total - sizeof(*c);
		c->pooled = true;
		return c;
	}
	pthread_mutex_lock(&pool.mu);
	for (int k = class_up(total); k < POOL_CLASSES && !c; k++)
		if (pool.free[k]) {
			c = pool.free[k];
			pool.free[k] = c->next;
		}
	if (!c) {
		uint8_t *b = gk_arena_map_huge(HUGE_SIZE);
		if (b) {
			/* the rest of the old block goes to the free lists */
			if (tl.left >= POOL_GRAIN)
				free_push((struct chunk *)tl.cur, tl.left);
			c = (struct chunk *)b;
			c->cap = total - sizeof(*c);
			tl.cur = b + total;
			tl.left = HUGE_SIZE - total;
		}
	}
	pthread_mutex_unlock(&pool.mu);
	if (c)
		c->pooled = true;
	return c;
}

static void pool_put(struct chunk *c)
{
	pthread_mutex_lock(&pool.mu);
	free_push(c, sizeof(*c) + c->cap);
	pthread_mutex_unlock(&pool.mu);
}

/* Whether c is the chunk this thread carved last from its block (it may grow or shrink
 * in place). */
static bool at_block_end(const struct chunk *c)
{
	return POOL && c->pooled && tl.cur != NULL && c->data + c->cap == tl.cur;
}

struct gk_arena {
	struct chunk *head;
	size_t bytes;
	bool huge;
	/* The pad gk_arena_alloc_aligned left before its block in the current chunk: later
	 * small requests fill it (a zone's 64-aligned nodes sat on a fifth of a line of
	 * padding each, where its rdata now goes). */
	unsigned char *gap;
	size_t gaplen;
	bool embedded; /* this header sits in the arena's first chunk (gk_arena_new_huge) */
};

gk_arena_t *gk_arena_new(void)
{
	return calloc(1, sizeof(gk_arena_t));
}

gk_arena_t *gk_arena_new_huge(void)
{
	if (POOL) {
		/* the header in the first chunk: a million zone versions, a million mallocs less */
		struct chunk *c = pool_get(grain(sizeof(*c) + FIRST_SIZE));
		if (c == NULL)
			return NULL;
		gk_arena_t *a = (gk_arena_t *)(void *)c->data;
		memset(a, 0, sizeof(*a));
		c->next = NULL;
		c->mapped = false;
		c->used = (sizeof(*a) + 15u) & ~(size_t)15u;
		a->head = c;
		a->bytes = sizeof(*c) + c->cap;
		a->huge = true;
		a->embedded = true;
		return a;
	}
	gk_arena_t *a = gk_arena_new();
	if (a)
		a->huge = true;
	return a;
}

void *gk_arena_map_huge(size_t len)
{
	if (len == 0)
		return NULL;
	len = (len + PAGE - 1) & ~(PAGE - 1);
	/* map a huge page more than asked and trim both ends to a 2 MiB boundary: an unaligned
	 * mapping of 2 MiB could hold no huge page at all */
	size_t over = len + HUGE_SIZE;
	uint8_t *p = mmap(NULL, over, PROT_READ | PROT_WRITE,
	                  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	uint8_t *a = (uint8_t *)(((uintptr_t)p + HUGE_SIZE - 1) & ~(uintptr_t)(HUGE_SIZE - 1));
	size_t head = (size_t)(a - p), tail = over - head - len;
	if (head)
		munmap(p, head);
	if (tail)
		munmap(a + len, tail);
	/* best effort, before the first touch: with THP "madvise" (Debian's default) nothing
	 * is huge without it */
	(void)madvise(a, len, MADV_HUGEPAGE);
	return a;
}

void gk_arena_unmap_huge(void *p, size_t len)
{
	if (p != NULL && len > 0)
		munmap(p, (len + PAGE - 1) & ~(PAGE - 1));
}

static struct chunk *chunk_new(gk_arena_t *a, size_t cap)
{
	struct chunk *c;
	bool mapped = a->huge && cap == CHUNK_SIZE && a->bytes >= HUGE_AFTER;
	bool pooled = POOL && a->huge && !mapped && sizeof(*c) + cap <= POOL_MAX;

	if (mapped) {
		cap = HUGE_SIZE - sizeof(*c);
		c = gk_arena_map_huge(HUGE_SIZE);
	} else if (pooled) {
		c = pool_get(grain(sizeof(*c) + cap));
	} else {
		c = malloc(sizeof(*c) + cap);
	}
	if (c == NULL)
		return NULL;
	c->mapped = mapped;
	if (!pooled)
		c->pooled = false, c->cap = cap;
	c->used = 0;
	a->bytes += sizeof(*c) + c->cap;
	return c;
}

/* Grow the arena's current chunk c in place so that size more bytes fit: true when done. */
static bool grow(gk_arena_t *a, struct chunk *c, size_t size)
{
	if (!at_block_end(c))
		return false;
	size_t need = grain(size - (c->cap - c->used)), want = need < GROW_MIN ? GROW_MIN : need;
	if (sizeof(*c) + c->cap + need > POOL_MAX || tl.left < need)
		return false;
	if (want > tl.left || sizeof(*c) + c->cap + want > POOL_MAX)
		want = need;
	tl.cur += want;
	tl.left -= want;
	c->cap += want;
	a->bytes += want;
	return true;
}

void *gk_arena_alloc(gk_arena_t *a, size_t size)
{
	size = (size + 7u) & ~(size_t)7u;
	if (size == 0)
		size = 8;
	if (size <= a->gaplen) {
		void *p = a->gap;
		a->gap += size;
		a->gaplen -= size;
		return p;
	}
	struct chunk *c = a->head;
	if (!c || (c->cap - c->used < size && !grow(a, c, size))) {
		if (size > CHUNK_SIZE / 4) {
			/* Big block: own chunk, linked behind the current one so the
			 * current chunk keeps serving small requests. */
			struct chunk *big = chunk_new(a, size);
			if (!big)
				return NULL;
			big->used = size;
			if (c) {
				big->next = c->next;
				c->next = big;
			} else {
				big->next = NULL;
				a->head = big;
			}
			return big->data;
		}
		size_t cap = a->bytes < 8 * FIRST_SIZE ? FIRST_SIZE
		             : a->bytes < CHUNK_SIZE   ? a->bytes / 2
		                                       : CHUNK_SIZE;
		struct chunk *n = chunk_new(a, cap < size ? size : cap);
		if (!n)
			return NULL;
		n->used = size;
		/* the chunk with more room left serves the next requests: the current one's tail
		 * is not abandoned for a request that did not fit in it (a small zone's arena is a
		 * few 1 KiB chunks, where abandoned tails were a fifth of the bytes) */
		if (c && c->cap - c->used > n->cap - n->used) {
			n->next = c->next;
			c->next = n;
		} else {
			n->next = c;
			a->head = n;
		}
		return n->data;
	}
	void *p = c->data + c->used;
	c->used += size;
	return p;
}

void *gk_arena_alloc_aligned(gk_arena_t *a, size_t size, size_t align)
{
	if (align <= 8)
		return gk_arena_alloc(a, size);
	struct chunk *c = a->head;
	size_t want = size ? (size + 7u) & ~(size_t)7u : 8u;
	if (c) { /* pad the current chunk up to the alignment when the block still fits */
		size_t pad = (size_t)(-(uintptr_t)(c->data + c->used)) & (align - 1u);
		if (c->cap - c->used < pad + want)
			(void)grow(a, c, pad + want);
		if (c->cap - c->used >= pad + want) {
			if (pad) {
				a->gap = c->data + c->used;
				a->gaplen = pad;
			}
			void *p = c->data + c->used + pad;
			c->used += pad + want;
			return p;
		}
	}
	uint8_t *p = gk_arena_alloc(a, size + align - 8u);
	return p ? (void *)(((uintptr_t)p + align - 1u) & ~(uintptr_t)(align - 1u)) : NULL;
}

void *gk_arena_dup(gk_arena_t *a, const void *src, size_t size)
{
	void *p = gk_arena_alloc(a, size);
	if (p && size)
		memcpy(p, src, size);
	return p;
}

void gk_arena_trim(gk_arena_t *a)
{
	struct chunk *c = a->head;
	if (!c || !at_block_end(c))
		return;
	size_t keep = grain(sizeof(*c) + c->used) - sizeof(*c);
	if (keep >= c->cap)
		return;
	size_t back = c->cap - keep;
	tl.cur -= back;
	tl.left += back;
	c->cap = keep;
	a->bytes -= back;
}

size_t gk_arena_bytes(const gk_arena_t *a)
{
	return a->bytes;
}

void gk_arena_free(gk_arena_t *a)
{
	if (!a)
		return;
	bool embedded = a->embedded; /* a is freed with its chunk */
	struct chunk *c = a->head;
	while (c) {
		struct chunk *n = c->next;
		if (c->mapped)
			gk_arena_unmap_huge(c, sizeof(*c) + c->cap);
		else if (c->pooled)
			pool_put(c);
		else
			free(c);
		c = n;
	}
	if (!embedded)
		free(a);
}
