/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_dname.c -- wire-name helpers: length, labels, subdomain, text form,
 * hash and the lowercase table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "common/namehash.h"

#define N(s) ((const uint8_t *)(s))

static void test_len_labels(void **state)
{
	(void)state;
	assert_int_equal(gk_dname_len(N("")), 1);
	assert_int_equal(gk_dname_labels(N("")), 0);
	assert_int_equal(gk_dname_len(N("\x03www\x07"
	                                "example\x02"
	                                "cn")),
	                 16);
	assert_int_equal(gk_dname_labels(N("\x03www\x07"
	                                   "example\x02"
	                                   "cn")),
	                 3);
	uint8_t big[256];
	for (int i = 0; i < 127; i++) {
		big[2 * i] = 1;
		big[2 * i + 1] = 'a';
	}
	big[254] = 0;
	assert_int_equal(gk_dname_len(big), 255);
	assert_int_equal(gk_dname_labels(big), 127);
}

static void test_subdomain(void **state)
{
	(void)state;
	const uint8_t *ex = N("\x07"
	                      "example\x02"
	                      "cn");
	size_t exl = 12;
	assert_true(gk_dname_is_subdomain(ex, exl, ex, exl));
	assert_true(gk_dname_is_subdomain(N("\x03www\x07"
	                                    "example\x02"
	                                    "cn"),
	                                  16, ex, exl));
	assert_true(gk_dname_is_subdomain(ex, exl, N(""), 1)); /* everything is below root */
	assert_false(gk_dname_is_subdomain(N("\x02"
	                                     "cn"),
	                                   4, ex, exl));
	/* same trailing octets, different label boundary */
	assert_false(gk_dname_is_subdomain(N("\x0a"
	                                     "wwwexample\x02"
	                                     "cn"),
	                                   15, ex, exl));
	assert_true(gk_dname_is_subdomain(N("\x02xx\x07"
	                                    "example\x02"
	                                    "cn"),
	                                  15, ex, exl));
	assert_false(gk_dname_is_subdomain(N("\x03www\x07"
	                                     "example\x03"
	                                     "org"),
	                                   17, ex, exl));
	/* a label whose octets look like the suffix's labels */
	assert_false(gk_dname_is_subdomain(N("\x04x\x02"
	                                     "cn"),
	                                   6,
	                                   N("\x02"
	                                     "cn"),
	                                   4));
}

static void test_to_str(void **state)
{
	(void)state;
	char buf[1100];
	assert_string_equal(gk_dname_to_str(N(""), buf, sizeof buf), ".");
	assert_string_equal(gk_dname_to_str(N("\x03www\x02"
	                                      "cn"),
	                                    buf, sizeof buf),
	                    "www.cn.");
	assert_string_equal(gk_dname_to_str(N("\x03"
	                                      "a.b\x01\\\x00"),
	                                    buf, sizeof buf),
	                    "a\\.b.\\\\.");
	assert_string_equal(gk_dname_to_str(N("\x02"
	                                      "a \x01\x7f"),
	                                    buf, sizeof buf),
	                    "a\\032.\\127.");
	/* worst case: 255 octets all escaped fits a 1024-octet buffer */
	uint8_t all[256];
	for (int i = 0; i < 4; i++) {
		all[64 * i] = 63;
		memset(all + 64 * i + 1, 0x01, 63);
	}
	all[254] = 0; /* the last label is 61 octets: 255 in all */
	all[192] = 61;
	assert_true(strlen(gk_dname_to_str(all, buf, sizeof buf)) < sizeof buf);
}

/* As dig prints names: the characters special in master files are escaped with a backslash
 * too, so that the text reads back as the same name (issue 14: names with odd octets go from
 * wire to text in gkctl lookup and in error messages). */
