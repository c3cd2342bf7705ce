/* SPDX-License-Identifier: MIT */
/*
 * The monitor table (nginx's ngx_processes): one record per worker the
 * master supervises, with its fnwm-monitor process (socketpair on fd 3,
 * fork + exec), the last state it reported, and what the master wants of
 * the worker. A monitor that dies unexpectedly is replaced; the new one
 * adopts the running worker instead of starting a second one.
 */
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "status.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

#define MON_RESPAWN_MAX 5 /* replacements of a crashing monitor in a row */

static struct ev_loop *mons_loop;
static const struct fnwm_config *mons_cfg;
static struct monitor_list mons = TAILQ_HEAD_INITIALIZER(mons);
static ev_timer mons_reap;
static ev_timer mons_readopt;

json_object *
monitors_exit_json(int32_t last_exit)
{
	json_object *e;

	if (last_exit == FNWM_EXIT_NONE)
		return (NULL);
	e = json_object_new_object();
	json_object_object_add(e, "code",
	    last_exit >= 0 ? json_object_new_int(last_exit) : NULL);
	json_object_object_add(e, "signal",
	    last_exit < 0 && last_exit != FNWM_EXIT_UNKNOWN
	        ? json_object_new_int(-last_exit)
	        : NULL);
	return (e);
}

const char *
monitors_state_name(unsigned state)
{
	return (fnwm_worker_state_name(state));
}

struct monitor *
monitors_find(const char *uuid)
{
	struct monitor *m;

	TAILQ_FOREACH(m, &mons, entry)
		if (strcmp(m->uuid, uuid) == 0)
			return (m);
	return (NULL);
}

struct monitor *
monitors_get(const char *uuid)
{
	struct monitor *m = monitors_find(uuid);

	if (m != NULL)
		return (m);
	m = xcalloc(1, sizeof *m);
	m->uuid = xstrdup(uuid);
	m->pidfd = -1;
	TAILQ_INIT(&m->ops);
	TAILQ_INSERT_TAIL(&mons, m, entry);
	return (m);
}

struct monitor_list *
monitors_list(void)
{
	return (&mons);
}

size_t
monitors_running(void)
{
	struct monitor *m;
	size_t n = 0;

	TAILQ_FOREACH(m, &mons, entry)
		if (m->pid > 0)
			n++;
	return (n);
}

/* Frees records that have no process, no operation and no wish. */
static void
mons_reap_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m, *next;

	for (m = TAILQ_FIRST(&mons); m != NULL; m = next) {
		next = TAILQ_NEXT(m, entry);
		if (m->pid > 0 || !TAILQ_EMPTY(&m->ops) || m->want_up)
			continue;
		TAILQ_REMOVE(&mons, m, entry);
		free(m->chan);
		free(m->uuid);
		free(m);
	}
}

void
monitors_gc(void)
{
	if (!ev_is_active(&mons_reap))
		ev_timer_start(mons_loop, &mons_reap);
}

/*
 * Broadcasts a worker_event for st, its state shown as state (the
 * state's own name, or what liveness makes of it).
 */
void
monitors_broadcast_event(const struct monitor *m,
    const struct fnwm_state_msg *st, const char *state)
{
	json_object *o = json_object_new_object();
	struct fnwm_outmsg *msg;

	json_object_object_add(o, "type",
	    json_object_new_string("worker_event"));
	json_object_object_add(o, "uuid", json_object_new_string(m->uuid));
	json_object_object_add(o, "state", json_object_new_string(state));
	json_object_object_add(o, "pid",
	    st->pid > 0 ? json_object_new_int(st->pid) : NULL);
	json_object_object_add(o, "adopted",
	    json_object_new_boolean(st->flags & FNWM_STATE_ADOPTED));
	json_object_object_add(o, "restarts",
	    json_object_new_int64(st->restarts));
	json_object_object_add(o, "last_exit",
	    monitors_exit_json(st->last_exit));
	json_object_object_add(o, "next_restart",
	    st->next_start_ms > 0
	        ? json_object_new_double((double)st->next_start_ms / 1000.0)
	        : NULL);
	msg = outmsg_json(o);
	hub_broadcast(msg);
	outmsg_unref(msg);
	json_object_put(o);
}

