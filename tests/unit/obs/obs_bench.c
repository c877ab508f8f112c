/* SPDX-License-Identifier: MIT */
/* tests/unit/obs/obs_bench.c -- what the observation hook costs per query, in process.
 *
 *   obs_bench [ROUNDS]
 *
 * The fixture zones with the filing check on (a status table filled with gk_status_put: a
 * filed, an unfiled and a revoked zone), a mix of 64 queries (A/AAAA/MX, 3/4 filed, 1/4
 * refused). Batches of 32 as udp.c runs them, five variants over the same queries:
 *   bare      gk_pkt_process only
 *   counters  + gk_obs_batch_begin/end and gk_obs_query (what every worker runs)
 *   clock1    gk_pkt_process + two clock reads per query (the design not taken)
 *   dnstap    counters + a decision log on refusals, rate-limited to 1000/s (the bucket
 *             refuses almost all: the steady state of a flood)
 *   dnstap-all  the same logging every query, rate 10^9/s: the ring fills, then full
 * Prints ns/query, the minimum over ROUNDS (default 7) runs of 2M queries each: the
 * minimum is the figure least disturbed by other load on the machine. Not a ctest.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "common/psl.h"
#include "obs/dnstap.h"
#include "obs/obs.h"
#include "pkt/process.h"
#include "policy/policy.h"
#include "status/status.h"

#define NQ    64
#define BATCH 32u
#define N     2000000u

static uint8_t qs[NQ][512];
static size_t qlen[NQ];
static uint8_t out[BATCH][GK_PKT_OUT_MAX];

static size_t make_query(uint8_t *q, const char *name, uint16_t type, uint16_t id)
{
	size_t o = 0;
	q[o++] = (uint8_t)(id >> 8);
	q[o++] = (uint8_t)id;
	q[o++] = 0x01; /* RD */
	q[o++] = 0;
	q[o++] = 0, q[o++] = 1, q[o++] = 0, q[o++] = 0, q[o++] = 0, q[o++] = 0, q[o++] = 0,
	q[o++] = 1;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[o++] = (uint8_t)l;
		memcpy(q + o, p, l);
		o += l;
		p += l + (dot ? 1 : 0);
	}
	q[o++] = 0;
	q[o++] = (uint8_t)(type >> 8), q[o++] = (uint8_t)type, q[o++] = 0, q[o++] = 1;
	/* OPT: udp 1232 */
	const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
	memcpy(q + o, opt, sizeof(opt));
	return o + sizeof(opt);
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

enum variant { BARE, COUNTERS, CLOCK1, TAP, TAP_ALL, NV };
static const char *const vname[NV] = {"bare", "counters", "clock1", "dnstap", "dnstap-all"};

static volatile uint64_t sink;

