/* SPDX-License-Identifier: MIT */
/*
 * The master: the FuncNodes-compatible WebSocket hub over the workers
 * directory. Prototypes are grouped by the file that defines them.
 */
#ifndef FNWM_MASTER_H
#define FNWM_MASTER_H

#include <sys/queue.h>
#include <sys/types.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>
#include <json-c/json.h>

#include "chan.h"
#include "proto.h"
#include "status.h"

#define FNWM_VERSION "0.1.0"

struct lws;
struct lws_context;

/* config.c */
struct fnwm_config {
	char *base_dir;   /* --dir > FUNCNODES_CONFIG_DIR > ~/.funcnodes */
	char *config_dir; /* base_dir, or its custom_config_dir */
	char *workers_dir;
	char *host; /* bind host as configured */
	int port;
	int worker_ssl; /* worker_manager.ssl */
	char *python;   /* the host python reported by identify */
	int debug;
	size_t max_message;  /* inbound WebSocket message limit, bytes */
	size_t client_queue; /* outbound bytes queued per client before close */
	size_t total_queue;  /* the same for all clients together */
	size_t max_clients;  /* WebSocket clients at once; more get 503 */
	double probe_interval;  /* periodic re-probe, s */
	double probe_connect;   /* probe connect deadline, s */
	double probe_reply;     /* probe reply deadline, s */
	double debounce;        /* inotify debounce, s */
	double stale_p_grace;   /* unparsable .p older than this is stale */
	char **allowed_origins; /* extra allowed Origin values; "*" = any */
	size_t n_allowed_origins;
	double stop_timeout;     /* wait for a clean stop, then SIGTERM, s */
	double kill_timeout;     /* then wait this long, then SIGKILL, s */
	double activate_timeout; /* set_active gives up after this, s */
	char *monitor_path;      /* fnwm-monitor, when not found by itself */
	json_object *restart_defaults; /* config.json fnwm.restart_policy */
	char *uv;                      /* uv on PATH, or NULL: pip is used */
	char *venv_python;             /* creates venvs (python -m venv) */
	char *uv_python;               /* uv venv --python (default 3.11) */
	double step_timeout;           /* a preparation step's time limit, s */
	int upgrade_on_start;          /* run update_on_startup upgrades */
	int log_level;                 /* fnwm.log_level, -1 when not set */
	int in_venv_default;           /* FUNCNODES_WORKER_IN_VENV */
	char *token_file;              /* the control token */
	int token_file_default;    /* <config dir>/fnwm.token: made if gone */
	char *readonly_token_file; /* NULL: no read-only token */
	int require_token;         /* no trust by peer uid on loopback */
	char **allowed_hosts;      /* extra Host names the hub answers */
	size_t n_allowed_hosts;
	char *tls_cert, *tls_key; /* PEM paths; NULL: no TLS */
	int insecure_remote;      /* plain ws:// off the host is allowed */
	double liveness_timeout;  /* unanswered probes before unresponsive, s */
	int autostart; /* workers start with the manager by default */
	char **allowed_data_roots; /* data dirs may also lie beneath */
	size_t n_allowed_data_roots;
	int allow_direct_references; /* dependencies may be URLs, paths */
	size_t max_kwargs_bytes;     /* new_worker's kwargs, serialized */
	size_t max_workers;          /* worker JSON files new_worker adds to */
	int max_parallel_steps;      /* venv/pip steps at once, all workers */
};

struct fnwm_args {
	const char *dir, *host, *python;
	int port; /* 0 = not given */
	int debug;
	const char **origins;
	size_t n_origins;
};

/*
 * Re-reads the configuration into cfg, changing only what can change
 * while running (timeouts, limits, policy defaults, origins, log level);
 * 0, or -1 with a cause and cfg untouched.
 */
int config_reload(struct fnwm_config *, const struct fnwm_args *, char **cause);
/* Fills cfg from args, the environment and config.json; 0 or -1 + cause. */
int config_load(struct fnwm_config *, const struct fnwm_args *, char **cause);
void config_free(struct fnwm_config *);

