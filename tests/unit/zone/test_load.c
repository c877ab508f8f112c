/* SPDX-License-Identifier: MIT */
/* tests/unit/zone/test_load.c -- master-file reader and zone checks: directives, includes,
 * multi-line records, and error messages that name the right file and line.
 *
 * Runs from the repository root (ctest WORKING_DIRECTORY), where the fixture paths below
 * are valid. Record-level checks call the loader (zone/load.h) directly; error checks go
 * through gk_zone_store_build, the public contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <ldns/ldns.h>
#include "common/arena.h"
#include "zone/load.h"
#include "zone/zone.h"

#define FIX "tests/unit/zone/fixtures/"

#define SOA_NS                                                                                     \
	"$ORIGIN example.cn.\n"                                                                    \
	"@ IN SOA ns1 hostmaster 1 7200 900 1209600 300\n" /* line 2 */                            \
	"  IN NS ns1\n"                                    /* line 3 */                            \
	"ns1 IN A 192.0.2.1\n"                             /* line 4 */

typedef struct loaded {
	gk_arena_t *arena;
	gk_loader_t L;
	char err[512];
	int rc;
} loaded_t;

static void load(loaded_t *l, const char *file, const char *text)
{
	memset(l, 0, sizeof(*l));
	l->arena = gk_arena_new();
	assert_non_null(l->arena);
	l->L.arena = l->arena;
	l->L.err = l->err;
	l->L.errlen = sizeof l->err;
	ldns_rdf *origin = ldns_dname_new_frm_str("example.cn.");
	assert_non_null(origin);
	l->rc = gk_zone_loader_read(&l->L, file, text, text ? strlen(text) : 0, origin);
	ldns_rdf_deep_free(origin);
}

static void unload(loaded_t *l)
{
	gk_zone_loader_clear(&l->L);
	gk_arena_free(l->arena);
}

/* Index of the first record with this owner and type, or fail. */
static size_t find(const loaded_t *l, const char *owner, ldns_rr_type type)
{
	for (size_t i = 0; i < l->L.n; i++) {
		ldns_rr *rr = l->L.rrs[i].rr;
		char *o = ldns_rdf2str(ldns_rr_owner(rr));
		bool hit = o && strcasecmp(o, owner) == 0 && ldns_rr_get_type(rr) == type;
		free(o);
		if (hit)
			return i;
	}
	fail_msg("no %s record at %s", ldns_rr_type2str(type), owner);
	return 0;
}

static void expect(const loaded_t *l, const char *owner, ldns_rr_type type, uint32_t ttl,
                   const char *file, unsigned line)
{
	size_t i = find(l, owner, type);
	if (ldns_rr_ttl(l->L.rrs[i].rr) != ttl)
		fail_msg("%s TTL %u, want %u", owner, ldns_rr_ttl(l->L.rrs[i].rr), ttl);
	assert_string_equal(l->L.rrs[i].file, file);
	if (l->L.rrs[i].line != line)
		fail_msg("%s line %u, want %u", owner, l->L.rrs[i].line, line);
}

/* Build one zone; return the rc and leave the message in err. */
static int build(const char *name, const char *file, const char *text, char *err, size_t errlen)
{
	gk_zone_spec_t spec = {
	    .name = name, .file = file, .text = text, .text_len = text ? strlen(text) : 0};
	gk_zoneset_t *zs = NULL;
	int rc = gk_zone_store_build(&spec, 1, NULL, &zs, err, errlen);
	if (rc == 0)
		gk_zone_store_free(zs);
	else
		assert_null(zs);
	return rc;
}

static void expect_error(const char *file, const char *text, int want_rc, const char *where,
                         const char *what)
{
	char err[512];
	int rc = build("example.cn", file, text, err, sizeof err);
	if (rc != want_rc)
		fail_msg("rc %d, want %d (%s)", rc, want_rc, err);
	if (strncmp(err, where, strlen(where)) != 0)
		fail_msg("message '%s' does not start with '%s'", err, where);
	if (what && !strstr(err, what))
		fail_msg("message '%s' does not mention '%s'", err, what);
}

/* ---- the reader ----------------------------------------------------------------------- */

