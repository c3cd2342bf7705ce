/* SPDX-License-Identifier: MIT */
/*
 * Operations on one worker (activate, stop, restart, delete, create,
 * repair), serialised per worker and concurrent across workers. None
 * blocks the loop: each kind is a table of phases (op-<kind>.c) whose
 * handlers re-check the facts (registry, monitor state, timers) whenever
 * something about their worker changes (ops_kick), and report to their
 * requester by client id, so a requester that goes away costs nothing
 * and stops nothing. This file holds the per-worker queue only.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "op.h"

/* What a client or the manager can queue on a worker, and where it is. */
static const struct op_kind_def *const op_kinds[] = {
	[OP_ACTIVATE] = &op_activate_kind, /* op-activate.c */
	[OP_STOP] = &op_stop_kind,         /* op-stop.c */
	[OP_RESTART] = &op_restart_kind,   /* op-restart.c */
	[OP_DELETE] = &op_delete_kind,     /* op-delete.c */
	[OP_CREATE] = &op_create_kind,     /* op-create.c */
	[OP_REPAIR] = &op_repair_kind,     /* op-repair.c */
};

/* Bounds the phases one kick runs through: a table has no loop longer. */
#define OP_FEED_MAX 16

static struct ev_loop *ops_loop;
static const struct fnwm_config *ops_cfg;
static struct monitor_list ops_kicks = TAILQ_HEAD_INITIALIZER(ops_kicks);
static ev_timer ops_kick_timer;

void
ops_progress(struct op *op, const char *message, double progress, int blocking)
{
	struct ws_client *c;

	/* new_worker's progress goes to everyone, as in FuncNodes. */
	if (op->broadcast) {
		hub_broadcast_progress(op->client, message, progress, blocking);
		return;
	}
	if ((c = hub_find(op->client)) != NULL)
		hub_progress(c, message, progress, blocking);
}

void
ops_error(struct op *op, const char *fmt, ...)
{
	struct ws_client *c = hub_find(op->client);
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) == -1)
		fatal("vasprintf");
	va_end(ap);
	log_info("worker %s: %s", op->mon->uuid, msg);
	if (c != NULL)
		hub_error(c, "%s", msg);
	free(msg);
}

static const struct op_phase *
op_phase(const struct op *op)
{
	const struct op_kind_def *k = op_kinds[op->kind];

	FNWM_ASSERT(op->phase >= 0 && op->phase < k->nphases);
	return (&k->phases[op->phase]);
}

/*
 * Runs op's phases until one waits; 1 when the operation is over. The
 * only place that assigns op->phase.
 */
static int
op_feed(struct op *op)
{
	const struct op_kind_def *k = op_kinds[op->kind];
	int next, n;

	for (n = 0; n < OP_FEED_MAX; n++) {
		next = op_phase(op)->run(op);
		if (next == OP_END) {
			log_debug("worker %s: %s: %s -> end", op->mon->uuid,
			    k->name, op_phase(op)->name);
			return (1);
		}
		if (next == op->phase)
			return (0);
		FNWM_ASSERT(next >= 0 && next < k->nphases);
		log_debug("worker %s: %s: %s -> %s", op->mon->uuid, k->name,
		    op_phase(op)->name, k->phases[next].name);
		op->phase = next;
	}
	fatalx("operation %s on %s: phases loop", k->name, op->mon->uuid);
}

static void
op_free(struct op *op)
{
	struct ws_client *c = hub_find(op->client);

	if (c != NULL && c->ops > 0 && --c->ops == 0 && c->reset_owed) {
		/* A creation's reset it was spared: clear its display now. */
		c->reset_owed = 0;
		hub_progress(c, "", 1.0, 0);
	}
	if (op_phase(op)->flags & OPF_CONTACT)
		registry_urgent(op->mon->uuid, 0);
	op_watchers_stop(op);
	venv_free_steps(op);
	json_object_put(op->json);
	if (op->autostart)
		autostart_done();
	free(op);
}

static void
ops_run(struct monitor *m)
{
	struct op *op;

	while ((op = TAILQ_FIRST(&m->ops)) != NULL) {
		/* Never talk to a monitor on its way out: wait for it. */
		if (op->phase == OP_BEGIN && monitors_exiting(m) && m->pid > 0)
			break;
		if (!op_feed(op))
			break;
		TAILQ_REMOVE(&m->ops, op, entry);
		op_free(op);
	}
	monitors_gc();
}

