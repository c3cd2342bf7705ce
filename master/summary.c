/* SPDX-License-Identifier: MIT */
/*
 * The one-line summary of the workers systemd shows as the master's
 * status (notify.c sends it): "12 workers: 10 running, 1 backoff, 1 down".
 */
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "summary.h"
#include "monitors.h"
#include "registry.h"

struct summary_count {
	size_t total, by[FNWM_WS_MAX];
};

static void
summary_count_one(const char *uuid, void *arg)
{
	struct summary_count *sc = arg;
	struct monitor *m = monitors_find(uuid);
	unsigned st;

	sc->total++;
	if (m != NULL && m->pid > 0 && m->have_st)
		st = m->st.state == FNWM_WS_STARTING && registry_is_active(uuid)
		    ? FNWM_WS_RUNNING
		    : m->st.state;
	else
		st = registry_is_active(uuid) ? FNWM_WS_RUNNING : FNWM_WS_DOWN;
	sc->by[st]++;
}

void
summary_line(char *line, size_t size)
{
	struct summary_count sc;
	size_t off;
	unsigned i;
	int n;

	memset(&sc, 0, sizeof sc);
	registry_each(summary_count_one, &sc);
	n = snprintf(line, size, "%zu worker%s", sc.total,
	    sc.total == 1 ? "" : "s");
	off = n > 0 ? (size_t)n : 0;
	for (i = 0; i < FNWM_WS_MAX && off < size; i++) {
		if (sc.by[i] == 0 || i == FNWM_WS_DOWN)
			continue;
		n = snprintf(line + off, size - off, "%s %zu %s",
		    strchr(line, ':') == NULL ? ":" : ",", sc.by[i],
		    fnwm_worker_state_name(i));
		if (n > 0)
			off += (size_t)n;
	}
	if (sc.by[FNWM_WS_DOWN] > 0 && off < size)
		snprintf(line + off, size - off, "%s %zu down",
		    strchr(line, ':') == NULL ? ":" : ",", sc.by[FNWM_WS_DOWN]);
}
