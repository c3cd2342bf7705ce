/* SPDX-License-Identifier: MIT */
/*
 * What the files a worker and its monitor leave in the workers dir say:
 * pure parsers over their bytes, no I/O, so every one of them can be fed
 * anything (tests/fuzz) and the callers keep only the reading.
 */
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "master.h"

json_object *
wfiles_worker_json(const char *buf, size_t len, const char *uuid,
    const char **why)
{
	json_object *o, *v;
	const char *err;

	*why = NULL;
	o = fnwm_json_parse(buf, len, &err);
	if (o == NULL)
		*why = err;
	else if (!json_object_is_type(o, json_type_object))
		*why = "not a JSON object";
	else if (!json_object_object_get_ex(o, "type", &v) ||
	    !json_object_is_type(v, json_type_string))
		*why = "no \"type\" string";
	else if (!json_object_object_get_ex(o, "uuid", &v) ||
	    !json_object_is_type(v, json_type_string))
		*why = "no \"uuid\" string";
	else if (strcmp(json_object_get_string(v), uuid) != 0)
		*why = "its uuid does not match its file name";
	if (*why != NULL) {
		json_object_put(o);
		return (NULL);
	}
	return (o);
}

/* The value of "\nkey=" up to its newline, copied into out; 0 or -1. */
static int
wfiles_status_field(const char *buf, size_t len, const char *key, char *out,
    size_t outsz)
{
	char pat[32];
	const char *v, *nl, *end = buf + len;
	size_t n, klen;

	klen = (size_t)snprintf(pat, sizeof pat, "\n%s=", key);
	v = memmem(buf, len, pat, klen);
	if (v == NULL)
		return (-1);
	v += klen;
	nl = memchr(v, '\n', (size_t)(end - v));
	if (nl == NULL || (n = (size_t)(nl - v)) >= outsz)
		return (-1);
	memcpy(out, v, n);
	out[n] = '\0';
	return (0);
}

void
wfiles_status(const char *buf, size_t len, struct wfiles_status *st)
{
	static const char *const names[] = { "down", "starting", "running",
		"stopping", "backoff", "failed", NULL };
	char val[32];
	long long v;
	int i;

	st->state = -1;
	st->monitor = 0;
	st->exiting = 0;
	if (wfiles_status_field(buf, len, "monitor", val, sizeof val) == 0 &&
	    fnwm_parse_int(val, 1, INT32_MAX, &v) == 0)
		st->monitor = (pid_t)v;
	if (wfiles_status_field(buf, len, "exiting", val, sizeof val) == 0)
		st->exiting = strcmp(val, "1") == 0;
	if (wfiles_status_field(buf, len, "state", val, sizeof val) == 0)
		for (i = 0; names[i] != NULL; i++)
			if (strcmp(val, names[i]) == 0)
				st->state = i;
}

int
wfiles_runstate(const char *buf, size_t len, char *out, size_t outsz)
{
	char *p;

	/* FuncNodes shows "a\nb" as "a - b", and a CR as a space. */
	log_safe(out, outsz, buf, len);
	while ((p = strstr(out, "\\015")) != NULL) {
		*p = ' ';
		memmove(p + 1, p + 4, strlen(p + 4) + 1);
	}
	while ((p = strstr(out, "\\012")) != NULL) {
		memcpy(p, " - ", 3);
		memmove(p + 3, p + 4, strlen(p + 4) + 1);
	}
	/* Left over from an earlier life: not news about this start. */
	return (out[0] != '\0' && strncmp(out, "removed", 7) != 0 &&
	    strncmp(out, "stopped", 7) != 0);
}
