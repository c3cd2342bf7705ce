/* SPDX-License-Identifier: MIT */
/*
 * What the files of a worker say when no monitor of ours speaks for it:
 * worker_<uuid>.status (what its last monitor was doing), the monitor
 * lock worker_<uuid>.lock and the run lock worker_<uuid>.run.lock (held
 * by a worker fnwm started, for as long as it lives).
 */
#include <sys/stat.h>
#include <sys/types.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "status.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"
#include "monitors-int.h"

int
monitors_read_status(const char *uuid, struct fnwm_status *st)
{
	char *path = xasprintf("%s/worker_%s.status", monitors_cfg->workers_dir,
	         uuid),
	     *buf;
	size_t len;
	int rc;

	fnwm_status_init(st);
	if (fnwm_read_file(path, FNWM_STATUS_MAX, &buf, &len) == -1) {
		free(path);
		return (-1);
	}
	rc = fnwm_status_decode(buf, len, st);
	if (rc == -1)
		log_debug("%s: not a status file; ignored", path);
	free(buf);
	free(path);
	return (rc);
}

/*
 * What the last .status of uuid's monitor says: FNWM_WS_* of its state,
 * or -1 when there is none or its monitor still runs (then it speaks for
 * itself). *exiting is set when it was stopping its worker to exit.
 */
static int
status_last(const char *uuid, int *exiting)
{
	char *path = xasprintf("%s/worker_%s.status", monitors_cfg->workers_dir,
	         uuid),
	     *buf;
	struct wfiles_status st;
	struct stat sb;
	size_t len;

	*exiting = 0;
	/* One from before a reboot says nothing about this boot. */
	if (stat(path, &sb) == -1 || sb.st_mtime < fnwm_boot_time() ||
	    fnwm_read_file(path, FNWM_STATUS_MAX, &buf, &len) == -1) {
		free(path);
		return (-1);
	}
	free(path);
	wfiles_status(buf, len, &st);
	free(buf);
	if (st.monitor > 0 && fnwm_proc_alive(st.monitor, NULL) == 1)
		return (-1);
	*exiting = st.exiting;
	return (st.state);
}

/* Whether the last status says it was stopping its worker to exit. */
int
monitors_was_exiting(const char *uuid)
{
	int exiting;

	return (status_last(uuid, &exiting) == FNWM_WS_STOPPING && exiting);
}

/*
 * Whether a worker that neither runs nor has a monitor was meant to run:
 * its monitor died (with its master) while supervising it. In backoff the
 * restart policy had decided already; a worker that was running died
 * since, and its policy decides now.
 */
int
monitors_meant_to_run(const char *uuid)
{
	unsigned char buf[FNWM_MSG_MAX];
	struct fnwm_config_msg c;
	char *cause = NULL;
	size_t len;
	int exiting, st = status_last(uuid, &exiting);

	if (st == FNWM_WS_BACKOFF || (st == FNWM_WS_STOPPING && !exiting))
		return (1);
	if (st != FNWM_WS_STARTING && st != FNWM_WS_RUNNING)
		return (0);
	if (launch_encode(monitors_cfg, uuid, registry_entry(uuid), buf,
	        FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr), &len,
	        &cause) == -1) {
		free(cause);
		return (0);
	}
	memcpy(&c, buf, sizeof c);
	return (c.restart != FNWM_RESTART_NEVER);
}

void
monitors_forget_status(const char *uuid)
{
	char *path =
	    xasprintf("%s/worker_%s.status", monitors_cfg->workers_dir, uuid);
	char buf[FNWM_STATUS_MAX];
	struct fnwm_status st;
	int n;

	/* Down on request, with the history the dead monitor kept. */
	if (monitors_read_status(uuid, &st) == 0 && st.state != FNWM_WS_DOWN &&
	    st.state != FNWM_WS_FAILED) {
		st.state = FNWM_WS_DOWN;
		st.pid = 0;
		st.adopted = 0;
		st.exiting = 0;
		st.since_ms = (uint64_t)(ev_time() * 1000);
		n = fnwm_status_encode(&st, buf, sizeof buf);
		if (n < 0 ||
		    fnwm_atomic_write(path, buf, (size_t)n, 0600) == -1) {
			log_warn("write %s", path);
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("unlink %s", path);
		}
	}
	free(path);
}

/*
 * Whether pid is the fnwm-monitor of uuid (its command line: the title
 * "fnwm-monitor: <uuid>", or fnwm-monitor with --uuid <uuid>), not a
 * process that reuses the pid of one gone.
 */
int
monitors_is_monitor(pid_t pid, const char *uuid)
{
	char path[64], buf[512], *arg, *end;
	ssize_t n;
	int fd, named = 0, ours = 0;

	(void)snprintf(path, sizeof path, "/proc/%ld/cmdline", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return (0);
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	end = buf + n;
	named = strstr(buf, "fnwm-monitor") != NULL;
	for (arg = buf; arg < end; arg += strlen(arg) + 1)
		if (strcmp(arg, uuid) == 0 ||
		    (arg == buf && strncmp(arg, "fnwm-monitor: ", 14) == 0 &&
		        strcmp(arg + 14, uuid) == 0))
			ours = 1;
	return (named && ours);
}

/* Whether a process holds worker_<uuid>.run.lock: a worker fnwm started. */
int
monitors_worker_alive(const char *uuid)
{
	return (monitors_run_lock_held(uuid));
}

/* The live process holding worker_<uuid>.run.lock, or 0. */
pid_t
monitors_run_lock_holder(const char *uuid)
{
	char *path =
	    xasprintf("%s/worker_%s.run.lock", monitors_cfg->workers_dir, uuid);
	pid_t holder = fnwm_flock_holder(path);

	free(path);
	return (holder > 0 && fnwm_proc_alive(holder, NULL) == 1 ? holder : 0);
}

int
monitors_run_lock_held(const char *uuid)
{
	return (monitors_run_lock_holder(uuid) > 0);
}

int
monitors_lock_state(const char *uuid, pid_t *holder)
{
	char *path =
	    xasprintf("%s/worker_%s.lock", monitors_cfg->workers_dir, uuid);
	pid_t pid = fnwm_flock_holder(path);

	free(path);
	*holder = 0;
	if (pid <= 0)
		return (-1);
	/*
	 * The pid that took it: the lock outlives it in a child forked
	 * between fork and exec, and the pid may be another's since.
	 */
	if (fnwm_proc_alive(pid, NULL) == 1 && monitors_is_monitor(pid, uuid))
		*holder = pid;
	return (0);
}
