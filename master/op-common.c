/* SPDX-License-Identifier: MIT */
/*
 * The pieces several operations run: their deadline and watchers,
 * stopping a worker (a small table of its own), waiting for a worker to
 * answer, and removing a worker's files. Each kind's own table is in its
 * op-<kind>.c.
 */
#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "op.h"

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
op_rm_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct op *op = w->data;

	ev_child_stop(loop, w);
	op->rm_pid = 0;
	op->rm_status = w->rstatus;
	ops_kick(op->mon->uuid);
}

void
op_watchers_init(struct op *op)
{
	ev_timer_init(&op->deadline, op_deadline_cb, 0, 0);
	op->deadline.data = op;
	ev_timer_init(&op->retry, op_retry_cb, OP_RETRY, OP_RETRY);
	op->retry.data = op;
	ev_child_init(&op->rmw, op_rm_cb, 0, 0);
	op->rmw.data = op;
}

void
op_watchers_stop(struct op *op)
{
	ev_timer_stop(op->loop, &op->deadline);
	ev_timer_stop(op->loop, &op->retry);
	if (op->stopper != NULL)
		probe_cancel(op->stopper);
	op->stopper = NULL;
	if (op->rm_pid > 0)
		ev_child_stop(op->loop, &op->rmw);
}

void
op_arm(struct op *op, double seconds)
{
	ev_timer_stop(op->loop, &op->deadline);
	op->expired = 0;
	ev_timer_set(&op->deadline, seconds, 0);
	ev_timer_start(op->loop, &op->deadline);
}

int
op_expired(const struct op *op)
{
	return (op->expired);
}

void
op_disarm(struct op *op)
{
	ev_timer_stop(op->loop, &op->deadline);
	op->expired = 0;
}

void
op_reset(struct op *op)
{
	ops_progress(op, "", 1.0, 0);
}

void
op_tell_requester(struct op *op, const char *type)
{
	struct ws_client *c = hub_find(op->client);
	json_object *o;

	if (c == NULL)
		return;
	o = json_object_new_object();
	json_object_object_add(o, "type", json_object_new_string(type));
	json_object_object_add(o, "uuid",
	    json_object_new_string(op->mon->uuid));
	hub_send_json(c, o);
	json_object_put(o);
}

static void
op_stopper_done(void *arg, enum probe_result r, const char *detail)
{
	struct op *op = arg;

	op->stopper = NULL;
	log_debug("worker %s: stop command: %s", op->mon->uuid,
	    r == PROBE_ACTIVE ? "sent" : detail);
}

void
op_send_ws_stop(struct op *op)
{
	json_object *entry = registry_entry(op->mon->uuid), *h, *p;

	if (op->stopper != NULL || entry == NULL ||
	    !registry_is_active(op->mon->uuid) ||
	    !json_object_object_get_ex(entry, "port", &p) ||
	    !json_object_is_type(p, json_type_int))
		return;
	op->stopper = probe_stop_worker(op->loop,
	    json_object_object_get_ex(entry, "host", &h) &&
	            json_object_is_type(h, json_type_string)
	        ? json_object_get_string(h)
	        : "127.0.0.1",
	    json_object_get_int(p), op->mon->uuid, op->cfg->probe_connect,
	    op->cfg->probe_reply, op_stopper_done, op);
}

/*
 * Stopping, as a table: ask (the worker's stop command and the monitor's
 * exit with escalation), wait for both to be gone (a monitor that died
 * meanwhile is replaced, up to three times, to carry the stop out), and
 * after the deadline kill the monitor and its worker outright.
 */
enum stopping_phase {
	STOPPING_ASK,
	STOPPING_WAIT,
	STOPPING_KILLED,
	STOPPING_DONE,
};

/* Whether the worker runs without a monitor of ours. */
static int
op_worker_orphaned(const struct monitor *m)
{
	return (m->pid <= 0 &&
	    (registry_live_pid(m->uuid) > 0 || monitors_worker_alive(m->uuid)));
}

int
op_worker_running(const struct monitor *m)
{
	return (m->pid > 0 || registry_live_pid(m->uuid) > 0 ||
	    monitors_worker_alive(m->uuid));
}

