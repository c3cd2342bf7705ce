/* SPDX-License-Identifier: MIT */
/* Unit tests of the monitor's state machine, driven with fake ops. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "monitor.h"

static uint64_t fake_now;
static int spawns, spawn_fail, announces, finished;
static int signals[8], nsignals;
static uint32_t armed[MON_T_MAX];
static int is_armed[MON_T_MAX];

static int
fake_spawn(struct mon *m)
{
	spawns++;
	if (spawn_fail)
		return (-1);
	m->pid = 1000 + spawns;
	return (0);
}

static void
fake_signal(struct mon *m, int sig)
{
	signals[nsignals++ % 8] = sig;
}

static void
fake_arm(struct mon *m, enum mon_timer t, uint32_t ms)
{
	armed[t] = ms;
	is_armed[t] = 1;
}

static void
fake_disarm(struct mon *m, enum mon_timer t)
{
	is_armed[t] = 0;
}

static uint64_t
fake_clock(void)
{
	return (fake_now);
}

static void
fake_announce(struct mon *m)
{
	announces++;
}

static void
fake_finish(struct mon *m)
{
	finished++;
}

static const struct mon_ops fake_ops = { fake_spawn, fake_signal, fake_arm,
	fake_disarm, fake_clock, fake_announce, fake_finish };

static int
setup(void **state)
{
	static struct mon m;

	memset(&m, 0, sizeof m);
	fake_now = 100000;
	spawns = spawn_fail = announces = finished = nsignals = 0;
	memset(is_armed, 0, sizeof is_armed);
	fsm_init(&m, &fake_ops);
	*state = &m;
	return (0);
}

static void
child_exit(struct mon *m, int code, int sig)
{
	struct mon_evarg a = { code, sig, NULL };

	fsm_feed(m, MON_EV_CHILD_EXIT, &a);
}

static void
test_start_healthy_crash_restarts_at_once(void **state)
{
	struct mon *m = *state;

	fsm_feed(m, MON_EV_CMD_START, NULL);
	assert_int_equal(m->state, FNWM_WS_STARTING);
	assert_int_equal(spawns, 1);
	assert_true(is_armed[MON_T_HEALTHY]);
	fsm_feed(m, MON_EV_HEALTHY, NULL);
	assert_int_equal(m->state, FNWM_WS_RUNNING);
	fake_now += 20000;
	child_exit(m, -1, SIGKILL);
	/* Healthy run: a new process at once, no timer in between. */
	assert_int_equal(spawns, 2);
	assert_int_equal(m->state, FNWM_WS_STARTING);
	assert_int_equal(m->last_exit, -SIGKILL);
	assert_int_equal(m->pst.restarts, 1);
}

static void
test_quick_death_backs_off_then_fails(void **state)
{
	struct mon *m = *state;
	int i;

	fsm_feed(m, MON_EV_CMD_START, NULL);
	for (i = 0; i < 4; i++) {
		fake_now += 100;
		child_exit(m, 1, 0);
		assert_int_equal(m->state, FNWM_WS_BACKOFF);
		assert_true(is_armed[MON_T_BACKOFF]);
		fsm_feed(m, MON_EV_BACKOFF, NULL);
		assert_int_equal(m->state, FNWM_WS_STARTING);
	}
	fake_now += 100;
	child_exit(m, 1, 0);
	assert_int_equal(m->state, FNWM_WS_FAILED);
	assert_int_equal(spawns, 5);
	/* Failed stays failed until asked to start. */
	fsm_feed(m, MON_EV_BACKOFF, NULL);
	assert_int_equal(spawns, 5);
	fsm_feed(m, MON_EV_CMD_START, NULL);
	assert_int_equal(m->state, FNWM_WS_STARTING);
	assert_int_equal(spawns, 6);
}

static void
test_stop_escalates_and_never_restarts(void **state)
{
	struct mon *m = *state;

	fsm_feed(m, MON_EV_CMD_START, NULL);
	struct fnwm_stop_cmd sc = { 3000, 2000 };
	struct mon_evarg a = { 0, 0, &sc };

	fsm_feed(m, MON_EV_CMD_STOP, &a);
	assert_int_equal(m->state, FNWM_WS_STOPPING);
	assert_int_equal(armed[MON_T_ESCALATE], 3000);
	fsm_feed(m, MON_EV_ESCALATE, NULL);
	assert_int_equal(signals[0], SIGTERM);
	assert_int_equal(armed[MON_T_ESCALATE], 2000);
	fsm_feed(m, MON_EV_ESCALATE, NULL);
	assert_int_equal(signals[1], SIGKILL);
	child_exit(m, -1, SIGKILL);
	assert_int_equal(m->state, FNWM_WS_DOWN);
	assert_int_equal(spawns, 1);
	assert_int_equal(finished, 0);
}

static void
test_restart_gives_new_process(void **state)
{
	struct mon *m = *state;
	struct fnwm_stop_cmd sc = { 3000, 2000 };
	struct mon_evarg a = { 0, 0, &sc };
	pid_t first;

	fsm_feed(m, MON_EV_CMD_START, NULL);
	first = m->pid;
	fsm_feed(m, MON_EV_CMD_RESTART, &a);
	assert_int_equal(m->state, FNWM_WS_STOPPING);
	child_exit(m, 0, 0);
	assert_int_equal(m->state, FNWM_WS_STARTING);
	assert_int_not_equal(m->pid, first);
}

static void
test_exit_waits_for_worker(void **state)
{
	struct mon *m = *state;
	struct fnwm_stop_cmd sc = { 3000, 2000 };
	struct mon_evarg a = { 0, 0, &sc };

	fsm_feed(m, MON_EV_CMD_START, NULL);
	fsm_feed(m, MON_EV_CMD_EXIT, &a);
	assert_int_equal(finished, 0);
	child_exit(m, 0, 0);
	assert_int_equal(finished, 1);
	/* In backoff, exit is immediate. */
	setup(state);
	m = *state;
	fsm_feed(m, MON_EV_CMD_START, NULL);
	child_exit(m, 1, 0);
	assert_int_equal(m->state, FNWM_WS_BACKOFF);
	fsm_feed(m, MON_EV_CMD_EXIT, &a);
	assert_int_equal(finished, 1);
	assert_false(is_armed[MON_T_BACKOFF]);
}

static void
test_spawn_failure_backs_off(void **state)
{
	struct mon *m = *state;

	spawn_fail = 1;
	fsm_feed(m, MON_EV_CMD_START, NULL);
	assert_int_equal(m->state, FNWM_WS_BACKOFF);
	assert_true(announces > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(
		    test_start_healthy_crash_restarts_at_once, setup),
		cmocka_unit_test_setup(test_quick_death_backs_off_then_fails,
		    setup),
		cmocka_unit_test_setup(test_stop_escalates_and_never_restarts,
		    setup),
		cmocka_unit_test_setup(test_restart_gives_new_process, setup),
		cmocka_unit_test_setup(test_exit_waits_for_worker, setup),
		cmocka_unit_test_setup(test_spawn_failure_backs_off, setup),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
