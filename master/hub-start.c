/* SPDX-License-Identifier: MIT */
/*
 * The hub's lws context on the master's libev loop: the address to bind
 * and the refusals before it (no plain ws:// off this host, a port in
 * use), the fd limit lws sizes its tables by, lws's log lines, the drain
 * of a listener when fds run out, and the teardown.
 */
#include <sys/resource.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "hub-int.h"

#define HUB_FD_LIMIT_MAX 16384
#define HUB_TAKEOVER_MS  2000 /* a killed manager's port, at most */

static struct lws_context *hub_ctx;
const struct fnwm_config *hub_cfg;
static struct ev_loop *hub_loop;
static ev_timer hub_kick;
static char hub_iface[INET6_ADDRSTRLEN];
static struct log_rate hub_lws_rate;
/* Out of fds: the listener is drained (accept and drop) with a spare fd. */
static int hub_listen_fd = -1, hub_spare_fd = -1;
static ev_prepare hub_fd_drain;
static struct log_rate hub_fd_rate;

/* Idle clients are pinged; one that stops answering is dropped. */
static const lws_retry_bo_t hub_retry = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 45,
};

static void
hub_lws_log(int level, const char *line)
{
	char buf[512];
	size_t n = strlen(line);
	unsigned long skipped;
	int err;

	/*
	 * Out of fds, lws fails its accept and returns: the connection stays
	 * queued and the listener readable, so it would fail again at once,
	 * forever. Drain the queue when lws is done (hub_fd_drain_cb).
	 */
	if (sscanf(line, "accept: errno %d", &err) == 1 &&
	    (err == EMFILE || err == ENFILE)) {
		hub_counters.accept_fd_exhausted++;
		if (hub_listen_fd != -1 && !ev_is_active(&hub_fd_drain))
			ev_prepare_start(hub_loop, &hub_fd_drain);
		if (log_rate_ok(&hub_fd_rate, 1, &skipped))
			log_warnx("out of file descriptors (%s): new "
			          "connections "
			          "are dropped until some are free (%lu more "
			          "times since the last line)",
			    strerror(err), skipped);
		return;
	}
	if (!(level & (LLL_ERR | LLL_WARN)) &&
	    fnwm_log_verbosity < FNWM_LOG_DEBUG)
		return;
	/* Whatever lws has to say, it says it at most 5 times a second. */
	if (!log_rate_ok(&hub_lws_rate, 5, &skipped))
		return;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	log_safe(buf, sizeof buf, line, n);
	if (skipped > 0)
		log_warnx("lws: %lu lines not logged", skipped);
	if (level & (LLL_ERR | LLL_WARN))
		log_warnx("lws: %s", buf);
	else
		log_debug("lws: %s", buf);
}

/*
 * Accepts and closes every connection waiting on the listener, with the
 * spare fd given back for the purpose; lws has just failed to accept them.
 */
static void
hub_fd_drain_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	int fd;

	ev_prepare_stop(loop, w);
	if (hub_spare_fd != -1) {
		close(hub_spare_fd);
		hub_spare_fd = -1;
	}
	while ((fd = accept4(hub_listen_fd, NULL, NULL,
	            SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
		close(fd);
		hub_counters.accept_dropped++;
	}
	hub_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
}

/* The listening socket lws made for port (lws does not tell it). */
static int
hub_find_listener(int port, int maxfd)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, on;

	for (fd = 0; fd < maxfd; fd++) {
		len = sizeof on;
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) ==
		        -1 ||
		    !on)
			continue;
		len = sizeof ss;
		if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		if ((ss.ss_family == AF_INET &&
		        ntohs(((struct sockaddr_in *)&ss)->sin_port) == port) ||
		    (ss.ss_family == AF_INET6 &&
		        ntohs(((struct sockaddr_in6 *)&ss)->sin6_port) == port))
			return (fd);
	}
	return (-1);
}

static void
hub_kick_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	/*
	 * lws 4.1.6's libev plugin re-arms its timer without stopping it, so
	 * its own timeouts (pings, hangups, close deadlines) can run up to
	 * 30 s late; waking it once a second keeps them on time.
	 */
	if (hub_ctx != NULL)
		lws_cancel_service(hub_ctx);
}

/*
 * Turns the configured host into the interface lws binds: lws 4.1.6 cannot
 * take "localhost", and with IPv6 enabled binds IPv4 literals to the
 * wildcard, so IPv4 binds disable IPv6. Returns -1 for unresolvable hosts.
 */
