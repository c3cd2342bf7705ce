/* SPDX-License-Identifier: MIT */
/* A channel to a monitor, watched on the master's libev loop. */
#ifndef FNWM_CHAN_EV_H
#define FNWM_CHAN_EV_H

#include <ev.h>

#include "chan.h"

struct chan_ev {
	struct fnwm_chan ch;
	struct ev_loop *loop;
	ev_io io;
};

/* fnwm_chan_init on loop: takes fd and starts reading. */
void chan_ev_init(struct chan_ev *, struct ev_loop *, int fd,
    fnwm_chan_msg_cb *, fnwm_chan_close_cb *, void *arg);

#endif
