/* SPDX-License-Identifier: MIT */
/*
 * The monitor's listening socket, worker_<uuid>.sock (mode 0600) beside
 * its worker's files: how a new master finds and re-adopts a monitor
 * whose master died, as s6-supervise outlives s6-svscan. Only a peer of
 * our own uid (or root) is accepted; a new master replaces an old channel.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "monitor.h"

/*
 * sun_path holds 108 bytes and workers dirs can be longer: bind and
 * connect through /proc/self/fd/N/<name> of the dir's fd (files_lock).
 */
static int
control_addr(struct mon *m, struct sockaddr_un *sa)
{
	int n;

	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path, sizeof sa->sun_path,
	    "/proc/self/fd/%d/worker_%s.sock", m->dirfd, m->uuid);
	return (n < 0 || n >= (int)sizeof sa->sun_path ? -1 : 0);
}

static void control_accept_cb(struct loop *, struct loop_io *, int);

/* worker_<uuid>.sock: a name, not a path (this runs deep in the stack). */
#define CONTROL_NAME_MAX \
	(sizeof "worker_" + sizeof((struct mon *)0)->uuid + sizeof ".sock")

int
control_listen(struct mon *m)
{
	struct sockaddr_un sa;
	char name[CONTROL_NAME_MAX];
	mode_t old;
	int fd;

	if (m->dirfd == -1 || control_addr(m, &sa) == -1)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return (-1);
	/* We hold the worker's lock: a socket file left here is stale. */
	snprintf(name, sizeof name, "worker_%s.sock", m->uuid);
	(void)unlinkat(m->dirfd, name, 0);
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1) {
		umask(old);
		close(fd);
		return (-1);
	}
	umask(old);
	if (listen(fd, 4) == -1) {
		close(fd);
		return (-1);
	}
	loop_io_init(&m->listenw, control_accept_cb, m);
	if (loop_io_start(m->loop, &m->listenw, fd, LOOP_READ) == -1) {
		close(fd);
		return (-1);
	}
	m->listenfd = fd;
	return (0);
}

static void
control_accept_cb(struct loop *loop, struct loop_io *w, int revents)
{
	struct mon *m = w->data;
	struct ucred cred;
	socklen_t len = sizeof cred;
	int fd;

	fd = accept4(m->listenfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd == -1)
		return;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    (cred.uid != geteuid() && cred.uid != 0)) {
		log_warnx("refused a control connection from uid %ld",
		    (long)cred.uid);
		close(fd);
		return;
	}
	if (m->chan_up) {
		/* Only one master runs per config dir: this one is newer. */
		log_info("a new master replaces the old channel");
		fnwm_chan_close(&m->chan);
		m->chan_up = 0;
	}
	log_info("master (pid %ld) connected", (long)cred.pid);
	mon_attach_channel(m, fd);
}

void
control_close(struct mon *m)
{
	struct sockaddr_un sa;

	if (m->listenfd == -1)
		return;
	loop_io_stop(m->loop, &m->listenw);
	close(m->listenfd);
	m->listenfd = -1;
	if (control_addr(m, &sa) == 0) {
		char name[CONTROL_NAME_MAX];

		snprintf(name, sizeof name, "worker_%s.sock", m->uuid);
		(void)unlinkat(m->dirfd, name, 0);
	}
}
