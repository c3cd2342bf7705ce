/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the monitor's event loop (monitor/loop.c) with real fds,
 * real children and real signals.
 */
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "loop.h"

static struct loop L;
static int calls[8];
static char order[16];
static size_t norder;

static int
setup(void **state)
{
	memset(calls, 0, sizeof calls);
	norder = 0;
	memset(order, 0, sizeof order);
	assert_int_equal(loop_init(&L), 0);
	return (0);
}

static int
teardown(void **state)
{
	loop_free(&L);
	return (0);
}

/* A timer that ends the run, so a test that hangs fails instead. */
static void
deadline_cb(struct loop *l, struct loop_timer *t)
{
	calls[7]++;
	loop_break(l);
}

static void
run_with_deadline(uint64_t ms)
{
	static struct loop_timer deadline;

	loop_timer_init(&deadline, deadline_cb, NULL);
	loop_timer_start(&L, &deadline, ms);
	L.broken = 0;
	assert_int_equal(loop_run(&L), 0);
	loop_timer_stop(&L, &deadline);
}

static void
read_cb(struct loop *l, struct loop_io *io, int revents)
{
	char c;

	assert_true(revents & LOOP_READ);
	assert_int_equal(read(io->fd, &c, 1), 1);
	calls[0]++;
	loop_io_stop(l, io);
	loop_break(l);
}

static void
test_io_readable(void **state)
{
	struct loop_io io;
	int p[2];

	assert_int_equal(pipe(p), 0);
	loop_io_init(&io, read_cb, NULL);
	assert_int_equal(loop_io_start(&L, &io, p[0], LOOP_READ), 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	run_with_deadline(5000);
	assert_int_equal(calls[0], 1);
	assert_int_equal(calls[7], 0);
	assert_int_equal(io.events, 0);
	close(p[0]);
	close(p[1]);
}

/* Started for no events, a watcher is stopped: it is never called. */
static void
test_io_no_events_stops(void **state)
{
	struct loop_io io;
	int p[2];

	assert_int_equal(pipe(p), 0);
	loop_io_init(&io, read_cb, NULL);
	assert_int_equal(loop_io_start(&L, &io, p[0], LOOP_READ), 0);
	assert_int_equal(loop_io_start(&L, &io, p[0], 0), 0);
	assert_int_equal(io.events, 0);
	assert_int_equal(write(p[1], "x", 1), 1);
	run_with_deadline(100);
	assert_int_equal(calls[0], 0);
	assert_int_equal(calls[7], 1);
	close(p[0]);
	close(p[1]);
}

/* Each stops the other: of two ready in one batch, one is called. */
static struct loop_io pair_io[2];

static void
pair_cb(struct loop *l, struct loop_io *io, int revents)
{
	int i = io == &pair_io[0] ? 0 : 1;

	calls[i]++;
	loop_io_stop(l, &pair_io[1 - i]);
	loop_io_stop(l, io);
}

static void
test_stopped_in_batch_not_called(void **state)
{
	int a[2], b[2];

	assert_int_equal(pipe(a), 0);
	assert_int_equal(pipe(b), 0);
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	loop_io_init(&pair_io[0], pair_cb, NULL);
	loop_io_init(&pair_io[1], pair_cb, NULL);
	assert_int_equal(loop_io_start(&L, &pair_io[0], a[0], LOOP_READ), 0);
	assert_int_equal(loop_io_start(&L, &pair_io[1], b[0], LOOP_READ), 0);
	run_with_deadline(200);
	assert_int_equal(calls[0] + calls[1], 1);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

/* An fd closed while watched and its number reused: watching works. */
static void
test_fd_number_reused(void **state)
{
	struct loop_io io;
	int p[2], q[2];

	assert_int_equal(pipe(p), 0);
	loop_io_init(&io, read_cb, NULL);
	assert_int_equal(loop_io_start(&L, &io, p[0], LOOP_READ), 0);
	close(p[0]);
	close(p[1]);
	assert_int_equal(pipe(q), 0);
	assert_int_equal(q[0], p[0]);
	assert_int_equal(loop_io_start(&L, &io, q[0], LOOP_READ), 0);
	assert_int_equal(write(q[1], "y", 1), 1);
	run_with_deadline(5000);
	assert_int_equal(calls[0], 1);
	close(q[0]);
	close(q[1]);
}

static void
order_cb(struct loop *l, struct loop_timer *t)
{
	order[norder++] = *(char *)t->data;
	if (norder == 3)
		loop_break(l);
}

static void
test_timers_in_order_stop_and_move(void **state)
{
	static char names[] = "abcd";
	struct loop_timer a, b, c, d;
	uint64_t t0 = loop_now_ms();

	loop_timer_init(&a, order_cb, names + 0);
	loop_timer_init(&b, order_cb, names + 1);
	loop_timer_init(&c, order_cb, names + 2);
	loop_timer_init(&d, order_cb, names + 3);
	loop_timer_start(&L, &c, 60);
	loop_timer_start(&L, &a, 5);
	loop_timer_start(&L, &b, 500);
	loop_timer_start(&L, &d, 10);
	loop_timer_stop(&L, &d);      /* never fires */
	loop_timer_start(&L, &b, 30); /* moved earlier */
	run_with_deadline(5000);
	assert_string_equal(order, "abc");
	/* No timer fires early. */
	assert_true(loop_now_ms() - t0 >= 60);
	assert_false(d.active);
}

static void
child_cb(struct loop *l, struct loop_child *c, int status)
{
	assert_true(WIFEXITED(status));
	calls[0] = WEXITSTATUS(status);
	assert_false(c->active);
	loop_break(l);
}

static void
test_child_exit_and_unwatched_reaped(void **state)
{
	struct loop_child c;
	pid_t watched, other;

	other = fork();
	assert_true(other >= 0);
	if (other == 0)
		_exit(3);
	watched = fork();
	assert_true(watched >= 0);
	if (watched == 0) {
		usleep(50000);
		_exit(7);
	}
	loop_child_init(&c, child_cb, NULL);
	loop_child_start(&L, &c, watched);
	run_with_deadline(5000);
	assert_int_equal(calls[0], 7);
	/* The one nobody watched is reaped too: no zombie is left. */
	assert_int_equal(waitpid(other, NULL, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static void
signal_cb(struct loop *l, int signo, void *data)
{
	assert_int_equal(signo, SIGUSR1);
	calls[0]++;
	loop_break(l);
}

static void
test_signal_through_loop(void **state)
{
	sigset_t cur;

	assert_int_equal(loop_signal(&L, SIGUSR1, signal_cb, NULL), 0);
	assert_int_equal(loop_signal(&L, SIGCHLD, signal_cb, NULL), -1);
	/* Blocked while the loop has it: its default would end us. */
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	assert_true(sigismember(&cur, SIGUSR1));
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	run_with_deadline(5000);
	assert_int_equal(calls[0], 1);
	assert_int_equal(calls[7], 0);
}

static void
test_free_unblocks(void **state)
{
	sigset_t cur;

	assert_int_equal(loop_signal(&L, SIGUSR2, signal_cb, NULL), 0);
	loop_free(&L);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	assert_false(sigismember(&cur, SIGUSR2));
	assert_false(sigismember(&cur, SIGCHLD));
	assert_int_equal(loop_init(&L), 0); /* for teardown */
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_io_readable, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_io_no_events_stops, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_stopped_in_batch_not_called, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fd_number_reused, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(
		    test_timers_in_order_stop_and_move, setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_child_exit_and_unwatched_reaped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_through_loop, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_free_unblocks, setup,
		    teardown),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
