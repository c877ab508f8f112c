/* SPDX-License-Identifier: MIT */
/* tests/unit/net/test_tls_ctx.c -- gk_tls_ctx: loading, reload, session tickets and their
 * rotation, checked with in-memory handshakes (no sockets).
 *
 * Certificates are made here with OpenSSL (P-256, self-signed, serials 1 and 2) in a
 * private temp directory. A client (TLS 1.2, so the ticket comes within the handshake)
 * talks to a server connection from gk_net_tls_ctx_ssl_new through memory BIOs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include "net/tls.h"

static char dir[64], cert1[128], cert2[128], key[128], other_key[128], bad[128];

static void write_pair(const char *certpath, const char *keypath, long serial, EVP_PKEY *pk)
{
	X509 *x = X509_new();
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, pk);
	X509_NAME *n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"dns.test", -1, -1,
	                           0);
	X509_set_issuer_name(x, n);
	assert_true(X509_sign(x, pk, EVP_sha256()) > 0);
	FILE *f = fopen(certpath, "w");
	assert_non_null(f);
	PEM_write_X509(f, x);
	fclose(f);
	X509_free(x);
	if (keypath != NULL) {
		f = fopen(keypath, "w");
		assert_non_null(f);
		PEM_write_PrivateKey(f, pk, NULL, NULL, 0, NULL, NULL);
		fclose(f);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/gk-tls-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(cert1, sizeof(cert1), "%s/cert1.pem", dir);
	snprintf(cert2, sizeof(cert2), "%s/cert2.pem", dir);
	snprintf(key, sizeof(key), "%s/key.pem", dir);
	snprintf(other_key, sizeof(other_key), "%s/other.pem", dir);
	snprintf(bad, sizeof(bad), "%s/bad.pem", dir);
	EVP_PKEY *pk = EVP_EC_gen("P-256"), *pk2 = EVP_EC_gen("P-256");
	if (pk == NULL || pk2 == NULL)
		return -1;
	write_pair(cert1, key, 1, pk);
	write_pair(cert2, NULL, 2, pk);
	write_pair(bad, other_key, 3, pk2); /* other_key matches neither cert1 nor cert2 */
	FILE *f = fopen(bad, "w");
	fputs("-----BEGIN CERTIFICATE-----\nnot base64 at all\n", f);
	fclose(f);
	EVP_PKEY_free(pk);
	EVP_PKEY_free(pk2);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* Move what one side wrote to the other. */
static void shuttle(SSL *from, SSL *to)
{
	char buf[16384];
	int n;
	while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof(buf))) > 0)
		assert_int_equal(BIO_write(SSL_get_rbio(to), buf, n), n);
}

struct result {
	bool reused;
	long serial;
	SSL_SESSION *session; /* the client's, owned by the caller */
};

