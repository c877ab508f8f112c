/* SPDX-License-Identifier: MIT */
/* src/sync/feed.c -- registry feed parser: line splitting, jansson per line, validation.
 *
 * The whole feed is validated before anything is returned: truncation first (it explains a
 * broken last line better than a JSON error), then the header, then records (in parallel
 * when asked: the records are split into byte ranges at line boundaries, one per worker;
 * each worker owns an arena and stops at its first error; the lowest failing line wins, so
 * the message does not depend on the thread count), then the count and duplicates.
 *
 * Per line, jansson is the parser and nearly all the cost (about 4.5 us of CPU per 300-byte
 * line here); everything else is kept off the per-line path: jansson's allocations go to a
 * per-thread bump buffer reset after each line, the record is encoded straight from the
 * parsed object into its compact stored form (src/sync/record.c) next to the domain in one
 * arena block, provider names are interned per worker, and pages of a large feed are dropped once
 * parsed (GK_FEED_DROP_PAGES) so the feed's bytes do not add to the record memory.
 */
#include <idn2.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "common/arena.h"
#include "common/strmap.h"
#include "gk/filing_status.h"
#include "sync/feed.h"
#include "sync/feedline.h"
#include "sync/record.h"

#define MAX_THREADS 16

typedef struct feed_priv {
	gk_arena_t *arenas[MAX_THREADS + 1];
	unsigned n_arenas;
} feed_priv_t;

/* One worker's share: the record lines in data[begin, end), the first of them line line0. */
typedef struct worker {
	const char *name;
	const char *data;
	size_t begin, end;
	size_t nlines;       /* lines in [begin, end) (count phase) */
	gk_feed_rec_t *recs; /* this worker's records, nlines of them */
	uint32_t line0;
	gk_feed_kind_t kind;
	unsigned flags;
	const gk_psl_t *psl;
	gk_arena_t *arena;
	gk_strmap_t prov; /* provider names, interned in arena: local index */
	int rc;
	uint32_t err_line;
	char err[256];
	uint8_t *enc; /* scratch for the encoded record */
	size_t enc_cap;
} worker_t;

/* jansson's allocations while a worker parses a line: a per-thread bump buffer, reset after
 * the line (json_decref frees into it, which is a no-op). Other threads and other callers
 * get malloc. */
#define JBUF_SIZE (64u * 1024u)
static _Thread_local char *jbuf;
static _Thread_local size_t jbuf_off;

static void *jalloc(size_t n)
{
	if (jbuf) {
		n = (n + 15u) & ~(size_t)15u;
		if (n <= JBUF_SIZE - jbuf_off) {
			void *p = jbuf + jbuf_off;
			jbuf_off += n;
			return p;
		}
	}
	return malloc(n);
}

static void jfree(void *p)
{
	if (jbuf && (char *)p >= jbuf && (char *)p < jbuf + JBUF_SIZE)
		return;
	free(p);
}

void gk_sync_feed_global_init(void)
{
	json_set_alloc_funcs(jalloc, jfree);
	json_object_seed(0);
}

int gk_sync_feed_status_parse(const char *s)
{
	if (!strcmp(s, "filed"))
		return GK_FS_FILED;
	if (!strcmp(s, "revoked"))
		return GK_FS_REVOKED;
	return -1;
}

void gk_sync_feed_seterr(char *err, size_t errlen, const char *name, size_t line, const char *fmt,
                         ...)
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

int gk_sync_feed_serial_check(const char *name, gk_feed_kind_t kind, uint64_t serial, uint64_t base,
                              uint64_t cur, const char *key, char *err, size_t errlen)
{
	if (kind == GK_FEED_SNAPSHOT && serial <= cur) {
		snprintf(err, errlen, "%s:1: serial %llu is not newer than %s %llu", name,
		         (unsigned long long)serial, key, (unsigned long long)cur);
		return GK_ESYNTAX;
	}
	if (kind != GK_FEED_DELTA)
		return 0;
	/* a retry of a delta that was applied (serials are the registry's, signed): the store
	 * already holds it; success, so an operator's retry loop stops */
	if (serial == cur)
		return 1;
	if (serial < cur) {
		snprintf(err, errlen,
		         "%s:1: delta serial %llu is older than %s %llu: already applied, or "
		         "superseded by a later feed; nothing written",
		         name, (unsigned long long)serial, key, (unsigned long long)cur);
		return GK_ESYNTAX;
	}
	if (base != cur) {
		snprintf(err, errlen, "%s:1: delta base %llu != %s %llu%s", name,
		         (unsigned long long)base, key, (unsigned long long)cur,
		         base > cur ? " (an earlier delta is missing)" : "");
		return base > cur ? GK_EAGAIN : GK_ESYNTAX;
	}
	return 0;
}

