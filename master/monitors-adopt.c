/* SPDX-License-Identifier: MIT */
/*
 * Taking over what an earlier master left: monitors still running
 * (reached through worker_<uuid>.sock, watched through a pidfd since they
 * are not our children), workers running without a monitor, and the
 * .status files that tell what a dead monitor was doing.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <dirent.h>
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

static ev_timer adopt_retry;

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
adopt_last_status(const char *uuid, int *exiting)
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

	return (
	    adopt_last_status(uuid, &exiting) == FNWM_WS_STOPPING && exiting);
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
	int exiting, st = adopt_last_status(uuid, &exiting);

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

static void
adopt_pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	monitors_gone(w->data, -1);
}

/* Connects to a running monitor's socket; 0, or -1 when none answers. */
static int
adopt_connect(const char *uuid, int dirfd)
{
	struct sockaddr_un sa;
	struct monitor *m;
	struct ucred cred;
	struct fnwm_hello hello;
	socklen_t len = sizeof cred;
	int fd, n;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	/* Long workers dirs do not fit sun_path: go through the dir fd. */
	n = snprintf(sa.sun_path, sizeof sa.sun_path,
	    "/proc/self/fd/%d/worker_%s.sock", dirfd, uuid);
	if (n < 0 || n >= (int)sizeof sa.sun_path)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    cred.pid <= 1) {
		close(fd);
		return (-1);
	}
	/* Only a monitor of our own user speaks for a worker. */
	if (cred.uid != geteuid()) {
		log_warnx("worker_%s.sock is served by pid %ld of uid %ld, not "
		          "ours; ignored",
		    uuid, (long)cred.pid, (long)cred.uid);
		close(fd);
		return (-1);
	}
	m = monitors_get(uuid);
	if (m->pid > 0) {
		close(fd);
		return (0);
	}
	m->pid = cred.pid;
	m->adopted_proc = 1;
	m->want_known = 0;
	m->fresh = 0;
	m->have_st = 0;
	m->st_seen = 0;
	m->gen++;
	/* Not our child: a pidfd says when it dies. */
	m->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (m->pidfd != -1) {
		fnwm_set_cloexec(m->pidfd, 1);
		ev_io_init(&m->pidw, adopt_pidfd_cb, m->pidfd, EV_READ);
		m->pidw.data = m;
		ev_io_start(monitors_loop, &m->pidw);
	}
	if (m->chan == NULL)
		m->chan = xmalloc(sizeof *m->chan);
	fnwm_chan_init(m->chan, monitors_loop, fd, monitors_msg_cb,
	    monitors_close_cb, m);
	fnwm_msg_hello_init(&hello, (uint32_t)getpid(), FNWM_ROLE_MASTER, 0);
	(void)fnwm_chan_send(m->chan, FNWM_MSG_HELLO, &hello, sizeof hello);
	/*
	 * Its configuration may never have reached it (its first master
	 * died first): send it again; running workers are not disturbed.
	 */
	{
		unsigned char buf[FNWM_MSG_MAX];
		char *cause = NULL;
		size_t clen;

		if (launch_encode(monitors_cfg, uuid, registry_entry(uuid), buf,
		        FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr), &clen,
		        &cause) == 0)
			(void)monitors_send(m, FNWM_MSG_CMD_CONFIG, buf, clen);
		else {
			log_warnx("monitor %s: %s", uuid, cause);
			free(cause);
		}
	}
	log_info("monitor %s (pid %ld) re-adopted", uuid, (long)cred.pid);
	return (0);
}

static void
adopt_orphan(const char *uuid, void *arg)
{
	struct monitor *m;
	char *cause = NULL;
	int alive;

	if (monitors_find(uuid) != NULL && monitors_find(uuid)->pid > 0)
		return;
	/* The run lock says a worker lives, .p or not (it may be starting). */
	alive = monitors_run_lock_held(uuid);
	if (!alive && !monitors_meant_to_run(uuid))
		return;
	/*
	 * Its monitor died with the master: a new one adopts the worker, or
	 * starts it when it died too while it was meant to run.
	 */
	m = monitors_get(uuid);
	m->want_up = 1;
	m->want_known = 1;
	if (monitors_start(m, &cause) == -1) {
		log_warnx("worker %s: %s", uuid, cause);
		free(cause);
	} else if (alive)
		log_info("worker %s was running unsupervised; a monitor "
		         "adopts it",
		    uuid);
	else
		log_info("worker %s was meant to run when its monitor died; "
		         "a monitor starts it",
		    uuid);
}

