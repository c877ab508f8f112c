/* SPDX-License-Identifier: MIT */
/* src/front/conf.h -- the `pools:` section of gatekeeperd's config and the forwarded zones
 * (docs/FRONTEND.md, docs/CONFIG.md).
 *
 *   pools:
 *     - name: registrar-a
 *       backends:
 *         - "192.0.2.1:53"                           # weight 1
 *         - {address: "[2001:db8::1]:53", weight: 2}
 *       timeout_ms: 1000        # one try (100..60000)
 *       retries: 1              # tries on another backend after a timeout (0..8)
 *       max_outstanding: 1024   # queries in flight per backend and worker (1..65535)
 *       check: {name: example.cn, interval_ms: 1000, down_after: 3, up_after: 2}
 *       cache_size: 65536       # packet cache entries (process), 0: off
 *       tc: retry-tcp           # or pass: a truncated UDP answer retried over TCP or passed on
 *       no_backend: servfail    # no backend up: SERVFAIL at once
 *       ecs: {ipv4: 24, ipv6: 56, client: keep}  # EDNS Client Subnet to the backends (RFC
 *                               # 7871); absent: none; client: keep|replace a query's own
 *       proxy_protocol: false   # true: a PROXY v2 header naming the client before each query
 *   zones:
 *     - {name: example.cn, forward: registrar-a}
 *
 * Parsed by its own functions, called by the daemon's config loader (src/daemon/config.c):
 * gk_front_conf_parse for `pools:`, gk_front_conf_zone_add for a zones entry with `forward`,
 * gk_front_conf_check once the whole file is read (every forwarded zone names a pool).
 * Errors name the config file and line. The result is immutable after load. Any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "front/pool.h"
#include "gk/errors.h"

#define GK_FRONT_POOLS_MAX           64u
#define GK_FRONT_TIMEOUT_DEFAULT     1000u
#define GK_FRONT_RETRIES_DEFAULT     1u
#define GK_FRONT_OUTSTANDING_DEFAULT 1024u
#define GK_FRONT_INTERVAL_DEFAULT    1000u
#define GK_FRONT_DOWN_AFTER_DEFAULT  3u
#define GK_FRONT_UP_AFTER_DEFAULT    2u
#define GK_FRONT_CACHE_DEFAULT       65536u

enum gk_front_tc { GK_FRONT_TC_RETRY_TCP = 0, GK_FRONT_TC_PASS };
enum gk_front_no_backend { GK_FRONT_NOBACKEND_SERVFAIL = 0 };
/* A query carrying its own ECS option (pools.ecs.client): keep = that subnet forwarded, cut
 * to the pool's prefix lengths (dnsdist's ecsOverride false); replace = ours from the
 * client's address, the client's dropped. */
enum gk_front_ecs_client { GK_FRONT_ECS_KEEP = 0, GK_FRONT_ECS_REPLACE };

typedef struct gk_front_pool_conf {
	char *name;
	gk_fbackend_conf_t *backends;
	size_t n_backends;      /* 1..GK_FPOOL_BACKENDS_MAX */
	gk_fpool_conf_t health; /* max_outstanding, down_after, up_after */
	unsigned timeout_ms, retries;
	char *check_name; /* the SOA query of the active check; NULL: no active check */
	unsigned check_interval_ms;
	unsigned cache_size; /* entries for the process, divided among its relays; 0: no cache */
	enum gk_front_tc tc;
	enum gk_front_no_backend no_backend;
	/* EDNS Client Subnet (RFC 7871) towards the backends: the client's address cut to
	 * these prefix lengths; ecs false: none sent */
	bool ecs;
	unsigned ecs_v4, ecs_v6;
	enum gk_front_ecs_client ecs_client;
	/* PROXY protocol v2 towards the backends (net/proxy.h gk_proxy_write): each UDP query
	 * prefixed with a header naming the client; each TCP query on a connection of its own
	 * that starts with one (a header names one client, so these are not shared); health
	 * checks with a LOCAL header */
	bool proxy;
	size_t line; /* of the pool entry */
} gk_front_pool_conf_t;

typedef struct gk_front_zone_conf {
	char *name;      /* apex as written */
	char *pool_name; /* as written */
	size_t pool;     /* index in pools, set by gk_front_conf_check */
	size_t line;
	/* where it is named: a zone list file (`NAME forward=POOL`; borrowed from the config,
	 * which outlives this), a zones directory's file (line 0; owned: file_owned), or NULL:
	 * the config file itself */
	const char *file;
	bool file_owned;
} gk_front_zone_conf_t;

