/* SPDX-License-Identifier: MIT */
/* src/sync/diff.c -- one bucket's wanted state against what Redis holds (see diff.h).
 *
 * A snapshot bucket is a three-way merge of the wanted domains, the status fields and the
 * record fields, each sorted by name; a delta bucket compares each named domain with the
 * values read for it. Both end in reconcile(), which decides per domain.
 */
#include <stdlib.h>
#include <string.h>
#include "sync/diff.h"

int gk_sync_strs_push(gk_sync_strs_t *s, const char *p, size_t l)
{
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 64;
		const char **nv = realloc(s->v, nc * sizeof(*nv));
		if (!nv)
			return GK_ENOMEM;
		s->v = nv;
		size_t *nl = realloc(s->l, nc * sizeof(*nl));
		if (!nl)
			return GK_ENOMEM;
		s->l = nl;
		s->cap = nc;
	}
	s->v[s->n] = p;
	s->l[s->n++] = l;
	return 0;
}

void gk_sync_strs_free(gk_sync_strs_t *s)
{
	free(s->v);
	free(s->l);
	*s = (gk_sync_strs_t){0};
}

void gk_sync_diff_reset(gk_sync_diff_t *d)
{
	d->rec_set.n = d->rec_del.n = d->st_set.n = d->st_del.n = 0;
}

void gk_sync_diff_free(gk_sync_diff_t *d)
{
	gk_sync_strs_free(&d->rec_set);
	gk_sync_strs_free(&d->rec_del);
	gk_sync_strs_free(&d->st_set);
	gk_sync_strs_free(&d->st_del);
}

static int same(gk_sync_str_t cur, const char *s, size_t l)
{
	return cur.p && cur.n == l && !memcmp(cur.p, s, l);
}

/* Compare what is wanted with what Redis holds (cur_st / cur_rec: p NULL when absent) and
 * add the differences to the bucket's pending writes. */
static int reconcile(gk_sync_diff_t *d, const gk_sync_want_t *w, gk_sync_str_t cur_st,
                     gk_sync_str_t cur_rec)
{
	int rc = 0;
	if (d->records) {
		if (w->rec && !same(cur_rec, w->rec, w->rl)) {
			rc = gk_sync_strs_push(&d->rec_set, w->dom, w->dl);
			if (!rc)
				rc = gk_sync_strs_push(&d->rec_set, w->rec, w->rl);
			d->records_written++;
		} else if (!w->rec && cur_rec.p) {
			rc = gk_sync_strs_push(&d->rec_del, w->dom, w->dl);
			d->records_written++;
		}
		if (rc)
			return rc;
	}
	if (w->val ? same(cur_st, w->val, w->vl) : !cur_st.p) {
		d->unchanged += w->val != NULL;
		return 0;
	}
	if (w->val) {
		*(cur_st.p ? &d->changed : &d->added) += 1;
		rc = gk_sync_strs_push(&d->st_set, w->dom, w->dl);
		if (!rc)
			rc = gk_sync_strs_push(&d->st_set, w->val, w->vl);
	} else {
		d->removed++;
		rc = gk_sync_strs_push(&d->st_del, w->dom, w->dl);
	}
	return rc;
}

/* byte order, a prefix first: the order strcmp gives NUL-free names */
static int cmp_bytes(const char *a, size_t al, const char *b, size_t bl)
{
	int c = memcmp(a, b, al < bl ? al : bl);
	return c ? c : (al > bl) - (al < bl);
}

static int cmp_want(const void *a, const void *b)
{
	const gk_sync_want_t *x = a, *y = b;
	return cmp_bytes(x->dom, x->dl, y->dom, y->dl);
}

static int cmp_field(const void *a, const void *b)
{
	const gk_sync_field_t *x = a, *y = b;
	return cmp_bytes(x->f.p, x->f.n, y->f.p, y->f.n);
}

int gk_sync_diff_snapshot(gk_sync_diff_t *d, gk_sync_want_t *want, size_t n, gk_sync_field_t *st,
                          size_t nst, gk_sync_field_t *rec, size_t nrec)
{
	size_t i = 0, j = 0, k = 0;
	int rc = 0;
	if (!d->records)
		nrec = 0;
	if (n)
		qsort(want, n, sizeof(*want), cmp_want);
	if (nst)
		qsort(st, nst, sizeof(*st), cmp_field);
	if (nrec)
		qsort(rec, nrec, sizeof(*rec), cmp_field);
	while (!rc && (i < n || j < nst || k < nrec)) {
		/* the smallest name among the three heads */
		const char *key = NULL;
		size_t kl = 0;
		if (i < n) {
			key = want[i].dom;
			kl = want[i].dl;
		}
		if (j < nst && (!key || cmp_bytes(key, kl, st[j].f.p, st[j].f.n) > 0)) {
			key = st[j].f.p;
			kl = st[j].f.n;
		}
		if (k < nrec && (!key || cmp_bytes(key, kl, rec[k].f.p, rec[k].f.n) > 0)) {
			key = rec[k].f.p;
			kl = rec[k].f.n;
		}
		gk_sync_want_t w = {.dom = key, .dl = kl}; /* not in the feed: absent */
		gk_sync_str_t cs = {0}, cr = {0};
		if (i < n && !cmp_bytes(key, kl, want[i].dom, want[i].dl))
			w = want[i++];
		if (j < nst && !cmp_bytes(key, kl, st[j].f.p, st[j].f.n))
			cs = st[j++].v;
		if (k < nrec && !cmp_bytes(key, kl, rec[k].f.p, rec[k].f.n))
			cr = rec[k++].v;
		rc = reconcile(d, &w, cs, cr);
	}
	return rc;
}

int gk_sync_diff_delta(gk_sync_diff_t *d, const gk_sync_want_t *want, size_t n,
                       const gk_sync_str_t *cur_st, const gk_sync_str_t *cur_rec)
{
	int rc = 0;
	for (size_t i = 0; !rc && i < n; i++)
		rc = reconcile(d, &want[i], cur_st[i],
		               d->records && cur_rec ? cur_rec[i] : (gk_sync_str_t){0});
	return rc;
}
