/* SPDX-License-Identifier: MIT */
/* src/obs/dnstap.c -- per-worker SPSC rings, the log thread, protobuf-c encoding, fstrm output.
 *
 * Ring protocol (one producer: the worker; one consumer: the log thread): the producer
 * fills slot head % SLOTS and then publishes head + 1 with a release store; the consumer
 * reads head with an acquire load, encodes the slots, and gives them back by publishing
 * tail with a release store. Indices are free-running 32-bit counters. stdatomic.h is used
 * here as in common/snapshot: this is the module's own SPSC queue, not a shared counter.
 *
 * The log thread wakes every GK_TAP_DRAIN_MS (a sleep, not a signal from the workers: a
 * wake-up per entry would be a syscall on the packet path), takes at most BATCH entries
 * per ring per pass so that one busy worker cannot starve the others, and writes each pass
 * with one fstrm_writer_writev().
 */
#include <errno.h>
#include <fstrm.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>
#include "common/chroot.h"
#include "common/log.h"
#include "dnstap.pb-c.h"
#include "obs/discovery.h"
#include "obs/dnstap.h"
#include "common/thread.h"

#define CONTENT_TYPE "protobuf:dnstap.Dnstap"
#define BATCH        64u /* entries per ring per pass */
#define FRAME_MAX    (2u * GK_TAP_MSG_MAX + 1024u)
#define RETRY_MS     1000u

_Static_assert((GK_TAP_RING_SLOTS & (GK_TAP_RING_SLOTS - 1)) == 0, "power of two");

struct entry {
	uint64_t sec;
	uint32_t nsec;
	uint8_t family; /* 0: unknown, 4, 6 */
	uint8_t transport;
	uint16_t port;
	uint8_t addr[16];
	uint8_t kind; /* KIND_AUTH: a query and its response; KIND_FWD_*: one backend message */
	int8_t filing;
	uint8_t action, why;
	uint32_t rtt_us; /* KIND_FWD_RESPONSE: since its query was sent */
	bool monitor, has_resp;
	uint16_t qlen, rlen; /* bytes kept (0 when the message was longer than MSG_MAX) */
	uint8_t reg_len;
	uint8_t reg[255];
	uint8_t q[GK_TAP_MSG_MAX];
	uint8_t r[GK_TAP_MSG_MAX];
};

enum { KIND_AUTH = 0, KIND_FWD_QUERY, KIND_FWD_RESPONSE };

struct ring {
	_Alignas(64) _Atomic uint32_t head; /* written by the worker */
	_Alignas(64) _Atomic uint32_t tail; /* written by the log thread */
	_Alignas(64) struct entry *slots;
};

struct gk_tap {
	/* settings (fixed after create) */
	char *file, *unix_path, *identity, *version;
	bool all, forwarded;
	unsigned rate, burst, keep;
	uint64_t max_bytes;
	unsigned n;
	struct ring *rings;
	/* log thread */
	uv_thread_t thread;
	bool started;
	_Atomic bool stop;
	struct fstrm_writer *w;
	uint64_t file_bytes;  /* written to the current file */
	uint64_t retry_at_ns; /* unix socket: next connection attempt */
	uint8_t *frames;      /* encode buffer: BATCH * 2 frames */
	struct iovec iov[2 * BATCH];
	/* figures, written by the log thread, read by the scraper */
	_Atomic uint64_t written, lost, rotations, bytes;
	_Atomic bool connected;
};

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* --- worker side ------------------------------------------------------------------- */

static void set_addr(struct entry *e, const struct sockaddr *peer)
{
	e->family = 0;
	e->port = 0;
	if (peer != NULL && peer->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)peer;
		e->family = 4;
		memcpy(e->addr, &in->sin_addr, 4);
		e->port = ntohs(in->sin_port);
	} else if (peer != NULL && peer->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)peer;
		e->family = 6;
		memcpy(e->addr, &in6->sin6_addr, 16);
		e->port = ntohs(in6->sin6_port);
	}
}

