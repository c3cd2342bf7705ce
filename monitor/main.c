/* SPDX-License-Identifier: MIT */
/*
 * fnwm-monitor: argv, the per-worker lock, the master's commands, and the
 * loop. The master starts it with its end of a socketpair on fd 3; when
 * that channel closes the monitor keeps supervising a running worker.
 */
#include <sys/stat.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "monitor.h"
#include "writer.h"

static struct mon mon;
static struct loop mon_loop;

static void mon_close_cb(struct fnwm_chan *, int, void *);
static void mon_drop_master(struct mon *, int);

static void
usage(void)
{
	fprintf(stderr,
	    "usage: fnwm-monitor --uuid UUID --workers-dir DIR [--debug]\n"
	    "\n"
	    "Supervises one FuncNodes worker for the fnwm master, which "
	    "starts\n"
	    "it with its channel on fd 3. Not meant to be run by hand.\n"
	    "\n"
	    "exit status: 0 told to exit; 100 usage error; 101 another "
	    "monitor\n"
	    "  supervises this worker; 111 a start-up system call failed\n");
}

static void
mon_error(struct mon *m, const char *why)
{
	log_warnx("master: %s", why);
	if (m->chan_up)
		(void)fnwm_chan_send(&m->chan, FNWM_MSG_ERROR, why,
		    strlen(why) + 1);
}

/*
 * Applies a CMD_CONFIG. Everything is checked before anything changes:
 * a rejected configuration leaves the running one in force. A frame
 * whose strings do not match its argc is malformed (-1, channel closed);
 * out-of-range values are a semantic error (ERROR reply, 0).
 */
static int
mon_configure(struct mon *m, const struct fnwm_msg *msg)
{
	const struct fnwm_config_msg *c = msg->payload;
	const char *s, *strs[FNWM_ARGV_MAX + 1];
	size_t off = 0, used = 0, n;
	int i;

	if (c->argc == 0 || c->argc > FNWM_ARGV_MAX) {
		mon_error(m, "bad configuration");
		return (0);
	}
	for (i = 0; i < 1 + c->argc; i++) {
		strs[i] = fnwm_msg_string(msg, &off);
		if (strs[i] == NULL)
			return (-1);
	}
	if (fnwm_msg_string(msg, &off) != NULL)
		return (-1); /* more strings than argc */
	if (c->restart >= FNWM_RESTART_MAX || c->backoff_initial_ms == 0 ||
	    c->backoff_max_ms < c->backoff_initial_ms ||
	    strlen(strs[0]) >= PATH_MAX) {
		/* The previous configuration stays in force. */
		mon_error(m, "bad configuration");
		return (0);
	}
	/* The strings came in one frame: together they fit in argbuf. */
	for (i = 0; i < 1 + c->argc; i++) {
		s = strs[i];
		n = strlen(s) + 1;
		memmove(m->argbuf + used, s, n);
		if (i == 0)
			m->log_path = m->argbuf;
		else
			m->argv[i - 1] = m->argbuf + used;
		used += n;
	}
	m->argv[c->argc] = NULL;
	m->pcfg.mode = c->restart;
	m->pcfg.healthy_ms = c->healthy_ms;
	m->pcfg.backoff_initial_ms = c->backoff_initial_ms;
	m->pcfg.backoff_max_ms = c->backoff_max_ms;
	m->pcfg.giveup_count = c->giveup_count > POLICY_TALLY_MAX
	    ? POLICY_TALLY_MAX
	    : c->giveup_count;
	m->pcfg.giveup_window_ms = c->giveup_window_ms;
	m->limits = *c;
	m->log_max = c->log_max_bytes;
	m->log_keep = c->log_keep > 9 ? 9 : c->log_keep;
	if (m->pst.backoff_ms == 0 ||
	    m->pst.backoff_ms < m->pcfg.backoff_initial_ms)
		m->pst.backoff_ms = m->pcfg.backoff_initial_ms;
	m->configured = 1;
	return (0);
}

