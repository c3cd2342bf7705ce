/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the config dir resolution of FuncNodes (--dir, then
 * FUNCNODES_CONFIG_DIR, then ~/.funcnodes, then custom_config_dir) and the
 * keys fnwm reads from config.json. config.json is only read, never written.
 */
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beneath.h"
#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"

#define CONFIG_MAX_BYTES (4 * 1024 * 1024)

#define CONFIG_SWAP(type, a, b)  \
	do {                     \
		type tmp_ = (a); \
		(a) = (b);       \
		(b) = tmp_;      \
	} while (0)

/*
 * Makes path absolute against the cwd and normalises "." and ".." and
 * repeated slashes, without resolving symlinks (Python's os.path.abspath).
 * Returns an allocated string.
 */
static char *
config_abspath(const char *path)
{
	char cwd[PATH_MAX], *joined, *out, *seg, *save;
	size_t o = 0;

	if (path[0] == '/')
		joined = xstrdup(path);
	else {
		if (getcwd(cwd, sizeof cwd) == NULL)
			snprintf(cwd, sizeof cwd, "/");
		joined = xasprintf("%s/%s", cwd, path);
	}
	out = xmalloc(strlen(joined) + 2);
	out[0] = '\0';
	for (seg = strtok_r(joined, "/", &save); seg != NULL;
	     seg = strtok_r(NULL, "/", &save)) {
		if (strcmp(seg, ".") == 0)
			continue;
		if (strcmp(seg, "..") == 0) {
			while (o > 0 && out[o - 1] != '/')
				o--;
			if (o > 0)
				o--;
			out[o] = '\0';
			continue;
		}
		out[o++] = '/';
		strcpy(out + o, seg);
		o += strlen(seg);
	}
	if (o == 0)
		strcpy(out, "/");
	free(joined);
	return (out);
}

/* Reads dir/config.json, else dir/config.json.bu; NULL when neither parses. */
static json_object *
config_read_json(const char *dir)
{
	static const char *names[] = { "config.json", "config.json.bu" };
	json_object *o;
	const char *err;
	char *path, *buf;
	size_t len, i;

	for (i = 0; i < 2; i++) {
		path = xasprintf("%s/%s", dir, names[i]);
		if (fnwm_read_file(path, CONFIG_MAX_BYTES, &buf, &len) == -1) {
			if (errno != ENOENT)
				log_warn("read %s", path);
			free(path);
			continue;
		}
		o = fnwm_json_parse(buf, len, &err);
		free(buf);
		if (o != NULL && json_object_is_type(o, json_type_object)) {
			log_debug("config: loaded %s", path);
			free(path);
			return (o);
		}
		log_warnx("%s: %s; ignored", path,
		    o == NULL ? err : "not a JSON object");
		json_object_put(o);
		free(path);
	}
	return (NULL);
}

static json_object *
config_get(json_object *root, const char *section, const char *key)
{
	json_object *sec, *v;

	if (root == NULL || !json_object_object_get_ex(root, section, &sec) ||
	    !json_object_is_type(sec, json_type_object) ||
	    !json_object_object_get_ex(sec, key, &v))
		return (NULL);
	return (v);
}

static int
config_get_number(json_object *root, const char *section, const char *key,
    double min, double max, double *out, char **cause)
{
	json_object *v = config_get(root, section, key);
	double d;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double)) {
		*cause = xasprintf("config.json: %s.%s must be a number",
		    section, key);
		return (-1);
	}
	d = json_object_get_double(v);
	if (!(d >= min && d <= max)) {
		*cause = xasprintf("config.json: %s.%s must be within %g..%g",
		    section, key, min, max);
		return (-1);
	}
	*out = d;
	return (0);
}

/* Looks name up on PATH; returns an allocated absolute path or a copy. */
static char *
config_which(const char *name)
{
	const char *path = getenv("PATH");
	char *copy, *dir, *save, *cand;

	if (strchr(name, '/') != NULL || path == NULL)
		return (xstrdup(name));
	copy = xstrdup(path);
	for (dir = strtok_r(copy, ":", &save); dir != NULL;
	     dir = strtok_r(NULL, ":", &save)) {
		cand = xasprintf("%s/%s", *dir ? dir : ".", name);
		if (access(cand, X_OK) == 0) {
			char *abs = config_abspath(cand);

			free(cand);
			free(copy);
			return (abs);
		}
		free(cand);
	}
	free(copy);
	return (xstrdup(name));
}

