/* SPDX-License-Identifier: MIT */
/*
 * The command line: every command talks to the running manager over its
 * WebSocket protocol (so it works against a manager on another host),
 * starting one on the local host first when none answers. Exit codes:
 * 0 success, 1 operation failed, 2 usage error, 3 manager unreachable.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"
#include "cli.h"
#include "wsclient.h"

#define CLI_OK          0
#define CLI_FAILED      1
#define CLI_USAGE       2
#define CLI_UNREACHABLE 3

#define CLI_CONNECT_MS  2000
#define CLI_REPLY_MS    5000
#define CLI_START_WAIT  15000 /* ms for an auto-started manager */

/* Every worker's details, without the exit histories a table omits. */
#define CLI_DETAILS_BRIEF "{\"type\":\"worker_details\",\"history\":false}"

struct cli {
	struct fnwm_config cfg;
	const char *host; /* what we dial */
	int port;
	int no_start;
	int tty; /* progress as a bar on stderr */
	int bar_shown;
	struct wsc_options wopts; /* TLS and token of every connection */
	char token[320];
	struct wsclient *ws;
};

static void __attribute__((format(printf, 1, 2))) cli_err(const char *fmt, ...)
{
	va_list ap;

	fputs("fnwm: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void
cli_sigint(int sig)
{
	static const char msg[] = "\nfnwm: interrupted; the manager carries "
	                          "on with the operation\n";

	(void)!write(STDERR_FILENO, msg, sizeof msg - 1);
	_exit(130);
}

static const char *
cli_dial_host(const char *host)
{
	if (*host == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0)
		return ("127.0.0.1");
	return (host);
}

static int
cli_is_local(const char *host)
{
	return (strcmp(host, "127.0.0.1") == 0 ||
	    strcmp(host, "localhost") == 0 || strcmp(host, "::1") == 0 ||
	    strncmp(host, "127.", 4) == 0);
}

/*
 * One probe on a fresh connection, as FuncNodes clients do: 1 a manager
 * answered, 0 nothing listens, -1 something else listens there.
 */
static int
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

/* Makes sure a manager answers, starting one once if allowed. */
static int
cli_ensure_manager(struct cli *cli)
{
	char *why = NULL, *log = NULL, *last = NULL;
	uint64_t deadline;
	off_t log_from;
	pid_t pid;
	int r, st, gone = 0;

	r = cli_probe(cli, &why);
	if (r == 1)
		return (0);
	if (r == -2) {
		cli_err("%s", why);
		free(why);
		return (-1);
	}
	if (r == -1) {
		cli_err("port %d on %s is in use by something that is not a "
		        "worker manager (%s)",
		    cli->port, cli->host, why);
		free(why);
		return (-1);
	}
	if (cli->no_start || !cli_is_local(cli->host)) {
		cli_err("no worker manager at ws://%s:%d/ (%s)", cli->host,
		    cli->port, why);
		free(why);
		return (-1);
	}
	free(why);
	why = NULL;
	{
		char *logs =
		    xasprintf("%s/logs/fnwm-manager.log", cli->cfg.config_dir);
		struct stat lst;

		log_from = stat(logs, &lst) == 0 ? lst.st_size : 0;
		free(logs);
	}
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
	while (fnwm_now_ms() < deadline) {
		r = cli_probe(cli, &why);
		free(why);
		why = NULL;
		if (r == 1) {
			free(last);
			free(log);
			return (0);
		}
		if (!gone && waitpid(pid, &st, WNOHANG) == pid) {
			gone = 1;
			last = cli_start_failure(log, log_from, pid);
			/* Nothing else may be starting: then it is final. */
			if (strstr(last, "already running") == NULL)
				break;
		}
		usleep(100 * 1000);
	}
	if (last != NULL)
		cli_err("the worker manager could not start: %s", last);
	else
		cli_err("the worker manager did not answer in time; see %s",
		    log);
	free(last);
	free(log);
	return (-1);
}

static int
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

/* Sends text; then receives messages until done() says so. */
static json_object *
cli_recv_json(struct cli *cli, int timeout_ms, char **raw)
{
	json_object *o;
	const char *err;
	char *msg;
	size_t len;

	if (wsc_recv(cli->ws, timeout_ms, &msg, &len) == -1)
		return (NULL);
	o = fnwm_json_parse(msg, len, &err);
	if (raw != NULL)
		*raw = msg;
	else
		free(msg);
	if (o == NULL)
		o = json_object_new_object(); /* "pong" and friends */
	return (o);
}

static const char *
cli_type(json_object *o)
{
	json_object *t;

	if (json_object_object_get_ex(o, "type", &t) &&
	    json_object_is_type(t, json_type_string))
		return (json_object_get_string(t));
	return ("");
}

static const char *
cli_str(json_object *o, const char *key)
{
	json_object *v;

	if (o != NULL && json_object_object_get_ex(o, key, &v) &&
	    json_object_is_type(v, json_type_string))
		return (json_object_get_string(v));
	return (NULL);
}

static void
cli_bar_clear(struct cli *cli)
{
	if (cli->tty && cli->bar_shown) {
		fputs("\r\033[K", stderr);
		cli->bar_shown = 0;
	}
}

/* Shows a progress message: a bar on a terminal, a line otherwise. */
static void
cli_progress(struct cli *cli, json_object *o)
{
	json_object *v;
	const char *msg = cli_str(o, "message"), *status = cli_str(o, "status");
	double p = 0;
	int i, filled;

	if (json_object_object_get_ex(o, "progress", &v))
		p = json_object_get_double(v);
	if (p < 0)
		p = 0;
	if (p > 1)
		p = 1;
	if (msg == NULL)
		return;
	if (status != NULL && strcmp(status, "error") == 0) {
		cli_bar_clear(cli);
		fprintf(stderr, "fnwm: warning: %s\n", msg);
		return;
	}
	if (*msg == '\0') {
		cli_bar_clear(cli);
		return;
	}
	if (!cli->tty) {
		fprintf(stderr, "fnwm: %3d%% %s\n", (int)(p * 100 + 0.5), msg);
		return;
	}
	filled = (int)(p * 20 + 0.5);
	fputs("\r\033[K[", stderr);
	for (i = 0; i < 20; i++)
		fputc(i < filled ? '#' : '-', stderr);
	fprintf(stderr, "] %3d%% %.60s", (int)(p * 100 + 0.5), msg);
	fflush(stderr);
	cli->bar_shown = 1;
}

enum cli_wait {
	WAIT_SET_WORKER, /* set_worker or error */
	WAIT_STOPPED,    /* stop_worker's final reset, or error */
	WAIT_REPAIRED,   /* repair_worker's final reset, or error */
	WAIT_DELETED,    /* worker_deleted or error */
	WAIT_CREATED,    /* worker_created or error */
};

/*
 * Follows an operation's messages to its end. Returns the final message
 * (caller puts) with *ok set, or NULL when the manager went away.
 */
static json_object *
cli_follow(struct cli *cli, enum cli_wait what, int *ok)
{
	/*
	 * The reset that ends an operation comes after the operation's own
	 * first message; one before it belongs to somebody else's new_worker.
	 */
	static const char *const opening[] = {
		[WAIT_STOPPED] = "Stopping worker.",
		[WAIT_REPAIRED] = "Repairing worker.",
	};
	const int by_reset = what == WAIT_STOPPED || what == WAIT_REPAIRED;
	json_object *o;
	const char *type, *msg;
	int started = 0;

	*ok = 0;
	while ((o = cli_recv_json(cli, -1, NULL)) != NULL) {
		type = cli_type(o);
		if (strcmp(type, "progress") == 0) {
			msg = cli_str(o, "message");
			cli_progress(cli, o);
			if (by_reset && msg != NULL &&
			    strcmp(msg, opening[what]) == 0)
				started = 1;
			else if (by_reset && started && msg != NULL &&
			    *msg == '\0') {
				*ok = 1;
				return (o);
			}
		} else if (strcmp(type, "error") == 0) {
			cli_bar_clear(cli);
			return (o);
		} else if ((what == WAIT_SET_WORKER &&
		               strcmp(type, "set_worker") == 0) ||
		    (what == WAIT_DELETED &&
		        strcmp(type, "worker_deleted") == 0) ||
		    (what == WAIT_CREATED &&
		        strcmp(type, "worker_created") == 0)) {
			cli_bar_clear(cli);
			*ok = 1;
			return (o);
		}
		json_object_put(o);
	}
	cli_bar_clear(cli);
	return (NULL);
}

static json_object *
cli_request(struct cli *cli, const char *text, const char *reply_type)
{
	json_object *o;

	if (wsc_send(cli->ws, text) == -1)
		return (NULL);
	while ((o = cli_recv_json(cli, 30000, NULL)) != NULL) {
		if (strcmp(cli_type(o), reply_type) == 0 ||
		    strcmp(cli_type(o), "error") == 0)
			return (o);
		json_object_put(o);
	}
	return (NULL);
}

static int
cli_lost(void)
{
	cli_err("lost the connection to the worker manager");
	return (CLI_UNREACHABLE);
}

/* All entries of worker_status, each with "active" set. */
static json_object *
cli_workers(struct cli *cli)
{
	json_object *st, *all, *list;
	static const char *lists[] = { "active", "inactive" };
	size_t i, k;

	st = cli_request(cli, "worker_status", "worker_status");
	if (st == NULL || strcmp(cli_type(st), "worker_status") != 0) {
		json_object_put(st);
		return (NULL);
	}
	all = json_object_new_array();
	for (k = 0; k < 2; k++) {
		if (!json_object_object_get_ex(st, lists[k], &list) ||
		    !json_object_is_type(list, json_type_array))
			continue;
		for (i = 0; i < json_object_array_length(list); i++) {
			json_object *e = json_object_array_get_idx(list, i);

			json_object_object_add(e, "active",
			    json_object_new_boolean(k == 0));
			json_object_array_add(all, json_object_get(e));
		}
	}
	json_object_put(st);
	return (all);
}

/* Finds the worker named by --uuid/--name; prints why not. */
static json_object *
cli_resolve(struct cli *cli, const char *uuid, const char *name, int *rc)
{
	json_object *all = cli_workers(cli), *hit = NULL, *e;
	size_t i, n = 0;

	if (all == NULL) {
		*rc = cli_lost();
		return (NULL);
	}
	for (i = 0; i < json_object_array_length(all); i++) {
		e = json_object_array_get_idx(all, i);
		if (uuid != NULL &&
		    (cli_str(e, "uuid") == NULL ||
		        strcmp(cli_str(e, "uuid"), uuid) != 0))
			continue;
		if (name != NULL &&
		    (cli_str(e, "name") == NULL ||
		        strcmp(cli_str(e, "name"), name) != 0))
			continue;
		if (n++ == 0)
			hit = e;
	}
	if (n == 1) {
		hit = json_object_get(hit);
		json_object_put(all);
		return (hit);
	}
	if (n == 0) {
		if (uuid != NULL && name != NULL)
			cli_err("no worker %s named \"%s\"", uuid, name);
		else if (uuid != NULL)
			cli_err("no worker with uuid %s", uuid);
		else
			cli_err("no worker named \"%s\"", name);
	} else {
		cli_err("%zu workers are named \"%s\"; pick one with --uuid:",
		    n, name);
		for (i = 0; i < json_object_array_length(all); i++) {
			e = json_object_array_get_idx(all, i);
			if (cli_str(e, "name") != NULL &&
			    strcmp(cli_str(e, "name"), name) == 0)
				fprintf(stderr, "  %s\n", cli_str(e, "uuid"));
		}
	}
	json_object_put(all);
	*rc = CLI_FAILED;
	return (NULL);
}

static void
cli_print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o,
	    JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void
cli_duration(char *buf, size_t sz, double secs)
{
	long s = secs < 0 ? 0 : (long)secs;

	if (s < 60)
		snprintf(buf, sz, "%lds", s);
	else if (s < 3600)
		snprintf(buf, sz, "%ldm%02lds", s / 60, s % 60);
	else if (s < 86400)
		snprintf(buf, sz, "%ldh%02ldm", s / 3600, (s % 3600) / 60);
	else
		snprintf(buf, sz, "%ldd%02ldh", s / 86400, (s % 86400) / 3600);
}

/* A worker that answers is running, whatever its healthy timer says. */
static const char *
cli_state(json_object *d)
{
	json_object *v;
	const char *st = cli_str(d, "state");

	if (st == NULL)
		return ("?");
	if (json_object_object_get_ex(d, "active", &v) &&
	    json_object_get_boolean(v) && strcmp(st, "starting") == 0)
		return ("running");
	return (st);
}

/* {"code": n|null, "signal": n|null}: both null is an adopted worker's. */
static void
cli_exit_text(json_object *le, char *buf, size_t sz)
{
	json_object *v;

	if (json_object_object_get_ex(le, "signal", &v) &&
	    json_object_is_type(v, json_type_int))
		snprintf(buf, sz, "signal %d", json_object_get_int(v));
	else if (json_object_object_get_ex(le, "code", &v) &&
	    json_object_is_type(v, json_type_int))
		snprintf(buf, sz, "status %d", json_object_get_int(v));
	else
		snprintf(buf, sz, "exit status unknown (adopted)");
}

static void
cli_last_exit(json_object *d, char *buf, size_t sz)
{
	json_object *le;

	snprintf(buf, sz, "-");
	if (!json_object_object_get_ex(d, "last_exit", &le) ||
	    !json_object_is_type(le, json_type_object))
		return;
	cli_exit_text(le, buf, sz);
}

static int
cli_list(struct cli *cli, int full, int as_json)
{
	json_object *d, *list, *e, *v;
	char up[32], le[32], pid[16], port[16];
	size_t i;
	double now = (double)time(NULL);
	int uw = 32;

	if (full) {
		json_object *all = cli_workers(cli);

		if (all == NULL)
			return (cli_lost());
		cli_print_json(all);
		json_object_put(all);
		return (CLI_OK);
	}
	d = cli_request(cli, CLI_DETAILS_BRIEF, "worker_details");
	if (d == NULL)
		return (cli_lost());
	if (!json_object_object_get_ex(d, "workers", &list)) {
		json_object_put(d);
		return (cli_lost());
	}
	if (as_json) {
		/* The table as JSON: the same states. */
		for (i = 0; i < json_object_array_length(list); i++) {
			e = json_object_array_get_idx(list, i);
			json_object_object_add(e, "state",
			    json_object_new_string(cli_state(e)));
		}
		cli_print_json(list);
		json_object_put(d);
		return (CLI_OK);
	}
	/* uuids are not cut: they are what the other commands take. */
	for (i = 0; i < json_object_array_length(list); i++) {
		const char *u =
		    cli_str(json_object_array_get_idx(list, i), "uuid");

		if (u != NULL && (int)strlen(u) > uw)
			uw = (int)strlen(u);
	}
	printf("%-20s %-*s %-12s %7s %6s %9s %8s %-4s %s\n", "NAME", uw, "UUID",
	    "STATE", "PID", "PORT", "UPTIME", "RESTARTS", "AUTO", "LAST EXIT");
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		snprintf(pid, sizeof pid, "-");
		snprintf(port, sizeof port, "-");
		snprintf(up, sizeof up, "-");
		if (json_object_object_get_ex(e, "pid", &v) &&
		    json_object_is_type(v, json_type_int))
			snprintf(pid, sizeof pid, "%d", json_object_get_int(v));
		if (json_object_object_get_ex(e, "port", &v) &&
		    json_object_is_type(v, json_type_int))
			snprintf(port, sizeof port, "%d",
			    json_object_get_int(v));
		if (json_object_object_get_ex(e, "started", &v) &&
		    json_object_is_type(v, json_type_double))
			cli_duration(up, sizeof up,
			    now - json_object_get_double(v));
		cli_last_exit(e, le, sizeof le);
		printf("%-20.20s %-*s %-12s %7s %6s %9s %8d %-4s %s\n",
		    cli_str(e, "name") != NULL ? cli_str(e, "name") : "-", uw,
		    cli_str(e, "uuid"), cli_state(e), pid, port, up,
		    json_object_object_get_ex(e, "restarts", &v)
		        ? json_object_get_int(v)
		        : 0,
		    json_object_object_get_ex(e, "autostart", &v) &&
		            json_object_get_boolean(v)
		        ? "on"
		        : "off",
		    le);
	}
	json_object_put(d);
	return (CLI_OK);
}

/*
 * Runs a worker operation and follows it to its end, printing nothing:
 * the final message (set_worker, or the error) goes to *final either
 * way. For one of many, and beneath cli_op.
 */
static int
cli_op_quiet(struct cli *cli, const char *type, const char *uuid,
    enum cli_wait what, json_object **final)
{
	json_object *req = json_object_new_object(), *o;
	int ok;

	json_object_object_add(req, "type", json_object_new_string(type));
	json_object_object_add(req, "workerid", json_object_new_string(uuid));
	if (wsc_send(cli->ws, fnwm_json_str(req, NULL)) == -1) {
		json_object_put(req);
		return (cli_lost());
	}
	json_object_put(req);
	o = cli_follow(cli, what, &ok);
	if (o == NULL)
		return (cli_lost());
	*final = o;
	return (ok ? CLI_OK : CLI_FAILED);
}

/* Runs a worker operation and follows it to its end; says why it failed. */
static int
cli_op(struct cli *cli, const char *type, const char *uuid, enum cli_wait what,
    json_object **final)
{
	json_object *o = NULL;
	int rc = cli_op_quiet(cli, type, uuid, what, &o);

	if (rc == CLI_FAILED) {
		cli_err("%s",
		    cli_str(o, "message") != NULL ? cli_str(o, "message")
		                                  : "the operation failed");
		json_object_put(o);
		return (CLI_FAILED);
	}
	if (rc != CLI_OK)
		return (rc);
	if (final != NULL)
		*final = o;
	else
		json_object_put(o);
	return (CLI_OK);
}

static int
cli_started(struct cli *cli, json_object *sw, const char *verb)
{
	json_object *data, *v;

	if (!json_object_object_get_ex(sw, "data", &data))
		return (CLI_OK);
	printf("worker %s (%s) %s: ws://%s:%d/",
	    cli_str(data, "name") != NULL ? cli_str(data, "name") : "?",
	    cli_str(data, "uuid"), verb,
	    cli_str(data, "host") != NULL ? cli_str(data, "host") : "?",
	    json_object_object_get_ex(data, "port", &v) ? json_object_get_int(v)
	                                                : 0);
	if (json_object_object_get_ex(data, "pid", &v) &&
	    json_object_is_type(v, json_type_int))
		printf(", pid %d", json_object_get_int(v));
	putchar('\n');
	return (CLI_OK);
}

static int
cli_logs(struct cli *cli, const char *uuid, int lines, int follow)
{
	json_object *req = json_object_new_object(), *o, *arr;
	const char *type;
	size_t i;

	json_object_object_add(req, "type",
	    json_object_new_string("worker_logs"));
	json_object_object_add(req, "workerid", json_object_new_string(uuid));
	json_object_object_add(req, "lines", json_object_new_int(lines));
	json_object_object_add(req, "follow", json_object_new_boolean(follow));
	if (wsc_send(cli->ws, fnwm_json_str(req, NULL)) == -1) {
		json_object_put(req);
		return (cli_lost());
	}
	json_object_put(req);
	while ((o = cli_recv_json(cli, follow ? -1 : 30000, NULL)) != NULL) {
		type = cli_type(o);
		if (strcmp(type, "error") == 0) {
			cli_err("%s", cli_str(o, "message"));
			json_object_put(o);
			return (CLI_FAILED);
		}
		if ((strcmp(type, "worker_logs") == 0 ||
		        strcmp(type, "worker_log") == 0) &&
		    json_object_object_get_ex(o, "lines", &arr)) {
			for (i = 0; i < json_object_array_length(arr); i++)
				puts(json_object_get_string(
				    json_object_array_get_idx(arr, i)));
			fflush(stdout);
			if (!follow) {
				json_object_put(o);
				return (CLI_OK);
			}
		}
		json_object_put(o);
	}
	return (follow ? CLI_OK : cli_lost());
}

/* The worker's interpreter, run here (modules list, py). */
static int
cli_exec_python(struct cli *cli, json_object *w, char **args, int nargs)
{
	char *py = launch_python(&cli->cfg, w);
	char **argv = xcalloc((size_t)nargs + 2, sizeof *argv);
	int i;

	argv[0] = py;
	for (i = 0; i < nargs; i++)
		argv[i + 1] = args[i];
	fflush(stdout);
	execvp(py, argv);
	cli_err("cannot run %s: %s", py, strerror(errno));
	free(argv);
	free(py);
	return (CLI_FAILED);
}

static void
cli_worker_usage(FILE *f)
{
	fprintf(f,
	    "usage: fnwm worker list [--full] [--json]\n"
	    "       fnwm worker new [--name N] [--uuid U] [--not-in-venv]\n"
	    "                       [--workertype T] [--reference R "
	    "[--copy-lib] [--copy-ns]]\n"
	    "                       [--start]\n"
	    "       fnwm worker (--name N | --uuid U) COMMAND\n"
	    "       fnwm worker start|stop|restart (--all | --state STATE)\n"
	    "\n"
	    "commands for one worker:\n"
	    "  start            start it (if needed) and wait until it "
	    "answers\n"
	    "  stop             stop it (its stop command, then TERM, then "
	    "KILL)\n"
	    "  restart          stop it and start a new process\n"
	    "  delete           stop it and remove its files and data dir\n"
	    "  status           its state, pid, uptime, restarts, last exit\n"
	    "  history          its last 20 exits: when, how, how long it "
	    "ran, why\n"
	    "  logs [-f] [-n N] its last N lines of output (default 50); -f "
	    "follows\n"
	    "  repair           recreate its virtual environment\n"
	    "  enable           start it whenever the worker manager starts\n"
	    "  disable          do not start it with the worker manager\n"
	    "  modules list     list the FuncNodes modules in its "
	    "environment\n"
	    "  py -- ARGS       run its Python interpreter with ARGS\n"
	    "\n"
	    "--all acts on every worker, --state STATE on those in that "
	    "state (down,\n"
	    "starting, running, stopping, backoff, failed, unresponsive), one "
	    "after\n"
	    "the other with a line each; the exit status is 0 only when all "
	    "succeeded.\n");
}

static int
cli_worker_new(struct cli *cli, int argc, char **argv, const char *uuid,
    const char *name)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "not-in-venv", no_argument, NULL, 'N' },
		{ "workertype", required_argument, NULL, 't' },
		{ "reference", required_argument, NULL, 'r' },
		{ "copy-lib", no_argument, NULL, 'L' },
		{ "copy-ns", no_argument, NULL, 'S' },
		{ "start", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	json_object *req, *kw, *o, *sw = NULL;
	const char *wtype = NULL, *ref = NULL, *created;
	int ch, in_venv = -1, copylib = 0, copyns = 0, start = 0, ok, rc;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'u':
			uuid = optarg;
			break;
		case 'N':
			in_venv = 0;
			break;
		case 't':
			wtype = optarg;
			break;
		case 'r':
			ref = optarg;
			break;
		case 'L':
			copylib = 1;
			break;
		case 'S':
			copyns = 1;
			break;
		case 's':
			start = 1;
			break;
		case 'h':
			cli_worker_usage(stdout);
			return (CLI_OK);
		default:
			cli_worker_usage(stderr);
			return (CLI_USAGE);
		}
	}
	if (optind != argc || ((copylib || copyns) && ref == NULL)) {
		cli_err(ref == NULL && (copylib || copyns)
		        ? "--copy-lib and --copy-ns need --reference"
		        : "unexpected argument");
		return (CLI_USAGE);
	}
	if (cli_connect(cli) == -1)
		return (CLI_UNREACHABLE);
	kw = json_object_new_object();
	if (name != NULL)
		json_object_object_add(kw, "name",
		    json_object_new_string(name));
	if (uuid != NULL)
		json_object_object_add(kw, "uuid",
		    json_object_new_string(uuid));
	if (wtype != NULL)
		json_object_object_add(kw, "workertype",
		    json_object_new_string(wtype));
	/* Like `funcnodes worker new`: in a venv unless told otherwise. */
	json_object_object_add(kw, "in_venv",
	    json_object_new_boolean(in_venv != 0));
	if (ref != NULL) {
		json_object_object_add(kw, "reference",
		    json_object_new_string(ref));
		json_object_object_add(kw, "copyLib",
		    json_object_new_boolean(copylib));
		json_object_object_add(kw, "copyNS",
		    json_object_new_boolean(copyns));
	}
	req = json_object_new_object();
	json_object_object_add(req, "type",
	    json_object_new_string("new_worker"));
	json_object_object_add(req, "kwargs", kw);
	rc = wsc_send(cli->ws, fnwm_json_str(req, NULL));
	json_object_put(req);
	if (rc == -1)
		return (cli_lost());
	o = cli_follow(cli, WAIT_CREATED, &ok);
	if (o == NULL)
		return (cli_lost());
	if (!ok) {
		cli_err("%s", cli_str(o, "message"));
		json_object_put(o);
		return (CLI_FAILED);
	}
	created = cli_str(o, "uuid");
	printf("%s\n", created);
	fflush(stdout);
	rc = CLI_OK;
	if (start) {
		rc = cli_op(cli, "set_active", created, WAIT_SET_WORKER, &sw);
		if (rc == CLI_OK) {
			cli_started(cli, sw, "running");
			json_object_put(sw);
		}
	}
	json_object_put(o);
	return (rc);
}

