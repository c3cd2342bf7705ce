/* SPDX-License-Identifier: MIT */
/*
 * Files reached beneath a directory fd, never through a symlink: every
 * create, open, truncate and delete of a worker's files goes through these,
 * so a symlink planted after a path was checked cannot redirect it.
 */
#ifndef FNWM_BENEATH_H
#define FNWM_BENEATH_H

#include <sys/types.h>

/*
 * Opens path (relative; no "..", no symlink at any step) beneath dirfd:
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), or, where the kernel
 * lacks it, one O_NOFOLLOW openat per component. An empty path or "."
 * opens dirfd itself. Returns an fd, or -1 with errno (ELOOP for a
 * symlink, EXDEV for an escape).
 */
int fnwm_open_beneath(int dirfd, const char *path, int flags, mode_t mode);

/*
 * Opens the directory holding path's last component beneath dirfd
 * (O_PATH); *base points at that component in path. -1 with errno, and
 * EINVAL when path has no last component.
 */
int fnwm_parent_beneath(int dirfd, const char *path, const char **base);

/* mkdir of path beneath dirfd; 0 or -1 with errno. */
int fnwm_mkdir_beneath(int dirfd, const char *path, mode_t mode);

/*
 * Removes name in dirfd and, when it is a directory, all it holds:
 * symlinks are unlinked, never followed; other file systems are not
 * entered. 0, or -1 with errno of the first failure (it goes on).
 */
int fnwm_rmtree_at(int dirfd, const char *name);

/* Whether path is relative and has no "." or ".." component. */
int fnwm_path_plain(const char *path);

#endif
