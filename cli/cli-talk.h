/* SPDX-License-Identifier: MIT */
/* the command line's requests to the manager and their answers */
#ifndef FNWM_CLI_TALK_H
#define FNWM_CLI_TALK_H

#include <json-c/json.h>

#include "client.h"

/* What ends a worker operation. */
enum cli_wait {
	WAIT_SET_WORKER, /* set_worker or error */
	WAIT_STOPPED,    /* stop_worker's final reset, or error */
	WAIT_REPAIRED,   /* repair_worker's final reset, or error */
	WAIT_DELETED,    /* worker_deleted or error */
	WAIT_CREATED,    /* worker_created or error */
};

/*
 * The next message (caller puts; an object for a non-JSON one such as
 * "pong", whose text *raw keeps when not NULL), or NULL when the
 * connection is gone or timeout_ms (< 0: none) passed.
 */
json_object *cli_recv_json(struct cli *, int timeout_ms, char **raw);
/* Sends text; the first answer of reply_type or "error", or NULL. */
json_object *
cli_request(struct cli *, const char *text, const char *reply_type);
/* Sends a request object (and puts it); 0, or -1. */
int cli_send(struct cli *, json_object *req);
/* Says the connection is lost; CLI_UNREACHABLE. */
int cli_lost(void);
/*
 * Follows an operation's messages to its end. Returns the final message
 * (caller puts) with *ok set, or NULL when the manager went away.
 */
json_object *cli_follow(struct cli *, enum cli_wait, int *ok);
/*
 * Runs a worker operation and follows it to its end, printing nothing:
 * the final message (set_worker, or the error) goes to *final either way.
 */
int cli_op_quiet(struct cli *, const char *type, const char *uuid,
    enum cli_wait, json_object **final);
/* The same, saying why it failed; *final (may be NULL) on success. */
int cli_op(struct cli *, const char *type, const char *uuid, enum cli_wait,
    json_object **final);

/* Every worker's details without exit histories (caller puts d), or NULL. */
json_object *cli_details_all(struct cli *, json_object **workers);
/* The details of one worker (caller puts), or NULL with *rc set. */
json_object *cli_details_of(struct cli *, const char *uuid, int *rc);
/* All entries of worker_status, each with "active" set, or NULL. */
json_object *cli_workers(struct cli *);
/* The worker named by uuid and/or name (caller puts); NULL, said, *rc set. */
json_object *
cli_resolve(struct cli *, const char *uuid, const char *name, int *rc);

#endif
