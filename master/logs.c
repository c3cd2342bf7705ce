/* SPDX-License-Identifier: MIT */
/*
 * Worker logs for clients: the last lines of a worker's worker.log, and
 * then, for followers, new lines as they are written (inotify, no
 * polling). A follower ends with its client; a rotated (truncated) log is
 * read again from its start. Reads are bounded per event.
 */
#include <sys/inotify.h>
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"

#define LOGS_TAIL_BYTES  (256 * 1024)
#define LOGS_READ_MAX    (128 * 1024)  /* per follower and round */
#define LOGS_ROUND_MAX   (1024 * 1024) /* per round, all followers */
#define LOGS_MAX         256           /* followers in all */
#define LOGS_PARTIAL_MAX 8192

struct follower {
	uint64_t client;
	char *uuid;
	char *path;
	int wd;
	off_t off;
	char *partial;
	size_t plen;
	int more; /* its log may have grown: read it in the next round */
	TAILQ_ENTRY(follower) entry;
};
static TAILQ_HEAD(, follower) logs_list = TAILQ_HEAD_INITIALIZER(logs_list);
static size_t logs_count;
static struct ev_loop *logs_loop;
static const struct fnwm_config *logs_cfg;
static int logs_fd = -1;
static ev_io logs_io;
static ev_timer logs_round;

static char *
logs_path(const char *uuid)
{
	char *dir = launch_data_dir(logs_cfg, uuid, registry_entry(uuid));
	char *path = xasprintf("%s/worker.log", dir);

	free(dir);
	return (path);
}

/*
 * Opens uuid's worker.log through its data dir's fd, no symlink followed
 * (flags as for open; O_CREAT makes it 0600). -1 with errno.
 */
static int
logs_open(const char *uuid, int flags)
{
	char *dir = launch_data_dir(logs_cfg, uuid, registry_entry(uuid));
	int dfd, fd, confined, saved;

	dfd = paths_open_data_dir(logs_cfg, dir, &confined);
	free(dir);
	if (dfd == -1)
		return (-1);
	fd = fnwm_open_beneath(dfd, "worker.log", flags, 0600);
	saved = errno;
	close(dfd);
	errno = saved;
	return (fd);
}

/* fstat of uuid's worker.log, reached as logs_open does; 0 or -1. */
static int
logs_stat(const char *uuid, struct stat *st)
{
	int fd = logs_open(uuid, O_RDONLY), rc, saved;

	if (fd == -1)
		return (-1);
	rc = fstat(fd, st);
	saved = errno;
	close(fd);
	errno = saved;
	return (rc);
}

/* Adds the complete lines of buf to arr; keeps an unfinished one. */
static void
logs_split(struct follower *f, const char *buf, size_t len, json_object *arr)
{
	size_t i, start = 0;
	char *line;

	for (i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		line = xmalloc(f->plen + (i - start) + 1);
		if (f->plen > 0)
			memcpy(line, f->partial, f->plen);
		memcpy(line + f->plen, buf + start, i - start);
		line[f->plen + i - start] = '\0';
		f->plen = 0;
		json_object_array_add(arr,
		    json_object_new_string_len(line, (int)strlen(line)));
		free(line);
		start = i + 1;
	}
	if (start < len) {
		size_t n = len - start;

		if (f->plen + n > LOGS_PARTIAL_MAX)
			n = LOGS_PARTIAL_MAX - f->plen;
		f->partial = xreallocarray(f->partial, f->plen + n + 1, 1);
		memcpy(f->partial + f->plen, buf + start, n);
		f->plen += n;
	}
}

/* Invalid UTF-8 would make browsers drop the frame: replace it. */
static void
logs_clean(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t'))
			buf[i] = '?';
	}
}

static void
logs_send(struct follower *f, const char *type, json_object *lines)
{
	struct ws_client *c = hub_find(f->client);
	json_object *o;

	if (c == NULL) {
		json_object_put(lines);
		return;
	}
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "uuid", json_object_new_string(f->uuid));
	json_object_object_add(o, "lines", lines);
	hub_send_json(c, o);
	json_object_put(o);
}

/*
 * Reads at most max bytes of what was appended since f->off, and sets
 * f->more when there is more; returns the bytes read, or -1.
 */