static void test_to_str_like_dig(void **state)
{
	(void)state;
	char buf[1100];
	assert_string_equal(gk_dname_to_str(N("\x0d"
	                                      "a\"b(c)d;e@f$g\x02"
	                                      "cn"),
	                                    buf, sizeof buf),
	                    "a\\\"b\\(c\\)d\\;e\\@f\\$g.cn.");
	assert_string_equal(gk_dname_to_str(N("\x0b"
	                                      "dot.inlabel\x07"
	                                      "example\x02"
	                                      "cn"),
	                                    buf, sizeof buf),
	                    "dot\\.inlabel.example.cn.");
	assert_string_equal(gk_dname_to_str(N("\x05"
	                                      "a\x00"
	                                      "b\\c"),
	                                    buf, sizeof buf),
	                    "a\\000b\\\\c.");
}

/* Every octet, in every position of a label, reads back through ldns as itself. */
static void test_to_str_round_trip(void **state)
{
	(void)state;
	for (unsigned c = 0; c < 256; c++) {
		uint8_t n[] = {3, 'x', (uint8_t)c, 'y', 1, (uint8_t)c, 2, 'c', 'n', 0};
		char buf[64];
		gk_dname_to_str(n, buf, sizeof buf);
		ldns_rdf *d = NULL;
		if (ldns_str2rdf_dname(&d, buf) != LDNS_STATUS_OK)
			fail_msg("octet %u: '%s' does not parse", c, buf);
		if (ldns_rdf_size(d) != sizeof n || memcmp(ldns_rdf_data(d), n, sizeof n) != 0)
			fail_msg("octet %u: '%s' reads back as another name", c, buf);
		ldns_rdf_deep_free(d);
	}
}

/* A short buffer gives a NUL-terminated prefix of the full text. */
static void test_to_str_truncates_to_prefix(void **state)
{
	(void)state;
	const uint8_t *n = N("\x3f"
	                     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\x02"
	                     "cn");
	char full[300], part[300];
	gk_dname_to_str(n, full, sizeof full);
	for (size_t cap = 1; cap < 70; cap++) {
		memset(part, 'Z', sizeof part);
		gk_dname_to_str(n, part, cap);
		assert_non_null(memchr(part, 0, cap));
		if (strncmp(part, full, strlen(part)) != 0)
			fail_msg("cap %zu: '%s' is not a prefix of '%s'", cap, part, full);
	}
}

/* The name hash is suffix-decomposable: one right-to-left pass over a name gives, for every
 * label i, the same hash as gk_namehash of the suffix from label i on its own (names with
 * short labels, labels over eight octets, and a long name whose words cross labels). */
static void test_namehash_suffixes(void **state)
{
	(void)state;
	static const char *const names[] = {
	    "cn",
	    "a.b",
	    "www.example.com.cn",
	    "x.verylonglabel-over-eight.example.org",
	    "a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z",
	    "abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz0.example"};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		uint8_t wire[GK_DNAME_MAX];
		size_t len = gk_dname_from_text(names[k], strlen(names[k]), wire, 0);
		assert_true(len > 0);
		uint8_t loff[GK_DNAME_LABELS_MAX];
		unsigned labels = 0;
		for (size_t o = 0; wire[o]; o += wire[o] + 1u)
			loff[labels++] = (uint8_t)o;
		uint64_t h[GK_DNAME_LABELS_MAX + 1], st[GK_DNAME_LABELS_MAX + 1];
		gk_namehash_suffixes(wire, len, loff, labels, h);
		gk_namehash_states(wire, len, loff, labels, st);
		for (unsigned i = 0; i < labels; i++) {
			assert_true(h[i] == gk_namehash(wire + loff[i], len - loff[i]));
			assert_true(h[i] == gk_namehash_fin(st[i]));
		}
		assert_true(h[labels] == gk_namehash((const uint8_t *)"", 1));
		/* one changed octet changes the hash of every suffix holding it, and no other */
		uint8_t alt[GK_DNAME_MAX];
		memcpy(alt, wire, len);
		alt[1] ^= 1;
		uint64_t h2[GK_DNAME_LABELS_MAX + 1];
		gk_namehash_suffixes(alt, len, loff, labels, h2);
		assert_true(h2[0] != h[0]);
		for (unsigned i = 1; i <= labels; i++)
			assert_true(h2[i] == h[i]);
	}
}