static int
cli_worker_status(struct cli *cli, const char *uuid)
{
	json_object *d, *list, *e, *v;
	char le[32], up[32];
	size_t i;

	d = cli_request(cli, CLI_DETAILS_BRIEF, "worker_details");
	if (d == NULL || !json_object_object_get_ex(d, "workers", &list)) {
		json_object_put(d);
		return (cli_lost());
	}
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		if (strcmp(cli_str(e, "uuid"), uuid) != 0)
			continue;
		cli_last_exit(e, le, sizeof le);
		snprintf(up, sizeof up, "-");
		if (json_object_object_get_ex(e, "started", &v) &&
		    json_object_is_type(v, json_type_double))
			cli_duration(up, sizeof up,
			    (double)time(NULL) - json_object_get_double(v));
		printf("name:      %s\nuuid:      %s\nstate:     %s\n",
		    cli_str(e, "name") != NULL ? cli_str(e, "name") : "-", uuid,
		    cli_state(e));
		printf("pid:       %s\n",
		    json_object_object_get_ex(e, "pid", &v) && v != NULL
		        ? json_object_get_string(v)
		        : "-");
		printf("address:   ws://%s:%s/\n",
		    cli_str(e, "host") != NULL ? cli_str(e, "host") : "?",
		    json_object_object_get_ex(e, "port", &v)
		        ? json_object_get_string(v)
		        : "?");
		printf("uptime:    %s\nrestarts:  %d\nlast exit: %s\n", up,
		    json_object_object_get_ex(e, "restarts", &v)
		        ? json_object_get_int(v)
		        : 0,
		    le);
		printf("autostart: %s\n",
		    json_object_object_get_ex(e, "autostart", &v) &&
		            json_object_get_boolean(v)
		        ? "on"
		        : "off");
		if (cli_str(e, "env_path") != NULL)
			printf("venv:      %s\n", cli_str(e, "env_path"));
		json_object_put(d);
		return (CLI_OK);
	}
	json_object_put(d);
	cli_err("no worker with uuid %s", uuid);
	return (CLI_FAILED);
}

