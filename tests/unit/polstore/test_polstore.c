/* SPDX-License-Identifier: MIT */
/* tests/unit/polstore/test_polstore.c -- policy bundles: load (every list file once, sorted,
 * subdirectories), canonical encode, decode round trip, malformed and tampered bundles,
 * key ids of private and public keys, sign/verify with a keyring (unknown key, bad
 * signature, a changed byte), and diffs (rules, YAML lines, list entries, summary JSON).
 *
 * Runs from the repository root (ctest WORKING_DIRECTORY).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "polstore/polstore.h"
#include "sync/sig.h"

#define FIX "tests/unit/polstore/fixtures/"

static gk_polstore_bundle_t *load(const char *path)
{
	char err[512];
	gk_polstore_bundle_t *b = NULL;
	int rc = gk_polstore_bundle_load(path, &b, NULL, err, sizeof(err));
	if (rc != 0)
		fail_msg("%s: %s", path, err);
	return b;
}

static void test_load_encode_decode(void **state)
{
	(void)state;
	char err[512];
	gk_polstore_bundle_t *b = load(FIX "policy.yaml");
	assert_string_equal(b->policy.name, "policy.yaml");
	assert_int_equal(b->nfiles, 3); /* block.txt named twice, stored once */
	assert_string_equal(b->files[0].name, "block.txt");
	assert_string_equal(b->files[1].name, "lists/allow.txt");
	assert_string_equal(b->files[2].name, "zone.rpz");
	assert_int_equal(b->files[1].len, 8);
	assert_memory_equal(b->files[1].data, ".gov.cn\n", 8);
	b->version = 7;
	assert_int_equal(gk_polstore_bundle_set_message(b, "täst \"quoted\""), 0);

	char *enc = NULL, *enc2 = NULL;
	size_t len = 0, len2 = 0;
	assert_int_equal(gk_polstore_bundle_encode(b, &enc, &len), 0);
	assert_int_equal(strlen(enc), len);
	assert_non_null(strstr(enc, "\"format\":\"gk-policy/1\""));
	/* canonical: sorted keys, and the same bytes twice */
	assert_true(strstr(enc, "\"created\"") < strstr(enc, "\"files\""));
	assert_int_equal(gk_polstore_bundle_encode(b, &enc2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(enc, enc2, len);
	free(enc2);

	gk_polstore_bundle_t *d = NULL;
	assert_int_equal(gk_polstore_bundle_decode(enc, len, &d, err, sizeof(err)), 0);
	assert_int_equal(d->version, 7);
	assert_int_equal(d->created_ms, b->created_ms);
	assert_string_equal(d->message, "täst \"quoted\"");
	assert_int_equal(d->nfiles, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(d->files[i].name, b->files[i].name);
		assert_int_equal(d->files[i].len, b->files[i].len);
		assert_memory_equal(d->files[i].data, b->files[i].data, b->files[i].len);
		assert_string_equal(d->files[i].sha256, b->files[i].sha256);
	}
	/* re-encoding the decoded bundle gives the same bytes */
	assert_int_equal(gk_polstore_bundle_encode(d, &enc2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(enc, enc2, len);
	free(enc2);
	/* it compiles from memory, and a copy is equal */
	gk_policy_t *p = NULL;
	assert_int_equal(gk_polstore_bundle_compile(d, &p, err, sizeof(err)), 0);
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	assert_int_equal(st.lists, 4);
	gk_policy_free(p);
	gk_polstore_bundle_t *c = gk_polstore_bundle_dup(d);
	assert_non_null(c);
	assert_int_equal(gk_polstore_bundle_encode(c, &enc2, &len2), 0);
	assert_memory_equal(enc, enc2, len);
	free(enc2);
	assert_non_null(gk_polstore_bundle_file(c, "zone.rpz"));
	assert_non_null(gk_polstore_bundle_file(c, "policy.yaml"));
	assert_null(gk_polstore_bundle_file(c, "nope"));
	gk_polstore_bundle_free(c);
	gk_polstore_bundle_free(d);

	/* tampering: a changed byte inside a file's base64 breaks its sha256 */
	char *t = strdup(enc);
	char *txt = strstr(t, "\"text\":\"") + 8;
	txt[0] = txt[0] == 'A' ? 'B' : 'A';
	assert_int_equal(gk_polstore_bundle_decode(t, len, &d, err, sizeof(err)), GK_ESYNTAX);
	assert_non_null(strstr(err, "sha256 mismatch"));
	free(t);
	free(enc);
	gk_polstore_bundle_free(b);
}

static void test_decode_malformed(void **state)
{
	(void)state;
	char err[512];
	gk_polstore_bundle_t *d = NULL;
	static const char *const bad[] = {
	    "",
	    "[]",
	    "{\"format\":\"gk-policy/2\"}",
	    "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":\"\"}",
	    "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":\"\",\"policy\":"
	    "{\"name\":\"p\",\"sha256\":\"x\",\"text\":\"!!!!\"},\"version\":1}",
	    "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":\"\",\"policy\":"
	    "{\"name\":\"p\",\"sha256\":\"x\",\"text\":\"abc\"},\"version\":1}",
	    "{\"created\":1,\"files\":{},\"format\":\"gk-policy/1\",\"message\":\"\",\"policy\":"
	    "{\"name\":\"p\",\"sha256\":\"x\",\"text\":\"\"},\"version\":1}",
	    "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":\"\",\"policy\":"
	    "{\"name\":\"p\",\"sha256\":\"x\",\"text\":\"\"},\"version\":-1}",
	    "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":\"\",\"policy\":"
	    "{\"name\":\"p\",\"sha256\":\"x\",\"text\":\"\"},\"version\":1,\"extra\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		assert_int_equal(
		    gk_polstore_bundle_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)),
		    GK_ESYNTAX);
		assert_non_null(strstr(err, "malformed policy bundle"));
	}
	/* an empty policy with the right sha256 is fine */
	const char ok[] = "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":\"\","
	                  "\"policy\":{\"name\":\"p\",\"sha256\":"
	                  "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
	                  "\"text\":\"\"},\"version\":1}";
	assert_int_equal(gk_polstore_bundle_decode(ok, strlen(ok), &d, err, sizeof(err)), 0);
	assert_int_equal(d->policy.len, 0);
	gk_policy_t *p = NULL;
	assert_int_equal(gk_polstore_bundle_compile(d, &p, err, sizeof(err)), 0);
	gk_policy_free(p);
	gk_polstore_bundle_free(d);
}

