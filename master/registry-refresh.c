/* SPDX-License-Identifier: MIT */
/*
 * Reading one worker's files: its JSON (the last good version kept while
 * it is rewritten, each corrupt version reported once), its .p judged
 * stale or not, and a pidfd that tells the moment its process exits.
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "registry-int.h"

#define REGISTRY_JSON_MAX (16 * 1024 * 1024)
#define REGISTRY_P_MAX    4096

long long registry_btime;
long registry_hz;

void
registry_unwatch_pid(struct worker *w)
{
	if (w->pidfd == -1)
		return;
	ev_io_stop(registry_loop, &w->pidw);
	close(w->pidfd);
	w->pidfd = -1;
	w->watched = 0;
}

static void
registry_pid_exited(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = io->data;

	log_debug("worker %s: pid %ld exited", w->uuid, (long)w->watched);
	registry_unwatch_pid(w);
	registry_refresh(w);
}

/* Learns of the worker process's exit the moment it happens. */
static void
registry_watch_pid(struct worker *w, pid_t pid)
{
	int fd;

	if (w->pidfd != -1 && w->watched == pid)
		return;
	registry_unwatch_pid(w);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd == -1) {
		/* Not our process or no pidfds: the re-probe covers it. */
		log_debug("pidfd_open %ld: %s", (long)pid, strerror(errno));
		return;
	}
	fnwm_set_cloexec(fd, 1);
	w->pidfd = fd;
	w->watched = pid;
	ev_io_init(&w->pidw, registry_pid_exited, fd, EV_READ);
	w->pidw.data = w;
	ev_io_start(registry_loop, &w->pidw);
}

/* Removes worker_<uuid>.p if it still holds what we judged stale. */
static void
registry_remove_p(struct worker *w, const char *judged, const char *why)
{
	char *path = registry_path(w->uuid, ".p"), *now = NULL;

	if (fnwm_read_file(path, REGISTRY_P_MAX, &now, NULL) == 0 &&
	    strcmp(now, judged) == 0) {
		if (unlink(path) == 0)
			log_info("worker %s: removed stale .p (%s)", w->uuid,
			    why);
		else if (errno != ENOENT)
			log_warn("unlink %s", path);
	}
	free(now);
	free(path);
}

/*
 * Whether the process now holding pid started after the .p was last
 * written: then it cannot be the writer, the pid was reused. A worker
 * writes its .p after it started, and rewrites it every few seconds.
 */
static int
registry_pid_reused(unsigned long long start_ticks,
    const struct timespec *mtime)
{
	long long started;

	if (registry_btime == 0 || registry_hz <= 0)
		return (0);
	started = registry_btime +
	    (long long)(start_ticks / (unsigned long)registry_hz);
	/* btime has a resolution of 1 s: allow 2 s of slack. */
	return (started > (long long)mtime->tv_sec + 2);
}

/* Reads and checks worker_<uuid>.json; returns the object or NULL. */
static json_object *
registry_read_json(struct worker *w, int *exists)
{
	char *path = registry_path(w->uuid, ".json"), *buf, safe[200];
	const char *why = NULL;
	json_object *o = NULL;
	struct stat st;
	size_t len;

	*exists = 0;
	if (fnwm_read_file(path, REGISTRY_JSON_MAX, &buf, &len) == -1) {
		if (errno != ENOENT) {
			*exists = 1;
			log_warn("worker_%s.json: skipped: read", w->uuid);
		}
		free(path);
		return (NULL);
	}
	*exists = 1;
	o = wfiles_worker_json(buf, len, w->uuid, &why);
	free(buf);
	if (why != NULL) {
		/* Report each corrupt version once, not on every refresh. */
		if (stat(path, &st) == 0 &&
		    (st.st_mtim.tv_sec != w->bad_mtime.tv_sec ||
		        st.st_mtim.tv_nsec != w->bad_mtime.tv_nsec ||
		        st.st_size != w->bad_size)) {
			w->bad_mtime = st.st_mtim;
			w->bad_size = st.st_size;
			log_warnx("worker_%s.json: skipped: %s",
			    log_safe(safe, sizeof safe, w->uuid,
			        strlen(w->uuid)),
			    why);
		}
	}
	free(path);
	return (o);
}

/*
 * Reads worker_<uuid>.p into *pbuf (has_p, p_pid; *st its lstat): an
 * empty one keeps the last pid, caught between the worker's truncate and
 * write.
 */
