/* SPDX-License-Identifier: MIT */
/* src/obs/disc_sites.c -- the addresses each served site resolves to, handed from the zone
 * store's writer (gatekeeperd's main loop, at every zone publish) to discovery's merger
 * thread, which writes them to Redis (GK_KEY_DISC_SITE, include/gk/discovery.h) for gkctl
 * report's attribution and accuracy tables.
 *
 * The hand-off is a map domain -> addresses under a mutex, taken at zone publish time only
 * (never by a query thread): a zone published again before its entry is written replaces it,
 * so the map holds at most one entry per served zone. The merger takes up to CHUNK entries
 * per write (one pipeline of HSETs, the last with a callback) and sends the next chunk from
 * that callback, so a start with a million zones drains at Redis's pipelined speed while
 * each loop turn does a bounded amount of work. A chunk whose connection is lost, or that
 * Redis refuses, goes back into the map unless a newer entry for its domain arrived.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include "common/log.h"
#include "gk/filing_status.h"
#include "obs/internal.h"

#define CHUNK     1024u /* HSETs per pipeline */
#define SITE_ADDR 16u   /* addresses kept per site */

struct site {
	struct site *next;
	uint64_t hash;
	uint16_t dlen, alen;
	char text[]; /* domain, NUL, addresses, NUL */
};

struct gk_disc_sites {
	uv_mutex_t lock;
	struct site **b; /* pending, chained by domain hash */
	size_t nb, n, cursor;
	/* merger thread */
	struct site *inflight;
	size_t n_inflight;
	bool busy;
	bool warned; /* a refusal was logged */
};

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ull;
	return h;
}

int gk_obs_disc_sites_create(gk_disc_t *d)
{
	struct gk_disc_sites *s = calloc(1, sizeof(*s));
	if (s == NULL || (s->b = calloc(1024, sizeof(*s->b))) == NULL) {
		free(s);
		return GK_ENOMEM;
	}
	s->nb = 1024;
	uv_mutex_init(&s->lock);
	d->sites = s;
	return 0;
}

static void list_free(struct site *e)
{
	while (e != NULL) {
		struct site *n = e->next;
		free(e);
		e = n;
	}
}

void gk_obs_disc_sites_free(gk_disc_t *d)
{
	struct gk_disc_sites *s = d->sites;
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->nb; i++)
		list_free(s->b[i]);
	list_free(s->inflight);
	free(s->b);
	uv_mutex_destroy(&s->lock);
	free(s);
	d->sites = NULL;
}

