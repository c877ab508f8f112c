/* SPDX-License-Identifier: MIT */
/* src/sync/lint.c -- accuracy rules: licence, IPs, phone, contact person, sponsor, nature,
 * home page domain, mixed scripts in a label (libunistring's Unicode script property). Two passes
 * over the feed: the first collects the feed's domains (the home page rule needs all of them), the
 * second runs the rules.
 */
#include <arpa/inet.h>
#include <idn2.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unictype.h>
#include "common/strmap.h"
#include "sync/feed.h"
#include "sync/lint.h"

static const char PROVINCES[] = "京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新";

static int digits(const char **p, int n)
{
	for (int i = 0; i < n; i++, (*p)++)
		if (**p < '0' || **p > '9')
			return 0;
	return 1;
}

static int starts(const char **p, const char *lit)
{
	size_t l = strlen(lit);
	if (strncmp(*p, lit, l))
		return 0;
	*p += l;
	return 1;
}

int gk_sync_lint_licence_ok(const char *s)
{
	int prov = 0;
	/* every province abbreviation is one 3-byte UTF-8 character */
	for (const char *q = PROVINCES; *q; q += 3)
		if (!strncmp(s, q, 3))
			prov = 1;
	if (!prov)
		return 0;
	s += 3;
	if (starts(&s, "ICP备")) {
		if (!digits(&s, 8) || !starts(&s, "号"))
			return 0;
		if (*s == '-') {
			s++;
			if (*s < '1' || *s > '9')
				return 0;
			while (*s >= '0' && *s <= '9')
				s++;
		}
		return *s == 0;
	}
	if (starts(&s, "ICP证"))
		return digits(&s, 6) && starts(&s, "号") && *s == 0;
	return 0;
}

int gk_sync_lint_ip_reserved(const char *s, const char **why)
{
	uint8_t a[16];
	*why = "";
	if (inet_pton(AF_INET, s, a) == 1)
		goto v4;
	if (inet_pton(AF_INET6, s, a) != 1)
		return -1;
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
	if (!memcmp(a, mapped, 12)) {
		memmove(a, a + 12, 4);
		goto v4;
	}
	static const uint8_t zero[16];
	if (!memcmp(a, zero, 16)) {
		*why = "unspecified (::)";
		return 1;
	}
	if (!memcmp(a, zero, 15) && a[15] == 1) {
		*why = "loopback (::1)";
		return 1;
	}
	if ((a[0] & 0xfe) == 0xfc) {
		*why = "unique local (fc00::/7)";
		return 1;
	}
	if (a[0] == 0xfe && (a[1] & 0xc0) == 0x80) {
		*why = "link-local (fe80::/10)";
		return 1;
	}
	return 0;
v4:
	if (a[0] == 0)
		*why = "unspecified (0.0.0.0/8)";
	else if (a[0] == 10)
		*why = "private (10.0.0.0/8)";
	else if (a[0] == 100 && (a[1] & 0xc0) == 64)
		*why = "shared address space (100.64.0.0/10)";
	else if (a[0] == 127)
		*why = "loopback (127.0.0.0/8)";
	else if (a[0] == 169 && a[1] == 254)
		*why = "link-local (169.254.0.0/16)";
	else if (a[0] == 172 && (a[1] & 0xf0) == 16)
		*why = "private (172.16.0.0/12)";
	else if (a[0] == 192 && a[1] == 168)
		*why = "private (192.168.0.0/16)";
	else if (a[0] == 255 && a[1] == 255 && a[2] == 255 && a[3] == 255)
		*why = "broadcast";
	else
		return 0;
	return 1;
}

int gk_sync_lint_phone_fake(const char *s)
{
	char d[64];
	size_t n = 0;
	for (; *s && n < sizeof(d); s++)
		if (*s >= '0' && *s <= '9')
			d[n++] = *s;
	if (n < 5)
		return n > 0; /* too short to be a phone number at all */
	size_t run = 1;
	while (run < n && d[n - 1 - run] == d[n - 1])
		run++;
	return run >= 7 || run == n;
}

