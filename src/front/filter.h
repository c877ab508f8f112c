/* SPDX-License-Identifier: MIT */
/* src/front/filter.h -- the other names a backend's answer carries, checked as ours are.
 *
 * The decision (decide/decide.h) is about the query name. A backend's answer may also carry
 * data of other registrable domains: a CNAME or DNAME chain into another domain the same
 * backend serves, glue and other additional records, the SOA of a chain's last zone. Our own
 * answers never carry data of a refused registrable domain (zone/resolve.c: "nothing of it
 * goes out, the chain ends here"); relayed answers follow the same rule:
 *
 *   - gk_front_filter_regs walks an answer once and lists the registrable domains of its
 *     owner names other than the question's own (a name equal to the question, or a
 *     suffix of it at or below its registrable domain, shares it without asking the PSL).
 *     The relay keeps the list with a cached answer, so a hit checks a few names against
 *     the status table, never the PSL; most answers list none and cost one test.
 *   - when one of them is refused (gk_front_filter_refused), gk_front_filter_apply rewrites
 *     the answer without it, as zone/resolve.c assembles ours: in the answer section only the
 *     question's chain is kept (the question name, the CNAME targets reached through names
 *     that pass, and their DNAME owners), up to the first refused name; a chain that ends
 *     there -- at a refused CNAME target, or at a refused owner in the authority section (the
 *     last name's zone's SOA, a referral into a refused domain) -- keeps no authority or
 *     additional records and an NXDOMAIN becomes NOERROR; otherwise the additional
 *     records of refused owners are left out. Names are written uncompressed and in
 *     lowercase; the relay cuts what no longer fits the client with TC as before.
 *
 * The check is the status step alone (gk_decide_reg_refused: lists apply to the query name),
 * run when the question's decision asked for it (gk_decision_t.filter: the filing check
 * ran and the policy is not in monitor mode). A revocation of a CNAME target therefore
 * applies at the next query, cached answers included. Without a PSL nothing is filtered.
 *
 * Pure functions over caller buffers: no allocation; any thread.
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gk/errors.h"

struct gk_psl;

/* refused(ctx, reg, rlen, hash): true when registrable domain reg[0..rlen) (lowercase wire;
 * NULL, rlen 0: a name that is itself a public suffix) would be refused; hash is
 * gk_namehash(reg, rlen) (0 for NULL). */
typedef bool (*gk_ffilter_fn)(void *ctx, const uint8_t *reg, size_t rlen, uint64_t hash);

/* The question an answer is for. */
typedef struct gk_ffilter_q {
	const uint8_t *qname; /* lowercase uncompressed wire name */
	size_t qlen;
	int reg_off; /* its registrable domain at qname + reg_off; -1: it is a public suffix */
	const struct gk_psl *psl; /* NULL: nothing is listed or filtered */
} gk_ffilter_q_t;

/* Octets of registrable domain names an entry keeps (gk_ffilter_regs_t.names). */
#define GK_FFILTER_NAMES 96u

/* The registrable domains an answer carries besides the question's. */
typedef struct gk_ffilter_regs {
	uint8_t n; /* names in names[], back to back */
	bool none; /* a name that is itself a public suffix (judged by the no_registrable rule) */
	bool walk; /* more than names[] holds: only gk_front_filter_apply can tell */
	uint8_t used; /* octets of names[] */
	uint8_t names[GK_FFILTER_NAMES];
} gk_ffilter_regs_t;

/* List the registrable domains of the owner names in answer msg[0..len) (header and one
 * question first; OPT left aside) other than q's, each once, into *out. Returns 0, or
 * GK_ESYNTAX for a message that cannot be walked (*out then says walk). */
int gk_front_filter_regs(const gk_ffilter_q_t *q, const uint8_t *msg, size_t len,
                         gk_ffilter_regs_t *out);

/* True when a name of r is refused by fn, or r->walk (the answer has to be rewritten to
 * know). False at once for an empty list. */
bool gk_front_filter_refused(const gk_ffilter_regs_t *r, gk_ffilter_fn fn, void *ctx);

/* Answer msg[0..len) rewritten into out (cap octets) without the data of the registrable
 * domains fn refuses (rules above). Returns the new length, or 0 when msg cannot be walked
 * or the result does not fit cap. *removed (not NULL): the records left out. */
size_t gk_front_filter_apply(const gk_ffilter_q_t *q, const uint8_t *msg, size_t len,
                             gk_ffilter_fn fn, void *ctx, uint8_t *out, size_t cap,
                             unsigned *removed);
