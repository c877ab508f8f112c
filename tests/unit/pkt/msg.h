/* SPDX-License-Identifier: MIT */
/* tests/unit/pkt/msg.h -- hand-built DNS queries and a strict response decoder for tests.
 *
 * The encoder writes one question (name given in presentation form, case kept as given,
 * so 0x20 mixed case survives) and an optional OPT record. The decoder checks a response
 * the way a careful resolver would: every read is bounded, every compression pointer must
 * point strictly backwards at a label, names stay within 255 octets, the section counts
 * match the records present, and nothing trails the last record. It is independent of the
 * engine's code on purpose. Test-only; single-threaded.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MSG_MAX_RRS 1024

/* Query flags for msg_query (second header octet pair, host order). */
#define MSG_RD 0x0100
#define MSG_CD 0x0010

typedef struct msg_q {
	uint16_t id;
	const char *name; /* presentation form; "." is the root */
	uint16_t type;
	uint16_t cls;   /* 0 means IN */
	uint16_t flags; /* full 16-bit flags word (opcode, RD, ...) */
	int edns;       /* -1: no OPT; otherwise the advertised UDP size */
	uint8_t edns_version;
	bool do_bit;
} msg_q_t;

typedef struct msg_rr {
	char owner[1024]; /* presentation form, case as on the wire, trailing dot */
	uint16_t type, cls;
	uint32_t ttl;
	uint16_t rdlen;
	size_t rdoff;      /* offset of the rdata in the message */
	char rdname[1024]; /* first embedded name for NS/CNAME/DNAME/PTR/MX/SRV/SOA, else "" */
	int section;       /* 0 answer, 1 authority, 2 additional */
} msg_rr_t;

typedef struct msg {
	uint16_t id, flags, qd, an, ns, ar;
	uint8_t rcode; /* header rcode (4 bits) */
	char qname[1024];
	uint16_t qtype, qclass;
	size_t qend;
	unsigned nrr;
	msg_rr_t rr[MSG_MAX_RRS];
	bool opt;
	uint16_t opt_size;
	uint8_t opt_ext_rcode, opt_version;
	bool opt_do;
	unsigned ptrs; /* compression pointers seen */
} msg_t;

/* Encode q into buf (at least 512 bytes). Returns the length. */
size_t msg_query(uint8_t *buf, const msg_q_t *q);

/* Decode m[0..len) into out. Returns NULL when well-formed, else a static description of
 * the first defect (for assertion messages). */
const char *msg_parse(const uint8_t *m, size_t len, msg_t *out);

/* Wire form of a presentation name into out (lowercase kept as given); returns length or 0. */
size_t msg_name(uint8_t *out, const char *name);
