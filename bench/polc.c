/* SPDX-License-Identifier: MIT */
/* bench/polc.c -- compile a policy file the way gatekeeperd does, and report time and size.
 *
 * Usage: polc POLICY.yaml [ROUNDS]. Builds the policy ROUNDS times (default 1) with
 * gk_policy_build (YAML, list files from disk, the immutable table) and prints key=value
 * lines for bench/run.py: the best and the median build time, entries, lines read, bytes the
 * policy owns, and the process's peak RSS. Exit 1 with the compiler's FILE:LINE message
 * when the policy does not compile.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>
#include "policy/policy.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: polc POLICY.yaml [ROUNDS]\n");
		return 2;
	}
	int rounds = argc > 2 ? atoi(argv[2]) : 1;
	if (rounds < 1 || rounds > 20)
		rounds = 1;
	double t[20];
	gk_pol_stats_t st = {0};
	for (int i = 0; i < rounds; i++) {
		char err[512];
		gk_policy_t *p = NULL;
		double t0 = now();
		int rc = gk_policy_build(argv[1], &p, err, sizeof err);
		t[i] = now() - t0;
		if (rc) {
			fprintf(stderr, "polc: %s\n", err);
			return 1;
		}
		gk_policy_stats(p, &st);
		gk_policy_free(p);
	}
	qsort(t, (size_t)rounds, sizeof(*t), cmp_double);
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("compile_best_s=%.4f\ncompile_median_s=%.4f\nrounds=%d\nentries=%zu\nlines=%zu\n"
	       "lists=%u\nrpz_skipped=%zu\narena_bytes=%zu\ntable_bytes=%zu\nname_bytes=%zu\n"
	       "maxrss_kib=%ld\n",
	       t[0], t[rounds / 2], rounds, st.entries, st.lines, st.lists, st.rpz_skipped,
	       st.arena_bytes, st.table_bytes, st.name_bytes, ru.ru_maxrss);
	return 0;
}
