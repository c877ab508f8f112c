/* SPDX-License-Identifier: MIT */
/* src/ctl/report_fmt.c -- gkctl report renderers: table (people), csv (one row per domain),
 * json (everything), notice (the regulator's monthly notification table). HTML is in
 * report_html.c. Times are China Standard Time, like the days.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ctl/report.h"
#include "ctl/report_internal.h"

static const char *const reason_names[GK_DISC_NREASONS] = GK_DISC_REASON_NAMES;

const char *gk_ctl_report_status_name(int status)
{
	return status == GK_REPORT_FILED     ? "filed"
	       : status == GK_REPORT_REVOKED ? "revoked"
	                                     : "unfiled";
}

char *gk_ctl_report_time(uint32_t t, char buf[32])
{
	time_t x = (time_t)t + GK_DISC_TZ_OFFSET_S;
	struct tm tm;
	gmtime_r(&x, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%S+08:00", &tm);
	return buf;
}

char *gk_ctl_report_date(uint32_t day, char buf[16])
{
	snprintf(buf, 16, "%04u-%02u-%02u", day / 10000, day / 100 % 100, day % 100);
	return buf;
}

uint64_t gk_ctl_report_refused(const gk_report_day_t *d)
{
	uint64_t n = 0;
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
		n += d->refused[k];
	return n;
}

const char *gk_ctl_report_attribution(const gk_report_domain_t *e)
{
	return e->addrs == NULL  ? "not served"
	       : e->attributed   ? "range"
	       : e->special_only ? "private"
	                         : "unknown";
}

const char *gk_ctl_report_check_verdict(const gk_report_check_t *k)
{
	return k->provider_ok ? (k->ips_ok ? "match" : "ips")
	                      : (k->ips_ok ? "provider" : "provider+ips");
}

size_t gk_ctl_report_n_mismatches(const gk_report_t *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_checks; i++)
		n += !r->checks[i].provider_ok || !r->checks[i].ips_ok;
	return n;
}

double gk_ctl_report_acc_rate(uint64_t matched, uint64_t checked)
{
	return checked ? (double)matched / (double)checked : -1.0;
}

static void cell(FILE *o, const char *s, size_t w, bool right);

/* ---- table ------------------------------------------------------------------------------ */

static void table_domains(FILE *o, const char *title, const gk_report_domain_t *v, size_t n)
{
	char a[32], b[32];
	fprintf(o, "\n%s: %zu\n", title, n);
	if (n == 0)
		return;
	fprintf(o, "%-32s %10s  %-25s  %-25s  %-8s  %s\n", "domain", "queries", "first seen",
	        "last seen", "now", "provider (filing) / attributed [addresses]");
	for (size_t i = 0; i < n; i++)
		fprintf(o, "%-32s %10llu  %-25s  %-25s  %-8s  %s / %s [%s]\n", v[i].name,
		        (unsigned long long)v[i].queries, gk_ctl_report_time(v[i].first, a),
		        gk_ctl_report_time(v[i].last, b), gk_ctl_report_status_name(v[i].status),
		        v[i].provider_name ? v[i].provider_name : "-",
		        v[i].attributed ? v[i].attributed : gk_ctl_report_attribution(&v[i]),
		        v[i].addrs ? v[i].addrs : "");
}

