/* SPDX-License-Identifier: MIT */
/* src/sync/record.c -- compact record encoding v1 (layout: include/gk/filing_status.h).
 *
 * Chinese text is stored two bytes per Han character instead of UTF-8's three, and the
 * fields with a usual shape (licence number, nature, update time, home page of the domain,
 * IPv4 lists) have fixed-size forms, so a typical registry record is 45-60 bytes and a
 * record bucket stays a listpack (hash-max-listpack-value 64). Anything unusual falls back
 * to the text form, so every feed record round-trips.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gk/filing_status.h"
#include "sync/record.h"

const char *const gk_sync_rec_keys[GK_REC_NFIELDS] = {"provider", "licence",   "sponsor",  "nature",
                                                      "updated",  "site_name", "home_url", "ips",
                                                      "phone",    "person",    "address"};

static const char *const NATURES[] = {"企业", "个人", "事业单位", "政府机关", "社会团体"};
#define N_NATURES (sizeof(NATURES) / sizeof(*NATURES))
static const char PROVINCES[] = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新";
#define N_PROVINCES 31
static const char *const URL_FORMS[] = {"http://www.", "https://www.", "http://", "https://"};

typedef struct wbuf {
	uint8_t *p;
	size_t n, cap;
	int full;
} wbuf_t;

static void put(wbuf_t *w, const void *s, size_t l)
{
	if (w->full || w->cap - w->n < l) {
		w->full = 1;
		return;
	}
	memcpy(w->p + w->n, s, l);
	w->n += l;
}

static void put1(wbuf_t *w, uint8_t b)
{
	put(w, &b, 1);
}

static void varint(wbuf_t *w, uint64_t v)
{
	while (v >= 0x80) {
		put1(w, (uint8_t)(v | 0x80));
		v >>= 7;
	}
	put1(w, (uint8_t)v);
}

static size_t varint_len(uint64_t v)
{
	size_t n = 1;
	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

/* Packed text: ASCII as is; U+4E00..U+9FFF as 0x80+(off>>8), off&0xff; U+3000..U+30FF as 0xD2 xx;
 * U+FF00..U+FFFF as 0xD3 xx; anything else as 0xD4 + its UTF-8 bytes. s is valid UTF-8. */
