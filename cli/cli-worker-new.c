/* SPDX-License-Identifier: MIT */
/*
 * fnwm worker new: creates a worker like `funcnodes worker new` (in its
 * own virtual environment unless told otherwise), prints its uuid, and
 * with --start starts it.
 */
#include <stdio.h>

#include "cli-cmd.h"
#include "cli-output.h"

static void
cli_kw_str(json_object *kw, const char *key, const char *value)
{
	if (value != NULL)
		json_object_object_add(kw, key, json_object_new_string(value));
}

/* The new_worker request for the options in a. */
static json_object *
cli_new_request(const struct cli_args *a)
{
	json_object *req = json_object_new_object(),
	            *kw = json_object_new_object();

	cli_kw_str(kw, "name", a->name);
	cli_kw_str(kw, "uuid", a->uuid);
	cli_kw_str(kw, "workertype", a->workertype);
	/* Like `funcnodes worker new`: in a venv unless told otherwise. */
	json_object_object_add(kw, "in_venv",
	    json_object_new_boolean(!a->not_in_venv));
	if (a->reference != NULL) {
		cli_kw_str(kw, "reference", a->reference);
		json_object_object_add(kw, "copyLib",
		    json_object_new_boolean(a->copy_lib));
		json_object_object_add(kw, "copyNS",
		    json_object_new_boolean(a->copy_ns));
	}
	json_object_object_add(req, "type",
	    json_object_new_string("new_worker"));
	json_object_object_add(req, "kwargs", kw);
	return (req);
}

int
cli_worker_new(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	json_object *o;
	int ok, rc = CLI_OK;

	(void)e;
	if (cli_send(cli, cli_new_request(a)) == -1)
		return (cli_lost());
	o = cli_follow(cli, WAIT_CREATED, &ok);
	if (o == NULL)
		return (cli_lost());
	if (!ok) {
		cli_err("%s", cli_str(o, "message"));
		json_object_put(o);
		return (CLI_FAILED);
	}
	printf("%s\n", cli_str(o, "uuid"));
	fflush(stdout);
	if (a->start)
		rc = cli_run_op(cli, &cli_op_start, cli_str(o, "uuid"));
	json_object_put(o);
	return (rc);
}
