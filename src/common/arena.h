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
/* size bytes aligned to 16, or NULL on out of memory. Valid until gk_arena_free. */
void *gk_arena_alloc(gk_arena_t *a, size_t size);
/* Copy of src[0..size) in the arena, or NULL. */
void *gk_arena_dup(gk_arena_t *a, const void *src, size_t size);
/* Total bytes obtained from the system (for memory reports). */
size_t gk_arena_bytes(const gk_arena_t *a);
/* Free every allocation and the arena. NULL is ignored. */
void gk_arena_free(gk_arena_t *a);