static char *
config_home(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home == NULL || *home == '\0') {
		pw = getpwuid(getuid());
		home = pw != NULL ? pw->pw_dir : "/";
	}
	return (xstrdup(home));
}

static int
config_origins(struct fnwm_config *cfg, json_object *root,
    const struct fnwm_args *args, char **cause)
{
	json_object *v = config_get(root, "fnwm", "allowed_origins");
	size_t i, n = 0;

	if (v != NULL && !json_object_is_type(v, json_type_array)) {
		*cause = xstrdup("config.json: fnwm.allowed_origins must be a "
		                 "list of strings");
		return (-1);
	}
	if (v != NULL)
		n = json_object_array_length(v);
	cfg->allowed_origins = xcalloc(n + args->n_origins + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(v, i);

		if (!json_object_is_type(e, json_type_string)) {
			*cause = xstrdup("config.json: fnwm.allowed_origins "
			                 "must be a list of strings");
			return (-1);
		}
		cfg->allowed_origins[cfg->n_allowed_origins++] =
		    xstrdup(json_object_get_string(e));
	}
	for (i = 0; i < args->n_origins; i++)
		cfg->allowed_origins[cfg->n_allowed_origins++] =
		    xstrdup(args->origins[i]);
	return (0);
}

static int
config_get_bool(json_object *root, const char *section, const char *key,
    int *out, char **cause)
{
	json_object *v = config_get(root, section, key);

	if (v == NULL || json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_boolean)) {
		*cause = xasprintf("config.json: %s.%s must be true or false",
		    section, key);
		return (-1);
	}
	*out = json_object_get_boolean(v);
	return (0);
}

/* A path setting: absolute, or relative to the config dir; NULL if unset. */
static int
config_get_path(const struct fnwm_config *cfg, json_object *v, const char *name,
    char **out, char **cause)
{
	const char *s;

	*out = NULL;
	if (v == NULL || json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		*cause = xasprintf("config.json: %s must be a file name", name);
		return (-1);
	}
	s = json_object_get_string(v);
	*out =
	    s[0] == '/' ? xstrdup(s) : xasprintf("%s/%s", cfg->config_dir, s);
	return (0);
}

/* fnwm.allowed_hosts: names (no ports) the Host header may carry. */
static int
config_hosts(struct fnwm_config *cfg, json_object *root, char **cause)
{
	json_object *v = config_get(root, "fnwm", "allowed_hosts"), *e;
	size_t i, n;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_array))
		goto bad;
	n = json_object_array_length(v);
	cfg->allowed_hosts = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string) ||
		    json_object_get_string_len(e) == 0 ||
		    strpbrk(json_object_get_string(e), ":/ ") != NULL)
			goto bad;
		cfg->allowed_hosts[cfg->n_allowed_hosts++] =
		    xstrdup(json_object_get_string(e));
	}
	return (0);
bad:
	*cause = xstrdup("config.json: fnwm.allowed_hosts must be a list of "
	                 "host names without ports");
	return (-1);
}

/* The keys of access control: tokens, trust, TLS. */
static int
config_access(struct fnwm_config *cfg, json_object *root, char **cause)
{
	json_object *tls = config_get(root, "fnwm", "tls"), *cert = NULL,
	            *key = NULL;

	if (config_get_path(cfg, config_get(root, "fnwm", "token_file"),
	        "fnwm.token_file", &cfg->token_file, cause) == -1 ||
	    config_get_path(cfg,
	        config_get(root, "fnwm", "readonly_token_file"),
	        "fnwm.readonly_token_file", &cfg->readonly_token_file,
	        cause) == -1)
		return (-1);
	if (cfg->token_file == NULL) {
		cfg->token_file = xasprintf("%s/fnwm.token", cfg->config_dir);
		cfg->token_file_default = 1;
	}
	if (config_get_bool(root, "fnwm", "require_token", &cfg->require_token,
	        cause) == -1 ||
	    config_get_bool(root, "fnwm", "insecure_remote",
	        &cfg->insecure_remote, cause) == -1 ||
	    config_hosts(cfg, root, cause) == -1)
		return (-1);
	if (tls != NULL && !json_object_is_type(tls, json_type_null)) {
		if (!json_object_is_type(tls, json_type_object)) {
			*cause = xstrdup("config.json: fnwm.tls must be an "
			                 "object with \"cert\" and \"key\"");
			return (-1);
		}
		json_object_object_get_ex(tls, "cert", &cert);
		json_object_object_get_ex(tls, "key", &key);
		if (config_get_path(cfg, cert, "fnwm.tls.cert", &cfg->tls_cert,
		        cause) == -1 ||
		    config_get_path(cfg, key, "fnwm.tls.key", &cfg->tls_key,
		        cause) == -1)
			return (-1);
		if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
			*cause = xstrdup("config.json: fnwm.tls needs both "
			                 "\"cert\" and \"key\"");
			return (-1);
		}
	}
	return (0);
}

