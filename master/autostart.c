/* SPDX-License-Identifier: MIT */
/*
 * Autostart, as `systemctl enable` or supervisord's autostart=true: a
 * worker marked so (its "fnwm": {"autostart": true}, or fnwm.autostart
 * in config.json for every worker) is started when the manager starts,
 * once the monitors and workers that outlived the previous manager are
 * re-adopted. The activations run a few at a time: each may run venv
 * steps (upgrades), and a boot must not start them all at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"

#define AUTOSTART_PARALLEL 4 /* activations under way at once */

static const struct fnwm_config *autostart_cfg;
static char **autostart_queue;
static size_t autostart_len, autostart_next;
static unsigned autostart_running;

/* Whether uuid is marked and nobody runs it or means to. */
static int
autostart_wanted(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);
	double liveness;
	int on;
	char *cause = NULL;

	if (launch_supervision(autostart_cfg, registry_entry(uuid), &liveness,
	        &on, &cause) == -1) {
		log_warnx("worker %s: not started: %s", uuid, cause);
		free(cause);
		return (0);
	}
	if (!on)
		return (0);
	/* Re-adopted, or running without a monitor: it has its fate. */
	return (!(m != NULL && (m->pid > 0 || m->want_up)) &&
	    registry_live_pid(uuid) == 0 && !monitors_worker_alive(uuid));
}

static void
autostart_collect(const char *uuid, void *arg)
{
	if (!autostart_wanted(uuid))
		return;
	autostart_queue = xreallocarray(autostart_queue, autostart_len + 1,
	    sizeof *autostart_queue);
	autostart_queue[autostart_len++] = xstrdup(uuid);
}

static void
autostart_free(void)
{
	size_t i;

	for (i = 0; i < autostart_len; i++)
		free(autostart_queue[i]);
	free(autostart_queue);
	autostart_queue = NULL;
	autostart_len = autostart_next = 0;
}

static void
autostart_pump(void)
{
	const char *uuid;

	while (!shutdown_in_progress() &&
	    autostart_running < AUTOSTART_PARALLEL &&
	    autostart_next < autostart_len) {
		uuid = autostart_queue[autostart_next++];
		/* Someone may have started or deleted it meanwhile. */
		if (registry_entry(uuid) == NULL || !autostart_wanted(uuid))
			continue;
		log_info("worker %s: autostart", uuid);
		autostart_running++;
		ops_submit_autostart(uuid);
	}
	if (autostart_next == autostart_len && autostart_queue != NULL)
		autostart_free();
}

void
autostart_begin(const struct fnwm_config *cfg)
{
	autostart_cfg = cfg;
	registry_each(autostart_collect, NULL);
	if (autostart_len > 0)
		log_info("autostart: %zu workers, %d at a time", autostart_len,
		    AUTOSTART_PARALLEL);
	autostart_pump();
}

void
autostart_done(void)
{
	if (autostart_running > 0)
		autostart_running--;
	autostart_pump();
}

void
autostart_cancel(void)
{
	autostart_free();
}

int
autostart_set(const char *uuid, int on, char **cause)
{
	char *path = xasprintf("%s/worker_%s.json", autostart_cfg->workers_dir,
	         uuid),
	     *buf;
	json_object *o, *own, *u;
	const char *err, *text;
	size_t len;

	if (fnwm_read_file(path, 16 * 1024 * 1024, &buf, &len) == -1) {
		*cause = errno == ENOENT
		    ? xasprintf("Worker with id %s not found.", uuid)
		    : xasprintf("read %s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	o = fnwm_json_parse(buf, len, &err);
	free(buf);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "uuid", &u) ||
	    !json_object_is_type(u, json_type_string) ||
	    strcmp(json_object_get_string(u), uuid) != 0) {
		/* Never overwrite what we cannot read: it is not ours. */
		*cause = xasprintf("worker_%s.json is not a valid worker "
		                   "configuration; left as it is",
		    uuid);
		json_object_put(o);
		free(path);
		return (-1);
	}
	if (!json_object_object_get_ex(o, "fnwm", &own) ||
	    json_object_is_type(own, json_type_null)) {
		own = json_object_new_object();
		json_object_object_add(o, "fnwm", own);
	} else if (!json_object_is_type(own, json_type_object)) {
		*cause = xstrdup("the worker's \"fnwm\" key is not an object; "
		                 "left as it is");
		json_object_put(o);
		free(path);
		return (-1);
	}
	json_object_object_add(own, "autostart", json_object_new_boolean(on));
	text = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (fnwm_atomic_write(path, text, strlen(text), 0600) == -1) {
		*cause = xasprintf("write %s: %s", path, strerror(errno));
		json_object_put(o);
		free(path);
		return (-1);
	}
	json_object_put(o);
	free(path);
	registry_refresh_now(uuid);
	log_info("worker %s: autostart %s", uuid, on ? "enabled" : "disabled");
	return (0);
}