/* The details of one worker (caller puts), or NULL with *rc set. */
static json_object *
cli_details_of(struct cli *cli, const char *uuid, int *rc)
{
	json_object *req = json_object_new_object(), *d, *list;

	json_object_object_add(req, "type",
	    json_object_new_string("worker_details"));
	json_object_object_add(req, "workerid", json_object_new_string(uuid));
	d = cli_request(cli, fnwm_json_str(req, NULL), "worker_details");
	json_object_put(req);
	if (d == NULL) {
		*rc = cli_lost();
		return (NULL);
	}
	if (strcmp(cli_type(d), "error") == 0) {
		cli_err("%s", cli_str(d, "message"));
		json_object_put(d);
		*rc = CLI_FAILED;
		return (NULL);
	}
	if (!json_object_object_get_ex(d, "workers", &list) ||
	    json_object_array_length(list) != 1) {
		json_object_put(d);
		*rc = cli_lost();
		return (NULL);
	}
	list = json_object_get(json_object_array_get_idx(list, 0));
	json_object_put(d);
	return (list);
}

/* `enable` / `disable`: whether it starts with the manager. */
static int
cli_worker_autostart(struct cli *cli, const char *uuid, const char *name,
    int on)
{
	json_object *req = json_object_new_object(), *o;
	int rc = CLI_OK;

	json_object_object_add(req, "type",
	    json_object_new_string("set_autostart"));
	json_object_object_add(req, "workerid", json_object_new_string(uuid));
	json_object_object_add(req, "autostart", json_object_new_boolean(on));
	o = cli_request(cli, fnwm_json_str(req, NULL), "autostart");
	json_object_put(req);
	if (o == NULL)
		return (cli_lost());
	if (strcmp(cli_type(o), "error") == 0) {
		cli_err("%s", cli_str(o, "message"));
		rc = CLI_FAILED;
	} else
		printf("worker %s (%s) %s: it %s with the worker manager\n",
		    name != NULL ? name : "?", uuid,
		    on ? "enabled" : "disabled",
		    on ? "starts" : "no longer starts");
	json_object_put(o);
	return (rc);
}

