/* SPDX-License-Identifier: MIT */
/* src/pkt/process.c -- query bytes to response bytes.
 *
 * Parse, find the compiled answer (one hash lookup for a name that exists, one per label
 * stripped otherwise), copy it behind the echoed question, relocate its compression
 * pointers when the query name is longer or shorter than the one it was compiled for,
 * cut it at an RRset boundary when it does not fit, append OPT. Only answers below a
 * DNAME are built at query time (zone/resolve.c), still without allocation.
 */
#include <string.h>
#include "pkt/parse.h"
#include "pkt/process.h"
#include "zone/internal.h"
#include "zone/resolve.h"

#define OPT_LEN     11
#define HDR_QR      0x80
#define HDR_AA      0x04
#define HDR_TC      0x02
#define HDR_RD      0x01
#define HDR_CD      0x10
#define GK_CLASS_CH 3

static inline void wr16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A template serves a query name of qlen octets unless it is missing or cannot move. */
static inline bool usable(const gk_tmpl_t *t, size_t qlen)
{
	return t && (!(t->flags & GK_TMPL_FIXED) || t->qname_len == qlen);
}

/* Where the answer comes from. */
enum src { SRC_TMPL, SRC_RUNTIME, SRC_REFUSED };

static enum src find_answer(const gk_zoneset_t *zs, const gk_query_t *qq, const gk_tmpl_t **t)
{
	const uint8_t *name = qq->qname;
	size_t len = qq->qlen;
	uint16_t qtype = qq->qtype;
	const gk_node_t *n = gk_zoneset_find(zs, name, len, gk_dname_hash(name, len));
	if (n) {
		if (n->cut)
			*t = (n->cut == n && qtype == GK_TYPE_DS) ? &n->tmpls[0] : n->cut->other;
		else if (n->dname)
			return SRC_RUNTIME;
		else
			*t = gk_node_tmpl(n, qtype);
		return usable(*t, len) ? SRC_TMPL : SRC_RUNTIME;
	}
	/* closest encloser: strip labels from the left */
	for (unsigned i = 1; i < qq->labels + 1u; i++) {
		size_t off = i < qq->labels ? qq->loff[i] : len - 1u;
		const uint8_t *p = name + off;
		size_t l = len - off;
		n = gk_zoneset_find(zs, p, l, gk_dname_hash(p, l));
		if (n)
			break;
	}
	if (!n)
		return SRC_REFUSED;
	if (n->cut)
		*t = n->cut->other;
	else if ((n->flags & GK_NODE_DNAME) || n->dname)
		return SRC_RUNTIME;
	else
		*t = n->wild ? gk_node_tmpl(n->wild, qtype) : n->zone->nxdomain;
	return usable(*t, len) ? SRC_TMPL : SRC_RUNTIME;
}

/* Keep whole RRsets up to limit; TC when a required one is cut. Returns body length. */
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

static size_t put_opt(uint8_t *p, const gk_pkt_opts_t *opts, const gk_query_t *qq,
                      uint8_t ext_rcode)
{
	p[0] = 0;
	wr16(p + 1, 41);
	wr16(p + 3, opts->edns_udp_max);
	p[5] = ext_rcode;
	p[6] = 0; /* version 0 */
	p[7] = qq->do_bit ? 0x80 : 0;
	p[8] = 0;
	wr16(p + 9, 0);
	return OPT_LEN;
}

