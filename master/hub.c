/* SPDX-License-Identifier: MIT */
/*
 * The WebSocket hub: the lws context on the master's libev loop, the
 * handshake checks (path, Origin), inbound message assembly with its size
 * limit, and the per-client outbound queues. What a message means is
 * ws-cmd.c's business, not this file's.
 */
#include <sys/resource.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "master.h"

/* Messages larger than this are sent as fragments from a per-client copy. */
#define HUB_CHUNK           65536
#define HUB_BATCH           65536 /* queued whole messages framed per send */
#define HUB_QUEUE_MAX_MSGS  4096
#define HUB_FD_LIMIT_MAX    16384
#define HUB_CLOSE_DEADLINE  5 /* s, for a client that stops reading */
#define HUB_SNDBUF          (256 * 1024) /* kernel send buffer per client */
#define HUB_TAKEOVER_MS     2000         /* a killed manager's port, at most */
#define HUB_REFUSALS_LOGGED 10 /* log lines of refused requests a second */

static struct lws_context *hub_ctx;
static struct ev_loop *hub_loop;
static const struct fnwm_config *hub_cfg;
static struct ws_clients hub_list = TAILQ_HEAD_INITIALIZER(hub_list);
static size_t hub_nclients;
static int hub_draining;
static uint64_t hub_next_id = 1;
static struct hub_stats hub_counters;
static ev_timer hub_kick;
/* Filled and written within one writeable callback: one for all clients. */
static unsigned char hub_batch[LWS_PRE + HUB_BATCH];
static char hub_iface[INET6_ADDRSTRLEN];
static size_t hub_queued; /* unsent bytes of all clients */
static struct log_rate hub_lag_rate, hub_full_rate, hub_lws_rate;
/* Out of fds: the listener is drained (accept and drop) with a spare fd. */
static int hub_listen_fd = -1, hub_spare_fd = -1;
static ev_prepare hub_fd_drain;
static struct log_rate hub_fd_rate;

/*
 * The right a handshake earned, from its check until the client is
 * established (lws's opaque pointer of a wsi belongs to the probes).
 */
struct hub_admitted {
	struct lws *wsi;
	enum access_right right;
	TAILQ_ENTRY(hub_admitted) entry;
};
static TAILQ_HEAD(, hub_admitted) hub_admitted_list = TAILQ_HEAD_INITIALIZER(
    hub_admitted_list);

static void
hub_admitted_put(struct lws *wsi, enum access_right right)
{
	struct hub_admitted *a = xcalloc(1, sizeof *a);

	a->wsi = wsi;
	a->right = right;
	TAILQ_INSERT_TAIL(&hub_admitted_list, a, entry);
}

/* The right of wsi, forgotten; ACCESS_NONE when it was never checked. */
static enum access_right
hub_admitted_take(struct lws *wsi)
{
	struct hub_admitted *a;
	enum access_right r;

	TAILQ_FOREACH(a, &hub_admitted_list, entry) {
		if (a->wsi == wsi) {
			r = a->right;
			TAILQ_REMOVE(&hub_admitted_list, a, entry);
			free(a);
			return (r);
		}
	}
	return (ACCESS_NONE);
}

static int
hub_http_cb(struct lws *, enum lws_callback_reasons, void *, void *, size_t);
static int
hub_ws_cb(struct lws *, enum lws_callback_reasons, void *, void *, size_t);
static int
hub_probe_cb(struct lws *, enum lws_callback_reasons, void *, void *, size_t);

static struct lws_protocols hub_protocols[] = { { "http", hub_http_cb, 0, 0, 0,
	                                            NULL, 0 },
	{ "fnwm", hub_ws_cb, sizeof(struct ws_client), 4096, 0, NULL,
	    HUB_CHUNK + 16 },
	{ "fnwm-probe", hub_probe_cb, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 } };

/* Clients that send no subprotocol (browsers, Python) land on "fnwm". */
static const struct lws_protocol_vhost_options hub_pvo_default = { NULL, NULL,
	"default", "" };
