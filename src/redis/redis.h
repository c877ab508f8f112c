/* SPDX-License-Identifier: MIT */
/* src/redis/redis.h -- the one Redis layer: addresses, credentials, connecting (synchronous
 * and on a libuv loop), AUTH and reconnect backoff, shared by gatekeeperd, gk-sync and gkctl.
 *
 * Every program reaches Redis through these verbs, so an address is parsed, a password is
 * read and AUTH is sent in one place. The synchronous client serves the tools (gk-sync,
 * gkctl) and the policy store; the daemon's loops (status replica, heartbeat, policy
 * follower, discovery) each own a session (session.h) built on the same verbs.
 *
 * Credentials: an ACL user and its password (redis/gatekeeper.acl ships one user per
 * program). The password comes from a file (first line) or the environment variable
 * GK_REDIS_PASSWORD, never from a command-line value that ps shows. No password: no AUTH
 * (the default user, as a Redis without ACLs expects).
 *
 * Threads: the parsing and synchronous verbs may be called from any thread on their own
 * arguments.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <uv.h>
#include "gk/errors.h"

/* The environment variable a password may come from (when no password file is given). */
#define GK_REDIS_PASSWORD_ENV "GK_REDIS_PASSWORD"
/* Longest accepted password and user name (bytes). */
#define GK_REDIS_PASSWORD_MAX 512u
#define GK_REDIS_USER_MAX     128u

/* A parsed address: TCP host and port, or a unix socket path. */
typedef struct gk_redis_addr {
	char host[256]; /* without brackets; "" for a unix socket */
	uint16_t port;  /* 0 for a unix socket */
	char path[108]; /* unix socket path (absolute), "" for TCP */
} gk_redis_addr_t;

/* gk_redis_addr_parse flags */
#define GK_REDIS_ADDR_NUMERIC 1u /* the host must be an IPv4 or IPv6 literal */

/* Parse "HOST:PORT", "[IPv6]:PORT" or "unix:/absolute/path" into *out. Returns 0, or
 * GK_EINVAL with a message naming the address in err (errlen bytes, may be 0). Pure. */
GK_MUST_CHECK int gk_redis_addr_parse(const char *s, unsigned flags, gk_redis_addr_t *out,
                                      char *err, size_t errlen);
/* Fill *a from a host (or NULL) and port, or a unix socket path (or NULL), as the daemon's
 * modules receive them; strings longer than the fields are cut (the config bounds them). */
void gk_redis_addr_set(gk_redis_addr_t *a, const char *host, uint16_t port, const char *unix_path);
/* The address as written back: "host:port", "[v6]:port" or "unix:/path". */
void gk_redis_addr_fmt(const gk_redis_addr_t *a, char *buf, size_t cap);

/* Credentials. user "" with a password: AUTH PASSWORD (the default user). password NULL:
 * no AUTH. The password is heap memory owned here, wiped by gk_redis_auth_clear. */
typedef struct gk_redis_auth {
	char user[GK_REDIS_USER_MAX];
	char *password;
} gk_redis_auth_t;

/* Fill *a from user (NULL or "": none) and a password read from password_file (its first
 * line, without the line end; NULL: from the environment variable GK_REDIS_PASSWORD, if
 * set and non-empty). A user without any password is an error (AUTH needs one). Returns 0;
 * GK_EINVAL (bad user, empty or too long password, user without password), GK_EIO (the
 * file cannot be read), GK_ENOMEM; err names the file. *a is cleared first; on failure
 * it holds nothing. */
GK_MUST_CHECK int gk_redis_auth_load(gk_redis_auth_t *a, const char *user,
                                     const char *password_file, char *err, size_t errlen);
/* Fill *a from a password given as text (tests, copies). Same rules as above. */
GK_MUST_CHECK int gk_redis_auth_set(gk_redis_auth_t *a, const char *user, const char *password);
/* Wipe and free the password; *a then means "no AUTH". NULL is fine. */
void gk_redis_auth_clear(gk_redis_auth_t *a);
/* A deep copy of src into *dst (cleared first). 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_redis_auth_copy(gk_redis_auth_t *dst, const gk_redis_auth_t *src);

/* --- synchronous client (tools) -------------------------------------------------------- */

