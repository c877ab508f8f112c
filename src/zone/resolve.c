/* SPDX-License-Identifier: MIT */
/* src/zone/resolve.c -- authoritative answer synthesis with name compression.
 *
 * Names are written through a small compression table (suffix → message offset). All
 * stored names are lowercase, so a suffix match is a memcmp. Every pointer written is
 * recorded, so the compiler can relocate a template to a query name of another length.
 */
#include <string.h>
#include "common/psl.h"
#include "zone/dnssec.h"
#include "zone/resolve.h"

#define MAX_HOPS 16
/* pointer targets stay below this so a template can move by a full name length */
#define CT_MAX_OFF (0x3fff - 256)

void gk_zone_asm_init(gk_asm_t *a, uint8_t *buf, size_t cap, size_t qend, const uint8_t *qname,
                      size_t qlen)
{
	a->buf = buf;
	a->cap = cap;
	a->len = a->qend = qend;
	a->an = a->ns = a->ar = 0;
	a->rcode = 0;
	a->aa = false;
	a->full = a->full_req = a->fix_lost = false;
	a->nregs = 0;
	a->regs_lost = false;
	a->nct = a->nfix = a->nbound = a->nadded = a->nscratch = 0;
	a->nhops = 0;
	a->npend = 0;
	a->slot_set = a->slot_lost = a->in_denial = false;
	a->slot_off = a->slot_bound = 0;
	a->nsnames = a->nsdup = 0;
	a->qh_name = NULL;
	a->qh_loff = NULL;
	a->qh_st = NULL;
	a->qh_labels = 0;
	/* every suffix of the question name is a compression target */
	for (size_t p = 0; qname[p] && a->nct < GK_ASM_NAMES; p += qname[p] + 1u) {
		a->ct[a->nct].name = qname + p;
		a->ct[a->nct].len = (uint16_t)(qlen - p);
		a->ct[a->nct].off = (uint16_t)(12 + p);
		a->ct[a->nct].owner_only = (p == 0) && a->wild_mode;
		a->nct++;
	}
}

static bool room(gk_asm_t *a, size_t n)
{
	return a->len + n <= a->cap;
}

static void put16(gk_asm_t *a, uint16_t v)
{
	a->buf[a->len++] = (uint8_t)(v >> 8);
	a->buf[a->len++] = (uint8_t)v;
}

static void put32(gk_asm_t *a, uint32_t v)
{
	put16(a, (uint16_t)(v >> 16));
	put16(a, (uint16_t)v);
}

/* Write a name, compressed against earlier names when allowed. Returns false when the
 * buffer is full. */
static bool put_name(gk_asm_t *a, const uint8_t *name, size_t len, bool compress, bool owner)
{
	size_t p = 0;
	int hit = -1;
	if (compress) {
		for (p = 0; name[p]; p += name[p] + 1u) {
			size_t sl = len - p;
			for (unsigned i = 0; i < a->nct; i++) {
				if (a->ct[i].len != sl ||
				    (a->ct[i].owner_only && !(owner && p == 0 && !a->in_denial)))
					continue;
				if (memcmp(a->ct[i].name, name + p, sl) == 0) {
					hit = (int)i;
					break;
				}
			}
			if (hit >= 0)
				break;
		}
	} else {
		p = len - 1;
	}
	if (!room(a, p + (hit >= 0 ? 2 : 1)))
		return false;
	if (a->slot_mode && compress &&
	    !(owner && !a->in_denial && len == a->ct[0].len &&
	      memcmp(name, a->ct[0].name, len) == 0)) {
		if (a->nsnames < GK_ASM_SNAMES) {
			a->snames[a->nsnames].name = name;
			a->snames[a->nsnames].bound = (uint16_t)a->nbound;
			a->snames[a->nsnames++].len = (uint8_t)len;
		} else
			a->slot_lost = true;
	}
	/* new suffixes become targets, if compression is in use for this name */
	for (size_t q = 0; compress && q < p && a->nct < GK_ASM_NAMES; q += name[q] + 1u) {
		size_t off = a->len + q;
		if (off >= CT_MAX_OFF)
			break;
		a->ct[a->nct].name = name + q;
		a->ct[a->nct].len = (uint16_t)(len - q);
		a->ct[a->nct].off = (uint16_t)off;
		a->ct[a->nct].owner_only = false;
		a->nct++;
	}
	memcpy(a->buf + a->len, name, p);
	a->len += p;
	if (hit >= 0) {
		if (a->nfix < GK_ASM_FIX)
			a->fix[a->nfix++] = (uint16_t)a->len;
		else
			a->fix_lost = true;
		put16(a, (uint16_t)(0xc000 | a->ct[hit].off));
	} else {
		a->buf[a->len++] = 0;
	}
	return true;
}

