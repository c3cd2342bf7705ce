/* SPDX-License-Identifier: MIT */
/* Everything the monitor tells the master, over its channel. */
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "monitor.h"

uint64_t
report_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

static void
report_send(struct mon *m, uint16_t type, const void *p, size_t len)
{
	if (!m->chan_up)
		return;
	if (fnwm_chan_send(&m->chan, type, p, len) == -1)
		log_debug("channel: %s not sent", fnwm_msg_type_name(type));
}

void
report_state(struct mon *m)
{
	struct fnwm_state_msg st;
	uint64_t now = report_wall_ms();

	m->since_wall_ms = now;
	memset(&st, 0, sizeof st);
	st.state = (uint16_t)m->state;
	st.flags = (uint16_t)((m->adopted ? FNWM_STATE_ADOPTED : 0) |
	    (m->want_start ? FNWM_STATE_RESTART : 0) |
	    (m->want_exit ? FNWM_STATE_EXIT : 0));
	st.pid = (int32_t)m->pid;
	st.restarts = m->pst.restarts;
	st.last_exit = m->last_exit;
	st.since_ms = now;
	st.started_ms = m->pid > 0 ? m->started_wall_ms : 0;
	st.next_start_ms =
	    m->state == FNWM_WS_BACKOFF ? now + m->next_start_in_ms : 0;
	report_send(m, FNWM_MSG_MON_STATE, &st, sizeof st);
}

void
report_exit(struct mon *m, pid_t pid, int code, int sig, uint64_t uptime)
{
	struct fnwm_exit_msg ex;

	memset(&ex, 0, sizeof ex);
	ex.pid = (int32_t)pid;
	ex.code = code;
	ex.signal = sig;
	ex.uptime_ms = uptime > UINT32_MAX ? UINT32_MAX : (uint32_t)uptime;
	report_send(m, FNWM_MSG_MON_EXIT, &ex, sizeof ex);
}
