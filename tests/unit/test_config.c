/* SPDX-License-Identifier: MIT */
/* Unit tests of master/config.c: config dir resolution and keys. */
#include <sys/stat.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fileio.h"
#include "master.h"

static char tmpdir[] = "/tmp/fnwm-test-config.XXXXXX";

static void
write_config(const char *dir, const char *name, const char *text)
{
	char path[512];

	fnwm_mkdirs(dir, 0700);
	snprintf(path, sizeof path, "%s/%s", dir, name);
	assert_int_equal(fnwm_atomic_write(path, text, strlen(text), 0600), 0);
}

static int
load(struct fnwm_config *cfg, struct fnwm_args *args, char **cause)
{
	*cause = NULL;
	return (config_load(cfg, args, cause));
}

static void
test_defaults_and_home(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	char home[512], want[600], *cause;

	snprintf(home, sizeof home, "%s/home", tmpdir);
	fnwm_mkdirs(home, 0700);
	setenv("HOME", home, 1);
	unsetenv("FUNCNODES_CONFIG_DIR");
	unsetenv("FUNCNODES_PYTHON");
	assert_int_equal(load(&cfg, &args, &cause), 0);
	snprintf(want, sizeof want, "%s/.funcnodes", home);
	assert_string_equal(cfg.base_dir, want);
	assert_string_equal(cfg.config_dir, want);
	snprintf(want, sizeof want, "%s/.funcnodes/workers", home);
	assert_string_equal(cfg.workers_dir, want);
	assert_string_equal(cfg.host, "localhost");
	assert_int_equal(cfg.port, 9380);
	assert_int_equal(cfg.max_message, 4 * 1024 * 1024);
	assert_int_equal(cfg.client_queue, 4 * 1024 * 1024);
	assert_int_equal(cfg.total_queue, 64 * 1024 * 1024);
	assert_int_equal(cfg.max_clients, 1024);
	config_free(&cfg);
}

static void
test_env_then_dir_flag(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	char env[512], flag[512], *cause;

	snprintf(env, sizeof env, "%s/envdir", tmpdir);
	snprintf(flag, sizeof flag, "%s/flagdir/./x/..", tmpdir);
	setenv("FUNCNODES_CONFIG_DIR", env, 1);
	write_config(env, "config.json",
	    "{\"worker_manager\": {\"host\": \"127.0.0.1\", \"port\": 9999}}");
	assert_int_equal(load(&cfg, &args, &cause), 0);
	assert_string_equal(cfg.config_dir, env);
	assert_int_equal(cfg.port, 9999);
	assert_string_equal(cfg.host, "127.0.0.1");
	config_free(&cfg);

	/* --dir wins, is normalised, and is exported to children. */
	args.dir = flag;
	args.port = 1234;
	assert_int_equal(load(&cfg, &args, &cause), 0);
	snprintf(flag, sizeof flag, "%s/flagdir", tmpdir);
	assert_string_equal(cfg.config_dir, flag);
	assert_string_equal(getenv("FUNCNODES_CONFIG_DIR"), flag);
	assert_int_equal(cfg.port, 1234);
	config_free(&cfg);
}

static void
test_custom_config_dir_and_backup(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	char base[512], custom[512], text[1200], *cause;

	snprintf(base, sizeof base, "%s/base", tmpdir);
	snprintf(custom, sizeof custom, "%s/custom", tmpdir);
	snprintf(text, sizeof text, "{\"custom_config_dir\": \"%s\"}", custom);
	write_config(base, "config.json", text);
	/* The custom dir's config.json is corrupt: its .bu is used. */
	write_config(custom, "config.json", "{corrupt");
	write_config(custom, "config.json.bu",
	    "{\"worker_manager\": {\"port\": 9555}}");
	args.dir = base;
	assert_int_equal(load(&cfg, &args, &cause), 0);
	assert_string_equal(cfg.config_dir, custom);
	assert_int_equal(cfg.port, 9555);
	config_free(&cfg);
}

static void
test_bad_values_are_errors(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	char dir[512], *cause;

	snprintf(dir, sizeof dir, "%s/bad", tmpdir);
	write_config(dir, "config.json",
	    "{\"worker_manager\": {\"port\": \"nine\"}}");
	args.dir = dir;
	assert_int_equal(load(&cfg, &args, &cause), -1);
	assert_non_null(cause);
	assert_non_null(strstr(cause, "worker_manager.port"));
	free(cause);
	config_free(&cfg);
	write_config(dir, "config.json",
	    "{\"fnwm\": {\"allowed_origins\": [\"http://a\", 3]}}");
	assert_int_equal(load(&cfg, &args, &cause), -1);
	assert_non_null(strstr(cause, "allowed_origins"));
	free(cause);
	config_free(&cfg);
	write_config(dir, "config.json",
	    "{\"fnwm\": {\"allowed_origins\": [\"http://a\"], "
	    "\"probe_interval\": 2.5}}");
	assert_int_equal(load(&cfg, &args, &cause), 0);
	assert_int_equal(cfg.n_allowed_origins, 1);
	assert_string_equal(cfg.allowed_origins[0], "http://a");
	assert_true(cfg.probe_interval == 2.5);
	config_free(&cfg);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_home),
		cmocka_unit_test(test_env_then_dir_flag),
		cmocka_unit_test(test_custom_config_dir_and_backup),
		cmocka_unit_test(test_bad_values_are_errors),
	};
	char cmd[600];
	int rc;

	if (mkdtemp(tmpdir) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return (rc);
}
