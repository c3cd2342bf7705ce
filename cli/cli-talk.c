/* SPDX-License-Identifier: MIT */
/*
 * The command line's side of the manager's WebSocket protocol: requests,
 * their answers, worker operations followed to their end, and the worker
 * a --name or --uuid names.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonparse.h"
#include "cli-output.h"
#include "cli-talk.h"

/* Every worker's details, without the exit histories a table omits. */
#define CLI_DETAILS_BRIEF "{\"type\":\"worker_details\",\"history\":false}"

json_object *
cli_recv_json(struct cli *cli, int timeout_ms, char **raw)
{
	json_object *o;
	const char *err;
	char *msg;
	size_t len;

	if (wsc_recv(cli->ws, timeout_ms, &msg, &len) == -1)
		return (NULL);
	o = fnwm_json_parse(msg, len, &err);
	if (raw != NULL)
		*raw = msg;
	else
		free(msg);
	if (o == NULL)
		o = json_object_new_object(); /* "pong" and friends */
	return (o);
}

json_object *
cli_request(struct cli *cli, const char *text, const char *reply_type)
{
	json_object *o;

	if (wsc_send(cli->ws, text) == -1)
		return (NULL);
	while ((o = cli_recv_json(cli, 30000, NULL)) != NULL) {
		if (strcmp(cli_type(o), reply_type) == 0 ||
		    strcmp(cli_type(o), "error") == 0)
			return (o);
		json_object_put(o);
	}
	return (NULL);
}

int
cli_send(struct cli *cli, json_object *req)
{
	int rc = wsc_send(cli->ws, fnwm_json_str(req, NULL));

	json_object_put(req);
	return (rc);
}

int
cli_lost(void)
{
	cli_err("lost the connection to the worker manager");
	return (CLI_UNREACHABLE);
}

/* The message that ends an operation of this kind, other than a reset. */
static int
cli_is_final(enum cli_wait what, const char *type)
{
	return ((what == WAIT_SET_WORKER && strcmp(type, "set_worker") == 0) ||
	    (what == WAIT_DELETED && strcmp(type, "worker_deleted") == 0) ||
	    (what == WAIT_CREATED && strcmp(type, "worker_created") == 0));
}

json_object *
cli_follow(struct cli *cli, enum cli_wait what, int *ok)
{
	/*
	 * The reset that ends an operation comes after the operation's own
	 * first message; one before it belongs to somebody else's new_worker.
	 */
	static const char *const opening[] = {
		[WAIT_STOPPED] = "Stopping worker.",
		[WAIT_REPAIRED] = "Repairing worker.",
	};
	const int by_reset = what == WAIT_STOPPED || what == WAIT_REPAIRED;
	json_object *o;
	const char *type, *msg;
	int started = 0;

	*ok = 0;
	while ((o = cli_recv_json(cli, -1, NULL)) != NULL) {
		type = cli_type(o);
		if (strcmp(type, "progress") == 0) {
			msg = cli_str(o, "message");
			cli_progress(cli, o);
			if (by_reset && msg != NULL &&
			    strcmp(msg, opening[what]) == 0)
				started = 1;
			else if (by_reset && started && msg != NULL &&
			    *msg == '\0') {
				*ok = 1;
				return (o);
			}
		} else if (strcmp(type, "error") == 0) {
			cli_bar_clear(cli);
			return (o);
		} else if (cli_is_final(what, type)) {
			cli_bar_clear(cli);
			*ok = 1;
			return (o);
		}
		json_object_put(o);
	}
	cli_bar_clear(cli);
	return (NULL);
}

int
cli_op_quiet(struct cli *cli, const char *type, const char *uuid,
    enum cli_wait what, json_object **final)
{
	json_object *req = json_object_new_object(), *o;
	int ok;

	json_object_object_add(req, "type", json_object_new_string(type));
	json_object_object_add(req, "workerid", json_object_new_string(uuid));
	if (cli_send(cli, req) == -1)
		return (cli_lost());
	o = cli_follow(cli, what, &ok);
	if (o == NULL)
		return (cli_lost());
	*final = o;
	return (ok ? CLI_OK : CLI_FAILED);
}