/* fnwm.allowed_data_roots: absolute directories, kept without a
 * trailing slash; "/" and paths with "." or ".." are refused. */
static int
config_data_roots(struct fnwm_config *cfg, json_object *root, char **cause)
{
	json_object *v = config_get(root, "fnwm", "allowed_data_roots"), *e;
	const char *s;
	size_t i, n, len;

	if (v == NULL || json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_array))
		goto bad;
	n = json_object_array_length(v);
	cfg->allowed_data_roots = xcalloc(n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string))
			goto bad;
		s = json_object_get_string(e);
		len = strlen(s);
		while (len > 1 && s[len - 1] == '/')
			len--;
		if (s[0] != '/' || len <= 1 || !fnwm_path_plain(s + 1))
			goto bad;
		cfg->allowed_data_roots[cfg->n_allowed_data_roots++] =
		    xstrndup(s, len);
	}
	return (0);
bad:
	*cause = xstrdup("config.json: fnwm.allowed_data_roots must be a list "
	                 "of absolute directories (not \"/\", no \".\" or "
	                 "\"..\")");
	return (-1);
}

/* The ceilings on what clients may make the manager hold or run. */
static int
config_limits(struct fnwm_config *cfg, json_object *root, char **cause)
{
	double d;

	d = (double)cfg->max_kwargs_bytes;
	if (config_get_number(root, "fnwm", "max_kwargs_bytes", 256,
	        64.0 * 1024 * 1024, &d, cause) == -1)
		return (-1);
	cfg->max_kwargs_bytes = (size_t)d;
	d = (double)cfg->max_workers;
	if (config_get_number(root, "fnwm", "max_workers", 1, 1e7, &d, cause) ==
	    -1)
		return (-1);
	cfg->max_workers = (size_t)d;
	d = cfg->max_parallel_steps;
	if (config_get_number(root, "fnwm", "max_parallel_steps", 1, 1024, &d,
	        cause) == -1)
		return (-1);
	cfg->max_parallel_steps = (int)d;
	if (config_get_bool(root, "fnwm", "allow_direct_references",
	        &cfg->allow_direct_references, cause) == -1)
		return (-1);
	return (config_data_roots(cfg, root, cause));
}

