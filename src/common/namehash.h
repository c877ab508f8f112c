/* SPDX-License-Identifier: MIT */
/* src/common/namehash.h -- the name hash every name table shares (zones and their nodes,
 * the status replica, discovery, policy).
 *
 * A name's hash is a chain over its labels from the root leftwards: the state of the suffix
 * starting at label i is its parent's state with the label's words folded in,
 *
 *     s(i) = F(s(i + 1), label i),    s(root) = R (from the per-process seed),
 *
 * so one right-to-left pass over a query name yields the hash of the name and of every
 * ancestor (the apex search, the closest-encloser walk, the registrable domain, policy's
 * "below" entries), and gk_namehash of an ancestor on its own equals the state that pass
 * gives for it. F folds in the eight-octet little-endian words of the suffix that start
 * inside the label (its length octet first; the last word may reach into the labels to its
 * right and reads zeros past the name's end, so F is a function of the suffix alone), each
 * with one step s = lo ^ hi of the 128-bit product (s ^ word) * K: a label of up to seven
 * octets is one load, an xor, a multiply and an xor. The high half of the product carries
 * every input bit into all 64 bits of the state, so the state is the hash (gk_namehash_fin
 * is the identity; tables index by the low bits, the high bits, or both). Names are hashed
 * as given: callers pass lowercase names (the query name is lowercased once when parsed;
 * names in tables when they are loaded).
 *
 * The seed, gk_namehash_seed, is random per process (getrandom at start-up) and is where
 * every chain starts, so names crafted to collide in one process's tables (the status
 * replica, discovery and zone nodes face client-chosen names) do not collide in another's.
 * Hashes are therefore never stored outside the process. Equal hashes do not mean equal
 * names: every table compares the name on a hit. Pure functions apart from reading the
 * seed; any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/dname.h"

/* Per-process random seed, set before main runs; read-only afterwards. */
extern uint64_t gk_namehash_seed;

#define GK_NAMEHASH_K 0x9fb21c651e98df25ull /* the multiplier of a step */

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

/* One word folded into a state: lo ^ hi of (s ^ w) * K. */
static inline uint64_t gk_namehash_word(uint64_t s, uint64_t w)
{
#if defined(__SIZEOF_INT128__)
	unsigned __int128 p = (unsigned __int128)(s ^ w) * GK_NAMEHASH_K;
	return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
	uint64_t a = s ^ w, b = GK_NAMEHASH_K;
	uint64_t al = a & 0xffffffffu, ah = a >> 32, bl = b & 0xffffffffu, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (lh & 0xffffffffu) + (hl & 0xffffffffu);
	uint64_t lo = (ll & 0xffffffffu) | (mid << 32);
	uint64_t hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	return lo ^ hi;
#endif
}

/* The state of the root (the empty suffix). */
static inline uint64_t gk_namehash_root(void)
{
	return gk_namehash_seed ^ 0x9e3779b97f4a7c15ull;
}

/* The state of the suffix starting at the label at p (its length octet) of a padded name
 * (GK_NAMEHASH_PAD zeros after it), given s, the state of the suffix to its right. */
static inline uint64_t gk_namehash_plabel(uint64_t s, const uint8_t *p)
{
	s = gk_namehash_word(s, gk_namehash_le64(p));
	if (__builtin_expect(p[0] >= 8, 0))
		for (size_t q = 8; q < (size_t)p[0] + 1u; q += 8)
			s = gk_namehash_word(s, gk_namehash_le64(p + q));
	return s;
}

/* The state of the suffix starting at the label at offset o of n[0..len), given s, the
 * state of the suffix to its right. Reads nothing outside n[0..len). */
static inline uint64_t gk_namehash_step(uint64_t s, const uint8_t *n, size_t len, size_t o)
{
	if (__builtin_expect(len >= 8 && n[o] < 8, 1)) {
		/* one word, in place or the name's last eight octets shifted */
		uint64_t w = o + 8 <= len ? gk_namehash_le64(n + o)
		                          : gk_namehash_le64(n + len - 8) >> (8 * (o + 8 - len));
		return gk_namehash_word(s, w);
	}
	size_t e = o + 1u + n[o];
	for (size_t q = o; q < e; q += 8)
		s = gk_namehash_word(s, gk_namehash_load(n, len, q));
	return s;
}

/* gk_namehash_step for a padded name (GK_NAMEHASH_PAD): the same state. */
static inline uint64_t gk_namehash_pstep(uint64_t s, const uint8_t *n, size_t o)
{
	return gk_namehash_plabel(s, n + o);
}

/* gk_namehash_states for a padded name (GK_NAMEHASH_PAD): whole-word loads, no test of the
 * name's end. lens_or: the bitwise or of the label lengths (below eight when every label is
 * one word, which spares the test per label), or any value from 8 up when not known. */
static inline void gk_namehash_pstates(const uint8_t *n, const uint8_t *loff, unsigned labels,
                                       unsigned lens_or, uint64_t *s)
{
	uint64_t st = gk_namehash_root();
	s[labels] = st;
	if (__builtin_expect(lens_or < 8, 1)) {
		for (unsigned i = labels; i-- > 0;)
			s[i] = st = gk_namehash_word(st, gk_namehash_le64(n + loff[i]));
		return;
	}
	for (unsigned i = labels; i-- > 0;)
		s[i] = st = gk_namehash_plabel(st, n + loff[i]);
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

/* The hash of a state: the state itself (each step ends in the multiply's fold). */
static inline uint64_t gk_namehash_fin(uint64_t s)
{
	return s;
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
 * its labels found left to right, then the chain from the root. Reads nothing outside
 * n[0..len). */
uint64_t gk_namehash(const uint8_t *n, size_t len);
