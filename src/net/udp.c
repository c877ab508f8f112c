/* SPDX-License-Identifier: MIT */
/* src/net/udp.c -- UDP: batched receive (UV_UDP_RECVMMSG), replies queued from the callback.
 *
 * DEPS.md measured uv_udp_send from inside the receive callback (libuv queues the sends
 * while it is processing a receive and flushes them with sendmmsg) as fast as a raw
 * recvmmsg/sendmmsg loop under bursts, so that is what we do. Each reply needs a send
 * request and a buffer that live until the send callback: both come from a per-worker slot
 * pool; when it is empty the reply is dropped and counted.
 */
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "net/internal.h"

int gk_net_udp_init(struct gk_worker *w)
{
	w->rbuf = malloc((size_t)UDP_CHUNK * UDP_BATCH);
	w->udp_slots = calloc(UDP_SEND_SLOTS, sizeof(*w->udp_slots));
	if (w->rbuf == NULL || w->udp_slots == NULL)
		return GK_ENOMEM;
	for (unsigned i = 0; i < UDP_SEND_SLOTS; i++) {
		w->udp_slots[i].w = w;
		w->udp_slots[i].next_free = w->udp_free;
		w->udp_free = &w->udp_slots[i];
	}
	return 0;
}

void gk_net_udp_free(struct gk_worker *w)
{
	free(w->rbuf);
	free(w->udp_slots);
}

/* The worker's single receive buffer: callbacks consume every datagram before libuv asks
 * again, so one buffer per worker is enough (a buffer < 64 KiB would make 1.44 spin). */
static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct udp_sock *u = h->data;
	*buf = uv_buf_init((char *)u->w->rbuf, UDP_CHUNK * UDP_BATCH);
}

static void send_cb(uv_udp_send_t *req, int status)
{
	struct udp_slot *s = (struct udp_slot *)req;
	struct gk_worker *w = s->w;
	if (status < 0 && status != UV_ECANCELED)
		w->ctr.send_errors++;
	s->next_free = w->udp_free;
	w->udp_free = s;
}

static void recv_cb(uv_udp_t *h, ssize_t nread, const uv_buf_t *buf, const struct sockaddr *addr,
                    unsigned flags)
{
	struct udp_sock *u = h->data;
	struct gk_worker *w = u->w;
	if (nread <= 0 || addr == NULL || (flags & UV_UDP_PARTIAL))
		return; /* nothing more, MMSG_FREE of our static buffer, an error, or truncated */
	w->ctr.udp_queries++;
	const gk_net_view_t *v = gk_snapshot_read(w->view);
	gk_pkt_result_t res;
	gk_pkt_outcome_t o = gk_pkt_process(v->zs, &v->opts, GK_PKT_UDP, (const uint8_t *)buf->base,
	                                    (size_t)nread, w->out, &res);
	if (o != GK_PKT_ANSWER) {
		w->ctr.dropped++;
		return;
	}
	gk_net_count(w, &res);
	struct udp_slot *s = w->udp_free;
	if (s == NULL || res.len > GK_NET_UDP_MAX) {
		w->ctr.send_errors++;
		return;
	}
	w->udp_free = s->next_free;
	memcpy(s->buf, w->out, res.len);
	uv_buf_t out = uv_buf_init((char *)s->buf, (unsigned)res.len);
	int rc = uv_udp_send(&s->req, h, &out, 1, addr, send_cb);
	if (rc != 0) {
		w->ctr.send_errors++;
		s->next_free = w->udp_free;
		w->udp_free = s;
	}
}

int gk_net_udp_start(struct gk_worker *w, struct udp_sock *u)
{
	u->w = w;
	int rc = uv_udp_init_ex(&w->loop, &u->h, AF_UNSPEC | UV_UDP_RECVMMSG);
	if (rc != 0)
		return rc;
	u->h.data = u;
	rc = uv_udp_open(&u->h, u->fd);
	if (rc == 0) {
		u->fd = -1; /* owned by the handle now */
		rc = uv_udp_recv_start(&u->h, alloc_cb, recv_cb);
	}
	return rc;
}
