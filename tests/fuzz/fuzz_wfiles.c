/* SPDX-License-Identifier: MIT */
/*
 * The parsers of what other processes leave for the master and the
 * monitors to read: worker_<uuid>.json, .p, .runstate, .status
 * (master/wfiles.c, common/util.c), and the /proc/PID/stat and /proc/locks
 * lines (common/util.c). The first byte picks the parser; the rest is the
 * file's content. Each result is checked against what its caller relies on.
 */
#include <sys/sysmacros.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "master.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
fz_worker_json(const char *buf, size_t len)
{
	const char *why, *text;
	json_object *o, *v;
	size_t n;

	o = wfiles_worker_json(buf, len, "fz-1", &why);
	if (o == NULL) {
		if (why == NULL || *why == '\0')
			abort();
		return;
	}
	if (why != NULL || !json_object_object_get_ex(o, "uuid", &v) ||
	    strcmp(json_object_get_string(v), "fz-1") != 0)
		abort();
	/* The registry keeps the compact text and parses it again later. */
	text = fnwm_json_str(o, &n);
	json_object_put(o);
	(void)text;
}

static void
fz_worker_json_roundtrip(const char *buf, size_t len)
{
	const char *why, *err;
	json_object *o, *again;
	char *copy;
	size_t n;

	o = wfiles_worker_json(buf, len, "fz-1", &why);
	if (o == NULL)
		return;
	/* What the registry writes back must read again (FNWM_ASSERT). */
	copy = strdup(fnwm_json_str(o, &n));
	if (copy == NULL)
		abort();
	again = fnwm_json_parse(copy, strlen(copy), &err);
	if (again == NULL)
		abort();
	json_object_put(again);
	json_object_put(o);
	free(copy);
}

static void
fz_pidfile(const char *buf)
{
	long long v;

	if (fnwm_parse_int(buf, 1, INT32_MAX, &v) == 0 &&
	    (v < 1 || v > INT32_MAX))
		abort();
}

static void
fz_runstate(const char *buf, size_t len)
{
	char out[256];
	size_t i, n;

	(void)wfiles_runstate(buf, len, out, sizeof out);
	n = strlen(out);
	if (n >= sizeof out)
		abort();
	for (i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 ||
		    (unsigned char)out[i] >= 0x7f)
			abort();
}

static void
fz_status(const char *buf, size_t len)
{
	struct wfiles_status st;
	struct fnwm_status a, b;
	char out[FNWM_STATUS_MAX];
	unsigned i;
	int n;

	wfiles_status(buf, len, &st);
	if (st.state < -1 || st.state >= FNWM_WS_MAX || st.monitor < 0 ||
	    (st.exiting != 0 && st.exiting != 1))
		abort();
	/* The exit history's codec (common/status.c), on the same bytes. */
	if (fnwm_status_decode(buf, len, &a) == -1)
		return;
	if (a.state < 0 || a.state >= FNWM_WS_MAX || a.nhist > FNWM_HISTORY_MAX)
		abort();
	for (i = 0; i < a.nhist; i++)
		if (a.hist[i].reason >= FNWM_EXIT_REASONS)
			abort();
	/* What it decoded, it writes back, and that reads the same. */
	n = fnwm_status_encode(&a, out, sizeof out);
	if (n < 0 || fnwm_status_decode(out, (size_t)n, &b) == -1 ||
	    b.state != a.state || b.nhist != a.nhist ||
	    memcmp(b.totals, a.totals, sizeof a.totals) != 0)
		abort();
	for (i = 0; i < a.nhist; i++)
		if (b.hist[i].at_ms != a.hist[i].at_ms ||
		    b.hist[i].status != a.hist[i].status ||
		    b.hist[i].ran_ms != a.hist[i].ran_ms ||
		    b.hist[i].reason != a.hist[i].reason)
			abort();
}

static void
fz_proc(const char *buf)
{
	unsigned long long start = 0;
	int r = fnwm_proc_stat_parse(buf, &start);

	if (r < -1 || r > 1)
		abort();
	(void)fnwm_proc_stat_parse(buf, NULL);
	if (fnwm_locks_line_holder(buf, makedev(8, 1), 5678) < 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *buf;
	size_t len;

	if (size == 0)
		return (0);
	fnwm_log_verbosity = FNWM_LOG_WARN;
	/* Files are read whole and NUL-terminated (fnwm_read_file). */
	len = size - 1;
	buf = malloc(len + 1);
	memcpy(buf, data + 1, len);
	buf[len] = '\0';
	switch (data[0] % 6) {
	case 0:
		fz_worker_json(buf, len);
		break;
	case 1:
		fz_worker_json_roundtrip(buf, len);
		break;
	case 2:
		fz_pidfile(buf);
		break;
	case 3:
		fz_runstate(buf, len);
		break;
	case 4:
		fz_status(buf, len);
		break;
	default:
		fz_proc(buf);
		break;
	}
	free(buf);
	return (0);
}
