/* SPDX-License-Identifier: MIT */
/* the configuration: command line, environment and config.json */
#ifndef FNWM_MASTER_CONFIG_H
#define FNWM_MASTER_CONFIG_H

#include <stddef.h>

#include <json-c/json.h>

#define FNWM_VERSION "0.1.0"

/* config.c, config-keys.c */
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
	int use_uv;                    /* fnwm.use_uv: uv when on PATH */
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

/* The command line of startworkermanager; NULL or 0 when not given. */
struct fnwm_args {
	const char *dir, *host, *python;
	int port; /* 0 = not given, -1 = any free port */
	int debug;
	const char **origins; /* --allow-origin, NULL-terminated */
	size_t n_origins;
};

/* config-keys.c: one row per configuration key */
enum config_type {
	CFG_BOOL,    /* int: true or false */
	CFG_INT,     /* int within [min, max] */
	CFG_SIZE,    /* size_t within [min, max] */
	CFG_SECONDS, /* double within [min, max] */
	CFG_STRING,  /* char * */
	CFG_PROGRAM, /* char *: a program, looked up on PATH */
	CFG_PATH,    /* char *: absolute, or relative to the config dir */
	CFG_LEVEL,   /* int: "debug", "info" or "warning"; -1 when unset */
	CFG_OBJECT,  /* json_object *, checked where it is used */
	CFG_LIST,    /* char ** (NULL-terminated), its size_t count at aux */
};

struct config_key {
	const char *section; /* "worker_manager" or "fnwm" */
	const char *key;     /* may name a member of an object: "tls.cert" */
	enum config_type type;
	size_t off; /* of the value in struct fnwm_config */
	/*
	 * CFG_LIST: offset of the count; CFG_PATH with a default: offset of
	 * the int that says the default is in use; else 0.
	 */
	size_t aux;
	double min, max; /* numbers */
	double def;      /* numbers, booleans, CFG_LEVEL */
	const char
	    *sdef; /* strings and programs; CFG_PATH: in the config dir */
	const char
	    *shown;       /* the default as README.md shows it, when computed */
	const char *what; /* CFG_LIST: what an element must be */
	/* CFG_LIST: 0 and an allocated (normalised) copy, or -1. */
	int (*element)(const char *, char **);
	const char *flag; /* the command-line option that overrides it */
	size_t arg;       /* where that option is in struct fnwm_args */
	const char *env;  /* the environment variable that overrides it */
	int reload;       /* SIGHUP applies a new value */
	const char *doc;
};
extern const struct config_key config_keys[];
extern const size_t config_nkeys;
/* The row of section.key; NULL when there is none. */
const struct config_key *config_key_find(const char *section, const char *key);
/* The row of README.md's configuration table for k (allocated). */
char *config_doc_row(const struct config_key *k);
/* The table's first two lines (static). */
const char *config_doc_header(void);

/* config-dir.c */
/*
 * Resolves the config dir into cfg (base_dir, config_dir) and reads its
 * config.json into *root (NULL when there is none); 0 or -1 + cause.
 */
int config_dirs(struct fnwm_config *, const struct fnwm_args *,
    json_object **root, char **cause);
/* name on PATH: an allocated absolute path, or a copy of name. */
char *config_which(const char *name);

/* config.c */
/*
 * Re-reads the configuration into cfg, changing only the keys marked
 * reloadable; 0, or -1 with a cause and cfg untouched.
 */
int config_reload(struct fnwm_config *, const struct fnwm_args *, char **cause);
/*
 * Fills cfg from the command line, the environment and config.json, in
 * this order of precedence (lists add up); 0 or -1 + cause.
 */
int config_load(struct fnwm_config *, const struct fnwm_args *, char **cause);
void config_free(struct fnwm_config *);

#endif