bool gk_obs_tap_push_fwd(gk_tap_t *t, unsigned ring, bool response, bool tcp,
                         const struct sockaddr *backend, const uint8_t *msg, size_t len,
                         uint64_t rtt_us, const char *pool, size_t pool_len)
{
	struct ring *rg = &t->rings[ring];
	uint32_t head = atomic_load_explicit(&rg->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&rg->tail, memory_order_acquire);
	if (head - tail >= GK_TAP_RING_SLOTS)
		return false;
	struct entry *e = &rg->slots[head & (GK_TAP_RING_SLOTS - 1)];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	e->sec = (uint64_t)ts.tv_sec;
	e->nsec = (uint32_t)ts.tv_nsec;
	e->kind = response ? KIND_FWD_RESPONSE : KIND_FWD_QUERY;
	e->transport = tcp ? GK_PKT_TCP : GK_PKT_UDP;
	set_addr(e, backend);
	e->rtt_us = rtt_us > UINT32_MAX ? UINT32_MAX : (uint32_t)rtt_us;
	e->filing = 0;
	e->action = GK_ACT_RESOLVE;
	e->why = GK_WHY_NONE;
	e->monitor = false;
	e->reg_len = pool_len < sizeof(e->reg) ? (uint8_t)pool_len : (uint8_t)(sizeof(e->reg) - 1);
	memcpy(e->reg, pool, e->reg_len);
	uint16_t kept = len <= GK_TAP_MSG_MAX ? (uint16_t)len : 0;
	e->has_resp = response;
	e->qlen = response ? 0 : kept;
	e->rlen = response ? kept : 0;
	memcpy(response ? e->r : e->q, msg, kept);
	atomic_store_explicit(&rg->head, head + 1, memory_order_release);
	return true;
}

bool gk_obs_tap_forwarded(const gk_tap_t *t)
{
	return t->forwarded;
}

bool gk_obs_tap_push(gk_tap_t *t, unsigned worker, enum gk_pkt_transport transport,
                     const struct sockaddr *peer, const uint8_t *q, size_t qlen, const uint8_t *r,
                     size_t rlen, const gk_pkt_result_t *res)
{
	struct ring *rg = &t->rings[worker];
	uint32_t head = atomic_load_explicit(&rg->head, memory_order_relaxed);
	uint32_t tail = atomic_load_explicit(&rg->tail, memory_order_acquire);
	if (head - tail >= GK_TAP_RING_SLOTS)
		return false;
	struct entry *e = &rg->slots[head & (GK_TAP_RING_SLOTS - 1)];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	e->sec = (uint64_t)ts.tv_sec;
	e->nsec = (uint32_t)ts.tv_nsec;
	e->kind = KIND_AUTH;
	e->transport = (uint8_t)transport;
	set_addr(e, peer);
	e->filing = res->filing;
	e->action = res->action;
	e->why = res->why;
	e->monitor = res->monitor;
	e->reg_len = 0;
	if (res->reg_len > 0 && (size_t)res->reg_off + res->reg_len <= qlen) {
		e->reg_len = res->reg_len;
		memcpy(e->reg, q + res->reg_off, res->reg_len);
	}
	e->qlen = qlen <= GK_TAP_MSG_MAX ? (uint16_t)qlen : 0;
	memcpy(e->q, q, e->qlen);
	e->has_resp = r != NULL;
	e->rlen = r != NULL && rlen <= GK_TAP_MSG_MAX ? (uint16_t)rlen : 0;
	if (e->rlen > 0)
		memcpy(e->r, r, e->rlen);
	atomic_store_explicit(&rg->head, head + 1, memory_order_release);
	return true;
}

bool gk_obs_tap_all_queries(const gk_tap_t *t)
{
	return t->all;
}

void gk_obs_tap_rate(const gk_tap_t *t, unsigned *rate, unsigned *burst)
{
	*rate = t->rate;
	*burst = t->burst;
}

/* --- output ------------------------------------------------------------------------ */

static void rotate_files(gk_tap_t *t)
{
	char from[4200], to[4200];
	const char *file = gk_chroot_strip(t->file); /* chrooted: DIR/x is /x */
	if (t->keep == 0)
		return; /* the next open truncates in place */
	for (unsigned i = t->keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", file);
		else
			snprintf(from, sizeof(from), "%s.%u", file, i - 1);
		snprintf(to, sizeof(to), "%s.%u", file, i);
		if (rename(from, to) != 0 && errno != ENOENT)
			gk_log(GK_LOG_WARN, "dnstap: rename %s -> %s: %s", from, to,
			       strerror(errno));
	}
}

