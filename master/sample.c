/* SPDX-License-Identifier: MIT */
/*
 * CPU and memory of every running worker's process tree, for the
 * dashboard. Nothing runs until a client asks for worker_stats: the first
 * watcher starts a timer, each tick reads /proc once (proctree.c), sends
 * the figures to the watchers and folds them into a per-worker ring of
 * one point per SAMPLE_STEP_TICKS ticks, one hour long. Watchers are kept
 * by client id and looked up at each tick, so a client that went away is
 * dropped there; with none left the timer stops and the master is idle
 * again. The rings outlive the watchers (a dashboard opened again shows
 * the last hour it saw), bounded by SAMPLE_RING points per listed worker
 * and freed when the worker leaves the lists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ev.h>

#include "log.h"
#include "xmalloc.h"
#include "hub.h"
#include "monitors.h"
#include "proctree.h"
#include "registry.h"
#include "sample.h"

#define SAMPLE_WATCHERS_MAX 64
#define SAMPLE_BUCKETS      1024

struct sample_point {
	uint32_t time;    /* wall clock, s */
	uint32_t rss_kib; /* highest of the step */
	uint16_t cpu_dpc; /* mean of the step, in tenths of a percent */
	uint16_t nproc;
};

struct sample_rec {
	char *uuid;
	unsigned seen; /* tick that found it listed */
	pid_t pid;     /* root of the tree, 0 when not running */
	unsigned long long start, ticks;
	double at;  /* monotonic time of ticks */
	double cpu; /* percent of one CPU, < 0 while unknown */
	unsigned long long rss;
	unsigned nproc;
	double step_cpu; /* sums of the step under way */
	unsigned long long step_rss;
	unsigned step_n, step_nproc;
	struct sample_point *ring; /* SAMPLE_RING, allocated when running */
	unsigned head, count;
	struct sample_rec *next; /* in its bucket */
};

static struct sample_rec *sample_buckets[SAMPLE_BUCKETS];
static uint64_t sample_subs[SAMPLE_WATCHERS_MAX];
static unsigned sample_nsubs, sample_tick_no;
static ev_timer sample_timer;
static struct proc_table sample_procs;
static struct proc_usage sample_self;
static double sample_self_uptime;
static double sample_boot; /* wall clock time of the boot, s */

static unsigned
sample_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return (h % SAMPLE_BUCKETS);
}

static struct sample_rec *
sample_find(const char *uuid, int create)
{
	unsigned b = sample_hash(uuid);
	struct sample_rec *r;

	for (r = sample_buckets[b]; r != NULL; r = r->next)
		if (strcmp(r->uuid, uuid) == 0)
			return (r);
	if (!create)
		return (NULL);
	r = xcalloc(1, sizeof *r);
	r->uuid = xstrdup(uuid);
	r->cpu = -1;
	r->next = sample_buckets[b];
	sample_buckets[b] = r;
	return (r);
}

static double
sample_monotonic(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (ts.tv_sec + ts.tv_nsec / 1e9);
}

/* Ends a step: its mean CPU and highest memory become a ring point. */
static void
sample_push(struct sample_rec *r)
{
	struct sample_point *pt;
	double cpu = r->step_cpu / r->step_n * 10.0;

	if (r->ring == NULL)
		r->ring = xreallocarray(NULL, SAMPLE_RING, sizeof *r->ring);
	pt = &r->ring[(r->head + r->count) % SAMPLE_RING];
	if (r->count == SAMPLE_RING)
		r->head = (r->head + 1) % SAMPLE_RING;
	else
		r->count++;
	pt->time = (uint32_t)time(NULL);
	pt->cpu_dpc = (uint16_t)(cpu > 65535 ? 65535 : cpu + 0.5);
	pt->rss_kib =
	    (uint32_t)(r->step_rss / 1024 > UINT32_MAX ? UINT32_MAX
	                                               : r->step_rss / 1024);
	pt->nproc = (uint16_t)(r->step_nproc > 65535 ? 65535 : r->step_nproc);
	r->step_cpu = 0;
	r->step_rss = 0;
	r->step_n = r->step_nproc = 0;
}

/*
 * The worker's process: as its monitor reported it, else the live pid of
 * its .p (a worker running without a monitor of ours).
 */
static pid_t
sample_pid(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	if (m != NULL && m->pid > 0 && m->st.pid > 0)
		return (m->st.pid);
	return (registry_live_pid(uuid));
}

