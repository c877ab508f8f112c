/* SPDX-License-Identifier: MIT */
/* src/ctl/report_xlsx.c -- gkctl report --format xlsx: the regulator's layout as a real
 * spreadsheet (libxlsxwriter). Sheets: 通报表 (the monthly notification table per access
 * provider, its total row and the filing rate), 准确率 (access-location accuracy per
 * provider named in the filings, its total row, the inaccurate filings), summary, daily,
 * domains (the CSV's rows).
 * Numbers are written as numbers, so the sheet sums them; dates and times as text in China
 * Standard Time, like the other formats. Definitions are in docs/REPORT.md.
 */
#include <stdio.h>
#include <xlsxwriter.h>
#include "ctl/report.h"
#include "ctl/report_internal.h"

static const char *const reason_names[GK_DISC_NREASONS] = GK_DISC_REASON_NAMES;

static void notice_sheet(lxw_workbook *wb, const gk_report_t *r, lxw_format *bold)
{
	char a[16], b[16], period[96];
	lxw_worksheet *ws = workbook_add_worksheet(wb, "通报表");
	worksheet_set_column(ws, 0, 0, 6, NULL);
	worksheet_set_column(ws, 1, 1, 36, NULL);
	worksheet_set_column(ws, 2, 3, 20, NULL);
	worksheet_write_string(ws, 0, 0, "未备案网站接入情况通报表", bold);
	snprintf(period, sizeof(period), "统计期间：%s 至 %s（北京时间）",
	         gk_ctl_report_date(r->from, a), gk_ctl_report_date(r->to, b));
	worksheet_write_string(ws, 1, 0, period, NULL);
	static const char *const head[] = {"序号", "接入服务单位", "访问的未备案网站数",
	                                   "其中未处理数"};
	for (lxw_col_t c = 0; c < 4; c++)
		worksheet_write_string(ws, 3, c, head[c], bold);
	lxw_row_t row = 4;
	double ta = 0, tu = 0;
	for (size_t i = 0; i < r->n_providers; i++, row++) {
		const gk_report_provider_t *p = &r->providers[i];
		worksheet_write_number(ws, row, 0, (double)(i + 1), NULL);
		worksheet_write_string(ws, row, 1, p->name ? p->name : "（未知）", NULL);
		worksheet_write_number(ws, row, 2, (double)p->accessed, NULL);
		worksheet_write_number(ws, row, 3, (double)p->unhandled, NULL);
		ta += (double)p->accessed;
		tu += (double)p->unhandled;
	}
	worksheet_write_string(ws, row, 0, "合计", bold);
	worksheet_write_number(ws, row, 2, ta, bold);
	worksheet_write_number(ws, row, 3, tu, bold);
	row += 2;
	worksheet_write_string(ws, row, 0, "备案率", bold);
	worksheet_write_number(ws, row, 2, r->rate, NULL);
	worksheet_write_string(ws, row, 3, "已备案 ÷（已备案 ＋ 未处理的未备案）", NULL);
	worksheet_write_string(ws, row + 1, 0, "已备案", NULL);
	worksheet_write_number(ws, row + 1, 2, (double)r->filed, NULL);
	worksheet_write_string(ws, row + 2, 0, "未处理的未备案", NULL);
	worksheet_write_number(ws, row + 2, 2, (double)r->unhandled, NULL);
}

static void kv(lxw_worksheet *ws, lxw_row_t row, const char *k, double v)
{
	worksheet_write_string(ws, row, 0, k, NULL);
	worksheet_write_number(ws, row, 1, v, NULL);
}

static void summary_sheet(lxw_workbook *wb, const gk_report_t *r, lxw_format *bold)
{
	char a[16], b[16], g[32], key[64];
	lxw_worksheet *ws = workbook_add_worksheet(wb, "summary");
	worksheet_set_column(ws, 0, 0, 28, NULL);
	worksheet_set_column(ws, 1, 1, 28, NULL);
	worksheet_write_string(ws, 0, 0, "from", bold);
	worksheet_write_string(ws, 0, 1, gk_ctl_report_date(r->from, a), NULL);
	worksheet_write_string(ws, 1, 0, "to", bold);
	worksheet_write_string(ws, 1, 1, gk_ctl_report_date(r->to, b), NULL);
	worksheet_write_string(ws, 2, 0, "generated", bold);
	worksheet_write_string(ws, 2, 1, gk_ctl_report_time((uint32_t)r->generated, g), NULL);
	lxw_row_t row = 3;
	kv(ws, row++, "filed", (double)r->filed);
	kv(ws, row++, "discovered_unfiled", (double)r->n_unfiled);
	kv(ws, row++, "handled", (double)r->handled);
	kv(ws, row++, "unhandled", (double)r->unhandled);
	kv(ws, row++, "revoked_queried", (double)r->n_revoked);
	kv(ws, row++, "filing_rate", r->rate);
	const gk_report_day_t *t = &r->total;
	kv(ws, row++, "queries", (double)t->queries);
	kv(ws, row++, "resolved", (double)t->resolved);
	kv(ws, row++, "refused_total", (double)gk_ctl_report_refused(t));
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++) {
		snprintf(key, sizeof(key), "refused:%s", reason_names[k]);
		kv(ws, row++, key, (double)t->refused[k]);
	}
	kv(ws, row++, "monitored", (double)t->monitored);
	kv(ws, row++, "noreg", (double)t->noreg);
}

