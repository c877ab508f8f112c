/* SPDX-License-Identifier: MIT */
/* src/policy/table.c -- the builder's growing table and its move into the snapshot arena.
 *
 * While lists are read, the table lives in malloc'd memory at a load of at most 3/4 and
 * doubles when full; names go to a growing blob. gk_policy_finish then lays the final table
 * out in the arena at exactly ceil(n * 4 / 3) slots (positions come from the tag alone, so
 * nothing is rehashed), copies the names and hits behind it, and fills the filter (the one
 * place a name is hashed again, in blob order: the slot keeps only 32 bits of its hash).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "policy/internal.h"

int gk_policy_fail(gk_policy_builder_t *b, int code, const char *file, size_t line, const char *fmt,
                   ...)
{
	if (b->rc)
		return b->rc;
	b->rc = code;
	if (!b->errlen)
		return code;
	int n = snprintf(b->err, b->errlen, "%s:%zu: ", file, line);
	if (n > 0 && (size_t)n < b->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(b->err + n, b->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return code;
}

int gk_policy_builder_init(gk_policy_builder_t *b)
{
	char *err = b->err;
	size_t errlen = b->errlen;
	memset(b, 0, sizeof(*b));
	b->err = err;
	b->errlen = errlen;
	b->arena = gk_arena_new();
	b->cap = 64;
	b->t = calloc(b->cap, sizeof(*b->t));
	b->ncap = 4096;
	b->names = malloc(b->ncap);
	b->hcap = 16;
	b->hits = calloc(b->hcap, sizeof(*b->hits));
	if (!b->arena || !b->t || !b->names || !b->hits) {
		gk_policy_builder_clear(b);
		return GK_ENOMEM;
	}
	b->names[0] = 0; /* offset 0 marks an empty slot */
	b->nlen = 1;
	b->nhits = 1; /* index 0: no hit */
	return 0;
}

void gk_policy_builder_clear(gk_policy_builder_t *b)
{
	free(b->t);
	free(b->names);
	free(b->hits);
	gk_arena_free(b->arena);
	b->t = NULL;
	b->names = NULL;
	b->hits = NULL;
	b->arena = NULL;
}

uint32_t gk_policy_hit_add(gk_policy_builder_t *b, const gk_policy_hit_t *h)
{
	if (b->nhits == b->hcap) {
		if (b->hcap >= GK_POLICY_ENTRIES_MAX)
			return 0;
		gk_policy_hit_t *nh = realloc(b->hits, 2 * b->hcap * sizeof(*nh));
		if (!nh)
			return 0;
		b->hits = nh;
		b->hcap *= 2;
	}
	b->hits[b->nhits] = *h;
	return (uint32_t)b->nhits++;
}

/* Place every used slot of from[0..fcap) into to[0..tcap) (zeroed), by tag. */
static void place(gk_policy_slot_t *to, uint32_t tcap, const gk_policy_slot_t *from, uint32_t fcap)
{
	for (uint32_t k = 0; k < fcap; k++) {
		if (!from[k].name)
			continue;
		uint32_t i = gk_policy_pos(from[k].tag, tcap);
		while (to[i].name)
			if (++i == tcap)
				i = 0;
		to[i] = from[k];
	}
}

static int resize(gk_policy_builder_t *b, uint32_t nc)
{
	gk_policy_slot_t *nt = calloc(nc, sizeof(*nt));
	if (!nt)
		return GK_ENOMEM;
	place(nt, nc, b->t, b->cap);
	free(b->t);
	b->t = nt;
	b->cap = nc;
	return 0;
}

static int grow(gk_policy_builder_t *b)
{
	if (b->cap >= (1u << 31))
		return GK_ENOMEM;
	return resize(b, b->cap * 2);
}

int gk_policy_reserve(gk_policy_builder_t *b, size_t more)
{
	uint64_t want = ((uint64_t)b->n + more) * 4 / 3 + 1;
	if (want <= b->cap)
		return 0;
	if (want > (1u << 31))
		return GK_ENOMEM;
	uint32_t nc = b->cap;
	while (nc < want)
		nc *= 2;
	return resize(b, nc);
}

static bool is_block(const gk_policy_builder_t *b, uint32_t hit)
{
	uint8_t v = b->hits[hit].verdict;
	return v == GK_POLICY_BLOCK || v == GK_POLICY_TCP_ONLY;
}

