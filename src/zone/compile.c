/* SPDX-License-Identifier: MIT */
/* src/zone/compile.c -- precompute the answer for every (name, qtype) outcome.
 *
 * For each node the compiler runs the resolver once per query type that can change the
 * answer (the node's types, the types along its CNAME chain, DS at cuts and child apexes)
 * and once for "any other type" (ANY is answered at query time); once for the zone's NXDOMAIN; for
 * each cut once for its referral. Nodes below a DNAME, and CNAME chains that pass one, get no
 * templates: their answers depend on the query name and are built at query time. Only this zone's
 * data is used: a template whose CNAME chain reaches further names records them (hops), and
 * the packet path builds the answer at query time when another served zone holds one.
 */
#include <stdlib.h>
#include <string.h>
#include "gk/errors.h"
#include "zone/dnssec.h"
#include "zone/internal.h"
#include "zone/resolve.h"

#define MAX_TYPES 64

_Static_assert(_Alignof(gk_bound_t) <= 2 && sizeof(gk_bound_t) % 2 == 0,
               "bounds and pointer positions share one allocation");

struct cc {
	gk_zver_t *v;
	const struct gk_psl *psl; /* may be NULL */
	gk_zscope_t sc;           /* this version alone */
	gk_asm_t *a;
	uint8_t *buf; /* 64 KiB message scratch */
	/* Blobs stored so far (open addressing on their hash): a template whose bounds,
	 * pointer positions and body are byte for byte another's shares that one (a name's
	 * ANY answer is its only RRset's answer; the same referral or NODATA bytes recur). */
	struct blobref {
		const uint8_t *p;
		uint32_t len;
		uint32_t hash;
	} * blobs;
	size_t bmask, bcount;
	const gk_tmpl_t **sigt; /* DO=1 templates so far (gk_dnssec_t.sigt) */
	size_t nsigt, capsigt;
};

/* Start a message whose question is (name, qtype). */
static void begin(struct cc *c, const gk_node_t *n, bool wild, bool dnssec)
{
	memset(c->buf, 0, 12);
	memcpy(c->buf + 12, n->name, n->len);
	memset(c->buf + 12 + n->len, 0, 4);
	c->a->wild_mode = wild;
	c->a->dnssec = dnssec;
	c->a->slot_mode = false;
	c->a->class_any = false;
	c->a->allow = NULL;
	c->a->psl = c->psl;
	/* leave room for a longer query name (templates move) and for OPT */
	gk_zone_asm_init(c->a, c->buf, 65535 - 256 - 11, 12u + n->len + 4u, n->name, n->len);
}

/* Registrable domains the message carries besides own's (the query's, checked anyway), into
 * tmp; returns how many. */
static unsigned other_regs(const gk_asm_t *a, const gk_node_t *own, gk_regref_t *tmp)
{
	unsigned k = 0;
	for (unsigned i = 0; i < a->nregs; i++) {
		const uint8_t *r = a->regs[i].name;
		uint8_t rl = a->regs[i].len;
		/* the query's own domain is checked anyway (a name without one too) */
		if (own->reg_off < GK_REG_UNKNOWN ? own->len - own->reg_off == rl &&
		                                        memcmp(own->name + own->reg_off, r, rl) == 0
		                                  : own->reg_off == GK_REG_NONE && rl == 0)
			continue;
		tmp[k++] = (gk_regref_t){.name = r, .len = rl, .hash = rl ? gk_namehash(r, rl) : 0};
	}
	return k;
}

/* The template's references (gk_zone_tmpl_regs, gk_zone_tmpl_hops) into the blob being built at
 * refs; returns how many. */
static unsigned put_refs(struct cc *c, gk_tmpl_t *t, const gk_node_t *own, gk_regref_t *refs)
{
	gk_asm_t *a = c->a;
	unsigned k = own ? other_regs(a, own, refs) : 0;
	if (own && a->regs_lost)
		t->flags |= GK_TMPL_RECHECK;
	/* regs, then the chain's later names: where another served zone may answer at query
	 * time */
	for (unsigned i = 0; i < a->nhops; i++)
		refs[k + i] = (gk_regref_t){.name = a->hops[i].name, .len = a->hops[i].len};
	t->nregs = (uint8_t)k;
	t->nhops = (uint8_t)a->nhops;
	return k + a->nhops;
}

