/* SPDX-License-Identifier: MIT */
/* tests/unit/policy/test_policy.c -- the policy compiler and gk_policy_match: precedence
 * (status x block x allow x mode, most specific, block beats allow, exact vs below), every
 * RPZ action, the samples in policy/, and a corpus of malformed policies and lists that must
 * each be rejected with the right file:line while a built policy stays usable.
 *
 * Runs from the repository root (ctest WORKING_DIRECTORY).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "common/dname.h"
#include "policy/internal.h"
#include "policy/policy.h"

#define BAD "tests/unit/policy/fixtures/bad/"

/* ---- helpers ---------------------------------------------------------------------------- */

/* Match a presentation name. */
static const gk_policy_hit_t *match(const gk_policy_t *p, const char *name)
{
	uint8_t wire[GK_DNAME_MAX + 1], loff[GK_DNAME_LABELS_MAX];
	unsigned labels = 0;
	const char *why;
	size_t len;
	if (strcmp(name, ".") == 0) {
		wire[0] = 0;
		len = 1;
	} else {
		len = gk_policy_name_wire(name, strlen(name), wire, &labels, &why);
		assert_true(len > 0);
	}
	for (size_t o = 0, i = 0; wire[o]; o += wire[o] + 1u)
		loff[i++] = (uint8_t)o;
	/* the packet path hands over the question's hash states: the same entry decides */
	uint64_t st[GK_DNAME_LABELS_MAX + 1];
	gk_namehash_states(wire, len, loff, labels, st);
	const gk_policy_hit_t *hit = gk_policy_match(p, wire, len, loff, labels, NULL);
	assert_ptr_equal(gk_policy_match(p, wire, len, loff, labels, st), hit);
	return hit;
}

static gk_policy_t *build(const char *yaml, const gk_policy_file_t *files, size_t n)
{
	gk_policy_t *p = NULL;
	char err[512];
	int rc = gk_policy_build_mem("p.yaml", yaml, strlen(yaml), files, n, &p, err, sizeof err);
	if (rc != 0)
		fail_msg("build failed (%d): %s", rc, err);
	return p;
}

static void expect_err(const char *yaml, const gk_policy_file_t *files, size_t n, const char *want)
{
	gk_policy_t *p = (gk_policy_t *)0x1;
	char err[512];
	int rc = gk_policy_build_mem("p.yaml", yaml, strlen(yaml), files, n, &p, err, sizeof err);
	if (rc == 0)
		fail_msg("built, expected '%s'", want);
	assert_true(rc < 0);
	assert_ptr_equal(p, (gk_policy_t *)0x1); /* *out untouched */
	if (!strstr(err, want))
		fail_msg("error '%s' does not contain '%s'", err, want);
}

#define FILE_OF(n, t)                                                                              \
	{                                                                                          \
		n, t, sizeof(t) - 1                                                                \
	}

static int verdict(const gk_policy_hit_t *h)
{
	return h ? h->verdict : 0;
}

static int action(const gk_policy_hit_t *h)
{
	return h && h->action ? (int)h->action->action : -1;
}

/* ---- precedence --------------------------------------------------------------------------- */

static const char prec_yaml[] = "lists:\n"
                                "  - {file: block, kind: block, action: nxdomain}\n"
                                "  - {file: allow, kind: allow}\n"
                                "  - {file: block2, kind: block, action: drop}\n";
static const char prec_block[] = "# block\n"
                                 ".bad.cn\n"
                                 "only.cn\n"
                                 "both.cn\n"
                                 ".tree.cn\n"
                                 "deep.ok.bad.cn\n"
                                 ".x.y.z.cn\n";
static const char prec_allow[] = ".ok.bad.cn\n"
                                 "both.cn\n"
                                 "tree.cn\n"
                                 ".only.cn\n"
                                 ".y.z.cn\n";
static const char prec_block2[] = "only.cn\n"
                                  "new.cn\n";

