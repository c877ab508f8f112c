/* SPDX-License-Identifier: MIT */
/* tests/unit/obs/test_obs.c -- per-worker counters, summing, latency buckets, the exposition
 * text, and the decision log (token bucket, ring, dnstap frames read back with fstrm and
 * protobuf-c, rotation).
 *
 * No sockets: the hook is called directly as a worker would call it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fstrm.h>
#include <netinet/in.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "dnstap.pb-c.h"
#include "net/net.h"
#include "obs/dnstap.h"
#include "obs/metrics.h"
#include "obs/obs.h"
#include "status/status.h"
#include "tmpdir.h" /* tests/unit/tmpdir.h */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_make(tmpdir, sizeof(tmpdir), "obs");
}

static int remove_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_remove(tmpdir);
}

/* A query for www.foo.cn (registrable domain foo.cn at offset 16) and a result. */
static const uint8_t query[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0, 0,   0,   0, 0, 0, 3, 'w',
                                'w',  'w',  3,    'f',  'o', 'o', 2, 'c', 'n', 0, 0, 1, 0, 1};
static uint8_t response[sizeof(query)];

static gk_pkt_result_t result(uint16_t qtype, uint8_t rcode, int8_t filing, gk_action_t act,
                              gk_why_t why)
{
	gk_pkt_result_t r = {0};
	r.len = sizeof(response);
	r.qtype = qtype;
	r.rcode = rcode;
	r.filing = filing;
	r.action = (uint8_t)act;
	r.why = (uint8_t)why;
	r.reg_off = 16;
	r.reg_len = 8;
	return r;
}

static void test_qtype_index(void **state)
{
	(void)state;
	assert_int_equal(gk_obs_qtype_index(1), GK_OBS_QT_A);
	assert_int_equal(gk_obs_qtype_index(28), GK_OBS_QT_AAAA);
	assert_int_equal(gk_obs_qtype_index(0), GK_OBS_QT_NONE);
	assert_int_equal(gk_obs_qtype_index(3), GK_OBS_QT_OTHER);
	assert_int_equal(gk_obs_qtype_index(257), GK_OBS_QT_CAA);
	assert_int_equal(gk_obs_qtype_index(65), GK_OBS_QT_HTTPS);
	assert_int_equal(gk_obs_qtype_index(255), GK_OBS_QT_ANY);
	assert_int_equal(gk_obs_qtype_index(65535), GK_OBS_QT_OTHER);
	for (unsigned i = 0; i < GK_OBS_QT_N; i++)
		assert_non_null(gk_obs_qtype_name(i));
	assert_string_equal(gk_obs_rcode_name(5), "REFUSED");
	assert_string_equal(gk_obs_rcode_name(16), "BADVERS");
	assert_string_equal(gk_obs_status_name(GK_PKT_NOCHECK + 2), "none");
	assert_string_equal(gk_obs_why_name(GK_WHY_TCP_ONLY), "tcp_only");
	assert_string_equal(gk_obs_action_name(GK_ACT_TRUNCATE), "truncate");
}