/* RFC 3597 4: only the RFC 1035 types may have compressed names in rdata. */
static bool put_rdata(gk_asm_t *a, uint16_t type, const uint8_t *rd, size_t rdlen)
{
	unsigned pre, names;
	if (!gk_dns_rdata_names(type, false, &pre, &names))
		names = 0;
	if (!names) {
		if (!room(a, rdlen))
			return false;
		memcpy(a->buf + a->len, rd, rdlen);
		a->len += rdlen;
		return true;
	}
	if (!room(a, pre))
		return false;
	memcpy(a->buf + a->len, rd, pre);
	a->len += pre;
	size_t o = pre;
	for (size_t i = 0; i < names; i++) {
		size_t nl = gk_dname_len(rd + o);
		if (!put_name(a, rd + o, nl, true, false))
			return false;
		o += nl;
	}
	if (!room(a, rdlen - o))
		return false;
	memcpy(a->buf + a->len, rd + o, rdlen - o);
	a->len += rdlen - o;
	return true;
}

static bool was_added(const gk_asm_t *a, const gk_rrset_t *s)
{
	for (unsigned i = 0; i < a->nadded; i++)
		if (a->added[i] == s)
			return true;
	return false;
}

static void flush_denial(gk_asm_t *a);

/* Write the records of s (owner, type, class, TTL lowered to ttl_cap, rdata). */
static bool put_rrs(gk_asm_t *a, const uint8_t *owner, size_t olen, const gk_rrset_t *s,
                    uint32_t ttl_cap)
{
	for (unsigned i = 0; i < s->count; i++) {
		const gk_rr_t *rr = &s->rrs[i];
		if (!put_name(a, owner, olen, true, true) || !room(a, 10))
			return false;
		put16(a, s->type);
		put16(a, GK_CLASS_IN);
		put32(a, rr->ttl < ttl_cap ? rr->ttl : ttl_cap);
		size_t rdpos = a->len;
		put16(a, 0);
		if (!put_rdata(a, s->type, rr->rdata, rr->rdlen))
			return false;
		size_t rdl = a->len - rdpos - 2;
		a->buf[rdpos] = (uint8_t)(rdl >> 8);
		a->buf[rdpos + 1] = (uint8_t)rdl;
	}
	return true;
}

/* Append an RRset, with its RRSIGs under DO=1 (one unit: truncation never separates
 * them, RFC 4035 3.1.1). ttl_cap: TTLs are lowered to it (negative answers); UINT32_MAX
 * keeps. */
static void put_rrset(gk_asm_t *a, const uint8_t *owner, size_t olen, const gk_rrset_t *s,
                      int section, bool required, uint32_t ttl_cap)
{
	if (section != GK_SEC_ANSWER && a->npend)
		flush_denial(a);
	if (a->full || a->nbound == GK_ASM_BOUNDS)
		goto full;
	size_t start = a->len;
	unsigned nct = a->nct, nfix = a->nfix;
	const gk_rrset_t *sig = a->dnssec ? gk_zone_rrset_sigs(s) : NULL;
	if (!put_rrs(a, owner, olen, s, ttl_cap) || (sig && !put_rrs(a, owner, olen, sig, ttl_cap)))
		goto undo;
	unsigned cnt = s->count + (sig ? sig->count : 0u);
	a->bound[a->nbound++] = (gk_bound_t){.end = (uint16_t)(a->len - a->qend),
	                                     .rrs = (uint16_t)cnt,
	                                     .section = (uint8_t)section,
	                                     .required = required};
	if (section == GK_SEC_ANSWER)
		a->an += cnt;
	else if (section == GK_SEC_AUTHORITY)
		a->ns += cnt;
	else
		a->ar += cnt;
	if (a->nadded < GK_ASM_ADDED)
		a->added[a->nadded++] = s;
	return;
undo:
	a->len = start;
	a->nct = nct;
	a->nfix = nfix;
full:
	a->full = true;
	if (required)
		a->full_req = true;
}

/* ---- denial of existence (DO=1 in signed zones; dnssec.h) ------------------------------ */

