/* SPDX-License-Identifier: MIT */
/*
 * The master <-> monitor frame codec (common/msg.c), twice: decoded from a
 * buffer as one piece, and read by a real channel (common/chan.c) from a
 * socketpair in chunks whose size the first byte chooses, the fuzzer
 * being the channel's owner (its loop). Every frame that decodes must
 * encode back to the same bytes.
 */
#include <sys/socket.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t fz_frames;
static int fz_closed, fz_watched;

/* What a handler does with a frame: read every string, re-encode it. */
static void
fz_check_frame(const struct fnwm_msg *msg)
{
	unsigned char out[FNWM_MSG_MAX];
	struct fnwm_msg again;
	const char *s;
	size_t off = 0, n, used, total = 0;

	while ((s = fnwm_msg_string(msg, &off)) != NULL) {
		total += strlen(s);
		if (off > msg->len)
			abort();
	}
	(void)total;
	(void)fnwm_msg_type_name(msg->hdr.type);
	n = fnwm_msg_encode(out, sizeof out, msg->hdr.type, msg->hdr.seq,
	    msg->payload, msg->len);
	if (n != sizeof msg->hdr + msg->len)
		abort();
	if (fnwm_msg_decode(out, n, &again, &used) != 1 || used != n ||
	    again.len != msg->len ||
	    memcmp(again.payload, msg->payload, msg->len) != 0)
		abort();
}

static void
fz_on_msg(struct fnwm_chan *ch, const struct fnwm_msg *msg, void *arg)
{
	fz_check_frame(msg);
	fz_frames++;
}

static void
fz_on_close(struct fnwm_chan *ch, int err, void *arg)
{
	fz_closed = 1;
}

static void
fz_watch(struct fnwm_chan *ch, int fd, int events)
{
	fz_watched = events;
}

/* What a loop would do: the channel's fd is readable. */
static void
fz_readable(struct fnwm_chan *ch)
{
	/* Nothing is ever sent back: the channel never stops reading. */
	if (!(fz_watched & FNWM_CHAN_READ))
		abort();
	fnwm_chan_ready(ch, FNWM_CHAN_READ);
}

static void
fz_decode_all(const uint8_t *data, size_t size)
{
	struct fnwm_msg msg;
	size_t off = 0, used;
	int r;

	while (
	    (r = fnwm_msg_decode(data + off, size - off, &msg, &used)) == 1) {
		if (used < sizeof msg.hdr || used > size - off)
			abort();
		fz_check_frame(&msg);
		off += used;
	}
	if (r == -1 && errno != EBADMSG && errno != ERANGE && errno != EPROTO)
		abort();
}

static void
fz_channel(const uint8_t *data, size_t size)
{
	static struct fnwm_chan ch;
	size_t chunk, off = 0;
	ssize_t n;
	int sv[2];

	if (size == 0)
		return;
	chunk = 1 + (size_t)data[0] * 37;
	data++;
	size--;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		abort();
	fz_closed = 0;
	fnwm_chan_init(&ch, sv[0], fz_watch, fz_on_msg, fz_on_close, NULL);
	while (off < size && !fz_closed) {
		n = write(sv[1], data + off,
		    size - off < chunk ? size - off : chunk);
		if (n <= 0)
			abort();
		off += (size_t)n;
		fz_readable(&ch);
	}
	close(sv[1]);
	while (!fz_closed)
		fz_readable(&ch);
	if (fz_watched != 0)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int started;

	if (!started) {
		started = 1;
		fnwm_log_init("fuzz", FNWM_LOG_WARN);
	}
	fz_decode_all(data, size);
	fz_channel(data, size);
	return (0);
}