static void test_sum(void **state)
{
	(void)state;
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(3, NULL, &o), 0);
	gk_obs_worker_t *w0 = gk_obs_worker(o, 0), *w2 = gk_obs_worker(o, 2);
	assert_null(gk_obs_worker(o, 3));
	/* blocks never share a cache line */
	assert_int_equal((uintptr_t)w0 % 64, 0);
	assert_true((uintptr_t)gk_obs_worker(o, 1) - (uintptr_t)w0 >= sizeof(gk_obs_counters_t));
	gk_pkt_result_t filed = result(1, 0, GK_FS_FILED, GK_ACT_RESOLVE, GK_WHY_NONE);
	gk_pkt_result_t unf = result(28, 5, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	gk_pkt_result_t rev = result(15, 3, GK_FS_REVOKED, GK_ACT_NXDOMAIN, GK_WHY_REVOKED);
	gk_pkt_result_t mon = result(1, 0, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	mon.monitor = true;
	gk_pkt_result_t bad = {0};
	bad.filing = GK_PKT_NOCHECK;
	for (int i = 0; i < 5; i++)
		gk_obs_query(w0, GK_PKT_UDP, GK_PKT_ANSWER, &filed, query, sizeof(query), response,
		             NULL);
	for (int i = 0; i < 3; i++)
		gk_obs_query(w2, GK_PKT_UDP, GK_PKT_ANSWER, &filed, query, sizeof(query), response,
		             NULL);
	gk_obs_query(w2, GK_PKT_TCP, GK_PKT_ANSWER, &unf, query, sizeof(query), response, NULL);
	gk_obs_query(w0, GK_PKT_UDP, GK_PKT_ANSWER, &rev, query, sizeof(query), response, NULL);
	gk_obs_query(w0, GK_PKT_UDP, GK_PKT_ANSWER, &mon, query, sizeof(query), response, NULL);
	gk_obs_query(w0, GK_PKT_UDP, GK_PKT_DROP, &bad, query, 3, response, NULL);
	gk_obs_query(NULL, GK_PKT_UDP, GK_PKT_DROP, &bad, query, 3, response, NULL); /* no-op */
	/* out-of-range values land in "other", never out of bounds */
	gk_pkt_result_t odd = result(1, 99, 77, (gk_action_t)200, (gk_why_t)200);
	gk_obs_query(w2, GK_PKT_TCP, GK_PKT_ANSWER, &odd, query, sizeof(query), response, NULL);

	gk_obs_counters_t s = {0};
	gk_obs_sum(o, &s);
	assert_int_equal(s.queries[0][GK_OBS_QT_A], 9);
	assert_int_equal(s.queries[0][GK_OBS_QT_MX], 1);
	assert_int_equal(s.queries[0][GK_OBS_QT_NONE], 1);
	assert_int_equal(s.queries[1][GK_OBS_QT_AAAA], 1);
	assert_int_equal(s.queries[1][GK_OBS_QT_A], 1);
	assert_int_equal(s.responses[0][0], 9);
	assert_int_equal(s.responses[0][3], 1);
	assert_int_equal(s.responses[1][5], 1);
	assert_int_equal(s.responses[1][16], 1);
	assert_int_equal(s.unanswered[0], 1);
	assert_int_equal(s.decisions[GK_FS_FILED + 2][GK_ACT_RESOLVE][GK_WHY_NONE][0], 8);
	assert_int_equal(s.decisions[GK_FS_UNFILED + 2][GK_ACT_REFUSE][GK_WHY_UNFILED][0], 1);
	assert_int_equal(s.decisions[GK_FS_UNFILED + 2][GK_ACT_REFUSE][GK_WHY_UNFILED][1], 1);
	assert_int_equal(s.decisions[GK_FS_REVOKED + 2][GK_ACT_NXDOMAIN][GK_WHY_REVOKED][0], 1);
	assert_int_equal(s.decisions[GK_PKT_NOCHECK + 2][GK_ACT_RESOLVE][GK_WHY_NONE][0], 1);
	assert_int_equal(s.decisions[GK_OBS_STATUS_N - 1][GK_OBS_ACTION_N - 1][GK_OBS_WHY_N - 1][0],
	                 1);
	/* summing twice adds again: the caller starts from zero */
	gk_obs_counters_t s2 = {0};
	gk_obs_sum(o, &s2);
	assert_memory_equal(&s, &s2, sizeof(s));
	gk_obs_free(o);
}

static void test_latency(void **state)
{
	(void)state;
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(1, NULL, &o), 0);
	gk_obs_worker_t *w = gk_obs_worker(o, 0);
	uint64_t t0 = gk_obs_batch_begin(w);
	assert_true(t0 > 0);
	/* a batch of 3 that took >= 6 us: each query counts as ~2 us (bucket le=2.5e-6) */
	gk_obs_batch_end(w, gk_obs_now_ns() - 6000, 3);
	gk_obs_batch_end(w, gk_obs_now_ns(), 0); /* empty batch: nothing */
	/* one query that took 20 ms: +Inf */
	gk_obs_batch_end(w, gk_obs_now_ns() - 20000000, 1);
	gk_obs_counters_t s = {0};
	gk_obs_sum(o, &s);
	assert_int_equal(s.lat_count, 4);
	assert_int_equal(s.lat_bucket[4], 3); /* 1000 < 2000 <= 2500 */
	assert_int_equal(s.lat_bucket[GK_OBS_LAT_N - 1], 1);
	assert_true(s.lat_sum_ns >= 20006000);
	gk_obs_free(o);
}

