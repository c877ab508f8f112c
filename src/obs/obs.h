/* SPDX-License-Identifier: MIT */
/* src/obs/obs.h -- observation of the packet path: per-worker counters, latency, decision log.
 *
 * Every worker owns one gk_obs_worker_t: a cache-line aligned block of plain uint64_t
 * counters written only by that worker (single writer, relaxed atomic load/store, so no
 * lock, no read-modify-write shared between cores and no torn read by the scraper). The
 * metrics endpoint (obs/metrics.h) sums the blocks on the main loop when scraped.
 *
 * The workers call exactly three functions, all on their own thread, none of which
 * allocates, locks or makes a syscall (clock_gettime(CLOCK_MONOTONIC) is a vDSO call):
 *
 *   t0 = gk_obs_batch_begin(ow);            once per recvmmsg batch / TCP read
 *   gk_obs_query(ow, ...);                  once per message given to gk_pkt_process
 *   gk_obs_batch_end(ow, t0, n);            once per batch: n queries share its time
 *
 * gk_obs_query is the one place per-query observation lives: counters, the dnstap decision
 * log (obs/dnstap.h: a per-worker lock-free ring, rate-limited) and discovery
 * (obs/discovery.h) are all fed from it.
 *
 * Latency: the packet-path histogram (gatekeeper_packet_seconds) gets, per batch, the time
 * from after the receive to before the send divided by the batch size, counted once per
 * query. Two monotonic clock reads per batch cost 2 x 25 ns (measured, docs/METRICS.md),
 * under 2 ns per query at a full batch of 32; two reads per query would cost a noticeable
 * share of the query's own processing. CLOCK_MONOTONIC_COARSE is cheaper still but ticks every 4
 * ms: useless at this scale. The figure is therefore a per-batch mean: a slow query inside a full
 * batch is spread over its neighbours.
 *
 * Threads: gk_obs_create/free and the setters on the main thread before workers start;
 * gk_obs_sum and the getters on the main thread any time.
 */
#pragma once
#include <stdio.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "gk/errors.h"
#include "pkt/process.h"

struct gk_status;
struct gk_tap;

/* --- label sets ------------------------------------------------------------------- */

/* Query types counted by name; everything else is "other" (qtype 0: "none", the
 * question could not be parsed). */
enum gk_obs_qtype {
	GK_OBS_QT_NONE = 0,
	GK_OBS_QT_A,
	GK_OBS_QT_NS,
	GK_OBS_QT_CNAME,
	GK_OBS_QT_SOA,
	GK_OBS_QT_PTR,
	GK_OBS_QT_MX,
	GK_OBS_QT_TXT,
	GK_OBS_QT_AAAA,
	GK_OBS_QT_SRV,
	GK_OBS_QT_NAPTR,
	GK_OBS_QT_DS,
	GK_OBS_QT_RRSIG,
	GK_OBS_QT_DNSKEY,
	GK_OBS_QT_SVCB,
	GK_OBS_QT_HTTPS,
	GK_OBS_QT_CAA,
	GK_OBS_QT_IXFR,
	GK_OBS_QT_AXFR,
	GK_OBS_QT_ANY,
	GK_OBS_QT_OTHER,
	GK_OBS_QT_N
};
#define GK_OBS_RCODE_N 17 /* 0..15, 16: BADVERS and above (gk_pkt_result_t.rcode) */
#define GK_OBS_STATUS_N                                                                            \
	7 /* res.filing + 2: starting, unknown (label "stale", kept for dashboards), unfiled,      \
	     filed, revoked, none (no check), other */
#define GK_OBS_ACTION_N (GK_ACT_N + 1) /* gk_action_t (decide/decide.h), then other */
#define GK_OBS_WHY_N    (GK_WHY_N + 1) /* gk_why_t (decide/decide.h), then other */
#define GK_OBS_LAT_N    14             /* histogram buckets, the last one +Inf */

/* Upper bounds of the latency buckets in nanoseconds ([GK_OBS_LAT_N - 1] is +Inf). */
extern const uint64_t gk_obs_lat_bounds_ns[GK_OBS_LAT_N - 1];

/* Label text of each index (for the exposition and tests). */
const char *gk_obs_qtype_name(unsigned idx);
const char *gk_obs_rcode_name(unsigned rcode); /* 0..16 */
const char *gk_obs_status_name(unsigned idx);  /* 0..GK_OBS_STATUS_N-1 */
const char *gk_obs_action_name(unsigned idx);  /* 0..GK_OBS_ACTION_N-1 */
const char *gk_obs_why_name(unsigned idx);     /* 0..GK_OBS_WHY_N-1 */
/* Index of a query type in enum gk_obs_qtype. Pure. */
unsigned gk_obs_qtype_index(uint16_t qtype);

/* --- counters --------------------------------------------------------------------- */

