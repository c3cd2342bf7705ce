/* SPDX-License-Identifier: MIT */
/*
 * The command line's commands as tables, one row a command, in the style
 * of the hub's ws_cmd_table: reading cli_top (cli.c) and cli_worker_group
 * (cli-worker.c) answers "what can the command line do, what does each
 * command take, and does it need a manager".
 */
#ifndef FNWM_CLI_CMD_H
#define FNWM_CLI_CMD_H

#include <stdio.h>

#include "client.h"
#include "cli-opts.h"
#include "cli-talk.h"

/* What a command needs before it runs. */
enum cli_needs {
	CLI_NEEDS_MANAGER, /* a manager, started here when none answers */
	CLI_NEEDS_RUNNING, /* a manager that runs; none: nothing to do (stop) */
	CLI_NEEDS_CONFIG,  /* the configuration, no manager (url) */
	CLI_NEEDS_NOTHING, /* not even the configuration (help) */
};

/* Which workers a command acts on. */
enum cli_target {
	CLI_TARGET_NONE, /* none, or all it lists (list, new) */
	CLI_TARGET_ONE,  /* the one of --name N | --uuid U */
	CLI_TARGET_SOME, /* that one, or --all | --state STATE, one by one */
};

/* A worker operation: what is sent, what ends it, what is said after. */
struct cli_op {
	const char *type;      /* the message to the manager */
	enum cli_wait wait;    /* its end */
	const char *done;      /* "worker U <done>", or with its address */
	const char *done_many; /* the line each of --all/--state */
};

struct cli_cmd {
	const char *name;
	const char *synopsis; /* its own arguments in the usage, or NULL */
	const char *help;     /* one line; NULL: not listed */
	/* Its handler; NULL: main.c runs it (the server itself). */
	int (*run)(struct cli *, const struct cli_cmd *, struct cli_args *);
	enum cli_needs needs;
	enum cli_target target;
	const struct cli_opt *opts; /* its options, or NULL */
	const char *word;           /* the one word it takes ("modules list") */
	int verbatim;               /* every further word is its own (py) */
	const struct cli_group *group; /* a group of commands (worker ...) */
	const struct cli_op *op;       /* the worker operation it runs */
};

/* Commands under one word (fnwm, fnwm worker) and what they share. */
struct cli_group {
	const char *kind; /* "" or "worker ": "unknown worker command" */
	const struct cli_cmd *cmds; /* ended by a row without a name */
	const struct cli_opt *opts; /* before the command word */
	int help_anywhere;  /* --help after the command word, wherever */
	int usage_on_error; /* its usage follows an error of the words */
	void (*usage)(FILE *);
	/* The rules between options; CLI_OK or CLI_USAGE (said). */
	int (*check)(const struct cli_cmd *, const struct cli_args *);
};

/* cli.c */
extern const struct cli_group cli_top;
/*
 * The usage lines of the listed rows of cmds: "  NAME SYNOPSIS  HELP",
 * help at column; rows in a row with the same help and no synopsis as
 * one "A | B". which: the targets to list, as a bit mask of 1 << target.
 */
void
cli_usage_rows(FILE *, const struct cli_cmd *cmds, int column, unsigned which);

/* cli-manager.c: the manager itself */
int cli_help(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_ping(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_identify(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_stop(struct cli *, const struct cli_cmd *, struct cli_args *);

/* cli-url.c */
/*
 * --url ws[s]://HOST[:PORT][/][?token=T]: host (allocated), port, TLS and
 * token at once, as `fnwm url` prints them. 0, or -1 (said).
 */
int cli_parse_url(struct cli *, const char *url, char **host, int *port);
int cli_url(struct cli *, const struct cli_cmd *, struct cli_args *);

/* cli-worker.c */
extern const struct cli_group cli_worker_group;
extern const struct cli_op cli_op_start;
/* One operation on one worker, followed to its end and said; exit code. */
int cli_run_op(struct cli *, const struct cli_op *, const char *uuid);
int cli_worker_op(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_enable(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_disable(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_modules(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_py(struct cli *, const struct cli_cmd *, struct cli_args *);

/* cli-worker-new.c */
int cli_worker_new(struct cli *, const struct cli_cmd *, struct cli_args *);

/* cli-worker-show.c */
int cli_worker_list(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_status(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_history(struct cli *, const struct cli_cmd *, struct cli_args *);
int cli_worker_logs(struct cli *, const struct cli_cmd *, struct cli_args *);

/* cli-bulk.c */
/* One operation on every worker, or on those in state (NULL: all). */
int cli_bulk(struct cli *, const struct cli_op *, const char *state);
/* The states --state takes, NULL-ended. */
extern const char *const cli_states[];

#endif
