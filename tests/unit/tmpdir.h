/* SPDX-License-Identifier: MIT */
/* tests/unit/tmpdir.h -- a private temporary directory for a unit test program: made by its
 * cmocka group setup, removed with everything in it by the group teardown. */
#pragma once
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Make /tmp/gk-TAG-test-XXXXXX into dir (n bytes, at least 64). 0, or -1 when it fails. */
static inline int gk_test_tmpdir_make(char *dir, size_t n, const char *tag)
{
	snprintf(dir, n, "/tmp/gk-%s-test-XXXXXX", tag);
	return mkdtemp(dir) == NULL ? -1 : 0;
}

/* Remove dir and everything in it. 0, or -1 when it fails. */
static inline int gk_test_tmpdir_remove(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}
