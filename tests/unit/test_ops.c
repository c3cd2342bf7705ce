/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the operations (ops.c and op-*.c): each kind driven
 * through its phases with the layers below faked (ops_fakes.c), as
 * test_fsm drives the monitor's table.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ops_fakes.h"

static int
setup(void **state)
{
	fake_setup();
	return (0);
}

static int
teardown(void **state)
{
	fake_teardown();
	return (0);
}

static void
submit(enum op_kind kind)
{
	ops_submit(kind, FAKE_UUID, FAKE_CLIENT);
	fake_run();
}

/* The worker answers its probe and its JSON is there to hand over. */
static void
answers(void)
{
	fake_file(".json", "{\"uuid\": \"" FAKE_UUID "\", \"port\": 9382}");
	fake.active = 1;
	fake_kick();
}

static void
assert_saw(const char *prefix)
{
	if (fake_saw(prefix) == -1)
		fail_msg("no \"%s\" in what the client saw (last: \"%s\")",
		    prefix, fake_last());
}

static void
assert_done(void)
{
	assert_null(fake_head());
	assert_int_equal(ops_pending(), 0);
	/* The requester's display ends with the reset. */
	assert_string_equal(fake_last(), "progress:");
}

static void
test_activate_hands_over_a_running_worker(void **state)
{
	fake.active = 1;
	fake_file(".json", "{\"uuid\": \"" FAKE_UUID "\"}");
	submit(OP_ACTIVATE);
	/* Adopted under a monitor, kept up, handed over at once. */
	assert_int_equal(fake.starts, 1);
	assert_true(fake.mon.want_up);
	assert_saw("set_worker");
	assert_int_equal(fake.urgent, 0);
	assert_done();
}

static void
test_activate_starts_then_hands_over(void **state)
{
	submit(OP_ACTIVATE);
	assert_saw("progress:Starting worker.");
	assert_saw("progress:Contacting worker.");
	assert_int_equal(fake.starts, 1);
	assert_true(fake.mon.pid > 0);
	assert_true(fake.urgent);
	fake_file(".runstate", "loading nodes");
	fake_state(FNWM_WS_STARTING, 900, FNWM_EXIT_NONE);
	assert_saw("progress:loading nodes");
	assert_non_null(fake_head());
	answers();
	assert_saw("set_worker");
	assert_int_equal(fake.urgent, 0);
	assert_done();
}

static void
test_activate_deadline(void **state)
{
	submit(OP_ACTIVATE);
	fake_state(FNWM_WS_RUNNING, 900, FNWM_EXIT_NONE);
	assert_non_null(fake_head());
	fake_expire();
	assert_saw("error:Could not activate worker with id w1. It did not "
	           "answer within 30 s.");
	assert_int_equal(fake_saw("set_worker"), -1);
	assert_done();
}

static void
test_activate_worker_gives_up(void **state)
{
	submit(OP_ACTIVATE);
	fake_state(FNWM_WS_STARTING, 900, FNWM_EXIT_NONE);
	fake_state(FNWM_WS_BACKOFF, 0, 1);
	assert_non_null(fake_head());
	fake_state(FNWM_WS_FAILED, 0, 1);
	assert_saw("error:Could not activate worker with id w1. It exited "
	           "(status 1) and the restart policy gave up.");
	assert_done();
}

/* Its monitor ended and nobody wants it up any more: no use waiting. */
static void
test_activate_monitor_gone(void **state)
{
	submit(OP_ACTIVATE);
	fake_state(FNWM_WS_STARTING, 900, FNWM_EXIT_NONE);
	fake_monitor_gone();
	assert_non_null(fake_head()); /* still wanted: a new one may come */
	fake.mon.want_up = 0;
	fake_kick();
	assert_string_equal(fake.log[fake.nlog - 2],
	    "error:Could not activate worker with id w1.");
	assert_done();
}

static void
test_activate_refusals(void **state)
{
	json_object_put(fake.entry);
	fake.entry = NULL;
	submit(OP_ACTIVATE);
	assert_saw("error:Worker with id w1 not found.");
	assert_done();
	fake_entry(NULL);
	fake.python = "/nonexistent/bin/python";
	submit(OP_ACTIVATE);
	assert_saw("error:Could not activate worker with id w1: its "
	           "interpreter /nonexistent/bin/python is missing");
	fake.python = "python3";
	fake.start_fail = 1;
	submit(OP_ACTIVATE);
	assert_saw("error:Could not activate worker with id w1: cannot start "
	           "fnwm-monitor");
	assert_false(fake.mon.want_up);
	assert_int_equal(fake.starts, 1);
	assert_done();
}

