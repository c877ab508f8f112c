/* SPDX-License-Identifier: MIT */
/* src/status/table.c -- the status table: exact, compact, single writer, lock-free readers.
 *
 * Design. Three layers of the same open-addressing table, published together in one root:
 *
 *   ov      overlay: insert-only; the writer adds a key by writing its arena entry and slot,
 *           then the fingerprint with release order, and updates a value with one relaxed
 *           32-bit store. Keys never move, so a reader that finds a key sees its old or
 *           new value.
 *   frozen  the previous overlay while it is merged into a new base (read-only).
 *   base    built privately (full load or merge), then published; its key set is fixed,
 *           but while no merge runs the writer updates its values in place (a removal
 *           stores 0), so the common change -- a known domain changes status -- touches no
 *           overlay at all.
 *
 * Readers look in ov, then frozen, then base; the first layer holding the key decides (a
 * value of 0 means removed). While a merge runs every write goes to ov, because the merge
 * may already have copied the key out of base or frozen. The merge copies frozen's live
 * keys, then base's live keys that frozen does not hold, GK_TAB_STEP slots per call, and
 * publishes {ov, NULL, next}. Old roots and tables are retired, never freed in place.
 *
 * Layout: a table is an array of 64-byte buckets, each with 6 (16-bit fingerprint, arena
 * offset, value) entries, so a lookup costs one cache miss for the bucket and, only when a
 * fingerprint matches (a hit, or 1 in ~10^4 for an absent key), one for the arena entry.
 * A key lives in its home bucket or, when that is full, in the first later bucket with room
 * (linear probing by bucket); every full bucket passed on the way gets its overflow mark,
 * so an absent key's search stops at the first bucket without one. Slots are filled in
 * order and never emptied (a removal stores value 0), which is what lets readers run
 * without locks. At 7/8 an absent key's search read 5 buckets on average (10M keys,
 * bench/stlook), at 3/4 it reads 1.7, so tab_get prefetches the base's home bucket and the
 * next one together.
 *
 * Every table but tab_init's empty one carries a filter, one bit per key at 8 bits per
 * key (1 B per domain), set before the key's fingerprint. It is small enough to stay in
 * the last-level cache where the buckets cannot, so an absent key -- every refused query --
 * mostly costs no bucket miss at all (bench/stlook at 10M, chained lookups: ~130 -> ~50 ns),
 * and an overlay, whose buckets are sized for its limit rather than its count, costs a
 * lookup nothing when empty and one cached bit when not. The old layout (1 tag byte per
 * slot in its own array) had the first property by accident: its 12.5 MB of tags at 10M
 * fit the cache, at the price of a tag, a slot and an arena miss for every hit.
 *
 * Memory: 64 / 6 bytes per slot at load factor <= 3/4 for a base (~14.2 B per domain),
 * 1 filter byte per domain, plus 1 + (wire length - 1) arena bytes per name (~17 B for
 * "abcdefgh.com.cn"). Big arrays are private anonymous mappings, so freeing them returns
 * the memory to the system at once, and are advised for transparent huge pages: a
 * lookup's random accesses into hundreds of MB otherwise also miss the TLB (bench/stlook
 * at 10M with the old layout: ~198 -> ~147 ns per uniform lookup from huge pages alone;
 * Debian's THP mode "madvise" gives none without the advice). Bucket positions use the
 * high bits of the 64-bit hash (multiply-shift), so the bucket count need not be a power
 * of two; fingerprints use the low 16 bits.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "common/arena.h"
#include "common/dname.h"
#include "common/namehash.h"
#include "common/log.h"
#include "status/internal.h"

#define BASE_LOAD_NUM    3 /* base load factor 3/4 */
#define BASE_LOAD_DEN    4
#define OV_MIN_KEYS      65536u
#define OV_ARENA_PER_KEY 48u /* arena bytes reserved (not touched) per overlay key */
#define FILTER_BITS      8u  /* filter bits per key (of a base, of an overlay's limit) */

