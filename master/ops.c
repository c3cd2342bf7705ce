/* SPDX-License-Identifier: MIT */
/*
 * Operations on one worker (activate, stop, restart, delete), serialised
 * per worker and concurrent across workers. None blocks the loop: each
 * is a small state machine that re-checks the facts (registry, monitor
 * state, timers) whenever something about its worker changes (ops_kick),
 * and reports to its requester by client id, so a requester that goes
 * away costs nothing and stops nothing.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

enum {
	P_BEGIN,
	P_UPGRADE,    /* activation: update_on_startup steps */
	P_STEPS,      /* create / repair: venv steps */
	P_STOPPING,   /* the stop phase runs */
	P_RESTARTING, /* waiting for the new pid */
	P_CONTACT,    /* waiting for the worker to answer */
	P_REMOVE,
	P_RM_WAIT,
	P_CLEANUP,  /* a failed creation: its monitor exits, files go */
	P_MON_EXIT, /* waiting for the operation's monitor to exit */
	P_DONE,
};

#define OP_RETRY 0.5 /* s between readiness probes while contacting */
#define OP_SLACK 5.0 /* s beyond the escalation before giving up */

static struct ev_loop *ops_loop;
static const struct fnwm_config *ops_cfg;
static struct monitor_list ops_kicks = TAILQ_HEAD_INITIALIZER(ops_kicks);
static ev_timer ops_kick_timer;

static int op_expired(struct op *);

void
ops_progress(struct op *op, const char *message, double progress, int blocking)
{
	struct ws_client *c;

	/* new_worker's progress goes to everyone, as in FuncNodes. */
	if (op->broadcast) {
		ws_cmd_broadcast_progress(op->client, message, progress,
		    blocking);
		return;
	}
	if ((c = hub_find(op->client)) != NULL)
		ws_cmd_progress(c, message, progress, blocking);
}

static void
ops_reset(struct op *op)
{
	ops_progress(op, "", 1.0, 0);
}

void
ops_error(struct op *op, const char *fmt, ...)
{
	struct ws_client *c = hub_find(op->client);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	log_info("worker %s: %s", op->mon->uuid, msg);
	if (c != NULL)
		ws_cmd_error(c, "%s", msg);
	free(msg);
}

static void
op_deadline_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct op *op = t->data;

	op->expired = 1;
	ops_kick(op->mon->uuid);
}

static void
op_retry_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct op *op = t->data;

	registry_probe_now(op->mon->uuid);
}

static void
op_arm(struct op *op, double seconds)
{
	ev_timer_stop(ops_loop, &op->deadline);
	op->expired = 0;
	ev_timer_set(&op->deadline, seconds, 0);
	ev_timer_start(ops_loop, &op->deadline);
}

static int
op_expired(struct op *op)
{
	return (op->expired);
}

static void
op_disarm(struct op *op)
{
	ev_timer_stop(ops_loop, &op->deadline);
	op->expired = 0;
}

static void
op_stopper_done(void *arg, enum probe_result r, const char *detail)
{
	struct op *op = arg;

	op->stopper = NULL;
	log_debug("worker %s: stop command: %s", op->mon->uuid,
	    r == PROBE_ACTIVE ? "sent" : detail);
}

/* Asks the worker itself to stop (it saves its state), uuid verified. */
static void
op_send_ws_stop(struct op *op)
{
	json_object *entry = registry_entry(op->mon->uuid), *h, *p;

	if (op->stopper != NULL || entry == NULL ||
	    !registry_is_active(op->mon->uuid) ||
	    !json_object_object_get_ex(entry, "port", &p) ||
	    !json_object_is_type(p, json_type_int))
		return;
	op->stopper = probe_stop_worker(ops_loop,
	    json_object_object_get_ex(entry, "host", &h) &&
	            json_object_is_type(h, json_type_string)
	        ? json_object_get_string(h)
	        : "127.0.0.1",
	    json_object_get_int(p), op->mon->uuid, ops_cfg->probe_connect,
	    ops_cfg->probe_reply, op_stopper_done, op);
}

/*
 * The stop phase: the worker's own stop command, then the monitor's
 * bounded wait, SIGTERM and SIGKILL to the worker's process group, and
 * the monitor exits. A worker that is not running is stopped already.
 * Returns 1 when done.
 */
