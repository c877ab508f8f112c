/* SPDX-License-Identifier: MIT */
/* src/net/tls_conn.c -- DNS over TLS (RFC 7858) connections on a worker's loop.
 *
 * The same framing, answers, pipelining, connection cap and idle timeout as TCP (tcp.c);
 * OpenSSL never touches the socket: ciphertext that libuv reads is written into a memory
 * BIO, and what OpenSSL leaves in the outgoing memory BIO is sent with uv_try_write (the
 * remainder, rarely, with uv_write from an allocated copy). A connection whose responses
 * are not being read (max_pipelined writes queued) stops reading until one completes.
 *
 * Open connections sit on two lists: by last activity (the idle timeout and eviction at
 * the cap close from its head, as TCP) and, until their handshake ends, by accept time (a
 * client that does not finish the handshake within handshake_timeout_ms is closed and
 * counted, however slowly it keeps sending). A PROXY v2 header from a configured balancer
 * precedes the TLS handshake in clear text (net/proxy.h).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include "common/log.h"
#include "net/internal.h"
#include "common/proxy.h"
#include "net/tcp_frame.h"
#include "net/tls.h"
#include "front/fwd.h"

#define TLS_IN_MAX  (16u * 1024u + 512u) /* one read: about a TLS record */
#define TLS_OUT_MAX (2u * 1024u + 2u * GK_PKT_OUT_MAX)

struct tls_listener {
	gk_net_listener_t nl; /* first: the core's part */
	struct tls_worker *tw;
	gk_tls_ctx_t *ctx;
	unsigned idle_ms, handshake_ms;
	char text[64];
};

struct tls_wreq {
	uv_write_t req;
	struct tconn *c;
	size_t len;
	uint8_t data[]; /* len bytes */
};

struct tconn {
	gk_net_conn_t nc; /* first: the core's part (activity list, generation, peer) */
	struct tls_worker *tw;
	struct tls_listener *l;
	/* from here on reset at every accept */
	gk_net_link_t hs; /* handshaking, by accept time */
	uint64_t accepted;
	SSL *ssl;
	BIO *rbio, *wbio;     /* memory BIOs: ciphertext in, ciphertext out */
	uint32_t rlen;        /* clear text in rbuf */
	uint32_t queued;      /* uv_write requests in flight */
	bool pumping;         /* in pump() */
	uint32_t fwd_pending; /* queries with the relay (front/fwd.h), answers to come */
	bool eof, reading, handshaken, in_hs, shut;
	uint8_t rbuf[TCP_RBUF];
};

struct tls_worker {
	struct gk_worker *w;
	size_t n;
	struct tls_listener *ls;
	struct tconn *conns;
	gk_net_pool_t pool; /* struct tconn: free, open by last activity, listeners */
	gk_net_list_t hs;   /* handshaking, by accept time */
	unsigned cap;
	uv_timer_t timer;
	bool timer_ready;
	uint8_t in[TLS_IN_MAX];
	uint8_t frame[2 + GK_PKT_OUT_MAX]; /* length prefix + gk_pkt_process output */
	uint8_t out[TLS_OUT_MAX];
};

static void pump(struct tconn *c);
static const gk_net_pool_ops_t tls_ops;
static void fwd_deliver(void *ctx, void *conn, uint64_t gen, const uint8_t *msg, size_t len);

/* --- lists --- */

static void hs_remove(struct tls_worker *t, struct tconn *c)
{
	if (!c->in_hs)
		return;
	gk_net_list_remove(&t->hs, &c->hs);
	c->in_hs = false;
}

static void hs_append(struct tls_worker *t, struct tconn *c)
{
	gk_net_list_append(&t->hs, &c->hs);
	c->in_hs = true;
}

/* --- lifetime (the core in conn.c; what is TLS's own here) --- */

static void tls_closing(gk_net_conn_t *nc)
{
	struct tconn *c = (struct tconn *)nc;
	hs_remove(c->tw, c);
}

static void tls_closed(gk_net_conn_t *nc)
{
	struct tconn *c = (struct tconn *)nc;
	SSL_free(c->ssl); /* frees both BIOs */
	c->ssl = NULL;
}

static bool tls_idle(const gk_net_conn_t *nc)
{
	const struct tconn *c = (const struct tconn *)nc;
	return c->queued == 0 && c->rlen == 0;
}

