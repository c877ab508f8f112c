/* SPDX-License-Identifier: MIT */
/* src/xfr/catalog.h -- catalog zones (RFC 9432, version 2): the interpretation of a catalog
 * zone's records into its member list, and the ownership rules between catalogs.
 *
 * A catalog's data (master-file text: a transfer's result, a persisted file) is read so:
 *   version.<catalog> TXT "2"                          required; any other value, a missing
 *                                                      or multi-record version: GK_ESYNTAX,
 *                                                      the caller keeps the previous members
 *   <id>.zones.<catalog> PTR <member>                  one member per unique ID (one label)
 *   group.<id>.zones.<catalog> TXT "<group>"           optional: selects the member's template
 *   coo.<id>.zones.<catalog> PTR <other catalog>       optional: change of ownership
 * Everything else under the apex (the SOA, NS, unknown properties) is ignored, as the RFC
 * asks. Entries that break the rules are skipped with a warning (warn callback), the rest of
 * the catalog is taken:
 *   - a PTR RRset of more than one record at an ID, a PTR naming the root, the catalog
 *     itself or a name below it;
 *   - a member named by two IDs: the ID first in canonical order keeps it, the other is
 *     skipped (the member is served once, its state follows one ID);
 *   - a group TXT RRset of more than one record or string: the member is taken without group
 *     (the catalog's default template);
 *   - a coo RRset of more than one record: the coo property is ignored.
 * The member list is sorted by member name (lowercase, presentation form, no final dot).
 * Pure functions: no global state, any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include "gk/errors.h"

typedef struct gk_catalog_member {
	char *zone;  /* member apex, lowercase, no final dot */
	char *id;    /* unique ID label, lowercase */
	char *group; /* group property, NULL when none (or ignored) */
	char *coo;   /* coo property: the catalog the member moves to, lowercase, no final dot */
} gk_catalog_member_t;

typedef struct gk_catalog {
	gk_catalog_member_t *m; /* sorted by zone */
	size_t n;
	size_t skipped; /* entries skipped with a warning */
} gk_catalog_t;

/* Called once per skipped entry with a one-line reason naming the owner. */
typedef void (*gk_catalog_warn_fn)(void *ctx, const char *msg);

/* Interpret the catalog with apex `catalog` from master-file text (one absolute record per
 * line, as gk_xfr_zone_text writes it and the persisted files hold). On success *out holds the
 * members (free with gk_xfr_catalog_free). Returns 0, GK_EINVAL (bad apex), GK_ESYNTAX (text that
 * does not parse, or a version other than "2": err says why; *out is left empty) or GK_ENOMEM.
 */
GK_MUST_CHECK int gk_xfr_catalog_interpret(const char *catalog, const char *text, size_t len,
                                           gk_catalog_t *out, gk_catalog_warn_fn warn, void *ctx,
                                           char *err, size_t errlen);

void gk_xfr_catalog_free(gk_catalog_t *c);

/* The member named zone (lowercase, no final dot) or NULL. */
const gk_catalog_member_t *gk_xfr_catalog_find(const gk_catalog_t *c, const char *zone);

/* Ownership of a member listed by catalog `claimant` (RFC 9432: name clash, migration by coo):
 * `owner` is the catalog that holds the member now (NULL: nobody), `owner_coo` the coo property the
 * owner's catalog gives it (NULL: none). The claimant may take the member when nobody holds it,
 * when it holds it already, or when the owner's coo names the claimant; otherwise the first catalog
 * keeps it (the caller logs the conflict). Names lowercase, no final dot. */
bool gk_xfr_catalog_may_claim(const char *claimant, const char *owner, const char *owner_coo);

/* What changes for a member between two interpretations of one catalog. */
typedef enum gk_catalog_change {
	GK_CATALOG_SAME,    /* same ID and group */
	GK_CATALOG_ADDED,   /* new member */
	GK_CATALOG_REMOVED, /* left the catalog */
	GK_CATALOG_RESET,   /* ID changed: the member's data is dropped and transferred anew */
	GK_CATALOG_REGROUP, /* group changed: the member takes its new template */
} gk_catalog_change_t;

/* Walk old and new (both sorted) and call fn once for every member that is in either, with
 * the change; o or n is NULL for an added or removed member. Returns the first non-zero value
 * fn returns, or 0. */
typedef int (*gk_catalog_diff_fn)(void *ctx, gk_catalog_change_t ch, const gk_catalog_member_t *o,
                                  const gk_catalog_member_t *n);
int gk_xfr_catalog_diff(const gk_catalog_t *old, const gk_catalog_t *new_, gk_catalog_diff_fn fn,
                        void *ctx);
