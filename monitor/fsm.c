/* SPDX-License-Identifier: MIT */
/*
 * The monitor's state machine, as s6 writes it: a states x events table of
 * actions, each returning the next state. fsm_feed() is the only function
 * that assigns m->state, and it announces every change (status file, then
 * a MON_STATE frame to the master).
 */
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <time.h>

#include "defaults.h"
#include "log.h"
#include "msg.h"
#include "monitor.h"

typedef enum fnwm_worker_state
mon_action(struct mon *, const struct mon_evarg *);

/* -signal, the exit code, or unknown (an adopted worker, not our child). */
static int32_t
fsm_exit_value(const struct mon_evarg *a)
{
	if (a->sig != 0)
		return (-a->sig);
	return (a->code >= 0 ? a->code : FNWM_EXIT_UNKNOWN);
}

/*
 * Adds the exit that just happened to the worker's history. An adopted
 * worker's run is measured from its process's own start (/proc), not
 * from the moment it was taken over.
 */
static void
fsm_record_exit(struct mon *m, int adopted, enum fnwm_exit_reason reason)
{
	struct fnwm_exit_rec r;
	struct timespec ts;
	uint64_t ran;

	clock_gettime(CLOCK_REALTIME, &ts);
	r.at_ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (adopted && m->started_wall_ms > 0 && r.at_ms > m->started_wall_ms)
		ran = r.at_ms - m->started_wall_ms;
	else
		ran = m->ops->now() - m->started_ms;
	r.ran_ms = ran > UINT32_MAX ? UINT32_MAX : (uint32_t)ran;
	r.status = m->last_exit;
	r.reason = (uint16_t)reason;
	fnwm_status_add_exit(&m->record, &r);
}

static void
fsm_log_exit(struct mon *m, uint64_t ran, const char *what)
{
	char how[64];

	fnwm_exit_describe(m->last_exit, how, sizeof how);
	log_info("worker exited (%s) after %llu ms: %s", how,
	    (unsigned long long)ran, what);
}

static enum fnwm_worker_state
act_spawn(struct mon *m, const struct mon_evarg *a)
{
	m->want_start = 0;
	m->ops->disarm(m, MON_T_BACKOFF);
	switch (m->ops->spawn(m)) {
	case 1:
		/* Found running and adopted: no start of ours to time. */
		return (FNWM_WS_RUNNING);
	case -1:
		break;
	default:
		m->started_ms = m->ops->now();
		m->ops->arm(m, MON_T_HEALTHY, m->pcfg.healthy_ms);
		return (FNWM_WS_STARTING);
	}
	{
		/* Not fatal: try again after a backoff delay (s6 does too). */
		uint32_t delay;
		enum policy_verdict v = policy_on_exit(&m->pcfg, &m->pst,
		    m->ops->now(), 0, 127, 0, &delay);

		if (v == POLICY_GIVE_UP || v == POLICY_DOWN)
			return (FNWM_WS_FAILED);
		m->ops->arm(m, MON_T_BACKOFF, delay);
		m->next_start_in_ms = delay;
		return (FNWM_WS_BACKOFF);
	}
}

/* A start asked for by the master: a fresh tally, then spawn. */
static enum fnwm_worker_state
act_start(struct mon *m, const struct mon_evarg *a)
{
	policy_reset(&m->pcfg, &m->pst);
	return (act_spawn(m, a));
}

static enum fnwm_worker_state
act_healthy(struct mon *m, const struct mon_evarg *a)
{
	return (FNWM_WS_RUNNING);
}

/*
 * What the restart policy makes of an exit, recorded with why it came:
 * a death of its own, or a stop for not answering (a failure whatever
 * its exit status).
 */
static enum fnwm_worker_state
fsm_apply_policy(struct mon *m, const struct mon_evarg *a, int adopted,
    int liveness)
{
	uint64_t now = m->ops->now();
	uint32_t delay;
	enum policy_verdict v;
	enum fnwm_exit_reason why;
	int code = a->code;

	/* Not answering is a failure, even if TERM ended it cleanly. */
	if (liveness && a->sig == 0 && code == 0)
		code = 1;
	v = policy_on_exit(&m->pcfg, &m->pst, now, now - m->started_ms, code,
	    a->sig, &delay);
	if (liveness)
		why = FNWM_EXIT_LIVENESS;
	else if (v == POLICY_GIVE_UP)
		why = FNWM_EXIT_GAVE_UP;
	else if (a->sig == 0 && a->code == 0)
		why = FNWM_EXIT_EXITED;
	else
		why = FNWM_EXIT_CRASH;
	fsm_record_exit(m, adopted, why);
	fsm_log_exit(m, now - m->started_ms, policy_verdict_name(v));
	switch (v) {
	case POLICY_DOWN:
		return (FNWM_WS_DOWN);
	case POLICY_GIVE_UP:
		return (FNWM_WS_FAILED);
	case POLICY_RESTART_NOW:
		return (act_spawn(m, a));
	case POLICY_BACKOFF:
		m->ops->arm(m, MON_T_BACKOFF, delay);
		m->next_start_in_ms = delay;
		return (FNWM_WS_BACKOFF);
	}
	return (FNWM_WS_FAILED);
}

