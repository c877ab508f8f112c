/* SPDX-License-Identifier: MIT */
/* src/zone/store.c -- the zone store: apex name -> current version, read lock-free.
 *
 * An open-addressing index on the apex name's hash (linear probing, load <= 1/2). Each
 * entry is two atomic words: the hash (a filter, read relaxed) and the version pointer
 * (NULL: never used, which ends a probe; TOMB: a removed zone, which does not). Readers
 * load the pointer and then compare the apex name in the version itself, so a pointer
 * that changes under them (a replaced zone, a tombstone reused by another apex) is never
 * mistaken for another zone: they see the old state or the new one, both consistent.
 *
 * One writer (the daemon's main loop) changes the index: replace = one pointer store;
 * add = hash store, then pointer store; remove = TOMB store. When live entries and
 * tombstones fill half the index, a new one (twice the live zones, tombstones dropped) is
 * built aside and published with one pointer store; the old index is retired like a
 * version. Retired objects go to the retire function given at creation, which frees them
 * after every reader has passed a quiescent point (common/snapshot.h).
 *
 * The deepest served zone containing a name is found by probing the name's suffixes from
 * the longest, at label depths where some zone exists (a 128-bit mask of apex depths), so
 * a store whose zones all sit at one depth costs one probe per query.
 *
 * <stdatomic.h> outside common/snapshot: the index is itself a reclamation-protected
 * structure, one entry per zone, published entry by entry; a snapshot cell per zone would
 * cost a reader index walk for nothing.
 */
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "common/arena.h"
#include "zone/answer.h"
#include "zone/internal.h"

#define TOMB ((gk_zver_t *)(uintptr_t)1)

struct zent {
	_Atomic uint64_t hash;
	_Atomic(gk_zver_t *) ver;
};

struct zindex {
	size_t mask;
	size_t used; /* entries not NULL: live and tombstones (writer only) */
	struct zent e[];
};

struct gk_zoneset {
	_Atomic(struct zindex *) idx;
	_Atomic uint64_t depths[2]; /* bit d: some zone's apex has d labels */
	uint32_t depth_n[128];      /* zones per apex depth (writer only) */
	size_t nzones, nrr;
	size_t nplaceholders; /* of nzones */
	gk_zoneset_retire_fn retire;
	void *retire_ctx;
	gk_zoneset_publish_fn published; /* gk_zone_store_on_publish */
	void *published_ctx;
};

static size_t index_bytes(size_t slots)
{
	return sizeof(struct zindex) + slots * sizeof(struct zent);
}

/* An index of 2 MiB or more (100,000 zones and up) is read at random by every query: huge
 * pages, unless under AddressSanitizer, whose leak checker does not look inside mappings
 * for the versions an index points at. */
#if defined(__SANITIZE_ADDRESS__)
#define INDEX_MAP_MIN SIZE_MAX
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define INDEX_MAP_MIN SIZE_MAX
#endif
#endif
#ifndef INDEX_MAP_MIN
#define INDEX_MAP_MIN ((size_t)2 << 20)
#endif

static struct zindex *index_new(size_t want)
{
	size_t sz = 64;
	while (sz < want * 2)
		sz <<= 1;
	size_t bytes = index_bytes(sz);
	/* zeroed: every entry NULL */
	struct zindex *ix = bytes >= INDEX_MAP_MIN ? gk_arena_map_huge(bytes) : calloc(1, bytes);
	if (ix)
		ix->mask = sz - 1;
	return ix;
}

static void index_free(void *p)
{
	struct zindex *ix = p;
	size_t bytes = index_bytes(ix->mask + 1);
	if (bytes >= INDEX_MAP_MIN)
		gk_arena_unmap_huge(ix, bytes);
	else
		free(ix);
}

static void ver_free(void *p)
{
	gk_zone_ver_free(p);
}

static void retire(gk_zoneset_t *zs, void *obj, void (*fn)(void *))
{
	if (zs->retire)
		zs->retire(zs->retire_ctx, obj, fn);
	else
		fn(obj);
}

void gk_zone_store_retire(gk_zoneset_t *zs, void *obj, void (*free_fn)(void *))
{
	retire(zs, obj, free_fn);
}

int gk_zone_store_create(gk_zoneset_retire_fn retire_fn, void *ctx, gk_zoneset_t **out)
{
	gk_zoneset_t *zs = calloc(1, sizeof(*zs));
	struct zindex *ix = index_new(16);
	if (!zs || !ix) {
		free(zs);
		if (ix)
			index_free(ix);
		return GK_ENOMEM;
	}
	atomic_init(&zs->idx, ix);
	atomic_init(&zs->depths[0], 0);
	atomic_init(&zs->depths[1], 0);
	zs->retire = retire_fn;
	zs->retire_ctx = ctx;
	*out = zs;
	return 0;
}

