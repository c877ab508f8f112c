/* SPDX-License-Identifier: MIT */
/* src/sync/ipapply.c -- apply an IP filing feed (src/sync/ipfeed.h) to Redis.
 *
 * Under the apply lock (gk:sync:lock, shared with the domain feed) and WATCH gk:ip:serial:
 * the serial rules are checked first (nothing written before); a snapshot is written into
 * gk:ip:ranges:new, pipelined, then one MULTI renames it over gk:ip:ranges and sets
 * gk:ip:serial, so a reader sees the old table or the new one, never a mix; a delta reads the
 * stored table, checks the overlap rules on the table it would leave, and writes its changes
 * and the serial in one MULTI. If gk:ip:serial moved meanwhile EXEC aborts: nothing applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sync/internal.h"
#include "sync/ipfeed.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

#define BATCH 512 /* ranges per HSET */

static int hset_batches(gk_sync_conn_t *cn, gk_sync_lock_t *lock, const char *key,
                        const gk_ip_range_t *r, size_t n, int in_multi)
{
	gk_sync_args_t b = {0};
	char field[GK_IP_RANGE_TEXT];
	int rc = 0;
	for (size_t i = 0; !rc && i < n;) {
		size_t m = 0;
		for (size_t j = i; j < n && m < BATCH; j++)
			m += !r[j].remove;
		if (!m) {
			i = n;
			break;
		}
		gk_sync_args_add(&b, "HSET", 4);
		gk_sync_args_add(&b, key, strlen(key));
		size_t k = 0;
		for (; i < n && k < m; i++) {
			if (r[i].remove)
				continue;
			size_t fl = gk_sync_ip_range_format(r[i].first, r[i].last, r[i].v4, field);
			char *v = gk_sync_ipfeed_value(&r[i]);
			if (!v) {
				rc = GK_ENOMEM;
				break;
			}
			gk_sync_args_copy(&b, field, fl);
			gk_sync_args_copy(&b, v, strlen(v));
			free(v);
			k++;
		}
		if (rc)
			break;
		rc = gk_sync_args_send(cn, &b);
		cn->pending++;
		if (!rc && !in_multi && cn->pending >= 64) {
			rc = gk_sync_lock_renew(lock);
			if (!rc)
				rc = gk_sync_conn_drain(cn);
		}
	}
	gk_sync_args_free(&b);
	return rc;
}

/* The stored table as ranges (line 0), for a delta's overlap check. */
static int read_stored(gk_sync_conn_t *cn, gk_ip_range_t **out, size_t *n, redisReply **keep)
{
	const char *cmd[] = {"HGETALL", GK_KEY_IP_RANGES};
	redisReply *r = NULL;
	int rc = gk_sync_conn_command(cn, &r, 2, cmd);
	if (rc)
		return rc;
	*keep = r;
	if (r->type != REDIS_REPLY_ARRAY) {
		gk_sync_conn_err(cn, "redis: HGETALL %s: not an array", GK_KEY_IP_RANGES);
		return GK_EIO;
	}
	*out = calloc(r->elements / 2 + 1, sizeof(**out));
	if (!*out)
		return GK_ENOMEM;
	*n = 0;
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		gk_ip_range_t *x = &(*out)[*n];
		int v4;
		const char *why;
		if (gk_sync_ip_range_parse(r->element[i]->str, r->element[i]->len, x->first,
		                           x->last, &v4, &why))
			continue; /* not ours: left alone */
		x->v4 = (uint8_t)v4;
		/* the provider: the value's "provider" member, kept as the raw value (compared
		 * only for identity) */
		x->provider = r->element[i + 1]->str;
		(*n)++;
	}
	return 0;
}

static int cmp_exact(const void *a, const void *b)
{
	const gk_ip_range_t *x = a, *y = b;
	if (x->v4 != y->v4)
		return x->v4 ? -1 : 1;
	int c = memcmp(x->first, y->first, 16);
	return c ? c : memcmp(x->last, y->last, 16);
}

/* The table a delta would leave: stored minus the delta's ranges, plus its additions. */
static int delta_check(const char *name, const gk_ipfeed_t *f, gk_ip_range_t *st, size_t ns,
                       char *err, size_t errlen)
{
	gk_ip_range_t *sorted = malloc((f->n ? f->n : 1) * sizeof(*sorted));
	gk_ip_range_t *all = malloc((ns + f->n + 1) * sizeof(*all));
	int rc = GK_ENOMEM;
	if (!sorted || !all)
		goto out;
	memcpy(sorted, f->r, f->n * sizeof(*sorted));
	qsort(sorted, f->n, sizeof(*sorted), cmp_exact);
	size_t m = 0;
	for (size_t i = 0; i < ns; i++)
		if (!bsearch(&st[i], sorted, f->n, sizeof(*sorted), cmp_exact))
			all[m++] = st[i];
	for (size_t i = 0; i < f->n; i++)
		if (!f->r[i].remove) {
			all[m] = f->r[i];
			/* providers compared by name: the stored ones hold the JSON value */
			all[m].provider = f->r[i].provider;
			m++;
		}
	rc = gk_sync_ipfeed_check(name, all, m, NULL, NULL, NULL, err, errlen);
out:
	free(sorted);
	free(all);
	return rc;
}

