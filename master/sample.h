/* SPDX-License-Identifier: MIT */
/* CPU and memory of the workers, sampled while a dashboard watches */
#ifndef FNWM_MASTER_SAMPLE_H
#define FNWM_MASTER_SAMPLE_H

#include <stdint.h>

#include <json-c/json.h>

/* sample.c */
#define SAMPLE_INTERVAL   2.0 /* s between two looks at /proc */
#define SAMPLE_STEP_TICKS 5   /* one history point per 5 looks: 10 s */
#define SAMPLE_RING       360 /* history points per worker: one hour */

/*
 * The client with this id receives a worker_stats message every
 * SAMPLE_INTERVAL; the first watcher starts the sampling. 0, or -1 when
 * too many clients watch already.
 */
int sample_watch(uint64_t client);
/* It no longer does; the last one stops the sampling. */
void sample_unwatch(uint64_t client);
/* Clients watching now. */
unsigned sample_watchers(void);
/* The latest worker_stats message (a new object, caller puts). */
json_object *sample_stats_json(void);
/* uuid's history points, oldest first: [[time, cpu %, rss, procs], ...]. */
json_object *sample_history_json(const char *uuid);
/* Stops the sampling and frees every ring (shutdown). */
void sample_shutdown(void);

#endif