static void
registry_read_p(struct worker *w, struct stat *st, char **pbuf)
{
	char *path = registry_path(w->uuid, ".p");
	long long pid;

	w->has_p = 0;
	w->p_pid = 0;
	if (lstat(path, st) == 0 &&
	    fnwm_read_file(path, REGISTRY_P_MAX, pbuf, NULL) == 0) {
		w->has_p = 1;
		if (fnwm_parse_int(*pbuf, 1, INT32_MAX, &pid) == 0)
			w->p_pid = (pid_t)pid;
		else if ((*pbuf)[0] == '\0' && w->last_pid > 0)
			w->p_pid = w->last_pid;
	}
	free(path);
}

/* Removes the .p (pbuf as read, st its lstat) when it is provably stale. */
static void
registry_judge_p(struct worker *w, const char *pbuf, const struct stat *st)
{
	unsigned long long start;
	int alive;

	if (w->has_p && w->p_pid > 0) {
		alive = fnwm_proc_alive(w->p_pid, &start);
		if (alive == 0) {
			registry_remove_p(w, pbuf, "its process is gone");
			w->has_p = 0;
		} else if (alive == 1 &&
		    registry_pid_reused(start, &st->st_mtim)) {
			registry_remove_p(w, pbuf,
			    "its pid now belongs to "
			    "another process");
			w->has_p = 0;
		}
	} else if (w->has_p &&
	    difftime(time(NULL), st->st_mtim.tv_sec) >
	        registry_cfg->stale_p_grace) {
		registry_remove_p(w, pbuf, "unparsable and old");
		w->has_p = 0;
	}
}

/*
 * Lists o (consumed) as w's entry, with the pid of its .p and fnwm's
 * "unresponsive"; 1 when the listed text changed.
 */
static int
registry_list(struct worker *w, json_object *o)
{
	const char *text;
	size_t len;
	int changed = 0;

	/* The status entry carries the pid of the .p (null if bad). */
	if (w->has_p)
		json_object_object_add(o, "pid",
		    w->p_pid > 0 ? json_object_new_int64(w->p_pid) : NULL);
	/* fnwm's extension: it runs but does not answer its probe. */
	if (registry_unresponsive(w->uuid))
		json_object_object_add(o, "unresponsive",
		    json_object_new_boolean(1));
	text = fnwm_json_str(o, &len);
	if (w->text == NULL || strcmp(w->text, text) != 0) {
		free(w->text);
		w->text = xstrndup(text, len);
		registry_status_changed();
		registry_changed(w->uuid);
		changed = 1;
	}
	registry_drop_parse(w);
	json_object_put(o);
	return (changed);
}

void
registry_refresh(struct worker *w)
{
	char *pbuf = NULL;
	const char *err;
	json_object *o;
	struct stat st;
	int exists, changed = w->force_probe;

	w->force_probe = 0;
	if (w->dirty) {
		TAILQ_REMOVE(&registry_dirty, w, dirtyq);
		w->dirty = 0;
	}
	o = registry_read_json(w, &exists);
	w->json_seen = exists;
	registry_read_p(w, &st, &pbuf);
	if (!exists) {
		/* An orphaned .p would stop a worker of that uuid starting. */
		if (w->has_p)
			registry_remove_p(w, pbuf, "no worker_<uuid>.json");
		free(pbuf);
		registry_remove(w);
		return;
	}
	if (o == NULL && w->text == NULL) {
		/* Corrupt and never seen good: not listed. */
		registry_unqueue(w);
		registry_unwatch_pid(w);
		free(pbuf);
		return;
	}
	if (o == NULL) {
		/* Keep the last good content of a file being rewritten. */
		o = fnwm_json_parse(w->text, strlen(w->text), &err);
		FNWM_ASSERT(o != NULL);
	}
	registry_judge_p(w, pbuf, &st);
	free(pbuf);
	if (w->has_p && w->p_pid != w->last_pid) {
		/* Another process now: it has to answer the probe itself. */
		registry_set_state(w, WORKER_INACTIVE);
		changed = 1;
	}
	w->last_pid = w->has_p ? w->p_pid : 0;
	if (registry_list(w, o))
		changed = 1;
	if (w->has_p) {
		if (w->p_pid > 0)
			registry_watch_pid(w, w->p_pid);
		/*
		 * A running worker rewrites its .p every few seconds: only
		 * news (or the periodic re-probe) is worth a probe.
		 */
		if (changed || w->state != WORKER_ACTIVE)
			registry_want_probe(w);
	} else {
		registry_unqueue(w);
		registry_unwatch_pid(w);
		registry_set_state(w, WORKER_INACTIVE);
	}
}

void
registry_refresh_now(const char *uuid)
{
	char *path;
	struct stat st;
	struct worker *w = registry_find(uuid);

	if (w == NULL) {
		path = registry_path(uuid, ".json");
		if (lstat(path, &st) == -1) {
			free(path);
			return;
		}
		free(path);
		w = registry_get(uuid);
	}
	registry_refresh(w);
	registry_pump();
}
