/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the master's monitor records: the phase table of
 * monitors-phase.c driven with fake ops (no fork, no socket, no signal),
 * as test_fsm drives the monitor's own.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "monitors-phase.h"

#define EXITED(code) ((code) << 8) /* a wait status */
#define KILLED(sig)  (sig)

static struct fake {
	int launches, spawns, launch_fail, chan_gone;
	uint16_t sent[16];
	int nsent;
	int connect_ok, connects;
	int lock_free;
	pid_t holder;
	int signals[8], nsignals;
	int kills, releases, retries_armed;
	int run_lock, was_exiting, meant_to_run, shutting_down;
	int announces, kicks, gones;
} f;

static int
fake_launch(struct monitor *m, json_object *entry, int spawn, char **cause)
{
	f.launches++;
	if (f.launch_fail) {
		*cause = strdup("launch refused");
		return (-1);
	}
	if (spawn)
		m->pid = 1000 + ++f.spawns;
	if (f.chan_gone) {
		*cause = strdup("monitor channel: Broken pipe");
		return (1);
	}
	return (0);
}

static int
fake_send(struct monitor *m, uint16_t type)
{
	f.sent[f.nsent++ % 16] = type;
	return (0);
}

static int
fake_connect(struct monitor *m)
{
	f.connects++;
	if (!f.connect_ok)
		return (-1);
	m->pid = f.holder > 0 ? f.holder : 2000;
	return (0);
}

static int
fake_lock_state(const char *uuid, pid_t *holder)
{
	*holder = f.lock_free ? 0 : f.holder;
	return (f.lock_free ? -1 : 0);
}

static int
fake_watch(struct monitor *m, pid_t pid)
{
	m->pid = pid;
	return (0);
}

static void
fake_release(struct monitor *m)
{
	f.releases++;
}

static void
fake_signal(struct monitor *m, int sig)
{
	f.signals[f.nsignals++ % 8] = sig;
}

static void
fake_kill(struct monitor *m)
{
	f.kills++;
}

static void
fake_arm_retry(void)
{
	f.retries_armed++;
}

static json_object *
fake_entry(const char *uuid)
{
	return (NULL);
}

static int
fake_run_lock_held(const char *uuid)
{
	return (f.run_lock);
}

static int
fake_was_exiting(const char *uuid)
{
	return (f.was_exiting);
}

static int
fake_meant_to_run(const char *uuid)
{
	return (f.meant_to_run);
}

static int
fake_shutting_down(void)
{
	return (f.shutting_down);
}

static void
fake_note_worker(struct monitor *m, pid_t pid)
{
	m->wpid = pid;
}

static void
fake_announce(struct monitor *m)
{
	f.announces++;
}

static void
fake_kick(struct monitor *m)
{
	f.kicks++;
}

static void
fake_gone(struct monitor *m)
{
	f.gones++;
}

static const struct monitors_ops fake_ops = {
	.launch = fake_launch,
	.send = fake_send,
	.connect = fake_connect,
	.lock_state = fake_lock_state,
	.watch = fake_watch,
	.release = fake_release,
	.signal = fake_signal,
	.kill = fake_kill,
	.arm_retry = fake_arm_retry,
	.entry = fake_entry,
	.run_lock_held = fake_run_lock_held,
	.was_exiting = fake_was_exiting,
	.meant_to_run = fake_meant_to_run,
	.shutting_down = fake_shutting_down,
	.note_worker = fake_note_worker,
	.announce = fake_announce,
	.kick = fake_kick,
	.gone = fake_gone,
};

static int
setup(void **state)
{
	static struct monitor m;
	static char uuid[] = "0123456789abcdef0123456789abcdef";

	memset(&m, 0, sizeof m);
	memset(&f, 0, sizeof f);
	m.uuid = uuid;
	m.pidfd = -1;
	monitors_phase_init(&fake_ops);
	*state = &m;
	return (0);
}

static int
start(struct monitor *m)
{
	char *cause = NULL;
	struct monitors_evarg a = { .cause = &cause };
	int rc = monitors_feed(m, ME_START, &a);

	free(cause);
	return (rc);
}

static void
report(struct monitor *m, unsigned state, pid_t pid)
{
	struct fnwm_state_msg st;
	struct monitors_evarg a = { .st = &st };

	memset(&st, 0, sizeof st);
	st.state = state;
	st.pid = pid;
	(void)monitors_feed(m, ME_REPORT, &a);
}

static void
gone(struct monitor *m, int status)
{
	struct monitors_evarg a = { .status = status };

	(void)monitors_feed(m, ME_GONE, &a);
}

