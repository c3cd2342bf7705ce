/* SPDX-License-Identifier: MIT */
/*
 * What lies below the operations, for test_ops: one worker's monitor
 * record, the registry's view of it, the requester, the stop probe and
 * the data dir's removal. Each fake records what it was asked; the test
 * changes the facts and kicks the operation, as the real layers do.
 */
#ifndef FNWM_TEST_OPS_FAKES_H
#define FNWM_TEST_OPS_FAKES_H

#include "master.h"

#define FAKE_UUID   "w1"
#define FAKE_CLIENT 7
#define FAKE_MAXLOG 128

struct fake {
	struct ev_loop *loop;
	struct fnwm_config cfg;
	char dir[64];       /* the workers dir, a fresh temporary one */
	struct monitor mon; /* the worker's record (monitors_get) */
	struct ws_client client;
	int client_here; /* the requester is connected */
	/* registry */
	json_object *entry; /* registry_entry, or NULL: not listed */
	int active;         /* registry_is_active */
	pid_t live_pid;     /* registry_live_pid */
	int json_exists;    /* registry_json_exists */
	int worker_alive;   /* monitors_worker_alive */
	int urgent;
	/* monitors */
	int start_fail; /* monitors_start fails */
	int starts, kills, forgets, steps_sent;
	pid_t next_pid;
	uint16_t cmds[32]; /* monitors_stop_cmd's types, in order */
	int ncmds;
	/* the rest */
	int stoppers; /* probe_stop_worker calls */
	pid_t rm_pid; /* paths_remove_data_dir's answer */
	int rm_dirs;  /* its calls */
	int autostart_done;
	const char *python; /* launch_python's answer */
	/* What reached clients: "progress:TEXT", "error:TEXT", a type. */
	char *log[FAKE_MAXLOG];
	int nlog;
};
extern struct fake fake;

/* A fresh world: a listed worker, no monitor, an empty workers dir. */
void fake_setup(void);
void fake_teardown(void);
/* Runs what ops_kick queued (one loop iteration, no waiting). */
void fake_run(void);
/* Kicks the worker's operations and runs them. */
void fake_kick(void);
/* The first queued operation, or NULL. */
struct op *fake_head(void);
/* Its deadline fires. */
void fake_expire(void);
/* The data dir's removal ends with status. */
void fake_rm_done(int status);
/* The monitor reports a state (MON_STATE) and the operation looks. */
void fake_state(enum fnwm_worker_state, pid_t worker, int32_t last_exit);
/* The monitor's monitor process ends. */
void fake_monitor_gone(void);
/* The monitor answers the last step sent: code, and a summary. */
void fake_step_done(int code, const char *summary);
/* Whether a client saw a line starting with prefix; its index or -1. */
int fake_saw(const char *prefix);
/* The last line a client saw. */
const char *fake_last(void);
/* Writes worker_<uuid><suffix> in the workers dir with text. */
void fake_file(const char *suffix, const char *text);
int fake_file_exists(const char *suffix);
/* Makes the worker's entry: with a venv when env_path is not NULL. */
void fake_entry(const char *env_path);

#endif
