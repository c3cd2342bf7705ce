/* SPDX-License-Identifier: MIT */
/*
 * The phase of a monitor record, as monitor/fsm.c writes the monitor's
 * own states: a phases x events table of actions, each returning the next
 * phase; monitors_feed() is the only function that assigns m->phase. The
 * actions decide (is a dead monitor replaced? what did a monitor found
 * running mean to do? is a monitor holding the lock tried again?); the
 * ops they are given do the work (fork, sockets, signals, broadcasts).
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "msg.h"
#include "xmalloc.h"
#include "monitors-phase.h"

typedef enum monitors_phase
phase_action(struct monitor *, struct monitors_evarg *);

static const struct monitors_ops *ops;

/* A new monitor process: what was reported came from another one. */
static enum monitors_phase
phase_new_process(struct monitor *m, enum monitors_phase next)
{
	m->gen++;
	m->have_st = 0;
	m->tries = 0;
	return (next);
}

/* Spawns and configures a monitor; starts the worker if wanted. */
static enum monitors_phase
act_spawn(struct monitor *m, struct monitors_evarg *a)
{
	enum monitors_phase next = MP_NONE;
	int r = ops->launch(m, a->entry, 1, a->cause);

	if (m->pid > 0)
		next = phase_new_process(m, MP_SPAWNED);
	a->rc = r == 0 ? 0 : -1;
	if (r == 0 && m->want_up)
		(void)ops->send(m, FNWM_MSG_CMD_START);
	return (next);
}

/* The same from inside an action, with the registry's entry. */
static enum monitors_phase
phase_spawn(struct monitor *m, int *rc)
{
	char *cause = NULL;
	struct monitors_evarg a = { .entry = ops->entry(m->uuid),
		.cause = &cause };
	enum monitors_phase next = act_spawn(m, &a);

	if (a.rc == -1) {
		log_warnx("monitor %s: %s", m->uuid, cause);
		free(cause);
	}
	*rc = a.rc;
	return (next);
}

/* Configures a monitor that runs already; starts the worker if wanted. */
static enum monitors_phase
phase_configure(struct monitor *m, struct monitors_evarg *a,
    enum monitors_phase next, int exiting)
{
	int r = ops->launch(m, a->entry, 0, a->cause);

	if (r == 1 && !exiting && m->want_up && !ops->shutting_down()) {
		/*
		 * The monitor died a moment ago and its death is not handled
		 * yet: the replacement it then gets is configured and started.
		 */
		log_debug("monitor %s is gone; its replacement will start the "
		          "worker",
		    m->uuid);
		free(*a->cause);
		*a->cause = NULL;
		r = 0;
	} else if (r == 0 && m->want_up)
		(void)ops->send(m, FNWM_MSG_CMD_START);
	a->rc = r == 0 ? 0 : -1;
	return (next);
}

static enum monitors_phase
act_configure(struct monitor *m, struct monitors_evarg *a)
{
	return (phase_configure(m, a, m->phase, 0));
}

static enum monitors_phase
act_configure_exiting(struct monitor *m, struct monitors_evarg *a)
{
	return (phase_configure(m, a, m->phase, 1));
}

/* Reached through its socket (pid, channel and death watch are set). */
static enum monitors_phase
act_attach(struct monitor *m, struct monitors_evarg *a)
{
	return (phase_new_process(m, MP_ADOPTED));
}

/*
 * A process we cannot reach holds the worker's monitor lock: a monitor
 * still starting (it locks before it listens), one whose socket is gone,
 * or a worker its killed monitor forked, between fork and exec. A live
 * monitor is watched (its death, and a stop, reach it by pidfd); its
 * socket is tried again for a while.
 */
static enum monitors_phase
phase_locked(struct monitor *m, pid_t holder)
{
	if (holder > 0 && ops->watch(m, holder) == 0)
		log_info("monitor %s: pid %ld holds the worker's lock; "
		         "reaching it through its socket",
		    m->uuid, (long)holder);
	m->have_st = 0;
	m->tries = MON_LOCK_TRIES;
	ops->arm_retry();
	return (MP_LOCKED);
}

static enum monitors_phase
act_locked(struct monitor *m, struct monitors_evarg *a)
{
	return (phase_locked(m, a->holder));
}

/* Whether st says what the last report of this monitor process said. */
static int
report_same(const struct monitor *m, const struct fnwm_state_msg *st)
{
	return (m->st_gen == m->gen && m->st.state == st->state &&
	    m->st.flags == st->flags && m->st.pid == st->pid &&
	    m->st.restarts == st->restarts &&
	    m->st.last_exit == st->last_exit &&
	    m->st.next_start_ms == st->next_start_ms);
}

