/* SPDX-License-Identifier: MIT */
/*
 * Starting and commanding monitors: fork + exec of fnwm-monitor with its
 * end of a socketpair on fd 3, its launch configuration, the commands the
 * operations send, and the signals of last resort (to a monitor, or to
 * the worker its monitor reported, never to a pid since reused).
 */
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"
#include "monitors-int.h"
#include "monitors-phase.h"

/*
 * Signals the monitor process: ours (a child), or one adopted through its
 * socket (then through its pidfd, which cannot name a reused pid).
 */
void
monitors_signal_monitor(struct monitor *m, int sig)
{
	if (m->pid <= 1 || m->pid == getpid())
		return;
	if (m->pidfd != -1) {
		if (syscall(SYS_pidfd_send_signal, m->pidfd, sig, NULL, 0) ==
		        -1 &&
		    errno != ESRCH)
			log_warn("monitor %s: pidfd_send_signal", m->uuid);
		return;
	}
	(void)kill(m->pid, sig);
}

/* Records the worker pid a monitor reports, with its start time. */
void
monitors_note_worker(struct monitor *m, pid_t pid)
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
int
monitors_signal_worker(struct monitor *m, pid_t pid, int group, int sig)
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

/* Finds fnwm-monitor: FNWM_MONITOR, config, next to us, or libexec. */
static char *
spawn_binary(void)
{
	char self[PATH_MAX], *dir, *cand;
	const char *env = getenv("FNWM_MONITOR");
	static const char *rel[] = { "fnwm-monitor", "../monitor/fnwm-monitor",
		"../libexec/fnwm/fnwm-monitor", NULL };
	ssize_t n;
	int i;

	if (env != NULL && *env != '\0')
		return (xstrdup(env));
	if (monitors_cfg->monitor_path != NULL)
		return (xstrdup(monitors_cfg->monitor_path));
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
spawn_monitor(struct monitor *m, char **cause)
{
	char *bin = spawn_binary(), *title;
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
		argv[4] = monitors_cfg->workers_dir;
		argv[5] =
		    monitors_cfg->debug ? (char *)(uintptr_t) "--debug" : NULL;
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
	ev_child_init(&m->cw, monitors_child_cb, pid, 0);
	m->cw.data = m;
	ev_child_start(monitors_loop, &m->cw);
	if (m->chan == NULL)
		m->chan = xmalloc(sizeof *m->chan);
	chan_ev_init(m->chan, monitors_loop, sv[0], monitors_msg_cb,
	    monitors_close_cb, m);
	fnwm_msg_hello_init(&hello, (uint32_t)getpid(), FNWM_ROLE_MASTER, 0);
	(void)fnwm_chan_send(&m->chan->ch, FNWM_MSG_HELLO, &hello,
	    sizeof hello);
	log_info("monitor %s started, pid %ld", m->uuid, (long)pid);
	return (0);
}

int
monitors_start(struct monitor *m, char **cause)
{
	return (monitors_start_entry(m, registry_entry(m->uuid), cause));
}

int
monitors_start_entry(struct monitor *m, json_object *entry, char **cause)
{
	struct monitors_evarg a = { .entry = entry, .cause = cause };

	return (monitors_feed(m, ME_START, &a));
}

/*
 * Encodes entry's launch configuration, forks a monitor when spawn is
 * set, and sends it CMD_CONFIG: 0; -1 with *cause; 1 with *cause when
 * the channel is gone (the monitor died, its death is not handled yet).
 */
int
monitors_launch(struct monitor *m, json_object *entry, int spawn, char **cause)
{
	unsigned char buf[FNWM_MSG_MAX];
	size_t len;

	if (launch_encode(monitors_cfg, m->uuid, entry, buf,
	        FNWM_MSG_MAX - sizeof(struct fnwm_msg_hdr), &len, cause) == -1)
		return (-1);
	if (spawn && spawn_monitor(m, cause) == -1)
		return (-1);
	if (monitors_send_raw(m, FNWM_MSG_CMD_CONFIG, buf, len) == -1) {
		*cause = xasprintf("monitor channel: %s", strerror(errno));
		return (m->chan == NULL || m->chan->ch.closed ? 1 : -1);
	}
	return (0);
}

int
monitors_send_raw(struct monitor *m, uint16_t type, const void *p, size_t len)
{
	if (m->pid <= 0 || m->chan == NULL || m->chan->ch.closed) {
		errno = EPIPE;
		return (-1);
	}
	return (fnwm_chan_send(&m->chan->ch, type, p, len));
}

/* A monitor held but not reached yet is tried first. */
int
monitors_send(struct monitor *m, uint16_t type, const void *p, size_t len)
{
	if (m->phase == MP_LOCKED)
		(void)monitors_feed(m, ME_REACH, NULL);
	return (monitors_send_raw(m, type, p, len));
}

/* CMD_START, or a stop command with the configured escalation times. */
int
monitors_command(struct monitor *m, uint16_t type)
{
	struct fnwm_stop_cmd sc;

	if (type == FNWM_MSG_CMD_START)
		return (monitors_send_raw(m, type, NULL, 0));
	sc.term_after_ms = (uint32_t)(monitors_cfg->stop_timeout * 1000);
	sc.kill_after_ms = (uint32_t)(monitors_cfg->kill_timeout * 1000);
	return (monitors_send_raw(m, type, &sc, sizeof sc));
}

int
monitors_stop_cmd(struct monitor *m, uint16_t type)
{
	if (type == FNWM_MSG_CMD_EXIT)
		return (monitors_feed(m, ME_EXIT, NULL));
	if (m->phase == MP_LOCKED)
		(void)monitors_feed(m, ME_REACH, NULL);
	return (monitors_command(m, type));
}

void
monitors_kill(struct monitor *m)
{
	(void)monitors_feed(m, ME_KILL, NULL);
}

/* SIGKILL to the worker its monitor reported (or the run lock names). */
void
monitors_kill_now(struct monitor *m)
{
	pid_t worker;

	log_warnx("monitor %s did not finish in time: SIGKILL", m->uuid);
	if (m->have_st && m->st.pid > 0)
		(void)monitors_signal_worker(m, m->st.pid,
		    !(m->st.flags & FNWM_STATE_ADOPTED), SIGKILL);
	else if ((worker = monitors_run_lock_holder(m->uuid)) > 1) {
		/* It never reported: the run lock names its worker. */
		monitors_note_worker(m, worker);
		(void)monitors_signal_worker(m, worker, 1, SIGKILL);
	}
	monitors_signal_monitor(m, SIGKILL);
}

/* Closes the channel and stops watching the process's death. */
void
monitors_release(struct monitor *m)
{
	if (m->chan != NULL)
		fnwm_chan_close(&m->chan->ch);
	ev_child_stop(monitors_loop, &m->cw);
	if (m->pidfd != -1) {
		ev_io_stop(monitors_loop, &m->pidw);
		close(m->pidfd);
		m->pidfd = -1;
	}
}