/* Open the output: returns 0 or GK_EIO (the reason logged unless quiet). */
static int out_open(gk_tap_t *t, bool quiet)
{
	struct fstrm_writer_options *wopt = fstrm_writer_options_init();
	if (wopt == NULL)
		return GK_ENOMEM;
	fstrm_writer_options_add_content_type(wopt, CONTENT_TYPE, strlen(CONTENT_TYPE));
	struct fstrm_writer *w = NULL;
	if (t->file != NULL) {
		struct fstrm_file_options *fopt = fstrm_file_options_init();
		if (fopt != NULL) {
			fstrm_file_options_set_file_path(fopt, gk_chroot_strip(t->file));
			w = fstrm_file_writer_init(fopt, wopt);
			fstrm_file_options_destroy(&fopt);
		}
	} else {
		struct fstrm_unix_writer_options *uopt = fstrm_unix_writer_options_init();
		if (uopt != NULL) {
			fstrm_unix_writer_options_set_socket_path(uopt,
			                                          gk_chroot_strip(t->unix_path));
			w = fstrm_unix_writer_init(uopt, wopt);
			fstrm_unix_writer_options_destroy(&uopt);
		}
	}
	fstrm_writer_options_destroy(&wopt);
	if (w == NULL || fstrm_writer_open(w) != fstrm_res_success) {
		if (w != NULL)
			fstrm_writer_destroy(&w);
		if (!quiet)
			gk_log(GK_LOG_WARN, "dnstap: cannot open %s%s",
			       t->file ? "" : "unix:", t->file ? t->file : t->unix_path);
		return GK_EIO;
	}
	t->w = w;
	t->file_bytes = 0;
	atomic_store(&t->connected, true);
	return 0;
}

static void out_close(gk_tap_t *t)
{
	if (t->w != NULL)
		fstrm_writer_destroy(&t->w);
	atomic_store(&t->connected, false);
}

/* --- encoding ---------------------------------------------------------------------- */

static const char *status_text(int8_t f)
{
	switch (f) {
	case -2:
		return "starting";
	case -1: /* GK_FS_UNKNOWN: the label the decisions metric uses (docs/DNSTAP.md) */
		return "stale";
	case 0:
		return "unfiled";
	case 1:
		return "filed";
	case 2:
		return "revoked";
	default:
		return "none";
	}
}

static const char *action_text(uint8_t a)
{
	static const char *const n[] = {"resolve", "refuse",   "nxdomain", "nodata",
	                                "drop",    "redirect", "truncate"};
	return a < sizeof(n) / sizeof(n[0]) ? n[a] : "other";
}

static const char *why_text(uint8_t w)
{
	static const char *const n[] = {"none",     "unfiled", "revoked", "unknown",
	                                "starting", "blocked", "allowed", "tcp_only"};
	return w < sizeof(n) / sizeof(n[0]) ? n[w] : "other";
}

/* The query time (q_sec, q_nsec) and, for a query, its message; for a response, the
 * entry's time as the response time and the response message. */
static void put_times(Dnstap__Message *m, const struct entry *e, bool response, uint64_t q_sec,
                      uint32_t q_nsec)
{
	m->has_query_time_sec = m->has_query_time_nsec = 1;
	m->query_time_sec = q_sec;
	m->query_time_nsec = q_nsec;
	if (!response) {
		if (e->qlen > 0) {
			m->has_query_message = 1;
			m->query_message.data = (uint8_t *)e->q;
			m->query_message.len = e->qlen;
		}
		return;
	}
	m->has_response_time_sec = m->has_response_time_nsec = 1;
	m->response_time_sec = e->sec;
	m->response_time_nsec = e->nsec;
	if (e->rlen > 0) {
		m->has_response_message = 1;
		m->response_message.data = (uint8_t *)e->r;
		m->response_message.len = e->rlen;
	}
}

/* Frame message m in d with the writer's identity, version and extra, packed into out.
 * Returns its length (0: more than cap). */
static size_t pack(const gk_tap_t *t, Dnstap__Dnstap *d, Dnstap__Message *m, const char *extra,
                   uint8_t *out, size_t cap)
{
	d->type = DNSTAP__DNSTAP__TYPE__MESSAGE;
	d->message = m;
	if (t->identity != NULL) {
		d->has_identity = 1;
		d->identity.data = (uint8_t *)t->identity;
		d->identity.len = strlen(t->identity);
	}
	if (t->version != NULL) {
		d->has_version = 1;
		d->version.data = (uint8_t *)t->version;
		d->version.len = strlen(t->version);
	}
	d->has_extra = 1;
	d->extra.data = (uint8_t *)extra;
	d->extra.len = strlen(extra);
	if (dnstap__dnstap__get_packed_size(d) > cap)
		return 0;
	return dnstap__dnstap__pack(d, out);
}

