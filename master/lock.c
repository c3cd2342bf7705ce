/* SPDX-License-Identifier: MIT */
/*
 * One manager per config dir: an flock on <config dir>/fnwm-manager.lock,
 * held for the life of the master. The file also names the holder's pid
 * so that the refusal can say who holds it.
 */
#include <sys/file.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

#define LOCK_NAME        "fnwm-manager.lock"
#define LOCK_TAKEOVER_MS 2000 /* wait for a dead holder's children */
#define LOCK_RETRY_MS    10

/* The pid the lock file names, or 0. */
static pid_t
lock_file_pid(int fd)
{
	char buf[32];
	long long pid;
	ssize_t n;

	n = pread(fd, buf, sizeof buf - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	if (fnwm_parse_int(buf, 1, INT32_MAX, &pid) == -1)
		return (0);
	return ((pid_t)pid);
}

/*
 * Takes the lock. When the manager that held it is dead (killed, not
 * stopped: a stop empties the file), a child it forked may still hold the
 * lock for the moment between its fork and its exec: wait for that,
 * briefly, rather than refuse to succeed a crashed manager.
 */
static int
lock_take(int fd, pid_t *previous)
{
	unsigned waited = 0;

	for (;;) {
		*previous = lock_file_pid(fd);
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return (0);
		if (errno != EWOULDBLOCK || *previous <= 0 ||
		    waited >= LOCK_TAKEOVER_MS)
			return (-1);
		if (fnwm_proc_alive(*previous, NULL) == 1) {
			errno = EWOULDBLOCK;
			return (-1);
		}
		fnwm_sleep_ms(LOCK_RETRY_MS);
		waited += LOCK_RETRY_MS;
	}
}

int
lock_manager(const char *config_dir, int *fdp, int *takeover, char **cause)
{
	char *path = xasprintf("%s/%s", config_dir, LOCK_NAME);
	char buf[32];
	pid_t previous;
	int fd, len;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*cause = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	if (lock_take(fd, &previous) == -1) {
		int saved = errno;

		if (saved == EWOULDBLOCK && previous > 0)
			*cause = xasprintf("another manager (pid %ld) is "
			                   "already running on %s",
			    (long)previous, config_dir);
		else if (saved == EWOULDBLOCK)
			*cause = xasprintf("another manager is already "
			                   "running on %s",
			    config_dir);
		else
			*cause =
			    xasprintf("lock %s: %s", path, strerror(saved));
		close(fd);
		free(path);
		return (-1);
	}
	/* The file still names a manager: it died without stopping. */
	*takeover = previous > 0;
	len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len)
		log_warn("write %s", path);
	free(path);
	*fdp = fd;
	return (0);
}

void
lock_release(const char *config_dir, int fd)
{
	/*
	 * Truncate rather than unlink: unlinking would let a new manager
	 * lock a fresh inode while a third still waits on the old one.
	 */
	if (fd == -1)
		return;
	(void)!ftruncate(fd, 0);
	close(fd);
	(void)config_dir;
}
