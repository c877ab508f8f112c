/* SPDX-License-Identifier: MIT */
/* src/ctl/report.c -- gkctl report: read the discovery counters of a period and join them
 * with the status set and the records (definitions: docs/REPORT.md).
 *
 * Every Redis read is pipelined: one round trip per day (its six reason hashes and its
 * totals), one per 1024 domains for status and records, one per 1024 buckets for the filed
 * count. Domains are aggregated in a string-keyed open-addressing map per list (unfiled,
 * revoked); the other reasons only reach the totals.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "common/strmap.h"
#include "ctl/report.h"
#include "ctl/report_internal.h"
#include "redis/redis.h"
#include "gk/filing_status.h"
#include "sync/ipfeed.h"
#include "sync/iptab.h"
#include "sync/record.h"

#define PIPE     1024u
#define MAX_DAYS 800u

static const char *const reason_names[GK_DISC_NREASONS] = GK_DISC_REASON_NAMES;

/* ---- dates -------------------------------------------------------------------------- */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int64_t gk_ctl_report_day_start(uint32_t day)
{
	return days_from_civil(day / 10000, day / 100 % 100, day % 100) * 86400 -
	       GK_DISC_TZ_OFFSET_S;
}

uint32_t gk_ctl_report_next_day(uint32_t day)
{
	return gk_disc_day(gk_ctl_report_day_start(day) + 86400 + 3600);
}

int gk_ctl_report_parse_date(const char *s, uint32_t *day)
{
	unsigned y, m, d;
	char tail;
	if (strlen(s) == 10 && sscanf(s, "%4u-%2u-%2u%c", &y, &m, &d, &tail) == 3 && s[4] == '-' &&
	    s[7] == '-') {
		/* ok */
	} else if (strlen(s) == 8 && strspn(s, "0123456789") == 8) {
		unsigned v = (unsigned)strtoul(s, NULL, 10);
		y = v / 10000, m = v / 100 % 100, d = v % 100;
	} else {
		return GK_EINVAL;
	}
	if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > 31)
		return GK_EINVAL;
	uint32_t v = y * 10000 + m * 100 + d;
	if (gk_disc_day(gk_ctl_report_day_start(v)) != v) /* 2026-02-30 and the like */
		return GK_EINVAL;
	*day = v;
	return 0;
}

/* ---- a string-keyed map of domains --------------------------------------------------- */

struct dmap {
	gk_report_domain_t *v;
	size_t n, cap;
	gk_strmap_t names; /* index of v by name (borrowed: v[i].name) */
};

/* The entry for name, created (zeroed) when absent; NULL on ENOMEM. */
static gk_report_domain_t *dmap_get(struct dmap *m, const char *name, size_t len)
{
	char tmp[1100];
	if (len >= sizeof(tmp))
		len = sizeof(tmp) - 1;
	memcpy(tmp, name, len);
	tmp[len] = 0;
	uint32_t at = gk_strmap_find(&m->names, tmp, len);
	if (at != 0)
		return &m->v[at - 1];
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 512;
		gk_report_domain_t *v = realloc(m->v, nc * sizeof(*v));
		if (v == NULL)
			return NULL;
		m->v = v;
		m->cap = nc;
	}
	gk_report_domain_t *e = &m->v[m->n];
	memset(e, 0, sizeof(*e));
	uint32_t ix;
	if ((e->name = strdup(tmp)) == NULL)
		return NULL;
	if (gk_strmap_add(&m->names, e->name, len, &ix) < 0) {
		free(e->name);
		return NULL;
	}
	m->n++;
	return e;
}

/* The entry for name, or NULL. */
static gk_report_domain_t *dmap_find(const struct dmap *m, const char *name)
{
	uint32_t at = gk_strmap_find(&m->names, name, strlen(name));
	return at != 0 ? &m->v[at - 1] : NULL;
}

/* ---- Redis ------------------------------------------------------------------------------ */

static void errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void errf(char *err, size_t errlen, const char *fmt, ...)
{
	if (errlen == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static redisContext *connect_addr(const char *addr, const gk_redis_auth_t *auth, int *rc, char *err,
                                  size_t errlen)
{
	redisContext *c;
	*rc = gk_redis_connect_str(addr, auth, 5000, 30000, &c, err, errlen);
	return *rc ? NULL : c;
}

static int get_reply(redisContext *c, redisReply **r, char *err, size_t errlen)
{
	if (redisGetReply(c, (void **)r) != REDIS_OK || *r == NULL) {
		errf(err, errlen, "redis: %s", c->errstr[0] ? c->errstr : "no reply");
		return GK_EIO;
	}
	if ((*r)->type == REDIS_REPLY_ERROR) {
		errf(err, errlen, "redis: %s", (*r)->str);
		freeReplyObject(*r);
		*r = NULL;
		return GK_EIO;
	}
	return 0;
}

/* Fold one day/reason hash into its list. */
static int add_rows(struct dmap *m, const redisReply *r, uint32_t day)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const redisReply *f = r->element[i], *v = r->element[i + 1];
		unsigned long long q;
		unsigned long first, last;
		if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING ||
		    sscanf(v->str, "%llu %lu %lu", &q, &first, &last) != 3)
			continue; /* not ours: skip rather than fail a whole report */
		gk_report_domain_t *e = dmap_get(m, f->str, f->len);
		if (e == NULL)
			return GK_ENOMEM;
		if (e->queries == 0 || (uint32_t)first < e->first)
			e->first = (uint32_t)first;
		if ((uint32_t)last > e->last)
			e->last = (uint32_t)last;
		if (e->first_day == 0 || day < e->first_day)
			e->first_day = day;
		e->queries += q;
	}
	return 0;
}

