/* SPDX-License-Identifier: MIT */
/* src/sync/ipfeed.h -- the IP filing feed: access providers' address ranges (docs/FEED.md).
 *
 * Same conventions as the domain feed (src/sync/feed.h): JSON Lines, the shared header
 * (gk_sync_feed_header_parse) with "feed":"ip", Ed25519 detached signature, snapshot or delta,
 * parsed all or nothing with the first problem reported as "FILE:LINE: reason". A record is
 * {"provider":..., "range":"CIDR" | "FIRST-LAST", "province":..., "usage":...} or, in a delta,
 * {"range":..., "op":"remove"}. Ranges are IPv4 or IPv6; IPv4 is held as ::ffff:a.b.c.d.
 * Within one feed two identical ranges are an error, so are two ranges that overlap without
 * one holding the other; a range inside another is allowed (the most specific range wins at
 * lookup) and counted in n_nested (gk-sync lint warns). No Redis here: the fuzzer drives it.
 * Any thread; one feed per caller.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"
#include "sync/feed.h"
#include "sync/iptab.h"

typedef struct gk_ip_range {
	uint8_t first[16], last[16];  /* network order; IPv4 as ::ffff:a.b.c.d */
	const char *provider;         /* NULL for a removal */
	const char *province, *usage; /* NULL when absent */
	uint32_t line;                /* 1-based line in the feed */
	uint8_t v4;                   /* 1: an IPv4 range */
	uint8_t remove;               /* 1: {"op":"remove"} (delta only) */
} gk_ip_range_t;

typedef struct gk_ipfeed {
	gk_feed_kind_t kind;
	uint64_t serial, base, count;
	char generated[40];
	size_t n; /* records, in line order */
	gk_ip_range_t *r;
	size_t n_nested; /* ranges that lie inside another range of the feed */
	void *priv;
} gk_ipfeed_t;

/* Parse and validate a whole IP filing feed held in data[0..len). Returns 0 with *out (free
 * with gk_sync_ipfeed_free); GK_ESYNTAX with err "name:LINE: reason"; GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_ipfeed_parse(const char *name, const char *data, size_t len,
                                       gk_ipfeed_t **out, char *err, size_t errlen);
void gk_sync_ipfeed_free(gk_ipfeed_t *f);

/* The overlap rules over ranges r[0..n) (removals skipped): identical ranges and ranges
 * that overlap without nesting are GK_ESYNTAX with err "name:LINE: reason" (the later line);
 * each nested pair is passed to nested(inner, outer, ctx) when given and counted in
 * *n_nested. Returns 0, GK_ESYNTAX or GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_ipfeed_check(const char *name, const gk_ip_range_t *r, size_t n,
                                       size_t *n_nested,
                                       void (*nested)(const gk_ip_range_t *inner,
                                                      const gk_ip_range_t *outer, void *ctx),
                                       void *ctx, char *err, size_t errlen);

/* The stored value of a range (gk:ip:ranges, docs/REDIS.md): compact JSON with provider,
 * province and usage (the last two only when present). Returns a malloc'd string, or NULL
 * when out of memory. */
char *gk_sync_ipfeed_value(const gk_ip_range_t *r);

/* Redis keys of the IP filing feed (docs/REDIS.md), on the status instance. */
#define GK_KEY_IP_RANGES "gk:ip:ranges"     /* HASH: canonical range -> gk_sync_ipfeed_value JSON */
#define GK_KEY_IP_SERIAL "gk:ip:serial"     /* STRING: the IP feed serial applied (decimal) */
#define GK_KEY_IP_NEW    "gk:ip:ranges:new" /* a snapshot being written, renamed at the end */
