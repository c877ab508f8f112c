/* SPDX-License-Identifier: MIT */
/* src/common/file.h -- read a whole file into memory (zones, policies, list files, bundles). */
#pragma once
#include <stddef.h>
#include "gk/errors.h"

/* Read path, which must be a regular file (a link to one is followed), into a new buffer of
 * *len bytes plus a NUL the caller may ignore (free it). Returns 0, -errno when it cannot be
 * opened, GK_ENOTREG for a FIFO, device, directory or socket (never waits on one),
 * GK_ERANGE beyond max bytes, GK_ENOMEM or GK_EIO (a read error); *out is untouched on
 * failure. Blocking: never on the packet path. */
GK_MUST_CHECK int gk_read_file(const char *path, size_t max, char **out, size_t *len);
