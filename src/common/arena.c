/* SPDX-License-Identifier: MIT */
/* src/common/arena.c -- chunked bump allocator; large requests get a chunk of their own. */
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
#define FIRST_SIZE (4096u - 64u)
/* A huge-page arena's chunks once it holds HUGE_AFTER bytes: small arenas (a test's zone
 * set, a fuzz input's) stay in small chunks and never fault in 2 MiB at once. */
#define HUGE_SIZE  ((size_t)2u << 20)
#define HUGE_AFTER ((size_t)4u << 20)
#define PAGE       ((size_t)4096u)

struct chunk {
	struct chunk *next;
	bool mapped; /* a gk_map_huge chunk of HUGE_SIZE (a huge-page arena's), else malloc'd */
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

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

	if (mapped)
		cap = HUGE_SIZE - sizeof(*c);
	c = mapped ? gk_map_huge(HUGE_SIZE) : malloc(sizeof(*c) + cap);
	if (c == NULL)
		return NULL;
	c->mapped = mapped;
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
		size_t cap = a->bytes < FIRST_SIZE   ? FIRST_SIZE
		             : a->bytes < CHUNK_SIZE ? a->bytes
		                                     : CHUNK_SIZE;
		c = chunk_new(a, cap < size ? size : cap);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
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
		else
			free(c);
		c = n;
	}
	free(a);
}