static void write_table_accuracy(const gk_report_t *r, FILE *o)
{
	double rate = gk_ctl_report_acc_rate(r->matched, r->checked);
	fprintf(o, "\nAccess-location accuracy: %llu of %llu filed served domains checked match",
	        (unsigned long long)r->matched, (unsigned long long)r->checked);
	if (rate >= 0)
		fprintf(o, " (%.2f%%)", 100.0 * rate);
	fprintf(o,
	        "; served sites %zu, filed %llu, not checked (no public address) %llu; filed "
	        "ranges %zu\n",
	        r->n_served, (unsigned long long)r->served_filed,
	        (unsigned long long)r->not_checked, r->n_ranges);
	if (r->n_accuracy > 0)
		fprintf(o, "%-40s %10s %10s %9s %10s\n", "provider (filing)", "checked", "matched",
		        "accuracy", "ips differ");
	for (size_t i = 0; i < r->n_accuracy; i++) {
		const gk_report_accuracy_t *a = &r->accuracy[i];
		cell(o, a->provider ? a->provider : "(none named)", 40, false);
		fprintf(o, " %10llu %10llu %8.2f%% %10llu\n", (unsigned long long)a->checked,
		        (unsigned long long)a->matched,
		        100.0 * gk_ctl_report_acc_rate(a->matched, a->checked),
		        (unsigned long long)a->ips_differ);
	}
	fprintf(o, "\nInaccurate filings: %zu\n", gk_ctl_report_n_mismatches(r));
	for (size_t i = 0; i < r->n_checks; i++) {
		const gk_report_check_t *k = &r->checks[i];
		if (k->provider_ok && k->ips_ok)
			continue;
		fprintf(o, "%-32s %-12s filed %s, observed %s [%s] ips [%s]\n", k->d->name,
		        gk_ctl_report_check_verdict(k),
		        k->d->provider_name ? k->d->provider_name : "-",
		        k->d->attributed ? k->d->attributed : "(unknown)", k->d->addrs,
		        k->d->ips ? k->d->ips : "");
	}
}

static void write_table(const gk_report_t *r, FILE *o)
{
	char a[16], b[16];
	const gk_report_day_t *t = &r->total;
	fprintf(o, "Discovery report %s .. %s (China Standard Time)\n",
	        gk_ctl_report_date(r->from, a), gk_ctl_report_date(r->to, b));
	fprintf(o, "filing rate %.2f%% = filed %llu / (filed %llu + unhandled %llu)\n",
	        100.0 * r->rate, (unsigned long long)r->filed, (unsigned long long)r->filed,
	        (unsigned long long)r->unhandled);
	/* the sites accessed (docs/REPORT.md): discovered unfiled domains plus revoked domains
	 * still queried that are not also among them, each once */
	fprintf(o,
	        "sites accessed %llu (unfiled discovered %zu, revoked still queried %zu): handled "
	        "(filed since) %llu, unhandled %llu\n",
	        (unsigned long long)(r->handled + r->unhandled), r->n_unfiled, r->n_revoked,
	        (unsigned long long)r->handled, (unsigned long long)r->unhandled);
	fprintf(o, "revoked domains still queried %zu\n", r->n_revoked);
	fprintf(o, "queries %llu: resolved %llu, refused %llu (", (unsigned long long)t->queries,
	        (unsigned long long)t->resolved, (unsigned long long)gk_ctl_report_refused(t));
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
		fprintf(o, "%s%s %llu", k ? ", " : "", reason_names[k],
		        (unsigned long long)t->refused[k]);
	fprintf(o, "); monitored %llu, no registrable domain %llu\n",
	        (unsigned long long)t->monitored, (unsigned long long)t->noreg);
	uint64_t ov = 0, dr = 0;
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
		ov += t->overflow[k], dr += t->dropped[k];
	fprintf(o, "not counted per domain: overflow %llu, dropped %llu\n", (unsigned long long)ov,
	        (unsigned long long)dr);
	table_domains(o, "Unfiled domains", r->unfiled, r->n_unfiled);
	table_domains(o, "Revoked domains still queried", r->revoked, r->n_revoked);
	fprintf(o, "\nAccess providers: %zu\n", r->n_providers);
	if (r->n_providers > 0)
		fprintf(o, "%-40s %10s %10s\n", "provider", "accessed", "unhandled");
	for (size_t i = 0; i < r->n_providers; i++) {
		cell(o, r->providers[i].name ? r->providers[i].name : "(unknown)", 40, false);
		fprintf(o, " %10llu %10llu\n", (unsigned long long)r->providers[i].accessed,
		        (unsigned long long)r->providers[i].unhandled);
	}
	write_table_accuracy(r, o);
	fprintf(o, "\n%-10s %10s %10s %10s %10s %10s %9s\n", "day", "queries", "resolved",
	        "refused", "unfiled", "revoked", "rate");
	for (size_t i = 0; i < r->n_days; i++) {
		const gk_report_day_t *d = &r->days[i];
		fprintf(o, "%-10s %10llu %10llu %10llu %10llu %10llu %8.2f%%\n",
		        gk_ctl_report_date(d->day, a), (unsigned long long)d->queries,
		        (unsigned long long)d->resolved,
		        (unsigned long long)gk_ctl_report_refused(d),
		        (unsigned long long)d->refused[GK_DISC_UNFILED],
		        (unsigned long long)d->refused[GK_DISC_REVOKED], 100.0 * d->rate_through);
	}
}

