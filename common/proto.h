/* SPDX-License-Identifier: MIT */
/*
 * THE master <-> monitor protocol: framing, message types, payloads and
 * limits. Both programs must agree on this file and nothing else.
 *
 * A frame is a struct fnwm_msg_hdr followed by len - sizeof(hdr) payload
 * bytes. Payloads are fixed-width structs in host byte order (both ends
 * run on one machine), optionally followed by NUL-terminated strings.
 *
 * Any change below: bump FNWM_PROTO_VERSION. Never renumber a type; a
 * retired type keeps its number with an "unused" comment.
 */
#ifndef FNWM_PROTO_H
#define FNWM_PROTO_H

#include <stdint.h>

#define FNWM_PROTO_VERSION 6
#define FNWM_MSG_MAX       8192 /* whole frame, header included */

/* The fd on which a monitor finds its end of the socketpair. */
#define FNWM_CHANNEL_FD 3

struct fnwm_msg_hdr {
	uint32_t len;    /* header + payload, bytes */
	uint16_t type;   /* enum fnwm_msg_type */
	uint8_t version; /* FNWM_PROTO_VERSION */
	uint8_t flags;   /* reserved, must be 0 */
	uint32_t seq;    /* sender's counter, for logs */
};

enum fnwm_msg_type {
	/* 1..99: both directions */
	FNWM_MSG_HELLO = 1, /* struct fnwm_hello */
	FNWM_MSG_ERROR = 2, /* followed by a NUL-terminated reason */

	/* 100..199: monitor -> master */
	FNWM_MSG_MON_STATE = 100, /* struct fnwm_state_msg */
	FNWM_MSG_MON_EXIT = 101,  /* struct fnwm_exit_msg */
	FNWM_MSG_MON_STEP = 102,  /* struct fnwm_step_done + summary */

	/* 200..299: master -> monitor */
	FNWM_MSG_CMD_CONFIG = 200,  /* struct fnwm_config_msg + strings */
	FNWM_MSG_CMD_START = 201,   /* no payload */
	FNWM_MSG_CMD_STOP = 202,    /* struct fnwm_stop_cmd */
	FNWM_MSG_CMD_RESTART = 203, /* struct fnwm_stop_cmd */
	FNWM_MSG_CMD_EXIT = 204, /* struct fnwm_stop_cmd: stop, then exit 0 */
	FNWM_MSG_CMD_STEP = 205, /* struct fnwm_step_cmd + strings */
	/* struct fnwm_stop_cmd: it does not answer; stop it, then policy */
	FNWM_MSG_CMD_UNRESPONSIVE = 206,
};

/* Who says hello. */
enum fnwm_role {
	FNWM_ROLE_MASTER = 1,
	FNWM_ROLE_MONITOR = 2,
};

struct fnwm_hello {
	uint32_t pid;
	uint16_t role;  /* enum fnwm_role */
	uint16_t state; /* monitor: enum fnwm_worker_state; master: 0 */
};

/* What a monitor knows about its worker. */
enum fnwm_worker_state {
	FNWM_WS_DOWN = 0,     /* not running, not wanted */
	FNWM_WS_STARTING = 1, /* spawned, not yet known healthy */
	FNWM_WS_RUNNING = 2,  /* up for the healthy period */
	FNWM_WS_STOPPING = 3, /* asked to stop, escalating */
	FNWM_WS_BACKOFF = 4,  /* died; restart timer armed */
	FNWM_WS_FAILED = 5,   /* gave up restarting */
	FNWM_WS_MAX
};

struct fnwm_state_msg {
	uint16_t state;         /* enum fnwm_worker_state */
	uint16_t flags;         /* FNWM_STATE_* */
	int32_t pid;            /* worker pid, 0 when none */
	uint32_t restarts;      /* restarts done by the policy */
	int32_t last_exit;      /* exit code, or -signal; FNWM_EXIT_* */
	uint64_t since_ms;      /* wall clock (epoch ms) of this state */
	uint64_t next_start_ms; /* BACKOFF: wall clock of the restart */
	uint64_t started_ms;    /* wall clock the worker process started */
};

/* last_exit values that are not an exit code or -signal. */
#define FNWM_EXIT_NONE    INT32_MIN       /* it never exited */
#define FNWM_EXIT_UNKNOWN (INT32_MIN + 1) /* adopted: exited, how unknown */

