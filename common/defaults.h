/* SPDX-License-Identifier: MIT */
/*
 * The defaults master and monitor share, stated once: the restart policy
 * a worker gets when neither its own "fnwm" key nor fnwm.restart_policy
 * says otherwise, and how long a stop waits before SIGTERM and SIGKILL.
 * README.md ("Supervising workers") documents these numbers.
 */
#ifndef FNWM_DEFAULTS_H
#define FNWM_DEFAULTS_H

#include "proto.h"

/* The restart policy (monitor/policy.c applies it). */
#define FNWM_DEFAULT_RESTART            FNWM_RESTART_ON_FAILURE
#define FNWM_DEFAULT_HEALTHY_MS         10000 /* a longer run is healthy */
#define FNWM_DEFAULT_BACKOFF_INITIAL_MS 500
#define FNWM_DEFAULT_BACKOFF_MAX_MS     60000
#define FNWM_DEFAULT_GIVEUP_COUNT       5     /* deaths within the window ... */
#define FNWM_DEFAULT_GIVEUP_WINDOW_MS   60000 /* ... make the worker failed */

/* The worker's log file (rotated by its monitor). */
#define FNWM_DEFAULT_LOG_MAX_BYTES (10 * 1024 * 1024)
#define FNWM_DEFAULT_LOG_KEEP      3

/* A stop: the worker's own stop command, then SIGTERM, then SIGKILL. */
#define FNWM_DEFAULT_STOP_TIMEOUT_MS 10000 /* until SIGTERM */
#define FNWM_DEFAULT_KILL_TIMEOUT_MS 5000  /* then until SIGKILL */

#endif