/* ---- csv ---------------------------------------------------------------------------------- */

static void csv_field(FILE *o, const char *s)
{
	if (strpbrk(s, ",\"\n\r") == NULL) {
		fputs(s, o);
		return;
	}
	fputc('"', o);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', o);
		fputc(*s, o);
	}
	fputc('"', o);
}

static void csv_rows(FILE *o, const char *list, const gk_report_domain_t *v, size_t n)
{
	char a[32], b[32];
	for (size_t i = 0; i < n; i++) {
		fprintf(o, "%s,", list);
		csv_field(o, v[i].name);
		fprintf(o, ",%llu,%s,%s,%s,%s,%u,", (unsigned long long)v[i].queries,
		        gk_ctl_report_time(v[i].first, a), gk_ctl_report_time(v[i].last, b),
		        gk_ctl_report_status_name(v[i].status),
		        v[i].status == GK_REPORT_FILED ? "yes" : "no", v[i].provider);
		csv_field(o, v[i].provider_name ? v[i].provider_name : "");
		fputc(',', o);
		csv_field(o, v[i].licence);
		fputc(',', o);
		csv_field(o, v[i].addrs ? v[i].addrs : "");
		fputc(',', o);
		csv_field(o, v[i].attributed ? v[i].attributed : "");
		fprintf(o, ",%s,,\n", gk_ctl_report_attribution(&v[i]));
	}
}

/* The filed served domains checked (docs/REPORT.md "Accuracy"): provider is the filed one,
 * attributed the observed one. */
static void csv_checks(FILE *o, const gk_report_t *r)
{
	for (size_t i = 0; i < r->n_checks; i++) {
		const gk_report_domain_t *d = r->checks[i].d;
		fputs("checked,", o);
		csv_field(o, d->name);
		fprintf(o, ",,,,%s,yes,%u,", gk_ctl_report_status_name(d->status), d->provider);
		csv_field(o, d->provider_name ? d->provider_name : "");
		fputc(',', o);
		csv_field(o, d->licence);
		fputc(',', o);
		csv_field(o, d->addrs);
		fputc(',', o);
		csv_field(o, d->attributed ? d->attributed : "");
		fprintf(o, ",%s,", gk_ctl_report_attribution(d));
		csv_field(o, d->ips ? d->ips : "");
		fprintf(o, ",%s\n", gk_ctl_report_check_verdict(&r->checks[i]));
	}
}

static void write_csv(const gk_report_t *r, FILE *o)
{
	fputs("list,domain,queries,first_seen,last_seen,status,handled,provider_id,provider,"
	      "licence,addresses,attributed,attribution,ips,check\n",
	      o);
	csv_rows(o, "unfiled", r->unfiled, r->n_unfiled);
	csv_rows(o, "revoked", r->revoked, r->n_revoked);
	csv_checks(o, r);
}

/* ---- json --------------------------------------------------------------------------------- */

/* Space-separated addresses as an array (null: not served). */
static json_t *json_addrs(const char *addrs)
{
	if (addrs == NULL)
		return json_null();
	json_t *a = json_array();
	for (const char *p = addrs; *p;) {
		size_t n = strcspn(p, " ");
		if (n > 0)
			json_array_append_new(a, json_stringn(p, n));
		p += n;
		p += *p == ' ';
	}
	return a;
}

static json_t *json_rate(uint64_t matched, uint64_t checked)
{
	return checked ? json_real((double)matched / (double)checked) : json_null();
}

