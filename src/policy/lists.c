/* SPDX-License-Identifier: MIT */
/* src/policy/lists.c -- block and allow lists: plain name lists and RPZ zones.
 *
 * Plain lists are read here, line by line, without ldns (a million lines must compile in
 * well under the two-second budget). RPZ zones go through the master-file reader
 * (zone/load.h: ldns per record, file:line and $INCLUDE); the records are then grouped by
 * trigger name and scope, because an RPZ action may span several records (local data) and a
 * CNAME must stand alone at its name.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/dname.h"
#include "policy/internal.h"
#include "zone/load.h"

size_t gk_policy_name_wire(const char *s, size_t slen, uint8_t *out, unsigned *labels,
                           const char **why)
{
	if (slen && s[slen - 1] == '.')
		slen--;
	if (slen == 0) {
		*why = "the root cannot be listed";
		return 0;
	}
	size_t o = 0;
	unsigned nl = 0;
	size_t i = 0;
	while (i <= slen) {
		size_t start = i;
		while (i < slen && s[i] != '.') {
			unsigned char ch = (unsigned char)s[i];
			if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == '*')) {
				*why = ch >= 0x80
				           ? "non-ASCII name (write IDN names as A-labels, xn--...)"
				           : "character not allowed in a name";
				return 0;
			}
			i++;
		}
		size_t ll = i - start;
		if (ll == 0) {
			*why = "empty label";
			return 0;
		}
		if (ll > 63) {
			*why = "label longer than 63 octets";
			return 0;
		}
		if (o + 1 + ll + 1 > GK_DNAME_MAX) {
			*why = "name longer than 255 octets";
			return 0;
		}
		out[o++] = (uint8_t)ll;
		for (size_t k = 0; k < ll; k++)
			out[o++] = gk_dname_lower[(unsigned char)s[start + k]];
		nl++;
		i++; /* the dot (or one past the end) */
	}
	out[o++] = 0;
	*labels = nl;
	return o;
}

/* ---- plain lists ------------------------------------------------------------------------ */

int gk_policy_read_plain(gk_policy_builder_t *b, const gk_policy_list_ctx_t *c, const char *file,
                         const char *text, size_t len)
{
	uint8_t wire[GK_DNAME_MAX + 1];
	size_t line = 0, lines = 0;
	const char *p = text, *end = text + len;
	for (const char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
		lines++;
	if (gk_policy_reserve(b, lines + 1) < 0)
		return gk_policy_fail(b, GK_ENOMEM, file, 0, "out of memory");
	while (p < end) {
		line++;
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		const char *q = p;
		p = eol + 1;
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q == eol || *q == '#')
			continue;
		const char *w = q;
		while (q < eol && *q != ' ' && *q != '\t' && *q != '\r' && *q != '#')
			q++;
		const char *wend = q;
		while (q < eol && (*q == ' ' || *q == '\t' || *q == '\r'))
			q++;
		if (q < eol && *q != '#')
			return gk_policy_fail(b, GK_ESYNTAX, file, line,
			                      "one name per line (text after '%.*s')",
			                      (int)(wend - w), w);
		if (memchr(w, 0, (size_t)(wend - w)))
			return gk_policy_fail(b, GK_ESYNTAX, file, line, "NUL byte");
		b->lines++;
		unsigned scopes = GK_POLICY_EXACT;
		if (w[0] == '.' && wend - w > 1) {
			scopes |= GK_POLICY_BELOW;
			w++;
		}
		if (memchr(w, '*', (size_t)(wend - w)))
			return gk_policy_fail(b, GK_ESYNTAX, file, line,
			                      "'*' in a plain list: write '.name' for a name and "
			                      "everything below it");
		const char *why = NULL;
		unsigned labels;
		size_t wl = gk_policy_name_wire(w, (size_t)(wend - w), wire, &labels, &why);
		if (!wl)
			return gk_policy_fail(b, GK_ESYNTAX, file, line, "'%.*s': %s",
			                      (int)(wend - w > 80 ? 80 : wend - w), w, why);
		int rc = gk_policy_insert(b, wire, wl, labels, scopes, c->hit);
		if (rc < 0)
			return gk_policy_fail(b, rc, file, line, "%s", gk_strerror(rc));
	}
	return 0;
}