/* Connect to a within connect_timeout_ms, set command_timeout_ms as the timeout of every
 * later read and write (redisSetTimeout; 0: none), and AUTH when auth holds a password
 * (auth NULL: none). Returns 0 and a context the caller frees with redisFree; GK_EIO when it
 * cannot connect (err: "redis ADDR: WHY") or the server refuses the credentials (err:
 * "redis ADDR: AUTH failed for user U: WRONGPASS ..."); GK_ENOMEM. Nothing to free on
 * failure. */
GK_MUST_CHECK int gk_redis_connect(const gk_redis_addr_t *a, const gk_redis_auth_t *auth,
                                   unsigned connect_timeout_ms, unsigned command_timeout_ms,
                                   redisContext **out, char *err, size_t errlen);
/* gk_redis_connect on an address string (parsed with gk_redis_addr_parse, flags 0). */
GK_MUST_CHECK int gk_redis_connect_str(const char *addr, const gk_redis_auth_t *auth,
                                       unsigned connect_timeout_ms, unsigned command_timeout_ms,
                                       redisContext **out, char *err, size_t errlen);

/* The daemon's asynchronous connections: gk_redis_session_t (src/redis/session.h). */

/* --- reconnect backoff ----------------------------------------------------------------- */

/* Exponential backoff with jitter: each delay is drawn from [cur/2, cur], then cur doubles
 * up to max_ms; a reset returns to min_ms. Plain state, one owner. */
typedef struct gk_redis_backoff {
	unsigned min_ms, max_ms, cur_ms;
	uint64_t rng;
} gk_redis_backoff_t;

void gk_redis_backoff_init(gk_redis_backoff_t *b, unsigned min_ms, unsigned max_ms);
/* The next delay (ms, at least 1 when min_ms > 0) and one doubling. */
unsigned gk_redis_backoff_next(gk_redis_backoff_t *b);
void gk_redis_backoff_reset(gk_redis_backoff_t *b);

/* --- Sentinel discovery ---------------------------------------------------------------- */

/* Most sentinels in one list, longest master name (bytes), and the default timeout of one
 * question to one sentinel (connect and reply, ms). */
#define GK_REDIS_SENTINELS_MAX       8u
#define GK_REDIS_MASTER_NAME_MAX     128u
#define GK_REDIS_SENTINEL_TIMEOUT_MS 500u
/* The environment variables gk-sync and gkctl read when no --sentinel / --master-name is
 * given: a comma-separated list of sentinel addresses, and the master's name. */
#define GK_REDIS_SENTINELS_ENV "GK_REDIS_SENTINELS"
#define GK_REDIS_MASTER_ENV    "GK_REDIS_MASTER"
/* The sentinels' own credentials when no --sentinel-user / --sentinel-password-file (or
 * redis.sentinel_user / redis.sentinel_password_file) are given. */
#define GK_REDIS_SENTINEL_USER_ENV     "GK_REDIS_SENTINEL_USER"
#define GK_REDIS_SENTINEL_PASSWORD_ENV "GK_REDIS_SENTINEL_PASSWORD"

/* Where to ask for the primary: sentinels (TCP "HOST:PORT" or unix) and the name they
 * monitor it under. A plain value (copied with =), empty (n == 0) when Sentinel is not
 * used. The sentinels' own credentials (a sentinel's requirepass, or an ACL user defined
 * on the sentinels: their user database is not the data server's) are sent as AUTH to
 * each sentinel when password is set (gk_redis_sentinel_set_auth); the primary itself is
 * reached with the program's own credentials. */
typedef struct gk_redis_sentinel {
	size_t n;
	gk_redis_addr_t addr[GK_REDIS_SENTINELS_MAX];
	char master[GK_REDIS_MASTER_NAME_MAX];
	unsigned timeout_ms; /* per sentinel and per question; 0: GK_REDIS_SENTINEL_TIMEOUT_MS */
	char user[GK_REDIS_USER_MAX];             /* "": AUTH with the password alone */
	char password[GK_REDIS_PASSWORD_MAX + 1]; /* "": no AUTH to the sentinels */
} gk_redis_sentinel_t;

/* Append one sentinel address (gk_redis_addr_parse with flags). 0; GK_EINVAL (bad address,
 * or more than GK_REDIS_SENTINELS_MAX) with err naming it. Pure. */
