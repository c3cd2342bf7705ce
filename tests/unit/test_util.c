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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_int),
		cmocka_unit_test(test_worker_id_valid),
		cmocka_unit_test(test_proc_alive),
		cmocka_unit_test(test_log_safe),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