static size_t pack_text(const char *s, size_t l, uint8_t *out)
{
	const uint8_t *p = (const uint8_t *)s, *e = p + l;
	size_t n = 0;
	while (p < e) {
		uint8_t c = *p;
		if (c < 0x80) {
			out[n++] = c;
			p++;
			continue;
		}
		size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
		if (k == 3 && p + 3 <= e) {
			uint32_t cp = (uint32_t)(c & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 |
			              (p[2] & 0x3F);
			if (cp >= 0x4E00 && cp <= 0x9FFF) {
				out[n++] = (uint8_t)(0x80 + ((cp - 0x4E00) >> 8));
				out[n++] = (uint8_t)(cp - 0x4E00);
				p += 3;
				continue;
			}
			if ((cp & 0xFF00) == 0x3000 || (cp & 0xFF00) == 0xFF00) {
				out[n++] = (cp & 0xFF00) == 0x3000 ? 0xD2 : 0xD3;
				out[n++] = (uint8_t)cp;
				p += 3;
				continue;
			}
		}
		if (p + k > e)
			k = (size_t)(e - p);
		out[n++] = 0xD4;
		memcpy(out + n, p, k);
		n += k;
		p += k;
	}
	return n;
}

/* Inverse of pack_text into out (room for 3 bytes per input byte + 1). Returns the UTF-8
 * length or -1 on a malformed sequence. */
static long unpack_text(const uint8_t *p, size_t l, char *out)
{
	const uint8_t *e = p + l;
	size_t n = 0;
	while (p < e) {
		uint8_t c = *p++;
		uint32_t cp;
		if (c < 0x80) {
			out[n++] = (char)c;
			continue;
		}
		if (c <= 0xD3) {
			if (p >= e)
				return -1;
			cp = c <= 0xD1 ? 0x4E00 + ((uint32_t)(c - 0x80) << 8 | *p)
			               : (c == 0xD2 ? 0x3000u : 0xFF00u) | *p;
			p++;
			if (cp > 0xFFFF)
				return -1;
			out[n++] = (char)(0xE0 | cp >> 12);
			out[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
			out[n++] = (char)(0x80 | (cp & 0x3F));
			continue;
		}
		if (c != 0xD4 || p >= e)
			return -1;
		size_t k = *p >= 0xF0 ? 4 : *p >= 0xE0 ? 3 : 2;
		if ((size_t)(e - p) < k || *p < 0xC0)
			return -1;
		memcpy(out + n, p, k);
		n += k;
		p += k;
	}
	out[n] = 0;
	return (long)n;
}

static void put_text(wbuf_t *w, const char *s, size_t l)
{
	uint8_t tmp[3 * 1024];
	if (l > 1024) { /* rare: long text, pack in place of a temporary */
		uint8_t *big = malloc(2 * l + 8);
		if (!big) {
			w->full = 1;
			return;
		}
		size_t n = pack_text(s, l, big);
		varint(w, n);
		put(w, big, n);
		free(big);
		return;
	}
	size_t n = pack_text(s, l, tmp);
	varint(w, n);
	put(w, tmp, n);
}

/* "<province>ICP备<8 digits>号[-N]" / "<province>ICP证<6 digits>号" -> 6 bytes. */
static int licence_compact(const char *s, size_t l, uint8_t out[6])
{
	const char *pv = NULL;
	for (int i = 0; i < N_PROVINCES; i++)
		if (l >= 3 && !memcmp(s, PROVINCES + 3 * i, 3)) {
			pv = PROVINCES + 3 * i;
			out[0] = (uint8_t)i;
			break;
		}
	if (!pv || l < 3 + 3 + 3 + 6 + 3 || memcmp(s + 3, "ICP", 3))
		return 0;
	int kind;
	size_t digits;
	if (!memcmp(s + 6, "备", 3))
		kind = 0, digits = 8;
	else if (!memcmp(s + 6, "证", 3))
		kind = 1, digits = 6;
	else
		return 0;
	const char *d = s + 9;
	if (l < 9 + digits + 3)
		return 0;
	uint32_t v = 0;
	for (size_t i = 0; i < digits; i++) {
		if (d[i] < '0' || d[i] > '9')
			return 0;
		v = v * 10 + (uint32_t)(d[i] - '0');
	}
	if (memcmp(d + digits, "号", 3))
		return 0;
	const char *rest = d + digits + 3;
	size_t rl = l - (size_t)(rest - s);
	unsigned suffix = 0;
	if (rl) {
		if (kind || rl < 2 || rl > 4 || rest[0] != '-' || rest[1] < '1' || rest[1] > '9')
			return 0;
		for (size_t i = 1; i < rl; i++) {
			if (rest[i] < '0' || rest[i] > '9')
				return 0;
			suffix = suffix * 10 + (unsigned)(rest[i] - '0');
		}
		if (suffix > 255)
			return 0;
	}
	out[0] |= (uint8_t)(kind << 5);
	memcpy(out + 1, &(uint32_t){htole32(v)}, 4);
	out[5] = (uint8_t)suffix;
	return 1;
}

static int days_in_month(int y, int m)
{
	static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && ((y % 4 == 0 && y % 100) || y % 400 == 0) ? 29 : d[m - 1];
}

/* days since 2000-01-01 of a civil date (proleptic Gregorian) */
static long days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	long era = y / 400, yoe = y - era * 400;
	long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 730425; /* 730425: days from 0000-03-01 to 2000-01-01 */
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
	z += 730425;
	long era = z / 146097, doe = z - era * 146097;
	long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	long mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int num(const char *s, int n)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + s[i] - '0';
	}
	return v;
}

/* "YYYY-MM-DDTHH:MM:SS+08:00", 2000 <= YYYY < 2136 -> seconds since 2000-01-01T00:00:00
 * (wall clock of that offset) */
static int updated_compact(const char *s, size_t l, uint32_t *out)
{
	if (l != 25 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
	    memcmp(s + 19, "+08:00", 6))
		return 0;
	int y = num(s, 4), mo = num(s + 5, 2), d = num(s + 8, 2), h = num(s + 11, 2),
	    mi = num(s + 14, 2), se = num(s + 17, 2);
	if (y < 2000 || y > 2135 || mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) ||
	    h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 || se > 59)
		return 0;
	uint64_t t = (uint64_t)days_from_civil(y, mo, d) * 86400u + (uint64_t)h * 3600u +
	             (uint64_t)mi * 60u + (uint64_t)se;
	if (t > UINT32_MAX)
		return 0;
	*out = (uint32_t)t;
	return 1;
}

static int url_compact(const char *s, size_t l, const char *dom)
{
	size_t dl = strlen(dom);
	for (int i = 0; i < 4; i++) {
		size_t pl = strlen(URL_FORMS[i]);
		if (l == pl + dl + 1 && !memcmp(s, URL_FORMS[i], pl) && !memcmp(s + pl, dom, dl) &&
		    s[l - 1] == '/')
			return i;
	}
	return -1;
}

