/* SPDX-License-Identifier: MIT */
/* tests/unit/xfr/test_catalog.c -- catalog zone interpretation (RFC 9432 version 2): the
 * version property, members and their unique IDs, the group and coo properties, a member
 * listed twice, malformed PTR and TXT sets; the ownership rule between two catalogs and the
 * differences between two interpretations of one catalog.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/catalog.h"

#define SOA "cat.example.\t0\tIN\tSOA\tinvalid. invalid. 1 3600 600 86400 0\n"
#define NS  "cat.example.\t0\tIN\tNS\tinvalid.\n"
#define V2  "version.cat.example.\t0\tIN\tTXT\t\"2\"\n"

static int nwarn;
static char lastwarn[600];
static void warn(void *ctx, const char *msg)
{
	(void)ctx;
	nwarn++;
	snprintf(lastwarn, sizeof lastwarn, "%s", msg);
}

static int interp(const char *text, gk_catalog_t *c, char *err)
{
	nwarn = 0;
	lastwarn[0] = '\0';
	return gk_xfr_catalog_interpret("Cat.Example.", text, strlen(text), c, warn, NULL, err,
	                                256);
}

static void test_members(void **st)
{
	(void)st;
	const char *t = SOA NS V2 "b1.zones.cat.example.\t0\tIN\tPTR\tZone-B.example.\n"
	                          "a1.zones.cat.example.\t0\tIN\tPTR\tzone-a.example.\n"
	                          "group.a1.zones.cat.example.\t0\tIN\tTXT\t\"fast\"\n"
	                          "coo.b1.zones.cat.example.\t0\tIN\tPTR\tother.example.\n"
	                          "ext.b1.zones.cat.example.\t0\tIN\tTXT\t\"unknown\"\n"
	                          "x.ext.cat.example.\t0\tIN\tTXT\t\"unknown\"\n";
	gk_catalog_t c;
	char err[256];
	assert_int_equal(interp(t, &c, err), 0);
	assert_int_equal(nwarn, 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.m[0].zone, "zone-a.example");
	assert_string_equal(c.m[0].id, "a1");
	assert_string_equal(c.m[0].group, "fast");
	assert_null(c.m[0].coo);
	assert_string_equal(c.m[1].zone, "zone-b.example");
	assert_null(c.m[1].group);
	assert_string_equal(c.m[1].coo, "other.example");
	assert_non_null(gk_xfr_catalog_find(&c, "zone-b.example"));
	assert_null(gk_xfr_catalog_find(&c, "zone-c.example"));
	gk_xfr_catalog_free(&c);
	/* escapes: a dot inside a label, a backslash ending the last label */
	const char *e = SOA NS V2 "e1.zones.cat.example.\t0\tIN\tPTR\ta\\.b.example.\n"
	                          "e2.zones.cat.example.\t0\tIN\tPTR\tx.b\\\\.\n";
	assert_int_equal(interp(e, &c, err), 0);
	assert_int_equal(c.n, 2);
	assert_string_equal(c.m[0].zone, "a\\.b.example");
	assert_string_equal(c.m[1].zone, "x.b\\\\");
	gk_xfr_catalog_free(&c);
}

static void test_version(void **st)
{
	(void)st;
	gk_catalog_t c;
	char err[256];
	const char *none = SOA NS "a.zones.cat.example.\t0\tIN\tPTR\tz.example.\n";
	assert_int_equal(interp(none, &c, err), GK_ESYNTAX);
	assert_non_null(strstr(err, "no version"));
	assert_int_equal(c.n, 0);
	const char *v1 = SOA NS "version.cat.example.\t0\tIN\tTXT\t\"1\"\n"
	                        "a.zones.cat.example.\t0\tIN\tPTR\tz.example.\n";
	assert_int_equal(interp(v1, &c, err), GK_ESYNTAX);
	assert_non_null(strstr(err, "\"1\" not supported"));
	const char *two = SOA NS V2 "version.cat.example.\t0\tIN\tTXT\t\"1\"\n";
	assert_int_equal(interp(two, &c, err), GK_ESYNTAX);
	assert_non_null(strstr(err, "more than one"));
	const char *multi = SOA NS "version.cat.example.\t0\tIN\tTXT\t\"2\" \"2\"\n";
	assert_int_equal(interp(multi, &c, err), GK_ESYNTAX);
	/* the version of another name does not count */
	const char *other = SOA NS "version.x.cat.example.\t0\tIN\tTXT\t\"2\"\n";
	assert_int_equal(interp(other, &c, err), GK_ESYNTAX);
	/* an empty catalog is a catalog */
	assert_int_equal(interp(SOA NS V2, &c, err), 0);
	assert_int_equal(c.n, 0);
	gk_xfr_catalog_free(&c);
	/* text that does not parse names the line */
	assert_int_equal(interp(SOA "x.cat.example. 0 IN A not-an-address\n", &c, err), GK_ESYNTAX);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(gk_xfr_catalog_interpret("bad..name", SOA, strlen(SOA), &c, NULL, NULL,
	                                          err, sizeof err),
	                 GK_EINVAL);
}

