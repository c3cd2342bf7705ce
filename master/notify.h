/* SPDX-License-Identifier: MIT */
/* systemd notifications */
#ifndef FNWM_MASTER_NOTIFY_H
#define FNWM_MASTER_NOTIFY_H

#include <ev.h>

#include "config.h"

/* notify.c: systemd notifications (no-ops without NOTIFY_SOCKET) */
void notify_init(struct ev_loop *);
void notify_ready(void);
void notify_status(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_shutdown(void);

#endif
