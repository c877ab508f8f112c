/* SPDX-License-Identifier: MIT */
/* src/zone/internal.h -- the compiled zone set, shared by src/zone and the packet path.
 *
 * Everything here is immutable once gk_zoneset_build() returns and lives in the set's arena.
 * All names are lowercase uncompressed wire names. One hash table maps every name of every
 * zone to its node; where zones nest, a name belongs to the deepest zone that contains it
 * (the parent's node at a cut we also serve as a child survives only as the child apex's
 * parent_side, to answer DS from the parent).
 */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "common/arena.h"
#include "common/dname.h"
#include "zone/zone.h"

#define GK_TYPE_A     1
#define GK_TYPE_NS    2
#define GK_TYPE_CNAME 5
#define GK_TYPE_SOA   6
#define GK_TYPE_PTR   12
#define GK_TYPE_MX    15
#define GK_TYPE_TXT   16
#define GK_TYPE_AAAA  28
#define GK_TYPE_SRV   33
#define GK_TYPE_DNAME 39
#define GK_TYPE_OPT   41
#define GK_TYPE_DS    43
#define GK_TYPE_RRSIG 46
#define GK_TYPE_NSEC  47
#define GK_TYPE_IXFR  251
#define GK_TYPE_AXFR  252
#define GK_TYPE_ANY   255
#define GK_CLASS_IN   1
#define GK_CLASS_ANY  255

#define GK_RCODE_NOERROR  0
#define GK_RCODE_FORMERR  1
#define GK_RCODE_SERVFAIL 2
#define GK_RCODE_NXDOMAIN 3
#define GK_RCODE_NOTIMP   4
#define GK_RCODE_REFUSED  5
#define GK_RCODE_YXDOMAIN 6
#define GK_RCODE_BADVERS  16

/* One resource record: rdata in wire form, embedded names uncompressed and lowercase. */
typedef struct gk_rr {
	uint32_t ttl;
	uint16_t rdlen;
	const uint8_t *rdata;
} gk_rr_t;

typedef struct gk_rrset {
	uint16_t type;
	uint16_t count;
	gk_rr_t *rrs;
} gk_rrset_t;

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

/* A compiled answer: everything after the question, for one (name, qtype) outcome.
 * The body was built with a question name of qname_len octets at offset 12; at query time
 * a pointer target t > 12 (or t == 12 with GK_TMPL_SHIFT_WHOLE) moves by the difference
 * between the real qname length and qname_len. fix[] lists the pointer positions. */
/* A registrable domain other than the query's whose records a template carries: the
 * filing check must pass for it too, or the answer is rebuilt without them. */
typedef struct gk_regref {
	const uint8_t *name; /* lowercase wire name; NULL (len 0): a name without one */
	uint8_t len;
	uint64_t hash; /* gk_dname_hash(name, len) */
} gk_regref_t;

typedef struct gk_tmpl {
	uint16_t qtype; /* key in a node's template list */
	uint8_t nregs;  /* entries in regs */
	const gk_regref_t *regs;
	uint8_t rcode;
	uint8_t flags;
	uint8_t qname_len;
	uint16_t an, ns, ar;
	uint16_t len;
	uint16_t nfix, nbound;
	const uint16_t *fix;
	const gk_bound_t *bound;
	const uint8_t *body;
} gk_tmpl_t;

struct gk_zone;

#define GK_NODE_APEX   0x01
#define GK_NODE_DELEG  0x02 /* NS at a non-apex name: a zone cut */
#define GK_NODE_CNAME  0x04
#define GK_NODE_DNAME  0x08
#define GK_NODE_WILD   0x10 /* first label is "*" */
#define GK_REG_NONE    0xff /* reg_off of a name without a registrable domain */
#define GK_REG_UNKNOWN 0xfe /* reg_off when the set was built without a PSL */

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
	struct gk_node *parent_side;  /* apex only: the parent zone's node at this cut */
	uint16_t nrrsets;
	gk_rrset_t *rrsets;   /* in first-seen order */
	struct gk_node *next; /* build-time list */
} gk_node_t;

/* A served zone. What a query reads of it (the filing memo, the registrable domain, the
 * negative answers) is in its first cache line; zones are 64-byte aligned. */
typedef struct gk_zone {
	/* The filing status of that registrable domain as last read, with the status table's
	 * generation (gk_status_get_memo): the one word of a zone set that queries write. */
	_Alignas(64) _Atomic uint64_t st_memo;
	/* Every name in the zone has the registrable domain formed by the last reg_len octets
	 * of the name (reg_hash is its hash) -- the zone is at or below a registrable domain
	 * and nothing in it is a public suffix. reg_len 0: ask the PSL per name. */
	uint64_t reg_hash;
	uint8_t reg_len;
	uint32_t neg_ttl; /* min(SOA TTL, SOA MINIMUM), RFC 2308 */
	const gk_tmpl_t *nxdomain;
	const gk_tmpl_t *nodata; /* NODATA for the apex name, relocatable to any name */
	gk_node_t *apex;
	const gk_rrset_t *soa;
	const gk_rrset_t *ns;
	const char *file;
	struct gk_zone *parent; /* enclosing served zone, or NULL */
} gk_zone_t;

/* A slot of the zone set's name table: the node's full name hash beside the pointer, so a
 * probe that meets another name never loads that node (one cache miss per probe, not two). */
typedef struct gk_zslot {
	uint64_t hash;
	gk_node_t *node; /* NULL: empty */
} gk_zslot_t;

struct gk_zoneset {
	gk_arena_t *arena;
	gk_zslot_t *table; /* open addressing by hash & mask, linear probing, load <= 1/2 */
	size_t mask;
	gk_zone_t *zones;
	size_t nzones;
	size_t nrr;
	size_t nnodes;
	const struct gk_psl *psl; /* used at build time only; may be NULL */
};

/* Node for an exact lowercase wire name, or NULL. Any thread. */
const gk_node_t *gk_zoneset_find(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                                 uint64_t hash);

/* RRset of a type at a node, or NULL. */
const gk_rrset_t *gk_node_rrset(const gk_node_t *n, uint16_t type);

/* Template for qtype at a node: the exact entry, else n->other. */
const gk_tmpl_t *gk_node_tmpl(const gk_node_t *n, uint16_t qtype);

/* Compile every template of a built set (compile.c). */
int gk_zoneset_compile(gk_zoneset_t *zs, char *err, size_t errlen);
