/* SPDX-License-Identifier: MIT */
/* src/zone/answer.c -- the packet path's side of the store: find, check and write answers.
 *
 * Finding costs the store's probe for the zone (one per apex depth in use, usually one),
 * then one hash lookup in the zone's table for a name that exists, one per label stripped
 * otherwise. A template is used as compiled unless something outside its zone now decides
 * the answer: a name its CNAME chain reaches belongs to another served zone, or DS is asked
 * at an apex whose parent zone is served; those answers are built at query time.
 */
#include <string.h>
#include "common/psl.h"
#include "zone/answer.h"
#include "zone/dnssec.h"
#include "zone/internal.h"
#include "zone/resolve.h"

#define GK_SLOT_BOUNDS 256

/* A template serves a query name of qlen octets unless it is missing or cannot move. */
static inline bool usable(const gk_tmpl_t *t, size_t qlen)
{
	return t && (!(t->flags & GK_TMPL_FIXED) || t->qname_len == qlen);
}

/* Every later name of the template's chain still belongs where it did at compile time: in
 * this zone (no deeper served zone took it) or, outside the apex, in no served zone. */
static bool hops_hold(const gk_zoneset_t *zs, const gk_zver_t *v, const gk_tmpl_t *t)
{
	for (unsigned i = 0; i < t->nhops; i++) {
		const uint8_t *n = gk_zone_tmpl_hops(t)[i].name;
		size_t l = gk_zone_tmpl_hops(t)[i].len;
		const gk_zver_t *want =
		    gk_dname_is_subdomain(n, l, gk_zone_ver_apex(v), v->apex_len) ? v : NULL;
		/* the hop's label offsets and every suffix's hash state, once */
		uint8_t loff[GK_DNAME_LABELS_MAX];
		unsigned labels = 0;
		for (size_t o = 0; o < l && n[o] && labels < GK_DNAME_LABELS_MAX; o += n[o] + 1u)
			loff[labels++] = (uint8_t)o;
		uint64_t st[GK_DNAME_LABELS_MAX + 1];
		gk_namehash_states(n, l, loff, labels, st);
		if (gk_zone_store_zone_of_st(zs, n, l, loff, labels, st) != want)
			return false;
	}
	return true;
}

/* DS at the apex of a zone whose parent zone is served and has a node of that name: the
 * parent answers it (RFC 4035 3.1.4.1), which only the resolver can combine. */
static bool parent_ds(const gk_zoneset_t *zs, const uint8_t *name, size_t len, const uint8_t *loff,
                      unsigned labels)
{
	if (labels == 0)
		return false; /* the root has no parent */
	size_t off = labels > 1 ? loff[1] : len - 1u;
	const gk_zver_t *pv = gk_zone_store_zone_of(zs, name + off, len - off,
	                                            gk_namehash(name + off, len - off), NULL, 0);
	return pv && gk_zone_ver_find(pv, name, len, gk_namehash(name, len));
}

