/* SPDX-License-Identifier: MIT */
/* src/net/listen.c -- bound sockets for the workers, created before the loops run.
 *
 * libuv 1.44 has no UV_UDP_REUSEPORT, so every socket is made here with SO_REUSEPORT and
 * handed to libuv with uv_udp_open / uv_tcp_open. Each worker binds its own socket per
 * address and the kernel spreads flows across them.
 */
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include "common/log.h"
#include "net/internal.h"

#define UDP_RCVBUF (4 * 1024 * 1024)
#define UDP_SNDBUF (1 * 1024 * 1024)

static int common_opts(int fd, const struct sockaddr *sa)
{
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
		return -errno;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		return -errno;
	return 0;
}

/* Raise a socket buffer: SO_*BUFFORCE passes rmem_max as root, else the plain option
 * (capped by the kernel). A short buffer is not fatal: log once at debug. */
static void raise_buf(int fd, int force_opt, int opt, int size)
{
	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) != 0)
		gk_log(GK_LOG_DEBUG, "setsockopt buffer %d: %d", size, errno);
}

int gk_net_udp_socket(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = common_opts(fd, sa);
	if (rc == 0) {
		raise_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF, UDP_RCVBUF);
		raise_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF, UDP_SNDBUF);
		if (bind(fd, sa, len) != 0)
			rc = -errno;
	}
	if (rc != 0) {
		close(fd);
		return rc;
	}
	return fd;
}

int gk_net_probe(const struct sockaddr *sa, socklen_t len, int type)
{
	int fd = socket(sa->sa_family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int one = 1, rc = 0;
	if (type == SOCK_STREAM && setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0)
		rc = -errno;
	if (rc == 0 && sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0)
		rc = -errno;
	if (rc == 0 && bind(fd, sa, len) != 0)
		rc = -errno;
	close(fd);
	return rc;
}

int gk_net_tcp_socket(const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = common_opts(fd, sa);
	if (rc == 0 && bind(fd, sa, len) != 0)
		rc = -errno;
	if (rc != 0) {
		close(fd);
		return rc;
	}
	return fd;
}
