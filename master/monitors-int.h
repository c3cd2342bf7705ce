/* SPDX-License-Identifier: MIT */
/* between the monitors-*.c files only: not for the rest of the master */
#ifndef FNWM_MASTER_MONITORS_INT_H
#define FNWM_MASTER_MONITORS_INT_H

#include <sys/types.h>
#include <stdint.h>

#include <json-c/json.h>

#include "chan.h"
#include "monitors.h"

/* monitors-table.c */
extern struct ev_loop *monitors_loop;
extern const struct fnwm_config *monitors_cfg;

/* monitors-spawn.c */
/* Encodes entry's config, forks a monitor when spawn is set, sends
 * CMD_CONFIG: 0; -1 with *cause; 1 with *cause when the channel is gone. */
int
monitors_launch(struct monitor *, json_object *entry, int spawn, char **cause);
/* Sends on m's channel as it is (no attempt to reach a held monitor). */
int monitors_send_raw(struct monitor *, uint16_t type, const void *, size_t);
/* CMD_START, or a stop command with the configured escalation times. */
int monitors_command(struct monitor *, uint16_t type);
/* SIGKILL to the worker its monitor reported, then to the monitor. */
void monitors_kill_now(struct monitor *);
/* Closes the channel and stops watching the process's death. */
void monitors_release(struct monitor *);
/* Signals the monitor process (through its pidfd when not our child). */
void monitors_signal_monitor(struct monitor *, int sig);
/* Records the worker pid a monitor reports, with its start time. */
void monitors_note_worker(struct monitor *, pid_t);
/* Signals the worker only when it is still the one its monitor reported. */
int monitors_signal_worker(struct monitor *, pid_t, int group, int sig);

/* monitors-dispatch.c */
void monitors_msg_cb(struct fnwm_chan *, const struct fnwm_msg *, void *);
void monitors_close_cb(struct fnwm_chan *, int err, void *);
void monitors_child_cb(struct ev_loop *, ev_child *, int);
void monitors_announce(struct monitor *);
void monitors_kick(struct monitor *);
void monitors_gone(struct monitor *);

/* monitors-adopt.c */
void monitors_adopt_init(void);
void monitors_adopt_stop(void);
void monitors_arm_retry(void);
/* Reaches m's monitor through its socket: 0 when attached, or -1. */
int monitors_connect(struct monitor *);
/* pid, if uuid's monitor, becomes m's process, its death watched. */
int monitors_watch(struct monitor *, pid_t);

/* monitors-status.c */
/* Whether the last .status says it was stopping its worker to exit. */
int monitors_was_exiting(const char *uuid);
/* Whether a worker with neither process nor monitor was meant to run. */
int monitors_meant_to_run(const char *uuid);
/* The live process holding worker_<uuid>.run.lock, or 0. */
pid_t monitors_run_lock_holder(const char *uuid);
int monitors_run_lock_held(const char *uuid);
/* worker_<uuid>.lock: -1 when free; else 0, with *holder the live
 * fnwm-monitor of uuid that holds it, or 0. */
int monitors_lock_state(const char *uuid, pid_t *holder);
/* Whether pid's command line is that of uuid's fnwm-monitor. */
int monitors_is_monitor(pid_t pid, const char *uuid);

#endif
