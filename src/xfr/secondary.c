/* SPDX-License-Identifier: MIT */
/* src/xfr/secondary.c -- the secondary zones' refresh loop (secondary.h).
 *
 * Threads: the main loop creates, publishes (gk_zone_store_put in main_async_cb) and frees; the
 * transfer thread runs its own loop with one timer per zone and every exchange; query
 * threads only call gk_xfr_secondary_notify, which reads immutable fields and pushes onto a
 * bounded multi-producer ring (Vyukov's array queue: one CAS per push, never a lock), read
 * by the transfer thread alone. Zone state is the transfer thread's; the few figures the
 * metrics show are copied under s->mu, which guards nothing else than them, the slot table
 * and the queue of operations waiting for the main loop (neither thread is a query thread).
 *
 * The set of zones changes while running (catalog members come and go): each zone is its own
 * allocation in a slot of the slot table, named by a handle (slot, generation). The NOTIFY
 * ring and `gkctl zone refresh` carry handles, and the transfer thread drops one whose slot
 * has moved on to another generation, so a NOTIFY never reaches a freed zone. The query
 * threads find a zone by apex in an immutable sorted index (apex, primaries, handle: no
 * pointer into a zone) that the transfer thread builds after each change and the main loop
 * publishes with one atomic store, retiring the old one through the zone store's retire
 * function (gk_zone_store_retire): it is freed once every query thread has passed a quiescent
 * point, as replaced zone versions are.
 */
#include "xfr/secondary.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/dname.h"
#include "common/file.h"
#include "common/log.h"
#include "common/thread.h"
#include "pkt/fzones.h"
#include "xfr/catalog.h"
#include "xfr/internal.h"
#include "xfr/save.h"
#include "xfr/zfile.h"

#define RING       4096u /* NOTIFYs queued between two turns of the transfer loop */
#define TSIG_SLOTS 64u   /* TSIG contexts made in advance for signed NOTIFYs */

struct zone {
	gk_secondary_t *s;
	const gk_xfr_zone_conf_t *conf; /* a configured zone or catalog; NULL for a member */
	char *name;                     /* as configured; a member's: lowercase, no final dot */
	char *lname;                    /* lowercase, no final dot (catalog.h's form) */
	uint8_t *apex;                  /* lowercase wire form, apex_len octets */
	size_t apex_len;
	char *path; /* the persisted file */
	uv_timer_t timer;
	uint32_t slot, gen; /* handle: the slot table entry and its generation */
	/* transfer thread */
	bool have_data, busy, again, queued, removed;
	bool saving;       /* its file is being saved (save.h): no exchange until it is */
	bool load_pending; /* a member known at start: its file is loaded by the thread */
	unsigned primary;  /* the one to ask next */
	uint32_t refresh, retry, expire;
	struct zone *next_pending, *next_dying;
	gk_catalog_t cat;   /* a catalog's members as last read (conf->catalog) */
	struct zone *owner; /* a member's catalog */
	/* under s->mu (written by the transfer thread, or main before the thread starts) */
	const gk_xfr_primary_conf_t *prim; /* into the conf: the zone's, a template's */
	size_t n_prim;
	/* a forwarded member: its group's template forwards (fwd->pool): no transfer, no
	 * timer, no file, not in the store; prim NULL, n_prim 0. NULL: transferred */
	const gk_xfr_template_t *fwd;
	uint32_t serial;
	bool expired;
	uint64_t last_ok, next_check, expire_at; /* ms since the epoch */
	uint64_t checks, transfers_axfr, transfers_ixfr, failures, backwards;
	size_t last_bytes;
	uint64_t last_xfr;
	enum gk_xfr_kind last_kind; /* of the last transfer (valid when last_xfr != 0) */
	const char *asked;          /* the primary of the last check (the config's text) */
	char *last_error;           /* NULL while the last check succeeded */
};

/* The NOTIFY index: every zone's apex, primaries and handle, sorted by apex. Immutable once
 * published; one allocation. */
struct ient {
	const uint8_t *apex;
	size_t apex_len;
	const char *name;
	const gk_xfr_primary_conf_t *prim;
	size_t n_prim;
	uint32_t slot, gen;
};
struct idx {
	size_t n;
	struct ient e[];
};

static void close_cb(uv_handle_t *h)
{
	(void)h; /* the handles live in the object, freed on the main thread */
}

/* An operation for the main loop, in order: publish a version, remove a zone, publish an
 * index, hand over the forwarded members' table. */
struct pub {
	gk_zver_t *v;  /* PUT */
	uint8_t *apex; /* REMOVE (malloc'd) */
	size_t apex_len;
	bool if_fwd;     /* REMOVE only if the zone is forwarded now (see gone below) */
	struct idx *idx; /* INDEX */
	bool member;     /* PUT of a catalog member: never over a zone from files */
	/* FWD: the forwarded members' new table (NULL: none forwarded), and the members that
	 * were transferred until this change: their versions leave the store once every
	 * query thread has passed a quiescent point after the table's view was published
	 * (before, a query could read the store without them and the view without the
	 * table: REFUSED for a moment). gone: wire apexes, each a length octet then the name */
	bool fwd_op;
	gk_fzones_t *fz;
	uint8_t *gone;
	size_t gone_len;
	struct pub *next;
};

/* The secondary as the deferred removals (FWD's gone) see it: NULL once it is freed. Main
 * thread only. */
struct link {
	gk_secondary_t *s;
	unsigned refs;
};

struct cell {
	_Atomic size_t seq;
	uint32_t slot, gen;
};

/* A TSIG context for the query threads, claimed for one NOTIFY (busy set) and handed
 * back after its answer is signed: no OpenSSL fetch or context allocation there. */
struct tslot {
	atomic_flag busy;
	gk_tsig_ctx_t *ctx;
};

