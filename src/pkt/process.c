/* SPDX-License-Identifier: MIT */
/* src/pkt/process.c -- query bytes to response bytes.
 *
 * Parse, ask the zone store for the compiled answer (zone/answer.h: the query's zone, then
 * one hash lookup for a name that exists, one per label stripped otherwise), decide
 * (decide/decide.h: the lists, the filing check and the policy), have the answer copied behind the
 * echoed question -- relocated to the query name, cut at an RRset boundary when it does not fit --
 * and append OPT. Answers that cannot be compiled are built at query time by the store, still
 * without allocation.
 */
#include <string.h>
#include "pkt/ede.h"
#include "pkt/parse.h"
#include "pkt/process.h"
#include "common/dns.h"
#include "common/psl.h"
#include "zone/answer.h"
#include "status/status.h"
#include "decide/inline.h"
#include "pkt/fzones.h"
#include "policy/policy.h" /* gk_policy_local_t of a redirect */
#include "rrl/rrl.h"

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

/* Where the answer comes from. */
enum src {
	SRC_TMPL,     /* a compiled template */
	SRC_RUNTIME,  /* built at query time (zone/resolve.c) */
	SRC_REFUSED,  /* REFUSED */
	SRC_LOCAL,    /* a policy redirect's local data */
	SRC_TC,       /* nothing, TC set (RPZ rpz-tcp-only. over UDP) */
	SRC_SERVFAIL, /* the zone has no data (not loaded yet, failed, expired) */
	SRC_FORWARD,  /* a forwarded zone's name: to a backend when it may be resolved */
	SRC_NEG,      /* a forwarded name refused with NXDOMAIN or NODATA: no SOA to give */
	SRC_DROP_,    /* a forwarded name refused with the drop action: no response */
};

/* ---- the decision (decide/decide.h) ------------------------------------------------- */

/* Filter for answers built at query time (gk_asm_t.allow): a name's data may go out when
 * its registrable domain passes the check. */
static bool allow_reg(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	const gk_pkt_opts_t *o = ctx;
	return !gk_decide_reg_refused_inline(o, reg, rlen, hash);
}

/* gk_zone_tmpl_clean's test: a registrable domain the template carries is refused. */
static bool refused_reg(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	return gk_decide_reg_refused_inline(ctx, reg, rlen, hash);
}

/* ---- response assembly ---------------------------------------------------------------- */

/* The response's rate-limiting class and source name (process.h, rrl/rrl.h), from what the
 * packet path already knows: the rcode and counts written, and the names of the zone hit
 * (zn NULL: no served zone). qlen: the question name's length. */
static void rrl_classify(gk_pkt_result_t *res, uint8_t rcode, uint8_t flags_hi,
                         const uint16_t cnt[3], size_t qlen, const gk_zone_names_t *zn)
{
	size_t keep = qlen; /* octets of the name's suffix the key uses */
	gk_rrl_class_t cls;
	if (rcode == GK_RCODE_NXDOMAIN || rcode != GK_RCODE_NOERROR) {
		cls = rcode == GK_RCODE_NXDOMAIN ? GK_RRL_NXDOMAIN : GK_RRL_ERROR;
		keep = zn && zn->apex ? zn->apex : 1;
	} else if (!(flags_hi & HDR_AA) && cnt[0] == 0 && cnt[1] > 0) {
		cls = GK_RRL_REFERRAL;
		if (zn && zn->cut)
			keep = zn->cut;
	} else if (zn && zn->wild) {
		cls = GK_RRL_WILDCARD;
		keep = zn->wild;
	} else {
		cls = cnt[0] == 0 ? GK_RRL_NODATA : GK_RRL_ANSWER;
	}
	if (keep == 0 || keep > qlen)
		keep = qlen;
	res->rrl_class = (uint8_t)cls;
	res->rrl_off = (uint8_t)(qlen - keep);
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
	size_t n = gk_pkt_ede_put(p + OPT_LEN, ede->ede_code, ede->text, ede->text_len);
	wr16(p + 9, (uint16_t)n);
	return OPT_LEN + n;
}

/* A redirect's local data (policy.h gk_policy_local_t) as the answer, owner = the query name
 * (a pointer to the question). Returns SRC_LOCAL with the records written behind the question,
 * or SRC_TMPL when nothing answers the type (NODATA). Records that do not fit in room are
 * left out with TC set. */
static enum src put_local(uint8_t *out, size_t qend, const gk_query_t *qq,
                          const gk_policy_local_t *l, size_t room, uint16_t cnt[3], size_t *body,
                          bool *tc)
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
		const gk_policy_rr_t *rr = &l->rr[i];
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

