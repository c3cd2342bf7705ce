/* SPDX-License-Identifier: MIT */
/* the workers known from the workers dir */
#ifndef FNWM_MASTER_REGISTRY_H
#define FNWM_MASTER_REGISTRY_H

#include <sys/types.h>
#include <stddef.h>

#include <ev.h>
#include <json-c/json.h>

#include "config.h"
#include "outmsg.h"

/* registry.c: the workers known from the workers dir */
enum worker_state {
	WORKER_INACTIVE,
	WORKER_ACTIVE,
};
int registry_init(struct ev_loop *, const struct fnwm_config *);
/* Called once, when the first scan (probes included) has finished. */
void registry_on_ready(void (*fn)(void));
/* Called when a worker's files, active state or runstate changed. */
void registry_on_change(void (*fn)(const char *uuid));
/* Called when a probe of uuid ended (its result is in the registry). */
void registry_on_probed(void (*fn)(const char *uuid));
/* Asked whether uuid runs without answering: its entry says so. */
void registry_ask_unresponsive(int (*fn)(const char *uuid));
void registry_shutdown(void);
/* Full directory scan (start-up, inotify overflow). */
void registry_scan_all(void);
/* A file in the workers dir changed; name is its basename. */
void registry_file_event(const char *name);
/* Marks every worker with a .p for a liveness re-check and re-probe. */
void registry_reprobe_all(void);
/* Whether the first scan, probes included, has finished. */
int registry_ready(void);
/* The cached worker_status message (a new reference). */
struct fnwm_outmsg *registry_status_msg(void);
size_t registry_count(void);
/* Wall-clock time (s) of the last change of the worker lists. */
double registry_last_change(void);
/* Re-reads a worker's files soon (debounced; safe from any callback). */
void registry_touch(const char *uuid);
/* Re-reads a worker's files now (not debounced). */
void registry_refresh_now(const char *uuid);
/* The listed JSON of a worker (borrowed, valid until the next refresh). */
json_object *registry_entry(const char *uuid);
int registry_is_active(const char *uuid);
/* The pid of a worker's .p when that process is alive, else 0. */
pid_t registry_live_pid(const char *uuid);
/* While on, file events of uuid are handled at once, not debounced. */
void registry_urgent(const char *uuid, int on);
/* Probes the worker now (if its .p names a live process). */
void registry_probe_now(const char *uuid);
/* Whether worker_<uuid>.json exists, even if it is not valid. */
int registry_json_exists(const char *uuid);
/* Calls fn for every listed worker. */
void registry_each(void (*fn)(const char *uuid, void *), void *arg);

#endif
