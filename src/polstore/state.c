/* SPDX-License-Identifier: MIT */
/* src/polstore/state.c -- the last verified fleet policy version, kept on local disk.
 *
 * gatekeeperd writes the version it applied (the signed bundle bytes, signature and key id,
 * exactly as Redis stored them) to STATE_DIR/GK_POLSTORE_STATE_FILE and reads it back at
 * start, so a restart while Redis offers nothing that verifies keeps the last verified
 * policy. The file is no more trusted than Redis: the reader verifies it again with the
 * operator keys (src/polsync). Writes are atomic (a temporary file in the same directory,
 * fsync, rename, fsync of the directory); no path component is followed through a symlink
 * at the file level (O_NOFOLLOW), and only regular files are read.
 *
 * Format (one compact JSON object):
 *   {"bundle":"<base64 of the bundle bytes>","format":"gk-policy-state/1",
 *    "key_id":"<16 hex>","sig":"<88 base64>","version":<n>}
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/file.h"
#include "polstore/polstore.h"

#define STATE_FORMAT "gk-policy-state/1"
/* a Redis string holds at most 512 MiB; its base64 and the JSON around it fit in this */
#define STATE_MAX ((size_t)700 << 20)

static int say(char *err, size_t errlen, int rc, const char *fmt, const char *a, const char *b)
{
	if (errlen)
		snprintf(err, errlen, fmt, a, b);
	return rc;
}

int gk_polstore_state_decode(const void *buf, size_t len, gk_polstore_version_t *out, char *err,
                             size_t errlen)
{
	json_error_t je;
	json_t *o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
	const json_t *fmt = json_object_get(o, "format"), *ver = json_object_get(o, "version"),
	             *b = json_object_get(o, "bundle"), *sig = json_object_get(o, "sig"),
	             *kid = json_object_get(o, "key_id");
	int rc = GK_ESYNTAX;
	if (!json_is_object(o) || !json_is_string(fmt) ||
	    strcmp(json_string_value(fmt), STATE_FORMAT) != 0) {
		say(err, errlen, rc, "not a %s file%s", STATE_FORMAT,
		    o == NULL ? " (not JSON)" : "");
		goto out;
	}
	if (json_object_size(o) != 5 || !json_is_integer(ver) || !json_is_string(b) ||
	    !json_is_string(sig) || !json_is_string(kid) || json_string_length(sig) == 0 ||
	    json_string_length(sig) >= sizeof(out->sig) ||
	    strlen(json_string_value(sig)) != json_string_length(sig) ||
	    json_string_length(kid) != GK_POLICY_KEY_ID_LEN ||
	    strlen(json_string_value(kid)) != GK_POLICY_KEY_ID_LEN) {
		say(err, errlen, rc, "%s: needs exactly bundle, format, key_id, sig, version%s",
		    STATE_FORMAT, "");
		goto out;
	}
	json_int_t v = json_integer_value(ver);
	if (v < 1 || (uint64_t)v > GK_POLICY_VERSION_MAX) {
		say(err, errlen, rc, "%s: version out of range (1..%s)", STATE_FORMAT,
		    GK_POLICY_VERSION_MAX_TEXT);
		goto out;
	}
	size_t blen = json_string_length(b);
	const char *b64 = json_string_value(b);
	if (blen % 4 != 0 || blen > (size_t)INT32_MAX) {
		say(err, errlen, rc, "%s: bundle is not base64%s", STATE_FORMAT, "");
		goto out;
	}
	unsigned char *data = malloc(blen / 4 * 3 + 1);
	if (data == NULL) {
		rc = say(err, errlen, GK_ENOMEM, "out of memory%s%s", "", "");
		goto out;
	}
	int n = blen ? EVP_DecodeBlock(data, (const unsigned char *)b64, (int)blen) : 0;
	if (n < 0 || blen == 0) {
		free(data);
		say(err, errlen, rc, "%s: bundle is not base64%s", STATE_FORMAT, "");
		goto out;
	}
	/* EVP_DecodeBlock counts the padding as data bytes */
	size_t dlen = (size_t)n - (b64[blen - 1] == '=') - (b64[blen - 2] == '=');
	data[dlen] = 0;
	memset(out, 0, sizeof(*out));
	out->version = (uint64_t)v;
	out->bundle = (char *)data;
	out->bundle_len = dlen;
	memcpy(out->sig, json_string_value(sig), json_string_length(sig) + 1);
	memcpy(out->key_id, json_string_value(kid), GK_POLICY_KEY_ID_LEN + 1);
	snprintf(out->action, sizeof(out->action), "state");
	if ((out->message = strdup("")) == NULL) {
		gk_polstore_version_clear(out);
		rc = say(err, errlen, GK_ENOMEM, "out of memory%s%s", "", "");
		goto out;
	}
	rc = 0;
out:
	json_decref(o);
	return rc;
}