static uint64_t policy_version(void *arg)
{
	return *(uint64_t *)arg;
}

static void net_counters(void *arg, gk_net_counters_t *sum)
{
	(void)arg;
	sum->tcp_accepted += 7;
	sum->send_errors += 2;
}

/* The value of the sample line that starts with prefix (name{labels}), or -1. */
static double sample(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	for (const char *p = text; p != NULL && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, prefix, n) == 0 && p[n] == ' ')
			return strtod(p + n + 1, NULL);
	return -1;
}

static void test_render(void **state)
{
	(void)state;
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(2, NULL, &o), 0);
	gk_pkt_result_t unf = result(1, 5, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	gk_pkt_result_t filed = result(28, 0, GK_FS_FILED, GK_ACT_RESOLVE, GK_WHY_NONE);
	filed.tc = true;
	for (int i = 0; i < 4; i++)
		gk_obs_query(gk_obs_worker(o, i % 2), GK_PKT_UDP, GK_PKT_ANSWER, &unf, query,
		             sizeof(query), response, NULL);
	gk_obs_query(gk_obs_worker(o, 1), GK_PKT_TCP, GK_PKT_ANSWER, &filed, query, sizeof(query),
	             response, NULL);
	/* two queries of 20 ms each: beyond the largest finite bound (10 ms), so in the +Inf
	 * bucket however long the thread waits between the two clock reads (a batch of 200 ns a
	 * query landed in le=2.5e-07 only when nothing ran in between: CI under ASan once saw 0) */
	gk_obs_batch_end(gk_obs_worker(o, 0), gk_obs_now_ns() - 40000000u, 2);
	uint64_t ver = 42;
	gk_obs_set_policy_version(o, policy_version, &ver);
	gk_obs_set_net(o, net_counters, NULL);

	char *text;
	size_t len;
	assert_int_equal(gk_obs_metrics_render(o, &text, &len), 0);
	assert_int_equal(strlen(text), len);
	assert_int_equal(sample(text, "gatekeeper_queries_total{transport=\"udp\",qtype=\"A\"}"),
	                 4);
	assert_int_equal(sample(text, "gatekeeper_queries_total{transport=\"tcp\",qtype=\"AAAA\"}"),
	                 1);
	assert_int_equal(sample(text, "gatekeeper_queries_total{transport=\"tcp\",qtype=\"A\"}"),
	                 0);
	assert_int_equal(
	    sample(text, "gatekeeper_responses_total{transport=\"udp\",rcode=\"REFUSED\"}"), 4);
	assert_int_equal(sample(text, "gatekeeper_responses_truncated_total{transport=\"tcp\"}"),
	                 1);
	assert_int_equal(sample(text, "gatekeeper_decisions_total{status=\"unfiled\",action="
	                              "\"refuse\",reason=\"unfiled\",mode=\"enforce\"}"),
	                 4);
	assert_int_equal(sample(text, "gatekeeper_decisions_total{status=\"filed\",action="
	                              "\"resolve\",reason=\"none\",mode=\"enforce\"}"),
	                 1);
	/* zero decisions are not written */
	assert_null(strstr(text, "mode=\"monitor\""));
	assert_int_equal(sample(text, "gatekeeper_packet_duration_seconds_bucket{le=\"1e-07\"}"),
	                 0);
	assert_int_equal(sample(text, "gatekeeper_packet_duration_seconds_bucket{le=\"0.01\"}"), 0);
	assert_int_equal(sample(text, "gatekeeper_packet_duration_seconds_bucket{le=\"+Inf\"}"), 2);
	assert_int_equal(sample(text, "gatekeeper_packet_duration_seconds_count"), 2);
	assert_true(sample(text, "gatekeeper_packet_duration_seconds_sum") >= 0.04);
	assert_int_equal(sample(text, "gatekeeper_policy_version"), 42);
	assert_int_equal(sample(text, "gatekeeper_workers"), 2);
	assert_int_equal(sample(text, "gatekeeper_tcp_connections_accepted_total"), 7);
	assert_int_equal(sample(text, "gatekeeper_udp_send_errors_total"), 2);
	assert_int_equal(sample(text, "gatekeeper_filing_check_enabled"), 0);
	assert_true(sample(text, "process_start_time_seconds") > 1.7e9);
	assert_non_null(strstr(text, "gatekeeper_build_info{version=\""));
	assert_null(strstr(text, "gatekeeper_dnstap")); /* no log configured */

	/* Every line is a comment or a sample in the 0.0.4 grammar; every family's samples
	 * follow its one TYPE line; counters end in _total. */
	regex_t sre, tre;
	assert_int_equal(
	    regcomp(&sre,
	            "^[a-zA-Z_:][a-zA-Z0-9_:]*(\\{[a-z_]+=\"[^\"]*\"(,[a-z_]+=\"[^\"]*\")*\\})? "
	            "(-?[0-9.e+-]+|\\+Inf|NaN)$",
	            REG_EXTENDED | REG_NOSUB),
	    0);
	assert_int_equal(
	    regcomp(&tre, "^# TYPE [a-z_]+ (counter|gauge|histogram)$", REG_EXTENDED | REG_NOSUB),
	    0);
	char family[128] = "", type[16] = "";
	unsigned lines = 0;
	for (char *line = strtok(text, "\n"); line != NULL; line = strtok(NULL, "\n"), lines++) {
		if (strncmp(line, "# HELP ", 7) == 0)
			continue;
		if (strncmp(line, "# TYPE ", 7) == 0) {
			if (regexec(&tre, line, 0, NULL, 0) != 0)
				fail_msg("bad TYPE line: %s", line);
			sscanf(line, "# TYPE %127s %15s", family, type);
			if (strcmp(type, "counter") == 0)
				assert_non_null(strstr(family, "_total"));
			continue;
		}
		if (regexec(&sre, line, 0, NULL, 0) != 0)
			fail_msg("bad sample line: %s", line);
		if (strncmp(line, family, strlen(family)) != 0)
			fail_msg("sample outside its family %s: %s", family, line);
	}
	assert_true(lines > 100);
	regfree(&sre);
	regfree(&tre);
	free(text);
	gk_obs_free(o);
}

