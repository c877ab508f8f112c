/* SPDX-License-Identifier: MIT */
/* tests/unit/common/test_file.c -- reading a whole file, and creating a file of an exact mode
 * (common/file.h): the
 * umask neither widens nor narrows the mode, an existing file or symlink is refused, a
 * replacement goes through a temporary that is never written through a planted link.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file.h"

static char dir[] = "/tmp/gk-test-file-XXXXXX";

static void at(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	return st.st_mode & 07777;
}

static int holds(const char *path, const char *want)
{
	char buf[256] = "";
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strcmp(buf, want) == 0;
}

static void test_mode_exact(void **state)
{
	(void)state;
	char p[300], q[300], err[512];
	at(p, sizeof(p), "private");
	at(q, sizeof(q), "public");
	mode_t old = umask(0077); /* would narrow 0644 */
	assert_int_equal(gk_file_create(p, "k\n", 2, 0600, 0, err, sizeof(err)), 0);
	assert_int_equal(gk_file_create(q, "p\n", 2, 0644, 0, err, sizeof(err)), 0);
	assert_int_equal(mode_of(p), 0600);
	assert_int_equal(mode_of(q), 0644);
	umask(0); /* would widen nothing, but a replacement must still be exact */
	assert_int_equal(gk_file_create(p, "k2\n", 3, 0600, GK_FILE_REPLACE, err, sizeof(err)), 0);
	assert_int_equal(mode_of(p), 0600);
	assert_true(holds(p, "k2\n"));
	umask(old);
	unlink(p);
	unlink(q);
}

static void test_existing_refused(void **state)
{
	(void)state;
	char p[300], link[300], target[300], err[512];
	at(p, sizeof(p), "exists");
	at(link, sizeof(link), "dangling");
	at(target, sizeof(target), "nowhere");
	FILE *f = fopen(p, "w");
	fputs("old\n", f);
	fclose(f);
	assert_int_equal(gk_file_create(p, "new\n", 4, 0600, 0, err, sizeof(err)), GK_EEXIST);
	assert_non_null(strstr(err, p));
	assert_true(holds(p, "old\n"));
	/* a symlink, even a dangling one, is refused and never followed */
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(gk_file_create(link, "new\n", 4, 0600, 0, err, sizeof(err)), GK_EEXIST);
	assert_int_equal(access(target, F_OK), -1);
	/* no directory: an error naming the file */
	char deep[400];
	snprintf(deep, sizeof(deep), "%s/none/file", dir);
	assert_int_equal(gk_file_create(deep, "x", 1, 0600, 0, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, "cannot create"));
	assert_non_null(strstr(err, deep));
	unlink(p);
	unlink(link);
}

static void test_replace_no_link_followed(void **state)
{
	(void)state;
	char p[300], tmp[320], target[300], err[512];
	at(p, sizeof(p), "state");
	at(target, sizeof(target), "target");
	snprintf(tmp, sizeof(tmp), "%s.tmp", p);
	FILE *f = fopen(target, "w");
	fputs("keep\n", f);
	fclose(f);
	/* path itself a symlink: the link is replaced, its target untouched */
	assert_int_equal(symlink(target, p), 0);
	assert_int_equal(gk_file_create(p, "one\n", 4, 0600, GK_FILE_REPLACE, err, sizeof(err)), 0);
	struct stat st;
	assert_int_equal(lstat(p, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_true(holds(p, "one\n"));
	assert_true(holds(target, "keep\n"));
	/* a temporary planted as a symlink is removed, not written through */
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(gk_file_create(p, "two\n", 4, 0600, GK_FILE_REPLACE, err, sizeof(err)), 0);
	assert_true(holds(p, "two\n"));
	assert_true(holds(target, "keep\n"));
	assert_int_equal(lstat(tmp, &st), -1);
	/* a name too long for the temporary: refused, nothing written */
	char longname[4200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(gk_file_create(longname, "x", 1, 0600, GK_FILE_REPLACE, err, sizeof(err)),
	                 GK_EINVAL);
	/* NULL err is allowed */
	assert_int_equal(gk_file_create(p, "x", 1, 0600, 0, NULL, 0), GK_EEXIST);
	unlink(p);
	unlink(target);
}

/* gk_file_read_stat: the whole file with a NUL after it, its fstat; the size limit; what is
 * not a regular file; a regular file whose size reads as 0 (procfs) read to its end. */
static void test_read(void **state)
{
	(void)state;
	char p[512], *buf = NULL;
	size_t len = 0;
	struct stat st;
	at(p, sizeof(p), "read");
	FILE *f = fopen(p, "w");
	assert_non_null(f);
	for (int i = 0; i < 10000; i++)
		fprintf(f, "line %d\n", i);
	fclose(f);
	struct stat want;
	assert_int_equal(stat(p, &want), 0);
	assert_int_equal(gk_file_read_stat(p, 1 << 20, &buf, &len, &st), 0);
	assert_int_equal(len, (size_t)want.st_size);
	assert_int_equal(buf[len], '\0');
	assert_memory_equal(buf, "line 0\nline 1\n", 14);
	assert_memory_equal(buf + len - 10, "line 9999\n", 10);
	assert_true(st.st_ino == want.st_ino && st.st_size == want.st_size);
	free(buf);
	/* one octet over the limit */
	buf = NULL;
	assert_int_equal(gk_file_read(p, (size_t)want.st_size - 1, &buf, &len), GK_ERANGE);
	assert_null(buf);
	assert_int_equal(gk_file_read(p, (size_t)want.st_size, &buf, &len), 0);
	free(buf);
	/* empty */
	at(p, sizeof(p), "empty");
	f = fopen(p, "w");
	fclose(f);
	assert_int_equal(gk_file_read(p, 100, &buf, &len), 0);
	assert_int_equal(len, 0);
	assert_int_equal(buf[0], '\0');
	free(buf);
	/* not regular: a directory; missing */
	assert_int_equal(gk_file_read(dir, 100, &buf, &len), GK_ENOTREG);
	at(p, sizeof(p), "missing");
	assert_int_equal(gk_file_read(p, 100, &buf, &len), -ENOENT);
	/* procfs says 0 octets; the content is there */
	assert_int_equal(gk_file_read("/proc/self/status", 1 << 20, &buf, &len), 0);
	assert_true(len > 100);
	assert_non_null(strstr(buf, "Name:"));
	free(buf);
	assert_int_equal(gk_file_read("/proc/self/status", 10, &buf, &len), GK_ERANGE);
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_mode_exact),
	    cmocka_unit_test(test_existing_refused),
	    cmocka_unit_test(test_replace_no_link_followed),
	    cmocka_unit_test(test_read),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return rc;
}
