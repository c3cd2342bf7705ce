/* SPDX-License-Identifier: MIT */
/*
 * {"type": "set_active", "workerid": ID}: start the worker if needed, then hand
 * it to the requester (set_worker). The work is an operation (ops.c) that
 * reports as it goes.
 */
#include "master.h"

static void
ws_cmd_set_active_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);

	if (id != NULL)
		ops_submit(OP_ACTIVATE, id, c->id);
}

const struct ws_cmd_entry ws_cmd_set_active_entry = {
	.name = "set_active",
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_set_active_exec,
};
