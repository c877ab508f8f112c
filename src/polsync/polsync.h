/* SPDX-License-Identifier: MIT */
/* src/polsync/polsync.h -- gatekeeperd's side of fleet policy: follow the policy pushed to
 * Redis with gkctl (include/gk/policy_store.h), verify it, compile it, hand it over.
 *
 * Its own thread and libuv loop with one Redis session (src/redis/session.h) that
 * reads the policy keys only: the change stream is the status replica's to read, which
 * calls gk_polsync_notify for each policy entry (push or rollback). At start, and on each
 * notification, it
 * reads the current version's signed bundle, verifies the Ed25519 signature against the
 * operator public keys of the config, compiles it with gk_policy_build_mem (the same
 * compiler gkctl validates with), and passes the result to on_policy. A bundle whose
 * signature or content is bad is never handed over: it is logged (with the compiler's
 * file:line message), reported through on_reject and kept in gk_polsync_info, and the
 * running policy stays. Redis outages: reconnect with backoff; the last policy handed over
 * stays in force.
 *
 * Accepted versions only move forward: a version below the one in force (the pointer moved
 * back, or an old signed bundle replayed) is rejected, as is a bundle whose signed version
 * differs from the pointer's. The first version is the one kept on disk by the last run
 * (state_dir, gk_polsync_load_state), else whatever the pointer names at start; every
 * version applied is kept on disk for the next start.
 *
 * Threads: gk_polsync_create/_start/_stop/_free from one thread (the daemon's main thread).
 * The callbacks run on the polsync thread; on_policy takes ownership of the policy.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"
#include "policy/policy.h"

typedef struct gk_polsync gk_polsync_t;
struct gk_status;

/* A policy compiled from version `version` (decimal string as stored in Redis, e.g. "17"),
 * signed by key id `key_id`. The callee owns p (gk_policy_free). */
typedef void (*gk_polsync_policy_fn)(void *ctx, gk_policy_t *p, uint64_t version,
                                     const char *key_id);
/* A version that was not applied, and why (one line, file:line for compile errors). */
typedef void (*gk_polsync_reject_fn)(void *ctx, uint64_t version, const char *why);

typedef struct gk_polsync_conf {
	const char *redis_host; /* as gk_status_conf_t */
	uint16_t redis_port;
	const char *redis_unix;
	const struct gk_redis_auth *redis_auth; /* AUTH credentials (copied); NULL: no AUTH */
	/* Sentinel discovery (copied): with n > 0 every (re)connect asks the sentinels for
	 * the master (src/redis) instead of using redis_host/redis_unix; NULL: none */
	const struct gk_redis_sentinel *redis_sentinel;
	unsigned connect_timeout_ms;
	unsigned reconnect_max_ms;
	const char *const *operator_keys; /* PEM public key files (Ed25519); n_operator_keys */
	size_t n_operator_keys;
	gk_polsync_policy_fn on_policy;
	gk_polsync_reject_fn on_reject; /* may be NULL */
	void *ctx;
	/* Optional (NULL: none): the replica whose heartbeat reports the policy. polsync calls
	 * gk_status_set_policy (policy_version, policy_state: waiting | ok | rejected |
	 * disconnected) right before on_policy and on every change of state, and
	 * gk_status_set_policy_error for each rejection (cleared when a newer version applies).
	 * Must outlive the polsync thread (stop polsync first). */
	struct gk_status *status;
	/* Optional (NULL: none): the directory where the last version applied is kept
	 * (gk_polstore_state_save, after on_policy returns) for gk_polsync_load_state at the
	 * next start. Copied. */
	const char *state_dir;
} gk_polsync_conf_t;

/* Create (reads and checks the key files; err names the file at fault). No thread yet. */
GK_MUST_CHECK int gk_polsync_create(const gk_polsync_conf_t *conf, gk_polsync_t **out, char *err,
                                    size_t errlen);
/* Before start: the version kept in state_dir by an earlier run, verified again with the
 * operator keys exactly as a version read from Redis (signature, bundle version, compile).
 * On success *out is the compiled policy (the caller owns it and puts it in force before
 * the first query) and *version its number; it becomes the version in force, so Redis
 * replaces it only with a newer version that verifies, and one below it is rejected
 * (logged, heartbeat) as a pointer gone back. Returns 0, GK_ENOENT (no state_dir or no
 * file: nothing kept yet), or another code with err naming the file (unreadable, not a
 * state file, or it fails verification: the caller logs it and starts without it). */
GK_MUST_CHECK int gk_polsync_load_state(gk_polsync_t *ps, gk_policy_t **out, uint64_t *version,
                                        char *err, size_t errlen);
/* Start the thread. Returns at once. */
GK_MUST_CHECK int gk_polsync_start(gk_polsync_t *ps);
/* Stop and join. */
void gk_polsync_stop(gk_polsync_t *ps);
/* The change stream announced a policy change (or may have, across a gap the caller could
 * not read): re-read gk:pol:current soon. Coalesced; cheap (uv_async_send). Any thread,
 * between gk_polsync_start and gk_polsync_stop (ignored outside, and with ps NULL): a
 * session not connected reads the pointer anyway when it connects. */
void gk_polsync_notify(gk_polsync_t *ps);
/* Free a stopped or never started instance. NULL is ignored. */
void gk_polsync_free(gk_polsync_t *ps);

typedef struct gk_polsync_info {
	uint64_t applied;     /* version last handed over (0: none yet) */
	uint64_t rejected;    /* newest version rejected (0: none) */
	char reject_why[256]; /* its reason */
	bool connected;
	uint64_t reconnects;
} gk_polsync_info_t;
/* Any thread (values may be a moment old). */
void gk_polsync_info(const gk_polsync_t *ps, gk_polsync_info_t *info);