/* Whether a process holds worker_<uuid>.lock (a monitor, normally). */
static int
adopt_lock_held(const char *uuid)
{
	char *path =
	    xasprintf("%s/worker_%s.lock", monitors_cfg->workers_dir, uuid);
	pid_t holder = fnwm_flock_holder(path);

	free(path);
	return (holder > 0);
}

static void
adopt_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m;
	char *cause = NULL;
	int dirfd, left = 0;

	dirfd =
	    open(monitors_cfg->workers_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	TAILQ_FOREACH(m, monitors_list(), entry) {
		if (m->readopt <= 0)
			continue;
		if (m->pid > 0 ||
		    (dirfd != -1 && adopt_connect(m->uuid, dirfd) == 0 &&
		        m->pid > 0))
			m->readopt = 0;
		else if (!adopt_lock_held(m->uuid)) {
			/*
			 * Nobody holds the monitor lock now: what did was no
			 * monitor (a worker its killed monitor had forked,
			 * between fork and exec). A new monitor adopts it.
			 */
			m->readopt = 0;
			if (m->want_up && !shutdown_in_progress() &&
			    monitors_start(m, &cause) == -1) {
				log_warnx("monitor %s: %s", m->uuid, cause);
				free(cause);
				cause = NULL;
			}
		} else if (--m->readopt > 0)
			left++;
	}
	if (dirfd != -1)
		close(dirfd);
	if (left == 0)
		ev_timer_stop(loop, t);
}

void
monitors_adopt_all(void)
{
	struct dirent *de;
	char uuid[256];
	size_t n;
	DIR *d;
	int dirfd;

	dirfd =
	    open(monitors_cfg->workers_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	d = opendir(monitors_cfg->workers_dir);
	if (dirfd == -1 || d == NULL) {
		if (d != NULL)
			closedir(d);
		if (dirfd != -1)
			close(dirfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 12 || strncmp(de->d_name, "worker_", 7) != 0 ||
		    strcmp(de->d_name + n - 5, ".sock") != 0 ||
		    n - 12 >= sizeof uuid)
			continue;
		memcpy(uuid, de->d_name + 7, n - 12);
		uuid[n - 12] = '\0';
		if (!fnwm_worker_id_valid(uuid, strlen(uuid)))
			continue;
		(void)adopt_connect(uuid, dirfd);
	}
	closedir(d);
	close(dirfd);
	registry_each(adopt_orphan, NULL);
}

void
monitors_detach_all(void)
{
	struct monitor *m;

	/* The monitors see EOF and keep supervising; a new master adopts. */
	TAILQ_FOREACH(m, monitors_list(), entry) {
		if (m->chan != NULL)
			fnwm_chan_close(m->chan);
		if (m->pid > 0 && !m->adopted_proc)
			ev_child_stop(monitors_loop, &m->cw);
		if (m->pidfd != -1) {
			ev_io_stop(monitors_loop, &m->pidw);
			close(m->pidfd);
			m->pidfd = -1;
		}
		m->pid = 0;
		m->want_up = 0;
	}
}

/* Tries to reach m's monitor through its socket for a while. */
void
monitors_adopt_retry(struct monitor *m)
{
	m->readopt = 25;
	if (!ev_is_active(&adopt_retry))
		ev_timer_again(monitors_loop, &adopt_retry);
}

void
monitors_adopt_init(void)
{
	ev_timer_init(&adopt_retry, adopt_retry_cb, 0, 0.2);
}

void
monitors_adopt_stop(void)
{
	ev_timer_stop(monitors_loop, &adopt_retry);
}