static int
hub_bind_address(const char *host, const char **iface, int *ipv6, char **cause)
{
	struct addrinfo hints, *res;
	struct in6_addr a6;
	int rc;

	*ipv6 = 0;
	if (*host == '\0' || strcmp(host, "0.0.0.0") == 0) {
		*iface = NULL;
		return (0);
	}
	if (strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0) {
		*iface = NULL;
		*ipv6 = 1;
		return (0);
	}
	if (strcasecmp(host, "localhost") == 0) {
		*iface = "127.0.0.1";
		return (0);
	}
	if (inet_pton(AF_INET6, host, &a6) == 1) {
		snprintf(hub_iface, sizeof hub_iface, "%s", host);
		*iface = hub_iface;
		*ipv6 = 1;
		return (0);
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_INET;
	hints.ai_socktype = SOCK_STREAM;
	/* Start-up only: the loop is not running yet. */
	rc = getaddrinfo(host, NULL, &hints, &res);
	if (rc != 0) {
		*cause = xasprintf("cannot resolve host %s: %s", host,
		    gai_strerror(rc));
		return (-1);
	}
	inet_ntop(AF_INET, &((struct sockaddr_in *)res->ai_addr)->sin_addr,
	    hub_iface, sizeof hub_iface);
	freeaddrinfo(res);
	*iface = hub_iface;
	return (0);
}

/* Whether binding iface:port fails with EADDRINUSE right now. */
static int
hub_port_taken(const char *iface, int ipv6, int port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd, one = 1, taken;

	memset(&ss, 0, sizeof ss);
	if (ipv6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		if (iface != NULL &&
		    inet_pton(AF_INET6, iface, &sin6->sin6_addr) != 1)
			return (0);
		len = sizeof *sin6;
	} else {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		if (iface != NULL &&
		    inet_pton(AF_INET, iface, &sin->sin_addr) != 1)
			return (0);
		len = sizeof *sin;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return (0);
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	taken =
	    bind(fd, (struct sockaddr *)&ss, len) == -1 && errno == EADDRINUSE;
	close(fd);
	return (taken);
}

/*
 * Where to listen, refused when it would carry the token and every command
 * in the clear off this host, or the certificate does not load.
 */
static int
hub_check_bind(const struct fnwm_config *cfg, const char **iface, int *ipv6,
    char **cause)
{
	if (hub_bind_address(cfg->host, iface, ipv6, cause) == -1)
		return (-1);
	/* Off the host, the token and every command travel in the clear. */
	if ((*iface == NULL || !origin_is_loopback(*iface)) &&
	    cfg->tls_cert == NULL && !cfg->insecure_remote) {
		*cause = xasprintf("refusing to listen on %s without TLS: set "
		                   "fnwm.tls.cert and fnwm.tls.key in "
		                   "config.json (or fnwm.insecure_remote: true "
		                   "to accept plain ws:// off this host)",
		    cfg->host[0] != '\0' ? cfg->host : "all addresses");
		return (-1);
	}
	if (cfg->tls_cert != NULL &&
	    tls_check_pair(cfg->tls_cert, cfg->tls_key, cause) == -1)
		return (-1);
	access_set_bind(*iface);
	return (0);
}

/*
 * lws sizes its fd tables from RLIMIT_NOFILE (16 bytes per fd) and indexes
 * them by fd number: raise the soft limit to a bounded value and tell lws
 * the same number.
 */
static unsigned
hub_fd_limit(void)
{
	struct rlimit rl;
	rlim_t want;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (1024);
	want = rl.rlim_max < HUB_FD_LIMIT_MAX ? rl.rlim_max : HUB_FD_LIMIT_MAX;
	if (rl.rlim_cur < want) {
		rl.rlim_cur = want;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return (1024);
	return ((unsigned)(rl.rlim_cur > HUB_FD_LIMIT_MAX ? HUB_FD_LIMIT_MAX
	                                                  : rl.rlim_cur));
}

/*
 * A clear "in use" (and no lws allocations left from a failed bind).
 * Succeeding a manager that was killed, the port may still be held for a
 * moment by a child it forked that has not reached its exec: give that
 * child a bounded moment.
 */
static int
hub_claim_port(const struct fnwm_config *cfg, const char *iface, int ipv6,
    int takeover, char **cause)
{
	unsigned waited = 0;

	while (takeover && cfg->port != 0 && waited < HUB_TAKEOVER_MS &&
	    hub_port_taken(iface, ipv6, cfg->port)) {
		fnwm_sleep_ms(10);
		waited += 10;
	}
	if (cfg->port != 0 && hub_port_taken(iface, ipv6, cfg->port)) {
		*cause =
		    xasprintf("cannot listen on %s port %d: the port is in "
		              "use",
		        cfg->host, cfg->port);
		return (-1);
	}
	return (0);
}

static int
hub_create_context(struct ev_loop *loop, const struct fnwm_config *cfg,
    const char *iface, int ipv6, unsigned fd_limit, char **cause)
{
	struct lws_context_creation_info info;
	void *loops[1] = { loop };

	lws_set_log_level(LLL_ERR | LLL_WARN | (cfg->debug ? LLL_NOTICE : 0),
	    hub_lws_log);
	memset(&info, 0, sizeof info);
	info.options = LWS_SERVER_OPTION_LIBEV |
	    LWS_SERVER_OPTION_VALIDATE_UTF8 |
	    LWS_SERVER_OPTION_FAIL_UPON_UNABLE_TO_BIND |
	    (ipv6 ? 0 : LWS_SERVER_OPTION_DISABLE_IPV6);
	/* OpenSSL only when it serves: the hub's TLS, or wss:// probes. */
	if (cfg->tls_cert != NULL || cfg->worker_ssl)
		info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
	info.ssl_cert_filepath = cfg->tls_cert;
	info.ssl_private_key_filepath = cfg->tls_key;
	/*
	 * HTTP/1.1 only: the Host rule and the refusals are HTTP/1.1's (h2
	 * names the host in ":authority"), and browsers open WebSockets
	 * over HTTP/1.1 anyway.
	 */
	info.alpn = "http/1.1";
	info.foreign_loops = loops;
	info.port = cfg->port;
	info.iface = iface;
	info.protocols = hub_protocols;
	info.pvo = &hub_pvo;
	info.vhost_name = "default";
	info.server_string = "fnwm";
	info.pcontext = &hub_ctx;
	info.timeout_secs = 10;
	info.retry_and_idle_policy = &hub_retry;
	info.fd_limit_per_thread = fd_limit;
	hub_ctx = lws_create_context(&info);
	if (hub_ctx == NULL) {
		*cause = xasprintf("cannot listen on %s port %d: the port is "
		                   "in use, the address is not local, or the "
		                   "libwebsockets-evlib-ev plugin is missing",
		    cfg->host, cfg->port);
		return (-1);
	}
	/*
	 * With a foreign loop lws binds protocols (and the "default" pvo)
	 * on its first service pass; a client accepted before that would
	 * land on protocols[0] and never be answered. Do it now.
	 */
	if (lws_protocol_init(hub_ctx) != 0) {
		*cause =
		    xstrdup("libwebsockets: protocol initialisation failed");
		return (-1);
	}
	return (0);
}

int
hub_start(struct ev_loop *loop, const struct fnwm_config *cfg, int takeover,
    char **cause)
{
	const char *iface;
	unsigned fd_limit;
	int ipv6, port;

	hub_loop = loop;
	hub_cfg = cfg;
	if (hub_check_bind(cfg, &iface, &ipv6, cause) == -1)
		return (-1);
	fd_limit = hub_fd_limit();
	if (hub_claim_port(cfg, iface, ipv6, takeover, cause) == -1 ||
	    hub_create_context(loop, cfg, iface, ipv6, fd_limit, cause) == -1)
		return (-1);
	port = lws_get_vhost_listen_port(
	    lws_get_vhost_by_name(hub_ctx, "default"));
	hub_listen_fd = hub_find_listener(port, (int)fd_limit);
	hub_spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ev_prepare_init(&hub_fd_drain, hub_fd_drain_cb);
	if (hub_listen_fd == -1)
		log_warnx("cannot find the listening socket: running out of "
		          "fds will not be handled");
	log_info("listening on %s://%s%s%s:%d/", hub_tls() ? "wss" : "ws",
	    ipv6 ? "[" : "", iface != NULL ? iface : (ipv6 ? "::" : "0.0.0.0"),
	    ipv6 ? "]" : "", port);
	ev_timer_init(&hub_kick, hub_kick_cb, 1.0, 1.0);
	ev_timer_start(loop, &hub_kick);
	ev_unref(loop); /* the kick alone must not keep the loop running */
	return (0);
}

struct lws_context *
hub_context(void)
{
	return (hub_ctx);
}

int
hub_tls(void)
{
	return (hub_cfg != NULL && hub_cfg->tls_cert != NULL);
}

void
hub_destroy(void)
{
	if (ev_is_active(&hub_kick)) {
		ev_ref(hub_loop);
		ev_timer_stop(hub_loop, &hub_kick);
	}
	if (ev_is_active(&hub_fd_drain))
		ev_prepare_stop(hub_loop, &hub_fd_drain);
	if (hub_ctx != NULL)
		lws_context_destroy(hub_ctx);
	hub_ctx = NULL;
	tls_server_ctx(NULL);
	peer_close();
	hub_listen_fd = -1;
	if (hub_spare_fd != -1)
		close(hub_spare_fd);
	hub_spare_fd = -1;
}
