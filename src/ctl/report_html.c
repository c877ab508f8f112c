/* SPDX-License-Identifier: MIT */
/* src/ctl/report_html.c -- gkctl report --format html: one self-contained page.
 *
 * Everything is inline: the style sheet, three SVG charts drawn here (refusals per day
 * stacked by reason, the top unfiled domains, the filing rate through each day) and a small
 * script that re-adds the domain table in the browser and shows the sums beside the ones
 * written here (so a headless browser test proves the page rendered and its numbers agree).
 * No external resource, so the page works offline and inside a mail attachment. Numbers in
 * tables carry data-v with the exact value.
 */
#include <stdio.h>
#include <string.h>
#include "ctl/report.h"
#include "ctl/report_internal.h"

#define TOP_N    20
#define ROWS_MAX 10000 /* domain rows in a page; the CSV has them all */

static const char *const reason_names[GK_DISC_NREASONS] = GK_DISC_REASON_NAMES;
static const char *const reason_colors[GK_DISC_NREASONS] = {"#d9534f", "#8e44ad", "#f0ad4e",
                                                            "#5bc0de", "#34495e", "#95a5a6"};

static void esc(FILE *o, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '<':
			fputs("&lt;", o);
			break;
		case '>':
			fputs("&gt;", o);
			break;
		case '&':
			fputs("&amp;", o);
			break;
		case '"':
			fputs("&quot;", o);
			break;
		default:
			fputc(*s, o);
		}
	}
}

static void num_td(FILE *o, const char *cls, uint64_t v)
{
	fprintf(o, "<td class=\"%s num\" data-v=\"%llu\">%llu</td>", cls, (unsigned long long)v,
	        (unsigned long long)v);
}

/* The smallest of 1, 2, 5 x 10^k that covers max in at most n steps (>= 1). */
static uint64_t nice_step(uint64_t max, unsigned n)
{
	for (uint64_t mag = 1;; mag *= 10)
		for (unsigned m = 0; m < 3; m++) {
			uint64_t st = mag * (uint64_t)(m == 0 ? 1 : m == 1 ? 2 : 5);
			if (st * n >= max)
				return st;
		}
}

/* A y-axis title (rotated, left of the ticks) and an x-axis title (under the labels). */
static void axis_titles(FILE *o, double L, double T, double pw, double ph, const char *y,
                        const char *x)
{
	fprintf(o,
	        "<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" "
	        "transform=\"rotate(-90 %.1f %.1f)\">%s</text>\n"
	        "<text class=\"axis-title\" x=\"%.1f\" y=\"%.1f\" "
	        "text-anchor=\"middle\">%s</text>\n",
	        12.0, T + ph / 2, 12.0, T + ph / 2, y, L + pw / 2, T + ph + 32, x);
}

