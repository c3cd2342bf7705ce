/* SPDX-License-Identifier: MIT */
/* the WebSocket commands a client may send */
#ifndef FNWM_MASTER_WS_CMD_H
#define FNWM_MASTER_WS_CMD_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "config.h"
#include "hub.h"
#include "ops.h"

struct ws_client;

/* ws-cmd.c */
struct ws_cmd_entry {
	const char *name;
	int plain;      /* matched as the exact plain-text frame */
	int json;       /* matched as {"type": name, ...} */
	int subscribes; /* after it, the client receives broadcasts */
	int read_only;  /* allowed to a client with the read-only token */
	/*
	 * An operation on the worker named by "workerid" (op-*.c), queued
	 * with ops_submit; exec is then unused.
	 */
	enum op_kind op;
	void (*exec)(struct ws_client *, json_object *msg);
};
/* The configuration the commands read; set once, before the first. */
void ws_cmd_init(const struct fnwm_config *);
const struct fnwm_config *ws_cmd_config(void);
/* Handles one complete inbound text message (the hub's handler). */
void ws_cmd_dispatch(struct ws_client *, const char *text, size_t len);

/* ws-cmd-*.c */
extern const struct ws_cmd_entry ws_cmd_ping_entry;
extern const struct ws_cmd_entry ws_cmd_identify_entry;
extern const struct ws_cmd_entry ws_cmd_stop_entry;
extern const struct ws_cmd_entry ws_cmd_status_entry;
extern const struct ws_cmd_entry ws_cmd_new_worker_entry;
extern const struct ws_cmd_entry ws_cmd_worker_details_entry;
extern const struct ws_cmd_entry ws_cmd_worker_logs_entry;
extern const struct ws_cmd_entry ws_cmd_set_autostart_entry;
extern const struct ws_cmd_entry ws_cmd_worker_stats_entry;
extern const struct ws_cmd_entry ws_cmd_worker_stats_history_entry;
/* The "workerid" of msg if it is a valid worker id, else an error reply. */
const char *ws_cmd_workerid(struct ws_client *, json_object *msg);
/* Answers the worker_status requests that waited for the first scan. */
void ws_cmd_status_ready(void);

#endif
