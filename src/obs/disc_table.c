/* SPDX-License-Identifier: MIT */
/* src/obs/disc_table.c -- the bounded counting table of discovery (src/obs/discovery.h).
 *
 * Table: entries[max] in insertion order, a slot index of a power of two >= 2 * max (so
 * probes stay short at the cap) holding entry index + 1, and a name arena. Resetting clears
 * only the slots that were used, so a quiet table costs nothing to recycle.
 */
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "common/namehash.h"
#include "obs/internal.h"
#include "status/status.h"

int gk_obs_disc_table_create(uint32_t max_entries, gk_disc_table_t **out)
{
	if (max_entries < GK_DISC_TABLE_MIN || max_entries > GK_DISC_TABLE_MAX || out == NULL)
		return GK_EINVAL;
	gk_disc_table_t *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return GK_ENOMEM;
	uint32_t nslots = 1;
	while (nslots < 2 * max_entries)
		nslots <<= 1;
	t->max = max_entries;
	t->mask = nslots - 1;
	t->names_cap = (size_t)max_entries * GK_DISC_NAME_AVG;
	t->slots = calloc(nslots, sizeof(*t->slots));
	t->ents = calloc(max_entries, sizeof(*t->ents));
	t->names = malloc(t->names_cap);
	if (t->slots == NULL || t->ents == NULL || t->names == NULL) {
		gk_obs_disc_table_free(t);
		return GK_ENOMEM;
	}
	t->bytes = sizeof(*t) + (size_t)nslots * sizeof(*t->slots) +
	           (size_t)max_entries * sizeof(*t->ents) + t->names_cap;
	*out = t;
	return 0;
}

void gk_obs_disc_table_free(gk_disc_table_t *t)
{
	if (t == NULL)
		return;
	free(t->slots);
	free(t->ents);
	free(t->names);
	free(t);
}

void gk_obs_disc_table_reset(gk_disc_table_t *t)
{
	if (t->n > t->max / 8) {
		memset(t->slots, 0, ((size_t)t->mask + 1) * sizeof(*t->slots));
	} else {
		/* few entries: clear only their slots (each entry sits in the probe run from
		 * its home slot; find it the way a lookup does) */
		for (uint32_t i = 0; i < t->n; i++) {
			uint32_t s = (uint32_t)t->ents[i].hash & t->mask;
			while (t->slots[s] != i + 1)
				s = (s + 1) & t->mask;
			t->slots[s] = 0;
		}
	}
	t->n = 0;
	t->names_used = 0;
	memset(&t->tot, 0, sizeof(t->tot));
}

size_t gk_obs_disc_table_bytes(const gk_disc_table_t *t)
{
	return t->bytes;
}

uint32_t gk_obs_disc_table_size(const gk_disc_table_t *t)
{
	return t->n;
}

void gk_obs_disc_table_entry(const gk_disc_table_t *t, uint32_t i, gk_disc_entry_t *out)
{
	const struct gk_disc_ent *e = &t->ents[i];
	*out = (gk_disc_entry_t){.name = t->names + e->off,
	                         .len = e->len,
	                         .reason = e->reason,
	                         .day = e->day,
	                         .count = e->count,
	                         .first = e->first,
	                         .last = e->last};
}

gk_disc_totals_t *gk_obs_disc_table_totals(gk_disc_table_t *t)
{
	return &t->tot;
}

