/* SPDX-License-Identifier: MIT */
/*
 * fnwm's {"type": "worker_stats_history", "workerid": ID}: the worker's
 * CPU and memory over the last hour the dashboard watched, one point per
 * SAMPLE_STEP_TICKS * SAMPLE_INTERVAL seconds, oldest first:
 * {"type": "worker_stats_history", "uuid": ID, "step": s,
 *  "samples": [[time, cpu %, rss bytes, processes], ...]}.
 */
#include "registry.h"
#include "sample.h"
#include "ws-cmd.h"

static void
ws_cmd_worker_stats_history_exec(struct ws_client *c, json_object *msg)
{
	const char *id = ws_cmd_workerid(c, msg);
	json_object *o;

	if (id == NULL)
		return;
	if (registry_entry(id) == NULL) {
		hub_error(c, "Worker with id %s not found.", id);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "type",
	    json_object_new_string("worker_stats_history"));
	json_object_object_add(o, "uuid", json_object_new_string(id));
	json_object_object_add(o, "step",
	    json_object_new_double(SAMPLE_INTERVAL * SAMPLE_STEP_TICKS));
	json_object_object_add(o, "samples", sample_history_json(id));
	hub_send_json(c, o);
	json_object_put(o);
}

const struct ws_cmd_entry ws_cmd_worker_stats_history_entry = {
	.name = "worker_stats_history",
	.read_only = 1,
	.json = 1,
	.exec = ws_cmd_worker_stats_history_exec,
};
