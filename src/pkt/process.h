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
#include "zone/zone.h"

/* Capacity every caller must give for the response buffer (largest DNS message). */
#define GK_PKT_OUT_MAX 65535u

enum gk_pkt_transport { GK_PKT_UDP = 0, GK_PKT_TCP = 1 };

typedef struct gk_pkt_opts {
	uint16_t edns_udp_max; /* largest UDP response we send with EDNS (>= 512); 1232 default */
} gk_pkt_opts_t;

typedef enum gk_pkt_outcome {
	GK_PKT_ANSWER = 0, /* out[0..res->len) is the response to send */
	GK_PKT_DROP,       /* send nothing: no usable header, or QR set (a response) */
} gk_pkt_outcome_t;

/* What happened, for counters and logs. Filled for both outcomes. */
typedef struct gk_pkt_result {
	size_t len;     /* response length */
	uint16_t qtype; /* 0 when the question could not be parsed */
	uint8_t rcode;  /* response code sent (extended rcode folded in: BADVERS = 16) */
	bool tc;        /* response truncated (TC set) */
	bool edns;      /* query carried an OPT record */
} gk_pkt_result_t;

/* Answer one query. q/qlen: the query bytes (UDP payload, or a TCP message without its
 * length prefix). out: GK_PKT_OUT_MAX bytes owned by the caller. For UDP the response is
 * limited to 512 bytes, or to min(client EDNS size, opts->edns_udp_max) with EDNS, with TC
 * set when the required records do not fit; for TCP to 65535 bytes. */
gk_pkt_outcome_t gk_pkt_process(const gk_zoneset_t *zs, const gk_pkt_opts_t *opts,
                                enum gk_pkt_transport transport, const uint8_t *q, size_t qlen,
                                uint8_t *out, gk_pkt_result_t *res);