typedef struct gk_front_conf {
	gk_front_pool_conf_t *pools;
	size_t n_pools;
	gk_front_zone_conf_t *zones;
	size_t n_zones, zones_cap;
	size_t pools_line; /* of the pools key, 0 when absent */
	/* a secondary template forwards catalog members to a pool (xfr/conf.h `forward`): the
	 * pools run even without a forwarded zone of the config's own */
	bool member_pools;
} gk_front_conf_t;

/* Whether anything is forwarded: a forwarded zone, or catalog members (member_pools). NULL:
 * false. */
static inline bool gk_front_conf_forwards(const gk_front_conf_t *c)
{
	return c != NULL && (c->n_zones > 0 || c->member_pools);
}

/* The index in pools of the pool named name, or -1 (also for a NULL conf). */
int gk_front_conf_pool_find(const gk_front_conf_t *conf, const char *name);

/* Parse the sequence node of `pools:` in doc into *conf (allocated when NULL). path names the
 * config file for errors. Returns 0, or GK_ECONFIG with err "FILE:LINE: message", or
 * GK_ENOMEM. Any thread. */
GK_MUST_CHECK int gk_front_conf_parse(const char *path, yaml_document_t *doc, yaml_node_t *node,
                                      gk_front_conf_t **conf, char *err, size_t errlen);

/* A zones entry `{name, forward: pool}` at line of the config: appended to *conf (allocated
 * when NULL); strings copied. Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_front_conf_zone_add(gk_front_conf_t **conf, const char *name, const char *pool,
                                         size_t line);
/* The same for a zone named elsewhere: name[0..nl) forwarded to pool[0..pl) at line of
 * file (a zone list; borrowed, must outlive conf; NULL: the config file). Returns 0 or
 * GK_ENOMEM. */
GK_MUST_CHECK int gk_front_conf_zone_add_from(gk_front_conf_t **conf, const char *name, size_t nl,
                                              const char *pool, size_t pl, const char *file,
                                              size_t line);
/* The same for a zone named by a file of a zones directory with `forward: POOL`: the file's
 * path file[0..fl) is copied (errors name it, without a line). Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_front_conf_zone_add_file(gk_front_conf_t **conf, const char *name, size_t nl,
                                              const char *pool, size_t pl, const char *file,
                                              size_t fl);
/* The file a forwarded zone is named in: its zone list or directory entry, else path (the
 * config's). */
const char *gk_front_zone_file(const gk_front_zone_conf_t *z, const char *path);

/* Once the file (and its zone list and directories) is read: every forwarded zone names a
 * pool of `pools:`; a zone forwarded twice is an error naming both places (n log n).
 * Returns 0 or GK_ECONFIG with err naming FILE:LINE (the zone's zone list, else path) or
 * FILE (a directory's file). NULL conf: 0. */
GK_MUST_CHECK int gk_front_conf_check(gk_front_conf_t *conf, const char *path, char *err,
                                      size_t errlen);

/* The pool of the forwarded zone that holds name (the longest forwarded apex that is name or
 * a parent of it, case-insensitive, trailing dots ignored), or NULL. Linear in zones. */
const gk_front_pool_conf_t *gk_front_conf_lookup(const gk_front_conf_t *conf, const char *name);

/* The packet path's table of conf's forwarded zones (pkt/fzones.h; every zone's pool checked
 * by gk_front_conf_check). Returns 0 with *out (NULL when conf is NULL or forwards nothing),
 * GK_EINVAL (a zone name that is not a domain name) or GK_ENOMEM. */
struct gk_fzones;
GK_MUST_CHECK int gk_front_conf_fzones(const gk_front_conf_t *conf, struct gk_fzones **out);

void gk_front_conf_free(gk_front_conf_t *conf);

/* A reload: the pools the workers run with (run: the config at start) against the new
 * config's. Pools with forwarded zones are compared (names, backends, weights, every
 * setting); a config without forwarded zones has none. Returns 0 when they are the same,
 * else GK_ECONFIG with err "PATH:LINE: pools: ..." (the line of next's pools key): the
 * workers' relays are built at start, so a change needs a restart. Pure. */
GK_MUST_CHECK int gk_front_conf_same_pools(const gk_front_conf_t *run, const gk_front_conf_t *next,
                                           const char *path, char *err, size_t errlen);
