/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_feed.c -- feed parser: normalisation, header rules, every rejection
 * with the line it must name, provider interning, and thread-count independence.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gk/filing_status.h"
#include <jansson.h>
#include "sync/feed.h"
#include "sync/record.h"

static gk_psl_t *psl;

#define HDR(kind, extra, count)                                                                    \
	"{\"kind\":\"" kind "\",\"serial\":5" extra ",\"count\":" #count                           \
	",\"generated\":\"2024-06-01T00:00:00Z\"}\n"
#define REC(dom, st)                                                                                       \
	"{\"domain\":\"" dom "\",\"status\":\"" st "\",\"licence\":\"京ICP备12345678号-1\","            \
	"\"sponsor\":\"北京示例科技有限公司\",\"nature\":\"企业\",\"provider\":\"阿里云\"," \
	"\"updated\":\"2024-01-01T00:00:00Z\"}\n"

static int setup(void **state)
{
	(void)state;
	gk_sync_feed_global_init();
	return gk_psl_open(NULL, &psl);
}

static int teardown(void **state)
{
	(void)state;
	gk_psl_close(psl);
	return 0;
}

static int parse(const char *text, gk_feed_t **f, char *err, unsigned threads)
{
	return gk_sync_feed_parse("t.jsonl", text, strlen(text), psl, threads, 0, f, err, 512);
}

/* the feed must be rejected with exactly this message */
static void reject(const char *text, const char *want)
{
	gk_feed_t *f = NULL;
	char err[512];
	assert_int_equal(parse(text, &f, err, 1), GK_ESYNTAX);
	assert_null(f);
	if (!strstr(err, want))
		fail_msg("got \"%s\", want \"%s\"", err, want);
}

static void test_normalise(void **state)
{
	(void)state;
	char out[256];
	const char *why;
	assert_int_equal(gk_sync_feed_domain_normalise("WWW.Foo.COM.cn.", 15, out, &why), 14);
	assert_string_equal(out, "www.foo.com.cn");
	const char *idn = "中国移动.中国";
	assert_true(gk_sync_feed_domain_normalise(idn, strlen(idn), out, &why) > 0);
	assert_string_equal(out, "xn--fiq02ib9d179b.xn--fiqs8s");
	assert_true(gk_sync_feed_domain_normalise("BÜCHER.de", 10, out, &why) > 0);
	assert_string_equal(out, "xn--bcher-kva.de");
	assert_int_equal(gk_sync_feed_domain_normalise("a..b", 4, out, &why), GK_EINVAL);
	assert_int_equal(gk_sync_feed_domain_normalise("-a.cn", 5, out, &why), GK_EINVAL);
	assert_int_equal(gk_sync_feed_domain_normalise("a_b.cn", 6, out, &why), GK_EINVAL);
	assert_int_equal(gk_sync_feed_domain_normalise(".", 1, out, &why), GK_EINVAL);
	assert_int_equal(gk_sync_feed_domain_normalise("", 0, out, &why), GK_EINVAL);
	char lng[80];
	memset(lng, 'a', 64);
	memcpy(lng + 64, ".cn", 4);
	assert_int_equal(gk_sync_feed_domain_normalise(lng, 67, out, &why), GK_EINVAL);
}

