/* SPDX-License-Identifier: MIT */
/*
 * fnwm's {"type": "repair_worker", "workerid": ID}: recreate a deleted or
 * broken virtualenv from the worker's recorded dependencies (stopping the
 * worker first). FuncNodes has no such message; its UI never sends it.
 */
#include "master.h"

static void
ws_cmd_repair_worker_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);

	if (id != NULL)
		ops_submit(OP_REPAIR, id, c->id);
}

const struct ws_cmd_entry ws_cmd_repair_worker_entry = {
	.name = "repair_worker",
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_repair_worker_exec,
};