static void add_totals(gk_report_day_t *d, const redisReply *r)
{
	for (size_t i = 0; i + 1 < r->elements; i += 2) {
		const char *f = r->element[i]->str;
		uint64_t v =
		    strtoull(r->element[i + 1]->str ? r->element[i + 1]->str : "0", NULL, 10);
		if (f == NULL)
			continue;
		if (strcmp(f, "queries") == 0)
			d->queries += v;
		else if (strcmp(f, "resolved") == 0)
			d->resolved += v;
		else if (strcmp(f, "monitored") == 0)
			d->monitored += v;
		else if (strcmp(f, "noreg") == 0)
			d->noreg += v;
		const char *colon = strchr(f, ':');
		if (colon == NULL)
			continue;
		for (unsigned k = 0; k < GK_DISC_NREASONS; k++) {
			if (strcmp(colon + 1, reason_names[k]) != 0)
				continue;
			size_t pl = (size_t)(colon - f);
			if (pl == 7 && strncmp(f, "refused", 7) == 0)
				d->refused[k] += v;
			else if (pl == 8 && strncmp(f, "overflow", 8) == 0)
				d->overflow[k] += v;
			else if (pl == 7 && strncmp(f, "dropped", 7) == 0)
				d->dropped[k] += v;
		}
	}
}

static void day_sum(gk_report_day_t *a, const gk_report_day_t *b)
{
	a->queries += b->queries;
	a->resolved += b->resolved;
	a->monitored += b->monitored;
	a->noreg += b->noreg;
	a->new_unhandled += b->new_unhandled;
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++) {
		a->refused[k] += b->refused[k];
		a->overflow[k] += b->overflow[k];
		a->dropped[k] += b->dropped[k];
	}
}

static int read_days(redisContext *c, gk_report_t *r, struct dmap *unf, struct dmap *rev, char *err,
                     size_t errlen)
{
	int rc = 0;
	for (size_t i = 0; i < r->n_days && rc == 0; i++) {
		gk_report_day_t *d = &r->days[i];
		for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
			redisAppendCommand(c, "HGETALL " GK_KEY_DISC_DOMAINS, d->day,
			                   reason_names[k]);
		redisAppendCommand(c, "HGETALL " GK_KEY_DISC_TOTALS, d->day);
		for (unsigned k = 0; k <= GK_DISC_NREASONS; k++) {
			redisReply *rep = NULL;
			int grc = get_reply(c, &rep, err, errlen);
			if (grc != 0) {
				rc = rc ? rc : grc;
				if (c->err)
					return rc;
				continue;
			}
			if (rc == 0 && rep->type == REDIS_REPLY_ARRAY) {
				if (k == GK_DISC_NREASONS)
					add_totals(d, rep);
				else if (k == GK_DISC_UNFILED)
					rc = add_rows(unf, rep, d->day);
				else if (k == GK_DISC_REVOKED)
					rc = add_rows(rev, rep, d->day);
			}
			freeReplyObject(rep);
		}
	}
	if (rc == GK_ENOMEM)
		errf(err, errlen, "out of memory");
	return rc;
}

/* Status (gk:st) of every domain of a list. */
static int read_status(redisContext *c, struct dmap *m, char *err, size_t errlen)
{
	for (size_t base = 0; base < m->n; base += PIPE) {
		size_t end = base + PIPE < m->n ? base + PIPE : m->n;
		for (size_t i = base; i < end; i++) {
			const char *d = m->v[i].name;
			redisAppendCommand(c, "HGET " GK_KEY_STATUS_BUCKET " %s",
			                   gk_fs_bucket(d, strlen(d)), d);
		}
		for (size_t i = base; i < end; i++) {
			redisReply *rep;
			if (get_reply(c, &rep, err, errlen) != 0)
				return GK_EIO;
			m->v[i].status = GK_REPORT_UNFILED;
			if (rep->type == REDIS_REPLY_STRING) {
				uint32_t v = (uint32_t)strtoul(rep->str, NULL, 10);
				m->v[i].status = (int)gk_fs_unpack_status(v);
				m->v[i].provider = gk_fs_unpack_provider(v);
			}
			freeReplyObject(rep);
		}
	}
	return 0;
}