gk_zone_src_t gk_zone_find(const gk_zoneset_t *zs, const uint8_t *name, size_t len,
                           const uint8_t *loff, unsigned labels, const uint64_t *given,
                           uint16_t qtype, const gk_zone_hint_t *hint, gk_zone_hit_t *h)
{
	uint64_t hash, own[GK_DNAME_LABELS_MAX + 1];
	const uint64_t *st = given;
	const gk_zver_t *v = NULL;
	if (hint && hint->ok && hint->probed) {
		hash = hint->hash;
		/* stage 1 tried the two deepest apex depths in use, deepest first: a match
		 * (checked here by name) is the deepest zone */
		const gk_zver_t *hv = hint->ver;
		size_t off = hv ? hint->zoff[hint->zk] : 0;
		if (hv && hv->apex_len == len - off &&
		    gk_zone_name_eq(gk_zone_ver_apex(hv), name + off, len - off) &&
		    (hint->zk == 0 || /* stage 1 saw one slot: the deeper suffix is no zone? */
		     !gk_zone_store_get_h(zs, name + hint->zoff[0], len - hint->zoff[0],
		                          hint->zhash[0])))
			v = hv;
		else
			v = gk_zone_store_zone_of(zs, name, len, hash, loff, labels);
	} else {
		/* one right-to-left pass: the name's and every ancestor's hash */
		if (!st) {
			gk_namehash_states(name, len, loff, labels, own);
			st = own;
		}
		hash = gk_namehash_fin(st[0]);
		v = gk_zone_store_zone_of_st(zs, name, len, loff, labels, st);
	}
	if (!v)
		return GK_ZONE_REFUSED;
	h->ver = v;
	h->t = NULL;
	if (gk_zone_ver_placeholder_p(v)) {
		h->node = NULL;
		return GK_ZONE_SERVFAIL;
	}
	const gk_node_t *n = gk_zone_ver_find(v, name, len, hash);
	const gk_tmpl_t *t;
	h->exact = n != NULL;
	if (n) {
		h->node = n;
		if (n->cut)
			t = (n->cut == n && qtype == GK_TYPE_DS) ? &n->tmpls[0] : n->cut->other;
		else if (n->dname)
			return GK_ZONE_RUNTIME;
		else if (qtype == GK_TYPE_DS && (n->flags & GK_NODE_APEX) &&
		         parent_ds(zs, name, len, loff, labels))
			return GK_ZONE_RUNTIME;
		else
			t = gk_zone_node_tmpl(n, qtype);
	} else {
		/* closest encloser inside the zone: strip labels from the left; the apex ends it */
		if (!st) {
			gk_namehash_states(name, len, loff, labels, own);
			st = own;
		}
		for (unsigned i = 1; i < labels + 1u && !n; i++) {
			size_t off = i < labels ? loff[i] : len - 1u;
			if (len - off < v->apex_len)
				break;
			n = gk_zone_ver_find(v, name + off, len - off, gk_namehash_fin(st[i]));
		}
		if (!n)
			return GK_ZONE_RUNTIME; /* not reached: the apex is in the table */
		h->node = n;
		if (n->cut)
			t = n->cut->other;
		else if ((n->flags & GK_NODE_DNAME) || n->dname)
			return GK_ZONE_RUNTIME;
		else
			t = n->wild ? gk_zone_node_tmpl(n->wild, qtype) : n->zone->nxdomain;
	}
	h->t = t;
	if (!usable(t, len))
		return GK_ZONE_RUNTIME;
	if (t->nhops && !hops_hold(zs, v, t))
		return GK_ZONE_RUNTIME;
	return GK_ZONE_TMPL;
}

/* gk_zone_reg for a zone that does not fix the registrable domain (out of line: the common
 * case stays a few instructions). */
static __attribute__((noinline)) int reg_of_name(const gk_zone_hit_t *h, const struct gk_psl *psl,
                                                 const uint8_t *qname, size_t qlen,
                                                 const uint8_t *loff, unsigned labels,
                                                 const uint64_t *st, uint64_t *hash)
{
	const gk_node_t *n = h->node;
	int off;
	if (h->exact && n->reg_off < GK_REG_UNKNOWN)
		off = n->reg_off;
	else if (h->exact && n->reg_off == GK_REG_NONE)
		off = -1;
	else
		off = psl ? gk_psl_registrable_wire(psl, qname, qlen) : -1;
	if (off >= 0)
		*hash = st ? gk_namehash_fin(gk_namehash_state_at(st, loff, labels, (size_t)off))
		           : gk_namehash(qname + off, qlen - (size_t)off);
	return off;
}

int gk_zone_reg(const gk_zone_hit_t *h, const struct gk_psl *psl, const uint8_t *qname, size_t qlen,
                const uint8_t *loff, unsigned labels, const uint64_t *st, uint64_t *hash)
{
	const gk_zone_t *z = h->node->zone;
	if (z->reg_len) {
		*hash = z->reg_hash;
		return (int)(qlen - z->reg_len);
	}
	return reg_of_name(h, psl, qname, qlen, loff, labels, st, hash);
}

_Atomic uint64_t *gk_zone_memo(const gk_zone_hit_t *h)
{
	const gk_zone_t *z = h->node->zone;
	return z->reg_len ? z->memo : NULL;
}

bool gk_zone_tmpl_clean(const gk_zone_hit_t *h,
                        bool (*refused)(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash),
                        void *ctx)
{
	const gk_tmpl_t *t = h->t;
	if (t->flags & GK_TMPL_RECHECK)
		return false;
	const gk_regref_t *r = gk_zone_tmpl_regs(t);
	for (unsigned i = 0; i < t->nregs; i++)
		if (refused(ctx, r[i].len ? r[i].name : NULL, r[i].len, r[i].hash))
			return false;
	return true;
}

void gk_zone_names(const gk_zone_hit_t *h, gk_zone_names_t *o)
{
	const gk_node_t *n = h->node;
	o->apex = h->ver->apex_len;
	o->cut = n->cut ? n->cut->len : 0;
	o->wild = !h->exact && !n->cut && n->wild && !(n->flags & GK_NODE_DNAME) && !n->dname
	              ? n->len
	              : 0;
}

bool gk_zone_signed(const gk_zone_hit_t *h)
{
	return h->node->zone->sec != NULL;
}

