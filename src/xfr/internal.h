/* SPDX-License-Identifier: MIT */
/* src/xfr/internal.h -- the transfer module's parts, shared by its files, its tests and its
 * fuzzer: the answer stream checker (stream.c: every message of a SOA, AXFR or IXFR answer,
 * in order) and the zone data helpers (zonedata.c: RR lists to and from master-file text,
 * IXFR differences applied). ldns types are allowed here: nothing in pkt/ includes this.
 * Every function runs on the transfer thread (or a test's), one stream per transfer.
 */
#pragma once
#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gk/errors.h"
#include "xfr/tsig.h"
#include "xfr/xfr.h"

/* One difference sequence of an IXFR (RFC 1995 section 4). */
typedef struct gk_xfr_diff {
	ldns_rr *soa_from, *soa_to;
	ldns_rr_list *del, *add;
} gk_xfr_diff_t;

/* What a stream found. */
typedef enum gk_xfr_outcome {
	GK_XFR_MORE,     /* more messages expected */
	GK_XFR_DONE,     /* complete: see the stream's result */
	GK_XFR_UPTODATE, /* IXFR answered with one SOA no newer than ours */
	GK_XFR_FALLBACK, /* IXFR refused (NOTIMP, REFUSED, FORMERR): ask AXFR */
	GK_XFR_ERROR,    /* malformed, out of zone, over a cap, TSIG failure, rcode */
} gk_xfr_outcome_t;

typedef struct gk_xfr_stream {
	/* set by gk_xfr_stream_init */
	ldns_rdf *apex;
	gk_xfr_kind_t kind;
	uint32_t have_serial; /* IXFR: the serial we hold */
	uint16_t id;
	gk_xfr_limits_t lim;
	gk_tsig_ctx_t *tsig; /* borrowed, may be NULL; the request was signed with it */
	/* progress */
	unsigned msgs;
	size_t bytes, rrs;
	int state;
	/* results */
	ldns_rr *soa;        /* the answer's first SOA (owned) */
	bool incremental;    /* IXFR answered with differences */
	ldns_rr_list *zone;  /* AXFR (or IXFR answered in full): every record but the last SOA */
	gk_xfr_diff_t *diff; /* IXFR differences, ndiff of them */
	size_t ndiff, diffcap;
	char err[256]; /* why GK_XFR_ERROR or GK_XFR_FALLBACK */
} gk_xfr_stream_t;

/* Start checking the answer to a query with this ID for apex (lowercase or not, presentation
 * form). Returns 0, GK_EINVAL (bad apex) or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_stream_init(gk_xfr_stream_t *s, const char *apex, gk_xfr_kind_t kind,
                                     uint32_t have_serial, uint16_t id, const gk_xfr_limits_t *lim,
                                     gk_tsig_ctx_t *tsig);
/* Check one message (msg[0..len), no TCP length prefix) of the answer. now: seconds since the
 * epoch (TSIG). After DONE, UPTODATE, FALLBACK or ERROR feed no more. */
gk_xfr_outcome_t gk_xfr_stream_feed(gk_xfr_stream_t *s, const uint8_t *msg, size_t len,
                                    uint64_t now);
void gk_xfr_stream_free(gk_xfr_stream_t *s);

/* The SOA serial of an SOA RR. */
uint32_t gk_xfr_soa_serial(const ldns_rr *soa);

/* Parse master-file text written by gk_xfr_zone_text (one record per line, absolute names,
 * ';' comments) into a new list (owned by the caller). Returns 0, GK_ESYNTAX (err names the
 * line) or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_zone_parse(const char *text, size_t len, ldns_rr_list **out, char *err,
                                    size_t errlen);

/* The zone (SOA first) as master-file text: a comment line (header, may be NULL), then one
 * record per line. *out is malloc'd and NUL-terminated. Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_zone_text(const ldns_rr_list *zone, const char *header, char **out,
                                   size_t *len);

/* The zone's records in uncompressed wire form, one after the other (gk_zone_spec_t.wire,
 * the persisted file's records): *out malloc'd, *len octets. Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_zone_wire(const ldns_rr_list *zone, uint8_t **out, size_t *len);

/* The count records of w[0..len) (as gk_xfr_zone_wire writes them) into a new list (owned by
 * the caller), SOA first. Returns 0, GK_ESYNTAX (err names the record) or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_wire_parse(const uint8_t *w, size_t len, size_t count, ldns_rr_list **out,
                                    char *err, size_t errlen);

/* Apply the IXFR differences to zone (SOA first, as gk_xfr_zone_parse makes it), in order.
 * A deletion of a record the zone lacks, or a first sequence not starting at the zone's
 * serial, fails with GK_EZONE (err says which): the caller falls back to AXFR. On success
 * zone holds the new data (SOA first); on failure it is left partial (free it). zone takes
 * copies; s keeps its lists. */
GK_MUST_CHECK int gk_xfr_apply(ldns_rr_list *zone, const gk_xfr_stream_t *s, char *err,
                               size_t errlen);
