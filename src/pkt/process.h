/* SPDX-License-Identifier: MIT */
/* src/pkt/process.h -- the single bytes-in/bytes-out entry point of the packet path.
 *
 * Pure and allocation-free: a query and the current zone set in, a response out. No I/O,
 * no locks, no syscalls. Safe to call from any number of threads at once, each with its
 * own output buffer, as long as the zone set outlives the call.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "decide/decide.h" /* gk_action_t, gk_why_t, gk_refusal_t */
#include "zone/answer.h"
#include "zone/zone.h"

/* Capacity every caller must give for the response buffer (largest DNS message). */
#define GK_PKT_OUT_MAX 65535u

enum gk_pkt_transport { GK_PKT_UDP = 0, GK_PKT_TCP = 1 };

/* gk_pkt_opts_t, the options a query is answered under, is declared in decide/decide.h
 * (the decision reads them). */

typedef enum gk_pkt_outcome {
	GK_PKT_ANSWER = 0, /* out[0..res->len) is the response to send */
	GK_PKT_DROP,       /* send nothing: no usable header, or QR set (a response) */
	GK_PKT_FORWARD,    /* a name under a forwarded zone that may be resolved: nothing is
	                      written to out; the caller relays q[0..res->qend) to pool
	                      res->pool (front/fwd.h) */
} gk_pkt_outcome_t;

/* What happened, for counters and logs. Filled for both outcomes. */
typedef struct gk_pkt_result {
	size_t len;       /* response length */
	uint16_t qtype;   /* 0 when the question could not be parsed */
	uint8_t rcode;    /* response code sent (extended rcode folded in: BADVERS = 16) */
	bool tc;          /* response truncated (TC set) */
	bool edns;        /* query carried an OPT record */
	int8_t filing;    /* filing status found (GK_FS_* of status/status.h) or GK_PKT_NOCHECK */
	uint8_t action;   /* gk_action_t taken: GK_ACT_RESOLVE unless refused */
	uint16_t reg_off; /* registrable domain of the query name: wire name at q + reg_off, */
	uint8_t reg_len;  /* reg_len octets (original case); reg_len 0 when there is none */
	uint8_t why;      /* gk_why_t */
	bool monitor;     /* policy in monitor mode: the refusal in action/why was not sent, the
	                     query was resolved */
	uint16_t list;    /* policy list that decided (1-based, gk_policy_list_name), 0: none */
	/* For response rate limiting (rrl/rrl.h), filled for GK_PKT_ANSWER: the response's
	 * class (gk_rrl_class_t) and its source name, the suffix of the question name (at
	 * out + 12) from octet rrl_off on, the root when qend is 12 or less. qend: end of the
	 * question in out (12 when the response has none). For GK_PKT_FORWARD rrl_off is the
	 * forwarded zone's apex in the question name (the relay classifies the answer). */
	uint8_t rrl_class;
	uint8_t rrl_off;
	uint16_t qend;
	/* GK_PKT_FORWARD only (qend is then the end of the query's question): the pool, the
	 * largest answer the client may get (512, min(its EDNS size, edns_udp_max), 65535 over
	 * TCP), the client's DO bit (edns above says whether it sent OPT), and the query's
	 * length (the relay reads its OPT: a client's EDNS Client Subnet). */
	uint16_t pool;
	uint16_t client_limit;
	bool do_bit;
	uint16_t qlen;
	/* GK_PKT_FORWARD: the filing check ran and resolves (gk_decision_t.filter), so the
	 * other names the backend's answer carries are checked too (front/filter.h) */
	bool filter;
} gk_pkt_result_t;

#define GK_PKT_NOCHECK                                                                             \
	GK_DECIDE_NOCHECK /* no filing check ran (no replica, or a name we do not serve) */

/* Pipelining a batch of queries. The zone data a query reads is a chain of dependent
 * loads: the zone's entry in the store's index, the zone's version, the name's table slot,
 * the node. Stage 0 of gk_pkt_prefetch parses the question name and starts loading the
 * index entry, each later stage the next link, each without waiting (zone/answer.h); run
 * over a batch a few queries apart, stage 0 furthest ahead and gk_pkt_process last, the
 * cache misses of several queries overlap instead of following one another. Hints only:
 * they change nothing, and every query, even a malformed one, is answered the same
 * without them. */
#define GK_PKT_PREFETCH_STAGES GK_ZONE_PREFETCH_STAGES
typedef gk_zone_hint_t gk_pkt_hint_t;
void gk_pkt_prefetch(const gk_zoneset_t *zs, unsigned stage, const uint8_t *q, size_t qlen,
                     gk_pkt_hint_t *h);

/* Answer one query. q/qlen: the query bytes (UDP payload, or a TCP message without its
 * length prefix). out: GK_PKT_OUT_MAX bytes owned by the caller. For UDP the response is
 * limited to 512 bytes, or to min(client EDNS size, opts->edns_udp_max) with EDNS, with TC
 * set when the required records do not fit; for TCP to 65535 bytes. */
gk_pkt_outcome_t gk_pkt_process(const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                                enum gk_pkt_transport transport, const uint8_t *q, size_t qlen,
                                uint8_t *out, gk_pkt_result_t *res);

/* As gk_pkt_process, with the hint every prefetch stage filled for this very packet (same
 * q, same zs) since the calling thread's last quiescent point: the zone the stages found is
 * not looked up again, and the question's suffix hash states come from stage 0 (one pass
 * over the name per query, batched or not). hint NULL: gk_pkt_process. */
gk_pkt_outcome_t gk_pkt_process_hint(const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                                     enum gk_pkt_transport transport, const uint8_t *q, size_t qlen,
                                     uint8_t *out, gk_pkt_result_t *res, const gk_pkt_hint_t *hint);
