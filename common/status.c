/* SPDX-License-Identifier: MIT */
/* The text codec of worker_<uuid>.status (see status.h). */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "msg.h"
#include "util.h"
#include "status.h"

/* Display names, and the key of each total (keys take no '-'). */
static const struct {
	const char *name, *key;
} status_reasons[FNWM_EXIT_REASONS] = {
	[FNWM_EXIT_CRASH] = { "crash", "exits_crash" },
	[FNWM_EXIT_EXITED] = { "exited", "exits_exited" },
	[FNWM_EXIT_LIVENESS] = { "liveness", "exits_liveness" },
	[FNWM_EXIT_STOP] = { "stop", "exits_stop" },
	[FNWM_EXIT_RESTART] = { "restart", "exits_restart" },
	[FNWM_EXIT_GAVE_UP] = { "gave-up", "exits_gave_up" },
};

const char *
fnwm_exit_reason_name(unsigned r)
{
	return (r < FNWM_EXIT_REASONS ? status_reasons[r].name : "unknown");
}

void
fnwm_exit_describe(int32_t status, char *buf, size_t size)
{
	if (status == FNWM_EXIT_NONE)
		snprintf(buf, size, "-");
	else if (status == FNWM_EXIT_UNKNOWN)
		snprintf(buf, size, "exit status unknown (adopted)");
	else if (status < 0)
		snprintf(buf, size, "signal %ld", -(long)status);
	else
		snprintf(buf, size, "status %ld", (long)status);
}

void
fnwm_status_init(struct fnwm_status *s)
{
	memset(s, 0, sizeof *s);
	s->state = -1;
	s->last_exit = FNWM_EXIT_NONE;
}

void
fnwm_status_add_exit(struct fnwm_status *s, const struct fnwm_exit_rec *r)
{
	if (s->nhist == FNWM_HISTORY_MAX) {
		memmove(&s->hist[0], &s->hist[1],
		    (FNWM_HISTORY_MAX - 1) * sizeof s->hist[0]);
		s->nhist--;
	}
	s->hist[s->nhist++] = *r;
	if (r->reason < FNWM_EXIT_REASONS && s->totals[r->reason] < UINT32_MAX)
		s->totals[r->reason]++;
}

/* Appends to buf at *off; -1 once it no longer fits. */
static int __attribute__((format(printf, 4, 5)))
status_put(char *buf, size_t size, size_t *off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*off >= size)
		return (-1);
	va_start(ap, fmt);
	n = vsnprintf(buf + *off, size - *off, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size - *off)
		return (-1);
	*off += (size_t)n;
	return (0);
}

int
fnwm_status_encode(const struct fnwm_status *s, char *buf, size_t size)
{
	const struct fnwm_exit_rec *r;
	char how[32];
	size_t off = 0;
	unsigned i;

	if (status_put(buf, size, &off,
	        "version=2\nstate=%s\npid=%ld\nadopted=%d\nmonitor=%ld\n"
	        "restarts=%u\nlast_exit=%ld\nsince=%llu\nexiting=%d\n",
	        fnwm_worker_state_name((unsigned)s->state), s->pid, s->adopted,
	        s->monitor, s->restarts,
	        s->last_exit == FNWM_EXIT_NONE ||
	                s->last_exit == FNWM_EXIT_UNKNOWN
	            ? 0L
	            : (long)s->last_exit,
	        (unsigned long long)s->since_ms, s->exiting) == -1)
		return (-1);
	for (i = 0; i < FNWM_EXIT_REASONS; i++)
		if (status_put(buf, size, &off, "%s=%u\n",
		        status_reasons[i].key, s->totals[i]) == -1)
			return (-1);
	for (i = 0; i < s->nhist && i < FNWM_HISTORY_MAX; i++) {
		r = &s->hist[i];
		if (r->status == FNWM_EXIT_UNKNOWN ||
		    r->status == FNWM_EXIT_NONE)
			snprintf(how, sizeof how, "unknown");
		else if (r->status < 0)
			snprintf(how, sizeof how, "signal:%ld",
			    -(long)r->status);
		else
			snprintf(how, sizeof how, "status:%ld",
			    (long)r->status);
		if (status_put(buf, size, &off, "exit=%llu %s %u %s\n",
		        (unsigned long long)r->at_ms, how, r->ran_ms,
		        fnwm_exit_reason_name(r->reason)) == -1)
			return (-1);
	}
	return ((int)off);
}

