/* SPDX-License-Identifier: MIT */
/* src/common/chroot.h -- paths after `chroot:` (NSD's semantics).
 *
 * Once the daemon has changed its root to DIR (daemon/service.c), an absolute path that a
 * config or an operator writes as DIR/x is read as /x: the loaders pass every path they
 * read through gk_chroot_strip. Before the chroot, and in every other program, nothing
 * changes.
 */
#ifndef GK_COMMON_CHROOT_H
#define GK_COMMON_CHROOT_H

#include <stdbool.h>

/* Record that the process's root is now dir (absolute, as configured; a trailing '/' is
 * ignored). Main thread, once, before any thread reads a path through gk_chroot_strip. */
void gk_chroot_set(const char *dir);

/* True once gk_chroot_set ran. */
bool gk_chroot_active(void);

/* path as seen from inside the chroot: path without the chroot directory when it is
 * absolute and under it ("/" for the directory itself), else path itself. The result
 * points into path (or is the static "/"). Any thread. */
const char *gk_chroot_strip(const char *path);

/* True when path is dir or lies under it, comparing whole components (dir absolute, a
 * trailing '/' ignored; "/srv/dnsx" is not under "/srv/dns"). No file system access. */
bool gk_chroot_under(const char *dir, const char *path);

#endif
