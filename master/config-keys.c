/* SPDX-License-Identifier: MIT */
/*
 * Every configuration key, one row each: where it is in config.json, its
 * type and bounds, its default, what may override it, whether SIGHUP
 * applies it, and the line README.md shows for it. config.c loads,
 * checks and reloads by this table; tests/unit/test_config.c holds
 * README.md's table to it.
 */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "beneath.h"
#include "defaults.h"
#include "xmalloc.h"
#include "config.h"

#define OFF(f) offsetof(struct fnwm_config, f)
#define ARG(f) offsetof(struct fnwm_args, f)
#define KiB    1024.0
#define MiB    (1024.0 * 1024)
#define GiB    (1024.0 * 1024 * 1024)

static int
element_string(const char *s, char **out)
{
	*out = xstrdup(s);
	return (0);
}

/* A host name as the Host header carries it, without the port. */
static int
element_host(const char *s, char **out)
{
	if (*s == '\0' || strpbrk(s, ":/ ") != NULL)
		return (-1);
	*out = xstrdup(s);
	return (0);
}

/* An absolute directory, kept without its trailing slashes; not "/". */
static int
element_data_root(const char *s, char **out)
{
	size_t len = strlen(s);

	while (len > 1 && s[len - 1] == '/')
		len--;
	if (s[0] != '/' || len <= 1 || !fnwm_path_plain(s + 1))
		return (-1);
	*out = xstrndup(s, len);
	return (0);
}