static void state_path(const char *dir, const char *name, char *out, size_t cap)
{
	snprintf(out, cap, "%s/%s", dir, name);
}

int gk_polstore_state_load(const char *dir, gk_polstore_version_t *out, char *err, size_t errlen)
{
	char path[4096];
	state_path(dir, GK_POLSTORE_STATE_FILE, path, sizeof(path));
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return GK_ENOENT;
		return say(err, errlen, GK_EIO, "%s: %s", path, strerror(e));
	}
	struct stat st;
	char *buf = NULL;
	int rc = GK_EIO;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		say(err, errlen, rc, "%s: %s", path, "not a regular file");
		goto out;
	}
	if ((size_t)st.st_size > STATE_MAX) {
		say(err, errlen, rc, "%s: %s", path, "too large");
		goto out;
	}
	size_t len = (size_t)st.st_size, got = 0;
	if ((buf = malloc(len + 1)) == NULL) {
		rc = say(err, errlen, GK_ENOMEM, "%s: %s", path, "out of memory");
		goto out;
	}
	while (got < len) {
		ssize_t r = read(fd, buf + got, len - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			say(err, errlen, rc, "%s: %s", path, r < 0 ? strerror(errno) : "truncated");
			goto out;
		}
		got += (size_t)r;
	}
	char why[256];
	rc = gk_polstore_state_decode(buf, len, out, why, sizeof(why));
	if (rc != 0)
		say(err, errlen, rc, "%s: %s", path, why);
out:
	free(buf);
	close(fd);
	return rc;
}

int gk_polstore_state_save(const char *dir, const gk_polstore_version_t *v, char *err,
                           size_t errlen)
{
	char path[4096], *b64 = NULL, *text = NULL;
	json_t *o = NULL;
	int rc = GK_ENOMEM;
	state_path(dir, GK_POLSTORE_STATE_FILE, path, sizeof(path));
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return say(err, errlen, GK_EIO, "%s: %s", dir, strerror(errno));
	if (v->bundle_len > (size_t)INT32_MAX / 4 * 3)
		return say(err, errlen, GK_ERANGE, "%s: %s", path, "bundle too large");
	if ((b64 = malloc((v->bundle_len + 2) / 3 * 4 + 1)) == NULL)
		goto fail;
	EVP_EncodeBlock((unsigned char *)b64, (const unsigned char *)v->bundle, (int)v->bundle_len);
	o = json_pack("{sssIssssss}", "format", STATE_FORMAT, "version", (json_int_t)v->version,
	              "key_id", v->key_id, "sig", v->sig, "bundle", b64);
	if (o == NULL || (text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) == NULL)
		goto fail;
	/* the temporary (a crash's or a planted one removed first) is renamed over the state,
	 * and the rename itself made to survive a power loss: common/file.h */
	if ((rc = gk_file_create(path, text, strlen(text), 0600, GK_FILE_REPLACE, err, errlen)) !=
	    0) {
		rc = GK_EIO;
		goto fail;
	}
	rc = 0;
fail:
	if (rc == GK_ENOMEM)
		say(err, errlen, rc, "%s: %s", path, "out of memory");
	json_decref(o);
	free(text);
	free(b64);
	return rc;
}
