/* SPDX-License-Identifier: MIT */
/* bench/namehash_dist.c -- spread of the name hash over a list of names: full 64-bit
 * collisions and the chi-square per bucket of the low and the high bits over a power-of-two
 * table at least as large as the list, for gk_namehash and for gk_dname_hash (the byte
 * hash it replaced for names). One name a line (text, the first field); with a second
 * argument a trailing ".zone" is dropped (a listing of bench/data/zones).
 *
 * usage: namehash_dist FILE [zones]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "common/namehash.h"
static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}
static void report(const char *what, uint64_t *h, size_t n)
{
	size_t nb = 1;
	while (nb < n)
		nb <<= 1;
	unsigned *c = calloc(nb, sizeof(*c));
	for (size_t i = 0; i < n; i++)
		c[h[i] & (nb - 1)]++;
	double chi = 0, e = (double)n / nb;
	size_t maxc = 0;
	for (size_t i = 0; i < nb; i++) {
		chi += (c[i] - e) * (c[i] - e) / e;
		if (c[i] > maxc)
			maxc = c[i];
	}
	memset(c, 0, nb * sizeof(*c));
	double chihi = 0;
	for (size_t i = 0; i < n; i++)
		c[h[i] >> (64 - __builtin_ctzll(nb))]++;
	for (size_t i = 0; i < nb; i++)
		chihi += (c[i] - e) * (c[i] - e) / e;
	qsort(h, n, 8, cmp);
	size_t coll64 = 0;
	for (size_t i = 1; i < n; i++)
		coll64 += h[i] == h[i - 1];
	printf("%-12s n=%zu buckets=%zu chi2/bucket low=%.3f high=%.3f max=%zu coll64=%zu\n", what,
	       n, nb, chi / nb, chihi / nb, maxc, coll64);
	free(c);
}
int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: namehash_dist FILE [zones]\n");
		return 2;
	}
	FILE *f = fopen(argv[1], "r");
	if (!f) {
		perror(argv[1]);
		return 1;
	}
	char line[512];
	size_t n = 0, cap = 1 << 21;
	uint64_t *a = malloc(cap * 8), *b = malloc(cap * 8);
	while (fgets(line, sizeof line, f)) {
		char *sp = strpbrk(line, " \t\n");
		if (sp)
			*sp = 0;
		if (argc > 2) {
			char *dot = strstr(line, ".zone");
			if (dot)
				*dot = 0;
		}
		uint8_t w[GK_DNAME_MAX];
		size_t len = gk_dname_from_text(line, strlen(line), w, 0);
		if (!len)
			continue;
		if (n == cap) {
			cap *= 2;
			a = realloc(a, cap * 8);
			b = realloc(b, cap * 8);
		}
		a[n] = gk_dname_hash(w, len);
		b[n] = gk_namehash(w, len);
		n++;
	}
	report("gk_dname_hash", a, n);
	report("gk_namehash", b, n);
	return 0;
}
