/* SPDX-License-Identifier: MIT */
/* src/sync/iptab.c -- longest-match attribution table over the filed ranges.
 *
 * Build: the ranges of one family sorted by (first ascending, last descending) and swept with
 * a stack of the ranges enclosing the cursor; each stretch between two events becomes a
 * segment owned by the innermost range (the top of the stack). Segments are disjoint and
 * sorted, so a lookup is one binary search.
 */
#include <arpa/inet.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/strmap.h"
#include "sync/iptab.h"

static const uint8_t V4MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static int addr_parse(const char *s, size_t l, uint8_t out[16], int *v4)
{
	char buf[64];
	while (l && s[0] == ' ')
		s++, l--;
	while (l && s[l - 1] == ' ')
		l--;
	if (!l || l >= sizeof(buf))
		return -1;
	memcpy(buf, s, l);
	buf[l] = 0;
	if (inet_pton(AF_INET, buf, out + 12) == 1) {
		memcpy(out, V4MAPPED, 12);
		*v4 = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, out) == 1) {
		*v4 = 0;
		return 0;
	}
	return -1;
}

int gk_sync_ip_range_parse(const char *s, size_t len, uint8_t first[16], uint8_t last[16], int *v4,
                           const char **why)
{
	const char *slash = memchr(s, '/', len), *dash = memchr(s, '-', len);
	if (memchr(s, 0, len)) {
		*why = "NUL in range";
		return GK_EINVAL;
	}
	if (slash) {
		char *end;
		const char *pl = slash + 1;
		size_t ll = len - (size_t)(pl - s);
		if (!ll || ll > 3 || *pl < '0' || *pl > '9') {
			*why = "prefix length is not a number";
			return GK_EINVAL;
		}
		char num[4] = {0};
		memcpy(num, pl, ll);
		long plen = strtol(num, &end, 10);
		if (*end) {
			*why = "prefix length is not a number";
			return GK_EINVAL;
		}
		if (addr_parse(s, (size_t)(slash - s), first, v4)) {
			*why = "not an IPv4 or IPv6 address before '/'";
			return GK_EINVAL;
		}
		if (plen > (*v4 ? 32 : 128)) {
			*why = *v4 ? "IPv4 prefix length over 32" : "IPv6 prefix length over 128";
			return GK_EINVAL;
		}
		int bits = (int)plen + (*v4 ? 96 : 0);
		memcpy(last, first, 16);
		for (int b = bits; b < 128; b++) {
			if (first[b / 8] & (0x80 >> (b % 8))) {
				*why = "host bits set after the prefix length (give the network "
				       "address)";
				return GK_EINVAL;
			}
			last[b / 8] |= (uint8_t)(0x80 >> (b % 8));
		}
		return 0;
	}
	if (dash) {
		int v4b;
		if (addr_parse(s, (size_t)(dash - s), first, v4) ||
		    addr_parse(dash + 1, len - (size_t)(dash + 1 - s), last, &v4b)) {
			*why = "not an address on each side of '-'";
			return GK_EINVAL;
		}
		if (*v4 != v4b) {
			*why = "first and last address of different families";
			return GK_EINVAL;
		}
		if (memcmp(first, last, 16) > 0) {
			*why = "first address after the last";
			return GK_EINVAL;
		}
		return 0;
	}
	*why = "neither ADDR/LEN nor FIRST-LAST";
	return GK_EINVAL;
}

/* the prefix length when [first, last] is exactly one prefix, else -1 */
static int prefix_of(const uint8_t first[16], const uint8_t last[16])
{
	int b = 0;
	while (b < 128 && ((first[b / 8] ^ last[b / 8]) & (0x80 >> (b % 8))) == 0)
		b++;
	for (int k = b; k < 128; k++) {
		uint8_t m = (uint8_t)(0x80 >> (k % 8));
		if ((first[k / 8] & m) || !(last[k / 8] & m))
			return -1;
	}
	return b;
}

static size_t addr_text(const uint8_t a[16], int v4, char *out)
{
	inet_ntop(v4 ? AF_INET : AF_INET6, v4 ? a + 12 : a, out, INET6_ADDRSTRLEN);
	return strlen(out);
}

size_t gk_sync_ip_range_format(const uint8_t first[16], const uint8_t last[16], int v4, char *out)
{
	size_t n = addr_text(first, v4, out);
	int p = prefix_of(first, last);
	if (p >= 0)
		return n + (size_t)sprintf(out + n, "/%d", v4 ? p - 96 : p);
	out[n++] = '-';
	return n + addr_text(last, v4, out + n);
}

typedef struct seg {
	uint8_t first[16], last[16];
	const char *provider;
} seg_t;

