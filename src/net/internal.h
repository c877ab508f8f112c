/* SPDX-License-Identifier: MIT */
/* src/net/internal.h -- worker, UDP slot and TCP connection layouts shared by the src/net sources.
 *
 * Everything here belongs to one worker thread, except what gk_net_worker_create() sets up on
 * the control thread before the worker starts (handed over by thread creation).
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include "common/counter.h"
#include "net/net.h"

/* UDP: datagrams per recvmmsg/sendmmsg, largest query accepted. */
#define UDP_BATCH  32u
#define UDP_IN_MAX 4096u
/* A UDP thread waits at most this long in recvmmsg before it passes a quiescent point and
 * looks at udp_stop. */
#define UDP_WAIT_MS 100u

/* TCP write slots: most responses fit a small one; large ones (up to 64 KiB) are rare. */
#define TCP_SMALL_CAP   (2u + 4096u)
#define TCP_LARGE_CAP   (2u + 65535u)
#define TCP_LARGE_SLOTS 16u
#define TCP_RBUF        (2u + GK_NET_TCP_QUERY_MAX)

struct gk_worker;

struct udp_batch;

/* A UDP socket and the thread that serves it (udp.c). */
struct udp_sock {
	struct gk_worker *w;
	int fd;               /* blocking, with a receive timeout; closed after the thread */
	unsigned reader;      /* snapshot reader index of the thread */
	gk_obs_worker_t *obs; /* the thread's observation block, or NULL */
	struct udp_batch *ub; /* recvmmsg/sendmmsg vectors and buffers */
	gk_rrl_t *rrl;        /* the thread's rate-limiting table, or NULL */
	uv_thread_t thread;
	uv_sem_t *started; /* posted by the thread once named and at its priority (udp.c) */
	bool running;
	bool forwarded;        /* queries given to the relay in this batch */
	gk_net_counters_t ctr; /* written by the thread only */
	/* front end (forwarded zones): the thread runs a libuv loop of its own, with the socket
	 * non-blocking under a poll handle and a relay of its own (front/fwd.h), so a
	 * forwarded query is relayed by the thread that read it (gk_net_udp_front) */
	uv_loop_t *loop; /* or NULL: the blocking recvmmsg loop */
	struct gk_fwd *fwd;
	uv_poll_t poll;
	uv_timer_t tick; /* every UDP_WAIT_MS: a quiescent point, udp_stop seen */
	uv_async_t stop;
	uint64_t rx; /* client datagrams read by the loop (wake-up coalescing, udp.c) */
};

/* --- what TCP and TLS connections share (tcp.c, tls_conn.c) --- */

/* An intrusive list of connections, oldest first: by last activity (the idle timeout and
 * eviction at the cap close from its head), or by accept time. A link not on the list has
 * both pointers NULL. Loop thread. */
typedef struct gk_net_link {
	struct gk_net_link *prev, *next;
} gk_net_link_t;
typedef struct gk_net_list {
	gk_net_link_t *head, *tail;
} gk_net_list_t;

#define GK_NET_ENTRY(link, type, member) ((type *)((char *)(link)-offsetof(type, member)))

/* Take x off l (nothing when it is not on it). */
static inline void gk_net_list_remove(gk_net_list_t *l, gk_net_link_t *x)
{
	if (x->prev != NULL)
		x->prev->next = x->next;
	else if (l->head == x)
		l->head = x->next;
	if (x->next != NULL)
		x->next->prev = x->prev;
	else if (l->tail == x)
		l->tail = x->prev;
	x->prev = x->next = NULL;
}

/* Put x (not on l) at the tail of l. */
static inline void gk_net_list_append(gk_net_list_t *l, gk_net_link_t *x)
{
	x->prev = l->tail;
	x->next = NULL;
	if (l->tail != NULL)
		l->tail->next = x;
	else
		l->head = x;
	l->tail = x;
}

/* The connection core (conn.c): a pool of connections of one kind (TCP in tcp.c, TLS in
 * tls_conn.c) on a worker's loop with its listeners: accept (a full pool evicts one and
 * accepts in that one's close callback), the activity list, close, eviction at the cap.
 * The kind embeds gk_net_conn_t first in its connection and gk_net_listener_t first in its
 * listener, and says through gk_net_pool_ops_t what is its own. Loop thread. */
struct gk_net_pool;

