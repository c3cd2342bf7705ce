/* SPDX-License-Identifier: MIT */
/*
 * The two replies every layer sends a client: {"type":"error"} and the
 * FuncNodes progress message, to one client or to all that follow.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "hub.h"

void
hub_error(struct ws_client *c, const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	json_object_object_add(o, "type", json_object_new_string("error"));
	json_object_object_add(o, "message", json_object_new_string(msg));
	hub_send_json(c, o);
	json_object_put(o);
	free(msg);
}

static json_object *
hub_progress_json(const char *message, double progress, int blocking)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type", json_object_new_string("progress"));
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "status", json_object_new_string("info"));
	json_object_object_add(o, "progress", json_object_new_double(progress));
	json_object_object_add(o, "blocking",
	    json_object_new_boolean(blocking));
	return (o);
}

void
hub_progress(struct ws_client *c, const char *message, double progress,
    int blocking)
{
	json_object *o = hub_progress_json(message, progress, blocking);

	hub_send_json(c, o);
	json_object_put(o);
}

void
hub_broadcast_progress(uint64_t owner, const char *message, double progress,
    int blocking)
{
	json_object *o = hub_progress_json(message, progress, blocking);
	struct fnwm_outmsg *m;
	struct ws_client *c;

	m = outmsg_json(o);
	TAILQ_FOREACH(c, hub_clients(), entry) {
		/*
		 * A reset tells a client its operation ended: one whose own
		 * operation is still under way would take this one for it.
		 * The owner's is its own.
		 */
		if (!c->subscribed && c->id != owner)
			continue;
		if (*message != '\0' || c->ops == 0 || c->id == owner)
			hub_send(c, m);
		else
			c->reset_owed = 1;
	}
	outmsg_unref(m);
	json_object_put(o);
}
