/* SPDX-License-Identifier: MIT */
/* Atomic writes (tmp + fsync + rename + dir fsync) and capped reads. */
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "fileio.h"

static int read_fd(int fd, size_t max, char **out, size_t *outlen);

static int
write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		p += n;
		len -= (size_t)n;
	}
	return (0);
}

/* The body of an atomic write: mode, data, fsync, close; fd is closed. */
static int
write_sync_close(int fd, mode_t mode, const void *data, size_t len)
{
	int saved;

	if (fchmod(fd, mode) == -1 || write_all(fd, data, len) == -1 ||
	    fsync(fd) == -1) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	return (close(fd));
}

/* The file's directory, opened for fnwm_atomic_write_at. */
int
fnwm_atomic_write(const char *path, const void *data, size_t len, mode_t mode)
{
	const char *slash = strrchr(path, '/');
	const char *base = slash != NULL ? slash + 1 : path;
	char dir[PATH_MAX];
	int dfd, rc, saved;

	if (*base == '\0') {
		errno = EISDIR;
		return (-1);
	}
	if (slash == path)
		dfd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	else if (slash != NULL) {
		if ((size_t)(slash - path) >= sizeof dir) {
			errno = ENAMETOOLONG;
			return (-1);
		}
		memcpy(dir, path, (size_t)(slash - path));
		dir[slash - path] = '\0';
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	} else
		dfd = open(".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1)
		return (-1);
	rc = fnwm_atomic_write_at(dfd, base, data, len, mode);
	saved = errno;
	close(dfd);
	errno = saved;
	return (rc);
}

/* A temporary's name: "." + name (at most this much of it) + "." + hex. */
#define TMP_NAME_PART 200
#define TMP_RANDOM    6

int
fnwm_atomic_temporary_of(const char *tmp, const char *name)
{
	size_t len = strnlen(name, TMP_NAME_PART), i;

	if (tmp[0] != '.' || strncmp(tmp + 1, name, len) != 0 ||
	    tmp[1 + len] != '.' || strlen(tmp + 2 + len) != 2 * TMP_RANDOM)
		return (0);
	for (i = 2 + len; tmp[i] != '\0'; i++)
		if (!(tmp[i] >= '0' && tmp[i] <= '9') &&
		    !(tmp[i] >= 'a' && tmp[i] <= 'f'))
			return (0);
	return (1);
}

int
fnwm_atomic_write_at(int dirfd, const char *name, const void *data, size_t len,
    mode_t mode)
{
	char tmp[NAME_MAX + 1];
	unsigned char rnd[TMP_RANDOM];
	int fd, saved, tries;

	for (tries = 0;; tries++) {
		if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
			return (-1);
		if (snprintf(tmp, sizeof tmp, ".%.*s.%02x%02x%02x%02x%02x%02x",
		        TMP_NAME_PART, name, rnd[0], rnd[1], rnd[2], rnd[3],
		        rnd[4], rnd[5]) >= (int)sizeof tmp) {
			errno = ENAMETOOLONG;
			return (-1);
		}
		fd = openat(dirfd, tmp,
		    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
		if (fd != -1 || errno != EEXIST || tries > 8)
			break;
	}
	if (fd == -1)
		return (-1);
	if (write_sync_close(fd, mode, data, len) == -1) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	/* rename never follows a symlink at name: it replaces it. */
	if (renameat(dirfd, tmp, dirfd, name) == -1)
		goto fail;
	(void)fsync(dirfd);
	return (0);
fail:
	saved = errno;
	if (fd != -1)
		close(fd);
	(void)unlinkat(dirfd, tmp, 0);
	errno = saved;
	return (-1);
}

int
fnwm_read_file_at(int dirfd, const char *path, size_t max, char **out,
    size_t *outlen)
{
	int fd = fnwm_open_beneath(dirfd, path, O_RDONLY | O_NONBLOCK, 0);

	if (fd == -1)
		return (-1);
	return (read_fd(fd, max, out, outlen));
}

int
fnwm_read_file(const char *path, size_t max, char **out, size_t *outlen)
{
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd == -1)
		return (-1);
	return (read_fd(fd, max, out, outlen));
}

/* Reads all of fd (closed here) with a size cap. */
static int
read_fd(int fd, size_t max, char **out, size_t *outlen)
{
	struct stat st;
	size_t cap, len = 0;
	char *buf;
	int saved;

	if (fstat(fd, &st) == -1)
		goto fail_fd;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		goto fail_fd;
	}
	if ((size_t)st.st_size > max) {
		errno = EFBIG;
		goto fail_fd;
	}
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (buf == NULL)
		goto fail_fd;
	for (;;) {
		ssize_t n = read(fd, buf + len, cap - len);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			saved = errno;
			free(buf);
			close(fd);
			errno = saved;
			return (-1);
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len == cap) {
			/* The file grew since fstat: allow up to max. */
			char *nb;

			if (cap > max) {
				free(buf);
				close(fd);
				errno = EFBIG;
				return (-1);
			}
			cap *= 2;
			nb = realloc(buf, cap + 1);
			if (nb == NULL) {
				free(buf);
				goto fail_fd;
			}
			buf = nb;
		}
	}
	close(fd);
	buf[len] = '\0';
	*out = buf;
	if (outlen != NULL)
		*outlen = len;
	return (0);
fail_fd:
	saved = errno;
	close(fd);
	errno = saved;
	return (-1);
}

int
fnwm_mkdirs(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;
	struct stat st;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return (-1);
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return (-1);
		*p = '/';
	}
	if (mkdir(buf, mode) == -1) {
		if (errno != EEXIST)
			return (-1);
		if (stat(buf, &st) == -1)
			return (-1);
		if (!S_ISDIR(st.st_mode)) {
			errno = ENOTDIR;
			return (-1);
		}
	}
	return (0);
}
