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
 */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <dirent.h>
#include <malloc.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

#define REG_BUCKETS    4096
#define REG_MAX_PROBES 32 /* probes in flight at once */
#define REG_JSON_MAX   (16 * 1024 * 1024)
#define REG_P_MAX      4096

struct worker {
	char *uuid;
	char *text; /* listed JSON (pid from the .p); NULL = not listed */
	json_object *entry; /* parsed text, cached until the loop sleeps */
	int cached;
	enum worker_state state;
	int json_seen;             /* a worker_<uuid>.json exists */
	struct timespec bad_mtime; /* last corrupt version reported */
	off_t bad_size;
	int has_p;
	pid_t p_pid;     /* 0 when the .p is unparsable */
	pid_t last_pid;  /* p_pid at the previous refresh */
	int force_probe; /* probe even if nothing changed (periodic) */
	int urgent;      /* someone waits for it: no debounce */
	struct probe *probe;
	int probe_again;
	int queued;
	int dirty;
	int pidfd;
	pid_t watched;
	ev_io pidw;
	struct worker *hnext;
	TAILQ_ENTRY(worker) all;
	TAILQ_ENTRY(worker) dirtyq;
	TAILQ_ENTRY(worker) probeq;
	TAILQ_ENTRY(worker) cacheq;
};
TAILQ_HEAD(worker_list, worker);

static struct ev_loop *reg_loop;
static const struct fnwm_config *reg_cfg;
static struct worker *reg_hash[REG_BUCKETS];
static struct worker_list reg_all = TAILQ_HEAD_INITIALIZER(reg_all);
static struct worker_list reg_dirty = TAILQ_HEAD_INITIALIZER(reg_dirty);
static struct worker_list reg_probeq = TAILQ_HEAD_INITIALIZER(reg_probeq);
static struct worker_list reg_cacheq = TAILQ_HEAD_INITIALIZER(reg_cacheq);
static ev_prepare reg_uncache;
static size_t reg_count, reg_inflight;
static ev_timer reg_debounce, reg_flush, reg_init_deadline;
static int reg_ready, reg_status_dirty = 1;
static struct fnwm_outmsg *reg_status, *reg_last_broadcast;
static long long reg_btime;
static double reg_last_change;
static long reg_hz;
static void (*reg_ready_hook)(void);
static void (*reg_change_hook)(const char *uuid);

static void reg_refresh(struct worker *);
static void reg_changed(const char *uuid);
static void reg_pump(void);

void
registry_on_ready(void (*fn)(void))
{
	reg_ready_hook = fn;
}

void
registry_on_change(void (*fn)(const char *uuid))
{
	reg_change_hook = fn;
}

static void
reg_changed(const char *uuid)
{
	if (reg_change_hook != NULL)
		reg_change_hook(uuid);
}

static unsigned
reg_hashfn(const char *s)
{
	unsigned h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return (h % REG_BUCKETS);
}

static struct worker *
reg_find(const char *uuid)
{
	struct worker *w;

	for (w = reg_hash[reg_hashfn(uuid)]; w != NULL; w = w->hnext)
		if (strcmp(w->uuid, uuid) == 0)
			return (w);
	return (NULL);
}

static struct worker *
reg_get(const char *uuid)
{
	struct worker *w = reg_find(uuid);
	unsigned h;

	if (w != NULL)
		return (w);
	w = xcalloc(1, sizeof *w);
	w->uuid = xstrdup(uuid);
	w->pidfd = -1;
	h = reg_hashfn(uuid);
	w->hnext = reg_hash[h];
	reg_hash[h] = w;
	TAILQ_INSERT_TAIL(&reg_all, w, all);
	reg_count++;
	return (w);
}

/*
 * Entries are kept as text (a parsed json-c tree costs about 5 KB a
 * worker); a parse made for a caller lives until the loop next sleeps.
 */
