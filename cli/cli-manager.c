/* SPDX-License-Identifier: MIT */
/* The commands about the manager itself: help, ping, identify, stop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "cli-cmd.h"
#include "cli-output.h"
#include "cli-reach.h"

#define CLI_REPLY_MS 5000

int
cli_help(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	(void)cli;
	(void)e;
	a->group->usage(stdout);
	return (CLI_OK);
}

/* Sends a plain-text command; its one answer (caller puts), or NULL. */
static json_object *
cli_ask(struct cli *cli, const char *text, char **raw)
{
	if (wsc_send(cli->ws, text) == -1)
		return (NULL);
	return (cli_recv_json(cli, CLI_REPLY_MS, raw));
}

int
cli_ping(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	json_object *o;
	char *raw = NULL;
	uint64_t t0 = fnwm_now_ms();

	(void)e;
	(void)a;
	if ((o = cli_ask(cli, "ping", &raw)) == NULL)
		return (cli_lost());
	json_object_put(o);
	if (strcmp(raw, "pong") != 0) {
		cli_err("unexpected answer to ping");
		free(raw);
		return (CLI_FAILED);
	}
	printf("pong from %s://%s:%d/ in %llu ms\n",
	    cli->wopts.tls ? "wss" : "ws", cli->host, cli->port,
	    (unsigned long long)(fnwm_now_ms() - t0));
	free(raw);
	return (CLI_OK);
}

int
cli_identify(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	json_object *o;

	(void)e;
	(void)a;
	if ((o = cli_ask(cli, "identify", NULL)) == NULL)
		return (cli_lost());
	cli_print_json(o);
	json_object_put(o);
	return (CLI_OK);
}

int
cli_stop(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	json_object *o;

	(void)e;
	if (wsc_send(cli->ws,
	        a->keep_workers ? "{\"type\": \"stop\", \"keep_workers\": "
	                          "true}"
	                        : "stop") == -1)
		return (cli_lost());
	while ((o = cli_recv_json(cli, 120000, NULL)) != NULL)
		json_object_put(o);
	/* Closed is not gone: wait until it let go of the config dir. */
	if (cli_is_local(cli->host) && cli_wait_unlocked(cli, 180000) == -1) {
		cli_err("the worker manager closed the connection but is still "
		        "running");
		return (CLI_FAILED);
	}
	printf("worker manager stopped%s\n",
	    a->keep_workers ? "; the workers keep running" : "");
	return (CLI_OK);
}