json_t *gk_sync_feed_line_object(const char *line, size_t len, char *msg, size_t msglen)
{
	json_error_t je;
	if (!len) {
		snprintf(msg, msglen, "malformed JSON: empty line");
		return NULL;
	}
	if (len + 1 > GK_FEED_LINE_MAX) {
		snprintf(msg, msglen, "record line is %zu bytes, over the %d-byte limit", len + 1,
		         GK_FEED_LINE_MAX);
		return NULL;
	}
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	if (!o) {
		snprintf(msg, msglen, "malformed JSON: %s (column %d)", je.text, je.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		snprintf(msg, msglen, "malformed record: not a JSON object");
		return NULL;
	}
	return o;
}

int gk_sync_feed_line_op(json_t *o, gk_feed_kind_t kind, const char **msg)
{
	json_t *op = json_object_get(o, "op");
	if (!op)
		return 0;
	if (!json_is_string(op) || strcmp(json_string_value(op), "remove")) {
		*msg = "unknown op (only \"remove\" is defined)";
		return -1;
	}
	if (kind != GK_FEED_DELTA) {
		*msg = "\"op\":\"remove\" is only allowed in a delta";
		return -1;
	}
	return 1;
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

/* Every "xn--" label of an LDH name must be an A-label: Punycode that decodes to a U-label
 * valid under IDNA2008/UTS#46 and encodes back to exactly this label. Otherwise "xn--a"
 * (U+0080), an emoji or a label decoding to plain ASCII would be stored as a domain. */
static int check_alabels(const char *s, size_t len, const char **why)
{
	for (size_t i = 0; i < len;) {
		const char *dot = memchr(s + i, '.', len - i);
		size_t l = dot ? (size_t)(dot - (s + i)) : len - i;
		if (l >= 4 && !memcmp(s + i, "xn--", 4)) {
			char label[64], *u = NULL;
			uint8_t *a = NULL;
			memcpy(label, s + i, l); /* l <= 63: check_ldh ran first */
			label[l] = 0;
			int ok = idn2_to_unicode_8z8z(label, &u, 0) == IDN2_OK &&
			         idn2_lookup_u8((const uint8_t *)u, &a,
			                        IDN2_NFC_INPUT | IDN2_NONTRANSITIONAL) == IDN2_OK &&
			         !strcmp((const char *)a, label);
			idn2_free(u);
			idn2_free(a);
			if (!ok) {
				*why = "an xn-- label is not a valid A-label (IDNA2008: it must "
				       "decode to a valid U-label that encodes back to it)";
				return GK_EINVAL;
			}
		}
		i += l + 1;
	}
	return 0;
}

int gk_sync_feed_domain_normalise(const char *in, size_t len, char *out, const char **why)
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
	if (check_ldh(tmp, len, why) || check_alabels(tmp, len, why))
		return GK_EINVAL;
	memcpy(out, tmp, len + 1);
	return (int)len;
}

/* Optional string members: present means a JSON string. */
static const char *const STRING_KEYS[] = {"licence",   "sponsor",  "nature", "provider", "updated",
                                          "site_name", "home_url", "phone",  "person",   "address"};

/* Intern a provider name; returns its index + 1, 0 on ENOMEM. */
static uint32_t intern(gk_strmap_t *t, const char *s, size_t l)
{
	uint32_t ix;
	return gk_strmap_add(t, s, l, &ix) < 0 ? 0 : ix + 1;
}

static int parse_record(worker_t *w, const char *line, size_t len, uint32_t lno, gk_feed_rec_t *rec)
{
	char dom[256];
	const char *why;
	int rc = GK_ESYNTAX;
	json_t *o = NULL;
	uint32_t prov = 0;

#define FAIL(...)                                                                                  \
	do {                                                                                       \
		gk_sync_feed_seterr(w->err, sizeof(w->err), w->name, lno, __VA_ARGS__);            \
		goto out;                                                                          \
	} while (0)

	char msg[GK_FEED_MSG_MAX];
	if (!(o = gk_sync_feed_line_object(line, len, msg, sizeof(msg))))
		FAIL("%s", msg);
	json_t *jd = json_object_get(o, "domain");
	if (!json_is_string(jd))
		FAIL("malformed record: \"domain\" missing or not a string");
	int dl =
	    gk_sync_feed_domain_normalise(json_string_value(jd), json_string_length(jd), dom, &why);
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

	int op = gk_sync_feed_line_op(o, w->kind, &why);
	if (op < 0)
		FAIL("%s", why);
	if (op) {
		rec->status = GK_FS_UNFILED;
	} else {
		json_t *js = json_object_get(o, "status");
		if (!json_is_string(js))
			FAIL("malformed record: \"status\" missing or not a string");
		int st = gk_sync_feed_status_parse(json_string_value(js));
		if (st < 0)
			FAIL("unknown status \"%.40s\" (expected filed or revoked)",
			     json_string_value(js));
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
			prov = intern(&w->prov, json_string_value(jp), json_string_length(jp));
			if (!prov) {
				rc = GK_ENOMEM;
				goto out;
			}
		}
	}
	rec->provider = prov;
	/* the domain and the stored record (src/sync/record.c) in one arena block */
	int el = 0;
	if (rec->status != GK_FS_UNFILED && !(w->flags & GK_FEED_NO_RECORDS)) {
		for (;;) {
			if (w->enc_cap < 2 * len + 256) {
				size_t nc = 2 * len + 256;
				uint8_t *nb = realloc(w->enc, nc);
				if (!nb) {
					rc = GK_ENOMEM;
					goto out;
				}
				w->enc = nb;
				w->enc_cap = nc;
			}
			el = gk_sync_rec_encode(o, dom, rec->status, w->enc, w->enc_cap);
			if (el != GK_ENOSPC)
				break;
			len = w->enc_cap; /* grow and retry */
		}
		if (el < 0) {
			rc = el;
			goto out;
		}
	}
	char *blk = gk_arena_alloc(w->arena, (size_t)dl + 1 + (el ? (size_t)el + 1 : 0));
	if (!blk) {
		rc = GK_ENOMEM;
		goto out;
	}
	memcpy(blk, dom, (size_t)dl + 1);
	rec->domain = blk;
	if (el) {
		memcpy(blk + dl + 1, w->enc, (size_t)el);
		blk[dl + 1 + el] = 0;
		rec->record = blk + dl + 1;
		rec->record_len = (uint32_t)el;
	}
	rc = 0;
out:
#undef FAIL
	json_decref(o);
	jbuf_off = 0;
	return rc;
}