static void
mons_event(struct monitor *m, const struct fnwm_state_msg *st)
{
	monitors_broadcast_event(m, st, monitors_state_name(st->state));
}

static int mons_meant_to_run(const char *uuid);

/*
 * Signals the monitor process: ours (a child), or one adopted through its
 * socket (then through its pidfd, which cannot name a reused pid).
 */
static void
mons_signal_monitor(struct monitor *m, int sig)
{
	if (m->pid <= 1 || m->pid == getpid())
		return;
	if (m->adopted_proc && m->pidfd != -1) {
		if (syscall(SYS_pidfd_send_signal, m->pidfd, sig, NULL, 0) ==
		        -1 &&
		    errno != ESRCH)
			log_warn("monitor %s: pidfd_send_signal", m->uuid);
		return;
	}
	(void)kill(m->pid, sig);
}

/* Records the worker pid a monitor reports, with its start time. */
static void
mons_note_worker(struct monitor *m, pid_t pid)
{
	unsigned long long start = 0;

	m->wpid = 0;
	m->wstart = 0;
	if (pid > 1 && fnwm_proc_alive(pid, &start) == 1) {
		m->wpid = pid;
		m->wstart = start;
	}
}

/*
 * Signals the worker (its process group when group is set) only when it
 * is still the process its monitor reported: never pid 0, 1 or ours, never
 * a pid since reused (the start time tells).
 */
static int
mons_signal_worker(struct monitor *m, pid_t pid, int group, int sig)
{
	unsigned long long start = 0;

	if (pid <= 1 || pid == getpid()) {
		log_warnx("worker %s: refusing to signal pid %ld", m->uuid,
		    (long)pid);
		return (-1);
	}
	if (fnwm_proc_alive(pid, &start) != 1)
		return (-1);
	if (pid != m->wpid || start != m->wstart) {
		log_warnx("worker %s: pid %ld is not the worker its monitor "
		          "reported; not signalled",
		    m->uuid, (long)pid);
		return (-1);
	}
	if (group && kill(-pid, sig) == 0)
		return (0);
	return (kill(pid, sig));
}

static void
mons_msg_cb(struct fnwm_chan *ch, const struct fnwm_msg *msg, void *arg)
{
	struct monitor *m = arg;
	const struct fnwm_state_msg *st;
	const struct fnwm_exit_msg *ex;
	char why[256];
	int same;

	switch (msg->hdr.type) {
	case FNWM_MSG_HELLO:
		m->hello = 1;
		m->respawns = 0;
		break;
	case FNWM_MSG_ERROR:
		log_warnx("monitor %s: %s", m->uuid,
		    log_safe(why, sizeof why, msg->payload, msg->len - 1));
		break;
	case FNWM_MSG_MON_STATE:
		st = msg->payload;
		if (st->state >= FNWM_WS_MAX)
			goto bad;
		if (m->fresh) {
			/*
			 * A monitor we just started reports "down" before
			 * it reads our commands: nothing is known yet of the
			 * worker it will adopt or start, so an operation must
			 * not take that for an answer.
			 */
			m->fresh = 0;
			if (st->state == FNWM_WS_DOWN && st->pid == 0) {
				/* It is up, though: what waited for that goes
				 * on. */
				ops_kick(m->uuid);
				break;
			}
		}
		/* A start is answered even when nothing changed: no news. */
		same = m->st_seen && m->st.state == st->state &&
		    m->st.flags == st->flags && m->st.pid == st->pid &&
		    m->st.restarts == st->restarts &&
		    m->st.last_exit == st->last_exit &&
		    m->st.next_start_ms == st->next_start_ms;
		m->st = *st;
		m->have_st = 1;
		m->st_seen = 1;
		mons_note_worker(m, st->pid);
		if (same) {
			ops_kick(m->uuid);
			break;
		}
		if (m->adopted_proc && !m->want_known) {
			/* A monitor found running: keep what it was doing. */
			m->want_up = st->state == FNWM_WS_STARTING ||
			    st->state == FNWM_WS_RUNNING ||
			    st->state == FNWM_WS_BACKOFF ||
			    (st->state == FNWM_WS_STOPPING &&
			        (st->flags & FNWM_STATE_RESTART));
			m->want_known = 1;
			/*
			 * Idle, it may be one its master started and died
			 * before it could say what for: the .status of the
			 * monitor it replaced tells.
			 */
			if (st->state == FNWM_WS_DOWN && st->pid == 0 &&
			    mons_meant_to_run(m->uuid)) {
				log_info("worker %s was meant to run when its "
				         "monitor died; starting it",
				    m->uuid);
				m->want_up = 1;
				(void)monitors_send(m, FNWM_MSG_CMD_START, NULL,
				    0);
			}
		}
		log_info("worker %s: %s%s, pid %d, %u restarts", m->uuid,
		    monitors_state_name(st->state),
		    st->flags & FNWM_STATE_ADOPTED ? " (adopted)" : "", st->pid,
		    st->restarts);
		mons_event(m, st);
		notify_status();
		registry_refresh_now(m->uuid);
		ops_kick(m->uuid);
		break;
	case FNWM_MSG_MON_STEP: {
		const struct fnwm_step_done *d = msg->payload;

		m->step = *d;
		snprintf(m->step_summary, sizeof m->step_summary, "%s",
		    (const char *)msg->payload + sizeof *d);
		m->step_have = 1;
		ops_kick(m->uuid);
		break;
	}
	case FNWM_MSG_MON_EXIT:
		ex = msg->payload;
		m->last_exit = *ex;
		if (ex->signal != 0 || ex->code != 0)
			m->crashes++;
		m->have_exit = 1;
		registry_refresh_now(m->uuid);
		break;
	default:
		goto bad;
	}
	return;
bad:
	/* A monitor that speaks nonsense loses its channel and its life. */
	log_warnx("monitor %s: unexpected %s frame; killing it", m->uuid,
	    fnwm_msg_type_name(msg->hdr.type));
	fnwm_chan_close(ch);
	mons_signal_monitor(m, SIGTERM);
}