/* Encode one dnstap frame; returns its length (0 if it does not fit). */
static size_t encode(gk_tap_t *t, const struct entry *e, bool response, const char *extra,
                     uint8_t *out, size_t cap)
{
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	Dnstap__Policy p = DNSTAP__POLICY__INIT;
	Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
	m.type =
	    response ? DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE : DNSTAP__MESSAGE__TYPE__AUTH_QUERY;
	m.has_socket_protocol = 1;
	m.socket_protocol = e->transport == GK_PKT_TCP ? DNSTAP__SOCKET_PROTOCOL__TCP
	                                               : DNSTAP__SOCKET_PROTOCOL__UDP;
	if (e->family != 0) {
		m.has_socket_family = 1;
		m.socket_family =
		    e->family == 4 ? DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
		m.has_query_address = 1;
		m.query_address.data = (uint8_t *)e->addr;
		m.query_address.len = e->family == 4 ? 4 : 16;
		m.has_query_port = 1;
		m.query_port = e->port;
	}
	put_times(&m, e, response, e->sec, e->nsec);
	if (e->action != GK_ACT_RESOLVE || e->monitor || e->why != GK_WHY_NONE) {
		p.type = (e->why >= GK_WHY_BLOCKED) ? "policy" : "ICP";
		if (e->reg_len > 0) {
			p.has_rule = 1;
			p.rule.data = (uint8_t *)e->reg;
			p.rule.len = e->reg_len;
		}
		p.has_match = 1;
		p.match = DNSTAP__POLICY__MATCH__QNAME;
		p.has_action = 1;
		switch (e->monitor ? GK_ACT_RESOLVE : e->action) {
		case GK_ACT_NXDOMAIN:
			p.action = DNSTAP__POLICY__ACTION__NXDOMAIN;
			break;
		case GK_ACT_NODATA:
			p.action = DNSTAP__POLICY__ACTION__NODATA;
			break;
		case GK_ACT_DROP:
			p.action = DNSTAP__POLICY__ACTION__DROP;
			break;
		case GK_ACT_TRUNCATE:
			p.action = DNSTAP__POLICY__ACTION__TRUNCATE;
			break;
		case GK_ACT_REDIRECT:
			p.action = DNSTAP__POLICY__ACTION__LOCAL_DATA;
			break;
		case GK_ACT_RESOLVE:
			p.action = DNSTAP__POLICY__ACTION__PASS;
			break;
		default:
			p.has_action = 0;
			break; /* REFUSED has no dnstap action */
		}
		m.policy = &p;
	}
	return pack(t, &d, &m, extra, out, cap);
}

/* Encode one backend message (KIND_FWD_*): FORWARDER_QUERY with the query sent, or
 * FORWARDER_RESPONSE with the answer; the backend is the response address (the server the
 * message went to or came from); extra "pool=NAME". Returns its length (0: does not fit). */
static size_t encode_fwd(gk_tap_t *t, const struct entry *e, const char *extra, uint8_t *out,
                         size_t cap)
{
	Dnstap__Message m = DNSTAP__MESSAGE__INIT;
	Dnstap__Dnstap d = DNSTAP__DNSTAP__INIT;
	bool response = e->kind == KIND_FWD_RESPONSE;
	m.type = response ? DNSTAP__MESSAGE__TYPE__FORWARDER_RESPONSE
	                  : DNSTAP__MESSAGE__TYPE__FORWARDER_QUERY;
	m.has_socket_protocol = 1;
	m.socket_protocol = e->transport == GK_PKT_TCP ? DNSTAP__SOCKET_PROTOCOL__TCP
	                                               : DNSTAP__SOCKET_PROTOCOL__UDP;
	if (e->family != 0) {
		m.has_socket_family = 1;
		m.socket_family =
		    e->family == 4 ? DNSTAP__SOCKET_FAMILY__INET : DNSTAP__SOCKET_FAMILY__INET6;
		m.has_response_address = 1;
		m.response_address.data = (uint8_t *)e->addr;
		m.response_address.len = e->family == 4 ? 4 : 16;
		m.has_response_port = 1;
		m.response_port = e->port;
	}
	/* a response's query went out rtt_us before it came back */
	uint64_t q_ns =
	    e->sec * 1000000000ull + e->nsec - (response ? (uint64_t)e->rtt_us * 1000ull : 0);
	put_times(&m, e, response, q_ns / 1000000000ull, (uint32_t)(q_ns % 1000000000ull));
	return pack(t, &d, &m, extra, out, cap);
}