static void
mon_msg_cb(struct fnwm_chan *ch, const struct fnwm_msg *msg, void *arg)
{
	struct mon *m = arg;
	struct mon_evarg a = { 0, 0, NULL };
	enum fnwm_worker_state prev;
	char reason[256];

	switch (msg->hdr.type) {
	case FNWM_MSG_HELLO:
		break;
	case FNWM_MSG_ERROR:
		log_warnx("master says: %s",
		    log_safe(reason, sizeof reason, msg->payload,
		        msg->len - 1));
		break;
	case FNWM_MSG_CMD_CONFIG:
		if (mon_configure(m, msg) == -1) {
			mon_error(m, "malformed configuration frame");
			mon_drop_master(m, EPROTO);
		}
		break;
	case FNWM_MSG_CMD_STEP:
		(void)steps_start(m, msg);
		break;
	case FNWM_MSG_CMD_START:
		if (steps_busy(m)) {
			mon_error(m, "start while a step runs");
			break;
		}
		if (!m->configured) {
			mon_error(m, "start before configuration");
			break;
		}
		/* A worker already running is taken over, never doubled. */
		prev = m->state;
		if (m->state == FNWM_WS_DOWN && worker_adopt(m) == 1)
			fsm_feed(m, MON_EV_ADOPTED, NULL);
		else
			fsm_feed(m, MON_EV_CMD_START, NULL);
		/* Always answered: the master waits for news of its start. */
		if (m->state == prev)
			report_state(m);
		break;
	case FNWM_MSG_CMD_STOP:
		steps_cancel(m);
		a.stop = msg->payload;
		fsm_feed(m, MON_EV_CMD_STOP, &a);
		break;
	case FNWM_MSG_CMD_RESTART:
		a.stop = msg->payload;
		if (!m->configured) {
			mon_error(m, "restart before configuration");
			break;
		}
		fsm_feed(m, MON_EV_CMD_RESTART, &a);
		break;
	case FNWM_MSG_CMD_EXIT:
		steps_cancel(m);
		a.stop = msg->payload;
		fsm_feed(m, MON_EV_CMD_EXIT, &a);
		break;
	case FNWM_MSG_CMD_UNRESPONSIVE:
		a.stop = msg->payload;
		fsm_feed(m, MON_EV_CMD_UNRESPONSIVE, &a);
		break;
	default:
		/* The decoder knows the type but it is not ours to get. */
		mon_error(m, "unexpected message type");
		mon_drop_master(m, EPROTO);
		break;
	}
}

/* Leaves when there is nothing to supervise and nobody to ask for it. */
void
mon_maybe_leave(struct mon *m)
{
	if (!m->chan_up && !steps_busy(m) &&
	    (m->state == FNWM_WS_DOWN || m->state == FNWM_WS_FAILED))
		m->ops->finish(m);
}

/* We close the channel of a master that spoke nonsense. */
static void
mon_drop_master(struct mon *m, int err)
{
	if (!m->chan_up)
		return;
	fnwm_chan_close(&m->chan);
	mon_close_cb(&m->chan, err, m);
}

static void
mon_close_cb(struct fnwm_chan *ch, int err, void *arg)
{
	struct mon *m = arg;

	m->chan_up = 0;
	if (err != 0)
		log_warnx("channel to the master closed: %s",
		    log_strerror(err));
	else
		log_info("master went away");
	mon_maybe_leave(m);
	if (m->pid > 0)
		log_info("still supervising worker %ld", (long)m->pid);
}

/* The loop's readiness bits are the channel's: passed through as they are. */
_Static_assert(LOOP_READ == FNWM_CHAN_READ && LOOP_WRITE == FNWM_CHAN_WRITE,
    "loop and channel readiness bits differ");

static void
mon_chan_io_cb(struct loop *loop, struct loop_io *w, int revents)
{
	struct mon *m = w->data;

	fnwm_chan_ready(&m->chan, revents);
}

/* What the channel waits for, on the loop. */
static void
mon_chan_watch(struct fnwm_chan *ch, int fd, int events)
{
	struct mon *m = ch->arg;

	if (events == 0)
		loop_io_stop(m->loop, &m->chanw);
	else if (loop_io_start(m->loop, &m->chanw, fd, events) == -1)
		log_warn("cannot watch the channel"); /* a hang-up will do */
}

void
mon_attach_channel(struct mon *m, int fd)
{
	struct fnwm_hello hello;

	loop_io_init(&m->chanw, mon_chan_io_cb, m);
	fnwm_chan_init(&m->chan, fd, mon_chan_watch, mon_msg_cb, mon_close_cb,
	    m);
	m->chan_up = 1;
	fnwm_msg_hello_init(&hello, (uint32_t)getpid(), FNWM_ROLE_MONITOR,
	    (uint16_t)m->state);
	(void)fnwm_chan_send(&m->chan, FNWM_MSG_HELLO, &hello, sizeof hello);
	report_state(m);
}

static void
mon_signal_cb(struct loop *loop, int signo, void *data)
{
	struct mon *m = data;
	struct mon_evarg a = { 0, 0, &m->stop };

	if (signo == SIGHUP)
		return;
	log_info("%s: stopping the worker, then exiting",
	    signo == SIGTERM ? "SIGTERM" : "SIGINT");
	steps_cancel(m);
	fsm_feed(m, MON_EV_CMD_EXIT, &a);
}

