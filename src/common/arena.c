/* SPDX-License-Identifier: MIT */
/* src/common/arena.c -- chunked bump allocator; large requests get a chunk of their own. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"

#define CHUNK_SIZE (256u * 1024u)

struct chunk {
	struct chunk *next;
	size_t used, cap;
	_Alignas(16) unsigned char data[];
};

struct gk_arena {
	struct chunk *head;
	size_t bytes;
};

gk_arena_t *gk_arena_new(void)
{
	return calloc(1, sizeof(gk_arena_t));
}

static struct chunk *chunk_new(gk_arena_t *a, size_t cap)
{
	struct chunk *c = malloc(sizeof(*c) + cap);
	if (!c)
		return NULL;
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
		c = chunk_new(a, CHUNK_SIZE);
		if (!c)
			return NULL;
		c->next = a->head;
		a->head = c;
	}
	void *p = c->data + c->used;
	c->used += size;
	return p;
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
		free(c);
		c = n;
	}
	free(a);
}
