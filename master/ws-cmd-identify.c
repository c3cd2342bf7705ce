/* SPDX-License-Identifier: MIT */
/*
 * "identify" -> {"class": "WorkerManager", "py": <host python>, ...}.
 * Clients recognise a manager by "class"; the rest is informational.
 */
#include "master.h"

static void
ws_cmd_identify_exec(struct ws_client *c, json_object *msg)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "class",
	    json_object_new_string("WorkerManager"));
	json_object_object_add(o, "py",
	    json_object_new_string(ws_cmd_config()->python));
	json_object_object_add(o, "implementation",
	    json_object_new_string("fnwm"));
	json_object_object_add(o, "version",
	    json_object_new_string(FNWM_VERSION));
	hub_send_json(c, o);
	json_object_put(o);
}

const struct ws_cmd_entry ws_cmd_identify_entry = {
	.name = "identify",
	.read_only = 1,
	.plain = 1,
	.exec = ws_cmd_identify_exec,
};
