/* SPDX-License-Identifier: MIT */
/* src/xfr/catalog.c -- catalog zone interpretation (RFC 9432 version 2); see catalog.h. */
#include "xfr/catalog.h"

#include <ctype.h>
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/internal.h"

/* One PTR, group or coo entry: the ID it belongs to and its value. */
typedef struct ent {
	char *id;
	char *val;  /* NULL: the value is unusable (a TXT of several strings) */
	size_t pos; /* order in the zone, for a stable sort */
} ent_t;

typedef struct ents {
	ent_t *v;
	size_t n, cap;
} ents_t;

static void lower_nodot(char *s)
{
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	size_t l = strlen(s), bs = 0;
	while (bs + 1 < l && s[l - 2 - bs] == '\\')
		bs++;
	if (l > 0 && s[l - 1] == '.' && bs % 2 == 0) /* a final dot not escaped */
		s[l - 1] = '\0';
}

/* The presentation form of a name, lowercase, without final dot; NULL on memory error. */
static char *name_str(const ldns_rdf *d)
{
	char *s = ldns_rdf2str(d);
	if (s)
		lower_nodot(s);
	return s;
}

/* The single string of a TXT record, or NULL (set *bad) when it has several. */
static char *txt_str(const ldns_rr *rr, bool *bad)
{
	*bad = false;
	if (ldns_rr_rd_count(rr) != 1) {
		*bad = true;
		return NULL;
	}
	const ldns_rdf *d = ldns_rr_rdf(rr, 0);
	const uint8_t *p = ldns_rdf_data(d);
	size_t sz = ldns_rdf_size(d);
	if (sz < 1 || (size_t)p[0] + 1 != sz) {
		*bad = true;
		return NULL;
	}
	char *s = malloc(sz);
	if (!s)
		return NULL;
	memcpy(s, p + 1, p[0]);
	s[p[0]] = '\0';
	if (strlen(s) != p[0]) { /* a NUL inside: not a usable group name */
		free(s);
		*bad = true;
		return NULL;
	}
	return s;
}

static int ents_push(ents_t *e, char *id, char *val)
{
	if (e->n == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 16;
		ent_t *nv = realloc(e->v, nc * sizeof *nv);
		if (!nv)
			return GK_ENOMEM;
		e->v = nv;
		e->cap = nc;
	}
	e->v[e->n] = (ent_t){.id = id, .val = val, .pos = e->n};
	e->n++;
	return 0;
}

static void ents_free(ents_t *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].id);
		free(e->v[i].val);
	}
	free(e->v);
}

static int ent_cmp(const void *a, const void *b)
{
	const ent_t *x = a, *y = b;
	int c = strcmp(x->id, y->id);
	if (c)
		return c;
	return x->pos < y->pos ? -1 : x->pos > y->pos;
}

