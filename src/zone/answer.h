/* SPDX-License-Identifier: MIT */
/* src/zone/answer.h -- what the packet path asks the zone store: find, check, write.
 *
 * The packet path (src/pkt/) finds a query's answer through gk_zone_find() -- the deepest
 * served zone containing the name, then the compiled template for (name, qtype) in that
 * zone's version -- and writes it with gk_zone_put_tmpl(), or has it built at query time
 * with gk_zone_put_runtime() (names below a DNAME, chains into another served zone, DS at
 * a child apex whose parent is served, filtered answers). The types are opaque here:
 * zone/internal.h stays inside src/zone. Everything is allocation-free and lock-free; a
 * hit is valid until the calling thread's next quiescent point (common/snapshot.h).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/dname.h"
#include "zone/zone.h"

struct gk_psl;
struct gk_node;
struct gk_tmpl;
struct gk_zone_hint;

/* Where a query's answer is. */
typedef struct gk_zone_hit {
	const gk_zver_t *ver;       /* the deepest served zone containing the name */
	const struct gk_node *node; /* the name's node, or its closest encloser (exact false) */
	const struct gk_tmpl *t;    /* the template (GK_ZONE_TMPL) */
	bool exact;
} gk_zone_hit_t;

typedef enum gk_zone_src {
	GK_ZONE_TMPL = 0, /* a compiled template: h->t */
	GK_ZONE_RUNTIME,  /* to be built at query time (gk_zone_put_runtime) */
	GK_ZONE_REFUSED,  /* no served zone contains the name */
	GK_ZONE_SERVFAIL, /* the name's zone has no data (a placeholder, gk_zone_ver_placeholder:
	                     not loaded yet, failed, or a secondary never transferred or expired);
	                     h->ver set, h->node and h->t NULL */
} gk_zone_src_t;

/* Find (qname, qtype): qname lowercase wire form of qlen octets, loff[0..labels) its label
 * offsets, st[0..labels] its gk_namehash_states (NULL: computed here; the packet path
 * computes them once per query for the zone, the registrable domain and the decision).
 * hint (may be NULL): what the prefetch stages found for this very name since the
 * caller's last quiescent point; it saves finding the zone again. Fills *h (ver and node
 * unless REFUSED; node too unless SERVFAIL). Any thread. */
gk_zone_src_t gk_zone_find(const gk_zoneset_t *zs, const uint8_t *qname, size_t qlen,
                           const uint8_t *loff, unsigned labels, const uint64_t *st, uint16_t qtype,
                           const struct gk_zone_hint *hint, gk_zone_hit_t *h);

/* The registrable domain of qname, from its zone, its node or -- for zones at or above a
 * public suffix -- psl (may be NULL). Returns its offset in qname and its hash in *hash,
 * or -1 when there is none (or no PSL to tell). loff[0..labels) and st[0..labels]: qname's
 * label offsets and gk_namehash_states, the hash's source (st NULL: hashed here). */
int gk_zone_reg(const gk_zone_hit_t *h, const struct gk_psl *psl, const uint8_t *qname, size_t qlen,
                const uint8_t *loff, unsigned labels, const uint64_t *st, uint64_t *hash);

/* The zone's filing-status memo cell (status/status.h gk_status_get_memo) when every name of
 * the zone has the zone's registrable domain, else NULL. The cell is the store's: it
 * outlives the version. */
_Atomic uint64_t *gk_zone_memo(const gk_zone_hit_t *h);

/* With the filing check, a template that carries data of other registrable domains may be
 * sent only when refused() says no for each of them. False: build at query time. */
bool gk_zone_tmpl_clean(const gk_zone_hit_t *h,
                        bool (*refused)(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash),
                        void *ctx);

/* Is the zone of a hit signed (DNSKEY and RRSIGs at its apex)? */
bool gk_zone_signed(const gk_zone_hit_t *h);

/* DO=1 in a signed zone: make h's template its DNSSEC answer (RRSIGs, proofs) and return
 * 1, or 2 when that template is slotted (wildcard answers, NXDOMAIN below the apex: the
 * proof for the query name goes in per query, gk_zone_put_slot), or return 0 when the
 * answer must be built at query time (NXDOMAIN below a closest encloser other than the
 * apex, a wildcard's own name). qlen: the query name's length. */
int gk_zone_use_do(gk_zone_hit_t *h, size_t qlen);

/* After gk_zone_use_do: is h's template one whose proof is completed per query (NXDOMAIN
 * below the apex, wildcard answers: zone/dnssec.h)? Then write it with gk_zone_put_slot. */
bool gk_zone_slotted(const gk_zone_hit_t *h);

