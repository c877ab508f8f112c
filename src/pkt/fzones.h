/* SPDX-License-Identifier: MIT */
/* src/pkt/fzones.h -- the forwarded zones as the packet path looks them up.
 *
 * A hash table of the forwarded apexes (lowercase wire names) to the index of their pool
 * in the front end's config (front/conf.h gk_front_conf_t.pools), built on one thread and
 * then immutable, published with the view (net/net.h gk_net_view_t). The packet path asks it
 * for names that no zone of ours holds, and for names in one of ours when a forwarded zone
 * may sit below it (the more specific apex wins, as between our own zones):
 * gk_pkt_fzones_find walks the name's suffixes from the longest, one hash probe each (every
 * suffix's hash from one pass, common/namehash.h), so the most specific forwarded apex wins.
 * Reads are pure; any thread.
 *
 * Two sources make the daemon's forwarded zones: the config's (gk_front_conf_fzones, built
 * at load) and the catalog members whose group forwards (xfr/secondary.h, rebuilt on the
 * transfer thread after each catalog change). gk_pkt_fzones_stack joins two tables into one
 * without copying either, so a catalog change does not copy the config's table nor a
 * reload the members': the view publishes the stack. Tables are reference-counted (a stack
 * holds its two parts); the counts are changed by one thread only (the daemon's main loop),
 * never by the packet path.
 *
 * An entry is 16 octets and its name sits in a shared blob: 100,000 apexes of about 15
 * octets take a 4 MiB table (2^18 slots) and 1.5 MiB of names.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

typedef struct gk_fzones gk_fzones_t;

/* An empty table with room for n forwarded apexes (n > 0), one reference. Returns 0 with
 * *out, or GK_ENOMEM. Built by one thread; published (read by any) once complete. */
GK_MUST_CHECK int gk_pkt_fzones_new(size_t n, gk_fzones_t **out);
/* Forward the zone named text (as gk_dname_from_text takes it without flags: trailing dot
 * optional, "." the root; "" is the root too) to pool index pool; a name
 * added again takes the later pool. Returns 0, GK_EINVAL (not a domain name, or t is a
 * stack) or GK_ENOSPC (more names than gk_pkt_fzones_new made room for). */
GK_MUST_CHECK int gk_pkt_fzones_add(gk_fzones_t *t, const char *text, uint16_t pool);
/* The same for a lowercase wire name w[0..len). */
GK_MUST_CHECK int gk_pkt_fzones_add_wire(gk_fzones_t *t, const uint8_t *w, size_t len,
                                         uint16_t pool);

/* One table that answers as first and then second: at each suffix of a name first is probed
 * before second (first wins an apex both hold; the longest apex of either wins). Takes a
 * reference to each (either may be NULL). *out: the stack (one reference); when one of the
 * two is NULL, the other itself with a reference more; NULL when both are. Returns 0 or
 * GK_ENOMEM. */
GK_MUST_CHECK int gk_pkt_fzones_stack(gk_fzones_t *first, gk_fzones_t *second, gk_fzones_t **out);

/* Take one more reference. NULL ignored. Returns t. */
gk_fzones_t *gk_pkt_fzones_hold(gk_fzones_t *t);
/* Drop one reference; the last frees the table (a stack's drops its parts'). NULL ignored. */
void gk_pkt_fzones_free(gk_fzones_t *t);

/* The pool index of the longest forwarded apex that is qname[0..qlen) or a parent of it, or
 * -1. qname: lowercase wire name; loff/labels as gk_query_t gives them. *apex (when not
 * NULL) gets the apex's length in octets (a suffix of qname). t NULL: -1. */
int gk_pkt_fzones_find(const gk_fzones_t *t, const uint8_t *qname, size_t qlen, const uint8_t *loff,
                       unsigned labels, size_t *apex);

/* The pool of exactly the apex w[0..len) (lowercase wire name), or -1. */
int gk_pkt_fzones_get(const gk_fzones_t *t, const uint8_t *w, size_t len);

/* Forwarded zones in the table (a stack: the sum of its parts'). */
size_t gk_pkt_fzones_count(const gk_fzones_t *t);