static const char *const cli_states[] = { "down", "starting", "running",
	"stopping", "backoff", "failed", "unresponsive", NULL };

/*
 * start/stop/restart of every worker (--all) or of those in one state
 * (--state S), one after the other, with a line per worker; CLI_OK only
 * when every one succeeded.
 */
static int
cli_worker_bulk(struct cli *cli, const char *sub, const char *state)
{
	json_object *d, *list, *e, *sw;
	const char *uuid, *name, *type, *verb;
	enum cli_wait what;
	size_t i, n = 0, failed = 0;
	int rc;

	if (strcmp(sub, "start") == 0) {
		type = "set_active";
		what = WAIT_SET_WORKER;
		verb = "started";
	} else if (strcmp(sub, "restart") == 0) {
		type = "restart_worker";
		what = WAIT_SET_WORKER;
		verb = "restarted";
	} else {
		type = "stop_worker";
		what = WAIT_STOPPED;
		verb = "stopped";
	}
	d = cli_request(cli, CLI_DETAILS_BRIEF, "worker_details");
	if (d == NULL || !json_object_object_get_ex(d, "workers", &list)) {
		json_object_put(d);
		return (cli_lost());
	}
	for (i = 0; i < json_object_array_length(list); i++) {
		e = json_object_array_get_idx(list, i);
		uuid = cli_str(e, "uuid");
		name = cli_str(e, "name") != NULL ? cli_str(e, "name") : "-";
		if (uuid == NULL ||
		    (state != NULL && strcmp(cli_state(e), state) != 0))
			continue;
		n++;
		sw = NULL;
		rc = cli_op_quiet(cli, type, uuid, what, &sw);
		if (rc == CLI_UNREACHABLE) {
			json_object_put(d);
			return (rc);
		}
		if (rc == CLI_OK) {
			json_object *data, *v;

			printf("%s (%s): %s", name, uuid, verb);
			if (sw != NULL &&
			    json_object_object_get_ex(sw, "data", &data) &&
			    json_object_object_get_ex(data, "pid", &v) &&
			    json_object_is_type(v, json_type_int))
				printf(", pid %d", json_object_get_int(v));
			putchar('\n');
		} else {
			printf("%s (%s): failed: %s\n", name, uuid,
			    sw != NULL && cli_str(sw, "message") != NULL
			        ? cli_str(sw, "message")
			        : "the operation failed");
			failed++;
		}
		fflush(stdout);
		json_object_put(sw);
	}
	json_object_put(d);
	if (n == 0)
		fprintf(stderr, "fnwm: no worker %s%s\n",
		    state != NULL ? "is " : "",
		    state != NULL ? state : "to act on");
	else if (failed > 0)
		cli_err("%zu of %zu workers failed", failed, n);
	return (failed > 0 ? CLI_FAILED : CLI_OK);
}