static void
mons_close_cb(struct fnwm_chan *ch, int err, void *arg)
{
	struct monitor *m = arg;

	if (err != 0) {
		log_warnx("monitor %s: channel: %s; killing it", m->uuid,
		    strerror(err));
		mons_signal_monitor(m, SIGTERM);
	}
	/* EOF: the child watcher tells why it went. */
}

static int mons_spawn(struct monitor *, char **cause);
static int mons_run_lock_held(const char *uuid);
static pid_t mons_run_lock_holder(const char *uuid);

int
monitors_read_status(const char *uuid, struct fnwm_status *st)
{
	char *path =
	         xasprintf("%s/worker_%s.status", mons_cfg->workers_dir, uuid),
	     *buf;
	size_t len;
	int rc;

	fnwm_status_init(st);
	if (fnwm_read_file(path, FNWM_STATUS_MAX, &buf, &len) == -1) {
		free(path);
		return (-1);
	}
	rc = fnwm_status_decode(buf, len, st);
	if (rc == -1)
		log_debug("%s: not a status file; ignored", path);
	free(buf);
	free(path);
	return (rc);
}

/*
 * What the last .status of uuid's monitor says: FNWM_WS_* of its state,
 * or -1 when there is none or its monitor still runs (then it speaks for
 * itself). *exiting is set when it was stopping its worker to exit.
 */
static int
mons_last_status(const char *uuid, int *exiting)
{
	char *path =
	         xasprintf("%s/worker_%s.status", mons_cfg->workers_dir, uuid),
	     *buf;
	struct wfiles_status st;
	struct stat sb;
	size_t len;

	*exiting = 0;
	/* One from before a reboot says nothing about this boot. */
	if (stat(path, &sb) == -1 || sb.st_mtime < fnwm_boot_time() ||
	    fnwm_read_file(path, FNWM_STATUS_MAX, &buf, &len) == -1) {
		free(path);
		return (-1);
	}
	free(path);
	wfiles_status(buf, len, &st);
	free(buf);
	if (st.monitor > 0 && fnwm_proc_alive(st.monitor, NULL) == 1)
		return (-1);
	*exiting = st.exiting;
	return (st.state);
}

/* Whether the last status says it was stopping its worker to exit. */
static int
mons_was_exiting(const char *uuid)
{
	int exiting;

	return (
	    mons_last_status(uuid, &exiting) == FNWM_WS_STOPPING && exiting);
}

