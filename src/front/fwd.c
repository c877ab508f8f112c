/* SPDX-License-Identifier: MIT */
/* src/front/fwd.c -- the relay on a worker's loop (fwd.h).
 *
 * The outstanding table is an array of GK_FWD_SLOTS slots with a free list, and a map from
 * the 16-bit backend ID to the slot that holds it, so an answer is matched with one load;
 * each slot has its timer. IDs come from kernel random bytes fetched 4 KiB at a time (rnd.h:
 * glibc 2.36's arc4random makes a getrandom call each time) and are redrawn while the ID is
 * in use. Backend sockets: BSOCKS per
 * address family the pools use, each bound to port 0 (the kernel picks a random free
 * port), one picked at random per query. Every GK_FWD_ROTATE_MS one socket per family is
 * replaced by a new one on a new random port (RFC 5452 9.2: a port observed or guessed is of
 * use for BSOCKS rotations at most); the old one drains: it still reads the answers to the
 * tries sent from it, and is closed at a later rotation once no try in flight was sent from
 * it. The rotation is a timer's work (a socket, a bind, an epoll_ctl a second), never the
 * query's.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <linux/errqueue.h>
#include "common/counter.h"
#include "common/dns.h"
#include "front/cache.h"
#include "front/filter.h"
#include "decide/decide.h"
#include "front/fwd.h"
#include "common/counter.h"
#include "common/dname.h"
#include "pkt/fzones.h"
#include "front/relay.h"
#include "front/rnd.h"
#include "common/proxy.h"
#include "rrl/rrl.h" /* the response classes (gk_rrl_class_t) */

#define BSOCKS       8u            /* backend sockets per address family */
#define BS_CAP       (4u * BSOCKS) /* both families' active sockets and those draining */
#define RBUF         65535u
#define RECV_BUDGET  64u /* datagrams read per socket per readiness callback */
#define RB           16u /* datagrams per recvmmsg */
#define RMAX         4096u
#define CACHE_TTLMAX 86400u

enum slot_kind { K_FREE = 0, K_UDP, K_TCP, K_CHECK };

/* Datagrams to backends queued per socket during a loop turn, sent with one sendmmsg by
 * gk_front_fwd_flush (or when the queue is full). Each is a copy: the slot may be sent again
 * before the flush. */
#define BQ    32u
#define BQMAX (GK_PROXY_WRITE_MAX + GK_FWD_QMAX + GK_RELAY_OPT_LEN + GK_RELAY_ECS_MAX)

enum bs_state { BS_FREE = 0, BS_ACTIVE, BS_DRAINING, BS_CLOSING };

struct bsock {
	uv_poll_t h;
	struct gk_fwd *f;
	int fd;
	int family;
	uint8_t state;
	unsigned qn;
	struct mmsghdr qm[BQ];
	struct iovec qiov[BQ];
	uint8_t q[BQ][BQMAX];
};

struct slot {
	struct slot *tprev, *tnext; /* the pool's deadline list (timed: on it) */
	uint64_t deadline;          /* loop time (ms) its try times out */
	bool timed;
	struct gk_fwd *f;
	struct slot *next_free;
	uint8_t kind;
	uint8_t tries;
	uint16_t pool;
	int16_t backend;
	int16_t sock;
	bool edns, do_bit;
	bool filter;      /* the other names of its answer are checked (filter.h) */
	int16_t qreg;     /* the question name's registrable domain at sent + 12 + qreg; -1: none */
	bool tcp;         /* sent over the backend's TCP connection (client TCP, or a TC retry) */
	bool conn_failed; /* that connection failed with this try on it (bc_failed) */
	uint64_t sent_us;
	gk_relay_q_t rq;
	uint16_t sent_len;
	uint8_t sent[GK_FWD_QMAX + GK_RELAY_OPT_LEN + GK_RELAY_ECS_MAX];
	uint8_t phdr_len; /* PROXY v2 header for the backends (pool proxy_protocol), 0: none */
	uint8_t phdr[GK_PROXY_WRITE_MAX];
	struct bconn *oc;    /* proxy_protocol over TCP: this query's own connection, or NULL */
	uint8_t ecs_key_len; /* the client subnet sent (cache key form), 0: none */
	uint8_t ecs_key[GK_FCACHE_ECS_MAX];
	bool cecs_on;        /* the client sent an ECS option (pool with ecs): echoed */
	gk_relay_ecs_t cecs; /* ... that option */
	/* the client */
	int fd;
	socklen_t clen;
	struct sockaddr_storage client;
	/* rate limiting of a UDP client's answer (gk_front_fwd_set_limit): the client it counts
	 * for (a PROXY header's, else the sender) and the forwarded apex in the question name */
	union {
		struct sockaddr sa;
		struct sockaddr_in v4;
		struct sockaddr_in6 v6;
	} rrl_client;
	uint8_t rrl_off;
	gk_fwd_deliver_fn deliver;
	void *ctx, *conn;
	uint64_t gen;
};

/* A backend's TCP connection (RFC 7766: reused, pipelined): opened on first use, reopened
 * after a close. Queries go into the pending half of a double buffer while the other half
 * is being written, so no query's bytes need to outlive its slot. */
#define BC_BUF (64u * 1024u)
enum bc_state { BC_CLOSED = 0, BC_CONNECTING, BC_OPEN, BC_CLOSING };
struct bconn {
	uv_tcp_t h;
	uv_connect_t creq;
	uv_write_t wreq;
	struct gk_fwd *f;
	uint16_t pool, backend;
	uint8_t state;
	bool writing;
	uint8_t *buf[2]; /* [cur]: being written (wlen), [!cur]: pending (plen) */
	uint32_t wlen, plen;
	unsigned cur;
	uint32_t rlen;
	uint8_t *rbuf; /* 2 + 65535 */
	uint32_t cap;  /* of each buf */
	/* proxy_protocol: a connection of one query (its PROXY header names one client), owned
	 * by that slot, closed after its answer or with the slot, freed once closed */
	bool oneshot;
	struct slot *slot;
	struct bconn *prev, *next; /* f->oneshots */
};

struct fpool {
	struct bconn *bc; /* one per backend */
	gk_fpool_t *p;
	gk_fcache_t *cache; /* this relay's own, or NULL (cache off): no lock, one thread */
	const gk_front_pool_conf_t *conf;
	uint8_t check[256]; /* the check's name, wire; len 0: none */
	size_t check_len;
	uv_timer_t check_timer;
	struct slot *thead, *ttail; /* tries in flight, deadline order (one timeout per pool) */
	struct gk_fwd *f;
};

/* Client answers of one loop turn, sent with one sendmmsg per client socket. */
#define OBATCH 64u
#define OMAX   4096u

struct gk_fwd {
	uv_loop_t *loop;
	uv_timer_t timer; /* the earliest deadline of the pools' lists */
	uint64_t armed;   /* when it fires (loop time, ms); 0: not armed */
	uint16_t edns_udp_max;
	size_t n_pools;
	struct fpool *pools;
	size_t n_bs;      /* bs[0..n_bs): every socket index used so far (BS_CAP at most) */
	struct bsock *bs; /* BS_CAP */
	/* the sockets queries are sent from: act[fam][0..n_act[fam]) (fam 0: IPv4, 1: IPv6) */
	int act[2][BSOCKS];
	unsigned n_act[2];
	unsigned rot_next[2]; /* the position replaced next */
	uv_timer_t rotate;
	struct slot *slots, *free;
	uint32_t idmap[65536];  /* ID -> slot index + 1; 0: unused */
	gk_frnd_t rnd;          /* IDs and source sockets (rnd.h: no system call per query) */
	struct bconn *oneshots; /* open proxy_protocol connections */
	gk_fwd_counters_t ctr;
	/* dnstap of backend traffic (gk_front_fwd_set_tap), tap_fn NULL: none */
	gk_fwd_tap_fn tap_fn;
	void *tap;
	unsigned tap_ring;
	/* the client socket's own address (local_of), for PROXY headers; local_fd -1: none */
	int local_fd;
	struct sockaddr_storage local;
	/* rate limiting of UDP clients' answers (gk_front_fwd_set_limit), limit NULL: none */
	gk_fwd_limit_fn limit;
	void *limit_ctx;
	bool queued; /* datagrams to backends wait in a socket's queue */
	uint64_t rx; /* backend datagrams read (gk_front_fwd_rx): loop thread only */
	/* client answers waiting for gk_front_fwd_flush: all for client socket ofd */
	int ofd;
	unsigned on;
	struct mmsghdr omsg[OBATCH];
	struct iovec oiov[OBATCH];
	struct sockaddr_storage oaddr[OBATCH];
	uint8_t obatch[OBATCH][OMAX];
	/* backend answers read with one recvmmsg (edns_udp_max <= RMAX: we advertise it to the
	 * backends, so a larger answer is not theirs to send; else one recvfrom at a time
	 * into rbuf) */
	struct mmsghdr rmsg[RB];
	struct iovec riov[RB];
	struct sockaddr_storage raddr[RB];
	uint8_t rb[RB][RMAX];
	uint8_t rbuf[RBUF];
	uint8_t obuf[RBUF];
	uint8_t ebuf[RBUF]; /* an answer with the client's ECS echoed (relay) */
	/* the packet options in force (gk_front_fwd_set_opts), for the filing check of the
	 * other names an answer carries; opts NULL: none */
	gk_fwd_opts_fn opts;
	void *opts_ctx;
	uint8_t fbuf[RBUF]; /* an answer without a refused name's data (filter.h) */
};

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint64_t now_us(void)
{
	return uv_hrtime() / 1000u;
}

