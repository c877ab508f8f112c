/* SPDX-License-Identifier: MIT */
/* src/zone/dnssec.c -- RRSIGs, NSEC and NSEC3 chains of a pre-signed zone, at load time.
 *
 * See dnssec.h. Everything is computed once per version into its arena; the two query-time
 * lookups (covering NSEC, covering NSEC3) read only that. NSEC3 hashes use OpenSSL's SHA-1
 * with a context on the stack: the one-shot EVP calls allocate a context per call, which
 * the query path must not (STYLE.md 10).
 */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA1_Init & co: no allocation, unlike EVP_Digest */
#include <openssl/sha.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/log.h"
#include "gk/errors.h"
#include "zone/dnssec.h"

static unsigned label_offs(const uint8_t *n, uint8_t *off)
{
	unsigned k = 0;
	for (size_t p = 0; n[p] && k < GK_DNAME_LABELS_MAX; p += n[p] + 1u)
		off[k++] = (uint8_t)p;
	return k;
}

int gk_zone_dnssec_canon_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	(void)alen;
	(void)blen;
	uint8_t ao[GK_DNAME_LABELS_MAX], bo[GK_DNAME_LABELS_MAX];
	unsigned ak = label_offs(a, ao), bk = label_offs(b, bo);
	while (ak && bk) {
		ak--;
		bk--;
		const uint8_t *la = a + ao[ak], *lb = b + bo[bk];
		unsigned m = la[0] < lb[0] ? la[0] : lb[0];
		int c = memcmp(la + 1, lb + 1, m);
		if (c)
			return c;
		if (la[0] != lb[0])
			return la[0] < lb[0] ? -1 : 1;
	}
	return (int)ak - (int)bk; /* an ancestor sorts first */
}

static const gk_node_t *nsec_cover(const gk_node_t *const *chain, size_t n, const uint8_t *name,
                                   size_t len)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (gk_zone_dnssec_canon_cmp(chain[mid]->name, chain[mid]->len, name, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? chain[lo - 1] : NULL;
}

const gk_node_t *gk_zone_dnssec_nsec_cover(const gk_dnssec_t *s, const uint8_t *name, size_t len)
{
	return nsec_cover(s->chain, s->n, name, len);
}

/* RFC 5155 5: IH(salt, x, 0) = H(x || salt), IH(salt, x, k) = H(IH(salt, x, k-1) || salt). */
bool gk_zone_dnssec_nsec3_hash(const gk_dnssec_t *s, const uint8_t *name, size_t len,
                               uint8_t out[GK_NSEC3_HASH])
{
	SHA_CTX c;
	if (!SHA1_Init(&c) || !SHA1_Update(&c, name, len) ||
	    !SHA1_Update(&c, s->salt, s->saltlen) || !SHA1_Final(out, &c))
		return false;
	for (unsigned i = 0; i < s->iter; i++)
		if (!SHA1_Init(&c) || !SHA1_Update(&c, out, GK_NSEC3_HASH) ||
		    !SHA1_Update(&c, s->salt, s->saltlen) || !SHA1_Final(out, &c))
			return false;
	return true;
}

/* Index in the chain of the NSEC3 matching or covering h (the chain is not empty). */
static size_t n3index(const gk_dnssec_t *s, const uint8_t h[GK_NSEC3_HASH], bool *exact)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(s->hash + mid * GK_NSEC3_HASH, h, GK_NSEC3_HASH) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* before the first hash: the last NSEC3 covers it (the chain wraps) */
	size_t i = lo ? lo - 1 : s->n - 1;
	*exact = lo && memcmp(s->hash + i * GK_NSEC3_HASH, h, GK_NSEC3_HASH) == 0;
	return i;
}

static const gk_node_t *n3cover(const gk_dnssec_t *s, const uint8_t h[GK_NSEC3_HASH], bool *exact)
{
	*exact = false;
	if (!s->n)
		return NULL;
	return s->chain[n3index(s, h, exact)];
}

size_t gk_zone_dnssec_child_len(const uint8_t *name, size_t len, size_t apex_len)
{
	if (len <= apex_len)
		return 0;
	size_t p = 0;
	while (len - p - name[p] - 1u > apex_len)
		p += name[p] + 1u;
	return len - p;
}

