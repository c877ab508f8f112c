/* SPDX-License-Identifier: MIT */
/* src/obs/obs.c -- per-worker counter blocks, the per-query hook, summing on scrape.
 *
 * Counters are written by one worker each with a relaxed load and a relaxed store (a plain
 * mov on x86-64 and arm64: no lock prefix, no fence), and read by the main thread with
 * relaxed loads. With a single writer no increment is lost, and the reader never sees a
 * torn value; it may see one block a few increments older than another, which a scrape
 * tolerates. Blocks are 64-byte aligned and a multiple of 64 bytes long, so no two workers
 * ever write the same cache line.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/counter.h"
#include "obs/discovery.h"
#include "obs/dnstap.h"
#include "obs/obs.h"

#define NS_PER_S 1000000000ull

struct gk_obs_worker {
	gk_obs_counters_t c;
	/* worker-only state, never read by the scraper */
	gk_tap_t *tap;
	unsigned id;
	bool tap_all;
	uint64_t now_ns;                 /* start of the current batch */
	uint64_t tb_rate;                /* decision log token bucket: tokens per second */
	uint64_t tb_cap;                 /* depth in token-nanoseconds (burst * 1e9) */
	uint64_t tb_level;               /* tokens held, in token-nanoseconds */
	uint64_t tb_last_ns;             /* last refill */
	struct gk_obs_disc_worker *disc; /* discovery's per-worker state (obs/discovery.h) */
} __attribute__((aligned(64)));

struct gk_obs {
	unsigned n;       /* blocks: threads that answer queries */
	unsigned workers; /* reported as gatekeeper_workers */
	gk_obs_worker_t *w;
	gk_tap_t *tap;
	const struct gk_status *status;
	gk_obs_policy_version_fn policy_get;
	const struct gk_zoneset *zones; /* gk_obs_set_zones */
	void *policy_arg;
	gk_obs_net_fn net_add;
	void *net_arg;
	gk_obs_zones_fn zones_get;
	void *zones_arg;
	gk_obs_extra_fn extra;
	void *extra_arg;
	struct gk_disc *disc;
	double start_time;
};

_Static_assert(sizeof(gk_obs_counters_t) % sizeof(uint64_t) == 0, "counters are all uint64_t");
_Static_assert(sizeof(struct gk_obs_worker) % 64 == 0, "one cache line multiple per worker");

const uint64_t gk_obs_lat_bounds_ns[GK_OBS_LAT_N - 1] = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000, 10000000,
};

static const char *const qtype_names[GK_OBS_QT_N] = {
    [GK_OBS_QT_NONE] = "none",   [GK_OBS_QT_A] = "A",           [GK_OBS_QT_NS] = "NS",
    [GK_OBS_QT_CNAME] = "CNAME", [GK_OBS_QT_SOA] = "SOA",       [GK_OBS_QT_PTR] = "PTR",
    [GK_OBS_QT_MX] = "MX",       [GK_OBS_QT_TXT] = "TXT",       [GK_OBS_QT_AAAA] = "AAAA",
    [GK_OBS_QT_SRV] = "SRV",     [GK_OBS_QT_NAPTR] = "NAPTR",   [GK_OBS_QT_DS] = "DS",
    [GK_OBS_QT_RRSIG] = "RRSIG", [GK_OBS_QT_DNSKEY] = "DNSKEY", [GK_OBS_QT_SVCB] = "SVCB",
    [GK_OBS_QT_HTTPS] = "HTTPS", [GK_OBS_QT_CAA] = "CAA",       [GK_OBS_QT_IXFR] = "IXFR",
    [GK_OBS_QT_AXFR] = "AXFR",   [GK_OBS_QT_ANY] = "ANY",       [GK_OBS_QT_OTHER] = "other",
};

/* qtype < 256 -> index; built from the table below on first use would need a lock or a
 * constructor: a static table is simpler. */
