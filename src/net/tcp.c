/* SPDX-License-Identifier: MIT */
/* src/net/tcp.c -- DNS over TCP (RFC 7766): pooled connections, framing, limits.
 *
 * Each connection has a bounded read buffer; messages are answered as soon as they are
 * complete (pipelining), each with a uv_try_write first. Only a response the socket does not
 * take at once is copied into a write slot from a per-worker pool; a connection holding
 * max_pipelined slots, or finding no free slot, stops reading until a write completes
 * (unanswered messages stay buffered and are answered later: gk_pkt_process is pure).
 *
 * All open connections sit on one list ordered by last activity. The idle timer closes
 * from its head; at the connection cap the least recently active connection with nothing
 * queued is closed and the waiting accept completes in that connection's close callback.
 */
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "net/internal.h"
#include "common/proxy.h"
#include "net/tcp_frame.h"
#include "front/fwd.h"

static void pump(struct conn *c);
static const gk_net_pool_ops_t tcp_ops;
static void fwd_deliver(void *ctx, void *conn, uint64_t gen, const uint8_t *msg, size_t len);

static unsigned small_slots(const struct gk_worker *w)
{
	unsigned n = w->max_conns < 64 ? 64 : w->max_conns;
	return n > 1024 ? 1024 : n;
}

int gk_net_tcp_init(struct gk_worker *w)
{
	unsigned ns = small_slots(w), nl = TCP_LARGE_SLOTS;
	w->conns = calloc(w->max_conns, sizeof(*w->conns));
	w->wslots = calloc(ns + nl, sizeof(*w->wslots));
	w->wmem = malloc((size_t)ns * TCP_SMALL_CAP + (size_t)nl * TCP_LARGE_CAP);
	if (w->conns == NULL || w->wslots == NULL || w->wmem == NULL)
		return GK_ENOMEM;
	gk_net_pool_init(&w->pool, w, &tcp_ops, "tcp", &w->ctr.tcp_accepted, &w->ctr.tcp_evicted);
	for (unsigned i = w->max_conns; i-- > 0;) {
		w->conns[i].w = w;
		gk_net_pool_add(&w->pool, &w->conns[i].nc);
	}
	uint8_t *p = w->wmem;
	for (unsigned i = 0; i < ns + nl; i++) {
		struct wslot *s = &w->wslots[i];
		s->data = p;
		s->cap = i < ns ? TCP_SMALL_CAP : TCP_LARGE_CAP;
		p += s->cap;
		struct wslot **fl = i < ns ? &w->small_free : &w->large_free;
		s->next_free = *fl;
		*fl = s;
	}
	return 0;
}

void gk_net_tcp_free(struct gk_worker *w)
{
	free(w->conns);
	free(w->wslots);
	free(w->wmem);
}

/* --- waiting for a write slot --- */

static void wait_add(struct gk_worker *w, struct conn *c)
{
	if (c->waiting)
		return;
	c->waiting = true;
	c->wait_next = NULL;
	if (w->wait_tail != NULL)
		w->wait_tail->wait_next = c;
	else
		w->wait_head = c;
	w->wait_tail = c;
}

static void wait_remove(struct gk_worker *w, struct conn *c)
{
	if (!c->waiting)
		return;
	struct conn *prev = NULL;
	for (struct conn *x = w->wait_head; x != NULL; prev = x, x = x->wait_next) {
		if (x != c)
			continue;
		if (prev != NULL)
			prev->wait_next = x->wait_next;
		else
			w->wait_head = x->wait_next;
		if (w->wait_tail == x)
			w->wait_tail = prev;
		break;
	}
	c->waiting = false;
}

static void resume_waiters(struct gk_worker *w)
{
	struct conn *list = w->wait_head;
	w->wait_head = w->wait_tail = NULL;
	while (list != NULL) {
		struct conn *c = list;
		list = c->wait_next;
		c->waiting = false;
		if (!c->nc.closing)
			pump(c); /* may queue itself again */
	}
}

/* --- connection lifetime (the core in conn.c; what is TCP's own here) --- */

static void tcp_closing(gk_net_conn_t *nc)
{
	struct conn *c = (struct conn *)nc;
	wait_remove(c->w, c);
}

static void tcp_closed(gk_net_conn_t *nc)
{
	((struct conn *)nc)->open = false;
}

static bool tcp_idle(const gk_net_conn_t *nc)
{
	const struct conn *c = (const struct conn *)nc;
	return c->queued == 0 && c->rlen == 0;
}

static void tcp_accepted(gk_net_conn_t *nc, gk_net_listener_t *l)
{
	(void)l;
	struct conn *c = (struct conn *)nc;
	c->open = true;
	c->eof = c->reading = c->waiting = false;
	c->queued = c->rlen = c->fwd_pending = 0;
	c->wait_next = NULL;
	pump(c); /* starts reading */
}

