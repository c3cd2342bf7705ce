/* SPDX-License-Identifier: MIT */
/*
 * What the command line shows: its messages on stderr, the progress of an
 * operation (a bar on a terminal, a line a step otherwise), and the
 * manager's JSON as tables, durations and exit texts.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli-output.h"

void
cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("fnwm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *
cli_str(json_object *o, const char *key)
{
	json_object *v;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return (json_object_get_string(v));
	return (NULL);
}

const char *
cli_type(json_object *o)
{
	const char *t = cli_str(o, "type");

	return (t != NULL ? t : "");
}

void
cli_bar_clear(struct cli *cli)
{
	if (cli->tty && cli->bar_shown) {
		fputs("\r\033[K", stderr);
		cli->bar_shown = 0;
	}
}

void
cli_progress(struct cli *cli, json_object *o)
{
	json_object *v;
	const char *msg = cli_str(o, "message"), *status = cli_str(o, "status");
	double p = 0;
	int i, filled;

	if (json_object_object_get_ex(o, "progress", &v))
		p = json_object_get_double(v);
	if (p < 0)
		p = 0;
	if (p > 1)
		p = 1;
	if (msg == NULL)
		return;
	if (status != NULL && strcmp(status, "error") == 0) {
		cli_bar_clear(cli);
		fprintf(stderr, "fnwm: warning: %s\n", msg);
		return;
	}
	if (*msg == '\0') {
		cli_bar_clear(cli);
		return;
	}
	if (!cli->tty) {
		fprintf(stderr, "fnwm: %3d%% %s\n", (int)(p * 100 + 0.5), msg);
		return;
	}
	filled = (int)(p * 20 + 0.5);
	fputs("\r\033[K[", stderr);
	for (i = 0; i < 20; i++)
		fputc(i < filled ? '#' : '-', stderr);
	fprintf(stderr, "] %3d%% %.60s", (int)(p * 100 + 0.5), msg);
	fflush(stderr);
	cli->bar_shown = 1;
}

void
cli_print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

void
cli_duration(char *buf, size_t sz, double secs)
{
	long s = secs < 0 ? 0 : (long)secs;

	if (s < 60)
		snprintf(buf, sz, "%lds", s);
	else if (s < 3600)
		snprintf(buf, sz, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, sz, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, sz, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
}

/* A worker that answers is running, whatever its healthy timer says. */
const char *
cli_state(json_object *d)
{
	json_object *v;
	const char *st = cli_str(d, "state");

	if (st == NULL)
		return ("?");
	if (json_object_object_get_ex(d, "active", &v) &&
	    json_object_get_boolean(v) && strcmp(st, "starting") == 0)
		return ("running");
	return (st);
}

/* {"code": n|null, "signal": n|null}: both null is an adopted worker's. */
void
cli_exit_text(json_object *le, char *buf, size_t sz)
{
	json_object *v;

	if (json_object_object_get_ex(le, "signal", &v) &&
	    json_object_is_type(v, json_type_int))
		snprintf(buf, sz, "signal %d", json_object_get_int(v));
	else if (json_object_object_get_ex(le, "code", &v) &&
	    json_object_is_type(v, json_type_int))
		snprintf(buf, sz, "status %d", json_object_get_int(v));
	else
		snprintf(buf, sz, "exit status unknown (adopted)");
}

void
cli_last_exit(json_object *d, char *buf, size_t sz)
{
	json_object *le;

	snprintf(buf, sz, "-");
	if (!json_object_object_get_ex(d, "last_exit", &le) ||
	    !json_object_is_type(le, json_type_object))
		return;
	cli_exit_text(le, buf, sz);
}

void
cli_started(json_object *sw, const char *verb)
{
	json_object *data, *v;

	if (!json_object_object_get_ex(sw, "data", &data))
		return;
	printf("worker %s (%s) %s: ws://%s:%d/",
	    cli_str(data, "name") != NULL ? cli_str(data, "name") : "?",
	    cli_str(data, "uuid"), verb,
	    cli_str(data, "host") != NULL ? cli_str(data, "host") : "?",
	    json_object_object_get_ex(data, "port", &v) ? json_object_get_int(v)
	                                                : 0);
	if (json_object_object_get_ex(data, "pid", &v) &&
	    json_object_is_type(v, json_type_int))
		printf(", pid %d", json_object_get_int(v));
	putchar('\n');
}
