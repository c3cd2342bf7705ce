/* SPDX-License-Identifier: MIT */
/* Unit tests of the master's strict JSON parser (master/jsonparse.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "master.h"

static json_object *
parse(const char *s, size_t len)
{
	const char *err = NULL;
	json_object *o = fnwm_json_parse(s, len, &err);

	if (o == NULL)
		assert_non_null(err);
	return (o);
}

#define P(s) parse((s), sizeof(s) - 1)

static void
test_accepts_valid(void **state)
{
	json_object *o = P("{\"type\": \"set_active\", \"workerid\": \"x\"}");

	assert_non_null(o);
	assert_true(json_object_is_type(o, json_type_object));
	json_object_put(o);
	o = P("42");
	assert_non_null(o);
	assert_int_equal(json_object_get_int64(o), 42);
	json_object_put(o);
	o = P("{} \n");
	assert_non_null(o);
	json_object_put(o);
	o = P("[1.5, \"\\u00e9\"]");
	assert_non_null(o);
	json_object_put(o);
}

static void
test_rejects_what_json_c_accepts(void **state)
{
	assert_null(P("[NaN]"));
	assert_null(P("[Infinity]"));
	assert_null(P("{\"a\":1} xyz"));
	assert_null(P("{}{}"));
	assert_null(P("{\"a\":1}\0{}"));
	assert_null(P("[1,2,]"));
	assert_null(P("{\"a\":"));
	assert_null(P(""));
	assert_null(P("\"\xff\xfe\""));
	assert_null(P("[1e400]"));
}

static void
test_depth_limit(void **state)
{
	char deep[64];
	json_object *o;

	memset(deep, '[', 16);
	memset(deep + 16, ']', 16);
	o = parse(deep, 32);
	assert_non_null(o);
	json_object_put(o);
	memset(deep, '[', 17);
	memset(deep + 17, ']', 17);
	assert_null(parse(deep, 34));
}

static void
test_compact_output(void **state)
{
	json_object *o = P("{\"url\": \"ws://a/b\", \"x\": [1, 2]}");
	size_t len;
	const char *s = fnwm_json_str(o, &len);

	assert_string_equal(s, "{\"url\":\"ws://a/b\",\"x\":[1,2]}");
	assert_int_equal(len, strlen(s));
	json_object_put(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accepts_valid),
		cmocka_unit_test(test_rejects_what_json_c_accepts),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_compact_output),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