static int
stopping_ask(struct op *op)
{
	struct monitor *m = op->mon;
	char *cause = NULL;

	m->want_up = 0;
	op_send_ws_stop(op);
	/* Running without us: a monitor adopts it first. */
	if (op_worker_orphaned(m) && monitors_start(m, &cause) == -1) {
		log_warnx("worker %s: %s", m->uuid, cause);
		free(cause);
	}
	if (m->pid <= 0)
		return (STOPPING_DONE);
	(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
	op_arm(op, op->cfg->stop_timeout + op->cfg->kill_timeout + OP_SLACK);
	if (!op->stop_tried) {
		op->restarts_left = 3;
		op->stop_tried = 1;
	}
	return (STOPPING_WAIT);
}

static int
stopping_wait(struct op *op)
{
	struct monitor *m = op->mon;

	if (m->pid <= 0 && !op_worker_orphaned(m))
		return (STOPPING_DONE);
	/*
	 * The monitor died while its worker lives on: a new one adopts it
	 * and carries the stop out.
	 */
	if (m->pid <= 0 && op->restarts_left-- > 0)
		return (STOPPING_ASK);
	if (!op_expired(op))
		return (STOPPING_WAIT);
	monitors_kill(m);
	op_arm(op, OP_SLACK);
	return (STOPPING_KILLED);
}

static int
stopping_killed(struct op *op)
{
	if (op->mon->pid <= 0 || op_expired(op))
		return (STOPPING_DONE);
	return (STOPPING_KILLED);
}

static int (*const stopping_table[STOPPING_DONE])(struct op *) = {
	[STOPPING_ASK] = stopping_ask,
	[STOPPING_WAIT] = stopping_wait,
	[STOPPING_KILLED] = stopping_killed,
};

void
op_stopping_begin(struct op *op)
{
	op->stopping = STOPPING_ASK;
}

int
op_stopping(struct op *op)
{
	int next;

	for (;;) {
		FNWM_ASSERT(op->stopping >= 0 && op->stopping < STOPPING_DONE);
		next = stopping_table[op->stopping](op);
		if (next == op->stopping)
			return (0);
		op->stopping = next;
		if (next == STOPPING_DONE)
			return (1);
	}
}

/* Reads the worker's JSON from disk for set_worker; NULL if unusable. */
static json_object *
op_read_json(struct op *op)
{
	char *path = xasprintf("%s/worker_%s.json", op->cfg->workers_dir,
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
	char *path = xasprintf("%s/worker_%s.runstate", op->cfg->workers_dir,
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

void
op_contact_begin(struct op *op)
{
	ops_progress(op, "Contacting worker.", 0.5, 1);
	op->runstate[0] = '\0';
	op_arm(op, op->cfg->activate_timeout);
	ev_timer_set(&op->retry, OP_RETRY, OP_RETRY);
	ev_timer_start(op->loop, &op->retry);
	registry_urgent(op->mon->uuid, 1);
	registry_probe_now(op->mon->uuid);
}

/* Hands the worker's JSON to the requester: set_worker. */
static void
op_hand_over(struct op *op, json_object *o)
{
	struct ws_client *c = hub_find(op->client);
	json_object *msg;

	if (c == NULL) {
		json_object_put(o);
		return;
	}
	msg = json_object_new_object();
	json_object_object_add(msg, "type",
	    json_object_new_string("set_worker"));
	json_object_object_add(msg, "data", o);
	hub_send_json(c, msg);
	json_object_put(msg);
}

/* Whether the start the monitor took is over without an answer. */
static int
op_start_failed(const struct op *op)
{
	const struct monitor *m = op->mon;

	if (!op->taken)
		return (0);
	if (m->have_st &&
	    (m->st.state == FNWM_WS_FAILED || m->st.state == FNWM_WS_DOWN))
		return (1);
	return (m->pid <= 0 && !m->want_up);
}

/* FuncNodes' text first; then why, for people. */
static void
op_contact_failed(struct op *op)
{
	const struct monitor *m = op->mon;
	char why[128] = "";

	if (op_expired(op))
		snprintf(why, sizeof why, " It did not answer within %.0f s.",
		    op->cfg->activate_timeout);
	else if (m->have_st && m->st.last_exit != FNWM_EXIT_NONE &&
	    m->st.last_exit != FNWM_EXIT_UNKNOWN)
		snprintf(why, sizeof why, " It exited (%s %d)%s.",
		    m->st.last_exit < 0 ? "signal" : "status",
		    m->st.last_exit < 0 ? -m->st.last_exit : m->st.last_exit,
		    m->st.state == FNWM_WS_FAILED
		        ? " and the restart policy gave up"
		        : "");
	ops_error(op, "Could not activate worker with id %s.%s", m->uuid, why);
	op_reset(op);
}

int
op_contact(struct op *op)
{
	struct monitor *m = op->mon;
	json_object *o;

	if (registry_is_active(m->uuid) && (o = op_read_json(op)) != NULL) {
		op_hand_over(op, o);
		log_debug("worker %s: handed to the requester", m->uuid);
		op_reset(op);
		return (OP_END);
	}
	op_relay_runstate(op);
	if (m->have_st && m->st.state != FNWM_WS_DOWN &&
	    m->st.state != FNWM_WS_FAILED)
		op->taken = 1;
	if (op_expired(op) || op_start_failed(op)) {
		op_contact_failed(op);
		return (OP_END);
	}
	return (op->phase);
}

int
op_monitor_gone(struct op *op)
{
	return (op->mon->pid <= 0 ? OP_END : op->phase);
}

void
op_unlink_files(struct op *op, const char *const *suffixes)
{
	const char *dir = op->cfg->workers_dir;
	char name[512];
	int wfd, i;

	wfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (wfd == -1) {
		log_warn("open %s", dir);
		return;
	}
	for (i = 0; suffixes[i] != NULL; i++) {
		snprintf(name, sizeof name, "worker_%s%s", op->mon->uuid,
		    suffixes[i]);
		if (unlinkat(wfd, name, 0) == -1 && errno != ENOENT)
			log_warn("unlink %s/%s", dir, name);
	}
	close(wfd);
}

/* A venv holds thousands of files: never walked on the loop. */
void
op_rm_dir(struct op *op, const char *dir)
{
	op->rm_pid = paths_remove_data_dir(op->cfg, dir);
	if (op->rm_pid > 0) {
		ev_child_set(&op->rmw, op->rm_pid, 0);
		ev_child_start(op->loop, &op->rmw);
	}
}
