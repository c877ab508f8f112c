/* SPDX-License-Identifier: MIT */
/* src/sync/publish.c -- the apply driver: read each bucket, diff it (diff.c), write the
 * differences, pipelined, then advance the serial.
 *
 * Buckets are processed in windows: the reads of window k+1 are sent behind the writes of
 * window k, so Redis always has work queued and the client never waits a round trip per
 * bucket (DEPS.md: unpipelined access is RTT-bound). The write order and why an interrupted
 * apply converges are in sync.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "gk/filing_status.h"
#include "sync/internal.h"
#include "sync/record.h"

#define STREAM_MAXLEN_STR "200000"
_Static_assert(GK_STREAM_MAXLEN == 200000u, "STREAM_MAXLEN_STR follows GK_STREAM_MAXLEN");

typedef struct applier {
	gk_sync_conn_t *cn;
	gk_sync_conn_t *rcn;  /* records: == cn (same instance), another connection, or NULL */
	gk_sync_lock_t lock;  /* GK_KEY_SYNC_LOCK on cn: every write is fenced by it */
	gk_sync_lock_t rlock; /* the same on a records connection of its own */
	const gk_sync_opts_t *o;
	const gk_feed_t *f;
	gk_sync_stats_t *st;
	uint32_t *prov_ids; /* feed provider index -> Redis provider id */
	char serial[24];
	gk_sync_diff_t d;      /* the current bucket's writes */
	gk_sync_strs_t reads;  /* scratch for HGETALL / HMGET */
	gk_sync_want_t *wants; /* this bucket's wanted states */
	char (*vals)[12];      /* their packed status values */
	size_t wants_cap;
	gk_sync_field_t *fst, *frec; /* this bucket's fields as read */
	size_t fst_cap, frec_cap;
	gk_sync_str_t *cst, *crec; /* a delta's current values, in want order */
	uint8_t *rbuf;             /* this bucket's stored records (gk_sync_rec_finish) */
	size_t rbuf_cap, rbuf_used;
	long transactions;
	gk_sync_args_t out;  /* the bucket's commands, formatted */
	gk_sync_args_t body; /* the commands of one fenced script */
} applier_t;

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Ids for the feed's providers: existing names keep theirs, new names get max + 1 ... */
static int providers(applier_t *A)
{
	gk_sync_conn_t *cn = A->cn;
	const gk_feed_t *f = A->f;
	redisReply *r = NULL;
	const char *get[] = {"HGETALL", GK_KEY_PROVIDERS};
	int rc = gk_sync_conn_command(cn, &r, 2, get);
	if (rc)
		return rc;
	uint32_t max = 0;
	A->prov_ids = calloc(f->n_providers + 1, sizeof(*A->prov_ids));
	gk_sync_strs_t set = {0};
	char(*ids)[12] = calloc(f->n_providers + 1, sizeof(*ids));
	if (!A->prov_ids || !ids || r->type != REDIS_REPLY_ARRAY) {
		rc = A->prov_ids && ids ? GK_EIO : GK_ENOMEM;
		gk_sync_conn_err(cn, "redis: cannot read %s", GK_KEY_PROVIDERS);
		goto out;
	}
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		uint32_t id = (uint32_t)strtoul(r->element[i]->str, NULL, 10);
		if (id > max)
			max = id;
	}
	rc = gk_sync_strs_start(&set, "HSET", GK_KEY_PROVIDERS);
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
		rc = gk_sync_strs_push(&set, ids[p], (size_t)n);
		if (!rc)
			rc = gk_sync_strs_push(&set, name, strlen(name));
	}
	if (!rc && set.n > 2)
		rc = gk_sync_lock_run(&A->lock, &set);
	/* a separate records instance gets the same id -> name map (records name providers by
	 * id): every provider of the feed, so an instance that missed a run catches up */
	if (!rc && A->rcn && A->rcn != cn && f->n_providers) {
		set.n = 2;
		for (size_t p = 0; !rc && p < f->n_providers; p++) {
			snprintf(ids[p], sizeof(ids[p]), "%u", A->prov_ids[p + 1]);
			rc = gk_sync_strs_push(&set, ids[p], strlen(ids[p]));
			if (!rc)
				rc = gk_sync_strs_push(&set, f->providers[p],
				                       strlen(f->providers[p]));
		}
		if (!rc)
			rc = gk_sync_lock_run(&A->rlock, &set);
	}
out:
	gk_sync_strs_free(&set);
	free(ids);
	freeReplyObject(r);
	return rc;
}

/* --- one bucket ----------------------------------------------------------------------- */

