/* SPDX-License-Identifier: MIT */
/* tests/unit/pkt/test_policy_pkt.c -- the operator policy on the packet path, bytes in, bytes out.
 *
 * A real policy compiled from YAML, a plain list and an RPZ zone (policy/policy.h), a real
 * status replica and real zones: DESIGN.md's decision order (block list, allow list, filing
 * status, status unknown), each RPZ action, redirects to local data, monitor mode, and the
 * result fields (why, list, monitor) that counters and discovery read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <cmocka.h>

#include "common/psl.h"
#include "msg.h"
#include "pkt/process.h"
#include "policy/policy.h"
#include "status/status.h"
#include "zone/zone.h"

static const char zone_filed[] = "$ORIGIN filed.cn.\n"
                                 "$TTL 3600\n"
                                 "@ SOA ns1 host 1 7200 900 1209600 300\n"
                                 "@ NS ns1\n"
                                 "ns1 A 192.0.2.1\n"
                                 "www A 192.0.2.10\n"
                                 "x.blocked A 192.0.2.11\n"
                                 "ok.blocked A 192.0.2.12\n"
                                 "exact A 192.0.2.13\n"
                                 "www.exact A 192.0.2.14\n"
                                 "drop A 192.0.2.15\n"
                                 "tc A 192.0.2.16\n"
                                 "notice A 192.0.2.17\n"
                                 "nodata A 192.0.2.18\n";
static const char zone_unfiled[] = "$ORIGIN unfiled.cn.\n"
                                   "@ 3600 SOA ns1 host 1 7200 900 1209600 300\n"
                                   "@ 3600 NS ns1\n"
                                   "ns1 3600 A 192.0.2.2\n"
                                   "www 3600 A 192.0.2.20\n";
static const char zone_other[] = "$ORIGIN other.cn.\n"
                                 "@ 3600 SOA ns1 host 1 7200 900 1209600 300\n"
                                 "@ 3600 NS ns1\n"
                                 "ns1 3600 A 192.0.2.4\n"
                                 "www 3600 A 192.0.2.40\n";
static const char zone_revoked[] = "$ORIGIN revoked.cn.\n"
                                   "@ 3600 SOA ns1 host 1 7200 900 1209600 60\n"
                                   "@ 3600 NS ns1\n"
                                   "ns1 3600 A 192.0.2.3\n"
                                   "www 3600 A 192.0.2.30\n"
                                   "pass 3600 A 192.0.2.31\n";

static const char policy_fmt[] =
    "mode: %s\n"
    "unfiled: {action: refuse, ede: 15, text: \"ICP filing required\"}\n"
    "revoked: {action: redirect, ede: 18, text: \"ICP filing revoked\"}\n"
    "unknown: {action: refuse, ede: 15, text: \"ICP filing status unavailable\"}\n"
    "redirect: {a: [192.0.2.80], aaaa: [\"2001:db8::80\"], ttl: 300}\n"
    "lists:\n"
    "  - {file: block.txt, format: plain, kind: block, action: nxdomain, ede: 17,\n"
    "     text: \"blocked by operator\"}\n"
    "  - {file: allow.txt, format: plain, kind: allow}\n"
    "  - {file: block.rpz, format: rpz, ede: 15, text: \"blocked by RPZ\"}\n";
static const char block_txt[] = ".blocked.filed.cn\n"
                                "exact.filed.cn\n";
static const char allow_txt[] = "ok.blocked.filed.cn\n"
                                ".unfiled.cn\n";
static const char block_rpz[] = "$TTL 300\n"
                                "$ORIGIN rpz.test.\n"
                                "@ SOA localhost. host.localhost. 1 3600 600 86400 300\n"
                                "@ NS localhost.\n"
                                "drop.filed.cn CNAME rpz-drop.\n"
                                "tc.filed.cn CNAME rpz-tcp-only.\n"
                                "nodata.filed.cn CNAME *.\n"
                                "notice.filed.cn A 192.0.2.99\n"
                                "notice.filed.cn AAAA 2001:db8::99\n"
                                "pass.revoked.cn CNAME rpz-passthru.\n";

static gk_zoneset_t *zs;
static gk_status_t *st;
static gk_psl_t *psl;
static gk_policy_t *enforce, *monitor;
static gk_pkt_opts_t opts;
static uint8_t out[GK_PKT_OUT_MAX];
static msg_t m;
static gk_pkt_result_t res;

static void refusal(gk_refusal_t *r, gk_action_t a, uint16_t code, const char *text)
{
	r->action = a;
	r->ede_code = code;
	r->text_len = (uint8_t)strlen(text);
	memcpy(r->text, text, r->text_len);
}

static gk_policy_t *build(const char *mode)
{
	char text[2048];
	int n = snprintf(text, sizeof text, policy_fmt, mode);
	gk_policy_file_t files[] = {
	    {"block.txt", block_txt, sizeof(block_txt) - 1},
	    {"allow.txt", allow_txt, sizeof(allow_txt) - 1},
	    {"block.rpz", block_rpz, sizeof(block_rpz) - 1},
	};
	gk_policy_t *p = NULL;
	char err[512];
	if (gk_policy_build_mem("policy.yaml", text, (size_t)n, files, 3, &p, err, sizeof err) !=
	    0) {
		fprintf(stderr, "policy build failed: %s\n", err);
		return NULL;
	}
	return p;
}

static int setup(void **state)
{
	(void)state;
	if (gk_psl_open(NULL, &psl) != 0)
		return -1;
	gk_zone_spec_t specs[] = {
	    {.name = "filed.cn", .text = zone_filed, .text_len = sizeof(zone_filed) - 1},
	    {.name = "unfiled.cn", .text = zone_unfiled, .text_len = sizeof(zone_unfiled) - 1},
	    {.name = "revoked.cn", .text = zone_revoked, .text_len = sizeof(zone_revoked) - 1},
	    {.name = "other.cn", .text = zone_other, .text_len = sizeof(zone_other) - 1},
	};
	char err[512];
	if (gk_zone_store_build(specs, 4, psl, &zs, err, sizeof err) != 0) {
		fprintf(stderr, "zone build failed: %s\n", err);
		return -1;
	}
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .max_age_ms = 1000};
	if (gk_status_create(&sc, &st) != 0)
		return -1;
	if (gk_status_put(st, "filed.cn", gk_fs_pack(GK_FS_FILED, 1)) != 0 ||
	    gk_status_put(st, "revoked.cn", gk_fs_pack(GK_FS_REVOKED, 0)) != 0)
		return -1;
	gk_status_set_ready(st);
	if ((enforce = build("enforce")) == NULL || (monitor = build("monitor")) == NULL)
		return -1;
	opts.edns_udp_max = 1232;
	opts.status = st;
	opts.psl = psl;
	/* the status rules come from the policy alone (decide/decide.h) */
	refusal(&opts.starting, GK_ACT_REFUSE, 15, "ICP filing status unavailable");
	opts.policy = enforce;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	gk_policy_free(enforce);
	gk_policy_free(monitor);
	gk_status_free(st);
	gk_zone_store_free(zs);
	gk_psl_close(psl);
	return 0;
}