static void test_malformed(void **st)
{
	(void)st;
	gk_catalog_t c;
	char err[256];
	/* two PTRs at one ID: the ID is skipped; a PTR to the catalog itself, to a name below it
	 * or to the root: skipped; a deeper owner is an unknown property: ignored silently */
	const char *t = SOA NS V2 "a.zones.cat.example.\t0\tIN\tPTR\tz1.example.\n"
	                          "a.zones.cat.example.\t0\tIN\tPTR\tz2.example.\n"
	                          "b.zones.cat.example.\t0\tIN\tPTR\tcat.example.\n"
	                          "c.zones.cat.example.\t0\tIN\tPTR\tx.zones.cat.example.\n"
	                          "d.zones.cat.example.\t0\tIN\tPTR\t.\n"
	                          "e.zones.cat.example.\t0\tIN\tTXT\t\"z3.example\"\n"
	                          "x.y.zones.cat.example.\t0\tIN\tPTR\tz4.example.\n"
	                          "f.zones.cat.example.\t0\tIN\tPTR\tgood.example.\n"
	                          "group.f.zones.cat.example.\t0\tIN\tTXT\t\"g1\" \"g2\"\n"
	                          "coo.f.zones.cat.example.\t0\tIN\tPTR\tc1.example.\n"
	                          "coo.f.zones.cat.example.\t0\tIN\tPTR\tc2.example.\n";
	assert_int_equal(interp(t, &c, err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.m[0].zone, "good.example");
	assert_null(c.m[0].group);
	assert_null(c.m[0].coo);
	assert_int_equal(nwarn, 6); /* a, b, c, d, group.f, coo.f */
	assert_int_equal(c.skipped, 6);
	gk_xfr_catalog_free(&c);
	/* two group records: the member stays, without group */
	const char *g = SOA NS V2 "f.zones.cat.example.\t0\tIN\tPTR\tgood.example.\n"
	                          "group.f.zones.cat.example.\t0\tIN\tTXT\t\"g1\"\n"
	                          "group.f.zones.cat.example.\t0\tIN\tTXT\t\"g2\"\n";
	assert_int_equal(interp(g, &c, err), 0);
	assert_int_equal(c.n, 1);
	assert_null(c.m[0].group);
	assert_non_null(strstr(lastwarn, "group.f.zones.cat.example: group property ignored"));
	gk_xfr_catalog_free(&c);
}

static void test_duplicate(void **st)
{
	(void)st;
	gk_catalog_t c;
	char err[256];
	/* one member under two IDs: the first ID in order keeps it */
	const char *t = SOA NS V2 "zz.zones.cat.example.\t0\tIN\tPTR\tdup.example.\n"
	                          "group.zz.zones.cat.example.\t0\tIN\tTXT\t\"late\"\n"
	                          "aa.zones.cat.example.\t0\tIN\tPTR\tDUP.example.\n"
	                          "group.aa.zones.cat.example.\t0\tIN\tTXT\t\"early\"\n";
	assert_int_equal(interp(t, &c, err), 0);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.m[0].id, "aa");
	assert_string_equal(c.m[0].group, "early");
	assert_int_equal(nwarn, 1);
	assert_non_null(strstr(lastwarn, "already listed as aa"));
	gk_xfr_catalog_free(&c);
}

static void test_claim(void **st)
{
	(void)st;
	/* name clash: the first catalog keeps a member another also lists */
	assert_true(gk_xfr_catalog_may_claim("a.example", NULL, NULL));
	assert_true(gk_xfr_catalog_may_claim("a.example", "a.example", NULL));
	assert_false(gk_xfr_catalog_may_claim("b.example", "a.example", NULL));
	/* migration: unless the owner's coo names the claimant */
	assert_true(gk_xfr_catalog_may_claim("b.example", "a.example", "b.example"));
	assert_false(gk_xfr_catalog_may_claim("c.example", "a.example", "b.example"));
}

static int seen[8];
static int rec(void *ctx, gk_catalog_change_t ch, const gk_catalog_member_t *o,
               const gk_catalog_member_t *n)
{
	(void)ctx;
	(void)o;
	(void)n;
	seen[ch]++;
	return 0;
}

static void test_diff(void **st)
{
	(void)st;
	gk_catalog_t a, b;
	char err[256];
	assert_int_equal(interp(SOA NS V2 "1.zones.cat.example.\t0\tIN\tPTR\tkeep.example.\n"
	                                  "2.zones.cat.example.\t0\tIN\tPTR\tgone.example.\n"
	                                  "3.zones.cat.example.\t0\tIN\tPTR\treset.example.\n"
	                                  "4.zones.cat.example.\t0\tIN\tPTR\tregroup.example.\n",
	                        &a, err),
	                 0);
	assert_int_equal(interp(SOA NS V2 "1.zones.cat.example.\t0\tIN\tPTR\tkeep.example.\n"
	                                  "5.zones.cat.example.\t0\tIN\tPTR\tnew.example.\n"
	                                  "6.zones.cat.example.\t0\tIN\tPTR\treset.example.\n"
	                                  "4.zones.cat.example.\t0\tIN\tPTR\tregroup.example.\n"
	                                  "group.4.zones.cat.example.\t0\tIN\tTXT\t\"g\"\n",
	                        &b, err),
	                 0);
	memset(seen, 0, sizeof seen);
	assert_int_equal(gk_xfr_catalog_diff(&a, &b, rec, NULL), 0);
	assert_int_equal(seen[GK_CATALOG_SAME], 1);
	assert_int_equal(seen[GK_CATALOG_ADDED], 1);
	assert_int_equal(seen[GK_CATALOG_REMOVED], 1);
	assert_int_equal(seen[GK_CATALOG_RESET], 1);
	assert_int_equal(seen[GK_CATALOG_REGROUP], 1);
	gk_xfr_catalog_free(&a);
	gk_xfr_catalog_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_members),   cmocka_unit_test(test_version),
	    cmocka_unit_test(test_malformed), cmocka_unit_test(test_duplicate),
	    cmocka_unit_test(test_claim),     cmocka_unit_test(test_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
