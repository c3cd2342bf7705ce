/* SPDX-License-Identifier: MIT */
/*
 * The ceilings on what clients can make the manager hold or do: a counter
 * per limit for /metrics, and one log line per limit and second at most,
 * however fast a client runs into it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "util.h"
#include "master.h"

static const char *const limit_names[LIMIT_MAX] = {
	[LIMIT_KWARGS_BYTES] = "kwargs_bytes",
	[LIMIT_MAX_WORKERS] = "max_workers",
	[LIMIT_PARALLEL_STEPS] = "max_parallel_steps",
};

static struct {
	uint64_t hits;
	struct log_rate rate;
} limit_state[LIMIT_MAX];

void
limits_hit(enum limit_kind k, const char *fmt, ...)
{
	unsigned long skipped = 0;
	char line[512];
	va_list ap;

	limit_state[k].hits++;
	if (!log_rate_ok(&limit_state[k].rate, 1, &skipped))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (skipped > 0)
		log_warnx("limit %s: %s (and %lu more not logged)",
		    limit_names[k], line, skipped);
	else
		log_warnx("limit %s: %s", limit_names[k], line);
}

uint64_t
limits_hits(enum limit_kind k)
{
	return (limit_state[k].hits);
}

const char *
limits_name(enum limit_kind k)
{
	return (limit_names[k]);
}
