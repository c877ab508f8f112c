/* SPDX-License-Identifier: MIT */
/* src/zone/dnssec.h -- what a signed zone needs to answer with DO=1, inside src/zone only.
 *
 * Pre-signed zones are served as they are (the registrar holds the keys): nothing is signed
 * here. When a version is built, gk_zone_dnssec_prepare() attaches to every RRset the RRSIGs
 * covering it, reads NSEC3PARAM, orders the NSEC chain canonically (or the NSEC3 chain by
 * hash, hashes computed with OpenSSL SHA-1) and records per name the denial records its
 * answers need (gk_dnssec_t.deny, wdeny). At query time only what depends on the query name
 * is looked up: the NSEC covering a name that does not exist (binary search), or the NSEC3
 * covering the hash of its next closer name (one hash per NXDOMAIN or wildcard answer, then
 * a binary search). Lookups are allocation-free and lock-free; any thread.
 *
 * The DO=1 answers whose proof depends on the query name -- NXDOMAIN below the apex and
 * wildcard answers -- are compiled too, as slot templates (gk_dnssec_slot_t): everything
 * but that one record, with the place it goes. Every NSEC or NSEC3 RRset of the chain is
 * compiled once with its RRSIGs as a piece; per query gk_zone_dnssec_slot_piece() finds the
 * piece (for NSEC3 after hashing the next closer name, as NSD does) and the packet path
 * copies template and piece (answer.c). The bytes are those the resolver would write;
 * where compression could differ (a name of the answer sharing a label below the apex with
 * the piece's owner, or ending in the next closer name) the answer is built at query time.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zone/internal.h"

#define GK_NSEC3_HASH 20 /* SHA-1, the only NSEC3 hash algorithm (RFC 5155 11) */

typedef struct gk_dnssec {
	bool nsec3; /* denial by NSEC3 (the apex has NSEC3PARAM), else NSEC */
	uint8_t n3alg, saltlen;
	uint16_t iter;
	uint8_t salt[255];
	size_t n;                /* chain length */
	const gk_node_t **chain; /* NSEC owners in canonical order, or NSEC3 owners by hash */
	const uint8_t *hash;     /* NSEC3: n * GK_NSEC3_HASH octets, the hash of chain[i] */
	int64_t sig_expire_min;  /* earliest RRSIG expiration (seconds since 1970), or 0 */
	unsigned warnings;       /* zone checks that failed (gk_zone_dnssec_prepare) */
	/* The DO=1 templates (gk_tmpl_t.sig - 1 indexes it; set by gk_zone_ver_compile), slot
	 * templates (GK_TMPL_SLOT: a gk_dnssec_slot_t, below) among them. Every
	 * DNSSEC-only field of a version lives here or below, reached through gk_zone_t.sec,
	 * so an unsigned zone carries none of them. */
	const gk_tmpl_t **sigt;
	uint32_t nsigt;
	/* Per node (gk_node_t.idx): with NSEC, the owner of the NSEC matching or covering the
	 * name (deny) and "*.name" (wdeny); with NSEC3, the NSEC3 node matching (N3EXACT) or
	 * covering the name's hash (deny) and the one covering the hash of "*.name" (wdeny). */
	const gk_node_t **deny, **wdeny;
	uint32_t nnodes; /* entries in deny and wdeny */
	/* Per chain entry (compile.c): its NSEC or NSEC3 RRset with RRSIGs alone in the
	 * authority section, compiled with the apex as the question (GK_TMPL_SHIFT_WHOLE),
	 * and the length of its owner's suffix from the label below the apex (0: the apex). */
	const gk_tmpl_t *piece;
	const uint8_t *pclen;
} gk_dnssec_t;

/* The denial records of a name of a signed zone (gk_dnssec_t.deny), or NULL. */
static inline const gk_node_t *gk_zone_node_deny(const gk_node_t *n)
{
	const gk_dnssec_t *s = n->zone->sec;
	return s && n->idx < s->nnodes ? s->deny[n->idx] : NULL;
}

static inline const gk_node_t *gk_zone_node_wdeny(const gk_node_t *n)
{
	const gk_dnssec_t *s = n->zone->sec;
	return s && n->idx < s->nnodes ? s->wdeny[n->idx] : NULL;
}

/* The DO=1 template of t (a template of a version whose gk_zone_t.sec is s), or NULL. */
static inline const gk_tmpl_t *gk_zone_dnssec_tmpl_sig(const gk_dnssec_t *s, const gk_tmpl_t *t)
{
	return s && t->sig && t->sig <= s->nsigt ? s->sigt[t->sig - 1] : NULL;
}

