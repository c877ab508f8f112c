/* SPDX-License-Identifier: MIT */
/* src/net/udp.c -- UDP: recvmmsg in, gk_pkt_process, sendmmsg out, on a uv_poll handle.
 *
 * libuv 1.44's own UDP path costs two extra syscalls per wake-up (an epoll_ctl to arm and
 * disarm write readiness, and a sendmmsg per queued burst), and a copy and a request per
 * reply. Here a readable socket is drained in batches of UDP_BATCH: one recvmmsg, every
 * query answered straight into its own output buffer, one sendmmsg. Nothing is allocated
 * after gk_net_udp_init. A reply the kernel will not take now (EAGAIN) is dropped and
 * counted: the client retries, as it would after any UDP loss.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "common/log.h"
#include "net/internal.h"

struct udp_batch {
	struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
	struct sockaddr_storage addr[UDP_BATCH];
	uint8_t in[UDP_BATCH][UDP_IN_MAX];
	uint8_t *out; /* UDP_BATCH * GK_PKT_OUT_MAX: only the bytes written are ever touched */
};

int gk_net_udp_init(struct gk_worker *w)
{
	w->ub = calloc(1, sizeof(*w->ub));
	if (w->ub == NULL)
		return GK_ENOMEM;
	w->ub->out = malloc((size_t)UDP_BATCH * GK_PKT_OUT_MAX);
	if (w->ub->out == NULL) {
		free(w->ub);
		w->ub = NULL;
		return GK_ENOMEM;
	}
	/* The receive headers are set up once: recvmmsg writes back only msg_len, msg_namelen
	 * and msg_flags, and poll_cb restores msg_namelen of the entries a call filled.
	 * (Rebuilding all UDP_BATCH headers before every call cost ~600 instructions per
	 * query at 2,000 qps, when a wake-up brings one or two datagrams.) */
	struct udp_batch *b = w->ub;
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		b->riov[i] = (struct iovec){b->in[i], UDP_IN_MAX};
		b->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &b->addr[i],
		                                     .msg_namelen = sizeof(b->addr[i]),
		                                     .msg_iov = &b->riov[i],
		                                     .msg_iovlen = 1};
	}
	return 0;
}

void gk_net_udp_free(struct gk_worker *w)
{
	if (w->ub)
		free(w->ub->out);
	free(w->ub);
	w->ub = NULL;
}

/* Send replies [0, k): a failing datagram is skipped, EAGAIN drops the rest. */
static void send_all(struct gk_worker *w, int fd, unsigned k)
{
	struct udp_batch *b = w->ub;
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
			w->ctr.send_errors += k - sent;
			return;
		}
		w->ctr.send_errors++;
		sent++;
	}
}

static void poll_cb(uv_poll_t *h, int status, int events)
{
	struct udp_sock *u = h->data;
	struct gk_worker *w = u->w;
	struct udp_batch *b = w->ub;
	(void)events;
	if (status < 0)
		return;
	for (unsigned round = 0; round < UDP_ROUNDS; round++) {
		int n = recvmmsg(u->fd, b->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			return; /* drained (EAGAIN) or a transient error: wait for the next wake-up
			         */
		const gk_net_view_t *v = gk_snapshot_read(w->view);
		uint64_t t0 = gk_obs_batch_begin(w->obs);
		unsigned k = 0, seen = 0;
		for (int i = 0; i < n; i++) {
			w->ctr.udp_queries++;
			if (b->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				w->ctr.dropped++; /* larger than any query we accept */
				continue;
			}
			uint8_t *o = b->out + (size_t)k * GK_PKT_OUT_MAX;
			gk_pkt_result_t res = {0};
			gk_pkt_outcome_t oc = gk_pkt_process(v->zs, &v->opts, GK_PKT_UDP, b->in[i],
			                                     b->rmsg[i].msg_len, o, &res);
			gk_obs_query(w->obs, GK_PKT_UDP, oc, &res, b->in[i], b->rmsg[i].msg_len, o,
			             (const struct sockaddr *)&b->addr[i]);
			seen++;
			if (oc != GK_PKT_ANSWER) {
				w->ctr.dropped++;
				continue;
			}
			gk_net_count(w, &res);
			b->siov[k] = (struct iovec){o, res.len};
			b->smsg[k].msg_hdr =
			    (struct msghdr){.msg_name = &b->addr[i],
			                    .msg_namelen = b->rmsg[i].msg_hdr.msg_namelen,
			                    .msg_iov = &b->siov[k],
			                    .msg_iovlen = 1};
			k++;
		}
		gk_obs_batch_end(w->obs, t0, seen);
		send_all(w, u->fd, k);
		for (int i = 0; i < n; i++) /* the replies are sent: the addresses are free again */
			b->rmsg[i].msg_hdr.msg_namelen = sizeof(b->addr[i]);
		if ((unsigned)n < UDP_BATCH)
			return; /* the socket is empty: no need to ask again */
	}
}

int gk_net_udp_start(struct gk_worker *w, struct udp_sock *u)
{
	u->w = w;
	int rc = uv_poll_init(&w->loop, &u->h, u->fd);
	if (rc != 0)
		return rc;
	u->h.data = u;
	return uv_poll_start(&u->h, UV_READABLE, poll_cb);
}