/* ---- answers to clients ----------------------------------------------------------------- */

/* Rate limiting of the answer m[0..len) to s's UDP client: 0 send it, 1 the slip response,
 * 2 drop it. The class from the answer's rcode, AA bit and counts (as rrl/rrl.h's for our own
 * answers; a backend's wildcard is not known here, nor its delegation point: a referral is
 * keyed by the forwarded apex). */
static int limited(struct gk_fwd *f, const struct slot *s, const uint8_t *m, size_t len)
{
	size_t qend = s->rq.qend;
	if (len < qend || qend < 17)
		return 0;
	uint8_t rcode = m[3] & 0x0f;
	unsigned cls;
	size_t off = 0; /* the source name: the question name from octet off */
	if (rcode != GK_RCODE_NOERROR) {
		cls = rcode == GK_RCODE_NXDOMAIN ? GK_RRL_NXDOMAIN : GK_RRL_ERROR;
		off = s->rrl_off;
	} else if (rd16(m + 6) == 0 && !(m[2] & 0x04) && rd16(m + 8) > 0) {
		cls = GK_RRL_REFERRAL;
		off = s->rrl_off;
	} else {
		cls = rd16(m + 6) == 0 ? GK_RRL_NODATA : GK_RRL_ANSWER;
	}
	size_t nlen = qend - 16u;
	if (off >= nlen)
		off = 0;
	return f->limit(f->limit_ctx, &s->rrl_client.sa, cls, m + 12 + off, nlen - off);
}

static void to_client(struct gk_fwd *f, const struct slot *s, const uint8_t *m, size_t len)
{
	if (s->kind == K_TCP) {
		s->deliver(s->ctx, s->conn, s->gen, m, len);
		return;
	}
	uint8_t slip[GK_FWD_QMAX];
	if (f->limit) {
		int v = limited(f, s, m, len);
		if (v == 2)
			return;
		if (v == 1) { /* the slip response: header and question, TC, no records */
			memcpy(slip, m, s->rq.qend);
			slip[2] |= 0x02;
			memset(slip + 6, 0, 6);
			m = slip;
			len = s->rq.qend;
		}
	}
	if (len > OMAX) { /* larger than a batch entry (a large edns_udp_max): on its own */
		if (sendto(s->fd, m, len, MSG_DONTWAIT, (const struct sockaddr *)&s->client,
		           s->clen) < 0)
			gk_counter_inc(&f->ctr.send_errors);
		return;
	}
	if (f->on == OBATCH || (f->on > 0 && f->ofd != s->fd))
		gk_front_fwd_flush(f);
	unsigned k = f->on++;
	f->ofd = s->fd;
	memcpy(f->obatch[k], m, len);
	memcpy(&f->oaddr[k], &s->client, s->clen);
	f->oiov[k] = (struct iovec){f->obatch[k], len};
	f->omsg[k].msg_hdr = (struct msghdr){.msg_name = &f->oaddr[k],
	                                     .msg_namelen = s->clen,
	                                     .msg_iov = &f->oiov[k],
	                                     .msg_iovlen = 1};
}

/* Send b's queued datagrams to backends. One the kernel does not take now is dropped and
 * counted (send_errors): its query times out and is retried elsewhere. */
static void bsock_flush(struct gk_fwd *f, struct bsock *b)
{
	unsigned done = 0;
	bool again = true;
	while (done < b->qn) {
		int n = sendmmsg(b->fd, b->qm + done, b->qn - done, MSG_DONTWAIT);
		if (n < 0 && again &&
		    (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH)) {
			again = false; /* IP_RECVERR: an earlier datagram's error, reported once */
			continue;
		}
		if (n <= 0) {
			gk_counter_inc(&f->ctr.send_errors);
			done++;
			continue;
		}
		done += (unsigned)n;
	}
	b->qn = 0;
}

void gk_front_fwd_flush(gk_fwd_t *f)
{
	if (f->queued) {
		f->queued = false;
		for (size_t i = 0; i < f->n_bs; i++)
			if (f->bs[i].qn)
				bsock_flush(f, &f->bs[i]);
	}
	unsigned done = 0;
	while (done < f->on) {
		int n = sendmmsg(f->ofd, f->omsg + done, f->on - done, MSG_DONTWAIT);
		if (n <= 0) { /* the kernel will not take this one now: dropped, counted */
			gk_counter_inc(&f->ctr.send_errors);
			done++;
			continue;
		}
		done += (unsigned)n;
	}
	f->on = 0;
}

/* The relay's own answer for why (SERVFAIL, FORMERR) to the client of s: header and
 * question of its query, our OPT with an Extended DNS Error naming why for EDNS. */
static void error_answer(struct gk_fwd *f, const struct slot *s, const uint8_t *q, size_t qend,
                         gk_relay_err_t why)
{
	uint8_t m[GK_FWD_QMAX + GK_RELAY_ERR_MAX];
	size_t len = gk_front_relay_error(q, qend, s->rq.client_id, why, s->edns, s->do_bit,
	                                  f->edns_udp_max, m);
	to_client(f, s, m, len);
}

/* SERVFAIL for why to the client of s. */
static void servfail(struct gk_fwd *f, const struct slot *s, const uint8_t *q, size_t qend,
                     gk_relay_err_t why)
{
	gk_counter_inc(&f->ctr.servfail);
	error_answer(f, s, q, qend, why);
}

/* The status step for a name an answer carries (filter.h gk_ffilter_fn); ctx: the options. */
static bool reg_refused(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	return gk_decide_reg_refused(ctx, reg, rlen, hash);
}

/* The question name of s in lowercase into name (256 octets): its length. */
static size_t qname_lower(const struct slot *s, uint8_t *name)
{
	size_t nlen = (size_t)s->rq.qend - 16u;
	for (size_t i = 0; i < nlen; i++)
		name[i] = gk_dname_lower[s->sent[12 + i]];
	return nlen;
}

/* The question of s as filter.h takes it: its name lowercase into name (256 octets). */
static void filter_q(const struct slot *s, const gk_pkt_opts_t *o, uint8_t *name,
                     gk_ffilter_q_t *fq)
{
	size_t nlen = qname_lower(s, name);
	*fq = (gk_ffilter_q_t){
	    .qname = name, .qlen = nlen, .reg_off = s->qreg, .psl = o ? o->psl : NULL};
}

/* The options whose filing check applies to the other names of s's answer, or NULL. */
static const gk_pkt_opts_t *filter_opts(struct gk_fwd *f, const struct slot *s)
{
	if (!s->filter || f->opts == NULL)
		return NULL;
	const gk_pkt_opts_t *o = f->opts(f->opts_ctx);
	return o && o->psl && o->status ? o : NULL;
}

/* Relay answer a[0..len) (the backend's, or a cache hit with its TTLs aged) to the client of
 * s, whose question bytes are q[12..qend). regs: the registrable domains it carries besides
 * the question's (NULL: not listed, none looked for). */
