/* SPDX-License-Identifier: MIT */
/*
 * fnwm: command line, and the master's life: configuration, lock, the one
 * libev loop carrying libwebsockets and every watcher, and the shutdown
 * order (clients closed with 1001, then lws, then our watchers, then the
 * loop).
 */
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
#include "xmalloc.h"
#include "master.h"
#include "sample.h"
#include "cli.h"

/* Exit codes (documented in README.md and fnwm --help). */
#define EXIT_USAGE     2
#define EXIT_PERMANENT 100 /* bad configuration, already running, port */
#define EXIT_TEMPORARY 111 /* a start-up system call failed */

#define DRAIN_TICK     0.05
#define DRAIN_DEADLINE 2.0 /* s to let clients receive their close frame */

static struct fnwm_config cfg;
static struct ev_loop *loop;
static ev_signal sig_term, sig_int, sig_hup, sig_usr2;
static ev_timer drain_timer;
static uint64_t drain_started;
static int monitors_killed;
static struct fnwm_args master_args;

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fnwm [--dir DIR] [--host H] [--port P] [--no-start] "
	    "[--debug]\n"
	    "            COMMAND [OPTIONS]\n"
	    "\n"
	    "commands:\n"
	    "  startworkermanager [--host H] [--port P] [--python PY]\n"
	    "                     [--allow-origin ORIGIN]...\n"
	    "      run the worker manager in the foreground (alias: serve)\n"
	    "  ping | identify    ask the running manager\n"
	    "  url                print the URL (with its token) for a "
	    "browser on\n"
	    "                     another account or host\n"
	    "  stop [--keep-workers]\n"
	    "                     stop the manager (and its workers, unless "
	    "kept)\n"
	    "  worker ...         manage workers (fnwm worker --help)\n"
	    "\n"
	    "Client commands start a manager on the local host when none "
	    "answers,\n"
	    "unless --no-start is given.\n"
	    "\n"
	    "options:\n"
	    "  --dir DIR      config dir (default $FUNCNODES_CONFIG_DIR, "
	    "else ~/.funcnodes)\n"
	    "  --host H       the manager's host (default worker_manager.host "
	    "of config.json)\n"
	    "  --port P       the manager's port (default worker_manager.port, "
	    "9380)\n"
	    "  --no-start     client commands: do not start a manager when "
	    "none answers\n"
	    "  --url URL      client commands: the manager at "
	    "ws[s]://HOST:PORT/[?token=T]\n"
	    "  --tls          client commands: connect with TLS (wss://)\n"
	    "  --cacert FILE  client commands: trust this CA or self-signed "
	    "certificate\n"
	    "  --debug        log debug detail; passed on to workers\n"
	    "  --version      print the version\n"
	    "  -h, --help     this help\n"
	    "\n"
	    "exit status of the client commands: 0 success, 1 operation "
	    "failed,\n"
	    "  2 usage error, 3 manager unreachable\n"
	    "exit status of startworkermanager: 0 stopped on request, 2 usage "
	    "error,\n"
	    "  100 bad configuration, manager already running or port "
	    "unavailable,\n"
	    "  111 a system call failed\n");
}

static void
master_teardown(void)
{
	ev_timer_stop(loop, &drain_timer);
	notify_shutdown();
	autostart_cancel();
	ops_cancel_all();
	logs_shutdown();
	sample_shutdown();
	watch_stop();
	monitors_free_all();
	registry_shutdown();
	/* lws first: its watchers live on our loop (see notes in hub.c). */
	hub_destroy();
	ev_signal_stop(loop, &sig_term);
	ev_signal_stop(loop, &sig_int);
	ev_signal_stop(loop, &sig_hup);
	ev_signal_stop(loop, &sig_usr2);
}

/* Every supervised worker: its own stop command, then the monitor's. */
static void
stop_all_workers(void)
{
	struct monitor *m;

	TAILQ_FOREACH(m, monitors_list(), entry) {
		m->want_up = 0;
		if (m->pid <= 0)
			continue;
		ops_submit(OP_STOP, m->uuid, 0);
	}
}