static const uint8_t qtype_small[256] = {
    [0] = GK_OBS_QT_NONE,   [1] = GK_OBS_QT_A,       [2] = GK_OBS_QT_NS,     [5] = GK_OBS_QT_CNAME,
    [6] = GK_OBS_QT_SOA,    [12] = GK_OBS_QT_PTR,    [15] = GK_OBS_QT_MX,    [16] = GK_OBS_QT_TXT,
    [28] = GK_OBS_QT_AAAA,  [33] = GK_OBS_QT_SRV,    [35] = GK_OBS_QT_NAPTR, [43] = GK_OBS_QT_DS,
    [46] = GK_OBS_QT_RRSIG, [48] = GK_OBS_QT_DNSKEY, [64] = GK_OBS_QT_SVCB,  [65] = GK_OBS_QT_HTTPS,
    [251] = GK_OBS_QT_IXFR, [252] = GK_OBS_QT_AXFR,  [255] = GK_OBS_QT_ANY,
};

unsigned gk_obs_qtype_index(uint16_t qtype)
{
	if (qtype < 256) {
		unsigned i = qtype_small[qtype];
		/* 0 in the table means "not listed", except for qtype 0 itself */
		return (i == 0 && qtype != 0) ? GK_OBS_QT_OTHER : i;
	}
	return qtype == 257 ? GK_OBS_QT_CAA : GK_OBS_QT_OTHER;
}

const char *gk_obs_qtype_name(unsigned idx)
{
	return idx < GK_OBS_QT_N ? qtype_names[idx] : "other";
}

const char *gk_obs_rcode_name(unsigned rcode)
{
	static const char *const names[GK_OBS_RCODE_N] = {
	    "NOERROR",  "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",  "REFUSED",
	    "YXDOMAIN", "YXRRSET", "NXRRSET",  "NOTAUTH",  "NOTZONE", "DSOTYPENI",
	    "RCODE12",  "RCODE13", "RCODE14",  "RCODE15",  "BADVERS",
	};
	return rcode < GK_OBS_RCODE_N ? names[rcode] : "BADVERS";
}

const char *gk_obs_status_name(unsigned idx)
{
	/* [1] is GK_FS_UNKNOWN: the label has said "stale" since the first release, and
	 * dashboards select on it */
	static const char *const names[GK_OBS_STATUS_N] = {
	    "starting", "stale", "unfiled", "filed", "revoked", "none", "other",
	};
	return idx < GK_OBS_STATUS_N ? names[idx] : "other";
}

const char *gk_obs_action_name(unsigned idx)
{
	static const char *const names[GK_OBS_ACTION_N] = {
	    "resolve", "refuse", "nxdomain", "nodata", "drop", "redirect", "truncate", "other",
	};
	return idx < GK_OBS_ACTION_N ? names[idx] : "other";
}

const char *gk_obs_why_name(unsigned idx)
{
	static const char *const names[GK_OBS_WHY_N] = {
	    "none",    "unfiled", "revoked",  "unknown", "starting",
	    "blocked", "allowed", "tcp_only", "other",
	};
	return idx < GK_OBS_WHY_N ? names[idx] : "other";
}

uint64_t gk_obs_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