static void relay(struct gk_fwd *f, struct slot *s, const uint8_t *q, uint8_t *a, size_t len,
                  const gk_ffilter_regs_t *regs)
{
	const gk_pkt_opts_t *o = regs ? filter_opts(f, s) : NULL;
	if (o && gk_front_filter_refused(regs, reg_refused, (void *)o)) {
		/* data of a refused registrable domain: left out, as our own answers leave it */
		uint8_t name[256];
		gk_ffilter_q_t fq;
		unsigned gone = 0;
		filter_q(s, o, name, &fq);
		size_t n = gk_front_filter_apply(&fq, a, len, reg_refused, (void *)o, f->fbuf,
		                                 sizeof(f->fbuf), &gone);
		if (n == 0) { /* never the answer as it was */
			gk_counter_inc(&f->ctr.malformed);
			gk_counter_inc(&f->ctr.bad_answer);
			servfail(f, s, q, s->rq.qend, GK_RELAY_ERR_MALFORMED);
			return;
		}
		if (gone) {
			gk_counter_inc(&f->ctr.filtered);
			gk_counter_add(&f->ctr.filtered_records, gone);
			a = f->fbuf;
			len = n;
		}
	}
	memcpy(a + 12, q + 12, s->rq.qend - 12u);        /* the client's case (cache hits) */
	a[2] = (uint8_t)((a[2] & 0xfe) | (q[2] & 0x01)); /* its RD (RFC 1035 4.1.1) */
	int scope = s->cecs_on ? gk_front_relay_ecs_scope(a, len, s->rq.qend) : -1;
	bool has_opt;
	size_t l = gk_front_relay_fix_opt(a, len, s->rq.qend, s->edns, f->edns_udp_max, &has_opt);
	if (l != 0 && (s->cecs_on || (s->edns && !has_opt))) {
		/* the client's option back with the backend's scope (RFC 7871 7.2.2; none: 0); and
		 * an EDNS client's answer has an OPT even when the backend's had none (RFC 6891 7)
		 */
		memcpy(f->ebuf, a, l);
		a = f->ebuf;
		l = gk_front_relay_echo_ecs(
		    a, l, sizeof(f->ebuf), s->rq.qend, s->cecs_on ? &s->cecs : NULL,
		    scope > 0 ? (uint8_t)scope : 0, f->edns_udp_max, s->do_bit);
	}
	if (l == 0) {
		gk_counter_inc(&f->ctr.malformed);
		gk_counter_inc(&f->ctr.bad_answer);
		servfail(f, s, q, s->rq.qend, GK_RELAY_ERR_MALFORMED);
		return;
	}
	l = gk_front_relay_answer(&s->rq, a, l);
	gk_counter_inc(&f->ctr.answers);
	unsigned rc = a[3] & 0x0fu;
	gk_counter_inc(&f->ctr.rcode[rc < GK_FWD_RCODES_NAMED ? rc : GK_FWD_RCODES_NAMED]);
	to_client(f, s, a, l);
}

/* ---- the outstanding table ------------------------------------------------------------- */

static void wheel_cb(uv_timer_t *t);

/* Take s off its pool's deadline list (the timer may then fire for nothing: it re-arms). */
static void disarm(struct gk_fwd *f, struct slot *s)
{
	if (!s->timed)
		return;
	struct fpool *fp = &f->pools[s->pool];
	if (s->tprev)
		s->tprev->tnext = s->tnext;
	else
		fp->thead = s->tnext;
	if (s->tnext)
		s->tnext->tprev = s->tprev;
	else
		fp->ttail = s->tprev;
	s->tprev = s->tnext = NULL;
	s->timed = false;
}

/* Arm the relay's one timer for deadline d unless it fires earlier already. */
static void arm_timer(struct gk_fwd *f, uint64_t d)
{
	if (f->armed != 0 && f->armed <= d)
		return;
	uint64_t now = uv_now(f->loop);
	f->armed = d;
	(void)uv_timer_start(&f->timer, wheel_cb, d > now ? d - now : 0, 0);
}

/* s's try times out in its pool's timeout_ms: at the tail of the pool's list, which stays in
 * deadline order because every try of a pool has the same timeout. now: the try has failed
 * already (its TCP connection did): at the head with the deadline now instead, for the
 * relay's timer to treat it as a timeout at its next turn (after the connection's close, so
 * that a retry on the same backend opens a new one). */
static void arm_at(struct gk_fwd *f, struct slot *s, bool now)
{
	struct fpool *fp = &f->pools[s->pool];
	disarm(f, s);
	s->deadline = uv_now(f->loop) + (now ? 0 : fp->conf->timeout_ms);
	s->timed = true;
	if (now) {
		s->tprev = NULL;
		s->tnext = fp->thead;
		if (fp->thead)
			fp->thead->tprev = s;
		else
			fp->ttail = s;
		fp->thead = s;
		f->armed = 0; /* fire at the next turn, whatever it was armed for */
	} else {
		s->tnext = NULL;
		s->tprev = fp->ttail;
		if (fp->ttail)
			fp->ttail->tnext = s;
		else
			fp->thead = s;
		fp->ttail = s;
	}
	arm_timer(f, s->deadline);
}

static void arm(struct gk_fwd *f, struct slot *s)
{
	arm_at(f, s, false);
}

static void oneshot_drop(struct slot *s);

static void slot_free(struct gk_fwd *f, struct slot *s)
{
	if (f->idmap[s->rq.id] == (uint32_t)(s - f->slots) + 1u)
		f->idmap[s->rq.id] = 0;
	disarm(f, s);
	oneshot_drop(s);
	s->kind = K_FREE;
	s->next_free = f->free;
	f->free = s;
}

static uint16_t fresh_id(struct gk_fwd *f)
{
	for (;;) {
		uint16_t id = (uint16_t)gk_front_rnd_u32(&f->rnd);
		if (f->idmap[id] == 0)
			return id;
	}
}

static int pick_sock(struct gk_fwd *f, int family)
{
	unsigned fam = family == AF_INET6;
	if (f->n_act[fam] == 0)
		return -1;
	return f->act[fam][gk_front_rnd_below(&f->rnd, f->n_act[fam])];
}

/* ---- TCP to backends ------------------------------------------------------------------------ */

static void answer_in(struct gk_fwd *f, int si, uint8_t *a, size_t len,
                      const struct sockaddr_storage *from);

static void oneshot_free(struct bconn *c)
{
	struct gk_fwd *f = c->f;
	if (c->prev)
		c->prev->next = c->next;
	else
		f->oneshots = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf[0]);
	free(c->buf[1]);
	free(c->rbuf);
	free(c);
}

static void bc_closed_cb(uv_handle_t *h)
{
	struct bconn *c = h->data;
	c->state = BC_CLOSED;
	if (c->oneshot)
		oneshot_free(c);
}

/* A query's own connection (proxy_protocol) for backend b of pool, in f->oneshots. */
static struct bconn *oneshot_new(struct gk_fwd *f, uint16_t pool, uint16_t b, struct slot *s)
{
	struct bconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->cap = 2u + GK_PROXY_WRITE_MAX + sizeof(s->sent);
	c->buf[0] = malloc(c->cap);
	c->buf[1] = malloc(c->cap);
	c->rbuf = malloc(2u + 65535u);
	c->f = f;
	c->pool = pool;
	c->backend = b;
	c->oneshot = true;
	c->slot = s;
	c->next = f->oneshots;
	if (c->next)
		c->next->prev = c;
	f->oneshots = c;
	if (!c->buf[0] || !c->buf[1] || !c->rbuf) {
		oneshot_free(c);
		return NULL;
	}
	return c;
}

/* Let go of s's own connection: closed (freed once closed), or freed now if never opened. */
static void oneshot_drop(struct slot *s)
{
	struct bconn *c = s->oc;
	if (c == NULL)
		return;
	s->oc = NULL;
	c->slot = NULL;
	if (c->state == BC_CLOSED) {
		oneshot_free(c);
	} else if (c->state != BC_CLOSING) {
		c->state = BC_CLOSING;
		uv_close((uv_handle_t *)&c->h, bc_closed_cb);
	}
}

/* Close c: the queries sent on it time out and are retried (timeout_one). */
static void bc_close(struct bconn *c)
{
	if (c->state == BC_CLOSED || c->state == BC_CLOSING)
		return;
	c->state = BC_CLOSING;
	c->writing = false;
	c->wlen = c->plen = c->rlen = 0;
	if (c->oneshot && c->slot) {
		c->slot->oc = NULL; /* its query times out and is retried */
		c->slot = NULL;
	}
	gk_counter_inc(&c->f->ctr.tcp_errors);
	uv_close((uv_handle_t *)&c->h, bc_closed_cb);
}

/* c failed under its queries (reset, closed by the backend, a connect or write error): closed,
 * and each try on it fails now rather than at its timeout: retried as a timed-out one is
 * (another backend, else the same one on a new connection while tries are left), else
 * SERVFAIL with EDE 23 (GK_RELAY_ERR_CONN). Cold path: a scan of the table. */
static void bc_failed(struct bconn *c)
{
	struct gk_fwd *f = c->f;
	struct slot *own = c->oneshot ? c->slot : NULL;
	bool shared = !c->oneshot;
	uint16_t pool = c->pool;
	int16_t sock = (int16_t)(-1 - (int)c->backend);
	bc_close(c);
	if (own != NULL && own->timed) {
		own->conn_failed = true;
		arm_at(f, own, true);
	}
	for (size_t i = 0; shared && i < GK_FWD_SLOTS; i++) {
		struct slot *s = &f->slots[i];
		if (s->kind != K_FREE && s->kind != K_CHECK && s->tcp && s->oc == NULL &&
		    s->pool == pool && s->sock == sock && s->timed) {
			s->conn_failed = true;
			arm_at(f, s, true);
		}
	}
}

static void bc_write_cb(uv_write_t *req, int status);

