/* SPDX-License-Identifier: MIT */
/* src/front/pool.c -- backend selection and health (pool.h).
 *
 * Least-outstanding by weight compares (outstanding + 1) / weight as cross products, so no
 * division and no rounding; the scan starts one past the last pick, so equal backends take
 * turns instead of the first one taking every query of a quiet pool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "front/pool.h"

struct backend {
	gk_fbackend_conf_t conf;
	gk_fbackend_stats_t st;
	unsigned fails, oks; /* in a row */
};

struct gk_fpool {
	gk_fpool_conf_t conf;
	char name[64];
	size_t n;
	unsigned next, up;
	struct backend b[];
};

int gk_front_pool_new(const gk_fpool_conf_t *conf, const char *name, const gk_fbackend_conf_t *b,
                      size_t n, gk_fpool_t **out)
{
	if (n == 0 || n > GK_FPOOL_BACKENDS_MAX || conf->max_outstanding == 0 ||
	    conf->down_after == 0 || conf->up_after == 0)
		return GK_EINVAL;
	for (size_t i = 0; i < n; i++)
		if (b[i].weight == 0)
			return GK_EINVAL;
	gk_fpool_t *p = calloc(1, sizeof(*p) + n * sizeof(p->b[0]));
	if (p == NULL)
		return GK_ENOMEM;
	p->conf = *conf;
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	p->n = n;
	p->up = (unsigned)n;
	for (size_t i = 0; i < n; i++) {
		p->b[i].conf = b[i];
		p->b[i].st.up = true;
	}
	*out = p;
	return 0;
}

void gk_front_pool_free(gk_fpool_t *p)
{
	free(p);
}

int gk_front_pool_pick(gk_fpool_t *p, int except)
{
	int best = -1;
	bool any_up = false;
	for (size_t k = 0; k < p->n; k++) {
		unsigned i = (unsigned)((p->next + k) % p->n);
		const struct backend *b = &p->b[i];
		if (!b->st.up || (int)i == except)
			continue;
		any_up = true;
		if (b->st.outstanding >= p->conf.max_outstanding)
			continue;
		if (best < 0) {
			best = (int)i;
			continue;
		}
		const struct backend *c = &p->b[best];
		/* (o_b + 1) / w_b < (o_c + 1) / w_c */
		if ((uint64_t)(b->st.outstanding + 1) * c->conf.weight <
		    (uint64_t)(c->st.outstanding + 1) * b->conf.weight)
			best = (int)i;
	}
	if (best < 0)
		return any_up ? GK_EBUSY : GK_ENOENT;
	p->next = (unsigned)(best + 1) % (unsigned)p->n;
	return best;
}

void gk_front_pool_sent(gk_fpool_t *p, unsigned i)
{
	p->b[i].st.queries++;
	p->b[i].st.outstanding++;
}

static const char *outcome_name(gk_fpool_outcome_t o)
{
	switch (o) {
	case GK_FPOOL_SERVFAIL:
		return "SERVFAIL";
	case GK_FPOOL_TIMEOUT:
		return "timeout";
	case GK_FPOOL_REFUSED:
		return "port unreachable";
	default:
		return "answer";
	}
}

static void set_up(gk_fpool_t *p, struct backend *b, bool up, const char *why, unsigned n)
{
	if (b->st.up == up)
		return;
	b->st.up = up;
	if (up) {
		p->up++;
		b->st.ups++;
		gk_log(GK_LOG_INFO, "front end: backend %s of pool %s up (%u check%s answered)",
		       b->conf.name, p->name, n, n == 1 ? "" : "s");
	} else {
		p->up--;
		b->st.downs++;
		gk_log(GK_LOG_WARN, "front end: backend %s of pool %s down (%s, %u in a row)%s",
		       b->conf.name, p->name, why, n,
		       p->up == 0 ? ": no backend of the pool up, its queries get SERVFAIL" : "");
	}
}

/* A failure of backend b; active: of a health check (or the kernel's port unreachable),
 * which may take down the last backend up, where a client query's may not (pool.h). */
static void failed(gk_fpool_t *p, struct backend *b, gk_fpool_outcome_t o, bool active)
{
	b->oks = 0;
	if (o == GK_FPOOL_REFUSED) {
		b->st.unreachable++;
		b->fails = b->fails < p->conf.down_after ? p->conf.down_after : b->fails + 1;
	} else {
		b->fails++;
	}
	if (b->fails < p->conf.down_after || !b->st.up)
		return;
	if (!active && o != GK_FPOOL_REFUSED && p->up <= 1)
		return;
	set_up(p, b, false, outcome_name(o), o == GK_FPOOL_REFUSED ? 1 : b->fails);
}

void gk_front_pool_done(gk_fpool_t *p, unsigned i, gk_fpool_outcome_t o, uint64_t latency_us)
{
	static const uint64_t bound_ms[GK_FPOOL_LAT_BUCKETS - 1] = {1,   2,   5,   10,   20,  50,
	                                                            100, 200, 500, 1000, 2000};
	struct backend *b = &p->b[i];
	if (b->st.outstanding > 0)
		b->st.outstanding--;
	if (o == GK_FPOOL_TIMEOUT || o == GK_FPOOL_REFUSED) {
		if (o == GK_FPOOL_TIMEOUT)
			b->st.timeouts++;
		failed(p, b, o, false);
		return;
	}
	b->st.answers++;
	b->st.lat_sum_us += latency_us;
	unsigned k = 0;
	while (k < GK_FPOOL_LAT_BUCKETS - 1 && latency_us > bound_ms[k] * 1000)
		k++;
	b->st.lat[k]++;
	if (o == GK_FPOOL_SERVFAIL) {
		b->st.servfails++;
		failed(p, b, o, false);
	} else {
		b->fails = 0; /* an answer: a down backend still waits for its checks */
	}
}

void gk_front_pool_mismatch(gk_fpool_t *p, unsigned i)
{
	p->b[i].st.mismatches++;
}

void gk_front_pool_checked(gk_fpool_t *p, unsigned i, bool ok, gk_fpool_outcome_t o)
{
	struct backend *b = &p->b[i];
	if (!ok) {
		failed(p, b, o == GK_FPOOL_OK ? GK_FPOOL_TIMEOUT : o, true);
		return;
	}
	b->fails = 0;
	if (++b->oks >= p->conf.up_after)
		set_up(p, b, true, NULL, b->oks);
}

void gk_front_pool_unreachable(gk_fpool_t *p, unsigned i)
{
	failed(p, &p->b[i], GK_FPOOL_REFUSED, true);
}

bool gk_front_pool_is_up(const gk_fpool_t *p, unsigned i)
{
	return i < p->n && p->b[i].st.up;
}

size_t gk_front_pool_size(const gk_fpool_t *p)
{
	return p->n;
}

const gk_fbackend_conf_t *gk_front_pool_backend(const gk_fpool_t *p, unsigned i)
{
	return i < p->n ? &p->b[i].conf : NULL;
}

void gk_front_pool_stats(const gk_fpool_t *p, unsigned i, gk_fbackend_stats_t *st)
{
	*st = p->b[i].st;
}

unsigned gk_front_pool_up(const gk_fpool_t *p)
{
	return p->up;
}
