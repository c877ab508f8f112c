/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_packet.c -- libFuzzer target: arbitrary query bytes through gk_pkt_process.
 *
 * A fixed zone set (built once, from in-memory text) covers wildcards, CNAME chains within
 * and across zones, a CNAME loop, DNAMEs (one whose substitution can exceed 255 octets),
 * delegations with required glue that does not fit in 512 octets, a served child zone, and
 * big RRsets. Each input runs over UDP with three EDNS limits and over TCP, and the
 * response must satisfy the invariants checked here and in walk.h. Then the same over UDP
 * and TCP with an operator policy (policy/policy.h) whose lists hit names of the zones with
 * every action: block (NXDOMAIN, NODATA, REFUSED, drop), allow, RPZ tcp-only and local data
 * (redirects, a CNAME), and a redirect rule for revoked.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pkt/parse.h"
#include "pkt/process.h"
#include "policy/policy.h"
#include "walk.h"
#include "zone/zone.h"

#define L63   "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define GLUE  "-glue-record-label-that-is-long-enough-to-matter.bigref"
#define TXT70 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"

static const char zone_example[] =
    "$ORIGIN example.cn.\n$TTL 3600\n"
    "@ SOA ns1 hostmaster 1 7200 900 1209600 300\n"
    "@ NS ns1\n@ NS ns2\n@ NS ns.other.cn.\n@ MX 10 mail\n@ MX 20 mx.outside.net.\n"
    "@ TXT \"apex\"\n@ CAA 0 issue \"ca.example.net\"\n"
    "ns1 A 192.0.2.1\nns1 AAAA 2001:db8::1\nns2 A 192.0.2.2\n"
    "www A 192.0.2.10\nwww AAAA 2001:db8::10\nmail A 192.0.2.25\n"
    "_sip._tcp SRV 10 60 5060 sip\nsip A 192.0.2.50\n"
    "10.2.0.192.in-addr PTR www.example.cn.\n"
    "unknown TYPE65280 \\# 4 0a000001\n"
    "host.deep.ent A 192.0.2.60\n"
    "*.wild A 192.0.2.100\n*.wild MX 10 mail\n*.wild TXT \"wild\"\n"
    "exists.wild TXT \"x\"\nleaf.ent.wild A 192.0.2.101\n"
    "*.wcname CNAME www\n*.wcnx CNAME nowhere\n*.wloop CNAME a.wloop\n"
    "cname1 CNAME cname2\ncname2 CNAME www\n"
    "to-other CNAME www.other.cn.\nto-sub CNAME host.sub.example.cn.\n"
    "to-wild CNAME foo.wild\nto-dname CNAME www.d.example.cn.\nto-deleg CNAME www.deleg\n"
    "loop-a CNAME loop-b\nloop-b CNAME loop-a\n"
    "c1 CNAME c2\nc2 CNAME c3\nc3 CNAME c4\nc4 CNAME c5\nc5 CNAME c6\nc6 CNAME c7\n"
    "c7 CNAME c8\nc8 CNAME c9\nc9 CNAME c10\nc10 CNAME c11\nc11 CNAME c12\nc12 CNAME c13\n"
    "c13 CNAME c14\nc14 CNAME c15\nc15 CNAME c16\nc16 CNAME c17\nc17 CNAME c18\nc18 CNAME www\n"
    "d DNAME other.cn.\nd2 DNAME target.example.cn.\nwww.target A 192.0.2.70\n"
    "dloop DNAME x.dloop.example.cn.\n"
    "long DNAME " L63 "." L63 "." L63 ".other.cn.\n"
    "deleg NS ns1.deleg\ndeleg NS ns.outside.net.\n"
    "deleg DS 12345 13 2 49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DEA0E5C0C6D2E1B4F6A7C8D9E0\n"
    "ns1.deleg A 192.0.2.201\nns1.deleg AAAA 2001:db8::201\n*.deleg A 192.0.2.209\n"
    "deleg3 NS ns1.deleg\ndeleg3 NS ns.deleg3\nns.deleg3 A 192.0.2.203\n"
    "sub NS ns1.sub\nsub DS 54321 13 2 "
    "49FD46E6C4B45C55D4AC69CBD3CD34AC1AFE51DEA0E5C0C6D2E1B4F6A7C8D9E0\n"
    "ns1.sub A 192.0.2.31\n"
    "bigref NS ns1" GLUE "\nbigref NS ns2" GLUE "\nbigref NS ns3" GLUE "\n"
    "bigref NS ns4" GLUE "\nbigref NS ns5" GLUE "\nbigref NS ns6" GLUE "\n"
    "ns1" GLUE " A 198.51.100.1\nns1" GLUE " AAAA 2001:db8:100::1\n"
    "ns2" GLUE " A 198.51.100.2\nns2" GLUE " AAAA 2001:db8:100::2\n"
    "ns3" GLUE " A 198.51.100.3\nns3" GLUE " AAAA 2001:db8:100::3\n"
    "ns4" GLUE " A 198.51.100.4\nns4" GLUE " AAAA 2001:db8:100::4\n"
    "ns5" GLUE " A 198.51.100.5\nns5" GLUE " AAAA 2001:db8:100::5\n"
    "ns6" GLUE " A 198.51.100.6\nns6" GLUE " AAAA 2001:db8:100::6\n"
    "bigtxt TXT \"r00" TXT70 "\"\nbigtxt TXT \"r01" TXT70 "\"\nbigtxt TXT \"r02" TXT70 "\"\n"
    "bigtxt TXT \"r03" TXT70 "\"\nbigtxt TXT \"r04" TXT70 "\"\nbigtxt TXT \"r05" TXT70 "\"\n"
    "bigtxt TXT \"r06" TXT70 "\"\nbigtxt TXT \"r07" TXT70 "\"\nbigtxt TXT \"r08" TXT70 "\"\n"
    "bigtxt TXT \"r09" TXT70 "\"\nbigtxt TXT \"r10" TXT70 "\"\nbigtxt TXT \"r11" TXT70 "\"\n"
    "*.bigw TXT \"r00" TXT70 "\"\n*.bigw TXT \"r01" TXT70 "\"\n*.bigw TXT \"r02" TXT70 "\"\n"
    "*.bigw TXT \"r03" TXT70 "\"\n*.bigw TXT \"r04" TXT70 "\"\n*.bigw TXT \"r05" TXT70 "\"\n"
    "*.bigw TXT \"r06" TXT70 "\"\n*.bigw TXT \"r07" TXT70 "\"\n*.bigw MX 1 mail\n";