/* The record's ips (n NUL-terminated strings one after the other), space-separated. */
static char *join_ips(const char *ips, size_t n)
{
	size_t len = 0;
	const char *p = ips;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
		len += strlen(p) + 1;
	char *out = malloc(len + 1), *q = out;
	if (out == NULL)
		return NULL;
	*q = 0;
	p = ips;
	for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
		q += sprintf(q, "%s%s", i ? " " : "", p);
	return out;
}

/* Records (gk:rec): provider and licence, where a record exists; with want_ips its ips too
 * (served sites, for accuracy). */
static int read_records(redisContext *c, struct dmap *m, bool want_ips, char *err, size_t errlen)
{
	for (size_t base = 0; base < m->n; base += PIPE) {
		size_t end = base + PIPE < m->n ? base + PIPE : m->n;
		for (size_t i = base; i < end; i++) {
			const char *d = m->v[i].name;
			redisAppendCommand(c, "HGET " GK_KEY_RECORD_BUCKET " %s",
			                   gk_fs_bucket(d, strlen(d)), d);
		}
		for (size_t i = base; i < end; i++) {
			redisReply *rep;
			if (get_reply(c, &rep, err, errlen) != 0)
				return GK_EIO;
			if (rep->type == REDIS_REPLY_STRING) {
				gk_rec_t rec;
				size_t cap = 4 * rep->len + 512;
				char *buf = malloc(cap);
				if (buf != NULL &&
				    gk_sync_rec_decode(rep->str, rep->len, m->v[i].name, &rec, buf,
				                       cap) == 0) {
					if (rec.has_provider && rec.provider_id != 0)
						m->v[i].provider = rec.provider_id;
					if (rec.field[GK_REC_LICENCE] != NULL)
						snprintf(m->v[i].licence, sizeof(m->v[i].licence),
						         "%s", rec.field[GK_REC_LICENCE]);
					if (want_ips && rec.ips != NULL)
						m->v[i].ips = join_ips(rec.ips, rec.n_ips);
				}
				free(buf);
			}
			freeReplyObject(rep);
		}
	}
	return 0;
}

static int read_providers(redisContext *c, gk_report_t *r, char *err, size_t errlen)
{
	redisReply *rep = redisCommand(c, "HGETALL " GK_KEY_PROVIDERS);
	if (rep == NULL) {
		errf(err, errlen, "redis: %s", c->errstr);
		return GK_EIO;
	}
	if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
		r->strings = calloc(rep->elements / 2, sizeof(*r->strings));
		r->string_ids = calloc(rep->elements / 2, sizeof(*r->string_ids));
		if (r->strings == NULL || r->string_ids == NULL) {
			freeReplyObject(rep);
			return GK_ENOMEM;
		}
		for (size_t i = 0; i + 1 < rep->elements; i += 2) {
			if (rep->element[i]->str == NULL || rep->element[i + 1]->str == NULL)
				continue;
			char *s = strdup(rep->element[i + 1]->str);
			if (s == NULL)
				break;
			r->string_ids[r->n_strings] =
			    (uint32_t)strtoul(rep->element[i]->str, NULL, 10);
			r->strings[r->n_strings++] = s;
		}
	}
	freeReplyObject(rep);
	return 0;
}

static const char *provider_name(const gk_report_t *r, uint32_t id)
{
	for (size_t i = 0; i < r->n_strings && id != 0; i++)
		if (r->string_ids[i] == id)
			return r->strings[i];
	return NULL;
}

/* Domains filed now: every bucket's values, status bits only. */
static int count_filed(redisContext *c, uint64_t *filed, char *err, size_t errlen)
{
	uint64_t n = 0;
	for (unsigned base = 0; base < GK_FS_BUCKETS; base += PIPE) {
		for (unsigned b = base; b < base + PIPE; b++)
			redisAppendCommand(c, "HVALS " GK_KEY_STATUS_BUCKET, b);
		for (unsigned b = base; b < base + PIPE; b++) {
			redisReply *rep;
			if (get_reply(c, &rep, err, errlen) != 0)
				return GK_EIO;
			for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements;
			     i++) {
				const redisReply *v = rep->element[i];
				uint32_t x = v->type == REDIS_REPLY_STRING
				                 ? (uint32_t)strtoul(v->str, NULL, 10)
				                 : (uint32_t)v->integer;
				n += gk_fs_unpack_status(x) == GK_FS_FILED;
			}
			freeReplyObject(rep);
		}
	}
	*filed = n;
	return 0;
}

/* Filed address ranges (gk:ip:ranges) into r->iptab: HSCAN, 50000 fields a step. A field or
 * value that does not parse is skipped (counted out of n_ranges), never fatal. */