/* Write the pending half unless a write is under way. */
static void bc_flush(struct bconn *c)
{
	if (c->state != BC_OPEN || c->writing || c->plen == 0)
		return;
	c->cur ^= 1u;
	c->wlen = c->plen;
	c->plen = 0;
	uv_buf_t b = uv_buf_init((char *)c->buf[c->cur], c->wlen);
	if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, bc_write_cb) != 0) {
		bc_close(c);
		return;
	}
	c->writing = true;
}

static void bc_write_cb(uv_write_t *req, int status)
{
	struct bconn *c = req->data;
	if (c->state != BC_OPEN)
		return;
	c->writing = false;
	c->wlen = 0;
	if (status < 0) {
		bc_failed(c);
		return;
	}
	bc_flush(c);
}

static void bc_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)suggested;
	struct bconn *c = h->data;
	*buf = uv_buf_init((char *)c->rbuf + c->rlen, 2u + 65535u - c->rlen);
}

static void bc_read(struct bconn *c, ssize_t n)
{
	if (n < 0) {
		bc_failed(c);
		return;
	}
	c->rlen += (uint32_t)n;
	const gk_fbackend_conf_t *bc = gk_front_pool_backend(c->f->pools[c->pool].p, c->backend);
	size_t off = 0;
	while (c->rlen - off >= 2) {
		size_t ml = rd16(c->rbuf + off);
		if (c->rlen - off < 2 + ml)
			break;
		if (c->oneshot && c->slot == NULL)
			return; /* its query is gone: oneshot_drop closed it */
		answer_in(c->f, -1 - (int)c->backend, c->rbuf + off + 2, ml, &bc->addr);
		if (c->state != BC_OPEN)
			return;
		off += 2 + ml;
	}
	memmove(c->rbuf, c->rbuf + off, c->rlen - off);
	c->rlen -= (uint32_t)off;
}

static void bc_read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	(void)buf;
	struct bconn *c = st->data;
	struct gk_fwd *f = c->f; /* c may be closing after this: its memory lasts till closed */
	bc_read(c, n);
	gk_front_fwd_flush(f); /* answers of UDP clients asked again over TCP */
}

static void bc_connect_cb(uv_connect_t *req, int status)
{
	struct bconn *c = req->data;
	if (c->state != BC_CONNECTING)
		return;
	if (status < 0 || uv_read_start((uv_stream_t *)&c->h, bc_alloc_cb, bc_read_cb) != 0) {
		c->state = BC_OPEN; /* so that bc_close closes it */
		bc_failed(c);
		gk_front_fwd_flush(c->f);
		return;
	}
	c->state = BC_OPEN;
	bc_flush(c);
}

/* Queue s's query (s->sent) on its backend's connection, opening it if need be. */
static int bc_send(struct gk_fwd *f, struct bconn *c, struct slot *s)
{
	if (c->state == BC_CLOSING)
		return GK_EAGAIN;
	if (c->plen + 2u + s->sent_len > c->cap)
		return GK_EAGAIN; /* the connection is that far behind: another backend */
	if (c->state == BC_CLOSED) {
		const gk_fbackend_conf_t *bc =
		    gk_front_pool_backend(f->pools[c->pool].p, c->backend);
		if (uv_tcp_init(f->loop, &c->h) != 0)
			return GK_EIO;
		c->h.data = c;
		c->creq.data = c;
		c->wreq.data = c;
		c->state = BC_CONNECTING;
		(void)uv_tcp_nodelay(&c->h, 1);
		if (uv_tcp_connect(&c->creq, &c->h, (const struct sockaddr *)&bc->addr,
		                   bc_connect_cb) != 0) {
			c->state = BC_CLOSING;
			uv_close((uv_handle_t *)&c->h, bc_closed_cb);
			gk_counter_inc(&f->ctr.tcp_errors);
			return GK_EIO;
		}
	}
	uint8_t *p = c->buf[c->cur ^ 1u] + c->plen;
	wr16(p, s->sent_len);
	memcpy(p + 2, s->sent, s->sent_len);
	c->plen += 2u + s->sent_len;
	bc_flush(c);
	return 0;
}

static void timeout_one(struct gk_fwd *f, struct slot *s);

/* One datagram to backend bc: s->sent, after s's PROXY header if it has one. */
static ssize_t send_dgram(int fd, const struct slot *s, const gk_fbackend_conf_t *bc)
{
	struct iovec iov[2] = {{(void *)s->phdr, s->phdr_len}, {(void *)s->sent, s->sent_len}};
	struct msghdr mh = {.msg_name = (void *)&bc->addr,
	                    .msg_namelen = bc->addrlen,
	                    .msg_iov = s->phdr_len ? iov : iov + 1,
	                    .msg_iovlen = s->phdr_len ? 2 : 1};
	ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT);
	/* IP_RECVERR: a port unreachable for an earlier datagram of this socket (another
	 * backend's, maybe) is reported once by the next call, and this datagram was not sent */
	if (n < 0 && (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH))
		n = sendmsg(fd, &mh, MSG_DONTWAIT);
	return n;
}

/* Queue s's datagram (its PROXY header, if any, and s->sent) on socket b for backend bc. */
static void queue_dgram(struct gk_fwd *f, struct bsock *b, const struct slot *s,
                        const gk_fbackend_conf_t *bc)
{
	if (b->qn == BQ)
		bsock_flush(f, b);
	unsigned k = b->qn++;
	memcpy(b->q[k], s->phdr, s->phdr_len);
	memcpy(b->q[k] + s->phdr_len, s->sent, s->sent_len);
	b->qiov[k] = (struct iovec){b->q[k], (size_t)s->phdr_len + s->sent_len};
	b->qm[k].msg_hdr = (struct msghdr){.msg_name = (void *)&bc->addr,
	                                   .msg_namelen = bc->addrlen,
	                                   .msg_iov = &b->qiov[k],
	                                   .msg_iovlen = 1};
	f->queued = true;
}

/* Send s's query (s->sent holds header and question) to a backend of its pool other than
 * `except`. Returns 0, or GK_ENOENT / GK_EBUSY (no backend) or an error. */
static int send_to(struct gk_fwd *f, struct slot *s, int b);

static int try_send(struct gk_fwd *f, struct slot *s, int except)
{
	int b = gk_front_pool_pick(f->pools[s->pool].p, except);
	return b < 0 ? b : send_to(f, s, b);
}

/* dnstap: s's query sent to backend addr (response false) or its answer (rtt_us after). */
static void tap(struct gk_fwd *f, const struct slot *s, bool response,
                const struct sockaddr_storage *addr, const uint8_t *m, size_t len, uint64_t rtt_us)
{
	const char *pool = f->pools[s->pool].conf->name;
	if (!f->tap_fn(f->tap, f->tap_ring, response, s->tcp, (const struct sockaddr *)addr, m, len,
	               rtt_us, pool, strlen(pool)))
		gk_counter_inc(&f->ctr.tap_dropped);
}

/* Send s's query to backend b of its pool. */
static int send_to(struct gk_fwd *f, struct slot *s, int b)
{
	struct fpool *fp = &f->pools[s->pool];
	const gk_fbackend_conf_t *bc = gk_front_pool_backend(fp->p, (unsigned)b);
	int si = s->tcp ? 0 : pick_sock(f, bc->addr.ss_family);
	if (si < 0)
		return GK_EINVAL;
	if (f->idmap[s->rq.id] == (uint32_t)(s - f->slots) + 1u)
		f->idmap[s->rq.id] = 0;
	s->rq.id = fresh_id(f);
	wr16(s->sent, s->rq.id);
	if (s->tcp) {
		struct bconn *c = &fp->bc[b];
		if (s->phdr_len) {
			/* the header names one client: a connection of this query's own */
			oneshot_drop(s);
			if ((c = oneshot_new(f, s->pool, (uint16_t)b, s)) == NULL)
				return GK_ENOMEM;
			s->oc = c;
			memcpy(c->buf[1], s->phdr, s->phdr_len);
			if (c->buf[1][12] == 0x21) /* PROXY: the transport is a stream here */
				c->buf[1][13] = (uint8_t)((c->buf[1][13] & 0xf0) | 0x01);
			c->plen = s->phdr_len;
		}
		int rc = bc_send(f, c, s);
		if (rc != 0 && s->oc)
			oneshot_drop(s);
		if (rc != 0) {
			if (rc == GK_EIO) { /* could not even start a connection: a failure */
				gk_front_pool_sent(fp->p, (unsigned)b);
				gk_front_pool_done(fp->p, (unsigned)b, GK_FPOOL_TIMEOUT, 0);
			}
			return rc; /* GK_EAGAIN (busy or closing): another backend may take it */
		}
		gk_counter_inc(&f->ctr.tcp_queries);
		si = -1 - b;
	} else {
		queue_dgram(f, &f->bs[si], s, bc);
	}
	if (f->tap_fn && s->kind != K_CHECK)
		tap(f, s, false, &bc->addr, s->sent, s->sent_len, 0);
	f->idmap[s->rq.id] = (uint32_t)(s - f->slots) + 1u;
	gk_front_pool_sent(fp->p, (unsigned)b);
	s->backend = (int16_t)b;
	s->sock = (int16_t)si;
	s->sent_us = now_us();
	s->tries++;
	s->conn_failed = false;
	arm(f, s);
	return 0;
}

