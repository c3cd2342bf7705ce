/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the workers dir's file parsers (master/wfiles.c), the
 * /proc parsers (common/util.c) and the Origin rule (master/origin.c).
 */
#include <sys/sysmacros.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util.h"
#include "master.h"

#define S(s) (s), sizeof(s) - 1

static void
test_worker_json(void **state)
{
	const char *why;
	json_object *o;

	o = wfiles_worker_json(S("{\"type\": \"W\", \"uuid\": \"a1\"}"), "a1",
	    &why);
	assert_non_null(o);
	assert_null(why);
	json_object_put(o);
	assert_null(wfiles_worker_json(S("{\"type\": \"W\", \"uuid\": \"b\"}"),
	    "a1", &why));
	assert_string_equal(why, "its uuid does not match its file name");
	assert_null(wfiles_worker_json(S("{\"uuid\": \"a1\"}"), "a1", &why));
	assert_string_equal(why, "no \"type\" string");
	assert_null(wfiles_worker_json(S("[1]"), "a1", &why));
	assert_string_equal(why, "not a JSON object");
	assert_null(wfiles_worker_json(S("{\"type\":"), "a1", &why));
	assert_non_null(why);
}

static void
test_status(void **state)
{
	struct wfiles_status st;

	wfiles_status(S("version=1\nstate=stopping\nmonitor=42\nexiting=1\n"),
	    &st);
	assert_int_equal(st.state, FNWM_WS_STOPPING);
	assert_int_equal(st.monitor, 42);
	assert_int_equal(st.exiting, 1);
	/* A value without its newline is not there yet. */
	wfiles_status(S("x\nstate=running\nmonitor=42"), &st);
	assert_int_equal(st.state, FNWM_WS_RUNNING);
	assert_int_equal(st.monitor, 0);
	assert_int_equal(st.exiting, 0);
	wfiles_status(S("state=running\n"), &st); /* not at a line start */
	assert_int_equal(st.state, -1);
	wfiles_status(S("x\nstate=sleeping\nmonitor=-3\nexiting=10\n"), &st);
	assert_int_equal(st.state, -1);
	assert_int_equal(st.monitor, 0);
	assert_int_equal(st.exiting, 0);
}

static void
test_runstate(void **state)
{
	char out[64];

	assert_int_equal(wfiles_runstate(S("a\nb\r"), out, sizeof out), 1);
	assert_string_equal(out, "a - b ");
	assert_int_equal(wfiles_runstate(S("removed"), out, sizeof out), 0);
	assert_int_equal(wfiles_runstate(S(""), out, sizeof out), 0);
	/* A literal backslash stays one: no forged line breaks. */
	assert_int_equal(wfiles_runstate(S("x\\012y"), out, sizeof out), 1);
	assert_string_equal(out, "x\\134012y");
}

static void
test_proc(void **state)
{
	unsigned long long start = 0;

	assert_int_equal(fnwm_proc_stat_parse("12 (a) b) S 1 2 3 4 5 6 7 8 9 "
	                                      "10 11 12 13 14 15 16 17 18 777 "
	                                      "1",
	                     &start),
	    1);
	assert_int_equal(start, 777);
	assert_int_equal(fnwm_proc_stat_parse("12 (a) Z 1", &start), 0);
	assert_int_equal(fnwm_proc_stat_parse("12 (a", &start), -1);
	assert_int_equal(fnwm_locks_line_holder("1: FLOCK  ADVISORY  WRITE 99 "
	                                        "08:01:5678 0 EOF",
	                     makedev(8, 1), 5678),
	    99);
	assert_int_equal(fnwm_locks_line_holder("1: -> FLOCK  ADVISORY  WRITE "
	                                        "99 08:01:5678 0 EOF",
	                     makedev(8, 1), 5678),
	    0);
	assert_int_equal(fnwm_locks_line_holder("1: FLOCK  ADVISORY  WRITE 99 "
	                                        "08:01:5679 0 EOF",
	                     makedev(8, 1), 5678),
	    0);
}

static void
test_origin(void **state)
{
	struct fnwm_config cfg;
	char entry[] = "https://ui.example", *list[] = { entry };

	memset(&cfg, 0, sizeof cfg);
	assert_true(
	    origin_allowed("http://host.example:1", "host.example:9380", &cfg));
	assert_true(
	    origin_allowed("http://127.0.0.1:5173", "localhost:9380", &cfg));
	assert_true(origin_allowed("http://[::1]:3000", "[::1]:9380", &cfg));
	assert_false(origin_allowed("http://127.0.0.1.evil.example",
	    "localhost:9380", &cfg));
	assert_false(origin_allowed("null", "localhost:9380", &cfg));
	assert_false(origin_allowed("http://localhost", "", &cfg));
	assert_false(origin_allowed("https://ui.example", "fnwm:9380", &cfg));
	cfg.allowed_origins = list;
	cfg.n_allowed_origins = 1;
	assert_true(origin_allowed("https://UI.example", "fnwm:9380", &cfg));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_worker_json),
		cmocka_unit_test(test_status),
		cmocka_unit_test(test_runstate),
		cmocka_unit_test(test_proc),
		cmocka_unit_test(test_origin),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
