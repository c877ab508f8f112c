/* SPDX-License-Identifier: MIT */
/* src/zone/internal.h -- zone versions and the store's index, shared inside src/zone only.
 *
 * A zone version (gk_zver_t) is one zone compiled alone: its own arena, its own table of
 * names (lowercase uncompressed wire names) and templates built from its own data only.
 * It is immutable once published in the store (store.c), except for nothing: what queries
 * write about a zone (the filing-status memo) lives in a cell the store owns, which the
 * version only points at. Where served zones nest, a name belongs to the deepest zone that
 * contains it; what crosses zones (a CNAME chain into another served zone, DS at a child
 * apex whose parent is served) is found through the store at query time.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include "common/arena.h"
#include "common/dname.h"
#include "common/namehash.h"
#include "common/dns.h"
#include "zone/zone.h"

/* One resource record: rdata in wire form, embedded names uncompressed and lowercase. */
typedef struct gk_rr {
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
} gk_rr_t;

typedef struct gk_rrset {
	uint16_t type;
	uint16_t count;
	/* In a signed zone, the RRSIGs covering it at the same owner are the RRset sig entries
	 * further in the same array (dnssec.c puts them after the node's RRsets, where
	 * gk_zone_node_rrset does not look); 0: none. An offset in the padding, not a pointer: an
	 * unsigned zone's RRsets are 16 bytes. */
	uint32_t sig;
	gk_rr_t *rrs;
} gk_rrset_t;

_Static_assert(sizeof(gk_rrset_t) == 16, "an RRset is 16 bytes");

/* The RRSIGs covering s (gk_rrset_t.sig), or NULL. */
static inline const gk_rrset_t *gk_zone_rrset_sigs(const gk_rrset_t *s)
{
	return s->sig ? s + s->sig : NULL;
}

/* Sections, as recorded in RRset boundaries of an answer. */
enum { GK_SEC_ANSWER = 0, GK_SEC_AUTHORITY = 1, GK_SEC_ADDITIONAL = 2 };

/* End of one RRset inside an answer body: truncation cuts only at these points. An RRset
 * that is `required` must be present, or the response is sent with TC. */
typedef struct gk_bound {
	uint16_t end;
	uint16_t rrs; /* records in this RRset */
	uint8_t section;
	uint8_t required;
} gk_bound_t;

#define GK_TMPL_AA          0x01 /* authoritative answer */
#define GK_TMPL_SHIFT_WHOLE 0x02 /* the template's qname is a suffix of the real qname */
#define GK_TMPL_FIXED       0x04 /* too many pointers to relocate: valid for its own qname only */
#define GK_TMPL_RECHECK     0x08 /* regs[] incomplete: with a filing check, build at query time */
#define GK_TMPL_SLOT        0x10 /* a gk_dnssec_slot_t: a proof per query goes in (dnssec.h) */

/* A compiled answer: everything after the question, for one (name, qtype) outcome.
 * The body was built with a question name of qname_len octets at offset 12; at query time
 * a pointer target t > 12 (or t == 12 with GK_TMPL_SHIFT_WHOLE) moves by the difference
 * between the real qname length and qname_len. fix[] lists the pointer positions. */
/* A registrable domain other than the query's whose records a template carries: the
 * filing check must pass for it too, or the answer is rebuilt without them. */
typedef struct gk_regref {
	const uint8_t *name; /* lowercase wire name; NULL (len 0): a name without one */
	uint8_t len;
	uint64_t hash; /* gk_namehash(name, len) */
} gk_regref_t;

typedef struct gk_tmpl {
	uint16_t qtype; /* key in a node's template list */
	uint8_t nregs;  /* entries in regs */
	uint8_t rcode;
	uint8_t flags;
	uint8_t qname_len;
	uint8_t nhops; /* names a CNAME chain reached after the first (see hops) */
	uint16_t an, ns, ar;
	uint16_t len;
	uint16_t nfix, nbound;
	/* The DO=1 answer of a signed zone (RRSIGs and proofs): entry sig - 1 of the zone's
	 * gk_dnssec_t.sigt (dnssec.h, gk_zone_dnssec_tmpl_sig); 0: built at query time. An index in
	 * the header's padding, not a pointer: unsigned zones pay nothing for it. */
	uint32_t sig;
	/* One allocation: nbound gk_bound_t, nfix pointer positions, len octets of body
	 * (gk_zone_tmpl_bound, gk_zone_tmpl_fix, gk_zone_tmpl_body), then, at the next multiple of
	 * 8, nregs registrable domains other than the query's whose records the template carries
	 * and nhops later names of its CNAME chain (hash unused): at query time each must still
	 * belong to the zone the template was compiled in (inside its apex: no deeper served
	 * zone holds it; outside: no served zone holds it), or the answer is built at query
	 * time (gk_zone_tmpl_regs, gk_zone_tmpl_hops). One pointer instead of four: what a query
	 * reads first stays at the blob's start, and the header is 32 bytes. */
	const uint8_t *blob;
} gk_tmpl_t;