/*
 * A monitor found running: the worker should run if it was running or
 * about to. Idle, it may be one its master started and died before it
 * could say what for: the .status of the monitor it replaced tells.
 */
static void
report_adopted_want(struct monitor *m, const struct fnwm_state_msg *st)
{
	m->want_up = st->state == FNWM_WS_STARTING ||
	    st->state == FNWM_WS_RUNNING || st->state == FNWM_WS_BACKOFF ||
	    (st->state == FNWM_WS_STOPPING && (st->flags & FNWM_STATE_RESTART));
	if (st->state == FNWM_WS_DOWN && st->pid == 0 &&
	    ops->meant_to_run(m->uuid)) {
		log_info("worker %s was meant to run when its monitor died; "
		         "starting it",
		    m->uuid);
		m->want_up = 1;
		(void)ops->send(m, FNWM_MSG_CMD_START);
	}
}

/* Keeps st; news is announced. A start is answered even without news. */
static void
report_keep(struct monitor *m, const struct fnwm_state_msg *st, int adopted)
{
	int same = report_same(m, st);

	m->st = *st;
	m->st_gen = m->gen;
	m->have_st = 1;
	ops->note_worker(m, st->pid);
	if (!same) {
		if (adopted)
			report_adopted_want(m, st);
		ops->announce(m);
	}
	ops->kick(m);
}

static enum monitors_phase
act_report(struct monitor *m, struct monitors_evarg *a)
{
	report_keep(m, a->st, 0);
	return (m->phase);
}

static enum monitors_phase
act_adopted_report(struct monitor *m, struct monitors_evarg *a)
{
	report_keep(m, a->st, 1);
	return (MP_UP);
}

/*
 * A monitor we just started reports "down" before it reads our commands:
 * nothing is known yet of the worker it will adopt or start, so an
 * operation must not take that for an answer. It is up, though: what
 * waited for that goes on.
 */
static enum monitors_phase
act_first_report(struct monitor *m, struct monitors_evarg *a)
{
	enum monitors_phase next =
	    m->phase == MP_EXIT_SPAWNED ? MP_EXITING : MP_UP;

	if (a->st->state == FNWM_WS_DOWN && a->st->pid == 0)
		ops->kick(m);
	else
		report_keep(m, a->st, 0);
	return (next);
}

static enum monitors_phase
act_exit(struct monitor *m, struct monitors_evarg *a)
{
	a->rc = ops->send(m, FNWM_MSG_CMD_EXIT);
	if (m->phase == MP_SPAWNED || m->phase == MP_EXIT_SPAWNED)
		return (MP_EXIT_SPAWNED);
	return (MP_EXITING);
}

static enum monitors_phase
act_exit_none(struct monitor *m, struct monitors_evarg *a)
{
	errno = EPIPE;
	a->rc = -1;
	return (MP_NONE);
}

/* Through its socket if it answers now; else SIGTERM: it stops its
 * worker, then exits. */
static enum monitors_phase
act_exit_locked(struct monitor *m, struct monitors_evarg *a)
{
	if (ops->connect(m) == 0) {
		(void)phase_new_process(m, MP_ADOPTED);
		a->rc = ops->send(m, FNWM_MSG_CMD_EXIT);
		return (MP_EXITING);
	}
	if (m->pid <= 0)
		return (act_exit_none(m, a));
	log_info("monitor %s (pid %ld) does not answer on its socket: "
	         "SIGTERM (it stops its worker, then exits)",
	    m->uuid, (long)m->pid);
	ops->signal(m, SIGTERM);
	a->rc = 0;
	return (MP_EXITING);
}

static enum monitors_phase
act_kill(struct monitor *m, struct monitors_evarg *a)
{
	if (m->pid <= 0)
		return (m->phase);
	ops->kill(m);
	return (MP_EXITING);
}

/* Tries its socket now; it stays locked when nothing answers. */
static enum monitors_phase
act_reach(struct monitor *m, struct monitors_evarg *a)
{
	if (ops->connect(m) == 0)
		return (phase_new_process(m, MP_ADOPTED));
	errno = EPIPE;
	a->rc = -1;
	return (MP_LOCKED);
}

static enum monitors_phase
act_start_locked(struct monitor *m, struct monitors_evarg *a)
{
	pid_t holder;

	if (ops->connect(m) == 0)
		return (
		    phase_configure(m, a, phase_new_process(m, MP_ADOPTED), 0));
	if (ops->lock_state(m->uuid, &holder) == -1) {
		ops->release(m);
		m->pid = 0;
		return (act_spawn(m, a));
	}
	if (m->pid > 0)
		*a->cause = xasprintf("its monitor (pid %ld) does not answer "
		                      "on worker_%s.sock yet",
		    (long)m->pid, m->uuid);
	else
		*a->cause = xasprintf("worker_%s.lock is held by a process "
		                      "that is no monitor (yet)",
		    m->uuid);
	errno = EBUSY;
	a->rc = -1;
	return (MP_LOCKED);
}

