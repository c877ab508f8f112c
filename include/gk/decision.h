/* SPDX-License-Identifier: MIT */
/* include/gk/decision.h -- the vocabulary of the decision: what is sent for a query, why,
 * and a refusal with its Extended DNS Error.
 *
 * Spoken by the decision (src/decide/decide.h, which also names them for logs, gkctl and
 * metrics labels), the operator policy (src/policy/policy.h: status rules and lists say
 * refusals), the packet path, metrics, dnstap and gkctl lookup. Types only.
 */
#pragma once
#include <stdint.h>

/* What is sent for a query (DESIGN.md "The decision"). */
typedef enum gk_action {
	GK_ACT_RESOLVE = 0, /* answer normally (our zone data, or a backend's answer) */
	GK_ACT_REFUSE,      /* REFUSED */
	GK_ACT_NXDOMAIN,    /* NXDOMAIN with the zone's SOA */
	GK_ACT_NODATA,      /* NOERROR, no answer, the zone's SOA */
	GK_ACT_DROP,        /* no response */
	/* in a decision only (a policy says these with local data / an RPZ verdict): */
	GK_ACT_REDIRECT, /* the policy's local data (A/AAAA of a notice page), else NODATA */
	GK_ACT_TRUNCATE, /* RPZ rpz-tcp-only. over UDP: empty response with TC set */
} gk_action_t;
#define GK_ACT_N 7

/* Why a query was refused (or, for GK_WHY_ALLOWED, let through without the filing check). */
typedef enum gk_why {
	GK_WHY_NONE = 0, /* resolved by the filing check (filed), or no check ran */
	GK_WHY_UNFILED,  /* registrable domain not filed, or no registrable domain */
	GK_WHY_REVOKED,  /* filing revoked */
	GK_WHY_UNKNOWN,  /* replica older than its bound (Redis unreachable) */
	GK_WHY_STARTING, /* before the replica's first full load */
	GK_WHY_BLOCKED,  /* an operator block list entry (list) */
	GK_WHY_ALLOWED,  /* an operator allow list entry (list): resolved unchecked */
	GK_WHY_TCP_ONLY, /* an RPZ rpz-tcp-only. entry (list), over UDP */
} gk_why_t;
#define GK_WHY_N 8

/* One refusal: the action, and the RFC 8914 Extended DNS Error sent with it (to EDNS
 * clients): INFO-CODE (15 Blocked, 16 Censored, 17 Filtered, 18 Prohibited) and EXTRA-TEXT. */
typedef struct gk_refusal {
	gk_action_t action;
	uint16_t ede_code;
	uint8_t text_len;
	char text[64]; /* UTF-8, not NUL-terminated on the wire */
} gk_refusal_t;
