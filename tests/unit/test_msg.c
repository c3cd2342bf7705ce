/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the frame codec (common/msg.c): every malformed class, and
 * every payload encoder through the decoder and back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "msg.h"

static size_t
frame(unsigned char *buf, uint16_t type, const void *p, size_t len)
{
	return (fnwm_msg_encode(buf, FNWM_MSG_MAX, type, 7, p, len));
}

static void
test_round_trip(void **state)
{
	unsigned char buf[FNWM_MSG_MAX];
	struct fnwm_stop_cmd sc = { 1000, 2000 };
	struct fnwm_msg msg;
	size_t n, used;

	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	assert_int_equal(n, sizeof(struct fnwm_msg_hdr) + sizeof sc);
	assert_int_equal(fnwm_msg_decode(buf, n, &msg, &used), 1);
	assert_int_equal(used, n);
	assert_int_equal(msg.hdr.type, FNWM_MSG_CMD_STOP);
	assert_int_equal(msg.hdr.seq, 7);
	assert_int_equal(msg.len, sizeof sc);
	assert_memory_equal(msg.payload, &sc, sizeof sc);
}

static void
test_needs_more(void **state)
{
	unsigned char buf[FNWM_MSG_MAX];
	struct fnwm_msg msg;
	size_t n, used, i;

	n = frame(buf, FNWM_MSG_CMD_START, NULL, 0);
	/* Every prefix, split header included, asks for more bytes. */
	for (i = 0; i < n; i++)
		assert_int_equal(fnwm_msg_decode(buf, i, &msg, &used), 0);
	assert_int_equal(fnwm_msg_decode(buf, n, &msg, &used), 1);
}

static void
expect_bad(unsigned char *buf, size_t n, int err)
{
	struct fnwm_msg msg;
	size_t used;

	errno = 0;
	assert_int_equal(fnwm_msg_decode(buf, n, &msg, &used), -1);
	assert_int_equal(errno, err);
}

static void
test_malformed(void **state)
{
	unsigned char buf[FNWM_MSG_MAX + 64];
	struct fnwm_msg_hdr *h = (struct fnwm_msg_hdr *)buf;
	struct fnwm_stop_cmd sc = { 1, 2 };
	size_t n;

	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->len = sizeof *h - 1; /* shorter than the header */
	expect_bad(buf, n, EBADMSG);

	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->len = FNWM_MSG_MAX + 1; /* too long: refused before reading it */
	expect_bad(buf, sizeof *h, ERANGE);

	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->version = FNWM_PROTO_VERSION + 1;
	expect_bad(buf, n, EPROTO);

	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->flags = 1;
	expect_bad(buf, n, EPROTO);

	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->type = 9999;
	expect_bad(buf, n, EPROTO);

	/* One byte short and one byte long for the type. */
	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->len -= 1;
	expect_bad(buf, n, EPROTO);
	n = frame(buf, FNWM_MSG_CMD_STOP, &sc, sizeof sc);
	h->len += 1;
	buf[n] = 0;
	expect_bad(buf, n + 1, EPROTO);
}

static void
test_strings(void **state)
{
	unsigned char buf[FNWM_MSG_MAX], payload[256];
	struct fnwm_config_msg c;
	struct fnwm_msg msg;
	size_t n, used, off = 0;
	const char *s;

	memset(&c, 0, sizeof c);
	c.argc = 1;
	memcpy(payload, &c, sizeof c);
	memcpy(payload + sizeof c, "/log\0/bin/true\0", 15);
	n = frame(buf, FNWM_MSG_CMD_CONFIG, payload, sizeof c + 15);
	assert_true(n > 0);
	assert_int_equal(fnwm_msg_decode(buf, n, &msg, &used), 1);
	s = fnwm_msg_string(&msg, &off);
	assert_string_equal(s, "/log");
	s = fnwm_msg_string(&msg, &off);
	assert_string_equal(s, "/bin/true");
	assert_null(fnwm_msg_string(&msg, &off));

	/* A trailing string without its NUL: refused both ways. */
	assert_int_equal(frame(buf, FNWM_MSG_CMD_CONFIG, payload,
	                     sizeof c + 14),
	    0);
	n = frame(buf, FNWM_MSG_CMD_CONFIG, payload, sizeof c + 15);
	buf[n - 1] = 'x';
	expect_bad(buf, n, EPROTO);
}