static void daily_sheet(lxw_workbook *wb, const gk_report_t *r, lxw_format *bold)
{
	char a[16];
	lxw_worksheet *ws = workbook_add_worksheet(wb, "daily");
	static const char *const head[] = {
	    "date",    "queries", "resolved",      "refused",
	    "unfiled", "revoked", "new_unhandled", "filing_rate_through"};
	for (lxw_col_t c = 0; c < 8; c++)
		worksheet_write_string(ws, 0, c, head[c], bold);
	worksheet_set_column(ws, 0, 7, 14, NULL);
	for (size_t i = 0; i < r->n_days; i++) {
		const gk_report_day_t *d = &r->days[i];
		lxw_row_t row = (lxw_row_t)(i + 1);
		worksheet_write_string(ws, row, 0, gk_ctl_report_date(d->day, a), NULL);
		worksheet_write_number(ws, row, 1, (double)d->queries, NULL);
		worksheet_write_number(ws, row, 2, (double)d->resolved, NULL);
		worksheet_write_number(ws, row, 3, (double)gk_ctl_report_refused(d), NULL);
		worksheet_write_number(ws, row, 4, (double)d->refused[GK_DISC_UNFILED], NULL);
		worksheet_write_number(ws, row, 5, (double)d->refused[GK_DISC_REVOKED], NULL);
		worksheet_write_number(ws, row, 6, (double)d->new_unhandled, NULL);
		worksheet_write_number(ws, row, 7, d->rate_through, NULL);
	}
}

static lxw_row_t domain_rows(lxw_worksheet *ws, lxw_row_t row, const char *list,
                             const gk_report_domain_t *v, size_t n)
{
	char a[32], b[32];
	for (size_t i = 0; i < n; i++, row++) {
		worksheet_write_string(ws, row, 0, list, NULL);
		worksheet_write_string(ws, row, 1, v[i].name, NULL);
		worksheet_write_number(ws, row, 2, (double)v[i].queries, NULL);
		worksheet_write_string(ws, row, 3, gk_ctl_report_time(v[i].first, a), NULL);
		worksheet_write_string(ws, row, 4, gk_ctl_report_time(v[i].last, b), NULL);
		worksheet_write_string(ws, row, 5, gk_ctl_report_status_name(v[i].status), NULL);
		worksheet_write_string(ws, row, 6, v[i].status == GK_REPORT_FILED ? "yes" : "no",
		                       NULL);
		worksheet_write_number(ws, row, 7, (double)v[i].provider, NULL);
		worksheet_write_string(ws, row, 8, v[i].provider_name ? v[i].provider_name : "",
		                       NULL);
		worksheet_write_string(ws, row, 9, v[i].licence, NULL);
		worksheet_write_string(ws, row, 10, v[i].addrs ? v[i].addrs : "", NULL);
		worksheet_write_string(ws, row, 11, v[i].attributed ? v[i].attributed : "", NULL);
		worksheet_write_string(ws, row, 12, gk_ctl_report_attribution(&v[i]), NULL);
	}
	return row;
}

/* The filed served domains checked, as the CSV's "checked" rows. */
static lxw_row_t check_rows(lxw_worksheet *ws, lxw_row_t row, const gk_report_t *r)
{
	for (size_t i = 0; i < r->n_checks; i++, row++) {
		const gk_report_domain_t *d = r->checks[i].d;
		worksheet_write_string(ws, row, 0, "checked", NULL);
		worksheet_write_string(ws, row, 1, d->name, NULL);
		worksheet_write_string(ws, row, 5, gk_ctl_report_status_name(d->status), NULL);
		worksheet_write_string(ws, row, 6, "yes", NULL);
		worksheet_write_number(ws, row, 7, (double)d->provider, NULL);
		worksheet_write_string(ws, row, 8, d->provider_name ? d->provider_name : "", NULL);
		worksheet_write_string(ws, row, 9, d->licence, NULL);
		worksheet_write_string(ws, row, 10, d->addrs, NULL);
		worksheet_write_string(ws, row, 11, d->attributed ? d->attributed : "", NULL);
		worksheet_write_string(ws, row, 12, gk_ctl_report_attribution(d), NULL);
		worksheet_write_string(ws, row, 13, d->ips ? d->ips : "", NULL);
		worksheet_write_string(ws, row, 14, gk_ctl_report_check_verdict(&r->checks[i]),
		                       NULL);
	}
	return row;
}

