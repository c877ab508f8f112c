/* SPDX-License-Identifier: MIT */
/* src/front/cache.c -- the packet cache (cache.h).
 *
 * Sets of GK_FCACHE_WAYS slots, the set chosen by the key's hash; a slot keeps the hash, the
 * key, the expiry, the time stored and the answer. Walking an answer (TTL rules, TTL
 * decrement) is bounded by its length: every read is checked, names are skipped label by
 * label up to a compression pointer, and a record running past the end makes it malformed.
 */
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "front/cache.h"

#define TYPE_SOA 6
#define TYPE_OPT 41

struct slot {
	uint64_t hash;
	uint64_t stored_ms, expires_ms;
	uint16_t type, cls, len;
	uint8_t nlen, flags; /* flags: 1 DO, 2 CD; nlen 0: empty slot */
	uint8_t ecs_len;
	uint8_t ecs[GK_FCACHE_ECS_MAX];
	uint8_t name[256];
	uint8_t msg[GK_FCACHE_SLOT];
};

struct gk_fcache {
	struct slot *slots;
	size_t nsets;
	uint32_t max_ttl;
	gk_fcache_stats_t st;
};

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Walk the records of msg: calls fn for each (offset of its TYPE field, section 0..2).
 * Returns false when malformed. */
typedef void (*rr_fn)(void *ctx, uint8_t *m, size_t tpos, unsigned section);

static bool walk(uint8_t *m, size_t len, rr_fn fn, void *ctx)
{
	if (len < 12)
		return false;
	size_t off = 12;
	for (unsigned q = rd16(m + 4); q > 0; q--) {
		off = gk_dname_skip(m, len, off);
		if (off == 0 || off + 4 > len)
			return false;
		off += 4;
	}
	unsigned cnt[3] = {rd16(m + 6), rd16(m + 8), rd16(m + 10)};
	for (unsigned s = 0; s < 3; s++)
		for (unsigned i = 0; i < cnt[s]; i++) {
			off = gk_dname_skip(m, len, off);
			if (off == 0 || off + 10 > len)
				return false;
			size_t rdl = rd16(m + off + 8);
			if (off + 10 + rdl > len)
				return false;
			fn(ctx, m, off, s);
			off += 10 + rdl;
		}
	return off == len;
}

struct ttl_ctx {
	uint32_t min_pos, soa;
	bool have_pos, have_soa;
};

static void ttl_rr(void *ctx, uint8_t *m, size_t t, unsigned section)
{
	struct ttl_ctx *c = ctx;
	uint16_t type = rd16(m + t);
	if (type == TYPE_OPT || section == 2)
		return;
	uint32_t ttl = rd32(m + t + 4);
	if (ttl > 0x7fffffffu)
		ttl = 0; /* RFC 2181 8 */
	if (!c->have_pos || ttl < c->min_pos)
		c->min_pos = ttl;
	c->have_pos = true;
	size_t rdl = rd16(m + t + 8);
	if (section == 1 && type == TYPE_SOA && rdl >= 22 && !c->have_soa) {
		/* MINIMUM is the last field of the rdata */
		uint32_t min = rd32(m + t + 10 + rdl - 4);
		c->soa = ttl < min ? ttl : min;
		c->have_soa = true;
	}
}

int64_t gk_front_cache_ttl(const uint8_t *msg, size_t len, uint32_t max_ttl)
{
	struct ttl_ctx c = {0};
	if (len < 12 || !walk((uint8_t *)msg, len, ttl_rr, &c))
		return GK_ESYNTAX;
	uint8_t rcode = msg[3] & 0x0f;
	if ((msg[2] & 0x80) == 0 || (msg[2] & 0x02) || rd16(msg + 4) != 1)
		return GK_ENOENT; /* not a response, truncated, or no single question */
	uint32_t ttl;
	if (rcode == 3 || (rcode == 0 && rd16(msg + 6) == 0)) {
		if (!c.have_soa)
			return GK_ENOENT; /* RFC 2308 5: no SOA, no negative caching */
		ttl = c.soa;
	} else if (rcode == 0) {
		ttl = c.min_pos;
	} else {
		return GK_ENOENT;
	}
	return ttl < max_ttl ? ttl : max_ttl;
}

int gk_front_cache_new(size_t max_bytes, uint32_t max_ttl, gk_fcache_t **out)
{
	size_t nsets = max_bytes / (sizeof(struct slot) * GK_FCACHE_WAYS);
	if (nsets == 0)
		return GK_EINVAL;
	gk_fcache_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return GK_ENOMEM;
	c->slots = calloc(nsets * GK_FCACHE_WAYS, sizeof(*c->slots));
	if (c->slots == NULL) {
		free(c);
		return GK_ENOMEM;
	}
	c->nsets = nsets;
	c->max_ttl = max_ttl;
	c->st.slots = nsets * GK_FCACHE_WAYS;
	c->st.bytes = c->st.slots * sizeof(struct slot);
	*out = c;
	return 0;
}

size_t gk_front_cache_entry_bytes(void)
{
	return sizeof(struct slot);
}

void gk_front_cache_free(gk_fcache_t *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c);
}

