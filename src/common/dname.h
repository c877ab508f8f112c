/* SPDX-License-Identifier: MIT */
/* src/common/dname.h -- domain names in uncompressed wire form.
 *
 * A wire name is a sequence of length-prefixed labels ending with the root label (0), at
 * most GK_DNAME_MAX octets. Names stored by the zone store are lowercase, so comparison is
 * memcmp. Pure functions; any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define GK_DNAME_MAX        255
#define GK_DNAME_LABELS_MAX 127

/* ASCII lowercase table (other octets unchanged). */
extern const uint8_t gk_dname_lower[256];

/* Length of the well-formed uncompressed name at n (including the root label). The name
 * must already be validated. */
size_t gk_dname_len(const uint8_t *n);

/* Number of labels, not counting the root. */
unsigned gk_dname_labels(const uint8_t *n);

static inline uint64_t gk_dname_load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

static inline uint64_t gk_dname_load32(const uint8_t *p)
{
	uint32_t w;
	memcpy(&w, p, sizeof(w));
	return w;
}

static inline uint64_t gk_dname_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

/* The final mix (MurmurHash3's fmix64): every input bit reaches all 64 output bits. */
static inline uint64_t gk_dname_fmix(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	return h ^ (h >> 33);
}

/* Hash of a byte string of length len (compiled answer blobs, the front end's cache keys),
 * its start state moved by seed. A table whose keys come from the network (the front end's
 * packet cache) takes a random secret seed: unseeded, two blocks of any name can be chosen so
 * that the state after them is the same (each step is (h ^ w) * K), and names sharing one
 * hash could be made at will to crowd one set; with the seed, the state after a block is
 * not known to the sender.
 * Name tables use common/namehash.h instead, whose hash of a name yields every ancestor's in
 * the same pass. Eight octets per step with overlapping loads for the tail; the final mix
 * spreads every input bit over all 64 bits: tables index by the low bits, the high bits, or
 * both. */
static inline uint64_t gk_dname_hash_seed(const uint8_t *n, size_t len, uint64_t seed)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ ((uint64_t)len * 0xff51afd7ed558ccdull) ^ seed;
	if (len >= 8) {
		size_t i = 0;
		for (; i + 8 < len; i += 8)
			h = gk_dname_mix(h, gk_dname_load64(n + i));
		h = gk_dname_mix(h, gk_dname_load64(n + len - 8));
	} else if (len >= 4) {
		h = gk_dname_mix(h, gk_dname_load32(n) | gk_dname_load32(n + len - 4) << 32);
	} else if (len > 0) {
		h = gk_dname_mix(h, (uint64_t)n[0] | (uint64_t)n[len / 2] << 8 |
		                        (uint64_t)n[len - 1] << 16);
	}
	return gk_dname_fmix(h);
}

/* gk_dname_hash_seed with seed 0. */
static inline uint64_t gk_dname_hash(const uint8_t *n, size_t len)
{
	return gk_dname_hash_seed(n, len, 0);
}

/* True when name a (length alen) equals b or lies below it. Both lowercase. */
bool gk_dname_is_subdomain(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Presentation form of n into buf (always NUL-terminated, truncated to cap), with a
 * trailing dot, escaped as dig escapes it: '.', '\\', '"', '(', ')', ';', '@' and '$' inside
 * a label as \c; space, other controls and octets >= 127 as \DDD (decimal); so the text
 * reads back (ldns_str2rdf_dname, a master file) as the same wire name. A cap of
 * 4 * GK_DNAME_MAX + 2 always holds the whole name. Returns buf. */
char *gk_dname_to_str(const uint8_t *n, char *buf, size_t cap);

/* gk_dname_from_text flags. */
#define GK_DNAME_TEXT_ESCAPES 1u /* decode \DDD (decimal) and \c as master files do */
#define GK_DNAME_TEXT_NOROOT  2u /* "." (the root) is not a name here */

/* Text s[0..slen) (labels joined by '.', a trailing dot optional; with
 * GK_DNAME_TEXT_ESCAPES the presentation form gk_dname_to_str writes) to a lowercase wire
 * name in out, which holds GK_DNAME_MAX octets. Without escapes every octet but '.' is
 * label data (the form of the status keys in Redis). Returns the wire length (1 for the
 * root "."), or 0 when s is not a name: empty, an empty label, a label over 63 octets, over
 * GK_DNAME_MAX in wire form, a bad escape, or the root with GK_DNAME_TEXT_NOROOT. Pure. */
size_t gk_dname_from_text(const char *s, size_t slen, uint8_t *out, unsigned flags);

/* The (possibly compressed) name at m[off..len) of message m, uncompressed and in lowercase
 * into out (GK_DNAME_MAX octets): its length, or 0 when it runs past len, uses an obsolete
 * label type, is longer than GK_DNAME_MAX or has a pointer that does not point strictly
 * back (so a loop ends). *next (not NULL): the offset just past the name in place (as
 * gk_dname_skip). Pure; any thread. */
size_t gk_dname_unpack(const uint8_t *m, size_t len, size_t off, uint8_t *out, size_t *next);

/* The offset just past the (possibly compressed) wire name at m[off..len): after its root
 * label, or after the compression pointer that ends it (never followed). 0 when it runs
 * past len, uses an obsolete label type, or has more than 127 labels (a name's most). Pure;
 * any thread. */
static inline size_t gk_dname_skip(const uint8_t *m, size_t len, size_t off)
{
	for (unsigned n = 0; off < len && n < 128; n++) {
		uint8_t l = m[off];
		if (l == 0)
			return off + 1;
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l & 0xc0)
			return 0;
		off += 1u + l;
	}
	return 0;
}
