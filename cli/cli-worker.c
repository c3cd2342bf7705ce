/* SPDX-License-Identifier: MIT */
/*
 * fnwm worker ...: the table of the worker commands, their usage made
 * from it, the rules between their options, and the commands that act on
 * one worker by an operation (start, stop, restart, delete, repair), its
 * autostart mark (enable, disable) or its interpreter (modules, py).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"
#include "jsonparse.h"
#include "launch.h"
#include "cli-cmd.h"
#include "cli-output.h"

static const struct cli_opt cli_worker_opts[] = {
	CLI_STR("name", 0, name),
	CLI_STR("uuid", 0, uuid),
	CLI_FLAG("all", 0, all),
	CLI_STR("state", 0, state),
	CLI_FLAG("help", 'h', help),
	CLI_OPT_END,
};

static const struct cli_opt cli_new_opts[] = {
	CLI_STR("name", 0, name),
	CLI_STR("uuid", 0, uuid),
	CLI_FLAG("not-in-venv", 0, not_in_venv),
	CLI_STR("workertype", 0, workertype),
	CLI_STR("reference", 0, reference),
	CLI_FLAG("copy-lib", 0, copy_lib),
	CLI_FLAG("copy-ns", 0, copy_ns),
	CLI_FLAG("start", 0, start),
	CLI_OPT_END,
};

static const struct cli_opt cli_list_opts[] = {
	CLI_FLAG("full", 0, full),
	CLI_FLAG("json", 0, json),
	CLI_OPT_END,
};

/* start|stop|restart take --all and --state after the verb too. */
static const struct cli_opt cli_some_opts[] = {
	CLI_FLAG("all", 0, all),
	CLI_STR("state", 0, state),
	CLI_OPT_END,
};

static const struct cli_opt cli_logs_opts[] = {
	CLI_FLAG("follow", 'f', follow),
	CLI_INT("lines", 'n', lines, 0, 100000),
	CLI_OPT_END,
};

/* The worker operations: sent, waited for, and said, of one or of many. */
const struct cli_op cli_op_start = { .type = "set_active",
	.wait = WAIT_SET_WORKER,
	.done = "running",
	.done_many = "started" };
static const struct cli_op cli_op_restart = { .type = "restart_worker",
	.wait = WAIT_SET_WORKER,
	.done = "restarted",
	.done_many = "restarted" };
static const struct cli_op cli_op_stop = { .type = "stop_worker",
	.wait = WAIT_STOPPED,
	.done = "stopped",
	.done_many = "stopped" };
static const struct cli_op cli_op_delete = { .type = "delete_worker",
	.wait = WAIT_DELETED,
	.done = "deleted" };
static const struct cli_op cli_op_repair = { .type = "repair_worker",
	.wait = WAIT_REPAIRED,
	.done = "repaired" };

/* Reading this table answers "what can fnwm worker do?". */
static const struct cli_cmd cli_worker_cmds[] = {
	{ .name = "list",
	    .synopsis = "[--full] [--json]",
	    .run = cli_worker_list,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_NONE,
	    .opts = cli_list_opts },
	{ .name = "new",
	    .synopsis = "[--name N] [--uuid U] [--not-in-venv]\n"
	                "[--workertype T] [--reference R [--copy-lib] "
	                "[--copy-ns]]\n"
	                "[--start]",
	    .run = cli_worker_new,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_NONE,
	    .opts = cli_new_opts },
	{ .name = "start",
	    .help = "start it (if needed) and wait until it answers",
	    .run = cli_worker_op,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_SOME,
	    .opts = cli_some_opts,
	    .op = &cli_op_start },
	{ .name = "stop",
	    .help = "stop it (its stop command, then TERM, then KILL)",
	    .run = cli_worker_op,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_SOME,
	    .opts = cli_some_opts,
	    .op = &cli_op_stop },
	{ .name = "restart",
	    .help = "stop it and start a new process",
	    .run = cli_worker_op,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_SOME,
	    .opts = cli_some_opts,
	    .op = &cli_op_restart },
	{ .name = "delete",
	    .help = "stop it and remove its files and data dir",
	    .run = cli_worker_op,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE,
	    .op = &cli_op_delete },
	{ .name = "status",
	    .help = "its state, pid, uptime, restarts, last exit",
	    .run = cli_worker_status,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE },
	{ .name = "history",
	    .help = "its last 20 exits: when, how, how long it ran, why",
	    .run = cli_worker_history,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE },
	{ .name = "logs",
	    .synopsis = "[-f] [-n N]",
	    .help = "its last N lines of output (default 50); -f follows",
	    .run = cli_worker_logs,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE,
	    .opts = cli_logs_opts },
	{ .name = "repair",
	    .help = "recreate its virtual environment",
	    .run = cli_worker_op,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE,
	    .op = &cli_op_repair },
	{ .name = "enable",
	    .help = "start it whenever the worker manager starts",
	    .run = cli_worker_enable,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE },
	{ .name = "disable",
	    .help = "do not start it with the worker manager",
	    .run = cli_worker_disable,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE },
	{ .name = "modules",
	    .help = "list the FuncNodes modules in its environment",
	    .run = cli_worker_modules,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE,
	    .word = "list" },
	{ .name = "py",
	    .synopsis = "-- ARGS",
	    .help = "run its Python interpreter with ARGS",
	    .run = cli_worker_py,
	    .needs = CLI_NEEDS_MANAGER,
	    .target = CLI_TARGET_ONE,
	    .verbatim = 1 },
	{ .name = NULL },
};

