/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_zonelist.c -- libFuzzer target: arbitrary bytes as a zone list file and
 * as a state journal.
 *
 * Every entry gk_zonelist_parse reports must have a valid zone name, a non-empty file
 * without blanks, and increasing line numbers within the input's line count; a file field
 * read as "forward=POOL" (gk_zonelist_forward) must give a non-empty pool inside it, and
 * every file starting with "forward=" and longer must read so; an error
 * must name the list and a line. The same holds for every change gk_zonelist_journal_parse
 * reports (an add has a file, a remove none), which never include an unterminated last line.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zonelist/zonelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	size_t last, lines, full; /* full: lines ended by a newline */
};

static int check(void *ctx, const char *name, size_t nl, const char *file, size_t fl, size_t line)
{
	struct state *s = ctx;
	if (!gk_zonelist_name_ok(name, nl) || fl == 0 || fl > GK_ZONELIST_PATH_MAX ||
	    memchr(file, ' ', fl) || memchr(file, '\t', fl) || memchr(file, '\n', fl) ||
	    line <= s->last || line > s->lines)
		abort();
	const char *pool = NULL;
	size_t pl = 0, k = strlen(GK_ZONELIST_FORWARD);
	bool fwd = gk_zonelist_forward(file, fl, &pool, &pl);
	if (fwd != (fl > k && memcmp(file, GK_ZONELIST_FORWARD, k) == 0) ||
	    (fwd && (pl == 0 || pool != file + k || pool + pl != file + fl)))
		abort();
	s->last = line;
	return 0;
}

static int check_j(void *ctx, bool add, const char *name, size_t nl, const char *file, size_t fl,
                   size_t line)
{
	struct state *s = ctx;
	if (add != (file != NULL) || (!add && fl != 0) || line > s->full)
		abort();
	return add ? check(ctx, name, nl, file, fl, line)
	           : (gk_zonelist_name_ok(name, nl) && line > s->last ? (s->last = line, 0)
	                                                              : (abort(), 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct state s = {0};
	for (size_t i = 0; i < size; i++)
		s.lines += data[i] == '\n';
	s.lines++;
	char err[512] = "";
	int rc =
	    gk_zonelist_parse((const char *)data, size, "fuzz.list", check, &s, err, sizeof(err));
	if (rc != 0 && (rc != GK_ESYNTAX || strncmp(err, "fuzz.list:", 10) != 0))
		abort();
	struct state j = {.lines = s.lines, .full = s.lines - 1};
	rc = gk_zonelist_journal_parse((const char *)data, size, "fuzz.journal", check_j, &j, err,
	                               sizeof(err));
	if (rc != 0 && (rc != GK_ESYNTAX || strncmp(err, "fuzz.journal:", 13) != 0))
		abort();
	return 0;
}