static void tls_accepted(gk_net_conn_t *nc, gk_net_listener_t *nl)
{
	struct tconn *c = (struct tconn *)nc;
	struct tls_listener *l = (struct tls_listener *)nl;
	struct tls_worker *t = l->tw;
	memset(&c->hs, 0, sizeof(*c) - offsetof(struct tconn, hs));
	c->tw = t;
	c->l = l;
	c->accepted = c->nc.last_active;
	hs_append(t, c);
	c->ssl = gk_net_tls_ctx_ssl_new(l->ctx);
	c->rbio = BIO_new(BIO_s_mem());
	c->wbio = BIO_new(BIO_s_mem());
	if (c->ssl == NULL || c->rbio == NULL || c->wbio == NULL) {
		BIO_free(c->rbio);
		BIO_free(c->wbio);
		c->rbio = c->wbio = NULL;
		gk_net_conn_close(&c->nc);
		return;
	}
	BIO_set_mem_eof_return(c->rbio, -1); /* empty: "retry", not end of file */
	SSL_set_bio(c->ssl, c->rbio, c->wbio);
	SSL_set_accept_state(c->ssl);
	pump(c); /* starts reading */
}

static const gk_net_pool_ops_t tls_ops = {
    .accepted = tls_accepted, .closing = tls_closing, .closed = tls_closed, .idle = tls_idle};

/* --- writes --- */

static void write_cb(uv_write_t *req, int status)
{
	struct tls_wreq *r = (struct tls_wreq *)req;
	struct tconn *c = r->c;
	free(r);
	c->queued--;
	if (c->nc.closing)
		return;
	if (status < 0) {
		gk_net_conn_close(&c->nc);
		return;
	}
	gk_net_conn_touch(&c->nc);
	pump(c);
}

/* Send everything OpenSSL wrote to the outgoing BIO. Returns 0 or a libuv error (close). */
static int flush(struct tconn *c)
{
	struct tls_worker *t = c->tw;
	for (;;) {
		int n = BIO_read(c->wbio, t->out, sizeof(t->out));
		if (n <= 0)
			return 0;
		uv_buf_t b = uv_buf_init((char *)t->out, (unsigned)n);
		int done = c->queued ? UV_EAGAIN : uv_try_write((uv_stream_t *)&c->nc.h, &b, 1);
		if (done < 0 && done != UV_EAGAIN)
			return done;
		size_t sent = done < 0 ? 0 : (size_t)done;
		if (sent == (size_t)n)
			continue;
		/* the socket is full: keep order by queueing the rest */
		struct tls_wreq *r = malloc(sizeof(*r) + (size_t)n - sent);
		if (r == NULL)
			return UV_ENOMEM;
		r->c = c;
		r->len = (size_t)n - sent;
		memcpy(r->data, t->out + sent, r->len);
		b = uv_buf_init((char *)r->data, (unsigned)r->len);
		int rc = uv_write(&r->req, (uv_stream_t *)&c->nc.h, &b, 1, write_cb);
		if (rc != 0) {
			free(r);
			return rc;
		}
		c->queued++;
	}
}

/* --- reads --- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct tconn *c = h->data;
	*buf = uv_buf_init((char *)c->tw->in, sizeof(c->tw->in));
}

/* A balancer's PROXY header, in clear text before the handshake. Returns the bytes of
 * data it used, or -1 (closed). */
static int take_proxy(struct tconn *c, const uint8_t *data, size_t len)
{
	struct gk_worker *w = c->tw->w;
	size_t room = sizeof(c->rbuf) - c->rlen;
	size_t take = len < room ? len : room;
	memcpy(c->rbuf + c->rlen, data, take);
	c->rlen += (uint32_t)take;
	gk_proxy_t px;
	int r = gk_proxy_parse(c->rbuf, c->rlen, &px);
	if (r < 0 || (r == 0 && (c->eof || c->rlen >= GK_PROXY_HDR_MAX))) {
		gk_counter_inc(&w->ctr.proxy_malformed);
		gk_net_conn_close(&c->nc);
		return -1;
	}
	if (r == 0)
		return (int)take;
	c->nc.proxy_wait = false;
	gk_counter_inc(&w->ctr.proxy_accepted);
	if (px.has_addr)
		c->nc.peer = px.src;
	/* bytes past the header are the first of the handshake */
	size_t extra = c->rlen - (size_t)r;
	size_t used = take - extra;
	c->rlen = 0;
	return (int)used;
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct tconn *c = s->data;
	if (nread < 0) {
		if (nread != UV_EOF) {
			gk_net_conn_close(&c->nc);
			return;
		}
		c->eof = true;
		pump(c);
		return;
	}
	if (nread == 0)
		return;
	const uint8_t *p = (const uint8_t *)buf->base;
	size_t len = (size_t)nread;
	if (c->nc.proxy_wait) {
		int used = take_proxy(c, p, len);
		if (used < 0)
			return;
		p += used;
		len -= (size_t)used;
	}
	if (len > 0 && BIO_write(c->rbio, p, (int)len) != (int)len) {
		gk_net_conn_close(&c->nc);
		return;
	}
	gk_net_conn_touch(&c->nc);
	pump(c);
}