static const struct lws_protocol_vhost_options hub_pvo = { NULL,
	&hub_pvo_default, "fnwm", "" };

/* Idle clients are pinged; one that stops answering is dropped. */
static const lws_retry_bo_t hub_retry = {
	.secs_since_valid_ping = 30,
	.secs_since_valid_hangup = 45,
};

static int
hub_probe_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	/* Nobody may connect *to* the probe protocol. */
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
		return (1);
	return (probe_lws_callback(wsi, (int)reason, user, in, len));
}

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
 * Cross-site WebSocket hijacking guard (origin.c) over the handshake's
 * headers. Non-browser clients send no Origin.
 */
int
hub_origin_allowed(struct lws *wsi)
{
	char origin[512], host[512];
	int olen = lws_hdr_total_length(wsi, WSI_TOKEN_ORIGIN);

	if (olen <= 0)
		return (1);
	if (olen >= (int)sizeof origin ||
	    lws_hdr_copy(wsi, origin, sizeof origin, WSI_TOKEN_ORIGIN) < 0)
		return (0);
	if (lws_hdr_copy(wsi, host, sizeof host, WSI_TOKEN_HOST) <= 0)
		host[0] = '\0';
	return (origin_allowed(origin, host, hub_cfg));
}

/*
 * Whether this refusal gets its log line: a client knocking in a loop must
 * not fill the disk, so at most HUB_REFUSALS_LOGGED a second; the count of
 * the others goes into the first line of a later second.
 */
static int
hub_refusal_logged(void)
{
	static struct log_rate rate;
	unsigned long skipped;

	if (!log_rate_ok(&rate, HUB_REFUSALS_LOGGED, &skipped))
		return (0);
	if (skipped > 0)
		log_warnx("%lu more refused requests were not logged", skipped);
	return (1);
}

/*
 * Refuses a request with status and a one-line plain-text reason, logged
 * with the peer's address (never the URI: it may carry a token). Returns
 * -1: the connection is closed after the answer.
 */
static int
hub_refuse(struct lws *wsi, unsigned int status, const char *reason)
{
	unsigned char buf[LWS_PRE + 1024], *start = buf + LWS_PRE, *p = start,
	                                   *end = buf + sizeof buf;
	char body[256], peer[80], o[256], origin[300] = "";
	int n;

	if (status == HTTP_STATUS_FORBIDDEN &&
	    (n = lws_hdr_copy(wsi, o, sizeof o, WSI_TOKEN_ORIGIN)) > 0) {
		memcpy(origin, "origin ", 7);
		log_safe(origin + 7, sizeof origin - 9, o, (size_t)n);
		strcat(origin, ", ");
	}
	if (hub_refusal_logged())
		log_warnx("refused %s from %speer %s: %u %s",
		    lws_hdr_total_length(wsi, WSI_TOKEN_UPGRADE) > 0
		        ? "WebSocket"
		        : "HTTP request",
		    origin, access_peer(wsi, peer, sizeof peer), status,
		    reason);
	n = snprintf(body, sizeof body, "%s\n", reason);
	if (lws_add_http_header_status(wsi, status, &p, end) ||
	    lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE,
	        (const unsigned char *)"text/plain; charset=utf-8", 25, &p,
	        end) ||
	    (status == HTTP_STATUS_UNAUTHORIZED &&
	        lws_add_http_header_by_token(wsi,
	            WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
	            (const unsigned char *)"Bearer", 6, &p, end)) ||
	    lws_add_http_header_content_length(wsi, (lws_filepos_t)n, &p,
	        end) ||
	    lws_finalize_http_header(wsi, &p, end) || end - p < n)
		return (-1);
	memcpy(p, body, (size_t)n);
	p += n;
	(void)lws_write(wsi, start, (size_t)(p - start),
	    LWS_WRITE_HTTP_HEADERS);
	return (-1);
}

