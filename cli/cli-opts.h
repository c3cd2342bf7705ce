/* SPDX-License-Identifier: MIT */
/* the command line's options: one table a command, one parser */
#ifndef FNWM_CLI_OPTS_H
#define FNWM_CLI_OPTS_H

#include <stddef.h>

#include <json-c/json.h>

/* What the command line asked for, and the worker it names. */
struct cli_args {
	const struct cli_group *group; /* where the command was found */
	int help;                      /* --help: the group's usage */
	/* worker selection */
	const char *name, *uuid, *state;
	int all;
	/* worker new */
	const char *workertype, *reference;
	int not_in_venv, copy_lib, copy_ns, start;
	/* worker list, worker logs, stop */
	int full, json, follow, lines, keep_workers;
	/* url: the dashboard's page instead of the WebSocket */
	int dashboard;
	/* py: its own arguments */
	char **rest;
	int nrest;
	/* the worker of --name/--uuid, once resolved (put at the end) */
	json_object *worker;
};

enum cli_opt_kind {
	CLI_OPT_FLAG, /* sets an int to 1 */
	CLI_OPT_STR,  /* a const char * */
	CLI_OPT_INT,  /* an int within min..max */
};

/* One option: --name, maybe -c, and where in cli_args it goes. */
struct cli_opt {
	const char *name;
	int abbr; /* the one-letter form; 0: none */
	enum cli_opt_kind kind;
	size_t off; /* offsetof(struct cli_args, ...) */
	long long min, max;
};

#define CLI_FLAG(n, c, f)                                              \
	{                                                              \
		n, c, CLI_OPT_FLAG, offsetof(struct cli_args, f), 0, 0 \
	}
#define CLI_STR(n, c, f)                                              \
	{                                                             \
		n, c, CLI_OPT_STR, offsetof(struct cli_args, f), 0, 0 \
	}
#define CLI_INT(n, c, f, lo, hi)                                        \
	{                                                               \
		n, c, CLI_OPT_INT, offsetof(struct cli_args, f), lo, hi \
	}
#define CLI_OPT_END                            \
	{                                      \
		NULL, 0, CLI_OPT_FLAG, 0, 0, 0 \
	}

/*
 * Reads the options of opts (ended by CLI_OPT_END; NULL: none) from
 * argv[1..] into a, up to the first word that is not one. The index of
 * that word, or -1 when an option is unknown, lacks its value or has a
 * bad one (said on stderr).
 */
int cli_opts_parse(const struct cli_opt *opts, int argc, char **argv,
    struct cli_args *a);

#endif
