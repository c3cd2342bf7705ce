/* SPDX-License-Identifier: MIT */
/*
 * What makes the registry refresh: inotify on the workers dir (file
 * events, debounced by the registry) and on the config dir (the
 * kill_worker_manager file, a re-created workers dir), and the periodic
 * re-probe, which FuncNodes needs because liveness is also a network fact.
 */
#include <sys/inotify.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

#define KILL_FILE "kill_worker_manager"

static struct ev_loop *watch_loop;
static const struct fnwm_config *watch_cfg;
static int watch_fd = -1, watch_wd_workers = -1, watch_wd_config = -1;
static ev_io watch_io;
static ev_timer watch_periodic;

static int
watch_add_workers(void)
{
	if (fnwm_mkdirs(watch_cfg->workers_dir, 0700) == -1) {
		log_warn("mkdir %s", watch_cfg->workers_dir);
		return (-1);
	}
	watch_wd_workers = inotify_add_watch(watch_fd, watch_cfg->workers_dir,
	    IN_CREATE | IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
	        IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR);
	if (watch_wd_workers == -1) {
		log_warn("inotify %s", watch_cfg->workers_dir);
		return (-1);
	}
	return (0);
}

static void
watch_kill_file(void)
{
	char *path = xasprintf("%s/%s", watch_cfg->config_dir, KILL_FILE);

	if (unlink(path) == 0) {
		free(path);
		shutdown_begin("kill_worker_manager file");
		return;
	}
	free(path);
}

static void
watch_event(const struct inotify_event *ev)
{
	if (ev->mask & IN_Q_OVERFLOW) {
		log_warnx("inotify queue overflow; rescanning");
		registry_scan_all();
		return;
	}
	if (ev->wd == watch_wd_workers) {
		if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
			log_warnx("%s was removed or moved; recreating",
			    watch_cfg->workers_dir);
			inotify_rm_watch(watch_fd, watch_wd_workers);
			watch_wd_workers = -1;
			(void)watch_add_workers();
			registry_scan_all();
			return;
		}
		if (ev->len > 0)
			registry_file_event(ev->name);
		return;
	}
	if (ev->wd == watch_wd_config && ev->len > 0) {
		if (strcmp(ev->name, KILL_FILE) == 0)
			watch_kill_file();
		else if (strcmp(ev->name, "workers") == 0 &&
		    watch_wd_workers == -1 && watch_add_workers() == 0)
			registry_scan_all();
	}
}

static void
watch_read_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	char buf[16384]
	    __attribute__((aligned(__alignof__(struct inotify_event))));
	ssize_t n;
	char *p;

	for (;;) {
		n = read(watch_fd, buf, sizeof buf);
		if (n == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("read inotify");
			return;
		}
		if (n == 0)
			return;
		for (p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;

			watch_event(ev);
			p += sizeof *ev + ev->len;
			if (watch_fd == -1)
				return; /* shut down from inside */
		}
	}
}

static void
watch_periodic_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	registry_reprobe_all();
	liveness_tick();
}

int
watch_start(struct ev_loop *loop, const struct fnwm_config *cfg, char **cause)
{
	char *kill = xasprintf("%s/%s", cfg->config_dir, KILL_FILE);

	watch_loop = loop;
	watch_cfg = cfg;
	watch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (watch_fd == -1) {
		*cause = xasprintf("inotify: %s", strerror(errno));
		free(kill);
		return (-1);
	}
	if (watch_add_workers() == -1) {
		*cause = xasprintf("cannot watch %s: %s", cfg->workers_dir,
		    strerror(errno));
		free(kill);
		return (-1);
	}
	watch_wd_config = inotify_add_watch(watch_fd, cfg->config_dir,
	    IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR);
	if (watch_wd_config == -1)
		log_warn("inotify %s (the kill file will go unnoticed)",
		    cfg->config_dir);
	/* A kill file left from before we started is not meant for us. */
	if (unlink(kill) == 0)
		log_info("removed a stale %s", kill);
	free(kill);
	ev_io_init(&watch_io, watch_read_cb, watch_fd, EV_READ);
	ev_io_start(loop, &watch_io);
	ev_timer_init(&watch_periodic, watch_periodic_cb, cfg->probe_interval,
	    cfg->probe_interval);
	ev_timer_start(loop, &watch_periodic);
	return (0);
}

void
watch_stop(void)
{
	if (watch_fd == -1)
		return;
	ev_io_stop(watch_loop, &watch_io);
	ev_timer_stop(watch_loop, &watch_periodic);
	close(watch_fd);
	watch_fd = -1;
	watch_wd_workers = watch_wd_config = -1;
}
