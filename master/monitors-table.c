/* SPDX-License-Identifier: MIT */
/*
 * The monitor table (nginx's ngx_processes): one record per worker the
 * master supervises, with its fnwm-monitor process, the last state it
 * reported, and what the master wants of the worker. Records are found
 * or made here and freed once idle; the other monitors-*.c files start
 * monitors (spawn), read what they say (dispatch) and take over the ones
 * an earlier master left (adopt).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "monitors-int.h"
#include "monitors-phase.h"

struct ev_loop *monitors_loop;
const struct fnwm_config *monitors_cfg;
static struct monitor_list table = TAILQ_HEAD_INITIALIZER(table);
static ev_timer table_reap;

json_object *
monitors_exit_json(int32_t last_exit)
{
	json_object *e;

	if (last_exit == FNWM_EXIT_NONE)
		return (NULL);
	e = json_object_new_object();
	json_object_object_add(e, "code",
	    last_exit >= 0 ? json_object_new_int(last_exit) : NULL);
	json_object_object_add(e, "signal",
	    last_exit < 0 && last_exit != FNWM_EXIT_UNKNOWN
	        ? json_object_new_int(-last_exit)
	        : NULL);
	return (e);
}

struct monitor *
monitors_find(const char *uuid)
{
	struct monitor *m;

	TAILQ_FOREACH(m, &table, entry)
		if (strcmp(m->uuid, uuid) == 0)
			return (m);
	return (NULL);
}

struct monitor *
monitors_get(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	if (m != NULL)
		return (m);
	m = xcalloc(1, sizeof *m);
	m->uuid = xstrdup(uuid);
	m->pidfd = -1;
	TAILQ_INIT(&m->ops);
	TAILQ_INSERT_TAIL(&table, m, entry);
	return (m);
}

struct monitor_list *
monitors_list(void)
{
	return (&table);
}

size_t
monitors_running(void)
{
	struct monitor *m;
	size_t n = 0;

	TAILQ_FOREACH(m, &table, entry)
		if (m->pid > 0)
			n++;
	return (n);
}

/* Frees records that have no process, no operation and no wish. */
static void
table_reap_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m, *next;

	for (m = TAILQ_FIRST(&table); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->phase != MP_NONE || !TAILQ_EMPTY(&m->ops) || m->want_up)
			continue;
		TAILQ_REMOVE(&table, m, entry);
		free(m->chan);
		free(m->uuid);
		free(m);
	}
}

void
monitors_gc(void)
{
	if (!ev_is_active(&table_reap))
		ev_timer_start(monitors_loop, &table_reap);
}

/*
 * Broadcasts a worker_event for st, its state shown as state (the
 * state's own name, or what liveness makes of it).
 */
void
monitors_broadcast_event(const struct monitor *m,
    const struct fnwm_state_msg *st, const char *state)
{
	json_object *o = json_object_new_object();
	struct fnwm_outmsg *msg;

	json_object_object_add(o, "type",
	    json_object_new_string("worker_event"));
	json_object_object_add(o, "uuid", json_object_new_string(m->uuid));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "pid",
	    st->pid > 0 ? json_object_new_int(st->pid) : NULL);
	json_object_object_add(o, "adopted",
	    json_object_new_boolean(st->flags & FNWM_STATE_ADOPTED));
	json_object_object_add(o, "restarts",
	    json_object_new_int64(st->restarts));
	json_object_object_add(o, "last_exit",
	    monitors_exit_json(st->last_exit));
	json_object_object_add(o, "next_restart",
	    st->next_start_ms > 0
	        ? json_object_new_double((double)st->next_start_ms / 1000.0)
	        : NULL);
	msg = outmsg_json(o);
	hub_broadcast(msg);
	outmsg_unref(msg);
	json_object_put(o);
}

static int
table_shutting_down(void)
{
	return (shutdown_in_progress());
}

/* What the phase table does things with (monitors-phase.c). */
static const struct monitors_ops table_ops = {
	.launch = monitors_launch,
	.send = monitors_command,
	.connect = monitors_connect,
	.lock_state = monitors_lock_state,
	.watch = monitors_watch,
	.release = monitors_release,
	.signal = monitors_signal_monitor,
	.kill = monitors_kill_now,
	.arm_retry = monitors_arm_retry,
	.entry = registry_entry,
	.run_lock_held = monitors_run_lock_held,
	.was_exiting = monitors_was_exiting,
	.meant_to_run = monitors_meant_to_run,
	.shutting_down = table_shutting_down,
	.note_worker = monitors_note_worker,
	.announce = monitors_announce,
	.kick = monitors_kick,
	.gone = monitors_gone,
};

void
monitors_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	monitors_loop = loop;
	monitors_cfg = cfg;
	monitors_phase_init(&table_ops);
	ev_timer_init(&table_reap, table_reap_cb, 0, 0);
	monitors_adopt_init();
}

void
monitors_free_all(void)
{
	struct monitor *m;

	ev_timer_stop(monitors_loop, &table_reap);
	monitors_adopt_stop();
	while ((m = TAILQ_FIRST(&table)) != NULL) {
		TAILQ_REMOVE(&table, m, entry);
		monitors_release(m);
		free(m->chan);
		free(m->uuid);
		free(m);
	}
}
