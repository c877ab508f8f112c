/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_ipfeed.c -- IP filing feed parser: range syntax and canonical text,
 * a good snapshot and delta, nesting counted, and the rejection corpus
 * (tests/fixtures/ipfeeds/reject.expected: every file rejected at the line and with the text
 * it names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sync/feed.h"
#include "sync/ipfeed.h"

#define FIX "tests/fixtures/ipfeeds/"

static void canon(const char *in, const char *want)
{
	uint8_t a[16], b[16];
	int v4;
	const char *why = NULL;
	char out[GK_IP_RANGE_TEXT];
	int rc = gk_sync_ip_range_parse(in, strlen(in), a, b, &v4, &why);
	if (rc)
		fail_msg("%s: %s", in, why);
	gk_sync_ip_range_format(a, b, v4, out);
	assert_string_equal(out, want);
}

static void bad(const char *in)
{
	uint8_t a[16], b[16];
	int v4;
	const char *why = NULL;
	assert_int_equal(gk_sync_ip_range_parse(in, strlen(in), a, b, &v4, &why), GK_EINVAL);
	assert_non_null(why);
}

static void test_ranges(void **state)
{
	(void)state;
	canon("10.0.0.0/8", "10.0.0.0/8");
	canon("10.0.0.0-10.255.255.255", "10.0.0.0/8");
	canon("10.0.0.0 - 10.0.0.9", "10.0.0.0-10.0.0.9");
	canon("1.2.3.4/32", "1.2.3.4/32");
	canon("0.0.0.0/0", "0.0.0.0/0");
	canon("2001:DB8::/32", "2001:db8::/32");
	canon("2001:db8::-2001:db8::ff", "2001:db8::/120");
	canon("::/0", "::/0");
	bad("10.0.0.1/8");
	bad("10.0.0.0/33");
	bad("10.0.0.0/");
	bad("10.0.0.0/-1");
	bad("10.0.0.0/8x");
	bad("10.0.0.9-10.0.0.1");
	bad("10.0.0.0-::1");
	bad("example.com");
	bad("");
	bad("2001:db8::/129");
}

static void test_snapshot_ok(void **state)
{
	(void)state;
	const char *t =
	    "{\"feed\":\"ip\",\"kind\":\"snapshot\",\"serial\":7,\"count\":4}\n"
	    "{\"provider\":\"阿里云\",\"range\":\"203.0.113.0/24\",\"province\":\"浙江\","
	    "\"usage\":\"IDC\"}\n"
	    "{\"provider\":\"腾讯云\",\"range\":\"203.0.113.64/26\"}\n"
	    "{\"provider\":\"阿里云\",\"range\":\"2001:db8::/32\",\"extra\":1}\n"
	    "{\"provider\":\"腾讯云\",\"range\":\"198.51.100.0-198.51.100.9\"}\n";
	gk_ipfeed_t *f = NULL;
	char err[256];
	int rc = gk_sync_ipfeed_parse("t", t, strlen(t), &f, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(f->n, 4);
	assert_int_equal(f->serial, 7);
	assert_int_equal(f->n_nested, 1);
	assert_string_equal(f->r[0].province, "浙江");
	assert_ptr_equal(f->r[0].provider, f->r[2].provider); /* interned */
	assert_true(f->r[0].v4 && !f->r[2].v4);
	char *v = gk_sync_ipfeed_value(&f->r[0]);
	assert_string_equal(v, "{\"provider\":\"阿里云\",\"province\":\"浙江\",\"usage\":\"IDC\"}");
	free(v);
	v = gk_sync_ipfeed_value(&f->r[1]);
	assert_string_equal(v, "{\"provider\":\"腾讯云\"}");
	free(v);
	gk_sync_ipfeed_free(f);
}

static void test_empty_ok(void **state)
{
	(void)state;
	const char *t = "{\"feed\":\"ip\",\"kind\":\"snapshot\",\"serial\":7,\"count\":0}\n";
	gk_ipfeed_t *f = NULL;
	char err[256];
	assert_int_equal(gk_sync_ipfeed_parse("t", t, strlen(t), &f, err, sizeof(err)), 0);
	assert_int_equal(f->n, 0);
	gk_sync_ipfeed_free(f);
}

static void test_delta_ok(void **state)
{
	(void)state;
	const char *t = "{\"feed\":\"ip\",\"kind\":\"delta\",\"serial\":8,\"base\":7,\"count\":2}\n"
	                "{\"range\":\"203.0.113.64/26\",\"op\":\"remove\"}\n"
	                "{\"provider\":\"电信\",\"range\":\"192.0.2.0/24\"}\n";
	gk_ipfeed_t *f = NULL;
	char err[256];
	int rc = gk_sync_ipfeed_parse("t", t, strlen(t), &f, err, sizeof(err));
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(f->kind, GK_FEED_DELTA);
	assert_true(f->r[0].remove);
	assert_null(f->r[0].provider);
	gk_sync_ipfeed_free(f);
}

static char *slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	if (!fp)
		fail_msg("cannot open %s", path);
	char *b = malloc(1 << 16);
	*len = fread(b, 1, 1 << 16, fp);
	fclose(fp);
	return b;
}

static void test_rejections(void **state)
{
	(void)state;
	FILE *fp = fopen(FIX "reject.expected", "r");
	assert_non_null(fp);
	char line[512];
	int n = 0;
	while (fgets(line, sizeof(line), fp)) {
		if (line[0] == '#' || line[0] == '\n')
			continue;
		line[strcspn(line, "\n")] = 0;
		char *file = strtok(line, "\t"), *lno = strtok(NULL, "\t"),
		     *text = strtok(NULL, "");
		assert_non_null(text);
		char path[256], want[300], err[512];
		size_t len;
		snprintf(path, sizeof(path), FIX "%s", file);
		char *data = slurp(path, &len);
		gk_ipfeed_t *f = NULL;
		int rc = gk_sync_ipfeed_parse(file, data, len, &f, err, sizeof(err));
		free(data);
		if (rc != GK_ESYNTAX)
			fail_msg("%s: accepted (rc %d)", file, rc);
		snprintf(want, sizeof(want), "%s:%s: ", file, lno);
		if (strncmp(err, want, strlen(want)) || !strstr(err, text))
			fail_msg("%s: got \"%s\", want \"%s...%s\"", file, err, want, text);
		n++;
	}
	fclose(fp);
	assert_true(n >= 19);
}

/* the shared header: the domain parser refuses an IP feed and names the command */
static void test_domain_parser_refuses(void **state)
{
	(void)state;
	const char *t = "{\"feed\":\"ip\",\"kind\":\"snapshot\",\"serial\":7,\"count\":0}\n";
	gk_psl_t *psl;
	assert_int_equal(gk_psl_open(NULL, &psl), 0);
	gk_feed_t *f = NULL;
	char err[256];
	assert_int_equal(gk_sync_feed_parse("t", t, strlen(t), psl, 1, 0, &f, err, sizeof(err)),
	                 GK_ESYNTAX);
	assert_non_null(strstr(err, "t:1: an IP filing feed"));
	gk_psl_close(psl);
}

int main(void)
{
	gk_sync_feed_global_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_snapshot_ok),
	    cmocka_unit_test(test_delta_ok),
	    cmocka_unit_test(test_rejections),
	    cmocka_unit_test(test_domain_parser_refuses),
	    cmocka_unit_test(test_empty_ok),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
