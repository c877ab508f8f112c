/* SPDX-License-Identifier: MIT */
/* src/daemon/config.h -- the daemon's configuration: one YAML file in, an immutable struct out.
 *
 * gk_daemon_config_load() parses the file with libyaml, checks every key, type and range, applies
 * defaults and resolves relative zone paths against the config file's directory. Every error
 * names the file and the line ("gatekeeperd.conf:7: edns_udp_max: 9000 is out of range
 * 512..4096"). The result is never modified after load; the daemon replaces it as a whole on
 * reload. Loading blocks (reads the file): main thread, never a worker. See docs/CONFIG.md.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <stdbool.h>
#include "common/log.h"
#include "common/sockaddr.h" /* gk_sockaddr_t: listen, metrics, control addresses */
#include "pkt/process.h"
#include "rrl/rrl.h"
#include "daemon/privs.h"
#include "gk/errors.h"
#include "zone/zone.h"

/* Limits and defaults (docs/CONFIG.md). */
#define GK_CONFIG_WORKERS_MAX          256u
#define GK_CONFIG_EDNS_MIN             512u
#define GK_CONFIG_EDNS_MAX             4096u
#define GK_CONFIG_EDNS_DEFAULT         1232u
#define GK_CONFIG_LINGER_DEFAULT       0u /* udp_linger_us */
#define GK_CONFIG_LINGER_MAX           1000u
#define GK_CONFIG_UDP_PRIORITY_DEFAULT 10u /* udp_priority: nice levels above the process */
#define GK_CONFIG_UDP_PRIORITY_MAX     19u
#define GK_CONFIG_TCP_CONNS_DEFAULT    1024u
#define GK_CONFIG_TCP_CONNS_MAX        1048576u
#define GK_CONFIG_TCP_IDLE_DEFAULT     10000u
#define GK_CONFIG_TCP_IDLE_MIN         100u
#define GK_CONFIG_TCP_IDLE_MAX         3600000u
#define GK_CONFIG_TCP_PIPELINE_DEFAULT 64u
#define GK_CONFIG_TCP_PIPELINE_MAX     4096u

#define GK_CONFIG_REDIS_CONNECT_DEFAULT   1000u
#define GK_CONFIG_REDIS_RECONNECT_DEFAULT 5000u
#define GK_CONFIG_FILING_STALE_DEFAULT    30000u      /* flagged stale, still enforcing */
#define GK_CONFIG_FILING_MAX_AGE_DEFAULT  0u          /* no hard bound: see docs/STATUS.md */
#define GK_CONFIG_FILING_MAX_AGE_MAX      2592000000u /* 30 days */
/* Redis replies reach the replica about once a second (PING, heartbeat, XREAD BLOCK 1000):
 * a shorter bound would flap */
#define GK_CONFIG_FILING_AGE_MIN 1500u
#define GK_CONFIG_TIMEOUT_MAX    3600000u

#define GK_CONFIG_PROXY_MAX 64u /* proxy_protocol.from entries */

/* redis: where the filing-status replica comes from (absent: no filing check). */
typedef struct gk_config_redis {
	bool set;          /* a redis section was given */
	char address[280]; /* as written: "127.0.0.1:6379", "[::1]:6379", "unix:/path" */
	char host[64];     /* numeric host (IPv4/IPv6 literal), "" with a unix socket */
	uint16_t port;
	char *unix_path;   /* or NULL */
	char *instance_id; /* or NULL: "hostname:pid" */
	unsigned connect_timeout_ms;
	unsigned reconnect_max_ms;
	char *user;          /* ACL user (redis/gatekeeper.acl), or NULL: the default user */
	char *password_file; /* resolved path, or NULL: GK_REDIS_PASSWORD from the environment */
	size_t auth_line;    /* line of user/password_file, for errors */
	/* AUTH credentials read at load (src/redis/redis.h), or NULL: no AUTH */
	struct gk_redis_auth *auth;
	/* redis.sentinels + redis.master_name instead of address (heap), or NULL */
	struct gk_redis_sentinel *sentinel;
	size_t sentinel_line;
	/* the sentinels' own credentials (read at load into the sentinel lists), or NULL */
	char *sentinel_user, *sentinel_password_file;
	size_t sentinel_auth_line;
	/* redis.primary: where heartbeats and discovery counters are written (heap; an
	 * address, or the sentinels' master), or NULL: the reading connection, as address */
	struct gk_redis_target *primary;
	char primary_text[280]; /* as written, "" when not set */
} gk_config_redis_t;

