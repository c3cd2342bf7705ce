/* SPDX-License-Identifier: MIT */
/*
 * What fnwm worker shows of workers: the table of all (list), one
 * worker's status, its exit history and its output (logs).
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "cli-cmd.h"
#include "cli-output.h"

/* A worker's member as text: its int, or "-". */
static void
cli_int_text(json_object *e, const char *key, char *buf, size_t sz)
{
	json_object *v;

	snprintf(buf, sz, "-");
	if (json_object_object_get_ex(e, key, &v) &&
	    json_object_is_type(v, json_type_int))
		snprintf(buf, sz, "%d", json_object_get_int(v));
}

/* How long it runs, from its "started" time, or "-". */
static void
cli_uptime(json_object *e, char *buf, size_t sz)
{
	json_object *v;

	snprintf(buf, sz, "-");
	if (json_object_object_get_ex(e, "started", &v) &&
	    json_object_is_type(v, json_type_double))
		cli_duration(buf, sz,
		    (double)time(NULL) - json_object_get_double(v));
}

static int
cli_restarts(json_object *e)
{
	json_object *v;

	return (json_object_object_get_ex(e, "restarts", &v)
	        ? json_object_get_int(v)
	        : 0);
}

static const char *
cli_autostart(json_object *e)
{
	json_object *v;

	return (json_object_object_get_ex(e, "autostart", &v) &&
	            json_object_get_boolean(v)
	        ? "on"
	        : "off");
}

/* The workers as a table; uuids are not cut: the other commands take them. */
static void
cli_list_table(json_object *list)
{
	json_object *e;
	char up[32], le[32], pid[16], port[16];
	const char *u;
	size_t i;
	int uw = 32;

	for (i = 0; i < json_object_array_length(list); i++) {
		u = cli_str(json_object_array_get_idx(list, i), "uuid");
		if (u != NULL && (int)strlen(u) > uw)
			uw = (int)strlen(u);
	}
	printf("%-20s %-*s %-12s %7s %6s %9s %8s %-4s %s\n", "NAME", uw, "UUID",
	    "STATE", "PID", "PORT", "UPTIME", "RESTARTS", "AUTO", "LAST EXIT");
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		cli_int_text(e, "pid", pid, sizeof pid);
		cli_int_text(e, "port", port, sizeof port);
		cli_uptime(e, up, sizeof up);
		cli_last_exit(e, le, sizeof le);
		printf("%-20.20s %-*s %-12s %7s %6s %9s %8d %-4s %s\n",
		    cli_str(e, "name") != NULL ? cli_str(e, "name") : "-", uw,
		    cli_str(e, "uuid"), cli_state(e), pid, port, up,
		    cli_restarts(e), cli_autostart(e), le);
	}
}

int
cli_worker_list(struct cli *cli, const struct cli_cmd *e, struct cli_args *a)
{
	json_object *d, *list, *w;
	size_t i;

	(void)e;
	if (a->full) {
		if ((list = cli_workers(cli)) == NULL)
			return (cli_lost());
		cli_print_json(list);
		json_object_put(list);
		return (CLI_OK);
	}
	if ((d = cli_details_all(cli, &list)) == NULL)
		return (cli_lost());
	if (a->json) {
		/* The table as JSON: the same states. */
		for (i = 0; i < json_object_array_length(list); i++) {
			w = json_object_array_get_idx(list, i);
			json_object_object_add(w, "state",
			    json_object_new_string(cli_state(w)));
		}
		cli_print_json(list);
	} else
		cli_list_table(list);
	json_object_put(d);
	return (CLI_OK);
}

static void
cli_status_print(json_object *e, const char *uuid)
{
	json_object *v;
	char le[32], up[32];

	cli_last_exit(e, le, sizeof le);
	cli_uptime(e, up, sizeof up);
	printf("name:      %s\nuuid:      %s\nstate:     %s\n",
	    cli_str(e, "name") != NULL ? cli_str(e, "name") : "-", uuid,
	    cli_state(e));
	printf("pid:       %s\n",
	    json_object_object_get_ex(e, "pid", &v) && v != NULL
	        ? json_object_get_string(v)
	        : "-");
	printf("address:   ws://%s:%s/\n",
	    cli_str(e, "host") != NULL ? cli_str(e, "host") : "?",
	    json_object_object_get_ex(e, "port", &v) ? json_object_get_string(v)
	                                             : "?");
	printf("uptime:    %s\nrestarts:  %d\nlast exit: %s\n", up,
	    cli_restarts(e), le);
	printf("autostart: %s\n", cli_autostart(e));
	if (cli_str(e, "env_path") != NULL)
		printf("venv:      %s\n", cli_str(e, "env_path"));
}