static void test_snapshot_ok(void **state)
{
	(void)state;
	gk_feed_t *f = NULL;
	char err[512];
	const char *t = HDR("snapshot", "", 3) REC("Example.CN.", "filed")
	    REC("foo.com.cn", "revoked") "{\"domain\":\"中国移动.中国\",\"status\":\"filed\","
	                                 "\"provider\":\"腾讯云\"}\n";
	assert_int_equal(parse(t, &f, err, 1), 0);
	assert_int_equal(f->kind, GK_FEED_SNAPSHOT);
	assert_int_equal(f->serial, 5);
	assert_int_equal(f->n, 3);
	assert_string_equal(f->recs[0].domain, "example.cn");
	assert_int_equal(f->recs[0].status, GK_FS_FILED);
	assert_int_equal(f->recs[0].line, 2);
	assert_int_equal(f->recs[0].bucket, gk_fs_bucket("example.cn", 10));
	assert_int_equal(f->recs[1].status, GK_FS_REVOKED);
	assert_string_equal(f->recs[2].domain, "xn--fiq02ib9d179b.xn--fiqs8s");
	/* compact record (src/sync/record.h): decodes back to the fields, no domain in it */
	{
		uint8_t v[512];
		char buf[2048];
		gk_rec_t r;
		size_t l = gk_sync_rec_finish((const uint8_t *)f->recs[0].record,
		                              f->recs[0].record_len, 7, v);
		assert_true(l < 64);
		assert_int_equal(gk_sync_rec_decode(v, l, "example.cn", &r, buf, sizeof(buf)), 0);
		assert_int_equal(r.status, GK_FS_FILED);
		assert_int_equal(r.provider_id, 7);
		assert_string_equal(r.field[GK_REC_LICENCE], "京ICP备12345678号-1");
		assert_string_equal(r.field[GK_REC_SPONSOR], "北京示例科技有限公司");
		assert_string_equal(r.field[GK_REC_UPDATED], "2024-01-01T00:00:00Z");
		assert_null(r.field[GK_REC_SITE_NAME]);
		assert_null(memmem(v, l, "example", 7));
	}
	assert_int_equal(f->n_providers, 2);
	assert_string_equal(f->providers[0], "阿里云");
	assert_int_equal(f->recs[0].provider, 1);
	assert_int_equal(f->recs[1].provider, 1);
	assert_int_equal(f->recs[2].provider, 2);
	gk_sync_feed_free(f);
}

static void test_delta_ok(void **state)
{
	(void)state;
	gk_feed_t *f = NULL;
	char err[512];
	const char *t = HDR("delta", ",\"base\":4", 2)
	    REC("a.cn", "filed") "{\"domain\":\"b.cn\",\"op\":\"remove\"}\n";
	assert_int_equal(parse(t, &f, err, 1), 0);
	assert_int_equal(f->kind, GK_FEED_DELTA);
	assert_int_equal(f->base, 4);
	assert_int_equal(f->recs[1].status, GK_FS_UNFILED);
	assert_null(f->recs[1].record);
	gk_sync_feed_free(f);
	gk_feed_kind_t k;
	uint64_t s, b;
	assert_int_equal(gk_sync_feed_peek_header("t", t, strlen(t), &k, &s, &b, err, sizeof(err)),
	                 0);
	assert_int_equal(s, 5);
	assert_int_equal(b, 4);
}