static void flush_denial(gk_asm_t *a)
{
	unsigned k = a->npend;
	a->npend = 0;
	for (unsigned i = 0; i < k; i++) {
		if (!a->pend[i].set) { /* the slot (slot mode) */
			a->slot_set = true;
			a->slot_off = (uint16_t)(a->len - a->qend);
			a->slot_bound = (uint16_t)a->nbound;
			continue;
		}
		if (was_added(a, a->pend[i].set))
			continue;
		if (a->slot_set) { /* the query's own proof may be this one: then it moves */
			if (a->nsdup < GK_ASM_SDUPS) {
				a->sdup[a->nsdup].node = a->pend[i].node;
				a->sdup[a->nsdup++].bound = (uint16_t)a->nbound;
			} else
				a->slot_lost = true;
		}
		/* a wildcard's own NSEC is not the answer's owner (wild_mode) */
		a->in_denial = true;
		put_rrset(a, a->pend[i].node->name, a->pend[i].node->len, a->pend[i].set,
		          GK_SEC_AUTHORITY, true, UINT32_MAX);
		a->in_denial = false;
	}
}

/* Slot mode: queue the slot, once, first among the denial RRsets as the query's own proof
 * would be. */
static void deny_slot(gk_asm_t *a)
{
	for (unsigned i = 0; i < a->npend; i++)
		if (!a->pend[i].set)
			return;
	if (a->slot_set || a->npend == GK_ASM_PEND) {
		a->slot_lost = true;
		return;
	}
	a->pend[a->npend].node = NULL;
	a->pend[a->npend++].set = NULL;
}

/* Queue the NSEC or NSEC3 RRset at d for the authority section, once. */
static void deny(gk_asm_t *a, const gk_node_t *d)
{
	if (!d)
		return;
	const gk_rrset_t *s =
	    gk_zone_node_rrset(d, d->zone->sec->nsec3 ? GK_TYPE_NSEC3 : GK_TYPE_NSEC);
	if (!s || was_added(a, s))
		return;
	for (unsigned i = 0; i < a->npend; i++)
		if (a->pend[i].set == s)
			return;
	if (a->slot_mode && a->npend == GK_ASM_PEND)
		a->slot_lost = true;
	if (a->npend < GK_ASM_PEND) {
		a->pend[a->npend].node = d;
		a->pend[a->npend++].set = s;
	}
}

static bool signed_zone(const gk_asm_t *a, const gk_zone_t *z)
{
	return a->dnssec && z->sec;
}

static bool n3exact(const gk_node_t *n)
{
	return (n->flags & GK_NODE_N3EXACT) != 0;
}

/* NSEC3: no DS at n, a cut or a name of the parent side (RFC 5155 7.2.7, as NSD): the
 * NSEC3 matching n, else the closest provable encloser's and the next closer name's. */
static void ds_proof(gk_asm_t *a, const gk_node_t *n)
{
	if (n3exact(n)) {
		deny(a, gk_zone_node_deny(n));
		return;
	}
	const gk_node_t *par = n->parent, *prev = NULL;
	while (par && !n3exact(par)) {
		prev = par;
		par = par->parent;
	}
	if (!par)
		return;
	deny(a, gk_zone_node_deny(par));
	deny(a, prev ? gk_zone_node_deny(prev) : gk_zone_node_deny(n));
	deny(a, gk_zone_node_deny(n)); /* the opt-out span covering n */
}

/* The NSEC3 covering the next closer name of name below the closest encloser ce. */
static void next_closer(gk_asm_t *a, const gk_node_t *ce, const uint8_t *name, size_t len)
{
	unsigned nl = gk_dname_labels(name);
	if (a->slot_mode) {
		deny_slot(a);
		return;
	}
	while (nl > ce->labels + 1u) {
		len -= name[0] + 1u;
		name += name[0] + 1u;
		nl--;
	}
	bool exact;
	deny(a, gk_zone_dnssec_nsec3_cover(ce->zone->sec, name, len, &exact));
}

/* NODATA at node n (RFC 4035 3.1.3.1, RFC 5155 7.2.3-7.2.5). */
static void prove_nodata(gk_asm_t *a, const gk_node_t *n, uint16_t qtype)
{
	if (!signed_zone(a, n->zone))
		return;
	if (!n->zone->sec->nsec3) {
		deny(a, gk_zone_node_deny(n));
		return;
	}
	if (n->flags & GK_NODE_WILD) { /* also for DS, as NSD */
		if (n->parent && n3exact(n->parent))
			deny(a, gk_zone_node_deny(n->parent));
		if (n3exact(n))
			deny(a, gk_zone_node_deny(n));
		return;
	}
	if (qtype == GK_TYPE_DS && !(n->flags & GK_NODE_APEX)) {
		ds_proof(a, n);
		return;
	}
	const gk_node_t *o = n;
	if (!gk_zone_node_deny(o))
		return;
	if (!n3exact(o))
		while (o->parent && gk_zone_node_deny(o->parent) && !n3exact(o->parent))
			o = o->parent;
	deny(a, gk_zone_node_deny(o));
	if (!n3exact(o) && o->parent)
		deny(a, gk_zone_node_deny(o->parent));
}

