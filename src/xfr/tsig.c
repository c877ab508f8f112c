/* SPDX-License-Identifier: MIT */
/* src/xfr/tsig.c -- TSIG (RFC 8945) with OpenSSL's EVP_MAC.
 *
 * The MAC of a message covers, in order: the previous MAC of the exchange (its 16-bit length,
 * then the MAC) unless the message is a request; the message as it was before the TSIG RR
 * was added (original ID, ARCOUNT one less); then either the full TSIG variables (key name,
 * class ANY, TTL 0, algorithm, time, fudge, error, other data) for a request and the first
 * message of its answer, or the timers alone (time, fudge) for later messages of a
 * multi-message answer. Unsigned messages between two signed ones are fed to the same
 * running MAC, which is why the context keeps an EVP_MAC_CTX open between calls.
 */
#include "xfr/tsig.h"

#include <ldns/ldns.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/dname.h"

#define TYPE_TSIG         250
#define CLASS_ANY         255
#define MAX_UNSIGNED_MSGS 99

struct gk_tsig_ctx {
	const gk_tsig_key_t *key;
	EVP_MAC *mac;
	EVP_MAC_CTX *mctx;
	bool open;          /* mctx initialised and fed since the last signed message */
	int digest;         /* the gk_tsig_alg_t mctx's digest is set to, -1 none yet */
	unsigned nmsg;      /* messages of the exchange signed or verified so far */
	unsigned unsigned_; /* unsigned messages since the last signed one */
	uint8_t prev[GK_TSIG_MAC_MAX];
	size_t prev_len;
};

static const struct {
	const char *name;
	const char *digest;
	size_t len;
	const uint8_t *wire;
	size_t wire_len;
} algs[] = {
    [GK_TSIG_HMAC_SHA1] = {"hmac-sha1", "SHA1", 20, (const uint8_t *)"\x09hmac-sha1", 11},
    [GK_TSIG_HMAC_SHA256] = {"hmac-sha256", "SHA256", 32, (const uint8_t *)"\x0bhmac-sha256", 13},
    [GK_TSIG_HMAC_SHA512] = {"hmac-sha512", "SHA512", 64, (const uint8_t *)"\x0bhmac-sha512", 13},
};

const char *gk_xfr_tsig_alg_name(gk_tsig_alg_t alg)
{
	return algs[alg].name;
}

size_t gk_xfr_tsig_mac_len(gk_tsig_alg_t alg)
{
	return algs[alg].len;
}

const char *gk_xfr_tsig_strerror(int code)
{
	switch (code) {
	case GK_TSIG_NOERROR:
		return "NOERROR";
	case GK_TSIG_BADSIG:
		return "BADSIG";
	case GK_TSIG_BADKEY:
		return "BADKEY";
	case GK_TSIG_BADTIME:
		return "BADTIME";
	case GK_TSIG_BADTRUNC:
		return "BADTRUNC";
	default:
		return code < 0 ? "malformed message" : "unknown TSIG error";
	}
}

int gk_xfr_tsig_key_init(gk_tsig_key_t *k, const char *name, const char *alg,
                         const char *secret_b64)
{
	memset(k, 0, sizeof(*k));
	size_t al = strlen(alg);
	if (al > 0 && alg[al - 1] == '.')
		al--;
	bool found = false;
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
		if (strlen(algs[i].name) == al && strncasecmp(algs[i].name, alg, al) == 0) {
			k->alg = (gk_tsig_alg_t)i;
			found = true;
		}
	}
	if (!found)
		return GK_EINVAL;

	ldns_rdf *d = NULL;
	if (ldns_str2rdf_dname(&d, name) != LDNS_STATUS_OK || !d)
		return GK_EINVAL;
	if (ldns_rdf_size(d) < 2 || ldns_rdf_size(d) > sizeof(k->name)) {
		ldns_rdf_deep_free(d);
		return GK_EINVAL;
	}
	k->name_len = ldns_rdf_size(d);
	memcpy(k->name, ldns_rdf_data(d), k->name_len);
	ldns_rdf_deep_free(d);
	for (size_t i = 0; i < k->name_len; i++)
		k->name[i] = gk_dname_lower[k->name[i]];

	size_t sl = strlen(secret_b64);
	if (sl == 0 || sl % 4 != 0 || sl / 4 * 3 > GK_TSIG_SECRET_MAX + 2)
		return GK_EINVAL;
	uint8_t tmp[GK_TSIG_SECRET_MAX + 3];
	int n = EVP_DecodeBlock(tmp, (const unsigned char *)secret_b64, (int)sl);
	if (n < 0)
		return GK_EINVAL;
	/* EVP_DecodeBlock counts the padding's zero octets */
	if (secret_b64[sl - 1] == '=')
		n--;
	if (secret_b64[sl - 2] == '=')
		n--;
	if (n <= 0 || (size_t)n > GK_TSIG_SECRET_MAX)
		return GK_EINVAL;
	memcpy(k->secret, tmp, (size_t)n);
	k->secret_len = (size_t)n;
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return 0;
}

