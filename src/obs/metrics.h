/* SPDX-License-Identifier: MIT */
/* src/obs/metrics.h -- the Prometheus endpoint: text exposition format 0.0.4 over HTTP/1.1.
 *
 * gk_obs_metrics_render() sums the workers' counter blocks (obs/obs.h) and reads the status
 * replica, the policy version, the network counters and the decision log's figures, and
 * writes every metric family (docs/METRICS.md lists them). gk_obs_metrics_http_start() serves
 * it on the main loop: GET (or HEAD) /metrics answers 200 with the exposition, any other
 * path 404, any other method 405; each response closes its connection. The endpoint is
 * meant for a loopback address (the config only accepts one): there is no TLS and no
 * authentication, and the HTTP handling is the minimum Prometheus needs.
 *
 * Threads: main loop only.
 */
#pragma once
#include <stddef.h>
#include <sys/socket.h>
#include <uv.h>
#include "gk/errors.h"
#include "obs/obs.h"

/* Render the exposition of obs into a new NUL-terminated buffer (*out, free() it; *len
 * without the NUL). Returns 0 or GK_ENOMEM. Main thread. */
GK_MUST_CHECK int gk_obs_metrics_render(const gk_obs_t *obs, char **out, size_t *len);

typedef struct gk_metrics_http gk_metrics_http_t;

/* Listen on addr (TCP) on loop and serve obs. obs must outlive the endpoint. On failure
 * nothing is left open and err holds one line. Returns 0 or a libuv error. */
GK_MUST_CHECK int gk_obs_metrics_http_start(uv_loop_t *loop, const struct sockaddr *addr,
                                            const gk_obs_t *obs, gk_metrics_http_t **out, char *err,
                                            size_t errlen);

/* The bound port (useful after binding port 0). */
int gk_obs_metrics_http_port(const gk_metrics_http_t *h);

/* Close the listener and every connection; memory is freed by the close callbacks, so the
 * loop must run afterwards. Call before walking the loop to close the rest. NULL ignored. */
void gk_obs_metrics_http_close(gk_metrics_http_t *h);
