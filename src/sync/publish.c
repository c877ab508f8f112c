/* SPDX-License-Identifier: MIT */
/* src/sync/publish.c -- diff a feed against Redis and write the differences, pipelined.
 *
 * Buckets are processed in windows: the reads of window k+1 are sent behind the writes of
 * window k, so Redis always has work queued and the client never waits a round trip per
 * bucket (DEPS.md: unpipelined access is RTT-bound). The write order and why an interrupted
 * apply converges are in sync.h.
 */
#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "gk/filing_status.h"
#include "sync/record.h"
#include "sync/sync.h"

#define STREAM_MAXLEN_STR "200000"
_Static_assert(GK_STREAM_MAXLEN == 200000u, "STREAM_MAXLEN_STR follows GK_STREAM_MAXLEN");

typedef struct conn {
	redisContext *c;
	size_t pending; /* write replies not read yet */
	char *err;
	size_t errlen;
} conn_t;

/* growable argv for one command */
typedef struct argv {
	const char **v;
	size_t *l;
	size_t n, cap;
} argv_t;

typedef struct resp {
	char *p;
	size_t n, cap;
	int oom;
} resp_t;

typedef struct applier {
	conn_t *cn;
	conn_t *rcn; /* records: == cn (same instance), another connection, or NULL (no records) */
	const gk_sync_opts_t *o;
	const gk_feed_t *f;
	gk_sync_stats_t *st;
	uint32_t *prov_ids; /* feed provider index -> Redis provider id */
	char serial[24];
	argv_t rec_set, rec_del, st_set, st_del;
	char (*vals)[12]; /* packed values of this bucket's HSET */
	size_t vals_cap;
	uint8_t *rbuf; /* this bucket's stored records (gk_rec_finish) */
	size_t rbuf_cap, rbuf_used;
	uint32_t *order; /* scratch: sorted indices */
	size_t order_cap;
	struct xent *xs; /* this bucket's stream entries */
	size_t nx, xcap;
	long transactions;
	resp_t out;       /* the bucket's commands, formatted */
	resp_t xadd_head; /* "XADD gk:changes MAXLEN ~ N * k st s SERIAL", no array header */
} applier_t;

/* a stream entry waiting for its bucket's transaction */
typedef struct xent {
	const char *dom;
	size_t dl;
	const char *val; /* "" for a removal */
	size_t vl;
} xent_t;

static void cerr(conn_t *cn, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void cerr(conn_t *cn, const char *fmt, ...)
{
	if (!cn->err || !cn->errlen)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(cn->err, cn->errlen, fmt, ap);
	va_end(ap);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int conn_open(conn_t *cn, const gk_sync_opts_t *o)
{
	unsigned ms = o->timeout_ms ? o->timeout_ms : 60000;
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	cn->c = redisConnectWithTimeout(o->host, o->port, tv);
	if (!cn->c || cn->c->err) {
		cerr(cn, "redis %s:%d: %s", o->host, o->port,
		     cn->c ? cn->c->errstr : "cannot allocate context");
		if (cn->c)
			redisFree(cn->c);
		cn->c = NULL;
		return GK_EIO;
	}
	redisSetTimeout(cn->c, tv);
	return 0;
}

static int reply_get(conn_t *cn, redisReply **r)
{
	void *p = NULL;
	if (redisGetReply(cn->c, &p) != REDIS_OK || !p) {
		cerr(cn, "redis: %s", cn->c->errstr[0] ? cn->c->errstr : "connection lost");
		return GK_EIO;
	}
	*r = p;
	if ((*r)->type == REDIS_REPLY_ERROR) {
		cerr(cn, "redis: %s", (*r)->str);
		freeReplyObject(*r);
		*r = NULL;
		return GK_EIO;
	}
	return 0;
}

/* Read n write replies; an EXEC reply must be an array without errors (nil: aborted). */
static int drain(conn_t *cn)
{
	for (; cn->pending; cn->pending--) {
		redisReply *r;
		if (reply_get(cn, &r))
			return GK_EIO;
		int bad = r->type == REDIS_REPLY_NIL;
		if (r->type == REDIS_REPLY_ARRAY)
			for (size_t i = 0; i < r->elements; i++)
				if (r->element[i]->type == REDIS_REPLY_ERROR) {
					cerr(cn, "redis: %s", r->element[i]->str);
					bad = 1;
					break;
				}
		if (bad && r->type == REDIS_REPLY_NIL)
			cerr(cn, "redis: transaction aborted");
		freeReplyObject(r);
		if (bad)
			return GK_EIO;
	}
	return 0;
}

static int send_argv(conn_t *cn, const argv_t *a)
{
	if (redisAppendCommandArgv(cn->c, (int)a->n, a->v, a->l) != REDIS_OK) {
		cerr(cn, "redis: cannot queue a command (out of memory)");
		return GK_ENOMEM;
	}
	return 0;
}

static int send_cmd(conn_t *cn, int argc, const char **v)
{
	size_t l[16];
	for (int i = 0; i < argc; i++)
		l[i] = strlen(v[i]);
	if (redisAppendCommandArgv(cn->c, argc, v, l) != REDIS_OK) {
		cerr(cn, "redis: cannot queue a command (out of memory)");
		return GK_ENOMEM;
	}
	return 0;
}

static int argv_push(argv_t *a, const char *s, size_t l)
{
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 64;
		const char **nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv)
			return GK_ENOMEM;
		a->v = nv;
		size_t *nl = realloc(a->l, nc * sizeof(*nl));
		if (!nl)
			return GK_ENOMEM;
		a->l = nl;
		a->cap = nc;
	}
	a->v[a->n] = s;
	a->l[a->n++] = l;
	return 0;
}