/* clang-format off */
const struct config_key config_keys[] = {
	{ "worker_manager", "host", CFG_STRING, OFF(host),
	  .sdef = "localhost", .flag = "--host", .arg = ARG(host),
	  .doc = "address the manager listens on (FuncNodes' own key); a name "
	         "is resolved once, at start-up" },
	{ "worker_manager", "port", CFG_INT, OFF(port), .min = 0,
	  .max = 65535, .def = 9380, .flag = "--port", .arg = ARG(port),
	  .doc = "port the manager listens on (FuncNodes' own key); "
	         "`--port 0` takes a free one" },
	{ "worker_manager", "ssl", CFG_BOOL, OFF(worker_ssl),
	  .doc = "FuncNodes' own key: workers serve `wss://`, and are probed "
	         "so" },
	{ "fnwm", "python", CFG_PROGRAM, OFF(python), .sdef = "python3",
	  .shown = "`python3` on PATH", .flag = "--python", .arg = ARG(python),
	  .env = "FUNCNODES_PYTHON",
	  .doc = "host python: runs the workers without a venv, reported by "
	         "`identify`" },
	{ "fnwm", "probe_interval", CFG_SECONDS, OFF(probe_interval),
	  .min = 0.1, .max = 86400, .def = 10, .reload = 1,
	  .doc = "seconds between re-probes of running workers" },
	{ "fnwm", "probe_connect_timeout", CFG_SECONDS, OFF(probe_connect),
	  .min = 0.05, .max = 600, .def = 2, .reload = 1,
	  .doc = "deadline of the worker identity probe's connection, s" },
	{ "fnwm", "probe_reply_timeout", CFG_SECONDS, OFF(probe_reply),
	  .min = 0.05, .max = 600, .def = 1, .reload = 1,
	  .doc = "deadline of the worker identity probe's answer, s" },
	{ "fnwm", "debounce", CFG_SECONDS, OFF(debounce), .min = 0, .max = 10,
	  .def = 0.05, .reload = 1,
	  .doc = "coalescing of file events in the workers dir, s" },
	{ "fnwm", "stale_p_grace", CFG_SECONDS, OFF(stale_p_grace), .min = 0,
	  .max = 86400, .def = 30, .reload = 1,
	  .doc = "an unparsable `.p` older than this is stale, s" },
	{ "fnwm", "max_message_size", CFG_SIZE, OFF(max_message),
	  .min = 1 * KiB, .max = 1 * GiB, .def = 4 * MiB, .reload = 1,
	  .doc = "largest inbound WebSocket message; larger closes with 1009" },
	{ "fnwm", "max_clients", CFG_SIZE, OFF(max_clients), .min = 1,
	  .max = 1000000, .def = 1024, .reload = 1,
	  .doc = "WebSocket clients at once; one more is refused with HTTP "
	         "503" },
	{ "fnwm", "client_queue_bytes", CFG_SIZE, OFF(client_queue),
	  .min = 64 * KiB, .max = 4 * GiB, .def = 4 * MiB, .reload = 1,
	  .doc = "unsent bytes a client may lag behind before it is closed "
	         "(1008)" },
	{ "fnwm", "total_queue_bytes", CFG_SIZE, OFF(total_queue),
	  .min = 64 * KiB, .max = 16 * GiB, .def = 64 * MiB, .reload = 1,
	  .doc = "unsent bytes of all clients together; above it a client "
	         "with anything unsent is closed (1008)" },
	{ "fnwm", "allowed_origins", CFG_LIST, OFF(allowed_origins),
	  OFF(n_allowed_origins), .what = "strings",
	  .element = element_string, .flag = "--allow-origin",
	  .arg = ARG(origins), .reload = 1,
	  .doc = "extra browser Origins allowed to connect (`\"*\"` allows "
	         "any)" },
	{ "fnwm", "stop_timeout", CFG_SECONDS, OFF(stop_timeout), .min = 0,
	  .max = 3600, .def = FNWM_DEFAULT_STOP_TIMEOUT_MS / 1000.0,
	  .reload = 1,
	  .doc = "a stopping worker gets this long to stop on its own before "
	         "SIGTERM, s" },
	{ "fnwm", "kill_timeout", CFG_SECONDS, OFF(kill_timeout), .min = 0,
	  .max = 3600, .def = FNWM_DEFAULT_KILL_TIMEOUT_MS / 1000.0,
	  .reload = 1,
	  .doc = "then this long before SIGKILL, s" },
	{ "fnwm", "activate_timeout", CFG_SECONDS, OFF(activate_timeout),
	  .min = 0.1, .max = 86400, .def = 120, .reload = 1,
	  .doc = "`set_active` gives up when the worker has not answered by "
	         "then, s" },
	{ "fnwm", "liveness_timeout", CFG_SECONDS, OFF(liveness_timeout),
	  .min = 0, .max = 86400, .def = 30, .reload = 1,
	  .doc = "a running worker that has not answered its probe this long "
	         "is unresponsive, and restarted after as long again, s; 0 "
	         "turns it off (also per worker)" },
	{ "fnwm", "autostart", CFG_BOOL, OFF(autostart), .reload = 1,
	  .doc = "every worker starts with the manager unless its own "
	         "`\"fnwm\"` key says `\"autostart\": false`" },
	{ "fnwm", "restart_policy", CFG_OBJECT, OFF(restart_defaults),
	  .shown = "see below", .reload = 1,
	  .doc = "manager-wide restart policy defaults (\"Supervising "
	         "workers\")" },
	{ "fnwm", "monitor", CFG_STRING, OFF(monitor_path),
	  .shown = "found beside `fnwm`", .env = "FNWM_MONITOR",
	  .doc = "path of `fnwm-monitor`" },
	{ "fnwm", "venv_python", CFG_PROGRAM, OFF(venv_python),
	  .shown = "the host python",
	  .doc = "makes venvs (`python -m venv`) when uv is not used" },
	{ "fnwm", "uv_python", CFG_STRING, OFF(uv_python), .sdef = "3.11",
	  .doc = "`uv venv --python` of new venvs" },
	{ "fnwm", "use_uv", CFG_BOOL, OFF(use_uv), .def = 1,
	  .doc = "make venvs with uv when it is on PATH; false: `python -m "
	         "venv` and pip" },
	{ "fnwm", "upgrade_on_start", CFG_BOOL, OFF(upgrade_on_start),
	  .def = 1, .reload = 1,
	  .doc = "run the `update_on_startup` upgrades before a start" },
	{ "fnwm", "step_timeout", CFG_SECONDS, OFF(step_timeout), .min = 1,
	  .max = 86400, .def = 600, .reload = 1,
	  .doc = "time limit of one venv or upgrade step, s" },
	{ "fnwm", "log_level", CFG_LEVEL, OFF(log_level), .def = -1,
	  .shown = "`info`", .reload = 1,
	  .doc = "`debug`, `info` or `warning`; `--debug` beats it" },
	{ "fnwm", "token_file", CFG_PATH, OFF(token_file),
	  OFF(token_file_default), .sdef = "fnwm.token", .reload = 1,
	  .doc = "the control token; the default file is made (random, 0600) "
	         "at first start, a configured one must exist" },
	{ "fnwm", "readonly_token_file", CFG_PATH, OFF(readonly_token_file),
	  .reload = 1,
	  .doc = "a read-only token: ping, identify, worker_status, "
	         "worker_details, worker_logs, worker_stats, "
	         "worker_stats_history, `/metrics`" },
	{ "fnwm", "require_token", CFG_BOOL, OFF(require_token), .reload = 1,
	  .doc = "true: every client needs a token, even the manager's own "
	         "user on loopback" },
	{ "fnwm", "allowed_hosts", CFG_LIST, OFF(allowed_hosts),
	  OFF(n_allowed_hosts), .what = "host names without ports",
	  .element = element_host, .reload = 1,
	  .doc = "extra names the `Host` header may carry (besides localhost, "
	         "loopback addresses and the bind address)" },
	{ "fnwm", "tls.cert", CFG_PATH, OFF(tls_cert), .reload = 1,
	  .doc = "PEM certificate (chain); with `tls.key` the hub serves "
	         "`wss://` and `https://` (on or off only with a restart)" },
	{ "fnwm", "tls.key", CFG_PATH, OFF(tls_key), .reload = 1,
	  .doc = "the certificate's PEM key" },
	{ "fnwm", "insecure_remote", CFG_BOOL, OFF(insecure_remote),
	  .doc = "true: allow a non-loopback bind without TLS" },
	{ "fnwm", "allowed_data_roots", CFG_LIST, OFF(allowed_data_roots),
	  OFF(n_allowed_data_roots),
	  .what = "absolute directories (not \"/\", no \".\" or \"..\")",
	  .element = element_data_root, .reload = 1,
	  .doc = "absolute directories beneath which a `new_worker` "
	         "`data_path` may also lie (besides the workers dir)" },
	{ "fnwm", "allow_direct_references", CFG_BOOL,
	  OFF(allow_direct_references), .reload = 1,
	  .doc = "let dependencies be URLs, paths and `name @ URL` (options "
	         "never)" },
	{ "fnwm", "max_kwargs_bytes", CFG_SIZE, OFF(max_kwargs_bytes),
	  .min = 256, .max = 64 * MiB, .def = 64 * KiB, .reload = 1,
	  .doc = "largest `new_worker` kwargs (serialized JSON); larger ones "
	         "are refused" },
	{ "fnwm", "max_workers", CFG_SIZE, OFF(max_workers), .min = 1,
	  .max = 1e7, .def = 10000, .reload = 1,
	  .doc = "`new_worker` is refused once this many workers exist" },
	{ "fnwm", "max_parallel_steps", CFG_INT, OFF(max_parallel_steps),
	  .min = 1, .max = 1024, .def = 2, .reload = 1,
	  .doc = "venv/pip steps running at once across all workers; the "
	         "rest wait in order" },
};
/* clang-format on */
const size_t config_nkeys = sizeof config_keys / sizeof config_keys[0];