static json_object *
reg_parsed(struct worker *w)
{
	const char *err;

	if (w->entry != NULL || w->text == NULL)
		return (w->entry);
	w->entry = fnwm_json_parse(w->text, strlen(w->text), &err);
	if (w->entry != NULL && !w->cached) {
		w->cached = 1;
		TAILQ_INSERT_TAIL(&reg_cacheq, w, cacheq);
	}
	return (w->entry);
}

static void
reg_drop_parse(struct worker *w)
{
	json_object_put(w->entry);
	w->entry = NULL;
	if (w->cached) {
		TAILQ_REMOVE(&reg_cacheq, w, cacheq);
		w->cached = 0;
	}
}

static void
reg_uncache_cb(struct ev_loop *loop, ev_prepare *p, int revents)
{
	struct worker *w;

	while ((w = TAILQ_FIRST(&reg_cacheq)) != NULL)
		reg_drop_parse(w);
}

static void
reg_status_changed(void)
{
	reg_status_dirty = 1;
	if (!ev_is_active(&reg_flush))
		ev_timer_start(reg_loop, &reg_flush);
}

static void
reg_unwatch_pid(struct worker *w)
{
	if (w->pidfd == -1)
		return;
	ev_io_stop(reg_loop, &w->pidw);
	close(w->pidfd);
	w->pidfd = -1;
	w->watched = 0;
}

static void
reg_pid_exited(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = io->data;

	log_debug("worker %s: pid %ld exited", w->uuid, (long)w->watched);
	reg_unwatch_pid(w);
	reg_refresh(w);
}

/* Learns of the worker process's exit the moment it happens. */
static void
reg_watch_pid(struct worker *w, pid_t pid)
{
	int fd;

	if (w->pidfd != -1 && w->watched == pid)
		return;
	reg_unwatch_pid(w);
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd == -1) {
		/* Not our process or no pidfds: the re-probe covers it. */
		log_debug("pidfd_open %ld: %s", (long)pid, strerror(errno));
		return;
	}
	fnwm_set_cloexec(fd, 1);
	w->pidfd = fd;
	w->watched = pid;
	ev_io_init(&w->pidw, reg_pid_exited, fd, EV_READ);
	w->pidw.data = w;
	ev_io_start(reg_loop, &w->pidw);
}

static void
reg_unqueue(struct worker *w)
{
	if (w->queued) {
		TAILQ_REMOVE(&reg_probeq, w, probeq);
		w->queued = 0;
	}
	if (w->probe != NULL) {
		probe_cancel(w->probe);
		w->probe = NULL;
		reg_inflight--;
	}
	w->probe_again = 0;
}

static void
reg_set_state(struct worker *w, enum worker_state st)
{
	if (w->state == st)
		return;
	log_info("worker %s: %s", w->uuid,
	    st == WORKER_ACTIVE ? "active" : "inactive");
	w->state = st;
	reg_status_changed();
	reg_changed(w->uuid);
}

static void
reg_remove(struct worker *w)
{
	struct worker **pp = &reg_hash[reg_hashfn(w->uuid)];

	reg_unqueue(w);
	reg_unwatch_pid(w);
	if (w->dirty)
		TAILQ_REMOVE(&reg_dirty, w, dirtyq);
	while (*pp != w)
		pp = &(*pp)->hnext;
	*pp = w->hnext;
	TAILQ_REMOVE(&reg_all, w, all);
	reg_count--;
	if (w->text != NULL)
		reg_status_changed();
	reg_drop_parse(w);
	free(w->text);
	free(w->uuid);
	free(w);
}

static char *
reg_path(const char *uuid, const char *suffix)
{
	return (
	    xasprintf("%s/worker_%s%s", reg_cfg->workers_dir, uuid, suffix));
}