static const char zone_sub[] = "$ORIGIN sub.example.cn.\n$TTL 1800\n"
                               "@ 60 SOA ns1 hostmaster.example.cn. 1 3600 600 86400 600\n"
                               "@ NS ns1\n@ A 192.0.2.30\nns1 A 192.0.2.31\n"
                               "host A 192.0.2.33\nalias CNAME www.example.cn.\n"
                               "* TXT \"child wildcard\"\n";

static const char zone_other[] = "$ORIGIN other.cn.\n$TTL 3600\n"
                                 "@ 600 SOA ns admin 7 3600 600 86400 60\n@ NS ns\n"
                                 "ns A 192.0.2.80\nwww A 192.0.2.81\n"
                                 "back CNAME cname1.example.cn.\n*.w CNAME www.d.example.cn.\n";

static const char policy_yaml[] =
    "mode: enforce\n"
    "redirect: {a: [192.0.2.80, 192.0.2.81], aaaa: [\"2001:db8::80\"], ttl: 60}\n"
    "lists:\n"
    "  - {file: block.txt, format: plain, kind: block, action: nxdomain, ede: 17, text: x}\n"
    "  - {file: refuse.txt, format: plain, kind: block, action: refuse}\n"
    "  - {file: allow.txt, format: plain, kind: allow}\n"
    "  - {file: redirect.txt, format: plain, kind: block, action: redirect}\n"
    "  - {file: p.rpz, format: rpz}\n";