/* NXDOMAIN for name below its closest encloser ce (RFC 4035 3.1.3.2, RFC 5155 7.2.2). */
static void prove_nxdomain(gk_asm_t *a, const gk_node_t *ce, const uint8_t *name, size_t len)
{
	const gk_zone_t *z = ce->zone;
	if (!signed_zone(a, z))
		return;
	if (!z->sec->nsec3) {
		if (a->slot_mode)
			deny_slot(a);
		else
			deny(a, gk_zone_dnssec_nsec_cover(z->sec, name, len));
		deny(a, gk_zone_node_wdeny(ce));
		return;
	}
	next_closer(a, ce, name, len);
	if (n3exact(ce))
		deny(a, gk_zone_node_deny(ce));
	deny(a, gk_zone_node_wdeny(ce));
}

/* A wildcard answer from w for name: the proof that name itself does not exist
 * (RFC 4035 3.1.3.3, RFC 5155 7.2.6). */
static void prove_wild(gk_asm_t *a, const gk_node_t *w, const uint8_t *name, size_t len)
{
	const gk_zone_t *z = w->zone;
	if (!signed_zone(a, z) || (w->len == len && memcmp(w->name, name, len) == 0))
		return;
	if (!z->sec->nsec3)
		deny(a, gk_zone_dnssec_nsec_cover(z->sec, name, len));
	else if (w->parent)
		next_closer(a, w->parent, name, len);
}

#define REG_NONE    (-1) /* the name is a public suffix: it has no registrable domain */
#define REG_UNKNOWN (-2) /* no PSL to tell */

/* Registrable domain of a name: offset inside name, REG_NONE or REG_UNKNOWN. n is the
 * name's node when exact, else the node found for it (closest encloser, wildcard or cut),
 * whose zone may fix the answer for every name in it. */
static int reg_of(const gk_asm_t *a, const gk_node_t *n, bool exact, const uint8_t *name,
                  size_t len)
{
	if (exact)
		return n->reg_off == GK_REG_NONE      ? REG_NONE
		       : n->reg_off == GK_REG_UNKNOWN ? REG_UNKNOWN
		                                      : n->reg_off;
	if (n->zone->reg_len)
		return (int)(len - n->zone->reg_len);
	if (!a->psl)
		return REG_UNKNOWN;
	int off = gk_psl_registrable_wire(a->psl, name, len);
	return off < 0 ? REG_NONE : off;
}

/* A name's label offsets and the hash state of every suffix (common/namehash.h): its own,
 * or the question's (gk_asm_t.qh_*). */
typedef struct nstates {
	const uint8_t *loff;
	const uint64_t *st;
	unsigned labels;
	uint8_t own_loff[GK_DNAME_LABELS_MAX];
	uint64_t own_st[GK_DNAME_LABELS_MAX + 1];
} nstates_t;

static void nstates_of(const gk_asm_t *a, const uint8_t *name, size_t len, nstates_t *s)
{
	if (a && a->qh_st && name == a->qh_name) {
		s->loff = a->qh_loff;
		s->st = a->qh_st;
		s->labels = a->qh_labels;
		return;
	}
	unsigned labels = 0;
	for (size_t o = 0; name[o] && labels < GK_DNAME_LABELS_MAX; o += name[o] + 1u)
		s->own_loff[labels++] = (uint8_t)o;
	gk_namehash_states(name, len, s->own_loff, labels, s->own_st);
	s->loff = s->own_loff;
	s->st = s->own_st;
	s->labels = labels;
}

/* May the message carry data of name (registrable domain at off, see reg_of)? At query time
 * the filter decides; at compile time the domain is remembered for the template. ns (NULL:
 * none): name's states, the source of the registrable domain's hash. */