/*
 * Whether a worker that neither runs nor has a monitor was meant to run:
 * its monitor died (with its master) while supervising it. In backoff the
 * restart policy had decided already; a worker that was running died
 * since, and its policy decides now.
 */
static int
mons_meant_to_run(const char *uuid)
{
	unsigned char buf[FNWM_MSG_MAX];
	struct fnwm_config_msg c;
	char *cause = NULL;
	size_t len;
	int exiting, st = mons_last_status(uuid, &exiting);

	if (st == FNWM_WS_BACKOFF || (st == FNWM_WS_STOPPING && !exiting))
		return (1);
	if (st != FNWM_WS_STARTING && st != FNWM_WS_RUNNING)
		return (0);
	if (launch_encode(mons_cfg, uuid, registry_entry(uuid), buf,
	        FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr), &len,
	        &cause) == -1) {
		free(cause);
		return (0);
	}
	memcpy(&c, buf, sizeof c);
	return (c.restart != FNWM_RESTART_NEVER);
}

/*
 * The monitor process is gone. st is its wait status when it was our
 * child; -1 for an adopted monitor (we learn that it died, not how).
 */
static void
mons_gone(struct monitor *m, int st)
{
	char *cause = NULL;
	int clean, unknown = m->adopted_proc && !m->want_known;
	int exiting = m->exiting; /* told to exit: no replacement */

	if (m->chan != NULL)
		fnwm_chan_close(m->chan);
	if (m->pidfd != -1) {
		ev_io_stop(mons_loop, &m->pidw);
		close(m->pidfd);
		m->pidfd = -1;
	}
	m->pid = 0;
	m->hello = 0;
	m->exiting = 0;
	/*
	 * An adopted monitor is not our child: its pidfd says it ended, not
	 * how. One we told to exit has done what it was asked.
	 */
	if (st == -1 && exiting)
		log_info("monitor %s (adopted) exited as asked", m->uuid);
	else if (st == -1)
		log_warnx("monitor %s (adopted) is gone", m->uuid);
	else if (WIFEXITED(st))
		log_info("monitor %s exited with status %d", m->uuid,
		    WEXITSTATUS(st));
	else
		log_warnx("monitor %s killed by signal %d", m->uuid,
		    WTERMSIG(st));
	clean = st != -1 && WIFEXITED(st) &&
	    (WEXITSTATUS(st) == FNWM_MON_EXIT_OK ||
	        WEXITSTATUS(st) == FNWM_MON_EXIT_PERMANENT ||
	        WEXITSTATUS(st) == FNWM_MON_EXIT_LOCKED);
	/*
	 * A monitor re-adopted from an earlier master that died before it
	 * told us what it was doing: if its worker lives, it was meant to.
	 */
	if (unknown && !exiting && mons_run_lock_held(m->uuid)) {
		m->want_up = !mons_was_exiting(m->uuid);
		m->want_known = 1;
		if (!m->want_up && !shutdown_in_progress() &&
		    m->respawns++ < MON_RESPAWN_MAX) {
			/* It was stopping its worker: a new one finishes. */
			if (monitors_start(m, &cause) == -1) {
				log_warnx("monitor %s: %s", m->uuid, cause);
				free(cause);
				cause = NULL;
			} else
				(void)monitors_stop_cmd(m, FNWM_MSG_CMD_EXIT);
		}
	}
	/*
	 * Unexpected deaths are replaced; the replacement adopts the worker
	 * (or applies the restart policy if the worker died meanwhile).
	 */
	if (!exiting && !shutdown_in_progress() && !clean && m->want_up &&
	    m->respawns < MON_RESPAWN_MAX) {
		m->respawns++;
		if (monitors_start(m, &cause) == -1) {
			log_warnx("monitor %s: %s", m->uuid, cause);
			free(cause);
		}
	}
	/*
	 * 101: another monitor holds this worker (one still starting up,
	 * not yet listening): reach it through its socket shortly.
	 */
	if (st != -1 && WIFEXITED(st) &&
	    WEXITSTATUS(st) == FNWM_MON_EXIT_LOCKED &&
	    !shutdown_in_progress()) {
		m->readopt = 25;
		if (!ev_is_active(&mons_readopt))
			ev_timer_again(mons_loop, &mons_readopt);
	}
	registry_refresh_now(m->uuid);
	ops_kick(m->uuid);
	monitors_gc();
}

