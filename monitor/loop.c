/* SPDX-License-Identifier: MIT */
/*
 * The monitor's event loop. One epoll fd; signals (SIGCHLD always) are
 * blocked and read from a signalfd in that epoll set, so a child's exit
 * is an fd event like any other and nothing runs in a signal handler.
 * Timers are a short list scanned for the nearest deadline: a monitor
 * has at most a handful.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

uint64_t
loop_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

int
loop_init(struct loop *l)
{
	struct epoll_event ev;

	memset(l, 0, sizeof *l);
	l->epfd = l->sigfd = -1;
	sigemptyset(&l->sigs);
	sigaddset(&l->sigs, SIGCHLD);
	if (sigprocmask(SIG_BLOCK, &l->sigs, NULL) == -1)
		return (-1);
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		goto fail;
	l->sigfd = signalfd(-1, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (l->sigfd == -1)
		goto fail;
	memset(&ev, 0, sizeof ev);
	ev.events = EPOLLIN;
	ev.data.ptr = &l->sigfd; /* not a struct loop_io: the signals */
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->sigfd, &ev) == -1)
		goto fail;
	return (0);
fail:
	loop_free(l);
	return (-1);
}

void
loop_free(struct loop *l)
{
	int saved = errno;

	if (l->sigfd != -1)
		close(l->sigfd);
	if (l->epfd != -1)
		close(l->epfd);
	l->sigfd = l->epfd = -1;
	(void)sigprocmask(SIG_UNBLOCK, &l->sigs, NULL);
	errno = saved;
}

void
loop_break(struct loop *l)
{
	l->broken = 1;
}

/* A stopped watcher's event still in the batch is dropped. */
static void
loop_unpend(struct loop *l, void *w)
{
	int i;

	for (i = 0; i < l->npending; i++)
		if (l->pending[i] == w)
			l->pending[i] = NULL;
}

void
loop_io_init(struct loop_io *io,
    void (*cb)(struct loop *, struct loop_io *, int), void *data)
{
	io->fd = -1;
	io->events = 0;
	io->cb = cb;
	io->data = data;
}

int
loop_io_start(struct loop *l, struct loop_io *io, int fd, int events)
{
	struct epoll_event ev;
	int op = EPOLL_CTL_ADD;

	if (events == 0) {
		loop_io_stop(l, io);
		return (0);
	}
	if (io->events != 0 && io->fd != fd)
		loop_io_stop(l, io);
	else if (io->events != 0)
		op = EPOLL_CTL_MOD;
	memset(&ev, 0, sizeof ev);
	ev.events = (events & LOOP_READ ? EPOLLIN : 0) |
	    (events & LOOP_WRITE ? EPOLLOUT : 0);
	ev.data.ptr = io;
	if (epoll_ctl(l->epfd, op, fd, &ev) == -1) {
		/*
		 * The fd was closed and its number reused since the last
		 * start (the kernel dropped the old registration), or it
		 * is still registered from before: the other operation.
		 */
		if (errno != ENOENT && errno != EEXIST)
			return (-1);
		op = op == EPOLL_CTL_ADD ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
		if (epoll_ctl(l->epfd, op, fd, &ev) == -1)
			return (-1);
	}
	io->fd = fd;
	io->events = events;
	return (0);
}

void
loop_io_stop(struct loop *l, struct loop_io *io)
{
	if (io->events == 0)
		return;
	/* Fails harmlessly when the fd is already closed. */
	(void)epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
	io->events = 0;
	loop_unpend(l, io);
}

void
loop_timer_init(struct loop_timer *t,
    void (*cb)(struct loop *, struct loop_timer *), void *data)
{
	memset(t, 0, sizeof *t);
	t->cb = cb;
	t->data = data;
}

void
loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t ms)
{
	t->due_ms = loop_now_ms() + ms;
	if (t->active)
		return;
	t->active = 1;
	t->next = l->timers;
	l->timers = t;
}

void
loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	struct loop_timer **p;

	if (!t->active)
		return;
	for (p = &l->timers; *p != NULL; p = &(*p)->next)
		if (*p == t) {
			*p = t->next;
			break;
		}
	t->active = 0;
	t->next = NULL;
}

void
loop_child_init(struct loop_child *c,
    void (*cb)(struct loop *, struct loop_child *, int), void *data)
{
	memset(c, 0, sizeof *c);
	c->cb = cb;
	c->data = data;
}

