/* SPDX-License-Identifier: MIT */
/* src/polstore/polstore.h -- fleet policy as stored in Redis: bundles, signatures, diffs and
 * synchronous reads (include/gk/policy_store.h is the schema).
 *
 * Shared by gkctl (build, sign, push, show, diff) and gatekeeperd's polsync (decode, verify,
 * compile). A bundle is a policy YAML plus every list file it names, held in memory; it
 * compiles with gk_policy_build_mem, the same compiler the daemon and `gatekeeperd --check`
 * use. No OpenSSL or hiredis types here (a hiredis context is passed as an opaque pointer).
 * Every function may be called from any thread; none keeps global state.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "gk/errors.h"
#include "gk/policy_store.h"
#include "policy/policy.h"

#define GK_POLSTORE_SIG_B64_LEN 88

/* One file of a bundle: its name (as the policy writes it), its exact bytes, their SHA-256. */
typedef struct gk_polstore_file {
	char *name;
	uint8_t *data; /* len bytes, plus a NUL after them for convenience */
	size_t len;
	char sha256[65]; /* lowercase hex */
} gk_polstore_file_t;

/* A policy bundle (include/gk/policy_store.h "Bundle format v1"). Owned by its creator;
 * freed with gk_polstore_bundle_free. */
typedef struct gk_polstore_bundle {
	uint64_t version;   /* 0 until the writer assigns one */
	int64_t created_ms; /* unix ms */
	char *message;      /* never NULL ("" when none) */
	gk_polstore_file_t policy;
	gk_polstore_file_t *files; /* sorted by name, no duplicates */
	size_t nfiles;
} gk_polstore_bundle_t;

/* Read the policy YAML at path and every list file it names (relative to its directory),
 * validating both ways: gk_policy_build on disk, then gk_policy_build_mem on the bundle (what
 * every gatekeeperd will run). On failure returns the compiler's code with its "FILE:LINE:
 * message" in err and leaves *out untouched. The bundle's version is 0, created_ms now,
 * message "". If policy is not NULL it receives the policy compiled from the bundle. */
GK_MUST_CHECK int gk_polstore_bundle_load(const char *path, gk_polstore_bundle_t **out,
                                          gk_policy_t **policy, char *err, size_t errlen);

/* Compile a bundle (gk_policy_build_mem). Errors as gk_policy_build_mem. */
GK_MUST_CHECK int gk_polstore_bundle_compile(const gk_polstore_bundle_t *b, gk_policy_t **out,
                                             char *err, size_t errlen);

/* Set the bundle's message (copied; NULL means ""). Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_polstore_bundle_set_message(gk_polstore_bundle_t *b, const char *msg);

/* A deep copy. Returns NULL on out of memory. */
gk_polstore_bundle_t *gk_polstore_bundle_dup(const gk_polstore_bundle_t *b);

/* The canonical bytes of b (malloc'd, *len bytes plus a NUL; caller frees). Returns 0 or
 * GK_ENOMEM. The same bundle always encodes to the same bytes. */
GK_MUST_CHECK int gk_polstore_bundle_encode(const gk_polstore_bundle_t *b, char **out, size_t *len);

/* Parse bundle bytes. GK_ESYNTAX (with a reason in err) for anything but a well-formed v1
 * bundle whose sha256 values match; GK_ENOMEM. *out untouched on failure. */
GK_MUST_CHECK int gk_polstore_bundle_decode(const void *buf, size_t len, gk_polstore_bundle_t **out,
                                            char *err, size_t errlen);

void gk_polstore_bundle_free(gk_polstore_bundle_t *b);

/* The file named name (the policy YAML included), or NULL. */
const gk_polstore_file_t *gk_polstore_bundle_file(const gk_polstore_bundle_t *b, const char *name);

/* ---- keys and signatures (Ed25519, PEM files as written by `gk-sync keygen`) ---------- */

/* The key id of a PEM key file (private PKCS#8 or public SubjectPublicKeyInfo): hex of the
 * first 8 bytes of SHA-256 of the raw public key; out gets GK_POLICY_KEY_ID_LEN + 1 bytes.
 * Returns 0, or GK_EINVAL / GK_EIO with err. */
GK_MUST_CHECK int gk_polstore_key_id(const char *pem_path, char *out, char *err, size_t errlen);

/* Sign msg with the private key at priv_path: sig_b64 gets GK_POLSTORE_SIG_B64_LEN + 1
 * bytes (base64, NUL-terminated), key_id GK_POLICY_KEY_ID_LEN + 1. Returns 0 or GK_EINVAL /
 * GK_EIO with err. */
GK_MUST_CHECK int gk_polstore_sign(const char *priv_path, const void *msg, size_t len,
                                   char *sig_b64, char *key_id, char *err, size_t errlen);

/* The operator public keys a gatekeeperd trusts. */
typedef struct gk_polstore_keyring gk_polstore_keyring_t;

/* Load every public key file (each must be an Ed25519 public key; duplicates allowed).
 * Returns 0, or GK_EINVAL / GK_EIO / GK_ENOMEM with err naming the file. */
GK_MUST_CHECK int gk_polstore_keyring_load(const char *const *paths, size_t n,
                                           gk_polstore_keyring_t **out, char *err, size_t errlen);
void gk_polstore_keyring_free(gk_polstore_keyring_t *kr);
size_t gk_polstore_keyring_size(const gk_polstore_keyring_t *kr);