static bool pass(gk_asm_t *a, const uint8_t *name, size_t len, int off, const nstates_t *ns)
{
	if (off == REG_UNKNOWN)
		return true;
	const uint8_t *r = off >= 0 ? name + off : NULL;
	size_t rl = off >= 0 ? len - (size_t)off : 0;
	if (a->allow) {
		uint64_t h = !r   ? 0
		             : ns ? gk_namehash_fin(gk_namehash_state_at(ns->st, ns->loff,
		                                                         ns->labels, (size_t)off))
		                  : gk_namehash(r, rl);
		return a->allow(a->allow_ctx, r, rl, h);
	}
	for (unsigned i = 0; i < a->nregs; i++)
		if (a->regs[i].len == rl && (rl == 0 || memcmp(a->regs[i].name, r, rl) == 0))
			return true;
	if (a->nregs == GK_ASM_REGS)
		a->regs_lost = true;
	else
		a->regs[a->nregs++] = (gk_asm_reg_t){.name = r, .len = (uint8_t)rl};
	return true;
}

static bool pass_node(gk_asm_t *a, const gk_node_t *n)
{
	return pass(a, n->name, n->len, reg_of(a, n, true, n->name, n->len), NULL);
}

const gk_zver_t *gk_zone_scope_zone(const gk_zscope_t *sc, const uint8_t *name, size_t len)
{
	if (sc->zs)
		return gk_zone_store_zone_of(sc->zs, name, len, gk_namehash(name, len), NULL, 0);
	const gk_zver_t *v = sc->only;
	return gk_dname_is_subdomain(name, len, gk_zone_ver_apex(v), v->apex_len) ? v : NULL;
}

/* The node of name in zone z, when z is the zone that holds name (no deeper served zone). */
static const gk_node_t *find_in(const gk_zscope_t *sc, const gk_zone_t *z, const uint8_t *name,
                                size_t len)
{
	const gk_zver_t *v = gk_zone_scope_zone(sc, name, len);
	if (!v || &v->zone != z)
		return NULL;
	return gk_zone_ver_find(v, name, len, gk_namehash(name, len));
}

/* The name embedded in an RR's rdata at which additional processing looks. */
static const uint8_t *target_of(uint16_t type, const gk_rr_t *rr)
{
	switch (type) {
	case GK_TYPE_NS:
		return rr->rdata;
	case GK_TYPE_MX:
		return rr->rdlen > 2 ? rr->rdata + 2 : NULL;
	case GK_TYPE_SRV:
		return rr->rdlen > 6 ? rr->rdata + 6 : NULL;
	default:
		return NULL;
	}
}

/* Additional section: A then AAAA of every NS/MX/SRV target in the sections written so
 * far (in order), as NSD orders them, from the answering zone. cut: for a referral, the
 * cut being referred to; glue below it is required (RFC 9471 2.1). */
static void additional(const gk_zscope_t *sc, gk_asm_t *a, const gk_rrset_t *const *sets,
                       unsigned nsets, const gk_zone_t *zone, const gk_node_t *cut)
{
	static const uint16_t types[2] = {GK_TYPE_A, GK_TYPE_AAAA};
	for (int t = 0; t < 2; t++) {
		for (unsigned si = 0; si < nsets; si++) {
			const gk_rrset_t *s = sets[si];
			for (unsigned i = 0; i < s->count; i++) {
				const uint8_t *tn = target_of(s->type, &s->rrs[i]);
				if (!tn)
					continue;
				size_t tl = gk_dname_len(tn);
				const gk_node_t *n = find_in(sc, zone, tn, tl);
				/* only the answering zone's data, as NSD does; glue (below a cut)
				 * only in referrals, where sibling glue is welcome (RFC 9471 2.2)
				 */
				if (!n || n->dname || (n->cut && !cut))
					continue;
				const gk_rrset_t *r = gk_zone_node_rrset(n, types[t]);
				if (!r || was_added(a, r) || !pass_node(a, n))
					continue;
				bool req = cut && n->cut == cut;
				put_rrset(a, n->name, n->len, r, GK_SEC_ADDITIONAL, req,
				          UINT32_MAX);
			}
		}
	}
}

void gk_zone_resolve_nxdomain(gk_asm_t *a, const gk_zone_t *z)
{
	a->rcode = GK_RCODE_NXDOMAIN;
	a->aa = true;
	put_rrset(a, z->apex->name, z->apex->len, z->soa, GK_SEC_AUTHORITY, true, z->neg_ttl);
}

static void nodata(gk_asm_t *a, const gk_zone_t *z)
{
	put_rrset(a, z->apex->name, z->apex->len, z->soa, GK_SEC_AUTHORITY, true, z->neg_ttl);
}

