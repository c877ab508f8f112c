/* SPDX-License-Identifier: MIT */
/* tests/unit/control/test_control.c -- gk_control_parse: every command, every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "common/log.h"
#include "control/control.h"

static gk_control_cmd_t cmd;

static int parse(const char *line, char *err, size_t errlen)
{
	err[0] = '\0';
	return gk_control_parse(line, strlen(line), &cmd, err, errlen);
}

static void test_commands(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(parse("zone add shop.cn /srv/z/shop.cn.zone", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_ZONE_ADD);
	assert_string_equal(cmd.name, "shop.cn");
	assert_string_equal(cmd.file, "/srv/z/shop.cn.zone");
	assert_int_equal(parse("  zone\tremove  Shop.CN.\r", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_ZONE_REMOVE);
	assert_string_equal(cmd.name, "Shop.CN.");
	assert_int_equal(parse("zone reload", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_ZONE_RELOAD);
	assert_false(cmd.has_name);
	assert_int_equal(parse("zone reload a.cn", err, sizeof(err)), 0);
	assert_true(cmd.has_name);
	assert_int_equal(parse("zone status", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_ZONE_STATUS);
	assert_int_equal(parse("zone status a.cn", err, sizeof(err)), 0);
	assert_string_equal(cmd.name, "a.cn");
	assert_int_equal(parse("zone refresh k.cn", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_ZONE_REFRESH);
	assert_string_equal(cmd.name, "k.cn");
	assert_int_equal(parse("reload", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_RELOAD);
	assert_int_equal(parse("stats", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_STATS);
	assert_int_equal(parse("loglevel warning", err, sizeof(err)), 0);
	assert_int_equal(cmd.op, GK_CONTROL_LOGLEVEL);
	assert_int_equal(cmd.level, GK_LOG_WARN);
}

static void expect_bad(const char *line, const char *want)
{
	char err[256];
	assert_int_equal(parse(line, err, sizeof(err)), GK_ESYNTAX);
	if (strstr(err, want) == NULL)
		fail_msg("'%s': error '%s' lacks '%s'", line, err, want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_bad("", "empty request");
	expect_bad("   \t", "empty request");
	expect_bad("zone", "usage: zone add|remove|reload|status");
	expect_bad("zone add a.cn", "usage: zone add NAME FILE");
	expect_bad("zone add a.cn /f extra", "usage: zone add NAME FILE");
	expect_bad("zone add a..cn /f", "'a..cn' is not a valid zone name");
	expect_bad("zone add a.cn f.zone", "'f.zone': the zone file must be an absolute path");
	expect_bad("zone remove", "usage: zone remove NAME");
	expect_bad("zone remove a/b", "not a valid zone name");
	expect_bad("zone reload a.cn b.cn", "usage: zone reload [NAME]");
	expect_bad("zone status a b", "usage: zone status [NAME]");
	expect_bad("zone purge a.cn", "unknown zone command 'purge'");
	expect_bad("zone refresh", "usage: zone refresh NAME");
	expect_bad("zone refresh a.cn b.cn", "usage: zone refresh NAME");
	expect_bad("zone refresh a..cn", "not a valid zone name");
	expect_bad("reload now", "usage: reload (no arguments)");
	expect_bad("stats x", "usage: stats");
	expect_bad("loglevel", "usage: loglevel");
	expect_bad("loglevel verbose", "'verbose' is not one of error, warning, info, debug");
	expect_bad("loglevel aVeryLongLevelNameIndeed", "is not one of");
	expect_bad("shutdown", "unknown command 'shutdown'");
	expect_bad("a b c d e f", "too many words");
	char err[256];
	assert_int_equal(gk_control_parse("stats\0x", 7, &cmd, err, sizeof(err)), GK_ESYNTAX);
	assert_non_null(strstr(err, "NUL byte"));
	/* a name of 64-octet label */
	char line[200] = "zone remove ";
	memset(line + 12, 'a', 64);
	strcpy(line + 76, ".cn");
	expect_bad(line, "not a valid zone name");
	/* a long unknown word is cut in the message */
	char longw[300];
	memset(longw, 'x', 299);
	longw[299] = '\0';
	expect_bad(longw, "...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_commands),
	    cmocka_unit_test(test_errors),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