static int ipv4_compact(const char *s, size_t l, uint8_t out[4])
{
	char tmp[INET_ADDRSTRLEN], back[INET_ADDRSTRLEN];
	if (l >= sizeof(tmp))
		return 0;
	memcpy(tmp, s, l);
	tmp[l] = 0;
	if (inet_pton(AF_INET, tmp, out) != 1 || !inet_ntop(AF_INET, out, back, sizeof(back)))
		return 0;
	return !strcmp(tmp, back); /* canonical dotted quad only: it must round-trip */
}

static int is_known(const char *k)
{
	if (!strcmp(k, "domain") || !strcmp(k, "status") || !strcmp(k, "op"))
		return 1;
	for (int i = 0; i < GK_REC_NFIELDS; i++)
		if (!strcmp(k, gk_sync_rec_keys[i]))
			return 1;
	return 0;
}

int gk_sync_rec_encode(const json_t *obj, const char *domain, int status, uint8_t *out, size_t cap)
{
	wbuf_t w = {.p = out, .cap = cap};
	uint32_t forms = 0;
	const json_t *v[GK_REC_NFIELDS];
	size_t known = 0;
	for (int i = 0; i < GK_REC_NFIELDS; i++) {
		v[i] = json_object_get(obj, gk_sync_rec_keys[i]);
		known += v[i] != NULL;
	}
	known += json_object_get(obj, "domain") != NULL;
	known += json_object_get(obj, "status") != NULL;
	known += json_object_get(obj, "op") != NULL;
	int extras = json_object_size(obj) > known;
	uint8_t hdr[4] = {(uint8_t)(0x10 | (status & 3)), 0, 0, 0};
	put(&w, hdr, 4);
	if (v[GK_REC_PROVIDER])
		forms |= (json_string_length(v[GK_REC_PROVIDER]) ? 2u : 1u)
		         << (2 * GK_REC_PROVIDER);
	if (v[GK_REC_PROVIDER] && !json_string_length(v[GK_REC_PROVIDER]))
		varint(&w, 0); /* text form of "" */
	for (int i = GK_REC_LICENCE; i < GK_REC_NFIELDS; i++) {
		const json_t *x = v[i];
		if (!x)
			continue;
		if (i == GK_REC_IPS) {
			size_t n = json_array_size(x), k;
			uint8_t q[4];
			int all4 = n > 0;
			for (k = 0; all4 && k < n; k++) {
				const json_t *e = json_array_get(x, k);
				all4 = ipv4_compact(json_string_value(e), json_string_length(e), q);
			}
			forms |= (all4 ? 2u : 1u) << (2 * i);
			varint(&w, n);
			for (k = 0; k < n; k++) {
				const json_t *e = json_array_get(x, k);
				if (all4) {
					ipv4_compact(json_string_value(e), json_string_length(e),
					             q);
					put(&w, q, 4);
				} else {
					put_text(&w, json_string_value(e), json_string_length(e));
				}
			}
			continue;
		}
		const char *s = json_string_value(x);
		size_t l = json_string_length(x);
		uint8_t c[6];
		uint32_t t;
		int form = 1;
		if (i == GK_REC_LICENCE && licence_compact(s, l, c)) {
			form = 2;
			put(&w, c, 6);
		} else if (i == GK_REC_NATURE) {
			for (size_t k = 0; k < N_NATURES; k++)
				if (!strcmp(s, NATURES[k]) && strlen(NATURES[k]) == l) {
					form = 2;
					put1(&w, (uint8_t)k);
					break;
				}
		} else if (i == GK_REC_UPDATED && updated_compact(s, l, &t)) {
			form = 2;
			t = htole32(t);
			put(&w, &t, 4);
		} else if (i == GK_REC_HOME_URL) {
			int u = url_compact(s, l, domain);
			if (u >= 0) {
				form = 2;
				put1(&w, (uint8_t)u);
			}
		}
		if (form == 1)
			put_text(&w, s, l);
		forms |= (uint32_t)form << (2 * i);
	}
	if (extras) {
		json_t *o = json_object();
		const char *k;
		json_t *x;
		if (!o)
			return GK_ENOMEM;
		json_object_foreach((json_t *)obj, k, x) if (!is_known(k)) json_object_set(o, k, x);
		size_t jl = json_dumpb(o, NULL, 0, JSON_COMPACT | JSON_SORT_KEYS);
		char *j = jl ? malloc(jl) : NULL;
		if (!j || json_dumpb(o, j, jl, JSON_COMPACT | JSON_SORT_KEYS) != jl) {
			free(j);
			json_decref(o);
			return GK_ENOMEM;
		}
		json_decref(o);
		varint(&w, jl);
		put(&w, j, jl);
		free(j);
		forms |= 1u << 22;
	}
	if (w.full)
		return GK_ENOSPC;
	out[1] = (uint8_t)forms;
	out[2] = (uint8_t)(forms >> 8);
	out[3] = (uint8_t)(forms >> 16);
	return (int)w.n;
}

