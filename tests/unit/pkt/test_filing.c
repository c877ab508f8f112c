/* SPDX-License-Identifier: MIT */
/* tests/unit/pkt/test_filing.c -- the filing check on the packet path, bytes in, bytes out.
 *
 * A real status replica (status/status.h) filled with gk_status_put, real zones, a real
 * Public Suffix List: filed domains answer, unfiled and revoked ones get the configured
 * action with an RFC 8914 Extended DNS Error, and no answer carries records of a refused
 * registrable domain (CNAME targets, additional records).
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

/* filed.com.cn: filed; unfiled.com.cn: no filing; revoked.cn: revoked */
static const char zone_filed[] = "$ORIGIN filed.com.cn.\n"
                                 "$TTL 3600\n"
                                 "@ SOA ns1 host 1 7200 900 1209600 300\n"
                                 "@ NS ns1\n"
                                 "ns1 A 192.0.2.1\n"
                                 "www A 192.0.2.10\n"
                                 "@ MX 10 mail.unfiled.com.cn.\n"
                                 "@ MX 20 mx\n"
                                 "mx A 192.0.2.25\n"
                                 "to-unfiled CNAME www.unfiled.com.cn.\n"
                                 "to-revoked CNAME www.revoked.cn.\n"
                                 "to-revoked-nx CNAME nope.revoked.cn.\n"
                                 "to-revoked-deleg CNAME www.sub.revoked.cn.\n"
                                 "to-revoked-dname CNAME x.d.revoked.cn.\n"
                                 "to-absent CNAME www.absent.net.cn.\n"
                                 "to-bad CNAME www.bad.net.cn.\n"
                                 "dn-revoked DNAME revoked.cn.\n"
                                 "dn-filed DNAME example.com.cn.\n"
                                 "*.wild A 192.0.2.99\n";
static const char zone_unfiled[] = "$ORIGIN unfiled.com.cn.\n"
                                   "@ 3600 SOA ns1 host 1 7200 900 1209600 300\n"
                                   "@ 3600 NS ns1\n"
                                   "ns1 3600 A 192.0.2.2\n"
                                   "www 3600 A 192.0.2.20\n"
                                   "mail 3600 A 192.0.2.21\n"
                                   "back CNAME www.filed.com.cn.\n";
static const char zone_revoked[] = "$ORIGIN revoked.cn.\n"
                                   "@ 3600 SOA ns1 host 1 7200 900 1209600 60\n"
                                   "@ 3600 NS ns1\n"
                                   "ns1 3600 A 192.0.2.3\n"
                                   "www 3600 A 192.0.2.30\n"
                                   "sub 3600 NS ns1.sub\n"
                                   "ns1.sub 3600 A 192.0.2.31\n"
                                   "d 3600 DNAME filed.com.cn.\n";
/* filed; a label with a dot byte inside; a child zone served beside it */
static const char zone_example[] = "$ORIGIN example.com.cn.\n"
                                   "@ 3600 SOA ns1 host 1 7200 900 1209600 300\n"
                                   "@ 3600 NS ns1\n"
                                   "ns1 3600 A 192.0.2.50\n"
                                   "dot\\.inlabel 3600 A 192.0.2.51\n"
                                   "back\\\\slash 3600 A 192.0.2.52\n"
                                   "nul\\000byte 3600 A 192.0.2.53\n"
                                   "child 3600 NS ns1.child\n"
                                   "ns1.child 3600 A 192.0.2.54\n";
static const char zone_child[] = "$ORIGIN child.example.com.cn.\n"
                                 "@ 3600 SOA ns1 host 1 7200 900 1209600 300\n"
                                 "@ 3600 NS ns1\n"
                                 "ns1 3600 A 192.0.2.54\n"
                                 "www 3600 A 192.0.2.55\n";
/* a registry's own zone at a public suffix, with a wildcard */
static const char zone_cn[] = "$ORIGIN cn.\n"
                              "@ 3600 SOA a.dns host.dns 1 7200 900 1209600 600\n"
                              "@ 3600 NS a.dns\n"
                              "a.dns 3600 A 192.0.2.60\n"
                              "* 3600 A 192.0.2.1\n";
/* a registry zone at a public suffix: the registrable domain comes from the PSL per name */
static const char zone_registry[] =
    "$ORIGIN net.cn.\n"
    "@ 3600 SOA ns1.cnnic.cn. host.cnnic.cn. 1 7200 900 1209600 600\n"
    "@ 3600 NS ns1.cnnic.cn.\n"
    "good NS ns1.good\n"
    "ns1.good A 192.0.2.40\n"
    "bad NS ns1.bad\n"
    "ns1.bad A 192.0.2.41\n";