static const char block_txt[] = ".wild.example.cn\ncname2.example.cn\n.deleg.example.cn\n";
static const char refuse_txt[] = "www.other.cn\n.sub.example.cn\n";
static const char allow_txt[] = "leaf.ent.wild.example.cn\nhost.sub.example.cn\n";
static const char redirect_txt[] = "www.example.cn\n.bigw.example.cn\n";
static const char policy_rpz[] =
    "$TTL 300\n$ORIGIN rpz.\n@ SOA a. b. 1 1 1 1 1\n@ NS a.\n"
    "mail.example.cn CNAME rpz-drop.\nbigtxt.example.cn CNAME rpz-tcp-only.\n"
    "ns1.example.cn CNAME *.\nc1.example.cn CNAME www.other.cn.\n"
    "sip.example.cn A 192.0.2.99\nsip.example.cn TXT \"notice\"\n"
    "*.d.example.cn CNAME rpz-passthru.\n";

static gk_zoneset_t *zs;
static gk_policy_t *pol;
static uint8_t out[GK_PKT_OUT_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	gk_zone_spec_t specs[3] = {
	    {.name = "example.cn", .text = zone_example, .text_len = sizeof zone_example - 1},
	    {.name = "sub.example.cn", .text = zone_sub, .text_len = sizeof zone_sub - 1},
	    {.name = "other.cn", .text = zone_other, .text_len = sizeof zone_other - 1},
	};
	char err[512];
	if (gk_zone_store_build(specs, 3, NULL, &zs, err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_packet: zone set: %s\n", err);
		abort();
	}
	gk_policy_file_t files[] = {
	    {"block.txt", block_txt, sizeof block_txt - 1},
	    {"refuse.txt", refuse_txt, sizeof refuse_txt - 1},
	    {"allow.txt", allow_txt, sizeof allow_txt - 1},
	    {"redirect.txt", redirect_txt, sizeof redirect_txt - 1},
	    {"p.rpz", policy_rpz, sizeof policy_rpz - 1},
	};
	if (gk_policy_build_mem("policy.yaml", policy_yaml, sizeof policy_yaml - 1, files, 5, &pol,
	                        err, sizeof err) != 0) {
		fprintf(stderr, "fuzz_packet: policy: %s\n", err);
		abort();
	}
	return 0;
}

static void one(const uint8_t *q, size_t len, enum gk_pkt_transport tr, uint16_t edns_max,
                const gk_policy_t *p)
{
	gk_pkt_opts_t opts = {.edns_udp_max = edns_max, .policy = p};
	gk_pkt_result_t res;
	gk_pkt_outcome_t o = gk_pkt_process(zs, &opts, tr, q, len, out, &res);
	bool drop = len < 12 || (q[2] & 0x80);
	if (p && o == GK_PKT_DROP && !drop) {
		FUZZ_CHECK(res.why == GK_WHY_BLOCKED && res.action == GK_ACT_DROP,
		           "policy drop without a drop verdict (why %u action %u)", res.why,
		           res.action);
		return;
	}
	FUZZ_CHECK((o == GK_PKT_DROP) == drop, "outcome %d for len %zu", (int)o, len);
	if (o == GK_PKT_DROP)
		return;
	FUZZ_CHECK(res.len >= 12 && res.len <= GK_PKT_OUT_MAX, "len %zu", res.len);
	if (tr == GK_PKT_UDP)
		FUZZ_CHECK(res.len <= (res.edns ? (edns_max > 512 ? edns_max : 512u) : 512u),
		           "UDP response of %zu (edns %d, max %u)", res.len, res.edns, edns_max);
	FUZZ_CHECK(out[0] == q[0] && out[1] == q[1], "ID not echoed");
	FUZZ_CHECK(out[2] & 0x80, "QR clear");
	FUZZ_CHECK((out[2] & 0x78) == (q[2] & 0x78), "opcode not echoed");
	FUZZ_CHECK((out[3] & 0x0f) == (res.rcode & 0x0f), "rcode %u vs header %u", res.rcode,
	           out[3] & 0x0f);
	FUZZ_CHECK(!(out[2] & 0x02) == !res.tc, "TC bit vs result");
	walk_t w;
	const char *e = walk_msg(out, res.len, &w);
	FUZZ_CHECK(e == NULL, "%s (transport %d, edns max %u)", e, (int)tr, edns_max);
	FUZZ_CHECK(w.qd <= 1, "QDCOUNT %u", w.qd);
	if (w.qd == 1)
		FUZZ_CHECK(w.qend <= len && memcmp(out + 12, q + 12, w.qend - 12) == 0,
		           "question not echoed byte for byte");
	FUZZ_CHECK(w.opt == res.edns || (w.qd == 0 && !w.opt), "OPT in response %d, query %d",
	           w.opt, res.edns);
	if (w.opt) {
		FUZZ_CHECK(w.opt_size == edns_max, "OPT size %u", w.opt_size);
		FUZZ_CHECK(w.opt_ext_rcode == res.rcode >> 4, "ext rcode");
	}
	if (res.rcode >= 16)
		FUZZ_CHECK(w.opt, "extended rcode %u without OPT", res.rcode);
	/* only answers with data may be authoritative; errors carry no records */
	uint8_t rc = res.rcode;
	if (rc == 1 || rc == 4 || rc == 5 || rc == 16)
		FUZZ_CHECK(w.an == 0 && w.ns == 0, "error rcode %u with records", rc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > GK_PKT_OUT_MAX)
		return 0;
	/* the prefetch stages (udp.c runs them before gk_pkt_process) read only the input, and
	 * the question they find is the one gk_pkt_process parses */
	gk_pkt_hint_t h;
	for (unsigned s = 0; s < GK_PKT_PREFETCH_STAGES; s++)
		gk_pkt_prefetch(zs, s, data, size, &h);
	gk_query_t qq;
	gk_parse_t pr = gk_pkt_parse_query(data, size, &qq);
	if (h.ok && qq.qend) {
		FUZZ_CHECK(h.hash == gk_namehash(qq.qname, qq.qlen),
		           "prefetch hint differs from the parsed question");
		/* the suffix states gk_pkt_process_hint takes from the hint */
		gk_namehash_pstates(qq.qname, qq.loff, qq.labels, qq.lens_or, qq.st);
		FUZZ_CHECK(h.labels == qq.labels && h.qlen == qq.qlen &&
		               memcmp(h.st, qq.st, (qq.labels + 1u) * sizeof qq.st[0]) == 0,
		           "prefetch hint's suffix states differ from the parsed question's");
	}
	/* the answer built with the hint (udp.c's batches) is the one built without it */
	{
		static uint8_t out2[GK_PKT_OUT_MAX];
		gk_pkt_opts_t opts = {.edns_udp_max = 1232};
		gk_pkt_result_t r1, r2;
		gk_pkt_outcome_t o1 = gk_pkt_process(zs, &opts, GK_PKT_UDP, data, size, out, &r1);
		gk_pkt_outcome_t o2 =
		    gk_pkt_process_hint(zs, &opts, GK_PKT_UDP, data, size, out2, &r2, &h);
		FUZZ_CHECK(o1 == o2 && (o1 == GK_PKT_DROP ||
		                        (r1.len == r2.len && memcmp(out, out2, r1.len) == 0)),
		           "the prefetch hint changed the answer");
	}
	if (!h.ok)
		FUZZ_CHECK(pr == GK_PARSE_DROP || qq.qend == 0,
		           "a question the prefetch hint did not find (parse %d)", (int)pr);
	one(data, size, GK_PKT_UDP, 1232, NULL);
	one(data, size, GK_PKT_UDP, 512, NULL);
	one(data, size, GK_PKT_UDP, 4096, NULL);
	one(data, size, GK_PKT_TCP, 1232, NULL);
	one(data, size, GK_PKT_UDP, 512, pol);
	one(data, size, GK_PKT_TCP, 1232, pol);
	return 0;
}
