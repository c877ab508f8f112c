/* SPDX-License-Identifier: MIT */
/* tests/unit/ctl/test_report.c -- gkctl report without Redis: date parsing and day
 * arithmetic (China Standard Time), and every renderer on a synthetic report: exact CSV,
 * JSON that parses back with the same figures, the notice table's rows and total, and an
 * HTML page with no external resource whose tables carry the same numbers; the
 * revoked-and-also-unfiled check.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ctl/report.h"
#include "ctl/report_internal.h"

static void test_dates(void **state)
{
	(void)state;
	uint32_t d;
	assert_int_equal(gk_ctl_report_parse_date("2026-11-29", &d), 0);
	assert_int_equal(d, 20261129);
	assert_int_equal(gk_ctl_report_parse_date("20240229", &d), 0);
	assert_int_equal(d, 20240229);
	assert_int_equal(gk_ctl_report_parse_date("2026-02-29", &d), GK_EINVAL);
	assert_int_equal(gk_ctl_report_parse_date("2026-13-01", &d), GK_EINVAL);
	assert_int_equal(gk_ctl_report_parse_date("2026-1-01", &d), GK_EINVAL);
	assert_int_equal(gk_ctl_report_parse_date("2026-11-29x", &d), GK_EINVAL);
	assert_int_equal(gk_ctl_report_parse_date("", &d), GK_EINVAL);
	assert_int_equal(gk_ctl_report_next_day(20261130), 20261201);
	assert_int_equal(gk_ctl_report_next_day(20261231), 20270101);
	assert_int_equal(gk_ctl_report_next_day(20240228), 20240229);
	/* 2026-11-30 00:00 CST = 2026-11-29T16:00:00Z */
	assert_int_equal(gk_ctl_report_day_start(20261130), 1795968000);
	assert_int_equal(gk_disc_day(gk_ctl_report_day_start(20261130)), 20261130);
	assert_int_equal(gk_disc_day(gk_ctl_report_day_start(20261130) - 1), 20261129);
}

/* noinline: gcc 12 -O3 otherwise takes buf for a pointer into this frame (dangling-pointer) */
__attribute__((noinline)) static char *render(const gk_report_t *r, enum gk_report_format f)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	assert_non_null(o);
	assert_int_equal(gk_ctl_report_write(r, f, o), 0);
	fclose(o);
	return buf;
}

/* two days; unfiled: a.cn (handled, provider 1), b.cn, c"d.cn (unhandled, unknown);
 * revoked: r.cn (provider 2) */
static gk_report_t *synthetic(void)
{
	gk_report_t *r = calloc(1, sizeof(*r));
	r->from = 20261128;
	r->to = 20261129;
	r->generated = 1795950000;
	r->filed = 98;
	r->n_strings = 2;
	r->strings = calloc(2, sizeof(char *));
	r->string_ids = calloc(2, sizeof(uint32_t));
	r->strings[0] = strdup("示例云计算有限公司");
	r->string_ids[0] = 1;
	r->strings[1] = strdup("Other, Inc.");
	r->string_ids[1] = 2;
	r->n_unfiled = 3;
	r->unfiled = calloc(3, sizeof(*r->unfiled));
	r->unfiled[0] = (gk_report_domain_t){.name = strdup("b.cn"),
	                                     .queries = 30,
	                                     .first = 1795800000,
	                                     .last = 1795900000,
	                                     .first_day = 20261128,
	                                     .status = GK_REPORT_UNFILED};
	r->unfiled[1] = (gk_report_domain_t){.name = strdup("a.cn"),
	                                     .queries = 20,
	                                     .first = 1795800000,
	                                     .last = 1795800100,
	                                     .first_day = 20261128,
	                                     .status = GK_REPORT_FILED,
	                                     .provider = 1,
	                                     .provider_name = r->strings[0]};
	snprintf(r->unfiled[1].licence, sizeof(r->unfiled[1].licence), "京ICP备12345678号-1");
	r->unfiled[2] = (gk_report_domain_t){.name = strdup("c\"d.cn"),
	                                     .queries = 1,
	                                     .first = 1795900000,
	                                     .last = 1795900000,
	                                     .first_day = 20261129,
	                                     .status = GK_REPORT_UNFILED};
	r->n_revoked = 1;
	r->revoked = calloc(1, sizeof(*r->revoked));
	r->revoked[0] = (gk_report_domain_t){.name = strdup("r.cn"),
	                                     .queries = 5,
	                                     .first = 1795800000,
	                                     .last = 1795800000,
	                                     .first_day = 20261128,
	                                     .status = GK_REPORT_REVOKED,
	                                     .provider = 2,
	                                     .provider_name = r->strings[1]};
	r->handled = 1;
	r->unhandled = 2;
	r->rate = 98.0 / 100.0;
	r->n_days = 2;
	r->days = calloc(2, sizeof(*r->days));
	r->days[0] = (gk_report_day_t){.day = 20261128,
	                               .queries = 100,
	                               .resolved = 45,
	                               .refused = {50, 5},
	                               .new_unhandled = 1,
	                               .rate_through = 98.0 / 99.0};
	r->days[1] = (gk_report_day_t){.day = 20261129,
	                               .queries = 10,
	                               .resolved = 9,
	                               .refused = {1},
	                               .new_unhandled = 1,
	                               .rate_through = 0.98};
	r->total = (gk_report_day_t){
	    .queries = 110, .resolved = 54, .refused = {51, 5}, .new_unhandled = 2};
	r->n_providers = 3;
	r->providers = calloc(3, sizeof(*r->providers));
	r->providers[0] = (gk_report_provider_t){r->strings[0], 1, 0};
	r->providers[1] = (gk_report_provider_t){r->strings[1], 1, 1};
	r->providers[2] = (gk_report_provider_t){NULL, 2, 2};
	return r;
}

