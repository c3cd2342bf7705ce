/* SPDX-License-Identifier: MIT */
/*
 * {"type": "restart_worker", "workerid": ID}: stop the worker and start a new
 * process (new pid). The work is an operation (ops.c) that reports as it goes.
 */
#include "master.h"

static void
ws_cmd_restart_worker_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);

	if (id != NULL)
		ops_submit(OP_RESTART, id, c->id);
}

const struct ws_cmd_entry ws_cmd_restart_worker_entry = {
	.name = "restart_worker",
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_restart_worker_exec,
};
