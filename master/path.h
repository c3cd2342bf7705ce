/* SPDX-License-Identifier: MIT */
/* where a worker's data may be */
#ifndef FNWM_MASTER_PATH_H
#define FNWM_MASTER_PATH_H

#include <sys/types.h>

#include "config.h"

/* paths.c: where a worker's data may be (see the file) */
/* Whether a client's data_path (absolute or relative to the workers dir)
 * is confined; 0 or -1. */
int paths_check_client(const struct fnwm_config *, const char *value);
/*
 * Opens a worker's data dir (O_PATH | O_DIRECTORY): beneath its root when
 * confined, else by its path with the last step no symlink. -1 + errno.
 */
int
paths_open_data_dir(const struct fnwm_config *, const char *dir, int *confined);
/* mkdir of a confined data dir; -1 with errno (EXDEV: not confined). */
int paths_make_data_dir(const struct fnwm_config *, const char *dir);
/*
 * Starts removing a confined data dir in a child (symlinks unlinked, never
 * followed); its pid, or 0 when nothing is to be removed or fork failed.
 */
pid_t paths_remove_data_dir(const struct fnwm_config *, const char *dir);
/* The same, at once: for a data dir just made (a failed creation). */
int paths_remove_new_dir(const struct fnwm_config *, const char *dir);

#endif
