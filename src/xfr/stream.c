/* SPDX-License-Identifier: MIT */
/* src/xfr/stream.c -- check every message of a SOA, AXFR (RFC 5936) or IXFR (RFC 1995)
 * answer, in order, and collect its records.
 *
 * Each message must carry the query's ID, QR, opcode QUERY, no TC and rcode NOERROR; the
 * first echoes the question, later ones echo it or carry none. With a TSIG key every
 * message is verified before ldns parses it (the MAC chain of RFC 8945 section 5.3.1), and
 * the last one must be signed. Every answer record must be class IN and at or below the
 * apex; an SOA must be the apex's. The records then follow the framing: AXFR is SOA, data,
 * the same SOA; IXFR is the new SOA, then either the zone in full (AXFR form) or sequences
 * of (old SOA, deletions, new SOA, additions), then the new SOA again. Anything after the
 * closing SOA, a size or record count over the limits, or an SOA out of place ends the
 * stream with an error naming it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/internal.h"

enum {
	S_FIRST,  /* expecting the first SOA */
	S_SECOND, /* IXFR: after the first SOA (full zone or differences?) */
	S_AXFR,   /* collecting a full zone */
	S_DEL,    /* IXFR deletions of the current sequence */
	S_ADD,    /* IXFR additions of the current sequence */
	S_END,    /* the closing SOA was seen */
};

uint32_t gk_xfr_soa_serial(const ldns_rr *soa)
{
	ldns_rdf *r = ldns_rr_rdf(soa, 2);
	return r ? ldns_rdf2native_int32(r) : 0;
}

bool gk_xfr_serial_gt(uint32_t a, uint32_t b)
{
	return a != b && (uint32_t)(a - b) < 0x80000000u;
}

int gk_xfr_stream_init(gk_xfr_stream_t *s, const char *apex, gk_xfr_kind_t kind,
                       uint32_t have_serial, uint16_t id, const gk_xfr_limits_t *lim,
                       gk_tsig_ctx_t *tsig)
{
	memset(s, 0, sizeof(*s));
	if (ldns_str2rdf_dname(&s->apex, apex) != LDNS_STATUS_OK || !s->apex)
		return GK_EINVAL;
	ldns_dname2canonical(s->apex);
	s->kind = kind;
	s->have_serial = have_serial;
	s->id = id;
	s->lim = *lim;
	s->tsig = tsig;
	s->zone = ldns_rr_list_new();
	if (!s->zone) {
		gk_xfr_stream_free(s);
		return GK_ENOMEM;
	}
	return 0;
}

void gk_xfr_stream_free(gk_xfr_stream_t *s)
{
	ldns_rdf_deep_free(s->apex);
	ldns_rr_free(s->soa);
	ldns_rr_list_deep_free(s->zone);
	for (size_t i = 0; i < s->ndiff; i++) {
		ldns_rr_free(s->diff[i].soa_from);
		ldns_rr_free(s->diff[i].soa_to);
		ldns_rr_list_deep_free(s->diff[i].del);
		ldns_rr_list_deep_free(s->diff[i].add);
	}
	free(s->diff);
	memset(s, 0, sizeof(*s));
}

