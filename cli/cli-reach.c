/* SPDX-License-Identifier: MIT */
/*
 * Reaching a worker manager: a probe says whether one answers at the
 * configured address; when none does and the address is this host's, one
 * is started once, detached, logging to logs/fnwm-manager.log, and waited
 * for with a deadline (or told apart from a manager that could not start).
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fileio.h"
#include "util.h"
#include "xmalloc.h"
#include "jsonparse.h"
#include "cli-output.h"
#include "cli-reach.h"

#define CLI_CONNECT_MS 2000
#define CLI_REPLY_MS   5000
#define CLI_START_WAIT 15000 /* ms for an auto-started manager */

const char *
cli_dial_host(const char *host)
{
	if (*host == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
		return ("127.0.0.1");
	return (host);
}

int
cli_is_local(const char *host)
{
	return (strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0);
}

int
cli_probe(struct cli *cli, char **why)
{
	struct wsclient *c;
	json_object *o, *cls;
	const char *err;
	char *msg, *cause = NULL;
	size_t len;
	int r = -1;

	c = wsc_connect(cli->host, cli->port, &cli->wopts, CLI_CONNECT_MS,
	    &cause);
	if (c == NULL) {
		*why = cause;
		/*
		 * Refused: nothing listens. Anything else (no answer, a
		 * hang-up, not WebSocket) means something else holds the port.
		 */
		/* A manager, but not ours to use (no token, not trusted). */
		if (strstr(cause, "refused the connection") != NULL ||
		    strncmp(cause, "TLS", 3) == 0)
			return (-2);
		return (strstr(cause, "refused") != NULL ||
		            strstr(cause, "Name or service") != NULL
		        ? 0
		        : -1);
	}
	if (wsc_send(c, "identify") == 0 &&
	    wsc_recv(c, CLI_REPLY_MS, &msg, &len) == 0) {
		o = fnwm_json_parse(msg, len, &err);
		if (o != NULL && json_object_object_get_ex(o, "class", &cls) &&
		    json_object_is_type(cls, json_type_string) &&
		    strcmp(json_object_get_string(cls), "WorkerManager") == 0)
			r = 1;
		json_object_put(o);
		free(msg);
	}
	wsc_close(c);
	if (r == -1)
		*why = xstrdup("it does not identify as a worker manager");
	return (r);
}

/* Starts `fnwm startworkermanager` detached, with our dir/host/port. */
static pid_t
cli_spawn_manager(struct cli *cli, char **logpath)
{
	char self[PATH_MAX], portstr[16], *logs;
	ssize_t n;
	pid_t pid;
	int fd;

	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return (-1);
	self[n] = '\0';
	logs = xasprintf("%s/logs", cli->cfg.config_dir);
	(void)fnwm_mkdirs(logs, 0700);
	*logpath = xasprintf("%s/fnwm-manager.log", logs);
	free(logs);
	snprintf(portstr, sizeof portstr, "%d", cli->port);
	pid = fork();
	if (pid != 0)
		return (pid);
	fnwm_child_close_from(STDERR_FILENO + 1);
	setsid();
	signal(SIGINT, SIG_DFL);
	fd = open("/dev/null", O_RDONLY);
	if (fd != -1) {
		dup2(fd, 0);
		close(fd);
	}
	fd = open(*logpath, O_WRONLY | O_CREAT | O_APPEND, 0600);
	if (fd != -1) {
		dup2(fd, 1);
		dup2(fd, 2);
		close(fd);
	}
	execl(self, "fnwm", "--dir", cli->cfg.base_dir, "startworkermanager",
	    "--host", cli->cfg.host, "--port", portstr, (char *)NULL);
	_exit(111);
}

/*
 * Why the manager we started is gone: its own last warning in the shared
 * log (lines carry "fnwm[pid]"), else its last line, from where the log
 * stood when we started it.
 */
static char *
cli_start_failure(const char *path, off_t from, pid_t pid)
{
	char tag[32], *buf, *line, *save, *found = NULL, *last = NULL, *r;
	size_t len;

	snprintf(tag, sizeof tag, "fnwm[%ld]", (long)pid);
	if (fnwm_read_file(path, 16 * 1024 * 1024, &buf, &len) == -1)
		return (xstrdup("(no log)"));
	if ((size_t)from > len)
		from = 0;
	for (line = strtok_r(buf + from, "\n", &save); line != NULL;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, tag) == NULL)
			continue;
		last = line;
		if (strstr(line, " warning: ") != NULL ||
		    strstr(line, " fatal: ") != NULL)
			found = line;
	}
	r = found != NULL ? found : last;
	if (r != NULL && (found = strstr(r, "]: ")) == NULL)
		found = strstr(r, "] ");
	r = xstrdup(r == NULL                    ? "(it logged nothing)"
	        : strstr(r, "warning: ") != NULL ? strstr(r, "warning: ") + 9
	        : strstr(r, "fatal: ") != NULL   ? strstr(r, "fatal: ") + 7
	                                         : r);
	free(buf);
	return (r);
}

