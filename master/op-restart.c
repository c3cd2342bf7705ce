/* SPDX-License-Identifier: MIT */
/*
 * restart_worker: the monitor stops the worker and starts a new process
 * (a new pid), then the worker is handed to the requester as set_active
 * does. A worker running without a monitor is adopted first; a monitor
 * that dies before the restart is replaced and asked again.
 *
 *   begin --> restarting --(a new pid starts)--> contact --> end
 *   restarting --(deadline, gave up, no monitor)--> end (error)
 */
#include <stdlib.h>

#include "log.h"
#include "master.h"
#include "op.h"

enum restart_phase {
	RESTART_BEGIN = OP_BEGIN,
	RESTART_RESTARTING, /* waiting for the new pid */
	RESTART_CONTACT,    /* waiting for the worker to answer */
	RESTART_MAX,
};

static void
restart_arm(struct op *op)
{
	op_arm(op, op->cfg->stop_timeout + op->cfg->kill_timeout + OP_SLACK);
}

/* Has the monitor restart the worker; *cause says why it cannot. */
static void
restart_ask(struct op *op, pid_t live, char **cause)
{
	struct monitor *m = op->mon;

	m->want_up = 1;
	if (m->pid > 0)
		(void)monitors_stop_cmd(m, FNWM_MSG_CMD_RESTART);
	else if (live > 0) {
		/* Adopt it first (config only), then restart it. */
		m->want_up = 0;
		if (monitors_start(m, cause) == 0)
			(void)monitors_stop_cmd(m, FNWM_MSG_CMD_RESTART);
		m->want_up = 1;
	} else
		(void)monitors_start(m, cause);
}

static int
restart_begin(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL;
	pid_t live;

	registry_refresh_now(m->uuid);
	if (registry_entry(m->uuid) == NULL) {
		ops_error(op, "Worker with id %s not found.", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	ops_progress(op, "Stopping worker.", 0.1, 1);
	live = registry_live_pid(m->uuid);
	op->old_pid = live > 0 ? live : (m->have_st ? m->st.pid : 0);
	op_send_ws_stop(op);
	restart_ask(op, live, &cause);
	if (cause != NULL) {
		log_warnx("worker %s: %s", m->uuid, cause);
		free(cause);
		ops_error(op, "Could not activate worker with id %s.", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	m->have_st = 0;
	op->mon_gen = m->gen;
	restart_arm(op);
	return (RESTART_RESTARTING);
}

static int
restart_restarting(struct op *op)
{
	struct monitor *m = op->mon;

	if (m->gen != op->mon_gen && m->pid > 0 && m->have_st &&
	    m->st.pid > 0 && m->st.pid == op->old_pid) {
		/*
		 * The monitor died before it restarted the worker; its
		 * replacement adopted the old one: ask again.
		 */
		op->mon_gen = m->gen;
		op_send_ws_stop(op);
		(void)monitors_stop_cmd(m, FNWM_MSG_CMD_RESTART);
		restart_arm(op);
		return (RESTART_RESTARTING);
	}
	if (m->have_st && m->st.pid > 0 && m->st.pid != op->old_pid &&
	    (m->st.state == FNWM_WS_STARTING ||
	        m->st.state == FNWM_WS_RUNNING)) {
		op_reset(op);
		ops_progress(op, "Activating worker.", 0.1, 1);
		op->taken = 1;
		op_disarm(op);
		op_contact_begin(op);
		return (RESTART_CONTACT);
	}
	if (op_expired(op) || (m->have_st && m->st.state == FNWM_WS_FAILED) ||
	    m->pid <= 0) {
		op_reset(op);
		ops_error(op, "Could not activate worker with id %s.", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	return (RESTART_RESTARTING);
}

static const struct op_phase restart_phases[RESTART_MAX] = {
	[RESTART_BEGIN] = { "begin", restart_begin, 0 },
	[RESTART_RESTARTING] = { "restarting", restart_restarting, 0 },
	[RESTART_CONTACT] = { "contact", op_contact, OPF_CONTACT },
};

const struct op_kind_def op_restart_kind = {
	"restart",
	restart_phases,
	RESTART_MAX,
};
