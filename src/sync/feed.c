/* SPDX-License-Identifier: MIT */
/* src/sync/feed.c -- registry feed parser: line splitting, jansson per line, validation.
 *
 * The whole feed is validated before anything is returned: truncation first (it explains a
 * broken last line better than a JSON error), then the header, then records (in parallel
 * when asked: each worker owns an arena and stops at its first error; the lowest failing
 * line wins, so the message does not depend on the thread count), then duplicates and the
 * count. Record strings live in per-worker arenas owned by the feed.
 */
#include <idn2.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"
#include "gk/filing_status.h"
#include "sync/feed.h"

#define MAX_THREADS 16

typedef struct feed_priv {
	gk_arena_t *arenas[MAX_THREADS + 1];
	unsigned n_arenas;
} feed_priv_t;

/* One worker's share: lines [first, last) of the record lines. */
typedef struct worker {
	const char *name;
	const char *data;
	const size_t *starts; /* start offset of each line; line i ends at starts[i+1]-1 ('\n') */
	size_t first, last;
	gk_feed_kind_t kind;
	unsigned flags;
	const gk_psl_t *psl;
	gk_arena_t *arena;
	gk_feed_rec_t *recs;         /* recs[i - 1] is line i + 1's record (line 1 is the header) */
	const char **provider_names; /* per record, NULL: none; interned after the join */
	int rc;
	uint32_t err_line;
	char err[256];
	char *dump; /* scratch for json_dumpb */
	size_t dump_cap;
} worker_t;

void gk_feed_global_init(void)
{
	json_object_seed(0);
}

int gk_feed_status_parse(const char *s)
{
	if (!strcmp(s, "filed"))
		return GK_FS_FILED;
	if (!strcmp(s, "revoked"))
		return GK_FS_REVOKED;
	return -1;
}