static enum monitors_phase
act_retry(struct monitor *m, struct monitors_evarg *a)
{
	pid_t holder = 0;
	int rc;

	if (ops->connect(m) == 0)
		return (phase_new_process(m, MP_ADOPTED));
	if (ops->lock_state(m->uuid, &holder) == -1) {
		/*
		 * Nobody holds the lock now: what did has gone, or was no
		 * monitor (a worker forked by its killed monitor, between
		 * fork and exec). A new monitor adopts the worker.
		 */
		ops->release(m);
		m->pid = 0;
		m->tries = 0;
		if (!m->want_up || ops->shutting_down())
			return (MP_NONE);
		return (phase_spawn(m, &rc));
	}
	if (m->pid <= 0 && holder > 0)
		(void)ops->watch(m, holder);
	if (--m->tries > 0)
		return (MP_LOCKED);
	if (m->pid <= 0)
		return (MP_NONE);
	log_warnx("monitor %s (pid %ld) holds the worker's lock and does not "
	          "answer on its socket; watched until it exits",
	    m->uuid, (long)m->pid);
	return (MP_LOCKED);
}

static enum monitors_phase
act_detach(struct monitor *m, struct monitors_evarg *a)
{
	ops->release(m);
	m->pid = 0;
	m->tries = 0;
	m->want_up = 0;
	return (MP_NONE);
}

/*
 * An adopted monitor is not our child: its pidfd says it ended, not how.
 * One we told to exit has done what it was asked.
 */
static void
gone_log(const struct monitor *m, int st, int exiting)
{
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
}

/*
 * A monitor re-adopted from an earlier master that died before it told
 * us what it was doing, and its worker lives: it was meant to run, unless
 * that monitor was stopping it to exit (then a new one finishes that).
 */
static enum monitors_phase
gone_unknown(struct monitor *m)
{
	enum monitors_phase next;
	int rc;

	m->want_up = !ops->was_exiting(m->uuid);
	if (m->want_up || ops->shutting_down() ||
	    m->respawns++ >= MON_RESPAWN_MAX)
		return (MP_NONE);
	next = phase_spawn(m, &rc);
	if (rc == 0 && m->pid > 0) {
		(void)ops->send(m, FNWM_MSG_CMD_EXIT);
		next = MP_EXIT_SPAWNED;
	}
	return (next);
}

static enum monitors_phase
act_gone(struct monitor *m, struct monitors_evarg *a)
{
	enum monitors_phase was = m->phase, next = MP_NONE;
	int st = a->status, rc, clean,
	    exiting = was == MP_EXITING || was == MP_EXIT_SPAWNED;
	pid_t holder = 0;

	ops->release(m);
	m->pid = 0;
	m->tries = 0;
	gone_log(m, st, exiting);
	clean = st != -1 && WIFEXITED(st) &&
	    (WEXITSTATUS(st) == FNWM_MON_EXIT_OK ||
	        WEXITSTATUS(st) == FNWM_MON_EXIT_PERMANENT ||
	        WEXITSTATUS(st) == FNWM_MON_EXIT_LOCKED);
	if (was == MP_ADOPTED && ops->run_lock_held(m->uuid))
		next = gone_unknown(m);
	else if ((was == MP_ADOPTED || was == MP_LOCKED) && !m->want_up &&
	    ops->meant_to_run(m->uuid)) {
		/*
		 * It died before it told us anything, and its worker is dead
		 * too (a monitor killed in backoff, still exiting when we
		 * reached it or found its lock held): the .status it left
		 * says whether the worker was meant to run, as at start-up.
		 */
		log_info("worker %s was meant to run when its monitor died; "
		         "a monitor starts it",
		    m->uuid);
		m->want_up = 1;
	}
	/*
	 * Unexpected deaths are replaced; the replacement adopts the worker
	 * (or applies the restart policy if the worker died meanwhile).
	 */
	if (!exiting && !ops->shutting_down() && !clean && m->want_up &&
	    m->respawns < MON_RESPAWN_MAX) {
		m->respawns++;
		next = phase_spawn(m, &rc);
	}
	/* 101: another monitor holds this worker; reach that one. */
	if (st != -1 && WIFEXITED(st) &&
	    WEXITSTATUS(st) == FNWM_MON_EXIT_LOCKED && !ops->shutting_down()) {
		(void)ops->lock_state(m->uuid, &holder);
		next = phase_locked(m, holder);
	}
	ops->gone(m);
	return (next);
}

