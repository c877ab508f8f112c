/* SPDX-License-Identifier: MIT */
/* tests/unit/obs/test_discovery.c -- the discovery counting table: exact counts (case folded,
 * first/last seen, per reason), what a packet result counts (resolved, refused, monitor,
 * no registrable domain, names we do not serve), overflow accounting at the cap, the memory
 * bound under a random-domain flood and collapse of a random-subdomain flood, reset, the
 * field spelling, the China Standard Time day, and the lock-free handoff under two
 * counting threads (no count lost or doubled).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include "common/dname.h"
#include "obs/discovery.h"
#include "obs/internal.h"
#include "status/status.h"

#define N(s) ((const uint8_t *)(s))

/* A query: 12-byte header then the name; res points at the registrable domain in it. */
struct q {
	uint8_t b[12 + 256 + 4];
	gk_pkt_result_t res;
};

/* wire form of a presentation name; returns length (root included) */
static size_t to_wire(const char *s, uint8_t *out)
{
	size_t o = 0;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		out[o++] = (uint8_t)l;
		memcpy(out + o, s, l);
		o += l;
		s += l + (dot ? 1 : 0);
	}
	out[o++] = 0;
	return o;
}

/* qname with registrable domain reg (a suffix of qname, or NULL for none) */
static void mkq(struct q *q, const char *qname, const char *reg, int filing, int why, int action,
                bool monitor)
{
	memset(q, 0, sizeof(*q));
	size_t ql = to_wire(qname, q->b + 12);
	q->res.filing = (int8_t)filing;
	q->res.why = (uint8_t)why;
	q->res.action = (uint8_t)action;
	q->res.monitor = monitor;
	if (reg) {
		uint8_t w[256];
		size_t rl = to_wire(reg, w);
		q->res.reg_off = (uint16_t)(12 + ql - rl);
		q->res.reg_len = (uint8_t)rl;
		assert_memory_equal(q->b + q->res.reg_off, w, rl);
	}
}

static const gk_disc_entry_t *find(gk_disc_table_t *t, const char *name, unsigned reason,
                                   gk_disc_entry_t *e)
{
	char txt[1100];
	for (uint32_t i = 0; i < gk_obs_disc_table_size(t); i++) {
		gk_obs_disc_table_entry(t, i, e);
		gk_obs_disc_name_text(e->name, e->len, txt);
		if (strcmp(txt, name) == 0 && e->reason == reason)
			return e;
	}
	return NULL;
}

