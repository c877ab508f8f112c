/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_zone.c -- libFuzzer target: arbitrary bytes as master-file text.
 *
 * The input is the in-memory text of zone example.cn. When the set builds, every name it
 * holds (up to a bound) is asked for a few types, exactly and with one and two labels
 * prepended (so wildcard, NXDOMAIN and referral templates are relocated to longer names),
 * over UDP and TCP, with and without DO (signed seeds: RRSIGs, NSEC and NSEC3 proofs);
 * every response must be well-formed (walk.h). Then the set is freed, so
 * LeakSanitizer sees any leak on either path.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pkt/process.h"
#include "walk.h"
#include "zone/internal.h"
#include "zone/zone.h"

#define MAX_NAMES 64

static uint8_t out[GK_PKT_OUT_MAX];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void ask(const gk_zoneset_t *zs, const uint8_t *prefix, size_t plen, const uint8_t *name,
                size_t nlen, uint16_t qtype, enum gk_pkt_transport tr, int edns)
{
	uint8_t q[512];
	if (plen + nlen > 255)
		return;
	memcpy(q, "\xab\xcd\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 12);
	size_t p = 12;
	if (plen) {
		memcpy(q + p, prefix, plen);
		p += plen;
	}
	memcpy(q + p, name, nlen);
	p += nlen;
	q[p++] = (uint8_t)(qtype >> 8);
	q[p++] = (uint8_t)qtype;
	q[p++] = 0;
	q[p++] = 1;
	if (edns) { /* 2: with DO */
		q[11] = 1;
		memcpy(q + p, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
		if (edns == 2)
			q[p + 7] = 0x80;
		p += 11;
	}
	gk_pkt_opts_t opts = {.edns_udp_max = 1232};
	gk_pkt_result_t res;
	gk_pkt_outcome_t o = gk_pkt_process(zs, &opts, tr, q, p, out, &res);
	FUZZ_CHECK(o == GK_PKT_ANSWER, "query dropped");
	if (tr == GK_PKT_UDP)
		FUZZ_CHECK(res.len <= (edns ? 1232u : 512u), "UDP response of %zu", res.len);
	walk_t w;
	const char *e = walk_msg(out, res.len, &w);
	FUZZ_CHECK(e == NULL, "%s (qtype %u, prefix %zu, transport %d)", e, qtype, plen, (int)tr);
	FUZZ_CHECK(w.qd == 1 && memcmp(out + 12, q + 12, w.qend - 12) == 0, "question echo");
	FUZZ_CHECK(out[0] == 0xab && out[1] == 0xcd, "ID echo");
}

static void ask_name(const gk_zoneset_t *zs, const gk_node_t *n)
{
	static const uint16_t types[] = {1,  2,  5,  6,  15, 16, 28,  39,
	                                 43, 46, 47, 48, 50, 51, 255, 65000};
	static const uint8_t p1[] = "\x01x", p2[] = "\x03www\x05"
	                                            "Deep1";
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		ask(zs, NULL, 0, n->name, n->len, types[i], GK_PKT_UDP, 0);
		ask(zs, p1, 2, n->name, n->len, types[i], GK_PKT_UDP, 1);
		ask(zs, p2, 10, n->name, n->len, types[i], GK_PKT_TCP, 0);
		ask(zs, NULL, 0, n->name, n->len, types[i], GK_PKT_UDP, 2);
		ask(zs, p1, 2, n->name, n->len, types[i], GK_PKT_UDP, 2);
		ask(zs, p2, 10, n->name, n->len, types[i], GK_PKT_TCP, 2);
	}
	for (unsigned i = 0; i < n->nrrsets; i++) {
		ask(zs, NULL, 0, n->name, n->len, n->rrsets[i].type, GK_PKT_TCP, 0);
		ask(zs, p1, 2, n->name, n->len, n->rrsets[i].type, GK_PKT_UDP, 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 16384)
		return 0; /* bigger zones add time, not coverage */
	gk_zone_spec_t spec = {.name = "example.cn", .text = (const char *)data, .text_len = size};
	gk_zoneset_t *zs = NULL;
	char err[256];
	int rc = gk_zone_store_build(&spec, 1, NULL, &zs, err, sizeof err);
	if (rc != 0) {
		FUZZ_CHECK(zs == NULL, "failed build returned a set");
		FUZZ_CHECK(rc < 0 && err[0] != 0 && memchr(err, 0, sizeof err), "rc %d, no message",
		           rc);
		return 0;
	}
	FUZZ_CHECK(gk_zone_store_zone_count(zs) == 1, "zone count");
	unsigned asked = 0;
	const gk_zver_t *v = gk_zone_store_get(zs,
	                                       (const uint8_t *)"\x07"
	                                                        "example\x02"
	                                                        "cn",
	                                       12);
	FUZZ_CHECK(v != NULL, "zone not found by its apex");
	for (size_t i = 0; i <= v->mask && asked < MAX_NAMES; i++) {
		if (!v->table[i].node)
			continue;
		ask_name(zs, v->table[i].node);
		asked++;
	}
	ask(zs, (const uint8_t *)"\x04none", 5, v->zone.apex->name, v->zone.apex->len, 1,
	    GK_PKT_UDP, 0);
	ask(zs, (const uint8_t *)"\x04none", 5, v->zone.apex->name, v->zone.apex->len, 1,
	    GK_PKT_UDP, 2);
	gk_zone_store_free(zs);
	return 0;
}