static void test_rejections(void **state)
{
	(void)state;
	reject(HDR("snapshot", "", 1) "{\"domain\":\"a.cn\",\"status\":\"filed\"\n",
	       "t.jsonl:2: malformed JSON");
	reject(HDR("snapshot", "", 1) "\n", "t.jsonl:2: malformed JSON: empty line");
	reject(HDR("snapshot", "", 1) REC("a.cn", "pending"), "t.jsonl:2: unknown status");
	reject(
	    HDR("snapshot", "", 1) REC("www.a.cn", "filed"),
	    "t.jsonl:2: \"www.a.cn\" is not a registrable domain (its registrable domain is a.cn)");
	reject(HDR("snapshot", "", 1) REC("com.cn", "filed"), "t.jsonl:2: \"com.cn\" is not a "
	                                                      "registrable domain (it is a public");
	reject(HDR("snapshot", "", 3) REC("a.cn", "filed") REC("b.cn", "filed")
	           REC("A.cn.", "filed"),
	       "t.jsonl:4: duplicate domain \"a.cn\" (first at line 2)");
	reject(HDR("snapshot", "", 3) REC("a.cn", "filed"), "count mismatch: header says 3");
	reject(HDR("snapshot", "", 1) REC("a.cn", "filed") REC("b.cn", "filed"),
	       "t.jsonl:1: count mismatch");
	reject(HDR("snapshot", "", 1) "{\"domain\":\"a.cn\",\"status\":\"filed\"}",
	       "t.jsonl:2: truncated: no newline at end of file");
	reject("", "t.jsonl:1: truncated");
	reject(HDR("snapshot", "", 1) "{\"domain\":\"a.cn\",\"op\":\"remove\"}\n",
	       "t.jsonl:2: \"op\":\"remove\" is only allowed in a delta");
	reject(HDR("delta", "", 0), "t.jsonl:1: malformed header: a delta needs \"base\"");
	reject(HDR("delta", ",\"base\":5", 0), "t.jsonl:1: delta base 5 is not older");
	reject(HDR("weekly", "", 0), "t.jsonl:1: unknown feed kind");
	reject("{\"kind\":\"snapshot\",\"serial\":0,\"count\":0}\n", "t.jsonl:1: malformed header");
	reject(HDR("snapshot", "", 1) "[1,2]\n", "t.jsonl:2: malformed record: not a JSON object");
	reject(HDR("snapshot", "", 1) "{\"domain\":\"a.cn\",\"status\":\"filed\",\"ips\":[1]}\n",
	       "t.jsonl:2: malformed record: \"ips\" holds a non-string");
	reject(HDR("snapshot", "", 1) "{\"domain\":\"a.cn\",\"status\":\"filed\",\"sponsor\":7}\n",
	       "t.jsonl:2: malformed record: \"sponsor\" is not a string");
	reject(HDR("snapshot", "",
	           1) "{\"domain\":\"a.cn\",\"domain\":\"b.cn\",\"status\":\"filed\"}\n",
	       "t.jsonl:2: malformed JSON: duplicate object key");
	reject(HDR("snapshot", "", 1) "{\"domain\":\"a b.cn\",\"status\":\"filed\"}\n",
	       "t.jsonl:2: invalid domain");
}

/* A record line longer than GK_FEED_LINE_MAX rejects the whole feed at its line, whatever
 * the thread count; a line of exactly the limit is accepted. (A 100 MB record was stored.) */
static void test_record_size_cap(void **state)
{
	(void)state;
	const char *head = "{\"domain\":\"big.cn\",\"status\":\"filed\",\"address\":\"";
	const char *tail = "\"}\n";
	size_t over = GK_FEED_LINE_MAX + 1;
	for (int exact = 0; exact < 2; exact++) {
		size_t line = exact ? GK_FEED_LINE_MAX : over;
		size_t body = 40000, pad = line - strlen(head) - strlen(tail) + 1; /* + the \n */
		char *t = malloc(body + line + 400);
		size_t o = (size_t)sprintf(t, "{\"kind\":\"snapshot\",\"serial\":5,\"count\":%d}\n",
		                           exact ? 1 + 400 : 2 + 400);
		for (int i = 0; i < 400; i++) /* enough lines for two threads to split the work */
			o += (size_t)sprintf(t + o,
			                     "{\"domain\":\"d%d.cn\",\"status\":\"filed\"}\n", i);
		if (!exact)
			o +=
			    (size_t)sprintf(t + o, "{\"domain\":\"ok.cn\",\"status\":\"filed\"}\n");
		o += (size_t)sprintf(t + o, "%s", head);
		memset(t + o, 'x', pad - 1);
		o += pad - 1;
		o += (size_t)sprintf(t + o, "%s", tail);
		for (unsigned th = 1; th <= 2; th++) {
			gk_feed_t *f = NULL;
			char err[512];
			int rc =
			    gk_sync_feed_parse("t.jsonl", t, o, psl, th, 0, &f, err, sizeof(err));
			if (exact) {
				if (rc)
					fail_msg("a %d-byte line: %s", GK_FEED_LINE_MAX, err);
				gk_sync_feed_free(f);
				continue;
			}
			assert_int_equal(rc, GK_ESYNTAX);
			assert_null(f);
			char want[128];
			snprintf(want, sizeof(want),
			         "t.jsonl:403: record line is %zu bytes, over the %d-byte limit",
			         over, GK_FEED_LINE_MAX);
			if (strcmp(err, want))
				fail_msg("got \"%s\", want \"%s\"", err, want);
		}
		free(t);
	}
	/* the header line has the same limit */
	char *h = malloc(GK_FEED_LINE_MAX + 200);
	int n = sprintf(h, "{\"kind\":\"snapshot\",\"serial\":5,\"count\":0,\"x\":\"");
	memset(h + n, 'x', GK_FEED_LINE_MAX);
	strcpy(h + n + GK_FEED_LINE_MAX, "\"}\n");
	reject(h, "t.jsonl:1: header line is");
	free(h);
}