/* fnwm_state_msg.flags */
#define FNWM_STATE_ADOPTED 0x1 /* worker not started by this monitor */
#define FNWM_STATE_RESTART 0x2 /* stopping, to start again */
#define FNWM_STATE_EXIT    0x4 /* stopping, then the monitor exits */

struct fnwm_exit_msg {
	int32_t pid;
	int32_t code;   /* exit code, -1 when killed or unknown */
	int32_t signal; /* terminating signal, 0 when exited */
	uint32_t uptime_ms;
};

enum fnwm_restart_mode {
	FNWM_RESTART_NEVER = 0,
	FNWM_RESTART_ON_FAILURE = 1, /* not after exit 0 */
	FNWM_RESTART_ALWAYS = 2,
	FNWM_RESTART_MAX
};

/*
 * The worker's launch and policy; followed by 1 + argc NUL-terminated
 * strings: the worker's log file, then argv (argv[0] is the executable,
 * searched on PATH when it has no '/').
 */
struct fnwm_config_msg {
	uint16_t restart;    /* enum fnwm_restart_mode */
	uint16_t argc;       /* 1..FNWM_ARGV_MAX */
	uint32_t healthy_ms; /* uptime after which a death is not a crash */
	uint32_t backoff_initial_ms; /* first delay after a quick death */
	uint32_t backoff_max_ms;
	uint32_t giveup_count;     /* this many deaths ... */
	uint32_t giveup_window_ms; /* ... within this window: FAILED */
	uint32_t log_max_bytes;    /* rotate the log above this size */
	uint32_t log_keep;         /* rotated copies kept */
	uint32_t limits;           /* FNWM_LIMIT_* bits: which are set */
	int32_t nice;              /* FNWM_LIMIT_NICE */
	uint64_t nofile;           /* FNWM_LIMIT_NOFILE: RLIMIT_NOFILE */
	uint64_t as;               /* FNWM_LIMIT_AS: RLIMIT_AS, bytes */
	uint64_t cpu;              /* FNWM_LIMIT_CPU: RLIMIT_CPU, s */
	uint64_t core;             /* FNWM_LIMIT_CORE: RLIMIT_CORE, bytes */
};
#define FNWM_LIMIT_NOFILE 0x01
#define FNWM_LIMIT_AS     0x02
#define FNWM_LIMIT_CPU    0x04
#define FNWM_LIMIT_CORE   0x08
#define FNWM_LIMIT_NICE   0x10
#define FNWM_ARGV_MAX     32

struct fnwm_stop_cmd {
	uint32_t term_after_ms; /* wait this long for a clean exit, then TERM */
	uint32_t kill_after_ms; /* then this long before SIGKILL */
};

/*
 * A preparation step (venv creation, a package upgrade): a child process
 * of the monitor in its own process group, with a time limit, its output
 * in the worker's log. Followed by 1 + argc + envc NUL-terminated
 * strings: the working directory, argv, then "NAME=value" additions to
 * the environment. One step runs at a time; stop and exit cancel it.
 */
struct fnwm_step_cmd {
	uint32_t id;         /* echoed in the answer */
	uint32_t timeout_ms; /* 0: none */
	uint16_t argc;       /* 1..FNWM_ARGV_MAX */
	uint16_t envc;       /* 0..FNWM_ENV_MAX */
};
#define FNWM_ENV_MAX 16

struct fnwm_step_done {
	uint32_t id;
	int32_t code;   /* exit code, -1 when killed or not started */
	int32_t signal; /* terminating signal, 0 when exited */
	uint32_t elapsed_ms;
	uint16_t timed_out;
	uint16_t cancelled;
	/* followed by a NUL-terminated summary (the output's last lines) */
};

/*
 * Monitor exit codes (s6 conventions): 0 told to exit; 100 permanent
 * error (bad arguments, another monitor holds the worker's lock); 111
 * temporary error; killed by a signal: the master may start a new one.
 */
#define FNWM_MON_EXIT_OK        0
#define FNWM_MON_EXIT_PERMANENT 100
#define FNWM_MON_EXIT_LOCKED    101 /* another monitor runs this worker */
#define FNWM_MON_EXIT_TEMPORARY 111

#endif
