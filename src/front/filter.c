/* SPDX-License-Identifier: MIT */
/* src/front/filter.c -- the other names a backend's answer carries (filter.h).
 *
 * Every read is bounded by the message's length: names are unpacked with
 * gk_dname_unpack (pointers strictly back), a record running past the end makes the
 * message malformed. The rewrite is the rare path (a refused name in an answer): it asks
 * the PSL per owner and writes every name uncompressed, so that no pointer can point into
 * a record it left out.
 */
#include <string.h>
#include "common/dname.h"
#include "common/dns.h"
#include "common/namehash.h"
#include "common/psl.h"
#include "front/filter.h"

#define TYPE_CNAME  5
#define TYPE_OPT    41
#define RCODE_NXDOM 3
#define CHAIN_MAX   16 /* names of the question's chain (zone/resolve.c follows 8 hops) */
#define REG_SAME    (-2)
#define REG_NONE    (-1)

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The registrable domain of name[0..nlen) as filter.h lists it: REG_SAME (the question's),
 * REG_NONE (the name is a public suffix, the question's is not) or its offset in name. */
static int reg_of(const gk_ffilter_q_t *q, const uint8_t *name, size_t nlen)
{
	if (nlen == q->qlen && memcmp(name, q->qname, nlen) == 0)
		return REG_SAME;
	const uint8_t *r = q->reg_off >= 0 ? q->qname + q->reg_off : NULL;
	size_t rlen = r ? q->qlen - (size_t)q->reg_off : 0;
	if (r && gk_dname_is_subdomain(name, nlen, r, rlen) &&
	    (gk_dname_is_subdomain(q->qname, q->qlen, name, nlen) ||
	     gk_psl_below_wire(q->psl, name, nlen, rlen)))
		return REG_SAME; /* a suffix of the question below it, or no public suffix
		                    between the name and the domain */
	int off = gk_psl_registrable_wire(q->psl, name, nlen);
	if (off < 0)
		return r ? REG_NONE : REG_SAME;
	if (r && nlen - (size_t)off == rlen && memcmp(name + off, r, rlen) == 0)
		return REG_SAME;
	return off;
}

/* The question's end (one question), or 0. */
static size_t question_end(const uint8_t *m, size_t len)
{
	if (len < 12 || rd16(m + 4) != 1)
		return 0;
	size_t off = gk_dname_skip(m, len, 12);
	return off && off + 4 <= len ? off + 4 : 0;
}

static bool add_reg(gk_ffilter_regs_t *o, const uint8_t *r, size_t rl)
{
	const uint8_t *p = o->names;
	for (unsigned i = 0; i < o->n; i++) {
		size_t l = gk_dname_len(p);
		if (l == rl && memcmp(p, r, rl) == 0)
			return true;
		p += l;
	}
	if (o->used + rl > sizeof(o->names))
		return false;
	memcpy(o->names + o->used, r, rl);
	o->used = (uint8_t)(o->used + rl);
	o->n++;
	return true;
}

int gk_front_filter_regs(const gk_ffilter_q_t *q, const uint8_t *msg, size_t len,
                         gk_ffilter_regs_t *out)
{
	out->n = 0;
	out->none = out->walk = false;
	out->used = 0;
	if (q->psl == NULL)
		return 0;
	size_t off = question_end(msg, len);
	if (off == 0) {
		out->walk = true;
		return GK_ESYNTAX;
	}
	unsigned total = (unsigned)rd16(msg + 6) + rd16(msg + 8) + rd16(msg + 10);
	/* where the question's name and its suffixes down to its registrable domain start in
	 * msg (the question is q's, uncompressed at 12): an owner that is a pointer to one of
	 * them shares the question's registrable domain, with nothing to unpack -- most owners
	 * of most answers (the name itself, its zone's apex) */
	uint16_t same[8];
	unsigned nsame = 0;
	for (size_t o = 0; nsame < 8 && o < q->qlen && q->qname[o]; o += q->qname[o] + 1u) {
		if (q->reg_off >= 0 && o > (size_t)q->reg_off)
			break;
		same[nsame++] = (uint16_t)(12 + o);
		if (q->reg_off < 0)
			break; /* a public suffix: only the name itself */
	}
	uint8_t name[GK_DNAME_MAX], last[GK_DNAME_MAX];
	size_t lastlen = 0;
	for (unsigned i = 0; i < total; i++) {
		if (off + 12 <= len && (msg[off] & 0xc0) == 0xc0) {
			unsigned to = (unsigned)(msg[off] & 0x3f) << 8 | msg[off + 1];
			unsigned k = 0;
			while (k < nsame && same[k] != to)
				k++;
			if (k < nsame) {
				off += 2;
				if (off + 10 + rd16(msg + off + 8) > len) {
					out->walk = true;
					return GK_ESYNTAX;
				}
				off += 10u + rd16(msg + off + 8);
				continue;
			}
		}
		size_t nlen = gk_dname_unpack(msg, len, off, name, &off);
		if (nlen == 0 || off + 10 > len || off + 10 + rd16(msg + off + 8) > len) {
			out->walk = true;
			return GK_ESYNTAX;
		}
		uint16_t type = rd16(msg + off);
		off += 10u + rd16(msg + off + 8);
		if (type == TYPE_OPT || (nlen == lastlen && memcmp(name, last, nlen) == 0))
			continue; /* an RRset's next record, its RRSIG: the same owner */
		memcpy(last, name, nlen);
		lastlen = nlen;
		int r = reg_of(q, name, nlen);
		if (r == REG_NONE)
			out->none = true;
		else if (r >= 0 && !add_reg(out, name + r, nlen - (size_t)r))
			out->walk = true;
	}
	return off == len ? 0 : (out->walk = true, GK_ESYNTAX);
}

bool gk_front_filter_refused(const gk_ffilter_regs_t *r, gk_ffilter_fn fn, void *ctx)
{
	if (r->walk)
		return true;
	if (r->none && fn(ctx, NULL, 0, 0))
		return true;
	const uint8_t *p = r->names;
	for (unsigned i = 0; i < r->n; i++) {
		size_t l = gk_dname_len(p);
		if (fn(ctx, p, l, gk_namehash(p, l)))
			return true;
		p += l;
	}
	return false;
}

/* ---- the rewrite -------------------------------------------------------------------- */

struct fctx {
	const gk_ffilter_q_t *q;
	gk_ffilter_fn fn;
	void *ctx;
};

/* May data of name go out? */
static bool pass(const struct fctx *c, const uint8_t *name, size_t nlen)
{
	int r = reg_of(c->q, name, nlen);
	if (r == REG_SAME)
		return true;
	if (r == REG_NONE)
		return !c->fn(c->ctx, NULL, 0, 0);
	return !c->fn(c->ctx, name + r, nlen - (size_t)r, gk_namehash(name + r, nlen - (size_t)r));
}

struct chain {
	unsigned n;
	uint8_t len[CHAIN_MAX];
	uint8_t name[CHAIN_MAX][GK_DNAME_MAX];
};

static bool in_chain(const struct chain *ch, const uint8_t *n, size_t l)
{
	for (unsigned i = 0; i < ch->n; i++)
		if (ch->len[i] == l && memcmp(ch->name[i], n, l) == 0)
			return true;
	return false;
}

/* n is a chain name or an ancestor of one (a DNAME's owner). */
static bool on_chain(const struct chain *ch, const uint8_t *n, size_t l)
{
	for (unsigned i = 0; i < ch->n; i++)
		if (gk_dname_is_subdomain(ch->name[i], ch->len[i], n, l))
			return true;
	return false;
}

/* The chain of the question through the answer section (CNAME targets of chain names whose
 * target passes), from the records at m[start..) (an answer count). Returns false when
 * malformed. */
static bool build_chain(const struct fctx *c, const uint8_t *m, size_t len, size_t start,
                        unsigned an, struct chain *ch)
{
	ch->n = 1;
	ch->len[0] = (uint8_t)c->q->qlen;
	memcpy(ch->name[0], c->q->qname, c->q->qlen);
	/* backends list a chain in order, so one pass finds it; a later pass only when a
	 * pass added a name */
	for (unsigned pass_no = 0; pass_no < CHAIN_MAX; pass_no++) {
		unsigned before = ch->n;
		size_t off = start;
		for (unsigned i = 0; i < an; i++) {
			uint8_t name[GK_DNAME_MAX], target[GK_DNAME_MAX];
			size_t nlen = gk_dname_unpack(m, len, off, name, &off);
			if (nlen == 0 || off + 10 > len || off + 10 + rd16(m + off + 8) > len)
				return false;
			uint16_t type = rd16(m + off);
			size_t rd = off + 10, rdl = rd16(m + off + 8);
			off = rd + rdl;
			if (type != TYPE_CNAME || !in_chain(ch, name, nlen))
				continue;
			size_t tn, tlen = gk_dname_unpack(m, rd + rdl, rd, target, &tn);
			if (tlen == 0 || in_chain(ch, target, tlen))
				continue;
			if (ch->n < CHAIN_MAX && pass(c, target, tlen)) {
				ch->len[ch->n] = (uint8_t)tlen;
				memcpy(ch->name[ch->n++], target, tlen);
			}
		}
		if (ch->n == before)
			break;
	}
	return true;
}

/* Write the record at m[off..) with owner name[0..nlen) uncompressed into out at *o.
 * rd/rdl: its rdata. Returns false when it does not fit cap or its rdata is malformed. */
static bool put_rr(const uint8_t *m, size_t tpos, size_t rd, size_t rdl, const uint8_t *name,
                   size_t nlen, uint8_t *out, size_t cap, size_t *o)
{
	size_t w = *o;
	if (w + nlen + 10 > cap)
		return false;
	memcpy(out + w, name, nlen);
	w += nlen;
	memcpy(out + w, m + tpos, 8); /* type, class, TTL */
	size_t rdpos = w + 8;
	w += 10;
	unsigned pre, names;
	size_t in = rd, end = rd + rdl;
	if (gk_dns_rdata_names(rd16(m + tpos), true, &pre, &names)) {
		if (rdl < pre || w + pre > cap)
			return false;
		memcpy(out + w, m + in, pre);
		w += pre;
		in += pre;
		for (unsigned k = 0; k < names; k++) {
			uint8_t n[GK_DNAME_MAX];
			size_t l = gk_dname_unpack(m, end, in, n, &in);
			if (l == 0 || w + l > cap)
				return false;
			/* lowercase, as every name written here: the canonical form (RFC 4034
			 * 6.2), so a signature over the record still verifies */
			memcpy(out + w, n, l);
			w += l;
		}
	}
	if (in > end || w + (end - in) > cap)
		return false;
	memcpy(out + w, m + in, end - in);
	w += end - in;
	if (w - rdpos - 2 > 0xffff)
		return false;
	wr16(out + rdpos, (uint16_t)(w - rdpos - 2));
	*o = w;
	return true;
}

/* The offset past the n records at m[off..len), or 0 when they run past len. */
static size_t skip_rrs(const uint8_t *m, size_t len, size_t off, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		off = gk_dname_skip(m, len, off);
		if (off == 0 || off + 10 > len || off + 10 + rd16(m + off + 8) > len)
			return 0;
		off += 10u + rd16(m + off + 8);
	}
	return off;
}

/* Has a record among the n at m[off..) an owner whose data may not go out? -1: malformed. */
static int any_refused(const struct fctx *c, const uint8_t *m, size_t len, size_t off, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		uint8_t name[GK_DNAME_MAX];
		size_t nlen = gk_dname_unpack(m, len, off, name, &off);
		if (nlen == 0 || off + 10 > len || off + 10 + rd16(m + off + 8) > len)
			return -1;
		uint16_t type = rd16(m + off);
		off += 10u + rd16(m + off + 8);
		if (type != TYPE_OPT && !pass(c, name, nlen))
			return 1;
	}
	return 0;
}

