/* SPDX-License-Identifier: MIT */
/* src/common/psl.h -- registrable domains from the Public Suffix List, ICANN section only.
 *
 * Filing is per registered domain, so private-section rules (github.io, ...) are ignored:
 * x.y.github.io -> github.io. Wraps libpsl, minding its traps (DEPS.md): input must be
 * lowercase, without a trailing dot, IDN as A-labels. A gk_psl_t is immutable after open and
 * may be shared by any number of threads.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "gk/errors.h"

typedef struct gk_psl gk_psl_t;

/* Default list: the Debian publicsuffix package's file. */
#define GK_PSL_DEFAULT_FILE "/usr/share/publicsuffix/public_suffix_list.dat"

/* Open the list at path (NULL: GK_PSL_DEFAULT_FILE, falling back to libpsl's built-in
 * list). Returns 0 or GK_EIO / GK_ENOMEM. */
GK_MUST_CHECK int gk_psl_open(const char *path, gk_psl_t **out);
void gk_psl_close(gk_psl_t *psl);

/* Registrable domain of name (lowercase, no trailing dot, A-labels): a pointer into name,
 * or NULL when name is itself a public suffix (or empty). Unknown TLDs follow the implicit
 * "*" rule: foo.invalidtld -> foo.invalidtld. Any thread; no allocation for ASCII input. */
const char *gk_psl_registrable(const gk_psl_t *psl, const char *name);

/* Same for a lowercase uncompressed wire name: returns the offset of the registrable
 * domain inside name, or -1. Labels are taken from the wire: a '.', '\\' or NUL byte
 * inside a label is data, never a separator (such a label matches no rule of the list
 * but a wildcard one). Any thread; no allocation. */
int gk_psl_registrable_wire(const gk_psl_t *psl, const unsigned char *name, size_t len);

/* For a lowercase wire name whose last rlen octets are a registrable domain R: true when R
 * is the name's registrable domain too, that is when none of its suffixes longer than R is
 * a public suffix (asks the list only about those: one question for ns1.R). False as well
 * for a name that cannot be read. Any thread; no allocation. */
bool gk_psl_below_wire(const gk_psl_t *psl, const unsigned char *name, size_t len, size_t rlen);
