/* SPDX-License-Identifier: MIT */
/* bench/stlook.c -- in-process status-table lookup timing: ns per gk_status_get at N domains.
 *
 * Usage: stlook FEED.jsonl N QUERIES.txt [ROUNDS]. Loads the first N "domain" values of a
 * status snapshot feed through the full-load path gatekeeperd uses (stage, bounded build,
 * install), reports load time and table bytes per domain, then times gk_status_get (hash
 * precomputed, as zones precompute it) over three name sets, ROUNDS times each (default 9):
 *   queries  the registrable domains of QUERIES.txt (dnsperf format), in file order: the
 *            bench's zipf-skewed working set
 *   hit      1M loaded domains drawn uniformly: every lookup a cold cache line
 *   miss     the same names with one letter changed: absent keys (unfiled)
 *   hit-chained, miss-chained  the same, each lookup waiting for the one before (latency)
 * and prints key=value lines: best and median ns/lookup per set. A measurement tool, not a
 * test; run it under `flock /tmp/bench.lock` on a shared machine.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/dname.h"
#include "common/namehash.h"
#include "common/psl.h"
#include "status/internal.h"
#include "timing.h"

#define NSAMPLE 1000000u

struct names {
	uint8_t *buf; /* wire names, back to back */
	size_t *off;
	uint8_t *len;
	uint64_t *hash;
	size_t n, used, cap;
};

