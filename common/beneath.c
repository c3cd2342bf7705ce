/* SPDX-License-Identifier: MIT */
/* Opening, creating and removing files beneath a directory fd. */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <linux/openat2.h>

#include "beneath.h"

int
fnwm_path_plain(const char *path)
{
	const char *p = path, *e;
	size_t n;

	if (path[0] == '/')
		return (0);
	while (*p != '\0') {
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return (0);
		p += n;
		while (*p == '/')
			p++;
	}
	return (1);
}

/* The same, one O_NOFOLLOW step at a time (kernels before 5.6). */
static int
beneath_walk(int dirfd, const char *path, int flags, mode_t mode)
{
	char comp[NAME_MAX + 1];
	const char *p = path, *e;
	struct stat st;
	int cur = dirfd, next, saved;
	size_t n;

	for (;;) {
		while (*p == '/')
			p++;
		e = strchr(p, '/');
		n = e != NULL ? (size_t)(e - p) : strlen(p);
		if (n > NAME_MAX) {
			errno = ENAMETOOLONG;
			goto fail;
		}
		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		next = openat(cur, comp,
		    O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (next == -1)
			goto fail;
		if (cur != dirfd)
			close(cur);
		cur = next;
	}
	next = openat(cur, comp, flags | O_NOFOLLOW | O_CLOEXEC, mode);
	if (next != -1 && (flags & O_PATH) && fstat(next, &st) == 0 &&
	    S_ISLNK(st.st_mode)) {
		close(next);
		next = -1;
		errno = ELOOP;
	}
	saved = errno;
	if (cur != dirfd)
		close(cur);
	errno = saved;
	return (next);
fail:
	saved = errno;
	if (cur != dirfd)
		close(cur);
	errno = saved;
	return (-1);
}

int
fnwm_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
	struct open_how how;
	long fd;

	while (*path == '/')
		path++; /* the caller vouches it is relative */
	if (*path == '\0' || strcmp(path, ".") == 0)
		path = ".";
	else if (!fnwm_path_plain(path)) {
		errno = EXDEV;
		return (-1);
	}
	memset(&how, 0, sizeof how);
	how.flags = (uint64_t)(flags | O_CLOEXEC);
	how.mode = (flags & O_CREAT) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
	fd = syscall(SYS_openat2, dirfd, path, &how, sizeof how);
	if (fd != -1 || errno != ENOSYS)
		return ((int)fd);
	if (strcmp(path, ".") == 0)
		return (openat(dirfd, ".", flags | O_CLOEXEC, mode));
	return (beneath_walk(dirfd, path, flags, mode));
}

int
fnwm_parent_beneath(int dirfd, const char *path, const char **base)
{
	char parent[PATH_MAX];
	const char *slash;
	size_t n = strlen(path);

	while (n > 0 && path[n - 1] == '/')
		n--;
	if (n == 0 || n >= sizeof parent) {
		errno = n == 0 ? EINVAL : ENAMETOOLONG;
		return (-1);
	}
	memcpy(parent, path, n);
	parent[n] = '\0';
	slash = strrchr(parent, '/');
	*base = path + (slash != NULL ? (size_t)(slash - parent) + 1 : 0);
	if (strcmp(*base, ".") == 0 || strncmp(*base, "..", 2) == 0 ||
	    !fnwm_path_plain(parent)) {
		errno = EXDEV;
		return (-1);
	}
	if (slash == NULL)
		return (fnwm_open_beneath(dirfd, ".", O_PATH | O_DIRECTORY, 0));
	parent[slash - parent] = '\0';
	return (fnwm_open_beneath(dirfd, parent, O_PATH | O_DIRECTORY, 0));
}

int
fnwm_mkdir_beneath(int dirfd, const char *path, mode_t mode)
{
	char name[NAME_MAX + 1];
	const char *base;
	int pfd, rc, saved;
	size_t n;

	pfd = fnwm_parent_beneath(dirfd, path, &base);
	if (pfd == -1)
		return (-1);
	n = strcspn(base, "/");
	if (n > NAME_MAX) {
		close(pfd);
		errno = ENAMETOOLONG;
		return (-1);
	}
	memcpy(name, base, n);
	name[n] = '\0';
	rc = mkdirat(pfd, name, mode);
	saved = errno;
	close(pfd);
	errno = saved;
	return (rc);
}

int
fnwm_rmtree_at(int dirfd, const char *name)
{
	struct stat top, st;
	struct dirent *de;
	DIR *d;
	int fd, rc = 0, saved = 0, pass;

	if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISDIR(st.st_mode))
		return (
		    unlinkat(dirfd, name, 0) == -1 && errno != ENOENT ? -1 : 0);
	/* Another file system mounted here is not ours to empty. */
	if (fstat(dirfd, &top) == -1)
		return (-1);
	if (top.st_dev != st.st_dev) {
		errno = EXDEV;
		return (-1);
	}
	fd = openat(dirfd, name,
	    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd == -1)
		return (-1);
	d = fdopendir(fd);
	if (d == NULL) {
		saved = errno;
		close(fd);
		errno = saved;
		return (-1);
	}
	/* Entries removed during a readdir may hide others: look again. */
	for (pass = 0; pass < 3; pass++) {
		if (pass > 0)
			rewinddir(d);
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			if (fnwm_rmtree_at(fd, de->d_name) == -1 && rc == 0) {
				rc = -1;
				saved = errno;
			}
		}
		if (unlinkat(dirfd, name, AT_REMOVEDIR) == 0 ||
		    errno != ENOTEMPTY || rc == -1)
			break;
	}
	if (pass == 3 ||
	    (rc == 0 && fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)) {
		rc = -1;
		saved = ENOTEMPTY;
	}
	closedir(d);
	if (rc == -1)
		errno = saved;
	return (rc);
}
