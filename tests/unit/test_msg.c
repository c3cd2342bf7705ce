/* SPDX-License-Identifier: MIT */
/* Unit tests of the frame codec (common/msg.c): every malformed class. */
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
	};

	return (cmocka_run_group_tests(tests, NULL, NULL));
}
