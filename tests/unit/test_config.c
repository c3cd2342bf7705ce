/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of master/config.c and its table: config dir resolution, the
 * keys, their precedence, reload, and README.md's table of them.
 */
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
#include "log.h"
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

/* Every refusal names the key and what it must be, in one wording. */
static void
test_one_wording(void **state)
{
	static const struct {
		const char *json, *want;
	} bad[] = {
		{ "{\"fnwm\": {\"probe_interval\": 0}}",
		    "config.json: fnwm.probe_interval must be a number from "
		    "0.1 "
		    "to 86400" },
		{ "{\"fnwm\": {\"client_queue_bytes\": \"big\"}}",
		    "config.json: fnwm.client_queue_bytes must be a number "
		    "from "
		    "65536 to 4294967296" },
		{ "{\"fnwm\": {\"autostart\": 1}}",
		    "config.json: fnwm.autostart must be true or false" },
		{ "{\"fnwm\": {\"log_level\": \"loud\"}}",
		    "config.json: fnwm.log_level must be \"debug\", \"info\" "
		    "or "
		    "\"warning\"" },
		{ "{\"fnwm\": {\"allowed_hosts\": [\"a:80\"]}}",
		    "config.json: fnwm.allowed_hosts must be a list of host "
		    "names without ports" },
		{ "{\"fnwm\": {\"tls\": 3}}",
		    "config.json: fnwm.tls must be an object" },
		{ "{\"fnwm\": {\"tls\": {\"cert\": \"c.pem\"}}}",
		    "config.json: fnwm.tls needs both \"cert\" and \"key\"" },
		{ "{\"fnwm\": {\"restart_policy\": []}}",
		    "config.json: fnwm.restart_policy must be an object" },
		{ "{\"worker_manager\": {\"host\": 5}}",
		    "config.json: worker_manager.host must be a string" },
	};
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	char dir[512], *cause;
	size_t i;

	snprintf(dir, sizeof dir, "%s/wording", tmpdir);
	args.dir = dir;
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		write_config(dir, "config.json", bad[i].json);
		assert_int_equal(load(&cfg, &args, &cause), -1);
		assert_string_equal(cause, bad[i].want);
		free(cause);
		config_free(&cfg);
	}
}

/* The flag beats the environment, which beats config.json; lists add. */
static void
test_precedence(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	const char *origins[] = { "http://flag", NULL };
	char dir[512], *cause;

	snprintf(dir, sizeof dir, "%s/precedence", tmpdir);
	write_config(dir, "config.json",
	    "{\"worker_manager\": {\"host\": \"127.0.0.2\", \"port\": 7000},"
	    " \"fnwm\": {\"python\": \"/json/python\","
	    " \"allowed_origins\": [\"http://json\"]}}");
	args.dir = dir;
	setenv("FUNCNODES_PYTHON", "/env/python", 1);
	assert_int_equal(load(&cfg, &args, &cause), 0);
	assert_string_equal(cfg.python, "/env/python");
	assert_string_equal(cfg.venv_python, "/env/python");
	assert_string_equal(cfg.host, "127.0.0.2");
	assert_int_equal(cfg.port, 7000);
	config_free(&cfg);

	args.python = "/flag/python";
	args.host = "::1";
	args.port = -1; /* --port 0 */
	args.origins = origins;
	args.n_origins = 1;
	assert_int_equal(load(&cfg, &args, &cause), 0);
	assert_string_equal(cfg.python, "/flag/python");
	assert_string_equal(cfg.host, "::1");
	assert_int_equal(cfg.port, 0);
	assert_int_equal(cfg.n_allowed_origins, 2);
	assert_string_equal(cfg.allowed_origins[0], "http://json");
	assert_string_equal(cfg.allowed_origins[1], "http://flag");
	assert_null(cfg.allowed_origins[2]);
	config_free(&cfg);
	unsetenv("FUNCNODES_PYTHON");
}

/* SIGHUP takes the reloadable keys and keeps the others. */
static void
test_reload(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	char dir[512], *cause;

	snprintf(dir, sizeof dir, "%s/reload", tmpdir);
	write_config(dir, "config.json",
	    "{\"worker_manager\": {\"port\": 7001}}");
	args.dir = dir;
	assert_int_equal(load(&cfg, &args, &cause), 0);
	assert_int_equal(cfg.token_file_default, 1);
	write_config(dir, "config.json",
	    "{\"worker_manager\": {\"port\": 7002}, \"fnwm\": {"
	    "\"stop_timeout\": 3, \"max_clients\": 7, \"log_level\": \"debug\","
	    " \"allowed_hosts\": [\"example.org\"], \"uv_python\": \"3.12\","
	    " \"token_file\": \"/t/tok\", \"restart_policy\": {\"restart\": "
	    "\"never\"}, \"allowed_data_roots\": [\"/srv/data//\"]}}");
	assert_int_equal(config_reload(&cfg, &args, &cause), 0);
	assert_true(cfg.stop_timeout == 3);
	assert_int_equal(cfg.max_clients, 7);
	assert_int_equal(cfg.log_level, FNWM_LOG_DEBUG);
	assert_int_equal(cfg.n_allowed_hosts, 1);
	assert_string_equal(cfg.allowed_hosts[0], "example.org");
	assert_string_equal(cfg.token_file, "/t/tok");
	assert_int_equal(cfg.token_file_default, 0);
	assert_non_null(cfg.restart_defaults);
	assert_string_equal(cfg.allowed_data_roots[0], "/srv/data");
	/* Not reloadable: kept. */
	assert_int_equal(cfg.port, 7001);
	assert_string_equal(cfg.uv_python, "3.11");
	/* A bad file changes nothing. */
	write_config(dir, "config.json", "{\"fnwm\": {\"stop_timeout\": -1}}");
	assert_int_equal(config_reload(&cfg, &args, &cause), -1);
	assert_non_null(strstr(cause, "fnwm.stop_timeout"));
	free(cause);
	assert_true(cfg.stop_timeout == 3);
	config_free(&cfg);
}