/* The worker's last exits, oldest first, and the totals by reason. */
static int
cli_worker_history(struct cli *cli, const char *uuid)
{
	json_object *e, *h, *r, *v, *tot;
	char when[32], how[48], ran[32];
	struct tm tm;
	time_t t;
	size_t i;
	int rc = CLI_OK, first = 1;

	if ((e = cli_details_of(cli, uuid, &rc)) == NULL)
		return (rc);
	if (!json_object_object_get_ex(e, "history", &h) ||
	    json_object_array_length(h) == 0) {
		printf("no exits recorded for worker %s\n", uuid);
		json_object_put(e);
		return (CLI_OK);
	}
	printf("%-20s %-30s %9s  %s\n", "TIME (UTC)", "EXIT", "RAN", "REASON");
	for (i = 0; i < json_object_array_length(h); i++) {
		r = json_object_array_get_idx(h, i);
		t = json_object_object_get_ex(r, "time", &v)
		    ? (time_t)json_object_get_double(v)
		    : 0;
		if (gmtime_r(&t, &tm) == NULL ||
		    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm) == 0)
			snprintf(when, sizeof when, "?");
		cli_exit_text(r, how, sizeof how);
		if (json_object_object_get_ex(r, "ran", &v) &&
		    json_object_get_double(v) < 60)
			snprintf(ran, sizeof ran, "%.1fs",
			    json_object_get_double(v));
		else
			cli_duration(ran, sizeof ran,
			    v != NULL ? json_object_get_double(v) : 0);
		printf("%-20s %-30s %9s  %s\n", when, how, ran,
		    cli_str(r, "reason") != NULL ? cli_str(r, "reason") : "?");
	}
	if (json_object_object_get_ex(e, "exits", &tot)) {
		printf("exits in all:");
		json_object_object_foreach(tot, k, n) {
			if (json_object_get_int64(n) == 0)
				continue;
			printf("%s %lld %s", first ? "" : ",",
			    (long long)json_object_get_int64(n), k);
			first = 0;
		}
		printf("%s\n", first ? " none" : "");
	}
	json_object_put(e);
	return (CLI_OK);
}

