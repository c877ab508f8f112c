/* SPDX-License-Identifier: MIT */
/* tests/unit/zonelist/test_zonelist.c -- the zone list parser, the zones directory scan, the
 * atomic state file, and the config's zone sources (duplicates across sources name both
 * places).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "daemon/config.h"
#include "zonelist/zonelist.h"
#include "tmpdir.h" /* tests/unit/tmpdir.h */

static char tmpdir[64];

static int setup_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_make(tmpdir, sizeof(tmpdir), "zonelist");
}

static int remove_dir(void **state)
{
	(void)state;
	return gk_test_tmpdir_remove(tmpdir);
}

static void write_file(const char *name, const char *body)
{
	char path[256];
	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(body, f);
	fclose(f);
}

struct got {
	char text[2048];
	size_t n;
};

static int collect(void *ctx, const char *name, size_t nl, const char *file, size_t fl, size_t line)
{
	struct got *g = ctx;
	size_t used = strlen(g->text);
	snprintf(g->text + used, sizeof(g->text) - used, "%zu:%.*s=%.*s;", line, (int)nl, name,
	         (int)fl, file);
	g->n++;
	return 0;
}

static int parse(const char *text, struct got *g, char *err, size_t errlen)
{
	memset(g, 0, sizeof(*g));
	err[0] = '\0';
	return gk_zonelist_parse(text, strlen(text), "l.txt", collect, g, err, errlen);
}

static void test_parse_ok(void **state)
{
	(void)state;
	struct got g;
	char err[256];
	assert_int_equal(parse("# header\n\n a.cn  a.zone\nb.cn.\tsub/b.zone # comment\n"
	                       "c-1.example c.zone\r\n_x.test /abs/x.zone",
	                       &g, err, sizeof(err)),
	                 0);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.text, "3:a.cn=a.zone;4:b.cn.=sub/b.zone;5:c-1.example=c.zone;"
	                            "6:_x.test=/abs/x.zone;");
	/* empty input and comments only */
	assert_int_equal(parse("", &g, err, sizeof(err)), 0);
	assert_int_equal(parse("#\n   # x\n\n", &g, err, sizeof(err)), 0);
	assert_int_equal(g.n, 0);
	/* a '#' inside a word is part of it (a file name may hold one) */
	assert_int_equal(parse("a.cn a#b.zone\n", &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "1:a.cn=a#b.zone;");
}

static void expect_bad(const char *text, const char *want)
{
	struct got g;
	char err[256];
	assert_int_equal(parse(text, &g, err, sizeof(err)), GK_ESYNTAX);
	if (strstr(err, want) == NULL)
		fail_msg("error '%s' lacks '%s'", err, want);
}

static void test_parse_errors(void **state)
{
	(void)state;
	expect_bad("a.cn a.zone\nb.cn\n", "l.txt:2: zone 'b.cn' has no file");
	expect_bad("a.cn a.zone extra\n", "l.txt:1: extra field 'extra'");
	expect_bad("\n\na..cn a.zone\n", "l.txt:3: 'a..cn' is not a valid zone name");
	expect_bad("a b c.zone x\n", "l.txt:1: extra field");
	expect_bad("a\\.cn a.zone\n", "not a valid zone name");
	char label[80];
	memset(label, 'a', 64);
	snprintf(label + 64, sizeof(label) - 64, ".cn f\n");
	expect_bad(label, "not a valid zone name");
	/* NUL inside a line (explicit length) */
	struct got g;
	char err[256];
	assert_int_equal(
	    gk_zonelist_parse("a.cn a\0.zone\n", 13, "l.txt", collect, &g, err, sizeof(err)),
	    GK_ESYNTAX);
	assert_non_null(strstr(err, "l.txt:1: NUL byte"));
}

