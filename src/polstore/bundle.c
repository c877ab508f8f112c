/* SPDX-License-Identifier: MIT */
/* src/polstore/bundle.c -- policy bundles: read from disk, compile, encode, decode.
 *
 * A bundle is validated twice when it is made: the files on disk go through gk_policy_build
 * (so errors name the real paths), then the in-memory bundle through gk_policy_build_mem
 * (what gatekeeperd runs; it refuses what only works on disk, e.g. RPZ $INCLUDE). The
 * encoding is jansson's compact output with sorted keys and files sorted by name, so the
 * same content always yields the same bytes; a reader never re-encodes: signatures cover
 * the stored bytes.
 */
#include <jansson.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include "common/file.h"
#include "polstore/polstore.h"

#define MAX_FILE (1u << 30)

static void sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	if (EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		memset(md, 0, sizeof(md));
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static int64_t now_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

static void file_clear(gk_polstore_file_t *f)
{
	free(f->name);
	free(f->data);
	memset(f, 0, sizeof(*f));
}

void gk_polstore_bundle_free(gk_polstore_bundle_t *b)
{
	if (b == NULL)
		return;
	file_clear(&b->policy);
	for (size_t i = 0; i < b->nfiles; i++)
		file_clear(&b->files[i]);
	free(b->files);
	free(b->message);
	free(b);
}

static int file_set(gk_polstore_file_t *f, const char *name, const void *data, size_t len)
{
	f->name = strdup(name);
	f->data = malloc(len + 1);
	if (f->name == NULL || f->data == NULL)
		return GK_ENOMEM;
	if (len)
		memcpy(f->data, data, len);
	f->data[len] = 0;
	f->len = len;
	sha256_hex(f->data, len, f->sha256);
	return 0;
}

static int read_file(const char *path, uint8_t **out, size_t *len)
{
	return gk_file_read(path, MAX_FILE, (char **)out, len);
}

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const gk_polstore_file_t *)a)->name, ((const gk_polstore_file_t *)b)->name);
}

static gk_polstore_bundle_t *bundle_new(void)
{
	gk_polstore_bundle_t *b = calloc(1, sizeof(*b));
	if (b != NULL && (b->message = strdup("")) == NULL) {
		free(b);
		return NULL;
	}
	return b;
}

int gk_polstore_bundle_load(const char *path, gk_polstore_bundle_t **out, gk_policy_t **policy,
                            char *err, size_t errlen)
{
	gk_policy_t *p = NULL;
	int rc = gk_policy_build(path, &p, err, errlen);
	if (rc != 0)
		return rc;
	gk_policy_stats_t st;
	gk_policy_stats(p, &st);
	gk_polstore_bundle_t *b = bundle_new();
	char *dir = strdup(path);
	uint8_t *data = NULL;
	size_t len = 0;
	rc = GK_ENOMEM;
	if (b == NULL || dir == NULL ||
	    (st.lists && !(b->files = calloc(st.lists, sizeof(*b->files)))))
		goto fail;
	char *slash = strrchr(dir, '/');
	const char *base = slash ? slash + 1 : path;
	if (slash)
		*slash = 0;
	else
		dir[0] = 0;
	if ((rc = read_file(path, &data, &len)) != 0) {
		snprintf(err, errlen, "%s:0: cannot read: %s", path, gk_strerror(rc));
		goto fail;
	}
	rc = file_set(&b->policy, base, data, len);
	free(data);
	data = NULL;
	if (rc != 0)
		goto fail;
	for (unsigned i = 1; i <= st.lists; i++) {
		const char *name = gk_policy_list_name(p, i);
		bool dup = false;
		for (size_t j = 0; j < b->nfiles && !dup; j++)
			dup = strcmp(b->files[j].name, name) == 0;
		if (dup)
			continue;
		char full[4096];
		if (name[0] == '/' || !dir[0])
			snprintf(full, sizeof(full), "%s", name);
		else
			snprintf(full, sizeof(full), "%s/%s", dir, name);
		if ((rc = read_file(full, &data, &len)) != 0) {
			snprintf(err, errlen, "%s:0: cannot read: %s", full, gk_strerror(rc));
			goto fail;
		}
		rc = file_set(&b->files[b->nfiles++], name, data, len);
		free(data);
		data = NULL;
		if (rc != 0)
			goto fail;
	}
	qsort(b->files, b->nfiles, sizeof(*b->files), cmp_file);
	b->created_ms = now_ms();
	gk_policy_free(p);
	p = NULL;
	/* the bytes every gatekeeperd will compile, through the same door */
	if ((rc = gk_polstore_bundle_compile(b, policy ? &p : NULL, err, errlen)) != 0)
		goto fail;
	free(dir);
	if (policy)
		*policy = p;
	*out = b;
	return 0;
fail:
	if (rc == GK_ENOMEM && errlen && !err[0])
		snprintf(err, errlen, "%s: out of memory", path);
	gk_policy_free(p);
	free(dir);
	gk_polstore_bundle_free(b);
	return rc;
}