static void chart_refusals(const gk_report_t *r, FILE *o)
{
	const double W = 900, H = 260, L = 60, B = 40, T = 10, R = 10;
	uint64_t max = 1;
	for (size_t i = 0; i < r->n_days; i++)
		if (gk_ctl_report_refused(&r->days[i]) > max)
			max = gk_ctl_report_refused(&r->days[i]);
	double pw = W - L - R, ph = H - T - B, bw = pw / (double)r->n_days;
	fprintf(o,
	        "<svg id=\"chart-refusals\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
	        W, H + 24, W, H + 24);
	fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#333\"/>\n", L,
	        T + ph, L + pw, T + ph);
	/* round ticks: a step of 1, 2 or 5 times a power of ten, at most 5 steps; the axis
	 * ends at the first tick at or above the highest day */
	uint64_t step = nice_step(max, 5), top = (max + step - 1) / step * step;
	for (uint64_t v = 0; v <= top; v += step) {
		double y = T + ph - ph * (double)v / (double)top;
		fprintf(
		    o,
		    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"ax tick\">%llu</text>"
		    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
		    L - 6, y + 4, (unsigned long long)v, L, y, L + pw, y);
	}
	max = top;
	axis_titles(o, L, T, pw, ph, "refused queries per day", "date (China Standard Time)");
	size_t every = r->n_days / 10 + 1;
	char a[16];
	for (size_t i = 0; i < r->n_days; i++) {
		const gk_report_day_t *d = &r->days[i];
		double x = L + bw * (double)i, y = T + ph;
		fprintf(o,
		        "<g class=\"day\" data-date=\"%s\" data-refused=\"%llu\"><title>%s: %llu "
		        "refused</title>",
		        gk_ctl_report_date(d->day, a), (unsigned long long)gk_ctl_report_refused(d),
		        a, (unsigned long long)gk_ctl_report_refused(d));
		for (unsigned k = 0; k < GK_DISC_NREASONS; k++) {
			if (d->refused[k] == 0)
				continue;
			double h = ph * (double)d->refused[k] / (double)max;
			y -= h;
			fprintf(o,
			        "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
			        "fill=\"%s\"/>",
			        x + bw * 0.1, y, bw * 0.8, h, reason_colors[k]);
		}
		fputs("</g>\n", o);
		if (i % every == 0)
			fprintf(
			    o,
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"ax\">%.5s"
			    "</text>\n",
			    x + bw / 2, T + ph + 16, a + 5);
	}
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
		fprintf(o,
		        "<rect x=\"%.0f\" y=\"%.0f\" width=\"10\" height=\"10\" fill=\"%s\"/>"
		        "<text x=\"%.0f\" y=\"%.0f\" class=\"ax\">%s</text>\n",
		        L + 110.0 * k, H + 8, reason_colors[k], L + 110.0 * k + 14, H + 17,
		        reason_names[k]);
	fputs("</svg>\n", o);
}

static void chart_top(const gk_report_t *r, FILE *o)
{
	size_t n = r->n_unfiled < TOP_N ? r->n_unfiled : TOP_N;
	const double W = 900, L = 260, R = 80, rowh = 22;
	double H = rowh * (double)(n ? n : 1) + 10;
	uint64_t max = n ? r->unfiled[0].queries : 1;
	if (max == 0)
		max = 1;
	fprintf(o,
	        "<svg id=\"chart-top\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
	        W, H, W, H);
	if (n == 0)
		fputs("<text x=\"10\" y=\"20\" class=\"ax\">no unfiled domain discovered</text>\n",
		      o);
	for (size_t i = 0; i < n; i++) {
		const gk_report_domain_t *d = &r->unfiled[i];
		double y = 5 + rowh * (double)i, w = (W - L - R) * (double)d->queries / (double)max;
		fputs("<g class=\"top\"><text x=\"", o);
		fprintf(o, "%.0f\" y=\"%.1f\" text-anchor=\"end\" class=\"ax\">", L - 8, y + 15);
		esc(o, d->name);
		fprintf(o,
		        "</text><rect x=\"%.0f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
		        "fill=\"%s\"/><text x=\"%.1f\" y=\"%.1f\" class=\"ax\">%llu</text></g>\n",
		        L, y + 2, w < 1 ? 1 : w, rowh - 6,
		        d->status == GK_REPORT_FILED ? "#5cb85c" : "#d9534f", L + w + 6, y + 15,
		        (unsigned long long)d->queries);
	}
	fputs("</svg>\n", o);
}

