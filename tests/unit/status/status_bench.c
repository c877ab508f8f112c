/* SPDX-License-Identifier: MIT */
/* tests/unit/status/status_bench.c -- measures the replica against a real redis-server.
 *
 *   status_bench gen N           RESP for N domains (HSET into gk:st:%04x, gk:serial, one
 *                                stream entry) on stdout, for `redis-cli --pipe`
 *   status_bench load HOST PORT [CHANGES]
 *                                start a replica, time the full load, report resident bytes
 *                                per domain (RSS after load minus RSS before, / table size),
 *                                then CHANGES times: HSET + XADD a new domain and spin on
 *                                gk_status_get until it is filed; print p50/p99/max latency.
 * Not a ctest (needs a populated redis); see docs/STATUS.md for the recorded runs.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <hiredis/hiredis.h>
#include "common/dname.h"
#include "common/namehash.h"
#include "status/status.h"

static const char *tlds[] = {"com.cn", "cn",         "com", "net.cn",
                             "org.cn", "xn--fiqs8s", "net", "gd.cn"};

static size_t domain_of(unsigned long i, char *buf, size_t cap)
{
	/* 5..12 letters derived from i, unique per i via the hex suffix */
	static const char al[] = "abcdefghijklmnopqrstuvwxyz";
	unsigned long x = i * 2654435761ul + 12345;
	unsigned n = 3 + (unsigned)(x % 6);
	char lab[32];
	for (unsigned k = 0; k < n; k++) {
		lab[k] = al[x % 26];
		x /= 26;
		x += i;
	}
	lab[n] = 0;
	return (size_t)snprintf(buf, cap, "%s%lx.%s", lab, i, tlds[i % 8]);
}

static void resp(const char **argv, const size_t *lens, int argc)
{
	printf("*%d\r\n", argc);
	for (int i = 0; i < argc; i++) {
		printf("$%zu\r\n", lens[i]);
		fwrite(argv[i], 1, lens[i], stdout);
		fputs("\r\n", stdout);
	}
}

static int gen(unsigned long n)
{
	char d[64], key[16], val[16];
	for (unsigned long i = 0; i < n; i++) {
		size_t dl = domain_of(i, d, sizeof(d));
		snprintf(key, sizeof(key), GK_KEY_STATUS_BUCKET, gk_fs_bucket(d, dl));
		snprintf(val, sizeof(val), "%u",
		         gk_fs_pack(i % 20 ? GK_FS_FILED : GK_FS_REVOKED, (uint32_t)(i % 300)));
		const char *argv[] = {"HSET", key, d, val};
		size_t lens[] = {4, strlen(key), dl, strlen(val)};
		resp(argv, lens, 4);
	}
	const char *a1[] = {"SET", "gk:serial", "1"};
	size_t l1[] = {3, 9, 1};
	resp(a1, l1, 3);
	const char *a2[] = {"XADD", "gk:changes", "*", "k", "serial", "s", "1"};
	size_t l2[] = {4, 10, 1, 1, 6, 1, 1};
	resp(a2, l2, 7);
	return 0;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long rss_bytes(void)
{
	long pages = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (f == NULL || fscanf(f, "%ld %ld", &pages, &res) != 2)
		res = 0;
	if (f != NULL)
		fclose(f);
	return res * sysconf(_SC_PAGESIZE);
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static size_t wire_of(const char *s, uint8_t *w)
{
	size_t o = 0, lab = 0;
	w[o++] = 0;
	for (; *s; s++) {
		if (*s == '.') {
			lab = o++;
			w[lab] = 0;
		} else {
			w[lab]++;
			w[o++] = (uint8_t)*s;
		}
	}
	w[o++] = 0;
	return o;
}

static int load(const char *host, int port, int changes)
{
	gk_status_conf_t conf = {.redis_host = host,
	                         .redis_port = (uint16_t)port,
	                         .instance_id = "status-bench",
	                         .connect_timeout_ms = 2000,
	                         .reconnect_max_ms = 1000,
	                         .max_age_ms = 30000,
	                         .version = "bench"};
	gk_status_t *st;
	if (gk_status_create(&conf, &st) != 0)
		return 1;
	long base = rss_bytes();
	double t0 = now_s();
	if (gk_status_start(st) != 0)
		return 1;
	gk_status_info_t info;
	for (;;) {
		gk_status_info(st, &info);
		if (info.ready)
			break;
		if (now_s() - t0 > 300) {
			fprintf(stderr, "not ready after 300 s\n");
			return 1;
		}
		usleep(10000);
	}
	double t1 = now_s();
	usleep(300000); /* let the load's transient buffers go */
	long after = rss_bytes();
	gk_status_info(st, &info);
	printf("full load: %zu domains in %.2f s\n", info.table_size, t1 - t0);
	printf("rss: before %ld, after %ld, delta %ld bytes = %.1f bytes/domain; table %zu bytes "
	       "= %.1f bytes/domain\n",
	       base, after, after - base, (double)(after - base) / (double)info.table_size,
	       gk_status_table_bytes(st),
	       (double)gk_status_table_bytes(st) / (double)info.table_size);
	if (changes > 0) {
		redisContext *c = redisConnect(host, port);
		if (c == NULL || c->err)
			return 1;
		double *lat = calloc((size_t)changes, sizeof(double));
		char d[64], key[16];
		uint8_t w[256];
		for (int i = 0; i < changes; i++) {
			snprintf(d, sizeof(d), "latency%d-%ld.com.cn", i, (long)getpid());
			size_t len = wire_of(d, w);
			uint64_t h = gk_namehash(w, len);
			snprintf(key, sizeof(key), GK_KEY_STATUS_BUCKET,
			         gk_fs_bucket(d, strlen(d)));
			double s = now_s();
			freeReplyObject(redisCommand(c, "HSET %s %s 5", key, d));
			freeReplyObject(redisCommand(c, "XADD gk:changes * k st d %s v 5 s 2", d));
			while (gk_status_get(st, w, len, h, NULL) != GK_FS_FILED) {
				if (now_s() - s > 10) {
					fprintf(stderr, "change %d not applied after 10 s\n", i);
					return 1;
				}
				usleep(20);
			}
			lat[i] = (now_s() - s) * 1000.0;
			usleep(2000);
		}
		qsort(lat, (size_t)changes, sizeof(double), cmp_d);
		printf("propagation XADD -> table over %d changes: p50 %.2f ms, p99 %.2f ms, max "
		       "%.2f ms\n",
		       changes, lat[changes / 2], lat[(size_t)changes * 99 / 100],
		       lat[changes - 1]);
		free(lat);
		redisFree(c);
	}
	gk_status_stop(st);
	gk_status_retired_free(gk_status_retired_take(st));
	gk_status_free(st);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "gen") == 0)
		return gen(strtoul(argv[2], NULL, 10));
	if ((argc == 4 || argc == 5) && strcmp(argv[1], "load") == 0)
		return load(argv[2], atoi(argv[3]), argc == 5 ? atoi(argv[4]) : 0);
	fprintf(stderr, "usage: status_bench gen N | load HOST PORT [CHANGES]\n");
	return 2;
}