/* The three ways to fold a name give one state per suffix: in place, label by label up to
 * the name's end (gk_namehash_step, which the zone store's apex search uses), over a copy
 * followed by GK_NAMEHASH_PAD zeros (gk_namehash_pstates, the packet path's qname), and
 * gk_namehash_states; gk_namehash_state_at finds a suffix's state by its offset. Lengths around
 * multiples of eight, where the last word ends at or past the name's end. */
static void test_namehash_padded(void **state)
{
	(void)state;
	static const char *const names[] = {"cn",
	                                    "com.cn",
	                                    "abcd.cn",
	                                    "abcde.cn",
	                                    "filed.com.cn",
	                                    "www.filed.com.cn",
	                                    "www.unfiled.com.cn",
	                                    "to-unfiled.filed.com.cn",
	                                    "abcdefgh.ijklmnopq.rs",
	                                    "x.verylonglabel-over-eight.example.org"};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		uint8_t wire[GK_DNAME_MAX + 1 + GK_NAMEHASH_PAD];
		size_t len = gk_dname_from_text(names[k], strlen(names[k]), wire, 0);
		assert_true(len > 0);
		memset(wire + len, 0, GK_NAMEHASH_PAD);
		uint8_t loff[GK_DNAME_LABELS_MAX];
		unsigned labels = 0;
		for (size_t o = 0; wire[o]; o += wire[o] + 1u)
			loff[labels++] = (uint8_t)o;
		uint64_t a[GK_DNAME_LABELS_MAX + 1], b[GK_DNAME_LABELS_MAX + 1];
		uint64_t c[GK_DNAME_LABELS_MAX + 1], d[GK_DNAME_LABELS_MAX + 1];
		unsigned lens_or = 0;
		for (unsigned i = 0; i < labels; i++)
			lens_or |= wire[loff[i]];
		c[labels] = gk_namehash_root();
		for (unsigned i = labels; i-- > 0;)
			c[i] = gk_namehash_step(c[i + 1], wire, len, loff[i]);
		gk_namehash_pstates(wire, loff, labels, 255, a);
		gk_namehash_states(wire, len, loff, labels, b);
		/* with the labels' lengths or-ed (the parser's, below 8: one word a label) */
		gk_namehash_pstates(wire, loff, labels, lens_or, d);
		for (unsigned i = 0; i <= labels; i++) {
			if (a[i] != c[i] || b[i] != c[i] || d[i] != c[i])
				fail_msg("%s: the folds differ at label %u", names[k], i);
			size_t off = i < labels ? loff[i] : len - 1u;
			assert_true(gk_namehash_state_at(a, loff, labels, off) == a[i]);
			assert_true(gk_namehash_fin(a[i]) == gk_namehash(wire + off, len - off));
		}
	}
}

/* The hash as namehash.h defines it, octet by octet: a suffix's state is its parent's with
 * the words of the suffix n[0..len) that start inside its first label (length octet first,
 * zeros past the name's end) folded in, each as lo ^ hi of the 128-bit product
 * (s ^ word) * K, computed here from 32-bit halves; the root's state comes from the seed; the
 * hash is the state. */
static uint64_t ref_mum(uint64_t a, uint64_t b)
{
	uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
	uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
	uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	return lo ^ hi;
}

static uint64_t ref_hash(const uint8_t *n, size_t len)
{
	if (!n[0])
		return gk_namehash_seed ^ 0x9e3779b97f4a7c15ull;
	size_t b = (size_t)n[0] + 1u;
	uint64_t s = ref_hash(n + b, len - b);
	for (size_t q = 0; q < b; q += 8) {
		uint64_t w = 0;
		for (size_t k = 0; k < 8 && q + k < len; k++)
			w |= (uint64_t)n[q + k] << (8 * k);
		s = ref_mum(s ^ w, GK_NAMEHASH_K);
	}
	return s;
}

