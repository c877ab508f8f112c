/* SPDX-License-Identifier: MIT */
/* tests/unit/xfr/test_save.c -- the secondary's batched saver (src/xfr/save.h): every queued
 * file lands in place with its bytes and no temporary file left, each put is reported once
 * on the loop, a file replaced keeps the new bytes, a directory that is gone reports an
 * error and renames nothing, and closing with work queued frees everything.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/file.h"
#include "xfr/save.h"

#define N 200

static char dir[64];
static int done_n, done_err;
static int seen[N];

static void done(void *ctx, void *tag, int rc, const char *path)
{
	(void)ctx;
	(void)path;
	done_n++;
	if (rc != 0)
		done_err++;
	seen[(intptr_t)tag]++;
}

static char *dup_text(const char *s)
{
	char *p = strdup(s);
	assert_non_null(p);
	return p;
}

static void run_until(uv_loop_t *loop, int want)
{
	while (done_n < want)
		uv_run(loop, UV_RUN_ONCE);
}

static void test_batches(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/gk-save-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
	uv_loop_t loop;
	assert_int_equal(uv_loop_init(&loop), 0);
	gk_xfr_saver_t *sv = NULL;
	assert_int_equal(gk_xfr_saver_create(&loop, dir, done, NULL, &sv), 0);
	char path[128], text[64];
	for (int i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "%s/z%d.zone", dir, i);
		snprintf(text, sizeof(text), "zone %d\n", i);
		assert_int_equal(
		    gk_xfr_saver_put(sv, path, dup_text(text), strlen(text), (void *)(intptr_t)i),
		    0);
	}
	run_until(&loop, N);
	/* a file saved again keeps the newer bytes */
	snprintf(path, sizeof(path), "%s/z0.zone", dir);
	assert_int_equal(gk_xfr_saver_put(sv, path, dup_text("newer\n"), 6, (void *)0), 0);
	run_until(&loop, N + 1);
	assert_int_equal(done_err, 0);
	for (int i = 0; i < N; i++)
		assert_int_equal(seen[i], i == 0 ? 2 : 1);
	for (int i = 0; i < N; i++) {
		char *got = NULL;
		size_t len = 0;
		snprintf(path, sizeof(path), "%s/z%d.zone", dir, i);
		snprintf(text, sizeof(text), i ? "zone %d\n" : "newer\n", i);
		assert_int_equal(gk_file_read(path, 1 << 20, &got, &len), 0);
		assert_int_equal(len, strlen(text));
		assert_memory_equal(got, text, len);
		free(got);
	}
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	while ((e = readdir(d)) != NULL)
		assert_null(strstr(e->d_name, ".tmp"));
	closedir(d);
	/* a directory that is gone: the save fails, reported once */
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/gone.zone", dir);
	assert_int_equal(gk_xfr_saver_put(sv, path, dup_text("x\n"), 2, (void *)1), 0);
	run_until(&loop, N + 2);
	assert_int_equal(done_err, 1);
	assert_int_equal(access(path, F_OK), -1);
	/* closing with work queued: nothing reported, nothing leaked (ASan) */
	assert_int_equal(gk_xfr_saver_put(sv, path, dup_text("y\n"), 2, (void *)2), 0);
	gk_xfr_saver_close(sv);
	while (uv_run(&loop, UV_RUN_NOWAIT) != 0)
		;
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