/* One look at a worker: its tree's figures against the last look. */
static void
sample_one(const char *uuid, void *arg)
{
	struct sample_rec *r = sample_find(uuid, 1);
	pid_t pid = sample_pid(uuid);
	struct proc_usage u;
	double now = *(const double *)arg;
	long hz = sysconf(_SC_CLK_TCK);

	r->seen = sample_tick_no;
	if (pid <= 0 || proctree_usage(&sample_procs, pid, &u) == -1) {
		r->pid = 0;
		r->cpu = -1;
		return;
	}
	/*
	 * A new process, a reused pid, or a look long ago (nobody watched):
	 * no CPU figure before two looks in a row.
	 */
	if (pid != r->pid || u.root_start != r->start || u.ticks < r->ticks ||
	    now - r->at > 3 * SAMPLE_INTERVAL) {
		r->cpu = -1;
		r->step_cpu = 0;
		r->step_rss = 0;
		r->step_n = r->step_nproc = 0;
	} else if (now > r->at)
		r->cpu = (double)(u.ticks - r->ticks) / (double)hz /
		    (now - r->at) * 100.0;
	r->pid = pid;
	r->start = u.root_start;
	r->ticks = u.ticks;
	r->at = now;
	r->rss = u.rss_bytes;
	r->nproc = u.nproc;
	if (r->cpu < 0)
		return;
	r->step_cpu += r->cpu;
	if (u.rss_bytes > r->step_rss)
		r->step_rss = u.rss_bytes;
	if (u.nproc > r->step_nproc)
		r->step_nproc = u.nproc;
	if (++r->step_n == SAMPLE_STEP_TICKS)
		sample_push(r);
}

static void
sample_rec_free(struct sample_rec *r)
{
	free(r->uuid);
	free(r->ring);
	free(r);
}

/* Drops the records of workers no longer listed. */
static void
sample_forget_gone(void)
{
	struct sample_rec **rp, *r;
	unsigned b;

	for (b = 0; b < SAMPLE_BUCKETS; b++) {
		for (rp = &sample_buckets[b]; (r = *rp) != NULL;) {
			if (r->seen != sample_tick_no) {
				*rp = r->next;
				sample_rec_free(r);
			} else
				rp = &r->next;
		}
	}
}

/* The manager's own process: memory and uptime. */
static void
sample_manager(void)
{
	double up = 0;
	FILE *f = fopen("/proc/uptime", "re");

	if (f != NULL) {
		if (fscanf(f, "%lf", &up) != 1)
			up = 0;
		fclose(f);
	}
	sample_boot = up > 0 ? ev_time() - up : 0;
	if (proctree_usage(&sample_procs, getpid(), &sample_self) == -1)
		memset(&sample_self, 0, sizeof sample_self);
	sample_self_uptime =
	    up - (double)sample_self.root_start / sysconf(_SC_CLK_TCK);
	if (sample_self_uptime < 0)
		sample_self_uptime = 0;
}

static void
sample_take(void)
{
	double now = sample_monotonic();

	if (proctree_scan(&sample_procs, "/proc") == -1) {
		log_warn("sampling /proc");
		return;
	}
	sample_tick_no++;
	registry_each(sample_one, &now);
	sample_forget_gone();
	sample_manager();
}

/* Keeps the watchers that are still connected; 1 when any is. */
static int
sample_prune(void)
{
	unsigned i, n = 0;

	for (i = 0; i < sample_nsubs; i++)
		if (hub_find(sample_subs[i]) != NULL)
			sample_subs[n++] = sample_subs[i];
	sample_nsubs = n;
	if (n == 0 && ev_is_active(&sample_timer))
		ev_timer_stop(EV_DEFAULT, &sample_timer);
	return (n > 0);
}

static void
sample_tick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct fnwm_outmsg *m;
	json_object *o;
	struct ws_client *c;
	unsigned i;

	if (!sample_prune())
		return;
	sample_take();
	o = sample_stats_json();
	m = outmsg_json(o);
	json_object_put(o);
	for (i = 0; i < sample_nsubs; i++)
		if ((c = hub_find(sample_subs[i])) != NULL)
			hub_send(c, m);
	outmsg_unref(m);
}

