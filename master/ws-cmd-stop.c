/* SPDX-License-Identifier: MIT */
/*
 * "stop": tell the requester, stop every worker, then exit 0.
 * fnwm's {"type": "stop", "keep_workers": true} exits leaving the workers
 * running under their monitors, for a new master to re-adopt (upgrades).
 */
#include "master.h"

static void
ws_cmd_stop_exec(struct ws_client *c, json_object *msg)
{
	json_object *keep = NULL;

	if (msg != NULL &&
	    json_object_object_get_ex(msg, "keep_workers", &keep) &&
	    !json_object_is_type(keep, json_type_boolean)) {
		hub_error(c, "stop: keep_workers must be true or false");
		return;
	}
	hub_progress(c, "Stopping worker manager.", 1.0, 0);
	if (msg != NULL && keep != NULL && json_object_get_boolean(keep))
		shutdown_detach("stop (keep workers) requested by a client");
	else
		shutdown_begin("stop requested by a client");
}

const struct ws_cmd_entry ws_cmd_stop_entry = {
	.name = "stop",
	.plain = 1,
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_stop_exec,
};
