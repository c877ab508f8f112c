/* SPDX-License-Identifier: MIT */
/* include/gk/errors.h -- the one error space of every gatekeeper function.
 *
 * Functions return int: 0 on success, a negative GK_E* code on failure. Codes that have an
 * errno equivalent are that errno negated, so a failing syscall maps with -errno.
 */
#pragma once
#include <errno.h>

#define GK_MUST_CHECK __attribute__((warn_unused_result))

enum {
	GK_OK = 0,
	GK_ENOMEM = -ENOMEM,
	GK_EINVAL = -EINVAL,
	GK_ENOENT = -ENOENT,
	GK_EIO = -EIO,
	GK_ERANGE = -ERANGE,
	GK_EEXIST = -EEXIST,
	GK_ENOSPC = -ENOSPC,
	GK_EAGAIN = -EAGAIN,
	GK_EBUSY = -EBUSY, /* held by another (gk-sync's apply lock) */
	/* gatekeeper-specific codes live below -1000 */
	GK_ESYNTAX = -1001, /* malformed input (file, config, packet) */
	GK_EZONE = -1002,   /* zone content fails a semantic check */
	GK_ECONFIG = -1003, /* config value out of range or unknown key */
	GK_ENOTREG = -1004, /* a path that must name a regular file names a FIFO, device, ... */
};

/* Text for a GK_E* code (or -errno). Never NULL; static storage. Any thread. */
const char *gk_strerror(int code);
