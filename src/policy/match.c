/* SPDX-License-Identifier: MIT */
/* src/policy/match.c -- the packet path's lookup and the read-only accessors.
 *
 * gk_policy_match takes the query name's hash states from the packet path's one pass (or
 * makes that pass, right to left, itself), which hold the hash of every ancestor too
 * (gk_namehash_states). Each candidate -- the query name for exact entries,
 * each ancestor from the nearest up to the root for below entries -- must pass the depth
 * masks (label counts some entry has) and the filter before the table is probed; the first
 * hit is the most specific one, because the compiler already kept one winner per name and
 * scope. An empty policy costs one branch; a name no entry covers costs the hash pass and a
 * few filter words, almost never a table probe.
 */
#include <string.h>
#include "common/dname.h"
#include "policy/internal.h"

static inline bool filter_has(const gk_policy_t *p, uint64_t h)
{
	uint64_t bits = gk_policy_filter_bits(h);
	return (p->filter[h & p->filter_mask] & bits) == bits;
}

static inline const gk_policy_slot_t *find(const gk_policy_t *p, uint64_t h, const uint8_t *n,
                                           size_t len)
{
	uint32_t tag = (uint32_t)(h >> 32);
	uint32_t i = gk_policy_pos(tag, p->nslots);
	for (;;) {
		const gk_policy_slot_t *s = &p->table[i];
		if (!s->name)
			return NULL;
		if (s->tag == tag) {
			const uint8_t *sn = p->names + s->name;
			if (sn[0] == len && memcmp(sn + 1, n, len) == 0)
				return s;
		}
		if (++i == p->nslots)
			i = 0;
	}
}

/* Out of line so that an empty policy does not pay for this frame (the hash array). */
__attribute__((noinline)) static const gk_policy_hit_t *
match(const gk_policy_t *p, const uint8_t *qname, size_t len, const uint8_t *label_offsets,
      unsigned labels, const uint64_t *states)
{
	uint64_t own[GK_DNAME_LABELS_MAX + 1];
	if (labels > GK_DNAME_LABELS_MAX)
		return NULL; /* not a wire name */
	const uint64_t *st = states;
	if (!st) {
		gk_namehash_states(qname, len, label_offsets, labels, own);
		st = own;
	}
	uint64_t h0 = gk_namehash_fin(st[0]);
	const gk_policy_slot_t *s;
	if ((p->exact_depths & gk_policy_depth_bit(labels)) && filter_has(p, h0)) {
		s = find(p, h0, qname, len);
		if (s && s->exact)
			return &p->hits[s->exact];
	}
	/* ancestors, nearest first; i == labels is the root */
	for (unsigned i = 1; i <= labels; i++) {
		uint64_t h = gk_namehash_fin(st[i]);
		if (!(p->below_depths & gk_policy_depth_bit(labels - i)) || !filter_has(p, h))
			continue;
		size_t off = i < labels ? label_offsets[i] : len - 1;
		s = find(p, h, qname + off, len - off);
		if (s && s->below)
			return &p->hits[s->below];
	}
	return NULL;
}

const gk_policy_hit_t *gk_policy_match(const gk_policy_t *p, const uint8_t *qname, size_t len,
                                       const uint8_t *label_offsets, unsigned labels,
                                       const uint64_t *states)
{
	if (!p || !p->entries)
		return NULL;
	return match(p, qname, len, label_offsets, labels, states);
}

const gk_policy_hit_t *gk_policy_status(const gk_policy_t *p, gk_policy_status_t s)
{
	return (unsigned)s < GK_POLICY_NSTATUS ? &p->status[s] : NULL;
}

gk_policy_mode_t gk_policy_mode(const gk_policy_t *p)
{
	return p->mode;
}

const char *gk_policy_list_name(const gk_policy_t *p, unsigned i)
{
	return i >= 1 && i <= p->nlists ? p->list_names[i] : NULL;
}

void gk_policy_stats(const gk_policy_t *p, gk_policy_stats_t *st)
{
	st->entries = p->entries;
	st->table_bytes = (size_t)p->nslots * sizeof(gk_policy_slot_t);
	st->name_bytes = p->names_len;
	st->arena_bytes = gk_arena_bytes(p->arena);
	st->lines = p->lines;
	st->rpz_skipped = p->rpz_skipped;
	st->lists = p->nlists;
}

void gk_policy_free(gk_policy_t *p)
{
	if (p)
		gk_arena_free(p->arena); /* the policy struct itself lives in its arena */
}
