/* SPDX-License-Identifier: MIT */
/*
 * Liveness, as Docker's HEALTHCHECK and Kubernetes' liveness probe: a
 * worker whose process runs but has not answered its identity probe for
 * its liveness_timeout is "unresponsive"; when it stays so for as long
 * again, its monitor stops it (TERM, then KILL: its own stop command
 * needs the answer it does not give) and hands the exit to the restart
 * policy. One that answers again is running again. Judged when a probe
 * ends and at the periodic re-probe: no timer, no probe of its own.
 */
#include <stdlib.h>

#include "log.h"
#include "master.h"

static struct ev_loop *liveness_loop;
static const struct fnwm_config *liveness_cfg;

/* The state shown and broadcast changed. */
static void
liveness_changed(struct monitor *m)
{
	monitors_broadcast_event(m, &m->st,
	    m->unresponsive ? "unresponsive"
	                    : fnwm_worker_state_name(m->st.state));
	notify_status();
	/* The worker_status entry carries it too (re-read, not from here). */
	registry_touch(m->uuid);
}

static void
liveness_clear(struct monitor *m)
{
	int was = m->unresponsive;

	m->live_pid = 0;
	m->unresponsive = 0;
	m->liveness_sent = 0;
	if (was)
		liveness_changed(m);
}

static void
liveness_judge(struct monitor *m)
{
	double now = ev_now(liveness_loop), timeout;
	int autostart;
	char *cause = NULL;

	if (m->pid <= 0 || !monitors_reported(m) || m->st.pid <= 0 ||
	    (m->st.state != FNWM_WS_STARTING &&
	        m->st.state != FNWM_WS_RUNNING)) {
		liveness_clear(m);
		return;
	}
	if (launch_supervision(liveness_cfg, registry_entry(m->uuid), &timeout,
	        &autostart, &cause) == -1) {
		free(cause);
		timeout = liveness_cfg->liveness_timeout;
	}
	if (timeout <= 0) {
		liveness_clear(m);
		return;
	}
	if (m->st.pid != m->live_pid) {
		/* A new process: it gets a whole timeout to answer. */
		liveness_clear(m);
		m->live_pid = m->st.pid;
		m->answered = now;
	}
	if (registry_is_active(m->uuid)) {
		m->answered = now;
		if (m->unresponsive) {
			log_info("worker %s: answers again: running", m->uuid);
			m->unresponsive = 0;
			m->liveness_sent = 0;
			liveness_changed(m);
		}
		return;
	}
	if (!m->unresponsive) {
		if (now - m->answered < timeout)
			return;
		log_warnx("worker %s: no answer to its probe for %.0f s: "
		          "unresponsive",
		    m->uuid, now - m->answered);
		m->unresponsive = 1;
		m->unresponsive_at = now;
		liveness_changed(m);
		return;
	}
	/* An operation on it (a start still waiting, a stop) comes first. */
	if (m->liveness_sent || now - m->unresponsive_at < timeout ||
	    !TAILQ_EMPTY(&m->ops))
		return;
	log_warnx("worker %s: unresponsive for %.0f s more: stopping pid %ld "
	          "(liveness); its restart policy decides what follows",
	    m->uuid, now - m->unresponsive_at, (long)m->st.pid);
	if (monitors_stop_cmd(m, FNWM_MSG_CMD_UNRESPONSIVE) == 0)
		m->liveness_sent = 1;
}

void
liveness_probed(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	if (m != NULL)
		liveness_judge(m);
}

void
liveness_tick(void)
{
	struct monitor *m;

	TAILQ_FOREACH(m, monitors_list(), entry)
		liveness_judge(m);
}

int
liveness_unresponsive(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	return (m != NULL && m->pid > 0 && m->unresponsive);
}

void
liveness_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	liveness_loop = loop;
	liveness_cfg = cfg;
}