/* Decodes frame buf (n bytes); asserts its type and fixed part. */
static void
decode_as(const unsigned char *buf, size_t n, uint16_t type, const void *fixed,
    size_t fixedsz, struct fnwm_msg *msg)
{
	size_t used;

	assert_true(n > 0);
	assert_int_equal(fnwm_msg_decode(buf, n, msg, &used), 1);
	assert_int_equal(used, n);
	assert_int_equal(msg->hdr.type, type);
	assert_true(msg->len >= fixedsz);
	assert_memory_equal(msg->payload, fixed, fixedsz);
}

/* The strings after the fixed part are exactly want[0..count). */
static void
expect_strings(const struct fnwm_msg *msg, const char *const *want, int count)
{
	size_t off = 0;
	int i;

	for (i = 0; i < count; i++)
		assert_string_equal(fnwm_msg_string(msg, &off), want[i]);
	assert_null(fnwm_msg_string(msg, &off));
}

static void
test_hello_encoder(void **state)
{
	unsigned char buf[FNWM_MSG_MAX];
	struct fnwm_hello h, want;
	struct fnwm_msg msg;

	memset(&want, 0, sizeof want);
	want.pid = 4242;
	want.role = FNWM_ROLE_MONITOR;
	want.state = FNWM_WS_RUNNING;
	memset(&h, 0xa5, sizeof h);
	fnwm_msg_hello_init(&h, 4242, FNWM_ROLE_MONITOR, FNWM_WS_RUNNING);
	assert_memory_equal(&h, &want, sizeof h);
	decode_as(buf, frame(buf, FNWM_MSG_HELLO, &h, sizeof h), FNWM_MSG_HELLO,
	    &want, sizeof want, &msg);
}

