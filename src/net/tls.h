/* SPDX-License-Identifier: MIT */
/* src/net/tls.h -- DNS over TLS (RFC 7858): the certificate and key a listener serves.
 *
 * A gk_tls_ctx_t holds one listener's OpenSSL context (certificate chain, private key, the
 * lowest protocol version) and its session-ticket keys. Workers start connections from it
 * (net/tls_conn.c); the daemon reloads the certificate and key on SIGHUP. The context is
 * swapped under a mutex taken once per accepted connection, never per query; connections
 * already open keep the context they started with (OpenSSL counts references).
 *
 * Session resumption is by stateless tickets (RFC 5077 / TLS 1.3 PSK tickets): the ticket
 * keys belong to the gk_tls_ctx_t, not to the OpenSSL context, so they are shared by every
 * worker of the listener and survive a certificate reload. A new key is made every
 * GK_TLS_TICKET_ROTATE_S seconds; tickets sealed with the previous key are still accepted
 * (and replaced by a fresh ticket) for one more period, so a ticket lives at most two.
 * Keys exist only in memory.
 */
#pragma once
#include <stddef.h>
#include "gk/errors.h"

#define GK_TLS_TICKET_ROTATE_S 3600u

typedef struct gk_tls_ctx gk_tls_ctx_t;

/* Read cert (PEM chain, leaf first) and key (PEM) and make a server context accepting
 * TLS min_version and later (12: TLS 1.2, 13: TLS 1.3). On failure nothing is allocated and
 * err holds one line naming the file at fault. Returns 0, GK_EINVAL (bad version), GK_EIO
 * (a file cannot be read or parsed, or the key does not match the certificate) or
 * GK_ENOMEM. Control thread; blocking (reads files). */
GK_MUST_CHECK int gk_net_tls_ctx_new(const char *cert, const char *key, int min_version,
                                     gk_tls_ctx_t **out, char *err, size_t errlen);

/* Replace t's certificate and key with the files' current content (SIGHUP). On failure t
 * keeps serving what it had and err names the file at fault. Returns as gk_net_tls_ctx_new.
 * Control thread, while workers accept from t. */
GK_MUST_CHECK int gk_net_tls_ctx_reload(gk_tls_ctx_t *t, const char *cert, const char *key,
                                        char *err, size_t errlen);

/* A new server connection object (an OpenSSL SSL *, returned as void * so this header stays
 * free of OpenSSL types) using t's current context, or NULL (out of memory). The caller
 * frees it with SSL_free. Any thread. */
void *gk_net_tls_ctx_ssl_new(gk_tls_ctx_t *t);

/* Make a new session-ticket key now: the current one becomes the previous (still accepted),
 * the previous is forgotten (its tickets no longer resume). Ticket issuance calls it
 * once the current key is GK_TLS_TICKET_ROTATE_S old. Returns 0 or GK_EIO (no random
 * bytes: the keys are unchanged). Any thread. */
GK_MUST_CHECK int gk_net_tls_ctx_rotate(gk_tls_ctx_t *t);

/* Free t. Connections made from it may outlive it (they hold the OpenSSL context), but
 * their ticket callback uses t: free it only once workers are stopped. NULL is ignored. */
void gk_net_tls_ctx_free(gk_tls_ctx_t *t);
