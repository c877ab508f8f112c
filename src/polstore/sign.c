/* SPDX-License-Identifier: MIT */
/* src/polstore/sign.c -- operator keys: key ids, signing and verifying policy bundles.
 *
 * Signing and verifying are src/sync/sig.c's Ed25519 (the key formats of `gk-sync keygen`);
 * this file adds key ids, so a gatekeeperd with several operator keys knows which one a
 * bundle claims, and a keyring that holds the raw public keys of the config's key files
 * (read once at start: a key file changed on disk takes effect at restart).
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include "polstore/polstore.h"
#include "sync/sig.h"

struct key {
	char id[GK_POLICY_KEY_ID_LEN + 1];
	char *path;
	EVP_PKEY *pkey;
};

struct gk_polstore_keyring {
	struct key *keys;
	size_t n;
};

/* Load a PEM key: public first, else private. */
static EVP_PKEY *load_pem(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	if (fp == NULL) {
		snprintf(err, errlen, "cannot open key %s: %s", path, strerror(errno));
		return NULL;
	}
	EVP_PKEY *k = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
	if (k == NULL) {
		ERR_clear_error();
		rewind(fp);
		k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	}
	fclose(fp);
	ERR_clear_error();
	if (k == NULL) {
		snprintf(err, errlen, "%s: not a PEM key", path);
		return NULL;
	}
	if (EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
		snprintf(err, errlen, "%s: not an Ed25519 key", path);
		EVP_PKEY_free(k);
		return NULL;
	}
	return k;
}

static int pkey_id(EVP_PKEY *k, char *out)
{
	unsigned char raw[32], md[32];
	size_t rl = sizeof(raw);
	unsigned int ml = 0;
	if (EVP_PKEY_get_raw_public_key(k, raw, &rl) != 1 || rl != 32 ||
	    EVP_Digest(raw, rl, md, &ml, EVP_sha256(), NULL) != 1) {
		ERR_clear_error();
		return GK_EINVAL;
	}
	for (int i = 0; i < GK_POLICY_KEY_ID_LEN / 2; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

int gk_polstore_key_id(const char *pem_path, char *out, char *err, size_t errlen)
{
	EVP_PKEY *k = load_pem(pem_path, err, errlen);
	if (k == NULL)
		return GK_EINVAL;
	int rc = pkey_id(k, out);
	if (rc != 0)
		snprintf(err, errlen, "%s: cannot read the public key", pem_path);
	EVP_PKEY_free(k);
	return rc;
}

int gk_polstore_sign(const char *priv_path, const void *msg, size_t len, char *sig_b64,
                     char *key_id, char *err, size_t errlen)
{
	uint8_t sig[GK_SIG_LEN];
	int rc = gk_polstore_key_id(priv_path, key_id, err, errlen);
	if (rc == 0)
		rc = gk_sync_sig_sign(priv_path, msg, len, sig, err, errlen);
	if (rc == 0)
		gk_sync_sig_encode_base64(sig, sig_b64);
	return rc;
}

int gk_polstore_keyring_load(const char *const *paths, size_t n, gk_polstore_keyring_t **out,
                             char *err, size_t errlen)
{
	gk_polstore_keyring_t *kr = calloc(1, sizeof(*kr));
	if (kr == NULL || (n && !(kr->keys = calloc(n, sizeof(*kr->keys))))) {
		free(kr);
		snprintf(err, errlen, "out of memory");
		return GK_ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		FILE *fp = fopen(paths[i], "r");
		if (fp == NULL) {
			snprintf(err, errlen, "cannot open operator key %s: %s", paths[i],
			         strerror(errno));
			gk_polstore_keyring_free(kr);
			return GK_EIO;
		}
		EVP_PKEY *k = PEM_read_PUBKEY(fp, NULL, NULL, NULL);
		fclose(fp);
		ERR_clear_error();
		if (k == NULL || EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
			snprintf(err, errlen, "operator key %s: not a PEM Ed25519 public key",
			         paths[i]);
			EVP_PKEY_free(k);
			gk_polstore_keyring_free(kr);
			return GK_EINVAL;
		}
		struct key *kk = &kr->keys[kr->n++];
		kk->pkey = k;
		if (pkey_id(k, kk->id) != 0 || !(kk->path = strdup(paths[i]))) {
			snprintf(err, errlen, "operator key %s: cannot load", paths[i]);
			gk_polstore_keyring_free(kr);
			return GK_ENOMEM;
		}
	}
	*out = kr;
	return 0;
}

void gk_polstore_keyring_free(gk_polstore_keyring_t *kr)
{
	if (kr == NULL)
		return;
	for (size_t i = 0; i < kr->n; i++) {
		EVP_PKEY_free(kr->keys[i].pkey);
		free(kr->keys[i].path);
	}
	free(kr->keys);
	free(kr);
}

size_t gk_polstore_keyring_size(const gk_polstore_keyring_t *kr)
{
	return kr ? kr->n : 0;
}

int gk_polstore_verify(const gk_polstore_keyring_t *kr, const char *key_id, const void *msg,
                       size_t len, const char *sig_b64, char *err, size_t errlen)
{
	uint8_t sig[GK_SIG_LEN];
	const struct key *k = NULL;
	for (size_t i = 0; kr && i < kr->n && !k; i++)
		if (strcmp(kr->keys[i].id, key_id) == 0)
			k = &kr->keys[i];
	if (k == NULL) {
		snprintf(err, errlen, "signed by an unknown key (key id %.20s)", key_id);
		return GK_ENOENT;
	}
	if (gk_sync_sig_decode(sig_b64, strlen(sig_b64), sig) != 0) {
		snprintf(err, errlen, "malformed signature");
		return GK_ESYNTAX;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = GK_ESYNTAX;
	if (ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, k->pkey) == 1 &&
	    EVP_DigestVerify(ctx, sig, GK_SIG_LEN, msg, len) == 1)
		rc = 0;
	else
		snprintf(err, errlen, "bad signature (key id %s, %s)", key_id, k->path);
	ERR_clear_error();
	EVP_MD_CTX_free(ctx);
	return rc;
}