enum gk_config_startup { GK_STARTUP_REFUSE = 0, GK_STARTUP_RESOLVE };

/* filing: how the check is enforced (docs/CONFIG.md). */
typedef struct gk_config_filing {
	bool enforce; /* default: true when redis is set; never true without redis */
	enum gk_config_startup startup;
	unsigned stale_after_ms; /* no Redis reply this long: flagged stale, still enforcing */
	unsigned max_age_ms;     /* no Redis reply this long: the unknown action; 0 = never */
	char *psl_file;          /* or NULL: the default list */
	gk_refusal_t unfiled, revoked, unknown;
	gk_refusal_t no_registrable; /* names that are public suffixes; resolve by default */
} gk_config_filing_t;

/* policy: the operator policy (policy/README.md, docs/CONFIG.md). */
typedef struct gk_config_policy {
	char *file;           /* policy YAML (resolved path) or NULL: none */
	bool redis;           /* follow the policy pushed with gkctl (needs redis) */
	char **operator_keys; /* PEM Ed25519 public keys (resolved paths) */
	size_t n_operator_keys;
	char *state_dir; /* with redis: where the last verified fleet version is kept (resolved;
	                    default "state" beside the config file), else NULL */
	size_t line;     /* line of the policy section, for messages */
} gk_config_policy_t;

/* discovery: refusals counted per registrable domain, written to Redis every flush_ms
 * (obs/discovery.h, include/gk/discovery.h). */
#define GK_CONFIG_DISC_TABLE_DEFAULT 65536u
#define GK_CONFIG_DISC_FLUSH_DEFAULT 1000u
typedef struct gk_config_discovery {
	bool enabled;        /* default: true when redis is set; never true without redis */
	unsigned table_size; /* entries per worker table (16..16777216) */
	unsigned flush_ms;   /* 10..60000 */
	unsigned day_max;    /* domains per day and reason in Redis (16..1000000000) */
	bool enabled_set;    /* the file said enabled (for the default) */
	size_t line;         /* of the discovery key, for errors found after the walk */
} gk_config_discovery_t;

/* metrics: the Prometheus endpoint (docs/CONFIG.md); absent: none. */
typedef struct gk_config_metrics {
	bool set;
	gk_sockaddr_t listen; /* a loopback address (127.0.0.0/8 or ::1) */
} gk_config_metrics_t;

#define GK_CONFIG_DNSTAP_RATE_DEFAULT 1000u
#define GK_CONFIG_DNSTAP_SIZE_DEFAULT 100u /* MiB */
#define GK_CONFIG_DNSTAP_KEEP_DEFAULT 5u

/* dnstap: the decision log (docs/CONFIG.md); absent: none. */
typedef struct gk_config_dnstap {
	bool set;
	char *file;           /* resolved against the config's directory, or NULL */
	char *unix_path;      /* or NULL; exactly one of file and unix_path */
	bool all_queries;     /* every query, not only refusals */
	bool forwarded;       /* the front end's backend queries and answers too */
	unsigned rate;        /* entries per second per worker */
	unsigned burst;       /* default: rate */
	unsigned max_size_mb; /* file: rotate beyond this size */
	unsigned keep;        /* file: rotated files kept */
	char *identity;       /* or NULL: the host name */
} gk_config_dnstap_t;

/* tls: one DNS-over-TLS listener (docs/CONFIG.md "tls"). */
#define GK_CONFIG_TLS_MAX          16u
#define GK_CONFIG_TLS_HANDSHAKE_MS 5000u
typedef struct gk_config_tls {
	gk_sockaddr_t listen;
	char *certificate; /* PEM chain, resolved against the config's directory */
	char *key;         /* PEM private key, resolved likewise */
	int min_version;   /* 12 (TLS 1.2, default) or 13 */
	unsigned idle_timeout_ms;
	unsigned handshake_timeout_ms;
	unsigned max_connections; /* over all workers */
} gk_config_tls_t;

/* Where a zone was configured: the config's zones list, a zone list file, the zones
 * directory, or the state file of zones added through the control channel. */
