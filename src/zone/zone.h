/* SPDX-License-Identifier: MIT */
/* src/zone/zone.h -- the zone store: master files in, an immutable compiled zone set out.
 *
 * A zone set is built away from the packet path (at start and on SIGHUP): every zone is
 * parsed with ldns (our own line reader handles $INCLUDE and keeps file and line), checked,
 * and compiled into wire-form answers. The result is immutable: any number of threads may
 * read it concurrently without locks; it is published by pointer swap (common/snapshot.h)
 * and freed with gk_zoneset_free() once no worker can still hold it.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

/* One zone to serve. Exactly one of file or text is set. */
typedef struct gk_zone_spec {
	const char *name; /* apex, presentation form, trailing dot optional */
	const char *file; /* master file path (relative paths are used as given) */
	const char *text; /* or: master file contents in memory (tests, fuzzing) */
	size_t text_len;  /* length of text */
} gk_zone_spec_t;

typedef struct gk_zoneset gk_zoneset_t;

/* Build a zone set from specs[0..n). On success *out owns a new set and 0 is returned.
 * On failure nothing is allocated, and err (if errlen > 0) holds one line naming the file
 * and line ("zones/a.zone:12: CNAME and other data at www.a.") -- the first error found.
 * Returns GK_ESYNTAX (parse), GK_EZONE (semantic check), GK_EIO (file), GK_ENOMEM,
 * GK_EINVAL (duplicate or bad zone name). Any thread; blocking (reads files). */
GK_MUST_CHECK int gk_zoneset_build(const gk_zone_spec_t *specs, size_t n, gk_zoneset_t **out,
                                   char *err, size_t errlen);

struct gk_psl;

/* As gk_zoneset_build, and with psl (may be NULL) record the registrable domain (Public
 * Suffix List, ICANN section) of every name, so the filing check needs no PSL lookup on
 * the packet path for names in zones at or below a registrable domain. */
GK_MUST_CHECK int gk_zoneset_build_ex(const gk_zone_spec_t *specs, size_t n,
                                      const struct gk_psl *psl, gk_zoneset_t **out, char *err,
                                      size_t errlen);

/* Free a set built by gk_zoneset_build. NULL is ignored. */
void gk_zoneset_free(gk_zoneset_t *zs);

/* Number of zones and of resource records in the set (for logs and metrics). */
size_t gk_zoneset_zone_count(const gk_zoneset_t *zs);
size_t gk_zoneset_rr_count(const gk_zoneset_t *zs);