static void test_load_errors(void **state)
{
	(void)state;
	char err[512];
	gk_polstore_bundle_t *b = NULL;
	/* the sample bad corpus: errors name file:line, nothing comes back */
	assert_int_not_equal(
	    gk_polstore_bundle_load("/nonexistent/p.yaml", &b, NULL, err, sizeof(err)), 0);
	assert_null(b);
	assert_non_null(strstr(err, "/nonexistent/p.yaml"));
	/* RPZ $INCLUDE compiles on disk but not from a bundle: refused at push time */
	assert_int_not_equal(
	    gk_polstore_bundle_load(FIX "include.yaml", &b, NULL, err, sizeof(err)), 0);
	assert_null(b);
	assert_non_null(strstr(err, "include.rpz:"));
}

static void test_sign_verify(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-polstore-XXXXXX", k1[80], p1[80], k2[80], p2[80], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(k1, sizeof(k1), "%s/op1.key", dir);
	snprintf(p1, sizeof(p1), "%s/op1.pub", dir);
	snprintf(k2, sizeof(k2), "%s/op2.key", dir);
	snprintf(p2, sizeof(p2), "%s/op2.pub", dir);
	assert_int_equal(gk_sync_sig_keygen(k1, p1, 0, err, sizeof(err)), 0);
	assert_int_equal(gk_sync_sig_keygen(k2, p2, 0, err, sizeof(err)), 0);
	char id1[GK_POLICY_KEY_ID_LEN + 1], id1p[GK_POLICY_KEY_ID_LEN + 1],
	    id2[GK_POLICY_KEY_ID_LEN + 1];
	assert_int_equal(gk_polstore_key_id(k1, id1, err, sizeof(err)), 0);
	assert_int_equal(gk_polstore_key_id(p1, id1p, err, sizeof(err)), 0);
	assert_int_equal(gk_polstore_key_id(p2, id2, err, sizeof(err)), 0);
	assert_string_equal(id1, id1p); /* the same id from either half */
	assert_int_equal(strlen(id1), GK_POLICY_KEY_ID_LEN);
	assert_string_not_equal(id1, id2);
	assert_int_not_equal(gk_polstore_key_id("/nonexistent", id2, err, sizeof(err)), 0);

	const char msg[] = "{\"format\":\"gk-policy/1\"}";
	char sig[GK_POLSTORE_SIG_B64_LEN + 1], kid[GK_POLICY_KEY_ID_LEN + 1];
	assert_int_equal(gk_polstore_sign(k1, msg, sizeof(msg) - 1, sig, kid, err, sizeof(err)), 0);
	assert_string_equal(kid, id1);
	assert_int_equal(strlen(sig), GK_POLSTORE_SIG_B64_LEN);

	gk_polstore_keyring_t *kr = NULL, *only2 = NULL;
	const char *both[] = {p2, p1};
	assert_int_equal(gk_polstore_keyring_load(both, 2, &kr, err, sizeof(err)), 0);
	assert_int_equal(gk_polstore_keyring_size(kr), 2);
	assert_int_equal(gk_polstore_verify(kr, kid, msg, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 0);
	/* a changed byte, a changed signature, a wrong key id, an unknown key */
	char m2[sizeof(msg)];
	memcpy(m2, msg, sizeof(msg));
	m2[3] ^= 1;
	assert_int_equal(gk_polstore_verify(kr, kid, m2, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	assert_non_null(strstr(err, "bad signature"));
	char s2[sizeof(sig)];
	memcpy(s2, sig, sizeof(sig));
	s2[5] = s2[5] == 'A' ? 'B' : 'A';
	assert_int_equal(gk_polstore_verify(kr, kid, msg, sizeof(msg) - 1, s2, err, sizeof(err)),
	                 GK_ESYNTAX);
	assert_int_equal(
	    gk_polstore_verify(kr, kid, msg, sizeof(msg) - 1, "short", err, sizeof(err)),
	    GK_ESYNTAX);
	assert_int_equal(gk_polstore_verify(kr, id2, msg, sizeof(msg) - 1, sig, err, sizeof(err)),
	                 GK_ESYNTAX);
	const char *two[] = {p2};
	assert_int_equal(gk_polstore_keyring_load(two, 1, &only2, err, sizeof(err)), 0);
	assert_int_equal(
	    gk_polstore_verify(only2, kid, msg, sizeof(msg) - 1, sig, err, sizeof(err)), GK_ENOENT);
	assert_non_null(strstr(err, "unknown key"));
	/* a private key is not an operator public key */
	gk_polstore_keyring_t *x = NULL;
	const char *priv[] = {k1};
	assert_int_equal(gk_polstore_keyring_load(priv, 1, &x, err, sizeof(err)), GK_EINVAL);
	assert_non_null(strstr(err, k1));
	gk_polstore_keyring_free(kr);
	gk_polstore_keyring_free(only2);
	unlink(k1);
	unlink(p1);
	unlink(k2);
	unlink(p2);
	rmdir(dir);
}

/* Write policy.yaml, block.txt and z.rpz into dir and load the bundle. */
static gk_polstore_bundle_t *disk_bundle(const char *dir, const char *policy, const char *block,
                                         const char *rpz)
{
	const char *names[] = {"policy.yaml", "block.txt", "z.rpz"};
	const char *texts[] = {policy, block, rpz};
	char path[256];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		FILE *f = fopen(path, "w");
		assert_non_null(f);
		fputs(texts[i], f);
		fclose(f);
	}
	snprintf(path, sizeof(path), "%s/policy.yaml", dir);
	return load(path);
}

static char *diff_text(const gk_polstore_bundle_t *a, const gk_polstore_bundle_t *b, json_t **sum,
                       size_t *changes)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(gk_polstore_diff(a, b, f, sum, changes), 0);
	fclose(f);
	return buf;
}

#define RPZ_HEAD "$TTL 300\n@ SOA localhost. h.localhost. 1 3600 600 86400 300\n  NS localhost.\n"

static void test_diff(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-poldiff-XXXXXX";
	assert_non_null(mkdtemp(dir));
	const char *pol1 = "mode: enforce\nunfiled: {action: refuse}\nlists:\n"
	                   "  - {file: block.txt, format: plain, kind: block}\n"
	                   "  - {file: z.rpz, format: rpz, zone: rpz.test}\n";
	const char *pol2 = "mode: monitor\nunfiled: {action: nxdomain}\nlists:\n"
	                   "  - {file: block.txt, format: plain, kind: block}\n"
	                   "  - {file: z.rpz, format: rpz, zone: rpz.test}\n";
	gk_polstore_bundle_t *a = disk_bundle(dir, pol1, "a.cn\n.b.cn # comment\nc.cn\n",
	                                      RPZ_HEAD "x.cn CNAME .\ny.cn CNAME rpz-drop.\n");
	/* reordered and re-cased: no change; d.cn added, c.cn removed; an RPZ action changed */
	gk_polstore_bundle_t *b =
	    disk_bundle(dir, pol2, ".B.cn.\nA.cn\nd.cn\n",
	                RPZ_HEAD "x.cn   CNAME .\ny.cn CNAME rpz-passthru.\n");
	json_t *sum = NULL;
	size_t n = 0;
	char *t = diff_text(a, b, &sum, &n);
	assert_non_null(strstr(t, "mode: enforce -> monitor"));
	assert_non_null(strstr(t, "unfiled: refuse (ede 15 \"ICP filing required\") -> nxdomain"));
	assert_non_null(strstr(t, "  - unfiled: {action: refuse}\n"));
	assert_non_null(strstr(t, "+ unfiled: {action: nxdomain}"));
	assert_non_null(strstr(t, "block.txt: 1 entries added, 1 removed"));
	assert_non_null(strstr(t, "  + d.cn\n"));
	assert_non_null(strstr(t, "  - c.cn\n"));
	assert_null(strstr(t, "a.cn"));
	assert_non_null(strstr(t, "  - y.cn cname rpz-drop.\n"));
	assert_non_null(strstr(t, "  + y.cn cname rpz-passthru.\n"));
	assert_null(strstr(t, "x.cn"));
	/* the summary */
	const json_t *bl = json_object_get(json_object_get(sum, "lists"), "block.txt");
	assert_int_equal(json_integer_value(json_object_get(bl, "added")), 1);
	assert_int_equal(json_integer_value(json_object_get(bl, "removed")), 1);
	assert_int_equal(json_array_size(json_object_get(sum, "rules")), 1);
	assert_string_equal(json_string_value(json_object_get(sum, "mode")), "enforce -> monitor");
	assert_int_equal(n, 1 + 1 + 4 + 2 + 2); /* mode, rule, 2+2 policy lines, 2 + 2 entries */
	json_decref(sum);
	free(t);
	/* the same bundle: no changes; from nothing: everything new */
	t = diff_text(b, b, NULL, &n);
	assert_int_equal(n, 0);
	assert_string_equal(t, "no changes\n");
	free(t);
	t = diff_text(NULL, a, &sum, &n);
	assert_non_null(strstr(t, "block.txt: new file, 3 entries added"));
	assert_int_equal(json_array_size(json_object_get(sum, "files_added")), 2);
	json_decref(sum);
	free(t);
	gk_polstore_bundle_free(a);
	gk_polstore_bundle_free(b);
	const char *names[] = {"policy.yaml", "block.txt", "z.rpz"};
	char path[256];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		unlink(path);
	}
	rmdir(dir);
}