/* A DO=1 template with a slot (zone/resolve.h slot mode): the wildcard answers of a signed
 * zone (one per wildcard template) and its NXDOMAIN for names whose closest encloser is the
 * apex (gk_zone_t.nxdomain->sig). In the slot goes the piece of the NSEC covering the query
 * name, or of the NSEC3 covering the hash of its next closer name; when that RRset is also
 * written after the slot (dup), it moves into the slot instead, as the resolver writes it
 * once, first. Flags GK_TMPL_SLOT; t first, so a gk_tmpl_t pointer converts. */
#define GK_SLOT_NAMES 12
typedef struct gk_dnssec_slot {
	gk_tmpl_t t;
	const gk_node_t *ce; /* the closest encloser of the names it answers */
	uint16_t off;        /* body offset of the slot */
	uint8_t bound;       /* RRset bounds before it */
	uint8_t ndup, nnames;
	uint8_t dup_bound[4];
	const gk_node_t *dup[4];
	/* names below the apex written with compression (lowercase wire), with the index of
	 * the RRset bound each is written in */
	uint8_t name_len[GK_SLOT_NAMES];
	uint8_t name_bound[GK_SLOT_NAMES];
	const uint8_t *name[GK_SLOT_NAMES];
} gk_dnssec_slot_t;

/* The piece for a query at slot sl (qname lowercase wire of qlen octets, loff[0..labels)
 * its label offsets; the name is below sl->ce, not at it): *piece (NULL: none to insert)
 * and *dup, the index in sl->dup of the same RRset (-1: none). False: the answer must be
 * built at query time (a compression the template cannot show, a hash that failed). Any
 * thread; no allocation; one SHA-1 hash (NSEC3) or a binary search (NSEC). */
bool gk_zone_dnssec_slot_piece(const gk_dnssec_t *s, const gk_dnssec_slot_t *sl,
                               const uint8_t *qname, size_t qlen, const uint8_t *loff,
                               unsigned labels, const gk_tmpl_t **piece, int *dup);

/* Length of the suffix of name (len octets, strictly below an apex of apex_len octets)
 * from the label just below the apex; 0 when name is not strictly below it. */
size_t gk_zone_dnssec_child_len(const uint8_t *name, size_t len, size_t apex_len);

/* Where a record came from: the file and line of the RRset of type at n (0: unknown). */
typedef const char *(*gk_dnssec_where_fn)(void *ctx, const gk_node_t *n, uint16_t type,
                                          unsigned *line);

/* Prepare a built version (nodes linked and indexed, before compile): RRSIGs attached to
 * their RRsets, v->zone.sec set when the apex has RRSIGs (else left NULL), chains and the
 * per-node denial pointers. Then the zone checks, each a warning logged with the file and
 * line (where) -- the zone is served anyway, as NSD does: RRSIGs without a DNSKEY at the
 * apex, signatures expired or not yet valid at `now` (seconds since 1970), an NSEC or
 * NSEC3 chain whose next field skips or misses a name, NSEC3PARAM without a chain, NSEC3
 * iterations above 0 (RFC 9276).
 * Returns 0 or GK_ENOMEM. Load time only. */
int gk_zone_dnssec_prepare(gk_zver_t *v, int64_t now, gk_dnssec_where_fn where, void *ctx);

/* SHA-1 NSEC3 hash of name with the zone's salt and iterations (RFC 5155 5). */
bool gk_zone_dnssec_nsec3_hash(const gk_dnssec_t *s, const uint8_t *name, size_t len,
                               uint8_t out[GK_NSEC3_HASH]);

/* The NSEC owner matching or covering name (lowercase wire, len octets): the greatest in
 * canonical order not after it, or NULL (before the apex). */
const gk_node_t *gk_zone_dnssec_nsec_cover(const gk_dnssec_t *s, const uint8_t *name, size_t len);

/* The NSEC3 node matching (*exact true) or covering the hash of name, or NULL when the
 * chain is empty or the hash cannot be computed. */
const gk_node_t *gk_zone_dnssec_nsec3_cover(const gk_dnssec_t *s, const uint8_t *name, size_t len,
                                            bool *exact);

/* Canonical order of two lowercase wire names (RFC 4034 6.1): <0, 0, >0. */
int gk_zone_dnssec_canon_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);