static void argv_free(argv_t *a)
{
	free(a->v);
	free(a->l);
}

static int argv_start(argv_t *a, const char *cmd, const char *key)
{
	a->n = 0;
	int rc = argv_push(a, cmd, strlen(cmd));
	return rc ? rc : argv_push(a, key, strlen(key));
}

/* RESP text built by hand: one bucket's commands are formatted into one buffer and handed to
 * hiredis in one redisAppendFormattedCommand (per-argument formatting in hiredis was a large
 * share of the client's CPU with ~20 million arguments in a 10M snapshot). */

static char *resp_room(resp_t *b, size_t need)
{
	if (b->cap - b->n < need) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc - b->n < need)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			b->oom = 1;
			return NULL;
		}
		b->p = np;
		b->cap = nc;
	}
	return b->p + b->n;
}

static void resp_num(resp_t *b, char type, size_t v)
{
	char tmp[24];
	int k = 0;
	do
		tmp[k++] = (char)('0' + v % 10);
	while ((v /= 10));
	char *d = resp_room(b, (size_t)k + 3);
	if (!d)
		return;
	*d++ = type;
	while (k)
		*d++ = tmp[--k];
	*d++ = '\r';
	*d++ = '\n';
	b->n = (size_t)(d - b->p);
}

static void resp_raw(resp_t *b, const char *s, size_t l)
{
	char *d = resp_room(b, l);
	if (d) {
		memcpy(d, s, l);
		b->n += l;
	}
}

static void resp_bulk(resp_t *b, const char *s, size_t l)
{
	resp_num(b, '$', l);
	char *d = resp_room(b, l + 2);
	if (d) {
		memcpy(d, s, l);
		d[l] = '\r';
		d[l + 1] = '\n';
		b->n += l + 2;
	}
}

static void resp_argv(resp_t *b, const argv_t *a)
{
	resp_num(b, '*', a->n);
	for (size_t i = 0; i < a->n; i++)
		resp_bulk(b, a->v[i], a->l[i]);
}

static int resp_send(conn_t *cn, resp_t *b)
{
	int rc = 0;
	if (b->oom)
		rc = GK_ENOMEM;
	else if (b->n && redisAppendFormattedCommand(cn->c, b->p, b->n) != REDIS_OK)
		rc = GK_ENOMEM;
	if (rc)
		cerr(cn, "redis: cannot queue a command (out of memory)");
	b->n = 0;
	return rc;
}

/* A simple command with a reply the caller wants (serial, providers). */
static int command(conn_t *cn, redisReply **out, int argc, const char **v)
{
	int rc = send_cmd(cn, argc, v);
	if (rc)
		return rc;
	return reply_get(cn, out);
}

static int parse_serial(conn_t *cn, redisReply *r, uint64_t *serial)
{
	*serial = 0;
	if (r->type == REDIS_REPLY_NIL)
		return 0;
	char *end;
	if (r->type != REDIS_REPLY_STRING || !r->len ||
	    ((*serial = strtoull(r->str, &end, 10)), *end)) {
		cerr(cn, "redis: %s holds no decimal serial", GK_KEY_SERIAL);
		return GK_EIO;
	}
	return 0;
}

