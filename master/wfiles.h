/* SPDX-License-Identifier: MIT */
/* parsers of the files in the workers dir */
#ifndef FNWM_MASTER_WFILES_H
#define FNWM_MASTER_WFILES_H

#include <sys/types.h>
#include <stddef.h>

#include <json-c/json.h>

#include "config.h"

/* wfiles.c: parsers of the files in the workers dir (no I/O) */
/*
 * Checks the bytes of worker_<uuid>.json: a JSON object with a "type"
 * string and the "uuid" of its file name. Returns the object (caller
 * puts), or NULL with a static reason in *why.
 */
json_object *wfiles_worker_json(const char *buf, size_t len, const char *uuid,
    const char **why);
/* What a monitor's worker_<uuid>.status says. */
struct wfiles_status {
	int state;     /* enum fnwm_worker_state, -1 when none or unknown */
	pid_t monitor; /* the monitor that wrote it, 0 when none */
	int exiting;   /* it was stopping its worker to exit */
};
void wfiles_status(const char *buf, size_t len, struct wfiles_status *);
/*
 * The text of a worker's .runstate as a printable progress message in out;
 * 1 when it is news about a start, 0 when it is empty or from a past life.
 */
int wfiles_runstate(const char *buf, size_t len, char *out, size_t outsz);

#endif
