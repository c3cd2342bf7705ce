/* SPDX-License-Identifier: MIT */
/*
 * The worker identity probe of FuncNodes: a WebSocket client on the
 * master's own loop sends {"type": "cmd", "cmd": "uuid"} and reads frames
 * until a "result" arrives (a worker's broadcasts may come first), within
 * a connect deadline and then a reply deadline.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>

#include "log.h"
#include "xmalloc.h"
#include "master.h"

#define PROBE_MAX_MESSAGE (1024 * 1024)
#define PROBE_REQUEST     "{\"type\": \"cmd\", \"cmd\": \"uuid\"}"
#define STOP_REQUEST      "{\"type\": \"cmd\", \"cmd\": \"stop_worker\"}"

struct probe {
	struct ev_loop *loop;
	struct lws *wsi;
	ev_timer timer; /* deadline, then the deferred completion */
	char *uuid;
	char hostport[300];
	probe_cb *cb;
	void *arg;
	double reply_s;
	int sent;
	int done;
	int then_stop; /* after the uuid matched: send stop_worker */
	int stop_sent;
	enum probe_result result;
	char detail[128];
	char *rx;
	size_t rxlen, rxcap;
};

static void probe_timer_cb(struct ev_loop *, ev_timer *, int);

static const struct fnwm_config *probe_cfg;
static uint64_t probe_refused_names;
static struct log_rate probe_name_rate;

uint64_t
probe_names_refused(void)
{
	return (probe_refused_names);
}

/*
 * The address to dial as a numeric literal in out (brackets of an IPv6
 * literal taken off); -1 for a name. Resolving a name would block the
 * loop (lws resolves with getaddrinfo): fnwm dials addresses only.
 */
static int
probe_numeric(const char *addr, char *out, size_t outsz)
{
	unsigned char a[sizeof(struct in6_addr)];
	size_t n = strlen(addr);

	if (n >= 2 && addr[0] == '[' && addr[n - 1] == ']') {
		addr++;
		n -= 2;
	}
	if (n == 0 || n >= outsz)
		return (-1);
	memcpy(out, addr, n);
	out[n] = '\0';
	if (inet_pton(AF_INET, out, a) == 1 || inet_pton(AF_INET6, out, a) == 1)
		return (0);
	return (-1);
}

static const char *
probe_dial_host(const char *host)
{
	if (host == NULL || *host == '\0' || strcmp(host, "0.0.0.0") == 0 ||
	    strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0 ||
	    strcmp(host, "localhost") == 0)
		return ("127.0.0.1");
	return (host);
}

/* Stops talking to the worker: the connection goes, the wsi forgets p. */
static void
probe_detach(struct probe *p)
{
	if (p->wsi == NULL)
		return;
	lws_set_opaque_user_data(p->wsi, NULL);
	lws_set_timeout(p->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	lws_cancel_service(lws_get_context(p->wsi));
	p->wsi = NULL;
}

/*
 * Records the outcome; the callback runs from the loop a moment later, so
 * it never runs inside an lws callback or inside probe_start().
 */
static void
probe_finish(struct probe *p, enum probe_result r, const char *detail)
{
	if (p->done)
		return;
	p->done = 1;
	p->result = r;
	snprintf(p->detail, sizeof p->detail, "%s", detail);
	ev_timer_stop(p->loop, &p->timer);
	ev_timer_set(&p->timer, 0, 0);
	ev_timer_start(p->loop, &p->timer);
}

static void
probe_free(struct probe *p)
{
	probe_detach(p);
	ev_timer_stop(p->loop, &p->timer);
	free(p->uuid);
	free(p->rx);
	free(p);
}

static void
probe_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct probe *p =
	    (struct probe *)((char *)w - offsetof(struct probe, timer));
	probe_cb *cb = p->cb;
	void *arg = p->arg;
	enum probe_result r;
	char detail[128];

	if (!p->done) {
		p->done = 1;
		p->result = PROBE_FAILED;
		snprintf(p->detail, sizeof p->detail, "%s",
		    p->sent ? "no answer in time" : "connect timed out");
	}
	r = p->result;
	memcpy(detail, p->detail, sizeof detail);
	probe_free(p);
	cb(arg, r, detail);
}