static ssize_t
logs_read_new(struct follower *f, json_object *arr, size_t max)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t want;
	int fd;

	fd = logs_open(f->uuid, O_RDONLY);
	if (fd == -1)
		return (-1);
	if (fstat(fd, &st) == -1) {
		close(fd);
		return (-1);
	}
	if (st.st_size < f->off) {
		/* Rotated (copied aside and truncated): start over. */
		f->off = 0;
		f->plen = 0;
	}
	want = (size_t)(st.st_size - f->off);
	if (want > max)
		want = max;
	buf = xmalloc(want + 1);
	n = pread(fd, buf, want, f->off);
	close(fd);
	if (n > 0) {
		f->off += n;
		f->more = f->off < st.st_size;
		logs_clean(buf, (size_t)n);
		logs_split(f, buf, (size_t)n, arr);
	}
	free(buf);
	return (n);
}

static void
logs_free(struct follower *f)
{
	struct follower *o;
	int shared = 0;

	TAILQ_REMOVE(&logs_list, f, entry);
	logs_count--;
	TAILQ_FOREACH(o, &logs_list, entry)
		if (o->wd == f->wd)
			shared = 1;
	if (!shared && f->wd != -1 && logs_fd != -1)
		inotify_rm_watch(logs_fd, f->wd);
	free(f->uuid);
	free(f->path);
	free(f->partial);
	free(f);
}

/* Whether wd is among the n watches in wds. */
static int
logs_wd_in(const int *wds, size_t n, int wd)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (wds[i] == wd)
			return (1);
	return (0);
}

/*
 * Followers of one log at one place (the usual case: many clients follow
 * one worker) get the same message: g takes what f just read, and its
 * copy of the message.
 */
static void
logs_share(struct follower *f, off_t off0, struct fnwm_outmsg *m)
{
	struct follower *g, *next;
	struct ws_client *c;

	for (g = TAILQ_NEXT(f, entry); g != NULL; g = next) {
		next = TAILQ_NEXT(g, entry);
		if (!g->more || g->wd != f->wd || g->off != off0 ||
		    g->plen != 0 || strcmp(g->path, f->path) != 0)
			continue;
		if ((c = hub_find(g->client)) == NULL) {
			logs_free(g);
			continue;
		}
		g->off = f->off;
		g->more = f->more;
		if (f->plen > 0) {
			g->partial = xreallocarray(g->partial, f->plen + 1, 1);
			memcpy(g->partial, f->partial, f->plen);
			g->plen = f->plen;
		}
		if (m != NULL)
			hub_send(c, m);
		/* Served this round: to the back of the line. */
		TAILQ_REMOVE(&logs_list, g, entry);
		TAILQ_INSERT_TAIL(&logs_list, g, entry);
	}
}

/*
 * Reads for the followers whose log grew, LOGS_ROUND_MAX bytes a round in
 * all, round-robin, a round per loop iteration: however many follow a
 * chatty worker, the loop serves everybody else in between.
 */
static void
logs_round_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct follower *f, *next;
	struct fnwm_outmsg *m;
	json_object *arr, *o;
	size_t done = 0, visited = 0, n = logs_count;
	ssize_t got;
	off_t off0;
	int pending = 0, shareable;

	for (f = TAILQ_FIRST(&logs_list); f != NULL && visited < n; f = next) {
		visited++;
		if (!f->more) {
			next = TAILQ_NEXT(f, entry);
			continue;
		}
		if (hub_find(f->client) == NULL) {
			next = TAILQ_NEXT(f, entry);
			logs_free(f);
			continue;
		}
		if (done >= LOGS_ROUND_MAX) {
			pending = 1;
			next = TAILQ_NEXT(f, entry);
			continue;
		}
		f->more = 0;
		off0 = f->off;
		shareable = f->plen == 0;
		arr = json_object_new_array();
		got = logs_read_new(f, arr, LOGS_READ_MAX);
		if (got > 0)
			done += (size_t)got;
		m = NULL;
		if (got >= 0 && json_object_array_length(arr) > 0) {
			o = json_object_new_object();
			json_object_object_add(o, "type",
			    json_object_new_string("worker_log"));
			json_object_object_add(o, "uuid",
			    json_object_new_string(f->uuid));
			json_object_object_add(o, "lines", arr);
			m = outmsg_json(o);
			json_object_put(o);
			hub_send(hub_find(f->client), m);
		} else
			json_object_put(arr);
		if (shareable && got >= 0)
			logs_share(f, off0, m);
		if (m != NULL)
			outmsg_unref(m);
		/* logs_share may have moved (or freed) what came after f. */
		next = TAILQ_NEXT(f, entry);
		TAILQ_REMOVE(&logs_list, f, entry);
		TAILQ_INSERT_TAIL(&logs_list, f, entry);
		if (f->more)
			pending = 1;
	}
	if (pending) {
		ev_timer_set(w, 0, 0);
		ev_timer_start(loop, w);
	}
}

