/* SPDX-License-Identifier: MIT */
/* src/xfr/save.h -- the secondary's persisted files, written in batches by a thread of
 * their own (group commit).
 *
 * Each file is saved atomically as before -- written to PATH.tmp, its data on disk, renamed
 * to PATH, the directory flushed -- but a batch of files shares one flush: every file queued
 * while the previous batch was being written is written, then one syncfs(2) puts all their
 * data on disk, then each is renamed into place and the directory is flushed once. A file
 * is never renamed before its data is on disk, so a crash leaves the old or the new file,
 * never a torn one; what was not renamed yet is transferred again after a restart. One
 * fsync per zone made 10,000 initial transfers take 45 s on the bench machine's disk
 * (fsync about 4 ms); a batch costs one flush whatever its size.
 *
 * Threads: gk_xfr_saver_put and the done callback run on the loop given at creation (the
 * transfer thread's); the writes, the flush and the renames run on the saver's own thread.
 */
#pragma once
#include <stddef.h>
#include <uv.h>

#include "gk/errors.h"

typedef struct gk_xfr_saver gk_xfr_saver_t;

/* A save has ended: rc 0 (the file is in place and on disk) or a negative errno (nothing
 * renamed; the old file, if any, stays). Runs on the loop, once per gk_xfr_saver_put. */
typedef void (*gk_xfr_saved_fn)(void *ctx, void *tag, int rc, const char *path);

/* A saver writing into directory dir (which must outlive it), reporting on loop. Returns 0,
 * GK_ENOMEM, or a libuv error (thread, async handle). Loop thread. */
GK_MUST_CHECK int gk_xfr_saver_create(uv_loop_t *loop, const char *dir, gk_xfr_saved_fn done,
                                      void *ctx, gk_xfr_saver_t **out);

/* Queue data[0..len) (malloc'd: taken in every case) for path (copied). tag comes back in
 * done. Returns 0 or GK_ENOMEM (done is not called). Loop thread. */
GK_MUST_CHECK int gk_xfr_saver_put(gk_xfr_saver_t *sv, const char *path, char *data, size_t len,
                                   void *tag);

/* Stop: the batch being written is finished, the rest dropped without a callback; the
 * thread is joined and the async handle closed (the loop must run on so it closes; the
 * object is freed then). NULL ignored. Loop thread. */
void gk_xfr_saver_close(gk_xfr_saver_t *sv);