int gk_sync_read_serial(const gk_sync_opts_t *o, uint64_t *serial, char *err, size_t errlen)
{
	conn_t cn = {.err = err, .errlen = errlen};
	redisReply *r = NULL;
	int rc = conn_open(&cn, o);
	if (rc)
		return rc;
	const char *get[] = {"GET", GK_KEY_SERIAL};
	rc = command(&cn, &r, 2, get);
	if (!rc)
		rc = parse_serial(&cn, r, serial);
	freeReplyObject(r);
	redisFree(cn.c);
	return rc;
}

/* Ids for the feed's providers: existing names keep theirs, new names get max + 1 ... */
static int providers(applier_t *A)
{
	conn_t *cn = A->cn;
	const gk_feed_t *f = A->f;
	redisReply *r = NULL;
	const char *get[] = {"HGETALL", GK_KEY_PROVIDERS};
	int rc = command(cn, &r, 2, get);
	if (rc)
		return rc;
	uint32_t max = 0;
	A->prov_ids = calloc(f->n_providers + 1, sizeof(*A->prov_ids));
	argv_t set = {0};
	char(*ids)[12] = calloc(f->n_providers + 1, sizeof(*ids));
	if (!A->prov_ids || !ids || r->type != REDIS_REPLY_ARRAY) {
		rc = A->prov_ids && ids ? GK_EIO : GK_ENOMEM;
		cerr(cn, "redis: cannot read %s", GK_KEY_PROVIDERS);
		goto out;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		uint32_t id = (uint32_t)strtoul(r->element[i]->str, NULL, 10);
		if (id > max)
			max = id;
	}
	rc = argv_start(&set, "HSET", GK_KEY_PROVIDERS);
	for (size_t p = 0; !rc && p < f->n_providers; p++) {
		const char *name = f->providers[p];
		for (size_t i = 0; i + 1 < r->elements; i += 2)
			if (!strcmp(r->element[i + 1]->str, name)) {
				A->prov_ids[p + 1] =
				    (uint32_t)strtoul(r->element[i]->str, NULL, 10);
				break;
			}
		if (A->prov_ids[p + 1])
			continue;
		A->prov_ids[p + 1] = ++max;
		A->st->new_providers++;
		int n = snprintf(ids[p], sizeof(ids[p]), "%u", max);
		rc = argv_push(&set, ids[p], (size_t)n);
		if (!rc)
			rc = argv_push(&set, name, strlen(name));
	}
	if (!rc && set.n > 2) {
		redisReply *w = NULL;
		rc = send_argv(cn, &set);
		if (!rc)
			rc = reply_get(cn, &w);
		freeReplyObject(w);
	}
	/* a separate records instance gets the same id -> name map (records name providers by
	 * id): every provider of the feed, so an instance that missed a run catches up */
	if (!rc && A->rcn && A->rcn != cn && f->n_providers) {
		redisReply *w = NULL;
		set.n = 2;
		for (size_t p = 0; !rc && p < f->n_providers; p++) {
			snprintf(ids[p], sizeof(ids[p]), "%u", A->prov_ids[p + 1]);
			rc = argv_push(&set, ids[p], strlen(ids[p]));
			if (!rc)
				rc = argv_push(&set, f->providers[p], strlen(f->providers[p]));
		}
		if (!rc)
			rc = send_argv(A->rcn, &set);
		if (!rc)
			rc = reply_get(A->rcn, &w);
		freeReplyObject(w);
	}
out:
	argv_free(&set);
	free(ids);
	freeReplyObject(r);
	return rc;
}

/* --- one bucket ----------------------------------------------------------------------- */

/* A desired state for one domain; val/rec NULL: absent (unfiled). */
typedef struct want {
	const char *dom;
	size_t dl;
	const char *val;
	size_t vl;
	const char *rec;
	size_t rl;
} want_t;

static int same(const redisReply *r, const char *s, size_t l)
{
	return r && r->type == REDIS_REPLY_STRING && r->len == l && !memcmp(r->str, s, l);
}

/* Compare what is wanted with what Redis holds (cur_st / cur_rec: the field's value reply or
 * NULL / nil when absent) and add the differences to the bucket's pending writes. */
