/* SPDX-License-Identifier: MIT */
/*
 * Taking over what an earlier master left: monitors still running
 * (reached through worker_<uuid>.sock, watched through a pidfd since they
 * are not our children), monitors that hold a worker's lock but do not
 * answer yet, and workers running without a monitor.
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
#include "monitors-phase.h"

static ev_timer adopt_retry;

static void
adopt_pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct monitors_evarg a = { .status = -1 };

	(void)monitors_feed(w->data, ME_GONE, &a);
}

/* pid becomes m's monitor process, its death watched through a pidfd. */
static int
adopt_watch_pid(struct monitor *m, pid_t pid, const char *uuid_check)
{
	int fd;

	if (m->pidfd != -1 && m->pid == pid)
		return (0);
	/* Not our child: a pidfd says when it dies, and signals it safely. */
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd == -1 && uuid_check != NULL)
		return (-1);
	/* Checked after the pidfd is open: the pid cannot be reused now. */
	if (uuid_check != NULL && !monitors_is_monitor(pid, uuid_check)) {
		close(fd);
		return (-1);
	}
	if (m->pidfd != -1) {
		ev_io_stop(monitors_loop, &m->pidw);
		close(m->pidfd);
	}
	m->pid = pid;
	m->pidfd = fd;
	if (fd != -1) {
		fnwm_set_cloexec(fd, 1);
		ev_io_init(&m->pidw, adopt_pidfd_cb, fd, EV_READ);
		m->pidw.data = m;
		ev_io_start(monitors_loop, &m->pidw);
	}
	return (0);
}

int
monitors_watch(struct monitor *m, pid_t pid)
{
	return (adopt_watch_pid(m, pid, m->uuid));
}

/* Connects to uuid's monitor socket: the fd, with its pid; or -1. */
static int
adopt_socket(const char *uuid, int dirfd, pid_t *pid)
{
	struct sockaddr_un sa;
	struct ucred cred;
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
	*pid = cred.pid;
	return (fd);
}

/*
 * m's monitor answered on fd: its channel, HELLO, and its configuration
 * again (it may never have reached it: its first master died first;
 * running workers are not disturbed).
 */
static void
adopt_take(struct monitor *m, int fd, pid_t pid)
{
	struct fnwm_hello hello;
	char *cause = NULL;

	(void)adopt_watch_pid(m, pid, NULL);
	if (m->chan == NULL)
		m->chan = xmalloc(sizeof *m->chan);
	chan_ev_init(m->chan, monitors_loop, fd, monitors_msg_cb,
	    monitors_close_cb, m);
	fnwm_msg_hello_init(&hello, (uint32_t)getpid(), FNWM_ROLE_MASTER, 0);
	(void)fnwm_chan_send(&m->chan->ch, FNWM_MSG_HELLO, &hello,
	    sizeof hello);
	if (monitors_launch(m, registry_entry(m->uuid), 0, &cause) != 0) {
		log_warnx("monitor %s: %s", m->uuid, cause);
		free(cause);
	}
	log_info("monitor %s (pid %ld) re-adopted", m->uuid, (long)pid);
}

/* Reaches m's monitor through its socket: 0 when attached, or -1. */
int
monitors_connect(struct monitor *m)
{
	pid_t pid;
	int dirfd, fd;

	dirfd =
	    open(monitors_cfg->workers_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dirfd == -1)
		return (-1);
	fd = adopt_socket(m->uuid, dirfd, &pid);
	close(dirfd);
	if (fd == -1)
		return (-1);
	adopt_take(m, fd, pid);
	return (0);
}

/* Start-up: a monitor answering on worker_<uuid>.sock is ours again. */
static void
adopt_attach(const char *uuid, int dirfd)
{
	struct monitor *m = monitors_find(uuid);
	pid_t pid;
	int fd;

	if (m != NULL && m->phase != MP_NONE)
		return;
	fd = adopt_socket(uuid, dirfd, &pid);
	if (fd == -1)
		return;
	m = monitors_get(uuid);
	adopt_take(m, fd, pid);
	(void)monitors_feed(m, ME_ATTACH, NULL);
}

/*
 * Start-up, for a worker no monitor answered for: a live monitor that
 * holds its lock is watched and reached later (one of ours could only
 * exit 101); else a worker that runs, or was meant to, gets a monitor
 * that adopts or starts it (its monitor died with the master).
 */
static void
adopt_orphan(const char *uuid, void *arg)
{
	struct monitor *m = monitors_find(uuid);
	struct monitors_evarg a = { 0 };
	char *cause = NULL;
	int alive;

	if (m != NULL && m->phase != MP_NONE)
		return;
	/* The run lock says a worker lives, .p or not (it may be starting). */
	alive = monitors_run_lock_held(uuid);
	if (monitors_lock_state(uuid, &a.holder) == 0 && a.holder > 0) {
		m = monitors_get(uuid);
		m->want_up = alive;
		(void)monitors_feed(m, ME_LOCKED, &a);
		return;
	}
	if (!alive && !monitors_meant_to_run(uuid))
		return;
	m = monitors_get(uuid);
	m->want_up = 1;
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

static void
adopt_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m;
	int left = 0;

	TAILQ_FOREACH(m, monitors_list(), entry) {
		if (m->phase != MP_LOCKED || m->tries <= 0)
			continue;
		(void)monitors_feed(m, ME_RETRY, NULL);
		if (m->phase == MP_LOCKED && m->tries > 0)
			left++;
	}
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
		adopt_attach(uuid, dirfd);
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
	TAILQ_FOREACH(m, monitors_list(), entry)
		(void)monitors_feed(m, ME_DETACH, NULL);
}

void
monitors_arm_retry(void)
{
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
