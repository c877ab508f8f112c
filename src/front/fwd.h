/* SPDX-License-Identifier: MIT */
/* src/front/fwd.h -- a relay: forwarded queries to backends and back, on one libuv loop.
 *
 * The packet path decides (decide/decide.h) and says GK_PKT_FORWARD for a name under a
 * forwarded zone that may be resolved; the query then comes to the relay of the thread
 * that read it, with no hand-off to another thread:
 *   - a UDP thread runs a relay of its own on a loop of its own (gk_front_fwd_udp, then
 *     gk_front_fwd_flush once per receive batch);
 *   - the worker's loop has one for client TCP and TLS queries (gk_front_fwd_submit).
 * The relay looks in the pool's packet cache (cache.h), else picks a
 * backend (pool.h: least outstanding by weight, healthy, under its bound) and sends the
 * client's question under a random ID (rnd.h) from one of its backend sockets, each
 * bound to a port the kernel picks at random (RFC 5452), one of them replaced by a socket
 * on a new random port every GK_FWD_ROTATE_MS (the old one drains its tries). An answer is matched
 * against the outstanding query by socket, source address, ID and question bytes (relay.h); the
 * others are dropped and counted. A query that times out is sent again to another backend, up to
 * the pool's retries; with none left, or no backend up, the client gets SERVFAIL at once.
 * The answer goes back with the client's ID and question bytes, its OPT removed for a
 * client without EDNS or carrying our buffer size, cut to header and question with TC when
 * larger than the client may receive over UDP. A truncated UDP answer is passed on
 * (tc: pass) or asked again over TCP (tc: retry-tcp, a connection per backend kept open
 * and pipelined). Client TCP queries are sent over the same TCP connections.
 *
 * Health: every backend gets an SOA query for the pool's check name (the first forwarded
 * zone of the pool when check.name is not set) every check interval; timeouts and
 * SERVFAILs of client queries count as failures too (pool.h).
 *
 * Timeouts: one libuv timer per relay; each pool keeps its tries in flight on a list in
 * deadline order (every try of a pool has the pool's timeout, so the tail is the latest),
 * and the timer is armed for the earliest head. Client answers over UDP are gathered per
 * loop turn and sent with one sendmmsg (gk_front_fwd_flush).
 *
 * Each relay has its own outstanding table, sockets, backend TCP connections, health
 * state (its own checks) and packet cache per pool: a worker with n UDP sockets has n + 1
 * relays. Nothing on the query path is shared between threads, so no query takes a lock:
 * a pool's cache_size (entries for the whole process) is divided among the process's
 * relays (gk_front_fwd_cache_share), and a relay's cache is read and written by its loop only.
 *
 * Memory: everything (outstanding table, caches, sockets, the answer batch) is allocated by
 * gk_front_fwd_new; the hot path allocates nothing. Threading: gk_front_fwd_new/free on the control
 * thread while the loop does not run; everything else on the relay's loop's thread.
 * gk_front_fwd_counters_read and the stats read plain counters (relaxed) from any thread.
 */
#pragma once
#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>
#include "front/cache.h"
#include "front/conf.h"
#include "front/pool.h"
#include "gk/errors.h"
#include "pkt/process.h"

/* Largest header and question relayed (12 + 255 + 4). */
#define GK_FWD_QMAX 272u
/* Queries in flight per relay (all pools): the outstanding table's bound. */
#define GK_FWD_SLOTS 4096u
/* Every GK_FWD_ROTATE_MS a relay replaces one of its backend sockets of each address family
 * (8 per family) by one on a new random port: a source port lives about 8 s. */
#define GK_FWD_ROTATE_MS 1000u

typedef struct gk_fwd gk_fwd_t;

/* A TCP or TLS client's answer (loop thread): msg[0..len) for the connection conn of
 * generation gen (the caller's own check that the connection is still the one that
 * asked). msg valid until the callback returns. */
typedef void (*gk_fwd_deliver_fn)(void *ctx, void *conn, uint64_t gen, const uint8_t *msg,
                                  size_t len);

/* Per-worker figures (plain counters). */
#define GK_FWD_RCODES_NAMED 6u