/*
 * The checks every request passes, in this order: its Host names this
 * hub, its Origin may reach it, and its peer has a right. 0 with *right
 * set, or -1 after a refusal.
 */
static int
hub_admit(struct lws *wsi, enum access_right *right)
{
	const char *why = NULL;

	if (!access_host_allowed(wsi))
		return (hub_refuse(wsi, HTTP_STATUS_FORBIDDEN,
		    "the Host header does not name this worker manager (see "
		    "fnwm.allowed_hosts)"));
	if (!hub_origin_allowed(wsi))
		return (hub_refuse(wsi, HTTP_STATUS_FORBIDDEN,
		    "this Origin may not use the worker manager (see "
		    "fnwm.allowed_origins)"));
	*right = access_check(wsi, &why);
	if (*right == ACCESS_NONE)
		return (hub_refuse(wsi, HTTP_STATUS_UNAUTHORIZED, why));
	return (0);
}

static int
hub_http_reply(struct lws *wsi, unsigned int status)
{
	if (lws_return_http_status(wsi, status, NULL))
		return (-1);
	return (lws_http_transaction_completed(wsi) ? -1 : 0);
}

static int
hub_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_FILTER_NETWORK_CONNECTION: {
		int fd = (int)(intptr_t)in, sndbuf = HUB_SNDBUF;

		/* Shutting down: drop new TCP connections at accept. */
		if (hub_draining)
			return (1);
		/*
		 * What a client does not read waits in our queue, where the
		 * budgets count it, not in a kernel buffer grown to MBs.
		 */
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf,
		    sizeof sndbuf);
		return (0);
	}
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		/* A WebSocket asking for subprotocol "http": not the hub. */
		return (1);
	case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS:
		/* The server's SSL_CTX, for certificate reloads. */
		tls_server_ctx(user);
		return (0);
	case LWS_CALLBACK_HTTP: {
		enum access_right right = ACCESS_NONE;
		const char *path = in != NULL ? (const char *)in : "";
		int r;

		if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 &&
		    lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) <= 0)
			return (hub_http_reply(wsi,
			    HTTP_STATUS_METHOD_NOT_ALLOWED));
		if (!access_host_allowed(wsi))
			return (hub_refuse(wsi, HTTP_STATUS_FORBIDDEN,
			    "the Host header does not name this worker "
			    "manager (see fnwm.allowed_hosts)"));
		/* The same Origin rule as the WebSocket handshake. */
		if (!hub_origin_allowed(wsi))
			return (hub_http_reply(wsi, HTTP_STATUS_FORBIDDEN));
		/*
		 * Liveness and the dashboard's page (code, no data: its
		 * WebSocket is checked) are open; every other page needs a
		 * right.
		 */
		if (strcmp(path, "/healthz") != 0 && strcmp(path, "/") != 0 &&
		    hub_admit(wsi, &right) < 0)
			return (-1);
		r = http_handle(wsi, path);
		if (r != 1)
			return (r);
		return (hub_http_reply(wsi, HTTP_STATUS_NOT_FOUND));
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return (http_writeable(wsi));
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		http_release(wsi);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		(void)hub_admitted_take(wsi);
		/*
		 * lws tells only the first protocol that a wsi is freed: a
		 * probe must hear it too, whatever way its wsi went.
		 */
		if (lws_get_protocol(wsi) != NULL &&
		    lws_get_protocol(wsi)->callback == hub_probe_cb)
			return (probe_lws_callback(wsi, (int)reason, user, in,
			    len));
		break;
	default:
		break;
	}
	return (lws_callback_http_dummy(wsi, reason, user, in, len));
}

static void
hub_client_pop(struct ws_client *c)
{
	struct fnwm_outmsg *m = c->q[c->qhead];

	c->qbytes -= m->len;
	hub_queued -= m->len;
	outmsg_unref(m);
	c->q[c->qhead] = NULL;
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
	c->txoff = 0;
	if (c->qlen == 0 && c->scratch != NULL) {
		free(c->scratch);
		c->scratch = NULL;
	}
}