/* token.c: token files; a token itself is kept only as its digest */
struct fnwm_token {
	int set;
	unsigned char digest[32]; /* SHA-256 */
};
/*
 * Loads the token of path (creating a random one first when create is set
 * and the file is missing); group_ok lets the group read it. 0, or -1 with
 * a cause that never contains the token.
 */
int token_load(const char *path, int create, int group_ok, struct fnwm_token *,
    char **cause);
/* The token text of path into out (the CLI sends it); 0 or -1 + errno. */
int token_read_text(const char *path, char *out, size_t outsz);
/* Constant-time: whether given is the token. */
int token_match(const struct fnwm_token *, const char *given, size_t len);

/* peer.c: the uid behind a loopback TCP connection */
enum peer_kind {
	PEER_REMOTE,    /* not a loopback connection */
	PEER_LOCAL,     /* loopback, but its owner could not be told */
	PEER_LOCAL_UID, /* loopback, and *uid is the client socket's owner */
};
enum peer_kind peer_identify(int fd, uid_t *uid);
void peer_close(void);

/* access.c: the Host allow-list and the right a request earns */
enum access_right {
	ACCESS_NONE,
	ACCESS_READ,    /* ping, identify, status, details, logs, /metrics */
	ACCESS_CONTROL, /* everything */
};
/* Loads the tokens (making the default one); 0, or -1 with a cause. */
int access_init(const struct fnwm_config *, char **cause);
/* Re-reads the token files (SIGHUP); on failure the old ones stay. */
int access_reload(const struct fnwm_config *, char **cause);
/* The literal address the hub is bound to ("" for a wildcard). */
void access_set_bind(const char *iface);
/* Whether the request's Host names this hub (not a rebound name). */
int access_host_allowed(struct lws *);
/* The right of a request; ACCESS_NONE with *why when it has none. */
enum access_right access_check(struct lws *, const char **why);
/* The peer's address for a log line (escaped). */
const char *access_peer(struct lws *, char *buf, size_t bufsz);

/* tls.c: the hub's certificate */
/* Whether cert and key load and belong together; 0, or -1 with a cause. */
int tls_check_pair(const char *cert, const char *key, char **cause);
/* lws hands over the server's SSL_CTX once it made it. */
void tls_server_ctx(void *ssl_ctx);
/* Puts the (checked) pair into the live server context for new peers. */
int tls_reload(const char *cert, const char *key, char **cause);
/* paths.c: where a worker's data may be (see the file) */
/*
 * Splits dir into the root it lies strictly beneath (the workers dir or an
 * allowed data root) and its path below it; 0, or -1 when it lies
 * elsewhere or has a "." or ".." component.
 */
int paths_confine(const struct fnwm_config *, const char *dir,
    const char **root, const char **rel);
/* Whether a client's data_path (absolute or relative to the workers dir)
 * is confined; 0 or -1. */
int paths_check_client(const struct fnwm_config *, const char *value);
/*
 * Opens a worker's data dir (O_PATH | O_DIRECTORY): beneath its root when
 * confined, else by its path with the last step no symlink. -1 + errno.
 */
int
paths_open_data_dir(const struct fnwm_config *, const char *dir, int *confined);
/* mkdir of a confined data dir; -1 with errno (EXDEV: not confined). */
int paths_make_data_dir(const struct fnwm_config *, const char *dir);
/*
 * Starts removing a confined data dir in a child (symlinks unlinked, never
 * followed); its pid, or 0 when nothing is to be removed or fork failed.
 */
pid_t paths_remove_data_dir(const struct fnwm_config *, const char *dir);
/* The same, at once: for a data dir just made (a failed creation). */
int paths_remove_new_dir(const struct fnwm_config *, const char *dir);