static void chart_rate(const gk_report_t *r, FILE *o)
{
	const double W = 900, H = 220, L = 60, B = 44, T = 10, R = 40;
	double lo = 1.0;
	/* a day without data (no query counted: gatekeeperd down, or the day not come yet) has
	 * no point: its rate would only repeat the day before, or show 100% from nothing */
	for (size_t i = 0; i < r->n_days; i++)
		if (r->days[i].queries && r->days[i].rate_through < lo)
			lo = r->days[i].rate_through;
	lo = (double)(int)(lo * 10.0) / 10.0; /* down to a multiple of 10% */
	if (lo > 0.9)
		lo = 0.9;
	double pw = W - L - R, ph = H - T - B;
	double step = r->n_days > 1 ? pw / (double)(r->n_days - 1) : 0;
	fprintf(o,
	        "<svg id=\"chart-rate\" xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" "
	        "height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" role=\"img\">\n",
	        W, H, W, H);
	for (int k = 0; k <= 2; k++) {
		double v = lo + (1.0 - lo) * k / 2.0, y = T + ph - ph * k / 2.0;
		fprintf(o,
		        "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\" class=\"ax\">%.0f%%</text>"
		        "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n",
		        L - 6, y + 4, v * 100, L, y, L + pw, y);
	}
	/* one line per run of days with data: a gap shows as a gap */
	for (size_t i = 0; i < r->n_days;) {
		if (!r->days[i].queries) {
			i++;
			continue;
		}
		fputs("<polyline fill=\"none\" stroke=\"#337ab7\" stroke-width=\"2\" points=\"", o);
		for (; i < r->n_days && r->days[i].queries; i++)
			fprintf(o, "%.1f,%.1f ", L + step * (double)i,
			        T + ph - ph * (r->days[i].rate_through - lo) / (1.0 - lo));
		fputs("\"/>\n", o);
	}
	char a[16];
	size_t every = r->n_days / 10 + 1;
	for (size_t i = 0; i < r->n_days; i++) {
		double x = L + step * (double)i,
		       y = T + ph - ph * (r->days[i].rate_through - lo) / (1.0 - lo);
		gk_ctl_report_date(r->days[i].day, a);
		if (r->days[i].queries)
			fprintf(o,
			        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"#337ab7\" "
			        "data-date=\"%s\" data-rate=\"%.6f\"><title>%s: "
			        "%.2f%%</title></circle>\n",
			        x, y, gk_ctl_report_date(r->days[i].day, a),
			        r->days[i].rate_through, a, 100 * r->days[i].rate_through);
		if (i % every == 0)
			fprintf(
			    o,
			    "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" class=\"ax\">%.5s"
			    "</text>\n",
			    x, T + ph + 18, a + 5);
	}
	axis_titles(o, L, T, pw, ph, "filing rate", "date (China Standard Time)");
	fputs("</svg>\n", o);
}

static void domain_table(const char *id, const gk_report_domain_t *v, size_t n, FILE *o)
{
	char a[32], b[32];
	fprintf(o,
	        "<table id=\"%s\"><thead><tr><th>domain</th><th>queries</th><th>first seen</th>"
	        "<th>last seen</th><th>status now</th><th>provider (filing)</th><th>licence</th>"
	        "<th>attributed provider</th><th>addresses</th></tr></thead><tbody>\n",
	        id);
	size_t shown = n < ROWS_MAX ? n : ROWS_MAX;
	for (size_t i = 0; i < shown; i++) {
		fputs("<tr class=\"dom\"><td class=\"domain\">", o);
		esc(o, v[i].name);
		fputs("</td>", o);
		num_td(o, "queries", v[i].queries);
		fprintf(o,
		        "<td class=\"first\">%s</td><td class=\"last\">%s</td>"
		        "<td class=\"status %s\">%s</td><td class=\"provider\">",
		        gk_ctl_report_time(v[i].first, a), gk_ctl_report_time(v[i].last, b),
		        gk_ctl_report_status_name(v[i].status),
		        gk_ctl_report_status_name(v[i].status));
		esc(o, v[i].provider_name ? v[i].provider_name : "");
		fputs("</td><td class=\"licence\">", o);
		esc(o, v[i].licence);
		fprintf(o, "</td><td class=\"attributed %s\">", gk_ctl_report_attribution(&v[i]));
		esc(o, v[i].attributed ? v[i].attributed
		       : v[i].addrs    ? (v[i].special_only ? "(private or reserved)" : "(unknown)")
		                       : "");
		fputs("</td><td class=\"addresses\">", o);
		esc(o, v[i].addrs ? v[i].addrs : "");
		fputs("</td></tr>\n", o);
	}
	fputs("</tbody></table>\n", o);
	if (shown < n)
		fprintf(o,
		        "<p class=\"more\">The %zu domains with the most queries of %zu; the CSV "
		        "format lists every one.</p>\n",
		        shown, n);
}

