/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_lint.c -- the registry's accuracy rules, one by one, then a feed run
 * whose output lines are compared exactly.
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
#include "sync/lint.h"

static void test_licence(void **state)
{
	(void)state;
	assert_true(gk_sync_lint_licence_ok("京ICP备12345678号"));
	assert_true(gk_sync_lint_licence_ok("京ICP备12345678号-1"));
	assert_true(gk_sync_lint_licence_ok("粤ICP备00000001号-12"));
	assert_true(gk_sync_lint_licence_ok("京ICP证030173号"));
	assert_false(gk_sync_lint_licence_ok("沪ICP备1234567号"));   /* 7 digits */
	assert_false(gk_sync_lint_licence_ok("沪ICP备123456789号")); /* 9 digits */
	assert_false(gk_sync_lint_licence_ok("港ICP备12345678号"));  /* not a province */
	assert_false(gk_sync_lint_licence_ok("京ICP备12345678"));    /* no 号 */
	assert_false(gk_sync_lint_licence_ok("京ICP备12345678号-"));
	assert_false(gk_sync_lint_licence_ok("京ICP备12345678号-0"));
	assert_false(gk_sync_lint_licence_ok("京ICP证0301730号"));
	assert_false(gk_sync_lint_licence_ok("京ICP证030173号-1"));
	assert_false(gk_sync_lint_licence_ok(""));
	assert_false(gk_sync_lint_licence_ok("ICP备12345678号"));
}