static void
drain_cb(struct ev_loop *l, ev_timer *t, int revents)
{
	uint64_t waited = fnwm_now_ms() - drain_started;
	uint64_t mon_deadline =
	    (uint64_t)((cfg.stop_timeout + cfg.kill_timeout + 5) * 1000);
	struct monitor *m;

	/* Workers first: every monitor stops its worker, then exits. */
	if (monitors_running() > 0 || ops_pending() > 0) {
		if (waited < mon_deadline)
			return;
		if (!monitors_killed) {
			TAILQ_FOREACH(m, monitors_list(), entry)
				monitors_kill(m);
			monitors_killed = 1;
			return;
		}
		if (waited < mon_deadline + 5000)
			return;
		log_warnx("%zu monitors did not exit", monitors_running());
	}
	if (hub_client_count() > 0 &&
	    waited < mon_deadline + (uint64_t)(DRAIN_DEADLINE * 1000))
		return;
	if (hub_client_count() > 0)
		log_warnx("%zu clients did not close in time",
		    hub_client_count());
	master_teardown();
}

/*
 * The one way out (shutdown.c calls it once): keep_workers leaves every
 * worker to its monitor (for a new master to re-adopt); otherwise every
 * worker is stopped first. The rest runs from the loop, never inside the
 * lws callback that asked.
 */
static void
master_leave(const char *why, int keep_workers)
{
	log_info("%s: %s",
	    keep_workers ? "exiting, leaving workers to their monitors"
	                 : "shutting down",
	    why);
	notify_stopping();
	autostart_cancel();
	ops_wind_down();
	if (keep_workers)
		monitors_detach_all();
	else
		stop_all_workers();
	hub_begin_shutdown();
	drain_started = fnwm_now_ms();
	ev_timer_init(&drain_timer, drain_cb, 0, DRAIN_TICK);
	ev_timer_start(loop, &drain_timer);
}

static void
master_apply_log_level(void)
{
	fnwm_log_verbosity = cfg.debug ? FNWM_LOG_DEBUG
	    : cfg.log_level >= 0       ? cfg.log_level
	                               : FNWM_LOG_INFO;
}

/* SIGHUP: the new configuration, or the old one and a clear log line. */
static void
master_reload(void)
{
	char *cause = NULL;

	notify_reloading();
	if (config_reload(&cfg, &master_args, &cause) == -1) {
		log_warnx("reload refused, the configuration stays as it "
		          "was: %s",
		    cause);
		free(cause);
	} else {
		master_apply_log_level();
		log_info("configuration reloaded");
	}
	if (access_reload(&cfg, &cause) == -1) {
		log_warnx("reload: the tokens stay as they were: %s", cause);
		free(cause);
		cause = NULL;
	}
	if (hub_tls() && tls_reload(cfg.tls_cert, cfg.tls_key, &cause) == -1) {
		log_warnx("reload: the certificate stays as it was: %s", cause);
		free(cause);
	} else if (hub_tls())
		log_info("TLS certificate %s loaded", cfg.tls_cert);
	notify_ready();
}

/*
 * The hooks through which the lower layers hand news upward: they never
 * call a layer above them (docs/architecture.md).
 */
static void
master_wire_hooks(void)
{
	static const struct hub_handlers hub = {
		.message = ws_cmd_dispatch,
		.http = http_handle,
		.http_writeable = http_writeable,
		.http_release = http_release,
		.probe = probe_lws_callback,
	};

	shutdown_set_handler(master_leave);
	hub_set_handlers(&hub);
	if (hub_on_client_gone(logs_client_gone) == -1)
		fatalx("hub: no room for another client-gone listener");
	registry_on_ready(ws_cmd_status_ready);
	registry_on_change(ops_kick);
	monitors_on_news(ops_kick);
	registry_on_probed(liveness_probed);
	registry_ask_unresponsive(liveness_unresponsive);
	notify_set_status_source(summary_line);
}

