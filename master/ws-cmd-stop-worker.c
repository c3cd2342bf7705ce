/* SPDX-License-Identifier: MIT */
/*
 * {"type": "stop_worker", "workerid": ID}: stop the worker (its stop command,
 * then TERM, then KILL). The work is an operation (ops.c) that reports as it
 * goes.
 */
#include "master.h"

static void
ws_cmd_stop_worker_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);

	if (id != NULL)
		ops_submit(OP_STOP, id, c->id);
}

const struct ws_cmd_entry ws_cmd_stop_worker_entry = {
	.name = "stop_worker",
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_stop_worker_exec,
};
