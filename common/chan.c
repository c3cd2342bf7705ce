/* SPDX-License-Identifier: MIT */
/*
 * Channel I/O. The write side follows tmux/imsg: frames are appended to a
 * buffer and the write watcher runs only while it is non-empty. Frames are
 * reassembled from the stream on the read side and handed to the owner
 * one at a time; a malformed frame closes the channel, never the process.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "chan.h"
#include "log.h"
#include "util.h"

static void chan_process(struct fnwm_chan *);
static void chan_read(struct fnwm_chan *);

/* Room kept in the write buffer for the answers to one more frame. */
#define CHAN_HIGH_WATER (FNWM_CHAN_WBUF - 4 * FNWM_MSG_MAX)
#define CHAN_ALIGN      sizeof(uint64_t)
/* The largest frame written without passing through the write buffer. */
#define CHAN_DIRECT_MAX 256

_Static_assert(sizeof(struct fnwm_msg_hdr) >= CHAN_ALIGN - 1,
    "a payload moves back over its header to be aligned");

/* Asks the owner for readability unless paused, writability if queued. */
static void
chan_rewatch(struct fnwm_chan *ch)
{
	int want = 0;

	if (!ch->closed) {
		if (!ch->paused)
			want |= FNWM_CHAN_READ;
		if (ch->wlen > 0)
			want |= FNWM_CHAN_WRITE;
	}
	if (want != ch->watching) {
		ch->watching = want;
		ch->watch(ch, ch->fd, want);
	}
}

static void
chan_fail(struct fnwm_chan *ch, int err)
{
	if (ch->closed)
		return;
	fnwm_chan_close(ch);
	if (ch->on_close != NULL)
		ch->on_close(ch, err, ch->arg);
}

static void
chan_write_some(struct fnwm_chan *ch)
{
	ssize_t n;

	while (ch->wlen > 0) {
		n = write(ch->fd, ch->wbuf, ch->wlen);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			chan_fail(ch, errno);
			return;
		}
		memmove(ch->wbuf, ch->wbuf + n, ch->wlen - (size_t)n);
		ch->wlen -= (size_t)n;
	}
	chan_rewatch(ch);
	/* The peer read our answers: go on with its frames. */
	if (ch->paused && ch->wlen <= CHAN_HIGH_WATER / 2)
		chan_process(ch);
}

void
fnwm_chan_ready(struct fnwm_chan *ch, int events)
{
	if (!ch->closed && (events & FNWM_CHAN_WRITE))
		chan_write_some(ch);
	if (!ch->closed && (events & FNWM_CHAN_READ) && !ch->paused)
		chan_read(ch);
}

/*
 * Dispatches the complete frames in the read buffer while the peer keeps
 * up with our answers; above the high-water mark of the write buffer the
 * read watcher pauses (backpressure) instead of the channel overflowing.
 */
static void
chan_process(struct fnwm_chan *ch)
{
	struct fnwm_msg msg;
	char sample[64];
	size_t used, off = 0, pad;
	unsigned char *p;
	int r = 0;

	if (ch->processing)
		return;
	ch->processing = 1;
	while (ch->wlen <= CHAN_HIGH_WATER &&
	    (r = fnwm_msg_decode(ch->rbuf + off, ch->rlen - off, &msg,
	         &used)) == 1) {
		off += used;
		/*
		 * Frames sit at any offset of the read buffer; handlers cast
		 * payloads to structs with 8-byte fields. A misaligned payload
		 * moves back to the boundary below it, over its own header,
		 * which is decoded and at least that long: no copy elsewhere.
		 */
		p = ch->rbuf + ((const unsigned char *)msg.payload - ch->rbuf);
		pad = (uintptr_t)p & (CHAN_ALIGN - 1);
		if (pad != 0) {
			memmove(p - pad, p, msg.len);
			msg.payload = p - pad;
		}
		ch->on_msg(ch, &msg, ch->arg);
		if (ch->closed)
			return; /* the owner closed it: touch nothing more */
	}
	ch->processing = 0;
	if (r == -1) {
		int err = errno;

		log_warnx("channel: malformed frame (%s): %s",
		    log_strerror(err),
		    log_safe(sample, sizeof sample, ch->rbuf + off,
		        ch->rlen - off < 16 ? ch->rlen - off : 16));
		chan_fail(ch, err);
		return;
	}
	memmove(ch->rbuf, ch->rbuf + off, ch->rlen - off);
	ch->rlen -= off;
	ch->paused = ch->wlen > CHAN_HIGH_WATER;
	chan_rewatch(ch);
}