int gk_zone_use_do(gk_zone_hit_t *h, size_t qlen)
{
	const gk_tmpl_t *s = h->t ? gk_zone_dnssec_tmpl_sig(h->ver->zone.sec, h->t) : NULL;
	if (!usable(s, qlen))
		return 0;
	if (!(s->flags & GK_TMPL_SLOT)) {
		h->t = s;
		return 1;
	}
	/* a slot template answers names below its closest encloser only */
	if (h->exact || ((const gk_dnssec_slot_t *)(const void *)s)->ce != h->node)
		return 0;
	h->t = s;
	return 2;
}

bool gk_zone_slotted(const gk_zone_hit_t *h)
{
	return (h->t->flags & GK_TMPL_SLOT) != 0;
}

void gk_zone_use_negative(gk_zone_hit_t *h, bool nxdomain)
{
	const gk_zone_t *z = h->node->zone;
	h->t = nxdomain ? z->nxdomain : z->nodata;
}

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Keep whole RRsets up to room; TC when a required one is cut. Returns body length. */
static size_t fit(const gk_bound_t *b, unsigned nb, size_t body, size_t room, uint16_t cnt[3],
                  bool *tc)
{
	if (body <= room)
		return body;
	unsigned k = 0;
	while (k < nb && b[k].end <= room)
		k++;
	cnt[0] = cnt[1] = cnt[2] = 0;
	for (unsigned i = 0; i < k; i++)
		cnt[b[i].section] += b[i].rrs;
	for (unsigned i = k; i < nb; i++)
		if (b[i].required)
			*tc = true;
	return k ? b[k - 1].end : 0;
}

void gk_zone_put_tmpl(const gk_zone_hit_t *h, uint8_t *b, size_t qlen, size_t room,
                      gk_zone_out_t *o)
{
	const gk_tmpl_t *t = h->t;
	memcpy(b, gk_zone_tmpl_body(t), t->len);
	int delta = (int)qlen - (int)t->qname_len;
	if (delta) {
		const uint16_t *fix = gk_zone_tmpl_fix(t);
		for (unsigned i = 0; i < t->nfix; i++) {
			uint8_t *p = b + fix[i];
			unsigned tgt = ((p[0] & 0x3fu) << 8) | p[1];
			if (tgt > 12 || (tgt == 12 && (t->flags & GK_TMPL_SHIFT_WHOLE)))
				wr16(p, (uint16_t)(0xc000 | (tgt + (unsigned)delta)));
		}
	}
	o->cnt[0] = t->an;
	o->cnt[1] = t->ns;
	o->cnt[2] = t->ar;
	o->tc = false;
	o->body = fit(gk_zone_tmpl_bound(t), t->nbound, t->len, room, o->cnt, &o->tc);
	o->rcode = t->rcode;
	o->aa = (t->flags & GK_TMPL_AA) != 0;
}

/* Pointer targets stay below this (as the resolver's compression table does). */
#define SLOT_MAX_OFF (0x3fff - 256)

static inline unsigned rd_ptr(const uint8_t *p)
{
	return ((p[0] & 0x3fu) << 8) | p[1];
}