static int
sent(uint16_t type)
{
	int i, n = 0;

	for (i = 0; i < f.nsent && i < 16; i++)
		n += f.sent[i] == type;
	return (n);
}

static void
test_spawn_first_down_report_is_no_answer(void **state)
{
	struct monitor *m = *state;

	m->want_up = 1;
	assert_int_equal(start(m), 0);
	assert_int_equal(m->phase, MP_SPAWNED);
	assert_int_equal(f.spawns, 1);
	assert_int_equal(sent(FNWM_MSG_CMD_START), 1);
	assert_false(monitors_reported(m));
	/* "down" before it reads our commands: a kick, no news. */
	report(m, FNWM_WS_DOWN, 0);
	assert_int_equal(m->phase, MP_UP);
	assert_int_equal(f.announces, 0);
	assert_int_equal(f.kicks, 1);
	assert_false(m->have_st);
	assert_false(monitors_reported(m));
	report(m, FNWM_WS_STARTING, 77);
	assert_int_equal(f.announces, 1);
	assert_true(m->have_st);
	assert_true(monitors_reported(m));
	assert_int_equal(m->wpid, 77);
	/* The same again answers a waiting start, but is no news. */
	report(m, FNWM_WS_STARTING, 77);
	assert_int_equal(f.announces, 1);
	assert_int_equal(f.kicks, 3);
	/* A second start configures the running monitor, no second one. */
	assert_int_equal(start(m), 0);
	assert_int_equal(f.spawns, 1);
	assert_int_equal(f.launches, 2);
	assert_int_equal(m->phase, MP_UP);
}

static void
test_crash_replaced_until_limit(void **state)
{
	struct monitor *m = *state;
	int i;

	m->want_up = 1;
	(void)start(m);
	for (i = 0; i < MON_RESPAWN_MAX; i++) {
		gone(m, KILLED(SIGKILL));
		assert_int_equal(m->phase, MP_SPAWNED);
		assert_int_equal(f.spawns, i + 2);
	}
	gone(m, KILLED(SIGKILL));
	assert_int_equal(m->phase, MP_NONE);
	assert_int_equal(m->pid, 0);
	assert_int_equal(f.spawns, MON_RESPAWN_MAX + 1);
	assert_int_equal(f.gones, MON_RESPAWN_MAX + 1);
	assert_int_equal(f.releases, MON_RESPAWN_MAX + 1);
}

static void
test_clean_exit_or_shutdown_not_replaced(void **state)
{
	struct monitor *m = *state;

	m->want_up = 1;
	(void)start(m);
	gone(m, EXITED(FNWM_MON_EXIT_OK));
	assert_int_equal(m->phase, MP_NONE);
	assert_int_equal(f.spawns, 1);
	(void)start(m);
	f.shutting_down = 1;
	gone(m, KILLED(SIGSEGV));
	assert_int_equal(m->phase, MP_NONE);
	assert_int_equal(f.spawns, 2);
}

static void
test_told_to_exit_is_not_replaced(void **state)
{
	struct monitor *m = *state;

	m->want_up = 1;
	(void)start(m);
	/* Told before its first report: that report is still no answer. */
	assert_int_equal(monitors_feed(m, ME_EXIT, NULL), 0);
	assert_int_equal(m->phase, MP_EXIT_SPAWNED);
	assert_true(monitors_exiting(m));
	assert_int_equal(sent(FNWM_MSG_CMD_EXIT), 1);
	report(m, FNWM_WS_DOWN, 0);
	assert_int_equal(m->phase, MP_EXITING);
	assert_int_equal(f.announces, 0);
	report(m, FNWM_WS_STOPPING, 77);
	assert_int_equal(f.announces, 1);
	gone(m, KILLED(SIGKILL));
	assert_int_equal(m->phase, MP_NONE);
	assert_false(monitors_exiting(m));
	assert_int_equal(f.spawns, 1);
	/* Nothing to tell without a monitor. */
	assert_int_equal(monitors_feed(m, ME_EXIT, NULL), -1);
	assert_int_equal(m->phase, MP_NONE);
}

