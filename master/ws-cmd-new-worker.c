/* SPDX-License-Identifier: MIT */
/*
 * "new_worker" and {"type": "new_worker", "kwargs": {...}}: write a new
 * worker's JSON (FuncNodes' fields, pid null) and create its data dir,
 * optionally copying dependencies and the nodespace of a reference
 * worker. Progress is broadcast, as FuncNodes does; a failure leaves
 * nothing behind and ends with an error reply.
 */
#include <sys/random.h>
#include <sys/stat.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <fcntl.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

static const char *const ws_cmd_new_worker_known[] = { "name", "uuid",
	"workertype", "in_venv", "reference", "copyLib", "copyNS", NULL };
static const char *const ws_cmd_new_worker_reserved[] = { "type", "env_path",
	"pid", "update_on_startup", "worker_dependencies", NULL };

/* FuncNodes' uuid shapes: <slug(name)[:16]>_<16 hex>, or 32 hex. */
static void
ws_cmd_new_worker_make_uuid(const char *name, char *out, size_t outsz)
{
	unsigned char rnd[16];
	char hex[33], slug[17];
	size_t i, n = 0;
	int dash = 0;

	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		fatal("getrandom");
	for (i = 0; i < 16; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	if (name == NULL) {
		snprintf(out, outsz, "%s", hex);
		return;
	}
	for (i = 0; name[i] != '\0' && n < 16; i++) {
		unsigned char ch = (unsigned char)name[i];

		if (ch < 0x80 && isalnum(ch)) {
			if (dash && n > 0 && n < 16)
				slug[n++] = '-';
			dash = 0;
			if (n < 16)
				slug[n++] = (char)tolower(ch);
		} else
			dash = 1;
	}
	slug[n] = '\0';
	snprintf(out, outsz, "%s_%.16s", slug, hex);
}

static int
ws_cmd_new_worker_get_string(json_object *kw, const char *key, const char **out,
    char **err)
{
	json_object *v;

	*out = NULL;
	if (kw == NULL || !json_object_object_get_ex(kw, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_string)) {
		*err = xasprintf("new_worker: %s must be a string", key);
		return (-1);
	}
	*out = json_object_get_string(v);
	return (0);
}

static int
ws_cmd_new_worker_get_bool(json_object *kw, const char *key, int dflt, int *out,
    char **err)
{
	json_object *v;

	*out = dflt;
	if (kw == NULL || !json_object_object_get_ex(kw, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return (0);
	if (!json_object_is_type(v, json_type_boolean)) {
		*err = xasprintf("new_worker: %s must be true or false", key);
		return (-1);
	}
	*out = json_object_get_boolean(v);
	return (0);
}

static int
ws_cmd_new_worker_in_list(const char *const *list, const char *key)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, key) == 0)
			return (1);
	return (0);
}

/*
 * Copies the reference's nodespace.json, without "meta", into dir: read
 * and written through directory fds, no symlink followed.
 */
