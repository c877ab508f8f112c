/* SPDX-License-Identifier: MIT */
/* src/common/namehash.h -- the name hash every name table shares (zones and their nodes,
 * the status replica, discovery, policy).
 *
 * A name's hash is built from per-label hashes combined from the root leftwards with one
 * multiply-add: the state of the suffix starting at label i is
 *
 *     s(i) = s(i + 1) * M + g(label i),    s(root) = R,
 *
 * so one right-to-left pass over a query name yields the state of the name and of every
 * ancestor (the closest-encloser walk, the registrable domain, policy's "below" entries),
 * and gk_namehash of an ancestor on its own equals the hash that pass gives for it. Expanded,
 * s(0) = g(0) + M g(1) + ... + M^(k-1) g(k-1) + M^k R, which gk_namehash computes left to
 * right in one pass over a name it has no label offsets for (no per-ancestor state).
 *
 * g(label) folds in, starting from the per-process seed, the eight-octet little-endian words
 * of the suffix that start inside the label (its length octet first), each with an xor, a
 * multiply and a shift; the last word may reach into the labels to its right, and reads
 * zeros past the name's end, so g is a function of the suffix alone. A label of up to seven
 * octets is one word and one step. The published hash is MurmurHash3's fmix64 of the state,
 * so every input bit reaches all 64 bits (tables index by the low bits, the high bits, or
 * both). Names are hashed as given: callers pass lowercase names (the query name is
 * lowercased once when parsed; names in tables when they are loaded).
 *
 * The seed, gk_namehash_seed, is random per process (getrandom at start-up), so names
 * crafted to collide in one process's tables (the status replica, discovery and zone nodes
 * face client-chosen names) do not collide in another's. Hashes are therefore never stored
 * outside the process. Equal hashes do not mean equal names: every table compares the name
 * on a hit. Pure functions apart from reading the seed; any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/dname.h"

/* Per-process random seed, set before main runs; read-only afterwards. */
extern uint64_t gk_namehash_seed;

#define GK_NAMEHASH_M 0x9fb21c651e98df25ull /* combines a label's hash with its parent's */
#define GK_NAMEHASH_C 0xff51afd7ed558ccdull /* folds a word into a label's hash */

/* Octets a padded name carries after its end: GK_NAMEHASH_PAD zero octets, so that
 * gk_namehash_pstates and gk_namehash_plabel read whole eight-octet words. */
#define GK_NAMEHASH_PAD 8