/* Keep one winner per name and scope: a block beats an allow, else the first stays. */
static void merge(const gk_policy_builder_t *b, uint32_t *cur, uint32_t hit)
{
	if (!*cur || (!is_block(b, *cur) && is_block(b, hit)))
		*cur = hit;
}

int gk_policy_insert(gk_policy_builder_t *b, const uint8_t *name, size_t len, unsigned labels,
                     unsigned scopes, uint32_t hit)
{
	return gk_policy_insert_hashed(b, gk_namehash(name, len), name, len, labels, scopes, hit);
}

int gk_policy_insert_hashed(gk_policy_builder_t *b, uint64_t h, const uint8_t *name, size_t len,
                            unsigned labels, unsigned scopes, uint32_t hit)
{
	if ((b->n + 1) * 4 > (size_t)b->cap * 3 && grow(b) < 0)
		return GK_ENOMEM;
	uint32_t tag = (uint32_t)(h >> 32);
	uint32_t i = gk_policy_pos(tag, b->cap);
	gk_policy_slot_t *s;
	for (;;) {
		s = &b->t[i];
		if (!s->name)
			break;
		if (s->tag == tag) {
			const uint8_t *sn = b->names + s->name;
			if (sn[0] == len && memcmp(sn + 1, name, len) == 0)
				goto found;
		}
		if (++i == b->cap)
			i = 0;
	}
	if (b->n >= GK_POLICY_ENTRIES_MAX)
		return GK_ERANGE;
	if (b->ncap - b->nlen < len + 1) {
		size_t nc = b->ncap * 2;
		if (nc > UINT32_MAX)
			return GK_ERANGE;
		uint8_t *nn = realloc(b->names, nc);
		if (!nn)
			return GK_ENOMEM;
		b->names = nn;
		b->ncap = nc;
	}
	s->tag = tag;
	s->name = (uint32_t)b->nlen;
	b->names[b->nlen] = (uint8_t)len;
	memcpy(b->names + b->nlen + 1, name, len);
	b->nlen += len + 1;
	b->n++;
found:
	if (scopes & GK_POLICY_EXACT) {
		merge(b, &s->exact, hit);
		b->exact_depths |= gk_policy_depth_bit(labels);
	}
	if (scopes & GK_POLICY_BELOW) {
		merge(b, &s->below, hit);
		b->below_depths |= gk_policy_depth_bit(labels);
	}
	return 0;
}

int gk_policy_finish(gk_policy_builder_t *b, gk_policy_t *p)
{
	uint64_t want = ((uint64_t)b->n * 4 + 2) / 3 + 1;
	if (want < 8)
		want = 8;
	/* GK_POLICY_FILTER_BITS per name, in a power of two of 64-bit words */
	uint64_t fwords = 1;
	while (fwords * 64 < (uint64_t)b->n * GK_POLICY_FILTER_BITS)
		fwords *= 2;
	gk_policy_slot_t *t = gk_arena_alloc(b->arena, want * sizeof(*t));
	uint8_t *names = gk_arena_dup(b->arena, b->names, b->nlen);
	gk_policy_hit_t *hits = gk_arena_dup(b->arena, b->hits, b->nhits * sizeof(*hits));
	uint64_t *filter = gk_arena_alloc(b->arena, fwords * sizeof(*filter));
	if (!t || !names || !hits || !filter)
		return GK_ENOMEM;
	memset(t, 0, want * sizeof(*t));
	place(t, (uint32_t)want, b->t, b->cap);
	/* the blob holds each distinct name once: walk it in order, not the slots at random */
	memset(filter, 0, fwords * sizeof(*filter));
	for (size_t o = 1; o < b->nlen; o += 1u + b->names[o]) {
		uint64_t h = gk_namehash(b->names + o + 1, b->names[o]);
		filter[h & (fwords - 1)] |= gk_policy_filter_bits(h);
	}
	p->table = t;
	p->nslots = (uint32_t)want;
	p->entries = b->n;
	p->names = names;
	p->names_len = b->nlen;
	p->hits = hits;
	p->nhits = (uint32_t)b->nhits;
	p->filter = filter;
	p->filter_mask = (uint32_t)(fwords - 1);
	p->exact_depths = b->exact_depths;
	p->below_depths = b->below_depths;
	p->lines = b->lines;
	p->rpz_skipped = b->rpz_skipped;
	free(b->t);
	free(b->names);
	free(b->hits);
	b->t = NULL;
	b->names = NULL;
	b->hits = NULL;
	return 0;
}