static void cli_worker_usage(FILE *);
static int cli_worker_check(const struct cli_cmd *, const struct cli_args *);

const struct cli_group cli_worker_group = {
	.kind = "worker ",
	.cmds = cli_worker_cmds,
	.opts = cli_worker_opts,
	.help_anywhere = 1,
	.usage_on_error = 1,
	.usage = cli_worker_usage,
	.check = cli_worker_check,
};

/* The names of the commands that take --all/--state: "a, b and c". */
static void
cli_some_names(char *buf, size_t sz, const char *sep, const char *last)
{
	const struct cli_cmd *e, *some[8];
	size_t i, n = 0;

	for (e = cli_worker_cmds; e->name != NULL && n < 8; e++)
		if (e->target == CLI_TARGET_SOME)
			some[n++] = e;
	buf[0] = '\0';
	for (i = 0; i < n; i++)
		snprintf(buf + strlen(buf), sz - strlen(buf), "%s%s",
		    i == 0           ? ""
		        : i + 1 == n ? last
		                     : sep,
		    some[i]->name);
}

/* A synopsis of several lines, each after the first under the first. */
static void
cli_synopsis(FILE *f, const char *lead, const char *name, const char *syn)
{
	int indent = (int)(strlen(lead) + 1 + strlen(name) + 1);
	size_t len;

	fprintf(f, "%s %s", lead, name);
	while (syn != NULL && *syn != '\0') {
		len = strcspn(syn, "\n");
		fprintf(f, " %.*s", (int)len, syn);
		syn += len;
		if (*syn == '\n' && *++syn != '\0')
			fprintf(f, "\n%*s", indent - 1, "");
	}
	fputc('\n', f);
}

static void
cli_worker_usage(FILE *f)
{
	const struct cli_cmd *e;
	const char *lead = "usage: fnwm worker";
	char some[64];

	for (e = cli_worker_cmds; e->name != NULL; e++) {
		if (e->target != CLI_TARGET_NONE)
			continue;
		cli_synopsis(f, lead, e->name, e->synopsis);
		lead = "       fnwm worker";
	}
	fprintf(f, "%s (--name N | --uuid U) COMMAND\n", lead);
	cli_some_names(some, sizeof some, "|", "|");
	fprintf(f, "       fnwm worker %s (--all | --state STATE)\n", some);
	fputs("\ncommands for one worker:\n", f);
	cli_usage_rows(f, cli_worker_cmds, 16,
	    1u << CLI_TARGET_ONE | 1u << CLI_TARGET_SOME);
	fputs("\n"
	      "--all acts on every worker, --state STATE on those in that "
	      "state (down,\n"
	      "starting, running, stopping, backoff, failed, unresponsive), "
	      "one "
	      "after\n"
	      "the other with a line each; the exit status is 0 only when all "
	      "succeeded.\n",
	    f);
}

