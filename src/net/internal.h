/* SPDX-License-Identifier: MIT */
/* src/net/internal.h -- worker, UDP slot and TCP connection layouts shared by the src/net sources.
 *
 * Everything here belongs to one worker thread, except what gk_worker_create() sets up on
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

/* The connection to close at the cap: among the first 64 on the activity list lru, the
 * least recently active one that idle(link) says has nothing queued or buffered, else the
 * head (NULL when lru is empty). */
gk_net_link_t *gk_net_evict_pick(const gk_net_list_t *lru, bool (*idle)(const gk_net_link_t *));

/* A new connection h of worker w: its peer address into *peer (family 0 when not needed or
 * unknown: one getpeername only with a decision log or PROXY balancers configured), and
 * whether a PROXY v2 header must come first (the peer is a configured balancer). */
bool gk_net_accept_peer(struct gk_worker *w, uv_tcp_t *h, struct sockaddr_storage *peer);

struct tcp_listener {
	uv_tcp_t h;
	struct gk_worker *w;
	int fd;
	bool pending; /* a connection waits in accept: the pool was full */
};

struct wslot {
	uv_write_t req;
	struct wslot *next_free;
	struct conn *c;
	uint8_t *data;
	uint32_t cap;
};

struct conn {
	uv_tcp_t h;
	struct gk_worker *w;
	gk_net_link_t lru;            /* open list by last activity (head: least recent) */
	struct conn *next_free;       /* pool free list */
	struct conn *wait_next;       /* list of connections waiting for a write slot */
	uint64_t last_active;         /* uv_now() of the last read or completed write */
	struct sockaddr_storage peer; /* client address, for the decision log (family 0:
	                                 not asked: no log configured) */
	uint32_t queued;              /* responses held in write slots */
	uint32_t rlen;                /* bytes in rbuf */
	bool open, closing, eof, reading, waiting;
	bool proxy_wait;      /* from a configured balancer: its PROXY header comes first */
	bool pumping;         /* in pump() (tcp.c) */
	uint32_t fwd_pending; /* queries with the relay (front/fwd.h), answers to come */
	uint64_t gen;         /* bumped at every accept: a relayed answer for an earlier
	                         connection in this slot is dropped */
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
	struct tcp_listener *tcp;

	/* UDP: set to stop the sockets' threads (each sees it within UDP_WAIT_MS) */
	_Atomic bool udp_stop;

	/* TCP */
	unsigned max_conns, idle_ms, max_pipelined;
	struct conn *conns;
	struct conn *conn_free;
	gk_net_list_t lru; /* struct conn by last activity */
	struct conn *wait_head, *wait_tail;
	unsigned n_open, n_closing;
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
int gk_net_udp_start(struct udp_sock *u);  /* its thread */
void gk_net_udp_stop(struct gk_worker *w); /* join every thread */
void gk_net_udp_free(struct gk_worker *w);
/* Front end (conf not NULL): a loop and a relay per UDP socket, after gk_net_udp_init.
 * 0, or an error with err set. */
int gk_net_udp_front(struct gk_worker *w, const struct gk_front_conf *conf, uint16_t edns_udp_max,
                     char *err, size_t errlen);
/* Close the UDP threads' loops (threads joined or never started); before the fds close. */
void gk_net_udp_close_loops(struct gk_worker *w);

/* tcp.c */
int gk_net_tcp_init(struct gk_worker *w); /* pools; 0 or GK_ENOMEM */
int gk_net_tcp_start(struct gk_worker *w, struct tcp_listener *l);
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