/* Every A-label must decode (libidn2) to a valid U-label and encode back to itself. */
static void test_alabels(void **state)
{
	(void)state;
	char out[256];
	const char *why;
	/* valid: 中国, 公司, bücher */
	assert_int_equal(gk_sync_feed_domain_normalise("xn--fiqs8s.xn--55qx5d.cn", 24, out, &why),
	                 24);
	assert_true(gk_sync_feed_domain_normalise("XN--BCHER-KVA.de", 16, out, &why) > 0);
	assert_string_equal(out, "xn--bcher-kva.de");
	static const char *const bad[] = {
	    "xn--a.cn",       /* decodes to U+0080, disallowed */
	    "xn--zz.cn",      /* not punycode */
	    "xn--ls8h.cn",    /* an emoji: disallowed in IDNA2008 */
	    "xn--a-wbb.cn",   /* a leading combining mark (U+0301) */
	    "xn--ab-m1t.cn",  /* a ZERO WIDTH JOINER out of context (CONTEXTJ) */
	    "a.xn--a-ecp.cn", /* a⒈: disallowed */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		int r = gk_sync_feed_domain_normalise(bad[i], strlen(bad[i]), out, &why);
		if (r != GK_EINVAL)
			fail_msg("%s: normalised to %s, want rejected", bad[i], r > 0 ? out : "?");
		if (!strstr(why, "A-label"))
			fail_msg("%s: rejected for \"%s\", want the A-label check", bad[i], why);
	}
	reject(HDR("snapshot", "", 2) REC("fine.cn", "filed") REC("xn--a.cn", "filed"),
	       "t.jsonl:3: invalid domain \"xn--a.cn\"");
}

/* The first error wins whatever the thread count (the lowest line). */
static void test_threads_same_error(void **state)
{
	(void)state;
	size_t n = 5000, cap = n * 200 + 200, o = 0;
	char *t = malloc(cap);
	o += (size_t)snprintf(t + o, cap - o,
	                      "{\"kind\":\"snapshot\",\"serial\":9,\"count\":%zu}\n", n);
	for (size_t i = 0; i < n; i++) {
		const char *st = (i == 3100 || i == 4700) ? "bogus" : "filed";
		o += (size_t)snprintf(t + o, cap - o,
		                      "{\"domain\":\"d%zu.cn\",\"status\":\"%s\"}\n", i, st);
	}
	char e1[512], e4[512];
	gk_feed_t *f = NULL;
	assert_int_equal(gk_sync_feed_parse("t", t, o, psl, 1, 0, &f, e1, sizeof(e1)), GK_ESYNTAX);
	assert_int_equal(gk_sync_feed_parse("t", t, o, psl, 4, 0, &f, e4, sizeof(e4)), GK_ESYNTAX);
	assert_string_equal(e1, e4);
	assert_non_null(strstr(e1, "t:3102: unknown status"));
	/* and a good feed parses the same with 1 and 3 threads */
	o = (size_t)snprintf(t, cap, "{\"kind\":\"snapshot\",\"serial\":9,\"count\":%zu}\n", n);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(
		    t + o, cap - o,
		    "{\"domain\":\"d%zu.cn\",\"status\":\"filed\",\"provider\":\"p%zu\"}\n", i,
		    i % 7);
	gk_feed_t *a = NULL, *b = NULL;
	assert_int_equal(gk_sync_feed_parse("t", t, o, psl, 1, 0, &a, e1, sizeof(e1)), 0);
	assert_int_equal(gk_sync_feed_parse("t", t, o, psl, 3, 0, &b, e1, sizeof(e1)), 0);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_providers, 7);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(a->recs[i].domain, b->recs[i].domain);
		assert_int_equal(a->recs[i].record_len, b->recs[i].record_len);
		assert_memory_equal(a->recs[i].record, b->recs[i].record, a->recs[i].record_len);
		assert_int_equal(a->recs[i].provider, b->recs[i].provider);
	}
	gk_sync_feed_free(a);
	gk_sync_feed_free(b);
	free(t);
}