static int
ws_cmd_new_worker_copy_nodespace(const char *ref, const char *dir, char **err)
{
	char *src, *buf;
	json_object *ns = NULL;
	const char *perr, *s;
	size_t len;
	int sfd, dfd = -1, confined, rc = -1;

	src = launch_data_dir(ws_cmd_config(), ref, registry_entry(ref));
	sfd = paths_open_data_dir(ws_cmd_config(), src, &confined);
	if (sfd == -1 ||
	    fnwm_read_file_at(sfd, "nodespace.json", 256 * 1024 * 1024, &buf,
	        &len) == -1) {
		*err = xasprintf("new_worker: reference worker %s has no "
		                 "readable nodespace.json",
		    ref);
		goto out;
	}
	ns = fnwm_json_parse(buf, len, &perr);
	free(buf);
	if (ns == NULL || !json_object_is_type(ns, json_type_object)) {
		*err = xasprintf("new_worker: nodespace.json of %s is not a "
		                 "JSON object",
		    ref);
		goto out;
	}
	json_object_object_del(ns, "meta");
	s = json_object_to_json_string_ext(ns,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if ((dfd = paths_open_data_dir(ws_cmd_config(), dir, &confined)) ==
	        -1 ||
	    fnwm_atomic_write_at(dfd, "nodespace.json", s, strlen(s), 0600) ==
	        -1)
		*err = xasprintf("new_worker: write %s/nodespace.json: %s", dir,
		    strerror(errno));
	else
		rc = 0;
out:
	if (sfd != -1)
		close(sfd);
	if (dfd != -1)
		close(dfd);
	json_object_put(ns);
	free(src);
	return (rc);
}

/*
 * package_dependencies: {name: {"package": p, "version": v}, ...}, each
 * p (with v) a PEP 508 requirement; URLs and paths only when
 * fnwm.allow_direct_references is true, options never.
 */
static int
ws_cmd_new_worker_check_deps(json_object *deps, char **err)
{
	json_object *pkg, *ver;
	const char *v;
	char *spec;
	int ok;

	if (deps == NULL || json_object_is_type(deps, json_type_null))
		return (0);
	if (!json_object_is_type(deps, json_type_object)) {
		*err = xstrdup("new_worker: package_dependencies must be an "
		               "object");
		return (-1);
	}
	json_object_object_foreach(deps, name, dep) {
		if (!json_object_is_type(dep, json_type_object) ||
		    !json_object_object_get_ex(dep, "package", &pkg) ||
		    !json_object_is_type(pkg, json_type_string)) {
			*err = xasprintf("new_worker: package_dependencies."
			                 "%.100s needs a \"package\" string",
			    name);
			return (-1);
		}
		v = NULL;
		if (json_object_object_get_ex(dep, "version", &ver) &&
		    !json_object_is_type(ver, json_type_null)) {
			if (!json_object_is_type(ver, json_type_string)) {
				*err = xasprintf("new_worker: "
				                 "package_dependencies.%.100s."
				                 "version must be a string",
				    name);
				return (-1);
			}
			v = json_object_get_string(ver);
		}
		/* As installed: a bare "1.2" means "==1.2". */
		spec = v == NULL || *v == '\0'
		    ? xstrdup(json_object_get_string(pkg))
		    : xasprintf("%s%s%s", json_object_get_string(pkg),
		          isdigit((unsigned char)v[0]) ? "==" : "", v);
		ok = pep508_valid(spec,
		    ws_cmd_config()->allow_direct_references);
		free(spec);
		if (!ok) {
			*err =
			    xasprintf("new_worker: package_dependencies."
			              "%.100s is not a PEP 508 requirement "
			              "(a name, extras, version specifiers, a "
			              "marker); options are refused, and URLs "
			              "and paths unless "
			              "fnwm.allow_direct_references is true",
			        name);
			return (-1);
		}
	}
	return (0);
}

/* One kwarg not taken by new_worker itself: checked, then kept in o. */
static int
ws_cmd_new_worker_take_kwarg(json_object *o, const char *key, json_object *val,
    char **err)
{
	if (ws_cmd_new_worker_in_list(ws_cmd_new_worker_known, key))
		return (0);
	if (ws_cmd_new_worker_in_list(ws_cmd_new_worker_reserved, key)) {
		*err = xasprintf("new_worker: %s cannot be set", key);
		return (-1);
	}
	if (strcmp(key, "port") == 0 &&
	    (!json_object_is_type(val, json_type_int) ||
	        json_object_get_int64(val) < 1 ||
	        json_object_get_int64(val) > 65535)) {
		*err = xstrdup("new_worker: port must be an integer 1..65535");
		return (-1);
	}
	if ((strcmp(key, "host") == 0 || strcmp(key, "data_path") == 0) &&
	    !json_object_is_type(val, json_type_string) &&
	    !json_object_is_type(val, json_type_null)) {
		*err = xasprintf("new_worker: %s must be a string", key);
		return (-1);
	}
	if (strcmp(key, "data_path") == 0 &&
	    json_object_is_type(val, json_type_string) &&
	    json_object_get_string_len(val) > 0 &&
	    paths_check_client(ws_cmd_config(), json_object_get_string(val)) ==
	        -1) {
		*err = xstrdup("new_worker: data_path must lie beneath the "
		               "workers dir or a directory of "
		               "fnwm.allowed_data_roots (no \"..\")");
		return (-1);
	}
	if (strcmp(key, "package_dependencies") == 0 &&
	    ws_cmd_new_worker_check_deps(val, err) == -1)
		return (-1);
	json_object_object_add(o, key, json_object_get(val));
	return (0);
}

static json_object *
ws_cmd_new_worker_build(json_object *kw, const char *uuid, const char *name,
    const char *wtype, char **err)
{
	json_object *o = json_object_new_object(), *uos;
	const char *host = getenv("FUNCNODES_HOST");
	const char *sport = getenv("FUNCNODES_WS_WORKER_STARTPORT");
	long long port = 9382;

	if (sport != NULL && fnwm_parse_int(sport, 1, 65535, &port) == -1)
		port = 9382;
	json_object_object_add(o, "type", json_object_new_string(wtype));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	json_object_object_add(o, "name",
	    json_object_new_string(name != NULL ? name : uuid));
	json_object_object_add(o, "data_path", NULL);
	json_object_object_add(o, "env_path", NULL);
	json_object_object_add(o, "worker_dependencies",
	    json_object_new_object());
	json_object_object_add(o, "package_dependencies",
	    json_object_new_object());
	json_object_object_add(o, "pid", NULL);
	uos = json_object_new_object();
	json_object_object_add(uos, "funcnodes", json_object_new_boolean(1));
	json_object_object_add(uos, "funcnodes-core",
	    json_object_new_boolean(1));
	json_object_object_add(uos, "funcnodes-worker",
	    json_object_new_boolean(1));
	json_object_object_add(o, "update_on_startup", uos);
	json_object_object_add(o, "host",
	    json_object_new_string(host != NULL && *host ? host : "localhost"));
	json_object_object_add(o, "port", json_object_new_int((int)port));
	json_object_object_add(o, "ssl", json_object_new_boolean(0));

	/* Other kwargs end up in the JSON, as FuncNodes' constructor does. */
	if (kw != NULL) {
		json_object_object_foreach(kw, key, val) {
			if (ws_cmd_new_worker_take_kwarg(o, key, val, err) ==
			    -1) {
				json_object_put(o);
				return (NULL);
			}
		}
	}
	return (o);
}

/* new_worker's own kwargs, read and checked. */
struct ws_cmd_new_worker_args {
	const char *name, *want, *wtype, *ref;
	int in_venv, copylib, copyns;
};

/* Reads the kwargs and picks the uuid; -1 with *err when refused. */
static int
ws_cmd_new_worker_parse(json_object *kw, struct ws_cmd_new_worker_args *a,
    char *uuid, size_t uuidsz, char **err)
{
	if (ws_cmd_new_worker_get_string(kw, "name", &a->name, err) == -1 ||
	    ws_cmd_new_worker_get_string(kw, "uuid", &a->want, err) == -1 ||
	    ws_cmd_new_worker_get_string(kw, "workertype", &a->wtype, err) ==
	        -1 ||
	    ws_cmd_new_worker_get_string(kw, "reference", &a->ref, err) == -1 ||
	    ws_cmd_new_worker_get_bool(kw, "in_venv",
	        ws_cmd_config()->in_venv_default, &a->in_venv, err) == -1 ||
	    ws_cmd_new_worker_get_bool(kw, "copyLib", 0, &a->copylib, err) ==
	        -1 ||
	    ws_cmd_new_worker_get_bool(kw, "copyNS", 0, &a->copyns, err) == -1)
		return (-1);
	if (a->wtype == NULL)
		a->wtype = "WSWorker";
	if (strcmp(a->wtype, "WSWorker") != 0 &&
	    strcmp(a->wtype, "SocketWorker") != 0 &&
	    strcmp(a->wtype, "MsQueueWorker") != 0) {
		*err = xstrdup("new_worker: unknown workertype");
		return (-1);
	}
	if (a->want != NULL) {
		if (!fnwm_worker_id_valid(a->want, strlen(a->want))) {
			*err = xstrdup("new_worker: invalid uuid (letters, "
			               "digits, '.', '_' and '-'; not "
			               "starting with '.')");
			return (-1);
		}
		if (strlen(a->want) > FNWM_UUID_MAX) {
			*err = xasprintf("new_worker: uuid longer than %d "
			                 "characters",
			    FNWM_UUID_MAX);
			return (-1);
		}
		snprintf(uuid, uuidsz, "%s", a->want);
	} else
		ws_cmd_new_worker_make_uuid(a->name, uuid, uuidsz);
	if (a->ref != NULL && !fnwm_worker_id_valid(a->ref, strlen(a->ref))) {
		*err = xstrdup("new_worker: invalid reference");
		return (-1);
	}
	return (0);
}

/* What new_worker takes from its reference worker into o and dir. */
static int
ws_cmd_new_worker_from_reference(const struct ws_cmd_new_worker_args *a,
    json_object *o, const char *dir, char **err)
{
	json_object *refentry, *deps;

	registry_refresh_now(a->ref);
	refentry = registry_entry(a->ref);
	if (refentry == NULL) {
		*err = xasprintf("new_worker: reference worker %s not found",
		    a->ref);
		return (-1);
	}
	if (a->copylib &&
	    json_object_object_get_ex(refentry, "package_dependencies",
	        &deps)) {
		if (ws_cmd_new_worker_check_deps(deps, err) == -1)
			return (-1);
		json_object_object_add(o, "package_dependencies",
		    json_object_get(deps));
	}
	if (a->copyns &&
	    ws_cmd_new_worker_copy_nodespace(a->ref, dir, err) == -1)
		return (-1);
	return (0);
}

/*
 * 0 when the worker's JSON is written, 1 when a creation operation took
 * it over (in a venv), -1 with *err when refused; nothing stays behind.
 */
static int
ws_cmd_new_worker_create(struct ws_client *c, json_object *kw, char **err,
    char *uuid, size_t uuidsz)
{
	struct ws_cmd_new_worker_args a;
	json_object *o = NULL;
	char *path = NULL, *dir = NULL;
	const char *s;
	int made_dir = 0, rc = -1;
	struct stat st;

	if (ws_cmd_new_worker_parse(kw, &a, uuid, uuidsz, err) == -1)
		return (-1);
	if (registry_count() >= ws_cmd_config()->max_workers) {
		limits_hit(LIMIT_MAX_WORKERS, "new_worker refused: %zu workers",
		    registry_count());
		*err = xasprintf("new_worker: there are %zu workers already, "
		                 "the most allowed (fnwm.max_workers)",
		    registry_count());
		return (-1);
	}
	path =
	    xasprintf("%s/worker_%s.json", ws_cmd_config()->workers_dir, uuid);
	if (lstat(path, &st) == 0) {
		*err = xasprintf("new_worker: worker %s already exists", uuid);
		goto out;
	}
	if ((o = ws_cmd_new_worker_build(kw, uuid, a.name, a.wtype, err)) ==
	    NULL)
		goto out;
	dir = launch_data_dir(ws_cmd_config(), uuid, o);
	/* Beneath its root, through fds: no symlink on the way. */
	if (paths_make_data_dir(ws_cmd_config(), dir) == 0)
		made_dir = 1;
	else if (errno != EEXIST) {
		*err =
		    xasprintf("new_worker: mkdir %s: %s", dir, strerror(errno));
		goto out;
	}
	if (a.ref != NULL &&
	    ws_cmd_new_worker_from_reference(&a, o, dir, err) == -1)
		goto out;
	if (a.in_venv) {
		/* The venv takes minutes: an operation, the JSON comes last. */
		ops_submit_create(uuid, c->id, o, made_dir);
		o = NULL;
		made_dir = 0;
		rc = 1;
		goto out;
	}
	hub_broadcast_progress(c->id, "Writing configuration.", 0.9, 1);
	s = json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
	if (fnwm_atomic_write(path, s, strlen(s), 0600) == -1) {
		*err = xasprintf("new_worker: write %s: %s", path,
		    strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (rc == -1 && made_dir)
		(void)paths_remove_new_dir(ws_cmd_config(), dir);
	json_object_put(o);
	free(path);
	free(dir);
	return (rc);
}

static void
ws_cmd_new_worker_exec(struct ws_client *c, json_object *msg)
{
	json_object *kw = NULL, *o;
	char uuid[200], *err = NULL;

	if (msg != NULL && json_object_object_get_ex(msg, "kwargs", &kw) &&
	    !json_object_is_type(kw, json_type_null) &&
	    !json_object_is_type(kw, json_type_object)) {
		hub_error(c, "new_worker: kwargs must be an object");
		return;
	}
	if (kw != NULL && json_object_is_type(kw, json_type_null))
		kw = NULL;
	if (kw != NULL) {
		/* They are kept and broadcast in every worker_status. */
		size_t n = strlen(json_object_to_json_string_ext(kw,
		    JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));

		if (n > ws_cmd_config()->max_kwargs_bytes) {
			limits_hit(LIMIT_KWARGS_BYTES,
			    "new_worker refused: kwargs of %zu bytes", n);
			hub_error(c,
			    "new_worker: kwargs are %zu bytes, more than "
			    "the %zu allowed (fnwm.max_kwargs_bytes)",
			    n, ws_cmd_config()->max_kwargs_bytes);
			hub_broadcast_progress(c->id, "", 1.0, 0);
			return;
		}
	}
	switch (ws_cmd_new_worker_create(c, kw, &err, uuid, sizeof uuid)) {
	case 1:
		return; /* a creation operation reports from now on */
	case 0:
		break;
	default:
		log_info("%s", err);
		hub_error(c, "%s", err);
		free(err);
		hub_broadcast_progress(c->id, "", 1.0, 0);
		return;
	}
	log_info("worker %s: created", uuid);
	hub_broadcast_progress(c->id, "Creating new worker.", 1.0, 1);
	o = json_object_new_object();
	json_object_object_add(o, "type",
	    json_object_new_string("worker_created"));
	json_object_object_add(o, "uuid", json_object_new_string(uuid));
	hub_send_json(c, o);
	json_object_put(o);
	hub_broadcast_progress(c->id, "", 1.0, 0);
	registry_refresh_now(uuid);
}

const struct ws_cmd_entry ws_cmd_new_worker_entry = {
	.name = "new_worker",
	.plain = 1,
	.json = 1,
	.subscribes = 1,
	.exec = ws_cmd_new_worker_exec,
};
