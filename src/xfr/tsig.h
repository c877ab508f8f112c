/* SPDX-License-Identifier: MIT */
/* src/xfr/tsig.h -- TSIG (RFC 8945): sign and verify DNS messages with a shared key.
 *
 * Keys are hmac-sha1, hmac-sha256 or hmac-sha512 with a secret of up to GK_TSIG_SECRET_MAX
 * octets. A gk_tsig_ctx_t follows one exchange: the request (signed or verified first),
 * then each message of the answer, chaining the MACs as RFC 8945 section 5.3.1 asks (a
 * later message's MAC covers the previous MAC, every message since it, including up to 99
 * unsigned ones, and the time only). The HMAC is OpenSSL's EVP_MAC. The message parser here
 * is bounded and allocation-free (fuzzed by tests/fuzz/fuzz_xfr.c). No OpenSSL type appears
 * in this header. A context is used by one thread at a time; keys are immutable once made
 * and may be shared.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

#define GK_TSIG_SECRET_MAX 256
#define GK_TSIG_MAC_MAX    64
#define GK_TSIG_FUDGE      300 /* seconds, as RFC 8945 recommends */

/* TSIG error codes (the TSIG RR's error field, and the outcome of a verify). */
enum {
	GK_TSIG_NOERROR = 0,
	GK_TSIG_BADSIG = 16,
	GK_TSIG_BADKEY = 17,
	GK_TSIG_BADTIME = 18,
	GK_TSIG_BADTRUNC = 22,
};

typedef enum gk_tsig_alg {
	GK_TSIG_HMAC_SHA1,
	GK_TSIG_HMAC_SHA256,
	GK_TSIG_HMAC_SHA512,
} gk_tsig_alg_t;

/* One key. name is lowercase wire form. */
typedef struct gk_tsig_key {
	uint8_t name[255];
	size_t name_len;
	gk_tsig_alg_t alg;
	uint8_t secret[GK_TSIG_SECRET_MAX];
	size_t secret_len;
} gk_tsig_key_t;

/* Make a key from a name (presentation form), an algorithm name ("hmac-sha256",
 * "hmac-sha512", "hmac-sha1"; case-insensitive, trailing dot optional) and a base64
 * secret. Returns 0, GK_EINVAL (bad name, unknown algorithm, secret not base64, empty or
 * over GK_TSIG_SECRET_MAX octets). Any thread. */
GK_MUST_CHECK int gk_xfr_tsig_key_init(gk_tsig_key_t *k, const char *name, const char *alg,
                                       const char *secret_b64);

/* The algorithm's name for messages ("hmac-sha256"), and its MAC length in octets. */
const char *gk_xfr_tsig_alg_name(gk_tsig_alg_t alg);
size_t gk_xfr_tsig_mac_len(gk_tsig_alg_t alg);

/* Where a message's TSIG RR sits, found by gk_xfr_tsig_find. */
typedef struct gk_tsig_rr {
	size_t offset;      /* of the TSIG RR's owner name in the message */
	const uint8_t *key; /* key name as in the message (uncompressed wire) */
	size_t key_len;
	const uint8_t *alg; /* algorithm name (uncompressed wire) */
	size_t alg_len;
	uint64_t time_signed; /* 48 bits */
	uint16_t fudge;
	const uint8_t *mac;
	uint16_t mac_len;
	uint16_t orig_id;
	uint16_t error;
	const uint8_t *other;
	uint16_t other_len;
} gk_tsig_rr_t;

/* Walk msg[0..len) (header, every RR of every section, compression pointers bounded) and
 * report its TSIG RR in *rr. Returns 1 when the last additional record is a TSIG RR, 0 when
 * the message has none, GK_ESYNTAX when the message is malformed or a TSIG RR is anywhere
 * but last. Pointers in *rr point into msg. Pure; any thread. */
GK_MUST_CHECK int gk_xfr_tsig_find(const uint8_t *msg, size_t len, gk_tsig_rr_t *rr);

/* One exchange: a request and its answer (one message, or the many of a zone transfer). */
typedef struct gk_tsig_ctx gk_tsig_ctx_t;

/* A context for key (borrowed: it must outlive the context). Returns 0 or GK_ENOMEM. */
GK_MUST_CHECK int gk_xfr_tsig_ctx_new(const gk_tsig_key_t *key, gk_tsig_ctx_t **out);
void gk_xfr_tsig_ctx_free(gk_tsig_ctx_t *c);

/* Start a new exchange with key (borrowed) on c, keeping its OpenSSL objects: the fetch of
 * the MAC and the allocation of its context (gk_xfr_tsig_ctx_new) are not repeated, so a
 * context made in advance can serve a thread that must not allocate or take OpenSSL's
 * global locks (the NOTIFY path on the query threads). Any state of the previous exchange
 * is forgotten. */
void gk_xfr_tsig_ctx_reset(gk_tsig_ctx_t *c, const gk_tsig_key_t *key);

/* Sign msg[0..*len) in place: append a TSIG RR (time now, fudge GK_TSIG_FUDGE, error
 * field 'error', for BADTIME with the server's time as other data) and count it in ARCOUNT.
 * The first message of an exchange is signed as a request, or, after gk_xfr_tsig_verify
 * accepted a request, as its answer (covering the request's MAC); later ones with the
 * timers only. now is seconds since the epoch. Returns 0 or GK_ENOSPC (cap too small). */
GK_MUST_CHECK int gk_xfr_tsig_sign(gk_tsig_ctx_t *c, uint8_t *msg, size_t *len, size_t cap,
                                   uint64_t now, uint16_t error);

/* Verify one message of the exchange (the first is the request or the answer to the
 * request this context signed; later ones are the following messages of the answer).
 * Returns GK_TSIG_NOERROR when it is signed with the key and in time, or when it is an
 * unsigned message in the middle of a multi-message answer (fewer than 100 in a row; the
 * caller must check that the last message was signed with gk_xfr_tsig_ctx_pending);
 * GK_TSIG_BADKEY (unsigned where a signature is due, another key or algorithm),
 * GK_TSIG_BADSIG (MAC wrong), GK_TSIG_BADTRUNC (MAC shorter than the algorithm's),
 * GK_TSIG_BADTIME (MAC right, time outside the fudge; the MAC still chains),
 * or a negative GK_ESYNTAX (malformed) or GK_ENOMEM. When the peer's TSIG RR carries an
 * error of its own (it refused our key) that error is returned through *peer_error (may be
 * NULL; 0 if none). */
GK_MUST_CHECK int gk_xfr_tsig_verify(gk_tsig_ctx_t *c, const uint8_t *msg, size_t len, uint64_t now,
                                     uint16_t *peer_error);

/* True when messages were accepted unsigned since the last signed one (an answer must not
 * end there). */
bool gk_xfr_tsig_ctx_pending(const gk_tsig_ctx_t *c);

/* Text for a TSIG error ("BADSIG"). Static storage. */
const char *gk_xfr_tsig_strerror(int code);
