/* SPDX-License-Identifier: MIT */
/* src/xfr/secondary.c -- the secondary zones' refresh loop (secondary.h).
 *
 * Threads: the main loop creates, publishes (gk_zoneset_put in main_async_cb) and frees; the
 * transfer thread runs its own loop with one timer per zone and every exchange; query
 * threads only call gk_secondary_notify, which reads immutable fields and pushes onto a
 * bounded multi-producer ring (Vyukov's array queue: one CAS per push, never a lock), read
 * by the transfer thread alone. Zone state is the transfer thread's; the few figures the
 * metrics show are copied under s->mu, which guards nothing else than them and the queue of
 * versions waiting for the main loop (neither thread is a query thread).
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
#include "xfr/internal.h"

#define RING         4096u /* NOTIFYs queued between two turns of the transfer loop */
#define TSIG_SLOTS   64u   /* TSIG contexts made in advance for signed NOTIFYs */
#define HEADER_MAGIC "; gatekeeper secondary zone "

struct zone {
	gk_secondary_t *s;
	const gk_xfr_zone_conf_t *conf;
	const char *name; /* the config's (it outlives us) */
	uint8_t *apex;    /* lowercase wire form, apex_len octets */
	size_t apex_len;
	char *path; /* the persisted file */
	uv_timer_t timer;
	/* transfer thread */
	bool have_data, busy, again, queued;
	unsigned primary; /* the one to ask next */
	uint32_t refresh, retry, expire;
	struct zone *next_pending;
	/* under s->mu (written by the transfer thread, or main before the thread starts) */
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

static void close_cb(uv_handle_t *h)
{
	(void)h; /* the handles live in the object, freed on the main thread */
}

struct pub {
	gk_zver_t *v;
	struct pub *next;
};

struct cell {
	_Atomic size_t seq;
	uint32_t zi;
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
	struct zone *zones;
	size_t n;
	struct zone **by_apex; /* sorted: NOTIFY lookup */
	uv_async_t main_async;
	uv_mutex_t mu;
	struct pub *pubq, **pubtail;
	/* transfer thread */
	uv_thread_t thr;
	bool started, loop_ready;
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

/* The SOA's serial and timers from a zone's text (its first record is the SOA). */
static int soa_of(const char *text, size_t len, struct zone *z, uint32_t *serial)
{
	const char *p = text, *end = text + len;
	while (p < end && (*p == ';' || *p == '\n')) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		p = nl ? nl + 1 : end;
	}
	const char *nl = memchr(p, '\n', (size_t)(end - p));
	char *line = strndup(p, nl ? (size_t)(nl - p) : (size_t)(end - p));
	ldns_rr *rr = NULL;
	int rc = GK_ESYNTAX;
	if (line && ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL) == LDNS_STATUS_OK &&
	    ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && ldns_rr_rd_count(rr) == 7) {
		*serial = ldns_rdf2native_int32(ldns_rr_rdf(rr, 2));
		z->refresh = ldns_rdf2native_int32(ldns_rr_rdf(rr, 3));
		z->retry = ldns_rdf2native_int32(ldns_rr_rdf(rr, 4));
		z->expire = ldns_rdf2native_int32(ldns_rr_rdf(rr, 5));
		/* a zero timer would spin */
		z->refresh = z->refresh ? z->refresh : 1;
		z->retry = z->retry ? z->retry : 1;
		rc = 0;
	}
	ldns_rr_free(rr);
	free(line);
	return rc;
}

