/* SPDX-License-Identifier: MIT */
/*
 * The files a monitor owns beside the FuncNodes ones in the workers dir:
 * its lock, the worker's run lock, a status file, and the worker's log
 * with its size cap. It also clears what a dead worker leaves behind
 * (.p, .runstate), since a FuncNodes worker refuses to start while a .p
 * exists.
 */
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "beneath.h"
#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "monitor.h"
#include "writer.h"

#define LOG_QUIET_MS 1000 /* between two size checks of a chatty log */

/* Start-up only: the one place the monitor allocates. */
static char *
files_path(const struct mon *m, const char *suffix)
{
	return (xasprintf("%s/worker_%s%s", m->workers_dir, m->uuid, suffix));
}

int
files_init(struct mon *m, const char *uuid, const char *workers_dir)
{
	if (snprintf(m->uuid, sizeof m->uuid, "%s", uuid) >=
	        (int)sizeof m->uuid ||
	    strlen(workers_dir) >= PATH_MAX - sizeof m->uuid - 16)
		return (-1);
	m->workers_dir = xstrdup(workers_dir);
	m->p_path = files_path(m, ".p");
	m->runstate_path = files_path(m, ".runstate");
	m->status_path = files_path(m, ".status");
	m->lock_path = files_path(m, ".lock");
	m->runlock_path = files_path(m, ".run.lock");
	m->lockfd = -1;
	m->dirfd = -1;
	m->logwatch_fd = -1;
	return (0);
}

void
files_free(struct mon *m)
{
	free(m->workers_dir);
	free(m->p_path);
	free(m->runstate_path);
	free(m->status_path);
	free(m->lock_path);
	free(m->runlock_path);
	if (m->dirfd != -1)
		close(m->dirfd);
	m->dirfd = -1;
}

/* The file name of one of our paths, for the calls relative to dirfd. */
static const char *
files_base(const char *path)
{
	const char *slash = strrchr(path, '/');

	return (slash != NULL ? slash + 1 : path);
}

/*
 * What an atomic write of this worker's .status or .runstate left when the
 * process writing it died between creating the temporary and renaming it
 * (a monitor killed during its writer's fsync, say). With the worker's
 * lock held nobody else writes them: removed.
 */
