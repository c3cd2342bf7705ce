/* SPDX-License-Identifier: MIT */
/* Unit tests of the dependency check (master/pep508.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "master.h"

static void
test_requirements(void **state)
{
	static const char *const ok[] = { "funcnodes", "a", "fnwm_testdep",
		"funcnodes-core>=0.3", "numpy==1.26.*", "pkg ~= 1.4.2",
		"pkg (>=1.0, <2)", "requests[security,socks]>=2.8.1,==2.8.*",
		"pkg; python_version < \"3.12\"",
		"pkg>=1 ; sys_platform == 'linux' and (os_name == 'posix' or "
		"extra == 'x')",
		"pkg[]", "pkg===1.0+local", NULL };
	static const char *const bad[] = { "", "-r", "--index-url=http://x",
		"-e .", "./local", "/abs/path.whl", "../x",
		"https://example.org/p.whl", "git+https://x/y.git",
		"pkg @ https://example.org/p.whl", "pkg==1 --hash=sha256:00",
		"pkg; evil", "pkg; os_name == 'x' ; y", "pkg==", "pkg>=1,",
		"pkg[x", "a-", "pkg\n--index-url=x", "pkg; os_name ==", NULL };
	int i;

	for (i = 0; ok[i] != NULL; i++)
		if (!pep508_valid(ok[i], 0))
			fail_msg("refused %s", ok[i]);
	for (i = 0; bad[i] != NULL; i++)
		if (pep508_valid(bad[i], 0))
			fail_msg("accepted %s", bad[i]);
}

static void
test_direct_references(void **state)
{
	assert_true(pep508_valid("pkg @ https://example.org/p.whl", 1));
	assert_true(pep508_valid("https://example.org/p.whl", 1));
	assert_true(pep508_valid("./local", 1));
	/* Options stay refused. */
	assert_false(pep508_valid("--index-url=http://x", 1));
	assert_false(pep508_valid("-e .", 1));
	assert_false(pep508_valid("pkg @ --index-url=x", 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_requirements),
		cmocka_unit_test(test_direct_references),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