enum gk_config_zone_src {
	GK_CONFIG_ZSRC_CONFIG = 0,
	GK_CONFIG_ZSRC_LIST,
	GK_CONFIG_ZSRC_DIR,
	GK_CONFIG_ZSRC_STATE,
};

/* 16 bytes: a config holds one per zone. */
typedef struct gk_config_zone_origin {
	const char *file; /* the file that names the zone (owned by the config) */
	uint32_t line;    /* 1-based, 0 for a zones directory entry; UINT32_MAX: at or past it */
	uint8_t src;      /* enum gk_config_zone_src */
	bool joint;       /* the zone's name is in its file string's allocation (zone lists) */
} gk_config_zone_origin_t;

/* control: the control channel (docs/CONTROL.md). */
typedef struct gk_config_control {
	bool set;
	char *socket;     /* unix socket path (resolved) */
	char *state_file; /* zones added at run time (resolved) */
	size_t line;
} gk_config_control_t;

/* A zone source (a zone list file, a zones directory, the state file) as it was when read:
 * what stat() said, or missing. */
typedef struct gk_config_zsig {
	bool read;    /* the source is configured and was read (or found missing) */
	bool missing; /* it did not exist (the state file may not) */
	uint64_t dev, ino;
	int64_t size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
} gk_config_zsig_t;

/* zones_dir: a directory whose files matching pattern each name a zone (docs/CONFIG.md). */
typedef struct gk_config_zdir {
	char *path;    /* resolved */
	char *pattern; /* exactly one %s */
	/* a pool of `pools:`: every matching file names a zone forwarded to it (its contents
	 * not read); NULL: each file is the zone's master file */
	char *forward;
	size_t line;           /* of the mapping in the config */
	gk_config_zsig_t zsig; /* the directory as read */
} gk_config_zdir_t;

enum {
	GK_CONFIG_ZSIG_LIST,
	GK_CONFIG_ZSIG_STATE,
	GK_CONFIG_ZSIG_JOURNAL, /* the state file's journal (zonelist.h) */
	GK_CONFIG_ZSIG_N
};

typedef struct gk_config {
	char *path; /* the file as given to gk_daemon_config_load */
	gk_sockaddr_t *listen;
	size_t n_listen;        /* >= 1 */
	unsigned workers;       /* 1..GK_CONFIG_WORKERS_MAX; default: online cores */
	uint16_t edns_udp_max;  /* 512..4096 */
	unsigned udp_linger_us; /* 0..GK_CONFIG_LINGER_MAX; 0: no wake-up coalescing */
	unsigned udp_priority;  /* 0..GK_CONFIG_UDP_PRIORITY_MAX nice levels above the process */
	unsigned tcp_max_connections;
	unsigned tcp_idle_timeout_ms;
	unsigned tcp_max_pipelined;
	/* every zone of every source (zones, zone_list, zones_dir, the control state file), in
	 * that order: name and file set (file resolved); strings owned here */
	gk_zone_spec_t *zones;
	gk_config_zone_origin_t *zone_origin; /* n_zones entries: where each was configured */
	size_t n_zones, zones_cap;
	char *zone_list; /* zone list file (resolved), or NULL */
	size_t zone_list_line;
	gk_config_zdir_t *zdirs; /* zones_dir: the directories in config order */
	size_t n_zdirs;
	gk_config_zsig_t zsig[GK_CONFIG_ZSIG_N]; /* the zone sources as read (zone lists) */
	gk_config_control_t control;
	enum gk_log_level log_level;
	gk_config_redis_t redis;
	gk_config_filing_t filing;
	gk_config_discovery_t discovery;
	gk_config_policy_t policy;
	gk_config_metrics_t metrics;
	gk_config_dnstap_t dnstap;
	struct gk_xfr_conf *secondary; /* `secondary:` (src/xfr/conf.h), or NULL */
	/* `pools:` and the zones with `forward:` (src/front/conf.h), or NULL: none */
	struct gk_front_conf *front;
	gk_rrl_config_t rrl; /* rate_limit: UDP response rate limiting (rrl/rrl.h) */
	gk_privs_t privs;    /* user:, group: who to become once sockets are open */
	char *chroot;        /* chroot: the new root (no trailing '/'), or NULL */
	size_t chroot_line;
	/* proxy_protocol.from: load balancers whose PROXY v2 headers are honoured (net/proxy.h) */
	unsigned n_proxy_from;
	gk_prefix_t proxy_from[GK_CONFIG_PROXY_MAX];
	gk_config_tls_t *tls; /* DNS-over-TLS listeners, or NULL */
	size_t n_tls;
} gk_config_t;

