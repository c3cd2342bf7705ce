/* SPDX-License-Identifier: MIT */
/*
 * The master's side of a channel: one libev io watcher, set to whatever
 * the channel waits for (common/chan.c decides, this file only watches).
 */
#include <stddef.h>

#include "chan-ev.h"

static void
chan_ev_io_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct chan_ev *ce = w->data;

	fnwm_chan_ready(&ce->ch,
	    (revents & EV_READ ? FNWM_CHAN_READ : 0) |
	        (revents & EV_WRITE ? FNWM_CHAN_WRITE : 0));
}

static void
chan_ev_watch(struct fnwm_chan *ch, int fd, int events)
{
	struct chan_ev *ce =
	    (struct chan_ev *)((char *)ch - offsetof(struct chan_ev, ch));

	ev_io_stop(ce->loop, &ce->io);
	if (events == 0)
		return;
	ev_io_set(&ce->io, fd,
	    (events & FNWM_CHAN_READ ? EV_READ : 0) |
	        (events & FNWM_CHAN_WRITE ? EV_WRITE : 0));
	ev_io_start(ce->loop, &ce->io);
}

void
chan_ev_init(struct chan_ev *ce, struct ev_loop *loop, int fd,
    fnwm_chan_msg_cb *on_msg, fnwm_chan_close_cb *on_close, void *arg)
{
	ce->loop = loop;
	ev_io_init(&ce->io, chan_ev_io_cb, fd, EV_READ);
	ce->io.data = ce;
	fnwm_chan_init(&ce->ch, fd, chan_ev_watch, on_msg, on_close, arg);
}
