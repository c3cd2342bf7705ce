/* SPDX-License-Identifier: MIT */
/*
 * Outbound WebSocket text, allocated once with LWS_PRE headroom and shared
 * by reference between every client it is queued for (a broadcast costs
 * one copy, not one per client).
 */
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "xmalloc.h"
#include "master.h"

struct fnwm_outmsg *
outmsg_new(const char *text, size_t len)
{
	struct fnwm_outmsg *m = xmalloc(sizeof *m + LWS_PRE + len + 1);

	m->refs = 1;
	m->len = len;
	m->data = m->buf + LWS_PRE;
	memcpy(m->data, text, len);
	m->data[len] = '\0';
	return (m);
}

struct fnwm_outmsg *
outmsg_json(json_object *o)
{
	size_t len;
	const char *s = fnwm_json_str(o, &len);

	return (outmsg_new(s, len));
}

struct fnwm_outmsg *
outmsg_ref(struct fnwm_outmsg *m)
{
	m->refs++;
	return (m);
}

void
outmsg_unref(struct fnwm_outmsg *m)
{
	if (m == NULL)
		return;
	FNWM_ASSERT(m->refs > 0);
	if (--m->refs == 0)
		free(m);
}
