/* SPDX-License-Identifier: MIT */
/*
 * How a worker is launched and supervised, from its JSON and the manager's
 * defaults: the FuncNodes command line, the log file, the restart policy
 * (the worker's own "fnwm" key wins over config.json's "fnwm.restart"),
 * for its monitor's CMD_CONFIG (laid out by common/msg.c).
 */
#include <sys/resource.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>

#include "defaults.h"
#include "log.h"
#include "msg.h"
#include "xmalloc.h"
#include "master.h"

char *
launch_data_dir(const struct fnwm_config *cfg, const char *uuid,
    json_object *entry)
{
	json_object *v;
	const char *p;

	if (entry != NULL &&
	    json_object_object_get_ex(entry, "data_path", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0) {
		p = json_object_get_string(v);
		if (p[0] == '/')
			return (xstrdup(p));
		/* Relative paths are taken against the workers dir. */
		return (xasprintf("%s/%s", cfg->workers_dir, p));
	}
	return (xasprintf("%s/worker_%s", cfg->workers_dir, uuid));
}

char *
launch_python(const struct fnwm_config *cfg, json_object *entry)
{
	json_object *v;
	const char *p;

	if (entry != NULL && json_object_object_get_ex(entry, "env_path", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    json_object_get_string_len(v) > 0) {
		p = json_object_get_string(v);
		if (p[0] == '/')
			return (xasprintf("%s/bin/python", p));
		return (xasprintf("%s/%s/bin/python", cfg->workers_dir, p));
	}
	return (xstrdup(cfg->python));
}

/* Reads one policy key from obj (seconds or a count) into *out. */
static int
launch_num(json_object *obj, const char *key, double scale, uint32_t *out,
    char **cause)
{
	json_object *v;
	double d;

	if (obj == NULL || !json_object_object_get_ex(obj, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double)) {
		*cause = xasprintf("fnwm.%s must be a number", key);
		return (-1);
	}
	d = json_object_get_double(v) * scale;
	if (!(d >= 0 && d <= 4e9)) {
		*cause = xasprintf("fnwm.%s is out of range", key);
		return (-1);
	}
	*out = (uint32_t)llround(d);
	return (0);
}

/* fs.nr_open: no process, root included, gets more open files. */
static long long
launch_nr_open(void)
{
	long long v = 0;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");

	if (f != NULL) {
		if (fscanf(f, "%lld", &v) != 1)
			v = 0;
		fclose(f);
	}
	return (v);
}

/*
 * "limits": {"nofile": n, "as": bytes, "cpu": s, "core": bytes,
 * "nice": n}. A limit above what this process may set is refused here,
 * with a clear cause, rather than by the worker's failed start.
 */
static int
launch_limits(json_object *obj, struct fnwm_config_msg *c, char **cause)
{
	static const struct {
		const char *key, *name;
		uint32_t bit;
		int res;
		size_t off;
	} lim[] = {
		{ "nofile", "RLIMIT_NOFILE", FNWM_LIMIT_NOFILE, RLIMIT_NOFILE,
		    offsetof(struct fnwm_config_msg, nofile) },
		{ "as", "RLIMIT_AS", FNWM_LIMIT_AS, RLIMIT_AS,
		    offsetof(struct fnwm_config_msg, as) },
		{ "cpu", "RLIMIT_CPU", FNWM_LIMIT_CPU, RLIMIT_CPU,
		    offsetof(struct fnwm_config_msg, cpu) },
		{ "core", "RLIMIT_CORE", FNWM_LIMIT_CORE, RLIMIT_CORE,
		    offsetof(struct fnwm_config_msg, core) },
	};
	json_object *l, *v;
	struct rlimit rl;
	int64_t n;
	uint64_t u;
	size_t i;

	if (!json_object_object_get_ex(obj, "limits", &l) ||
	    json_object_is_type(l, json_type_null))
		return (0);
	if (!json_object_is_type(l, json_type_object)) {
		*cause = xstrdup("fnwm.limits must be an object");
		return (-1);
	}
	for (i = 0; i < sizeof lim / sizeof *lim; i++) {
		if (!json_object_object_get_ex(l, lim[i].key, &v) ||
		    json_object_is_type(v, json_type_null))
			continue;
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < 0) {
			*cause = xasprintf("fnwm.limits.%s must be a "
			                   "non-negative integer",
			    lim[i].key);
			return (-1);
		}
		if (getrlimit(lim[i].res, &rl) == 0 &&
		    rl.rlim_max != RLIM_INFINITY &&
		    (uint64_t)n > (uint64_t)rl.rlim_max && geteuid() != 0) {
			*cause = xasprintf("cannot set %s to %lld: the hard "
			                   "limit is %llu",
			    lim[i].name, (long long)n,
			    (unsigned long long)rl.rlim_max);
			return (-1);
		}
		if (lim[i].res == RLIMIT_NOFILE && launch_nr_open() > 0 &&
		    n > launch_nr_open()) {
			*cause = xasprintf("cannot set RLIMIT_NOFILE to %lld: "
			                   "the kernel allows at most %lld",
			    (long long)n, launch_nr_open());
			return (-1);
		}
		u = (uint64_t)n;
		memcpy((char *)c + lim[i].off, &u, sizeof u);
		c->limits |= lim[i].bit;
	}
	if (json_object_object_get_ex(l, "nice", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		n = json_object_get_int64(v);
		if (!json_object_is_type(v, json_type_int) || n < -20 ||
		    n > 19) {
			*cause = xstrdup("fnwm.limits.nice must be an integer "
			                 "-20..19");
			return (-1);
		}
		if (n < 0 && geteuid() != 0) {
			*cause = xasprintf("cannot set nice %lld: raising a "
			                   "priority needs root",
			    (long long)n);
			return (-1);
		}
		c->nice = (int32_t)n;
		c->limits |= FNWM_LIMIT_NICE;
	}
	return (0);
}

static int
launch_policy_from(json_object *obj, struct fnwm_config_msg *c, char **cause)
{
	json_object *v;
	const char *s;

	if (obj == NULL)
		return (0);
	if (!json_object_is_type(obj, json_type_object)) {
		*cause = xstrdup("the \"fnwm\" key must be an object");
		return (-1);
	}
	if (json_object_object_get_ex(obj, "restart", &v)) {
		s = json_object_is_type(v, json_type_string)
		    ? json_object_get_string(v)
		    : "";
		if (strcmp(s, "never") == 0)
			c->restart = FNWM_RESTART_NEVER;
		else if (strcmp(s, "on-failure") == 0)
			c->restart = FNWM_RESTART_ON_FAILURE;
		else if (strcmp(s, "always") == 0)
			c->restart = FNWM_RESTART_ALWAYS;
		else {
			*cause = xstrdup("fnwm.restart must be \"never\", "
			                 "\"on-failure\" or \"always\"");
			return (-1);
		}
	}
	if (launch_num(obj, "healthy_after", 1000, &c->healthy_ms, cause) ||
	    launch_num(obj, "backoff_initial", 1000, &c->backoff_initial_ms,
	        cause) ||
	    launch_num(obj, "backoff_max", 1000, &c->backoff_max_ms, cause) ||
	    launch_num(obj, "giveup_count", 1, &c->giveup_count, cause) ||
	    launch_num(obj, "giveup_window", 1000, &c->giveup_window_ms,
	        cause) ||
	    launch_num(obj, "log_max_bytes", 1, &c->log_max_bytes, cause) ||
	    launch_num(obj, "log_keep", 1, &c->log_keep, cause))
		return (-1);
	if (launch_limits(obj, c, cause) == -1)
		return (-1);
	if (c->backoff_initial_ms == 0)
		c->backoff_initial_ms = 1;
	if (c->backoff_max_ms < c->backoff_initial_ms)
		c->backoff_max_ms = c->backoff_initial_ms;
	return (0);
}

int
launch_supervision(const struct fnwm_config *cfg, json_object *entry,
    double *liveness, int *autostart, char **cause)
{
	const struct config_key *k =
	    config_key_find("fnwm", "liveness_timeout");
	json_object *own, *v;
	double d;

	*liveness = cfg->liveness_timeout;
	*autostart = cfg->autostart;
	if (entry == NULL || !json_object_object_get_ex(entry, "fnwm", &own) ||
	    !json_object_is_type(own, json_type_object))
		return (0);
	if (json_object_object_get_ex(own, "liveness_timeout", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		d = json_object_get_double(v);
		if ((!json_object_is_type(v, json_type_int) &&
		        !json_object_is_type(v, json_type_double)) ||
		    !(d >= k->min && d <= k->max)) {
			/* The bounds and wording of the manager-wide key. */
			*cause = xasprintf("fnwm.liveness_timeout must be a "
			                   "number from %.15g to %.15g",
			    k->min, k->max);
			return (-1);
		}
		*liveness = d;
	}
	if (json_object_object_get_ex(own, "autostart", &v) &&
	    !json_object_is_type(v, json_type_null)) {
		if (!json_object_is_type(v, json_type_boolean)) {
			*cause =
			    xstrdup("fnwm.autostart must be true or false");
			return (-1);
		}
		*autostart = json_object_get_boolean(v);
	}
	return (0);
}

int
launch_encode(const struct fnwm_config *cfg, const char *uuid,
    json_object *entry, unsigned char *buf, size_t bufsz, size_t *len,
    char **cause)
{
	struct fnwm_config_msg c;
	json_object *own = NULL;
	const char *argv[FNWM_ARGV_MAX];
	char *python, *datadir, *logpath;
	double liveness;
	int argc = 0, rc = -1, autostart;

	memset(&c, 0, sizeof c);
	c.restart = FNWM_DEFAULT_RESTART;
	c.healthy_ms = FNWM_DEFAULT_HEALTHY_MS;
	c.backoff_initial_ms = FNWM_DEFAULT_BACKOFF_INITIAL_MS;
	c.backoff_max_ms = FNWM_DEFAULT_BACKOFF_MAX_MS;
	c.giveup_count = FNWM_DEFAULT_GIVEUP_COUNT;
	c.giveup_window_ms = FNWM_DEFAULT_GIVEUP_WINDOW_MS;
	c.log_max_bytes = FNWM_DEFAULT_LOG_MAX_BYTES;
	c.log_keep = FNWM_DEFAULT_LOG_KEEP;
	if (launch_policy_from(cfg->restart_defaults, &c, cause) == -1)
		return (-1);
	if (entry != NULL)
		json_object_object_get_ex(entry, "fnwm", &own);
	if (launch_policy_from(own, &c, cause) == -1 ||
	    launch_supervision(cfg, entry, &liveness, &autostart, cause) == -1)
		return (-1);

	python = launch_python(cfg, entry);
	datadir = launch_data_dir(cfg, uuid, entry);
	logpath = xasprintf("%s/worker.log", datadir);
	argv[argc++] = python;
	argv[argc++] = "-m";
	argv[argc++] = "funcnodes";
	if (cfg->debug)
		argv[argc++] = "--debug";
	argv[argc++] = "--dir";
	argv[argc++] = cfg->base_dir;
	argv[argc++] = "worker";
	argv[argc++] = "--uuid";
	argv[argc++] = uuid;
	argv[argc++] = "start";
	*len = fnwm_msg_config_encode(buf, bufsz, &c, logpath, argv, argc);
	if (*len == 0)
		*cause = xstrdup("the worker's command line is too long");
	else
		rc = 0;
	free(python);
	free(datadir);
	free(logpath);
	return (rc);
}
