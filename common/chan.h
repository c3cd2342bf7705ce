/* SPDX-License-Identifier: MIT */
/*
 * A channel: one end of the master<->monitor socketpair, with its read
 * buffer (frame reassembly) and a bounded write buffer. It owns no event
 * loop: it tells its owner which readiness it waits for (watch), and the
 * owner's loop calls fnwm_chan_ready. The master runs it on libev, the
 * monitor on its own loop. No heap: the struct carries fixed buffers, so
 * a monitor can embed one.
 */
#ifndef FNWM_CHAN_H
#define FNWM_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define FNWM_CHAN_WBUF (64 * 1024)

struct fnwm_chan;
/* A complete, size-checked frame; msg is valid until the callback returns. */
typedef void
fnwm_chan_msg_cb(struct fnwm_chan *, const struct fnwm_msg *, void *arg);
/*
 * The channel closed: err 0 for EOF, else the errno (EPROTO/EBADMSG/ERANGE
 * for a malformed frame, ENOBUFS for a peer that does not read).
 */
typedef void fnwm_chan_close_cb(struct fnwm_chan *, int err, void *arg);

#define FNWM_CHAN_READ  0x1
#define FNWM_CHAN_WRITE 0x2
/*
 * What the channel waits for changed: watch fd for events (FNWM_CHAN_*),
 * or for nothing (0; also before the fd is closed).
 */
typedef void fnwm_chan_watch_cb(struct fnwm_chan *, int fd, int events);

struct fnwm_chan {
	int fd;
	int closed;
	int paused;     /* reading paused until our answers drain */
	int processing; /* inside chan_process (no re-entry) */
	int watching;   /* the events last asked of the owner */
	fnwm_chan_watch_cb *watch;
	uint32_t seq;
	fnwm_chan_msg_cb *on_msg;
	fnwm_chan_close_cb *on_close;
	void *arg;
	size_t rlen, wlen;
	/* Aligned: a frame's payload is aligned in place (chan_process). */
	unsigned char rbuf[2 * FNWM_MSG_MAX] __attribute__((aligned(8)));
	unsigned char wbuf[FNWM_CHAN_WBUF];
};

/* Takes fd (made non-blocking) and starts reading. */
void fnwm_chan_init(struct fnwm_chan *, int fd, fnwm_chan_watch_cb *,
    fnwm_chan_msg_cb *, fnwm_chan_close_cb *, void *arg);
/* The owner's loop saw fd ready for events (FNWM_CHAN_*). */
void fnwm_chan_ready(struct fnwm_chan *, int events);
/*
 * Queues a frame. Returns 0, or -1 when the channel is closed, the frame
 * is invalid (EINVAL) or the peer stopped reading (the channel is then
 * closed with ENOBUFS, reported through on_close).
 */
int fnwm_chan_send(struct fnwm_chan *, uint16_t type, const void *payload,
    size_t len);
/* Writes what is queued, waiting at most timeout_ms. Returns 0 or -1. */
int fnwm_chan_flush(struct fnwm_chan *, int timeout_ms);
/* Stops watching and closes the fd; on_close is not called. */
void fnwm_chan_close(struct fnwm_chan *);

#endif