static void test_directives_and_includes(void **state)
{
	(void)state;
	loaded_t l;
	load(&l, FIX "main.zone", NULL);
	if (l.rc != 0)
		fail_msg("load: %s", l.err);
	const char *m = FIX "main.zone", *c = FIX "inc/child.inc", *g = FIX "inc/grand.inc";
	expect(&l, "example.cn.", LDNS_RR_TYPE_SOA, 3600, m, 5);
	expect(&l, "example.cn.", LDNS_RR_TYPE_NS, 3600, m, 9);
	expect(&l, "ns1.example.cn.", LDNS_RR_TYPE_A, 3600, m, 10);
	expect(&l, "txt.example.cn.", LDNS_RR_TYPE_TXT, 3600, m, 11);
	/* $TTL mid-file applies from there on; $ORIGIN mid-file too */
	expect(&l, "t120.example.cn.", LDNS_RR_TYPE_A, 120, m, 13);
	expect(&l, "host.o.example.cn.", LDNS_RR_TYPE_A, 120, m, 15);
	/* the include inherits origin and TTL; its own $ORIGIN ends with it */
	expect(&l, "inc1.example.cn.", LDNS_RR_TYPE_A, 120, c, 3);
	expect(&l, "grand.example.cn.", LDNS_RR_TYPE_A, 120, g, 3);
	expect(&l, "inc2.deeper.example.cn.", LDNS_RR_TYPE_A, 120, c, 6);
	expect(&l, "after.example.cn.", LDNS_RR_TYPE_A, 120, m, 18);
	/* $INCLUDE with an origin argument */
	expect(&l, "inc1.sub.example.cn.", LDNS_RR_TYPE_A, 120, c, 3);
	expect(&l, "grand.sub.example.cn.", LDNS_RR_TYPE_A, 120, g, 3);
	expect(&l, "last.example.cn.", LDNS_RR_TYPE_A, 120, m, 20);
	assert_int_equal(l.L.n, 14); /* inc2.deeper twice: both includes set that origin */
	/* SOA fields across lines and comments */
	ldns_rr *soa = l.L.rrs[find(&l, "example.cn.", LDNS_RR_TYPE_SOA)].rr;
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 2)), 1);
	assert_int_equal(ldns_rdf2native_int32(ldns_rr_rdf(soa, 6)), 300);
	/* quoted semicolons, escaped quotes and parentheses stay in the string */
	ldns_rr *txt = l.L.rrs[find(&l, "txt.example.cn.", LDNS_RR_TYPE_TXT)].rr;
	assert_int_equal(ldns_rr_rd_count(txt), 2);
	char *s0 = ldns_rdf2str(ldns_rr_rdf(txt, 0)), *s1 = ldns_rdf2str(ldns_rr_rdf(txt, 1));
	assert_string_equal(s0, "\"semi;colon\"");
	assert_string_equal(s1, "\"quote\\\"d ( paren\"");
	free(s0);
	free(s1);
	unload(&l);
}

static void test_text_multiline(void **state)
{
	(void)state;
	loaded_t l;
	load(&l, "mem",
	     "$ORIGIN example.cn.\n"
	     "; comment line\n"
	     "a ( IN\n"
	     "  A ; the type\n"
	     "  192.0.2.7 )\n"
	     "b IN TXT \"x;y\" ; trailing\n"
	     "\n"
	     "c\tIN\tMX\t( 10\r\n"
	     "\tmail )\n"
	     "  IN MX 20 mail2\n");
	if (l.rc != 0)
		fail_msg("load: %s", l.err);
	expect(&l, "a.example.cn.", LDNS_RR_TYPE_A, 3600, "mem", 3);
	expect(&l, "b.example.cn.", LDNS_RR_TYPE_TXT, 3600, "mem", 6);
	expect(&l, "c.example.cn.", LDNS_RR_TYPE_MX, 3600, "mem", 8);
	assert_int_equal(l.L.n, 4);
	/* the blank-owner record belongs to c */
	char *o = ldns_rdf2str(ldns_rr_owner(l.L.rrs[3].rr));
	assert_string_equal(o, "c.example.cn.");
	free(o);
	assert_int_equal(l.L.rrs[3].line, 10);
	unload(&l);
}

static void test_include_refused_in_text(void **state)
{
	(void)state;
	loaded_t l;
	load(&l, "mem", "$ORIGIN example.cn.\n$INCLUDE /etc/hostname\n");
	assert_int_equal(l.rc, GK_ESYNTAX);
	assert_string_equal(strstr(l.err, "mem:2:") ? "ok" : l.err, "ok");
	unload(&l);
}