GK_MUST_CHECK int gk_redis_sentinel_add(gk_redis_sentinel_t *s, const char *addr, unsigned flags,
                                        char *err, size_t errlen);
/* Append every address of a comma-separated list ("a:1,b:2"; spaces around entries are
 * ignored; empty entries are an error). Same results as gk_redis_sentinel_add. */
GK_MUST_CHECK int gk_redis_sentinel_add_list(gk_redis_sentinel_t *s, const char *list,
                                             unsigned flags, char *err, size_t errlen);
/* Set the master name: 1..GK_REDIS_MASTER_NAME_MAX-1 bytes, no spaces or control
 * characters. 0 or GK_EINVAL with err. */
GK_MUST_CHECK int gk_redis_sentinel_set_master(gk_redis_sentinel_t *s, const char *name, char *err,
                                               size_t errlen);

/* The sentinels' credentials: user (NULL or "": none) and the first line of password_file
 * (NULL: the environment variable GK_REDIS_SENTINEL_PASSWORD, if set and non-empty), with
 * the rules of gk_redis_auth_load. Nothing at all: no AUTH. 0; GK_EINVAL or GK_EIO with err
 * naming the file; GK_ENOMEM. */
GK_MUST_CHECK int gk_redis_sentinel_set_auth(gk_redis_sentinel_t *s, const char *user,
                                             const char *password_file, char *err, size_t errlen);

/* The reply to SENTINEL get-master-addr-by-name: an array of two strings (IP, port) into
 * *out; 0, or GK_ENOENT (nil: the sentinel does not know the name) or GK_EINVAL (any other
 * shape, a bad address or port) with err saying what came. Pure. */
GK_MUST_CHECK int gk_redis_sentinel_parse_addr(const redisReply *r, gk_redis_addr_t *out, char *err,
                                               size_t errlen);
/* The reply to ROLE: 1 when it names a master, 0 when a replica or sentinel (err says which),
 * GK_EINVAL for anything else. Pure. */
GK_MUST_CHECK int gk_redis_role_is_master(const redisReply *r, char *err, size_t errlen);

/* Ask each sentinel of s in turn for the primary of s->master (timeout_ms each), connect
 * to the answer as gk_redis_connect does (auth, timeouts) and check with ROLE that it is a
 * master; the first that is wins. Returns 0 with *out connected and *addr (may be NULL)
 * its address; GK_EIO when no sentinel gives a reachable master (err: "sentinels (N) for
 * master M: LAST REASON"); GK_ENOMEM. A replica's answer (a failover in progress) is not
 * used: the caller retries after its backoff. Blocking, at most about
 * n x 2 x timeout_ms plus connect_timeout_ms per answer. Any thread. */
GK_MUST_CHECK int gk_redis_sentinel_connect(const gk_redis_sentinel_t *s,
                                            const gk_redis_auth_t *auth,
                                            unsigned connect_timeout_ms,
                                            unsigned command_timeout_ms, redisContext **out,
                                            gk_redis_addr_t *addr, char *err, size_t errlen);
/* gk_redis_sentinel_connect, keeping only the address (the connection is closed): how the
 * daemon's loops find where to open their asynchronous connection. */
GK_MUST_CHECK int gk_redis_sentinel_resolve(const gk_redis_sentinel_t *s,
                                            const gk_redis_auth_t *auth, unsigned timeout_ms,
                                            gk_redis_addr_t *out, char *err, size_t errlen);

/* Where a program connects: a fixed address, or (sentinel.n > 0) the master the sentinels
 * name. A plain value. */
typedef struct gk_redis_target {
	gk_redis_addr_t addr;
	gk_redis_sentinel_t sentinel;
} gk_redis_target_t;

/* The address to connect to now: t->addr, or the confirmed master of t->sentinel
 * (gk_redis_sentinel_resolve with auth and timeout_ms). 0, or the errors of
 * gk_redis_sentinel_resolve. */
GK_MUST_CHECK int gk_redis_target_resolve(const gk_redis_target_t *t, const gk_redis_auth_t *auth,
                                          unsigned timeout_ms, gk_redis_addr_t *out, char *err,
                                          size_t errlen);

/* --- replicas -------------------------------------------------------------------------- */

/* True when an error reply (its text) is Redis's READONLY: a write sent to a replica. */
bool gk_redis_is_readonly(const char *errstr);
