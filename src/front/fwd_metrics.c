/* SPDX-License-Identifier: MIT */
/* src/front/fwd_metrics.c -- the relays' figures summed over workers (fwd.h): metrics.
 *
 * Each worker's relay keeps plain counters; these are read with relaxed loads from the main
 * thread at a scrape, so a value may be a moment old but is never torn.
 */
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include "front/cache.h"
#include "front/fwd.h"

void gk_front_fwd_backend_sum(gk_fwd_t *const *fw, size_t n, size_t pool, size_t b,
                              gk_fbackend_stats_t *sum, unsigned *up_in)
{
	memset(sum, 0, sizeof(*sum));
	*up_in = 0;
	for (size_t i = 0; i < n; i++) {
		if (fw[i] == NULL || pool >= gk_front_fwd_pools(fw[i]) ||
		    b >= gk_front_fwd_backends(fw[i], pool))
			continue;
		gk_fbackend_stats_t st;
		gk_front_fwd_backend_stats(fw[i], pool, b, &st);
		sum->queries += st.queries;
		sum->answers += st.answers;
		sum->servfails += st.servfails;
		sum->timeouts += st.timeouts;
		sum->mismatches += st.mismatches;
		sum->unreachable += st.unreachable;
		sum->downs += st.downs;
		sum->ups += st.ups;
		for (size_t k = 0; k < GK_FPOOL_LAT_BUCKETS; k++)
			sum->lat[k] += st.lat[k];
		sum->lat_sum_us += st.lat_sum_us;
		sum->outstanding += st.outstanding;
		*up_in += st.up;
	}
}

static void fam(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One line per backend of every pool: the value get() picks from the sum. */
static void per_backend(FILE *f, gk_fwd_t *const *fw, size_t n, const gk_front_conf_t *conf,
                        const char *name, const char *type, const char *help,
                        double (*get)(const gk_fbackend_stats_t *, unsigned up, size_t n))
{
	fam(f, name, type, help);
	for (size_t p = 0; p < conf->n_pools; p++)
		for (size_t b = 0; b < conf->pools[p].n_backends; b++) {
			gk_fbackend_stats_t st;
			unsigned up;
			gk_front_fwd_backend_sum(fw, n, p, b, &st, &up);
			fprintf(f, "%s{pool=\"%s\",backend=\"%s\"} %.17g\n", name,
			        conf->pools[p].name, conf->pools[p].backends[b].name,
			        get(&st, up, n));
		}
}

static double g_queries(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u, (void)n;
	return (double)s->queries;
}
static double g_answers(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u, (void)n;
	return (double)s->answers;
}
static double g_servfails(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u, (void)n;
	return (double)s->servfails;
}
static double g_timeouts(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u, (void)n;
	return (double)s->timeouts;
}
static double g_mismatches(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u, (void)n;
	return (double)s->mismatches;
}
static double g_unreachable(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u;
	(void)n;
	return (double)s->unreachable;
}

static double g_outstanding(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)u, (void)n;
	return (double)s->outstanding;
}
static double g_up(const gk_fbackend_stats_t *s, unsigned u, size_t n)
{
	(void)s;
	return n ? (double)u / (double)n : 0;
}

