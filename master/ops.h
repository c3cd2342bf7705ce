/* SPDX-License-Identifier: MIT */
/* operations on one worker, serialised per worker, and their venv steps */
#ifndef FNWM_MASTER_OPS_H
#define FNWM_MASTER_OPS_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <json-c/json.h>

#include "config.h"
#include "monitors.h"
#include "proto.h"

struct monitor;
struct probe;

/*
 * ops.c: operations on one worker, serialised per worker; each kind is a
 * phase table of its own file (op-activate.c ... op-repair.c, see op.h)
 */
enum op_kind {
	OP_NONE, /* not an operation (a command row that runs its own exec) */
	OP_ACTIVATE,
	OP_STOP,
	OP_RESTART,
	OP_DELETE,
	OP_CREATE, /* new_worker in a venv */
	OP_REPAIR, /* recreate a worker's venv */
};

/* One preparation step an operation has the monitor run. */
struct op_step {
	char *label; /* progress text, or NULL */
	double progress;
	int best_effort; /* a failure is reported, not fatal */
	char *failure;   /* progress text on failure (best effort) */
	char *cwd;
	char *argv[FNWM_ARGV_MAX + 1];
	int argc;
};
struct op {
	enum op_kind kind;
	uint64_t client;
	struct monitor *mon;
	struct ev_loop *loop;
	const struct fnwm_config *cfg;
	int phase;    /* in its kind's phase table (op.h) */
	int stopping; /* the stopping's own phase (op-common.c) */
	int taken;    /* contact: the monitor has taken the start */
	ev_timer deadline;
	int expired;       /* the deadline fired */
	int preempted;     /* a stop or delete cancels this one */
	int restarts_left; /* stop: monitors we may start to finish it */
	int stop_tried;
	ev_timer retry;
	int32_t old_pid;
	unsigned mon_gen; /* restart: the monitor the command went to */
	char runstate[256];
	struct probe *stopper;
	pid_t rm_pid;
	ev_child rmw;
	int rm_status;
	int broadcast;         /* progress goes to every client */
	json_object *json;     /* OP_CREATE: the worker's JSON to write */
	int made_dir;          /* OP_CREATE: the data dir is ours to remove */
	struct op_step *steps; /* preparation steps, run in order */
	int nsteps, cur;
	int step_sent;
	int steps_failed;
	char *fail_summary;
	int autostart;   /* an activation of autostart.c */
	int step_slot;   /* holds one of fnwm.max_parallel_steps */
	int step_queued; /* waits in the step queue for a slot */
	TAILQ_ENTRY(op) entry;
	TAILQ_ENTRY(op) stepq;
};
void ops_init(struct ev_loop *, const struct fnwm_config *);
/* Queues an operation on uuid for the client with id client. */
void ops_submit(enum op_kind, const char *uuid, uint64_t client);
/* Something about uuid changed: let its operation look again. */
void ops_kick(const char *uuid);
/* Drops every operation (teardown). */
void ops_cancel_all(void);
/* Shutdown: cancels what may be cancelled, so it cleans up. */
void ops_wind_down(void);
size_t ops_pending(void);
/* Progress and error to an operation's requester, if still there. */
void
ops_progress(struct op *, const char *message, double progress, int blocking);
void ops_error(struct op *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queues the activation of a worker the manager starts by itself. */
void ops_submit_autostart(const char *uuid);
/* Queues OP_CREATE for a worker whose JSON is built (takes json). */
void ops_submit_create(const char *uuid, uint64_t client, json_object *json,
    int made_dir);

/* venv.c: the steps of venvs and upgrades */
/* The configuration the steps follow (uv, pythons, limits); by ops_init. */
void venv_init(const struct fnwm_config *);
void venv_free_steps(struct op *);
/* Steps running now, across all workers (for /metrics). */
int venv_steps_running(void);
/* The steps creating dir/.venv with funcnodes in it. */
void venv_plan_create(struct op *, const char *datadir, int broadcast);
/* The update_on_startup upgrades of a worker's venv. */
void venv_plan_upgrades(struct op *, json_object *entry, const char *datadir);
/* Recreating a venv with the worker's recorded dependencies. */
void venv_plan_repair(struct op *, json_object *entry, const char *datadir);
/* Runs the planned steps; 1 when all ran (or one that matters failed). */
int venv_run_steps(struct op *);
/* Absolute path of a worker's venv dir, or NULL when it has none. */
char *venv_dir(json_object *entry);

#endif
