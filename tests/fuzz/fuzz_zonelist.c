/* SPDX-License-Identifier: MIT */
/* tests/fuzz/fuzz_zonelist.c -- libFuzzer target: arbitrary bytes as a zone list file.
 *
 * Every entry gk_zonelist_parse reports must have a valid zone name, a non-empty file
 * without blanks, and increasing line numbers within the input's line count; an error
 * must name the list and a line.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "zonelist/zonelist.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct state {
	size_t last, lines;
};

static int check(void *ctx, const char *name, size_t nl, const char *file, size_t fl, size_t line)
{
	struct state *s = ctx;
	if (!gk_zonelist_name_ok(name, nl) || fl == 0 || fl > GK_ZONELIST_PATH_MAX ||
	    memchr(file, ' ', fl) || memchr(file, '\t', fl) || memchr(file, '\n', fl) ||
	    line <= s->last || line > s->lines)
		abort();
	s->last = line;
	return 0;
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
	return 0;
}
