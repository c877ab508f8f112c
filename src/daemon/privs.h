/* SPDX-License-Identifier: MIT */
/* src/daemon/privs.h -- dropping root once sockets, listeners and log files are open.
 *
 * gatekeeperd starts as root (to bind port 53 and open what only root may) and, with
 * `user:` in its config, becomes that user: supplementary groups cleared, setgid, setuid,
 * then checked that root cannot be regained. Whatever it runs as, the capabilities left
 * (e.g. CAP_NET_BIND_SERVICE given by systemd's AmbientCapabilities) are cleared once the
 * sockets are bound: nothing later needs one. Main thread, before the main loop runs; glibc
 * applies the set*id calls to every thread of the process.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "gk/errors.h"

/* Who to become (config `user:` and `group:`, resolved at load). */
typedef struct gk_privs {
	bool set;       /* a user: was configured */
	char user[64];  /* as written */
	char group[64]; /* as written, "" for the user's primary group */
	uid_t uid;
	gid_t gid;
} gk_privs_t;

/* Resolve user (and group, NULL or "" for the user's primary group) into *out. Returns 0,
 * GK_ENOENT (no such user or group; err names which) or GK_EINVAL (name too long). Blocking
 * (NSS); main thread. */
GK_MUST_CHECK int gk_daemon_privs_resolve(const char *user, const char *group, gk_privs_t *out,
                                          char *err, size_t errlen);

/* Become p's user (p->set), or stay who we are; then clear every capability. As root
 * without p->set: logs a warning that the daemon runs as root. Not root with p->set: fine
 * when already that user and group, else an error. Returns 0, or -errno of the call that
 * failed (err says which), or GK_EIO when root could be regained after the drop. */
GK_MUST_CHECK int gk_daemon_privs_drop(const gk_privs_t *p, char *err, size_t errlen);
