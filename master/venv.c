/* SPDX-License-Identifier: MIT */
/*
 * Virtualenvs and their upgrades, as steps the worker's monitor runs: the
 * command lines (uv when it is on PATH, as FuncNodes does; python -m venv
 * and pip otherwise), and the runner that sends them one at a time and
 * turns their outcome into progress. Package-index settings reach pip and
 * uv through their own environment variables (PIP_INDEX_URL,
 * PIP_FIND_LINKS, UV_INDEX_URL...), which the monitor passes on.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "msg.h"
#include "xmalloc.h"
#include "master.h"

/* Adds a step; argv is NULL-terminated and copied. */
static void
venv_add_step(struct op *op, const char *label, double progress,
    int best_effort, const char *failure, const char *cwd,
    const char *const *argv)
{
	struct op_step *s;
	int i;

	op->steps =
	    xreallocarray(op->steps, (size_t)op->nsteps + 1, sizeof *op->steps);
	s = &op->steps[op->nsteps++];
	memset(s, 0, sizeof *s);
	s->label = label != NULL ? xstrdup(label) : NULL;
	s->progress = progress;
	s->best_effort = best_effort;
	s->failure = failure != NULL ? xstrdup(failure) : NULL;
	s->cwd = xstrdup(cwd);
	for (i = 0; argv[i] != NULL && i < FNWM_ARGV_MAX; i++)
		s->argv[i] = xstrdup(argv[i]);
	s->argc = i;
}

/*
 * At most fnwm.max_parallel_steps steps run at once, across all workers:
 * an op holds a slot from sending a step to its answer; the others wait
 * in order of arrival and are told so.
 */
static TAILQ_HEAD(, op) venv_queue = TAILQ_HEAD_INITIALIZER(venv_queue);
static int venv_running;
static const struct fnwm_config *venv_cfg;

void
venv_init(const struct fnwm_config *cfg)
{
	venv_cfg = cfg;
}

int
venv_steps_running(void)
{
	return (venv_running);
}

static void venv_progress(struct op *, const char *message, double progress,
    const char *status);

/* 1 when op may send its next step now; else it waits its turn. */
static int
venv_acquire(struct op *op)
{
	char *msg;

	if (op->step_slot)
		return (1);
	if (venv_running < venv_cfg->max_parallel_steps &&
	    (TAILQ_EMPTY(&venv_queue) || TAILQ_FIRST(&venv_queue) == op)) {
		if (op->step_queued) {
			TAILQ_REMOVE(&venv_queue, op, stepq);
			op->step_queued = 0;
		}
		op->step_slot = 1;
		venv_running++;
		if (venv_running < venv_cfg->max_parallel_steps &&
		    !TAILQ_EMPTY(&venv_queue))
			ops_kick(TAILQ_FIRST(&venv_queue)->mon->uuid);
		return (1);
	}
	if (!op->step_queued) {
		TAILQ_INSERT_TAIL(&venv_queue, op, stepq);
		op->step_queued = 1;
		limits_hit(LIMIT_PARALLEL_STEPS,
		    "worker %s: its step waits, %d running", op->mon->uuid,
		    venv_running);
		msg = xasprintf("Queued: %d virtual environment steps are "
		                "running, the most at a time "
		                "(fnwm.max_parallel_steps).",
		    venv_running);
		venv_progress(op, msg, op->steps[op->cur].progress, "info");
		free(msg);
	}
	return (0);
}

/* Gives back the op's step slot and leaves the queue (op ends). */
static void
venv_release(struct op *op)
{
	struct op *next;

	if (op->step_queued) {
		TAILQ_REMOVE(&venv_queue, op, stepq);
		op->step_queued = 0;
	}
	if (op->step_slot) {
		op->step_slot = 0;
		venv_running--;
	}
	/* The next in line takes a free slot on its kick. */
	if (venv_running < venv_cfg->max_parallel_steps &&
	    (next = TAILQ_FIRST(&venv_queue)) != NULL)
		ops_kick(next->mon->uuid);
}

void
venv_free_steps(struct op *op)
{
	int i, j;

	venv_release(op);
	for (i = 0; i < op->nsteps; i++) {
		free(op->steps[i].label);
		free(op->steps[i].failure);
		free(op->steps[i].cwd);
		for (j = 0; j < op->steps[i].argc; j++)
			free(op->steps[i].argv[j]);
	}
	free(op->steps);
	op->steps = NULL;
	op->nsteps = op->cur = 0;
	free(op->fail_summary);
	op->fail_summary = NULL;
}

