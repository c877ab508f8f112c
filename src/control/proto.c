/* SPDX-License-Identifier: MIT */
/* src/control/proto.c -- the control channel's request parser (docs/CONTROL.md). */
#include <stdio.h>
#include <string.h>
#include "common/log.h"
#include "control/control.h"
#include "zonelist/zonelist.h"

#define WORDS_MAX 5

static bool blank(char c)
{
	return c == ' ' || c == '\t';
}

static bool word_is(const char *w, size_t l, const char *s)
{
	return strlen(s) == l && memcmp(w, s, l) == 0;
}

static int bad(char *err, size_t errlen, const char *fmt, const char *w, size_t l)
{
	char word[64];
	snprintf(word, sizeof(word), "%.*s%s", (int)(l > 48 ? 48 : l), w, l > 48 ? "..." : "");
	snprintf(err, errlen, fmt, word);
	return GK_ESYNTAX;
}

static int take_name(gk_control_cmd_t *cmd, const char *w, size_t l, char *err, size_t errlen)
{
	if (l > GK_CONTROL_NAME_MAX || !gk_zonelist_name_ok(w, l))
		return bad(err, errlen, "'%s' is not a valid zone name", w, l);
	memcpy(cmd->name, w, l);
	cmd->name[l] = '\0';
	cmd->has_name = true;
	return 0;
}

int gk_control_parse(const char *line, size_t len, gk_control_cmd_t *cmd, char *err, size_t errlen)
{
	memset(cmd, 0, sizeof(*cmd));
	if (len > 0 && line[len - 1] == '\r')
		len--;
	if (memchr(line, '\0', len) != NULL) {
		snprintf(err, errlen, "NUL byte in the request");
		return GK_ESYNTAX;
	}
	const char *w[WORDS_MAX];
	size_t wl[WORDS_MAX], n = 0;
	for (size_t i = 0; i < len;) {
		while (i < len && blank(line[i]))
			i++;
		if (i == len)
			break;
		size_t b = i;
		while (i < len && !blank(line[i]))
			i++;
		if (n == WORDS_MAX) {
			snprintf(err, errlen, "too many words in the request");
			return GK_ESYNTAX;
		}
		w[n] = line + b;
		wl[n++] = i - b;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty request");
		return GK_ESYNTAX;
	}
	if (word_is(w[0], wl[0], "zone")) {
		if (n < 2) {
			snprintf(err, errlen, "usage: zone add|remove|reload|status|refresh ...");
			return GK_ESYNTAX;
		}
		if (word_is(w[1], wl[1], "add")) {
			if (n != 4) {
				snprintf(err, errlen, "usage: zone add NAME FILE");
				return GK_ESYNTAX;
			}
			cmd->op = GK_CONTROL_ZONE_ADD;
			if (take_name(cmd, w[2], wl[2], err, errlen) != 0)
				return GK_ESYNTAX;
			if (w[3][0] != '/')
				return bad(err, errlen,
				           "'%s': the zone file must be an absolute path", w[3],
				           wl[3]);
			memcpy(cmd->file, w[3], wl[3]); /* wl[3] < len < sizeof(cmd->file) */
			cmd->file[wl[3]] = '\0';
			return 0;
		}
		bool rm = word_is(w[1], wl[1], "remove"), rf = word_is(w[1], wl[1], "refresh");
		if (rm || rf) {
			if (n != 3) {
				snprintf(err, errlen, "usage: zone %s NAME",
				         rm ? "remove" : "refresh");
				return GK_ESYNTAX;
			}
			cmd->op = rm ? GK_CONTROL_ZONE_REMOVE : GK_CONTROL_ZONE_REFRESH;
			return take_name(cmd, w[2], wl[2], err, errlen);
		}
		bool rl = word_is(w[1], wl[1], "reload"), st = word_is(w[1], wl[1], "status");
		if (!rl && !st)
			return bad(
			    err, errlen,
			    "unknown zone command '%s' (expected add, remove, reload, status, "
			    "refresh)",
			    w[1], wl[1]);
		if (n > 3) {
			snprintf(err, errlen, "usage: zone %s [NAME]", rl ? "reload" : "status");
			return GK_ESYNTAX;
		}
		cmd->op = rl ? GK_CONTROL_ZONE_RELOAD : GK_CONTROL_ZONE_STATUS;
		return n == 3 ? take_name(cmd, w[2], wl[2], err, errlen) : 0;
	}
	if (word_is(w[0], wl[0], "reload") || word_is(w[0], wl[0], "stats")) {
		if (n != 1)
			return bad(err, errlen, "usage: %s (no arguments)", w[0], wl[0]);
		cmd->op = wl[0] == 6 ? GK_CONTROL_RELOAD : GK_CONTROL_STATS;
		return 0;
	}
	if (word_is(w[0], wl[0], "loglevel")) {
		if (n != 2) {
			snprintf(err, errlen, "usage: loglevel error|warning|info|debug");
			return GK_ESYNTAX;
		}
		char lv[16];
		if (wl[1] >= sizeof(lv))
			return bad(err, errlen, "'%s' is not one of error, warning, info, debug",
			           w[1], wl[1]);
		memcpy(lv, w[1], wl[1]);
		lv[wl[1]] = '\0';
		enum gk_log_level level;
		if (gk_log_level_parse(lv, &level) != 0)
			return bad(err, errlen, "'%s' is not one of error, warning, info, debug",
			           w[1], wl[1]);
		cmd->op = GK_CONTROL_LOGLEVEL;
		cmd->level = (int)level;
		return 0;
	}
	return bad(err, errlen, "unknown command '%s' (expected zone, reload, stats, loglevel)",
	           w[0], wl[0]);
}