/* Removes worker_<uuid>.p if it still holds what we judged stale. */
static void
reg_remove_p(struct worker *w, const char *judged, const char *why)
{
	char *path = reg_path(w->uuid, ".p"), *now = NULL;

	if (fnwm_read_file(path, REG_P_MAX, &now, NULL) == 0 &&
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
reg_pid_reused(unsigned long long start_ticks, const struct timespec *mtime)
{
	long long started;

	if (reg_btime == 0 || reg_hz <= 0)
		return (0);
	started = reg_btime + (long long)(start_ticks / (unsigned long)reg_hz);
	/* btime has a resolution of 1 s: allow 2 s of slack. */
	return (started > (long long)mtime->tv_sec + 2);
}

/* Reads and checks worker_<uuid>.json; returns the object or NULL. */
static json_object *
reg_read_json(struct worker *w, int *exists)
{
	char *path = reg_path(w->uuid, ".json"), *buf, safe[200];
	const char *why = NULL;
	json_object *o = NULL;
	struct stat st;
	size_t len;

	*exists = 0;
	if (fnwm_read_file(path, REG_JSON_MAX, &buf, &len) == -1) {
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

static int
reg_has_address(json_object *entry, const char **host, int *port)
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

static void
reg_want_probe(struct worker *w)
{
	if (w->probe != NULL) {
		w->probe_again = 1;
		return;
	}
	if (!w->queued) {
		TAILQ_INSERT_TAIL(&reg_probeq, w, probeq);
		w->queued = 1;
	}
	reg_pump();
}

static void
reg_became_ready(void)
{
	if (reg_ready)
		return;
	reg_ready = 1;
	ev_timer_stop(reg_loop, &reg_init_deadline);
	log_info("%zu workers known", reg_count);
	if (reg_ready_hook != NULL)
		reg_ready_hook();
	reg_status_changed();
}

static void
reg_probe_done(void *arg, enum probe_result r, const char *detail)
{
	struct worker *w = arg;

	w->probe = NULL;
	reg_inflight--;
	if (r != PROBE_ACTIVE)
		log_debug("worker %s: probe: %s", w->uuid, detail);
	reg_set_state(w, r == PROBE_ACTIVE ? WORKER_ACTIVE : WORKER_INACTIVE);
	if (w->probe_again) {
		w->probe_again = 0;
		reg_want_probe(w);
	}
	liveness_probed(w->uuid);
	reg_pump();
}

static void
reg_pump(void)
{
	struct worker *w;
	const char *host;
	int port;

	while (reg_inflight < REG_MAX_PROBES &&
	    (w = TAILQ_FIRST(&reg_probeq)) != NULL) {
		TAILQ_REMOVE(&reg_probeq, w, probeq);
		w->queued = 0;
		if (reg_parsed(w) == NULL ||
		    !reg_has_address(reg_parsed(w), &host, &port)) {
			reg_set_state(w, WORKER_INACTIVE);
			continue;
		}
		reg_inflight++;
		w->probe = probe_start(reg_loop, host, port, w->uuid,
		    reg_cfg->probe_connect, reg_cfg->probe_reply,
		    reg_probe_done, w);
	}
	if (!reg_ready && reg_inflight == 0 && TAILQ_EMPTY(&reg_probeq) &&
	    TAILQ_EMPTY(&reg_dirty))
		reg_became_ready();
}

/* Re-reads a worker's files and decides what its .p means. */
static void
reg_refresh(struct worker *w)
{
	char *path, *pbuf = NULL;
	json_object *o;
	struct stat st;
	unsigned long long start;
	long long pid;
	int exists, alive, changed = w->force_probe;

	w->force_probe = 0;
	if (w->dirty) {
		TAILQ_REMOVE(&reg_dirty, w, dirtyq);
		w->dirty = 0;
	}
	o = reg_read_json(w, &exists);
	w->json_seen = exists;

	path = reg_path(w->uuid, ".p");
	w->has_p = 0;
	w->p_pid = 0;
	if (lstat(path, &st) == 0 &&
	    fnwm_read_file(path, REG_P_MAX, &pbuf, NULL) == 0) {
		w->has_p = 1;
		if (fnwm_parse_int(pbuf, 1, INT32_MAX, &pid) == 0)
			w->p_pid = (pid_t)pid;
		else if (pbuf[0] == '\0' && w->last_pid > 0)
			/* Caught between the worker's truncate and write. */
			w->p_pid = w->last_pid;
	}
	free(path);

	if (!exists) {
		/* An orphaned .p would stop a worker of that uuid starting. */
		if (w->has_p)
			reg_remove_p(w, pbuf, "no worker_<uuid>.json");
		free(pbuf);
		reg_remove(w);
		return;
	}
	if (o == NULL && w->text == NULL) {
		/* Corrupt and never seen good: not listed. */
		reg_unqueue(w);
		reg_unwatch_pid(w);
		free(pbuf);
		return;
	}
	if (o == NULL) {
		/* Keep the last good content of a file being rewritten. */
		const char *err;

		o = fnwm_json_parse(w->text, strlen(w->text), &err);
		FNWM_ASSERT(o != NULL);
	}

	if (w->has_p && w->p_pid > 0) {
		alive = fnwm_proc_alive(w->p_pid, &start);
		if (alive == 0) {
			reg_remove_p(w, pbuf, "its process is gone");
			w->has_p = 0;
		} else if (alive == 1 && reg_pid_reused(start, &st.st_mtim)) {
			reg_remove_p(w, pbuf,
			    "its pid now belongs to "
			    "another process");
			w->has_p = 0;
		}
	} else if (w->has_p &&
	    difftime(time(NULL), st.st_mtim.tv_sec) > reg_cfg->stale_p_grace) {
		reg_remove_p(w, pbuf, "unparsable and old");
		w->has_p = 0;
	}
	free(pbuf);

	if (w->has_p && w->p_pid != w->last_pid) {
		/* Another process now: it has to answer the probe itself. */
		reg_set_state(w, WORKER_INACTIVE);
		changed = 1;
	}
	w->last_pid = w->has_p ? w->p_pid : 0;
	/* The status entry carries the pid of the .p (null if bad). */
	if (w->has_p)
		json_object_object_add(o, "pid",
		    w->p_pid > 0 ? json_object_new_int64(w->p_pid) : NULL);
	/* fnwm's extension: it runs but does not answer its probe. */
	if (liveness_unresponsive(w->uuid))
		json_object_object_add(o, "unresponsive",
		    json_object_new_boolean(1));
	{
		size_t len;
		const char *text = fnwm_json_str(o, &len);

		if (w->text == NULL || strcmp(w->text, text) != 0) {
			free(w->text);
			w->text = xstrndup(text, len);
			reg_status_changed();
			reg_changed(w->uuid);
			changed = 1;
		}
		reg_drop_parse(w);
		json_object_put(o);
	}
	if (w->has_p) {
		if (w->p_pid > 0)
			reg_watch_pid(w, w->p_pid);
		/*
		 * A running worker rewrites its .p every few seconds: only
		 * news (or the periodic re-probe) is worth a probe.
		 */
		if (changed || w->state != WORKER_ACTIVE)
			reg_want_probe(w);
	} else {
		reg_unqueue(w);
		reg_unwatch_pid(w);
		reg_set_state(w, WORKER_INACTIVE);
	}
}

static void
reg_process_dirty(void)
{
	struct worker *w;

	while ((w = TAILQ_FIRST(&reg_dirty)) != NULL)
		reg_refresh(w);
	reg_pump();
}

static void
reg_debounce_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	reg_process_dirty();
}

static void
reg_mark_dirty(struct worker *w)
{
	if (w->dirty)
		return;
	w->dirty = 1;
	TAILQ_INSERT_TAIL(&reg_dirty, w, dirtyq);
}

/* Splits "worker_<uuid>.json" / ".p" into uuid and kind; 0 if neither. */
static int
reg_parse_name(const char *name, char *uuid, size_t uuidsz)
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

void
registry_file_event(const char *name)
{
	struct worker *w;
	char uuid[256], safe[300];
	int r = reg_parse_name(name, uuid, sizeof uuid);
	size_t n = strlen(name);

	if (r == 0) {
		/* A runstate change is news for a running activation. */
		if (n > 16 && strncmp(name, "worker_", 7) == 0 &&
		    strcmp(name + n - 9, ".runstate") == 0 &&
		    n - 16 < sizeof uuid) {
			memcpy(uuid, name + 7, n - 16);
			uuid[n - 16] = '\0';
			reg_changed(uuid);
		}
		return;
	}
	if (r == -1) {
		log_debug("ignoring %s: not a valid worker id",
		    log_safe(safe, sizeof safe, name, strlen(name)));
		return;
	}
	w = reg_get(uuid);
	if (w->urgent) {
		/* An activation waits for exactly this file: no delay. */
		reg_refresh(w);
		reg_pump();
		return;
	}
	reg_mark_dirty(w);
	if (!ev_is_active(&reg_debounce)) {
		ev_timer_set(&reg_debounce, reg_cfg->debounce, 0);
		ev_timer_start(reg_loop, &reg_debounce);
	}
}

void
registry_touch(const char *uuid)
{
	struct worker *w = reg_find(uuid);

	if (w == NULL)
		return;
	reg_mark_dirty(w);
	if (!ev_is_active(&reg_debounce)) {
		ev_timer_set(&reg_debounce, reg_cfg->debounce, 0);
		ev_timer_start(reg_loop, &reg_debounce);
	}
}

void
registry_scan_all(void)
{
	struct worker *w;
	struct dirent *de;
	char uuid[256], safe[300];
	DIR *d;

	d = opendir(reg_cfg->workers_dir);
	if (d == NULL) {
		log_warn("scan %s", reg_cfg->workers_dir);
	} else {
		while ((de = readdir(d)) != NULL) {
			int r = reg_parse_name(de->d_name, uuid, sizeof uuid);

			if (r == 1)
				reg_mark_dirty(reg_get(uuid));
			else if (r == -1)
				log_warnx("%s: skipped: not a valid worker id",
				    log_safe(safe, sizeof safe, de->d_name,
				        strlen(de->d_name)));
		}
		closedir(d);
	}
	/* Workers whose files went while we were not looking. */
	TAILQ_FOREACH(w, &reg_all, all)
		reg_mark_dirty(w);
	reg_process_dirty();
	/* Give back what reading a thousand files left in the heap. */
	malloc_trim(0);
}

void
registry_reprobe_all(void)
{
	struct worker *w;

	TAILQ_FOREACH(w, &reg_all, all) {
		if (w->has_p || w->state == WORKER_ACTIVE) {
			w->force_probe = 1;
			reg_mark_dirty(w);
		}
	}
	reg_process_dirty();
}

static int
reg_cmp(const void *a, const void *b)
{
	const struct worker *const *wa = a, *const *wb = b;

	return (strcmp((*wa)->uuid, (*wb)->uuid));
}

static void
reg_build_status(void)
{
	static const char head[] = "{\"type\":\"worker_status\",\"active\":[";
	struct worker **v, *w;
	size_t i, n = 0, len = sizeof head + 32, off;
	char *buf;
	int pass, first;

	v = xcalloc(reg_count + 1, sizeof *v);
	TAILQ_FOREACH(w, &reg_all, all) {
		if (w->text != NULL) {
			v[n++] = w;
			len += strlen(w->text) + 1;
		}
	}
	qsort(v, n, sizeof *v, reg_cmp);
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
	outmsg_unref(reg_status);
	reg_status = outmsg_new(buf, off);
	free(buf);
	free(v);
	reg_status_dirty = 0;
}

struct fnwm_outmsg *
registry_status_msg(void)
{
	if (reg_status_dirty || reg_status == NULL)
		reg_build_status();
	return (outmsg_ref(reg_status));
}

static void
reg_flush_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct fnwm_outmsg *m;

	if (!reg_ready)
		return;
	m = registry_status_msg();
	/* Broadcast changes of the lists only, not every refresh. */
	if (reg_last_broadcast == NULL || reg_last_broadcast->len != m->len ||
	    memcmp(reg_last_broadcast->data, m->data, m->len) != 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		reg_last_change = ts.tv_sec + ts.tv_nsec / 1e9;
		hub_broadcast(m);
		notify_status();
		outmsg_unref(reg_last_broadcast);
		reg_last_broadcast = outmsg_ref(m);
	}
	outmsg_unref(m);
}

static void
reg_init_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	log_info("first scan: %zu probes still running; answering anyway",
	    reg_inflight);
	reg_became_ready();
}

int
registry_ready(void)
{
	return (reg_ready);
}

size_t
registry_count(void)
{
	return (reg_count);
}

int
registry_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	reg_loop = loop;
	reg_cfg = cfg;
	reg_btime = fnwm_boot_time();
	reg_hz = sysconf(_SC_CLK_TCK);
	ev_timer_init(&reg_debounce, reg_debounce_cb, cfg->debounce, 0);
	ev_timer_init(&reg_flush, reg_flush_cb, 0, 0);
	/* worker_status waits for the first scan at most this long. */
	ev_timer_init(&reg_init_deadline, reg_init_deadline_cb,
	    cfg->probe_connect + cfg->probe_reply + 0.5, 0);
	ev_timer_start(loop, &reg_init_deadline);
	ev_prepare_init(&reg_uncache, reg_uncache_cb);
	ev_prepare_start(loop, &reg_uncache);
	ev_unref(loop); /* it alone must not keep the loop running */
	return (0);
}