static void test_precedence(void **state)
{
	(void)state;
	gk_policy_file_t f[] = {FILE_OF("block", prec_block), FILE_OF("allow", prec_allow),
	                        FILE_OF("block2", prec_block2)};
	gk_policy_t *p = build(prec_yaml, f, 3);
	static const struct {
		const char *q;
		int verdict, action;
	} cases[] = {
	    /* `.bad.cn` blocks the name and everything below it */
	    {"bad.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"www.bad.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"a.b.c.bad.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    /* most specific wins: `.ok.bad.cn` allow under `.bad.cn` block */
	    {"ok.bad.cn", GK_POLICY_ALLOW, -1},
	    {"w.ok.bad.cn", GK_POLICY_ALLOW, -1},
	    /* ... and an exact block below that allow wins again */
	    {"deep.ok.bad.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"x.deep.ok.bad.cn", GK_POLICY_ALLOW, -1},
	    /* exact only: `only.cn` blocked, below it `.only.cn` allow (exact block beats
	     * the allow at the same name; first list's action among blocks) */
	    {"only.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"www.only.cn", GK_POLICY_ALLOW, -1},
	    /* block beats allow at the same name, whatever the list order */
	    {"both.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"tree.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"a.tree.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"new.cn", GK_POLICY_BLOCK, GK_ACT_DROP},
	    {"a.new.cn", 0, -1},
	    /* nearest ancestor decides: .x.y.z.cn block is below .y.z.cn allow */
	    {"x.y.z.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"q.x.y.z.cn", GK_POLICY_BLOCK, GK_ACT_NXDOMAIN},
	    {"y.z.cn", GK_POLICY_ALLOW, -1},
	    {"q.y.z.cn", GK_POLICY_ALLOW, -1},
	    {"z.cn", 0, -1},
	    {"cn", 0, -1},
	    {".", 0, -1},
	    {"notbad.cn", 0, -1},
	    {"bad.cn.example", 0, -1},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const gk_policy_hit_t *h = match(p, cases[i].q);
		if (verdict(h) != cases[i].verdict || action(h) != cases[i].action)
			fail_msg("%s: verdict %d action %d, want %d %d", cases[i].q, verdict(h),
			         action(h), cases[i].verdict, cases[i].action);
	}
	/* the hit names its list */
	assert_int_equal(match(p, "new.cn")->list, 3);
	assert_string_equal(gk_policy_list_name(p, 3), "block2");
	assert_null(gk_policy_list_name(p, 4));
	gk_policy_free(p);
}

/* The decision matrix the packet path applies, at the policy level:
 * status x (block entry?) x (allow entry?) x mode -> (outcome, what is logged). */
enum outcome { RESOLVE, REFUSE_BLOCK, REFUSE_STATUS };

static enum outcome decide(const gk_policy_t *p, const char *q, gk_policy_status_t st, bool filed,
                           bool *logged)
{
	const gk_policy_hit_t *h = match(p, q);
	enum outcome o;
	if (h && h->verdict == GK_POLICY_BLOCK)
		o = REFUSE_BLOCK;
	else if (h)
		o = RESOLVE;
	else if (filed)
		o = RESOLVE;
	else
		o = gk_policy_status(p, st)->verdict == GK_POLICY_BLOCK ? REFUSE_STATUS : RESOLVE;
	*logged = o != RESOLVE;
	if (gk_policy_mode(p) == GK_POLICY_MONITOR)
		return RESOLVE; /* logged as would-be refusal */
	return o;
}

static void test_matrix(void **state)
{
	(void)state;
	static const char blk[] = "b.cn\nba.cn\n", alw[] = "a.cn\nba.cn\n";
	gk_policy_file_t f[] = {FILE_OF("b", blk), FILE_OF("a", alw)};
	for (int mon = 0; mon < 2; mon++) {
		char yaml[512];
		snprintf(yaml, sizeof yaml,
		         "mode: %s\nunknown: {action: resolve}\n"
		         "lists:\n  - {file: b, kind: block}\n  - {file: a, kind: allow}\n",
		         mon ? "monitor" : "enforce");
		gk_policy_t *p = build(yaml, f, 2);
		assert_int_equal(gk_policy_mode(p), mon ? GK_POLICY_MONITOR : GK_POLICY_ENFORCE);
		/* name: none, block only, allow only, both */
		static const char *names[] = {"n.cn", "b.cn", "a.cn", "ba.cn"};
		for (int s = 0; s < 4; s++) { /* filed, unfiled, revoked, unknown */
			for (int n = 0; n < 4; n++) {
				bool logged;
				gk_policy_status_t st =
				    s == 0 ? GK_POLICY_UNFILED : (gk_policy_status_t)(s - 1);
				enum outcome o = decide(p, names[n], st, s == 0, &logged);
				enum outcome want;
				bool blocked = n == 1 || n == 3; /* block beats allow */
				if (blocked)
					want = REFUSE_BLOCK;
				else if (n == 2 || s == 0 || s == 3) /* allow, filed, fail open */
					want = RESOLVE;
				else
					want = REFUSE_STATUS;
				if (logged != (want != RESOLVE) || o != (mon ? RESOLVE : want))
					fail_msg("mode %d status %d name %s: %d (logged %d)", mon,
					         s, names[n], o, logged);
			}
		}
		gk_policy_free(p);
	}
}

static void test_defaults(void **state)
{
	(void)state;
	gk_policy_t *p = build("", NULL, 0);
	assert_int_equal(gk_policy_mode(p), GK_POLICY_ENFORCE);
	const gk_policy_hit_t *u = gk_policy_status(p, GK_POLICY_UNFILED);
	assert_int_equal(u->verdict, GK_POLICY_BLOCK);
	assert_int_equal(u->action->action, GK_ACT_REFUSE);
	assert_int_equal(u->action->ede_code, 15);
	assert_memory_equal(u->action->text, "ICP filing required", u->action->text_len);
	assert_int_equal(gk_policy_status(p, GK_POLICY_REVOKED)->action->action, GK_ACT_NXDOMAIN);
	assert_int_equal(gk_policy_status(p, GK_POLICY_UNKNOWN)->action->action, GK_ACT_REFUSE);
	/* a public suffix itself (a registry's apex) resolves unless the policy says otherwise */
	assert_int_equal(gk_policy_status(p, GK_POLICY_NOREG)->verdict, GK_POLICY_ALLOW);
	gk_policy_free(p);
	p = build("no_registrable: { action: refuse, ede: 18 }\n", NULL, 0);
	assert_int_equal(gk_policy_status(p, GK_POLICY_NOREG)->verdict, GK_POLICY_BLOCK);
	assert_int_equal(gk_policy_status(p, GK_POLICY_NOREG)->action->action, GK_ACT_REFUSE);
	assert_int_equal(gk_policy_status(p, GK_POLICY_NOREG)->action->ede_code, 18);
	assert_null(match(p, "anything.cn"));
	assert_null(gk_policy_match(NULL, (const uint8_t *)"", 1, NULL, 0, NULL));
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	assert_int_equal(st.entries, 0);
	gk_policy_free(p);
}

static void test_redirect(void **state)
{
	(void)state;
	static const char yaml[] = "revoked: {action: redirect, ede: 18, text: gone}\n"
	                           "redirect: {a: [192.0.2.1, 192.0.2.2], aaaa: ['2001:db8::1'], "
	                           "ttl: 60}\n"
	                           "lists: [{file: b, kind: block, action: redirect}]\n";
	static const char blk[] = ".r.cn\n";
	gk_policy_file_t f[] = {FILE_OF("b", blk)};
	gk_policy_t *p = build(yaml, f, 1);
	const gk_policy_hit_t *h = gk_policy_status(p, GK_POLICY_REVOKED);
	assert_int_equal(h->verdict, GK_POLICY_BLOCK);
	assert_int_equal(h->action->action, GK_ACT_NODATA);
	assert_int_equal(h->action->ede_code, 18);
	assert_non_null(h->local);
	assert_int_equal(h->local->n, 3);
	assert_int_equal(h->local->rr[0].type, 1);
	assert_int_equal(h->local->rr[0].ttl, 60);
	assert_memory_equal(h->local->rr[1].rdata, "\xc0\x00\x02\x02", 4);
	assert_int_equal(h->local->rr[2].type, 28);
	assert_int_equal(h->local->rr[2].rdlen, 16);
	h = match(p, "www.r.cn");
	assert_ptr_equal(h->local, gk_policy_status(p, GK_POLICY_REVOKED)->local);
	gk_policy_free(p);
}

/* ---- RPZ ---------------------------------------------------------------------------------- */

static const char rpz_zone[] = "$TTL 300\n"
                               "$ORIGIN rpz.test.\n"
                               "@ SOA ns hm 1 3600 600 86400 300\n"
                               "  NS ns.example.\n"
                               "nx.cn CNAME .\n"                       /* 5 */
                               "*.nx.cn CNAME .\n"                     /* 6 */
                               "nodata.cn CNAME *.\n"                  /* 7 */
                               "pass.nx.cn CNAME rpz-passthru.\n"      /* 8 */
                               "drop.cn CNAME rpz-drop.\n"             /* 9 */
                               "tcp.cn CNAME rpz-tcp-only.\n"          /* 10 */
                               "local.cn A 192.0.2.7\n"                /* 11 */
                               "local.cn TXT \"hello\"\n"              /* 12 */
                               "local.cn A 192.0.2.8\n"                /* 13 */
                               "*.wild.cn AAAA 2001:db8::7\n"          /* 14 */
                               "garden.cn CNAME walled.example.net.\n" /* 15 */
                               "old.cn CNAME old.cn.\n"                /* 16: legacy passthru */
                               "UPPER.CN CNAME .\n"
                               "32.1.2.0.192.rpz-ip CNAME .\n"
                               "ns.example.rpz-nsdname CNAME .\n";

static void test_rpz_actions(void **state)
{
	(void)state;
	static const char yaml[] = "lists: [{file: z.rpz, format: rpz, ede: 17, text: rpz}]\n";
	gk_policy_file_t f[] = {FILE_OF("z.rpz", rpz_zone)};
	gk_policy_t *p = build(yaml, f, 1);
	const gk_policy_hit_t *h;

	h = match(p, "nx.cn");
	assert_int_equal(verdict(h), GK_POLICY_BLOCK);
	assert_int_equal(action(h), GK_ACT_NXDOMAIN);
	assert_int_equal(h->action->ede_code, 17);
	assert_int_equal(action(match(p, "a.b.nx.cn")), GK_ACT_NXDOMAIN);
	assert_int_equal(verdict(match(p, "pass.nx.cn")), GK_POLICY_PASSTHRU);
	assert_null(match(p, "pass.nx.cn")->action);
	/* `pass.nx.cn` is exact: names below it fall back to *.nx.cn */
	assert_int_equal(action(match(p, "x.pass.nx.cn")), GK_ACT_NXDOMAIN);
	assert_int_equal(action(match(p, "nodata.cn")), GK_ACT_NODATA);
	assert_null(match(p, "x.nodata.cn"));
	assert_int_equal(action(match(p, "drop.cn")), GK_ACT_DROP);
	assert_int_equal(verdict(match(p, "tcp.cn")), GK_POLICY_TCP_ONLY);
	assert_int_equal(verdict(match(p, "old.cn")), GK_POLICY_PASSTHRU);
	assert_int_equal(action(match(p, "upper.cn")), GK_ACT_NXDOMAIN);

	h = match(p, "local.cn");
	assert_int_equal(verdict(h), GK_POLICY_BLOCK);
	assert_int_equal(action(h), GK_ACT_NODATA);
	assert_non_null(h->local);
	assert_int_equal(h->local->n, 3);
	/* grouped by type, file order inside a type */
	assert_int_equal(h->local->rr[0].type, 1);
	assert_memory_equal(h->local->rr[0].rdata, "\xc0\x00\x02\x07", 4);
	assert_int_equal(h->local->rr[1].type, 1);
	assert_memory_equal(h->local->rr[1].rdata, "\xc0\x00\x02\x08", 4);
	assert_int_equal(h->local->rr[2].type, 16);
	assert_memory_equal(h->local->rr[2].rdata, "\x05hello", 6);
	assert_int_equal(h->local->rr[0].ttl, 300);
	/* a wildcard covers names below, not the name itself */
	assert_null(match(p, "wild.cn"));
	h = match(p, "a.wild.cn");
	assert_int_equal(h->local->rr[0].type, 28);
	h = match(p, "garden.cn");
	assert_int_equal(h->local->n, 1);
	assert_int_equal(h->local->rr[0].type, 5);
	assert_memory_equal(h->local->rr[0].rdata,
	                    "\x06walled\x07"
	                    "example\x03net",
	                    20);

	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	assert_int_equal(st.rpz_skipped, 2);
	gk_policy_free(p);
}

/* zone: given in the policy, names relative to it, and the apex checked against it. */
static void test_rpz_zone_key(void **state)
{
	(void)state;
	static const char z[] = "@ SOA ns hm 1 1 1 1 1\n"
	                        "x.cn CNAME .\n";
	static const char yaml[] = "lists: [{file: z, format: rpz, zone: rpz.local}]\n";
	gk_policy_file_t f[] = {FILE_OF("z", z)};
	gk_policy_t *p = build(yaml, f, 1);
	assert_int_equal(action(match(p, "x.cn")), GK_ACT_NXDOMAIN);
	gk_policy_free(p);
	/* RPZ block beats a plain allow at the same name; passthru is an allow */
	static const char z2[] = "$ORIGIN r.\n@ SOA ns hm 1 1 1 1 1\n"
	                         "a.cn CNAME .\nb.cn CNAME rpz-passthru.\n";
	static const char alw[] = "a.cn\n", blk[] = "b.cn\n";
	gk_policy_file_t f2[] = {FILE_OF("a", alw), FILE_OF("z", z2), FILE_OF("b", blk)};
	p = build("lists: [{file: a, kind: allow}, {file: z, format: rpz}, "
	          "{file: b, kind: block}]\n",
	          f2, 3);
	assert_int_equal(action(match(p, "a.cn")), GK_ACT_NXDOMAIN);
	assert_int_equal(action(match(p, "b.cn")), GK_ACT_REFUSE);
	gk_policy_free(p);
}

/* ---- the samples and files on disk ------------------------------------------------------ */

static void test_samples(void **state)
{
	(void)state;
	gk_policy_t *p = NULL;
	char err[512];
	int rc = gk_policy_build("policy/policy.yaml", &p, err, sizeof err);
	if (rc)
		fail_msg("%s", err);
	assert_int_equal(action(match(p, "www.phish.example.cn")), GK_ACT_NXDOMAIN);
	assert_int_equal(match(p, "www.phish.example.cn")->action->ede_code, 17);
	assert_int_equal(verdict(match(p, "help.phish.example.cn")), GK_POLICY_ALLOW);
	assert_int_equal(verdict(match(p, "www.gov.cn")), GK_POLICY_ALLOW);
	assert_null(match(p, "www.casino.example.com.cn"));
	assert_int_equal(action(match(p, "casino.example.com.cn")), GK_ACT_NXDOMAIN);
	assert_int_equal(action(match(p, "x.bad.example.cn")), GK_ACT_NXDOMAIN);
	assert_int_equal(verdict(match(p, "ok.bad.example.cn")), GK_POLICY_PASSTHRU);
	assert_int_equal(verdict(match(p, "slow.example.cn")), GK_POLICY_TCP_ONLY);
	assert_int_equal(action(match(p, "silent.example.cn")), GK_ACT_DROP);
	assert_int_equal(action(match(p, "empty.example.cn")), GK_ACT_NODATA);
	assert_int_equal(match(p, "notice.example.cn")->local->n, 3);
	assert_non_null(gk_policy_status(p, GK_POLICY_REVOKED)->local);
	gk_policy_free(p);
}

/* ---- malformed input ---------------------------------------------------------------------- */

/* Every file in fixtures/bad/ named *.yaml is a policy that must fail; its first line is
 * "# expect: TEXT", TEXT a substring of the message (file:line included). A good policy
 * built before stays usable. */
static void test_bad_corpus(void **state)
{
	(void)state;
	static const char blk[] = ".keep.cn\n";
	gk_policy_file_t f[] = {FILE_OF("b", blk)};
	gk_policy_t *running = build("lists: [{file: b, kind: block}]\n", f, 1);
	DIR *d = opendir(BAD);
	assert_non_null(d);
	struct dirent *e;
	unsigned n = 0;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 6 || strcmp(e->d_name + l - 5, ".yaml") != 0)
			continue;
		char path[512], want[256] = "";
		snprintf(path, sizeof path, BAD "%s", e->d_name);
		FILE *fp = fopen(path, "r");
		assert_non_null(fp);
		char first[300];
		assert_non_null(fgets(first, sizeof first, fp));
		fclose(fp);
		assert_true(sscanf(first, "# expect: %255[^\n]", want) == 1);
		gk_policy_t *p = running;
		char err[512];
		int rc = gk_policy_build(path, &p, err, sizeof err);
		if (rc == 0)
			fail_msg("%s: built", path);
		assert_ptr_equal(p, running);
		if (!strstr(err, want))
			fail_msg("%s: '%s' does not contain '%s'", path, err, want);
		assert_int_equal(action(match(running, "x.keep.cn")), GK_ACT_REFUSE);
		n++;
	}
	closedir(d);
	assert_true(n >= 20);
	gk_policy_free(running);
}

/* In-memory cases: list lines, and RPZ records. */
static void test_bad_lists(void **state)
{
	(void)state;
	static const struct {
		const char *fmt, *text, *want;
	} cases[] = {
	    {"plain", "ok.cn\nbad..cn\n", "l:2: 'bad..cn': empty label"},
	    {"plain", "a.cn b.cn\n", "l:1: one name per line"},
	    {"plain", "\n\n*.a.cn\n", "l:3: '*' in a plain list"},
	    {"plain", "a.cn\n.\n", "l:2: "},
	    {"plain", "ex\xc3\xa4mple.cn\n", "l:1: 'ex\xc3\xa4mple.cn': non-ASCII"},
	    {"plain", "a$b.cn\n", "l:1: 'a$b.cn': character not allowed"},
	    {"plain",
	     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.cn\n",
	     "l:1: ",
	     /* label > 63 */},
	    {"rpz", "x.cn CNAME .\n", "l:1: no SOA record"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\n@ SOA a b 2 1 1 1 1\n",
	     "l:3: second SOA record (first at line 2)"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\nx.cn. CNAME .\n",
	     "l:3: owner is outside the RPZ zone"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\n@ A 192.0.2.1\n",
	     "l:3: a record at the RPZ apex"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\nx.cn A 192.0.2.1\nx.cn CNAME .\n",
	     "l:4: CNAME and other data at one trigger (first record at line 3)"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\nx.cn CNAME .\nx.cn CNAME *.\n",
	     "l:4: CNAME and other data"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\nx.cn NS ns.example.\n",
	     "l:3: RPZ local data of type 2 is not supported"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\nx.cn CNAME *.example.\n",
	     "l:3: CNAME *.name"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\na.*.cn CNAME .\n",
	     "l:3: '*' is only allowed as the first label"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\nx.cn A 300.1.1.1\n", "l:3: "},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1\n$INCLUDE other\n", "l:3: $INCLUDE"},
	    {"rpz", "$ORIGIN r.\n@ SOA a b 1 1 1 1 1 (\n", "l:2: '(' not closed"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char yaml[128];
		snprintf(yaml, sizeof yaml, "lists:\n  - file: l\n    format: %s\n%s", cases[i].fmt,
		         strcmp(cases[i].fmt, "plain") == 0 ? "    kind: block\n" : "");
		gk_policy_file_t f = {"l", cases[i].text, strlen(cases[i].text)};
		expect_err(yaml, &f, 1, cases[i].want);
	}
}

/* Nesting is bounded (GK_YAML_MAX_DEPTH), with the line of the first collection too deep:
 * 100,000 levels are rejected at once instead of after tens of seconds. */
static void test_depth(void **state)
{
	(void)state;
	enum { DEEP = 100000 };
	char *yaml = malloc(2 * DEEP + 64);
	assert_non_null(yaml);
	size_t n = (size_t)sprintf(yaml, "# deep\nlists: ");
	memset(yaml + n, '[', DEEP);
	memset(yaml + n + DEEP, ']', DEEP);
	strcpy(yaml + n + 2 * DEEP, "\n");
	expect_err(yaml, NULL, 0, "p.yaml:2: nested deeper than 32 levels");
	free(yaml);
}

/* ---- scale: 1M entries ------------------------------------------------------------------ */

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the suffix hash and the filter ------------------------------------------------------ */

/* Every suffix's hash, as the query path computes it, equals the hash of the suffix alone
 * (gk_namehash at load time): short names (under 8 octets, where the words are assembled
 * octet by octet), labels longer than a word, and the 8-octet window at the name's end. */
static void test_suffix_hash(void **state)
{
	(void)state;
	const char *names[] = {"a",
	                       "a.b",
	                       "ab.cn",
	                       "www.foo.com.cn",
	                       "abcdefg.h",
	                       "abcdefgh.ij",
	                       "x.abcdefghijklmnopqrstuvwxyz0123456789.cn",
	                       "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z",
	                       "xn--fiqs8s.xn--55qx5d.cn",
	                       "0123456789012345678901234567890123456789012345678901234567890"
	                       "12.example.com"};
	uint64_t root = gk_namehash((const uint8_t *)"", 1);
	for (size_t k = 0; k < sizeof(names) / sizeof(*names); k++) {
		uint8_t wire[GK_DNAME_MAX + 1], loff[GK_DNAME_LABELS_MAX];
		uint64_t h[GK_DNAME_LABELS_MAX + 1];
		unsigned labels;
		const char *why;
		size_t len = gk_policy_name_wire(names[k], strlen(names[k]), wire, &labels, &why);
		assert_true(len > 0);
		for (size_t o = 0, i = 0; wire[o]; o += wire[o] + 1u)
			loff[i++] = (uint8_t)o;
		gk_namehash_suffixes(wire, len, loff, labels, h);
		for (unsigned i = 0; i < labels; i++)
			assert_true(h[i] == gk_namehash(wire + loff[i], len - loff[i]));
		assert_true(h[labels] == root);
		for (unsigned i = 0; i + 1 <= labels; i++)
			assert_true(h[i] != h[i + 1]);
	}
}

/* No false negatives through the filter: every entry of a list with names of many shapes
 * is found, its exact and below scopes as listed. */
static void test_filter_finds_all(void **state)
{
	(void)state;
	const size_t n = 20000;
	char *text = malloc(n * 48 + 64);
	assert_non_null(text);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len +=
		    (size_t)sprintf(text + len, "%s%.*s%zu.%s\n", i % 3 ? "" : ".", (int)(i % 23),
		                    "abcdefghijklmnopqrstuvw", i, i % 5 ? "cn" : "com.cn");
	gk_policy_file_t f = {"big", text, len};
	gk_policy_t *p = build("lists: [{file: big, kind: block}]\n", &f, 1);
	char q[128];
	for (size_t i = 0; i < n; i++) {
		const char *tld = i % 5 ? "cn" : "com.cn";
		snprintf(q, sizeof q, "%.*s%zu.%s", (int)(i % 23), "abcdefghijklmnopqrstuvw", i,
		         tld);
		assert_non_null(match(p, q));
		snprintf(q, sizeof q, "www.%.*s%zu.%s", (int)(i % 23), "abcdefghijklmnopqrstuvw", i,
		         tld);
		if (i % 3)
			assert_null(match(p, q));
		else
			assert_non_null(match(p, q));
	}
	assert_null(match(p, "cn"));
	assert_null(match(p, "absent.cn"));
	gk_policy_free(p);
	free(text);
}

static void test_scale(void **state)
{
	(void)state;
	const char *env = getenv("GK_POLICY_SCALE");
	size_t n = env ? strtoul(env, NULL, 10) : 200000;
	char *text = malloc(n * 32 + 64);
	assert_non_null(text);
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += (size_t)sprintf(text + len, "%sd%zu-x.example%zu.cn\n", i % 4 ? "" : ".", i,
		                       i % 1000);
	gk_policy_file_t f = {"big", text, len};
	double t0 = now();
	gk_policy_t *p = build("lists: [{file: big, kind: block}]\n", &f, 1);
	double t1 = now();
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	assert_int_equal(st.entries, n);
	/* every entry found; a miss below an exact entry misses */
	assert_non_null(match(p, "d1-x.example1.cn"));
	assert_non_null(match(p, "w.d0-x.example0.cn"));
	assert_null(match(p, "w.d1-x.example1.cn"));
	/* lookup cost: hits and misses, 3-4 labels */
	uint8_t q[4][64], loff[4][8];
	size_t ql[4];
	unsigned lab[4];
	const char *qs[] = {"d12345-x.example345.cn", "www.d4-x.example4.cn", "miss.example.cn",
	                    "a.b.miss.example.cn"};
	for (int k = 0; k < 4; k++) {
		const char *why;
		ql[k] = gk_policy_name_wire(qs[k], strlen(qs[k]), q[k], &lab[k], &why);
		for (size_t o = 0, i = 0; q[k][o]; o += q[k][o] + 1u)
			loff[k][i++] = (uint8_t)o;
	}
	const size_t iters = 2000000;
	size_t hits = 0;
	double t2 = now();
	for (size_t i = 0; i < iters; i++) {
		int k = (int)(i & 3);
		hits += gk_policy_match(p, q[k], ql[k], loff[k], lab[k], NULL) != NULL;
	}
	double t3 = now();
	assert_int_equal(hits, iters / 2);
	print_message("policy scale: %zu entries, compile %.3f s, %.1f B/entry (arena %zu: "
	              "table %zu, names %zu), match %.1f ns/lookup (half hits)\n",
	              n, t1 - t0, (double)st.arena_bytes / (double)n, st.arena_bytes,
	              st.table_bytes, st.name_bytes, (t3 - t2) * 1e9 / (double)iters);
	assert_true((double)st.arena_bytes / (double)n <= 64.0);
	gk_policy_free(p);
	free(text);
}

/* ---- list paths stay in the policy's directory ------------------------------------------ */

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Build dir/pol/policy.yaml with one list `file: name`; the error text, or "" when built. */
static const char *build_list(const char *dir, const char *name, bool allow, char *err,
                              size_t errlen)
{
	char path[512], text[512];
	snprintf(path, sizeof(path), "%s/pol/policy.yaml", dir);
	snprintf(text, sizeof(text), "mode: enforce\n%slists:\n  - {file: '%s', kind: block}\n",
	         allow ? "allow_outside_paths: true\n" : "", name);
	put(path, text);
	gk_policy_t *p = NULL;
	err[0] = 0;
	if (gk_policy_build(path, &p, err, errlen) == 0) {
		assert_int_equal(action(match(p, "www.out.cn")), GK_ACT_REFUSE);
		gk_policy_free(p);
		return "";
	}
	assert_null(p);
	return err;
}

/* `file: ../../etc/hostname` compiled and would have been pushed: a list file must resolve
 * (symlinks included) inside the policy's directory unless allow_outside_paths: true. */
static void test_list_paths(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-polpaths-XXXXXX", p[600], q[600], err[1024];
	assert_non_null(mkdtemp(dir));
	snprintf(p, sizeof(p), "%s/pol", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/pol/sub", dir);
	assert_int_equal(mkdir(p, 0700), 0);
	snprintf(p, sizeof(p), "%s/outside.txt", dir);
	put(p, ".out.cn\n");
	snprintf(p, sizeof(p), "%s/pol/sub/in.txt", dir);
	put(p, ".out.cn\n");
	snprintf(p, sizeof(p), "%s/pol/link.txt", dir);
	snprintf(q, sizeof(q), "%s/outside.txt", dir);
	assert_int_equal(symlink(q, p), 0);

	/* inside: a plain name and a subdirectory */
	assert_string_equal(build_list(dir, "sub/in.txt", false, err, sizeof(err)), "");
	assert_string_equal(build_list(dir, "sub/../sub/in.txt", false, err, sizeof(err)), "");
	/* outside: "..", an absolute path, a symlink; the error names the policy file and line */
	const char *outs[] = {"../outside.txt", "sub/../../outside.txt", q, "link.txt"};
	for (size_t i = 0; i < sizeof(outs) / sizeof(outs[0]); i++) {
		const char *e = build_list(dir, outs[i], false, err, sizeof(err));
		if (!strstr(e, "/pol/policy.yaml:3: lists[0].file: ") ||
		    !strstr(e, "is outside the policy's directory") ||
		    !strstr(e, "allow_outside_paths: true"))
			fail_msg("%s: '%s'", outs[i], e);
		/* the operator allows it: built */
		assert_string_equal(build_list(dir, outs[i], true, err, sizeof(err)), "");
	}
	/* a file that does not exist is still "cannot read" */
	assert_non_null(
	    strstr(build_list(dir, "absent.txt", false, err, sizeof(err)), "cannot read"));
	/* a bad value for the option */
	snprintf(p, sizeof(p), "%s/pol/policy.yaml", dir);
	put(p, "allow_outside_paths: maybe\n");
	gk_policy_t *pol = NULL;
	assert_int_not_equal(gk_policy_build(p, &pol, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "policy.yaml:1: allow_outside_paths: 'maybe'"));

	/* in memory (a pushed bundle carries names only): the same rule on the names */
	static const char blk[] = ".out.cn\n";
	gk_policy_file_t f[] = {{"../x.txt", blk, sizeof(blk) - 1},
	                        {"/etc/x", blk, sizeof(blk) - 1},
	                        {"a/../../x", blk, sizeof(blk) - 1}};
	for (size_t i = 0; i < 3; i++) {
		char y[200];
		snprintf(y, sizeof(y), "lists:\n  - {file: '%s', kind: block}\n", f[i].name);
		pol = NULL;
		assert_int_not_equal(
		    gk_policy_build_mem("m.yaml", y, strlen(y), &f[i], 1, &pol, err, sizeof(err)),
		    0);
		if (!strstr(err, "m.yaml:2: lists[0].file: ") || !strstr(err, "outside"))
			fail_msg("%s: '%s'", f[i].name, err);
		snprintf(y, sizeof(y),
		         "allow_outside_paths: true\nlists:\n  - {file: '%s', kind: "
		         "block}\n",
		         f[i].name);
		assert_int_equal(
		    gk_policy_build_mem("m.yaml", y, strlen(y), &f[i], 1, &pol, err, sizeof(err)),
		    0);
		gk_policy_free(pol);
	}

	const char *rm[] = {"pol/link.txt", "pol/sub/in.txt", "pol/policy.yaml", "outside.txt"};
	for (size_t i = 0; i < sizeof(rm) / sizeof(rm[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, rm[i]);
		unlink(p);
	}
	snprintf(p, sizeof(p), "%s/pol/sub", dir);
	rmdir(p);
	snprintf(p, sizeof(p), "%s/pol", dir);
	rmdir(p);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_list_paths),
	    cmocka_unit_test(test_precedence),
	    cmocka_unit_test(test_matrix),
	    cmocka_unit_test(test_defaults),
	    cmocka_unit_test(test_redirect),
	    cmocka_unit_test(test_rpz_actions),
	    cmocka_unit_test(test_rpz_zone_key),
	    cmocka_unit_test(test_samples),
	    cmocka_unit_test(test_bad_corpus),
	    cmocka_unit_test(test_bad_lists),
	    cmocka_unit_test(test_depth),
	    cmocka_unit_test(test_suffix_hash),
	    cmocka_unit_test(test_filter_finds_all),
	    cmocka_unit_test(test_scale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