/* Encode up to BATCH entries of ring rg into t->frames/iov; returns the entries taken. */
static unsigned take(gk_tap_t *t, struct ring *rg, unsigned *niov)
{
	uint32_t tail = atomic_load_explicit(&rg->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&rg->head, memory_order_acquire);
	unsigned k = 0;
	*niov = 0;
	for (; tail + k != head && k < BATCH; k++) {
		const struct entry *e = &rg->slots[(tail + k) & (GK_TAP_RING_SLOTS - 1)];
		/* escaped as in every other place a name is shown: a '.' inside a label reads
		 * "\." and never splits it */
		char dom[4 * 255 + 1], extra[sizeof(dom) + 100];
		if (e->kind != KIND_AUTH) {
			uint8_t *f = t->frames + (size_t)(*niov) * FRAME_MAX;
			snprintf(extra, sizeof(extra), "pool=%.*s", (int)e->reg_len,
			         (const char *)e->reg);
			size_t len = encode_fwd(t, e, extra, f, FRAME_MAX);
			if (len > 0)
				t->iov[(*niov)++] = (struct iovec){f, len};
			continue;
		}
		if (e->reg_len)
			gk_obs_disc_name_text(e->reg, e->reg_len, dom);
		snprintf(extra, sizeof(extra), "status=%s action=%s reason=%s%s%s%s",
		         status_text(e->filing), action_text(e->action), why_text(e->why),
		         e->reg_len ? " domain=" : "", e->reg_len ? dom : "",
		         e->monitor ? " monitor=1" : "");
		for (int resp = 0; resp < 1 + (e->has_resp ? 1 : 0); resp++) {
			uint8_t *f = t->frames + (size_t)(*niov) * FRAME_MAX;
			size_t len = encode(t, e, resp != 0, extra, f, FRAME_MAX);
			if (len > 0)
				t->iov[(*niov)++] = (struct iovec){f, len};
		}
	}
	atomic_store_explicit(&rg->tail, tail + k, memory_order_release);
	return k;
}

static void drain(gk_tap_t *t)
{
	for (unsigned i = 0; i < t->n; i++) {
		for (;;) {
			unsigned niov, k = take(t, &t->rings[i], &niov);
			if (k == 0)
				break;
			if (t->w == NULL && t->unix_path != NULL && mono_ns() >= t->retry_at_ns) {
				if (out_open(t, true) != 0)
					t->retry_at_ns = mono_ns() + RETRY_MS * 1000000ull;
				else
					gk_log(GK_LOG_INFO, "dnstap: connected to unix:%s",
					       t->unix_path);
			}
			if (t->w == NULL ||
			    (niov > 0 &&
			     fstrm_writer_writev(t->w, t->iov, (int)niov) != fstrm_res_success)) {
				if (t->w != NULL) {
					gk_log(GK_LOG_WARN,
					       "dnstap: write failed: closing the output");
					out_close(t);
					t->retry_at_ns = mono_ns() + RETRY_MS * 1000000ull;
				}
				atomic_fetch_add(&t->lost, k);
				continue;
			}
			uint64_t b = 0;
			for (unsigned j = 0; j < niov; j++)
				b += 4 + t->iov[j].iov_len;
			t->file_bytes += b;
			atomic_fetch_add(&t->bytes, b);
			atomic_fetch_add(&t->written, k);
			if (t->file != NULL && t->file_bytes >= t->max_bytes) {
				out_close(t);
				rotate_files(t);
				atomic_fetch_add(&t->rotations, 1);
				if (out_open(t, false) != 0)
					t->retry_at_ns = mono_ns() + RETRY_MS * 1000000ull;
			}
		}
	}
	/* a file that could not be reopened after a rotation is retried too */
	if (t->w == NULL && t->file != NULL && mono_ns() >= t->retry_at_ns &&
	    out_open(t, true) != 0)
		t->retry_at_ns = mono_ns() + RETRY_MS * 1000000ull;
}

