/* SPDX-License-Identifier: MIT */
/* tests/unit/policy/policy_bench.c -- the policy figures: compile time and bytes per entry
 * for a generated list of N entries (plain and RPZ), and gk_policy_match cost.
 *
 * Usage: policy_bench [N] [DIR]  (N default 1000000; DIR default /tmp). Writes DIR/pb.txt,
 * DIR/pb.rpz and the two policies next to them, builds each through gk_policy_build (the
 * same path the daemon takes: files on disk), and prints one line per format. Names look like
 * registrable .cn domains (d<i>-<hex>.cn, a quarter of them as ".name" subtrees; RPZ: a
 * quarter as "*.name" plus the name). Lookups mix hits, misses below hits and plain misses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/dname.h"
#include "policy/internal.h"
#include "policy/policy.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int write_lists(const char *dir, size_t n)
{
	char path[512];
	snprintf(path, sizeof path, "%s/pb.txt", dir);
	FILE *p = fopen(path, "w");
	snprintf(path, sizeof path, "%s/pb.rpz", dir);
	FILE *r = fopen(path, "w");
	if (!p || !r)
		return -1;
	fprintf(r, "$TTL 300\n$ORIGIN rpz.bench.\n@ SOA ns hm 1 3600 600 86400 300\n  NS ns.\n");
	for (size_t i = 0; i < n; i++) {
		unsigned h = (unsigned)(i * 2654435761u);
		if (i % 4 == 0) {
			fprintf(p, ".d%zu-%x.cn\n", i, h & 0xffff);
			fprintf(r, "*.d%zu-%x.cn CNAME .\n", i, h & 0xffff);
		} else {
			fprintf(p, "d%zu-%x.cn\n", i, h & 0xffff);
			fprintf(r, "d%zu-%x.cn CNAME %s\n", i, h & 0xffff, i % 3 ? "." : "*.");
		}
	}
	fclose(p);
	fclose(r);
	snprintf(path, sizeof path, "%s/pb-plain.yaml", dir);
	if (!(p = fopen(path, "w")))
		return -1;
	fprintf(p, "lists: [{file: pb.txt, kind: block}]\n");
	fclose(p);
	snprintf(path, sizeof path, "%s/pb-rpz.yaml", dir);
	if (!(p = fopen(path, "w")))
		return -1;
	fprintf(p, "lists: [{file: pb.rpz, format: rpz}]\n");
	fclose(p);
	return 0;
}

static void run(const char *dir, const char *which, size_t n)
{
	char path[512], err[512];
	snprintf(path, sizeof path, "%s/pb-%s.yaml", dir, which);
	gk_policy_t *p = NULL;
	double t0 = now();
	int rc = gk_policy_build(path, &p, err, sizeof err);
	double t1 = now();
	if (rc) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);

	/* queries: 1024 names, a third hits, a third one label below an entry, a third misses */
	enum { Q = 1024 };
	static uint8_t q[Q][64], loff[Q][8];
	static size_t ql[Q];
	static unsigned lab[Q];
	for (size_t k = 0; k < Q; k++) {
		char s[64];
		size_t i = (k * 7919) % n;
		unsigned h = (unsigned)(i * 2654435761u);
		if (k % 3 == 0)
			snprintf(s, sizeof s, "d%zu-%x.cn", i, h & 0xffff);
		else if (k % 3 == 1)
			snprintf(s, sizeof s, "www.d%zu-%x.cn", i, h & 0xffff);
		else
			snprintf(s, sizeof s, "www.miss%zu.cn", k);
		const char *why;
		ql[k] = gk_policy_name_wire(s, strlen(s), q[k], &lab[k], &why);
		for (size_t o = 0, j = 0; q[k][o]; o += q[k][o] + 1u)
			loff[k][j++] = (uint8_t)o;
	}
	const size_t iters = 10000000;
	size_t hits = 0;
	double t2 = now();
	for (size_t i = 0; i < iters; i++) {
		size_t k = i & (Q - 1);
		hits += gk_policy_match(p, q[k], ql[k], loff[k], lab[k], NULL) != NULL;
	}
	double t3 = now();
	printf(
	    "%-5s %zu entries (%zu lines): compile %.3f s; %.1f B/entry (arena %zu B: table %zu, "
	    "names %zu); match %.1f ns/lookup (%.0f%% hits)\n",
	    which, st.entries, st.lines, t1 - t0, (double)st.arena_bytes / (double)st.entries,
	    st.arena_bytes, st.table_bytes, st.name_bytes, (t3 - t2) * 1e9 / (double)iters,
	    100.0 * (double)hits / (double)iters);
	gk_policy_free(p);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000000;
	const char *dir = argc > 2 ? argv[2] : "/tmp";
	if (n == 0 || write_lists(dir, n) < 0) {
		fprintf(stderr, "usage: policy_bench [N>0] [DIR]\n");
		return 2;
	}
	run(dir, "plain", n);
	run(dir, "rpz", n);
	return 0;
}