char *
venv_dir(json_object *entry)
{
	json_object *v;
	const char *p;

	if (entry == NULL ||
	    !json_object_object_get_ex(entry, "env_path", &v) ||
	    !json_object_is_type(v, json_type_string) ||
	    json_object_get_string_len(v) == 0)
		return (NULL);
	p = json_object_get_string(v);
	if (p[0] == '/')
		return (xstrdup(p));
	return (xasprintf("%s/%s", venv_cfg->workers_dir, p));
}

/* A PEP 508 requirement (see pep508.c); never an option. */
static int
venv_spec_ok(const char *s)
{
	return (pep508_valid(s, venv_cfg->allow_direct_references));
}

/* The steps that install or upgrade one package in the venv. */
static void
venv_plan_package(struct op *op, const char *datadir, const char *venv,
    const char *pkg, const char *spec, const char *label, double progress)
{
	char *py = xasprintf("%s/bin/python", venv);
	char *failure = xasprintf("%s failed", label);

	if (venv_cfg->uv != NULL) {
		/* "--": no requirement is ever read as an option. */
		const char *add[] = { venv_cfg->uv, "add", "--", spec, NULL };
		char *up = xasprintf("--upgrade-package=%s", pkg);
		const char *lock[] = { venv_cfg->uv, "lock", up, NULL };
		const char *sync[] = { venv_cfg->uv, "sync", NULL };

		venv_add_step(op, label, progress, 1, failure, datadir, add);
		venv_add_step(op, NULL, progress, 1, failure, datadir, lock);
		venv_add_step(op, NULL, progress, 1, failure, datadir, sync);
		free(up);
	} else {
		const char *pip[] = { py, "-m", "pip", "install", "--upgrade",
			"--", spec, NULL };

		venv_add_step(op, label, progress, 1, failure, datadir, pip);
	}
	free(py);
	free(failure);
}

/* venv's python -m venv, then pip adds funcnodes (the steps without uv). */
static void
venv_add_pip_venv(struct op *op, const char *datadir, const char *venv,
    const char *py, double made)
{
	const char *mk[] = { venv_cfg->venv_python, "-m", "venv", venv, NULL };
	const char *pip[] = { py, "-m", "pip", "install", "--upgrade", "--",
		"funcnodes", NULL };

	venv_add_step(op, "Making virtual environment.", made, 0, NULL, datadir,
	    mk);
	venv_add_step(op, "Adding funcnodes", 0.5, 0, NULL, datadir, pip);
}

void
venv_plan_create(struct op *op, const char *datadir, int broadcast)
{
	char *venv = xasprintf("%s/.venv", datadir);
	char *pyproject = xasprintf("%s/pyproject.toml", datadir);
	char *py = xasprintf("%s/bin/python", venv);

	op->broadcast = broadcast;
	if (venv_cfg->uv != NULL) {
		const char *init[] = { venv_cfg->uv, "init", "--no-workspace",
			"--no-pin-python", "--no-readme", "--python",
			venv_cfg->uv_python, "--description",
			"A Funcnodes worker environment", NULL };
		const char *mk[] = { venv_cfg->uv, "venv", "--python",
			venv_cfg->uv_python, NULL };

		if (access(pyproject, F_OK) == -1)
			venv_add_step(op, "Making virtual environment.", 0.1, 0,
			    NULL, datadir, init);
		venv_add_step(op,
		    access(pyproject, F_OK) == -1
		        ? NULL
		        : "Making virtual environment.",
		    0.1, 0, NULL, datadir, mk);
		{
			const char *add[] = { venv_cfg->uv, "add", "--",
				"funcnodes", NULL };
			const char *lock[] = { venv_cfg->uv, "lock",
				"--upgrade-package", "funcnodes", NULL };
			const char *sync[] = { venv_cfg->uv, "sync", NULL };

			venv_add_step(op, "Adding funcnodes", 0.5, 0, NULL,
			    datadir, add);
			venv_add_step(op, NULL, 0.5, 0, NULL, datadir, lock);
			venv_add_step(op, NULL, 0.5, 0, NULL, datadir, sync);
		}
	} else {
		venv_add_pip_venv(op, datadir, venv, py, 0.1);
	}
	free(venv);
	free(pyproject);
	free(py);
}