_Static_assert(sizeof(gk_tmpl_t) == 32, "a template header is 32 bytes (DNSSEC's in dnssec.h)");

static inline const gk_bound_t *gk_zone_tmpl_bound(const gk_tmpl_t *t)
{
	return (const gk_bound_t *)(const void *)t->blob;
}

static inline const uint16_t *gk_zone_tmpl_fix(const gk_tmpl_t *t)
{
	return (const uint16_t *)(const void *)(t->blob + t->nbound * sizeof(gk_bound_t));
}

static inline const uint8_t *gk_zone_tmpl_body(const gk_tmpl_t *t)
{
	return t->blob + t->nbound * sizeof(gk_bound_t) + t->nfix * sizeof(uint16_t);
}

/* Offset of the references in a blob of nbound bounds, nfix positions and len octets. */
static inline size_t gk_zone_tmpl_refs_off(size_t nbound, size_t nfix, size_t len)
{
	return (nbound * sizeof(gk_bound_t) + nfix * sizeof(uint16_t) + len + 7u) & ~(size_t)7u;
}

static inline const gk_regref_t *gk_zone_tmpl_regs(const gk_tmpl_t *t)
{
	return (const gk_regref_t *)(const void *)(t->blob + gk_zone_tmpl_refs_off(
	                                                         t->nbound, t->nfix, t->len));
}

static inline const gk_regref_t *gk_zone_tmpl_hops(const gk_tmpl_t *t)
{
	return gk_zone_tmpl_regs(t) + t->nregs;
}

struct gk_zone;

#define GK_NODE_APEX    0x01
#define GK_NODE_DELEG   0x02 /* NS at a non-apex name: a zone cut */
#define GK_NODE_CNAME   0x04
#define GK_NODE_DNAME   0x08
#define GK_NODE_WILD    0x10 /* first label is "*" */
#define GK_NODE_N3EXACT 0x20 /* deny is the NSEC3 matching the name, not one covering it */
#define GK_REG_NONE     0xff /* reg_off of a name without a registrable domain */
#define GK_REG_UNKNOWN  0xfe /* reg_off when the set was built without a PSL */

/* A name. The fields a query reads (name to tkey) fill the first cache line, and nodes
 * are allocated 64-byte aligned (zone.c), so finding a name and its template costs one
 * line of the node; the rest (build-time links, RRsets for queries built at run time) is
 * in the second. */
#define GK_NODE_TKEYS 4
typedef struct gk_node {
	const uint8_t *name;
	uint8_t len;
	uint8_t labels;
	uint16_t flags;
	uint16_t ntmpl;
	uint8_t reg_off; /* registrable domain: name + reg_off; GK_REG_NONE if a public suffix */
	struct gk_zone *zone;
	struct gk_node *cut;          /* highest zone cut at or above this node, or NULL */
	struct gk_node *dname;        /* nearest strict ancestor holding a DNAME, or NULL */
	gk_tmpl_t *tmpls;             /* one per qtype with an answer of its own */
	const gk_tmpl_t *other;       /* any qtype not in tmpls (NODATA, referral, CNAME chain) */
	uint16_t tkey[GK_NODE_TKEYS]; /* qtype of tmpls[0..min(ntmpl, GK_NODE_TKEYS)) */
	struct gk_node *wild;         /* child "*" node, if any */
	struct gk_node *parent;       /* NULL at the apex */
	gk_rrset_t *rrsets;           /* in first-seen order */
	uint16_t nrrsets;
	/* The node's number in its version (0 .. nnodes-1): what a signed zone's side
	 * structure indexes its per-name data by (dnssec.h: gk_zone_node_deny, gk_zone_node_wdeny).
	 */
	uint32_t idx;
} gk_node_t;

_Static_assert(sizeof(gk_node_t) == 96, "a node is 96 bytes: one line a query reads, half "
                                        "a line for the rest");

/* A served zone (inside its version). What a query reads of it (the memo cell, the
 * registrable domain, the negative answers, whether it is signed) is in one cache line:
 * the version's second (gk_zver_t.zone). */
