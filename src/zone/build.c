/* SPDX-License-Identifier: MIT */
/* src/zone/build.c -- build one zone version: load the zone, check it, index every name.
 *
 * Build order: read records (load.c), group them into nodes and RRsets (empty
 * non-terminals created for every ancestor up to the apex), check the zone, link cuts,
 * DNAMEs and wildcards, index the names in the version's own table, record registrable
 * domains, then compile answers (compile.c) from this zone's data alone. Any failure
 * frees everything built so far. Never touches a store: versions are published by the
 * caller (store.c), so nothing here costs more than the one zone.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "common/psl.h"
#include "gk/errors.h"
#include "zone/dnssec.h"
#include "zone/internal.h"
#include "zone/load.h"
#include <sys/stat.h>
#include <time.h>

/* Build-time RRset: grows with realloc, copied into the arena when the zone is done. */
struct brrset {
	uint16_t type;
	unsigned line;
	const char *file;
	size_t n, cap;
	gk_rr_t *rrs;
	struct brrset *next;
};

/* Build-time state of a node (malloc'd, freed with the build): the node itself is in the
 * version's arena and carries nothing the build alone needs. */
struct bnode {
	gk_node_t *np;
	struct brrset *sets, **tail;
	struct bnode *next; /* zbuild.all */
};

/* Open-addressing table of nodes by name (build time per zone, and the final set). */
struct ntab {
	struct bnode **slots;
	size_t mask, count;
};

static struct bnode **ntab_slot(struct ntab *t, const uint8_t *name, size_t len)
{
	size_t i = gk_namehash(name, len) & t->mask;
	for (;;) {
		gk_node_t *n = t->slots[i] ? t->slots[i]->np : NULL;
		if (!n || (n->len == len && memcmp(n->name, name, len) == 0))
			return &t->slots[i];
		i = (i + 1) & t->mask;
	}
}

static int ntab_init(struct ntab *t, size_t want)
{
	size_t sz = 16;
	while (sz < want * 2)
		sz <<= 1;
	t->slots = calloc(sz, sizeof(*t->slots));
	t->mask = sz - 1;
	t->count = 0;
	return t->slots ? 0 : GK_ENOMEM;
}

static int ntab_put(struct ntab *t, struct bnode *n)
{
	if ((t->count + 1) * 2 > t->mask + 1) {
		struct ntab bigger;
		if (ntab_init(&bigger, (t->mask + 1)) < 0)
			return GK_ENOMEM;
		for (size_t i = 0; i <= t->mask; i++)
			if (t->slots[i])
				*ntab_slot(&bigger, t->slots[i]->np->name, t->slots[i]->np->len) =
				    t->slots[i];
		bigger.count = t->count;
		free(t->slots);
		*t = bigger;
	}
	struct bnode **s = ntab_slot(t, n->np->name, n->np->len);
	if (!*s)
		t->count++;
	*s = n;
	return 0;
}

/* ---- building one zone ---------------------------------------------------------------- */

struct zbuild {
	gk_zver_t *v;
	gk_zone_t *zone;
	struct ntab tab;
	struct bnode *all; /* list through next, newest first */
	size_t nnodes;
	char *err;
	size_t errlen;
	const char *fname; /* the zone file (spec->file) or "<text>": the caller's string */
};