static void run(void *arg)
{
	gk_tap_t *t = arg;
	gk_thread_name("gk-dnstap");
	while (!atomic_load(&t->stop)) {
		struct timespec ts = {0, (long)GK_TAP_DRAIN_MS * 1000000L};
		nanosleep(&ts, NULL);
		drain(t);
	}
	drain(t);
}

/* --- lifecycle --------------------------------------------------------------------- */

static char *dup_or_null(const char *s, bool *oom)
{
	if (s == NULL)
		return NULL;
	char *d = strdup(s);
	if (d == NULL)
		*oom = true;
	return d;
}

void gk_obs_tap_free(gk_tap_t *t)
{
	if (t == NULL)
		return;
	gk_obs_tap_stop(t);
	out_close(t);
	if (t->rings != NULL)
		for (unsigned i = 0; i < t->n; i++)
			free(t->rings[i].slots);
	free(t->rings);
	free(t->frames);
	free(t->file);
	free(t->unix_path);
	free(t->identity);
	free(t->version);
	free(t);
}

int gk_obs_tap_create(const gk_tap_conf_t *conf, unsigned n_workers, gk_tap_t **out, char *err,
                      size_t errlen)
{
	if (n_workers == 0 || (conf->file == NULL) == (conf->unix_path == NULL) ||
	    conf->rate == 0 || conf->burst == 0) {
		snprintf(err, errlen, "dnstap: bad settings");
		return GK_EINVAL;
	}
	gk_tap_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		goto oom;
	bool oom = false;
	t->file = dup_or_null(conf->file, &oom);
	t->unix_path = dup_or_null(conf->unix_path, &oom);
	t->identity = dup_or_null(conf->identity, &oom);
	t->version = dup_or_null(conf->version, &oom);
	t->all = conf->all_queries;
	t->forwarded = conf->forwarded;
	t->rate = conf->rate;
	t->burst = conf->burst;
	t->keep = conf->keep;
	t->max_bytes = conf->max_bytes;
	t->n = n_workers;
	t->rings = aligned_alloc(64, (size_t)n_workers * sizeof(*t->rings));
	t->frames = malloc((size_t)2 * BATCH * FRAME_MAX);
	if (oom || t->rings == NULL || t->frames == NULL) {
		free(t->rings);
		t->rings = NULL;
		goto oom;
	}
	memset(t->rings, 0, (size_t)n_workers * sizeof(*t->rings));
	for (unsigned i = 0; i < n_workers; i++)
		if ((t->rings[i].slots = calloc(GK_TAP_RING_SLOTS, sizeof(struct entry))) == NULL)
			goto oom;
	if (t->file != NULL) {
		/* a file from an earlier run becomes FILE.1: every file is one whole stream */
		struct stat sb;
		if (stat(t->file, &sb) == 0 && sb.st_size > 0)
			rotate_files(t);
		if (out_open(t, true) != 0) {
			snprintf(err, errlen, "dnstap: cannot open %s for writing: %s", t->file,
			         strerror(errno));
			gk_obs_tap_free(t);
			return GK_EIO;
		}
	} else if (out_open(t, true) != 0) {
		gk_log(GK_LOG_WARN, "dnstap: unix:%s not accepting yet: retrying every %u ms",
		       t->unix_path, RETRY_MS);
		t->retry_at_ns = mono_ns() + RETRY_MS * 1000000ull;
	}
	*out = t;
	return 0;
oom:
	gk_obs_tap_free(t);
	snprintf(err, errlen, "dnstap: out of memory");
	return GK_ENOMEM;
}

int gk_obs_tap_start(gk_tap_t *t)
{
	int rc = uv_thread_create(&t->thread, run, t);
	if (rc != 0)
		return rc;
	t->started = true;
	return 0;
}

void gk_obs_tap_stop(gk_tap_t *t)
{
	if (t == NULL || !t->started)
		return;
	atomic_store(&t->stop, true);
	uv_thread_join(&t->thread);
	t->started = false;
	out_close(t);
}

void gk_obs_tap_stats(const gk_tap_t *t, gk_tap_stats_t *out)
{
	gk_tap_t *m = (gk_tap_t *)t;
	out->written = atomic_load(&m->written);
	out->lost = atomic_load(&m->lost);
	out->rotations = atomic_load(&m->rotations);
	out->bytes = atomic_load(&m->bytes);
	out->connected = atomic_load(&m->connected);
}
