/* SPDX-License-Identifier: MIT */
/* tests/unit/sync/test_load.c -- gk_sync_load's file handling: the bytes verified are the
 * bytes parsed (a change to the file after verification is not seen), feeds and signatures
 * must be regular files opened without following a symlink, and a signature file is bounded.
 * Every refusal must come back at once (a FIFO must not block) and name the file.
 *
 * GK_TEST_FILTER=pattern runs only the matching tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "gk/filing_status.h"
#include "sync/feed.h"
#include "sync/sig.h"
#include "sync/sync.h"

static gk_psl_t *psl;
static char dir[64], priv[128], pub[128];

#define FEED_TEXT                                                                                  \
	"{\"kind\":\"snapshot\",\"serial\":7,\"count\":1}\n"                                       \
	"{\"domain\":\"revoked-one.cn\",\"status\":\"revoked\"}\n"

static int setup(void **state)
{
	(void)state;
	char err[512];
	gk_sync_feed_global_init();
	snprintf(dir, sizeof(dir), "/tmp/gk-test-syncload-XXXXXX");
	if (!mkdtemp(dir) || gk_psl_open(NULL, &psl))
		return -1;
	snprintf(priv, sizeof(priv), "%s/priv.pem", dir);
	snprintf(pub, sizeof(pub), "%s/pub.pem", dir);
	if (gk_sync_sig_keygen(priv, pub, 0, err, sizeof(err))) {
		fprintf(stderr, "keygen: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	gk_psl_close(psl);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	return system(cmd) ? -1 : 0;
}

/* write text to dir/name and sign it (dir/name.sig); returns the path in a static buffer */
static const char *signed_feed(const char *name, const char *text)
{
	static char path[256];
	char err[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fputs(text, fp) >= 0, 1);
	assert_int_equal(fclose(fp), 0);
	assert_int_equal(gk_sync_sign_file(priv, path, NULL, 0, err, sizeof(err)), 0);
	return path;
}

static int load(const char *path, const char *sig, gk_feed_t **f, char *err, size_t errlen)
{
	*f = NULL;
	return gk_sync_load(path, sig, pub, psl, 1, 0, f, err, errlen);
}

/* must be refused as a bad input (exit 1, watch: rejected/), with both words in the message */
static void refused(const char *path, const char *sig, const char *w1, const char *w2)
{
	gk_feed_t *f;
	char err[1024];
	int rc = load(path, sig, &f, err, sizeof(err));
	if (rc != GK_ESYNTAX || !strstr(err, w1) || !strstr(err, w2))
		fail_msg("%s: rc %d \"%s\", want GK_ESYNTAX with \"%s\" and \"%s\"", path, rc, err,
		         w1, w2);
	assert_null(f);
}

/* --- the bytes parsed are the bytes verified -------------------------------------------- */

static int hook_calls;

/* Rewrite the record in place between verification and parsing: the same length, valid
 * JSON, a different verdict. A loader that parses the file (a shared or private mapping
 * of its pages) instead of its own copy of the verified bytes sees "filed". */
static void rewrite_in_place(const char *path)
{
	const char *from = "\"revoked\"", *to = "\"filed\"  ";
	char buf[512];
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	assert_true(n > 0);
	buf[n] = 0;
	char *at = strstr(buf, from);
	assert_non_null(at);
	assert_int_equal(pwrite(fd, to, strlen(to), at - buf), (ssize_t)strlen(to));
	assert_int_equal(close(fd), 0);
	hook_calls++;
}

static void test_private_copy(void **state)
{
	(void)state;
	const char *path = signed_feed("race.jsonl", FEED_TEXT);
	gk_feed_t *f;
	char err[1024];
	gk_sync_load_hook = rewrite_in_place;
	hook_calls = 0;
	int rc = load(path, NULL, &f, err, sizeof(err));
	gk_sync_load_hook = NULL;
	assert_int_equal(hook_calls, 1);
	if (rc)
		fail_msg("load: %s", err);
	assert_int_equal(f->n, 1);
	assert_string_equal(f->recs[0].domain, "revoked-one.cn");
	assert_int_equal(f->recs[0].status, GK_FS_REVOKED);
	gk_sync_feed_free(f);
	/* the file did change: loading it again is a bad signature */
	refused(path, NULL, "bad signature", "race.jsonl.sig");
}

/* --- feeds: regular files only, no symlink followed ------------------------------------- */