/* ---- RPZ -------------------------------------------------------------------------------- */

/* What a CNAME record says (read in file order by collect, so that grouping, which walks
 * the triggers in hash order, need not touch the million ldns records at random). */
enum cname_kind {
	CN_NONE = 0, /* not a CNAME */
	CN_NXDOMAIN, /* CNAME . */
	CN_NODATA,   /* CNAME *. */
	CN_PASSTHRU, /* CNAME rpz-passthru. (or the trigger name itself, the old form) */
	CN_DROP,     /* CNAME rpz-drop. */
	CN_TCP_ONLY, /* CNAME rpz-tcp-only. */
	CN_WILD,     /* CNAME *.name: not supported */
	CN_LOCAL,    /* any other target: local data */
	CN_BAD,      /* no target name */
};

/* One trigger record: its name relative to the apex, scope, and where it came from. */
struct trig {
	uint64_t key; /* gk_namehash of the name, xor the scope: groups records, and sorted by
	                 it the names go into the table in the table's order */
	uint32_t rr;  /* index into the loader's records (file order) */
	uint32_t name;
	uint16_t type; /* the record's type */
	uint8_t len, labels, scope;
	uint8_t cname; /* enum cname_kind */
};

struct rpz {
	gk_policy_builder_t *b;
	const gk_policy_list_ctx_t *c;
	gk_loader_t L;
	const uint8_t *apex;
	size_t alen;
	struct trig *tr;
	size_t ntr;
	uint8_t *names;
	size_t nlen, ncap;
	uint32_t hit_nx, hit_nodata, hit_drop, hit_pass, hit_tcp;
	gk_refusal_t *nodata; /* the list's NODATA refusal (also for local data) */
};

/* Sort the triggers by key, records of one key in file order: an LSD radix sort (stable),
 * 16 bits a pass. qsort with a comparator cost 7% of reading a million-record zone. */
static int sort_trig(struct rpz *z)
{
	struct trig *tmp = malloc((z->ntr ? z->ntr : 1) * sizeof(*tmp));
	size_t *count = malloc(65536 * sizeof(*count));
	if (!tmp || !count) {
		free(tmp);
		free(count);
		return GK_ENOMEM;
	}
	struct trig *from = z->tr, *to = tmp;
	for (unsigned shift = 0; shift < 64; shift += 16) {
		memset(count, 0, 65536 * sizeof(*count));
		for (size_t i = 0; i < z->ntr; i++)
			count[(from[i].key >> shift) & 0xffff]++;
		size_t sum = 0;
		for (size_t d = 0; d < 65536; d++) {
			size_t c = count[d];
			count[d] = sum;
			sum += c;
		}
		for (size_t i = 0; i < z->ntr; i++)
			to[count[(from[i].key >> shift) & 0xffff]++] = from[i];
		struct trig *t = from;
		from = to;
		to = t;
	}
	/* four passes: the sorted triggers are back in z->tr */
	free(tmp);
	free(count);
	return 0;
}

static const char *rrfile(const struct rpz *z, size_t i)
{
	return z->L.rrs[i].file;
}

static size_t rrline(const struct rpz *z, size_t i)
{
	return z->L.rrs[i].line;
}

/* Lowercase copy of an ldns dname rdf into out; returns its length. */
static size_t lower_dname(const ldns_rdf *d, uint8_t *out)
{
	size_t n = ldns_rdf_size(d);
	const uint8_t *s = ldns_rdf_data(d);
	for (size_t i = 0; i < n; i++)
		out[i] = gk_dname_lower[s[i]];
	return n;
}