static int errf(struct zbuild *B, int code, const char *file, unsigned line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static int errf(struct zbuild *B, int code, const char *file, unsigned line, const char *fmt, ...)
{
	if (B->errlen) {
		int n = line ? snprintf(B->err, B->errlen, "%s:%u: ", file, line)
		             : snprintf(B->err, B->errlen, "%s: ", file);
		if (n > 0 && (size_t)n < B->errlen) {
			va_list ap;
			va_start(ap, fmt);
			vsnprintf(B->err + n, B->errlen - (size_t)n, fmt, ap);
			va_end(ap);
		}
	}
	return code;
}

static struct bnode *get_node(struct zbuild *B, const uint8_t *name, size_t len)
{
	struct bnode **s = ntab_slot(&B->tab, name, len);
	if (*s)
		return *s;
	struct bnode *bn = calloc(1, sizeof(*bn));
	if (!bn)
		return NULL;
	bn->tail = &bn->sets;
	bn->next = B->all;
	B->all = bn; /* freed with the build whatever happens next */
	/* 64-aligned: what a query reads of it is one cache line (internal.h); the name
	 * allocated next fills the rest of the node's second line */
	gk_node_t *n = gk_arena_alloc_aligned(B->v->arena, sizeof(*n), 64);
	if (!n)
		return NULL;
	memset(n, 0, sizeof(*n));
	bn->np = n;
	n->name = gk_arena_dup(B->v->arena, name, len);
	if (!n->name)
		return NULL;
	n->len = (uint8_t)len;
	n->labels = (uint8_t)gk_dname_labels(name);
	n->zone = B->zone;
	n->idx = (uint32_t)B->nnodes;
	if (ntab_put(&B->tab, bn) < 0)
		return NULL;
	B->nnodes++;
	/* every ancestor up to the apex exists (empty non-terminals) */
	const gk_node_t *apex = B->zone->apex;
	if (apex && len > apex->len) {
		struct bnode *p = get_node(B, name + name[0] + 1, len - name[0] - 1u);
		if (!p)
			return NULL;
		bn->np->parent = p->np;
	}
	return bn;
}

static int add_rr(struct zbuild *B, struct bnode *bn, uint16_t type, uint32_t ttl,
                  const uint8_t *rd, size_t rdlen, const char *file, unsigned line)
{
	struct brrset *s;
	for (s = bn->sets; s; s = s->next)
		if (s->type == type)
			break;
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			return GK_ENOMEM;
		s->type = type;
		s->file = file;
		s->line = line;
		*bn->tail = s;
		bn->tail = &s->next;
		bn->np->nrrsets++;
	}
	for (size_t i = 0; i < s->n; i++)
		if (s->rrs[i].rdlen == rdlen && memcmp(s->rrs[i].rdata, rd, rdlen) == 0)
			return 0; /* RRsets are sets (RFC 2181 5) */
	if (s->n == 65535)
		return errf(B, GK_EZONE, file, line, "RRset too large");
	if (s->n && (type == GK_TYPE_SOA || type == GK_TYPE_CNAME || type == GK_TYPE_DNAME)) {
		char nb[1024];
		return errf(B, GK_EZONE, file, line, "more than one %s record at %s",
		            type == GK_TYPE_SOA     ? "SOA"
		            : type == GK_TYPE_CNAME ? "CNAME"
		                                    : "DNAME",
		            gk_dname_to_str(bn->np->name, nb, sizeof nb));
	}
	if (s->n == s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 4;
		gk_rr_t *nr = realloc(s->rrs, nc * sizeof(*nr));
		if (!nr)
			return GK_ENOMEM;
		s->rrs = nr;
		s->cap = nc;
	}
	const uint8_t *copy = gk_arena_dup(B->v->arena, rd, rdlen);
	if (!copy && rdlen)
		return GK_ENOMEM;
	s->rrs[s->n++] = (gk_rr_t){.ttl = ttl, .rdlen = (uint16_t)rdlen, .rdata = copy};
	B->v->nrr++;
	return 0;
}

static void free_build_sets(struct zbuild *B)
{
	for (struct bnode *bn = B->all, *nb; bn; bn = nb) {
		struct brrset *s = bn->sets;
		while (s) {
			struct brrset *nx = s->next;
			free(s->rrs);
			free(s);
			s = nx;
		}
		nb = bn->next;
		free(bn);
	}
	B->all = NULL;
	free(B->tab.slots);
	B->tab.slots = NULL;
}

static char *name_str(const uint8_t *n, char *buf, size_t cap)
{
	return gk_dname_to_str(n, buf, cap);
}

