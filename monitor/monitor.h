/* SPDX-License-Identifier: MIT */
/*
 * fnwm-monitor: supervises one worker. It links common/ and its own loop,
 * allocates nothing after start-up, and keeps supervising when its
 * channel to the master closes. Prototypes grouped by file.
 */
#ifndef FNWM_MONITOR_H
#define FNWM_MONITOR_H

#include <sys/types.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>

#include "chan.h"
#include "loop.h"
#include "policy.h"
#include "proto.h"
#include "status.h"

enum mon_event {
	MON_EV_CMD_START,
	MON_EV_CMD_STOP,
	MON_EV_CMD_RESTART,
	MON_EV_CMD_EXIT,
	MON_EV_CHILD_EXIT,
	MON_EV_HEALTHY,          /* the healthy timer fired */
	MON_EV_BACKOFF,          /* the restart timer fired */
	MON_EV_ESCALATE,         /* the stop escalation timer fired */
	MON_EV_ADOPTED,          /* a running worker was taken over */
	MON_EV_CMD_UNRESPONSIVE, /* it does not answer: stop, then policy */
	MON_EV_MAX
};

enum mon_timer { MON_T_HEALTHY, MON_T_BACKOFF, MON_T_ESCALATE, MON_T_MAX };

struct mon;

/* Side effects of the state machine, so tests can drive it with fakes. */
struct mon_ops {
	int (*spawn)(struct mon *);        /* 0 started, 1 adopted, -1 failed */
	void (*signal)(struct mon *, int); /* to the worker's group */
	void (*arm)(struct mon *, enum mon_timer, uint32_t ms);
	void (*disarm)(struct mon *, enum mon_timer);
	uint64_t (*now)(void);          /* monotonic ms */
	void (*announce)(struct mon *); /* state changed */
	void (*finish)(struct mon *);   /* exit the monitor (0) */
};

struct mon_evarg {
	int code, sig;                    /* CHILD_EXIT */
	const struct fnwm_stop_cmd *stop; /* CMD_STOP/RESTART/EXIT */
};

struct mon {
	const struct mon_ops *ops;
	enum fnwm_worker_state state;
	struct policy_cfg pcfg;
	struct policy_state pst;
	pid_t pid;           /* worker, 0 when none */
	int adopted;         /* worker found running, not started by us */
	uint64_t started_ms; /* monotonic, at spawn */
	uint64_t since_wall_ms;
	uint64_t started_wall_ms;  /* the worker process's start */
	uint64_t exited_us;        /* monotonic µs of the last exit, 0 none */
	uint32_t next_start_in_ms; /* BACKOFF: delay armed */
	int32_t last_exit;         /* code, or -signal; INT32_MIN none */
	struct fnwm_stop_cmd stop;
	int esc_step;   /* 0 wait, 1 sent TERM, 2 sent KILL */
	int want_start; /* start again once down (restart) */
	int want_exit;  /* exit once down */
	int liveness;   /* stopping because it did not answer its probe */
	int configured;
	/* Exit history and totals, carried over from the last .status. */
	struct fnwm_status record;

	/* Everything below is the real monitor's, not the state machine's. */
	struct loop *loop;
	char uuid[160];
	/* Built once at start-up, packed on the heap (fewer dirty pages). */
	char *workers_dir;
	char *p_path, *runstate_path, *status_path;
	char *lock_path, *runlock_path;
	const char *log_path; /* in argbuf; "" until configured */
	char *argv[FNWM_ARGV_MAX + 1];
	uint32_t log_max, log_keep;
	struct fnwm_config_msg limits; /* the resource limits of CMD_CONFIG */
	int debug;
	int lockfd;
	int pidfd;
	sigset_t child_sigs; /* what a child resets: the signals we take */
	struct loop_io pidw;
	struct loop_child cw;
	struct loop_timer timers[MON_T_MAX];
	struct loop_io chanw; /* the channel's fd */
	int chan_up;
	int finished;       /* finish() ran: leave, even before the loop */
	int status_written; /* the .status is ours to remove at exit */
	int dirfd;          /* the workers dir, open while the monitor runs */
	int listenfd;       /* worker_<uuid>.sock */
	struct loop_io listenw;
	pid_t step_pid; /* the running step, 0 when none */
	uint32_t step_id;
	struct loop_child step_cw;
	struct loop_timer step_timer;
	struct loop_io step_outw;
	int step_outfd, step_logfd;
	int step_timed_out, step_cancelled;
	uint64_t step_started;
	size_t step_tail_len;
	int logwatch_fd;
	struct loop_io logw;
	struct loop_timer logquiet;

	/*
	 * The buffers last, after every small field: a page of this static
	 * struct costs memory only once written, and each buffer is written
	 * at its start only, so the small fields and the start of argbuf
	 * share one page.
	 */
	char argbuf[FNWM_MSG_MAX]; /* the log path, then argv's strings */
	struct fnwm_chan chan;
	char step_tail[400];
	char step_strings[FNWM_MSG_MAX];
};

/* fsm.c */
/* Feeds one event to the table; the only writer of m->state. */
void fsm_feed(struct mon *, enum mon_event, const struct mon_evarg *);
void fsm_init(struct mon *, const struct mon_ops *);

/* worker.c */
extern const struct mon_ops mon_real_ops;
int worker_adopt(struct mon *);
void worker_timers_init(struct mon *);
void worker_env_init(void);

/* files.c */
int files_init(struct mon *, const char *uuid, const char *workers_dir);
int files_lock(struct mon *);
int files_runlock_take(struct mon *);
int files_runlock_held(struct mon *);
void files_free(struct mon *);
void files_worker_started(struct mon *);
void files_worker_exited(struct mon *, pid_t, const char *final_runstate);
/* Through the writer thread; with wait, once it is on disk. */
void files_write_status(struct mon *, int wait);
/* Takes over the exit history of the .status a predecessor left. */
void files_read_history(struct mon *);
void files_final_runstate(struct mon *);
void files_clear_p(struct mon *, pid_t);
void files_log_watch(struct mon *);
/*
 * Opens the worker's log for appending (created 0600): through its
 * directory, opened with no symlink as its last step, and O_NOFOLLOW, so
 * a symlink planted as worker.log is never written through. -1 + errno.
 */
int files_log_open(struct mon *);
void files_log_unwatch(struct mon *);
/* Reads the worker's .p: its pid, or 0. */
pid_t files_read_pid(struct mon *, struct timespec *mtime);

/* control.c */
/* Listens on worker_<uuid>.sock for a (new) master. */
int control_listen(struct mon *);
void control_close(struct mon *);

/* steps.c */
void steps_init(struct mon *);
/* Starts the step of a CMD_STEP frame; failures are reported as done. */
int steps_start(struct mon *, const struct fnwm_msg *);
int steps_busy(const struct mon *);
/* Kills the running step's process group and reports it cancelled. */
void steps_cancel(struct mon *);

/* main.c */
/* Exits when no master and no worker are left (and no step runs). */
void mon_maybe_leave(struct mon *);
/* Makes fd the channel to the master and says hello. */
void mon_attach_channel(struct mon *, int fd);

/* report.c */
void report_init(struct mon *, int fd);
void report_state(struct mon *);
/* Wall clock, ms since the epoch. */
uint64_t report_wall_ms(void);
void report_exit(struct mon *, pid_t, int code, int sig, uint64_t uptime);

#endif
