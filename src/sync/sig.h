/* SPDX-License-Identifier: MIT */
/* src/sync/sig.h -- detached Ed25519 signatures over the exact feed bytes.
 *
 * Keys are PEM files (PKCS#8 private, SubjectPublicKeyInfo public), the formats
 * `openssl genpkey -algorithm ed25519` and `openssl pkey -pubout` write. A signature file
 * holds the 64 raw signature bytes (what `openssl pkeyutl -sign -rawin` writes) or their
 * base64 text (88 characters, surrounding whitespace allowed). Ed25519 in OpenSSL 3.0 is
 * one-shot: the whole message is in memory. No OpenSSL types in this header. Any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

#define GK_SIG_LEN     64
#define GK_SIG_B64_LEN 88 /* base64 of 64 bytes, with padding */
/* A signature file is at most this many bytes (the base64 form and any whitespace around it
 * fit many times over); a larger one is refused before it is read. */
#define GK_SIG_FILE_MAX 512

#define GK_SIG_KEYGEN_FORCE 1u /* gk_sync_sig_keygen: replace existing files */

/* Generate a key pair; write the private key to priv_path (mode 0600) and the public key to
 * pub_path (mode 0644), those modes whatever the umask. A symlink at either path is never
 * followed. Without GK_SIG_KEYGEN_FORCE each file is created new (O_CREAT|O_EXCL|O_NOFOLLOW)
 * and an existing file or symlink at either path is refused, nothing written; with it each
 * is written to a new temporary file in the same directory and renamed over the path (which
 * replaces a symlink, not its target). Returns 0, GK_EEXIST (err says to use --force),
 * GK_EIO (with err) or GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_sig_keygen(const char *priv_path, const char *pub_path, unsigned flags,
                                     char *err, size_t errlen);

/* Sign msg[0..len) with the PEM private key at key_path; sig gets 64 bytes.
 * Returns 0, or GK_EIO / GK_EINVAL (not an Ed25519 key) with err. */
GK_MUST_CHECK int gk_sync_sig_sign(const char *key_path, const void *msg, size_t len,
                                   uint8_t sig[GK_SIG_LEN], char *err, size_t errlen);

/* Verify sig over msg with the PEM public key at pub_path. Returns 0 when valid,
 * GK_ESYNTAX for a wrong signature, GK_EIO / GK_EINVAL for an unusable key (err set). */
GK_MUST_CHECK int gk_sync_sig_verify(const char *pub_path, const void *msg, size_t len,
                                     const uint8_t sig[GK_SIG_LEN], char *err, size_t errlen);

/* Decode a signature file's content: 64 raw bytes, or base64 of 64 bytes. Returns 0 or
 * GK_ESYNTAX. */
GK_MUST_CHECK int gk_sync_sig_decode(const void *buf, size_t len, uint8_t sig[GK_SIG_LEN]);

/* Base64 text of a signature into out[GK_SIG_B64_LEN + 1] (NUL-terminated). */
void gk_sync_sig_encode_base64(const uint8_t sig[GK_SIG_LEN], char *out);