/* Per-node content checks and the move of RRsets into the arena. */
static int finish_node(struct zbuild *B, struct bnode *bn)
{
	gk_node_t *n = bn->np;
	char nb[1024];
	if (n->nrrsets) {
		n->rrsets = gk_arena_alloc(B->v->arena, n->nrrsets * sizeof(gk_rrset_t));
		if (!n->rrsets)
			return GK_ENOMEM;
	}
	struct brrset *cname = NULL, *other = NULL;
	unsigned i = 0;
	for (struct brrset *s = bn->sets; s; s = s->next, i++) {
		gk_rrset_t *r = &n->rrsets[i];
		r->type = s->type;
		r->count = (uint16_t)s->n;
		r->sig = 0; /* gk_zone_dnssec_prepare attaches them */
		r->rrs = gk_arena_dup(B->v->arena, s->rrs, s->n * sizeof(gk_rr_t));
		if (!r->rrs)
			return GK_ENOMEM;
		switch (s->type) {
		case GK_TYPE_CNAME:
			cname = s;
			n->flags |= GK_NODE_CNAME;
			break;
		case GK_TYPE_DNAME:
			if (s->n > 1)
				return errf(B, GK_EZONE, s->file, s->line,
				            "more than one DNAME at %s",
				            name_str(n->name, nb, sizeof nb));
			n->flags |= GK_NODE_DNAME;
			other = other ? other : s;
			break;
		case GK_TYPE_NS:
			/* NS at a wildcard is data, not a cut: its meaning is undefined and
			 * RFC 4592 4.2 discourages it */
			if (n != B->zone->apex &&
			    !(n->labels && n->name[0] == 1 && n->name[1] == '*'))
				n->flags |= GK_NODE_DELEG;
			other = other ? other : s;
			break;
		case GK_TYPE_SOA:
			if (n != B->zone->apex)
				return errf(B, GK_EZONE, s->file, s->line,
				            "SOA not at the zone apex (%s)",
				            name_str(n->name, nb, sizeof nb));
			if (s->n > 1)
				return errf(B, GK_EZONE, s->file, s->rrs ? s->line : 0,
				            "more than one SOA record");
			other = other ? other : s;
			break;
		case GK_TYPE_RRSIG:
		case GK_TYPE_NSEC:
			break;
		default:
			other = other ? other : s;
		}
	}
	if (cname) {
		if (cname->n > 1)
			return errf(B, GK_EZONE, cname->file, cname->line,
			            "more than one CNAME at %s", name_str(n->name, nb, sizeof nb));
		if (other) {
			const struct brrset *later = other->line > cname->line ? other : cname;
			return errf(B, GK_EZONE, later->file, later->line,
			            "CNAME and other data at %s", name_str(n->name, nb, sizeof nb));
		}
		if (n == B->zone->apex)
			return errf(B, GK_EZONE, cname->file, cname->line,
			            "CNAME at the zone apex");
	}
	if (n->labels && n->name[0] == 1 && n->name[1] == '*')
		n->flags |= GK_NODE_WILD;
	return 0;
}

static int cmp_labels(const void *a, const void *b)
{
	const gk_node_t *x = *(gk_node_t *const *)a, *y = *(gk_node_t *const *)b;
	return (int)x->labels - (int)y->labels;
}

/* Cuts, DNAMEs and wildcards need parents done first: walk nodes by depth. */
static int link_nodes(struct zbuild *B)
{
	gk_node_t **v = malloc(B->nnodes * sizeof(*v));
	if (!v)
		return GK_ENOMEM;
	size_t k = 0;
	for (struct bnode *bn = B->all; bn; bn = bn->next)
		v[k++] = bn->np;
	qsort(v, k, sizeof(*v), cmp_labels);
	for (size_t i = 0; i < k; i++) {
		gk_node_t *n = v[i], *p = n->parent;
		if (!p)
			continue;
		n->dname = (p->flags & GK_NODE_DNAME) ? p : p->dname;
		/* a DNAME occludes everything below it, delegations included (RFC 6672 2.4);
		 * a cut above a DNAME still wins, as its data is not ours */
		n->cut = p->cut ? p->cut : ((n->flags & GK_NODE_DELEG) && !n->dname ? n : NULL);
		if (n->flags & GK_NODE_WILD)
			p->wild = n;
	}
	free(v);
	return 0;
}