/* The arena copy of blob[0..len): an earlier identical one, or a new copy. NULL: no memory. */
static const uint8_t *intern_blob(struct cc *c, const uint8_t *blob, size_t len)
{
	uint32_t h = (uint32_t)gk_dname_hash(blob, len) ^ (uint32_t)len;
	if ((c->bcount + 1) * 2 > c->bmask + 1) {
		size_t sz = c->bmask ? (c->bmask + 1) * 2 : 64;
		struct blobref *nb = calloc(sz, sizeof(*nb));
		if (!nb)
			return NULL;
		for (size_t i = 0; c->blobs && i <= c->bmask; i++) {
			if (!c->blobs[i].p)
				continue;
			size_t j = c->blobs[i].hash & (sz - 1);
			while (nb[j].p)
				j = (j + 1) & (sz - 1);
			nb[j] = c->blobs[i];
		}
		free(c->blobs);
		c->blobs = nb;
		c->bmask = sz - 1;
	}
	size_t i = h & c->bmask;
	for (; c->blobs[i].p; i = (i + 1) & c->bmask)
		if (c->blobs[i].hash == h && c->blobs[i].len == len &&
		    memcmp(c->blobs[i].p, blob, len) == 0)
			return c->blobs[i].p;
	uint8_t *p = gk_arena_dup(c->v->arena, blob, len);
	if (!p)
		return NULL;
	c->blobs[i] = (struct blobref){.p = p, .len = (uint32_t)len, .hash = h};
	c->bcount++;
	return p;
}

static int store(struct cc *c, gk_tmpl_t *t, uint16_t qtype, uint8_t qname_len, uint8_t flags,
                 const gk_node_t *own)
{
	gk_asm_t *a = c->a;
	size_t blen = a->len - a->qend;
	memset(t, 0, sizeof(*t));
	t->qtype = qtype;
	t->rcode = a->rcode;
	t->flags = (uint8_t)(flags | (a->aa ? GK_TMPL_AA : 0) | (a->fix_lost ? GK_TMPL_FIXED : 0));
	t->qname_len = qname_len;
	t->an = a->an;
	t->ns = a->ns;
	t->ar = a->ar;
	t->len = (uint16_t)blen;
	t->nfix = (uint16_t)a->nfix;
	t->nbound = (uint16_t)a->nbound;
	/* one allocation: bounds, pointer positions (both 2-byte aligned), the body, then the
	 * references 8-aligned; built in the scratch after the message, then shared or copied
	 * into the arena */
	size_t bb = a->nbound * sizeof(gk_bound_t), fb = a->nfix * sizeof(uint16_t);
	uint8_t *blob = c->buf + 65536;
	gk_bound_t *b = (gk_bound_t *)blob;
	uint16_t *fix = (uint16_t *)(blob + bb);
	uint8_t *body = blob + bb + fb;
	memcpy(b, a->bound, bb);
	memcpy(body, a->buf + a->qend, blen);
	for (unsigned i = 0; i < a->nfix; i++)
		fix[i] = (uint16_t)(a->fix[i] - a->qend);
	size_t ro = gk_zone_tmpl_refs_off(a->nbound, a->nfix, blen);
	memset(blob + bb + fb + blen, 0, ro - (bb + fb + blen));
	unsigned nrefs = put_refs(c, t, own, (gk_regref_t *)(void *)(blob + ro));
	t->blob = intern_blob(c, blob, nrefs ? ro + nrefs * sizeof(gk_regref_t) : bb + fb + blen);
	return t->blob ? 0 : GK_ENOMEM;
}

/* Make d the DO=1 template of t: an entry of the zone's gk_dnssec_t.sigt, t->sig its index
 * + 1. */
static int add_sig(struct cc *c, gk_tmpl_t *t, const gk_tmpl_t *d)
{
	if (c->nsigt == c->capsigt) {
		size_t nc = c->capsigt ? c->capsigt * 2 : 64;
		const gk_tmpl_t **ns = nc > UINT32_MAX ? NULL : realloc(c->sigt, nc * sizeof(*ns));
		if (!ns)
			return GK_ENOMEM;
		c->sigt = ns;
		c->capsigt = nc;
	}
	c->sigt[c->nsigt++] = d;
	t->sig = (uint32_t)c->nsigt;
	return 0;
}

