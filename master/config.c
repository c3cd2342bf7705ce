/* SPDX-License-Identifier: MIT */
/*
 * Configuration: the keys of config-keys.c loaded, checked and reloaded
 * by their rows: each key's default, then config.json, the environment,
 * the command line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"
#include "config.h"

/* Where row k keeps its value in cfg. */
static void *
config_field(const struct fnwm_config *cfg, size_t off)
{
	return ((char *)cfg + off);
}

#define FIELD(cfg, k, type) (*(type *)config_field((cfg), (k)->off))

/* What a value of row k must be, for the one wording of every refusal. */
static void
config_expect(const struct config_key *k, char *buf, size_t len)
{
	switch (k->type) {
	case CFG_BOOL:
		snprintf(buf, len, "true or false");
		break;
	case CFG_INT:
	case CFG_SIZE:
	case CFG_SECONDS:
		snprintf(buf, len, "a number from %.15g to %.15g", k->min,
		    k->max);
		break;
	case CFG_STRING:
		snprintf(buf, len, "a string");
		break;
	case CFG_PROGRAM:
	case CFG_PATH:
		snprintf(buf, len, "a file name");
		break;
	case CFG_LEVEL:
		snprintf(buf, len, "\"debug\", \"info\" or \"warning\"");
		break;
	case CFG_OBJECT:
		snprintf(buf, len, "an object");
		break;
	case CFG_LIST:
		snprintf(buf, len, "a list of %s", k->what);
		break;
	}
}

static int
config_bad(const struct config_key *k, const char *src, char **cause)
{
	char what[160];

	config_expect(k, what, sizeof what);
	*cause =
	    xasprintf("%s: %s.%s must be %s", src, k->section, k->key, what);
	return (-1);
}

/*
 * The value of k in config.json (walking "a.b" through objects), or NULL
 * when it is absent or null; -1 when a step on the way is no object.
 */
static int
config_lookup(json_object *root, const struct config_key *k, json_object **v,
    char **cause)
{
	char name[128], *part, *save;
	const char *at = k->section;
	json_object *o = root;

	*v = NULL;
	snprintf(name, sizeof name, "%s", k->key);
	for (part = strtok_r(name, ".", &save); part != NULL;
	     part = strtok_r(NULL, ".", &save)) {
		if (o == NULL || !json_object_object_get_ex(o, at, &o) ||
		    json_object_is_type(o, json_type_null))
			return (0);
		if (!json_object_is_type(o, json_type_object)) {
			*cause = xasprintf("config.json: %s%s%s must be an "
			                   "object",
			    at == k->section ? "" : k->section,
			    at == k->section ? "" : ".", at);
			return (-1);
		}
		at = part;
	}
	if (o == NULL || !json_object_object_get_ex(o, at, v) ||
	    json_object_is_type(*v, json_type_null))
		*v = NULL;
	return (0);
}

static void
config_clear(struct fnwm_config *cfg, const struct config_key *k)
{
	char **list;
	size_t i, *n;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PROGRAM:
	case CFG_PATH:
		free(FIELD(cfg, k, char *));
		FIELD(cfg, k, char *) = NULL;
		break;
	case CFG_OBJECT:
		json_object_put(FIELD(cfg, k, json_object *));
		FIELD(cfg, k, json_object *) = NULL;
		break;
	case CFG_LIST:
		list = FIELD(cfg, k, char **);
		n = config_field(cfg, k->aux);
		for (i = 0; list != NULL && i < *n; i++)
			free(list[i]);
		free(list);
		FIELD(cfg, k, char **) = NULL;
		*n = 0;
		break;
	default:
		break;
	}
}

