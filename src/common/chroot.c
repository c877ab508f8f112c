/* SPDX-License-Identifier: MIT */
/* src/common/chroot.c -- paths after `chroot:`: the chroot directory's prefix stripped. */
#include "common/chroot.h"
#include <string.h>

static char root[4096];
static size_t root_len; /* 0: not chrooted */

static size_t dir_len(const char *dir)
{
	size_t n = strlen(dir);
	while (n > 1 && dir[n - 1] == '/')
		n--;
	return n;
}

void gk_chroot_set(const char *dir)
{
	size_t n = dir_len(dir);
	if (n >= sizeof(root) || (n == 1 && dir[0] == '/'))
		return; /* "/" changes nothing */
	memcpy(root, dir, n);
	root[n] = '\0';
	root_len = n;
}

bool gk_chroot_active(void)
{
	return root_len > 0;
}

bool gk_chroot_under(const char *dir, const char *path)
{
	size_t n = dir_len(dir);
	if (n == 1 && dir[0] == '/')
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

const char *gk_chroot_strip(const char *path)
{
	if (root_len == 0 || path == NULL || !gk_chroot_under(root, path))
		return path;
	return path[root_len] == '\0' ? "/" : path + root_len;
}