typedef struct fam {
	seg_t *r; /* ranges added, then segments after build */
	size_t n, cap;
} fam_t;

struct gk_iptab {
	fam_t fam[2]; /* [0] IPv6, [1] IPv4 */
	size_t added;
	gk_strmap_t names; /* interned providers (the map's own arena) */
};

static const char *intern(gk_iptab_t *t, const char *s)
{
	uint32_t ix;
	if (gk_strmap_add(&t->names, s, strlen(s), &ix) < 0)
		return NULL;
	return gk_strmap_key(&t->names, ix);
}

int gk_sync_iptab_new(gk_iptab_t **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : GK_ENOMEM;
}

void gk_sync_iptab_free(gk_iptab_t *t)
{
	if (!t)
		return;
	gk_strmap_free(&t->names);
	free(t->fam[0].r);
	free(t->fam[1].r);
	free(t);
}

size_t gk_sync_iptab_size(const gk_iptab_t *t)
{
	return t->added;
}

static int push(fam_t *f, const uint8_t first[16], const uint8_t last[16], const char *p)
{
	if (f->n == f->cap) {
		size_t nc = f->cap ? f->cap * 2 : 256;
		seg_t *nr = realloc(f->r, nc * sizeof(*nr));
		if (!nr)
			return GK_ENOMEM;
		f->r = nr;
		f->cap = nc;
	}
	seg_t *s = &f->r[f->n++];
	memcpy(s->first, first, 16);
	memcpy(s->last, last, 16);
	s->provider = p;
	return 0;
}

int gk_sync_iptab_add(gk_iptab_t *t, const uint8_t first[16], const uint8_t last[16], int v4,
                      const char *provider)
{
	const char *p = intern(t, provider);
	if (!p)
		return GK_ENOMEM;
	int rc = push(&t->fam[v4 ? 1 : 0], first, last, p);
	if (!rc)
		t->added++;
	return rc;
}

int gk_sync_iptab_add_stored(gk_iptab_t *t, const char *range, size_t range_len, const char *value,
                             size_t value_len)
{
	uint8_t a[16], b[16];
	int v4;
	const char *why;
	if (gk_sync_ip_range_parse(range, range_len, a, b, &v4, &why))
		return GK_EINVAL;
	/* gk-sync stores canonical compact JSON: find "provider":"..." without a parser when the
	 * name has no escape (a quote inside any JSON string is escaped, so the pattern cannot
	 * start inside one); anything else goes through jansson. 1,000,000 ranges: ~0.3 s less. */
	static const char key[] = "\"provider\":\"";
	const char *k = value_len > 0 && value[0] == '{'
	                    ? memmem(value, value_len, key, sizeof(key) - 1)
	                    : NULL;
	if (k != NULL) {
		const char *v = k + sizeof(key) - 1, *end = value + value_len, *q = v;
		while (q < end && *q != '"' && *q != '\\' && *q != 0)
			q++;
		if (q < end && *q == '"' && q > v && q - v < 1024) {
			char name[1024];
			memcpy(name, v, (size_t)(q - v));
			name[q - v] = 0;
			return gk_sync_iptab_add(t, a, b, v4, name);
		}
	}
	json_error_t je;
	json_t *o = json_loadb(value, value_len, 0, &je);
	json_t *p = o ? json_object_get(o, "provider") : NULL;
	int rc = json_is_string(p) && json_string_length(p)
	             ? gk_sync_iptab_add(t, a, b, v4, json_string_value(p))
	             : GK_EINVAL;
	json_decref(o);
	return rc;
}

static int cmp_in(const void *x, const void *y)
{
	const seg_t *a = x, *b = y;
	int c = memcmp(a->first, b->first, 16);
	return c ? c : memcmp(b->last, a->last, 16);
}

/* a + 1 into out; returns 1 on overflow (a was all ones) */
static int inc(const uint8_t a[16], uint8_t out[16])
{
	memcpy(out, a, 16);
	for (int i = 15; i >= 0; i--)
		if (++out[i])
			return 0;
	return 1;
}

static void dec(const uint8_t a[16], uint8_t out[16])
{
	memcpy(out, a, 16);
	for (int i = 15; i >= 0; i--)
		if (out[i]--)
			return;
}

