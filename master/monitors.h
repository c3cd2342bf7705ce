/* SPDX-License-Identifier: MIT */
/* the monitor processes, one per active worker */
#ifndef FNWM_MASTER_MONITORS_H
#define FNWM_MASTER_MONITORS_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <json-c/json.h>

#include "config.h"
#include "chan-ev.h"
#include "proto.h"
#include "status.h"

/*
 * The monitor process of a record, as the master knows it. Only
 * monitors_feed() (monitors-phase.c) changes it; docs/states.md has the
 * table.
 */
enum monitors_phase {
	MP_NONE,         /* no monitor process */
	MP_SPAWNED,      /* our child: its first report is no answer yet */
	MP_ADOPTED,      /* reached by its socket: its first report says
	                    what it was doing */
	MP_UP,           /* reporting: its reports are answers */
	MP_LOCKED,       /* a process we cannot reach holds the worker's
	                    monitor lock: its socket is tried again */
	MP_EXIT_SPAWNED, /* told to exit before its first report */
	MP_EXITING,      /* told to exit, or killed: not replaced */
	MP_MAX
};

/* monitors-table.c */
TAILQ_HEAD(op_list, op);
struct monitor {
	char *uuid;
	enum monitors_phase phase;
	pid_t pid; /* the fnwm-monitor process, 0 when none */
	struct chan_ev *chan;
	ev_child cw; /* our child's death */
	int pidfd;   /* one we did not start: tells of its death */
	ev_io pidw;
	unsigned gen;     /* counts the monitor processes this record had */
	unsigned st_gen;  /* gen of the process that reported st */
	int respawns;     /* replacements in a row; its HELLO resets it */
	int tries;        /* MP_LOCKED: socket attempts left */
	unsigned crashes; /* worker exits other than a clean one */
	struct fnwm_state_msg st; /* last reported */
	pid_t wpid; /* the worker pid its monitor reported, and when */
	unsigned long long wstart; /* that process started (/proc ticks) */
	struct fnwm_exit_msg last_exit;
	/*
	 * Facts of their own, kept across monitor processes and so not
	 * part of the phase: what the operations want of the worker and
	 * wait for (ops*.c), and the worker's liveness (liveness.c).
	 */
	int want_up;        /* the worker should run */
	int have_st;        /* st is news since the last command that asked */
	struct op_list ops; /* serialised operations on this worker */
	uint32_t step_seq;  /* id of the last step sent */
	struct fnwm_step_done step; /* answer to the last step */
	int step_have;
	char step_summary[1024];
	int kicked; /* queued in ops.c's kick list */
	/* Liveness of the worker process live_pid (liveness.c). */
	pid_t live_pid;
	double answered; /* loop time of its last answer, or first seen */
	int unresponsive;
	double unresponsive_at;
	int liveness_sent; /* CMD_UNRESPONSIVE sent for live_pid */
	TAILQ_ENTRY(monitor) entry;
	TAILQ_ENTRY(monitor) kickq;
};
TAILQ_HEAD(monitor_list, monitor);
void monitors_init(struct ev_loop *, const struct fnwm_config *);
struct monitor *monitors_find(const char *uuid);
/* The record of uuid, created when missing. */
struct monitor *monitors_get(const char *uuid);
struct monitor_list *monitors_list(void);
size_t monitors_running(void);
/* Frees idle records later. */
void monitors_gc(void);
void monitors_free_all(void);
/* {"code": n|null, "signal": n|null} of a last_exit, NULL when none. */
json_object *monitors_exit_json(int32_t last_exit);
void monitors_broadcast_event(const struct monitor *m,
    const struct fnwm_state_msg *st, const char *state);

/* monitors-phase.c */
/* Whether st came from the monitor process m has now. */
int monitors_reported(const struct monitor *);
/* Whether m's monitor was told to exit (its death is not replaced). */
int monitors_exiting(const struct monitor *);
const char *monitors_phase_name(enum monitors_phase);

/* monitors-spawn.c */
/* Starts the monitor process if needed, configures it, starts if wanted. */
int monitors_start(struct monitor *, char **cause);
/* The same with the worker JSON given (a worker still being created). */
int monitors_start_entry(struct monitor *, json_object *entry, char **cause);
int monitors_send(struct monitor *, uint16_t type, const void *, size_t);
/* Sends CMD_STOP/RESTART/EXIT with the configured escalation times. */
int monitors_stop_cmd(struct monitor *, uint16_t type);
/* SIGKILLs the monitor and its worker. */
void monitors_kill(struct monitor *);

/* monitors-status.c */
/*
 * A stop is done and no monitor is left: the .status a dead one left,
 * which would make a new master start the worker again, is made to say
 * down (its exit history stays).
 */
void monitors_forget_status(const char *uuid);
/* Reads worker_<uuid>.status (history included); 0, or -1 when none. */
int monitors_read_status(const char *uuid, struct fnwm_status *);
/* Whether a worker fnwm started is alive (it holds its run lock). */
int monitors_worker_alive(const char *uuid);

/* monitors-dispatch.c */
/* Called with a worker's uuid when its monitor said something or went
 * (main.c registers ops_kick). */
void monitors_on_news(void (*fn)(const char *uuid));

/* monitors-adopt.c */
/* Re-adopts running monitors and monitor-less fnwm workers (start-up). */
void monitors_adopt_all(void);
/* Lets go of every monitor, leaving workers running (upgrade path). */
void monitors_detach_all(void);

#endif