bool gk_zone_put_slot(const gk_zone_hit_t *h, uint8_t *b, const uint8_t *qname, size_t qlen,
                      const uint8_t *loff, unsigned labels, size_t room, gk_zone_out_t *o)
{
	const gk_dnssec_slot_t *sl = (const gk_dnssec_slot_t *)(const void *)h->t;
	const gk_tmpl_t *t = &sl->t, *p;
	const gk_zone_t *z = sl->ce->zone;
	int dup;
	if (!gk_zone_dnssec_slot_piece(z->sec, sl, qname, qlen, loff, labels, &p, &dup))
		return false;
	const gk_bound_t *tb = gk_zone_tmpl_bound(t);
	const uint8_t *tbody = gk_zone_tmpl_body(t);
	size_t off = sl->off, plen = p ? p->len : 0;
	/* [rs, re): the RRset that moves into the slot */
	size_t rs = t->len, re = t->len;
	unsigned rb = ~0u;
	if (dup >= 0) {
		rb = sl->dup_bound[dup];
		rs = rb ? tb[rb - 1].end : 0;
		re = tb[rb].end;
	}
	size_t total = t->len + plen - (re - rs), qend = 12 + qlen + 4;
	if (qend + total >= SLOT_MAX_OFF || t->nbound + 1u > GK_SLOT_BOUNDS)
		return false;
	memcpy(b, tbody, off);
	if (p)
		memcpy(b + off, gk_zone_tmpl_body(p), plen);
	memcpy(b + off + plen, tbody + off, rs - off);
	memcpy(b + rs + plen, tbody + re, t->len - re);
	/* template offsets to answer offsets: the slot opens, [rs, re) closes */
	size_t qend_t = 12u + t->qname_len + 4u;
	int delta = (int)qlen - (int)t->qname_len;
	const uint16_t *fx = gk_zone_tmpl_fix(t);
	for (unsigned i = 0; i < t->nfix; i++) {
		size_t f = fx[i];
		if (f >= rs && f < re)
			continue;
		size_t nf = f < off ? f : f < rs ? f + plen : f + plen - (re - rs);
		unsigned tgt = rd_ptr(tbody + f);
		if (tgt >= qend_t) {
			size_t bo = tgt - qend_t;
			if (bo >= rs && bo < re)
				return false; /* a name of the moving RRset: not worth it */
			tgt = (unsigned)(qend + (bo < off  ? bo
			                         : bo < rs ? bo + plen
			                                   : bo + plen - (re - rs)));
		} else if (tgt > 12 || (tgt == 12 && (t->flags & GK_TMPL_SHIFT_WHOLE))) {
			tgt = (unsigned)((int)tgt + delta);
		}
		wr16(b + nf, (uint16_t)(0xc000 | tgt));
	}
	if (p) { /* compiled with the apex as the question, alone */
		const uint16_t *pf = gk_zone_tmpl_fix(p);
		const uint8_t *pb = gk_zone_tmpl_body(p);
		size_t qend_p = 12u + p->qname_len + 4u;
		for (unsigned i = 0; i < p->nfix; i++) {
			unsigned tgt = rd_ptr(pb + pf[i]);
			tgt = tgt >= qend_p ? (unsigned)(qend + off + (tgt - qend_p))
			                    : (unsigned)(tgt + qlen - p->qname_len);
			wr16(b + off + pf[i], (uint16_t)(0xc000 | tgt));
		}
	}
	gk_bound_t nb[GK_SLOT_BOUNDS];
	unsigned k = 0;
	uint16_t rrs = 0;
	for (unsigned i = 0; i < t->nbound; i++) {
		if (i == sl->bound && p)
			nb[k++] = (gk_bound_t){.end = (uint16_t)(off + plen),
			                       .rrs = p->ns,
			                       .section = GK_SEC_AUTHORITY,
			                       .required = 1};
		if (i == rb) {
			rrs = tb[i].rrs;
			continue;
		}
		nb[k] = tb[i];
		if (i >= sl->bound)
			nb[k].end = (uint16_t)(tb[i].end <= rs ? tb[i].end + plen
			                                       : tb[i].end + plen - (re - rs));
		k++;
	}
	if (p && sl->bound == t->nbound)
		nb[k++] = (gk_bound_t){.end = (uint16_t)(off + plen),
		                       .rrs = p->ns,
		                       .section = GK_SEC_AUTHORITY,
		                       .required = 1};
	o->cnt[0] = t->an;
	o->cnt[1] = (uint16_t)(t->ns + (p ? p->ns : 0) - rrs);
	o->cnt[2] = t->ar;
	o->tc = false;
	o->body = fit(nb, k, total, room, o->cnt, &o->tc);
	o->rcode = t->rcode;
	o->aa = (t->flags & GK_TMPL_AA) != 0;
	return true;
}

void gk_zone_put_runtime(const gk_zoneset_t *zs, uint8_t *msg, size_t cap, size_t qend,
                         const uint8_t *qname, size_t qlen, const uint8_t *loff, unsigned labels,
                         const uint64_t *st, uint16_t qtype, bool class_any, bool dnssec,
                         bool (*allow)(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash),
                         void *ctx, const struct gk_psl *psl, size_t room, gk_zone_out_t *o)
{
	gk_asm_t a;
	gk_zscope_t sc = {.zs = zs, .only = NULL};
	a.wild_mode = false;
	a.dnssec = dnssec;
	a.slot_mode = false;
	a.class_any = class_any;
	a.allow = allow;
	a.allow_ctx = ctx;
	a.psl = psl;
	gk_zone_asm_init(&a, msg, cap, qend, qname, qlen);
	if (st) {
		a.qh_name = qname;
		a.qh_loff = loff;
		a.qh_labels = labels;
		a.qh_st = st;
	}
	gk_zone_resolve(&sc, &a, qname, qlen, qtype);
	o->cnt[0] = a.an;
	o->cnt[1] = a.ns;
	o->cnt[2] = a.ar;
	o->tc = a.full_req;
	o->body = fit(a.bound, a.nbound, a.len - qend, room, o->cnt, &o->tc);
	o->rcode = a.rcode;
	o->aa = a.aa;
}