/* The channel, the files and the lock of uuid; 0, or the exit status. */
static int
mon_open(struct mon *m, const char *uuid, const char *wdir)
{
	struct stat st;

	if (fstat(FNWM_CHANNEL_FD, &st) == -1 || !S_ISSOCK(st.st_mode)) {
		log_warnx("fd %d is not the channel to the master",
		    FNWM_CHANNEL_FD);
		return (FNWM_MON_EXIT_PERMANENT);
	}
	/* The worker must not inherit the channel. */
	fnwm_set_cloexec(FNWM_CHANNEL_FD, 1);
	if (files_init(m, uuid, wdir) == -1) {
		log_warnx("path too long");
		return (FNWM_MON_EXIT_PERMANENT);
	}
	if (files_lock(m) == -1) {
		if (errno == EWOULDBLOCK) {
			log_warnx("another monitor supervises this worker");
			return (FNWM_MON_EXIT_LOCKED);
		}
		log_warn("lock %s", m->lock_path);
		return (FNWM_MON_EXIT_TEMPORARY);
	}
	return (0);
}

/* The loop with the state machine, its timers and signals; 0 or -1. */
static int
mon_start(struct mon *m)
{
	m->loop = &mon_loop;
	if (loop_init(m->loop) == -1 ||
	    loop_signal(m->loop, SIGTERM, mon_signal_cb, m) == -1 ||
	    loop_signal(m->loop, SIGINT, mon_signal_cb, m) == -1 ||
	    loop_signal(m->loop, SIGHUP, mon_signal_cb, m) == -1) {
		log_warn("cannot create the event loop");
		return (-1);
	}
	fsm_init(m, &mon_real_ops);
	worker_timers_init(m);
	steps_init(m);
	signal(SIGPIPE, SIG_IGN);
	/* Every disposition is in place: what a worker's child resets. */
	fnwm_signals_taken(&m->child_sigs);
	worker_env_init();
	return (0);
}

/* After the loop: the last word to the master and the files, then free. */
static void
mon_finish(struct mon *m)
{
	if (m->chan_up) {
		(void)fnwm_chan_flush(&m->chan, 1000);
		fnwm_chan_close(&m->chan);
	}
	files_log_unwatch(m);
	control_close(m);
	/*
	 * The last word, down or failed, keeps the exit history for the
	 * next monitor and master. A monitor that never wrote one and was
	 * not told to exit (its master died before it said what for)
	 * leaves the .status of the one it replaced: what that one was
	 * doing tells a new master whether the worker was meant to run.
	 */
	if (m->status_written || m->want_exit)
		files_write_status(m, 1);
	writer_stop();
	loop_free(m->loop);
	close(m->lockfd);
	files_free(m);
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "uuid", required_argument, NULL, 'u' },
		{ "workers-dir", required_argument, NULL, 'w' },
		{ "debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *uuid = NULL, *wdir = NULL;
	struct mon *m = &mon;
	int ch, rc, debug = 0;

	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'u':
			uuid = optarg;
			break;
		case 'w':
			wdir = optarg;
			break;
		case 'D':
			debug = 1;
			break;
		case 'h':
		default:
			usage();
			return (FNWM_MON_EXIT_PERMANENT);
		}
	}
	fnwm_log_init("fnwm-monitor", debug ? FNWM_LOG_DEBUG : FNWM_LOG_INFO);
	if (uuid == NULL || wdir == NULL || optind != argc ||
	    !fnwm_worker_id_valid(uuid, strlen(uuid))) {
		usage();
		return (FNWM_MON_EXIT_PERMANENT);
	}
	fnwm_log_set_tag(uuid);
	if ((rc = mon_open(m, uuid, wdir)) != 0)
		return (rc);
	m->debug = debug;
	m->log_path = "";
	if (mon_start(m) == -1)
		return (FNWM_MON_EXIT_TEMPORARY);

	files_read_history(m);
	if (worker_adopt(m) == 1)
		fsm_feed(m, MON_EV_ADOPTED, NULL);
	m->listenfd = -1;
	if (control_listen(m) == -1)
		log_warn("cannot listen on worker_%s.sock (a new master will "
		         "not find this monitor)",
		    m->uuid);
	mon_attach_channel(m, FNWM_CHANNEL_FD);

	if (!m->finished && loop_run(m->loop) == -1)
		log_warn("event loop");
	mon_finish(m);
	return (FNWM_MON_EXIT_OK);
}
