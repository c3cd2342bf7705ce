/* SPDX-License-Identifier: MIT */
/*
 * What lies below the WebSocket command table, for fuzz_ws_cmd: the hub's
 * client list and send queue, the registry, the monitors, the operations,
 * the logs and the master's own exits. Each records what it was asked and
 * checks it against what the real one would require of its caller; none
 * starts a process or touches a file outside the scratch workers dir.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xmalloc.h"
#include "master.h"
#include "mock_master.h"
#include "sample.h"

struct mock_counts mock_counts;

static struct ws_clients mock_clients = TAILQ_HEAD_INITIALIZER(mock_clients);
static json_object *mock_entries[2];
static const char *const mock_uuids[2] = { MOCK_ACTIVE, MOCK_INACTIVE };
static struct monitor mock_monitor;

/* A uuid that reaches an operation must have passed the id check. */
static void
mock_check_uuid(const char *uuid)
{
	if (uuid == NULL || !fnwm_worker_id_valid(uuid, strlen(uuid)))
		abort();
}

void
mock_init(const struct fnwm_config *cfg, struct ws_client *c)
{
	size_t i;

	ws_cmd_init(cfg);
	TAILQ_INSERT_TAIL(&mock_clients, c, entry);
	for (i = 0; i < 2; i++) {
		mock_entries[i] = json_object_new_object();
		json_object_object_add(mock_entries[i], "type",
		    json_object_new_string("WorkerJson"));
		json_object_object_add(mock_entries[i], "uuid",
		    json_object_new_string(mock_uuids[i]));
		json_object_object_add(mock_entries[i], "name",
		    json_object_new_string(mock_uuids[i]));
	}
	mock_monitor.uuid = (char *)MOCK_ACTIVE;
	mock_monitor.pid = 4242;
	mock_monitor.have_st = 1;
	mock_monitor.st.state = FNWM_WS_RUNNING;
	mock_monitor.st.pid = 4243;
	mock_monitor.st.last_exit = -9;
}

void
mock_free(void)
{
	json_object_put(mock_entries[0]);
	json_object_put(mock_entries[1]);
}

/*
 * hub.c: every reply is "pong", identify's {"class": ...} or a JSON object
 * with a "type" string.
 */
struct ws_clients *
hub_clients(void)
{
	return (&mock_clients);
}

void
hub_send(struct ws_client *c, struct fnwm_outmsg *m)
{
	json_object *o, *t;
	const char *err;

	if (c == NULL || m == NULL || m->refs == 0)
		abort();
	mock_counts.sent++;
	if (m->len == 4 && memcmp(m->data, "pong", 4) == 0)
		return;
	o = fnwm_json_parse((const char *)m->data, m->len, &err);
	if (o == NULL || !json_object_is_type(o, json_type_object))
		abort();
	if (!json_object_object_get_ex(o, "class", NULL) &&
	    (!json_object_object_get_ex(o, "type", &t) ||
	        !json_object_is_type(t, json_type_string)))
		abort();
	json_object_put(o);
}

void
hub_send_json(struct ws_client *c, json_object *o)
{
	struct fnwm_outmsg *m = outmsg_json(o);

	hub_send(c, m);
	outmsg_unref(m);
}

/* registry.c: MOCK_ACTIVE runs (with a monitor), MOCK_INACTIVE does not. */
static int
mock_index(const char *uuid)
{
	mock_check_uuid(uuid);
	if (strcmp(uuid, MOCK_ACTIVE) == 0)
		return (0);
	if (strcmp(uuid, MOCK_INACTIVE) == 0)
		return (1);
	return (-1);
}

int
registry_ready(void)
{
	return (mock_counts.ready);
}

struct fnwm_outmsg *
registry_status_msg(void)
{
	static const char text[] =
	    "{\"type\":\"worker_status\",\"active\":[],\"inactive\":[]}";

	return (outmsg_new(text, sizeof text - 1));
}

void
registry_refresh_now(const char *uuid)
{
	mock_check_uuid(uuid);
}

json_object *
registry_entry(const char *uuid)
{
	int i = mock_index(uuid);

	return (i >= 0 ? mock_entries[i] : NULL);
}

int
registry_is_active(const char *uuid)
{
	return (mock_index(uuid) == 0);
}

pid_t
registry_live_pid(const char *uuid)
{
	return (mock_index(uuid) == 0 ? 4243 : 0);
}

size_t
registry_count(void)
{
	return (2);
}