static bool label_is(const uint8_t *l, const char *s)
{
	size_t n = strlen(s);
	return l[0] == n && memcmp(l + 1, s, n) == 0;
}

/* Find the apex: the zone's SOA owner (checked against zone: when given). */
static int find_apex(struct rpz *z, const char *file, uint8_t *apex)
{
	gk_policy_builder_t *b = z->b;
	size_t soa = SIZE_MAX;
	for (size_t i = 0; i < z->L.n; i++) {
		if (ldns_rr_get_type(z->L.rrs[i].rr) != LDNS_RR_TYPE_SOA)
			continue;
		if (soa != SIZE_MAX)
			return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, i), rrline(z, i),
			                      "second SOA record (first at line %zu)",
			                      rrline(z, soa));
		soa = i;
	}
	if (soa == SIZE_MAX)
		return gk_policy_fail(b, GK_ESYNTAX, file, z->L.n ? rrline(z, 0) : 1,
		                      "no SOA record: an RPZ zone starts with its SOA");
	z->alen = lower_dname(ldns_rr_owner(z->L.rrs[soa].rr), apex);
	z->apex = apex;
	if (z->c->zone) {
		uint8_t want[GK_DNAME_MAX + 1];
		unsigned nl;
		const char *why;
		size_t wl = gk_policy_name_wire(z->c->zone, strlen(z->c->zone), want, &nl, &why);
		if (wl != z->alen || memcmp(want, apex, wl) != 0)
			return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, soa), rrline(z, soa),
			                      "SOA owner is not the zone '%s' named in the policy",
			                      z->c->zone);
	}
	return 0;
}

static uint8_t cname_kind(const ldns_rr *rr, const struct trig *t, const uint8_t *name)
{
	uint8_t tgt[GK_DNAME_MAX + 1] = {0};
	const ldns_rdf *d = ldns_rr_rdf(rr, 0);
	if (!d || ldns_rdf_get_type(d) != LDNS_RDF_TYPE_DNAME)
		return CN_BAD;
	size_t tl = lower_dname(d, tgt);
	if (tl == 1)
		return CN_NXDOMAIN;
	if (tl == 3 && tgt[0] == 1 && tgt[1] == '*')
		return CN_NODATA;
	if (tl == 14 && label_is(tgt, "rpz-passthru") && tgt[13] == 0)
		return CN_PASSTHRU;
	if (tl == 10 && label_is(tgt, "rpz-drop") && tgt[9] == 0)
		return CN_DROP;
	if (tl == 14 && label_is(tgt, "rpz-tcp-only") && tgt[13] == 0)
		return CN_TCP_ONLY;
	if (tgt[0] == 1 && tgt[1] == '*')
		return CN_WILD;
	if (t->scope == GK_POLICY_EXACT && tl == t->len && memcmp(tgt, name, tl) == 0)
		return CN_PASSTHRU; /* old form */
	return CN_LOCAL;
}

static int push_trig(struct rpz *z, const struct trig *t, const uint8_t *name)
{
	if (z->ncap - z->nlen < t->len) {
		size_t nc = z->ncap ? z->ncap * 2 : 65536;
		uint8_t *nn = realloc(z->names, nc);
		if (!nn)
			return GK_ENOMEM;
		z->names = nn;
		z->ncap = nc;
	}
	z->tr[z->ntr] = *t;
	z->tr[z->ntr].name = (uint32_t)z->nlen;
	memcpy(z->names + z->nlen, name, t->len);
	z->nlen += t->len;
	z->ntr++;
	return 0;
}

