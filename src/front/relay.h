/* SPDX-License-Identifier: MIT */
/* src/front/relay.h -- the wire side of forwarding: the backend query and the answer check.
 *
 * Pure, allocation-free functions the front end calls on its worker loop around a
 * backend exchange (RFC 5452 on the backend side):
 *   - gk_front_relay_query writes the query sent to a backend: the client's question bytes as
 *     they came (0x20 case kept), a fresh random ID, RD as the client set it, CD and DO
 *     kept, and our own OPT advertising our limit (the client's EDNS buffer is honoured
 *     when the answer is relayed, not passed on);
 *   - gk_front_relay_match checks a backend's answer against the outstanding query: QR set, the
 *     same ID, exactly one question with the same bytes (case included: a spoofer must
 *     guess the 0x20 pattern too), a well-formed header; anything else is dropped and
 *     counted by the caller;
 *   - gk_front_relay_answer turns a matched answer into the client's: the client's ID, and when
 *     it is larger than the client may receive over UDP (512 octets without EDNS, else
 *     min(client buffer, our limit)) the header and question alone with TC set, so the
 *     client retries over TCP.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GK_RELAY_OPT_LEN 11u
/* Largest EDNS Client Subnet option gk_front_relay_add_ecs appends (code, length, family, two
 * prefix lengths, 16 address octets). */
#define GK_RELAY_ECS_MAX 24u

/* What the front end keeps of an outstanding query. */
typedef struct gk_relay_q {
	uint16_t id;           /* the ID sent to the backend (random) */
	uint16_t client_id;    /* the client's */
	uint16_t qend;         /* header and question: q[12..qend) is the question */
	uint16_t client_limit; /* largest UDP answer the client may get (512, or its EDNS buffer
	                          capped by our limit); 65535 over TCP */
} gk_relay_q_t;

/* Write the backend query for client query q[0..qend) (qend: the end of its one question,
 * gk_query_t.qend) into out (at least qend + GK_RELAY_OPT_LEN octets): ID id, flags from
 * the client (opcode QUERY, RD, CD; AD cleared), one question, our OPT with udp_max and the
 * client's DO bit. Returns the length. */
size_t gk_front_relay_query(const uint8_t *q, size_t qend, uint16_t id, bool do_bit,
                            uint16_t udp_max, uint8_t *out);

/* true when a[0..len) answers the outstanding query whose bytes were sent[0..r->qend):
 * a response to our ID and our very question. Pure. */
bool gk_front_relay_match(const gk_relay_q_t *r, const uint8_t *sent, const uint8_t *a, size_t len);

/* Turn the matched answer a[0..len) into the client's, in place: the client's ID; when len
 * exceeds r->client_limit, cut to header and question with TC set and the counts zeroed.
 * Returns the length to send. */
size_t gk_front_relay_answer(const gk_relay_q_t *r, uint8_t *a, size_t len);

/* The OPT of answer a[0..len) (header and question: a[0..qend)) made the client's, in
 * place: removed (ARCOUNT decremented) for a client without EDNS, else carrying udp_max as
 * our buffer size and without an EDNS Client Subnet option (the backend's answers the one
 * we sent, RFC 7871 7.2.2); its other options (an Extended DNS Error) kept. Every record is walked
 * (names skipped, never followed). Returns the new length, or 0 when the answer cannot be walked
 * (the caller sends SERVFAIL). Pure. */
size_t gk_front_relay_fix_opt(uint8_t *a, size_t len, size_t qend, bool edns, uint16_t udp_max);

struct sockaddr;

/* Append an EDNS Client Subnet option (RFC 7871) for client (AF_INET or AF_INET6; others:
 * nothing appended) to the query q[0..len) that gk_front_relay_query wrote (its OPT last): the
 * address cut to v4 / v6 bits, SCOPE 0. q has room for GK_RELAY_ECS_MAX more octets. key
 * (GK_FCACHE_ECS_MAX octets) gets the subnet as the packet cache keys it (family, prefix
 * length, address octets cut), *key_len its length (0: nothing appended). Returns the new
 * length. Pure. */
size_t gk_front_relay_add_ecs(uint8_t *q, size_t len, const struct sockaddr *client, unsigned v4,
                              unsigned v6, uint8_t *key, size_t *key_len);

/* The SCOPE PREFIX-LENGTH of the ECS option in answer a[0..len) (question ends at qend),
 * or -1 when it has none (or cannot be walked). Pure. */
int gk_front_relay_ecs_scope(const uint8_t *a, size_t len, size_t qend);
