/* SPDX-License-Identifier: MIT */
/* src/net/net.h -- the DNS front end: worker threads, each with its own libuv loop and sockets.
 *
 * A worker owns, per listen address, one UDP socket and one TCP listener, both bound with
 * SO_REUSEPORT so the kernel spreads clients over workers. Queries go through
 * gk_pkt_process() against the view currently published in a gk_snapshot_t (the daemon
 * swaps it on reload); a worker reads the view once per datagram / TCP message and is
 * quiescent once per loop iteration. The hot path never allocates: query slots, TCP
 * connections and buffers are preallocated at gk_net_worker_create().
 *
 * Threading: gk_net_worker_create/start/wake/stop/free and gk_worker_counters are called by one
 * control thread (the daemon's main loop). Everything else runs on the worker's own thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "common/snapshot.h"
#include "obs/obs.h"
#include "gk/errors.h"
#include "pkt/process.h"
#include "rrl/rrl.h"
#include "zone/zone.h"

/* PROXY protocol v2 (net/proxy.h): the load balancers whose headers are honoured. Every
 * datagram and connection from one of them must start with a header; from anyone else a
 * datagram that starts with one is dropped (a connection is read as plain DNS). n 0: off. */
#define GK_NET_PROXY_MAX 64u
typedef struct gk_net_proxy {
	unsigned n;
	gk_prefix_t from[GK_NET_PROXY_MAX];
} gk_net_proxy_t;

/* What workers answer from: published through gk_snapshot_t, immutable once published. */
typedef struct gk_net_view {
	const gk_zoneset_t *zs;
	gk_pkt_opts_t opts;
	gk_rrl_config_t rrl;  /* UDP response rate limiting; rrl.rate 0: off */
	gk_net_proxy_t proxy; /* PROXY v2 from load balancers; proxy.n 0: off */
} gk_net_view_t;

/* Largest UDP response we send (edns_udp_max is capped at this by the config). */
#define GK_NET_UDP_MAX 4096u
/* Largest TCP query a connection buffers; a longer one closes the connection. */
#define GK_NET_TCP_QUERY_MAX 4094u

typedef struct gk_net_addr {
	struct sockaddr_storage addr;
	socklen_t addrlen;
	const char *text; /* for logs; borrowed for the duration of gk_net_worker_create */
} gk_net_addr_t;

/* A DNS-over-TLS listener (net/tls.h): its address, context and limits. */
struct gk_tls_ctx;
typedef struct gk_net_tls {
	gk_net_addr_t addr;
	struct gk_tls_ctx *ctx;   /* borrowed; outlives the worker */
	unsigned max_connections; /* this worker's share (>= 1) */
	unsigned idle_timeout_ms;
	unsigned handshake_timeout_ms; /* from accept to the end of the handshake */
} gk_net_tls_t;

typedef void (*gk_net_notify_fn)(void *ctx, const uint8_t *msg, size_t len,
                                 const struct sockaddr *from, uint8_t *out, size_t cap,
                                 size_t *outlen);