/* A stop preempts the update_on_startup step; the stop then runs. */
static void
test_activate_upgrade_preempted_by_stop(void **state)
{
	fake.cfg.upgrade_on_start = 1;
	fake_entry("venv");
	submit(OP_ACTIVATE);
	assert_saw("progress:Updating worker.");
	assert_saw("progress:updating funcnodes");
	assert_int_equal(fake.steps_sent, 1);
	assert_false(fake.mon.want_up);
	submit(OP_STOP);
	assert_saw("error:Could not activate worker with id w1. Cancelled by "
	           "a stop.");
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_EXIT);
	/* The stop is under way: it waits for that monitor to end. */
	assert_non_null(fake_head());
	assert_int_equal(fake_head()->kind, OP_STOP);
	assert_int_equal(venv_steps_running(), 0);
	fake_monitor_gone();
	assert_int_equal(fake.forgets, 1);
	assert_done();
}

static void
test_activate_upgrades_then_starts(void **state)
{
	fake.cfg.upgrade_on_start = 1;
	fake_entry("venv");
	submit(OP_ACTIVATE);
	/* Best effort: a failed upgrade is reported, the start goes on. */
	fake_step_done(1, "no index");
	assert_saw("progress:updating funcnodes failed: no index");
	fake_step_done(0, "");
	assert_saw("progress:Starting worker.");
	assert_true(fake.mon.want_up);
	answers();
	assert_saw("set_worker");
	assert_done();
}

static void
test_stop_escalates_to_kill(void **state)
{
	fake.mon.pid = 300;
	fake.active = 1;
	submit(OP_STOP);
	assert_saw("progress:Stopping worker.");
	assert_int_equal(fake.stoppers, 1); /* the worker's own command */
	assert_int_equal(fake.ncmds, 1);
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_EXIT);
	assert_false(fake.mon.want_up);
	fake_kick();
	assert_non_null(fake_head());
	fake_expire();
	assert_int_equal(fake.kills, 1);
	assert_non_null(fake_head());
	fake_expire();
	/* Given up on: its status is not forgotten while it may live. */
	assert_int_equal(fake.forgets, 0);
	assert_saw("error:Could not stop worker w1");
	assert_done();
}

/* The monitor dies while its worker lives on: a new one stops it. */
static void
test_stop_monitor_dies_mid_stop(void **state)
{
	fake.mon.pid = 300;
	fake.live_pid = 1234;
	submit(OP_STOP);
	assert_int_equal(fake.ncmds, 1);
	fake_monitor_gone();
	assert_int_equal(fake.starts, 1);
	assert_true(fake.mon.pid > 0);
	assert_int_equal(fake.ncmds, 2);
	/* Replaced at most three times, then it waits for the deadline. */
	fake_monitor_gone();
	fake_monitor_gone();
	assert_int_equal(fake.starts, 3);
	fake_monitor_gone();
	assert_int_equal(fake.starts, 3);
	assert_non_null(fake_head());
	fake.live_pid = 0;
	fake_kick();
	assert_int_equal(fake.forgets, 1);
	assert_done();
}

/* Every monitor dies and the worker lives on: the stop says so. */
static void
test_stop_monitors_keep_dying(void **state)
{
	fake.mon.pid = 300;
	fake.live_pid = 1234;
	submit(OP_STOP);
	fake_monitor_gone();
	fake_monitor_gone();
	fake_monitor_gone();
	fake_monitor_gone();
	assert_int_equal(fake.starts, 3);
	assert_non_null(fake_head());
	fake_expire();
	assert_saw("error:Could not stop worker w1");
	assert_int_equal(fake.forgets, 0);
	assert_done();
}

static void
test_stop_not_running_and_unknown(void **state)
{
	submit(OP_STOP);
	assert_int_equal(fake.ncmds, 0);
	assert_int_equal(fake.forgets, 1);
	assert_done();
	json_object_put(fake.entry);
	fake.entry = NULL;
	fake.json_exists = 0;
	submit(OP_STOP);
	assert_string_equal(fake_last(), "error:Worker w1 not found");
	assert_null(fake_head());
}

static void
test_restart_new_pid_then_hands_over(void **state)
{
	fake.mon.pid = 300;
	fake.mon.gen = 5;
	fake.live_pid = 900;
	submit(OP_RESTART);
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_RESTART);
	assert_true(fake.mon.want_up);
	/* The old process still reported: not the restart yet. */
	fake_state(FNWM_WS_STOPPING, 900, FNWM_EXIT_NONE);
	assert_int_equal(fake_saw("progress:Activating worker."), -1);
	assert_int_equal(fake.ncmds, 1);
	fake_state(FNWM_WS_STARTING, 901, FNWM_EXIT_NONE);
	assert_saw("progress:Activating worker.");
	assert_saw("progress:Contacting worker.");
	answers();
	assert_saw("set_worker");
	assert_done();
}