typedef struct gk_net_conn {
	uv_tcp_t h; /* h.data: the connection (this, the kind's struct at the same address) */
	struct gk_net_pool *pool;
	gk_net_link_t lru;             /* open list by last activity (head: least recent) */
	struct gk_net_conn *next_free; /* the pool's free list */
	uint64_t last_active;          /* uv_now() at accept and at gk_net_conn_touch */
	uint64_t gen;                  /* bumped at every accept: a relayed answer for an earlier
	                                  connection in this slot is dropped */
	struct sockaddr_storage peer;  /* client address, for the decision log (family 0: not
	                                  asked: no log configured) */
	bool closing;                  /* uv_close under way */
	bool proxy_wait;               /* from a configured balancer: its PROXY header first */
} gk_net_conn_t;

typedef struct gk_net_listener {
	uv_tcp_t h;
	struct gk_net_pool *pool;
	struct gk_net_listener *next; /* the pool's listeners */
	int fd;                       /* until gk_net_listener_start takes it; then -1 */
	bool pending;                 /* a connection waits in accept: the pool was full */
} gk_net_listener_t;

typedef struct gk_net_pool_ops {
	/* c was accepted on l: on the activity list, counted, peer and proxy_wait set. Reset
	 * the kind's own state and start reading; may close c. */
	void (*accepted)(gk_net_conn_t *c, gk_net_listener_t *l);
	/* c starts closing (once): take it off the kind's own lists. */
	void (*closing)(gk_net_conn_t *c);
	/* c's handle is closed, before c returns to the free list: free what the kind holds. */
	void (*closed)(gk_net_conn_t *c);
	/* nothing queued or buffered: eviction at the cap prefers such a connection */
	bool (*idle)(const gk_net_conn_t *c);
} gk_net_pool_ops_t;

typedef struct gk_net_pool {
	struct gk_worker *w;
	const gk_net_pool_ops_t *ops;
	const char *what;             /* "tcp" or "tls", for the log */
	gk_net_list_t lru;            /* open connections by last activity */
	gk_net_conn_t *free;          /* closed connections */
	gk_net_listener_t *listeners; /* started listeners */
	unsigned n_open, n_closing;   /* accepted and not yet closed; of those, closing */
	uint64_t *accepted, *evicted; /* counters (the worker's) */
} gk_net_pool_t;

/* An empty pool of worker w (no connection, no listener). */
void gk_net_pool_init(gk_net_pool_t *p, struct gk_worker *w, const gk_net_pool_ops_t *ops,
                      const char *what, uint64_t *accepted, uint64_t *evicted);
/* Put connection c (zeroed, or closed) on p's free list. */
void gk_net_pool_add(gk_net_pool_t *p, gk_net_conn_t *c);
/* Listen on l->fd (taken: -1 after) on p's worker loop; l joins p's listeners. Returns 0 or
 * a libuv error (l->fd then kept for the caller to close when libuv never took it). */
int gk_net_listener_start(gk_net_pool_t *p, gk_net_listener_t *l);
/* Activity on c: now, and to the tail of the activity list. */
void gk_net_conn_touch(gk_net_conn_t *c);
/* Close c (nothing when it is closing already): off the activity list and the kind's
 * lists, uv_close; back on the free list in the close callback, which then completes a
 * waiting accept. At the cap an accept evicts: among the first 64 on the activity list the
 * least recently active idle connection, else the least recently active one, unless enough
 * closes are under way already. */
void gk_net_conn_close(gk_net_conn_t *c);
/* Close every open connection. */
void gk_net_pool_close_all(gk_net_pool_t *p);

/* A new connection h of worker w: its peer address into *peer (family 0 when not needed or
 * unknown: one getpeername only with a decision log or PROXY balancers configured), and
 * whether a PROXY v2 header must come first (the peer is a configured balancer). */
bool gk_net_accept_peer(struct gk_worker *w, uv_tcp_t *h, struct sockaddr_storage *peer);

struct wslot {
	uv_write_t req;
	struct wslot *next_free;
	struct conn *c;
	uint8_t *data;
	uint32_t cap;
};

struct conn {
	gk_net_conn_t nc; /* first: the core's part (last_active: last read or completed write) */
	struct gk_worker *w;
	struct conn *wait_next; /* list of connections waiting for a write slot */
	uint32_t queued;        /* responses held in write slots */
	uint32_t rlen;          /* bytes in rbuf */
	bool open, eof, reading, waiting;
	bool pumping;         /* in pump() (tcp.c) */
	uint32_t fwd_pending; /* queries with the relay (front/fwd.h), answers to come */
	uint8_t rbuf[TCP_RBUF];
};

struct gk_worker {
	uv_loop_t loop;
	uv_thread_t thread;
	bool started, stopped, loop_ready;
	unsigned id;
	gk_snapshot_t *view;
	uv_async_t stop_async;
	uv_async_t wake_async;
	uv_prepare_t quiesce;
	uv_timer_t idle_timer;

