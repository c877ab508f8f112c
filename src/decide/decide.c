/* SPDX-License-Identifier: MIT */
/* src/decide/decide.c -- the decision (decide.h): lists, filing status, start-up rule.
 *
 * The status rules come from the policy alone: a policy file's, a fleet push's, or the
 * default policy the config's filing.* rules compile to (gk_policy_from_rules). The start-up
 * rule is the one thing the options carry themselves: it is about the replica, not a name.
 */
#include "decide/inline.h"

void gk_decide(const gk_pkt_opts_t *o, const gk_decide_query_t *q, gk_decision_t *d)
{
	gk_decide_inline(o, q, d);
}

bool gk_decide_reg_refused(const gk_pkt_opts_t *o, const uint8_t *reg, size_t rlen, uint64_t hash)
{
	return gk_decide_reg_refused_inline(o, reg, rlen, hash);
}

const char *gk_decide_action_name(unsigned action)
{
	static const char *const n[GK_ACT_N] = {"resolve", "refuse",   "nxdomain", "nodata",
	                                        "drop",    "redirect", "tcp-only"};
	return action < GK_ACT_N ? n[action] : "?";
}

const char *gk_decide_why_name(unsigned why)
{
	static const char *const n[GK_WHY_N] = {"-",        "unfiled", "revoked", "unknown",
	                                        "starting", "blocked", "allowed", "tcp-only"};
	return why < GK_WHY_N ? n[why] : "?";
}
