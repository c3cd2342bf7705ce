/* SPDX-License-Identifier: MIT */
/*
 * systemd's notification protocol through libsystemd's sd_notify:
 * READY=1 once the hub listens and running monitors are re-adopted,
 * STATUS= with a one-line summary of the workers, RELOADING=1 around a
 * reload, STOPPING=1, and WATCHDOG=1 from the loop when WatchdogSec= is
 * set. Without NOTIFY_SOCKET every call is a no-op.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dlfcn.h>
#include <stdint.h>

/*
 * libsystemd is loaded only under systemd (NOTIFY_SOCKET set): it and the
 * libraries it pulls in cost about 1 MiB of resident memory otherwise.
 */
static int (*notify_fn)(int, const char *);
static int (*watchdog_fn)(int, uint64_t *);
static void *notify_lib;

#define sd_notify(u, s) (notify_fn != NULL ? notify_fn((u), (s)) : 0)
#define sd_watchdog_enabled(u, p) \
	(watchdog_fn != NULL ? watchdog_fn((u), (p)) : 0)

#include "log.h"
#include "master.h"

static struct ev_loop *notify_loop;
static ev_timer notify_wd;
static int notify_on;
static char notify_last[256];

static void
notify_watchdog_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/* From the loop itself: a stuck loop stops the pings. */
	(void)sd_notify(0, "WATCHDOG=1");
}

void
notify_init(struct ev_loop *loop)
{
	uint64_t usec = 0;

	notify_loop = loop;
	notify_on = getenv("NOTIFY_SOCKET") != NULL;
	if (!notify_on)
		return;
	notify_lib = dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
	if (notify_lib == NULL) {
		log_warnx("NOTIFY_SOCKET is set but libsystemd cannot be "
		          "loaded: %s",
		    dlerror());
		notify_on = 0;
		return;
	}
	notify_fn = (int (*)(int, const char *))dlsym(notify_lib, "sd_notify");
	watchdog_fn =
	    (int (*)(int, uint64_t *))dlsym(notify_lib, "sd_watchdog_enabled");
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		ev_timer_init(&notify_wd, notify_watchdog_cb, 0, usec / 2e6);
		ev_timer_again(loop, &notify_wd);
		log_info("systemd watchdog: every %.1f s", usec / 2e6);
	}
}

struct notify_count {
	size_t total, by[FNWM_WS_MAX];
};

static void
notify_count_one(const char *uuid, void *arg)
{
	struct notify_count *nc = arg;
	struct monitor *m = monitors_find(uuid);
	unsigned st;

	nc->total++;
	if (m != NULL && m->pid > 0 && m->have_st)
		st = m->st.state == FNWM_WS_STARTING && registry_is_active(uuid)
		    ? FNWM_WS_RUNNING
		    : m->st.state;
	else
		st = registry_is_active(uuid) ? FNWM_WS_RUNNING : FNWM_WS_DOWN;
	nc->by[st]++;
}

/* "12 workers: 10 running, 1 backoff, 1 failed" */
void
notify_status(void)
{
	struct notify_count nc;
	char line[256];
	size_t off;
	unsigned i;
	int n;

	if (!notify_on)
		return;
	memset(&nc, 0, sizeof nc);
	registry_each(notify_count_one, &nc);
	n = snprintf(line, sizeof line, "STATUS=%zu worker%s", nc.total,
	    nc.total == 1 ? "" : "s");
	off = n > 0 ? (size_t)n : 0;
	for (i = 0; i < FNWM_WS_MAX && off < sizeof line; i++) {
		if (nc.by[i] == 0 || i == FNWM_WS_DOWN)
			continue;
		n = snprintf(line + off, sizeof line - off, "%s %zu %s",
		    off == 0 || strchr(line, ':') == NULL ? ":" : ",", nc.by[i],
		    monitors_state_name(i));
		if (n > 0)
			off += (size_t)n;
	}
	if (nc.by[FNWM_WS_DOWN] > 0 && off < sizeof line)
		snprintf(line + off, sizeof line - off, "%s %zu down",
		    strchr(line, ':') == NULL ? ":" : ",", nc.by[FNWM_WS_DOWN]);
	if (strcmp(line, notify_last) == 0)
		return;
	snprintf(notify_last, sizeof notify_last, "%s", line);
	(void)sd_notify(0, line);
}

void
notify_ready(void)
{
	if (!notify_on)
		return;
	notify_last[0] = '\0';
	(void)sd_notify(0, "READY=1");
	notify_status();
}

void
notify_reloading(void)
{
	if (notify_on)
		(void)sd_notify(0, "RELOADING=1");
}

void
notify_stopping(void)
{
	if (notify_on)
		(void)sd_notify(0, "STOPPING=1");
}

void
notify_shutdown(void)
{
	if (notify_on && ev_is_active(&notify_wd))
		ev_timer_stop(notify_loop, &notify_wd);
	if (notify_lib != NULL) {
		dlclose(notify_lib);
		notify_lib = NULL;
		notify_fn = NULL;
		watchdog_fn = NULL;
	}
}
