/* SPDX-License-Identifier: MIT */
/* src/common/arena.h -- region allocator: many small allocations, freed all at once.
 *
 * Used for everything a zone set owns (nodes, RRsets, compiled answers), so a snapshot is
 * freed in one call. Not thread-safe: one builder thread at a time; readers of the memory
 * need no synchronisation once the owner has published it.
 */
#pragma once
#include <stddef.h>

typedef struct gk_arena gk_arena_t;

/* New empty arena; NULL on out of memory. */
gk_arena_t *gk_arena_new(void);
/* New empty arena for data read at random by every query (a zone set): once it has grown
 * past a few MiB its chunks are 2 MiB blocks, 2 MiB-aligned and advised MADV_HUGEPAGE, so
 * transparent huge pages can back them and a lookup's loads miss the TLB far less often.
 * Measured on the bench zone set (10,000 zones, 112,317 RRs; 74 MiB of it huge), closed-loop
 * peak against the same build without: 1.013x qps [1.004-1.032] (bench/ab.sh peak 16). */
gk_arena_t *gk_arena_new_huge(void);
/* len bytes of zeroed private anonymous memory, 2 MiB-aligned and advised MADV_HUGEPAGE
 * (the huge-page arena's chunks, the zone set's name table, the status table's arrays);
 * pages are touched only when used. NULL on failure (or len 0). Free with gk_arena_unmap_huge. */
void *gk_arena_map_huge(size_t len);
/* Return a gk_arena_map_huge mapping of len bytes (the len it was made with). NULL is ignored. */
void gk_arena_unmap_huge(void *p, size_t len);
/* size bytes (rounded up to 8) aligned to 8, or NULL on out of memory. Valid until
 * gk_arena_free. */
void *gk_arena_alloc(gk_arena_t *a, size_t size);
/* size bytes aligned to align (a power of two), or NULL on out of memory. */
void *gk_arena_alloc_aligned(gk_arena_t *a, size_t size, size_t align);
/* Copy of src[0..size) in the arena, or NULL. */
void *gk_arena_dup(gk_arena_t *a, const void *src, size_t size);
/* Give back the unused end of the arena's current chunk when it can be (a huge-page arena's
 * pooled chunk, carved last by the calling thread): call it once the arena is complete (a
 * zone version once built). Later allocations still work (in a new chunk). Same thread as
 * the allocations. */
void gk_arena_trim(gk_arena_t *a);
/* Total bytes obtained from the system (for memory reports). */
size_t gk_arena_bytes(const gk_arena_t *a);
/* Free every allocation and the arena. NULL is ignored. */
void gk_arena_free(gk_arena_t *a);