void gk_front_fwd_metrics(gk_fwd_t *const *fw, size_t n, const gk_front_conf_t *conf, FILE *f)
{
	static const char *const le[GK_FPOOL_LAT_BUCKETS - 1] = {
	    "0.001", "0.002", "0.005", "0.01", "0.02", "0.05", "0.1", "0.2", "0.5", "1", "2"};
	if (conf == NULL || n == 0)
		return;
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_queries_total", "counter",
	            "Queries sent to the backend (retries included, health checks not).",
	            g_queries);
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_answers_total", "counter",
	            "Answers from the backend that matched an outstanding query.", g_answers);
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_servfails_total", "counter",
	            "Of those, SERVFAIL (a failure for the backend's health).", g_servfails);
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_timeouts_total", "counter",
	            "Queries the backend did not answer in timeout_ms.", g_timeouts);
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_mismatched_total", "counter",
	            "Datagrams from the backend's address that matched no outstanding query "
	            "(wrong ID or question, RFC 5452): dropped.",
	            g_mismatches);
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_unreachable_total", "counter",
	            "Port unreachable from the kernel (ICMP) for a query or a check sent to the "
	            "backend: down at once, its queries sent to another backend.",
	            g_unreachable);
	fam(f, "gatekeeper_frontend_backend_transitions_total", "counter",
	    "Health transitions of the backend (to=\"down\" or \"up\"; summed over the relays, "
	    "each of which keeps its own health state); each is logged with its reason.");
	for (size_t p = 0; p < conf->n_pools; p++)
		for (size_t b = 0; b < conf->pools[p].n_backends; b++) {
			gk_fbackend_stats_t st;
			unsigned up;
			gk_front_fwd_backend_sum(fw, n, p, b, &st, &up);
			for (int k = 0; k < 2; k++)
				fprintf(f,
				        "gatekeeper_frontend_backend_transitions_total{pool=\"%s\","
				        "backend=\"%s\",to=\"%s\"} %" PRIu64 "\n",
				        conf->pools[p].name, conf->pools[p].backends[b].name,
				        k ? "up" : "down", k ? st.ups : st.downs);
		}
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_outstanding", "gauge",
	            "Queries in flight to the backend.", g_outstanding);
	per_backend(f, fw, n, conf, "gatekeeper_frontend_backend_up", "gauge",
	            "Health: the share of relays (a worker loop and its UDP threads each have one) "
	            "that see the backend up (1: all, 0: down).",
	            g_up);
	fam(f, "gatekeeper_frontend_backend_latency_seconds", "histogram",
	    "Time from sending a query to the backend's answer.");
	for (size_t p = 0; p < conf->n_pools; p++)
		for (size_t b = 0; b < conf->pools[p].n_backends; b++) {
			gk_fbackend_stats_t st;
			unsigned up;
			gk_front_fwd_backend_sum(fw, n, p, b, &st, &up);
			const char *pn = conf->pools[p].name, *bn = conf->pools[p].backends[b].name;
			uint64_t cum = 0;
			for (size_t k = 0; k < GK_FPOOL_LAT_BUCKETS; k++) {
				cum += st.lat[k];
				fprintf(f,
				        "gatekeeper_frontend_backend_latency_seconds_bucket{pool="
				        "\"%s\","
				        "backend=\"%s\",le=\"%s\"} %" PRIu64 "\n",
				        pn, bn, k < GK_FPOOL_LAT_BUCKETS - 1 ? le[k] : "+Inf", cum);
			}
			fprintf(
			    f,
			    "gatekeeper_frontend_backend_latency_seconds_sum{pool=\"%s\",backend="
			    "\"%s\"} %.6f\n",
			    pn, bn, (double)st.lat_sum_us / 1e6);
			fprintf(f,
			        "gatekeeper_frontend_backend_latency_seconds_count{pool=\"%s\","
			        "backend=\"%s\"} %" PRIu64 "\n",
			        pn, bn, cum);
		}
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} cst[] = {
	    {"gatekeeper_frontend_cache_entries", "gauge",
	     "Answers held in the pool's packet caches.", offsetof(gk_fcache_stats_t, entries)},
	    {"gatekeeper_frontend_cache_capacity", "gauge",
	     "Entries the pool's packet caches can hold (cache_size, divided among the relays).",
	     offsetof(gk_fcache_stats_t, slots)},
	    {"gatekeeper_frontend_cache_inserts_total", "counter", "Backend answers stored.",
	     offsetof(gk_fcache_stats_t, inserts)},
	    {"gatekeeper_frontend_cache_evictions_total", "counter",
	     "Live entries replaced to make room (a full cache).",
	     offsetof(gk_fcache_stats_t, evictions)},
	    {"gatekeeper_frontend_cache_expired_total", "counter",
	     "Entries dropped or replaced at the end of their TTL.",
	     offsetof(gk_fcache_stats_t, expired)},
	    {"gatekeeper_frontend_cache_uncacheable_total", "counter",
	     "Backend answers not stored: SERVFAIL and other rcodes, truncated, negative without "
	     "a SOA, larger than an entry, or malformed.",
	     offsetof(gk_fcache_stats_t, uncacheable)},
	};
	for (size_t k = 0; k < sizeof(cst) / sizeof(cst[0]); k++) {
		fam(f, cst[k].name, cst[k].type, cst[k].help);
		for (size_t p = 0; p < conf->n_pools; p++) {
			uint64_t v = 0;
			for (size_t i = 0; i < n; i++) {
				gk_fcache_stats_t st;
				if (!fw[i])
					continue;
				gk_front_fwd_cache_stats(fw[i], p, &st);
				uint64_t x;
				memcpy(&x, (const char *)&st + cst[k].off, sizeof(x));
				v += x;
				if (cst[k].off == offsetof(gk_fcache_stats_t, uncacheable))
					v += st.malformed;
			}
			fprintf(f, "%s{pool=\"%s\"} %" PRIu64 "\n", cst[k].name,
			        conf->pools[p].name, v);
		}
	}
	gk_fwd_counters_t c;
	memset(&c, 0, sizeof(c));
	for (size_t i = 0; i < n; i++)
		if (fw[i])
			gk_front_fwd_counters_read(fw[i], &c);
	static const struct {
		const char *name, *help;
		size_t off;
	} one[] = {
	    {"gatekeeper_frontend_queries_total",
	     "Queries under forwarded zones that passed the decision (to the cache or a backend).",
	     offsetof(gk_fwd_counters_t, queries)},
	    {"gatekeeper_frontend_cache_hits_total", "Of those, answered from the packet cache.",
	     offsetof(gk_fwd_counters_t, cache_hits)},
	    {"gatekeeper_frontend_retries_total",
	     "Tries sent again to another backend (timeout or SERVFAIL).",
	     offsetof(gk_fwd_counters_t, retries)},
	    {"gatekeeper_frontend_mismatched_total",
	     "Backend datagrams dropped: no outstanding query matched (RFC 5452).",
	     offsetof(gk_fwd_counters_t, mismatched)},
	    {"gatekeeper_frontend_malformed_total",
	     "Backend answers that could not be walked (relayed as SERVFAIL), and datagrams larger "
	     "than we advertised (dropped, the query retried at its timeout).",
	     offsetof(gk_fwd_counters_t, malformed)},
	    {"gatekeeper_frontend_truncated_total", "Truncated UDP answers from backends.",
	     offsetof(gk_fwd_counters_t, truncated)},
	    {"gatekeeper_frontend_tcp_retries_total", "Of those, asked again over TCP.",
	     offsetof(gk_fwd_counters_t, tcp_retries)},
	    {"gatekeeper_frontend_tcp_queries_total", "Queries sent over TCP to backends.",
	     offsetof(gk_fwd_counters_t, tcp_queries)},
	    {"gatekeeper_frontend_tcp_errors_total",
	     "Backend TCP connections that failed, were reset or closed by the backend.",
	     offsetof(gk_fwd_counters_t, tcp_errors)},
	    {"gatekeeper_frontend_send_errors_total",
	     "Relayed UDP answers the kernel did not take (the client retries).",
	     offsetof(gk_fwd_counters_t, send_errors)},
	    {"gatekeeper_frontend_checks_total", "Active health checks sent (SOA queries).",
	     offsetof(gk_fwd_counters_t, checks)},
	    {"gatekeeper_frontend_dnstap_dropped_total",
	     "dnstap messages of backend traffic not queued (the log's ring was full).",
	     offsetof(gk_fwd_counters_t, tap_dropped)},
	    {"gatekeeper_frontend_ecs_invalid_total",
	     "Queries whose own EDNS Client Subnet option was invalid (answered FORMERR, not "
	     "forwarded; RFC 7871 7.1.1).",
	     offsetof(gk_fwd_counters_t, ecs_invalid)},
	    {"gatekeeper_frontend_source_port_rotations_total",
	     "Backend sockets replaced by one on a new random source port (RFC 5452; one per "
	     "address family a second per relay).",
	     offsetof(gk_fwd_counters_t, rotations)},
	    {"gatekeeper_frontend_source_port_rotation_errors_total",
	     "Replacements of a backend socket that could not be made (socket or bind failed, "
	     "or every spare socket still draining): the old port stays in use.",
	     offsetof(gk_fwd_counters_t, rotate_errors)},
	    {"gatekeeper_frontend_filtered_total",
	     "Answers relayed without the data of a refused registrable domain they carried (a "
	     "CNAME target, glue, additional data), as our own answers leave it out.",
	     offsetof(gk_fwd_counters_t, filtered)},
	    {"gatekeeper_frontend_filtered_records_total", "Records left out of those answers.",
	     offsetof(gk_fwd_counters_t, filtered_records)},
	};
	for (size_t i = 0; i < sizeof(one) / sizeof(one[0]); i++) {
		uint64_t v;
		memcpy(&v, (const char *)&c + one[i].off, sizeof(v));
		fam(f, one[i].name, "counter", one[i].help);
		fprintf(f, "%s %" PRIu64 "\n", one[i].name, v);
	}
	fam(f, "gatekeeper_frontend_answers_total", "counter",
	    "Backend or cached answers relayed to clients, by their rcode (the relay's own "
	    "SERVFAILs are gatekeeper_frontend_servfail_total).");
	for (unsigned i = 0; i <= GK_FWD_RCODES_NAMED; i++)
		fprintf(f, "gatekeeper_frontend_answers_total{rcode=\"%s\"} %" PRIu64 "\n",
		        gk_front_fwd_rcode_name(i), c.rcode[i]);
	fam(f, "gatekeeper_frontend_servfail_total", "counter",
	    "SERVFAIL sent by the relay, by reason: no backend up (or all at their bound), the "
	    "outstanding table full, every try timed out, a backend answer that could not be "
	    "walked, the last try's TCP connection failed.");
	fprintf(f, "gatekeeper_frontend_servfail_total{reason=\"no_backend\"} %" PRIu64 "\n",
	        c.no_backend);
	fprintf(f, "gatekeeper_frontend_servfail_total{reason=\"table_full\"} %" PRIu64 "\n",
	        c.table_full);
	fprintf(f, "gatekeeper_frontend_servfail_total{reason=\"timeout\"} %" PRIu64 "\n",
	        c.servfail - c.no_backend - c.table_full - c.bad_answer - c.conn_failed);
	fprintf(f, "gatekeeper_frontend_servfail_total{reason=\"connection\"} %" PRIu64 "\n",
	        c.conn_failed);
	fprintf(f, "gatekeeper_frontend_servfail_total{reason=\"malformed\"} %" PRIu64 "\n",
	        c.bad_answer);
}
