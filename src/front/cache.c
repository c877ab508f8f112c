/* SPDX-License-Identifier: MIT */
/* src/front/cache.c -- the packet cache (cache.h).
 *
 * Entries live in nslots slots (the key, the times and the answer: about 1.6 KiB each), found
 * through an index of 4 * nslots ways in sets of IWAYS (one 64-octet line a set: a 32-bit
 * tag of the key's hash and the slot's number). A key has two sets, both chosen by its hash,
 * and goes into the emptier one (two choices: with 2 of the 8 ways in use a set on average,
 * both sets of a key are full practically never, where one set alone would overflow for
 * about 1 key in 7,000). A lookup reads one index line, or two, and the slots whose tag matches:
 * one slot on a hit, almost never more. So the cache holds its nslots entries whatever
 * their hashes. The sets of 4 slots it replaced (the set chosen by the hash, the entries in
 * it) held about 82 % of nslots entries at a load near 1: the bench's 86,000 questions in a
 * cache of 100,000 missed 15 % of the time (bench/RESULTS.md, front end).
 *
 * A full cache makes room with a CLOCK hand over the slots: a hit marks its slot, the hand
 * clears marks as it passes and takes the first unmarked or expired slot, looking at most
 * CLOCK_SCAN slots (then the last it looked at): frequently asked names stay, and a flood
 * of names asked once replaces only what nobody asks for. When both sets of a key are full
 * (see above), the first gives up the way whose entry expires first.
 *
 * Walking an answer (TTL rules, TTL decrement) is bounded by its length: every read is
 * checked, names are skipped label by label up to a compression pointer, and a record
 * running past the end makes it malformed.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/random.h>
#include "common/counter.h"
#include "common/dname.h"
#include "front/cache.h"

#define TYPE_NS  2
#define TYPE_SOA 6
#define TYPE_OPT 41

#define IWAYS      8u  /* index ways a set: 8 * 8 octets, one cache line */
#define CLOCK_SCAN 64u /* slots the hand looks at for a victim, at most */

struct slot {
	uint64_t hash;
	uint64_t stored_ms, expires_ms;
	uint16_t type, cls, len;
	uint8_t nlen, flags; /* flags: 1 DO, 2 CD; nlen 0: free slot */
	uint8_t ecs_len;
	uint8_t ref; /* asked since the hand last passed */
	uint8_t ecs[GK_FCACHE_ECS_MAX];
	uint8_t name[256];
	gk_ffilter_regs_t regs; /* other registrable domains the answer carries (filter.h) */
	uint8_t msg[GK_FCACHE_SLOT];
};

struct way {
	uint32_t tag; /* the hash's high half */
	uint32_t idx; /* slot + 1; 0: empty way */
};

struct gk_fcache {
	struct slot *slots;
	size_t nslots;
	struct way *index;
	size_t nsets;
	uint32_t *free; /* stack of free slot numbers */
	size_t nfree;
	size_t hand;
	uint32_t max_ttl;
	uint64_t seed; /* the keys' hash (gk_dname_hash_seed): random, per cache */
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
	uint32_t min_pos, soa, min_add;
	bool have_pos, have_soa, have_ns, have_add;
};

static void ttl_rr(void *ctx, uint8_t *m, size_t t, unsigned section)
{
	struct ttl_ctx *c = ctx;
	uint16_t type = rd16(m + t);
	if (type == TYPE_OPT)
		return;
	uint32_t ttl = rd32(m + t + 4);
	if (ttl > 0x7fffffffu)
		ttl = 0;    /* RFC 2181 8 */
	if (section == 2) { /* counts for a referral's glue only */
		if (!c->have_add || ttl < c->min_add)
			c->min_add = ttl;
		c->have_add = true;
		return;
	}
	if (!c->have_pos || ttl < c->min_pos)
		c->min_pos = ttl;
	c->have_pos = true;
	size_t rdl = rd16(m + t + 8);
	if (section == 1 && type == TYPE_NS)
		c->have_ns = true;
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
		if (c.have_soa) {
			ttl = c.soa;
		} else if (rcode == 0 && c.have_ns) {
			/* a referral (NS in authority, no SOA): not a negative answer; it lives
			 * for its smallest TTL, glue included */
			ttl = c.have_add && c.min_add < c.min_pos ? c.min_add : c.min_pos;
		} else {
			return GK_ENOENT; /* RFC 2308 5: no SOA, no negative caching */
		}
	} else if (rcode == 0) {
		ttl = c.min_pos;
	} else {
		return GK_ENOENT;
	}
	return ttl < max_ttl ? ttl : max_ttl;
}

