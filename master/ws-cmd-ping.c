/* SPDX-License-Identifier: MIT */
/* "ping" -> the bare text "pong" (auto-start clients compare it exactly). */
#include "master.h"

static void
ws_cmd_ping_exec(struct ws_client *c, json_object *msg)
{
	struct fnwm_outmsg *m = outmsg_new("pong", 4);

	hub_send(c, m);
	outmsg_unref(m);
}

const struct ws_cmd_entry ws_cmd_ping_entry = {
	.name = "ping",
	.read_only = 1,
	.plain = 1,
	.exec = ws_cmd_ping_exec,
};