static void
signal_cb(struct ev_loop *l, ev_signal *w, int revents)
{
	if (w->signum == SIGHUP) {
		master_reload();
		return;
	}
	if (w->signum == SIGUSR2) {
		shutdown_detach("SIGUSR2");
		return;
	}
	shutdown_begin(w->signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* startworkermanager's options into args; -1, or the exit status. */
static int
serve_options(int argc, char **argv, struct fnwm_args *args)
{
	static const struct option opts[] = {
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "dir", required_argument, NULL, 'd' },
		{ "python", required_argument, NULL, 'y' },
		{ "allow-origin", required_argument, NULL, 'o' },
		{ "debug", no_argument, NULL, 'D' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long v;
	int ch;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (ch) {
		case 'H':
			args->host = optarg;
			break;
		case 'p':
			if (fnwm_parse_int(optarg, 0, 65535, &v) == -1) {
				fprintf(stderr, "fnwm: bad port: %s\n", optarg);
				return (EXIT_USAGE);
			}
			/* 0 asks the kernel for a free port. */
			args->port = v == 0 ? -1 : (int)v;
			break;
		case 'd':
			args->dir = optarg;
			break;
		case 'y':
			args->python = optarg;
			break;
		case 'o':
			args->origins = xreallocarray(args->origins,
			    args->n_origins + 2, sizeof *args->origins);
			args->origins[args->n_origins++] = optarg;
			args->origins[args->n_origins] = NULL;
			break;
		case 'D':
			args->debug = 1;
			break;
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (EXIT_USAGE);
		}
	}
	if (optind != argc) {
		fprintf(stderr, "fnwm: unexpected argument: %s\n",
		    argv[optind]);
		return (EXIT_USAGE);
	}
	return (-1);
}

/* Logs cause (freed) and gives back status, for the start-up failures. */
static int
serve_fail(char *cause, int status)
{
	log_warnx("%s", cause);
	free(cause);
	return (status);
}

/*
 * What comes before the loop: the configuration, the lock on the config
 * dir, the tokens, the workers dir; 0, or the exit status (cfg freed).
 */
static int
serve_prepare(const struct fnwm_args *args, int *lockfd, int *takeover)
{
	char *cause = NULL;
	int rc = 0;

	if (config_load(&cfg, args, &cause) == -1) {
		config_free(&cfg);
		return (serve_fail(cause, EXIT_PERMANENT));
	}
	master_apply_log_level();
	if (lock_manager(cfg.config_dir, lockfd, takeover, &cause) == -1)
		rc = serve_fail(cause, EXIT_PERMANENT);
	else if (access_init(&cfg, &cause) == -1)
		rc = serve_fail(cause, EXIT_PERMANENT);
	else if (fnwm_mkdirs(cfg.workers_dir, 0700) == -1) {
		log_warn("cannot create %s", cfg.workers_dir);
		rc = EXIT_TEMPORARY;
	}
	if (rc != 0) {
		if (*lockfd != -1)
			lock_release(cfg.config_dir, *lockfd);
		config_free(&cfg);
	}
	return (rc);
}

static void
serve_signals(void)
{
	ev_signal_init(&sig_term, signal_cb, SIGTERM);
	ev_signal_init(&sig_int, signal_cb, SIGINT);
	ev_signal_init(&sig_hup, signal_cb, SIGHUP);
	ev_signal_init(&sig_usr2, signal_cb, SIGUSR2);
	ev_signal_start(loop, &sig_term);
	ev_signal_start(loop, &sig_int);
	ev_signal_start(loop, &sig_hup);
	ev_signal_start(loop, &sig_usr2);
}

/* Every module that reads the configuration is given it here. */
static void
serve_init_modules(void)
{
	registry_init(loop, &cfg);
	monitors_init(loop, &cfg);
	ops_init(loop, &cfg);
	liveness_init(loop, &cfg);
	logs_init(loop, &cfg);
	probe_init(&cfg);
	http_init(&cfg);
	ws_cmd_init(&cfg);
	notify_init(loop);
}

/* The hub, the signals, the modules and the watch; 0 or the status. */
static int
serve_start(int takeover)
{
	char *cause = NULL;

	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL)
		fatalx("cannot create the event loop");
	master_wire_hooks();
	if (hub_start(loop, &cfg, takeover, &cause) == -1) {
		hub_destroy();
		ev_loop_destroy(loop);
		return (serve_fail(cause, EXIT_PERMANENT));
	}
	serve_signals();
	serve_init_modules();
	if (watch_start(loop, &cfg, &cause) == -1) {
		master_teardown();
		ev_run(loop, 0);
		ev_loop_destroy(loop);
		return (serve_fail(cause, EXIT_TEMPORARY));
	}
	return (0);
}

static int
cmd_startworkermanager(int argc, char **argv, struct fnwm_args *args)
{
	int rc, lockfd = -1, takeover = 0;

	if ((rc = serve_options(argc, argv, args)) != -1)
		return (rc);
	fnwm_log_init("fnwm", args->debug ? FNWM_LOG_DEBUG : FNWM_LOG_INFO);
	json_c_set_serialization_double_format("%.15g", JSON_C_OPTION_GLOBAL);
	if ((rc = serve_prepare(args, &lockfd, &takeover)) != 0)
		return (rc);
	master_args = *args;
	if ((rc = serve_start(takeover)) != 0) {
		lock_release(cfg.config_dir, lockfd);
		config_free(&cfg);
		return (rc);
	}
	log_info("worker manager %s started (config dir %s, python %s)",
	    FNWM_VERSION, cfg.config_dir, cfg.python);
	registry_scan_all();
	/* Monitors that outlived a previous master, and their workers. */
	monitors_adopt_all();
	/* Then the workers that start with the manager. */
	autostart_begin(&cfg);
	notify_ready();

	ev_run(loop, 0);

	ev_loop_destroy(loop);
	lock_release(cfg.config_dir, lockfd);
	log_info("stopped");
	config_free(&cfg);
	/* Frees the format string json-c keeps (a clean valgrind report). */
	json_c_set_serialization_double_format(NULL, JSON_C_OPTION_GLOBAL);
	return (0);
}

/* The options before the command word; -1, or the exit status. */
static int
main_options(int argc, char **argv, struct fnwm_args *args,
    struct cli_options *co)
{
	static const struct option opts[] = {
		{ "dir", required_argument, NULL, 'd' },
		{ "debug", no_argument, NULL, 'D' },
		{ "host", required_argument, NULL, 'H' },
		{ "port", required_argument, NULL, 'p' },
		{ "no-start", no_argument, NULL, 'N' },
		{ "tls", no_argument, NULL, 'T' },
		{ "cacert", required_argument, NULL, 'C' },
		{ "url", required_argument, NULL, 'U' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	long long port;
	int ch;

	/* "+": global options stop at the command word. */
	while ((ch = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			args->dir = optarg;
			break;
		case 'D':
			args->debug = 1;
			break;
		case 'H':
			co->host = optarg;
			break;
		case 'p':
			if (fnwm_parse_int(optarg, 1, 65535, &port) == -1) {
				fprintf(stderr, "fnwm: bad port: %s\n", optarg);
				return (EXIT_USAGE);
			}
			co->port = (int)port;
			break;
		case 'N':
			co->no_start = 1;
			break;
		case 'T':
			co->tls = 1;
			break;
		case 'C':
			co->cacert = optarg;
			break;
		case 'U':
			co->url = optarg;
			break;
		case 'V':
			printf("fnwm %s\n", FNWM_VERSION);
			return (0);
		case 'h':
			usage(stdout);
			return (0);
		default:
			usage(stderr);
			return (EXIT_USAGE);
		}
	}
	return (-1);
}

int
main(int argc, char **argv)
{
	struct fnwm_args args;
	struct cli_options co;
	int rc;

	memset(&args, 0, sizeof args);
	memset(&co, 0, sizeof co);
	fnwm_log_init("fnwm", FNWM_LOG_INFO);
	if ((rc = main_options(argc, argv, &args, &co)) != -1)
		return (rc);
	if (optind >= argc) {
		usage(stderr);
		return (EXIT_USAGE);
	}
	argc -= optind;
	argv += optind;
	if (strcmp(argv[0], "startworkermanager") == 0 ||
	    strcmp(argv[0], "serve") == 0) {
		/* Global --host/--port apply here too. */
		args.host = co.host;
		args.port = co.port;
		rc = cmd_startworkermanager(argc, argv, &args);
		free(args.origins);
		return (rc);
	}
	return (cli_main(argv[0], argc, argv, &args, &co));
}