static int reconcile(applier_t *A, const want_t *w, const redisReply *cur_st,
                     const redisReply *cur_rec)
{
	int rc = 0;
	int has_st = cur_st && cur_st->type == REDIS_REPLY_STRING;
	int has_rec = cur_rec && cur_rec->type == REDIS_REPLY_STRING;
	if (A->rcn) {
		if (w->rec && !same(cur_rec, w->rec, w->rl)) {
			rc = argv_push(&A->rec_set, w->dom, w->dl);
			if (!rc)
				rc = argv_push(&A->rec_set, w->rec, w->rl);
			A->st->records_written++;
		} else if (!w->rec && has_rec) {
			rc = argv_push(&A->rec_del, w->dom, w->dl);
			A->st->records_written++;
		}
		if (rc)
			return rc;
	}
	if (w->val ? same(cur_st, w->val, w->vl) : !has_st) {
		A->st->unchanged += w->val != NULL;
		return 0;
	}
	if (w->val) {
		*(has_st ? &A->st->changed : &A->st->added) += 1;
		rc = argv_push(&A->st_set, w->dom, w->dl);
		if (!rc)
			rc = argv_push(&A->st_set, w->val, w->vl);
	} else {
		A->st->removed++;
		rc = argv_push(&A->st_del, w->dom, w->dl);
	}
	if (rc)
		return rc;
	if (A->nx == A->xcap) {
		size_t nc = A->xcap ? A->xcap * 2 : 256;
		xent_t *nb = realloc(A->xs, nc * sizeof(*nb));
		if (!nb)
			return GK_ENOMEM;
		A->xs = nb;
		A->xcap = nc;
	}
	A->xs[A->nx++] = (xent_t){w->dom, w->dl, w->val ? w->val : "", w->val ? w->vl : 0};
	return 0;
}

static int bucket_begin(applier_t *A, unsigned b, char *stk, char *rck)
{
	snprintf(stk, 16, GK_KEY_STATUS_BUCKET, b);
	snprintf(rck, 16, GK_KEY_RECORD_BUCKET, b);
	A->nx = 0;
	int rc = argv_start(&A->rec_set, "HSET", rck);
	if (!rc)
		rc = argv_start(&A->rec_del, "HDEL", rck);
	if (!rc)
		rc = argv_start(&A->st_set, "HSET", stk);
	if (!rc)
		rc = argv_start(&A->st_del, "HDEL", stk);
	return rc;
}

/* Queue MULTI, the hash writes, the bucket's status changes as XADDs of up to
 * GK_STREAM_BATCH (d, v) pairs each, EXEC. Nothing when the bucket already matches. */
static int bucket_commit(applier_t *A)
{
	conn_t *cn = A->cn;
	const argv_t *lists[] = {&A->rec_set, &A->rec_del, &A->st_set, &A->st_del};
	resp_t *b = &A->out;
	int any = 0, first = 0, rc;
	if (A->rcn && A->rcn != cn) {
		/* records on their own instance: plain writes, before the status transaction
		 * (an interrupted run is re-diffed against both instances) */
		for (int i = 0; i < 2; i++)
			if (lists[i]->n > 2) {
				resp_argv(b, lists[i]);
				A->rcn->pending++;
			}
		rc = resp_send(A->rcn, b);
		if (rc)
			return rc;
		first = 2;
	}
	for (int i = first; i < 4; i++)
		any |= lists[i]->n > 2;
	if (!any)
		return 0;
	size_t queued = 0;
	resp_raw(b, "*1\r\n$5\r\nMULTI\r\n", 15);
	for (int i = first; i < 4; i++)
		if (lists[i]->n > 2) {
			resp_argv(b, lists[i]);
			queued++;
		}
	for (size_t i = 0; i < A->nx; i += GK_STREAM_BATCH) {
		size_t m = A->nx - i < GK_STREAM_BATCH ? A->nx - i : GK_STREAM_BATCH;
		resp_num(b, '*', 10 + 4 * m);
		resp_raw(b, A->xadd_head.p, A->xadd_head.n);
		for (size_t j = i; j < i + m; j++) {
			resp_raw(b, "$1\r\nd\r\n", 7);
			resp_bulk(b, A->xs[j].dom, A->xs[j].dl);
			resp_raw(b, "$1\r\nv\r\n", 7);
			resp_bulk(b, A->xs[j].val, A->xs[j].vl);
		}
		queued++;
	}
	resp_raw(b, "*1\r\n$4\r\nEXEC\r\n", 14);
	rc = resp_send(cn, b);
	if (rc)
		return rc;
	cn->pending += queued + 2; /* +OK, QUEUED x queued, the EXEC array */
	A->st->buckets_written++;
	A->transactions++;
	return 0;
}