typedef struct gk_zone {
	/* The filing status of that registrable domain as last read, with the status table's
	 * generation (gk_status_get_memo): a cell owned by the store, kept across versions of
	 * the zone -- the one word queries write. NULL until the version is published. */
	_Atomic uint64_t *memo;
	/* Every name in the zone has the registrable domain formed by the last reg_len octets
	 * of the name (reg_hash is its hash) -- the zone is at or below a registrable domain
	 * and nothing in it is a public suffix. reg_len 0: ask the PSL per name. */
	uint64_t reg_hash;
	uint8_t reg_len;
	uint32_t neg_ttl; /* min(SOA TTL, SOA MINIMUM), RFC 2308 */
	const gk_tmpl_t *nxdomain;
	const gk_tmpl_t *nodata; /* NODATA for the apex name, relocatable to any name */
	gk_node_t *apex;
	const struct gk_dnssec *sec; /* NULL: the zone is not signed (dnssec.h) */
	/* the next line: read when an answer is built at query time */
	const gk_rrset_t *soa;
	const gk_rrset_t *ns;
} gk_zone_t;

/* A slot of the zone set's name table: the node's full name hash beside the pointer, so a
 * probe that meets another name never loads that node (one cache miss per probe, not two). */
typedef struct gk_zslot {
	uint64_t hash;
	gk_node_t *node; /* NULL: empty */
} gk_zslot_t;

/* A file a version was read from besides its zone file (an $INCLUDE), as it was when read:
 * a reload rebuilds the zone when any of them differs. The zone file itself has no record:
 * its path is the spec's, and the version keeps one number for both (gk_zver_t.file_stamp,
 * gk_zone_file_stamp). */
typedef struct gk_zfile {
	const char *path; /* the $INCLUDE's (arena string) */
	uint64_t dev, ino;
	int64_t size;
	uint64_t mtime_ns; /* gk_zone_file_mtime of the modification time (40 bytes a record) */
} gk_zfile_t;

_Static_assert(sizeof(gk_zfile_t) == 40, "a file record is 40 bytes");

/* A modification time as one number: nanoseconds, wrapping past 2262 (compared only). */
static inline uint64_t gk_zone_file_mtime(int64_t sec, int64_t nsec)
{
	return (uint64_t)sec * 1000000000u + (uint64_t)nsec;
}

/* The zone file as a version keeps it (gk_zver_t.file_stamp): its path and what stat()
 * said of it (device, inode, size, modification time) hashed into 64 bits, never 0. Two
 * different states give the same number with a chance of about 2^-64 (the zone would then
 * not be rebuilt on a reload), where a 40-byte record cost every zone 40 bytes. */
static inline uint64_t gk_zone_file_stamp(const char *path, uint64_t dev, uint64_t ino,
                                          int64_t size, uint64_t mtime_ns)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a over the path */
	for (const unsigned char *p = (const unsigned char *)path; *p; p++)
		h = (h ^ *p) * 1099511628211ull;
	const uint64_t f[4] = {dev, ino, (uint64_t)size, mtime_ns};
	for (int i = 0; i < 4; i++) { /* each field through a full 64-bit mix (splitmix64) */
		h ^= f[i] + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
		h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ull;
		h = (h ^ (h >> 27)) * 0x94d049bb133111ebull;
		h ^= h >> 31;
	}
	return h ? h : 1;
}

#define GK_ZVER_INLINE 46 /* apex names up to this long are compared in the first line */
/* A longer apex: its pointer sits in apex_short at this offset (8-aligned in the version). */
#define GK_ZVER_LONG_AT 6

/* One zone version. The first cache line is what a query reads to find the zone and then
 * the name; versions are 64-byte aligned. Three lines (192 bytes): the third holds what the
 * writer, the loader and the status read; the configured spelling of the name is not kept
 * (gk_zone_ver_name writes the apex), the PSL is the builder's argument, not a field. */
struct gk_zver {
	_Alignas(64) gk_zslot_t *table; /* open addressing by hash & mask, load <= 3/4 */
	uint32_t mask;
	uint32_t nnodes;
	uint8_t apex_len, apex_labels;
	/* the apex name when apex_len <= GK_ZVER_INLINE; else a pointer to it at
	 * GK_ZVER_LONG_AT (gk_zone_ver_apex) */
	uint8_t apex_short[GK_ZVER_INLINE];
	gk_zone_t zone; /* the second line (offsetof asserted below) */
	/* A real version's arena, or NULL for a placeholder of its own allocation; a
	 * placeholder made with others in one block (in_block, gk_zone_ver_placeholders): the
	 * block, freed with its last placeholder. */
	union {
		gk_arena_t *arena;
		struct gk_zver_block *block;
	};
	gk_zfile_t *files;   /* the $INCLUDEs read (nfiles of them) */
	uint64_t file_stamp; /* gk_zone_file_stamp of the zone file (spec->file) as read; 0: none */
	uint32_t nrr;
	uint32_t mark; /* the gk_zone_store_sync pass that last saw the zone (writer only) */
	uint32_t nfiles;
	bool owns_memo; /* set by the store when it retires the zone's last version */
	bool secondary; /* spec->secondary: not gk_zone_store_sync's to remove */
	bool in_block;  /* a placeholder of gk_zone_ver_placeholders' block (block, not arena) */
};