/* Decode one UTF-8 code point; returns its length (1 for a stray byte). */
static int utf8(const char *s, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)s;
	if (u[0] < 0x80) {
		*cp = u[0];
		return 1;
	}
	if ((u[0] & 0xe0) == 0xc0 && (u[1] & 0xc0) == 0x80) {
		*cp = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
		return 2;
	}
	if ((u[0] & 0xf0) == 0xe0 && (u[1] & 0xc0) == 0x80 && (u[2] & 0xc0) == 0x80) {
		*cp = (uint32_t)(u[0] & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
		return 3;
	}
	if ((u[0] & 0xf8) == 0xf0 && (u[1] & 0xc0) == 0x80 && (u[2] & 0xc0) == 0x80 &&
	    (u[3] & 0xc0) == 0x80) {
		*cp = (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
		      (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
		return 4;
	}
	*cp = 0xfffd;
	return 1;
}

static int is_han(uint32_t cp)
{
	return (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf);
}

/* number of code points, and whether all are Han */
static size_t han_len(const char *s, int *all_han)
{
	size_t n = 0;
	*all_han = 1;
	while (*s) {
		uint32_t cp;
		s += utf8(s, &cp);
		*all_han &= is_han(cp);
		n++;
	}
	return n;
}

static int ends(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);
	return a >= b && !strcmp(s + a - b, suf);
}

int gk_sync_lint_person_placeholder(const char *s)
{
	if (strstr(s, "某某"))
		return 1;
	static const char *const titles[] = {"先生", "小姐", "女士"};
	for (int i = 0; i < 3; i++)
		if (ends(s, titles[i])) {
			int han;
			size_t n = han_len(s, &han);
			/* 王先生 (3), 欧阳女士 (4); a title on a full name is still a placeholder
			 * only when the name part is a bare surname */
			return han && (n == 3 || n == 4);
		}
	return 0;
}

int gk_sync_lint_sponsor_is_domain(const char *s)
{
	size_t n = strlen(s), dots = 0, last = 0;
	if (!n)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			dots++;
			last = i + 1;
		} else if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		             (c >= '0' && c <= '9') || c == '-'))
			return 0;
	}
	if (!dots || n - last < 2)
		return 0;
	for (size_t i = last; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			return 0; /* an IP address or a version number, not a domain */
	return 1;
}

int gk_sync_lint_nature_mismatch(const char *sponsor, const char *nature, const char **why)
{
	static const char *const company[] = {"有限公司", "公司", "集团"};
	/* organisation words that rule out a personal name */
	static const char *const org[] = {
	    "公司", "集团", "中心", "协会", "学会",   "委员会", "工作室", "研究",   "大学",  "学院",
	    "学校", "医院", "银行", "基金", "联合会", "政府",   "有限",   "合作社", "事务所"};
	static const char *const org_tail[] = {"局", "厅", "院", "校", "所", "馆", "站",
	                                       "社", "会", "厂", "店", "行", "室", "队",
	                                       "团", "处", "办", "部", "司", "园", "中心"};
	*why = "";
	if (!strcmp(nature, "个人")) {
		for (int i = 0; i < 3; i++)
			if (strstr(sponsor, company[i])) {
				*why = "company-like sponsor name with nature 个人";
				return 1;
			}
		return 0;
	}
	if (!strcmp(nature, "企业")) {
		int han;
		size_t n = han_len(sponsor, &han);
		if (!han || n < 2 || n > 4)
			return 0;
		for (size_t i = 0; i < sizeof(org) / sizeof(*org); i++)
			if (strstr(sponsor, org[i]))
				return 0;
		for (size_t i = 0; i < sizeof(org_tail) / sizeof(*org_tail); i++)
			if (ends(sponsor, org_tail[i]))
				return 0;
		*why = "person-like sponsor name with nature 企业";
		return 1;
	}
	return 0;
}

