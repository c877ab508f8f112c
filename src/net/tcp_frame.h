/* SPDX-License-Identifier: MIT */
/* src/net/tcp_frame.h -- DNS-over-TCP framing (RFC 1035 4.2.2, RFC 7766): pure reassembly.
 *
 * A TCP stream carries messages, each preceded by a 2-byte big-endian length. A read may end
 * inside the prefix or the message, or hold several messages. gk_net_tcp_frame_next() looks at
 * the bytes buffered so far and says whether a whole message is there. No I/O, no state:
 * the caller keeps the buffer and drops consumed bytes.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

typedef enum gk_tcp_frame {
	GK_TCP_FRAME_MSG = 0, /* msg, msglen: a whole message; used: bytes consumed (2 + msglen) */
	GK_TCP_FRAME_MORE,    /* incomplete: keep the bytes and read more */
	GK_TCP_FRAME_TOO_BIG, /* announced length exceeds max_msg: close the connection */
} gk_tcp_frame_t;

/* Examine buf[0..len). max_msg: largest message accepted. Pure; any thread. */
gk_tcp_frame_t gk_net_tcp_frame_next(const uint8_t *buf, size_t len, size_t max_msg,
                                     const uint8_t **msg, size_t *msglen, size_t *used);

/* Write the 2-byte length prefix for a message of len bytes (len <= 65535) into out. */
void gk_net_tcp_frame_prefix(size_t len, uint8_t out[2]);