static void test_names(void **state)
{
	(void)state;
	assert_true(gk_zonelist_name_ok(".", 1));
	assert_true(gk_zonelist_name_ok("cn", 2));
	assert_true(gk_zonelist_name_ok("xn--fiqs8s.cn.", 14));
	assert_false(gk_zonelist_name_ok("", 0));
	assert_false(gk_zonelist_name_ok("..", 2));
	assert_false(gk_zonelist_name_ok(".cn", 3));
	assert_false(gk_zonelist_name_ok("a b", 3));
	assert_false(gk_zonelist_name_ok("a/b", 3));
	assert_true(gk_zonelist_pattern_ok("%s.zone"));
	assert_true(gk_zonelist_pattern_ok("db.%s"));
	assert_false(gk_zonelist_pattern_ok("zone"));
	assert_false(gk_zonelist_pattern_ok("%s.%s"));
	assert_false(gk_zonelist_pattern_ok("%d.zone"));
	assert_false(gk_zonelist_pattern_ok("sub/%s"));
}

static void test_scan_dir(void **state)
{
	(void)state;
	char dir[128], err[256];
	snprintf(dir, sizeof(dir), "%s/zd", tmpdir);
	assert_int_equal(mkdir(dir, 0700), 0);
	write_file("zd/b.cn.zone", "x");
	write_file("zd/a.cn.zone", "x");
	write_file("zd/readme.txt", "x");
	write_file("zd/.c.cn.zone.swp", "x");
	write_file("zd/.hidden.zone", "x");
	char sub[160];
	snprintf(sub, sizeof(sub), "%s/sub.zone", dir);
	assert_int_equal(mkdir(sub, 0700), 0);
	struct got g = {0};
	assert_int_equal(gk_zonelist_scan_dir(dir, "%s.zone", collect, &g, err, sizeof(err)), 0);
	char want[512];
	snprintf(want, sizeof(want), "0:a.cn=%s/a.cn.zone;0:b.cn=%s/b.cn.zone;", dir, dir);
	assert_string_equal(g.text, want);
	/* a matching file whose name part is not a zone name */
	write_file("zd/bad..name.zone", "x");
	memset(&g, 0, sizeof(g));
	assert_int_equal(gk_zonelist_scan_dir(dir, "%s.zone", collect, &g, err, sizeof(err)),
	                 GK_ESYNTAX);
	assert_non_null(strstr(err, "bad..name.zone: 'bad..name'"));
	snprintf(sub, sizeof(sub), "%s/nope", tmpdir);
	assert_true(gk_zonelist_scan_dir(sub, "%s.zone", collect, &g, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot open zones directory"));
}

static void test_state_write(void **state)
{
	(void)state;
	char path[128], err[256];
	snprintf(path, sizeof(path), "%s/zones.state", tmpdir);
	const char *names[] = {"a.cn", "b.cn"}, *files[] = {"/z/a.zone", "/z/b.zone"};
	assert_int_equal(gk_zonelist_write(path, names, files, 2, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	struct got g = {0};
	assert_int_equal(gk_zonelist_read(path, false, collect, &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "2:a.cn=/z/a.zone;3:b.cn=/z/b.zone;");
	char tmp[160];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_not_equal(access(tmp, F_OK), 0); /* renamed away */
	/* a missing list: GK_ENOENT when allowed, an error naming it otherwise */
	snprintf(path, sizeof(path), "%s/none.list", tmpdir);
	assert_int_equal(gk_zonelist_read(path, true, collect, &g, err, sizeof(err)), GK_ENOENT);
	assert_true(gk_zonelist_read(path, false, collect, &g, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "none.list: cannot read zone list"));
	/* a FIFO is refused without waiting for a writer */
	snprintf(path, sizeof(path), "%s/fifo.list", tmpdir);
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(gk_zonelist_read(path, false, collect, &g, err, sizeof(err)), GK_ENOTREG);
	assert_non_null(strstr(err, "not a regular file"));
}

static int collect_j(void *ctx, bool add, const char *name, size_t nl, const char *file, size_t fl,
                     size_t line)
{
	struct got *g = ctx;
	size_t used = strlen(g->text);
	snprintf(g->text + used, sizeof(g->text) - used, "%zu:%c%.*s=%.*s;", line, add ? '+' : '-',
	         (int)nl, name, (int)fl, file ? file : "");
	g->n++;
	return 0;
}

/* The journal: one durable line per change, applied over the state file (the last line for
 * a name wins), folded in and removed by a write of the state file. */
static void test_state_journal(void **state)
{
	(void)state;
	char path[128], jp[160], err[512];
	snprintf(path, sizeof(path), "%s/j.state", tmpdir);
	assert_int_equal(gk_zonelist_journal_path(path, jp, sizeof(jp)), 0);
	struct got g = {0};
	/* neither file: GK_ENOENT */
	assert_int_equal(gk_zonelist_read_state(path, collect, &g, err, sizeof(err)), GK_ENOENT);
	const char *names[] = {"a.cn", "b.cn"}, *files[] = {"/z/a.zone", "/z/b.zone"};
	assert_int_equal(gk_zonelist_write(path, names, files, 2, err, sizeof(err)), 0);
	size_t js = 0;
	assert_int_equal(
	    gk_zonelist_journal_append(path, true, "c.cn", "/z/c.zone", &js, err, sizeof(err)), 0);
	assert_int_equal(js, strlen("+ c.cn /z/c.zone\n"));
	assert_int_equal(
	    gk_zonelist_journal_append(path, false, "A.cn.", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(
	    gk_zonelist_journal_append(path, true, "d.cn", "/z/d.zone", NULL, err, sizeof(err)), 0);
	assert_int_equal(
	    gk_zonelist_journal_append(path, false, "d.cn", NULL, NULL, err, sizeof(err)), 0);
	assert_int_equal(
	    gk_zonelist_journal_append(path, true, "b.cn", "/z/b2.zone", NULL, err, sizeof(err)),
	    0);
	/* a bad file (a blank would make a third field) is refused, nothing appended */
	assert_int_equal(
	    gk_zonelist_journal_append(path, true, "e.cn", "/z/e f", NULL, err, sizeof(err)),
	    GK_EINVAL);
	struct stat st;
	assert_int_equal(stat(jp, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* an append cut short (no newline) is ignored */
	FILE *f = fopen(jp, "a");
	assert_non_null(f);
	fputs("+ torn.cn /z/to", f);
	fclose(f);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gk_zonelist_read_state(path, collect, &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "1:c.cn=/z/c.zone;5:b.cn=/z/b2.zone;");
	/* replaying the journal over a state that already has it changes nothing */
	const char *n2[] = {"c.cn", "b.cn"}, *f2[] = {"/z/c.zone", "/z/b2.zone"};
	char keep[4096];
	FILE *jf = fopen(jp, "r");
	assert_non_null(jf);
	size_t kl = fread(keep, 1, sizeof(keep), jf);
	fclose(jf);
	assert_int_equal(gk_zonelist_write(path, n2, f2, 2, err, sizeof(err)), 0);
	assert_int_not_equal(access(jp, F_OK), 0); /* folded in: removed */
	memset(&g, 0, sizeof(g));
	assert_int_equal(gk_zonelist_read_state(path, collect, &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "2:c.cn=/z/c.zone;3:b.cn=/z/b2.zone;");
	jf = fopen(jp, "w"); /* a crash between the rename and the journal's removal */
	assert_non_null(jf);
	fwrite(keep, 1, kl, jf);
	fclose(jf);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gk_zonelist_read_state(path, collect, &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "1:c.cn=/z/c.zone;5:b.cn=/z/b2.zone;");
	/* a journal alone (no state file yet) */
	snprintf(path, sizeof(path), "%s/j2.state", tmpdir);
	assert_int_equal(
	    gk_zonelist_journal_append(path, true, "x.cn", "x.zone", NULL, err, sizeof(err)), 0);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gk_zonelist_read_state(path, collect, &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "1:x.cn=x.zone;");
	/* the parser: every complete line, errors name the journal and line */
	const char *ok = "+ a.cn /a\n\n- b.cn\n+ c.cn /c";
	memset(&g, 0, sizeof(g));
	assert_int_equal(
	    gk_zonelist_journal_parse(ok, strlen(ok), "j", collect_j, &g, err, sizeof(err)), 0);
	assert_string_equal(g.text, "1:+a.cn=/a;3:-b.cn=;");
	const char *bad[][2] = {{"* a.cn /a\n", "j:1: expected '+ NAME FILE' or '- NAME'"},
	                        {"- a.cn /a\n", "j:1: expected '- NAME'"},
	                        {"- a.cn\n+ a.cn\n", "j:2: expected '+ NAME FILE'"},
	                        {"+ a..cn /a\n", "j:1: 'a..cn' is not a valid zone name"}};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		assert_int_equal(gk_zonelist_journal_parse(bad[i][0], strlen(bad[i][0]), "j",
		                                           collect_j, &g, err, sizeof(err)),
		                 GK_ESYNTAX);
		assert_string_equal(err, bad[i][1]);
	}
	/* a broken journal: reading the state fails naming it */
	snprintf(path, sizeof(path), "%s/j3.state", tmpdir);
	write_file("j3.state.journal", "+ a.cn /a\n? b.cn\n");
	assert_int_equal(gk_zonelist_read_state(path, collect, &g, err, sizeof(err)), GK_ESYNTAX);
	assert_non_null(strstr(err, "j3.state.journal:2: "));
}

/* The config combines every source; a zone configured twice names both places. */
static void test_config_sources(void **state)
{
	(void)state;
	char path[128], err[512];
	char zd[128];
	snprintf(zd, sizeof(zd), "%s/cz", tmpdir);
	assert_int_equal(mkdir(zd, 0700), 0);
	write_file("cz/d1.cn.zone", "x");
	write_file("cz/d2.cn.zone", "x");
	write_file("zones.list", "# list\nl1.cn l1.zone\nl2.cn /abs/l2.zone\n");
	write_file("added.state", "s1.cn /abs/s1.zone\n");
	char body[1024];
	snprintf(body, sizeof(body),
	         "listen: [\"127.0.0.1:53\"]\n"
	         "zones:\n"
	         "  - {name: y1.cn, file: y1.zone}\n"
	         "zone_list: zones.list\n"
	         "zones_dir: {path: cz, pattern: \"%%s.zone\"}\n"
	         "control: {socket: ctl.sock, state_file: added.state}\n");
	write_file("c.yaml", body);
	snprintf(path, sizeof(path), "%s/c.yaml", tmpdir);
	gk_config_t *cfg;
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_zones, 6);
	const char *want[] = {"y1.cn", "l1.cn", "l2.cn", "d1.cn", "d2.cn", "s1.cn"};
	const enum gk_config_zone_src src[] = {GK_CONFIG_ZSRC_CONFIG, GK_CONFIG_ZSRC_LIST,
	                                       GK_CONFIG_ZSRC_LIST,   GK_CONFIG_ZSRC_DIR,
	                                       GK_CONFIG_ZSRC_DIR,    GK_CONFIG_ZSRC_STATE};
	for (size_t i = 0; i < 6; i++) {
		assert_string_equal(cfg->zones[i].name, want[i]);
		assert_int_equal(cfg->zone_origin[i].src, src[i]);
	}
	char f[256];
	snprintf(f, sizeof(f), "%s/l1.zone", tmpdir);
	assert_string_equal(cfg->zones[1].file, f);
	assert_string_equal(cfg->zones[2].file, "/abs/l2.zone");
	assert_int_equal(cfg->zone_origin[1].line, 2);
	/* per zone: a 16-byte origin and a 56-byte spec */
	assert_int_equal(sizeof(cfg->zone_origin[0]), 16);
	assert_int_equal(sizeof(cfg->zones[0]), 56);
	snprintf(f, sizeof(f), "%s/ctl.sock", tmpdir);
	assert_string_equal(cfg->control.socket, f);
	gk_daemon_config_free(cfg);
	/* gkctl's control commands read none of the lists */
	assert_int_equal(
	    gk_daemon_config_load_flags(path, GK_CONFIG_NO_ZONE_LISTS, &cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->n_zones, 1);
	gk_daemon_config_free(cfg);

	/* the same zone in the list and the directory: the later place, and the first */
	write_file("zones.list", "l1.cn l1.zone\nD1.CN. x.zone\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	snprintf(f, sizeof(f),
	         "%s/cz/d1.cn.zone: zone 'd1.cn' is configured twice (first at %s/zones.list:2)",
	         tmpdir, tmpdir);
	assert_string_equal(err, f);
	/* listed twice in one file: both lines */
	write_file("zones.list", "l1.cn a.zone\n\nl1.cn. b.zone\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	snprintf(f, sizeof(f),
	         "%s/zones.list:3: zone 'l1.cn.' is configured twice (first at %s/zones.list:1)",
	         tmpdir, tmpdir);
	assert_string_equal(err, f);
	/* the YAML list and the state file */
	write_file("zones.list", "l1.cn a.zone\n");
	write_file("added.state", "Y1.cn /abs/y.zone\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	snprintf(f, sizeof(f), "%s/added.state:1: zone 'Y1.cn' is configured twice (first at %s:3)",
	         tmpdir, path);
	assert_string_equal(err, f);
	/* a list error names the list's file and line */
	write_file("added.state", "");
	write_file("zones.list", "l1.cn a.zone\nbad_name!.cn x\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	snprintf(f, sizeof(f), "%s/zones.list:2: 'bad_name!.cn' is not a valid zone name", tmpdir);
	assert_string_equal(err, f);
	/* a missing state file is an empty one; a missing zone list is an error */
	write_file("zones.list", "l1.cn a.zone\n");
	snprintf(f, sizeof(f), "%s/added.state", tmpdir);
	unlink(f);
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), 0);
	gk_daemon_config_free(cfg);
	snprintf(f, sizeof(f), "%s/zones.list", tmpdir);
	unlink(f);
	assert_true(gk_daemon_config_load(path, &cfg, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "zones.list: cannot read zone list"));
	/* a bad pattern names the config line */
	write_file("c.yaml",
	           "listen: [\"127.0.0.1:53\"]\nzones_dir: {path: cz, pattern: \"x.zone\"}\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	assert_non_null(strstr(err, "c.yaml:2: zones_dir.pattern: 'x.zone' needs exactly one %s"));
	/* no zone source at all */
	write_file("c.yaml", "listen: [\"127.0.0.1:53\"]\nzones: []\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	assert_non_null(strstr(err, "c.yaml:2: zones: at least one zone is required"));
	/* control without its state file */
	write_file("c.yaml", "listen: [\"127.0.0.1:53\"]\ncontrol: {socket: s}\n");
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	assert_non_null(strstr(err, "c.yaml:2: control: missing required key 'state_file'"));
}

/* A million entries: one pass, no quadratic step (a duplicate at the very end is found). */
static void test_million(void **state)
{
	(void)state;
	size_t n = 1000000, cap = n * 32;
	char *buf = malloc(cap), *p = buf;
	assert_non_null(buf);
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "z%zu.example /z/%zu.zone\n", i, i);
	char path[128], err[512];
	snprintf(path, sizeof(path), "%s/big.list", tmpdir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fwrite(buf, 1, (size_t)(p - buf), f);
	fprintf(f, "Z999999.example. /z/again.zone\n");
	fclose(f);
	free(buf);
	write_file("big.yaml", "listen: [\"127.0.0.1:53\"]\nzone_list: big.list\n");
	snprintf(path, sizeof(path), "%s/big.yaml", tmpdir);
	gk_config_t *cfg;
	assert_int_equal(gk_daemon_config_load(path, &cfg, err, sizeof(err)), GK_ECONFIG);
	assert_non_null(strstr(err, "big.list:1000001: zone 'Z999999.example.' is configured twice "
	                            "(first at "));
	assert_non_null(strstr(err, "big.list:1000000)"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_ok),    cmocka_unit_test(test_parse_errors),
	    cmocka_unit_test(test_names),       cmocka_unit_test(test_scan_dir),
	    cmocka_unit_test(test_state_write), cmocka_unit_test(test_config_sources),
	    cmocka_unit_test(test_million),     cmocka_unit_test(test_state_journal),
	};
	return cmocka_run_group_tests(tests, setup_dir, remove_dir);
}