static uint64_t key_hash(const gk_fcache_key_t *k)
{
	uint64_t h = gk_dname_hash(k->name, k->nlen);
	if (k->ecs_len)
		h = gk_dname_mix(h, gk_dname_hash(k->ecs, k->ecs_len));
	h = gk_dname_mix(h, (uint64_t)k->type << 32 | (uint64_t)k->cls << 16 |
	                        (uint64_t)(k->do_bit ? 1 : 0) << 1 | (k->cd ? 1 : 0));
	return gk_dname_fmix(h);
}

static bool same(const struct slot *s, uint64_t h, const gk_fcache_key_t *k)
{
	return s->nlen != 0 && s->hash == h && s->type == k->type && s->cls == k->cls &&
	       s->flags == ((k->do_bit ? 1 : 0) | (k->cd ? 2 : 0)) && s->nlen == k->nlen &&
	       memcmp(s->name, k->name, k->nlen) == 0 && s->ecs_len == k->ecs_len &&
	       (k->ecs_len == 0 || memcmp(s->ecs, k->ecs, k->ecs_len) == 0);
}

int gk_front_cache_put(gk_fcache_t *c, const gk_fcache_key_t *key, const uint8_t *msg, size_t len,
                       uint64_t now_ms)
{
	int64_t ttl = gk_front_cache_ttl(msg, len, c->max_ttl);
	if (ttl == GK_ESYNTAX) {
		c->st.malformed++;
		return GK_ESYNTAX;
	}
	if (ttl <= 0 || len > GK_FCACHE_SLOT || key->nlen == 0 || key->nlen > 255 ||
	    key->ecs_len > GK_FCACHE_ECS_MAX) {
		c->st.uncacheable++;
		return GK_ENOENT;
	}
	uint64_t h = key_hash(key);
	struct slot *set = c->slots + (h % c->nsets) * GK_FCACHE_WAYS, *victim = NULL;
	for (unsigned i = 0; i < GK_FCACHE_WAYS && victim == NULL; i++)
		if (same(&set[i], h, key))
			victim = &set[i];
	for (unsigned i = 0; i < GK_FCACHE_WAYS && victim == NULL; i++)
		if (set[i].nlen == 0)
			victim = &set[i];
	if (victim == NULL) {
		/* a full set: the entry that expires first goes */
		victim = &set[0];
		for (unsigned i = 1; i < GK_FCACHE_WAYS; i++)
			if (set[i].expires_ms < victim->expires_ms)
				victim = &set[i];
		c->st.evictions++;
	} else if (victim->nlen == 0) {
		c->st.entries++;
	}
	victim->hash = h;
	victim->type = key->type;
	victim->cls = key->cls;
	victim->flags = (uint8_t)((key->do_bit ? 1 : 0) | (key->cd ? 2 : 0));
	victim->nlen = (uint8_t)key->nlen;
	memcpy(victim->name, key->name, key->nlen);
	victim->ecs_len = (uint8_t)key->ecs_len;
	if (key->ecs_len)
		memcpy(victim->ecs, key->ecs, key->ecs_len);
	victim->stored_ms = now_ms;
	victim->expires_ms = now_ms + (uint64_t)ttl * 1000u;
	victim->len = (uint16_t)len;
	memcpy(victim->msg, msg, len);
	c->st.inserts++;
	return 0;
}

static void age_rr(void *ctx, uint8_t *m, size_t t, unsigned section)
{
	(void)section;
	if (rd16(m + t) == TYPE_OPT)
		return;
	uint32_t age = *(const uint32_t *)ctx, ttl = rd32(m + t + 4);
	ttl = ttl > age ? ttl - age : 0;
	m[t + 4] = (uint8_t)(ttl >> 24);
	m[t + 5] = (uint8_t)(ttl >> 16);
	m[t + 6] = (uint8_t)(ttl >> 8);
	m[t + 7] = (uint8_t)ttl;
}

size_t gk_front_cache_get(gk_fcache_t *c, const gk_fcache_key_t *key, uint64_t now_ms, uint8_t *out,
                          size_t cap)
{
	if (key->nlen == 0 || key->nlen > 255 || key->ecs_len > GK_FCACHE_ECS_MAX) {
		c->st.misses++;
		return 0;
	}
	uint64_t h = key_hash(key);
	struct slot *set = c->slots + (h % c->nsets) * GK_FCACHE_WAYS;
	for (unsigned i = 0; i < GK_FCACHE_WAYS; i++) {
		struct slot *s = &set[i];
		if (!same(s, h, key))
			continue;
		if (now_ms >= s->expires_ms) {
			s->nlen = 0;
			c->st.entries--;
			c->st.expired++;
			break;
		}
		if (s->len > cap)
			break;
		memcpy(out, s->msg, s->len);
		uint32_t age = (uint32_t)((now_ms - s->stored_ms) / 1000u);
		if (age > 0)
			walk(out, s->len, age_rr, &age); /* walked at put: cannot fail */
		c->st.hits++;
		return s->len;
	}
	c->st.misses++;
	return 0;
}

void gk_front_cache_stats(const gk_fcache_t *c, gk_fcache_stats_t *st)
{
	*st = c->st;
}