static enum fnwm_worker_state
act_exited(struct mon *m, const struct mon_evarg *a)
{
	int adopted = m->adopted;

	m->ops->disarm(m, MON_T_HEALTHY);
	m->pid = 0;
	m->adopted = 0;
	m->last_exit = fsm_exit_value(a);
	return (fsm_apply_policy(m, a, adopted, 0));
}

static void
stop_arm(struct mon *m, const struct mon_evarg *a)
{
	if (a != NULL && a->stop != NULL)
		m->stop = *a->stop;
	m->esc_step = 0;
	m->ops->disarm(m, MON_T_HEALTHY);
	/* The master sends the worker its stop command; we wait, then TERM. */
	m->ops->arm(m, MON_T_ESCALATE, m->stop.term_after_ms);
}

static enum fnwm_worker_state
act_stop(struct mon *m, const struct mon_evarg *a)
{
	m->want_start = 0;
	stop_arm(m, a);
	return (FNWM_WS_STOPPING);
}

static enum fnwm_worker_state
act_restart(struct mon *m, const struct mon_evarg *a)
{
	stop_arm(m, a);
	m->want_start = 1;
	return (FNWM_WS_STOPPING);
}

/* It does not answer its probe: stop it; its exit goes to the policy. */
static enum fnwm_worker_state
act_unresponsive(struct mon *m, const struct mon_evarg *a)
{
	m->want_start = 0;
	m->liveness = 1;
	stop_arm(m, a);
	return (FNWM_WS_STOPPING);
}

static enum fnwm_worker_state
act_exit_running(struct mon *m, const struct mon_evarg *a)
{
	m->want_exit = 1;
	return (act_stop(m, a));
}

static enum fnwm_worker_state
act_escalate(struct mon *m, const struct mon_evarg *a)
{
	if (m->esc_step == 0) {
		log_info("worker %ld did not stop in time: SIGTERM",
		    (long)m->pid);
		m->ops->signal(m, SIGTERM);
		m->esc_step = 1;
		m->ops->arm(m, MON_T_ESCALATE, m->stop.kill_after_ms);
	} else {
		log_info("worker %ld ignored SIGTERM: SIGKILL", (long)m->pid);
		m->ops->signal(m, SIGKILL);
		m->esc_step = 2;
		/* Nothing outlives SIGKILL; the child watcher ends this. */
	}
	return (FNWM_WS_STOPPING);
}

static enum fnwm_worker_state
act_stopped(struct mon *m, const struct mon_evarg *a)
{
	int adopted = m->adopted, liveness = m->liveness;

	m->ops->disarm(m, MON_T_ESCALATE);
	m->pid = 0;
	m->adopted = 0;
	m->liveness = 0;
	m->last_exit = fsm_exit_value(a);
	if (liveness)
		return (fsm_apply_policy(m, a, adopted, 1));
	fsm_record_exit(m, adopted,
	    m->want_start ? FNWM_EXIT_RESTART : FNWM_EXIT_STOP);
	fsm_log_exit(m, m->ops->now() - m->started_ms,
	    m->want_start ? "restart" : "stopped");
	if (m->want_start) {
		policy_reset(&m->pcfg, &m->pst);
		m->pst.restarts++;
		return (act_spawn(m, a));
	}
	return (FNWM_WS_DOWN);
}

/* A request while stopping outranks a stop for not answering. */
static enum fnwm_worker_state
act_want_start(struct mon *m, const struct mon_evarg *a)
{
	m->want_start = 1;
	m->liveness = 0;
	return (m->state);
}

static enum fnwm_worker_state
act_want_down(struct mon *m, const struct mon_evarg *a)
{
	m->want_start = 0;
	m->liveness = 0;
	return (m->state);
}

static enum fnwm_worker_state
act_want_exit(struct mon *m, const struct mon_evarg *a)
{
	m->want_exit = 1;
	m->want_start = 0;
	m->liveness = 0;
	return (m->state);
}

static enum fnwm_worker_state
act_cancel_backoff(struct mon *m, const struct mon_evarg *a)
{
	m->ops->disarm(m, MON_T_BACKOFF);
	return (FNWM_WS_DOWN);
}

static enum fnwm_worker_state
act_exit_now(struct mon *m, const struct mon_evarg *a)
{
	m->ops->disarm(m, MON_T_BACKOFF);
	m->want_exit = 1;
	return (FNWM_WS_DOWN);
}

static enum fnwm_worker_state
act_adopted(struct mon *m, const struct mon_evarg *a)
{
	return (FNWM_WS_RUNNING);
}

static enum fnwm_worker_state
act_nothing(struct mon *m, const struct mon_evarg *a)
{
	return (m->state);
}

