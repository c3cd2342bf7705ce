/* SPDX-License-Identifier: MIT */
/*
 * The monitor's event loop: epoll for fds, a signalfd for signals and
 * child exits, and one-shot timers on the monotonic clock. It is what a
 * monitor needs and no more (a few fds, a few timers, one or two
 * children), so that a monitor links nothing but the C library. Watchers
 * live in the caller's memory; the loop allocates nothing.
 */
#ifndef FNWM_LOOP_H
#define FNWM_LOOP_H

#include <sys/types.h>
#include <signal.h>
#include <stdint.h>

#define LOOP_READ  0x1
#define LOOP_WRITE 0x2

/* Signals the loop can deliver: SIGCHLD (for children) and these. */
#define LOOP_SIGNALS_MAX 4
/* Events taken from the kernel in one wait. */
#define LOOP_BATCH 8

struct loop;

struct loop_io {
	int fd;
	int events; /* LOOP_READ | LOOP_WRITE while started, else 0 */
	void (*cb)(struct loop *, struct loop_io *, int revents);
	void *data;
};

struct loop_timer {
	uint64_t due_ms; /* monotonic */
	int active;
	void (*cb)(struct loop *, struct loop_timer *);
	void *data;
	struct loop_timer *next;
};

/* A child's exit: status as waitpid(2) gives it. One-shot. */
struct loop_child {
	pid_t pid;
	int active;
	void (*cb)(struct loop *, struct loop_child *, int status);
	void *data;
	struct loop_child *next;
};

typedef void loop_signal_cb(struct loop *, int signo, void *data);

struct loop {
	int epfd;
	int sigfd;
	int broken;
	sigset_t sigs; /* blocked, read from sigfd */
	struct {
		int signo;
		loop_signal_cb *cb;
		void *data;
	} sig[LOOP_SIGNALS_MAX];
	struct loop_timer *timers;
	struct loop_child *children;
	/* The batch being dispatched, so a stopped watcher is not called. */
	void *pending[LOOP_BATCH];
	int npending;
};

/* Blocks SIGCHLD and opens the loop's fds. 0, or -1 with errno. */
int loop_init(struct loop *);
/* Closes the loop's fds and unblocks its signals. */
void loop_free(struct loop *);
/* Runs until loop_break or until nothing could wake it. 0 or -1. */
int loop_run(struct loop *);
/* Makes loop_run return after the current callback (also before it). */
void loop_break(struct loop *);
uint64_t loop_now_ms(void);

void loop_io_init(struct loop_io *,
    void (*)(struct loop *, struct loop_io *, int), void *data);
/* Watches fd for events (replacing what was watched; 0 stops). 0 or -1. */
int loop_io_start(struct loop *, struct loop_io *, int fd, int events);
void loop_io_stop(struct loop *, struct loop_io *);

void loop_timer_init(struct loop_timer *,
    void (*)(struct loop *, struct loop_timer *), void *data);
/* Fires once, ms from now (a started timer is moved). */
void loop_timer_start(struct loop *, struct loop_timer *, uint64_t ms);
void loop_timer_stop(struct loop *, struct loop_timer *);

void loop_child_init(struct loop_child *,
    void (*)(struct loop *, struct loop_child *, int), void *data);
/* Reports pid's exit once. Start it before the loop runs again. */
void loop_child_start(struct loop *, struct loop_child *, pid_t);
void loop_child_stop(struct loop *, struct loop_child *);

/* Delivers signo through the loop (blocked, read from the signalfd). */
int loop_signal(struct loop *, int signo, loop_signal_cb *, void *data);

#endif
