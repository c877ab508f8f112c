/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_sig.c -- Ed25519 keygen/sign/verify round trip, tampering, signature
 * file decoding (raw and base64). Interop with the openssl CLI is in the integration test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "sync/sig.h"

static void test_roundtrip(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-sig-XXXXXX", priv[64], pub[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	assert_int_equal(gk_sig_keygen(priv, pub, err, sizeof(err)), 0);
	const char msg[] = "{\"kind\":\"snapshot\",\"serial\":1,\"count\":0}\n";
	uint8_t sig[GK_SIG_LEN], back[GK_SIG_LEN];
	assert_int_equal(gk_sig_sign(priv, msg, sizeof(msg) - 1, sig, err, sizeof(err)), 0);
	assert_int_equal(gk_sig_verify(pub, msg, sizeof(msg) - 1, sig, err, sizeof(err)), 0);
	/* one byte more, one byte changed, one bit of the signature changed */
	assert_int_equal(gk_sig_verify(pub, msg, sizeof(msg), sig, err, sizeof(err)), GK_ESYNTAX);
	char m2[sizeof(msg)];
	memcpy(m2, msg, sizeof(msg));
	m2[5] ^= 1;
	assert_int_equal(gk_sig_verify(pub, m2, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	sig[10] ^= 0x80;
	assert_int_equal(gk_sig_verify(pub, msg, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	sig[10] ^= 0x80;
	/* a private key is not a public key; a missing key is a key error, not a bad signature */
	assert_int_equal(gk_sig_verify(priv, msg, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_EINVAL);
	assert_int_equal(gk_sig_verify("/nonexistent.pem", msg, 1, sig, err, sizeof(err)),
	                 GK_EINVAL);
	/* encodings */
	char b64[GK_SIG_B64_LEN + 3];
	gk_sig_encode_base64(sig, b64);
	assert_int_equal(strlen(b64), GK_SIG_B64_LEN);
	strcat(b64, "\n");
	assert_int_equal(gk_sig_decode(b64, strlen(b64), back), 0);
	assert_memory_equal(sig, back, GK_SIG_LEN);
	assert_int_equal(gk_sig_decode(sig, GK_SIG_LEN, back), 0);
	assert_memory_equal(sig, back, GK_SIG_LEN);
	assert_int_equal(gk_sig_decode(sig, 63, back), GK_ESYNTAX);
	assert_int_equal(gk_sig_decode("abc", 3, back), GK_ESYNTAX);
	unlink(priv);
	unlink(pub);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