/* --- decision log ------------------------------------------------------------------ */

struct frame {
	int type; /* DNSTAP__MESSAGE__TYPE__* */
	char extra[200];
	size_t qlen, rlen;
	int family, proto, port;
	bool has_policy;
	int policy_action;
	char policy_type[16];
};

/* Read every dnstap frame of path. Returns the count (at most max). */
static size_t read_frames(const char *path, struct frame *out, size_t max)
{
	struct fstrm_file_options *fopt = fstrm_file_options_init();
	fstrm_file_options_set_file_path(fopt, path);
	struct fstrm_reader_options *ropt = fstrm_reader_options_init();
	fstrm_reader_options_add_content_type(ropt, "protobuf:dnstap.Dnstap", 22);
	struct fstrm_reader *r = fstrm_file_reader_init(fopt, ropt);
	assert_non_null(r);
	assert_int_equal(fstrm_reader_open(r), fstrm_res_success);
	size_t n = 0;
	const uint8_t *data;
	size_t len;
	while (fstrm_reader_read(r, &data, &len) == fstrm_res_success && n < max) {
		Dnstap__Dnstap *d = dnstap__dnstap__unpack(NULL, len, data);
		assert_non_null(d);
		assert_non_null(d->message);
		struct frame *f = &out[n++];
		memset(f, 0, sizeof(*f));
		f->type = d->message->type;
		snprintf(f->extra, sizeof(f->extra), "%.*s", (int)d->extra.len,
		         (const char *)d->extra.data);
		f->qlen = d->message->has_query_message ? d->message->query_message.len : 0;
		f->rlen = d->message->has_response_message ? d->message->response_message.len : 0;
		f->family = d->message->has_socket_family ? (int)d->message->socket_family : 0;
		f->proto = (int)d->message->socket_protocol;
		f->port = d->message->has_query_port ? (int)d->message->query_port : 0;
		if (d->message->policy != NULL) {
			f->has_policy = true;
			f->policy_action =
			    d->message->policy->has_action ? (int)d->message->policy->action : 0;
			snprintf(f->policy_type, sizeof(f->policy_type), "%s",
			         d->message->policy->type ? d->message->policy->type : "");
		}
		dnstap__dnstap__free_unpacked(d, NULL);
	}
	fstrm_reader_destroy(&r);
	fstrm_reader_options_destroy(&ropt);
	fstrm_file_options_destroy(&fopt);
	return n;
}

