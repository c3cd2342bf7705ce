/* SPDX-License-Identifier: MIT */
/* what the command line shows: messages, progress, the manager's JSON */
#ifndef FNWM_CLI_OUTPUT_H
#define FNWM_CLI_OUTPUT_H

#include <stddef.h>

#include <json-c/json.h>

#include "client.h"

/* "fnwm: ..." on stderr. */
void cli_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A string member of o, or NULL; the "type" of a message, or "". */
const char *cli_str(json_object *o, const char *key);
const char *cli_type(json_object *o);

/* Shows a progress message: a bar on a terminal, a line otherwise. */
void cli_progress(struct cli *, json_object *progress);
/* Takes the bar off the terminal, if one is shown. */
void cli_bar_clear(struct cli *);

void cli_print_json(json_object *);
/* 42s, 3m05s, 2h10m, 4d01h */
void cli_duration(char *buf, size_t sz, double secs);
/* A worker's state as shown: one that answers is running. */
const char *cli_state(json_object *worker);
/* "signal 9", "status 1", or an adopted worker's unknown status. */
void cli_exit_text(json_object *exit, char *buf, size_t sz);
/* A worker's last exit as cli_exit_text says it, or "-". */
void cli_last_exit(json_object *worker, char *buf, size_t sz);
/* "worker N (U) <verb>: ws://HOST:PORT/, pid P" from a set_worker. */
void cli_started(json_object *set_worker, const char *verb);

#endif