int
sample_watch(uint64_t client)
{
	unsigned i;

	for (i = 0; i < sample_nsubs; i++)
		if (sample_subs[i] == client)
			return (0);
	if (sample_nsubs == SAMPLE_WATCHERS_MAX && !sample_prune())
		return (-1);
	if (sample_nsubs == SAMPLE_WATCHERS_MAX)
		return (-1);
	sample_subs[sample_nsubs++] = client;
	if (!ev_is_active(&sample_timer)) {
		ev_timer_init(&sample_timer, sample_tick_cb, SAMPLE_INTERVAL,
		    SAMPLE_INTERVAL);
		ev_timer_start(EV_DEFAULT, &sample_timer);
		/* Memory at once; CPU from the next tick on. */
		sample_take();
	}
	return (0);
}

void
sample_unwatch(uint64_t client)
{
	unsigned i;

	for (i = 0; i < sample_nsubs; i++)
		if (sample_subs[i] == client) {
			sample_subs[i] = sample_subs[--sample_nsubs];
			break;
		}
	(void)sample_prune();
}

unsigned
sample_watchers(void)
{
	(void)sample_prune();
	return (sample_nsubs);
}

static json_object *
sample_manager_json(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "version",
	    json_object_new_string(FNWM_VERSION));
	json_object_object_add(o, "pid", json_object_new_int(getpid()));
	json_object_object_add(o, "uptime",
	    json_object_new_double(sample_self_uptime));
	json_object_object_add(o, "rss",
	    json_object_new_int64((int64_t)sample_self.rss_bytes));
	json_object_object_add(o, "monitors",
	    json_object_new_int64((int64_t)monitors_running()));
	json_object_object_add(o, "clients",
	    json_object_new_int64((int64_t)hub_client_count()));
	json_object_object_add(o, "workers",
	    json_object_new_int64((int64_t)registry_count()));
	json_object_object_add(o, "watchers",
	    json_object_new_int64(sample_nsubs));
	return (o);
}

json_object *
sample_stats_json(void)
{
	json_object *o = json_object_new_object(), *ws, *w;
	struct sample_rec *r;
	unsigned b;

	json_object_object_add(o, "type",
	    json_object_new_string("worker_stats"));
	json_object_object_add(o, "interval",
	    json_object_new_double(SAMPLE_INTERVAL));
	json_object_object_add(o, "time", json_object_new_double(ev_time()));
	json_object_object_add(o, "manager", sample_manager_json());
	ws = json_object_new_object();
	for (b = 0; b < SAMPLE_BUCKETS; b++)
		for (r = sample_buckets[b]; r != NULL; r = r->next) {
			if (r->pid <= 0)
				continue;
			w = json_object_new_object();
			json_object_object_add(w, "pid",
			    json_object_new_int(r->pid));
			json_object_object_add(w, "cpu",
			    r->cpu >= 0 ? json_object_new_double(
			                      (double)(long)(r->cpu * 10) / 10)
			                : NULL);
			json_object_object_add(w, "rss",
			    json_object_new_int64((int64_t)r->rss));
			json_object_object_add(w, "procs",
			    json_object_new_int(r->nproc));
			json_object_object_add(w, "started",
			    sample_boot > 0
			        ? json_object_new_double(sample_boot +
			              (double)r->start / sysconf(_SC_CLK_TCK))
			        : NULL);
			json_object_object_add(ws, r->uuid, w);
		}
	json_object_object_add(o, "workers", ws);
	return (o);
}

json_object *
sample_history_json(const char *uuid)
{
	json_object *list = json_object_new_array(), *p;
	struct sample_rec *r = sample_find(uuid, 0);
	const struct sample_point *pt;
	unsigned i;

	for (i = 0; r != NULL && r->ring != NULL && i < r->count; i++) {
		pt = &r->ring[(r->head + i) % SAMPLE_RING];
		p = json_object_new_array_ext(4);
		json_object_array_add(p, json_object_new_int64(pt->time));
		json_object_array_add(p,
		    json_object_new_double(pt->cpu_dpc / 10.0));
		json_object_array_add(p,
		    json_object_new_int64((int64_t)pt->rss_kib * 1024));
		json_object_array_add(p, json_object_new_int(pt->nproc));
		json_object_array_add(list, p);
	}
	return (list);
}

void
sample_shutdown(void)
{
	struct sample_rec *r;
	unsigned b;

	if (ev_is_active(&sample_timer))
		ev_timer_stop(EV_DEFAULT, &sample_timer);
	sample_nsubs = 0;
	for (b = 0; b < SAMPLE_BUCKETS; b++)
		while ((r = sample_buckets[b]) != NULL) {
			sample_buckets[b] = r->next;
			sample_rec_free(r);
		}
	proctree_free(&sample_procs);
}
