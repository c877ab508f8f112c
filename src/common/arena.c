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
	bool mapped;   /* a gk_map_huge chunk of HUGE_SIZE (a huge-page arena's) */
	int8_t pooled; /* else: the size class of a pooled chunk (below), or -1: malloc'd */
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

/* The small chunks of huge-page arenas (a zone version's, until it has grown past
 * HUGE_AFTER) come from a process-wide pool of 2 MiB huge-page blocks, in power-of-two
 * size classes from 1 KiB to CHUNK_SIZE: a hundred thousand small zones then sit in a few
 * hundred huge pages instead of scattered 4 KiB pages, and a query's loads miss the TLB as
 * rarely as they did when all zones shared one arena (measured: 10,000 bench zones, the
 * packet path in-process, ~10% fewer ns per query than malloc'd chunks). Freed chunks go
 * back to their class's free list for the next zone; pool memory is never returned to the
 * system. Under AddressSanitizer chunks are malloc'd, so a use after free is still caught. */
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
#define POOL_MIN_SHIFT 10 /* 1 KiB */
#define POOL_CLASSES   9  /* .. 256 KiB = CHUNK_SIZE */

static struct {
	pthread_mutex_t mu;
	struct chunk *free[POOL_CLASSES];
	uint8_t *cur; /* the block being carved */
	size_t left;
} pool = {.mu = PTHREAD_MUTEX_INITIALIZER};

static int pool_class(size_t total)
{
	int k = 0;
	while (((size_t)1 << (POOL_MIN_SHIFT + k)) < total)
		k++;
	return k < POOL_CLASSES ? k : -1;
}

static struct chunk *pool_get(int k)
{
	size_t size = (size_t)1 << (POOL_MIN_SHIFT + k);
	struct chunk *c = NULL;
	pthread_mutex_lock(&pool.mu);
	if (pool.free[k]) {
		c = pool.free[k];
		pool.free[k] = c->next;
	} else {
		if (pool.left < size) {
			/* the rest of the block goes to the smaller classes' lists */
			for (int j = k - 1; j >= 0; j--) {
				size_t sz = (size_t)1 << (POOL_MIN_SHIFT + j);
				while (pool.left >= sz) {
					struct chunk *r = (struct chunk *)pool.cur;
					r->next = pool.free[j];
					pool.free[j] = r;
					pool.cur += sz;
					pool.left -= sz;
				}
			}
			pool.cur = gk_map_huge(HUGE_SIZE);
			pool.left = pool.cur ? HUGE_SIZE : 0;
		}
		if (pool.left >= size) {
			c = (struct chunk *)pool.cur;
			pool.cur += size;
			pool.left -= size;
		}
	}
	pthread_mutex_unlock(&pool.mu);
	if (c)
		c->pooled = (int8_t)k;
	return c;
}

static void pool_put(struct chunk *c)
{
	pthread_mutex_lock(&pool.mu);
	c->next = pool.free[c->pooled];
	pool.free[c->pooled] = c;
	pthread_mutex_unlock(&pool.mu);
}

struct gk_arena {
	struct chunk *head;
	size_t bytes;
	bool huge;
};

gk_arena_t *gk_arena_new(void)
{
	return calloc(1, sizeof(gk_arena_t));
}

gk_arena_t *gk_arena_new_huge(void)
{
	gk_arena_t *a = gk_arena_new();
	if (a)
		a->huge = true;
	return a;
}

void *gk_map_huge(size_t len)
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

void gk_unmap_huge(void *p, size_t len)
{
	if (p != NULL && len > 0)
		munmap(p, (len + PAGE - 1) & ~(PAGE - 1));
}

static struct chunk *chunk_new(gk_arena_t *a, size_t cap)
{
	struct chunk *c;
	bool mapped = a->huge && cap == CHUNK_SIZE && a->bytes >= HUGE_AFTER;
	int k = POOL && a->huge && !mapped ? pool_class(sizeof(*c) + cap) : -1;

	if (mapped)
		cap = HUGE_SIZE - sizeof(*c);
	else if (k >= 0)
		cap = ((size_t)1 << (POOL_MIN_SHIFT + k)) - sizeof(*c);
	c = mapped ? gk_map_huge(HUGE_SIZE) : k >= 0 ? pool_get(k) : malloc(sizeof(*c) + cap);
	if (c == NULL)
		return NULL;
	c->mapped = mapped;
	if (k < 0)
		c->pooled = -1;
	c->used = 0;
	c->cap = cap;
	a->bytes += sizeof(*c) + cap;
	return c;
}

void *gk_arena_alloc(gk_arena_t *a, size_t size)
{
	size = (size + 15u) & ~(size_t)15u;
	if (size == 0)
		size = 16;
	struct chunk *c = a->head;
	if (!c || c->cap - c->used < size) {
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
	if (align <= 16)
		return gk_arena_alloc(a, size);
	struct chunk *c = a->head;
	size_t want = size ? (size + 15u) & ~(size_t)15u : 16u;
	if (c) { /* pad the current chunk up to the alignment when the block still fits */
		size_t pad = (size_t)(-(uintptr_t)(c->data + c->used)) & (align - 1u);
		if (c->cap - c->used >= pad + want) {
			c->used += pad;
			return gk_arena_alloc(a, size);
		}
	}
	uint8_t *p = gk_arena_alloc(a, size + align - 16u);
	return p ? (void *)(((uintptr_t)p + align - 1u) & ~(uintptr_t)(align - 1u)) : NULL;
}

void *gk_arena_dup(gk_arena_t *a, const void *src, size_t size)
{
	void *p = gk_arena_alloc(a, size);
	if (p && size)
		memcpy(p, src, size);
	return p;
}

size_t gk_arena_bytes(const gk_arena_t *a)
{
	return a->bytes;
}

void gk_arena_free(gk_arena_t *a)
{
	if (!a)
		return;
	struct chunk *c = a->head;
	while (c) {
		struct chunk *n = c->next;
		if (c->mapped)
			gk_unmap_huge(c, sizeof(*c) + c->cap);
		else if (c->pooled >= 0)
			pool_put(c);
		else
			free(c);
		c = n;
	}
	free(a);
}
