/* SPDX-License-Identifier: MIT */
/*
 * The cost of one peer-uid lookup (master/peer.c) by itself: a loopback
 * connection to ourselves, then N calls of peer_identify() on its server
 * end, timed one by one. Built and run by bench/handshake.py:
 *
 *   cc -O2 -Imaster -Icommon $(pkg-config --cflags libwebsockets json-c) \
 *       bench/peerlookup.c master/peer.c common/log.c -o /tmp/peerlookup
 *   /tmp/peerlookup 20000
 *
 * Prints "median_ns p90_ns uid".
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "master.h"

static int
cmp_long(const void *a, const void *b)
{
	long x = *(const long *)a, y = *(const long *)b;

	return ((x > y) - (x < y));
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof sin;
	struct timespec t0, t1;
	int n = argc > 1 ? atoi(argv[1]) : 20000, i, lfd, cfd, sfd;
	long *ns;
	uid_t uid = (uid_t)-1;

	fnwm_log_init("peerlookup", FNWM_LOG_WARN);
	if (n <= 0 || (ns = calloc((size_t)n, sizeof *ns)) == NULL)
		return (2);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	cfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd == -1 || cfd == -1 ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    listen(lfd, 1) == -1 ||
	    getsockname(lfd, (struct sockaddr *)&sin, &len) == -1 ||
	    connect(cfd, (struct sockaddr *)&sin, sizeof sin) == -1 ||
	    (sfd = accept(lfd, NULL, NULL)) == -1) {
		perror("loopback connection");
		return (1);
	}
	for (i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &t0);
		if (peer_identify(sfd, &uid) != PEER_LOCAL_UID) {
			fprintf(stderr, "lookup %d failed\n", i);
			return (1);
		}
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ns[i] = (t1.tv_sec - t0.tv_sec) * 1000000000L +
		    (t1.tv_nsec - t0.tv_nsec);
	}
	qsort(ns, (size_t)n, sizeof *ns, cmp_long);
	printf("%ld %ld %u\n", ns[n / 2], ns[n * 9 / 10], (unsigned)uid);
	peer_close();
	free(ns);
	close(sfd);
	close(cfd);
	close(lfd);
	return (0);
}