/* One handshake with t; resume: a session to offer, or NULL. */
static struct result handshake(gk_tls_ctx_t *t, SSL_SESSION *resume)
{
	SSL_CTX *cctx = SSL_CTX_new(TLS_client_method());
	assert_non_null(cctx);
	SSL_CTX_set_max_proto_version(cctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(cctx, SSL_VERIFY_NONE, NULL);
	SSL *c = SSL_new(cctx);
	SSL *s = gk_net_tls_ctx_ssl_new(t);
	assert_non_null(c);
	assert_non_null(s);
	SSL_set_bio(c, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	SSL_set_bio(s, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
	BIO_set_mem_eof_return(SSL_get_rbio(c), -1);
	BIO_set_mem_eof_return(SSL_get_rbio(s), -1);
	SSL_set_connect_state(c);
	SSL_set_accept_state(s);
	if (resume != NULL)
		assert_int_equal(SSL_set_session(c, resume), 1);
	int rc_c = 0, rc_s = 0;
	for (int i = 0; i < 20 && (rc_c != 1 || rc_s != 1); i++) {
		if (rc_c != 1)
			rc_c = SSL_do_handshake(c);
		shuttle(c, s);
		if (rc_s != 1)
			rc_s = SSL_do_handshake(s);
		shuttle(s, c);
	}
	assert_int_equal(rc_c, 1);
	assert_int_equal(rc_s, 1);
	struct result r = {.reused = SSL_session_reused(c) == 1};
	assert_int_equal(SSL_session_reused(s), SSL_session_reused(c));
	X509 *peer = SSL_get0_peer_certificate(c);
	assert_non_null(peer);
	r.serial = ASN1_INTEGER_get(X509_get0_serialNumber(peer));
	r.session = SSL_get1_session(c);
	assert_non_null(r.session);
	assert_true(SSL_SESSION_has_ticket(r.session));
	/* as after a close_notify: an SSL freed mid-connection marks its session unusable */
	SSL_set_shutdown(c, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c);
	SSL_free(s);
	SSL_CTX_free(cctx);
	return r;
}

/* The ticket's MAC (its last 32 bytes, HMAC-SHA256 over the rest) was not made with an
 * all-zero key: regression for the HMAC key wiped before OpenSSL read it. */
static void assert_ticket_mac_keyed(SSL_SESSION *sess)
{
	const unsigned char *tk;
	size_t len;
	SSL_SESSION_get0_ticket(sess, &tk, &len);
	assert_true(len > 16 + 16 + 32);
	unsigned char zero[32] = {0}, mac[EVP_MAX_MD_SIZE];
	unsigned int ml = 0;
	assert_non_null(HMAC(EVP_sha256(), zero, sizeof(zero), tk, len - 32, mac, &ml));
	assert_int_equal(ml, 32);
	assert_memory_not_equal(mac, tk + len - 32, 32);
}

static void test_load_errors(void **state)
{
	(void)state;
	gk_tls_ctx_t *t = NULL;
	char err[512], missing[160];
	snprintf(missing, sizeof(missing), "%s/missing.pem", dir);
	assert_int_equal(gk_net_tls_ctx_new(missing, key, 12, &t, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, missing));
	assert_non_null(strstr(err, "certificate chain"));
	assert_int_equal(gk_net_tls_ctx_new(cert1, missing, 12, &t, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, missing));
	assert_int_equal(gk_net_tls_ctx_new(bad, key, 12, &t, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, bad));
	assert_int_equal(gk_net_tls_ctx_new(cert1, other_key, 12, &t, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, other_key));
	assert_int_equal(gk_net_tls_ctx_new(cert1, key, 11, &t, err, sizeof(err)), GK_EINVAL);
	assert_null(t);
}

static void test_tickets_and_rotation(void **state)
{
	(void)state;
	gk_tls_ctx_t *t = NULL;
	char err[512];
	assert_int_equal(gk_net_tls_ctx_new(cert1, key, 12, &t, err, sizeof(err)), 0);
	struct result full = handshake(t, NULL);
	assert_false(full.reused);
	assert_int_equal(full.serial, 1);
	assert_ticket_mac_keyed(full.session);
	struct result r = handshake(t, full.session);
	assert_true(r.reused);
	SSL_SESSION_free(r.session);
	/* one rotation: a ticket of the previous key still resumes */
	assert_int_equal(gk_net_tls_ctx_rotate(t), 0);
	r = handshake(t, full.session);
	assert_true(r.reused);
	SSL_SESSION_free(r.session);
	/* a second: its key is forgotten, a full handshake */
	assert_int_equal(gk_net_tls_ctx_rotate(t), 0);
	r = handshake(t, full.session);
	assert_false(r.reused);
	SSL_SESSION_free(r.session);
	SSL_SESSION_free(full.session);
	gk_net_tls_ctx_free(t);
}

static void test_reload(void **state)
{
	(void)state;
	gk_tls_ctx_t *t = NULL;
	char err[512];
	assert_int_equal(gk_net_tls_ctx_new(cert1, key, 12, &t, err, sizeof(err)), 0);
	struct result before = handshake(t, NULL);
	assert_int_equal(before.serial, 1);
	assert_int_equal(gk_net_tls_ctx_reload(t, cert2, key, err, sizeof(err)), 0);
	struct result r = handshake(t, NULL);
	assert_int_equal(r.serial, 2);
	SSL_SESSION_free(r.session);
	/* the ticket keys survive the reload: a session from before resumes */
	r = handshake(t, before.session);
	assert_true(r.reused);
	SSL_SESSION_free(r.session);
	/* a broken certificate or a key that does not match: refused, the loaded one serves */
	assert_int_equal(gk_net_tls_ctx_reload(t, bad, key, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, bad));
	assert_int_equal(gk_net_tls_ctx_reload(t, cert1, other_key, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, other_key));
	r = handshake(t, NULL);
	assert_int_equal(r.serial, 2);
	SSL_SESSION_free(r.session);
	SSL_SESSION_free(before.session);
	gk_net_tls_ctx_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_tickets_and_rotation),
	    cmocka_unit_test(test_reload),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
