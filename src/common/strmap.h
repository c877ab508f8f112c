/* SPDX-License-Identifier: MIT */
/* src/common/strmap.h -- a string map: open addressing, keys numbered in insertion order.
 *
 * Each distinct key gets the next index (0, 1, 2 ...), so a caller keeps its values in a
 * plain array indexed alike (a map), or none (a set, an interning table). Keys are copied
 * into an arena (the caller's, which then owns them, or the map's own) or, with
 * GK_STRMAP_BORROW, used in place. Lookups and insertions cost one hash of the key and, on
 * a hit, one comparison; the table stays at most half full. Not thread-safe: one thread at a
 * time, readers included while another thread adds.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/arena.h"
#include "gk/errors.h"

/* The keys are the caller's, NUL-terminated at their length and valid while the map lives:
 * they are not copied. */
#define GK_STRMAP_BORROW 1u

typedef struct gk_strmap {
	struct gk_strmap_slot {
		uint32_t idx; /* index + 1; 0: empty */
		uint32_t tag; /* high bits of the key's hash */
	} * slot;
	size_t cap;        /* slots: 0 or a power of two */
	const char **keys; /* keys[0..n): NUL-terminated */
	size_t n, keys_cap;
	gk_arena_t *arena; /* where keys are copied (NULL with GK_STRMAP_BORROW) */
	unsigned flags;
	int own_arena;
} gk_strmap_t;

/* An empty map. Keys are copied into arena when it is not NULL (they live as long as it
 * does, also after gk_strmap_free), into the map's own arena when it is NULL, and not at all
 * with GK_STRMAP_BORROW. Allocates nothing until the first add. */
void gk_strmap_init(gk_strmap_t *m, gk_arena_t *arena, unsigned flags);

/* Free the map (and its own arena with its copies of the keys). m may be zeroed or
 * already freed; it is left empty and may be initialised again. */
void gk_strmap_free(gk_strmap_t *m);

/* The index + 1 of key s[0..len) (bytes, may hold any octet but NUL), or 0 when absent. */
uint32_t gk_strmap_find(const gk_strmap_t *m, const char *s, size_t len);

/* Find key s[0..len), adding it when absent: *idx is its index. Returns 1 when it was
 * added, 0 when it was there already, GK_ENOMEM (the map unchanged) or GK_ERANGE (2^31
 * keys). */
GK_MUST_CHECK int gk_strmap_add(gk_strmap_t *m, const char *s, size_t len, uint32_t *idx);

/* How many keys; key i (NUL-terminated; valid while the map holds it, and for copies in the
 * caller's arena as long as that arena). */
static inline size_t gk_strmap_count(const gk_strmap_t *m)
{
	return m->n;
}
static inline const char *gk_strmap_key(const gk_strmap_t *m, uint32_t i)
{
	return m->keys[i];
}

/* Hand the keys array (malloc'd, count keys; NULL when empty) to the caller, who frees it,
 * and free the rest of the map. With the map's own arena the keys would die with it: only
 * for a caller's arena or borrowed keys. */
const char **gk_strmap_release_keys(gk_strmap_t *m, size_t *count);
