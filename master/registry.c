/* SPDX-License-Identifier: MIT */
/*
 * The worker registry: what the workers dir says (worker_<uuid>.json and
 * .p), which workers answer the identity probe, and the worker_status
 * lists built from that. Refreshes are driven by file events, process
 * exits (pidfd) and the periodic re-probe; nothing here polls.
 *
 * Liveness, as FuncNodes defines it: a worker is "active" when the
 * process named by its .p is alive and answers the uuid probe on the
 * host/port of its JSON. A .p is removed only when it is provably stale
 * (its pid is gone or was reused, or it is unparsable and old), since a
 * real worker refuses to start while one exists and re-creating it is the
 * worker's business.
 *
 * This file: the table of workers and what the rest of the master asks
 * of it; the hooks that tell the layers above (registry_on_ready,
 * registry_on_change).
 */
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "registry-int.h"

#define REGISTRY_BUCKETS 4096

struct ev_loop *registry_loop;
const struct fnwm_config *registry_cfg;
struct worker_list registry_all = TAILQ_HEAD_INITIALIZER(registry_all);
struct worker_list registry_dirty = TAILQ_HEAD_INITIALIZER(registry_dirty);
size_t registry_nworkers;
int registry_scanned;
ev_timer registry_debounce, registry_flush, registry_init_deadline;
static struct worker *registry_hash[REGISTRY_BUCKETS];
static struct worker_list registry_cacheq =
    TAILQ_HEAD_INITIALIZER(registry_cacheq);
static ev_prepare registry_uncache;
static void (*registry_ready_hook)(void);
static void (*registry_change_hook)(const char *uuid);
static void (*registry_probed_hook)(const char *uuid);
static int (*registry_unresponsive_hook)(const char *uuid);

void
registry_on_ready(void (*fn)(void))
{
	registry_ready_hook = fn;
}

void
registry_on_change(void (*fn)(const char *uuid))
{
	registry_change_hook = fn;
}

void
registry_on_probed(void (*fn)(const char *uuid))
{
	registry_probed_hook = fn;
}

void
registry_ask_unresponsive(int (*fn)(const char *uuid))
{
	registry_unresponsive_hook = fn;
}

void
registry_tell_probed(const char *uuid)
{
	if (registry_probed_hook != NULL)
		registry_probed_hook(uuid);
}

int
registry_unresponsive(const char *uuid)
{
	return (registry_unresponsive_hook != NULL &&
	    registry_unresponsive_hook(uuid));
}

void
registry_tell_ready(void)
{
	if (registry_ready_hook != NULL)
		registry_ready_hook();
}

void
registry_changed(const char *uuid)
{
	if (registry_change_hook != NULL)
		registry_change_hook(uuid);
}

static unsigned
registry_hashfn(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return (h % REGISTRY_BUCKETS);
}

struct worker *
registry_find(const char *uuid)
{
	struct worker *w;

	for (w = registry_hash[registry_hashfn(uuid)]; w != NULL; w = w->hnext)
		if (strcmp(w->uuid, uuid) == 0)
			return (w);
	return (NULL);
}

struct worker *
registry_get(const char *uuid)
{
	struct worker *w = registry_find(uuid);
	unsigned h;

	if (w != NULL)
		return (w);
	w = xcalloc(1, sizeof *w);
	w->uuid = xstrdup(uuid);
	w->pidfd = -1;
	h = registry_hashfn(uuid);
	w->hnext = registry_hash[h];
	registry_hash[h] = w;
	TAILQ_INSERT_TAIL(&registry_all, w, all);
	registry_nworkers++;
	return (w);
}

/*
 * Entries are kept as text (a parsed json-c tree costs about 5 KB a
 * worker); a parse made for a caller lives until the loop next sleeps.
 */
json_object *
registry_parsed(struct worker *w)
{
	const char *err;

	if (w->entry != NULL || w->text == NULL)
		return (w->entry);
	w->entry = fnwm_json_parse(w->text, strlen(w->text), &err);
	if (w->entry != NULL && !w->cached) {
		w->cached = 1;
		TAILQ_INSERT_TAIL(&registry_cacheq, w, cacheq);
	}
	return (w->entry);
}

void
registry_drop_parse(struct worker *w)
{
	json_object_put(w->entry);
	w->entry = NULL;
	if (w->cached) {
		TAILQ_REMOVE(&registry_cacheq, w, cacheq);
		w->cached = 0;
	}
}