/* Sort every record into a trigger (or skip it). */
static int collect(struct rpz *z)
{
	gk_policy_builder_t *b = z->b;
	z->tr = malloc((z->L.n ? z->L.n : 1) * sizeof(*z->tr));
	if (!z->tr)
		return GK_ENOMEM;
	uint8_t own[GK_DNAME_MAX + 1];
	for (size_t i = 0; i < z->L.n; i++) {
		ldns_rr *rr = z->L.rrs[i].rr;
		ldns_rr_type type = ldns_rr_get_type(rr);
		size_t olen = lower_dname(ldns_rr_owner(rr), own);
		b->lines++;
		if (olen < z->alen || memcmp(own + olen - z->alen, z->apex, z->alen) != 0 ||
		    (olen > z->alen && own[olen - z->alen - 1] == 0))
			return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, i), rrline(z, i),
			                      "owner is outside the RPZ zone");
		if (olen == z->alen) {
			if (type == LDNS_RR_TYPE_SOA || type == LDNS_RR_TYPE_NS)
				continue;
			return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, i), rrline(z, i),
			                      "a record at the RPZ apex is not a trigger");
		}
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN)
			return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, i), rrline(z, i),
			                      "class other than IN");
		/* relative name: own[0..rl) + root; the label next to the apex names the
		 * trigger kind for non-QNAME triggers */
		size_t rl = olen - z->alen;
		uint8_t name[GK_DNAME_MAX + 1];
		unsigned labels = 0;
		const uint8_t *last = NULL;
		bool wild_inside = false;
		for (size_t o = 0; o < rl; o += own[o] + 1u) {
			if (o > 0 && own[o] == 1 && own[o + 1] == '*')
				wild_inside = true;
			last = own + o;
			labels++;
		}
		if (label_is(last, "rpz-ip") || label_is(last, "rpz-nsdname") ||
		    label_is(last, "rpz-nsip") || label_is(last, "rpz-client-ip")) {
			b->rpz_skipped++;
			continue;
		}
		if (wild_inside)
			return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, i), rrline(z, i),
			                      "'*' is only allowed as the first label");
		struct trig t = {
		    .rr = (uint32_t)i, .type = (uint16_t)type, .scope = GK_POLICY_EXACT};
		const uint8_t *n = own;
		if (own[0] == 1 && own[1] == '*') {
			t.scope = GK_POLICY_BELOW;
			n += 2;
			rl -= 2;
			labels--;
		}
		memcpy(name, n, rl);
		name[rl] = 0;
		t.len = (uint8_t)(rl + 1);
		t.labels = (uint8_t)labels;
		t.key = gk_namehash(name, t.len) ^ t.scope;
		if (type == LDNS_RR_TYPE_CNAME)
			t.cname = cname_kind(rr, &t, name);
		if (push_trig(z, &t, name) < 0)
			return GK_ENOMEM;
	}
	return sort_trig(z);
}

static uint32_t hit_of(struct rpz *z, uint32_t *slot, uint8_t verdict, gk_action_t act)
{
	if (*slot)
		return *slot;
	gk_policy_hit_t h = {.verdict = verdict, .list = z->c->list};
	if (verdict == GK_POLICY_BLOCK) {
		gk_refusal_t *r = gk_arena_dup(z->b->arena, &z->c->refusal, sizeof(*r));
		if (!r)
			return 0;
		r->action = act;
		h.action = r;
	}
	return *slot = gk_policy_hit_add(z->b, &h);
}

static bool local_type_ok(ldns_rr_type t)
{
	switch (t) {
	case LDNS_RR_TYPE_A:
	case LDNS_RR_TYPE_AAAA:
	case LDNS_RR_TYPE_TXT:
	case LDNS_RR_TYPE_MX:
	case LDNS_RR_TYPE_PTR:
	case LDNS_RR_TYPE_SRV:
	case LDNS_RR_TYPE_CAA:
		return true;
	default:
		return false;
	}
}

