/* SPDX-License-Identifier: MIT */
/* src/common/file.c -- read a whole file into memory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "common/file.h"

int gk_read_file(const char *path, size_t max, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return -errno;
	char *buf = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 65536;
			char *nb = cap > max ? NULL : realloc(buf, cap + 1);
			if (!nb) {
				free(buf);
				fclose(f);
				return cap > max ? GK_ERANGE : GK_ENOMEM;
			}
			buf = nb;
		}
		size_t r = fread(buf + n, 1, cap - n, f);
		n += r;
		if (r == 0)
			break;
	}
	int bad = ferror(f);
	fclose(f);
	if (bad) {
		free(buf);
		return GK_EIO;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}