static void
test_config_encoder(void **state)
{
	unsigned char payload[FNWM_MSG_MAX], buf[FNWM_MSG_MAX];
	static const char *const argv[] = { "/usr/bin/python3", "-m",
		"funcnodes", "worker", "--uuid", "u1", "start" };
	const char *strings[8] = { "/w/worker.log" };
	struct fnwm_config_msg c, want;
	struct fnwm_msg msg;
	char big[FNWM_MSG_MAX];
	size_t n;
	int i;

	memset(&c, 0, sizeof c);
	c.restart = FNWM_RESTART_ALWAYS;
	c.healthy_ms = 10000;
	c.limits = FNWM_LIMIT_NOFILE;
	c.nofile = 4096;
	c.argc = 99; /* set by the encoder from its argc */
	n = fnwm_msg_config_encode(payload, sizeof payload, &c, "/w/worker.log",
	    argv, 7);
	want = c;
	want.argc = 7;
	/* The layout: the struct, then the log and argv with their NULs. */
	assert_int_equal(n,
	    sizeof c + sizeof "/w/worker.log" + sizeof "/usr/bin/python3" + 3 +
	        10 + 7 + 7 + 3 + 6);
	for (i = 0; i < 7; i++)
		strings[i + 1] = argv[i];
	decode_as(buf, frame(buf, FNWM_MSG_CMD_CONFIG, payload, n),
	    FNWM_MSG_CMD_CONFIG, &want, sizeof want, &msg);
	expect_strings(&msg, strings, 8);

	/* Too long for one frame, too few or too many arguments: refused. */
	memset(big, 'a', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	assert_int_equal(fnwm_msg_config_encode(payload, sizeof payload, &c,
	                     big, argv, 7),
	    0);
	assert_int_equal(fnwm_msg_config_encode(payload, sizeof payload, &c,
	                     "/l", argv, 0),
	    0);
	assert_int_equal(fnwm_msg_config_encode(payload, sizeof payload, &c,
	                     "/l", argv, FNWM_ARGV_MAX + 1),
	    0);
	/* A buffer smaller than the payload: refused. */
	assert_int_equal(fnwm_msg_config_encode(payload, sizeof c + 5, &c,
	                     "/w/worker.log", argv, 7),
	    0);
}

static void
test_step_encoder(void **state)
{
	unsigned char payload[FNWM_MSG_MAX], buf[FNWM_MSG_MAX];
	static const char *const argv[] = { "/v/bin/python", "-m", "pip" };
	static const char *const env[] = { "A=1", "B=2" };
	static const char *const strings[] = { "/data", "/v/bin/python", "-m",
		"pip", "A=1", "B=2" };
	struct fnwm_step_cmd c, want;
	struct fnwm_msg msg;
	size_t n;

	memset(&c, 0, sizeof c);
	c.id = 3;
	c.timeout_ms = 600000;
	n = fnwm_msg_step_encode(payload, sizeof payload, &c, "/data", argv, 3,
	    env, 2);
	want = c;
	want.argc = 3;
	want.envc = 2;
	assert_int_equal(n, sizeof c + 6 + 14 + 3 + 4 + 4 + 4);
	decode_as(buf, frame(buf, FNWM_MSG_CMD_STEP, payload, n),
	    FNWM_MSG_CMD_STEP, &want, sizeof want, &msg);
	expect_strings(&msg, strings, 6);

	/* No environment at all is a step too. */
	n = fnwm_msg_step_encode(payload, sizeof payload, &c, "/data", argv, 3,
	    NULL, 0);
	want.envc = 0;
	decode_as(buf, frame(buf, FNWM_MSG_CMD_STEP, payload, n),
	    FNWM_MSG_CMD_STEP, &want, sizeof want, &msg);
	expect_strings(&msg, strings, 4);
	assert_int_equal(fnwm_msg_step_encode(payload, sizeof payload, &c,
	                     "/data", argv, 3, env, FNWM_ENV_MAX + 1),
	    0);
}

static void
test_step_done_encoder(void **state)
{
	unsigned char payload[FNWM_MSG_MAX], buf[FNWM_MSG_MAX];
	static const char *const strings[] = { "error: no | such package" };
	struct fnwm_step_done d;
	struct fnwm_msg msg;
	char big[FNWM_MSG_TEXT_MAX + 1];
	size_t n;

	memset(&d, 0, sizeof d);
	d.id = 9;
	d.code = 1;
	d.elapsed_ms = 1500;
	d.timed_out = 1;
	n = fnwm_msg_step_done_encode(payload, sizeof payload, &d, strings[0]);
	assert_int_equal(n, sizeof d + strlen(strings[0]) + 1);
	decode_as(buf, frame(buf, FNWM_MSG_MON_STEP, payload, n),
	    FNWM_MSG_MON_STEP, &d, sizeof d, &msg);
	expect_strings(&msg, strings, 1);

	/* An empty summary is one NUL; the longest one fills the rule. */
	n = fnwm_msg_step_done_encode(payload, sizeof payload, &d, "");
	assert_int_equal(n, sizeof d + 1);
	assert_true(frame(buf, FNWM_MSG_MON_STEP, payload, n) > 0);
	memset(big, 'x', sizeof big);
	big[FNWM_MSG_TEXT_MAX - 1] = '\0';
	n = fnwm_msg_step_done_encode(payload, sizeof payload, &d, big);
	assert_int_equal(n, sizeof d + FNWM_MSG_TEXT_MAX);
	assert_true(frame(buf, FNWM_MSG_MON_STEP, payload, n) > 0);
	big[FNWM_MSG_TEXT_MAX - 1] = 'x';
	big[FNWM_MSG_TEXT_MAX] = '\0';
	assert_int_equal(fnwm_msg_step_done_encode(payload, sizeof payload, &d,
	                     big),
	    0);
}

static void
test_back_to_back(void **state)
{
	static unsigned char buf[10000 * 16];
	struct fnwm_msg msg;
	size_t n = 0, off = 0, used;
	int i, count = 0;

	for (i = 0; i < 10000; i++)
		n += fnwm_msg_encode(buf + n, sizeof buf - n,
		    FNWM_MSG_CMD_START, (uint32_t)i, NULL, 0);
	while (fnwm_msg_decode(buf + off, n - off, &msg, &used) == 1) {
		assert_int_equal(msg.hdr.seq, (uint32_t)count);
		off += used;
		count++;
	}
	assert_int_equal(count, 10000);
	assert_int_equal(off, n);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_needs_more),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_strings),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_hello_encoder),
		cmocka_unit_test(test_config_encoder),
		cmocka_unit_test(test_step_encoder),
		cmocka_unit_test(test_step_done_encoder),
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