static void test_csv(void **state)
{
	(void)state;
	gk_report_t *r = synthetic();
	char *s = render(r, GK_REPORT_CSV);
	assert_string_equal(
	    s,
	    "list,domain,queries,first_seen,last_seen,status,handled,provider_id,provider,licence,"
	    "addresses,attributed,attribution,ips,check\n"
	    "unfiled,b.cn,30,2026-11-28T01:20:00+08:00,2026-11-29T05:06:40+08:00,unfiled,no,0,,,,,"
	    "not served,,\n"
	    "unfiled,a.cn,20,2026-11-28T01:20:00+08:00,2026-11-28T01:21:40+08:00,filed,yes,1,"
	    "示例云计算有限公司,京ICP备12345678号-1,,,not served,,\n"
	    "unfiled,\"c\"\"d.cn\",1,2026-11-29T05:06:40+08:00,2026-11-29T05:06:40+08:00,"
	    "unfiled,no,0,,,,,not served,,\n"
	    "revoked,r.cn,5,2026-11-28T01:20:00+08:00,2026-11-28T01:20:00+08:00,revoked,no,2,"
	    "\"Other, Inc.\",,,,not served,,\n");
	free(s);
	gk_ctl_report_free(r);
}

static void test_json(void **state)
{
	(void)state;
	gk_report_t *r = synthetic();
	char *s = render(r, GK_REPORT_JSON);
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);
	assert_non_null(j);
	json_t *sum = json_object_get(j, "summary");
	assert_int_equal(json_integer_value(json_object_get(sum, "filed")), 98);
	assert_int_equal(json_integer_value(json_object_get(sum, "discovered_unfiled")), 3);
	assert_int_equal(json_integer_value(json_object_get(sum, "handled")), 1);
	assert_int_equal(json_integer_value(json_object_get(sum, "unhandled")), 2);
	assert_int_equal(json_integer_value(json_object_get(sum, "revoked_queried")), 1);
	assert_true(json_real_value(json_object_get(sum, "filing_rate")) == 0.98);
	json_t *u = json_object_get(j, "unfiled");
	assert_int_equal(json_array_size(u), 3);
	assert_string_equal(json_string_value(json_object_get(json_array_get(u, 2), "domain")),
	                    "c\"d.cn");
	assert_true(json_is_true(json_object_get(json_array_get(u, 1), "handled")));
	json_t *days = json_object_get(j, "days");
	assert_int_equal(json_array_size(days), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_object_get(json_array_get(days, 0), "refused"), "unfiled")),
	                 50);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(j, "totals"), "refused_total")), 56);
	json_decref(j);
	free(s);
	gk_ctl_report_free(r);
}