static int read_ranges(redisContext *c, gk_report_t *r, char *err, size_t errlen)
{
	if (gk_sync_iptab_new(&r->iptab) != 0)
		return GK_ENOMEM;
	char cursor[32] = "0";
	do {
		redisReply *rep =
		    redisCommand(c, "HSCAN %s %s COUNT 50000", GK_KEY_IP_RANGES, cursor);
		if (rep == NULL) {
			errf(err, errlen, "redis: %s", c->errstr);
			return GK_EIO;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			errf(err, errlen, "redis: HSCAN %s: %s", GK_KEY_IP_RANGES, rep->str);
			freeReplyObject(rep);
			return GK_EIO;
		}
		if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
		    rep->element[0]->type != REDIS_REPLY_STRING ||
		    rep->element[1]->type != REDIS_REPLY_ARRAY) {
			freeReplyObject(rep);
			break;
		}
		snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
		const redisReply *a = rep->element[1];
		int rc = 0;
		for (size_t i = 0; i + 1 < a->elements && rc == 0; i += 2) {
			const redisReply *f = a->element[i], *v = a->element[i + 1];
			if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
				continue;
			rc = gk_sync_iptab_add_stored(r->iptab, f->str, f->len, v->str, v->len);
			if (rc == GK_EINVAL)
				rc = 0; /* not a range of ours: skipped */
			else if (rc == 0)
				r->n_ranges++;
		}
		freeReplyObject(rep);
		if (rc != 0)
			return rc;
	} while (strcmp(cursor, "0") != 0);
	return gk_sync_iptab_build(r->iptab);
}

/* Every served site's addresses (gk:site buckets) into m. */
static int read_sites(redisContext *c, struct dmap *m, char *err, size_t errlen)
{
	for (unsigned base = 0; base < GK_FS_BUCKETS; base += PIPE) {
		for (unsigned b = base; b < base + PIPE; b++)
			redisAppendCommand(c, "HGETALL " GK_KEY_DISC_SITE, b);
		for (unsigned b = base; b < base + PIPE; b++) {
			redisReply *rep;
			if (get_reply(c, &rep, err, errlen) != 0)
				return GK_EIO;
			int rc = 0;
			for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements;
			     i += 2) {
				const redisReply *f = rep->element[i], *v = rep->element[i + 1];
				if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
					continue;
				gk_report_domain_t *e = dmap_get(m, f->str, f->len);
				if (e == NULL ||
				    (e->addrs == NULL && (e->addrs = strdup(v->str)) == NULL)) {
					rc = GK_ENOMEM;
					break;
				}
			}
			freeReplyObject(rep);
			if (rc != 0)
				return rc;
		}
	}
	return 0;
}

/* Attribute e from e->addrs: the provider whose filed range holds the first address, in
 * the stored order (IPv4 first, then by value), that is neither private nor reserved and
 * that a range holds. Returns the public addresses seen. */
static size_t attribute(const gk_iptab_t *t, gk_report_domain_t *e)
{
	size_t pub = 0, special = 0;
	e->attributed = NULL;
	e->special_only = false;
	for (const char *p = e->addrs; p != NULL && *p;) {
		size_t n = strcspn(p, " ");
		uint8_t a[16];
		int v4;
		if (n > 0 && gk_sync_ip_addr_parse(p, n, a, &v4) == 0) {
			if (gk_sync_ip_special(a, v4) != NULL) {
				special++;
			} else {
				pub++;
				if (e->attributed == NULL && t != NULL)
					e->attributed = gk_sync_iptab_lookup(t, a, v4);
			}
		}
		p += n;
		p += *p == ' ';
	}
	e->special_only = special > 0 && pub == 0;
	return pub;
}

/* Every served address is among the record's ips (docs/REPORT.md "Accuracy"). */
static bool ips_cover(const char *addrs, const char *ips)
{
	for (const char *p = addrs; *p;) {
		size_t n = strcspn(p, " ");
		uint8_t a[16], b[16];
		int v4, w4;
		bool found = false;
		if (n > 0 && gk_sync_ip_addr_parse(p, n, a, &v4) == 0) {
			for (const char *q = ips; *q && !found;) {
				size_t m = strcspn(q, " ");
				found = m > 0 && gk_sync_ip_addr_parse(q, m, b, &w4) == 0 &&
				        v4 == w4 && memcmp(a, b, 16) == 0;
				q += m;
				q += *q == ' ';
			}
			if (!found)
				return false;
		}
		p += n;
		p += *p == ' ';
	}
	return true;
}