static void
mons_child_cb(struct ev_loop *loop, ev_child *w, int revents)
{
	ev_child_stop(loop, w);
	mons_gone(w->data, w->rstatus);
}

static void
mons_pidfd_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	mons_gone(w->data, -1);
}

/* Finds fnwm-monitor: FNWM_MONITOR, config, next to us, or libexec. */
static char *
mons_binary(void)
{
	char self[PATH_MAX], *dir, *cand;
	const char *env = getenv("FNWM_MONITOR");
	static const char *rel[] = { "fnwm-monitor", "../monitor/fnwm-monitor",
		"../libexec/fnwm/fnwm-monitor", NULL };
	ssize_t n;
	int i;

	if (env != NULL && *env != '\0')
		return (xstrdup(env));
	if (mons_cfg->monitor_path != NULL)
		return (xstrdup(mons_cfg->monitor_path));
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n > 0) {
		self[n] = '\0';
		dir = strrchr(self, '/');
		if (dir != NULL) {
			*dir = '\0';
			for (i = 0; rel[i] != NULL; i++) {
				cand = xasprintf("%s/%s", self, rel[i]);
				if (access(cand, X_OK) == 0)
					return (cand);
				free(cand);
			}
		}
	}
	return (xstrdup(FNWM_LIBEXECDIR "/fnwm/fnwm-monitor"));
}

static int
mons_spawn(struct monitor *m, char **cause)
{
	char *bin = mons_binary(), *title;
	struct fnwm_hello hello;
	int sv[2];
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		*cause = xasprintf("socketpair: %s", strerror(errno));
		free(bin);
		return (-1);
	}
	title = xasprintf("fnwm-monitor: %s", m->uuid);
	pid = fork();
	if (pid == -1) {
		*cause = xasprintf("fork: %s", strerror(errno));
		close(sv[0]);
		close(sv[1]);
		free(bin);
		free(title);
		return (-1);
	}
	if (pid == 0) {
		/* Child: async-signal-safe only, then exec (no lws, no ev). */
		char *argv[7];

		argv[0] = title;
		argv[1] = (char *)(uintptr_t) "--uuid";
		argv[2] = m->uuid;
		argv[3] = (char *)(uintptr_t) "--workers-dir";
		argv[4] = mons_cfg->workers_dir;
		argv[5] =
		    mons_cfg->debug ? (char *)(uintptr_t) "--debug" : NULL;
		argv[6] = NULL;

		if (sv[1] == FNWM_CHANNEL_FD)
			fnwm_set_cloexec(sv[1], 0);
		else if (dup2(sv[1], FNWM_CHANNEL_FD) == -1)
			_exit(FNWM_MON_EXIT_TEMPORARY);
		fnwm_child_close_from(FNWM_CHANNEL_FD + 1);
		/* lws ignores SIGPIPE; exec would keep that. */
		fnwm_child_reset_signals();
		/* Its own session: a terminal's ^C reaches only the master. */
		setsid();
		execv(bin, argv);
		_exit(FNWM_MON_EXIT_TEMPORARY);
	}
	close(sv[1]);
	free(bin);
	free(title);
	m->pid = pid;
	m->hello = 0;
	m->adopted_proc = 0;
	m->fresh = 1;
	m->have_st = 0;
	m->st_seen = 0;
	m->gen++;
	ev_child_init(&m->cw, mons_child_cb, pid, 0);
	m->cw.data = m;
	ev_child_start(mons_loop, &m->cw);
	if (m->chan == NULL)
		m->chan = xmalloc(sizeof *m->chan);
	fnwm_chan_init(m->chan, mons_loop, sv[0], mons_msg_cb, mons_close_cb,
	    m);
	fnwm_msg_hello_init(&hello, (uint32_t)getpid(), FNWM_ROLE_MASTER, 0);
	(void)fnwm_chan_send(m->chan, FNWM_MSG_HELLO, &hello, sizeof hello);
	log_info("monitor %s started, pid %ld", m->uuid, (long)pid);
	return (0);
}

