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
	for (unsigned i = w->max_conns; i-- > 0;) {
		w->conns[i].w = w;
		w->conns[i].next_free = w->conn_free;
		w->conn_free = &w->conns[i];
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

/* --- activity list --- */

static void touch(struct conn *c)
{
	c->last_active = uv_now(&c->w->loop);
	gk_net_list_remove(&c->w->lru, &c->lru);
	gk_net_list_append(&c->w->lru, &c->lru);
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
		if (!c->closing)
			pump(c); /* may queue itself again */
	}
}

/* --- connection lifetime --- */

static void accept_one(struct tcp_listener *l);

static void conn_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;
	struct gk_worker *w = c->w;
	c->open = c->closing = false;
	c->next_free = w->conn_free;
	w->conn_free = c;
	w->n_open--;
	w->n_closing--;
	if (w->stopped)
		return;
	for (size_t i = 0; i < w->n_addrs && w->conn_free != NULL; i++) {
		if (w->tcp[i].pending) {
			w->tcp[i].pending = false;
			accept_one(&w->tcp[i]);
		}
	}
}

static void conn_close(struct conn *c)
{
	if (c->closing)
		return;
	c->closing = true;
	c->w->n_closing++;
	gk_net_list_remove(&c->w->lru, &c->lru);
	wait_remove(c->w, c);
	uv_close((uv_handle_t *)&c->h, conn_close_cb);
}

static bool conn_idle(const gk_net_link_t *x)
{
	const struct conn *c = GK_NET_ENTRY(x, struct conn, lru);
	return c->queued == 0 && c->rlen == 0;
}

/* At the cap: close the least recently active connection that has nothing queued (or the
 * least recently active one) unless enough closes are already under way. */
static void evict_one(struct gk_worker *w)
{
	unsigned pending = 0;
	for (size_t i = 0; i < w->n_addrs; i++)
		pending += w->tcp[i].pending;
	if (w->n_closing >= pending)
		return; /* enough connections are closing already */
	gk_net_link_t *victim = gk_net_evict_pick(&w->lru, conn_idle);
	if (victim == NULL)
		return;
	gk_counter_inc(&w->ctr.tcp_evicted);
	conn_close(GK_NET_ENTRY(victim, struct conn, lru));
}

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
		touch(c);
		pump(c);
	} else if (nread == UV_EOF) {
		c->eof = true;
		pump(c);
	} else if (nread < 0) {
		conn_close(c);
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
	if (!c->closing) {
		if (status < 0) {
			conn_close(c);
		} else {
			touch(c);
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
	gk_tcp_frame_prefix(len, prefix);
	uv_buf_t bufs[2] = {uv_buf_init((char *)prefix, 2), uv_buf_init((char *)w->out, len)};
	int n = uv_try_write((uv_stream_t *)&c->h, bufs, 2);
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
	int rc = uv_write(&s->req, (uv_stream_t *)&c->h, &b, 1, write_cb);
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
	if (c->proxy_wait && !c->closing) {
		/* a balancer's connection: its PROXY header (net/proxy.h) names the client */
		gk_proxy_t px;
		int r = gk_proxy_parse(c->rbuf, c->rlen, &px);
		if (r < 0 || (r == 0 && (c->eof || c->rlen >= GK_PROXY_HDR_MAX))) {
			gk_counter_inc(&w->ctr.proxy_malformed);
			conn_close(c);
			return;
		}
		if (r > 0) {
			off = (size_t)r;
			c->proxy_wait = false;
			gk_counter_inc(&w->ctr.proxy_accepted);
			if (px.has_addr)
				c->peer = px.src;
		}
	}
	while (!c->proxy_wait && !c->closing && c->queued + c->fwd_pending < w->max_pipelined) {
		const uint8_t *msg;
		size_t mlen, used;
		gk_tcp_frame_t f = gk_tcp_frame_next(c->rbuf + off, c->rlen - off,
		                                     GK_NET_TCP_QUERY_MAX, &msg, &mlen, &used);
		if (f == GK_TCP_FRAME_MORE)
			break;
		if (f == GK_TCP_FRAME_TOO_BIG) {
			gk_counter_inc(&w->ctr.tcp_oversize);
			conn_close(c);
			return;
		}
		if (gk_net_is_notify(w, msg, mlen)) {
			size_t ol = 0;
			if (c->peer.ss_family == 0) { /* not asked at accept without a log */
				int plen = sizeof(c->peer);
				if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &plen) !=
				    0)
					c->peer.ss_family = 0;
			}
			/* family 0 (peer unknown) matches no primary: refused */
			w->notify(w->notify_ctx, msg, mlen, (const struct sockaddr *)&c->peer,
			          w->out, GK_PKT_OUT_MAX, &ol);
			if (ol > 0 && send_response(c, ol) != 0) {
				conn_close(c);
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
			             c->peer.ss_family ? (const struct sockaddr *)&c->peer : NULL);
			gk_obs_batch_end(w->obs, t0, 1);
			off += used;
			c->fwd_pending++;
			if (c->peer.ss_family == 0) { /* the client, for EDNS Client Subnet */
				int plen = sizeof(c->peer);
				if (uv_tcp_getpeername(&c->h, (struct sockaddr *)&c->peer, &plen) !=
				    0)
					c->peer.ss_family = 0;
			}
			gk_fwd_submit(w->fwd, msg, &res,
			              c->peer.ss_family ? (const struct sockaddr *)&c->peer : NULL,
			              fwd_deliver, w, c, c->gen);
			continue;
		}
		if (oc != GK_PKT_ANSWER) {
			gk_obs_query(w->obs, GK_PKT_TCP, oc, &res, msg, mlen, w->out,
			             c->peer.ss_family ? (const struct sockaddr *)&c->peer : NULL);
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
		             c->peer.ss_family ? (const struct sockaddr *)&c->peer : NULL);
		gk_obs_batch_end(w->obs, t0, 1);
		if (rc < 0) {
			conn_close(c);
			return;
		}
		off += used;
	}
	if (c->closing)
		return;
	if (off > 0) {
		memmove(c->rbuf, c->rbuf + off, c->rlen - off);
		c->rlen -= (uint32_t)off;
	}
	bool want = !c->eof && !c->waiting && c->queued + c->fwd_pending < w->max_pipelined &&
	            c->rlen < TCP_RBUF;
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->h, conn_alloc_cb, read_cb) != 0) {
			conn_close(c);
			return;
		}
		c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->h);
		c->reading = false;
	}
	/* Client finished sending: close once everything answerable has been written. */
	if (c->eof && c->queued == 0 && c->fwd_pending == 0 && !c->waiting)
		conn_close(c);
}