static void
config_set_default(struct fnwm_config *cfg, const struct config_key *k)
{
	switch (k->type) {
	case CFG_BOOL:
	case CFG_INT:
	case CFG_LEVEL:
		FIELD(cfg, k, int) = (int)k->def;
		break;
	case CFG_SIZE:
		FIELD(cfg, k, size_t) = (size_t)k->def;
		break;
	case CFG_SECONDS:
		FIELD(cfg, k, double) = k->def;
		break;
	case CFG_STRING:
		FIELD(cfg, k, char *) = k->sdef ? xstrdup(k->sdef) : NULL;
		break;
	case CFG_PROGRAM:
		FIELD(cfg, k, char *) = k->sdef ? config_which(k->sdef) : NULL;
		break;
	case CFG_PATH:
		if (k->sdef != NULL) {
			FIELD(cfg, k, char *) =
			    xasprintf("%s/%s", cfg->config_dir, k->sdef);
			*(int *)config_field(cfg, k->aux) = 1;
		}
		break;
	case CFG_OBJECT:
		break;
	case CFG_LIST:
		FIELD(cfg, k, char **) = xcalloc(1, sizeof(char *));
		break;
	}
}

static int
config_set_number(struct fnwm_config *cfg, const struct config_key *k,
    json_object *v, const char *src, char **cause)
{
	double d;

	if (!json_object_is_type(v, json_type_int) &&
	    !json_object_is_type(v, json_type_double))
		return (config_bad(k, src, cause));
	d = json_object_get_double(v);
	if (!(d >= k->min && d <= k->max))
		return (config_bad(k, src, cause));
	if (k->type == CFG_INT)
		FIELD(cfg, k, int) = (int)d;
	else if (k->type == CFG_SIZE)
		FIELD(cfg, k, size_t) = (size_t)d;
	else
		FIELD(cfg, k, double) = d;
	return (0);
}

static int
config_set_level(struct fnwm_config *cfg, const struct config_key *k,
    json_object *v, const char *src, char **cause)
{
	static const struct {
		const char *name;
		int level;
	} levels[] = {
		{ "debug", FNWM_LOG_DEBUG },
		{ "info", FNWM_LOG_INFO },
		{ "warning", FNWM_LOG_WARN },
	};
	size_t i;

	for (i = 0; json_object_is_type(v, json_type_string) && i < 3; i++)
		if (strcmp(json_object_get_string(v), levels[i].name) == 0) {
			FIELD(cfg, k, int) = levels[i].level;
			return (0);
		}
	return (config_bad(k, src, cause));
}

/* A list adds to what came before it (config.json, then the flags). */
static int
config_add_list(struct fnwm_config *cfg, const struct config_key *k,
    json_object *v, const char *src, char **cause)
{
	size_t i, n, *count = config_field(cfg, k->aux);
	char ***list = config_field(cfg, k->off), *s;
	json_object *e;

	if (!json_object_is_type(v, json_type_array))
		return (config_bad(k, src, cause));
	n = json_object_array_length(v);
	*list = xreallocarray(*list, *count + n + 1, sizeof(char *));
	for (i = 0; i < n; i++) {
		e = json_object_array_get_idx(v, i);
		if (!json_object_is_type(e, json_type_string) ||
		    k->element(json_object_get_string(e), &s) == -1)
			return (config_bad(k, src, cause));
		(*list)[(*count)++] = s;
		(*list)[*count] = NULL;
	}
	return (0);
}

static int
config_set_string(struct fnwm_config *cfg, const struct config_key *k,
    json_object *v, const char *src, char **cause)
{
	const char *s;

	if (!json_object_is_type(v, json_type_string) ||
	    (k->type != CFG_STRING && json_object_get_string_len(v) == 0))
		return (config_bad(k, src, cause));
	s = json_object_get_string(v);
	config_clear(cfg, k);
	if (k->type == CFG_PROGRAM)
		FIELD(cfg, k, char *) = config_which(s);
	else if (k->type == CFG_PATH && s[0] != '/')
		FIELD(cfg, k, char *) = xasprintf("%s/%s", cfg->config_dir, s);
	else
		FIELD(cfg, k, char *) = xstrdup(s);
	if (k->type == CFG_PATH && k->aux != 0)
		*(int *)config_field(cfg, k->aux) = 0;
	return (0);
}