int gk_polstore_bundle_compile(const gk_polstore_bundle_t *b, gk_policy_t **out, char *err,
                               size_t errlen)
{
	gk_policy_file_t *files = calloc(b->nfiles + 1, sizeof(*files));
	if (files == NULL)
		return GK_ENOMEM;
	for (size_t i = 0; i < b->nfiles; i++)
		files[i] = (gk_policy_file_t){.name = b->files[i].name,
		                              .text = (const char *)b->files[i].data,
		                              .len = b->files[i].len};
	gk_policy_t *p = NULL;
	int rc = gk_policy_build_mem(b->policy.name, (const char *)b->policy.data, b->policy.len,
	                             files, b->nfiles, &p, err, errlen);
	free(files);
	if (rc == 0) {
		if (out)
			*out = p;
		else
			gk_policy_free(p);
	}
	return rc;
}

int gk_polstore_bundle_set_message(gk_polstore_bundle_t *b, const char *msg)
{
	char *m = strdup(msg ? msg : "");
	if (m == NULL)
		return GK_ENOMEM;
	free(b->message);
	b->message = m;
	return 0;
}

gk_polstore_bundle_t *gk_polstore_bundle_dup(const gk_polstore_bundle_t *b)
{
	gk_polstore_bundle_t *c = bundle_new();
	if (c == NULL)
		return NULL;
	c->version = b->version;
	c->created_ms = b->created_ms;
	if (gk_polstore_bundle_set_message(c, b->message) != 0 ||
	    file_set(&c->policy, b->policy.name, b->policy.data, b->policy.len) != 0 ||
	    (b->nfiles && !(c->files = calloc(b->nfiles, sizeof(*c->files)))))
		goto fail;
	for (size_t i = 0; i < b->nfiles; i++)
		if (c->nfiles++,
		    file_set(&c->files[i], b->files[i].name, b->files[i].data, b->files[i].len))
			goto fail;
	return c;
fail:
	gk_polstore_bundle_free(c);
	return NULL;
}

const gk_polstore_file_t *gk_polstore_bundle_file(const gk_polstore_bundle_t *b, const char *name)
{
	if (b->policy.name && strcmp(b->policy.name, name) == 0)
		return &b->policy;
	for (size_t i = 0; i < b->nfiles; i++)
		if (strcmp(b->files[i].name, name) == 0)
			return &b->files[i];
	return NULL;
}

/* ---- encoding ----------------------------------------------------------------------------- */

static json_t *file_json(const gk_polstore_file_t *f)
{
	size_t n = 4 * ((f->len + 2) / 3);
	char *b64 = malloc(n + 1);
	if (b64 == NULL || f->len > MAX_FILE)
		goto fail;
	int w = EVP_EncodeBlock((unsigned char *)b64, f->data, (int)f->len);
	if (w < 0 || (size_t)w != n)
		goto fail;
	json_t *o = json_object();
	if (o == NULL || json_object_set_new(o, "name", json_string(f->name)) ||
	    json_object_set_new(o, "sha256", json_string(f->sha256)) ||
	    json_object_set_new(o, "text", json_stringn(b64, n))) {
		json_decref(o);
		goto fail;
	}
	free(b64);
	return o;
fail:
	free(b64);
	return NULL;
}