/* NODATA at node n for qtype: the SOA, and under DO=1 the proof. */
static void nodata_at(gk_asm_t *a, const gk_node_t *n, uint16_t qtype)
{
	prove_nodata(a, n, qtype);
	nodata(a, n->zone);
}

void gk_zone_resolve_nxdomain_slot(gk_asm_t *a, const gk_node_t *ce)
{
	a->rcode = GK_RCODE_NXDOMAIN;
	a->aa = true;
	prove_nxdomain(a, ce, ce->name, ce->len);
	nodata(a, ce->zone);
	if (a->npend)
		flush_denial(a);
}

void gk_zone_resolve_denial(gk_asm_t *a, const gk_node_t *d)
{
	deny(a, d);
	flush_denial(a);
}

void gk_zone_resolve_nodata(gk_asm_t *a, const gk_zone_t *z)
{
	a->rcode = GK_RCODE_NOERROR;
	a->aa = true;
	nodata(a, z);
}

void gk_zone_resolve_referral(const gk_zscope_t *sc, gk_asm_t *a, const gk_node_t *cut)
{
	const gk_rrset_t *ns = gk_zone_node_rrset(cut, GK_TYPE_NS);
	put_rrset(a, cut->name, cut->len, ns, GK_SEC_AUTHORITY, true, UINT32_MAX);
	if (signed_zone(a, cut->zone)) {
		/* DS from the parent side, or the proof that there is none (RFC 4035 3.1.4) */
		const gk_rrset_t *ds = gk_zone_node_rrset(cut, GK_TYPE_DS);
		if (ds)
			put_rrset(a, cut->name, cut->len, ds, GK_SEC_AUTHORITY, true, UINT32_MAX);
		else if (!cut->zone->sec->nsec3)
			deny(a, gk_zone_node_rrset(cut, GK_TYPE_NSEC) ? cut : NULL);
		else
			ds_proof(a, cut);
		flush_denial(a);
	}
	additional(sc, a, &ns, 1, cut->zone, cut);
}

enum look { LK_NONE, LK_SERVFAIL, LK_EXACT, LK_REFERRAL, LK_DNAME, LK_WILD, LK_NXDOMAIN };

/* Find what answers (name, qtype): *out is the node to use; *reg (when not NULL) the
 * registrable domain of name (reg_of). */
static enum look lookup(const gk_asm_t *a, const gk_zscope_t *sc, const uint8_t *name, size_t len,
                        const nstates_t *ns, uint16_t qtype, const gk_node_t **out, int *reg)
{
	/* ns: one right-to-left pass, the hash of the name and of every ancestor */
	const uint8_t *loff = ns->loff;
	unsigned labels = ns->labels;
	const uint64_t *st = ns->st;
	uint64_t h0 = gk_namehash_fin(st[0]);
	const gk_zver_t *v;
	if (sc->zs)
		v = gk_zone_store_zone_of_st(sc->zs, name, len, loff, labels, st);
	else
		v = gk_dname_is_subdomain(name, len, gk_zone_ver_apex(sc->only), sc->only->apex_len)
		        ? sc->only
		        : NULL;
	if (!v)
		return LK_NONE;
	if (gk_zone_ver_placeholder_p(v))
		return LK_SERVFAIL; /* a zone without data: SERVFAIL, or a chain stops before it */
	const gk_node_t *n = gk_zone_ver_find(v, name, len, h0);
	if (n && reg)
		*reg = reg_of(a, n, true, name, len);
	if (n) {
		if (n->cut && !(qtype == GK_TYPE_DS && n->cut == n)) {
			*out = n->cut;
			return LK_REFERRAL;
		}
		if (n->dname) {
			*out = n->dname;
			return LK_DNAME;
		}
		/* DS belongs to the parent side of a cut (RFC 4035 3.1.4.1): at a zone apex,
		 * the enclosing served zone's node of that name answers it, when there is one */
		if (qtype == GK_TYPE_DS && (n->flags & GK_NODE_APEX) && sc->zs && len > 1) {
			const uint8_t *up = name + name[0] + 1;
			const gk_zver_t *pv = gk_zone_scope_zone(sc, up, len - name[0] - 1u);
			const gk_node_t *pn = pv ? gk_zone_ver_find(pv, name, len, h0) : NULL;
			if (pn)
				n = pn;
		}
		*out = n;
		return LK_EXACT;
	}
	/* closest encloser inside the zone: the apex exists, so the walk ends there */
	const uint8_t *p = name;
	size_t l = len;
	for (unsigned i = 0; !n && l > v->apex_len;) {
		l -= p[0] + 1u;
		p += p[0] + 1u;
		n = gk_zone_ver_find(v, p, l, gk_namehash_fin(st[++i]));
	}
	if (!n)
		return LK_NONE;
	if (reg)
		*reg = reg_of(a, n, false, name, len);
	if (n->cut) {
		*out = n->cut;
		return LK_REFERRAL;
	}
	if (n->flags & GK_NODE_DNAME) {
		*out = n;
		return LK_DNAME;
	}
	if (n->dname) {
		*out = n->dname;
		return LK_DNAME;
	}
	if (n->wild) {
		*out = n->wild;
		return LK_WILD;
	}
	*out = n;
	return LK_NXDOMAIN;
}

