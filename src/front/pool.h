/* SPDX-License-Identifier: MIT */
/* src/front/pool.h -- a backend pool of the front end: selection, bounds, health, figures.
 *
 * A pool is a few backends (address, weight). Selection is least-outstanding, weighted: the
 * healthy backend with the fewest queries in flight per unit of weight, ties broken in
 * turn, never one at its max_outstanding bound, optionally not the one a retry comes from.
 * Health has two sources: active checks (an SOA query at an interval: gk_front_pool_checked)
 * and passive ones (a query that timed out or got SERVFAIL: gk_front_pool_done). A backend goes
 * down after down_after failures in a row and comes back after up_after successful checks
 * in a row; a port unreachable from the kernel (GK_FPOOL_REFUSED) takes it down at once.
 * Timeouts and SERVFAILs of client queries never take down the last backend up in a pool
 * (the load itself may be what slows it: SERVFAIL for every query would only make it
 * worse); its active checks still can. A pool without a healthy backend picks none (the
 * caller answers SERVFAIL at once), and recovers by itself when a check succeeds again.
 * Every transition is logged (one line: pool, backend, reason) and counted.
 *
 * One pool state per worker thread: no locks; only its own loop calls these. Counters are
 * plain fields the metrics read from the main loop between quiescent points (STYLE.md 10).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "gk/errors.h"

#define GK_FPOOL_BACKENDS_MAX 64
#define GK_FPOOL_LAT_BUCKETS                                                                       \
	12 /* upper bounds in ms: 1 2 5 10 20 50 100 200 500 1000 2000 +Inf                        \
	    */

typedef struct gk_fbackend_conf {
	char name[64];                /* "addr:port" as written, for logs and metric labels */
	struct sockaddr_storage addr; /* where queries go (UDP and TCP) */
	socklen_t addrlen;
	unsigned weight; /* >= 1 */
} gk_fbackend_conf_t;

typedef struct gk_fpool_conf {
	unsigned max_outstanding; /* per backend, >= 1 */
	unsigned down_after;      /* failures in a row that take a backend down, >= 1 */
	unsigned up_after;        /* successful checks in a row that bring it back, >= 1 */
} gk_fpool_conf_t;

/* How a query or a check ended. */
typedef enum gk_fpool_outcome {
	GK_FPOOL_OK = 0,   /* an answer (any rcode but SERVFAIL) */
	GK_FPOOL_SERVFAIL, /* SERVFAIL: relayed, and counts as a failure for health */
	GK_FPOOL_TIMEOUT,  /* no answer in time */
	GK_FPOOL_REFUSED,  /* the kernel said port unreachable (ICMP): down at once */
} gk_fpool_outcome_t;

typedef struct gk_fbackend_stats {
	uint64_t queries, answers, servfails, timeouts, mismatches;
	uint64_t lat[GK_FPOOL_LAT_BUCKETS]; /* answers by latency bucket (not cumulative) */
	uint64_t lat_sum_us;
	uint64_t unreachable; /* ICMP port unreachable (ECONNREFUSED) for queries or checks */
	uint64_t downs, ups;  /* health transitions */
	unsigned outstanding;
	bool up;
} gk_fbackend_stats_t;

typedef struct gk_fpool gk_fpool_t;

/* A pool named name (kept, for the log lines) of the n backends b[0..n) (1..GK_FPOOL_BACKENDS_MAX),
 * every one up at the start. Returns 0 with *out, GK_EINVAL (n or a bound out of range, a weight of
 * 0) or GK_ENOMEM. */
GK_MUST_CHECK int gk_front_pool_new(const gk_fpool_conf_t *conf, const char *name,
                                    const gk_fbackend_conf_t *b, size_t n, gk_fpool_t **out);
void gk_front_pool_free(gk_fpool_t *p);

/* The backend for a new query (an index), not `except` (-1: any): GK_ENOENT when no backend
 * is up, GK_EBUSY when every healthy one is at its bound. Does not count the query:
 * gk_front_pool_sent does, once it is sent. */
int gk_front_pool_pick(gk_fpool_t *p, int except);

/* A query went to backend i. */
void gk_front_pool_sent(gk_fpool_t *p, unsigned i);

/* The query sent to backend i ended after latency_us (ignored for a timeout or a port
 * unreachable). */
void gk_front_pool_done(gk_fpool_t *p, unsigned i, gk_fpool_outcome_t o, uint64_t latency_us);

/* An answer from backend i that matched no outstanding query (RFC 5452): dropped, counted. */
void gk_front_pool_mismatch(gk_fpool_t *p, unsigned i);

/* An active check of backend i ended: ok (an answer to the SOA query) or not (o: how,
 * GK_FPOOL_TIMEOUT, GK_FPOOL_SERVFAIL or GK_FPOOL_REFUSED; ignored when ok). */
void gk_front_pool_checked(gk_fpool_t *p, unsigned i, bool ok, gk_fpool_outcome_t o);
/* The kernel reported port unreachable for backend i (not tied to one query): down at once
 * (counted, logged). */
void gk_front_pool_unreachable(gk_fpool_t *p, unsigned i);
/* Whether backend i is up. */
bool gk_front_pool_is_up(const gk_fpool_t *p, unsigned i);

size_t gk_front_pool_size(const gk_fpool_t *p);
const gk_fbackend_conf_t *gk_front_pool_backend(const gk_fpool_t *p, unsigned i);
void gk_front_pool_stats(const gk_fpool_t *p, unsigned i, gk_fbackend_stats_t *st);
/* Backends up now. */
unsigned gk_front_pool_up(const gk_fpool_t *p);
