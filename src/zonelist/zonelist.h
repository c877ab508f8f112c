/* SPDX-License-Identifier: MIT */
/* src/zonelist/zonelist.h -- zone lists at registrar scale: list files, zone directories and
 * the daemon's state file of zones added at run time.
 *
 * A zone list file has one zone per line: "NAME FILE" (separated by blanks; FILE relative to
 * the list file's directory unless absolute). '#' starts a comment (at the start of a line
 * or after a blank); blank lines are skipped. A zones directory gives one zone per file
 * whose name matches a pattern with exactly one "%s" (e.g. "%s.zone"): the zone name is
 * the part of the file name that "%s" stands for. The state file is a zone list the daemon
 * writes (atomically: temporary file, fsync, rename, fsync of the directory), with a journal
 * beside it (PATH.journal) of the adds and removes since: one line per change, "+ NAME FILE"
 * or "- NAME", appended and fdatasync'd per change, so one change costs one short write
 * whatever the number of zones. The state is the state file with the journal applied (the
 * last line for a name wins; replaying a line twice changes nothing); writing the state file
 * folds the journal in and removes it.
 *
 * Everything here is linear in the entries and pure except the file and directory reads.
 * Any thread. Duplicates across entries are the caller's to find (the config loader does,
 * across every source, naming both places).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include "gk/errors.h"

/* Longest zone name in presentation form (without a trailing dot) and longest file path. */
#define GK_ZONELIST_NAME_MAX 253
#define GK_ZONELIST_PATH_MAX 4095

/* One entry: name[0..name_len) and file[0..file_len) are not NUL-terminated and valid only
 * during the call; line is the 1-based line (0 for a directory entry). Return 0 to go on;
 * anything else stops the walk and is returned. */
typedef int (*gk_zonelist_fn)(void *ctx, const char *name, size_t name_len, const char *file,
                              size_t file_len, size_t line);

/* True when name[0..len) is a zone name we accept: labels of letters, digits, '-' and '_'
 * (A-labels for IDN), 1..63 octets each, at most GK_ZONELIST_NAME_MAX characters, one
 * optional trailing dot ("." alone is the root). Pure. */
bool gk_zonelist_name_ok(const char *name, size_t len);

/* Parse a zone list held in buf[0..len) (need not be NUL-terminated). path names the list
 * in errors. Calls fn for each entry in order. Returns 0; GK_ESYNTAX with err holding
 * "PATH:LINE: message" (bad name, missing or extra field, NUL byte, overlong path); or
 * fn's return value. Pure. */
GK_MUST_CHECK int gk_zonelist_parse(const char *buf, size_t len, const char *path,
                                    gk_zonelist_fn fn, void *ctx, char *err, size_t errlen);

/* Read the list file at path (a regular file: a FIFO or device is refused without waiting)
 * and parse it as above. A missing file is GK_ENOENT when missing_ok, else an error.
 * Returns 0 or an error with err naming the file (and line). Blocking. */
GK_MUST_CHECK int gk_zonelist_read(const char *path, bool missing_ok, gk_zonelist_fn fn, void *ctx,
                                   char *err, size_t errlen);

/* In a zone list, an entry whose FILE field is "forward=POOL" names a backend pool instead
 * of a file (front end, docs/FRONTEND.md): true with *pool, *pool_len set to POOL (not
 * empty) inside file[0..file_len). A file of that name is written "./forward=...". Pure.
 * The config loader reads entries so in a zone list file only (not a zones directory or
 * the state file). */
#define GK_ZONELIST_FORWARD "forward="
bool gk_zonelist_forward(const char *file, size_t file_len, const char **pool, size_t *pool_len);

/* True when pattern holds exactly one "%s" and no other '%' or '/'. Pure. */
bool gk_zonelist_pattern_ok(const char *pattern);

/* Every entry of directory dir whose file name matches pattern, in name order: fn gets the
 * zone name and the file "DIR/ENTRY", line 0. Entries starting with '.' and subdirectories
 * are skipped; a matching name that is not a valid zone name is an error naming the file.
 * Returns 0 or an error (err naming the directory or file), or fn's return. Blocking. */
GK_MUST_CHECK int gk_zonelist_scan_dir(const char *dir, const char *pattern, gk_zonelist_fn fn,
                                       void *ctx, char *err, size_t errlen);

/* Write n entries (names[i] FILE files[i], one per line, after a comment header) to path
 * atomically: PATH.tmp (mode 0600) is written, fsynced and renamed over path, then the
 * directory is fsynced and the journal of path (which the entries must include) removed.
 * On failure path and its journal are unchanged and err names the file. Returns 0, -errno or
 * GK_ENOMEM. Blocking. */
GK_MUST_CHECK int gk_zonelist_write(const char *path, const char *const *names,
                                    const char *const *files, size_t n, char *err, size_t errlen);

/* The journal of state file path: "PATH.journal", in buf of buflen bytes. Returns 0 or
 * GK_EINVAL when it does not fit. Pure. */
GK_MUST_CHECK int gk_zonelist_journal_path(const char *path, char *buf, size_t buflen);

/* Append one change to the journal of state file path: an add of name with file (add true)
 * or a remove of name (file unused). The line is written with O_APPEND and fdatasync'd (and
 * the directory fsync'd when the journal is new) before this returns: durable on return.
 * name is a valid zone name, file has no blanks or newlines (GK_EINVAL otherwise). Returns
 * 0 (with *jsize, when not NULL, the journal's size in bytes after the append: the caller
 * folds it into the state file with gk_zonelist_write when it has grown) or -errno with
 * err naming the journal; a failed append leaves at most an unterminated
 * last line, which the readers ignore. Blocking. */
GK_MUST_CHECK int gk_zonelist_journal_append(const char *path, bool add, const char *name,
                                             const char *file, size_t *jsize, char *err,
                                             size_t errlen);

/* Parse a journal held in buf[0..len): calls fn(ctx, add, name, name_len, file, file_len,
 * line) per complete line in order (file NULL and file_len 0 for a remove). An unterminated
 * last line is ignored (an append cut short). Returns 0, GK_ESYNTAX with err holding
 * "PATH:LINE: message", or fn's return value. Pure. */
typedef int (*gk_zonelist_jfn)(void *ctx, bool add, const char *name, size_t name_len,
                               const char *file, size_t file_len, size_t line);
GK_MUST_CHECK int gk_zonelist_journal_parse(const char *buf, size_t len, const char *path,
                                            gk_zonelist_jfn fn, void *ctx, char *err,
                                            size_t errlen);

/* Read the state at path: the state file (a missing one is empty) with its journal applied.
 * fn gets every zone of the result, state-file entries first in file order (line: their
 * line), then the journal's adds in journal order (line: the journal line). Returns 0,
 * GK_ENOENT when neither file exists, or an error with err naming the file (and line).
 * Blocking. */
GK_MUST_CHECK int gk_zonelist_read_state(const char *path, gk_zonelist_fn fn, void *ctx, char *err,
                                         size_t errlen);