/* pep508.c */
/*
 * Whether req is a PEP 508 requirement (name, extras, version specifiers,
 * marker); with allow_direct also "name @ URL" and a bare URL or path.
 * Never anything starting with "-".
 */
int pep508_valid(const char *req, int allow_direct);

/* limits.c */
enum limit_kind {
	LIMIT_KWARGS_BYTES,
	LIMIT_MAX_WORKERS,
	LIMIT_PARALLEL_STEPS,
	LIMIT_MAX,
};
/* Counts a hit and logs it, at most once a second per limit. */
void limits_hit(enum limit_kind, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
uint64_t limits_hits(enum limit_kind);
const char *limits_name(enum limit_kind);

/* lock.c */
/* Takes the manager lock of the config dir; 0, or -1 with a cause. */
int lock_manager(const char *config_dir, int *fdp, int *takeover, char **cause);
void unlock_manager(const char *config_dir, int fd);

/* outmsg.c: refcounted outbound text with LWS_PRE headroom */
struct fnwm_outmsg {
	unsigned refs;
	size_t len;
	unsigned char *data; /* points at buf + LWS_PRE */
	unsigned char buf[];
};
/* Returns a message with one reference; the caller owns it. */
struct fnwm_outmsg *outmsg_new(const char *text, size_t len);
/* Serializes o (not consumed) into a new message. */
struct fnwm_outmsg *outmsg_json(json_object *o);
struct fnwm_outmsg *outmsg_ref(struct fnwm_outmsg *);
void outmsg_unref(struct fnwm_outmsg *);

/* hub.c */
enum client_close {
	CLIENT_OPEN = 0,
	CLIENT_DRAIN_CLOSE, /* send what is queued, then close */
	CLIENT_CLOSE_NOW,   /* close at the next writeable */
};

struct ws_client {
	struct lws *wsi;
	uint64_t id; /* operations refer to their requester by id */
	int established;
	enum access_right right;
	int subscribed;  /* receives broadcasts (sent a real command) */
	int want_status; /* a worker_status reply waits for the first scan */
	unsigned ops;    /* its operations not yet finished */
	int reset_owed;  /* a broadcast reset it was spared while busy */
	enum client_close closing;
	uint16_t close_code;
	const char *close_reason;
	char *rx; /* partial inbound message */
	size_t rxlen, rxcap;
	int rx_binary;
	struct fnwm_outmsg **q; /* ring of queued messages */
	unsigned qhead, qlen, qcap;
	size_t qbytes;
	size_t txoff;           /* bytes of q[qhead] already sent */
	unsigned char *scratch; /* LWS_PRE + chunk, for fragmented sends */
	TAILQ_ENTRY(ws_client) entry;
};
TAILQ_HEAD(ws_clients, ws_client);

int hub_start(struct ev_loop *, const struct fnwm_config *, int takeover,
    char **cause);
struct lws_context *hub_context(void);
/* Queues msg for c (takes a new reference). */
void hub_send(struct ws_client *, struct fnwm_outmsg *);
void hub_send_json(struct ws_client *, json_object *);
/* Sends to every subscribed client. */
void hub_broadcast(struct fnwm_outmsg *);
struct ws_clients *hub_clients(void);
/* The client with this id, or NULL when it has gone. */
struct ws_client *hub_find(uint64_t id);
size_t hub_client_count(void);
/* Refuses new connections and closes every client with 1001. */
void hub_begin_shutdown(void);
/* Destroys the lws context; call outside lws callbacks. */
void hub_destroy(void);

/* Counters of the hub, for /metrics. */
struct hub_stats {
	uint64_t msgs_in, msgs_out;
	uint64_t clients_refused;     /* over fnwm.max_clients: 503 */
	uint64_t clients_lagging;     /* over fnwm.client_queue_bytes */
	uint64_t clients_over_budget; /* over fnwm.total_queue_bytes */
	uint64_t accept_fd_exhausted; /* accepts failed: no fd left */
	uint64_t accept_dropped;      /* connections dropped for that */
};
const struct hub_stats *hub_stats(void);
/* Bytes queued for all clients, not yet sent. */
size_t hub_queued_bytes(void);
/* Whether a handshake's Origin may reach the hub (and its HTTP pages). */
int hub_origin_allowed(struct lws *);
/* Whether the hub serves TLS. */
int hub_tls(void);

/* origin.c */
/*
 * Whether a handshake with this Origin and Host header (NUL-terminated,
 * "" when absent) may reach the hub.
 */
int origin_allowed(const char *origin, const char *host,
    const struct fnwm_config *);
/* localhost, 127/8 or ::1 (names are not resolved); not "127.x.evil.ex". */
int origin_is_loopback(const char *host);

/* http.c: /healthz and /metrics */
/* Answers path; 1 when it is not one of ours, -1 to close. */
int http_handle(struct lws *, const char *path);
int http_writeable(struct lws *);
void http_release(struct lws *);

/* ws-cmd.c */
struct ws_cmd_entry {
	const char *name;
	int plain;      /* matched as the exact plain-text frame */
	int json;       /* matched as {"type": name, ...} */
	int subscribes; /* after it, the client receives broadcasts */
	int read_only;  /* allowed to a client with the read-only token */
	void (*exec)(struct ws_client *, json_object *msg);
};
/* Handles one complete inbound text message. */
void ws_cmd_dispatch(struct ws_client *, const char *text, size_t len);
/* Sends {"type":"error","message":...}. */
void ws_cmd_error(struct ws_client *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/*
 * The same progress to every subscribed client (new_worker's routing); a
 * reset skips those with an operation of their own under way, but owner's.
 */
void ws_cmd_broadcast_progress(uint64_t owner, const char *message,
    double progress, int blocking);
/* Sends a progress message; an empty message with 1.0 is the reset. */
void ws_cmd_progress(struct ws_client *, const char *message, double progress,
    int blocking);

/* ws-cmd-*.c */
extern const struct ws_cmd_entry ws_cmd_ping_entry;
extern const struct ws_cmd_entry ws_cmd_identify_entry;
extern const struct ws_cmd_entry ws_cmd_stop_entry;
extern const struct ws_cmd_entry ws_cmd_status_entry;
extern const struct ws_cmd_entry ws_cmd_set_active_entry;
extern const struct ws_cmd_entry ws_cmd_stop_worker_entry;
extern const struct ws_cmd_entry ws_cmd_restart_worker_entry;
extern const struct ws_cmd_entry ws_cmd_delete_worker_entry;
extern const struct ws_cmd_entry ws_cmd_new_worker_entry;
extern const struct ws_cmd_entry ws_cmd_repair_worker_entry;
extern const struct ws_cmd_entry ws_cmd_worker_details_entry;
extern const struct ws_cmd_entry ws_cmd_worker_logs_entry;
extern const struct ws_cmd_entry ws_cmd_set_autostart_entry;
/* The "workerid" of msg if it is a valid worker id, else an error reply. */
const char *ws_cmd_workerid(struct ws_client *, json_object *msg);
/* Answers the worker_status requests that waited for the first scan. */
void ws_cmd_status_ready(void);

/* jsonparse.c */
/*
 * Strictly parses one complete JSON text: whole input consumed, depth <= 16,
 * valid UTF-8, no NaN/Infinity. Returns a new object (caller puts) or NULL
 * with a static description in *err.
 */
json_object *fnwm_json_parse(const char *text, size_t len, const char **err);
/* Serializes compactly without escaping '/'. Valid while o is unchanged. */
const char *fnwm_json_str(json_object *o, size_t *len);

/* wfiles.c: parsers of the files in the workers dir (no I/O) */
/*
 * Checks the bytes of worker_<uuid>.json: a JSON object with a "type"
 * string and the "uuid" of its file name. Returns the object (caller
 * puts), or NULL with a static reason in *why.
 */
json_object *wfiles_worker_json(const char *buf, size_t len, const char *uuid,
    const char **why);
/* What a monitor's worker_<uuid>.status says. */
struct wfiles_status {
	int state;     /* enum fnwm_worker_state, -1 when none or unknown */
	pid_t monitor; /* the monitor that wrote it, 0 when none */
	int exiting;   /* it was stopping its worker to exit */
};
void wfiles_status(const char *buf, size_t len, struct wfiles_status *);
/*
 * The text of a worker's .runstate as a printable progress message in out;
 * 1 when it is news about a start, 0 when it is empty or from a past life.
 */
int wfiles_runstate(const char *buf, size_t len, char *out, size_t outsz);

/* probe.c: is the FuncNodes worker <uuid> answering on host:port? */
enum probe_result {
	PROBE_ACTIVE,   /* answered with our uuid */
	PROBE_MISMATCH, /* answered with another uuid */
	PROBE_FAILED,   /* refused, timed out, bad answer */
};
typedef void probe_cb(void *arg, enum probe_result, const char *detail);
struct probe;
/* Starts a probe; cb is called exactly once, never from inside this call. */
struct probe *probe_start(struct ev_loop *, const char *host, int port,
    const char *uuid, double connect_s, double reply_s, probe_cb *, void *arg);
/*
 * Like probe_start, but once the worker proved to be <uuid> it is sent
 * {"type": "cmd", "cmd": "stop_worker"}; PROBE_ACTIVE then means "sent".
 */
struct probe *probe_stop_worker(struct ev_loop *, const char *host, int port,
    const char *uuid, double connect_s, double reply_s, probe_cb *, void *arg);
/* Cancels a pending probe; its callback is not called. */
void probe_cancel(struct probe *);
/* The lws protocol callback of outgoing probe connections. */
int
probe_lws_callback(struct lws *, int reason, void *user, void *in, size_t len);
/* Maps 0.0.0.0, ::, "" and localhost to the loopback literal to dial. */
const char *probe_dial_host(const char *host);
/* Probes refused because the worker's host is a name, not an address. */
uint64_t probe_names_refused(void);

/* registry.c: the workers known from the workers dir */
enum worker_state {
	WORKER_INACTIVE,
	WORKER_ACTIVE,
};
int registry_init(struct ev_loop *, const struct fnwm_config *);
void registry_shutdown(void);
/* Full directory scan (start-up, inotify overflow). */
void registry_scan_all(void);
/* A file in the workers dir changed; name is its basename. */
void registry_file_event(const char *name);
/* Marks every worker with a .p for a liveness re-check and re-probe. */
void registry_reprobe_all(void);
/* Whether the first scan, probes included, has finished. */
int registry_ready(void);
/* The cached worker_status message (a new reference). */
struct fnwm_outmsg *registry_status_msg(void);
size_t registry_count(void);
/* Wall-clock time (s) of the last change of the worker lists. */
double registry_last_change(void);
/* Re-reads a worker's files soon (debounced; safe from any callback). */
void registry_touch(const char *uuid);
/* Re-reads a worker's files now (not debounced). */
void registry_refresh_now(const char *uuid);
/* The listed JSON of a worker (borrowed, valid until the next refresh). */
json_object *registry_entry(const char *uuid);
int registry_is_active(const char *uuid);
/* The pid of a worker's .p when that process is alive, else 0. */
pid_t registry_live_pid(const char *uuid);
/* While on, file events of uuid are handled at once, not debounced. */
void registry_urgent(const char *uuid, int on);
/* Probes the worker now (if its .p names a live process). */
void registry_probe_now(const char *uuid);
/* Whether worker_<uuid>.json exists, even if it is not valid. */
int registry_json_exists(const char *uuid);
/* Calls fn for every listed worker. */
void registry_each(void (*fn)(const char *uuid, void *), void *arg);

/* watch.c: inotify on the workers dir and the config dir, timers */
int watch_start(struct ev_loop *, const struct fnwm_config *, char **cause);
void watch_stop(void);

/* launch.c */
/* Allocated paths: the worker's data dir and interpreter. */
char *launch_data_dir(const struct fnwm_config *, const char *uuid,
    json_object *entry);
char *launch_python(const struct fnwm_config *, json_object *entry);
/*
 * A worker's own "fnwm" liveness_timeout (s, 0 off) and autostart, or
 * the manager-wide defaults; 0, or -1 with a cause when a value is bad.
 */
int launch_supervision(const struct fnwm_config *, json_object *entry,
    double *liveness, int *autostart, char **cause);
/* Encodes the CMD_CONFIG payload for a worker; 0, or -1 with a cause. */
int
launch_encode(const struct fnwm_config *, const char *uuid, json_object *entry,
    unsigned char *buf, size_t bufsz, size_t *len, char **cause);

/* monitors.c */
struct op;
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

/* ops.c: operations on one worker, serialised per worker */
enum op_kind {
	OP_ACTIVATE,
	OP_STOP,
	OP_RESTART,
	OP_DELETE,
	OP_CREATE, /* new_worker in a venv */
	OP_REPAIR, /* recreate a worker's venv */
};

/* One preparation step an operation has the monitor run. */
struct op_step {
	char *label; /* progress text, or NULL */
	double progress;
	int best_effort; /* a failure is reported, not fatal */
	char *failure;   /* progress text on failure (best effort) */
	char *cwd;
	char *argv[FNWM_ARGV_MAX + 1];
	int argc;
};
struct op {
	enum op_kind kind;
	uint64_t client;
	struct monitor *mon;
	int phase;
	int sub; /* the stop phase's own step */
	ev_timer deadline;
	int expired;       /* the deadline fired */
	int preempted;     /* a stop or delete cancels this one */
	int restarts_left; /* stop: monitors we may start to finish it */
	int stop_tried;
	ev_timer retry;
	int32_t old_pid;
	unsigned mon_gen; /* restart: the monitor the command went to */
	char runstate[256];
	struct probe *stopper;
	pid_t rm_pid;
	ev_child rmw;
	int rm_status;
	int broadcast;         /* progress goes to every client */
	json_object *json;     /* OP_CREATE: the worker's JSON to write */
	int made_dir;          /* OP_CREATE: the data dir is ours to remove */
	struct op_step *steps; /* preparation steps, run in order */
	int nsteps, cur;
	int step_sent;
	int steps_failed;
	char *fail_summary;
	int autostart;   /* an activation of autostart.c */
	int step_slot;   /* holds one of fnwm.max_parallel_steps */
	int step_queued; /* waits in the step queue for a slot */
	TAILQ_ENTRY(op) entry;
	TAILQ_ENTRY(op) stepq;
};
void ops_init(struct ev_loop *, const struct fnwm_config *);
/* Queues an operation on uuid for the client with id client. */
void ops_submit(enum op_kind, const char *uuid, uint64_t client);
/* Something about uuid changed: let its operation look again. */
void ops_kick(const char *uuid);
/* Drops every operation (teardown). */
void ops_cancel_all(void);
/* Shutdown: cancels what may be cancelled, so it cleans up. */
void ops_wind_down(void);
size_t ops_pending(void);
/* Progress and error to an operation's requester, if still there. */
void
ops_progress(struct op *, const char *message, double progress, int blocking);
void ops_error(struct op *, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Queues the activation of a worker the manager starts by itself. */
void ops_submit_autostart(const char *uuid);
/* Queues OP_CREATE for a worker whose JSON is built (takes json). */
void ops_submit_create(const char *uuid, uint64_t client, json_object *json,
    int made_dir);

/* ops-venv.c: the steps of venvs and upgrades */
/* Adds a step; argv is NULL-terminated and copied. */
void
venv_add_step(struct op *, const char *label, double progress, int best_effort,
    const char *failure, const char *cwd, const char *const *argv);
void venv_free_steps(struct op *);
/* Gives back the op's step slot and leaves the queue (op ends). */
void venv_release(struct op *);
/* Steps running now, across all workers (for /metrics). */
int venv_steps_running(void);
/* The steps creating dir/.venv with funcnodes in it. */
void venv_plan_create(struct op *, const char *datadir, int broadcast);
/* The update_on_startup upgrades of a worker's venv. */
void venv_plan_upgrades(struct op *, json_object *entry, const char *datadir);
/* Recreating a venv with the worker's recorded dependencies. */
void venv_plan_repair(struct op *, json_object *entry, const char *datadir);
/* Runs the planned steps; 1 when all ran (or one that matters failed). */
int venv_run_steps(struct op *);
/* Absolute path of a worker's venv dir, or NULL when it has none. */
char *venv_dir(json_object *entry);

/* autostart.c */
/* Starts the workers marked autostart that nobody runs (start-up). */
void autostart_begin(const struct fnwm_config *);
/* An autostart activation ended: the next may begin. */
void autostart_done(void);
/* Shutdown: starts no more. */
void autostart_cancel(void);
/* Sets "autostart" in the worker's JSON; 0, or -1 with a cause. */
int autostart_set(const char *uuid, int on, char **cause);

/* liveness.c */
void liveness_init(struct ev_loop *, const struct fnwm_config *);
/* A probe of uuid ended (the registry has its result). */
void liveness_probed(const char *uuid);
/* The periodic re-probe: judge every running worker. */
void liveness_tick(void);
/* Whether the worker runs but has not answered for its timeout. */
int liveness_unresponsive(const char *uuid);

/* logs.c */
void logs_init(struct ev_loop *);
void logs_shutdown(void);
/* The worker's log file path (allocated). */
char *logs_path(const char *uuid);
/* Sends the last lines, and follows when asked; -1 with a cause. */
int logs_request(struct ws_client *, const char *uuid, int lines, int follow,
    char **cause);
/* A client went away: its followers go too. */
void logs_client_gone(uint64_t client);

/* wsclient.c: the command line's blocking WebSocket client */
struct wsclient;
struct wsc_options {
	int tls;            /* wss:// */
	const char *cacert; /* trusted CA file; NULL: the system's */
	const char *token;  /* sent as a Bearer header; NULL: none */
};
/* Connects and shakes hands; NULL with a cause on failure. */
struct wsclient *wsc_connect(const char *host, int port,
    const struct wsc_options *, int timeout_ms, char **cause);
int wsc_send(struct wsclient *, const char *text);
/*
 * Receives one whole message into an allocated NUL-terminated buffer
 * (caller frees); timeout_ms < 0 waits forever. 0, or -1 with errno
 * (ETIMEDOUT, ECONNRESET when the server closed).
 */
int wsc_recv(struct wsclient *, int timeout_ms, char **out, size_t *len);
void wsc_close(struct wsclient *);

/* notify.c: systemd notifications (no-ops without NOTIFY_SOCKET) */
void notify_init(struct ev_loop *);
void notify_ready(void);
void notify_status(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_shutdown(void);

/* cli.c */
/* Runs a client command (ping, identify, stop, worker ...); exit code. */
struct cli_options {
	const char *host; /* NULL: the configured one */
	int port;         /* 0: the configured one */
	int no_start;
	int tls;            /* --tls */
	const char *cacert; /* --cacert */
	const char *url;    /* --url ws[s]://HOST:PORT/[?token=T] */
};
int cli_main(const char *cmd, int argc, char **argv, const struct fnwm_args *,
    const struct cli_options *);

/* main.c */
/* Starts an orderly shutdown of the master; safe from any callback. */
void master_shutdown(const char *why);
int shutdown_in_progress(void);
/* Exits leaving every worker running under its monitor (upgrades). */
void master_detach(const char *why);
/* A monitor exited; the shutdown may be able to finish. */
void shutdown_monitor_gone(void);
extern const struct fnwm_config *master_cfg;

#endif
