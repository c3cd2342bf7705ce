/* SPDX-License-Identifier: MIT */
/*
 * What the registry's files share (registry.c the table and its queries,
 * registry-scan.c file events and scans, registry-refresh.c reading one
 * worker's files, registry-probe.c the probe queue, registry-status.c the
 * worker_status message); nothing outside registry*.c includes this.
 */
#ifndef FNWM_MASTER_REGISTRY_INT_H
#define FNWM_MASTER_REGISTRY_INT_H

#include <sys/queue.h>
#include <sys/types.h>
#include <time.h>

#include <ev.h>
#include <json-c/json.h>

#include "master.h"

struct worker {
	char *uuid;
	char *text; /* listed JSON (pid from the .p); NULL = not listed */
	json_object *entry; /* parsed text, cached until the loop sleeps */
	int cached;
	enum worker_state state;
	int json_seen;             /* a worker_<uuid>.json exists */
	struct timespec bad_mtime; /* last corrupt version reported */
	off_t bad_size;
	int has_p;
	pid_t p_pid;     /* 0 when the .p is unparsable */
	pid_t last_pid;  /* p_pid at the previous refresh */
	int force_probe; /* probe even if nothing changed (periodic) */
	int urgent;      /* someone waits for it: no debounce */
	struct probe *probe;
	int probe_again;
	int queued;
	int dirty;
	int pidfd;
	pid_t watched;
	ev_io pidw;
	struct worker *hnext;
	TAILQ_ENTRY(worker) all;
	TAILQ_ENTRY(worker) dirtyq;
	TAILQ_ENTRY(worker) probeq;
	TAILQ_ENTRY(worker) cacheq;
};
TAILQ_HEAD(worker_list, worker);

/* registry.c */
extern struct ev_loop *registry_loop;
extern const struct fnwm_config *registry_cfg;
extern struct worker_list registry_all;
extern struct worker_list registry_dirty; /* to re-read */
extern size_t registry_nworkers;
extern int registry_scanned; /* the first scan, probes included, ended */
extern ev_timer registry_debounce, registry_flush, registry_init_deadline;
struct worker *registry_find(const char *uuid);
/* The worker of uuid, made when it is not known yet. */
struct worker *registry_get(const char *uuid);
/* Its entry parsed, until the loop next sleeps; NULL when not listed. */
json_object *registry_parsed(struct worker *);
void registry_drop_parse(struct worker *);
/* Forgets w (and its probe, pidfd, queues). */
void registry_remove(struct worker *);
/* "<workers dir>/worker_<uuid><suffix>", allocated. */
char *registry_path(const char *uuid, const char *suffix);
void registry_set_state(struct worker *, enum worker_state);
/* Tell the hooks (registry_on_ready, _on_change, _on_probed). */
void registry_tell_ready(void);
void registry_changed(const char *uuid);
void registry_tell_probed(const char *uuid);
/* What registry_ask_unresponsive's function says of uuid (0 without). */
int registry_unresponsive(const char *uuid);

/* registry-scan.c */
void registry_debounce_cb(struct ev_loop *, ev_timer *, int);

/* registry-refresh.c */
extern long long registry_btime; /* boot time, s */
extern long registry_hz;         /* clock ticks a second */
/* Re-reads a worker's files and decides what its .p means. */
void registry_refresh(struct worker *);
void registry_unwatch_pid(struct worker *);

/* registry-probe.c */
void registry_want_probe(struct worker *);
void registry_unqueue(struct worker *);
/* Starts queued probes while fewer than the maximum are in flight. */
void registry_pump(void);
void registry_init_deadline_cb(struct ev_loop *, ev_timer *, int);

/* registry-status.c */
/* The lists changed: rebuild the message and broadcast it soon. */
void registry_status_changed(void);
void registry_flush_cb(struct ev_loop *, ev_timer *, int);
void registry_status_free(void);

#endif