/* Its monitor died before restarting; the new one adopted the old pid. */
static void
test_restart_asks_the_replacement_again(void **state)
{
	fake.mon.pid = 300;
	fake.live_pid = 900;
	submit(OP_RESTART);
	fake.mon.pid = 301;
	fake.mon.gen++;
	fake_state(FNWM_WS_RUNNING, 900, FNWM_EXIT_NONE);
	assert_int_equal(fake.ncmds, 2);
	assert_int_equal(fake.cmds[1], FNWM_MSG_CMD_RESTART);
	/* Asked once per monitor, not on every report. */
	fake_state(FNWM_WS_STOPPING, 900, FNWM_EXIT_NONE);
	assert_int_equal(fake.ncmds, 2);
	assert_non_null(fake_head());
	fake_monitor_gone();
	assert_saw("error:Could not activate worker with id w1.");
	assert_done();
}

static void
test_restart_deadline(void **state)
{
	fake.mon.pid = 300;
	submit(OP_RESTART);
	fake_expire();
	assert_saw("error:Could not activate worker with id w1.");
	assert_done();
}

static void
test_delete_stops_then_removes(void **state)
{
	fake_file(".json", "{}");
	fake_file(".status", "state=running\n");
	fake_file(".p", "{}");
	fake.mon.pid = 300;
	fake.rm_pid = 4321;
	submit(OP_DELETE);
	assert_saw("progress:Deleting worker...");
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_EXIT);
	fake_monitor_gone();
	assert_saw("progress:Removing files...");
	assert_false(fake_file_exists(".status"));
	assert_false(fake_file_exists(".p"));
	/* The JSON goes last, after the data dir. */
	assert_true(fake_file_exists(".json"));
	assert_int_equal(fake.rm_dirs, 1);
	assert_non_null(fake_head());
	fake_rm_done(0);
	assert_false(fake_file_exists(".json"));
	assert_saw("progress:Worker deleted.");
	assert_saw("worker_deleted");
	assert_done();
}

static void
test_delete_keeps_what_it_cannot_stop(void **state)
{
	fake_file(".json", "{}");
	fake.mon.pid = 300;
	fake.live_pid = 1234;
	submit(OP_DELETE);
	fake_expire();
	assert_int_equal(fake.kills, 1);
	fake_expire();
	assert_saw("error:Could not stop worker w1; not deleted");
	assert_true(fake_file_exists(".json"));
	assert_int_equal(fake.rm_dirs, 0);
	assert_done();
}

static void
submit_create(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "uuid", json_object_new_string(FAKE_UUID));
	fake.json_exists = 0;
	json_object_put(fake.entry);
	fake.entry = NULL;
	ops_submit_create(FAKE_UUID, FAKE_CLIENT, o, 1);
	fake_run();
}

static void
test_create_writes_the_json_last(void **state)
{
	submit_create();
	assert_saw("progress:Making virtual environment.");
	assert_int_equal(fake.steps_sent, 1);
	assert_false(fake.mon.want_up);
	fake_step_done(0, "");
	assert_saw("progress:Adding funcnodes");
	assert_false(fake_file_exists(".json"));
	fake_step_done(0, "");
	assert_true(fake_file_exists(".json"));
	assert_saw("progress:Writing configuration.");
	assert_saw("worker_created");
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_EXIT);
	/* The next operation waits for this monitor to end. */
	assert_non_null(fake_head());
	fake_monitor_gone();
	assert_done();
}

static void
test_create_failed_step_cleans_up(void **state)
{
	submit_create();
	fake.rm_pid = 4321;
	fake_file(".lock", "");
	fake_file(".status", "state=down\n");
	fake_step_done(1, "No matching distribution");
	assert_saw("error:new_worker: could not create worker w1: No matching "
	           "distribution");
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_EXIT);
	/* Its files go once its monitor is gone, then the data dir. */
	assert_true(fake_file_exists(".lock"));
	fake_monitor_gone();
	assert_false(fake_file_exists(".lock"));
	assert_false(fake_file_exists(".status"));
	assert_int_equal(fake.rm_dirs, 1);
	assert_non_null(fake_head());
	fake_rm_done(0);
	assert_false(fake_file_exists(".json"));
	assert_null(fake_head());
}

