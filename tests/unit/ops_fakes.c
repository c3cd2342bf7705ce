/* SPDX-License-Identifier: MIT */
/*
 * The layers below the operations, faked for test_ops (see ops_fakes.h).
 * The operations, their venv steps, the JSON parser, pep508 and wfiles
 * are the real ones; so are libev and the files in the workers dir.
 */
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "xmalloc.h"
#include "ops_fakes.h"

struct fake fake;
static struct monitor_list fake_monitors;
static char fake_venv_python[] = "python3", fake_uv_python[] = "3.11";
static char fake_uuid[] = FAKE_UUID;

static void
fake_log(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		abort();
	va_end(ap);
	if (fake.nlog == FAKE_MAXLOG)
		abort();
	fake.log[fake.nlog++] = s;
}

void
fake_entry(const char *env_path)
{
	json_object_put(fake.entry);
	fake.entry = json_object_new_object();
	json_object_object_add(fake.entry, "uuid",
	    json_object_new_string(FAKE_UUID));
	json_object_object_add(fake.entry, "host",
	    json_object_new_string("127.0.0.1"));
	json_object_object_add(fake.entry, "port", json_object_new_int(9382));
	if (env_path != NULL)
		json_object_object_add(fake.entry, "env_path",
		    json_object_new_string(env_path));
	fake.json_exists = 1;
}

void
fake_setup(void)
{
	memset(&fake, 0, sizeof fake);
	fake.loop = ev_default_loop(0);
	snprintf(fake.dir, sizeof fake.dir, "/tmp/fnwm-test-ops.XXXXXX");
	if (mkdtemp(fake.dir) == NULL)
		abort();
	fake.cfg.workers_dir = fake.dir;
	fake.cfg.stop_timeout = 10;
	fake.cfg.kill_timeout = 5;
	fake.cfg.activate_timeout = 30;
	fake.cfg.probe_connect = 1;
	fake.cfg.probe_reply = 1;
	fake.cfg.venv_python = fake_venv_python;
	fake.cfg.uv_python = fake_uv_python;
	fake.cfg.step_timeout = 600;
	fake.cfg.max_parallel_steps = 2;
	fake.mon.uuid = fake_uuid;
	TAILQ_INIT(&fake.mon.ops);
	TAILQ_INIT(&fake_monitors);
	TAILQ_INSERT_TAIL(&fake_monitors, &fake.mon, entry);
	fake.client.id = FAKE_CLIENT;
	fake.client_here = 1;
	fake.next_pid = 500;
	fake.python = "python3";
	fake_entry(NULL);
	ops_init(fake.loop, &fake.cfg);
}

void
fake_teardown(void)
{
	char *cmd;
	int i;

	ops_cancel_all();
	json_object_put(fake.entry);
	for (i = 0; i < fake.nlog; i++)
		free(fake.log[i]);
	cmd = xasprintf("rm -rf -- '%s'", fake.dir);
	if (system(cmd) != 0)
		abort();
	free(cmd);
}

void
fake_run(void)
{
	ev_run(fake.loop, EVRUN_NOWAIT);
}

void
fake_kick(void)
{
	ops_kick(FAKE_UUID);
	fake_run();
}

struct op *
fake_head(void)
{
	return (TAILQ_FIRST(&fake.mon.ops));
}

void
fake_expire(void)
{
	ev_invoke(fake.loop, &fake_head()->deadline, EV_TIMER);
	fake_run();
}

void
fake_rm_done(int status)
{
	struct op *op = fake_head();

	op->rmw.rstatus = status;
	ev_invoke(fake.loop, &op->rmw, EV_CHILD);
	fake_run();
}

void
fake_state(enum fnwm_worker_state s, pid_t worker, int32_t last_exit)
{
	fake.mon.st.state = (uint16_t)s;
	fake.mon.st.pid = worker;
	fake.mon.st.last_exit = last_exit;
	fake.mon.have_st = 1;
	fake_kick();
}

void
fake_monitor_gone(void)
{
	fake.mon.pid = 0;
	fake_kick();
}

void
fake_step_done(int code, const char *summary)
{
	fake.mon.step_have = 1;
	fake.mon.step.id = fake.mon.step_seq;
	fake.mon.step.code = code;
	snprintf(fake.mon.step_summary, sizeof fake.mon.step_summary, "%s",
	    summary);
	fake_kick();
}

int
fake_saw(const char *prefix)
{
	int i;

	for (i = 0; i < fake.nlog; i++)
		if (strncmp(fake.log[i], prefix, strlen(prefix)) == 0)
			return (i);
	return (-1);
}

const char *
fake_last(void)
{
	return (fake.nlog > 0 ? fake.log[fake.nlog - 1] : "");
}

static char *
fake_path(const char *suffix)
{
	return (xasprintf("%s/worker_%s%s", fake.dir, FAKE_UUID, suffix));
}

