/* SPDX-License-Identifier: MIT */
/* src/zone/zver.c -- a zone version once built: read-only accessors, placeholders, free.
 *
 * The bottom of the zone folder's call graph: nothing here calls another file of src/zone,
 * so the builder (build.c, compile.c), the resolver (resolve.c), the store (store.c) and
 * the packet path's side (answer.c) all stand on it without calling each other in a
 * circle. A placeholder is a version without data (gk_zone_ver_placeholder): its own small
 * allocation (or a share of one block: gk_zone_ver_placeholders), an empty name table, no
 * templates; the packet path answers SERVFAIL for it.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <ldns/ldns.h>
#include "gk/errors.h"
#include "zone/internal.h"

/* The name table of every placeholder: one empty slot (mask 0), so a lookup ends at once. */
static gk_zslot_t no_names[1];

const gk_rrset_t *gk_zone_node_rrset(const gk_node_t *n, uint16_t type)
{
	for (unsigned i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

const gk_tmpl_t *gk_zone_node_tmpl(const gk_node_t *n, uint16_t qtype)
{
	unsigned i = 0, k = n->ntmpl < GK_NODE_TKEYS ? n->ntmpl : GK_NODE_TKEYS;
	for (; i < k; i++) /* in the node's first line */
		if (n->tkey[i] == qtype)
			return &n->tmpls[i];
	for (; i < n->ntmpl; i++)
		if (n->tmpls[i].qtype == qtype)
			return &n->tmpls[i];
	/* ANY has no template (compile.c): built at query time */
	return qtype == GK_TYPE_ANY ? NULL : n->other;
}

struct gk_zver_block {
	_Atomic size_t live; /* placeholders not freed yet */
};

/* Memo cells: a malloc of 8 bytes takes a 32-byte chunk; cells are carved from blocks
 * instead and a freed one is kept for the next zone (the free list runs through the cells).
 * Blocks are never handed back: cells are freed only with a zone, whose next add takes it
 * again. The writer allocates, whichever thread frees a retired version frees: a spin lock
 * around a few instructions. */
#define MEMO_BLOCK 4096
typedef _Atomic uint64_t memo_t;
static struct {
	atomic_flag lock;
	memo_t *free;  /* a freed cell: it holds the next one's address (or 0) */
	memo_t *block; /* the block being carved; its first cell links the one before */
	size_t used;   /* cells of block handed out */
	size_t nblocks, live;
} memo = {.lock = ATOMIC_FLAG_INIT, .used = MEMO_BLOCK};

static void memo_lock(void)
{
	while (atomic_flag_test_and_set_explicit(&memo.lock, memory_order_acquire))
		;
}

static void memo_unlock(void)
{
	atomic_flag_clear_explicit(&memo.lock, memory_order_release);
}

_Atomic uint64_t *gk_zone_ver_memo_new(void)
{
	memo_t *c = NULL;
	memo_lock();
	if (memo.free) {
		c = memo.free;
		memo.free = (memo_t *)(uintptr_t)atomic_load_explicit(c, memory_order_relaxed);
	} else {
		if (memo.used == MEMO_BLOCK) {
			memo_t *b = malloc(MEMO_BLOCK * sizeof(*b));
			if (b) {
				/* blocks chained through their first cells: reachable for a leak
				 * checker */
				atomic_init(&b[0], (uint64_t)(uintptr_t)memo.block);
				memo.block = b;
				memo.used = 1;
				memo.nblocks++;
			}
		}
		if (memo.used < MEMO_BLOCK)
			c = memo.block + memo.used++;
	}
	if (c) {
		memo.live++;
		atomic_store_explicit(c, 0, memory_order_relaxed); /* nothing known */
	}
	memo_unlock();
	return c;
}

void gk_zone_ver_memo_free(_Atomic uint64_t *c)
{
	if (!c)
		return;
	memo_lock();
	atomic_store_explicit(c, (uint64_t)(uintptr_t)memo.free, memory_order_relaxed);
	memo.free = c;
	memo.live--;
	memo_unlock();
}

void gk_zone_ver_memo_stats(size_t *live, size_t *bytes)
{
	memo_lock();
	*live = memo.live;
	*bytes = memo.nblocks * MEMO_BLOCK * sizeof(memo_t);
	memo_unlock();
}

void gk_zone_ver_free(gk_zver_t *v)
{
	if (!v)
		return;
	if (v->owns_memo)
		gk_zone_ver_memo_free(v->zone.memo);
	if (v->in_block) { /* a placeholder of a block: the block goes with the last of them */
		if (atomic_fetch_sub_explicit(&v->block->live, 1, memory_order_acq_rel) == 1)
			free(v->block);
	} else if (!v->arena) {
		free(v); /* a placeholder: one allocation */
	} else {
		gk_arena_free(v->arena); /* v itself lives in it */
	}
}

const uint8_t *gk_zone_ver_apex_wire(const gk_zver_t *v, size_t *len)
{
	*len = v->apex_len;
	return gk_zone_ver_apex(v);
}

size_t gk_zone_ver_rr_count(const gk_zver_t *v)
{
	return v->nrr;
}

uint32_t gk_zone_ver_serial(const gk_zver_t *v)
{
	const gk_rrset_t *soa = v->zone.soa; /* NULL in a placeholder */
	if (soa == NULL || soa->count == 0)
		return 0;
	const uint8_t *p = soa->rrs[0].rdata, *end = p + soa->rrs[0].rdlen;
	for (int i = 0; i < 2 && p < end; i++) /* MNAME, RNAME: uncompressed */
		p += gk_dname_len(p);
	if (end - p < 4)
		return 0;
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

bool gk_zone_ver_files_current(const gk_zver_t *v, const char *file)
{
	struct stat st;
	if (!v->file_stamp || !file || stat(file, &st) != 0 ||
	    gk_zone_file_stamp(file, (uint64_t)st.st_dev, (uint64_t)st.st_ino, (int64_t)st.st_size,
	                       gk_zone_file_mtime((int64_t)st.st_mtim.tv_sec,
	                                          (int64_t)st.st_mtim.tv_nsec)) != v->file_stamp)
		return false;
	for (size_t i = 0; i < v->nfiles; i++) {
		const gk_zfile_t *f = &v->files[i];
		if (stat(f->path, &st) != 0 || (uint64_t)st.st_dev != f->dev ||
		    (uint64_t)st.st_ino != f->ino || (int64_t)st.st_size != f->size ||
		    gk_zone_file_mtime((int64_t)st.st_mtim.tv_sec, (int64_t)st.st_mtim.tv_nsec) !=
		        f->mtime_ns)
			return false;
	}
	return true;
}

bool gk_zone_ver_is_placeholder(const gk_zver_t *v)
{
	return gk_zone_ver_placeholder_p(v);
}

bool gk_zone_ver_is_secondary(const gk_zver_t *v)
{
	return v->secondary;
}

/* The bytes a placeholder of the zone name (presentation form) needs at most: the version
 * and the apex when too long to sit inline; a multiple of the alignment. */
static size_t placeholder_size(const char *name)
{
	size_t wire = strlen(name) + 2; /* a wire name is at most one longer than the text */
	size_t size = sizeof(gk_zver_t) + (wire > GK_ZVER_INLINE ? wire : 0);
	return (size + _Alignof(gk_zver_t) - 1) & ~(_Alignof(gk_zver_t) - 1);
}

/* Fill the placeholder v (placeholder_size(spec->name) bytes). */
static int placeholder_fill(const gk_zone_spec_t *spec, gk_zver_t *v)
{
	const char *name = spec->name;
	ldns_rdf *d = NULL;
	if (!name || ldns_str2rdf_dname(&d, name) != LDNS_STATUS_OK)
		return GK_EINVAL;
	ldns_dname2canonical(d);
	size_t len = ldns_rdf_size(d);
	memset(v, 0, sizeof(*v));
	/* the version, then the apex when too long to sit inline */
	uint8_t *extra = (uint8_t *)v + sizeof(gk_zver_t);
	const uint8_t *apex = ldns_rdf_data(d);
	v->table = no_names;
	v->mask = 0; /* gk_zone_ver_placeholder_p */
	v->secondary = spec->secondary;
	v->apex_len = (uint8_t)len;
	v->apex_labels = (uint8_t)gk_dname_labels(apex);
	if (len <= GK_ZVER_INLINE) {
		memcpy(v->apex_short, apex, len);
	} else {
		memcpy(extra, apex, len);
		memcpy(v->apex_short + GK_ZVER_LONG_AT, &extra, sizeof(extra));
	}
	ldns_rdf_deep_free(d);
	return 0;
}

int gk_zone_ver_placeholder(const gk_zone_spec_t *spec, gk_zver_t **out)
{
	if (!spec->name)
		return GK_EINVAL;
	gk_zver_t *v = aligned_alloc(_Alignof(gk_zver_t), placeholder_size(spec->name));
	if (!v)
		return GK_ENOMEM;
	int rc = placeholder_fill(spec, v);
	if (rc < 0) {
		free(v);
		return rc;
	}
	*out = v;
	return 0;
}

int gk_zone_ver_placeholders(const gk_zone_spec_t *specs, size_t n, gk_zver_t **out, size_t *bad)
{
	if (n == 0)
		return 0;
	size_t head =
	    (sizeof(struct gk_zver_block) + _Alignof(gk_zver_t) - 1) & ~(_Alignof(gk_zver_t) - 1);
	size_t total = head;
	for (size_t i = 0; i < n; i++) {
		if (!specs[i].name) {
			*bad = i;
			return GK_EINVAL;
		}
		total += placeholder_size(specs[i].name);
	}
	struct gk_zver_block *b = aligned_alloc(_Alignof(gk_zver_t), total);
	if (!b)
		return GK_ENOMEM;
	atomic_init(&b->live, n);
	uint8_t *p = (uint8_t *)b + head;
	for (size_t i = 0; i < n; i++) {
		gk_zver_t *v = (gk_zver_t *)(void *)p;
		if (placeholder_fill(&specs[i], v) < 0) {
			free(b);
			*bad = i;
			return GK_EINVAL;
		}
		v->block = b;
		v->in_block = true;
		out[i] = v;
		p += placeholder_size(specs[i].name);
	}
	return 0;
}

char *gk_zone_ver_name_of(const uint8_t *apex, char *buf, size_t cap)
{
	gk_dname_to_str(apex, buf, cap);
	size_t l = strlen(buf);
	if (l > 1 && buf[l - 1] == '.')
		buf[l - 1] = 0; /* "." stays: the root */
	return buf;
}

const char *gk_zone_ver_name(const gk_zver_t *v, char *buf, size_t cap)
{
	return gk_zone_ver_name_of(gk_zone_ver_apex(v), buf, cap);
}