/* The decision for a name under a forwarded zone (no zone data of ours: the registrable
 * domain comes from the public suffix list). Returns SRC_FORWARD (may be resolved: the
 * caller relays it), SRC_DROP_, or what to answer instead: SRC_REFUSED, SRC_NEG (*neg_nx),
 * SRC_LOCAL (*local), SRC_TC, with *refusal the EDE to send. st: the question's suffix
 * states (gk_namehash_states). */
static enum src forward_decide(const gk_pkt_opts_t *opts, const gk_query_t *qq, const uint64_t *st,
                               enum gk_pkt_transport transport, gk_pkt_result_t *res,
                               const gk_refusal_t **refusal, const gk_policy_local_t **local,
                               bool *neg_nx)
{
	if (!opts->status && !opts->policy)
		return SRC_FORWARD;
	uint64_t h = 0;
	int off = opts->psl ? gk_psl_registrable_wire(opts->psl, qq->qname, qq->qlen) : -1;
	if (off >= 0) {
		h = gk_namehash_fin(gk_namehash_state_at(st, qq->loff, qq->labels, (size_t)off));
		res->reg_off = (uint16_t)(12 + off);
		res->reg_len = (uint8_t)(qq->qlen - off);
	}
	gk_decide_query_t dq = {
	    .qname = qq->qname,
	    .qlen = qq->qlen,
	    .loff = qq->loff,
	    .labels = qq->labels,
	    .st = st,
	    .reg = off >= 0 ? qq->qname + off : NULL,
	    .rlen = off >= 0 ? qq->qlen - (size_t)off : 0,
	    .hash = h,
	    .memo = NULL,
	    .udp = transport == GK_PKT_UDP,
	};
	gk_decision_t d;
	gk_decide_inline(opts, &dq, &d);
	res->list = d.list;
	res->filing = d.filing;
	res->why = d.why;
	res->action = d.action;
	res->monitor = d.monitor;
	res->filter = d.filter;
	if (!d.refuse || d.monitor)
		return SRC_FORWARD;
	*refusal = d.refusal;
	if (d.refusal == NULL)
		return SRC_TC; /* rpz-tcp-only over UDP */
	if (d.local) {
		*local = d.local;
		return SRC_LOCAL;
	}
	switch (d.refusal->action) {
	case GK_ACT_DROP:
		return SRC_DROP_;
	case GK_ACT_NXDOMAIN:
		*neg_nx = true;
		return SRC_NEG;
	case GK_ACT_NODATA:
	case GK_ACT_REDIRECT: /* no local data: NODATA */
		return SRC_NEG;
	default:
		return SRC_REFUSED;
	}
}

void gk_pkt_prefetch(const gk_zoneset_t *zs, unsigned stage, const uint8_t *q, size_t qlen,
                     gk_pkt_hint_t *h)
{
	if (stage == 0) {
		uint8_t name[GK_DNAME_MAX + 1], loff[GK_DNAME_LABELS_MAX];
		unsigned labels;
		size_t n = gk_pkt_parse_question_name(q, qlen, name, loff, &labels);
		h->ok = false;
		if (n)
			gk_zone_prefetch_name(zs, name, n, loff, labels, h);
		return;
	}
	gk_zone_prefetch(zs, stage, h);
}

gk_pkt_outcome_t gk_pkt_process(const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                                enum gk_pkt_transport transport, const uint8_t *q, size_t qlen,
                                uint8_t *out, gk_pkt_result_t *res)
{
	return gk_pkt_process_hint(zs, opts, transport, q, qlen, out, res, NULL);
}

