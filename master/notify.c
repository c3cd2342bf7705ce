/* SPDX-License-Identifier: MIT */
/*
 * systemd's notification protocol through libsystemd's sd_notify:
 * READY=1 once the hub listens and running monitors are re-adopted,
 * STATUS= with the one-line summary of the workers that the registered
 * source writes (summary.c), RELOADING=1 around a reload, STOPPING=1, and
 * WATCHDOG=1 from the loop when WatchdogSec= is set. Without NOTIFY_SOCKET
 * every call is a no-op.
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
#include "notify.h"

static struct ev_loop *notify_loop;
static ev_timer notify_wd;
static int notify_on;
static char notify_last[256];
static notify_status_fn *notify_source;

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

void
notify_set_status_source(notify_status_fn *fn)
{
	notify_source = fn;
}

void
notify_status(void)
{
	char line[256] = "STATUS=";

	if (!notify_on || notify_source == NULL)
		return;
	notify_source(line + 7, sizeof line - 7);
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
