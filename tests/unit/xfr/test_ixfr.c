/* SPDX-License-Identifier: MIT */
/* tests/unit/xfr/test_ixfr.c -- the answer checker on IXFR answers (two difference
 * sequences, a full-zone answer, an up-to-date answer) and their application to a zone's
 * text; a deletion of a record the zone lacks must fail (the caller falls back to AXFR).
 * Prints the cost of one IXFR applied to zones of 20 and 10,000 records (docs/SECONDARY.md).
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
#include "xfr/internal.h"

/* An answer message for zone z with these records (presentation form, one per string). */
static size_t msg(uint16_t id, const char *z, ldns_rr_type qt, const char **rrs, size_t n,
                  uint8_t *out)
{
	ldns_rdf *name = NULL;
	assert_int_equal(ldns_str2rdf_dname(&name, z), LDNS_STATUS_OK);
	ldns_pkt *p = ldns_pkt_query_new(name, qt, LDNS_RR_CLASS_IN, 0);
	ldns_pkt_set_id(p, id);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_aa(p, true);
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, rrs[i], 300, NULL, NULL), LDNS_STATUS_OK);
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER, rr);
	}
	uint8_t *w = NULL;
	size_t wl = 0;
	assert_int_equal(ldns_pkt2wire(&w, p, &wl), LDNS_STATUS_OK);
	memcpy(out, w, wl);
	free(w);
	ldns_pkt_free(p);
	return wl;
}

#define SOA(s) "z.cn. 300 IN SOA ns.z.cn. h.z.cn. " #s " 3600 900 604800 300"

static const char cur[] = "; header\n" SOA(1) "\n"
                                              "z.cn. 300 IN NS ns.z.cn.\n"
                                              "ns.z.cn. 300 IN A 192.0.2.1\n"
                                              "a.z.cn. 300 IN A 192.0.2.2\n"
                                              "b.z.cn. 300 IN A 192.0.2.3\n";

static const gk_xfr_limits_t lim = {.max_bytes = 1 << 20, .max_rrs = 100000};

static void test_two_sequences(void **state)
{
	(void)state;
	/* 1 -> 2: a deleted, c added; 2 -> 3: b's address changed */
	const char *r1[] = {SOA(3), SOA(1), "a.z.cn. 300 IN A 192.0.2.2", SOA(2),
	                    "c.z.cn. 300 IN A 192.0.2.4"};
	const char *r2[] = {SOA(2), "b.z.cn. 300 IN A 192.0.2.3", SOA(3),
	                    "b.z.cn. 300 IN A 192.0.2.33", SOA(3)};
	uint8_t m[4096];
	gk_xfr_stream_t s;
	assert_int_equal(gk_xfr_stream_init(&s, "z.cn", GK_XFR_IXFR, 1, 7, &lim, NULL), 0);
	assert_int_equal(gk_xfr_stream_feed(&s, m, msg(7, "z.cn", LDNS_RR_TYPE_IXFR, r1, 5, m), 0),
	                 GK_XFR_MORE);
	/* a later message without the question is fine */
	size_t l = msg(7, "z.cn", LDNS_RR_TYPE_IXFR, r2, 5, m);
	assert_int_equal(gk_xfr_stream_feed(&s, m, l, 0), GK_XFR_DONE);
	assert_true(s.incremental);
	assert_int_equal(s.ndiff, 2);
	ldns_rr_list *z = NULL;
	char err[256];
	assert_int_equal(gk_xfr_zone_parse(cur, sizeof(cur) - 1, &z, err, sizeof err), 0);
	assert_int_equal(gk_xfr_apply(z, &s, err, sizeof err), 0);
	char *t = NULL;
	size_t tl = 0;
	assert_int_equal(gk_xfr_zone_text(z, NULL, &t, &tl), 0);
	assert_non_null(strstr(t, " 3 3600 "));
	assert_null(strstr(t, "a.z.cn."));
	assert_non_null(strstr(t, "c.z.cn.\t300\tIN\tA\t192.0.2.4"));
	assert_non_null(strstr(t, "192.0.2.33"));
	assert_null(strstr(t, "192.0.2.3\n"));
	free(t);
	ldns_rr_list_deep_free(z);

	/* our data lacks what the primary deletes: not applied */
	static const char other[] = SOA(1) "\nz.cn. 300 IN NS ns.z.cn.\n";
	assert_int_equal(gk_xfr_zone_parse(other, sizeof(other) - 1, &z, err, sizeof err), 0);
	assert_int_equal(gk_xfr_apply(z, &s, err, sizeof err), GK_EZONE);
	assert_non_null(strstr(err, "lacks"));
	ldns_rr_list_deep_free(z);
	gk_xfr_stream_free(&s);
}