static int
op_stop_step(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL;

	switch (op->sub) {
	case 0:
		m->want_up = 0;
		op_send_ws_stop(op);
		if (m->pid <= 0 &&
		    (registry_live_pid(m->uuid) > 0 ||
		        monitors_worker_alive(m->uuid))) {
			/* Running without us: a monitor adopts it first. */
			if (monitors_start(m, &cause) == -1) {
				log_warnx("worker %s: %s", m->uuid, cause);
				free(cause);
			}
		}
		if (m->pid <= 0)
			return (1);
		(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
		op_arm(op,
		    ops_cfg->stop_timeout + ops_cfg->kill_timeout + OP_SLACK);
		if (op->sub == 0 && op->restarts_left == 0 && !op->stop_tried) {
			op->restarts_left = 3;
			op->stop_tried = 1;
		}
		op->sub = 1;
		return (0);
	case 1:
		if (m->pid <= 0 && registry_live_pid(m->uuid) == 0 &&
		    !monitors_worker_alive(m->uuid))
			return (1);
		if (m->pid <= 0 && op->restarts_left-- > 0) {
			/*
			 * The monitor died while its worker lives on: a new
			 * one adopts it and carries the stop out.
			 */
			op->sub = 0;
			return (op_stop_step(op));
		}
		if (!op_expired(op))
			return (0);
		monitors_kill(m);
		op_arm(op, OP_SLACK);
		op->sub = 2;
		return (0);
	default:
		if (m->pid <= 0 || op_expired(op))
			return (1);
		return (0);
	}
}

/* Reads the worker's JSON from disk for set_worker; NULL if unusable. */
static json_object *
op_read_json(struct op *op)
{
	char *path = xasprintf("%s/worker_%s.json", ops_cfg->workers_dir,
	         op->mon->uuid),
	     *buf;
	json_object *o, *u;
	const char *err;
	size_t len;

	if (fnwm_read_file(path, 16 * 1024 * 1024, &buf, &len) == -1) {
		free(path);
		return (NULL);
	}
	free(path);
	o = fnwm_json_parse(buf, len, &err);
	free(buf);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "uuid", &u) ||
	    !json_object_is_type(u, json_type_string) ||
	    strcmp(json_object_get_string(u), op->mon->uuid) != 0) {
		json_object_put(o);
		return (NULL);
	}
	return (o);
}

/* Relays the worker's runstate as progress: new texts only. */
static void
op_relay_runstate(struct op *op)
{
	char *path = xasprintf("%s/worker_%s.runstate", ops_cfg->workers_dir,
	         op->mon->uuid),
	     *buf, safe[256];
	size_t len;

	if (fnwm_read_file(path, 4096, &buf, &len) == -1) {
		free(path);
		return;
	}
	free(path);
	if (wfiles_runstate(buf, len, safe, sizeof safe) &&
	    strcmp(safe, op->runstate) != 0) {
		snprintf(op->runstate, sizeof op->runstate, "%s", safe);
		ops_progress(op, safe, 0.5, 1);
	}
	free(buf);
}

static void
op_contact_begin(struct op *op)
{
	ops_progress(op, "Contacting worker.", 0.5, 1);
	op->runstate[0] = '\0';
	op_arm(op, ops_cfg->activate_timeout);
	ev_timer_set(&op->retry, OP_RETRY, OP_RETRY);
	ev_timer_start(ops_loop, &op->retry);
	op->phase = P_CONTACT;
	registry_urgent(op->mon->uuid, 1);
	registry_probe_now(op->mon->uuid);
}

