/* SPDX-License-Identifier: MIT */
/* src/sync/feed.h -- the registry feed: parse and validate a whole feed held in memory.
 *
 * A feed is JSON Lines (docs/FEED.md): a header line, then one record per line. Parsing is
 * all or nothing: the first problem found (lowest line) is reported as "FILE:LINE: reason"
 * and no gk_feed_t is returned, so a caller never writes part of a bad feed. Domains come
 * out normalised (lowercase, no trailing dot, A-labels) and are registrable domains under
 * the ICANN section of the PSL. No Redis here: this is the part the fuzzer drives.
 *
 * Threading: gk_sync_feed_parse may use worker threads internally; the caller must have called
 * gk_sync_feed_global_init() once before starting any thread of its own that uses jansson.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "common/psl.h"
#include "gk/errors.h"

typedef enum gk_feed_kind {
	GK_FEED_SNAPSHOT = 1,
	GK_FEED_DELTA = 2,
} gk_feed_kind_t;

/* One domain record. status is GK_FS_FILED or GK_FS_REVOKED, or GK_FS_UNFILED for a delta's
 * {"op":"remove"}. Strings are owned by the feed and live until gk_sync_feed_free. */
typedef struct gk_feed_rec {
	const char *domain;  /* normalised, NUL-terminated */
	const char *record;  /* gk_sync_rec_encode() bytes (src/sync/record.h: the stored form
	                      * once gk_sync_rec_finish puts the provider id in); NULL: remove,
	                      * NO_RECORDS */
	uint32_t record_len; /* bytes at record (a NUL follows them, not counted) */
	uint32_t line;       /* 1-based line in the feed */
	uint32_t provider;   /* index into gk_feed_t.providers plus 1; 0: no provider */
	uint16_t bucket;     /* gk_fs_bucket(domain) */
	uint8_t domain_len;
	uint8_t status; /* gk_fs_status_t */
} gk_feed_rec_t;

typedef struct gk_feed {
	gk_feed_kind_t kind;
	uint64_t serial;
	uint64_t base; /* delta only: the serial this delta applies on top of */
	uint64_t count;
	char generated[40];
	size_t n; /* number of records (== count) */
	gk_feed_rec_t *recs;
	size_t n_providers;
	const char **providers; /* distinct provider names in first-seen order */
	void *priv;
} gk_feed_t;

/* Call once at program start, before any thread: seeds jansson's hash function. */
void gk_sync_feed_global_init(void);

/* The longest line (header or record) a feed may hold, its newline included. A registry
 * record is about 300 bytes; a longer line rejects the whole feed at that line. */
#define GK_FEED_LINE_MAX 4096

/* gk_sync_feed_parse flags */
#define GK_FEED_NO_RECORDS 1u /* leave gk_feed_rec_t.record NULL (status-only apply) */
#define GK_FEED_DROP_PAGES                                                                         \
	2u /* data is a page-aligned anonymous mapping the caller will not                         \
	    * read again: parsed pages are given back (MADV_DONTNEED) */

/* Parse and validate data[0..len) (the exact signed bytes). name is used in messages.
 * Lines longer than GK_FEED_LINE_MAX are rejected.
 * threads: how many threads parse records (0 or 1: the caller's only). flags: GK_FEED_*. On success
 * returns 0 and *out (free with gk_sync_feed_free). On a bad feed returns GK_ESYNTAX with err
 * holding "name:LINE: reason"; GK_ENOMEM on allocation failure. err may be NULL. */
GK_MUST_CHECK int gk_sync_feed_parse(const char *name, const char *data, size_t len,
                                     const gk_psl_t *psl, unsigned threads, unsigned flags,
                                     gk_feed_t **out, char *err, size_t errlen);
void gk_sync_feed_free(gk_feed_t *feed);

/* The header line every feed starts with (docs/FEED.md), shared by the domain feed and the
 * IP filing feed (src/sync/ipfeed.h): "feed" names which ("domain" when absent). */
#define GK_FEED_TYPE_DOMAIN 0
#define GK_FEED_TYPE_IP     1
typedef struct gk_feed_header {
	gk_feed_kind_t kind;
	uint64_t serial;
	uint64_t base; /* delta only */
	uint64_t count;
	char generated[40];
	int type;    /* GK_FEED_TYPE_* */
	size_t body; /* offset of the first record line */
} gk_feed_header_t;

/* Whether a feed of kind with serial (and a delta's base) applies on top of the store's
 * serial cur (key: the serial's Redis key, named in messages). Returns 0 (apply), 1 (a
 * delta whose serial is cur: applied already, nothing to do), GK_ESYNTAX (a snapshot not
 * newer, a delta older than cur or on another base below cur) or GK_EAGAIN (a delta whose
 * base is above cur: an earlier delta is missing), with err "NAME:1: ...". Pure. */
GK_MUST_CHECK int gk_sync_feed_serial_check(const char *name, gk_feed_kind_t kind, uint64_t serial,
                                            uint64_t base, uint64_t cur, const char *key, char *err,
                                            size_t errlen);

/* Check data[0..len) ends in a newline (else "truncated" at the last line) and parse its
 * header line (kind, serial >= 1, count >= 0, base < serial for a delta, generated, feed).
 * Returns 0 with *h, or GK_ESYNTAX with err "name:LINE: reason". */
GK_MUST_CHECK int gk_sync_feed_header_parse(const char *name, const char *data, size_t len,
                                            gk_feed_header_t *h, char *err, size_t errlen);

/* Read only the header line of data (for ordering files in a watch directory).
 * Returns 0, or GK_ESYNTAX with err as for gk_sync_feed_parse. */
GK_MUST_CHECK int gk_sync_feed_peek_header(const char *name, const char *data, size_t len,
                                           gk_feed_kind_t *kind, uint64_t *serial, uint64_t *base,
                                           char *err, size_t errlen);

/* Normalise a domain name: ASCII lowercased, one trailing dot dropped, U-labels converted
 * to A-labels (libidn2, UTS#46 non-transitional), labels checked (LDH, 1..63 bytes, total
 * <= 253), and every A-label ("xn--") decoded: it must decode to a valid U-label that encodes
 * back to the same A-label ("xn--a" does not). out must hold 256 bytes. Returns the length, or
 * GK_EINVAL with *why set to a static explanation. Any thread. */
GK_MUST_CHECK int gk_sync_feed_domain_normalise(const char *in, size_t len, char *out,
                                                const char **why);

/* Status keyword ("filed", "revoked") to gk_fs_status_t, or -1. */
int gk_sync_feed_status_parse(const char *s);