/* One set of counters: a worker's block, or the sum of every worker's. */
typedef struct gk_obs_counters {
	uint64_t queries[2][GK_OBS_QT_N];      /* [transport][qtype]: messages processed */
	uint64_t responses[2][GK_OBS_RCODE_N]; /* [transport][rcode]: responses built */
	uint64_t truncated[2];                 /* responses with TC set */
	uint64_t unanswered[2];                /* GK_PKT_DROP: malformed, or the drop action */
	/* [status][action][why][monitor]: every processed query */
	uint64_t decisions[GK_OBS_STATUS_N][GK_OBS_ACTION_N][GK_OBS_WHY_N][2];
	uint64_t lat_bucket[GK_OBS_LAT_N]; /* non-cumulative; summed into le= at render */
	uint64_t lat_count;
	uint64_t lat_sum_ns;
	/* decision log (dnstap) on the worker side */
	uint64_t tap_queued;      /* entries handed to the log thread */
	uint64_t tap_ratelimited; /* refused by the worker's token bucket */
	uint64_t tap_ring_full;   /* the ring was full: the log thread is behind */
} gk_obs_counters_t;

typedef struct gk_obs gk_obs_t;
typedef struct gk_obs_worker gk_obs_worker_t;

/* Create the observation state for n_workers workers (>= 1). tap: the decision log that
 * gk_obs_query feeds, or NULL for none (borrowed: it must outlive obs; see obs/dnstap.h).
 * Returns 0 or GK_ENOMEM / GK_EINVAL. Main thread. */
GK_MUST_CHECK int gk_obs_create(unsigned n_workers, struct gk_tap *tap, gk_obs_t **out);

/* Free obs (after every worker using it has stopped). NULL is ignored. */
void gk_obs_free(gk_obs_t *obs);

/* Worker i's block (0 <= i < n_workers), valid as long as obs. */
gk_obs_worker_t *gk_obs_worker(gk_obs_t *obs, unsigned i);
unsigned gk_obs_workers(const gk_obs_t *obs);

/* --- the hook (worker thread only) ------------------------------------------------- */

/* Start a batch: returns the monotonic time in ns (also kept as the batch's "now" for the
 * decision log's token bucket). ow may be NULL (no observation): returns 0. */
uint64_t gk_obs_batch_begin(gk_obs_worker_t *ow);

/* Observe one message given to gk_pkt_process: outcome and res as it returned them, q/qlen
 * the query, out the response (res->len bytes; unused for GK_PKT_DROP). peer: the client
 * address (NULL: unknown).
 * Counts the query and its decision; hands refusals (or every query, per the log config)
 * to the decision log and to discovery. Pointers are only read during the call. ow may be
 * NULL (nothing happens). */
void gk_obs_query(gk_obs_worker_t *ow, enum gk_pkt_transport transport, gk_pkt_outcome_t outcome,
                  const gk_pkt_result_t *res, const uint8_t *q, size_t qlen, const uint8_t *out,
                  const struct sockaddr *peer);

/* True when gk_obs_query wants the client address (a decision log is configured): TCP
 * asks the kernel once per connection only then. */
bool gk_obs_wants_peer(const gk_obs_worker_t *ow);

/* End a batch begun at t0 in which n queries were observed (n may be 0). */
void gk_obs_batch_end(gk_obs_worker_t *ow, uint64_t t0, unsigned n);

/* --- scraping (main thread) --------------------------------------------------------- */

/* Add every worker's counters into *sum (values at most a moment old). */
void gk_obs_sum(const gk_obs_t *obs, gk_obs_counters_t *sum);

/* The filing-status replica whose state the metrics report (NULL: none). Main thread,
 * before the endpoint starts; st must outlive obs's use of it. */
void gk_obs_set_status(gk_obs_t *obs, const struct gk_status *st);
/* The worker count the metrics report (gatekeeper_workers); gk_obs_create's n by default,
 * which counts every thread that answers queries (a worker has several). */
void gk_obs_set_workers(gk_obs_t *obs, unsigned n);
const struct gk_status *gk_obs_status(const gk_obs_t *obs);

/* The applied policy version, read at each scrape on the main thread (get(arg)); until
 * set, the version reads 0. */
typedef uint64_t (*gk_obs_policy_version_fn)(void *arg);
void gk_obs_set_policy_version(gk_obs_t *obs, gk_obs_policy_version_fn get, void *arg);
uint64_t gk_obs_policy_version(const gk_obs_t *obs);

/* The zone store whose signed zones the metrics report (signature expiry, DNSSEC
 * warnings), read at each scrape on the main thread, which also writes it. NULL: none. */
struct gk_zoneset;
void gk_obs_set_zones(gk_obs_t *obs, const struct gk_zoneset *zs);
const struct gk_zoneset *gk_obs_zones(const gk_obs_t *obs);

/* The network layer's own counters (net/net.h): connections, sends, rate limiting, PROXY
 * headers, TLS. What every query counts (messages, responses by rcode, truncated,
 * unanswered) is obs's (gk_obs_counters_t), counted once in gk_obs_query. Each block has one
 * writer (a worker's loop, or one of its UDP threads: common/counter.h); all uint64_t, so a
 * block can be read as an array. Declared here, below net/, because the exporter reads
 * them. */