/* Every label length from 1 to 63 (each way a label's last word can end), alone and with a
 * parent, at the start of a buffer and at its end (no octet readable past the name: the
 * in-place loads must not need any): the one-pass hash, the states of every suffix and the
 * padded fold all equal the definition, and each suffix's state equals the suffix hashed on
 * its own. */
static void test_namehash_label_lengths(void **state)
{
	(void)state;
	for (size_t l = 1; l <= 63; l++) {
		for (unsigned shape = 0; shape < 4; shape++) {
			uint8_t tmp[GK_DNAME_MAX];
			size_t len = 0;
			if (shape & 1) { /* a short first label */
				tmp[len++] = 1;
				tmp[len++] = 'x';
			}
			tmp[len++] = (uint8_t)l;
			for (size_t k = 0; k < l; k++)
				tmp[len++] = (uint8_t)('a' + (k * 7 + l) % 26);
			if (shape & 2) { /* a parent of two octets */
				memcpy(tmp + len,
				       "\x02"
				       "cn",
				       3);
				len += 3;
			}
			tmp[len++] = 0;
			/* the name at the very end of a heap block: ASan sees any read past it */
			uint8_t *n = malloc(len);
			assert_non_null(n);
			memcpy(n, tmp, len);
			uint8_t loff[GK_DNAME_LABELS_MAX];
			unsigned labels = 0;
			for (size_t o = 0; n[o]; o += n[o] + 1u)
				loff[labels++] = (uint8_t)o;
			uint64_t st[GK_DNAME_LABELS_MAX + 1], pst[GK_DNAME_LABELS_MAX + 1];
			gk_namehash_states(n, len, loff, labels, st);
			uint8_t pad[GK_DNAME_MAX + 1 + GK_NAMEHASH_PAD];
			memcpy(pad, n, len);
			memset(pad + len, 0, GK_NAMEHASH_PAD);
			gk_namehash_pstates(pad, loff, labels, 255, pst);
			for (unsigned i = 0; i <= labels; i++) {
				size_t off = i < labels ? loff[i] : len - 1u;
				uint64_t want = ref_hash(n + off, len - off);
				if (st[i] != want || pst[i] != want)
					fail_msg("label length %zu, shape %u: state %u differs", l,
					         shape, i);
				if (gk_namehash(n + off, len - off) != gk_namehash_fin(want))
					fail_msg("label length %zu, shape %u: suffix %u on its own "
					         "differs",
					         l, shape, i);
			}
			free(n);
		}
	}
}

/* Case: the hash is of the octets given, so names that differ only in case hash apart, and
 * lowercasing them (gk_dname_lower: the query name when parsed, table names when loaded)
 * makes them hash alike, suffix by suffix. */
static void test_namehash_case(void **state)
{
	(void)state;
	static const char *const names[][2] = {
	    {"WWW.Example.CN", "www.example.cn"},
	    {"A.VeryLongLabel-Over-Eight.Example.ORG", "a.verylonglabel-over-eight.example.org"},
	    {"x.COM.cn", "x.com.cn"}};
	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		uint8_t mixed[GK_DNAME_MAX], lower[GK_DNAME_MAX];
		/* gk_dname_from_text lowercases; put the upper case back octet by octet */
		size_t len = gk_dname_from_text(names[k][1], strlen(names[k][1]), lower, 0);
		assert_true(len > 0);
		memcpy(mixed, lower, len);
		for (size_t o = 0, t = 0; mixed[o]; o += mixed[o] + 1u, t++) {
			for (size_t j = 0; j < mixed[o]; j++)
				mixed[o + 1 + j] = (uint8_t)names[k][0][t + j];
			t += mixed[o];
		}
		assert_memory_not_equal(mixed, lower, len);
		assert_true(gk_namehash(mixed, len) != gk_namehash(lower, len));
		uint8_t folded[GK_DNAME_MAX];
		for (size_t o = 0; o < len; o++)
			folded[o] = gk_dname_lower[mixed[o]];
		assert_memory_equal(folded, lower, len);
		uint8_t loff[GK_DNAME_LABELS_MAX];
		unsigned labels = 0;
		for (size_t o = 0; lower[o]; o += lower[o] + 1u)
			loff[labels++] = (uint8_t)o;
		uint64_t a[GK_DNAME_LABELS_MAX + 1], b[GK_DNAME_LABELS_MAX + 1];
		gk_namehash_suffixes(folded, len, loff, labels, a);
		gk_namehash_suffixes(lower, len, loff, labels, b);
		for (unsigned i = 0; i <= labels; i++)
			assert_true(a[i] == b[i]);
	}
}