/* Count phase: the lines in [begin, end). */
static void *count_lines(void *arg)
{
	worker_t *w = arg;
	size_t n = 0;
	const char *p = w->data + w->begin, *e = w->data + w->end;
	while (p < e && (p = memchr(p, '\n', (size_t)(e - p)))) {
		n++;
		p++;
	}
	w->nlines = n;
	return NULL;
}

#define DROP_STEP (64u << 20)

static void *work(void *arg)
{
	worker_t *w = arg;
	char *own = malloc(JBUF_SIZE);
	jbuf = own;
	jbuf_off = 0;
	long pg = sysconf(_SC_PAGESIZE);
	size_t page = pg > 0 ? (size_t)pg : 4096, dropped = w->begin;
	const char *p = w->data + w->begin, *e = w->data + w->end;
	for (size_t i = 0; i < w->nlines; i++) {
		const char *nl = memchr(p, '\n', (size_t)(e - p));
		int rc = parse_record(w, p, (size_t)(nl - p), w->line0 + (uint32_t)i, &w->recs[i]);
		if (rc) {
			w->rc = rc;
			w->err_line = w->line0 + (uint32_t)i;
			if (rc == GK_ENOMEM)
				snprintf(w->err, sizeof(w->err), "%s:%u: out of memory", w->name,
				         w->err_line);
			break;
		}
		p = nl + 1;
		/* a feed in an anonymous mapping: give back the pages parsed so far (nobody reads
		 * them again) */
		size_t at = (size_t)(p - w->data);
		if ((w->flags & GK_FEED_DROP_PAGES) && at - dropped >= DROP_STEP) {
			size_t a0 = (dropped + page - 1) / page * page, a1 = at / page * page;
			if (a1 > a0)
				madvise((void *)(w->data + a0), a1 - a0, MADV_DONTNEED);
			dropped = a1;
		}
	}
	jbuf = NULL;
	free(own);
	free(w->enc);
	w->enc = NULL;
	return NULL;
}