int
monitors_start(struct monitor *m, char **cause)
{
	return (monitors_start_entry(m, registry_entry(m->uuid), cause));
}

/* Starts the monitor process if needed and sends it the launch config. */
int
monitors_start_entry(struct monitor *m, json_object *entry, char **cause)
{
	unsigned char buf[FNWM_MSG_MAX];
	int existed = m->pid > 0;
	size_t len;

	if (launch_encode(mons_cfg, m->uuid, entry, buf,
	        FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr), &len, cause) == -1)
		return (-1);
	if (m->pid <= 0 && mons_spawn(m, cause) == -1)
		return (-1);
	if (monitors_send(m, FNWM_MSG_CMD_CONFIG, buf, len) == -1) {
		if (existed && m->want_up && !m->exiting &&
		    !shutdown_in_progress() &&
		    (m->chan == NULL || m->chan->closed)) {
			/*
			 * The monitor died a moment ago and its death is not
			 * handled yet: the replacement it then gets is
			 * configured and started.
			 */
			log_debug("monitor %s is gone; its replacement will "
			          "start the worker",
			    m->uuid);
			return (0);
		}
		*cause = xasprintf("monitor channel: %s", strerror(errno));
		return (-1);
	}
	if (m->want_up)
		(void)monitors_send(m, FNWM_MSG_CMD_START, NULL, 0);
	return (0);
}

int
monitors_send(struct monitor *m, uint16_t type, const void *p, size_t len)
{
	if (m->pid <= 0 || m->chan == NULL || m->chan->closed) {
		errno = EPIPE;
		return (-1);
	}
	return (fnwm_chan_send(m->chan, type, p, len));
}

int
monitors_stop_cmd(struct monitor *m, uint16_t type)
{
	struct fnwm_stop_cmd sc;

	sc.term_after_ms = (uint32_t)(mons_cfg->stop_timeout * 1000);
	sc.kill_after_ms = (uint32_t)(mons_cfg->kill_timeout * 1000);
	if (type == FNWM_MSG_CMD_EXIT)
		m->exiting = 1;
	return (monitors_send(m, type, &sc, sizeof sc));
}

void
monitors_forget_status(const char *uuid)
{
	char *path =
	    xasprintf("%s/worker_%s.status", mons_cfg->workers_dir, uuid);
	char buf[FNWM_STATUS_MAX];
	struct fnwm_status st;
	int n;

	/* Down on request, with the history the dead monitor kept. */
	if (monitors_read_status(uuid, &st) == 0 && st.state != FNWM_WS_DOWN &&
	    st.state != FNWM_WS_FAILED) {
		st.state = FNWM_WS_DOWN;
		st.pid = 0;
		st.adopted = 0;
		st.exiting = 0;
		st.since_ms = (uint64_t)(ev_time() * 1000);
		n = fnwm_status_encode(&st, buf, sizeof buf);
		if (n < 0 ||
		    fnwm_atomic_write(path, buf, (size_t)n, 0600) == -1) {
			log_warn("write %s", path);
			if (unlink(path) == -1 && errno != ENOENT)
				log_warn("unlink %s", path);
		}
	}
	free(path);
}

void
monitors_kill(struct monitor *m)
{
	pid_t worker;

	if (m->pid <= 0)
		return;
	log_warnx("monitor %s did not finish in time: SIGKILL", m->uuid);
	m->exiting = 1;
	if (m->have_st && m->st.pid > 0)
		(void)mons_signal_worker(m, m->st.pid,
		    !(m->st.flags & FNWM_STATE_ADOPTED), SIGKILL);
	else if ((worker = mons_run_lock_holder(m->uuid)) > 1) {
		/* It never reported: the run lock names its worker. */
		mons_note_worker(m, worker);
		(void)mons_signal_worker(m, worker, 1, SIGKILL);
	}
	mons_signal_monitor(m, SIGKILL);
}