/* 接入地溯源准确率 per provider named in the filings, a total row, then the inaccurate
 * filings (docs/REPORT.md "Accuracy"). */
static void accuracy_sheet(lxw_workbook *wb, const gk_report_t *r, lxw_format *bold)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "准确率");
	worksheet_set_column(ws, 0, 0, 6, NULL);
	worksheet_set_column(ws, 1, 1, 36, NULL);
	worksheet_set_column(ws, 2, 5, 16, NULL);
	worksheet_write_string(ws, 0, 0, "接入地溯源准确率", bold);
	static const char *const head[] = {"序号",   "接入服务单位", "核验域名数",
	                                   "准确数", "准确率",       "IP不符数"};
	for (lxw_col_t c = 0; c < 6; c++)
		worksheet_write_string(ws, 2, c, head[c], bold);
	lxw_row_t row = 3;
	for (size_t i = 0; i < r->n_accuracy; i++, row++) {
		const gk_report_accuracy_t *a = &r->accuracy[i];
		worksheet_write_number(ws, row, 0, (double)(i + 1), NULL);
		worksheet_write_string(ws, row, 1, a->provider ? a->provider : "（未填写）", NULL);
		worksheet_write_number(ws, row, 2, (double)a->checked, NULL);
		worksheet_write_number(ws, row, 3, (double)a->matched, NULL);
		worksheet_write_number(ws, row, 4, gk_ctl_report_acc_rate(a->matched, a->checked),
		                       NULL);
		worksheet_write_number(ws, row, 5, (double)a->ips_differ, NULL);
	}
	worksheet_write_string(ws, row, 0, "合计", bold);
	worksheet_write_number(ws, row, 2, (double)r->checked, bold);
	worksheet_write_number(ws, row, 3, (double)r->matched, bold);
	if (r->checked)
		worksheet_write_number(ws, row, 4, gk_ctl_report_acc_rate(r->matched, r->checked),
		                       bold);
	row += 2;
	worksheet_write_string(ws, row++, 0, "接入信息不准确的备案", bold);
	static const char *const mh[] = {"域名",     "备案接入商", "实际接入商",
	                                 "解析地址", "备案IP",     "不符项"};
	for (lxw_col_t c = 0; c < 6; c++)
		worksheet_write_string(ws, row, c, mh[c], bold);
	row++;
	for (size_t i = 0; i < r->n_checks; i++) {
		const gk_report_check_t *k = &r->checks[i];
		if (k->provider_ok && k->ips_ok)
			continue;
		worksheet_write_string(ws, row, 0, k->d->name, NULL);
		worksheet_write_string(ws, row, 1, k->d->provider_name ? k->d->provider_name : "",
		                       NULL);
		worksheet_write_string(ws, row, 2, k->d->attributed ? k->d->attributed : "", NULL);
		worksheet_write_string(ws, row, 3, k->d->addrs, NULL);
		worksheet_write_string(ws, row, 4, k->d->ips ? k->d->ips : "", NULL);
		worksheet_write_string(ws, row, 5, gk_ctl_report_check_verdict(k), NULL);
		row++;
	}
}

static void domains_sheet(lxw_workbook *wb, const gk_report_t *r, lxw_format *bold)
{
	lxw_worksheet *ws = workbook_add_worksheet(wb, "domains");
	static const char *const head[] = {"list",        "domain",  "queries",   "first_seen",
	                                   "last_seen",   "status",  "handled",   "provider_id",
	                                   "provider",    "licence", "addresses", "attributed",
	                                   "attribution", "ips",     "check"};
	for (lxw_col_t c = 0; c < 15; c++)
		worksheet_write_string(ws, 0, c, head[c], bold);
	worksheet_set_column(ws, 0, 0, 8, NULL);
	worksheet_set_column(ws, 1, 1, 32, NULL);
	worksheet_set_column(ws, 2, 14, 26, NULL);
	lxw_row_t row = domain_rows(ws, 1, "unfiled", r->unfiled, r->n_unfiled);
	row = domain_rows(ws, row, "revoked", r->revoked, r->n_revoked);
	check_rows(ws, row, r);
}

int gk_ctl_report_write_xlsx(const gk_report_t *r, const char *path, char *err, size_t errlen)
{
	lxw_workbook *wb = workbook_new(path);
	if (wb == NULL) {
		snprintf(err, errlen, "%s: cannot create the workbook", path);
		return GK_EIO;
	}
	lxw_format *bold = workbook_add_format(wb);
	format_set_bold(bold);
	notice_sheet(wb, r, bold);
	accuracy_sheet(wb, r, bold);
	summary_sheet(wb, r, bold);
	daily_sheet(wb, r, bold);
	domains_sheet(wb, r, bold);
	lxw_error e = workbook_close(wb);
	if (e != LXW_NO_ERROR) {
		snprintf(err, errlen, "%s: %s", path, lxw_strerror(e));
		return GK_EIO;
	}
	return 0;
}
