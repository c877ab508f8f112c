/* SPDX-License-Identifier: MIT */
/* src/ctl/report_internal.h -- helpers shared by the report collector (report.c) and its
 * renderers (report_fmt.c, report_html.c). Pure; any thread.
 */
#pragma once
#include <stdint.h>
#include <stdio.h>
#include "ctl/report.h"

/* "filed" / "revoked" / "unfiled" for enum gk_report_status. */
const char *gk_ctl_report_status_name(int status);
/* "2026-11-29T20:15:00+08:00" of unix seconds t, in buf. Returns buf. */
char *gk_ctl_report_time(uint32_t t, char buf[32]);
/* "2026-11-29" of a YYYYMMDD, in buf. Returns buf. */
char *gk_ctl_report_date(uint32_t day, char buf[16]);
/* Refusals of a day, all reasons. */
uint64_t gk_ctl_report_refused(const gk_report_day_t *d);
/* How a domain was attributed: "range" (a filed range holds an address), "private" (every
 * served address private or reserved: reported, not attributed), "unknown" (no filed range
 * holds a public address), "not served" (no site addresses: not a zone we serve). */
const char *gk_ctl_report_attribution(const gk_report_domain_t *e);
/* The accuracy verdict of a check: "match", "provider", "ips" or "provider+ips". */
const char *gk_ctl_report_check_verdict(const gk_report_check_t *k);
/* Checks that are mismatches (provider or ips). */
size_t gk_ctl_report_n_mismatches(const gk_report_t *r);
/* matched / checked, or -1 when checked is 0 (no rate). */
double gk_ctl_report_acc_rate(uint64_t matched, uint64_t checked);
/* Set also_unfiled on each of revoked[0..n_revoked): true when an entry of
 * unfiled[0..n_unfiled) has the same name (that domain is counted in the unfiled list).
 * One string map over the unfiled names: linear in n_unfiled + n_revoked. Returns 0 or
 * GK_ENOMEM (then the flags are not all set). */
int gk_ctl_report_mark_also_unfiled(const gk_report_domain_t *unfiled, size_t n_unfiled,
                                    gk_report_domain_t *revoked, size_t n_revoked);
/* The single self-contained HTML page (inline SVG charts, no external resource). */
void gk_ctl_report_write_html(const gk_report_t *r, FILE *o);
/* The spreadsheet (--format xlsx) written to the file path: sheets 通报表, 准确率, summary,
 * daily, domains (docs/REPORT.md). Returns 0, or GK_EIO with one line in err. */
int gk_ctl_report_write_xlsx(const gk_report_t *r, const char *path, char *err, size_t errlen);
