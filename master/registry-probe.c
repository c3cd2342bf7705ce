/* SPDX-License-Identifier: MIT */
/*
 * The registry's probes: which workers answer their identity probe, at
 * most REGISTRY_MAX_PROBES at once, a worker probed again when news came
 * while its probe ran; the first scan is over when none is left (or at
 * its deadline).
 */
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "registry-int.h"

#define REGISTRY_MAX_PROBES 32 /* probes in flight at once */

static size_t registry_inflight;
static struct worker_list registry_probeq =
    TAILQ_HEAD_INITIALIZER(registry_probeq);

void
registry_unqueue(struct worker *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&registry_probeq, w, probeq);
		w->queued = 0;
	}
	if (w->probe != NULL) {
		probe_cancel(w->probe);
		w->probe = NULL;
		registry_inflight--;
	}
	w->probe_again = 0;
}

static int
registry_has_address(json_object *entry, const char **host, int *port)
{
	json_object *h, *p;
	long long v;

	if (!json_object_object_get_ex(entry, "port", &p))
		return (0);
	if (json_object_is_type(p, json_type_int))
		v = json_object_get_int64(p);
	else if (!json_object_is_type(p, json_type_string) ||
	    fnwm_parse_int(json_object_get_string(p), 1, 65535, &v) == -1)
		return (0);
	if (v < 1 || v > 65535)
		return (0);
	*port = (int)v;
	*host = "127.0.0.1";
	if (json_object_object_get_ex(entry, "host", &h) &&
	    json_object_is_type(h, json_type_string))
		*host = json_object_get_string(h);
	return (1);
}

void
registry_want_probe(struct worker *w)
{
	if (w->probe != NULL) {
		w->probe_again = 1;
		return;
	}
	if (!w->queued) {
		TAILQ_INSERT_TAIL(&registry_probeq, w, probeq);
		w->queued = 1;
	}
	registry_pump();
}

static void
registry_became_ready(void)
{
	if (registry_scanned)
		return;
	registry_scanned = 1;
	ev_timer_stop(registry_loop, &registry_init_deadline);
	log_info("%zu workers known", registry_nworkers);
	registry_tell_ready();
	registry_status_changed();
}

static void
registry_probe_done(void *arg, enum probe_result r, const char *detail)
{
	struct worker *w = arg;

	w->probe = NULL;
	registry_inflight--;
	if (r != PROBE_ACTIVE)
		log_debug("worker %s: probe: %s", w->uuid, detail);
	registry_set_state(w,
	    r == PROBE_ACTIVE ? WORKER_ACTIVE : WORKER_INACTIVE);
	if (w->probe_again) {
		w->probe_again = 0;
		registry_want_probe(w);
	}
	registry_tell_probed(w->uuid);
	registry_pump();
}

void
registry_pump(void)
{
	struct worker *w;
	const char *host;
	int port;

	while (registry_inflight < REGISTRY_MAX_PROBES &&
	    (w = TAILQ_FIRST(&registry_probeq)) != NULL) {
		TAILQ_REMOVE(&registry_probeq, w, probeq);
		w->queued = 0;
		if (registry_parsed(w) == NULL ||
		    !registry_has_address(registry_parsed(w), &host, &port)) {
			registry_set_state(w, WORKER_INACTIVE);
			continue;
		}
		registry_inflight++;
		w->probe = probe_start(registry_loop, host, port, w->uuid,
		    registry_cfg->probe_connect, registry_cfg->probe_reply,
		    registry_probe_done, w);
	}
	if (!registry_scanned && registry_inflight == 0 &&
	    TAILQ_EMPTY(&registry_probeq) && TAILQ_EMPTY(&registry_dirty))
		registry_became_ready();
}

void
registry_init_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	log_info("first scan: %zu probes still running; answering anyway",
	    registry_inflight);
	registry_became_ready();
}

void
registry_probe_now(const char *uuid)
{
	struct worker *w = registry_find(uuid);

	if (w != NULL && w->has_p && w->text != NULL && w->probe == NULL)
		registry_want_probe(w);
	else if (w == NULL || !w->has_p)
		registry_refresh_now(uuid);
}