void
loop_child_start(struct loop *l, struct loop_child *c, pid_t pid)
{
	loop_child_stop(l, c);
	c->pid = pid;
	c->active = 1;
	c->next = l->children;
	l->children = c;
}

void
loop_child_stop(struct loop *l, struct loop_child *c)
{
	struct loop_child **p;

	if (!c->active)
		return;
	for (p = &l->children; *p != NULL; p = &(*p)->next)
		if (*p == c) {
			*p = c->next;
			break;
		}
	c->active = 0;
	c->next = NULL;
}

int
loop_signal(struct loop *l, int signo, loop_signal_cb *cb, void *data)
{
	int i;

	for (i = 0; i < LOOP_SIGNALS_MAX && l->sig[i].signo != 0; i++)
		;
	if (i == LOOP_SIGNALS_MAX || signo == SIGCHLD) {
		errno = EINVAL;
		return (-1);
	}
	sigaddset(&l->sigs, signo);
	if (sigprocmask(SIG_BLOCK, &l->sigs, NULL) == -1 ||
	    signalfd(l->sigfd, &l->sigs, 0) == -1)
		return (-1);
	l->sig[i].signo = signo;
	l->sig[i].cb = cb;
	l->sig[i].data = data;
	return (0);
}

/* Every exited child is reaped; a watched one is reported. */
static void
loop_reap(struct loop *l)
{
	struct loop_child *c;
	pid_t pid;
	int status;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0 ||
	    (pid == -1 && errno == EINTR)) {
		if (pid == -1)
			continue;
		for (c = l->children; c != NULL && c->pid != pid; c = c->next)
			;
		if (c == NULL)
			continue;
		loop_child_stop(l, c);
		c->cb(l, c, status);
	}
}

static void
loop_signals(struct loop *l)
{
	struct signalfd_siginfo si;
	int i, reap = 0;

	while (read(l->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			reap = 1;
			continue;
		}
		for (i = 0; i < LOOP_SIGNALS_MAX; i++)
			if (l->sig[i].signo == (int)si.ssi_signo)
				l->sig[i].cb(l, l->sig[i].signo,
				    l->sig[i].data);
	}
	/* Also without a SIGCHLD read: signals of one kind merge. */
	if (reap || l->children != NULL)
		loop_reap(l);
}

/* ms until the nearest timer, -1 for none. */
static int
loop_timeout(struct loop *l)
{
	struct loop_timer *t;
	uint64_t now, due = UINT64_MAX;

	for (t = l->timers; t != NULL; t = t->next)
		if (t->due_ms < due)
			due = t->due_ms;
	if (due == UINT64_MAX)
		return (-1);
	now = loop_now_ms();
	if (due <= now)
		return (0);
	/* Rounded up by one: the wait must not end before the deadline. */
	return (due - now > 86400000 ? 86400000 : (int)(due - now) + 1);
}

/* The earliest expired timer, stopped and fired, until none is left. */
static void
loop_timers(struct loop *l)
{
	struct loop_timer *t, *first;
	uint64_t now = loop_now_ms();

	while (!l->broken) {
		first = NULL;
		for (t = l->timers; t != NULL; t = t->next)
			if (t->due_ms <= now &&
			    (first == NULL || t->due_ms < first->due_ms))
				first = t;
		if (first == NULL)
			return;
		loop_timer_stop(l, first);
		first->cb(l, first);
	}
}

int
loop_run(struct loop *l)
{
	struct epoll_event evs[LOOP_BATCH];
	struct loop_io *io;
	int i, n, revents;

	while (!l->broken) {
		n = epoll_wait(l->epfd, evs, LOOP_BATCH, loop_timeout(l));
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return (-1);
		}
		for (i = 0; i < n; i++)
			l->pending[i] = evs[i].data.ptr;
		l->npending = n;
		for (i = 0; i < n && !l->broken; i++) {
			if (l->pending[i] == NULL)
				continue;
			if (l->pending[i] == &l->sigfd) {
				loop_signals(l);
				continue;
			}
			io = l->pending[i];
			/* Errors and hang-ups wake whoever watches. */
			revents =
			    (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)
			            ? LOOP_READ
			            : 0) |
			    (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)
			            ? LOOP_WRITE
			            : 0);
			revents &= io->events;
			if (revents != 0)
				io->cb(l, io, revents);
		}
		l->npending = 0;
		loop_timers(l);
	}
	return (0);
}