/* Answer data at node n for the name owner. Returns the next name to follow (a CNAME
 * target) or NULL when the answer is complete. */
static const uint8_t *answer_node(const gk_zscope_t *sc, gk_asm_t *a, const gk_node_t *n,
                                  const uint8_t *owner, size_t olen, uint16_t qtype)
{
	const gk_zone_t *z = n->zone;
	if (qtype == GK_TYPE_ANY) {
		/* RFC 8482: one RRset suffices; NSD sends the first it holds */
		for (unsigned i = 0; i < n->nrrsets; i++) {
			if (n->rrsets[i].type == GK_TYPE_RRSIG)
				continue;
			put_rrset(a, owner, olen, &n->rrsets[i], GK_SEC_ANSWER, true, UINT32_MAX);
			return NULL;
		}
		nodata_at(a, n, qtype);
		return NULL;
	}
	const gk_rrset_t *s = gk_zone_node_rrset(n, qtype);
	if (s) {
		put_rrset(a, owner, olen, s, GK_SEC_ANSWER, true, UINT32_MAX);
		/* no authority for DS at a cut (the parent's NS would read as a referral) nor
		 * for QCLASS ANY, which is never authoritative (RFC 1035 6.2); none for DNSKEY
		 * and DS either, whose RRsets are large (as NSD) */
		if (a->class_any || (n->flags & GK_NODE_DELEG) || qtype == GK_TYPE_DNSKEY ||
		    qtype == GK_TYPE_DS)
			return NULL;
		const gk_rrset_t *sets[2] = {s, z->ns};
		unsigned nsets = 1;
		if (s != z->ns) {
			put_rrset(a, z->apex->name, z->apex->len, z->ns, GK_SEC_AUTHORITY, false,
			          UINT32_MAX);
			nsets = 2;
		}
		additional(sc, a, sets, nsets, z, NULL);
		return NULL;
	}
	const gk_rrset_t *cn =
	    (n->flags & GK_NODE_CNAME) ? gk_zone_node_rrset(n, GK_TYPE_CNAME) : NULL;
	if (cn) {
		put_rrset(a, owner, olen, cn, GK_SEC_ANSWER, true, UINT32_MAX);
		return cn->rrs[0].rdata;
	}
	nodata_at(a, n, qtype);
	return NULL;
}

static void resolve(const gk_zscope_t *sc, gk_asm_t *a, const uint8_t *qname, size_t qlen,
                    uint16_t qtype);

void gk_zone_resolve(const gk_zscope_t *sc, gk_asm_t *a, const uint8_t *qname, size_t qlen,
                     uint16_t qtype)
{
	resolve(sc, a, qname, qlen, qtype);
	if (a->npend)
		flush_denial(a);
}

