/* SPDX-License-Identifier: MIT */
/* src/common/file.c -- read a whole file into memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/file.h"

int gk_read_file(const char *path, size_t max, char **out, size_t *len)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; only regular files are read
	 * (a FIFO or a device would hang or never end) */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return GK_ENOTREG;
	}
	if ((size_t)st.st_size > max) {
		close(fd);
		return GK_ERANGE;
	}
	FILE *f = fdopen(fd, "rb");
	if (!f) {
		int e = errno;
		close(fd);
		return -e;
	}
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