static void test_reader_errors(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *where;
	} cases[] = {
	    {"a A 192.0.2.1\n\nb ( A\n 192.0.2.2\n", "mem:3:"}, /* '(' not closed */
	    {"a A 192.0.2.1 )\n", "mem:1:"},                    /* ')' without '(' */
	    {"a TXT \"x\n", "mem:1:"},                          /* unterminated quote */
	    {"a A 1.2.3.4\n$TTL 1x\n", "mem:2:"},               /* bad $TTL */
	    {"$ORIGIN\n", "mem:1:"},                            /* $ORIGIN without a name */
	    {"\n\n\n$BOGUS x\n", "mem:4:"},                     /* unknown directive */
	    {"  A 192.0.2.1\n", "mem:1:"},                      /* no owner yet */
	    {"a A 192.0.2.1\nb A 192.0.\x01.1\n", "mem:2:"},    /* bad address */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		loaded_t l;
		load(&l, "mem", cases[i].text);
		if (l.rc != GK_ESYNTAX || strncmp(l.err, cases[i].where, strlen(cases[i].where)))
			fail_msg("case %zu: rc %d, '%s', want '%s'", i, l.rc, l.err,
			         cases[i].where);
		unload(&l);
	}
}

/* $ORIGIN with trailing text is an error and must not leak the parsed name (LeakSanitizer
 * in the GK_SANITIZE build). */
static void test_origin_trailing_text(void **state)
{
	(void)state;
	loaded_t l;
	load(&l, "mem", "$ORIGIN example.cn. trailing\n");
	assert_int_equal(l.rc, GK_ESYNTAX);
	assert_non_null(strstr(l.err, "mem:1:"));
	unload(&l);
}

/* ---- gk_zone_store_build errors ------------------------------------------------------------ */

static void test_good_file_builds(void **state)
{
	(void)state;
	char err[512];
	int rc = build("example.cn", FIX "main.zone", NULL, err, sizeof err);
	if (rc != 0)
		fail_msg("build: %s", err);
}

static void test_error_syntax(void **state)
{
	(void)state;
	expect_error(NULL, SOA_NS "www IN A 192.0.2.10\nbad IN A 192.0.2.999\n", GK_ESYNTAX,
	             "<text>:6:", NULL);
	/* fuzz_zone: generic RDATA that leaves a known type short (SRV without its target) */
	expect_error(NULL, SOA_NS "_pis._tcp SRV 65280 \\# 4 0a000001\n", GK_ESYNTAX,
	             "<text>:5:", "SRV record with 3 of its 4 RDATA fields");
	expect_error(NULL, SOA_NS "x SRV \\# 4 0a000001\n", GK_ESYNTAX, "<text>:5:", "SRV record");
	/* every field there, the target given as raw octets (not a name) */
	expect_error(NULL, SOA_NS "_sip._tcp SRV 10 60 5060 \\# 4 0a000001\n", GK_ESYNTAX,
	             "<text>:5:", "SRV record with RDATA field 4 not of the type SRV gives it");
}

/* A zone configured twice is an error naming the later spec's file, found by sorting (the
 * check was a comparison of every zone with every earlier one). */
static void test_error_zone_twice(void **state)
{
	(void)state;
	static const char txt[] = "@ SOA ns host 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n";
	gk_zone_spec_t specs[] = {
	    {.name = "a.cn", .text = txt, .text_len = sizeof txt - 1, .file = "a.zone"},
	    {.name = "b.cn", .text = txt, .text_len = sizeof txt - 1, .file = "b.zone"},
	    {.name = "c.cn", .text = txt, .text_len = sizeof txt - 1, .file = "c.zone"},
	    {.name = "B.cn.", .text = txt, .text_len = sizeof txt - 1, .file = "b2.zone"},
	    {.name = "a.cn", .text = txt, .text_len = sizeof txt - 1, .file = "a2.zone"},
	};
	gk_zoneset_t *zs = NULL;
	char err[256];
	assert_int_equal(gk_zone_store_build(specs, 5, NULL, &zs, err, sizeof err), GK_EINVAL);
	assert_null(zs);
	assert_string_equal(err, "b2.zone: zone B.cn. is configured twice");
	assert_int_equal(gk_zone_store_build(specs, 3, NULL, &zs, err, sizeof err), 0);
	gk_zone_store_free(zs);
}