void
fake_file(const char *suffix, const char *text)
{
	char *path = fake_path(suffix);
	FILE *f = fopen(path, "w");

	if (f == NULL || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
	free(path);
}

int
fake_file_exists(const char *suffix)
{
	char *path = fake_path(suffix);
	int rc = access(path, F_OK) == 0;

	free(path);
	return (rc);
}

/* hub*.c: what the requester (or everyone) is sent */
struct ws_client *
hub_find(uint64_t id)
{
	return (fake.client_here && id == FAKE_CLIENT ? &fake.client : NULL);
}

void
hub_send_json(struct ws_client *c, json_object *o)
{
	json_object *t, *m;

	if (!json_object_object_get_ex(o, "type", &t))
		abort();
	if (strcmp(json_object_get_string(t), "progress") == 0 &&
	    json_object_object_get_ex(o, "message", &m))
		fake_log("progress:%s", json_object_get_string(m));
	else
		fake_log("%s", json_object_get_string(t));
}

void
hub_broadcast(struct fnwm_outmsg *m)
{
	const char *err;
	json_object *o = fnwm_json_parse((const char *)m->data, m->len, &err);

	if (o == NULL)
		abort();
	hub_send_json(NULL, o);
	json_object_put(o);
}

void
hub_progress(struct ws_client *c, const char *message, double progress,
    int blocking)
{
	fake_log("progress:%s", message);
}

void
hub_broadcast_progress(uint64_t owner, const char *message, double progress,
    int blocking)
{
	fake_log("progress:%s", message);
}

void
hub_error(struct ws_client *c, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) == -1)
		abort();
	va_end(ap);
	fake_log("error:%s", s);
	free(s);
}

/* registry.c */
void
registry_refresh_now(const char *uuid)
{
}

json_object *
registry_entry(const char *uuid)
{
	return (fake.entry);
}

int
registry_is_active(const char *uuid)
{
	return (fake.active);
}

pid_t
registry_live_pid(const char *uuid)
{
	return (fake.live_pid);
}

int
registry_json_exists(const char *uuid)
{
	return (fake.json_exists);
}

void
registry_urgent(const char *uuid, int on)
{
	fake.urgent = on;
}

void
registry_probe_now(const char *uuid)
{
}

/* monitors.c: one record; a start gives it a monitor process */
struct monitor *
monitors_find(const char *uuid)
{
	return (strcmp(uuid, FAKE_UUID) == 0 ? &fake.mon : NULL);
}

struct monitor *
monitors_get(const char *uuid)
{
	return (monitors_find(uuid));
}

struct monitor_list *
monitors_list(void)
{
	return (&fake_monitors);
}

static int
fake_start(struct monitor *m, char **cause)
{
	fake.starts++;
	if (fake.start_fail) {
		*cause = xstrdup("cannot start fnwm-monitor");
		return (-1);
	}
	if (m->pid <= 0) {
		m->pid = fake.next_pid++;
		m->gen++;
	}
	return (0);
}

int
monitors_start(struct monitor *m, char **cause)
{
	return (fake_start(m, cause));
}

int
monitors_start_entry(struct monitor *m, json_object *entry, char **cause)
{
	return (fake_start(m, cause));
}

int
monitors_send(struct monitor *m, uint16_t type, const void *p, size_t len)
{
	if (m->pid <= 0)
		return (-1);
	if (type == FNWM_MSG_CMD_STEP)
		fake.steps_sent++;
	return (0);
}

int
monitors_stop_cmd(struct monitor *m, uint16_t type)
{
	if (fake.ncmds < 32)
		fake.cmds[fake.ncmds++] = type;
	return (m->pid > 0 ? 0 : -1);
}

void
monitors_kill(struct monitor *m)
{
	fake.kills++;
}

int
monitors_exiting(const struct monitor *m)
{
	return (m->phase == MP_EXITING || m->phase == MP_EXIT_SPAWNED);
}

void
monitors_forget_status(const char *uuid)
{
	fake.forgets++;
}

int
monitors_worker_alive(const char *uuid)
{
	return (fake.worker_alive);
}

void
monitors_gc(void)
{
}

/* probe.c: the worker's own stop command */
struct probe *
probe_stop_worker(struct ev_loop *loop, const char *host, int port,
    const char *uuid, double connect_s, double reply_s, probe_cb *cb, void *arg)
{
	fake.stoppers++;
	return (NULL); /* as if already answered */
}

void
probe_cancel(struct probe *p)
{
	abort(); /* never handed one out */
}

/* launch.c, paths.c, autostart.c, limits.c */
char *
launch_data_dir(const struct fnwm_config *cfg, const char *uuid,
    json_object *entry)
{
	return (xasprintf("%s/%s", cfg->workers_dir, uuid));
}

char *
launch_python(const struct fnwm_config *cfg, json_object *entry)
{
	return (xstrdup(fake.python));
}

pid_t
paths_remove_data_dir(const struct fnwm_config *cfg, const char *dir)
{
	fake.rm_dirs++;
	return (fake.rm_pid);
}

void
autostart_done(void)
{
	fake.autostart_done++;
}

void
limits_hit(enum limit_kind k, const char *fmt, ...)
{
}