/* How long the shared manager log is now: what a new manager adds follows. */
static off_t
cli_log_size(struct cli *cli)
{
	char *logs = xasprintf("%s/logs/fnwm-manager.log", cli->cfg.config_dir);
	struct stat lst;
	off_t size = stat(logs, &lst) == 0 ? lst.st_size : 0;

	free(logs);
	return (size);
}

/* Starts a manager on this host and waits until one answers; 0 or -1. */
static int
cli_start_manager(struct cli *cli)
{
	char *why = NULL, *log = NULL, *last = NULL;
	off_t log_from = cli_log_size(cli);
	uint64_t deadline;
	pid_t pid;
	int r = 0, st, gone = 0;

	pid = cli_spawn_manager(cli, &log);
	if (pid == -1) {
		cli_err("cannot start a worker manager: %s", strerror(errno));
		free(log);
		return (-1);
	}
	if (!cli->tty)
		cli_err("started a worker manager (pid %ld, log %s)", (long)pid,
		    log);
	/*
	 * Started once; then only waited for, with bounded retries. Ours
	 * may lose the race to another one started at the same moment:
	 * whichever answers will do, until the deadline.
	 */
	deadline = fnwm_now_ms() + CLI_START_WAIT;
	while (r != 1 && fnwm_now_ms() < deadline) {
		r = cli_probe(cli, &why);
		free(why);
		why = NULL;
		if (r == 1)
			break;
		if (!gone && waitpid(pid, &st, WNOHANG) == pid) {
			gone = 1;
			last = cli_start_failure(log, log_from, pid);
			/* Nothing else may be starting: then it is final. */
			if (strstr(last, "already running") == NULL)
				break;
		}
		usleep(100 * 1000);
	}
	if (r != 1 && last != NULL)
		cli_err("the worker manager could not start: %s", last);
	else if (r != 1)
		cli_err("the worker manager did not answer in time; see %s",
		    log);
	free(last);
	free(log);
	return (r == 1 ? 0 : -1);
}

/* Makes sure a manager answers, starting one once if allowed. */
static int
cli_ensure_manager(struct cli *cli)
{
	char *why = NULL;
	int r;

	r = cli_probe(cli, &why);
	if (r == 1)
		return (0);
	if (r == -2)
		cli_err("%s", why);
	else if (r == -1)
		cli_err("port %d on %s is in use by something that is not a "
		        "worker manager (%s)",
		    cli->port, cli->host, why);
	else if (cli->no_start || !cli_is_local(cli->host))
		cli_err("no worker manager at ws://%s:%d/ (%s)", cli->host,
		    cli->port, why);
	else {
		free(why);
		return (cli_start_manager(cli));
	}
	free(why);
	return (-1);
}

int
cli_connect(struct cli *cli)
{
	char *cause = NULL;

	if (cli_ensure_manager(cli) == -1)
		return (-1);
	cli->ws = wsc_connect(cli->host, cli->port, &cli->wopts, CLI_CONNECT_MS,
	    &cause);
	if (cli->ws == NULL) {
		cli_err("%s", cause);
		free(cause);
		return (-1);
	}
	return (0);
}

int
cli_wait_unlocked(struct cli *cli, int timeout_ms)
{
	char *path = xasprintf("%s/fnwm-manager.lock", cli->cfg.config_dir);
	uint64_t deadline = fnwm_now_ms() + (uint64_t)timeout_ms;
	int fd, rc = -1;

	while (fnwm_now_ms() < deadline) {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd == -1) {
			rc = 0;
			break;
		}
		if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
			close(fd);
			rc = 0;
			break;
		}
		close(fd);
		usleep(50 * 1000);
	}
	free(path);
	return (rc);
}
