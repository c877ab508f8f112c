/* SPDX-License-Identifier: MIT */
/* src/common/file.h -- read a whole file into memory (zones, policies, list files, bundles);
 * create a file of an exact mode without following links (keys, saved state). */
#pragma once
#include <sys/stat.h>
#include <stddef.h>
#include <sys/types.h>
#include "gk/errors.h"

/* Read path, which must be a regular file (a link to one is followed), into a new buffer of
 * *len bytes plus a NUL the caller may ignore (free it). Returns 0, -errno when it cannot be
 * opened, GK_ENOTREG for a FIFO, device, directory or socket (never waits on one),
 * GK_ERANGE beyond max bytes, GK_ENOMEM or GK_EIO (a read error); *out is untouched on
 * failure. Blocking: never on the packet path. */
GK_MUST_CHECK int gk_file_read(const char *path, size_t max, char **out, size_t *len);
/* gk_file_read, and the file's fstat (of the file read, before reading it) into *st when st
 * is not NULL: one open and path walk instead of a stat beside the read. */
GK_MUST_CHECK int gk_file_read_stat(const char *path, size_t max, char **out, size_t *len,
                                    struct stat *st);

/* Create path holding data[0, len) with exactly mode (set with fchmod: the umask neither
 * widens nor narrows it); the data is fsync'd, and the directory after a rename.
 * Without GK_FILE_REPLACE, path must not exist: it is opened O_CREAT | O_EXCL | O_NOFOLLOW,
 * so a file or a symlink there (a dangling one too) is refused with GK_EEXIST and a link is
 * never followed. With GK_FILE_REPLACE, the data goes to "<path>.tmp" (a file or symlink
 * left there is removed first, never written through) which is renamed over path: a reader
 * sees the old file or the new one, whole.
 * Returns 0, GK_EEXIST ("<path> exists" in err), GK_EINVAL (a name too long) or GK_EIO
 * (err: "cannot create|write|replace <name>: <reason>"). On failure path is unchanged and
 * no temporary is left. err may be NULL. Blocking: never on the packet path. */
#define GK_FILE_REPLACE 1u
GK_MUST_CHECK int gk_file_create(const char *path, const void *data, size_t len, mode_t mode,
                                 unsigned flags, char *err, size_t errlen);