/* Connects to a running monitor's socket; 0, or -1 when none answers. */
static int
mons_connect(const char *uuid, int dirfd)
{
	struct sockaddr_un sa;
	struct monitor *m;
	struct ucred cred;
	struct fnwm_hello hello;
	socklen_t len = sizeof cred;
	int fd, n;

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	/* Long workers dirs do not fit sun_path: go through the dir fd. */
	n = snprintf(sa.sun_path, sizeof sa.sun_path,
	    "/proc/self/fd/%d/worker_%s.sock", dirfd, uuid);
	if (n < 0 || n >= (int)sizeof sa.sun_path)
		return (-1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (-1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 ||
	    cred.pid <= 1) {
		close(fd);
		return (-1);
	}
	/* Only a monitor of our own user speaks for a worker. */
	if (cred.uid != geteuid()) {
		log_warnx("worker_%s.sock is served by pid %ld of uid %ld, not "
		          "ours; ignored",
		    uuid, (long)cred.pid, (long)cred.uid);
		close(fd);
		return (-1);
	}
	m = monitors_get(uuid);
	if (m->pid > 0) {
		close(fd);
		return (0);
	}
	m->pid = cred.pid;
	m->adopted_proc = 1;
	m->want_known = 0;
	m->fresh = 0;
	m->have_st = 0;
	m->st_seen = 0;
	m->gen++;
	/* Not our child: a pidfd says when it dies. */
	m->pidfd = (int)syscall(SYS_pidfd_open, cred.pid, 0);
	if (m->pidfd != -1) {
		fnwm_set_cloexec(m->pidfd, 1);
		ev_io_init(&m->pidw, mons_pidfd_cb, m->pidfd, EV_READ);
		m->pidw.data = m;
		ev_io_start(mons_loop, &m->pidw);
	}
	if (m->chan == NULL)
		m->chan = xmalloc(sizeof *m->chan);
	fnwm_chan_init(m->chan, mons_loop, fd, mons_msg_cb, mons_close_cb, m);
	fnwm_msg_hello_init(&hello, (uint32_t)getpid(), FNWM_ROLE_MASTER, 0);
	(void)fnwm_chan_send(m->chan, FNWM_MSG_HELLO, &hello, sizeof hello);
	/*
	 * Its configuration may never have reached it (its first master
	 * died first): send it again; running workers are not disturbed.
	 */
	{
		unsigned char buf[FNWM_MSG_MAX];
		char *cause = NULL;
		size_t clen;

		if (launch_encode(mons_cfg, uuid, registry_entry(uuid), buf,
		        FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr), &clen,
		        &cause) == 0)
			(void)monitors_send(m, FNWM_MSG_CMD_CONFIG, buf, clen);
		else {
			log_warnx("monitor %s: %s", uuid, cause);
			free(cause);
		}
	}
	log_info("monitor %s (pid %ld) re-adopted", uuid, (long)cred.pid);
	return (0);
}

/* Whether a process holds worker_<uuid>.run.lock: a worker fnwm started. */
int
monitors_worker_alive(const char *uuid)
{
	return (mons_run_lock_held(uuid));
}

/* The live process holding worker_<uuid>.run.lock, or 0. */
static pid_t
mons_run_lock_holder(const char *uuid)
{
	char *path =
	    xasprintf("%s/worker_%s.run.lock", mons_cfg->workers_dir, uuid);
	pid_t holder = fnwm_flock_holder(path);

	free(path);
	return (holder > 0 && fnwm_proc_alive(holder, NULL) == 1 ? holder : 0);
}

static int
mons_run_lock_held(const char *uuid)
{
	return (mons_run_lock_holder(uuid) > 0);
}

static void
mons_adopt_orphan(const char *uuid, void *arg)
{
	struct monitor *m;
	char *cause = NULL;
	int alive;

	if (monitors_find(uuid) != NULL && monitors_find(uuid)->pid > 0)
		return;
	/* The run lock says a worker lives, .p or not (it may be starting). */
	alive = mons_run_lock_held(uuid);
	if (!alive && !mons_meant_to_run(uuid))
		return;
	/*
	 * Its monitor died with the master: a new one adopts the worker, or
	 * starts it when it died too while it was meant to run.
	 */
	m = monitors_get(uuid);
	m->want_up = 1;
	m->want_known = 1;
	if (monitors_start(m, &cause) == -1) {
		log_warnx("worker %s: %s", uuid, cause);
		free(cause);
	} else if (alive)
		log_info("worker %s was running unsupervised; a monitor "
		         "adopts it",
		    uuid);
	else
		log_info("worker %s was meant to run when its monitor died; "
		         "a monitor starts it",
		    uuid);
}

