/* SPDX-License-Identifier: MIT */
/*
 * delete_worker: stop the worker, then remove its files and its data dir
 * (only one beneath the workers dir or an allowed data root, walked
 * through fds in a child: a symlink in it is unlinked, never followed).
 * The JSON goes last, once the data dir is gone: a master killed in
 * between leaves a worker that is still listed and can be deleted again,
 * never a data dir that no worker names.
 *
 *   begin --(running)--> stopping --(gone)--> remove --> rm wait --> end
 *   begin --(not running)--------------------> remove
 *   stopping --(still running)--> end (error, nothing removed)
 */
#include <stdlib.h>

#include "log.h"
#include "master.h"
#include "op.h"

enum delete_phase {
	DELETE_BEGIN = OP_BEGIN,
	DELETE_STOPPING,
	DELETE_REMOVE,
	DELETE_RM_WAIT, /* the data dir's removal runs */
	DELETE_MAX,
};

static int
delete_begin(struct op *op)
{
	struct monitor *m = op->mon;

	registry_refresh_now(m->uuid);
	if (registry_entry(m->uuid) == NULL && !registry_json_exists(m->uuid)) {
		ops_error(op, "Worker %s not found", m->uuid);
		return (OP_END);
	}
	ops_progress(op, "Deleting worker...", 0.1, 1);
	m->want_up = 0;
	if (!op_worker_running(m))
		return (DELETE_REMOVE);
	ops_progress(op, "Stopping worker.", 0.1, 1);
	op_stopping_begin(op);
	return (DELETE_STOPPING);
}

static int
delete_stopping(struct op *op)
{
	struct monitor *m = op->mon;

	if (!op_stopping(op))
		return (DELETE_STOPPING);
	op_reset(op);
	registry_refresh_now(m->uuid);
	if (op_worker_running(m)) {
		ops_error(op, "Could not stop worker %s; not deleted", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	return (DELETE_REMOVE);
}

static int
delete_remove(struct op *op)
{
	static const char *const suffixes[] = { ".p", ".runstate", ".status",
		".run.lock", ".lock", ".sock", NULL };
	const char *uuid = op->mon->uuid;
	char *dir;

	ops_progress(op, "Removing files...", 0.6, 1);
	op_unlink_files(op, suffixes);
	dir = launch_data_dir(op->cfg, uuid, registry_entry(uuid));
	op_rm_dir(op, dir);
	free(dir);
	return (DELETE_RM_WAIT);
}

static int
delete_rm_wait(struct op *op)
{
	static const char *const json[] = { ".json", NULL };
	struct monitor *m = op->mon;

	if (op->rm_pid > 0)
		return (DELETE_RM_WAIT);
	if (op->rm_status != 0)
		log_warnx("worker %s: removing its data dir failed (status %d)",
		    m->uuid, op->rm_status);
	op_unlink_files(op, json);
	registry_refresh_now(m->uuid);
	ops_progress(op, "Worker deleted.", 1.0, 1);
	op_tell_requester(op, "worker_deleted");
	op_reset(op);
	log_info("worker %s: deleted", m->uuid);
	return (OP_END);
}

static const struct op_phase delete_phases[DELETE_MAX] = {
	[DELETE_BEGIN] = { "begin", delete_begin, 0 },
	[DELETE_STOPPING] = { "stopping", delete_stopping, 0 },
	[DELETE_REMOVE] = { "remove", delete_remove, 0 },
	[DELETE_RM_WAIT] = { "rm wait", delete_rm_wait, OPF_CLEANUP },
};

const struct op_kind_def op_delete_kind = {
	"delete",
	delete_phases,
	DELETE_MAX,
};
