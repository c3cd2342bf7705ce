/* SPDX-License-Identifier: MIT */
/*
 * The worker process: spawn it as the leader of its own process group
 * with a clean signal state, signal that group, learn of its exit from
 * the child watcher (or a pidfd for a worker we adopted), and the timers
 * of the state machine. These are the real struct mon_ops.
 */
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "monitor.h"

static void
worker_child_cb(struct loop *loop, struct loop_child *w, int status)
{
	struct mon *m = w->data;
	struct mon_evarg a = { 0, 0, NULL };
	pid_t pid = w->pid;
	uint64_t up = fnwm_now_ms() - m->started_ms;

	/* From here to the next fork is the monitor's own restart cost. */
	m->exited_us = fnwm_now_us();
	if (WIFEXITED(status)) {
		a.code = WEXITSTATUS(status);
	} else if (WIFSIGNALED(status)) {
		a.code = -1;
		a.sig = WTERMSIG(status);
	}
	/*
	 * What the worker left in its process group goes with it: it holds
	 * the run lock and would block every restart.
	 */
	(void)kill(-pid, SIGKILL);
	/* Fast path to a restart: only unlink the .p before the policy. */
	files_clear_p(m, pid);
	report_exit(m, pid, a.code, a.sig, up);
	fsm_feed(m, MON_EV_CHILD_EXIT, &a);
}

static void
worker_pidfd_cb(struct loop *loop, struct loop_io *w, int revents)
{
	struct mon *m = w->data;
	struct mon_evarg a = { -1, 0, NULL };
	pid_t pid = m->pid;

	/* An adopted worker is not our child: we learn that, not how. */
	loop_io_stop(loop, w);
	close(m->pidfd);
	m->pidfd = -1;
	files_clear_p(m, pid);
	report_exit(m, pid, -1, 0, fnwm_now_ms() - m->started_ms);
	fsm_feed(m, MON_EV_CHILD_EXIT, &a);
}

/*
 * The worker's resource limits (soft and hard, so it cannot raise them)
 * and nice value. Child side; -1 with errno when the kernel refuses.
 */
static int
worker_apply_limits(struct mon *m)
{
	static const struct {
		uint32_t bit;
		int res;
		size_t off;
	} lim[] = {
		{ FNWM_LIMIT_NOFILE, RLIMIT_NOFILE,
		    offsetof(struct fnwm_config_msg, nofile) },
		{ FNWM_LIMIT_AS, RLIMIT_AS,
		    offsetof(struct fnwm_config_msg, as) },
		{ FNWM_LIMIT_CPU, RLIMIT_CPU,
		    offsetof(struct fnwm_config_msg, cpu) },
		{ FNWM_LIMIT_CORE, RLIMIT_CORE,
		    offsetof(struct fnwm_config_msg, core) },
	};
	const struct fnwm_config_msg *c = &m->limits;
	struct rlimit rl;
	uint64_t v;
	size_t i;

	for (i = 0; i < sizeof lim / sizeof *lim; i++) {
		if (!(c->limits & lim[i].bit))
			continue;
		memcpy(&v, (const char *)c + lim[i].off, sizeof v);
		rl.rlim_cur = rl.rlim_max = (rlim_t)v;
		if (setrlimit(lim[i].res, &rl) == -1)
			return (-1);
	}
	if ((c->limits & FNWM_LIMIT_NICE) &&
	    setpriority(PRIO_PROCESS, 0, c->nice) == -1)
		return (-1);
	return (0);
}

/*
 * What every worker gets in its environment, set once in the monitor's
 * own: nothing in the child between fork and exec allocates.
 */
void
worker_env_init(void)
{
	setenv("USE_SUBPROCESS_MONITOR", "0", 1);
	unsetenv("SUBPROCESS_MONITOR_PID");
	unsetenv("SUBPROCESS_MONITOR_PORT");
	unsetenv("SUBPROCESS_MONITOR_HOST");
}

/*
 * In the vforked child (worker_vfork_exec): system calls only until exec,
 * nothing that allocates, takes a lock or writes the monitor's memory.
 *
 * A process group of its own, not a session: with the scheduler's
 * autogroups (Linux, on by default) every new session is a new scheduling
 * group, and on a busy machine a new group waits its turn behind every
 * other session, some ms per restart. In the monitor's session (the
 * master gives each monitor its own), the worker shares the monitor's
 * group, still one per worker; no terminal signal reaches it either.
 */