static void resolve(const gk_zscope_t *sc, gk_asm_t *a, const uint8_t *qname, size_t qlen,
                    uint16_t qtype)
{
	const uint8_t *name = qname;
	size_t len = qlen;
	const uint8_t *seen[MAX_HOPS];
	for (unsigned hop = 0; hop < MAX_HOPS; hop++) {
		seen[hop] = name;
		const gk_node_t *n = NULL;
		int reg = REG_UNKNOWN;
		if (hop > 0) { /* a later name of the chain: see gk_tmpl_t.hops */
			if (a->nhops < GK_ASM_HOPS)
				a->hops[a->nhops++] =
				    (gk_asm_reg_t){.name = name, .len = (uint8_t)len};
		}
		nstates_t ns;
		nstates_of(a, name, len, &ns);
		enum look k = lookup(a, sc, name, len, &ns, qtype, &n, &reg);
		if (hop == 0) {
			a->aa =
			    k != LK_NONE && k != LK_SERVFAIL && k != LK_REFERRAL && !a->class_any;
			if (k == LK_NONE)
				a->rcode = GK_RCODE_REFUSED;
			else if (k == LK_SERVFAIL)
				a->rcode = GK_RCODE_SERVFAIL;
		}
		if (k == LK_NONE || k == LK_SERVFAIL)
			return;
		/* a refused registrable domain: nothing of it goes out, whatever is found for
		 * the name (data, referral, DNAME, or its zone's SOA); the chain ends here */
		if (!pass(a, name, len, reg, &ns))
			return;
		const uint8_t *next = NULL;
		switch (k) {
		case LK_NONE:
		case LK_SERVFAIL:
			return;
		case LK_REFERRAL:
			gk_zone_resolve_referral(sc, a, n);
			return;
		case LK_NXDOMAIN:
			a->rcode = GK_RCODE_NXDOMAIN;
			prove_nxdomain(a, n, name, len);
			nodata(a, n->zone);
			return;
		case LK_WILD:
			prove_wild(a, n, name, len);
			next = answer_node(sc, a, n, name, len, qtype);
			break;
		case LK_EXACT:
			/* slot mode at a wildcard's own name: where the proof for the name it
			 * answers goes (prove_wild) */
			if (a->slot_mode && hop == 0 && (n->flags & GK_NODE_WILD) &&
			    signed_zone(a, n->zone))
				deny_slot(a);
			next = answer_node(sc, a, n, name, len, qtype);
			break;
		case LK_DNAME: {
			const gk_rrset_t *d = gk_zone_node_rrset(n, GK_TYPE_DNAME);
			put_rrset(a, n->name, n->len, d, GK_SEC_ANSWER, true, UINT32_MAX);
			const uint8_t *target = d->rrs[0].rdata;
			size_t tl = gk_dname_len(target);
			size_t keep = len - n->len;
			if (keep + tl > GK_DNAME_MAX) {
				a->rcode = GK_RCODE_YXDOMAIN; /* RFC 6672 2.2 */
				return;
			}
			if (a->nscratch == GK_ASM_SCRATCH)
				return;
			uint8_t *syn = a->scratch[a->nscratch++];
			memcpy(syn, name, keep);
			memcpy(syn + keep, target, tl);
			/* the synthesized CNAME (RFC 6672 3.1): owner qname, TTL of the DNAME */
			gk_rr_t rr = {
			    .ttl = d->rrs[0].ttl, .rdlen = (uint16_t)(keep + tl), .rdata = syn};
			gk_rrset_t cs = {.type = GK_TYPE_CNAME, .count = 1, .rrs = &rr};
			unsigned nadded = a->nadded;
			put_rrset(a, name, len, &cs, GK_SEC_ANSWER, true, UINT32_MAX);
			a->nadded = nadded; /* cs lives on this stack frame: never compare to it */
			next = syn;
			break;
		}
		}
		if (!next)
			return;
		size_t nl = gk_dname_len(next);
		for (unsigned i = 0; i <= hop; i++)
			if (gk_dname_len(seen[i]) == nl && memcmp(seen[i], next, nl) == 0)
				return; /* CNAME loop: stop with what we have, as NSD does */
		name = next;
		len = nl;
	}
}

static bool add_type(uint16_t *types, unsigned *k, unsigned max, uint16_t t)
{
	for (unsigned i = 0; i < *k; i++)
		if (types[i] == t)
			return true;
	if (*k == max)
		return false;
	types[(*k)++] = t;
	return true;
}

int gk_zone_resolve_chain_types(const gk_zscope_t *sc, const gk_node_t *n, uint16_t *types,
                                unsigned max)
{
	unsigned k = 0;
	const gk_node_t *cur = n;
	for (unsigned hop = 0; hop < MAX_HOPS; hop++) {
		for (unsigned i = 0; i < cur->nrrsets; i++)
			if (!add_type(types, &k, max, cur->rrsets[i].type))
				return -1;
		if (!(cur->flags & GK_NODE_CNAME))
			break;
		const uint8_t *t = gk_zone_node_rrset(cur, GK_TYPE_CNAME)->rrs[0].rdata;
		const gk_node_t *next = NULL;
		size_t tl = gk_dname_len(t);
		nstates_t ns;
		nstates_of(NULL, t, tl, &ns);
		enum look lk = lookup(NULL, sc, t, tl, &ns, 0, &next, NULL);
		if (lk == LK_DNAME)
			return -1;
		if (lk != LK_EXACT && lk != LK_WILD)
			break;
		if (lk == LK_EXACT && next == n)
			break;
		cur = next;
	}
	return (int)k;
}