typedef struct gk_net_counters {
	uint64_t udp_oversize;    /* datagrams too large to look at (dropped, not processed) */
	uint64_t send_errors;     /* UDP send failed or no free send slot */
	uint64_t tcp_accepted;    /* TCP connections accepted */
	uint64_t tcp_idle_closed; /* closed by the idle timeout */
	uint64_t tcp_evicted;     /* closed to make room at the connection cap */
	uint64_t tcp_oversize;    /* closed: query longer than net/net.h GK_NET_TCP_QUERY_MAX */
	uint64_t rrl_limited;     /* UDP responses over the rate limit (slipped + dropped) */
	uint64_t rrl_slipped;     /* ... sent truncated (TC) instead */
	uint64_t rrl_dropped;     /* ... not sent */
	uint64_t proxy_accepted;  /* PROXY headers honoured (UDP datagrams, TCP connections) */
	uint64_t proxy_malformed; /* from a balancer: missing or malformed (dropped / closed) */
	uint64_t proxy_refused;   /* a PROXY header from an address not configured (dropped) */
	uint64_t tls_queries;     /* DNS messages answered over TLS */
	uint64_t tls_accepted;    /* TLS connections accepted */
	uint64_t tls_handshakes;  /* handshakes completed */
	uint64_t tls_resumed;     /* ... of which resumed a session (ticket) */
	uint64_t tls_handshake_failed;  /* handshakes that failed (protocol, version, cipher) */
	uint64_t tls_handshake_timeout; /* closed: no handshake within handshake_timeout_ms */
	uint64_t tls_idle_closed;       /* closed by the idle timeout */
	uint64_t tls_evicted;           /* closed to make room at the connection cap */
	uint64_t udp_lingers;           /* wake-up coalescing sleeps of the UDP threads */
} gk_net_counters_t;

/* add(arg, sum) adds the network layer's counters into *sum at each scrape, on the main
 * thread. Until set, they read 0. */
typedef void (*gk_obs_net_fn)(void *arg, struct gk_net_counters *sum);
void gk_obs_set_net(gk_obs_t *obs, gk_obs_net_fn add, void *arg);
void gk_obs_net(const gk_obs_t *obs, struct gk_net_counters *sum);

/* The zone store's figures (daemon/zoneload.h), read at each scrape on the main thread. */
typedef struct gk_obs_zones {
	uint64_t configured; /* zones in the store (placeholders included) */
	uint64_t loaded;     /* zones with data */
	uint64_t loading;    /* start-up: not built yet (placeholders, SERVFAIL) */
	uint64_t failed;     /* placeholders of zones that failed to load (SERVFAIL) */
	uint64_t records;    /* resource records served */
	bool ready;          /* start-up loading finished (no zone loading) */
	double load_seconds; /* how long it took (0 until ready) */
} gk_obs_zones_t;
typedef void (*gk_obs_zones_fn)(void *arg, gk_obs_zones_t *z);
void gk_obs_set_zone_figures(gk_obs_t *obs, gk_obs_zones_fn get, void *arg);
/* False (and *z untouched) until set. */
bool gk_obs_zone_figures(const gk_obs_t *obs, gk_obs_zones_t *z);
/* More metric families written by another module (secondary zones): put(arg, f) appends
 * exposition text to f at each scrape, on the main thread. */
typedef void (*gk_obs_extra_fn)(void *arg, FILE *f);
void gk_obs_set_extra(gk_obs_t *obs, gk_obs_extra_fn put, void *arg);
void gk_obs_extra(const gk_obs_t *obs, FILE *f);

/* Discovery (obs/discovery.h): worker i's counting state, which gk_obs_query feeds with
 * every query (gk_obs_disc_record wants all of them: its per-day totals are the filing rate's
 * denominator). Main thread, before the workers start; dw must outlive obs's use of it.
 * The workers call nothing of discovery themselves: gk_obs_query is their one hook. */
struct gk_obs_disc_worker;
void gk_obs_set_disc(gk_obs_t *obs, unsigned i, struct gk_obs_disc_worker *dw);

/* Discovery's service (obs/discovery.h), whose figures the metrics report (NULL: none).
 * Main thread, before the endpoint starts; d must outlive obs's use of it. */
struct gk_disc;
void gk_obs_set_discovery(gk_obs_t *obs, struct gk_disc *d);
struct gk_disc *gk_obs_discovery(const gk_obs_t *obs);

/* The decision log given at create (NULL: none). */
struct gk_tap *gk_obs_tap(const gk_obs_t *obs);
/* The decision log of a thread's block (NULL ow or none: NULL), and with it the ring that
 * thread alone pushes to (*ring): for the front end's relay on that thread. */
struct gk_tap *gk_obs_worker_tap(const gk_obs_worker_t *ow, unsigned *ring);

/* Unix time (seconds, with fraction) at which obs was created: the process start. */
double gk_obs_start_time(const gk_obs_t *obs);

/* Monotonic clock in ns (the one the hook uses). Any thread. */
uint64_t gk_obs_now_ns(void);