typedef struct gk_fwd_counters {
	uint64_t queries;       /* relayed queries received */
	uint64_t cache_hits;    /* answered from the packet cache */
	uint64_t answers;       /* backend and cached answers relayed to clients (rcode[] below) */
	uint64_t servfail;      /* SERVFAIL sent: no backend up, every try timed out, table full */
	uint64_t no_backend;    /* ... of which no backend was up (or all at their bound) */
	uint64_t table_full;    /* ... of which the outstanding table was full */
	uint64_t conn_failed;   /* ... of which the last try's backend TCP connection failed */
	uint64_t retries;       /* tries sent again to another backend after a timeout */
	uint64_t mismatched;    /* backend datagrams dropped: no outstanding query matched */
	uint64_t malformed;     /* backend answers that could not be relayed (bad OPT walk) */
	uint64_t truncated;     /* truncated UDP answers from backends */
	uint64_t tcp_retries;   /* ... asked again over TCP */
	uint64_t tcp_queries;   /* queries sent over TCP to backends */
	uint64_t tcp_errors;    /* backend TCP connections that failed or were reset */
	uint64_t send_errors;   /* client answers the kernel did not take */
	uint64_t checks;        /* active health checks sent */
	uint64_t tap_dropped;   /* dnstap messages of backend traffic not queued: ring full */
	uint64_t ecs_invalid;   /* queries with an invalid ECS option (RFC 7871 7.1.1): FORMERR */
	uint64_t bad_answer;    /* SERVFAIL sent: a backend answer that could not be relayed */
	uint64_t rotations;     /* backend sockets replaced by one on a new source port */
	uint64_t rotate_errors; /* ... replacements that could not be made (socket, bind) */
	uint64_t filtered;      /* answers relayed without the data of a refused name they
	                           carried (filter.h: a CNAME target, glue, ...) */
	uint64_t filtered_records; /* ... the records left out of them */
	/* answers relayed by their rcode (the header's four bits): GK_FWD_RCODES_NAMED named
	 * ones (NOERROR, FORMERR, SERVFAIL, NXDOMAIN, NOTIMP, REFUSED), then every other */
	uint64_t rcode[GK_FWD_RCODES_NAMED + 1];
} gk_fwd_counters_t;

/* The rcode label of gk_fwd_counters_t.rcode[i] (i <= GK_FWD_RCODES_NAMED). */
const char *gk_front_fwd_rcode_name(unsigned i);

/* Shares of a pool's packet cache: a UDP thread's relay takes GK_FRONT_UDP_PARTS parts, a
 * worker loop's relay (TCP and TLS clients, usually a small part of the traffic) one. Equal
 * shares left the UDP thread of a one-worker server half the entries with nearly all of the
 * queries. */
#define GK_FRONT_UDP_PARTS 8u

/* A relay on loop (initialised, not yet running): pools, caches and sockets per conf (not
 * NULL, checked), edns_udp_max our own EDNS limit. parts_total: the cache parts of every
 * relay the process runs for conf (workers x (GK_FRONT_UDP_PARTS x UDP sockets + 1)), parts
 * this relay's; each pool's packet cache of this relay holds
 * gk_front_fwd_cache_share(cache_size, parts_total, parts) entries, its own, used by this
 * relay's loop only.
 * Returns 0 with *out, GK_ENOMEM, or an error from socket() or libuv; err names the cause.
 * On failure *out is still set: its handles are on the loop, so the caller closes the loop's
 * handles and then calls gk_front_fwd_free. */
GK_MUST_CHECK int gk_front_fwd_new(uv_loop_t *loop, const gk_front_conf_t *conf,
                                   uint16_t edns_udp_max, unsigned parts_total, unsigned parts,
                                   gk_fwd_t **out, char *err, size_t errlen);

/* Entries of one relay's cache of parts parts for a pool of cache_size entries in a process
 * whose relays have parts_total parts (0 taken as parts): cache_size x parts / parts_total
 * rounded down, so that the relays together hold at most cache_size, but at least one (so
 * the total is at most max(cache_size, relays)); 0 when cache_size is 0. Pure. */
size_t gk_front_fwd_cache_share(unsigned cache_size, unsigned parts_total, unsigned parts);

/* This relay's packet cache figures for pool (zeros: cache off or no such pool). Any
 * thread (relaxed loads). */
void gk_front_fwd_cache_stats(const gk_fwd_t *f, size_t pool, gk_fcache_stats_t *st);

/* dnstap of backend traffic: fn(tap, ring, ...) is called on the loop's thread for each
 * client query sent to a backend (response false, the query as sent) and each answer
 * matched to one (response true, rtt_us after its query), not for health checks; it
 * returns false when the message could not be queued (counted in tap_dropped). The caller
 * passes the thread's own dnstap ring (obs/dnstap.h gk_obs_tap_push_fwd has this signature but
 * for the log's type). tap NULL: none (the default). Before the loop runs. */
typedef bool (*gk_fwd_tap_fn)(void *tap, unsigned ring, bool response, bool tcp,
                              const struct sockaddr *backend, const uint8_t *msg, size_t len,
                              uint64_t rtt_us, const char *pool, size_t pool_len);
void gk_front_fwd_set_tap(gk_fwd_t *f, gk_fwd_tap_fn fn, void *tap, unsigned ring);

/* The source-port rotation's interval: ms (0: none). Tests; before or while the loop runs, on
 * its thread. */
void gk_front_fwd_set_rotate(gk_fwd_t *f, unsigned ms);

/* The ports of the backend sockets queries of family (AF_INET, AF_INET6) are sent from now:
 * up to max into ports; returns how many. The loop's thread. */