const struct config_key *
config_key_find(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++)
		if (strcmp(config_keys[i].section, section) == 0 &&
		    strcmp(config_keys[i].key, key) == 0)
			return (&config_keys[i]);
	return (NULL);
}

const char *
config_doc_header(void)
{
	return ("| key | default | reloadable | meaning |\n"
	        "| --- | --- | --- | --- |");
}

static void
config_doc_default(const struct config_key *k, char *buf, size_t len)
{
	if (k->shown != NULL)
		snprintf(buf, len, "%s", k->shown);
	else if (k->type == CFG_BOOL)
		snprintf(buf, len, "%s", k->def != 0 ? "true" : "false");
	else if (k->type == CFG_INT || k->type == CFG_SIZE ||
	    k->type == CFG_SECONDS)
		snprintf(buf, len, "%.15g", k->def);
	else if (k->type == CFG_LIST)
		snprintf(buf, len, "`[]`");
	else if (k->sdef != NULL && k->type == CFG_PATH)
		snprintf(buf, len, "`<config dir>/%s`", k->sdef);
	else if (k->sdef != NULL)
		snprintf(buf, len, "`%s`", k->sdef);
	else
		snprintf(buf, len, "none");
}

char *
config_doc_row(const struct config_key *k)
{
	char def[128], also[128] = "";

	config_doc_default(k, def, sizeof def);
	if (k->flag != NULL && k->env != NULL)
		snprintf(also, sizeof also, " (also `%s`, `%s`)", k->flag,
		    k->env);
	else if (k->flag != NULL || k->env != NULL)
		snprintf(also, sizeof also, " (also `%s`)",
		    k->flag != NULL ? k->flag : k->env);
	return (xasprintf("| `%s.%s` | %s | %s | %s%s |", k->section, k->key,
	    def, k->reload ? "yes" : "no", k->doc, also));
}
