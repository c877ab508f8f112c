/* SPDX-License-Identifier: MIT */
/* src/common/proxy.h -- the PROXY protocol version 2 header (HAProxy's proxy-protocol.txt 2.2).
 *
 * A load balancer in front of gatekeeperd (dnsdist, HAProxy, a cloud NLB) prepends to each
 * UDP datagram, and sends first on each TCP connection, a binary header naming the client it
 * relays: 12 octets of signature, version 2 and a command (LOCAL: the balancer's own health
 * check, the connection's addresses stand; PROXY: relayed), the address family and
 * transport, a 16-bit length, the source and destination addresses and ports, then TLVs
 * (skipped). Only headers from configured balancer addresses are honoured (net.h
 * gk_net_view_t.proxy), so the addresses they carry cannot be forged by anyone else; rate
 * limiting, discovery, metrics and dnstap then see the real client. Pure and bounded: the
 * parser reads nothing beyond len. Any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define GK_PROXY_SIG_LEN 12u
#define GK_PROXY_HDR_MIN 16u
/* Largest header accepted: the fixed part, two IPv6 addresses with ports, and TLVs (e.g.
 * AWS's VPC endpoint id, an SSL block) up to this total. Longer ones are malformed here. */
#define GK_PROXY_HDR_MAX 1024u

typedef enum gk_proxy_cmd { GK_PROXY_LOCAL = 0, GK_PROXY_PROXY = 1 } gk_proxy_cmd_t;

typedef struct gk_proxy {
	gk_proxy_cmd_t cmd;
	bool has_addr; /* PROXY over TCP4/UDP4/TCP6/UDP6: src and dst filled; else not */
	bool dgram;    /* the transport given was DGRAM (UDP) */
	struct sockaddr_storage src, dst;
} gk_proxy_t;

/* Whether buf[0..len) starts with the signature (or with as much of it as len holds). */
bool gk_proxy_maybe(const uint8_t *buf, size_t len);

/* Parse the header at the start of buf[0..len). Returns its length (> 0) with *out filled,
 * 0 when len does not hold the whole header yet (a TCP stream: read more; never more than
 * GK_PROXY_HDR_MAX; len 0 included), or -1 when it is malformed: no signature, a version other than
 * 2, an unknown command, family or transport, a length too short for the family's addresses, or
 * longer than GK_PROXY_HDR_MAX. UNSPEC and UNIX families are accepted without addresses
 * (has_addr false), as the specification asks of a receiver; so is LOCAL with any family and
 * length (the block is discarded). */
int gk_proxy_parse(const uint8_t *buf, size_t len, gk_proxy_t *out);

/* Largest header gk_proxy_write produces: the fixed part and two IPv6 addresses with ports. */
#define GK_PROXY_WRITE_MAX 52u

/* Write a PROXY v2 header naming src as the client and dst as the address it spoke to, for
 * a datagram (dgram) or a stream, into out[0..cap): command PROXY, family INET or INET6 after
 * src, no TLVs (28 octets for IPv4, 52 for IPv6). A dst of another family than src, or NULL,
 * is sent as the unspecified address of src's family with port 0. A src that is neither INET
 * nor INET6 (or NULL) gives a LOCAL header with family UNSPEC (16 octets): the receiver keeps
 * the connection's own addresses. What gk_proxy_parse reads back. Returns the length, or -1
 * when cap is smaller than it. Pure; any thread. */
int gk_proxy_write(uint8_t *out, size_t cap, const struct sockaddr *src, const struct sockaddr *dst,
                   bool dgram);
