/* SPDX-License-Identifier: MIT */
/* src/sync/ipfeed.c -- IP filing feed parser: ranges, the shared header, the overlap rules.
 *
 * The header and the truncation check are the domain feed's (gk_sync_feed_header_parse). Each
 * record line is parsed with jansson; provider, province and usage strings are interned (a
 * feed names a few hundred providers over a million ranges). The overlap rules sort the
 * ranges by (family, first, last descending) and sweep them with a stack of the ranges that
 * enclose the current one: a range that starts inside the top of the stack must end inside
 * it too (nested), else the two cross; equal ends are identical ranges.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"
#include "common/strmap.h"
#include "sync/feedline.h"
#include "sync/ipfeed.h"
#include "sync/iptab.h"

typedef struct ipfeed_priv {
	gk_arena_t *arena;
	gk_strmap_t names; /* interned strings, in arena */
} ipfeed_priv_t;

static const char *intern(ipfeed_priv_t *p, const char *s, size_t l)
{
	uint32_t ix;
	return gk_strmap_add(&p->names, s, l, &ix) < 0 ? NULL : gk_strmap_key(&p->names, ix);
}

static const char *const STRS[] = {"provider", "province", "usage"};

static int parse_record(const char *name, ipfeed_priv_t *p, gk_feed_kind_t kind, const char *line,
                        size_t len, uint32_t lno, gk_ip_range_t *r, char *err, size_t errlen)
{
	int rc = GK_ESYNTAX, v4 = 0;
	const char *why;
	json_t *o = NULL;
#define FAIL(...)                                                                                  \
	do {                                                                                       \
		gk_sync_feed_seterr(err, errlen, name, lno, __VA_ARGS__);                          \
		goto out;                                                                          \
	} while (0)
	char msg[GK_FEED_MSG_MAX];
	if (!(o = gk_sync_feed_line_object(line, len, msg, sizeof(msg))))
		FAIL("%s", msg);
	json_t *jr = json_object_get(o, "range");
	if (!json_is_string(jr))
		FAIL("malformed record: \"range\" missing or not a string");
	if (gk_sync_ip_range_parse(json_string_value(jr), json_string_length(jr), r->first, r->last,
	                           &v4, &why))
		FAIL("invalid range \"%.100s\": %s", json_string_value(jr), why);
	r->v4 = (uint8_t)v4;
	r->line = lno;
	int op = gk_sync_feed_line_op(o, kind, &why);
	if (op < 0)
		FAIL("%s", why);
	if (op) {
		r->remove = 1;
		rc = 0;
		goto out;
	}
	const char **dst[] = {&r->provider, &r->province, &r->usage};
	for (size_t k = 0; k < 3; k++) {
		json_t *v = json_object_get(o, STRS[k]);
		if (!v)
			continue;
		if (!json_is_string(v))
			FAIL("malformed record: \"%s\" is not a string", STRS[k]);
		if (!(*dst[k] = intern(p, json_string_value(v), json_string_length(v)))) {
			rc = GK_ENOMEM;
			goto out;
		}
	}
	if (!r->provider || !r->provider[0])
		FAIL("malformed record: \"provider\" missing or empty");
	rc = 0;
out:
#undef FAIL
	json_decref(o);
	return rc;
}

static int cmp_range(const void *a, const void *b)
{
	const gk_ip_range_t *x = *(const gk_ip_range_t *const *)a,
	                    *y = *(const gk_ip_range_t *const *)b;
	if (x->v4 != y->v4)
		return x->v4 ? -1 : 1;
	int c = memcmp(x->first, y->first, 16);
	if (c)
		return c;
	c = memcmp(y->last, x->last, 16); /* the wider first */
	if (c)
		return c;
	return x->line < y->line ? -1 : x->line > y->line;
}

