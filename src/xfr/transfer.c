/* SPDX-License-Identifier: MIT */
/* src/xfr/transfer.c -- one SOA, AXFR or IXFR exchange with a primary over TCP on a libuv
 * loop (xfr.h).
 *
 * A job owns a TCP handle and a timer. The timer bounds the connect and every silence
 * between reads, so a primary that accepts and never answers costs one timeout. Frames are
 * reassembled in a buffer that never grows past one message (the 16-bit length caps it),
 * and each complete message goes to the stream checker (stream.c) before the next is
 * looked at. The job ends by closing both handles; the callback runs from the last close
 * callback, and an IXFR that must become an AXFR starts a fresh job from there.
 */
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xfr/internal.h"

struct job {
	struct job *next, **pprev; /* the loop's jobs (loop->data) */
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_connect_t conn;
	uv_write_t wr;
	int open_handles;
	gk_xfr_request_t req; /* zone and cur_text owned copies */
	struct sockaddr_storage addr;
	gk_xfr_done_fn done;
	void *ctx;
	gk_tsig_ctx_t *tsig;
	gk_xfr_stream_t st;
	uint8_t q[1024]; /* the framed query */
	size_t qlen;
	uint8_t *rbuf; /* frame reassembly: 2 + 65535 octets */
	size_t rlen;
	bool finished;
	bool fallback;  /* restart as AXFR once closed */
	bool fell_back; /* this job is such a restart */
	gk_xfr_result_t res;
};

static int start_job(uv_loop_t *loop, const gk_xfr_request_t *req, gk_xfr_done_fn done, void *ctx,
                     struct job **out);

static void job_free(struct job *j)
{
	if (j->pprev) {
		*j->pprev = j->next;
		if (j->next)
			j->next->pprev = j->pprev;
	}
	gk_xfr_stream_free(&j->st);
	gk_xfr_tsig_ctx_free(j->tsig);
	free((char *)j->req.zone);
	free((uint8_t *)j->req.cur);
	free(j->res.wire);
	free(j->rbuf);
	free(j);
}

static void on_closed(uv_handle_t *h)
{
	struct job *j = h->data;
	if (--j->open_handles > 0)
		return;
	if (j->fallback) {
		gk_xfr_request_t r = j->req;
		r.kind = GK_XFR_AXFR;
		r.addr = (const struct sockaddr *)&j->addr;
		r.cur = NULL;
		r.cur_len = r.cur_count = 0;
		struct job *k = NULL;
		if (start_job(j->tcp.loop, &r, j->done, j->ctx, &k) == 0) {
			k->fell_back = true;
			memcpy(k->res.err, j->res.err,
			       sizeof(k->res.err)); /* why, if it succeeds */
			job_free(j);
			return;
		}
		j->res.rc = GK_ENOMEM;
		snprintf(j->res.err, sizeof(j->res.err), "out of memory for the AXFR fall-back");
	}
	j->res.fell_back = j->fell_back;
	j->done(j->ctx, &j->res);
	job_free(j);
}

/* End the job (once): the result is in j->res, or a fall-back is due. */
static void finish(struct job *j)
{
	if (j->finished)
		return;
	j->finished = true;
	j->res.bytes = j->st.bytes;
	j->res.rrs = j->st.rrs;
	j->res.msgs = j->st.msgs;
	uv_timer_stop(&j->timer);
	uv_close((uv_handle_t *)&j->tcp, on_closed);
	uv_close((uv_handle_t *)&j->timer, on_closed);
}