int gk_sync_lint_url_host(const char *url, char *host)
{
	const char *p = strstr(url, "://");
	const char *why;
	p = p ? p + 3 : url;
	const char *at = NULL, *e = p;
	while (*e && *e != '/' && *e != '?' && *e != '#') {
		if (*e == '@')
			at = e;
		e++;
	}
	if (at)
		p = at + 1;
	const char *colon = memchr(p, ':', (size_t)(e - p));
	if (colon && p[0] != '[')
		e = colon;
	if (e == p || p[0] == '[')
		return GK_EINVAL;
	return gk_sync_feed_domain_normalise(p, (size_t)(e - p), host, &why) < 0 ? GK_EINVAL : 0;
}

/* Scripts allowed together in one label (UTS #39 "highly restrictive"): Han with the
 * Japanese kana, with Bopomofo, or with Hangul. */
static int scripts_allowed(const uc_script_t *const *sc, size_t n)
{
	static const char *const sets[][4] = {{"Han", "Hiragana", "Katakana", NULL},
	                                      {"Han", "Bopomofo", NULL, NULL},
	                                      {"Han", "Hangul", NULL, NULL}};
	if (n <= 1)
		return 1;
	for (size_t k = 0; k < sizeof(sets) / sizeof(*sets); k++) {
		size_t in = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = 0; j < 4 && sets[k][j]; j++)
				in += !strcmp(sc[i]->name, sets[k][j]);
		if (in == n)
			return 1;
	}
	return 0;
}

int gk_sync_lint_mixed_script(const char *domain, char *why, size_t whylen)
{
	for (const char *l = domain; *l;) {
		const char *dot = strchr(l, '.');
		size_t n = dot ? (size_t)(dot - l) : strlen(l);
		char label[64], *u = NULL;
		if (n >= 4 && n < sizeof(label) && !memcmp(l, "xn--", 4)) {
			memcpy(label, l, n);
			label[n] = 0;
			if (idn2_to_unicode_8z8z(label, &u, 0) == IDN2_OK) {
				const uc_script_t *sc[8];
				size_t ns = 0;
				for (const char *p = u; *p && ns < 8;) {
					uint32_t cp;
					p += utf8(p, &cp);
					const uc_script_t *x = uc_script(cp);
					if (!x || !strcmp(x->name, "Common") ||
					    !strcmp(x->name, "Inherited"))
						continue;
					size_t i = 0;
					while (i < ns && sc[i] != x)
						i++;
					if (i == ns)
						sc[ns++] = x;
				}
				if (!scripts_allowed(sc, ns)) {
					int o =
					    snprintf(why, whylen, "label %s (%s) mixes ", label, u);
					for (size_t i = 0; i < ns && o > 0 && (size_t)o < whylen;
					     i++)
						o += snprintf(why + o, whylen - (size_t)o, "%s%s",
						              i == 0        ? ""
						              : i + 1 == ns ? " and "
						                            : ", ",
						              sc[i]->name);
					idn2_free(u);
					return 1;
				}
			}
			idn2_free(u);
		}
		l += n + (dot != NULL);
	}
	return 0;
}

/* --- the feed walk -------------------------------------------------------------------- */