static gk_zoneset_t *zs;
static gk_status_t *st;
static gk_psl_t *psl;
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

/* The config's filing.* rules (unfiled, revoked, unknown, no_registrable), compiled into the
 * default policy the packet path reads them from (gk_policy_from_rules). Every version made
 * is kept until teardown: a test may restore older options. */
static gk_refusal_t rules[GK_POLICY_NSTATUS];
static gk_policy_t *made[32];
static unsigned nmade;

static void use_rules(void)
{
	gk_policy_t *p = NULL;
	assert_true(nmade < sizeof(made) / sizeof(made[0]));
	assert_int_equal(gk_policy_from_rules(rules, &p), 0);
	made[nmade++] = p;
	opts.policy = p;
}

static int setup(void **state)
{
	(void)state;
	if (gk_psl_open(NULL, &psl) != 0)
		return -1;
	gk_zone_spec_t specs[] = {
	    {.name = "filed.com.cn", .text = zone_filed, .text_len = sizeof(zone_filed) - 1},
	    {.name = "unfiled.com.cn", .text = zone_unfiled, .text_len = sizeof(zone_unfiled) - 1},
	    {.name = "revoked.cn", .text = zone_revoked, .text_len = sizeof(zone_revoked) - 1},
	    {.name = "net.cn", .text = zone_registry, .text_len = sizeof(zone_registry) - 1},
	    {.name = "example.com.cn", .text = zone_example, .text_len = sizeof(zone_example) - 1},
	    {.name = "child.example.com.cn",
	     .text = zone_child,
	     .text_len = sizeof(zone_child) - 1},
	    {.name = "cn", .text = zone_cn, .text_len = sizeof(zone_cn) - 1},
	};
	char err[512];
	if (gk_zone_store_build(specs, sizeof specs / sizeof specs[0], psl, &zs, err, sizeof err) !=
	    0) {
		fprintf(stderr, "zone build failed: %s\n", err);
		return -1;
	}
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .max_age_ms = 1000};
	if (gk_status_create(&sc, &st) != 0)
		return -1;
	if (gk_status_put(st, "filed.com.cn", gk_fs_pack(GK_FS_FILED, 7)) != 0 ||
	    gk_status_put(st, "revoked.cn", gk_fs_pack(GK_FS_REVOKED, 0)) != 0 ||
	    gk_status_put(st, "good.net.cn", gk_fs_pack(GK_FS_FILED, 0)) != 0 ||
	    gk_status_put(st, "example.com.cn", gk_fs_pack(GK_FS_FILED, 0)) != 0 ||
	    gk_status_put(st, "foo.cn", gk_fs_pack(GK_FS_FILED, 0)) != 0 ||
	    gk_status_put(st, "dns.cn", gk_fs_pack(GK_FS_FILED, 0)) != 0)
		return -1;
	gk_status_set_ready(st);
	opts.edns_udp_max = 1232;
	opts.status = st;
	opts.psl = psl;
	refusal(&rules[GK_POLICY_UNFILED], GK_ACT_REFUSE, 15, "ICP filing required");
	refusal(&rules[GK_POLICY_REVOKED], GK_ACT_NXDOMAIN, 15, "ICP filing revoked");
	refusal(&rules[GK_POLICY_UNKNOWN], GK_ACT_REFUSE, 15, "ICP filing status unavailable");
	refusal(&rules[GK_POLICY_NOREG], GK_ACT_RESOLVE, 15, "ICP filing required");
	if (gk_policy_from_rules(rules, &made[nmade]) != 0)
		return -1;
	opts.policy = made[nmade++];
	refusal(&opts.starting, GK_ACT_REFUSE, 15, "ICP filing status unavailable");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	while (nmade > 0)
		gk_policy_free(made[--nmade]);
	gk_status_free(st);
	gk_zone_store_free(zs);
	gk_psl_close(psl);
	return 0;
}

static gk_pkt_outcome_t ask(const char *name, uint16_t type, int edns)
{
	uint8_t q[600];
	msg_q_t mq = {.id = 0x4242, .name = name, .type = type, .edns = edns};
	size_t n = msg_query(q, &mq);
	gk_pkt_outcome_t o = gk_pkt_process(zs, &opts, GK_PKT_UDP, q, n, out, &res);
	if (o == GK_PKT_ANSWER) {
		const char *e = msg_parse(out, res.len, &m);
		if (e)
			fail_msg("malformed response for %s: %s", name, e);
		assert_memory_equal(out + 12, q + 12, m.qend - 12);
	}
	return o;
}

