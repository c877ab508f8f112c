/* SPDX-License-Identifier: MIT */
/* src/net/udp.c -- UDP: a thread per socket, blocking in recvmmsg, gk_pkt_process, sendmmsg.
 *
 * Each UDP socket of a worker is served by a thread of its own that blocks in recvmmsg
 * (MSG_WAITFORONE: it returns with whatever has arrived once one datagram has), answers
 * every query straight into its own output buffer, and sends them with one sendmmsg: two
 * syscalls per wake-up. The worker's libuv loop keeps TCP, timers and signals. Under epoll
 * (a uv_poll handle, as before) a wake-up cost a third syscall, epoll_wait, plus the loop's
 * own turn; measured on the bench VM at 1M domains, interleaved pairs against that build:
 * server CPU at 20,000 qps 0.946x, median latency 0.963x, closed-loop peak 1.042x qps.
 * libuv's own UDP path costs more still (an epoll_ctl to arm and disarm write readiness, a
 * copy and a request per reply).
 *
 * The socket has a receive timeout of UDP_WAIT_MS: an idle thread wakes that often to pass
 * a quiescent point (so an old view is freed within UDP_WAIT_MS of the last thread's read)
 * and to see udp_stop. Each thread has its own snapshot reader index, observation block and
 * counters, so nothing is shared with the loop thread. Nothing is allocated after
 * gk_net_udp_init. A reply the kernel will not take now (EAGAIN) is dropped and counted:
 * the client retries, as it would after any UDP loss. With rate_limit on, each response is
 * passed once to the thread's own rate-limiting table (rrl/rrl.h) with the class and
 * source name the packet path reported: sent, cut to a truncated slip response, or dropped.
 *
 * Front end (forwarded zones configured): the thread runs a libuv loop of its own instead,
 * with the socket non-blocking under a poll handle (recvmmsg per readiness, the same
 * handle() and sendmmsg), a tick timer of UDP_WAIT_MS for the quiescent point and
 * udp_stop, and a relay of its own (front/fwd.h) on that loop: a forwarded query goes to
 * the cache or a backend from the thread that read it, and the backends' answers come back
 * on it. The epoll turn is the price of having the relay's sockets and timers there.
 *
 * Wake-ups are coalesced in the authoritative loop (not the front end's), as a NIC's
 * interrupt moderation does: after a wake-up that brought fewer than UDP_LINGER_BELOW
 * datagrams the thread sleeps udp_linger_us (config, default 100; 0: off) before it reads
 * again, so what arrives meanwhile is read in one call instead of costing a wake-up each.
 * On the bench VM a wake-up (the switch in and out of a halted or busy CPU) costs about
 * 10 us of the server's CPU, more than answering a DO=1 query: at 20,000 qps (bench dnssec,
 * NSEC3) a thread answering each datagram as it came spent ~18 us a query, one woken for
 * ten or more 7.5-9. The linger adds at most udp_linger_us to the wait of a datagram that
 * arrives during it; a thread that reads half a batch or more (near its peak) never
 * lingers. Measured against the same build without it, six interleaved pairs of 4 s at
 * 20,000 DO=1 qps on a loaded machine: CPU per query 0.75x [0.68-1.05], context switches
 * 0.67x.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "common/log.h"
#include "common/thread.h"
#include "net/internal.h"
#include "common/proxy.h"
#include "front/fwd.h"

struct udp_batch {
	struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
	struct sockaddr_storage addr[UDP_BATCH];
	uint8_t in[UDP_BATCH][UDP_IN_MAX];
	uint8_t *out; /* UDP_BATCH * GK_PKT_OUT_MAX: only the bytes written are ever touched */
};

static struct udp_batch *batch_new(void)
{
	struct udp_batch *b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->out = malloc((size_t)UDP_BATCH * GK_PKT_OUT_MAX);
	if (b->out == NULL) {
		free(b);
		return NULL;
	}
	/* The receive headers are set up once: recvmmsg writes back only msg_len, msg_namelen
	 * and msg_flags, and handle() restores msg_namelen of the entries a call filled.
	 * (Rebuilding all UDP_BATCH headers before every call cost ~600 instructions per
	 * query at 2,000 qps, when a wake-up brings one or two datagrams.) */
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		b->riov[i] = (struct iovec){b->in[i], UDP_IN_MAX};
		b->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &b->addr[i],
		                                     .msg_namelen = sizeof(b->addr[i]),
		                                     .msg_iov = &b->riov[i],
		                                     .msg_iovlen = 1};
	}
	return b;
}

