/* SPDX-License-Identifier: MIT */
/* is a FuncNodes worker answering? */
#ifndef FNWM_MASTER_PROBE_H
#define FNWM_MASTER_PROBE_H

#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "config.h"

struct lws;
struct probe;

/* probe.c: is the FuncNodes worker <uuid> answering on host:port? */
enum probe_result {
	PROBE_ACTIVE,   /* answered with our uuid */
	PROBE_MISMATCH, /* answered with another uuid */
	PROBE_FAILED,   /* refused, timed out, bad answer */
};
typedef void probe_cb(void *arg, enum probe_result, const char *detail);
struct probe;
/* The configuration probes follow (worker_manager.ssl: wss://). */
void probe_init(const struct fnwm_config *);
/* Starts a probe; cb is called exactly once, never from inside this call. */
struct probe *probe_start(struct ev_loop *, const char *host, int port,
    const char *uuid, double connect_s, double reply_s, probe_cb *, void *arg);
/*
 * Like probe_start, but once the worker proved to be <uuid> it is sent
 * {"type": "cmd", "cmd": "stop_worker"}; PROBE_ACTIVE then means "sent".
 */
struct probe *probe_stop_worker(struct ev_loop *, const char *host, int port,
    const char *uuid, double connect_s, double reply_s, probe_cb *, void *arg);
/* Cancels a pending probe; its callback is not called. */
void probe_cancel(struct probe *);
/* The lws protocol callback of outgoing probe connections. */
int
probe_lws_callback(struct lws *, int reason, void *user, void *in, size_t len);
/* Probes refused because the worker's host is a name, not an address. */
uint64_t probe_names_refused(void);

#endif