static void
hub_client_free(struct ws_client *c)
{
	logs_client_gone(c->id);
	while (c->qlen > 0)
		hub_client_pop(c);
	free(c->q);
	free(c->rx);
	free(c->scratch);
	TAILQ_REMOVE(&hub_list, c, entry);
	hub_nclients--;
	memset(c, 0, sizeof *c);
}

/* Closes c after its queue drained (drain) or at once (!drain). */
static void
hub_client_close(struct ws_client *c, int drain, uint16_t code,
    const char *reason)
{
	if (c->closing != CLIENT_OPEN)
		return;
	c->closing = drain ? CLIENT_DRAIN_CLOSE : CLIENT_CLOSE_NOW;
	c->close_code = code;
	c->close_reason = reason;
	/* Nothing more goes to it: what it did not read is freed now. */
	while (!drain && c->qlen > 0)
		hub_client_pop(c);
	/* If the peer never lets us write again, lws kills it anyway. */
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, HUB_CLOSE_DEADLINE);
	lws_callback_on_writable(c->wsi);
}

/* RFC 6455 header of a final, unmasked text frame of len bytes. */
static size_t
hub_frame_header(unsigned char *h, size_t len)
{
	int i;

	h[0] = 0x81; /* FIN, text */
	if (len < 126) {
		h[1] = (unsigned char)len;
		return (2);
	}
	if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		return (4);
	}
	h[1] = 127;
	for (i = 0; i < 8; i++)
		h[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return (10);
}

/*
 * Two or more whole messages at the head of c's queue: frame them into
 * one buffer and write that with a single send, instead of one send and
 * one trip through the loop per message. lws writes LWS_WRITE_RAW bytes
 * as they are (the frames are complete, and no message is half sent when
 * this runs) and keeps what the socket did not take, to send before
 * anything else. Returns the number of messages written, 0 when fewer
 * than two fit (the caller writes one), -1 on error.
 */
static int
hub_client_write_batch(struct ws_client *c)
{
	unsigned char hdr[10];
	struct fnwm_outmsg *m;
	size_t used = 0, hl;
	unsigned n = 0, i;

	for (i = 0; i < c->qlen; i++) {
		m = c->q[(c->qhead + i) % c->qcap];
		hl = hub_frame_header(hdr, m->len);
		if (used + hl + m->len > HUB_BATCH)
			break;
		used += hl + m->len;
		n++;
	}
	if (n < 2)
		return (0);
	used = 0;
	for (i = 0; i < n; i++) {
		m = c->q[(c->qhead + i) % c->qcap];
		hl = hub_frame_header(hub_batch + LWS_PRE + used, m->len);
		memcpy(hub_batch + LWS_PRE + used + hl, m->data, m->len);
		used += hl + m->len;
	}
	if (lws_write(c->wsi, hub_batch + LWS_PRE, used, LWS_WRITE_RAW) <
	    (int)used)
		return (-1);
	for (i = 0; i < n; i++) {
		hub_client_pop(c);
		hub_counters.msgs_out++;
	}
	return ((int)n);
}