static void grow(struct gk_disc_sites *s)
{
	size_t nb = s->nb * 2;
	struct site **b = calloc(nb, sizeof(*b));
	if (b == NULL)
		return; /* longer chains, still correct */
	for (size_t i = 0; i < s->nb; i++)
		for (struct site *e = s->b[i], *n; e != NULL; e = n) {
			n = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(s->b);
	s->b = b;
	s->nb = nb;
	s->cursor = 0;
}

/* Insert e, replacing an entry for the same domain (newer: true) or dropping e when one
 * exists (newer: false, a requeued entry older than what is pending). Locked. */
static void put_locked(struct gk_disc_sites *s, struct site *e, bool newer)
{
	struct site **p = &s->b[e->hash & (s->nb - 1)];
	for (; *p != NULL; p = &(*p)->next) {
		if ((*p)->hash != e->hash || (*p)->dlen != e->dlen ||
		    memcmp((*p)->text, e->text, e->dlen) != 0)
			continue;
		if (!newer) {
			free(e);
			return;
		}
		e->next = (*p)->next;
		free(*p);
		*p = e;
		return;
	}
	e->next = NULL;
	*p = e;
	if (++s->n > s->nb)
		grow(s);
}

int gk_obs_disc_site(gk_disc_t *d, const char *domain, const char *addrs)
{
	if (d == NULL || d->sites == NULL)
		return 0;
	size_t dl = strlen(domain), al = strlen(addrs);
	if (dl > 1100 || al > 1100)
		return GK_EINVAL;
	struct site *e = malloc(sizeof(*e) + dl + al + 2);
	if (e == NULL)
		return GK_ENOMEM;
	e->hash = hash_str(domain, dl);
	e->dlen = (uint16_t)dl;
	e->alen = (uint16_t)al;
	memcpy(e->text, domain, dl + 1);
	memcpy(e->text + dl + 1, addrs, al + 1);
	struct gk_disc_sites *s = d->sites;
	uv_mutex_lock(&s->lock);
	put_locked(s, e, true);
	uv_mutex_unlock(&s->lock);
	return 0;
}

static int cmp_addr(const void *a, const void *b)
{
	const uint8_t *x = a, *y = b;
	return memcmp(x, y, 17);
}

void gk_obs_disc_zone_published(void *ctx, const gk_zver_t *v)
{
	gk_disc_t *d = ctx;
	uint8_t addr[SITE_ADDR][16];
	int v4[SITE_ADDR];
	int n = gk_zone_ver_site_addrs(v, addr, v4, SITE_ADDR);
	if (n < 0)
		return; /* no site of its own (or nothing loaded yet) */
	/* address order: IPv4 first (family byte 0), then by value */
	uint8_t key[SITE_ADDR][17];
	for (int i = 0; i < n; i++) {
		key[i][0] = v4[i] ? 0 : 1;
		memcpy(key[i] + 1, addr[i], 16);
	}
	qsort(key, (size_t)n, sizeof(key[0]), cmp_addr);
	char text[SITE_ADDR * (INET6_ADDRSTRLEN + 1) + 1], *p = text;
	*p = 0;
	for (int i = 0; i < n; i++) {
		if (p != text)
			*p++ = ' ';
		if (key[i][0] == 0)
			inet_ntop(AF_INET, key[i] + 13, p, INET6_ADDRSTRLEN);
		else
			inet_ntop(AF_INET6, key[i] + 1, p, INET6_ADDRSTRLEN);
		p += strlen(p);
	}
	size_t alen;
	const uint8_t *apex = gk_zone_ver_apex_wire(v, &alen);
	char name[4 * 255 + 1];
	gk_obs_disc_name_text(apex, alen, name);
	if (gk_obs_disc_site(d, name, text) != 0)
		gk_log(GK_LOG_WARN, "discovery: %s: site addresses not recorded (out of memory)",
		       name);
}

/* Up to max pending entries, unlinked, as a list. */
static struct site *take(struct gk_disc_sites *s, size_t max, size_t *n)
{
	struct site *out = NULL;
	*n = 0;
	uv_mutex_lock(&s->lock);
	for (size_t k = 0; k < s->nb && *n < max && s->n > 0; k++) {
		size_t i = (s->cursor + k) & (s->nb - 1);
		while (s->b[i] != NULL && *n < max) {
			struct site *e = s->b[i];
			s->b[i] = e->next;
			e->next = out;
			out = e;
			s->n--;
			(*n)++;
		}
		if (s->b[i] != NULL)
			s->cursor = i;
	}
	uv_mutex_unlock(&s->lock);
	return out;
}

static void requeue(struct gk_disc_sites *s, struct site *list)
{
	uv_mutex_lock(&s->lock);
	while (list != NULL) {
		struct site *n = list->next;
		put_locked(s, list, false);
		list = n;
	}
	uv_mutex_unlock(&s->lock);
}

void gk_obs_disc_sites_lost(gk_disc_t *d)
{
	struct gk_disc_sites *s = d->sites;
	if (s == NULL || !s->busy)
		return;
	requeue(s, s->inflight);
	s->inflight = NULL;
	s->n_inflight = 0;
	s->busy = false;
}

static void sites_cb(gk_redis_session_t *rs, redisReply *rep, void *priv)
{
	gk_disc_t *d = priv;
	struct gk_disc_sites *s = d->sites;
	s->busy = false;
	gk_redis_session_check_write(rs, rep);
	if (rep->type == REDIS_REPLY_ERROR) {
		if (!gk_redis_is_readonly(rep->str) && !s->warned) /* said once, until it works */
			gk_log(GK_LOG_WARN,
			       "discovery: redis refused site addresses: %s (retried each flush; "
			       "redis/gatekeeper.acl allows gk:site:*)",
			       rep->str);
		s->warned = true;
		requeue(s, s->inflight);
	} else {
		if (s->warned)
			gk_log(GK_LOG_INFO, "discovery: site addresses written again");
		s->warned = false;
		uv_mutex_lock(&d->stats_lock);
		d->stats.sites_written += s->n_inflight;
		uv_mutex_unlock(&d->stats_lock);
		list_free(s->inflight);
		s->inflight = NULL;
		s->n_inflight = 0;
		gk_obs_disc_sites_write(d); /* the next chunk at once */
		return;
	}
	s->inflight = NULL;
	s->n_inflight = 0;
}

void gk_obs_disc_sites_write(gk_disc_t *d)
{
	struct gk_disc_sites *s = d->sites;
	if (s == NULL || s->busy || !d->connected || d->rs == NULL)
		return;
	size_t n;
	struct site *list = take(s, CHUNK, &n);
	if (list == NULL)
		return;
	int rc = 0;
	size_t sent = 0;
	for (struct site *e = list; e != NULL && rc == 0; e = e->next) {
		char key[32];
		snprintf(key, sizeof(key), GK_KEY_DISC_SITE, gk_fs_bucket(e->text, e->dlen));
		const char *argv[4] = {"HSET", key, e->text, e->text + e->dlen + 1};
		size_t lens[4] = {4, strlen(key), e->dlen, e->alen};
		rc = gk_redis_session_cmdargv(d->rs, 0, e->next == NULL ? sites_cb : NULL, d, 0, 4,
		                              argv, lens);
		sent += rc == 0;
	}
	if (rc != 0) {
		requeue(s, list);
		if (sent > 0) /* a pipeline half sent: its callback will not come */
			gk_redis_session_fail(d->rs, "site addresses could not be queued whole");
		return;
	}
	s->inflight = list;
	s->n_inflight = n;
	s->busy = true;
}
