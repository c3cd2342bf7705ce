/* SPDX-License-Identifier: MIT */
/* reaching a worker manager: probing it, starting one, connecting */
#ifndef FNWM_CLI_REACH_H
#define FNWM_CLI_REACH_H

#include "client.h"

/* The address to dial for a configured host: a wildcard is this host. */
const char *cli_dial_host(const char *host);
/* A loopback address or localhost: a manager we may start, our token. */
int cli_is_local(const char *host);
/*
 * One probe on a fresh connection, as FuncNodes clients do: 1 a manager
 * answered, 0 nothing listens, -1 something else listens there, -2 a
 * manager that will not serve us; *why (caller frees) says why not 1.
 */
int cli_probe(struct cli *, char **why);
/*
 * Makes sure a manager answers (starting one on this host when none does
 * and cli->no_start is off), then connects to it as cli->ws. 0, or -1
 * said on stderr.
 */
int cli_connect(struct cli *);
/* Waits until no manager holds the config dir's lock; 0, or -1 at the deadline.
 */
int cli_wait_unlocked(struct cli *, int timeout_ms);

#endif
