/* SPDX-License-Identifier: MIT */
/* src/pkt/ede.h -- the Extended DNS Error option (RFC 8914) as the server writes it.
 *
 * One writer for every EDE the server sends: the packet path's refusals (process.c, with
 * the policy's code and text) and the front end's own errors (front/relay.h
 * gk_front_relay_error: no backend, timeouts, a full table, a malformed backend answer, an
 * invalid client subnet). The caller owns the OPT record around it and its RDLENGTH. Pure;
 * any thread.
 */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define GK_PKT_EDE_OPTION 15u /* OPTION-CODE */
/* Octets of an EDE option with text_len octets of EXTRA-TEXT (OPTION-CODE, OPTION-LENGTH,
 * INFO-CODE, text). */
#define GK_PKT_EDE_LEN(text_len) (6u + (size_t)(text_len))

/* Write an EDE option at p (GK_PKT_EDE_LEN(text_len) octets of room): OPTION-CODE 15,
 * OPTION-LENGTH 2 + text_len, INFO-CODE code, EXTRA-TEXT text[0..text_len) (UTF-8, not
 * NUL-terminated on the wire; text may be NULL when text_len is 0). text_len must leave
 * OPTION-LENGTH within 16 bits (callers keep it under 256). Returns the octets written,
 * GK_PKT_EDE_LEN(text_len). */
size_t gk_pkt_ede_put(uint8_t *p, uint16_t code, const char *text, size_t text_len);
