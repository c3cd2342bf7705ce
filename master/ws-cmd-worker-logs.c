/* SPDX-License-Identifier: MIT */
/*
 * fnwm's {"type": "worker_logs", "workerid": ID, "lines": N, "follow": b}:
 * the last N lines of the worker's log ({"type": "worker_logs", "lines":
 * [...]}), then with follow every new line ({"type": "worker_log"}) until
 * the client goes. Works remotely: `fnwm worker logs -f` uses it.
 */
#include <stdlib.h>

#include "master.h"

static void
ws_cmd_worker_logs_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);
	json_object *v;
	char *cause = NULL;
	int lines = 50, follow = 0;

	if (id == NULL)
		return;
	registry_refresh_now(id);
	if (registry_entry(id) == NULL) {
		hub_error(c, "Worker %s not found", id);
		return;
	}
	if (json_object_object_get_ex(msg, "lines", &v)) {
		if (!json_object_is_type(v, json_type_int) ||
		    json_object_get_int64(v) < 0 ||
		    json_object_get_int64(v) > 100000) {
			hub_error(c, "worker_logs: lines must be 0..100000");
			return;
		}
		lines = (int)json_object_get_int64(v);
	}
	if (json_object_object_get_ex(msg, "follow", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			hub_error(c,
			    "worker_logs: follow must be true or "
			    "false");
			return;
		}
		follow = json_object_get_boolean(v);
	}
	if (logs_request(c, id, lines, follow, &cause) == -1) {
		hub_error(c, "worker_logs: %s", cause);
		free(cause);
	}
}

const struct ws_cmd_entry ws_cmd_worker_logs_entry = {
	.name = "worker_logs",
	.read_only = 1,
	.json = 1,
	.exec = ws_cmd_worker_logs_exec,
};