/* The version's name table: every node, with its name's hash beside the pointer so a probe
 * that meets another name never loads that node. */
static int index_names(struct zbuild *B)
{
	gk_zver_t *v = B->v;
	/* load at most 3/4: a small zone's five names take 8 slots, not 16 (128 B less per
	 * zone; a miss probes ~2.5 slots, one line of the table) */
	size_t sz = 8;
	while (sz * 3 < B->nnodes * 4)
		sz <<= 1;
	v->table = gk_arena_alloc_aligned(v->arena, sz * sizeof(*v->table), 64);
	if (!v->table)
		return GK_ENOMEM;
	memset(v->table, 0, sz * sizeof(*v->table));
	v->mask = sz - 1;
	for (struct bnode *bn = B->all; bn; bn = bn->next) {
		gk_node_t *n = bn->np;
		uint64_t h = gk_namehash(n->name, n->len);
		size_t i = h & v->mask;
		while (v->table[i].node)
			i = (i + 1) & v->mask;
		v->table[i] = (gk_zslot_t){h, n};
	}
	return 0;
}

/* gk_dnssec_where_fn: the file and first line of an RRset, from the build-time sets. */
static const char *rrset_where(void *ctx, const gk_node_t *n, uint16_t type, unsigned *line)
{
	struct zbuild *B = ctx;
	struct bnode **s = ntab_slot(&B->tab, n->name, n->len);
	*line = 0;
	if (!*s)
		return NULL;
	for (const struct brrset *r = (*s)->sets; r; r = r->next)
		if (r->type == type) {
			*line = r->line;
			return r->file;
		}
	return B->fname;
}