static void
probe_message(struct probe *p, const char *text, size_t len)
{
	json_object *o, *type, *result;
	const char *err;

	o = fnwm_json_parse(text, len, &err);
	if (o == NULL || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, "type", &type) ||
	    !json_object_is_type(type, json_type_string) ||
	    strcmp(json_object_get_string(type), "result") != 0) {
		/* A broadcast before our answer: keep reading. */
		json_object_put(o);
		return;
	}
	if (json_object_object_get_ex(o, "result", &result) &&
	    json_object_is_type(result, json_type_string) &&
	    strcmp(json_object_get_string(result), p->uuid) == 0) {
		if (p->then_stop && !p->stop_sent)
			lws_callback_on_writable(p->wsi);
		else
			probe_finish(p, PROBE_ACTIVE, "answered");
	} else
		probe_finish(p, PROBE_MISMATCH, "answered with another uuid");
	json_object_put(o);
}

static int
probe_receive(struct probe *p, struct lws *wsi, const char *in, size_t len)
{
	int first = lws_is_first_fragment(wsi);
	int final = lws_is_final_fragment(wsi);

	if (first)
		p->rxlen = 0;
	if (lws_frame_is_binary(wsi))
		return (0);
	if (p->rxlen + len > PROBE_MAX_MESSAGE) {
		probe_finish(p, PROBE_FAILED, "oversized message");
		return (-1);
	}
	if (first && final) {
		probe_message(p, in, len);
		return (0);
	}
	if (p->rxlen + len > p->rxcap) {
		p->rxcap = p->rxlen + len + 1024;
		p->rx = xreallocarray(p->rx, p->rxcap, 1);
	}
	memcpy(p->rx + p->rxlen, in, len);
	p->rxlen += len;
	if (final) {
		probe_message(p, p->rx, p->rxlen);
		p->rxlen = 0;
	}
	return (0);
}

/* Forgets the wsi: it may still call back after p is gone. */
static void
probe_forget(struct probe *p, struct lws *wsi)
{
	p->wsi = NULL;
	lws_set_opaque_user_data(wsi, NULL);
}

/* Writes text as one message; -1 when the socket did not take it all. */
static int
probe_write(struct lws *wsi, const char *text, size_t len)
{
	unsigned char buf[LWS_PRE + 256];

	if (len > sizeof buf - LWS_PRE)
		return (-1);
	memcpy(buf + LWS_PRE, text, len);
	return (lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len
	        ? -1
	        : 0);
}

/*
 * The identity request, or once the worker proved to be ours and the
 * stop was asked for, its stop command; then the worker closes.
 */
static int
probe_writeable(struct probe *p, struct lws *wsi)
{
	if (p->sent && p->then_stop && !p->stop_sent) {
		p->stop_sent = 1;
		if (probe_write(wsi, STOP_REQUEST, sizeof STOP_REQUEST - 1) ==
		    -1) {
			probe_finish(p, PROBE_FAILED, "write failed");
			probe_forget(p, wsi);
			return (-1);
		}
		/* Let the worker close it; lws ends it in 2 s. */
		probe_finish(p, PROBE_ACTIVE, "stop command sent");
		probe_forget(p, wsi);
		lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, 2);
		return (0);
	}
	if (p->sent)
		return (0);
	if (probe_write(wsi, PROBE_REQUEST, sizeof PROBE_REQUEST - 1) == -1) {
		probe_finish(p, PROBE_FAILED, "write failed");
		probe_forget(p, wsi);
		return (-1);
	}
	p->sent = 1;
	return (0);
}