/* --- the exchange --- */

static bool handshake(struct tconn *c)
{
	struct gk_worker *w = c->tw->w;
	ERR_clear_error();
	int r = SSL_do_handshake(c->ssl);
	if (r == 1) {
		c->handshaken = true;
		hs_remove(c->tw, c);
		gk_counter_inc(&w->ctr.tls_handshakes);
		if (SSL_session_reused(c->ssl))
			gk_counter_inc(&w->ctr.tls_resumed);
		return true;
	}
	int e = SSL_get_error(c->ssl, r);
	if (e == SSL_ERROR_WANT_READ && !c->eof)
		return false;
	gk_counter_inc(&w->ctr.tls_handshake_failed);
	ERR_clear_error();
	(void)flush(c); /* the alert, if the socket takes it; closed either way */
	gk_net_conn_close(&c->nc);
	return false;
}

/* Answer one message; returns false when the connection closed. */
static bool answer(struct tconn *c, const uint8_t *msg, size_t mlen)
{
	struct tls_worker *t = c->tw;
	struct gk_worker *w = t->w;
	const struct sockaddr *peer =
	    c->nc.peer.ss_family ? (const struct sockaddr *)&c->nc.peer : NULL;
	size_t len = 0;
	if (gk_net_is_notify(w, msg, mlen)) {
		w->notify(w->notify_ctx, msg, mlen, peer, t->frame + 2, GK_PKT_OUT_MAX, &len);
	} else {
		const gk_net_view_t *v = gk_snapshot_read(w->view);
		gk_pkt_result_t res = {0};
		uint64_t t0 = gk_obs_batch_begin(w->obs);
		gk_pkt_outcome_t oc =
		    gk_pkt_process(v->zs, &v->opts, GK_PKT_TCP, msg, mlen, t->frame + 2, &res);
		gk_obs_query(w->obs, GK_PKT_TCP, oc, &res, msg, mlen, t->frame + 2, peer);
		gk_obs_batch_end(w->obs, t0, 1);
		gk_counter_inc(&w->ctr.tls_queries);
		if (oc == GK_PKT_FORWARD && w->fwd) {
			c->fwd_pending++;
			gk_front_fwd_submit(w->fwd, msg, &res, peer, fwd_deliver, t, c, c->nc.gen);
			return !c->nc.closing;
		}
		if (oc != GK_PKT_ANSWER)
			return true;
		len = res.len;
	}
	if (len == 0)
		return true;
	gk_net_tcp_frame_prefix(len, t->frame);
	ERR_clear_error();
	/* memory BIO: SSL_write takes all of it at once */
	if (SSL_write(c->ssl, t->frame, (int)(2 + len)) != (int)(2 + len) || flush(c) != 0) {
		gk_net_conn_close(&c->nc);
		return false;
	}
	return true;
}

static void pump_(struct tconn *c);

/* pump_ with re-entry noted: a relayed answer delivered while pumping (a cache hit,
 * front/fwd.h) must not pump again from inside the loop over the buffer. */
static void pump(struct tconn *c)
{
	c->pumping = true;
	pump_(c);
	c->pumping = false;
}