/* Send, retrying on other backends while sends fail; false when nothing could be sent. */
static bool send_some(struct gk_fwd *f, struct slot *s, int except)
{
	const struct fpool *fp = &f->pools[s->pool];
	for (size_t k = 0; k <= gk_front_pool_size(fp->p); k++) {
		int rc = try_send(f, s, except);
		if (rc == 0)
			return true;
		if (rc == GK_ENOENT || rc == GK_EBUSY)
			return false;
	}
	return false;
}

static void timeout_one(struct gk_fwd *f, struct slot *s)
{
	struct fpool *fp = &f->pools[s->pool];
	int prev = s->backend;
	if (s->kind == K_CHECK) { /* checks are not queries: only their own count */
		gk_front_pool_checked(fp->p, (unsigned)prev, false, GK_FPOOL_TIMEOUT);
		slot_free(f, s);
		return;
	}
	gk_front_pool_done(fp->p, (unsigned)prev, GK_FPOOL_TIMEOUT, 0);
	if (s->tries <= fp->conf->retries) {
		gk_counter_inc(&f->ctr.retries);
		if (send_some(f, s, prev))
			return;
		/* no other backend can take it: the same one again (if still up) rather than
		 * nothing */
		if (gk_front_pool_is_up(fp->p, (unsigned)prev) && send_to(f, s, prev) == 0)
			return;
	}
	if (s->conn_failed)
		gk_counter_inc(&f->ctr.conn_failed);
	servfail(f, s, s->sent, s->rq.qend,
	         s->conn_failed ? GK_RELAY_ERR_CONN : GK_RELAY_ERR_TIMEOUT);
	slot_free(f, s);
}

/* The relay's timer: every try whose deadline passed times out, in deadline order; then
 * the timer is armed for the earliest deadline left. */
static void wheel_cb(uv_timer_t *t)
{
	struct gk_fwd *f = t->data;
	uint64_t now = uv_now(f->loop), next = 0;
	f->armed = 0;
	for (size_t p = 0; p < f->n_pools; p++) {
		struct fpool *fp = &f->pools[p];
		struct slot *s;
		while ((s = fp->thead) != NULL && s->deadline <= now) {
			disarm(f, s);
			timeout_one(f, s); /* a retry goes to the tail, a later deadline */
		}
		if (fp->thead && (next == 0 || fp->thead->deadline < next))
			next = fp->thead->deadline;
	}
	if (next)
		arm_timer(f, next);
	gk_front_fwd_flush(f);
}

/* The lowercase key of the query in s->sent; with subnet, for the client subnet sent. */
static void cache_key(const struct slot *s, uint8_t *name, gk_fcache_key_t *k, bool subnet)
{
	size_t nlen = qname_lower(s, name);
	*k = (gk_fcache_key_t){.name = name,
	                       .nlen = nlen,
	                       .type = rd16(s->sent + s->rq.qend - 4),
	                       .cls = rd16(s->sent + s->rq.qend - 2),
	                       .do_bit = s->do_bit,
	                       .cd = (s->sent[3] & 0x10) != 0,
	                       .ecs = subnet ? s->ecs_key : NULL,
	                       .ecs_len = subnet ? s->ecs_key_len : 0};
}

/* The address client socket fd is bound to (a UDP relay answers from one socket), asked of
 * the kernel once per socket rather than per query; NULL when fd < 0 or it cannot be had. */
static const struct sockaddr *local_of(struct gk_fwd *f, int fd)
{
	if (fd < 0)
		return NULL;
	if (f->local_fd != fd) {
		socklen_t ll = sizeof(f->local);
		f->local_fd = getsockname(fd, (struct sockaddr *)&f->local, &ll) == 0 ? fd : -1;
		if (f->local_fd < 0)
			return NULL;
	}
	return (const struct sockaddr *)&f->local;
}

/* A new client query: cache, else a backend, else SERVFAIL. */
static void start(struct gk_fwd *f, const uint8_t *q, const gk_pkt_result_t *res, int fd,
                  const struct sockaddr_storage *client, socklen_t clen,
                  const struct sockaddr *real, gk_fwd_deliver_fn fn, void *ctx, void *conn,
                  uint64_t gen)
{
	uint16_t qend = res->qend, qlen = res->qlen, pool = res->pool;
	bool edns = res->edns, do_bit = res->do_bit;
	gk_counter_inc(&f->ctr.queries);
	struct slot tmp, *s = f->free;
	if (s == NULL)
		s = &tmp; /* the table is full: a SERVFAIL is all this query gets */
	s->kind = fn ? K_TCP : K_UDP;
	s->tcp = fn != NULL;
	s->pool = pool;
	s->tries = 0;
	s->backend = -1;
	s->edns = edns;
	s->do_bit = do_bit;
	s->filter = res->filter;
	s->qreg = res->reg_len ? (int16_t)(res->reg_off - 12u) : -1;
	s->fd = fd;
	s->deliver = fn;
	s->ctx = ctx;
	s->conn = conn;
	s->gen = gen;
	s->clen = clen;
	if (client)
		memcpy(&s->client, client, clen);
	s->rrl_off = res->rrl_off;
	memset(&s->rrl_client, 0, sizeof(s->rrl_client));
	if (real && real->sa_family == AF_INET)
		memcpy(&s->rrl_client.v4, real, sizeof(s->rrl_client.v4));
	else if (real && real->sa_family == AF_INET6)
		memcpy(&s->rrl_client.v6, real, sizeof(s->rrl_client.v6));
	s->rq.client_id = rd16(q);
	s->rq.qend = qend;
	s->rq.client_limit = res->client_limit;
	s->sent_len = (uint16_t)gk_front_relay_query(q, qend, 0, do_bit, f->edns_udp_max, s->sent);
	s->ecs_key_len = 0;
	s->cecs_on = false;
	const gk_front_pool_conf_t *pc = f->pools[pool].conf;
	/* the client's own ECS option (RFC 7871), read when the pool speaks ECS: an invalid
	 * one is a FORMERR (7.1.1), nothing forwarded */
	int ce = pc->ecs && edns ? gk_front_relay_client_ecs(q, qlen, qend, &s->cecs) : 0;
	if (ce < 0) {
		gk_counter_inc(&f->ctr.ecs_invalid);
		error_answer(f, s, q, qend, GK_RELAY_ERR_ECS);
		return;
	}
	s->cecs_on = ce == 1;
	s->phdr_len = 0;
	s->oc = NULL;
	if (pc->proxy) {
		/* the client as the listener saw it (a load balancer's PROXY header, if any, named
		 * it), and the address it spoke to when the socket is ours (UDP) */
		const struct sockaddr *local = local_of(f, fd);
		int n = gk_proxy_write(s->phdr, sizeof(s->phdr), real, local, fn == NULL);
		s->phdr_len = n > 0 ? (uint8_t)n : 0;
	}
	if (pc->ecs) {
		size_t kl = 0;
		if (s->cecs_on && pc->ecs_client == GK_FRONT_ECS_KEEP)
			s->sent_len = (uint16_t)gk_front_relay_put_ecs(s->sent, s->sent_len,
			                                               &s->cecs, pc->ecs_v4,
			                                               pc->ecs_v6, s->ecs_key, &kl);
		else
			s->sent_len = (uint16_t)gk_front_relay_add_ecs(
			    s->sent, s->sent_len, real, pc->ecs_v4, pc->ecs_v6, s->ecs_key, &kl);
		s->ecs_key_len = (uint8_t)kl;
	}
	if (s == &tmp) {
		gk_counter_inc(&f->ctr.table_full);
		servfail(f, s, q, qend, GK_RELAY_ERR_TABLE_FULL);
		return;
	}
	struct fpool *fp = &f->pools[pool];
	if (fp->cache) {
		uint8_t name[256];
		gk_fcache_key_t k;
		gk_ffilter_regs_t regs;
		size_t n = 0;
		/* an answer for the client's subnet, else one for every client (ECS scope 0) */
		if (s->ecs_key_len) {
			cache_key(s, name, &k, true);
			n = gk_front_cache_get_regs(fp->cache, &k, uv_now(f->loop), f->obuf,
			                            sizeof(f->obuf), &regs);
		}
		if (n == 0) {
			cache_key(s, name, &k, false);
			n = gk_front_cache_get_regs(fp->cache, &k, uv_now(f->loop), f->obuf,
			                            sizeof(f->obuf), &regs);
		}
		if (n > 0) {
			gk_counter_inc(&f->ctr.cache_hits);
			wr16(f->obuf, rd16(q)); /* relay() restores ID and case */
			relay(f, s, q, f->obuf, n, &regs);
			return;
		}
	}
	f->free = s->next_free;
	s->rq.id = 0;
	if (!send_some(f, s, -1)) {
		gk_counter_inc(&f->ctr.no_backend);
		servfail(f, s, q, qend, GK_RELAY_ERR_NO_BACKEND);
		s->kind = K_FREE;
		s->next_free = f->free;
		f->free = s;
	}
}