/* A version like 2^63-1 in gk:pol:current made every later push fail: versions are bounded
 * (GK_POLICY_VERSION_MAX, 2^53-1) and canonical, in the pointer and in a bundle. */
static void test_version_bounds(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int ok;
		uint64_t v;
	} cases[] = {
	    {"0", 1, 0},
	    {"1", 1, 1},
	    {"17", 1, 17},
	    {"9007199254740991", 1, 9007199254740991ull},
	    {"9007199254740992", 0, 0},
	    {"9223372036854775807", 0, 0},
	    {"18446744073709551615", 0, 0},
	    {"99999999999999999999", 0, 0},
	    {"-1", 0, 0},
	    {"007", 0, 0},
	    {"1e3", 0, 0},
	    {"", 0, 0},
	    {" 1", 0, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t v = 12345;
		int rc = gk_polstore_parse_version(cases[i].s, strlen(cases[i].s), &v);
		if ((rc == 0) != cases[i].ok || (rc == 0 && v != cases[i].v))
			fail_msg("'%s': rc %d v %llu", cases[i].s, rc, (unsigned long long)v);
	}
	const char tmpl[] = "{\"created\":1,\"files\":[],\"format\":\"gk-policy/1\",\"message\":"
	                    "\"\",\"policy\":{\"name\":\"p.yaml\",\"sha256\":"
	                    "\"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\","
	                    "\"text\":\"\"},\"version\":%s}";
	char buf[512], err[256];
	gk_polstore_bundle_t *b = NULL;
	snprintf(buf, sizeof(buf), tmpl, "9007199254740991");
	assert_int_equal(gk_polstore_bundle_decode(buf, strlen(buf), &b, err, sizeof(err)), 0);
	gk_polstore_bundle_free(b);
	b = NULL;
	snprintf(buf, sizeof(buf), tmpl, "9223372036854775807");
	assert_int_equal(gk_polstore_bundle_decode(buf, strlen(buf), &b, err, sizeof(err)),
	                 GK_ESYNTAX);
	assert_non_null(strstr(err, "version above 9007199254740991"));
	assert_null(b);
}

