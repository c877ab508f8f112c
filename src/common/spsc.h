/* SPDX-License-Identifier: MIT */
/* src/common/spsc.h -- a bounded single-producer single-consumer ring of indexes.
 *
 * The ring holds positions only; the caller keeps the entries in an array of the same
 * power-of-two capacity, entry (pos & mask). One thread produces (gk_spsc_reserve, fill the
 * entry, gk_spsc_commit), one other thread consumes (gk_spsc_peek, read the entry,
 * gk_spsc_release). No lock and no allocation; the release/acquire pairs order the entry's
 * bytes with the positions. A full ring refuses (the producer counts the drop).
 */
#pragma once
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct gk_spsc {
	_Alignas(64) _Atomic uint32_t head; /* next position to produce (producer writes) */
	_Alignas(64) _Atomic uint32_t tail; /* next position to consume (consumer writes) */
	_Alignas(64) uint32_t mask;         /* capacity - 1 */
} gk_spsc_t;

/* cap: a power of two. */
static inline void gk_spsc_init(gk_spsc_t *r, uint32_t cap)
{
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->mask = cap - 1;
}

/* Producer: the entry index to fill, or -1 when the ring is full. */
static inline int64_t gk_spsc_reserve(gk_spsc_t *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
	if (h - t > r->mask)
		return -1;
	return (int64_t)(h & r->mask);
}

/* Producer: the reserved entry is filled; the consumer may see it. */
static inline void gk_spsc_commit(gk_spsc_t *r)
{
	uint32_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
	atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

/* Consumer: the index of the oldest entry, or -1 when the ring is empty. */
static inline int64_t gk_spsc_peek(gk_spsc_t *r)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&r->head, memory_order_acquire);
	if (t == h)
		return -1;
	return (int64_t)(t & r->mask);
}

/* Consumer: the entry peeked is read; the producer may reuse it. */
static inline void gk_spsc_release(gk_spsc_t *r)
{
	uint32_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
	atomic_store_explicit(&r->tail, t + 1, memory_order_release);
}
