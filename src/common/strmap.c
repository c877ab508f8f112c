/* SPDX-License-Identifier: MIT */
/* src/common/strmap.c -- a string map: open addressing with linear probing, keys numbered in
 * insertion order. The slots hold an index and 32 bits of the hash, so a probe compares
 * strings only when the tags match; growth rehashes from the stored tags' keys. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h" /* gk_dname_fmix */
#include "common/strmap.h"

void gk_strmap_init(gk_strmap_t *m, gk_arena_t *arena, unsigned flags)
{
	memset(m, 0, sizeof(*m));
	m->arena = arena;
	m->flags = flags;
}

void gk_strmap_free(gk_strmap_t *m)
{
	free(m->slot);
	free(m->keys);
	if (m->own_arena)
		gk_arena_free(m->arena);
	unsigned flags = m->flags;
	gk_arena_t *arena = m->own_arena ? NULL : m->arena;
	gk_strmap_init(m, arena, flags);
}

static uint64_t hash(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return gk_dname_fmix(h);
}

/* The slot of key s (found) or where it would go (empty). */
static size_t probe(const gk_strmap_t *m, const char *s, size_t len, uint64_t h, bool *found)
{
	uint32_t tag = (uint32_t)(h >> 32);
	size_t mask = m->cap - 1;
	for (size_t p = (size_t)h & mask;; p = (p + 1) & mask) {
		const struct gk_strmap_slot *sl = &m->slot[p];
		if (sl->idx == 0) {
			*found = false;
			return p;
		}
		const char *k = m->keys[sl->idx - 1];
		if (sl->tag == tag && strncmp(k, s, len) == 0 && k[len] == '\0') {
			*found = true;
			return p;
		}
	}
}

uint32_t gk_strmap_find(const gk_strmap_t *m, const char *s, size_t len)
{
	if (m->cap == 0)
		return 0;
	bool found;
	size_t p = probe(m, s, len, hash(s, len), &found);
	return found ? m->slot[p].idx : 0;
}

static int grow(gk_strmap_t *m)
{
	size_t nc = m->cap ? m->cap * 2 : 64;
	struct gk_strmap_slot *ns = calloc(nc, sizeof(*ns));
	if (ns == NULL)
		return GK_ENOMEM;
	for (size_t i = 0; i < m->n; i++) {
		uint64_t h = hash(m->keys[i], strlen(m->keys[i]));
		size_t p = (size_t)h & (nc - 1);
		while (ns[p].idx)
			p = (p + 1) & (nc - 1);
		ns[p] = (struct gk_strmap_slot){.idx = (uint32_t)i + 1, .tag = (uint32_t)(h >> 32)};
	}
	free(m->slot);
	m->slot = ns;
	m->cap = nc;
	return 0;
}

int gk_strmap_add(gk_strmap_t *m, const char *s, size_t len, uint32_t *idx)
{
	if (m->n >= 0x7fffffffu)
		return GK_ERANGE;
	if ((m->n + 1) * 2 > m->cap && grow(m) != 0)
		return GK_ENOMEM;
	uint64_t h = hash(s, len);
	bool found;
	size_t p = probe(m, s, len, h, &found);
	if (found) {
		*idx = m->slot[p].idx - 1;
		return 0;
	}
	if (m->n == m->keys_cap) {
		size_t nc = m->keys_cap ? m->keys_cap * 2 : 32;
		const char **nk = realloc(m->keys, nc * sizeof(*nk));
		if (nk == NULL)
			return GK_ENOMEM;
		m->keys = nk;
		m->keys_cap = nc;
	}
	const char *key = s;
	if (!(m->flags & GK_STRMAP_BORROW)) {
		if (m->arena == NULL) {
			if ((m->arena = gk_arena_new()) == NULL)
				return GK_ENOMEM;
			m->own_arena = 1;
		}
		char *c = gk_arena_alloc(m->arena, len + 1);
		if (c == NULL)
			return GK_ENOMEM;
		memcpy(c, s, len);
		c[len] = '\0';
		key = c;
	}
	m->keys[m->n] = key;
	m->slot[p] = (struct gk_strmap_slot){.idx = (uint32_t)++m->n, .tag = (uint32_t)(h >> 32)};
	*idx = (uint32_t)m->n - 1;
	return 1;
}

const char **gk_strmap_release_keys(gk_strmap_t *m, size_t *count)
{
	const char **k = m->keys;
	*count = m->n;
	m->keys = NULL;
	gk_strmap_free(m);
	return k;
}
