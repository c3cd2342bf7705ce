/* SPDX-License-Identifier: MIT */
/*
 * {"type": "delete_worker", "workerid": ID}: stop the worker, then remove its
 * files and data dir. The work is an operation (ops.c) that reports as it goes.
 */
#include "master.h"

static void
ws_cmd_delete_worker_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);

	if (id != NULL)
		ops_submit(OP_DELETE, id, c->id);
}

const struct ws_cmd_entry ws_cmd_delete_worker_entry = {
	.name = "delete_worker",
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_delete_worker_exec,
};