void
registry_shutdown(void)
{
	struct worker *w;

	ev_timer_stop(reg_loop, &reg_debounce);
	ev_timer_stop(reg_loop, &reg_flush);
	ev_timer_stop(reg_loop, &reg_init_deadline);
	if (ev_is_active(&reg_uncache)) {
		ev_ref(reg_loop);
		ev_prepare_stop(reg_loop, &reg_uncache);
	}
	while ((w = TAILQ_FIRST(&reg_all)) != NULL) {
		if (w->text != NULL) {
			free(w->text);
			w->text = NULL;
		}
		reg_remove(w);
	}
	ev_timer_stop(reg_loop, &reg_flush);
	outmsg_unref(reg_status);
	outmsg_unref(reg_last_broadcast);
	reg_status = reg_last_broadcast = NULL;
}

void
registry_refresh_now(const char *uuid)
{
	char *path;
	struct stat st;
	struct worker *w = reg_find(uuid);

	if (w == NULL) {
		path = reg_path(uuid, ".json");
		if (lstat(path, &st) == -1) {
			free(path);
			return;
		}
		free(path);
		w = reg_get(uuid);
	}
	reg_refresh(w);
	reg_pump();
}

json_object *
registry_entry(const char *uuid)
{
	struct worker *w = reg_find(uuid);

	return (w != NULL ? reg_parsed(w) : NULL);
}

