/* SPDX-License-Identifier: MIT */
/* src/xfr/xfr.h -- incoming zone transfers: SOA query, AXFR (RFC 5936) and IXFR (RFC 1995)
 * from a primary over TCP, optionally TSIG-signed (tsig.h).
 *
 * gk_xfr_start runs one exchange on the caller's libuv loop (the transfer thread's, never a
 * query thread's): connect, send the query, check every message of the answer in order
 * (ID, question, framing, records at or below the apex, size and record caps, TSIG chain),
 * and report once through the callback. An IXFR the primary refuses (NOTIMP, REFUSED,
 * FORMERR), answers with a diff that does not apply to our data, is retried as AXFR on a
 * new connection; one answered with the full zone is taken as such. The result of a
 * transfer is the whole new zone as records in uncompressed wire form (SOA first), ready for
 * gk_zone_ver_build (gk_zone_spec_t.wire) and for the persisted file (zfile.h): the module keeps
 * no zone data of its own between transfers (an IXFR is applied to the records the caller
 * hands in).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "gk/errors.h"
#include "xfr/tsig.h"

typedef enum gk_xfr_kind {
	GK_XFR_SOA,  /* SOA query: the primary's serial */
	GK_XFR_AXFR, /* full zone */
	GK_XFR_IXFR, /* differences since a serial (or a full zone, if the primary says so) */
} gk_xfr_kind_t;

/* Bounds on one answer. */
typedef struct gk_xfr_limits {
	size_t max_bytes; /* sum of message lengths */
	size_t max_rrs;   /* records, SOAs included */
} gk_xfr_limits_t;

typedef struct gk_xfr_request {
	const char *zone;   /* apex, presentation form */
	gk_xfr_kind_t kind; /* what to ask */
	uint32_t serial;    /* IXFR: the serial we hold */
	const uint8_t *cur; /* IXFR: our zone's records (as a result's wire), cur_len octets, */
	size_t cur_len, cur_count;   /* cur_count of them */
	const struct sockaddr *addr; /* the primary (IPv4 or IPv6, port set) */
	const gk_tsig_key_t *key;    /* NULL: unsigned; else must outlive the exchange */
	gk_xfr_limits_t lim;
	uint32_t timeout_ms; /* connect, and each read: the longest silence accepted */
} gk_xfr_request_t;

typedef struct gk_xfr_result {
	int rc;             /* 0, or GK_EIO (network, timeout), GK_ESYNTAX (bad answer, TSIG),
	                       GK_EZONE, GK_ENOMEM */
	char err[320];      /* the reason when rc != 0 */
	gk_xfr_kind_t kind; /* what was done: SOA, AXFR (also after an IXFR fell back) or IXFR */
	bool uptodate;      /* IXFR: the primary has nothing newer */
	bool fell_back;     /* an IXFR was asked, an AXFR was done */
	uint32_t serial;    /* the primary's serial (SOA) or the new zone's */
	uint8_t *wire;      /* AXFR/IXFR: the whole new zone's records (SOA first, uncompressed
	                       wire form); malloc'd, the callback may take it (set to NULL),
	                       else freed after the callback returns */
	size_t wire_len, count;  /* octets, records */
	size_t bytes, rrs, msgs; /* of the answer (the last exchange, when it fell back) */
} gk_xfr_result_t;

typedef void (*gk_xfr_done_fn)(void *ctx, gk_xfr_result_t *res);

/* Start one exchange on loop. The loop's data pointer is the module's (its list of
 * exchanges): use a loop of its own for transfers, with data NULL before the first call
 * (uv_loop_init leaves data as it was). req is copied (cur_text too); key and addr are
 * copied or borrowed as said above. done is called exactly once, on loop, when the exchange ends
 * (also when it fails); not at all if this returns an error. Returns 0, GK_EINVAL (bad zone name)
 * or GK_ENOMEM. Loop thread. */
GK_MUST_CHECK int gk_xfr_start(uv_loop_t *loop, const gk_xfr_request_t *req, gk_xfr_done_fn done,
                               void *ctx);

/* End every exchange running on loop now: each reports GK_EIO ("cancelled") through its
 * callback once its handles are closed (the loop must run on). Loop thread. */
void gk_xfr_cancel_all(uv_loop_t *loop);

/* RFC 1982 serial arithmetic: true when a is newer than b. */
bool gk_xfr_serial_gt(uint32_t a, uint32_t b);
