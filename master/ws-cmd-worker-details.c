/* SPDX-License-Identifier: MIT */
/*
 * fnwm's "worker_details" (plain or {"type": "worker_details"}, with an
 * optional "workerid" for one worker, and "history": false to leave out
 * the exits but their totals): per worker what the FuncNodes
 * lists do not say: supervision state, pid, uptime, restarts, last exit,
 * and the exit history of its .status. Used by `fnwm worker list` and
 * `history`; the UI never sends it.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "master.h"

/* Autostart and liveness timeout, as the worker's JSON and config say. */
static void
ws_cmd_worker_details_supervision(json_object *o, const char *uuid,
    json_object *entry)
{
	double liveness;
	int autostart;
	char *cause = NULL;

	if (launch_supervision(ws_cmd_config(), entry, &liveness, &autostart,
	        &cause) == -1) {
		json_object_object_add(o, "config_error",
		    json_object_new_string(cause));
		free(cause);
		return;
	}
	json_object_object_add(o, "autostart",
	    json_object_new_boolean(autostart));
	json_object_object_add(o, "liveness_timeout",
	    json_object_new_double(liveness));
}

struct ws_cmd_worker_details_req {
	json_object *list;
	int history; /* the exits themselves, not only their totals */
};

/* The last exits, oldest first, and the totals by reason. */
static void
ws_cmd_worker_details_history(json_object *o, const char *uuid, int with_exits)
{
	json_object *list = json_object_new_array(), *e, *totals;
	const struct fnwm_exit_rec *r;
	struct fnwm_status st;
	unsigned i;

	totals = json_object_new_object();
	if (monitors_read_status(uuid, &st) == -1)
		fnwm_status_init(&st);
	for (i = 0; with_exits && i < st.nhist; i++) {
		r = &st.hist[i];
		e = json_object_new_object();
		json_object_object_add(e, "time",
		    json_object_new_double((double)r->at_ms / 1000.0));
		json_object_object_add(e, "code",
		    r->status >= 0 ? json_object_new_int(r->status) : NULL);
		json_object_object_add(e, "signal",
		    r->status < 0 && r->status != FNWM_EXIT_UNKNOWN
		        ? json_object_new_int(-r->status)
		        : NULL);
		/* An adopted worker is not its monitor's child. */
		json_object_object_add(e, "unknown",
		    json_object_new_boolean(r->status == FNWM_EXIT_UNKNOWN));
		json_object_object_add(e, "ran",
		    json_object_new_double((double)r->ran_ms / 1000.0));
		json_object_object_add(e, "reason",
		    json_object_new_string(fnwm_exit_reason_name(r->reason)));
		json_object_array_add(list, e);
	}
	for (i = 0; i < FNWM_EXIT_REASONS; i++)
		json_object_object_add(totals, fnwm_exit_reason_name(i),
		    json_object_new_int64(st.totals[i]));
	if (with_exits)
		json_object_object_add(o, "history", list);
	else
		json_object_put(list);
	json_object_object_add(o, "exits", totals);
}

static void
ws_cmd_worker_details_one(const char *uuid, void *arg)
{
	struct ws_cmd_worker_details_req *req = arg;
	json_object *list = req->list, *o = json_object_new_object(), *entry,
	            *v;
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
		state = fnwm_worker_state_name(m->st.state);
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
	if (liveness_unresponsive(uuid)) {
		state = "unresponsive";
		json_object_object_add(o, "unresponsive_since",
		    json_object_new_double(
		        m->unresponsive_at - ev_now(EV_DEFAULT) + ev_time()));
	}
	json_object_object_add(o, "state", json_object_new_string(state));
	ws_cmd_worker_details_supervision(o, uuid, entry);
	ws_cmd_worker_details_history(o, uuid, req->history);
	json_object_array_add(list, o);
}

static void
ws_cmd_worker_details_exec(struct ws_client *c, json_object *msg)
{
	struct ws_cmd_worker_details_req req;
	json_object *o, *list, *v;
	const char *id = NULL;

	/* {"history": false}: without the exits (a listing of many). */
	req.history = msg == NULL ||
	    !json_object_object_get_ex(msg, "history", &v) ||
	    !json_object_is_type(v, json_type_boolean) ||
	    json_object_get_boolean(v);

	if (msg != NULL && json_object_object_get_ex(msg, "workerid", &v)) {
		if ((id = ws_cmd_workerid(c, msg)) == NULL)
			return;
		if (registry_entry(id) == NULL) {
			hub_error(c, "Worker with id %s not found.", id);
			return;
		}
	}
	o = json_object_new_object();
	list = json_object_new_array();
	req.list = list;
	if (id != NULL)
		ws_cmd_worker_details_one(id, &req);
	else
		registry_each(ws_cmd_worker_details_one, &req);
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