/* Eight octets at p as a little-endian word. */
static inline uint64_t gk_namehash_le64(const uint8_t *p)
{
	uint64_t w = gk_dname_load64(p);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/* Eight octets of n[0..len) from p (p < len) as a little-endian word, zeros past len. Never
 * reads outside n[0..len). */
static inline uint64_t gk_namehash_load(const uint8_t *n, size_t len, size_t p)
{
	if (p + 8 <= len)
		return gk_namehash_le64(n + p);
	if (len >= 8)
		return gk_namehash_le64(n + len - 8) >> (8 * (p + 8 - len));
	uint64_t w = 0;
	for (size_t k = p; k < len; k++)
		w |= (uint64_t)n[k] << (8 * (k - p));
	return w;
}

/* One word folded into a label's hash. */
static inline uint64_t gk_namehash_word(uint64_t g, uint64_t w)
{
	g = (g ^ w) * GK_NAMEHASH_C;
	return g ^ (g >> 32);
}

/* g of the label at p (its length octet) of a padded name (GK_NAMEHASH_PAD zeros after
 * it). */
static inline uint64_t gk_namehash_plabel(const uint8_t *p)
{
	size_t b = (size_t)p[0] + 1u;
	uint64_t g = gk_namehash_word(gk_namehash_seed, gk_namehash_le64(p));
	if (__builtin_expect(b > 8, 0))
		for (size_t q = 8; q < b; q += 8)
			g = gk_namehash_word(g, gk_namehash_le64(p + q));
	return g;
}

/* g of the label at offset o of n[0..len), reading nothing outside n[0..len). */
static inline uint64_t gk_namehash_label(const uint8_t *n, size_t len, size_t o)
{
	size_t e = o + 1u + n[o];
	uint64_t g = gk_namehash_seed;
	for (size_t q = o; q < e; q += 8)
		g = gk_namehash_word(g, gk_namehash_load(n, len, q));
	return g;
}

/* The state of the root (the empty suffix). */
static inline uint64_t gk_namehash_root(void)
{
	return gk_namehash_seed ^ 0x9e3779b97f4a7c15ull;
}

/* The state of the suffix starting at the label at offset o of n[0..len), given s, the
 * state of the suffix to its right: s(label.parent) = s(parent) * M + g(label). */
static inline uint64_t gk_namehash_step(uint64_t s, const uint8_t *n, size_t len, size_t o)
{
	return s * GK_NAMEHASH_M + gk_namehash_label(n, len, o);
}

/* gk_namehash_step for a padded name (GK_NAMEHASH_PAD): the same state. */
static inline uint64_t gk_namehash_pstep(uint64_t s, const uint8_t *n, size_t o)
{
	return s * GK_NAMEHASH_M + gk_namehash_plabel(n + o);
}

/* gk_namehash_states for a padded name (GK_NAMEHASH_PAD): the labels' hashes are
 * independent of each other, only the multiply-add chains them. */
static inline void gk_namehash_pstates(const uint8_t *n, const uint8_t *loff, unsigned labels,
                                       uint64_t *s)
{
	const uint64_t k = gk_namehash_seed;
	uint64_t st = gk_namehash_root();
	s[labels] = st;
	for (unsigned i = labels; i-- > 0;) {
		const uint8_t *p = n + loff[i];
		uint64_t g = gk_namehash_word(k, gk_namehash_le64(p));
		if (__builtin_expect(p[0] >= 8, 0))
			for (size_t q = 8; q < (size_t)p[0] + 1u; q += 8)
				g = gk_namehash_word(g, gk_namehash_le64(p + q));
		s[i] = st = st * GK_NAMEHASH_M + g;
	}
}

/* The state st[i] of the suffix at offset off of a name whose label offsets are
 * loff[0..labels) (off one of them, or the root's, len - 1). */
static inline uint64_t gk_namehash_state_at(const uint64_t *st, const uint8_t *loff,
                                            unsigned labels, size_t off)
{
	unsigned i = labels;
	while (i > 0 && loff[i - 1] >= off)
		i--;
	return st[i];
}

/* The hash of a state. */
static inline uint64_t gk_namehash_fin(uint64_t s)
{
	return gk_dname_fmix(s);
}

/* The states of every suffix of the lowercase wire name n[0..len) in one pass: s[i] for
 * the name from label i (loff[i] its offset, labels <= GK_DNAME_LABELS_MAX), s[labels] for
 * the root; gk_namehash_fin(s[i]) == gk_namehash(n + loff[i], len - loff[i]). Reads nothing
 * outside n[0..len). */
static inline void gk_namehash_states(const uint8_t *n, size_t len, const uint8_t *loff,
                                      unsigned labels, uint64_t *s)
{
	uint64_t st = gk_namehash_root();
	s[labels] = st;
	for (unsigned i = labels; i-- > 0;)
		s[i] = st = gk_namehash_step(st, n, len, loff[i]);
}

/* The hashes of every suffix (gk_namehash_states, each through gk_namehash_fin). */
static inline void gk_namehash_suffixes(const uint8_t *n, size_t len, const uint8_t *loff,
                                        unsigned labels, uint64_t *h)
{
	gk_namehash_states(n, len, loff, labels, h);
	for (unsigned i = 0; i <= labels; i++)
		h[i] = gk_namehash_fin(h[i]);
}

/* The hash of the lowercase wire name n[0..len) (well formed, ending with the root label):
 * one left-to-right pass, s(0) = sum of M^i g(i), plus M^k R. Reads nothing outside
 * n[0..len). */
uint64_t gk_namehash(const uint8_t *n, size_t len);