static bool same_apex(const gk_zver_t *v, const uint8_t *name, size_t len)
{
	return v->apex_len == len && gk_zone_name_eq(gk_zone_ver_apex(v), name, len);
}

/* Reader probe: the version whose apex is name, or NULL. */
static const gk_zver_t *index_find(const struct zindex *ix, const uint8_t *name, size_t len,
                                   uint64_t h)
{
	size_t i = h & ix->mask;
	for (;;) {
		const struct zent *e = &ix->e[i];
		uint64_t eh =
		    atomic_load_explicit((_Atomic uint64_t *)&e->hash, memory_order_relaxed);
		const gk_zver_t *v = atomic_load((_Atomic(gk_zver_t *) *)&e->ver);
		if (!v)
			return NULL;
		if (eh == h && v != TOMB && same_apex(v, name, len))
			return v;
		i = (i + 1) & ix->mask;
	}
}

const gk_zver_t *gk_zone_store_get_h(const gk_zoneset_t *zs, const uint8_t *apex, size_t len,
                                     uint64_t hash)
{
	const struct zindex *ix = atomic_load((_Atomic(struct zindex *) *)&zs->idx);
	return index_find(ix, apex, len, hash);
}

const gk_zver_t *gk_zone_store_get(const gk_zoneset_t *zs, const uint8_t *apex, size_t len)
{
	const struct zindex *ix = atomic_load((_Atomic(struct zindex *) *)&zs->idx);
	return index_find(ix, apex, len, gk_namehash(apex, len));
}

static inline __attribute__((always_inline)) const gk_zver_t *
zone_of(const gk_zoneset_t *zs, const uint8_t *name, size_t len, uint64_t hash, const uint8_t *loff,
        unsigned labels, const uint64_t *given)
{
	const struct zindex *ix = atomic_load((_Atomic(struct zindex *) *)&zs->idx);
	uint64_t d[2] = {
	    atomic_load_explicit((_Atomic uint64_t *)&zs->depths[0], memory_order_relaxed),
	    atomic_load_explicit((_Atomic uint64_t *)&zs->depths[1], memory_order_relaxed)};
	/* the deepest apex depth in use (i0): every candidate's hash state comes from one pass,
	 * from the root up to i0, unless the caller has them */
	unsigned i0 = 0;
	while (i0 < labels && !((d[(labels - i0) >> 6] >> ((labels - i0) & 63)) & 1))
		i0++;
	uint64_t own[GK_DNAME_LABELS_MAX + 1];
	const uint64_t *st = given;
	if (!st) {
		own[labels] = gk_namehash_root();
		for (unsigned i = labels; i-- > i0;)
			own[i] = gk_namehash_step(own[i + 1], name, len, loff[i]);
		st = own;
	}
	for (unsigned i = i0; i <= labels; i++) {
		unsigned depth = labels - i; /* labels of the suffix starting at label i */
		if (!((d[depth >> 6] >> (depth & 63)) & 1))
			continue;
		size_t off = i < labels ? loff[i] : len - 1u;
		uint64_t h = i || given ? gk_namehash_fin(st[i]) : hash;
		const gk_zver_t *v = index_find(ix, name + off, len - off, h);
		if (v)
			return v;
	}
	return NULL;
}

const gk_zver_t *gk_zone_store_zone_of(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                                       uint64_t hash, const uint8_t *loff, unsigned labels)
{
	uint8_t own[GK_DNAME_LABELS_MAX];
	if (!loff) {
		labels = 0;
		for (size_t p = 0; name[p] && labels < GK_DNAME_LABELS_MAX; p += name[p] + 1u)
			own[labels++] = (uint8_t)p;
		loff = own;
	}
	return zone_of(zs, name, len, hash, loff, labels, NULL);
}

const gk_zver_t *gk_zone_store_zone_of_st(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                                          const uint8_t *loff, unsigned labels, const uint64_t *st)
{
	return zone_of(zs, name, len, 0, loff, labels, st);
}

/* Writer: the entry holding apex, or NULL; *free_at: the first tombstone or empty entry on
 * the way (where an add goes). */
static struct zent *index_slot(struct zindex *ix, const uint8_t *name, size_t len, uint64_t h,
                               struct zent **free_at)
{
	size_t i = h & ix->mask;
	*free_at = NULL;
	for (;;) {
		struct zent *e = &ix->e[i];
		gk_zver_t *v = atomic_load_explicit(&e->ver, memory_order_relaxed);
		if (!v) {
			if (!*free_at)
				*free_at = e;
			return NULL;
		}
		if (v == TOMB) {
			if (!*free_at)
				*free_at = e;
		} else if (atomic_load_explicit(&e->hash, memory_order_relaxed) == h &&
		           same_apex(v, name, len)) {
			return e;
		}
		i = (i + 1) & ix->mask;
	}
}

