/* SPDX-License-Identifier: MIT */
/* src/daemon/config_internal.h -- what config.c and config_zones.c share: the zone sources.
 *
 * config.c parses the YAML (the zones list, zone_list, zones_dir, control); config_zones.c
 * appends the zones of the other sources and finds a zone configured twice across all of
 * them. Any thread (the loader's).
 */
#pragma once
#include "daemon/config.h"

/* Append zone name[0..nl) with file (malloc'ed, taken: freed on failure) from src, named at
 * origin:line (origin owned by cfg). Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_daemon_config_zone_add(gk_config_t *cfg, const char *name, size_t nl,
                                            char *file, enum gk_config_zone_src src,
                                            const char *origin, size_t line);

/* Free a zone's name and file strings (one allocation when o->joint). */
void gk_daemon_config_zone_strings_free(gk_zone_spec_t *z, const gk_config_zone_origin_t *o);

/* Append the zones of cfg->zone_list, cfg->zones_dir and cfg->control.state_file (a state
 * file that does not exist yet holds no zones), unless flags has GK_CONFIG_NO_ZONE_LISTS.
 * Returns 0 or an error with err naming the file (and line). */
GK_MUST_CHECK int gk_daemon_config_zones_extra(gk_config_t *cfg, unsigned flags, char *err,
                                               size_t errlen);

/* A zone configured twice (names compared case-insensitively, without a trailing dot) is
 * GK_ECONFIG with err naming the later place and the first. n log n. GK_ENOMEM. */
GK_MUST_CHECK int gk_daemon_config_zones_dups(const gk_config_t *cfg, char *err, size_t errlen);

/* With chroot: set and not yet chrooted, every path cfg reads later must lie under the
 * chroot directory. Returns 0, or GK_ECONFIG with err "FILE:LINE: KEY PATH is outside
 * chroot DIR" (the zone's own file and line for zones, else the chroot key's line). */
GK_MUST_CHECK int gk_daemon_config_chroot_check(const gk_config_t *cfg, char *err, size_t errlen);