int gk_sync_ip_apply(const gk_sync_opts_t *o, const gk_ipfeed_t *f, const char *name,
                     gk_sync_ip_stats_t *st, char *err, size_t errlen)
{
	double t0 = now();
	gk_sync_conn_t cn = {.err = err, .errlen = errlen};
	gk_sync_lock_t lock = {0};
	gk_sync_ip_stats_t dummy;
	redisReply *r = NULL, *stored_reply = NULL;
	gk_ip_range_t *stored = NULL;
	size_t nstored = 0;
	uint64_t cur = 0;
	char serial[24], value[256];
	const char *del[] = {"DEL", GK_KEY_IP_NEW};
	if (!st)
		st = &dummy;
	memset(st, 0, sizeof(*st));
	snprintf(serial, sizeof(serial), "%llu", (unsigned long long)f->serial);
	int rc = gk_sync_lock_value(value, sizeof(value));
	if (rc) {
		snprintf(err, errlen, "cannot make a lock token (no randomness)");
		return rc;
	}
	gk_redis_addr_t primary;
	rc = gk_sync_conn_open_status(&cn, o, &primary);
	if (rc)
		return rc;
	rc = gk_sync_lock_acquire(&lock, &cn, value, o->lock_ttl_ms, o->lock_wait_ms);
	if (rc)
		goto out;
	const char *watch[] = {"WATCH", GK_KEY_IP_SERIAL}, *get[] = {"GET", GK_KEY_IP_SERIAL};
	rc = gk_sync_conn_command(&cn, &r, 2, watch);
	freeReplyObject(r);
	r = NULL;
	if (!rc)
		rc = gk_sync_conn_command(&cn, &r, 2, get);
	if (!rc)
		rc = gk_sync_conn_serial(&cn, r, &cur);
	freeReplyObject(r);
	r = NULL;
	if (rc)
		goto out;
	st->serial_before = cur;
	rc = gk_sync_feed_serial_check(name, f->kind, f->serial, f->base, cur, GK_KEY_IP_SERIAL,
	                               err, errlen);
	if (rc == 1)
		st->already_applied = 1;
	if (rc != 0) {
		rc = rc == 1 ? 0 : rc;
		goto out;
	}
	if (f->kind == GK_FEED_DELTA) {
		rc = read_stored(&cn, &stored, &nstored, &stored_reply);
		if (!rc)
			rc = delta_check(name, f, stored, nstored, err, errlen);
		if (rc)
			goto out;
	}
	/* from here on Redis is written */
	const char *multi[] = {"MULTI"}, *exec[] = {"EXEC"};
	if (f->kind == GK_FEED_SNAPSHOT) {
		rc = gk_sync_conn_send(&cn, 2, del);
		cn.pending++;
		if (!rc)
			rc = hset_batches(&cn, &lock, GK_KEY_IP_NEW, f->r, f->n, 0);
		if (!rc)
			rc = gk_sync_lock_renew(&lock);
		if (!rc)
			rc = gk_sync_conn_drain(&cn);
		if (rc)
			goto out;
		st->set = f->n;
		/* UNLINK first: the old table is freed in the background, not inside the MULTI */
		const char *unl[] = {"UNLINK", GK_KEY_IP_RANGES},
		           *ren[] = {"RENAME", GK_KEY_IP_NEW, GK_KEY_IP_RANGES},
		           *drop[] = {"DEL", GK_KEY_IP_RANGES},
		           *set[] = {"SET", GK_KEY_IP_SERIAL, serial};
		rc = gk_sync_conn_send(&cn, 1, multi);
		if (!rc)
			rc = gk_sync_conn_send(&cn, 2, unl);
		if (!rc)
			rc =
			    f->n ? gk_sync_conn_send(&cn, 3, ren) : gk_sync_conn_send(&cn, 2, drop);
		if (!rc)
			rc = gk_sync_conn_send(&cn, 3, set);
		if (!rc)
			rc = gk_sync_conn_send(&cn, 1, exec);
		cn.pending += 5;
	} else {
		gk_sync_args_t b = {0};
		char field[GK_IP_RANGE_TEXT];
		size_t nrem = 0;
		for (size_t i = 0; i < f->n; i++)
			nrem += f->r[i].remove;
		rc = gk_sync_conn_send(&cn, 1, multi);
		cn.pending++;
		if (!rc && nrem) {
			gk_sync_args_add(&b, "HDEL", 4);
			gk_sync_args_add(&b, GK_KEY_IP_RANGES, strlen(GK_KEY_IP_RANGES));
			for (size_t i = 0; i < f->n; i++)
				if (f->r[i].remove) {
					size_t fl = gk_sync_ip_range_format(
					    f->r[i].first, f->r[i].last, f->r[i].v4, field);
					gk_sync_args_copy(&b, field, fl);
				}
			rc = gk_sync_args_send(&cn, &b);
			cn.pending++;
		}
		gk_sync_args_free(&b);
		if (!rc)
			rc = hset_batches(&cn, &lock, GK_KEY_IP_RANGES, f->r, f->n, 1);
		const char *set[] = {"SET", GK_KEY_IP_SERIAL, serial};
		if (!rc)
			rc = gk_sync_conn_send(&cn, 3, set);
		if (!rc)
			rc = gk_sync_conn_send(&cn, 1, exec);
		cn.pending += 2;
		st->removed = nrem;
		st->set = f->n - nrem;
	}
	if (!rc)
		rc = gk_sync_conn_drain(&cn);
	if (rc == GK_EIO && !strcmp(err, "redis: transaction aborted"))
		snprintf(err, errlen,
		         "%s changed during the apply (another writer?); nothing applied",
		         GK_KEY_IP_SERIAL);
out:
	if (rc && f->kind == GK_FEED_SNAPSHOT && !cn.pending && cn.c && !cn.c->err) {
		redisReply *d = NULL;
		if (!gk_sync_conn_command(&cn, &d, 2, del))
			freeReplyObject(d);
	}
	if (lock.held)
		(void)gk_sync_lock_release(&lock, &primary, o->auth, o->timeout_ms);
	freeReplyObject(stored_reply);
	free(stored);
	gk_sync_conn_close(&cn);
	st->seconds = now() - t0;
	return rc;
}