/* Returns 1 when the activation finished, either way. */
static int
op_contact_step(struct op *op)
{
	struct monitor *m = op->mon;
	json_object *o, *msg;
	struct ws_client *c;

	if (registry_is_active(m->uuid) && (o = op_read_json(op)) != NULL) {
		c = hub_find(op->client);
		if (c != NULL) {
			msg = json_object_new_object();
			json_object_object_add(msg, "type",
			    json_object_new_string("set_worker"));
			json_object_object_add(msg, "data", o);
			hub_send_json(c, msg);
			json_object_put(msg);
		} else
			json_object_put(o);
		log_debug("worker %s: handed to the requester", m->uuid);
		ops_reset(op);
		return (1);
	}
	op_relay_runstate(op);
	if (m->have_st && m->st.state != FNWM_WS_DOWN &&
	    m->st.state != FNWM_WS_FAILED)
		op->sub = 1; /* the monitor has taken the start */
	if (op_expired(op) ||
	    (op->sub == 1 && m->have_st &&
	        (m->st.state == FNWM_WS_FAILED ||
	            m->st.state == FNWM_WS_DOWN)) ||
	    (op->sub == 1 && m->pid <= 0 && !m->want_up)) {
		char why[128] = "";

		/* FuncNodes' text first; then why, for people. */
		if (op_expired(op))
			snprintf(why, sizeof why,
			    " It did not answer within "
			    "%.0f s.",
			    ops_cfg->activate_timeout);
		else if (m->have_st && m->st.last_exit != FNWM_EXIT_NONE &&
		    m->st.last_exit != FNWM_EXIT_UNKNOWN)
			snprintf(why, sizeof why, " It exited (%s %d)%s.",
			    m->st.last_exit < 0 ? "signal" : "status",
			    m->st.last_exit < 0 ? -m->st.last_exit
			                        : m->st.last_exit,
			    m->st.state == FNWM_WS_FAILED
			        ? " and the restart policy gave up"
			        : "");
		ops_error(op, "Could not activate worker with id %s.%s",
		    m->uuid, why);
		ops_reset(op);
		return (1);
	}
	return (0);
}

/* A worker whose interpreter is gone cannot start: say so at once. */
static int
op_interpreter_ok(struct op *op)
{
	char *py = launch_python(ops_cfg, registry_entry(op->mon->uuid));
	int ok = strchr(py, '/') == NULL || access(py, X_OK) == 0;

	if (!ok) {
		ops_error(op,
		    "Could not activate worker with id %s: its interpreter "
		    "%s is missing (a deleted or broken virtual environment?)",
		    op->mon->uuid, py);
		ops_reset(op);
	}
	free(py);
	return (ok);
}

