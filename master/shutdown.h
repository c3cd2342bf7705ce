/* SPDX-License-Identifier: MIT */
/* the master's orderly shutdown */
#ifndef FNWM_MASTER_SHUTDOWN_H
#define FNWM_MASTER_SHUTDOWN_H

#include "config.h"

/* main.c */
/* Starts an orderly shutdown of the master; safe from any callback. */
void master_shutdown(const char *why);
int shutdown_in_progress(void);
/* Exits leaving every worker running under its monitor (upgrades). */
void master_detach(const char *why);
/* A monitor exited; the shutdown may be able to finish. */
void shutdown_monitor_gone(void);
extern const struct fnwm_config *master_cfg;

#endif
