/* SPDX-License-Identifier: MIT */
/*
 * Preparation steps (a venv's creation, a package upgrade) as children of
 * the monitor: each in its own process group and working directory, with
 * a time limit, its output appended to the worker's log and its last
 * lines kept as the summary the master shows. Stop and exit cancel it,
 * whole process group included.
 */
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "monitor.h"

static void
steps_tail(struct mon *m, const char *buf, size_t n)
{
	size_t keep = sizeof m->step_tail - 1;

	if (n >= keep) {
		memcpy(m->step_tail, buf + n - keep, keep);
		m->step_tail_len = keep;
		return;
	}
	if (m->step_tail_len + n > keep) {
		size_t drop = m->step_tail_len + n - keep;

		memmove(m->step_tail, m->step_tail + drop,
		    m->step_tail_len - drop);
		m->step_tail_len -= drop;
	}
	memcpy(m->step_tail + m->step_tail_len, buf, n);
	m->step_tail_len += n;
}

static void
steps_drain(struct mon *m)
{
	char buf[4096];
	ssize_t n;

	while (m->step_outfd != -1) {
		n = read(m->step_outfd, buf, sizeof buf);
		if (n > 0) {
			if (m->step_logfd != -1)
				(void)!write(m->step_logfd, buf, (size_t)n);
			steps_tail(m, buf, (size_t)n);
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		/* EOF or error: the step closed its output. */
		loop_io_stop(m->loop, &m->step_outw);
		close(m->step_outfd);
		m->step_outfd = -1;
	}
}

static void
steps_out_cb(struct loop *loop, struct loop_io *w, int revents)
{
	steps_drain(w->data);
}

/* The last lines of the output, printable, as the summary. */
static void
steps_summary(struct mon *m, char *out, size_t outsz)
{
	size_t len = m->step_tail_len, start, lines = 0;
	char *p;

	while (len > 0 &&
	    (m->step_tail[len - 1] == '\n' || m->step_tail[len - 1] == ' '))
		len--;
	for (start = len; start > 0; start--) {
		if (m->step_tail[start - 1] == '\n' && ++lines == 3)
			break;
	}
	log_safe(out, outsz, m->step_tail + start, len - start);
	/* Newlines came out as \012: make them readable separators. */
	while ((p = strstr(out, "\\012")) != NULL) {
		memcpy(p, " | ", 3);
		memmove(p + 3, p + 4, strlen(p + 4) + 1);
	}
}

static void
steps_report(struct mon *m, int code, int sig)
{
	unsigned char buf[sizeof(struct fnwm_step_done) + FNWM_MSG_TEXT_MAX];
	char summary[FNWM_MSG_TEXT_MAX];
	struct fnwm_step_done d;
	size_t n;

	memset(&d, 0, sizeof d);
	d.id = m->step_id;
	d.code = code;
	d.signal = sig;
	d.elapsed_ms = (uint32_t)(fnwm_now_ms() - m->step_started);
	d.timed_out = (uint16_t)m->step_timed_out;
	d.cancelled = (uint16_t)m->step_cancelled;
	steps_summary(m, summary, sizeof summary);
	n = fnwm_msg_step_done_encode(buf, sizeof buf, &d, summary);
	log_info("step %u: %s %d after %u ms%s%s", m->step_id,
	    sig != 0 ? "signal" : "status", sig != 0 ? sig : code, d.elapsed_ms,
	    d.timed_out ? " (timed out)" : "",
	    d.cancelled ? " (cancelled)" : "");
	if (m->chan_up && n > 0)
		(void)fnwm_chan_send(&m->chan, FNWM_MSG_MON_STEP, buf, n);
}

static void
steps_finish(struct mon *m)
{
	loop_timer_stop(m->loop, &m->step_timer);
	if (m->step_outfd != -1) {
		loop_io_stop(m->loop, &m->step_outw);
		close(m->step_outfd);
		m->step_outfd = -1;
	}
	if (m->step_logfd != -1) {
		close(m->step_logfd);
		m->step_logfd = -1;
	}
	m->step_pid = 0;
}

static void
steps_child_cb(struct loop *loop, struct loop_child *w, int st)
{
	struct mon *m = w->data;

	/* Anything still in the pipe belongs in the log and the summary. */
	steps_drain(m);
	/* Whatever the step left in its group goes with it. */
	(void)kill(-m->step_pid, SIGKILL);
	if (!m->step_cancelled)
		steps_report(m, WIFEXITED(st) ? WEXITSTATUS(st) : -1,
		    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	steps_finish(m);
	/* The master went away meanwhile and nothing is left to do. */
	if (!m->chan_up &&
	    (m->state == FNWM_WS_DOWN || m->state == FNWM_WS_FAILED))
		m->ops->finish(m);
}

static void
steps_timeout_cb(struct loop *loop, struct loop_timer *w)
{
	struct mon *m = w->data;

	log_warnx("step %u: over its time limit; killing it", m->step_id);
	m->step_timed_out = 1;
	(void)kill(-m->step_pid, SIGKILL);
}

int
steps_busy(const struct mon *m)
{
	return (m->step_pid > 0);
}

void
steps_cancel(struct mon *m)
{
	if (m->step_pid <= 0 || m->step_cancelled)
		return;
	log_info("step %u: cancelled", m->step_id);
	(void)kill(-m->step_pid, SIGKILL);
	m->step_cancelled = 1;
	steps_report(m, -1, SIGKILL);
	/* The child watcher reaps it and closes the rest. */
}

/* Child side: only async-signal-safe calls until exec. */
static void
steps_child(struct mon *m, const char *cwd, char **argv, char **env, int envc,
    int outfd)
{
	int i;

	setsid();
	fnwm_child_reset_signals();
	(void)fnwm_child_stdin_null();
	dup2(outfd, 1);
	dup2(outfd, 2);
	if (outfd > 2)
		close(outfd);
	if (chdir(cwd) == -1) {
		dprintf(2, "step: chdir %s: %s\n", cwd, log_strerror(errno));
		_exit(127);
	}
	for (i = 0; i < envc; i++)
		putenv(env[i]);
	execvp(argv[0], argv);
	dprintf(2, "step: cannot run %s: %s\n", argv[0], log_strerror(errno));
	_exit(127);
}

/*
 * Copies the step's strings (cwd, argv, env) out of the frame, which is
 * only valid during dispatch; argv is NULL-terminated. 0, or -1 when the
 * frame holds fewer than it says.
 */
static int
steps_copy_strings(struct mon *m, const struct fnwm_msg *msg, const char **cwd,
    char **argv, char **env)
{
	const struct fnwm_step_cmd *c = msg->payload;
	size_t off = 0, used = 0, n;
	const char *s;
	int i;

	for (i = 0; i < 1 + c->argc + c->envc; i++) {
		s = fnwm_msg_string(msg, &off);
		if (s == NULL)
			return (-1);
		n = strlen(s) + 1;
		memcpy(m->step_strings + used, s, n);
		if (i == 0)
			*cwd = m->step_strings + used;
		else if (i <= c->argc)
			argv[i - 1] = m->step_strings + used;
		else
			env[i - 1 - c->argc] = m->step_strings + used;
		used += n;
	}
	argv[c->argc] = NULL;
	return (0);
}

/* Answers a step it cannot take (busy, malformed) as failed; -1. */
static int
steps_refuse(struct mon *m, const struct fnwm_step_cmd *c)
{
	struct fnwm_step_done d;
	unsigned char buf[sizeof d + 64];
	char summary[64];
	size_t k;

	m->step_id = c->id;
	m->step_tail_len = 0;
	m->step_started = fnwm_now_ms();
	steps_tail(m,
	    steps_busy(m) ? "another step is running\n" : "malformed step\n",
	    steps_busy(m) ? 24 : 15);
	if (!m->chan_up)
		return (-1);
	memset(&d, 0, sizeof d);
	d.id = c->id;
	d.code = -1;
	steps_summary(m, summary, sizeof summary);
	k = fnwm_msg_step_done_encode(buf, sizeof buf, &d, summary);
	if (k > 0)
		(void)fnwm_chan_send(&m->chan, FNWM_MSG_MON_STEP, buf, k);
	return (-1);
}

int
steps_start(struct mon *m, const struct fnwm_msg *msg)
{
	const struct fnwm_step_cmd *c = msg->payload;
	char *argv[FNWM_ARGV_MAX + 1], *env[FNWM_ENV_MAX];
	const char *cwd = NULL;
	int pfd[2];
	pid_t pid;

	if (steps_busy(m) || c->argc == 0 || c->argc > FNWM_ARGV_MAX ||
	    c->envc > FNWM_ENV_MAX ||
	    steps_copy_strings(m, msg, &cwd, argv, env) == -1)
		return (steps_refuse(m, c));
	m->step_id = c->id;
	m->step_tail_len = 0;
	m->step_timed_out = m->step_cancelled = 0;
	m->step_started = fnwm_now_ms();
	m->step_logfd = m->log_path[0] != '\0' ? files_log_open(m) : -1;
	if (pipe2(pfd, O_CLOEXEC) == -1)
		goto fail;
	pid = fork();
	if (pid == -1) {
		close(pfd[0]);
		close(pfd[1]);
		goto fail;
	}
	if (pid == 0) {
		close(pfd[0]);
		steps_child(m, cwd, argv, env, c->envc, pfd[1]);
	}
	close(pfd[1]);
	m->step_pid = pid;
	loop_child_start(m->loop, &m->step_cw, pid);
	m->step_outfd = pfd[0];
	fnwm_set_nonblock(pfd[0]);
	if (loop_io_start(m->loop, &m->step_outw, pfd[0], LOOP_READ) == -1) {
		/* Unread, its output would block it: it ends here. */
		log_warn("step %u: cannot watch its output", c->id);
		steps_tail(m, "cannot watch the step's output\n", 31);
		(void)kill(-pid, SIGKILL);
	}
	if (c->timeout_ms > 0)
		loop_timer_start(m->loop, &m->step_timer, c->timeout_ms);
	log_info("step %u: %s (pid %ld)", c->id, argv[0], (long)pid);
	return (0);
fail:
	log_warn("step %u: cannot start", c->id);
	steps_tail(m, "cannot start the step\n", 22);
	steps_report(m, -1, 0);
	steps_finish(m);
	return (-1);
}

void
steps_init(struct mon *m)
{
	m->step_pid = 0;
	m->step_outfd = -1;
	m->step_logfd = -1;
	loop_child_init(&m->step_cw, steps_child_cb, m);
	loop_timer_init(&m->step_timer, steps_timeout_cb, m);
	loop_io_init(&m->step_outw, steps_out_cb, m);
}