static void test_dnstap(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/tap.fstrm", tmpdir);
	gk_tap_conf_t tc = {.file = path,
	                    .rate = 1,
	                    .burst = 3,
	                    .max_bytes = 1 << 20,
	                    .keep = 2,
	                    .identity = "test",
	                    .version = "v"};
	gk_tap_t *tap;
	assert_int_equal(gk_obs_tap_create(&tc, 2, &tap, err, sizeof(err)), 0);
	assert_int_equal(gk_obs_tap_start(tap), 0);
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(2, tap, &o), 0);
	gk_obs_worker_t *w = gk_obs_worker(o, 1);
	assert_true(gk_obs_wants_peer(w));
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5353)};
	inet_pton(AF_INET, "127.0.0.9", &peer.sin_addr);
	gk_pkt_result_t unf = result(1, 5, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	gk_pkt_result_t filed = result(1, 0, GK_FS_FILED, GK_ACT_RESOLVE, GK_WHY_NONE);
	gk_pkt_result_t drop = result(1, 0, GK_FS_REVOKED, GK_ACT_DROP, GK_WHY_REVOKED);
	gk_obs_batch_begin(w);
	/* filed: not logged (refusals only); then 5 refusals against a bucket of 3 */
	gk_obs_query(w, GK_PKT_UDP, GK_PKT_ANSWER, &filed, query, sizeof(query), response,
	             (struct sockaddr *)&peer);
	for (int i = 0; i < 4; i++)
		gk_obs_query(w, GK_PKT_UDP, GK_PKT_ANSWER, &unf, query, sizeof(query), response,
		             (struct sockaddr *)&peer);
	gk_obs_query(w, GK_PKT_TCP, GK_PKT_DROP, &drop, query, sizeof(query), response, NULL);
	gk_obs_counters_t s = {0};
	gk_obs_sum(o, &s);
	assert_int_equal(s.tap_queued, 3);
	assert_int_equal(s.tap_ratelimited, 2);
	assert_int_equal(s.tap_ring_full, 0);
	gk_obs_tap_stop(tap);
	gk_tap_stats_t ts;
	gk_obs_tap_stats(tap, &ts);
	assert_int_equal(ts.written, 3);
	assert_int_equal(ts.lost, 0);
	assert_true(ts.bytes > 0);

	char *text;
	size_t len;
	assert_int_equal(gk_obs_metrics_render(o, &text, &len), 0);
	assert_int_equal(sample(text, "gatekeeper_dnstap_entries_total{result=\"ratelimited\"}"),
	                 2);
	assert_int_equal(sample(text, "gatekeeper_dnstap_entries_total{result=\"written\"}"), 3);
	free(text);
	gk_obs_free(o);
	gk_obs_tap_free(tap);

	struct frame f[16];
	size_t n = read_frames(path, f, 16);
	assert_int_equal(n, 6); /* 3 entries x (query, response) */
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(f[i].type, i % 2 ? DNSTAP__MESSAGE__TYPE__AUTH_RESPONSE
		                                  : DNSTAP__MESSAGE__TYPE__AUTH_QUERY);
		assert_string_equal(f[i].extra,
		                    "status=unfiled action=refuse reason=unfiled domain=foo.cn");
		assert_int_equal(f[i].family, DNSTAP__SOCKET_FAMILY__INET);
		assert_int_equal(f[i].proto, DNSTAP__SOCKET_PROTOCOL__UDP);
		assert_int_equal(f[i].port, 5353);
		assert_int_equal(i % 2 ? f[i].rlen : f[i].qlen, sizeof(query));
		assert_true(f[i].has_policy);
		assert_string_equal(f[i].policy_type, "ICP");
		assert_int_equal(f[i].policy_action, 0); /* REFUSED has no dnstap action */
	}
}

