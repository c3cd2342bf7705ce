/* SPDX-License-Identifier: MIT */
/*
 * Whether the master is on its way out, and the one way to ask for it.
 * The flag is read by every layer (no restart, no new autostart while
 * leaving); what leaving means (stop or detach the workers, close the
 * clients, drain) is main.c's, registered here as the handler.
 */
#include <stddef.h>

#include "shutdown.h"

static int shutdown_started;
static shutdown_fn *shutdown_handler;

void
shutdown_set_handler(shutdown_fn *fn)
{
	shutdown_handler = fn;
}

/* The first request wins; later ones, of either kind, change nothing. */
static void
shutdown_request(const char *why, int keep_workers)
{
	if (shutdown_started)
		return;
	shutdown_started = 1;
	if (shutdown_handler != NULL)
		shutdown_handler(why, keep_workers);
}

void
shutdown_begin(const char *why)
{
	shutdown_request(why, 0);
}

void
shutdown_detach(const char *why)
{
	shutdown_request(why, 1);
}

int
shutdown_in_progress(void)
{
	return (shutdown_started);
}
