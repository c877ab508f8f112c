/* SPDX-License-Identifier: MIT */
/* src/rrl/rrl.h -- response rate limiting (RRL), with NSD's and Knot's semantics.
 *
 * Every UDP response is counted under a key: the client's network prefix (/24 IPv4, /56
 * IPv6 by default), the response's class (answer, NODATA, NXDOMAIN, referral, error or
 * refusal, wildcard) and the class's source name (the query name for answers and NODATA,
 * the zone apex for NXDOMAIN and errors, the delegation point for referrals, the wildcard's
 * closest encloser for wildcard answers): so a flood of random names under one zone, or a
 * reflection of one large answer, is one key. Each key earns `rate` responses per second
 * (at most one second's worth banked); past that its responses are limited: every `slip`th
 * limited one goes out truncated (TC=1, no records), so a real client behind the prefix
 * retries over TCP, and the others are dropped. A key that went over owes at most `window`
 * seconds of responses: it is answered again once its average over the window is back under
 * the rate. TCP is never limited (the caller does not ask). Prefixes in `exempt` never are.
 *
 * Threading: a table (gk_rrl_t) belongs to one thread, the UDP thread that answers from it;
 * nothing is shared, nothing locked, nothing allocated after gk_rrl_new. The limit is
 * therefore per UDP thread: the kernel spreads datagrams over a listen address's
 * SO_REUSEPORT sockets by the hash of (source address, source port), so a client that sends
 * from one port meets one table, and one that varies its source port can reach up to
 * `workers` tables, i.e. workers x rate responses per second (docs/CONFIG.md).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include "common/prefix.h"
#include "gk/errors.h"

/* Response classes (the packet path's gk_pkt_result_t.rrl_class). */
typedef enum gk_rrl_class {
	GK_RRL_ANSWER = 0, /* NOERROR with answer records: keyed by the query name */
	GK_RRL_NODATA,     /* NOERROR, no answer, authoritative: keyed by the query name */
	GK_RRL_NXDOMAIN,   /* keyed by the zone apex */
	GK_RRL_REFERRAL,   /* NOERROR, not authoritative, NS in authority: the delegation point */
	GK_RRL_ERROR,      /* REFUSED, FORMERR, NOTIMP, SERVFAIL...: the zone apex or the root */
	GK_RRL_WILDCARD,   /* synthesized from a wildcard: its closest encloser */
	GK_RRL_CLASSES
} gk_rrl_class_t;

#define GK_RRL_EXEMPT_MAX 64u

/* Defaults: NSD 4.6's rrl-ratelimit 200 and rrl-slip 2; Knot's /56 for IPv6 (NSD: /64). */
#define GK_RRL_RATE_DEFAULT   200u
#define GK_RRL_SLIP_DEFAULT   2u
#define GK_RRL_WINDOW_DEFAULT 15u
#define GK_RRL_V4_DEFAULT     24u
#define GK_RRL_V6_DEFAULT     56u
#define GK_RRL_TABLE_DEFAULT  65536u
#define GK_RRL_RATE_MAX       1000000u
#define GK_RRL_SLIP_MAX       10u
#define GK_RRL_WINDOW_MAX     3600u
#define GK_RRL_TABLE_MIN      64u
#define GK_RRL_TABLE_MAX      16777216u

/* Settings; a plain value (copied into each published view). rate 0: no limiting. */
typedef struct gk_rrl_config {
	unsigned rate;       /* responses per second per key; 0: off */
	unsigned slip;       /* every slip-th limited response goes out truncated; 0: none */
	unsigned window;     /* seconds (1..GK_RRL_WINDOW_MAX) */
	uint8_t v4_prefix;   /* 1..32 */
	uint8_t v6_prefix;   /* 1..128 */
	unsigned table_size; /* keys per table (per UDP thread); read at start only */
	unsigned n_exempt;
	gk_prefix_t exempt[GK_RRL_EXEMPT_MAX];
} gk_rrl_config_t;

/* The defaults above, no exempt prefix. */
void gk_rrl_config_default(gk_rrl_config_t *c);

typedef struct gk_rrl gk_rrl_t;

/* A table of entries keys (rounded up to a power of two, at least GK_RRL_TABLE_MIN), with a
 * random hash key. Returns 0 and *out, or GK_ENOMEM. Any thread; the table is then used by
 * one thread at a time. */
GK_MUST_CHECK int gk_rrl_new(unsigned entries, gk_rrl_t **out);
void gk_rrl_free(gk_rrl_t *t); /* NULL is ignored */

typedef enum gk_rrl_verdict {
	GK_RRL_PASS = 0, /* send the response */
	GK_RRL_SLIP,     /* limited: send it truncated (gk_rrl_truncate) */
	GK_RRL_DROP,     /* limited: send nothing */
} gk_rrl_verdict_t;

/* Count one response to sa under (cls, name) at now_s (seconds of a monotonic clock) and
 * say what to do with it. name: the source name in wire form (any case: folded here),
 * name_len octets; NULL (0): the root. cfg->rate must be > 0. The table's owner thread. */
gk_rrl_verdict_t gk_rrl_check(gk_rrl_t *t, const gk_rrl_config_t *cfg, const struct sockaddr *sa,
                              gk_rrl_class_t cls, const uint8_t *name, size_t name_len,
                              uint32_t now_s);

/* Whether sa falls in one of cfg's exempt prefixes. Pure. */
bool gk_rrl_exempt(const gk_rrl_config_t *cfg, const struct sockaddr *sa);

/* Turn the response msg[0..len) into the slip response: its header and question (qend
 * octets, 12 when there is no question) with TC set and every record count 0. Returns the
 * new length. */
size_t gk_rrl_truncate(uint8_t *msg, size_t len, size_t qend);