/* The message in c->a, built in slot mode for names below ce, as a slot template (dnssec.h)
 * made the DO=1 template of t (add_sig); t->sig left 0 when the message cannot be one (the
 * answer is built at query time: a CNAME chain, no slot reached, more names or proofs than
 * a slot records). */
static int store_slot(struct cc *c, const gk_node_t *ce, uint16_t qtype, uint8_t qname_len,
                      uint8_t flags, const gk_node_t *own, gk_tmpl_t *t)
{
	const gk_asm_t *a = c->a;
	if (!a->slot_set || a->slot_lost || a->nhops || a->fix_lost || a->full || a->nbound > 250 ||
	    a->nct + 8 > GK_ASM_NAMES || a->len > 8192)
		return 0;
	const uint8_t *apex = gk_zone_ver_apex(c->v);
	size_t alen = c->v->apex_len;
	gk_dnssec_slot_t *sl = gk_arena_alloc(c->v->arena, sizeof(*sl));
	if (!sl)
		return GK_ENOMEM;
	memset(sl, 0, sizeof(*sl));
	for (unsigned i = 0; i < a->nsnames; i++) {
		const uint8_t *nm = a->snames[i].name;
		uint8_t nl = a->snames[i].len;
		if (nl <= alen || !gk_dname_is_subdomain(nm, nl, apex, alen))
			continue; /* not below the apex: no piece's owner can share a suffix */
		bool seen = false;
		for (unsigned k = 0; k < sl->nnames && !seen; k++)
			seen = sl->name_len[k] == nl && sl->name_bound[k] == a->snames[i].bound &&
			       memcmp(sl->name[k], nm, nl) == 0;
		if (seen)
			continue;
		if (sl->nnames == GK_SLOT_NAMES || a->snames[i].bound > 255)
			return 0;
		sl->name[sl->nnames] = nm;
		sl->name_bound[sl->nnames] = (uint8_t)a->snames[i].bound;
		sl->name_len[sl->nnames++] = nl;
	}
	for (unsigned i = 0; i < a->nsdup; i++) {
		sl->dup[i] = a->sdup[i].node;
		sl->dup_bound[i] = (uint8_t)a->sdup[i].bound;
	}
	sl->ndup = (uint8_t)a->nsdup;
	sl->ce = ce;
	sl->off = a->slot_off;
	sl->bound = (uint8_t)a->slot_bound;
	int rc = store(c, &sl->t, qtype, qname_len, (uint8_t)(flags | GK_TMPL_SLOT), own);
	if (rc < 0)
		return rc;
	return add_sig(c, t, &sl->t);
}

/* One outcome at n (qtype, or the referral at a cut) into t and, in a signed zone, its
 * DO=1 answer into t->sig. A wildcard's DO=1 answers prove that the query name does not
 * exist, which depends on that name: they are slot templates (or built at query time). */
static int one(struct cc *c, gk_tmpl_t *t, const gk_node_t *n, uint16_t qtype, bool referral,
               uint8_t flags, bool wild)
{
	for (int pass = 0; pass < 2; pass++) {
		gk_tmpl_t *dst = t;
		if (pass == 1) {
			if (!c->v->zone.sec)
				break;
			if (wild) {
				begin(c, n, wild, true);
				c->a->slot_mode = true;
				gk_zone_resolve(&c->sc, c->a, n->name, n->len, qtype);
				c->a->slot_mode = false;
				return n->parent
				           ? store_slot(c, n->parent, qtype, n->len, flags, n, t)
				           : 0;
			}
			dst = gk_arena_alloc(c->v->arena, sizeof(*dst));
			if (!dst)
				return GK_ENOMEM;
		}
		begin(c, n, wild, pass == 1);
		if (referral)
			gk_zone_resolve_referral(&c->sc, c->a, n);
		else
			gk_zone_resolve(&c->sc, c->a, n->name, n->len, qtype);
		int rc = store(c, dst, qtype, n->len, flags, n);
		if (rc < 0)
			return rc;
		if (pass == 1 && (rc = add_sig(c, t, dst)) < 0)
			return rc;
	}
	return 0;
}

