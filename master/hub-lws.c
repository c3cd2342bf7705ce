/* SPDX-License-Identifier: MIT */
/*
 * The hub's side of libwebsockets: the protocols, the checks every request
 * passes (Host, Origin, a right; the client limit and the path of a
 * WebSocket handshake), inbound message assembly with its size limit, and
 * the hand-over of what the hub does not interpret itself to the handlers
 * main.c registers: complete messages, HTTP pages, the probes' outgoing
 * connections.
 */
#include <sys/socket.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "xmalloc.h"
#include "hub-int.h"

#define HUB_SNDBUF          (256 * 1024) /* kernel send buffer per client */
#define HUB_REFUSALS_LOGGED 10 /* log lines of refused requests a second */

static struct hub_handlers hub_handlers;
static struct log_rate hub_full_rate;

void
hub_set_handlers(const struct hub_handlers *h)
{
	hub_handlers = *h;
}

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

struct lws_protocols hub_protocols[] = { { "http", hub_http_cb, 0, 0, 0, NULL,
	                                     0 },
	{ "fnwm", hub_ws_cb, sizeof(struct ws_client), 4096, 0, NULL,
	    HUB_CHUNK + 16 },
	{ "fnwm-probe", hub_probe_cb, 0, 4096, 0, NULL, 0 },
	{ NULL, NULL, 0, 0, 0, NULL, 0 } };

/* Clients that send no subprotocol (browsers, Python) land on "fnwm". */
static const struct lws_protocol_vhost_options hub_pvo_default = { NULL, NULL,
	"default", "" };
const struct lws_protocol_vhost_options hub_pvo = { NULL, &hub_pvo_default,
	"fnwm", "" };

static int
hub_probe_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	/* Nobody may connect *to* the probe protocol. */
	if (reason == LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION)
		return (1);
	if (hub_handlers.probe == NULL)
		return (0);
	return (hub_handlers.probe(wsi, (int)reason, user, in, len));
}

/*
 * Cross-site WebSocket hijacking guard (origin.c) over the handshake's
 * headers. Non-browser clients send no Origin.
 */
static int
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

/* A GET or HEAD: the handler's page, after the same checks as a handshake. */
static int
hub_http_request(struct lws *wsi, const char *path)
{
	enum access_right right = ACCESS_NONE;
	int r = 1;

	if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0 &&
	    lws_hdr_total_length(wsi, WSI_TOKEN_HEAD_URI) <= 0)
		return (hub_http_reply(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED));
	if (!access_host_allowed(wsi))
		return (hub_refuse(wsi, HTTP_STATUS_FORBIDDEN,
		    "the Host header does not name this worker "
		    "manager (see fnwm.allowed_hosts)"));
	/* The same Origin rule as the WebSocket handshake. */
	if (!hub_origin_allowed(wsi))
		return (hub_http_reply(wsi, HTTP_STATUS_FORBIDDEN));
	/*
	 * Liveness and the dashboard's page (code, no data: its WebSocket
	 * is checked) are open; every other page needs a right.
	 */
	if (strcmp(path, "/healthz") != 0 && strcmp(path, "/") != 0 &&
	    hub_admit(wsi, &right) < 0)
		return (-1);
	if (hub_handlers.http != NULL)
		r = hub_handlers.http(wsi, path);
	if (r != 1)
		return (r);
	return (hub_http_reply(wsi, HTTP_STATUS_NOT_FOUND));
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
	case LWS_CALLBACK_HTTP:
		return (
		    hub_http_request(wsi, in != NULL ? (const char *)in : ""));
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return (hub_handlers.http_writeable != NULL
		        ? hub_handlers.http_writeable(wsi)
		        : -1);
	case LWS_CALLBACK_CLOSED_HTTP:
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
		if (hub_handlers.http_release != NULL)
			hub_handlers.http_release(wsi);
		break;
	case LWS_CALLBACK_WSI_DESTROY:
		(void)hub_admitted_take(wsi);
		/*
		 * lws tells only the first protocol that a wsi is freed: a
		 * probe must hear it too, whatever way its wsi went.
		 */
		if (lws_get_protocol(wsi) != NULL &&
		    lws_get_protocol(wsi)->callback == hub_probe_cb)
			return (hub_probe_cb(wsi, reason, user, in, len));
		break;
	default:
		break;
	}
	return (lws_callback_http_dummy(wsi, reason, user, in, len));
}

/* A complete text message of c, to the handler. */
static void
hub_client_message(struct ws_client *c, const char *text, size_t len)
{
	hub_counters.msgs_in++;
	if (hub_handlers.message != NULL)
		hub_handlers.message(c, text, len);
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
			hub_error(c,
			    "binary frames are not supported; "
			    "send JSON or plain-text commands");
		}
		return (0);
	}
	if (first && final) {
		hub_client_message(c, in, len);
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
		hub_client_message(c, c->rx, c->rxlen);
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
		if (hub_client_count() >= hub_cfg->max_clients) {
			unsigned long skipped;

			hub_counters.clients_refused++;
			if (log_rate_ok(&hub_full_rate, 1, &skipped))
				log_warnx("refused a WebSocket client: %zu "
				          "connected (fnwm.max_clients; %lu "
				          "more since the last line)",
				    hub_client_count(), skipped);
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
		hub_client_add(c, wsi, hub_admitted_take(wsi));
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
		return (0);
	default:
		break;
	}
	return (lws_callback_http_dummy(wsi, reason, user, in, len));
}