/* hash writes into a fenced script's body: cmd key then the list's strings, split into
 * commands of at most GK_SYNC_FENCE_MAX strings (an even number of list items: HSET pairs) */
static void fence_hash(gk_sync_args_t *body, const char *cmd, const char *key,
                       const gk_sync_strs_t *l)
{
	const size_t step = GK_SYNC_FENCE_MAX - 2;
	_Static_assert((GK_SYNC_FENCE_MAX - 2) % 2 == 0, "HSET pairs stay whole");
	for (size_t i = 0; i < l->n; i += step) {
		size_t m = l->n - i < step ? l->n - i : step;
		gk_sync_lock_fence_cmd(body, 2 + m);
		gk_sync_args_add(body, cmd, strlen(cmd));
		gk_sync_args_copy(body, key, strlen(key));
		for (size_t j = i; j < i + m; j++)
			gk_sync_args_add(body, l->v[j], l->l[j]);
	}
}

/* the body as one fenced script on lock's connection (one reply) */
static int fence_send(applier_t *A, gk_sync_lock_t *lock)
{
	gk_sync_lock_fence_head(lock, &A->out);
	gk_sync_args_cat(&A->out, &A->body);
	gk_sync_args_reset(&A->body);
	int rc = gk_sync_args_send(lock->cn, &A->out);
	if (!rc)
		lock->cn->pending++;
	return rc;
}

/* Queue the bucket's writes as one fenced script (lock.c: BUCKET_LUA): the hash writes, and
 * the status changes as stream entries of up to GK_STREAM_BATCH (d, v) pairs each, made by
 * the script from the status writes. Nothing when the bucket already matches. */
static int bucket_commit(applier_t *A, unsigned bucket)
{
	gk_sync_conn_t *cn = A->cn;
	const gk_sync_diff_t *d = &A->d;
	char stk[16], rck[16];
	snprintf(stk, sizeof(stk), GK_KEY_STATUS_BUCKET, bucket);
	snprintf(rck, sizeof(rck), GK_KEY_RECORD_BUCKET, bucket);
	const gk_sync_strs_t *l[4] = {&d->rec_set, &d->rec_del, &d->st_set, &d->st_del};
	size_t n[4] = {d->rec_set.n, d->rec_del.n, d->st_set.n, d->st_del.n};
	int rc;
	if (A->rcn && A->rcn != cn) {
		/* records on their own instance, under its own lock: before the status script
		 * (an interrupted run is re-diffed against both instances) */
		fence_hash(&A->body, "HSET", rck, l[0]);
		fence_hash(&A->body, "HDEL", rck, l[1]);
		if (A->body.n && (rc = fence_send(A, &A->rlock)))
			return rc;
		n[0] = n[1] = 0;
	}
	if (!n[0] && !n[1] && !n[2] && !n[3])
		return 0;
	gk_sync_args_t *b = &A->out;
	gk_sync_lock_bucket_head(&A->lock, b, stk, rck, A->serial, n);
	for (int i = 0; i < 4; i++)
		for (size_t j = 0; j < n[i]; j++)
			gk_sync_args_add(b, l[i]->v[j], l[i]->l[j]);
	rc = gk_sync_args_send(cn, b);
	if (rc)
		return rc;
	cn->pending++;
	A->st->buckets_written++;
	A->transactions++;
	return 0;
}