static void test_exact_counts(void **state)
{
	(void)state;
	gk_disc_table_t *t;
	assert_int_equal(gk_obs_disc_table_create(64, &t), 0);
	struct q q;
	/* 3 queries for newsite.cn (mixed case, subdomains), 2 for shop.com.cn revoked */
	mkq(&q, "www.NewSite.cn", "NewSite.cn", GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE,
	    false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	mkq(&q, "a.b.newsite.CN", "newsite.CN", GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE,
	    false);
	gk_obs_disc_table_record(t, q.b, &q.res, 90);
	mkq(&q, "newsite.cn", "newsite.cn", GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_NXDOMAIN, false);
	gk_obs_disc_table_record(t, q.b, &q.res, 120);
	mkq(&q, "www.shop.com.cn", "shop.com.cn", GK_FS_REVOKED, GK_WHY_REVOKED, GK_ACT_NXDOMAIN,
	    false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	gk_obs_disc_table_record(t, q.b, &q.res, 101);
	/* the same domain for another reason is another key */
	mkq(&q, "x.newsite.cn", "newsite.cn", GK_FS_UNFILED, GK_WHY_BLOCKED, GK_ACT_REFUSE, false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	/* filed and resolved: totals only */
	mkq(&q, "www.example.cn", "example.cn", GK_FS_FILED, GK_WHY_NONE, GK_ACT_RESOLVE, false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	/* monitor mode: counted as refused and as resolved */
	mkq(&q, "m.mon.cn", "mon.cn", GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, true);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	/* no registrable domain */
	mkq(&q, "com.cn", NULL, GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	/* not a name we serve: not counted at all */
	mkq(&q, "www.example.org", NULL, GK_PKT_NOCHECK, GK_WHY_NONE, GK_ACT_RESOLVE, false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);
	/* an older result without why: the filing status gives the reason */
	mkq(&q, "old.cn", "old.cn", GK_FS_UNKNOWN, GK_WHY_NONE, GK_ACT_REFUSE, false);
	gk_obs_disc_table_record(t, q.b, &q.res, 100);

	assert_int_equal(gk_obs_disc_table_size(t), 5);
	gk_disc_entry_t e;
	assert_non_null(find(t, "newsite.cn", GK_DISC_UNFILED, &e));
	assert_int_equal(e.count, 3);
	assert_int_equal(e.first, 90);
	assert_int_equal(e.last, 120);
	assert_non_null(find(t, "shop.com.cn", GK_DISC_REVOKED, &e));
	assert_int_equal(e.count, 2);
	assert_int_equal(e.first, 100);
	assert_int_equal(e.last, 101);
	assert_non_null(find(t, "newsite.cn", GK_DISC_BLOCKED, &e));
	assert_int_equal(e.count, 1);
	assert_non_null(find(t, "mon.cn", GK_DISC_UNFILED, &e));
	assert_non_null(find(t, "old.cn", GK_DISC_UNKNOWN, &e));
	assert_null(find(t, "example.cn", GK_DISC_UNFILED, &e));
	const gk_disc_totals_t *tot = gk_obs_disc_table_totals(t);
	assert_int_equal(tot->queries, 10);
	assert_int_equal(tot->resolved, 2);
	assert_int_equal(tot->monitored, 1);
	assert_int_equal(tot->noreg, 1);
	assert_int_equal(tot->refused[GK_DISC_UNFILED], 5);
	assert_int_equal(tot->refused[GK_DISC_REVOKED], 2);
	assert_int_equal(tot->refused[GK_DISC_BLOCKED], 1);
	assert_int_equal(tot->refused[GK_DISC_UNKNOWN], 1);
	for (unsigned r = 0; r < GK_DISC_NREASONS; r++)
		assert_int_equal(tot->overflow[r], 0);

	/* reset: empty, and the same keys count from zero again */
	gk_obs_disc_table_reset(t);
	assert_int_equal(gk_obs_disc_table_size(t), 0);
	assert_int_equal(gk_obs_disc_table_totals(t)->queries, 0);
	mkq(&q, "www.newsite.cn", "newsite.cn", GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE,
	    false);
	gk_obs_disc_table_record(t, q.b, &q.res, 7);
	assert_non_null(find(t, "newsite.cn", GK_DISC_UNFILED, &e));
	assert_int_equal(e.count, 1);
	assert_int_equal(gk_obs_disc_table_size(t), 1);
	gk_obs_disc_table_free(t);
}

static void test_overflow(void **state)
{
	(void)state;
	gk_disc_table_t *t;
	assert_int_equal(gk_obs_disc_table_create(16, &t), 0);
	size_t bytes = gk_obs_disc_table_bytes(t);
	struct q q;
	char name[64];
	for (int round = 0; round < 2; round++) {
		for (int i = 0; i < 100; i++) {
			snprintf(name, sizeof(name), "d%03d.cn", i);
			mkq(&q, name, name, GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, false);
			gk_obs_disc_table_record(t, q.b, &q.res, 1);
		}
	}
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "r%03d.cn", i);
		mkq(&q, name, name, GK_FS_REVOKED, GK_WHY_REVOKED, GK_ACT_REFUSE, false);
		gk_obs_disc_table_record(t, q.b, &q.res, 1);
	}
	assert_int_equal(gk_obs_disc_table_size(t), 16);
	const gk_disc_totals_t *tot = gk_obs_disc_table_totals(t);
	/* the first 16 domains were counted twice each; every other refusal overflowed */
	assert_int_equal(tot->refused[GK_DISC_UNFILED], 200);
	assert_int_equal(tot->overflow[GK_DISC_UNFILED], 200 - 32);
	assert_int_equal(tot->overflow[GK_DISC_REVOKED], 10);
	gk_disc_entry_t e;
	uint64_t sum = 0;
	for (uint32_t i = 0; i < gk_obs_disc_table_size(t); i++) {
		gk_obs_disc_table_entry(t, i, &e);
		assert_int_equal(e.count, 2);
		sum += e.count;
	}
	assert_int_equal(sum + tot->overflow[GK_DISC_UNFILED], tot->refused[GK_DISC_UNFILED]);
	assert_int_equal(gk_obs_disc_table_bytes(t), bytes);
	/* add on a full table: ENOSPC for a new key, an existing key still counts */
	assert_int_equal(gk_obs_disc_table_add(t,
	                                       N("\x04zzzz\x02"
	                                         "cn"),
	                                       9, GK_DISC_UNFILED, 0, 1, 1, 1),
	                 GK_ENOSPC);
	assert_int_equal(gk_obs_disc_table_add(t,
	                                       N("\x04"
	                                         "D000\x02"
	                                         "CN"),
	                                       9, GK_DISC_UNFILED, 0, 5, 1, 1),
	                 0);
	assert_non_null(find(t, "d000.cn", GK_DISC_UNFILED, &e));
	assert_int_equal(e.count, 7);
	gk_obs_disc_table_free(t);
}

static uint64_t rng = 88172645463325252ull;
static uint64_t xs(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void rand_label(char *out, int n)
{
	for (int i = 0; i < n; i++)
		out[i] = "abcdefghijklmnopqrstuvwxyz0123456789"[xs() % 36];
	out[n] = 0;
}

/* A random-domain flood: the table stays at its cap and its allocation never grows; every
 * refusal is either in an entry or in overflow. A random-subdomain flood: one entry. */
static void test_flood(void **state)
{
	(void)state;
	gk_disc_table_t *t;
	assert_int_equal(gk_obs_disc_table_create(1024, &t), 0);
	size_t bytes = gk_obs_disc_table_bytes(t);
	struct q q;
	char lab[64], name[128], reg[96];
	const int n = 200000;
	for (int i = 0; i < n; i++) {
		rand_label(lab, 8 + (int)(xs() % 40));
		snprintf(reg, sizeof(reg), "%s.com.cn", lab);
		snprintf(name, sizeof(name), "www.%s", reg);
		mkq(&q, name, reg, GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, false);
		gk_obs_disc_table_record(t, q.b, &q.res, 1);
	}
	/* long names (8..47 + 7 octets) fill the name arena (32 octets per entry on average)
	 * before the entries: either bound stops the table */
	uint32_t size = gk_obs_disc_table_size(t);
	assert_true(size <= 1024 && size > 800);
	assert_int_equal(gk_obs_disc_table_bytes(t), bytes);
	const gk_disc_totals_t *tot = gk_obs_disc_table_totals(t);
	assert_int_equal(tot->refused[GK_DISC_UNFILED], n);
	assert_int_equal(tot->overflow[GK_DISC_UNFILED], n - size);
	print_message("flood: %d random domains, table of 1024 entries: %zu bytes, overflow %llu\n",
	              n, bytes, (unsigned long long)tot->overflow[GK_DISC_UNFILED]);
	assert_true(bytes < 1024 * 128);

	gk_obs_disc_table_reset(t);
	for (int i = 0; i < n; i++) {
		rand_label(lab, 1 + (int)(xs() % 60));
		snprintf(name, sizeof(name), "%s.victim.cn", lab);
		mkq(&q, name, "victim.cn", GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, false);
		gk_obs_disc_table_record(t, q.b, &q.res, (uint32_t)i);
	}
	gk_disc_entry_t e;
	assert_int_equal(gk_obs_disc_table_size(t), 1);
	assert_non_null(find(t, "victim.cn", GK_DISC_UNFILED, &e));
	assert_int_equal(e.count, n);
	assert_int_equal(e.first, 0);
	assert_int_equal(e.last, n - 1);
	assert_int_equal(gk_obs_disc_table_totals(t)->overflow[GK_DISC_UNFILED], 0);
	gk_obs_disc_table_free(t);
}

static void test_text_and_day(void **state)
{
	(void)state;
	char out[1100];
	assert_int_equal(gk_obs_disc_name_text(N("\x07"
	                                         "example\x02"
	                                         "cn"),
	                                       12, out),
	                 10);
	assert_string_equal(out, "example.cn");
	gk_obs_disc_name_text(N("\x04"
	                        "a.b\\\x03"
	                        "x y\x02"
	                        "cn"),
	                      14, out);
	assert_string_equal(out, "a\\.b\\\\.x\\032y.cn");
	gk_obs_disc_name_text(N(""), 1, out);
	assert_string_equal(out, ".");
	/* 1700000000 = 2023-11-14T22:13:20Z = 2023-11-15 06:13:20 CST */
	assert_int_equal(gk_disc_day(1700000000), 20231115);
	/* 2026-11-29T15:59:59Z is the 29th in Beijing, one second later the 30th */
	assert_int_equal(gk_disc_day(1795967999), 20261129);
	assert_int_equal(gk_disc_day(1795968000), 20261130);
	assert_int_equal(gk_disc_day(951782400 - 8 * 3600), 20000229); /* leap day */
	assert_int_equal(gk_disc_day(0), 19700101);
}

/* Two threads count while the merger (no Redis reachable) takes their tables every 10 ms:
 * after stop, exactly every query was merged once. */
struct worker_arg {
	gk_disc_t *d;
	unsigned id;
	int n;
};

static void count_thread(void *arg)
{
	struct worker_arg *a = arg;
	struct q q;
	char name[64];
	for (int i = 0; i < a->n; i++) {
		snprintf(name, sizeof(name), "w%u-%d.cn", a->id, i % 300);
		mkq(&q, name, name, GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, false);
		gk_obs_disc_record(gk_obs_disc_worker(a->d, a->id), q.b, &q.res);
	}
}

static void test_handoff(void **state)
{
	(void)state;
	gk_disc_conf_t c = {.workers = 2,
	                    .table_size = 64,
	                    .flush_ms = 10,
	                    .redis_host = "127.0.0.1",
	                    .redis_port = 1, /* nothing listens: the backlog keeps it all */
	                    .connect_timeout_ms = 100,
	                    .reconnect_max_ms = 200};
	gk_disc_t *d;
	assert_int_equal(gk_obs_disc_create(&c, &d), 0);
	assert_int_equal(gk_obs_disc_start(d), 0);
	struct worker_arg a[2] = {{d, 0, 300000}, {d, 1, 200000}};
	uv_thread_t th[2];
	for (int i = 0; i < 2; i++)
		assert_int_equal(uv_thread_create(&th[i], count_thread, &a[i]), 0);
	for (int i = 0; i < 2; i++)
		uv_thread_join(&th[i]);
	gk_obs_disc_stop(d);
	gk_disc_stats_t s;
	gk_obs_disc_stats(d, &s);
	assert_int_equal(s.merged, 500000);
	assert_false(s.connected);
	assert_int_equal(s.queries, 0);
	/* 600 distinct domains, worker tables of 64, a backlog of 4 x 64: the rest overflowed
	 * or was dropped, and counted */
	assert_true(s.pending <= 256);
	print_message("handoff: merged %llu, overflow %llu, dropped %llu, pending %u, %zu bytes\n",
	              (unsigned long long)s.merged, (unsigned long long)s.overflow,
	              (unsigned long long)s.dropped, s.pending, s.table_bytes);
	assert_true(s.overflow + s.dropped > 0);
	gk_obs_disc_free(d);
}

/* The cost of counting on the worker's path: a refusal of one of 1000 domains (hit), and a
 * resolved query (totals only), through gk_obs_disc_record (fence included). Printed, and
 * bounded loosely so a sanitizer build passes. */
static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* A batch's writes are GK_DISC_WRITE_GAP_MS apart (a redis-server on the server's core runs
 * each without a break, and not often), back to back only for a batch that small writes so
 * spaced would not drain within about GK_DISC_WRITE_SPREAD gaps. */
static void test_write_gap(void **state)
{
	(void)state;
	assert_int_equal(GK_DISC_WRITE_ENTRIES, 16);
	assert_int_equal(gk_obs_disc_write_gap_ms(0), GK_DISC_WRITE_GAP_MS);
	assert_int_equal(gk_obs_disc_write_gap_ms(3800), GK_DISC_WRITE_GAP_MS);
	assert_int_equal(gk_obs_disc_write_gap_ms(GK_DISC_WRITE_ENTRIES * GK_DISC_WRITE_SPREAD),
	                 GK_DISC_WRITE_GAP_MS);
	assert_int_equal(gk_obs_disc_write_gap_ms(GK_DISC_WRITE_ENTRIES * GK_DISC_WRITE_SPREAD + 1),
	                 0);
	assert_int_equal(gk_obs_disc_write_gap_ms(UINT32_MAX), 0);
}

static void test_cost(void **state)
{
	(void)state;
	gk_disc_conf_t c = {.workers = 1,
	                    .table_size = 4096,
	                    .flush_ms = 60000,
	                    .redis_host = "127.0.0.1",
	                    .redis_port = 1,
	                    .connect_timeout_ms = 100,
	                    .reconnect_max_ms = 200};
	gk_disc_t *d;
	assert_int_equal(gk_obs_disc_create(&c, &d), 0);
	gk_disc_worker_t *w = gk_obs_disc_worker(d, 0);
	static struct q qs[1000];
	char name[64];
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "www.site%04d.com.cn", i);
		mkq(&qs[i], name, name + 4, GK_FS_UNFILED, GK_WHY_UNFILED, GK_ACT_REFUSE, false);
	}
	const int n = 2000000;
	double t0 = now_ns();
	for (int i = 0; i < n; i++)
		gk_obs_disc_record(w, qs[i % 1000].b, &qs[i % 1000].res);
	double refused = (now_ns() - t0) / n;
	struct q ok;
	mkq(&ok, "www.example.cn", "example.cn", GK_FS_FILED, GK_WHY_NONE, GK_ACT_RESOLVE, false);
	t0 = now_ns();
	for (int i = 0; i < n; i++)
		gk_obs_disc_record(w, ok.b, &ok.res);
	double resolved = (now_ns() - t0) / n;
	print_message("cost per query: refusal %.1f ns, resolved %.1f ns\n", refused, resolved);
	assert_true(refused < 5000 && resolved < 5000);
	gk_obs_disc_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_exact_counts), cmocka_unit_test(test_overflow),
	    cmocka_unit_test(test_flood),        cmocka_unit_test(test_text_and_day),
	    cmocka_unit_test(test_handoff),      cmocka_unit_test(test_cost),
	    cmocka_unit_test(test_write_gap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