/* The last verified version kept on disk: a round trip of the exact bytes, mode 0600, the
 * write replaces a symlink instead of following it, and the reader refuses what is not a
 * regular state file, naming the path. */
static void test_state_file(void **state)
{
	(void)state;
	char dir[] = "/tmp/gk-test-polstate-XXXXXX", sdir[300], path[400], err[512];
	assert_non_null(mkdtemp(dir));
	snprintf(sdir, sizeof(sdir), "%s/state", dir);
	snprintf(path, sizeof(path), "%s/" GK_POLSTORE_STATE_FILE, sdir);
	gk_polstore_version_t out, v = {.version = 42};
	assert_int_equal(gk_polstore_state_load(sdir, &out, err, sizeof(err)), GK_ENOENT);
	char bundle[] = "{\"any\":\"bytes\\u00e9\", \"x\": 1}\n";
	v.bundle = bundle;
	v.bundle_len = sizeof(bundle) - 1;
	memset(v.sig, 'A', GK_POLSTORE_SIG_B64_LEN);
	memcpy(v.key_id, "0123456789abcdef", GK_POLICY_KEY_ID_LEN + 1);
	mode_t old = umask(0);
	assert_int_equal(gk_polstore_state_save(sdir, &v, err, sizeof(err)), 0);
	umask(old);
	struct stat st;
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(gk_polstore_state_load(sdir, &out, err, sizeof(err)), 0);
	assert_int_equal(out.version, 42);
	assert_int_equal(out.bundle_len, v.bundle_len);
	assert_memory_equal(out.bundle, bundle, v.bundle_len);
	assert_string_equal(out.sig, v.sig);
	assert_string_equal(out.key_id, v.key_id);
	gk_polstore_version_clear(&out);

	/* a symlink in the file's place: the reader refuses it, a save replaces it */
	char target[400];
	snprintf(target, sizeof(target), "%s/target", dir);
	FILE *f = fopen(target, "w");
	assert_non_null(f);
	fputs("keep", f);
	fclose(f);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink(target, path), 0);
	assert_int_equal(gk_polstore_state_load(sdir, &out, err, sizeof(err)), GK_EIO);
	assert_non_null(strstr(err, path));
	assert_int_equal(gk_polstore_state_save(sdir, &v, err, sizeof(err)), 0);
	assert_int_equal(lstat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	char keep[8] = "";
	f = fopen(target, "r");
	assert_non_null(fgets(keep, sizeof(keep), f));
	fclose(f);
	assert_string_equal(keep, "keep");
	/* a temporary file planted as a symlink is removed, not written through */
	char tmp[420];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	assert_int_equal(symlink(target, tmp), 0);
	assert_int_equal(gk_polstore_state_save(sdir, &v, err, sizeof(err)), 0);
	f = fopen(target, "r");
	assert_non_null(fgets(keep, sizeof(keep), f));
	fclose(f);
	assert_string_equal(keep, "keep");
	assert_int_equal(lstat(tmp, &st), -1);

	/* malformed files: not JSON, another format, a version out of range, bad base64 */
	static const char *const bad[] = {
	    "not json",
	    "{\"format\":\"gk-policy/1\"}",
	    "{\"bundle\":\"eA==\",\"format\":\"gk-policy-state/1\",\"key_id\":\"0123456789abcdef\","
	    "\"sig\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAA\",\"version\":9223372036854775807}",
	    "{\"bundle\":\"e!==\",\"format\":\"gk-policy-state/1\",\"key_id\":\"0123456789abcdef\","
	    "\"sig\":"
	    "\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	    "AAAAAAAAAA\",\"version\":1}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (gk_polstore_state_decode(bad[i], strlen(bad[i]), &out, err, sizeof(err)) !=
		        GK_ESYNTAX ||
		    !err[0])
			fail_msg("bad[%zu] accepted or no message: '%s'", i, err);
	}
	/* a directory in the file's place */
	assert_int_equal(unlink(path), 0);
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_not_equal(gk_polstore_state_load(sdir, &out, err, sizeof(err)), 0);
	assert_non_null(strstr(err, path));
	rmdir(path);
	unlink(target);
	rmdir(sdir);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_version_bounds),
	    cmocka_unit_test(test_state_file),
	    cmocka_unit_test(test_load_encode_decode),
	    cmocka_unit_test(test_decode_malformed),
	    cmocka_unit_test(test_load_errors),
	    cmocka_unit_test(test_sign_verify),
	    cmocka_unit_test(test_diff),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
