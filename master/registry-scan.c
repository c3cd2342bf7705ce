/* SPDX-License-Identifier: MIT */
/*
 * The registry's news from the workers dir: file events (debounced, but
 * at once for a worker someone waits for), the full scan at start-up and
 * after an inotify overflow, and the periodic re-probe.
 */
#include <dirent.h>
#include <malloc.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "registry-int.h"

static void
registry_process_dirty(void)
{
	struct worker *w;

	while ((w = TAILQ_FIRST(&registry_dirty)) != NULL)
		registry_refresh(w);
	registry_pump();
}

void
registry_debounce_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	registry_process_dirty();
}

static void
registry_mark_dirty(struct worker *w)
{
	if (w->dirty)
		return;
	w->dirty = 1;
	TAILQ_INSERT_TAIL(&registry_dirty, w, dirtyq);
}

/* Splits "worker_<uuid>.json" / ".p" into uuid and kind; 0 if neither. */
static int
registry_parse_name(const char *name, char *uuid, size_t uuidsz)
{
	size_t n = strlen(name), sl;

	if (strncmp(name, "worker_", 7) != 0)
		return (0);
	if (n > 12 && strcmp(name + n - 5, ".json") == 0)
		sl = 5;
	else if (n > 9 && strcmp(name + n - 2, ".p") == 0)
		sl = 2;
	else
		return (0);
	n -= 7 + sl;
	if (n >= uuidsz || !fnwm_worker_id_valid(name + 7, n))
		return (-1);
	memcpy(uuid, name + 7, n);
	uuid[n] = '\0';
	return (1);
}

/* w is read again once the debounce time has passed without news. */
static void
registry_refresh_soon(struct worker *w)
{
	registry_mark_dirty(w);
	if (!ev_is_active(&registry_debounce)) {
		ev_timer_set(&registry_debounce, registry_cfg->debounce, 0);
		ev_timer_start(registry_loop, &registry_debounce);
	}
}

void
registry_file_event(const char *name)
{
	struct worker *w;
	char uuid[256], safe[300];
	int r = registry_parse_name(name, uuid, sizeof uuid);
	size_t n = strlen(name);

	if (r == 0) {
		/* A runstate change is news for a running activation. */
		if (n > 16 && strncmp(name, "worker_", 7) == 0 &&
		    strcmp(name + n - 9, ".runstate") == 0 &&
		    n - 16 < sizeof uuid) {
			memcpy(uuid, name + 7, n - 16);
			uuid[n - 16] = '\0';
			registry_changed(uuid);
		}
		return;
	}
	if (r == -1) {
		log_debug("ignoring %s: not a valid worker id",
		    log_safe(safe, sizeof safe, name, strlen(name)));
		return;
	}
	w = registry_get(uuid);
	if (w->urgent) {
		/* An activation waits for exactly this file: no delay. */
		registry_refresh(w);
		registry_pump();
		return;
	}
	registry_refresh_soon(w);
}

void
registry_touch(const char *uuid)
{
	struct worker *w = registry_find(uuid);

	if (w != NULL)
		registry_refresh_soon(w);
}

void
registry_scan_all(void)
{
	struct worker *w;
	struct dirent *de;
	char uuid[256], safe[300];
	DIR *d;

	d = opendir(registry_cfg->workers_dir);
	if (d == NULL) {
		log_warn("scan %s", registry_cfg->workers_dir);
	} else {
		while ((de = readdir(d)) != NULL) {
			int r =
			    registry_parse_name(de->d_name, uuid, sizeof uuid);

			if (r == 1)
				registry_mark_dirty(registry_get(uuid));
			else if (r == -1)
				log_warnx("%s: skipped: not a valid worker id",
				    log_safe(safe, sizeof safe, de->d_name,
				        strlen(de->d_name)));
		}
		closedir(d);
	}
	/* Workers whose files went while we were not looking. */
	TAILQ_FOREACH(w, &registry_all, all)
		registry_mark_dirty(w);
	registry_process_dirty();
	/* Give back what reading a thousand files left in the heap. */
	malloc_trim(0);
}

void
registry_reprobe_all(void)
{
	struct worker *w;

	TAILQ_FOREACH(w, &registry_all, all) {
		if (w->has_p || w->state == WORKER_ACTIVE) {
			w->force_probe = 1;
			registry_mark_dirty(w);
		}
	}
	registry_process_dirty();
}