static void test_feed_symlink(void **state)
{
	(void)state;
	char lnk[256];
	const char *path = signed_feed("real.jsonl", FEED_TEXT);
	snprintf(lnk, sizeof(lnk), "%s/link.jsonl", dir);
	assert_int_equal(symlink(path, lnk), 0);
	char sig[300], lsig[300];
	snprintf(sig, sizeof(sig), "%s.sig", path);
	snprintf(lsig, sizeof(lsig), "%s.sig", lnk);
	assert_int_equal(link(sig, lsig), 0); /* a good .sig beside it: only the link is wrong */
	refused(lnk, NULL, lnk, "symbolic link");
}

static void test_feed_fifo(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/fifo.jsonl", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	refused(path, NULL, path, "not a regular file");
}

static void test_feed_directory(void **state)
{
	(void)state;
	char path[256];
	snprintf(path, sizeof(path), "%s/dir.jsonl", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	refused(path, NULL, path, "not a regular file");
}

/* --- signatures: regular, not a symlink, at most GK_SIG_FILE_MAX bytes ------------------- */

static void test_sig_devzero(void **state)
{
	(void)state;
	const char *path = signed_feed("zero.jsonl", FEED_TEXT);
	char sig[300];
	snprintf(sig, sizeof(sig), "%s.sig", path);
	assert_int_equal(unlink(sig), 0);
	assert_int_equal(symlink("/dev/zero", sig), 0);
	refused(path, NULL, "zero.jsonl.sig", "symbolic link");
	/* and given directly (--sig /dev/zero): a device, not a regular file */
	refused(path, "/dev/zero", "/dev/zero", "not a regular file");
}

static void test_sig_fifo(void **state)
{
	(void)state;
	const char *path = signed_feed("sfifo.jsonl", FEED_TEXT);
	char sig[300];
	snprintf(sig, sizeof(sig), "%s.sig", path);
	assert_int_equal(unlink(sig), 0);
	assert_int_equal(mkfifo(sig, 0600), 0);
	refused(path, NULL, "sfifo.jsonl.sig", "not a regular file");
}

static void test_sig_oversized(void **state)
{
	(void)state;
	const char *path = signed_feed("big.jsonl", FEED_TEXT);
	char sig[300], b64[GK_SIG_B64_LEN + 1];
	uint8_t raw[GK_SIG_LEN];
	snprintf(sig, sizeof(sig), "%s.sig", path);
	/* a valid base64 signature padded with whitespace past the cap */
	FILE *fp = fopen(sig, "rb");
	assert_non_null(fp);
	assert_int_equal(fread(raw, 1, sizeof(raw), fp), GK_SIG_LEN);
	fclose(fp);
	gk_sync_sig_encode_base64(raw, b64);
	fp = fopen(sig, "w");
	assert_non_null(fp);
	fprintf(fp, "%s", b64);
	for (int i = 0; i < GK_SIG_FILE_MAX; i++)
		fputc('\n', fp);
	fclose(fp);
	refused(path, NULL, "big.jsonl.sig", "larger than");
	/* at the cap it is accepted */
	fp = fopen(sig, "w");
	assert_non_null(fp);
	fprintf(fp, "%s", b64);
	for (int i = GK_SIG_B64_LEN; i < GK_SIG_FILE_MAX; i++)
		fputc('\n', fp);
	fclose(fp);
	gk_feed_t *f;
	char err[1024];
	if (load(path, NULL, &f, err, sizeof(err)))
		fail_msg("a %d-byte signature file: %s", GK_SIG_FILE_MAX, err);
	gk_sync_feed_free(f);
}

static void test_sig_symlink(void **state)
{
	(void)state;
	/* even a link to the right signature: the spool holds files, not pointers */
	const char *path = signed_feed("slink.jsonl", FEED_TEXT);
	char sig[300], real[310];
	snprintf(sig, sizeof(sig), "%s.sig", path);
	snprintf(real, sizeof(real), "%s.real", sig);
	assert_int_equal(rename(sig, real), 0);
	assert_int_equal(symlink(real, sig), 0);
	refused(path, NULL, "slink.jsonl.sig", "symbolic link");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_private_copy),  cmocka_unit_test(test_feed_symlink),
	    cmocka_unit_test(test_feed_fifo),     cmocka_unit_test(test_feed_directory),
	    cmocka_unit_test(test_sig_devzero),   cmocka_unit_test(test_sig_fifo),
	    cmocka_unit_test(test_sig_oversized), cmocka_unit_test(test_sig_symlink),
	};
	if (getenv("GK_TEST_FILTER"))
		cmocka_set_test_filter(getenv("GK_TEST_FILTER"));
	return cmocka_run_group_tests(tests, setup, teardown);
}
