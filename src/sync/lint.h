/* SPDX-License-Identifier: MIT */
/* src/sync/lint.h -- the registry's accuracy rules over feed records (gk-sync lint).
 *
 * Findings are advice for the registry and never block an apply. Each rule is a pure
 * function so unit tests can pin it down; gk_sync_lint_feed runs them all over a feed and prints
 * one line per finding: "FILE:LINE: rule-name: detail". Rule names (docs/FEED.md):
 *   sponsor-missing, sponsor-is-domain, nature-mismatch, licence-malformed,
 *   home-url-foreign, home-url-malformed, ip-reserved, ip-malformed, phone-fake,
 *   person-placeholder, mixed-script
 * Strings are UTF-8. Any thread.
 */
#pragma once
#include <stddef.h>
#include <stdio.h>
#include "common/psl.h"
#include "gk/errors.h"

/* Licence number "<province>ICP备<8 digits>号[-N]" or "<province>ICP证<6 digits>号", where
 * province is one of 京津冀晋蒙辽吉黑沪苏浙皖闽赣鲁豫鄂湘粤桂琼渝川贵云藏陕甘青宁新.
 * Returns 1 when well-formed, 0 otherwise. */
int gk_sync_lint_licence_ok(const char *s);

/* 1 when s is an IP literal in 0.0.0.0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12,
 * 192.168/16, 255.255.255.255, ::, ::1, fc00::/7, fe80::/10 or an IPv4-mapped one of those;
 * 0 for a public address; -1 when s is not an IP literal. *why names the range. */
int gk_sync_lint_ip_reserved(const char *s, const char **why);

/* 1 when the phone number's subscriber part is a placeholder: its last 7 or more digits are
 * all the same digit (010-00000000, 0755-88888888), or every digit is the same. */
int gk_sync_lint_phone_fake(const char *s);

/* 1 when a contact person is a placeholder: contains 某某, or is a one- or two-character
 * surname followed by 先生, 小姐 or 女士 (王先生, 欧阳女士). */
int gk_sync_lint_person_placeholder(const char *s);

/* 1 when a sponsor name looks like a bare domain name (example.com.cn). */
int gk_sync_lint_sponsor_is_domain(const char *s);

/* 1 when nature contradicts the sponsor name: a company-like name (有限公司, 公司, 集团)
 * with nature 个人, or a person-like name (2-4 Han characters, no organisation word) with
 * nature 企业. *why explains which. */
int gk_sync_lint_nature_mismatch(const char *sponsor, const char *nature, const char **why);

/* Host of a home page URL ("http://www.foo.cn:8080/x", "www.foo.cn/x"), normalised like a
 * feed domain (lowercase, A-labels) into host[256]. Returns 0 or GK_EINVAL. */
GK_MUST_CHECK int gk_sync_lint_url_host(const char *url, char *host);

/* 1 when a label of domain (normalised: A-labels) mixes Unicode scripts that do not go
 * together (UTS #39 "highly restrictive": one script, or Han with Hiragana and Katakana,
 * with Bopomofo, or with Hangul; Common and Inherited characters such as digits and '-' count
 * for none), e.g. Cyrillic with Latin (xn--pple-43d, аpple) or Han with Latin. why gets
 * "label A-LABEL (U-LABEL) mixes S1 and S2" for the first such label. 0 otherwise. */
int gk_sync_lint_mixed_script(const char *domain, char *why, size_t whylen);

/* Lint a whole feed: every finding is printed to out. *findings gets their number.
 * Returns 0, or GK_ESYNTAX when a line is not valid JSON (err: "FILE:LINE: reason"),
 * GK_ENOMEM. */
GK_MUST_CHECK int gk_sync_lint_feed(const char *name, const char *data, size_t len,
                                    const gk_psl_t *psl, FILE *out, size_t *findings, char *err,
                                    size_t errlen);