static int
hub_client_writeable(struct ws_client *c)
{
	struct fnwm_outmsg *m;
	size_t chunk;
	int n, flags;

	if (c->closing == CLIENT_CLOSE_NOW ||
	    (c->closing == CLIENT_DRAIN_CLOSE && c->qlen == 0)) {
		lws_close_reason(c->wsi, c->close_code,
		    (unsigned char *)(uintptr_t)c->close_reason,
		    strlen(c->close_reason));
		return (-1);
	}
	if (c->qlen == 0)
		return (0);
	m = c->q[c->qhead];
	/*
	 * Raw bytes only on a connection of its own: a WebSocket carried in
	 * an HTTP/2 stream needs lws's framing of every write.
	 */
	if (c->txoff == 0 && c->qlen > 1 &&
	    lws_get_network_wsi(c->wsi) == c->wsi &&
	    (n = hub_client_write_batch(c)) != 0) {
		if (n < 0)
			return (-1);
	} else if (c->txoff == 0 && m->len <= HUB_CHUNK) {
		/*
		 * Whole-message writes may share the buffer between clients:
		 * lws puts the (identical) frame header in the headroom.
		 */
		n = lws_write(c->wsi, m->data, m->len, LWS_WRITE_TEXT);
		if (n < (int)m->len)
			return (-1);
		hub_client_pop(c);
		hub_counters.msgs_out++;
	} else {
		/*
		 * Fragments must not be written in place: lws would put each
		 * fragment's header over the previous fragment's bytes.
		 */
		chunk = m->len - c->txoff;
		if (chunk > HUB_CHUNK)
			chunk = HUB_CHUNK;
		if (c->scratch == NULL)
			c->scratch = xmalloc(LWS_PRE + HUB_CHUNK);
		memcpy(c->scratch + LWS_PRE, m->data + c->txoff, chunk);
		flags = lws_write_ws_flags(LWS_WRITE_TEXT, c->txoff == 0,
		    c->txoff + chunk == m->len);
		n = lws_write(c->wsi, c->scratch + LWS_PRE, chunk,
		    (enum lws_write_protocol)flags);
		if (n < (int)chunk)
			return (-1);
		c->txoff += chunk;
		if (c->txoff == m->len) {
			hub_client_pop(c);
			hub_counters.msgs_out++;
		}
	}
	if (c->qlen > 0 || c->closing != CLIENT_OPEN)
		lws_callback_on_writable(c->wsi);
	return (0);
}

static int
hub_client_receive(struct ws_client *c, const char *in, size_t len)
{
	struct lws *wsi = c->wsi;
	int first = lws_is_first_fragment(wsi);
	int final = lws_is_final_fragment(wsi);
	size_t more = lws_remaining_packet_payload(wsi);
	size_t need;

	if (first) {
		c->rxlen = 0;
		c->rx_binary = lws_frame_is_binary(wsi);
	}
	if (c->rxlen + len + more > hub_cfg->max_message) {
		log_warnx("client: message over %zu bytes, closing",
		    hub_cfg->max_message);
		lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE,
		    (unsigned char *)"message too big", 15);
		return (-1);
	}
	if (c->rx_binary) {
		/* Counted against the limit above, never buffered. */
		c->rxlen += len;
		if (final) {
			c->rxlen = 0;
			ws_cmd_error(c,
			    "binary frames are not supported; "
			    "send JSON or plain-text commands");
		}
		return (0);
	}
	if (first && final) {
		hub_counters.msgs_in++;
		ws_cmd_dispatch(c, in, len);
		return (0);
	}
	need = c->rxlen + len + 1;
	if (need > c->rxcap) {
		size_t cap = c->rxcap ? c->rxcap : 4096;

		while (cap < need)
			cap *= 2;
		c->rx = xreallocarray(c->rx, cap, 1);
		c->rxcap = cap;
	}
	memcpy(c->rx + c->rxlen, in, len);
	c->rxlen += len;
	if (final) {
		hub_counters.msgs_in++;
		ws_cmd_dispatch(c, c->rx, c->rxlen);
		c->rxlen = 0;
		if (c->rxcap > 65536) {
			/* Do not keep a peak-sized buffer per idle client. */
			free(c->rx);
			c->rx = NULL;
			c->rxcap = 0;
		}
	}
	return (0);
}

