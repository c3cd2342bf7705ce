/* SPDX-License-Identifier: MIT */
/*
 * What the operations share (op-*.c, ops.c): the phase tables each kind
 * is written as, and the pieces more than one kind runs (op-common.c).
 */
#ifndef FNWM_MASTER_OP_H
#define FNWM_MASTER_OP_H

#include "ops.h"

/*
 * Every kind's phases are an enum starting at OP_BEGIN; a phase's handler
 * looks at the facts and returns the next phase: its own to wait for the
 * next kick, another to go there at once, OP_END when the operation is
 * over. ops.c's op_feed() alone assigns op->phase.
 */
#define OP_BEGIN 0
#define OP_END   (-1)

enum op_phase_flag {
	/* A preparation step: a stop or delete, or shutdown, cancels it. */
	OPF_STEPS = 1 << 0,
	/* Cleaning up after itself: shutdown lets it finish. */
	OPF_CLEANUP = 1 << 1,
	/* Waiting for the worker to answer: the registry watches closely. */
	OPF_CONTACT = 1 << 2,
};

struct op_phase {
	const char *name;
	int (*run)(struct op *);
	unsigned flags;
};

/* One kind of operation: its phase table (ops.c's op_kinds[]). */
struct op_kind_def {
	const char *name;
	const struct op_phase *phases;
	int nphases;
};

extern const struct op_kind_def op_activate_kind; /* op-activate.c */
extern const struct op_kind_def op_stop_kind;     /* op-stop.c */
extern const struct op_kind_def op_restart_kind;  /* op-restart.c */
extern const struct op_kind_def op_delete_kind;   /* op-delete.c */
extern const struct op_kind_def op_create_kind;   /* op-create.c */
extern const struct op_kind_def op_repair_kind;   /* op-repair.c */

/* op-common.c */
#define OP_RETRY 0.5 /* s between readiness probes while contacting */
#define OP_SLACK 5.0 /* s beyond the escalation before giving up */

/* The op's timers and child watcher, set up and stopped. */
void op_watchers_init(struct op *);
void op_watchers_stop(struct op *);
/* The op's deadline: armed, expired (it fired), disarmed. */
void op_arm(struct op *, double seconds);
int op_expired(const struct op *);
void op_disarm(struct op *);
/* The end of an operation's progress display (an empty 1.0). */
void op_reset(struct op *);
/* Sends {"type": type, "uuid": the worker} to the requester. */
void op_tell_requester(struct op *, const char *type);
/* Asks the worker itself to stop (it saves its state), uuid verified. */
void op_send_ws_stop(struct op *);

/*
 * Stopping the worker (stop, delete, repair): its own stop command, then
 * the monitor's bounded wait, SIGTERM and SIGKILL to the worker's process
 * group, and the monitor exits. op_stopping_begin() starts it;
 * op_stopping() returns 1 once it is over, either way.
 */
void op_stopping_begin(struct op *);
int op_stopping(struct op *);
/* Whether the worker, or a monitor of it, still runs after a stopping. */
int op_worker_running(const struct monitor *);

/*
 * Waiting for the worker to answer (activate, restart): progress relays
 * its runstate; the phase ends with set_worker to the requester or an
 * error. op_contact is the phase's handler.
 */
void op_contact_begin(struct op *);
int op_contact(struct op *);

/* A phase handler: over once the operation's monitor has exited. */
int op_monitor_gone(struct op *);

/* Unlinks worker_<uuid><suffix> for each suffix, in the workers dir. */
void op_unlink_files(struct op *, const char *const *suffixes);
/* Removes a confined data dir in a child (op->rm_pid while it runs). */
void op_rm_dir(struct op *, const char *dir);

#endif
