/* SPDX-License-Identifier: MIT */
/* src/policy/match.c -- the packet path's lookup and the read-only accessors.
 *
 * gk_policy_match probes the table for the query name (exact entries), then for each
 * ancestor from the nearest up to the root (below entries); the first hit is the most
 * specific one, because the compiler already kept one winner per name and scope. Depth masks
 * skip the probes for label counts no entry has, so an empty policy costs one branch.
 */
#include <string.h>
#include "common/dname.h"
#include "policy/internal.h"

static inline const gk_pol_slot_t *find(const gk_policy_t *p, const uint8_t *n, size_t len)
{
	uint64_t h = gk_dname_hash(n, len);
	uint32_t tag = (uint32_t)(h >> 32);
	uint32_t i = gk_pol_pos(tag, p->nslots);
	for (;;) {
		const gk_pol_slot_t *s = &p->table[i];
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

const gk_pol_hit_t *gk_policy_match(const gk_policy_t *p, const uint8_t *qname, size_t len,
                                    const uint8_t *label_offsets, unsigned labels)
{
	if (!p || !p->entries)
		return NULL;
	const gk_pol_slot_t *s;
	if (p->exact_depths & gk_pol_depth_bit(labels)) {
		s = find(p, qname, len);
		if (s && s->exact)
			return &p->hits[s->exact];
	}
	/* ancestors, nearest first; i == labels is the root */
	for (unsigned i = 1; i <= labels; i++) {
		if (!(p->below_depths & gk_pol_depth_bit(labels - i)))
			continue;
		size_t off = i < labels ? label_offsets[i] : len - 1;
		s = find(p, qname + off, len - off);
		if (s && s->below)
			return &p->hits[s->below];
	}
	return NULL;
}

const gk_pol_hit_t *gk_policy_status(const gk_policy_t *p, gk_pol_status_t s)
{
	return (unsigned)s < 3 ? &p->status[s] : NULL;
}

gk_pol_mode_t gk_policy_mode(const gk_policy_t *p)
{
	return p->mode;
}

const char *gk_policy_list_name(const gk_policy_t *p, unsigned i)
{
	return i >= 1 && i <= p->nlists ? p->list_names[i] : NULL;
}

void gk_policy_stats(const gk_policy_t *p, gk_pol_stats_t *st)
{
	st->entries = p->entries;
	st->table_bytes = (size_t)p->nslots * sizeof(gk_pol_slot_t);
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
