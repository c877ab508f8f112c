/* SPDX-License-Identifier: MIT */
/* src/pkt/fzones.c -- forwarded apexes by hash (fzones.h).
 *
 * Open addressing, linear probing, at most half full. An entry holds the name's hash, its
 * place in the names blob, its length and its pool: 16 octets (a copy of the name in each
 * slot, as before, was 272: 71 MB for 100,000 catalog members). A stack has no entries of
 * its own: it names its two parts.
 */
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "pkt/fzones.h"
#include "common/namehash.h"

struct fz_ent {
	uint64_t hash;
	uint32_t off; /* into names */
	uint8_t len;  /* 0: empty */
	uint16_t pool;
};
_Static_assert(sizeof(struct fz_ent) == 16, "one forwarded apex in 16 octets");

struct gk_fzones {
	size_t n, room, mask;
	struct fz_ent *e;
	uint8_t *names;
	size_t nlen, ncap;
	gk_fzones_t *part[2]; /* a stack: its two parts (held), e NULL */
	unsigned refs;
};

static struct fz_ent *probe(const gk_fzones_t *t, const uint8_t *n, size_t len, uint64_t h)
{
	for (size_t i = h & t->mask;; i = (i + 1) & t->mask) {
		struct fz_ent *e = &t->e[i];
		if (e->len == 0 ||
		    (e->hash == h && e->len == len && memcmp(t->names + e->off, n, len) == 0))
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
	t->refs = 1;
	*out = t;
	return 0;
}

int gk_pkt_fzones_add_wire(gk_fzones_t *t, const uint8_t *w, size_t len, uint16_t pool)
{
	if (t->e == NULL || len == 0 || len > GK_DNAME_MAX)
		return GK_EINVAL;
	uint64_t h = gk_namehash(w, len);
	struct fz_ent *e = probe(t, w, len, h);
	if (e->len == 0) {
		if (t->n == t->room)
			return GK_ENOSPC;
		if (t->nlen + len > t->ncap) {
			size_t cap = t->ncap ? t->ncap * 2 : 256;
			while (cap < t->nlen + len)
				cap *= 2;
			if (cap > UINT32_MAX)
				return GK_ENOMEM;
			uint8_t *nb = realloc(t->names, cap);
			if (nb == NULL)
				return GK_ENOMEM;
			t->names = nb;
			t->ncap = cap;
		}
		memcpy(t->names + t->nlen, w, len);
		e->off = (uint32_t)t->nlen;
		t->nlen += len;
		e->hash = h;
		e->len = (uint8_t)len;
		t->n++;
	}
	e->pool = pool;
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
	return gk_pkt_fzones_add_wire(t, w, len, pool);
}

int gk_pkt_fzones_stack(gk_fzones_t *first, gk_fzones_t *second, gk_fzones_t **out)
{
	*out = NULL;
	if (first == NULL || second == NULL) {
		*out = gk_pkt_fzones_hold(first ? first : second);
		return 0;
	}
	gk_fzones_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return GK_ENOMEM;
	t->part[0] = gk_pkt_fzones_hold(first);
	t->part[1] = gk_pkt_fzones_hold(second);
	t->refs = 1;
	*out = t;
	return 0;
}

gk_fzones_t *gk_pkt_fzones_hold(gk_fzones_t *t)
{
	if (t != NULL)
		t->refs++;
	return t;
}

void gk_pkt_fzones_free(gk_fzones_t *t)
{
	if (t == NULL || --t->refs > 0)
		return;
	gk_pkt_fzones_free(t->part[0]);
	gk_pkt_fzones_free(t->part[1]);
	free(t->e);
	free(t->names);
	free(t);
}

int gk_pkt_fzones_find(const gk_fzones_t *t, const uint8_t *qname, size_t qlen, const uint8_t *loff,
                       unsigned labels, size_t *apex)
{
	if (t == NULL || qlen == 0 || labels > GK_DNAME_LABELS_MAX)
		return -1;
	/* a stack probes its parts in turn (parts are plain tables) */
	const gk_fzones_t *tab[2] = {t, NULL};
	if (t->e == NULL) {
		tab[0] = t->part[0];
		tab[1] = t->part[1];
	}
	uint64_t st[GK_DNAME_LABELS_MAX + 1]; /* every suffix's hash from one pass */
	gk_namehash_states(qname, qlen, loff, labels, st);
	for (unsigned i = 0; i <= labels; i++) {
		size_t off = i < labels ? loff[i] : qlen - 1;
		if (off >= qlen)
			return -1;
		const uint8_t *n = qname + off;
		size_t len = qlen - off;
		uint64_t h = gk_namehash_fin(st[i]);
		for (unsigned k = 0; k < 2 && tab[k] != NULL; k++) {
			const struct fz_ent *e = probe(tab[k], n, len, h);
			if (e->len != 0) {
				if (apex)
					*apex = len;
				return e->pool;
			}
		}
	}
	return -1;
}

int gk_pkt_fzones_get(const gk_fzones_t *t, const uint8_t *w, size_t len)
{
	if (t == NULL || len == 0)
		return -1;
	if (t->e == NULL) {
		int p = gk_pkt_fzones_get(t->part[0], w, len);
		return p >= 0 ? p : gk_pkt_fzones_get(t->part[1], w, len);
	}
	const struct fz_ent *e = probe(t, w, len, gk_namehash(w, len));
	return e->len != 0 ? e->pool : -1;
}

size_t gk_pkt_fzones_count(const gk_fzones_t *t)
{
	if (t == NULL)
		return 0;
	return t->e ? t->n : gk_pkt_fzones_count(t->part[0]) + gk_pkt_fzones_count(t->part[1]);
}