/* The hash depends on the per-process seed: a set of names colliding in one process's table
 * (same low bits) is spread by another seed. */
static void test_namehash_seed(void **state)
{
	(void)state;
	const uint8_t *a = N("\x03www\x07"
	                     "example\x02"
	                     "cn");
	uint64_t seed = gk_namehash_seed;
	uint64_t h1 = gk_namehash(a, 16);
	gk_namehash_seed = seed ^ 0x5555aaaa5555aaaaull;
	uint64_t h2 = gk_namehash(a, 16);
	/* 64 names that share h1's low 16 bits under one seed do not all share them under another
	 */
	uint8_t w[GK_DNAME_MAX];
	char txt[32];
	unsigned found = 0, still = 0;
	gk_namehash_seed = seed;
	for (unsigned i = 0; found < 64 && i < 50000000u; i++) {
		size_t len =
		    gk_dname_from_text(txt, (size_t)snprintf(txt, sizeof(txt), "n%u.cn", i), w, 0);
		if ((gk_namehash(w, len) & 0xffff) != (h1 & 0xffff))
			continue;
		found++;
		gk_namehash_seed = seed ^ 0x5555aaaa5555aaaaull;
		if ((gk_namehash(w, len) & 0xffff) == (h2 & 0xffff))
			still++;
		gk_namehash_seed = seed;
	}
	assert_true(h1 != h2);
	assert_int_equal(found, 64);
	assert_true(still < 4);
}

static void test_hash_lower(void **state)
{
	(void)state;
	const uint8_t *a = N("\x03www\x07"
	                     "example\x02"
	                     "cn");
	uint8_t b[16];
	memcpy(b, a, 16);
	assert_int_equal(gk_dname_hash(a, 16), gk_dname_hash(b, 16));
	b[1] = 'v';
	assert_int_not_equal(gk_dname_hash(a, 16), gk_dname_hash(b, 16));
	for (int c = 0; c < 256; c++) {
		int want = (c >= 'A' && c <= 'Z') ? c + 32 : c;
		assert_int_equal(gk_dname_lower[c], want);
	}
}

/* Text to wire with escapes reads names as ldns (and so a master file) does, lowercased. */
static void test_from_text_like_ldns(void **state)
{
	(void)state;
	char l63[64], l64[65], long253[254], long254[255];
	memset(l63, 'a', 63), l63[63] = 0;
	memset(l64, 'a', 64), l64[64] = 0;
	/* 4 labels of 63 = 255 octets of wire with the root (63*4 + 3 dots = 255 chars: too
	 * long); 3 of 63 + one of 61 = 253 octets of wire */
	memset(long253, 'b', 253), long253[253] = 0;
	for (int i = 63; i < 253; i += 64)
		long253[i] = '.';
	memcpy(long254, long253, 253), long254[253] = 'c', long254[254] = 0;
	const char *in[] = {"example.com",  "Example.COM.", ".",      "a\\.b.cn", "a\\065b.cn",
	                    "x\\255y",      "a\\\\b",       "a b.cn", l63,        long253,
	                    "a..b",         ".a",           "a.b..",  l64,        long254,
	                    "a\\2",         "a\\256",       "a\\",    "\\..",     "a\\.",
	                    "a\\046b\\.c.", "A\\065"};
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		uint8_t w[GK_DNAME_MAX];
		size_t n = gk_dname_from_text(in[i], strlen(in[i]), w, GK_DNAME_TEXT_ESCAPES);
		ldns_rdf *d = NULL;
		bool ok = ldns_str2rdf_dname(&d, in[i]) == LDNS_STATUS_OK;
		if (!ok) {
			assert_int_equal(n, 0);
			continue;
		}
		ldns_dname2canonical(d);
		assert_int_equal(n, ldns_rdf_size(d));
		assert_memory_equal(w, ldns_rdf_data(d), n);
		ldns_rdf_deep_free(d);
	}
}

