/* SPDX-License-Identifier: MIT */
/*
 * What the monitors say: the frames of their channels, and their deaths
 * (a child's wait status, or an adopted monitor's pidfd).
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

#define MON_RESPAWN_MAX 5 /* replacements of a crashing monitor in a row */

/* Each handler returns 0, or -1 when the frame makes no sense. */
typedef int dispatch_handler(struct monitor *, const struct fnwm_msg *);

static int
dispatch_hello(struct monitor *m, const struct fnwm_msg *msg)
{
	m->hello = 1;
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

/*
 * A monitor found running (re-adopted through its socket): keep what it
 * was doing.
 */
static void
state_adopted_want(struct monitor *m, const struct fnwm_state_msg *st)
{
	m->want_up = st->state == FNWM_WS_STARTING ||
	    st->state == FNWM_WS_RUNNING || st->state == FNWM_WS_BACKOFF ||
	    (st->state == FNWM_WS_STOPPING && (st->flags & FNWM_STATE_RESTART));
	m->want_known = 1;
	/*
	 * Idle, it may be one its master started and died before it could
	 * say what for: the .status of the monitor it replaced tells.
	 */
	if (st->state == FNWM_WS_DOWN && st->pid == 0 &&
	    monitors_meant_to_run(m->uuid)) {
		log_info("worker %s was meant to run when its monitor died; "
		         "starting it",
		    m->uuid);
		m->want_up = 1;
		(void)monitors_send(m, FNWM_MSG_CMD_START, NULL, 0);
	}
}

/* Whether st says what the last report from this monitor said. */
static int
state_same(const struct monitor *m, const struct fnwm_state_msg *st)
{
	return (m->st_seen && m->st.state == st->state &&
	    m->st.flags == st->flags && m->st.pid == st->pid &&
	    m->st.restarts == st->restarts &&
	    m->st.last_exit == st->last_exit &&
	    m->st.next_start_ms == st->next_start_ms);
}

static int
dispatch_state(struct monitor *m, const struct fnwm_msg *msg)
{
	const struct fnwm_state_msg *st = msg->payload;
	int same;

	if (st->state >= FNWM_WS_MAX)
		return (-1);
	if (m->fresh) {
		/*
		 * A monitor we just started reports "down" before it reads
		 * our commands: nothing is known yet of the worker it will
		 * adopt or start, so an operation must not take that for an
		 * answer. It is up, though: what waited for that goes on.
		 */
		m->fresh = 0;
		if (st->state == FNWM_WS_DOWN && st->pid == 0) {
			ops_kick(m->uuid);
			return (0);
		}
	}
	/* A start is answered even when nothing changed: no news. */
	same = state_same(m, st);
	m->st = *st;
	m->have_st = 1;
	m->st_seen = 1;
	monitors_note_worker(m, st->pid);
	if (same) {
		ops_kick(m->uuid);
		return (0);
	}
	if (m->adopted_proc && !m->want_known)
		state_adopted_want(m, st);
	log_info("worker %s: %s%s, pid %d, %u restarts", m->uuid,
	    monitors_state_name(st->state),
	    st->flags & FNWM_STATE_ADOPTED ? " (adopted)" : "", st->pid,
	    st->restarts);
	monitors_broadcast_event(m, st, monitors_state_name(st->state));
	notify_status();
	registry_refresh_now(m->uuid);
	ops_kick(m->uuid);
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
	ops_kick(m->uuid);
	return (0);
}

static int
dispatch_exit(struct monitor *m, const struct fnwm_msg *msg)
{
	const struct fnwm_exit_msg *ex = msg->payload;

	m->last_exit = *ex;
	if (ex->signal != 0 || ex->code != 0)
		m->crashes++;
	m->have_exit = 1;
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

/*
 * The monitor process is gone. st is its wait status when it was our
 * child; -1 for an adopted monitor (we learn that it died, not how).
 */
void
monitors_gone(struct monitor *m, int st)
{
	char *cause = NULL;
	int clean, unknown = m->adopted_proc && !m->want_known;
	int exiting = m->exiting; /* told to exit: no replacement */

	if (m->chan != NULL)
		fnwm_chan_close(m->chan);
	if (m->pidfd != -1) {
		ev_io_stop(monitors_loop, &m->pidw);
		close(m->pidfd);
		m->pidfd = -1;
	}
	m->pid = 0;
	m->hello = 0;
	m->exiting = 0;
	/*
	 * An adopted monitor is not our child: its pidfd says it ended, not
	 * how. One we told to exit has done what it was asked.
	 */
	if (st == -1 && exiting)
		log_info("monitor %s (adopted) exited as asked", m->uuid);
	else if (st == -1)
		log_warnx("monitor %s (adopted) is gone", m->uuid);
	else if (WIFEXITED(st))
		log_info("monitor %s exited with status %d", m->uuid,
		    WEXITSTATUS(st));
	else
		log_warnx("monitor %s killed by signal %d", m->uuid,
		    WTERMSIG(st));
	clean = st != -1 && WIFEXITED(st) &&
	    (WEXITSTATUS(st) == FNWM_MON_EXIT_OK ||
	        WEXITSTATUS(st) == FNWM_MON_EXIT_PERMANENT ||
	        WEXITSTATUS(st) == FNWM_MON_EXIT_LOCKED);
	/*
	 * A monitor re-adopted from an earlier master that died before it
	 * told us what it was doing: if its worker lives, it was meant to.
	 */
	if (unknown && !exiting && monitors_run_lock_held(m->uuid)) {
		m->want_up = !monitors_was_exiting(m->uuid);
		m->want_known = 1;
		if (!m->want_up && !shutdown_in_progress() &&
		    m->respawns++ < MON_RESPAWN_MAX) {
			/* It was stopping its worker: a new one finishes. */
			if (monitors_start(m, &cause) == -1) {
				log_warnx("monitor %s: %s", m->uuid, cause);
				free(cause);
				cause = NULL;
			} else
				(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
		}
	}
	/*
	 * Unexpected deaths are replaced; the replacement adopts the worker
	 * (or applies the restart policy if the worker died meanwhile).
	 */
	if (!exiting && !shutdown_in_progress() && !clean && m->want_up &&
	    m->respawns < MON_RESPAWN_MAX) {
		m->respawns++;
		if (monitors_start(m, &cause) == -1) {
			log_warnx("monitor %s: %s", m->uuid, cause);
			free(cause);
		}
	}
	/*
	 * 101: another monitor holds this worker (one still starting up,
	 * not yet listening): reach it through its socket shortly.
	 */
	if (st != -1 && WIFEXITED(st) &&
	    WEXITSTATUS(st) == FNWM_MON_EXIT_LOCKED &&
	    !shutdown_in_progress()) {
		monitors_adopt_retry(m);
	}
	registry_refresh_now(m->uuid);
	ops_kick(m->uuid);
	monitors_gc();
}

void
monitors_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	ev_child_stop(loop, w);
	monitors_gone(w->data, w->rstatus);
}