/* room for n wanted states, their values and the stored form of their records */
static int ensure_scratch(applier_t *A, const uint32_t *idx, size_t n)
{
	if (n > A->wants_cap) {
		size_t nc = n * 2;
		void *w = realloc(A->wants, nc * sizeof(*A->wants));
		if (!w)
			return GK_ENOMEM;
		A->wants = w;
		void *v = realloc(A->vals, nc * sizeof(*A->vals));
		if (!v)
			return GK_ENOMEM;
		A->vals = v;
		void *c = realloc(A->cst, nc * sizeof(*A->cst));
		if (!c)
			return GK_ENOMEM;
		A->cst = c;
		c = realloc(A->crec, nc * sizeof(*A->crec));
		if (!c)
			return GK_ENOMEM;
		A->crec = c;
		A->wants_cap = nc;
	}
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

/* The desired state of feed record idx (its status value into valbuf, its stored record
 * into the bucket's rbuf). */
static void want_of(applier_t *A, uint32_t idx, gk_sync_want_t *w, char *valbuf)
{
	const gk_feed_rec_t *r = &A->f->recs[idx];
	*w = (gk_sync_want_t){.dom = r->domain, .dl = r->domain_len};
	if (r->status == GK_FS_UNFILED)
		return;
	int n = snprintf(valbuf, 12, "%u",
	                 gk_fs_pack((gk_fs_status_t)r->status, A->prov_ids[r->provider]));
	w->val = valbuf;
	w->vl = (size_t)n;
	if (r->record && A->rcn) {
		uint8_t *d = A->rbuf + A->rbuf_used;
		size_t l = gk_sync_rec_finish((const uint8_t *)r->record, r->record_len,
		                              A->prov_ids[r->provider], d);
		A->rbuf_used += l;
		w->rec = (const char *)d;
		w->rl = l;
	}
}

static gk_sync_str_t str_of(const redisReply *r)
{
	if (r && r->type == REDIS_REPLY_STRING)
		return (gk_sync_str_t){r->str, r->len};
	return (gk_sync_str_t){0};
}

/* an HGETALL reply as fields (pointing into the reply) */
static int fields_of(const redisReply *r, gk_sync_field_t **fv, size_t *cap, size_t *n)
{
	*n = r && r->type == REDIS_REPLY_ARRAY ? r->elements / 2 : 0;
	if (*n > *cap) {
		gk_sync_field_t *nf = realloc(*fv, *n * 2 * sizeof(*nf));
		if (!nf)
			return GK_ENOMEM;
		*fv = nf;
		*cap = *n * 2;
	}
	for (size_t i = 0; i < *n; i++)
		(*fv)[i] =
		    (gk_sync_field_t){str_of(r->element[2 * i]), str_of(r->element[2 * i + 1])};
	return 0;
}

/* One bucket: its records idx[0..n), its status and record hashes as read (rst, rrec: HGETALL
 * for a snapshot, HMGET in idx order for a delta) -> its writes in A->d. */
static int bucket_diff(applier_t *A, const uint32_t *idx, size_t n, const redisReply *rst,
                       const redisReply *rrec)
{
	int rc = ensure_scratch(A, idx, n);
	if (rc)
		return rc;
	gk_sync_diff_reset(&A->d);
	for (size_t i = 0; i < n; i++)
		want_of(A, idx[i], &A->wants[i], A->vals[i]);
	if (A->f->kind == GK_FEED_SNAPSHOT) {
		size_t ns, nr;
		rc = fields_of(rst, &A->fst, &A->fst_cap, &ns);
		if (!rc)
			rc = fields_of(rrec, &A->frec, &A->frec_cap, &nr);
		if (!rc)
			rc = gk_sync_diff_snapshot(&A->d, A->wants, n, A->fst, ns, A->frec, nr);
		return rc;
	}
	if (rst->type != REDIS_REPLY_ARRAY || rst->elements != n ||
	    (rrec && (rrec->type != REDIS_REPLY_ARRAY || rrec->elements != n))) {
		gk_sync_conn_err(A->cn, "redis: unexpected HMGET reply");
		return GK_EIO;
	}
	for (size_t i = 0; i < n; i++) {
		A->cst[i] = str_of(rst->element[i]);
		A->crec[i] = rrec ? str_of(rrec->element[i]) : (gk_sync_str_t){0};
	}
	return gk_sync_diff_delta(&A->d, A->wants, n, A->cst, A->crec);
}

/* --- the whole apply ------------------------------------------------------------------ */

static int queue_reads(applier_t *A, unsigned b, const uint32_t *idx, size_t n)
{
	char stk[16], rck[16];
	int snap = A->f->kind == GK_FEED_SNAPSHOT;
	snprintf(stk, 16, GK_KEY_STATUS_BUCKET, b);
	snprintf(rck, 16, GK_KEY_RECORD_BUCKET, b);
	for (int pass = 0; pass < (A->rcn ? 2 : 1); pass++) {
		gk_sync_strs_t *a = &A->reads;
		int rc = gk_sync_strs_start(a, snap ? "HGETALL" : "HMGET", pass ? rck : stk);
		for (size_t i = 0; !rc && !snap && i < n; i++)
			rc = gk_sync_strs_push(a, A->f->recs[idx[i]].domain,
			                       A->f->recs[idx[i]].domain_len);
		if (!rc)
			rc = gk_sync_conn_send_strs(pass ? A->rcn : A->cn, a);
		if (rc)
			return rc;
	}
	return 0;
}

static int run(applier_t *A)
{
	const gk_feed_t *f = A->f;
	gk_sync_conn_t *cn = A->cn;
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
	gk_sync_conn_t *rcn = A->rcn && A->rcn != cn ? A->rcn : NULL; /* a second connection */
	size_t nw = (ntodo + window - 1) / window, pend[2] = {0, 0}, rpend[2] = {0, 0};
	for (size_t k = 0; !rc && k < nw && k < 2; k++)
		for (size_t t = k * window; !rc && t < ntodo && t < (k + 1) * window; t++)
			rc = queue_reads(A, todo[t], idx + start[todo[t]],
			                 start[todo[t] + 1] - start[todo[t]]);
	for (size_t k = 0; !rc && k < nw; k++) {
		size_t w0 = k * window, w1 = w0 + window < ntodo ? w0 + window : ntodo;
		cn->pending = pend[k % 2];
		rc = gk_sync_conn_drain(cn);
		if (!rc && rcn) {
			rcn->pending = rpend[k % 2];
			rc = gk_sync_conn_drain(rcn);
			rcn->pending = 0;
		}
#ifdef GK_TEST_HOOKS /* cmake -DGK_TEST_HOOKS=ON: test builds only */
		if (!rc && A->o->abort_after && A->transactions >= A->o->abort_after) {
			fprintf(stderr,
			        "gk-sync: test hook: exiting after %ld bucket transactions\n",
			        A->transactions);
			_exit(70);
		}
#endif
		cn->pending = 0;
		for (size_t t = w0; !rc && t < w1; t++) {
			unsigned b = todo[t];
			redisReply *rst = NULL, *rrec = NULL;
			rc = gk_sync_conn_reply(cn, &rst);
			if (!rc && A->rcn)
				rc = gk_sync_conn_reply(A->rcn, &rrec);
			if (!rc)
				rc = bucket_diff(A, idx + start[b], start[b + 1] - start[b], rst,
				                 rrec);
			if (!rc)
				rc = bucket_commit(A, b);
			freeReplyObject(rst);
			freeReplyObject(rrec);
		}
		/* keep the lock: a renewal queued behind this window's writes */
		if (!rc)
			rc = gk_sync_lock_renew(&A->lock);
		if (!rc && rcn)
			rc = gk_sync_lock_renew(&A->rlock);
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
			rc = gk_sync_conn_flush(cn);
		if (!rc && rcn)
			rc = gk_sync_conn_flush(rcn);
	}
	cn->pending = pend[0] + pend[1];
	if (!rc)
		rc = gk_sync_conn_drain(cn);
	if (!rc && rcn) {
		rcn->pending = rpend[0] + rpend[1];
		rc = gk_sync_conn_drain(rcn);
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
	gk_sync_conn_t *cn = A->cn;
	redisReply *r = NULL;
	uint64_t cur;
	const char *watch[] = {"WATCH", GK_KEY_SERIAL}, *get[] = {"GET", GK_KEY_SERIAL};
	int rc = gk_sync_conn_command(cn, &r, 2, watch);
	freeReplyObject(r);
	r = NULL;
	if (!rc)
		rc = gk_sync_conn_command(cn, &r, 2, get);
	if (!rc)
		rc = gk_sync_conn_serial(cn, r, &cur);
	freeReplyObject(r);
	if (rc)
		return rc;
	if (cur != seen) {
		gk_sync_conn_err(
		    cn,
		    "%s moved from %llu to %llu during the apply (a writer that does not take %s?)",
		    GK_KEY_SERIAL, (unsigned long long)seen, (unsigned long long)cur,
		    GK_KEY_SYNC_LOCK);
		return GK_EIO;
	}
	/* MULTI keeps WATCH's check on the serial; the script inside checks the lock */
	const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
	const char *set[] = {"SET", GK_KEY_SERIAL, A->serial};
	const char *xa[] = {"XADD", GK_KEY_STREAM, "MAXLEN", "~", STREAM_MAXLEN_STR,
	                    "*",    "k",           "serial", "s", A->serial};
	gk_sync_lock_fence_cmd(&A->body, 3);
	for (int i = 0; i < 3; i++)
		gk_sync_args_add(&A->body, set[i], strlen(set[i]));
	gk_sync_lock_fence_cmd(&A->body, 10);
	for (int i = 0; i < 10; i++)
		gk_sync_args_add(&A->body, xa[i], strlen(xa[i]));
	rc = gk_sync_conn_send(cn, 1, multi);
	if (!rc)
		rc = fence_send(A, &A->lock);
	if (!rc)
		rc = gk_sync_conn_send(cn, 1, exec);
	if (rc)
		return rc;
	cn->pending = 3; /* +OK, QUEUED, the EXEC array */
	rc = gk_sync_conn_drain(cn);
	if (rc == GK_EIO && !strcmp(cn->err, "redis: transaction aborted"))
		gk_sync_conn_err(cn,
		                 "%s changed during the apply (a writer that does not take %s?)",
		                 GK_KEY_SERIAL, GK_KEY_SYNC_LOCK);
	return rc;
}

int gk_sync_apply(const gk_sync_opts_t *o, const gk_feed_t *f, const char *name,
                  gk_sync_stats_t *stats, char *err, size_t errlen)
{
	double t0 = now();
	gk_sync_conn_t cn = {.err = err, .errlen = errlen}, rconn = {.err = err, .errlen = errlen};
	gk_sync_stats_t dummy;
	applier_t A = {.cn = &cn, .o = o, .f = f, .st = stats ? stats : &dummy};
	redisReply *r = NULL;
	uint64_t cur = 0;
	memset(A.st, 0, sizeof(*A.st));
	snprintf(A.serial, sizeof(A.serial), "%llu", (unsigned long long)f->serial);
	char value[256];
	int rc = gk_sync_lock_value(value, sizeof(value));
	if (rc) {
		snprintf(err, errlen, "cannot make a lock token (no randomness)");
		return rc;
	}
	gk_redis_addr_t primary; /* o->redis, or the master the sentinels name now */
	rc = gk_sync_conn_open_status(&cn, o, &primary);
	if (rc)
		return rc;
	/* the lock first: the serial rules are checked, and everything written, under it */
	rc = gk_sync_lock_acquire(&A.lock, &cn, value, o->lock_ttl_ms, o->lock_wait_ms);
	if (rc)
		goto out;
	const char *get[] = {"GET", GK_KEY_SERIAL};
	rc = gk_sync_conn_command(&cn, &r, 2, get);
	if (!rc)
		rc = gk_sync_conn_serial(&cn, r, &cur);
	freeReplyObject(r);
	if (rc)
		goto out;
	A.st->serial_before = cur;
	rc = gk_sync_feed_serial_check(name, f->kind, f->serial, f->base, cur, GK_KEY_SERIAL, err,
	                               errlen);
	if (rc == 1)
		A.st->already_applied = true;
	if (rc != 0) {
		rc = rc == 1 ? 0 : rc;
		goto out;
	}
	if (!o->no_records && o->has_records) {
		rc = gk_sync_conn_open(&rconn, &o->records_redis, o->auth, o->timeout_ms);
		if (!rc)
			rc = gk_sync_lock_acquire(&A.rlock, &rconn, value, o->lock_ttl_ms,
			                          o->lock_wait_ms);
		if (rc)
			goto out;
		A.rcn = &rconn;
	} else if (!o->no_records) {
		A.rcn = &cn;
	}
	A.d.records = A.rcn != NULL;
	/* from here on Redis is written (sync.h: write order) */
	rc = providers(&A);
	if (!rc)
		rc = run(&A);
	if (!rc)
		rc = finish(&A, cur);
	if (!rc && A.rcn && A.rcn != &cn) {
		/* the records instance notes the serial its records belong to (informational) */
		rc = gk_sync_strs_start(&A.reads, "SET", GK_KEY_SERIAL);
		if (!rc)
			rc = gk_sync_strs_push(&A.reads, A.serial, strlen(A.serial));
		if (!rc)
			rc = gk_sync_lock_run(&A.rlock, &A.reads);
	}
out:
	if (A.lock.held &&
	    gk_sync_lock_release(&A.lock, &primary, o->auth, o->timeout_ms) == GK_ENOENT && !rc)
		gk_log(GK_LOG_WARN, "%s was no longer this apply's at its end", GK_KEY_SYNC_LOCK);
	if (A.rlock.held)
		(void)gk_sync_lock_release(&A.rlock, &o->records_redis, o->auth, o->timeout_ms);
	A.st->seconds = now() - t0;
	A.st->added = A.d.added;
	A.st->changed = A.d.changed;
	A.st->removed = A.d.removed;
	A.st->unchanged = A.d.unchanged;
	A.st->records_written = A.d.records_written;
	gk_sync_diff_free(&A.d);
	gk_sync_strs_free(&A.reads);
	free(A.wants);
	free(A.vals);
	free(A.fst);
	free(A.frec);
	free(A.cst);
	free(A.crec);
	free(A.rbuf);
	gk_sync_args_free(&A.out);
	gk_sync_args_free(&A.body);
	free(A.prov_ids);
	gk_sync_conn_close(&cn);
	gk_sync_conn_close(&rconn);
	return rc;
}
