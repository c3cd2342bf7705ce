/* SPDX-License-Identifier: MIT */
/* between the monitors-*.c files only: not for the rest of the master */
#ifndef FNWM_MASTER_MONITORS_INT_H
#define FNWM_MASTER_MONITORS_INT_H

#include <sys/types.h>

#include "chan.h"
#include "monitors.h"

/* monitors-table.c */
extern struct ev_loop *monitors_loop;
extern const struct fnwm_config *monitors_cfg;

/* monitors-spawn.c */
/* Signals the monitor process (through its pidfd when adopted). */
void monitors_signal_monitor(struct monitor *, int sig);
/* Records the worker pid a monitor reports, with its start time. */
void monitors_note_worker(struct monitor *, pid_t);
/* Signals the worker only when it is still the one its monitor reported. */
int monitors_signal_worker(struct monitor *, pid_t, int group, int sig);
/* The live process holding worker_<uuid>.run.lock, or 0. */
pid_t monitors_run_lock_holder(const char *uuid);
int monitors_run_lock_held(const char *uuid);

/* monitors-dispatch.c */
void monitors_msg_cb(struct fnwm_chan *, const struct fnwm_msg *, void *);
void monitors_close_cb(struct fnwm_chan *, int err, void *);
void monitors_child_cb(struct ev_loop *, ev_child *, int);
/* The monitor process is gone: its wait status, or -1 when adopted. */
void monitors_gone(struct monitor *, int status);

/* monitors-adopt.c */
void monitors_adopt_init(void);
void monitors_adopt_stop(void);
/* Tries to reach m's monitor through its socket for a while. */
void monitors_adopt_retry(struct monitor *);
/* Whether the last .status says it was stopping its worker to exit. */
int monitors_was_exiting(const char *uuid);
/* Whether a worker with neither process nor monitor was meant to run. */
int monitors_meant_to_run(const char *uuid);

#endif
