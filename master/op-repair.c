/* SPDX-License-Identifier: MIT */
/*
 * repair_worker (fnwm's own; FuncNodes has no such message): stop the
 * worker, then have a monitor that starts nothing recreate its deleted
 * or broken venv from the worker's recorded dependencies. The worker is
 * left down; set_active starts it.
 *
 *   begin --(has a venv)--> stopping --> steps --> monitor exit --> end
 */
#include <stdlib.h>

#include "master.h"
#include "op.h"

enum repair_phase {
	REPAIR_BEGIN = OP_BEGIN,
	REPAIR_STOPPING,
	REPAIR_STEPS,       /* the venv's steps */
	REPAIR_MONITOR_END, /* waiting for its monitor to exit */
	REPAIR_MAX,
};

static int
repair_begin(struct op *op)
{
	struct monitor *m = op->mon;
	char *venv;

	registry_refresh_now(m->uuid);
	if (registry_entry(m->uuid) == NULL) {
		ops_error(op, "Worker %s not found", m->uuid);
		return (OP_END);
	}
	if ((venv = venv_dir(registry_entry(m->uuid))) == NULL) {
		ops_error(op, "worker %s has no virtual environment to repair",
		    m->uuid);
		return (OP_END);
	}
	free(venv);
	ops_progress(op, "Repairing worker.", 0.1, 1);
	op_stopping_begin(op);
	return (REPAIR_STOPPING);
}

static int
repair_stopping(struct op *op)
{
	struct monitor *m = op->mon;
	char *dir, *cause = NULL;

	if (!op_stopping(op))
		return (REPAIR_STOPPING);
	registry_refresh_now(m->uuid);
	if (op_worker_running(m)) {
		/* Its venv is not replaced under a running worker. */
		ops_error(op,
		    "could not repair worker %s: it could not be "
		    "stopped",
		    m->uuid);
		op_reset(op);
		return (OP_END);
	}
	if (monitors_start(m, &cause) == -1) {
		ops_error(op, "could not repair worker %s: %s", m->uuid, cause);
		free(cause);
		op_reset(op);
		return (OP_END);
	}
	dir = launch_data_dir(op->cfg, m->uuid, registry_entry(m->uuid));
	venv_plan_repair(op, registry_entry(m->uuid), dir);
	free(dir);
	return (REPAIR_STEPS);
}

static int
repair_steps(struct op *op)
{
	struct monitor *m = op->mon;

	if (!op->preempted && !venv_run_steps(op))
		return (REPAIR_STEPS);
	if (op->preempted)
		ops_error(op, "could not repair worker %s: cancelled", m->uuid);
	else if (op->steps_failed)
		ops_error(op, "could not repair worker %s: %s", m->uuid,
		    op->fail_summary);
	else
		ops_progress(op, "Worker repaired.", 1.0, 1);
	op_reset(op);
	(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
	return (REPAIR_MONITOR_END);
}

static const struct op_phase repair_phases[REPAIR_MAX] = {
	[REPAIR_BEGIN] = { "begin", repair_begin, 0 },
	[REPAIR_STOPPING] = { "stopping", repair_stopping, 0 },
	[REPAIR_STEPS] = { "steps", repair_steps, OPF_STEPS },
	[REPAIR_MONITOR_END] = { "monitor end", op_monitor_gone, 0 },
};

const struct op_kind_def op_repair_kind = {
	"repair",
	repair_phases,
	REPAIR_MAX,
};
