/* SPDX-License-Identifier: MIT */
/* src/common/sockaddr.h -- a socket address as written in a file: "1.2.3.4:53", "[::1]:53".
 *
 * The one parser for the addresses of the config (listen, metrics, control), the secondary
 * zones' primaries and the front end's backends. Pure; any thread.
 */
#pragma once
#include <sys/socket.h>
#include "gk/errors.h"

typedef struct gk_sockaddr {
	struct sockaddr_storage addr; /* AF_INET or AF_INET6 with port */
	socklen_t addrlen;
	char text[64]; /* as written in the file, e.g. "[::1]:5353" */
} gk_sockaddr_t;

/* Parse "1.2.3.4:53" or "[::1]:53" (port required, 1..65535; no names) into *out, text
 * included (truncated to fit). Returns 0 or GK_EINVAL. */
GK_MUST_CHECK int gk_sockaddr_parse(const char *s, gk_sockaddr_t *out);