static int build_zone(struct zbuild *B, const gk_zone_spec_t *spec, ldns_rdf *origin)
{
	gk_zver_t *v = B->v;
	gk_loader_t L = {.arena = v->arena, .err = B->err, .errlen = B->errlen};
	const char *fname = spec->file ? spec->file : "<text>";
	B->fname = fname;
	int rc = spec->wire ? gk_zone_loader_read_wire(&L, fname, spec->wire, spec->wire_len,
	                                               spec->wire_count)
	                    : gk_zone_loader_read(&L, fname, spec->text, spec->text_len, origin);
	if (rc < 0)
		goto out;
	rc = ntab_init(&B->tab, L.n + 16);
	if (rc < 0)
		goto out;
	const uint8_t *apex_name = ldns_rdf_data(origin);
	size_t apex_len = ldns_rdf_size(origin);
	struct bnode *apex = get_node(B, apex_name, apex_len);
	if (!apex) {
		rc = GK_ENOMEM;
		goto out;
	}
	B->zone->apex = apex->np;
	apex->np->flags |= GK_NODE_APEX;

	ldns_buffer *buf = ldns_buffer_new(65536);
	if (!buf) {
		rc = GK_ENOMEM;
		goto out;
	}
	char nb[1024];
	/* lines for zone-wide errors: the first record, and the SOA */
	unsigned first_line = L.n ? L.rrs[0].line : 1, soa_line = first_line;
	const char *soa_file = L.n ? L.rrs[0].file : fname;
	for (size_t i = 0; i < L.n && rc == 0; i++) {
		ldns_rr *rr = L.rrs[i].rr;
		const char *file = L.rrs[i].file;
		unsigned line = L.rrs[i].line;
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			rc = errf(B, GK_EZONE, file, line, "class other than IN");
			break;
		}
		ldns_rr2canonical(rr);
		const ldns_rdf *owner = ldns_rr_owner(rr);
		const uint8_t *on = ldns_rdf_data(owner);
		size_t ol = ldns_rdf_size(owner);
		if (!gk_dname_is_subdomain(on, ol, apex_name, apex_len)) {
			rc = errf(B, GK_EZONE, file, line, "%s is outside the zone %s",
			          name_str(on, nb, sizeof nb), spec->name);
			break;
		}
		uint16_t type = (uint16_t)ldns_rr_get_type(rr);
		if (type == GK_TYPE_SOA) {
			soa_line = line;
			soa_file = file;
		}
		if (type == GK_TYPE_OPT || type == GK_TYPE_ANY || type == GK_TYPE_AXFR ||
		    type == GK_TYPE_IXFR) {
			rc = errf(B, GK_EZONE, file, line, "meta type %u in zone data", type);
			break;
		}
		ldns_buffer_clear(buf);
		if (ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK ||
		    ldns_buffer_position(buf) > 65535) {
			rc = errf(B, GK_EZONE, file, line, "rdata cannot be encoded");
			break;
		}
		struct bnode *bn = get_node(B, on, ol);
		if (!bn) {
			rc = GK_ENOMEM;
			break;
		}
		rc = add_rr(B, bn, type, ldns_rr_ttl(rr), ldns_buffer_begin(buf),
		            ldns_buffer_position(buf), file, line);
	}
	ldns_buffer_free(buf);
	if (rc < 0)
		goto out;
	for (struct bnode *bn = B->all; bn && rc == 0; bn = bn->next)
		rc = finish_node(B, bn);
	if (rc < 0)
		goto out;
	gk_zone_t *z = B->zone;
	z->soa = gk_zone_node_rrset(z->apex, GK_TYPE_SOA);
	z->ns = gk_zone_node_rrset(z->apex, GK_TYPE_NS);
	if (!z->soa) {
		rc = errf(B, GK_EZONE, L.n ? L.rrs[0].file : fname, first_line,
		          "no SOA record at the apex %s", spec->name);
		goto out;
	}
	if (!z->ns) {
		rc = errf(B, GK_EZONE, soa_file, soa_line, "no NS records at the apex %s",
		          spec->name);
		goto out;
	}
	/* RFC 2308 5: negative TTL is the lesser of the SOA TTL and MINIMUM */
	const gk_rr_t *soa = &z->soa->rrs[0];
	uint32_t minimum = ((uint32_t)soa->rdata[soa->rdlen - 4] << 24) |
	                   ((uint32_t)soa->rdata[soa->rdlen - 3] << 16) |
	                   ((uint32_t)soa->rdata[soa->rdlen - 2] << 8) | soa->rdata[soa->rdlen - 1];
	z->neg_ttl = soa->ttl < minimum ? soa->ttl : minimum;
	rc = link_nodes(B);
	if (rc == 0)
		rc = index_names(B);
	if (rc == 0) /* while the records' lines are known */
		rc = gk_zone_dnssec_prepare(v, (int64_t)time(NULL), rrset_where, B);
	/* the zone file (no path: the spec's) as one stamp, the $INCLUDEs as records */
	size_t nincl = 0;
	for (size_t i = 0; rc == 0 && i < L.nfiles; i++) {
		const gk_loaded_file_t *f = &L.files[i];
		if (f->path)
			nincl++;
		else if (spec->file)
			v->file_stamp =
			    gk_zone_file_stamp(spec->file, f->dev, f->ino, f->size,
			                       gk_zone_file_mtime(f->mtime_sec, f->mtime_nsec));
	}
	if (rc == 0 && nincl) {
		v->files = gk_arena_alloc(v->arena, nincl * sizeof(*v->files));
		if (!v->files) {
			rc = GK_ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < L.nfiles; i++)
			if (L.files[i].path)
				v->files[v->nfiles++] =
				    (gk_zfile_t){.path = L.files[i].path,
				                 .dev = L.files[i].dev,
				                 .ino = L.files[i].ino,
				                 .size = L.files[i].size,
				                 .mtime_ns = gk_zone_file_mtime(
				                     L.files[i].mtime_sec, L.files[i].mtime_nsec)};
	}
out:
	free_build_sets(B);
	gk_zone_loader_clear(&L);
	return rc;
}