static void test_dnstap_ring_full_and_drop(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/full.fstrm", tmpdir);
	gk_tap_conf_t tc = {.file = path,
	                    .all_queries = true,
	                    .rate = 1000000,
	                    .burst = 1000000,
	                    .max_bytes = 1 << 30};
	gk_tap_t *tap;
	assert_int_equal(gk_obs_tap_create(&tc, 1, &tap, err, sizeof(err)), 0);
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(1, tap, &o), 0);
	gk_obs_worker_t *w = gk_obs_worker(o, 0);
	gk_pkt_result_t filed = result(1, 0, GK_FS_FILED, GK_ACT_RESOLVE, GK_WHY_NONE);
	gk_pkt_result_t drop = result(1, 0, GK_FS_REVOKED, GK_ACT_DROP, GK_WHY_REVOKED);
	gk_obs_batch_begin(w);
	/* the thread is not started: the ring fills and the rest is counted */
	gk_obs_query(w, GK_PKT_TCP, GK_PKT_DROP, &drop, query, sizeof(query), response, NULL);
	for (unsigned i = 0; i < GK_TAP_RING_SLOTS + 9; i++)
		gk_obs_query(w, GK_PKT_UDP, GK_PKT_ANSWER, &filed, query, sizeof(query), response,
		             NULL);
	gk_obs_counters_t s = {0};
	gk_obs_sum(o, &s);
	assert_int_equal(s.tap_queued, GK_TAP_RING_SLOTS);
	assert_int_equal(s.tap_ring_full, 10);
	assert_int_equal(gk_obs_tap_start(tap), 0);
	gk_obs_tap_stop(tap);
	gk_tap_stats_t ts;
	gk_obs_tap_stats(tap, &ts);
	assert_int_equal(ts.written, GK_TAP_RING_SLOTS);
	gk_obs_free(o);
	gk_obs_tap_free(tap);
	struct frame *f = calloc(2 * GK_TAP_RING_SLOTS + 8, sizeof(*f));
	size_t n = read_frames(path, f, 2 * GK_TAP_RING_SLOTS + 8);
	/* the drop action: a query frame only, with the DROP policy action */
	assert_int_equal(n, 1 + 2 * (GK_TAP_RING_SLOTS - 1));
	assert_int_equal(f[0].type, DNSTAP__MESSAGE__TYPE__AUTH_QUERY);
	assert_int_equal(f[0].proto, DNSTAP__SOCKET_PROTOCOL__TCP);
	assert_int_equal(f[0].family, 0);
	assert_int_equal(f[0].policy_action, DNSTAP__POLICY__ACTION__DROP);
	assert_string_equal(f[0].extra, "status=revoked action=drop reason=revoked domain=foo.cn");
	assert_int_equal(f[1].type, DNSTAP__MESSAGE__TYPE__AUTH_QUERY);
	assert_false(f[1].has_policy);
	assert_string_equal(f[1].extra, "status=filed action=resolve reason=none domain=foo.cn");
	free(f);
}

