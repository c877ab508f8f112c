/* SPDX-License-Identifier: MIT */
/* src/obs/metrics.c -- Prometheus text exposition of the summed counters, and its HTTP door.
 *
 * Rendering allocates (a growing buffer) and runs on the main loop, never on a worker. Label
 * sets that are small and fixed (transport x qtype, transport x rcode) are always written,
 * zeros included, so rate() has a start; the decision matrix (status x action x reason x
 * mode, over a thousand combinations of which a handful occur) only where non-zero.
 *
 * HTTP: a request is read until its blank line (at most REQ_MAX bytes), answered, and the
 * connection closed after the write; each connection has TIMEOUT_MS from accept for all of
 * it. At most MAX_CLIENTS connections are open: one more evicts the oldest, so connections
 * that never send a request (half-open, stalled) cannot lock a scraper out -- a real scrape
 * sends its request at once and is answered in the same loop turn.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "gk/version.h"
#include "obs/discovery.h"
#include "obs/dnstap.h"
#include "obs/metrics.h"
#include "zone/zone.h"
#include "status/status.h"

#define REQ_MAX     4096u
#define TIMEOUT_MS  2000u
#define MAX_CLIENTS 16u

/* --- rendering --------------------------------------------------------------------- */

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

__attribute__((format(printf, 2, 3))) static void put(struct buf *b, const char *fmt, ...)
{
	if (b->oom)
		return;
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if ((size_t)n < b->cap - b->len) {
			b->len += (size_t)n;
			return;
		}
		size_t cap = b->cap * 2 + (size_t)n;
		char *p = realloc(b->p, cap);
		if (p == NULL) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
}