/* "1733456789000 signal:9 5012 crash" into r; 0 or -1. */
static int
status_decode_exit(char *v, struct fnwm_exit_rec *r)
{
	char *f[4], *save = NULL;
	long long n;
	unsigned i;

	for (i = 0; i < 4; i++) {
		f[i] = strtok_r(i == 0 ? v : NULL, " ", &save);
		if (f[i] == NULL)
			return (-1);
	}
	if (strtok_r(NULL, " ", &save) != NULL)
		return (-1);
	memset(r, 0, sizeof *r);
	if (fnwm_parse_int(f[0], 0, LLONG_MAX, &n) == -1)
		return (-1);
	r->at_ms = (uint64_t)n;
	if (strcmp(f[1], "unknown") == 0)
		r->status = FNWM_EXIT_UNKNOWN;
	else if (strncmp(f[1], "status:", 7) == 0 &&
	    fnwm_parse_int(f[1] + 7, 0, 255, &n) == 0)
		r->status = (int32_t)n;
	else if (strncmp(f[1], "signal:", 7) == 0 &&
	    fnwm_parse_int(f[1] + 7, 1, 127, &n) == 0)
		r->status = (int32_t)-n;
	else
		return (-1);
	if (fnwm_parse_int(f[2], 0, UINT32_MAX, &n) == -1)
		return (-1);
	r->ran_ms = (uint32_t)n;
	for (i = 0; i < FNWM_EXIT_REASONS; i++)
		if (strcmp(f[3], status_reasons[i].name) == 0)
			break;
	if (i == FNWM_EXIT_REASONS)
		return (-1);
	r->reason = (uint16_t)i;
	return (0);
}

/* One "key=value" line (value NUL-terminated, may be changed). */
static int
status_decode_line(struct fnwm_status *s, const char *k, char *v)
{
	struct fnwm_exit_rec r;
	long long n;
	unsigned i;

	if (strcmp(k, "state") == 0) {
		for (i = 0; i < FNWM_WS_MAX; i++)
			if (strcmp(v, fnwm_worker_state_name(i)) == 0)
				break;
		if (i == FNWM_WS_MAX)
			return (-1);
		s->state = (int)i;
		return (0);
	}
	if (strcmp(k, "exit") == 0) {
		if (status_decode_exit(v, &r) == -1)
			return (-1);
		/* Totals come from their own lines: keep them as written. */
		if (s->nhist == FNWM_HISTORY_MAX) {
			memmove(&s->hist[0], &s->hist[1],
			    (FNWM_HISTORY_MAX - 1) * sizeof s->hist[0]);
			s->nhist--;
		}
		s->hist[s->nhist++] = r;
		return (0);
	}
	for (i = 0; i < FNWM_EXIT_REASONS; i++) {
		if (strcmp(k, status_reasons[i].key) != 0)
			continue;
		if (fnwm_parse_int(v, 0, UINT32_MAX, &n) == -1)
			return (-1);
		s->totals[i] = (uint32_t)n;
		return (0);
	}
	if (strcmp(k, "since") == 0) {
		if (fnwm_parse_int(v, 0, LLONG_MAX, &n) == -1)
			return (-1);
		s->since_ms = (uint64_t)n;
		return (0);
	}
	if (strcmp(k, "pid") == 0 || strcmp(k, "monitor") == 0) {
		if (fnwm_parse_int(v, 0, INT32_MAX, &n) == -1)
			return (-1);
		*(k[0] == 'p' ? &s->pid : &s->monitor) = (long)n;
		return (0);
	}
	if (strcmp(k, "restarts") == 0) {
		if (fnwm_parse_int(v, 0, UINT32_MAX, &n) == -1)
			return (-1);
		s->restarts = (unsigned)n;
		return (0);
	}
	if (strcmp(k, "last_exit") == 0) {
		if (fnwm_parse_int(v, -127, 255, &n) == -1)
			return (-1);
		s->last_exit = (int32_t)n;
		return (0);
	}
	if (strcmp(k, "adopted") == 0 || strcmp(k, "exiting") == 0) {
		if (fnwm_parse_int(v, 0, 1, &n) == -1)
			return (-1);
		*(k[0] == 'a' ? &s->adopted : &s->exiting) = (int)n;
		return (0);
	}
	return (0); /* version, and keys of later versions */
}

int
fnwm_status_decode(const char *text, size_t len, struct fnwm_status *s)
{
	char line[256], *eq;
	size_t i, start = 0, n;

	fnwm_status_init(s);
	if (len > FNWM_STATUS_MAX)
		return (-1);
	for (i = 0; i <= len; i++) {
		if (i < len && text[i] != '\n')
			continue;
		n = i - start;
		if (n == 0) {
			start = i + 1;
			continue;
		}
		if (n >= sizeof line || memchr(text + start, '\0', n) != NULL)
			return (-1);
		memcpy(line, text + start, n);
		line[n] = '\0';
		start = i + 1;
		if ((eq = strchr(line, '=')) == NULL)
			return (-1);
		*eq = '\0';
		if (status_decode_line(s, line, eq + 1) == -1)
			return (-1);
	}
	return (s->state == -1 ? -1 : 0);
}
