/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the channel's write side (common/chan.c) over a real
 * socketpair: frames written at once and frames queued behind a full
 * socket arrive whole and in order, and a closed peer closes the channel.
 * The test is the channel's owner: it keeps what the channel asks to
 * watch and calls fnwm_chan_ready as a loop would.
 */
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "chan.h"

#define NFRAMES 2000

struct peer {
	int closed, err;
};

/* What the channel asked its owner to watch, last. */
static int watched_fd = -1, watched = -1;

static void
on_watch(struct fnwm_chan *ch, int fd, int events)
{
	watched_fd = fd;
	watched = events;
}

static void
on_msg(struct fnwm_chan *ch, const struct fnwm_msg *msg, void *arg)
{
}

static void
on_close(struct fnwm_chan *ch, int err, void *arg)
{
	struct peer *p = arg;

	p->closed = 1;
	p->err = err;
}

/* A socketpair with small buffers: the sender fills it quickly. */
static void
small_pair(int sv[2])
{
	int sz = 4096;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sz,
	                     sizeof sz),
	    0);
	assert_int_equal(setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &sz,
	                     sizeof sz),
	    0);
	assert_int_equal(fcntl(sv[1], F_SETFL, O_NONBLOCK), 0);
}

/* Reads what the channel sends until want bytes came; returns them. */
static size_t
drain(struct fnwm_chan *ch, int fd, unsigned char *buf, size_t want)
{
	size_t got = 0;
	ssize_t n;
	int idle = 0;

	while (got < want && idle < 100000) {
		n = read(fd, buf + got, want - got);
		if (n > 0) {
			got += (size_t)n;
			idle = 0;
			continue;
		}
		assert_true(n == -1 && errno == EAGAIN);
		/* Our socket has room: the loop would say so if asked. */
		if (watched & FNWM_CHAN_WRITE)
			fnwm_chan_ready(ch, FNWM_CHAN_WRITE);
		idle++;
	}
	return (got);
}

static void
check_frames(const unsigned char *buf, size_t len, int first, int count,
    size_t big)
{
	struct fnwm_msg msg;
	char want[64];
	size_t off = 0, used;
	int i;

	for (i = first; i < first + count; i++) {
		assert_int_equal(fnwm_msg_decode(buf + off, len - off, &msg,
		                     &used),
		    1);
		assert_int_equal(msg.hdr.type, FNWM_MSG_ERROR);
		assert_int_equal(msg.hdr.seq, (uint32_t)i);
		if (big != 0 && i % 7 == 0) {
			assert_int_equal(msg.len, big);
		} else {
			snprintf(want, sizeof want, "frame %d", i);
			assert_string_equal((const char *)msg.payload, want);
		}
		off += used;
	}
	assert_int_equal(off, len);
}

/*
 * Small frames (written at once while nothing is queued) and large ones
 * (always through the buffer), mixed, into a socket that fills up: every
 * frame arrives once, whole and in order.
 */
static void
test_all_frames_arrive(void **state)
{
	static struct fnwm_chan ch;
	static unsigned char rx[NFRAMES * 600];
	char text[64], big[500];
	struct peer p = { 0, 0 };
	size_t total = 0, n, direct_while_empty = 0;
	int sv[2], i, queued = 0;

	small_pair(sv);
	fnwm_chan_init(&ch, sv[0], on_watch, on_msg, on_close, &p);
	assert_int_equal(watched_fd, sv[0]);
	assert_int_equal(watched, FNWM_CHAN_READ);
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = '\0';
	for (i = 1; i <= NFRAMES / 4; i++) {
		size_t before = ch.wlen;

		if (i % 7 == 0) {
			n = sizeof big;
			assert_int_equal(fnwm_chan_send(&ch, FNWM_MSG_ERROR,
			                     big, n),
			    0);
		} else {
			snprintf(text, sizeof text, "frame %d", i);
			n = strlen(text) + 1;
			assert_int_equal(fnwm_chan_send(&ch, FNWM_MSG_ERROR,
			                     text, n),
			    0);
			if (before == 0)
				direct_while_empty++;
		}
		total += sizeof(struct fnwm_msg_hdr) + n;
		if (ch.wlen > 0) {
			queued = 1;
			assert_true(watched & FNWM_CHAN_WRITE);
		}
	}
	assert_true(queued);
	assert_true(direct_while_empty > 0);
	assert_int_equal(drain(&ch, sv[1], rx, total), total);
	check_frames(rx, total, 1, NFRAMES / 4, sizeof big);
	assert_int_equal(ch.wlen, 0);
	assert_int_equal(watched, FNWM_CHAN_READ); /* nothing left to write */
	assert_false(p.closed);
	fnwm_chan_close(&ch);
	assert_int_equal(watched, 0);
	close(sv[1]);
}

/* A peer that went away: the send fails and the owner hears EPIPE. */
static void
test_closed_peer(void **state)
{
	static struct fnwm_chan ch;
	struct peer p = { 0, 0 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fnwm_chan_init(&ch, sv[0], on_watch, on_msg, on_close, &p);
	assert_int_equal(watched_fd, sv[0]);
	assert_int_equal(watched, FNWM_CHAN_READ);
	close(sv[1]);
	assert_int_equal(fnwm_chan_send(&ch, FNWM_MSG_ERROR, "gone", 5), -1);
	assert_true(p.closed);
	assert_int_equal(p.err, EPIPE);
	assert_int_equal(watched, 0);
	assert_int_equal(fnwm_chan_send(&ch, FNWM_MSG_ERROR, "x", 2), -1);
}

/* An invalid frame is refused and the channel stays open. */
static void
test_invalid_frame(void **state)
{
	static struct fnwm_chan ch;
	struct peer p = { 0, 0 };
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fnwm_chan_init(&ch, sv[0], on_watch, on_msg, on_close, &p);
	assert_int_equal(watched_fd, sv[0]);
	assert_int_equal(watched, FNWM_CHAN_READ);
	/* Not NUL-terminated: not a valid ERROR payload. */
	errno = 0;
	assert_int_equal(fnwm_chan_send(&ch, FNWM_MSG_ERROR, "abc", 3), -1);
	assert_int_equal(errno, EINVAL);
	assert_false(p.closed);
	assert_int_equal(fnwm_chan_send(&ch, FNWM_MSG_ERROR, "ok", 3), 0);
	fnwm_chan_close(&ch);
	close(sv[1]);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_frames_arrive),
		cmocka_unit_test(test_closed_peer),
		cmocka_unit_test(test_invalid_frame),
	};

	signal(SIGPIPE, SIG_IGN);
	return (cmocka_run_group_tests(tests, NULL, NULL));
}