typedef struct gk_net_params {
	const gk_net_addr_t *addrs;
	size_t n_addrs;
	unsigned tcp_max_connections; /* this worker's share of the total cap (>= 1) */
	unsigned tcp_idle_timeout_ms;
	unsigned tcp_max_pipelined; /* queued responses per connection before reads pause */
	gk_snapshot_t *view;        /* publishes const gk_net_view_t *; reader index = id */
	unsigned id;                /* worker index: 0..n-1, also the loop thread's reader index */
	gk_obs_worker_t *obs;       /* the loop thread's observation block (obs/obs.h), or NULL */
	/* Each UDP socket has a thread of its own (src/net/udp.c): socket j reads the view as
	 * reader udp_reader0 + j and observes into udp_obs[j] (udp_obs NULL: none). */
	unsigned udp_reader0;
	gk_obs_worker_t *const *udp_obs;
	/* NOTIFY (opcode 4) requests go here instead of the packet path when set (secondary
	 * zones, xfr/secondary.h): it writes the response to out (*outlen 0: none). Called on
	 * the query threads; must not block. */
	gk_net_notify_fn notify;
	void *notify_ctx;
	/* Keys of each UDP socket's rate-limiting table (rrl/rrl.h); 0: no table, so the
	 * view's rrl settings are ignored. */
	unsigned rrl_table_size;
	/* DNS-over-TLS listeners (n_tls 0: none), answered on the worker's loop like TCP. */
	const gk_net_tls_t *tls;
	size_t n_tls;
	/* Backend pools of the forwarded zones (front/conf.h), or NULL: no relay. Borrowed:
	 * outlives the worker. A query the packet path hands over (GK_PKT_FORWARD) goes to the
	 * worker's relay (front/fwd.h), which sends our EDNS limit edns_udp_max to backends. */
	const struct gk_front_conf *front;
	uint16_t edns_udp_max;
	/* Cache parts of the whole process's relays (workers x (GK_FRONT_UDP_PARTS x n_addrs +
	 * 1)): each pool's cache_size is divided among them, every relay having a cache of its
	 * own (gk_front_fwd_cache_share). */
	unsigned front_cache_parts;
	/* Wake-up coalescing of the UDP threads (udp.c): after a wake-up that read under half a
	 * batch, sleep this many microseconds before reading again; 0: never. */
	unsigned udp_linger_us;
	/* The UDP threads run this many nice levels above the process (setpriority at their
	 * start, before privileges are dropped); 0: as the rest. */
	unsigned udp_priority;
} gk_net_params_t;

/* Counters: gk_net_counters_t (obs/obs.h, which exports them): the front end's own
 * (connections, sends, rate limiting, PROXY headers); what every query counts is obs's
 * (gk_obs_counters_t), counted once in gk_obs_query. Each block has one writer (the worker's
 * loop, or one of its UDP threads: common/counter.h); gk_net_worker_counters_read sums a
 * worker's blocks, while it runs or after gk_net_worker_stop(). */

typedef struct gk_worker gk_worker_t;

/* Create worker p->id: binds its sockets (SO_REUSEPORT; worker 0 first checks that no other
 * socket holds an address, so a second daemon on the same port fails with -EADDRINUSE),
 * preallocates slots and connections, and prepares its loop. Nothing runs until
 * gk_net_worker_start(). On failure nothing is left open or allocated, and err holds one line
 * naming the address. Returns 0, GK_ENOMEM or -errno from socket/bind/listen (e.g. -EADDRINUSE). */
GK_MUST_CHECK int gk_net_worker_create(const gk_net_params_t *p, gk_worker_t **out, char *err,
                                       size_t errlen);

/* Start the worker's thread. Returns 0 or -errno. */
GK_MUST_CHECK int gk_net_worker_start(gk_worker_t *w);

/* Make the worker run one loop iteration soon (so it passes a quiescent point). Any thread
 * after start; async-signal-unsafe. */
void gk_net_worker_wake(gk_worker_t *w);

/* Ask the worker to close every handle and wait for its thread to end. Idempotent; a worker
 * never started is fine. */
void gk_net_worker_stop(gk_worker_t *w);

/* Free a stopped (or never started) worker. NULL is ignored. */
void gk_net_worker_free(gk_worker_t *w);

/* The worker's relays (front/fwd.h: counters and pool figures, any thread) into out[0..max):
 * its loop's (TCP and TLS clients) and one per UDP socket's thread. Returns how many (0: no
 * front end). */
struct gk_fwd;
size_t gk_net_worker_fwds(const gk_worker_t *w, struct gk_fwd **out, size_t max);

/* Add this worker's counters into *sum: relaxed atomic loads, so no value is torn; while
 * the worker runs (metrics scrape) values may be a moment old. Main thread, any time
 * between gk_net_worker_create and gk_net_worker_free. */
void gk_net_worker_counters_read(const gk_worker_t *w, gk_net_counters_t *sum);