static void test_error_in_include(void **state)
{
	(void)state;
	expect_error(FIX "bad-include-parent.zone", NULL, GK_ESYNTAX,
	             FIX "inc/bad-child.inc:4:", NULL);
}

static void test_error_missing_include(void **state)
{
	(void)state;
	expect_error(FIX "missing-include.zone", NULL, GK_EIO,
	             FIX "missing-include.zone:7:", "no-such-file.inc");
}

static void test_error_missing_file(void **state)
{
	(void)state;
	expect_error(FIX "no-such.zone", NULL, GK_EIO, FIX "no-such.zone", NULL);
}

static void test_error_out_of_zone(void **state)
{
	(void)state;
	expect_error(NULL, SOA_NS "www.example.org. IN A 192.0.2.10\n", GK_EZONE,
	             "<text>:5:", "www.example.org");
	/* a name that merely ends in the same characters is outside too */
	expect_error(NULL, SOA_NS "wwwexample.cn. IN A 192.0.2.10\n", GK_EZONE, "<text>:5:", NULL);
}

static void test_error_cname_and_other(void **state)
{
	(void)state;
	char err[512];
	int rc = build("example.cn", NULL, SOA_NS "www IN CNAME ns1\nwww IN A 192.0.2.10\n", err,
	               sizeof err);
	assert_int_equal(rc, GK_EZONE);
	if (strncmp(err, "<text>:6:", 9) != 0 && strncmp(err, "<text>:5:", 9) != 0)
		fail_msg("message '%s'", err);
	assert_non_null(strstr(err, "CNAME"));
	/* in the other order, too */
	rc = build("example.cn", NULL, SOA_NS "www IN TXT \"x\"\nwww IN CNAME ns1\n", err,
	           sizeof err);
	assert_int_equal(rc, GK_EZONE);
	if (strncmp(err, "<text>:6:", 9) != 0 && strncmp(err, "<text>:5:", 9) != 0)
		fail_msg("message '%s'", err);
	/* two CNAMEs */
	rc = build("example.cn", NULL, SOA_NS "www IN CNAME ns1\nwww IN CNAME ns2\n", err,
	           sizeof err);
	assert_int_equal(rc, GK_EZONE);
}

/* The second SOA is the offending record: its line is the one to report. */
static void test_error_two_soa(void **state)
{
	(void)state;
	expect_error(NULL, SOA_NS "@ IN SOA ns2 hostmaster 2 7200 900 1209600 300\n", GK_EZONE,
	             "<text>:5:", "SOA");
}

static void test_error_no_soa(void **state)
{
	(void)state;
	expect_error(NULL, "$ORIGIN example.cn.\n@ IN NS ns1\nns1 IN A 192.0.2.1\n", GK_EZONE,
	             "<text>", "SOA");
}

static void test_error_no_ns(void **state)
{
	(void)state;
	expect_error(NULL, "$ORIGIN example.cn.\n@ IN SOA ns1 h 1 2 3 4 5\nns1 IN A 192.0.2.1\n",
	             GK_EZONE, "<text>", "NS");
	/* NS only below the apex is not enough */
	expect_error(NULL, "$ORIGIN example.cn.\n@ IN SOA ns1 h 1 2 3 4 5\nsub IN NS ns1\n",
	             GK_EZONE, "<text>", "NS");
}

static void test_error_class_ch(void **state)
{
	(void)state;
	expect_error(NULL, SOA_NS "www CH A 192.0.2.10\n", GK_EZONE, "<text>:5:", "class");
}

static void test_error_duplicate_zone(void **state)
{
	(void)state;
	const char *t = SOA_NS;
	gk_zone_spec_t specs[2] = {
	    {.name = "example.cn", .text = t, .text_len = strlen(t)},
	    {.name = "EXAMPLE.cn.", .text = t, .text_len = strlen(t)},
	};
	gk_zoneset_t *zs = NULL;
	char err[512];
	assert_int_equal(gk_zone_store_build(specs, 2, NULL, &zs, err, sizeof err), GK_EINVAL);
	assert_null(zs);
	assert_non_null(strstr(err, "twice"));
	specs[1].name = "bad..name";
	assert_int_equal(gk_zone_store_build(specs, 2, NULL, &zs, err, sizeof err), GK_EINVAL);
	assert_null(zs);
}