static int ensure_scratch(applier_t *A, size_t n)
{
	if (n <= A->vals_cap)
		return 0;
	size_t nc = n * 2;
	void *v = realloc(A->vals, nc * sizeof(*A->vals));
	if (!v)
		return GK_ENOMEM;
	A->vals = v;
	void *o = realloc(A->order, nc * sizeof(*A->order));
	if (!o)
		return GK_ENOMEM;
	A->order = o;
	A->vals_cap = nc;
	return 0;
}

/* room for the stored form of the bucket's records */
static int ensure_rbuf(applier_t *A, const uint32_t *idx, size_t n)
{
	size_t need = 0;
	A->rbuf_used = 0;
	if (!A->rcn)
		return 0;
	for (size_t i = 0; i < n; i++)
		need += A->f->recs[idx[i]].record_len + 5;
	if (need <= A->rbuf_cap)
		return 0;
	uint8_t *nb = realloc(A->rbuf, need * 2);
	if (!nb)
		return GK_ENOMEM;
	A->rbuf = nb;
	A->rbuf_cap = need * 2;
	return 0;
}

static void want_of(applier_t *A, uint32_t idx, want_t *w, char *valbuf)
{
	const gk_feed_rec_t *r = &A->f->recs[idx];
	*w = (want_t){.dom = r->domain, .dl = r->domain_len};
	if (r->status == GK_FS_UNFILED)
		return;
	int n = snprintf(valbuf, 12, "%u",
	                 gk_fs_pack((gk_fs_status_t)r->status, A->prov_ids[r->provider]));
	w->val = valbuf;
	w->vl = (size_t)n;
	if (r->record && A->rcn) {
		uint8_t *d = A->rbuf + A->rbuf_used;
		size_t l = gk_rec_finish((const uint8_t *)r->record, r->record_len,
		                         A->prov_ids[r->provider], d);
		A->rbuf_used += l;
		w->rec = (const char *)d;
		w->rl = l;
	}
}

static const gk_feed_t *sort_feed; /* qsort has no context argument in C11 */
static int cmp_rec(const void *a, const void *b)
{
	const gk_feed_rec_t *x = &sort_feed->recs[*(const uint32_t *)a];
	const gk_feed_rec_t *y = &sort_feed->recs[*(const uint32_t *)b];
	return strcmp(x->domain, y->domain);
}

