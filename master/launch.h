/* SPDX-License-Identifier: MIT */
/* what a monitor is told about its worker */
#ifndef FNWM_MASTER_LAUNCH_H
#define FNWM_MASTER_LAUNCH_H

#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

/* launch.c */
/* Allocated paths: the worker's data dir and interpreter. */
char *launch_data_dir(const struct fnwm_config *, const char *uuid,
    json_object *entry);
char *launch_python(const struct fnwm_config *, json_object *entry);
/*
 * A worker's own "fnwm" liveness_timeout (s, 0 off) and autostart, or
 * the manager-wide defaults; 0, or -1 with a cause when a value is bad.
 */
int launch_supervision(const struct fnwm_config *, json_object *entry,
    double *liveness, int *autostart, char **cause);
/* Encodes the CMD_CONFIG payload for a worker; 0, or -1 with a cause. */
int
launch_encode(const struct fnwm_config *, const char *uuid, json_object *entry,
    unsigned char *buf, size_t bufsz, size_t *len, char **cause);

#endif
