/* SPDX-License-Identifier: MIT */
/*
 * The restart policy, as a pure function of the configuration, the death
 * tally and the exit at hand: no clock, no I/O, so it is unit-tested.
 */
#ifndef FNWM_POLICY_H
#define FNWM_POLICY_H

#include <stdint.h>

#define POLICY_TALLY_MAX 32

struct policy_cfg {
	int mode;            /* enum fnwm_restart_mode */
	uint32_t healthy_ms; /* a death after this much uptime is not a crash */
	uint32_t backoff_initial_ms;
	uint32_t backoff_max_ms;
	uint32_t giveup_count; /* 0: never give up */
	uint32_t giveup_window_ms;
};

struct policy_state {
	uint64_t deaths[POLICY_TALLY_MAX]; /* ring of death times, ms */
	unsigned ndeaths, next;
	uint32_t backoff_ms; /* the next quick-death delay */
	uint32_t restarts;
};

enum policy_verdict {
	POLICY_DOWN,        /* do not restart */
	POLICY_RESTART_NOW, /* healthy run: restart at once */
	POLICY_BACKOFF,     /* quick death: restart after *delay_ms */
	POLICY_GIVE_UP,     /* too many deaths in the window: failed */
};

/* Production defaults. */
void policy_defaults(struct policy_cfg *);
/* Clears the tally and the backoff (a fresh start by request). */
void policy_reset(const struct policy_cfg *, struct policy_state *);
/*
 * Decides what follows a worker's exit (code, or sig when killed) after
 * uptime_ms, at time now_ms; records the death in the tally.
 */
enum policy_verdict
policy_on_exit(const struct policy_cfg *, struct policy_state *,
    uint64_t now_ms, uint64_t uptime_ms, int code, int sig, uint32_t *delay_ms);
const char *policy_verdict_name(enum policy_verdict);

#endif
