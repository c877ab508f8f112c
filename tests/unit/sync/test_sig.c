/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_sig.c -- Ed25519 keygen/sign/verify round trip, tampering, signature
 * file decoding (raw and base64), and how keygen creates its files (modes whatever the umask,
 * never over an existing file without GK_SIG_KEYGEN_FORCE, never through a symlink).
 * Interop with the openssl CLI is in the integration test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "sync/sig.h"

static void test_roundtrip(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-sig-XXXXXX", priv[64], pub[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	assert_int_equal(gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err)), 0);
	const char msg[] = "{\"kind\":\"snapshot\",\"serial\":1,\"count\":0}\n";
	uint8_t sig[GK_SIG_LEN], back[GK_SIG_LEN];
	assert_int_equal(gk_sync_sig_sign(priv, msg, sizeof(msg) - 1, sig, err, sizeof(err)), 0);
	assert_int_equal(gk_sync_sig_verify(pub, msg, sizeof(msg) - 1, sig, err, sizeof(err)), 0);
	/* one byte more, one byte changed, one bit of the signature changed */
	assert_int_equal(gk_sync_sig_verify(pub, msg, sizeof(msg), sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	char m2[sizeof(msg)];
	memcpy(m2, msg, sizeof(msg));
	m2[5] ^= 1;
	assert_int_equal(gk_sync_sig_verify(pub, m2, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	sig[10] ^= 0x80;
	assert_int_equal(gk_sync_sig_verify(pub, msg, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	sig[10] ^= 0x80;
	/* a private key is not a public key; a missing key is a key error, not a bad signature */
	assert_int_equal(gk_sync_sig_verify(priv, msg, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_EINVAL);
	assert_int_equal(gk_sync_sig_verify("/nonexistent.pem", msg, 1, sig, err, sizeof(err)),
	                 GK_EINVAL);
	/* encodings */
	char b64[GK_SIG_B64_LEN + 3];
	gk_sync_sig_encode_base64(sig, b64);
	assert_int_equal(strlen(b64), GK_SIG_B64_LEN);
	strcat(b64, "\n");
	assert_int_equal(gk_sync_sig_decode(b64, strlen(b64), back), 0);
	assert_memory_equal(sig, back, GK_SIG_LEN);
	assert_int_equal(gk_sync_sig_decode(sig, GK_SIG_LEN, back), 0);
	assert_memory_equal(sig, back, GK_SIG_LEN);
	assert_int_equal(gk_sync_sig_decode(sig, 63, back), GK_ESYNTAX);
	assert_int_equal(gk_sync_sig_decode("abc", 3, back), GK_ESYNTAX);
	unlink(priv);
	unlink(pub);
	rmdir(dir);
}

static unsigned mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	return st.st_mode & 07777;
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static int file_is(const char *path, const char *text)
{
	char buf[256] = "";
	FILE *fp = fopen(path, "r");
	if (!fp)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = 0;
	return !strcmp(buf, text);
}

static int is_private_key(const char *path)
{
	uint8_t sig[GK_SIG_LEN];
	char err[512];
	return !gk_sync_sig_sign(path, "x", 1, sig, err, sizeof(err));
}

/* under umask 000 the private key is still 0600 and the public key 0644 */
static void test_keygen_modes(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-keygen-XXXXXX", priv[64], pub[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	mode_t old = umask(0);
	int rc = gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err));
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(mode_of(priv), 0600);
	assert_int_equal(mode_of(pub), 0644);
	/* and again with --force over them, under a umask that would give 0666 / 0777 */
	old = umask(0);
	rc = gk_sync_sig_keygen(priv, pub, GK_SIG_KEYGEN_FORCE, err, sizeof(err));
	umask(old);
	assert_int_equal(rc, 0);
	assert_int_equal(mode_of(priv), 0600);
	assert_int_equal(mode_of(pub), 0644);
	unlink(priv);
	unlink(pub);
	rmdir(dir);
}

/* an existing file is not overwritten without force; with force it is replaced by a new
 * file (a 0644 file does not keep its mode with a private key in it) */
static void test_keygen_existing(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-keygen-XXXXXX", priv[64], pub[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	write_file(priv, "old private\n", 0644);
	int rc = gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err));
	assert_int_equal(rc, GK_EEXIST);
	assert_non_null(strstr(err, priv));
	assert_non_null(strstr(err, "--force"));
	assert_true(file_is(priv, "old private\n"));
	assert_int_equal(access(pub, F_OK), -1); /* nothing half-done */
	/* the public key existing is refused as well, and the private key is not left behind */
	unlink(priv);
	write_file(pub, "old public\n", 0644);
	assert_int_equal(gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err)), GK_EEXIST);
	assert_non_null(strstr(err, pub));
	assert_true(file_is(pub, "old public\n"));
	assert_int_equal(access(priv, F_OK), -1);
	write_file(priv, "old private\n", 0644);
	assert_int_equal(gk_sync_sig_keygen(priv, pub, GK_SIG_KEYGEN_FORCE, err, sizeof(err)), 0);
	assert_int_equal(mode_of(priv), 0600);
	assert_int_equal(mode_of(pub), 0644);
	assert_true(is_private_key(priv));
	unlink(priv);
	unlink(pub);
	rmdir(dir);
}

/* a symlink at the key's path is never followed: refused without force, replaced (not its
 * target written) with force */
static void test_keygen_symlink(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-keygen-XXXXXX", priv[64], pub[64], target[64], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	snprintf(target, sizeof(target), "%s/victim", dir);
	write_file(target, "victim\n", 0644);
	assert_int_equal(symlink(target, priv), 0);
	assert_int_equal(gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err)), GK_EEXIST);
	assert_true(file_is(target, "victim\n"));
	/* a dangling link too: creating through it would create the target */
	char dangling[64];
	snprintf(dangling, sizeof(dangling), "%s/nowhere", dir);
	assert_int_equal(unlink(priv), 0);
	assert_int_equal(symlink(dangling, priv), 0);
	assert_int_equal(gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err)), GK_EEXIST);
	assert_int_equal(access(dangling, F_OK), -1);
	/* with force: the link itself is replaced by the key, the target is untouched */
	assert_int_equal(unlink(priv), 0);
	assert_int_equal(symlink(target, priv), 0);
	assert_int_equal(symlink(target, pub), 0);
	assert_int_equal(gk_sync_sig_keygen(priv, pub, GK_SIG_KEYGEN_FORCE, err, sizeof(err)), 0);
	assert_true(file_is(target, "victim\n"));
	assert_int_equal(mode_of(priv), 0600); /* lstat: a regular file now */
	assert_int_equal(mode_of(pub), 0644);
	assert_true(is_private_key(priv));
	unlink(priv);
	unlink(pub);
	unlink(target);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_roundtrip),
	    cmocka_unit_test(test_keygen_modes),
	    cmocka_unit_test(test_keygen_existing),
	    cmocka_unit_test(test_keygen_symlink),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