/* A fresh index for want live zones: every live entry moved, tombstones dropped. */
static int index_rebuild(gk_zoneset_t *zs, size_t want)
{
	struct zindex *old = atomic_load_explicit(&zs->idx, memory_order_relaxed);
	struct zindex *ix = index_new(want);
	if (!ix)
		return GK_ENOMEM;
	for (size_t i = 0; i <= old->mask; i++) {
		gk_zver_t *v = atomic_load_explicit(&old->e[i].ver, memory_order_relaxed);
		if (!v || v == TOMB)
			continue;
		uint64_t h = atomic_load_explicit(&old->e[i].hash, memory_order_relaxed);
		size_t j = h & ix->mask;
		while (atomic_load_explicit(&ix->e[j].ver, memory_order_relaxed))
			j = (j + 1) & ix->mask;
		atomic_store_explicit(&ix->e[j].hash, h, memory_order_relaxed);
		atomic_store_explicit(&ix->e[j].ver, v, memory_order_relaxed);
		ix->used++;
	}
	atomic_store(&zs->idx, ix); /* the entries above are visible with it */
	retire(zs, old, index_free);
	return 0;
}

int gk_zone_store_put(gk_zoneset_t *zs, gk_zver_t *v)
{
	struct zindex *ix = atomic_load_explicit(&zs->idx, memory_order_relaxed);
	const uint8_t *apex = gk_zone_ver_apex(v);
	uint64_t h = gk_namehash(apex, v->apex_len); /* the version keeps none: writer only */
	struct zent *free_at;
	struct zent *e = index_slot(ix, apex, v->apex_len, h, &free_at);
	if (e) { /* replace: same entry, same memo cell */
		gk_zver_t *old = atomic_load_explicit(&e->ver, memory_order_relaxed);
		v->zone.memo = old->zone.memo;
		atomic_store(&e->ver, v);
		zs->nrr += v->nrr;
		zs->nrr -= old->nrr;
		zs->nplaceholders += gk_zone_ver_placeholder_p(v);
		zs->nplaceholders -= gk_zone_ver_placeholder_p(old);
		retire(zs, old, ver_free);
		if (zs->published)
			zs->published(zs->published_ctx, v);
		return 0;
	}
	_Atomic uint64_t *memo = gk_zone_ver_memo_new(); /* 0: nothing known */
	if (!memo)
		return GK_ENOMEM;
	if ((ix->used + 1) * 2 > ix->mask + 1) {
		if (index_rebuild(zs, zs->nzones + 1) < 0) {
			gk_zone_ver_memo_free(memo);
			return GK_ENOMEM;
		}
		ix = atomic_load_explicit(&zs->idx, memory_order_relaxed);
		index_slot(ix, apex, v->apex_len, h, &free_at);
	}
	v->zone.memo = memo;
	unsigned d = v->apex_labels;
	if (zs->depth_n[d]++ == 0)
		atomic_fetch_or(&zs->depths[d >> 6], (uint64_t)1 << (d & 63));
	if (!atomic_load_explicit(&free_at->ver, memory_order_relaxed))
		ix->used++;
	atomic_store_explicit(&free_at->hash, h, memory_order_relaxed);
	atomic_store(&free_at->ver, v);
	zs->nzones++;
	zs->nrr += v->nrr;
	zs->nplaceholders += gk_zone_ver_placeholder_p(v);
	if (zs->published)
		zs->published(zs->published_ctx, v);
	return 0;
}

void gk_zone_store_on_publish(gk_zoneset_t *zs, gk_zoneset_publish_fn fn, void *ctx)
{
	zs->published = fn;
	zs->published_ctx = ctx;
}

int gk_zone_store_remove(gk_zoneset_t *zs, const uint8_t *apex, size_t len)
{
	struct zindex *ix = atomic_load_explicit(&zs->idx, memory_order_relaxed);
	struct zent *free_at;
	struct zent *e = index_slot(ix, apex, len, gk_namehash(apex, len), &free_at);
	if (!e)
		return GK_ENOENT;
	gk_zver_t *old = atomic_load_explicit(&e->ver, memory_order_relaxed);
	atomic_store(&e->ver, TOMB);
	unsigned d = old->apex_labels;
	if (--zs->depth_n[d] == 0)
		atomic_fetch_and(&zs->depths[d >> 6], ~((uint64_t)1 << (d & 63)));
	zs->nzones--;
	zs->nrr -= old->nrr;
	zs->nplaceholders -= gk_zone_ver_placeholder_p(old);
	old->owns_memo = true; /* the zone's last version takes its memo cell along */
	retire(zs, old, ver_free);
	/* many tombstones lengthen probes: start afresh (rare; the failure is harmless) */
	if (ix->used > 2 * zs->nzones + 64)
		(void)index_rebuild(zs, zs->nzones);
	return 0;
}