static void test_full_and_uptodate(void **state)
{
	(void)state;
	uint8_t m[4096];
	gk_xfr_stream_t s;
	const char *full[] = {SOA(5), "z.cn. 300 IN NS ns.z.cn.", "ns.z.cn. 300 IN A 192.0.2.1",
	                      SOA(5)};
	assert_int_equal(gk_xfr_stream_init(&s, "z.cn", GK_XFR_IXFR, 1, 9, &lim, NULL), 0);
	assert_int_equal(
	    gk_xfr_stream_feed(&s, m, msg(9, "z.cn", LDNS_RR_TYPE_IXFR, full, 4, m), 0),
	    GK_XFR_DONE);
	assert_false(s.incremental);
	assert_int_equal(ldns_rr_list_rr_count(s.zone), 3);
	gk_xfr_stream_free(&s);
	const char *one[] = {SOA(1)};
	assert_int_equal(gk_xfr_stream_init(&s, "z.cn", GK_XFR_IXFR, 1, 9, &lim, NULL), 0);
	assert_int_equal(gk_xfr_stream_feed(&s, m, msg(9, "z.cn", LDNS_RR_TYPE_IXFR, one, 1, m), 0),
	                 GK_XFR_UPTODATE);
	gk_xfr_stream_free(&s);
	/* differences from a serial we do not hold */
	const char *wrong[] = {SOA(3), SOA(2), SOA(3), SOA(3)};
	assert_int_equal(gk_xfr_stream_init(&s, "z.cn", GK_XFR_IXFR, 1, 9, &lim, NULL), 0);
	assert_int_equal(
	    gk_xfr_stream_feed(&s, m, msg(9, "z.cn", LDNS_RR_TYPE_IXFR, wrong, 4, m), 0),
	    GK_XFR_ERROR);
	assert_non_null(strstr(s.err, "serial 2"));
	gk_xfr_stream_free(&s);
	/* RFC 1982 */
	assert_true(gk_xfr_serial_gt(1, 0xffffffffu));
	assert_false(gk_xfr_serial_gt(0xffffffffu, 1));
	assert_true(gk_xfr_serial_gt(0x7fffffffu, 0));
	assert_false(gk_xfr_serial_gt(5, 5));
}

/* One changed record applied to a zone of n records: parse, apply, print. */
static double apply_ms(size_t n)
{
	char *text = NULL;
	size_t tl = 0;
	FILE *f = open_memstream(&text, &tl);
	fprintf(f, "%s\n", SOA(1));
	for (size_t i = 0; i < n; i++)
		fprintf(f, "h%zu.z.cn.\t300\tIN\tA\t198.51.100.%zu\n", i, i % 250 + 1);
	fclose(f);
	char r[64];
	snprintf(r, sizeof r, "h%zu.z.cn. 300 IN A 198.51.100.%zu", n / 2, n / 2 % 250 + 1);
	const char *d[] = {SOA(2), SOA(1), r, SOA(2), "new.z.cn. 300 IN A 192.0.2.9", SOA(2)};
	uint8_t m[4096];
	gk_xfr_stream_t s;
	assert_int_equal(gk_xfr_stream_init(&s, "z.cn", GK_XFR_IXFR, 1, 1, &lim, NULL), 0);
	assert_int_equal(gk_xfr_stream_feed(&s, m, msg(1, "z.cn", LDNS_RR_TYPE_IXFR, d, 6, m), 0),
	                 GK_XFR_DONE);
	struct timespec a, b;
	clock_gettime(CLOCK_MONOTONIC, &a);
	ldns_rr_list *z = NULL;
	char err[256], *out = NULL;
	size_t ol = 0;
	assert_int_equal(gk_xfr_zone_parse(text, tl, &z, err, sizeof err), 0);
	assert_int_equal(gk_xfr_apply(z, &s, err, sizeof err), 0);
	assert_int_equal(gk_xfr_zone_text(z, NULL, &out, &ol), 0);
	clock_gettime(CLOCK_MONOTONIC, &b);
	assert_int_equal(ldns_rr_list_rr_count(z), n + 1);
	free(out);
	free(text);
	ldns_rr_list_deep_free(z);
	gk_xfr_stream_free(&s);
	return (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
}

static void test_apply_cost(void **state)
{
	(void)state;
	printf("IXFR applied to the zone's text: 20 records %.3f ms, 10000 records %.1f ms\n",
	       apply_ms(20), apply_ms(10000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_two_sequences),
	    cmocka_unit_test(test_full_and_uptodate),
	    cmocka_unit_test(test_apply_cost),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