static bool ends_with(const uint8_t *n, size_t nl, const uint8_t *sfx, size_t sl)
{
	return nl >= sl && memcmp(n + nl - sl, sfx, sl) == 0;
}

bool gk_zone_dnssec_slot_piece(const gk_dnssec_t *s, const gk_dnssec_slot_t *sl,
                               const uint8_t *qname, size_t qlen, const uint8_t *loff,
                               unsigned labels, const gk_tmpl_t **piece, int *dup)
{
	const gk_node_t *ce = sl->ce;
	*piece = NULL;
	*dup = -1;
	if (labels <= ce->labels)
		return false;
	/* the next closer name: one label below the closest encloser */
	size_t ncoff = loff[labels - ce->labels - 1u];
	const uint8_t *nc = qname + ncoff;
	size_t nclen = qlen - ncoff;
	size_t i;
	if (s->nsec3) {
		uint8_t h[GK_NSEC3_HASH];
		bool exact;
		if (!s->n || !gk_zone_dnssec_nsec3_hash(s, nc, nclen, h))
			return false;
		i = n3index(s, h, &exact);
	} else {
		size_t lo = 0, hi = s->n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			const gk_node_t *m = s->chain[mid];
			if (gk_zone_dnssec_canon_cmp(m->name, m->len, qname, qlen) <= 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (!lo)
			i = SIZE_MAX; /* before the apex: nothing covers it */
		else
			i = lo - 1;
	}
	/* the resolver compresses a name against the longest suffix already written: the
	 * template holds only if no name of it ends in the next closer name (a name below the
	 * encloser that does not exist) and the piece's owner shares no label below the apex
	 * with the query name or a name of the template */
	const uint8_t *pc = NULL;
	size_t pcl = 0;
	if (i != SIZE_MAX) {
		const gk_node_t *d = s->chain[i];
		pcl = s->pclen[i];
		pc = d->name + d->len - pcl;
		if (pcl && ends_with(qname, qlen, pc, pcl))
			return false;
		*piece = &s->piece[i];
		for (unsigned k = 0; k < sl->ndup; k++)
			if (sl->dup[k] == d)
				*dup = (int)k;
	}
	for (unsigned k = 0; k < sl->nnames; k++) {
		if (*dup >= 0 && sl->name_bound[k] == sl->dup_bound[*dup])
			continue; /* that RRset moves into the slot */
		if (ends_with(sl->name[k], sl->name_len[k], nc, nclen) ||
		    (pcl && ends_with(sl->name[k], sl->name_len[k], pc, pcl)))
			return false;
	}
	return true;
}

const gk_node_t *gk_zone_dnssec_nsec3_cover(const gk_dnssec_t *s, const uint8_t *name, size_t len,
                                            bool *exact)
{
	uint8_t h[GK_NSEC3_HASH];
	*exact = false;
	if (!gk_zone_dnssec_nsec3_hash(s, name, len, h))
		return NULL;
	return n3cover(s, h, exact);
}

/* ---- load time ------------------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Covering RRSIGs of type at n: how many. */
static unsigned covering(const gk_rrset_t *sig, uint16_t type)
{
	unsigned c = 0;
	for (unsigned i = 0; i < sig->count; i++)
		c += sig->rrs[i].rdlen >= 2 &&
		     ((sig->rrs[i].rdata[0] << 8) | sig->rrs[i].rdata[1]) == type;
	return c;
}

/* RRSIGs at n split by type covered onto the RRsets they cover: n's RRset array is copied
 * into one with room for the split sets after n->nrrsets (gk_rrset_t.sig, gk_zone_rrset_sigs).
 * The zone's soa and ns pointers are taken again from the new array by the caller. */
static int attach_sigs(gk_arena_t *arena, gk_node_t *n, gk_dnssec_t *s)
{
	const gk_rrset_t *sig = gk_zone_node_rrset(n, GK_TYPE_RRSIG);
	if (!sig)
		return 0;
	for (unsigned i = 0; i < sig->count; i++) {
		const gk_rr_t *r = &sig->rrs[i];
		if (r->rdlen >= 18) {
			int64_t exp = rd32(r->rdata + 8);
			if (!s->sig_expire_min || exp < s->sig_expire_min)
				s->sig_expire_min = exp;
		}
	}
	unsigned m = 0;
	for (unsigned k = 0; k < n->nrrsets; k++)
		m += n->rrsets[k].type != GK_TYPE_RRSIG && covering(sig, n->rrsets[k].type) > 0;
	if (!m)
		return 0;
	gk_rrset_t *sets = gk_arena_alloc(arena, (n->nrrsets + m) * sizeof(*sets));
	if (!sets)
		return GK_ENOMEM;
	memcpy(sets, n->rrsets, n->nrrsets * sizeof(*sets));
	unsigned next = n->nrrsets;
	for (unsigned k = 0; k < n->nrrsets; k++) {
		gk_rrset_t *set = &sets[k];
		unsigned c = set->type == GK_TYPE_RRSIG ? 0 : covering(sig, set->type);
		if (!c)
			continue;
		gk_rr_t *rrs = gk_arena_alloc(arena, c * sizeof(*rrs));
		if (!rrs)
			return GK_ENOMEM;
		c = 0;
		for (unsigned i = 0; i < sig->count; i++)
			if (sig->rrs[i].rdlen >= 2 &&
			    ((sig->rrs[i].rdata[0] << 8) | sig->rrs[i].rdata[1]) == set->type)
				rrs[c++] = sig->rrs[i];
		sets[next] = (gk_rrset_t){.type = GK_TYPE_RRSIG, .count = (uint16_t)c, .rrs = rrs};
		set->sig = next - k;
		next++;
	}
	n->rrsets = sets;
	return 0;
}

static int b32hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'v')
		return c - 'a' + 10;
	return -1;
}

