/* SPDX-License-Identifier: MIT */
/* src/common/snapshot.c -- pointer exchange plus per-reader quiescent counters.
 *
 * Each reader owns a counter on its own cache line and bumps it at quiescent points. On
 * publish, the writer exchanges the pointer and records every counter; a retired object is
 * safe to free once every counter has moved past its recorded value. The exchange, the
 * counter stores and the counter loads are sequentially consistent: if the writer's load
 * misses a reader's bump, that bump comes after the exchange in the total order and the
 * reader's following read sees the new pointer.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include "common/snapshot.h"

struct reader_slot {
	_Atomic uint64_t epoch;
	char pad[64 - sizeof(uint64_t)];
};

struct retired {
	struct retired *next;
	void *obj;
	gk_snapshot_free_fn free_fn; /* the cell's, or gk_snapshot_retire's */
	uint64_t marks[];            /* one per reader: its counter at publish time */
};

struct gk_snapshot {
	_Atomic(void *) current;
	gk_snapshot_free_fn free_fn;
	unsigned nreaders;
	struct retired *retired; /* writer-only list, newest first */
	struct reader_slot *readers;
};

int gk_snapshot_create(unsigned nreaders, void *initial, gk_snapshot_free_fn free_fn,
                       gk_snapshot_t **out)
{
	if (nreaders == 0 || free_fn == NULL || out == NULL)
		return GK_EINVAL;
	gk_snapshot_t *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return GK_ENOMEM;
	if (posix_memalign((void **)&s->readers, 64, sizeof(struct reader_slot) * nreaders) != 0) {
		free(s);
		return GK_ENOMEM;
	}
	for (unsigned i = 0; i < nreaders; i++)
		atomic_init(&s->readers[i].epoch, 0);
	atomic_init(&s->current, initial);
	s->free_fn = free_fn;
	s->nreaders = nreaders;
	*out = s;
	return 0;
}

void *gk_snapshot_read(const gk_snapshot_t *s)
{
	return atomic_load((_Atomic(void *) *)&s->current);
}

void gk_snapshot_quiescent(gk_snapshot_t *s, unsigned reader)
{
	/* Single writer per counter: a load and a store, no read-modify-write needed. */
	uint64_t e = atomic_load_explicit(&s->readers[reader].epoch, memory_order_relaxed);
	atomic_store(&s->readers[reader].epoch, e + 1);
}

int gk_snapshot_publish(gk_snapshot_t *s, void *next)
{
	struct retired *r = malloc(sizeof(*r) + sizeof(uint64_t) * s->nreaders);
	if (r == NULL)
		return GK_ENOMEM;
	r->obj = atomic_exchange(&s->current, next);
	r->free_fn = s->free_fn;
	for (unsigned i = 0; i < s->nreaders; i++)
		r->marks[i] = atomic_load(&s->readers[i].epoch);
	if (r->obj == NULL) {
		free(r);
		return 0;
	}
	r->next = s->retired;
	s->retired = r;
	return 0;
}

int gk_snapshot_retire(gk_snapshot_t *s, void *obj, gk_snapshot_free_fn free_fn)
{
	struct retired *r = malloc(sizeof(*r) + sizeof(uint64_t) * s->nreaders);
	if (r == NULL)
		return GK_ENOMEM;
	/* the caller unlinked obj before this call; the fence orders that store before the
	 * counter loads, as the exchange does in gk_snapshot_publish */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < s->nreaders; i++)
		r->marks[i] = atomic_load(&s->readers[i].epoch);
	r->obj = obj;
	r->free_fn = free_fn;
	r->next = s->retired;
	s->retired = r;
	return 0;
}

static int grace_over(const gk_snapshot_t *s, const struct retired *r)
{
	for (unsigned i = 0; i < s->nreaders; i++)
		if (atomic_load(&s->readers[i].epoch) == r->marks[i])
			return 0;
	return 1;
}

size_t gk_snapshot_reclaim(gk_snapshot_t *s)
{
	size_t pending = 0;
	struct retired **pp = &s->retired;
	while (*pp != NULL) {
		struct retired *r = *pp;
		if (grace_over(s, r)) {
			*pp = r->next;
			r->free_fn(r->obj);
			free(r);
		} else {
			pending++;
			pp = &r->next;
		}
	}
	return pending;
}

void gk_snapshot_destroy(gk_snapshot_t *s)
{
	if (s == NULL)
		return;
	struct retired *r = s->retired;
	while (r != NULL) {
		struct retired *next = r->next;
		r->free_fn(r->obj);
		free(r);
		r = next;
	}
	void *cur = atomic_load(&s->current);
	if (cur != NULL)
		s->free_fn(cur);
	free(s->readers);
	free(s);
}