static int flatten(fam_t *f)
{
	if (!f->n)
		return 0;
	qsort(f->r, f->n, sizeof(*f->r), cmp_in);
	fam_t out = {0};
	const seg_t **st = malloc(f->n * sizeof(*st));
	size_t sp = 0;
	uint8_t cur[16], tmp[16];
	int done = 0; /* cursor ran past the top of the space */
	int rc = st ? 0 : GK_ENOMEM;
	memset(cur, 0, 16);
	for (size_t i = 0; !rc && i <= f->n; i++) {
		const seg_t *r = i < f->n ? &f->r[i] : NULL;
		/* close the enclosing ranges that end before r starts (all of them at the end) */
		while (!rc && sp && (!r || memcmp(st[sp - 1]->last, r->first, 16) < 0)) {
			const seg_t *top = st[--sp];
			if (!done && memcmp(cur, top->last, 16) <= 0) {
				rc = push(&out, cur, top->last, top->provider);
				done = inc(top->last, cur);
			}
		}
		if (!r || rc)
			break;
		if (sp && !done && memcmp(cur, r->first, 16) < 0) {
			dec(r->first, tmp);
			rc = push(&out, cur, tmp, st[sp - 1]->provider);
		}
		if (memcmp(r->last, st && sp ? st[sp - 1]->last : r->last, 16) > 0)
			sp = 0; /* crossing ranges (not from a valid feed): the later one wins */
		memcpy(cur, r->first, 16);
		done = 0;
		st[sp++] = r;
	}
	free(st);
	if (rc) {
		free(out.r);
		return rc;
	}
	free(f->r);
	*f = out;
	return 0;
}

int gk_sync_iptab_build(gk_iptab_t *t)
{
	int rc = flatten(&t->fam[0]);
	return rc ? rc : flatten(&t->fam[1]);
}

const char *gk_sync_iptab_lookup(const gk_iptab_t *t, const uint8_t addr[16], int v4)
{
	const fam_t *f = &t->fam[v4 ? 1 : 0];
	size_t lo = 0, hi = f->n; /* first segment with first > addr */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (memcmp(f->r[mid].first, addr, 16) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo || memcmp(addr, f->r[lo - 1].last, 16) > 0)
		return NULL;
	return f->r[lo - 1].provider;
}

int gk_sync_ip_addr_parse(const char *s, size_t len, uint8_t addr[16], int *v4)
{
	char buf[64];
	if (!len || len >= sizeof(buf) || memchr(s, 0, len))
		return GK_EINVAL;
	memcpy(buf, s, len);
	buf[len] = 0;
	if (inet_pton(AF_INET, buf, addr + 12) == 1) {
		memset(addr, 0, 10);
		addr[10] = addr[11] = 0xff;
		*v4 = 1;
		return 0;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*v4 = 0;
		return 0;
	}
	return GK_EINVAL;
}

typedef struct blk {
	const char *net;
	int len;
	const char *name;
} blk_t;

static const blk_t V4[] = {
    {"0.0.0.0", 8, "this-network"},
    {"10.0.0.0", 8, "private"},
    {"100.64.0.0", 10, "shared"},
    {"127.0.0.0", 8, "loopback"},
    {"169.254.0.0", 16, "link-local"},
    {"172.16.0.0", 12, "private"},
    {"192.0.0.0", 24, "ietf"},
    {"192.0.2.0", 24, "documentation"},
    {"192.168.0.0", 16, "private"},
    {"198.18.0.0", 15, "benchmarking"},
    {"198.51.100.0", 24, "documentation"},
    {"203.0.113.0", 24, "documentation"},
    {"224.0.0.0", 4, "multicast"},
    {"240.0.0.0", 4, "reserved"},
};
static const blk_t V6[] = {
    {"::", 128, "unspecified"},     {"::1", 128, "loopback"},
    {"64:ff9b:1::", 48, "private"}, {"100::", 64, "discard"},
    {"2001::", 23, "ietf"},         {"2001:db8::", 32, "documentation"},
    {"fc00::", 7, "unique-local"},  {"fe80::", 10, "link-local"},
    {"ff00::", 8, "multicast"},
};

static int in_block(const uint8_t *a, const uint8_t *net, int bits)
{
	for (int b = 0; b < bits; b++) {
		uint8_t m = (uint8_t)(0x80 >> (b % 8));
		if ((a[b / 8] & m) != (net[b / 8] & m))
			return 0;
	}
	return 1;
}

const char *gk_sync_ip_special(const uint8_t addr[16], int v4)
{
	uint8_t n[16];
	if (v4) {
		for (size_t i = 0; i < sizeof(V4) / sizeof(*V4); i++)
			if (inet_pton(AF_INET, V4[i].net, n) == 1 &&
			    in_block(addr + 12, n, V4[i].len))
				return V4[i].name;
		return NULL;
	}
	for (size_t i = 0; i < sizeof(V6) / sizeof(*V6); i++)
		if (inet_pton(AF_INET6, V6[i].net, n) == 1 && in_block(addr, n, V6[i].len))
			return V6[i].name;
	return NULL;
}