static int
venv_flag(json_object *entry, const char *name)
{
	json_object *uos, *v;

	/* A missing flag means true (FuncNodes' default). */
	if (!json_object_object_get_ex(entry, "update_on_startup", &uos) ||
	    !json_object_is_type(uos, json_type_object) ||
	    !json_object_object_get_ex(uos, name, &v) ||
	    !json_object_is_type(v, json_type_boolean))
		return (1);
	return (json_object_get_boolean(v));
}

/* Each package_dependencies entry: fn(pkg, version or NULL). */
static void
venv_each_dep(json_object *entry,
    void (*fn)(struct op *, const char *, const char *, const char *,
        const char *),
    struct op *op, const char *datadir, const char *venv)
{
	json_object *deps, *pkg, *ver;

	if (!json_object_object_get_ex(entry, "package_dependencies", &deps) ||
	    !json_object_is_type(deps, json_type_object))
		return;
	json_object_object_foreach(deps, name, dep) {
		(void)name;
		if (!json_object_is_type(dep, json_type_object) ||
		    !json_object_object_get_ex(dep, "package", &pkg) ||
		    !json_object_is_type(pkg, json_type_string))
			continue;
		if (!json_object_object_get_ex(dep, "version", &ver) ||
		    !json_object_is_type(ver, json_type_string))
			ver = NULL;
		fn(op, datadir, venv, json_object_get_string(pkg),
		    ver != NULL ? json_object_get_string(ver) : NULL);
	}
}

static void
venv_upgrade_dep(struct op *op, const char *datadir, const char *venv,
    const char *pkg, const char *version)
{
	char *label, *name;
	char *p;

	if (version != NULL)
		return; /* pinned: left alone */
	/* FuncNodes installs "a_b" as "a-b". */
	name = xstrdup(pkg);
	for (p = name; *p != '\0'; p++)
		if (*p == '_')
			*p = '-';
	label = xasprintf("updating %s", pkg);
	if (!venv_spec_ok(name)) {
		char *bad = xasprintf("%s: not a package name; skipped", label);

		/* No command: the runner only reports it. */
		venv_add_step(op, NULL, 0.3, 1, bad, datadir,
		    (const char *const[]){ NULL });
		free(bad);
	} else
		venv_plan_package(op, datadir, venv, name, name, label, 0.3);
	free(label);
	free(name);
}

void
venv_plan_upgrades(struct op *op, json_object *entry, const char *datadir)
{
	char *venv = venv_dir(entry);

	if (venv == NULL)
		return;
	if (venv_flag(entry, "funcnodes"))
		venv_plan_package(op, datadir, venv, "funcnodes", "funcnodes",
		    "updating funcnodes", 0.3);
	if (venv_flag(entry, "funcnodes-core"))
		venv_plan_package(op, datadir, venv, "funcnodes-core",
		    "funcnodes-core", "updating funcnodes-core", 0.3);
	venv_each_dep(entry, venv_upgrade_dep, op, datadir, venv);
	free(venv);
}

static void
venv_install_dep(struct op *op, const char *datadir, const char *venv,
    const char *pkg, const char *version)
{
	char *spec, *label, *name = xstrdup(pkg), *p;

	for (p = name; *p != '\0'; p++)
		if (*p == '_')
			*p = '-';
	/* Older files hold a bare "0.2.7" for "==0.2.7". */
	if (version == NULL)
		spec = xstrdup(name);
	else if (isdigit((unsigned char)version[0]))
		spec = xasprintf("%s==%s", name, version);
	else
		spec = xasprintf("%s%s", name, version);
	label = xasprintf("installing %s", spec);
	if (venv_spec_ok(spec))
		venv_plan_package(op, datadir, venv, name, spec, label, 0.6);
	free(spec);
	free(label);
	free(name);
}

