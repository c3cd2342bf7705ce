/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the worker registry over real files in a temporary
 * workers dir, with a fake probe (answered by the test), a fake hub that
 * keeps what was broadcast, and the hooks the layers above register.
 */
#include <sys/stat.h>
#include <sys/wait.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "master.h"

#define UUID_A "aaaa0001"
#define UUID_B "bbbb0002"

static char tmpdir[] = "/tmp/fnwm-test-registry-XXXXXX";
static struct fnwm_config cfg;
static struct ev_loop *loop;

/* The fakes: a probe the test answers, the hub, notify. */
struct probe {
	char uuid[64], host[64];
	int port;
	probe_cb *cb;
	void *arg;
	int live;
};
static struct probe probes[8];
static int nprobes, cancelled, notified, probed;
static char broadcast[4096];
static int nbroadcasts, ready_calls;
static char unresponsive[64]; /* the worker liveness calls unresponsive */
static char changes[16][64];
static int nchanges;

struct probe *
probe_start(struct ev_loop *l, const char *host, int port, const char *uuid,
    double connect_s, double reply_s, probe_cb *cb, void *arg)
{
	struct probe *p = &probes[nprobes++ % 8];

	snprintf(p->uuid, sizeof p->uuid, "%s", uuid);
	snprintf(p->host, sizeof p->host, "%s", host);
	p->port = port;
	p->cb = cb;
	p->arg = arg;
	p->live = 1;
	return (p);
}

void
probe_cancel(struct probe *p)
{
	p->live = 0;
	cancelled++;
}

void
hub_broadcast(struct fnwm_outmsg *m)
{
	snprintf(broadcast, sizeof broadcast, "%.*s", (int)m->len,
	    (const char *)m->data);
	nbroadcasts++;
}

void
notify_status(void)
{
	notified++;
}

static void
on_probed(const char *uuid)
{
	probed++;
}

static int
is_unresponsive(const char *uuid)
{
	return (strcmp(uuid, unresponsive) == 0);
}

static void
on_ready(void)
{
	ready_calls++;
}

static void
on_change(const char *uuid)
{
	snprintf(changes[nchanges++ % 16], sizeof changes[0], "%s", uuid);
}

static int
changed(const char *uuid)
{
	int i;

	for (i = 0; i < nchanges && i < 16; i++)
		if (strcmp(changes[i], uuid) == 0)
			return (1);
	return (0);
}

/* The last probe started for uuid, still live; fails the test if none. */
static struct probe *
probe_of(const char *uuid)
{
	int i;

	for (i = nprobes - 1; i >= 0 && i >= nprobes - 8; i--)
		if (probes[i % 8].live && strcmp(probes[i % 8].uuid, uuid) == 0)
			return (&probes[i % 8]);
	fail_msg("no probe of %s", uuid);
	return (NULL);
}

static void
answer(const char *uuid, enum probe_result r)
{
	struct probe *p = probe_of(uuid);

	p->live = 0;
	p->cb(p->arg, r, r == PROBE_ACTIVE ? "answered" : "refused");
}

static void
put(const char *uuid, const char *suffix, const char *text)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof path, "%s/worker_%s%s", tmpdir, uuid, suffix);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int
exists(const char *uuid, const char *suffix)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof path, "%s/worker_%s%s", tmpdir, uuid, suffix);
	return (lstat(path, &st) == 0);
}

static void
put_json(const char *uuid, int port)
{
	char text[256];

	snprintf(text, sizeof text,
	    "{\"type\":\"WSWorker\",\"uuid\":\"%s\",\"name\":\"w-%s\","
	    "\"host\":\"127.0.0.1\",\"port\":%d}",
	    uuid, uuid, port);
	put(uuid, ".json", text);
}

/* The worker_status message as text. */
static char *
status_text(void)
{
	struct fnwm_outmsg *m = registry_status_msg();
	char *s = strndup((const char *)m->data, m->len);

	outmsg_unref(m);
	return (s);
}

/* Runs what the loop has due now (the status flush). */
static void
run_loop(void)
{
	ev_run(loop, EVRUN_NOWAIT);
}

static int
setup(void **state)
{
	char cmd[600];

	snprintf(cmd, sizeof cmd, "rm -f %s/worker_*", tmpdir);
	if (system(cmd) != 0)
		return (-1);
	memset(&cfg, 0, sizeof cfg);
	cfg.workers_dir = tmpdir;
	cfg.debounce = 0.01;
	cfg.probe_connect = 1;
	cfg.probe_reply = 1;
	cfg.stale_p_grace = 10;
	nprobes = cancelled = notified = probed = nbroadcasts = 0;
	ready_calls = nchanges = 0;
	broadcast[0] = '\0';
	loop = ev_loop_new(EVFLAG_AUTO);
	registry_on_ready(on_ready);
	registry_on_change(on_change);
	registry_on_probed(on_probed);
	registry_ask_unresponsive(is_unresponsive);
	unresponsive[0] = '\0';
	return (registry_init(loop, &cfg));
}

static int
teardown(void **state)
{
	registry_shutdown();
	ev_loop_destroy(loop);
	return (0);
}