static void
worker_child_setup(struct mon *m, int logfd, int runfd, int errfd)
{
	(void)setpgid(0, 0);
	fnwm_child_reset_taken(&m->child_sigs);

	(void)fnwm_child_stdin_null();
	if (logfd != -1) {
		dup2(logfd, 1);
		dup2(logfd, 2);
		if (logfd > 2)
			close(logfd);
	}
	/*
	 * The run lock the monitor took: an flock on an open file description
	 * the worker inherits and holds for its life, so that a live worker
	 * is known even when no monitor is left to say so. Made exclusive
	 * here, so that the lock is the worker's own.
	 */
	if (fcntl(runfd, F_SETFD, 0) == -1 ||
	    flock(runfd, LOCK_EX | LOCK_NB) == -1) {
		int e = errno == EWOULDBLOCK ? EBUSY : errno;

		(void)!write(errfd, &e, sizeof e);
		_exit(126);
	}
	/*
	 * Limits last: nothing may allocate after RLIMIT_AS is lowered (a
	 * sanitizer's allocator, for one, would fail to map).
	 */
	if (worker_apply_limits(m) == -1) {
		int e = errno;

		(void)!write(errfd, &e, sizeof e);
		_exit(126);
	}
}

/*
 * The run lock for a new worker, or -1. Held by something else: a worker
 * this monitor did not start, or a leftover of the last one still dying;
 * *adopted is set when that is a worker to take over.
 */
static int
worker_runlock(struct mon *m, int *adopted)
{
	int fd;

	*adopted = 0;
	fd = files_runlock_take(m);
	if (fd != -1 || errno != EWOULDBLOCK) {
		if (fd == -1)
			log_warn("cannot start: open %s", m->runlock_path);
		return (fd);
	}
	if (worker_adopt(m) == 1) {
		*adopted = 1;
		return (-1);
	}
	/* Its holder may have died in between. */
	fd = files_runlock_take(m);
	if (fd == -1)
		log_warnx("cannot start %s: %s", m->argv[0],
		    errno == EWOULDBLOCK
		        ? "another process holds the worker's run lock"
		        : log_strerror(errno));
	return (fd);
}

/*
 * The parent's side of a spawn: watches pid, then reads from errfd (the
 * pipe the child's exec closes) whether the exec failed, and says so.
 */
static void
worker_exec_result(struct mon *m, pid_t pid, int errfd, uint64_t spawned_us)
{
	ssize_t n;
	int err = 0;

	/* Start watching before the loop runs again: no exit is missed. */
	loop_child_start(m->loop, &m->cw, pid);
	/* EOF at exec (CLOEXEC), or the errno of a failed exec. */
	do
		n = read(errfd, &err, sizeof err);
	while (n == -1 && errno == EINTR);
	close(errfd);
	m->pid = pid;
	m->adopted = 0;
	if (n == (ssize_t)sizeof err) {
		log_warnx("cannot start %s: %s", m->argv[0],
		    err == EBUSY ? "another process holds the worker's run lock"
		        : err == EPERM || err == EINVAL
		        ? "its resource limits cannot be set"
		        : log_strerror(err));
		/* The child exits at once; its watcher reports it. */
		return;
	}
	m->started_wall_ms = report_wall_ms();
	if (m->exited_us != 0)
		log_info("worker started, pid %ld, %.3f ms after the last "
		         "one exited",
		    (long)pid, (double)(spawned_us - m->exited_us) / 1000.0);
	else
		log_info("worker started, pid %ld", (long)pid);
	files_worker_started(m);
}

/*
 * The worker's process, made with vfork: nothing of the monitor is
 * copied, neither its page tables nor, later, a page on either side's
 * first write (a fork costs more than the rest of a restart together).
 * The monitor waits until the child has called exec or exited, as it
 * waited for the exec's result anyway. Until then the child shares the
 * monitor's memory: it makes system calls only, writes nothing but its
 * own frames (below this one) and errno, and never returns from here.
 * The child's pid, or -1 with errno.
 */
