/* SPDX-License-Identifier: MIT */
/* src/pkt/parse.h -- bounded parse of a query: header, question, EDNS.
 *
 * Hand-written and allocation-free. Never follows a compression pointer (a question name
 * has nothing before it to point at; other names are only skipped), so pointer loops and
 * forward pointers cannot hurt. Pure; any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "common/dname.h"
#include "common/namehash.h"

typedef enum gk_parse {
	GK_PARSE_OK = 0,
	GK_PARSE_DROP,    /* not worth an answer: shorter than a header, or QR set */
	GK_PARSE_FORMERR, /* malformed; q->qend is 0 when the question is unusable */
	GK_PARSE_NOTIMP,  /* opcode other than QUERY */
	GK_PARSE_BADVERS, /* EDNS version above 0 (RFC 6891 6.1.3) */
} gk_parse_t;

typedef struct gk_query {
	uint16_t id;
	uint8_t flags_hi, flags_lo; /* header octets 2 and 3 */
	uint16_t qtype, qclass;
	uint8_t qlen;   /* wire length of qname */
	uint8_t labels; /* labels of qname, root excluded */
	size_t qend;    /* end of the question in the query; 0 if none usable */
	bool edns, do_bit;
	uint16_t edns_size;
	uint8_t edns_version;
	/* lowercase, followed by GK_NAMEHASH_PAD zero octets (gk_namehash_pstates) */
	uint8_t qname[GK_DNAME_MAX + 1 + GK_NAMEHASH_PAD];
	uint8_t loff[GK_DNAME_LABELS_MAX]; /* offset of each label in qname */
	uint8_t lens_or;                   /* the bitwise or of the label lengths */
	/* qname's gk_namehash_states: not set by gk_pkt_parse_query; the packet path fills
	 * st[0..labels] once (gk_namehash_pstates) for every table the query looks in */
	uint64_t st[GK_DNAME_LABELS_MAX + 1];
} gk_query_t;

/* The gk_namehash of the lowercased question name of q[0..len) and the question's type,
 * without parsing the rest (for prefetching); false when q has no question of the form
 * gk_pkt_parse_query accepts. */
bool gk_pkt_parse_question_hash(const uint8_t *q, size_t len, uint64_t *hash, uint16_t *qtype);

/* The lowercased question name of q[0..len) into name (GK_DNAME_MAX + 1 octets), its label
 * offsets into loff (GK_DNAME_LABELS_MAX) and count into *labels, without parsing the
 * rest (for prefetching). Returns the name's length, 0 when q has no question of the form
 * gk_pkt_parse_query accepts. */
size_t gk_pkt_parse_question_name(const uint8_t *q, size_t len, uint8_t *name, uint8_t *loff,
                                  unsigned *labels);

/* Parse q[0..len) into out. */
gk_parse_t gk_pkt_parse_query(const uint8_t *q, size_t len, gk_query_t *out);