/* Files without a live process: listed inactive, ready without a probe. */
static void
test_scan_lists_inactive(void **state)
{
	char *s;

	put_json(UUID_A, 9001);
	put(UUID_B, ".json", "{\"type\":\"WSWorker\",\"uuid\":\"other\"}");
	put("cccc0003", ".p", "12345");
	put("bad id", ".json", "{}");
	registry_scan_all();
	assert_int_equal(registry_ready(), 1);
	assert_int_equal(ready_calls, 1);
	assert_int_equal(nprobes, 0);
	/*
	 * B's uuid does not match its name: not listed, but counted (its
	 * file exists); C had no JSON and is forgotten.
	 */
	assert_int_equal(registry_count(), 2);
	assert_non_null(registry_entry(UUID_A));
	assert_null(registry_entry(UUID_B));
	assert_int_equal(registry_is_active(UUID_A), 0);
	/* An orphaned .p would stop a worker of that uuid from starting. */
	assert_false(exists("cccc0003", ".p"));
	s = status_text();
	assert_string_equal(s,
	    "{\"type\":\"worker_status\",\"active\":[],\"inactive\":["
	    "{\"type\":\"WSWorker\",\"uuid\":\"aaaa0001\",\"name\":"
	    "\"w-aaaa0001\",\"host\":\"127.0.0.1\",\"port\":9001}]}");
	run_loop();
	assert_int_equal(nbroadcasts, 1);
	assert_string_equal(broadcast, s);
	assert_true(notified >= 1);
	assert_true(changed(UUID_A));
	free(s);
}

/* A live .p: probed at its JSON's address; the answer makes it active. */
static void
test_probe_makes_active(void **state)
{
	char pid[32], *s, want[128], path[512];
	struct probe *p;

	snprintf(pid, sizeof pid, "%ld", (long)getpid());
	put_json(UUID_A, 9002);
	put(UUID_A, ".p", pid);
	registry_scan_all();
	/* The first scan waits for its probes. */
	assert_int_equal(registry_ready(), 0);
	p = probe_of(UUID_A);
	assert_string_equal(p->host, "127.0.0.1");
	assert_int_equal(p->port, 9002);
	nchanges = 0;
	answer(UUID_A, PROBE_ACTIVE);
	assert_int_equal(registry_ready(), 1);
	assert_int_equal(ready_calls, 1);
	assert_int_equal(probed, 1);
	assert_int_equal(registry_is_active(UUID_A), 1);
	assert_int_equal(registry_live_pid(UUID_A), getpid());
	assert_true(changed(UUID_A));
	s = status_text();
	snprintf(want, sizeof want,
	    "\"port\":9002,\"pid\":%s}],\"inactive\":[]}", pid);
	assert_non_null(strstr(s, "\"active\":[{\"type\":\"WSWorker\""));
	assert_non_null(strstr(s, want));
	run_loop();
	assert_string_equal(broadcast, s);
	free(s);
	/* Running but not answering (liveness says so): the entry tells. */
	snprintf(unresponsive, sizeof unresponsive, "%s", UUID_A);
	registry_refresh_now(UUID_A);
	s = status_text();
	assert_non_null(strstr(s, "\"unresponsive\":true"));
	free(s);
	unresponsive[0] = '\0';
	/* Its process gone (the .p removed): inactive again, at once. */
	snprintf(path, sizeof path, "%s/worker_%s.p", tmpdir, UUID_A);
	assert_int_equal(unlink(path), 0);
	registry_refresh_now(UUID_A);
	assert_int_equal(registry_is_active(UUID_A), 0);
	assert_int_equal(registry_live_pid(UUID_A), 0);
	s = status_text();
	assert_non_null(strstr(s, "\"active\":[],\"inactive\":[{"));
	assert_null(strstr(s, "\"pid\""));
	free(s);
}

/* A .p whose process has exited is stale: removed, the worker inactive. */
static void
test_dead_pid_is_stale(void **state)
{
	char pid[32];
	pid_t child = fork();

	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	snprintf(pid, sizeof pid, "%ld", (long)child);
	put_json(UUID_A, 9003);
	put(UUID_A, ".p", pid);
	registry_scan_all();
	assert_int_equal(nprobes, 0);
	assert_false(exists(UUID_A, ".p"));
	assert_true(exists(UUID_A, ".json"));
	assert_int_equal(registry_count(), 1);
	assert_int_equal(registry_is_active(UUID_A), 0);
}

/* A file being rewritten keeps its last good content; a removed one goes. */
static void
test_corrupt_then_removed(void **state)
{
	json_object *e, *v;
	char path[512];

	put_json(UUID_A, 9004);
	registry_scan_all();
	put(UUID_A, ".json", "{\"type\":\"WSWork");
	registry_refresh_now(UUID_A);
	e = registry_entry(UUID_A);
	assert_non_null(e);
	assert_true(json_object_object_get_ex(e, "port", &v));
	assert_int_equal(json_object_get_int(v), 9004);
	snprintf(path, sizeof path, "%s/worker_%s.json", tmpdir, UUID_A);
	assert_int_equal(unlink(path), 0);
	registry_refresh_now(UUID_A);
	assert_null(registry_entry(UUID_A));
	assert_int_equal(registry_count(), 0);
	assert_false(registry_json_exists(UUID_A));
}

/* A runstate file is news for the operations, not an entry. */
static void
test_runstate_event_tells_change(void **state)
{
	registry_scan_all();
	nchanges = 0;
	registry_file_event("worker_" UUID_B ".runstate");
	assert_int_equal(nchanges, 1);
	assert_string_equal(changes[0], UUID_B);
	assert_int_equal(registry_count(), 0);
	/* A name that is no worker file is ignored. */
	registry_file_event("config.json");
	assert_int_equal(nchanges, 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_scan_lists_inactive, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_probe_makes_active, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_dead_pid_is_stale, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_then_removed,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_runstate_event_tells_change, setup, teardown),
	};
	char cmd[600];
	int rc;

	if (mkdtemp(tmpdir) == NULL)
		return (1);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmpdir);
	if (system(cmd) != 0)
		rc = 1;
	return (rc);
}
