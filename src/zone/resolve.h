/* SPDX-License-Identifier: MIT */
/* src/zone/resolve.h -- the authoritative lookup, writing a response from zone data.
 *
 * One algorithm serves two callers: the compiler runs it at load time to produce every
 * template, and the packet path runs it at query time only for what cannot be compiled
 * (names below a DNAME, whose answer depends on the query name; chains that reach another
 * served zone; DS at a zone apex whose parent is served). Names are looked up in a scope:
 * one version alone (compile time) or the whole store (query time), where a name belongs
 * to the deepest served zone containing it. It implements RFC 1034
 * 4.3.2 with RFC 4592 wildcards, RFC 6672 DNAME, CNAME chains across served zones with a
 * loop guard, referrals with glue, RFC 2308 negative answers and RFC 8482 minimal ANY.
 * No allocation: all state is in the caller's gk_asm_t. Any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "zone/internal.h"

#define GK_ASM_NAMES   128
#define GK_ASM_FIX     512
#define GK_ASM_BOUNDS  256
#define GK_ASM_ADDED   64
#define GK_ASM_SCRATCH 8
#define GK_ASM_REGS    16
#define GK_ASM_HOPS    16 /* > the resolver's hop limit: a chain's names all fit */
#define GK_ASM_PEND    16 /* denial RRsets waiting for the authority section */
#define GK_ASM_SNAMES  24 /* slot mode: names written with compression */
#define GK_ASM_SDUPS   4  /* slot mode: denial RRsets written after the slot */

/* A registrable domain a compiled message depends on (name NULL, len 0: none). */
typedef struct gk_asm_reg {
	const uint8_t *name;
	uint8_t len;
} gk_asm_reg_t;

typedef struct gk_asm {
	uint8_t *buf;
	size_t len, cap; /* message so far (header and question included), capacity */
	size_t qend;     /* end of the question */
	uint16_t an, ns, ar;
	uint8_t rcode;
	bool aa;
	bool full;      /* an RRset did not fit in cap; later ones were not added */
	bool full_req;  /* ... and it was a required one */
	bool fix_lost;  /* more pointers than fix[] holds: the message cannot be relocated */
	bool wild_mode; /* the whole-qname entry may only be used for owner names */
	bool class_any; /* QCLASS ANY: not authoritative, answer section only */
	/* DO=1 (RFC 3225): RRSIGs with every RRset of a signed zone, denial of existence
	 * (NSEC or NSEC3) in negative answers, wildcard answers and referrals, DS in
	 * referrals. Kept by gk_zone_asm_init like wild_mode. */
	bool dnssec;
	/* Filing filter (query time). Every name whose data the message would carry -- each
	 * name a CNAME or DNAME chain reaches (whatever is found there: data, a referral, a
	 * DNAME, NXDOMAIN or NODATA with its zone's SOA) and each additional-section owner --
	 * is first passed to allow() with its registrable domain (reg, rlen octets; NULL, 0
	 * for a name that is itself a public suffix) and that domain's gk_namehash (0 for
	 * NULL). When allow() says no, the chain stops
	 * before that name (the records up to it stay, the rcode is the first hop's) and an
	 * additional record is skipped. NULL: no filter (compile time). */
	bool (*allow)(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash);
	void *allow_ctx;
	/* The question name's label offsets and gk_namehash_states: a lookup of that very name
	 * (qh_name, the pointer) takes its hashes from here. Cleared by gk_zone_asm_init (qh_st
	 * NULL: not known); the caller may set them after it. */
	const uint8_t *qh_name;
	const uint8_t *qh_loff;
	const uint64_t *qh_st;
	unsigned qh_labels;
	/* Registrable domains of names not in the zone set's tables (CNAME and DNAME targets
	 * that do not exist, names below cuts) come from this list when their zone does not
	 * fix them (gk_zone_t.reg_len); NULL: such names are not checked. */
	const struct gk_psl *psl;
	/* Without allow (compile time): the registrable domains the message depends on, to
	 * check them at query time (rlen 0: a name without one). */
	unsigned nregs;
	bool regs_lost; /* more than GK_ASM_REGS */
	gk_asm_reg_t regs[GK_ASM_REGS];
	/* The names a CNAME chain reached after the query name (hop 1 onwards), in order;
	 * kept in a template so the packet path can tell whether another zone now holds one. */
	unsigned nhops;
	gk_asm_reg_t hops[GK_ASM_HOPS];
	unsigned nct, nfix, nbound, nadded, nscratch;
	/* denial RRsets found while the answer section is written, added to the authority
	 * section once it starts (or when the answer ends), each once */
	unsigned npend;
	struct {
		const gk_node_t *node;
		const gk_rrset_t *set;
	} pend[GK_ASM_PEND];
	struct {
		const uint8_t *name;
		uint16_t len, off;
		bool owner_only;
	} ct[GK_ASM_NAMES];
	/* Slot mode (compile time, DO=1 answers whose proof depends on the query name: NXDOMAIN
	 * and wildcard answers of signed zones): the NSEC or NSEC3 that covers the query name
	 * (or its next closer name) is not written; where it would go is the slot, filled per
	 * query from precompiled pieces (gk_dnssec_slot_t). Set by the caller like dnssec;
	 * the rest is reset by gk_zone_asm_init. */
	bool slot_mode;
	bool slot_set;       /* the slot was reached: slot_off, slot_bound hold */
	bool slot_lost;      /* more names or denial RRsets than recorded below */
	bool in_denial;      /* writing a denial RRset: the question's entry owns none of it */
	uint16_t slot_off;   /* body offset (after the question) of the slot */
	uint16_t slot_bound; /* bounds before it */
	unsigned nsnames, nsdup;
	struct {
		const uint8_t *name;
		uint8_t len;
		uint16_t bound;  /* index of the RRset it is written in */
	} snames[GK_ASM_SNAMES]; /* names written with compression (the question's excepted) */
	struct {
		const gk_node_t *node;
		uint16_t bound;
	} sdup[GK_ASM_SDUPS];     /* denial RRsets written after the slot: their bound index */
	uint16_t fix[GK_ASM_FIX]; /* positions of compression pointers */
	gk_bound_t bound[GK_ASM_BOUNDS];
	const gk_rrset_t *added[GK_ASM_ADDED];
	uint8_t scratch[GK_ASM_SCRATCH][GK_DNAME_MAX + 1]; /* synthesized names */
} gk_asm_t;