/* xlsx is a file only: gk_ctl_report_write refuses it; an unwritable path is an error naming it;
 * a written workbook is a zip (Office Open XML). openpyxl reads it back in
 * integration_discovery. */
static void test_xlsx(void **state)
{
	(void)state;
	gk_report_t *r = synthetic();
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);
	assert_non_null(o);
	assert_int_equal(gk_ctl_report_write(r, GK_REPORT_XLSX, o), GK_EINVAL);
	fclose(o);
	free(buf);
	char err[256] = "";
	assert_int_equal(gk_ctl_report_write_xlsx(r, "/nonexistent-dir/r.xlsx", err, sizeof(err)),
	                 GK_EIO);
	assert_non_null(strstr(err, "/nonexistent-dir/r.xlsx"));
	char path[] = "/tmp/gk-test-report-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(gk_ctl_report_write_xlsx(r, path, err, sizeof(err)), 0);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char magic[4] = {0};
	assert_int_equal(fread(magic, 1, 4, f), 4);
	fclose(f);
	unlink(path);
	assert_memory_equal(magic, "PK\x03\x04", 4);
	gk_ctl_report_free(r);
}

static void test_notice_table_html(void **state)
{
	(void)state;
	gk_report_t *r = synthetic();
	char *s = render(r, GK_REPORT_NOTICE);
	assert_non_null(strstr(s, "统计期间：2026-11-28 至 2026-11-29"));
	assert_non_null(
	    strstr(s, "\n1       示例云计算有限公司                   1             0\n"));
	assert_non_null(strstr(s, "（未知）"));
	const char *tot = strstr(s, "合计");
	assert_non_null(tot);
	unsigned a, u;
	assert_int_equal(sscanf(tot + strlen("合计"), " %u %u", &a, &u), 2);
	assert_int_equal(a, 4);
	assert_int_equal(u, 3);
	free(s);

	s = render(r, GK_REPORT_TABLE);
	assert_non_null(strstr(s, "filing rate 98.00% = filed 98 / (filed 98 + unhandled 2)"));
	free(s);

	s = render(r, GK_REPORT_HTML);
	assert_non_null(strstr(s, "<svg id=\"chart-refusals\""));
	assert_non_null(strstr(s, "<svg id=\"chart-top\""));
	assert_non_null(strstr(s, "<svg id=\"chart-rate\""));
	assert_non_null(strstr(s, "<td class=\"domain\">c&quot;d.cn</td>"));
	assert_non_null(strstr(s, "id=\"filing-rate\" data-v=\"0.9800000000\">98.00%"));
	/* the browser check's sums are in the DOM for tests, not shown to the reader */
	assert_non_null(strstr(s, "<p id=\"check\" hidden>"));
	/* self-contained: nothing fetched */
	assert_null(strstr(s, "src=\"http"));
	assert_null(strstr(s, "href=\"http"));
	assert_null(strstr(s, "@import"));
	free(s);
	gk_ctl_report_free(r);
}

/* a day with no query counted has no filing-rate point (it used to show 100%) */
static void test_rate_chart_skips_empty_days(void **state)
{
	(void)state;
	gk_report_t *r = synthetic();
	gk_report_day_t *d = realloc(r->days, 3 * sizeof(*d));
	assert_non_null(d);
	r->days = d;
	d[2] = d[1];
	d[2].day = 20261130;
	d[1] = (gk_report_day_t){.day = 20261129, .rate_through = 1.0};
	r->n_days = 3;
	r->to = 20261130;
	char *s = render(r, GK_REPORT_HTML);
	const char *chart = strstr(s, "<svg id=\"chart-rate\"");
	assert_non_null(chart);
	const char *end = strstr(chart, "</svg>");
	assert_non_null(end);
	char *c = strndup(chart, (size_t)(end - chart));
	assert_non_null(strstr(c, "data-date=\"2026-11-28\""));
	assert_non_null(strstr(c, "data-date=\"2026-11-30\""));
	assert_null(strstr(c, "data-date=\"2026-11-29\""));
	assert_null(strstr(c, "data-rate=\"1.000000\""));
	/* two runs of days with data: two lines, none through the empty day */
	const char *p1 = strstr(c, "<polyline");
	assert_non_null(p1);
	assert_non_null(strstr(p1 + 1, "<polyline"));
	free(c);
	free(s);
	gk_ctl_report_free(r);
}

