/* SPDX-License-Identifier: MIT */
/*
 * stop_worker: stop the worker (its own stop command, then TERM, then
 * KILL; op-common.c's stopping) and leave it down: a .status that would
 * make a new master start it again is made to say down.
 *
 *   begin --(known)--> stopping --(gone)--> end
 *   stopping --(still running)--> end (error, .status kept)
 */
#include "master.h"
#include "op.h"

enum stop_phase {
	STOP_BEGIN = OP_BEGIN,
	STOP_STOPPING,
	STOP_MAX,
};

static int
stop_begin(struct op *op)
{
	struct monitor *m = op->mon;

	registry_refresh_now(m->uuid);
	if (registry_entry(m->uuid) == NULL && m->pid <= 0 &&
	    !registry_json_exists(m->uuid)) {
		ops_error(op, "Worker %s not found", m->uuid);
		return (OP_END);
	}
	ops_progress(op, "Stopping worker.", 0.1, 1);
	op_stopping_begin(op);
	return (STOP_STOPPING);
}

static int
stop_stopping(struct op *op)
{
	struct monitor *m = op->mon;

	if (!op_stopping(op))
		return (STOP_STOPPING);
	registry_refresh_now(m->uuid);
	if (op_worker_running(m)) {
		/* Given up on: its status is kept while it may live. */
		ops_error(op, "Could not stop worker %s", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	monitors_forget_status(m->uuid);
	registry_refresh_now(m->uuid);
	op_reset(op);
	return (OP_END);
}

static const struct op_phase stop_phases[STOP_MAX] = {
	[STOP_BEGIN] = { "begin", stop_begin, 0 },
	[STOP_STOPPING] = { "stopping", stop_stopping, 0 },
};

const struct op_kind_def op_stop_kind = {
	"stop",
	stop_phases,
	STOP_MAX,
};
