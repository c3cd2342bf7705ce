/* SPDX-License-Identifier: MIT */
/*
 * What the monitors say: the frames of their channels, one handler per
 * message type, and the effects of their news (the log, the clients,
 * the operations waiting).
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "master.h"
#include "monitors-int.h"
#include "monitors-phase.h"

/* Each handler returns 0, or -1 when the frame makes no sense. */
typedef int dispatch_handler(struct monitor *, const struct fnwm_msg *);

static int
dispatch_hello(struct monitor *m, const struct fnwm_msg *msg)
{
	m->respawns = 0;
	return (0);
}

static int
dispatch_error(struct monitor *m, const struct fnwm_msg *msg)
{
	char why[256];

	log_warnx("monitor %s: %s", m->uuid,
	    log_safe(why, sizeof why, msg->payload, msg->len - 1));
	return (0);
}

static int
dispatch_state(struct monitor *m, const struct fnwm_msg *msg)
{
	struct monitors_evarg a = { .st = msg->payload };

	if (a.st->state >= FNWM_WS_MAX)
		return (-1);
	(void)monitors_feed(m, ME_REPORT, &a);
	return (0);
}

static int
dispatch_step(struct monitor *m, const struct fnwm_msg *msg)
{
	const struct fnwm_step_done *d = msg->payload;

	m->step = *d;
	snprintf(m->step_summary, sizeof m->step_summary, "%s",
	    (const char *)msg->payload + sizeof *d);
	m->step_have = 1;
	monitors_kick(m);
	return (0);
}

static int
dispatch_exit(struct monitor *m, const struct fnwm_msg *msg)
{
	const struct fnwm_exit_msg *ex = msg->payload;

	m->last_exit = *ex;
	if (ex->signal != 0 || ex->code != 0)
		m->crashes++;
	registry_refresh_now(m->uuid);
	return (0);
}

/*
 * What a monitor may say, by message type (common/proto.h); the channel
 * has checked each frame's size against msg_rules already. Commands and
 * unknown types have no handler.
 */
static dispatch_handler *const dispatch_table[] = {
	[FNWM_MSG_HELLO] = dispatch_hello,
	[FNWM_MSG_ERROR] = dispatch_error,
	[FNWM_MSG_MON_STATE] = dispatch_state,
	[FNWM_MSG_MON_EXIT] = dispatch_exit,
	[FNWM_MSG_MON_STEP] = dispatch_step,
};
#define DISPATCH_TYPES (sizeof dispatch_table / sizeof dispatch_table[0])

void
monitors_msg_cb(struct fnwm_chan *ch, const struct fnwm_msg *msg, void *arg)
{
	struct monitor *m = arg;
	dispatch_handler *h = NULL;

	if (msg->hdr.type < DISPATCH_TYPES)
		h = dispatch_table[msg->hdr.type];
	if (h != NULL && h(m, msg) == 0)
		return;
	/* A monitor that speaks nonsense loses its channel and its life. */
	log_warnx("monitor %s: unexpected %s frame; killing it", m->uuid,
	    fnwm_msg_type_name(msg->hdr.type));
	fnwm_chan_close(ch);
	monitors_signal_monitor(m, SIGTERM);
}

void
monitors_close_cb(struct fnwm_chan *ch, int err, void *arg)
{
	struct monitor *m = arg;

	if (err != 0) {
		log_warnx("monitor %s: channel: %s; killing it", m->uuid,
		    strerror(err));
		monitors_signal_monitor(m, SIGTERM);
	}
	/* EOF: the child watcher tells why it went. */
}

/* st is news: in the log, to the clients, in the counts. */
void
monitors_announce(struct monitor *m)
{
	const struct fnwm_state_msg *st = &m->st;

	log_info("worker %s: %s%s, pid %d, %u restarts", m->uuid,
	    fnwm_worker_state_name(st->state),
	    st->flags & FNWM_STATE_ADOPTED ? " (adopted)" : "", st->pid,
	    st->restarts);
	monitors_broadcast_event(m, st, fnwm_worker_state_name(st->state));
	notify_status();
	registry_refresh_now(m->uuid);
}

static void (*dispatch_news)(const char *uuid);

void
monitors_on_news(void (*fn)(const char *uuid))
{
	dispatch_news = fn;
}

/* What waits on m's monitor (the operations, through the hook) looks
 * again. */
void
monitors_kick(struct monitor *m)
{
	if (dispatch_news != NULL)
		dispatch_news(m->uuid);
}

/* Its process is gone: what waited on it looks again. */
void
monitors_gone(struct monitor *m)
{
	registry_refresh_now(m->uuid);
	monitors_kick(m);
	monitors_gc();
}

void
monitors_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	struct monitors_evarg a = { .status = w->rstatus };

	ev_child_stop(loop, w);
	(void)monitors_feed(w->data, ME_GONE, &a);
}