/* A registrable domain whose label holds a '.' or '\' byte is written escaped, never split:
 * "a\.b.cn", not "a.b.cn" (another domain). */
static void test_dnstap_odd_label_escaped(void **state)
{
	(void)state;
	static const uint8_t q2[] = {0x12, 0x34, 0x01, 0x00, 0,   1,   0, 0,   0,   0,
	                             0,    0,    3,    'w',  'w', 'w', 4, 'a', '.', '\\',
	                             'b',  2,    'c',  'n',  0,   0,   1, 0,   1};
	uint8_t r2[sizeof(q2)];
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/odd.fstrm", tmpdir);
	gk_tap_conf_t tc = {.file = path, .rate = 1000, .burst = 1000, .max_bytes = 1 << 30};
	gk_tap_t *tap;
	assert_int_equal(gk_obs_tap_create(&tc, 1, &tap, err, sizeof(err)), 0);
	assert_int_equal(gk_obs_tap_start(tap), 0);
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(1, tap, &o), 0);
	gk_obs_worker_t *w = gk_obs_worker(o, 0);
	gk_pkt_result_t unf = result(1, 5, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	unf.len = sizeof(r2);
	unf.reg_len = 9; /* \4a.\b\2cn\0 */
	memcpy(r2, q2, sizeof(q2));
	gk_obs_batch_begin(w);
	gk_obs_query(w, GK_PKT_TCP, GK_PKT_ANSWER, &unf, q2, sizeof(q2), r2, NULL);
	gk_obs_tap_stop(tap);
	gk_obs_free(o);
	gk_obs_tap_free(tap);
	struct frame f[4];
	assert_int_equal(read_frames(path, f, 4), 2);
	assert_string_equal(f[0].extra,
	                    "status=unfiled action=refuse reason=unfiled domain=a\\.\\\\b.cn");
}