void
venv_plan_repair(struct op *op, json_object *entry, const char *datadir)
{
	char *venv = venv_dir(entry);
	const char *rm[] = { "rm", "-rf", "--one-file-system", "--", venv,
		NULL };

	if (venv == NULL)
		return;
	venv_add_step(op, "Removing the broken virtual environment.", 0.2, 0,
	    NULL, datadir, rm);
	if (venv_cfg->uv != NULL) {
		const char *mk[] = { venv_cfg->uv, "venv", "--python",
			venv_cfg->uv_python, venv, NULL };
		const char *sync[] = { venv_cfg->uv, "sync", NULL };

		venv_add_step(op, "Making virtual environment.", 0.4, 0, NULL,
		    datadir, mk);
		venv_add_step(op, "Installing the recorded dependencies.", 0.6,
		    0, NULL, datadir, sync);
	} else {
		char *py = xasprintf("%s/bin/python", venv);

		venv_add_pip_venv(op, datadir, venv, py, 0.4);
		free(py);
		venv_each_dep(entry, venv_install_dep, op, datadir, venv);
	}
	free(venv);
}

static void
venv_progress(struct op *op, const char *message, double progress,
    const char *status)
{
	json_object *o = json_object_new_object();
	struct ws_client *c;
	struct fnwm_outmsg *m;

	json_object_object_add(o, "type", json_object_new_string("progress"));
	json_object_object_add(o, "message", json_object_new_string(message));
	json_object_object_add(o, "status", json_object_new_string(status));
	json_object_object_add(o, "progress", json_object_new_double(progress));
	json_object_object_add(o, "blocking", json_object_new_boolean(1));
	if (op->broadcast) {
		m = outmsg_json(o);
		hub_broadcast(m);
		outmsg_unref(m);
	} else if ((c = hub_find(op->client)) != NULL)
		hub_send_json(c, o);
	json_object_put(o);
}

static int
venv_send_step(struct op *op, struct op_step *s)
{
	unsigned char buf[FNWM_MSG_MAX];
	struct fnwm_step_cmd c;
	static const char *const env[] = { "PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PYTHONUNBUFFERED=1" };
	size_t len;

	memset(&c, 0, sizeof c);
	c.id = ++op->mon->step_seq;
	c.timeout_ms = (uint32_t)(venv_cfg->step_timeout * 1000);
	len = fnwm_msg_step_encode(buf, sizeof buf, &c, s->cwd,
	    (const char *const *)s->argv, s->argc, env,
	    (int)(sizeof env / sizeof *env));
	if (len == 0)
		return (-1);
	op->mon->step_have = 0;
	return (monitors_send(op->mon, FNWM_MSG_CMD_STEP, buf, len));
}

int
venv_run_steps(struct op *op)
{
	struct monitor *m = op->mon;
	struct op_step *s;
	char *msg;

	while (op->cur < op->nsteps) {
		s = &op->steps[op->cur];
		if (s->argc == 0) {
			venv_progress(op, s->failure, s->progress, "error");
			op->cur++;
			continue;
		}
		if (!op->step_sent) {
			if (!venv_acquire(op))
				return (0);
			if (s->label != NULL)
				venv_progress(op, s->label, s->progress,
				    "info");
			if (venv_send_step(op, s) == -1) {
				venv_release(op);
				op->steps_failed = 1;
				free(op->fail_summary);
				op->fail_summary = xstrdup(
				    "the worker's monitor is not reachable");
				return (1);
			}
			op->step_sent = 1;
			return (0);
		}
		if (m->pid <= 0) {
			venv_release(op);
			op->steps_failed = 1;
			free(op->fail_summary);
			op->fail_summary = xstrdup("the worker's monitor died");
			return (1);
		}
		if (!m->step_have || m->step.id != m->step_seq)
			return (0);
		venv_release(op);
		op->step_sent = 0;
		op->cur++;
		if (m->step.code == 0 && m->step.signal == 0 &&
		    !m->step.timed_out && !m->step.cancelled)
			continue;
		msg =
		    xasprintf("%s%s%s", m->step.timed_out ? "timed out: " : "",
		        m->step_summary[0] != '\0' ? m->step_summary : "failed",
		        "");
		if (s->best_effort) {
			char *text = xasprintf("%s: %s",
			    s->failure != NULL ? s->failure : "step failed",
			    msg);

			log_warnx("worker %s: %s", m->uuid, text);
			venv_progress(op, text, s->progress, "error");
			free(text);
			free(msg);
			continue;
		}
		op->steps_failed = 1;
		free(op->fail_summary);
		op->fail_summary = msg;
		return (1);
	}
	return (1);
}