static void
test_adopted_keeps_what_it_was_doing(void **state)
{
	struct monitor *m = *state;
	unsigned gen;

	m->pid = 3000;
	gen = m->gen;
	(void)monitors_feed(m, ME_ATTACH, NULL);
	assert_int_equal(m->phase, MP_ADOPTED);
	assert_int_equal(m->gen, gen + 1);
	report(m, FNWM_WS_RUNNING, 88);
	assert_int_equal(m->phase, MP_UP);
	assert_true(m->want_up);
	assert_int_equal(f.announces, 1);
	assert_int_equal(f.nsent, 0);

	/* Idle, but its last .status says the worker was meant to run. */
	setup(state);
	m = *state;
	m->pid = 3001;
	f.meant_to_run = 1;
	(void)monitors_feed(m, ME_ATTACH, NULL);
	report(m, FNWM_WS_DOWN, 0);
	assert_int_equal(m->phase, MP_UP);
	assert_true(m->want_up);
	assert_int_equal(sent(FNWM_MSG_CMD_START), 1);
}

/*
 * A monitor we never heard from (adopted, or holding the lock) dies, its
 * worker dead too: whether one is started is what its .status said
 * (meant), as at start-up.
 */
static void
unheard_dies_worker_dead(void **state, enum monitors_event how, int meant)
{
	struct monitors_evarg a = { .holder = 4242 };
	struct monitor *m;

	setup(state);
	m = *state;
	m->pid = 3000;
	(void)monitors_feed(m, how, how == ME_LOCKED ? &a : NULL);
	f.meant_to_run = meant;
	gone(m, -1);
	assert_int_equal(m->want_up, meant);
	assert_int_equal(m->phase, meant ? MP_SPAWNED : MP_NONE);
	assert_int_equal(f.spawns, meant);
}

static void
test_adopted_gone_before_report(void **state)
{
	struct monitor *m = *state;

	/* Its worker lives and was not being stopped: it was meant to run. */
	m->pid = 3000;
	(void)monitors_feed(m, ME_ATTACH, NULL);
	f.run_lock = 1;
	gone(m, -1);
	assert_true(m->want_up);
	assert_int_equal(m->phase, MP_SPAWNED);
	assert_int_equal(f.spawns, 1);

	/* It was stopping its worker to exit: a new one finishes that. */
	setup(state);
	m = *state;
	m->pid = 3000;
	(void)monitors_feed(m, ME_ATTACH, NULL);
	f.run_lock = 1;
	f.was_exiting = 1;
	gone(m, -1);
	assert_false(m->want_up);
	assert_int_equal(m->phase, MP_EXIT_SPAWNED);
	assert_int_equal(sent(FNWM_MSG_CMD_EXIT), 1);

	/* Its worker is dead too (killed in backoff): its .status decides. */
	unheard_dies_worker_dead(state, ME_ATTACH, 1);
	unheard_dies_worker_dead(state, ME_ATTACH, 0);
}

/* The lock is held by a monitor that does not answer on its socket. */
static void
test_locked_monitor_watched_and_stopped(void **state)
{
	struct monitor *m = *state;
	struct monitors_evarg a = { .holder = 4242 };
	int i;

	m->want_up = 1;
	(void)monitors_feed(m, ME_LOCKED, &a);
	assert_int_equal(m->phase, MP_LOCKED);
	assert_int_equal(m->pid, 4242);
	assert_int_equal(m->tries, MON_LOCK_TRIES);
	assert_int_equal(f.retries_armed, 1);
	f.holder = 4242;
	for (i = 0; i < MON_LOCK_TRIES; i++)
		(void)monitors_feed(m, ME_RETRY, NULL);
	/* Never reached: still watched, never doubled by one of ours. */
	assert_int_equal(m->phase, MP_LOCKED);
	assert_int_equal(m->tries, 0);
	assert_int_equal(f.spawns, 0);
	assert_int_equal(f.connects, MON_LOCK_TRIES);
	assert_int_equal(start(m), -1);
	assert_int_equal(f.spawns, 0);
	/* A stop reaches it by signal: it stops its worker, then exits. */
	assert_int_equal(monitors_feed(m, ME_EXIT, NULL), 0);
	assert_int_equal(m->phase, MP_EXITING);
	assert_int_equal(f.nsignals, 1);
	assert_int_equal(f.signals[0], SIGTERM);
	gone(m, -1);
	assert_int_equal(m->phase, MP_NONE);
	assert_int_equal(f.spawns, 0);
}

static void
test_locked_monitor_reached_later(void **state)
{
	struct monitor *m = *state;
	struct monitors_evarg a = { .holder = 4242 };

	(void)monitors_feed(m, ME_LOCKED, &a);
	(void)monitors_feed(m, ME_RETRY, NULL);
	assert_int_equal(m->phase, MP_LOCKED);
	f.connect_ok = 1;
	f.holder = 4242;
	(void)monitors_feed(m, ME_RETRY, NULL);
	assert_int_equal(m->phase, MP_ADOPTED);
	assert_int_equal(m->pid, 4242);
	assert_int_equal(m->tries, 0);
	report(m, FNWM_WS_RUNNING, 99);
	assert_int_equal(m->phase, MP_UP);
	assert_true(m->want_up);
}

