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
 *     min(client buffer, our limit)) the header, question and OPT with TC set, so the
 *     client retries over TCP;
 *   - gk_front_relay_error writes the relay's own answers (SERVFAIL, FORMERR), with an
 *     Extended DNS Error naming the cause for a client with EDNS.
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
 * exceeds r->client_limit, additional records left out from the end (RFC 2181 9: no TC) when
 * that makes it fit -- not in a referral (its glue), and only when the OPT record is the
 * last record or there is none; else cut with TC set to the header, the question and the answer's
 * OPT record (gk_front_relay_fix_opt's: our buffer size, the client's ECS echo and any
 * other option kept; RFC 6891 7, RFC 7871 7.2.2) moved up behind the question with a root
 * owner, counts 0/0/1; or to the header and question alone, counts 0/0/0, when the answer
 * has no OPT (a client without EDNS: fix_opt removed it) or that would not fit in
 * r->client_limit. Records are walked (names skipped, never followed). Returns the length
 * to send. Pure. */
size_t gk_front_relay_answer(const gk_relay_q_t *r, uint8_t *a, size_t len);

/* The OPT of answer a[0..len) (header and question: a[0..qend)) made the client's, in
 * place: removed (ARCOUNT decremented) for a client without EDNS, else carrying udp_max as
 * our buffer size and without an EDNS Client Subnet option (the backend's answers the one
 * we sent, RFC 7871 7.2.2); its other options (an Extended DNS Error) kept. Every record is walked
 * (names skipped, never followed). *has_opt: whether the answer keeps an OPT. Returns the new
 * length, or 0 when the answer cannot be walked (the caller sends SERVFAIL). Pure. */
size_t gk_front_relay_fix_opt(uint8_t *a, size_t len, size_t qend, bool edns, uint16_t udp_max,
                              bool *has_opt);

struct sockaddr;

/* Append an EDNS Client Subnet option (RFC 7871) for client (AF_INET or AF_INET6; others:
 * nothing appended) to the query q[0..len) that gk_front_relay_query wrote (its OPT last): the
 * address cut to v4 / v6 bits, SCOPE 0. q has room for GK_RELAY_ECS_MAX more octets. key
 * (GK_FCACHE_ECS_MAX octets) gets the subnet as the packet cache keys it (family, prefix
 * length, address octets cut), *key_len its length (0: nothing appended). Returns the new
 * length. Pure. */
size_t gk_front_relay_add_ecs(uint8_t *q, size_t len, const struct sockaddr *client, unsigned v4,
                              unsigned v6, uint8_t *key, size_t *key_len);

/* A client's own EDNS Client Subnet option (RFC 7871 6), as its query carried it. */
typedef struct gk_relay_ecs {
	uint8_t family;   /* 1: IPv4, 2: IPv6 */
	uint8_t source;   /* SOURCE PREFIX-LENGTH: 0..32 (IPv4), 0..128 (IPv6) */
	uint8_t alen;     /* ADDRESS octets: (source + 7) / 8 */
	uint8_t addr[16]; /* addr[0..alen), the bits beyond source 0 */
} gk_relay_ecs_t;

/* The ECS option of client query q[0..len) (its question ends at qend), read and checked
 * (RFC 7871 6, 7.1.1): FAMILY 1 or 2, SOURCE PREFIX-LENGTH within the address, exactly
 * (source + 7) / 8 ADDRESS octets, no bit set beyond the prefix, SCOPE PREFIX-LENGTH 0, one
 * ECS option at most. Returns 1 with *e (a valid option), 0 (none: no OPT, or no ECS in it;
 * *e untouched) or GK_ESYNTAX (an invalid option, or a query that cannot be walked: the
 * caller answers FORMERR). Records are walked (names skipped, never followed). Pure; the
 * fuzz target's entry. */
int gk_front_relay_client_ecs(const uint8_t *q, size_t len, size_t qend, gk_relay_ecs_t *e);

