/* SPDX-License-Identifier: MIT */
/*
 * The phase of a monitor record (enum monitors_phase, monitors.h) as a
 * table of phases x events, in the style of monitor/fsm.c: each cell is
 * an action that does its work through struct monitors_ops and returns
 * the next phase. The real ops are the rest of monitors-*.c; a unit test
 * gives fakes.
 */
#ifndef FNWM_MASTER_MONITORS_PHASE_H
#define FNWM_MASTER_MONITORS_PHASE_H

#include <sys/types.h>
#include <stdint.h>

#include <json-c/json.h>

#include "monitors.h"

#define MON_RESPAWN_MAX 5  /* replacements of a crashing monitor in a row */
#define MON_LOCK_TRIES  25 /* socket attempts for a monitor holding the lock */

enum monitors_event {
	ME_START,  /* an operation wants it up: configure (spawn if none) */
	ME_ATTACH, /* reached through worker_<uuid>.sock at start-up */
	ME_LOCKED, /* start-up: a process holds the monitor lock, no socket */
	ME_REPORT, /* MON_STATE */
	ME_EXIT,   /* told to exit (CMD_EXIT) */
	ME_KILL,   /* SIGKILL to it and its worker */
	ME_GONE,   /* the process died */
	ME_RETRY,  /* MP_LOCKED: the retry timer */
	ME_REACH,  /* MP_LOCKED: try its socket now (before a command) */
	ME_DETACH, /* let go, leaving it running */
	ME_MAX
};

struct monitors_evarg {
	const struct fnwm_state_msg *st; /* ME_REPORT */
	int status;         /* ME_GONE: wait status, or -1 (not our child) */
	pid_t holder;       /* ME_LOCKED: the live monitor holding the lock */
	json_object *entry; /* ME_START: the worker's JSON */
	char **cause;       /* ME_START: why it failed */
	int rc;             /* the event's result: 0, or -1 (errno set) */
};

struct monitors_ops {
	/*
	 * Encodes the launch configuration of entry, forks a monitor when
	 * spawn is set, and sends CMD_CONFIG: 0; -1 with *cause; 1 with
	 * *cause when the channel is gone (its death not handled yet).
	 */
	int (*launch)(struct monitor *, json_object *entry, int spawn,
	    char **cause);
	/* CMD_START, or a stop command with the configured times. */
	int (*send)(struct monitor *, uint16_t type);
	/* Through worker_<uuid>.sock: 0 with pid, channel, death watch set
	 * and HELLO + CMD_CONFIG sent; -1 when nothing answers. */
	int (*connect)(struct monitor *);
	/* worker_<uuid>.lock: -1 when free; else 0, with *holder the live
	 * fnwm-monitor of this worker that holds it, or 0. */
	int (*lock_state)(const char *uuid, pid_t *holder);
	/* pid becomes m's monitor process, its death watched: 0, or -1. */
	int (*watch)(struct monitor *, pid_t);
	/* Closes the channel and stops the death watch. */
	void (*release)(struct monitor *);
	void (*signal)(struct monitor *, int sig);
	/* SIGKILL to the worker its monitor reported, then the monitor. */
	void (*kill)(struct monitor *);
	void (*arm_retry)(void);
	/* The worker's JSON in the registry (NULL when none). */
	json_object *(*entry)(const char *uuid);
	int (*run_lock_held)(const char *uuid);
	int (*was_exiting)(const char *uuid);
	int (*meant_to_run)(const char *uuid);
	int (*shutting_down)(void);
	void (*note_worker)(struct monitor *, pid_t);
	/* st is news: logged, broadcast, counted, the registry told. */
	void (*announce)(struct monitor *);
	/* The operations on m look again. */
	void (*kick)(struct monitor *);
	/* m's process is gone: registry, operations, shutdown, gc. */
	void (*gone)(struct monitor *);
};

void monitors_phase_init(const struct monitors_ops *);
/* Feeds ev to m's phase table; returns a->rc (0 without a). */
int
monitors_feed(struct monitor *, enum monitors_event, struct monitors_evarg *);
const char *monitors_event_name(enum monitors_event);

#endif
