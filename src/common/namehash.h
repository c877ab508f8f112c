/* SPDX-License-Identifier: MIT */
/* src/common/namehash.h -- the name hash every name table shares (zones and their nodes,
 * the status replica, discovery, policy).
 *
 * The hash of a lowercase wire name is computed from the root leftwards, one label at a
 * time: the state after label i depends only on the octets of the suffix starting at label
 * i, so one right-to-left pass over a query name yields the hash of the name and of every
 * ancestor (the closest-encloser walk, the registrable domain, policy's "below" entries), and
 * gk_namehash of an ancestor on its own equals the hash that pass gives for it. Each step
 * folds in the eight-octet words that start inside the label (a word may reach into the
 * labels to its right, never past the name's end) with a multiply and a shift; the
 * published hash is MurmurHash3's fmix64 of the state, so every input bit reaches all 64
 * bits (tables index by the low bits, the high bits, or both).
 *
 * The state starts from gk_namehash_seed, random per process (getrandom at start-up), so
 * names crafted to collide in one process's tables (the status replica, discovery, zone
 * nodes face client-chosen names) do not collide in another's. Hashes are therefore never
 * stored outside the process. Pure functions apart from reading the seed; any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/dname.h"

/* Per-process random seed, set before main runs; read-only afterwards. */
extern uint64_t gk_namehash_seed;

/* Eight octets of n[0..len) from p (p < len) as a little-endian word, zeros past len. */
static inline uint64_t gk_namehash_load(const uint8_t *n, size_t len, size_t p)
{
	uint64_t w = 0;
	if (p + 8 <= len) {
		w = gk_dname_load64(n + p);
	} else if (len >= 8) {
		w = gk_dname_load64(n + len - 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		return w >> (8 * (p + 8 - len));
	} else {
		for (size_t k = p; k < len; k++)
			w |= (uint64_t)n[k] << (8 * (k - p));
		return w;
	}
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	w = __builtin_bswap64(w);
#endif
	return w;
}

/* The state of the root (the empty suffix). */
static inline uint64_t gk_namehash_root(void)
{
	return gk_namehash_seed ^ 0x9e3779b97f4a7c15ull;
}

/* The state of the suffix starting at the label at offset o of n[0..len), given s, the
 * state of the suffix to its right: h(label.parent) = f(h(parent), label). */
static inline uint64_t gk_namehash_step(uint64_t s, const uint8_t *n, size_t len, size_t o)
{
	size_t e = o + 1u + n[o];
	if (__builtin_expect(e <= o + 8 && o + 8 <= len, 1)) { /* the label in one word */
		s = (s ^ gk_namehash_load(n, len, o)) * 0x9fb21c651e98df25ull;
		return s ^ (s >> 32);
	}
	for (size_t q = o; q < e; q += 8) {
		s = (s ^ gk_namehash_load(n, len, q)) * 0x9fb21c651e98df25ull;
		s ^= s >> 32;
	}
	return s;
}

/* Octets a padded name carries after its end: gk_namehash_pstep and gk_namehash_pstates
 * read whole eight-octet words and need them readable and zero. */
#define GK_NAMEHASH_PAD 8

/* gk_namehash_step for a name followed by GK_NAMEHASH_PAD zero octets: whole words, no
 * test of the name's end (the zeros are what gk_namehash_load gives past it), so the same
 * state. */
static inline uint64_t gk_namehash_pstep(uint64_t s, const uint8_t *n, size_t o)
{
	size_t e = o + 1u + n[o];
	size_t q = o;
	do {
		uint64_t w = gk_dname_load64(n + q);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
		w = __builtin_bswap64(w);
#endif
		s = (s ^ w) * 0x9fb21c651e98df25ull;
		s ^= s >> 32;
		q += 8;
	} while (q < e);
	return s;
}

/* gk_namehash_states for a name followed by GK_NAMEHASH_PAD zero octets. */
static inline void gk_namehash_pstates(const uint8_t *n, const uint8_t *loff, unsigned labels,
                                       uint64_t *s)
{
	uint64_t st = gk_namehash_root();
	s[labels] = st;
	for (unsigned i = labels; i-- > 0;)
		s[i] = st = gk_namehash_pstep(st, n, loff[i]);
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
 * the root; gk_namehash_fin(s[i]) == gk_namehash(n + loff[i], len - loff[i]). Copies the
 * name into a padded buffer and folds whole words (gk_namehash_pstates). */
void gk_namehash_states(const uint8_t *n, size_t len, const uint8_t *loff, unsigned labels,
                        uint64_t *s);

/* The hashes of every suffix (gk_namehash_states, each through gk_namehash_fin). */
static inline void gk_namehash_suffixes(const uint8_t *n, size_t len, const uint8_t *loff,
                                        unsigned labels, uint64_t *h)
{
	gk_namehash_states(n, len, loff, labels, h);
	for (unsigned i = 0; i <= labels; i++)
		h[i] = gk_namehash_fin(h[i]);
}

/* The hash of the lowercase wire name n[0..len) (well formed, ending with the root label). */
uint64_t gk_namehash(const uint8_t *n, size_t len);
