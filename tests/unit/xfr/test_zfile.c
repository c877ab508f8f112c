/* SPDX-License-Identifier: MIT */
/* tests/unit/xfr/test_zfile.c -- the secondary's persisted zone files (src/xfr/zfile.h): a
 * zone written and read back gives the same header and records, and builds the same zone as
 * its text; every truncation, every flipped octet, another version, an old text file, another
 * zone's file and a header that disagrees with its SOA are refused with a message saying so;
 * a zone of more than 64 KiB of records comes back whole.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/internal.h"
#include "xfr/zfile.h"
#include "zone/zone.h"

static const char text[] = "z.cn.\t300\tIN\tSOA\tns.z.cn. h.z.cn. 7 3600 900 604800 300\n"
                           "z.cn.\t300\tIN\tNS\tns.z.cn.\n"
                           "ns.z.cn.\t300\tIN\tA\t192.0.2.1\n"
                           "www.z.cn.\t60\tIN\tCNAME\tns.z.cn.\n"
                           "z.cn.\t300\tIN\tMX\t10 mail.example.\n"
                           "t.z.cn.\t300\tIN\tTXT\t\"hello world\"\n";

/* text's records in wire form, and the file for them */
static uint8_t *make(size_t *wl, size_t *count, size_t *flen, uint32_t serial_in_header)
{
	ldns_rr_list *l = NULL;
	char err[256];
	assert_int_equal(gk_xfr_zone_parse(text, sizeof(text) - 1, &l, err, sizeof err), 0);
	uint8_t *w = NULL;
	assert_int_equal(gk_xfr_zone_wire(l, &w, wl), 0);
	*count = ldns_rr_list_rr_count(l);
	ldns_rr_list_deep_free(l);
	gk_xfr_zfile_t zf = {.refreshed = 1700000000,
	                     .serial = serial_in_header,
	                     .refresh = 3600,
	                     .retry = 900,
	                     .expire = 604800,
	                     .name = "Z.cn.",
	                     .primary = "192.0.2.53@53",
	                     .rrs = w,
	                     .rrs_len = *wl,
	                     .count = (uint32_t)*count};
	uint8_t *f = NULL;
	assert_int_equal(gk_xfr_zfile_encode(&zf, &f, flen), 0);
	free(w);
	return f;
}

static void test_round_trip(void **state)
{
	(void)state;
	size_t wl, count, flen;
	uint8_t *f = make(&wl, &count, &flen, 7);
	gk_xfr_zfile_t zf;
	char err[256];
	assert_int_equal(gk_xfr_zfile_decode(f, flen, "z.cn", &zf, err, sizeof err), 0);
	assert_int_equal(zf.serial, 7);
	assert_int_equal(zf.refresh, 3600);
	assert_int_equal(zf.retry, 900);
	assert_int_equal(zf.expire, 604800);
	assert_int_equal(zf.refreshed, 1700000000);
	assert_int_equal(zf.count, 6);
	assert_int_equal(zf.rrs_len, wl);
	assert_int_equal(zf.name_len, 4);
	assert_memory_equal(zf.name, "z.cn", 4);
	assert_memory_equal(zf.primary, "192.0.2.53@53", zf.primary_len);
	/* the records read back as the same text */
	ldns_rr_list *l = NULL;
	assert_int_equal(gk_xfr_wire_parse(zf.rrs, zf.rrs_len, zf.count, &l, err, sizeof err), 0);
	char *t = NULL;
	size_t tl = 0;
	assert_int_equal(gk_xfr_zone_text(l, NULL, &t, &tl), 0);
	assert_int_equal(tl, sizeof(text) - 1);
	assert_memory_equal(t, text, tl);
	free(t);
	ldns_rr_list_deep_free(l);
	/* and build the same zone as the text does, without text parsing */
	gk_zone_spec_t ws = {.name = "z.cn",
	                     .wire = zf.rrs,
	                     .wire_len = zf.rrs_len,
	                     .wire_count = zf.count,
	                     .secondary = true};
	gk_zone_spec_t ts = {.name = "z.cn", .text = text, .text_len = sizeof(text) - 1};
	gk_zver_t *wv = NULL, *tv = NULL;
	assert_int_equal(gk_zone_ver_build(&ws, NULL, &wv, err, sizeof err), 0);
	assert_int_equal(gk_zone_ver_build(&ts, NULL, &tv, err, sizeof err), 0);
	assert_int_equal(gk_zone_ver_rr_count(wv), gk_zone_ver_rr_count(tv));
	assert_int_equal(gk_zone_ver_serial(wv), 7);
	gk_zone_ver_free(wv);
	gk_zone_ver_free(tv);
	/* the records cut short, or one too few, do not build */
	ws.wire_count = zf.count + 1;
	assert_int_not_equal(gk_zone_ver_build(&ws, NULL, &wv, err, sizeof err), 0);
	assert_non_null(strstr(err, ":7:"));
	ws.wire_count = zf.count - 1;
	assert_int_not_equal(gk_zone_ver_build(&ws, NULL, &wv, err, sizeof err), 0);
	assert_non_null(strstr(err, "after the last record"));
	free(f);
}