int
probe_lws_callback(struct lws *wsi, int reason, void *user, void *in,
    size_t len)
{
	struct probe *p = lws_get_opaque_user_data(wsi);
	char why[100];

	switch (reason) {
	case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
		if (p == NULL)
			return (0);
		/*
		 * The wsi may still call back (WSI_DESTROY) after p is gone:
		 * it must not find p any more.
		 */
		p->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		snprintf(why, sizeof why, "%s",
		    in != NULL ? (const char *)in : "connection failed");
		probe_finish(p, PROBE_FAILED, why);
		return (0);
	case LWS_CALLBACK_CLIENT_ESTABLISHED:
		if (p == NULL)
			return (-1);
		ev_timer_stop(p->loop, &p->timer);
		ev_timer_set(&p->timer, p->reply_s, 0);
		ev_timer_start(p->loop, &p->timer);
		lws_callback_on_writable(wsi);
		return (0);
	case LWS_CALLBACK_CLIENT_WRITEABLE:
		if (p == NULL || p->done)
			return (-1);
		return (probe_writeable(p, wsi));
	case LWS_CALLBACK_CLIENT_RECEIVE:
		if (p == NULL || p->done)
			return (-1);
		if (probe_receive(p, wsi, in, len) == -1 || p->done) {
			/* Answered: close from here, forget the wsi. */
			p->wsi = NULL;
			lws_set_opaque_user_data(wsi, NULL);
			return (-1);
		}
		return (0);
	case LWS_CALLBACK_CLIENT_CLOSED:
	/*
	 * Closed during the handshake (the peer hung up before answering
	 * the upgrade): the wsi is still an HTTP client and reports this.
	 */
	case LWS_CALLBACK_CLOSED_CLIENT_HTTP:
	case LWS_CALLBACK_WSI_DESTROY:
		if (p == NULL)
			return (0);
		p->wsi = NULL;
		lws_set_opaque_user_data(wsi, NULL);
		probe_finish(p, PROBE_FAILED, "connection closed");
		return (0);
	default:
		break;
	}
	return (0);
}

void
probe_init(const struct fnwm_config *cfg)
{
	probe_cfg = cfg;
}

struct probe *
probe_start(struct ev_loop *loop, const char *host, int port, const char *uuid,
    double connect_s, double reply_s, probe_cb *cb, void *arg)
{
	struct lws_client_connect_info cci;
	struct probe *p = xcalloc(1, sizeof *p);
	const char *addr = probe_dial_host(host);
	char numeric[INET6_ADDRSTRLEN], safe[80];
	unsigned long skipped;

	p->loop = loop;
	p->uuid = xstrdup(uuid);
	p->cb = cb;
	p->arg = arg;
	p->reply_s = reply_s;
	snprintf(p->hostport, sizeof p->hostport, "%s:%d", addr, port);
	ev_timer_init(&p->timer, probe_timer_cb, connect_s, 0);
	ev_timer_start(loop, &p->timer);

	memset(&cci, 0, sizeof cci);
	cci.context = hub_context();
	cci.vhost = lws_get_vhost_by_name(hub_context(), "default");
	cci.address = addr;
	cci.port = port;
	cci.path = "/";
	cci.host = p->hostport;
	cci.local_protocol_name = "fnwm-probe";
	/* FuncNodes' worker_manager.ssl: workers are reached over wss://. */
	if (probe_cfg != NULL && probe_cfg->worker_ssl)
		cci.ssl_connection = LCCSCF_USE_SSL;
	cci.ietf_version_or_minus_one = -1;
	cci.opaque_user_data = p;
	cci.pwsi = &p->wsi;
	if (cci.context == NULL || port <= 0 || port > 65535) {
		probe_finish(p, PROBE_FAILED, "no address to probe");
		return (p);
	}
	if (probe_numeric(addr, numeric, sizeof numeric) == -1) {
		probe_refused_names++;
		log_safe(safe, sizeof safe, addr, strlen(addr));
		if (log_rate_ok(&probe_name_rate, 1, &skipped))
			log_warnx(
			    "worker %s: host \"%s\" is not a numeric "
			    "address or localhost; fnwm resolves no names, "
			    "the worker stays inactive (%lu more since the "
			    "last line)",
			    uuid, safe, skipped);
		probe_finish(p, PROBE_FAILED,
		    "host is not a numeric address or localhost");
		return (p);
	}
	cci.address = numeric;
	if (lws_client_connect_via_info(&cci) == NULL) {
		p->wsi = NULL;
		probe_finish(p, PROBE_FAILED, "cannot connect");
	}
	return (p);
}

struct probe *
probe_stop_worker(struct ev_loop *loop, const char *host, int port,
    const char *uuid, double connect_s, double reply_s, probe_cb *cb, void *arg)
{
	struct probe *p =
	    probe_start(loop, host, port, uuid, connect_s, reply_s, cb, arg);

	p->then_stop = 1;
	return (p);
}

void
probe_cancel(struct probe *p)
{
	if (p != NULL)
		probe_free(p);
}
