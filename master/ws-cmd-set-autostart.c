/* SPDX-License-Identifier: MIT */
/*
 * fnwm's {"type": "set_autostart", "workerid": ID, "autostart": bool}:
 * marks the worker to start (or not) whenever the manager starts, in
 * the "fnwm" key of its JSON. Answers {"type": "autostart", "workerid":
 * ID, "autostart": bool}. `fnwm worker --name N enable|disable`.
 */
#include <stdlib.h>

#include "master.h"

static void
ws_cmd_set_autostart_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);
	json_object *v, *o;
	char *cause = NULL;
	int on;

	if (id == NULL)
		return;
	if (!json_object_object_get_ex(msg, "autostart", &v) ||
	    !json_object_is_type(v, json_type_boolean)) {
		hub_error(c,
		    "set_autostart needs \"autostart\": true or "
		    "false");
		return;
	}
	on = json_object_get_boolean(v);
	if (registry_entry(id) == NULL) {
		hub_error(c, "Worker with id %s not found.", id);
		return;
	}
	if (autostart_set(id, on, &cause) == -1) {
		hub_error(c, "%s", cause);
		free(cause);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string("autostart"));
	json_object_object_add(o, "workerid", json_object_new_string(id));
	json_object_object_add(o, "autostart", json_object_new_boolean(on));
	hub_send_json(c, o);
	json_object_put(o);
}

const struct ws_cmd_entry ws_cmd_set_autostart_entry = {
	.name = "set_autostart",
	.json = 1,
	.exec = ws_cmd_set_autostart_exec,
};