static void pump_(struct tconn *c)
{
	struct gk_worker *w = c->tw->w;
	if (c->nc.closing)
		return;
	if (c->nc.proxy_wait && c->eof) {
		gk_counter_inc(&w->ctr.proxy_malformed);
		gk_net_conn_close(&c->nc);
		return;
	}
	if (!c->nc.proxy_wait && !c->handshaken) {
		bool done = handshake(c);
		if (c->nc.closing)
			return;
		if (flush(c) != 0) {
			gk_net_conn_close(&c->nc);
			return;
		}
		if (!done && c->eof) {
			gk_net_conn_close(&c->nc);
			return;
		}
	}
	bool closed_by_peer = false;
	while (c->handshaken && c->queued + c->fwd_pending < w->max_pipelined) {
		size_t off = 0;
		/* answer what is buffered before reading more clear text */
		for (;;) {
			const uint8_t *msg;
			size_t mlen, used;
			gk_tcp_frame_t f = gk_net_tcp_frame_next(
			    c->rbuf + off, c->rlen - off, GK_NET_TCP_QUERY_MAX, &msg, &mlen, &used);
			if (f == GK_TCP_FRAME_MORE)
				break;
			if (f == GK_TCP_FRAME_TOO_BIG) {
				gk_counter_inc(&w->ctr.tcp_oversize);
				gk_net_conn_close(&c->nc);
				return;
			}
			if (!answer(c, msg, mlen))
				return;
			off += used;
			if (c->queued + c->fwd_pending >= w->max_pipelined)
				break;
		}
		if (off > 0) {
			memmove(c->rbuf, c->rbuf + off, c->rlen - off);
			c->rlen -= (uint32_t)off;
		}
		if (c->queued + c->fwd_pending >= w->max_pipelined || c->rlen >= sizeof(c->rbuf))
			break;
		ERR_clear_error();
		int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(sizeof(c->rbuf) - c->rlen));
		if (n > 0) {
			c->rlen += (uint32_t)n;
			continue;
		}
		int e = SSL_get_error(c->ssl, n);
		if (e == SSL_ERROR_ZERO_RETURN) {
			closed_by_peer = true; /* close_notify */
		} else if (e != SSL_ERROR_WANT_READ) {
			ERR_clear_error();
			gk_net_conn_close(&c->nc);
			return;
		}
		/* SSL_read may have written (a TLS 1.3 key update's reply) */
		if (flush(c) != 0) {
			gk_net_conn_close(&c->nc);
			return;
		}
		break;
	}
	if (c->nc.closing)
		return;
	bool want = !c->eof && !closed_by_peer && c->queued + c->fwd_pending < w->max_pipelined &&
	            c->rlen < sizeof(c->rbuf);
	if (want && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->nc.h, alloc_cb, read_cb) != 0) {
			gk_net_conn_close(&c->nc);
			return;
		}
		c->reading = true;
	} else if (!want && c->reading) {
		uv_read_stop((uv_stream_t *)&c->nc.h);
		c->reading = false;
	}
	if ((c->eof || closed_by_peer) && c->queued == 0 && c->fwd_pending == 0)
		gk_net_conn_close(&c->nc);
}

/* The relay's answer (front/fwd.h) for connection conn as it was at generation gen. */
static void fwd_deliver(void *ctx, void *conn, uint64_t gen, const uint8_t *msg, size_t len)
{
	struct tls_worker *t = ctx;
	struct tconn *c = conn;
	if (c->nc.closing || c->nc.gen != gen || c->ssl == NULL)
		return; /* closed meanwhile (its slot may serve another client now) */
	c->fwd_pending--;
	memcpy(t->frame + 2, msg, len);
	gk_net_tcp_frame_prefix(len, t->frame);
	ERR_clear_error();
	if (SSL_write(c->ssl, t->frame, (int)(2 + len)) != (int)(2 + len) || flush(c) != 0) {
		gk_net_conn_close(&c->nc);
		return;
	}
	if (!c->pumping)
		pump(c);
}

