/* SPDX-License-Identifier: MIT */
/* worker log files for clients */
#ifndef FNWM_MASTER_LOGS_H
#define FNWM_MASTER_LOGS_H

#include <stdint.h>

#include <ev.h>

#include "config.h"
#include "hub.h"

struct ws_client;

/* logs.c */
void logs_init(struct ev_loop *, const struct fnwm_config *);
void logs_shutdown(void);
/* Sends the last lines, and follows when asked; -1 with a cause. */
int logs_request(struct ws_client *, const char *uuid, int lines, int follow,
    char **cause);
/* A client went away: its followers go too. */
void logs_client_gone(uint64_t client);

#endif