/* Registrable domains (see gk_zone_t.reg_len): per node from the PSL, then per zone the
 * constant suffix when every node shares the apex's registrable domain and a probe name
 * directly below the apex is not a public suffix (catches "*.apex" rules). */
static void compute_regs(gk_zver_t *v, const struct gk_psl *psl)
{
	gk_zone_t *z = &v->zone;
	z->reg_len = 0;
	if (psl) {
		const gk_node_t *a = z->apex;
		int off = gk_psl_registrable_wire(psl, a->name, a->len);
		uint8_t probe[GK_DNAME_MAX + 1];
		if (off >= 0 && a->len + 9u <= GK_DNAME_MAX) {
			memcpy(probe, "\x08gk-probe", 9);
			memcpy(probe + 9, a->name, a->len);
			int poff = gk_psl_registrable_wire(psl, probe, a->len + 9u);
			if (poff >= 0 && a->len + 9u - (unsigned)poff == a->len - (unsigned)off) {
				z->reg_len = (uint8_t)(a->len - off);
				z->reg_hash = gk_namehash(a->name + off, z->reg_len);
			}
		}
	}
	for (size_t i = 0; i <= v->mask; i++) {
		gk_node_t *n = v->table[i].node;
		if (!n)
			continue;
		if (!psl) {
			n->reg_off = GK_REG_UNKNOWN;
			continue;
		}
		int off = gk_psl_registrable_wire(psl, n->name, n->len);
		n->reg_off = off < 0 ? GK_REG_NONE : (uint8_t)off;
		if (z->reg_len && (off < 0 || n->len - (unsigned)off != z->reg_len))
			z->reg_len = 0; /* a public suffix inside the zone: ask per name */
	}
}

int gk_zone_ver_build(const gk_zone_spec_t *spec, const struct gk_psl *psl, gk_zver_t **out,
                      char *err, size_t errlen)
{
	if (errlen)
		err[0] = 0;
	const char *fname = spec->file ? spec->file : "<text>";
	ldns_rdf *origin = NULL;
	if (!spec->name || ldns_str2rdf_dname(&origin, spec->name) != LDNS_STATUS_OK) {
		if (errlen)
			snprintf(err, errlen, "%s: bad zone name '%s'", fname,
			         spec->name ? spec->name : "");
		return GK_EINVAL;
	}
	ldns_dname2canonical(origin);
	int rc = GK_ENOMEM;
	/* the version lives in its own arena, which reaches huge pages once it is big */
	gk_arena_t *arena = gk_arena_new_huge();
	gk_zver_t *v =
	    arena ? gk_arena_alloc_aligned(arena, sizeof(*v), _Alignof(gk_zver_t)) : NULL;
	if (!v) {
		gk_arena_free(arena);
		ldns_rdf_deep_free(origin);
		goto fail;
	}
	memset(v, 0, sizeof(*v));
	v->arena = arena;
	v->secondary = spec->secondary;
	struct zbuild B = {.v = v, .zone = &v->zone, .err = err, .errlen = errlen};
	rc = build_zone(&B, spec, origin);
	ldns_rdf_deep_free(origin);
	if (rc < 0)
		goto fail_v;
	v->nnodes = (uint32_t)B.nnodes;
	const gk_node_t *apex = v->zone.apex;
	v->apex_len = apex->len;
	v->apex_labels = apex->labels;
	if (apex->len <= GK_ZVER_INLINE)
		memcpy(v->apex_short, apex->name, apex->len);
	else
		memcpy(v->apex_short + GK_ZVER_LONG_AT, &apex->name, sizeof(apex->name));
	compute_regs(v, psl);
	rc = gk_zone_ver_compile(v, psl);
	if (rc < 0)
		goto fail_v;
	gk_arena_trim(arena); /* a small zone costs what it uses, not its last chunk */
	*out = v;
	return 0;
fail_v:
	gk_zone_ver_free(v);
fail:
	if (rc == GK_ENOMEM && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory while loading zone %s", fname,
		         spec->name ? spec->name : "");
	return rc;
}
