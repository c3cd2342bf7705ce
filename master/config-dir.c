/* SPDX-License-Identifier: MIT */
/*
 * Where the configuration is: the config dir as FuncNodes resolves it
 * (--dir, then FUNCNODES_CONFIG_DIR, then ~/.funcnodes, then its
 * custom_config_dir), its config.json (or the .bu copy), and programs on
 * PATH. config.json is only read, never written.
 */
#include <sys/stat.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "jsonparse.h"
#include "config.h"

#define CONFIG_MAX_BYTES (4 * 1024 * 1024)

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

/* Looks name up on PATH; returns an allocated absolute path or a copy. */
char *
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

/*
 * The config dir as FuncNodes resolves it: --dir, FUNCNODES_CONFIG_DIR,
 * ~/.funcnodes, then a custom_config_dir of its config.json; *root is
 * the config.json that counts (NULL when there is none).
 */
int
config_dirs(struct fnwm_config *cfg, const struct fnwm_args *args,
    json_object **root, char **cause)
{
	const char *env = getenv("FUNCNODES_CONFIG_DIR");
	json_object *v;
	char *home;

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
	*root = config_read_json(cfg->base_dir);
	if (*root == NULL ||
	    !json_object_object_get_ex(*root, "custom_config_dir", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0) {
		cfg->config_dir = xstrdup(cfg->base_dir);
		return (0);
	}
	cfg->config_dir = config_abspath(json_object_get_string(v));
	json_object_put(*root);
	*root = NULL;
	if (fnwm_mkdirs(cfg->config_dir, 0700) == -1) {
		*cause = xasprintf("custom config dir %s: %s", cfg->config_dir,
		    strerror(errno));
		return (-1);
	}
	*root = config_read_json(cfg->config_dir);
	return (0);
}