static int
cli_worker(struct cli *cli, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "uuid", required_argument, NULL, 'u' },
		{ "all", no_argument, NULL, 'a' },
		{ "state", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = NULL, *uuid = NULL, *sub, *state = NULL;
	int all = 0;
	json_object *w = NULL, *sw = NULL;
	int ch, rc = CLI_FAILED, lines = 50, follow = 0, full = 0, as_json = 0,
	        i;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			name = optarg;
			break;
		case 'u':
			uuid = optarg;
			break;
		case 'a':
			all = 1;
			break;
		case 's':
			state = optarg;
			break;
		case 'h':
			cli_worker_usage(stdout);
			return (CLI_OK);
		default:
			cli_worker_usage(stderr);
			return (CLI_USAGE);
		}
	}
	if (optind >= argc) {
		cli_worker_usage(stderr);
		return (CLI_USAGE);
	}
	sub = argv[optind];
	argc -= optind;
	argv += optind;
	/* "--help" anywhere after the command (but not py's own args). */
	if (strcmp(sub, "py") != 0 && strcmp(sub, "new") != 0) {
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--help") == 0 ||
			    strcmp(argv[i], "-h") == 0) {
				cli_worker_usage(stdout);
				return (CLI_OK);
			}
		}
	}
	if (strcmp(sub, "new") == 0)
		return (cli_worker_new(cli, argc, argv, uuid, name));
	if (strcmp(sub, "list") == 0) {
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--full") == 0)
				full = 1;
			else if (strcmp(argv[i], "--json") == 0)
				as_json = 1;
			else {
				cli_worker_usage(stderr);
				return (CLI_USAGE);
			}
		}
		if (cli_connect(cli) == -1)
			return (CLI_UNREACHABLE);
		return (cli_list(cli, full, as_json));
	}
	/* start|stop|restart --all | --state S, before or after the verb. */
	if (strcmp(sub, "start") == 0 || strcmp(sub, "stop") == 0 ||
	    strcmp(sub, "restart") == 0) {
		for (i = 1; i < argc; i++) {
			if (strcmp(argv[i], "--all") == 0)
				all = 1;
			else if (strcmp(argv[i], "--state") == 0 &&
			    i + 1 < argc)
				state = argv[++i];
			else if (strncmp(argv[i], "--state=", 8) == 0)
				state = argv[i] + 8;
			else {
				cli_worker_usage(stderr);
				return (CLI_USAGE);
			}
		}
		argc = 1;
	}
	if (all || state != NULL) {
		if (strcmp(sub, "start") != 0 && strcmp(sub, "stop") != 0 &&
		    strcmp(sub, "restart") != 0) {
			cli_err("--all and --state go with start, stop and "
			        "restart");
			return (CLI_USAGE);
		}
		if (uuid != NULL || name != NULL || (all && state != NULL)) {
			cli_err("one of --all, --state S, --name N, --uuid U");
			return (CLI_USAGE);
		}
		if (state != NULL) {
			for (i = 0; cli_states[i] != NULL; i++)
				if (strcmp(state, cli_states[i]) == 0)
					break;
			if (cli_states[i] == NULL) {
				cli_err("unknown state \"%s\" (down, starting, "
				        "running, stopping, backoff, failed, "
				        "unresponsive)",
				    state);
				return (CLI_USAGE);
			}
		}
		if (cli_connect(cli) == -1)
			return (CLI_UNREACHABLE);
		return (cli_worker_bulk(cli, sub, state));
	}
	if (uuid == NULL && name == NULL) {
		cli_err("uuid or name is required (--uuid U or --name N)");
		return (CLI_USAGE);
	}
	if (strcmp(sub, "logs") == 0) {
		for (i = 1; i < argc; i++) {
			long long v;

			if (strcmp(argv[i], "-f") == 0 ||
			    strcmp(argv[i], "--follow") == 0)
				follow = 1;
			else if ((strcmp(argv[i], "-n") == 0 ||
			             strcmp(argv[i], "--lines") == 0) &&
			    i + 1 < argc &&
			    fnwm_parse_int(argv[i + 1], 0, 100000, &v) == 0) {
				lines = (int)v;
				i++;
			} else {
				cli_worker_usage(stderr);
				return (CLI_USAGE);
			}
		}
	} else if (strcmp(sub, "modules") == 0) {
		if (argc != 2 || strcmp(argv[1], "list") != 0) {
			cli_err("the only modules task is \"list\"");
			return (CLI_USAGE);
		}
	} else if (strcmp(sub, "py") == 0) {
		/* everything after "py" (and an optional "--") */
	} else if (argc != 1) {
		cli_worker_usage(stderr);
		return (CLI_USAGE);
	} else if (strcmp(sub, "start") != 0 && strcmp(sub, "stop") != 0 &&
	    strcmp(sub, "restart") != 0 && strcmp(sub, "delete") != 0 &&
	    strcmp(sub, "status") != 0 && strcmp(sub, "repair") != 0 &&
	    strcmp(sub, "history") != 0 && strcmp(sub, "enable") != 0 &&
	    strcmp(sub, "disable") != 0) {
		cli_err("unknown worker command: %s", sub);
		cli_worker_usage(stderr);
		return (CLI_USAGE);
	}
	if (cli_connect(cli) == -1)
		return (CLI_UNREACHABLE);
	w = cli_resolve(cli, uuid, name, &rc);
	if (w == NULL)
		return (rc);
	uuid = cli_str(w, "uuid");
	if (strcmp(sub, "start") == 0) {
		rc = cli_op(cli, "set_active", uuid, WAIT_SET_WORKER, &sw);
		if (rc == CLI_OK)
			cli_started(cli, sw, "running");
	} else if (strcmp(sub, "restart") == 0) {
		rc = cli_op(cli, "restart_worker", uuid, WAIT_SET_WORKER, &sw);
		if (rc == CLI_OK)
			cli_started(cli, sw, "restarted");
	} else if (strcmp(sub, "stop") == 0) {
		rc = cli_op(cli, "stop_worker", uuid, WAIT_STOPPED, NULL);
		if (rc == CLI_OK)
			printf("worker %s stopped\n", uuid);
	} else if (strcmp(sub, "delete") == 0) {
		rc = cli_op(cli, "delete_worker", uuid, WAIT_DELETED, NULL);
		if (rc == CLI_OK)
			printf("worker %s deleted\n", uuid);
	} else if (strcmp(sub, "repair") == 0) {
		rc = cli_op(cli, "repair_worker", uuid, WAIT_REPAIRED, NULL);
		if (rc == CLI_OK)
			printf("worker %s repaired\n", uuid);
	} else if (strcmp(sub, "status") == 0)
		rc = cli_worker_status(cli, uuid);
	else if (strcmp(sub, "history") == 0)
		rc = cli_worker_history(cli, uuid);
	else if (strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0)
		rc = cli_worker_autostart(cli, uuid, cli_str(w, "name"),
		    strcmp(sub, "enable") == 0);
	else if (strcmp(sub, "logs") == 0)
		rc = cli_logs(cli, uuid, lines, follow);
	else if (strcmp(sub, "modules") == 0) {
		char *args[] = { (char *)(uintptr_t) "-m",
			(char *)(uintptr_t) "funcnodes",
			(char *)(uintptr_t) "modules",
			(char *)(uintptr_t) "list" };

		wsc_close(cli->ws);
		cli->ws = NULL;
		rc = cli_exec_python(cli, w, args, 4);
	} else {
		int skip = argc > 1 && strcmp(argv[1], "--") == 0 ? 2 : 1;

		wsc_close(cli->ws);
		cli->ws = NULL;
		rc = cli_exec_python(cli, w, argv + skip, argc - skip);
	}
	json_object_put(sw);
	json_object_put(w);
	return (rc);
}

