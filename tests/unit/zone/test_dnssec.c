/* SPDX-License-Identifier: MIT */
/* tests/unit/zone/test_dnssec.c -- signed zones in the store: canonical order, NSEC3 hashes,
 * the chains and denial pointers built at load, and DO=1 answers through the packet path.
 *
 * Slot templates (DO=1 wildcard answers and NXDOMAIN below the apex, zone/dnssec.h) are
 * checked byte for byte against the answer the resolver builds at query time.
 *
 * Runs from the repository root (ctest WORKING_DIRECTORY). The signed zones are the fuzz
 * seeds tests/fuzz/corpus/fuzz_zone/signed-* (ED25519, valid until 2037).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "pkt/process.h"
#include "zone/answer.h"
#include "zone/dnssec.h"
#include "zone/internal.h"
#include "zone/zone.h"

#define SEEDS "tests/fuzz/corpus/fuzz_zone/"

/* "a.b.example" to wire form. */
static size_t wire(const char *s, uint8_t *out)
{
	size_t o = 0;
	while (*s) {
		const char *dot = strchr(s, '.');
		size_t l = dot ? (size_t)(dot - s) : strlen(s);
		out[o++] = (uint8_t)l;
		memcpy(out + o, s, l);
		o += l;
		s += l + (dot ? 1 : 0);
	}
	out[o++] = 0;
	return o;
}

/* RFC 4034 6.1: the example names in canonical order. */
static void test_canonical_order(void **state)
{
	(void)state;
	static const char *names[] = {"example",        "a.example",      "yljkjljk.a.example",
	                              "z.a.example",    "zabc.a.example", "z.example",
	                              "\001.z.example", "*.z.example",    "\200.z.example"};
	uint8_t a[256], b[256];
	for (size_t i = 0; i + 1 < sizeof names / sizeof names[0]; i++) {
		size_t la = wire(names[i], a), lb = wire(names[i + 1], b);
		assert_true(gk_zone_dnssec_canon_cmp(a, la, b, lb) < 0);
		assert_true(gk_zone_dnssec_canon_cmp(b, lb, a, la) > 0);
		assert_int_equal(gk_zone_dnssec_canon_cmp(a, la, a, la), 0);
	}
}

/* base32hex of 20 octets, lowercase. */
static void b32(const uint8_t *h, char *out)
{
	static const char d[] = "0123456789abcdefghijklmnopqrstuv";
	uint64_t acc = 0;
	unsigned bits = 0, o = 0;
	for (int i = 0; i < GK_NSEC3_HASH; i++) {
		acc = (acc << 8) | h[i];
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			out[o++] = d[(acc >> bits) & 31];
		}
	}
	out[o] = 0;
}

/* RFC 5155 Appendix A: salt aabbccdd, 12 iterations. */
static void test_nsec3_hash(void **state)
{
	(void)state;
	gk_dnssec_t s = {.nsec3 = true, .n3alg = 1, .iter = 12, .saltlen = 4};
	memcpy(s.salt, "\xaa\xbb\xcc\xdd", 4);
	static const char *cases[][2] = {{"example", "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom"},
	                                 {"a.example", "35mthgpgcu1qg68fab165klnsnk3dpvl"},
	                                 {"*.w.example", "r53bq7cc2uvmubfu5ocmm6pers9tk9en"},
	                                 {"x.y.w.example", "2vptu5timamqttgl4luu9kg21e0aor3s"}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t n[256], h[GK_NSEC3_HASH];
		char txt[40];
		size_t l = wire(cases[i][0], n);
		assert_true(gk_zone_dnssec_nsec3_hash(&s, n, l, h));
		b32(h, txt);
		assert_string_equal(txt, cases[i][1]);
	}
}

static gk_zoneset_t *load(const char *seed)
{
	gk_zone_spec_t spec = {.name = "example.cn", .file = seed};
	gk_zoneset_t *zs = NULL;
	char err[256];
	if (gk_zone_store_build(&spec, 1, NULL, &zs, err, sizeof err) != 0)
		fail_msg("%s: %s", seed, err);
	return zs;
}