/* --all or --state S instead of one worker, with the verbs that allow it. */
static int
cli_check_some(const struct cli_cmd *e, const struct cli_args *a)
{
	char buf[128];
	size_t i;

	if (e->target != CLI_TARGET_SOME) {
		cli_some_names(buf, sizeof buf, ", ", " and ");
		cli_err("--all and --state go with %s", buf);
		return (CLI_USAGE);
	}
	if (a->uuid != NULL || a->name != NULL ||
	    (a->all && a->state != NULL)) {
		cli_err("one of --all, --state S, --name N, --uuid U");
		return (CLI_USAGE);
	}
	if (a->state == NULL)
		return (CLI_OK);
	buf[0] = '\0';
	for (i = 0; cli_states[i] != NULL; i++) {
		if (strcmp(a->state, cli_states[i]) == 0)
			return (CLI_OK);
		snprintf(buf + strlen(buf), sizeof buf - strlen(buf), "%s%s",
		    i > 0 ? ", " : "", cli_states[i]);
	}
	cli_err("unknown state \"%s\" (%s)", a->state, buf);
	return (CLI_USAGE);
}

static int
cli_worker_check(const struct cli_cmd *e, const struct cli_args *a)
{
	if (a->all || a->state != NULL)
		return (cli_check_some(e, a));
	if (e->target != CLI_TARGET_NONE && a->uuid == NULL &&
	    a->name == NULL) {
		cli_err("uuid or name is required (--uuid U or --name N)");
		return (CLI_USAGE);
	}
	if ((a->copy_lib || a->copy_ns) && a->reference == NULL) {
		cli_err("--copy-lib and --copy-ns need --reference");
		return (CLI_USAGE);
	}
	return (CLI_OK);
}

int
cli_run_op(struct cli *cli, const struct cli_op *op, const char *uuid)
{
	json_object *sw = NULL;
	int rc = cli_op(cli, op->type, uuid, op->wait, &sw);

	if (rc != CLI_OK)
		return (rc);
	if (op->wait == WAIT_SET_WORKER)
		cli_started(sw, op->done);
	else
		printf("worker %s %s\n", uuid, op->done);
	json_object_put(sw);
	return (CLI_OK);
}

int
cli_worker_op(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	/* No worker resolved: --all or --state, one after the other. */
	if (a->worker == NULL)
		return (cli_bulk(cli, e->op, a->state));
	return (cli_run_op(cli, e->op, a->uuid));
}

/* `enable` / `disable`: whether it starts with the manager. */
static int
cli_worker_autostart(struct cli *cli, struct cli_args *a, int on)
{
	json_object *req = json_object_new_object(), *o;
	const char *name = cli_str(a->worker, "name");
	int rc = CLI_OK;

	json_object_object_add(req, "type",
	    json_object_new_string("set_autostart"));
	json_object_object_add(req, "workerid",
	    json_object_new_string(a->uuid));
	json_object_object_add(req, "autostart", json_object_new_boolean(on));
	o = cli_request(cli, fnwm_json_str(req, NULL), "autostart");
	json_object_put(req);
	if (o == NULL)
		return (cli_lost());
	if (strcmp(cli_type(o), "error") == 0) {
		cli_err("%s", cli_str(o, "message"));
		rc = CLI_FAILED;
	} else
		printf("worker %s (%s) %s: it %s with the worker manager\n",
		    name != NULL ? name : "?", a->uuid,
		    on ? "enabled" : "disabled",
		    on ? "starts" : "no longer starts");
	json_object_put(o);
	return (rc);
}

int
cli_worker_enable(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	(void)e;
	return (cli_worker_autostart(cli, a, 1));
}

int
cli_worker_disable(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	(void)e;
	return (cli_worker_autostart(cli, a, 0));
}

/* The worker's interpreter, run here in place of the command line. */
static int
cli_exec_python(struct cli *cli, json_object *w, char **args, int nargs)
{
	char *py = launch_python(&cli->cfg, w);
	char **argv = xcalloc((size_t)nargs + 2, sizeof *argv);
	int i;

	/* Nothing more to ask the manager. */
	wsc_close(cli->ws);
	cli->ws = NULL;
	argv[0] = py;
	for (i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	fflush(stdout);
	execvp(py, argv);
	cli_err("cannot run %s: %s", py, strerror(errno));
	free(argv);
	free(py);
	return (CLI_FAILED);
}

int
cli_worker_modules(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	char *args[] = { (char *)(uintptr_t) "-m",
		(char *)(uintptr_t) "funcnodes", (char *)(uintptr_t) "modules",
		(char *)(uintptr_t) "list" };

	(void)e;
	return (cli_exec_python(cli, a->worker, args, 4));
}

int
cli_worker_py(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	(void)e;
	return (cli_exec_python(cli, a->worker, a->rest, a->nrest));
}
