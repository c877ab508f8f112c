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
#include <stdlib.h>
#include <string.h>
#include "gk/errors.h"
#include "zone/dnssec.h"

static unsigned label_offs(const uint8_t *n, uint8_t *off)
{
	unsigned k = 0;
	for (size_t p = 0; n[p] && k < GK_DNAME_LABELS_MAX; p += n[p] + 1u)
		off[k++] = (uint8_t)p;
	return k;
}

int gk_dnssec_canon_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
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
		if (gk_dnssec_canon_cmp(chain[mid]->name, chain[mid]->len, name, len) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? chain[lo - 1] : NULL;
}

const gk_node_t *gk_dnssec_nsec_cover(const gk_dnssec_t *s, const uint8_t *name, size_t len)
{
	return nsec_cover(s->chain, s->n, name, len);
}

/* RFC 5155 5: IH(salt, x, 0) = H(x || salt), IH(salt, x, k) = H(IH(salt, x, k-1) || salt). */
static bool n3hash(const gk_dnssec_t *s, const uint8_t *name, size_t len,
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

static const gk_node_t *n3cover(const gk_dnssec_t *s, const uint8_t h[GK_NSEC3_HASH], bool *exact)
{
	*exact = false;
	if (!s->n)
		return NULL;
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
	return s->chain[i];
}

const gk_node_t *gk_dnssec_nsec3_cover(const gk_dnssec_t *s, const uint8_t *name, size_t len,
                                       bool *exact)
{
	uint8_t h[GK_NSEC3_HASH];
	*exact = false;
	if (!n3hash(s, name, len, h))
		return NULL;
	return n3cover(s, h, exact);
}

/* ---- load time ------------------------------------------------------------------------ */

static uint32_t rd32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* RRSIGs at n split by type covered onto the RRsets they cover. */
static int attach_sigs(gk_arena_t *arena, gk_node_t *n, gk_dnssec_t *s)
{
	const gk_rrset_t *sig = gk_node_rrset(n, GK_TYPE_RRSIG);
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
	for (unsigned k = 0; k < n->nrrsets; k++) {
		gk_rrset_t *set = &n->rrsets[k];
		if (set->type == GK_TYPE_RRSIG)
			continue;
		unsigned c = 0;
		for (unsigned i = 0; i < sig->count; i++)
			c += sig->rrs[i].rdlen >= 2 &&
			     ((sig->rrs[i].rdata[0] << 8) | sig->rrs[i].rdata[1]) == set->type;
		if (!c)
			continue;
		gk_rrset_t *ss = gk_arena_alloc(arena, sizeof(*ss));
		gk_rr_t *rrs = gk_arena_alloc(arena, c * sizeof(*rrs));
		if (!ss || !rrs)
			return GK_ENOMEM;
		c = 0;
		for (unsigned i = 0; i < sig->count; i++)
			if (sig->rrs[i].rdlen >= 2 &&
			    ((sig->rrs[i].rdata[0] << 8) | sig->rrs[i].rdata[1]) == set->type)
				rrs[c++] = sig->rrs[i];
		*ss = (gk_rrset_t){.type = GK_TYPE_RRSIG, .count = (uint16_t)c, .rrs = rrs};
		set->sigs = ss;
	}
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
	return gk_dnssec_canon_cmp(x->name, x->len, y->name, y->len);
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
		if (v->table[i].node && gk_node_rrset(v->table[i].node, want))
			cap++;
	const gk_node_t **chain = gk_arena_alloc(v->arena, (cap + 1) * sizeof(*chain));
	if (!chain)
		return GK_ENOMEM;
	if (!s->nsec3) {
		size_t k = 0;
		for (size_t i = 0; i <= v->mask; i++) {
			const gk_node_t *n = v->table[i].node;
			if (n && gk_node_rrset(n, want))
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
		const gk_rrset_t *r = n ? gk_node_rrset(n, want) : NULL;
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

/* Per node: the denial records its answers use (gk_node_t.deny, wdeny). */
static void link_denial(gk_zver_t *v, const gk_dnssec_t *s)
{
	uint8_t wc[GK_DNAME_MAX + 3];
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
			n->deny = nsec_cover(s->chain, s->n, n->name, n->len);
			n->wdeny = wok ? nsec_cover(s->chain, s->n, wc, n->len + 2u) : NULL;
			continue;
		}
		bool exact;
		n->deny = gk_dnssec_nsec3_cover(s, n->name, n->len, &exact);
		if (exact)
			n->flags |= GK_NODE_N3EXACT;
		n->wdeny = wok ? gk_dnssec_nsec3_cover(s, wc, n->len + 2u, &exact) : NULL;
	}
}

int gk_dnssec_prepare(gk_zver_t *v)
{
	gk_zone_t *z = &v->zone;
	if (!gk_node_rrset(z->apex, GK_TYPE_RRSIG))
		return 0; /* not signed: answered as before, whatever DO says */
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
	const gk_rrset_t *p = gk_node_rrset(z->apex, GK_TYPE_NSEC3PARAM);
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
	link_denial(v, s);
	z->sec = s;
	return 0;
}
