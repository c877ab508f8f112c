/* SPDX-License-Identifier: MIT */
/* src/front/cache.h -- the front end's packet cache: backend answers by question.
 *
 * One cache per relay thread (fwd.h; no locks: only its own loop reads and writes it), bounded in
 * memory at creation: nslots slots of GK_FCACHE_SLOT octets and an index of them, all
 * allocated by gk_front_cache_new; put and get never allocate. It holds nslots entries
 * whatever their keys; a full cache replaces an expired entry or one not asked for since a
 * CLOCK hand last passed it (cache.c). A flood of random names therefore replaces entries,
 * never grows the cache, and does not push out the names clients keep asking for.
 *
 * Key: the query name (lowercase wire form), type, class, the DO and CD bits, and the ECS
 * scope subnet when the answer depends on the client's (key.ecs). TTLs:
 * a positive answer lives for the smallest TTL of its answer and authority records; a
 * negative one (NXDOMAIN, or NOERROR without answer records) for min(SOA TTL, SOA MINIMUM)
 * of the SOA in its authority section, and is not cached without one (RFC 2308 5); a
 * referral (NOERROR, no answer, NS records in authority, no SOA) for the smallest TTL of its
 * authority and additional records (glue); all capped by max_ttl. SERVFAIL, other rcodes and
 * truncated answers are not cached. A hit comes back with every TTL decremented by the seconds
 * spent in the cache (OPT excepted); the caller patches the ID and the question's case.
 *
 * The decision (decide/decide.h) runs before the cache is asked, so a revoked name is
 * refused at the next query even while its answer is cached.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "front/filter.h"
#include "gk/errors.h"

#define GK_FCACHE_SLOT 1280u /* largest answer cached (EDNS 1232 and headroom) */

typedef struct gk_fcache gk_fcache_t;

#define GK_FCACHE_ECS_MAX 18u /* family (1), prefix length (1), address (up to 16) */

/* What an answer is cached under. name: lowercase uncompressed wire name. ecs: the client
 * subnet an answer is valid for (EDNS Client Subnet scope, RFC 7871 7.3: family, prefix
 * length, the address cut to it), ecs_len 0: for every client. */
typedef struct gk_fcache_key {
	const uint8_t *name;
	size_t nlen;
	uint16_t type, cls;
	bool do_bit, cd;
	const uint8_t *ecs;
	size_t ecs_len; /* 0..GK_FCACHE_ECS_MAX */
} gk_fcache_key_t;

typedef struct gk_front_cache_stats {
	uint64_t hits, misses, inserts, evictions, expired;
	uint64_t uncacheable; /* answers put but not cacheable (rcode, TC, no SOA, too large) */
	uint64_t malformed;   /* answers put that could not be walked */
	uint64_t entries, slots, bytes;
} gk_fcache_stats_t; /* all uint64_t: written by the cache's thread with common/counter.h */

/* A cache of at most max_bytes (rounded down to whole entries of
 * gk_front_cache_entry_bytes(); at least one), TTLs capped at max_ttl seconds (0: no negative or
 * positive caching above 0 s, i.e. nothing cached). Returns 0 with *out, GK_EINVAL (max_bytes below
 * one entry) or GK_ENOMEM. Any thread; then only the owning thread. */
GK_MUST_CHECK int gk_front_cache_new(size_t max_bytes, uint32_t max_ttl, gk_fcache_t **out);
void gk_front_cache_free(gk_fcache_t *c);

/* The memory of one entry (its slot: key, times and up to GK_FCACHE_SLOT octets of answer,
 * and its share of the index): gk_front_cache_new(n * gk_front_cache_entry_bytes(), ...)
 * holds exactly n entries. Pure. */
size_t gk_front_cache_entry_bytes(void);

/* The TTL answer msg[0..len) would be cached with, per the rules above: >= 0 seconds, or
 * GK_ESYNTAX (malformed) or GK_ENOENT (not cacheable). Pure; the fuzz target's entry. */
int64_t gk_front_cache_ttl(const uint8_t *msg, size_t len, uint32_t max_ttl);

/* Store answer msg[0..len) for key at now_ms (monotonic milliseconds). Returns 0 (stored,
 * replacing an entry of the same key), GK_ENOENT (not cacheable, counted) or GK_ESYNTAX
 * (malformed, counted). Never allocates. */
int gk_front_cache_put(gk_fcache_t *c, const gk_fcache_key_t *key, const uint8_t *msg, size_t len,
                       uint64_t now_ms);

/* gk_front_cache_put keeping with the answer the registrable domains it carries besides the
 * question's (filter.h; regs NULL: none), which gk_front_cache_get_regs gives back with it. */
int gk_front_cache_put_regs(gk_fcache_t *c, const gk_fcache_key_t *key, const uint8_t *msg,
                            size_t len, uint64_t now_ms, const gk_ffilter_regs_t *regs);

/* The cached answer for key at now_ms, copied to out (cap octets, >= GK_FCACHE_SLOT) with
 * its TTLs decremented by its age in whole seconds: its length, or 0 on a miss (absent or
 * expired; an expired entry is dropped). Never allocates. */
size_t gk_front_cache_get(gk_fcache_t *c, const gk_fcache_key_t *key, uint64_t now_ms, uint8_t *out,
                          size_t cap);

/* gk_front_cache_get, and on a hit the entry's registrable domains (put_regs) in *regs. */
size_t gk_front_cache_get_regs(gk_fcache_t *c, const gk_fcache_key_t *key, uint64_t now_ms,
                               uint8_t *out, size_t cap, gk_ffilter_regs_t *regs);

/* The cache's figures: relaxed loads, any thread (while its owner writes). */
void gk_front_cache_stats(const gk_fcache_t *c, gk_fcache_stats_t *st);
