/* SPDX-License-Identifier: MIT */
/* the manager lock of a config dir */
#ifndef FNWM_MASTER_LOCK_H
#define FNWM_MASTER_LOCK_H

#include "config.h"

/* lock.c */
/* Takes the manager lock of the config dir; 0, or -1 with a cause. */
int lock_manager(const char *config_dir, int *fdp, int *takeover, char **cause);
void lock_release(const char *config_dir, int fd);

#endif