static int
hub_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct ws_client *c = user;
	enum access_right right;
	char uri[256];

	switch (reason) {
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		if (hub_nclients >= hub_cfg->max_clients) {
			unsigned long skipped;

			hub_counters.clients_refused++;
			if (log_rate_ok(&hub_full_rate, 1, &skipped))
				log_warnx("refused a WebSocket client: %zu "
				          "connected (fnwm.max_clients; %lu "
				          "more since the last line)",
				    hub_nclients, skipped);
			lws_return_http_status(wsi,
			    HTTP_STATUS_SERVICE_UNAVAILABLE, NULL);
			return (1);
		}
		/* lws upgrades on any path: only "/" is the hub. */
		if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) <=
		        0 ||
		    strcmp(uri, "/") != 0) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND,
			    NULL);
			return (1);
		}
		if (hub_admit(wsi, &right) < 0)
			return (1);
		hub_admitted_put(wsi, right);
		return (0);
	case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
		return (hub_draining ? 1 : 0);
	case LWS_CALLBACK_ESTABLISHED:
		memset(c, 0, sizeof *c);
		c->wsi = wsi;
		c->id = hub_next_id++;
		c->established = 1;
		c->right = hub_admitted_take(wsi);
		c->qcap = 16;
		c->q = xcalloc(c->qcap, sizeof *c->q);
		TAILQ_INSERT_TAIL(&hub_list, c, entry);
		hub_nclients++;
		log_debug("client connected (%zu)", hub_nclients);
		return (0);
	case LWS_CALLBACK_RECEIVE:
		if (c == NULL || !c->established)
			return (-1);
		if (c->closing != CLIENT_OPEN)
			return (0);
		return (hub_client_receive(c, in, len));
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (c == NULL || !c->established)
			return (0);
		return (hub_client_writeable(c));
	case LWS_CALLBACK_CLOSED:
		/* Also sent for refused handshakes, which never established. */
		if (c == NULL || !c->established)
			return (0);
		hub_client_free(c);
		log_debug("client disconnected (%zu)", hub_nclients);
		return (0);
	default:
		break;
	}
	return (lws_callback_http_dummy(wsi, reason, user, in, len));
}

/* Closes a client that does not read; which limit it hit is logged. */
static void
hub_client_lagging(struct ws_client *c, const char *limit)
{
	unsigned long skipped;

	if (log_rate_ok(&hub_lag_rate, 1, &skipped))
		log_warnx("client: %u messages (%zu bytes; %zu for all "
		          "clients) unsent, closing a client that does not "
		          "read (%s; %lu more since the last line)",
		    c->qlen, c->qbytes, hub_queued, limit, skipped);
	hub_client_close(c, 0, LWS_CLOSE_STATUS_POLICY_VIOLATION, "lagging");
}

/* The open client with the most bytes unsent, or NULL when none has any. */
static struct ws_client *
hub_furthest_behind(void)
{
	struct ws_client *c, *big = NULL;

	TAILQ_FOREACH(c, &hub_list, entry)
		if (c->closing == CLIENT_OPEN && c->qbytes > 0 &&
		    (big == NULL || c->qbytes > big->qbytes))
			big = c;
	return (big);
}

void
hub_send(struct ws_client *c, struct fnwm_outmsg *m)
{
	struct ws_client *big;
	unsigned i;

	if (!c->established || c->closing != CLIENT_OPEN)
		return;
	/*
	 * What waits counts, per client and for all together; a client
	 * that keeps up (nothing waiting) still gets a message of any size.
	 */
	if (c->qlen == HUB_QUEUE_MAX_MSGS ||
	    (c->qbytes > 0 && c->qbytes + m->len > hub_cfg->client_queue)) {
		hub_counters.clients_lagging++;
		hub_client_lagging(c, "fnwm.client_queue_bytes");
		return;
	}
	/*
	 * Over the budget of all: the clients furthest behind go first, so
	 * that those that keep up are served. A single message larger than
	 * the budget still goes to a client with nothing waiting.
	 */
	while (hub_queued + m->len > hub_cfg->total_queue &&
	    (big = hub_furthest_behind()) != NULL) {
		hub_counters.clients_over_budget++;
		hub_client_lagging(big, "fnwm.total_queue_bytes");
		if (big == c)
			return;
	}
	if (c->qlen == c->qcap) {
		struct fnwm_outmsg **nq = xcalloc(c->qcap * 2, sizeof *nq);

		for (i = 0; i < c->qlen; i++)
			nq[i] = c->q[(c->qhead + i) % c->qcap];
		free(c->q);
		c->q = nq;
		c->qhead = 0;
		c->qcap *= 2;
	}
	c->q[(c->qhead + c->qlen) % c->qcap] = outmsg_ref(m);
	c->qlen++;
	c->qbytes += m->len;
	hub_queued += m->len;
	/* A queue that was not empty has asked already (writeable re-asks). */
	if (c->qlen == 1)
		lws_callback_on_writable(c->wsi);
}

