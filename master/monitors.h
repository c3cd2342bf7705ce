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
#include "chan.h"
#include "proto.h"
#include "status.h"

/* monitors.c */
TAILQ_HEAD(op_list, op);
struct monitor {
	char *uuid;
	pid_t pid; /* the fnwm-monitor process, 0 when none */
	struct fnwm_chan *chan;
	ev_child cw;
	int hello;
	int exiting; /* told to exit: no replacement */
	int respawns;
	int want_up;      /* the worker should run */
	unsigned crashes; /* exits other than a clean one */
	int readopt;      /* tries left to reach a monitor by its socket */
	int adopted_proc; /* a monitor found running, not our child */
	int want_known;   /* want_up decided for an adopted monitor */
	int pidfd;        /* adopted monitor: tells of its death */
	ev_io pidw;
	struct fnwm_state_msg st; /* last reported */
	int have_st;  /* st is news since the last command that asked */
	int st_seen;  /* st came from this monitor process */
	int fresh;    /* spawned: its first report is still to come */
	unsigned gen; /* counts the monitor processes this record had */
	pid_t wpid;   /* the worker pid its monitor reported, and when */
	unsigned long long wstart; /* that process started (/proc ticks) */
	struct fnwm_exit_msg last_exit;
	int have_exit;
	struct op_list ops;         /* serialised operations on this worker */
	uint32_t step_seq;          /* id of the last step sent */
	struct fnwm_step_done step; /* answer to the last step */
	int step_have;
	char step_summary[1024];
	int kicked;
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
/* Starts the monitor process if needed, configures it, starts if wanted. */
int monitors_start(struct monitor *, char **cause);
/* The same with the worker JSON given (a worker still being created). */
int monitors_start_entry(struct monitor *, json_object *entry, char **cause);
int monitors_send(struct monitor *, uint16_t type, const void *, size_t);
/* Sends CMD_STOP/RESTART/EXIT with the configured escalation times. */
int monitors_stop_cmd(struct monitor *, uint16_t type);
/*
 * A stop is done and no monitor is left: the .status a dead one left,
 * which would make a new master start the worker again, is made to say
 * down (its exit history stays).
 */
void monitors_forget_status(const char *uuid);
/* Reads worker_<uuid>.status (history included); 0, or -1 when none. */
int monitors_read_status(const char *uuid, struct fnwm_status *);
/* SIGKILLs the monitor and its worker. */
void monitors_kill(struct monitor *);
const char *monitors_state_name(unsigned state);
/* {"code": n|null, "signal": n|null} of a last_exit, NULL when none. */
json_object *monitors_exit_json(int32_t last_exit);
void monitors_broadcast_event(const struct monitor *m,
    const struct fnwm_state_msg *st, const char *state);
/* Frees idle records later. */
void monitors_gc(void);
void monitors_free_all(void);
/* Re-adopts running monitors and monitor-less fnwm workers (start-up). */
void monitors_adopt_all(void);
/* Whether a worker fnwm started is alive (it holds its run lock). */
int monitors_worker_alive(const char *uuid);
/* Lets go of every monitor, leaving workers running (upgrade path). */
void monitors_detach_all(void);

#endif
