/* SPDX-License-Identifier: MIT */
/* "stop": tell the requester, then shut the manager down (exit 0). */
#include "master.h"

static void
ws_cmd_stop_exec(struct ws_client *c, json_object *msg)
{
	ws_cmd_progress(c, "Stopping worker manager.", 1.0, 0);
	master_shutdown("stop requested by a client");
}

const struct ws_cmd_entry ws_cmd_stop_entry = {
	.name = "stop",
	.plain = 1,
	.subscribes = 1,
	.exec = ws_cmd_stop_exec,
};