/* Local data: records [g, e) of the sorted triggers, at most one of them a CNAME. */
static uint32_t local_hit(struct rpz *z, size_t g, size_t e, ldns_buffer *buf)
{
	gk_policy_builder_t *b = z->b;
	size_t n = e - g;
	gk_policy_local_t *loc = gk_arena_alloc(b->arena, sizeof(*loc));
	gk_policy_rr_t *rrs = gk_arena_alloc(b->arena, n * sizeof(*rrs));
	if (!loc || !rrs)
		return 0;
	size_t k = 0;
	/* grouped by type, file order inside a type (n is small: quadratic is fine) */
	for (size_t i = g; i < e; i++) {
		ldns_rr_type t = ldns_rr_get_type(z->L.rrs[z->tr[i].rr].rr);
		bool seen = false;
		for (size_t j = g; j < i && !seen; j++)
			seen = ldns_rr_get_type(z->L.rrs[z->tr[j].rr].rr) == t;
		if (seen)
			continue;
		for (size_t j = i; j < e; j++) {
			ldns_rr *rr = z->L.rrs[z->tr[j].rr].rr;
			if (ldns_rr_get_type(rr) != t)
				continue;
			ldns_buffer_clear(buf);
			if (ldns_rr_rdata2buffer_wire(buf, rr) != LDNS_STATUS_OK ||
			    ldns_buffer_position(buf) > 65535)
				return 0;
			size_t rdlen = ldns_buffer_position(buf);
			uint8_t *rd = gk_arena_dup(b->arena, ldns_buffer_begin(buf), rdlen);
			if (!rd)
				return 0;
			rrs[k++] = (gk_policy_rr_t){.type = (uint16_t)t,
			                            .rdlen = (uint16_t)rdlen,
			                            .ttl = ldns_rr_ttl(rr),
			                            .rdata = rd};
		}
	}
	loc->n = (unsigned)k;
	loc->rr = rrs;
	gk_refusal_t *r = gk_arena_dup(b->arena, &z->c->refusal, sizeof(*r));
	if (!r)
		return 0;
	r->action = GK_ACT_NODATA;
	gk_policy_hit_t h = {
	    .verdict = GK_POLICY_BLOCK, .list = z->c->list, .action = r, .local = loc};
	return gk_policy_hit_add(b, &h);
}

/* The hit for a group of records with one name and scope: [g, e). */
static int group_hit(struct rpz *z, size_t g, size_t e, ldns_buffer *buf, uint32_t *hit)
{
	gk_policy_builder_t *b = z->b;
	size_t cname = SIZE_MAX;
	for (size_t i = g; i < e; i++) {
		size_t r = z->tr[i].rr;
		ldns_rr_type t = z->tr[i].type;
		if (t == LDNS_RR_TYPE_CNAME) {
			if (cname == SIZE_MAX && i == g) {
				cname = i;
				continue;
			}
		} else if (cname == SIZE_MAX) {
			if (!local_type_ok(t))
				return gk_policy_fail(
				    b, GK_ESYNTAX, rrfile(z, r), rrline(z, r),
				    "RPZ local data of type %u is not supported "
				    "(A, AAAA, TXT, MX, PTR, SRV, CAA, CNAME are)",
				    (unsigned)t);
			continue;
		}
		size_t first = z->tr[g].rr;
		return gk_policy_fail(
		    b, GK_ESYNTAX, rrfile(z, r), rrline(z, r),
		    "CNAME and other data at one trigger (first record at line %zu)",
		    rrline(z, first));
	}
	if (cname == SIZE_MAX) {
		*hit = local_hit(z, g, e, buf);
		return *hit ? 0 : GK_ENOMEM;
	}
	size_t r = z->tr[cname].rr;
	switch (z->tr[cname].cname) {
	case CN_NXDOMAIN:
		*hit = hit_of(z, &z->hit_nx, GK_POLICY_BLOCK, GK_ACT_NXDOMAIN);
		break;
	case CN_NODATA:
		*hit = hit_of(z, &z->hit_nodata, GK_POLICY_BLOCK, GK_ACT_NODATA);
		break;
	case CN_PASSTHRU:
		*hit = hit_of(z, &z->hit_pass, GK_POLICY_PASSTHRU, GK_ACT_RESOLVE);
		break;
	case CN_DROP:
		*hit = hit_of(z, &z->hit_drop, GK_POLICY_BLOCK, GK_ACT_DROP);
		break;
	case CN_TCP_ONLY:
		*hit = hit_of(z, &z->hit_tcp, GK_POLICY_TCP_ONLY, GK_ACT_RESOLVE);
		break;
	case CN_WILD:
		return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, r), rrline(z, r),
		                      "CNAME *.name (rewrite below another name) is not supported");
	case CN_LOCAL:
		*hit = local_hit(z, g, e, buf);
		break;
	default:
		return gk_policy_fail(b, GK_ESYNTAX, rrfile(z, r), rrline(z, r),
		                      "bad CNAME target");
	}
	return *hit ? 0 : GK_ENOMEM;
}