/* Grow a mapping to at least need bytes (doubling). */
static int grow_map(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : (size_t)1 << 20;
	while (ncap < need)
		ncap *= 2;
	void *np = *p ? mremap(*p, *cap, ncap, MREMAP_MAYMOVE) : gk_arena_map_huge(ncap);
	if (np == MAP_FAILED || np == NULL)
		return GK_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

static inline size_t bucket_of(uint64_t h, size_t nb)
{
	return (size_t)(((unsigned __int128)h * nb) >> 64);
}

static inline uint16_t fp_of(uint64_t h)
{
	uint16_t f = (uint16_t)h;
	return f ? f : 1;
}

/* A table of at least cap slots; arena_cap bytes of arena unless arena is given (then
 * owned). */
static size_t filter_bytes(const struct tbl *t)
{
	return t->filter_bits / 8;
}

/* cap: slots; keys: keys the filter is sized for (0: no filter). */
static struct tbl *tbl_new(size_t cap, size_t arena_cap, size_t keys)
{
	struct tbl *t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->nb = (cap + GK_TAB_WAYS - 1) / GK_TAB_WAYS;
	if (t->nb < 4)
		t->nb = 4;
	t->cap = t->nb * GK_TAB_WAYS;
	t->map_len = t->nb * sizeof(struct tbkt);
	t->b = gk_arena_map_huge(t->map_len);
	if (t->b == NULL) {
		free(t);
		return NULL;
	}
	if (arena_cap > 0) {
		t->arena = gk_arena_map_huge(arena_cap);
		if (t->arena == NULL) {
			gk_arena_unmap_huge(t->b, t->map_len);
			free(t);
			return NULL;
		}
		t->arena_cap = t->arena_map = arena_cap;
	}
	if (keys > 0) {
		t->filter_bits = (keys * FILTER_BITS + 4095) & ~(size_t)4095;
		t->filter = gk_arena_map_huge(filter_bytes(t));
		if (t->filter == NULL) {
			gk_arena_unmap_huge(t->b, t->map_len);
			gk_arena_unmap_huge(t->arena, t->arena_map);
			free(t);
			return NULL;
		}
	}
	return t;
}

static void tbl_free(struct tbl *t)
{
	if (t == NULL)
		return;
	gk_arena_unmap_huge(t->b, t->map_len);
	gk_arena_unmap_huge(t->arena, t->arena_map);
	gk_arena_unmap_huge(t->filter, filter_bytes(t));
	free(t);
}

/* Filter bit of h: multiply-shift of h times an odd constant, whose high bits depend on
 * all of h, not mostly on the high bits that choose the bucket. */
static inline size_t filter_bit(const struct tbl *t, uint64_t h)
{
	uint64_t g = h * 0x9e3779b97f4a7c15ull;
	return (size_t)(((unsigned __int128)g * t->filter_bits) >> 64);
}

/* t may hold h: not empty, and h's filter bit is set. */
static inline bool filter_has(const struct tbl *t, uint64_t h)
{
	if (atomic_load_explicit(&t->count, memory_order_relaxed) == 0)
		return false; /* an overlay right after a load or a merge: no line touched */
	if (t->filter == NULL)
		return true;
	size_t i = filter_bit(t, h);
	return (atomic_load_explicit(&t->filter[i / 64], memory_order_relaxed) >> (i % 64)) & 1;
}

static inline const struct tbkt *tbl_home(const struct tbl *t, uint64_t h)
{
	return &t->b[bucket_of(h, t->nb)];
}

/* Reader-safe lookup from the key's home bucket bk (acquire on the fingerprint pairs with
 * the writer's release). */
static struct tslot *tbl_find_from(const struct tbl *t, const struct tbkt *bk, const uint8_t *name,
                                   size_t len, uint64_t h)
{
	uint16_t fp = fp_of(h);
	const struct tbkt *end = t->b + t->nb;
	for (;;) {
		for (unsigned j = 0; j < GK_TAB_WAYS; j++) {
			uint16_t g = atomic_load_explicit(&bk->fp[j], memory_order_acquire);
			if (g == 0)
				return NULL; /* filled in order: the key would be here */
			if (g != fp)
				continue;
			const uint8_t *e = t->arena + bk->e[j].off;
			if ((size_t)e[0] + 1 == len && memcmp(e + 1, name, len - 1) == 0)
				return (struct tslot *)&bk->e[j];
		}
		if (atomic_load_explicit(&bk->ovf, memory_order_acquire) == 0)
			return NULL;
		if (++bk == end)
			bk = t->b;
	}
}

static struct tslot *tbl_find(const struct tbl *t, const uint8_t *name, size_t len, uint64_t h)
{
	return tbl_find_from(t, tbl_home(t, h), name, len, h);
}

/* Writer: put an arena entry (already in t's arena at off) into a free slot. The caller
 * knows the key is absent and that t has a free slot. */
static void tbl_link(struct tbl *t, uint32_t off, uint64_t h, uint32_t v)
{
	struct tbkt *bk = &t->b[bucket_of(h, t->nb)];
	for (;;) {
		for (unsigned j = 0; j < GK_TAB_WAYS; j++) {
			if (atomic_load_explicit(&bk->fp[j], memory_order_relaxed) != 0)
				continue;
			bk->e[j].off = off;
			atomic_store_explicit(&bk->e[j].val, v, memory_order_relaxed);
			if (t->filter != NULL) {
				size_t fb = filter_bit(t, h);
				uint64_t w =
				    atomic_load_explicit(&t->filter[fb / 64], memory_order_relaxed);
				atomic_store_explicit(&t->filter[fb / 64], w | (1ull << (fb % 64)),
				                      memory_order_relaxed);
			}
			atomic_store_explicit(&bk->fp[j], fp_of(h), memory_order_release);
			atomic_store_explicit(
			    &t->count, atomic_load_explicit(&t->count, memory_order_relaxed) + 1,
			    memory_order_relaxed);
			return;
		}
		/* full: mark it before the key lands beyond it (release pairs with the
		 * reader's acquire, so a reader that finds the key later also sees the mark) */
		atomic_store_explicit(&bk->ovf, 1, memory_order_release);
		if (++bk == t->b + t->nb)
			bk = t->b;
	}
}

/* Slot i (0 <= i < cap) of t, and its fingerprint: for merges that walk every slot. */
static inline struct tslot *slot_at(const struct tbl *t, size_t i, uint16_t *fp)
{
	struct tbkt *bk = &t->b[i / GK_TAB_WAYS];
	*fp = atomic_load_explicit(&bk->fp[i % GK_TAB_WAYS], memory_order_relaxed);
	return &bk->e[i % GK_TAB_WAYS];
}

/* Writer: append a new key to t (arena and slot). GK_ENOSPC when the arena is full. */
static int tbl_insert(struct tbl *t, const uint8_t *name, size_t len, uint64_t h, uint32_t v)
{
	if (t->arena_used + len > t->arena_cap || t->arena_used + len > UINT32_MAX)
		return GK_ENOSPC;
	uint32_t off = (uint32_t)t->arena_used;
	t->arena[off] = (uint8_t)(len - 1);
	memcpy(t->arena + off + 1, name, len - 1);
	t->arena_used += len;
	tbl_link(t, off, h, v);
	return 0;
}

static size_t base_cap(size_t keys)
{
	return keys * BASE_LOAD_DEN / BASE_LOAD_NUM + 16;
}

static struct tbl *ov_new(size_t limit)
{
	/* sized for the limit: ~1 in 16 absent keys pass when it is half full (a merge
	 * starts), 1 in 9 when full */
	return tbl_new(limit * 2 + 16, limit * OV_ARENA_PER_KEY, limit);
}

static size_t ov_limit_for(size_t live)
{
	size_t l = live / 16;
	return l < OV_MIN_KEYS ? OV_MIN_KEYS : l;
}

static void retire(struct tab *tb, struct tbl *t, struct root *r)
{
	struct retired *x = malloc(sizeof(*x));
	if (x == NULL) {
		/* Leaking is the only safe choice: a reader may still hold it. */
		gk_log(GK_LOG_ERR, "status: out of memory retiring table memory (leaked)");
		return;
	}
	x->t = t;
	x->r = r;
	uv_mutex_lock(&tb->lock);
	x->next = tb->retired;
	tb->retired = x;
	tb->retired_n++;
	uv_mutex_unlock(&tb->lock);
	if (tb->on_retire != NULL)
		tb->on_retire(tb->on_retire_ctx);
}

_Atomic uint64_t gk_status_tab_gen = 1;

/* A change (a value, a key, a new root) is visible to readers before the generation that announces
 * it (release). */
static inline void gen_bump(void)
{
	atomic_fetch_add_explicit(&gk_status_tab_gen, 1, memory_order_release);
}

static int publish(struct tab *tb, struct tbl *ov, struct tbl *frozen, struct tbl *base)
{
	struct root *r = malloc(sizeof(*r));
	if (r == NULL)
		return GK_ENOMEM;
	r->ov = ov;
	r->frozen = frozen;
	r->base = base;
	struct root *old = atomic_exchange_explicit(&tb->root, r, memory_order_acq_rel);
	if (old != NULL)
		retire(tb, NULL, old);
	gen_bump();
	return 0;
}

int gk_status_tab_init(struct tab *tb)
{
	memset(tb, 0, sizeof(*tb));
	if (uv_mutex_init(&tb->lock) != 0)
		return GK_ENOMEM;
	tb->ov_limit = OV_MIN_KEYS;
	struct tbl *base = tbl_new(16, 0, 0), *ov = ov_new(tb->ov_limit);
	if (base == NULL || ov == NULL || publish(tb, ov, NULL, base) != 0) {
		tbl_free(base);
		tbl_free(ov);
		uv_mutex_destroy(&tb->lock);
		return GK_ENOMEM;
	}
	return 0;
}

static void free_retired_list(struct retired *x)
{
	while (x != NULL) {
		struct retired *n = x->next;
		tbl_free(x->t);
		free(x->r);
		free(x);
		x = n;
	}
}

void gk_status_tab_destroy(struct tab *tb)
{
	struct root *r = atomic_load(&tb->root);
	if (r != NULL) {
		tbl_free(r->ov);
		tbl_free(r->frozen);
		tbl_free(r->base);
		free(r);
	}
	if (tb->merging)
		tbl_free(tb->m.next);
	free_retired_list(tb->retired);
	uv_mutex_destroy(&tb->lock);
	memset(tb, 0, sizeof(*tb));
}

const struct tslot *gk_status_tab_get(const struct root *r, const uint8_t *name, size_t len,
                                      uint64_t h)
{
	/* start the base's bucket miss first, then test the filters (meant to be cached):
	 * a key present waits for the bucket it fetches anyway, an absent one mostly not */
	const struct tbkt *bb = tbl_home(r->base, h), *bo = NULL, *bf = NULL;
	__builtin_prefetch(bb);
	if (bb + 1 < r->base->b + r->base->nb)
		__builtin_prefetch(bb + 1); /* absent keys that pass the filter go on ~2 in 3 */
	if (filter_has(r->ov, h)) {
		bo = tbl_home(r->ov, h);
		__builtin_prefetch(bo);
	}
	if (r->frozen != NULL && filter_has(r->frozen, h)) {
		bf = tbl_home(r->frozen, h);
		__builtin_prefetch(bf);
	}
	const struct tslot *s = bo != NULL ? tbl_find_from(r->ov, bo, name, len, h) : NULL;
	if (s == NULL && bf != NULL)
		s = tbl_find_from(r->frozen, bf, name, len, h);
	if (s == NULL && filter_has(r->base, h))
		s = tbl_find_from(r->base, bb, name, len, h);
	return s;
}

size_t gk_status_tab_size(const struct tab *tb)
{
	return tb->live;
}

size_t gk_status_tab_bytes(const struct tab *tb)
{
	const struct root *r = atomic_load(&tb->root);
	size_t n = 0;
	const struct tbl *ts[3] = {r->ov, r->frozen, r->base};
	for (int i = 0; i < 3; i++)
		if (ts[i] != NULL)
			n += ts[i]->map_len + ts[i]->arena_used + filter_bytes(ts[i]);
	return n;
}

static int merge_start(struct tab *tb)
{
	struct root *r = atomic_load_explicit(&tb->root, memory_order_relaxed);
	size_t arena = r->base->arena_used + r->ov->arena_used + 1;
	struct tbl *next = tbl_new(base_cap(tb->live), arena, tb->live);
	size_t limit = ov_limit_for(tb->live);
	struct tbl *ov = ov_new(limit);
	if (next == NULL || ov == NULL || publish(tb, ov, r->ov, r->base) != 0) {
		tbl_free(next);
		tbl_free(ov);
		return GK_ENOMEM;
	}
	tb->ov_limit = limit;
	tb->merging = true;
	tb->m = (struct merge){.next = next, .phase = 0, .pos = 0};
	return 0;
}

/* Copy key i of src into next when live (and, from base, not shadowed by frozen). */
static void merge_copy(struct tbl *next, const struct tbl *src, size_t i, const struct tbl *shadow)
{
	uint16_t fp;
	const struct tslot *s = slot_at(src, i, &fp);
	if (fp == 0)
		return;
	uint32_t v = atomic_load_explicit(&s->val, memory_order_relaxed);
	if (v == 0)
		return;
	const uint8_t *e = src->arena + s->off;
	size_t len = (size_t)e[0] + 1;
	/* the entry is the name without its root label; hash the full wire name */
	uint8_t wire[GK_DNAME_MAX + 1];
	memcpy(wire, e + 1, len - 1);
	wire[len - 1] = 0;
	uint64_t h = gk_namehash(wire, len);
	if (shadow != NULL && filter_has(shadow, h) && tbl_find(shadow, wire, len, h) != NULL)
		return;
	uint32_t off = (uint32_t)next->arena_used;
	memcpy(next->arena + off, e, len);
	next->arena_used += len;
	tbl_link(next, off, h, v);
}

bool gk_status_tab_step(struct tab *tb)
{
	if (!tb->merging)
		return false;
	struct root *r = atomic_load_explicit(&tb->root, memory_order_relaxed);
	struct merge *m = &tb->m;
	size_t budget = GK_TAB_STEP;
	while (budget > 0 && m->phase < 2) {
		const struct tbl *src = m->phase == 0 ? r->frozen : r->base;
		size_t end = m->pos + budget < src->cap ? m->pos + budget : src->cap;
		for (size_t i = m->pos; i < end; i++)
			merge_copy(m->next, src, i, m->phase == 0 ? NULL : r->frozen);
		budget -= end - m->pos;
		m->pos = end;
		if (m->pos == src->cap) {
			m->phase++;
			m->pos = 0;
		}
	}
	if (m->phase < 2)
		return true;
	if (publish(tb, r->ov, NULL, m->next) != 0)
		return true; /* out of memory: try again next step */
	retire(tb, r->frozen, NULL);
	retire(tb, r->base, NULL);
	tb->merging = false;
	tb->m.next = NULL;
	return false;
}

static int tab_put(struct tab *tb, const uint8_t *name, size_t len, uint32_t v);

int gk_status_tab_set(struct tab *tb, const uint8_t *name, size_t len, uint32_t v)
{
	int rc = tab_put(tb, name, len, v);
	gen_bump();
	return rc;
}

static int tab_put(struct tab *tb, const uint8_t *name, size_t len, uint32_t v)
{
	if (len < 2 || len > GK_DNAME_MAX)
		return GK_EINVAL;
	uint64_t h = gk_namehash(name, len);
	struct root *r = atomic_load_explicit(&tb->root, memory_order_relaxed);
	struct tslot *s = tbl_find(r->ov, name, len, h);
	struct tslot *below = NULL;
	if (s == NULL) {
		if (r->frozen != NULL)
			below = tbl_find(r->frozen, name, len, h);
		if (below == NULL)
			below = tbl_find(r->base, name, len, h);
		if (below != NULL && !tb->merging) {
			s = below; /* no merge runs: update the base in place */
		}
	}
	uint32_t old = s != NULL       ? atomic_load_explicit(&s->val, memory_order_relaxed)
	               : below != NULL ? atomic_load_explicit(&below->val, memory_order_relaxed)
	                               : 0;
	if (s != NULL) {
		atomic_store_explicit(&s->val, v, memory_order_relaxed);
	} else if (v != 0 || below != NULL) {
		if (r->ov->count >= tb->ov_limit) {
			/* overlay full: finish a running merge now, then start one */
			while (gk_status_tab_step(tb))
				;
			int rc = merge_start(tb);
			if (rc != 0)
				return rc;
			return tab_put(tb, name, len, v);
		}
		int rc = tbl_insert(r->ov, name, len, h, v);
		if (rc == GK_ENOSPC) {
			while (gk_status_tab_step(tb))
				;
			if ((rc = merge_start(tb)) != 0)
				return rc;
			return tab_put(tb, name, len, v);
		}
		if (rc != 0)
			return rc;
		if (r->ov->count >= tb->ov_limit / 2 && !tb->merging) {
			int mrc = merge_start(tb);
			if (mrc != 0)
				gk_log(GK_LOG_WARN, "status: cannot start a merge: %s",
				       gk_strerror(mrc));
		}
	}
	tb->live += (v != 0) - (old != 0);
	return 0;
}

void gk_status_tab_install(struct tab *tb, struct build *b)
{
	struct root *r = atomic_load_explicit(&tb->root, memory_order_relaxed);
	size_t limit = ov_limit_for(b->live);
	struct tbl *ov = ov_new(limit);
	if (ov == NULL || publish(tb, ov, NULL, b->t) != 0) {
		tbl_free(ov);
		gk_log(GK_LOG_ERR, "status: out of memory installing a loaded table");
		return;
	}
	retire(tb, r->ov, NULL);
	retire(tb, r->frozen, NULL);
	retire(tb, r->base, NULL);
	if (tb->merging) {
		tbl_free(tb->m.next); /* never published */
		tb->merging = false;
	}
	tb->ov_limit = limit;
	tb->live = b->live;
	b->t = NULL;
}

/* --- staging and build ------------------------------------------------------------- */

int gk_status_stage_add(struct stage *s, const uint8_t *name, size_t len, uint32_t v)
{
	if (len < 2 || len > GK_DNAME_MAX)
		return GK_EINVAL;
	if (s->used + len > UINT32_MAX)
		return GK_ENOSPC;
	size_t ecap = s->ncap * sizeof(uint64_t);
	if (grow_map(&s->arena, &s->cap, s->used + len) != 0 ||
	    grow_map((uint8_t **)&s->ents, &ecap, (s->n + 1) * sizeof(uint64_t)) != 0)
		return GK_ENOMEM;
	s->ncap = ecap / sizeof(uint64_t);
	s->arena[s->used] = (uint8_t)(len - 1);
	memcpy(s->arena + s->used + 1, name, len - 1);
	s->ents[s->n++] = ((uint64_t)s->used << 32) | v;
	s->used += len;
	return 0;
}

void gk_status_stage_free(struct stage *s)
{
	gk_arena_unmap_huge(s->arena, s->cap);
	gk_arena_unmap_huge(s->ents, s->ncap * sizeof(uint64_t));
	memset(s, 0, sizeof(*s));
}

int gk_status_build_begin(struct build *b)
{
	b->t = tbl_new(base_cap(b->stage.n), 0, b->stage.n);
	if (b->t == NULL)
		return GK_ENOMEM;
	/* The staged arena becomes the base's arena: shrink it to what is used. */
	if (b->stage.arena != NULL && b->stage.cap > b->stage.used + 4096) {
		size_t keep = (b->stage.used + 4095) & ~(size_t)4095;
		void *p = mremap(b->stage.arena, b->stage.cap, keep, 0);
		if (p != MAP_FAILED)
			b->stage.cap = keep;
	}
	b->t->arena = b->stage.arena;
	b->t->arena_cap = b->t->arena_map = b->stage.cap;
	b->t->arena_used = b->stage.used;
	b->stage.arena = NULL;
	b->stage.cap = b->stage.used = 0;
	b->pos = 0;
	b->live = 0;
	return 0;
}

bool gk_status_build_step(struct build *b)
{
	size_t end = b->pos + GK_TAB_STEP < b->stage.n ? b->pos + GK_TAB_STEP : b->stage.n;
	uint8_t wire[GK_DNAME_MAX + 1];
	for (size_t i = b->pos; i < end; i++) {
		uint32_t off = (uint32_t)(b->stage.ents[i] >> 32);
		uint32_t v = (uint32_t)b->stage.ents[i];
		const uint8_t *e = b->t->arena + off;
		size_t len = (size_t)e[0] + 1;
		memcpy(wire, e + 1, len - 1);
		wire[len - 1] = 0;
		uint64_t h = gk_namehash(wire, len);
		/* the filter rules out almost every key as a duplicate without a bucket miss */
		struct tslot *s = filter_has(b->t, h) ? tbl_find(b->t, wire, len, h) : NULL;
		if (s != NULL) { /* the same domain twice in the load: the later wins */
			b->live -= atomic_load_explicit(&s->val, memory_order_relaxed) != 0;
			atomic_store_explicit(&s->val, v, memory_order_relaxed);
		} else {
			tbl_link(b->t, off, h, v);
		}
		b->live += v != 0;
	}
	b->pos = end;
	if (b->pos < b->stage.n)
		return true;
	gk_status_stage_free(&b->stage);
	return false;
}

void gk_status_build_free(struct build *b)
{
	gk_status_stage_free(&b->stage);
	tbl_free(b->t);
	b->t = NULL;
}

/* --- retired memory ---------------------------------------------------------------- */

struct gk_status_retired {
	struct retired *list;
};

gk_status_retired_t *gk_status_tab_retired_take(struct tab *tb)
{
	uv_mutex_lock(&tb->lock);
	struct retired *x = tb->retired;
	tb->retired = NULL;
	tb->retired_n = 0;
	uv_mutex_unlock(&tb->lock);
	if (x == NULL)
		return NULL;
	gk_status_retired_t *r = malloc(sizeof(*r));
	if (r == NULL) {
		/* put it back; try again later */
		uv_mutex_lock(&tb->lock);
		struct retired *tail = x;
		while (tail->next != NULL)
			tail = tail->next;
		tail->next = tb->retired;
		tb->retired = x;
		uv_mutex_unlock(&tb->lock);
		return NULL;
	}
	r->list = x;
	return r;
}

void gk_status_retired_free(gk_status_retired_t *r)
{
	if (r == NULL)
		return;
	free_retired_list(r->list);
	free(r);
}