static void names_add(struct names *s, const uint8_t *w, size_t len)
{
	if (s->used + len > s->cap) {
		s->cap = s->cap ? s->cap * 2 : 1 << 20;
		s->buf = realloc(s->buf, s->cap);
	}
	if ((s->n & (s->n - 1)) == 0 || s->n == 0) {
		size_t c = s->n ? s->n * 2 : 1;
		s->off = realloc(s->off, c * sizeof(*s->off));
		s->len = realloc(s->len, c);
		s->hash = realloc(s->hash, c * sizeof(*s->hash));
	}
	if (s->buf == NULL || s->off == NULL || s->len == NULL || s->hash == NULL) {
		fprintf(stderr, "stlook: out of memory\n");
		exit(1);
	}
	memcpy(s->buf + s->used, w, len);
	s->off[s->n] = s->used;
	s->len[s->n] = (uint8_t)len;
	s->hash[s->n] = gk_namehash(w, len);
	s->used += len;
	s->n++;
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xs(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static volatile size_t zero;

/* Median ns/lookup of rounds passes over s; *best gets the fastest pass. chained: each
 * lookup's name index depends on the previous result, so lookups cannot overlap (latency,
 * as in a server doing other work between two queries, not throughput). */
static double timeit(const gk_status_t *st, const struct names *s, int rounds, bool chained,
                     double *best, unsigned long *found)
{
	double t[64];
	size_t z = chained ? 1 : 0, y = zero;
	for (int r = 0; r < rounds; r++) {
		unsigned long f = 0;
		double t0 = bench_now();
		for (size_t i = 0; i < s->n; i++) {
			size_t k = i;
			if (z) /* k == i, but only once the previous lookup is done */
				k += (size_t)(f & 1) * y;
			f += gk_status_get(st, s->buf + s->off[k], s->len[k], s->hash[k], NULL) ==
			     GK_FS_FILED;
		}
		t[r] = (bench_now() - t0) * 1e9 / (double)s->n;
		*found = f;
	}
	qsort(t, (size_t)rounds, sizeof(double), bench_cmp_double);
	*best = t[0];
	return t[rounds / 2];
}

int main(int argc, char **argv)
{
	if (argc < 4 || argc > 5) {
		fprintf(stderr, "usage: stlook FEED.jsonl N QUERIES.txt [ROUNDS]\n");
		return 2;
	}
	size_t want = strtoul(argv[2], NULL, 10);
	int rounds = argc > 4 ? atoi(argv[4]) : 9;
	if (rounds < 1 || rounds > 64)
		rounds = 9;
	FILE *f = fopen(argv[1], "r");
	if (f == NULL) {
		perror(argv[1]);
		return 1;
	}
	gk_status_conf_t conf = {.redis_host = "127.0.0.1", .redis_port = 6379};
	gk_status_t *st;
	if (gk_status_create(&conf, &st) != 0)
		return 1;
	/* read the domains first so that load time counts the table only */
	struct names dom = {0};
	char line[4096];
	uint8_t wire[GK_DNAME_MAX + 1];
	while (dom.n < want && fgets(line, sizeof(line), f) != NULL) {
		char *p = strstr(line, "\"domain\":\"");
		if (p == NULL)
			continue;
		p += 10;
		char *q = strchr(p, '"');
		if (q == NULL)
			continue;
		size_t wl = gk_dname_from_text(p, (size_t)(q - p), wire, GK_STATUS_NAME_FLAGS);
		if (wl > 0)
			names_add(&dom, wire, wl);
	}
	fclose(f);
	double t0 = bench_now();
	struct build b = {0};
	for (size_t i = 0; i < dom.n; i++)
		if (gk_status_stage_add(
		        &b.stage, dom.buf + dom.off[i], dom.len[i],
		        gk_fs_pack(i % 7 ? GK_FS_FILED : GK_FS_REVOKED, (uint32_t)(i % 50))) != 0)
			return 1;
	if (gk_status_build_begin(&b) != 0)
		return 1;
	while (gk_status_build_step(&b))
		;
	gk_status_tab_install(&st->tab, &b);
	double load_s = bench_now() - t0;
	gk_status_set_ready(st);
	size_t bytes = gk_status_table_bytes(st);
	/* huge pages actually in use (THP "madvise" mode applies only to advised mappings) */
	FILE *sm = fopen("/proc/self/smaps_rollup", "r");
	while (sm != NULL && fgets(line, sizeof(line), sm) != NULL)
		if (strncmp(line, "AnonHugePages:", 14) == 0 || strncmp(line, "Rss:", 4) == 0)
			fputs(line, stdout);
	if (sm != NULL)
		fclose(sm);
	printf("domains=%zu load_s=%.2f table_bytes=%zu b_per_domain=%.1f\n", dom.n, load_s, bytes,
	       (double)bytes / (double)dom.n);

	/* the bench's query names, reduced to registrable domains */
	gk_psl_t *psl;
	if (gk_psl_open(NULL, &psl) != 0)
		return 1;
	struct names qs = {0};
	f = fopen(argv[3], "r");
	if (f == NULL) {
		perror(argv[3]);
		return 1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *sp = strchr(line, ' ');
		if (sp == NULL)
			continue;
		size_t wl =
		    gk_dname_from_text(line, (size_t)(sp - line), wire, GK_STATUS_NAME_FLAGS);
		if (wl == 0)
			continue;
		int off = gk_psl_registrable_wire(psl, wire, wl);
		if (off >= 0)
			names_add(&qs, wire + off, wl - (size_t)off);
	}
	fclose(f);
	gk_psl_close(psl);

	struct names hit = {0}, miss = {0};
	for (size_t i = 0; i < NSAMPLE && dom.n > 0; i++) {
		size_t k = xs() % dom.n;
		const uint8_t *w = dom.buf + dom.off[k];
		names_add(&hit, w, dom.len[k]);
		memcpy(wire, w, dom.len[k]);
		wire[1] = wire[1] == 'q' ? 'z' : 'q'; /* first letter changed */
		names_add(&miss, wire, dom.len[k]);
	}
	const char *label[5] = {"queries", "hit", "miss", "hit-chained", "miss-chained"};
	const struct names *sets[5] = {&qs, &hit, &miss, &hit, &miss};
	for (int k = 0; k < 5; k++) {
		double best;
		unsigned long found;
		double m = timeit(st, sets[k], rounds, k >= 3, &best, &found);
		printf("%s: n=%zu filed=%lu median_ns=%.1f best_ns=%.1f\n", label[k], sets[k]->n,
		       found, m, best);
	}
	gk_status_free(st);
	return 0;
}
