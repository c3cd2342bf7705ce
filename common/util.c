/* SPDX-License-Identifier: MIT */
/* Number parsing, monotonic time, worker-id checks, fd flags, /proc. */
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/types.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

int
fnwm_parse_int(const char *s, long long min, long long max, long long *out)
{
	char *end;
	long long v;

	while (isspace((unsigned char)*s))
		s++;
	if (*s == '\0' ||
	    (!isdigit((unsigned char)*s) && *s != '-' && *s != '+')) {
		errno = EINVAL;
		return (-1);
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (end == s) {
		errno = EINVAL;
		return (-1);
	}
	while (isspace((unsigned char)*end))
		end++;
	if (*end != '\0') {
		errno = EINVAL;
		return (-1);
	}
	if (errno == ERANGE || v < min || v > max) {
		errno = ERANGE;
		return (-1);
	}
	*out = v;
	return (0);
}

uint64_t
fnwm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

uint64_t
fnwm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000);
}

int
fnwm_worker_id_valid(const char *id, size_t len)
{
	size_t i;

	if (len == 0 || len > 128 || id[0] == '.')
		return (0);
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)id[i];

		if (!(isalnum(c) || c == '.' || c == '_' || c == '-') ||
		    c >= 0x80)
			return (0);
	}
	return (1);
}

int
fnwm_set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1)
		return (-1);
	return (0);
}

int
fnwm_set_cloexec(int fd, int on)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl == -1)
		return (-1);
	fl = on ? (fl | FD_CLOEXEC) : (fl & ~FD_CLOEXEC);
	return (fcntl(fd, F_SETFD, fl) == -1 ? -1 : 0);
}

int
fnwm_proc_stat_parse(const char *buf, unsigned long long *start_ticks)
{
	const char *p;
	int field;
	char state;

	/* The command name may hold spaces and ')': skip to the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return (-1);
	state = p[2];
	if (state == 'Z' || state == 'X' || state == 'x')
		return (0);
	if (start_ticks != NULL) {
		/* p + 2 is field 3 (state); field 22 is starttime. */
		p += 2;
		for (field = 3; field < 22 && p != NULL; field++) {
			p = strchr(p, ' ');
			if (p != NULL)
				p++;
		}
		*start_ticks = p != NULL ? strtoull(p, NULL, 10) : 0;
	}
	return (1);
}

int
fnwm_proc_alive(pid_t pid, unsigned long long *start_ticks)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	if (pid <= 0)
		return (0);
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1) {
		if (errno == ENOENT || errno == ESRCH)
			return (0);
		return (kill(pid, 0) == 0 || errno == EPERM ? 1 : 0);
	}
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return (0);
	buf[n] = '\0';
	return (fnwm_proc_stat_parse(buf, start_ticks));
}

long long
fnwm_boot_time(void)
{
	char buf[256];
	long long bt = 0;
	FILE *f = fopen("/proc/stat", "re");

	if (f == NULL)
		return (0);
	while (fgets(buf, sizeof buf, f) != NULL) {
		if (strncmp(buf, "btime ", 6) == 0) {
			bt = strtoll(buf + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return (bt);
}

void
fnwm_signals_taken(sigset_t *set)
{
	struct sigaction old;
	int sig;

	sigemptyset(set);
	for (sig = 1; sig < NSIG; sig++)
		if (sigaction(sig, NULL, &old) == 0 &&
		    old.sa_handler != SIG_DFL)
			sigaddset(set, sig);
}

void
fnwm_child_reset_taken(const sigset_t *set)
{
	struct sigaction sa;
	sigset_t none;
	int sig;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sigismember(set, sig) == 1)
			(void)sigaction(sig, &sa, NULL);
	sigemptyset(&none);
	(void)sigprocmask(SIG_SETMASK, &none, NULL);
}

void
fnwm_child_reset_signals(void)
{
	sigset_t all;

	sigfillset(&all);
	fnwm_child_reset_taken(&all);
}

/*
 * In a child between fork and exec: closes every fd from lowfd up. The
 * master's listening socket and lock are close-on-exec, but until the exec
 * the child holds them; if the master dies in that moment, a new master
 * would find its port and lock still taken. Closing them first shrinks
 * that window to the child's first instructions.
 */
void
fnwm_child_close_from(int lowfd)
{
	long maxfd;
	int fd;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0U, 0U) == 0)
		return;
#endif
	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	for (fd = lowfd; fd < maxfd; fd++)
		(void)close(fd);
}

/* Sleeps ms milliseconds, resuming after signals. */
void
fnwm_sleep_ms(unsigned ms)
{
	struct timespec ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

int
fnwm_child_stdin_null(void)
{
	int fd = open("/dev/null", O_RDONLY);

	if (fd == -1)
		return (-1);
	if (fd != 0) {
		dup2(fd, 0);
		close(fd);
	}
	return (0);
}

/*
 * " 1234 08:01:5678" of a /proc/locks line: pid, device (hex major and
 * minor), inode. By hand: sscanf would link the whole of scanf and
 * strtod into the static monitor.
 */
static int
flock_line_fields(const char *s, long *pid, unsigned *maj, unsigned *min,
    unsigned long long *ino)
{
	char *end;

	errno = 0;
	*pid = strtol(s, &end, 10);
	if (end == s || *end != ' ')
		return (-1);
	s = end + 1;
	*maj = (unsigned)strtoul(s, &end, 16);
	if (end == s || *end != ':')
		return (-1);
	s = end + 1;
	*min = (unsigned)strtoul(s, &end, 16);
	if (end == s || *end != ':')
		return (-1);
	s = end + 1;
	*ino = strtoull(s, &end, 10);
	if (end == s || errno != 0)
		return (-1);
	return (0);
}

pid_t
fnwm_locks_line_holder(const char *line, dev_t dev, ino_t ino)
{
	const char *w = strstr(line, "WRITE");
	unsigned maj, min;
	unsigned long long lino;
	long pid;

	/* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF";
	 * "->" marks a waiter, not a holder. */
	if (strstr(line, "FLOCK") == NULL || w == NULL ||
	    strstr(line, "->") != NULL ||
	    flock_line_fields(w + 5, &pid, &maj, &min, &lino) == -1 ||
	    lino != (unsigned long long)ino || makedev(maj, min) != dev ||
	    pid <= 0 || pid > INT32_MAX)
		return (0);
	return ((pid_t)pid);
}

pid_t
fnwm_flock_holder(const char *path)
{
	char buf[8192], *line, *nl;
	struct stat st;
	pid_t pid;
	size_t have = 0;
	ssize_t n;
	int fd;
	pid_t found = 0;

	if (stat(path, &st) == -1)
		return (0);
	fd = open("/proc/locks", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return (0);
	for (;;) {
		n = read(fd, buf + have, sizeof buf - 1 - have);
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n')) != NULL) {
			*nl = '\0';
			if ((pid = fnwm_locks_line_holder(line, st.st_dev,
			         st.st_ino)) > 0)
				found = pid;
			line = nl + 1;
		}
		have = strlen(line);
		memmove(buf, line, have);
	}
	close(fd);
	return (found);
}
