/* SPDX-License-Identifier: MIT */
/* src/policy/internal.h -- the policy snapshot's layout and the builder shared by the
 * compiler's files (compile.c: YAML; lists.c: plain and RPZ lists; table.c: the table).
 *
 * The snapshot is one arena holding: an open-addressing table of 16-byte slots (linear
 * probing, position by multiplying the hash's upper 32 bits with the slot count, so the
 * table has exactly ceil(entries / 0.75) slots, not a power of two), a names blob of
 * [length octet][lowercase wire name] records (offset 0 is padding, so a slot whose name is 0
 * is empty), the array of hits the slots refer to by index (0: none), and a blocked Bloom
 * filter over the same hashes. Nothing in it changes after gk_policy_build returns.
 *
 * Why the filter and the suffix hash: a query looks up its own name and every ancestor, and
 * at a million entries every depth has entries, so each lookup was a hash pass and a random
 * probe into a table far larger than the caches. The hash is defined label by label from
 * the right (common/namehash.h), so one pass over the query name yields the hash of every
 * ancestor; the filter (about 2 bytes per entry: it stays in L2/L3) then rejects almost every
 * absent name without touching the table.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "common/arena.h"
#include "common/dname.h"
#include "common/namehash.h"
#include "policy/policy.h"

#define GK_POLICY_LISTS_MAX   1000
#define GK_POLICY_ENTRIES_MAX (1u << 28)
#define GK_POLICY_FILTER_BITS 16 /* filter bits per name (rounded up to a power of two) */

/* Scopes of an entry: the name itself, and the names strictly below it. */
#define GK_POLICY_EXACT 1u
#define GK_POLICY_BELOW 2u

typedef struct gk_policy_slot {
	uint32_t tag;   /* upper 32 bits of gk_namehash: the position, and a quick compare */
	uint32_t name;  /* offset of [len][wire] in names; 0: empty slot */
	uint32_t exact; /* hit index for the name itself; 0: none */
	uint32_t below; /* hit index for names below it; 0: none */
} gk_policy_slot_t;
_Static_assert(sizeof(gk_policy_slot_t) == 16, "slot layout");

struct gk_policy {
	gk_arena_t *arena;
	const gk_policy_slot_t *table;
	uint32_t nslots;
	size_t entries;
	const uint8_t *names;
	size_t names_len;
	const gk_policy_hit_t *hits; /* [0] unused */
	uint32_t nhits;
	const uint64_t *filter; /* blocked Bloom filter: filter_mask + 1 words */
	uint32_t filter_mask;
	uint64_t exact_depths; /* bit d: an exact entry with d labels (63: 63 or more) */
	uint64_t below_depths; /* bit d: a below entry with d labels */
	gk_policy_hit_t status[GK_POLICY_NSTATUS];
	gk_policy_mode_t mode;
	const char **list_names; /* [0] unused */
	unsigned nlists;
	size_t lines, rpz_skipped;
};

static inline uint32_t gk_policy_pos(uint32_t tag, uint32_t nslots)
{
	return (uint32_t)(((uint64_t)tag * nslots) >> 32);
}

static inline uint64_t gk_policy_depth_bit(unsigned labels)
{
	return 1ull << (labels < 63 ? labels : 63);
}

/* The name hash is common/namehash.h's: suffix-decomposable, so gk_namehash_suffixes over
 * a query name gives every ancestor's gk_namehash in one pass. */

/* The filter: one 64-bit word per key, three bits in it. */
static inline uint64_t gk_policy_filter_bits(uint64_t h)
{
	return (1ull << ((h >> 40) & 63)) | (1ull << ((h >> 46) & 63)) | (1ull << ((h >> 52) & 63));
}

/* ---- the builder (load time only; one thread) ------------------------------------------ */

typedef struct gk_policy_builder {
	gk_arena_t *arena;   /* becomes the policy's */
	gk_policy_slot_t *t; /* malloc'd while building */
	uint32_t cap;
	size_t n;
	uint8_t *names; /* malloc'd while building */
	size_t nlen, ncap;
	gk_policy_hit_t *hits; /* malloc'd while building; pointers inside go to the arena */
	size_t nhits, hcap;
	uint64_t exact_depths, below_depths;
	size_t lines, rpz_skipped;
	/* error reporting */
	char *err;
	size_t errlen;
	int rc;
} gk_policy_builder_t;

/* Set the builder's error (first one wins) as "file:line: msg"; returns the code. */
int gk_policy_fail(gk_policy_builder_t *b, int code, const char *file, size_t line, const char *fmt,
                   ...) __attribute__((format(printf, 5, 6)));

int gk_policy_builder_init(gk_policy_builder_t *b);
void gk_policy_builder_clear(gk_policy_builder_t *b);

/* Append a hit; returns its index (> 0) or 0 on out of memory. */
uint32_t gk_policy_hit_add(gk_policy_builder_t *b, const gk_policy_hit_t *h);

/* Add name (lowercase wire, len octets, labels labels) with scopes (GK_POLICY_EXACT and/or
 * GK_POLICY_BELOW) deciding hit. Merging: block beats allow; otherwise the first one stays. */
int gk_policy_insert(gk_policy_builder_t *b, const uint8_t *name, size_t len, unsigned labels,
                     unsigned scopes, uint32_t hit);

/* The same with h = gk_namehash(name, len) already known. Inserting in the order of h walks
 * the table from one end to the other (after gk_policy_reserve): no random probes. */
int gk_policy_insert_hashed(gk_policy_builder_t *b, uint64_t h, const uint8_t *name, size_t len,
                            unsigned labels, unsigned scopes, uint32_t hit);

/* Make room for `more` new names without growing on the way (callers that insert in an
 * order correlated with the hash -- sorted RPZ triggers -- must, or the names would pile up
 * in the low end of a small table). Returns 0 or GK_ENOMEM. */
int gk_policy_reserve(gk_policy_builder_t *b, size_t more);

/* Move the table, names and hits into the arena, sized for the final count. */
int gk_policy_finish(gk_policy_builder_t *b, gk_policy_t *p);

/* ---- list readers (lists.c) ------------------------------------------------------------- */

/* What a list line decides when it names no action of its own. */
typedef struct gk_policy_list_ctx {
	uint16_t list;        /* 1-based */
	uint32_t hit;         /* plain lists: the hit of every line */
	gk_refusal_t refusal; /* RPZ: EDE and text of its refusals */
	const char *zone;     /* RPZ: apex, NULL to take it from the SOA */
} gk_policy_list_ctx_t;

/* Plain list: text[0..len) read as `file`. */
int gk_policy_read_plain(gk_policy_builder_t *b, const gk_policy_list_ctx_t *c, const char *file,
                         const char *text, size_t len);

/* RPZ zone: from disk (text NULL) or memory. */
int gk_policy_read_rpz(gk_policy_builder_t *b, const gk_policy_list_ctx_t *c, const char *file,
                       const char *text, size_t len);

/* Presentation name (no escapes; optional trailing dot) to lowercase wire form in out
 * (GK_DNAME_MAX + 1). Returns the wire length, or 0 with a reason in *why. */
size_t gk_policy_name_wire(const char *s, size_t slen, uint8_t *out, unsigned *labels,
                           const char **why);
