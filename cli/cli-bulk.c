/* SPDX-License-Identifier: MIT */
/*
 * start/stop/restart of every worker (--all) or of those in one state
 * (--state S), one after the other, with a line per worker; CLI_OK only
 * when every one succeeded.
 */
#include <stdio.h>
#include <string.h>

#include "cli-cmd.h"
#include "cli-output.h"

const char *const cli_states[] = { "down", "starting", "running", "stopping",
	"backoff", "failed", "unresponsive", NULL };

/* One worker's line: "name (uuid): started, pid P" or why it failed. */
static void
cli_bulk_line(const char *name, const char *uuid, const char *verb, int ok,
    json_object *final)
{
	json_object *data, *v;

	if (!ok) {
		printf("%s (%s): failed: %s\n", name, uuid,
		    final != NULL && cli_str(final, "message") != NULL
		        ? cli_str(final, "message")
		        : "the operation failed");
		return;
	}
	printf("%s (%s): %s", name, uuid, verb);
	if (final != NULL && json_object_object_get_ex(final, "data", &data) &&
	    json_object_object_get_ex(data, "pid", &v) &&
	    json_object_is_type(v, json_type_int))
		printf(", pid %d", json_object_get_int(v));
	putchar('\n');
}

int
cli_bulk(struct cli *cli, const struct cli_op *op, const char *state)
{
	json_object *d, *list, *e, *final;
	const char *uuid, *name;
	size_t i, n = 0, failed = 0;
	int rc;

	if ((d = cli_details_all(cli, &list)) == NULL)
		return (cli_lost());
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		uuid = cli_str(e, "uuid");
		name = cli_str(e, "name") != NULL ? cli_str(e, "name") : "-";
		if (uuid == NULL ||
		    (state != NULL && strcmp(cli_state(e), state) != 0))
			continue;
		n++;
		final = NULL;
		rc = cli_op_quiet(cli, op->type, uuid, op->wait, &final);
		if (rc == CLI_UNREACHABLE) {
			json_object_put(d);
			return (rc);
		}
		cli_bulk_line(name, uuid, op->done_many, rc == CLI_OK, final);
		if (rc != CLI_OK)
			failed++;
		fflush(stdout);
		json_object_put(final);
	}
	json_object_put(d);
	if (n == 0)
		fprintf(stderr, "fnwm: no worker %s%s\n",
		    state != NULL ? "is " : "",
		    state != NULL ? state : "to act on");
	else if (failed > 0)
		cli_err("%zu of %zu workers failed", failed, n);
	return (failed > 0 ? CLI_FAILED : CLI_OK);
}