/* Verify sig_b64 over msg with the key whose id is key_id. Returns 0 when valid, GK_ENOENT
 * when no key of the ring has that id ("signed by an unknown key"), GK_ESYNTAX for a bad or
 * malformed signature; err says which. */
GK_MUST_CHECK int gk_polstore_verify(const gk_polstore_keyring_t *kr, const char *key_id,
                                     const void *msg, size_t len, const char *sig_b64, char *err,
                                     size_t errlen);

/* ---- diff ------------------------------------------------------------------------------- */

/* Compare two bundles (from may be NULL: everything is new). Writes a human-readable report
 * to f when f is not NULL: mode and status-rule changes (compiled with the policy
 * compiler), a line diff of the policy YAML, files added and removed, and per list file the
 * entries added and removed (plain lists: names as normalised by the reader's rules,
 * lowercase, no trailing dot, comments dropped; RPZ: records with whitespace collapsed).
 * If summary is not NULL it receives a new jansson object (the audit "summary",
 * include/gk/policy_store.h; caller json_decref's it). *changes (may be NULL) receives the
 * number of changes found (0: same content). Returns 0 or GK_ENOMEM. */
struct json_t;
GK_MUST_CHECK int gk_polstore_diff(const gk_polstore_bundle_t *from, const gk_polstore_bundle_t *to,
                                   FILE *f, struct json_t **summary, size_t *changes);
/* The same, with the bundles' compiled policies when the caller has them (either may be NULL:
 * compiled here), which saves compiling a large policy again. */
GK_MUST_CHECK int gk_polstore_diff_compiled(const gk_polstore_bundle_t *from,
                                            const gk_policy_t *pfrom,
                                            const gk_polstore_bundle_t *to, const gk_policy_t *pto,
                                            FILE *f, struct json_t **summary, size_t *changes);

/* ---- Redis reads (synchronous hiredis; gkctl) ------------------------------------------- */

/* One stored version (GK_KEY_POL_VERSION). */
typedef struct gk_polstore_version {
	uint64_t version;
	char *bundle; /* the signed bytes (NUL after them) */
	size_t bundle_len;
	char sig[GK_POLSTORE_SIG_B64_LEN + 8];
	char key_id[GK_POLICY_KEY_ID_LEN + 8];
	char action[16];
	uint64_t from;
	int64_t created_ms;
	char *message;
} gk_polstore_version_t;

/* Connect to "HOST:PORT", "[V6]:PORT" or "unix:/PATH" with a timeout, and AUTH with auth
 * (NULL or no password: none) through src/redis. *out is a redisContext (hiredis, opaque
 * here; free with gk_polstore_disconnect). Returns 0 or GK_EINVAL (bad address) / GK_EIO
 * (cannot connect, AUTH refused) with err. */
struct gk_redis_auth;
GK_MUST_CHECK int gk_polstore_connect(const char *addr, const struct gk_redis_auth *auth,
                                      unsigned timeout_ms, void **out, char *err, size_t errlen);
void gk_polstore_disconnect(void *redis);

/* The current version (0: none pushed yet). Returns 0 or GK_EIO with err. */
GK_MUST_CHECK int gk_polstore_current(void *redis, uint64_t *out, char *err, size_t errlen);

/* Read version v. Returns 0, GK_ENOENT (no such version), GK_EIO with err. Free with
 * gk_polstore_version_clear. */
GK_MUST_CHECK int gk_polstore_get(void *redis, uint64_t v, gk_polstore_version_t *out, char *err,
                                  size_t errlen);
void gk_polstore_version_clear(gk_polstore_version_t *v);

/* Parse a version number ("17"): 0 or GK_EINVAL. */
GK_MUST_CHECK int gk_polstore_parse_version(const char *s, size_t len, uint64_t *out);

/* ---- the last verified version on local disk (gatekeeperd's policy.state_dir) --------- */

#define GK_POLSTORE_STATE_FILE "fleet-policy.json"

/* Write v's version, bundle, sig and key_id to DIR/GK_POLSTORE_STATE_FILE, replacing the
 * file atomically (temporary file, fsync, rename, fsync of DIR; mode 0600; a symlink in
 * the file's place is replaced, never followed). DIR is created (0700) when missing, not
 * its parents. Returns 0, GK_EIO / GK_ERANGE / GK_ENOMEM with err naming the path. The
 * caller saves only versions it verified. Blocking file I/O: not on a packet path. */
GK_MUST_CHECK int gk_polstore_state_save(const char *dir, const gk_polstore_version_t *v, char *err,
                                         size_t errlen);

/* Read DIR/GK_POLSTORE_STATE_FILE into out (version, bundle, bundle_len, sig, key_id;
 * action "state"; free with gk_polstore_version_clear). Nothing is verified here: the
 * caller checks the signature with its keys, decodes the bundle and compares its version,
 * as for a version read from Redis. Returns 0, GK_ENOENT (no file), GK_ESYNTAX (not a
 * state file) or GK_EIO / GK_ENOMEM, with err naming the path (except for GK_ENOENT).
 * Regular files only, never through a symlink. */
GK_MUST_CHECK int gk_polstore_state_load(const char *dir, gk_polstore_version_t *out, char *err,
                                         size_t errlen);

/* Decode state file bytes (gk_polstore_state_load after reading; fuzzing). Returns 0,
 * GK_ESYNTAX or GK_ENOMEM with err; out is set only on success. */
GK_MUST_CHECK int gk_polstore_state_decode(const void *buf, size_t len, gk_polstore_version_t *out,
                                           char *err, size_t errlen);
