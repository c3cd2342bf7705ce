/* SPDX-License-Identifier: MIT */
/*
 * fnwm's {"type": "worker_stats", "subscribe": true|false}: with true (the
 * default) the client gets the figures at once and then every
 * SAMPLE_INTERVAL seconds ({"type": "worker_stats", "manager": {...},
 * "workers": {uuid: {"pid", "cpu", "rss", "procs"}}}) until it sends
 * false or goes; the answer says which right the connection has, so a
 * dashboard can offer only what it may do. The manager reads /proc only
 * while someone subscribes (sample.c).
 */
#include "sample.h"
#include "ws-cmd.h"

static void
ws_cmd_worker_stats_exec(struct ws_client *c, json_object *msg)
{
	json_object *v, *o;
	int on = 1;

	if (msg != NULL && json_object_object_get_ex(msg, "subscribe", &v)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			hub_error(c,
			    "worker_stats: subscribe must be true or false");
			return;
		}
		on = json_object_get_boolean(v);
	}
	if (!on) {
		sample_unwatch(c->id);
		return;
	}
	if (sample_watch(c->id) == -1) {
		hub_error(c, "worker_stats: too many clients watch already");
		return;
	}
	o = sample_stats_json();
	json_object_object_add(o, "access",
	    json_object_new_string(
	        c->right == ACCESS_CONTROL ? "control" : "read"));
	hub_send_json(c, o);
	json_object_put(o);
}

const struct ws_cmd_entry ws_cmd_worker_stats_entry = {
	.name = "worker_stats",
	.read_only = 1,
	.plain = 1,
	.json = 1,
	.exec = ws_cmd_worker_stats_exec,
};