static const gk_net_pool_ops_t tcp_ops = {
    .accepted = tcp_accepted, .closing = tcp_closing, .closed = tcp_closed, .idle = tcp_idle};

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct conn *c = h->data;
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, TCP_RBUF - c->rlen);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	(void)buf;
	struct conn *c = s->data;
	if (nread > 0) {
		c->rlen += (uint32_t)nread;
		gk_net_conn_touch(&c->nc);
		pump(c);
	} else if (nread == UV_EOF) {
		c->eof = true;
		pump(c);
	} else if (nread < 0) {
		gk_net_conn_close(&c->nc);
	}
}

static void write_cb(uv_write_t *req, int status)
{
	struct wslot *s = (struct wslot *)req;
	struct conn *c = s->c;
	struct gk_worker *w = c->w;
	struct wslot **fl = s->cap == TCP_SMALL_CAP ? &w->small_free : &w->large_free;
	s->next_free = *fl;
	*fl = s;
	c->queued--;
	if (!c->nc.closing) {
		if (status < 0) {
			gk_net_conn_close(&c->nc);
		} else {
			gk_net_conn_touch(&c->nc);
			pump(c);
		}
	}
	if (!w->stopped)
		resume_waiters(w);
}

/* Send prefix+response: try_write, and queue what the socket did not take. Returns 0, 1 if
 * no slot is free (nothing sent; try again later) or a libuv error (close). */
static int send_response(struct conn *c, size_t len)
{
	struct gk_worker *w = c->w;
	size_t total = 2 + len;
	struct wslot **fl = total <= TCP_SMALL_CAP ? &w->small_free : &w->large_free;
	if (*fl == NULL)
		return 1;
	uint8_t prefix[2];
	gk_net_tcp_frame_prefix(len, prefix);
	uv_buf_t bufs[2] = {uv_buf_init((char *)prefix, 2), uv_buf_init((char *)w->out, len)};
	int n = uv_try_write((uv_stream_t *)&c->nc.h, bufs, 2);
	if (n < 0 && n != UV_EAGAIN)
		return n;
	size_t done = n < 0 ? 0 : (size_t)n;
	if (done == total)
		return 0;
	struct wslot *s = *fl;
	*fl = s->next_free;
	s->c = c;
	size_t off = 0;
	if (done < 2) {
		memcpy(s->data, prefix + done, 2 - done);
		off = 2 - done;
		done = 2;
	}
	memcpy(s->data + off, w->out + (done - 2), total - done);
	uv_buf_t b = uv_buf_init((char *)s->data, (unsigned)(off + total - done));
	int rc = uv_write(&s->req, (uv_stream_t *)&c->nc.h, &b, 1, write_cb);
	if (rc != 0) {
		s->next_free = *fl;
		*fl = s;
		return rc;
	}
	c->queued++;
	return 0;
}

/* Answer every complete buffered message the limits allow, then decide about reading. */
static void pump_(struct conn *c);

/* pump_ with re-entry noted: a relayed answer delivered while pumping (a cache hit,
 * front/fwd.h) must not pump again from inside the loop over the buffer. */
static void pump(struct conn *c)
{
	c->pumping = true;
	pump_(c);
	c->pumping = false;
}