static void head(struct buf *b, const char *name, const char *type, const char *help)
{
	put(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const transports[2] = {"udp", "tcp"};

/* One sample of a family with one label: NAME{LABEL="value"} v. */
struct row {
	const char *value;
	uint64_t v;
};

/* A family with one label: its HELP and TYPE lines, then a sample per row. */
static void family(struct buf *b, const char *name, const char *type, const char *help,
                   const char *label, const struct row *rows, size_t n)
{
	head(b, name, type, help);
	for (size_t i = 0; i < n; i++)
		put(b, "%s{%s=\"%s\"} %llu\n", name, label, rows[i].value,
		    (unsigned long long)rows[i].v);
}

#define FAMILY(b, name, type, help, label, ...)                                                    \
	family(b, name, type, help, label, (const struct row[]){__VA_ARGS__},                      \
	       sizeof((const struct row[]){__VA_ARGS__}) / sizeof(struct row))

static void render_queries(struct buf *b, const gk_obs_counters_t *c)
{
	head(b, "gatekeeper_queries_total", "counter",
	     "DNS messages given to the packet path, by transport and query type.");
	for (unsigned t = 0; t < 2; t++)
		for (unsigned q = 0; q < GK_OBS_QT_N; q++)
			put(b, "gatekeeper_queries_total{transport=\"%s\",qtype=\"%s\"} %llu\n",
			    transports[t], gk_obs_qtype_name(q),
			    (unsigned long long)c->queries[t][q]);
	head(b, "gatekeeper_responses_total", "counter",
	     "Responses built, by transport and response code.");
	for (unsigned t = 0; t < 2; t++)
		for (unsigned r = 0; r < GK_OBS_RCODE_N; r++)
			put(b, "gatekeeper_responses_total{transport=\"%s\",rcode=\"%s\"} %llu\n",
			    transports[t], gk_obs_rcode_name(r),
			    (unsigned long long)c->responses[t][r]);
	FAMILY(b, "gatekeeper_responses_truncated_total", "counter",
	       "Responses sent with TC set, by transport.", "transport",
	       {transports[0], c->truncated[0]}, {transports[1], c->truncated[1]});
	FAMILY(b, "gatekeeper_queries_unanswered_total", "counter",
	       "Messages given no response: malformed, a response, or the drop action.",
	       "transport", {transports[0], c->unanswered[0]}, {transports[1], c->unanswered[1]});
}

static void render_decisions(struct buf *b, const gk_obs_counters_t *c)
{
	head(b, "gatekeeper_decisions_total", "counter",
	     "Decisions of the filing check and policy, by filing status found, action, "
	     "reason and mode (monitor: the refusal was counted and logged, not sent).");
	for (unsigned s = 0; s < GK_OBS_STATUS_N; s++)
		for (unsigned a = 0; a < GK_OBS_ACTION_N; a++)
			for (unsigned w = 0; w < GK_OBS_WHY_N; w++)
				for (unsigned m = 0; m < 2; m++) {
					uint64_t v = c->decisions[s][a][w][m];
					if (v == 0)
						continue;
					put(b,
					    "gatekeeper_decisions_total{status=\"%s\",action=\"%"
					    "s\","
					    "reason=\"%s\",mode=\"%s\"} %llu\n",
					    gk_obs_status_name(s), gk_obs_action_name(a),
					    gk_obs_why_name(w), m ? "monitor" : "enforce",
					    (unsigned long long)v);
				}
}

static void render_latency(struct buf *b, const gk_obs_counters_t *c)
{
	const char *n = "gatekeeper_packet_duration_seconds";
	head(b, n, "histogram",
	     "Time in the packet path per query (per-batch mean: receive to send of a "
	     "recvmmsg batch or a TCP read, divided by its queries).");
	uint64_t cum = 0;
	for (unsigned i = 0; i < GK_OBS_LAT_N; i++) {
		cum += c->lat_bucket[i];
		if (i < GK_OBS_LAT_N - 1)
			put(b, "%s_bucket{le=\"%g\"} %llu\n", n,
			    (double)gk_obs_lat_bounds_ns[i] / 1e9, (unsigned long long)cum);
		else
			put(b, "%s_bucket{le=\"+Inf\"} %llu\n", n, (unsigned long long)cum);
	}
	put(b, "%s_sum %.9f\n%s_count %llu\n", n, (double)c->lat_sum_ns / 1e9, n,
	    (unsigned long long)c->lat_count);
}

static void counter1(struct buf *b, const char *name, const char *help, uint64_t v)
{
	head(b, name, "counter", help);
	put(b, "%s %llu\n", name, (unsigned long long)v);
}

static void gauge1(struct buf *b, const char *name, const char *help, double v)
{
	head(b, name, "gauge", help);
	put(b, "%s %.17g\n", name, v);
}

static void render_net(struct buf *b, const gk_obs_t *obs)
{
	gk_net_counters_t n = {0};
	gk_obs_net(obs, &n);
	counter1(b, "gatekeeper_udp_send_errors_total",
	         "UDP responses the kernel did not take (dropped; the client retries).",
	         n.send_errors);
	counter1(b, "gatekeeper_udp_lingers_total",
	         "Sleeps of the UDP threads' wake-up coalescing (udp_linger_us).", n.udp_lingers);
	counter1(b, "gatekeeper_tcp_connections_accepted_total", "TCP connections accepted.",
	         n.tcp_accepted);
	FAMILY(b, "gatekeeper_tcp_connections_closed_total", "counter",
	       "TCP connections closed by the server, by reason.", "reason",
	       {"idle", n.tcp_idle_closed}, {"evicted", n.tcp_evicted},
	       {"oversize", n.tcp_oversize});
	counter1(b, "gatekeeper_tls_connections_accepted_total",
	         "DNS-over-TLS connections accepted.", n.tls_accepted);
	counter1(b, "gatekeeper_tls_queries_total", "DNS messages answered over TLS.",
	         n.tls_queries);
	FAMILY(b, "gatekeeper_tls_handshakes_total", "counter",
	       "TLS handshakes: completed (full or resumed from a session ticket), failed, or "
	       "not finished within tls.handshake_timeout_ms (closed).",
	       "result", {"full", n.tls_handshakes - n.tls_resumed}, {"resumed", n.tls_resumed},
	       {"failed", n.tls_handshake_failed}, {"timeout", n.tls_handshake_timeout});
	FAMILY(b, "gatekeeper_tls_connections_closed_total", "counter",
	       "DNS-over-TLS connections closed by the server, by reason.", "reason",
	       {"idle", n.tls_idle_closed}, {"evicted", n.tls_evicted});
	counter1(b, "gatekeeper_rrl_limited_total",
	         "UDP responses over the rate limit (rate_limit): slipped + dropped.",
	         n.rrl_limited);
	counter1(b, "gatekeeper_rrl_slipped_total",
	         "Rate-limited UDP responses sent truncated (TC) so the client retries over TCP.",
	         n.rrl_slipped);
	counter1(b, "gatekeeper_rrl_dropped_total", "Rate-limited UDP responses not sent.",
	         n.rrl_dropped);
	FAMILY(b, "gatekeeper_proxy_headers_total", "counter",
	       "PROXY v2 headers (proxy_protocol): accepted from a configured load balancer, "
	       "malformed or missing from one, refused from any other address.",
	       "result", {"accepted", n.proxy_accepted}, {"malformed", n.proxy_malformed},
	       {"refused", n.proxy_refused});
}

/* The zone store and start-up loading (docs/METRICS.md "Zones"). */
static void render_zone_figures(struct buf *b, const gk_obs_t *obs)
{
	gk_obs_zones_t z;
	if (!gk_obs_zone_figures(obs, &z))
		return;
	gauge1(b, "gatekeeper_zones_configured", "Zones configured (in the store).",
	       (double)z.configured);
	FAMILY(b, "gatekeeper_zones", "gauge",
	       "Zones by state: loaded (answered from their data), loading (start-up, not built "
	       "yet: SERVFAIL), failed (did not load: SERVFAIL).",
	       "state", {"loaded", z.loaded}, {"loading", z.loading}, {"failed", z.failed});
	gauge1(b, "gatekeeper_zones_ready",
	       "1 once start-up loading has finished (every zone loaded or failed).",
	       z.ready ? 1 : 0);
	gauge1(b, "gatekeeper_zones_load_seconds",
	       "Seconds start-up loading took (0 until gatekeeper_zones_ready).", z.load_seconds);
	gauge1(b, "gatekeeper_zone_records", "Resource records served.", (double)z.records);
}

/* Stale, expired and diverged: the states of a replica that still serves but no longer
 * follows the registry (docs/STATUS.md "Staleness", "Divergence"). */
static void render_status_health(struct buf *b, const gk_status_info_t *in)
{
	gauge1(b, "gatekeeper_status_stale",
	       "1 while no Redis reply came for filing.stale_after_ms: the last-known-good set "
	       "is still enforced.",
	       in->stale ? 1 : 0);
	gauge1(b, "gatekeeper_status_expired",
	       "1 while no Redis reply came for filing.max_age_ms: every lookup gets the "
	       "unknown action.",
	       in->expired ? 1 : 0);
	gauge1(b, "gatekeeper_status_diverged",
	       "1 while Redis holds an older serial than the one applied: nothing from it is "
	       "applied until it holds the applied serial again.",
	       in->diverged ? 1 : 0);
	gauge1(b, "gatekeeper_status_store_serial", "gk:serial last read from Redis (0: absent).",
	       (double)in->store_serial);
}

static void render_status(struct buf *b, const gk_obs_t *obs, double now)
{
	const gk_status_t *st = gk_obs_status(obs);
	gauge1(b, "gatekeeper_filing_check_enabled",
	       "1 when a filing-status replica runs (a redis section is configured).",
	       st != NULL ? 1 : 0);
	if (st == NULL)
		return;
	gk_status_info_t in;
	gk_status_info(st, &in);
	gauge1(b, "gatekeeper_status_ready", "1 once the replica's first full load completed.",
	       in.ready ? 1 : 0);
	gauge1(b, "gatekeeper_status_domains", "Registrable domains in the local status table.",
	       (double)in.table_size);
	gauge1(b, "gatekeeper_status_serial", "Registry serial applied (0: none yet).",
	       (double)in.serial);
	if (in.last_contact_ms > 0) {
		double lc = (double)in.last_contact_ms / 1e3;
		gauge1(b, "gatekeeper_status_last_contact_timestamp_seconds",
		       "Unix time of the last successful Redis reply.", lc);
		gauge1(b, "gatekeeper_status_age_seconds",
		       "Seconds since the last Redis reply: how old the applied serial may be "
		       "(stale past filing.stale_after_ms, unknown past filing.max_age_ms).",
		       now > lc ? now - lc : 0);
	}
	render_status_health(b, &in);
	counter1(b, "gatekeeper_status_full_loads_total",
	         "Full loads of the status set (1 at start, then one per resync).", in.full_loads);
	gauge1(b, "gatekeeper_redis_connected", "1 while the Redis connection is up.",
	       in.connected ? 1 : 0);
	counter1(b, "gatekeeper_redis_reconnects_total", "Redis reconnections since start.",
	         in.reconnects);
}

/* Signed zones: when their first signature expires, and how many checks they failed. */
struct zrows {
	struct buf *b;
	int pass;
};

static void zone_row(void *ctx, const gk_zver_t *v)
{
	struct zrows *z = ctx;
	int64_t exp;
	unsigned warn;
	if (!gk_zone_ver_dnssec(v, &exp, &warn))
		return;
	char name[512], zn[GK_ZVER_NAME_MAX];
	size_t o = 0;
	for (const char *p = gk_zone_ver_name(v, zn, sizeof zn); *p && o + 3 < sizeof name; p++) {
		if (*p == '"' || *p == '\\')
			name[o++] = '\\';
		name[o++] = *p;
	}
	name[o] = 0;
	if (z->pass == 0)
		put(z->b, "gatekeeper_zone_signature_expiry_timestamp_seconds{zone=\"%s\"} %lld\n",
		    name, (long long)exp);
	else
		put(z->b, "gatekeeper_zone_dnssec_warnings{zone=\"%s\"} %u\n", name, warn);
}

static void render_zones(struct buf *b, const gk_obs_t *obs)
{
	const gk_zoneset_t *zs = gk_obs_zones(obs);
	if (!zs)
		return;
	struct zrows z = {.b = b, .pass = 0};
	head(b, "gatekeeper_zone_signature_expiry_timestamp_seconds", "gauge",
	     "Earliest RRSIG expiration of each signed zone, seconds since the Unix epoch.");
	gk_zone_store_each(zs, zone_row, &z);
	z.pass = 1;
	head(b, "gatekeeper_zone_dnssec_warnings", "gauge",
	     "DNSSEC zone checks each signed zone failed when it loaded.");
	gk_zone_store_each(zs, zone_row, &z);
}

static void render_tap(struct buf *b, const gk_obs_t *obs, const gk_obs_counters_t *c)
{
	gk_tap_t *t = gk_obs_tap(obs);
	if (t == NULL)
		return;
	gk_tap_stats_t s;
	gk_obs_tap_stats(t, &s);
	FAMILY(b, "gatekeeper_dnstap_entries_total", "counter",
	       "Decision log entries by fate: queued to the log thread, refused by the rate "
	       "limit, ring full, written, lost on output (I/O error or collector away).",
	       "result", {"queued", c->tap_queued}, {"ratelimited", c->tap_ratelimited},
	       {"ring_full", c->tap_ring_full}, {"written", s.written}, {"lost", s.lost});
	counter1(b, "gatekeeper_dnstap_written_bytes_total", "Frame Streams bytes written.",
	         s.bytes);
	counter1(b, "gatekeeper_dnstap_rotations_total", "Decision log file rotations.",
	         s.rotations);
	gauge1(b, "gatekeeper_dnstap_output_open", "1 while the log file or socket is open.",
	       s.connected ? 1 : 0);
}

static void render_discovery(struct buf *b, const gk_obs_t *obs)
{
	gk_disc_t *d = gk_obs_discovery(obs);
	if (d == NULL)
		return;
	gk_disc_stats_t s;
	gk_obs_disc_stats(d, &s);
	counter1(b, "gatekeeper_discovery_flushes_total",
	         "Discovery writes to Redis that succeeded (one pipeline each).", s.flushes);
	counter1(b, "gatekeeper_discovery_writes_sent_total",
	         "Discovery writes sent to Redis, re-sends after a lost connection included.",
	         s.sent);
	counter1(b, "gatekeeper_discovery_entries_written_total",
	         "(domain, reason, day) counts written to Redis.", s.written);
	FAMILY(b, "gatekeeper_discovery_queries_total", "counter",
	       "Queries collected from the workers by the discovery merger, and of those written "
	       "to Redis.",
	       "stage", {"merged", s.merged}, {"written", s.queries});
	FAMILY(b, "gatekeeper_discovery_uncounted_total", "counter",
	       "Refusals not counted per domain: a worker table was full (worker), a day's hash "
	       "in Redis held discovery.day_max domains (day_max), dropped by the merger (merger), "
	       "or a write failed (write).",
	       "where", {"worker", s.overflow}, {"day_max", s.capped}, {"merger", s.dropped},
	       {"write", s.lost});
	gauge1(b, "gatekeeper_discovery_backlog", "Entries waiting to be written to Redis.",
	       (double)s.pending);
	counter1(b, "gatekeeper_discovery_sites_written_total",
	         "Served sites whose addresses were written to Redis (gk:site:*).",
	         s.sites_written);
	gauge1(b, "gatekeeper_discovery_table_bytes",
	       "Memory of every discovery counting table (the bound).", (double)s.table_bytes);
	gauge1(b, "gatekeeper_discovery_redis_connected",
	       "1 while discovery's Redis connection is up.", s.connected ? 1 : 0);
}

int gk_obs_metrics_render(const gk_obs_t *obs, char **out, size_t *len)
{
	struct buf b = {.cap = 16384};
	if ((b.p = malloc(b.cap)) == NULL)
		return GK_ENOMEM;
	gk_obs_counters_t *c = calloc(1, sizeof(*c));
	if (c == NULL) {
		free(b.p);
		return GK_ENOMEM;
	}
	gk_obs_sum(obs, c);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	double now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;

	head(&b, "gatekeeper_build_info", "gauge", "Build information (always 1).");
	put(&b, "gatekeeper_build_info{version=\"%s\"} 1\n", GK_VERSION);
	gauge1(&b, "process_start_time_seconds", "Start time of the process since the Unix epoch.",
	       gk_obs_start_time(obs));
	gauge1(&b, "gatekeeper_workers", "Worker threads answering queries.",
	       (double)gk_obs_workers(obs));
	render_queries(&b, c);
	render_decisions(&b, c);
	render_latency(&b, c);
	render_net(&b, obs);
	render_zone_figures(&b, obs);
	render_status(&b, obs, now);
	gauge1(&b, "gatekeeper_policy_version", "Version of the operator policy applied (0: none).",
	       (double)gk_obs_policy_version(obs));
	render_zones(&b, obs);
	render_tap(&b, obs, c);
	render_discovery(&b, obs);
	{
		char *x = NULL;
		size_t xl = 0;
		FILE *f = open_memstream(&x, &xl);
		if (f != NULL) {
			gk_obs_extra(obs, f);
			if (fclose(f) == 0 && x != NULL)
				put(&b, "%s", x);
		}
		if (f == NULL)
			b.oom = true;
		free(x);
	}
	free(c);
	if (b.oom) {
		free(b.p);
		return GK_ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}

/* --- HTTP --------------------------------------------------------------------------- */

struct gk_metrics_http {
	uv_tcp_t listener;
	const gk_obs_t *obs;
	unsigned n_clients;
	bool closing, listener_closed;
	struct client *clients; /* open connections (for close) */
};

struct client {
	uv_tcp_t h;
	uv_timer_t timer;
	uv_write_t wreq;
	gk_metrics_http_t *srv;
	struct client *prev, *next;
	unsigned handles; /* open handles: 2 (tcp, timer) until closed */
	bool responded, closing;
	char *resp;
	size_t len;
	char req[REQ_MAX];
};

static void maybe_free_srv(gk_metrics_http_t *s)
{
	if (s->closing && s->listener_closed && s->n_clients == 0)
		free(s);
}

static void client_closed(uv_handle_t *h)
{
	struct client *c = h->data;
	if (--c->handles > 0)
		return;
	gk_metrics_http_t *s = c->srv;
	free(c->resp);
	free(c);
	s->n_clients--;
	maybe_free_srv(s);
}

static void client_close(struct client *c)
{
	if (c->closing)
		return;
	c->closing = true;
	gk_metrics_http_t *s = c->srv;
	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	uv_close((uv_handle_t *)&c->timer, client_closed);
	uv_close((uv_handle_t *)&c->h, client_closed);
}

static void written(uv_write_t *req, int status)
{
	(void)status;
	client_close(req->data);
}

static void respond(struct client *c, const char *status, const char *ctype, const char *body,
                    size_t blen, bool head_only, const char *extra)
{
	c->responded = true;
	uv_read_stop((uv_stream_t *)&c->h);
	char hdr[256];
	int n = snprintf(hdr, sizeof(hdr),
	                 "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
	                 "Connection: close\r\n\r\n",
	                 status, ctype, blen, extra);
	size_t total = (size_t)n + (head_only ? 0 : blen);
	c->resp = malloc(total);
	if (c->resp == NULL) {
		client_close(c);
		return;
	}
	memcpy(c->resp, hdr, (size_t)n);
	if (!head_only)
		memcpy(c->resp + n, body, blen);
	c->wreq.data = c;
	uv_buf_t b = uv_buf_init(c->resp, (unsigned)total);
	if (uv_write(&c->wreq, (uv_stream_t *)&c->h, &b, 1, written) != 0)
		client_close(c);
}

static void respond_text(struct client *c, const char *status, const char *text, bool head_only,
                         const char *extra)
{
	respond(c, status, "text/plain; charset=utf-8", text, strlen(text), head_only, extra);
}

/* A complete request head is in c->req: answer it. */
static void handle(struct client *c)
{
	char *sp1 = memchr(c->req, ' ', c->len);
	char *eol = memchr(c->req, '\n', c->len);
	if (sp1 == NULL || eol == NULL || sp1 > eol) {
		respond_text(c, "400 Bad Request", "bad request\n", false, "");
		return;
	}
	size_t mlen = (size_t)(sp1 - c->req);
	bool get = mlen == 3 && memcmp(c->req, "GET", 3) == 0;
	bool headm = mlen == 4 && memcmp(c->req, "HEAD", 4) == 0;
	char *target = sp1 + 1;
	char *sp2 = memchr(target, ' ', (size_t)(eol - target));
	if (sp2 == NULL) {
		respond_text(c, "400 Bad Request", "bad request\n", false, "");
		return;
	}
	size_t tlen = (size_t)(sp2 - target);
	char *qm = memchr(target, '?', tlen);
	if (qm != NULL)
		tlen = (size_t)(qm - target);
	if (!get && !headm) {
		respond_text(c, "405 Method Not Allowed", "only GET and HEAD\n", false,
		             "Allow: GET, HEAD\r\n");
		return;
	}
	if (tlen != 8 || memcmp(target, "/metrics", 8) != 0) {
		respond_text(c, "404 Not Found", "not found: try /metrics\n", headm, "");
		return;
	}
	char *body;
	size_t blen;
	if (gk_obs_metrics_render(c->srv->obs, &body, &blen) != 0) {
		respond_text(c, "500 Internal Server Error", "out of memory\n", headm, "");
		return;
	}
	respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body, blen, headm, "");
	free(body);
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	(void)hint;
	struct client *c = h->data;
	*b = uv_buf_init(c->req + c->len, (unsigned)(REQ_MAX - c->len));
}

static void read_cb(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	(void)b;
	struct client *c = st->data;
	if (n < 0) {
		client_close(c);
		return;
	}
	if (n == 0 || c->responded)
		return;
	size_t from = c->len >= 3 ? c->len - 3 : 0;
	c->len += (size_t)n;
	/* the head ends at the first empty line (CRLF CRLF, or bare LF LF) */
	for (size_t i = from; i < c->len; i++) {
		if (c->req[i] == '\n' &&
		    ((i >= 1 && c->req[i - 1] == '\n') ||
		     (i >= 3 && c->req[i - 1] == '\r' && c->req[i - 2] == '\n'))) {
			handle(c);
			return;
		}
	}
	if (c->len == REQ_MAX)
		respond_text(c, "431 Request Header Fields Too Large", "request too large\n", false,
		             "");
}

static void timeout_cb(uv_timer_t *t)
{
	client_close(t->data);
}

static void on_connection(uv_stream_t *l, int status)
{
	gk_metrics_http_t *s = l->data;
	if (status < 0 || s->closing)
		return;
	struct client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return; /* the connection stays in the backlog until memory returns */
	c->srv = s;
	if (uv_tcp_init(l->loop, &c->h) != 0) {
		free(c);
		return;
	}
	uv_timer_init(l->loop, &c->timer);
	c->h.data = c->timer.data = c;
	c->handles = 2;
	s->n_clients++;
	c->next = s->clients;
	if (s->clients)
		s->clients->prev = c;
	s->clients = c;
	/* at the cap, the oldest open connection (the list's tail) makes room */
	unsigned open = 0;
	struct client *oldest = NULL;
	for (struct client *o = c->next; o != NULL; o = o->next) {
		open++;
		oldest = o;
	}
	if (open >= MAX_CLIENTS && oldest != NULL)
		client_close(oldest);
	if (uv_accept(l, (uv_stream_t *)&c->h) != 0 ||
	    uv_read_start((uv_stream_t *)&c->h, alloc_cb, read_cb) != 0 ||
	    uv_timer_start(&c->timer, timeout_cb, TIMEOUT_MS, 0) != 0)
		client_close(c);
}

static void listener_closed(uv_handle_t *h)
{
	gk_metrics_http_t *s = h->data;
	s->listener_closed = true;
	maybe_free_srv(s);
}

int gk_obs_metrics_http_start(uv_loop_t *loop, const struct sockaddr *addr, const gk_obs_t *obs,
                              gk_metrics_http_t **out, char *err, size_t errlen)
{
	gk_metrics_http_t *s = calloc(1, sizeof(*s));
	if (s == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return UV_ENOMEM;
	}
	s->obs = obs;
	int rc = uv_tcp_init(loop, &s->listener);
	if (rc != 0) {
		free(s);
		snprintf(err, errlen, "metrics: %s", uv_strerror(rc));
		return rc;
	}
	s->listener.data = s;
	if ((rc = uv_tcp_bind(&s->listener, addr, 0)) != 0 ||
	    (rc = uv_listen((uv_stream_t *)&s->listener, 64, on_connection)) != 0) {
		snprintf(err, errlen, "metrics: cannot listen: %s", uv_strerror(rc));
		s->closing = true;
		uv_close((uv_handle_t *)&s->listener, listener_closed);
		return rc;
	}
	*out = s;
	return 0;
}

int gk_obs_metrics_http_port(const gk_metrics_http_t *h)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);
	if (uv_tcp_getsockname(&h->listener, (struct sockaddr *)&ss, &len) != 0)
		return -1;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
}

void gk_obs_metrics_http_close(gk_metrics_http_t *h)
{
	if (h == NULL || h->closing)
		return;
	h->closing = true;
	while (h->clients != NULL)
		client_close(h->clients);
	uv_close((uv_handle_t *)&h->listener, listener_closed);
}