gk_pkt_outcome_t gk_pkt_process(const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                                enum gk_pkt_transport transport, const uint8_t *q, size_t qlen,
                                uint8_t *out, gk_pkt_result_t *res)
{
	gk_query_t qq;
	gk_parse_t pr = gk_parse_query(q, qlen, &qq);
	res->qtype = qq.qtype;
	res->edns = qq.edns;
	res->tc = false;
	res->len = 0;
	if (pr == GK_PARSE_DROP)
		return GK_PKT_DROP;

	size_t qend = qq.qend;
	uint8_t rcode = GK_RCODE_NOERROR, flags_hi = (uint8_t)(HDR_QR | (qq.flags_hi & 0x79));
	uint8_t flags_lo = qq.flags_lo & HDR_CD;
	uint16_t cnt[3] = {0, 0, 0};
	size_t body = 0;
	bool tc = false;
	/* the answer may use what is left after header, question and OPT */
	size_t limit = GK_PKT_OUT_MAX;
	if (transport == GK_PKT_UDP) {
		limit = 512;
		if (qq.edns && qq.edns_size > 512)
			limit =
			    qq.edns_size < opts->edns_udp_max ? qq.edns_size : opts->edns_udp_max;
	}
	size_t room = limit - (qq.edns ? OPT_LEN : 0) - qend;

	memcpy(out, q, qend ? qend : 12);
	switch (pr) {
	case GK_PARSE_FORMERR:
		rcode = GK_RCODE_FORMERR;
		break;
	case GK_PARSE_NOTIMP:
		rcode = GK_RCODE_NOTIMP;
		break;
	case GK_PARSE_BADVERS:
		rcode = GK_RCODE_BADVERS;
		break;
	default:
		break;
	}
	if (pr == GK_PARSE_OK) {
		const gk_tmpl_t *t = NULL;
		enum src s = SRC_REFUSED;
		if (qq.qclass == GK_CLASS_IN && qq.qtype != GK_TYPE_AXFR &&
		    qq.qtype != GK_TYPE_IXFR && zs)
			s = find_answer(zs, &qq, &t);
		else if (qq.qclass == GK_CLASS_ANY && zs)
			s = SRC_RUNTIME; /* rare: not worth templates of its own */
		else if (qq.qclass != GK_CLASS_IN && qq.qclass != GK_CLASS_CH)
			qend = 0; /* other classes: REFUSED without the question, as NSD */
		if (s == SRC_REFUSED) {
			rcode = GK_RCODE_REFUSED;
		} else if (s == SRC_TMPL) {
			uint8_t *b = out + qend;
			memcpy(b, t->body, t->len);
			int delta = (int)qq.qlen - (int)t->qname_len;
			if (delta) {
				for (unsigned i = 0; i < t->nfix; i++) {
					uint8_t *p = b + t->fix[i];
					unsigned tgt = ((p[0] & 0x3fu) << 8) | p[1];
					if (tgt > 12 ||
					    (tgt == 12 && (t->flags & GK_TMPL_SHIFT_WHOLE)))
						wr16(p,
						     (uint16_t)(0xc000 | (tgt + (unsigned)delta)));
				}
			}
			cnt[0] = t->an;
			cnt[1] = t->ns;
			cnt[2] = t->ar;
			body = fit(t->bound, t->nbound, t->len, room, cnt, &tc);
			rcode = t->rcode;
			if (t->flags & GK_TMPL_AA)
				flags_hi |= HDR_AA;
		} else {
			gk_asm_t a;
			a.wild_mode = false;
			gk_asm_init(&a, out, GK_PKT_OUT_MAX - OPT_LEN, qend, qq.qname, qq.qlen);
			a.class_any = qq.qclass == GK_CLASS_ANY;
			gk_resolve(zs, &a, qq.qname, qq.qlen, qq.qtype);
			cnt[0] = a.an;
			cnt[1] = a.ns;
			cnt[2] = a.ar;
			tc = a.full_req;
			body = fit(a.bound, a.nbound, a.len - qend, room, cnt, &tc);
			rcode = a.rcode;
			if (a.aa)
				flags_hi |= HDR_AA;
		}
	}
	if (tc)
		flags_hi |= HDR_TC;
	size_t len = qend ? qend + body : 12;
	out[2] = flags_hi;
	out[3] = (uint8_t)(flags_lo | (rcode & 0x0f));
	wr16(out + 4, qend ? 1 : 0);
	wr16(out + 6, cnt[0]);
	wr16(out + 8, cnt[1]);
	wr16(out + 10, (uint16_t)(cnt[2] + (qq.edns ? 1 : 0)));
	if (qq.edns)
		len += put_opt(out + len, opts, &qq, (uint8_t)(rcode >> 4));
	res->len = len;
	res->rcode = rcode;
	res->tc = tc;
	return GK_PKT_ANSWER;
}