static uint16_t absent_type(const uint16_t *types, int k)
{
	for (uint16_t t = 65280;; t++) {
		bool used = false;
		for (int i = 0; i < k; i++)
			used |= types[i] == t;
		if (!used)
			return t;
	}
}

/* The message in c->a (n's answer to a type it has no data for) is the zone's NODATA
 * template relocated to n's name: then n shares that template instead of a copy of its
 * own (most names of a zone have the same "other type" answer). */
static bool same_as_nodata(const struct cc *c, const gk_node_t *n)
{
	const gk_asm_t *a = c->a;
	const gk_tmpl_t *nd = c->v->zone.nodata;
	gk_regref_t tmp[GK_ASM_REGS];
	size_t blen = a->len - a->qend;
	if (a->rcode != nd->rcode || !a->aa || a->an != nd->an || a->ns != nd->ns ||
	    a->ar != nd->ar || a->fix_lost || a->regs_lost || a->nhops || blen != nd->len ||
	    a->nfix != nd->nfix || a->nbound != nd->nbound || other_regs(a, n, tmp) != 0 ||
	    memcmp(a->bound, gk_zone_tmpl_bound(nd), a->nbound * sizeof(gk_bound_t)) != 0)
		return false;
	const uint8_t *body = a->buf + a->qend, *ndb = gk_zone_tmpl_body(nd);
	const uint16_t *ndf = gk_zone_tmpl_fix(nd);
	int delta = (int)n->len - (int)nd->qname_len;
	size_t at = 0;
	for (unsigned i = 0; i < nd->nfix; i++) { /* as gk_zone_put_tmpl relocates */
		size_t p = ndf[i];
		if (a->fix[i] - a->qend != p || memcmp(body + at, ndb + at, p - at) != 0)
			return false;
		unsigned tgt = ((ndb[p] & 0x3fu) << 8) | ndb[p + 1];
		if (tgt >= 12) /* SHIFT_WHOLE */
			tgt = (unsigned)((int)tgt + delta);
		if (body[p] != (uint8_t)(0xc0 | tgt >> 8) || body[p + 1] != (uint8_t)tgt)
			return false;
		at = p + 2;
	}
	return memcmp(body + at, ndb + at, blen - at) == 0;
}

static int compile_node(struct cc *c, gk_node_t *n)
{
	gk_arena_t *arena = c->v->arena;
	if (n->dname || (n->cut && n->cut != n))
		return 0; /* runtime (below DNAME) or the cut's referral */
	if (n->cut == n) {
		gk_tmpl_t *t = gk_arena_alloc(arena, 2 * sizeof(gk_tmpl_t));
		if (!t)
			return GK_ENOMEM;
		int rc = one(c, &t[0], n, GK_TYPE_DS, false, 0, false);
		if (rc < 0)
			return rc;
		rc = one(c, &t[1], n, 0, true, GK_TMPL_SHIFT_WHOLE, false);
		n->tmpls = t;
		n->ntmpl = 1;
		n->tkey[0] = GK_TYPE_DS;
		n->other = &t[1];
		return rc;
	}
	uint16_t types[MAX_TYPES];
	int k = gk_zone_resolve_chain_types(&c->sc, n, types, MAX_TYPES - 3);
	if (k < 0)
		return 0; /* chain through a DNAME: runtime */
	/* no ANY: RFC 8482's one RRset is rare in traffic and built at query time
	 * (gk_zone_node_tmpl); its template cost about 400 bytes a zone */
	uint16_t other = absent_type(types, k);
	types[k++] = other;
	bool wild = (n->flags & GK_NODE_WILD) != 0;
	/* the answer to other types first: when it is the zone's NODATA, share that */
	const gk_tmpl_t *shared = NULL;
	if (!wild && !c->v->zone.sec) {
		/* not in a signed zone: a name's DO=1 NODATA proves that name (its NSEC or NSEC3),
		 * so each keeps its own template and twin */
		begin(c, n, false, false);
		gk_zone_resolve(&c->sc, c->a, n->name, n->len, other);
		if (same_as_nodata(c, n))
			shared = c->v->zone.nodata;
	}
	int own = shared ? k - 1 : k;
	gk_tmpl_t *t = gk_arena_alloc(arena, (size_t)own * sizeof(gk_tmpl_t));
	if (!t)
		return GK_ENOMEM;
	for (int i = 0; i < own; i++) {
		int rc = one(c, &t[i], n, types[i], false, 0, wild);
		if (rc < 0)
			return rc;
	}
	n->tmpls = t;
	n->ntmpl = (uint16_t)(k - 1);
	for (int i = 0; i < k - 1 && i < GK_NODE_TKEYS; i++)
		n->tkey[i] = types[i];
	n->other = shared ? shared : &t[k - 1];
	return 0;
}

