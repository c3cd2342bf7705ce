/* SPDX-License-Identifier: MIT */
/*
 * The command line: every command talks to the running manager over its
 * WebSocket protocol (so it works against a manager on another host),
 * starting one on the local host first when none answers. Exit codes:
 * 0 success, 1 operation failed, 2 usage error, 3 manager unreachable.
 *
 * This file holds the top table of commands, the usage made from the
 * tables, and the dispatch every command goes through: its words read
 * against its row (options, the one word it takes, the group's rules),
 * --help answered, then the configuration, the manager and the worker it
 * needs, then its handler.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"
#include "access.h"
#include "config.h"
#include "cli.h"
#include "cli-cmd.h"
#include "cli-output.h"
#include "cli-reach.h"

/* Not an exit code: the command has nothing left to do (it said so). */
#define CLI_DONE (-1)

static const struct cli_opt cli_help_opts[] = {
	CLI_FLAG("help", 'h', help),
	CLI_OPT_END,
};

static const struct cli_opt cli_stop_opts[] = {
	CLI_FLAG("help", 'h', help),
	CLI_FLAG("keep-workers", 0, keep_workers),
	CLI_OPT_END,
};

static const struct cli_opt cli_url_opts[] = {
	CLI_FLAG("help", 'h', help),
	CLI_FLAG("dashboard", 0, dashboard),
	CLI_OPT_END,
};

static const char cli_ask_help[] = "is a manager there, and which";

/* Reading this table answers "what can the command line do?". */
static const struct cli_cmd cli_top_cmds[] = {
	/* Run by main.c, before the client: listed for the usage. */
	{ .name = "startworkermanager",
	    .help = "run the manager in the foreground (alias: serve)" },
	{ .name = "serve" },
	{ .name = "ping",
	    .help = cli_ask_help,
	    .run = cli_ping,
	    .needs = CLI_NEEDS_MANAGER,
	    .opts = cli_help_opts },
	{ .name = "identify",
	    .help = cli_ask_help,
	    .run = cli_identify,
	    .needs = CLI_NEEDS_MANAGER,
	    .opts = cli_help_opts },
	{ .name = "url",
	    .synopsis = "[--dashboard]",
	    .help = "the URL with the token, for a browser elsewhere",
	    .run = cli_url,
	    .needs = CLI_NEEDS_CONFIG,
	    .opts = cli_url_opts },
	{ .name = "stop",
	    .synopsis = "[--keep-workers]",
	    .help = "stop the manager (and its workers, unless kept)",
	    .run = cli_stop,
	    .needs = CLI_NEEDS_RUNNING,
	    .opts = cli_stop_opts },
	{ .name = "worker",
	    .synopsis = "...",
	    .help = "manage workers; see fnwm worker --help",
	    .group = &cli_worker_group },
	{ .name = "help",
	    .run = cli_help,
	    .needs = CLI_NEEDS_NOTHING,
	    .verbatim = 1 },
	{ .name = NULL },
};

static void cli_usage(FILE *);

const struct cli_group cli_top = {
	.kind = "",
	.cmds = cli_top_cmds,
	.usage = cli_usage,
};

/* Appends " | name" of the rows after e alike but for their name. */
static const struct cli_cmd *
cli_usage_join(const struct cli_cmd *e, unsigned which, char *left, size_t sz)
{
	const struct cli_cmd *n = e + 1;

	while (e->synopsis == NULL && e->word == NULL && n->name != NULL &&
	    n->help != NULL && n->synopsis == NULL && n->word == NULL &&
	    strcmp(n->help, e->help) == 0 && (which & (1u << n->target)) != 0) {
		snprintf(left + strlen(left), sz - strlen(left), " | %s",
		    n->name);
		n++;
	}
	return (n);
}

void
cli_usage_rows(FILE *f, const struct cli_cmd *cmds, int column, unsigned which)
{
	const struct cli_cmd *e, *next;
	const char *syn;
	char left[160];

	for (e = cmds; e->name != NULL; e = next) {
		next = e + 1;
		if (e->help == NULL || (which & (1u << e->target)) == 0)
			continue;
		/* What follows the name: its synopsis, or the word it takes. */
		syn = e->synopsis != NULL ? e->synopsis : e->word;
		snprintf(left, sizeof left, "%s%s%s", e->name,
		    syn != NULL ? " " : "", syn != NULL ? syn : "");
		next = cli_usage_join(e, which, left, sizeof left);
		if ((int)strlen(left) > column)
			fprintf(f, "  %s\n%*s%s\n", left, column + 3, "",
			    e->help);
		else
			fprintf(f, "  %-*s %s\n", column, left, e->help);
	}
}