/* Prepare a to continue a message in buf[0..qend) whose question name (lowercase copy in
 * qname, qlen octets) sits at offset 12. cap: usable size of buf. The caller's wild_mode,
 * class_any, allow, allow_ctx and psl are kept; everything else is reset. */
void gk_zone_asm_init(gk_asm_t *a, uint8_t *buf, size_t cap, size_t qend, const uint8_t *qname,
                      size_t qlen);

/* Resolve (qname, qtype) in scope sc into a. Sets a->rcode and a->aa. REFUSED when no
 * zone of the scope contains qname. Returns nothing: a full buffer is reported in a->full. */
void gk_zone_resolve(const gk_zscope_t *sc, gk_asm_t *a, const uint8_t *qname, size_t qlen,
                     uint16_t qtype);

/* The NXDOMAIN answer of a zone (SOA in authority), for the zone's template. */
void gk_zone_resolve_nxdomain(gk_asm_t *a, const gk_zone_t *z);

/* Slot mode: the DO=1 NXDOMAIN answer for names whose closest encloser is ce, with the
 * slot where the NSEC covering the name or the NSEC3 covering its next closer name goes. */
void gk_zone_resolve_nxdomain_slot(gk_asm_t *a, const gk_node_t *ce);

/* The NSEC or NSEC3 RRset at chain node d with its RRSIGs, alone in the authority section
 * (a piece of a slot, dnssec.h). */
void gk_zone_resolve_denial(gk_asm_t *a, const gk_node_t *d);

/* A NODATA answer in zone z (AA, SOA in authority), for the zone's template. */
void gk_zone_resolve_nodata(gk_asm_t *a, const gk_zone_t *z);

/* The referral at a cut node (NS in authority, glue in additional), for its template. */
void gk_zone_resolve_referral(const gk_zscope_t *sc, gk_asm_t *a, const gk_node_t *cut);

/* Types that can change the answer at node n: its own RRset types and, for a CNAME, those
 * of every node its chain reaches. Returns the count, or -1 when the chain passes a DNAME
 * (such answers are built at query time). */
int gk_zone_resolve_chain_types(const gk_zscope_t *sc, const gk_node_t *n, uint16_t *types,
                                unsigned max);