int gk_obs_create(unsigned n_workers, gk_tap_t *tap, gk_obs_t **out)
{
	if (n_workers == 0)
		return GK_EINVAL;
	gk_obs_t *o = calloc(1, sizeof(*o));
	if (o == NULL)
		return GK_ENOMEM;
	o->w = aligned_alloc(64, (size_t)n_workers * sizeof(*o->w));
	if (o->w == NULL) {
		free(o);
		return GK_ENOMEM;
	}
	memset(o->w, 0, (size_t)n_workers * sizeof(*o->w));
	o->n = n_workers;
	o->workers = n_workers;
	o->tap = tap;
	unsigned rate = 0, burst = 0;
	if (tap != NULL)
		gk_obs_tap_rate(tap, &rate, &burst);
	uint64_t now = gk_obs_now_ns();
	for (unsigned i = 0; i < n_workers; i++) {
		gk_obs_worker_t *w = &o->w[i];
		w->id = i;
		w->tap = tap;
		w->tap_all = tap != NULL && gk_obs_tap_all_queries(tap);
		w->tb_rate = rate;
		w->tb_cap = (uint64_t)burst * NS_PER_S;
		w->tb_level = w->tb_cap;
		w->tb_last_ns = now;
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	o->start_time = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	*out = o;
	return 0;
}

void gk_obs_free(gk_obs_t *obs)
{
	if (obs == NULL)
		return;
	free(obs->w);
	free(obs);
}

gk_obs_worker_t *gk_obs_worker(gk_obs_t *obs, unsigned i)
{
	return i < obs->n ? &obs->w[i] : NULL;
}

unsigned gk_obs_workers(const gk_obs_t *obs)
{
	return obs->workers;
}

void gk_obs_set_workers(gk_obs_t *obs, unsigned n)
{
	obs->workers = n;
}

uint64_t gk_obs_batch_begin(gk_obs_worker_t *ow)
{
	if (ow == NULL)
		return 0;
	return ow->now_ns = gk_obs_now_ns();
}

bool gk_obs_wants_peer(const gk_obs_worker_t *ow)
{
	return ow != NULL && ow->tap != NULL;
}

void gk_obs_batch_end(gk_obs_worker_t *ow, uint64_t t0, unsigned n)
{
	if (ow == NULL || n == 0)
		return;
	uint64_t dt = gk_obs_now_ns() - t0, per = dt / n;
	unsigned b = 0;
	while (b < GK_OBS_LAT_N - 1 && per > gk_obs_lat_bounds_ns[b])
		b++;
	gk_counter_add(&ow->c.lat_bucket[b], n);
	gk_counter_add(&ow->c.lat_count, n);
	gk_counter_add(&ow->c.lat_sum_ns, dt);
}

/* Token bucket of the decision log: true when one more entry may go now. */
static bool tap_admit(gk_obs_worker_t *ow)
{
	uint64_t now = ow->now_ns;
	if (now > ow->tb_last_ns) {
		uint64_t dt = now - ow->tb_last_ns;
		if (dt > 10 * NS_PER_S) /* keeps dt * rate far from overflow */
			dt = 10 * NS_PER_S;
		uint64_t lvl = ow->tb_level + dt * ow->tb_rate;
		ow->tb_level = lvl > ow->tb_cap ? ow->tb_cap : lvl;
		ow->tb_last_ns = now;
	}
	if (ow->tb_level < NS_PER_S)
		return false;
	ow->tb_level -= NS_PER_S;
	return true;
}

void gk_obs_query(gk_obs_worker_t *ow, enum gk_pkt_transport transport, gk_pkt_outcome_t outcome,
                  const gk_pkt_result_t *res, const uint8_t *q, size_t qlen, const uint8_t *out,
                  const struct sockaddr *peer)
{
	if (ow == NULL)
		return;
	gk_obs_counters_t *c = &ow->c;
	unsigned t = transport == GK_PKT_TCP;
	gk_counter_add(&c->queries[t][gk_obs_qtype_index(res->qtype)], 1);
	if (outcome == GK_PKT_ANSWER) {
		gk_counter_add(&c->responses[t][res->rcode < 16 ? res->rcode : 16], 1);
		if (res->tc)
			gk_counter_add(&c->truncated[t], 1);
	} else if (outcome == GK_PKT_DROP) { /* GK_PKT_FORWARD: counted by the front end */
		gk_counter_add(&c->unanswered[t], 1);
	}
	int fs = (int)res->filing + 2;
	unsigned st = fs >= 0 && fs < GK_OBS_STATUS_N - 1 ? (unsigned)fs : GK_OBS_STATUS_N - 1;
	unsigned act = res->action < GK_OBS_ACTION_N - 1 ? res->action : GK_OBS_ACTION_N - 1;
	unsigned why = res->why < GK_OBS_WHY_N - 1 ? res->why : GK_OBS_WHY_N - 1;
	gk_counter_add(&c->decisions[st][act][why][res->monitor ? 1 : 0], 1);

	/* Discovery counts every query (refusals per registrable domain, and the totals),
	 * for either outcome (obs/discovery.h; NULL: no-op). */
	gk_obs_disc_record(ow->disc, q, res);
	bool refused = res->action != GK_ACT_RESOLVE || res->monitor;
	if (ow->tap != NULL && (refused || ow->tap_all)) {
		if (!tap_admit(ow)) {
			gk_counter_add(&c->tap_ratelimited, 1);
		} else if (gk_obs_tap_push(ow->tap, ow->id, transport, peer, q, qlen,
		                           outcome == GK_PKT_ANSWER ? out : NULL,
		                           outcome == GK_PKT_ANSWER ? res->len : 0, res)) {
			gk_counter_add(&c->tap_queued, 1);
		} else {
			gk_counter_add(&c->tap_ring_full, 1);
		}
	}
}

void gk_obs_sum(const gk_obs_t *obs, gk_obs_counters_t *sum)
{
	for (unsigned i = 0; i < obs->n; i++)
		gk_counter_sum((const uint64_t *)&obs->w[i].c, sizeof(*sum) / sizeof(uint64_t),
		               (uint64_t *)sum);
}

void gk_obs_set_status(gk_obs_t *obs, const struct gk_status *st)
{
	obs->status = st;
}

const struct gk_status *gk_obs_status(const gk_obs_t *obs)
{
	return obs->status;
}

void gk_obs_set_policy_version(gk_obs_t *obs, gk_obs_policy_version_fn get, void *arg)
{
	obs->policy_get = get;
	obs->policy_arg = arg;
}

uint64_t gk_obs_policy_version(const gk_obs_t *obs)
{
	return obs->policy_get != NULL ? obs->policy_get(obs->policy_arg) : 0;
}

void gk_obs_set_zones(gk_obs_t *obs, const struct gk_zoneset *zs)
{
	obs->zones = zs;
}

const struct gk_zoneset *gk_obs_zones(const gk_obs_t *obs)
{
	return obs->zones;
}

void gk_obs_set_net(gk_obs_t *obs, gk_obs_net_fn add, void *arg)
{
	obs->net_add = add;
	obs->net_arg = arg;
}

void gk_obs_net(const gk_obs_t *obs, struct gk_net_counters *sum)
{
	if (obs->net_add != NULL)
		obs->net_add(obs->net_arg, sum);
}

void gk_obs_set_zone_figures(gk_obs_t *obs, gk_obs_zones_fn get, void *arg)
{
	obs->zones_get = get;
	obs->zones_arg = arg;
}

bool gk_obs_zone_figures(const gk_obs_t *obs, gk_obs_zones_t *z)
{
	if (obs->zones_get == NULL)
		return false;
	obs->zones_get(obs->zones_arg, z);
	return true;
}

void gk_obs_set_extra(gk_obs_t *obs, gk_obs_extra_fn put, void *arg)
{
	obs->extra = put;
	obs->extra_arg = arg;
}

void gk_obs_extra(const gk_obs_t *obs, FILE *f)
{
	if (obs->extra != NULL)
		obs->extra(obs->extra_arg, f);
}

void gk_obs_set_disc(gk_obs_t *obs, unsigned i, struct gk_obs_disc_worker *dw)
{
	if (i < obs->n)
		obs->w[i].disc = dw;
}

void gk_obs_set_discovery(gk_obs_t *obs, struct gk_disc *d)
{
	obs->disc = d;
}

struct gk_disc *gk_obs_discovery(const gk_obs_t *obs)
{
	return obs->disc;
}

struct gk_tap *gk_obs_worker_tap(const gk_obs_worker_t *ow, unsigned *ring)
{
	if (ow == NULL)
		return NULL;
	*ring = ow->id;
	return ow->tap;
}

gk_tap_t *gk_obs_tap(const gk_obs_t *obs)
{
	return obs->tap;
}

double gk_obs_start_time(const gk_obs_t *obs)
{
	return obs->start_time;
}