static json_t *json_accuracy(const gk_report_t *r)
{
	json_t *provs = json_array(), *mis = json_array();
	for (size_t i = 0; i < r->n_accuracy; i++) {
		const gk_report_accuracy_t *a = &r->accuracy[i];
		json_t *o = json_pack(
		    "{s:s?, s:I, s:I, s:o, s:I}", "provider", a->provider, "checked",
		    (json_int_t)a->checked, "matched", (json_int_t)a->matched, "accuracy",
		    json_rate(a->matched, a->checked), "ips_differ", (json_int_t)a->ips_differ);
		json_array_append_new(provs, o);
	}
	for (size_t i = 0; i < r->n_checks; i++) {
		const gk_report_check_t *k = &r->checks[i];
		if (k->provider_ok && k->ips_ok)
			continue;
		json_t *o = json_pack(
		    "{s:s, s:s?, s:s?, s:o, s:o, s:b, s:b, s:s}", "domain", k->d->name,
		    "filed_provider", k->d->provider_name, "observed_provider", k->d->attributed,
		    "addresses", json_addrs(k->d->addrs), "ips",
		    k->d->ips ? json_addrs(k->d->ips) : json_null(), "provider_ok", k->provider_ok,
		    "ips_ok", k->ips_ok, "check", gk_ctl_report_check_verdict(k));
		json_array_append_new(mis, o);
	}
	return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "ranges",
	                 (json_int_t)r->n_ranges, "served", (json_int_t)r->n_served, "served_filed",
	                 (json_int_t)r->served_filed, "not_checked", (json_int_t)r->not_checked,
	                 "checked", (json_int_t)r->checked, "matched", (json_int_t)r->matched,
	                 "accuracy", json_rate(r->matched, r->checked), "providers", provs,
	                 "mismatches", mis);
}

static json_t *json_domains(const gk_report_domain_t *v, size_t n)
{
	char a[32], b[32], c[16];
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_pack("{s:s, s:I, s:s, s:s, s:s, s:s, s:b, s:I, s:s?, s:s}",
		                      "domain", v[i].name, "queries", (json_int_t)v[i].queries,
		                      "first_seen", gk_ctl_report_time(v[i].first, a), "last_seen",
		                      gk_ctl_report_time(v[i].last, b), "first_day",
		                      gk_ctl_report_date(v[i].first_day, c), "status",
		                      gk_ctl_report_status_name(v[i].status), "handled",
		                      v[i].status == GK_REPORT_FILED, "provider_id",
		                      (json_int_t)v[i].provider, "provider", v[i].provider_name,
		                      "licence", v[i].licence);
		json_object_set_new(o, "addresses", json_addrs(v[i].addrs));
		json_object_set_new(o, "attributed",
		                    v[i].attributed ? json_string(v[i].attributed) : json_null());
		json_object_set_new(o, "attribution",
		                    json_string(gk_ctl_report_attribution(&v[i])));
		json_array_append_new(arr, o);
	}
	return arr;
}

static json_t *json_counts(const uint64_t *v)
{
	json_t *o = json_object();
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
		json_object_set_new(o, reason_names[k], json_integer((json_int_t)v[k]));
	return o;
}

static json_t *json_day(const gk_report_day_t *d)
{
	char a[16];
	json_t *o =
	    json_pack("{s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "queries", (json_int_t)d->queries,
	              "resolved", (json_int_t)d->resolved, "refused_total",
	              (json_int_t)gk_ctl_report_refused(d), "monitored", (json_int_t)d->monitored,
	              "noreg", (json_int_t)d->noreg, "refused", json_counts(d->refused), "overflow",
	              json_counts(d->overflow), "dropped", json_counts(d->dropped));
	if (d->day != 0) {
		json_object_set_new(o, "date", json_string(gk_ctl_report_date(d->day, a)));
		json_object_set_new(o, "new_unhandled", json_integer((json_int_t)d->new_unhandled));
		json_object_set_new(o, "filing_rate_through", json_real(d->rate_through));
	}
	return o;
}

