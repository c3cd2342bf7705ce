/* SPDX-License-Identifier: MIT */
/*
 * The .status written durably off the event loop. Each write is a new
 * file, fsynced, renamed over the old one, and the directory fsynced:
 * on a busy disk that is tens to hundreds of ms, during which a loop
 * that did it itself would hear no crash, no master and no signal. A
 * thread of its own writes instead. Only the newest content matters: a
 * write that waits is replaced by a newer one, never queued behind it.
 *
 * The thread blocks every signal (the loop reads them from its signalfd;
 * a signal the thread took would run its default action), logs nothing
 * (the loop reports its errors) and is started at the first write.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "status.h"
#include "writer.h"

#define WRITER_STACK (64 * 1024)

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv; /* a job came, a job ended, or quit */
	pthread_t thread;
	int started, quit;
	int pending; /* buf holds a job the thread has not taken yet */
	int busy;    /* the thread is writing */
	int err;     /* errno of the last failed write, not yet reported */
	int dirfd;
	const char *name;
	size_t len;
	char buf[FNWM_STATUS_MAX];
} w = { .lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

static void *
writer_main(void *arg)
{
	char data[FNWM_STATUS_MAX];
	size_t len;
	int rc;

	pthread_mutex_lock(&w.lock);
	for (;;) {
		while (!w.pending && !w.quit)
			pthread_cond_wait(&w.cv, &w.lock);
		if (!w.pending)
			break;
		len = w.len;
		memcpy(data, w.buf, len);
		w.pending = 0;
		w.busy = 1;
		pthread_mutex_unlock(&w.lock);
		rc = fnwm_atomic_write_at(w.dirfd, w.name, data, len, 0600);
		pthread_mutex_lock(&w.lock);
		w.busy = 0;
		if (rc == -1)
			w.err = errno;
		pthread_cond_broadcast(&w.cv);
	}
	pthread_mutex_unlock(&w.lock);
	return (NULL);
}

static int
writer_start(void)
{
	pthread_attr_t attr;
	sigset_t all, old;
	int rc;

	if (pthread_attr_init(&attr) != 0)
		return (-1);
	(void)pthread_attr_setstacksize(&attr, WRITER_STACK);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&w.thread, &attr, writer_main, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&attr);
	if (rc != 0) {
		errno = rc;
		return (-1);
	}
	w.started = 1;
	return (0);
}

/* A failure the thread met since the last call, logged here. */
static void
writer_report(const char *name)
{
	int err;

	pthread_mutex_lock(&w.lock);
	err = w.err;
	w.err = 0;
	pthread_mutex_unlock(&w.lock);
	if (err != 0)
		log_warnx("write %s: %s", name, log_strerror(err));
}

int
writer_submit(int dirfd, const char *name, const void *data, size_t len)
{
	if (len > sizeof w.buf) {
		errno = EFBIG;
		return (-1);
	}
	writer_report(name);
	if (!w.started && writer_start() == -1) {
		/* No thread: the loop writes it itself, as it used to. */
		log_warn("status writer thread");
		return (fnwm_atomic_write_at(dirfd, name, data, len, 0600));
	}
	pthread_mutex_lock(&w.lock);
	w.dirfd = dirfd;
	w.name = name;
	memcpy(w.buf, data, len);
	w.len = len;
	w.pending = 1;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.lock);
	return (0);
}

int
writer_sync(void)
{
	int err;

	if (!w.started)
		return (0);
	pthread_mutex_lock(&w.lock);
	while (w.pending || w.busy)
		pthread_cond_wait(&w.cv, &w.lock);
	err = w.err;
	w.err = 0;
	pthread_mutex_unlock(&w.lock);
	if (err != 0) {
		errno = err;
		return (-1);
	}
	return (0);
}

void
writer_stop(void)
{
	if (!w.started)
		return;
	pthread_mutex_lock(&w.lock);
	w.quit = 1;
	pthread_cond_broadcast(&w.cv);
	pthread_mutex_unlock(&w.lock);
	pthread_join(w.thread, NULL);
	w.started = 0;
	w.quit = 0;
}