int
config_load(struct fnwm_config *cfg, const struct fnwm_args *args, char **cause)
{
	json_object *root, *v;
	const char *env;
	char *home;
	double d;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	cfg->port = 9380;
	cfg->max_message = 4 * 1024 * 1024;
	cfg->client_queue = 4 * 1024 * 1024;
	cfg->total_queue = 64 * 1024 * 1024;
	cfg->max_clients = 1024;
	cfg->probe_interval = 10.0;
	cfg->probe_connect = 2.0;
	cfg->probe_reply = 1.0;
	cfg->debounce = 0.05;
	cfg->stale_p_grace = 30.0;
	cfg->stop_timeout = 10.0;
	cfg->kill_timeout = 5.0;
	cfg->activate_timeout = 120.0;
	cfg->step_timeout = 600.0;
	cfg->upgrade_on_start = 1;
	cfg->liveness_timeout = 30.0;
	cfg->log_level = -1;
	cfg->max_kwargs_bytes = 64 * 1024;
	cfg->max_workers = 10000;
	cfg->max_parallel_steps = 2;
	cfg->debug = args->debug;
	env = getenv("FUNCNODES_WORKER_IN_VENV");
	cfg->in_venv_default = env == NULL || strcmp(env, "1") == 0 ||
	    strcmp(env, "True") == 0 || strcmp(env, "true") == 0 ||
	    strcmp(env, "yes") == 0 || strcmp(env, "Yes") == 0 ||
	    strcmp(env, "YES") == 0;

	env = getenv("FUNCNODES_CONFIG_DIR");
	if (args->dir != NULL) {
		cfg->base_dir = config_abspath(args->dir);
		/* Children (workers, monitors) inherit the choice. */
		setenv("FUNCNODES_CONFIG_DIR", cfg->base_dir, 1);
	} else if (env != NULL && *env != '\0')
		cfg->base_dir = config_abspath(env);
	else {
		home = config_home();
		cfg->base_dir = xasprintf("%s/.funcnodes", home);
		free(home);
	}
	if (fnwm_mkdirs(cfg->base_dir, 0700) == -1) {
		*cause = xasprintf("config dir %s: %s", cfg->base_dir,
		    strerror(errno));
		return (-1);
	}

	root = config_read_json(cfg->base_dir);
	v = root != NULL ? json_object_object_get(root, "custom_config_dir")
	                 : NULL;
	if (v != NULL && json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0) {
		cfg->config_dir = config_abspath(json_object_get_string(v));
		json_object_put(root);
		if (fnwm_mkdirs(cfg->config_dir, 0700) == -1) {
			*cause = xasprintf("custom config dir %s: %s",
			    cfg->config_dir, strerror(errno));
			return (-1);
		}
		root = config_read_json(cfg->config_dir);
	} else
		cfg->config_dir = xstrdup(cfg->base_dir);
	cfg->workers_dir = xasprintf("%s/workers", cfg->config_dir);

	v = config_get(root, "worker_manager", "host");
	if (v != NULL && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_string)) {
			*cause = xstrdup("config.json: worker_manager.host "
			                 "must be a string");
			goto out;
		}
		cfg->host = xstrdup(json_object_get_string(v));
	} else
		cfg->host = xstrdup("localhost");
	d = cfg->port;
	if (config_get_number(root, "worker_manager", "port", 0, 65535, &d,
	        cause) == -1)
		goto out;
	cfg->port = (int)d;
	v = config_get(root, "worker_manager", "ssl");
	cfg->worker_ssl = v != NULL && json_object_get_boolean(v);

	if (config_get_number(root, "fnwm", "probe_interval", 0.1, 86400,
	        &cfg->probe_interval, cause) == -1 ||
	    config_get_number(root, "fnwm", "probe_connect_timeout", 0.05, 600,
	        &cfg->probe_connect, cause) == -1 ||
	    config_get_number(root, "fnwm", "probe_reply_timeout", 0.05, 600,
	        &cfg->probe_reply, cause) == -1 ||
	    config_get_number(root, "fnwm", "debounce", 0, 10, &cfg->debounce,
	        cause) == -1 ||
	    config_get_number(root, "fnwm", "stale_p_grace", 0, 86400,
	        &cfg->stale_p_grace, cause) == -1)
		goto out;
	if (config_get_number(root, "fnwm", "stop_timeout", 0, 3600,
	        &cfg->stop_timeout, cause) == -1 ||
	    config_get_number(root, "fnwm", "kill_timeout", 0, 3600,
	        &cfg->kill_timeout, cause) == -1 ||
	    config_get_number(root, "fnwm", "activate_timeout", 0.1, 86400,
	        &cfg->activate_timeout, cause) == -1 ||
	    config_get_number(root, "fnwm", "step_timeout", 1, 86400,
	        &cfg->step_timeout, cause) == -1 ||
	    config_get_number(root, "fnwm", "liveness_timeout", 0, 86400,
	        &cfg->liveness_timeout, cause) == -1)
		goto out;
	v = config_get(root, "fnwm", "autostart");
	if (v != NULL && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*cause = xstrdup("config.json: fnwm.autostart must be "
			                 "true or false");
			goto out;
		}
		cfg->autostart = json_object_get_boolean(v);
	}
	v = config_get(root, "fnwm", "restart_policy");
	if (v != NULL && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_object)) {
			*cause = xstrdup("config.json: fnwm.restart_policy "
			                 "must be an object");
			goto out;
		}
		cfg->restart_defaults = json_object_get(v);
	}
	v = config_get(root, "fnwm", "monitor");
	if (v != NULL && json_object_is_type(v, json_type_string))
		cfg->monitor_path = xstrdup(json_object_get_string(v));
	v = config_get(root, "fnwm", "upgrade_on_start");
	if (v != NULL && !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*cause = xstrdup("config.json: fnwm.upgrade_on_start "
			                 "must be true or false");
			goto out;
		}
		cfg->upgrade_on_start = json_object_get_boolean(v);
	}
	v = config_get(root, "fnwm", "log_level");
	if (v != NULL && !json_object_is_type(v, json_type_null)) {
		const char *l = json_object_is_type(v, json_type_string)
		    ? json_object_get_string(v)
		    : "";

		if (strcmp(l, "debug") == 0)
			cfg->log_level = FNWM_LOG_DEBUG;
		else if (strcmp(l, "info") == 0)
			cfg->log_level = FNWM_LOG_INFO;
		else if (strcmp(l, "warning") == 0)
			cfg->log_level = FNWM_LOG_WARN;
		else {
			*cause = xstrdup("config.json: fnwm.log_level must be "
			                 "\"debug\", \"info\" or \"warning\"");
			goto out;
		}
	}
	d = (double)cfg->max_message;
	if (config_get_number(root, "fnwm", "max_message_size", 1024,
	        1024.0 * 1024 * 1024, &d, cause) == -1)
		goto out;
	cfg->max_message = (size_t)d;
	d = (double)cfg->client_queue;
	if (config_get_number(root, "fnwm", "client_queue_bytes", 65536,
	        4.0 * 1024 * 1024 * 1024, &d, cause) == -1)
		goto out;
	cfg->client_queue = (size_t)d;
	d = (double)cfg->total_queue;
	if (config_get_number(root, "fnwm", "total_queue_bytes", 65536,
	        16.0 * 1024 * 1024 * 1024, &d, cause) == -1)
		goto out;
	cfg->total_queue = (size_t)d;
	d = (double)cfg->max_clients;
	if (config_get_number(root, "fnwm", "max_clients", 1, 1000000, &d,
	        cause) == -1)
		goto out;
	cfg->max_clients = (size_t)d;
	if (config_origins(cfg, root, args, cause) == -1 ||
	    config_access(cfg, root, cause) == -1 ||
	    config_limits(cfg, root, cause) == -1)
		goto out;

	if (args->host != NULL) {
		free(cfg->host);
		cfg->host = xstrdup(args->host);
	}
	if (args->port != 0)
		cfg->port = args->port;
	if (args->python != NULL)
		cfg->python = config_which(args->python);
	else if ((env = getenv("FUNCNODES_PYTHON")) != NULL && *env != '\0')
		cfg->python = config_which(env);
	else if ((v = config_get(root, "fnwm", "python")) != NULL &&
	    json_object_is_type(v, json_type_string))
		cfg->python = config_which(json_object_get_string(v));
	else
		cfg->python = config_which("python3");
	v = config_get(root, "fnwm", "venv_python");
	cfg->venv_python = v != NULL && json_object_is_type(v, json_type_string)
	    ? config_which(json_object_get_string(v))
	    : xstrdup(cfg->python);
	v = config_get(root, "fnwm", "uv_python");
	cfg->uv_python =
	    xstrdup(v != NULL && json_object_is_type(v, json_type_string)
	            ? json_object_get_string(v)
	            : "3.11");
	/* uv when it is on PATH (as FuncNodes does), unless told otherwise. */
	v = config_get(root, "fnwm", "use_uv");
	if (v == NULL || !json_object_is_type(v, json_type_boolean) ||
	    json_object_get_boolean(v)) {
		char *uv = config_which("uv");

		if (strchr(uv, '/') != NULL && access(uv, X_OK) == 0)
			cfg->uv = uv;
		else
			free(uv);
	}
	rc = 0;
