/* SPDX-License-Identifier: MIT */
/* src/common/yamlwalk.h -- walking a libyaml document with errors that name file and line.
 *
 * The config and the policy compiler both load their file as a libyaml document (nodes carry
 * start marks) and walk it once. gk_yaml_t holds what the walk shares: the document, the
 * file name for messages and the first error. The first error wins: once rc is set, later
 * failures return it unchanged, so the message always describes the earliest problem found
 * in walk order. One thread (the one walking); nothing here allocates.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>
#include "gk/errors.h"

typedef struct gk_yaml gk_yaml_t;

/* Where an error goes when sink is set: the caller's own error state (e.g. the policy
 * builder's). Returns the code the walk propagates (the first error's). */
typedef int (*gk_yaml_sink_fn)(gk_yaml_t *y, int code, size_t line, const char *msg);

struct gk_yaml {
	yaml_document_t *doc;
	const char *path; /* the file named in messages ("FILE:LINE: ...") */
	char *err;        /* without a sink: the first message, NUL-terminated; may be NULL */
	size_t errlen;
	int rc;               /* without a sink: the first error, 0 while none */
	gk_yaml_sink_fn sink; /* NULL: format into err/rc */
};

/* Record an error at line (1-based): "PATH:LINE: " + the formatted message. Returns the
 * first error's code (code itself when this is the first). */
__attribute__((format(printf, 4, 5))) int gk_yaml_fail(gk_yaml_t *y, int code, size_t line,
                                                       const char *fmt, ...);

/* The 1-based line of n. */
static inline size_t gk_yaml_line(const yaml_node_t *n)
{
	return n->start_mark.line + 1;
}

/* The text of a scalar node n (NUL-terminated; may hold a NUL inside: compare lengths). */
static inline const char *gk_yaml_scalar(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* "a scalar", "a list", "a mapping" or "nothing", for messages. */
const char *gk_yaml_type_name(const yaml_node_t *n);

/* A non-empty string without NUL bytes in n: *out points into the document. key names the
 * value in messages. Returns 0 or GK_ECONFIG (recorded). */
GK_MUST_CHECK int gk_yaml_string(gk_yaml_t *y, const char *key, yaml_node_t *n, const char **out);

/* An unsigned decimal integer in [min, max] written as a plain scalar. Returns 0 or
 * GK_ECONFIG (recorded: "expected an integer", "out of range MIN..MAX"). */
GK_MUST_CHECK int gk_yaml_uint(gk_yaml_t *y, const char *key, yaml_node_t *n, unsigned min,
                               unsigned max, unsigned *out);

/* The same for a 64-bit value in [min, max]. */
GK_MUST_CHECK int gk_yaml_u64(gk_yaml_t *y, const char *key, yaml_node_t *n, uint64_t min,
                              uint64_t max, uint64_t *out);
/* Called for each pair of a mapping; returns 0 to go on, else the error to stop with. */
typedef int (*gk_yaml_visit_fn)(gk_yaml_t *y, const char *key, yaml_node_t *k, yaml_node_t *v,
                                void *arg);

/* Walk mapping map (named what in messages): every key must be a scalar and unique; calls
 * visit(y, key, k, v, arg) for each pair in document order. Returns 0, GK_ECONFIG (not a
 * mapping, a non-scalar key, "WHAT: duplicate key 'K' (first at line N)") or the first
 * non-zero return of visit. Quadratic in the keys of one mapping (a handful). */
GK_MUST_CHECK int gk_yaml_walk_map(gk_yaml_t *y, const char *what, yaml_node_t *map,
                                   gk_yaml_visit_fn visit, void *arg);