static pid_t __attribute__((noinline))
worker_vfork_exec(struct mon *m, int logfd, int runfd, const int errfd[2])
{
	pid_t pid = vfork();
	int err;

	if (pid != 0)
		return (pid);
	close(errfd[0]);
	worker_child_setup(m, logfd, runfd, errfd[1]);
	execvp(m->argv[0], m->argv);
	err = errno;
	(void)!write(errfd[1], &err, sizeof err);
	_exit(127);
}

static int
worker_spawn(struct mon *m)
{
	int pfd[2], logfd, runfd, adopted;
	uint64_t spawned_us;
	pid_t pid;

	if (!m->configured || m->argv[0] == NULL) {
		log_warnx("cannot start: no configuration from the master");
		return (-1);
	}
	/*
	 * A worker of this uuid already runs (one whose monitor died while
	 * it started, say, or one started without fnwm and named by the .p):
	 * take it over rather than start a second one.
	 */
	if (files_read_pid(m, NULL) > 0 && worker_adopt(m) == 1)
		return (1);
	/*
	 * Taking the run lock is the check that nothing else runs and the
	 * hand-over to the child in one step; the costly search for who
	 * holds it is only made when something does.
	 */
	runfd = worker_runlock(m, &adopted);
	if (adopted)
		return (1);
	if (runfd == -1)
		return (-1);
	/* Whatever a dead worker left would stop a real one starting. */
	files_worker_exited(m, 0, NULL);
	logfd = files_log_open(m);
	if (logfd == -1)
		log_warn("open %s (worker output is discarded)", m->log_path);
	if (pipe2(pfd, O_CLOEXEC) == -1) {
		log_warn("pipe");
		if (logfd != -1)
			close(logfd);
		close(runfd);
		return (-1);
	}
	pid = worker_vfork_exec(m, logfd, runfd, pfd);
	spawned_us = fnwm_now_us();
	if (pid == -1) {
		log_warn("vfork");
		close(pfd[0]);
		close(pfd[1]);
		if (logfd != -1)
			close(logfd);
		close(runfd);
		return (-1);
	}
	/*
	 * The exec woke us, and a woken task takes the CPU from the one
	 * that woke it: the new worker would wait for our bookkeeping (the
	 * log, the master, the .status) before its first instruction. Let
	 * it run first; on an idle machine it is elsewhere and this returns.
	 */
	(void)sched_yield();
	/* The child holds the lock now; ours is the same description. */
	close(runfd);
	close(pfd[1]);
	if (logfd != -1)
		close(logfd);
	worker_exec_result(m, pid, pfd[0], spawned_us);
	return (0);
}

static void
worker_signal(struct mon *m, int sig)
{
	if (m->pid <= 0)
		return;
	/* Our worker leads its own process group: reach its children too. */
	if (!m->adopted && kill(-m->pid, sig) == 0)
		return;
	if (kill(m->pid, sig) == -1 && errno != ESRCH)
		log_warn("kill %ld", (long)m->pid);
}

static void
worker_timer_cb(struct loop *loop, struct loop_timer *w)
{
	struct mon *m = w->data;
	enum mon_timer t = (enum mon_timer)(w - m->timers);
	static const enum mon_event ev[MON_T_MAX] = {
		[MON_T_HEALTHY] = MON_EV_HEALTHY,
		[MON_T_BACKOFF] = MON_EV_BACKOFF,
		[MON_T_ESCALATE] = MON_EV_ESCALATE,
	};

	fsm_feed(m, ev[t], NULL);
}

static void
worker_arm(struct mon *m, enum mon_timer t, uint32_t ms)
{
	/* From now: the spawn just blocked on exec. */
	loop_timer_start(m->loop, &m->timers[t], ms);
}

static void
worker_disarm(struct mon *m, enum mon_timer t)
{
	loop_timer_stop(m->loop, &m->timers[t]);
}

void
worker_timers_init(struct mon *m)
{
	int i;

	for (i = 0; i < MON_T_MAX; i++)
		loop_timer_init(&m->timers[i], worker_timer_cb, m);
	loop_child_init(&m->cw, worker_child_cb, m);
	loop_io_init(&m->pidw, worker_pidfd_cb, m);
	m->pidfd = -1;
}

