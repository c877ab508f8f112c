/* SPDX-License-Identifier: MIT */
/* src/net/tcp_frame.c -- length-prefix reassembly, kept pure so it is unit tested alone. */
#include "net/tcp_frame.h"

gk_tcp_frame_t gk_net_tcp_frame_next(const uint8_t *buf, size_t len, size_t max_msg,
                                     const uint8_t **msg, size_t *msglen, size_t *used)
{
	if (len < 2)
		return GK_TCP_FRAME_MORE;
	size_t n = ((size_t)buf[0] << 8) | buf[1];
	if (n > max_msg)
		return GK_TCP_FRAME_TOO_BIG;
	if (len - 2 < n)
		return GK_TCP_FRAME_MORE;
	*msg = buf + 2;
	*msglen = n;
	*used = 2 + n;
	return GK_TCP_FRAME_MSG;
}

void gk_net_tcp_frame_prefix(size_t len, uint8_t out[2])
{
	out[0] = (uint8_t)(len >> 8);
	out[1] = (uint8_t)len;
}