int
registry_is_active(const char *uuid)
{
	struct worker *w = reg_find(uuid);

	return (w != NULL && w->text != NULL && w->state == WORKER_ACTIVE);
}

pid_t
registry_live_pid(const char *uuid)
{
	struct worker *w = reg_find(uuid);

	if (w == NULL || !w->has_p || w->p_pid <= 0)
		return (0);
	return (fnwm_proc_alive(w->p_pid, NULL) == 1 ? w->p_pid : 0);
}

void
registry_probe_now(const char *uuid)
{
	struct worker *w = reg_find(uuid);

	if (w != NULL && w->has_p && w->text != NULL && w->probe == NULL)
		reg_want_probe(w);
	else if (w == NULL || !w->has_p)
		registry_refresh_now(uuid);
}

int
registry_json_exists(const char *uuid)
{
	char *path = reg_path(uuid, ".json");
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

	for (w = TAILQ_FIRST(&reg_all); w != NULL; w = next) {
		next = TAILQ_NEXT(w, all);
		if (w->text == NULL)
			continue;
		had = w->entry != NULL;
		fn(w->uuid, arg);
		/* A walk over every worker parses each for a moment only. */
		if (!had && reg_find(w->uuid) == w)
			reg_drop_parse(w);
	}
}

double
registry_last_change(void)
{
	return (reg_last_change);
}

void
registry_urgent(const char *uuid, int on)
{
	struct worker *w = reg_find(uuid);

	if (w != NULL)
		w->urgent = on;
}