static void test_error_small_buffer(void **state)
{
	(void)state;
	char err[8];
	memset(err, 'x', sizeof err);
	assert_int_equal(build("example.cn", NULL, SOA_NS "www CH A 192.0.2.10\n", err, sizeof err),
	                 GK_EZONE);
	assert_non_null(memchr(err, 0, sizeof err));
	assert_int_equal(build("example.cn", NULL, SOA_NS "www CH A 192.0.2.10\n", NULL, 0),
	                 GK_EZONE);
}

static void test_counts(void **state)
{
	(void)state;
	const char *t = SOA_NS "www A 192.0.2.10\nwww A 192.0.2.10\nwww A 192.0.2.11\n";
	gk_zone_spec_t spec = {.name = "example.cn", .text = t, .text_len = strlen(t)};
	gk_zoneset_t *zs = NULL;
	char err[256];
	assert_int_equal(gk_zone_store_build(&spec, 1, NULL, &zs, err, sizeof err), 0);
	assert_int_equal(gk_zone_store_zone_count(zs), 1);
	assert_int_equal(gk_zone_store_rr_count(zs), 5); /* the duplicate A counts once */
	gk_zone_store_free(zs);
	gk_zone_store_free(NULL);
}

/* Records from wire (persisted and transferred zones) are held to what their type promises,
 * as master-file records are: a CNAME with RDLENGTH 0 (which ldns_wire2rr accepts) is refused,
 * naming the record, not served with a target that is not there. */
static void test_wire_fields(void **state)
{
	(void)state;
	static const uint8_t ok[] = {/* a.cn. CNAME b.cn. */
	                             1, 'a', 2,  'c', 'n', 0, 0,   5, 0,   1,   0,
	                             0, 1,   44, 0,   6,   1, 'b', 2, 'c', 'n', 0};
	static const uint8_t empty[] = {/* a.cn. CNAME, no RDATA */
	                                1, 'a', 2, 'c', 'n', 0, 0, 5, 0, 1, 0, 0, 1, 44, 0, 0};
	static const uint8_t mx[] = {/* a.cn. MX 10, no exchange */
	                             1, 'a', 2, 'c', 'n', 0, 0, 15, 0, 1, 0, 0, 1, 44, 0, 2, 0, 10};
	struct {
		const uint8_t *w;
		size_t len;
		int rc;
		const char *msg;
	} cases[] = {
	    {ok, sizeof(ok), 0, NULL},
	    {empty, sizeof(empty), GK_ESYNTAX,
	     "z.bin:1: CNAME record with 0 of its 1 RDATA fields"},
	    {mx, sizeof(mx), GK_ESYNTAX, "z.bin:1: MX record with 1 of its 2 RDATA fields"},
	};
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		loaded_t l;
		memset(&l, 0, sizeof(l));
		l.arena = gk_arena_new();
		assert_non_null(l.arena);
		l.L.arena = l.arena;
		l.L.err = l.err;
		l.L.errlen = sizeof l.err;
		int rc = gk_zone_loader_read_wire(&l.L, "z.bin", cases[c].w, cases[c].len, 1);
		assert_int_equal(rc, cases[c].rc);
		if (cases[c].msg)
			assert_non_null(strstr(l.err, cases[c].msg));
		else
			assert_int_equal(l.L.n, 1);
		unload(&l);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_directives_and_includes),
	    cmocka_unit_test(test_error_zone_twice),
	    cmocka_unit_test(test_text_multiline),
	    cmocka_unit_test(test_wire_fields),
	    cmocka_unit_test(test_include_refused_in_text),
	    cmocka_unit_test(test_reader_errors),
	    cmocka_unit_test(test_origin_trailing_text),
	    cmocka_unit_test(test_good_file_builds),
	    cmocka_unit_test(test_error_syntax),
	    cmocka_unit_test(test_error_in_include),
	    cmocka_unit_test(test_error_missing_include),
	    cmocka_unit_test(test_error_missing_file),
	    cmocka_unit_test(test_error_out_of_zone),
	    cmocka_unit_test(test_error_cname_and_other),
	    cmocka_unit_test(test_error_two_soa),
	    cmocka_unit_test(test_error_no_soa),
	    cmocka_unit_test(test_error_no_ns),
	    cmocka_unit_test(test_error_class_ch),
	    cmocka_unit_test(test_error_duplicate_zone),
	    cmocka_unit_test(test_error_small_buffer),
	    cmocka_unit_test(test_counts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