static int
op_activate(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL, *venv, *dir;

	switch (op->phase) {
	case P_BEGIN:
		ops_progress(op, "Activating worker.", 0.1, 1);
		registry_refresh_now(m->uuid);
		if (registry_entry(m->uuid) == NULL) {
			ops_error(op, "Worker with id %s not found.", m->uuid);
			ops_reset(op);
			return (1);
		}
		if (registry_is_active(m->uuid)) {
			/*
			 * Answering already: make sure it stays up, under a
			 * monitor (adopting it if it has none) and with no
			 * stop of an earlier master still running.
			 */
			m->want_up = 1;
			if (m->pid <= 0 ||
			    (m->have_st && m->st.state == FNWM_WS_STOPPING)) {
				if (monitors_start(m, &cause) == -1) {
					log_warnx("worker %s: %s", m->uuid,
					    cause);
					free(cause);
				}
			}
			op->sub = 1;
			op_contact_begin(op);
			return (op_contact_step(op));
		}
		if (!op_interpreter_ok(op))
			return (1);
		if (master_cfg->upgrade_on_start &&
		    (venv = venv_dir(registry_entry(m->uuid))) != NULL) {
			free(venv);
			ops_progress(op, "Updating worker.", 0.2, 1);
			m->want_up = 0;
			if (monitors_start(m, &cause) == -1) {
				log_warnx("worker %s: %s", m->uuid, cause);
				free(cause);
				ops_error(op,
				    "Could not activate worker with id %s.",
				    m->uuid);
				ops_reset(op);
				return (1);
			}
			dir = launch_data_dir(ops_cfg, m->uuid,
			    registry_entry(m->uuid));
			venv_plan_upgrades(op, registry_entry(m->uuid), dir);
			free(dir);
			op->phase = P_UPGRADE;
			return (op_activate(op));
		}
		/* FALLTHROUGH */
	case P_UPGRADE:
		if (op->phase == P_UPGRADE && op->preempted) {
			/* A stop or delete came: its exit cancels the step. */
			m->want_up = 0;
			(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
			ops_error(op,
			    "Could not activate worker with id %s. "
			    "Cancelled by a stop.",
			    m->uuid);
			ops_reset(op);
			return (1);
		}
		if (op->phase == P_UPGRADE && !venv_run_steps(op))
			return (0);
		ops_progress(op, "Starting worker.", 0.4, 1);
		m->want_up = 1;
		if (monitors_start(m, &cause) == -1) {
			log_warnx("worker %s: %s", m->uuid, cause);
			m->want_up = 0;
			ops_error(op,
			    "Could not activate worker with id %s: %s", m->uuid,
			    cause);
			free(cause);
			ops_reset(op);
			return (1);
		}
		/* The monitor's next states are about this start. */
		m->have_st = 0;
		op->sub = 0;
		op_contact_begin(op);
		return (op_contact_step(op));
	default:
		return (op_contact_step(op));
	}
}

static int
op_stop(struct op *op)
{
	struct monitor *m = op->mon;

	if (op->phase == P_BEGIN) {
		registry_refresh_now(m->uuid);
		if (registry_entry(m->uuid) == NULL && m->pid <= 0 &&
		    !registry_json_exists(m->uuid)) {
			ops_error(op, "Worker %s not found", m->uuid);
			return (1);
		}
		ops_progress(op, "Stopping worker.", 0.1, 1);
		op->phase = P_STOPPING;
		op->sub = 0;
	}
	if (!op_stop_step(op))
		return (0);
	if (m->pid <= 0)
		monitors_forget_status(m->uuid);
	registry_refresh_now(m->uuid);
	ops_reset(op);
	return (1);
}

static int
op_restart(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL;
	pid_t live;

	switch (op->phase) {
	case P_BEGIN:
		registry_refresh_now(m->uuid);
		if (registry_entry(m->uuid) == NULL) {
			ops_error(op, "Worker with id %s not found.", m->uuid);
			ops_reset(op);
			return (1);
		}
		ops_progress(op, "Stopping worker.", 0.1, 1);
		live = registry_live_pid(m->uuid);
		op->old_pid = live > 0 ? live : (m->have_st ? m->st.pid : 0);
		op_send_ws_stop(op);
		m->want_up = 1;
		if (m->pid > 0) {
			(void)monitors_stop_cmd(m, FNWM_MSG_CMD_RESTART);
		} else if (live > 0) {
			/* Adopt it first (config only), then restart it. */
			m->want_up = 0;
			if (monitors_start(m, &cause) == 0)
				(void)monitors_stop_cmd(m,
				    FNWM_MSG_CMD_RESTART);
			m->want_up = 1;
		} else
			(void)monitors_start(m, &cause);
		if (cause != NULL) {
			log_warnx("worker %s: %s", m->uuid, cause);
			free(cause);
			ops_error(op, "Could not activate worker with id %s.",
			    m->uuid);
			ops_reset(op);
			return (1);
		}
		m->have_st = 0;
		op->mon_gen = m->gen;
		op_arm(op,
		    ops_cfg->stop_timeout + ops_cfg->kill_timeout + OP_SLACK);
		op->phase = P_RESTARTING;
		return (0);
	case P_RESTARTING:
		if (m->gen != op->mon_gen && m->pid > 0 && m->have_st &&
		    m->st.pid > 0 && m->st.pid == op->old_pid) {
			/*
			 * The monitor died before it restarted the worker;
			 * its replacement adopted the old one: ask again.
			 */
			op->mon_gen = m->gen;
			op_send_ws_stop(op);
			(void)monitors_stop_cmd(m, FNWM_MSG_CMD_RESTART);
			op_arm(op,
			    ops_cfg->stop_timeout + ops_cfg->kill_timeout +
			        OP_SLACK);
			return (0);
		}
		if (m->have_st && m->st.pid > 0 && m->st.pid != op->old_pid &&
		    (m->st.state == FNWM_WS_STARTING ||
		        m->st.state == FNWM_WS_RUNNING)) {
			ops_reset(op);
			ops_progress(op, "Activating worker.", 0.1, 1);
			op->sub = 1;
			op_disarm(op);
			op_contact_begin(op);
			return (op_contact_step(op));
		}
		if (op_expired(op) ||
		    (m->have_st && m->st.state == FNWM_WS_FAILED) ||
		    m->pid <= 0) {
			ops_reset(op);
			ops_error(op, "Could not activate worker with id %s.",
			    m->uuid);
			ops_reset(op);
			return (1);
		}
		return (0);
	default:
		return (op_contact_step(op));
	}
}

static void
op_rm_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct op *op = w->data;

	ev_child_stop(loop, w);
	op->rm_pid = 0;
	op->rm_status = w->rstatus;
	ops_kick(op->mon->uuid);
}

