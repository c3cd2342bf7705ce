/* SPDX-License-Identifier: MIT */
/*
 * The tiny worker of bench/supervise.py: appends "pid monotonic-ns" to
 * $STAMP_FILE as its very first act, then sleeps until killed. Every
 * supervisor in the side-by-side run starts this same program, so the
 * stamp is the moment the new process really runs.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

int
main(void)
{
	struct timespec ts;
	const char *path;
	char line[64];
	int fd, n;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	path = getenv("STAMP_FILE");
	if (path == NULL)
		return (2);
	n = snprintf(line, sizeof line, "%ld %lld\n", (long)getpid(),
	    (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec);
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1 || write(fd, line, (size_t)n) != n)
		return (2);
	close(fd);
	for (;;)
		pause();
}