/* Without escapes (status keys): a backslash is data; the root is refused with NOROOT. */
/* gk_dname_skip: past the root label or an ending pointer (not followed); 0 when cut short,
 * an obsolete label type, or more than 127 labels (a name's most). */
static void test_skip(void **state)
{
	(void)state;
	static const uint8_t m[] = {0, 0, 3, 'w', 'w', 'w', 2, 'c', 'n', 0, 1, 'x', 0xc0, 2, 0};
	assert_int_equal(gk_dname_skip(m, sizeof(m), 2), 10);  /* www.cn. */
	assert_int_equal(gk_dname_skip(m, sizeof(m), 9), 10);  /* the root */
	assert_int_equal(gk_dname_skip(m, sizeof(m), 10), 14); /* x + pointer */
	assert_int_equal(gk_dname_skip(m, 13, 10), 0);         /* the pointer cut short */
	assert_int_equal(gk_dname_skip(m, 8, 2), 0);           /* the name cut short */
	static const uint8_t ext[] = {0x41, 'x', 0};
	assert_int_equal(gk_dname_skip(ext, sizeof(ext), 0), 0);
	uint8_t many[300];
	for (size_t i = 0; i < 258; i += 2) {
		many[i] = 1;
		many[i + 1] = 'a';
	}
	many[258] = 0;
	assert_int_equal(gk_dname_skip(many, 259, 2), 0);   /* 128 labels */
	assert_int_equal(gk_dname_skip(many, 259, 4), 259); /* 127 */
}

static void test_from_text_plain(void **state)
{
	(void)state;
	uint8_t w[GK_DNAME_MAX];
	assert_int_equal(gk_dname_from_text("Foo.COM.cn", 10, w, GK_DNAME_TEXT_NOROOT), 12);
	assert_memory_equal(w, "\3foo\3com\2cn", 12);
	assert_int_equal(gk_dname_from_text("a\\.b", 4, w, 0), 6);
	assert_memory_equal(w, "\2a\\\1b", 6);
	assert_int_equal(gk_dname_from_text(".", 1, w, GK_DNAME_TEXT_NOROOT), 0);
	assert_int_equal(gk_dname_from_text(".", 1, w, 0), 1);
	assert_int_equal(gk_dname_from_text("", 0, w, 0), 0);
	assert_int_equal(gk_dname_from_text("a.b", 1, w, 0), 3); /* only slen octets read */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_len_labels),
	    cmocka_unit_test(test_skip),
	    cmocka_unit_test(test_subdomain),
	    cmocka_unit_test(test_to_str),
	    cmocka_unit_test(test_to_str_truncates_to_prefix),
	    cmocka_unit_test(test_hash_lower),
	    cmocka_unit_test(test_namehash_suffixes),
	    cmocka_unit_test(test_namehash_label_lengths),
	    cmocka_unit_test(test_namehash_case),
	    cmocka_unit_test(test_namehash_padded),
	    cmocka_unit_test(test_namehash_seed),
	    cmocka_unit_test(test_to_str_like_dig),
	    cmocka_unit_test(test_to_str_round_trip),
	    cmocka_unit_test(test_from_text_like_ldns),
	    cmocka_unit_test(test_from_text_plain),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
