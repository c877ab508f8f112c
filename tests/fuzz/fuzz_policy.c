/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_policy.c -- libFuzzer target: the policy compiler, its list readers (plain
 * and RPZ) and the fleet bundle decoder.
 *
 * Input layout: the policy YAML, then any number of list files, each introduced by a line
 * "%%NAME" (the rest of that line is the file name the policy's `file:` refers to):
 *
 *     lists:\n  - {file: b.txt, format: plain, kind: block}\n%%b.txt\n.bad.cn\n
 *
 * The pieces go to gk_policy_build_mem (what gatekeeperd runs on a pushed bundle). An input
 * starting with '{' is also decoded as a bundle (gk_polstore_bundle_decode) and, when it
 * decodes, compiled, and as a state file (gk_polstore_state_decode: the last verified version
 * gatekeeperd keeps on disk). A policy that builds is matched against a few names (each list file's
 * first names among them), its stats and status rules are read, and it is freed, so
 * LeakSanitizer sees leaks on both the success and the error path. Every error must carry a
 * message.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "polstore/polstore.h"

#define FUZZ_CHECK(cond, ...)                                                                      \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant failed: %s: ", #cond);                          \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

#define MAX_FILES 8

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void probe(const gk_policy_t *p, const char *name, size_t len)
{
	uint8_t wire[256], loff[128];
	unsigned labels = 0;
	size_t o = 0, i = 0;
	while (i < len && o < 250 && labels < 127) {
		size_t j = i;
		while (j < len && name[j] != '.' && name[j] != '\n' && name[j] != ' ')
			j++;
		size_t ll = j - i;
		if (ll == 0 || ll > 63 || o + ll + 2 > 255)
			break;
		loff[labels++] = (uint8_t)o;
		wire[o++] = (uint8_t)ll;
		for (size_t k = 0; k < ll; k++) {
			char c = name[i + k];
			wire[o++] = (uint8_t)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		if (j >= len || name[j] != '.')
			break;
		i = j + 1;
	}
	wire[o++] = 0;
	const gk_policy_hit_t *h = gk_policy_match(p, wire, o, loff, labels, NULL);
	if (h != NULL) {
		FUZZ_CHECK(h->verdict >= GK_POLICY_BLOCK && h->verdict <= GK_POLICY_TCP_ONLY,
		           "verdict %u", h->verdict);
		FUZZ_CHECK(h->list >= 1 && gk_policy_list_name(p, h->list) != NULL, "list %u",
		           h->list);
		FUZZ_CHECK((h->verdict == GK_POLICY_BLOCK) == (h->action != NULL), "action");
	}
}

static void check_policy(const gk_policy_t *p, const gk_policy_file_t *files, size_t n)
{
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	for (int s = 0; s < 3; s++)
		FUZZ_CHECK(gk_policy_status(p, (gk_policy_status_t)s) != NULL, "status rule %d", s);
	probe(p, "www.example.cn", 14);
	probe(p, "a.b.c.d.e.f.g.cn", 16);
	for (size_t i = 0; i < n; i++) {
		const char *t = files[i].text;
		size_t k = 0;
		while (k < files[i].len && (t[k] == '.' || t[k] == ' ' || t[k] == '*'))
			k++;
		probe(p, t + k, files[i].len - k);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512];
	gk_policy_file_t files[MAX_FILES];
	size_t n = 0;
	const char *s = (const char *)data, *end = s + size;
	/* split at lines "%%NAME" */
	const char *cut = NULL;
	for (const char *p = s; p + 2 <= end; p++)
		if ((p == s || p[-1] == '\n') && p[0] == '%' && p[1] == '%') {
			cut = p;
			break;
		}
	size_t ylen = cut ? (size_t)(cut - s) : size;
	char names[MAX_FILES][64];
	while (cut && n < MAX_FILES) {
		const char *nm = cut + 2, *nl = memchr(nm, '\n', (size_t)(end - nm));
		const char *body = nl ? nl + 1 : end;
		size_t nlen = (size_t)((nl ? nl : end) - nm);
		snprintf(names[n], sizeof(names[n]), "%.*s", (int)(nlen < 63 ? nlen : 63), nm);
		const char *next = NULL;
		for (const char *p = body; p + 2 <= end; p++)
			if (p[-1] == '\n' && p[0] == '%' && p[1] == '%') {
				next = p;
				break;
			}
		files[n] = (gk_policy_file_t){
		    .name = names[n], .text = body, .len = (size_t)((next ? next : end) - body)};
		n++;
		cut = next;
	}
	gk_policy_t *p = NULL;
	err[0] = 0;
	int rc = gk_policy_build_mem("fuzz.yaml", s, ylen, files, n, &p, err, sizeof(err));
	if (rc == 0) {
		check_policy(p, files, n);
		gk_policy_free(p);
	} else {
		FUZZ_CHECK(p == NULL && err[0] != 0, "error %d without a message", rc);
	}
	if (size > 0 && data[0] == '{') {
		gk_polstore_bundle_t *b = NULL;
		err[0] = 0;
		if (gk_polstore_bundle_decode(data, size, &b, err, sizeof(err)) == 0) {
			char *enc = NULL;
			size_t len = 0;
			if (gk_polstore_bundle_compile(b, &p, err, sizeof(err)) == 0)
				gk_policy_free(p);
			FUZZ_CHECK(gk_polstore_bundle_encode(b, &enc, &len) == 0, "re-encode");
			free(enc);
			gk_polstore_bundle_free(b);
		} else {
			FUZZ_CHECK(err[0] != 0, "bundle error without a message");
		}
		gk_polstore_version_t sv;
		err[0] = 0;
		if (gk_polstore_state_decode(data, size, &sv, err, sizeof(err)) == 0) {
			FUZZ_CHECK(sv.version >= 1 && sv.version <= GK_POLICY_VERSION_MAX,
			           "version");
			FUZZ_CHECK(strlen(sv.sig) > 0 && strlen(sv.sig) < sizeof(sv.sig), "sig");
			FUZZ_CHECK(strlen(sv.key_id) == GK_POLICY_KEY_ID_LEN, "key id");
			gk_polstore_version_clear(&sv);
		} else {
			FUZZ_CHECK(err[0] != 0, "state file error without a message");
		}
	}
	return 0;
}