static void warnf(gk_catalog_warn_fn warn, void *ctx, size_t *skipped, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warnf(gk_catalog_warn_fn warn, void *ctx, size_t *skipped, const char *fmt, ...)
{
	(*skipped)++;
	if (!warn)
		return;
	char buf[600];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	warn(ctx, buf);
}

/* Sort e by ID; IDs with more than one entry, or an unusable value, are dropped (warned as
 * what, owner prefix<id>.zones.<cat>). Keeps the rest. */
static void ents_unique(ents_t *e, const char *prefix, const char *what, const char *cat,
                        gk_catalog_warn_fn warn, void *ctx, size_t *skipped)
{
	if (e->n)
		qsort(e->v, e->n, sizeof *e->v, ent_cmp);
	size_t w = 0;
	for (size_t i = 0; i < e->n;) {
		size_t j = i + 1;
		while (j < e->n && strcmp(e->v[j].id, e->v[i].id) == 0)
			j++;
		if (j - i > 1 || !e->v[i].val) {
			warnf(warn, ctx, skipped, "%s%s.zones.%s: %s ignored (%s)", prefix,
			      e->v[i].id, cat, what,
			      j - i > 1 ? "more than one record" : "not a single string");
			for (size_t k = i; k < j; k++) {
				free(e->v[k].id);
				free(e->v[k].val);
			}
		} else {
			e->v[w++] = e->v[i];
		}
		i = j;
	}
	e->n = w;
}

static const ent_t *ents_find(const ents_t *e, const char *id)
{
	size_t lo = 0, hi = e->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(e->v[mid].id, id);
		if (c == 0)
			return &e->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static int mem_cmp(const void *a, const void *b)
{
	const gk_catalog_member_t *x = a, *y = b;
	int c = strcmp(x->zone, y->zone);
	return c ? c : strcmp(x->id, y->id);
}

/* s[0..l) is one label (escapes taken as such). */
static bool one_label(const char *s, size_t l)
{
	for (size_t i = 0; i < l; i++) {
		if (s[i] == '\\') {
			i++;
			continue;
		}
		if (s[i] == '.')
			return false;
	}
	return l > 0;
}

static bool below_or_at(const char *name, const char *apex)
{
	size_t nl = strlen(name), al = strlen(apex);
	if (nl == al)
		return strcmp(name, apex) == 0;
	return nl > al && name[nl - al - 1] == '.' && strcmp(name + nl - al, apex) == 0;
}

static int interpret(const char *cat, const ldns_rr_list *l, gk_catalog_t *out,
                     gk_catalog_warn_fn warn, void *ctx, char *err, size_t errlen)
{
	int rc = 0;
	ents_t ptr = {0}, grp = {0}, coo = {0};
	char *zsuf = NULL, *vname = NULL, *version = NULL;
	size_t nversion = 0;
	if (asprintf(&zsuf, ".zones.%s", cat) < 0 || asprintf(&vname, "version.%s", cat) < 0) {
		zsuf = NULL;
		rc = GK_ENOMEM;
		goto out;
	}
	size_t zl = strlen(zsuf);
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(l, i);
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			continue;
		ldns_rr_type t = ldns_rr_get_type(rr);
		if (t != LDNS_RR_TYPE_TXT && t != LDNS_RR_TYPE_PTR)
			continue;
		char *o = name_str(ldns_rr_owner(rr));
		if (!o) {
			rc = GK_ENOMEM;
			goto out;
		}
		size_t ol = strlen(o);
		if (strcmp(o, vname) == 0 && t == LDNS_RR_TYPE_TXT) {
			nversion++;
			bool bad;
			free(version);
			version = txt_str(rr, &bad);
			if (!version && !bad) {
				free(o);
				rc = GK_ENOMEM;
				goto out;
			}
			free(o);
			continue;
		}
		if (ol <= zl || strcmp(o + ol - zl, zsuf) != 0) {
			free(o);
			continue;
		}
		size_t pl = ol - zl; /* o[0..pl) is what precedes .zones.<catalog> */
		ents_t *dst = NULL;
		size_t idoff = 0;
		if (one_label(o, pl)) {
			if (t == LDNS_RR_TYPE_PTR)
				dst = &ptr;
		} else if (pl > 6 && strncmp(o, "group.", 6) == 0 && one_label(o + 6, pl - 6)) {
			if (t == LDNS_RR_TYPE_TXT)
				dst = &grp, idoff = 6;
		} else if (pl > 4 && strncmp(o, "coo.", 4) == 0 && one_label(o + 4, pl - 4)) {
			if (t == LDNS_RR_TYPE_PTR)
				dst = &coo, idoff = 4;
		}
		if (!dst) { /* an unknown property, or a known one of another type: ignored */
			free(o);
			continue;
		}
		char *id = strndup(o + idoff, pl - idoff);
		free(o);
		char *val = NULL;
		bool bad = false;
		if (t == LDNS_RR_TYPE_TXT)
			val = txt_str(rr, &bad);
		else if (ldns_rr_rd_count(rr) == 1 &&
		         ldns_rdf_get_type(ldns_rr_rdf(rr, 0)) == LDNS_RDF_TYPE_DNAME)
			val = name_str(ldns_rr_rdf(rr, 0));
		else
			bad = true;
		if (!id || (!val && !bad) || ents_push(dst, id, val) != 0) {
			free(id);
			free(val);
			rc = GK_ENOMEM;
			goto out;
		}
	}
	if (nversion != 1 || !version || strcmp(version, "2") != 0) {
		if (nversion == 0)
			snprintf(err, errlen, "%s: no version property (version.%s TXT \"2\")", cat,
			         cat);
		else if (nversion > 1)
			snprintf(err, errlen, "%s: more than one version record", cat);
		else
			snprintf(err, errlen,
			         "%s: catalog version \"%s\" not supported (only \"2\")", cat,
			         version ? version : "?");
		rc = GK_ESYNTAX;
		goto out;
	}
	ents_unique(&ptr, "", "member", cat, warn, ctx, &out->skipped);
	ents_unique(&grp, "group.", "group property", cat, warn, ctx, &out->skipped);
	ents_unique(&coo, "coo.", "coo property", cat, warn, ctx, &out->skipped);
	out->m = calloc(ptr.n ? ptr.n : 1, sizeof *out->m);
	if (!out->m) {
		rc = GK_ENOMEM;
		goto out;
	}
	size_t n = 0;
	for (size_t i = 0; i < ptr.n; i++) {
		ent_t *e = &ptr.v[i];
		if (e->val[0] == '\0' || below_or_at(e->val, cat)) {
			warnf(warn, ctx, &out->skipped,
			      "%s.zones.%s: member \"%s\" ignored (the root or inside the catalog)",
			      e->id, cat, e->val[0] ? e->val : ".");
			continue;
		}
		gk_catalog_member_t *m = &out->m[n];
		m->zone = e->val;
		m->id = e->id;
		e->val = e->id = NULL;
		const ent_t *g = ents_find(&grp, m->id);
		const ent_t *c = ents_find(&coo, m->id);
		if ((g && !(m->group = strdup(g->val))) || (c && !(m->coo = strdup(c->val)))) {
			out->n = n + 1;
			rc = GK_ENOMEM;
			goto out;
		}
		n++;
	}
	out->n = n;
	if (n)
		qsort(out->m, n, sizeof *out->m, mem_cmp);
	/* a member under two IDs: the first ID in order keeps it */
	size_t w = 0;
	for (size_t i = 0; i < n; i++) {
		if (w > 0 && strcmp(out->m[w - 1].zone, out->m[i].zone) == 0) {
			warnf(warn, ctx, &out->skipped,
			      "%s.zones.%s: member %s ignored (already listed as %s.zones.%s)",
			      out->m[i].id, cat, out->m[i].zone, out->m[w - 1].id, cat);
			gk_catalog_member_t *m = &out->m[i];
			free(m->zone);
			free(m->id);
			free(m->group);
			free(m->coo);
			continue;
		}
		out->m[w++] = out->m[i];
	}
	out->n = w;
out:
	ents_free(&ptr);
	ents_free(&grp);
	ents_free(&coo);
	free(zsuf);
	free(vname);
	free(version);
	if (rc != 0)
		gk_xfr_catalog_free(out);
	return rc;
}

int gk_xfr_catalog_interpret(const char *catalog, const char *text, size_t len, gk_catalog_t *out,
                             gk_catalog_warn_fn warn, void *ctx, char *err, size_t errlen)
{
	memset(out, 0, sizeof *out);
	if (errlen)
		err[0] = '\0';
	ldns_rdf *apex = NULL;
	if (!catalog || ldns_str2rdf_dname(&apex, catalog) != LDNS_STATUS_OK) {
		snprintf(err, errlen, "bad catalog name");
		return GK_EINVAL;
	}
	char *cat = name_str(apex);
	ldns_rdf_deep_free(apex);
	if (!cat)
		return GK_ENOMEM;
	ldns_rr_list *l = NULL;
	char perr[256];
	int rc = gk_xfr_zone_parse(text, len, &l, perr, sizeof perr);
	if (rc != 0) {
		snprintf(err, errlen, "%s: %s", cat, perr);
		free(cat);
		return rc;
	}
	rc = interpret(cat, l, out, warn, ctx, err, errlen);
	ldns_rr_list_deep_free(l);
	free(cat);
	return rc;
}

void gk_xfr_catalog_free(gk_catalog_t *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->m[i].zone);
		free(c->m[i].id);
		free(c->m[i].group);
		free(c->m[i].coo);
	}
	free(c->m);
	c->m = NULL;
	c->n = 0;
}

