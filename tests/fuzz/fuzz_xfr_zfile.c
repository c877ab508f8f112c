/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_xfr_zfile.c -- libFuzzer target for the secondary's persisted zone files
 * (src/xfr/zfile.h) and the zone built from their records (gk_zone_spec_t.wire).
 *
 * Input: one control octet, then a persisted file. Bit 0 of the control octet: the file's
 * CRC is made right first, so the checks past the checksum (sizes, name, the SOA against the
 * header) and the record reader are reached; without it the file is taken as it is. A file
 * that passes is read back as records (gk_xfr_wire_parse) and built into a zone
 * (gk_zone_ver_build from wire). Nothing may crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xfr/internal.h"
#include "xfr/zfile.h"
#include "zone/zone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t ctl = data[0];
	data++;
	size--;
	uint8_t *f = malloc(size ? size : 1);
	if (!f)
		return 0;
	if (size)
		memcpy(f, data, size);
	if ((ctl & 1) && size >= GK_XFR_ZFILE_HEADER) {
		uint32_t c = gk_xfr_crc32c(0, f, 56);
		c = gk_xfr_crc32c(c, "\0\0\0\0", 4);
		c = gk_xfr_crc32c(c, f + 60, size - 60);
		f[56] = (uint8_t)(c >> 24);
		f[57] = (uint8_t)(c >> 16);
		f[58] = (uint8_t)(c >> 8);
		f[59] = (uint8_t)c;
	}
	gk_xfr_zfile_t zf;
	char err[512];
	if (gk_xfr_zfile_decode(f, size, (ctl & 2) ? NULL : "f.cn", &zf, err, sizeof err) == 0) {
		if (GK_XFR_ZFILE_HEADER + zf.name_len + zf.primary_len + zf.rrs_len != size ||
		    (size_t)zf.count * 11 > zf.rrs_len)
			abort(); /* the sizes were checked against the file's */
		ldns_rr_list *l = NULL;
		if (gk_xfr_wire_parse(zf.rrs, zf.rrs_len, zf.count, &l, err, sizeof err) == 0)
			ldns_rr_list_deep_free(l);
		gk_zone_spec_t spec = {.name = "f.cn",
		                       .wire = zf.rrs,
		                       .wire_len = zf.rrs_len,
		                       .wire_count = zf.count,
		                       .secondary = true};
		gk_zver_t *v = NULL;
		if (gk_zone_ver_build(&spec, NULL, &v, err, sizeof err) == 0)
			gk_zone_ver_free(v);
	}
	free(f);
	return 0;
}