/* Make h's template the zone's NXDOMAIN (nxdomain true) or NODATA answer (the filing
 * actions). h must not be REFUSED. */
void gk_zone_use_negative(gk_zone_hit_t *h, bool nxdomain);

/* Names response rate limiting keys on (rrl/rrl.h), as lengths in octets of suffixes of
 * the query name, 0 for none: the zone's apex; the closest encloser when the answer is
 * synthesized from its wildcard; the zone cut at or above the name (a referral's
 * delegation point). h must not be REFUSED. */
typedef struct gk_zone_names {
	uint8_t apex, wild, cut;
} gk_zone_names_t;
void gk_zone_names(const gk_zone_hit_t *h, gk_zone_names_t *o);

/* A written answer body. */
typedef struct gk_zone_out {
	uint16_t cnt[3]; /* answer, authority, additional records */
	size_t body;     /* octets after the question */
	uint8_t rcode;
	bool aa, tc;
} gk_zone_out_t;

/* Copy h's template behind the question (body: where it starts), relocated to a query name
 * of qlen octets, cut at an RRset boundary to fit room (TC when a required RRset is cut). */
void gk_zone_put_tmpl(const gk_zone_hit_t *h, uint8_t *body, size_t qlen, size_t room,
                      gk_zone_out_t *o);

/* Write a slotted template (as gk_zone_put_tmpl) for the query name qname (lowercase wire,
 * qlen octets, loff[0..labels) its label offsets): the template with the NSEC or NSEC3
 * proof for that name in its place -- the bytes gk_zone_put_runtime would write. False
 * (nothing usable written): build the answer with gk_zone_put_runtime. No allocation; for
 * NSEC3 one SHA-1 hash of the next closer name. */
bool gk_zone_put_slot(const gk_zone_hit_t *h, uint8_t *body, const uint8_t *qname, size_t qlen,
                      const uint8_t *loff, unsigned labels, size_t room, gk_zone_out_t *o);

/* Build the answer at query time behind the question in msg[0..qend) (qname at offset 12,
 * lowercase copy in qname; loff[0..labels) its label offsets and st[0..labels] its
 * gk_namehash_states, st NULL: computed when needed), using at most cap octets of msg, then
 * cut to room; dnssec: the query's DO bit (RRSIGs and proofs from signed zones). allow (may
 * be NULL) filters each registrable domain the answer would carry (see zone/resolve.h);
 * psl serves names whose zone does not fix their registrable domain. */
void gk_zone_put_runtime(const gk_zoneset_t *zs, uint8_t *msg, size_t cap, size_t qend,
                         const uint8_t *qname, size_t qlen, const uint8_t *loff, unsigned labels,
                         const uint64_t *st, uint16_t qtype, bool class_any, bool dnssec,
                         bool (*allow)(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash),
                         void *ctx, const struct gk_psl *psl, size_t room, gk_zone_out_t *o);

/* Prefetch hints for a batch (pkt/process.h): stage 0 starts the load of the name's zone
 * entry in the store's index, 1 the zone's version, 2 the name's slot in the version's
 * table, 3 its node. Hints only: every query is answered the same without them. */
#define GK_ZONE_PREFETCH_STAGES 4
typedef struct gk_zone_hint { /* see gk_zone_prefetch_name */
	uint64_t hash;        /* of the whole name */
	uint64_t zhash[2];    /* of the two deepest suffixes at apex depths in use */
	uint8_t zoff[2];      /* their offsets in the name */
	uint8_t nz;           /* how many of them */
	bool ok;              /* stage 0 found a question */
	bool probed;          /* stage 1 ran: ver is its find (NULL: neither suffix is a zone) */
	const void *ver;      /* a version whose apex hash matched zhash[zk], or NULL */
	uint8_t zk;
	uint8_t labels; /* of the name stage 0 saw */
	uint8_t qlen;   /* its length in octets */
	/* gk_namehash_states of that name, st[0..labels]: the question's one pass, which the
	 * query's processing takes from here (pkt/process.h) */
	uint64_t st[GK_DNAME_LABELS_MAX + 1];
} gk_zone_hint_t;
/* Stage 0, from the lowercase name (qlen octets, loff/labels its label offsets). */
void gk_zone_prefetch_name(const gk_zoneset_t *zs, const uint8_t *qname, size_t qlen,
                           const uint8_t *loff, unsigned labels, gk_zone_hint_t *h);
/* Stages 1 .. GK_ZONE_PREFETCH_STAGES-1. */
void gk_zone_prefetch(const gk_zoneset_t *zs, unsigned stage, gk_zone_hint_t *h);
