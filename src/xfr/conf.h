/* SPDX-License-Identifier: MIT */
/* src/xfr/conf.h -- the `secondary:` section of gatekeeperd's config (docs/SECONDARY.md).
 *
 *   secondary:
 *     directory: /var/lib/gatekeeper/secondary   # persisted zones (required)
 *     timeout_ms: 10000          # connect and each silence of a primary
 *     max_transfers: 8           # simultaneous transfers
 *     max_zone_bytes: 67108864   # one answer, octets
 *     max_zone_records: 1000000  # one answer, records
 *     tsig_keys:
 *       - {name: xfr-key, algorithm: hmac-sha256, secret: "base64..."}
 *       - {name: old-key, algorithm: hmac-sha1, secret_file: keys/old.key}  # mode 0600/0400
 *     templates:
 *       - {id: registrar-a, primaries: [{address: "192.0.2.1:53", key: xfr-key}]}
 *       - {id: computed, forward: registrar-pool}  # members of this group: forwarded
 *     zones:
 *       - {name: example.cn, template: registrar-a}
 *       - {name: other.cn, primaries: ["[2001:db8::1]:53"]}
 *       - {name: catalog.example, template: registrar-a, catalog: true,
 *          member_template: registrar-a}   # RFC 9432 catalog: its members are zones too
 *
 * Parsed by its own function, called by the daemon's config loader (src/daemon/config.c) for
 * that one key; errors name the config file and line. The result is immutable. Any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <yaml.h>

#include "gk/errors.h"
#include "xfr/tsig.h"

#define GK_XFR_PRIMARIES_MAX 8

typedef struct gk_xfr_primary_conf {
	struct sockaddr_storage addr; /* AF_INET or AF_INET6, port set */
	char text[64];                /* as written */
	const gk_tsig_key_t *key;     /* into the conf's keys, or NULL */
} gk_xfr_primary_conf_t;

typedef struct gk_xfr_template {
	char *id;
	gk_xfr_primary_conf_t primaries[GK_XFR_PRIMARIES_MAX];
	size_t n_primaries; /* >= 1, or 0 for a forwarding template */
	/* `forward: POOL` instead of primaries: the catalog members of this group are not
	 * transferred but forwarded to that pool of `pools:` (front/conf.h), as a zones entry
	 * with `forward` is. pool: its index, set by gk_xfr_conf_bind_pools (-1 before). */
	char *forward;
	int pool;
	size_t line; /* of the template entry */
} gk_xfr_template_t;

typedef struct gk_xfr_zone_conf {
	char *name; /* apex as written */
	gk_xfr_primary_conf_t primaries[GK_XFR_PRIMARIES_MAX];
	size_t n_primaries; /* >= 1 */
	size_t line;        /* of the entry in the config file */
	/* A catalog zone (RFC 9432 version 2): its members are secondary zones of their own,
	 * with the primaries of the template their group property names (a template id),
	 * else of member_template, else the catalog's own primaries. */
	bool catalog;
	const gk_xfr_template_t *member_template; /* into the conf's templates, or NULL */
} gk_xfr_zone_conf_t;

typedef struct gk_xfr_conf {
	char *directory; /* resolved against the config file's directory */
	unsigned timeout_ms, max_transfers;
	size_t max_zone_bytes, max_zone_records;
	gk_tsig_key_t *keys;
	size_t n_keys;
	gk_xfr_template_t *templates; /* kept: a catalog member's group names one */
	size_t n_templates;
	gk_xfr_zone_conf_t *zones;
	size_t n_zones;
} gk_xfr_conf_t;

/* The template with this id, or NULL. Any thread. */
const gk_xfr_template_t *gk_xfr_conf_template(const gk_xfr_conf_t *c, const char *id);

/* Parse the mapping node of `secondary:` in doc. path names the config file (for errors),
 * dir its directory ("" for none: relative paths as given). On success *out owns a new conf
 * (gk_xfr_conf_free). On failure err holds "FILE:LINE: message" and GK_ECONFIG, GK_EIO
 * (key file) or GK_ENOMEM is returned. Any thread; reads key files. */
GK_MUST_CHECK int gk_xfr_conf_parse(const char *path, const char *dir, yaml_document_t *doc,
                                    yaml_node_t *node, gk_xfr_conf_t **out, char *err,
                                    size_t errlen);
void gk_xfr_conf_free(gk_xfr_conf_t *c);

/* Once the whole file is read (the pools may come after `secondary:`): each forwarding
 * template's pool is looked up with find(ctx, name), which returns its index or -1. An
 * unknown pool is GK_ECONFIG with err "PATH:LINE: secondary.templates: ..." (the template's
 * line). *forwards (may be NULL) tells whether any template forwards. NULL c: 0. */
GK_MUST_CHECK int gk_xfr_conf_bind_pools(gk_xfr_conf_t *c, int (*find)(void *ctx, const char *name),
                                         void *ctx, const char *path, bool *forwards, char *err,
                                         size_t errlen);

/* Whether a and b describe the same secondary zones: directory, limits, keys (name,
 * algorithm, secret), templates (id, primaries), and each zone's name, primaries (address,
 * key), catalog flag and member template in order; the
 * text and line numbers of the config are not compared. Two NULLs are equal. Any thread. */
bool gk_xfr_conf_equal(const gk_xfr_conf_t *a, const gk_xfr_conf_t *b);