/*
 * Waits until no manager holds the config dir's lock (it has exited);
 * 0, or -1 at the deadline.
 */
static int
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

static void cli_usage(FILE *);

static int
cli_simple(struct cli *cli, const char *cmd, int argc, char **argv)
{
	json_object *o;
	char *raw = NULL;
	uint64_t t0;
	int keep = 0, i;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			cli_usage(stdout);
			return (CLI_OK);
		}
		if (strcmp(cmd, "stop") == 0 &&
		    strcmp(argv[i], "--keep-workers") == 0)
			keep = 1;
		else {
			cli_err("unexpected argument: %s", argv[i]);
			return (CLI_USAGE);
		}
	}
	if (strcmp(cmd, "stop") == 0) {
		char *why = NULL;
		int r = cli_probe(cli, &why);

		/* Nothing to stop: do not start a manager to stop it. */
		if (r == 0) {
			printf("no worker manager runs at ws://%s:%d/\n",
			    cli->host, cli->port);
			free(why);
			return (CLI_OK);
		}
		free(why);
	}
	if (cli_connect(cli) == -1)
		return (CLI_UNREACHABLE);
	if (strcmp(cmd, "ping") == 0) {
		t0 = fnwm_now_ms();
		if (wsc_send(cli->ws, "ping") == -1 ||
		    (o = cli_recv_json(cli, CLI_REPLY_MS, &raw)) == NULL)
			return (cli_lost());
		json_object_put(o);
		if (strcmp(raw, "pong") != 0) {
			cli_err("unexpected answer to ping");
			free(raw);
			return (CLI_FAILED);
		}
		printf("pong from %s://%s:%d/ in %llu ms\n",
		    cli->wopts.tls ? "wss" : "ws", cli->host, cli->port,
		    (unsigned long long)(fnwm_now_ms() - t0));
		free(raw);
		return (CLI_OK);
	}
	if (strcmp(cmd, "identify") == 0) {
		if (wsc_send(cli->ws, "identify") == -1 ||
		    (o = cli_recv_json(cli, CLI_REPLY_MS, NULL)) == NULL)
			return (cli_lost());
		cli_print_json(o);
		json_object_put(o);
		return (CLI_OK);
	}
	/* stop */
	if (wsc_send(cli->ws,
	        keep ? "{\"type\": \"stop\", \"keep_workers\": "
	               "true}"
	             : "stop") == -1)
		return (cli_lost());
	while ((o = cli_recv_json(cli, 120000, NULL)) != NULL)
		json_object_put(o);
	/* Closed is not gone: wait until it let go of the config dir. */
	if (cli_is_local(cli->host) && cli_wait_unlocked(cli, 180000) == -1) {
		cli_err("the worker manager closed the connection but is still "
		        "running");
		return (CLI_FAILED);
	}
	printf("worker manager stopped%s\n",
	    keep ? "; the workers keep running" : "");
	return (CLI_OK);
}

static void
cli_usage(FILE *f)
{
	fprintf(f,
	    "usage: fnwm [--dir DIR] [--host H] [--port P] [--no-start] "
	    "[--debug] COMMAND\n"
	    "\n"
	    "commands:\n"
	    "  startworkermanager   run the manager in the foreground "
	    "(alias: serve)\n"
	    "  ping | identify      is a manager there, and which\n"
	    "  url                  the URL with the token, for a browser "
	    "elsewhere\n"
	    "  stop [--keep-workers]\n"
	    "                       stop the manager (and its workers, "
	    "unless kept)\n"
	    "  worker ...           manage workers; see fnwm worker --help\n"
	    "\n"
	    "Commands other than startworkermanager start a manager on the "
	    "local host\n"
	    "when none answers, unless --no-start is given.\n"
	    "exit status: 0 success, 1 operation failed, 2 usage error, 3 "
	    "manager\nunreachable\n");
}