static void rate_td(FILE *o, uint64_t matched, uint64_t checked)
{
	if (checked)
		fprintf(o, "<td class=\"rate num\" data-v=\"%.10f\">%.2f%%</td>",
		        (double)matched / (double)checked,
		        100.0 * (double)matched / (double)checked);
	else
		fputs("<td class=\"rate num\">-</td>", o);
}

/* Access-location accuracy per provider named in the filings, and the inaccurate filings. */
static void accuracy_html(const gk_report_t *r, FILE *o)
{
	fprintf(o,
	        "<h2>Access-location accuracy</h2>\n<p>Filed domains we serve whose addresses a "
	        "filed range attributes to the provider named in their filing, of those checked "
	        "(served sites <span id=\"served\">%zu</span>, filed <span "
	        "id=\"served-filed\">%llu</span>, not checked for want of a public address "
	        "<span id=\"not-checked\">%llu</span>; filed ranges <span "
	        "id=\"ranges\">%zu</span>).</p>\n",
	        r->n_served, (unsigned long long)r->served_filed,
	        (unsigned long long)r->not_checked, r->n_ranges);
	fputs("<table id=\"accuracy\"><thead><tr><th>provider (filing)</th><th>checked</th>"
	      "<th>matched</th><th>accuracy</th><th>ips differ</th></tr></thead><tbody>\n",
	      o);
	for (size_t i = 0; i <= r->n_accuracy; i++) {
		bool total = i == r->n_accuracy;
		const gk_report_accuracy_t *a = total ? NULL : &r->accuracy[i];
		fprintf(o, "<tr class=\"%s\"><td class=\"provider\">", total ? "acc-total" : "acc");
		esc(o, total ? "total" : a->provider ? a->provider : "(none named)");
		fputs("</td>", o);
		num_td(o, "checked", total ? r->checked : a->checked);
		num_td(o, "matched", total ? r->matched : a->matched);
		rate_td(o, total ? r->matched : a->matched, total ? r->checked : a->checked);
		if (total) {
			uint64_t d = 0;
			for (size_t k = 0; k < r->n_accuracy; k++)
				d += r->accuracy[k].ips_differ;
			num_td(o, "ips-differ", d);
		} else {
			num_td(o, "ips-differ", a->ips_differ);
		}
		fputs("</tr>\n", o);
	}
	fprintf(o,
	        "</tbody></table>\n<h3>Inaccurate filings (%zu)</h3>\n<table "
	        "id=\"mismatches\"><thead><tr><th>domain</th><th>filed provider</th><th>observed "
	        "provider</th><th>addresses</th><th>ips in the filing</th><th>differs</th></tr>"
	        "</thead><tbody>\n",
	        gk_ctl_report_n_mismatches(r));
	size_t shown = 0;
	for (size_t i = 0; i < r->n_checks && shown < ROWS_MAX; i++) {
		const gk_report_check_t *k = &r->checks[i];
		if (k->provider_ok && k->ips_ok)
			continue;
		shown++;
		fputs("<tr class=\"mis\"><td class=\"domain\">", o);
		esc(o, k->d->name);
		fputs("</td><td class=\"filed\">", o);
		esc(o, k->d->provider_name ? k->d->provider_name : "");
		fputs("</td><td class=\"observed\">", o);
		esc(o, k->d->attributed ? k->d->attributed : "(unknown)");
		fputs("</td><td class=\"addresses\">", o);
		esc(o, k->d->addrs);
		fputs("</td><td class=\"ips\">", o);
		esc(o, k->d->ips ? k->d->ips : "");
		fprintf(o, "</td><td class=\"check\">%s</td></tr>\n",
		        gk_ctl_report_check_verdict(k));
	}
	fputs("</tbody></table>\n", o);
	if (shown < gk_ctl_report_n_mismatches(r))
		fprintf(o, "<p class=\"more\">The first %zu; the CSV format lists every one.</p>\n",
		        shown);
}