static int write_json(const gk_report_t *r, FILE *o)
{
	char a[16], b[16], g[32];
	json_t *days = json_array();
	for (size_t i = 0; i < r->n_days; i++)
		json_array_append_new(days, json_day(&r->days[i]));
	json_t *provs = json_array();
	for (size_t i = 0; i < r->n_providers; i++)
		json_array_append_new(
		    provs, json_pack("{s:s?, s:I, s:I}", "provider", r->providers[i].name,
		                     "accessed", (json_int_t)r->providers[i].accessed, "unhandled",
		                     (json_int_t)r->providers[i].unhandled));
	json_t *root = json_pack(
	    "{s:{s:s, s:s, s:s}, s:{s:I, s:I, s:I, s:I, s:I, s:f}, s:o, s:o, s:o, s:o, s:o}",
	    "period", "from", gk_ctl_report_date(r->from, a), "to", gk_ctl_report_date(r->to, b),
	    "generated", gk_ctl_report_time((uint32_t)r->generated, g), "summary", "filed",
	    (json_int_t)r->filed, "discovered_unfiled", (json_int_t)r->n_unfiled, "handled",
	    (json_int_t)r->handled, "unhandled", (json_int_t)r->unhandled, "revoked_queried",
	    (json_int_t)r->n_revoked, "filing_rate", r->rate, "totals", json_day(&r->total), "days",
	    days, "unfiled", json_domains(r->unfiled, r->n_unfiled), "revoked",
	    json_domains(r->revoked, r->n_revoked), "providers", provs);
	if (root == NULL)
		return GK_ENOMEM;
	json_object_set_new(json_object_get(root, "summary"), "attributed",
	                    json_integer((json_int_t)r->attributed));
	json_object_set_new(root, "accuracy", json_accuracy(r));
	int rc = json_dumpf(root, o, JSON_INDENT(2) | JSON_REAL_PRECISION(10)) == 0 ? 0 : GK_EIO;
	fputc('\n', o);
	json_decref(root);
	return rc;
}

/* ---- notice --------------------------------------------------------------------------- */