struct gk_secondary {
	uv_loop_t *main;
	gk_zoneset_t *zs;
	const gk_xfr_conf_t *conf;
	const struct gk_psl *psl;
	void (*published)(void *);
	void *ctx;
	/* the slot table (changed by the transfer thread, or main before it starts, under mu) */
	struct zone **slots;
	uint32_t *gens;
	size_t nslot, capslot, n;
	uint32_t *freel;
	size_t nfree;
	struct zone *dying;        /* removed while an exchange ran: freed when it ends */
	_Atomic(struct idx *) idx; /* published (main) */
	struct idx *tidx;          /* the newest built (transfer thread's name lookups) */
	uv_async_t main_async;
	uv_mutex_t mu;
	struct pub *pubq, **pubtail;
	struct zone **cfgz; /* the configured zones, in config order */
	gk_xfr_saver_t *saver;
	/* forwarded members: the table handed to the main loop last (main; one reference)
	 * and, on the transfer thread, their count, whether the set changed since the last
	 * table, and the members that stopped being transferred since then (wire apexes,
	 * each a length octet then the name) */
	gk_fzones_t *fwd;
	struct link *link;
	size_t nfwd;
	bool fwd_dirty;
	uint8_t *gone;
	size_t gone_len, gone_cap;
	double fwd_build_ms; /* the last table's build, for the log and the metrics */
	/* transfer thread */
	uv_thread_t thr;
	bool started, loop_ready;
	bool running; /* the thread runs (set by it; main before: false) */
	uv_loop_t loop;
	uv_async_t wake;
	atomic_bool stop;
	unsigned active;
	struct zone *pend_head, *pend_tail;
	/* NOTIFY ring */
	struct cell ring[RING];
	_Atomic size_t tail;
	size_t head;
	_Atomic uint64_t notify_ok, notify_refused, notify_dropped;
	struct tslot *tsig; /* TSIG_SLOTS of them when a key is configured, else NULL */
	_Atomic size_t tsig_next;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ms scaled down by up to 10% at random: a million zones do not refresh in lock-step */
static uint64_t jitter(uint64_t ms)
{
	uint32_t r = 0;
	if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
		r = (uint32_t)rand();
	return ms - ms / 10 * (r % 1000) / 1000;
}

/* ---- zone text, SOA timers and the persisted file ------------------------------------ */

/* The SOA's serial and timers from a zone's records (the first is the SOA). */
static int soa_of(const uint8_t *w, size_t len, struct zone *z, uint32_t *serial)
{
	ldns_rr *rr = NULL;
	size_t pos = 0;
	int rc = GK_ESYNTAX;
	if (ldns_wire2rr(&rr, w, len, &pos, LDNS_SECTION_ANSWER) == LDNS_STATUS_OK &&
	    ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7) {
		*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		z->refresh = ldns_rdf2native_int32(ldns_rr_rdf(rr, 3));
		z->retry = ldns_rdf2native_int32(ldns_rr_rdf(rr, 4));
		z->expire = ldns_rdf2native_int32(ldns_rr_rdf(rr, 5));
		rc = 0;
	}
	ldns_rr_free(rr);
	return rc;
}

/* A zero timer would spin. */
static void timers_fix(struct zone *z)
{
	z->refresh = z->refresh ? z->refresh : 1;
	z->retry = z->retry ? z->retry : 1;
}

/* The persisted file's bytes (zfile.h); malloc'd. */
static uint8_t *file_bytes(struct zone *z, const gk_xfr_result_t *r, uint64_t refreshed,
                           const char *primary, const struct zone *soa, uint32_t serial,
                           size_t *out_len)
{
	gk_xfr_zfile_t zf = {
	    .refreshed = refreshed / 1000,
	    .serial = serial,
	    .refresh = soa->refresh,
	    .retry = soa->retry,
	    .expire = soa->expire,
	    .name = z->lname,
	    .primary = primary,
	    .rrs = r->wire,
	    .rrs_len = r->wire_len,
	    .count = (uint32_t)r->count,
	};
	uint8_t *b = NULL;
	return gk_xfr_zfile_encode(&zf, &b, out_len) == 0 ? b : NULL;
}

/* The persisted file read and checked (zfile.h): *buf (free it) holds what *zf points
 * into. Returns 0, -ENOENT (no file), a read error, or GK_ESYNTAX / GK_ERANGE from the
 * check with err saying why. */
static int read_persisted(struct zone *z, uint8_t **buf, gk_xfr_zfile_t *zf, char *err,
                          size_t errlen)
{
	char *b = NULL;
	size_t len = 0;
	int rc = gk_file_read(z->path, z->s->conf->max_zone_bytes * 4 + (1u << 20), &b, &len);
	if (rc != 0) {
		snprintf(err, errlen, "%s", gk_strerror(rc));
		return rc;
	}
	rc = gk_xfr_zfile_decode((const uint8_t *)b, len, z->name, zf, err, errlen);
	if (rc != 0) {
		free(b);
		return rc;
	}
	*buf = (uint8_t *)b;
	return 0;
}

static int build(struct zone *z, const uint8_t *w, size_t len, size_t count, gk_zver_t **v,
                 char *err, size_t errlen)
{
	gk_zone_spec_t spec = {.name = z->name,
	                       .wire = w,
	                       .wire_len = len,
	                       .wire_count = (uint32_t)count,
	                       .secondary = true};
	return gk_zone_ver_build(&spec, z->s->psl, v, err, errlen);
}

/* The zone's placeholder (gk_zone_ver_placeholder): SERVFAIL for its names, never transferred
 * or expired. */
static int placeholder(struct zone *z, gk_zver_t **v)
{
	gk_zone_spec_t spec = {.name = z->name, .secondary = true};
	return gk_zone_ver_placeholder(&spec, v);
}

/* ---- hand-off to the main loop -------------------------------------------------------- */

static void push_op(gk_secondary_t *s, struct pub *p)
{
	p->next = NULL;
	uv_mutex_lock(&s->mu);
	*s->pubtail = p;
	s->pubtail = &p->next;
	uv_mutex_unlock(&s->mu);
	if (s->main_async.loop)
		uv_async_send(&s->main_async);
}

static void publish(struct zone *z, gk_zver_t *v)
{
	struct pub *p = calloc(1, sizeof(*p));
	if (!p) {
		gk_log(GK_LOG_ERR, "secondary: out of memory publishing a zone version");
		gk_zone_ver_free(v);
		return;
	}
	p->v = v;
	p->member = z->owner != NULL;
	push_op(z->s, p);
}

/* Take the zone out of the store (a member that left its catalog). */
static void unpublish(struct zone *z)
{
	struct pub *p = calloc(1, sizeof(*p));
	uint8_t *a = malloc(z->apex_len);
	if (!p || !a) {
		gk_log(GK_LOG_ERR, "secondary: zone %s: out of memory removing it", z->name);
		free(p);
		free(a);
		return;
	}
	memcpy(a, z->apex, z->apex_len);
	p->apex = a;
	p->apex_len = z->apex_len;
	push_op(z->s, p);
}

static void idx_free(void *p)
{
	free(p);
}

/* The deferred removals of a FWD op: their grace period is over (every query thread reads
 * the view with the new table): queue them (checked against the table then current). */
struct gone_tok {
	struct link *link;
	uint8_t *gone;
	size_t len;
	struct gone_tok *next; /* waiting in drain for the view to be published */
};

static void link_put(struct link *l)
{
	if (l && --l->refs == 0)
		free(l);
}

static void gone_fire(void *obj)
{
	struct gone_tok *t = obj;
	gk_secondary_t *s = t->link->s;
	for (size_t o = 0; s && o < t->len; o += 1u + t->gone[o]) {
		struct pub *p = calloc(1, sizeof(*p));
		uint8_t *a = malloc(t->gone[o]);
		if (!p || !a) {
			gk_log(GK_LOG_ERR, "secondary: out of memory removing a forwarded member's "
			                   "transferred version");
			free(p);
			free(a);
			continue;
		}
		memcpy(a, t->gone + o + 1, t->gone[o]);
		p->apex = a;
		p->apex_len = t->gone[o];
		p->if_fwd = true;
		push_op(s, p);
	}
	link_put(t->link);
	free(t->gone);
	free(t);
}

/* A FWD op on the main loop: the new table becomes current (the caller's view follows it in
 * published); the members it took from the store go after a grace period, which starts
 * once the view is published (drain retires *toks then). */
static void fwd_handover(gk_secondary_t *s, struct pub *p, struct gone_tok **toks)
{
	gk_pkt_fzones_free(s->fwd);
	s->fwd = p->fz;
	p->fz = NULL;
	if (!p->gone)
		return;
	struct gone_tok *t = malloc(sizeof(*t));
	if (!t) {
		gk_log(GK_LOG_ERR, "secondary: out of memory: forwarded members keep their "
		                   "transferred versions");
		free(p->gone);
		p->gone = NULL;
		return;
	}
	*t = (struct gone_tok){.link = s->link, .gone = p->gone, .len = p->gone_len, .next = *toks};
	s->link->refs++;
	p->gone = NULL;
	*toks = t;
}

/* Carry out the operations queued so far, in order; notify: tell the caller (published). Main
 * thread. */
static void drain(gk_secondary_t *s, bool notify)
{
	uv_mutex_lock(&s->mu);
	struct pub *p = s->pubq;
	s->pubq = NULL;
	s->pubtail = &s->pubq;
	uv_mutex_unlock(&s->mu);
	if (!p)
		return;
	struct gone_tok *toks = NULL;
	while (p) {
		struct pub *next = p->next;
		if (p->fwd_op) {
			fwd_handover(s, p, &toks);
		} else if (p->idx) {
			struct idx *old = atomic_exchange(&s->idx, p->idx);
			if (old)
				gk_zone_store_retire(s->zs, old, idx_free);
		} else if (p->apex) {
			const gk_zver_t *cur = gk_zone_store_get(s->zs, p->apex, p->apex_len);
			if (p->if_fwd && gk_pkt_fzones_get(s->fwd, p->apex, p->apex_len) < 0)
				cur = NULL; /* transferred again since: it stays */
			if (cur && gk_zone_ver_is_secondary(cur) &&
			    gk_zone_store_remove(s->zs, p->apex, p->apex_len) != 0)
				gk_log(GK_LOG_ERR, "secondary: cannot remove a zone");
			free(p->apex);
		} else {
			size_t al;
			const uint8_t *apex = gk_zone_ver_apex_wire(p->v, &al);
			const gk_zver_t *cur = gk_zone_store_get(s->zs, apex, al);
			if (p->member && cur && !gk_zone_ver_is_secondary(cur)) {
				/* a zone from files holds the name: it keeps it */
				if (gk_zone_ver_is_placeholder(p->v)) {
					char zn[GK_ZVER_NAME_MAX];
					gk_log(GK_LOG_WARN,
					       "secondary: catalog member %s is also a zone from "
					       "files: the file zone is served",
					       gk_zone_ver_name(p->v, zn, sizeof zn));
				}
				gk_zone_ver_free(p->v);
			} else if (gk_zone_store_put(s->zs, p->v) != 0) {
				gk_log(GK_LOG_ERR,
				       "secondary: out of memory publishing a zone version");
				gk_zone_ver_free(p->v);
			}
		}
		free(p);
		p = next;
	}
	if (notify && s->published)
		s->published(s->ctx);
	while (toks) { /* after the view with the new table is out */
		struct gone_tok *t = toks;
		toks = t->next;
		gk_zone_store_retire(s->zs, t, gone_fire);
	}
}

static void main_async_cb(uv_async_t *a)
{
	drain(a->data, true);
}

/* ---- the refresh cycle (transfer thread) ---------------------------------------------- */

static void check(struct zone *z);
static void timer_cb(uv_timer_t *t);

static void schedule(struct zone *z, uint64_t ms)
{
	uint64_t now = now_ms();
	if (z->have_data && !z->expired && z->expire_at > now && z->expire_at - now < ms)
		ms = z->expire_at - now; /* wake up at expiry */
	uv_mutex_lock(&z->s->mu);
	z->next_check = now + ms;
	uv_mutex_unlock(&z->s->mu);
	uv_timer_start(&z->timer, timer_cb, ms, 0);
}

/* Republish the zone from its persisted text or, when expired, its placeholder (SERVFAIL). */
static void republish(struct zone *z, bool servfail)
{
	char err[512];
	uint8_t *buf = NULL;
	gk_xfr_zfile_t zf;
	gk_zver_t *v = NULL;
	if (servfail) {
		if (placeholder(z, &v) != 0)
			gk_log(GK_LOG_ERR, "secondary: zone %s: out of memory", z->name);
		else
			publish(z, v);
		return;
	}
	if (read_persisted(z, &buf, &zf, err, sizeof(err)) != 0 ||
	    build(z, zf.rrs, zf.rrs_len, zf.count, &v, err, sizeof(err)) != 0) {
		gk_log(GK_LOG_ERR, "secondary: zone %s: cannot rebuild from %s: %s", z->name,
		       z->path, err);
		free(buf);
		return;
	}
	free(buf);
	publish(z, v);
}

static void succeeded(struct zone *z)
{
	uint64_t now = now_ms();
	uv_mutex_lock(&z->s->mu);
	z->last_ok = now;
	z->expire_at = now + (uint64_t)z->expire * 1000u;
	bool was_expired = z->expired;
	z->expired = false;
	free(z->last_error);
	z->last_error = NULL;
	uv_mutex_unlock(&z->s->mu);
	if (was_expired) {
		gk_log(GK_LOG_INFO, "secondary: zone %s refreshed: served again", z->name);
		republish(z, false);
	}
	schedule(z, jitter((uint64_t)z->refresh * 1000u));
}

static void failed(struct zone *z, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void failed(struct zone *z, const char *fmt, ...)
{
	char msg[320];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	gk_log(GK_LOG_WARN, "secondary: zone %s: %s%s", z->name, msg,
	       z->have_data ? " (the current version keeps serving)" : "");
	char *copy = strdup(msg);
	uv_mutex_lock(&z->s->mu);
	z->failures++;
	free(z->last_error);
	z->last_error = copy; /* NULL when out of memory: the log line above has it */
	uv_mutex_unlock(&z->s->mu);
	z->primary = (z->primary + 1) % (unsigned)z->n_prim;
	schedule(z, jitter((uint64_t)(z->have_data ? z->retry : 5) * 1000u));
}

static void expire_now(struct zone *z)
{
	uv_mutex_lock(&z->s->mu);
	z->expired = true;
	uv_mutex_unlock(&z->s->mu);
	gk_log(GK_LOG_ERR,
	       "secondary: zone %s expired (no successful refresh for %u s): answering SERVFAIL",
	       z->name, z->expire);
	republish(z, true);
}

static void zone_reap(struct zone *z);
static void unqueue(struct zone *z);
static void fwd_changed(gk_secondary_t *s, long delta);
static void load_persisted(struct zone *z);
static void publish_placeholder(struct zone *z);
static size_t load_many(struct zone **zs, size_t n);
static void catalog_update(struct zone *cz, const char *text, size_t len);
static void catalog_update_wire(struct zone *cz, const uint8_t *w, size_t len, size_t count);

/* A zone's file is saved (or failed to be). */
static void saved_cb(void *ctx, void *tag, int rc, const char *path)
{
	(void)ctx;
	struct zone *z = tag;
	z->saving = false;
	if (z->removed) {
		unlink(path); /* renamed into place after the zone left its catalog */
		if (!z->busy)
			zone_reap(z);
		return;
	}
	if (z->fwd) {
		unlink(path); /* forwarded since: a forwarded member has no file */
		return;
	}
	if (rc != 0)
		gk_log(GK_LOG_ERR,
		       "secondary: zone %s: cannot save %s: %s (served; transferred again after a "
		       "restart)",
		       z->name, path, gk_strerror(rc));
	if (z->again && !z->busy) {
		z->again = false;
		check(z);
	}
}

static void exchange_over(struct zone *z)
{
	gk_secondary_t *s = z->s;
	z->busy = false;
	s->active--;
	bool gone = z->removed;
	if (gone && !z->saving)
		zone_reap(z); /* left its catalog while the exchange ran: z is freed */
	while (s->pend_head && s->active < s->conf->max_transfers) {
		struct zone *n = s->pend_head;
		s->pend_head = n->next_pending;
		if (!s->pend_head)
			s->pend_tail = NULL;
		n->queued = false;
		check(n);
	}
	if (!gone && z->again) {
		z->again = false;
		check(z);
	}
}

/* NULL for a forwarded member (no primaries; its exchanges' results are dropped). */
static const gk_xfr_primary_conf_t *primary_of(struct zone *z)
{
	return z->n_prim ? &z->prim[z->primary % z->n_prim] : NULL;
}

static void xfr_done(void *ctx, gk_xfr_result_t *r)
{
	struct zone *z = ctx;
	const gk_xfr_primary_conf_t *p = primary_of(z);
	if (atomic_load(&z->s->stop))
		return;
	if (z->removed || z->fwd) { /* gone, or forwarded since the exchange began */
		exchange_over(z);
		return;
	}
	if (r->rc != 0) {
		failed(z, "%s from %s: %s", r->kind == GK_XFR_IXFR ? "IXFR" : "AXFR", p->text,
		       r->err);
	} else if (r->uptodate) {
		succeeded(z);
	} else {
		char err[512] = "no SOA record first";
		gk_zver_t *v = NULL;
		uint32_t serial = 0;
		struct zone tz = *z; /* timers of the new SOA, applied on success only */
		if (soa_of(r->wire, r->wire_len, &tz, &serial) != 0 ||
		    build(z, r->wire, r->wire_len, r->count, &v, err, sizeof(err)) != 0) {
			failed(z, "transfer from %s does not load: %s", p->text, err);
		} else {
			uint64_t now = now_ms();
			/* saved by the saver thread with others (one flush per batch): the
			 * zone takes no IXFR until its file is in place (z->saving) */
			size_t flen = 0;
			/* the header holds the SOA's timers as they are (zfile.h checks) */
			uint8_t *fb = file_bytes(z, r, now, p->text, &tz, serial, &flen);
			if (!fb || gk_xfr_saver_put(z->s->saver, z->path, (char *)fb, flen, z) != 0)
				gk_log(GK_LOG_ERR, "secondary: zone %s: out of memory saving %s",
				       z->name, z->path);
			else
				z->saving = true;
			timers_fix(&tz);
			z->refresh = tz.refresh;
			z->retry = tz.retry;
			z->expire = tz.expire;
			bool was_expired = z->expired;
			uv_mutex_lock(&z->s->mu);
			z->serial = serial;
			z->expired = false;
			if (r->kind == GK_XFR_IXFR)
				z->transfers_ixfr++;
			else
				z->transfers_axfr++;
			z->last_bytes = r->bytes;
			z->last_xfr = now;
			z->last_kind = r->kind;
			uv_mutex_unlock(&z->s->mu);
			z->have_data = true;
			gk_log(GK_LOG_INFO,
			       "secondary: zone %s: %s from %s%s, serial %u, %zu records, "
			       "%zu octets%s",
			       z->name, r->kind == GK_XFR_IXFR ? "IXFR" : "AXFR", p->text,
			       r->fell_back ? " (IXFR fell back)" : "", serial, r->rrs, r->bytes,
			       was_expired ? ": served again" : "");
			publish(z, v);
			/* already republished: succeeded() must not rebuild it */
			z->expired = false;
			succeeded(z);
			if (z->conf && z->conf->catalog)
				catalog_update_wire(z, r->wire, r->wire_len, r->count);
		}
	}
	exchange_over(z);
}

static void start_transfer(struct zone *z)
{
	const gk_xfr_primary_conf_t *p = primary_of(z);
	gk_xfr_request_t req = {
	    .zone = z->name,
	    .kind = z->have_data ? GK_XFR_IXFR : GK_XFR_AXFR,
	    .serial = z->serial,
	    .addr = (const struct sockaddr *)&p->addr,
	    .key = p->key,
	    .lim = {.max_bytes = z->s->conf->max_zone_bytes,
	            .max_rrs = z->s->conf->max_zone_records},
	    .timeout_ms = z->s->conf->timeout_ms,
	};
	uint8_t *buf = NULL;
	gk_xfr_zfile_t zf;
	char err[320];
	if (req.kind == GK_XFR_IXFR) {
		if (read_persisted(z, &buf, &zf, err, sizeof(err)) == 0) {
			req.cur = zf.rrs;
			req.cur_len = zf.rrs_len;
			req.cur_count = zf.count;
		} else {
			gk_log(GK_LOG_WARN, "secondary: zone %s: %s: %s: AXFR instead of IXFR",
			       z->name, z->path, err);
			req.kind = GK_XFR_AXFR;
		}
	}
	int rc = gk_xfr_start(&z->s->loop, &req, xfr_done, z);
	free(buf);
	if (rc != 0) {
		failed(z, "cannot start a transfer: %s", gk_strerror(rc));
		exchange_over(z);
	}
}

static void soa_done(void *ctx, gk_xfr_result_t *r)
{
	struct zone *z = ctx;
	const gk_xfr_primary_conf_t *p = primary_of(z);
	if (atomic_load(&z->s->stop))
		return;
	if (z->removed || z->fwd) {
		exchange_over(z);
		return;
	}
	if (r->rc != 0) {
		failed(z, "SOA query to %s: %s", p->text, r->err);
		exchange_over(z);
		return;
	}
	if (!z->have_data || gk_xfr_serial_gt(r->serial, z->serial)) {
		start_transfer(z); /* the exchange goes on */
		return;
	}
	if (r->serial != z->serial) {
		gk_log(
		    GK_LOG_WARN,
		    "secondary: zone %s: primary %s has serial %u, older than ours (%u): ignored",
		    z->name, p->text, r->serial, z->serial);
		uv_mutex_lock(&z->s->mu);
		z->backwards++;
		uv_mutex_unlock(&z->s->mu);
	}
	succeeded(z);
	exchange_over(z);
}

static void check(struct zone *z)
{
	gk_secondary_t *s = z->s;
	if (z->fwd)
		return; /* forwarded: nothing to transfer (a NOTIFY, `zone refresh`) */
	if (z->busy || z->saving) {
		z->again = true;
		return;
	}
	if (s->active >= s->conf->max_transfers) {
		if (!z->queued) {
			z->queued = true;
			z->next_pending = NULL;
			if (s->pend_tail)
				s->pend_tail->next_pending = z;
			else
				s->pend_head = z;
			s->pend_tail = z;
		}
		return;
	}
	uv_timer_stop(&z->timer);
	const gk_xfr_primary_conf_t *p = primary_of(z);
	gk_xfr_request_t req = {
	    .zone = z->name,
	    .kind = GK_XFR_SOA,
	    .addr = (const struct sockaddr *)&p->addr,
	    .key = p->key,
	    .lim = {.max_bytes = 65535, .max_rrs = 1000},
	    .timeout_ms = s->conf->timeout_ms,
	};
	z->busy = true;
	s->active++;
	uv_mutex_lock(&s->mu);
	z->checks++;
	z->asked = p->text;
	uv_mutex_unlock(&s->mu);
	if (!z->have_data) {
		/* nothing to compare a serial with: ask for the zone at once (one exchange
		 * instead of two, as for a new catalog member) */
		start_transfer(z);
		return;
	}
	int rc = gk_xfr_start(&s->loop, &req, soa_done, z);
	if (rc != 0) {
		failed(z, "cannot start an SOA query: %s", gk_strerror(rc));
		exchange_over(z);
	}
}

static void timer_cb(uv_timer_t *t)
{
	struct zone *z = t->data;
	if (z->fwd)
		return;
	if (z->have_data && !z->expired && now_ms() >= z->expire_at)
		expire_now(z);
	check(z);
}

/* NOTIFYs queued by the query threads, and the stop request. */
static void wake_cb(uv_async_t *a)
{
	gk_secondary_t *s = a->data;
	if (atomic_load(&s->stop)) {
		/* end every exchange (their callbacks see stop) and close our handles: the
		 * loop then runs out of work and the thread returns */
		gk_xfr_cancel_all(&s->loop);
		gk_xfr_saver_close(s->saver); /* the batch being written is finished */
		s->saver = NULL;
		for (size_t i = 0; i < s->nslot; i++)
			if (s->slots[i])
				uv_close((uv_handle_t *)&s->slots[i]->timer, close_cb);
		for (struct zone *z = s->dying; z; z = z->next_dying)
			uv_close((uv_handle_t *)&z->timer, close_cb);
		uv_close((uv_handle_t *)&s->wake, close_cb);
		return;
	}
	for (;;) {
		struct cell *c = &s->ring[s->head & (RING - 1)];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (seq != s->head + 1)
			break;
		uint32_t slot = c->slot, gen = c->gen;
		atomic_store_explicit(&c->seq, s->head + RING, memory_order_release);
		s->head++;
		/* a handle whose zone has gone (or whose slot holds another zone) is dropped */
		if (slot < s->nslot && s->gens[slot] == gen && s->slots[slot])
			check(s->slots[slot]);
	}
}

/* The zone's first check: at once for a zone without data, when its refresh is due for a
 * persisted one. */
static void first_check(struct zone *z)
{
	if (z->fwd)
		return;
	uint64_t now = now_ms();
	uint64_t due = z->have_data ? z->last_ok + (uint64_t)z->refresh * 1000u : 0;
	uint64_t ms = due > now ? due - now : jitter(z->have_data ? 1000 : 200);
	schedule(z, ms);
}

static void thread_main(void *arg)
{
	gk_secondary_t *s = arg;
	gk_thread_name("gk-xfr");
	s->running = true;
	/* the members the persisted catalogs list: their files first, published as they load
	 * (queries meanwhile get SERVFAIL from their placeholders, as for zones from files at
	 * start); no primary is asked before every one is loaded */
	uint64_t t0 = uv_hrtime();
	size_t npend = 0, loaded = 0;
	struct zone **pend = malloc((s->nslot + 1) * sizeof(*pend));
	for (size_t i = 0; i < s->nslot; i++) {
		struct zone *z = s->slots[i];
		if (z && z->load_pending) {
			z->load_pending = false;
			if (pend)
				pend[npend++] = z;
			else
				load_persisted(z); /* out of memory for the list: one by one */
		}
	}
	if (npend)
		loaded = load_many(pend, npend);
	free(pend);
	if (npend)
		gk_log(GK_LOG_INFO,
		       "secondary: %zu catalog member zones loaded from %s (%zu files) in %.2f s",
		       npend, s->conf->directory, loaded, (double)(uv_hrtime() - t0) / 1e9);
	for (size_t i = 0; i < s->nslot; i++)
		if (s->slots[i])
			first_check(s->slots[i]);
	uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ---- the set of zones: slots, handles, the index -------------------------------------- */

static void zone_free_mem(struct zone *z)
{
	free(z->name);
	free(z->lname);
	free(z->apex);
	free(z->path);
	free(z->last_error);
	gk_xfr_catalog_free(&z->cat);
	free(z);
}

static void zone_close_cb(uv_handle_t *h)
{
	zone_free_mem(h->data);
}

/* A new zone in a free slot, its timer on the transfer loop (transfer thread, or main
 * before the thread starts). owner: a member's catalog. NULL when out of memory or for a
 * bad name (err set). */
static struct zone *zone_new(gk_secondary_t *s, const char *name, const gk_xfr_zone_conf_t *zc,
                             const gk_xfr_primary_conf_t *prim, size_t n_prim, struct zone *owner,
                             char *err, size_t errlen)
{
	gk_tsig_key_t probe; /* the apex in lowercase wire form */
	if (gk_xfr_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0) {
		snprintf(err, errlen, "secondary: zone %s: bad name", name);
		return NULL;
	}
	struct zone *z = calloc(1, sizeof(*z));
	if (!z)
		goto oom;
	z->s = s;
	z->conf = zc;
	z->owner = owner;
	z->prim = prim;
	z->n_prim = n_prim;
	z->name = strdup(name);
	z->lname = strdup(name);
	z->apex = malloc(probe.name_len);
	if (!z->name || !z->lname || !z->apex)
		goto oom;
	size_t k = 0;
	for (const char *c = name; *c; c++)
		z->lname[k++] = (char)gk_dname_lower[(uint8_t)*c];
	if (k > 1 && z->lname[k - 1] == '.')
		k--;
	z->lname[k] = 0;
	memcpy(z->apex, probe.name, probe.name_len);
	z->apex_len = probe.name_len;
	char fn[256];
	k = 0;
	for (const char *c = z->lname; *c && k + 1 < sizeof(fn); c++)
		fn[k++] = *c == '/' ? '_' : *c;
	fn[k] = 0;
	if (asprintf(&z->path, "%s/%s.zone", s->conf->directory, fn) < 0) {
		z->path = NULL;
		goto oom;
	}
	z->refresh = 3600;
	z->retry = 600;
	z->expire = 604800;
	z->timer.data = z;
	uv_mutex_lock(&s->mu);
	if (s->nfree == 0 && s->nslot == s->capslot) {
		size_t cap = s->capslot ? s->capslot * 2 : 64;
		struct zone **sl = realloc(s->slots, cap * sizeof(*sl));
		if (sl)
			s->slots = sl;
		uint32_t *g = sl ? realloc(s->gens, cap * sizeof(*g)) : NULL;
		if (g)
			s->gens = g;
		uint32_t *f = g ? realloc(s->freel, cap * sizeof(*f)) : NULL;
		if (!f) {
			uv_mutex_unlock(&s->mu);
			goto oom;
		}
		s->freel = f;
		s->capslot = cap;
	}
	if (s->nfree > 0) {
		z->slot = s->freel[--s->nfree];
	} else {
		z->slot = (uint32_t)s->nslot++;
		s->gens[z->slot] = 0;
	}
	z->gen = s->gens[z->slot];
	s->slots[z->slot] = z;
	s->n++;
	uv_mutex_unlock(&s->mu);
	if (uv_timer_init(&s->loop, &z->timer) != 0) {
		/* cannot fail on Linux; the slot stays empty */
		uv_mutex_lock(&s->mu);
		s->slots[z->slot] = NULL;
		s->gens[z->slot]++;
		s->freel[s->nfree++] = z->slot;
		s->n--;
		uv_mutex_unlock(&s->mu);
		goto oom;
	}
	return z;
oom:
	snprintf(err, errlen, "secondary: out of memory");
	if (z) {
		free(z->name);
		free(z->lname);
		free(z->apex);
		free(z->path);
		free(z);
	}
	return NULL;
}

/* Remove the zone from the set (a member that left its catalog): out of the slot table (its
 * handles go stale), the store and the directory; freed now, or when its exchange ends.
 * Transfer thread. */
static void zone_drop(struct zone *z)
{
	gk_secondary_t *s = z->s;
	uv_mutex_lock(&s->mu);
	s->slots[z->slot] = NULL;
	s->gens[z->slot]++;
	s->freel[s->nfree++] = z->slot;
	s->n--;
	uv_mutex_unlock(&s->mu);
	unqueue(z);
	uv_timer_stop(&z->timer);
	/* a forwarded member may still have a transferred version waiting to go (the FWD
	 * op's gone list): out of the store too; its forwarding ends with the next table */
	if (z->fwd)
		fwd_changed(s, -1);
	unpublish(z);
	if (unlink(z->path) != 0 && errno != ENOENT)
		gk_log(GK_LOG_WARN, "secondary: zone %s: cannot remove %s: %s", z->name, z->path,
		       strerror(errno));
	if (z->busy || z->saving) {
		z->removed = true;
		z->next_dying = s->dying;
		s->dying = z;
	} else {
		uv_close((uv_handle_t *)&z->timer, zone_close_cb);
	}
}

/* A removed zone's exchange has ended: free it. Transfer thread. */
static void zone_reap(struct zone *z)
{
	struct zone **pp = &z->s->dying;
	while (*pp && *pp != z)
		pp = &(*pp)->next_dying;
	if (*pp)
		*pp = z->next_dying;
	uv_close((uv_handle_t *)&z->timer, zone_close_cb);
}

static int cmp_apex(const void *a, const void *b);

/* A new index of every zone in the slot table; NULL when out of memory. */
static struct idx *idx_build(gk_secondary_t *s)
{
	size_t n = 0, extra = 0;
	for (size_t i = 0; i < s->nslot; i++) {
		struct zone *z = s->slots[i];
		if (z) {
			n++;
			extra += z->apex_len + strlen(z->name) + 1;
		}
	}
	struct idx *ix = malloc(sizeof(*ix) + n * sizeof(ix->e[0]) + extra);
	if (!ix)
		return NULL;
	char *blob = (char *)&ix->e[n];
	ix->n = n;
	size_t k = 0;
	uv_mutex_lock(&s->mu); /* prim changes under it */
	for (size_t i = 0; i < s->nslot; i++) {
		struct zone *z = s->slots[i];
		if (!z)
			continue;
		struct ient *e = &ix->e[k++];
		memcpy(blob, z->apex, z->apex_len);
		e->apex = (const uint8_t *)blob;
		e->apex_len = z->apex_len;
		blob += z->apex_len;
		size_t nl = strlen(z->name) + 1;
		memcpy(blob, z->name, nl);
		e->name = blob;
		blob += nl;
		e->prim = z->prim;
		e->n_prim = z->n_prim;
		e->slot = z->slot;
		e->gen = z->gen;
	}
	uv_mutex_unlock(&s->mu);
	qsort(ix->e, n, sizeof(ix->e[0]), cmp_apex);
	return ix;
}

/* After a change of the set: build the index and have the main loop publish it (at once
 * before the thread runs: no query thread reads it yet). */
static void idx_update(gk_secondary_t *s)
{
	struct idx *ix = idx_build(s);
	if (!ix) {
		gk_log(GK_LOG_ERR, "secondary: out of memory: NOTIFY and `zone refresh` do not "
		                   "see the latest catalog changes");
		return;
	}
	s->tidx = ix;
	if (!s->running) {
		free(atomic_exchange(&s->idx, ix));
		return;
	}
	struct pub *p = calloc(1, sizeof(*p));
	if (!p) {
		gk_log(GK_LOG_ERR, "secondary: out of memory publishing the zone index");
		s->tidx = NULL;
		free(ix);
		return;
	}
	p->idx = ix;
	push_op(s, p);
}

/* After a catalog change that forwarded or stopped forwarding members: a new table of every
 * forwarded member (apex to its template's pool), handed to the main loop with the members
 * that left the store's care (gone), or set at once before the thread runs (no query
 * thread reads it yet). One table per catalog change, not per member: a catalog IXFR that
 * changes many members builds one. Linear in the forwarded members (the figure:
 * fwd_build_ms, docs/SECONDARY.md); built here, off the main loop, which only swaps it. */
static void fwd_update(gk_secondary_t *s)
{
	if (!s->fwd_dirty && s->gone_len == 0)
		return;
	uint64_t t0 = uv_hrtime();
	gk_fzones_t *t = NULL;
	int rc = 0;
	if (s->nfwd > 0 && (rc = gk_pkt_fzones_new(s->nfwd, &t)) == 0) {
		for (size_t i = 0; i < s->nslot && rc == 0; i++) {
			struct zone *z = s->slots[i];
			if (z && z->fwd)
				rc = gk_pkt_fzones_add_wire(t, z->apex, z->apex_len,
				                            (uint16_t)z->fwd->pool);
		}
	}
	if (rc != 0) {
		gk_pkt_fzones_free(t);
		gk_log(GK_LOG_ERR, "secondary: %s: the forwarded members stay as they were",
		       gk_strerror(rc));
		return; /* dirty still: the next catalog change tries again */
	}
	s->fwd_build_ms = (double)(uv_hrtime() - t0) / 1e6;
	gk_log(GK_LOG_DEBUG, "secondary: %zu forwarded members: table built in %.3f ms", s->nfwd,
	       s->fwd_build_ms);
	s->fwd_dirty = false;
	if (!s->running) {
		gk_pkt_fzones_free(s->fwd);
		s->fwd = t;
		return; /* gone is empty: at start members leave the store at once */
	}
	struct pub *p = calloc(1, sizeof(*p));
	if (!p) {
		gk_pkt_fzones_free(t);
		s->fwd_dirty = true;
		gk_log(GK_LOG_ERR, "secondary: out of memory: the forwarded members stay as they "
		                   "were");
		return;
	}
	p->fwd_op = true;
	p->fz = t;
	if (s->gone_len) {
		p->gone = s->gone;
		p->gone_len = s->gone_len;
		s->gone = NULL;
		s->gone_len = s->gone_cap = 0;
	}
	push_op(s, p);
}

/* The zone of this name (any case, final dot optional) in the index ix, or NULL. */
static struct zone *idx_zone(gk_secondary_t *s, const struct idx *ix, const char *name,
                             const struct ient **ent)
{
	gk_tsig_key_t probe;
	if (!ix || gk_xfr_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0)
		return NULL;
	struct ient key = {.apex = probe.name, .apex_len = probe.name_len};
	const struct ient *e = bsearch(&key, ix->e, ix->n, sizeof(ix->e[0]), cmp_apex);
	if (ent)
		*ent = e;
	if (!e || e->slot >= s->nslot || s->gens[e->slot] != e->gen)
		return NULL;
	return s->slots[e->slot];
}

/* ---- catalogs (transfer thread, or main before it starts) ------------------------------ */

static void load_persisted(struct zone *z);

/* The primaries of a member: its group's template, else the catalog's member template, else
 * the catalog's own primaries. *fwd: the template when it forwards (prim NULL, n 0). */
static void member_prim(struct zone *cz, const gk_catalog_member_t *m,
                        const gk_xfr_primary_conf_t **prim, size_t *n,
                        const gk_xfr_template_t **fwd)
{
	const gk_xfr_template_t *t = NULL;
	if (m->group && !(t = gk_xfr_conf_template(cz->s->conf, m->group)))
		gk_log(GK_LOG_WARN,
		       "secondary: catalog %s: member %s: group '%s' names no template: the "
		       "catalog's default",
		       cz->name, m->zone, m->group);
	if (!t)
		t = cz->conf->member_template;
	*fwd = t && t->forward ? t : NULL;
	*prim = *fwd ? NULL : t ? t->primaries : cz->conf->primaries;
	*n = *fwd ? 0 : t ? t->n_primaries : cz->conf->n_primaries;
}

/* The set of forwarded members changed: a new table is handed over after the catalog
 * change (fwd_update). */
static void fwd_changed(gk_secondary_t *s, long delta)
{
	s->nfwd = (size_t)((long)s->nfwd + delta);
	s->fwd_dirty = true;
}

/* A forwarded member has no file: one left from when it was transferred goes. */
static void unlink_file(struct zone *z)
{
	if (unlink(z->path) != 0 && errno != ENOENT)
		gk_log(GK_LOG_WARN, "secondary: zone %s: cannot remove %s: %s", z->name, z->path,
		       strerror(errno));
}

/* Out of the queue of zones waiting for a transfer slot. */
static void unqueue(struct zone *z)
{
	gk_secondary_t *s = z->s;
	if (!z->queued)
		return;
	struct zone **pp = &s->pend_head, *prev = NULL;
	while (*pp && *pp != z) {
		prev = *pp;
		pp = &(*pp)->next_pending;
	}
	if (*pp) {
		*pp = z->next_pending;
		if (s->pend_tail == z)
			s->pend_tail = prev;
	}
	z->queued = false;
}

static void member_add(struct zone *cz, const gk_catalog_member_t *m)
{
	const gk_xfr_primary_conf_t *prim;
	const gk_xfr_template_t *fwd;
	size_t n;
	char err[256];
	member_prim(cz, m, &prim, &n, &fwd);
	struct zone *z = zone_new(cz->s, m->zone, NULL, prim, n, cz, err, sizeof(err));
	if (!z) {
		gk_log(GK_LOG_ERR, "secondary: catalog %s: member %s: %s", cz->name, m->zone, err);
		return;
	}
	if (fwd) {
		/* forwarded from the next query once the catalog change is applied */
		uv_mutex_lock(&z->s->mu);
		z->fwd = fwd;
		uv_mutex_unlock(&z->s->mu);
		fwd_changed(z->s, 1);
		unlink_file(z);
		return;
	}
	if (!cz->s->running) {
		/* at start: SERVFAIL until the transfer thread has loaded its file, first
		 * thing, before any primary is asked (the listeners are up meanwhile) */
		publish_placeholder(z);
		z->load_pending = true;
		return;
	}
	load_persisted(z);
	first_check(z);
}

/* Check the zone now (or right after its exchange in flight). */
static void check_soon(struct zone *z)
{
	if (!z->s->running)
		return;
	if (z->busy)
		z->again = true;
	else
		schedule(z, 0);
}

/* Drop a member's data (its unique ID changed): SERVFAIL until transferred anew. A forwarded
 * member has no data to drop. */
static void member_reset(struct zone *z)
{
	if (z->fwd)
		return;
	gk_log(GK_LOG_INFO, "secondary: zone %s: catalog entry reset: transferred anew", z->name);
	if (unlink(z->path) != 0 && errno != ENOENT)
		gk_log(GK_LOG_WARN, "secondary: zone %s: cannot remove %s: %s", z->name, z->path,
		       strerror(errno));
	gk_zver_t *v = NULL;
	if (placeholder(z, &v) == 0)
		publish(z, v);
	z->have_data = false;
	uv_mutex_lock(&z->s->mu);
	z->serial = 0;
	z->expired = false;
	z->last_ok = z->expire_at = 0;
	uv_mutex_unlock(&z->s->mu);
	check_soon(z);
}

/* A transferred member whose group now forwards: no more checks or file; its version
 * stays in the store (answering as before: the store's zone wins over a forwarded one of
 * the same apex) until the table that forwards it is in every query thread's view, then
 * goes (the FWD op's gone list). An exchange in flight is left to end; its result is
 * dropped (xfr_done). */
static void member_to_forward(struct zone *z, const gk_xfr_template_t *fwd)
{
	gk_secondary_t *s = z->s;
	gk_log(GK_LOG_INFO,
	       "secondary: zone %s: its group forwards to pool %s: no longer "
	       "transferred",
	       z->name, fwd->forward);
	uv_timer_stop(&z->timer);
	unqueue(z);
	z->again = false;
	z->have_data = false;
	uv_mutex_lock(&s->mu);
	z->fwd = fwd;
	z->prim = NULL;
	z->n_prim = 0;
	z->serial = 0;
	z->expired = false;
	z->last_ok = z->expire_at = z->next_check = 0;
	z->asked = NULL;
	free(z->last_error);
	z->last_error = NULL;
	uv_mutex_unlock(&s->mu);
	fwd_changed(s, 1);
	unlink_file(z);
	if (!s->running) { /* at start no query runs yet: out of the store at once */
		unpublish(z);
		return;
	}
	if (s->gone_len + 1 + z->apex_len > s->gone_cap) {
		size_t cap = s->gone_cap ? s->gone_cap * 2 : 1024;
		while (cap < s->gone_len + 1 + z->apex_len)
			cap *= 2;
		uint8_t *g = realloc(s->gone, cap);
		if (!g) {
			gk_log(GK_LOG_ERR,
			       "secondary: zone %s: out of memory: its transferred "
			       "version leaves the store at once",
			       z->name);
			unpublish(z);
			return;
		}
		s->gone = g;
		s->gone_cap = cap;
	}
	s->gone[s->gone_len] = (uint8_t)z->apex_len;
	memcpy(s->gone + s->gone_len + 1, z->apex, z->apex_len);
	s->gone_len += 1 + z->apex_len;
}

/* A forwarded member whose group now transfers: SERVFAIL (a placeholder, put before the
 * table without it is handed over: no REFUSED in between) until its first transfer, asked
 * at once, as for a new member. */
static void member_to_transfer(struct zone *z, const gk_xfr_primary_conf_t *prim, size_t n)
{
	gk_log(GK_LOG_INFO, "secondary: zone %s: its group transfers: no longer forwarded",
	       z->name);
	uv_mutex_lock(&z->s->mu);
	z->fwd = NULL;
	z->prim = prim;
	z->n_prim = n;
	uv_mutex_unlock(&z->s->mu);
	fwd_changed(z->s, -1);
	z->primary = 0;
	z->have_data = false;
	publish_placeholder(z);
	if (z->s->running)
		check_soon(z);
	/* at start: the thread's first check asks at once (no data) */
}

static void member_regroup(struct zone *cz, struct zone *z, const gk_catalog_member_t *m)
{
	const gk_xfr_primary_conf_t *prim;
	const gk_xfr_template_t *fwd;
	size_t n;
	member_prim(cz, m, &prim, &n, &fwd);
	if (fwd && z->fwd) { /* forwarded still, maybe to another pool */
		if (fwd->pool != z->fwd->pool)
			fwd_changed(z->s, 0);
		uv_mutex_lock(&z->s->mu);
		z->fwd = fwd;
		uv_mutex_unlock(&z->s->mu);
		return;
	}
	if (fwd) {
		member_to_forward(z, fwd);
		return;
	}
	if (z->fwd) {
		member_to_transfer(z, prim, n);
		return;
	}
	uv_mutex_lock(&z->s->mu);
	z->prim = prim;
	z->n_prim = n;
	uv_mutex_unlock(&z->s->mu);
	z->primary = 0;
	check_soon(z);
}

/* Hand z to catalog cz (listed there as m; om: its entry in the catalog that held it). */
static void member_move(struct zone *z, struct zone *cz, const gk_catalog_member_t *m,
                        const gk_catalog_member_t *om)
{
	gk_log(GK_LOG_INFO, "secondary: zone %s moves from catalog %s to catalog %s (coo)", z->name,
	       z->owner->name, cz->name);
	uv_mutex_lock(&z->s->mu);
	z->owner = cz;
	uv_mutex_unlock(&z->s->mu);
	member_regroup(cz, z, m);
	/* RFC 9432 section 5.6: a new unique ID resets the zone. Not at start, where the
	 * persisted catalogs are read one after the other: the data on disk was transferred
	 * for the member's last owner. */
	if (z->s->running && (!om || strcmp(om->id, m->id) != 0))
		member_reset(z);
}

static struct zone *catalog_named(gk_secondary_t *s, const char *lname)
{
	for (size_t i = 0; i < s->conf->n_zones; i++)
		if (s->cfgz[i] && s->cfgz[i]->conf->catalog && !strcmp(s->cfgz[i]->lname, lname))
			return s->cfgz[i];
	return NULL;
}

struct capply {
	struct zone *cz;
	size_t added, removed, kept_elsewhere;
};

/* zone left catalog cz: another catalog that lists it takes it (first in config order). */
static void adopt_elsewhere(struct zone *cz, const char *zone)
{
	gk_secondary_t *s = cz->s;
	for (size_t i = 0; i < s->conf->n_zones; i++) {
		struct zone *c2 = s->cfgz[i];
		const gk_catalog_member_t *m;
		if (c2 && c2 != cz && c2->conf->catalog &&
		    (m = gk_xfr_catalog_find(&c2->cat, zone))) {
			gk_log(GK_LOG_INFO,
			       "secondary: zone %s left catalog %s: catalog %s takes it", zone,
			       cz->name, c2->name);
			member_add(c2, m);
			return;
		}
	}
}

static int diff_cb(void *ctx, gk_catalog_change_t ch, const gk_catalog_member_t *o,
                   const gk_catalog_member_t *n)
{
	struct capply *a = ctx;
	struct zone *cz = a->cz;
	gk_secondary_t *s = cz->s;
	const char *name = n ? n->zone : o->zone;
	struct zone *ex = idx_zone(s, s->tidx, name, NULL);
	if (ch == GK_CATALOG_REMOVED) {
		if (ex && ex->owner == cz) {
			gk_log(GK_LOG_DEBUG, "secondary: zone %s left catalog %s: removed", name,
			       cz->name);
			zone_drop(ex);
			a->removed++;
			adopt_elsewhere(cz, name);
		}
		return 0;
	}
	if (!ex) {
		member_add(cz, n);
		a->added++;
	} else if (ex->owner == cz) {
		if (ch == GK_CATALOG_RESET)
			member_reset(ex);
		else if (ch == GK_CATALOG_REGROUP)
			member_regroup(cz, ex, n);
	} else if (ex->owner == NULL) {
		if (ch == GK_CATALOG_ADDED)
			gk_log(GK_LOG_WARN,
			       "secondary: catalog %s lists %s, a configured secondary zone: "
			       "ignored",
			       cz->name, name);
	} else {
		const gk_catalog_member_t *om = gk_xfr_catalog_find(&ex->owner->cat, name);
		if (gk_xfr_catalog_may_claim(cz->lname, ex->owner->lname, om ? om->coo : NULL)) {
			member_move(ex, cz, n, om);
		} else {
			a->kept_elsewhere++;
			if (ch == GK_CATALOG_ADDED)
				gk_log(GK_LOG_WARN,
				       "secondary: catalog %s lists %s, a member of catalog %s: "
				       "it stays there (RFC 9432: no coo names %s)",
				       cz->name, name, ex->owner->name, cz->name);
		}
	}
	return 0;
}

static void catalog_warn(void *ctx, const char *msg)
{
	gk_log(GK_LOG_WARN, "secondary: catalog %s: %s", ((struct zone *)ctx)->name, msg);
}

/* Read the catalog's new data and bring its members in line: added, removed, reset,
 * regrouped, moved by coo. Text that is no version 2 catalog leaves them as they were. */
static void catalog_update(struct zone *cz, const char *text, size_t len)
{
	gk_secondary_t *s = cz->s;
	gk_catalog_t nc = {0};
	char err[320];
	int rc =
	    gk_xfr_catalog_interpret(cz->lname, text, len, &nc, catalog_warn, cz, err, sizeof(err));
	if (rc != 0) {
		gk_log(GK_LOG_ERR, "secondary: catalog %s: %s: its members stay as they were",
		       cz->name, rc == GK_ENOMEM ? "out of memory" : err);
		char *copy = NULL;
		if (asprintf(&copy, "catalog: %s", rc == GK_ENOMEM ? "out of memory" : err) < 0)
			copy = NULL;
		uv_mutex_lock(&s->mu);
		free(cz->last_error);
		cz->last_error = copy;
		uv_mutex_unlock(&s->mu);
		return;
	}
	struct capply a = {.cz = cz};
	(void)gk_xfr_catalog_diff(&cz->cat, &nc, diff_cb, &a);
	gk_catalog_t old = cz->cat;
	uv_mutex_lock(&s->mu); /* the status reads its member count */
	cz->cat = nc;
	uv_mutex_unlock(&s->mu);
	gk_xfr_catalog_free(&old);
	/* a coo property: the member moves to the named catalog if that one lists it */
	for (size_t i = 0; i < cz->cat.n; i++) {
		const gk_catalog_member_t *m = &cz->cat.m[i], *tm;
		struct zone *tc, *z;
		if (m->coo && (tc = catalog_named(s, m->coo)) && tc != cz &&
		    (tm = gk_xfr_catalog_find(&tc->cat, m->zone)) &&
		    (z = idx_zone(s, s->tidx, m->zone, NULL)) && z->owner == cz)
			member_move(z, tc, tm, m);
	}
	gk_log(GK_LOG_INFO,
	       "secondary: catalog %s: %zu members (%zu added, %zu removed, %zu held by "
	       "another catalog, %zu entries skipped)",
	       cz->name, cz->cat.n, a.added, a.removed, a.kept_elsewhere, cz->cat.skipped);
	idx_update(s);
	fwd_update(s);
}

/* catalog_update from the catalog's records (a transfer's, a persisted file's): the catalog
 * reader takes text. */
static void catalog_update_wire(struct zone *cz, const uint8_t *w, size_t len, size_t count)
{
	ldns_rr_list *l = NULL;
	char *text = NULL, err[320];
	size_t tl = 0;
	int rc = gk_xfr_wire_parse(w, len, count, &l, err, sizeof(err));
	if (rc == 0)
		rc = gk_xfr_zone_text(l, NULL, &text, &tl);
	ldns_rr_list_deep_free(l);
	if (rc != 0) {
		gk_log(GK_LOG_ERR, "secondary: catalog %s: %s: its members stay as they were",
		       cz->name, rc == GK_ENOMEM ? "out of memory" : err);
		return;
	}
	catalog_update(cz, text, tl);
	free(text);
}

/* ---- NOTIFY (query threads) ----------------------------------------------------------- */

static int cmp_apex(const void *a, const void *b)
{
	const struct ient *x = a, *y = b;
	size_t l = x->apex_len < y->apex_len ? x->apex_len : y->apex_len;
	int c = memcmp(x->apex, y->apex, l);
	return c ? c : (int)x->apex_len - (int)y->apex_len;
}

static bool same_host(const struct sockaddr_storage *a, const struct sockaddr *b)
{
	if (a->ss_family != b->sa_family)
		return false;
	if (b->sa_family == AF_INET)
		return !memcmp(&((const struct sockaddr_in *)a)->sin_addr,
		               &((const struct sockaddr_in *)b)->sin_addr, 4);
	return !memcmp(&((const struct sockaddr_in6 *)a)->sin6_addr,
	               &((const struct sockaddr_in6 *)b)->sin6_addr, 16);
}

static bool ring_push(gk_secondary_t *s, uint32_t slot, uint32_t gen)
{
	size_t pos = atomic_load_explicit(&s->tail, memory_order_relaxed);
	for (;;) {
		struct cell *c = &s->ring[pos & (RING - 1)];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		intptr_t dif = (intptr_t)seq - (intptr_t)pos;
		if (dif == 0) {
			if (atomic_compare_exchange_weak_explicit(&s->tail, &pos, pos + 1,
			                                          memory_order_relaxed,
			                                          memory_order_relaxed)) {
				c->slot = slot;
				c->gen = gen;
				atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
				return true;
			}
		} else if (dif < 0) {
			return false; /* full */
		} else {
			pos = atomic_load_explicit(&s->tail, memory_order_relaxed);
		}
	}
}

static struct tslot *tsig_claim(gk_secondary_t *s)
{
	if (s->tsig == NULL)
		return NULL;
	size_t start = atomic_fetch_add_explicit(&s->tsig_next, 1, memory_order_relaxed);
	for (size_t i = 0; i < TSIG_SLOTS; i++) {
		struct tslot *t = &s->tsig[(start + i) % TSIG_SLOTS];
		if (!atomic_flag_test_and_set_explicit(&t->busy, memory_order_acquire))
			return t;
	}
	return NULL;
}

void gk_xfr_secondary_notify(gk_secondary_t *s, const uint8_t *msg, size_t len,
                             const struct sockaddr *from, uint8_t *out, size_t cap, size_t *outlen)
{
	*outlen = 0;
	if (len < 12 || (msg[2] & 0x80) || cap < 512)
		return;
	uint8_t rcode = 5; /* REFUSED */
	size_t q = 12, qend = 12;
	uint8_t kb[GK_DNAME_MAX];
	struct ient key = {.apex = kb};
	const struct ient *hit = NULL;
	/* valid until this thread's next quiescent point (after this call) */
	const struct idx *ix = atomic_load_explicit(&s->idx, memory_order_acquire);
	/* the question: an uncompressed name, lowercased */
	if (msg[5] == 1 && msg[4] == 0) {
		size_t n = 0;
		while (q < len && msg[q] != 0 && msg[q] < 64 && n + msg[q] + 1 < GK_DNAME_MAX) {
			size_t l = msg[q];
			if (q + 1 + l > len)
				break;
			kb[n++] = (uint8_t)l;
			for (size_t i = 0; i < l; i++)
				kb[n++] = gk_dname_lower[msg[q + 1 + i]];
			q += l + 1;
		}
		if (q < len && msg[q] == 0 && q + 5 <= len) {
			kb[n++] = 0;
			key.apex_len = n;
			qend = q + 5;
			if (ix)
				hit = bsearch(&key, ix->e, ix->n, sizeof(ix->e[0]), cmp_apex);
		} else {
			rcode = 1; /* FORMERR */
		}
	} else {
		rcode = 1;
	}
	const gk_xfr_primary_conf_t *p = NULL;
	if (hit) {
		for (size_t i = 0; i < hit->n_prim && !p; i++)
			if (same_host(&hit->prim[i].addr, from))
				p = &hit->prim[i];
	}
	gk_tsig_ctx_t *tc = NULL;
	struct tslot *slot = NULL;
	if (p && p->key) {
		slot = tsig_claim(s);
		if (slot == NULL) {
			/* as many threads as slots are verifying: no answer, the primary
			 * sends it again */
			atomic_fetch_add(&s->notify_dropped, 1);
			return;
		}
		tc = slot->ctx;
		gk_xfr_tsig_ctx_reset(tc, p->key);
		/* signed with the primary's key, in time: else refused like a stranger */
		if (gk_xfr_tsig_verify(tc, msg, len, (uint64_t)time(NULL), NULL) != GK_TSIG_NOERROR)
			p = NULL;
	}
	if (p) {
		rcode = 0;
		if (ring_push(s, hit->slot, hit->gen))
			atomic_fetch_add(&s->notify_ok, 1);
		else
			atomic_fetch_add(&s->notify_dropped, 1); /* a check is queued already */
		uv_async_send(&s->wake);
	} else {
		atomic_fetch_add(&s->notify_refused, 1);
	}
	/* the answer: header and question echoed, QR and AA (NSD sets AA on NOTIFY answers) */
	memcpy(out, msg, qend);
	out[2] = (uint8_t)(0x80 | (msg[2] & 0x79) | (rcode == 0 ? 0x04 : 0));
	out[3] = rcode;
	out[4] = 0;
	out[5] = qend > 12 ? 1 : 0;
	memset(out + 6, 0, 6);
	*outlen = qend;
	if (p && tc && gk_xfr_tsig_sign(tc, out, outlen, cap, (uint64_t)time(NULL), 0) != 0)
		*outlen = qend;
	if (slot)
		atomic_flag_clear_explicit(&slot->busy, memory_order_release);
}

/* ---- life cycle (main thread) --------------------------------------------------------- */
/* ---- life cycle (main thread) --------------------------------------------------------- */

/* Publish the zone's placeholder: SERVFAIL until a transfer brings data. */
static void publish_placeholder(struct zone *z)
{
	gk_zver_t *v = NULL;
	if (placeholder(z, &v) != 0)
		gk_log(GK_LOG_ERR, "secondary: zone %s: out of memory", z->name);
	else
		publish(z, v);
}

/* The persisted copy read and checked for loading: 1 (*buf and *zf set), or 0 when there is
 * none or it is refused (reported, naming the file; the zone's placeholder is published:
 * SERVFAIL until a transfer). */
static int load_read(struct zone *z, uint8_t **buf, gk_xfr_zfile_t *zf)
{
	char err[400];
	int rc = read_persisted(z, buf, zf, err, sizeof(err));
	if (rc == -ENOENT) {
		publish_placeholder(z);
		return 0;
	}
	if (rc != 0) {
		gk_log(GK_LOG_ERR,
		       "secondary: zone %s: %s is not loaded (%s): SERVFAIL until it is "
		       "transferred afresh",
		       z->name, z->path, err);
		publish_placeholder(z);
		return 0;
	}
	return 1;
}

/* The persisted copy zf built into v (build rc, err): publish it and take its SOA, or report
 * the failure and publish the placeholder. A catalog's members follow (catalog_update).
 * Frees buf. */
static void load_finish(struct zone *z, uint8_t *buf, const gk_xfr_zfile_t *zf, gk_zver_t *v,
                        int rc, const char *err)
{
	if (rc != 0) {
		gk_log(GK_LOG_ERR,
		       "secondary: zone %s: %s does not load (%s): SERVFAIL until it is "
		       "transferred afresh",
		       z->name, z->path, err);
		gk_zone_ver_free(v);
		free(buf);
		publish_placeholder(z);
		return;
	}
	uint64_t refreshed = zf->refreshed * 1000u;
	z->have_data = true;
	z->refresh = zf->refresh;
	z->retry = zf->retry;
	z->expire = zf->expire;
	timers_fix(z);
	uv_mutex_lock(&z->s->mu); /* the thread may run: the status reads these */
	z->serial = zf->serial;
	z->last_ok = refreshed;
	z->expire_at = refreshed + (uint64_t)z->expire * 1000u;
	bool past = now_ms() >= z->expire_at;
	z->expired = past;
	uv_mutex_unlock(&z->s->mu);
	if (past) {
		gk_zone_ver_free(v);
		v = NULL;
		if (placeholder(z, &v) != 0)
			v = NULL;
		gk_log(GK_LOG_WARN,
		       "secondary: zone %s: persisted copy (serial %u) is past its "
		       "expire: SERVFAIL until refreshed",
		       z->name, zf->serial);
	}
	if (v) {
		/* not 100,000 members' lines at the default level */
		gk_log(z->owner ? GK_LOG_DEBUG : GK_LOG_INFO,
		       "secondary: zone %s: serial %u loaded from %s", z->name, zf->serial,
		       z->path);
		publish(z, v);
	}
	if (z->conf && z->conf->catalog)
		catalog_update_wire(z, zf->rrs, zf->rrs_len, zf->count);
	free(buf);
}

/* Load the persisted copy (if any) and publish it; without one, the zone's placeholder. */
static void load_persisted(struct zone *z)
{
	uint8_t *buf = NULL;
	gk_xfr_zfile_t zf;
	if (!load_read(z, &buf, &zf))
		return;
	char err[512] = "";
	gk_zver_t *v = NULL;
	int rc = build(z, zf.rrs, zf.rrs_len, zf.count, &v, err, sizeof(err));
	load_finish(z, buf, &zf, v, rc, err);
}

/* Many zones' persisted copies loaded as master files are: read and checked here, built on
 * a pool of threads (gk_zload, one per core), each published as it is done. At most
 * LOAD_BATCH files are held in memory at once. Transfer thread, before any primary is
 * asked. */
#define LOAD_BATCH 8192u
struct lbatch {
	struct zone **z;
	uint8_t **buf;
	gk_xfr_zfile_t *zf;
	gk_zone_spec_t *spec;
};

static void lbatch_done(void *ctx, size_t i, gk_zver_t *v, int rc, const char *err)
{
	struct lbatch *b = ctx;
	load_finish(b->z[i], b->buf[i], &b->zf[i], v, rc, err ? err : "");
	b->buf[i] = NULL;
}

static size_t load_many(struct zone **zs, size_t n)
{
	struct lbatch b = {
	    .z = calloc(LOAD_BATCH, sizeof(*b.z)),
	    .buf = calloc(LOAD_BATCH, sizeof(*b.buf)),
	    .zf = calloc(LOAD_BATCH, sizeof(*b.zf)),
	    .spec = calloc(LOAD_BATCH, sizeof(*b.spec)),
	};
	size_t loaded = 0;
	for (size_t o = 0; o < n;) {
		size_t k = 0;
		gk_secondary_t *s = zs[o]->s;
		for (; o < n && k < LOAD_BATCH && !atomic_load(&s->stop); o++) {
			struct zone *z = zs[o];
			if (!b.spec) { /* out of memory for the batch: one at a time */
				load_persisted(z);
				continue;
			}
			if (!load_read(z, &b.buf[k], &b.zf[k]))
				continue;
			b.z[k] = z;
			b.spec[k] = (gk_zone_spec_t){.name = z->name,
			                             .wire = b.zf[k].rrs,
			                             .wire_len = b.zf[k].rrs_len,
			                             .wire_count = b.zf[k].count,
			                             .secondary = true};
			k++;
		}
		if (k == 0)
			continue;
		gk_zload_t *zl = NULL;
		if (gk_zone_build_start(b.spec, k, s->psl, 0, NULL, NULL, &zl) == 0) {
			while (!gk_zone_build_done(zl))
				(void)gk_zone_build_take(zl, true, 0, lbatch_done, &b);
			gk_zone_build_free(zl);
		} else {
			for (size_t i = 0; i < k; i++) {
				char err[512] = "";
				gk_zver_t *v = NULL;
				int rc = build(b.z[i], b.zf[i].rrs, b.zf[i].rrs_len, b.zf[i].count,
				               &v, err, sizeof(err));
				lbatch_done(&b, i, v, rc, err);
			}
		}
		loaded += k;
	}
	free(b.z);
	free(b.buf);
	free(b.zf);
	free(b.spec);
	return loaded;
}

int gk_xfr_secondary_create(uv_loop_t *main, gk_zoneset_t *zs, const gk_xfr_conf_t *conf,
                            const struct gk_psl *psl, void (*published)(void *ctx), void *ctx,
                            gk_secondary_t **out, char *err, size_t errlen)
{
	if (mkdir(conf->directory, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "secondary.directory %s: %s", conf->directory,
		         strerror(errno));
		return GK_EIO;
	}
	gk_secondary_t *s = calloc(1, sizeof(*s));
	if (!s)
		return GK_ENOMEM;
	s->main = main;
	s->zs = zs;
	s->conf = conf;
	s->psl = psl;
	s->published = published;
	s->ctx = ctx;
	s->pubtail = &s->pubq;
	for (size_t i = 0; i < RING; i++)
		atomic_init(&s->ring[i].seq, i);
	s->cfgz = calloc(conf->n_zones + 1, sizeof(*s->cfgz));
	s->link = calloc(1, sizeof(*s->link));
	if (!s->cfgz || !s->link || uv_mutex_init(&s->mu) != 0) {
		free(s->cfgz);
		free(s->link);
		free(s);
		return GK_ENOMEM;
	}
	*s->link = (struct link){.s = s, .refs = 1};
	if (conf->n_keys > 0) {
		s->tsig = calloc(TSIG_SLOTS, sizeof(*s->tsig));
		for (size_t i = 0; s->tsig && i < TSIG_SLOTS; i++) {
			atomic_flag_clear(&s->tsig[i].busy);
			if (gk_xfr_tsig_ctx_new(&conf->keys[0], &s->tsig[i].ctx) != 0) {
				for (size_t k = 0; k < i; k++)
					gk_xfr_tsig_ctx_free(s->tsig[k].ctx);
				free(s->tsig);
				s->tsig = NULL;
			}
		}
		if (s->tsig == NULL) {
			uv_mutex_destroy(&s->mu);
			free(s->cfgz);
			free(s->link);
			free(s);
			snprintf(err, errlen, "secondary: out of memory");
			return GK_ENOMEM;
		}
	}
	int rc = uv_loop_init(&s->loop);
	s->loop_ready = rc == 0;
	if (rc == 0)
		rc = uv_async_init(&s->loop, &s->wake, wake_cb);
	if (rc == 0)
		rc = uv_async_init(main, &s->main_async, main_async_cb);
	s->wake.data = s->main_async.data = s;
	if (rc == 0)
		rc = gk_xfr_saver_create(&s->loop, conf->directory, saved_cb, s, &s->saver);
	if (rc != 0) {
		snprintf(err, errlen, "secondary: cannot set up the transfer loop: %s",
		         uv_strerror(rc));
		gk_xfr_secondary_free(s);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < conf->n_zones; i++) {
		const gk_xfr_zone_conf_t *zc = &conf->zones[i];
		s->cfgz[i] =
		    zone_new(s, zc->name, zc, zc->primaries, zc->n_primaries, NULL, err, errlen);
		if (!s->cfgz[i]) {
			gk_xfr_secondary_free(s);
			return GK_ENOMEM;
		}
	}
	idx_update(s);
	if (!s->tidx) {
		snprintf(err, errlen, "secondary: out of memory");
		gk_xfr_secondary_free(s);
		return GK_ENOMEM;
	}
	/* the configured zones, then each catalog's members as its persisted copy lists them */
	uint64_t t0 = uv_hrtime();
	for (size_t i = 0; i < conf->n_zones; i++)
		load_persisted(s->cfgz[i]);
	drain(s, false); /* every version published before any primary is asked */
	gk_log(GK_LOG_INFO,
	       "secondary: %zu configured zones loaded from %s in %.2f s; %zu catalog members "
	       "load when the transfer thread starts",
	       conf->n_zones, conf->directory, (double)(uv_hrtime() - t0) / 1e9,
	       s->n - conf->n_zones);
	*out = s;
	return 0;
}

int gk_xfr_secondary_start(gk_secondary_t *s)
{
	int rc = uv_thread_create(&s->thr, thread_main, s);
	if (rc == 0)
		s->started = true;
	return rc;
}

int gk_xfr_secondary_refresh(gk_secondary_t *s, const char *name)
{
	const struct ient *e = NULL;
	const struct idx *ix = s ? atomic_load(&s->idx) : NULL;
	gk_tsig_key_t probe;
	if (!ix || gk_xfr_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0)
		return GK_ENOENT;
	struct ient key = {.apex = probe.name, .apex_len = probe.name_len};
	e = bsearch(&key, ix->e, ix->n, sizeof(ix->e[0]), cmp_apex);
	if (!e || e->n_prim == 0) /* none, or a forwarded member: nothing to check */
		return GK_ENOENT;
	if (!ring_push(s, e->slot, e->gen))
		return GK_EAGAIN;
	uv_async_send(&s->wake);
	return 0;
}

static void iso_time(char *buf, size_t cap, uint64_t ms)
{
	if (ms == 0) {
		snprintf(buf, cap, "-");
		return;
	}
	time_t t = (time_t)(ms / 1000u);
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

size_t gk_xfr_secondary_count(const gk_secondary_t *s)
{
	const struct idx *ix = s ? atomic_load(&s->idx) : NULL;
	return ix ? ix->n : 0;
}

const char *gk_xfr_secondary_status_at(gk_secondary_t *s, size_t i, char *buf, size_t cap)
{
	const struct ient *e = &atomic_load(&s->idx)->e[i];
	char serial[16] = "-", last[32], xfr[96] = "-", next[32], exp[32], when[32];
	uv_mutex_lock(&s->mu);
	struct zone *z =
	    e->slot < s->nslot && s->gens[e->slot] == e->gen ? s->slots[e->slot] : NULL;
	if (!z) { /* gone since the index was published */
		uv_mutex_unlock(&s->mu);
		snprintf(buf, cap, "removed");
		return e->name;
	}
	if (z->fwd) {
		snprintf(buf, cap, "pool=%s catalog=%s", z->fwd->forward,
		         z->owner ? z->owner->name : "-");
		uv_mutex_unlock(&s->mu);
		return z->name;
	}
	bool have = z->last_ok != 0 || z->last_xfr != 0 || z->expire_at != 0;
	if (have)
		snprintf(serial, sizeof(serial), "%u", z->serial);
	iso_time(last, sizeof(last), z->last_ok);
	if (z->last_xfr) {
		iso_time(when, sizeof(when), z->last_xfr);
		snprintf(xfr, sizeof(xfr), "%s,%zu,%s",
		         z->last_kind == GK_XFR_IXFR ? "ixfr" : "axfr", z->last_bytes, when);
	}
	iso_time(next, sizeof(next), z->next_check);
	iso_time(exp, sizeof(exp), have ? z->expire_at : 0);
	char role[300] = "";
	if (z->owner)
		snprintf(role, sizeof(role), " catalog=%s", z->owner->name);
	else if (z->conf && z->conf->catalog)
		snprintf(role, sizeof(role), " members=%zu", z->cat.n);
	snprintf(buf, cap,
	         "primary=%s serial=%s last_refresh=%s last_transfer=%s next_refresh=%s "
	         "expire=%s%s checks=%llu failures=%llu%s last_error=%s",
	         z->asked ? z->asked : z->prim[0].text, serial, last, xfr, next, exp,
	         z->expired ? " expired" : "", (unsigned long long)z->checks,
	         (unsigned long long)z->failures, role, z->last_error ? z->last_error : "-");
	uv_mutex_unlock(&s->mu);
	return z->name;
}

bool gk_xfr_secondary_forwarded_at(gk_secondary_t *s, size_t i)
{
	const struct ient *e = &atomic_load(&s->idx)->e[i];
	uv_mutex_lock(&s->mu);
	struct zone *z =
	    e->slot < s->nslot && s->gens[e->slot] == e->gen ? s->slots[e->slot] : NULL;
	bool fwd = z && z->fwd;
	uv_mutex_unlock(&s->mu);
	return fwd;
}

gk_fzones_t *gk_xfr_secondary_forwarded(const gk_secondary_t *s)
{
	return s && gk_pkt_fzones_count(s->fwd) > 0 ? s->fwd : NULL;
}

long gk_xfr_secondary_find(gk_secondary_t *s, const char *name)
{
	const struct idx *ix = s ? atomic_load(&s->idx) : NULL;
	gk_tsig_key_t probe;
	if (!ix || gk_xfr_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0)
		return -1;
	struct ient key = {.apex = probe.name, .apex_len = probe.name_len};
	const struct ient *e = bsearch(&key, ix->e, ix->n, sizeof(ix->e[0]), cmp_apex);
	return e ? (long)(e - ix->e) : -1;
}

static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
}

void gk_xfr_secondary_metrics(gk_secondary_t *s, FILE *f)
{
	fprintf(f,
	        "# HELP gatekeeper_secondary_notify_total NOTIFY messages by outcome.\n"
	        "# TYPE gatekeeper_secondary_notify_total counter\n"
	        "gatekeeper_secondary_notify_total{result=\"accepted\"} %llu\n"
	        "gatekeeper_secondary_notify_total{result=\"refused\"} %llu\n"
	        "gatekeeper_secondary_notify_total{result=\"dropped\"} %llu\n",
	        (unsigned long long)atomic_load(&s->notify_ok),
	        (unsigned long long)atomic_load(&s->notify_refused),
	        (unsigned long long)atomic_load(&s->notify_dropped));
	static const char *fams[] = {"serial",
	                             "expired",
	                             "last_refresh_seconds",
	                             "next_refresh_seconds",
	                             "expire_seconds",
	                             "checks_total",
	                             "transfers_total",
	                             "failures_total",
	                             "serial_backwards_total",
	                             "last_transfer_bytes",
	                             "last_transfer_seconds"};
	uv_mutex_lock(&s->mu);
	for (size_t fi = 0; fi < sizeof(fams) / sizeof(fams[0]); fi++) {
		fprintf(f, "# TYPE gatekeeper_secondary_zone_%s %s\n", fams[fi],
		        strstr(fams[fi], "_total") ? "counter" : "gauge");
		for (size_t i = 0; i < s->nslot; i++) {
			struct zone *z = s->slots[i];
			if (!z || z->fwd)
				continue;
			const char *n = fams[fi];
			if (!strcmp(n, "transfers_total")) {
				fprintf(f,
				        "gatekeeper_secondary_zone_transfers_total{zone=\"%s\","
				        "kind=\"axfr\"} "
				        "%llu\ngatekeeper_secondary_zone_transfers_total{zone=\"%"
				        "s\",kind="
				        "\"ixfr\"} %llu\n",
				        z->name, (unsigned long long)z->transfers_axfr, z->name,
				        (unsigned long long)z->transfers_ixfr);
				continue;
			}
			unsigned long long v =
			    !strcmp(n, "serial")                   ? z->serial
			    : !strcmp(n, "expired")                ? z->expired
			    : !strcmp(n, "last_refresh_seconds")   ? z->last_ok / 1000
			    : !strcmp(n, "next_refresh_seconds")   ? z->next_check / 1000
			    : !strcmp(n, "expire_seconds")         ? z->expire_at / 1000
			    : !strcmp(n, "checks_total")           ? z->checks
			    : !strcmp(n, "failures_total")         ? z->failures
			    : !strcmp(n, "serial_backwards_total") ? z->backwards
			    : !strcmp(n, "last_transfer_bytes")    ? z->last_bytes
			                                           : z->last_xfr / 1000;
			fprintf(f, "gatekeeper_secondary_zone_%s{zone=\"%s\"} %llu\n", n, z->name,
			        v);
		}
	}
	fprintf(f, "# HELP gatekeeper_secondary_zone_forwarded A catalog member forwarded to a "
	           "backend pool (its group's template has forward): not transferred.\n"
	           "# TYPE gatekeeper_secondary_zone_forwarded gauge\n");
	for (size_t i = 0; i < s->nslot; i++) {
		struct zone *z = s->slots[i];
		if (z && z->fwd)
			fprintf(f,
			        "gatekeeper_secondary_zone_forwarded{zone=\"%s\",catalog=\"%s\","
			        "pool=\"%s\"} 1\n",
			        z->name, z->owner ? z->owner->name : "", z->fwd->forward);
	}
	fprintf(f,
	        "# HELP gatekeeper_secondary_forwarded_table_build_seconds Time to build the "
	        "forwarded members' table after the last catalog change that changed them.\n"
	        "# TYPE gatekeeper_secondary_forwarded_table_build_seconds gauge\n"
	        "gatekeeper_secondary_forwarded_table_build_seconds %.6f\n",
	        s->fwd_build_ms / 1000.0);
	fprintf(f, "# TYPE gatekeeper_secondary_zone_last_error gauge\n");
	for (size_t i = 0; i < s->nslot; i++) {
		struct zone *z = s->slots[i];
		if (!z || z->fwd)
			continue;
		fprintf(f, "gatekeeper_secondary_zone_last_error{zone=\"%s\",error=\"", z->name);
		label(f, z->last_error ? z->last_error : "");
		fprintf(f, "\"} %d\n", z->last_error ? 1 : 0);
	}
	uv_mutex_unlock(&s->mu);
}

static void free_main(uv_handle_t *h)
{
	gk_secondary_t *s = h->data;
	uv_mutex_lock(&s->mu);
	struct pub *p = s->pubq;
	s->pubq = NULL;
	uv_mutex_unlock(&s->mu);
	while (p) {
		struct pub *n = p->next;
		gk_zone_ver_free(p->v);
		free(p->apex);
		free(p->idx);
		gk_pkt_fzones_free(p->fz);
		free(p->gone);
		free(p);
		p = n;
	}
	gk_pkt_fzones_free(s->fwd);
	free(s->gone);
	if (s->link) { /* deferred removals still retired keep it until they come due */
		s->link->s = NULL;
		link_put(s->link);
	}
	uv_mutex_destroy(&s->mu);
	free(atomic_load(&s->idx));
	for (size_t i = 0; i < s->nslot; i++)
		if (s->slots[i])
			zone_free_mem(s->slots[i]);
	while (s->dying) {
		struct zone *z = s->dying;
		s->dying = z->next_dying;
		zone_free_mem(z);
	}
	for (size_t i = 0; s->tsig && i < TSIG_SLOTS; i++)
		gk_xfr_tsig_ctx_free(s->tsig[i].ctx);
	free(s->tsig);
	free(s->slots);
	free(s->gens);
	free(s->freel);
	free(s->cfgz);
	free(s);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, close_cb);
}

void gk_xfr_secondary_free(gk_secondary_t *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	if (s->link) /* deferred removals that come due from now on find nothing to do */
		s->link->s = NULL;
	if (s->started) {
		uv_async_send(&s->wake);
		uv_thread_join(&s->thr);
	}
	if (!s->started && s->loop_ready) {
		/* the thread never ran: close the handles here */
		gk_xfr_saver_close(s->saver);
		s->saver = NULL;
		uv_walk(&s->loop, walk_close, NULL);
		while (uv_run(&s->loop, UV_RUN_NOWAIT) != 0)
			;
	}
	if (s->loop_ready && uv_loop_close(&s->loop) != 0)
		gk_log(GK_LOG_ERR, "secondary: transfer loop still has handles at exit");
	if (s->main_async.loop)
		uv_close((uv_handle_t *)&s->main_async, free_main);
	else
		free_main((uv_handle_t *)&s->main_async);
}