/* Load and check path. On success *out owns a new config (free with gk_daemon_config_free) and 0 is
 * returned. On failure *out is untouched, nothing is allocated and err (if errlen > 0) holds
 * one line "FILE:LINE: message" for the first problem found. Returns GK_EIO (cannot read),
 * GK_ESYNTAX (not YAML), GK_ECONFIG (unknown key, wrong type, out of range, duplicate,
 * missing key) or GK_ENOMEM. Any thread; blocking. */
GK_MUST_CHECK int gk_daemon_config_load(const char *path, gk_config_t **out, char *err,
                                        size_t errlen);

/* gk_daemon_config_load flags */
#define GK_CONFIG_NO_SECRETS 1u /* do not read redis.password_file (redis.auth stays NULL) */
#define GK_CONFIG_NO_ZONE_LISTS                                                                    \
	2u /* read neither zone_list, zones_dir nor the control state file (gkctl's control        \
	      commands need only the socket path) */

/* Whether next, loaded with GK_CONFIG_NO_ZONE_LISTS, has the zones cur has without reading
 * its zone sources again: the same `zones:` entries (names, files, lines), the same zone
 * list file, zones directory and pattern, and state file, each as cur read it (device,
 * inode, size, modification and change times; a directory changes when an entry is added,
 * removed or renamed). Blocking (a stat per source). */
bool gk_daemon_config_zones_same(const gk_config_t *cur, const gk_config_t *next);

/* Move cur's zones (specs, origins, strings, source records) into next, replacing next's
 * `zones:` entries: what a reload does when gk_daemon_config_zones_same holds, so a million zones
 * cost no allocation. Origins that named cur's config, list or state file name next's.
 * cur is left without zones. */
void gk_daemon_config_zones_take(gk_config_t *next, gk_config_t *cur);

/* gk_daemon_config_load with flags: GK_CONFIG_NO_SECRETS for a tool (gkctl) that reads the daemon's
 * config for its zones and addresses but authenticates as its own user, and may not be
 * allowed to read gatekeeperd's password. */
GK_MUST_CHECK int gk_daemon_config_load_flags(const char *path, unsigned flags, gk_config_t **out,
                                              char *err, size_t errlen);

/* After chroot(cfg->chroot) (daemon/service.c): rewrite, in place, every path cfg holds
 * (the config's own, zone files, lists, state file and directories, TLS, dnstap, policy)
 * as seen from inside, without the chroot directory. Pointers into cfg stay valid (the
 * strings only shrink). Main thread. */
void gk_daemon_config_chroot_strip(gk_config_t *cfg);

/* Free a config from gk_daemon_config_load. NULL is ignored. */
void gk_daemon_config_free(gk_config_t *cfg);

/* The packet options gatekeeperd answers with for cfg: the filing check when it is enforced
 * and status is not NULL (psl: the opened Public Suffix List), and policy: the policy file's
 * or the fleet's, else the default policy of gk_daemon_config_default_policy, whose status rules
 * are the filing check's (NULL: no lists, and every status resolves). The one place they
 * are made (config_opts.c), so tools (gkctl lookup) decide exactly as the daemon does. Pure. */
void gk_daemon_config_pkt_opts(const gk_config_t *cfg, struct gk_status *status,
                               const struct gk_psl *psl, const struct gk_policy *policy,
                               gk_pkt_opts_t *o);

/* The config's filing.* rules (unfiled, revoked, unknown, no_registrable) compiled into a
 * policy without lists (policy/policy.h gk_policy_from_rules): the policy a view uses when
 * no policy file or fleet policy is set, so that the status rules have one source. *out is
 * NULL when the filing check is not enforced (nothing to rule on). Returns 0, or GK_ENOMEM.
 * Caller owns *out (gk_policy_free). Main thread or tools. */
GK_MUST_CHECK int gk_daemon_config_default_policy(const gk_config_t *cfg, struct gk_policy **out);