/* Every row's default is what a config.json without the key gives. */
static void
test_table_defaults(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	const struct config_key *k;
	char dir[512], *cause;
	size_t i;

	snprintf(dir, sizeof dir, "%s/table", tmpdir);
	write_config(dir, "config.json", "{}");
	args.dir = dir;
	assert_int_equal(load(&cfg, &args, &cause), 0);
	for (i = 0; i < config_nkeys; i++) {
		k = &config_keys[i];
		assert_non_null(k->doc);
		if (k->type == CFG_SECONDS)
			assert_true(
			    *(double *)((char *)&cfg + k->off) == k->def);
		else if (k->type == CFG_SIZE)
			assert_true(*(size_t *)((char *)&cfg + k->off) ==
			    (size_t)k->def);
		else if (k->type == CFG_INT || k->type == CFG_BOOL ||
		    k->type == CFG_LEVEL)
			assert_int_equal(*(int *)((char *)&cfg + k->off),
			    (int)k->def);
		if (k->type != CFG_SECONDS && k->type != CFG_SIZE &&
		    k->type != CFG_INT && k->type != CFG_LIST)
			continue;
		assert_true(k->def >= k->min && k->def <= k->max);
	}
	assert_true(cfg.stop_timeout == 10 && cfg.kill_timeout == 5);
	config_free(&cfg);
}

/* A worker's own liveness_timeout has the bounds of the manager's key. */
static void
test_worker_key_bounds(void **state)
{
	struct fnwm_config cfg;
	struct fnwm_args args = { 0 };
	json_object *entry;
	double liveness;
	int autostart;
	char dir[512], *cause = NULL;

	assert_null(config_key_find("fnwm", "no_such_key"));
	snprintf(dir, sizeof dir, "%s/worker", tmpdir);
	args.dir = dir;
	assert_int_equal(load(&cfg, &args, &cause), 0);
	entry = json_tokener_parse("{\"fnwm\": {\"liveness_timeout\": 86401}}");
	assert_int_equal(launch_supervision(&cfg, entry, &liveness, &autostart,
	                     &cause),
	    -1);
	assert_string_equal(cause,
	    "fnwm.liveness_timeout must be a number "
	    "from 0 to 86400");
	free(cause);
	json_object_put(entry);
	entry = json_tokener_parse("{\"fnwm\": {\"liveness_timeout\": 5}}");
	assert_int_equal(launch_supervision(&cfg, entry, &liveness, &autostart,
	                     &cause),
	    0);
	assert_true(liveness == 5);
	json_object_put(entry);
	config_free(&cfg);
}

/* README.md's table under "### Configuration", line by line. */
static char **
readme_table(size_t *n)
{
	char line[2048], **rows = NULL;
	const char *head = config_doc_header();
	size_t hlen = strcspn(head, "\n");
	FILE *f = fopen(FNWM_SOURCE_DIR "/README.md", "r");
	int in = 0;

	assert_non_null(f);
	*n = 0;
	while (fgets(line, sizeof line, f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		if (!in && strlen(line) == hlen &&
		    strncmp(line, head, hlen) == 0)
			in = 1;
		if (in && line[0] != '|')
			break;
		if (!in)
			continue;
		rows = realloc(rows, (*n + 1) * sizeof *rows);
		rows[(*n)++] = strdup(line);
	}
	fclose(f);
	return (rows);
}

static void
print_table(FILE *f)
{
	size_t i;
	char *row;

	fprintf(f, "%s\n", config_doc_header());
	for (i = 0; i < config_nkeys; i++) {
		row = config_doc_row(&config_keys[i]);
		fprintf(f, "%s\n", row);
		free(row);
	}
}

/*
 * The README shows the table row for row: a key missing from it, a
 * default or a line that differs, or a key the code does not have fails.
 */
static void
test_readme_table(void **state)
{
	size_t i, n, bad = 0;
	char **rows = readme_table(&n), *want;

	for (i = 0; i < config_nkeys || i + 2 < n; i++) {
		want = i < config_nkeys ? config_doc_row(&config_keys[i])
		                        : strdup("(nothing)");
		if (i + 2 >= n || strcmp(rows[i + 2], want) != 0) {
			fprintf(stderr,
			    "README.md row %zu:\n  is   %s\n  want %s\n", i + 1,
			    i + 2 < n ? rows[i + 2] : "(nothing)", want);
			bad++;
		}
		free(want);
	}
	if (bad > 0) {
		fprintf(stderr,
		    "the table README.md should show "
		    "(test_config --readme):\n");
		print_table(stderr);
	}
	for (i = 0; i < n; i++)
		free(rows[i]);
	free(rows);
	assert_int_equal(bad, 0);
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_home),
		cmocka_unit_test(test_env_then_dir_flag),
		cmocka_unit_test(test_custom_config_dir_and_backup),
		cmocka_unit_test(test_bad_values_are_errors),
		cmocka_unit_test(test_one_wording),
		cmocka_unit_test(test_precedence),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_table_defaults),
		cmocka_unit_test(test_worker_key_bounds),
		cmocka_unit_test(test_readme_table),
	};
	char cmd[600];
	int rc;

	/* --readme: the table README.md should show, for pasting. */
	if (argc == 2 && strcmp(argv[1], "--readme") == 0) {
		print_table(stdout);
		return (0);
	}
	if (mkdtemp(tmpdir) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return (rc);
}