static void pump_(struct conn *c)
{
	struct gk_worker *w = c->w;
	size_t off = 0;
	if (c->nc.proxy_wait && !c->nc.closing) {
		/* a balancer's connection: its PROXY header (net/proxy.h) names the client */
		gk_proxy_t px;
		int r = gk_proxy_parse(c->rbuf, c->rlen, &px);
		if (r < 0 || (r == 0 && (c->eof || c->rlen >= GK_PROXY_HDR_MAX))) {
			gk_counter_inc(&w->ctr.proxy_malformed);
			gk_net_conn_close(&c->nc);
			return;
		}
		if (r > 0) {
			off = (size_t)r;
			c->nc.proxy_wait = false;
			gk_counter_inc(&w->ctr.proxy_accepted);
			if (px.has_addr)
				c->nc.peer = px.src;
		}
	}
	while (!c->nc.proxy_wait && !c->nc.closing &&
	       c->queued + c->fwd_pending < w->max_pipelined) {
		const uint8_t *msg;
		size_t mlen, used;
		gk_tcp_frame_t f = gk_net_tcp_frame_next(c->rbuf + off, c->rlen - off,
		                                         GK_NET_TCP_QUERY_MAX, &msg, &mlen, &used);
		if (f == GK_TCP_FRAME_MORE)
			break;
		if (f == GK_TCP_FRAME_TOO_BIG) {
			gk_counter_inc(&w->ctr.tcp_oversize);
			gk_net_conn_close(&c->nc);
			return;
		}
		if (gk_net_is_notify(w, msg, mlen)) {
			size_t ol = 0;
			if (c->nc.peer.ss_family == 0) { /* not asked at accept without a log */
				int plen = sizeof(c->nc.peer);
				if (uv_tcp_getpeername(&c->nc.h, (struct sockaddr *)&c->nc.peer,
				                       &plen) != 0)
					c->nc.peer.ss_family = 0;
			}
			/* family 0 (peer unknown) matches no primary: refused */
			w->notify(w->notify_ctx, msg, mlen, (const struct sockaddr *)&c->nc.peer,
			          w->out, GK_PKT_OUT_MAX, &ol);
			if (ol > 0 && send_response(c, ol) != 0) {
				gk_net_conn_close(&c->nc);
				return;
			}
			off += used;
			continue;
		}
		const gk_net_view_t *v = gk_snapshot_read(w->view);
		gk_pkt_result_t res = {0};
		/* TCP times each message alone: the write below is a syscall, not packet path */
		uint64_t t0 = gk_obs_batch_begin(w->obs);
		gk_pkt_outcome_t oc =
		    gk_pkt_process(v->zs, &v->opts, GK_PKT_TCP, msg, mlen, w->out, &res);
		if (oc == GK_PKT_FORWARD && w->fwd) {
			gk_obs_query(w->obs, GK_PKT_TCP, oc, &res, msg, mlen, w->out,
			             c->nc.peer.ss_family ? (const struct sockaddr *)&c->nc.peer
			                                  : NULL);
			gk_obs_batch_end(w->obs, t0, 1);
			off += used;
			c->fwd_pending++;
			if (c->nc.peer.ss_family == 0) { /* the client, for EDNS Client Subnet */
				int plen = sizeof(c->nc.peer);
				if (uv_tcp_getpeername(&c->nc.h, (struct sockaddr *)&c->nc.peer,
				                       &plen) != 0)
					c->nc.peer.ss_family = 0;
			}
			gk_front_fwd_submit(
			    w->fwd, msg, &res,
			    c->nc.peer.ss_family ? (const struct sockaddr *)&c->nc.peer : NULL,
			    fwd_deliver, w, c, c->nc.gen);
			continue;
		}
		if (oc != GK_PKT_ANSWER) {
			gk_obs_query(w->obs, GK_PKT_TCP, oc, &res, msg, mlen, w->out,
			             c->nc.peer.ss_family ? (const struct sockaddr *)&c->nc.peer
			                                  : NULL);
			gk_obs_batch_end(w->obs, t0, 1);
			off += used;
			continue;
		}
		int rc = send_response(c, res.len);
		if (rc == 1) {
			wait_add(w, c); /* answered again once a slot frees: observed then */
			break;
		}
		gk_obs_query(w->obs, GK_PKT_TCP, oc, &res, msg, mlen, w->out,
		             c->nc.peer.ss_family ? (const struct sockaddr *)&c->nc.peer : NULL);
		gk_obs_batch_end(w->obs, t0, 1);
		if (rc < 0) {
			gk_net_conn_close(&c->nc);
			return;
		}
		off += used;
	}
	if (c->nc.closing)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= (uint32_t)off;
	}
	bool want = !c->eof && !c->waiting && c->queued + c->fwd_pending < w->max_pipelined &&
	            c->rlen < TCP_RBUF;
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->nc.h, conn_alloc_cb, read_cb) != 0) {
			gk_net_conn_close(&c->nc);
			return;
		}
		c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->nc.h);
		c->reading = false;
	}
	/* Client finished sending: close once everything answerable has been written. */
	if (c->eof && c->queued == 0 && c->fwd_pending == 0 && !c->waiting)
		gk_net_conn_close(&c->nc);
}

/* The relay's answer (front/fwd.h) for connection conn as it was at generation gen. */
static void fwd_deliver(void *ctx, void *conn, uint64_t gen, const uint8_t *msg, size_t len)
{
	struct gk_worker *w = ctx;
	struct conn *c = conn;
	if (!c->open || c->nc.closing || c->nc.gen != gen)
		return; /* closed meanwhile (its slot may serve another client now) */
	c->fwd_pending--;
	memcpy(w->out, msg, len);
	int rc = send_response(c, len);
	if (rc == 1) {
		gk_counter_inc(&w->ctr.send_errors); /* no write slot: the client asks again */
	} else if (rc < 0) {
		gk_net_conn_close(&c->nc);
		return;
	}
	if (!c->pumping)
		pump(c);
}

int gk_net_tcp_start(struct gk_worker *w, gk_net_listener_t *l)
{
	return gk_net_listener_start(&w->pool, l);
}

void gk_net_tcp_idle_tick(uv_timer_t *t)
{
	struct gk_worker *w = t->data;
	uint64_t now = uv_now(&w->loop);
	struct conn *c;
	while (w->pool.lru.head != NULL &&
	       now - (c = GK_NET_ENTRY(w->pool.lru.head, struct conn, nc.lru))->nc.last_active >=
	           w->idle_ms) {
		gk_counter_inc(&w->ctr.tcp_idle_closed);
		gk_net_conn_close(&c->nc);
	}
}

void gk_net_tcp_close_all(struct gk_worker *w)
{
	gk_net_pool_close_all(&w->pool);
	w->wait_head = w->wait_tail = NULL;
}
