/* SPDX-License-Identifier: MIT */
/* src/pkt/fzones.c -- forwarded apexes by hash (fzones.h). */
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "pkt/fzones.h"
#include "common/namehash.h"

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

static struct fz_ent *probe(const gk_fzones_t *t, const uint8_t *n, size_t len, uint64_t h)
{
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct fz_ent *e = &t->e[i];
		if (e->len == 0 || (e->hash == h && e->len == len && memcmp(e->name, n, len) == 0))
			return e;
	}
}

int gk_pkt_fzones_new(size_t n, gk_fzones_t **out)
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

int gk_pkt_fzones_add(gk_fzones_t *t, const char *text, uint16_t pool)
{
	uint8_t w[GK_DNAME_MAX];
	/* "" is the root here, as "." is (the front end's config has always read it so) */
	size_t len =
	    *text ? gk_dname_from_text(text, strlen(text), w, 0) : gk_dname_from_text(".", 1, w, 0);
	if (len == 0)
		return GK_EINVAL;
	uint64_t h = gk_namehash(w, len);
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

void gk_pkt_fzones_free(gk_fzones_t *t)
{
	if (t == NULL)
		return;
	free(t->e);
	free(t);
}

int gk_pkt_fzones_find(const gk_fzones_t *t, const uint8_t *qname, size_t qlen, const uint8_t *loff,
                       unsigned labels, size_t *apex)
{
	if (t == NULL || qlen == 0 || labels > GK_DNAME_LABELS_MAX)
		return -1;
	uint64_t st[GK_DNAME_LABELS_MAX + 1]; /* every suffix's hash from one pass */
	gk_namehash_states(qname, qlen, loff, labels, st);
	for (unsigned i = 0; i <= labels; i++) {
		size_t off = i < labels ? loff[i] : qlen - 1;
		if (off >= qlen)
			return -1;
		const uint8_t *n = qname + off;
		size_t len = qlen - off;
		const struct fz_ent *e = probe(t, n, len, gk_namehash_fin(st[i]));
		if (e->len != 0) {
			if (apex)
				*apex = len;
			return e->pool;
		}
	}
	return -1;
}

size_t gk_pkt_fzones_count(const gk_fzones_t *t)
{
	return t ? t->n : 0;
}