int gk_policy_read_rpz(gk_policy_builder_t *b, const gk_policy_list_ctx_t *c, const char *file,
                       const char *text, size_t len)
{
	char lerr[512] = "";
	struct rpz z = {.b = b, .c = c};
	z.L.arena = gk_arena_new();
	z.L.err = lerr;
	z.L.errlen = sizeof(lerr);
	ldns_rdf *origin = ldns_dname_new_frm_str(c->zone ? c->zone : ".");
	ldns_buffer *buf = ldns_buffer_new(512);
	uint8_t apex[GK_DNAME_MAX + 1];
	int rc = 0;
	if (!z.L.arena || !buf) {
		rc = GK_ENOMEM;
		goto finish;
	}
	if (!origin) {
		rc = gk_policy_fail(b, GK_ECONFIG, file, 0, "bad zone name '%s'", c->zone);
		goto finish;
	}
	rc = gk_zone_loader_read(&z.L, file, text, len, origin);
	if (rc < 0) {
		if (rc == GK_ENOMEM)
			goto finish;
		if (!b->rc) { /* the loader's message is already "file:line: msg" */
			b->rc = rc;
			if (b->errlen)
				snprintf(b->err, b->errlen, "%s", lerr);
		}
		goto finish;
	}
	if ((rc = find_apex(&z, file, apex)) < 0 || (rc = collect(&z)) < 0)
		goto finish;
	/* triggers come sorted by hash: room first, see gk_policy_reserve */
	if ((rc = gk_policy_reserve(b, z.ntr)) < 0)
		goto finish;
	for (size_t g = 0; g < z.ntr;) {
		size_t e = g + 1;
		while (e < z.ntr && z.tr[e].key == z.tr[g].key)
			e++;
		/* a hash collision could put two names in one run: split by name */
		const struct trig *t0 = &z.tr[g];
		size_t same = g + 1;
		while (same < e && z.tr[same].len == t0->len && z.tr[same].scope == t0->scope &&
		       memcmp(z.names + z.tr[same].name, z.names + t0->name, t0->len) == 0)
			same++;
		e = same;
		uint32_t hit = 0;
		if ((rc = group_hit(&z, g, e, buf, &hit)) < 0)
			goto finish;
		rc = gk_policy_insert_hashed(b, t0->key ^ t0->scope, z.names + t0->name, t0->len,
		                             t0->labels, t0->scope, hit);
		if (rc < 0) {
			gk_policy_fail(b, rc, rrfile(&z, t0->rr), rrline(&z, t0->rr), "%s",
			               gk_strerror(rc));
			goto finish;
		}
		g = e;
	}
finish:
	if (buf)
		ldns_buffer_free(buf);
	if (origin)
		ldns_rdf_deep_free(origin);
	gk_zone_loader_clear(&z.L);
	gk_arena_free(z.L.arena);
	free(z.tr);
	free(z.names);
	return rc;
}