/* ---- backend answers --------------------------------------------------------------------- */

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
	return x->sin6_port == y->sin6_port &&
	       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

/* A datagram that matched no outstanding query: counted on the backend it came from, if
 * it came from one (cold path: a scan of the pools). */
static void mismatch_from(struct gk_fwd *f, const struct sockaddr_storage *from)
{
	for (size_t p = 0; p < f->n_pools; p++)
		for (unsigned b = 0; b < gk_front_pool_size(f->pools[p].p); b++)
			if (same_addr(from, &gk_front_pool_backend(f->pools[p].p, b)->addr)) {
				gk_front_pool_mismatch(f->pools[p].p, b);
				return;
			}
}

static void answer_in(struct gk_fwd *f, int si, uint8_t *a, size_t len,
                      const struct sockaddr_storage *from)
{
	if (len < 12) {
		gk_counter_inc(&f->ctr.mismatched);
		return;
	}
	uint32_t idx = f->idmap[rd16(a)];
	struct slot *s = idx ? &f->slots[idx - 1] : NULL;
	if (s == NULL || s->sock != si) {
		gk_counter_inc(&f->ctr.mismatched);
		mismatch_from(f, from);
		return;
	}
	struct fpool *fp = &f->pools[s->pool];
	const gk_fbackend_conf_t *bc = gk_front_pool_backend(fp->p, (unsigned)s->backend);
	if (!same_addr(from, &bc->addr) || !gk_front_relay_match(&s->rq, s->sent, a, len)) {
		gk_front_pool_mismatch(fp->p, (unsigned)s->backend);
		gk_counter_inc(&f->ctr.mismatched);
		return;
	}
	uint8_t rcode = a[3] & 0x0f;
	if (f->tap_fn && s->kind != K_CHECK)
		tap(f, s, true, &bc->addr, a, len, now_us() - s->sent_us);
	if (s->kind == K_CHECK) {
		gk_front_pool_checked(fp->p, (unsigned)s->backend,
		                      rcode == GK_RCODE_NOERROR || rcode == GK_RCODE_NXDOMAIN,
		                      GK_FPOOL_SERVFAIL);
		slot_free(f, s);
		return;
	}
	gk_front_pool_done(fp->p, (unsigned)s->backend,
	                   rcode == GK_RCODE_SERVFAIL ? GK_FPOOL_SERVFAIL : GK_FPOOL_OK,
	                   now_us() - s->sent_us);
	if ((a[2] & 0x02) && !s->tcp) {
		gk_counter_inc(&f->ctr.truncated);
		if (fp->conf->tc == GK_FRONT_TC_RETRY_TCP) {
			/* the whole answer from the same backend over TCP */
			disarm(f, s);
			s->tcp = true;
			gk_counter_inc(&f->ctr.tcp_retries);
			if (send_to(f, s, s->backend) == 0)
				return;
			/* its connection cannot take it now: the truncated answer goes on */
		}
	}
	if (rcode == GK_RCODE_SERVFAIL && s->tries <= fp->conf->retries &&
	    gk_front_pool_size(fp->p) > 1) {
		/* another backend may do better */
		disarm(f, s);
		gk_counter_inc(&f->ctr.retries);
		if (send_some(f, s, s->backend))
			return;
	}
	/* the registrable domains the answer carries besides the question's: for the filing
	 * check now, and kept with a cached answer for its hits (whose decision may ask for
	 * the check when this one's did not) */
	gk_ffilter_regs_t regs, *rp = NULL;
	const gk_pkt_opts_t *o = f->opts ? f->opts(f->opts_ctx) : NULL;
	if (o && o->psl && o->status && (s->filter || fp->cache)) {
		uint8_t name[256];
		gk_ffilter_q_t fq;
		filter_q(s, o, name, &fq);
		(void)gk_front_filter_regs(&fq, a, len, &regs); /* malformed: regs.walk */
		rp = &regs;
	}
	if (fp->cache) {
		uint8_t name[256];
		gk_fcache_key_t k;
		/* ECS (RFC 7871 7.3): an answer whose scope is 0, or without the option, is for
		 * every client; any other for the client's subnet as sent (never wider) */
		cache_key(s, name, &k,
		          s->ecs_key_len && gk_front_relay_ecs_scope(a, len, s->rq.qend) > 0);
		/* without a listing (no status table now) a hit walks the answer */
		gk_ffilter_regs_t unknown = {.walk = true};
		(void)gk_front_cache_put_regs(fp->cache, &k, a, len, uv_now(f->loop),
		                              rp ? rp : &unknown);
	}
	relay(f, s, s->sent, a, len, rp);
	slot_free(f, s);
}

/* The kernel says port unreachable for backend address to (IP_RECVERR): every backend at
 * that address goes down at once, and the queries outstanding to it over UDP are sent
 * again to another backend of their pool now rather than at their timeout (SERVFAIL when
 * none is up). Cold path: a scan of the table. */
static void unreachable(struct gk_fwd *f, const struct sockaddr_storage *to)
{
	for (size_t p = 0; p < f->n_pools; p++) {
		struct fpool *fp = &f->pools[p];
		for (unsigned b = 0; b < gk_front_pool_size(fp->p); b++) {
			if (!same_addr(to, &gk_front_pool_backend(fp->p, b)->addr))
				continue;
			gk_front_pool_unreachable(fp->p, b);
			for (size_t i = 0; i < GK_FWD_SLOTS; i++) {
				struct slot *s = &f->slots[i];
				if (s->kind == K_FREE || s->pool != p || s->backend != (int16_t)b ||
				    s->sock < 0)
					continue;
				if (s->kind == K_CHECK) {
					gk_front_pool_checked(fp->p, b, false, GK_FPOOL_REFUSED);
					slot_free(f, s);
					continue;
				}
				disarm(f, s);
				gk_front_pool_done(fp->p, b, GK_FPOOL_REFUSED, 0);
				gk_counter_inc(&f->ctr.retries);
				if (!send_some(f, s, (int)b)) {
					gk_counter_inc(&f->ctr.no_backend);
					servfail(f, s, s->sent, s->rq.qend,
					         GK_RELAY_ERR_UNREACHABLE);
					slot_free(f, s);
				}
			}
		}
	}
}

/* Read b's error queue (IP_RECVERR / IPV6_RECVERR): port unreachable from backends. */
static void errqueue(struct gk_fwd *f, struct bsock *b)
{
	for (unsigned k = 0; k < RECV_BUDGET; k++) {
		struct sockaddr_storage to;
		uint8_t data[64];
		union {
			struct cmsghdr align;
			uint8_t b[256];
		} ctl;
		struct iovec iov = {data, sizeof(data)};
		struct msghdr mh = {.msg_name = &to,
		                    .msg_namelen = sizeof(to),
		                    .msg_iov = &iov,
		                    .msg_iovlen = 1,
		                    .msg_control = ctl.b,
		                    .msg_controllen = sizeof(ctl.b)};
		memset(&to, 0, sizeof(to));
		if (recvmsg(b->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT) < 0)
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (!((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
			      (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)))
				continue;
			struct sock_extended_err ee;
			memcpy(&ee, CMSG_DATA(c), sizeof(ee));
			if (ee.ee_errno == ECONNREFUSED && mh.msg_namelen > 0)
				unreachable(f, &to);
		}
	}
}