static const gk_zver_t *ver(const gk_zoneset_t *zs)
{
	return gk_zone_store_get(zs,
	                         (const uint8_t *)"\x07"
	                                          "example\x02"
	                                          "cn",
	                         12);
}

/* The chain is sorted, complete, and every NSEC3's next hash is the next entry's. */
static void test_chains(void **state)
{
	(void)state;
	static const char *seeds[] = {SEEDS "signed-nsec", SEEDS "signed-nsec3",
	                              SEEDS "signed-nsec3-optout"};
	for (int k = 0; k < 3; k++) {
		gk_zoneset_t *zs = load(seeds[k]);
		const gk_zver_t *v = ver(zs);
		const gk_dnssec_t *s = v->zone.sec;
		assert_non_null(s);
		assert_int_equal(s->nsec3, k > 0);
		assert_true(s->n >= 4);
		assert_int_equal(s->warnings, 0);
		for (size_t i = 0; i + 1 < s->n; i++) {
			if (s->nsec3)
				assert_true(memcmp(s->hash + i * GK_NSEC3_HASH,
				                   s->hash + (i + 1) * GK_NSEC3_HASH,
				                   GK_NSEC3_HASH) < 0);
			else
				assert_true(gk_zone_dnssec_canon_cmp(
				                s->chain[i]->name, s->chain[i]->len,
				                s->chain[i + 1]->name, s->chain[i + 1]->len) < 0);
		}
		/* the apex: its NSEC, or the NSEC3 matching its hash */
		const gk_node_t *apex = v->zone.apex;
		assert_non_null(gk_zone_node_deny(apex));
		if (s->nsec3)
			assert_true(apex->flags & GK_NODE_N3EXACT);
		else
			assert_ptr_equal(gk_zone_node_deny(apex), apex);
		/* RRSIGs hang on the RRsets they cover */
		assert_non_null(gk_zone_rrset_sigs(v->zone.soa));
		assert_int_equal(gk_zone_rrset_sigs(v->zone.soa)->type, GK_TYPE_RRSIG);
		gk_zone_store_free(zs);
	}
}

/* Section counts of a query's answer. */
static void ask(const gk_zoneset_t *zs, const char *name, uint16_t qtype, bool dnssec,
                uint8_t *rcode, uint16_t cnt[3])
{
	uint8_t q[512], out[GK_PKT_OUT_MAX];
	memcpy(q, "\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01", 12);
	size_t p = 12 + wire(name, q + 12);
	q[p++] = (uint8_t)(qtype >> 8);
	q[p++] = (uint8_t)qtype;
	q[p++] = 0;
	q[p++] = 1;
	memcpy(q + p, "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00", 11);
	if (dnssec)
		q[p + 7] = 0x80;
	p += 11;
	gk_pkt_opts_t opts = {.edns_udp_max = 1232};
	gk_pkt_result_t res;
	assert_int_equal(gk_pkt_process(zs, &opts, GK_PKT_TCP, q, p, out, &res), GK_PKT_ANSWER);
	*rcode = out[3] & 15;
	cnt[0] = (uint16_t)(out[6] << 8 | out[7]);
	cnt[1] = (uint16_t)(out[8] << 8 | out[9]);
	cnt[2] = (uint16_t)((out[10] << 8 | out[11]) - 1); /* OPT */
	assert_int_equal(out[3] & 0x10, 0);                /* CD clear */
	assert_int_equal(out[3] & 0x20, 0);                /* AD never set */
}