static void summary_item(FILE *o, const char *id, const char *label, uint64_t v)
{
	fprintf(o, "<div><dt>%s</dt><dd id=\"%s\" data-v=\"%llu\">%llu</dd></div>\n", label, id,
	        (unsigned long long)v, (unsigned long long)v);
}

void gk_ctl_report_write_html(const gk_report_t *r, FILE *o)
{
	char a[16], b[16], g[32];
	gk_ctl_report_date(r->from, a);
	gk_ctl_report_date(r->to, b);
	fprintf(o,
	        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\n"
	        "<title>Gatekeeper discovery report %s – %s</title>\n",
	        a, b);
	/* Chinese text (provider names, licences) needs a CJK font: the stack names the common
	 * ones of macOS, Windows and Linux; Debian's fonts-wqy-microhei or fonts-noto-cjk
	 * satisfy it (docs/REPORT.md). */
	fputs("<style>\n"
	      "body{font-family:\"PingFang SC\",\"Microsoft YaHei\",\"Noto Sans CJK SC\","
	      "\"Source Han Sans SC\",\"WenQuanYi Micro Hei\",sans-serif;margin:2em;color:#222;"
	      "max-width:960px}\n"
	      "dl{display:flex;flex-wrap:wrap;gap:1em}dl div{border:1px solid #ccc;padding:.5em "
	      "1em;border-radius:4px}\n"
	      "dt{font-size:.8em;color:#666}dd{margin:0;font-size:1.4em;font-weight:bold}\n"
	      "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:2px "
	      "6px;font-size:.85em}\n"
	      ".num{text-align:right}.status.filed{color:#3c763d}.status.unfiled,.status.revoked"
	      "{color:#a94442}\n"
	      ".ax{font-size:11px;fill:#444}svg{display:block;margin:.5em 0}\n"
	      ".axis-title{font-size:12px;fill:#222}\n"
	      /* a wide table scrolls sideways; dates and times never wrap inside a cell */
	      "table{display:block;max-width:100%;overflow-x:auto}\n"
	      "td.first,td.last,td.date,td.licence,td.num{white-space:nowrap}\n"
	      "</style></head><body>\n",
	      o);
	fprintf(o,
	        "<h1>Discovery report</h1>\n<p>Period <time id=\"from\">%s</time> to "
	        "<time id=\"to\">%s</time> (China Standard Time), generated %s.</p>\n",
	        a, b, gk_ctl_report_time((uint32_t)r->generated, g));
	fprintf(o,
	        "<dl id=\"summary\">\n<div><dt>filing rate</dt><dd id=\"filing-rate\" "
	        "data-v=\"%.10f\">%.2f%%</dd></div>\n",
	        r->rate, 100 * r->rate);
	summary_item(o, "filed", "filed (status set now)", r->filed);
	summary_item(o, "discovered", "unfiled discovered", r->n_unfiled);
	summary_item(o, "handled", "handled (filed since)", r->handled);
	summary_item(o, "unhandled", "unhandled", r->unhandled);
	summary_item(o, "revoked-queried", "revoked, still queried", r->n_revoked);
	summary_item(o, "attributed", "sites attributed by a filed range", r->attributed);
	summary_item(o, "queries", "queries", r->total.queries);
	summary_item(o, "refused", "refused", gk_ctl_report_refused(&r->total));
	fputs("</dl>\n<p>Filing rate = filed ÷ (filed + unhandled): a discovered domain filed "
	      "since is already among the filed.</p>\n",
	      o);
	fputs("<h2>Refusals per day</h2>\n", o);
	chart_refusals(r, o);
	fprintf(o,
	        "<h2>Top %d unfiled domains by queries</h2>\n<p>Red: still unfiled or revoked "
	        "(unhandled); green: filed since (handled).</p>\n",
	        TOP_N);
	chart_top(r, o);
	fputs("<h2>Filing rate through each day</h2>\n", o);
	chart_rate(r, o);
	fprintf(o, "<h2>Unfiled domains discovered (%zu)</h2>\n", r->n_unfiled);
	domain_table("unfiled", r->unfiled, r->n_unfiled, o);
	fprintf(o, "<h2>Revoked domains still queried (%zu)</h2>\n", r->n_revoked);
	domain_table("revoked", r->revoked, r->n_revoked, o);
	fputs("<h2>Access providers</h2>\n<p>Each site under the provider whose filed range "
	      "holds its addresses, else the one its filing names.</p>\n<table "
	      "id=\"providers\"><thead><tr><th>provider</th>"
	      "<th>unfiled sites accessed</th><th>of which unhandled</th></tr></thead><tbody>\n",
	      o);
	for (size_t i = 0; i < r->n_providers; i++) {
		fputs("<tr class=\"prov\"><td class=\"provider\">", o);
		esc(o, r->providers[i].name ? r->providers[i].name : "(unknown)");
		fputs("</td>", o);
		num_td(o, "accessed", r->providers[i].accessed);
		num_td(o, "unhandled", r->providers[i].unhandled);
		fputs("</tr>\n", o);
	}
	fputs("</tbody></table>\n", o);
	accuracy_html(r, o);
	fputs("<h2>Per day</h2>\n<table id=\"days\"><thead><tr><th>day</th>"
	      "<th>queries</th><th>resolved</th><th>refused</th>",
	      o);
	for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
		fprintf(o, "<th>%s</th>", reason_names[k]);
	fputs("<th>overflow</th><th>filing rate through</th></tr></thead><tbody>\n", o);
	for (size_t i = 0; i < r->n_days; i++) {
		const gk_report_day_t *d = &r->days[i];
		uint64_t ov = 0;
		for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
			ov += d->overflow[k];
		fprintf(o, "<tr class=\"day\"><td class=\"date\">%s</td>",
		        gk_ctl_report_date(d->day, a));
		num_td(o, "queries", d->queries);
		num_td(o, "resolved", d->resolved);
		num_td(o, "refused", gk_ctl_report_refused(d));
		for (unsigned k = 0; k < GK_DISC_NREASONS; k++)
			num_td(o, reason_names[k], d->refused[k]);
		num_td(o, "overflow", ov);
		fprintf(o, "<td class=\"rate num\" data-v=\"%.10f\">%.2f%%</td></tr>\n",
		        d->rate_through, 100 * d->rate_through);
	}
	fputs("</tbody></table>\n", o);
	/* the browser re-adds the tables: proof that the page rendered and agrees; for tests and
	 * tools reading the DOM, not for the reader (hidden) */
	fputs("<p id=\"check\" hidden>Browser check: <output id=\"js-unfiled-rows\"></output> "
	      "unfiled "
	      "rows, <output id=\"js-unfiled-queries\"></output> queries, <output "
	      "id=\"js-day-queries\"></output> queries by day.</p>\n"
	      "<script>\n(function(){\n"
	      "function sum(sel){var s=0;document.querySelectorAll(sel).forEach(function(e){"
	      "s+=Number(e.dataset.v);});return s;}\n"
	      "document.getElementById('js-unfiled-rows').textContent="
	      "document.querySelectorAll('#unfiled tr.dom').length;\n"
	      "document.getElementById('js-unfiled-queries').textContent="
	      "sum('#unfiled td.queries');\n"
	      "document.getElementById('js-day-queries').textContent=sum('#days td.queries');\n"
	      "document.body.setAttribute('data-rendered','1');\n"
	      "})();\n</script>\n</body></html>\n",
	      o);
}