unsigned gk_front_fwd_source_ports(const gk_fwd_t *f, int family, uint16_t *ports, unsigned max);

/* Response rate limiting of the answers relayed to UDP clients (rrl/rrl.h: the UDP thread's own
 * table and settings): fn(ctx, client, cls, name, nlen) counts one answer to client (the one a
 * load balancer's PROXY header named, else the sender) of class cls (gk_rrl_class_t: the
 * relay classifies the answer by its rcode and counts; NXDOMAIN and errors keyed by the
 * forwarded zone's apex, answers and NODATA by the query name) and source name name[0..nlen)
 * (wire) and says: 0 send it, 1 send the slip response (header and question, TC, counts 0),
 * 2 drop it. fn NULL: none (TCP clients are never limited). Before the loop runs. */
/* The filing check of the other names an answer carries (filter.h): fn(ctx) gives the packet
 * options in force on the loop's thread (its status table, policy and PSL; valid while the
 * callback that asked runs), or NULL. A query whose decision asked for the check
 * (gk_pkt_result_t.filter) then gets its answer without the data of a refused registrable
 * domain, from a backend or the cache. fn NULL (the default): nothing is checked. Before
 * the loop runs. */
typedef const gk_pkt_opts_t *(*gk_fwd_opts_fn)(void *ctx);
void gk_front_fwd_set_opts(gk_fwd_t *f, gk_fwd_opts_fn fn, void *ctx);
typedef int (*gk_fwd_limit_fn)(void *ctx, const struct sockaddr *client, unsigned cls,
                               const uint8_t *name, size_t nlen);
void gk_front_fwd_set_limit(gk_fwd_t *f, gk_fwd_limit_fn fn, void *ctx);

/* Free after the loop closed every handle (uv_walk + uv_run) or never ran. NULL: no-op. */
void gk_front_fwd_free(gk_fwd_t *f);

/* Loop thread (a UDP thread running the relay's loop): relay the client query q (res from
 * gk_pkt_process: GK_PKT_FORWARD) read from socket fd, its answer to be sent from fd to
 * client (the sender). real: the client a load balancer's PROXY header names (for EDNS
 * Client Subnet and PROXY v2), or NULL. The answer (a cache hit now, a backend's later) is
 * queued: gk_front_fwd_flush sends what is queued; the relay flushes by itself at the end of
 * each of its own callbacks. */
void gk_front_fwd_udp(gk_fwd_t *f, const uint8_t *q, const gk_pkt_result_t *res, int fd,
                      const struct sockaddr *client, socklen_t clen, const struct sockaddr *real);
/* Loop thread: backend datagrams read so far (over UDP, the relay's own sockets); the UDP
 * thread's wake-up coalescing counts a loop turn's reads with it (net/udp.c). */
uint64_t gk_front_fwd_rx(const gk_fwd_t *f);
/* Loop thread: send the queued client answers (one sendmmsg per client socket; those the
 * kernel does not take now are dropped and counted). */
void gk_front_fwd_flush(gk_fwd_t *f);
/* Loop thread: relay a TCP/TLS client's query (res: GK_PKT_FORWARD); client: its address
 * (for EDNS Client Subnet; NULL: unknown, none sent). The answer, or a SERVFAIL, comes
 * through fn(ctx, conn, gen, ...), possibly before this returns (a cache hit), once unless
 * the loop stops first. */
void gk_front_fwd_submit(gk_fwd_t *f, const uint8_t *q, const gk_pkt_result_t *res,
                         const struct sockaddr *client, gk_fwd_deliver_fn fn, void *ctx, void *conn,
                         uint64_t gen);

/* Add this worker's counters into *sum (relaxed loads). Any thread. */
void gk_front_fwd_counters_read(const gk_fwd_t *f, gk_fwd_counters_t *sum);

/* Pools in the relay, and backend b of pool p's figures (relaxed copy; any thread). */
size_t gk_front_fwd_pools(const gk_fwd_t *f);
size_t gk_front_fwd_backends(const gk_fwd_t *f, size_t pool);
void gk_front_fwd_backend_stats(const gk_fwd_t *f, size_t pool, size_t b, gk_fbackend_stats_t *st);

/* Backend b of pool p summed over the relays fw[0..n) (the workers'): counters added,
 * outstanding added; *up_in: how many of them see it up. Any thread (relaxed reads). */
void gk_front_fwd_backend_sum(gk_fwd_t *const *fw, size_t n, size_t pool, size_t b,
                              gk_fbackend_stats_t *sum, unsigned *up_in);

/* Prometheus exposition of the relays fw[0..n) for conf's pools (docs/METRICS.md "Front
 * end") appended to f. Main thread, at a scrape. */
void gk_front_fwd_metrics(gk_fwd_t *const *fw, size_t n, const gk_front_conf_t *conf, FILE *f);