static int mons_connect(const char *uuid, int dirfd);

/* Whether a process holds worker_<uuid>.lock (a monitor, normally). */
static int
mons_lock_held(const char *uuid)
{
	char *path =
	    xasprintf("%s/worker_%s.lock", mons_cfg->workers_dir, uuid);
	pid_t holder = fnwm_flock_holder(path);

	free(path);
	return (holder > 0);
}

static void
mons_readopt_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct monitor *m;
	char *cause = NULL;
	int dirfd, left = 0;

	dirfd = open(mons_cfg->workers_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	TAILQ_FOREACH(m, &mons, entry) {
		if (m->readopt <= 0)
			continue;
		if (m->pid > 0 ||
		    (dirfd != -1 && mons_connect(m->uuid, dirfd) == 0 &&
		        m->pid > 0))
			m->readopt = 0;
		else if (!mons_lock_held(m->uuid)) {
			/*
			 * Nobody holds the monitor lock now: what did was no
			 * monitor (a worker its killed monitor had forked,
			 * between fork and exec). A new monitor adopts it.
			 */
			m->readopt = 0;
			if (m->want_up && !shutdown_in_progress() &&
			    monitors_start(m, &cause) == -1) {
				log_warnx("monitor %s: %s", m->uuid, cause);
				free(cause);
				cause = NULL;
			}
		} else if (--m->readopt > 0)
			left++;
	}
	if (dirfd != -1)
		close(dirfd);
	if (left == 0)
		ev_timer_stop(loop, t);
}

void
monitors_adopt_all(void)
{
	struct dirent *de;
	char uuid[256];
	size_t n;
	DIR *d;
	int dirfd;

	dirfd = open(mons_cfg->workers_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	d = opendir(mons_cfg->workers_dir);
	if (dirfd == -1 || d == NULL) {
		if (d != NULL)
			closedir(d);
		if (dirfd != -1)
			close(dirfd);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n <= 12 || strncmp(de->d_name, "worker_", 7) != 0 ||
		    strcmp(de->d_name + n - 5, ".sock") != 0 ||
		    n - 12 >= sizeof uuid)
			continue;
		memcpy(uuid, de->d_name + 7, n - 12);
		uuid[n - 12] = '\0';
		if (!fnwm_worker_id_valid(uuid, strlen(uuid)))
			continue;
		(void)mons_connect(uuid, dirfd);
	}
	closedir(d);
	close(dirfd);
	registry_each(mons_adopt_orphan, NULL);
}

void
monitors_detach_all(void)
{
	struct monitor *m;

	/* The monitors see EOF and keep supervising; a new master adopts. */
	TAILQ_FOREACH(m, &mons, entry) {
		if (m->chan != NULL)
			fnwm_chan_close(m->chan);
		if (m->pid > 0 && !m->adopted_proc)
			ev_child_stop(mons_loop, &m->cw);
		if (m->pidfd != -1) {
			ev_io_stop(mons_loop, &m->pidw);
			close(m->pidfd);
			m->pidfd = -1;
		}
		m->pid = 0;
		m->want_up = 0;
	}
}

void
monitors_init(struct ev_loop *loop, const struct fnwm_config *cfg)
{
	mons_loop = loop;
	mons_cfg = cfg;
	ev_timer_init(&mons_reap, mons_reap_cb, 0, 0);
	ev_timer_init(&mons_readopt, mons_readopt_cb, 0, 0.2);
}

void
monitors_free_all(void)
{
	struct monitor *m;

	ev_timer_stop(mons_loop, &mons_reap);
	ev_timer_stop(mons_loop, &mons_readopt);
	while ((m = TAILQ_FIRST(&mons)) != NULL) {
		TAILQ_REMOVE(&mons, m, entry);
		if (m->pid > 0 && !m->adopted_proc)
			ev_child_stop(mons_loop, &m->cw);
		if (m->pidfd != -1) {
			ev_io_stop(mons_loop, &m->pidw);
			close(m->pidfd);
		}
		if (m->chan != NULL)
			fnwm_chan_close(m->chan);
		free(m->chan);
		free(m->uuid);
		free(m);
	}
}