static gk_pkt_outcome_t ask_t(const char *name, uint16_t type, enum gk_pkt_transport tr)
{
	uint8_t q[600];
	msg_q_t mq = {.id = 0x4242, .name = name, .type = type, .edns = 1232};
	size_t n = msg_query(q, &mq);
	gk_pkt_outcome_t o = gk_pkt_process(zs, &opts, tr, q, n, out, &res);
	if (o == GK_PKT_ANSWER) {
		const char *e = msg_parse(out, res.len, &m);
		if (e)
			fail_msg("malformed response for %s: %s", name, e);
		assert_memory_equal(out + 12, q + 12, m.qend - 12);
	}
	return o;
}

static gk_pkt_outcome_t ask(const char *name, uint16_t type)
{
	return ask_t(name, type, GK_PKT_UDP);
}

static void expect_ede(uint16_t code, const char *text)
{
	size_t tl = strlen(text);
	assert_true(m.opt);
	const uint8_t *e = out + res.len - tl - 6;
	assert_int_equal((e[0] << 8) | e[1], 15);
	assert_int_equal((e[2] << 8) | e[3], 2 + tl);
	assert_int_equal((e[4] << 8) | e[5], code);
	assert_memory_equal(e + 6, text, tl);
}

static void expect_no_ede(void)
{
	assert_true(m.opt);
	assert_int_equal(out[res.len - 2], 0);
	assert_int_equal(out[res.len - 1], 0);
}

