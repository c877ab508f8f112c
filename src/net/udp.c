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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
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
		if (oc == GK_PKT_FORWARD && u->w->fwd) {
			/* the answer goes from the worker's loop to the sender */
			if (gk_fwd_push(u->w->fwd, (unsigned)(u - u->w->udp), q, &res, u->fd,
			                (const struct sockaddr *)&b->addr[i],
			                b->rmsg[i].msg_hdr.msg_namelen, client))
				u->pushed = true;
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
	if (u->pushed) {
		u->pushed = false;
		gk_fwd_kick(w->fwd);
	}
	for (int i = 0; i < n; i++) /* the replies are sent: the addresses are free again */
		b->rmsg[i].msg_hdr.msg_namelen = sizeof(b->addr[i]);
}

static void run(void *arg)
{
	struct udp_sock *u = arg;
	struct gk_worker *w = u->w;
	char name[16];
	snprintf(name, sizeof(name), "gk-udp-%u-%u", w->id, (unsigned)(u - w->udp));
	gk_thread_name(name);
	while (!atomic_load_explicit(&w->udp_stop, memory_order_relaxed)) {
		int n = recvmmsg(u->fd, u->ub->rmsg, UDP_BATCH, MSG_WAITFORONE, NULL);
		/* stopping: after shutdown(SHUT_RD) every further entry of this call reads as an
		 * empty datagram, which must not be answered or counted */
		if (atomic_load_explicit(&w->udp_stop, memory_order_relaxed))
			break;
		if (n > 0)
			handle(u, n);
		/* else: the timeout (EAGAIN), EINTR, or a transient error such as an ICMP
		 * report on the socket: nothing to do but go on */
		gk_snapshot_quiescent(w->view, u->reader);
	}
}

int gk_net_udp_start(struct udp_sock *u)
{
	int rc = uv_thread_create(&u->thread, run, u);
	if (rc == 0)
		u->running = true;
	return rc;
}

void gk_net_udp_stop(struct gk_worker *w)
{
	atomic_store_explicit(&w->udp_stop, true, memory_order_relaxed);
	/* Wake a thread blocked in recvmmsg now rather than at its timeout: shutdown(SHUT_RD)
	 * of an unconnected UDP socket fails with ENOTCONN but still marks it shut and wakes
	 * its sleepers (Linux inet_shutdown), and recvmmsg then returns 0. */
	for (size_t i = 0; w->udp != NULL && i < w->n_addrs; i++)
		if (w->udp[i].running)
			(void)shutdown(w->udp[i].fd, SHUT_RD);
	for (size_t i = 0; w->udp != NULL && i < w->n_addrs; i++) {
		if (w->udp[i].running)
			uv_thread_join(&w->udp[i].thread);
		w->udp[i].running = false;
	}
}
