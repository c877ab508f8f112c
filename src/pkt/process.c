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
#include "common/psl.h"
#include "status/status.h"
#include "policy/policy.h"

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
enum src {
	SRC_TMPL,    /* a compiled template */
	SRC_RUNTIME, /* built at query time (zone/resolve.c) */
	SRC_REFUSED, /* REFUSED */
	SRC_LOCAL,   /* a policy redirect's local data */
	SRC_TC,      /* nothing, TC set (RPZ rpz-tcp-only. over UDP) */
};

/* Find the answer for the query. *node receives the node the name matched, or its closest
 * encloser (*exact false) -- the node that decides the zone for the filing check. */
static enum src find_answer(const gk_zoneset_t *zs, const gk_query_t *qq, const gk_tmpl_t **t,
                            const gk_node_t **node, bool *exact)
{
	const uint8_t *name = qq->qname;
	size_t len = qq->qlen;
	uint16_t qtype = qq->qtype;
	const gk_node_t *n = gk_zoneset_find(zs, name, len, gk_dname_hash(name, len));
	*exact = n != NULL;
	if (n) {
		*node = n;
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
	*node = n;
	if (n->cut)
		*t = n->cut->other;
	else if ((n->flags & GK_NODE_DNAME) || n->dname)
		return SRC_RUNTIME;
	else
		*t = n->wild ? gk_node_tmpl(n->wild, qtype) : n->zone->nxdomain;
	return usable(*t, len) ? SRC_TMPL : SRC_RUNTIME;
}

/* ---- the decision (DESIGN.md "The decision") ----------------------------------------- */

/* What to send instead of the answer. */
struct verdict {
	const gk_refusal_t *r;       /* action and EDE */
	const gk_pol_local_t *local; /* redirect: local data, or NULL */
	uint8_t why;                 /* gk_why_t */
};

/* Steps 5 and 6 for a registrable domain (reg NULL: there is none): true when it is refused,
 * with what in *vd; its status in *fs. The policy's status rules, when there is a policy,
 * replace the configured ones (the start-up rule stays the config's). */
static bool judge(const gk_pkt_opts_t *o, const uint8_t *reg, size_t rlen, uint64_t hash,
                  _Atomic uint64_t *memo, int *fs, struct verdict *vd)
{
	if (!reg) {
		/* a public suffix itself (a registry's apex and infrastructure): no filing to
		 * look up, the no_registrable rule decides (resolve unless configured) */
		*fs = GK_FS_UNFILED;
		vd->local = NULL;
		vd->why = GK_WHY_UNFILED;
		if (o->policy) {
			const gk_pol_hit_t *h = gk_policy_status(o->policy, GK_POL_NOREG);
			if (h->verdict != GK_POL_BLOCK)
				return false;
			vd->r = h->action;
			vd->local = h->local;
			return true;
		}
		vd->r = &o->no_registrable;
		return o->no_registrable.action != GK_ACT_RESOLVE;
	}
	int s = memo ? gk_status_get_memo(o->status, reg, rlen, hash, memo)
	             : gk_status_get(o->status, reg, rlen, hash, NULL);
	*fs = s;
	const gk_refusal_t *r;
	gk_pol_status_t ps;
	switch (s) {
	case GK_FS_FILED:
		return false;
	case GK_FS_STARTING:
		vd->r = &o->starting;
		vd->local = NULL;
		vd->why = GK_WHY_STARTING;
		return o->starting.action != GK_ACT_RESOLVE;
	case GK_FS_REVOKED:
		r = &o->revoked;
		ps = GK_POL_REVOKED;
		vd->why = GK_WHY_REVOKED;
		break;
	case GK_FS_STALE:
		r = &o->unknown;
		ps = GK_POL_UNKNOWN;
		vd->why = GK_WHY_UNKNOWN;
		break;
	default:
		r = &o->unfiled; /* absent */
		ps = GK_POL_UNFILED;
		vd->why = GK_WHY_UNFILED;
		break;
	}
	vd->local = NULL;
	if (o->policy) {
		const gk_pol_hit_t *h = gk_policy_status(o->policy, ps);
		if (h->verdict != GK_POL_BLOCK)
			return false;
		vd->r = h->action;
		vd->local = h->local;
		return true;
	}
	vd->r = r;
	return r->action != GK_ACT_RESOLVE;
}

static bool refused(const gk_pkt_opts_t *o, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	int fs;
	struct verdict vd;
	return judge(o, reg, rlen, hash, NULL, &fs, &vd);
}

/* Registrable domain of the query name (inside qq->qname), known from the zone, the node,
 * or -- for zones at or above a public suffix -- the PSL. Returns its offset or -1. */
static int query_reg(const gk_pkt_opts_t *o, const gk_query_t *qq, const gk_node_t *n, bool exact,
                     uint64_t *hash)
{
	const gk_zone_t *z = n->zone;
	if (z->reg_len) {
		*hash = z->reg_hash;
		return qq->qlen - z->reg_len;
	}
	int off;
	if (exact && n->reg_off < GK_REG_UNKNOWN)
		off = n->reg_off;
	else if (exact && n->reg_off == GK_REG_NONE)
		off = -1;
	else
		off = o->psl ? gk_psl_registrable_wire(o->psl, qq->qname, qq->qlen) : -1;
	if (off >= 0)
		*hash = gk_dname_hash(qq->qname + off, qq->qlen - (size_t)off);
	return off;
}

/* Filter for answers built at query time (gk_asm_t.allow): a name's data may go out when
 * its registrable domain passes the check. */
static bool allow_reg(void *ctx, const uint8_t *reg, size_t rlen)
{
	const gk_pkt_opts_t *o = ctx;
	return !refused(o, reg, rlen, reg ? gk_dname_hash(reg, rlen) : 0);
}

/* A template that carries other registrable domains needs each of them to pass. */
static bool tmpl_clean(const gk_pkt_opts_t *o, const gk_tmpl_t *t)
{
	if (t->flags & GK_TMPL_RECHECK)
		return false;
	for (unsigned i = 0; i < t->nregs; i++)
		if (refused(o, t->regs[i].len ? t->regs[i].name : NULL, t->regs[i].len,
		            t->regs[i].hash))
			return false;
	return true;
}

/* ---- response assembly ---------------------------------------------------------------- */

/* Copy a template behind the question, relocating its pointers to a qname of qlen. */
static void put_tmpl(uint8_t *b, const gk_tmpl_t *t, size_t qlen)
{
	memcpy(b, t->body, t->len);
	int delta = (int)qlen - (int)t->qname_len;
	if (!delta)
		return;
	for (unsigned i = 0; i < t->nfix; i++) {
		uint8_t *p = b + t->fix[i];
		unsigned tgt = ((p[0] & 0x3fu) << 8) | p[1];
		if (tgt > 12 || (tgt == 12 && (t->flags & GK_TMPL_SHIFT_WHOLE)))
			wr16(p, (uint16_t)(0xc000 | (tgt + (unsigned)delta)));
	}
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

/* OPT, with an Extended DNS Error (RFC 8914) when ede is not NULL. */
static size_t put_opt(uint8_t *p, const gk_pkt_opts_t *opts, const gk_query_t *qq,
                      uint8_t ext_rcode, const gk_refusal_t *ede)
{
	p[0] = 0;
	wr16(p + 1, 41);
	wr16(p + 3, opts->edns_udp_max);
	p[5] = ext_rcode;
	p[6] = 0; /* version 0 */
	p[7] = qq->do_bit ? 0x80 : 0;
	p[8] = 0;
	if (!ede) {
		wr16(p + 9, 0);
		return OPT_LEN;
	}
	wr16(p + 9, (uint16_t)(6u + ede->text_len));
	wr16(p + 11, 15); /* OPTION-CODE: EDE */
	wr16(p + 13, (uint16_t)(2u + ede->text_len));
	wr16(p + 15, ede->ede_code);
	memcpy(p + 17, ede->text, ede->text_len);
	return OPT_LEN + 6u + ede->text_len;
}

/* A redirect's local data (policy.h gk_pol_local_t) as the answer, owner = the query name
 * (a pointer to the question). Returns SRC_LOCAL with the records written behind the question,
 * or SRC_TMPL when nothing answers the type (NODATA). Records that do not fit in room are
 * left out with TC set. */
static enum src put_local(uint8_t *out, size_t qend, const gk_query_t *qq, const gk_pol_local_t *l,
                          size_t room, uint16_t cnt[3], size_t *body, bool *tc)
{
	uint16_t want = qq->qtype;
	unsigned n = 0;
	for (unsigned i = 0; i < l->n; i++)
		if (l->rr[i].type == want || want == GK_TYPE_ANY)
			n++;
	if (n == 0) {
		for (unsigned i = 0; i < l->n; i++)
			if (l->rr[i].type == GK_TYPE_CNAME) {
				want = GK_TYPE_CNAME;
				n = 1;
				break;
			}
		if (n == 0)
			return SRC_TMPL;
	}
	size_t len = 0;
	uint16_t an = 0;
	for (unsigned i = 0; i < l->n; i++) {
		const gk_pol_rr_t *rr = &l->rr[i];
		if (rr->type != want && want != GK_TYPE_ANY)
			continue;
		size_t need = 12u + rr->rdlen;
		if (len + need > room) {
			*tc = true;
			break;
		}
		uint8_t *p = out + qend + len;
		wr16(p, 0xc00c);
		wr16(p + 2, rr->type);
		wr16(p + 4, GK_CLASS_IN);
		p[6] = (uint8_t)(rr->ttl >> 24);
		p[7] = (uint8_t)(rr->ttl >> 16);
		p[8] = (uint8_t)(rr->ttl >> 8);
		p[9] = (uint8_t)rr->ttl;
		wr16(p + 10, rr->rdlen);
		memcpy(p + 12, rr->rdata, rr->rdlen);
		len += need;
		an++;
		if (want == GK_TYPE_CNAME)
			break;
	}
	cnt[0] = an;
	cnt[1] = cnt[2] = 0;
	*body = len;
	return SRC_LOCAL;
}

void gk_pkt_prefetch(const gk_zoneset_t *zs, unsigned stage, const uint8_t *q, size_t qlen,
                     gk_pkt_hint_t *h)
{
	if (stage == 0) {
		h->ok = gk_parse_question_hash(q, qlen, &h->hash, &h->qtype);
		if (h->ok)
			__builtin_prefetch(&zs->table[h->hash & zs->mask]);
		return;
	}
	if (!h->ok)
		return;
	const gk_zslot_t *s = &zs->table[h->hash & zs->mask];
	if (s->node && s->hash == h->hash)
		__builtin_prefetch(s->node);
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
	res->filing = GK_PKT_NOCHECK;
	res->action = GK_ACT_RESOLVE;
	res->reg_off = 0;
	res->reg_len = 0;
	res->why = GK_WHY_NONE;
	res->monitor = false;
	res->list = 0;
	if (pr == GK_PARSE_DROP)
		return GK_PKT_DROP;

	size_t qend = qq.qend;
	uint8_t rcode = GK_RCODE_NOERROR, flags_hi = (uint8_t)(HDR_QR | (qq.flags_hi & 0x79));
	uint8_t flags_lo = 0; /* CD is cleared: RFC 4035 3.1.6, as NSD and Knot */
	uint16_t cnt[3] = {0, 0, 0};
	size_t body = 0;
	bool tc = false;
	const gk_refusal_t *refusal = NULL;
	/* the answer may use what is left after header, question and OPT */
	size_t limit = GK_PKT_OUT_MAX;
	if (transport == GK_PKT_UDP) {
		limit = 512;
		if (qq.edns && qq.edns_size > 512)
			limit =
			    qq.edns_size < opts->edns_udp_max ? qq.edns_size : opts->edns_udp_max;
	}

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
		const gk_node_t *node = NULL;
		bool exact = false;
		enum src s = SRC_REFUSED;
		if ((qq.qclass == GK_CLASS_IN || qq.qclass == GK_CLASS_ANY) &&
		    qq.qtype != GK_TYPE_AXFR && qq.qtype != GK_TYPE_IXFR && zs) {
			s = find_answer(zs, &qq, &t, &node, &exact);
			if (qq.qclass == GK_CLASS_ANY && s != SRC_REFUSED)
				s = SRC_RUNTIME; /* rare: not worth templates of its own */
		} else if (qq.qclass != GK_CLASS_IN && qq.qclass != GK_CLASS_CH) {
			qend = 0; /* other classes: REFUSED without the question, as NSD */
		}
		bool filter = false;
		const gk_pol_local_t *local = NULL;
		if (s != SRC_REFUSED && (opts->status || opts->policy)) {
			struct verdict vd = {NULL, NULL, GK_WHY_NONE};
			bool refuse = false, checked = true;
			const gk_pol_hit_t *hit =
			    gk_policy_match(opts->policy, qq.qname, qq.qlen, qq.loff, qq.labels);
			if (hit) {
				/* steps 3 and 4: the operator's lists */
				res->list = hit->list;
				switch (hit->verdict) {
				case GK_POL_BLOCK:
					vd = (struct verdict){hit->action, hit->local,
					                      GK_WHY_BLOCKED};
					refuse = true;
					break;
				case GK_POL_TCP_ONLY:
					if (transport == GK_PKT_UDP) {
						vd.why = GK_WHY_TCP_ONLY;
						refuse = true;
					}
					break;
				default: /* allow, passthru: resolved without the filing check */
					res->why = GK_WHY_ALLOWED;
					checked = false;
					break;
				}
			}
			uint64_t h = 0;
			int off = query_reg(opts, &qq, node, exact, &h);
			if (off >= 0) {
				res->reg_off = (uint16_t)(12 + off);
				res->reg_len = (uint8_t)(qq.qlen - off);
			}
			if (!refuse && checked && opts->status) {
				int fs;
				/* the zone's own registrable domain: remembered in the zone */
				_Atomic uint64_t *memo =
				    node->zone->reg_len ? (_Atomic uint64_t *)&node->zone->st_memo
				                        : NULL;
				refuse =
				    judge(opts, off >= 0 ? qq.qname + off : NULL,
				          off >= 0 ? qq.qlen - (size_t)off : 0, h, memo, &fs, &vd);
				res->filing = (int8_t)fs;
			}
			bool monitor =
			    opts->policy && gk_policy_mode(opts->policy) == GK_POL_MONITOR;
			if (refuse) {
				res->why = vd.why;
				res->action = (uint8_t)(vd.r == NULL ? GK_ACT_TRUNCATE
				                        : vd.local   ? GK_ACT_REDIRECT
				                                     : vd.r->action);
				res->monitor = monitor;
			}
			if (refuse && !monitor) {
				refusal = vd.r;
				if (vd.r == NULL) {
					s = SRC_TC; /* rpz-tcp-only over UDP */
				} else if (vd.local) {
					s = SRC_LOCAL;
					local = vd.local;
				} else if (vd.r->action == GK_ACT_DROP) {
					return GK_PKT_DROP;
				} else if (vd.r->action == GK_ACT_REFUSE) {
					s = SRC_REFUSED;
				} else {
					s = SRC_TMPL;
					t = vd.r->action == GK_ACT_NXDOMAIN ? node->zone->nxdomain
					                                    : node->zone->nodata;
				}
			} else if (checked && opts->status && !monitor) {
				filter = true;
				if (s == SRC_TMPL && !tmpl_clean(opts, t))
					s = SRC_RUNTIME;
			}
		}
		size_t room = limit - qend - (qq.edns ? OPT_LEN : 0) -
		              (qq.edns && refusal ? 6u + refusal->text_len : 0);
		if (s == SRC_LOCAL) {
			s = put_local(out, qend, &qq, local, room, cnt, &body, &tc);
			if (s == SRC_TMPL)
				t = node->zone->nodata; /* no record of the type: NODATA */
			else
				flags_hi |= HDR_AA;
		}
		if (s == SRC_REFUSED) {
			rcode = GK_RCODE_REFUSED;
		} else if (s == SRC_TC) {
			tc = true;
		} else if (s == SRC_LOCAL) {
			/* put_local wrote the records */
		} else if (s == SRC_TMPL) {
			put_tmpl(out + qend, t, qq.qlen);
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
			a.class_any = qq.qclass == GK_CLASS_ANY;
			a.allow = filter ? allow_reg : NULL;
			a.allow_ctx = (void *)opts;
			a.psl = opts->psl;
			gk_asm_init(&a, out, GK_PKT_OUT_MAX - OPT_LEN - 6 - sizeof(refusal->text),
			            qend, qq.qname, qq.qlen);
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
		len += put_opt(out + len, opts, &qq, (uint8_t)(rcode >> 4), refusal);
	res->len = len;
	res->rcode = rcode;
	res->tc = tc;
	return GK_PKT_ANSWER;
}