/* A batch of inotify events marks the followers of the logs that grew. */
static void
logs_event_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	int wds[sizeof buf / sizeof(struct inotify_event)];
	const struct inotify_event *ev;
	struct follower *f;
	size_t nwd = 0;
	int overflow = 0, marked = 0;
	ssize_t n;
	char *p;

	while ((n = read(logs_fd, buf, sizeof buf)) > 0) {
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const void *)p;
			if (ev->mask & IN_Q_OVERFLOW)
				overflow = 1;
			else if (nwd < sizeof wds / sizeof *wds &&
			    !logs_wd_in(wds, nwd, ev->wd))
				wds[nwd++] = ev->wd;
			else if (nwd == sizeof wds / sizeof *wds)
				overflow = 1;
		}
	}
	TAILQ_FOREACH(f, &logs_list, entry) {
		if (overflow || logs_wd_in(wds, nwd, f->wd)) {
			f->more = 1;
			marked = 1;
		}
	}
	if (marked && !ev_is_active(&logs_round)) {
		ev_timer_set(&logs_round, 0, 0);
		ev_timer_start(loop, &logs_round);
	}
}

int
logs_request(struct ws_client *c, const char *uuid, int lines, int follow,
    char **cause)
{
	struct follower *f = xcalloc(1, sizeof *f), tmp;
	json_object *all, *tail;
	struct stat st;
	size_t n, i;

	f->client = c->id;
	f->uuid = xstrdup(uuid);
	f->path = logs_path(uuid);
	f->wd = -1;
	if (logs_stat(uuid, &st) == -1) {
		st.st_size = 0;
		if (errno != ENOENT) {
			*cause = xasprintf("%s: %s", f->path, strerror(errno));
			goto fail;
		}
	}
	/* The tail: the last lines of the last LOGS_TAIL_BYTES. */
	f->off =
	    st.st_size > LOGS_TAIL_BYTES ? st.st_size - LOGS_TAIL_BYTES : 0;
	all = json_object_new_array();
	if (st.st_size > 0)
		(void)logs_read_new(f, all, LOGS_TAIL_BYTES);
	f->more = 0;
	if (f->plen > 0) {
		/* The last line, even unfinished, belongs to the tail. */
		json_object_array_add(all,
		    json_object_new_string_len(f->partial, (int)f->plen));
		f->plen = 0;
	}
	n = json_object_array_length(all);
	tail = json_object_new_array();
	for (i = n > (size_t)lines ? n - (size_t)lines : 0; i < n; i++)
		json_object_array_add(tail,
		    json_object_get(json_object_array_get_idx(all, i)));
	json_object_put(all);
	tmp = *f;
	logs_send(&tmp, "worker_logs", tail);
	if (!follow)
		goto done;
	if (logs_count >= LOGS_MAX || logs_fd == -1) {
		*cause = xstrdup("too many log followers");
		goto fail;
	}
	/* Follow from the end, even if the file appears only later. */
	f->off = st.st_size;
	if (logs_stat(uuid, &st) == -1) {
		int fd = logs_open(uuid, O_WRONLY | O_CREAT | O_APPEND);

		if (fd != -1)
			close(fd);
	}
	f->wd = inotify_add_watch(logs_fd, f->path, IN_MODIFY | IN_DONT_FOLLOW);
	if (f->wd == -1) {
		*cause =
		    xasprintf("cannot follow %s: %s", f->path, strerror(errno));
		goto fail;
	}
	TAILQ_INSERT_TAIL(&logs_list, f, entry);
	logs_count++;
	return (0);
done:
	free(f->uuid);
	free(f->path);
	free(f->partial);
	free(f);
	return (0);
fail:
	free(f->uuid);
	free(f->path);
	free(f->partial);
	free(f);
	return (-1);
}

void
logs_client_gone(uint64_t client)
{
	struct follower *f, *next;

	for (f = TAILQ_FIRST(&logs_list); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->client == client)
			logs_free(f);
	}
}

void
logs_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	logs_loop = loop;
	logs_cfg = cfg;
	logs_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (logs_fd == -1) {
		log_warn("inotify (no log following)");
		return;
	}
	ev_io_init(&logs_io, logs_event_cb, logs_fd, EV_READ);
	ev_io_start(loop, &logs_io);
	ev_timer_init(&logs_round, logs_round_cb, 0, 0);
}

void
logs_shutdown(void)
{
	while (!TAILQ_EMPTY(&logs_list))
		logs_free(TAILQ_FIRST(&logs_list));
	if (logs_fd != -1) {
		ev_timer_stop(logs_loop, &logs_round);
		ev_io_stop(logs_loop, &logs_io);
		close(logs_fd);
		logs_fd = -1;
	}
}