int
cli_worker_status(struct cli *cli, const struct cli_cmd *c, struct cli_args *a)
{
	json_object *d, *list, *e;
	size_t i;

	(void)c;
	if ((d = cli_details_all(cli, &list)) == NULL)
		return (cli_lost());
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (cli_str(e, "uuid") == NULL ||
		    strcmp(cli_str(e, "uuid"), a->uuid) != 0)
			continue;
		cli_status_print(e, a->uuid);
		json_object_put(d);
		return (CLI_OK);
	}
	json_object_put(d);
	cli_err("no worker with uuid %s", a->uuid);
	return (CLI_FAILED);
}

/* One exit of the history: when, how, how long it ran, why. */
static void
cli_history_row(json_object *r)
{
	json_object *v;
	char when[32], how[48], ran[32];
	struct tm tm;
	time_t t;

	t = json_object_object_get_ex(r, "time", &v)
	    ? (time_t)json_object_get_double(v)
	    : 0;
	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(when, sizeof when, "?");
	cli_exit_text(r, how, sizeof how);
	if (json_object_object_get_ex(r, "ran", &v) &&
	    json_object_get_double(v) < 60)
		snprintf(ran, sizeof ran, "%.1fs", json_object_get_double(v));
	else
		cli_duration(ran, sizeof ran,
		    v != NULL ? json_object_get_double(v) : 0);
	printf("%-20s %-30s %9s  %s\n", when, how, ran,
	    cli_str(r, "reason") != NULL ? cli_str(r, "reason") : "?");
}

/* "exits in all: 2 crash, 1 stop", or none. */
static void
cli_history_totals(json_object *tot)
{
	int first = 1;

	printf("exits in all:");
	json_object_object_foreach(tot, k, n) {
		if (json_object_get_int64(n) == 0)
			continue;
		printf("%s %lld %s", first ? "" : ",",
		    (long long)json_object_get_int64(n), k);
		first = 0;
	}
	printf("%s\n", first ? " none" : "");
}

/* The worker's last exits, oldest first, and the totals by reason. */
int
cli_worker_history(struct cli *cli, const struct cli_cmd *c, struct cli_args *a)
{
	json_object *e, *h, *tot;
	size_t i;
	int rc = CLI_OK;

	(void)c;
	if ((e = cli_details_of(cli, a->uuid, &rc)) == NULL)
		return (rc);
	if (!json_object_object_get_ex(e, "history", &h) ||
	    json_object_array_length(h) == 0) {
		printf("no exits recorded for worker %s\n", a->uuid);
		json_object_put(e);
		return (CLI_OK);
	}
	printf("%-20s %-30s %9s  %s\n", "TIME (UTC)", "EXIT", "RAN", "REASON");
	for (i = 0; i < json_object_array_length(h); i++)
		cli_history_row(json_object_array_get_idx(h, i));
	if (json_object_object_get_ex(e, "exits", &tot))
		cli_history_totals(tot);
	json_object_put(e);
	return (CLI_OK);
}

int
cli_worker_logs(struct cli *cli, const struct cli_cmd *c, struct cli_args *a)
{
	json_object *req = json_object_new_object(), *o, *arr;
	const char *type;
	size_t i;

	(void)c;
	json_object_object_add(req, "type",
	    json_object_new_string("worker_logs"));
	json_object_object_add(req, "workerid",
	    json_object_new_string(a->uuid));
	json_object_object_add(req, "lines", json_object_new_int(a->lines));
	json_object_object_add(req, "follow",
	    json_object_new_boolean(a->follow));
	if (cli_send(cli, req) == -1)
		return (cli_lost());
	while ((o = cli_recv_json(cli, a->follow ? -1 : 30000, NULL)) != NULL) {
		type = cli_type(o);
		if (strcmp(type, "error") == 0) {
			cli_err("%s", cli_str(o, "message"));
			json_object_put(o);
			return (CLI_FAILED);
		}
		if ((strcmp(type, "worker_logs") == 0 ||
		        strcmp(type, "worker_log") == 0) &&
		    json_object_object_get_ex(o, "lines", &arr)) {
			for (i = 0; i < json_object_array_length(arr); i++)
				puts(json_object_get_string(
				    json_object_array_get_idx(arr, i)));
			fflush(stdout);
			if (!a->follow) {
				json_object_put(o);
				return (CLI_OK);
			}
		}
		json_object_put(o);
	}
	return (a->follow ? CLI_OK : cli_lost());
}