/* Handshake deadlines and idle timeouts. */
static void tick(uv_timer_t *tm)
{
	struct tls_worker *t = tm->data;
	struct gk_worker *w = t->w;
	uint64_t now = uv_now(&w->loop);
	/* both lists are ordered by time, not by deadline: listeners' timeouts may differ */
	for (gk_net_link_t *x = t->hs.head, *nx; x; x = nx) {
		struct tconn *c = GK_NET_ENTRY(x, struct tconn, hs);
		nx = x->next;
		if (now - c->accepted < c->l->handshake_ms) {
			if (t->n == 1)
				break;
			continue;
		}
		gk_counter_inc(&w->ctr.tls_handshake_timeout);
		gk_net_conn_close(&c->nc);
	}
	for (gk_net_link_t *x = t->pool.lru.head, *nx; x; x = nx) {
		struct tconn *c = GK_NET_ENTRY(x, struct tconn, nc.lru);
		nx = x->next;
		if (now - c->nc.last_active < c->l->idle_ms) {
			if (t->n == 1)
				break;
			continue;
		}
		gk_counter_inc(&w->ctr.tls_idle_closed);
		gk_net_conn_close(&c->nc);
	}
}

int gk_net_tls_start(struct gk_worker *w, const gk_net_params_t *p, char *err, size_t errlen)
{
	struct tls_worker *t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto nomem;
	w->tls = t;
	t->w = w;
	t->n = p->n_tls;
	t->ls = calloc(p->n_tls, sizeof(*t->ls));
	if (t->ls == NULL)
		goto nomem;
	unsigned min_ms = 1000;
	for (size_t i = 0; i < p->n_tls; i++) {
		t->ls[i].nl.fd = -1;
		t->cap += p->tls[i].max_connections;
	}
	t->conns = calloc(t->cap, sizeof(*t->conns));
	if (t->conns == NULL)
		goto nomem;
	gk_net_pool_init(&t->pool, w, &tls_ops, "tls", &w->ctr.tls_accepted, &w->ctr.tls_evicted);
	for (unsigned i = t->cap; i-- > 0;) {
		t->conns[i].tw = t;
		gk_net_pool_add(&t->pool, &t->conns[i].nc);
	}
	int rc;
	for (size_t i = 0; i < p->n_tls; i++) {
		const gk_net_tls_t *cf = &p->tls[i];
		struct tls_listener *l = &t->ls[i];
		const struct sockaddr *sa = (const struct sockaddr *)&cf->addr.addr;
		snprintf(l->text, sizeof(l->text), "%s", cf->addr.text);
		if (p->id == 0 && (rc = gk_net_probe(sa, cf->addr.addrlen, SOCK_STREAM)) != 0) {
			snprintf(err, errlen, "tls %s: %s", l->text, gk_strerror(rc));
			return rc;
		}
		rc = gk_net_tcp_socket(sa, cf->addr.addrlen);
		if (rc < 0) {
			snprintf(err, errlen, "tls %s: %s", l->text, gk_strerror(rc));
			return rc;
		}
		l->nl.fd = rc;
		l->tw = t;
		l->ctx = cf->ctx;
		l->idle_ms = cf->idle_timeout_ms;
		l->handshake_ms = cf->handshake_timeout_ms;
		unsigned m = l->idle_ms < l->handshake_ms ? l->idle_ms : l->handshake_ms;
		min_ms = m < min_ms ? m : min_ms;
		if ((rc = gk_net_listener_start(&t->pool, &l->nl)) != 0)
			goto uverr;
	}
	uint64_t every = min_ms / 4 < 20 ? 20 : min_ms / 4;
	if ((rc = uv_timer_init(&w->loop, &t->timer)) != 0)
		goto uverr;
	t->timer.data = t;
	t->timer_ready = true;
	if ((rc = uv_timer_start(&t->timer, tick, every, every)) != 0)
		goto uverr;
	return 0;
uverr:
	snprintf(err, errlen, "tls: libuv: %s", uv_strerror(rc));
	return rc;
nomem:
	snprintf(err, errlen, "worker %u: out of memory", w->id);
	return GK_ENOMEM;
}

void gk_net_tls_close_all(struct gk_worker *w)
{
	struct tls_worker *t = w->tls;
	if (t == NULL)
		return;
	gk_net_pool_close_all(&t->pool);
}

void gk_net_tls_free(struct gk_worker *w)
{
	struct tls_worker *t = w->tls;
	if (t == NULL)
		return;
	for (size_t i = 0; t->ls && i < t->n; i++)
		if (t->ls[i].nl.fd >= 0)
			close(t->ls[i].nl.fd);
	for (unsigned i = 0; t->conns && i < t->cap; i++)
		SSL_free(t->conns[i].ssl); /* none left open once the loop ran its closes */
	free(t->conns);
	free(t->ls);
	free(t);
	w->tls = NULL;
}