/* Sets row k from v, which came from src; -1 with a cause when bad. */
static int
config_set(struct fnwm_config *cfg, const struct config_key *k, json_object *v,
    const char *src, char **cause)
{
	switch (k->type) {
	case CFG_BOOL:
		if (!json_object_is_type(v, json_type_boolean))
			return (config_bad(k, src, cause));
		FIELD(cfg, k, int) = json_object_get_boolean(v);
		return (0);
	case CFG_INT:
	case CFG_SIZE:
	case CFG_SECONDS:
		return (config_set_number(cfg, k, v, src, cause));
	case CFG_STRING:
	case CFG_PROGRAM:
	case CFG_PATH:
		return (config_set_string(cfg, k, v, src, cause));
	case CFG_LEVEL:
		return (config_set_level(cfg, k, v, src, cause));
	case CFG_OBJECT:
		if (!json_object_is_type(v, json_type_object))
			return (config_bad(k, src, cause));
		config_clear(cfg, k);
		FIELD(cfg, k, json_object *) = json_object_get(v);
		return (0);
	case CFG_LIST:
		return (config_add_list(cfg, k, v, src, cause));
	}
	return (0);
}

/* The command-line value of k as JSON, or NULL when not given. */
static json_object *
config_arg_value(const struct config_key *k, const struct fnwm_args *args)
{
	const void *at = (const char *)args + k->arg;
	const char *const *list;
	json_object *a;
	int port;

	if (k->flag == NULL)
		return (NULL);
	switch (k->type) {
	case CFG_INT:
		port = *(const int *)at;
		/* -1: the kernel picks a free port. */
		return (port == 0 ? NULL
		                  : json_object_new_int(port < 0 ? 0 : port));
	case CFG_LIST:
		list = *(const char *const *const *)at;
		if (list == NULL)
			return (NULL);
		a = json_object_new_array();
		for (; *list != NULL; list++)
			json_object_array_add(a, json_object_new_string(*list));
		return (a);
	default:
		at = *(const char *const *)at;
		return (at != NULL ? json_object_new_string(at) : NULL);
	}
}

/* Row k: its default, then config.json, the environment, the flag. */
static int
config_key_load(struct fnwm_config *cfg, const struct config_key *k,
    json_object *root, const struct fnwm_args *args, char **cause)
{
	const char *env = k->env != NULL ? getenv(k->env) : NULL;
	json_object *v;
	int rc = 0;

	config_set_default(cfg, k);
	if (config_lookup(root, k, &v, cause) == -1 ||
	    (v != NULL && config_set(cfg, k, v, "config.json", cause) == -1))
		return (-1);
	if (env != NULL && *env != '\0') {
		v = json_object_new_string(env);
		rc = config_set(cfg, k, v, k->env, cause);
		json_object_put(v);
	}
	if (rc == 0 && (v = config_arg_value(k, args)) != NULL) {
		rc = config_set(cfg, k, v, k->flag, cause);
		json_object_put(v);
	}
	return (rc);
}

/* FuncNodes' FUNCNODES_WORKER_IN_VENV: unset or a true word. */
static int
config_in_venv(void)
{
	static const char *const yes[] = { "1", "True", "true", "yes", "Yes",
		"YES" };
	const char *env = getenv("FUNCNODES_WORKER_IN_VENV");
	size_t i;

	for (i = 0; env != NULL && i < sizeof yes / sizeof yes[0]; i++)
		if (strcmp(env, yes[i]) == 0)
			return (1);
	return (env == NULL);
}

/* What follows from the keys: both halves of TLS, venv_python, uv. */
static int
config_derive(struct fnwm_config *cfg, char **cause)
{
	char *uv;

	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		*cause = xstrdup("config.json: fnwm.tls needs both \"cert\" "
		                 "and \"key\"");
		return (-1);
	}
	if (cfg->venv_python == NULL)
		cfg->venv_python = xstrdup(cfg->python);
	/* uv when it is on PATH (as FuncNodes does), unless told otherwise. */
	if (cfg->use_uv) {
		uv = config_which("uv");
		if (strchr(uv, '/') != NULL && access(uv, X_OK) == 0)
			cfg->uv = uv;
		else
			free(uv);
	}
	return (0);
}

