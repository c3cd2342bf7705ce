/* SPDX-License-Identifier: MIT */
/* the master's orderly shutdown */
#ifndef FNWM_MASTER_SHUTDOWN_H
#define FNWM_MASTER_SHUTDOWN_H

#include "config.h"

/* shutdown.c */
/* What leaving means; called once, for the first request. */
typedef void shutdown_fn(const char *why, int keep_workers);
void shutdown_set_handler(shutdown_fn *);
/* Starts an orderly shutdown of the master; safe from any callback. */
void shutdown_begin(const char *why);
/* Exits leaving every worker running under its monitor (upgrades). */
void shutdown_detach(const char *why);
int shutdown_in_progress(void);

#endif