void gk_zone_store_each(const gk_zoneset_t *zs, void (*fn)(void *ctx, const gk_zver_t *v),
                        void *ctx)
{
	const struct zindex *ix = atomic_load((_Atomic(struct zindex *) *)&zs->idx);
	for (size_t i = 0; i <= ix->mask; i++) {
		const gk_zver_t *v = atomic_load((_Atomic(gk_zver_t *) *)&ix->e[i].ver);
		if (v && v != TOMB)
			fn(ctx, v);
	}
}

size_t gk_zone_store_zone_count(const gk_zoneset_t *zs)
{
	return zs->nzones;
}

size_t gk_zone_store_rr_count(const gk_zoneset_t *zs)
{
	return zs->nrr;
}

size_t gk_zone_store_placeholder_count(const gk_zoneset_t *zs)
{
	return zs->nplaceholders;
}

void gk_zone_store_free(gk_zoneset_t *zs)
{
	if (!zs)
		return;
	struct zindex *ix = atomic_load(&zs->idx);
	for (size_t i = 0; i <= ix->mask; i++) {
		gk_zver_t *v = atomic_load_explicit(&ix->e[i].ver, memory_order_relaxed);
		if (v && v != TOMB) {
			v->owns_memo = true;
			gk_zone_ver_free(v);
		}
	}
	index_free(ix);
	free(zs);
}

/* ---- prefetch hints (zone/answer.h) --------------------------------------------------- */

void gk_zone_prefetch_name(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                           const uint8_t *loff, unsigned labels, gk_zone_hint_t *h)
{
	h->ver = NULL;
	h->ok = h->probed = false;
	const struct zindex *ix = atomic_load((_Atomic(struct zindex *) *)&zs->idx);
	uint64_t d[2] = {
	    atomic_load_explicit((_Atomic uint64_t *)&zs->depths[0], memory_order_relaxed),
	    atomic_load_explicit((_Atomic uint64_t *)&zs->depths[1], memory_order_relaxed)};
	unsigned k = 0;
	uint64_t *st = h->st; /* every ancestor's hash state in one pass */
	gk_namehash_states(name, len, loff, labels, st);
	h->labels = (uint8_t)labels;
	h->qlen = (uint8_t)len;
	/* the two deepest apex depths in use: a name one label below a zone's apex (www) at
	 * a depth where other zones sit is found at the second */
	for (unsigned i = 0; i <= labels && k < 2; i++) {
		unsigned depth = labels - i;
		if (!((d[depth >> 6] >> (depth & 63)) & 1))
			continue;
		size_t off = i < labels ? loff[i] : len - 1u;
		h->zhash[k] = gk_namehash_fin(st[i]);
		h->zoff[k] = (uint8_t)off;
		__builtin_prefetch(&ix->e[h->zhash[k] & ix->mask]);
		k++;
	}
	h->nz = (uint8_t)k;
	h->hash = k && h->zoff[0] == 0 ? h->zhash[0] : gk_namehash_fin(st[0]);
	h->ok = true;
}

void gk_zone_prefetch(const gk_zoneset_t *zs, unsigned stage, gk_zone_hint_t *h)
{
	if (!h->ok)
		return;
	if (stage == 1) {
		const struct zindex *ix = atomic_load((_Atomic(struct zindex *) *)&zs->idx);
		h->probed = true;
		for (unsigned k = 0; k < h->nz; k++) {
			const struct zent *e = &ix->e[h->zhash[k] & ix->mask];
			const gk_zver_t *v = atomic_load((_Atomic(gk_zver_t *) *)&e->ver);
			if (v && v != TOMB &&
			    atomic_load_explicit((_Atomic uint64_t *)&e->hash,
			                         memory_order_relaxed) == h->zhash[k]) {
				h->ver = v;
				h->zk = (uint8_t)k;
				__builtin_prefetch(v);
				return;
			}
		}
		return;
	}
	const gk_zver_t *v = h->ver;
	if (!v)
		return;
	const gk_zslot_t *s = &v->table[h->hash & v->mask];
	if (stage == 2)
		__builtin_prefetch(s);
	else if (s->node && s->hash == h->hash)
		__builtin_prefetch(s->node);
}