static void bsock_cb(uv_poll_t *h, int status, int events)
{
	struct bsock *b = h->data;
	struct gk_fwd *f = b->f;
	if (status < 0) {
		/* POLLERR (an ICMP error queued): libuv stopped the handle */
		errqueue(f, b);
		(void)uv_poll_start(&b->h, UV_READABLE, bsock_cb);
		events = UV_READABLE;
	}
	if (!(events & UV_READABLE))
		return;
	if (f->edns_udp_max > RMAX) {
		for (unsigned k = 0; k < RECV_BUDGET; k++) {
			struct sockaddr_storage from;
			socklen_t fl = sizeof(from);
			ssize_t n = recvfrom(b->fd, f->rbuf, sizeof(f->rbuf), MSG_DONTWAIT,
			                     (struct sockaddr *)&from, &fl);
			if (n < 0) {
				if (errno == EAGAIN || errno == EWOULDBLOCK)
					break;
				continue; /* an ICMP error (IP_RECVERR): errqueue() reads it */
			}
			f->rx++;
			answer_in(f, (int)(b - f->bs), f->rbuf, (size_t)n, &from);
		}
		gk_front_fwd_flush(f);
		return;
	}
	for (unsigned k = 0; k < RECV_BUDGET; k += RB) {
		for (unsigned i = 0; i < RB; i++) {
			f->riov[i] = (struct iovec){f->rb[i], RMAX};
			f->rmsg[i].msg_hdr = (struct msghdr){.msg_name = &f->raddr[i],
			                                     .msg_namelen = sizeof(f->raddr[i]),
			                                     .msg_iov = &f->riov[i],
			                                     .msg_iovlen = 1};
		}
		int n = recvmmsg(b->fd, f->rmsg, RB, MSG_DONTWAIT, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			continue; /* an ICMP error (IP_RECVERR): errqueue() reads it */
		}
		f->rx += (unsigned)n;
		for (int i = 0; i < n; i++) {
			if (f->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC) {
				gk_counter_inc(&f->ctr.malformed); /* larger than we advertised */
				continue;
			}
			answer_in(f, (int)(b - f->bs), f->rb[i], f->rmsg[i].msg_len, &f->raddr[i]);
		}
		if ((unsigned)n < RB)
			break;
	}
	gk_front_fwd_flush(f);
}

/* ---- entry points -------------------------------------------------------------------------- */

const char *gk_front_fwd_rcode_name(unsigned i)
{
	static const char *const names[GK_FWD_RCODES_NAMED + 1] = {
	    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "other"};
	return names[i < GK_FWD_RCODES_NAMED ? i : GK_FWD_RCODES_NAMED];
}

uint64_t gk_front_fwd_rx(const gk_fwd_t *f)
{
	return f->rx;
}

void gk_front_fwd_udp(gk_fwd_t *f, const uint8_t *q, const gk_pkt_result_t *res, int fd,
                      const struct sockaddr *client, socklen_t clen, const struct sockaddr *real)
{
	if (res->qend > GK_FWD_QMAX || clen > sizeof(struct sockaddr_storage))
		return;
	start(f, q, res, fd, (const struct sockaddr_storage *)client, clen, real ? real : client,
	      NULL, NULL, NULL, 0);
}

void gk_front_fwd_submit(gk_fwd_t *f, const uint8_t *q, const gk_pkt_result_t *res,
                         const struct sockaddr *client, gk_fwd_deliver_fn fn, void *ctx, void *conn,
                         uint64_t gen)
{
	start(f, q, res, -1, NULL, 0, client, fn, ctx, conn, gen);
	gk_front_fwd_flush(f);
}

/* ---- active health checks ---------------------------------------------------------------- */

static void check_cb(uv_timer_t *t)
{
	struct fpool *fp = t->data;
	struct gk_fwd *f = fp->f;
	unsigned pool = (unsigned)(fp - f->pools);
	for (unsigned b = 0; b < gk_front_pool_size(fp->p); b++) {
		struct slot *s = f->free;
		if (s == NULL)
			return;
		const gk_fbackend_conf_t *bc = gk_front_pool_backend(fp->p, b);
		int si = pick_sock(f, bc->addr.ss_family);
		if (si < 0)
			continue;
		f->free = s->next_free;
		s->kind = K_CHECK;
		s->tcp = false;
		s->pool = (uint16_t)pool;
		s->tries = 1;
		s->backend = (int16_t)b;
		s->sock = (int16_t)si;
		s->rq.id = fresh_id(f);
		/* SOA query: header, name, type SOA, class IN, our OPT */
		uint8_t q[GK_FWD_QMAX], *m = s->sent;
		memset(q, 0, 12);
		wr16(q + 4, 1);
		memcpy(q + 12, fp->check, fp->check_len);
		size_t qend = 12 + fp->check_len;
		wr16(q + qend, 6);
		wr16(q + qend + 2, 1);
		qend += 4;
		s->rq.qend = (uint16_t)qend;
		s->sent_len =
		    (uint16_t)gk_front_relay_query(q, qend, s->rq.id, false, f->edns_udp_max, m);
		s->oc = NULL;
		s->phdr_len = 0;
		if (fp->conf->proxy) /* the check speaks for us: LOCAL */
			s->phdr_len =
			    (uint8_t)gk_proxy_write(s->phdr, sizeof(s->phdr), NULL, NULL, true);
		if (send_dgram(f->bs[si].fd, s, bc) < 0) {
			gk_front_pool_checked(fp->p, b, false,
			                      errno == ECONNREFUSED ? GK_FPOOL_REFUSED
			                                            : GK_FPOOL_TIMEOUT);
			s->kind = K_FREE;
			s->next_free = f->free;
			f->free = s;
			continue;
		}
		gk_counter_inc(&f->ctr.checks);
		f->idmap[s->rq.id] = (uint32_t)(s - f->slots) + 1u;
		s->sent_us = now_us();
		arm(f, s);
	}
}

/* ---- life cycle ----------------------------------------------------------------------------- */

static void bsock_closed(uv_handle_t *h)
{
	struct bsock *b = h->data;
	close(b->fd);
	b->fd = -1;
	b->state = BS_FREE;
}

static int open_bsock(struct gk_fwd *f, int family, struct bsock *b)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct sockaddr_storage any = {.ss_family = (sa_family_t)family};
	socklen_t al = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (bind(fd, (struct sockaddr *)&any, al) != 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	/* ICMP errors (port unreachable from a dead backend) on the error queue, with the
	 * backend's address: errqueue() */
	int on = 1;
	if (family == AF_INET)
		(void)setsockopt(fd, SOL_IP, IP_RECVERR, &on, sizeof(on));
	else
		(void)setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &on, sizeof(on));
	b->fd = fd;
	b->family = family;
	b->f = f;
	b->state = BS_ACTIVE;
	b->qn = 0;
	int rc = uv_poll_init(f->loop, &b->h, fd);
	if (rc != 0) {
		close(fd);
		b->fd = -1;
		b->state = BS_FREE;
		return rc;
	}
	b->h.data = b;
	if ((rc = uv_poll_start(&b->h, UV_READABLE, bsock_cb)) != 0) {
		b->state = BS_CLOSING; /* closed with its handle: bsock_closed */
		uv_close((uv_handle_t *)&b->h, bsock_closed);
	}
	return rc;
}

/* Close the draining sockets no try in flight was sent from (and nothing queued on), then
 * replace the next active socket of each family by a new one on a new port. A socket that
 * cannot be opened now (descriptors exhausted) leaves the old one in place, counted. */
static void rotate_cb(uv_timer_t *t)
{
	struct gk_fwd *f = t->data;
	bool used[BS_CAP] = {false};
	for (size_t i = 0; i < GK_FWD_SLOTS; i++) {
		const struct slot *s = &f->slots[i];
		if (s->kind != K_FREE && s->sock >= 0)
			used[s->sock] = true;
	}
	for (size_t i = 0; i < f->n_bs; i++) {
		struct bsock *b = &f->bs[i];
		if (b->state == BS_DRAINING && !used[i] && b->qn == 0) {
			b->state = BS_CLOSING;
			uv_close((uv_handle_t *)&b->h, bsock_closed);
		}
	}
	for (unsigned fam = 0; fam < 2; fam++) {
		if (f->n_act[fam] == 0)
			continue;
		size_t j = 0;
		while (j < BS_CAP && f->bs[j].state != BS_FREE)
			j++;
		if (j == BS_CAP) { /* every spare still draining: the ports stay a while longer */
			gk_counter_inc(&f->ctr.rotate_errors);
			continue;
		}
		struct bsock *nb = &f->bs[j];
		int rc = open_bsock(f, fam ? AF_INET6 : AF_INET, nb);
		if (rc != 0) { /* open_bsock let go of what it had opened */
			gk_counter_inc(&f->ctr.rotate_errors);
			continue;
		}
		if (j >= f->n_bs)
			f->n_bs = j + 1;
		unsigned pos = f->rot_next[fam]++ % f->n_act[fam];
		f->bs[f->act[fam][pos]].state = BS_DRAINING;
		f->act[fam][pos] = (int)j;
		gk_counter_inc(&f->ctr.rotations);
	}
}

void gk_front_fwd_set_rotate(gk_fwd_t *f, unsigned ms)
{
	if (ms == 0)
		(void)uv_timer_stop(&f->rotate);
	else
		(void)uv_timer_start(&f->rotate, rotate_cb, ms, ms);
}

unsigned gk_front_fwd_source_ports(const gk_fwd_t *f, int family, uint16_t *ports, unsigned max)
{
	unsigned fam = family == AF_INET6, n = 0;
	for (unsigned k = 0; k < f->n_act[fam] && n < max; k++) {
		struct sockaddr_storage a;
		socklen_t al = sizeof(a);
		if (getsockname(f->bs[f->act[fam][k]].fd, (struct sockaddr *)&a, &al) != 0)
			continue;
		ports[n++] = ntohs(a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
		                                          : ((struct sockaddr_in6 *)&a)->sin6_port);
	}
	return n;
}

