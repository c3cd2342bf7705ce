/* SPDX-License-Identifier: MIT */
/*
 * A channel: one end of the master<->monitor socketpair, with its read
 * buffer (frame reassembly), a bounded write buffer and libev watchers.
 * No heap: the struct carries fixed buffers, so a monitor can embed one.
 */
#ifndef FNWM_CHAN_H
#define FNWM_CHAN_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

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

struct fnwm_chan {
	int fd;
	int closed;
	int paused;     /* reading paused until our answers drain */
	int processing; /* inside chan_process (no re-entry) */
	struct ev_loop *loop;
	ev_io rio, wio;
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
void fnwm_chan_init(struct fnwm_chan *, struct ev_loop *, int fd,
    fnwm_chan_msg_cb *, fnwm_chan_close_cb *, void *arg);
/*
 * Queues a frame. Returns 0, or -1 when the channel is closed, the frame
 * is invalid (EINVAL) or the peer stopped reading (the channel is then
 * closed with ENOBUFS, reported through on_close).
 */
int fnwm_chan_send(struct fnwm_chan *, uint16_t type, const void *payload,
    size_t len);
/* Writes what is queued, waiting at most timeout_ms. Returns 0 or -1. */
int fnwm_chan_flush(struct fnwm_chan *, int timeout_ms);
/* Stops the watchers and closes the fd; on_close is not called. */
void fnwm_chan_close(struct fnwm_chan *);

#endif