int
config_load(struct fnwm_config *cfg, const struct fnwm_args *args, char **cause)
{
	json_object *root = NULL;
	size_t i;
	int rc = -1;

	memset(cfg, 0, sizeof *cfg);
	cfg->debug = args->debug;
	cfg->in_venv_default = config_in_venv();
	if (config_dirs(cfg, args, &root, cause) == -1)
		goto out;
	cfg->workers_dir = xasprintf("%s/workers", cfg->config_dir);
	for (i = 0; i < config_nkeys; i++)
		if (config_key_load(cfg, &config_keys[i], root, args, cause) ==
		    -1)
			goto out;
	rc = config_derive(cfg, cause);
out:
	json_object_put(root);
	return (rc);
}

void
config_free(struct fnwm_config *cfg)
{
	size_t i;

	for (i = 0; i < config_nkeys; i++)
		config_clear(cfg, &config_keys[i]);
	free(cfg->base_dir);
	free(cfg->config_dir);
	free(cfg->workers_dir);
	free(cfg->uv);
	memset(cfg, 0, sizeof *cfg);
}

static size_t
config_size(enum config_type type)
{
	switch (type) {
	case CFG_SIZE:
		return (sizeof(size_t));
	case CFG_SECONDS:
		return (sizeof(double));
	case CFG_STRING:
	case CFG_PROGRAM:
	case CFG_PATH:
	case CFG_LIST:
		return (sizeof(char *));
	case CFG_OBJECT:
		return (sizeof(json_object *));
	default:
		return (sizeof(int));
	}
}

static void
config_swap_bytes(void *a, void *b, size_t len)
{
	unsigned char tmp[sizeof(double) > sizeof(void *) ? sizeof(double)
	                                                  : sizeof(void *)];

	memcpy(tmp, a, len);
	memcpy(a, b, len);
	memcpy(b, tmp, len);
}

/* Exchanges row k's value (and its count or default mark) of a and b. */
static void
config_swap(struct fnwm_config *a, struct fnwm_config *b,
    const struct config_key *k)
{
	config_swap_bytes(config_field(a, k->off), config_field(b, k->off),
	    config_size(k->type));
	if (k->type == CFG_LIST)
		config_swap_bytes(config_field(a, k->aux),
		    config_field(b, k->aux), sizeof(size_t));
	else if (k->aux != 0)
		config_swap_bytes(config_field(a, k->aux),
		    config_field(b, k->aux), sizeof(int));
}

/* Whether a scalar row differs between a and b (lists, objects: no). */
static int
config_differs(const struct fnwm_config *a, const struct fnwm_config *b,
    const struct config_key *k)
{
	const char *x, *y;

	switch (k->type) {
	case CFG_STRING:
	case CFG_PROGRAM:
	case CFG_PATH:
		x = FIELD(a, k, char *);
		y = FIELD(b, k, char *);
		return ((x == NULL) != (y == NULL) ||
		    (x != NULL && strcmp(x, y) != 0));
	case CFG_LIST:
	case CFG_OBJECT:
		return (0);
	default:
		return (memcmp(config_field(a, k->off), config_field(b, k->off),
		            config_size(k->type)) != 0);
	}
}

int
config_reload(struct fnwm_config *cfg, const struct fnwm_args *args,
    char **cause)
{
	const struct config_key *k;
	struct fnwm_config n;
	int tls_flip;
	size_t i;

	if (config_load(&n, args, cause) == -1) {
		config_free(&n);
		return (-1);
	}
	if (strcmp(n.config_dir, cfg->config_dir) != 0)
		log_warnx("reload: the config dir changes only with a "
		          "restart; kept");
	tls_flip = (n.tls_cert != NULL) != (cfg->tls_cert != NULL);
	if (tls_flip)
		log_warnx("reload: TLS is turned on or off only with a "
		          "restart; kept");
	/* Swap what may change at run time; config_free(&n) frees the old. */
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		if (k->reload && !(tls_flip && strncmp(k->key, "tls.", 4) == 0))
			config_swap(cfg, &n, k);
		else if (!k->reload && config_differs(cfg, &n, k))
			log_warnx("reload: %s.%s changes only with a restart; "
			          "kept",
			    k->section, k->key);
	}
	config_free(&n);
	return (0);
}
