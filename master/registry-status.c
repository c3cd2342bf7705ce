/* SPDX-License-Identifier: MIT */
/*
 * The worker_status message: the listed entries, active and inactive,
 * joined as they are (no tree), rebuilt when they changed and broadcast
 * when the lists differ from what was last sent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "registry-int.h"

static int registry_status_dirty = 1;
static struct fnwm_outmsg *registry_status, *registry_last_broadcast;
static double registry_changed_at;

void
registry_status_changed(void)
{
	registry_status_dirty = 1;
	if (!ev_is_active(&registry_flush))
		ev_timer_start(registry_loop, &registry_flush);
}

static int
registry_cmp(const void *a, const void *b)
{
	const struct worker *const *wa = a, *const *wb = b;

	return (strcmp((*wa)->uuid, (*wb)->uuid));
}

static void
registry_build_status(void)
{
	static const char head[] = "{\"type\":\"worker_status\",\"active\":[";
	struct worker **v, *w;
	size_t i, n = 0, len = sizeof head + 32, off;
	char *buf;
	int pass, first;

	v = xcalloc(registry_nworkers + 1, sizeof *v);
	TAILQ_FOREACH(w, &registry_all, all) {
		if (w->text != NULL) {
			v[n++] = w;
			len += strlen(w->text) + 1;
		}
	}
	qsort(v, n, sizeof *v, registry_cmp);
	/* The entries are JSON already: join them, no tree needed. */
	buf = xmalloc(len);
	off = (size_t)snprintf(buf, len, "%s", head);
	for (pass = 0; pass < 2; pass++) {
		if (pass == 1)
			off += (size_t)snprintf(buf + off, len - off,
			    "],\"inactive\":[");
		first = 1;
		for (i = 0; i < n; i++) {
			if ((v[i]->state == WORKER_ACTIVE) != (pass == 0))
				continue;
			off += (size_t)snprintf(buf + off, len - off, "%s%s",
			    first ? "" : ",", v[i]->text);
			first = 0;
		}
	}
	off += (size_t)snprintf(buf + off, len - off, "]}");
	outmsg_unref(registry_status);
	registry_status = outmsg_new(buf, off);
	free(buf);
	free(v);
	registry_status_dirty = 0;
}

struct fnwm_outmsg *
registry_status_msg(void)
{
	if (registry_status_dirty || registry_status == NULL)
		registry_build_status();
	return (outmsg_ref(registry_status));
}

void
registry_flush_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct fnwm_outmsg *m;

	if (!registry_scanned)
		return;
	m = registry_status_msg();
	/* Broadcast changes of the lists only, not every refresh. */
	if (registry_last_broadcast == NULL ||
	    registry_last_broadcast->len != m->len ||
	    memcmp(registry_last_broadcast->data, m->data, m->len) != 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		registry_changed_at = ts.tv_sec + ts.tv_nsec / 1e9;
		hub_broadcast(m);
		notify_status();
		outmsg_unref(registry_last_broadcast);
		registry_last_broadcast = outmsg_ref(m);
	}
	outmsg_unref(m);
}

double
registry_last_change(void)
{
	return (registry_changed_at);
}

void
registry_status_free(void)
{
	outmsg_unref(registry_status);
	outmsg_unref(registry_last_broadcast);
	registry_status = registry_last_broadcast = NULL;
	registry_status_dirty = 1;
}
