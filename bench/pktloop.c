/* SPDX-License-Identifier: MIT */
/* bench/pktloop.c -- the UDP packet path in process, for instruction counts (callgrind).
 *
 * Builds four small zones (filed, unfiled, revoked, a registry zone at a public suffix), a
 * status replica that knows the filed and revoked ones, and the default status rules; then
 * answers a fixed mix of 8 queries (filed A/MX/AAAA/NXDOMAIN, unfiled, revoked, a CNAME
 * into an unfiled domain, a registry name) N times with gk_pkt_process over UDP with EDNS.
 * Run under `valgrind --tool=callgrind` twice (N and 2N) and divide the difference in Ir by
 * N * 8: instructions per query, free of the set-up.
 *
 * usage: pktloop [N]   (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/psl.h"
#include "pkt/process.h"
#include "policy/policy.h"
#include "status/status.h"
#include "zone/zone.h"

static const char z_filed[] = "$ORIGIN filed.com.cn.\n$TTL 3600\n"
                              "@ SOA ns1 host 1 7200 900 1209600 300\n@ NS ns1\n"
                              "ns1 A 192.0.2.1\nwww A 192.0.2.10\n@ MX 10 mx\n"
                              "mx A 192.0.2.25\nto-unfiled CNAME www.unfiled.com.cn.\n";
static const char z_unfiled[] = "$ORIGIN unfiled.com.cn.\n$TTL 3600\n"
                                "@ SOA ns1 host 1 7200 900 1209600 300\n@ NS ns1\n"
                                "ns1 A 192.0.2.2\nwww A 192.0.2.20\n";
static const char z_revoked[] = "$ORIGIN revoked.cn.\n$TTL 3600\n"
                                "@ SOA ns1 host 1 7200 900 1209600 60\n@ NS ns1\n"
                                "ns1 A 192.0.2.3\nwww A 192.0.2.30\n";
static const char z_cn[] = "$ORIGIN cn.\n$TTL 3600\n@ SOA a.dns host.dns 1 7200 900 1209600 600\n"
                           "@ NS a.dns\na.dns A 192.0.2.60\n";

static void rule(gk_refusal_t *r, gk_action_t a, const char *text)
{
	memset(r, 0, sizeof(*r));
	r->action = a;
	r->ede_code = 15;
	r->text_len = (uint8_t)strlen(text);
	memcpy(r->text, text, r->text_len);
}

/* A query for name (dotted, no trailing dot) with OPT (1232). Returns its length. */
static size_t query(uint8_t *q, const char *name, uint16_t type)
{
	memset(q, 0, 12);
	q[0] = 0x12;
	q[1] = 0x34;
	q[2] = 0x01; /* RD */
	q[5] = 1;    /* QDCOUNT */
	q[11] = 1;   /* ARCOUNT */
	size_t n = 12;
	const char *p = name;
	while (*p) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	q[n++] = (uint8_t)(type >> 8);
	q[n++] = (uint8_t)type;
	q[n++] = 0;
	q[n++] = 1;
	static const uint8_t opt[] = {0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0};
	memcpy(q + n, opt, sizeof(opt));
	return n + sizeof(opt);
}

int main(int argc, char **argv)
{
	long iters = argc > 1 ? atol(argv[1]) : 100000;
	gk_psl_t *psl;
	gk_zoneset_t *zs;
	gk_status_t *st;
	char err[512];
	if (gk_psl_open(NULL, &psl) != 0)
		return 1;
	gk_zone_spec_t specs[] = {
	    {.name = "filed.com.cn", .text = z_filed, .text_len = sizeof(z_filed) - 1},
	    {.name = "unfiled.com.cn", .text = z_unfiled, .text_len = sizeof(z_unfiled) - 1},
	    {.name = "revoked.cn", .text = z_revoked, .text_len = sizeof(z_revoked) - 1},
	    {.name = "cn", .text = z_cn, .text_len = sizeof(z_cn) - 1},
	};
	if (gk_zone_store_build(specs, 4, psl, &zs, err, sizeof(err)) != 0) {
		fprintf(stderr, "pktloop: %s\n", err);
		return 1;
	}
	gk_status_conf_t sc = {.redis_host = "127.0.0.1", .redis_port = 1};
	if (gk_status_create(&sc, &st) != 0 ||
	    gk_status_put(st, "filed.com.cn", gk_fs_pack(GK_FS_FILED, 1)) != 0 ||
	    gk_status_put(st, "revoked.cn", gk_fs_pack(GK_FS_REVOKED, 0)) != 0)
		return 1;
	gk_status_set_ready(st);
	gk_pkt_opts_t o = {.edns_udp_max = 1232, .status = st, .psl = psl};
	gk_refusal_t r[4];
	rule(&r[0], GK_ACT_REFUSE, "ICP filing required");
	rule(&r[1], GK_ACT_NXDOMAIN, "ICP filing revoked");
	rule(&r[2], GK_ACT_REFUSE, "ICP filing status unavailable");
	rule(&r[3], GK_ACT_RESOLVE, "ICP filing required");
	o.starting = r[2];
#ifdef GK_DECIDE_NOCHECK
	gk_policy_t *pol;
	if (gk_policy_from_rules(r, &pol) != 0)
		return 1;
	o.policy = pol;
#else
	o.unfiled = r[0];
	o.revoked = r[1];
	o.unknown = r[2];
	o.no_registrable = r[3];
#endif
	static const struct {
		const char *name;
		uint16_t type;
	} mix[] = {{"www.filed.com.cn", 1},        {"filed.com.cn", 15},
	           {"www.filed.com.cn", 28},       {"nope.filed.com.cn", 1},
	           {"www.unfiled.com.cn", 1},      {"www.revoked.cn", 1},
	           {"to-unfiled.filed.com.cn", 1}, {"a.dns.cn", 1}};
	enum { NMIX = sizeof(mix) / sizeof(mix[0]) };
	uint8_t q[NMIX][300];
	size_t ql[NMIX];
	for (int i = 0; i < NMIX; i++)
		ql[i] = query(q[i], mix[i].name, mix[i].type);
	static uint8_t out[GK_PKT_OUT_MAX];
	unsigned long sum = 0;
	for (long k = 0; k < iters; k++)
		for (int i = 0; i < NMIX; i++) {
			gk_pkt_result_t res;
			if (gk_pkt_process(zs, &o, GK_PKT_UDP, q[i], ql[i], out, &res) ==
			    GK_PKT_ANSWER)
				sum += res.len + res.rcode;
		}
	printf("%ld x %d queries, %lu\n", iters, NMIX, sum);
	return 0;
}
