/* SPDX-License-Identifier: MIT */
/* Unit tests of common/util.c and log_safe(). */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "util.h"

static void
test_parse_int(void **state)
{
	long long v;

	assert_int_equal(fnwm_parse_int("41877", 1, 100000, &v), 0);
	assert_int_equal(v, 41877);
	assert_int_equal(fnwm_parse_int("  12\n", 1, 100, &v), 0);
	assert_int_equal(v, 12);
	assert_int_equal(fnwm_parse_int("12abc", 1, 100, &v), -1);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(fnwm_parse_int("", 1, 100, &v), -1);
	assert_int_equal(fnwm_parse_int("{\"cmd\": \"stop\"}", 1, 100, &v), -1);
	assert_int_equal(fnwm_parse_int("101", 1, 100, &v), -1);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(fnwm_parse_int("99999999999999999999", 1, 100, &v),
	    -1);
	assert_int_equal(errno, ERANGE);
}

static void
test_worker_id_valid(void **state)
{
	static const char *good[] = { "15e84e74d25446cdafc9339e8a437e73",
		"my-demo_3f2a9c0e1b7d4a55", "a.b", "A-Z_0.9", "_x" };
	static const char *bad[] = { "", ".hidden", "..", "../etc", "a/b",
		"a b", "a\\b", "\xc3\xa9t\xc3\xa9", "a\nb" };
	char longid[200];
	size_t i;

	for (i = 0; i < sizeof good / sizeof *good; i++)
		assert_true(fnwm_worker_id_valid(good[i], strlen(good[i])));
	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_false(fnwm_worker_id_valid(bad[i], strlen(bad[i])));
	memset(longid, 'a', sizeof longid);
	assert_true(fnwm_worker_id_valid(longid, 128));
	assert_false(fnwm_worker_id_valid(longid, 129));
	/* An embedded NUL never passes. */
	assert_false(fnwm_worker_id_valid("ab\0c", 4));
}

static void
test_proc_alive(void **state)
{
	unsigned long long start = 0;
	pid_t pid;
	int status;

	assert_int_equal(fnwm_proc_alive(getpid(), &start), 1);
	assert_true(start > 0);
	assert_int_equal(fnwm_proc_alive(0, NULL), 0);
	pid = fork();
	if (pid == 0)
		_exit(0);
	/* Wait until it is a zombie: a zombie counts as gone. */
	siginfo_t si;

	assert_int_equal(waitid(P_PID, (id_t)pid, &si, WEXITED | WNOWAIT), 0);
	assert_int_equal(fnwm_proc_alive(pid, NULL), 0);
	waitpid(pid, &status, 0);
	assert_int_equal(fnwm_proc_alive(pid, NULL), 0);
}

static void
test_log_safe(void **state)
{
	char buf[16];

	assert_string_equal(log_safe(buf, sizeof buf, "abc", 3), "abc");
	assert_string_equal(log_safe(buf, sizeof buf, "a\nb\x01", 4),
	    "a\\012b\\001");
	/* Too long: cut with "...", always terminated. */
	assert_string_equal(log_safe(buf, sizeof buf, "0123456789abcdefgh", 18),
	    "0123456789ab...");
	assert_true(strlen(buf) < sizeof buf);
}

static void
test_log_utc(void **state)
{
	struct tm want, got;
	time_t t;

	/* Leap years, centuries, before 1970: day by day and then some. */
	for (t = -2208988800LL; t < 4102444800LL; t += 86399 * 3 + 7) {
		memset(&got, 0, sizeof got);
		assert_non_null(gmtime_r(&t, &want));
		log_utc(t, &got);
		assert_int_equal(got.tm_year, want.tm_year);
		assert_int_equal(got.tm_mon, want.tm_mon);
		assert_int_equal(got.tm_mday, want.tm_mday);
		assert_int_equal(got.tm_hour, want.tm_hour);
		assert_int_equal(got.tm_min, want.tm_min);
		assert_int_equal(got.tm_sec, want.tm_sec);
	}
}

static void
on_usr2(int sig)
{
}

/* A child resets exactly the signals its parent took, and its mask. */
static void
test_child_reset_taken(void **state)
{
	struct sigaction sa, old1, old2;
	sigset_t taken, block;
	pid_t pid;
	int st;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	assert_int_equal(sigaction(SIGUSR1, &sa, &old1), 0);
	sa.sa_handler = on_usr2;
	assert_int_equal(sigaction(SIGUSR2, &sa, &old2), 0);
	fnwm_signals_taken(&taken);
	assert_int_equal(sigismember(&taken, SIGUSR1), 1);
	assert_int_equal(sigismember(&taken, SIGUSR2), 1);
	assert_int_equal(sigismember(&taken, SIGWINCH), 0);
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	assert_int_equal(sigprocmask(SIG_BLOCK, &block, NULL), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		struct sigaction now;
		sigset_t mask;

		fnwm_child_reset_taken(&taken);
		if (sigaction(SIGUSR1, NULL, &now) == -1 ||
		    now.sa_handler != SIG_DFL)
			_exit(1);
		if (sigaction(SIGUSR2, NULL, &now) == -1 ||
		    now.sa_handler != SIG_DFL)
			_exit(2);
		if (sigprocmask(SIG_SETMASK, NULL, &mask) == -1 ||
		    sigismember(&mask, SIGTERM))
			_exit(3);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(sigprocmask(SIG_UNBLOCK, &block, NULL), 0);
	assert_int_equal(sigaction(SIGUSR1, &old1, NULL), 0);
	assert_int_equal(sigaction(SIGUSR2, &old2, NULL), 0);
}

static void
test_log_rate(void **state)
{
	struct log_rate r = { 0, 0, 0 };
	unsigned long skipped = 99;
	int i;

	assert_true(log_rate_ok(&r, 2, &skipped));
	assert_int_equal(skipped, 0);
	assert_true(log_rate_ok(&r, 2, &skipped));
	for (i = 0; i < 5; i++)
		assert_false(log_rate_ok(&r, 2, &skipped));
	/* The next window: the lines not logged are told. */
	fnwm_sleep_ms(1010);
	assert_true(log_rate_ok(&r, 2, &skipped));
	assert_int_equal(skipped, 5);
	assert_true(log_rate_ok(&r, 2, &skipped));
	assert_int_equal(skipped, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_worker_id_valid),
		cmocka_unit_test(test_proc_alive),
		cmocka_unit_test(test_log_safe),
		cmocka_unit_test(test_log_rate),
		cmocka_unit_test(test_log_utc),
		cmocka_unit_test(test_child_reset_taken),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
