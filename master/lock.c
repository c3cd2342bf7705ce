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

#define LOCK_NAME "fnwm-manager.lock"

int
lock_manager(const char *config_dir, int *fdp, char **cause)
{
	char *path = xasprintf("%s/%s", config_dir, LOCK_NAME);
	char buf[32];
	ssize_t n;
	long long holder;
	int fd, len;

	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd == -1) {
		*cause = xasprintf("open %s: %s", path, strerror(errno));
		free(path);
		return (-1);
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		int saved = errno;

		n = pread(fd, buf, sizeof buf - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		if (saved == EWOULDBLOCK &&
		    fnwm_parse_int(buf, 1, INT32_MAX, &holder) == 0)
			*cause = xasprintf("another manager (pid %lld) is "
			                   "already running on %s",
			    holder, config_dir);
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
	len = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) == -1 || pwrite(fd, buf, (size_t)len, 0) != len)
		log_warn("write %s", path);
	free(path);
	*fdp = fd;
	return (0);
}

void
unlock_manager(const char *config_dir, int fd)
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
