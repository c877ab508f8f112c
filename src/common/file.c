/* SPDX-License-Identifier: MIT */
/* src/common/file.c -- read a whole file into memory; create one of an exact mode. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "common/file.h"

int gk_file_read_stat(const char *path, size_t max, char **out, size_t *len, struct stat *stp)
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
	/* one allocation of the file's size and one read, not a buffer grown 64 KiB at a time: a
	 * zone file of a few hundred bytes costs a malloc of that size, not a 64 KiB one past
	 * malloc's mmap threshold (an mmap, page faults and an munmap per zone at start-up, a
	 * third of a restart's time). What fstat said is what is read (a change after it is
	 * the next reload's); a file that says 0 octets (procfs) is read to its end. */
	size_t cap = (size_t)st.st_size, n = 0;
	char *buf = malloc(cap + 1);
	if (buf == NULL) {
		close(fd);
		return GK_ENOMEM;
	}
	for (;;) {
		if (st.st_size > 0 && n == (size_t)st.st_size)
			break;
		if (n == cap) {
			if (cap > max) {
				free(buf);
				close(fd);
				return GK_ERANGE;
			}
			size_t nc = cap < 4096 ? 4096 : cap * 2;
			nc = nc > max + 1 ? max + 1 : nc;
			char *nb = realloc(buf, nc + 1);
			if (nb == NULL) {
				free(buf);
				close(fd);
				return GK_ENOMEM;
			}
			buf = nb;
			cap = nc;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			free(buf);
			close(fd);
			return GK_EIO;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n > max) {
		free(buf);
		return GK_ERANGE;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	if (stp != NULL)
		*stp = st;
	return 0;
}

int gk_file_read(const char *path, size_t max, char **out, size_t *len)
{
	return gk_file_read_stat(path, max, out, len, NULL);
}

static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int say(char *err, size_t errlen, int rc, const char *fmt, ...)
{
	if (err != NULL && errlen > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsync the directory holding path, so a rename into it survives a power loss */
static int sync_dir(const char *path)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	if (slash == NULL) {
		dir[0] = '.';
		dir[1] = 0;
	} else {
		size_t n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= sizeof(dir))
			return -1;
		memcpy(dir, path, n);
		dir[n] = 0;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	int rc = fsync(dfd);
	close(dfd);
	return rc;
}

int gk_file_create(const char *path, const void *data, size_t len, mode_t mode, unsigned flags,
                   char *err, size_t errlen)
{
	char tmp[4096];
	const bool replace = (flags & GK_FILE_REPLACE) != 0;
	const char *name = path;
	if (replace) {
		if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
			return say(err, errlen, GK_EINVAL, "cannot create %s: name too long", path);
		/* a temporary left by a crash (or planted) is removed, never written through */
		if (unlink(tmp) != 0 && errno != ENOENT)
			return say(err, errlen, GK_EIO, "cannot create %s: %s", tmp,
			           strerror(errno));
		name = tmp;
	}
	int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode & 0777);
	if (fd < 0) {
		if (errno == EEXIST && !replace)
			return say(err, errlen, GK_EEXIST, "%s exists", path);
		return say(err, errlen, GK_EIO, "cannot create %s: %s", name, strerror(errno));
	}
	if (fchmod(fd, mode) != 0 || write_all(fd, data, len) != 0 || fsync(fd) != 0) {
		int e = errno;
		close(fd);
		unlink(name);
		return say(err, errlen, GK_EIO, "cannot write %s: %s", name, strerror(e));
	}
	if (close(fd) != 0) {
		int e = errno;
		unlink(name);
		return say(err, errlen, GK_EIO, "cannot write %s: %s", name, strerror(e));
	}
	if (replace) {
		if (rename(tmp, path) != 0) {
			int e = errno;
			unlink(tmp);
			return say(err, errlen, GK_EIO, "cannot replace %s: %s", path, strerror(e));
		}
		if (sync_dir(path) != 0)
			return say(err, errlen, GK_EIO, "cannot replace %s: %s", path,
			           strerror(errno));
	}
	return 0;
}