/* Every cell not listed is NULL: logged at debug level and ignored. */
static phase_action *const phase_table[MP_MAX][ME_MAX] = {
	[MP_NONE] = {
		[ME_START] = act_spawn,
		[ME_ATTACH] = act_attach,
		[ME_LOCKED] = act_locked,
		[ME_EXIT] = act_exit_none,
		[ME_DETACH] = act_detach,
	},
	[MP_SPAWNED] = {
		[ME_START] = act_configure,
		[ME_REPORT] = act_first_report,
		[ME_EXIT] = act_exit,
		[ME_KILL] = act_kill,
		[ME_GONE] = act_gone,
		[ME_DETACH] = act_detach,
	},
	[MP_ADOPTED] = {
		[ME_START] = act_configure,
		[ME_REPORT] = act_adopted_report,
		[ME_EXIT] = act_exit,
		[ME_KILL] = act_kill,
		[ME_GONE] = act_gone,
		[ME_DETACH] = act_detach,
	},
	[MP_UP] = {
		[ME_START] = act_configure,
		[ME_REPORT] = act_report,
		[ME_EXIT] = act_exit,
		[ME_KILL] = act_kill,
		[ME_GONE] = act_gone,
		[ME_DETACH] = act_detach,
	},
	[MP_LOCKED] = {
		[ME_START] = act_start_locked,
		[ME_EXIT] = act_exit_locked,
		[ME_KILL] = act_kill,
		[ME_GONE] = act_gone,
		[ME_RETRY] = act_retry,
		[ME_REACH] = act_reach,
		[ME_DETACH] = act_detach,
	},
	[MP_EXIT_SPAWNED] = {
		[ME_START] = act_configure_exiting,
		[ME_REPORT] = act_first_report,
		[ME_EXIT] = act_exit,
		[ME_KILL] = act_kill,
		[ME_GONE] = act_gone,
		[ME_DETACH] = act_detach,
	},
	[MP_EXITING] = {
		[ME_START] = act_configure_exiting,
		[ME_REPORT] = act_report,
		[ME_EXIT] = act_exit,
		[ME_KILL] = act_kill,
		[ME_GONE] = act_gone,
		[ME_DETACH] = act_detach,
	},
};

static const char *const phase_names[MP_MAX] = {
	[MP_NONE] = "none",
	[MP_SPAWNED] = "spawned",
	[MP_ADOPTED] = "adopted",
	[MP_UP] = "up",
	[MP_LOCKED] = "locked",
	[MP_EXIT_SPAWNED] = "exit-spawned",
	[MP_EXITING] = "exiting",
};

static const char *const event_names[ME_MAX] = {
	[ME_START] = "start",
	[ME_ATTACH] = "attach",
	[ME_LOCKED] = "locked",
	[ME_REPORT] = "report",
	[ME_EXIT] = "exit",
	[ME_KILL] = "kill",
	[ME_GONE] = "gone",
	[ME_RETRY] = "retry",
	[ME_REACH] = "reach",
	[ME_DETACH] = "detach",
};

int
monitors_reported(const struct monitor *m)
{
	return (m->phase != MP_NONE && m->phase != MP_LOCKED &&
	    m->st_gen == m->gen);
}

int
monitors_exiting(const struct monitor *m)
{
	return (m->phase == MP_EXITING || m->phase == MP_EXIT_SPAWNED);
}

const char *
monitors_phase_name(enum monitors_phase p)
{
	return (p < MP_MAX ? phase_names[p] : "?");
}

const char *
monitors_event_name(enum monitors_event e)
{
	return (e < ME_MAX ? event_names[e] : "?");
}

void
monitors_phase_init(const struct monitors_ops *o)
{
	ops = o;
}

int
monitors_feed(struct monitor *m, enum monitors_event ev,
    struct monitors_evarg *a)
{
	struct monitors_evarg none;
	enum monitors_phase prev = m->phase, next;
	phase_action *act;

	FNWM_ASSERT(m->phase < MP_MAX && ev < ME_MAX);
	if (a == NULL) {
		memset(&none, 0, sizeof none);
		a = &none;
	}
	act = phase_table[m->phase][ev];
	if (act == NULL) {
		log_debug("monitor %s: %s: event %s ignored", m->uuid,
		    monitors_phase_name(m->phase), monitors_event_name(ev));
		return (0);
	}
	next = act(m, a);
	m->phase = next;
	if (next != prev)
		log_debug("monitor %s: %s -> %s on %s", m->uuid,
		    monitors_phase_name(prev), monitors_phase_name(next),
		    monitors_event_name(ev));
	return (a->rc);
}