static void fail(struct job *j, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void fail(struct job *j, int rc, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(j->res.err, sizeof(j->res.err), fmt, ap);
	va_end(ap);
	j->res.rc = rc;
	finish(j);
}

static void on_timeout(uv_timer_t *t)
{
	struct job *j = t->data;
	fail(j, GK_EIO, "no answer within %u ms", j->req.timeout_ms);
}

/* The transfer is complete: make the new zone's records. */
static void complete(struct job *j)
{
	gk_xfr_stream_t *s = &j->st;
	j->res.serial = gk_xfr_soa_serial(s->soa);
	if (j->req.kind == GK_XFR_SOA) {
		finish(j);
		return;
	}
	ldns_rr_list *zone = s->zone;
	ldns_rr_list *cur = NULL;
	j->res.kind = GK_XFR_AXFR;
	if (s->incremental) {
		char err[256];
		int rc = gk_xfr_wire_parse(j->req.cur, j->req.cur_len, j->req.cur_count, &cur, err,
		                           sizeof(err));
		if (rc == 0)
			rc = gk_xfr_apply(cur, s, err, sizeof(err));
		if (rc != 0) {
			/* our data and the primary's differences disagree: take the whole zone */
			ldns_rr_list_deep_free(cur);
			snprintf(j->res.err, sizeof(j->res.err), "IXFR not applied (%s)", err);
			j->fallback = true;
			finish(j);
			return;
		}
		zone = cur;
		j->res.kind = GK_XFR_IXFR;
	}
	j->res.count = ldns_rr_list_rr_count(zone);
	if (gk_xfr_zone_wire(zone, &j->res.wire, &j->res.wire_len) != 0) {
		ldns_rr_list_deep_free(cur);
		fail(j, GK_ENOMEM, "out of memory");
		return;
	}
	ldns_rr_list_deep_free(cur);
	finish(j);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct job *j = h->data;
	buf->base = (char *)j->rbuf + j->rlen;
	buf->len = 2 + 65535 - j->rlen;
}

static void on_read(uv_stream_t *h, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct job *j = h->data;
	if (j->finished)
		return;
	if (n < 0) {
		fail(j, GK_EIO, "%s after %u messages (transfer cut short)",
		     n == UV_EOF ? "connection closed" : uv_strerror((int)n), j->st.msgs);
		return;
	}
	j->rlen += (size_t)n;
	uv_timer_again(&j->timer);
	while (j->rlen >= 2) {
		size_t ml = (size_t)j->rbuf[0] << 8 | j->rbuf[1];
		if (j->rlen < 2 + ml)
			break;
		gk_xfr_outcome_t o =
		    gk_xfr_stream_feed(&j->st, j->rbuf + 2, ml, (uint64_t)time(NULL));
		memmove(j->rbuf, j->rbuf + 2 + ml, j->rlen - 2 - ml);
		j->rlen -= 2 + ml;
		switch (o) {
		case GK_XFR_MORE:
			continue;
		case GK_XFR_DONE:
			complete(j);
			return;
		case GK_XFR_UPTODATE:
			j->res.uptodate = true;
			j->res.serial = gk_xfr_soa_serial(j->st.soa);
			finish(j);
			return;
		case GK_XFR_FALLBACK:
			snprintf(j->res.err, sizeof(j->res.err), "IXFR refused (%s)", j->st.err);
			j->fallback = true;
			finish(j);
			return;
		case GK_XFR_ERROR:
			fail(j, GK_ESYNTAX, "%s", j->st.err);
			return;
		}
	}
}

static void on_written(uv_write_t *w, int status)
{
	struct job *j = w->data;
	if (j->finished)
		return;
	if (status < 0) {
		fail(j, GK_EIO, "send: %s", uv_strerror(status));
		return;
	}
	int rc = uv_read_start((uv_stream_t *)&j->tcp, on_alloc, on_read);
	if (rc < 0)
		fail(j, GK_EIO, "read: %s", uv_strerror(rc));
}

/* The query in TCP framing, TSIG-signed when there is a key. */
static int make_query(struct job *j, uint16_t id)
{
	ldns_rr_type t = j->req.kind == GK_XFR_SOA    ? LDNS_RR_TYPE_SOA
	                 : j->req.kind == GK_XFR_AXFR ? LDNS_RR_TYPE_AXFR
	                                              : LDNS_RR_TYPE_IXFR;
	ldns_rdf *name = NULL;
	if (ldns_str2rdf_dname(&name, j->req.zone) != LDNS_STATUS_OK)
		return GK_EINVAL;
	ldns_pkt *p = ldns_pkt_query_new(name, t, LDNS_RR_CLASS_IN, 0);
	if (!p)
		return GK_ENOMEM;
	ldns_pkt_set_id(p, id);
	int rc = 0;
	if (j->req.kind == GK_XFR_IXFR) {
		/* RFC 1995: the authority section holds our SOA (only its serial matters) */
		ldns_rr *soa = NULL;
		char *s = NULL;
		if (asprintf(&s, "%s 0 IN SOA . . %u 0 0 0 0", j->req.zone, j->req.serial) < 0)
			rc = GK_ENOMEM;
		else if (ldns_rr_new_frm_str(&soa, s, 0, NULL, NULL) != LDNS_STATUS_OK ||
		         !ldns_pkt_push_rr(p, LDNS_SECTION_AUTHORITY, soa)) {
			ldns_rr_free(soa);
			rc = GK_EINVAL;
		}
		free(s);
	}
	uint8_t *w = NULL;
	size_t wl = 0;
	if (rc == 0 && ldns_pkt2wire(&w, p, &wl) != LDNS_STATUS_OK)
		rc = GK_ENOMEM;
	ldns_pkt_free(p);
	if (rc != 0)
		return rc;
	if (wl + 2 > sizeof(j->q)) {
		free(w);
		return GK_EINVAL;
	}
	memcpy(j->q + 2, w, wl);
	free(w);
	if (j->tsig && (rc = gk_xfr_tsig_sign(j->tsig, j->q + 2, &wl, sizeof(j->q) - 2,
	                                      (uint64_t)time(NULL), 0)) != 0)
		return rc;
	j->q[0] = (uint8_t)(wl >> 8);
	j->q[1] = (uint8_t)wl;
	j->qlen = wl + 2;
	return 0;
}

static void on_connect(uv_connect_t *c, int status)
{
	struct job *j = c->data;
	if (j->finished)
		return;
	if (status < 0) {
		fail(j, GK_EIO, "connect: %s", uv_strerror(status));
		return;
	}
	uv_timer_again(&j->timer);
	uv_buf_t b = uv_buf_init((char *)j->q, (unsigned)j->qlen);
	j->wr.data = j;
	int rc = uv_write(&j->wr, (uv_stream_t *)&j->tcp, &b, 1, on_written);
	if (rc < 0)
		fail(j, GK_EIO, "send: %s", uv_strerror(rc));
}

static int start_job(uv_loop_t *loop, const gk_xfr_request_t *req, gk_xfr_done_fn done, void *ctx,
                     struct job **out)
{
	struct job *j = calloc(1, sizeof(*j));
	if (!j)
		return GK_ENOMEM;
	j->req = *req;
	j->req.zone = strdup(req->zone);
	j->req.cur = NULL;
	j->rbuf = malloc(2 + 65535);
	int rc = GK_ENOMEM;
	if (!j->req.zone || !j->rbuf)
		goto fail;
	if (req->kind == GK_XFR_IXFR) {
		uint8_t *t = malloc(req->cur_len + 1);
		if (!t)
			goto fail;
		if (req->cur_len)
			memcpy(t, req->cur, req->cur_len);
		j->req.cur = t;
	}
	memcpy(&j->addr, req->addr,
	       req->addr->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6)
	                                        : sizeof(struct sockaddr_in));
	j->req.addr = (const struct sockaddr *)&j->addr;
	j->done = done;
	j->ctx = ctx;
	j->res.kind = req->kind;
	if (req->key && (rc = gk_xfr_tsig_ctx_new(req->key, &j->tsig)) != 0)
		goto fail;
	uint16_t id;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1) {
		rc = GK_EIO;
		goto fail;
	}
	if ((rc = gk_xfr_stream_init(&j->st, req->zone, req->kind, req->serial, id, &req->lim,
	                             j->tsig)) != 0)
		goto fail;
	if ((rc = make_query(j, id)) != 0)
		goto fail;
	if (uv_tcp_init(loop, &j->tcp) != 0 || uv_timer_init(loop, &j->timer) != 0) {
		rc = GK_ENOMEM; /* uv_tcp_init on a valid loop fails only on resources */
		goto fail;
	}
	j->tcp.data = j->timer.data = j->conn.data = j;
	j->open_handles = 2;
	j->next = loop->data;
	if (j->next)
		j->next->pprev = &j->next;
	j->pprev = (struct job **)&loop->data;
	loop->data = j;
	uv_timer_start(&j->timer, on_timeout, req->timeout_ms, req->timeout_ms);
	int e = uv_tcp_connect(&j->conn, &j->tcp, j->req.addr, on_connect);
	if (e < 0)
		fail(j, GK_EIO, "connect: %s", uv_strerror(e)); /* reported through done */
	if (out)
		*out = j;
	return 0;
fail:
	job_free(j);
	return rc;
}

void gk_xfr_cancel_all(uv_loop_t *loop)
{
	for (struct job *j = loop->data; j; j = j->next) {
		j->fallback = false;
		if (!j->finished)
			fail(j, GK_EIO, "cancelled (shutting down)");
	}
}

int gk_xfr_start(uv_loop_t *loop, const gk_xfr_request_t *req, gk_xfr_done_fn done, void *ctx)
{
	return start_job(loop, req, done, ctx, NULL);
}
