/* SPDX-License-Identifier: MIT */
/* Unit tests of common/status.c, the worker_<uuid>.status codec. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "status.h"

static struct fnwm_exit_rec
rec(uint64_t at, int32_t status, uint32_t ran, uint16_t reason)
{
	struct fnwm_exit_rec r;

	memset(&r, 0, sizeof r);
	r.at_ms = at;
	r.status = status;
	r.ran_ms = ran;
	r.reason = reason;
	return (r);
}

static void
test_round_trip(void **state)
{
	struct fnwm_status a, b;
	struct fnwm_exit_rec r;
	char buf[FNWM_STATUS_MAX];
	int n;

	fnwm_status_init(&a);
	a.state = FNWM_WS_BACKOFF;
	a.pid = 0;
	a.monitor = 4242;
	a.restarts = 3;
	a.last_exit = -9;
	a.since_ms = 1733456789123ULL;
	r = rec(1733456789000ULL, -9, 5012, FNWM_EXIT_CRASH);
	fnwm_status_add_exit(&a, &r);
	r = rec(1733456790000ULL, FNWM_EXIT_UNKNOWN, 10, FNWM_EXIT_STOP);
	fnwm_status_add_exit(&a, &r);
	r = rec(1733456791000ULL, 7, 0, FNWM_EXIT_GAVE_UP);
	fnwm_status_add_exit(&a, &r);
	n = fnwm_status_encode(&a, buf, sizeof buf);
	assert_true(n > 0);
	assert_non_null(strstr(buf, "state=backoff\n"));
	assert_non_null(
	    strstr(buf, "exit=1733456789000 signal:9 5012 crash\n"));
	assert_non_null(strstr(buf, "exit=1733456790000 unknown 10 stop\n"));
	assert_non_null(strstr(buf, "exits_gave_up=1\n"));
	assert_int_equal(fnwm_status_decode(buf, (size_t)n, &b), 0);
	assert_int_equal(b.state, FNWM_WS_BACKOFF);
	assert_int_equal(b.monitor, 4242);
	assert_int_equal(b.restarts, 3);
	assert_int_equal(b.last_exit, -9);
	assert_true(b.since_ms == a.since_ms);
	assert_int_equal(b.nhist, 3);
	assert_memory_equal(b.hist, a.hist, 3 * sizeof a.hist[0]);
	assert_memory_equal(b.totals, a.totals, sizeof a.totals);
}

static void
test_keeps_the_last_twenty(void **state)
{
	struct fnwm_status a, b;
	struct fnwm_exit_rec r;
	char buf[FNWM_STATUS_MAX];
	unsigned i;
	int n;

	fnwm_status_init(&a);
	a.state = FNWM_WS_RUNNING;
	for (i = 0; i < 30; i++) {
		r = rec(1000 + i, 1, i, FNWM_EXIT_CRASH);
		fnwm_status_add_exit(&a, &r);
	}
	assert_int_equal(a.nhist, FNWM_HISTORY_MAX);
	assert_true(a.hist[0].at_ms == 1010 && a.hist[19].at_ms == 1029);
	assert_int_equal(a.totals[FNWM_EXIT_CRASH], 30);
	n = fnwm_status_encode(&a, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(fnwm_status_decode(buf, (size_t)n, &b), 0);
	assert_int_equal(b.nhist, FNWM_HISTORY_MAX);
	assert_true(b.hist[0].at_ms == 1010);
	assert_int_equal(b.totals[FNWM_EXIT_CRASH], 30);
}

static void
test_version_1_file(void **state)
{
	static const char v1[] = "version=1\nstate=running\npid=12\nadopted=0\n"
	                         "monitor=11\nrestarts=0\nlast_exit=0\n"
	                         "since=1\nexiting=0\n";
	struct fnwm_status s;

	assert_int_equal(fnwm_status_decode(v1, strlen(v1), &s), 0);
	assert_int_equal(s.state, FNWM_WS_RUNNING);
	assert_int_equal(s.pid, 12);
	assert_int_equal(s.nhist, 0);
}

static void
test_hostile_files(void **state)
{
	static const char *const bad[] = {
		"",                                /* no state */
		"state=sleeping\n",                /* unknown state */
		"state=down\nno equals sign\n",    /* not key=value */
		"state=down\npid=-4\n",            /* out of range */
		"state=down\nexit=1 status:1 2\n", /* a field short */
		"state=down\nexit=1 status:1 2 crash extra\n",
		"state=down\nexit=1 status:300 2 crash\n",
		"state=down\nexit=1 signal:0 2 crash\n",
		"state=down\nexit=1 status:1 2 boredom\n",
		"state=down\nexit=x status:1 2 crash\n",
		"state=down\nexits_crash=-1\n",
		"state=down\nexiting=2\n",
	};
	struct fnwm_status s;
	char big[FNWM_STATUS_MAX + 2], line[300];
	size_t i;

	for (i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_int_equal(fnwm_status_decode(bad[i], strlen(bad[i]), &s),
		    -1);
	/* An embedded NUL, an overlong line, an oversized file. */
	assert_int_equal(fnwm_status_decode("state=down\0\n", 12, &s), -1);
	memset(line, 'a', sizeof line);
	memcpy(line, "state=", 6);
	assert_int_equal(fnwm_status_decode(line, sizeof line, &s), -1);
	memset(big, '\n', sizeof big);
	memcpy(big, "state=down\n", 11);
	assert_int_equal(fnwm_status_decode(big, sizeof big, &s), -1);
	/* Unknown keys of later versions are skipped. */
	assert_int_equal(fnwm_status_decode("state=down\nfuture=1\n", 20, &s),
	    0);
}

static void
test_encode_does_not_overflow(void **state)
{
	struct fnwm_status a;
	char small[64];

	fnwm_status_init(&a);
	a.state = FNWM_WS_DOWN;
	assert_int_equal(fnwm_status_encode(&a, small, sizeof small), -1);
}

static void
test_describe(void **state)
{
	char buf[64];

	fnwm_exit_describe(1, buf, sizeof buf);
	assert_string_equal(buf, "status 1");
	fnwm_exit_describe(-15, buf, sizeof buf);
	assert_string_equal(buf, "signal 15");
	fnwm_exit_describe(FNWM_EXIT_UNKNOWN, buf, sizeof buf);
	assert_string_equal(buf, "exit status unknown (adopted)");
	assert_string_equal(fnwm_exit_reason_name(FNWM_EXIT_GAVE_UP),
	    "gave-up");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_keeps_the_last_twenty),
		cmocka_unit_test(test_version_1_file),
		cmocka_unit_test(test_hostile_files),
		cmocka_unit_test(test_encode_does_not_overflow),
		cmocka_unit_test(test_describe),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