/* Display width of UTF-8 text: East Asian wide characters take two columns. */
static size_t width(const char *s)
{
	size_t w = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		unsigned cp;
		int n;
		if (*p < 0x80)
			cp = *p, n = 1;
		else if ((*p & 0xe0) == 0xc0)
			cp = *p & 0x1f, n = 2;
		else if ((*p & 0xf0) == 0xe0)
			cp = *p & 0x0f, n = 3;
		else
			cp = *p & 0x07, n = 4;
		for (int i = 1; i < n && p[i]; i++)
			cp = cp << 6 | (p[i] & 0x3f);
		for (int i = 0; i < n && *p; i++)
			p++;
		w += (cp >= 0x1100 &&
		      (cp <= 0x115f || (cp >= 0x2e80 && cp <= 0xa4cf) ||
		       (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
		       (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
		       (cp >= 0xffe0 && cp <= 0xffe6)))
		         ? 2
		         : 1;
	}
	return w;
}

static void cell(FILE *o, const char *s, size_t w, bool right)
{
	size_t sw = width(s);
	size_t pad = sw < w ? w - sw : 0;
	if (right)
		fprintf(o, "%*s%s", (int)pad, "", s);
	else
		fprintf(o, "%s%*s", s, (int)pad, "");
}

/* 接入地溯源准确率: per provider named in the filings. */
static void notice_accuracy(const gk_report_t *r, FILE *o)
{
	char idx[24], n1[24], n2[24], n3[24];
	size_t wname = width("接入服务单位");
	for (size_t i = 0; i < r->n_accuracy; i++) {
		const char *nm = r->accuracy[i].provider ? r->accuracy[i].provider : "（未填写）";
		if (width(nm) > wname)
			wname = width(nm);
	}
	const size_t wi = 6, wc = width("核验域名数"), wm = width("准确数"), wr = 9;
	fputs("\n接入地溯源准确率\n\n", o);
	cell(o, "序号", wi, false);
	fputs("  ", o);
	cell(o, "接入服务单位", wname, false);
	fputs("  ", o);
	cell(o, "核验域名数", wc, true);
	fputs("  ", o);
	cell(o, "准确数", wm, true);
	fputs("  ", o);
	cell(o, "准确率", wr, true);
	fputc('\n', o);
	for (size_t i = 0; i <= r->n_accuracy; i++) {
		bool total = i == r->n_accuracy;
		uint64_t c = total ? r->checked : r->accuracy[i].checked;
		uint64_t m = total ? r->matched : r->accuracy[i].matched;
		snprintf(idx, sizeof(idx), "%zu", i + 1);
		snprintf(n1, sizeof(n1), "%llu", (unsigned long long)c);
		snprintf(n2, sizeof(n2), "%llu", (unsigned long long)m);
		if (c)
			snprintf(n3, sizeof(n3), "%.2f%%", 100.0 * (double)m / (double)c);
		else
			snprintf(n3, sizeof(n3), "-");
		cell(o, total ? "合计" : idx, wi, false);
		fputs("  ", o);
		cell(o,
		     total                     ? ""
		     : r->accuracy[i].provider ? r->accuracy[i].provider
		                               : "（未填写）",
		     wname, false);
		fputs("  ", o);
		cell(o, n1, wc, true);
		fputs("  ", o);
		cell(o, n2, wm, true);
		fputs("  ", o);
		cell(o, n3, wr, true);
		fputc('\n', o);
	}
	fprintf(o, "\n接入信息不准确的备案：%zu\n", gk_ctl_report_n_mismatches(r));
	for (size_t i = 0; i < r->n_checks; i++) {
		const gk_report_check_t *k = &r->checks[i];
		if (k->provider_ok && k->ips_ok)
			continue;
		fprintf(o, "%s  备案接入商：%s  实际接入商：%s  解析地址：%s\n", k->d->name,
		        k->d->provider_name ? k->d->provider_name : "（未填写）",
		        k->d->attributed ? k->d->attributed : "（未知）", k->d->addrs);
	}
}

static void write_notice(const gk_report_t *r, FILE *o)
{
	char a[16], b[16], n1[24], n2[24], idx[24];
	size_t wname = width("接入服务单位");
	for (size_t i = 0; i < r->n_providers; i++) {
		const char *nm = r->providers[i].name ? r->providers[i].name : "（未知）";
		if (width(nm) > wname)
			wname = width(nm);
	}
	const size_t wi = 6, wa = width("访问的未备案网站数"), wu = width("其中未处理数");
	fprintf(o, "未备案网站接入情况通报表\n统计期间：%s 至 %s（北京时间）\n\n",
	        gk_ctl_report_date(r->from, a), gk_ctl_report_date(r->to, b));
	cell(o, "序号", wi, false);
	fputs("  ", o);
	cell(o, "接入服务单位", wname, false);
	fputs("  ", o);
	cell(o, "访问的未备案网站数", wa, true);
	fputs("  ", o);
	cell(o, "其中未处理数", wu, true);
	fputc('\n', o);
	uint64_t ta = 0, tu = 0;
	for (size_t i = 0; i < r->n_providers; i++) {
		const gk_report_provider_t *p = &r->providers[i];
		snprintf(idx, sizeof(idx), "%zu", i + 1);
		snprintf(n1, sizeof(n1), "%llu", (unsigned long long)p->accessed);
		snprintf(n2, sizeof(n2), "%llu", (unsigned long long)p->unhandled);
		cell(o, idx, wi, false);
		fputs("  ", o);
		cell(o, p->name ? p->name : "（未知）", wname, false);
		fputs("  ", o);
		cell(o, n1, wa, true);
		fputs("  ", o);
		cell(o, n2, wu, true);
		fputc('\n', o);
		ta += p->accessed;
		tu += p->unhandled;
	}
	snprintf(n1, sizeof(n1), "%llu", (unsigned long long)ta);
	snprintf(n2, sizeof(n2), "%llu", (unsigned long long)tu);
	cell(o, "合计", wi, false);
	fputs("  ", o);
	cell(o, "", wname, false);
	fputs("  ", o);
	cell(o, n1, wa, true);
	fputs("  ", o);
	cell(o, n2, wu, true);
	fprintf(o, "\n\n备案率：%.2f%%（已备案 %llu ÷（已备案 %llu ＋ 未处理的未备案 %llu））\n",
	        100.0 * r->rate, (unsigned long long)r->filed, (unsigned long long)r->filed,
	        (unsigned long long)r->unhandled);
	notice_accuracy(r, o);
}

int gk_ctl_report_write(const gk_report_t *r, enum gk_report_format f, FILE *o)
{
	int rc = 0;
	switch (f) {
	case GK_REPORT_TABLE:
		write_table(r, o);
		break;
	case GK_REPORT_CSV:
		write_csv(r, o);
		break;
	case GK_REPORT_JSON:
		rc = write_json(r, o);
		break;
	case GK_REPORT_HTML:
		gk_ctl_report_write_html(r, o);
		break;
	case GK_REPORT_NOTICE:
		write_notice(r, o);
		break;
	case GK_REPORT_XLSX:
		return GK_EINVAL;
	}
	return rc != 0 ? rc : ferror(o) ? GK_EIO : 0;
}