static void seterr(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void seterr(char *err, size_t errlen, const char *name, size_t line, const char *fmt, ...)
{
	if (!err || !errlen)
		return;
	int n = snprintf(err, errlen, "%s:%zu: ", name, line);
	if (n < 0 || (size_t)n >= errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static int check_ldh(const char *s, size_t len, const char **why)
{
	size_t label = 0;
	for (size_t i = 0; i <= len; i++) {
		char c = i < len ? s[i] : '.';
		if (c == '.') {
			if (label == 0) {
				*why = "empty label";
				return GK_EINVAL;
			}
			if (label > 63) {
				*why = "label longer than 63 bytes";
				return GK_EINVAL;
			}
			if (s[i - label] == '-' || s[i - 1] == '-') {
				*why = "label starts or ends with '-'";
				return GK_EINVAL;
			}
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
			*why = "character not allowed in a host name";
			return GK_EINVAL;
		}
		label++;
	}
	return 0;
}

int gk_feed_domain_normalise(const char *in, size_t len, char *out, const char **why)
{
	char tmp[1024];
	int ascii = 1;
	*why = "empty name";
	if (len && in[len - 1] == '.')
		len--;
	if (!len)
		return GK_EINVAL;
	if (len >= sizeof(tmp)) {
		*why = "name too long";
		return GK_EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		if (c >= 0x80)
			ascii = 0;
		else if (c == 0) {
			*why = "NUL in name";
			return GK_EINVAL;
		}
		tmp[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
	}
	tmp[len] = 0;
	if (!ascii) {
		uint8_t *a = NULL;
		int r =
		    idn2_lookup_u8((const uint8_t *)tmp, &a, IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL);
		if (r != IDN2_OK) {
			*why = "invalid internationalised name (IDNA2008/UTS#46)";
			return GK_EINVAL;
		}
		len = strlen((char *)a);
		if (len >= sizeof(tmp)) {
			idn2_free(a);
			*why = "name too long";
			return GK_EINVAL;
		}
		memcpy(tmp, a, len + 1);
		idn2_free(a);
		if (len && tmp[len - 1] == '.')
			tmp[--len] = 0;
		for (size_t i = 0; i < len; i++)
			if (tmp[i] >= 'A' && tmp[i] <= 'Z')
				tmp[i] = (char)(tmp[i] + 32);
	}
	if (len > 253) {
		*why = "name longer than 253 bytes";
		return GK_EINVAL;
	}
	if (check_ldh(tmp, len, why))
		return GK_EINVAL;
	memcpy(out, tmp, len + 1);
	return (int)len;
}

/* Optional string members: present means a JSON string. */
static const char *const STRING_KEYS[] = {"licence",   "sponsor",  "nature", "provider", "updated",
                                          "site_name", "home_url", "phone",  "person",   "address"};

static int parse_record(worker_t *w, size_t i, gk_feed_rec_t *rec)
{
	const char *line = w->data + w->starts[i];
	size_t len = w->starts[i + 1] - w->starts[i] - 1;
	uint32_t lno = (uint32_t)(i + 1);
	json_error_t je;
	char dom[256];
	const char *why;
	int rc = GK_ESYNTAX;
	json_t *o = NULL;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		seterr(w->err, sizeof(w->err), w->name, lno, __VA_ARGS__);                         \
		goto out;                                                                          \
	} while (0)

	if (!len)
		FAIL("malformed JSON: empty line");
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o)
		FAIL("malformed JSON: %s (column %d)", je.text, je.column);
	if (!json_is_object(o))
		FAIL("malformed record: not a JSON object");
	json_t *jd = json_object_get(o, "domain");
	if (!json_is_string(jd))
		FAIL("malformed record: \"domain\" missing or not a string");
	int dl = gk_feed_domain_normalise(json_string_value(jd), json_string_length(jd), dom, &why);
	if (dl < 0)
		FAIL("invalid domain \"%.100s\": %s", json_string_value(jd), why);
	const char *reg = gk_psl_registrable(w->psl, dom);
	if (reg != dom) {
		if (reg)
			FAIL("\"%s\" is not a registrable domain (its registrable domain is %s)",
			     dom, reg);
		FAIL("\"%s\" is not a registrable domain (it is a public suffix)", dom);
	}
	rec->line = lno;
	rec->domain_len = (uint8_t)dl;
	rec->bucket = (uint16_t)gk_fs_bucket(dom, (size_t)dl);
	rec->domain = gk_arena_dup(w->arena, dom, (size_t)dl + 1);
	if (!rec->domain) {
		rc = GK_ENOMEM;
		goto out;
	}

	json_t *op = json_object_get(o, "op");
	if (op) {
		if (!json_is_string(op) || strcmp(json_string_value(op), "remove"))
			FAIL("unknown op (only \"remove\" is defined)");
		if (w->kind != GK_FEED_DELTA)
			FAIL("\"op\":\"remove\" is only allowed in a delta");
		rec->status = GK_FS_UNFILED;
		rc = 0;
		goto out;
	}
	json_t *js = json_object_get(o, "status");
	if (!json_is_string(js))
		FAIL("malformed record: \"status\" missing or not a string");
	int st = gk_feed_status_parse(json_string_value(js));
	if (st < 0)
		FAIL("unknown status \"%.40s\" (expected filed or revoked)", json_string_value(js));
	rec->status = (uint8_t)st;
	for (size_t k = 0; k < sizeof(STRING_KEYS) / sizeof(*STRING_KEYS); k++) {
		json_t *v = json_object_get(o, STRING_KEYS[k]);
		if (v && !json_is_string(v))
			FAIL("malformed record: \"%s\" is not a string", STRING_KEYS[k]);
	}
	json_t *ips = json_object_get(o, "ips");
	if (ips) {
		size_t k;
		json_t *ip;
		if (!json_is_array(ips))
			FAIL("malformed record: \"ips\" is not an array");
		json_array_foreach(ips, k, ip) if (!json_is_string(ip))
		    FAIL("malformed record: \"ips\" holds a non-string");
	}
	json_t *jp = json_object_get(o, "provider");
	if (jp && json_string_length(jp)) {
		w->provider_names[i - 1] =
		    gk_arena_dup(w->arena, json_string_value(jp), json_string_length(jp) + 1);
		if (!w->provider_names[i - 1]) {
			rc = GK_ENOMEM;
			goto out;
		}
	}
	/* the stored record: canonical form (sorted keys) so a snapshot diff compares bytes */
	if (w->flags & GK_FEED_NO_RECORDS) {
		rc = 0;
		goto out;
	}
	json_object_del(o, "domain");
	for (;;) {
		size_t n = json_dumpb(o, w->dump, w->dump_cap, JSON_COMPACT | JSON_SORT_KEYS);
		if (n == 0) {
			rc = GK_ENOMEM;
			goto out;
		}
		if (n < w->dump_cap) {
			char *r = gk_arena_alloc(w->arena, n + 1);
			if (!r) {
				rc = GK_ENOMEM;
				goto out;
			}
			memcpy(r, w->dump, n);
			r[n] = 0;
			rec->record = r;
			rec->record_len = (uint32_t)n;
			break;
		}
		char *nb = realloc(w->dump, n + 1);
		if (!nb) {
			rc = GK_ENOMEM;
			goto out;
		}
		w->dump = nb;
		w->dump_cap = n + 1;
	}
	rc = 0;
out:
#undef FAIL
	json_decref(o);
	return rc;
}

static void *work(void *arg)
{
	worker_t *w = arg;
	for (size_t i = w->first; i < w->last; i++) {
		int rc = parse_record(w, i, &w->recs[i - 1]);
		if (rc) {
			w->rc = rc;
			w->err_line = (uint32_t)(i + 1);
			if (rc == GK_ENOMEM)
				snprintf(w->err, sizeof(w->err), "%s:%zu: out of memory", w->name,
				         i + 1);
			break;
		}
	}
	free(w->dump);
	w->dump = NULL;
	return NULL;
}

static int parse_header(const char *name, const char *line, size_t len, gk_feed_t *f, char *err,
                        size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	int rc = GK_ESYNTAX;
	if (!o) {
		seterr(err, errlen, name, 1, "malformed JSON header: %s (column %d)", je.text,
		       je.column);
		return rc;
	}
	json_t *k = json_object_get(o, "kind"), *s = json_object_get(o, "serial"),
	       *b = json_object_get(o, "base"), *c = json_object_get(o, "count"),
	       *g = json_object_get(o, "generated");
	if (!json_is_object(o) || !json_is_string(k)) {
		seterr(err, errlen, name, 1, "malformed header: \"kind\" missing");
		goto out;
	}
	if (!strcmp(json_string_value(k), "snapshot"))
		f->kind = GK_FEED_SNAPSHOT;
	else if (!strcmp(json_string_value(k), "delta"))
		f->kind = GK_FEED_DELTA;
	else {
		seterr(err, errlen, name, 1, "unknown feed kind \"%.40s\"", json_string_value(k));
		goto out;
	}
	if (!json_is_integer(s) || json_integer_value(s) < 1) {
		seterr(err, errlen, name, 1,
		       "malformed header: \"serial\" must be an integer >= 1");
		goto out;
	}
	if (!json_is_integer(c) || json_integer_value(c) < 0) {
		seterr(err, errlen, name, 1, "malformed header: \"count\" must be an integer >= 0");
		goto out;
	}
	if (g && !json_is_string(g)) {
		seterr(err, errlen, name, 1, "malformed header: \"generated\" is not a string");
		goto out;
	}
	f->serial = (uint64_t)json_integer_value(s);
	f->count = (uint64_t)json_integer_value(c);
	if (g)
		snprintf(f->generated, sizeof(f->generated), "%s", json_string_value(g));
	if (f->kind == GK_FEED_DELTA) {
		if (!json_is_integer(b) || json_integer_value(b) < 0) {
			seterr(err, errlen, name, 1,
			       "malformed header: a delta needs \"base\", an integer >= 0");
			goto out;
		}
		f->base = (uint64_t)json_integer_value(b);
		if (f->base >= f->serial) {
			seterr(err, errlen, name, 1,
			       "delta base %llu is not older than its serial %llu",
			       (unsigned long long)f->base, (unsigned long long)f->serial);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int gk_feed_peek_header(const char *name, const char *data, size_t len, gk_feed_kind_t *kind,
                        uint64_t *serial, uint64_t *base, char *err, size_t errlen)
{
	gk_feed_t f = {0};
	const char *nl = memchr(data, '\n', len);
	if (!nl) {
		seterr(err, errlen, name, 1, "truncated: no complete header line");
		return GK_ESYNTAX;
	}
	int rc = parse_header(name, data, (size_t)(nl - data), &f, err, errlen);
	if (rc)
		return rc;
	*kind = f.kind;
	*serial = f.serial;
	*base = f.base;
	return 0;
}

/* Open-addressing set of record indices keyed by domain: the duplicate check. */
static int find_duplicates(gk_feed_t *f, const char *name, char *err, size_t errlen)
{
	size_t cap = 16;
	while (cap < f->n * 2)
		cap <<= 1;
	uint32_t *t = calloc(cap, sizeof(*t)); /* index + 1; 0 = empty */
	if (!t)
		return GK_ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < f->n; i++) {
		const gk_feed_rec_t *r = &f->recs[i];
		uint32_t h = 2166136261u;
		for (unsigned k = 0; k < r->domain_len; k++)
			h = (h ^ (uint8_t)r->domain[k]) * 16777619u;
		/* the bucket uses the low 16 bits; mix so the probe sequence does not cluster */
		size_t p = (h ^ (h >> 15)) * 0x9E3779B1u & (cap - 1);
		for (;; p = (p + 1) & (cap - 1)) {
			if (!t[p]) {
				t[p] = (uint32_t)i + 1;
				break;
			}
			const gk_feed_rec_t *o = &f->recs[t[p] - 1];
			if (o->domain_len == r->domain_len &&
			    !memcmp(o->domain, r->domain, r->domain_len)) {
				seterr(err, errlen, name, r->line,
				       "duplicate domain \"%s\" (first at line %u)", r->domain,
				       o->line);
				rc = GK_ESYNTAX;
				goto out;
			}
		}
	}
out:
	free(t);
	return rc;
}

/* Distinct provider names, in first-seen order; rec->provider = index + 1. */
static int intern_providers(gk_feed_t *f, const char **names, gk_arena_t *a)
{
	size_t cap = 256, used = 0, ncap = 16;
	uint32_t *t = calloc(cap, sizeof(*t));
	f->providers = malloc(ncap * sizeof(*f->providers));
	if (!t || !f->providers) {
		free(t);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < f->n; i++) {
		const char *s = names[i];
		if (!s)
			continue;
		uint32_t h = 2166136261u;
		for (const char *p = s; *p; p++)
			h = (h ^ (uint8_t)*p) * 16777619u;
		size_t p = h & (cap - 1);
		while (t[p] && strcmp(f->providers[t[p] - 1], s))
			p = (p + 1) & (cap - 1);
		if (!t[p]) {
			if (f->n_providers == ncap) {
				const char **np = realloc(f->providers, 2 * ncap * sizeof(*np));
				if (!np)
					goto nomem;
				f->providers = np;
				ncap *= 2;
			}
			f->providers[f->n_providers++] = s;
			t[p] = (uint32_t)f->n_providers;
			if (++used * 2 > cap) { /* grow and rehash */
				size_t nc = cap * 2;
				uint32_t *nt = calloc(nc, sizeof(*nt));
				if (!nt)
					goto nomem;
				for (size_t j = 0; j < f->n_providers; j++) {
					uint32_t hh = 2166136261u;
					for (const char *q = f->providers[j]; *q; q++)
						hh = (hh ^ (uint8_t)*q) * 16777619u;
					size_t pp = hh & (nc - 1);
					while (nt[pp])
						pp = (pp + 1) & (nc - 1);
					nt[pp] = (uint32_t)j + 1;
				}
				free(t);
				t = nt;
				cap = nc;
				p = h & (cap - 1);
				while (strcmp(f->providers[t[p] - 1], s))
					p = (p + 1) & (cap - 1);
			}
		}
		f->recs[i].provider = t[p];
	}
	(void)a;
	free(t);
	return 0;
nomem:
	free(t);
	return GK_ENOMEM;
}

int gk_feed_parse(const char *name, const char *data, size_t len, const gk_psl_t *psl,
                  unsigned threads, unsigned flags, gk_feed_t **out, char *err, size_t errlen)
{
	size_t *starts = NULL, nlines = 0, cap = 0;
	const char **pnames = NULL;
	worker_t ws[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	unsigned started = 0;
	int rc = GK_ENOMEM;
	gk_feed_t *f = calloc(1, sizeof(*f));
	feed_priv_t *priv = calloc(1, sizeof(*priv));
	if (err && errlen)
		err[0] = 0;
	if (!f || !priv)
		goto fail;
	f->priv = priv;
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;

	/* split lines; starts[nlines] is one past the last '\n' */
	if (!len) {
		seterr(err, errlen, name, 1, "truncated: empty feed (no header)");
		rc = GK_ESYNTAX;
		goto fail;
	}
	if (data[len - 1] != '\n') {
		size_t l = 1;
		for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))); p++)
			l++;
		seterr(err, errlen, name, l, "truncated: no newline at end of file");
		rc = GK_ESYNTAX;
		goto fail;
	}
	for (size_t off = 0; off < len;) {
		const char *nl = memchr(data + off, '\n', len - off);
		if (nlines + 2 > cap) {
			cap = cap ? cap * 2 : 1024;
			size_t *ns = realloc(starts, cap * sizeof(*ns));
			if (!ns)
				goto fail;
			starts = ns;
		}
		starts[nlines++] = off;
		off = (size_t)(nl - data) + 1;
	}
	starts[nlines] = len;

	rc = parse_header(name, data, starts[1] - 1, f, err, errlen);
	if (rc)
		goto fail;
	rc = GK_ENOMEM;
	f->n = nlines - 1;
	if (f->n) {
		f->recs = calloc(f->n, sizeof(*f->recs));
		pnames = calloc(f->n, sizeof(*pnames));
		if (!f->recs || !pnames)
			goto fail;
	}
	if (f->n < 1000)
		threads = 1;
	for (unsigned t = 0; t < threads; t++) {
		worker_t *w = &ws[t];
		*w = (worker_t){.name = name,
		                .data = data,
		                .starts = starts,
		                .first = 1 + f->n * t / threads,
		                .last = 1 + f->n * (t + 1) / threads,
		                .kind = f->kind,
		                .flags = flags,
		                .psl = psl,
		                .recs = f->recs,
		                .provider_names = pnames};
		w->arena = priv->arenas[priv->n_arenas++] = gk_arena_new();
		if (!w->arena)
			goto fail;
	}
	for (unsigned t = 1; t < threads; t++) {
		if (pthread_create(&tids[t], NULL, work, &ws[t]))
			break;
		started = t;
	}
	/* anything a thread could not be started for is parsed here */
	for (unsigned t = started + 1; t < threads; t++) {
		ws[0].last = ws[t].last;
		ws[t].first = ws[t].last;
	}
	work(&ws[0]);
	for (unsigned t = 1; t <= started; t++)
		pthread_join(tids[t], NULL);
	for (unsigned t = 0; t < threads; t++)
		if (ws[t].rc) {
			rc = ws[t].rc;
			if (err && errlen)
				snprintf(err, errlen, "%s", ws[t].err);
			goto fail;
		}
	if (f->n != f->count) {
		seterr(err, errlen, name, f->n < f->count ? nlines : 1,
		       "count mismatch: header says %llu records, feed has %zu%s",
		       (unsigned long long)f->count, f->n, f->n < f->count ? " (truncated?)" : "");
		rc = GK_ESYNTAX;
		goto fail;
	}
	rc = find_duplicates(f, name, err, errlen);
	if (rc)
		goto fail;
	rc = intern_providers(f, pnames, NULL);
	if (rc)
		goto fail;
	free(pnames);
	free(starts);
	*out = f;
	return 0;
fail:
	free(pnames);
	free(starts);
	if (rc == GK_ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory", name);
	gk_feed_free(f);
	return rc;
}

void gk_feed_free(gk_feed_t *f)
{
	if (!f)
		return;
	feed_priv_t *priv = f->priv;
	if (priv) {
		for (unsigned i = 0; i < priv->n_arenas; i++)
			gk_arena_free(priv->arenas[i]);
		free(priv);
	}
	free(f->recs);
	free(f->providers);
	free(f);
}