/* ---- message walk ------------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Skip the (possibly compressed) name at *off. */
static int skip_name(const uint8_t *m, size_t len, size_t *off)
{
	size_t o = *off, total = 0;
	for (;;) {
		if (o >= len)
			return GK_ESYNTAX;
		uint8_t l = m[o];
		if ((l & 0xc0) == 0xc0) {
			if (o + 2 > len)
				return GK_ESYNTAX;
			*off = o + 2;
			return 0;
		}
		if (l & 0xc0)
			return GK_ESYNTAX;
		total += (size_t)l + 1;
		if (total > GK_DNAME_MAX)
			return GK_ESYNTAX;
		o += (size_t)l + 1;
		if (l == 0) {
			*off = o;
			return 0;
		}
	}
}

/* An uncompressed name at *off: its start and length. */
static int plain_name(const uint8_t *m, size_t end, size_t *off, const uint8_t **n, size_t *nl)
{
	size_t o = *off;
	for (;;) {
		if (o >= end)
			return GK_ESYNTAX;
		uint8_t l = m[o];
		if (l & 0xc0)
			return GK_ESYNTAX;
		o += (size_t)l + 1;
		if (o - *off > GK_DNAME_MAX)
			return GK_ESYNTAX;
		if (l == 0)
			break;
	}
	*n = m + *off;
	*nl = o - *off;
	*off = o;
	return 0;
}

int gk_xfr_tsig_find(const uint8_t *msg, size_t len, gk_tsig_rr_t *rr)
{
	if (len < 12)
		return GK_ESYNTAX;
	size_t qd = rd16(msg + 4);
	size_t nrr = (size_t)rd16(msg + 6) + rd16(msg + 8) + rd16(msg + 10);
	size_t ar = rd16(msg + 10);
	size_t off = 12;
	for (size_t i = 0; i < qd; i++) {
		if (skip_name(msg, len, &off) != 0 || off + 4 > len)
			return GK_ESYNTAX;
		off += 4;
	}
	for (size_t i = 0; i < nrr; i++) {
		size_t start = off;
		if (skip_name(msg, len, &off) != 0 || off + 10 > len)
			return GK_ESYNTAX;
		uint16_t type = rd16(msg + off);
		size_t rdlen = rd16(msg + off + 8);
		size_t rdata = off + 10;
		if (rdata + rdlen > len)
			return GK_ESYNTAX;
		off = rdata + rdlen;
		if (type != TYPE_TSIG)
			continue;
		/* only as the last record, in the additional section */
		if (i != nrr - 1 || ar == 0 || off != len)
			return GK_ESYNTAX;
		memset(rr, 0, sizeof(*rr));
		rr->offset = start;
		size_t o = start;
		if (plain_name(msg, len, &o, &rr->key, &rr->key_len) != 0)
			return GK_ESYNTAX;
		if (rd16(msg + o + 2) != CLASS_ANY)
			return GK_ESYNTAX;
		o = rdata;
		size_t end = rdata + rdlen;
		if (plain_name(msg, end, &o, &rr->alg, &rr->alg_len) != 0 || o + 10 > end)
			return GK_ESYNTAX;
		rr->time_signed = (uint64_t)rd16(msg + o) << 32 |
		                  (uint64_t)rd16(msg + o + 2) << 16 | rd16(msg + o + 4);
		rr->fudge = rd16(msg + o + 6);
		rr->mac_len = rd16(msg + o + 8);
		o += 10;
		if (o + rr->mac_len + 6 > end)
			return GK_ESYNTAX;
		rr->mac = msg + o;
		o += rr->mac_len;
		rr->orig_id = rd16(msg + o);
		rr->error = rd16(msg + o + 2);
		rr->other_len = rd16(msg + o + 4);
		o += 6;
		if (o + rr->other_len != end)
			return GK_ESYNTAX;
		rr->other = msg + o;
		return 1;
	}
	if (off != len)
		return GK_ESYNTAX;
	return 0;
}

/* ---- MAC ---------------------------------------------------------------------------- */

int gk_xfr_tsig_ctx_new(const gk_tsig_key_t *key, gk_tsig_ctx_t **out)
{
	gk_tsig_ctx_t *c = calloc(1, sizeof(*c));
	if (!c)
		return GK_ENOMEM;
	c->key = key;
	c->digest = -1;
	c->mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	if (c->mac)
		c->mctx = EVP_MAC_CTX_new(c->mac);
	if (!c->mctx) {
		gk_xfr_tsig_ctx_free(c);
		return GK_ENOMEM;
	}
	*out = c;
	return 0;
}