static void
files_remove_temporaries(struct mon *m)
{
	struct dirent *de;
	DIR *d;
	int fd;

	fd = openat(m->dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd == -1 || (d = fdopendir(fd)) == NULL) {
		if (fd != -1)
			close(fd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (!fnwm_atomic_temporary_of(de->d_name,
		        files_base(m->status_path)) &&
		    !fnwm_atomic_temporary_of(de->d_name,
		        files_base(m->runstate_path)))
			continue;
		if (unlinkat(m->dirfd, de->d_name, 0) == 0)
			log_info("removed %s, left by an unfinished write",
			    de->d_name);
	}
	closedir(d);
}

/*
 * The worker's lock, and the workers dir held open: the files the monitor
 * writes are written through it (a short temporary name, not a path
 * buffer on a deep stack) and the directory is fsynced through it.
 */
int
files_lock(struct mon *m)
{
	m->dirfd = open(m->workers_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (m->dirfd == -1)
		return (-1);
	m->lockfd =
	    open(m->lock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (m->lockfd == -1)
		return (-1);
	if (flock(m->lockfd, LOCK_EX | LOCK_NB) == -1) {
		close(m->lockfd);
		m->lockfd = -1;
		return (-1);
	}
	files_remove_temporaries(m);
	return (0);
}

/*
 * The worker's run lock, taken by the monitor itself right before a fork,
 * shared: success proves that no worker left over holds it (a worker holds
 * it exclusively), and the child inherits the open file description and
 * converts the lock to exclusive, in its own name (/proc/locks names the
 * process that took a lock: the worker, as the master expects). Returns
 * the fd, or -1 with errno (EWOULDBLOCK: something holds it).
 */
int
files_runlock_take(struct mon *m)
{
	int fd, e;

	fd = open(m->runlock_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
	    0600);
	if (fd == -1)
		return (-1);
	if (flock(fd, LOCK_SH | LOCK_NB) == -1) {
		e = errno;
		close(fd);
		errno = e;
		return (-1);
	}
	return (fd);
}

/*
 * 1 when something holds the run lock, 0 free (or no such file: a probe
 * creates nothing), -1 cannot tell.
 */
int
files_runlock_held(struct mon *m)
{
	int fd, held;

	fd = open(m->runlock_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return (errno == ENOENT ? 0 : -1);
	held = flock(fd, LOCK_EX | LOCK_NB) == -1
	    ? (errno == EWOULDBLOCK ? 1 : -1)
	    : 0;
	close(fd); /* our open file description: a lock we took goes too */
	return (held);
}

pid_t
files_read_pid(struct mon *m, struct timespec *mtime)
{
	char buf[64];
	struct stat st;
	long long v;
	ssize_t n;
	int fd;

	fd = open(m->p_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return (0);
	n = read(fd, buf, sizeof buf - 1);
	if (fstat(fd, &st) == 0 && mtime != NULL)
		*mtime = st.st_mtim;
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	if (fnwm_parse_int(buf, 1, INT32_MAX, &v) == -1)
		return (0);
	return ((pid_t)v);
}

void
files_worker_started(struct mon *m)
{
	files_log_watch(m);
}

/* Atomically, 0600, the file of path (one of ours) in the workers dir. */
static int
files_write(struct mon *m, const char *path, const void *data, size_t len)
{
	return (
	    fnwm_atomic_write_at(m->dirfd, files_base(path), data, len, 0600));
}

/* Removes a .p that names pid, or a process no longer alive. */
void
files_clear_p(struct mon *m, pid_t pid)
{
	pid_t p = files_read_pid(m, NULL);

	if (access(m->p_path, F_OK) == 0 &&
	    (p == pid || p <= 0 || fnwm_proc_alive(p, NULL) == 0)) {
		if (unlink(m->p_path) == -1 && errno != ENOENT)
			log_warn("unlink %s", m->p_path);
	}
}

/*
 * After the worker pid exited (or, with pid 0, before a launch): remove a
 * .p that names a process no longer alive, and leave a final runstate (or
 * remove a stale one when final_runstate is NULL).
 */
void
files_worker_exited(struct mon *m, pid_t pid, const char *final_runstate)
{
	pid_t p = files_read_pid(m, NULL);

	if (access(m->p_path, F_OK) == 0 &&
	    (p == pid || p <= 0 || fnwm_proc_alive(p, NULL) == 0)) {
		if (unlink(m->p_path) == -1 && errno != ENOENT)
			log_warn("unlink %s", m->p_path);
	}
	if (final_runstate != NULL) {
		if (files_write(m, m->runstate_path, final_runstate,
		        strlen(final_runstate)) == -1)
			log_warn("write %s", m->runstate_path);
	} else if (unlink(m->runstate_path) == -1 && errno != ENOENT)
		log_warn("unlink %s", m->runstate_path);
}

/* "stopped", unless the worker already removed its runstate itself. */
void
files_final_runstate(struct mon *m)
{
	/* A worker that stopped in order removed it: leave it so. */
	if (access(m->runstate_path, F_OK) == -1)
		return;
	if (files_write(m, m->runstate_path, "stopped", 7) == -1)
		log_warn("write %s", m->runstate_path);
}

/*
 * The .status, written by the writer thread: the loop does not wait for
 * the disk. With wait, returns once it is on disk (a worker that stays
 * down: whoever hears so finds the exit that ended it there).
 */
void
files_write_status(struct mon *m, int wait)
{
	struct fnwm_status *st = &m->record;
	char buf[FNWM_STATUS_MAX];
	int n;

	st->state = (int)m->state;
	st->pid = (long)m->pid;
	st->adopted = m->adopted;
	st->monitor = (long)getpid();
	st->restarts = m->pst.restarts;
	st->last_exit = m->last_exit;
	st->since_ms = m->since_wall_ms;
	/* A new master learns from it that a stop was under way. */
	st->exiting = m->want_exit && !m->want_start;
	n = fnwm_status_encode(st, buf, sizeof buf);
	if (n < 0) {
		log_warnx("%s: status does not fit", m->status_path);
		return;
	}
	if (writer_submit(m->dirfd, files_base(m->status_path), buf,
	        (size_t)n) == -1 ||
	    (wait && writer_sync() == -1))
		log_warn("write %s", m->status_path);
	else
		m->status_written = 1;
}

/*
 * The history outlives the monitor that wrote it: a replacement (the
 * master's, or one that adopts the worker after a crash) carries it on.
 * Start-up only; we hold the worker's lock, so nobody writes it now.
 */
void
files_read_history(struct mon *m)
{
	struct fnwm_status prev;
	char buf[FNWM_STATUS_MAX + 1];
	ssize_t n;
	int fd;

	fd = open(m->status_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd == -1)
		return;
	n = read(fd, buf, sizeof buf);
	close(fd);
	if (n <= 0 || n > FNWM_STATUS_MAX ||
	    fnwm_status_decode(buf, (size_t)n, &prev) == -1) {
		if (n != 0)
			log_warnx("%s: unreadable; its exit history is lost",
			    m->status_path);
		return;
	}
	memcpy(m->record.totals, prev.totals, sizeof prev.totals);
	memcpy(m->record.hist, prev.hist, sizeof prev.hist);
	m->record.nhist = prev.nhist;
}

/*
 * The directory of the worker's log (O_PATH, its last step not a
 * symlink) and, in *name, the log's name in it; -1 with errno. No path
 * buffer: the monitor's stack stays small.
 */
static int
files_log_dir(struct mon *m, const char **name)
{
	char *slash = strrchr(m->log_path, '/');
	int fd, saved;

	if (slash == NULL || slash[1] == '\0') {
		errno = EINVAL;
		return (-1);
	}
	*name = slash + 1;
	if (slash == m->log_path)
		return (open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
	*slash = '\0';
	fd = open(m->log_path, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	*slash = '/';
	errno = saved;
	return (fd);
}

int
files_log_open(struct mon *m)
{
	const char *name;
	int dfd, fd, saved;

	if ((dfd = files_log_dir(m, &name)) == -1)
		return (-1);
	fd = fnwm_open_beneath(dfd, name, O_WRONLY | O_APPEND | O_CREAT, 0600);
	saved = errno;
	close(dfd);
	errno = saved;
	return (fd);
}

/* Copies src to dst in dfd with a fixed buffer (no heap in the monitor). */
static int
files_copy(int dfd, const char *src, const char *dst)
{
	char buf[8192];
	ssize_t n;
	int in, out, rc = 0;

	in = fnwm_open_beneath(dfd, src, O_RDONLY, 0);
	if (in == -1)
		return (-1);
	/* A symlink at dst is replaced, not written through. */
	(void)unlinkat(dfd, dst, 0);
	out = fnwm_open_beneath(dfd, dst, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (out == -1) {
		close(in);
		return (-1);
	}
	while ((n = read(in, buf, sizeof buf)) > 0)
		if (write(out, buf, (size_t)n) != n) {
			rc = -1;
			break;
		}
	if (n < 0)
		rc = -1;
	close(in);
	close(out);
	return (rc);
}

/*
 * copytruncate: the worker writes the log through its own O_APPEND fd (a
 * pipe through us would die with us), so the file is copied aside and
 * truncated in place; the worker's next write lands at the new end. All
 * of it through the log's directory: no symlink is followed.
 */
static void __attribute__((noinline)) files_log_rotate_now(struct mon *m)
{
	char from[NAME_MAX + 16], to[NAME_MAX + 16];
	const char *name;
	struct stat st;
	uint32_t i;
	int dfd, fd;

	if ((dfd = files_log_dir(m, &name)) == -1)
		return;
	/* Checked again on what is really there: a file, not a link. */
	fd = fnwm_open_beneath(dfd, name, O_WRONLY, 0);
	if (fd == -1 || fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size <= m->log_max)
		goto out;
	for (i = m->log_keep; i > 1; i--) {
		snprintf(from, sizeof from, "%s.%u", name, i - 1);
		snprintf(to, sizeof to, "%s.%u", name, i);
		(void)renameat(dfd, from, dfd, to);
	}
	if (m->log_keep > 0) {
		snprintf(to, sizeof to, "%s.1", name);
		if (files_copy(dfd, name, to) == -1)
			log_warn("copy %s", m->log_path);
	}
	if (ftruncate(fd, 0) == -1)
		log_warn("truncate %s", m->log_path);
	else
		log_info("rotated %s (%lld bytes)", m->log_path,
		    (long long)st.st_size);
out:
	if (fd != -1)
		close(fd);
	close(dfd);
}

/*
 * The size check apart from the rotation: it runs at every start and
 * on every burst of output, and the rotation's path buffers would cost
 * the monitor stack pages it otherwise never touches.
 */
static void
files_log_rotate(struct mon *m)
{
	struct stat st;

	if (m->log_max == 0 || lstat(m->log_path, &st) == -1 ||
	    !S_ISREG(st.st_mode) || (uint64_t)st.st_size <= m->log_max)
		return;
	files_log_rotate_now(m);
}

static void
files_log_event_cb(struct loop *loop, struct loop_io *w, int revents)
{
	struct mon *m = w->data;
	/* Room for one event (a watched file's carry no name): drained. */
	char buf[sizeof(struct inotify_event) + NAME_MAX + 1]
	    __attribute__((aligned(__alignof__(struct inotify_event))));

	while (read(m->logwatch_fd, buf, sizeof buf) > 0)
		;
	files_log_rotate(m);
	/* At most one check per LOG_QUIET_MS: a chatty worker costs no CPU. */
	loop_io_stop(loop, &m->logw);
	loop_timer_start(loop, &m->logquiet, LOG_QUIET_MS);
}

static void
files_log_quiet_cb(struct loop *loop, struct loop_timer *w)
{
	struct mon *m = w->data;

	if (m->logwatch_fd != -1 &&
	    loop_io_start(loop, &m->logw, m->logwatch_fd, LOOP_READ) == -1)
		log_warn("inotify watch");
}

void
files_log_watch(struct mon *m)
{
	if (m->logwatch_fd != -1 || m->log_max == 0)
		return;
	m->logwatch_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (m->logwatch_fd == -1) {
		log_warn("inotify");
		return;
	}
	if (inotify_add_watch(m->logwatch_fd, m->log_path,
	        IN_MODIFY | IN_DONT_FOLLOW) == -1) {
		log_warn("inotify %s", m->log_path);
		close(m->logwatch_fd);
		m->logwatch_fd = -1;
		return;
	}
	loop_io_init(&m->logw, files_log_event_cb, m);
	loop_timer_init(&m->logquiet, files_log_quiet_cb, m);
	if (loop_io_start(m->loop, &m->logw, m->logwatch_fd, LOOP_READ) == -1) {
		log_warn("inotify watch");
		close(m->logwatch_fd);
		m->logwatch_fd = -1;
		return;
	}
	files_log_rotate(m);
}

void
files_log_unwatch(struct mon *m)
{
	if (m->logwatch_fd == -1)
		return;
	loop_io_stop(m->loop, &m->logw);
	loop_timer_stop(m->loop, &m->logquiet);
	close(m->logwatch_fd);
	m->logwatch_fd = -1;
}
