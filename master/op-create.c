/* SPDX-License-Identifier: MIT */
/*
 * new_worker in a venv: a monitor that starts nothing runs the venv's
 * steps in the new data dir; the worker's JSON is written last, so a
 * worker is listed only once it can run. A failure, a cancel (stop,
 * delete, shutdown) or an existing worker of that uuid ends in cleanup:
 * the monitor exits, its files and the half-made data dir go.
 *
 *   begin --> steps --(JSON written)--> monitor exit --> end
 *   begin, steps --(failed, cancelled)--> cleanup --> rm wait --> end
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "op.h"

enum create_phase {
	CREATE_BEGIN = OP_BEGIN,
	CREATE_STEPS,       /* the venv's steps */
	CREATE_MONITOR_END, /* created: waiting for its monitor to exit */
	CREATE_CLEANUP,     /* failed: waiting for its monitor to exit */
	CREATE_RM_WAIT,     /* failed: the data dir's removal runs */
	CREATE_MAX,
};

static int
create_failed(struct op *op, const char *why)
{
	struct monitor *m = op->mon;

	ops_error(op, "new_worker: could not create worker %s: %s", m->uuid,
	    why);
	op_reset(op);
	/* Its exit cancels a running step (the whole process group). */
	(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
	return (CREATE_CLEANUP);
}

static int
create_begin(struct op *op)
{
	struct monitor *m = op->mon;
	char *dir, *cause = NULL;
	int next;

	if (registry_json_exists(m->uuid)) {
		/*
		 * Another worker's (two creations of one uuid): its monitor,
		 * its files and its data dir are not this operation's.
		 */
		ops_error(op,
		    "new_worker: could not create worker %s: it "
		    "already exists",
		    m->uuid);
		op_reset(op);
		return (OP_END);
	}
	m->want_up = 0;
	if (monitors_start_entry(m, op->json, &cause) == -1) {
		next = create_failed(op, cause);
		free(cause);
		return (next);
	}
	dir = launch_data_dir(op->cfg, m->uuid, op->json);
	venv_plan_create(op, dir, 1);
	free(dir);
	return (CREATE_STEPS);
}

/* The worker's JSON, with its venv, written; NULL or why it was not. */
static char *
create_write_json(struct op *op)
{
	struct monitor *m = op->mon;
	char *dir, *venv, *path, *cause = NULL;
	const char *text;

	dir = launch_data_dir(op->cfg, m->uuid, op->json);
	venv = xasprintf("%s/.venv", dir);
	free(dir);
	json_object_object_add(op->json, "env_path",
	    json_object_new_string(venv));
	free(venv);
	ops_progress(op, "Writing configuration.", 0.9, 1);
	path = xasprintf("%s/worker_%s.json", op->cfg->workers_dir, m->uuid);
	text = json_object_to_json_string_ext(op->json,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (fnwm_atomic_write(path, text, strlen(text), 0600) == -1)
		cause = xasprintf("write %s: %s", path, strerror(errno));
	free(path);
	return (cause);
}

static int
create_steps(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause;
	int next;

	if (op->preempted)
		return (create_failed(op, "cancelled"));
	if (!venv_run_steps(op))
		return (CREATE_STEPS);
	if (op->steps_failed)
		return (create_failed(op, op->fail_summary));
	if ((cause = create_write_json(op)) != NULL) {
		next = create_failed(op, cause);
		free(cause);
		return (next);
	}
	ops_progress(op, "Creating new worker.", 1.0, 1);
	op_tell_requester(op, "worker_created");
	op_reset(op);
	(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
	log_info("worker %s: created in a virtual environment", m->uuid);
	registry_refresh_now(m->uuid);
	/* The next operation starts once this monitor is gone. */
	return (CREATE_MONITOR_END);
}

/* Once the monitor is gone, its files and a data dir we made go too. */
static int
create_cleanup(struct op *op)
{
	static const char *const suffixes[] = { ".lock", ".run.lock", ".status",
		".sock", ".runstate", ".p", NULL };
	struct monitor *m = op->mon;
	char *dir;

	if (m->pid > 0)
		return (CREATE_CLEANUP);
	op_unlink_files(op, suffixes);
	if (op->made_dir) {
		/* Nothing half-made stays behind. */
		dir = launch_data_dir(op->cfg, m->uuid, op->json);
		op_rm_dir(op, dir);
		free(dir);
	}
	return (CREATE_RM_WAIT);
}

static int
create_rm_wait(struct op *op)
{
	return (op->rm_pid > 0 ? CREATE_RM_WAIT : OP_END);
}

static const struct op_phase create_phases[CREATE_MAX] = {
	[CREATE_BEGIN] = { "begin", create_begin, 0 },
	[CREATE_STEPS] = { "steps", create_steps, OPF_STEPS },
	[CREATE_MONITOR_END] = { "monitor end", op_monitor_gone, 0 },
	[CREATE_CLEANUP] = { "cleanup", create_cleanup, OPF_CLEANUP },
	[CREATE_RM_WAIT] = { "rm wait", create_rm_wait, OPF_CLEANUP },
};

const struct op_kind_def op_create_kind = {
	"create",
	create_phases,
	CREATE_MAX,
};