out:
	json_object_put(root);
	return (rc);
}

void
config_free(struct fnwm_config *cfg)
{
	size_t i;

	free(cfg->base_dir);
	free(cfg->config_dir);
	free(cfg->workers_dir);
	free(cfg->host);
	free(cfg->python);
	free(cfg->monitor_path);
	free(cfg->uv);
	free(cfg->venv_python);
	free(cfg->uv_python);
	json_object_put(cfg->restart_defaults);
	for (i = 0; i < cfg->n_allowed_origins; i++)
		free(cfg->allowed_origins[i]);
	free(cfg->allowed_origins);
	for (i = 0; i < cfg->n_allowed_data_roots; i++)
		free(cfg->allowed_data_roots[i]);
	free(cfg->allowed_data_roots);
	for (i = 0; i < cfg->n_allowed_hosts; i++)
		free(cfg->allowed_hosts[i]);
	free(cfg->allowed_hosts);
	free(cfg->token_file);
	free(cfg->readonly_token_file);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	memset(cfg, 0, sizeof *cfg);
}

int
config_reload(struct fnwm_config *cfg, const struct fnwm_args *args,
    char **cause)
{
	struct fnwm_config n;
	char **origins;
	size_t norigins;
	json_object *policy;

	if (config_load(&n, args, cause) == -1) {
		config_free(&n);
		return (-1);
	}
	if (strcmp(n.config_dir, cfg->config_dir) != 0 ||
	    strcmp(n.host, cfg->host) != 0 ||
	    (args->port == 0 && n.port != cfg->port))
		log_warnx("reload: the config dir, host and port change only "
		          "with a restart; kept");
	/* Swap what may change at run time; config_free(&n) frees the old. */
	cfg->probe_interval = n.probe_interval;
	cfg->probe_connect = n.probe_connect;
	cfg->probe_reply = n.probe_reply;
	cfg->debounce = n.debounce;
	cfg->stale_p_grace = n.stale_p_grace;
	cfg->max_message = n.max_message;
	cfg->client_queue = n.client_queue;
	cfg->total_queue = n.total_queue;
	cfg->max_clients = n.max_clients;
	cfg->stop_timeout = n.stop_timeout;
	cfg->kill_timeout = n.kill_timeout;
	cfg->activate_timeout = n.activate_timeout;
	cfg->step_timeout = n.step_timeout;
	cfg->upgrade_on_start = n.upgrade_on_start;
	cfg->liveness_timeout = n.liveness_timeout;
	cfg->autostart = n.autostart;
	cfg->log_level = n.log_level;
	cfg->max_kwargs_bytes = n.max_kwargs_bytes;
	cfg->max_workers = n.max_workers;
	cfg->max_parallel_steps = n.max_parallel_steps;
	cfg->allow_direct_references = n.allow_direct_references;
	CONFIG_SWAP(char **, cfg->allowed_data_roots, n.allowed_data_roots);
	CONFIG_SWAP(size_t, cfg->n_allowed_data_roots, n.n_allowed_data_roots);
	origins = cfg->allowed_origins;
	norigins = cfg->n_allowed_origins;
	cfg->allowed_origins = n.allowed_origins;
	cfg->n_allowed_origins = n.n_allowed_origins;
	n.allowed_origins = origins;
	n.n_allowed_origins = norigins;
	policy = cfg->restart_defaults;
	cfg->restart_defaults = n.restart_defaults;
	n.restart_defaults = policy;
	if ((n.tls_cert != NULL) != (cfg->tls_cert != NULL))
		log_warnx("reload: TLS is turned on or off only with a "
		          "restart; kept");
	else {
		CONFIG_SWAP(char *, cfg->tls_cert, n.tls_cert);
		CONFIG_SWAP(char *, cfg->tls_key, n.tls_key);
	}
	CONFIG_SWAP(char *, cfg->token_file, n.token_file);
	CONFIG_SWAP(int, cfg->token_file_default, n.token_file_default);
	CONFIG_SWAP(char *, cfg->readonly_token_file, n.readonly_token_file);
	CONFIG_SWAP(char **, cfg->allowed_hosts, n.allowed_hosts);
	CONFIG_SWAP(size_t, cfg->n_allowed_hosts, n.n_allowed_hosts);
	cfg->require_token = n.require_token;
	config_free(&n);
	return (0);
}
