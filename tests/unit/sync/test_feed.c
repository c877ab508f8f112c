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
#include "sync/feed.h"

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
	gk_feed_global_init();
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
	return gk_feed_parse("t.jsonl", text, strlen(text), psl, threads, 0, f, err, 512);
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
	assert_int_equal(gk_feed_domain_normalise("WWW.Foo.COM.cn.", 15, out, &why), 14);
	assert_string_equal(out, "www.foo.com.cn");
	const char *idn = "中国移动.中国";
	assert_true(gk_feed_domain_normalise(idn, strlen(idn), out, &why) > 0);
	assert_string_equal(out, "xn--fiq02ib9d179b.xn--fiqs8s");
	assert_true(gk_feed_domain_normalise("BÜCHER.de", 10, out, &why) > 0);
	assert_string_equal(out, "xn--bcher-kva.de");
	assert_int_equal(gk_feed_domain_normalise("a..b", 4, out, &why), GK_EINVAL);
	assert_int_equal(gk_feed_domain_normalise("-a.cn", 5, out, &why), GK_EINVAL);
	assert_int_equal(gk_feed_domain_normalise("a_b.cn", 6, out, &why), GK_EINVAL);
	assert_int_equal(gk_feed_domain_normalise(".", 1, out, &why), GK_EINVAL);
	assert_int_equal(gk_feed_domain_normalise("", 0, out, &why), GK_EINVAL);
	char lng[80];
	memset(lng, 'a', 64);
	memcpy(lng + 64, ".cn", 4);
	assert_int_equal(gk_feed_domain_normalise(lng, 67, out, &why), GK_EINVAL);
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
	/* canonical record: sorted keys, no domain */
	assert_null(strstr(f->recs[0].record, "domain"));
	assert_true(strncmp(f->recs[0].record, "{\"licence\":", 11) == 0);
	assert_int_equal(f->n_providers, 2);
	assert_string_equal(f->providers[0], "阿里云");
	assert_int_equal(f->recs[0].provider, 1);
	assert_int_equal(f->recs[1].provider, 1);
	assert_int_equal(f->recs[2].provider, 2);
	gk_feed_free(f);
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
	gk_feed_free(f);
	gk_feed_kind_t k;
	uint64_t s, b;
	assert_int_equal(gk_feed_peek_header("t", t, strlen(t), &k, &s, &b, err, sizeof(err)), 0);
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
	assert_int_equal(gk_feed_parse("t", t, o, psl, 1, 0, &f, e1, sizeof(e1)), GK_ESYNTAX);
	assert_int_equal(gk_feed_parse("t", t, o, psl, 4, 0, &f, e4, sizeof(e4)), GK_ESYNTAX);
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
	assert_int_equal(gk_feed_parse("t", t, o, psl, 1, 0, &a, e1, sizeof(e1)), 0);
	assert_int_equal(gk_feed_parse("t", t, o, psl, 3, 0, &b, e1, sizeof(e1)), 0);
	assert_int_equal(a->n, b->n);
	assert_int_equal(a->n_providers, 7);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(a->recs[i].domain, b->recs[i].domain);
		assert_string_equal(a->recs[i].record, b->recs[i].record);
		assert_int_equal(a->recs[i].provider, b->recs[i].provider);
	}
	gk_feed_free(a);
	gk_feed_free(b);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_normalise),          cmocka_unit_test(test_snapshot_ok),
	    cmocka_unit_test(test_delta_ok),           cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_threads_same_error),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
