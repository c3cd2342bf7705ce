/* SPDX-License-Identifier: MIT */
/* systemd notifications */
#ifndef FNWM_MASTER_NOTIFY_H
#define FNWM_MASTER_NOTIFY_H

#include <stddef.h>

#include <ev.h>

#include "config.h"

/* notify.c: systemd notifications (no-ops without NOTIFY_SOCKET) */
void notify_init(struct ev_loop *);
void notify_ready(void);
/* Writes the one-line summary STATUS= shows into line (size bytes). */
typedef void notify_status_fn(char *line, size_t size);
void notify_set_status_source(notify_status_fn *);
/* The workers changed: STATUS= from the source, when it says news. */
void notify_status(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_shutdown(void);

#endif
