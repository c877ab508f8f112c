/* SPDX-License-Identifier: MIT */
/* src/decide/decide.h -- the decision: may this name be resolved, and if not, what is sent.
 *
 * One function and one vocabulary for every caller (DESIGN.md "The decision"): the packet
 * path (pkt/process.c) for our own zones, the front end for forwarded zones, the policy's
 * rules (policy/policy.h speaks gk_refusal_t), metrics and dnstap (gk_action_t, gk_why_t)
 * and gkctl lookup (the names below). A leaf header: it includes nothing of the project
 * but the vocabulary (gk/decision.h); the status replica and the policy are only named.
 *
 * The steps, in order: the operator's lists (gk_policy_match: block, allow/passthru,
 * tcp-only); then the filing status of the registrable domain, ruled by the policy's status
 * rules (the config's filing.* rules compiled into a default policy when no policy file is
 * set: gk_policy_from_rules); before the replica's first load, the start-up rule. A policy
 * in monitor mode turns every refusal into a logged resolve.
 *
 * Pure: no allocation, no lock, no syscall; any thread, as long as the options' status
 * replica and policy outlive the call.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/decision.h"

/* gk_action_t, gk_why_t and gk_refusal_t: the vocabulary, in gk/decision.h (the policy
 * speaks it too, and it is below the policy). */

/* filing in a decision when no filing check ran (no replica, or a name we do not serve);
 * otherwise a GK_FS_* of status/status.h. */
#define GK_DECIDE_NOCHECK 3

struct gk_policy_local;
struct gk_status;
struct gk_psl;
struct gk_policy;
struct gk_fzones;

/* The options a query is answered under: the packet path's (pkt/process.h), declared here
 * because the decision reads them. */
typedef struct gk_pkt_opts {
	uint16_t edns_udp_max; /* largest UDP response we send with EDNS (>= 512); 1232 default */
	/* Filing check: off when status is NULL. */
	const struct gk_status *status; /* the replica (status/status.h) */
	const struct gk_psl *psl;       /* for names whose registrable domain is not known at
	                                   load time (zones at or above a public suffix) */
	/* before the replica's first full load (filing.startup: refuse with the unknown rule's
	 * refusal, or resolve) */
	gk_refusal_t starting;
	/* Operator policy (policy/policy.h): its block/allow lists apply with or without the
	 * filing check, its status rules are the filing check's (decide/decide.h). With a
	 * replica there is always one: the daemon and gkctl compile the config's filing.*
	 * rules into a default policy (gk_policy_from_rules) when no policy file is set. NULL
	 * with a replica: every status resolves. */
	const struct gk_policy *policy;
	/* Forwarded zones (pkt/fzones.h), or NULL: a name no zone of ours holds but one of
	 * these does is decided here and, when it may be resolved, handed to the front end
	 * (GK_PKT_FORWARD) instead of REFUSED. */
	const struct gk_fzones *fwd;
} gk_pkt_opts_t;

/* The name a decision is about. */
typedef struct gk_decide_query {
	const uint8_t *qname;   /* lowercase uncompressed wire name, root label included */
	size_t qlen;            /* its length */
	const uint8_t *loff;    /* offset of each label in qname (gk_query_t.loff) */
	unsigned labels;        /* labels, not counting the root */
	const uint64_t *st;     /* qname's gk_namehash_states (gk_query_t.st), or NULL */
	const uint8_t *reg;     /* its registrable domain (a suffix of qname), NULL: none (a
	                           public suffix itself) */
	size_t rlen;            /* length of reg */
	uint64_t hash;          /* gk_namehash(reg, rlen) */
	_Atomic uint64_t *memo; /* the zone's memo of its own registrable domain's status
	                           (zone/answer.h gk_zone_memo), or NULL */
	bool udp;               /* asked over UDP (tcp-only entries refuse it with TC) */
} gk_decide_query_t;

/* The outcome. */
typedef struct gk_decision {
	bool refuse;    /* refused: action/why say how and why (also in monitor mode) */
	bool monitor;   /* refused, but the policy is in monitor mode: resolve, log the refusal */
	bool filter;    /* resolved after the filing check: other names an answer carries (CNAME
	                   targets, additional data) go through gk_decide_reg as well */
	uint8_t action; /* gk_action_t: GK_ACT_RESOLVE unless refuse */
	uint8_t why;    /* gk_why_t */
	int8_t filing;  /* GK_FS_* found, or GK_DECIDE_NOCHECK */
	uint16_t list;  /* policy list that matched (1-based, gk_policy_list_name), 0: none */
	/* refuse only: what to send -- action and EDE; NULL for GK_ACT_TRUNCATE */
	const gk_refusal_t *refusal;
	/* refuse only: a redirect's local data (policy/policy.h gk_policy_local_t), or NULL */
	const struct gk_policy_local *local;
} gk_decision_t;

/* Decide for q under the options o (gk_pkt_opts_t above: the replica, the policy,
 * the start-up rule). With neither a replica nor a policy nothing is checked: resolve,
 * filing GK_DECIDE_NOCHECK. Always fills *d. */
void gk_decide(const struct gk_pkt_opts *o, const gk_decide_query_t *q, gk_decision_t *d);

/* The status step alone, for the other names an answer carries: true when the registrable
 * domain reg[0..rlen) (NULL: none) would be refused. Lists are not consulted (they apply to
 * the query name). */
bool gk_decide_reg_refused(const struct gk_pkt_opts *o, const uint8_t *reg, size_t rlen,
                           uint64_t hash);

/* Names for logs, gkctl and metrics labels: "resolve", "refuse", "nxdomain", "nodata",
 * "drop", "redirect", "tcp-only"; "-", "unfiled", "revoked", "unknown", "starting",
 * "blocked", "allowed", "tcp-only". "?" when out of range. Static strings. */
const char *gk_decide_action_name(unsigned action);
const char *gk_decide_why_name(unsigned why);
