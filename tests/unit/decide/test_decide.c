/* SPDX-License-Identifier: MIT */
/* tests/unit/decide/test_decide.c -- gk_decide on names alone (decide/decide.h).
 *
 * The same call the packet path makes, and the front end will make before anything goes to
 * a backend: lists first (block, allow, tcp-only by transport), then the filing status
 * under the policy's status rules -- the config's filing.* rules as a default policy when
 * there is no policy file -- then the start-up rule; monitor mode; no check at all without
 * a replica or a policy; the names gkctl and logs print.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/dname.h"
#include "common/namehash.h"
#include "decide/decide.h"
#include "pkt/process.h"
#include "policy/policy.h"
#include "status/status.h"

static gk_status_t *st;
static gk_policy_t *lists, *defpol;
static gk_pkt_opts_t opts;

static const char policy_yaml[] = "mode: %s\n"
                                  "revoked: {action: nodata, ede: 18, text: \"policy revoked\"}\n"
                                  "lists:\n"
                                  "  - {file: block.txt, format: plain, kind: block}\n"
                                  "  - {file: allow.txt, format: plain, kind: allow}\n"
                                  "  - {file: b.rpz, format: rpz}\n";
static const char block_txt[] = ".blocked.cn\n";
static const char allow_txt[] = "ok.unfiled.cn\n";
static const char b_rpz[] = "$TTL 300\n$ORIGIN rpz.test.\n"
                            "@ SOA localhost. host.localhost. 1 3600 600 86400 300\n"
                            "@ NS localhost.\n"
                            "tc.filed.cn CNAME rpz-tcp-only.\n";

static gk_policy_t *build(const char *mode)
{
	char text[1024];
	int n = snprintf(text, sizeof(text), policy_yaml, mode);
	gk_policy_file_t files[] = {{"block.txt", block_txt, sizeof(block_txt) - 1},
	                            {"allow.txt", allow_txt, sizeof(allow_txt) - 1},
	                            {"b.rpz", b_rpz, sizeof(b_rpz) - 1}};
	gk_policy_t *p = NULL;
	char err[256];
	if (gk_policy_build_mem("p.yaml", text, (size_t)n, files, 3, &p, err, sizeof(err)) != 0)
		fprintf(stderr, "%s\n", err);
	return p;
}

static void rule(gk_refusal_t *r, gk_action_t a, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->action = a;
	r->ede_code = 15;
	r->text_len = (uint8_t)strlen(text);
	memcpy(r->text, text, r->text_len);
}

static int setup(void **state)
{
	(void)state;
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1};
	if (gk_status_create(&sc, &st) != 0 ||
	    gk_status_put(st, "filed.cn", gk_fs_pack(GK_FS_FILED, 1)) != 0 ||
	    gk_status_put(st, "revoked.cn", gk_fs_pack(GK_FS_REVOKED, 0)) != 0)
		return -1;
	gk_status_set_ready(st);
	gk_refusal_t r[GK_POLICY_NSTATUS];
	rule(&r[GK_POLICY_UNFILED], GK_ACT_REFUSE, "config unfiled");
	rule(&r[GK_POLICY_REVOKED], GK_ACT_NXDOMAIN, "config revoked");
	rule(&r[GK_POLICY_UNKNOWN], GK_ACT_REFUSE, "config unknown");
	rule(&r[GK_POLICY_NOREG], GK_ACT_RESOLVE, "config noreg");
	if (gk_policy_from_rules(r, &defpol) != 0 || (lists = build("enforce")) == NULL)
		return -1;
	opts.status = st;
	rule(&opts.starting, GK_ACT_REFUSE, "starting");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gk_policy_free(lists);
	gk_policy_free(defpol);
	gk_status_free(st);
	return 0;
}

/* Decide for a dotted name whose registrable domain is its last two labels (or none). */
static gk_decision_t decide(const char *name, bool udp, bool noreg)
{
	uint8_t wire[GK_DNAME_MAX + 1], loff[GK_DNAME_LABELS_MAX];
	size_t n = 0;
	unsigned labels = 0;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		loff[labels++] = (uint8_t)n;
		wire[n++] = (uint8_t)l;
		memcpy(wire + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	wire[n++] = 0;
	size_t roff = labels >= 2 ? loff[labels - 2] : 0;
	gk_decide_query_t q = {.qname = wire,
	                       .qlen = n,
	                       .loff = loff,
	                       .labels = labels,
	                       .reg = noreg ? NULL : wire + roff,
	                       .rlen = noreg ? 0 : n - roff,
	                       .hash = noreg ? 0 : gk_namehash(wire + roff, n - roff),
	                       .udp = udp};
	gk_decision_t d;
	gk_decide(&opts, &q, &d);
	return d;
}

static void test_default_policy(void **state)
{
	(void)state;
	opts.policy = defpol;
	gk_decision_t d = decide("www.filed.cn", true, false);
	assert_false(d.refuse);
	assert_true(d.filter);
	assert_int_equal(d.filing, GK_FS_FILED);
	assert_int_equal(d.why, GK_WHY_NONE);
	d = decide("www.unfiled.cn", true, false);
	assert_true(d.refuse);
	assert_int_equal(d.action, GK_ACT_REFUSE);
	assert_int_equal(d.why, GK_WHY_UNFILED);
	assert_memory_equal(d.refusal->text, "config unfiled", 14);
	d = decide("www.revoked.cn", true, false);
	assert_int_equal(d.action, GK_ACT_NXDOMAIN);
	assert_int_equal(d.why, GK_WHY_REVOKED);
	d = decide("cn", true, true); /* a public suffix: no_registrable resolves */
	assert_false(d.refuse);
	assert_int_equal(d.filing, GK_FS_UNFILED);
}

static void test_lists_and_policy_rules(void **state)
{
	(void)state;
	opts.policy = lists;
	gk_decision_t d = decide("x.blocked.cn", true, false);
	assert_true(d.refuse);
	assert_int_equal(d.why, GK_WHY_BLOCKED);
	assert_int_equal(d.list, 1);
	assert_int_equal(d.filing, GK_DECIDE_NOCHECK); /* a list decides: no status lookup */
	d = decide("ok.unfiled.cn", true, false);
	assert_false(d.refuse);
	assert_false(d.filter);
	assert_int_equal(d.why, GK_WHY_ALLOWED);
	d = decide("tc.filed.cn", true, false);
	assert_true(d.refuse);
	assert_int_equal(d.action, GK_ACT_TRUNCATE);
	assert_null(d.refusal);
	d = decide("tc.filed.cn", false, false); /* over TCP: the filing check decides */
	assert_false(d.refuse);
	assert_int_equal(d.filing, GK_FS_FILED);
	d = decide("www.revoked.cn", true, false); /* the policy's rule, not the config's */
	assert_int_equal(d.action, GK_ACT_NODATA);
	assert_memory_equal(d.refusal->text, "policy revoked", 14);
}

static void test_monitor_starting_nocheck(void **state)
{
	(void)state;
	gk_policy_t *mon = build("monitor");
	assert_non_null(mon);
	opts.policy = mon;
	gk_decision_t d = decide("www.unfiled.cn", true, false);
	assert_true(d.refuse);
	assert_true(d.monitor);
	assert_false(d.filter);
	gk_policy_free(mon);

	gk_status_t *cold;
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1};
	assert_int_equal(gk_status_create(&sc, &cold), 0);
	opts.status = cold;
	opts.policy = defpol;
	d = decide("www.filed.cn", true, false);
	assert_true(d.refuse);
	assert_int_equal(d.why, GK_WHY_STARTING);
	opts.starting.action = GK_ACT_RESOLVE;
	d = decide("www.filed.cn", true, false);
	assert_false(d.refuse);
	opts.starting.action = GK_ACT_REFUSE;
	opts.status = st;
	gk_status_free(cold);

	gk_pkt_opts_t none = {0}, saved = opts;
	opts = none;
	d = decide("www.unfiled.cn", true, false);
	assert_false(d.refuse);
	assert_int_equal(d.filing, GK_DECIDE_NOCHECK);
	opts = saved;
	assert_string_equal(gk_decide_action_name(GK_ACT_TRUNCATE), "tcp-only");
	assert_string_equal(gk_decide_why_name(GK_WHY_REVOKED), "revoked");
	assert_string_equal(gk_decide_action_name(99), "?");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_default_policy),
	    cmocka_unit_test(test_lists_and_policy_rules),
	    cmocka_unit_test(test_monitor_starting_nocheck),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
