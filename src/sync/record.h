/* SPDX-License-Identifier: MIT */
/* src/sync/record.h -- the compact record encoding stored in gk:rec:%04x (v1).
 *
 * The byte layout is specified in include/gk/filing_status.h (record buckets). gk-sync
 * encodes while parsing a feed (gk_sync_rec_encode, then gk_sync_rec_finish at apply time to put
 * the Redis provider id in); gkctl and reports decode (gk_sync_rec_decode, gk_sync_rec_to_json).
 * The encoding is canonical: the same feed record always gives the same bytes, so a snapshot diff
 * compares values byte for byte. Any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

/* Field indices, in stored order. */
enum {
	GK_REC_PROVIDER = 0,
	GK_REC_LICENCE,
	GK_REC_SPONSOR,
	GK_REC_NATURE,
	GK_REC_UPDATED,
	GK_REC_SITE_NAME,
	GK_REC_HOME_URL,
	GK_REC_IPS,
	GK_REC_PHONE,
	GK_REC_PERSON,
	GK_REC_ADDRESS,
	GK_REC_NFIELDS
};

/* Feed key of each field ("provider", "licence", ...). */
extern const char *const gk_sync_rec_keys[GK_REC_NFIELDS];

#define GK_REC_MAX 8192 /* a record longer than this encodes as extras only up to this size */

struct json_t;

/* Encode one feed record (a jansson object, already validated: known string members are
 * strings, "ips" an array of strings) for the normalised domain into out[0..cap). status is
 * gk_fs_status_t. The provider id is not known yet: a non-empty provider gets form 2 with no
 * id bytes, gk_sync_rec_finish inserts them. Keys other than domain, status, op and the fields
 * above go into the extras (compact JSON, sorted keys). Returns the length, or GK_ENOSPC
 * when cap is too small, GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_rec_encode(const struct json_t *obj, const char *domain, int status,
                                     uint8_t *out, size_t cap);

/* The stored value: enc (from gk_sync_rec_encode) with provider_id inserted when the provider
 * form is 2. out must hold len + 5 bytes. Returns the stored length. */
size_t gk_sync_rec_finish(const uint8_t *enc, size_t len, uint32_t provider_id, uint8_t *out);

/* A decoded record. Strings are NUL-terminated UTF-8 inside the caller's buffer; NULL when
 * the field is absent. ips: n_ips strings, one after the other (each NUL-terminated)
 * starting at ips. provider: has_provider 0 absent, 1 present with provider_id (0 means an
 * empty name; look the id up in gk:providers). extras: compact JSON object or NULL. */
typedef struct gk_rec {
	int status; /* gk_fs_status_t */
	int has_provider;
	uint32_t provider_id;
	const char *field[GK_REC_NFIELDS]; /* [GK_REC_PROVIDER] and [GK_REC_IPS] unused */
	const char *ips;
	size_t n_ips;
	const char *extras;
} gk_rec_t;

/* Decode a stored value for domain (the hash field: home_url may refer to it). buf of cap
 * bytes holds the strings (4 * len + 512 is always enough). Returns 0, GK_ESYNTAX for a value
 * that is not a v1 record, GK_ENOSPC when buf is too small. */
GK_MUST_CHECK int gk_sync_rec_decode(const void *val, size_t len, const char *domain, gk_rec_t *out,
                                     char *buf, size_t cap);

/* The record as a jansson object shaped like the feed line (domain, status, fields, extras
 * merged; provider by name through provider_name(id, ctx), which may return NULL to leave the
 * id as "provider_id"). NULL on a malformed value or out of memory. */
struct json_t *gk_sync_rec_to_json(const void *val, size_t len, const char *domain,
                                   const char *(*provider_name)(uint32_t id, void *ctx), void *ctx);
