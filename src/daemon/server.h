/* SPDX-License-Identifier: MIT */
/* src/daemon/server.h -- the daemon: owns config, the zone store, workers and signals.
 *
 * gk_daemon_server_create() loads the config, builds the zone set, binds every worker's sockets and
 * starts the workers. gk_daemon_server_run() runs the main loop: SIGHUP reloads the config file
 * and the zones (built on the main thread, published atomically, the old set freed after
 * every worker passed a quiescent point; on any error the old set keeps serving),
 * SIGTERM/SIGINT stop the workers and return. Main thread only.
 */
#pragma once
#include <stddef.h>
#include "gk/errors.h"
#include "daemon/config.h"

typedef struct gk_server gk_server_t;

/* Load config_path, build zones, bind and start workers. On failure nothing is left
 * running or allocated, and err holds one line (naming file:line for config and zone
 * errors). Returns 0 or a GK_E* / -errno code. */
GK_MUST_CHECK int gk_daemon_server_create(const char *config_path, gk_server_t **out, char *err,
                                          size_t errlen);

/* Serve until SIGTERM or SIGINT; then stop and join the workers and log the counters.
 * Returns 0 or a libuv error. */
GK_MUST_CHECK int gk_daemon_server_run(gk_server_t *s);

/* Free a server (stops it first if it is still running). NULL is ignored. */
void gk_daemon_server_free(gk_server_t *s);

/* --check: load config_path and build the zone set, then free both. Returns 0, or an error
 * with err naming file:line. On success, if summary/summarylen > 0, a one-line summary. */
GK_MUST_CHECK int gk_daemon_server_check(const char *config_path, char *err, size_t errlen,
                                         char *summary, size_t summarylen);