size_t gk_front_filter_apply(const gk_ffilter_q_t *q, const uint8_t *msg, size_t len,
                             gk_ffilter_fn fn, void *ctx, uint8_t *out, size_t cap,
                             unsigned *removed)
{
	struct fctx c = {.q = q, .fn = fn, .ctx = ctx};
	unsigned gone = 0;
	if (removed)
		*removed = 0;
	size_t qend = question_end(msg, len);
	if (qend == 0 || qend > cap || q->psl == NULL)
		return 0;
	unsigned cnt[3] = {rd16(msg + 6), rd16(msg + 8), rd16(msg + 10)}, kept[3] = {0, 0, 0};
	struct chain ch;
	if (!build_chain(&c, msg, len, qend, cnt[0], &ch))
		return 0;
	/* the chain ends early when the answer carries data of a refused name (a CNAME
	 * target's records) or its last name is in a refused domain (that zone's SOA, a
	 * referral into it); a refused target the backend gave nothing of ends nothing */
	size_t auth = skip_rrs(msg, len, qend, cnt[0]);
	int an = auth ? any_refused(&c, msg, len, qend, cnt[0]) : -1;
	int ar = an >= 0 ? any_refused(&c, msg, len, auth, cnt[1]) : -1;
	if (ar < 0)
		return 0;
	bool cut = an || ar;
	memcpy(out, msg, qend);
	size_t off = qend, o = qend;
	uint8_t last[GK_DNAME_MAX];
	size_t lastlen = 0;
	bool lastpass = true;
	for (unsigned s = 0; s < 3; s++)
		for (unsigned i = 0; i < cnt[s]; i++) {
			uint8_t name[GK_DNAME_MAX];
			size_t nlen = gk_dname_unpack(msg, len, off, name, &off);
			if (nlen == 0 || off + 10 > len || off + 10 + rd16(msg + off + 8) > len)
				return 0;
			size_t tpos = off, rd = off + 10, rdl = rd16(msg + off + 8);
			off = rd + rdl;
			bool keep;
			if (rd16(msg + tpos) == TYPE_OPT) {
				keep = true;
			} else if (cut && s > 0) {
				keep = false; /* a chain that ends early: no authority, no
				                 additional */
			} else {
				if (nlen != lastlen || memcmp(name, last, nlen) != 0) {
					memcpy(last, name, nlen);
					lastlen = nlen;
					lastpass = pass(&c, name, nlen);
				}
				keep = lastpass && (s != 0 || on_chain(&ch, name, nlen));
			}
			if (!keep) {
				gone++;
				continue;
			}
			if (!put_rr(msg, tpos, rd, rdl, name, nlen, out, cap, &o))
				return 0;
			kept[s]++;
		}
	if (off != len)
		return 0;
	wr16(out + 6, (uint16_t)kept[0]);
	wr16(out + 8, (uint16_t)kept[1]);
	wr16(out + 10, (uint16_t)kept[2]);
	if (cut && (out[3] & 0x0f) == RCODE_NXDOM)
		out[3] &= 0xf0; /* the NXDOMAIN was the refused name's: the chain ends at it */
	if (removed)
		*removed = gone;
	return o;
}