static void
cli_usage(FILE *f)
{
	fputs("usage: fnwm [--dir DIR] [--host H] [--port P] [--no-start] "
	      "[--debug] COMMAND\n"
	      "\n"
	      "commands:\n",
	    f);
	cli_usage_rows(f, cli_top_cmds, 20, 1u << CLI_TARGET_NONE);
	fputs("\n"
	      "Commands other than startworkermanager start a manager on the "
	      "local host\n"
	      "when none answers, unless --no-start is given.\n"
	      "exit status: 0 success, 1 operation failed, 2 usage error, 3 "
	      "manager\nunreachable\n",
	    f);
}

static const struct cli_cmd *
cli_find(const struct cli_group *g, const char *name)
{
	const struct cli_cmd *e;

	/* Rows main.c runs (the server) are not the client's to run. */
	for (e = g->cmds; e->name != NULL; e++)
		if (strcmp(e->name, name) == 0 &&
		    (e->run != NULL || e->group != NULL))
			return (e);
	return (NULL);
}

/* --help or -h anywhere after the command word. */
static int
cli_asks_help(int argc, char **argv)
{
	int i;

	for (i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0)
			return (1);
	return (0);
}

/* An error in the words (said): the group's usage follows, if it shows one. */
static int
cli_usage_error(const struct cli_group *g)
{
	if (g->usage_on_error)
		g->usage(stderr);
	return (CLI_USAGE);
}

/* The words after command e: its options, then its one word or none. */
static int
cli_parse_cmd(const struct cli_group *g, const struct cli_cmd *e, int argc,
    char **argv, struct cli_args *a)
{
	int n;

	if (e->verbatim) {
		n = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;
		a->rest = argv + n;
		a->nrest = argc - n;
		return (g->check != NULL ? g->check(e, a) : CLI_OK);
	}
	if (g->help_anywhere && cli_asks_help(argc, argv)) {
		a->help = 1;
		return (CLI_OK);
	}
	if ((n = cli_opts_parse(e->opts, argc, argv, a)) == -1)
		return (cli_usage_error(g));
	if (a->help)
		return (CLI_OK);
	if (e->word != NULL &&
	    (argc - n != 1 || strcmp(argv[n], e->word) != 0)) {
		cli_err("the only %s task is \"%s\"", e->name, e->word);
		return (CLI_USAGE);
	}
	if (e->word == NULL && n < argc) {
		cli_err("unexpected argument: %s", argv[n]);
		return (cli_usage_error(g));
	}
	return (g->check != NULL ? g->check(e, a) : CLI_OK);
}

/*
 * Finds command argv[0] of group g (or of the group it opens) and reads
 * its words into a; CLI_OK with *cmdp set, or CLI_USAGE (said).
 */
static int
cli_parse(const struct cli_group *g, int argc, char **argv, struct cli_args *a,
    const struct cli_cmd **cmdp)
{
	const struct cli_cmd *e = cli_find(g, argv[0]);
	int n;

	a->group = g;
	/* --help after a word that is no command still shows the usage. */
	if (e == NULL && g->help_anywhere && cli_asks_help(argc, argv)) {
		a->help = 1;
		return (CLI_OK);
	}
	if (e == NULL) {
		cli_err("unknown %scommand: %s", g->kind, argv[0]);
		g->usage(stderr);
		return (CLI_USAGE);
	}
	*cmdp = e;
	if (e->group == NULL)
		return (cli_parse_cmd(g, e, argc, argv, a));
	g = a->group = e->group;
	n = cli_opts_parse(g->opts, argc, argv, a);
	if (n != -1 && a->help)
		return (CLI_OK);
	if (n == -1 || n >= argc) {
		g->usage(stderr);
		return (CLI_USAGE);
	}
	return (cli_parse(g, argc - n, argv + n, a, cmdp));
}

static void
cli_sigint(int sig)
{
	static const char msg[] = "\nfnwm: interrupted; the manager carries "
	                          "on with the operation\n";

	(void)sig;
	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(130);
}

/*
 * TLS and the token: the local manager's own certificate is trusted as it
 * stands; the local token goes only to the local manager.
 */