static void test_do_answers(void **state)
{
	(void)state;
	gk_zoneset_t *zs = load(SEEDS "signed-nsec3");
	uint8_t rc;
	uint16_t c[3];
	/* DO=0: unchanged; DO=1: the RRSIG after each RRset */
	ask(zs, "www.example.cn", 1, false, &rc, c);
	assert_int_equal(c[0], 1);
	assert_int_equal(c[1], 1);
	ask(zs, "www.example.cn", 1, true, &rc, c);
	assert_int_equal(c[0], 2);
	assert_int_equal(c[1], 2);
	/* NXDOMAIN: SOA, closest encloser, next closer, wildcard (two may be one), each signed */
	ask(zs, "nx.example.cn", 1, false, &rc, c);
	assert_int_equal(rc, 3);
	assert_int_equal(c[1], 1);
	ask(zs, "nx.example.cn", 1, true, &rc, c);
	assert_int_equal(rc, 3);
	assert_true(c[1] >= 6 && c[1] <= 8 && c[1] % 2 == 0);
	/* NODATA: SOA and the NSEC3 matching the name, each signed */
	ask(zs, "www.example.cn", 16, true, &rc, c);
	assert_int_equal(rc, 0);
	assert_int_equal(c[0], 0);
	assert_int_equal(c[1], 4);
	/* wildcard expansion: the data with its RRSIG, the next closer name's NSEC3 */
	ask(zs, "a.w.example.cn", 16, true, &rc, c);
	assert_int_equal(c[0], 2);
	assert_true(c[1] >= 4);
	/* signed delegation: NS, DS and its RRSIG */
	ask(zs, "x.s.example.cn", 1, true, &rc, c);
	assert_int_equal(c[0], 0);
	assert_int_equal(c[1], 3);
	gk_zone_store_free(zs);
}

/* A signed zone's names never share the zone's NODATA template (an unsigned zone's do,
 * compile.c): each name's DO=1 NODATA proves that name, so each keeps its own twin, and
 * no two data names' twins share their bytes (identical bytes would be the same answer). */
static void test_nodata_twins(void **state)
{
	(void)state;
	static const char *seeds[] = {SEEDS "signed-nsec", SEEDS "signed-nsec3"};
	for (int k = 0; k < 2; k++) {
		gk_zoneset_t *zs = load(seeds[k]);
		const gk_zver_t *v = ver(zs);
		const uint8_t *seen[64];
		size_t nseen = 0, checked = 0;
		for (size_t i = 0; i <= v->mask; i++) {
			const gk_node_t *n = v->table[i].node;
			if (!n || !n->other || n->cut || n->dname || (n->flags & GK_NODE_WILD) ||
			    !n->nrrsets || n->other->rcode != 0 || n->other->an != 0)
				continue;
			/* an NSEC3 owner's answers (byte for byte one another's) may share */
			bool n3owner = gk_zone_node_rrset(n, GK_TYPE_NSEC3) != NULL;
			assert_ptr_not_equal(n->other, v->zone.nodata);
			const gk_tmpl_t *sig = gk_zone_dnssec_tmpl_sig(v->zone.sec, n->other);
			assert_non_null(sig);
			for (size_t j = 0; !n3owner && j < nseen; j++)
				assert_ptr_not_equal(seen[j], sig->blob);
			if (!n3owner && nseen < 64)
				seen[nseen++] = sig->blob;
			checked++;
		}
		assert_true(checked >= 3);
		gk_zone_store_free(zs);
	}
}

/* When a slot template answers (name, qtype) with DO=1: the packet path's answer against
 * the resolver's at query time, same rcode, counts and bytes; returns true. False: no slot
 * template answers it. */