/* Every cell not listed is NULL: logged at debug level and ignored. */
static mon_action *const fsm_table[FNWM_WS_MAX][MON_EV_MAX] = {
	[FNWM_WS_DOWN] = {
		[MON_EV_CMD_START] = act_start,
		[MON_EV_CMD_RESTART] = act_start,
		[MON_EV_CMD_STOP] = act_nothing,
		[MON_EV_CMD_EXIT] = act_exit_now,
		[MON_EV_ADOPTED] = act_adopted,
	},
	[FNWM_WS_STARTING] = {
		[MON_EV_CHILD_EXIT] = act_exited,
		[MON_EV_HEALTHY] = act_healthy,
		[MON_EV_CMD_STOP] = act_stop,
		[MON_EV_CMD_RESTART] = act_restart,
		[MON_EV_CMD_EXIT] = act_exit_running,
		[MON_EV_CMD_START] = act_nothing,
		[MON_EV_CMD_UNRESPONSIVE] = act_unresponsive,
	},
	[FNWM_WS_RUNNING] = {
		[MON_EV_CHILD_EXIT] = act_exited,
		[MON_EV_CMD_STOP] = act_stop,
		[MON_EV_CMD_RESTART] = act_restart,
		[MON_EV_CMD_EXIT] = act_exit_running,
		[MON_EV_CMD_START] = act_nothing,
		[MON_EV_CMD_UNRESPONSIVE] = act_unresponsive,
	},
	[FNWM_WS_STOPPING] = {
		[MON_EV_CHILD_EXIT] = act_stopped,
		[MON_EV_ESCALATE] = act_escalate,
		[MON_EV_CMD_START] = act_want_start,
		[MON_EV_CMD_RESTART] = act_want_start,
		[MON_EV_CMD_EXIT] = act_want_exit,
		[MON_EV_CMD_STOP] = act_want_down,
	},
	[FNWM_WS_BACKOFF] = {
		[MON_EV_BACKOFF] = act_spawn,
		[MON_EV_CMD_START] = act_start,
		[MON_EV_CMD_RESTART] = act_start,
		[MON_EV_CMD_STOP] = act_cancel_backoff,
		[MON_EV_CMD_EXIT] = act_exit_now,
	},
	[FNWM_WS_FAILED] = {
		[MON_EV_CMD_START] = act_start,
		[MON_EV_CMD_RESTART] = act_start,
		[MON_EV_CMD_STOP] = act_cancel_backoff,
		[MON_EV_CMD_EXIT] = act_exit_now,
	},
};

static const char *const fsm_event_names[MON_EV_MAX] = {
	[MON_EV_CMD_START] = "start",
	[MON_EV_CMD_STOP] = "stop",
	[MON_EV_CMD_RESTART] = "restart",
	[MON_EV_CMD_EXIT] = "exit",
	[MON_EV_CHILD_EXIT] = "child exit",
	[MON_EV_HEALTHY] = "healthy",
	[MON_EV_BACKOFF] = "backoff over",
	[MON_EV_ESCALATE] = "escalate",
	[MON_EV_ADOPTED] = "adopted",
	[MON_EV_CMD_UNRESPONSIVE] = "unresponsive",
};

static const char *
fsm_event_name(enum mon_event e)
{
	return (e < MON_EV_MAX ? fsm_event_names[e] : "?");
}

void
fsm_init(struct mon *m, const struct mon_ops *ops)
{
	m->ops = ops;
	m->state = FNWM_WS_DOWN;
	m->last_exit = FNWM_EXIT_NONE;
	fnwm_status_init(&m->record);
	m->stop.term_after_ms = FNWM_DEFAULT_STOP_TIMEOUT_MS;
	m->stop.kill_after_ms = FNWM_DEFAULT_KILL_TIMEOUT_MS;
	policy_defaults(&m->pcfg);
	policy_reset(&m->pcfg, &m->pst);
}

void
fsm_feed(struct mon *m, enum mon_event ev, const struct mon_evarg *a)
{
	static const struct mon_evarg none = { 0, 0, NULL };
	enum fnwm_worker_state prev = m->state, next;
	mon_action *act;

	FNWM_ASSERT(m->state < FNWM_WS_MAX && ev < MON_EV_MAX);
	act = fsm_table[m->state][ev];
	if (act == NULL) {
		log_debug("%s: event %s ignored",
		    fnwm_worker_state_name(m->state), fsm_event_name(ev));
		return;
	}
	next = act(m, a != NULL ? a : &none);
	m->state = next;
	if (next != prev || ev == MON_EV_CHILD_EXIT || ev == MON_EV_BACKOFF) {
		log_debug("%s -> %s on %s", fnwm_worker_state_name(prev),
		    fnwm_worker_state_name(next), fsm_event_name(ev));
		m->ops->announce(m);
	}
	if (m->want_exit && m->state == FNWM_WS_DOWN)
		m->ops->finish(m);
	else if (m->want_exit && m->state == FNWM_WS_FAILED)
		m->ops->finish(m);
}
