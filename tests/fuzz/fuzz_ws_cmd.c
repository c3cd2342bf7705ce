/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket command parser and dispatcher (master/ws-cmd.c) with every
 * command of its table (master/ws-cmd-*.c), over the mocked layer below
 * (mock_master.c). The input is up to eight messages separated by 0x1e,
 * sent by one client in turn; the first byte says whether the registry is
 * ready. Files new_worker makes are removed after each input.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"
#include "log.h"
#include "xmalloc.h"
#include "master.h"
#include "fuzz_tmp.h"
#include "mock_master.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_MAX_MSGS 8

static struct fnwm_config fz_cfg;
static struct ws_client fz_client;

static void
fz_cleanup(void)
{
	mock_free();
}

static void
fz_fixture(const char *path, const char *text)
{
	if (fnwm_atomic_write(path, text, strlen(text), 0600) == -1)
		abort();
}

/* The workers dir holds the two known workers' files and nothing else. */
static void
fz_setup(void)
{
	const char *fz_dir = fz_tmpdir("ws");
	char *p;

	atexit(fz_cleanup);
	fnwm_log_init("fuzz", FNWM_LOG_WARN);
	fz_cfg.workers_dir = xasprintf("%s/workers", fz_dir);
	fz_cfg.python = xstrdup("/usr/bin/python3");
	fz_cfg.in_venv_default = 0;
	/* The limits as configured by default. */
	fz_cfg.max_kwargs_bytes = 64 * 1024;
	fz_cfg.max_workers = 10000;
	fz_cfg.max_parallel_steps = 2;
	p = xasprintf("%s/worker_%s", fz_cfg.workers_dir, MOCK_ACTIVE);
	if (fnwm_mkdirs(p, 0700) == -1)
		abort();
	free(p);
	p = xasprintf("%s/worker_%s/nodespace.json", fz_cfg.workers_dir,
	    MOCK_ACTIVE);
	fz_fixture(p, "{\"nodes\": [], \"meta\": {\"id\": \"x\"}}");
	free(p);
	p = xasprintf("%s/worker_%s.json", fz_cfg.workers_dir, MOCK_ACTIVE);
	fz_fixture(p, "{\"type\": \"WorkerJson\"}");
	free(p);
	p = xasprintf("%s/worker_%s.json", fz_cfg.workers_dir, MOCK_INACTIVE);
	fz_fixture(p, "{\"type\": \"WorkerJson\"}");
	free(p);
	fz_client.id = 1;
	fz_client.established = 1;
	mock_init(&fz_cfg, &fz_client);
}

/* Removes what new_worker made: anything not of the two fixtures. */
static void
fz_sweep(void)
{
	DIR *d = opendir(fz_cfg.workers_dir);
	struct dirent *e;
	char *p;

	if (d == NULL)
		abort();
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 ||
		    strcmp(e->d_name, "..") == 0 ||
		    strstr(e->d_name, MOCK_ACTIVE) != NULL ||
		    strstr(e->d_name, MOCK_INACTIVE) != NULL)
			continue;
		p = xasprintf("%s/%s", fz_cfg.workers_dir, e->d_name);
		fz_rmtree(p);
		free(p);
	}
	closedir(d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p, *end, *sep;
	char *msg;
	int n = 0;

	if (fz_cfg.workers_dir == NULL)
		fz_setup();
	if (size == 0)
		return (0);
	mock_counts.ready = data[0] & 1;
	fz_client.subscribed = 0;
	fz_client.want_status = 0;
	p = (const char *)data + 1;
	end = (const char *)data + size;
	while (p <= end && n++ < FZ_MAX_MSGS) {
		sep = memchr(p, 0x1e, (size_t)(end - p));
		if (sep == NULL)
			sep = end;
		/* Its own allocation, so a read past its end is caught. */
		msg = xmalloc((size_t)(sep - p) + 1);
		memcpy(msg, p, (size_t)(sep - p));
		ws_cmd_dispatch(&fz_client, msg, (size_t)(sep - p));
		free(msg);
		p = sep + 1;
	}
	/* Requests that waited for the first scan are answered now. */
	mock_counts.ready = 1;
	ws_cmd_status_ready();
	if (fz_client.want_status)
		abort();
	fz_sweep();
	return (0);
}