int
cli_op(struct cli *cli, const char *type, const char *uuid, enum cli_wait what,
    json_object **final)
{
	json_object *o = NULL;
	int rc = cli_op_quiet(cli, type, uuid, what, &o);

	if (rc == CLI_FAILED) {
		cli_err("%s",
		    cli_str(o, "message") != NULL ? cli_str(o, "message")
		                                  : "the operation failed");
		json_object_put(o);
		return (CLI_FAILED);
	}
	if (rc != CLI_OK)
		return (rc);
	if (final != NULL)
		*final = o;
	else
		json_object_put(o);
	return (CLI_OK);
}

json_object *
cli_details_all(struct cli *cli, json_object **workers)
{
	json_object *d = cli_request(cli, CLI_DETAILS_BRIEF, "worker_details");

	if (d == NULL || !json_object_object_get_ex(d, "workers", workers)) {
		json_object_put(d);
		return (NULL);
	}
	return (d);
}

json_object *
cli_details_of(struct cli *cli, const char *uuid, int *rc)
{
	json_object *req = json_object_new_object(), *d, *list;

	json_object_object_add(req, "type",
	    json_object_new_string("worker_details"));
	json_object_object_add(req, "workerid", json_object_new_string(uuid));
	d = cli_request(cli, fnwm_json_str(req, NULL), "worker_details");
	json_object_put(req);
	if (d == NULL) {
		*rc = cli_lost();
		return (NULL);
	}
	if (strcmp(cli_type(d), "error") == 0) {
		cli_err("%s", cli_str(d, "message"));
		json_object_put(d);
		*rc = CLI_FAILED;
		return (NULL);
	}
	if (!json_object_object_get_ex(d, "workers", &list) ||
	    json_object_array_length(list) != 1) {
		json_object_put(d);
		*rc = cli_lost();
		return (NULL);
	}
	list = json_object_get(json_object_array_get_idx(list, 0));
	json_object_put(d);
	return (list);
}

json_object *
cli_workers(struct cli *cli)
{
	json_object *st, *all, *list;
	static const char *lists[] = { "active", "inactive" };
	size_t i, k;

	st = cli_request(cli, "worker_status", "worker_status");
	if (st == NULL || strcmp(cli_type(st), "worker_status") != 0) {
		json_object_put(st);
		return (NULL);
	}
	all = json_object_new_array();
	for (k = 0; k < 2; k++) {
		if (!json_object_object_get_ex(st, lists[k], &list) ||
		    !json_object_is_type(list, json_type_array))
			continue;
		for (i = 0; i < json_object_array_length(list); i++) {
			json_object *e = json_object_array_get_idx(list, i);

			json_object_object_add(e, "active",
			    json_object_new_boolean(k == 0));
			json_object_array_add(all, json_object_get(e));
		}
	}
	json_object_put(st);
	return (all);
}

/* Whether worker entry e has the string member key equal to want. */
static int
cli_has(json_object *e, const char *key, const char *want)
{
	const char *v = cli_str(e, key);

	return (v != NULL && strcmp(v, want) == 0);
}

/* Says why no one worker matched: none, or several of that name. */
static void
cli_no_match(json_object *all, size_t n, const char *uuid, const char *name)
{
	json_object *e;
	size_t i;

	if (n == 0) {
		if (uuid != NULL && name != NULL)
			cli_err("no worker %s named \"%s\"", uuid, name);
		else if (uuid != NULL)
			cli_err("no worker with uuid %s", uuid);
		else
			cli_err("no worker named \"%s\"", name);
		return;
	}
	cli_err("%zu workers are named \"%s\"; pick one with --uuid:", n, name);
	for (i = 0; i < json_object_array_length(all); i++) {
		e = json_object_array_get_idx(all, i);
		if (cli_has(e, "name", name))
			fprintf(stderr, "  %s\n", cli_str(e, "uuid"));
	}
}

json_object *
cli_resolve(struct cli *cli, const char *uuid, const char *name, int *rc)
{
	json_object *all = cli_workers(cli), *hit = NULL, *e;
	size_t i, n = 0;

	if (all == NULL) {
		*rc = cli_lost();
		return (NULL);
	}
	for (i = 0; i < json_object_array_length(all); i++) {
		e = json_object_array_get_idx(all, i);
		if ((uuid != NULL && !cli_has(e, "uuid", uuid)) ||
		    (name != NULL && !cli_has(e, "name", name)))
			continue;
		if (n++ == 0)
			hit = e;
	}
	if (n == 1) {
		hit = json_object_get(hit);
		json_object_put(all);
		return (hit);
	}
	cli_no_match(all, n, uuid, name);
	json_object_put(all);
	*rc = CLI_FAILED;
	return (NULL);
}
