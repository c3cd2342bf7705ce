/* SPDX-License-Identifier: MIT */
/* workers the manager starts by itself */
#ifndef FNWM_MASTER_AUTOSTART_H
#define FNWM_MASTER_AUTOSTART_H

#include "config.h"

/* autostart.c */
/* Starts the workers marked autostart that nobody runs (start-up). */
void autostart_begin(const struct fnwm_config *);
/* An autostart activation ended: the next may begin. */
void autostart_done(void);
/* Shutdown: starts no more. */
void autostart_cancel(void);
/* Sets "autostart" in the worker's JSON; 0, or -1 with a cause. */
int autostart_set(const char *uuid, int on, char **cause);

#endif
