/* SPDX-License-Identifier: MIT */
/* Whole-file reads with a size cap, and crash-safe whole-file writes. */
#ifndef FNWM_FILEIO_H
#define FNWM_FILEIO_H

#include <sys/types.h>
#include <stddef.h>

/*
 * Writes data to path atomically: a temporary ".<name>.<random>" in the same
 * directory (never matching worker_*), fsync, rename over path, fsync of
 * the directory. The file gets mode. Returns 0, or -1 with errno set and
 * the temporary removed.
 */
int
fnwm_atomic_write(const char *path, const void *data, size_t len, mode_t mode);

/*
 * Reads all of path into a NUL-terminated allocated buffer (caller frees).
 * Returns 0, or -1 with errno set (EFBIG when larger than max).
 */
int fnwm_read_file(const char *path, size_t max, char **out, size_t *outlen);

/*
 * The same, for name in the directory dirfd: the temporary is created
 * O_EXCL | O_NOFOLLOW there and renamed over name (a symlink at name is
 * replaced, never followed).
 */
int fnwm_atomic_write_at(int dirfd, const char *name, const void *data,
    size_t len, mode_t mode);

/*
 * Whether tmp is the name of a temporary fnwm_atomic_write_at makes for
 * name: what a writer that died before its rename leaves behind.
 */
int fnwm_atomic_temporary_of(const char *tmp, const char *name);

/* fnwm_read_file of path beneath dirfd, no symlink followed on the way. */
int fnwm_read_file_at(int dirfd, const char *path, size_t max, char **out,
    size_t *outlen);

/* mkdir -p with mode for the directories it creates. Returns 0 or -1. */
int fnwm_mkdirs(const char *path, mode_t mode);

#endif