static void
chan_read(struct fnwm_chan *ch)
{
	ssize_t n;

	n = read(ch->fd, ch->rbuf + ch->rlen, sizeof ch->rbuf - ch->rlen);
	if (n == -1) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		chan_fail(ch, errno);
		return;
	}
	if (n == 0) {
		chan_fail(ch, 0);
		return;
	}
	ch->rlen += (size_t)n;
	chan_process(ch);
}

void
fnwm_chan_init(struct fnwm_chan *ch, int fd, fnwm_chan_watch_cb *watch,
    fnwm_chan_msg_cb *on_msg, fnwm_chan_close_cb *on_close, void *arg)
{
	ch->fd = fd;
	ch->closed = 0;
	ch->watch = watch;
	ch->watching = 0;
	ch->seq = 0;
	ch->rlen = ch->wlen = 0;
	ch->paused = ch->processing = 0;
	ch->on_msg = on_msg;
	ch->on_close = on_close;
	ch->arg = arg;
	fnwm_set_nonblock(fd);
	chan_rewatch(ch);
}

/*
 * A frame written from the caller's buffer while nothing is queued; what
 * the socket does not take is queued. 0, or -1 when the channel failed.
 */
static int
chan_write_direct(struct fnwm_chan *ch, const unsigned char *frame, size_t n)
{
	ssize_t w;

	do
		w = write(ch->fd, frame, n);
	while (w == -1 && errno == EINTR);
	if (w == -1) {
		if (errno != EAGAIN) {
			chan_fail(ch, errno);
			return (-1);
		}
		w = 0;
	}
	if ((size_t)w < n) {
		memcpy(ch->wbuf, frame + w, n - (size_t)w);
		ch->wlen = n - (size_t)w;
		chan_rewatch(ch);
	}
	return (0);
}

int
fnwm_chan_send(struct fnwm_chan *ch, uint16_t type, const void *payload,
    size_t len)
{
	/*
	 * Most frames are small and the peer reads: such a frame is built
	 * here and written at once, and the write buffer is not touched
	 * (one page less of memory per channel, in every monitor and, per
	 * monitor, in the master).
	 */
	unsigned char direct[CHAN_DIRECT_MAX];
	size_t n;

	if (ch->closed) {
		errno = EPIPE;
		return (-1);
	}
	if (ch->wlen == 0 &&
	    sizeof(struct fnwm_msg_hdr) + len <= sizeof direct) {
		n = fnwm_msg_encode(direct, sizeof direct, type, ch->seq + 1,
		    payload, len);
		if (n == 0) {
			errno = EINVAL;
			return (-1);
		}
		ch->seq++;
		return (chan_write_direct(ch, direct, n));
	}
	n = fnwm_msg_encode(ch->wbuf + ch->wlen, sizeof ch->wbuf - ch->wlen,
	    type, ch->seq + 1, payload, len);
	if (n == 0) {
		if (sizeof ch->wbuf - ch->wlen >= FNWM_MSG_MAX) {
			errno = EINVAL;
			return (-1);
		}
		/* A full buffer: the peer has stopped reading. */
		chan_fail(ch, ENOBUFS);
		errno = ENOBUFS;
		return (-1);
	}
	ch->seq++;
	ch->wlen += n;
	chan_write_some(ch);
	return (ch->closed ? -1 : 0);
}

int
fnwm_chan_flush(struct fnwm_chan *ch, int timeout_ms)
{
	struct pollfd pfd;

	while (!ch->closed && ch->wlen > 0) {
		pfd.fd = ch->fd;
		pfd.events = POLLOUT;
		if (poll(&pfd, 1, timeout_ms) <= 0)
			return (-1);
		chan_write_some(ch);
	}
	return (ch->closed ? -1 : 0);
}

void
fnwm_chan_close(struct fnwm_chan *ch)
{
	if (ch->closed)
		return;
	ch->closed = 1;
	chan_rewatch(ch);
	close(ch->fd);
	ch->fd = -1;
	ch->wlen = ch->rlen = 0;
}