static void test_ip(void **state)
{
	(void)state;
	const char *why;
	assert_int_equal(gk_sync_lint_ip_reserved("0.0.0.0", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("10.1.2.3", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("172.16.0.1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("172.31.255.255", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("172.32.0.1", &why), 0);
	assert_int_equal(gk_sync_lint_ip_reserved("192.168.1.1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("127.0.0.1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("169.254.1.1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("100.64.0.1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("8.8.8.8", &why), 0);
	assert_int_equal(gk_sync_lint_ip_reserved("::1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("::", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("fd00::1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("fe80::1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("::ffff:192.168.0.1", &why), 1);
	assert_int_equal(gk_sync_lint_ip_reserved("2400:3200::1", &why), 0);
	assert_int_equal(gk_sync_lint_ip_reserved("1.2.3", &why), -1);
	assert_int_equal(gk_sync_lint_ip_reserved("example.cn", &why), -1);
}

static void test_phone(void **state)
{
	(void)state;
	assert_true(gk_sync_lint_phone_fake("010-00000000"));
	assert_true(gk_sync_lint_phone_fake("0755-88888888"));
	assert_true(gk_sync_lint_phone_fake("13800000000"));
	assert_true(gk_sync_lint_phone_fake("11111"));
	assert_false(gk_sync_lint_phone_fake("010-62345678"));
	assert_false(gk_sync_lint_phone_fake("+86 138 1234 5678"));
	assert_false(gk_sync_lint_phone_fake("0755-88881234"));
}

static void test_person(void **state)
{
	(void)state;
	assert_true(gk_sync_lint_person_placeholder("王先生"));
	assert_true(gk_sync_lint_person_placeholder("李小姐"));
	assert_true(gk_sync_lint_person_placeholder("欧阳女士"));
	assert_true(gk_sync_lint_person_placeholder("某某"));
	assert_true(gk_sync_lint_person_placeholder("张某某"));
	assert_false(gk_sync_lint_person_placeholder("王小明"));
	assert_false(gk_sync_lint_person_placeholder("李娜"));
	assert_false(gk_sync_lint_person_placeholder("Mr Wang"));
}

static void test_sponsor_nature(void **state)
{
	(void)state;
	const char *why;
	assert_true(gk_sync_lint_sponsor_is_domain("example.com.cn"));
	assert_true(gk_sync_lint_sponsor_is_domain("Foo.CN"));
	assert_false(gk_sync_lint_sponsor_is_domain("北京示例科技有限公司"));
	assert_false(gk_sync_lint_sponsor_is_domain("1.2.3.4"));
	assert_false(gk_sync_lint_sponsor_is_domain("Acme Ltd."));
	assert_true(gk_sync_lint_nature_mismatch("北京示例科技有限公司", "个人", &why));
	assert_true(gk_sync_lint_nature_mismatch("示例集团", "个人", &why));
	assert_false(gk_sync_lint_nature_mismatch("北京示例科技有限公司", "企业", &why));
	assert_true(gk_sync_lint_nature_mismatch("王小明", "企业", &why));
	assert_true(gk_sync_lint_nature_mismatch("李娜", "企业", &why));
	assert_false(gk_sync_lint_nature_mismatch("王小明", "个人", &why));
	assert_false(gk_sync_lint_nature_mismatch("海淀区教育局", "政府机关", &why));
	assert_false(gk_sync_lint_nature_mismatch("示例书店", "企业", &why));
	assert_false(gk_sync_lint_nature_mismatch("示例工作室", "企业", &why));
}

static void test_url_host(void **state)
{
	(void)state;
	char h[256];
	assert_int_equal(gk_sync_lint_url_host("http://WWW.Foo.cn:8080/x?y", h), 0);
	assert_string_equal(h, "www.foo.cn");
	assert_int_equal(gk_sync_lint_url_host("foo.com.cn/index.html", h), 0);
	assert_string_equal(h, "foo.com.cn");
	assert_int_equal(gk_sync_lint_url_host("https://user@中国移动.中国/", h), 0);
	assert_string_equal(h, "xn--fiq02ib9d179b.xn--fiqs8s");
	assert_int_equal(gk_sync_lint_url_host("http:///x", h), GK_EINVAL);
}

/* Mixed scripts within one label (UTS #39 "highly restrictive": Han may go with kana,
 * Bopomofo or Hangul; nothing else mixes). Common and Inherited characters (digits, '-')
 * belong to no script. */
static void test_mixed_script(void **state)
{
	(void)state;
	char why[256];
	assert_int_equal(gk_sync_lint_mixed_script("xn--pple-43d.cn", why, sizeof(why)),
	                 1); /* аpple */
	assert_non_null(strstr(why, "Cyrillic"));
	assert_non_null(strstr(why, "Latin"));
	assert_non_null(strstr(why, "xn--pple-43d"));
	assert_int_equal(gk_sync_lint_mixed_script("xn--qq-x59b.cn", why, sizeof(why)),
	                 1); /* q䦸q */
	assert_non_null(strstr(why, "Han"));
	assert_int_equal(gk_sync_lint_mixed_script("xn--80ak6aa92e.com", why, sizeof(why)),
	                 0); /* аррӏе */
	assert_int_equal(
	    gk_sync_lint_mixed_script("xn--fiq02ib9d179b.xn--fiqs8s", why, sizeof(why)), 0);
	assert_int_equal(gk_sync_lint_mixed_script("example.cn", why, sizeof(why)), 0);
	assert_int_equal(gk_sync_lint_mixed_script("xn--58-ln6co6l.cn", why, sizeof(why)),
	                 0); /* 58同城 */
	/* Japanese: Han + Hiragana + Katakana is one writing system */
	char a[256];
	const char *w;
	const char *ja = "東京のテスト.jp";
	assert_true(gk_sync_feed_domain_normalise(ja, strlen(ja), a, &w) > 0);
	assert_int_equal(gk_sync_lint_mixed_script(a, why, sizeof(why)), 0);
}

static void test_feed_output(void **state)
{
	(void)state;
	gk_psl_t *psl;
	assert_int_equal(gk_psl_open(NULL, &psl), 0);
	const char *t =
	    "{\"kind\":\"snapshot\",\"serial\":1,\"count\":4}\n"
	    "{\"domain\":\"a.cn\",\"status\":\"filed\",\"licence\":\"京ICP备12345678号-1\","
	    "\"sponsor\":\"北京甲科技有限公司\",\"nature\":\"企业\",\"home_url\":\"http://www.b.cn/"
	    "\","
	    "\"ips\":[\"1.2.3.4\",\"0.0.0.0\"]}\n"
	    "{\"domain\":\"b.cn\",\"status\":\"filed\",\"licence\":\"京ICP备1234567号\","
	    "\"sponsor\":\"b.cn\",\"nature\":\"个人\",\"phone\":\"010-00000000\",\"person\":"
	    "\"王先生\","
	    "\"home_url\":\"http://c.cn\"}\n"
	    "{\"domain\":\"c.com.cn\",\"status\":\"revoked\",\"nature\":\"企业\"}\n"
	    "{\"domain\":\"xn--pple-43d.cn\",\"status\":\"filed\",\"licence\":\"京ICP备12345678号-"
	    "1\","
	    "\"sponsor\":\"北京乙科技有限公司\",\"nature\":\"企业\"}\n";
	char *buf = NULL, err[256];
	size_t len = 0, n = 0;
	FILE *out = open_memstream(&buf, &len);
	assert_int_equal(gk_sync_lint_feed("f", t, strlen(t), psl, out, &n, err, sizeof(err)), 0);
	fclose(out);
	const char *want =
	    "f:2: ip-reserved: 0.0.0.0 is unspecified (0.0.0.0/8)\n"
	    "f:3: sponsor-is-domain: sponsor \"b.cn\" is a bare domain name\n"
	    "f:3: licence-malformed: \"京ICP备1234567号\" does not match 省ICP备NNNNNNNN号[-N] or "
	    "省ICP证NNNNNN号\n"
	    "f:3: home-url-foreign: home page http://c.cn is on c.cn, which is not in the feed's "
	    "domain list\n"
	    "f:3: phone-fake: \"010-00000000\" is a placeholder number\n"
	    "f:3: person-placeholder: \"王先生\" is not a person's full name\n"
	    "f:4: sponsor-missing: no sponsor name\n"
	    "f:4: licence-malformed: no licence number\n"
	    "f:5: mixed-script: label xn--pple-43d (аpple) mixes Cyrillic and Latin\n";
	assert_string_equal(buf, want);
	assert_int_equal(n, 9);
	free(buf);
	/* invalid JSON is the only failure */
	out = open_memstream(&buf, &len);
	assert_int_equal(
	    gk_sync_lint_feed("f", "{\"kind\":1}\n{oops\n", 17, psl, out, &n, err, sizeof(err)),
	    GK_ESYNTAX);
	fclose(out);
	free(buf);
	assert_non_null(strstr(err, "f:2: malformed JSON"));
	gk_psl_close(psl);
}

int main(void)
{
	gk_sync_feed_global_init();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_licence),        cmocka_unit_test(test_ip),
	    cmocka_unit_test(test_phone),          cmocka_unit_test(test_person),
	    cmocka_unit_test(test_sponsor_nature), cmocka_unit_test(test_url_host),
	    cmocka_unit_test(test_mixed_script),   cmocka_unit_test(test_feed_output),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
