/* SPDX-License-Identifier: MIT */
/* Unit tests of the restart policy (monitor/policy.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy.h"
#include "proto.h"

static void
test_clean_exit_and_never(void **state)
{
	struct policy_cfg c;
	struct policy_state s = { 0 };
	uint32_t d;

	policy_defaults(&c);
	policy_reset(&c, &s);
	assert_int_equal(policy_on_exit(&c, &s, 1000, 50000, 0, 0, &d),
	    POLICY_DOWN);
	assert_int_equal(s.restarts, 0);
	c.mode = FNWM_RESTART_ALWAYS;
	assert_int_equal(policy_on_exit(&c, &s, 1000, 50000, 0, 0, &d),
	    POLICY_RESTART_NOW);
	c.mode = FNWM_RESTART_NEVER;
	assert_int_equal(policy_on_exit(&c, &s, 1000, 50000, 1, 0, &d),
	    POLICY_DOWN);
}

static void
test_backoff_doubles_to_cap_then_resets(void **state)
{
	struct policy_cfg c;
	struct policy_state s = { 0 };
	uint32_t d, want = 500;
	uint64_t now = 0;
	int i;

	policy_defaults(&c);
	c.giveup_count = 0; /* never give up, to see the cap */
	policy_reset(&c, &s);
	for (i = 0; i < 10; i++) {
		now += 100000;
		assert_int_equal(policy_on_exit(&c, &s, now, 100, 1, 0, &d),
		    POLICY_BACKOFF);
		assert_int_equal(d, want);
		want = want * 2 > 60000 ? 60000 : want * 2;
	}
	assert_int_equal(d, 60000);
	/* A healthy run resets the backoff and restarts at once. */
	assert_int_equal(policy_on_exit(&c, &s, now + 1, 10000, 0, 9, &d),
	    POLICY_RESTART_NOW);
	assert_int_equal(d, 0);
	assert_int_equal(policy_on_exit(&c, &s, now + 2, 10, 1, 0, &d),
	    POLICY_BACKOFF);
	assert_int_equal(d, 500);
	assert_int_equal(s.restarts, 12);
}

static void
test_gives_up_after_k_in_window(void **state)
{
	struct policy_cfg c;
	struct policy_state s = { 0 };
	uint32_t d;
	uint64_t t = 1000000;

	policy_defaults(&c); /* 5 deaths in 60 s */
	policy_reset(&c, &s);
	assert_int_equal(policy_on_exit(&c, &s, t, 10, 1, 0, &d),
	    POLICY_BACKOFF);
	assert_int_equal(policy_on_exit(&c, &s, t + 1000, 10, 1, 0, &d),
	    POLICY_BACKOFF);
	assert_int_equal(policy_on_exit(&c, &s, t + 2000, 10, 1, 0, &d),
	    POLICY_BACKOFF);
	assert_int_equal(policy_on_exit(&c, &s, t + 3000, 10, 1, 0, &d),
	    POLICY_BACKOFF);
	assert_int_equal(policy_on_exit(&c, &s, t + 4000, 10, 1, 0, &d),
	    POLICY_GIVE_UP);

	/* Deaths spread wider than the window never give up. */
	policy_reset(&c, &s);
	for (t = 0; t < 20; t++)
		assert_int_not_equal(policy_on_exit(&c, &s, t * 61000, 20000, 1,
		                         0, &d),
		    POLICY_GIVE_UP);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clean_exit_and_never),
		cmocka_unit_test(test_backoff_doubles_to_cap_then_resets),
		cmocka_unit_test(test_gives_up_after_k_in_window),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