_Static_assert(offsetof(gk_zver_t, zone) == 64, "a version's zone is its second line");
_Static_assert(offsetof(gk_zver_t, apex_short) + GK_ZVER_LONG_AT == 24,
               "a long apex's pointer is 8-aligned in apex_short");
_Static_assert(sizeof(gk_zver_t) == 192, "a version is three lines");

/* Where the resolver looks names up: the store (query time), or one version alone
 * (compile time: zs NULL, only set). */
typedef struct gk_zscope {
	const gk_zoneset_t *zs;
	const gk_zver_t *only;
} gk_zscope_t;

/* Deepest zone containing the name (len octets, hash its gk_namehash; loff/labels its
 * label offsets, or NULL to count them here), or NULL. Store: any thread, lock-free; the
 * version stays valid until the caller's next quiescent point. */
const gk_zver_t *gk_zone_store_zone_of(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                                       uint64_t hash, const uint8_t *loff, unsigned labels);

/* The same with st[0..labels] the name's gk_namehash_states (loff and labels required). */
const gk_zver_t *gk_zone_store_zone_of_st(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                                          const uint8_t *loff, unsigned labels, const uint64_t *st);

/* gk_zone_store_get with the apex's hash already known. */
const gk_zver_t *gk_zone_store_get_h(const gk_zoneset_t *zs, const uint8_t *apex, size_t len,
                                     uint64_t hash);

/* a[0..len) == b[0..len), eight octets at a time with an overlapping tail (names are short:
 * cheaper than a call to memcmp). */
static inline bool gk_zone_name_eq(const uint8_t *a, const uint8_t *b, size_t len)
{
	if (len >= 8) {
		for (size_t i = 0; i + 8 < len; i += 8)
			if (gk_dname_load64(a + i) != gk_dname_load64(b + i))
				return false;
		return gk_dname_load64(a + len - 8) == gk_dname_load64(b + len - 8);
	}
	if (len >= 4)
		return gk_dname_load32(a) == gk_dname_load32(b) &&
		       gk_dname_load32(a + len - 4) == gk_dname_load32(b + len - 4);
	for (size_t i = 0; i < len; i++)
		if (a[i] != b[i])
			return false;
	return true;
}
const gk_zver_t *gk_zone_scope_zone(const gk_zscope_t *sc, const uint8_t *name, size_t len);

/* Node for an exact lowercase wire name in one version, or NULL. Any thread. */
static inline const gk_node_t *gk_zone_ver_find(const gk_zver_t *v, const uint8_t *name, size_t len,
                                                uint64_t hash)
{
	size_t i = hash & v->mask;
	for (;;) {
		const gk_zslot_t *s = &v->table[i];
		if (!s->node)
			return NULL;
		if (s->hash == hash && s->node->len == len &&
		    gk_zone_name_eq(s->node->name, name, len))
			return s->node;
		i = (i + 1) & v->mask;
	}
}

/* The apex name of a version. */
static inline const uint8_t *gk_zone_ver_apex(const gk_zver_t *v)
{
	if (v->apex_len <= GK_ZVER_INLINE)
		return v->apex_short;
	const uint8_t *p;
	memcpy(&p, v->apex_short + GK_ZVER_LONG_AT, sizeof(p));
	return p;
}

/* A placeholder (gk_zone_ver_placeholder): no names, answered SERVFAIL. Real versions have a
 * table of at least 8 slots. */
static inline bool gk_zone_ver_placeholder_p(const gk_zver_t *v)
{
	return v->mask == 0;
}

/* A zone's memo cell (gk_zone_t.memo), 0 (nothing known), or NULL (no memory): 8 bytes
 * from a shared pool instead of a 32-byte malloc chunk; freed with gk_zone_ver_memo_free (a
 * version that owns_memo does it). Any thread. */
_Atomic uint64_t *gk_zone_ver_memo_new(void);
void gk_zone_ver_memo_free(_Atomic uint64_t *cell);
/* Cells in use and bytes the pool holds (its blocks). */
void gk_zone_ver_memo_stats(size_t *live, size_t *bytes);

/* gk_zone_ver_name of the apex name apex (a lowercase wire name). */
char *gk_zone_ver_name_of(const uint8_t *apex, char *buf, size_t cap);

/* RRset of a type at a node, or NULL. */
const gk_rrset_t *gk_zone_node_rrset(const gk_node_t *n, uint16_t type);

/* Template for qtype at a node: the exact entry, else n->other; NULL for ANY (built at query
 * time: compile.c). */
const gk_tmpl_t *gk_zone_node_tmpl(const gk_node_t *n, uint16_t qtype);

/* Compile every template of a built version (compile.c); psl (may be NULL) as in
 * gk_zone_ver_build. */
int gk_zone_ver_compile(gk_zver_t *v, const struct gk_psl *psl);
