/* SPDX-License-Identifier: MIT */
/* the configuration: command line, environment and config.json */
#ifndef FNWM_MASTER_CONFIG_H
#define FNWM_MASTER_CONFIG_H

#include <stddef.h>

#include <json-c/json.h>

#define FNWM_VERSION "0.1.0"

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

#endif