static int parse_header(const char *name, const char *line, size_t len, gk_feed_header_t *f,
                        char *err, size_t errlen)
{
	json_error_t je;
	if (len + 1 > GK_FEED_LINE_MAX) {
		gk_sync_feed_seterr(err, errlen, name, 1,
		                    "header line is %zu bytes, over the %d-byte limit", len + 1,
		                    GK_FEED_LINE_MAX);
		return GK_ESYNTAX;
	}
	json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &je);
	int rc = GK_ESYNTAX;
	if (!o) {
		gk_sync_feed_seterr(err, errlen, name, 1, "malformed JSON header: %s (column %d)",
		                    je.text, je.column);
		return rc;
	}
	json_t *k = json_object_get(o, "kind"), *s = json_object_get(o, "serial"),
	       *b = json_object_get(o, "base"), *c = json_object_get(o, "count"),
	       *g = json_object_get(o, "generated"), *t = json_object_get(o, "feed");
	if (!json_is_object(o) || !json_is_string(k)) {
		gk_sync_feed_seterr(err, errlen, name, 1, "malformed header: \"kind\" missing");
		goto out;
	}
	f->type = GK_FEED_TYPE_DOMAIN;
	if (t && (!json_is_string(t) ||
	          (strcmp(json_string_value(t), "domain") && strcmp(json_string_value(t), "ip")))) {
		gk_sync_feed_seterr(err, errlen, name, 1,
		                    "malformed header: \"feed\" must be \"domain\" or \"ip\"");
		goto out;
	}
	if (t && !strcmp(json_string_value(t), "ip"))
		f->type = GK_FEED_TYPE_IP;
	if (!strcmp(json_string_value(k), "snapshot"))
		f->kind = GK_FEED_SNAPSHOT;
	else if (!strcmp(json_string_value(k), "delta"))
		f->kind = GK_FEED_DELTA;
	else {
		gk_sync_feed_seterr(err, errlen, name, 1, "unknown feed kind \"%.40s\"",
		                    json_string_value(k));
		goto out;
	}
	if (!json_is_integer(s) || json_integer_value(s) < 1) {
		gk_sync_feed_seterr(err, errlen, name, 1,
		                    "malformed header: \"serial\" must be an integer >= 1");
		goto out;
	}
	if (!json_is_integer(c) || json_integer_value(c) < 0) {
		gk_sync_feed_seterr(err, errlen, name, 1,
		                    "malformed header: \"count\" must be an integer >= 0");
		goto out;
	}
	if (g && !json_is_string(g)) {
		gk_sync_feed_seterr(err, errlen, name, 1,
		                    "malformed header: \"generated\" is not a string");
		goto out;
	}
	f->serial = (uint64_t)json_integer_value(s);
	f->count = (uint64_t)json_integer_value(c);
	if (g)
		snprintf(f->generated, sizeof(f->generated), "%s", json_string_value(g));
	if (f->kind == GK_FEED_DELTA) {
		if (!json_is_integer(b) || json_integer_value(b) < 0) {
			gk_sync_feed_seterr(
			    err, errlen, name, 1,
			    "malformed header: a delta needs \"base\", an integer >= 0");
			goto out;
		}
		f->base = (uint64_t)json_integer_value(b);
		if (f->base >= f->serial) {
			gk_sync_feed_seterr(err, errlen, name, 1,
			                    "delta base %llu is not older than its serial %llu",
			                    (unsigned long long)f->base,
			                    (unsigned long long)f->serial);
			goto out;
		}
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

int gk_sync_feed_header_parse(const char *name, const char *data, size_t len, gk_feed_header_t *h,
                              char *err, size_t errlen)
{
	memset(h, 0, sizeof(*h));
	if (!len) {
		gk_sync_feed_seterr(err, errlen, name, 1, "truncated: empty feed (no header)");
		return GK_ESYNTAX;
	}
	if (data[len - 1] != '\n') {
		size_t l = 1;
		for (const char *p = data; (p = memchr(p, '\n', len - (size_t)(p - data))); p++)
			l++;
		gk_sync_feed_seterr(err, errlen, name, l, "truncated: no newline at end of file");
		return GK_ESYNTAX;
	}
	const char *hnl = memchr(data, '\n', len);
	int rc = parse_header(name, data, (size_t)(hnl - data), h, err, errlen);
	if (!rc)
		h->body = (size_t)(hnl - data) + 1;
	return rc;
}

int gk_sync_feed_peek_header(const char *name, const char *data, size_t len, gk_feed_kind_t *kind,
                             uint64_t *serial, uint64_t *base, char *err, size_t errlen)
{
	gk_feed_header_t f = {0};
	const char *nl = memchr(data, '\n', len);
	if (!nl) {
		gk_sync_feed_seterr(err, errlen, name, 1, "truncated: no complete header line");
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

/* The duplicate check: the records' domains in a string map, in record order. */
static int find_duplicates(gk_feed_t *f, const char *name, char *err, size_t errlen)
{
	gk_strmap_t m;
	gk_strmap_init(&m, NULL, GK_STRMAP_BORROW);
	int rc = 0;
	for (size_t i = 0; i < f->n && rc == 0; i++) {
		const gk_feed_rec_t *r = &f->recs[i];
		uint32_t first;
		rc = gk_strmap_add(&m, r->domain, r->domain_len, &first);
		if (rc == 0) {
			gk_sync_feed_seterr(err, errlen, name, r->line,
			                    "duplicate domain \"%s\" (first at line %u)", r->domain,
			                    f->recs[first].line);
			rc = GK_ESYNTAX;
		}
		rc = rc == 1 ? 0 : rc;
	}
	gk_strmap_free(&m);
	return rc;
}

/* Distinct provider names in first-seen (line) order: the workers' tables merged in worker
 * order; rec->provider becomes global index + 1. */
static int merge_providers(gk_feed_t *f, worker_t *ws, unsigned threads, gk_arena_t *arena)
{
	gk_strmap_t g;
	gk_strmap_init(&g, arena, 0);
	int rc = 0;
	for (unsigned t = 0; !rc && t < threads; t++) {
		worker_t *w = &ws[t];
		size_t n = gk_strmap_count(&w->prov);
		uint32_t *map = malloc((n + 1) * sizeof(*map));
		if (!map) {
			rc = GK_ENOMEM;
			break;
		}
		map[0] = 0;
		for (size_t i = 0; i < n; i++) {
			const char *nm = gk_strmap_key(&w->prov, (uint32_t)i);
			map[i + 1] = intern(&g, nm, strlen(nm));
			if (!map[i + 1])
				rc = GK_ENOMEM;
		}
		for (size_t i = 0; !rc && i < w->nlines; i++)
			w->recs[i].provider = map[w->recs[i].provider];
		free(map);
	}
	f->providers = gk_strmap_release_keys(&g, &f->n_providers);
	return rc;
}

int gk_sync_feed_parse(const char *name, const char *data, size_t len, const gk_psl_t *psl,
                       unsigned threads, unsigned flags, gk_feed_t **out, char *err, size_t errlen)
{
	worker_t ws[MAX_THREADS];
	pthread_t tids[MAX_THREADS];
	int started[MAX_THREADS] = {0};
	int rc = GK_ENOMEM;
	gk_feed_t *f = calloc(1, sizeof(*f));
	feed_priv_t *priv = calloc(1, sizeof(*priv));
	memset(ws, 0, sizeof(ws));
	if (err && errlen)
		err[0] = 0;
	if (threads < 1)
		threads = 1;
	if (threads > MAX_THREADS)
		threads = MAX_THREADS;
	if (!f || !priv) {
		free(priv);
		threads = 0;
		goto fail;
	}
	f->priv = priv;

	gk_feed_header_t h;
	rc = gk_sync_feed_header_parse(name, data, len, &h, err, errlen);
	if (!rc && h.type != GK_FEED_TYPE_DOMAIN) {
		gk_sync_feed_seterr(
		    err, errlen, name, 1,
		    "an IP filing feed (\"feed\":\"ip\"): apply it with gk-sync apply-ip");
		rc = GK_ESYNTAX;
	}
	if (rc) {
		threads = 0;
		goto fail;
	}
	f->kind = h.kind;
	f->serial = h.serial;
	f->base = h.base;
	f->count = h.count;
	memcpy(f->generated, h.generated, sizeof(f->generated));
	const char *hnl = data + h.body - 1;
	rc = GK_ENOMEM;
	size_t body = (size_t)(hnl - data) + 1;
	if (len - body < (16u << 10))
		threads = 1; /* not worth a thread */
	/* byte ranges split at line starts */
	for (unsigned t = 0; t < threads; t++) {
		worker_t *w = &ws[t];
		size_t b = body + (len - body) / threads * t;
		if (t) {
			b = b < ws[t - 1].begin ? ws[t - 1].begin : b;
			const char *nl = b > body && data[b - 1] != '\n'
			                     ? memchr(data + b, '\n', len - b)
			                     : NULL;
			if (nl)
				b = (size_t)(nl - data) + 1;
			ws[t - 1].end = b;
		}
		*w = (worker_t){.name = name,
		                .data = data,
		                .begin = b,
		                .end = len,
		                .kind = f->kind,
		                .flags = flags,
		                .psl = psl};
		w->arena = priv->arenas[priv->n_arenas++] = gk_arena_new();
		if (!w->arena)
			goto fail;
		gk_strmap_init(&w->prov, w->arena, 0);
	}
	for (unsigned t = 1; t < threads; t++)
		started[t] = !pthread_create(&tids[t], NULL, count_lines, &ws[t]);
	for (unsigned t = 0; t < threads; t++)
		if (!started[t])
			count_lines(&ws[t]);
	for (unsigned t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tids[t], NULL);
	size_t n = 0;
	for (unsigned t = 0; t < threads; t++) {
		ws[t].line0 = (uint32_t)(2 + n);
		n += ws[t].nlines;
	}
	if (n > UINT32_MAX - 2) {
		gk_sync_feed_seterr(err, errlen, name, 1, "too many lines");
		rc = GK_ESYNTAX;
		goto fail;
	}
	f->n = n;
	if (n) {
		f->recs = calloc(n, sizeof(*f->recs));
		if (!f->recs)
			goto fail;
	}
	for (unsigned t = 0, off = 0; t < threads; off += (unsigned)ws[t].nlines, t++)
		ws[t].recs = f->recs ? f->recs + off : NULL; /* NULL: an empty feed, no lines */
	for (unsigned t = 1; t < threads; t++)
		started[t] = !pthread_create(&tids[t], NULL, work, &ws[t]);
	for (unsigned t = 0; t < threads; t++)
		if (!started[t])
			work(&ws[t]);
	for (unsigned t = 1; t < threads; t++)
		if (started[t])
			pthread_join(tids[t], NULL);
	for (unsigned t = 0; t < threads; t++)
		if (ws[t].rc) {
			rc = ws[t].rc;
			if (err && errlen)
				snprintf(err, errlen, "%s", ws[t].err);
			goto fail;
		}
	if (f->n != f->count) {
		gk_sync_feed_seterr(err, errlen, name, f->n < f->count ? f->n + 1 : 1,
		                    "count mismatch: header says %llu records, feed has %zu%s",
		                    (unsigned long long)f->count, f->n,
		                    f->n < f->count ? " (truncated?)" : "");
		rc = GK_ESYNTAX;
		goto fail;
	}
	rc = find_duplicates(f, name, err, errlen);
	if (rc)
		goto fail;
	rc = merge_providers(f, ws, threads, priv->arenas[0]);
	if (rc)
		goto fail;
	for (unsigned t = 0; t < threads; t++)
		gk_strmap_free(&ws[t].prov);
	*out = f;
	return 0;
fail:
	for (unsigned t = 0; t < threads; t++)
		gk_strmap_free(&ws[t].prov);
	if (rc == GK_ENOMEM && err && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory", name);
	gk_sync_feed_free(f);
	return rc;
}

void gk_sync_feed_free(gk_feed_t *f)
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