static bool same_as_runtime(const gk_zoneset_t *zs, const uint8_t *name, size_t nlen,
                            uint16_t qtype)
{
	static uint8_t q[512], out[GK_PKT_OUT_MAX], ref[GK_PKT_OUT_MAX];
	memcpy(q, "\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x01", 12);
	memcpy(q + 12, name, nlen);
	size_t p = 12 + nlen;
	q[p++] = (uint8_t)(qtype >> 8);
	q[p++] = (uint8_t)qtype;
	q[p++] = 0;
	q[p++] = 1;
	size_t qend = p;
	memcpy(q + p, "\x00\x00\x29\xff\xff\x00\x00\x80\x00\x00\x00", 11);
	p += 11;
	gk_pkt_opts_t opts = {.edns_udp_max = 65535};
	gk_pkt_result_t res;
	assert_int_equal(gk_pkt_process(zs, &opts, GK_PKT_TCP, q, p, out, &res), GK_PKT_ANSWER);
	memcpy(ref, q, qend);
	gk_zone_out_t o;
	gk_zone_put_runtime(zs, ref, sizeof ref - 64, qend, name, nlen, NULL, 0, NULL, qtype, false,
	                    true, NULL, NULL, NULL, sizeof ref - 64 - qend, &o);
	/* only slot templates are new: the other templates are what they were (a referral's
	 * template, say, compresses glue as compiled, not against the query name) */
	uint8_t loff[GK_DNAME_LABELS_MAX];
	unsigned labels = 0;
	for (size_t i = 0; name[i]; i += name[i] + 1u)
		loff[labels++] = (uint8_t)i;
	gk_zone_hit_t h;
	if (gk_zone_find(zs, name, nlen, loff, labels, NULL, qtype, NULL, &h) != GK_ZONE_TMPL ||
	    !gk_zone_use_do(&h, nlen) || !gk_zone_slotted(&h))
		return false;
	char txt[300];
	gk_dname_to_str(name, txt, sizeof txt);
	if ((out[3] & 15) != o.rcode || (size_t)(out[6] << 8 | out[7]) != o.cnt[0] ||
	    (size_t)(out[8] << 8 | out[9]) != o.cnt[1] ||
	    (size_t)((out[10] << 8 | out[11]) - 1) != o.cnt[2] || res.len - 11 - qend != o.body ||
	    memcmp(out + qend, ref + qend, o.body) != 0)
		fail_msg("%s type %u: the packet path's DO=1 answer differs from the resolver's",
		         txt, qtype);
	return true;
}

/* Names below every name of the signed zones (NXDOMAIN, wildcard answers and NODATA, some
 * two labels down, some sharing a label with the SOA's names or an NSEC owner), DO=1: the
 * slot templates write what the resolver writes, and they do answer the common cases. */
static void test_slot_answers(void **state)
{
	(void)state;
	/* the fixtures: a wildcard at the apex beside names sharing labels with the SOA's
	 * (ldns-signzone, ED25519, NSEC and NSEC3 with a salt, valid until 2037) */
	static const char *seeds[] = {
	    SEEDS "signed-nsec", SEEDS "signed-nsec3", SEEDS "signed-nsec3-optout",
	    "tests/unit/zone/fixtures/slot-nsec", "tests/unit/zone/fixtures/slot-nsec3"};
	static const char *labels[] = {"nx",   "a",   "zz", "ns1",   "ns",         "mail",
	                               "www",  "w",   "0",  "-",     "hostmaster", "a.b",
	                               "x.nx", "*.q", "s",  "zzzz.y"};
	static const uint16_t types[] = {1, 16, 28, 15, 255, 43, 2};
	for (int k = 0; k < 5; k++) {
		gk_zoneset_t *zs = load(seeds[k]);
		const gk_zver_t *v = ver(zs);
		unsigned slotted = 0, total = 0, nx_apex = 0;
		for (size_t i = 0; i <= v->mask; i++) {
			const gk_node_t *n = v->table[i].node;
			if (!n)
				continue;
			for (size_t l = 0; l < sizeof labels / sizeof labels[0]; l++) {
				uint8_t name[GK_DNAME_MAX + 1];
				size_t pl = wire(labels[l], name) - 1; /* without the root */
				if (pl + n->len > GK_DNAME_MAX)
					continue;
				memcpy(name + pl, n->name, n->len);
				for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
					bool sl = same_as_runtime(zs, name, pl + n->len, types[t]);
					slotted += sl;
					nx_apex += sl && (n->flags & GK_NODE_APEX) && !n->wild;
					total++;
				}
			}
		}
		assert_true(total > 1000);
		assert_true(slotted > total / 20);
		if (!v->zone.apex->wild)
			assert_true(nx_apex > 0);
		gk_zone_store_free(zs);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_canonical_order), cmocka_unit_test(test_nsec3_hash),
	    cmocka_unit_test(test_chains),          cmocka_unit_test(test_do_answers),
	    cmocka_unit_test(test_nodata_twins),    cmocka_unit_test(test_slot_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