/* NULL-first string order (NULL: unknown / none named). */
static int cmp_name(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

static int cmp_check_prov(const void *a, const void *b)
{
	const gk_report_check_t *x = a, *y = b;
	int c = cmp_name(x->d->provider_name, y->d->provider_name);
	return c ? c : strcmp(x->d->name, y->d->name);
}

static int cmp_check_name(const void *a, const void *b)
{
	const gk_report_check_t *x = a, *y = b;
	return strcmp(x->d->name, y->d->name);
}

/* Provider rows: named before "unknown" (NULL), then the larger count, then by name. */
static int cmp_provider_row(const char *xn, uint64_t xc, const char *yn, uint64_t yc)
{
	if ((xn == NULL) != (yn == NULL))
		return xn == NULL ? 1 : -1;
	if (xc != yc)
		return xc > yc ? -1 : 1;
	return cmp_name(xn, yn);
}

static int cmp_acc(const void *a, const void *b)
{
	const gk_report_accuracy_t *x = a, *y = b;
	return cmp_provider_row(x->provider, x->checked, y->provider, y->checked);
}

static int cmp_dom_name(const void *a, const void *b)
{
	return strcmp(((const gk_report_domain_t *)a)->name, ((const gk_report_domain_t *)b)->name);
}

static const char *provider_name(const gk_report_t *r, uint32_t id);

/* qsort that accepts an empty (NULL) array: qsort's pointer must not be NULL even for 0
 * elements (an empty period or no site data has no list at all). */
static void sort(void *v, size_t n, size_t size, int (*cmp)(const void *, const void *))
{
	if (n > 1)
		qsort(v, n, size, cmp);
}

/* Attribution of the discovered domains and the accuracy of the filed served ones. */
static int attribute_all(gk_report_t *r, struct dmap *served)
{
	gk_report_domain_t *lists[2] = {r->unfiled, r->revoked};
	size_t ns[2] = {r->n_unfiled, r->n_revoked};
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < ns[l]; i++) {
			gk_report_domain_t *e = &lists[l][i];
			const gk_report_domain_t *sv = dmap_find(served, e->name);
			if (sv != NULL && (e->addrs = strdup(sv->addrs)) == NULL)
				return GK_ENOMEM;
			attribute(r->iptab, e);
			e->notice = e->attributed ? e->attributed : e->provider_name;
		}
	r->served = served->v;
	r->n_served = served->n;
	served->v = NULL;
	gk_strmap_free(&served->names);
	served->n = 0;
	sort(r->served, r->n_served, sizeof(*r->served), cmp_dom_name);
	if ((r->checks = calloc(r->n_served + 1, sizeof(*r->checks))) == NULL)
		return GK_ENOMEM;
	for (size_t i = 0; i < r->n_served; i++) {
		gk_report_domain_t *e = &r->served[i];
		e->provider_name = provider_name(r, e->provider);
		size_t pub = attribute(r->iptab, e);
		if (e->status != GK_REPORT_FILED)
			continue;
		r->served_filed++;
		if (pub == 0) {
			r->not_checked++;
			continue;
		}
		gk_report_check_t *k = &r->checks[r->n_checks++];
		k->d = e;
		k->provider_ok = e->attributed != NULL && e->provider_name != NULL &&
		                 strcmp(e->attributed, e->provider_name) == 0;
		k->ips_ok = e->ips == NULL || ips_cover(e->addrs, e->ips);
		r->checked++;
		r->matched += k->provider_ok;
	}
	/* per filed provider: the checks grouped by name, then back in name order */
	qsort(r->checks, r->n_checks, sizeof(*r->checks), cmp_check_prov);
	if ((r->accuracy = calloc(r->n_checks + 1, sizeof(*r->accuracy))) == NULL)
		return GK_ENOMEM;
	for (size_t i = 0; i < r->n_checks; i++) {
		const gk_report_check_t *k = &r->checks[i];
		if (r->n_accuracy == 0 ||
		    cmp_name(r->accuracy[r->n_accuracy - 1].provider, k->d->provider_name) != 0)
			r->accuracy[r->n_accuracy++].provider = k->d->provider_name;
		gk_report_accuracy_t *a = &r->accuracy[r->n_accuracy - 1];
		a->checked++;
		a->matched += k->provider_ok;
		a->ips_differ += !k->ips_ok;
	}
	qsort(r->accuracy, r->n_accuracy, sizeof(*r->accuracy), cmp_acc);
	qsort(r->checks, r->n_checks, sizeof(*r->checks), cmp_check_name);
	return 0;
}

/* ---- assembling ---------------------------------------------------------------------- */