/*
 * --url ws[s]://HOST[:PORT][/][?token=T]: host, port, TLS and token at
 * once, as `fnwm url` prints them. 0, or -1 (reported).
 */
static int
cli_parse_url(struct cli *cli, const char *url, char **hostp, int *port)
{
	const char *p = url, *q, *end;
	long long v;
	char *num;

	if (strncmp(p, "wss://", 6) == 0) {
		cli->wopts.tls = 1;
		p += 6;
	} else if (strncmp(p, "ws://", 5) == 0)
		p += 5;
	else
		goto bad;
	if (*p == '[') {
		end = strchr(p, ']');
		if (end == NULL)
			goto bad;
		*hostp = xstrndup(p + 1, (size_t)(end - p - 1));
		q = end + 1;
	} else {
		q = p + strcspn(p, ":/?");
		*hostp = xstrndup(p, (size_t)(q - p));
	}
	if (**hostp == '\0')
		goto bad;
	if (*q == ':') {
		end = q + 1 + strcspn(q + 1, "/?");
		num = xstrndup(q + 1, (size_t)(end - q - 1));
		if (fnwm_parse_int(num, 1, 65535, &v) == -1) {
			free(num);
			goto bad;
		}
		free(num);
		*port = (int)v;
		q = end;
	} else
		*port = cli->wopts.tls ? 443 : 80;
	if (*q == '/')
		q++;
	if (*q == '?') {
		q = strstr(q, "token=");
		if (q != NULL) {
			q += 6;
			snprintf(cli->token, sizeof cli->token, "%.*s",
			    (int)strcspn(q, "&#"), q);
		}
	} else if (*q != '\0' && *q != '#')
		goto bad;
	return (0);
bad:
	cli_err("bad URL (want ws[s]://HOST:PORT/[?token=T])");
	return (-1);
}

/* The URL a browser elsewhere uses, with the token: no manager asked. */
static int
cli_url(struct cli *cli, int argc)
{
	char host[256], tok[320];

	if (argc > 1) {
		cli_err("url takes no arguments");
		return (CLI_USAGE);
	}
	if (token_read_text(cli->cfg.token_file, tok, sizeof tok) == -1) {
		cli_err("cannot read the token %s: %s%s", cli->cfg.token_file,
		    strerror(errno),
		    errno == ENOENT ? " (the manager makes it at its first "
		                      "start)"
		                    : "");
		return (CLI_FAILED);
	}
	if (strcmp(cli->host, "127.0.0.1") == 0 &&
	    strcmp(cli->cfg.host, "localhost") != 0 &&
	    strncmp(cli->cfg.host, "127.", 4) != 0 &&
	    gethostname(host, sizeof host) == 0)
		host[sizeof host - 1] = '\0'; /* a wildcard: our name */
	else
		snprintf(host, sizeof host, "%s", cli->host);
	printf("%s://%s%s%s:%d/?token=%s\n",
	    cli->cfg.tls_cert != NULL ? "wss" : "ws",
	    strchr(host, ':') != NULL ? "[" : "", host,
	    strchr(host, ':') != NULL ? "]" : "", cli->port, tok);
	explicit_bzero(tok, sizeof tok);
	return (CLI_OK);
}

int
cli_main(const char *cmd, int argc, char **argv, const struct fnwm_args *ga,
    const struct cli_options *co)
{
	struct cli cli;
	char *cause = NULL, *url_host = NULL;
	const char *host = co->host, *env;
	int rc = CLI_FAILED, port = co->port;

	if (strcmp(cmd, "help") == 0) {
		cli_usage(stdout);
		return (CLI_OK);
	}
	if (strcmp(cmd, "ping") != 0 && strcmp(cmd, "identify") != 0 &&
	    strcmp(cmd, "stop") != 0 && strcmp(cmd, "worker") != 0 &&
	    strcmp(cmd, "url") != 0) {
		cli_err("unknown command: %s", cmd);
		cli_usage(stderr);
		return (CLI_USAGE);
	}
	memset(&cli, 0, sizeof cli);
	fnwm_log_init("fnwm", FNWM_LOG_WARN);
	if (co->url != NULL) {
		if (cli_parse_url(&cli, co->url, &url_host, &port) == -1) {
			free(url_host);
			return (CLI_USAGE);
		}
		host = url_host;
	}
	if (config_load(&cli.cfg, ga, &cause) == -1) {
		/* No manager can run on this configuration. */
		cli_err("%s", cause);
		free(cause);
		config_free(&cli.cfg);
		return (CLI_UNREACHABLE);
	}
	if (host != NULL) {
		free(cli.cfg.host);
		cli.cfg.host = xstrdup(host);
	}
	cli.host = cli_dial_host(cli.cfg.host);
	if (strcmp(cli.host, "localhost") == 0)
		cli.host = "127.0.0.1";
	cli.port = port > 0 ? port : cli.cfg.port;
	cli.no_start = co->no_start;
	cli.tty = isatty(STDERR_FILENO);
	/*
	 * The local manager's own certificate is trusted as it stands; the
	 * local token goes only to the local manager.
	 */
	if (co->tls)
		cli.wopts.tls = 1;
	if (cli_is_local(cli.host) && cli.cfg.tls_cert != NULL)
		cli.wopts.tls = 1;
	cli.wopts.cacert = co->cacert != NULL ? co->cacert
	    : cli_is_local(cli.host) && cli.cfg.tls_cert != NULL
	    ? cli.cfg.tls_cert
	    : NULL;
	if (cli.token[0] == '\0' && (env = getenv("FNWM_TOKEN")) != NULL)
		snprintf(cli.token, sizeof cli.token, "%s", env);
	if (cli.token[0] == '\0' && cli_is_local(cli.host))
		(void)token_read_text(cli.cfg.token_file, cli.token,
		    sizeof cli.token);
	cli.wopts.token = cli.token[0] != '\0' ? cli.token : NULL;
	signal(SIGINT, cli_sigint);
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(cmd, "url") == 0)
		rc = cli_url(&cli, argc);
	else if (strcmp(cmd, "worker") == 0)
		rc = cli_worker(&cli, argc, argv);
	else
		rc = cli_simple(&cli, cmd, argc, argv);
	if (cli.ws != NULL)
		wsc_close(cli.ws);
	explicit_bzero(cli.token, sizeof cli.token);
	config_free(&cli.cfg);
	free(url_host);
	return (rc);
}