/* The relay's answer (front/fwd.h) for connection conn as it was at generation gen. */
static void fwd_deliver(void *ctx, void *conn, uint64_t gen, const uint8_t *msg, size_t len)
{
	struct gk_worker *w = ctx;
	struct conn *c = conn;
	if (!c->open || c->closing || c->gen != gen)
		return; /* closed meanwhile (its slot may serve another client now) */
	c->fwd_pending--;
	memcpy(w->out, msg, len);
	int rc = send_response(c, len);
	if (rc == 1) {
		gk_counter_inc(&w->ctr.send_errors); /* no write slot: the client asks again */
	} else if (rc < 0) {
		conn_close(c);
		return;
	}
	if (!c->pumping)
		pump(c);
}

static void accept_one(struct tcp_listener *l)
{
	struct gk_worker *w = l->w;
	struct conn *c = w->conn_free;
	if (c == NULL) {
		l->pending = true;
		evict_one(w);
		return;
	}
	if (uv_tcp_init(&w->loop, &c->h) != 0)
		return;
	w->conn_free = c->next_free;
	c->h.data = c;
	c->open = true;
	c->closing = c->eof = c->reading = c->waiting = false;
	c->queued = c->rlen = c->fwd_pending = 0;
	c->gen++;
	c->lru.prev = c->lru.next = NULL;
	c->wait_next = NULL;
	w->n_open++;
	c->last_active = uv_now(&w->loop);
	gk_net_list_append(&w->lru, &c->lru);
	if (uv_accept((uv_stream_t *)&l->h, (uv_stream_t *)&c->h) != 0) {
		conn_close(c);
		return;
	}
	gk_counter_inc(&w->ctr.tcp_accepted);
	c->proxy_wait = gk_net_accept_peer(w, &c->h, &c->peer);
	uv_tcp_nodelay(&c->h, 1);
	pump(c); /* starts reading */
}

static void on_connection(uv_stream_t *server, int status)
{
	struct tcp_listener *l = server->data;
	if (status < 0) {
		gk_log(GK_LOG_DEBUG, "worker %u: accept: %s", l->w->id, uv_strerror(status));
		return;
	}
	accept_one(l);
}

int gk_net_tcp_start(struct gk_worker *w, struct tcp_listener *l)
{
	l->w = w;
	int rc = uv_tcp_init(&w->loop, &l->h);
	if (rc != 0)
		return rc;
	l->h.data = l;
	rc = uv_tcp_open(&l->h, l->fd);
	if (rc != 0)
		return rc;
	l->fd = -1;
	return uv_listen((uv_stream_t *)&l->h, 1024, on_connection);
}

void gk_net_tcp_idle_tick(uv_timer_t *t)
{
	struct gk_worker *w = t->data;
	uint64_t now = uv_now(&w->loop);
	struct conn *c;
	while (w->lru.head != NULL &&
	       now - (c = GK_NET_ENTRY(w->lru.head, struct conn, lru))->last_active >= w->idle_ms) {
		gk_counter_inc(&w->ctr.tcp_idle_closed);
		conn_close(c);
	}
}

void gk_net_tcp_close_all(struct gk_worker *w)
{
	while (w->lru.head != NULL)
		conn_close(GK_NET_ENTRY(w->lru.head, struct conn, lru));
	w->wait_head = w->wait_tail = NULL;
}