int gk_front_cache_new(size_t max_bytes, uint32_t max_ttl, gk_fcache_t **out)
{
	size_t nslots = max_bytes / gk_front_cache_entry_bytes();
	if (nslots == 0 || nslots > UINT32_MAX - 1)
		return GK_EINVAL;
	size_t nsets = 4 * nslots / IWAYS;
	if (nsets == 0)
		nsets = 1;
	gk_fcache_t *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return GK_ENOMEM;
	c->nslots = nslots;
	c->nsets = nsets;
	c->slots = calloc(nslots, sizeof(*c->slots));
	c->index = calloc(nsets * IWAYS, sizeof(*c->index));
	c->free = malloc(nslots * sizeof(*c->free));
	if (c->slots == NULL || c->index == NULL || c->free == NULL) {
		gk_front_cache_free(c);
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < nslots; i++) /* slot 0 handed out first */
		c->free[i] = (uint32_t)(nslots - 1 - i);
	c->nfree = nslots;
	c->max_ttl = max_ttl;
	/* a seed the network cannot guess (common/dname.h); without the kernel's, a weaker one
	 * still differs per process and cache */
	if (getrandom(&c->seed, sizeof(c->seed), GRND_NONBLOCK) != (ssize_t)sizeof(c->seed))
		c->seed = (uint64_t)(uintptr_t)c ^ (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull;
	c->st.slots = nslots;
	c->st.bytes =
	    nslots * (sizeof(struct slot) + sizeof(uint32_t)) + nsets * IWAYS * sizeof(struct way);
	*out = c;
	return 0;
}

size_t gk_front_cache_entry_bytes(void)
{
	return sizeof(struct slot) + 4 * sizeof(struct way) + sizeof(uint32_t);
}

void gk_front_cache_free(gk_fcache_t *c)
{
	if (c == NULL)
		return;
	free(c->slots);
	free(c->index);
	free(c->free);
	free(c);
}

static uint64_t key_hash(const gk_fcache_t *c, const gk_fcache_key_t *k)
{
	uint64_t h = gk_dname_hash_seed(k->name, k->nlen, c->seed);
	if (k->ecs_len)
		h = gk_dname_mix(h, gk_dname_hash(k->ecs, k->ecs_len));
	h = gk_dname_mix(h, (uint64_t)k->type << 32 | (uint64_t)k->cls << 16 |
	                        (uint64_t)(k->do_bit ? 1 : 0) << 1 | (k->cd ? 1 : 0));
	return gk_dname_fmix(h);
}

/* The two sets of hash h (which may be one). */
static struct way *set_of(const gk_fcache_t *c, uint64_t h, unsigned which)
{
	uint32_t x = which ? (uint32_t)(h >> 32) : (uint32_t)h;
	return c->index + (x % c->nsets) * IWAYS;
}

static uint32_t tag_of(uint64_t h)
{
	return (uint32_t)(h >> 16);
}

static bool same(const struct slot *s, uint64_t h, const gk_fcache_key_t *k)
{
	return s->nlen != 0 && s->hash == h && s->type == k->type && s->cls == k->cls &&
	       s->flags == ((k->do_bit ? 1 : 0) | (k->cd ? 2 : 0)) && s->nlen == k->nlen &&
	       memcmp(s->name, k->name, k->nlen) == 0 && s->ecs_len == k->ecs_len &&
	       (k->ecs_len == 0 || memcmp(s->ecs, k->ecs, k->ecs_len) == 0);
}

/* The way of key k (hash h) in its sets, or NULL. */
static struct way *find(const gk_fcache_t *c, uint64_t h, const gk_fcache_key_t *k)
{
	uint32_t tag = tag_of(h);
	for (unsigned which = 0; which < 2; which++) {
		struct way *set = set_of(c, h, which);
		for (unsigned i = 0; i < IWAYS; i++)
			if (set[i].idx != 0 && set[i].tag == tag &&
			    same(&c->slots[set[i].idx - 1], h, k))
				return &set[i];
	}
	return NULL;
}

/* Drop the entry of way w: its slot goes back to the free stack. */
static void drop(gk_fcache_t *c, struct way *w)
{
	struct slot *s = &c->slots[w->idx - 1];
	s->nlen = 0;
	c->free[c->nfree++] = w->idx - 1;
	w->idx = 0;
	gk_counter_add(&c->st.entries, UINT64_MAX); /* - 1 */
}

/* The way pointing at slot number i (it has one while the slot is in use). */
static struct way *way_of(const gk_fcache_t *c, uint32_t i)
{
	for (unsigned which = 0; which < 2; which++) {
		struct way *set = set_of(c, c->slots[i].hash, which);
		for (unsigned j = 0; j < IWAYS; j++)
			if (set[j].idx == i + 1)
				return &set[j];
	}
	return NULL;
}

/* A free slot number, evicting with the CLOCK hand when none is free. */
static uint32_t take_slot(gk_fcache_t *c, uint64_t now_ms)
{
	if (c->nfree == 0) {
		size_t victim = c->hand;
		for (unsigned k = 0; k < CLOCK_SCAN; k++) {
			struct slot *s = &c->slots[c->hand];
			victim = c->hand;
			c->hand = c->hand + 1 == c->nslots ? 0 : c->hand + 1;
			if (now_ms >= s->expires_ms || !s->ref)
				break;
			s->ref = 0;
		}
		struct way *w = way_of(c, (uint32_t)victim);
		if (now_ms >= c->slots[victim].expires_ms)
			gk_counter_inc(&c->st.expired);
		else
			gk_counter_inc(&c->st.evictions);
		drop(c, w);
	}
	return c->free[--c->nfree];
}

int gk_front_cache_put(gk_fcache_t *c, const gk_fcache_key_t *key, const uint8_t *msg, size_t len,
                       uint64_t now_ms)
{
	return gk_front_cache_put_regs(c, key, msg, len, now_ms, NULL);
}

/* Copy regs (its names only as far as used). */
static void regs_copy(gk_ffilter_regs_t *to, const gk_ffilter_regs_t *from)
{
	to->n = from->n;
	to->none = from->none;
	to->walk = from->walk;
	to->used = from->used;
	memcpy(to->names, from->names, from->used);
}

int gk_front_cache_put_regs(gk_fcache_t *c, const gk_fcache_key_t *key, const uint8_t *msg,
                            size_t len, uint64_t now_ms, const gk_ffilter_regs_t *regs)
{
	int64_t ttl = gk_front_cache_ttl(msg, len, c->max_ttl);
	if (ttl == GK_ESYNTAX) {
		gk_counter_inc(&c->st.malformed);
		return GK_ESYNTAX;
	}
	if (ttl <= 0 || len > GK_FCACHE_SLOT || key->nlen == 0 || key->nlen > 255 ||
	    key->ecs_len > GK_FCACHE_ECS_MAX) {
		gk_counter_inc(&c->st.uncacheable);
		return GK_ENOENT;
	}
	uint64_t h = key_hash(c, key);
	struct way *w = find(c, h, key);
	if (w == NULL) {
		/* a free way in the emptier of the key's two sets */
		struct way *set = NULL;
		unsigned best = IWAYS + 1;
		for (unsigned which = 0; which < 2; which++) {
			struct way *cand = set_of(c, h, which), *fw = NULL;
			unsigned used = 0;
			for (unsigned i = 0; i < IWAYS; i++) {
				if (cand[i].idx != 0)
					used++;
				else if (fw == NULL)
					fw = &cand[i];
			}
			if (used < best) {
				best = used;
				set = cand;
				w = fw;
			}
		}
		if (w == NULL) {
			/* both full (see above): the way whose entry expires first goes */
			w = &set[0];
			for (unsigned i = 1; i < IWAYS; i++)
				if (c->slots[set[i].idx - 1].expires_ms <
				    c->slots[w->idx - 1].expires_ms)
					w = &set[i];
			gk_counter_inc(&c->st.evictions);
			drop(c, w);
		}
		/* the hand may take a slot of this very set, leaving w's way empty: w stays free */
		uint32_t i = take_slot(c, now_ms);
		w->tag = tag_of(h);
		w->idx = i + 1;
		gk_counter_inc(&c->st.entries);
	}
	struct slot *victim = &c->slots[w->idx - 1];
	victim->hash = h;
	victim->type = key->type;
	victim->cls = key->cls;
	victim->flags = (uint8_t)((key->do_bit ? 1 : 0) | (key->cd ? 2 : 0));
	victim->nlen = (uint8_t)key->nlen;
	memcpy(victim->name, key->name, key->nlen);
	victim->ecs_len = (uint8_t)key->ecs_len;
	if (key->ecs_len)
		memcpy(victim->ecs, key->ecs, key->ecs_len);
	victim->ref = 0;
	victim->stored_ms = now_ms;
	victim->expires_ms = now_ms + (uint64_t)ttl * 1000u;
	victim->len = (uint16_t)len;
	memcpy(victim->msg, msg, len);
	if (regs)
		regs_copy(&victim->regs, regs);
	else
		victim->regs = (gk_ffilter_regs_t){.n = 0};
	gk_counter_inc(&c->st.inserts);
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
	return gk_front_cache_get_regs(c, key, now_ms, out, cap, NULL);
}

size_t gk_front_cache_get_regs(gk_fcache_t *c, const gk_fcache_key_t *key, uint64_t now_ms,
                               uint8_t *out, size_t cap, gk_ffilter_regs_t *regs)
{
	if (key->nlen == 0 || key->nlen > 255 || key->ecs_len > GK_FCACHE_ECS_MAX) {
		gk_counter_inc(&c->st.misses);
		return 0;
	}
	uint64_t h = key_hash(c, key);
	struct way *w = find(c, h, key);
	if (w != NULL) {
		struct slot *s = &c->slots[w->idx - 1];
		if (now_ms >= s->expires_ms) {
			drop(c, w);
			gk_counter_inc(&c->st.expired);
		} else if (s->len <= cap) {
			memcpy(out, s->msg, s->len);
			uint32_t age = (uint32_t)((now_ms - s->stored_ms) / 1000u);
			if (age > 0)
				walk(out, s->len, age_rr, &age); /* walked at put: cannot fail */
			s->ref = 1;
			if (regs)
				regs_copy(regs, &s->regs);
			gk_counter_inc(&c->st.hits);
			return s->len;
		}
	}
	gk_counter_inc(&c->st.misses);
	return 0;
}

void gk_front_cache_stats(const gk_fcache_t *c, gk_fcache_stats_t *st)
{
	memset(st, 0, sizeof(*st));
	gk_counter_sum((const uint64_t *)&c->st, sizeof(c->st) / sizeof(uint64_t), (uint64_t *)st);
}