gk_pkt_outcome_t gk_pkt_process_hint(const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                                     enum gk_pkt_transport transport, const uint8_t *q, size_t qlen,
                                     uint8_t *out, gk_pkt_result_t *res, const gk_pkt_hint_t *hint)
{
	gk_query_t qq;
	gk_parse_t pr = gk_pkt_parse_query(q, qlen, &qq);
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
	res->pool = 0;
	res->client_limit = 0;
	res->do_bit = false;
	res->filter = false;
	if (pr == GK_PARSE_DROP)
		return GK_PKT_DROP;

	size_t qend = qq.qend;
	uint8_t rcode = GK_RCODE_NOERROR, flags_hi = (uint8_t)(HDR_QR | (qq.flags_hi & 0x79));
	uint8_t flags_lo = 0; /* CD is cleared: RFC 4035 3.1.6, as NSD and Knot */
	uint16_t cnt[3] = {0, 0, 0};
	size_t body = 0;
	bool tc = false;
	const gk_refusal_t *refusal = NULL;
	gk_zone_names_t zn = {0, 0, 0};
	bool in_zone = false;
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
		gk_zone_hit_t hit_z = {.node = NULL};
		const uint64_t *st = qq.st; /* the question's states (gk_query_t.st) */
		enum src s = SRC_REFUSED;
		bool slotted = false; /* gk_zone_use_do gave a slotted template */
		size_t fapex = 0;     /* a forwarded zone's apex: its length in octets */
		if ((qq.qclass == GK_CLASS_IN || qq.qclass == GK_CLASS_ANY) &&
		    qq.qtype != GK_TYPE_AXFR && qq.qtype != GK_TYPE_IXFR && zs) {
			/* every suffix's hash state, once: the zone, its nodes, the registrable
			 * domain and the decision take theirs from here; a batch's prefetch
			 * (stage 0) has made that pass already */
			if (hint && hint->ok && hint->labels == qq.labels && hint->qlen == qq.qlen)
				st = hint->st;
			else
				gk_namehash_pstates(qq.qname, qq.loff, qq.labels, qq.lens_or,
				                    qq.st);
			switch (gk_zone_find(zs, qq.qname, qq.qlen, qq.loff, qq.labels, st,
			                     qq.qtype, hint, &hit_z)) {
			case GK_ZONE_TMPL:
				s = SRC_TMPL;
				break;
			case GK_ZONE_RUNTIME:
				s = SRC_RUNTIME;
				break;
			case GK_ZONE_SERVFAIL:
				s = SRC_SERVFAIL;
				break;
			default:
				s = SRC_REFUSED;
				break;
			}
			if (qq.qclass == GK_CLASS_ANY && s != SRC_REFUSED && s != SRC_SERVFAIL)
				s = SRC_RUNTIME; /* rare: not worth templates of its own */
			if (s != SRC_REFUSED && hit_z.node != NULL) {
				gk_zone_names(&hit_z, &zn);
				in_zone = true;
			}
			/* a forwarded zone below one of ours: the more specific apex wins */
			int pool = -1;
			if (opts->fwd && (s == SRC_REFUSED || in_zone))
				pool = gk_pkt_fzones_find(opts->fwd, qq.qname, qq.qlen, qq.loff,
				                          qq.labels, &fapex);
			if (pool >= 0 && (s == SRC_REFUSED || fapex > zn.apex)) {
				s = SRC_FORWARD;
				res->pool = (uint16_t)pool;
				in_zone = false;
				hit_z.node = NULL;
				zn = (gk_zone_names_t){0, 0, 0};
			}
			/* DO=1 in a signed zone: the answer compiled with RRSIGs and proofs */
			if (s == SRC_TMPL && qq.do_bit && gk_zone_signed(&hit_z)) {
				int u = gk_zone_use_do(&hit_z, qq.qlen);
				if (u == 0)
					s = SRC_RUNTIME;
				slotted = u == 2;
			}
		} else if (qq.qclass != GK_CLASS_IN && qq.qclass != GK_CLASS_CH) {
			qend = 0; /* other classes: REFUSED without the question, as NSD */
		}
		bool filter = false, neg_nx = false;
		const gk_policy_local_t *local = NULL;
		if (s == SRC_FORWARD) {
			s = forward_decide(opts, &qq, st, transport, res, &refusal, &local,
			                   &neg_nx);
			if (s == SRC_DROP_)
				return GK_PKT_DROP;
			if (s == SRC_FORWARD) {
				res->qend = (uint16_t)qend;
				res->client_limit =
				    transport == GK_PKT_UDP ? (uint16_t)limit : (uint16_t)65535;
				res->do_bit = qq.do_bit;
				res->qlen = (uint16_t)qlen;
				/* the relayed answer's rate-limiting source name for NXDOMAIN and
				 * errors: the forwarded zone's apex */
				res->rrl_off =
				    (uint8_t)(fapex && fapex <= qq.qlen ? qq.qlen - fapex : 0);
				return GK_PKT_FORWARD;
			}
		}
		/* a zone without data answers nothing: no decision to make */
		if (s != SRC_REFUSED && s != SRC_SERVFAIL && hit_z.node != NULL &&
		    (opts->status || opts->policy)) {
			uint64_t h = 0;
			int off = gk_zone_reg(&hit_z, opts->psl, qq.qname, qq.qlen, qq.loff,
			                      qq.labels, st, &h);
			if (off >= 0) {
				res->reg_off = (uint16_t)(12 + off);
				res->reg_len = (uint8_t)(qq.qlen - off);
			}
			gk_decide_query_t dq = {
			    .qname = qq.qname,
			    .qlen = qq.qlen,
			    .loff = qq.loff,
			    .labels = qq.labels,
			    .st = st,
			    .reg = off >= 0 ? qq.qname + off : NULL,
			    .rlen = off >= 0 ? qq.qlen - (size_t)off : 0,
			    .hash = h,
			    /* the zone's own registrable domain: remembered in the zone */
			    .memo = gk_zone_memo(&hit_z),
			    .udp = transport == GK_PKT_UDP,
			};
			gk_decision_t d;
			gk_decide_inline(opts, &dq, &d);
			res->list = d.list;
			res->filing = d.filing;
			res->why = d.why;
			res->action = d.action;
			res->monitor = d.monitor;
			if (d.refuse && !d.monitor) {
				refusal = d.refusal;
				/* what goes out is the refusal, not the wildcard's data */
				zn.wild = 0;
				if (d.refusal && d.refusal->action != GK_ACT_DROP &&
				    gk_zone_signed(&hit_z)) {
					/* a signed zone: a made-up answer would be bogus to a
					 * validating resolver, and a proven one would confirm the
					 * name's data; REFUSED with the EDE whatever the action
					 * (policy/README.md "Signed zones") */
					s = SRC_REFUSED;
				} else if (d.refusal == NULL) {
					s = SRC_TC; /* rpz-tcp-only over UDP */
				} else if (d.local) {
					s = SRC_LOCAL;
					local = d.local;
				} else if (d.refusal->action == GK_ACT_DROP) {
					return GK_PKT_DROP;
				} else if (d.refusal->action == GK_ACT_REFUSE) {
					s = SRC_REFUSED;
				} else {
					s = SRC_TMPL;
					gk_zone_use_negative(&hit_z,
					                     d.refusal->action == GK_ACT_NXDOMAIN);
				}
			} else if (d.filter) {
				filter = true;
				if (s == SRC_TMPL &&
				    !gk_zone_tmpl_clean(&hit_z, refused_reg, (void *)opts))
					s = SRC_RUNTIME;
			}
		}
		size_t room = limit - qend - (qq.edns ? OPT_LEN : 0) -
		              (qq.edns && refusal ? GK_PKT_EDE_LEN(refusal->text_len) : 0);
		if (s == SRC_LOCAL) {
			s = put_local(out, qend, &qq, local, room, cnt, &body, &tc);
			if (s == SRC_TMPL && hit_z.node == NULL) /* forwarded: no SOA */
				s = SRC_NEG;
			else if (s == SRC_TMPL) /* no record of the type: NODATA */
				gk_zone_use_negative(&hit_z, false);
			else
				flags_hi |= HDR_AA;
		}
		if (s == SRC_NEG) {
			rcode = neg_nx ? GK_RCODE_NXDOMAIN : GK_RCODE_NOERROR;
			flags_hi |= HDR_AA;
		} else if (s == SRC_REFUSED) {
			rcode = GK_RCODE_REFUSED;
		} else if (s == SRC_SERVFAIL) {
			rcode = GK_RCODE_SERVFAIL;
		} else if (s == SRC_TC) {
			tc = true;
		} else if (s == SRC_LOCAL) {
			/* put_local wrote the records */
		} else {
			gk_zone_out_t zo;
			/* DO=1 wildcard answers and NXDOMAIN: the proof for this name goes in */
			/* (unless the filing check put a negative answer in its place) */
			slotted = slotted && s == SRC_TMPL && gk_zone_slotted(&hit_z);
			if (slotted && !gk_zone_put_slot(&hit_z, out + qend, qq.qname, qq.qlen,
			                                 qq.loff, qq.labels, room, &zo))
				s = SRC_RUNTIME;
			else if (s == SRC_TMPL && !slotted)
				gk_zone_put_tmpl(&hit_z, out + qend, qq.qlen, room, &zo);
			if (s == SRC_RUNTIME)
				gk_zone_put_runtime(
				    zs, out, GK_PKT_OUT_MAX - OPT_LEN - 6 - sizeof(refusal->text),
				    qend, qq.qname, qq.qlen, qq.loff, qq.labels, st, qq.qtype,
				    qq.qclass == GK_CLASS_ANY, qq.do_bit, filter ? allow_reg : NULL,
				    (void *)opts, opts->psl, room, &zo);
			cnt[0] = zo.cnt[0];
			cnt[1] = zo.cnt[1];
			cnt[2] = zo.cnt[2];
			body = zo.body;
			tc = zo.tc;
			rcode = zo.rcode;
			if (zo.aa)
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
	res->qend = (uint16_t)(qend ? qend : 12);
	rrl_classify(res, rcode, flags_hi, cnt, qend ? qq.qlen : 0, in_zone && qend ? &zn : NULL);
	return GK_PKT_ANSWER;
}