int gk_net_udp_init(struct gk_worker *w)
{
	for (size_t i = 0; i < w->n_addrs; i++) {
		struct udp_sock *u = &w->udp[i];
		u->w = w;
		if ((u->ub = batch_new()) == NULL)
			return GK_ENOMEM;
		/* blocking, but never for longer than UDP_WAIT_MS */
		int fl = fcntl(u->fd, F_GETFL);
		struct timeval tv = {0, (long)UDP_WAIT_MS * 1000};
		if (fl < 0 || fcntl(u->fd, F_SETFL, fl & ~O_NONBLOCK) != 0 ||
		    setsockopt(u->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0)
			return -errno;
	}
	return 0;
}

void gk_net_udp_free(struct gk_worker *w)
{
	for (size_t i = 0; w->udp != NULL && i < w->n_addrs; i++) {
		gk_front_fwd_free(w->udp[i].fwd); /* its handles were closed with the loop */
		w->udp[i].fwd = NULL;
		gk_rrl_free(w->udp[i].rrl);
		w->udp[i].rrl = NULL;
		if (w->udp[i].ub)
			free(w->udp[i].ub->out);
		free(w->udp[i].ub);
		w->udp[i].ub = NULL;
	}
}

/* Send replies [0, k): a failing datagram is skipped, EAGAIN drops the rest. */
static void send_all(struct udp_sock *u, unsigned k)
{
	struct udp_batch *b = u->ub;
	int fd = u->fd;
	unsigned sent = 0;
	while (sent < k) {
		int r = sendmmsg(fd, b->smsg + sent, k - sent, MSG_DONTWAIT);
		if (r > 0) {
			sent += (unsigned)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			gk_counter_add(&u->ctr.send_errors, k - sent);
			return;
		}
		gk_counter_inc(&u->ctr.send_errors);
		sent++;
	}
}

/* Rate limiting (rrl/rrl.h) of the response o[0..res->len) to sa: true to send it (as it is,
 * or cut to the slip response), false to drop it. */
static bool rrl_pass(struct udp_sock *u, const gk_net_view_t *v, const struct sockaddr *sa,
                     uint8_t *o, gk_pkt_result_t *res, uint32_t now)
{
	if (gk_rrl_exempt(&v->rrl, sa))
		return true;
	const uint8_t *name = NULL;
	size_t nlen = 0;
	if (res->qend > 12) {
		nlen = (size_t)res->qend - 16u - res->rrl_off;
		name = o + 12 + res->rrl_off;
	}
	switch (
	    gk_rrl_check(u->rrl, &v->rrl, sa, (gk_rrl_class_t)res->rrl_class, name, nlen, now)) {
	case GK_RRL_PASS:
		return true;
	case GK_RRL_SLIP:
		gk_counter_inc(&u->ctr.rrl_limited);
		gk_counter_inc(&u->ctr.rrl_slipped);
		res->len = gk_rrl_truncate(o, res->len, res->qend);
		res->tc = true;
		return true;
	default:
		gk_counter_inc(&u->ctr.rrl_limited);
		gk_counter_inc(&u->ctr.rrl_dropped);
		return false;
	}
}

/* Rate limiting of an answer the thread's relay sends a UDP client (front/fwd.h
 * gk_fwd_limit_fn): the same table, settings and counters as the thread's own answers. */
static int relay_limit(void *ctx, const struct sockaddr *client, unsigned cls, const uint8_t *name,
                       size_t nlen)
{
	struct udp_sock *u = ctx;
	const gk_net_view_t *v = gk_snapshot_read(u->w->view);
	if (v->rrl.rate == 0 || gk_rrl_exempt(&v->rrl, client))
		return 0;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	switch (gk_rrl_check(u->rrl, &v->rrl, client, (gk_rrl_class_t)cls, name, nlen,
	                     (uint32_t)ts.tv_sec)) {
	case GK_RRL_PASS:
		return 0;
	case GK_RRL_SLIP:
		gk_counter_inc(&u->ctr.rrl_limited);
		gk_counter_inc(&u->ctr.rrl_slipped);
		return 1;
	default:
		gk_counter_inc(&u->ctr.rrl_limited);
		gk_counter_inc(&u->ctr.rrl_dropped);
		return 2;
	}
}

/* PROXY v2 (net/proxy.h) on datagram *q (*qlen octets) from peer: from a configured balancer
 * the header is taken off and *client becomes the client it names (in real); from anyone
 * else a datagram that starts with one is refused. False: drop the datagram. */
static bool proxy_take(struct udp_sock *u, const gk_net_view_t *v, const struct sockaddr *peer,
                       const uint8_t **q, size_t *qlen, const struct sockaddr **client,
                       struct sockaddr_storage *real)
{
	if (!gk_prefix_match(v->proxy.from, v->proxy.n, peer)) {
		if (*qlen >= GK_PROXY_SIG_LEN && gk_proxy_maybe(*q, *qlen)) {
			gk_counter_inc(&u->ctr.proxy_refused);
			return false;
		}
		return true;
	}
	gk_proxy_t px;
	int r = gk_proxy_parse(*q, *qlen, &px);
	if (r <= 0) { /* a datagram holds all of it or none */
		gk_counter_inc(&u->ctr.proxy_malformed);
		return false;
	}
	gk_counter_inc(&u->ctr.proxy_accepted);
	*q += r;
	*qlen -= (size_t)r;
	if (px.has_addr) {
		*real = px.src;
		*client = (const struct sockaddr *)real;
	}
	return true;
}

/* Answer datagram i of u's batch into the next free reply slot (*k). now: seconds of the
 * batch's monotonic clock, for rate limiting. Returns 0 for a datagram too large to be
 * looked at, else 1. */
static unsigned answer(struct udp_sock *u, const gk_net_view_t *v, int i, unsigned *k,
                       const gk_pkt_hint_t *hint, uint32_t now)
{
	struct udp_batch *b = u->ub;
	if (b->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
		gk_counter_inc(&u->ctr.udp_oversize); /* larger than any query we accept */
		return 0;
	}
	uint8_t *o = b->out + (size_t)*k * GK_PKT_OUT_MAX;
	const uint8_t *q = b->in[i];
	size_t qlen = b->rmsg[i].msg_len;
	/* the client: the sender, or the one a balancer's PROXY header names (the reply still
	 * goes to the sender) */
	const struct sockaddr *client = (const struct sockaddr *)&b->addr[i];
	struct sockaddr_storage real;
	if (v->proxy.n && !proxy_take(u, v, client, &q, &qlen, &client, &real))
		return 1;
	gk_pkt_result_t res = {0};
	if (gk_net_is_notify(u->w, q, qlen)) {
		size_t ol = 0;
		u->w->notify(u->w->notify_ctx, q, qlen, client, o, 512, &ol);
		if (ol == 0)
			return 1;
		res.len = ol;
	} else {
		gk_pkt_outcome_t oc =
		    gk_pkt_process_hint(v->zs, &v->opts, GK_PKT_UDP, q, qlen, o, &res, hint);
		gk_obs_query(u->obs, GK_PKT_UDP, oc, &res, q, qlen, o, client);
		if (oc == GK_PKT_FORWARD && u->fwd) {
			/* this thread's relay: the answer goes to the sender */
			gk_front_fwd_udp(u->fwd, q, &res, u->fd,
			                 (const struct sockaddr *)&b->addr[i],
			                 b->rmsg[i].msg_hdr.msg_namelen, client);
			u->forwarded = true;
			return 1;
		}
		if (oc != GK_PKT_ANSWER)
			return 1;
		if (v->rrl.rate && u->rrl && !rrl_pass(u, v, client, o, &res, now))
			return 1;
	}
	b->siov[*k] = (struct iovec){o, res.len};
	b->smsg[*k].msg_hdr = (struct msghdr){.msg_name = &b->addr[i],
	                                      .msg_namelen = b->rmsg[i].msg_hdr.msg_namelen,
	                                      .msg_iov = &b->siov[*k],
	                                      .msg_iovlen = 1};
	(*k)++;
	return 1;
}

/* Queries between two prefetch stages of one query (process.h): stage 0 runs
 * GK_PKT_PREFETCH_STAGES * PF_GAP queries ahead of the answer, the last stage PF_GAP ahead.
 * Measured at closed-loop peak (full batches of 32) against the same build without the
 * pipeline: 1.023x qps [1.011-1.043] (bench/ab.sh peak 20). With a gap of 1 it gained nothing: a
 * line asked for one query earlier had not yet arrived when the next stage needed it. A batch of no
 * more than PF_LEAD datagrams (light load: one or two per wake-up) gains nothing either, as the
 * stages would run back to back, and is answered without it. */
#define PF_GAP  4
#define PF_LEAD (GK_PKT_PREFETCH_STAGES * PF_GAP)

/* Wake-up coalescing (above): a wake-up that read fewer datagrams than this is followed by
 * a sleep of the worker's udp_linger_us microseconds (timer slack UDP_LINGER_SLACK_NS). */
#define UDP_LINGER_BELOW    (UDP_BATCH / 2u)
#define UDP_LINGER_SLACK_NS 10000ul

/* Answer the n datagrams recvmmsg put in u's batch. */
static void handle(struct udp_sock *u, int n)
{
	struct gk_worker *w = u->w;
	struct udp_batch *b = u->ub;
	const gk_net_view_t *v = gk_snapshot_read(w->view);
	uint64_t t0 = gk_obs_batch_begin(u->obs);
	unsigned k = 0, seen = 0;
	gk_pkt_hint_t h[UDP_BATCH];
	uint32_t now = 0;
	if (v->rrl.rate) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
		now = (uint32_t)ts.tv_sec;
	}
	/* with PROXY headers the prefetch stages would read the header as the question */
	if (n <= PF_LEAD || v->proxy.n) {
		for (int i = 0; i < n; i++)
			seen += answer(u, v, i, &k, NULL, now);
	} else {
		for (int i = 0; i < n + PF_LEAD; i++) {
			for (int s = 0; s < GK_PKT_PREFETCH_STAGES; s++) {
				int j = i - s * PF_GAP;
				if (j >= 0 && j < n)
					gk_pkt_prefetch(v->zs, (unsigned)s, b->in[j],
					                b->rmsg[j].msg_len, &h[j]);
			}
			if (i >= PF_LEAD)
				seen += answer(u, v, i - PF_LEAD, &k, &h[i - PF_LEAD], now);
		}
	}
	gk_obs_batch_end(u->obs, t0, seen);
	send_all(u, k);
	if (u->forwarded) {
		u->forwarded = false;
		gk_front_fwd_flush(u->fwd); /* cache hits and SERVFAILs of this batch */
	}
	for (int i = 0; i < n; i++) /* the replies are sent: the addresses are free again */
		b->rmsg[i].msg_hdr.msg_namelen = sizeof(b->addr[i]);
}

