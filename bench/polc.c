/* SPDX-License-Identifier: MIT */
/* bench/polc.c -- compile a policy file the way gatekeeperd does, and report time and size.
 *
 * Usage: polc POLICY.yaml [ROUNDS]. Builds the policy ROUNDS times (default 1) with
 * gk_policy_build (YAML, list files from disk, the immutable table) and prints key=value
 * lines for bench/run.py: the best and the median build time, entries, lines read, bytes the
 * policy owns, and the process's peak RSS. Exit 1 with the compiler's FILE:LINE message
 * when the policy does not compile.
 *
 * Usage: polc --match POLICY.yaml QUERIES [ROUNDS]. Builds the policy once, reads the query
 * names of a dnsperf file ("name type" per line), and times gk_policy_match over all of
 * them ROUNDS times (default 5), in file order, as the packet path calls it (lowercase wire
 * name and label offsets). Prints the best and the median ns per query and the hit count.
 * An in-process measurement, not a test: run it on a quiet machine.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include "common/dname.h"
#include "policy/policy.h"
#include "timing.h"

/* The query names, as the packet path hands them to gk_policy_match, packed one after
 * another (a packet's name is in cache when the packet path looks it up; a large stride
 * here would add a miss per query that the server does not have): [len][labels][label
 * offsets][lowercase wire name]. */
struct qbuf {
	uint8_t *b;
	size_t n, cap, count;
};

/* Append a presentation name; false for names we skip (or out of memory). */
static bool add_name(struct qbuf *q, const char *s, size_t sl)
{
	if (q->cap - q->n < 2 + 128 + GK_DNAME_MAX + 1) {
		size_t nc = q->cap ? 2 * q->cap : 1 << 20;
		uint8_t *nb = realloc(q->b, nc);
		if (!nb)
			return false;
		q->b = nb;
		q->cap = nc;
	}
	if (sl && s[sl - 1] == '.')
		sl--;
	uint8_t loff[128], wire[GK_DNAME_MAX + 1];
	size_t o = 0;
	unsigned nl = 0;
	for (size_t i = 0; i < sl;) {
		size_t st = i;
		while (i < sl && s[i] != '.')
			i++;
		size_t ll = i - st;
		if (ll == 0 || ll > 63 || o + ll + 2 > GK_DNAME_MAX || nl >= sizeof(loff))
			return false;
		loff[nl++] = (uint8_t)o;
		wire[o++] = (uint8_t)ll;
		for (size_t k = 0; k < ll; k++)
			wire[o++] = gk_dname_lower[(unsigned char)s[st + k]];
		i++;
	}
	wire[o++] = 0;
	uint8_t *d = q->b + q->n;
	d[0] = (uint8_t)o;
	d[1] = (uint8_t)nl;
	memcpy(d + 2, loff, nl);
	memcpy(d + 2 + nl, wire, o);
	q->n += 2 + nl + o;
	q->count++;
	return true;
}

static int match_mode(const char *policy, const char *queries, int rounds)
{
	char err[512];
	gk_policy_t *p = NULL;
	if (gk_policy_build(policy, &p, err, sizeof err)) {
		fprintf(stderr, "polc: %s\n", err);
		return 1;
	}
	FILE *f = fopen(queries, "r");
	if (!f) {
		perror(queries);
		gk_policy_free(p);
		return 1;
	}
	struct qbuf q = {0};
	char line[1024];
	while (fgets(line, sizeof line, f)) {
		size_t sl = strcspn(line, " \t\r\n");
		if (sl && line[0] != '#')
			add_name(&q, line, sl);
	}
	fclose(f);
	if (!q.count) {
		fprintf(stderr, "polc: no query names in %s\n", queries);
		free(q.b);
		gk_policy_free(p);
		return 1;
	}
	double t[20];
	size_t hits = 0;
	for (int r = 0; r < rounds; r++) {
		hits = 0;
		double t0 = bench_now();
		for (const uint8_t *d = q.b; d < q.b + q.n; d += 2 + d[1] + d[0])
			hits += gk_policy_match(p, d + 2 + d[1], d[0], d + 2, d[1], NULL) != NULL;
		t[r] = (bench_now() - t0) * 1e9 / (double)q.count;
	}
	qsort(t, (size_t)rounds, sizeof(*t), bench_cmp_double);
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	printf("match_best_ns=%.1f\nmatch_median_ns=%.1f\nrounds=%d\nqueries=%zu\nhits=%zu\n"
	       "entries=%zu\narena_bytes=%zu\n",
	       t[0], t[rounds / 2], rounds, q.count, hits, st.entries, st.arena_bytes);
	free(q.b);
	gk_policy_free(p);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 4 && strcmp(argv[1], "--match") == 0) {
		int rounds = argc > 4 ? atoi(argv[4]) : 5;
		if (rounds < 1 || rounds > 20)
			rounds = 5;
		return match_mode(argv[2], argv[3], rounds);
	}
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: polc POLICY.yaml [ROUNDS]\n"
		                "       polc --match POLICY.yaml QUERIES [ROUNDS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	if (rounds < 1 || rounds > 20)
		rounds = 1;
	double t[20];
	gk_policy_stats_t st = {0};
	for (int i = 0; i < rounds; i++) {
		char err[512];
		gk_policy_t *p = NULL;
		double t0 = bench_now();
		int rc = gk_policy_build(argv[1], &p, err, sizeof err);
		t[i] = bench_now() - t0;
		if (rc) {
			fprintf(stderr, "polc: %s\n", err);
			return 1;
		}
		gk_policy_stats(p, &st);
		gk_policy_free(p);
	}
	qsort(t, (size_t)rounds, sizeof(*t), bench_cmp_double);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("compile_best_s=%.4f\ncompile_median_s=%.4f\nrounds=%d\nentries=%zu\nlines=%zu\n"
	       "lists=%u\nrpz_skipped=%zu\narena_bytes=%zu\ntable_bytes=%zu\nname_bytes=%zu\n"
	       "maxrss_kib=%ld\n",
	       t[0], t[rounds / 2], rounds, st.entries, st.lines, st.lists, st.rpz_skipped,
	       st.arena_bytes, st.table_bytes, st.name_bytes, ru.ru_maxrss);
	return 0;
}
