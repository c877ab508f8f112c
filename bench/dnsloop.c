/* SPDX-License-Identifier: MIT */
/* bench/dnsloop.c -- the UDP packet path over given zone files and queries, for callgrind.
 *
 * Loads the zone files named on the command line (the apex is the file name without a
 * trailing ".zone" or ".signed"), reads queries ("name TYPE" per line, as bench/gen.py
 * writes them) and answers them all N times with gk_pkt_process over UDP with EDNS 1232,
 * DO=1 unless -n is given, without a filing check (the bench's dnssec scenario). Run under
 * `valgrind --tool=callgrind` with N and 2N and divide the difference in Ir by N times the
 * number of queries: instructions per query, free of the set-up. With -c it prints the
 * rcode, the counts and a checksum of every answer instead (to compare two builds).
 *
 * usage: dnsloop [-n] [-c] N QUERYFILE ZONEFILE...
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pkt/process.h"
#include "zone/zone.h"

static const struct {
	const char *name;
	uint16_t type;
} types[] = {{"A", 1},       {"NS", 2},     {"CNAME", 5}, {"SOA", 6},  {"MX", 15},
             {"TXT", 16},    {"AAAA", 28},  {"SRV", 33},  {"DS", 43},  {"NSEC", 47},
             {"DNSKEY", 48}, {"NSEC3", 50}, {"CAA", 257}, {"ANY", 255}};

/* A query for name (dotted, no trailing dot) with OPT (1232, DO as asked). Returns its
 * length, 0 when it does not fit. */
static size_t query(uint8_t *q, const char *name, uint16_t type, int dobit)
{
	memset(q, 0, 12);
	q[0] = 0x12;
	q[1] = 0x34;
	q[5] = 1;  /* QDCOUNT */
	q[11] = 1; /* ARCOUNT */
	size_t n = 12;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || n + l + 20 > 300)
			return 0;
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = (uint8_t)(type >> 8);
	q[n++] = (uint8_t)type;
	q[n++] = 0;
	q[n++] = 1;
	const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, dobit ? 0x80 : 0, 0, 0, 0};
	memcpy(q + n, opt, sizeof(opt));
	return n + sizeof(opt);
}

int main(int argc, char **argv)
{
	int dobit = 1, check = 0, a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "-n") == 0)
			dobit = 0;
		else if (strcmp(argv[a], "-c") == 0)
			check = 1;
	}
	if (argc - a < 3) {
		fprintf(stderr, "usage: dnsloop [-n] [-c] N QUERYFILE ZONEFILE...\n");
		return 2;
	}
	long iters = atol(argv[a]);
	FILE *f = fopen(argv[a + 1], "r");
	if (!f) {
		perror(argv[a + 1]);
		return 1;
	}
	size_t nz = (size_t)(argc - a - 2);
	gk_zone_spec_t *specs = calloc(nz, sizeof(*specs));
	for (size_t i = 0; i < nz; i++) {
		const char *path = argv[a + 2 + i], *base = strrchr(path, '/');
		char *name = strdup(base ? base + 1 : path);
		char *dot = strstr(name, ".signed");
		if (!dot)
			dot = strstr(name, ".zone");
		if (dot)
			*dot = 0;
		specs[i] = (gk_zone_spec_t){.name = name, .file = path};
	}
	gk_zoneset_t *zs;
	char err[512];
	if (gk_zone_store_build(specs, nz, NULL, &zs, err, sizeof(err)) != 0) {
		fprintf(stderr, "dnsloop: %s\n", err);
		return 1;
	}
	size_t cap = 1024, nq = 0;
	uint8_t(*q)[300] = malloc(cap * sizeof(*q));
	size_t *ql = malloc(cap * sizeof(*ql));
	char line[512], name[300], tname[32];
	while (fgets(line, sizeof line, f)) {
		if (sscanf(line, "%299s %31s", name, tname) != 2)
			continue;
		uint16_t t = 0;
		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strcmp(types[i].name, tname) == 0)
				t = types[i].type;
		if (!t)
			continue;
		if (nq == cap) {
			cap *= 2;
			q = realloc(q, cap * sizeof(*q));
			ql = realloc(ql, cap * sizeof(*ql));
		}
		if ((ql[nq] = query(q[nq], name, t, dobit)) != 0)
			nq++;
	}
	fclose(f);
	gk_pkt_opts_t o = {.edns_udp_max = 1232};
	static uint8_t out[GK_PKT_OUT_MAX];
	unsigned long sum = 0;
	for (long k = 0; k < iters; k++)
		for (size_t i = 0; i < nq; i++) {
			gk_pkt_result_t res;
			if (gk_pkt_process(zs, &o, GK_PKT_UDP, q[i], ql[i], out, &res) !=
			    GK_PKT_ANSWER)
				continue;
			sum += res.len + res.rcode;
			if (check && k == 0) {
				unsigned long h = 5381;
				for (size_t j = 0; j < res.len; j++)
					h = h * 33 + out[j];
				printf("%zu rcode %d len %zu %016lx\n", i, res.rcode, res.len, h);
			}
		}
	printf("%ld x %zu queries, %lu\n", iters, nq, sum);
	return 0;
}