static int cmp_field(const void *a, const void *b)
{
	const redisReply *x = *(redisReply *const *)a, *y = *(redisReply *const *)b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->str, y->str, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int cmp_key(const char *s, size_t l, const redisReply *r)
{
	size_t n = l < r->len ? l : r->len;
	int c = memcmp(s, r->str, n);
	return c ? c : (l > r->len) - (l < r->len);
}

/* HGETALL reply -> array of field replies sorted by field; the value is the element after
 * each field in the original reply, found through a parallel index. */
typedef struct fv {
	redisReply *f, *v;
} fv_t;

static int cmp_fv(const void *a, const void *b)
{
	return cmp_field(&((const fv_t *)a)->f, &((const fv_t *)b)->f);
}

static fv_t *sorted_pairs(const redisReply *r, size_t *n)
{
	*n = r && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	fv_t *p = malloc((*n + 1) * sizeof(*p));
	if (!p)
		return NULL;
	for (size_t i = 0; i < *n; i++)
		p[i] = (fv_t){r->element[2 * i], r->element[2 * i + 1]};
	qsort(p, *n, sizeof(*p), cmp_fv);
	return p;
}

/* Snapshot: the bucket must equal the feed's records in it. Three-way merge of the wanted
 * domains (sorted), the status fields and the record fields (both sorted). */
static int diff_snapshot(applier_t *A, const uint32_t *idx, size_t n, const redisReply *rst,
                         const redisReply *rrec)
{
	size_t ns, nr, i = 0, j = 0, k = 0;
	int rc = ensure_scratch(A, n + 1);
	if (!rc)
		rc = ensure_rbuf(A, idx, n);
	if (rc)
		return rc;
	fv_t *S = sorted_pairs(rst, &ns), *R = sorted_pairs(rrec, &nr);
	if (!S || !R) {
		rc = GK_ENOMEM;
		goto out;
	}
	memcpy(A->order, idx, n * sizeof(*idx));
	sort_feed = A->f;
	qsort(A->order, n, sizeof(*A->order), cmp_rec);
	while (!rc && (i < n || j < ns || k < nr)) {
		/* smallest key among the three heads */
		const char *key = NULL;
		size_t kl = 0;
		if (i < n) {
			key = A->f->recs[A->order[i]].domain;
			kl = A->f->recs[A->order[i]].domain_len;
		}
		if (j < ns && (!key || cmp_key(key, kl, S[j].f) > 0)) {
			key = S[j].f->str;
			kl = S[j].f->len;
		}
		if (k < nr && (!key || cmp_key(key, kl, R[k].f) > 0)) {
			key = R[k].f->str;
			kl = R[k].f->len;
		}
		want_t w = {.dom = key, .dl = kl};
		const redisReply *cs = NULL, *cr = NULL;
		if (i < n && kl == A->f->recs[A->order[i]].domain_len &&
		    !memcmp(key, A->f->recs[A->order[i]].domain, kl)) {
			want_of(A, A->order[i], &w, A->vals[i]);
			i++;
		}
		if (j < ns && !cmp_key(key, kl, S[j].f))
			cs = S[j++].v;
		if (k < nr && !cmp_key(key, kl, R[k].f))
			cr = R[k++].v;
		rc = reconcile(A, &w, cs, cr);
	}
out:
	free(S);
	free(R);
	return rc;
}

/* Delta: only the named domains; rst / rrec are HMGET replies in idx order. */
static int diff_delta(applier_t *A, const uint32_t *idx, size_t n, const redisReply *rst,
                      const redisReply *rrec)
{
	int rc = ensure_scratch(A, n + 1);
	if (!rc)
		rc = ensure_rbuf(A, idx, n);
	if (!rc && (rst->type != REDIS_REPLY_ARRAY || rst->elements != n ||
	            (rrec && (rrec->type != REDIS_REPLY_ARRAY || rrec->elements != n)))) {
		cerr(A->cn, "redis: unexpected HMGET reply");
		rc = GK_EIO;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		want_t w;
		want_of(A, idx[i], &w, A->vals[i]);
		rc = reconcile(A, &w, rst->element[i], rrec ? rrec->element[i] : NULL);
	}
	return rc;
}

/* --- the whole apply ------------------------------------------------------------------ */

static int queue_reads(applier_t *A, unsigned b, const uint32_t *idx, size_t n)
{
	char stk[16], rck[16];
	int snap = A->f->kind == GK_FEED_SNAPSHOT;
	snprintf(stk, 16, GK_KEY_STATUS_BUCKET, b);
	snprintf(rck, 16, GK_KEY_RECORD_BUCKET, b);
	for (int pass = 0; pass < (A->rcn ? 2 : 1); pass++) {
		argv_t *a = &A->st_set; /* reused as scratch: no bucket is open while reading */
		int rc = argv_start(a, snap ? "HGETALL" : "HMGET", pass ? rck : stk);
		for (size_t i = 0; !rc && !snap && i < n; i++)
			rc = argv_push(a, A->f->recs[idx[i]].domain, A->f->recs[idx[i]].domain_len);
		if (!rc)
			rc = send_argv(pass ? A->rcn : A->cn, a);
		if (rc)
			return rc;
	}
	return 0;
}

/* hand Redis everything queued now rather than at the next blocking read */
static int flush(conn_t *cn)
{
	for (int done = 0; !done;)
		if (redisBufferWrite(cn->c, &done) != REDIS_OK) {
			cerr(cn, "redis: %s", cn->c->errstr);
			return GK_EIO;
		}
	return 0;
}

static int run(applier_t *A)
{
	const gk_feed_t *f = A->f;
	conn_t *cn = A->cn;
	int snap = f->kind == GK_FEED_SNAPSHOT, rc = 0;
	unsigned window = A->o->window ? A->o->window : 256;
	/* counting sort of record indices by bucket */
	uint32_t *start = calloc(GK_FS_BUCKETS + 1, sizeof(*start));
	uint32_t *idx = malloc((f->n + 1) * sizeof(*idx));
	unsigned *todo = malloc(GK_FS_BUCKETS * sizeof(*todo));
	size_t ntodo = 0;
	if (!start || !idx || !todo) {
		rc = GK_ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f->n; i++)
		start[f->recs[i].bucket + 1]++;
	for (unsigned b = 0; b < GK_FS_BUCKETS; b++)
		start[b + 1] += start[b];
	{
		uint32_t *fill = malloc(GK_FS_BUCKETS * sizeof(*fill));
		if (!fill) {
			rc = GK_ENOMEM;
			goto out;
		}
		memcpy(fill, start, GK_FS_BUCKETS * sizeof(*fill));
		for (size_t i = 0; i < f->n; i++)
			idx[fill[f->recs[i].bucket]++] = (uint32_t)i;
		free(fill);
	}
	for (unsigned b = 0; b < GK_FS_BUCKETS; b++)
		if (snap || start[b + 1] > start[b])
			todo[ntodo++] = b;

	/* Two windows in flight: the reads of window k+1 are queued before window k is
	 * processed, so Redis works on them (and on window k-1's transactions) while the client
	 * computes. Replies come back in send order: R0 R1 W0 R2 W1 R3 W2 ... so step k first
	 * drains W(k-2), then reads Rk. */
	conn_t *rcn = A->rcn && A->rcn != cn ? A->rcn : NULL; /* a second connection */
	size_t nw = (ntodo + window - 1) / window, pend[2] = {0, 0}, rpend[2] = {0, 0};
	for (size_t k = 0; !rc && k < nw && k < 2; k++)
		for (size_t t = k * window; !rc && t < ntodo && t < (k + 1) * window; t++)
			rc = queue_reads(A, todo[t], idx + start[todo[t]],
			                 start[todo[t] + 1] - start[todo[t]]);
	for (size_t k = 0; !rc && k < nw; k++) {
		size_t w0 = k * window, w1 = w0 + window < ntodo ? w0 + window : ntodo;
		cn->pending = pend[k % 2];
		rc = drain(cn);
		if (!rc && rcn) {
			rcn->pending = rpend[k % 2];
			rc = drain(rcn);
			rcn->pending = 0;
		}
		if (!rc && A->o->abort_after && A->transactions >= A->o->abort_after) {
			fprintf(stderr,
			        "gk-sync: test hook: exiting after %ld bucket transactions\n",
			        A->transactions);
			_exit(70);
		}
		cn->pending = 0;
		for (size_t t = w0; !rc && t < w1; t++) {
			unsigned b = todo[t];
			redisReply *rst = NULL, *rrec = NULL;
			char stk[16], rck[16];
			rc = reply_get(cn, &rst);
			if (!rc && A->rcn)
				rc = reply_get(A->rcn, &rrec);
			if (!rc)
				rc = bucket_begin(A, b, stk, rck);
			if (!rc)
				rc = (snap ? diff_snapshot : diff_delta)(
				    A, idx + start[b], start[b + 1] - start[b], rst, rrec);
			if (!rc)
				rc = bucket_commit(A);
			freeReplyObject(rst);
			freeReplyObject(rrec);
		}
		pend[k % 2] = cn->pending;
		cn->pending = 0;
		if (rcn) {
			rpend[k % 2] = rcn->pending;
			rcn->pending = 0;
		}
		for (size_t t = (k + 2) * window; !rc && t < ntodo && t < (k + 3) * window; t++)
			rc = queue_reads(A, todo[t], idx + start[todo[t]],
			                 start[todo[t] + 1] - start[todo[t]]);
		if (!rc)
			rc = flush(cn);
		if (!rc && rcn)
			rc = flush(rcn);
	}
	cn->pending = pend[0] + pend[1];
	if (!rc)
		rc = drain(cn);
	if (!rc && rcn) {
		rcn->pending = rpend[0] + rpend[1];
		rc = drain(rcn);
	}
out:
	free(start);
	free(idx);
	free(todo);
	return rc;
}

/* The last step: the serial and its stream entry, only if nobody moved the serial. */
static int finish(applier_t *A, uint64_t seen)
{
	conn_t *cn = A->cn;
	redisReply *r = NULL;
	uint64_t cur;
	const char *watch[] = {"WATCH", GK_KEY_SERIAL}, *get[] = {"GET", GK_KEY_SERIAL};
	int rc = command(cn, &r, 2, watch);
	freeReplyObject(r);
	r = NULL;
	if (!rc)
		rc = command(cn, &r, 2, get);
	if (!rc)
		rc = parse_serial(cn, r, &cur);
	freeReplyObject(r);
	if (rc)
		return rc;
	if (cur != seen) {
		cerr(cn, "%s moved from %llu to %llu during the apply (another gk-sync?)",
		     GK_KEY_SERIAL, (unsigned long long)seen, (unsigned long long)cur);
		return GK_EIO;
	}
	const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
	const char *set[] = {"SET", GK_KEY_SERIAL, A->serial};
	const char *xa[] = {"XADD", GK_KEY_STREAM, "MAXLEN", "~", STREAM_MAXLEN_STR,
	                    "*",    "k",           "serial", "s", A->serial};
	rc = send_cmd(cn, 1, multi);
	if (!rc)
		rc = send_cmd(cn, 3, set);
	if (!rc)
		rc = send_cmd(cn, 10, xa);
	if (!rc)
		rc = send_cmd(cn, 1, exec);
	if (rc)
		return rc;
	cn->pending = 4;
	rc = drain(cn);
	if (rc && !strcmp(cn->err, "redis: transaction aborted"))
		cerr(cn, "%s changed during the apply (another gk-sync?)", GK_KEY_SERIAL);
	return rc;
}

int gk_sync_apply(const gk_sync_opts_t *o, const gk_feed_t *f, const char *name,
                  gk_sync_stats_t *stats, char *err, size_t errlen)
{
	double t0 = now();
	conn_t cn = {.err = err, .errlen = errlen}, rconn = {.err = err, .errlen = errlen};
	gk_sync_stats_t dummy;
	applier_t A = {.cn = &cn, .o = o, .f = f, .st = stats ? stats : &dummy};
	redisReply *r = NULL;
	uint64_t cur = 0;
	memset(A.st, 0, sizeof(*A.st));
	snprintf(A.serial, sizeof(A.serial), "%llu", (unsigned long long)f->serial);
	int rc = conn_open(&cn, o);
	if (rc)
		return rc;
	const char *get[] = {"GET", GK_KEY_SERIAL};
	rc = command(&cn, &r, 2, get);
	if (!rc)
		rc = parse_serial(&cn, r, &cur);
	freeReplyObject(r);
	if (rc)
		goto out;
	A.st->serial_before = cur;
	if (f->kind == GK_FEED_SNAPSHOT && f->serial <= cur) {
		snprintf(err, errlen, "%s:1: serial %llu is not newer than %s %llu", name,
		         (unsigned long long)f->serial, GK_KEY_SERIAL, (unsigned long long)cur);
		rc = GK_ESYNTAX;
		goto out;
	}
	if (f->kind == GK_FEED_DELTA && f->base != cur) {
		snprintf(err, errlen, "%s:1: delta base %llu != %s %llu%s", name,
		         (unsigned long long)f->base, GK_KEY_SERIAL, (unsigned long long)cur,
		         f->base > cur ? " (an earlier delta is missing)" : "");
		rc = f->base > cur ? GK_EAGAIN : GK_ESYNTAX;
		goto out;
	}
	if (!o->no_records && o->records_host) {
		gk_sync_opts_t ro = *o;
		ro.host = o->records_host;
		ro.port = o->records_port;
		rc = conn_open(&rconn, &ro);
		if (rc)
			goto out;
		A.rcn = &rconn;
	} else if (!o->no_records) {
		A.rcn = &cn;
	}
	{
		const char *h[] = {"XADD", GK_KEY_STREAM, "MAXLEN", "~", STREAM_MAXLEN_STR,
		                   "*",    "k",           "st",     "s", A.serial};
		for (int i = 0; i < 10; i++)
			resp_bulk(&A.xadd_head, h[i], strlen(h[i]));
		if (A.xadd_head.oom) {
			rc = GK_ENOMEM;
			goto out;
		}
	}
	/* from here on Redis is written (sync.h: write order) */
	rc = providers(&A);
	if (!rc)
		rc = run(&A);
	if (!rc)
		rc = finish(&A, cur);
	if (!rc && A.rcn && A.rcn != &cn) {
		/* the records instance notes the serial its records belong to (informational) */
		redisReply *w = NULL;
		const char *set[] = {"SET", GK_KEY_SERIAL, A.serial};
		rc = command(&rconn, &w, 3, set);
		freeReplyObject(w);
	}
out:
	A.st->seconds = now() - t0;
	argv_free(&A.rec_set);
	argv_free(&A.rec_del);
	argv_free(&A.st_set);
	argv_free(&A.st_del);
	free(A.vals);
	free(A.rbuf);
	free(A.out.p);
	free(A.xadd_head.p);
	free(A.order);
	free(A.xs);
	free(A.prov_ids);
	if (cn.c)
		redisFree(cn.c);
	if (rconn.c)
		redisFree(rconn.c);
	return rc;
}
