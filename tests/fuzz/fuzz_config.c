/* SPDX-License-Identifier: MIT */
/*
 * The config reader (master/config.c): the input is config.json of a
 * scratch config dir, read by config_load and, into a loaded
 * configuration, by config_reload. A "custom_config_dir" is pointed at a
 * directory inside the scratch dir holding the same file, so the reader
 * follows it without creating directories anywhere else.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "fuzz_tmp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *fz_dir;

/*
 * A new file each time: neither an fsync nor (ext4) the flush on close
 * of a truncated file should make the fuzzer wait for the disk.
 */
static void
fz_write(const char *dir, const char *text, size_t len)
{
	char *path = xasprintf("%s/config.json", dir);
	FILE *f;

	(void)unlink(path);
	if (fnwm_mkdirs(dir, 0700) == -1 || (f = fopen(path, "w")) == NULL)
		abort();
	if (fwrite(text, 1, len, f) != len || fclose(f) != 0)
		abort();
	free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fnwm_args args;
	struct fnwm_config cfg, cur;
	char *custom, *cause = NULL;
	const char *text = (const char *)data, *err;
	json_object *o;
	size_t len = size;

	if (fz_dir == NULL) {
		fz_dir = fz_tmpdir("config");
		fnwm_log_init("fuzz", FNWM_LOG_WARN);
		/* config_which must not find anything it could run. */
		setenv("PATH", fz_dir, 1);
		unsetenv("FUNCNODES_PYTHON");
	}
	custom = xasprintf("%s/custom", fz_dir);
	o = fnwm_json_parse(text, len, &err);
	if (o != NULL && json_object_is_type(o, json_type_object) &&
	    json_object_object_get_ex(o, "custom_config_dir", NULL)) {
		json_object_object_add(o, "custom_config_dir",
		    json_object_new_string(custom));
		text = fnwm_json_str(o, &len);
		fz_write(custom, text, len);
	}
	fz_write(fz_dir, text, len);
	json_object_put(o);

	memset(&args, 0, sizeof args);
	args.dir = fz_dir;
	if (config_load(&cfg, &args, &cause) == 0) {
		if (cfg.base_dir == NULL || cfg.workers_dir == NULL ||
		    cfg.host == NULL || cfg.port < 0 || cfg.port > 65535 ||
		    cfg.max_message < 1024 || cfg.client_queue < 65536)
			abort();
		/* A reload of the same file keeps a valid configuration. */
		memcpy(&cur, &cfg, sizeof cur);
		if (config_reload(&cur, &args, &cause) == -1)
			abort();
		config_free(&cur);
	} else {
		if (cause == NULL || *cause == '\0')
			abort();
		free(cause);
		config_free(&cfg);
	}
	free(custom);
	return (0);
}