void gk_xfr_tsig_ctx_free(gk_tsig_ctx_t *c)
{
	if (!c)
		return;
	EVP_MAC_CTX_free(c->mctx);
	EVP_MAC_free(c->mac);
	free(c);
}

void gk_xfr_tsig_ctx_reset(gk_tsig_ctx_t *c, const gk_tsig_key_t *key)
{
	c->key = key;
	c->open = false;
	c->nmsg = 0;
	c->unsigned_ = 0;
	c->prev_len = 0;
	memset(c->prev, 0, sizeof(c->prev));
}

bool gk_xfr_tsig_ctx_pending(const gk_tsig_ctx_t *c)
{
	return c->unsigned_ > 0;
}

/* Start the running MAC, fed with the previous MAC when the message is not a request. */
static int mac_open(gk_tsig_ctx_t *c)
{
	/* the digest is named only when it changes: naming it makes the provider fetch it
	 * again (a lookup under OpenSSL's global method store lock) */
	OSSL_PARAM params[2];
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	                                             (char *)algs[c->key->alg].digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	bool same = c->digest == (int)c->key->alg;
	if (!EVP_MAC_init(c->mctx, c->key->secret, c->key->secret_len, same ? NULL : params)) {
		c->digest = -1;
		return GK_ENOMEM;
	}
	c->digest = (int)c->key->alg;
	if (c->nmsg > 0 && c->prev_len > 0) {
		uint8_t l[2] = {(uint8_t)(c->prev_len >> 8), (uint8_t)c->prev_len};
		if (!EVP_MAC_update(c->mctx, l, 2) ||
		    !EVP_MAC_update(c->mctx, c->prev, c->prev_len))
			return GK_ENOMEM;
	}
	c->open = true;
	return 0;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put48(uint8_t *p, uint64_t v)
{
	put16(p, (uint16_t)(v >> 32));
	put16(p + 2, (uint16_t)(v >> 16));
	put16(p + 4, (uint16_t)v);
}

/* Feed the TSIG variables (full for a request and the first answer, else the timers). */
static int mac_vars(gk_tsig_ctx_t *c, uint64_t t, uint16_t fudge, uint16_t error,
                    const uint8_t *other, uint16_t other_len)
{
	uint8_t b[16];
	bool full = c->nmsg <= 1;
	if (full) {
		uint8_t h[6] = {0, CLASS_ANY, 0, 0, 0, 0};
		if (!EVP_MAC_update(c->mctx, c->key->name, c->key->name_len) ||
		    !EVP_MAC_update(c->mctx, h, sizeof(h)) ||
		    !EVP_MAC_update(c->mctx, algs[c->key->alg].wire, algs[c->key->alg].wire_len))
			return GK_ENOMEM;
	}
	put48(b, t);
	put16(b + 6, fudge);
	if (!full)
		return EVP_MAC_update(c->mctx, b, 8) ? 0 : GK_ENOMEM;
	put16(b + 8, error);
	put16(b + 10, other_len);
	if (!EVP_MAC_update(c->mctx, b, 12) ||
	    (other_len && !EVP_MAC_update(c->mctx, other, other_len)))
		return GK_ENOMEM;
	return 0;
}

static int mac_final(gk_tsig_ctx_t *c, uint8_t *out)
{
	size_t n = 0;
	c->open = false;
	if (!EVP_MAC_final(c->mctx, out, &n, GK_TSIG_MAC_MAX) || n != algs[c->key->alg].len)
		return GK_ENOMEM;
	return 0;
}

static bool name_eq(const uint8_t *a, size_t al, const uint8_t *b, size_t bl)
{
	if (al != bl)
		return false;
	for (size_t i = 0; i < al; i++)
		if (gk_dname_lower[a[i]] != gk_dname_lower[b[i]])
			return false;
	return true;
}

int gk_xfr_tsig_sign(gk_tsig_ctx_t *c, uint8_t *msg, size_t *len, size_t cap, uint64_t now,
                     uint16_t error)
{
	const gk_tsig_key_t *k = c->key;
	size_t l = *len;
	bool nomac = error == GK_TSIG_BADKEY || error == GK_TSIG_BADSIG;
	size_t maclen = nomac ? 0 : algs[k->alg].len;
	uint16_t other_len = error == GK_TSIG_BADTIME ? 6 : 0;
	size_t rdlen = algs[k->alg].wire_len + 10 + maclen + 6 + other_len;
	if (l < 12 || l + k->name_len + 10 + rdlen > cap || rd16(msg + 10) == 0xffff)
		return GK_ENOSPC;
	uint8_t other[6];
	put48(other, now);
	uint8_t mac[GK_TSIG_MAC_MAX];
	if (!nomac) {
		int rc = c->open ? 0 : mac_open(c);
		if (rc == 0 && !EVP_MAC_update(c->mctx, msg, l))
			rc = GK_ENOMEM;
		if (rc == 0)
			rc = mac_vars(c, now, GK_TSIG_FUDGE, error, other, other_len);
		if (rc == 0)
			rc = mac_final(c, mac);
		if (rc != 0)
			return rc;
	}
	uint8_t *p = msg + l;
	memcpy(p, k->name, k->name_len);
	p += k->name_len;
	put16(p, TYPE_TSIG);
	put16(p + 2, CLASS_ANY);
	memset(p + 4, 0, 4);
	put16(p + 8, (uint16_t)rdlen);
	p += 10;
	memcpy(p, algs[k->alg].wire, algs[k->alg].wire_len);
	p += algs[k->alg].wire_len;
	put48(p, now);
	put16(p + 6, GK_TSIG_FUDGE);
	put16(p + 8, (uint16_t)maclen);
	p += 10;
	memcpy(p, mac, maclen);
	p += maclen;
	memcpy(p, msg, 2); /* original ID */
	put16(p + 2, error);
	put16(p + 4, other_len);
	p += 6;
	memcpy(p, other, other_len);
	p += other_len;
	put16(msg + 10, (uint16_t)(rd16(msg + 10) + 1));
	*len = (size_t)(p - msg);
	memcpy(c->prev, mac, maclen);
	c->prev_len = maclen;
	c->nmsg++;
	c->unsigned_ = 0;
	return 0;
}

int gk_xfr_tsig_verify(gk_tsig_ctx_t *c, const uint8_t *msg, size_t len, uint64_t now,
                       uint16_t *peer_error)
{
	const gk_tsig_key_t *k = c->key;
	gk_tsig_rr_t rr;
	if (peer_error)
		*peer_error = 0;
	int found = gk_xfr_tsig_find(msg, len, &rr);
	if (found < 0)
		return found;
	if (found == 0) {
		/* unsigned: only in the middle of a multi-message answer */
		if (c->nmsg < 2 || c->unsigned_ >= MAX_UNSIGNED_MSGS)
			return GK_TSIG_BADKEY;
		if (!c->open && mac_open(c) != 0)
			return GK_ENOMEM;
		if (!EVP_MAC_update(c->mctx, msg, len))
			return GK_ENOMEM;
		c->unsigned_++;
		return GK_TSIG_NOERROR;
	}
	if (!name_eq(rr.key, rr.key_len, k->name, k->name_len) ||
	    !name_eq(rr.alg, rr.alg_len, algs[k->alg].wire, algs[k->alg].wire_len))
		return GK_TSIG_BADKEY;
	if (rr.error != 0) {
		if (peer_error)
			*peer_error = rr.error;
		return rr.error == GK_TSIG_BADTIME  ? GK_TSIG_BADTIME
		       : rr.error == GK_TSIG_BADKEY ? GK_TSIG_BADKEY
		                                    : GK_TSIG_BADSIG;
	}
	if (rr.mac_len < algs[k->alg].len)
		return rr.mac_len < 10 || rr.mac_len < algs[k->alg].len / 2 ? GK_TSIG_BADSIG
		                                                            : GK_TSIG_BADTRUNC;
	if (rr.mac_len > algs[k->alg].len)
		return GK_TSIG_BADSIG;

	if (!c->open && mac_open(c) != 0)
		return GK_ENOMEM;
	uint8_t h[12];
	memcpy(h, msg, 12);
	put16(h, rr.orig_id);
	put16(h + 10, (uint16_t)(rd16(msg + 10) - 1));
	uint8_t mac[GK_TSIG_MAC_MAX];
	if (!EVP_MAC_update(c->mctx, h, 12) || !EVP_MAC_update(c->mctx, msg + 12, rr.offset - 12) ||
	    mac_vars(c, rr.time_signed, rr.fudge, rr.error, rr.other, rr.other_len) != 0 ||
	    mac_final(c, mac) != 0)
		return GK_ENOMEM;
	if (CRYPTO_memcmp(mac, rr.mac, rr.mac_len) != 0)
		return GK_TSIG_BADSIG;
	uint64_t d = now > rr.time_signed ? now - rr.time_signed : rr.time_signed - now;
	memcpy(c->prev, rr.mac, rr.mac_len);
	c->prev_len = rr.mac_len;
	c->nmsg++;
	c->unsigned_ = 0;
	if (d > rr.fudge)
		return GK_TSIG_BADTIME;
	return GK_TSIG_NOERROR;
}