/* Insert or find; name must already be lowercase. */
int gk_obs_disc_table_add_lower(gk_disc_table_t *t, const uint8_t *name, size_t len,
                                unsigned reason, uint32_t day, uint32_t count, uint32_t first,
                                uint32_t last)
{
	uint64_t h = gk_namehash(name, len) ^ ((uint64_t)reason << 56) ^
	             ((uint64_t)day * 0x9e3779b97f4a7c15ull);
	h ^= h >> 31;
	uint32_t s = (uint32_t)h & t->mask;
	for (;;) {
		uint32_t k = t->slots[s];
		if (k == 0)
			break;
		struct gk_disc_ent *e = &t->ents[k - 1];
		if (e->hash == h && e->len == len && e->reason == reason && e->day == day &&
		    memcmp(t->names + e->off, name, len) == 0) {
			e->count += count;
			if (first < e->first)
				e->first = first;
			if (last > e->last)
				e->last = last;
			return 0;
		}
		s = (s + 1) & t->mask;
	}
	if (t->n >= t->max || t->names_used + len > t->names_cap)
		return GK_ENOSPC;
	struct gk_disc_ent *e = &t->ents[t->n];
	*e = (struct gk_disc_ent){.hash = h,
	                          .off = (uint32_t)t->names_used,
	                          .count = count,
	                          .first = first,
	                          .last = last,
	                          .day = day,
	                          .reason = (uint8_t)reason,
	                          .len = (uint8_t)len};
	memcpy(t->names + t->names_used, name, len);
	t->names_used += len;
	t->slots[s] = ++t->n;
	return 0;
}

int gk_obs_disc_table_add(gk_disc_table_t *t, const uint8_t *name, size_t len, unsigned reason,
                          uint32_t day, uint32_t count, uint32_t first, uint32_t last)
{
	if (len == 0 || len > GK_DNAME_MAX || reason >= GK_DISC_NREASONS)
		return GK_EINVAL;
	uint8_t low[GK_DNAME_MAX];
	for (size_t i = 0; i < len; i++)
		low[i] = gk_dname_lower[name[i]];
	return gk_obs_disc_table_add_lower(t, low, len, reason, day, count, first, last);
}

/* The reason of a refusal, or -1 when the query was not refused. */
static int reason_of(const gk_pkt_result_t *r)
{
	if (r->action == GK_ACT_RESOLVE)
		return -1;
	switch (r->why) {
	case GK_WHY_UNFILED:
		return GK_DISC_UNFILED;
	case GK_WHY_REVOKED:
		return GK_DISC_REVOKED;
	case GK_WHY_UNKNOWN:
		return GK_DISC_UNKNOWN;
	case GK_WHY_STARTING:
		return GK_DISC_STARTING;
	case GK_WHY_BLOCKED:
		return GK_DISC_BLOCKED;
	case GK_WHY_TCP_ONLY:
		return GK_DISC_TCP_ONLY;
	default:
		break;
	}
	/* a result without why: the filing status decided */
	switch (r->filing) {
	case GK_FS_UNFILED:
		return GK_DISC_UNFILED;
	case GK_FS_REVOKED:
		return GK_DISC_REVOKED;
	case GK_FS_UNKNOWN:
		return GK_DISC_UNKNOWN;
	case GK_FS_STARTING:
		return GK_DISC_STARTING;
	default:
		return GK_DISC_BLOCKED;
	}
}

void gk_obs_disc_table_record(gk_disc_table_t *t, const uint8_t *q, const gk_pkt_result_t *res,
                              uint32_t now)
{
	if (res->filing == GK_PKT_NOCHECK && res->why == GK_WHY_NONE)
		return; /* a name we do not serve, or no check configured */
	t->tot.queries++;
	int r = reason_of(res);
	if (r < 0 || res->monitor)
		t->tot.resolved++;
	if (r < 0)
		return;
	t->tot.refused[r]++;
	if (res->monitor)
		t->tot.monitored++;
	if (res->reg_len == 0) {
		t->tot.noreg++;
		return;
	}
	if (gk_obs_disc_table_add(t, q + res->reg_off, res->reg_len, (unsigned)r, 0, 1, now, now) !=
	    0)
		t->tot.overflow[r]++;
}

size_t gk_obs_disc_name_text(const uint8_t *name, size_t len, char *out)
{
	size_t o = 0, i = 0;
	while (i < len && name[i] != 0) {
		size_t l = name[i++];
		if (o > 0)
			out[o++] = '.';
		for (size_t j = 0; j < l && i < len; j++, i++) {
			uint8_t c = name[i];
			if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
			    c == '_') {
				out[o++] = (char)c;
			} else if (c == '.' || c == '\\') {
				out[o++] = '\\';
				out[o++] = (char)c;
			} else {
				o += (size_t)sprintf(out + o, "\\%03u", c);
			}
		}
	}
	if (o == 0)
		out[o++] = '.';
	out[o] = 0;
	return o;
}
