/* SPDX-License-Identifier: MIT */
/* src/common/counter.h -- single-writer counters that another thread reads while they run.
 *
 * A counter block belongs to one thread (a worker's loop, a UDP socket's thread), which is
 * its only writer; a scraper on another thread sums the blocks at any time. The writer adds
 * with a relaxed atomic load and store -- no locked read-modify-write: on x86-64 and arm64
 * it is the same load, add and store a plain `++` compiles to -- and the reader loads
 * relaxed, so no value is torn and there is no data race. A value read may be a moment old.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Add n to *c. The block's owning thread only. */
static inline void gk_counter_add(uint64_t *c, uint64_t n)
{
	__atomic_store_n(c, __atomic_load_n(c, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

/* Add 1 to *c. The block's owning thread only. */
static inline void gk_counter_inc(uint64_t *c)
{
	gk_counter_add(c, 1);
}

/* Add the n counters of a block (an array of uint64_t, or a struct of nothing else) into
 * sum[0..n): relaxed loads. Any thread, while the owner writes. */
static inline void gk_counter_sum(const uint64_t *block, size_t n, uint64_t *sum)
{
	for (size_t i = 0; i < n; i++)
		sum[i] += __atomic_load_n(&block[i], __ATOMIC_RELAXED);
}
