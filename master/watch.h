/* SPDX-License-Identifier: MIT */
/* inotify and timers on the workers and config dirs */
#ifndef FNWM_MASTER_WATCH_H
#define FNWM_MASTER_WATCH_H

#include <ev.h>

#include "config.h"

/* watch.c: inotify on the workers dir and the config dir, timers */
int watch_start(struct ev_loop *, const struct fnwm_config *, char **cause);
void watch_stop(void);

#endif
