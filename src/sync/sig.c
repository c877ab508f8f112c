/* SPDX-License-Identifier: MIT */
/* src/sync/sig.c -- Ed25519 keygen, sign and verify with OpenSSL 3 EVP (NULL digest). */
#include <errno.h>
#include <fcntl.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/file.h"
#include "sync/sig.h"

static void ssl_err(char *err, size_t errlen, const char *what, const char *path)
{
	char buf[256] = "";
	unsigned long e = ERR_get_error();
	if (e)
		ERR_error_string_n(e, buf, sizeof(buf));
	ERR_clear_error();
	if (err && errlen)
		snprintf(err, errlen, "%s %s%s%s", what, path, buf[0] ? ": " : "", buf);
}

static EVP_PKEY *load_key(const char *path, int priv, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (!fp) {
		if (err && errlen)
			snprintf(err, errlen, "cannot open key %s: %s", path, strerror(errno));
		return NULL;
	}
	EVP_PKEY *k = priv ? PEM_read_PrivateKey(fp, NULL, NULL, NULL)
	                   : PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	fclose(fp);
	if (!k) {
		ssl_err(err, errlen,
		        priv ? "cannot read PEM private key" : "cannot read PEM public key", path);
		return NULL;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		if (err && errlen)
			snprintf(err, errlen, "key %s is not an Ed25519 key", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

/* A key file that did not exist, or with force one replacing it (common/file.h: exact mode,
 * no link followed). */
static int write_key_file(const char *path, const char *data, size_t len, mode_t mode, int force,
                          char *err, size_t errlen)
{
	int rc = gk_file_create(path, data, len, mode, force ? GK_FILE_REPLACE : 0, err, errlen);
	if (rc == GK_EEXIST)
		snprintf(err, errlen, "%s exists (not overwritten; --force replaces it)", path);
	else if (rc != 0)
		rc = GK_EIO;
	return rc;
}

/* PEM text of the private (priv) or public key in a malloc'd buffer */
static char *pem_text(EVP_PKEY *k, int priv, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *out = NULL, *p;
	if (!b)
		return NULL;
	if (priv ? PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL)
	         : PEM_write_bio_PUBKEY(b, k)) {
		long n = BIO_get_mem_data(b, &p);
		if (n > 0 && (out = malloc((size_t)n))) {
			memcpy(out, p, (size_t)n);
			*len = (size_t)n;
		}
	}
	BIO_free(b);
	return out;
}

int gk_sync_sig_keygen(const char *priv_path, const char *pub_path, unsigned flags, char *err,
                       size_t errlen)
{
	int rc = GK_ENOMEM, force = !!(flags & GK_SIG_KEYGEN_FORCE);
	size_t priv_len = 0, pub_len = 0;
	char *priv = NULL, *pub = NULL;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (!k) {
		ssl_err(err, errlen, "key generation failed", "");
		return GK_ENOMEM;
	}
	priv = pem_text(k, 1, &priv_len);
	pub = pem_text(k, 0, &pub_len);
	if (!priv || !pub) {
		ssl_err(err, errlen, "cannot encode the key for", priv_path);
		goto out;
	}
	rc = write_key_file(priv_path, priv, priv_len, 0600, force, err, errlen);
	if (rc)
		goto out;
	rc = write_key_file(pub_path, pub, pub_len, 0644, force, err, errlen);
	if (rc && !force)
		unlink(priv_path); /* created by us a moment ago: no half pair left behind */
out:
	if (priv)
		OPENSSL_cleanse(priv, priv_len);
	free(priv);
	free(pub);
	EVP_PKEY_free(k);
	return rc;
}

int gk_sync_sig_sign(const char *key_path, const void *msg, size_t len, uint8_t sig[GK_SIG_LEN],
                     char *err, size_t errlen)
{
	int rc = GK_EIO;
	EVP_PKEY *k = load_key(key_path, 1, err, errlen);
	if (!k)
		return GK_EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	size_t slen = GK_SIG_LEN;
	if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, k) != 1 ||
	    EVP_DigestSign(ctx, sig, &slen, msg, len) != 1 || slen != GK_SIG_LEN) {
		ssl_err(err, errlen, "signing failed with", key_path);
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return rc;
}

int gk_sync_sig_verify(const char *pub_path, const void *msg, size_t len,
                       const uint8_t sig[GK_SIG_LEN], char *err, size_t errlen)
{
	int rc = GK_EIO;
	EVP_PKEY *k = load_key(pub_path, 0, err, errlen);
	if (!k)
		return GK_EINVAL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (!ctx || EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k) != 1) {
		ssl_err(err, errlen, "cannot verify with", pub_path);
		goto out;
	}
	if (EVP_DigestVerify(ctx, sig, GK_SIG_LEN, msg, len) != 1) {
		ERR_clear_error();
		if (err && errlen)
			snprintf(err, errlen, "bad signature (key %s)", pub_path);
		rc = GK_ESYNTAX;
		goto out;
	}
	rc = 0;
out:
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(k);
	return rc;
}

int gk_sync_sig_decode(const void *buf, size_t len, uint8_t sig[GK_SIG_LEN])
{
	const unsigned char *p = buf;
	if (len == GK_SIG_LEN) {
		memcpy(sig, p, GK_SIG_LEN);
		return 0;
	}
	while (len && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++, len--;
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\n' || p[len - 1] == '\r' ||
	               p[len - 1] == '\t'))
		len--;
	if (len != 88 || p[86] != '=' || p[87] != '=')
		return GK_ESYNTAX;
	unsigned char out[67];
	/* EVP_DecodeBlock keeps the padding bytes in its count: 88 chars -> 66 */
	if (EVP_DecodeBlock(out, p, 88) != 66)
		return GK_ESYNTAX;
	memcpy(sig, out, GK_SIG_LEN);
	return 0;
}

void gk_sync_sig_encode_base64(const uint8_t sig[GK_SIG_LEN], char *out)
{
	EVP_EncodeBlock((unsigned char *)out, sig, GK_SIG_LEN);
}