/* Append the client's subnet e (from gk_front_relay_client_ecs), its SOURCE PREFIX-LENGTH cut
 * to v4 / v6 bits (the address bits beyond zeroed; a prefix 0 stays 0: RFC 7871 7.1.2), as
 * an ECS option with SCOPE 0 to the query q[0..len) that gk_front_relay_query wrote (its OPT
 * last; room for GK_RELAY_ECS_MAX more octets). key and *key_len as gk_front_relay_add_ecs
 * (the subnet sent). Returns the new length. Pure. */
size_t gk_front_relay_put_ecs(uint8_t *q, size_t len, const gk_relay_ecs_t *e, unsigned v4,
                              unsigned v6, uint8_t *key, size_t *key_len);

/* Echo the client's option e in answer a[0..len) (question ends at qend; cap octets of room
 * in a) whose OPT carries no ECS (gk_front_relay_fix_opt took the backend's out): an ECS
 * option with e's FAMILY, SOURCE PREFIX-LENGTH and ADDRESS and SCOPE PREFIX-LENGTH scope
 * (RFC 7871 7.2.2) appended to the answer's OPT, or, when the answer has none, an OPT
 * (udp_max, the DO bit do_bit) holding it added as the last record. e NULL: no option, only
 * that OPT for an answer without one (an EDNS client's answer has one, RFC 6891 7, even when
 * the backend's had none). Returns the new length, or 0 when it does not fit in cap (or 65535)
 * or the answer cannot be walked. Pure. */
size_t gk_front_relay_echo_ecs(uint8_t *a, size_t len, size_t cap, size_t qend,
                               const gk_relay_ecs_t *e, uint8_t scope, uint16_t udp_max,
                               bool do_bit);

/* The SCOPE PREFIX-LENGTH of the ECS option in answer a[0..len) (question ends at qend),
 * or -1 when it has none (or cannot be walked). Pure. */
int gk_front_relay_ecs_scope(const uint8_t *a, size_t len, size_t qend);

/* Why the relay answers a query itself (docs/FRONTEND.md, "The relay's own answers"). */
typedef enum gk_relay_err {
	GK_RELAY_ERR_NO_BACKEND = 0, /* no backend of the pool up, or all at max_outstanding */
	GK_RELAY_ERR_TIMEOUT,        /* no answer after the tries (timeouts, dropped answers) */
	GK_RELAY_ERR_UNREACHABLE,    /* its backend port unreachable (ICMP), no other backend */
	GK_RELAY_ERR_TABLE_FULL,     /* the outstanding table was full */
	GK_RELAY_ERR_MALFORMED,      /* the backend's answer could not be relayed */
	GK_RELAY_ERR_ECS,            /* the client's ECS option is invalid (RFC 7871 7.1.1) */
	GK_RELAY_ERR_CONN,           /* its backend TCP connection failed (reset, closed) */
} gk_relay_err_t;
#define GK_RELAY_ERR_N 7
/* Room gk_front_relay_error needs behind the question: our OPT and the longest EDE. */
#define GK_RELAY_ERR_MAX (GK_RELAY_OPT_LEN + 6u + 40u)

/* The rcode the relay answers with for why: FORMERR for GK_RELAY_ERR_ECS, else SERVFAIL. */
uint8_t gk_front_relay_error_rcode(gk_relay_err_t why);

/* Write the relay's own answer for why to client query q[0..qend) (header and its one
 * question) into out (qend + GK_RELAY_ERR_MAX octets): the client's ID client_id, QR, RA,
 * opcode and RD as asked, rcode gk_front_relay_error_rcode(why), the question; for a
 * client with EDNS (edns) our OPT (udp_max, the client's DO bit do_bit) holding an
 * Extended DNS Error (pkt/ede.h; RFC 8914): 22 No Reachable Authority for
 * GK_RELAY_ERR_NO_BACKEND and _TIMEOUT, 23 Network Error for _UNREACHABLE and _CONN, 0 Other Error
 * for the rest, each with a short EXTRA-TEXT. Without EDNS: no OPT. Returns the length.
 * Pure. */
size_t gk_front_relay_error(const uint8_t *q, size_t qend, uint16_t client_id, gk_relay_err_t why,
                            bool edns, bool do_bit, uint16_t udp_max, uint8_t *out);
