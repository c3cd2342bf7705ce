/* SPDX-License-Identifier: MIT */
/*
 * The command table of the hub and its dispatch, in the order FuncNodes
 * defines: exact plain-text commands first, then JSON objects by "type".
 * Every refusal is an {"type":"error"} reply; no input closes the client.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

/*
 * An operation on the worker {"type": name, "workerid": ID} names: queued
 * on that worker (ops_submit) and reporting to its requester as it goes.
 */
#define WS_CMD_OP(cmd, kind)                          \
	(&(const struct ws_cmd_entry){ .name = (cmd), \
	    .json = 1,                                \
	    .subscribes = 1,                          \
	    .op = (kind) })

/*
 * Reading this table answers "what can a client make the master do?": a
 * command of its own file (ws-cmd-<name>.c), or an operation of the file
 * named beside it.
 */
static const struct ws_cmd_entry *const ws_cmd_table[] = {
	&ws_cmd_ping_entry,
	&ws_cmd_identify_entry,
	&ws_cmd_stop_entry,
	&ws_cmd_status_entry,
	&ws_cmd_new_worker_entry,
	/* op-activate.c: start it if needed, then hand it over (set_worker) */
	WS_CMD_OP("set_active", OP_ACTIVATE),
	/* op-stop.c: its stop command, then TERM, then KILL */
	WS_CMD_OP("stop_worker", OP_STOP),
	/* op-restart.c: stop it and start a new process (new pid) */
	WS_CMD_OP("restart_worker", OP_RESTART),
	/* op-delete.c: stop it, then remove its files and data dir */
	WS_CMD_OP("delete_worker", OP_DELETE),
	/*
	 * op-repair.c: recreate a deleted or broken venv from the recorded
	 * dependencies (fnwm's own; FuncNodes' UI never sends it)
	 */
	WS_CMD_OP("repair_worker", OP_REPAIR),
	&ws_cmd_worker_details_entry,
	&ws_cmd_worker_logs_entry,
	&ws_cmd_set_autostart_entry,
	&ws_cmd_worker_stats_entry,
	&ws_cmd_worker_stats_history_entry,
	NULL,
};

static const struct fnwm_config *ws_cmd_cfg;

void
ws_cmd_init(const struct fnwm_config *cfg)
{
	ws_cmd_cfg = cfg;
}

const struct fnwm_config *
ws_cmd_config(void)
{
	return (ws_cmd_cfg);
}

const char *
ws_cmd_workerid(struct ws_client *c, json_object *msg)
{
	json_object *v;
	char safe[160];

	if (!json_object_object_get_ex(msg, "workerid", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		hub_error(c, "message has no \"workerid\" string");
		return (NULL);
	}
	if (!fnwm_worker_id_valid(json_object_get_string(v),
	        (size_t)json_object_get_string_len(v))) {
		log_safe(safe, sizeof safe, json_object_get_string(v),
		    (size_t)json_object_get_string_len(v));
		hub_error(c, "invalid worker id: %s", safe);
		return (NULL);
	}
	return (json_object_get_string(v));
}

static void
ws_cmd_run(struct ws_client *c, const struct ws_cmd_entry *e, json_object *o)
{
	const char *id;

	/* A read-only client may look, not act: checked before anything. */
	if (c->right != ACCESS_CONTROL &&
	    !(c->right == ACCESS_READ && e->read_only)) {
		log_info("client: %s refused, read-only access", e->name);
		hub_error(c,
		    "%s is not permitted: this connection has read-only "
		    "access",
		    e->name);
		return;
	}
	/*
	 * A fresh connection gets nothing unsolicited until it sends a real
	 * command: auto-start probes expect pong/identity as the first frame.
	 */
	if (e->subscribes)
		c->subscribed = 1;
	if (e->op == OP_NONE) {
		e->exec(c, o);
		return;
	}
	if ((id = ws_cmd_workerid(c, o)) != NULL)
		ops_submit(e->op, id, c->id);
}

void
ws_cmd_dispatch(struct ws_client *c, const char *text, size_t len)
{
	const struct ws_cmd_entry *const *ep;
	json_object *o, *type;
	const char *err, *name;
	char safe[128];

	for (ep = ws_cmd_table; *ep != NULL; ep++) {
		if ((*ep)->plain && strlen((*ep)->name) == len &&
		    memcmp((*ep)->name, text, len) == 0) {
			log_debug("client: %s", (*ep)->name);
			ws_cmd_run(c, *ep, NULL);
			return;
		}
	}

	log_safe(safe, sizeof safe, text, len > 60 ? 60 : len);
	o = fnwm_json_parse(text, len, &err);
	if (o == NULL) {
		log_info("client: unknown message \"%s\": %s", safe, err);
		if (len > 0 && strchr("{[\"", text[0]) == NULL)
			hub_error(c, "unknown command: %s", safe);
		else
			hub_error(c, "invalid JSON: %s", err);
		return;
	}
	if (!json_object_is_type(o, json_type_object)) {
		hub_error(c,
		    "a message must be a plain-text command or a "
		    "JSON object with a \"type\"");
		goto out;
	}
	if (!json_object_object_get_ex(o, "type", &type) ||
	    !json_object_is_type(type, json_type_string)) {
		hub_error(c, "message has no \"type\" string");
		goto out;
	}
	name = json_object_get_string(type);
	for (ep = ws_cmd_table; *ep != NULL; ep++) {
		if ((*ep)->json && strcmp((*ep)->name, name) == 0) {
			log_debug("client: {\"type\": \"%s\"}", name);
			ws_cmd_run(c, *ep, o);
			goto out;
		}
	}
	log_safe(safe, sizeof safe, name, json_object_get_string_len(type));
	log_info("client: unknown message type \"%s\"", safe);
	hub_error(c, "unknown message type: %s", safe);
out:
	json_object_put(o);
}