/* round y ticks (0 20 40 60 for a highest day of 55, not 55 and 27) and axis titles */
static void test_chart_axes(void **state)
{
	(void)state;
	gk_report_t *r = synthetic();
	char *s = render(r, GK_REPORT_HTML);
	const char *chart = strstr(s, "<svg id=\"chart-refusals\"");
	assert_non_null(chart);
	char *c = strndup(chart, (size_t)(strstr(chart, "</svg>") - chart));
	const char *want[] = {"class=\"ax tick\">0<", "class=\"ax tick\">20<",
	                      "class=\"ax tick\">40<", "class=\"ax tick\">60<"};
	for (size_t i = 0; i < 4; i++)
		assert_non_null(strstr(c, want[i]));
	assert_null(strstr(c, "class=\"ax tick\">80<"));
	assert_null(strstr(c, ">27<"));
	assert_null(strstr(c, ">55<"));
	assert_non_null(strstr(c, ">refused queries per day</text>"));
	assert_non_null(strstr(c, ">date (China Standard Time)</text>"));
	free(c);
	chart = strstr(s, "<svg id=\"chart-rate\"");
	assert_non_null(chart);
	assert_non_null(strstr(chart, ">filing rate</text>"));
	/* timestamps do not wrap in a wide table: it scrolls instead */
	assert_non_null(
	    strstr(s, "td.first,td.last,td.date,td.licence,td.num{white-space:nowrap}"));
	assert_non_null(strstr(s, "table{display:block;max-width:100%;overflow-x:auto}"));
	free(s);
	gk_ctl_report_free(r);
}

/* also_unfiled: a revoked domain also in the unfiled list (by exact name) is marked, every
 * other one is not; a flag left over from before is reset. 20,000 of each (half shared)
 * checks the string-map path past its growth, with the answer known for each entry. */
static void test_also_unfiled(void **state)
{
	(void)state;
	enum { N = 20000 };
	gk_report_domain_t *unf = calloc(N, sizeof(*unf)), *rev = calloc(N + 2, sizeof(*rev));
	assert_non_null(unf);
	assert_non_null(rev);
	char buf[32];
	for (size_t i = 0; i < N; i++) {
		snprintf(buf, sizeof(buf), "u%zu.cn", i);
		unf[i].name = strdup(buf);
		/* revoked: the even ones are unfiled too (u<i>.cn), the odd ones are not */
		snprintf(buf, sizeof(buf), i % 2 ? "r%zu.cn" : "u%zu.cn", i);
		rev[i].name = strdup(buf);
		rev[i].also_unfiled = i % 2; /* stale: must be reset */
	}
	rev[N].name = strdup("U0.cn"); /* names compare exactly (already lower-cased) */
	rev[N + 1].name = strdup("u0.cn.");
	assert_int_equal(gk_ctl_report_mark_also_unfiled(unf, N, rev, N + 2), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(rev[i].also_unfiled, i % 2 == 0);
	assert_false(rev[N].also_unfiled);
	assert_false(rev[N + 1].also_unfiled);
	/* no unfiled list: nothing is marked */
	assert_int_equal(gk_ctl_report_mark_also_unfiled(NULL, 0, rev, N + 2), 0);
	for (size_t i = 0; i < N + 2; i++)
		assert_false(rev[i].also_unfiled);
	for (size_t i = 0; i < N; i++)
		free(unf[i].name);
	for (size_t i = 0; i < N + 2; i++)
		free(rev[i].name);
	free(unf);
	free(rev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_dates),      cmocka_unit_test(test_csv),
	    cmocka_unit_test(test_json),       cmocka_unit_test(test_notice_table_html),
	    cmocka_unit_test(test_xlsx),       cmocka_unit_test(test_rate_chart_skips_empty_days),
	    cmocka_unit_test(test_chart_axes), cmocka_unit_test(test_also_unfiled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