size_t gk_sync_rec_finish(const uint8_t *enc, size_t len, uint32_t provider_id, uint8_t *out)
{
	if (len < 4 || (enc[1] & 3) != 2) {
		memcpy(out, enc, len);
		return len;
	}
	memcpy(out, enc, 4);
	wbuf_t w = {.p = out, .n = 4, .cap = 4 + varint_len(provider_id)};
	varint(&w, provider_id);
	memcpy(out + w.n, enc + 4, len - 4);
	return w.n + len - 4;
}

/* --- decoding --------------------------------------------------------------------------- */

typedef struct rbuf {
	const uint8_t *p, *e;
} rbuf_t;

static int get_varint(rbuf_t *r, uint64_t *v)
{
	*v = 0;
	for (int sh = 0; sh < 64 && r->p < r->e; sh += 7) {
		uint8_t b = *r->p++;
		*v |= (uint64_t)(b & 0x7F) << sh;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

typedef struct obuf {
	char *p;
	size_t n, cap;
} obuf_t;

static char *oreserve(obuf_t *o, size_t need)
{
	if (o->cap - o->n < need)
		return NULL;
	return o->p + o->n;
}

/* text form: varint length + packed bytes -> a NUL-terminated string in o */
static int get_text(rbuf_t *r, obuf_t *o, const char **s)
{
	uint64_t l;
	if (get_varint(r, &l) || l > (uint64_t)(r->e - r->p))
		return GK_ESYNTAX;
	char *d = oreserve(o, 3 * l + 1);
	if (!d)
		return GK_ENOSPC;
	long n = unpack_text(r->p, l, d);
	if (n < 0)
		return GK_ESYNTAX;
	r->p += l;
	o->n += (size_t)n + 1;
	*s = d;
	return 0;
}

static int oprintf(obuf_t *o, const char **s, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int oprintf(obuf_t *o, const char **s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(o->p + o->n, o->cap - o->n, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= o->cap - o->n)
		return GK_ENOSPC;
	*s = o->p + o->n;
	o->n += (size_t)n + 1;
	return 0;
}

int gk_sync_rec_decode(const void *val, size_t len, const char *domain, gk_rec_t *out, char *buf,
                       size_t cap)
{
	rbuf_t r = {val, (const uint8_t *)val + len};
	obuf_t o = {buf, 0, cap};
	memset(out, 0, sizeof(*out));
	if (len < 4 || (r.p[0] & 0xF0) != 0x10 || (r.p[3] & 0x80))
		return GK_ESYNTAX;
	out->status = r.p[0] & 3;
	uint32_t forms = (uint32_t)r.p[1] | (uint32_t)r.p[2] << 8 | (uint32_t)r.p[3] << 16;
	r.p += 4;
	int rc;
	for (int i = 0; i < GK_REC_NFIELDS; i++) {
		unsigned form = (forms >> (2 * i)) & 3;
		const char **dst = &out->field[i];
		uint64_t x;
		if (!form)
			continue;
		if (form == 3)
			return GK_ESYNTAX;
		if (i == GK_REC_PROVIDER) {
			out->has_provider = 1;
			if (get_varint(&r, &x) || x > UINT32_MAX || (form == 1 && x))
				return GK_ESYNTAX;
			out->provider_id = (uint32_t)x;
			continue;
		}
		if (i == GK_REC_IPS) {
			if (get_varint(&r, &x) || x > (uint64_t)(r.e - r.p))
				return GK_ESYNTAX;
			out->n_ips = (size_t)x;
			out->ips = o.p + o.n;
			for (uint64_t k = 0; k < x; k++) {
				const char *s = NULL;
				if (form == 2) {
					char t[INET_ADDRSTRLEN];
					if (r.e - r.p < 4 || !inet_ntop(AF_INET, r.p, t, sizeof(t)))
						return GK_ESYNTAX;
					r.p += 4;
					rc = oprintf(&o, &s, "%s", t);
				} else {
					rc = get_text(&r, &o, &s);
				}
				if (rc)
					return rc;
			}
			if (!x && !oreserve(&o, 1))
				return GK_ENOSPC;
			continue;
		}
		if (form == 1) {
			rc = get_text(&r, &o, dst);
			if (rc)
				return rc;
			continue;
		}
		/* form 2: the field's compact shape */
		if (i == GK_REC_LICENCE) {
			if (r.e - r.p < 6 || (r.p[0] & 31) >= N_PROVINCES || (r.p[0] >> 5) > 1)
				return GK_ESYNTAX;
			uint32_t v;
			memcpy(&v, r.p + 1, 4);
			v = le32toh(v);
			int kind = r.p[0] >> 5;
			const char *pv = PROVINCES + 3 * (r.p[0] & 31);
			char suf[8] = "";
			if (r.p[5])
				snprintf(suf, sizeof(suf), "-%u", r.p[5]);
			rc = kind ? oprintf(&o, dst, "%.3sICP证%06u号%s", pv, v, suf)
			          : oprintf(&o, dst, "%.3sICP备%08u号%s", pv, v, suf);
			r.p += 6;
		} else if (i == GK_REC_NATURE) {
			if (r.p >= r.e || *r.p >= N_NATURES)
				return GK_ESYNTAX;
			rc = oprintf(&o, dst, "%s", NATURES[*r.p++]);
		} else if (i == GK_REC_UPDATED) {
			uint32_t t;
			if (r.e - r.p < 4)
				return GK_ESYNTAX;
			memcpy(&t, r.p, 4);
			t = le32toh(t);
			r.p += 4;
			int y, mo, d;
			civil_from_days((long)(t / 86400), &y, &mo, &d);
			uint32_t s = t % 86400;
			rc = oprintf(&o, dst, "%04d-%02d-%02dT%02u:%02u:%02u+08:00", y, mo, d,
			             s / 3600, s / 60 % 60, s % 60);
		} else if (i == GK_REC_HOME_URL) {
			if (r.p >= r.e || *r.p >= 4)
				return GK_ESYNTAX;
			rc = oprintf(&o, dst, "%s%s/", URL_FORMS[*r.p++], domain);
		} else {
			return GK_ESYNTAX;
		}
		if (rc)
			return rc;
	}
	if (forms & (1u << 22)) {
		uint64_t l;
		if (get_varint(&r, &l) || l > (uint64_t)(r.e - r.p))
			return GK_ESYNTAX;
		char *d = oreserve(&o, l + 1);
		if (!d)
			return GK_ENOSPC;
		memcpy(d, r.p, l);
		d[l] = 0;
		o.n += l + 1;
		r.p += l;
		out->extras = d;
	}
	return r.p == r.e ? 0 : GK_ESYNTAX;
}

json_t *gk_sync_rec_to_json(const void *val, size_t len, const char *domain,
                            const char *(*provider_name)(uint32_t id, void *ctx), void *ctx)
{
	size_t cap = 4 * len + 512;
	char *buf = malloc(cap);
	gk_rec_t r;
	json_t *o = NULL;
	if (!buf || gk_sync_rec_decode(val, len, domain, &r, buf, cap))
		goto out;
	o = json_object();
	if (!o)
		goto out;
	if (r.extras) {
		json_t *x = json_loads(r.extras, 0, NULL);
		if (json_is_object(x))
			json_object_update(o, x);
		json_decref(x);
	}
	json_object_set_new(o, "domain", json_string(domain));
	json_object_set_new(o, "status",
	                    json_string(r.status == GK_FS_REVOKED ? "revoked" : "filed"));
	if (r.has_provider) {
		const char *pn = r.provider_id && provider_name ? provider_name(r.provider_id, ctx)
		                 : r.provider_id                ? NULL
		                                                : "";
		if (pn)
			json_object_set_new(o, "provider", json_string(pn));
		else
			json_object_set_new(o, "provider_id", json_integer(r.provider_id));
	}
	for (int i = GK_REC_LICENCE; i < GK_REC_NFIELDS; i++)
		if (r.field[i])
			json_object_set_new(o, gk_sync_rec_keys[i], json_string(r.field[i]));
	if (r.ips) {
		json_t *a = json_array();
		const char *s = r.ips;
		for (size_t k = 0; k < r.n_ips; k++, s += strlen(s) + 1)
			json_array_append_new(a, json_string(s));
		json_object_set_new(o, "ips", a);
	}
out:
	free(buf);
	return o;
}