static void
cli_setup_trust(struct cli *cli, const struct cli_options *co)
{
	const char *env;
	int local = cli_is_local(cli->host);

	if (co->tls)
		cli->wopts.tls = 1;
	if (local && cli->cfg.tls_cert != NULL)
		cli->wopts.tls = 1;
	cli->wopts.cacert = co->cacert != NULL   ? co->cacert
	    : local && cli->cfg.tls_cert != NULL ? cli->cfg.tls_cert
	                                         : NULL;
	if (cli->token[0] == '\0' && (env = getenv("FNWM_TOKEN")) != NULL)
		snprintf(cli->token, sizeof cli->token, "%s", env);
	if (cli->token[0] == '\0' && local)
		(void)token_read_text(cli->cfg.token_file, cli->token,
		    sizeof cli->token);
	cli->wopts.token = cli->token[0] != '\0' ? cli->token : NULL;
}

/* The configuration and where the manager is; CLI_OK or an exit code. */
static int
cli_setup(struct cli *cli, const struct fnwm_args *ga,
    const struct cli_options *co, char **url_host)
{
	const char *host = co->host;
	char *cause = NULL;
	int port = co->port;

	fnwm_log_init("fnwm", FNWM_LOG_WARN);
	if (co->url != NULL) {
		if (cli_parse_url(cli, co->url, url_host, &port) == -1)
			return (CLI_USAGE);
		host = *url_host;
	}
	if (config_load(&cli->cfg, ga, &cause) == -1) {
		/* No manager can run on this configuration. */
		cli_err("%s", cause);
		free(cause);
		return (CLI_UNREACHABLE);
	}
	if (host != NULL) {
		free(cli->cfg.host);
		cli->cfg.host = xstrdup(host);
	}
	cli->host = cli_dial_host(cli->cfg.host);
	if (strcmp(cli->host, "localhost") == 0)
		cli->host = "127.0.0.1";
	cli->port = port > 0 ? port : cli->cfg.port;
	cli->no_start = co->no_start;
	cli->tty = isatty(STDERR_FILENO);
	cli_setup_trust(cli, co);
	signal(SIGINT, cli_sigint);
	signal(SIGPIPE, SIG_IGN);
	return (CLI_OK);
}

/* The manager and the worker command e needs; CLI_OK, CLI_DONE or a code. */
static int
cli_prepare(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	char *why = NULL;
	int rc = CLI_OK;

	if (e->needs == CLI_NEEDS_CONFIG)
		return (CLI_OK);
	/* Nothing runs: nothing to stop, and no manager started to stop it. */
	if (e->needs == CLI_NEEDS_RUNNING && cli_probe(cli, &why) == 0)
		rc = CLI_DONE;
	free(why);
	if (rc == CLI_DONE) {
		printf("no worker manager runs at ws://%s:%d/\n", cli->host,
		    cli->port);
		return (CLI_DONE);
	}
	if (cli_connect(cli) == -1)
		return (CLI_UNREACHABLE);
	if (e->target == CLI_TARGET_NONE || a->all || a->state != NULL)
		return (CLI_OK);
	a->worker = cli_resolve(cli, a->uuid, a->name, &rc);
	if (a->worker == NULL)
		return (rc);
	a->uuid = cli_str(a->worker, "uuid");
	return (CLI_OK);
}

int
cli_main(const char *cmd, int argc, char **argv, const struct fnwm_args *ga,
    const struct cli_options *co)
{
	const struct cli_cmd *e = NULL;
	struct cli_args a;
	struct cli cli;
	char *url_host = NULL;
	int rc;

	(void)cmd; /* argv[0] */
	memset(&a, 0, sizeof a);
	a.lines = 50;
	if ((rc = cli_parse(&cli_top, argc, argv, &a, &e)) != CLI_OK)
		return (rc);
	if (a.help) {
		a.group->usage(stdout);
		return (CLI_OK);
	}
	if (e->needs == CLI_NEEDS_NOTHING)
		return (e->run(NULL, e, &a));
	memset(&cli, 0, sizeof cli);
	rc = cli_setup(&cli, ga, co, &url_host);
	if (rc == CLI_OK)
		rc = cli_prepare(&cli, e, &a);
	if (rc == CLI_OK)
		rc = e->run(&cli, e, &a);
	if (rc == CLI_DONE)
		rc = CLI_OK;
	if (cli.ws != NULL)
		wsc_close(cli.ws);
	json_object_put(a.worker);
	explicit_bzero(cli.token, sizeof cli.token);
	config_free(&cli.cfg);
	free(url_host);
	return (rc);
}
