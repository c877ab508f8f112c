/* SPDX-License-Identifier: MIT */
/* src/pkt/fzones.c -- forwarded apexes by hash (fzones.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "pkt/fzones.h"

struct fz_ent {
	uint64_t hash;
	uint8_t len; /* 0: empty */
	uint16_t pool;
	uint8_t name[256];
};

struct gk_fzones {
	size_t n, room, mask;
	struct fz_ent *e;
};

size_t gk_fzones_wire(const char *text, uint8_t *out)
{
	size_t tl = strlen(text);
	if (tl > 0 && text[tl - 1] == '.')
		tl--;
	if (tl == 0) {
		out[0] = 0;
		return 1;
	}
	size_t o = 0, start = 0;
	for (size_t i = 0; i <= tl; i++) {
		if (i < tl && text[i] != '.')
			continue;
		size_t ll = i - start;
		if (ll == 0 || ll > 63 || o + 1 + ll + 1 > 255)
			return 0;
		out[o++] = (uint8_t)ll;
		for (size_t k = start; k < i; k++)
			out[o++] = (uint8_t)tolower((unsigned char)text[k]);
		start = i + 1;
	}
	out[o++] = 0;
	return o;
}

static struct fz_ent *probe(const gk_fzones_t *t, const uint8_t *n, size_t len, uint64_t h)
{
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct fz_ent *e = &t->e[i];
		if (e->len == 0 || (e->hash == h && e->len == len && memcmp(e->name, n, len) == 0))
			return e;
	}
}

int gk_fzones_new(size_t n, gk_fzones_t **out)
{
	*out = NULL;
	gk_fzones_t *t = calloc(1, sizeof(*t));
	size_t cap = 4;
	while (cap < n * 2)
		cap *= 2;
	if (t == NULL || (t->e = calloc(cap, sizeof(*t->e))) == NULL) {
		free(t);
		return GK_ENOMEM;
	}
	t->mask = cap - 1;
	t->room = n;
	*out = t;
	return 0;
}

int gk_fzones_add(gk_fzones_t *t, const char *text, uint16_t pool)
{
	uint8_t w[256];
	size_t len = gk_fzones_wire(text, w);
	if (len == 0)
		return GK_EINVAL;
	uint64_t h = gk_dname_hash(w, len);
	struct fz_ent *e = probe(t, w, len, h);
	if (e->len == 0) {
		if (t->n == t->room)
			return GK_ENOSPC;
		t->n++;
	}
	e->hash = h;
	e->len = (uint8_t)len;
	e->pool = pool;
	memcpy(e->name, w, len);
	return 0;
}

void gk_fzones_free(gk_fzones_t *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

int gk_fzones_find(const gk_fzones_t *t, const uint8_t *qname, size_t qlen, const uint8_t *loff,
                   unsigned labels, size_t *apex)
{
	if (t == NULL || qlen == 0)
		return -1;
	for (unsigned i = 0; i <= labels; i++) {
		size_t off = i < labels ? loff[i] : qlen - 1;
		if (off >= qlen)
			return -1;
		const uint8_t *n = qname + off;
		size_t len = qlen - off;
		const struct fz_ent *e = probe(t, n, len, gk_dname_hash(n, len));
		if (e->len != 0) {
			if (apex)
				*apex = len;
			return e->pool;
		}
	}
	return -1;
}

size_t gk_fzones_count(const gk_fzones_t *t)
{
	return t ? t->n : 0;
}