/* The EDE option is the whole OPT rdata here: code 15, length, info-code, text. */
static void expect_ede(uint16_t code, const char *text)
{
	size_t tl = strlen(text);
	assert_true(m.opt);
	assert_true(res.len >= 6 + tl);
	const uint8_t *e = out + res.len - tl - 6;
	assert_int_equal((e[0] << 8) | e[1], 15);
	assert_int_equal((e[2] << 8) | e[3], 2 + tl);
	assert_int_equal((e[4] << 8) | e[5], code);
	assert_memory_equal(e + 6, text, tl);
}

static void expect_no_ede(void)
{
	/* OPT with an empty rdata: the response ends with RDLENGTH 0 */
	assert_true(m.opt);
	assert_int_equal(out[res.len - 2], 0);
	assert_int_equal(out[res.len - 1], 0);
}

static bool has_owner(const char *owner)
{
	for (unsigned i = 0; i < m.nrr; i++)
		if (strcasecmp(m.rr[i].owner, owner) == 0)
			return true;
	return false;
}

static void test_filed_answers(void **state)
{
	(void)state;
	assert_int_equal(ask("www.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(res.filing, GK_FS_FILED);
	assert_int_equal(res.action, GK_ACT_RESOLVE);
	assert_int_equal(res.reg_len, 14); /* \6filed\3com\2cn\0 */
	expect_no_ede();
	/* wildcard names inherit the zone's registrable domain */
	assert_int_equal(ask("Any.Thing.Wild.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_int_equal(res.filing, GK_FS_FILED);
}

static void test_unfiled_refused_with_ede(void **state)
{
	(void)state;
	assert_int_equal(ask("www.unfiled.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(m.an + m.ns, 0);
	assert_false(m.flags & 0x0400);
	assert_int_equal(res.filing, GK_FS_UNFILED);
	assert_int_equal(res.action, GK_ACT_REFUSE);
	expect_ede(15, "ICP filing required");
	/* without EDNS there is no OPT to carry the EDE (RFC 6891 7) */
	assert_int_equal(ask("www.unfiled.com.cn", 1, -1), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_false(m.opt);
	/* names that do not exist are refused the same way: the domain is what counts */
	assert_int_equal(ask("nope.unfiled.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
}

static void test_revoked_nxdomain(void **state)
{
	(void)state;
	assert_int_equal(ask("www.revoked.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 3);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.rr[0].type, 6);
	assert_int_equal(m.rr[0].ttl, 60); /* negative TTL of the zone */
	assert_true(m.flags & 0x0400);
	expect_ede(15, "ICP filing revoked");
}

static void test_actions(void **state)
{
	(void)state;
	gk_pkt_opts_t saved = opts;
	rules[GK_POLICY_UNFILED].action = GK_ACT_NODATA;
	use_rules();
	assert_int_equal(ask("www.unfiled.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 0);
	assert_int_equal(m.ns, 1);
	assert_int_equal(m.rr[0].type, 6);
	expect_ede(15, "ICP filing required");
	rules[GK_POLICY_UNFILED].action = GK_ACT_DROP;
	use_rules();
	assert_int_equal(ask("www.unfiled.com.cn", 1, 1232), GK_PKT_DROP);
	assert_int_equal(res.action, GK_ACT_DROP);
	rules[GK_POLICY_UNFILED].action = GK_ACT_RESOLVE; /* answer, but the status is reported */
	use_rules();
	assert_int_equal(ask("www.unfiled.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_int_equal(res.filing, GK_FS_UNFILED);
	rules[GK_POLICY_UNFILED].action = GK_ACT_REFUSE;
	opts = saved;
}

static void test_cname_into_refused_domain_stops(void **state)
{
	(void)state;
	assert_int_equal(ask("to-unfiled.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1); /* the CNAME only */
	assert_int_equal(m.rr[0].type, 5);
	assert_false(has_owner("www.unfiled.com.cn."));
	assert_int_equal(ask("to-revoked.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_false(has_owner("www.revoked.cn."));
	/* once the target is filed, the chain is followed again (from the template) */
	assert_int_equal(gk_status_put(st, "unfiled.com.cn", gk_fs_pack(GK_FS_FILED, 0)), 0);
	assert_int_equal(ask("to-unfiled.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 2);
	assert_true(has_owner("www.unfiled.com.cn."));
	assert_int_equal(gk_status_put(st, "unfiled.com.cn", 0), 0);
}

static void test_additional_of_refused_domain_dropped(void **state)
{
	(void)state;
	assert_int_equal(ask("filed.com.cn", 15, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 2);
	assert_true(has_owner("mx.filed.com.cn."));
	assert_false(has_owner("mail.unfiled.com.cn."));
}

static void test_registry_zone_uses_psl(void **state)
{
	(void)state;
	/* a referral to a filed child, and one to an unfiled child */
	assert_int_equal(ask("www.good.net.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.ns, 1);
	assert_int_equal(res.filing, GK_FS_FILED);
	assert_int_equal(ask("www.bad.net.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	expect_ede(15, "ICP filing required");
	/* a name that does not exist in the registry zone: its registrable domain via PSL */
	assert_int_equal(ask("x.y.absent.net.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(res.filing, GK_FS_UNFILED);
	assert_int_equal(res.reg_len, 15); /* \6absent\3net\2cn\0 */
	/* the public suffix itself has no registrable domain: answered (no_registrable) */
	assert_int_equal(ask("net.cn", 6, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(res.reg_len, 0);
}

static void test_startup_modes(void **state)
{
	(void)state;
	gk_status_t *fresh;
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1, .max_age_ms = 1000};
	assert_int_equal(gk_status_create(&sc, &fresh), 0);
	const gk_status_t *saved = opts.status;
	opts.status = fresh; /* no full load yet */
	assert_int_equal(ask("www.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(res.filing, GK_FS_STARTING);
	expect_ede(15, "ICP filing status unavailable");
	opts.starting.action = GK_ACT_RESOLVE; /* startup: resolve */
	assert_int_equal(ask("www.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1);
	opts.starting.action = GK_ACT_REFUSE;
	opts.status = saved;
	gk_status_free(fresh);
}

static void test_not_ours_is_not_checked(void **state)
{
	(void)state;
	assert_int_equal(ask("www.example.org", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(res.filing, GK_PKT_NOCHECK);
	expect_no_ede();
}

/* issue: a label holding a '.', '\\' or NUL byte is data, never a separator (the registrable
 * domain comes from wire labels) */
static void test_odd_bytes_in_labels(void **state)
{
	(void)state;
	static const char *const names[] = {"dot\\.inlabel.example.com.cn",
	                                    "back\\\\slash.example.com.cn",
	                                    "nul\\000byte.example.com.cn"};
	for (unsigned i = 0; i < 3; i++) {
		assert_int_equal(ask(names[i], 1, 1232), GK_PKT_ANSWER);
		assert_int_equal(m.rcode, 0);
		assert_int_equal(m.an, 1);
		assert_int_equal(res.filing, GK_FS_FILED);
		assert_int_equal(res.reg_len, 16); /* \7example\3com\2cn\0 */
	}
	/* in a registry zone the label with a dot is the registrable domain's own label:
	 * "a.b" under cn. is one domain, unfiled, not b.cn's subdomain */
	assert_int_equal(gk_status_put(st, "b.cn", gk_fs_pack(GK_FS_FILED, 0)), 0);
	assert_int_equal(ask("a\\.b.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(res.filing, GK_FS_UNFILED);
	assert_int_equal(res.reg_len, 8); /* \3a.b\2cn\0 */
	assert_int_equal(ask("www.a\\.b.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(res.reg_len, 8);
	assert_int_equal(ask("x.b.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(gk_status_put(st, "b.cn", 0), 0);
}

static bool has_type(uint16_t type, int section)
{
	for (unsigned i = 0; i < m.nrr; i++)
		if (m.rr[i].type == type && m.rr[i].section == section)
			return true;
	return false;
}

/* Nothing of a refused domain: no owner at or below it in any section. */
static void expect_nothing_of(const char *dom)
{
	size_t dl = strlen(dom);
	for (unsigned i = 0; i < m.nrr; i++) {
		size_t ol = strlen(m.rr[i].owner);
		bool below = ol >= dl && strcasecmp(m.rr[i].owner + ol - dl, dom) == 0 &&
		             (ol == dl || m.rr[i].owner[ol - dl - 1] == '.');
		if (below)
			fail_msg("record of %s owned by %s (type %u, section %d)", dom,
			         m.rr[i].owner, m.rr[i].type, m.rr[i].section);
	}
}

/* issue: a chain synthesised by CNAME or DNAME stops at the boundary of a refused domain,
 * whatever the target's shape (exists, NXDOMAIN, below a cut, below a DNAME), for every
 * qtype, with and without EDNS, over UDP and TCP */
static void test_chain_into_refused_domain_stops(void **state)
{
	(void)state;
	static const struct {
		const char *name;
		unsigned an; /* records kept: the chain up to the boundary */
		const char *refused;
	} cases[] = {
	    {"to-revoked.filed.com.cn", 1, "revoked.cn."},
	    {"to-revoked-nx.filed.com.cn", 1, "revoked.cn."},
	    {"to-revoked-deleg.filed.com.cn", 1, "revoked.cn."},
	    {"to-revoked-dname.filed.com.cn", 1, "revoked.cn."},
	    {"to-absent.filed.com.cn", 1, "absent.net.cn."},
	    {"to-bad.filed.com.cn", 1, "bad.net.cn."},
	    {"www.dn-revoked.filed.com.cn", 2, "revoked.cn."},
	    {"nope.dn-revoked.filed.com.cn", 2, "revoked.cn."},
	    {"x.ns1.sub.dn-revoked.filed.com.cn", 2, "revoked.cn."},
	};
	static const uint16_t types[] = {1, 28, 6, 15, 255, 16, 2};
	static const int edns[] = {1232, -1};
	static const enum gk_pkt_transport tr[] = {GK_PKT_UDP, GK_PKT_TCP};
	for (unsigned c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (unsigned t = 0; t < sizeof types / sizeof types[0]; t++)
			for (unsigned e = 0; e < 2; e++)
				for (unsigned x = 0; x < 2; x++) {
					uint8_t q[600];
					msg_q_t mq = {.id = 7,
					              .name = cases[c].name,
					              .type = types[t],
					              .edns = edns[e]};
					size_t n = msg_query(q, &mq);
					assert_int_equal(
					    gk_pkt_process(zs, &opts, tr[x], q, n, out, &res),
					    GK_PKT_ANSWER);
					const char *err = msg_parse(out, res.len, &m);
					if (err)
						fail_msg("%s: %s", cases[c].name, err);
					if (m.rcode != 0 || m.ns != 0 || m.ar != (e == 0) ||
					    m.an != cases[c].an)
						fail_msg("%s type %u edns %d %s: rcode %u an %u ns "
						         "%u ar "
						         "%u",
						         cases[c].name, types[t], edns[e],
						         x ? "tcp" : "udp", m.rcode, m.an, m.ns,
						         m.ar);
					expect_nothing_of(cases[c].refused);
				}
	/* the same DNAME into a filed domain is followed */
	assert_int_equal(ask("www.dn-filed.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 2);
	assert_int_equal(ask("nope.dn-filed.filed.com.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 3);
	assert_true(has_type(6, 1));
}

/* issue: DS at a served child's apex is answered from the parent side, with the parent's
 * SOA in authority, with the filing check as without it */
static void test_ds_at_child_apex(void **state)
{
	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		gk_pkt_opts_t saved = opts;
		if (pass)
			opts.status = NULL;
		assert_int_equal(ask("child.example.com.cn", 43, 1232), GK_PKT_ANSWER);
		assert_int_equal(m.rcode, 0);
		assert_int_equal(m.an, 0);
		assert_int_equal(m.ns, 1);
		assert_int_equal(m.rr[0].type, 6);
		assert_string_equal(m.rr[0].owner, "example.com.cn.");
		assert_true(m.flags & 0x0400);
		opts = saved;
	}
}

/* issue: a wildcard in a zone at a public suffix answers for a filed domain below it */
static void test_wildcard_at_public_suffix(void **state)
{
	(void)state;
	assert_int_equal(ask("www.foo.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(m.rr[0].type, 1);
	assert_int_equal(res.filing, GK_FS_FILED);
	assert_int_equal(ask("foo.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_int_equal(ask("foo.cn", 15, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 0);
	assert_true(has_type(6, 1));
	/* an unfiled domain under the wildcard is refused */
	assert_int_equal(ask("www.bar.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
}

/* The same with the registry's zone served alone (the shape found by hand: zone cn with
 * "* A" only and foo.cn filed; www.foo.cn got NOERROR with nothing in it). */
static void test_wildcard_registry_zone_alone(void **state)
{
	(void)state;
	static const char cn_only[] = "$ORIGIN cn.\n$TTL 3600\n"
	                              "@ SOA a.dns hostmaster.dns 1 7200 900 1209600 600\n"
	                              "@ NS a.dns\na.dns A 192.0.2.100\n* IN A 192.0.2.1\n";
	gk_zone_spec_t spec = {.name = "cn", .text = cn_only, .text_len = sizeof(cn_only) - 1};
	gk_zoneset_t *alone;
	char err[256];
	assert_int_equal(gk_zone_store_build(&spec, 1, psl, &alone, err, sizeof err), 0);
	gk_zoneset_t *saved = zs;
	zs = alone;
	/* its nameserver's domain unfiled: the answer is rebuilt at query time without the
	 * glue, and the wildcard's data must still go out for the filed name */
	assert_int_equal(gk_status_put(st, "dns.cn", 0), 0);
	assert_int_equal(ask("www.foo.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1);
	assert_int_equal(m.rr[0].type, 1);
	assert_false(has_owner("a.dns.cn."));
	assert_int_equal(ask("foo.cn", 1, -1), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_int_equal(ask("www.bar.cn", 1, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	assert_int_equal(gk_status_put(st, "dns.cn", gk_fs_pack(GK_FS_FILED, 0)), 0);
	zs = saved;
	gk_zone_store_free(alone);
}

/* issue: the apex and infrastructure of a registry's own zone are answered by default
 * (a public suffix has no registrable domain: no_registrable resolve) */
static void test_registry_apex_answered(void **state)
{
	(void)state;
	static const uint16_t types[] = {6, 2, 48, 1, 255};
	for (unsigned i = 0; i < sizeof types / sizeof types[0]; i++) {
		assert_int_equal(ask("cn", types[i], 1232), GK_PKT_ANSWER);
		assert_int_equal(m.rcode, 0);
		assert_true(m.flags & 0x0400);
		expect_no_ede();
	}
	assert_int_equal(ask("cn", 6, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_int_equal(ask("cn", 2, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.an, 1);
	assert_true(has_owner("a.dns.cn.")); /* glue of a filed nameserver domain */
	assert_int_equal(ask("net.cn", 6, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 0);
	assert_int_equal(m.an, 1);
	/* the operator may refuse them instead */
	gk_pkt_opts_t saved = opts;
	rules[GK_POLICY_NOREG].action = GK_ACT_REFUSE;
	use_rules();
	assert_int_equal(ask("cn", 6, 1232), GK_PKT_ANSWER);
	assert_int_equal(m.rcode, 5);
	expect_ede(15, "ICP filing required");
	rules[GK_POLICY_NOREG].action = GK_ACT_RESOLVE;
	opts = saved;
}

/* issue: an authoritative server clears CD in its responses (RFC 4035 3.1.6) */
static void test_cd_cleared(void **state)
{
	(void)state;
	static const char *const names[] = {"www.filed.com.cn", "www.unfiled.com.cn",
	                                    "www.example.org", "nope.dn-filed.filed.com.cn"};
	for (unsigned i = 0; i < 4; i++) {
		uint8_t q[600];
		msg_q_t mq = {
		    .id = 9, .name = names[i], .type = 1, .edns = 1232, .flags = MSG_RD | MSG_CD};
		size_t n = msg_query(q, &mq);
		assert_int_equal(gk_pkt_process(zs, &opts, GK_PKT_UDP, q, n, out, &res),
		                 GK_PKT_ANSWER);
		assert_null(msg_parse(out, res.len, &m));
		assert_false(m.flags & MSG_CD);
		assert_true(m.flags & MSG_RD);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_filed_answers),
	    cmocka_unit_test(test_unfiled_refused_with_ede),
	    cmocka_unit_test(test_revoked_nxdomain),
	    cmocka_unit_test(test_actions),
	    cmocka_unit_test(test_cname_into_refused_domain_stops),
	    cmocka_unit_test(test_additional_of_refused_domain_dropped),
	    cmocka_unit_test(test_registry_zone_uses_psl),
	    cmocka_unit_test(test_startup_modes),
	    cmocka_unit_test(test_not_ours_is_not_checked),
	    cmocka_unit_test(test_odd_bytes_in_labels),
	    cmocka_unit_test(test_chain_into_refused_domain_stops),
	    cmocka_unit_test(test_ds_at_child_apex),
	    cmocka_unit_test(test_wildcard_at_public_suffix),
	    cmocka_unit_test(test_wildcard_registry_zone_alone),
	    cmocka_unit_test(test_registry_apex_answered),
	    cmocka_unit_test(test_cd_cleared),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