static int cmp_dom(const void *a, const void *b)
{
	const gk_report_domain_t *x = a, *y = b;
	if (x->queries != y->queries)
		return x->queries > y->queries ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int cmp_prov(const void *a, const void *b)
{
	const gk_report_provider_t *x = a, *y = b;
	return cmp_provider_row(x->name, x->accessed, y->name, y->accessed);
}

static int cmp_site(const void *a, const void *b)
{
	return cmp_name((*(const gk_report_domain_t *const *)a)->notice,
	                (*(const gk_report_domain_t *const *)b)->notice);
}

/* The notice table: sites accessed (a site counted once, under the unfiled list when it is
 * on both) per notice provider (attributed, else the record's). */
static int providers(gk_report_t *r)
{
	size_t n = 0;
	const gk_report_domain_t **v = calloc(r->n_unfiled + r->n_revoked + 1, sizeof(*v));
	r->providers = calloc(r->n_unfiled + r->n_revoked + 1, sizeof(*r->providers));
	if (v == NULL || r->providers == NULL) {
		free(v);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < r->n_unfiled; i++)
		v[n++] = &r->unfiled[i];
	for (size_t i = 0; i < r->n_revoked; i++)
		if (!r->revoked[i].also_unfiled)
			v[n++] = &r->revoked[i];
	qsort(v, n, sizeof(*v), cmp_site);
	for (size_t i = 0; i < n; i++) {
		if (r->n_providers == 0 ||
		    cmp_name(r->providers[r->n_providers - 1].name, v[i]->notice) != 0)
			r->providers[r->n_providers++].name = v[i]->notice;
		gk_report_provider_t *p = &r->providers[r->n_providers - 1];
		p->accessed++;
		p->unhandled += v[i]->status != GK_REPORT_FILED;
		r->attributed += v[i]->attributed != NULL;
	}
	free(v);
	qsort(r->providers, r->n_providers, sizeof(*r->providers), cmp_prov);
	return 0;
}

int gk_ctl_report_mark_also_unfiled(const gk_report_domain_t *unfiled, size_t n_unfiled,
                                    gk_report_domain_t *revoked, size_t n_revoked)
{
	gk_strmap_t names;
	gk_strmap_init(&names, NULL, GK_STRMAP_BORROW);
	int rc = 0;
	for (size_t i = 0; i < n_unfiled && rc >= 0; i++) {
		uint32_t idx;
		rc = gk_strmap_add(&names, unfiled[i].name, strlen(unfiled[i].name), &idx);
	}
	for (size_t i = 0; i < n_revoked && rc >= 0; i++)
		revoked[i].also_unfiled =
		    gk_strmap_find(&names, revoked[i].name, strlen(revoked[i].name)) != 0;
	gk_strmap_free(&names);
	return rc < 0 ? rc : 0;
}

static int finish(gk_report_t *r, struct dmap *unf, struct dmap *rev)
{
	r->unfiled = unf->v;
	r->n_unfiled = unf->n;
	r->revoked = rev->v;
	r->n_revoked = rev->n;
	unf->v = rev->v = NULL;
	sort(r->unfiled, r->n_unfiled, sizeof(*r->unfiled), cmp_dom);
	sort(r->revoked, r->n_revoked, sizeof(*r->revoked), cmp_dom);
	for (size_t i = 0; i < r->n_unfiled; i++) {
		gk_report_domain_t *e = &r->unfiled[i];
		e->provider_name = provider_name(r, e->provider);
		if (e->status == GK_REPORT_FILED) {
			r->handled++;
		} else {
			r->unhandled++;
			for (size_t k = 0; k < r->n_days; k++)
				if (r->days[k].day == e->first_day)
					r->days[k].new_unhandled++;
		}
	}
	/* one definition of handled/unhandled for every figure and format (docs/REPORT.md): the
	 * sites accessed are the discovered unfiled domains plus the revoked domains still
	 * queried that are not also among them; unhandled are those not filed now. */
	int rc =
	    gk_ctl_report_mark_also_unfiled(r->unfiled, r->n_unfiled, r->revoked, r->n_revoked);
	if (rc != 0)
		return rc;
	for (size_t i = 0; i < r->n_revoked; i++) {
		gk_report_domain_t *e = &r->revoked[i];
		e->provider_name = provider_name(r, e->provider);
		if (e->also_unfiled)
			continue;
		if (e->status == GK_REPORT_FILED) {
			r->handled++;
		} else {
			r->unhandled++;
			for (size_t k = 0; k < r->n_days; k++)
				if (r->days[k].day == e->first_day)
					r->days[k].new_unhandled++;
		}
	}
	uint64_t cum = 0;
	for (size_t k = 0; k < r->n_days; k++) {
		cum += r->days[k].new_unhandled;
		r->days[k].rate_through =
		    r->filed + cum ? (double)r->filed / (double)(r->filed + cum) : 1.0;
		day_sum(&r->total, &r->days[k]);
	}
	r->rate =
	    r->filed + r->unhandled ? (double)r->filed / (double)(r->filed + r->unhandled) : 1.0;
	return 0;
}

static void dmap_free(struct dmap *m)
{
	gk_strmap_free(&m->names);
	for (size_t i = 0; m->v != NULL && i < m->n; i++) {
		free(m->v[i].name);
		free(m->v[i].addrs);
		free(m->v[i].ips);
	}
	free(m->v);
}

int gk_ctl_report_collect(const char *redis, const char *records_redis,
                          const struct gk_redis_auth *auth, uint32_t from, uint32_t to, int64_t now,
                          gk_report_t **out, char *err, size_t errlen)
{
	if (from > to) {
		errf(err, errlen, "--from %u is after --to %u", from, to);
		return GK_EINVAL;
	}
	gk_report_t *r = calloc(1, sizeof(*r));
	struct dmap unf = {0}, rev = {0}, served = {0};
	gk_strmap_init(&unf.names, NULL, GK_STRMAP_BORROW);
	gk_strmap_init(&rev.names, NULL, GK_STRMAP_BORROW);
	gk_strmap_init(&served.names, NULL, GK_STRMAP_BORROW);
	redisContext *c = NULL, *rc_ = NULL;
	int rc = GK_ENOMEM;
	if (r == NULL)
		goto fail;
	r->from = from;
	r->to = to;
	r->generated = now;
	for (uint32_t d = from; d <= to; d = gk_ctl_report_next_day(d))
		r->n_days++;
	if (r->n_days > MAX_DAYS) {
		errf(err, errlen, "period of %zu days: at most %u", r->n_days, MAX_DAYS);
		rc = GK_EINVAL;
		goto fail;
	}
	if ((r->days = calloc(r->n_days, sizeof(*r->days))) == NULL)
		goto fail;
	size_t k = 0;
	for (uint32_t d = from; d <= to; d = gk_ctl_report_next_day(d))
		r->days[k++].day = d;
	rc = GK_EIO;
	if ((c = connect_addr(redis, auth, &rc, err, errlen)) == NULL)
		goto fail;
	if (records_redis != NULL &&
	    (rc_ = connect_addr(records_redis, auth, &rc, err, errlen)) == NULL)
		goto fail;
	redisContext *recs = rc_ ? rc_ : c;
	if ((rc = read_days(c, r, &unf, &rev, err, errlen)) != 0 ||
	    (rc = read_status(c, &unf, err, errlen)) != 0 ||
	    (rc = read_status(c, &rev, err, errlen)) != 0 ||
	    (rc = read_providers(recs, r, err, errlen)) != 0 ||
	    (rc = read_records(recs, &unf, false, err, errlen)) != 0 ||
	    (rc = read_records(recs, &rev, false, err, errlen)) != 0 ||
	    (rc = count_filed(c, &r->filed, err, errlen)) != 0 ||
	    (rc = read_ranges(c, r, err, errlen)) != 0 ||
	    (rc = read_sites(c, &served, err, errlen)) != 0 ||
	    (rc = read_status(c, &served, err, errlen)) != 0 ||
	    (rc = read_records(recs, &served, true, err, errlen)) != 0)
		goto fail;
	rc = finish(r, &unf, &rev);
	gk_strmap_free(&unf.names); /* the entries now belong to r */
	gk_strmap_free(&rev.names);
	unf.n = rev.n = 0;
	if (rc == 0)
		rc = attribute_all(r, &served);
	if (rc == 0)
		rc = providers(r);
	if (rc != 0)
		goto fail;
	redisFree(c);
	redisFree(rc_);
	*out = r;
	return 0;
fail:
	if (rc == GK_ENOMEM)
		errf(err, errlen, "out of memory");
	dmap_free(&unf);
	dmap_free(&rev);
	dmap_free(&served);
	redisFree(c);
	redisFree(rc_);
	gk_ctl_report_free(r);
	return rc;
}

void gk_ctl_report_free(gk_report_t *r)
{
	if (r == NULL)
		return;
	gk_report_domain_t *lists[3] = {r->unfiled, r->revoked, r->served};
	size_t ns[3] = {r->n_unfiled, r->n_revoked, r->n_served};
	for (int l = 0; l < 3; l++)
		for (size_t i = 0; i < ns[l]; i++) {
			free(lists[l][i].name);
			free(lists[l][i].addrs);
			free(lists[l][i].ips);
		}
	free(r->served);
	free(r->checks);
	free(r->accuracy);
	gk_sync_iptab_free(r->iptab);
	for (size_t i = 0; i < r->n_strings; i++)
		free(r->strings[i]);
	free(r->strings);
	free(r->string_ids);
	free(r->unfiled);
	free(r->revoked);
	free(r->providers);
	free(r->days);
	free(r);
}

/* ---- the subcommand ---------------------------------------------------------------- */

static void usage(FILE *err)
{
	fprintf(err,
	        "usage: gkctl report [--redis ADDR] [--records-redis ADDR]\n"
	        "                    [--from DATE] [--to DATE] | [--month YYYY-MM]\n"
	        "                    [--format table|csv|json|html|notice|xlsx] [--output FILE]\n"
	        "xlsx: the spreadsheet (sheets 通报表, 准确率, summary, daily, domains); needs "
	        "--output\n"
	        "DATE: YYYY-MM-DD or YYYYMMDD (China Standard Time); default: this month so "
	        "far\n");
}

int gk_ctl_report_main(int argc, char **argv, const char *redis_default, const char *user_default,
                       const char *pwfile_default, FILE *out, FILE *err)
{
	static const struct option longopts[] = {
	    {"redis", required_argument, NULL, 'r'},
	    {"redis-user", required_argument, NULL, 'u'},
	    {"redis-password-file", required_argument, NULL, 'W'},
	    {"records-redis", required_argument, NULL, 'R'},
	    {"from", required_argument, NULL, 'f'},
	    {"to", required_argument, NULL, 't'},
	    {"format", required_argument, NULL, 'F'},
	    {"output", required_argument, NULL, 'o'},
	    {"month", required_argument, NULL, 'm'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0}};
	static const char *const fmts[] = {"table", "csv", "json", "html", "notice", "xlsx"};
	const char *redis = redis_default ? redis_default : "127.0.0.1:6379";
	const char *records = NULL, *from_s = NULL, *to_s = NULL, *month_s = NULL, *output = NULL;
	enum gk_report_format fmt = GK_REPORT_TABLE;
	int c;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (c) {
		case 'r':
			redis = optarg;
			break;
		case 'R':
			records = optarg;
			break;
		case 'u':
			user_default = optarg;
			break;
		case 'W':
			pwfile_default = optarg;
			break;
		case 'f':
			from_s = optarg;
			break;
		case 't':
			to_s = optarg;
			break;
		case 'o':
			output = optarg;
			break;
		case 'm':
			month_s = optarg;
			break;
		case 'F': {
			size_t i = 0;
			while (i < sizeof(fmts) / sizeof(fmts[0]) && strcmp(optarg, fmts[i]) != 0)
				i++;
			if (i == sizeof(fmts) / sizeof(fmts[0])) {
				fprintf(err,
				        "gkctl report: --format '%s': expected table, csv, json, "
				        "html, notice or xlsx\n",
				        optarg);
				return 2;
			}
			fmt = (enum gk_report_format)i;
			break;
		}
		case 'h':
			usage(out);
			return 0;
		default:
			fprintf(err, "gkctl report: unknown or incomplete option '%s'\n",
			        argv[optind - 1]);
			usage(err);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(err, "gkctl report: unexpected argument '%s'\n", argv[optind]);
		usage(err);
		return 2;
	}
	if (fmt == GK_REPORT_XLSX && output == NULL) {
		fprintf(err, "gkctl report: --format xlsx writes a file: give --output FILE\n");
		return 2;
	}
	int64_t now = (int64_t)time(NULL);
	uint32_t to = gk_disc_day(now), from;
	if (to_s != NULL && gk_ctl_report_parse_date(to_s, &to) != 0) {
		fprintf(err, "gkctl report: --to '%s': expected YYYY-MM-DD\n", to_s);
		return 2;
	}
	from = to / 100 * 100 + 1;
	if (from_s != NULL && gk_ctl_report_parse_date(from_s, &from) != 0) {
		fprintf(err, "gkctl report: --from '%s': expected YYYY-MM-DD\n", from_s);
		return 2;
	}
	if (month_s != NULL) { /* the regulator's monthly period: the whole calendar month */
		char day[16];
		snprintf(day, sizeof(day), "%s%s", month_s, strchr(month_s, '-') ? "-01" : "01");
		if (from_s != NULL || to_s != NULL || gk_ctl_report_parse_date(day, &from) != 0) {
			fprintf(err,
			        "gkctl report: --month '%s': expected YYYY-MM (without --from/--to)"
			        "\n",
			        month_s);
			return 2;
		}
		for (to = from; gk_ctl_report_next_day(to) / 100 == from / 100;)
			to = gk_ctl_report_next_day(to);
	}
	gk_report_t *r;
	char emsg[512];
	gk_redis_auth_t auth;
	if (user_default == NULL)
		user_default = getenv("GK_REDIS_USER");
	if (gk_redis_auth_load(&auth, user_default, pwfile_default, emsg, sizeof(emsg)) != 0) {
		fprintf(err, "gkctl report: %s\n", emsg);
		return 2;
	}
	int rc =
	    gk_ctl_report_collect(redis, records, &auth, from, to, now, &r, emsg, sizeof(emsg));
	gk_redis_auth_clear(&auth);
	if (rc != 0) {
		fprintf(err, "gkctl report: %s\n", emsg);
		return rc == GK_EINVAL ? 2 : 3;
	}
	if (fmt == GK_REPORT_XLSX) {
		rc = gk_ctl_report_write_xlsx(r, output, emsg, sizeof(emsg));
		gk_ctl_report_free(r);
		if (rc != 0) {
			fprintf(err, "gkctl report: %s\n", emsg);
			return 3;
		}
		return 0;
	}
	FILE *f = out;
	if (output != NULL && (f = fopen(output, "w")) == NULL) {
		fprintf(err, "gkctl report: %s: %s\n", output, strerror(errno));
		gk_ctl_report_free(r);
		return 3;
	}
	rc = gk_ctl_report_write(r, fmt, f);
	if (f != out && fclose(f) != 0)
		rc = GK_EIO;
	else if (f == out && fflush(f) != 0)
		rc = GK_EIO;
	gk_ctl_report_free(r);
	if (rc != 0) {
		fprintf(err, "gkctl report: write error\n");
		return 3;
	}
	return 0;
}
