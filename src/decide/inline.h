/* SPDX-License-Identifier: MIT */
/* src/decide/inline.h -- the decision's body (decide.h), inline for the packet path.
 *
 * gk_decide and gk_decide_reg_refused are these functions out of line; the packet path
 * (pkt/process.c) includes this file so the decision costs no call and no copies on the
 * UDP path (callgrind: about 43 instructions a query out of line). One implementation,
 * two ways in: nothing here may differ from what decide.h documents.
 */
#pragma once
#include "decide/decide.h"
#include "policy/policy.h"
#include "status/status.h"

/* A status rule as the decision: true when it refuses. */
static inline bool gk_decide_by_rule(const gk_pkt_opts_t *o, gk_policy_status_t ps,
                                     gk_decision_t *d)
{
	if (o->policy == NULL) /* a replica without any policy: nothing to refuse with */
		return false;
	const gk_policy_hit_t *h = gk_policy_status(o->policy, ps);
	if (h->verdict != GK_POLICY_BLOCK)
		return false;
	d->refusal = h->action;
	d->local = h->local;
	return true;
}

/* The filing status of reg (NULL: none) and its rule: true when refused, with refusal,
 * local and why in *d; the status in d->filing. */
static inline bool gk_decide_judge(const gk_pkt_opts_t *o, const uint8_t *reg, size_t rlen,
                                   uint64_t hash, _Atomic uint64_t *memo, gk_decision_t *d)
{
	if (!reg) {
		/* a public suffix itself (a registry's apex and infrastructure): no filing to
		 * look up, the no_registrable rule decides (resolve unless configured) */
		d->filing = GK_FS_UNFILED;
		d->why = GK_WHY_UNFILED;
		return gk_decide_by_rule(o, GK_POLICY_NOREG, d);
	}
	int s = memo ? gk_status_get_memo(o->status, reg, rlen, hash, memo)
	             : gk_status_get(o->status, reg, rlen, hash, NULL);
	d->filing = (int8_t)s;
	switch (s) {
	case GK_FS_FILED:
		return false;
	case GK_FS_STARTING:
		d->refusal = &o->starting;
		d->why = GK_WHY_STARTING;
		return o->starting.action != GK_ACT_RESOLVE;
	case GK_FS_REVOKED:
		d->why = GK_WHY_REVOKED;
		return gk_decide_by_rule(o, GK_POLICY_REVOKED, d);
	case GK_FS_UNKNOWN:
		d->why = GK_WHY_UNKNOWN;
		return gk_decide_by_rule(o, GK_POLICY_UNKNOWN, d);
	default: /* absent */
		d->why = GK_WHY_UNFILED;
		return gk_decide_by_rule(o, GK_POLICY_UNFILED, d);
	}
}

static inline bool gk_decide_reg_refused_inline(const gk_pkt_opts_t *o, const uint8_t *reg,
                                                size_t rlen, uint64_t hash)
{
	gk_decision_t d = {0};
	return gk_decide_judge(o, reg, rlen, hash, NULL, &d);
}

static inline void gk_decide_inline(const gk_pkt_opts_t *o, const gk_decide_query_t *q,
                                    gk_decision_t *d)
{
	*d = (gk_decision_t){.filing = GK_DECIDE_NOCHECK};
	if (o->status == NULL && o->policy == NULL)
		return;
	bool refuse = false, checked = true;
	const gk_policy_hit_t *hit =
	    gk_policy_match(o->policy, q->qname, q->qlen, q->loff, q->labels, q->st);
	if (hit) {
		/* the operator's lists */
		d->list = hit->list;
		switch (hit->verdict) {
		case GK_POLICY_BLOCK:
			d->refusal = hit->action;
			d->local = hit->local;
			d->why = GK_WHY_BLOCKED;
			refuse = true;
			break;
		case GK_POLICY_TCP_ONLY:
			if (q->udp) {
				d->why = GK_WHY_TCP_ONLY;
				refuse = true;
			}
			break;
		default: /* allow, passthru: resolved without the filing check */
			d->why = GK_WHY_ALLOWED;
			checked = false;
			break;
		}
	}
	if (!refuse && checked && o->status) {
		gk_why_t allowed = d->why;
		refuse = gk_decide_judge(o, q->reg, q->rlen, q->hash, q->memo, d);
		if (!refuse) {
			d->why = allowed; /* a rule that resolves is no refusal */
			d->refusal = NULL;
			d->local = NULL;
		}
	}
	bool monitor = o->policy && gk_policy_mode(o->policy) == GK_POLICY_MONITOR;
	if (refuse) {
		d->refuse = true;
		d->monitor = monitor;
		d->action = (uint8_t)(d->refusal == NULL ? GK_ACT_TRUNCATE
		                      : d->local         ? GK_ACT_REDIRECT
		                                         : d->refusal->action);
	} else {
		d->why = checked ? GK_WHY_NONE : d->why;
		d->refusal = NULL;
		d->local = NULL;
		d->filter = checked && o->status && !monitor;
	}
}