/* Two creations of one uuid: the second touches nothing of the first. */
static void
test_create_of_an_existing_worker_touches_nothing(void **state)
{
	json_object *o = json_object_new_object();

	fake_file(".json", "{}");
	fake_file(".lock", "");
	fake_file(".status", "state=running\n");
	fake.mon.want_up = 1;
	fake.json_exists = 1;
	ops_submit_create(FAKE_UUID, FAKE_CLIENT, o, 0);
	fake_run();
	assert_saw("error:new_worker: could not create worker w1: it already "
	           "exists");
	assert_int_equal(fake.ncmds, 0);
	assert_int_equal(fake.starts, 0);
	assert_true(fake.mon.want_up);
	assert_true(fake_file_exists(".json"));
	assert_true(fake_file_exists(".lock"));
	assert_true(fake_file_exists(".status"));
	assert_int_equal(fake.rm_dirs, 0);
	assert_null(fake_head());
}

static void
test_create_preempted_by_delete(void **state)
{
	submit_create();
	submit(OP_DELETE);
	assert_saw("error:new_worker: could not create worker w1: cancelled");
	fake_monitor_gone();
	assert_int_equal(fake.rm_dirs, 1);
	/* Then the delete: nothing of the worker is left to delete. */
	assert_saw("error:Worker w1 not found");
	assert_null(fake_head());
}

static void
test_repair_recreates_the_venv(void **state)
{
	fake_entry("venv");
	submit(OP_REPAIR);
	assert_saw("progress:Repairing worker.");
	assert_saw("progress:Removing the broken virtual environment.");
	assert_int_equal(fake.starts, 1);
	fake_step_done(0, "");
	fake_step_done(0, "");
	fake_step_done(0, "");
	assert_saw("progress:Worker repaired.");
	assert_int_equal(fake.cmds[0], FNWM_MSG_CMD_EXIT);
	fake_monitor_gone();
	assert_done();
	assert_int_equal(fake.steps_sent, 3);
}

static void
test_repair_failures(void **state)
{
	submit(OP_REPAIR);
	assert_string_equal(fake_last(),
	    "error:worker w1 has no virtual environment to repair");
	fake_entry("venv");
	submit(OP_REPAIR);
	fake_step_done(1, "disk full");
	assert_saw("error:could not repair worker w1: disk full");
	fake_monitor_gone();
	assert_done();
	/* Its monitor dies during a step. */
	submit(OP_REPAIR);
	fake_monitor_gone();
	assert_saw("error:could not repair worker w1: the worker's monitor "
	           "died");
	assert_done();
}

/* Shutdown: a preparation step cleans up, what has not begun goes. */
static void
test_wind_down(void **state)
{
	submit_create();
	ops_submit(OP_ACTIVATE, FAKE_UUID, FAKE_CLIENT);
	assert_int_equal(ops_pending(), 2);
	ops_wind_down();
	assert_int_equal(ops_pending(), 1);
	fake_run();
	assert_saw("error:new_worker: could not create worker w1: cancelled");
	fake_monitor_gone();
	assert_null(fake_head());
}

/* Shutdown lets a cleanup finish: the half-made data dir still goes. */
static void
test_wind_down_keeps_a_cleanup(void **state)
{
	submit_create();
	fake.rm_pid = 4321;
	fake_step_done(1, "failed");
	fake_monitor_gone();
	assert_int_equal(fake.rm_dirs, 1);
	ops_wind_down();
	assert_non_null(fake_head());
	fake_rm_done(0);
	assert_null(fake_head());
}

static void
test_autostart_and_gone_requester(void **state)
{
	fake.client_here = 0;
	answers();
	ops_submit_autostart(FAKE_UUID);
	fake_run();
	assert_int_equal(fake.autostart_done, 1);
	/* Nobody to tell: nothing was sent, nothing is left. */
	assert_int_equal(fake.nlog, 0);
	assert_null(fake_head());
}

int
main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_activate_hands_over_a_running_worker),
		T(test_activate_starts_then_hands_over),
		T(test_activate_deadline),
		T(test_activate_worker_gives_up),
		T(test_activate_monitor_gone),
		T(test_activate_refusals),
		T(test_activate_upgrade_preempted_by_stop),
		T(test_activate_upgrades_then_starts),
		T(test_stop_escalates_to_kill),
		T(test_stop_monitor_dies_mid_stop),
		T(test_stop_monitors_keep_dying),
		T(test_stop_not_running_and_unknown),
		T(test_restart_new_pid_then_hands_over),
		T(test_restart_asks_the_replacement_again),
		T(test_restart_deadline),
		T(test_delete_stops_then_removes),
		T(test_delete_keeps_what_it_cannot_stop),
		T(test_create_writes_the_json_last),
		T(test_create_failed_step_cleans_up),
		T(test_create_of_an_existing_worker_touches_nothing),
		T(test_create_preempted_by_delete),
		T(test_repair_recreates_the_venv),
		T(test_repair_failures),
		T(test_wind_down),
		T(test_wind_down_keeps_a_cleanup),
		T(test_autostart_and_gone_requester),
	};
#undef T

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