static void
test_locked_holder_dies_worker_adopted(void **state)
{
	struct monitor *m = *state;
	struct monitors_evarg a = { .holder = 4242 };

	m->want_up = 1;
	(void)monitors_feed(m, ME_LOCKED, &a);
	gone(m, -1);
	assert_int_equal(m->phase, MP_SPAWNED);
	assert_int_equal(f.spawns, 1);
	assert_int_equal(sent(FNWM_MSG_CMD_START), 1);

	/*
	 * Its worker was dead already (the holder was killed in backoff and
	 * still exiting at start-up): the .status it left decides.
	 */
	unheard_dies_worker_dead(state, ME_LOCKED, 1);
	unheard_dies_worker_dead(state, ME_LOCKED, 0);
}

/* Exit 101: our monitor found another holding the lock. */
static void
test_locked_out_spawn_reaches_holder(void **state)
{
	struct monitor *m = *state;

	m->want_up = 1;
	(void)start(m);
	f.holder = 4343;
	gone(m, EXITED(FNWM_MON_EXIT_LOCKED));
	assert_int_equal(m->phase, MP_LOCKED);
	assert_int_equal(m->pid, 4343);
	assert_int_equal(f.spawns, 1);
	f.connect_ok = 1;
	(void)monitors_feed(m, ME_REACH, NULL);
	assert_int_equal(m->phase, MP_ADOPTED);

	/* The lock is free by the next try: a monitor of ours adopts. */
	setup(state);
	m = *state;
	m->want_up = 1;
	(void)start(m);
	gone(m, EXITED(FNWM_MON_EXIT_LOCKED));
	assert_int_equal(m->phase, MP_LOCKED);
	assert_int_equal(m->pid, 0);
	f.lock_free = 1;
	(void)monitors_feed(m, ME_RETRY, NULL);
	assert_int_equal(m->phase, MP_SPAWNED);
	assert_int_equal(f.spawns, 2);
}

static void
test_start_failures(void **state)
{
	struct monitor *m = *state;

	f.launch_fail = 1;
	assert_int_equal(start(m), -1);
	assert_int_equal(m->phase, MP_NONE);
	f.launch_fail = 0;
	/* Its channel went with a death not handled yet: the replacement
	 * starts the worker, so an activation is not refused. */
	m->want_up = 1;
	(void)start(m);
	f.chan_gone = 1;
	assert_int_equal(start(m), 0);
	(void)monitors_feed(m, ME_EXIT, NULL);
	assert_int_equal(start(m), -1);
}

static void
test_detach_and_kill(void **state)
{
	struct monitor *m = *state;

	m->want_up = 1;
	(void)start(m);
	report(m, FNWM_WS_RUNNING, 77);
	(void)monitors_feed(m, ME_KILL, NULL);
	assert_int_equal(f.kills, 1);
	assert_int_equal(m->phase, MP_EXITING);
	(void)monitors_feed(m, ME_DETACH, NULL);
	assert_int_equal(m->phase, MP_NONE);
	assert_int_equal(m->pid, 0);
	assert_false(m->want_up);
	/* Without a monitor, a kill and a report are ignored. */
	(void)monitors_feed(m, ME_KILL, NULL);
	report(m, FNWM_WS_RUNNING, 77);
	assert_int_equal(f.kills, 1);
	assert_int_equal(m->phase, MP_NONE);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(
		    test_spawn_first_down_report_is_no_answer, setup),
		cmocka_unit_test_setup(test_crash_replaced_until_limit, setup),
		cmocka_unit_test_setup(test_clean_exit_or_shutdown_not_replaced,
		    setup),
		cmocka_unit_test_setup(test_told_to_exit_is_not_replaced,
		    setup),
		cmocka_unit_test_setup(test_adopted_keeps_what_it_was_doing,
		    setup),
		cmocka_unit_test_setup(test_adopted_gone_before_report, setup),
		cmocka_unit_test_setup(test_locked_monitor_watched_and_stopped,
		    setup),
		cmocka_unit_test_setup(test_locked_monitor_reached_later,
		    setup),
		cmocka_unit_test_setup(test_locked_holder_dies_worker_adopted,
		    setup),
		cmocka_unit_test_setup(test_locked_out_spawn_reaches_holder,
		    setup),
		cmocka_unit_test_setup(test_start_failures, setup),
		cmocka_unit_test_setup(test_detach_and_kill, setup),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