static void
registry_uncache_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct worker *w;

	while ((w = TAILQ_FIRST(&registry_cacheq)) != NULL)
		registry_drop_parse(w);
}

void
registry_set_state(struct worker *w, enum worker_state st)
{
	if (w->state == st)
		return;
	log_info("worker %s: %s", w->uuid,
	    st == WORKER_ACTIVE ? "active" : "inactive");
	w->state = st;
	registry_status_changed();
	registry_changed(w->uuid);
}

void
registry_remove(struct worker *w)
{
	struct worker **pp = &registry_hash[registry_hashfn(w->uuid)];

	registry_unqueue(w);
	registry_unwatch_pid(w);
	if (w->dirty)
		TAILQ_REMOVE(&registry_dirty, w, dirtyq);
	while (*pp != w)
		pp = &(*pp)->hnext;
	*pp = w->hnext;
	TAILQ_REMOVE(&registry_all, w, all);
	registry_nworkers--;
	if (w->text != NULL)
		registry_status_changed();
	registry_drop_parse(w);
	free(w->text);
	free(w->uuid);
	free(w);
}

char *
registry_path(const char *uuid, const char *suffix)
{
	return (xasprintf("%s/worker_%s%s", registry_cfg->workers_dir, uuid,
	    suffix));
}

int
registry_ready(void)
{
	return (registry_scanned);
}

size_t
registry_count(void)
{
	return (registry_nworkers);
}

int
registry_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	registry_loop = loop;
	registry_cfg = cfg;
	registry_scanned = 0;
	registry_btime = fnwm_boot_time();
	registry_hz = sysconf(_SC_CLK_TCK);
	ev_timer_init(&registry_debounce, registry_debounce_cb, cfg->debounce,
	    0);
	ev_timer_init(&registry_flush, registry_flush_cb, 0, 0);
	/* worker_status waits for the first scan at most this long. */
	ev_timer_init(&registry_init_deadline, registry_init_deadline_cb,
	    cfg->probe_connect + cfg->probe_reply + 0.5, 0);
	ev_timer_start(loop, &registry_init_deadline);
	ev_prepare_init(&registry_uncache, registry_uncache_cb);
	ev_prepare_start(loop, &registry_uncache);
	ev_unref(loop); /* it alone must not keep the loop running */
	return (0);
}

void
registry_shutdown(void)
{
	struct worker *w;

	ev_timer_stop(registry_loop, &registry_debounce);
	ev_timer_stop(registry_loop, &registry_flush);
	ev_timer_stop(registry_loop, &registry_init_deadline);
	if (ev_is_active(&registry_uncache)) {
		ev_ref(registry_loop);
		ev_prepare_stop(registry_loop, &registry_uncache);
	}
	while ((w = TAILQ_FIRST(&registry_all)) != NULL) {
		if (w->text != NULL) {
			free(w->text);
			w->text = NULL;
		}
		registry_remove(w);
	}
	ev_timer_stop(registry_loop, &registry_flush);
	registry_status_free();
}

json_object *
registry_entry(const char *uuid)
{
	struct worker *w = registry_find(uuid);

	return (w != NULL ? registry_parsed(w) : NULL);
}

int
registry_is_active(const char *uuid)
{
	struct worker *w = registry_find(uuid);

	return (w != NULL && w->text != NULL && w->state == WORKER_ACTIVE);
}

pid_t
registry_live_pid(const char *uuid)
{
	struct worker *w = registry_find(uuid);

	if (w == NULL || !w->has_p || w->p_pid <= 0)
		return (0);
	return (fnwm_proc_alive(w->p_pid, NULL) == 1 ? w->p_pid : 0);
}

int
registry_json_exists(const char *uuid)
{
	char *path = registry_path(uuid, ".json");
	struct stat st;
	int r = lstat(path, &st) == 0;

	free(path);
	return (r);
}

void
registry_each(void (*fn)(const char *, void *), void *arg)
{
	struct worker *w, *next;
	int had;

	for (w = TAILQ_FIRST(&registry_all); w != NULL; w = next) {
		next = TAILQ_NEXT(w, all);
		if (w->text == NULL)
			continue;
		had = w->entry != NULL;
		fn(w->uuid, arg);
		/* A walk over every worker parses each for a moment only. */
		if (!had && registry_find(w->uuid) == w)
			registry_drop_parse(w);
	}
}

void
registry_urgent(const char *uuid, int on)
{
	struct worker *w = registry_find(uuid);

	if (w != NULL)
		w->urgent = on;
}