static void
ops_kick_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m;

	while ((m = TAILQ_FIRST(&ops_kicks)) != NULL) {
		TAILQ_REMOVE(&ops_kicks, m, kickq);
		m->kicked = 0;
		ops_run(m);
	}
}

void
ops_kick(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	if (m == NULL || TAILQ_EMPTY(&m->ops) || m->kicked)
		return;
	m->kicked = 1;
	TAILQ_INSERT_TAIL(&ops_kicks, m, kickq);
	if (!ev_is_active(&ops_kick_timer))
		ev_timer_start(ops_loop, &ops_kick_timer);
}

void
ops_submit(enum op_kind kind, const char *uuid, uint64_t client)
{
	struct monitor *m = monitors_get(uuid);
	struct op *op = xcalloc(1, sizeof *op);
	struct ws_client *c = hub_find(client);

	if (c != NULL)
		c->ops++;
	FNWM_ASSERT(kind > OP_NONE && kind <= OP_REPAIR);
	op->kind = kind;
	op->client = client;
	op->mon = m;
	op->loop = ops_loop;
	op->cfg = ops_cfg;
	op->phase = OP_BEGIN;
	op_watchers_init(op);
	/* A stop or delete does not wait behind a long preparation step. */
	if ((kind == OP_STOP || kind == OP_DELETE) && !TAILQ_EMPTY(&m->ops) &&
	    (op_phase(TAILQ_FIRST(&m->ops))->flags & OPF_STEPS))
		TAILQ_FIRST(&m->ops)->preempted = 1;
	TAILQ_INSERT_TAIL(&m->ops, op, entry);
	ops_kick(uuid);
}

void
ops_submit_autostart(const char *uuid)
{
	struct monitor *m;

	ops_submit(OP_ACTIVATE, uuid, 0);
	m = monitors_find(uuid);
	TAILQ_LAST(&m->ops, op_list)->autostart = 1;
}

void
ops_submit_create(const char *uuid, uint64_t client, json_object *json,
    int made_dir)
{
	struct monitor *m;
	struct op *op;

	ops_submit(OP_CREATE, uuid, client);
	m = monitors_find(uuid);
	op = TAILQ_LAST(&m->ops, op_list);
	op->json = json;
	op->made_dir = made_dir;
	op->broadcast = 1;
}

size_t
ops_pending(void)
{
	struct monitor *m;
	struct op *op;
	size_t n = 0;

	TAILQ_FOREACH(m, monitors_list(), entry)
		TAILQ_FOREACH(op, &m->ops, entry)
			n++;
	return (n);
}

void
ops_wind_down(void)
{
	struct monitor *m;
	struct op *op, *next;

	/*
	 * Shutting down: operations not yet begun are dropped; one in a
	 * preparation step is cancelled and cleans up after itself; the
	 * others end here.
	 */
	TAILQ_FOREACH(m, monitors_list(), entry) {
		for (op = TAILQ_FIRST(&m->ops); op != NULL; op = next) {
			next = TAILQ_NEXT(op, entry);
			if (op == TAILQ_FIRST(&m->ops) &&
			    (op_phase(op)->flags & (OPF_STEPS | OPF_CLEANUP))) {
				op->preempted = 1;
				ops_kick(m->uuid);
				continue;
			}
			TAILQ_REMOVE(&m->ops, op, entry);
			op_free(op);
		}
	}
}

void
ops_cancel_all(void)
{
	struct monitor *m;
	struct op *op;

	ev_timer_stop(ops_loop, &ops_kick_timer);
	TAILQ_FOREACH(m, monitors_list(), entry) {
		if (m->kicked) {
			TAILQ_REMOVE(&ops_kicks, m, kickq);
			m->kicked = 0;
		}
		while ((op = TAILQ_FIRST(&m->ops)) != NULL) {
			TAILQ_REMOVE(&m->ops, op, entry);
			op_free(op);
		}
	}
}

void
ops_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	ops_loop = loop;
	ops_cfg = cfg;
	venv_init(cfg);
	ev_timer_init(&ops_kick_timer, ops_kick_cb, 0, 0);
}