void gk_front_fwd_set_opts(gk_fwd_t *f, gk_fwd_opts_fn fn, void *ctx)
{
	f->opts = fn;
	f->opts_ctx = ctx;
}

void gk_front_fwd_set_limit(gk_fwd_t *f, gk_fwd_limit_fn fn, void *ctx)
{
	f->limit = fn;
	f->limit_ctx = ctx;
}

void gk_front_fwd_set_tap(gk_fwd_t *f, gk_fwd_tap_fn fn, void *tap, unsigned ring)
{
	f->tap_fn = tap ? fn : NULL;
	f->tap = tap;
	f->tap_ring = ring;
}

size_t gk_front_fwd_cache_share(unsigned cache_size, unsigned parts_total, unsigned parts)
{
	if (parts == 0)
		parts = 1;
	if (parts_total < parts)
		parts_total = parts;
	size_t n = (size_t)((uint64_t)cache_size * parts / parts_total);
	return cache_size == 0 ? 0 : n < 1 ? 1 : n;
}

void gk_front_fwd_cache_stats(const gk_fwd_t *f, size_t pool, gk_fcache_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	if (pool < f->n_pools && f->pools[pool].cache)
		gk_front_cache_stats(f->pools[pool].cache, st);
}

int gk_front_fwd_new(uv_loop_t *loop, const gk_front_conf_t *conf, uint16_t edns_udp_max,
                     unsigned parts_total, unsigned parts, gk_fwd_t **out, char *err, size_t errlen)
{
	int rc = GK_ENOMEM;
	struct gk_fwd *f = calloc(1, sizeof(*f));
	if (f == NULL)
		goto nomem;
	f->loop = loop;
	f->local_fd = -1;
	f->edns_udp_max = edns_udp_max;
	gk_front_rnd_init(&f->rnd);
	f->pools = calloc(conf->n_pools ? conf->n_pools : 1, sizeof(*f->pools));
	f->slots = calloc(GK_FWD_SLOTS, sizeof(*f->slots));
	f->bs = calloc(BS_CAP, sizeof(*f->bs));
	if (!f->pools || !f->slots || !f->bs)
		goto nomem;
	for (size_t i = 0; i < BS_CAP; i++)
		f->bs[i].fd = -1;
	f->n_pools = conf->n_pools;
	bool fam4 = false, fam6 = false;
	for (size_t i = 0; i < conf->n_pools; i++) {
		const gk_front_pool_conf_t *pc = &conf->pools[i];
		struct fpool *fp = &f->pools[i];
		fp->f = f;
		fp->conf = pc;
		if ((rc = gk_front_pool_new(&pc->health, pc->name, pc->backends, pc->n_backends,
		                            &fp->p)) != 0)
			goto fail;
		if ((fp->bc = calloc(pc->n_backends, sizeof(*fp->bc))) == NULL)
			goto nomem;
		for (size_t b = 0; b < pc->n_backends; b++) {
			struct bconn *c = &fp->bc[b];
			c->f = f;
			c->pool = (uint16_t)i;
			c->backend = (uint16_t)b;
			c->buf[0] = malloc(BC_BUF);
			c->buf[1] = malloc(BC_BUF);
			c->rbuf = malloc(2u + 65535u);
			c->cap = BC_BUF;
			if (!c->buf[0] || !c->buf[1] || !c->rbuf)
				goto nomem;
		}
		if (pc->cache_size) {
			size_t entries =
			    gk_front_fwd_cache_share(pc->cache_size, parts_total, parts);
			if ((rc = gk_front_cache_new(entries * gk_front_cache_entry_bytes(),
			                             CACHE_TTLMAX, &fp->cache)) != 0)
				goto fail;
		}
		for (size_t b = 0; b < pc->n_backends; b++) {
			fam4 |= pc->backends[b].addr.ss_family == AF_INET;
			fam6 |= pc->backends[b].addr.ss_family == AF_INET6;
		}
		const char *cn = pc->check_name;
		for (size_t z = 0; cn == NULL && z < conf->n_zones; z++)
			if (conf->zones[z].pool == i)
				cn = conf->zones[z].name;
		/* a zone named "" is the root, as in gk_pkt_fzones_add */
		fp->check_len = cn == NULL ? 0
		                : *cn      ? gk_dname_from_text(cn, strlen(cn), fp->check, 0)
		                           : gk_dname_from_text(".", 1, fp->check, 0);
	}
	for (size_t i = 0; i < GK_FWD_SLOTS; i++) {
		struct slot *s = &f->slots[i];
		s->f = f;
		s->oc = NULL;
		s->next_free = f->free;
		f->free = s;
	}
	for (int fam = 0; fam < 2; fam++) {
		if (!(fam ? fam6 : fam4))
			continue;
		for (unsigned k = 0; k < BSOCKS; k++) {
			rc = open_bsock(f, fam ? AF_INET6 : AF_INET, &f->bs[f->n_bs]);
			if (f->bs[f->n_bs].fd >= 0) {
				f->act[fam][f->n_act[fam]++] = (int)f->n_bs;
				f->n_bs++;
			}
			if (rc != 0) {
				snprintf(err, errlen, "front end: backend socket: %s",
				         rc > -1000 ? strerror(-rc) : uv_strerror(rc));
				goto fail_quiet;
			}
		}
	}
	if ((rc = uv_timer_init(loop, &f->timer)) != 0)
		goto uverr;
	f->timer.data = f;
	if ((rc = uv_timer_init(loop, &f->rotate)) != 0)
		goto uverr;
	f->rotate.data = f;
	if ((rc = uv_timer_start(&f->rotate, rotate_cb, GK_FWD_ROTATE_MS, GK_FWD_ROTATE_MS)) != 0)
		goto uverr;
	for (size_t i = 0; i < f->n_pools; i++) {
		struct fpool *fp = &f->pools[i];
		if (fp->check_len == 0)
			continue;
		unsigned iv = fp->conf->check_interval_ms;
		if ((rc = uv_timer_init(loop, &fp->check_timer)) != 0)
			goto uverr;
		fp->check_timer.data = fp;
		/* the first check at once spread over a tenth of the interval */
		if ((rc = uv_timer_start(&fp->check_timer, check_cb,
		                         arc4random_uniform(iv / 10 + 1), iv)) != 0)
			goto uverr;
	}
	*out = f;
	return 0;
uverr:
	snprintf(err, errlen, "front end: libuv: %s", uv_strerror(rc));
	goto fail_quiet;
nomem:
	rc = GK_ENOMEM;
fail:
	snprintf(err, errlen, "front end: %s", gk_strerror(rc));
fail_quiet:
	*out = f; /* handles are on the loop: the caller closes them, then gk_front_fwd_free */
	return rc;
}

void gk_front_fwd_free(gk_fwd_t *f)
{
	if (f == NULL)
		return;
	for (size_t i = 0; f->bs && i < BS_CAP; i++)
		if (f->bs[i].fd >= 0)
			close(f->bs[i].fd);
	/* connections of single queries still open when the loop's handles were closed */
	while (f->oneshots)
		oneshot_free(f->oneshots);
	for (size_t i = 0; f->pools && i < f->n_pools; i++) {
		for (size_t b = 0; f->pools[i].bc && b < gk_front_pool_size(f->pools[i].p); b++) {
			free(f->pools[i].bc[b].buf[0]);
			free(f->pools[i].bc[b].buf[1]);
			free(f->pools[i].bc[b].rbuf);
		}
		free(f->pools[i].bc);
		gk_front_pool_free(f->pools[i].p);
		gk_front_cache_free(f->pools[i].cache);
	}
	free(f->pools);
	free(f->slots);
	free(f->bs);
	free(f);
}

void gk_front_fwd_counters_read(const gk_fwd_t *f, gk_fwd_counters_t *sum)
{
	const uint64_t *s = (const uint64_t *)&f->ctr;
	uint64_t *d = (uint64_t *)sum;
	for (size_t i = 0; i < sizeof(f->ctr) / sizeof(uint64_t); i++)
		d[i] += __atomic_load_n(&s[i], __ATOMIC_RELAXED);
}

size_t gk_front_fwd_pools(const gk_fwd_t *f)
{
	return f->n_pools;
}

size_t gk_front_fwd_backends(const gk_fwd_t *f, size_t pool)
{
	return pool < f->n_pools ? gk_front_pool_size(f->pools[pool].p) : 0;
}

void gk_front_fwd_backend_stats(const gk_fwd_t *f, size_t pool, size_t b, gk_fbackend_stats_t *st)
{
	gk_front_pool_stats(f->pools[pool].p, (unsigned)b, st);
}
