/* SPDX-License-Identifier: MIT */
/*
 * worker_<uuid>.status: what a monitor last said of its worker, and the
 * worker's last exits. The monitor writes it (atomically) after every
 * change and keeps it when it exits; a new master reads it to learn
 * whether a worker whose monitor died was meant to run, and the exit
 * history it shows. Pure text codec, no I/O, no allocation.
 *
 *   version=2
 *   state=running            (a worker state name)
 *   pid=4242                 (0 when none)
 *   adopted=0
 *   monitor=4240             (the monitor's pid)
 *   restarts=3
 *   last_exit=-9             (code, or -signal; 0 when none or unknown)
 *   since=1733456789123      (epoch ms of this state)
 *   exiting=0                (a stop, not a restart, is under way)
 *   exits_crash=3            (one exits_<reason> line per reason: totals)
 *   exit=1733456789000 signal:9 5012 crash
 *                            (oldest first, at most FNWM_HISTORY_MAX:
 *                             epoch ms, status:N | signal:N | unknown,
 *                             ms it ran, reason)
 *
 * A version 1 file (no totals, no history) decodes with both empty.
 */
#ifndef FNWM_STATUS_H
#define FNWM_STATUS_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define FNWM_HISTORY_MAX 20
#define FNWM_STATUS_MAX  4096 /* the largest file either side accepts */

/* Why a worker process ended. */
enum fnwm_exit_reason {
	FNWM_EXIT_CRASH = 0,    /* died on its own, not with status 0 */
	FNWM_EXIT_EXITED = 1,   /* ended on its own with status 0 */
	FNWM_EXIT_LIVENESS = 2, /* stopped: it did not answer its probe */
	FNWM_EXIT_STOP = 3,     /* a requested stop */
	FNWM_EXIT_RESTART = 4,  /* a requested restart */
	FNWM_EXIT_GAVE_UP = 5,  /* died, and the restart policy gave up */
	FNWM_EXIT_REASONS
};

struct fnwm_exit_rec {
	uint64_t at_ms;  /* wall clock, ms since the epoch */
	int32_t status;  /* code, -signal, or FNWM_EXIT_UNKNOWN */
	uint32_t ran_ms; /* how long the process ran */
	uint16_t reason; /* enum fnwm_exit_reason */
};

struct fnwm_status {
	int state; /* enum fnwm_worker_state, -1 when unknown */
	long pid, monitor;
	int adopted;
	unsigned restarts;
	int32_t last_exit; /* FNWM_EXIT_NONE when none */
	uint64_t since_ms;
	int exiting;
	uint32_t totals[FNWM_EXIT_REASONS];
	unsigned nhist; /* records in hist, oldest first */
	struct fnwm_exit_rec hist[FNWM_HISTORY_MAX];
};

void fnwm_status_init(struct fnwm_status *);
/* Appends an exit (dropping the oldest past the cap) and counts it. */
void fnwm_status_add_exit(struct fnwm_status *, const struct fnwm_exit_rec *);
/* Writes the text into buf; its length, or -1 when it does not fit. */
int fnwm_status_encode(const struct fnwm_status *, char *buf, size_t size);
/*
 * Reads a status text (hostile: a file anyone with access to the workers
 * dir may have written). Lines it does not know are skipped; a bad value
 * of a line it knows fails the whole file. 0, or -1.
 */
int fnwm_status_decode(const char *text, size_t len, struct fnwm_status *);
/* "crash", "exited", "liveness", "stop", "restart", "gave-up". */
const char *fnwm_exit_reason_name(unsigned);
/* "status 1", "signal 9", "exit status unknown (adopted)", "-". */
void fnwm_exit_describe(int32_t status, char *buf, size_t size);

#endif