static void test_truncated_and_corrupt(void **state)
{
	(void)state;
	size_t wl, count, flen;
	uint8_t *f = make(&wl, &count, &flen, 7);
	gk_xfr_zfile_t zf;
	char err[256];
	for (size_t n = 0; n < flen; n++) {
		err[0] = 0;
		assert_int_not_equal(gk_xfr_zfile_decode(f, n, "z.cn", &zf, err, sizeof err), 0);
		assert_true(n < 8 ? strstr(err, "magic") != NULL
		                  : strstr(err, "truncated") != NULL);
	}
	/* one bit flipped anywhere: refused (the magic, the version, the sizes or the CRC) */
	for (size_t i = 0; i < flen; i++)
		for (int bit = 0; bit < 8; bit += 3) {
			f[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(
			    gk_xfr_zfile_decode(f, flen, "z.cn", &zf, err, sizeof err), 0);
			f[i] ^= (uint8_t)(1u << bit);
		}
	f[flen - 1] ^= 0x40;
	assert_int_equal(gk_xfr_zfile_decode(f, flen, "z.cn", &zf, err, sizeof err), GK_ESYNTAX);
	assert_non_null(strstr(err, "checksum"));
	f[flen - 1] ^= 0x40;
	/* a longer file than the header says */
	uint8_t *g = malloc(flen + 1);
	memcpy(g, f, flen);
	g[flen] = 0;
	assert_int_equal(gk_xfr_zfile_decode(g, flen + 1, "z.cn", &zf, err, sizeof err),
	                 GK_ESYNTAX);
	assert_non_null(strstr(err, "size mismatch"));
	free(g);
	free(f);
}

static void test_versions_and_names(void **state)
{
	(void)state;
	size_t wl, count, flen;
	uint8_t *f = make(&wl, &count, &flen, 7);
	gk_xfr_zfile_t zf;
	char err[256];
	/* another zone's file */
	assert_int_equal(gk_xfr_zfile_decode(f, flen, "y.cn", &zf, err, sizeof err), GK_ESYNTAX);
	assert_non_null(strstr(err, "holds zone 'z.cn'"));
	assert_int_equal(gk_xfr_zfile_decode(f, flen, "Z.CN.", &zf, err, sizeof err), 0);
	/* a later format version (its CRC made right: the version alone is wrong) */
	f[11] = 2;
	uint32_t c = gk_xfr_crc32c(0, f, 56);
	c = gk_xfr_crc32c(c, "\0\0\0\0", 4);
	c = gk_xfr_crc32c(c, f + 60, flen - 60);
	f[56] = (uint8_t)(c >> 24), f[57] = (uint8_t)(c >> 16), f[58] = (uint8_t)(c >> 8),
	f[59] = (uint8_t)c;
	assert_int_equal(gk_xfr_zfile_decode(f, flen, "z.cn", &zf, err, sizeof err), GK_ERANGE);
	assert_non_null(strstr(err, "format version 2"));
	free(f);
	/* the text files of the previous version */
	static const char old[] = "; gatekeeper secondary zone z.cn refreshed 1 from x soa 7 1 1 "
	                          "1\nz.cn. 300 IN SOA ns.z.cn. h.z.cn. 7 1 1 1 1\n";
	assert_int_equal(gk_xfr_zfile_decode((const uint8_t *)old, sizeof(old) - 1, "z.cn", &zf,
	                                     err, sizeof err),
	                 GK_ERANGE);
	assert_non_null(strstr(err, "older version"));
	/* a header whose serial is not the SOA's (a consistent CRC: written wrong) */
	f = make(&wl, &count, &flen, 8);
	assert_int_equal(gk_xfr_zfile_decode(f, flen, "z.cn", &zf, err, sizeof err), GK_ESYNTAX);
	assert_non_null(strstr(err, "SOA record disagrees"));
	free(f);
	/* CRC-32C check value (RFC 3720 B.4: 32 octets of zeros) */
	uint8_t z32[32] = {0};
	assert_int_equal(gk_xfr_crc32c(0, z32, 32), 0x8a9136aau);
	assert_int_equal(gk_xfr_crc32c(0, "123456789", 9), 0xe3069283u);
}

/* Records past 64 KiB in all (ldns keeps a buffer's RDLENGTH position in 16 bits: written
 * into one buffer, later records' lengths landed on earlier records). */
static void test_large_zone(void **state)
{
	(void)state;
	ldns_rr_list *l = NULL;
	char err[256];
	assert_int_equal(gk_xfr_zone_parse(text, sizeof(text) - 1, &l, err, sizeof err), 0);
	for (int i = 0; i < 3000; i++) {
		char line[200];
		snprintf(line, sizeof line, "r%d.z.cn. 300 IN PTR target-%d.example.", i, i);
		ldns_rr *rr = NULL;
		assert_int_equal(ldns_rr_new_frm_str(&rr, line, 0, NULL, NULL), LDNS_STATUS_OK);
		assert_true(ldns_rr_list_push_rr(l, rr));
	}
	uint8_t *w = NULL;
	size_t wl = 0;
	assert_int_equal(gk_xfr_zone_wire(l, &w, &wl), 0);
	assert_true(wl > 65536 * 1.5);
	ldns_rr_list *back = NULL;
	assert_int_equal(gk_xfr_wire_parse(w, wl, ldns_rr_list_rr_count(l), &back, err, sizeof err),
	                 0);
	assert_int_equal(ldns_rr_list_rr_count(back), ldns_rr_list_rr_count(l));
	for (size_t i = 0; i < ldns_rr_list_rr_count(l); i++)
		assert_int_equal(ldns_rr_compare(ldns_rr_list_rr(l, i), ldns_rr_list_rr(back, i)),
		                 0);
	ldns_rr_list_deep_free(back);
	ldns_rr_list_deep_free(l);
	free(w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_truncated_and_corrupt),
	    cmocka_unit_test(test_versions_and_names),
	    cmocka_unit_test(test_large_zone),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