static const char *str(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

typedef struct ctx {
	const char *name;
	FILE *out;
	size_t *findings;
	const gk_strmap_t *domains;
	const gk_psl_t *psl;
} ctx_t;

static void finding(ctx_t *c, size_t line, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void finding(ctx_t *c, size_t line, const char *rule, const char *fmt, ...)
{
	va_list ap;
	fprintf(c->out, "%s:%zu: %s: ", c->name, line, rule);
	va_start(ap, fmt);
	vfprintf(c->out, fmt, ap);
	va_end(ap);
	fputc('\n', c->out);
	(*c->findings)++;
}

static void lint_record(ctx_t *c, size_t line, json_t *o)
{
	const char *sponsor = str(o, "sponsor"), *nature = str(o, "nature");
	const char *licence = str(o, "licence"), *url = str(o, "home_url");
	const char *phone = str(o, "phone"), *person = str(o, "person"), *why;
	if (!sponsor || !*sponsor)
		finding(c, line, "sponsor-missing", "no sponsor name");
	else if (gk_sync_lint_sponsor_is_domain(sponsor))
		finding(c, line, "sponsor-is-domain", "sponsor \"%s\" is a bare domain name",
		        sponsor);
	if (sponsor && nature && gk_sync_lint_nature_mismatch(sponsor, nature, &why))
		finding(c, line, "nature-mismatch", "%s (sponsor \"%s\")", why, sponsor);
	if (!licence)
		finding(c, line, "licence-malformed", "no licence number");
	else if (!gk_sync_lint_licence_ok(licence))
		finding(c, line, "licence-malformed",
		        "\"%s\" does not match 省ICP备NNNNNNNN号[-N] or 省ICP证NNNNNN号", licence);
	if (url && *url) {
		char host[256];
		if (gk_sync_lint_url_host(url, host))
			finding(c, line, "home-url-malformed",
			        "cannot take a host name from \"%s\"", url);
		else {
			const char *reg = gk_psl_registrable(c->psl, host);
			if (!gk_strmap_find(c->domains, host, strlen(host)) &&
			    !(reg && gk_strmap_find(c->domains, reg, strlen(reg))))
				finding(
				    c, line, "home-url-foreign",
				    "home page %s is on %s, which is not in the feed's domain list",
				    url, reg ? reg : host);
		}
	}
	json_t *ips = json_object_get(o, "ips"), *ip;
	size_t k;
	if (json_is_array(ips))
		json_array_foreach(ips, k, ip)
		{
			if (!json_is_string(ip))
				continue;
			int r = gk_sync_lint_ip_reserved(json_string_value(ip), &why);
			if (r < 0)
				finding(c, line, "ip-malformed", "\"%s\" is not an IP address",
				        json_string_value(ip));
			else if (r)
				finding(c, line, "ip-reserved", "%s is %s", json_string_value(ip),
				        why);
		}
	if (phone && *phone && gk_sync_lint_phone_fake(phone))
		finding(c, line, "phone-fake", "\"%s\" is a placeholder number", phone);
	if (person && gk_sync_lint_person_placeholder(person))
		finding(c, line, "person-placeholder", "\"%s\" is not a person's full name",
		        person);
	const char *dom = str(o, "domain");
	char norm[256], mix[512];
	if (dom && gk_sync_feed_domain_normalise(dom, strlen(dom), norm, &why) >= 0 &&
	    gk_sync_lint_mixed_script(norm, mix, sizeof(mix)))
		finding(c, line, "mixed-script", "%s", mix);
}

int gk_sync_lint_feed(const char *name, const char *data, size_t len, const gk_psl_t *psl,
                      FILE *out, size_t *findings, char *err, size_t errlen)
{
	gk_strmap_t domains;
	gk_strmap_init(&domains, NULL, 0);
	ctx_t c = {name, out, findings, &domains, psl};
	int rc = 0;
	*findings = 0;
	for (int pass = 0; pass < 2 && !rc; pass++) {
		size_t line = 0;
		for (size_t off = 0; off < len && !rc;) {
			const char *nl = memchr(data + off, '\n', len - off);
			size_t l = nl ? (size_t)(nl - data) - off : len - off;
			json_error_t je;
			line++;
			json_t *o = json_loadb(data + off, l, 0, &je);
			off += l + 1;
			if (!o) {
				snprintf(err, errlen, "%s:%zu: malformed JSON: %s", name, line,
				         je.text);
				rc = GK_ESYNTAX;
				break;
			}
			if (line > 1 && json_is_object(o) && !json_object_get(o, "op")) {
				const char *d = str(o, "domain"), *why;
				char norm[256];
				int dl;
				if (pass == 0 && d &&
				    (dl = gk_sync_feed_domain_normalise(d, strlen(d), norm,
				                                        &why)) >= 0) {
					uint32_t ix;
					int arc = gk_strmap_add(&domains, norm, (size_t)dl, &ix);
					rc = arc < 0 ? arc : 0;
				} else if (pass == 1)
					lint_record(&c, line, o);
			}
			json_decref(o);
		}
	}
	gk_strmap_free(&domains);
	if (rc == GK_ENOMEM)
		snprintf(err, errlen, "%s: out of memory", name);
	return rc;
}