/* ---- front end: the thread's own loop ------------------------------------------------ */

/* Datagrams read per readiness callback, in batches of UDP_BATCH: then the relay's
 * callbacks (backend answers, timeouts) get their turn. */
#define LOOP_BUDGET 8u

static void loop_read_cb(uv_poll_t *h, int status, int events)
{
	struct udp_sock *u = h->data;
	struct gk_worker *w = u->w;
	if (atomic_load_explicit(&w->udp_stop, memory_order_relaxed)) {
		uv_stop(u->loop);
		return;
	}
	if (status < 0) /* POLLERR: libuv stopped the handle */
		(void)uv_poll_start(&u->poll, UV_READABLE, loop_read_cb);
	(void)events;
	for (unsigned k = 0; k < LOOP_BUDGET; k++) {
		int n = recvmmsg(u->fd, u->ub->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		u->rx += (unsigned)n;
		handle(u, n);
		/* drained (level-triggered: more wakes us again; the linger, if any, is run_loop's)
		 */
		if ((unsigned)n < UDP_BATCH)
			break;
	}
	gk_snapshot_quiescent(w->view, u->reader);
}

static void loop_tick_cb(uv_timer_t *t)
{
	struct udp_sock *u = t->data;
	if (atomic_load_explicit(&u->w->udp_stop, memory_order_relaxed))
		uv_stop(u->loop);
	gk_snapshot_quiescent(u->w->view, u->reader);
}

static void loop_stop_cb(uv_async_t *a)
{
	struct udp_sock *u = a->data;
	uv_stop(u->loop);
}

static void loop_close_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

int gk_net_udp_front(struct gk_worker *w, const struct gk_front_conf *conf, uint16_t edns_udp_max,
                     unsigned cache_parts, char *err, size_t errlen)
{
	for (size_t i = 0; i < w->n_addrs; i++) {
		struct udp_sock *u = &w->udp[i];
		int rc;
		if ((u->loop = calloc(1, sizeof(*u->loop))) == NULL) {
			snprintf(err, errlen, "worker %u: out of memory", w->id);
			return GK_ENOMEM;
		}
		if ((rc = uv_loop_init(u->loop)) != 0) {
			free(u->loop);
			u->loop = NULL;
			goto uverr;
		}
		int fl = fcntl(u->fd, F_GETFL);
		if (fl < 0 || fcntl(u->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
			snprintf(err, errlen, "worker %u: udp: %s", w->id, strerror(errno));
			return -errno;
		}
		u->poll.data = u->tick.data = u->stop.data = u;
		if ((rc = uv_poll_init(u->loop, &u->poll, u->fd)) != 0 ||
		    (rc = uv_poll_start(&u->poll, UV_READABLE, loop_read_cb)) != 0 ||
		    (rc = uv_timer_init(u->loop, &u->tick)) != 0 ||
		    (rc = uv_timer_start(&u->tick, loop_tick_cb, UDP_WAIT_MS, UDP_WAIT_MS)) != 0 ||
		    (rc = uv_async_init(u->loop, &u->stop, loop_stop_cb)) != 0)
			goto uverr;
		if ((rc = gk_front_fwd_new(u->loop, conf, edns_udp_max, cache_parts,
		                           GK_FRONT_UDP_PARTS, &u->fwd, err, errlen)) != 0)
			return rc;
		gk_net_fwd_tap_set(u->fwd, u->obs);
		if (u->rrl)
			gk_front_fwd_set_limit(u->fwd, relay_limit, u);
		gk_front_fwd_set_opts(u->fwd, gk_net_view_opts, u->w);
		continue;
	uverr:
		snprintf(err, errlen, "worker %u: udp: libuv: %s", w->id, uv_strerror(rc));
		return rc;
	}
	return 0;
}

void gk_net_udp_close_loops(struct gk_worker *w)
{
	for (size_t i = 0; w->udp != NULL && i < w->n_addrs; i++) {
		struct udp_sock *u = &w->udp[i];
		if (u->loop == NULL)
			continue;
		uv_walk(u->loop, loop_close_cb, NULL);
		uv_run(u->loop, UV_RUN_DEFAULT);
		if (uv_loop_close(u->loop) != 0)
			gk_log(GK_LOG_ERR, "worker %u: udp loop still busy at close", w->id);
		free(u->loop);
		u->loop = NULL;
	}
}

/* The query path before the process's background work (discovery's merges and Redis
 * writes, the status replica, the main loop) and a redis-server on the same core: a thread
 * woken while one of those runs waits for the scheduler's wake-up granularity (about a
 * millisecond) unless it has the higher weight. udp_priority nice levels above the process,
 * set once at the thread's start; refused (no root, no CAP_SYS_NICE): logged once, as the
 * rest. */
static void raise_priority(struct gk_worker *w)
{
	static atomic_bool told;
	if (w->udp_priority == 0)
		return;
	pid_t tid = gettid();
	errno = 0;
	int base = getpriority(PRIO_PROCESS, (id_t)tid);
	if (base == -1 && errno != 0)
		return;
	int want = base - (int)w->udp_priority;
	if (want < -20)
		want = -20;
	if (setpriority(PRIO_PROCESS, (id_t)tid, want) != 0 && !atomic_exchange(&told, true))
		gk_log(
		    GK_LOG_INFO,
		    "udp_priority: the UDP threads stay at nice %d (setpriority %d: %s; needs root "
		    "or CAP_SYS_NICE)",
		    base, want, strerror(errno));
}

/* One wake-up coalescing sleep (both loops), counted. */
static void linger_sleep(struct udp_sock *u, const struct timespec *t)
{
	gk_counter_inc(&u->ctr.udp_lingers);
	(void)nanosleep(t, NULL);
}

/* The front end's loop. With udp_linger_us, wake-ups are coalesced over the loop's turns:
 * a turn that read at least one datagram but fewer than UDP_LINGER_BELOW (client queries and
 * backend answers together) is followed by a sleep of udp_linger_us, then a turn that does
 * not wait (epoll_wait with timeout 0); a turn that read nothing goes back to waiting. What
 * arrives during the sleep -- queries, the backends' answers to the queries just sent -- is
 * read in that next turn, one wake-up for all of it, and the backends' queries and clients'
 * answers go out in one sendmmsg each. A turn near the peak reads half a batch or more and
 * never sleeps. */
static void run_loop(struct udp_sock *u)
{
	struct gk_worker *w = u->w;
	if (w->udp_linger_us == 0) {
		uv_run(u->loop, UV_RUN_DEFAULT);
		return;
	}
	const struct timespec linger = {0, (long)w->udp_linger_us * 1000};
	uv_run_mode mode = UV_RUN_ONCE;
	while (!atomic_load_explicit(&w->udp_stop, memory_order_relaxed)) {
		uint64_t before = u->rx + gk_front_fwd_rx(u->fwd);
		if (uv_run(u->loop, mode) == 0)
			break;
		uint64_t got = u->rx + gk_front_fwd_rx(u->fwd) - before;
		if (got == 0) {
			mode = UV_RUN_ONCE;
			continue;
		}
		if (got < UDP_LINGER_BELOW)
			linger_sleep(u, &linger);
		mode = UV_RUN_NOWAIT;
	}
}

static void run(void *arg)
{
	struct udp_sock *u = arg;
	struct gk_worker *w = u->w;
	char name[16];
	snprintf(name, sizeof(name), "gk-udp-%u-%u", w->id, (unsigned)(u - w->udp));
	gk_thread_name(name);
	raise_priority(w);
	uv_sem_post(u->started); /* gk_net_udp_start returns: u->started is gone after this */
	/* the default slack (50 us) would stretch each linger by half again */
	if (w->udp_linger_us != 0)
		(void)prctl(PR_SET_TIMERSLACK, UDP_LINGER_SLACK_NS, 0, 0, 0);
	if (u->loop != NULL) {
		run_loop(u);
		return;
	}
	const struct timespec linger = {0, (long)w->udp_linger_us * 1000};
	while (!atomic_load_explicit(&w->udp_stop, memory_order_relaxed)) {
		int n = recvmmsg(u->fd, u->ub->rmsg, UDP_BATCH, MSG_WAITFORONE, NULL);
		/* stopping: after shutdown(SHUT_RD) every further entry of this call reads as an
		 * empty datagram, which must not be answered or counted */
		if (atomic_load_explicit(&w->udp_stop, memory_order_relaxed))
			break;
		if (n > 0) {
			handle(u, n);
			if (w->udp_linger_us != 0 && (unsigned)n < UDP_LINGER_BELOW)
				linger_sleep(u, &linger);
		}
		/* else: the timeout (EAGAIN), EINTR, or a transient error such as an ICMP
		 * report on the socket: nothing to do but go on */
		gk_snapshot_quiescent(w->view, u->reader);
	}
}

int gk_net_udp_start(struct udp_sock *u)
{
	/* returns once the thread has taken its priority: the privilege drop that follows the
	 * start would make the raise fail (a thread scheduled late stayed at the process's nice) */
	uv_sem_t started;
	int rc = uv_sem_init(&started, 0);
	if (rc != 0)
		return rc;
	u->started = &started;
	rc = uv_thread_create(&u->thread, run, u);
	if (rc == 0) {
		uv_sem_wait(&started);
		u->running = true;
	}
	u->started = NULL;
	uv_sem_destroy(&started);
	return rc;
}

void gk_net_udp_stop(struct gk_worker *w)
{
	atomic_store_explicit(&w->udp_stop, true, memory_order_relaxed);
	/* Wake a thread blocked in recvmmsg now rather than at its timeout: shutdown(SHUT_RD)
	 * of an unconnected UDP socket fails with ENOTCONN but still marks it shut and wakes
	 * its sleepers (Linux inet_shutdown), and recvmmsg then returns 0. */
	for (size_t i = 0; w->udp != NULL && i < w->n_addrs; i++) {
		if (w->udp[i].running && w->udp[i].loop != NULL)
			uv_async_send(&w->udp[i].stop);
		else if (w->udp[i].running)
			(void)shutdown(w->udp[i].fd, SHUT_RD);
	}
	for (size_t i = 0; w->udp != NULL && i < w->n_addrs; i++) {
		if (w->udp[i].running)
			uv_thread_join(&w->udp[i].thread);
		w->udp[i].running = false;
	}
}
