/* SPDX-License-Identifier: MIT */
/* The fuzz targets' scratch directories. */
#ifndef FNWM_FUZZ_TMP_H
#define FNWM_FUZZ_TMP_H

/*
 * Makes $TMPDIR/fnwm-fuzz-<name>.XXXXXX (run-target.sh points TMPDIR into
 * the build dir) and removes it, with what is in it, at exit. Aborts when
 * it cannot be made: a target without its directory tests nothing.
 */
const char *fz_tmpdir(const char *name);

/* Removes path and everything below it (symlinks are not followed). */
void fz_rmtree(const char *path);

#endif