int gk_polstore_bundle_encode(const gk_polstore_bundle_t *b, char **out, size_t *len)
{
	json_t *o = json_object(), *files = json_array();
	int rc = GK_ENOMEM;
	if (o == NULL || files == NULL) {
		json_decref(files);
		goto out;
	}
	if (json_object_set_new(o, "files", files) ||
	    json_object_set_new(o, "format", json_string(GK_POLICY_BUNDLE_FORMAT)) ||
	    json_object_set_new(o, "created", json_integer(b->created_ms)) ||
	    json_object_set_new(o, "message", json_string(b->message ? b->message : "")) ||
	    json_object_set_new(o, "version", json_integer((json_int_t)b->version)) ||
	    json_object_set_new(o, "policy", file_json(&b->policy)))
		goto out;
	for (size_t i = 0; i < b->nfiles; i++)
		if (json_array_append_new(files, file_json(&b->files[i])))
			goto out;
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	if (s == NULL)
		goto out;
	*out = s;
	*len = strlen(s);
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static int bad(char *err, size_t errlen, const char *what)
{
	if (errlen)
		snprintf(err, errlen, "malformed policy bundle: %s", what);
	return GK_ESYNTAX;
}

static int file_from_json(const json_t *o, gk_polstore_file_t *f, char *err, size_t errlen)
{
	const json_t *name = json_object_get(o, "name"), *text = json_object_get(o, "text"),
	             *sum = json_object_get(o, "sha256");
	if (!json_is_object(o) || !json_is_string(name) || !json_is_string(text) ||
	    !json_is_string(sum) || json_object_size(o) != 3)
		return bad(err, errlen, "a file needs exactly name, sha256 and text");
	const char *nm = json_string_value(name);
	size_t tlen = json_string_length(text);
	const char *t = json_string_value(text);
	if (!nm[0] || strlen(nm) != json_string_length(name) || tlen % 4 ||
	    tlen > 2 * (size_t)MAX_FILE)
		return bad(err, errlen, "bad file name or text length");
	uint8_t *data = malloc(tlen / 4 * 3 + 1);
	if (data == NULL)
		return GK_ENOMEM;
	int n = tlen ? EVP_DecodeBlock(data, (const unsigned char *)t, (int)tlen) : 0;
	if (n < 0) {
		free(data);
		return bad(err, errlen, "text is not base64");
	}
	/* EVP_DecodeBlock counts the padding as data bytes */
	size_t len = (size_t)n;
	if (tlen && t[tlen - 1] == '=')
		len--;
	if (tlen > 1 && t[tlen - 2] == '=')
		len--;
	int rc = file_set(f, nm, data, len);
	free(data);
	if (rc != 0)
		return rc;
	if (strcmp(f->sha256, json_string_value(sum)) != 0) {
		if (errlen)
			snprintf(err, errlen, "malformed policy bundle: %s: sha256 mismatch", nm);
		return GK_ESYNTAX;
	}
	return 0;
}

int gk_polstore_bundle_decode(const void *buf, size_t len, gk_polstore_bundle_t **out, char *err,
                              size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	if (o == NULL) {
		if (errlen)
			snprintf(err, errlen, "malformed policy bundle: JSON at byte %d: %s",
			         je.position, je.text);
		return GK_ESYNTAX;
	}
	int rc;
	gk_polstore_bundle_t *b = bundle_new();
	if (b == NULL) {
		rc = GK_ENOMEM;
		goto fail;
	}
	const json_t *fmt = json_object_get(o, "format"), *ver = json_object_get(o, "version"),
	             *cr = json_object_get(o, "created"), *msg = json_object_get(o, "message"),
	             *pol = json_object_get(o, "policy"), *files = json_object_get(o, "files");
	if (!json_is_object(o) || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), GK_POLICY_BUNDLE_FORMAT) != 0) {
		rc = bad(err, errlen, "not a " GK_POLICY_BUNDLE_FORMAT " bundle");
		goto fail;
	}
	if (!json_is_integer(ver) || json_integer_value(ver) < 0 || !json_is_integer(cr) ||
	    !json_is_string(msg) || !json_is_array(files) || json_object_size(o) != 6) {
		rc = bad(err, errlen,
		         "needs exactly created, files, format, message, policy, version");
		goto fail;
	}
	if ((uint64_t)json_integer_value(ver) > GK_POLICY_VERSION_MAX) {
		rc = bad(err, errlen, "version above " GK_POLICY_VERSION_MAX_TEXT);
		goto fail;
	}
	b->version = (uint64_t)json_integer_value(ver);
	b->created_ms = (int64_t)json_integer_value(cr);
	if ((rc = gk_polstore_bundle_set_message(b, json_string_value(msg))) != 0 ||
	    (rc = file_from_json(pol, &b->policy, err, errlen)) != 0)
		goto fail;
	size_t n = json_array_size(files);
	if (n && !(b->files = calloc(n, sizeof(*b->files)))) {
		rc = GK_ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < n; i++) {
		b->nfiles++; /* counted first: a half-set file is freed with the bundle */
		rc = file_from_json(json_array_get(files, i), &b->files[i], err, errlen);
		if (rc != 0)
			goto fail;
		if (i && strcmp(b->files[i - 1].name, b->files[i].name) >= 0) {
			rc = bad(err, errlen, "files not sorted by name, or a name twice");
			goto fail;
		}
	}
	json_decref(o);
	*out = b;
	return 0;
fail:
	if (rc == GK_ENOMEM && errlen)
		snprintf(err, errlen, "out of memory");
	json_decref(o);
	gk_polstore_bundle_free(b);
	return rc;
}