int gk_sync_ipfeed_check(const char *name, const gk_ip_range_t *r, size_t n, size_t *n_nested,
                         void (*nested)(const gk_ip_range_t *, const gk_ip_range_t *, void *),
                         void *ctx, char *err, size_t errlen)
{
	const gk_ip_range_t **v = malloc((n ? n : 1) * sizeof(*v)),
	                    **st = malloc((n ? n : 1) * sizeof(*st));
	size_t m = 0, sp = 0, nn = 0;
	int rc = 0;
	if (!v || !st) {
		free(v);
		free(st);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		if (!r[i].remove)
			v[m++] = &r[i];
	qsort(v, m, sizeof(*v), cmp_range);
	char a[GK_IP_RANGE_TEXT], b[GK_IP_RANGE_TEXT];
	for (size_t i = 0; i < m; i++) {
		const gk_ip_range_t *x = v[i];
		while (sp &&
		       (st[sp - 1]->v4 != x->v4 || memcmp(st[sp - 1]->last, x->first, 16) < 0))
			sp--;
		if (sp) {
			const gk_ip_range_t *o = st[sp - 1];
			/* report at the later line of the two */
			const gk_ip_range_t *late = o->line > x->line ? o : x,
			                    *early = o->line > x->line ? x : o;
			gk_sync_ip_range_format(x->first, x->last, x->v4, a);
			gk_sync_ip_range_format(o->first, o->last, o->v4, b);
			if (!memcmp(o->first, x->first, 16) && !memcmp(o->last, x->last, 16)) {
				if (!strcmp(o->provider, x->provider))
					gk_sync_feed_seterr(err, errlen, name, late->line,
					                    "duplicate range %s (first at line %u)",
					                    a, early->line);
				else
					gk_sync_feed_seterr(
					    err, errlen, name, late->line,
					    "range %s filed by two providers: \"%s\" (line %u) and "
					    "\"%s\" (line %u)",
					    a, early->provider, early->line, late->provider,
					    late->line);
				/* line 0: a range already stored (a delta's check) */
				rc = GK_ESYNTAX;
				break;
			}
			if (memcmp(x->last, o->last, 16) > 0) {
				char ew[24] = "stored";
				if (early->line)
					snprintf(ew, sizeof(ew), "line %u", early->line);
				gk_sync_feed_seterr(
				    err, errlen, name, late->line,
				    "range %s overlaps %s (%s) without one holding the other",
				    x == late ? a : b, x == late ? b : a, ew);
				rc = GK_ESYNTAX;
				break;
			}
			nn++;
			if (nested)
				nested(x, o, ctx);
		}
		st[sp++] = x;
	}
	free(v);
	free(st);
	if (n_nested)
		*n_nested = nn;
	return rc;
}

static int cmp_exact(const void *a, const void *b)
{
	const gk_ip_range_t *x = *(const gk_ip_range_t *const *)a,
	                    *y = *(const gk_ip_range_t *const *)b;
	int c = cmp_range(a, b);
	if (x->v4 == y->v4 && !memcmp(x->first, y->first, 16) && !memcmp(x->last, y->last, 16))
		return x->line < y->line ? -1 : 1;
	return c;
}

/* A delta names each range once, a removal included. */
static int named_twice(const char *name, const gk_ipfeed_t *f, char *err, size_t errlen)
{
	const gk_ip_range_t **v = malloc((f->n ? f->n : 1) * sizeof(*v));
	if (!v)
		return GK_ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		v[i] = &f->r[i];
	qsort(v, f->n, sizeof(*v), cmp_exact);
	int rc = 0;
	uint32_t worst = 0, first = 0;
	for (size_t i = 1; i < f->n; i++)
		if (v[i]->v4 == v[i - 1]->v4 && !memcmp(v[i]->first, v[i - 1]->first, 16) &&
		    !memcmp(v[i]->last, v[i - 1]->last, 16) && (!worst || v[i]->line < worst)) {
			worst = v[i]->line;
			first = v[i - 1]->line;
		}
	if (worst) {
		const gk_ip_range_t *r = &f->r[worst - 2];
		char a[GK_IP_RANGE_TEXT];
		gk_sync_ip_range_format(r->first, r->last, r->v4, a);
		gk_sync_feed_seterr(err, errlen, name, worst,
		                    "range %s named twice in a delta (first at line %u)", a, first);
		rc = GK_ESYNTAX;
	}
	free(v);
	return rc;
}

int gk_sync_ipfeed_parse(const char *name, const char *data, size_t len, gk_ipfeed_t **out,
                         char *err, size_t errlen)
{
	gk_feed_header_t h;
	*out = NULL;
	if (err && errlen)
		err[0] = 0;
	int rc = gk_sync_feed_header_parse(name, data, len, &h, err, errlen);
	if (rc)
		return rc;
	if (h.type != GK_FEED_TYPE_IP) {
		gk_sync_feed_seterr(
		    err, errlen, name, 1,
		    "not an IP filing feed (the header needs \"feed\":\"ip\"; a domain feed is "
		    "applied with gk-sync apply)");
		return GK_ESYNTAX;
	}
	gk_ipfeed_t *f = calloc(1, sizeof(*f));
	ipfeed_priv_t *p = calloc(1, sizeof(*p));
	if (p && (p->arena = gk_arena_new()))
		gk_strmap_init(&p->names, p->arena, 0);
	if (!f || !p || !p->arena) {
		free(f);
		free(p);
		return GK_ENOMEM;
	}
	f->priv = p;
	f->kind = h.kind;
	f->serial = h.serial;
	f->base = h.base;
	f->count = h.count;
	memcpy(f->generated, h.generated, sizeof(f->generated));
	size_t lines = 0;
	for (const char *q = data + h.body; (q = memchr(q, '\n', len - (size_t)(q - data))); q++)
		lines++;
	if (lines > UINT32_MAX - 2) {
		gk_sync_feed_seterr(err, errlen, name, 1, "too many lines");
		rc = GK_ESYNTAX;
		goto fail;
	}
	rc = GK_ENOMEM;
	if (lines && !(f->r = calloc(lines, sizeof(*f->r))))
		goto fail;
	const char *q = data + h.body, *e = data + len;
	for (size_t i = 0; i < lines; i++) {
		const char *nl = memchr(q, '\n', (size_t)(e - q));
		rc = parse_record(name, p, f->kind, q, (size_t)(nl - q), (uint32_t)(i + 2),
		                  &f->r[i], err, errlen);
		if (rc)
			goto fail;
		q = nl + 1;
	}
	f->n = lines;
	rc = 0;
	if (f->n != f->count) {
		gk_sync_feed_seterr(err, errlen, name, f->n < f->count ? f->n + 2 : 1,
		                    "count mismatch: header says %llu records, feed has %zu%s",
		                    (unsigned long long)f->count, f->n,
		                    f->n < f->count ? " (truncated?)" : "");
		rc = GK_ESYNTAX;
		goto fail;
	}
	if (f->kind == GK_FEED_DELTA)
		rc = named_twice(name, f, err, errlen);
	if (!rc)
		rc = gk_sync_ipfeed_check(name, f->r, f->n, &f->n_nested, NULL, NULL, err, errlen);
	if (rc)
		goto fail;
	*out = f;
	return 0;
fail:
	if (rc == GK_ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory", name);
	gk_sync_ipfeed_free(f);
	return rc;
}

void gk_sync_ipfeed_free(gk_ipfeed_t *f)
{
	if (!f)
		return;
	ipfeed_priv_t *p = f->priv;
	if (p) {
		gk_arena_free(p->arena);
		gk_strmap_free(&p->names);
		free(p);
	}
	free(f->r);
	free(f);
}

static char *put_str(char *d, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	*d++ = '"';
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			*d++ = '\\';
			*d++ = (char)c;
		} else if (c < 0x20) {
			memcpy(d, "\\u00", 4);
			d[4] = hex[c >> 4];
			d[5] = hex[c & 15];
			d += 6;
		} else {
			*d++ = (char)c;
		}
	}
	*d++ = '"';
	return d;
}

char *gk_sync_ipfeed_value(const gk_ip_range_t *r)
{
	const char *pv = r->provider ? r->provider : "";
	size_t need = 64 + 6 * (strlen(pv) + (r->province ? strlen(r->province) : 0) +
	                        (r->usage ? strlen(r->usage) : 0));
	char *out = malloc(need), *d = out;
	if (!out)
		return NULL;
	/* keys sorted, as json_dumps(JSON_SORT_KEYS) would write them */
	memcpy(d, "{\"provider\":", 12);
	d = put_str(d + 12, pv);
	if (r->province) {
		memcpy(d, ",\"province\":", 12);
		d = put_str(d + 12, r->province);
	}
	if (r->usage) {
		memcpy(d, ",\"usage\":", 9);
		d = put_str(d + 9, r->usage);
	}
	*d++ = '}';
	*d = 0;
	return out;
}