	size_t n_addrs;
	struct udp_sock *udp;
	gk_net_listener_t *tcp; /* TCP listeners, one an address */

	/* UDP: set to stop the sockets' threads (each sees it within UDP_WAIT_MS) */
	_Atomic bool udp_stop;
	unsigned udp_linger_us; /* wake-up coalescing (udp.c); 0: off */
	unsigned udp_priority;  /* nice levels above the process (udp.c); 0: none */

	/* TCP */
	unsigned max_conns, idle_ms, max_pipelined;
	struct conn *conns;
	gk_net_pool_t pool; /* struct conn: free, open by last activity, listeners */
	struct conn *wait_head, *wait_tail;
	struct wslot *wslots;
	uint8_t *wmem;
	struct wslot *small_free, *large_free;

	uint8_t out[GK_PKT_OUT_MAX]; /* gk_pkt_process scratch */
	gk_net_counters_t ctr;
	gk_obs_worker_t *obs;    /* counters, latency, decision log (obs/obs.h); NULL: none */
	gk_net_notify_fn notify; /* NOTIFY handler (net.h), or NULL */
	void *notify_ctx;
	struct tls_worker *tls; /* DNS over TLS (tls_conn.c), or NULL: no TLS listener */
	struct gk_fwd *fwd;     /* the relay of forwarded zones (front/fwd.h), or NULL */
};

/* A NOTIFY request (opcode 4, QR clear) the notify handler takes. */
static inline bool gk_net_is_notify(const struct gk_worker *w, const uint8_t *m, size_t len)
{
	return w->notify && len >= 12 && (m[2] & 0xf8) == (4 << 3);
}

/* listen.c: bound non-blocking sockets. Return an fd or -errno. */
int gk_net_udp_socket(const struct sockaddr *sa, socklen_t len);
int gk_net_tcp_socket(const struct sockaddr *sa, socklen_t len);
/* Bind and close a socket of type without SO_REUSEPORT: fails with -EADDRINUSE when any
 * process (another gatekeeperd included) holds the address, which SO_REUSEPORT alone would
 * silently share with it. Returns 0 or -errno. */
int gk_net_probe(const struct sockaddr *sa, socklen_t len, int type);

/* udp.c */
int gk_net_udp_init(struct gk_worker *w);  /* buffers, socket options; 0 or an error */
int gk_net_udp_start(struct udp_sock *u);  /* its thread, running at its priority on return */
void gk_net_udp_stop(struct gk_worker *w); /* join every thread */
void gk_net_udp_free(struct gk_worker *w);
/* Front end (conf not NULL): a loop and a relay per UDP socket, after gk_net_udp_init;
 * cache_parts: the cache parts of the process (gk_front_fwd_new). 0, or an error with err set. */
int gk_net_udp_front(struct gk_worker *w, const struct gk_front_conf *conf, uint16_t edns_udp_max,
                     unsigned cache_parts, char *err, size_t errlen);
/* worker.c: the relay fwd logs its backend traffic to the dnstap ring of the thread whose
 * observation block is obs, when the log has `forwarded` (else nothing). */
struct gk_fwd;
void gk_net_fwd_tap_set(struct gk_fwd *fwd, gk_obs_worker_t *obs);

/* A relay's packet options (front/fwd.h gk_front_fwd_set_opts): those of the view the
 * worker ctx publishes, read on the relay's loop thread (a reader of the view: valid until
 * its next quiescent point, after the callback). */
const gk_pkt_opts_t *gk_net_view_opts(void *ctx);
/* Close the UDP threads' loops (threads joined or never started); before the fds close. */
void gk_net_udp_close_loops(struct gk_worker *w);

/* tcp.c */
int gk_net_tcp_init(struct gk_worker *w); /* pools; 0 or GK_ENOMEM */
int gk_net_tcp_start(struct gk_worker *w, gk_net_listener_t *l);
void gk_net_tcp_close_all(struct gk_worker *w);
void gk_net_tcp_idle_tick(uv_timer_t *t);
void gk_net_tcp_free(struct gk_worker *w);

/* tls_conn.c: DNS over TLS. start binds p->tls's sockets and listens on the worker's loop
 * (loop initialised; 0 or an error, err set); close_all closes every connection (loop
 * thread, or control thread before/after the loop runs); free closes what libuv never took
 * and frees the pools (loop closed). */
int gk_net_tls_start(struct gk_worker *w, const gk_net_params_t *p, char *err, size_t errlen);
void gk_net_tls_close_all(struct gk_worker *w);
void gk_net_tls_free(struct gk_worker *w);