void
registry_each(void (*fn)(const char *uuid, void *), void *arg)
{
	fn(MOCK_ACTIVE, arg);
	fn(MOCK_INACTIVE, arg);
}

/* launch.c: the data dir, always beneath the scratch workers dir. */
char *
launch_data_dir(const struct fnwm_config *cfg, const char *uuid,
    json_object *entry)
{
	mock_check_uuid(uuid);
	return (xasprintf("%s/worker_%s", cfg->workers_dir, uuid));
}

/* monitors-table.c, monitors-status.c */
struct monitor *
monitors_find(const char *uuid)
{
	return (mock_index(uuid) == 0 ? &mock_monitor : NULL);
}

json_object *
monitors_exit_json(int32_t last_exit)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "code",
	    last_exit >= 0 ? json_object_new_int(last_exit) : NULL);
	json_object_object_add(o, "signal",
	    last_exit < 0 ? json_object_new_int(-last_exit) : NULL);
	return (o);
}

/* A history of every kind, as a monitor's .status would give. */
int
monitors_read_status(const char *uuid, struct fnwm_status *st)
{
	struct fnwm_exit_rec r;
	unsigned i;

	mock_check_uuid(uuid);
	fnwm_status_init(st);
	if (mock_index(uuid) != 0)
		return (-1);
	st->state = FNWM_WS_RUNNING;
	for (i = 0; i < FNWM_EXIT_REASONS; i++) {
		r.at_ms = 1733456789000ULL + i;
		r.status = i == 0 ? FNWM_EXIT_UNKNOWN : -(int32_t)i;
		r.ran_ms = i * 1000;
		r.reason = (uint16_t)i;
		fnwm_status_add_exit(st, &r);
	}
	return (0);
}

/* liveness.c: the running mock worker does not answer. */
int
liveness_unresponsive(const char *uuid)
{
	mock_check_uuid(uuid);
	return (mock_index(uuid) == 0);
}

/* launch.c */
int
launch_supervision(const struct fnwm_config *cfg, json_object *entry,
    double *liveness, int *autostart, char **cause)
{
	if (entry == NULL)
		abort();
	*liveness = cfg->liveness_timeout;
	*autostart = cfg->autostart;
	return (0);
}

/* autostart.c: only a listed worker, never touching its file here. */
int
autostart_set(const char *uuid, int on, char **cause)
{
	mock_check_uuid(uuid);
	if (mock_index(uuid) < 0 || (on != 0 && on != 1))
		abort();
	mock_counts.ops++;
	return (0);
}

/* ops.c */
void
ops_submit(enum op_kind kind, const char *uuid, uint64_t client)
{
	mock_check_uuid(uuid);
	if (kind > OP_REPAIR || client == 0)
		abort();
	mock_counts.ops++;
}

void
ops_submit_create(const char *uuid, uint64_t client, json_object *json,
    int made_dir)
{
	ops_submit(OP_CREATE, uuid, client);
	if (json == NULL || !json_object_is_type(json, json_type_object))
		abort();
	json_object_put(json);
}

/* logs.c */
int
logs_request(struct ws_client *c, const char *uuid, int lines, int follow,
    char **cause)
{
	mock_check_uuid(uuid);
	if (lines < 0 || lines > 100000 || (follow != 0 && follow != 1))
		abort();
	if (mock_index(uuid) < 0) {
		*cause = xstrdup("no such worker");
		return (-1);
	}
	mock_counts.logs++;
	return (0);
}

/* shutdown.c */
void
shutdown_begin(const char *why)
{
	mock_counts.exits++;
}

void
shutdown_detach(const char *why)
{
	mock_counts.exits++;
}

/* sample.c: the watchers are the one fuzzed client; no /proc is read. */
static uint64_t mock_watcher;

int
sample_watch(uint64_t client)
{
	if (client == 0)
		abort();
	mock_watcher = client;
	mock_counts.logs++;
	return (0);
}

void
sample_unwatch(uint64_t client)
{
	if (client == 0)
		abort();
	if (client == mock_watcher)
		mock_watcher = 0;
}

json_object *
sample_stats_json(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "type",
	    json_object_new_string("worker_stats"));
	json_object_object_add(o, "workers", json_object_new_object());
	return (o);
}

json_object *
sample_history_json(const char *uuid)
{
	mock_check_uuid(uuid);
	if (mock_index(uuid) < 0)
		abort();
	return (json_object_new_array());
}