/*
 * Takes over a worker found running (its .p names a live process that
 * holds the run lock and is older than the .p): watch it through a pidfd.
 * Returns 1 adopted, 0 nothing to adopt.
 */
int
worker_adopt(struct mon *m)
{
	struct timespec mtime;
	unsigned long long start;
	long long btime;
	long hz;
	pid_t pid = files_read_pid(m, &mtime);
	int fd, lfd, by_lock = 0;

	if (pid <= 0) {
		/*
		 * No .p yet (it was still starting): the run lock names the
		 * worker that holds it. /proc/locks lists every lock of the
		 * machine: read it only when something holds ours.
		 */
		if (files_runlock_held(m) != 1)
			return (0);
		pid = fnwm_flock_holder(m->runlock_path);
		if (pid <= 0)
			return (0);
		by_lock = 1;
	}
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd == -1)
		return (0);
	btime = fnwm_boot_time();
	hz = sysconf(_SC_CLK_TCK);
	/* pidfd first, start time second: a reuse after this is seen. */
	if (fnwm_proc_alive(pid, &start) != 1 ||
	    (!by_lock && btime > 0 && hz > 0 &&
	        btime + (long long)(start / (unsigned long)hz) >
	            (long long)mtime.tv_sec + 2) ||
	    (by_lock && fnwm_flock_holder(m->runlock_path) != pid)) {
		close(fd);
		return (0);
	}
	/* A free run lock means no worker of ours holds it. */
	lfd = open(m->runlock_path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (lfd != -1 && flock(lfd, LOCK_EX | LOCK_NB) == 0) {
		flock(lfd, LOCK_UN);
		close(lfd);
		log_info("pid %ld in the .p does not hold the run lock: a "
		         "worker started without fnwm; adopting it anyway",
		    (long)pid);
	} else if (lfd != -1)
		close(lfd);
	fnwm_set_cloexec(fd, 1);
	/* Unwatched, it is not adopted: its run lock keeps a second out. */
	if (loop_io_start(m->loop, &m->pidw, fd, LOOP_READ) == -1) {
		log_warn("cannot watch pid %ld", (long)pid);
		close(fd);
		return (0);
	}
	m->pidfd = fd;
	m->pid = pid;
	m->adopted = 1;
	m->started_ms = fnwm_now_ms();
	/* The start of the process itself, from /proc. */
	m->started_wall_ms = btime > 0 && hz > 0
	    ? (uint64_t)(btime * 1000 +
	          (long long)(start * 1000 / (unsigned long)hz))
	    : report_wall_ms();
	log_info("adopted running worker, pid %ld", (long)pid);
	return (1);
}

static uint64_t
worker_now(void)
{
	return (fnwm_now_ms());
}

static void
worker_announce(struct mon *m)
{
	int settled = m->state == FNWM_WS_DOWN || m->state == FNWM_WS_FAILED;
	/* After these a new master must not start the worker again. */
	int first = settled ||
	    (m->state == FNWM_WS_STOPPING && m->want_exit && !m->want_start);

	/*
	 * On the way to a restart the master hears first, and the .status
	 * follows from the writer thread: the loop does not wait for the
	 * disk. A worker that stays down, or is being stopped for good, has
	 * its files on disk first: whoever hears "down" or "failed" finds
	 * the exit that ended it in .status, and a master and monitor both
	 * killed meanwhile leave a .status that says not to start it.
	 */
	if (!first)
		report_state(m);
	if (settled || m->state == FNWM_WS_BACKOFF)
		files_final_runstate(m);
	files_write_status(m, first);
	if (first)
		report_state(m);
	/* A worker that ends while no master is there: nothing left to do. */
	mon_maybe_leave(m);
}

static void
worker_finish(struct mon *m)
{
	log_info("exiting");
	/* Also from before the loop runs (the master died at once). */
	m->finished = 1;
	loop_break(m->loop);
}

const struct mon_ops mon_real_ops = {
	.spawn = worker_spawn,
	.signal = worker_signal,
	.arm = worker_arm,
	.disarm = worker_disarm,
	.now = worker_now,
	.announce = worker_announce,
	.finish = worker_finish,
};