static double run(enum variant v, const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                  gk_obs_worker_t *ow)
{
	struct sockaddr_in peer = {.sin_family = AF_INET, .sin_port = htons(5353)};
	double t0 = now_s();
	for (unsigned done = 0; done < N; done += BATCH) {
		uint64_t b0 = v == BARE || v == CLOCK1 ? 0 : gk_obs_batch_begin(ow);
		for (unsigned i = 0; i < BATCH; i++) {
			unsigned k = (done + i) % NQ;
			gk_pkt_result_t res = {0};
			uint64_t c0 = v == CLOCK1 ? gk_obs_now_ns() : 0;
			gk_pkt_outcome_t oc =
			    gk_pkt_process(zs, opts, GK_PKT_UDP, qs[k], qlen[k], out[i], &res);
			if (v == CLOCK1)
				sink += gk_obs_now_ns() - c0;
			else if (v != BARE)
				gk_obs_query(ow, GK_PKT_UDP, oc, &res, qs[k], qlen[k], out[i],
				             (const struct sockaddr *)&peer);
			sink += res.len;
		}
		if (v != BARE && v != CLOCK1)
			gk_obs_batch_end(ow, b0, BATCH);
	}
	return (now_s() - t0) / N * 1e9;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	gk_psl_t *psl;
	if (gk_psl_open(NULL, &psl) != 0)
		return 1;
	const char *dir = "tests/fixtures/zones";
	char f[4][256];
	const char *names[4] = {"example.cn", "sub.example.cn", "other.com.cn", "dname.cn"};
	gk_zone_spec_t specs[4];
	for (int i = 0; i < 4; i++) {
		snprintf(f[i], sizeof(f[i]), "%s/%s.zone", dir, names[i]);
		specs[i] = (gk_zone_spec_t){.name = names[i], .file = f[i]};
	}
	gk_zoneset_t *zs;
	char err[512];
	if (gk_zone_store_build(specs, 4, psl, &zs, err, sizeof(err)) != 0) {
		fprintf(stderr, "zones (run from the source root): %s\n", err);
		return 1;
	}
	gk_status_t *st;
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .max_age_ms = 1000000};
	if (gk_status_create(&sc, &st) != 0 ||
	    gk_status_put(st, "example.cn", gk_fs_pack(GK_FS_FILED, 1)) != 0 ||
	    gk_status_put(st, "dname.cn", gk_fs_pack(GK_FS_REVOKED, 1)) != 0)
		return 1;
	gk_status_set_ready(st);
	gk_pkt_opts_t opts = {.edns_udp_max = 1232, .status = st, .psl = psl};
	gk_refusal_t r = {.action = GK_ACT_REFUSE, .ede_code = 15, .text_len = 19};
	memcpy(r.text, "ICP filing required", 19);
	opts.starting = r;
	gk_refusal_t rules[GK_POLICY_NSTATUS] = {r, r, r, r};
	rules[GK_POLICY_REVOKED].action = GK_ACT_NXDOMAIN;
	rules[GK_POLICY_NOREG].action = GK_ACT_RESOLVE;
	gk_policy_t *pol;
	if (gk_policy_from_rules(rules, &pol) != 0)
		return 1;
	opts.policy = pol;
	for (int i = 0; i < NQ; i++) {
		static const char *mix[8] = {
		    "www.example.cn", "example.cn", "mail.example.cn",  "www.sub.example.cn",
		    "www.example.cn", "example.cn", "www.other.com.cn", "dname.cn"};
		static const uint16_t types[3] = {1, 28, 15};
		qlen[i] = make_query(qs[i], mix[i % 8], types[i % 3], (uint16_t)i);
	}
	char path[64], path2[64];
	snprintf(path, sizeof(path), "/tmp/gk-obs-bench-%d.fstrm", (int)getpid());
	snprintf(path2, sizeof(path2), "/tmp/gk-obs-bench-all-%d.fstrm", (int)getpid());
	gk_tap_conf_t tc = {.file = path, .rate = 1000, .burst = 1000, .max_bytes = 1ull << 30};
	gk_tap_conf_t tca = {.file = path2,
	                     .all_queries = true,
	                     .rate = 1000000000,
	                     .burst = 1000000000,
	                     .max_bytes = 1ull << 30};
	gk_tap_t *tap, *tap_all;
	gk_obs_t *o, *ot, *ota;
	if (gk_obs_create(1, NULL, &o) != 0 ||
	    gk_obs_tap_create(&tc, 1, &tap, err, sizeof(err)) != 0 ||
	    gk_obs_create(1, tap, &ot) != 0)
		return 1;
	if (gk_obs_tap_create(&tca, 1, &tap_all, err, sizeof(err)) != 0 ||
	    gk_obs_create(1, tap_all, &ota) != 0)
		return 1;
	/* log threads not started: the rings fill and stay full (the worst case, a stuck disk) */
	double best[NV];
	for (int v = 0; v < NV; v++)
		best[v] = 1e9;
	for (int k = 0; k < rounds; k++)
		for (int v = 0; v < NV; v++) {
			gk_obs_worker_t *ow = v == TAP       ? gk_obs_worker(ot, 0)
			                      : v == TAP_ALL ? gk_obs_worker(ota, 0)
			                                     : gk_obs_worker(o, 0);
			double ns = run((enum variant)v, zs, &opts, ow);
			if (ns < best[v])
				best[v] = ns;
		}
	gk_obs_counters_t c = {0};
	gk_obs_sum(o, &c);
	printf("obs_bench: %u queries x %d rounds, batches of %u, min ns/query\n", N, rounds,
	       BATCH);
	for (int v = 0; v < NV; v++)
		printf("  %-11s %7.1f ns  (%+.1f ns vs bare)\n", vname[v], best[v],
		       best[v] - best[0]);
	printf("  refused share of the mix: %.0f%%\n",
	       100.0 *
	           (double)(c.decisions[GK_FS_UNFILED + 2][GK_ACT_REFUSE][GK_WHY_UNFILED][0] +
	                    c.decisions[GK_FS_REVOKED + 2][GK_ACT_NXDOMAIN][GK_WHY_REVOKED][0]) /
	           (double)c.lat_count);
	gk_obs_free(o);
	gk_obs_free(ot);
	gk_obs_free(ota);
	gk_obs_tap_free(tap);
	gk_obs_tap_free(tap_all);
	unlink(path);
	unlink(path2);
	gk_status_free(st);
	gk_zone_store_free(zs);
	gk_psl_close(psl);
	return 0;
}