/* Removes a confined data dir in a child: a venv holds thousands of files. */
static void
op_rm_dir(struct op *op, const char *dir)
{
	op->rm_pid = paths_remove_data_dir(ops_cfg, dir);
	if (op->rm_pid > 0) {
		ev_child_set(&op->rmw, op->rm_pid, 0);
		ev_child_start(ops_loop, &op->rmw);
	}
}

/* Unlinks worker_<uuid><suffix> for each suffix, in the workers dir. */
static void
op_unlink_files(const char *uuid, const char *const *suffixes)
{
	char name[512];
	int wfd, i;

	wfd = open(ops_cfg->workers_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (wfd == -1) {
		log_warn("open %s", ops_cfg->workers_dir);
		return;
	}
	for (i = 0; suffixes[i] != NULL; i++) {
		snprintf(name, sizeof name, "worker_%s%s", uuid, suffixes[i]);
		if (unlinkat(wfd, name, 0) == -1 && errno != ENOENT)
			log_warn("unlink %s/%s", ops_cfg->workers_dir, name);
	}
	close(wfd);
}

/*
 * Removes a deleted worker's files and starts the removal of its data
 * dir: only one beneath the workers dir or an allowed data root, walked
 * through fds (a symlink in it is unlinked, never followed). The JSON
 * goes last (op_remove_json), once the data dir is gone: a master killed
 * in between leaves a worker that is still listed and can be deleted
 * again, never a data dir that no worker names.
 */
static void
op_remove_files(struct op *op)
{
	static const char *const suffixes[] = { ".p", ".runstate", ".status",
		".run.lock", ".lock", ".sock", NULL };
	const char *uuid = op->mon->uuid;
	char *dir;

	op_unlink_files(uuid, suffixes);
	dir = launch_data_dir(ops_cfg, uuid, registry_entry(uuid));
	op_rm_dir(op, dir);
	free(dir);
}

static void
op_remove_json(struct op *op)
{
	static const char *const json[] = { ".json", NULL };

	op_unlink_files(op->mon->uuid, json);
}
static int
op_delete(struct op *op)
{
	struct monitor *m = op->mon;
	struct ws_client *c;
	json_object *o;

	switch (op->phase) {
	case P_BEGIN:
		registry_refresh_now(m->uuid);
		if (registry_entry(m->uuid) == NULL &&
		    !registry_json_exists(m->uuid)) {
			ops_error(op, "Worker %s not found", m->uuid);
			return (1);
		}
		ops_progress(op, "Deleting worker...", 0.1, 1);
		m->want_up = 0;
		if (m->pid > 0 || registry_live_pid(m->uuid) > 0) {
			ops_progress(op, "Stopping worker.", 0.1, 1);
			op->phase = P_STOPPING;
			op->sub = 0;
		} else
			op->phase = P_REMOVE;
		return (op_delete(op));
	case P_STOPPING:
		if (!op_stop_step(op))
			return (0);
		ops_reset(op);
		registry_refresh_now(m->uuid);
		if (m->pid > 0 || registry_live_pid(m->uuid) > 0) {
			ops_error(op, "Could not stop worker %s; not deleted",
			    m->uuid);
			ops_reset(op);
			return (1);
		}
		op->phase = P_REMOVE;
		/* FALLTHROUGH */
	case P_REMOVE:
		ops_progress(op, "Removing files...", 0.6, 1);
		op_remove_files(op);
		op->phase = P_RM_WAIT;
		/* FALLTHROUGH */
	case P_RM_WAIT:
		if (op->rm_pid > 0)
			return (0);
		if (op->rm_status != 0)
			log_warnx("worker %s: removing its data dir failed "
			          "(status %d)",
			    m->uuid, op->rm_status);
		op_remove_json(op);
		registry_refresh_now(m->uuid);
		ops_progress(op, "Worker deleted.", 1.0, 1);
		c = hub_find(op->client);
		if (c != NULL) {
			o = json_object_new_object();
			json_object_object_add(o, "type",
			    json_object_new_string("worker_deleted"));
			json_object_object_add(o, "uuid",
			    json_object_new_string(m->uuid));
			hub_send_json(c, o);
			json_object_put(o);
		}
		ops_reset(op);
		log_info("worker %s: deleted", m->uuid);
		return (1);
	}
	return (1);
}

static void
op_create_failed(struct op *op, const char *why)
{
	struct monitor *m = op->mon;

	ops_error(op, "new_worker: could not create worker %s: %s", m->uuid,
	    why);
	ops_progress(op, "", 1.0, 0);
	/* Its exit cancels a running step (the whole process group). */
	(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
	op->phase = P_CLEANUP;
}

/*
 * After a failed or cancelled creation: once the monitor is gone, its
 * lock and status files and the half-made data dir go too. 1 when done.
 */
static int
op_create_cleanup(struct op *op)
{
	static const char *const suffixes[] = { ".lock", ".run.lock", ".status",
		".sock", ".runstate", ".p", NULL };
	struct monitor *m = op->mon;
	char *dir;

	if (op->phase == P_CLEANUP) {
		if (m->pid > 0)
			return (0);
		op_unlink_files(m->uuid, suffixes);
		if (op->made_dir) {
			/* Nothing half-made stays behind. */
			dir = launch_data_dir(ops_cfg, m->uuid, op->json);
			op_rm_dir(op, dir);
			free(dir);
		}
		op->phase = P_RM_WAIT;
	}
	return (op->rm_pid > 0 ? 0 : 1);
}

static int
op_create(struct op *op)
{
	struct monitor *m = op->mon;
	char *dir, *venv, *path, *cause = NULL;
	const char *text;
	struct ws_client *c;
	json_object *o;

	switch (op->phase) {
	case P_BEGIN:
		m->want_up = 0;
		if (registry_json_exists(m->uuid)) {
			op->made_dir = 0;
			op_create_failed(op, "it already exists");
			return (op_create_cleanup(op));
		}
		if (monitors_start_entry(m, op->json, &cause) == -1) {
			op_create_failed(op, cause);
			free(cause);
			return (op_create_cleanup(op));
		}
		dir = launch_data_dir(ops_cfg, m->uuid, op->json);
		venv_plan_create(op, dir, 1);
		free(dir);
		op->phase = P_STEPS;
		/* FALLTHROUGH */
	case P_STEPS:
		if (op->preempted) {
			op_create_failed(op, "cancelled");
			return (op_create_cleanup(op));
		}
		if (!venv_run_steps(op))
			return (0);
		if (op->steps_failed) {
			op_create_failed(op, op->fail_summary);
			return (op_create_cleanup(op));
		}
		dir = launch_data_dir(ops_cfg, m->uuid, op->json);
		venv = xasprintf("%s/.venv", dir);
		free(dir);
		json_object_object_add(op->json, "env_path",
		    json_object_new_string(venv));
		free(venv);
		ops_progress(op, "Writing configuration.", 0.9, 1);
		path = xasprintf("%s/worker_%s.json", ops_cfg->workers_dir,
		    m->uuid);
		text = json_object_to_json_string_ext(op->json,
		    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
		if (fnwm_atomic_write(path, text, strlen(text), 0600) == -1) {
			cause =
			    xasprintf("write %s: %s", path, strerror(errno));
			free(path);
			op_create_failed(op, cause);
			free(cause);
			return (op_create_cleanup(op));
		}
		free(path);
		ops_progress(op, "Creating new worker.", 1.0, 1);
		if ((c = hub_find(op->client)) != NULL) {
			o = json_object_new_object();
			json_object_object_add(o, "type",
			    json_object_new_string("worker_created"));
			json_object_object_add(o, "uuid",
			    json_object_new_string(m->uuid));
			hub_send_json(c, o);
			json_object_put(o);
		}
		ops_progress(op, "", 1.0, 0);
		(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
		log_info("worker %s: created in a virtual environment",
		    m->uuid);
		registry_refresh_now(m->uuid);
		/* The next operation starts once this monitor is gone. */
		op->phase = P_MON_EXIT;
		return (m->pid <= 0);
	case P_MON_EXIT:
		return (m->pid <= 0);
	default:
		/* P_CLEANUP / P_RM_WAIT after a failure */
		return (op_create_cleanup(op));
	}
}

static int
op_repair(struct op *op)
{
	struct monitor *m = op->mon;
	char *venv, *dir, *cause = NULL;

	switch (op->phase) {
	case P_BEGIN:
		registry_refresh_now(m->uuid);
		if (registry_entry(m->uuid) == NULL) {
			ops_error(op, "Worker %s not found", m->uuid);
			return (1);
		}
		if ((venv = venv_dir(registry_entry(m->uuid))) == NULL) {
			ops_error(op,
			    "worker %s has no virtual environment "
			    "to repair",
			    m->uuid);
			return (1);
		}
		free(venv);
		ops_progress(op, "Repairing worker.", 0.1, 1);
		op->phase = P_STOPPING;
		op->sub = 0;
		/* FALLTHROUGH */
	case P_STOPPING:
		if (!op_stop_step(op))
			return (0);
		if (monitors_start(m, &cause) == -1) {
			ops_error(op, "could not repair worker %s: %s", m->uuid,
			    cause);
			free(cause);
			ops_reset(op);
			return (1);
		}
		dir =
		    launch_data_dir(ops_cfg, m->uuid, registry_entry(m->uuid));
		venv_plan_repair(op, registry_entry(m->uuid), dir);
		free(dir);
		op->phase = P_STEPS;
		return (op_repair(op));
	case P_MON_EXIT:
		return (m->pid <= 0);
	default:
		if (!op->preempted && !venv_run_steps(op))
			return (0);
		if (op->preempted)
			ops_error(op, "could not repair worker %s: cancelled",
			    m->uuid);
		else if (op->steps_failed)
			ops_error(op, "could not repair worker %s: %s", m->uuid,
			    op->fail_summary);
		else
			ops_progress(op, "Worker repaired.", 1.0, 1);
		ops_reset(op);
		(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
		op->phase = P_MON_EXIT;
		return (m->pid <= 0);
	}
}

static int
op_step(struct op *op)
{
	switch (op->kind) {
	case OP_ACTIVATE:
		return (op_activate(op));
	case OP_STOP:
		return (op_stop(op));
	case OP_RESTART:
		return (op_restart(op));
	case OP_DELETE:
		return (op_delete(op));
	case OP_CREATE:
		return (op_create(op));
	case OP_REPAIR:
		return (op_repair(op));
	case OP_NONE:
		break;
	}
	return (1);
}

static void
op_free(struct op *op)
{
	struct ws_client *c = hub_find(op->client);

	if (c != NULL && c->ops > 0 && --c->ops == 0 && c->reset_owed) {
		/* A creation's reset it was spared: clear its display now. */
		c->reset_owed = 0;
		ws_cmd_progress(c, "", 1.0, 0);
	}
	if (op->phase == P_CONTACT)
		registry_urgent(op->mon->uuid, 0);
	ev_timer_stop(ops_loop, &op->deadline);
	ev_timer_stop(ops_loop, &op->retry);
	if (op->stopper != NULL)
		probe_cancel(op->stopper);
	if (op->rm_pid > 0)
		ev_child_stop(ops_loop, &op->rmw);
	venv_free_steps(op);
	json_object_put(op->json);
	if (op->autostart)
		autostart_done();
	free(op);
}

static void
ops_run(struct monitor *m)
{
	struct op *op;

	while ((op = TAILQ_FIRST(&m->ops)) != NULL) {
		/* Never talk to a monitor on its way out: wait for it. */
		if (op->phase == P_BEGIN && m->exiting && m->pid > 0)
			break;
		if (!op_step(op))
			break;
		TAILQ_REMOVE(&m->ops, op, entry);
		op_free(op);
	}
	monitors_gc();
}

static void
ops_kick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m;

	while ((m = TAILQ_FIRST(&ops_kicks)) != NULL) {
		TAILQ_REMOVE(&ops_kicks, m, kickq);
		m->kicked = 0;
		ops_run(m);
	}
}

void
ops_kick(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	if (m == NULL || TAILQ_EMPTY(&m->ops) || m->kicked)
		return;
	m->kicked = 1;
	TAILQ_INSERT_TAIL(&ops_kicks, m, kickq);
	if (!ev_is_active(&ops_kick_timer))
		ev_timer_start(ops_loop, &ops_kick_timer);
}

void
ops_submit(enum op_kind kind, const char *uuid, uint64_t client)
{
	struct monitor *m = monitors_get(uuid);
	struct op *op = xcalloc(1, sizeof *op);
	struct ws_client *c = hub_find(client);

	if (c != NULL)
		c->ops++;
	op->kind = kind;
	op->client = client;
	op->mon = m;
	op->phase = P_BEGIN;
	ev_timer_init(&op->deadline, op_deadline_cb, 0, 0);
	op->deadline.data = op;
	ev_timer_init(&op->retry, op_retry_cb, OP_RETRY, OP_RETRY);
	op->retry.data = op;
	ev_child_init(&op->rmw, op_rm_cb, 0, 0);
	op->rmw.data = op;
	/* A stop or delete does not wait behind a long preparation step. */
	if ((kind == OP_STOP || kind == OP_DELETE) && !TAILQ_EMPTY(&m->ops)) {
		struct op *head = TAILQ_FIRST(&m->ops);

		if (head->phase == P_UPGRADE || head->phase == P_STEPS)
			head->preempted = 1;
	}
	TAILQ_INSERT_TAIL(&m->ops, op, entry);
	ops_kick(uuid);
}

void
ops_submit_autostart(const char *uuid)
{
	struct monitor *m;

	ops_submit(OP_ACTIVATE, uuid, 0);
	m = monitors_find(uuid);
	TAILQ_LAST(&m->ops, op_list)->autostart = 1;
}

void
ops_submit_create(const char *uuid, uint64_t client, json_object *json,
    int made_dir)
{
	struct monitor *m;
	struct op *op;

	ops_submit(OP_CREATE, uuid, client);
	m = monitors_find(uuid);
	op = TAILQ_LAST(&m->ops, op_list);
	op->json = json;
	op->made_dir = made_dir;
	op->broadcast = 1;
}

size_t
ops_pending(void)
{
	struct monitor *m;
	struct op *op;
	size_t n = 0;

	TAILQ_FOREACH(m, monitors_list(), entry)
		TAILQ_FOREACH(op, &m->ops, entry)
			n++;
	return (n);
}

void
ops_wind_down(void)
{
	struct monitor *m;
	struct op *op, *next;

	/*
	 * Shutting down: operations not yet begun are dropped; one in a
	 * preparation step is cancelled and cleans up after itself; the
	 * others end here.
	 */
	TAILQ_FOREACH(m, monitors_list(), entry) {
		for (op = TAILQ_FIRST(&m->ops); op != NULL; op = next) {
			next = TAILQ_NEXT(op, entry);
			if (op == TAILQ_FIRST(&m->ops) &&
			    (op->phase == P_STEPS || op->phase == P_UPGRADE ||
			        op->phase == P_CLEANUP ||
			        op->phase == P_RM_WAIT)) {
				op->preempted = 1;
				ops_kick(m->uuid);
				continue;
			}
			TAILQ_REMOVE(&m->ops, op, entry);
			op_free(op);
		}
	}
}

void
ops_cancel_all(void)
{
	struct monitor *m;
	struct op *op;

	ev_timer_stop(ops_loop, &ops_kick_timer);
	TAILQ_FOREACH(m, monitors_list(), entry) {
		if (m->kicked) {
			TAILQ_REMOVE(&ops_kicks, m, kickq);
			m->kicked = 0;
		}
		while ((op = TAILQ_FIRST(&m->ops)) != NULL) {
			TAILQ_REMOVE(&m->ops, op, entry);
			op_free(op);
		}
	}
}

void
ops_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	ops_loop = loop;
	ops_cfg = cfg;
	ev_timer_init(&ops_kick_timer, ops_kick_cb, 0, 0);
}