/* A signed zone: the pieces of its NSEC or NSEC3 chain and the DO=1 NXDOMAIN for names
 * below the apex (a slot template, the twin of the zone's NXDOMAIN nx). */
static int compile_denial(struct cc *c, gk_tmpl_t *nx)
{
	gk_zver_t *v = c->v;
	gk_dnssec_t *s = (gk_dnssec_t *)v->zone.sec;
	const gk_node_t *apex = v->zone.apex;
	gk_tmpl_t *pc = gk_arena_alloc(v->arena, (s->n + 1) * sizeof(*pc));
	uint8_t *pcl = gk_arena_alloc(v->arena, s->n + 1);
	if (!pc || !pcl)
		return GK_ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		const gk_node_t *d = s->chain[i];
		begin(c, apex, false, true);
		gk_zone_resolve_denial(c->a, d);
		int rc = store(c, &pc[i], 0, apex->len, GK_TMPL_SHIFT_WHOLE, NULL);
		if (rc < 0)
			return rc;
		pcl[i] = (uint8_t)gk_zone_dnssec_child_len(d->name, d->len, apex->len);
	}
	s->piece = pc;
	s->pclen = pcl;
	begin(c, apex, false, true);
	c->a->slot_mode = true;
	gk_zone_resolve_nxdomain_slot(c->a, apex);
	c->a->slot_mode = false;
	return store_slot(c, apex, 0, apex->len, GK_TMPL_SHIFT_WHOLE, NULL, nx);
}

int gk_zone_ver_compile(gk_zver_t *v, const struct gk_psl *psl)
{
	struct cc c = {.v = v, .psl = psl, .sc = {.zs = NULL, .only = v}};
	c.a = malloc(sizeof(gk_asm_t));
	c.buf = malloc(65536 + GK_ASM_BOUNDS * sizeof(gk_bound_t) + GK_ASM_FIX * sizeof(uint16_t) +
	               65536 + 8 + (GK_ASM_REGS + GK_ASM_HOPS) * sizeof(gk_regref_t));
	/* the message, then a template's blob */
	int rc = GK_ENOMEM;
	gk_zone_t *z = &v->zone;
	gk_tmpl_t *t = NULL, *nd = NULL;
	if (!c.a || !c.buf)
		goto out;
	t = gk_arena_alloc(v->arena, 2 * sizeof(*t));
	if (!t)
		goto out;
	begin(&c, z->apex, false, false);
	gk_zone_resolve_nxdomain(c.a, z);
	rc = store(&c, t, 0, z->apex->len, GK_TMPL_SHIFT_WHOLE, NULL);
	if (rc < 0)
		goto out;
	z->nxdomain = t;
	/* NODATA for any name of the zone: the filing actions' "nodata" */
	nd = t + 1;
	begin(&c, z->apex, false, false);
	gk_zone_resolve_nodata(c.a, z);
	rc = store(&c, nd, 0, z->apex->len, GK_TMPL_SHIFT_WHOLE, NULL);
	if (rc < 0)
		goto out;
	z->nodata = nd;
	if (z->sec) {
		rc = compile_denial(&c, t);
		if (rc < 0)
			goto out;
	}
	for (size_t i = 0; i <= v->mask && rc == 0; i++)
		if (v->table[i].node)
			rc = compile_node(&c, v->table[i].node);
	if (rc == 0 && c.nsigt) {
		/* the zone's own: sec was built for this version (gk_zone_dnssec_prepare) */
		gk_dnssec_t *sec = (gk_dnssec_t *)z->sec;
		sec->sigt = gk_arena_dup(v->arena, c.sigt, c.nsigt * sizeof(*c.sigt));
		sec->nsigt = (uint32_t)c.nsigt;
		if (!sec->sigt)
			rc = GK_ENOMEM;
	}
out:
	free(c.sigt);
	free(c.a);
	free(c.buf);
	free(c.blobs);
	return rc;
}
