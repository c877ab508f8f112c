/* SPDX-License-Identifier: MIT */
/* src/xfr/zfile.c -- persisted zone files: encode and check (zfile.h). */
#include "xfr/zfile.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const uint8_t magic[8] = {0x89, 'G', 'K', 'Z', 'O', 'N', 'E', '\n'};

static const uint32_t crctab[256] = {
    0x00000000u, 0xf26b8303u, 0xe13b70f7u, 0x1350f3f4u, 0xc79a971fu, 0x35f1141cu, 0x26a1e7e8u,
    0xd4ca64ebu, 0x8ad958cfu, 0x78b2dbccu, 0x6be22838u, 0x9989ab3bu, 0x4d43cfd0u, 0xbf284cd3u,
    0xac78bf27u, 0x5e133c24u, 0x105ec76fu, 0xe235446cu, 0xf165b798u, 0x030e349bu, 0xd7c45070u,
    0x25afd373u, 0x36ff2087u, 0xc494a384u, 0x9a879fa0u, 0x68ec1ca3u, 0x7bbcef57u, 0x89d76c54u,
    0x5d1d08bfu, 0xaf768bbcu, 0xbc267848u, 0x4e4dfb4bu, 0x20bd8edeu, 0xd2d60dddu, 0xc186fe29u,
    0x33ed7d2au, 0xe72719c1u, 0x154c9ac2u, 0x061c6936u, 0xf477ea35u, 0xaa64d611u, 0x580f5512u,
    0x4b5fa6e6u, 0xb93425e5u, 0x6dfe410eu, 0x9f95c20du, 0x8cc531f9u, 0x7eaeb2fau, 0x30e349b1u,
    0xc288cab2u, 0xd1d83946u, 0x23b3ba45u, 0xf779deaeu, 0x05125dadu, 0x1642ae59u, 0xe4292d5au,
    0xba3a117eu, 0x4851927du, 0x5b016189u, 0xa96ae28au, 0x7da08661u, 0x8fcb0562u, 0x9c9bf696u,
    0x6ef07595u, 0x417b1dbcu, 0xb3109ebfu, 0xa0406d4bu, 0x522bee48u, 0x86e18aa3u, 0x748a09a0u,
    0x67dafa54u, 0x95b17957u, 0xcba24573u, 0x39c9c670u, 0x2a993584u, 0xd8f2b687u, 0x0c38d26cu,
    0xfe53516fu, 0xed03a29bu, 0x1f682198u, 0x5125dad3u, 0xa34e59d0u, 0xb01eaa24u, 0x42752927u,
    0x96bf4dccu, 0x64d4cecfu, 0x77843d3bu, 0x85efbe38u, 0xdbfc821cu, 0x2997011fu, 0x3ac7f2ebu,
    0xc8ac71e8u, 0x1c661503u, 0xee0d9600u, 0xfd5d65f4u, 0x0f36e6f7u, 0x61c69362u, 0x93ad1061u,
    0x80fde395u, 0x72966096u, 0xa65c047du, 0x5437877eu, 0x4767748au, 0xb50cf789u, 0xeb1fcbadu,
    0x197448aeu, 0x0a24bb5au, 0xf84f3859u, 0x2c855cb2u, 0xdeeedfb1u, 0xcdbe2c45u, 0x3fd5af46u,
    0x7198540du, 0x83f3d70eu, 0x90a324fau, 0x62c8a7f9u, 0xb602c312u, 0x44694011u, 0x5739b3e5u,
    0xa55230e6u, 0xfb410cc2u, 0x092a8fc1u, 0x1a7a7c35u, 0xe811ff36u, 0x3cdb9bddu, 0xceb018deu,
    0xdde0eb2au, 0x2f8b6829u, 0x82f63b78u, 0x709db87bu, 0x63cd4b8fu, 0x91a6c88cu, 0x456cac67u,
    0xb7072f64u, 0xa457dc90u, 0x563c5f93u, 0x082f63b7u, 0xfa44e0b4u, 0xe9141340u, 0x1b7f9043u,
    0xcfb5f4a8u, 0x3dde77abu, 0x2e8e845fu, 0xdce5075cu, 0x92a8fc17u, 0x60c37f14u, 0x73938ce0u,
    0x81f80fe3u, 0x55326b08u, 0xa759e80bu, 0xb4091bffu, 0x466298fcu, 0x1871a4d8u, 0xea1a27dbu,
    0xf94ad42fu, 0x0b21572cu, 0xdfeb33c7u, 0x2d80b0c4u, 0x3ed04330u, 0xccbbc033u, 0xa24bb5a6u,
    0x502036a5u, 0x4370c551u, 0xb11b4652u, 0x65d122b9u, 0x97baa1bau, 0x84ea524eu, 0x7681d14du,
    0x2892ed69u, 0xdaf96e6au, 0xc9a99d9eu, 0x3bc21e9du, 0xef087a76u, 0x1d63f975u, 0x0e330a81u,
    0xfc588982u, 0xb21572c9u, 0x407ef1cau, 0x532e023eu, 0xa145813du, 0x758fe5d6u, 0x87e466d5u,
    0x94b49521u, 0x66df1622u, 0x38cc2a06u, 0xcaa7a905u, 0xd9f75af1u, 0x2b9cd9f2u, 0xff56bd19u,
    0x0d3d3e1au, 0x1e6dcdeeu, 0xec064eedu, 0xc38d26c4u, 0x31e6a5c7u, 0x22b65633u, 0xd0ddd530u,
    0x0417b1dbu, 0xf67c32d8u, 0xe52cc12cu, 0x1747422fu, 0x49547e0bu, 0xbb3ffd08u, 0xa86f0efcu,
    0x5a048dffu, 0x8ecee914u, 0x7ca56a17u, 0x6ff599e3u, 0x9d9e1ae0u, 0xd3d3e1abu, 0x21b862a8u,
    0x32e8915cu, 0xc083125fu, 0x144976b4u, 0xe622f5b7u, 0xf5720643u, 0x07198540u, 0x590ab964u,
    0xab613a67u, 0xb831c993u, 0x4a5a4a90u, 0x9e902e7bu, 0x6cfbad78u, 0x7fab5e8cu, 0x8dc0dd8fu,
    0xe330a81au, 0x115b2b19u, 0x020bd8edu, 0xf0605beeu, 0x24aa3f05u, 0xd6c1bc06u, 0xc5914ff2u,
    0x37faccf1u, 0x69e9f0d5u, 0x9b8273d6u, 0x88d28022u, 0x7ab90321u, 0xae7367cau, 0x5c18e4c9u,
    0x4f48173du, 0xbd23943eu, 0xf36e6f75u, 0x0105ec76u, 0x12551f82u, 0xe03e9c81u, 0x34f4f86au,
    0xc69f7b69u, 0xd5cf889du, 0x27a40b9eu, 0x79b737bau, 0x8bdcb4b9u, 0x988c474du, 0x6ae7c44eu,
    0xbe2da0a5u, 0x4c4623a6u, 0x5f16d052u, 0xad7d5351u,
};

