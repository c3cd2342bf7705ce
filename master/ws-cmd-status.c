/* SPDX-License-Identifier: MIT */
/*
 * "worker_status" -> the cached lists. Until the first scan (probes
 * included) has finished, the reply waits for it rather than reporting
 * every worker inactive.
 */
#include "master.h"

static void
ws_cmd_status_exec(struct ws_client *c, json_object *msg)
{
	struct fnwm_outmsg *m;

	if (!registry_ready()) {
		c->want_status = 1;
		return;
	}
	m = registry_status_msg();
	hub_send(c, m);
	outmsg_unref(m);
}

void
ws_cmd_status_ready(void)
{
	struct ws_client *c;
	struct fnwm_outmsg *m = registry_status_msg();

	TAILQ_FOREACH(c, hub_clients(), entry) {
		if (c->want_status) {
			c->want_status = 0;
			hub_send(c, m);
		}
	}
	outmsg_unref(m);
}

const struct ws_cmd_entry ws_cmd_status_entry = {
	.name = "worker_status",
	.read_only = 1,
	.plain = 1,
	.subscribes = 1,
	.exec = ws_cmd_status_exec,
};
