/* SPDX-License-Identifier: MIT */
/*
 * set_active: start the worker if needed, then hand it to the requester
 * (set_worker). A worker that answers already is only handed over (and
 * kept up under a monitor); one with a venv is upgraded first when
 * fnwm.upgrade_on_start is set.
 *
 *   begin --(answers already)--------------------------> contact
 *   begin --(upgrade_on_start, a venv)--> upgrade --> start --> contact
 *   begin ------------------------------------------> start
 *   contact --(set_worker, or an error: no answer in time, exited)--> end
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "master.h"
#include "op.h"

enum activate_phase {
	ACTIVATE_BEGIN = OP_BEGIN,
	ACTIVATE_UPGRADE, /* update_on_startup steps */
	ACTIVATE_START,
	ACTIVATE_CONTACT, /* waiting for the worker to answer */
	ACTIVATE_MAX,
};

/* A worker whose interpreter is gone cannot start: say so at once. */
static int
activate_interpreter_ok(struct op *op)
{
	char *py = launch_python(op->cfg, registry_entry(op->mon->uuid));
	int ok = strchr(py, '/') == NULL || access(py, X_OK) == 0;

	if (!ok) {
		ops_error(op,
		    "Could not activate worker with id %s: its interpreter "
		    "%s is missing (a deleted or broken virtual environment?)",
		    op->mon->uuid, py);
		op_reset(op);
	}
	free(py);
	return (ok);
}

/*
 * Answering already: make sure it stays up, under a monitor (adopting it
 * if it has none) and with no stop of an earlier master still running.
 */
static int
activate_running(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL;

	m->want_up = 1;
	if ((m->pid <= 0 || (m->have_st && m->st.state == FNWM_WS_STOPPING)) &&
	    monitors_start(m, &cause) == -1) {
		log_warnx("worker %s: %s", m->uuid, cause);
		free(cause);
	}
	op->taken = 1;
	op_contact_begin(op);
	return (ACTIVATE_CONTACT);
}

/* The update_on_startup steps, run by a monitor that starts nothing. */
static int
activate_plan_upgrade(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL, *dir;

	ops_progress(op, "Updating worker.", 0.2, 1);
	m->want_up = 0;
	if (monitors_start(m, &cause) == -1) {
		log_warnx("worker %s: %s", m->uuid, cause);
		free(cause);
		ops_error(op, "Could not activate worker with id %s.", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	dir = launch_data_dir(op->cfg, m->uuid, registry_entry(m->uuid));
	venv_plan_upgrades(op, registry_entry(m->uuid), dir);
	free(dir);
	return (ACTIVATE_UPGRADE);
}

static int
activate_begin(struct op *op)
{
	struct monitor *m = op->mon;
	char *venv;

	ops_progress(op, "Activating worker.", 0.1, 1);
	registry_refresh_now(m->uuid);
	if (registry_entry(m->uuid) == NULL) {
		ops_error(op, "Worker with id %s not found.", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	if (registry_is_active(m->uuid))
		return (activate_running(op));
	if (!activate_interpreter_ok(op))
		return (OP_END);
	if (op->cfg->upgrade_on_start &&
	    (venv = venv_dir(registry_entry(m->uuid))) != NULL) {
		free(venv);
		return (activate_plan_upgrade(op));
	}
	return (ACTIVATE_START);
}

static int
activate_upgrade(struct op *op)
{
	struct monitor *m = op->mon;

	if (op->preempted) {
		/* A stop or delete came: its exit cancels the step. */
		m->want_up = 0;
		(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
		ops_error(op,
		    "Could not activate worker with id %s. "
		    "Cancelled by a stop.",
		    m->uuid);
		op_reset(op);
		return (OP_END);
	}
	/* Upgrades are best effort: the worker starts whatever they did. */
	if (!venv_run_steps(op))
		return (ACTIVATE_UPGRADE);
	return (ACTIVATE_START);
}

static int
activate_start(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL;

	ops_progress(op, "Starting worker.", 0.4, 1);
	m->want_up = 1;
	if (monitors_start(m, &cause) == -1) {
		log_warnx("worker %s: %s", m->uuid, cause);
		m->want_up = 0;
		ops_error(op, "Could not activate worker with id %s: %s",
		    m->uuid, cause);
		free(cause);
		op_reset(op);
		return (OP_END);
	}
	/* The monitor's next states are about this start. */
	m->have_st = 0;
	op->taken = 0;
	op_contact_begin(op);
	return (ACTIVATE_CONTACT);
}

static const struct op_phase activate_phases[ACTIVATE_MAX] = {
	[ACTIVATE_BEGIN] = { "begin", activate_begin, 0 },
	[ACTIVATE_UPGRADE] = { "upgrade", activate_upgrade, OPF_STEPS },
	[ACTIVATE_START] = { "start", activate_start, 0 },
	[ACTIVATE_CONTACT] = { "contact", op_contact, OPF_CONTACT },
};

const struct op_kind_def op_activate_kind = {
	"activate",
	activate_phases,
	ACTIVATE_MAX,
};