static const char *pname(uint32_t id, void *ctx)
{
	(void)ctx;
	return id == 3 ? "阿里云计算有限公司" : NULL;
}

/* encode -> finish -> decode -> JSON equals the feed line (normalised domain) */
static void roundtrip(const char *line, const char *dom, size_t max_len)
{
	json_t *o = json_loads(line, JSON_REJECT_DUPLICATES, NULL);
	assert_non_null(o);
	const char *st = json_string_value(json_object_get(o, "status"));
	uint8_t enc[4096], v[4096];
	int el = gk_sync_rec_encode(o, dom, gk_sync_feed_status_parse(st), enc, sizeof(enc));
	assert_true(el > 0);
	json_t *p = json_object_get(o, "provider");
	size_t l = gk_sync_rec_finish(enc, (size_t)el, p && json_string_length(p) ? 3 : 0, v);
	if (max_len && l > max_len)
		fail_msg("%zu bytes > %zu for %s", l, max_len, line);
	json_t *back = gk_sync_rec_to_json(v, l, dom, pname, NULL);
	assert_non_null(back);
	json_object_set_new(o, "domain", json_string(dom));
	if (!json_equal(o, back)) {
		char *a = json_dumps(o, JSON_SORT_KEYS), *b = json_dumps(back, JSON_SORT_KEYS);
		fail_msg("round trip differs:\n  %s\n  %s", a, b);
	}
	/* canonical: the same record encodes to the same bytes */
	uint8_t enc2[4096];
	assert_int_equal(
	    gk_sync_rec_encode(o, dom, gk_sync_feed_status_parse(st), enc2, sizeof(enc2)), el);
	assert_memory_equal(enc, enc2, (size_t)el);
	/* every truncation is rejected, never read past */
	char buf[8192];
	gk_rec_t r;
	for (size_t k = 0; k < l; k++)
		assert_int_not_equal(gk_sync_rec_decode(v, k, dom, &r, buf, sizeof(buf)), 0);
	json_decref(o);
	json_decref(back);
}

