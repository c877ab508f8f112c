/* SPDX-License-Identifier: MIT */
/* src/pkt/fzones.h -- the forwarded zones as the packet path looks them up.
 *
 * A hash table of the forwarded apexes (lowercase wire names) to the index of their pool
 * in the front end's config (front/conf.h gk_front_conf_t.pools), built from the config on
 * the main loop (gk_front_conf_fzones) and then immutable, published
 * with the view (net/net.h gk_net_view_t). The packet path asks it for names that no zone
 * of ours holds, and for names in one of ours when a forwarded zone may sit below it (the
 * more specific apex wins, as between our own zones): gk_pkt_fzones_find walks the name's suffixes
 * from the longest, one hash probe each (every suffix's hash from one pass, common/namehash.h), so
 * the most specific forwarded apex wins. Reads are pure; any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

typedef struct gk_fzones gk_fzones_t;

/* An empty table with room for n forwarded apexes (n > 0). Returns 0 with *out, or
 * GK_ENOMEM. Built by one thread; published (read by any) once complete. */
GK_MUST_CHECK int gk_pkt_fzones_new(size_t n, gk_fzones_t **out);
/* Forward the zone named text (as gk_dname_from_text takes it without flags: trailing dot
 * optional, "." the root; "" is the root too) to pool index pool; a name
 * added again takes the later pool. Returns 0, GK_EINVAL (not a domain name) or GK_ENOSPC
 * (more names than gk_pkt_fzones_new made room for). */
GK_MUST_CHECK int gk_pkt_fzones_add(gk_fzones_t *t, const char *text, uint16_t pool);
void gk_pkt_fzones_free(gk_fzones_t *t);

/* The pool index of the longest forwarded apex that is qname[0..qlen) or a parent of it, or
 * -1. qname: lowercase wire name; loff/labels as gk_query_t gives them. *apex (when not
 * NULL) gets the apex's length in octets (a suffix of qname). t NULL: -1. */
int gk_pkt_fzones_find(const gk_fzones_t *t, const uint8_t *qname, size_t qlen, const uint8_t *loff,
                       unsigned labels, size_t *apex);

/* Forwarded zones in the table. */
size_t gk_pkt_fzones_count(const gk_fzones_t *t);
