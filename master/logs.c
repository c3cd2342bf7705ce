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

#include "log.h"
#include "xmalloc.h"
#include "master.h"

#define LOGS_TAIL_BYTES  (256 * 1024)
#define LOGS_READ_MAX    (1024 * 1024) /* per event and follower */
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
	TAILQ_ENTRY(follower) entry;
};
static TAILQ_HEAD(, follower) logs_list = TAILQ_HEAD_INITIALIZER(logs_list);
static size_t logs_count;
static struct ev_loop *logs_loop;
static int logs_fd = -1;
static ev_io logs_io;

char *
logs_path(const char *uuid)
{
	char *dir = launch_data_dir(master_cfg, uuid, registry_entry(uuid));
	char *path = xasprintf("%s/worker.log", dir);

	free(dir);
	return (path);
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

/* Reads what was appended since f->off; 0, or -1 when unreadable. */
static int
logs_read_new(struct follower *f, json_object *arr)
{
	struct stat st;
	char *buf;
	ssize_t n;
	size_t want;
	int fd;

	fd = open(f->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
	if (want > LOGS_READ_MAX)
		want = LOGS_READ_MAX;
	buf = xmalloc(want + 1);
	n = pread(fd, buf, want, f->off);
	close(fd);
	if (n > 0) {
		f->off += n;
		logs_clean(buf, (size_t)n);
		logs_split(f, buf, (size_t)n, arr);
	}
	free(buf);
	return (0);
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

static void
logs_event_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	char buf[8192]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	const struct inotify_event *ev;
	struct follower *f, *next;
	json_object *arr;
	ssize_t n;
	char *p;

	while ((n = read(logs_fd, buf, sizeof buf)) > 0) {
		for (p = buf; p < buf + n; p += sizeof *ev + ev->len) {
			ev = (const void *)p;
			for (f = TAILQ_FIRST(&logs_list); f != NULL; f = next) {
				next = TAILQ_NEXT(f, entry);
				if (f->wd != ev->wd &&
				    !(ev->mask & IN_Q_OVERFLOW))
					continue;
				if (hub_find(f->client) == NULL) {
					logs_free(f);
					continue;
				}
				arr = json_object_new_array();
				if (logs_read_new(f, arr) == 0 &&
				    json_object_array_length(arr) > 0)
					logs_send(f, "worker_log", arr);
				else
					json_object_put(arr);
			}
		}
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
	if (stat(f->path, &st) == -1) {
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
		(void)logs_read_new(f, all);
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
	if (stat(f->path, &st) == -1) {
		int fd = open(f->path,
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW,
		    0600);

		if (fd != -1)
			close(fd);
	}
	f->wd = inotify_add_watch(logs_fd, f->path, IN_MODIFY);
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
logs_init(struct ev_loop *loop)
{
	logs_loop = loop;
	logs_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (logs_fd == -1) {
		log_warn("inotify (no log following)");
		return;
	}
	ev_io_init(&logs_io, logs_event_cb, logs_fd, EV_READ);
	ev_io_start(loop, &logs_io);
}

void
logs_shutdown(void)
{
	while (!TAILQ_EMPTY(&logs_list))
		logs_free(TAILQ_FIRST(&logs_list));
	if (logs_fd != -1) {
		ev_io_stop(logs_loop, &logs_io);
		close(logs_fd);
		logs_fd = -1;
	}
}