void
hub_send_json(struct ws_client *c, json_object *o)
{
	struct fnwm_outmsg *m = outmsg_json(o);

	hub_send(c, m);
	outmsg_unref(m);
}

void
hub_broadcast(struct fnwm_outmsg *m)
{
	struct ws_client *c;

	TAILQ_FOREACH(c, &hub_list, entry) {
		if (c->subscribed)
			hub_send(c, m);
	}
}

struct ws_clients *
hub_clients(void)
{
	return (&hub_list);
}

size_t
hub_client_count(void)
{
	return (hub_nclients);
}

size_t
hub_queued_bytes(void)
{
	return (hub_queued);
}

const struct hub_stats *
hub_stats(void)
{
	return (&hub_counters);
}

struct ws_client *
hub_find(uint64_t id)
{
	struct ws_client *c;

	if (id == 0)
		return (NULL);
	TAILQ_FOREACH(c, &hub_list, entry)
		if (c->id == id)
			return (c->closing == CLIENT_OPEN ? c : NULL);
	return (NULL);
}

struct lws_context *
hub_context(void)
{
	return (hub_ctx);
}

void
hub_begin_shutdown(void)
{
	struct ws_client *c;

	hub_draining = 1;
	TAILQ_FOREACH(c, &hub_list, entry)
		hub_client_close(c, 1, LWS_CLOSE_STATUS_GOINGAWAY,
		    "Server shutdown");
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

int
hub_start(struct ev_loop *loop, const struct fnwm_config *cfg, int takeover,
    char **cause)
{
	unsigned waited = 0;
	struct lws_context_creation_info info;
	struct rlimit rl;
	void *loops[1] = { loop };
	const char *iface;
	int ipv6, port;

	hub_loop = loop;
	hub_cfg = cfg;
	if (hub_bind_address(cfg->host, &iface, &ipv6, cause) == -1)
		return (-1);
	/* Off the host, the token and every command travel in the clear. */
	if ((iface == NULL || !origin_is_loopback(iface)) &&
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
	access_set_bind(iface);

	/*
	 * lws sizes its fd tables from RLIMIT_NOFILE (16 bytes per fd) and
	 * indexes them by fd number: raise the soft limit to a bounded value
	 * and tell lws the same number.
	 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rlim_t want = rl.rlim_max < HUB_FD_LIMIT_MAX ? rl.rlim_max
		                                             : HUB_FD_LIMIT_MAX;
		if (rl.rlim_cur < want) {
			rl.rlim_cur = want;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = 1024;
	} else
		rl.rlim_cur = 1024;

	/*
	 * A clear "in use" (and no lws allocations left from a failed bind).
	 * Succeeding a manager that was killed, the port may still be held
	 * for a moment by a child it forked that has not reached its exec:
	 * give that child a bounded moment.
	 */
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
	info.fd_limit_per_thread =
	    (unsigned int)(rl.rlim_cur > HUB_FD_LIMIT_MAX ? HUB_FD_LIMIT_MAX
	                                                  : rl.rlim_cur);
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
	port = lws_get_vhost_listen_port(
	    lws_get_vhost_by_name(hub_ctx, "default"));
	hub_listen_fd = hub_find_listener(port, (int)info.fd_limit_per_thread);
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