static void expect_a(const char *owner, uint8_t last)
{
	assert_int_equal(m.rcode, 0);
	assert_true(m.an >= 1);
	assert_string_equal(m.rr[0].owner, owner);
	assert_int_equal(m.rr[0].type, 1);
	assert_int_equal(m.rr[0].rdlen, 4);
	assert_int_equal(out[m.rr[0].rdoff + 3], last);
}

static void test_filed_resolves(void **state)
{
	(void)state;
	assert_int_equal(ask("www.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("www.filed.cn.", 10);
	assert_int_equal(res.why, GK_WHY_NONE);
	assert_int_equal(res.list, 0);
	assert_int_equal(res.filing, GK_FS_FILED);
	expect_no_ede();
}

static void test_block_list_beats_filing(void **state)
{
	(void)state;
	/* step 3: a filed domain, blocked by the operator (name and below) */
	assert_int_equal(ask("x.blocked.filed.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.rr[0].type, 6);
	assert_int_equal(res.why, GK_WHY_BLOCKED);
	assert_int_equal(res.action, GK_ACT_NXDOMAIN);
	assert_int_equal(res.list, 1);
	assert_string_equal(gk_policy_list_name(enforce, res.list), "block.txt");
	expect_ede(17, "blocked by operator");
	/* exact entry: the name only */
	assert_int_equal(ask("exact.filed.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(ask("www.exact.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("www.exact.filed.cn.", 14);
	assert_int_equal(res.why, GK_WHY_NONE);
}

static void test_allow_list(void **state)
{
	(void)state;
	/* the most specific entry wins: an exact allow below a blocked name */
	assert_int_equal(ask("ok.blocked.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("ok.blocked.filed.cn.", 12);
	assert_int_equal(res.why, GK_WHY_ALLOWED);
	assert_int_equal(res.list, 2);
	/* step 4 before step 5: an unfiled domain allowed by the operator resolves */
	assert_int_equal(ask("www.unfiled.cn", 1), GK_PKT_ANSWER);
	expect_a("www.unfiled.cn.", 20);
	assert_int_equal(res.why, GK_WHY_ALLOWED);
	assert_int_equal(res.filing, GK_PKT_NOCHECK);
	expect_no_ede();
}

static void test_status_rules_come_from_the_policy(void **state)
{
	(void)state;
	/* revoked: the policy redirects (A/AAAA of the notice page), the config said NXDOMAIN */
	assert_int_equal(ask("www.revoked.cn", 1), GK_PKT_ANSWER);
	expect_a("www.revoked.cn.", 80);
	assert_int_equal(m.an, 1);
	assert_int_equal(m.rr[0].ttl, 300);
	assert_true(m.flags & 0x0400);
	assert_int_equal(res.why, GK_WHY_REVOKED);
	assert_int_equal(res.action, GK_ACT_REDIRECT);
	expect_ede(18, "ICP filing revoked");
	assert_int_equal(ask("www.revoked.cn", 28), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_int_equal(m.rr[0].type, 28);
	/* other types: NODATA with the zone's SOA, still with the EDE */
	assert_int_equal(ask("www.revoked.cn", 16), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.rr[0].type, 6);
	expect_ede(18, "ICP filing revoked");
	/* PASSTHRU: a revoked domain's name the operator lets through */
	assert_int_equal(ask("pass.revoked.cn", 1), GK_PKT_ANSWER);
	expect_a("pass.revoked.cn.", 31);
	assert_int_equal(res.why, GK_WHY_ALLOWED);
	assert_int_equal(res.list, 3);
}

static void test_rpz_actions(void **state)
{
	(void)state;
	assert_int_equal(ask("drop.filed.cn", 1), GK_PKT_DROP);
	assert_int_equal(res.why, GK_WHY_BLOCKED);
	assert_int_equal(res.action, GK_ACT_DROP);
	/* tcp-only: over UDP an empty response with TC, over TCP the normal answer */
	assert_int_equal(ask("tc.filed.cn", 1), GK_PKT_ANSWER);
	assert_true(m.flags & 0x0200);
	assert_int_equal(m.an + m.ns, 0);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(res.why, GK_WHY_TCP_ONLY);
	assert_int_equal(res.action, GK_ACT_TRUNCATE);
	assert_int_equal(ask_t("tc.filed.cn", 1, GK_PKT_TCP), GK_PKT_ANSWER);
	expect_a("tc.filed.cn.", 16);
	assert_false(m.flags & 0x0200);
	/* NODATA (CNAME *.) */
	assert_int_equal(ask("nodata.filed.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.rr[0].type, 6);
	expect_ede(15, "blocked by RPZ");
	/* local data */
	assert_int_equal(ask("notice.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("notice.filed.cn.", 99);
	assert_int_equal(res.action, GK_ACT_REDIRECT);
	expect_ede(15, "blocked by RPZ");
	assert_int_equal(ask("notice.filed.cn", 15), GK_PKT_ANSWER);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.rr[0].type, 6);
}

static void test_unfiled_and_starting(void **state)
{
	(void)state;
	/* not filed, not listed: the policy's unfiled rule (the config said NXDOMAIN) */
	assert_int_equal(ask("www.other.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(res.why, GK_WHY_UNFILED);
	assert_int_equal(res.action, GK_ACT_REFUSE);
	assert_int_equal(res.filing, GK_FS_UNFILED);
	assert_int_equal(res.list, 0);
	expect_ede(15, "ICP filing required");
	/* before the first full load: the config's start-up rule */
	gk_status_t *cold;
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .max_age_ms = 1000};
	assert_int_equal(gk_status_create(&sc, &cold), 0);
	opts.status = cold;
	assert_int_equal(ask("www.filed.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(res.why, GK_WHY_STARTING);
	expect_ede(15, "ICP filing status unavailable");
	/* the block list needs no replica */
	assert_int_equal(ask("x.blocked.filed.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(res.why, GK_WHY_BLOCKED);
	opts.status = st;
	gk_status_free(cold);
}

static void test_monitor_mode(void **state)
{
	(void)state;
	opts.policy = monitor;
	/* resolved, but the refusal it would have sent is in the result */
	assert_int_equal(ask("x.blocked.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("x.blocked.filed.cn.", 11);
	assert_true(res.monitor);
	assert_int_equal(res.why, GK_WHY_BLOCKED);
	assert_int_equal(res.action, GK_ACT_NXDOMAIN);
	expect_no_ede();
	assert_int_equal(ask("drop.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("drop.filed.cn.", 15);
	assert_true(res.monitor);
	assert_int_equal(ask("www.revoked.cn", 1), GK_PKT_ANSWER);
	expect_a("www.revoked.cn.", 30);
	assert_int_equal(res.why, GK_WHY_REVOKED);
	assert_true(res.monitor);
	assert_int_equal(ask("www.filed.cn", 1), GK_PKT_ANSWER);
	assert_false(res.monitor);
	opts.policy = enforce;
}

static void test_policy_without_filing_check(void **state)
{
	(void)state;
	gk_pkt_opts_t saved = opts;
	opts.status = NULL;
	assert_int_equal(ask("x.blocked.filed.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(res.why, GK_WHY_BLOCKED);
	assert_int_equal(ask("www.revoked.cn", 1), GK_PKT_ANSWER);
	expect_a("www.revoked.cn.", 30);
	assert_int_equal(res.why, GK_WHY_NONE);
	opts = saved;
}

static void test_empty_policy_changes_nothing(void **state)
{
	(void)state;
	gk_policy_t *p = NULL;
	char err[256];
	assert_int_equal(gk_policy_build_mem("empty.yaml", "{}\n", 3, NULL, 0, &p, err, sizeof err),
	                 0);
	gk_pkt_opts_t saved = opts;
	opts.policy = p;
	/* the default status rules of policy/README.md */
	assert_int_equal(ask("www.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("www.filed.cn.", 10);
	assert_int_equal(ask("x.blocked.filed.cn", 1), GK_PKT_ANSWER);
	expect_a("x.blocked.filed.cn.", 11);
	assert_int_equal(ask("www.unfiled.cn", 1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	opts = saved;
	gk_policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filed_resolves),
	    cmocka_unit_test(test_block_list_beats_filing),
	    cmocka_unit_test(test_allow_list),
	    cmocka_unit_test(test_status_rules_come_from_the_policy),
	    cmocka_unit_test(test_rpz_actions),
	    cmocka_unit_test(test_unfiled_and_starting),
	    cmocka_unit_test(test_monitor_mode),
	    cmocka_unit_test(test_policy_without_filing_check),
	    cmocka_unit_test(test_empty_policy_changes_nothing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
