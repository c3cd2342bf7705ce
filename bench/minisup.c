/* SPDX-License-Identifier: MIT */
/*
 * The floor of bench/supervise.py: a supervisor that does nothing but
 * fork, exec and wait. No supervisor restarts a process faster than this
 * one on the same machine.
 */
#include <sys/wait.h>
#include <stdio.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	pid_t pid;

	if (argc < 2) {
		fprintf(stderr, "usage: minisup program [arg ...]\n");
		return (100);
	}
	for (;;) {
		pid = fork();
		if (pid == -1) {
			sleep(1);
			continue;
		}
		if (pid == 0) {
			execv(argv[1], argv + 1);
			_exit(127);
		}
		while (waitpid(pid, NULL, 0) == -1)
			;
	}
}
