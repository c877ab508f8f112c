/* SPDX-License-Identifier: MIT */
/* src/net/tls_ctx.c -- a DoT listener's OpenSSL context and session-ticket keys (net/tls.h).
 *
 * The ticket callback runs on worker threads during handshakes; the keys and the context
 * pointer are guarded by one mutex, taken per handshake or accept, never per query.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include "net/tls.h"

struct ticket_key {
	unsigned char name[16];
	unsigned char aes[32];
	unsigned char hmac[32];
	bool set;
};

struct gk_tls_ctx {
	uv_mutex_t mu;
	SSL_CTX *ctx;           /* under mu */
	int min_version;        /* TLS1_2_VERSION or TLS1_3_VERSION */
	struct ticket_key k[2]; /* [0] current, [1] previous; under mu */
	time_t made;            /* when k[0] was made */
};

static int ex_index = -1;
static uv_once_t ex_once = UV_ONCE_INIT;

static void ex_init(void)
{
	ex_index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

static int new_key(struct ticket_key *k)
{
	if (RAND_bytes(k->name, sizeof(k->name)) != 1 || RAND_bytes(k->aes, sizeof(k->aes)) != 1 ||
	    RAND_bytes(k->hmac, sizeof(k->hmac)) != 1)
		return -1;
	k->set = true;
	return 0;
}

/* Under mu: a new current key, the current one kept as the previous. */
static int rotate_locked(struct gk_tls_ctx *t, time_t now)
{
	struct ticket_key nk;
	if (new_key(&nk) != 0)
		return GK_EIO; /* keep the old key rather than none */
	t->k[1] = t->k[0];
	t->k[0] = nk;
	t->made = now;
	OPENSSL_cleanse(&nk, sizeof(nk));
	return 0;
}

/* Under mu: rotate when the current key is a period old (or there is none yet). */
static void rotate_due(struct gk_tls_ctx *t)
{
	time_t now = time(NULL);
	if (!t->k[0].set || now - t->made >= (time_t)GK_TLS_TICKET_ROTATE_S)
		(void)rotate_locked(t, now);
}

int gk_net_tls_ctx_rotate(gk_tls_ctx_t *t)
{
	uv_mutex_lock(&t->mu);
	int rc = rotate_locked(t, time(NULL));
	uv_mutex_unlock(&t->mu);
	return rc;
}

static int ticket_cb(SSL *s, unsigned char name[16], unsigned char *iv, EVP_CIPHER_CTX *cctx,
                     EVP_MAC_CTX *hctx, int enc)
{
	struct gk_tls_ctx *t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(s), ex_index);
	struct ticket_key k;
	int ret = 1;
	uv_mutex_lock(&t->mu);
	if (enc) {
		rotate_due(t);
		k = t->k[0];
	} else if (t->k[0].set && memcmp(name, t->k[0].name, 16) == 0) {
		k = t->k[0];
	} else if (t->k[1].set && memcmp(name, t->k[1].name, 16) == 0) {
		k = t->k[1];
		ret = 2; /* valid, but sealed with the previous key: issue a new ticket */
	} else {
		k.set = false;
	}
	uv_mutex_unlock(&t->mu);
	if (!k.set)
		return 0; /* unknown key: full handshake */
	if (enc) {
		if (RAND_bytes(iv, 16) != 1)
			return -1;
		memcpy(name, k.name, 16);
	}
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, k.hmac, sizeof(k.hmac)),
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
	    OSSL_PARAM_construct_end(),
	};
	int ok = enc ? EVP_EncryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv)
	             : EVP_DecryptInit_ex(cctx, EVP_aes_256_cbc(), NULL, k.aes, iv);
	if (ok == 1)
		ok = EVP_MAC_CTX_set_params(hctx, params); /* reads k.hmac: cleanse after */
	OPENSSL_cleanse(&k, sizeof(k));
	return ok == 1 ? ret : -1;
}

/* The first OpenSSL error as text (the reason a file did not load). */
static const char *ossl_reason(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();
	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
	return buf;
}

static SSL_CTX *make_ctx(struct gk_tls_ctx *t, const char *cert, const char *key, char *err,
                         size_t errlen, int *rc)
{
	char why[256];
	ERR_clear_error();
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (ctx == NULL) {
		snprintf(err, errlen, "TLS: out of memory");
		*rc = GK_ENOMEM;
		return NULL;
	}
	*rc = GK_EIO;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		snprintf(err, errlen, "%s: cannot load the certificate chain: %s", cert,
		         ossl_reason(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "%s: cannot load the private key: %s", key,
		         ossl_reason(why, sizeof(why)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s: the private key does not match the certificate %s", key,
		         cert);
		ERR_clear_error();
		goto fail;
	}
	SSL_CTX_set_min_proto_version(ctx, t->min_version);
	/* no renegotiation, no compression; read and write buffers released when idle */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE);
	/* resumption by tickets only (keys in t): no server-side session cache to share */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_timeout(ctx, (long)GK_TLS_TICKET_ROTATE_S);
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_ex_data(ctx, ex_index, t);
	SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticket_cb);
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int gk_net_tls_ctx_new(const char *cert, const char *key, int min_version, gk_tls_ctx_t **out,
                       char *err, size_t errlen)
{
	if (min_version != 12 && min_version != 13) {
		snprintf(err, errlen, "TLS: minimum version must be 1.2 or 1.3");
		return GK_EINVAL;
	}
	uv_once(&ex_once, ex_init);
	struct gk_tls_ctx *t = calloc(1, sizeof(*t));
	if (t == NULL || uv_mutex_init(&t->mu) != 0) {
		free(t);
		snprintf(err, errlen, "TLS: out of memory");
		return GK_ENOMEM;
	}
	t->min_version = min_version == 12 ? TLS1_2_VERSION : TLS1_3_VERSION;
	int rc;
	t->ctx = make_ctx(t, cert, key, err, errlen, &rc);
	if (t->ctx == NULL) {
		uv_mutex_destroy(&t->mu);
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int gk_net_tls_ctx_reload(gk_tls_ctx_t *t, const char *cert, const char *key, char *err,
                          size_t errlen)
{
	int rc;
	SSL_CTX *ctx = make_ctx(t, cert, key, err, errlen, &rc);
	if (ctx == NULL)
		return rc;
	uv_mutex_lock(&t->mu);
	SSL_CTX *old = t->ctx;
	t->ctx = ctx;
	uv_mutex_unlock(&t->mu);
	SSL_CTX_free(old); /* open connections hold references of their own */
	return 0;
}

void *gk_net_tls_ctx_ssl_new(gk_tls_ctx_t *t)
{
	uv_mutex_lock(&t->mu);
	SSL *s = SSL_new(t->ctx);
	uv_mutex_unlock(&t->mu);
	return s;
}

void gk_net_tls_ctx_free(gk_tls_ctx_t *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	OPENSSL_cleanse(t->k, sizeof(t->k));
	uv_mutex_destroy(&t->mu);
	free(t);
}
