/* SPDX-License-Identifier: MIT */
/*
 * fnwm's "worker_details" (plain or {"type": "worker_details"}): per worker
 * what the FuncNodes lists do not say: supervision state, pid, uptime,
 * restarts, last exit. Used by `fnwm worker list`; the UI never sends it.
 */
#include <limits.h>
#include <string.h>

#include "master.h"

static void
details_one(const char *uuid, void *arg)
{
	json_object *list = arg, *o = json_object_new_object(), *entry, *v;
	struct monitor *m = monitors_find(uuid);
	int active = registry_is_active(uuid);
	const char *state;

	entry = registry_entry(uuid);
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	if (json_object_object_get_ex(entry, "name", &v))
		json_object_object_add(o, "name", json_object_get(v));
	if (json_object_object_get_ex(entry, "host", &v))
		json_object_object_add(o, "host", json_object_get(v));
	if (json_object_object_get_ex(entry, "port", &v))
		json_object_object_add(o, "port", json_object_get(v));
	if (json_object_object_get_ex(entry, "env_path", &v))
		json_object_object_add(o, "env_path", json_object_get(v));
	json_object_object_add(o, "active", json_object_new_boolean(active));
	if (m != NULL && m->pid > 0 && m->have_st) {
		state = monitors_state_name(m->st.state);
		json_object_object_add(o, "pid",
		    m->st.pid > 0 ? json_object_new_int(m->st.pid) : NULL);
		json_object_object_add(o, "restarts",
		    json_object_new_int64(m->st.restarts));
		json_object_object_add(o, "started",
		    m->st.started_ms > 0
		        ? json_object_new_double(m->st.started_ms / 1000.0)
		        : NULL);
		json_object_object_add(o, "since",
		    json_object_new_double(m->st.since_ms / 1000.0));
		json_object_object_add(o, "monitor_pid",
		    json_object_new_int(m->pid));
		json_object_object_add(o, "last_exit",
		    monitors_exit_json(m->st.last_exit));
	} else {
		pid_t pid = registry_live_pid(uuid);

		/* Running without a monitor of ours, or not running. */
		state = pid > 0 ? (active ? "running" : "starting") : "down";
		json_object_object_add(o, "pid",
		    pid > 0 ? json_object_new_int(pid) : NULL);
		json_object_object_add(o, "supervised",
		    json_object_new_boolean(0));
	}
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_array_add(list, o);
}

static void
ws_cmd_worker_details_exec(struct ws_client *c, json_object *msg)
{
	json_object *o = json_object_new_object();
	json_object *list = json_object_new_array();

	registry_each(details_one, list);
	json_object_object_add(o, "type",
	    json_object_new_string("worker_details"));
	json_object_object_add(o, "workers", list);
	hub_send_json(c, o);
	json_object_put(o);
}

const struct ws_cmd_entry ws_cmd_worker_details_entry = {
	.name = "worker_details",
	.read_only = 1,
	.plain = 1,
	.json = 1,
	.exec = ws_cmd_worker_details_exec,
};
