/* SPDX-License-Identifier: MIT */
/* src/common/yamldepth.h -- bound the nesting depth of a YAML document before loading it.
 *
 * libyaml's document loader has no depth limit and gets slow on deep nesting (a config
 * nested 100,000 levels took 26 s to reject). The config and policy parsers run this check
 * first: a linear pass over libyaml events that stops at the first collection deeper than
 * the limit, so a hostile or broken file is rejected at once with its line.
 */
#pragma once
#include <stddef.h>
#include <stdio.h>
#include "gk/errors.h"

/* Deepest nesting of mappings and sequences a gatekeeper YAML file may have. The deepest
 * legitimate config or policy is 4 levels; the margin is for readability, not for need. */
#define GK_YAML_MAX_DEPTH 32

/* Scan the YAML in text[0..len) (text != NULL) or, when text is NULL, in f from its current
 * position (the caller rewinds it before loading). Returns 0 when no collection is nested
 * deeper than max_depth -- also when the YAML is malformed, which the loader then reports --
 * GK_ESYNTAX with *line (1-based) set to the line of the first collection too deep, or
 * GK_ENOMEM. Any thread; blocking only on f. */
GK_MUST_CHECK int gk_yamldepth_check(const char *text, size_t len, FILE *f, unsigned max_depth,
                                     size_t *line);
