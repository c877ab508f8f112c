/* SPDX-License-Identifier: MIT */
/* src/xfr/zfile.h -- the secondary's persisted zone files (docs/SECONDARY.md, "Persisted
 * zones").
 *
 * A persisted file is the zone as it was last transferred, in a compact binary form that
 * loads without text parsing: a fixed header, the zone's name, the primary it came from,
 * then every record in uncompressed wire form (SOA first). All integers are big-endian.
 *
 *   offset  size  field
 *        0     8  magic "\x89GKZONE\n"
 *        8     4  version (1)
 *       12     4  flags (0)
 *       16     8  refreshed: seconds since the epoch of the transfer (or last refresh)
 *       24    16  SOA serial, refresh, retry, expire (as the first record has them)
 *       40     4  record count
 *       44     2  name length, 46: 2  primary length
 *       48     8  record octets
 *       56     4  CRC-32C of the whole file with these four octets taken as zero
 *       60        name (lowercase, no final dot), primary (its text), records
 *
 * The file's size must be exactly the sum of its parts; anything else -- another magic, a
 * version other than 1, a size or CRC mismatch, a name other than the zone's, a first record
 * that is not the apex SOA the header describes -- is refused with a message saying which,
 * and the zone is transferred afresh: a damaged file is never served. Pure functions, any
 * thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "gk/errors.h"

#define GK_XFR_ZFILE_VERSION 1u
#define GK_XFR_ZFILE_HEADER  60u

typedef struct gk_xfr_zfile {
	uint64_t refreshed; /* seconds since the epoch */
	uint32_t serial, refresh, retry, expire;
	const char *name; /* decode: into the buffer, name_len octets, not NUL-terminated */
	size_t name_len;
	const char *primary; /* decode: into the buffer, primary_len octets */
	size_t primary_len;
	const uint8_t *rrs; /* count records in uncompressed wire form, rrs_len octets */
	size_t rrs_len;
	uint32_t count;
} gk_xfr_zfile_t;

/* The file's bytes for zf (serial and timers as given: the caller read them from the SOA;
 * name and primary NUL-terminated or with their lengths set). *out is malloc'd. Returns 0,
 * GK_EINVAL (a name or primary over 65535 octets) or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_zfile_encode(const gk_xfr_zfile_t *zf, uint8_t **out, size_t *len);

/* Check buf[0..len) as a persisted file of zone (presentation form, any case, final dot
 * optional; NULL: any zone) and fill *zf with pointers into buf. Returns 0; GK_ERANGE for a
 * file of another version (err says which); GK_ESYNTAX for anything else wrong (err says
 * what: truncated, checksum, wrong zone, first record). */
GK_MUST_CHECK int gk_xfr_zfile_decode(const uint8_t *buf, size_t len, const char *zone,
                                      gk_xfr_zfile_t *zf, char *err, size_t errlen);

/* CRC-32C (Castagnoli) of p[0..n), continuing crc (0 to start). */
uint32_t gk_xfr_crc32c(uint32_t crc, const void *p, size_t n);
