/* SPDX-License-Identifier: MIT */
/* the command line client */
#ifndef FNWM_CLI_CLI_H
#define FNWM_CLI_CLI_H

#include "config.h"

/* cli.c */
/* The global options that say where and how to reach the manager. */
struct cli_options {
	const char *host; /* NULL: the configured one */
	int port;         /* 0: the configured one */
	int no_start;
	int tls;            /* --tls */
	const char *cacert; /* --cacert */
	const char *url;    /* --url ws[s]://HOST:PORT/[?token=T] */
};
/*
 * Runs a client command (ping, identify, stop, worker ...): cmd is argv[0],
 * the words after the global options. Returns the exit code.
 */
int cli_main(const char *cmd, int argc, char **argv, const struct fnwm_args *,
    const struct cli_options *);

#endif