const gk_catalog_member_t *gk_xfr_catalog_find(const gk_catalog_t *c, const char *zone)
{
	size_t lo = 0, hi = c->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int r = strcmp(c->m[mid].zone, zone);
		if (r == 0)
			return &c->m[mid];
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool gk_xfr_catalog_may_claim(const char *claimant, const char *owner, const char *owner_coo)
{
	if (!owner || strcmp(owner, claimant) == 0)
		return true;
	return owner_coo && strcmp(owner_coo, claimant) == 0;
}

static bool streq_null(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

int gk_xfr_catalog_diff(const gk_catalog_t *old, const gk_catalog_t *new_, gk_catalog_diff_fn fn,
                        void *ctx)
{
	size_t i = 0, j = 0;
	while (i < old->n || j < new_->n) {
		int c = i == old->n    ? 1
		        : j == new_->n ? -1
		                       : strcmp(old->m[i].zone, new_->m[j].zone);
		int r;
		if (c < 0) {
			r = fn(ctx, GK_CATALOG_REMOVED, &old->m[i++], NULL);
		} else if (c > 0) {
			r = fn(ctx, GK_CATALOG_ADDED, NULL, &new_->m[j++]);
		} else {
			const gk_catalog_member_t *o = &old->m[i++], *n = &new_->m[j++];
			gk_catalog_change_t ch = strcmp(o->id, n->id) != 0 ? GK_CATALOG_RESET
			                         : !streq_null(o->group, n->group)
			                             ? GK_CATALOG_REGROUP
			                             : GK_CATALOG_SAME;
			r = fn(ctx, ch, o, n);
		}
		if (r)
			return r;
	}
	return 0;
}