/* Write the zone atomically: temporary file, fsync, rename, fsync of the directory. */
static int persist(struct zone *z, const char *text, size_t len, uint64_t refreshed,
                   const char *primary)
{
	char tmp[PATH_MAX + 16], hdr[600];
	snprintf(tmp, sizeof(tmp), "%s.tmp", z->path);
	int n = snprintf(hdr, sizeof(hdr), HEADER_MAGIC "%s refreshed %llu from %s\n", z->name,
	                 (unsigned long long)(refreshed / 1000), primary);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = 0;
	const char *parts[2] = {hdr, text};
	size_t lens[2] = {(size_t)n, len};
	for (int i = 0; i < 2 && rc == 0; i++) {
		for (size_t o = 0; o < lens[i];) {
			ssize_t w = write(fd, parts[i] + o, lens[i] - o);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = -errno;
				break;
			}
			o += (size_t)w;
		}
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, z->path) != 0)
		rc = -errno;
	if (rc != 0) {
		unlink(tmp);
		return rc;
	}
	int dfd = open(z->s->conf->directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* The persisted text (header line kept: it is a comment) and its refresh time. */
static int read_persisted(struct zone *z, char **text, size_t *len, uint64_t *refreshed)
{
	int rc = gk_read_file(z->path, z->s->conf->max_zone_bytes * 4 + (1u << 20), text, len);
	if (rc != 0)
		return rc;
	*refreshed = 0;
	size_t ml = strlen(HEADER_MAGIC);
	if (*len > ml && memcmp(*text, HEADER_MAGIC, ml) == 0) {
		const char *r = strstr(*text, " refreshed ");
		const char *nl = memchr(*text, '\n', *len);
		if (r && nl && r < nl)
			*refreshed = strtoull(r + 11, NULL, 10) * 1000u;
	}
	if (*refreshed == 0) {
		struct stat st;
		if (stat(z->path, &st) == 0)
			*refreshed = (uint64_t)st.st_mtime * 1000u;
	}
	return 0;
}

static int build(struct zone *z, const char *text, size_t len, gk_zver_t **v, char *err,
                 size_t errlen)
{
	gk_zone_spec_t spec = {.name = z->name, .text = text, .text_len = len, .secondary = true};
	return gk_zver_build(&spec, z->s->psl, v, err, errlen);
}

/* The zone's placeholder (gk_zver_placeholder): SERVFAIL for its names, never transferred
 * or expired. */
static int placeholder(struct zone *z, gk_zver_t **v)
{
	gk_zone_spec_t spec = {.name = z->name, .secondary = true};
	return gk_zver_placeholder(&spec, v);
}

/* ---- hand-off to the main loop -------------------------------------------------------- */

static void publish(gk_secondary_t *s, gk_zver_t *v)
{
	struct pub *p = malloc(sizeof(*p));
	if (!p) {
		gk_log(GK_LOG_ERR, "secondary: out of memory publishing a zone version");
		gk_zver_free(v);
		return;
	}
	p->v = v;
	p->next = NULL;
	uv_mutex_lock(&s->mu);
	*s->pubtail = p;
	s->pubtail = &p->next;
	uv_mutex_unlock(&s->mu);
	uv_async_send(&s->main_async);
}

static void main_async_cb(uv_async_t *a)
{
	gk_secondary_t *s = a->data;
	uv_mutex_lock(&s->mu);
	struct pub *p = s->pubq;
	s->pubq = NULL;
	s->pubtail = &s->pubq;
	uv_mutex_unlock(&s->mu);
	if (!p)
		return;
	while (p) {
		struct pub *next = p->next;
		if (gk_zoneset_put(s->zs, p->v) != 0) {
			gk_log(GK_LOG_ERR, "secondary: out of memory publishing a zone version");
			gk_zver_free(p->v);
		}
		free(p);
		p = next;
	}
	if (s->published)
		s->published(s->ctx);
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
	char *text = NULL, err[512];
	size_t len = 0;
	uint64_t refreshed;
	gk_zver_t *v = NULL;
	if (servfail) {
		if (placeholder(z, &v) != 0)
			gk_log(GK_LOG_ERR, "secondary: zone %s: out of memory", z->name);
		else
			publish(z->s, v);
		return;
	}
	if (read_persisted(z, &text, &len, &refreshed) != 0 ||
	    build(z, text, len, &v, err, sizeof(err)) != 0) {
		gk_log(GK_LOG_ERR, "secondary: zone %s: cannot rebuild from %s", z->name, z->path);
		free(text);
		return;
	}
	free(text);
	publish(z->s, v);
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
	z->primary = (z->primary + 1) % (unsigned)z->conf->n_primaries;
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

static void exchange_over(struct zone *z)
{
	gk_secondary_t *s = z->s;
	z->busy = false;
	s->active--;
	while (s->pend_head && s->active < s->conf->max_transfers) {
		struct zone *n = s->pend_head;
		s->pend_head = n->next_pending;
		if (!s->pend_head)
			s->pend_tail = NULL;
		n->queued = false;
		check(n);
	}
	if (z->again) {
		z->again = false;
		check(z);
	}
}

static const gk_xfr_primary_conf_t *primary_of(struct zone *z)
{
	return &z->conf->primaries[z->primary % z->conf->n_primaries];
}

static void xfr_done(void *ctx, gk_xfr_result_t *r)
{
	struct zone *z = ctx;
	const gk_xfr_primary_conf_t *p = primary_of(z);
	if (atomic_load(&z->s->stop))
		return;
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
		if (soa_of(r->text, r->text_len, &tz, &serial) != 0 ||
		    build(z, r->text, r->text_len, &v, err, sizeof(err)) != 0) {
			failed(z, "transfer from %s does not load: %s", p->text, err);
		} else {
			uint64_t now = now_ms();
			int prc = persist(z, r->text, r->text_len, now, p->text);
			if (prc != 0)
				gk_log(GK_LOG_ERR, "secondary: zone %s: cannot save %s: %s",
				       z->name, z->path, gk_strerror(prc));
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
			publish(z->s, v);
			/* already republished: succeeded() must not rebuild it */
			z->expired = false;
			succeeded(z);
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
	char *text = NULL;
	uint64_t refreshed;
	if (req.kind == GK_XFR_IXFR) {
		if (read_persisted(z, &text, &req.cur_len, &refreshed) == 0) {
			req.cur_text = text;
		} else {
			req.kind = GK_XFR_AXFR;
		}
	}
	int rc = gk_xfr_start(&z->s->loop, &req, xfr_done, z);
	free(text);
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
	if (z->busy) {
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
	int rc = gk_xfr_start(&s->loop, &req, soa_done, z);
	if (rc != 0) {
		failed(z, "cannot start an SOA query: %s", gk_strerror(rc));
		exchange_over(z);
	}
}

static void timer_cb(uv_timer_t *t)
{
	struct zone *z = t->data;
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
		for (size_t i = 0; i < s->n; i++)
			uv_close((uv_handle_t *)&s->zones[i].timer, close_cb);
		uv_close((uv_handle_t *)&s->wake, close_cb);
		return;
	}
	for (;;) {
		struct cell *c = &s->ring[s->head & (RING - 1)];
		size_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
		if (seq != s->head + 1)
			break;
		uint32_t zi = c->zi;
		atomic_store_explicit(&c->seq, s->head + RING, memory_order_release);
		s->head++;
		if (zi < s->n)
			check(&s->zones[zi]);
	}
}

static void thread_main(void *arg)
{
	gk_secondary_t *s = arg;
	gk_thread_name("gk-xfr");
	uint64_t now = now_ms();
	for (size_t i = 0; i < s->n; i++) {
		struct zone *z = &s->zones[i];
		/* a zone without data at once; a persisted one when its refresh is due */
		uint64_t due = z->have_data ? z->last_ok + (uint64_t)z->refresh * 1000u : 0;
		uint64_t ms = due > now ? due - now : jitter(z->have_data ? 1000 : 200);
		schedule(z, ms);
	}
	uv_run(&s->loop, UV_RUN_DEFAULT);
}

/* ---- NOTIFY (query threads) ----------------------------------------------------------- */

static int cmp_apex(const void *a, const void *b)
{
	const struct zone *x = *(struct zone *const *)a, *y = *(struct zone *const *)b;
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

static bool ring_push(gk_secondary_t *s, uint32_t zi)
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
				c->zi = zi;
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

void gk_secondary_notify(gk_secondary_t *s, const uint8_t *msg, size_t len,
                         const struct sockaddr *from, uint8_t *out, size_t cap, size_t *outlen)
{
	*outlen = 0;
	if (len < 12 || (msg[2] & 0x80) || cap < 512)
		return;
	uint8_t rcode = 5; /* REFUSED */
	size_t q = 12, qend = 12;
	uint8_t kb[GK_DNAME_MAX];
	struct zone key = {.apex = kb}, *kp = &key, **hit = NULL;
	/* the question: an uncompressed name, lowercased */
	if (msg[5] == 1 && msg[4] == 0) {
		size_t n = 0;
		while (q < len && msg[q] != 0 && msg[q] < 64 && n + msg[q] + 1 < GK_DNAME_MAX) {
			size_t l = msg[q];
			if (q + 1 + l > len)
				break;
			key.apex[n++] = (uint8_t)l;
			for (size_t i = 0; i < l; i++)
				key.apex[n++] = gk_dname_lower[msg[q + 1 + i]];
			q += l + 1;
		}
		if (q < len && msg[q] == 0 && q + 5 <= len) {
			key.apex[n++] = 0;
			key.apex_len = n;
			qend = q + 5;
			hit = bsearch(&kp, s->by_apex, s->n, sizeof(*s->by_apex), cmp_apex);
		} else {
			rcode = 1; /* FORMERR */
		}
	} else {
		rcode = 1;
	}
	const gk_xfr_primary_conf_t *p = NULL;
	if (hit) {
		for (size_t i = 0; i < (*hit)->conf->n_primaries && !p; i++)
			if (same_host(&(*hit)->conf->primaries[i].addr, from))
				p = &(*hit)->conf->primaries[i];
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
		gk_tsig_ctx_reset(tc, p->key);
		/* signed with the primary's key, in time: else refused like a stranger */
		if (gk_tsig_verify(tc, msg, len, (uint64_t)time(NULL), NULL) != GK_TSIG_NOERROR)
			p = NULL;
	}
	if (p) {
		rcode = 0;
		if (ring_push(s, (uint32_t)(*hit - s->zones)))
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
	if (p && tc && gk_tsig_sign(tc, out, outlen, cap, (uint64_t)time(NULL), 0) != 0)
		*outlen = qend;
	if (slot)
		atomic_flag_clear_explicit(&slot->busy, memory_order_release);
}

/* ---- life cycle (main thread) --------------------------------------------------------- */

static int zone_init(gk_secondary_t *s, struct zone *z, const gk_xfr_zone_conf_t *zc, char *err,
                     size_t errlen)
{
	z->s = s;
	z->conf = zc;
	z->name = zc->name;
	gk_tsig_key_t probe; /* the apex in lowercase wire form */
	if (gk_tsig_key_init(&probe, zc->name, "hmac-sha256", "AAAA") != 0) {
		snprintf(err, errlen, "secondary: zone %s: bad name", zc->name);
		return GK_EINVAL;
	}
	z->apex = malloc(probe.name_len);
	if (!z->apex)
		return GK_ENOMEM;
	memcpy(z->apex, probe.name, probe.name_len);
	z->apex_len = probe.name_len;
	char fn[256];
	size_t k = 0;
	for (const char *c = zc->name; *c && k + 1 < sizeof(fn); c++)
		fn[k++] = *c == '/' ? '_' : (char)gk_dname_lower[(uint8_t)*c];
	if (k > 1 && fn[k - 1] == '.')
		k--;
	fn[k] = 0;
	if (asprintf(&z->path, "%s/%s.zone", s->conf->directory, fn) < 0) {
		z->path = NULL;
		return GK_ENOMEM;
	}
	z->refresh = 3600;
	z->retry = 600;
	z->expire = 604800;
	z->timer.data = z;
	return 0;
}

/* Publish the zone's placeholder: SERVFAIL until a transfer brings data. */
static void publish_placeholder(struct zone *z)
{
	gk_zver_t *v = NULL;
	if (placeholder(z, &v) != 0 || gk_zoneset_put(z->s->zs, v) != 0) {
		gk_log(GK_LOG_ERR, "secondary: zone %s: out of memory", z->name);
		gk_zver_free(v);
	}
}

/* Load the persisted copy (if any) and publish it; without one, the zone's placeholder. */
static void load_persisted(struct zone *z)
{
	char *text = NULL, err[512] = "no SOA record first";
	size_t len = 0;
	uint64_t refreshed = 0;
	int rc = read_persisted(z, &text, &len, &refreshed);
	if (rc == -ENOENT) {
		publish_placeholder(z);
		return;
	}
	gk_zver_t *v = NULL;
	uint32_t serial = 0;
	if (rc != 0 || soa_of(text, len, z, &serial) != 0 ||
	    build(z, text, len, &v, err, sizeof(err)) != 0) {
		gk_log(GK_LOG_ERR,
		       "secondary: zone %s: %s does not load (%s): SERVFAIL until a transfer",
		       z->name, z->path, rc ? gk_strerror(rc) : err);
		gk_zver_free(v);
		free(text);
		publish_placeholder(z);
		return;
	}
	z->have_data = true;
	z->serial = serial;
	z->last_ok = refreshed;
	z->expire_at = refreshed + (uint64_t)z->expire * 1000u;
	if (now_ms() >= z->expire_at) {
		gk_zver_free(v);
		v = NULL;
		z->expired = true;
		if (placeholder(z, &v) != 0)
			v = NULL;
		gk_log(GK_LOG_WARN,
		       "secondary: zone %s: persisted copy (serial %u) is past its "
		       "expire: SERVFAIL until refreshed",
		       z->name, serial);
	}
	free(text);
	if (v && gk_zoneset_put(z->s->zs, v) != 0)
		gk_zver_free(v);
	else if (v)
		gk_log(GK_LOG_INFO, "secondary: zone %s: serial %u loaded from %s", z->name, serial,
		       z->path);
}

int gk_secondary_create(uv_loop_t *main, gk_zoneset_t *zs, const gk_xfr_conf_t *conf,
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
	s->n = conf->n_zones;
	s->zones = calloc(s->n + 1, sizeof(*s->zones));
	s->by_apex = calloc(s->n + 1, sizeof(*s->by_apex));
	if (!s->zones || !s->by_apex || uv_mutex_init(&s->mu) != 0) {
		free(s->zones);
		free(s->by_apex);
		free(s);
		return GK_ENOMEM;
	}
	if (conf->n_keys > 0) {
		s->tsig = calloc(TSIG_SLOTS, sizeof(*s->tsig));
		for (size_t i = 0; s->tsig && i < TSIG_SLOTS; i++) {
			atomic_flag_clear(&s->tsig[i].busy);
			if (gk_tsig_ctx_new(&conf->keys[0], &s->tsig[i].ctx) != 0) {
				for (size_t k = 0; k < i; k++)
					gk_tsig_ctx_free(s->tsig[k].ctx);
				free(s->tsig);
				s->tsig = NULL;
			}
		}
		if (s->tsig == NULL) {
			uv_mutex_destroy(&s->mu);
			free(s->zones);
			free(s->by_apex);
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
	if (rc != 0) {
		snprintf(err, errlen, "secondary: cannot set up the transfer loop: %s",
		         uv_strerror(rc));
		gk_secondary_free(s);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < s->n && rc == 0; i++) {
		rc = zone_init(s, &s->zones[i], &conf->zones[i], err, errlen);
		if (rc == 0 && uv_timer_init(&s->loop, &s->zones[i].timer) != 0)
			rc = GK_ENOMEM;
		s->by_apex[i] = &s->zones[i];
	}
	if (rc != 0) {
		if (rc == GK_ENOMEM)
			snprintf(err, errlen, "secondary: out of memory");
		gk_secondary_free(s);
		return rc;
	}
	qsort(s->by_apex, s->n, sizeof(*s->by_apex), cmp_apex);
	for (size_t i = 0; i < s->n; i++)
		load_persisted(&s->zones[i]);
	*out = s;
	return 0;
}

int gk_secondary_start(gk_secondary_t *s)
{
	int rc = uv_thread_create(&s->thr, thread_main, s);
	if (rc == 0)
		s->started = true;
	return rc;
}

int gk_secondary_refresh(gk_secondary_t *s, const char *name)
{
	long i = gk_secondary_find(s, name);
	if (i < 0)
		return GK_ENOENT;
	if (!ring_push(s, (uint32_t)i))
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

size_t gk_secondary_count(const gk_secondary_t *s)
{
	return s ? s->n : 0;
}

const char *gk_secondary_status_at(gk_secondary_t *s, size_t i, char *buf, size_t cap)
{
	struct zone *z = &s->zones[i];
	char serial[16] = "-", last[32], xfr[96] = "-", next[32], exp[32], when[32];
	uv_mutex_lock(&s->mu);
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
	snprintf(buf, cap,
	         "primary=%s serial=%s last_refresh=%s last_transfer=%s next_refresh=%s "
	         "expire=%s%s checks=%llu failures=%llu last_error=%s",
	         z->asked ? z->asked : z->conf->primaries[0].text, serial, last, xfr, next, exp,
	         z->expired ? " expired" : "", (unsigned long long)z->checks,
	         (unsigned long long)z->failures, z->last_error ? z->last_error : "-");
	uv_mutex_unlock(&s->mu);
	return z->name;
}

long gk_secondary_find(gk_secondary_t *s, const char *name)
{
	if (s == NULL)
		return -1;
	gk_tsig_key_t probe;
	struct zone key = {.apex = probe.name}, *kp = &key;
	if (gk_tsig_key_init(&probe, name, "hmac-sha256", "AAAA") != 0)
		return -1;
	key.apex_len = probe.name_len;
	struct zone **hit = bsearch(&kp, s->by_apex, s->n, sizeof(*s->by_apex), cmp_apex);
	return hit ? (long)(*hit - s->zones) : -1;
}

static void label(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s == '\n' ? ' ' : *s, f);
	}
}

void gk_secondary_metrics(gk_secondary_t *s, FILE *f)
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
		for (size_t i = 0; i < s->n; i++) {
			struct zone *z = &s->zones[i];
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
	fprintf(f, "# TYPE gatekeeper_secondary_zone_last_error gauge\n");
	for (size_t i = 0; i < s->n; i++) {
		struct zone *z = &s->zones[i];
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
		gk_zver_free(p->v);
		free(p);
		p = n;
	}
	uv_mutex_destroy(&s->mu);
	for (size_t i = 0; i < s->n; i++) {
		free(s->zones[i].apex);
		free(s->zones[i].path);
		free(s->zones[i].last_error);
	}
	for (size_t i = 0; s->tsig && i < TSIG_SLOTS; i++)
		gk_tsig_ctx_free(s->tsig[i].ctx);
	free(s->tsig);
	free(s->zones);
	free(s->by_apex);
	free(s);
}

static void walk_close(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, close_cb);
}

void gk_secondary_free(gk_secondary_t *s)
{
	if (!s)
		return;
	atomic_store(&s->stop, true);
	if (s->started) {
		uv_async_send(&s->wake);
		uv_thread_join(&s->thr);
	}
	if (!s->started && s->loop_ready) {
		/* the thread never ran: close the handles here */
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
