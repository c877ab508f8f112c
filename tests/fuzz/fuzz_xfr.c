/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_xfr.c -- libFuzzer target for the transfer answer checker and TSIG.
 *
 * Input: one control octet (bit 0: IXFR, else AXFR; bit 1: a TSIG key is set; bit 2: the
 * query ID is taken from the first message so that the checks past the header run), then
 * messages in TCP framing (2-octet length, then the message). Every message goes through
 * gk_xfr_tsig_find and the stream checker until it stops; a completed IXFR is applied to a small
 * zone; a completed AXFR is printed and parsed back. Nothing may crash, leak or read out of
 * bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/internal.h"

static const char cur[] = "f.cn.\t300\tIN\tSOA\tns1.f.cn. h.f.cn. 4 3600 900 604800 300\n"
                          "f.cn.\t300\tIN\tNS\tns1.f.cn.\nns1.f.cn.\t300\tIN\tA\t192.0.2.1\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	gk_tsig_key_t key;
	if (gk_xfr_tsig_key_init(&key, "k.", "hmac-sha256", "c2VjcmV0") != 0)
		abort();
	gk_tsig_ctx_t *tc = NULL;
	if ((ctl & 2) && gk_xfr_tsig_ctx_new(&key, &tc) != 0)
		return 0;
	if (tc) {
		/* a signed request first, so the answer is checked as its answer */
		uint8_t q[256] = {0, 0, 0,   0, 0,   1,   0, 0, 0,   0, 0,
		                  0, 1, 'f', 2, 'c', 'n', 0, 0, 252, 0, 1};
		size_t ql = 22;
		if (gk_xfr_tsig_sign(tc, q, &ql, sizeof q, 1000, 0) != 0)
			abort();
	}
	uint16_t id = 0;
	if ((ctl & 4) && size >= 4)
		id = (uint16_t)(data[2] << 8 | data[3]);
	gk_xfr_stream_t s;
	gk_xfr_limits_t lim = {.max_bytes = 1 << 20, .max_rrs = 10000};
	if (gk_xfr_stream_init(&s, "f.cn", (ctl & 1) ? GK_XFR_IXFR : GK_XFR_AXFR, 4, id, &lim,
	                       tc) != 0) {
		gk_xfr_tsig_ctx_free(tc);
		return 0;
	}
	gk_xfr_outcome_t o = GK_XFR_MORE;
	for (size_t off = 0; off + 2 <= size && o == GK_XFR_MORE;) {
		size_t l = (size_t)data[off] << 8 | data[off + 1];
		off += 2;
		if (l > size - off)
			l = size - off;
		gk_tsig_rr_t rr;
		(void)gk_xfr_tsig_find(data + off, l, &rr);
		o = gk_xfr_stream_feed(&s, data + off, l, 1000);
		off += l;
	}
	if (o == GK_XFR_DONE) {
		char err[256];
		ldns_rr_list *z = NULL;
		if (s.incremental) {
			if (gk_xfr_zone_parse(cur, sizeof(cur) - 1, &z, err, sizeof err) != 0)
				abort();
			(void)gk_xfr_apply(z, &s, err, sizeof err);
			ldns_rr_list_deep_free(z);
		} else {
			char *t = NULL;
			size_t tl = 0;
			if (gk_xfr_zone_text(s.zone, "fuzz", &t, &tl) == 0) {
				if (gk_xfr_zone_parse(t, tl, &z, err, sizeof err) == 0)
					ldns_rr_list_deep_free(z);
				free(t);
			}
		}
	}
	gk_xfr_stream_free(&s);
	gk_xfr_tsig_ctx_free(tc);
	return 0;
}