static gk_xfr_outcome_t fail(gk_xfr_stream_t *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static gk_xfr_outcome_t fail(gk_xfr_stream_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
	return GK_XFR_ERROR;
}

static int new_diff(gk_xfr_stream_t *s, ldns_rr *from)
{
	if (s->ndiff == s->diffcap) {
		size_t n = s->diffcap ? s->diffcap * 2 : 4;
		gk_xfr_diff_t *d = realloc(s->diff, n * sizeof(*d));
		if (!d)
			return GK_ENOMEM;
		s->diff = d;
		s->diffcap = n;
	}
	gk_xfr_diff_t *d = &s->diff[s->ndiff];
	memset(d, 0, sizeof(*d));
	d->del = ldns_rr_list_new();
	d->add = ldns_rr_list_new();
	if (!d->del || !d->add) {
		ldns_rr_list_free(d->del);
		ldns_rr_list_free(d->add);
		return GK_ENOMEM;
	}
	d->soa_from = from;
	s->ndiff++;
	return 0;
}

/* Take one answer record (ownership passes to the stream, also on error). */
static gk_xfr_outcome_t take(gk_xfr_stream_t *s, ldns_rr *rr)
{
	bool soa = ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA;
	uint32_t serial = soa ? gk_xfr_soa_serial(rr) : 0;
	switch (s->state) {
	case S_FIRST:
		if (!soa) {
			ldns_rr_free(rr);
			return fail(s, "answer does not start with the zone's SOA");
		}
		s->soa = rr;
		s->state = s->kind == GK_XFR_IXFR   ? S_SECOND
		           : s->kind == GK_XFR_AXFR ? S_AXFR
		                                    : S_END;
		if (s->kind == GK_XFR_AXFR && !ldns_rr_list_push_rr(s->zone, ldns_rr_clone(rr)))
			return fail(s, "out of memory");
		return GK_XFR_MORE;
	case S_SECOND:
		if (soa && serial == gk_xfr_soa_serial(s->soa) && serial != s->have_serial) {
			/* an AXFR-form answer of a zone holding nothing but its SOA */
			ldns_rr_free(rr);
			if (!ldns_rr_list_push_rr(s->zone, ldns_rr_clone(s->soa)))
				return fail(s, "out of memory");
			s->state = S_END;
			return GK_XFR_MORE;
		}
		if (!soa) {
			s->state = S_AXFR;
			if (!ldns_rr_list_push_rr(s->zone, ldns_rr_clone(s->soa)))
				return fail(s, "out of memory");
			return take(s, rr);
		}
		if (serial != s->have_serial) {
			ldns_rr_free(rr);
			return fail(s, "IXFR differences start at serial %u, we hold %u", serial,
			            s->have_serial);
		}
		s->incremental = true;
		if (new_diff(s, rr) != 0) {
			ldns_rr_free(rr);
			return fail(s, "out of memory");
		}
		s->state = S_DEL;
		return GK_XFR_MORE;
	case S_AXFR:
		if (soa) {
			uint32_t first = gk_xfr_soa_serial(s->soa);
			ldns_rr_free(rr);
			if (serial != first)
				return fail(s, "SOA serial %u inside a transfer of serial %u",
				            serial, first);
			s->state = S_END;
			return GK_XFR_MORE;
		}
		if (!ldns_rr_list_push_rr(s->zone, rr)) {
			ldns_rr_free(rr);
			return fail(s, "out of memory");
		}
		return GK_XFR_MORE;
	case S_DEL:
		if (soa) {
			s->diff[s->ndiff - 1].soa_to = rr;
			s->state = S_ADD;
			return GK_XFR_MORE;
		}
		if (!ldns_rr_list_push_rr(s->diff[s->ndiff - 1].del, rr)) {
			ldns_rr_free(rr);
			return fail(s, "out of memory");
		}
		return GK_XFR_MORE;
	case S_ADD:
		if (soa) {
			if (serial == gk_xfr_soa_serial(s->soa)) {
				ldns_rr_free(rr);
				if (serial != gk_xfr_soa_serial(s->diff[s->ndiff - 1].soa_to))
					return fail(s, "IXFR ends at serial %u before reaching it",
					            serial);
				s->state = S_END;
				return GK_XFR_MORE;
			}
			if (serial != gk_xfr_soa_serial(s->diff[s->ndiff - 1].soa_to)) {
				ldns_rr_free(rr);
				return fail(
				    s, "IXFR sequence starts at serial %u after one ending at %u",
				    serial, gk_xfr_soa_serial(s->diff[s->ndiff - 1].soa_to));
			}
			if (new_diff(s, rr) != 0) {
				ldns_rr_free(rr);
				return fail(s, "out of memory");
			}
			s->state = S_DEL;
			return GK_XFR_MORE;
		}
		if (!ldns_rr_list_push_rr(s->diff[s->ndiff - 1].add, rr)) {
			ldns_rr_free(rr);
			return fail(s, "out of memory");
		}
		return GK_XFR_MORE;
	default:
		ldns_rr_free(rr);
		return fail(s, "records after the closing SOA");
	}
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Header and question checks on the raw message (before ldns sees it). */
static gk_xfr_outcome_t check_header(gk_xfr_stream_t *s, const uint8_t *msg, size_t len)
{
	if (len < 12)
		return fail(s, "message %u: %zu octets, shorter than a header", s->msgs, len);
	if (rd16(msg) != s->id)
		return fail(s, "message %u: ID %u, the query's is %u", s->msgs, rd16(msg), s->id);
	if (!(msg[2] & 0x80) || ((msg[2] >> 3) & 0x0f) != 0)
		return fail(s, "message %u: not a response to a query", s->msgs);
	if (msg[2] & 0x02)
		return fail(s, "message %u: truncated (TC)", s->msgs);
	unsigned rcode = msg[3] & 0x0f;
	if (rcode != 0) {
		snprintf(s->err, sizeof(s->err), "primary answered %s",
		         ldns_lookup_by_id(ldns_rcodes, (int)rcode)
		             ? ldns_lookup_by_id(ldns_rcodes, (int)rcode)->name
		             : "an unknown rcode");
		if (s->kind == GK_XFR_IXFR && s->msgs == 0 &&
		    (rcode == LDNS_RCODE_NOTIMPL || rcode == LDNS_RCODE_REFUSED ||
		     rcode == LDNS_RCODE_FORMERR))
			return GK_XFR_FALLBACK;
		return GK_XFR_ERROR;
	}
	unsigned qd = rd16(msg + 4);
	if (qd > 1 || (qd == 0 && s->msgs == 0))
		return fail(s, "message %u: %u questions", s->msgs, qd);
	return GK_XFR_MORE;
}

static bool same_question(gk_xfr_stream_t *s, const ldns_pkt *p)
{
	ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	ldns_rr_type want = s->kind == GK_XFR_SOA    ? LDNS_RR_TYPE_SOA
	                    : s->kind == GK_XFR_AXFR ? LDNS_RR_TYPE_AXFR
	                                             : LDNS_RR_TYPE_IXFR;
	return q && ldns_rr_get_type(q) == want && ldns_rr_get_class(q) == LDNS_RR_CLASS_IN &&
	       ldns_dname_compare(ldns_rr_owner(q), s->apex) == 0;
}

gk_xfr_outcome_t gk_xfr_stream_feed(gk_xfr_stream_t *s, const uint8_t *msg, size_t len,
                                    uint64_t now)
{
	gk_xfr_outcome_t o = check_header(s, msg, len);
	if (o != GK_XFR_MORE)
		return o;
	s->bytes += len;
	if (s->bytes > s->lim.max_bytes)
		return fail(s, "transfer over %zu octets", s->lim.max_bytes);
	if (s->tsig) {
		uint16_t peer = 0;
		int rc = gk_xfr_tsig_verify(s->tsig, msg, len, now, &peer);
		if (rc != GK_TSIG_NOERROR)
			return fail(s, "message %u: TSIG %s%s", s->msgs, gk_xfr_tsig_strerror(rc),
			            peer ? " (from the primary)" : "");
	} else {
		gk_tsig_rr_t rr;
		int f = gk_xfr_tsig_find(msg, len, &rr);
		if (f != 0)
			return fail(s, "message %u: %s", s->msgs,
			            f < 0 ? "malformed" : "TSIG-signed, and we have no key");
	}
	ldns_pkt *p = NULL;
	if (ldns_wire2pkt(&p, msg, len) != LDNS_STATUS_OK)
		return fail(s, "message %u: malformed", s->msgs);
	if (ldns_pkt_qdcount(p) == 1 && !same_question(s, p)) {
		ldns_pkt_free(p);
		return fail(s, "message %u: question differs from the query's", s->msgs);
	}
	s->msgs++;
	ldns_rr_list *an = ldns_pkt_answer(p);
	size_t n = ldns_rr_list_rr_count(an);
	if (n == 0 && s->kind != GK_XFR_SOA) {
		ldns_pkt_free(p);
		return fail(s, "message %u: no records", s->msgs - 1);
	}
	o = GK_XFR_MORE;
	for (size_t i = 0; i < n && o == GK_XFR_MORE; i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (++s->rrs > s->lim.max_rrs) {
			o = fail(s, "transfer over %zu records", s->lim.max_rrs);
			break;
		}
		if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
			o = fail(s, "record of class %u", (unsigned)ldns_rr_get_class(rr));
			break;
		}
		ldns_rdf *owner = ldns_rr_owner(rr);
		ldns_dname2canonical(owner);
		bool apex = ldns_dname_compare(owner, s->apex) == 0;
		if (!apex && !ldns_dname_is_subdomain(owner, s->apex)) {
			char *t = ldns_rdf2str(owner);
			o = fail(s, "record out of the zone: %s", t ? t : "?");
			free(t);
			break;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && !apex) {
			o = fail(s, "SOA below the apex");
			break;
		}
		if (s->kind == GK_XFR_SOA && (i > 0 || ldns_rr_get_type(rr) != LDNS_RR_TYPE_SOA))
			continue;
		o = take(s, ldns_rr_clone(rr));
	}
	ldns_pkt_free(p);
	if (o != GK_XFR_MORE)
		return o;
	if (s->kind == GK_XFR_SOA && s->state != S_END)
		return fail(s, "SOA answer without the zone's SOA");
	if (s->state == S_SECOND && s->msgs == 1 &&
	    !gk_xfr_serial_gt(gk_xfr_soa_serial(s->soa), s->have_serial))
		return GK_XFR_UPTODATE;
	if (s->state != S_END)
		return GK_XFR_MORE;
	if (s->tsig && gk_xfr_tsig_ctx_pending(s->tsig))
		return fail(s, "last message not signed");
	return GK_XFR_DONE;
}