static void test_dnstap_rotation(void **state)
{
	(void)state;
	char path[128], p1[140], p2[140], p3[140], err[256];
	snprintf(path, sizeof(path), "%s/rot.fstrm", tmpdir);
	snprintf(p1, sizeof(p1), "%s.1", path);
	snprintf(p2, sizeof(p2), "%s.2", path);
	snprintf(p3, sizeof(p3), "%s.3", path);
	/* a file from an earlier run is moved aside at start */
	FILE *old = fopen(path, "w");
	assert_non_null(old);
	fputs("old", old);
	fclose(old);
	gk_tap_conf_t tc = {
	    .file = path, .rate = 1000000, .burst = 1000000, .max_bytes = 2000, .keep = 2};
	gk_tap_t *tap;
	assert_int_equal(gk_obs_tap_create(&tc, 1, &tap, err, sizeof(err)), 0);
	struct stat sb;
	assert_int_equal(stat(p1, &sb), 0);
	assert_int_equal(sb.st_size, 3);
	assert_int_equal(gk_obs_tap_start(tap), 0);
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(1, tap, &o), 0);
	gk_obs_worker_t *w = gk_obs_worker(o, 0);
	gk_pkt_result_t unf = result(1, 5, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	/* each pass writes ~20 entries of ~150 bytes: past 2000 bytes, so it rotates. The next
	 * pass starts once the log thread has written this one (waiting for the count, not for
	 * a fixed time: on a loaded machine the thread may run late, and two passes written in
	 * one go would rotate once). */
	gk_tap_stats_t ts;
	for (int round = 0; round < 4; round++) {
		gk_obs_batch_begin(w);
		for (int i = 0; i < 20; i++)
			gk_obs_query(w, GK_PKT_UDP, GK_PKT_ANSWER, &unf, query, sizeof(query),
			             response, NULL);
		for (int ms = 0; ms < 10000; ms++) {
			gk_obs_tap_stats(tap, &ts);
			if (ts.written == 20u * (unsigned)(round + 1))
				break;
			usleep(1000);
		}
		assert_int_equal(ts.written, 20 * (round + 1));
	}
	gk_obs_tap_stop(tap);
	gk_obs_tap_stats(tap, &ts);
	assert_int_equal(ts.written, 80);
	assert_true(ts.rotations >= 3);
	gk_obs_free(o);
	gk_obs_tap_free(tap);
	/* keep 2: FILE, FILE.1, FILE.2 and nothing older; each a whole readable stream */
	assert_int_equal(stat(p3, &sb), -1);
	struct frame f[64];
	assert_true(read_frames(p1, f, 64) >= 2);
	assert_true(read_frames(p2, f, 64) >= 2);
}

static void test_dnstap_bad_conf(void **state)
{
	(void)state;
	char err[256];
	gk_tap_t *tap = NULL;
	gk_tap_conf_t tc = {
	    .file = "/nonexistent-dir/x/tap", .rate = 1, .burst = 1, .max_bytes = 1 << 20};
	assert_int_equal(gk_obs_tap_create(&tc, 1, &tap, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, "/nonexistent-dir/x/tap"));
	assert_null(tap);
	gk_tap_conf_t both = {.file = "/tmp/a", .unix_path = "/tmp/b", .rate = 1, .burst = 1};
	assert_int_equal(gk_obs_tap_create(&both, 1, &tap, err, sizeof(err)), GK_EINVAL);
	/* an absent collector socket is not an error: entries are counted as lost */
	char sock[128];
	snprintf(sock, sizeof(sock), "%s/collector.sock", tmpdir);
	gk_tap_conf_t us = {.unix_path = sock, .rate = 100, .burst = 100};
	assert_int_equal(gk_obs_tap_create(&us, 1, &tap, err, sizeof(err)), 0);
	gk_obs_t *o;
	assert_int_equal(gk_obs_create(1, tap, &o), 0);
	gk_pkt_result_t unf = result(1, 5, GK_FS_UNFILED, GK_ACT_REFUSE, GK_WHY_UNFILED);
	gk_obs_batch_begin(gk_obs_worker(o, 0));
	gk_obs_query(gk_obs_worker(o, 0), GK_PKT_UDP, GK_PKT_ANSWER, &unf, query, sizeof(query),
	             response, NULL);
	assert_int_equal(gk_obs_tap_start(tap), 0);
	gk_obs_tap_stop(tap);
	gk_tap_stats_t ts;
	gk_obs_tap_stats(tap, &ts);
	assert_int_equal(ts.lost, 1);
	assert_false(ts.connected);
	gk_obs_free(o);
	gk_obs_tap_free(tap);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_qtype_index),
	    cmocka_unit_test(test_sum),
	    cmocka_unit_test(test_latency),
	    cmocka_unit_test(test_render),
	    cmocka_unit_test(test_dnstap),
	    cmocka_unit_test(test_dnstap_ring_full_and_drop),
	    cmocka_unit_test(test_dnstap_odd_label_escaped),
	    cmocka_unit_test(test_dnstap_rotation),
	    cmocka_unit_test(test_dnstap_bad_conf),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