uint32_t gk_xfr_crc32c(uint32_t crc, const void *p, size_t n)
{
	const uint8_t *b = p;
	crc = ~crc;
	while (n--)
		crc = crctab[(crc ^ *b++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint32_t get16(const uint8_t *p)
{
	return (uint32_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
	return get16(p) << 16 | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) << 32 | get32(p + 4);
}

/* CRC of the file with its CRC field taken as zero */
static uint32_t file_crc(const uint8_t *b, size_t len)
{
	static const uint8_t zero[4];
	uint32_t c = gk_xfr_crc32c(0, b, 56);
	c = gk_xfr_crc32c(c, zero, 4);
	return gk_xfr_crc32c(c, b + 60, len - 60);
}

int gk_xfr_zfile_encode(const gk_xfr_zfile_t *zf, uint8_t **out, size_t *len)
{
	size_t nl = zf->name_len ? zf->name_len : (zf->name ? strlen(zf->name) : 0);
	if (nl > 1 && zf->name[nl - 1] == '.')
		nl--; /* names are written without the final dot */
	size_t pl = zf->primary_len ? zf->primary_len : (zf->primary ? strlen(zf->primary) : 0);
	if (nl > 65535 || pl > 65535)
		return GK_EINVAL;
	size_t n = GK_XFR_ZFILE_HEADER + nl + pl + zf->rrs_len;
	uint8_t *b = malloc(n);
	if (!b)
		return GK_ENOMEM;
	memcpy(b, magic, 8);
	put32(b + 8, GK_XFR_ZFILE_VERSION);
	put32(b + 12, 0);
	put64(b + 16, zf->refreshed);
	put32(b + 24, zf->serial);
	put32(b + 28, zf->refresh);
	put32(b + 32, zf->retry);
	put32(b + 36, zf->expire);
	put32(b + 40, zf->count);
	put16(b + 44, (uint32_t)nl);
	put16(b + 46, (uint32_t)pl);
	put64(b + 48, zf->rrs_len);
	uint8_t *p = b + GK_XFR_ZFILE_HEADER;
	for (size_t i = 0; i < nl; i++) /* lowercase */
		p[i] = (uint8_t)(zf->name[i] >= 'A' && zf->name[i] <= 'Z' ? zf->name[i] + 32
		                                                          : zf->name[i]);
	if (pl)
		memcpy(p + nl, zf->primary, pl);
	if (zf->rrs_len)
		memcpy(p + nl + pl, zf->rrs, zf->rrs_len);
	put32(b + 56, file_crc(b, n));
	*out = b;
	*len = n;
	return 0;
}

/* The uncompressed name at b[*pos..len): moves *pos past it. False when malformed. */
static bool skip_name(const uint8_t *b, size_t len, size_t *pos, size_t *start, size_t *nlen)
{
	size_t p = *pos, total = 0;
	*start = p;
	for (;;) {
		if (p >= len)
			return false;
		uint8_t l = b[p];
		if (l > 63)
			return false; /* a compression pointer or an extended label */
		total += 1u + l;
		if (total > 255 || p + 1 + l > len)
			return false;
		p += 1u + l;
		if (l == 0)
			break;
	}
	*nlen = p - *start;
	*pos = p;
	return true;
}

/* zone (presentation, final dot optional, any case) equals the name's octets? */
static bool same_name(const char *zone, const char *name, size_t nl)
{
	size_t zl = strlen(zone);
	if (zl > 1 && zone[zl - 1] == '.')
		zl--;
	return zl == nl && strncasecmp(zone, name, nl) == 0;
}

/* The presentation form's wire equivalent compared with a wire name: label by label,
 * ASCII case-insensitively (names in files are lowercase; no escapes in zone names). */
static bool apex_is(const char *name, size_t nl, const uint8_t *w, size_t wl)
{
	size_t i = 0, p = 0;
	if (nl == 0 || (nl == 1 && name[0] == '.'))
		return wl == 1 && w[0] == 0;
	while (i <= nl) {
		size_t e = i;
		while (e < nl && name[e] != '.')
			e++;
		size_t l = e - i;
		if (p >= wl || w[p] != l || p + 1 + l > wl ||
		    strncasecmp(name + i, (const char *)w + p + 1, l) != 0)
			return false;
		p += 1 + l;
		i = e + 1;
	}
	return p < wl && w[p] == 0 && p + 1 == wl;
}

int gk_xfr_zfile_decode(const uint8_t *buf, size_t len, const char *zone, gk_xfr_zfile_t *zf,
                        char *err, size_t errlen)
{
	if (len < 8 || memcmp(buf, magic, 8) != 0) {
		if (len >= 2 && buf[0] == ';')
			snprintf(err, errlen, "a text file of an older version (not read)");
		else
			snprintf(err, errlen, "not a persisted zone file (no magic)");
		return len >= 2 && buf[0] == ';' ? GK_ERANGE : GK_ESYNTAX;
	}
	if (len < GK_XFR_ZFILE_HEADER) {
		snprintf(err, errlen, "truncated: %zu octets, the header alone is %u", len,
		         GK_XFR_ZFILE_HEADER);
		return GK_ESYNTAX;
	}
	uint32_t ver = get32(buf + 8);
	if (ver != GK_XFR_ZFILE_VERSION) {
		snprintf(err, errlen, "format version %u (this version reads %u)", ver,
		         GK_XFR_ZFILE_VERSION);
		return GK_ERANGE;
	}
	size_t nl = get16(buf + 44), pl = get16(buf + 46);
	uint64_t rl = get64(buf + 48);
	if (rl > len || GK_XFR_ZFILE_HEADER + nl + pl + rl != len) {
		snprintf(err, errlen, "%s: %zu octets, the header says %llu",
		         len < GK_XFR_ZFILE_HEADER + nl + pl + rl ? "truncated" : "size mismatch",
		         len, (unsigned long long)(GK_XFR_ZFILE_HEADER + nl + pl + rl));
		return GK_ESYNTAX;
	}
	uint32_t want = get32(buf + 56), got = file_crc(buf, len);
	if (want != got) {
		snprintf(err, errlen, "checksum mismatch (CRC-32C %08x, the header says %08x)", got,
		         want);
		return GK_ESYNTAX;
	}
	gk_xfr_zfile_t z = {
	    .refreshed = get64(buf + 16),
	    .serial = get32(buf + 24),
	    .refresh = get32(buf + 28),
	    .retry = get32(buf + 32),
	    .expire = get32(buf + 36),
	    .count = get32(buf + 40),
	    .name = (const char *)buf + GK_XFR_ZFILE_HEADER,
	    .name_len = nl,
	    .primary = (const char *)buf + GK_XFR_ZFILE_HEADER + nl,
	    .primary_len = pl,
	    .rrs = buf + GK_XFR_ZFILE_HEADER + nl + pl,
	    .rrs_len = (size_t)rl,
	};
	if (z.count > z.rrs_len / 11) { /* a record is 11 octets at least */
		snprintf(err, errlen, "%u records cannot fit in %zu octets", z.count, z.rrs_len);
		return GK_ESYNTAX;
	}
	if (get32(buf + 12) != 0) {
		snprintf(err, errlen, "unknown flags %08x", get32(buf + 12));
		return GK_ESYNTAX;
	}
	if (zone && !same_name(zone, z.name, nl)) {
		snprintf(err, errlen, "holds zone '%.*s', not %s", (int)(nl > 255 ? 255 : nl),
		         z.name, zone);
		return GK_ESYNTAX;
	}
	/* the first record: the apex SOA with the header's serial and timers */
	size_t pos = 0, os, ol;
	const uint8_t *r = z.rrs;
	if (z.count == 0 || !skip_name(r, z.rrs_len, &pos, &os, &ol) || pos + 10 > z.rrs_len ||
	    !apex_is(z.name, nl, r + os, ol) || get16(r + pos) != 6 /* SOA */) {
		snprintf(err, errlen, "the first record is not the zone's SOA");
		return GK_ESYNTAX;
	}
	size_t rdl = get16(r + pos + 8);
	size_t rd = pos + 10, q = rd, s1, l1;
	if (rd + rdl > z.rrs_len || !skip_name(r, rd + rdl, &q, &s1, &l1) ||
	    !skip_name(r, rd + rdl, &q, &s1, &l1) || q + 20 != rd + rdl ||
	    get32(r + q) != z.serial || get32(r + q + 4) != z.refresh ||
	    get32(r + q + 8) != z.retry || get32(r + q + 12) != z.expire) {
		snprintf(err, errlen, "the SOA record disagrees with the header");
		return GK_ESYNTAX;
	}
	*zf = z;
	return 0;
}