/* The hash an NSEC3 owner's first label spells in base32hex (RFC 4648 7). */
static bool owner_hash(const gk_node_t *n, uint8_t out[GK_NSEC3_HASH])
{
	if (n->name[0] != 32)
		return false;
	uint64_t acc = 0;
	unsigned bits = 0, o = 0;
	for (unsigned i = 0; i < 32; i++) {
		int v = b32hex(n->name[1 + i]);
		if (v < 0)
			return false;
		acc = (acc << 5) | (unsigned)v;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o == GK_NSEC3_HASH;
}

static int cmp_canon(const void *a, const void *b)
{
	const gk_node_t *x = *(const gk_node_t *const *)a, *y = *(const gk_node_t *const *)b;
	return gk_zone_dnssec_canon_cmp(x->name, x->len, y->name, y->len);
}

/* Index pairs sorted by hash. */
struct hn {
	uint8_t h[GK_NSEC3_HASH];
	const gk_node_t *n;
};

static int cmp_hn(const void *a, const void *b)
{
	return memcmp(((const struct hn *)a)->h, ((const struct hn *)b)->h, GK_NSEC3_HASH);
}

/* Does an NSEC3 RR use the zone's parameters (NSEC3PARAM)? */
static bool n3params_match(const gk_dnssec_t *s, const gk_rr_t *r)
{
	const uint8_t *d = r->rdata;
	return r->rdlen >= 5 && d[0] == s->n3alg && ((d[2] << 8) | d[3]) == s->iter &&
	       d[4] == s->saltlen && r->rdlen >= 5u + d[4] && memcmp(d + 5, s->salt, d[4]) == 0;
}

static int build_chain(gk_zver_t *v, gk_dnssec_t *s)
{
	size_t cap = 0;
	uint16_t want = s->nsec3 ? GK_TYPE_NSEC3 : GK_TYPE_NSEC;
	for (size_t i = 0; i <= v->mask; i++)
		if (v->table[i].node && gk_zone_node_rrset(v->table[i].node, want))
			cap++;
	const gk_node_t **chain = gk_arena_alloc(v->arena, (cap + 1) * sizeof(*chain));
	if (!chain)
		return GK_ENOMEM;
	if (!s->nsec3) {
		size_t k = 0;
		for (size_t i = 0; i <= v->mask; i++) {
			const gk_node_t *n = v->table[i].node;
			if (n && gk_zone_node_rrset(n, want))
				chain[k++] = n;
		}
		qsort(chain, k, sizeof(*chain), cmp_canon);
		s->chain = chain;
		s->n = k;
		return 0;
	}
	struct hn *tmp = malloc((cap + 1) * sizeof(*tmp));
	uint8_t *hash = gk_arena_alloc(v->arena, (cap + 1) * GK_NSEC3_HASH);
	if (!tmp || !hash) {
		free(tmp);
		return GK_ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i <= v->mask; i++) {
		const gk_node_t *n = v->table[i].node;
		const gk_rrset_t *r = n ? gk_zone_node_rrset(n, want) : NULL;
		if (!r || n->parent != v->zone.apex || !n3params_match(s, &r->rrs[0]) ||
		    !owner_hash(n, tmp[k].h))
			continue;
		tmp[k++].n = n;
	}
	qsort(tmp, k, sizeof(*tmp), cmp_hn);
	for (size_t i = 0; i < k; i++) {
		chain[i] = tmp[i].n;
		memcpy(hash + i * GK_NSEC3_HASH, tmp[i].h, GK_NSEC3_HASH);
	}
	free(tmp);
	s->chain = chain;
	s->hash = hash;
	s->n = k;
	return 0;
}

/* Per node: the denial records its answers use (gk_dnssec_t.deny, wdeny). */
static int link_denial(gk_zver_t *v, gk_dnssec_t *s)
{
	uint8_t wc[GK_DNAME_MAX + 3];
	uint32_t nn = 0;
	for (size_t i = 0; i <= v->mask; i++)
		if (v->table[i].node && v->table[i].node->idx >= nn)
			nn = v->table[i].node->idx + 1;
	s->deny = gk_arena_alloc(v->arena, nn * sizeof(*s->deny));
	s->wdeny = gk_arena_alloc(v->arena, nn * sizeof(*s->wdeny));
	if (!s->deny || !s->wdeny)
		return GK_ENOMEM;
	memset(s->deny, 0, nn * sizeof(*s->deny));
	memset(s->wdeny, 0, nn * sizeof(*s->wdeny));
	s->nnodes = nn;
	for (size_t i = 0; i <= v->mask; i++) {
		gk_node_t *n = v->table[i].node;
		if (!n)
			continue;
		bool wok = n->len + 2u <= GK_DNAME_MAX + 1u;
		if (wok) {
			wc[0] = 1;
			wc[1] = '*';
			memcpy(wc + 2, n->name, n->len);
		}
		if (!s->nsec3) {
			s->deny[n->idx] = nsec_cover(s->chain, s->n, n->name, n->len);
			s->wdeny[n->idx] = wok ? nsec_cover(s->chain, s->n, wc, n->len + 2u) : NULL;
			continue;
		}
		bool exact;
		s->deny[n->idx] = gk_zone_dnssec_nsec3_cover(s, n->name, n->len, &exact);
		if (exact)
			n->flags |= GK_NODE_N3EXACT;
		s->wdeny[n->idx] =
		    wok ? gk_zone_dnssec_nsec3_cover(s, wc, n->len + 2u, &exact) : NULL;
	}
	return 0;
}

bool gk_zone_ver_dnssec(const gk_zver_t *v, int64_t *expire, unsigned *warnings)
{
	const gk_dnssec_t *s = v->zone.sec;
	if (!s)
		return false;
	*expire = s->sig_expire_min;
	*warnings = s->warnings;
	return true;
}

/* ---- zone checks (warnings) ---------------------------------------------------------- */

struct chk {
	gk_zver_t *v;
	gk_dnssec_where_fn where;
	void *ctx;
	unsigned warnings;
};

static void warn(struct chk *k, const gk_node_t *n, uint16_t type, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void warn(struct chk *k, const gk_node_t *n, uint16_t type, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	unsigned line = 0;
	const char *file = k->where ? k->where(k->ctx, n, type, &line) : NULL;
	if (!file)
		file = "<text>"; /* the build's where() names the zone file */
	char zn[GK_ZVER_NAME_MAX];
	gk_zone_ver_name_of(k->v->zone.apex->name, zn, sizeof zn);
	if (line)
		gk_log(GK_LOG_WARN, "%s:%u: zone %s: %s", file, line, zn, msg);
	else
		gk_log(GK_LOG_WARN, "%s: zone %s: %s", file, zn, msg);
	k->warnings++;
}

static const char *nstr(const gk_node_t *n, char *buf, size_t cap)
{
	return gk_dname_to_str(n->name, buf, cap);
}

/* Of two nodes' RRSIGs, the one written first in the zone file (a: NULL or earlier). */
static const gk_node_t *first_in_file(struct chk *k, const gk_node_t *a, const gk_node_t *b)
{
	if (!a)
		return b;
	if (a == b || !k->where)
		return a;
	unsigned la = 0, lb = 0;
	const char *fa = k->where(k->ctx, a, GK_TYPE_RRSIG, &la);
	const char *fb = k->where(k->ctx, b, GK_TYPE_RRSIG, &lb);
	return fa && fb && strcmp(fa, fb) == 0 && lb < la ? b : a;
}

/* Signatures valid at now, by serial number arithmetic (RFC 4034 3.1.5). */
static void check_sigs(struct chk *k, int64_t now)
{
	gk_zver_t *v = k->v;
	unsigned expired = 0, early = 0;
	const gk_node_t *fe = NULL, *fn = NULL;
	uint32_t t = (uint32_t)now;
	for (size_t i = 0; i <= v->mask; i++) {
		const gk_node_t *n = v->table[i].node;
		const gk_rrset_t *sig = n ? gk_zone_node_rrset(n, GK_TYPE_RRSIG) : NULL;
		for (unsigned j = 0; sig && j < sig->count; j++) {
			const uint8_t *d = sig->rrs[j].rdata;
			if (sig->rrs[j].rdlen < 18)
				continue;
			if ((int32_t)(rd32(d + 8) - t) < 0) {
				expired++;
				fe = first_in_file(k, fe, n);
			} else if ((int32_t)(t - rd32(d + 12)) < 0) {
				early++;
				fn = first_in_file(k, fn, n);
			}
		}
	}
	char nb[1024];
	if (expired)
		warn(k, fe, GK_TYPE_RRSIG,
		     "%u signature%s expired (the first at %s): validating resolvers will see "
		     "the zone as bogus",
		     expired, expired > 1 ? "s" : "", nstr(fe, nb, sizeof nb));
	if (early)
		warn(k, fn, GK_TYPE_RRSIG, "%u signature%s not yet valid (the first at %s)", early,
		     early > 1 ? "s" : "", nstr(fn, nb, sizeof nb));
}

/* len octets in base32hex (RFC 4648 7), lowercase, as NSEC3 owners spell them. */
static void b32hex_str(const uint8_t *p, size_t len, char *out, size_t cap)
{
	static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
	uint64_t acc = 0;
	unsigned bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < len && o + 2 < cap; i++) {
		acc = (acc << 8) | p[i];
		bits += 8;
		while (bits >= 5 && o + 2 < cap) {
			bits -= 5;
			out[o++] = digits[(acc >> bits) & 31];
		}
	}
	if (bits && o + 2 < cap)
		out[o++] = digits[(acc << (5 - bits)) & 31];
	out[o] = 0;
}

static void check_chain(struct chk *k, const gk_dnssec_t *s)
{
	char a[1024], b[1024];
	for (size_t i = 0; i < s->n; i++) {
		const gk_node_t *n = s->chain[i], *want = s->chain[(i + 1) % s->n];
		const gk_rr_t *r =
		    &gk_zone_node_rrset(n, s->nsec3 ? GK_TYPE_NSEC3 : GK_TYPE_NSEC)->rrs[0];
		if (!s->nsec3) {
			size_t nl = gk_dname_len(r->rdata);
			if (nl <= r->rdlen && nl == want->len &&
			    memcmp(r->rdata, want->name, nl) == 0)
				continue;
			char c[1024];
			if (nl > r->rdlen || !gk_dname_to_str(r->rdata, c, sizeof c))
				snprintf(c, sizeof c, "(unreadable)");
			warn(k, n, GK_TYPE_NSEC,
			     "NSEC chain broken at %s: its next name is %s, the next NSEC owner is "
			     "%s",
			     nstr(n, a, sizeof a), c, nstr(want, b, sizeof b));
			return; /* one message per zone: the rest often follows from it */
		}
		size_t o = 5u + r->rdata[4];
		if (o < r->rdlen && r->rdata[o] == GK_NSEC3_HASH &&
		    o + 1u + GK_NSEC3_HASH <= r->rdlen &&
		    memcmp(r->rdata + o + 1, s->hash + ((i + 1) % s->n) * GK_NSEC3_HASH,
		           GK_NSEC3_HASH) == 0)
			continue;
		char c[64] = "(unreadable)";
		if (o < r->rdlen && o + 1u + r->rdata[o] <= r->rdlen)
			b32hex_str(r->rdata + o + 1, r->rdata[o], c, sizeof c);
		warn(k, n, GK_TYPE_NSEC3,
		     "NSEC3 chain broken at %s: its next hashed owner is %s, the next NSEC3 owner "
		     "is %s",
		     nstr(n, a, sizeof a), c, nstr(want, b, sizeof b));
		return;
	}
}

static void check_zone(struct chk *k, const gk_dnssec_t *s, int64_t now)
{
	gk_zone_t *z = &k->v->zone;
	if (!gk_zone_node_rrset(z->apex, GK_TYPE_DNSKEY)) {
		const gk_node_t *first = NULL;
		for (size_t i = 0; i <= k->v->mask && !first; i++)
			if (k->v->table[i].node &&
			    gk_zone_node_rrset(k->v->table[i].node, GK_TYPE_RRSIG))
				first = k->v->table[i].node;
		if (first)
			warn(k, first, GK_TYPE_RRSIG, "RRSIGs but no DNSKEY at the apex");
	}
	if (!s)
		return;
	check_sigs(k, now);
	if (s->nsec3 && s->iter > 0)
		warn(k, z->apex, GK_TYPE_NSEC3PARAM,
		     "NSEC3 with %u additional iterations: each NXDOMAIN and wildcard answer with "
		     "DO=1 costs %u SHA-1 hashes, and validating resolvers may treat the zone as "
		     "insecure above 100 (RFC 9276 3.1: use 0)",
		     s->iter, s->iter + 1u);
	if (s->nsec3 && !s->n)
		warn(k, z->apex, GK_TYPE_NSEC3PARAM,
		     "NSEC3PARAM without an NSEC3 chain of its parameters");
	else if (!s->n)
		warn(k, z->apex, GK_TYPE_SOA, "signed but no NSEC or NSEC3 chain");
	else
		check_chain(k, s);
}

int gk_zone_dnssec_prepare(gk_zver_t *v, int64_t now, gk_dnssec_where_fn where, void *ctx)
{
	gk_zone_t *z = &v->zone;
	struct chk k = {.v = v, .where = where, .ctx = ctx};
	if (!gk_zone_node_rrset(z->apex, GK_TYPE_RRSIG)) {
		check_zone(&k, NULL, now);
		return 0; /* not signed: answered as before, whatever DO says */
	}
	gk_dnssec_t *s = gk_arena_alloc(v->arena, sizeof(*s));
	if (!s)
		return GK_ENOMEM;
	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i <= v->mask; i++)
		if (v->table[i].node) {
			int rc = attach_sigs(v->arena, v->table[i].node, s);
			if (rc < 0)
				return rc;
		}
	z->soa = gk_zone_node_rrset(z->apex, GK_TYPE_SOA); /* into the apex's new array */
	z->ns = gk_zone_node_rrset(z->apex, GK_TYPE_NS);
	const gk_rrset_t *p = gk_zone_node_rrset(z->apex, GK_TYPE_NSEC3PARAM);
	for (unsigned i = 0; p && i < p->count; i++) {
		const gk_rr_t *r = &p->rrs[i];
		/* flags must be 0 (RFC 5155 4.1.2); the first usable record decides */
		if (r->rdlen < 5 || r->rdata[1] != 0 || r->rdlen != 5u + r->rdata[4])
			continue;
		s->nsec3 = true;
		s->n3alg = r->rdata[0];
		s->iter = (uint16_t)((r->rdata[2] << 8) | r->rdata[3]);
		s->saltlen = r->rdata[4];
		memcpy(s->salt, r->rdata + 5, s->saltlen);
		break;
	}
	int rc = build_chain(v, s);
	if (rc < 0)
		return rc;
	rc = link_denial(v, s);
	if (rc < 0)
		return rc;
	check_zone(&k, s, now);
	s->warnings = k.warnings;
	z->sec = s;
	return 0;
}