static void test_record_encoding(void **state)
{
	(void)state;
	/* typical registry records (bench/feedgen.py shapes) stay under hash-max-listpack-value */
	roundtrip("{\"domain\":\"yunhaibao0001a.com.cn\",\"status\":\"filed\",\"licence\":"
	          "\"粤ICP备01234567号-3\",\"sponsor\":\"深圳盛世网络科技有限公司\",\"nature\":"
	          "\"企业\",\"provider\":\"阿里云计算有限公司\",\"updated\":"
	          "\"2024-02-29T23:59:00+08:00\",\"site_name\":\"盛世官网\",\"home_url\":"
	          "\"http://www.yunhaibao0001a.com.cn/\",\"ips\":[\"203.0.113.7\"]}",
	          "yunhaibao0001a.com.cn", 63);
	roundtrip("{\"domain\":\"wangwei.cn\",\"status\":\"revoked\",\"licence\":"
	          "\"京ICP备12345678号\",\"sponsor\":\"王伟\",\"nature\":\"个人\",\"provider\":"
	          "\"阿里云计算有限公司\",\"updated\":\"2000-01-01T00:00:00+08:00\",\"site_name\":"
	          "\"王伟的个人博客\",\"home_url\":\"https://wangwei.cn/\",\"ips\":[\"1.2.3.4\","
	          "\"5.6.7.8\"]}",
	          "wangwei.cn", 63);
	/* everything in its text form, extras, other scripts, empty provider */
	roundtrip("{\"domain\":\"Example.CN.\",\"status\":\"filed\",\"licence\":"
	          "\"沪ICP证123456号\",\"sponsor\":\"Ünïcødé（上海）有限公司 😀 ｱｲ\",\"nature\":"
	          "\"其他\",\"provider\":\"\",\"updated\":\"2024-01-16T00:36:00Z\",\"site_name\":"
	          "\"\",\"home_url\":\"http://www.example.cn/x\",\"ips\":[\"2001:db8::1\","
	          "\"010.1.1.1\"],\"phone\":\"010-62345678\",\"person\":\"张伟\",\"address\":"
	          "\"北京市海淀区…\",\"extra\":{\"b\":[1,2.5,null]},\"a\":\"\\u0001\"}",
	          "example.cn", 0);
	roundtrip("{\"domain\":\"a.cn\",\"status\":\"filed\",\"licence\":\"京ICP备1234567号\","
	          "\"updated\":\"2023-02-29T00:00:00+08:00\",\"ips\":[]}",
	          "a.cn", 0);
	roundtrip("{\"domain\":\"a.cn\",\"status\":\"filed\",\"licence\":\"京ICP证123456号-1\","
	          "\"updated\":\"2136-01-01T00:00:00+08:00\",\"home_url\":\"http://www.a.cn\"}",
	          "a.cn", 0);
	roundtrip("{\"domain\":\"a.cn\",\"status\":\"filed\",\"licence\":\"京ICP备12345678号-01\","
	          "\"updated\":\"2135-12-31T23:59:59+08:00\",\"provider\":\"阿里云计算有限公司\"}",
	          "a.cn", 0);
	roundtrip("{\"domain\":\"a.cn\",\"status\":\"filed\"}", "a.cn", 5);
	/* garbage never crashes the decoder */
	uint8_t g[64];
	char buf[1024];
	gk_rec_t r;
	unsigned x = 12345;
	for (int it = 0; it < 200000; it++) {
		size_t l = (size_t)(x % 40);
		for (size_t k = 0; k < l; k++)
			g[k] = (uint8_t)((x = x * 1103515245u + 12345u) >> 16);
		if (l > 0)
			g[0] = (uint8_t)(0x10 | (g[0] & 3));
		if (gk_sync_rec_decode(g, l, "a.cn", &r, buf, sizeof(buf)) == 0)
			assert_true(l >= 4);
		x = x * 1103515245u + 12345u;
	}
	assert_int_equal(gk_sync_rec_decode("", 0, "a.cn", &r, buf, sizeof(buf)), GK_ESYNTAX);
}

/* The serial rules the domain and the IP feed share when applied on top of the store's. */
static void test_serial_check(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_SNAPSHOT, 5, 0, 4, "k", err, 256),
	                 0);
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_SNAPSHOT, 4, 0, 4, "k", err, 256),
	                 GK_ESYNTAX);
	assert_string_equal(err, "f:1: serial 4 is not newer than k 4");
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_DELTA, 5, 4, 4, "k", err, 256), 0);
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_DELTA, 5, 4, 5, "k", err, 256), 1);
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_DELTA, 5, 4, 6, "k", err, 256),
	                 GK_ESYNTAX);
	assert_non_null(strstr(err, "f:1: delta serial 5 is older than k 6"));
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_DELTA, 9, 7, 6, "k", err, 256),
	                 GK_EAGAIN);
	assert_string_equal(err, "f:1: delta base 7 != k 6 (an earlier delta is missing)");
	assert_int_equal(gk_sync_feed_serial_check("f", GK_FEED_DELTA, 9, 5, 6, "k", err, 256),
	                 GK_ESYNTAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),          cmocka_unit_test(test_snapshot_ok),
	    cmocka_unit_test(test_delta_ok),           cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_threads_same_error), cmocka_unit_test(test_record_encoding),
	    cmocka_unit_test(test_record_size_cap),    cmocka_unit_test(test_alabels),
	    cmocka_unit_test(test_serial_check),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
